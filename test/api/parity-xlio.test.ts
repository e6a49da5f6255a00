// The parity table against xlio-ts/net and xlio-ts/dgram (src/node/net.ts, src/node/dgram.ts),
// with exactly the expectations that pass against Node's own modules (parity-node.test.ts).
// Each module is loaded on its own: the net rows run once xlio-ts/net loads, the dgram rows
// once xlio-ts/dgram loads; rows whose module does not load (yet) are skipped, saying why.

import { after, test } from 'node:test';
import { runTable, type Mods } from './harness.js';
import { table } from './table.js';

const netUrl = new URL('../../src/node/net.js', import.meta.url).href;
const dgramUrl = new URL('../../src/node/dgram.js', import.meta.url).href;

async function load(url: string, name: string, fn: string): Promise<any | string> {
  try {
    const ns: any = await import(url);
    const mod = typeof ns[fn] === 'function' ? ns : ns.default;
    if (typeof mod?.[fn] !== 'function') return `xlio-ts/${name} loaded but exports no ${fn}()`;
    return mod;
  } catch (e) {
    return `xlio-ts/${name} does not load (yet): ${(e as Error).message.split('\n')[0]}`;
  }
}

const net = await load(netUrl, 'net', 'connect');
const dgram = await load(dgramUrl, 'dgram', 'createSocket');
const netOk = typeof net !== 'string';
const dgramOk = typeof dgram !== 'string';

const mods: Mods = {
  net: netOk ? net : (undefined as any),
  dgram: dgramOk ? dgram : (undefined as any),
  netSpec: netOk ? netUrl : '',
  dgramSpec: dgramOk ? dgramUrl : '',
};

const netRows = table.filter((b) => b.area.startsWith('net:'));
const dgramRows = table.filter((b) => b.area.startsWith('dgram:'));
if (netOk) runTable(mods, netRows);
else test(`xlio-ts/net parity (${netRows.length} behaviours)`, { skip: net as string }, () => {});
if (dgramOk) runTable(mods, dgramRows);
else test(`xlio-ts/dgram parity (${dgramRows.length} behaviours)`, { skip: dgram as string }, () => {});

// A drop-in that keeps the process alive after everything closed would hang the whole test
// run; report it as a failure of this file instead.
after(() => {
  setTimeout(() => {
    process.stderr.write('parity-xlio: the process was still alive 5 s after the last behaviour — something of xlio-ts stays ref()ed\n');
    process.exit(1);
  }, 5_000).unref();
});

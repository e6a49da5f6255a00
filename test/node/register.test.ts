// Transparent offload on loopback (no root needed): an unmodified program
// (test/fixtures/apps/loopback-probe.mjs: http, net and dgram only) run with
// `node --import dist/src/node/register.js` and a libxlio.conf rules file. Without XLIO_LINK
// the xlio-ts host owns its own loopback, separate from the kernel's, so what the program can
// reach shows the path each socket took:
//   - a server and a client on the same side talk; an xlio-ts server is invisible to an OS
//     client (ECONNREFUSED) and an xlio-ts receiver never hears an OS sender;
//   - the decision log (XLIO_TRACELEVEL=3) names the rule that decided each socket;
//   - each rule form (tcp_server, tcp_client, udp_receiver, udp_sender, udp_connect; IPv4
//     and IPv6 addresses, ports, ranges, '*', prefixes) selects what it says.
// Also: `xlio run` sets NODE_OPTIONS and passes the exit status; default is silent.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, XLIO_CLI } from '../support/processes.js';

const REGISTER = new URL('../../src/node/register.js', import.meta.url).pathname;
const PROBE = new URL('../../../test/fixtures/apps/loopback-probe.mjs', import.meta.url).pathname;

function run(args: string[], env: Record<string, string>, viaXlioRun = false): { out: Record<string, any>; stderr: string; status: number | null } {
  const cmd = viaXlioRun ? [XLIO_CLI, 'run', '--', process.execPath, PROBE, ...args] : ['--import', REGISTER, PROBE, ...args];
  const r = spawnSync(process.execPath, cmd, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '', ...env } });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let out: Record<string, any> = {};
  try {
    out = JSON.parse(line) as Record<string, any>;
  } catch {
    assert.fail(`the probe printed no JSON (status ${r.status}, signal ${r.signal})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return { out, stderr: r.stderr, status: r.status };
}

async function ports(n: number, proto: 'tcp' | 'udp'): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort(proto);
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

test('rules select xlio-ts or the OS for each socket of an unmodified program (IPv4 and IPv6, every rule kind)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xlio-register-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [t4x, t4os, t4cross, t6x, t6os] = await ports(5, 'tcp');
  const [u4x, u4os, u4cross, u6x, u6os] = await ports(5, 'udp');
  const rules = join(dir, 'libxlio.conf');
  writeFileSync(
    rules,
    [
      '# servers: one port of each family offloaded, the rest to the OS',
      `use xlio tcp_server 127.0.0.0/8:${t4x}`,
      `use xlio tcp_server *:${t4cross}`,
      `use xlio tcp_server [::1]:${t6x}`,
      'use os   tcp_server *:*',
      '# clients: to the OS for the OS servers and for the crossing port',
      `use os   tcp_client *:${t4os}`,
      `use os   tcp_client 127.0.0.1/32:${t4cross}-${t4cross}`,
      `use os   tcp_client [::]/0:${t6os}`,
      'use xlio tcp_client *:*:*:*',
      `use xlio udp_receiver 127.0.0.1:${u4x}`,
      `use xlio udp_receiver 127.0.0.1:${u4cross}`,
      `use xlio udp_receiver [::1]/128:${u6x}`,
      'use os   udp_receiver *:*',
      `use xlio udp_sender *:${u4x}`,
      `use xlio udp_sender [::1]:${u6x}`,
      'use os   udp_sender *:*',
      '',
    ].join('\n'),
  );
  const args = [`tcp:127.0.0.1:${t4x}`, `tcp:127.0.0.1:${t4os}`, `tcp:127.0.0.1:${t4cross}`, `tcp:::1:${t6x}`, `tcp:::1:${t6os}`];
  args.push(`udp:127.0.0.1:${u4x}`, `udp:127.0.0.1:${u4os}`, `udp:127.0.0.1:${u4cross}`, `udp:::1:${u6x}`, `udp:::1:${u6os}`);
  const { out, stderr, status } = run(args, { XLIO_CONFIG_FILE: rules, XLIO_TRACELEVEL: '3' });
  assert.equal(status, 0, stderr);

  // Same side: served, through http.get and through new net.Socket().connect().
  for (const [host, p] of [
    ['127.0.0.1', t4x],
    ['127.0.0.1', t4os],
    ['::1', t6x],
    ['::1', t6os],
  ] as const) {
    const r = out[`tcp ${host} ${p}`];
    assert.equal(r.listened, 'ok');
    assert.deepEqual(r.address, { address: host, family: host.includes(':') ? 'IPv6' : 'IPv4', port: p });
    assert.equal(r.listening, true);
    assert.equal(r.httpGet, `served ${p}`, `http.get ${host}:${p}`);
    assert.equal(r.netSocket, `served ${p}`, `net.Socket ${host}:${p}`);
    assert.equal(r.listeningAfterClose, false);
  }
  // Crossing: an xlio-ts server, an OS client — the kernel has no listener there.
  assert.equal(out[`tcp 127.0.0.1 ${t4cross}`].httpGet, 'error ECONNREFUSED');
  assert.equal(out[`tcp 127.0.0.1 ${t4cross}`].netSocket, 'error ECONNREFUSED');
  for (const [host, p] of [
    ['127.0.0.1', u4x],
    ['127.0.0.1', u4os],
    ['::1', u6x],
    ['::1', u6os],
  ] as const) {
    assert.equal(out[`udp ${host} ${p}`].received, `datagram ${p} from ${host}`);
  }
  assert.equal(out[`udp 127.0.0.1 ${u4cross}`].received, 'timed out', 'an OS sender cannot reach an xlio-ts receiver');

  // The decision log names the rule (line numbers of the file above).
  const said = (re: RegExp): void => assert.match(stderr, re);
  said(new RegExp(`tcp_server 127\\.0\\.0\\.1:${t4x} -> xlio \\(${rules}:2: use xlio tcp_server 127\\.0\\.0\\.0/8:${t4x}\\)`));
  said(new RegExp(`tcp_server 127\\.0\\.0\\.1:${t4os} -> os \\(${rules}:5: use os tcp_server \\*:\\*\\)`));
  said(new RegExp(`tcp_server \\[::1\\]:${t6x} -> xlio \\(${rules}:4:`));
  said(new RegExp(`tcp_server \\[::1\\]:${t6os} -> os \\(${rules}:5:`));
  said(new RegExp(`tcp_client 127\\.0\\.0\\.1:${t4x} -> xlio \\(${rules}:10: use xlio tcp_client \\*:\\*:\\*:\\*\\)`));
  said(new RegExp(`tcp_client 127\\.0\\.0\\.1:${t4os} -> os \\(${rules}:7:`));
  said(new RegExp(`tcp_client 127\\.0\\.0\\.1:${t4cross} -> os \\(${rules}:8:`));
  said(new RegExp(`tcp_client \\[::1\\]:${t6os} -> os \\(${rules}:9:`));
  said(new RegExp(`udp_receiver 127\\.0\\.0\\.1:${u4x} -> xlio \\(${rules}:11:`));
  said(new RegExp(`udp_receiver \\[::1\\]:${u6x} -> xlio \\(${rules}:13:`));
  said(new RegExp(`udp_receiver \\[::1\\]:${u6os} -> os \\(${rules}:14:`));
  said(new RegExp(`udp_sender 127\\.0\\.0\\.1:${u4x} -> xlio \\(${rules}:15:`));
  said(new RegExp(`udp_sender \\[::1\\]:${u6x} -> xlio \\(${rules}:16:`));
  said(new RegExp(`udp_sender 127\\.0\\.0\\.1:${u4cross} -> os \\(${rules}:17:`));
});

test('udp_connect rules and application-id blocks; default is silent; xlio run passes the hook and the status', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xlio-register-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [tx] = await ports(1, 'tcp');
  const [ux, uos] = await ports(2, 'udp');
  const rules = join(dir, 'libxlio.conf');
  // A block for some other program first (it must not apply), then this one's.
  writeFileSync(
    rules,
    [
      'application-id other-program.js *',
      'use os tcp_server *:*',
      'application-id loopback-probe.* *',
      `use os udp_connect 127.0.0.1:${uos}`,
      `use xlio udp_connect *:${ux}`,
      `use xlio udp_receiver *:*`,
      'use os udp_sender *:*',
      '',
    ].join('\n'),
  );
  const script = join(dir, 'udp-connect.mjs');
  // The probe's udp path sends unconnected; this one connects (a connected dgram socket).
  writeFileSync(
    script,
    `import dgram from 'node:dgram';
const [ux, uos] = process.argv.slice(2).map(Number);
const out = {};
for (const p of [ux, uos]) {
  const rx = dgram.createSocket('udp4');
  await new Promise((r) => rx.bind(p, '127.0.0.1', r));
  const tx = dgram.createSocket('udp4');
  const errors = [];
  tx.on('error', (e) => errors.push(e.code));
  await new Promise((r) => tx.connect(p, '127.0.0.1', r));
  const got = new Promise((r) => rx.once('message', (m) => r(String(m))));
  tx.send('hi ' + p);
  out[p] = { remote: tx.remoteAddress(), got: await Promise.race([got, new Promise((r) => setTimeout(() => r('timed out'), 1500))]), errors };
  rx.close(); tx.close();
}
console.log(JSON.stringify(out));
`,
  );
  const r = spawnSync(process.execPath, ['--import', REGISTER, script, String(ux), String(uos)], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, NODE_OPTIONS: '', XLIO_CONFIG_FILE: rules, XLIO_APPLICATION_ID: '', XLIO_TRACELEVEL: '3' },
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as Record<string, { remote: { port: number }; got: string }>;
  // Block "other-program.js" does not apply: the file's name is udp-connect.mjs … and neither
  // does "loopback-probe.*": no block applies, everything is offloaded (XLIO's default).
  assert.match(r.stderr, /no application-id block applies to this program/);
  assert.equal(out[ux]!.got, `hi ${ux}`);
  assert.equal(out[uos]!.got, `hi ${uos}`);

  // The same script under the block's name: the udp_connect rules apply.
  const named = join(dir, 'loopback-probe.udp.mjs');
  writeFileSync(named, `import(${JSON.stringify(script)});\n`);
  const r2 = spawnSync(process.execPath, ['--import', REGISTER, named, String(ux), String(uos)], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, NODE_OPTIONS: '', XLIO_CONFIG_FILE: rules, XLIO_TRACELEVEL: 'info' },
  });
  assert.equal(r2.status, 0, r2.stderr);
  const out2 = JSON.parse(r2.stdout.trim()) as Record<string, { remote: { port: number }; got: string; errors: string[] }>;
  assert.equal(out2[ux]!.got, `hi ${ux}`, 'xlio-ts receiver, xlio-ts connected sender');
  assert.equal(out2[ux]!.remote.port, ux);
  assert.equal(out2[uos]!.got, 'timed out', 'xlio-ts receiver, OS connected sender: they never meet');
  // …and the kernel says so: nothing of its own is bound there (ICMP port unreachable).
  assert.deepEqual(out2[uos]!.errors, ['ECONNREFUSED']);
  assert.match(r2.stderr, new RegExp(`udp_connect 127\\.0\\.0\\.1:${ux} -> xlio \\(${rules}:5:`));
  assert.match(r2.stderr, new RegExp(`udp_connect 127\\.0\\.0\\.1:${uos} -> os \\(${rules}:4:`));

  // Default: silent (no XLIO_TRACELEVEL), and `xlio run` works the same way.
  const q = run([`tcp:127.0.0.1:${tx}`], {}, true);
  assert.equal(q.status, 0);
  assert.equal(q.out[`tcp 127.0.0.1 ${tx}`].httpGet, `served ${tx}`);
  assert.equal(q.stderr, '');
  const code = spawnSync(process.execPath, [XLIO_CLI, 'run', '--', process.execPath, '-e', 'process.exit(typeof process.env.NODE_OPTIONS === "string" && process.env.NODE_OPTIONS.includes("register.js") ? 7 : 3)'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(code.status, 7, code.stderr);
  const bad = spawnSync(process.execPath, ['--import', REGISTER, '-e', '0'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, XLIO_CONFIG_FILE: join(dir, 'missing.conf') } });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /cannot offload this program: .*missing\.conf.*no such file/);
});

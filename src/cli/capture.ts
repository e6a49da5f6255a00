// `xlio capture read FILE [-c N]`: prints each frame of a pcap/pcapng file as our own
// codecs see it, one line per frame, with any parse error at the end of the line.

import { readFileSync } from 'node:fs';
import { readCapture } from '../link/pcap.js';
import { dissectFrame, formatDissection } from '../wire/dissect.js';
import { isParseError } from '../wire/error.js';

const LINKTYPE_ETHERNET = 1;

export function captureCommand(args: string[]): number {
  const [sub, ...rest] = args;
  if (sub !== 'read') {
    process.stderr.write('usage: xlio capture read FILE [-c COUNT]\n');
    return 2;
  }
  let file: string | undefined;
  let limit = Infinity;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '-c') {
      const n = Number(rest[++i]);
      if (!Number.isInteger(n) || n < 0) {
        process.stderr.write(`xlio capture: -c needs a non-negative integer, got ${JSON.stringify(rest[i])}\n`);
        return 2;
      }
      limit = n;
    } else if (file === undefined) file = a;
    else {
      process.stderr.write(`xlio capture: unexpected argument ${JSON.stringify(a)}\n`);
      return 2;
    }
  }
  if (file === undefined) {
    process.stderr.write('usage: xlio capture read FILE [-c COUNT]\n');
    return 2;
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    process.stderr.write(`xlio capture: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}\n`);
    return 1;
  }
  const cap = readCapture(bytes);
  if (isParseError(cap)) {
    process.stderr.write(`xlio capture: ${file} is not a readable capture: ${cap.toString()}\n`);
    return 1;
  }
  let n = 0;
  for (const p of cap.packets) {
    if (n >= limit) break;
    n++;
    const ts = `${p.seconds}.${String(p.nanoseconds).padStart(9, '0')}`;
    if (p.linkType !== LINKTYPE_ETHERNET) {
      process.stdout.write(`${n} ${ts} link type ${p.linkType}, ${p.data.length} bytes (not dissected)\n`);
      continue;
    }
    process.stdout.write(`${n} ${ts} ${formatDissection(dissectFrame(p.data))}\n`);
  }
  return 0;
}

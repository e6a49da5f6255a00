// Checked socket calls and "read a whole stream" for tests that move data through an xlio-ts
// host (test/link): one copy instead of one per driver test.

import { createHash } from 'node:crypto';
import { errnoName } from '../../src/errno.js';
import { SOL_SOCKET, SO_RCVTIMEO } from '../../src/socket/constants.js';
import { timeval } from '../../src/socket/types.js';
import type { WireHost } from './wire-host.js';

/** A socket call's result, or an Error naming the call and its errno. */
export function ok(what: string, r: number): number {
  if (r < 0) throw new Error(`${what}: ${errnoName(-r)} (${r})`);
  return r;
}

/**
 * Accepts one connection on `lfd` and reads it to EOF (SO_RCVTIMEO 20 s on it, at most
 * 1,000,000 reads); closes it and returns the bytes' count and SHA-256.
 */
export async function receiveStream(host: WireHost, lfd: number): Promise<{ bytes: number; sha: string }> {
  const { api, io } = host;
  const cfd = ok('accept', await io.accept(lfd));
  ok('rcvtimeo', api.setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, timeval(20_000_000)));
  const hash = createHash('sha256');
  const buf = new Uint8Array(1 << 16);
  let bytes = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const r = ok('recv', await io.recv(cfd, buf));
    if (r === 0) break;
    hash.update(buf.subarray(0, r));
    bytes += r;
  }
  api.close(cfd);
  return { bytes, sha: hash.digest('hex') };
}

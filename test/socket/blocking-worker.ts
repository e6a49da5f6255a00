// A worker for blocking.test.ts: one stack on one side of a shared-memory link, driven by
// LinkDriver (parks with Atomics.wait), running blocking socket calls as a C program would.

import { parentPort, workerData } from 'node:worker_threads';
import { ShmLink, type ShmLinkShared } from '../../src/link/shm-link.js';
import { SeededRng } from '../../src/rng.js';
import { AF_INET, SOCK_STREAM, SOL_SOCKET, SO_RCVTIMEO } from '../../src/socket/constants.js';
import { LinkDriver } from '../../src/socket/drivers.js';
import { Sockets } from '../../src/socket/sockets.js';
import { SockAddr, timeval } from '../../src/socket/types.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4 } from '../../src/wire/address.js';
import { errnoName } from '../../src/errno.js';

const { shared, side } = workerData as { shared: ShmLinkShared; side: 'a' | 'b' };
const me = side === 'a' ? 1 : 2;
const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, me), rng: new SeededRng(me), ipv6: false });
const link = new ShmLink(shared, side);
stack.attach(link);
stack.addAddress(ipv4(`198.18.0.${me}`), 24);
const driver = new LinkDriver(stack, link);
const api = new Sockets(stack, { driver });
const log: string[] = [];

function check(what: string, r: number): number {
  log.push(`${what}=${r < 0 ? errnoName(r) : r}`);
  if (r < 0) throw new Error(`${what}: ${errnoName(r)} (${log.join(' ')})`);
  return r;
}

const result: Record<string, unknown> = {};
try {
  if (side === 'a') {
    const l = check('socket', api.socket(AF_INET, SOCK_STREAM));
    check('bind', api.bind(l, SockAddr.inet(ipv4('198.18.0.1'), 7000)));
    check('listen', api.listen(l, 8));
    check('setsockopt', api.setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, timeval(5_000_000)));
    const peer = new SockAddr();
    const c = check('accept', api.accept(l, peer)); // blocks until the client connects
    check('setsockopt', api.setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, timeval(5_000_000)));
    const buf = new Uint8Array(5);
    const n = check('recv', api.recv(c, buf, 0x100 /* MSG_WAITALL */)); // blocks for all five bytes
    check('send', api.send(c, buf.subarray(0, n)));
    // An empty socket with SO_RCVTIMEO 100 ms: the blocking recv gives up with EAGAIN.
    check('setsockopt', api.setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, timeval(100_000)));
    const t0 = performance.now();
    result['timeoutErr'] = errnoName(api.recv(c, buf));
    result['timeoutMs'] = performance.now() - t0;
    check('setsockopt', api.setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, timeval(5_000_000)));
    result['eof'] = api.recv(c, buf); // the client closes: end of stream
    result['received'] = new TextDecoder().decode(buf.subarray(0, n));
    result['peer'] = peer.toString();
    api.close(c);
    api.close(l);
  } else {
    const s = check('socket', api.socket(AF_INET, SOCK_STREAM));
    check('connect', api.connect(s, SockAddr.inet(ipv4('198.18.0.1'), 7000))); // blocks for the handshake
    // Send the five bytes in two pieces, so the server's MSG_WAITALL has to wait for the second.
    check('send', api.send(s, new TextEncoder().encode('he')));
    const until = driver.now() + 20_000;
    while (driver.now() < until) driver.wait(until);
    check('send', api.send(s, new TextEncoder().encode('llo')));
    const buf = new Uint8Array(5);
    check('setsockopt', api.setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, timeval(5_000_000)));
    result['echo'] = new TextDecoder().decode(buf.subarray(0, check('recv', api.recv(s, buf, 0x100))));
    // Wait past the server's 100 ms timeout before closing.
    const later = driver.now() + 300_000;
    while (driver.now() < later) driver.wait(later);
    check('close', api.close(s));
    const end = driver.now() + 200_000;
    while (driver.now() < end) driver.wait(end); // let the FIN go out and be answered
  }
  parentPort!.postMessage({ ok: true, result, log });
} catch (e) {
  parentPort!.postMessage({ ok: false, error: String(e), log });
}

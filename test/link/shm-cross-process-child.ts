// The other process of shm-cross-process.test.ts. Forked with a segment name, it attaches
// side 'b' with ShmLink.openNamed and runs the parent's requests (IPC messages
// { id, cmd, ... }), answering { id, ok, result | error }. Its waits block this process's
// only thread (futexWait): it is a C program's view of the link.

import { ShmLink } from '../../src/link/shm-link.js';
import { SeededRng } from '../../src/rng.js';
import { AF_INET, SOCK_STREAM, SOL_SOCKET, SO_RCVTIMEO } from '../../src/socket/constants.js';
import { LinkDriver, monotonicUs } from '../../src/socket/drivers.js';
import { Sockets } from '../../src/socket/sockets.js';
import { SockAddr, timeval } from '../../src/socket/types.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4 } from '../../src/wire/address.js';
import { errnoName } from '../../src/errno.js';
import { BulkExchange, PING_LEN, frameLength, readStamp, writeStamps } from './shm-cross-process-frames.js';

type Request =
  | { id: number; cmd: 'bulk'; frames: number }
  | { id: number; cmd: 'park'; rounds: number; mode: 'block' | 'async' }
  | { id: number; cmd: 'tcp-listen'; port: number }
  | { id: number; cmd: 'tcp-serve' }
  | { id: number; cmd: 'exit' };

const link = ShmLink.openNamed(process.argv[2]!);

/** Bulk exchange as side b: sends direction-1 frames, checks direction-0 ones; parks when nothing moves. */
function bulk(frames: number): Record<string, unknown> {
  const x = new BulkExchange(link, 1, frames);
  const rx0 = { parks: link.rx.dataParks, wakeups: link.rx.wakeups };
  const spaceParks0 = link.tx.spaceParks;
  const t0 = performance.now();
  while (!x.done) {
    if (x.step()) continue;
    if (performance.now() - t0 > 20_000) throw new Error(`bulk stalled: sent ${x.sent}, received ${x.received}`);
    // Nothing moved: sleep on the space doorbell if our ring is full, else on the data one.
    if (x.txFull) link.tx.waitForSpace(frameLength(x.sent, 1), 5);
    else link.waitForData(5);
  }
  return {
    sent: x.sent,
    received: x.received,
    mismatches: x.mismatches,
    firstMismatch: x.firstMismatch,
    elapsedMs: performance.now() - t0,
    dataParks: link.rx.dataParks - rx0.parks,
    wakeups: link.rx.wakeups - rx0.wakeups,
    spaceParks: link.tx.spaceParks - spaceParks0,
    txDrops: link.txDrops,
  };
}

/**
 * Park test: each round sleeps until the parent's ping arrives, then answers with the
 * ping's send time, the wake-up time and the answer's send time (monotonic ns, the same
 * clock in both processes).
 */
async function park(rounds: number, mode: 'block' | 'async'): Promise<Record<string, unknown>> {
  const before = { parks: link.rx.dataParks, wakeups: link.rx.wakeups, timeouts: link.rx.dataTimeouts };
  const answer = new Uint8Array(PING_LEN);
  let sentAt = 0n;
  const onPing = (bytes: Uint8Array, at: number): void => {
    sentAt = readStamp(bytes, at, 0);
  };
  for (let r = 0; r < rounds; r++) {
    const got = mode === 'block' ? link.waitForData(2000) : await link.waitForDataAsync(2000);
    const woke = process.hrtime.bigint();
    if (!got) throw new Error(`round ${r}: no ping within 2 s (a lost wake-up)`);
    if (link.receive(onPing, 1) !== 1) throw new Error(`round ${r}: woken without a frame`);
    writeStamps(answer, [sentAt, woke, process.hrtime.bigint()]);
    link.transmit(answer);
  }
  return {
    parks: link.rx.dataParks - before.parks,
    wakeups: link.rx.wakeups - before.wakeups,
    timeouts: link.rx.dataTimeouts - before.timeouts,
  };
}

// A stack on side b, 198.18.0.2, with blocking sockets (this process may block).
let api: Sockets | null = null;
let driver: LinkDriver | null = null;
let listener = -1;

function check(what: string, r: number): number {
  if (r < 0) throw new Error(`${what}: ${errnoName(r)}`);
  return r;
}

function tcpListen(port: number): Record<string, unknown> {
  const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 2), rng: new SeededRng(2), ipv6: false });
  stack.attach(link);
  stack.addAddress(ipv4('198.18.0.2'), 24);
  driver = new LinkDriver(stack, link, monotonicUs, { canBlock: true });
  api = new Sockets(stack, { driver });
  listener = check('socket', api.socket(AF_INET, SOCK_STREAM));
  check('bind', api.bind(listener, SockAddr.inet(ipv4('198.18.0.2'), port)));
  check('listen', api.listen(listener, 4));
  check('setsockopt', api.setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, timeval(10_000_000)));
  return {};
}

/** Accepts one connection and echoes it until the peer closes (blocking calls, 10 s timeouts). */
function tcpServe(): Record<string, unknown> {
  const sockets = api!;
  const peer = new SockAddr();
  const c = check('accept', sockets.accept(listener, peer));
  check('setsockopt', sockets.setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, timeval(10_000_000)));
  const buf = new Uint8Array(16384);
  let echoed = 0;
  for (;;) {
    const n = check('recv', sockets.recv(c, buf));
    if (n === 0) break;
    for (let off = 0; off < n; ) off += check('send', sockets.send(c, buf.subarray(off, n)));
    echoed += n;
  }
  check('close', sockets.close(c));
  check('close', sockets.close(listener));
  // Let our FIN go out and be acknowledged.
  const end = driver!.now() + 200_000;
  while (driver!.now() < end) driver!.wait(end);
  return { echoed, peer: peer.toString() };
}

async function handle(m: Request): Promise<Record<string, unknown>> {
  switch (m.cmd) {
    case 'bulk':
      return bulk(m.frames);
    case 'park':
      return park(m.rounds, m.mode);
    case 'tcp-listen':
      return tcpListen(m.port);
    case 'tcp-serve':
      return tcpServe();
    case 'exit':
      setImmediate(() => process.exit(0));
      return {};
  }
}

process.on('message', (m: Request) => {
  handle(m).then(
    (result) => process.send!({ id: m.id, ok: true, result }),
    (e: unknown) => process.send!({ id: m.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
  );
});
// The parent went away (test failed or finished): nothing left to do.
process.on('disconnect', () => process.exit(0));
process.send!({ id: 0, ok: true, result: { pid: process.pid, crossProcess: link.crossProcess, mtu: link.mtu, capacity: link.rx.capacity } });

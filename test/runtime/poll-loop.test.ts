// The poll loop: timers fire on time from stack.poll's deadline while the loop is parked; a
// parked (or spinning) main-thread loop leaves the event loop running; it spins for the
// XLIO_RX_POLL budget and then parks; stop() wakes a parked loop at once, on the main thread
// and in a worker.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ShmLink } from '../../src/link/shm-link.js';
import { SeededRng } from '../../src/rng.js';
import { LoopControl, LoopStat, PollLoop, type PollLoopOptions } from '../../src/runtime/poll-loop.js';
import { Errno } from '../../src/errno.js';
import { AF_INET, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_STREAM, SOL_SOCKET, SO_RCVTIMEO } from '../../src/socket/constants.js';
import { LinkDriver } from '../../src/socket/drivers.js';
import { SocketPromises } from '../../src/socket/promises.js';
import { Sockets } from '../../src/socket/sockets.js';
import { SockAddr } from '../../src/socket/types.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4 } from '../../src/wire/address.js';
import type { LoopJob } from './loop-worker.js';

/**
 * A stack (198.18.0.1) on side 'a' of a shared-memory link (nobody on side 'b'), with every
 * frame it sends recorded with the time it was sent (ms) and the stack's clock then (µs).
 */
function host(loopOpts: PollLoopOptions) {
  const shared = ShmLink.pair(1 << 16, 1500);
  const link = new ShmLink(shared, 'a');
  const sent: { at: number; stackNow: number; bytes: Uint8Array }[] = [];
  const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), rng: new SeededRng(5), ipv6: false, neighbor: { retransUs: 50_000 } });
  stack.attach({
    mtu: link.mtu,
    transmit: (f) => {
      sent.push({ at: performance.now(), stackNow: stack.now, bytes: f.slice() });
      link.transmit(f);
    },
  });
  stack.addAddress(ipv4('198.18.0.1'), 24);
  const driver = new LinkDriver(stack, link);
  const api = new Sockets(stack, { driver });
  const loop = new PollLoop(driver, loopOpts);
  return { shared, link, sent, stack, api, loop };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (at most `ms`) until `cond` holds. */
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await sleep(2);
}

/** An ARP request for 198.18.0.9. */
function isArpRequestFor9(f: Uint8Array): boolean {
  return f[12] === 0x08 && f[13] === 0x06 && f[21] === 1 && f[38] === 198 && f[39] === 18 && f[40] === 0 && f[41] === 9;
}
function isSyn(f: Uint8Array): boolean {
  return f[12] === 0x08 && f[13] === 0x00 && f[23] === 6 && (f[14 + 20 + 13]! & 0x12) === 0x02;
}

test('timers fire on time from stack.poll\'s deadline while the loop is parked: ARP retries every 50 ms', { timeout: 10_000 }, async () => {
  // The longest park is 5 s: a retry on time shows the loop woke at the stack's deadline.
  const { sent, api, loop } = host({ rxPoll: 0, maxParkMs: 5000 });
  const running = loop.start();
  await sleep(20);
  const fd = api.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK);
  // 198.18.0.9 does not answer: the stack sends an ARP request now and retries on its timer.
  // A call outside the loop's rounds: pump() first (the stack's clock is now), wake() after
  // (the loop parks again with the timer's deadline).
  loop.pump();
  assert.equal(api.sendto(fd, new Uint8Array(8), 0, SockAddr.inet(ipv4('198.18.0.9'), 9)), 8);
  loop.wake();
  await sleep(400);
  const frames = sent.filter((f) => isArpRequestFor9(f.bytes));
  loop.stop();
  await running;
  assert.equal(frames.length, 3, 'mcast_solicit: three requests');
  for (let i = 1; i < frames.length; i++) {
    // Never early on the stack's clock; on time on the wall clock (the loop woke at the deadline, not after its 5 s park).
    const stackGap = (frames[i]!.stackNow - frames[i - 1]!.stackNow) / 1000;
    const gap = frames[i]!.at - frames[i - 1]!.at;
    assert.ok(stackGap >= 50 && stackGap < 150, `retry ${i} at ${stackGap.toFixed(1)} ms on the stack's clock (retrans_time 50 ms)`);
    assert.ok(gap < 150, `retry ${i} sent ${gap.toFixed(1)} ms after the previous one`);
  }
  const s = loop.stats;
  assert.equal(s[LoopStat.SPINS], 0, 'XLIO_RX_POLL=0: no spinning');
  assert.ok(s[LoopStat.TIMEOUTS]! >= 2, `parks ended by the timer deadline: ${s[LoopStat.TIMEOUTS]}`);
  assert.equal(s[LoopStat.FRAMES], 0, 'nothing came in: the timers alone woke the loop');
});

test('timers fire on time while parked: a TCP SYN is retransmitted after the 1 s initial RTO', { timeout: 10_000 }, async () => {
  const { sent, stack, api, loop } = host({ rxPoll: 0, maxParkMs: 5000 });
  stack.addNeighbor(ipv4('198.18.0.2'), Uint8Array.of(2, 0, 0, 0, 0, 2));
  const fd = api.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
  // This time from the loop's own round, as an application does, 20 ms after the loop parked.
  let go = false;
  loop.onRound = () => {
    if (!go) return false;
    go = false;
    api.connect(fd, SockAddr.inet(ipv4('198.18.0.2'), 80)); // EINPROGRESS; nobody answers
    return true;
  };
  const running = loop.start();
  await sleep(20);
  go = true;
  loop.wake();
  await sleep(1300);
  const syns = sent.filter((f) => isSyn(f.bytes));
  loop.stop();
  await running;
  assert.equal(syns.length, 2, 'the SYN and one retransmission');
  const stackGap = (syns[1]!.stackNow - syns[0]!.stackNow) / 1000;
  const gap = syns[1]!.at - syns[0]!.at;
  assert.ok(stackGap >= 1000 && stackGap < 1100, `retransmitted at ${stackGap.toFixed(1)} ms on the stack's clock (RTO 1 s)`);
  assert.ok(gap < 1100, `retransmitted ${gap.toFixed(1)} ms after the SYN`);
  assert.ok(loop.stats[LoopStat.PARKS]! >= 1);
  assert.ok(loop.stats[LoopStat.ROUNDS]! < 100, `the loop slept rather than polled: ${loop.stats[LoopStat.ROUNDS]} rounds`);
  api.close(fd);
});

/** Event-loop latency over `ms`: setTimeout(2) lateness, setImmediate turns, and a promise chain. */
async function eventLoopHealth(ms: number) {
  const late: number[] = [];
  let immediates = 0;
  let stop = false;
  const spinImmediate = (): void => {
    immediates++;
    if (!stop) setImmediate(spinImmediate);
  };
  setImmediate(spinImmediate);
  const end = performance.now() + ms;
  const promiseChain = (async () => {
    let n = 0;
    for (let i = 0; i < 10_000; i++) n += await Promise.resolve(1);
    return n;
  })();
  while (performance.now() < end) {
    const t = performance.now();
    await sleep(2);
    late.push(performance.now() - t - 2);
  }
  stop = true;
  const chained = await promiseChain;
  late.sort((a, b) => a - b);
  return { timers: late.length, maxLate: late[late.length - 1]!, medianLate: late[late.length >> 1]!, immediates, chained };
}

type Health = Awaited<ReturnType<typeof eventLoopHealth>>;

/**
 * Callbacks kept running: bounds loose enough for a loaded machine (CPU contention delays
 * every timer by itself), far from what a loop blocking the thread (for a 60 s park) would do.
 */
function assertRunning(h: Health, context: string): void {
  const seen = `lateness median ${h.medianLate.toFixed(2)} ms, max ${h.maxLate.toFixed(2)} ms, ${h.timers} timers, ${h.immediates} immediates; ${context}`;
  assert.equal(h.chained, 10_000, seen);
  assert.ok(h.timers >= 3, seen);
  assert.ok(h.medianLate < 50, seen);
  assert.ok(h.maxLate < 5000, seen);
  assert.ok(h.immediates >= 3, seen);
}

test('a parked main-thread loop does not starve the event loop: timers, immediates and promises run at normal latency', { timeout: 10_000 }, async () => {
  const baseline = await eventLoopHealth(200);
  // Each park lasts up to 60 s: a park that blocked the thread would stall every callback that long.
  const { loop } = host({ rxPoll: 0, maxParkMs: 60_000 });
  const running = loop.start();
  await until(() => loop.stats[LoopStat.PARKS]! > 0);
  const parked = await eventLoopHealth(300);
  assert.ok(loop.stats[LoopStat.PARKS]! >= 1, 'the loop was parked (Atomics.waitAsync)');
  loop.stop();
  await running;
  assertRunning(parked, `without the loop: median ${baseline.medianLate.toFixed(2)} ms, max ${baseline.maxLate.toFixed(2)} ms, ${baseline.timers} timers, ${baseline.immediates} immediates in 200 ms`);
});

test('a spinning main-thread loop (XLIO_RX_POLL=-1) yields to the event loop between slices', { timeout: 10_000 }, async () => {
  const { loop } = host({ rxPoll: -1 });
  const running = loop.start();
  const spinning = await eventLoopHealth(300);
  loop.stop();
  await running;
  assert.equal(loop.stats[LoopStat.PARKS], 0, 'poll forever: never parks');
  assert.ok(loop.stats[LoopStat.SPINS]! > 1000, `${loop.stats[LoopStat.SPINS]} spin rounds`);
  assertRunning(spinning, 'in 300 ms of a spinning loop');
});

test('spin then park: XLIO_RX_POLL=0 parks at once; a budget of n spins n idle rounds before each park; the µs cap ends a long spin', { timeout: 10_000 }, async () => {
  const atOnce = host({ rxPoll: 0, maxParkMs: 20 }).loop;
  const budget = host({ rxPoll: 500, spinCapUs: 1e9, maxParkMs: 20 }).loop;
  // 10,000,000 rounds take far longer than the 5 ms cap: the cap ends each spin.
  const capped = host({ rxPoll: 10_000_000, spinCapUs: 5000, maxParkMs: 20 }).loop;
  // By default the cap is XLIO's time for that many polls: 100000 × 0.1 µs = 10 ms.
  assert.equal(host({ rxPoll: 100_000 }).loop.spinCapUs, 10_000);
  assert.equal(host({ rxPoll: -1 }).loop.spinCapUs, Infinity);
  const runs = [atOnce.start(), budget.start(), capped.start()];
  await sleep(300);
  for (const l of [atOnce, budget, capped]) l.stop();
  await Promise.all(runs);
  const a = atOnce.stats;
  assert.equal(a[LoopStat.SPINS], 0);
  assert.ok(a[LoopStat.PARKS]! >= 5, `${a[LoopStat.PARKS]} parks`);
  const b = budget.stats;
  const parks = b[LoopStat.PARKS]!;
  const spins = b[LoopStat.SPINS]!;
  assert.ok(parks >= 2, `${parks} parks`);
  assert.ok(spins >= 500 * parks && spins <= 500 * (parks + 1), `${spins} spins for ${parks} parks: 500 before each`);
  const c = capped.stats;
  assert.ok(c[LoopStat.PARKS]! >= 2, `the 5 ms cap ended the spins: ${c[LoopStat.PARKS]} parks`);
  assert.ok(c[LoopStat.SPINS]! / c[LoopStat.PARKS]! < 10_000_000, 'fewer spins than the count allows');
});

test('stop() wakes a parked main-thread loop at once, and the loop can run again', { timeout: 10_000 }, async () => {
  const { loop } = host({ rxPoll: 0, maxParkMs: 10_000 });
  for (let run = 0; run < 2; run++) {
    const parks = loop.stats[LoopStat.PARKS]!;
    const running = loop.start();
    await until(() => loop.stats[LoopStat.PARKS]! > parks);
    await sleep(10);
    assert.ok(loop.stats[LoopStat.PARKS]! > parks, 'parked');
    const t0 = performance.now();
    loop.stop();
    await running;
    const ms = performance.now() - t0;
    assert.ok(ms < 50, `stopped ${ms.toFixed(1)} ms after stop() (the park was for 10 s)`);
    assert.equal(loop.running, false);
  }
});

test('stop() wakes a loop parked in a worker (Atomics.wait) at once, through shared control words', { timeout: 10_000 }, async () => {
  const shared = ShmLink.pair(1 << 16, 1500);
  const control = new SharedArrayBuffer(4 * LoopControl.COUNT);
  const stats = new SharedArrayBuffer(8 * LoopStat.COUNT);
  const job: LoopJob = { kind: 'loop-worker', shared, control, stats, rxPoll: 0, maxParkMs: 10_000 };
  const w = new Worker(new URL('./loop-worker.js', import.meta.url), { workerData: job });
  try {
    const messages: { type: string; at?: number }[] = [];
    const next = () => new Promise<{ type: string; at?: number }>((resolve, reject) => {
      w.once('message', (m) => { messages.push(m); resolve(m); });
      w.once('error', reject);
    });
    assert.equal((await next()).type, 'running');
    const s = new Float64Array(stats);
    await until(() => s[LoopStat.PARKS]! > 0);
    await sleep(10);
    assert.ok(s[LoopStat.PARKS]! >= 1, 'the worker parked');
    const stopped = next();
    const t0 = performance.timeOrigin + performance.now();
    Atomics.store(new Int32Array(control), LoopControl.STOP, 1);
    new ShmLink(shared, 'a').interruptWait(); // a view of the worker's side: only its doorbell is touched
    const m = await stopped;
    assert.equal(m.type, 'stopped');
    const ms = m.at! - t0;
    assert.ok(ms < 50, `the worker's loop returned ${ms.toFixed(1)} ms after the stop (its park was for 10 s)`);
    assert.equal(Atomics.load(new Int32Array(control), LoopControl.STOP), 0, 'the stop request is consumed');
  } finally {
    await w.terminate();
  }
});

test('a running main-thread loop drives the Promise API: connect, accept and recv wait on its rounds, SO_RCVTIMEO still ends a wait', { timeout: 10_000 }, async () => {
  // Two stacks on the two sides of one link, each with its own loop on the main thread.
  const shared = ShmLink.pair(1 << 18, 1500);
  const side = (s: 'a' | 'b', me: number) => {
    const link = new ShmLink(shared, s);
    const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, me), rng: new SeededRng(me), ipv6: false });
    stack.attach(link);
    stack.addAddress(ipv4(`198.18.0.${me}`), 24);
    const driver = new LinkDriver(stack, link);
    const api = new Sockets(stack, { driver });
    const loop = new PollLoop(driver, { rxPoll: 0 });
    return { api, loop, p: new SocketPromises(api, loop) };
  };
  const a = side('a', 1);
  const b = side('b', 2);
  const runs = [a.loop.start(), b.loop.start()];
  try {
    const l = a.api.socket(AF_INET, SOCK_STREAM);
    assert.equal(a.api.bind(l, SockAddr.inet(ipv4('198.18.0.1'), 7000)), 0);
    assert.equal(a.api.listen(l, 4), 0);
    const c = b.api.socket(AF_INET, SOCK_STREAM);
    const accepted = a.p.accept(l);
    assert.equal(await b.p.connect(c, SockAddr.inet(ipv4('198.18.0.1'), 7000)), 0);
    const s = await accepted;
    assert.ok(s > 0);
    const buf = new Uint8Array(5);
    setTimeout(() => {
      b.loop.pump();
      b.api.send(c, new TextEncoder().encode('hello'));
      b.loop.wake();
    }, 30);
    assert.equal(await a.p.recv(s, buf), 5);
    assert.equal(new TextDecoder().decode(buf), 'hello');
    const tv = new Uint8Array(16);
    new DataView(tv.buffer).setBigInt64(8, 40_000n, true); // 40 ms
    assert.equal(a.api.setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, tv), 0);
    const t0 = performance.now();
    assert.equal(await a.p.recv(s, buf), -Errno.EAGAIN);
    const waited = performance.now() - t0;
    assert.ok(waited >= 35 && waited < 2000, `SO_RCVTIMEO 40 ms ended the wait after ${waited.toFixed(1)} ms`);
    assert.ok(a.loop.stats[LoopStat.PARKS]! > 0 && b.loop.stats[LoopStat.PARKS]! > 0, 'both loops parked while waiting');
    for (const fd of [s, l]) a.api.close(fd);
    b.api.close(c);
  } finally {
    a.loop.stop();
    b.loop.stop();
    await Promise.all(runs);
  }
});

test('the stack\'s clock never steps back: a round that reuses its last clock reading keeps a later time that calls between rounds set', () => {
  // While spinning idle a round reuses its last reading (CLOCK_EVERY); socket calls made between
  // rounds bring stack.now up to the present first. Stepping back from there made TCP timestamps
  // step back, the peer's PAWS dropped the segment (a handshake's last ACK), and the connection
  // waited a whole 1 s SYN-ACK retransmission: the drop-ins' 1 s stalls.
  const { loop, stack } = host({ rxPoll: 1000 });
  loop.round(true);
  const later = stack.now + 5_000;
  (loop as unknown as { idle: number }).idle = 1; // the next round reuses the last reading
  stack.now = later; // a call between rounds (net.ts/dgram.ts enter())
  loop.round();
  assert.ok(stack.now >= later, `stack.now went back from ${later} to ${stack.now}`);
  // flush(), the drop-ins' transmit after such calls, polls at the callers' clock too.
  stack.now = later + 1_000;
  loop.flush();
  assert.equal(stack.now, later + 1_000);
});

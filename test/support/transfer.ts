// Bulk transfers between stacks on the simulator, checked by SHA-256: a seeded byte source
// (xorshift128, filled a word at a time, so generating a GiB costs well under a second), a
// sender that keeps its connection's send buffer full, a receiver that hashes what it reads
// chunk by chunk, and a loop that drives any number of flows at once (both directions of
// one connection, say) with bounds on simulated time and on turns, failing with a progress
// report (bytes each way, simulated time, retransmissions, timeouts, states) when a bound
// is hit. Nothing here holds a whole transfer in memory.

import assert from 'node:assert/strict';
import { createHash, type Hash } from 'node:crypto';
import { TcpState, type TcpConnection } from '../../src/stack/tcp/connection.js';
import type { LinkCounters, LinkParams, SimNetwork } from '../../src/link/sim/network.js';
import type { Stack } from '../../src/stack/stack.js';
import { ipv4 } from '../../src/wire/address.js';
import type { TestContext } from 'node:test';
import { twoStacks } from './stacks.js';

/** A deterministic byte stream: Marsaglia's xorshift128 seeded through splitmix32. */
export class PatternSource {
  private x: number;
  private y: number;
  private z: number;
  private w: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
      return (t ^ (t >>> 16)) >>> 0;
    };
    this.x = next();
    this.y = next();
    this.z = next();
    this.w = next() | 1; // never the all-zero state
  }

  /** Fills `out` with the next `out.length` bytes of the stream. */
  fill(out: Uint8Array): void {
    let { x, y, z, w } = this;
    const aligned = (out.byteOffset & 3) === 0;
    const words = aligned ? out.length >>> 2 : 0;
    if (words > 0) {
      const u32 = new Uint32Array(out.buffer, out.byteOffset, words);
      for (let i = 0; i < words; i++) {
        const t = x ^ (x << 11);
        x = y;
        y = z;
        z = w;
        w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
        u32[i] = w;
      }
    }
    // Unaligned or trailing bytes: one word each, little-endian.
    for (let i = words << 2; i < out.length; i++) {
      const t = x ^ (x << 11);
      x = y;
      y = z;
      z = w;
      w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
      out[i] = w & 255;
    }
    this.x = x;
    this.y = y;
    this.z = z;
    this.w = w;
  }
}

/** Writes `size` bytes of a PatternSource into `conn`, hashing them as they are generated. */
export class Sender {
  private readonly hash: Hash = createHash('sha256');
  private readonly src: PatternSource;
  private readonly chunk: Uint8Array;
  private off = 0;
  private len = 0;
  private generated = 0;
  private digestHex: string | null = null;
  /** Bytes the connection has accepted. */
  sent = 0;

  constructor(
    readonly conn: TcpConnection,
    readonly size: number,
    seed: number,
    chunkSize = 1 << 20,
  ) {
    this.src = new PatternSource(seed);
    this.chunk = new Uint8Array(chunkSize);
  }

  get done(): boolean {
    return this.sent >= this.size;
  }

  /** Writes until the send buffer is full or everything is queued; returns the bytes written. */
  pump(): number {
    let wrote = 0;
    while (this.sent < this.size) {
      if (this.off === this.len) this.refill();
      const n = this.conn.write(this.chunk, this.off, this.len - this.off);
      if (n <= 0) break;
      this.off += n;
      this.sent += n;
      wrote += n;
    }
    return wrote;
  }

  private refill(): void {
    const n = Math.min(this.chunk.length, this.size - this.generated);
    const view = this.chunk.subarray(0, n);
    this.src.fill(view);
    this.hash.update(view);
    this.generated += n;
    this.off = 0;
    this.len = n;
  }

  /** SHA-256 of everything sent (only once all of it was written). */
  digest(): string {
    assert.equal(this.sent, this.size, 'digest of a transfer not fully written');
    this.digestHex ??= this.hash.digest('hex');
    return this.digestHex;
  }
}

/** Reads everything `conn` offers, hashing each chunk; notices end of stream. */
export class Receiver {
  private readonly hash: Hash = createHash('sha256');
  private readonly buf: Uint8Array;
  private digestHex: string | null = null;
  got = 0;
  eof = false;

  constructor(
    readonly conn: TcpConnection,
    readonly size: number,
    bufSize = 1 << 18,
  ) {
    this.buf = new Uint8Array(bufSize);
  }

  get done(): boolean {
    return this.got >= this.size;
  }

  /** Reads until nothing is left (−1) or end of stream (0); returns the bytes read. */
  drain(): number {
    let read = 0;
    for (;;) {
      const n = this.conn.read(this.buf);
      if (n === 0) {
        this.eof = true;
        break;
      }
      if (n < 0) break;
      this.hash.update(this.buf.subarray(0, n));
      this.got += n;
      read += n;
    }
    return read;
  }

  digest(): string {
    this.digestHex ??= this.hash.digest('hex');
    return this.digestHex;
  }
}

export interface Flow {
  name: string;
  sender: Sender;
  receiver: Receiver;
}

/** A flow of `size` bytes from `tx` to `rx`, its content seeded by `seed`. */
export function flow(name: string, tx: TcpConnection, rx: TcpConnection, size: number, seed: number): Flow {
  return { name, sender: new Sender(tx, size, seed), receiver: new Receiver(rx, size) };
}

/** What the transfer loop needs of a topology (twoStacks and friends). */
export interface SimEnv {
  sim: SimNetwork;
  settle: (us?: number) => void;
}

export interface PumpOptions {
  /** Simulated time per turn (the application writes and reads once per turn). */
  stepUs: number;
  /** Most simulated time for the whole transfer. */
  limitUs: number;
  /** Most turns. */
  maxSteps: number;
  /** Extra text for the failure report (link counters, say). */
  extra?: () => string;
  /** Called after every turn (to sample windows, say). */
  onStep?: () => void;
}

export interface PumpResult {
  steps: number;
  /** Simulated time from the first write to the last byte read, µs. */
  elapsedUs: number;
  /** Simulated time at which each flow's last byte was read (relative to the start), µs. */
  finishedUs: number[];
  wallMs: number;
}

const MiB = 1 << 20;

export function connStats(c: TcpConnection): string {
  const i = c.info();
  return `${c.state} rtx ${c.totalRetransmits} rto ${c.timeouts} tlp ${c.tlpProbes} cwnd ${i.cwnd} ssthresh ${i.ssthresh} ` +
    `srtt ${i.rttUs} rto ${i.rtoUs} sndWnd ${i.sndWnd} unacked ${i.unacked} sendQ ${c.sendQ.length}/${c.sendQ.max} recvQ ${c.recvQ.length}/${c.recvQ.max}` +
    (c.error === null ? '' : ` error ${c.error}`);
}

/** One line per flow: progress, then the sending side's and the receiving side's state. */
export function progress(env: SimEnv, flows: readonly Flow[], startUs: number, steps: number, extra?: () => string): string {
  const lines = [`after ${((env.sim.now - startUs) / 1e6).toFixed(3)} s simulated, ${steps} turns:`];
  for (const f of flows) {
    lines.push(`  ${f.name}: written ${(f.sender.sent / MiB).toFixed(2)} MiB, read ${(f.receiver.got / MiB).toFixed(2)} of ${(f.sender.size / MiB).toFixed(2)} MiB` +
      ` (${f.receiver.got} bytes)`);
    lines.push(`    sender   ${connStats(f.sender.conn)}`);
    lines.push(`    receiver ${connStats(f.receiver.conn)}`);
  }
  if (extra) lines.push(`  ${extra()}`);
  return lines.join('\n');
}

/**
 * Drives every flow to completion: each turn, every sender fills its send buffer, the
 * simulation runs `stepUs`, and every receiver reads all it can. Fails with a progress
 * report when a bound is hit, a connection dies, or a receiver gets more than was sent.
 */
export function pump(env: SimEnv, flows: readonly Flow[], o: PumpOptions): PumpResult {
  const t0 = performance.now();
  const start = env.sim.now;
  const finishedUs = flows.map(() => -1);
  let steps = 0;
  for (;;) {
    let all = true;
    for (let k = 0; k < flows.length; k++) {
      const f = flows[k]!;
      if (f.receiver.done) {
        if (finishedUs[k]! < 0) finishedUs[k] = env.sim.now - start;
      } else all = false;
    }
    if (all) break;
    if (steps >= o.maxSteps || env.sim.now - start >= o.limitUs) {
      assert.fail(`transfer unfinished (limit ${o.limitUs / 1e6} s simulated / ${o.maxSteps} turns) ${progress(env, flows, start, steps, o.extra)}`);
    }
    for (const f of flows) {
      if (f.sender.conn.state === TcpState.Closed || f.receiver.conn.state === TcpState.Closed) {
        assert.fail(`connection closed mid-transfer: ${progress(env, flows, start, steps, o.extra)}`);
      }
      f.sender.pump();
    }
    env.settle(o.stepUs);
    for (const f of flows) {
      f.receiver.drain();
      if (f.receiver.got > f.sender.sent || f.receiver.eof) {
        assert.fail(`${f.name}: read ${f.receiver.got} bytes${f.receiver.eof ? ' then end of stream' : ''} with only ${f.sender.sent} written: ${progress(env, flows, start, steps, o.extra)}`);
      }
    }
    steps++;
    o.onStep?.();
  }
  return { steps, elapsedUs: env.sim.now - start, finishedUs, wallMs: performance.now() - t0 };
}

/**
 * Orderly close of both ends at once: each shuts down its write side, then reads until end
 * of stream; fails (with a report) unless both see end of stream and reach TIME_WAIT or
 * CLOSED within `limitUs`. Returns the simulated time it took.
 */
export function closeBoth(env: SimEnv, flows: readonly Flow[], x: TcpConnection, y: TcpConnection, stepUs: number, limitUs: number): number {
  const start = env.sim.now;
  x.shutdownWrite();
  y.shutdownWrite();
  const readers = flows.map((f) => f.receiver);
  // An end that received nothing must see end of stream too.
  for (const c of [x, y]) if (!readers.some((r) => r.conn === c)) readers.push(new Receiver(c, 0, 4096));
  const settled = (c: TcpConnection) => c.state === TcpState.TimeWait || c.state === TcpState.Closed;
  let steps = 0;
  while (!(readers.every((r) => r.eof) && settled(x) && settled(y))) {
    if (env.sim.now - start >= limitUs) {
      assert.fail(`close unfinished: end of stream seen ${readers.map((r) => `${r.conn === x ? 'first' : 'second'} ${r.eof}`).join(', ')}; ${progress(env, flows, start, steps)}`);
    }
    env.settle(stepUs);
    for (const r of readers) {
      const n = r.drain();
      assert.equal(n, 0, `${n} bytes read after the whole transfer`);
    }
    steps++;
  }
  return env.sim.now - start;
}

/** "12.3 MiB/s" */
export const rate = (bytes: number, us: number): string => `${((bytes / MiB) / (us / 1e6)).toFixed(1)} MiB/s`;

// ---------------------------------------------------------------------------------------
// The integrity case of the TCP issue: one connection, the same amount each way at once.

export interface BothWaysOptions {
  /** Random loss per frame, each direction. */
  loss: number;
  /** Bytes each way. */
  size: number;
  stepUs: number;
  limitUs: number;
  link?: Partial<LinkParams>;
}

export interface BothWaysResult {
  env: ReturnType<typeof twoStacks>;
  c: TcpConnection;
  s: TcpConnection;
  run: PumpResult;
  summary: string;
}

const A_IP = ipv4('198.18.0.1');
const B_IP = ipv4('198.18.0.2');

/** Frames dropped by a checksum on `stack`'s Ethernet interface: IPv4 header or TCP. */
export function checksumDrops(stack: Stack): { ip: number; tcp: number } {
  let ip = 0;
  for (const i of stack.interfaces) ip += i.counters.dropChecksum;
  return { ip, tcp: stack.tcp.counters.badChecksum };
}

/**
 * `size` bytes a→b and `size` bytes b→a concurrently on one connection over a link with
 * delay, jitter, reordering, duplication, corruption and `loss`; both SHA-256 digests are
 * checked, then both ends shut down their write sides, read end of stream and reach
 * TIME_WAIT/CLOSED, and 60 s later both tables are empty.
 */
export function bothWays(t: TestContext, seed: number, o: BothWaysOptions): BothWaysResult {
  const t0 = performance.now();
  const params: Partial<LinkParams> = {
    delayUs: 300, jitterUs: 200, // 300–500 µs each way
    loss: o.loss, reorder: 0.01, reorderDelayUs: 1_500, duplicate: 0.005, corrupt: 0.005,
    ...o.link,
  };
  const env = twoStacks(seed, params);
  // Static neighbours: the simulated wire has no Ethernet FCS, so a corrupted ARP reply (ARP
  // has no checksum) would poison a neighbour cache, which a real NIC would have dropped.
  env.a.addNeighbor(B_IP, Uint8Array.of(2, 0, 0, 0, 0, 2));
  env.b.addNeighbor(A_IP, Uint8Array.of(2, 0, 0, 0, 0, 1));
  const l = env.b.tcp.listen(4, 0, 5001);
  const c = env.a.tcp.connect(B_IP, 5001);
  let s: TcpConnection | null = null;
  // Lost SYNs and SYN-ACKs are retried after 1, 2, 4… s (and at 20% loss each way, often are).
  for (let k = 0; k < 6_000 && s === null; k++) {
    env.settle(10_000);
    s = l.accept();
  }
  assert.ok(s !== null, `accepted within 60 s (client ${c.state})`);
  assert.equal(c.state, TcpState.Established);
  const flows = [flow('a→b', c, s, o.size, seed ^ 0xa0b), flow('b→a', s, c, o.size, seed ^ 0xb0a)];
  const linkStats = () => {
    const f = (d: LinkCounters) => `sent ${d.sent} lost ${d.droppedLoss} queue-dropped ${d.droppedQueue} dup ${d.duplicated} reord ${d.reordered} corrupt ${d.corrupted}`;
    const ca = checksumDrops(env.a), cb = checksumDrops(env.b);
    return `link a→b: ${f(env.link.ab.counters)}; b→a: ${f(env.link.ba.counters)}; checksum drops at a ip ${ca.ip} tcp ${ca.tcp}, at b ip ${cb.ip} tcp ${cb.tcp}`;
  };
  const run = pump(env, flows, { stepUs: o.stepUs, limitUs: o.limitUs, maxSteps: Math.ceil(o.limitUs / o.stepUs) + 10, extra: linkStats });
  for (const f of flows) {
    assert.equal(f.receiver.got, o.size, `${f.name}: every byte, no more`);
    assert.equal(f.receiver.digest(), f.sender.digest(), `${f.name}: SHA-256 of what was read equals that of what was written`);
  }
  const closeUs = closeBoth(env, flows, c, s, 10_000, 120_000_000);
  for (const x of [c, s]) assert.ok(x.state === TcpState.TimeWait || x.state === TcpState.Closed, `${x === c ? 'client' : 'server'} ${x.state}`);
  assert.equal(c.error, null, 'client closed without error');
  assert.equal(s.error, null, 'server closed without error');

  // Every impairment happened, and corrupted frames were caught by checksums.
  for (const [name, d] of [['a→b', env.link.ab.counters], ['b→a', env.link.ba.counters]] as const) {
    const happened = (p: number | undefined, n: number) => !(p! > 0) || n > 0;
    assert.ok(happened(params.reorder, d.reordered) && happened(params.duplicate, d.duplicated) && happened(params.corrupt, d.corrupted) && happened(params.loss, d.droppedLoss),
      `${name}: reordered ${d.reordered}, duplicated ${d.duplicated}, corrupted ${d.corrupted}, lost ${d.droppedLoss}`);
  }
  for (const [name, st, into] of [['a', env.a, env.link.ba.counters], ['b', env.b, env.link.ab.counters]] as const) {
    const d = checksumDrops(st);
    if (params.corrupt! > 0) assert.ok(d.tcp > 0, `${name} dropped corrupted TCP segments by checksum (${d.tcp}; ${into.corrupted} frames corrupted on the way in)`);
    assert.ok(d.tcp + d.ip <= into.corrupted, `${name}: no more checksum drops (${d.tcp} + ${d.ip}) than corrupted frames (${into.corrupted})`);
  }
  if (o.loss > 0) assert.ok(c.totalRetransmits > 0 && s.totalRetransmits > 0, 'losses were repaired by retransmission');

  const summary = [
    `loss ${o.loss * 100}%: ${o.size / MiB} MiB each way in ${(run.elapsedUs / 1e6).toFixed(3)} s simulated (a→b done at ${(run.finishedUs[0]! / 1e6).toFixed(3)} s, b→a at ${(run.finishedUs[1]! / 1e6).toFixed(3)} s), ${run.steps} turns of ${o.stepUs} µs, ${(run.wallMs / 1e3).toFixed(1)} s wall`,
    `  goodput per direction ${rate(o.size, run.elapsedUs)} simulated, ${rate(2 * o.size, run.wallMs * 1e3)} both ways per wall second`,
    `  client: rtx ${c.totalRetransmits} rto ${c.timeouts} tlp ${c.tlpProbes} dsacks ${c.sb.dsacks}; server: rtx ${s.totalRetransmits} rto ${s.timeouts} tlp ${s.tlpProbes} dsacks ${s.sb.dsacks}`,
    `  ${linkStats()}`,
    `  close took ${(closeUs / 1e6).toFixed(3)} s simulated: client ${c.state}, server ${s.state}`,
  ].join('\n');

  // TIME_WAIT ends after 60 s; then nothing is left.
  env.settle(61_000_000);
  assert.equal(c.state, TcpState.Closed);
  assert.equal(s.state, TcpState.Closed);
  assert.equal(env.a.tcp.size + env.b.tcp.size, 0, 'both connection tables empty');
  for (const line of `${summary}\n  total wall ${((performance.now() - t0) / 1e3).toFixed(1)} s`.split('\n')) t.diagnostic(line);
  return { env, c, s, run, summary };
}

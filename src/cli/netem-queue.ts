// One direction of the user-space netem relay (`xlio netem-relay`): decides, per frame, what
// Linux's sch_netem would (loss, duplication, delay with jitter, reordering, rate, limit) and
// holds the frames that must wait in a preallocated slot pool ordered by departure time.
//
// Pure and deterministic: time comes in as an argument (microseconds), randomness from a
// SeededRng, so the unit tests replay it exactly. Nothing is allocated per frame: a frame is
// copied into a free slot on offer() and out of it on drain(); the order is a binary min-heap
// of slot numbers keyed by (departure time, arrival sequence).
//
// netem's meanings (tc-netem(8), net/sched/sch_netem.c netem_enqueue):
//   loss P%       each copy of a frame is dropped with probability P
//   duplicate P%  a frame is sent twice with probability P
//   delay D [J]   departure = arrival + D ± J (uniform), so jitter alone reorders (tfifo)
//   reorder P%    with a delay, P% of frames skip it and go at once ("gap 1"), the rest are
//                 delayed: the immediate ones overtake those still waiting
//   rate R        serialisation at R bit/s after the delay: a frame leaves no earlier than
//                 the previous one plus its own transmission time
//   limit N       at most N frames held; more are dropped (counted as droppedFull)

import type { SeededRng } from '../rng.js';

/** Buffer's copy takes offsets, so copying part of a Uint8Array needs no subarray view. */
const copyBytes = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

export interface NetemParams {
  /** Probability in percent that a frame (each copy) is lost. */
  lossPct: number;
  /** Fixed delay in microseconds. */
  delayUs: number;
  /** Uniform jitter in microseconds: the delay is delayUs ± jitterUs (never below 0). */
  jitterUs: number;
  /** Percent of frames sent at once (needs a delay to mean anything). */
  reorderPct: number;
  /** Percent of frames sent twice. */
  duplicatePct: number;
  /** Bits per second, 0 for unlimited. */
  rateBps: number;
  /** Frames held at most (netem's limit, default 1000). */
  limit: number;
}

export const NO_IMPAIRMENT: NetemParams = { lossPct: 0, delayUs: 0, jitterUs: 0, reorderPct: 0, duplicatePct: 0, rateBps: 0, limit: 1000 };

export interface NetemCounters {
  /** Frames offered. */
  received: number;
  /** Frames handed out by drain(). */
  forwarded: number;
  /** Copies dropped by the loss probability. */
  lost: number;
  /** Copies held for a delay (or rate) greater than zero. */
  delayed: number;
  /** Copies sent at once by the reorder probability while others were delayed. */
  reordered: number;
  /** Extra copies made by the duplicate probability. */
  duplicated: number;
  /** Copies dropped because `limit` frames were already held. */
  droppedFull: number;
  /** Frames larger than a slot (never forwarded). */
  oversize: number;
}

export class NetemQueue {
  readonly counters: NetemCounters = { received: 0, forwarded: 0, lost: 0, delayed: 0, reordered: 0, duplicated: 0, droppedFull: 0, oversize: 0 };
  private readonly slots: Uint8Array;
  private readonly lens: Uint32Array;
  private readonly due: Float64Array;
  private readonly order: Float64Array;
  /** Min-heap of slot numbers by (due, order). */
  private readonly heap: Int32Array;
  private size = 0;
  /** Stack of free slot numbers. */
  private readonly free: Int32Array;
  private freeTop: number;
  private seq = 0;
  /** When the last frame finishes serialising (rate only). */
  private lastDeparture = 0;
  private readonly lossP: number;
  private readonly dupP: number;
  private readonly reorderP: number;

  constructor(
    readonly params: NetemParams,
    private readonly rng: SeededRng,
    /** Bytes per slot: the largest frame (MTU + Ethernet header + VLAN tag). */
    readonly slotBytes: number,
  ) {
    const n = Math.max(1, params.limit | 0);
    this.slots = new Uint8Array(n * slotBytes);
    this.lens = new Uint32Array(n);
    this.due = new Float64Array(n);
    this.order = new Float64Array(n);
    this.heap = new Int32Array(n);
    this.free = new Int32Array(n);
    for (let i = 0; i < n; i++) this.free[i] = n - 1 - i;
    this.freeTop = n;
    this.lossP = params.lossPct / 100;
    this.dupP = params.duplicatePct / 100;
    this.reorderP = params.reorderPct / 100;
  }

  /** Frames held now. */
  get held(): number {
    return this.size;
  }

  /** Departure time of the earliest held frame, or Infinity. */
  nextDue(): number {
    return this.size === 0 ? Infinity : this.due[this.heap[0]!]!;
  }

  /** A frame (bytes[at, at+len)) arrives at `now`. */
  offer(bytes: Uint8Array, at: number, len: number, now: number): void {
    const c = this.counters;
    c.received++;
    if (len > this.slotBytes) {
      c.oversize++;
      return;
    }
    let copies = 1;
    if (this.dupP > 0 && this.rng.next() < this.dupP) {
      copies = 2;
      c.duplicated++;
    }
    for (let k = 0; k < copies; k++) {
      if (this.lossP > 0 && this.rng.next() < this.lossP) {
        c.lost++;
        continue;
      }
      if (this.freeTop === 0) {
        c.droppedFull++;
        continue;
      }
      const p = this.params;
      let t = now;
      // netem: "gap 1" reordering — with probability reorderP the frame skips the delay.
      if (this.reorderP > 0 && p.delayUs > 0 && this.rng.next() < this.reorderP) {
        c.reordered++;
      } else {
        let d = p.delayUs;
        if (p.jitterUs > 0) d += (this.rng.next() * 2 - 1) * p.jitterUs;
        if (d > 0) t += d;
        if (p.rateBps > 0) {
          // Serialised after the previous frame: netem's rate follows the tail's departure.
          if (t < this.lastDeparture) t = this.lastDeparture;
          t += (len * 8 * 1e6) / p.rateBps;
          this.lastDeparture = t;
        }
        if (t > now) c.delayed++;
      }
      const slot = this.free[--this.freeTop]!;
      copyBytes.call(bytes, this.slots, slot * this.slotBytes, at, at + len);
      this.lens[slot] = len;
      this.due[slot] = t;
      this.order[slot] = this.seq++;
      this.push(slot);
    }
  }

  /**
   * Copies frames due at or before `now`, earliest first, into `out` (one per `stride` bytes,
   * lengths in `outLens`), at most `max`; returns how many. The slots are freed.
   */
  drain(now: number, out: Uint8Array, stride: number, outLens: Uint32Array, max: number): number {
    let n = 0;
    while (n < max && this.size > 0) {
      const slot = this.heap[0]!;
      if (this.due[slot]! > now) break;
      this.pop();
      const len = this.lens[slot]!;
      const from = slot * this.slotBytes;
      copyBytes.call(this.slots, out, n * stride, from, from + len);
      outLens[n] = len;
      this.free[this.freeTop++] = slot;
      n++;
    }
    this.counters.forwarded += n;
    return n;
  }

  private less(a: number, b: number): boolean {
    const da = this.due[a]!;
    const db = this.due[b]!;
    return da < db || (da === db && this.order[a]! < this.order[b]!);
  }

  private push(slot: number): void {
    const h = this.heap;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const ps = h[parent]!;
      if (!this.less(slot, ps)) break;
      h[i] = ps;
      i = parent;
    }
    h[i] = slot;
  }

  private pop(): void {
    const h = this.heap;
    const last = h[--this.size]!;
    const n = this.size;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(h[r]!, h[l]!) ? r : l;
      if (!this.less(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}

/** Parses "1%", "0.5", "10ms", "500us", "1s", "100mbit"… as netem's tc does. */
export function parsePercent(s: string): number {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(s.trim());
  if (m === null) throw new Error(`not a percentage: '${s}'`);
  const v = Number(m[1]);
  if (v > 100) throw new Error(`percentage above 100: '${s}'`);
  return v;
}

/** A time to microseconds: "10ms", "500us", "0.5s", or a bare number of milliseconds. */
export function parseTimeUs(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(us|usec|ms|msec|s|sec)?$/.exec(s.trim());
  if (m === null) throw new Error(`not a time: '${s}'`);
  const v = Number(m[1]);
  switch (m[2]) {
    case 'us':
    case 'usec':
      return v;
    case 's':
    case 'sec':
      return v * 1e6;
    default:
      return v * 1e3;
  }
}

/** A rate to bits per second: "100mbit", "1gbit", "500kbit", "10mbps" (bytes), or bare bit/s. */
export function parseRateBps(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)?$/i.exec(s.trim());
  if (m === null) throw new Error(`not a rate: '${s}'`);
  const v = Number(m[1]);
  const unit = (m[2] ?? 'bit').toLowerCase();
  const mult: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, bps: 8, kbps: 8e3, mbps: 8e6, gbps: 8e9 };
  return v * mult[unit]!;
}

/**
 * tc-netem(8) arguments ("delay 10ms 2ms loss 1% reorder 25% duplicate 1% rate 100mbit
 * limit 1000") as NetemParams; throws on anything it does not model (correlations,
 * distributions, gap, corrupt, slot…), so a test never silently gets less than it asked for.
 */
export function netemArgsToParams(args: readonly string[]): NetemParams {
  const p: NetemParams = { ...NO_IMPAIRMENT };
  const isNum = (s: string | undefined): s is string => s !== undefined && /^\d/.test(s);
  for (let i = 0; i < args.length; ) {
    const k = args[i++]!;
    const v = args[i++];
    if (v === undefined) throw new Error(`netem: '${k}' needs a value`);
    switch (k) {
      case 'delay':
        p.delayUs = parseTimeUs(v);
        if (isNum(args[i])) p.jitterUs = parseTimeUs(args[i++]!);
        break;
      case 'loss':
        p.lossPct = parsePercent(v === 'random' ? (args[i++] ?? '') : v);
        break;
      case 'reorder':
        p.reorderPct = parsePercent(v);
        break;
      case 'duplicate':
        p.duplicatePct = parsePercent(v);
        break;
      case 'rate':
        p.rateBps = parseRateBps(v);
        break;
      case 'limit':
        p.limit = Number(v);
        if (!Number.isInteger(p.limit) || p.limit < 1) throw new Error(`netem: bad limit '${v}'`);
        break;
      default:
        throw new Error(`netem: '${k}' is not modelled by the user-space relay (it does loss, delay [jitter], reorder, duplicate, rate, limit)`);
    }
    if (isNum(args[i]) && k !== 'delay') throw new Error(`netem: correlation values ('${k} ${v} ${args[i]}') are not modelled by the user-space relay`);
  }
  return p;
}

// One simulated cable: two directions, each with its own impairments and counters.
// A frame sent into a direction is, in this order: checked against the MTU, queued
// behind the frames still being serialized (tail drop when the queue is full), lost
// (independently or in Gilbert–Elliott bursts), duplicated, corrupted, delayed
// (propagation + jitter) and possibly held back so that later frames overtake it.

import type { SeededRng } from '../../rng.js';

/** What the simulator needs from its owner to deliver frames later. */
export interface FrameScheduler {
  /** Delivers `frame` through `dir` at virtual time `time` (µs). */
  schedule(time: number, dir: LinkDirection, frame: Uint8Array): void;
}

/** Something frames arrive at: a host's NIC or a switch port. */
export abstract class Port {
  /** The direction frames leave by, once connected. */
  out: LinkDirection | null = null;
  abstract arrive(frame: Uint8Array, now: number): void;
}

export interface BurstLoss {
  /** Chance per frame of going from the good to the bad state. */
  enterBad: number;
  /** Chance per frame of going from the bad back to the good state. */
  leaveBad: number;
  /** Loss probability in the bad state (the good state uses `loss`). */
  lossInBad: number;
}

export interface LinkParams {
  /** One-way propagation delay, µs. */
  delayUs: number;
  /** Extra random delay, uniform in [0, jitterUs]. Jitter never reorders frames (a frame is
   *  never delivered before one sent ahead of it); only `reorder` does. */
  jitterUs: number;
  /** Bits per second; 0 means no serialization delay and no queue. */
  bandwidthBps: number;
  /** With bandwidth: most frames waiting or being serialized; more are tail-dropped. */
  queueFrames: number;
  /** With bandwidth: most bytes waiting or being serialized (0: no byte limit). */
  queueBytes: number;
  /** Probability that a frame is lost. */
  loss: number;
  /** Gilbert–Elliott burst loss, or null for independent loss only. */
  burst: BurstLoss | null;
  /** Probability that a frame is delivered twice. */
  duplicate: number;
  /** Probability that a frame is held back by `reorderDelayUs`, letting later ones pass. */
  reorder: number;
  reorderDelayUs: number;
  /** Probability that one random bit of one random byte of the frame is flipped. */
  corrupt: number;
  /** Largest payload after the Ethernet header (and its 802.1Q/802.1ad tags); 0: no limit. */
  mtu: number;
}

export const DEFAULT_LINK: Readonly<LinkParams> = Object.freeze({
  delayUs: 10,
  jitterUs: 0,
  bandwidthBps: 0,
  queueFrames: 1000, // Linux's default txqueuelen
  queueBytes: 0,
  loss: 0,
  burst: null,
  duplicate: 0,
  reorder: 0,
  reorderDelayUs: 1000,
  corrupt: 0,
  mtu: 0,
});

/** Per-direction counters, plain numbers. `delivered` includes duplicates. */
export interface LinkCounters {
  sent: number;
  bytesSent: number;
  delivered: number;
  bytesDelivered: number;
  droppedLoss: number;
  droppedQueue: number;
  droppedMtu: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
}

/** Length of the Ethernet header including VLAN tags (IEEE 802.1Q 0x8100, 802.1ad 0x88a8). */
function ethernetHeaderLength(frame: Uint8Array): number {
  let off = 12;
  while (off + 4 <= frame.length) {
    const type = (frame[off]! << 8) | frame[off + 1]!;
    if (type !== 0x8100 && type !== 0x88a8) break;
    off += 4;
  }
  return off + 2;
}

/** FIFO of the departure times and sizes of frames not yet fully serialized (a ring). */
class TransmitQueue {
  private times = new Float64Array(16);
  private sizes = new Float64Array(16);
  private head = 0;
  length = 0;
  bytes = 0;

  /** Forgets the frames whose last bit has left by `now`. */
  drain(now: number): void {
    const mask = this.times.length - 1;
    while (this.length > 0 && this.times[this.head]! <= now) {
      this.bytes -= this.sizes[this.head]!;
      this.head = (this.head + 1) & mask;
      this.length--;
    }
  }

  push(departure: number, size: number): void {
    if (this.length === this.times.length) this.grow();
    const i = (this.head + this.length) & (this.times.length - 1);
    this.times[i] = departure;
    this.sizes[i] = size;
    this.length++;
    this.bytes += size;
  }

  private grow(): void {
    const n = this.times.length;
    const times = new Float64Array(n * 2);
    const sizes = new Float64Array(n * 2);
    for (let k = 0; k < this.length; k++) {
      times[k] = this.times[(this.head + k) & (n - 1)]!;
      sizes[k] = this.sizes[(this.head + k) & (n - 1)]!;
    }
    this.times = times;
    this.sizes = sizes;
    this.head = 0;
  }
}

/** One direction of a link. */
export class LinkDirection {
  readonly counters: LinkCounters = {
    sent: 0, bytesSent: 0, delivered: 0, bytesDelivered: 0, droppedLoss: 0, droppedQueue: 0, droppedMtu: 0,
    duplicated: 0, reordered: 0, corrupted: 0,
  };
  params: LinkParams;
  private readonly queue = new TransmitQueue();
  private busyUntil = 0;
  private lastArrival = 0;
  private inBadState = false;

  constructor(
    private readonly sim: FrameScheduler,
    readonly to: Port,
    params: LinkParams,
    private readonly rng: SeededRng,
  ) {
    this.params = { ...params };
  }

  /** Changes some parameters; frames already in flight keep their fate. */
  set(params: Partial<LinkParams>): void {
    this.params = { ...this.params, ...params };
  }

  /** Frames accepted but not yet fully serialized (0 without bandwidth). */
  queuedFrames(now: number): number {
    this.queue.drain(now);
    return this.queue.length;
  }

  /** Takes ownership of `frame`. */
  send(frame: Uint8Array, now: number): void {
    const p = this.params;
    const c = this.counters;
    c.sent++;
    c.bytesSent += frame.length;
    if (p.mtu > 0 && frame.length - ethernetHeaderLength(frame) > p.mtu) {
      c.droppedMtu++;
      return;
    }
    let departure = now;
    if (p.bandwidthBps > 0) {
      const q = this.queue;
      q.drain(now);
      if (q.length >= p.queueFrames || (p.queueBytes > 0 && q.bytes + frame.length > p.queueBytes)) {
        c.droppedQueue++;
        return;
      }
      departure = Math.max(now, this.busyUntil) + (frame.length * 8 * 1e6) / p.bandwidthBps;
      this.busyUntil = departure;
      q.push(departure, frame.length);
    }
    // Loss is decided after the queue: a lost frame still used the wire.
    let lossP = p.loss;
    if (p.burst !== null) {
      this.inBadState = this.inBadState ? !this.rng.chance(p.burst.leaveBad) : this.rng.chance(p.burst.enterBad);
      if (this.inBadState) lossP = p.burst.lossInBad;
    }
    if (this.rng.chance(lossP)) {
      c.droppedLoss++;
      return;
    }
    if (this.rng.chance(p.duplicate)) {
      c.duplicated++;
      // Its own buffer, copied before either is corrupted: a host may write into what it got.
      const copy = frame.slice();
      this.launch(frame, departure);
      this.launch(copy, departure);
    } else {
      this.launch(frame, departure);
    }
  }

  private launch(frame: Uint8Array, departure: number): void {
    const p = this.params;
    const c = this.counters;
    if (frame.length > 0 && this.rng.chance(p.corrupt)) {
      frame[this.rng.int(0, frame.length - 1)]! ^= 1 << this.rng.int(0, 7);
      c.corrupted++;
    }
    let arrival = departure + p.delayUs + (p.jitterUs > 0 ? this.rng.next() * p.jitterUs : 0);
    if (this.rng.chance(p.reorder)) {
      arrival += p.reorderDelayUs;
      c.reordered++;
    } else {
      arrival = Math.max(arrival, this.lastArrival); // jitter alone never reorders
      this.lastArrival = arrival;
    }
    this.sim.schedule(arrival, this, frame);
  }

  /** Called by the simulator when a frame arrives. */
  deliver(frame: Uint8Array, now: number): void {
    this.counters.delivered++;
    this.counters.bytesDelivered += frame.length;
    this.to.arrive(frame, now);
  }
}

/** A link between two ports, with a direction each way (`ab`: from the first port given to connect). */
export class SimLink {
  constructor(
    readonly ab: LinkDirection,
    readonly ba: LinkDirection,
  ) {}
  set(dir: 'ab' | 'ba' | 'both', params: Partial<LinkParams>): void {
    if (dir !== 'ba') this.ab.set(params);
    if (dir !== 'ab') this.ba.set(params);
  }
}

// The deterministic network simulator: hosts (anything with the Stack contract of
// DESIGN.md, `receive(frame, now)` and `poll(now) -> next deadline`), point-to-point
// links whose two directions each have their own impairments, and learning switches.
// Time is virtual (microseconds); all randomness comes from one seeded PRNG, so a run
// is replayed exactly from its seed.

import { SeededRng } from '../../rng.js';
import { EventQueue } from './event-queue.js';

/** What the simulator drives: the protocol stack's contract. */
export interface SimHost {
  receive(frame: Uint8Array, now: number): void;
  /** Runs timers; returns the next deadline in µs (Infinity: none). */
  poll(now: number): number;
}

/** Receives every delivered frame, e.g. a PcapWriter. */
export interface FrameCapture {
  write(frame: Uint8Array, timeUs: number): void;
}

export interface LinkParams {
  /** One-way propagation delay, µs. */
  delayUs: number;
  /** Extra random delay, uniform in [0, jitterUs]; frames stay in order unless reordered. */
  jitterUs: number;
  /** Bits per second; 0 means no serialization delay and no queue. */
  bandwidthBps: number;
  /** Transmit queue limit in frames (with bandwidth); beyond it frames are tail-dropped. */
  queueFrames: number;
  /** Probability that a frame is lost. */
  loss: number;
  /** Gilbert–Elliott burst loss: chance per frame of entering / leaving the bad state, and loss in it. */
  burst: { enterBad: number; leaveBad: number; lossInBad: number } | null;
  /** Probability that a frame is delivered twice. */
  duplicate: number;
  /** Probability that a frame is held back by `reorderDelayUs`, letting later ones pass. */
  reorder: number;
  reorderDelayUs: number;
  /** Probability that one random bit of the frame is flipped. */
  corrupt: number;
  /** Largest frame payload (bytes after the 14-byte Ethernet header); 0 means no limit. */
  mtu: number;
}

export const DEFAULT_LINK: Readonly<LinkParams> = Object.freeze({
  delayUs: 10,
  jitterUs: 0,
  bandwidthBps: 0,
  queueFrames: 1000,
  loss: 0,
  burst: null,
  duplicate: 0,
  reorder: 0,
  reorderDelayUs: 1000,
  corrupt: 0,
  mtu: 0,
});

export interface LinkCounters {
  sent: number;
  delivered: number;
  bytesDelivered: number;
  droppedLoss: number;
  droppedQueue: number;
  droppedMtu: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
}

const ETHERNET_HEADER = 14;

/** Something frames arrive at: a host's NIC or a switch port. */
abstract class Port {
  /** The direction frames leave by, once connected. */
  out: LinkDirection | null = null;
  abstract arrive(frame: Uint8Array, now: number): void;
}

/** One direction of a link. */
export class LinkDirection {
  readonly counters: LinkCounters = {
    sent: 0, delivered: 0, bytesDelivered: 0, droppedLoss: 0, droppedQueue: 0, droppedMtu: 0, duplicated: 0, reordered: 0, corrupted: 0,
  };
  params: LinkParams;
  private busyUntil = 0;
  private lastArrival = 0;
  private inBadState = false;
  /** Departure times of frames still being serialized (FIFO). */
  private departures: number[] = [];

  constructor(
    private readonly sim: SimNetwork,
    readonly to: Port,
    params: LinkParams,
    private readonly rng: SeededRng,
  ) {
    this.params = { ...params };
  }

  set(params: Partial<LinkParams>): void {
    this.params = { ...this.params, ...params };
  }

  send(frame: Uint8Array, now: number): void {
    const p = this.params;
    const c = this.counters;
    c.sent++;
    if (p.mtu > 0 && frame.length - ETHERNET_HEADER > p.mtu) {
      c.droppedMtu++;
      return;
    }
    let departure = now;
    if (p.bandwidthBps > 0) {
      while (this.departures.length && this.departures[0]! <= now) this.departures.shift();
      if (this.departures.length >= p.queueFrames) {
        c.droppedQueue++;
        return;
      }
      departure = Math.max(now, this.busyUntil) + (frame.length * 8 * 1e6) / p.bandwidthBps;
      this.busyUntil = departure;
      this.departures.push(departure);
    }
    // Loss is decided after the queue: a lost frame still used the wire.
    let lossP = p.loss;
    if (p.burst) {
      this.inBadState = this.inBadState ? !this.rng.chance(p.burst.leaveBad) : this.rng.chance(p.burst.enterBad);
      if (this.inBadState) lossP = p.burst.lossInBad;
    }
    if (this.rng.chance(lossP)) {
      c.droppedLoss++;
      return;
    }
    const copies = this.rng.chance(p.duplicate) ? 2 : 1;
    if (copies === 2) c.duplicated++;
    for (let k = 0; k < copies; k++) {
      let data = frame;
      if (this.rng.chance(p.corrupt)) {
        data = frame.slice();
        const bit = this.rng.int(0, data.length * 8 - 1);
        data[bit >>> 3]! ^= 1 << (bit & 7);
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
      this.sim.schedule(arrival, this, data);
    }
  }

  /** Called by the simulator when a frame arrives. */
  deliver(frame: Uint8Array, now: number): void {
    this.counters.delivered++;
    this.counters.bytesDelivered += frame.length;
    this.sim.captureFrame(frame, now);
    this.to.arrive(frame, now);
  }
}

/** A host's network interface in the simulation. */
export class SimNic extends Port {
  /** Deadline of the poll currently scheduled (Infinity: none). */
  pollAt = Infinity;
  constructor(
    private readonly sim: SimNetwork,
    readonly name: string,
    readonly host: SimHost,
  ) {
    super();
  }
  /** Sends a frame at the current virtual time; the simulator keeps its own copy. */
  transmit(frame: Uint8Array): void {
    if (this.out === null) throw new Error(`sim: NIC ${this.name} is not connected`);
    this.out.send(frame.slice(), this.sim.now);
  }
  arrive(frame: Uint8Array, now: number): void {
    this.host.receive(frame, now);
    this.sim.pollHost(this, now);
  }
  /**
   * Polls the host now and schedules its next deadline. Call after acting on a host from
   * outside the simulation (a test calling an API), since that may have armed a timer,
   * as a real poll loop would notice on its next turn.
   */
  wake(): void {
    this.sim.pollHost(this, this.sim.now);
  }
}

/** A learning switch (IEEE 802.1D): learns source MACs, floods unknown and group destinations. */
export class SimSwitch {
  readonly ports: SwitchPort[] = [];
  /** MAC (as a 48-bit number) → port index. */
  readonly table = new Map<number, number>();
  flooded = 0;
  forwarded = 0;
  constructor(readonly name: string) {}
  /** A new port to connect a NIC (or another switch's port) to. */
  port(): SwitchPort {
    const p = new SwitchPort(this, this.ports.length);
    this.ports.push(p);
    return p;
  }
  forward(from: number, frame: Uint8Array, now: number): void {
    if (frame.length < ETHERNET_HEADER) return;
    const src = macKey(frame, 6);
    if ((frame[6]! & 1) === 0) this.table.set(src, from);
    const known = (frame[0]! & 1) === 0 ? this.table.get(macKey(frame, 0)) : undefined;
    if (known !== undefined) {
      if (known !== from) {
        this.forwarded++;
        this.ports[known]!.out?.send(frame, now);
      }
      return;
    }
    this.flooded++;
    for (const p of this.ports) if (p.index !== from) p.out?.send(frame, now);
  }
}

export class SwitchPort extends Port {
  constructor(
    readonly sw: SimSwitch,
    readonly index: number,
  ) {
    super();
  }
  arrive(frame: Uint8Array, now: number): void {
    this.sw.forward(this.index, frame, now);
  }
}

function macKey(b: Uint8Array, o: number): number {
  return ((b[o]! << 8) | b[o + 1]!) * 0x100000000 + (((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0);
}

/** A link between two ports, with a direction each way. */
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

type SimEvent = { dir: LinkDirection; frame: Uint8Array } | { nic: SimNic };

export interface RunLimits {
  /** Stop after this many events. */
  maxEvents: number;
  /** Stop when virtual time would pass this. */
  maxTimeUs: number;
}

export class SimNetwork {
  readonly rng: SeededRng;
  now = 0;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly captures: FrameCapture[] = [];
  readonly nics: SimNic[] = [];
  readonly links: SimLink[] = [];

  constructor(readonly seed: number) {
    this.rng = new SeededRng(seed);
  }

  addHost(name: string, host: SimHost): SimNic {
    const nic = new SimNic(this, name, host);
    this.nics.push(nic);
    this.pollHost(nic, this.now); // let it start (send its first frames, arm timers)
    return nic;
  }

  addSwitch(name: string): SimSwitch {
    return new SimSwitch(name);
  }

  /** Joins two ports; `params` for both directions, or `{ab, ba}` for each. */
  connect(a: Port, b: Port, params: Partial<LinkParams> | { ab: Partial<LinkParams>; ba: Partial<LinkParams> } = {}): SimLink {
    if (a.out || b.out) throw new Error('sim: port already connected');
    const both = 'ab' in params || 'ba' in params;
    const pab = { ...DEFAULT_LINK, ...(both ? (params as { ab: Partial<LinkParams> }).ab : params) };
    const pba = { ...DEFAULT_LINK, ...(both ? (params as { ba: Partial<LinkParams> }).ba : params) };
    const n = this.links.length;
    const link = new SimLink(
      new LinkDirection(this, b, pab, this.rng.fork(`link${n}ab`)),
      new LinkDirection(this, a, pba, this.rng.fork(`link${n}ba`)),
    );
    a.out = link.ab;
    b.out = link.ba;
    this.links.push(link);
    return link;
  }

  /** Every delivered frame is written here, stamped with its arrival time. */
  capture(writer: FrameCapture): void {
    this.captures.push(writer);
  }

  /** @internal */
  captureFrame(frame: Uint8Array, now: number): void {
    for (const c of this.captures) c.write(frame, now);
  }

  /** @internal */
  schedule(time: number, dir: LinkDirection, frame: Uint8Array): void {
    this.queue.push(time, { dir, frame });
  }

  /** @internal Polls a host now and schedules its next deadline. */
  pollHost(nic: SimNic, now: number): void {
    const next = nic.host.poll(now);
    if (Number.isFinite(next) && next < nic.pollAt) {
      nic.pollAt = Math.max(next, now);
      this.queue.push(nic.pollAt, { nic });
    } else if (!Number.isFinite(next)) {
      nic.pollAt = Infinity;
    }
  }

  /** Runs every event up to and including `timeUs`, then sets the clock to it. */
  runUntil(timeUs: number, maxEvents = 10_000_000): number {
    let n = 0;
    while (this.queue.size && this.queue.peekTime() <= timeUs && n < maxEvents) {
      this.step();
      n++;
    }
    if (n < maxEvents) this.now = Math.max(this.now, timeUs);
    return n;
  }

  /** Runs until nothing is scheduled, or a limit is reached. */
  runUntilIdle(limits: Partial<RunLimits> = {}): { events: number; idle: boolean } {
    const maxEvents = limits.maxEvents ?? 1_000_000;
    const maxTime = limits.maxTimeUs ?? Infinity;
    let n = 0;
    while (this.queue.size && n < maxEvents && this.queue.peekTime() <= maxTime) {
      this.step();
      n++;
    }
    return { events: n, idle: this.queue.size === 0 };
  }

  private step(): void {
    const t = this.queue.peekTime();
    const ev = this.queue.pop();
    this.now = t;
    if ('nic' in ev) {
      if (ev.nic.pollAt !== t) return; // superseded by an earlier deadline
      ev.nic.pollAt = Infinity;
      this.pollHost(ev.nic, t);
    } else {
      ev.dir.deliver(ev.frame, t);
    }
  }
}

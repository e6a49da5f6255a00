// The deterministic network simulator: hosts (anything with the Stack contract of
// DESIGN.md, `receive(frame, now)` and `poll(now) -> next deadline`), point-to-point
// links whose two directions each have their own impairments (link.ts), and learning
// switches (switch.ts). Time is virtual (µs); events run in (time, insertion) order;
// all randomness comes from one seeded PRNG, forked per link, so a run is replayed
// exactly from its seed.

import { SeededRng } from '../../rng.js';
import { EventQueue } from './event-queue.js';
import { DEFAULT_LINK, LinkDirection, Port, SimLink, type FrameScheduler, type LinkParams } from './link.js';
import { SimSwitch, type SwitchOptions } from './switch.js';

export { DEFAULT_LINK, LinkDirection, Port, SimLink, type BurstLoss, type LinkCounters, type LinkParams } from './link.js';
export { SimSwitch, SwitchPort, type SwitchCounters, type SwitchOptions } from './switch.js';

/** What the simulator drives: the protocol stack's contract. */
export interface SimHost {
  receive(frame: Uint8Array, now: number): void;
  /** Runs timers; returns the next deadline in µs (Infinity: none). */
  poll(now: number): number;
}

/** Receives captured frames, e.g. a PcapWriter (it must copy what it keeps). */
export interface FrameCapture {
  write(frame: Uint8Array, timeUs: number): void;
}

/**
 * Where a capture sees frames. 'receive' (the default): every frame a host's NIC receives,
 * as received (corrupted, duplicated), at its arrival time — tcpdump inbound on every
 * host; a frame flooded by a switch appears once per host that gets it. 'transmit':
 * every frame a host transmits, once, at its send time, whatever the links then do to it.
 */
export type CapturePoint = 'receive' | 'transmit';

export interface HostOptions {
  /** The NIC's MAC address, for hosts and tests that want to read it back. */
  mac: Uint8Array;
}

/** A host's network interface in the simulation. */
export class SimNic extends Port {
  /** Deadline of the poll currently scheduled (Infinity: none). */
  pollAt = Infinity;
  /** Frames transmitted while no link was connected (a NIC without a cable). */
  droppedUnconnected = 0;
  readonly mac: Uint8Array | null;

  constructor(
    private readonly sim: SimNetwork,
    readonly name: string,
    readonly host: SimHost,
    mac: Uint8Array | null,
  ) {
    super();
    this.mac = mac;
  }

  /** Sends a frame at the current virtual time; the simulator copies it, so the caller may reuse its buffer. */
  transmit(frame: Uint8Array): void {
    const copy = frame.slice();
    this.sim.captureFrame('transmit', copy, this.sim.now);
    if (this.out === null) {
      this.droppedUnconnected++;
      return;
    }
    this.out.send(copy, this.sim.now);
  }

  arrive(frame: Uint8Array, now: number): void {
    this.sim.captureFrame('receive', frame, now);
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

/** A scheduled event: a frame arriving through a link direction, or a host's poll. Fixed shape, pooled. */
class SimEvent {
  dir: LinkDirection | null = null;
  frame: Uint8Array | null = null;
  nic: SimNic | null = null;
}

export interface RunLimits {
  /** Stop after this many events. */
  maxEvents: number;
  /** Do not run events later than this virtual time. */
  maxTimeUs: number;
}

export interface RunResult {
  events: number;
  /** True when nothing is left to run. */
  idle: boolean;
}

export class SimNetwork implements FrameScheduler {
  readonly rng: SeededRng;
  /** Virtual time, µs. */
  now = 0;
  readonly nics: SimNic[] = [];
  readonly links: SimLink[] = [];
  readonly switches: SimSwitch[] = [];
  private readonly queue = new EventQueue<SimEvent>();
  private readonly pool: SimEvent[] = [];
  private readonly receiveCaptures: FrameCapture[] = [];
  private readonly transmitCaptures: FrameCapture[] = [];

  constructor(readonly seed: number) {
    this.rng = new SeededRng(seed);
  }

  /** Adds a host; its first poll runs at the current time, once the simulation runs. */
  addHost(name: string, host: SimHost, options: Partial<HostOptions> = {}): SimNic {
    const nic = new SimNic(this, name, host, options.mac ?? null);
    this.nics.push(nic);
    nic.pollAt = this.now;
    this.push(this.now, null, null, nic);
    return nic;
  }

  addSwitch(name: string, options: Partial<SwitchOptions> = {}): SimSwitch {
    const sw = new SimSwitch(name, options);
    this.switches.push(sw);
    return sw;
  }

  /** Joins two ports; `params` for both directions, or `{ ab, ba }` for each (ab: a → b). */
  connect(a: Port, b: Port, params: Partial<LinkParams> | { ab: Partial<LinkParams>; ba: Partial<LinkParams> } = {}): SimLink {
    if (a.out !== null || b.out !== null) throw new Error('sim: port already connected');
    if (a === b) throw new Error('sim: cannot connect a port to itself');
    const perDir = 'ab' in params || 'ba' in params;
    const ab = perDir ? (params as { ab?: Partial<LinkParams> }).ab : (params as Partial<LinkParams>);
    const ba = perDir ? (params as { ba?: Partial<LinkParams> }).ba : (params as Partial<LinkParams>);
    const n = this.links.length;
    const link = new SimLink(
      new LinkDirection(this, b, { ...DEFAULT_LINK, ...ab }, this.rng.fork(`link${n}ab`)),
      new LinkDirection(this, a, { ...DEFAULT_LINK, ...ba }, this.rng.fork(`link${n}ba`)),
    );
    a.out = link.ab;
    b.out = link.ba;
    this.links.push(link);
    return link;
  }

  /** Writes every frame seen at `point` (see CapturePoint) to `writer`, stamped with the virtual time. */
  capture(writer: FrameCapture, point: CapturePoint = 'receive'): void {
    (point === 'receive' ? this.receiveCaptures : this.transmitCaptures).push(writer);
  }

  /** @internal */
  captureFrame(point: CapturePoint, frame: Uint8Array, now: number): void {
    const list = point === 'receive' ? this.receiveCaptures : this.transmitCaptures;
    for (let i = 0; i < list.length; i++) list[i]!.write(frame, now);
  }

  /** @internal */
  schedule(time: number, dir: LinkDirection, frame: Uint8Array): void {
    this.push(time, dir, frame, null);
  }

  /** @internal Polls a host now and schedules its next deadline. */
  pollHost(nic: SimNic, now: number): void {
    const next = nic.host.poll(now);
    if (!(next < Infinity)) {
      nic.pollAt = Infinity; // no timer (NaN counts as none); a scheduled poll becomes stale
    } else if (next < nic.pollAt) {
      nic.pollAt = Math.max(next, now);
      this.push(nic.pollAt, null, null, nic);
    }
  }

  /** Events waiting to run (stale polls included). */
  get pending(): number {
    return this.queue.size;
  }

  /** Time of the next event, or Infinity. */
  get nextEventTime(): number {
    return this.queue.peekTime();
  }

  /** Runs every event up to and including `timeUs`, then sets the clock to it (unless `maxEvents` stopped it first). */
  runUntil(timeUs: number, maxEvents = 10_000_000): number {
    let n = 0;
    while (n < maxEvents && this.queue.size > 0 && this.queue.peekTime() <= timeUs) {
      this.step();
      n++;
    }
    if (n < maxEvents || this.queue.peekTime() > timeUs) this.now = Math.max(this.now, timeUs);
    return n;
  }

  /** Runs until nothing is scheduled, or `maxEvents` ran (default 1,000,000), or the next event is after `maxTimeUs`. */
  runUntilIdle(limits: Partial<RunLimits> = {}): RunResult {
    const maxEvents = limits.maxEvents ?? 1_000_000;
    const maxTime = limits.maxTimeUs ?? Infinity;
    let n = 0;
    while (n < maxEvents && this.queue.size > 0 && this.queue.peekTime() <= maxTime) {
      this.step();
      n++;
    }
    return { events: n, idle: this.queue.size === 0 };
  }

  private push(time: number, dir: LinkDirection | null, frame: Uint8Array | null, nic: SimNic | null): void {
    const ev = this.pool.pop() ?? new SimEvent();
    ev.dir = dir;
    ev.frame = frame;
    ev.nic = nic;
    this.queue.push(time, ev);
  }

  private step(): void {
    const t = this.queue.peekTime();
    const ev = this.queue.pop();
    const { dir, frame, nic } = ev;
    ev.dir = null;
    ev.frame = null;
    ev.nic = null;
    this.pool.push(ev);
    this.now = t;
    if (nic !== null) {
      if (nic.pollAt !== t) return; // superseded by an earlier deadline, or cancelled
      nic.pollAt = Infinity;
      this.pollHost(nic, t);
    } else {
      dir!.deliver(frame!, t);
    }
  }
}

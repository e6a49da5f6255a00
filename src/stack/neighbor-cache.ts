// Neighbour cache for ARP (RFC 826) and NDP (RFC 4861 §7.3) with Linux's NUD states (net/core/neighbour.c):
// INCOMPLETE while resolving (broadcast requests, packets queued), REACHABLE after a
// reply, STALE once reachable_time passes, DELAY when a STALE entry is used, PROBE
// (unicast requests) when DELAY expires, FAILED when probes go unanswered.
// Pure state: time comes in as `now` (µs); the cache emits requests through a callback.
// Keys are protocol addresses in a form usable as a Map key: the IPv4 address as a number,
// an IPv6 address as its string form (see ipv6Key).

import type { MacAddress } from '../wire/address.js';
import type { SeededRng } from '../rng.js';

export const NudState = {
  Incomplete: 'INCOMPLETE',
  Reachable: 'REACHABLE',
  Stale: 'STALE',
  Delay: 'DELAY',
  Probe: 'PROBE',
  Failed: 'FAILED',
  Permanent: 'PERMANENT',
} as const;
export type NudState = (typeof NudState)[keyof typeof NudState];

/** Linux defaults (Documentation/networking/ip-sysctl.rst, neigh/default/*). */
export interface NeighborParams {
  /** base_reachable_time: 30 s; the actual time is uniform in [0.5, 1.5] × base. */
  baseReachableUs: number;
  /** retrans_time: 1 s between requests. */
  retransUs: number;
  /** delay_first_probe_time: 5 s. */
  delayFirstProbeUs: number;
  /** mcast_solicit: 3 broadcast requests while INCOMPLETE. */
  multicastProbes: number;
  /** ucast_solicit: 3 unicast requests in PROBE. */
  unicastProbes: number;
  /** unres_qlen: packets queued per unresolved neighbour (oldest dropped first). */
  queueLength: number;
  /** gc_thresh3: hard bound on entries. */
  maxEntries: number;
}

export const LINUX_NEIGHBOR_DEFAULTS: Readonly<NeighborParams> = Object.freeze({
  baseReachableUs: 30_000_000,
  retransUs: 1_000_000,
  delayFirstProbeUs: 5_000_000,
  multicastProbes: 3,
  unicastProbes: 3,
  queueLength: 101, // Linux derives it from unres_qlen_bytes (212992) / truesize of a full frame
  maxEntries: 1024,
});

export class NeighborEntry<K = number> {
  state: NudState = NudState.Incomplete;
  mac: MacAddress = new Uint8Array(6);
  /** Requests sent in the current INCOMPLETE or PROBE phase. */
  probes = 0;
  /** When the current state's timer fires (µs); Infinity: none. */
  timerAt = Infinity;
  /** Frames waiting for resolution, each an IPv4 packet without its Ethernet header. */
  readonly queue: Uint8Array[] = [];
  /** NDP: the neighbour said it is a router (the NA's R flag, RFC 4861 §7.2.5). */
  isRouter = false;
  constructor(readonly ip: K) {}
}

export interface NeighborEvents<K = number> {
  /** Send an ARP request for `ip`; `unicastTo` set in PROBE (RFC 1122 §2.3.2.1), else broadcast. */
  solicit(ip: K, unicastTo: MacAddress | null): void;
  /** Resolution succeeded: send what was queued. */
  resolved(entry: NeighborEntry<K>): void;
  /** Resolution failed: the queued packets are dropped (sockets see EHOSTUNREACH). */
  failed(ip: K, dropped: number, packets: readonly Uint8Array[]): void;
  /** The queue of a neighbour being resolved was full: its oldest packet was dropped (Linux's unresolved_discards). */
  queueOverflow?(ip: K): void;
}

export class NeighborCache<K = number> {
  readonly entries = new Map<K, NeighborEntry<K>>();
  readonly params: NeighborParams;
  /** Counters, for stats. */
  droppedQueueFull = 0;
  droppedTableFull = 0;

  constructor(
    private readonly rng: SeededRng,
    private readonly events: NeighborEvents<K>,
    params: Partial<NeighborParams> = {},
  ) {
    this.params = { ...LINUX_NEIGHBOR_DEFAULTS, ...params };
  }

  private reachableTime(): number {
    // Linux: neigh_rand_reach_time(), uniform in [base/2, 3·base/2).
    return Math.floor(this.params.baseReachableUs * (0.5 + this.rng.next()));
  }

  /** Adds a static entry that never expires (`ip neigh add … nud permanent`). */
  addStatic(ip: K, mac: MacAddress): void {
    const e = this.entries.get(ip) ?? new NeighborEntry<K>(ip);
    e.state = NudState.Permanent;
    e.mac = Uint8Array.from(mac);
    e.timerAt = Infinity;
    this.entries.set(ip, e);
    this.flush(e);
  }

  /**
   * The MAC for `ip` if a packet can go now, without queueing anything (the hot path);
   * null when `resolve` must be called to queue the packet and start resolution.
   */
  lookup(ip: K, now: number): MacAddress | null {
    const e = this.entries.get(ip);
    if (e === undefined || e.state === NudState.Incomplete || e.state === NudState.Failed) return null;
    if (e.state === NudState.Stale) {
      e.state = NudState.Delay;
      e.timerAt = now + this.params.delayFirstProbeUs;
    }
    return e.mac;
  }

  /**
   * Looks up the MAC for `ip` to send `packet`. Returns the MAC when the packet can go now;
   * otherwise queues it (starting resolution if needed) and returns null.
   */
  resolve(ip: K, packet: Uint8Array, now: number): MacAddress | null {
    let e = this.entries.get(ip);
    if (e === undefined || e.state === NudState.Failed) {
      if (e === undefined) {
        if (this.entries.size >= this.params.maxEntries && !this.evictOne()) {
          this.droppedTableFull++;
          this.events.failed(ip, 1, [packet]);
          return null;
        }
        e = new NeighborEntry<K>(ip);
        this.entries.set(ip, e);
      }
      e.state = NudState.Incomplete;
      e.probes = 1;
      e.timerAt = now + this.params.retransUs;
      this.enqueue(e, packet);
      this.events.solicit(ip, null);
      return null;
    }
    switch (e.state) {
      case NudState.Incomplete:
        this.enqueue(e, packet);
        return null;
      case NudState.Stale:
        // RFC 4861 §7.3.3 / Linux: using a STALE entry sends at once and starts DELAY.
        e.state = NudState.Delay;
        e.timerAt = now + this.params.delayFirstProbeUs;
        return e.mac;
      default:
        return e.mac;
    }
  }

  /**
   * A packet told us where `ip` is. `solicited`: it answered our request (an ARP reply to
   * us, an NA with S set), which confirms reachability; otherwise it only says where the
   * sender is. `create`: make an entry if none exists (Linux does for requests aimed at us
   * and for NS/RA with a source link-layer option). `override` (RFC 4861 §7.2.5, the NA's
   * O flag; ARP always overrides): when clear, a different MAC does not replace a known
   * one — a REACHABLE entry only becomes STALE.
   */
  learn(ip: K, mac: MacAddress, now: number, solicited: boolean, create: boolean, override = true): void {
    let e = this.entries.get(ip);
    if (e === undefined) {
      if (!create) return;
      if (this.entries.size >= this.params.maxEntries && !this.evictOne()) {
        this.droppedTableFull++;
        return;
      }
      e = new NeighborEntry<K>(ip);
      this.entries.set(ip, e);
    }
    if (e.state === NudState.Permanent) return;
    const changed = !sameMac(e.mac, mac);
    const wasUnresolved = e.state === NudState.Incomplete || e.state === NudState.Failed;
    if (!override && changed && !wasUnresolved) {
      if (e.state === NudState.Reachable) {
        e.state = NudState.Stale;
        e.timerAt = Infinity;
      }
      return;
    }
    if (changed || wasUnresolved) e.mac = Uint8Array.from(mac);
    if (solicited) {
      e.state = NudState.Reachable;
      e.timerAt = now + this.reachableTime();
    } else if (wasUnresolved || changed) {
      e.state = NudState.Stale;
      e.timerAt = Infinity;
    }
    e.probes = 0;
    if (e.queue.length) this.flush(e);
  }

  /**
   * Upper-layer confirmation of reachability (RFC 4861 §7.3.1, Linux's neigh_confirm),
   * e.g. TCP acknowledging new data: the entry becomes REACHABLE without a probe.
   */
  confirm(ip: K, now: number): void {
    const e = this.entries.get(ip);
    if (e === undefined || e.state === NudState.Permanent || e.state === NudState.Incomplete || e.state === NudState.Failed) return;
    e.state = NudState.Reachable;
    e.timerAt = now + this.reachableTime();
  }

  /** `ip neigh del`; queued packets are dropped. */
  remove(ip: K): boolean {
    const e = this.entries.get(ip);
    if (e === undefined) return false;
    e.queue.length = 0;
    return this.entries.delete(ip);
  }

  /** Runs the timers due at `now`; returns the next deadline. */
  poll(now: number): number {
    let next = Infinity;
    for (const e of this.entries.values()) {
      if (e.timerAt <= now) this.expire(e, now);
      if (e.timerAt < next) next = e.timerAt;
    }
    return next;
  }

  private expire(e: NeighborEntry<K>, now: number): void {
    const p = this.params;
    switch (e.state) {
      case NudState.Incomplete:
        if (e.probes < p.multicastProbes) {
          e.probes++;
          e.timerAt = now + p.retransUs;
          this.events.solicit(e.ip, null);
        } else this.fail(e);
        break;
      case NudState.Reachable:
        e.state = NudState.Stale;
        e.timerAt = Infinity;
        break;
      case NudState.Delay:
        e.state = NudState.Probe;
        e.probes = 1;
        e.timerAt = now + p.retransUs;
        this.events.solicit(e.ip, e.mac);
        break;
      case NudState.Probe:
        if (e.probes < p.unicastProbes) {
          e.probes++;
          e.timerAt = now + p.retransUs;
          this.events.solicit(e.ip, e.mac);
        } else this.fail(e);
        break;
      default:
        e.timerAt = Infinity;
    }
  }

  private fail(e: NeighborEntry<K>): void {
    const packets = e.queue.splice(0);
    e.state = NudState.Failed;
    e.timerAt = Infinity;
    this.entries.delete(e.ip);
    this.events.failed(e.ip, packets.length, packets);
  }

  private enqueue(e: NeighborEntry<K>, packet: Uint8Array): void {
    if (e.queue.length >= this.params.queueLength) {
      e.queue.shift(); // Linux drops the oldest (__neigh_event_send)
      this.droppedQueueFull++;
      this.events.queueOverflow?.(e.ip);
    }
    e.queue.push(packet.slice());
  }

  private flush(e: NeighborEntry<K>): void {
    this.events.resolved(e);
    e.queue.length = 0;
  }

  /** Frees one non-permanent entry that is not being resolved (Linux's forced GC). */
  private evictOne(): boolean {
    for (const [ip, e] of this.entries) {
      if (e.state === NudState.Stale || e.state === NudState.Failed) {
        this.entries.delete(ip);
        return true;
      }
    }
    return false;
  }
}

function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}

// A learning switch (IEEE 802.1D-2004 §7.8, §7.9): learns each unicast source MAC on the
// port it came from, forwards unicast to the learned port, floods unknown unicast and
// every group address (I/G bit set, which includes broadcast) to all other ports, and
// filters frames whose destination sits on the port they came from. Entries age out.

import { Port } from './link.js';

const ETHERNET_HEADER = 14;

export interface SwitchOptions {
  /** Forget a MAC not seen as a source for this long, µs (802.1D §7.9.2: default 300 s). */
  ageingUs: number;
}

export interface SwitchCounters {
  /** Frames sent to every other port (unknown unicast or group destination). */
  flooded: number;
  /** Frames sent to the one learned port. */
  forwarded: number;
  /** Frames dropped because their destination is on the port they came from. */
  filtered: number;
  /** Frames too short to carry an Ethernet header. */
  runts: number;
  /** Table entries that expired. */
  aged: number;
}

export class SimSwitch {
  readonly ports: SwitchPort[] = [];
  readonly counters: SwitchCounters = { flooded: 0, forwarded: 0, filtered: 0, runts: 0, aged: 0 };
  readonly ageingUs: number;
  /** MAC (as a 48-bit number) → port index. */
  private readonly portOf = new Map<number, number>();
  /** MAC → when it was last seen as a source, µs. */
  private readonly seenAt = new Map<number, number>();

  constructor(
    readonly name: string,
    options: Partial<SwitchOptions> = {},
  ) {
    this.ageingUs = options.ageingUs ?? 300e6;
  }

  /** Kept for readers of the first API: same as counters.flooded / counters.forwarded. */
  get flooded(): number {
    return this.counters.flooded;
  }
  get forwarded(): number {
    return this.counters.forwarded;
  }

  /** A new port to connect a NIC (or another switch's port) to. */
  port(): SwitchPort {
    const p = new SwitchPort(this, this.ports.length);
    this.ports.push(p);
    return p;
  }

  /** The port a MAC was learned on at time `now`, or -1. */
  lookup(mac: Uint8Array, now: number): number {
    return this.find(macKey(mac, 0), now);
  }

  /** Number of MACs in the table (including ones that would age out at the next lookup). */
  get tableSize(): number {
    return this.portOf.size;
  }

  forward(from: number, frame: Uint8Array, now: number): void {
    if (frame.length < ETHERNET_HEADER) {
      this.counters.runts++;
      return;
    }
    if ((frame[6]! & 1) === 0) {
      const src = macKey(frame, 6);
      this.portOf.set(src, from);
      this.seenAt.set(src, now);
    }
    const known = (frame[0]! & 1) === 0 ? this.find(macKey(frame, 0), now) : -1;
    if (known >= 0) {
      if (known === from) {
        this.counters.filtered++;
      } else {
        this.counters.forwarded++;
        this.ports[known]!.out?.send(frame, now);
      }
      return;
    }
    this.counters.flooded++;
    let last = -1;
    for (let i = 0; i < this.ports.length; i++) if (i !== from && this.ports[i]!.out !== null) last = i;
    // Each port gets its own copy (a link may corrupt it in place); the last takes the original.
    for (let i = 0; i < last; i++) if (i !== from) this.ports[i]!.out?.send(frame.slice(), now);
    if (last >= 0) this.ports[last]!.out!.send(frame, now);
  }

  private find(key: number, now: number): number {
    const port = this.portOf.get(key);
    if (port === undefined) return -1;
    if (now - this.seenAt.get(key)! > this.ageingUs) {
      this.portOf.delete(key);
      this.seenAt.delete(key);
      this.counters.aged++;
      return -1;
    }
    return port;
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

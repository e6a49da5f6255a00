// Minimal hosts for simulator tests: they speak raw Ethernet frames, no protocol stack.

import type { SimHost, SimNic } from '../../src/link/sim/network.js';

export const ETHERTYPE_TEST = 0x88b5; // IEEE 802 local experimental EtherType

export function macOf(n: number): Uint8Array {
  return Uint8Array.from([0x02, 0, 0, 0, 0, n]);
}

/** Builds a frame dst←src with a 4-byte sequence number and `size` total bytes. */
export function testFrame(dst: Uint8Array, src: Uint8Array, seq: number, size = 64): Uint8Array {
  const f = new Uint8Array(Math.max(size, 18));
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = ETHERTYPE_TEST >>> 8;
  f[13] = ETHERTYPE_TEST & 0xff;
  f[14] = seq >>> 24; f[15] = (seq >>> 16) & 0xff; f[16] = (seq >>> 8) & 0xff; f[17] = seq & 0xff;
  return f;
}

export function seqOf(frame: Uint8Array): number {
  return ((frame[14]! << 24) | (frame[15]! << 16) | (frame[16]! << 8) | frame[17]!) >>> 0;
}

/** Sends `count` frames to `dst`, one every `intervalUs`, and records what comes back. */
export class Pinger implements SimHost {
  nic: SimNic | null = null;
  sent = 0;
  received: Array<{ seq: number; at: number; frame: Uint8Array }> = [];
  private nextAt = 0;
  constructor(
    readonly mac: Uint8Array,
    readonly dst: Uint8Array,
    readonly count: number,
    readonly intervalUs: number,
    readonly size = 64,
  ) {}
  receive(frame: Uint8Array, now: number): void {
    this.received.push({ seq: seqOf(frame), at: now, frame });
  }
  poll(now: number): number {
    if (this.nic === null) return Infinity; // give it its NIC before running the simulation
    while (this.sent < this.count && now >= this.nextAt) {
      this.nic.transmit(testFrame(this.dst, this.mac, this.sent, this.size));
      this.sent++;
      this.nextAt = now + this.intervalUs;
    }
    return this.sent < this.count ? this.nextAt : Infinity;
  }
}

/** Sends every frame back to its source, and counts. */
export class Echoer implements SimHost {
  nic: SimNic | null = null;
  received: Array<{ seq: number; at: number }> = [];
  constructor(readonly mac: Uint8Array) {}
  receive(frame: Uint8Array, now: number): void {
    this.received.push({ seq: seqOf(frame), at: now });
    if (this.nic === null || (frame[0]! & 1) === 1) return; // never answer group frames
    const reply = frame.slice();
    reply.set(frame.subarray(6, 12), 0);
    reply.set(this.mac, 6);
    this.nic.transmit(reply);
  }
  poll(): number {
    return Infinity;
  }
}

/** Records everything it receives (keeping its own copy); sends nothing. */
export class Sink implements SimHost {
  frames: Array<{ at: number; frame: Uint8Array }> = [];
  receive(frame: Uint8Array, now: number): void {
    this.frames.push({ at: now, frame: frame.slice() });
  }
  poll(): number {
    return Infinity;
  }
}

/** Records when it is polled and returns the deadlines it is given, in turn. */
export class TimerHost implements SimHost {
  polls: number[] = [];
  receives: number[] = [];
  private next = 0;
  constructor(readonly deadlines: number[]) {}
  receive(_frame: Uint8Array, now: number): void {
    this.receives.push(now);
  }
  poll(now: number): number {
    this.polls.push(now);
    while (this.next < this.deadlines.length && this.deadlines[this.next]! <= now) this.next++;
    return this.next < this.deadlines.length ? this.deadlines[this.next]! : Infinity;
  }
}

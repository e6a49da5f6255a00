// What both processes of shm-cross-process.test.ts share: the frames of the bulk exchange
// (each one's length and bytes follow from its index and direction, so the receiver checks
// every byte without being told), the exchange loop, and the ping frames of the park test.

import type { ShmLink } from '../../src/link/shm-link.js';

/** Direction 0 is parent (side a) → child (side b), 1 the reverse. */
export type Direction = 0 | 1;

const MIN_LEN = 60;
const MAX_LEN = 1514; // an Ethernet header and a 1500-byte MTU

/** Frame i's length: spread over 60..1514 by a multiplicative hash. */
export function frameLength(i: number, dir: Direction): number {
  return MIN_LEN + ((Math.imul(i + 1 + dir * 0x5bd1e995, 0x9e3779b1) >>> 0) % (MAX_LEN - MIN_LEN + 1));
}

/** Pseudo-random bytes (xorshift32, fixed seed) that frames are cut from: both processes build the same table. */
const PATTERN_SPAN = 8192;
const PATTERN = (() => {
  const p = new Uint8Array(PATTERN_SPAN + MAX_LEN);
  let x = 0x2545f491;
  for (let k = 0; k < p.length; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    p[k] = x & 0xff;
  }
  return p;
})();

/** Where frame i's bytes start in PATTERN (so consecutive frames differ). */
function patternOffset(i: number, dir: Direction): number {
  return (Math.imul(i + 7 + dir * 0x3c6ef372, 0x85ebca6b) >>> 0) % PATTERN_SPAN;
}

/** Writes frame i into `buf`: its index (4 bytes LE), the direction, then pattern bytes. Returns its length. */
export function writeFrame(buf: Uint8Array, i: number, dir: Direction): number {
  const len = frameLength(i, dir);
  const off = patternOffset(i, dir);
  buf.set(PATTERN.subarray(off + 5, off + len), 5);
  buf[0] = i & 0xff;
  buf[1] = (i >>> 8) & 0xff;
  buf[2] = (i >>> 16) & 0xff;
  buf[3] = (i >>> 24) & 0xff;
  buf[4] = dir;
  return len;
}

/** Moves `frames` frames out and checks `frames` frames in over one side of a link, without drops. */
export class BulkExchange {
  sent = 0;
  received = 0;
  mismatches = 0;
  firstMismatch: string | null = null;
  private readonly scratch = new Uint8Array(MAX_LEN);
  private readonly dirIn: Direction;
  private readonly check = (bytes: Uint8Array, at: number, len: number): void => {
    const i = this.received++;
    const d = this.dirIn;
    const off = patternOffset(i, d);
    const bad =
      len !== frameLength(i, d) ||
      bytes[at + 4] !== d ||
      (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) !== i ||
      // Every other byte, compared with memcmp.
      Buffer.compare(bytes.subarray(at + 5, at + len), PATTERN.subarray(off + 5, off + len)) !== 0;
    if (bad) {
      this.mismatches++;
      this.firstMismatch ??= `frame ${i}: ${len} bytes, starts ${[...bytes.subarray(at, at + 8)].join(',')}`;
    }
  };

  constructor(
    readonly link: ShmLink,
    readonly dirOut: Direction,
    readonly frames: number,
  ) {
    this.dirIn = dirOut === 0 ? 1 : 0;
  }

  get done(): boolean {
    return this.sent === this.frames && this.received === this.frames;
  }

  /** True when the next frame does not fit the transmit ring now. */
  get txFull(): boolean {
    return this.sent < this.frames && !this.link.tx.hasSpaceFor(frameLength(this.sent, this.dirOut));
  }

  /** One round: a batch out (one publish), everything waiting drained. Returns whether anything moved. */
  step(): boolean {
    let moved = 0;
    const link = this.link;
    link.cork();
    for (let n = 0; n < 64 && this.sent < this.frames && link.tx.hasSpaceFor(frameLength(this.sent, this.dirOut)); n++) {
      const len = writeFrame(this.scratch, this.sent, this.dirOut);
      link.transmit(this.scratch.subarray(0, len));
      this.sent++;
      moved++;
    }
    link.uncork();
    while (this.received < this.frames) {
      const n = link.receive(this.check, 256);
      if (n === 0) break;
      moved += n;
    }
    return moved > 0;
  }
}

/** Park-test frames: a 14-byte Ethernet-sized header then up to three monotonic-ns stamps. */
export const PING_LEN = 64;

export function writeStamps(buf: Uint8Array, stamps: bigint[]): void {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  stamps.forEach((s, i) => v.setBigUint64(16 + 8 * i, s, true));
}

export function readStamp(bytes: Uint8Array, at: number, i: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset + at, PING_LEN).getBigUint64(16 + 8 * i, true);
}

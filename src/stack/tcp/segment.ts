// One arriving TCP segment, read once by the stack into a reusable object of fixed shape
// (no allocation per segment): header fields, options, and where the payload lies. Sequence
// and acknowledgment numbers are int32 bit patterns (compare with src/wire/seq.ts), so that
// V8 keeps them as small integers.

import { TcpOptionsScratch } from '../../wire/tcp.js';

export class SegmentIn {
  seq = 0;
  ack = 0;
  flags = 0;
  /** The raw 16-bit window field (scaled by the receiver per RFC 7323 §2.3). */
  window = 0;
  /** The urgent pointer field (meaningful with URG). */
  urgentPointer = 0;
  readonly options = new TcpOptionsScratch();
  bytes: Uint8Array = new Uint8Array(0);
  payloadAt = 0;
  payloadLength = 0;
  /** The interface it came in on. */
  ifindex = 0;
}

/** Sequence arithmetic on int32 bit patterns (RFC 9293 §3.4): a < b when (a − b) is negative as int32. */
export function seqPlus(a: number, n: number): number {
  return (a + n) | 0;
}
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
export function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqAtOrBefore(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

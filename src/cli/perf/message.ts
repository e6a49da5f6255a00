// sockperf's message on the wire (sockperf src/message.h, confirmed by capturing sockperf
// 3.7 on loopback). Every message starts with a 14-byte header, all fields big-endian:
//
//   0..8    sequence number (u64): the client numbers its messages 1, 2, 3, …
//   8..10   flags (u16): 1 = from a client, 2 = pong request, 4 = warm-up message
//   10..14  length (u32): the whole message, header included (≥ 14, ≤ 65507)
//
// then `length − 14` payload bytes (sockperf fills them with random bytes). A server that
// gets a client message with the pong-request flag sends the same bytes back with the
// client flag cleared; it ignores messages without the client flag and warm-up messages.
// Over UDP one datagram is one message; over TCP messages follow each other in the stream
// and the length field frames them.

import { type ParseError, malformed, truncated } from '../../wire/error.js';

export const HEADER_SIZE = 14;
/** sockperf's MAX_PAYLOAD_SIZE: the largest message either side accepts. */
export const MAX_MESSAGE_SIZE = 65507;

export const FLAG_CLIENT = 1;
export const FLAG_PONG_REQUEST = 2;
export const FLAG_WARMUP = 4;

const SEQ = 0;
const FLAGS = 8;
const LENGTH = 10;

/** The header as plain values. */
export interface PerfHeaderRepr {
  sequence: number;
  flags: number;
  length: number;
}

/** A view of a header at `offset` in `bytes`: getters and setters, no copies. */
export class PerfHeader {
  constructor(
    public bytes: Uint8Array,
    public offset = 0,
  ) {}

  /** The 64-bit sequence number as a number (exact below 2^53, ~285 years at 1 M msg/s). */
  get sequence(): number {
    return readSequence(this.bytes, this.offset);
  }
  set sequence(v: number) {
    writeSequence(this.bytes, this.offset, v);
  }
  get flags(): number {
    return readFlags(this.bytes, this.offset);
  }
  set flags(v: number) {
    writeFlags(this.bytes, this.offset, v);
  }
  get length(): number {
    return readLength(this.bytes, this.offset);
  }
  set length(v: number) {
    const b = this.bytes, o = this.offset + LENGTH;
    b[o] = v >>> 24;
    b[o + 1] = (v >>> 16) & 0xff;
    b[o + 2] = (v >>> 8) & 0xff;
    b[o + 3] = v & 0xff;
  }
}

// Hot-path accessors on (bytes, offset): what the send and receive loops use.

export function readSequence(b: Uint8Array, o: number): number {
  const hi = ((b[o + SEQ]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  const lo = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
  return hi * 0x1_0000_0000 + lo;
}

export function writeSequence(b: Uint8Array, o: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  const lo = v >>> 0;
  b[o + SEQ] = hi >>> 24;
  b[o + 1] = (hi >>> 16) & 0xff;
  b[o + 2] = (hi >>> 8) & 0xff;
  b[o + 3] = hi & 0xff;
  b[o + 4] = lo >>> 24;
  b[o + 5] = (lo >>> 16) & 0xff;
  b[o + 6] = (lo >>> 8) & 0xff;
  b[o + 7] = lo & 0xff;
}

export function readFlags(b: Uint8Array, o: number): number {
  return (b[o + FLAGS]! << 8) | b[o + FLAGS + 1]!;
}

export function writeFlags(b: Uint8Array, o: number, v: number): void {
  b[o + FLAGS] = (v >>> 8) & 0xff;
  b[o + FLAGS + 1] = v & 0xff;
}

export function readLength(b: Uint8Array, o: number): number {
  return ((b[o + LENGTH]! << 24) | (b[o + LENGTH + 1]! << 16) | (b[o + LENGTH + 2]! << 8) | b[o + LENGTH + 3]!) >>> 0;
}

/** Parses a header; a length outside 14..65507 is Malformed (sockperf's isValidHeader, plus the lower bound). */
export function parsePerfHeader(bytes: Uint8Array, offset = 0): PerfHeaderRepr | ParseError {
  if (bytes.length - offset < HEADER_SIZE) return truncated('sockperf', `${bytes.length - offset} bytes, header needs ${HEADER_SIZE}`);
  const length = readLength(bytes, offset);
  if (length < HEADER_SIZE || length > MAX_MESSAGE_SIZE) return malformed('sockperf', `length ${length} outside ${HEADER_SIZE}..${MAX_MESSAGE_SIZE}`);
  return { sequence: readSequence(bytes, offset), flags: readFlags(bytes, offset), length };
}

export function emitPerfHeader(repr: PerfHeaderRepr, bytes: Uint8Array, offset = 0): void {
  const h = new PerfHeader(bytes, offset);
  h.sequence = repr.sequence;
  h.flags = repr.flags;
  h.length = repr.length;
}

export function formatPerfHeader(r: PerfHeaderRepr): string {
  const f = [r.flags & FLAG_CLIENT ? 'client' : 'server', r.flags & FLAG_PONG_REQUEST ? 'pong' : '', r.flags & FLAG_WARMUP ? 'warmup' : ''].filter(Boolean);
  return `sockperf seq=${r.sequence} ${f.join('|')} len=${r.length}`;
}

/** A client message of `size` bytes: header (client flag, length) and a pseudo-random payload. */
export function newClientMessage(size: number, flags = FLAG_CLIENT): Uint8Array {
  if (size < HEADER_SIZE || size > MAX_MESSAGE_SIZE) throw new RangeError(`message size ${size} outside ${HEADER_SIZE}..${MAX_MESSAGE_SIZE}`);
  const b = new Uint8Array(size);
  let x = 0x9e3779b9;
  for (let i = HEADER_SIZE; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  emitPerfHeader({ sequence: 0, flags, length: size }, b);
  return b;
}

// UDP header (RFC 768). IPv6 checksum rules: RFC 8200 §8.1.

import { computeTransportChecksum, verifyTransportChecksum, type PseudoHeader } from './checksum.js';
import { badChecksum, malformed, truncated, type ParseError } from './error.js';
import { readU16, writeU16 } from './bytes.js';

export const UDP_HEADER_LEN = 8;
export const IP_PROTO_UDP = 17;

/** Byte offsets of the fields, relative to the start of the header. */
const F = { SRC_PORT: 0, DST_PORT: 2, LENGTH: 4, CHECKSUM: 6 } as const;

/** A zero-copy view of a UDP header at `offset` in `bytes`. Reusable via `reset`. */
export class UdpPacket {
  constructor(
    public bytes: Uint8Array,
    public offset = 0,
  ) {}
  reset(bytes: Uint8Array, offset: number): this {
    this.bytes = bytes;
    this.offset = offset;
    return this;
  }
  get srcPort(): number { return readU16(this.bytes, this.offset + F.SRC_PORT); }
  set srcPort(v: number) { writeU16(this.bytes, this.offset + F.SRC_PORT, v); }
  get dstPort(): number { return readU16(this.bytes, this.offset + F.DST_PORT); }
  set dstPort(v: number) { writeU16(this.bytes, this.offset + F.DST_PORT, v); }
  get length(): number { return readU16(this.bytes, this.offset + F.LENGTH); }
  set length(v: number) { writeU16(this.bytes, this.offset + F.LENGTH, v); }
  get checksum(): number { return readU16(this.bytes, this.offset + F.CHECKSUM); }
  set checksum(v: number) { writeU16(this.bytes, this.offset + F.CHECKSUM, v); }
  get payloadOffset(): number { return this.offset + UDP_HEADER_LEN; }

  /** Computes the checksum over header and `length` bytes; 0 is sent as 0xffff (RFC 768). */
  computeChecksum(ph: PseudoHeader): number {
    const c = computeTransportChecksum(this.bytes, this.offset, this.length, ph, IP_PROTO_UDP, F.CHECKSUM);
    return c === 0 ? 0xffff : c;
  }
  fillChecksum(ph: PseudoHeader): void {
    this.checksum = this.computeChecksum(ph);
  }
  /** A zero checksum means "none" for IPv4 only (RFC 768); IPv6 requires one (RFC 8200 §8.1). */
  verifyChecksum(ph: PseudoHeader): boolean {
    if (this.checksum === 0) return ph.version === 4;
    return verifyTransportChecksum(this.bytes, this.offset, this.length, ph, IP_PROTO_UDP);
  }
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** The checksum as found (parse) or to write (emit); `undefined` on emit computes it. */
  checksum?: number | undefined;
  payload: Uint8Array;
}

export interface UdpParseOptions {
  /** Verify the checksum against this pseudo-header. */
  pseudoHeader?: PseudoHeader;
}

/**
 * Parses a UDP datagram occupying bytes[offset, offset+available).
 * The length field must fit in what is available; extra trailing bytes (link padding) are ignored.
 */
export function parseUdp(bytes: Uint8Array, offset = 0, available = bytes.length - offset, opts: UdpParseOptions = {}): UdpRepr | ParseError {
  if (available < UDP_HEADER_LEN) return truncated('udp', `${available} bytes, header needs ${UDP_HEADER_LEN}`);
  const p = new UdpPacket(bytes, offset);
  const len = p.length;
  if (len < UDP_HEADER_LEN) return malformed('udp', `length field ${len} < ${UDP_HEADER_LEN}`);
  if (len > available) return truncated('udp', `length field ${len} > ${available} available`);
  if (opts.pseudoHeader && !p.verifyChecksum(opts.pseudoHeader)) return badChecksum('udp');
  return {
    srcPort: p.srcPort,
    dstPort: p.dstPort,
    checksum: p.checksum,
    payload: bytes.subarray(offset + UDP_HEADER_LEN, offset + len),
  };
}

export function udpReprLength(repr: UdpRepr): number {
  return UDP_HEADER_LEN + repr.payload.length;
}

/**
 * Writes header and payload at `offset`; returns the bytes written.
 * The checksum is computed when `repr.checksum` is undefined and a pseudo-header is given,
 * written as given when defined, and left 0 (IPv4 "no checksum") otherwise.
 */
export function emitUdp(repr: UdpRepr, bytes: Uint8Array, offset = 0, ph?: PseudoHeader): number {
  const len = udpReprLength(repr);
  if (len > 0xffff) throw new RangeError(`UDP datagram of ${len} bytes exceeds 65535`);
  const p = new UdpPacket(bytes, offset);
  p.srcPort = repr.srcPort;
  p.dstPort = repr.dstPort;
  p.length = len;
  p.checksum = 0;
  if (repr.payload.length && (repr.payload.buffer !== bytes.buffer || repr.payload.byteOffset !== bytes.byteOffset + offset + UDP_HEADER_LEN)) {
    bytes.set(repr.payload, offset + UDP_HEADER_LEN);
  }
  if (repr.checksum !== undefined) p.checksum = repr.checksum;
  else if (ph) p.fillChecksum(ph);
  return len;
}

export function formatUdp(repr: UdpRepr): string {
  return `UDP src=${repr.srcPort} dst=${repr.dstPort} len=${repr.payload.length}`;
}

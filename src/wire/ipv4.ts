// IPv4 header (RFC 791 §3.1). ECN bits: RFC 3168 §5; DSCP: RFC 2474 §3.

import { finishChecksum, sumBytes, verifyChecksum, type PseudoHeader } from './checksum.js';
import { badChecksum, malformed, truncated, ParseError, ParseErrorKind } from './error.js';
import { formatIpv4, readIpv4, writeIpv4, type Ipv4Address } from './address.js';
import { readU16, writeU16 } from './bytes.js';

export const IPV4_MIN_HEADER_LEN = 20;
export const IPV4_MAX_HEADER_LEN = 60;

export const IpProtocol = {
  HopByHop: 0,
  ICMP: 1,
  IGMP: 2,
  TCP: 6,
  UDP: 17,
  IPv6: 41,
  ICMPv6: 58,
} as const;

/** RFC 791 §3.1 option types (copied flag, class and number in one octet). */
export const Ipv4OptionType = {
  EndOfList: 0,
  NoOperation: 1,
  RecordRoute: 7,
  Timestamp: 68,
  LooseSourceRoute: 131,
  StrictSourceRoute: 137,
  RouterAlert: 148, // RFC 2113
} as const;

const FLAG_RESERVED = 0x8000;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;

export class Ipv4Packet {
  constructor(
    public bytes: Uint8Array,
    public offset = 0,
  ) {}
  reset(bytes: Uint8Array, offset: number): this {
    this.bytes = bytes;
    this.offset = offset;
    return this;
  }
  get version(): number { return this.bytes[this.offset]! >>> 4; }
  /** Header length in bytes (IHL × 4). */
  get headerLength(): number { return (this.bytes[this.offset]! & 0x0f) * 4; }
  set headerLength(v: number) { this.bytes[this.offset] = 0x40 | ((v >>> 2) & 0x0f); }
  get dscp(): number { return this.bytes[this.offset + 1]! >>> 2; }
  get ecn(): number { return this.bytes[this.offset + 1]! & 3; }
  get tos(): number { return this.bytes[this.offset + 1]!; }
  set tos(v: number) { this.bytes[this.offset + 1] = v & 0xff; }
  get totalLength(): number { return readU16(this.bytes, this.offset + 2); }
  set totalLength(v: number) { writeU16(this.bytes, this.offset + 2, v); }
  get identification(): number { return readU16(this.bytes, this.offset + 4); }
  set identification(v: number) { writeU16(this.bytes, this.offset + 4, v); }
  get dontFragment(): boolean { return (readU16(this.bytes, this.offset + 6) & FLAG_DF) !== 0; }
  get moreFragments(): boolean { return (readU16(this.bytes, this.offset + 6) & FLAG_MF) !== 0; }
  /** Fragment offset in 8-byte units. */
  get fragmentOffset(): number { return readU16(this.bytes, this.offset + 6) & 0x1fff; }
  get fragmentOffsetBytes(): number { return (readU16(this.bytes, this.offset + 6) & 0x1fff) * 8; }
  get flagsAndOffset(): number { return readU16(this.bytes, this.offset + 6); }
  set flagsAndOffset(v: number) { writeU16(this.bytes, this.offset + 6, v); }
  get isFragment(): boolean { return (readU16(this.bytes, this.offset + 6) & (FLAG_MF | 0x1fff)) !== 0; }
  get ttl(): number { return this.bytes[this.offset + 8]!; }
  set ttl(v: number) { this.bytes[this.offset + 8] = v & 0xff; }
  get protocol(): number { return this.bytes[this.offset + 9]!; }
  set protocol(v: number) { this.bytes[this.offset + 9] = v & 0xff; }
  get checksum(): number { return readU16(this.bytes, this.offset + 10); }
  set checksum(v: number) { writeU16(this.bytes, this.offset + 10, v); }
  get src(): Ipv4Address { return readIpv4(this.bytes, this.offset + 12); }
  set src(a: Ipv4Address) { writeIpv4(this.bytes, this.offset + 12, a); }
  get dst(): Ipv4Address { return readIpv4(this.bytes, this.offset + 16); }
  set dst(a: Ipv4Address) { writeIpv4(this.bytes, this.offset + 16, a); }
  get payloadOffset(): number { return this.offset + this.headerLength; }
  get payloadLength(): number { return this.totalLength - this.headerLength; }

  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = finishChecksum(sumBytes(this.bytes, this.offset, this.headerLength));
  }
  verifyChecksum(): boolean {
    const hl = this.headerLength;
    if (hl !== IPV4_MIN_HEADER_LEN) return verifyChecksum(this.bytes, this.offset, hl);
    // The option-less header, unrolled: ten words (RFC 1071 §4.1).
    const b = this.bytes, o = this.offset;
    let s =
      ((b[o]! << 8) | b[o + 1]!) + ((b[o + 2]! << 8) | b[o + 3]!) + ((b[o + 4]! << 8) | b[o + 5]!) +
      ((b[o + 6]! << 8) | b[o + 7]!) + ((b[o + 8]! << 8) | b[o + 9]!) + ((b[o + 10]! << 8) | b[o + 11]!) +
      ((b[o + 12]! << 8) | b[o + 13]!) + ((b[o + 14]! << 8) | b[o + 15]!) + ((b[o + 16]! << 8) | b[o + 17]!) +
      ((b[o + 18]! << 8) | b[o + 19]!);
    s = (s & 0xffff) + (s >>> 16);
    s = (s & 0xffff) + (s >>> 16);
    return s === 0xffff;
  }
  /**
   * Validates the header against `available` bytes without allocating:
   * 0 when it is well formed, otherwise the ParseErrorKind.
   */
  check(available: number, checkChecksum = true): 0 | ParseErrorKind {
    if (available < IPV4_MIN_HEADER_LEN) return ParseErrorKind.Truncated;
    const b = this.bytes, o = this.offset;
    const vihl = b[o]!;
    if (vihl >>> 4 !== 4) return ParseErrorKind.Malformed;
    const hl = (vihl & 0x0f) << 2;
    if (hl < IPV4_MIN_HEADER_LEN) return ParseErrorKind.Malformed;
    if (hl > available) return ParseErrorKind.Truncated;
    const tl = (b[o + 2]! << 8) | b[o + 3]!;
    if (tl < hl) return ParseErrorKind.Malformed;
    if (tl > available) return ParseErrorKind.Truncated;
    if (b[o + 6]! & 0x80) return ParseErrorKind.Malformed; // RFC 791: reserved flag
    if (checkChecksum && !this.verifyChecksum()) return ParseErrorKind.Checksum;
    return 0;
  }
}

export interface Ipv4Repr {
  /** The whole TOS octet: DSCP (6 bits) and ECN (2 bits). */
  tos: number;
  identification: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** In 8-byte units, as on the wire. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  src: Ipv4Address;
  dst: Ipv4Address;
  /** Raw option bytes, a multiple of 4 long (RFC 791: the header is padded to 32 bits). */
  options: Uint8Array;
  /** As found (parse) or to write (emit); undefined on emit computes it. */
  checksum?: number | undefined;
  payload: Uint8Array;
}

export interface Ipv4ParseOptions {
  /** Default true. */
  verifyChecksum?: boolean;
}

export function parseIpv4(bytes: Uint8Array, offset = 0, available = bytes.length - offset, opts: Ipv4ParseOptions = {}): Ipv4Repr | ParseError {
  const p = new Ipv4Packet(bytes, offset);
  if (available < IPV4_MIN_HEADER_LEN) return truncated('ipv4', `${available} bytes, header needs ${IPV4_MIN_HEADER_LEN}`);
  if (p.version !== 4) return malformed('ipv4', `version ${p.version}`);
  const hl = p.headerLength;
  if (hl < IPV4_MIN_HEADER_LEN) return malformed('ipv4', `IHL ${hl / 4} < 5`);
  if (hl > available) return truncated('ipv4', `header length ${hl} > ${available} available`);
  const tl = p.totalLength;
  if (tl < hl) return malformed('ipv4', `total length ${tl} < header length ${hl}`);
  if (tl > available) return truncated('ipv4', `total length ${tl} > ${available} available`);
  if (p.flagsAndOffset & FLAG_RESERVED) return malformed('ipv4', 'reserved flag set');
  if (opts.verifyChecksum !== false && !p.verifyChecksum()) return badChecksum('ipv4');
  const opt = parseIpv4Options(bytes.subarray(offset + IPV4_MIN_HEADER_LEN, offset + hl));
  if (opt instanceof ParseError) return opt;
  return {
    tos: p.tos,
    identification: p.identification,
    dontFragment: p.dontFragment,
    moreFragments: p.moreFragments,
    fragmentOffset: p.fragmentOffset,
    ttl: p.ttl,
    protocol: p.protocol,
    src: p.src,
    dst: p.dst,
    options: bytes.subarray(offset + IPV4_MIN_HEADER_LEN, offset + hl),
    checksum: p.checksum,
    payload: bytes.subarray(offset + hl, offset + tl),
  };
}

export function ipv4HeaderLength(repr: Pick<Ipv4Repr, 'options'>): number {
  return IPV4_MIN_HEADER_LEN + repr.options.length;
}
export function ipv4ReprLength(repr: Ipv4Repr): number {
  return ipv4HeaderLength(repr) + repr.payload.length;
}

export function emitIpv4(repr: Ipv4Repr, bytes: Uint8Array, offset = 0): number {
  const hl = ipv4HeaderLength(repr);
  if (repr.options.length % 4 !== 0 || hl > IPV4_MAX_HEADER_LEN) throw new RangeError(`IPv4 options must be a multiple of 4 bytes, at most 40 (got ${repr.options.length})`);
  const tl = hl + repr.payload.length;
  if (tl > 0xffff) throw new RangeError(`IPv4 packet of ${tl} bytes exceeds 65535`);
  const p = new Ipv4Packet(bytes, offset);
  p.headerLength = hl;
  p.tos = repr.tos;
  p.totalLength = tl;
  p.identification = repr.identification;
  p.flagsAndOffset = (repr.dontFragment ? FLAG_DF : 0) | (repr.moreFragments ? FLAG_MF : 0) | (repr.fragmentOffset & 0x1fff);
  p.ttl = repr.ttl;
  p.protocol = repr.protocol;
  p.src = repr.src;
  p.dst = repr.dst;
  bytes.set(repr.options, offset + IPV4_MIN_HEADER_LEN);
  if (repr.payload.length && (repr.payload.buffer !== bytes.buffer || repr.payload.byteOffset !== bytes.byteOffset + offset + hl)) {
    bytes.set(repr.payload, offset + hl);
  }
  if (repr.checksum !== undefined) p.checksum = repr.checksum;
  else p.fillChecksum();
  return tl;
}

export function ipv4PseudoHeader(repr: Pick<Ipv4Repr, 'src' | 'dst'>): PseudoHeader {
  return { version: 4, src: repr.src, dst: repr.dst };
}

export interface Ipv4Option {
  type: number;
  /** The option's data after type and length (empty for EOL/NOP). */
  data: Uint8Array;
}

/**
 * Walks the option list (RFC 791 §3.1): EOL ends it, NOP is one byte, every other
 * option has a length octet that counts type and length. An option that runs past the
 * header is OptionOverflow.
 */
export function parseIpv4Options(opts: Uint8Array): Ipv4Option[] | ParseError {
  const out: Ipv4Option[] = [];
  let i = 0;
  while (i < opts.length) {
    const type = opts[i]!;
    if (type === Ipv4OptionType.EndOfList) {
      out.push({ type, data: opts.subarray(i + 1, i + 1) });
      break;
    }
    if (type === Ipv4OptionType.NoOperation) {
      out.push({ type, data: opts.subarray(i + 1, i + 1) });
      i++;
      continue;
    }
    if (i + 1 >= opts.length) return new ParseError(ParseErrorKind.OptionOverflow, 'ipv4', `option ${type} has no length octet`);
    const len = opts[i + 1]!;
    if (len < 2) return malformed('ipv4', `option ${type} length ${len} < 2`);
    if (i + len > opts.length) return new ParseError(ParseErrorKind.OptionOverflow, 'ipv4', `option ${type} length ${len} runs past the header`);
    out.push({ type, data: opts.subarray(i + 2, i + len) });
    i += len;
  }
  return out;
}

export function formatIpv4Repr(repr: Ipv4Repr): string {
  const frag = repr.moreFragments || repr.fragmentOffset ? ` frag=${repr.fragmentOffset * 8}${repr.moreFragments ? '+' : ''}` : '';
  return `IPv4 ${formatIpv4(repr.src)} > ${formatIpv4(repr.dst)} proto=${repr.protocol} ttl=${repr.ttl} id=${repr.identification}${repr.dontFragment ? ' DF' : ''}${frag} len=${repr.payload.length}`;
}

// ICMPv6 (RFC 4443) with the Neighbor Discovery messages (RFC 4861 §4; options in ndp.ts)
// and Multicast Listener Discovery (RFC 2710, RFC 3810; in mld.ts). The checksum covers an
// IPv6 pseudo-header with next header 58 (RFC 4443 §2.3, RFC 8200 §8.1).

import { computeTransportChecksum, verifyTransportChecksum, type PseudoHeader } from './checksum.js';
import { badChecksum, truncated, ParseError } from './error.js';
import { formatIpv6, type Ipv6Address } from './address.js';
import { emitNdpOptions, ndpOptionsLength, parseNdpOptions, type NdpOption } from './ndp.js';
import { emitMldBody, mldReprLength, parseMld, type MldRepr } from './mld.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';

export {
  MldRecordType, decodeMldMaxResponse, encodeMldMaxResponse, decodeMldQqic, encodeMldQqic,
  type MldAddressRecord, type MldRepr,
} from './mld.js';

export const IP_PROTO_ICMPV6 = 58;
/** Type, code, checksum and the 32-bit word every message has (RFC 4443 §2.1). */
export const ICMPV6_HEADER_LEN = 8;

export const Icmpv6Type = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParameterProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  MldQuery: 130,
  MldV1Report: 131,
  MldV1Done: 132,
  RouterSolicitation: 133,
  RouterAdvertisement: 134,
  NeighborSolicitation: 135,
  NeighborAdvertisement: 136,
  Redirect: 137,
  MldV2Report: 143,
} as const;

/** RFC 4443 §3.1. */
export const Icmpv6UnreachableCode = {
  NoRoute: 0,
  AdminProhibited: 1,
  BeyondScope: 2,
  AddressUnreachable: 3,
  PortUnreachable: 4,
  SourcePolicyFailed: 5,
  RejectRoute: 6,
} as const;

/** RFC 4443 §3.3. */
export const Icmpv6TimeExceededCode = { HopLimitExceeded: 0, FragmentReassemblyTimeExceeded: 1 } as const;

/** RFC 4443 §3.4. */
export const Icmpv6ParameterProblemCode = { ErroneousHeaderField: 0, UnrecognizedNextHeader: 1, UnrecognizedOption: 2 } as const;

/** Router Advertisement flag byte (RFC 4861 §4.2); the other 6 bits are kept as found. */
export const RouterAdvertFlags = { Managed: 0x80, Other: 0x40 } as const;

/** Neighbor Advertisement flags (RFC 4861 §4.4), in the 32-bit word after the checksum. */
export const NeighborAdvertFlags = { Router: 0x80000000, Solicited: 0x40000000, Override: 0x20000000 } as const;

/** Length of the fixed part before NDP options (RFC 4861 §4.1-4.5). */
const RS_LEN = 8;
const RA_LEN = 16;
const NEIGHBOR_LEN = 24;
const REDIRECT_LEN = 40;

/** A zero-copy view of an ICMPv6 message of `length` bytes at `offset`. Reusable via `reset`. */
export class Icmpv6Packet {
  constructor(
    public bytes: Uint8Array,
    public offset = 0,
    public length = bytes.length - offset,
  ) {}
  reset(bytes: Uint8Array, offset: number, length: number): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }
  get type(): number { return this.bytes[this.offset]!; }
  set type(v: number) { this.bytes[this.offset] = v; }
  get code(): number { return this.bytes[this.offset + 1]!; }
  set code(v: number) { this.bytes[this.offset + 1] = v; }
  get checksum(): number { return readU16(this.bytes, this.offset + 2); }
  set checksum(v: number) { writeU16(this.bytes, this.offset + 2, v); }
  /** Bytes 4..7: unused, MTU, pointer, identifier+sequence, reserved, flags... as one word. */
  get rest(): number { return readU32(this.bytes, this.offset + 4); }
  set rest(v: number) { writeU32(this.bytes, this.offset + 4, v); }
  /** Echo identifier and sequence number (RFC 4443 §4.1). */
  get identifier(): number { return readU16(this.bytes, this.offset + 4); }
  set identifier(v: number) { writeU16(this.bytes, this.offset + 4, v); }
  get sequence(): number { return readU16(this.bytes, this.offset + 6); }
  set sequence(v: number) { writeU16(this.bytes, this.offset + 6, v); }
  /** Packet Too Big MTU (RFC 4443 §3.2). */
  get mtu(): number { return readU32(this.bytes, this.offset + 4); }
  set mtu(v: number) { writeU32(this.bytes, this.offset + 4, v); }
  /** Parameter Problem pointer (RFC 4443 §3.4). */
  get pointer(): number { return readU32(this.bytes, this.offset + 4); }
  set pointer(v: number) { writeU32(this.bytes, this.offset + 4, v); }
  /** Offset of the invoking packet in an error message, or of echo data. */
  get bodyOffset(): number { return this.offset + ICMPV6_HEADER_LEN; }
  /** Router Advertisement fields (RFC 4861 §4.2). */
  get curHopLimit(): number { return this.bytes[this.offset + 4]!; }
  set curHopLimit(v: number) { this.bytes[this.offset + 4] = v; }
  get routerFlags(): number { return this.bytes[this.offset + 5]!; }
  set routerFlags(v: number) { this.bytes[this.offset + 5] = v; }
  get routerLifetime(): number { return readU16(this.bytes, this.offset + 6); }
  set routerLifetime(v: number) { writeU16(this.bytes, this.offset + 6, v); }
  get reachableTime(): number { return readU32(this.bytes, this.offset + 8); }
  set reachableTime(v: number) { writeU32(this.bytes, this.offset + 8, v); }
  get retransTimer(): number { return readU32(this.bytes, this.offset + 12); }
  set retransTimer(v: number) { writeU32(this.bytes, this.offset + 12, v); }
  /** Neighbor Advertisement R/S/O and reserved bits (RFC 4861 §4.4). */
  get neighborFlags(): number { return readU32(this.bytes, this.offset + 4); }
  set neighborFlags(v: number) { writeU32(this.bytes, this.offset + 4, v); }
  /** Offset of the 16-byte target address of NS, NA and Redirect. */
  get targetOffset(): number { return this.offset + 8; }
  /** Offset of the 16-byte destination address of a Redirect (RFC 4861 §4.5). */
  get destinationOffset(): number { return this.offset + 24; }
  /** Offset of the NDP options for types 133..137, or -1 for other types. */
  get ndpOptionsOffset(): number {
    switch (this.type) {
      case Icmpv6Type.RouterSolicitation: return this.offset + RS_LEN;
      case Icmpv6Type.RouterAdvertisement: return this.offset + RA_LEN;
      case Icmpv6Type.NeighborSolicitation:
      case Icmpv6Type.NeighborAdvertisement: return this.offset + NEIGHBOR_LEN;
      case Icmpv6Type.Redirect: return this.offset + REDIRECT_LEN;
      default: return -1;
    }
  }
  /** MLD Maximum Response Delay/Code (RFC 2710 §3.4, RFC 3810 §5.1.3). */
  get maxResponse(): number { return readU16(this.bytes, this.offset + 4); }
  set maxResponse(v: number) { writeU16(this.bytes, this.offset + 4, v); }
  /** Offset of the 16-byte MLD multicast address. */
  get multicastAddressOffset(): number { return this.offset + 8; }
  copyTarget(out: Uint8Array, at = 0): void {
    for (let i = 0; i < 16; i++) out[at + i] = this.bytes[this.offset + 8 + i]!;
  }
  setTarget(a: Ipv6Address): void { this.bytes.set(a.subarray(0, 16), this.offset + 8); }

  /** The checksum over `length` bytes and the pseudo-header, as if the field were zero. */
  computeChecksum(ph: PseudoHeader): number {
    return computeTransportChecksum(this.bytes, this.offset, this.length, ph, IP_PROTO_ICMPV6, 2);
  }
  fillChecksum(ph: PseudoHeader): void {
    this.checksum = this.computeChecksum(ph);
  }
  verifyChecksum(ph: PseudoHeader): boolean {
    return verifyTransportChecksum(this.bytes, this.offset, this.length, ph, IP_PROTO_ICMPV6);
  }
}

interface Common {
  code: number;
  /** As found (parse) or to write (emit); undefined on emit computes it (needs a pseudo-header). */
  checksum?: number | undefined;
}
export type Icmpv6Repr =
  | (Common & { kind: 'echoRequest' | 'echoReply'; identifier: number; sequence: number; data: Uint8Array })
  /** `unused` keeps bytes 4..7 exactly (RFC 4884 puts a length in byte 4). */
  | (Common & { kind: 'destinationUnreachable' | 'timeExceeded'; unused: number; original: Uint8Array })
  | (Common & { kind: 'packetTooBig'; mtu: number; original: Uint8Array })
  | (Common & { kind: 'parameterProblem'; pointer: number; original: Uint8Array })
  | (Common & { kind: 'routerSolicitation'; reserved: number; options: NdpOption[] })
  | (Common & {
      kind: 'routerAdvertisement';
      curHopLimit: number;
      /** M (0x80), O (0x40) and the rest of the flag byte (RFC 4191 preference, ...). */
      flags: number;
      routerLifetime: number;
      reachableTime: number;
      retransTimer: number;
      options: NdpOption[];
    })
  | (Common & { kind: 'neighborSolicitation'; reserved: number; target: Ipv6Address; options: NdpOption[] })
  | (Common & { kind: 'neighborAdvertisement'; /** R/S/O and 29 reserved bits */ flags: number; target: Ipv6Address; options: NdpOption[] })
  | (Common & { kind: 'redirect'; reserved: number; target: Ipv6Address; destination: Ipv6Address; options: NdpOption[] })
  | MldRepr
  /** Any other type, kept whole so that re-emitting is byte-exact. */
  | (Common & { kind: 'other'; type: number; /** bytes 4..7 */ rest: number; data: Uint8Array });

export interface Icmpv6ParseOptions {
  /** Verify the checksum against this pseudo-header (version 6). */
  pseudoHeader?: PseudoHeader;
}

function fixedPartShort(what: string, need: number, available: number): ParseError {
  return truncated('icmpv6', `${what} needs ${need} bytes, has ${available}`);
}

/**
 * Parses an ICMPv6 message occupying bytes[offset, offset+available) (the IPv6 payload:
 * ICMPv6 has no length of its own). Invoking packets, echo data and unknown bodies are
 * zero-copy subarrays; addresses are copies.
 */
export function parseIcmpv6(bytes: Uint8Array, offset = 0, available = bytes.length - offset, opts: Icmpv6ParseOptions = {}): Icmpv6Repr | ParseError {
  if (available < ICMPV6_HEADER_LEN) return truncated('icmpv6', `${available} bytes, header needs ${ICMPV6_HEADER_LEN}`);
  const p = new Icmpv6Packet(bytes, offset, available);
  if (opts.pseudoHeader && !p.verifyChecksum(opts.pseudoHeader)) return badChecksum('icmpv6');
  const b = bytes, o = offset, end = offset + available;
  const type = p.type, code = p.code, checksum = p.checksum;
  const rest = p.rest;
  switch (type) {
    case Icmpv6Type.EchoRequest:
    case Icmpv6Type.EchoReply:
      return { kind: type === Icmpv6Type.EchoRequest ? 'echoRequest' : 'echoReply', code, checksum, identifier: rest >>> 16, sequence: rest & 0xffff, data: b.subarray(o + 8, end) };
    case Icmpv6Type.DestinationUnreachable:
    case Icmpv6Type.TimeExceeded:
      return { kind: type === Icmpv6Type.TimeExceeded ? 'timeExceeded' : 'destinationUnreachable', code, checksum, unused: rest, original: b.subarray(o + 8, end) };
    case Icmpv6Type.PacketTooBig:
      return { kind: 'packetTooBig', code, checksum, mtu: rest, original: b.subarray(o + 8, end) };
    case Icmpv6Type.ParameterProblem:
      return { kind: 'parameterProblem', code, checksum, pointer: rest, original: b.subarray(o + 8, end) };
    case Icmpv6Type.RouterSolicitation: {
      const options = parseNdpOptions(b, o + RS_LEN, end - o - RS_LEN);
      if (options instanceof ParseError) return options;
      return { kind: 'routerSolicitation', code, checksum, reserved: rest, options };
    }
    case Icmpv6Type.RouterAdvertisement: {
      if (available < RA_LEN) return fixedPartShort('router advertisement', RA_LEN, available);
      const options = parseNdpOptions(b, o + RA_LEN, end - o - RA_LEN);
      if (options instanceof ParseError) return options;
      return {
        kind: 'routerAdvertisement', code, checksum, curHopLimit: p.curHopLimit, flags: p.routerFlags, routerLifetime: p.routerLifetime,
        reachableTime: p.reachableTime, retransTimer: p.retransTimer, options,
      };
    }
    case Icmpv6Type.NeighborSolicitation:
    case Icmpv6Type.NeighborAdvertisement: {
      if (available < NEIGHBOR_LEN) return fixedPartShort(type === Icmpv6Type.NeighborSolicitation ? 'neighbor solicitation' : 'neighbor advertisement', NEIGHBOR_LEN, available);
      const options = parseNdpOptions(b, o + NEIGHBOR_LEN, end - o - NEIGHBOR_LEN);
      if (options instanceof ParseError) return options;
      const target = b.slice(o + 8, o + 24);
      return type === Icmpv6Type.NeighborSolicitation
        ? { kind: 'neighborSolicitation', code, checksum, reserved: rest, target, options }
        : { kind: 'neighborAdvertisement', code, checksum, flags: rest, target, options };
    }
    case Icmpv6Type.Redirect: {
      if (available < REDIRECT_LEN) return fixedPartShort('redirect', REDIRECT_LEN, available);
      const options = parseNdpOptions(b, o + REDIRECT_LEN, end - o - REDIRECT_LEN);
      if (options instanceof ParseError) return options;
      return { kind: 'redirect', code, checksum, reserved: rest, target: b.slice(o + 8, o + 24), destination: b.slice(o + 24, o + 40), options };
    }
    case Icmpv6Type.MldQuery:
    case Icmpv6Type.MldV1Report:
    case Icmpv6Type.MldV1Done:
    case Icmpv6Type.MldV2Report:
      return parseMld(type, b, o, available, code, checksum);
    default:
      return { kind: 'other', type, code, checksum, rest, data: b.subarray(o + 8, end) };
  }
}

const TYPE_OF = {
  echoRequest: 128, echoReply: 129, destinationUnreachable: 1, packetTooBig: 2, timeExceeded: 3, parameterProblem: 4,
  routerSolicitation: 133, routerAdvertisement: 134, neighborSolicitation: 135, neighborAdvertisement: 136, redirect: 137,
  mldV1Query: 130, mldV2Query: 130, mldV1Report: 131, mldV1Done: 132, mldV2Report: 143,
} as const;

/** The ICMPv6 type a Repr is emitted as. */
export function icmpv6TypeOf(r: Icmpv6Repr): number {
  return r.kind === 'other' ? r.type : TYPE_OF[r.kind];
}

export function icmpv6ReprLength(r: Icmpv6Repr): number {
  switch (r.kind) {
    case 'echoRequest':
    case 'echoReply':
    case 'other':
      return ICMPV6_HEADER_LEN + r.data.length;
    case 'destinationUnreachable':
    case 'timeExceeded':
    case 'packetTooBig':
    case 'parameterProblem':
      return ICMPV6_HEADER_LEN + r.original.length;
    case 'routerSolicitation':
      return RS_LEN + ndpOptionsLength(r.options);
    case 'routerAdvertisement':
      return RA_LEN + ndpOptionsLength(r.options);
    case 'neighborSolicitation':
    case 'neighborAdvertisement':
      return NEIGHBOR_LEN + ndpOptionsLength(r.options);
    case 'redirect':
      return REDIRECT_LEN + ndpOptionsLength(r.options);
    default:
      return mldReprLength(r);
  }
}

/** Copies `src` to bytes[at..] unless it is already there (zero-copy emit). */
function place(src: Uint8Array, bytes: Uint8Array, at: number): void {
  if (src.length && (src.buffer !== bytes.buffer || src.byteOffset !== bytes.byteOffset + at)) bytes.set(src, at);
}

/**
 * Writes the message at `offset`; returns the bytes written. The checksum is written as
 * given when `repr.checksum` is defined, else computed over `ph`, which is then required
 * (RFC 4443 §2.3: ICMPv6 always carries one).
 */
export function emitIcmpv6(repr: Icmpv6Repr, bytes: Uint8Array, offset = 0, ph?: PseudoHeader): number {
  if (repr.checksum === undefined && !ph) throw new TypeError('emitIcmpv6: a pseudo-header is needed to compute the checksum');
  const len = icmpv6ReprLength(repr);
  const b = bytes, o = offset;
  b[o] = icmpv6TypeOf(repr);
  b[o + 1] = repr.code;
  b[o + 2] = 0;
  b[o + 3] = 0;
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
      writeU16(b, o + 4, repr.identifier);
      writeU16(b, o + 6, repr.sequence);
      place(repr.data, b, o + 8);
      break;
    case 'other':
      writeU32(b, o + 4, repr.rest);
      place(repr.data, b, o + 8);
      break;
    case 'destinationUnreachable':
    case 'timeExceeded':
      writeU32(b, o + 4, repr.unused);
      place(repr.original, b, o + 8);
      break;
    case 'packetTooBig':
      writeU32(b, o + 4, repr.mtu);
      place(repr.original, b, o + 8);
      break;
    case 'parameterProblem':
      writeU32(b, o + 4, repr.pointer);
      place(repr.original, b, o + 8);
      break;
    case 'routerSolicitation':
      writeU32(b, o + 4, repr.reserved);
      emitNdpOptions(repr.options, b, o + RS_LEN);
      break;
    case 'routerAdvertisement':
      b[o + 4] = repr.curHopLimit;
      b[o + 5] = repr.flags;
      writeU16(b, o + 6, repr.routerLifetime);
      writeU32(b, o + 8, repr.reachableTime);
      writeU32(b, o + 12, repr.retransTimer);
      emitNdpOptions(repr.options, b, o + RA_LEN);
      break;
    case 'neighborSolicitation':
    case 'neighborAdvertisement':
      writeU32(b, o + 4, repr.kind === 'neighborSolicitation' ? repr.reserved : repr.flags);
      b.set(repr.target.subarray(0, 16), o + 8);
      emitNdpOptions(repr.options, b, o + NEIGHBOR_LEN);
      break;
    case 'redirect':
      writeU32(b, o + 4, repr.reserved);
      b.set(repr.target.subarray(0, 16), o + 8);
      b.set(repr.destination.subarray(0, 16), o + 24);
      emitNdpOptions(repr.options, b, o + REDIRECT_LEN);
      break;
    default:
      emitMldBody(repr, b, o);
  }
  const p = new Icmpv6Packet(bytes, offset, len);
  if (repr.checksum !== undefined) p.checksum = repr.checksum;
  else p.fillChecksum(ph!);
  return len;
}

export function formatIcmpv6(r: Icmpv6Repr): string {
  switch (r.kind) {
    case 'echoRequest':
    case 'echoReply':
      return `ICMPv6 ${r.kind === 'echoRequest' ? 'echo request' : 'echo reply'} id=${r.identifier} seq=${r.sequence} len=${r.data.length}`;
    case 'destinationUnreachable':
      return `ICMPv6 destination unreachable code=${r.code} original=${r.original.length}`;
    case 'timeExceeded':
      return `ICMPv6 time exceeded code=${r.code} original=${r.original.length}`;
    case 'packetTooBig':
      return `ICMPv6 packet too big mtu=${r.mtu} original=${r.original.length}`;
    case 'parameterProblem':
      return `ICMPv6 parameter problem code=${r.code} pointer=${r.pointer}`;
    case 'routerSolicitation':
      return `ICMPv6 router solicitation options=${r.options.length}`;
    case 'routerAdvertisement':
      return `ICMPv6 router advertisement hlim=${r.curHopLimit}${r.flags & RouterAdvertFlags.Managed ? ' M' : ''}${r.flags & RouterAdvertFlags.Other ? ' O' : ''} lifetime=${r.routerLifetime} options=${r.options.length}`;
    case 'neighborSolicitation':
      return `ICMPv6 neighbor solicitation who-has ${formatIpv6(r.target)}`;
    case 'neighborAdvertisement': {
      const f = r.flags;
      const flags = `${f & NeighborAdvertFlags.Router ? 'R' : ''}${f & NeighborAdvertFlags.Solicited ? 'S' : ''}${f & NeighborAdvertFlags.Override ? 'O' : ''}`;
      return `ICMPv6 neighbor advertisement ${formatIpv6(r.target)}${flags ? ` [${flags}]` : ''}`;
    }
    case 'redirect':
      return `ICMPv6 redirect ${formatIpv6(r.destination)} via ${formatIpv6(r.target)}`;
    case 'mldV1Query':
      return `ICMPv6 MLDv1 query ${formatIpv6(r.group)} mrd=${r.maxResponseDelay}`;
    case 'mldV1Report':
    case 'mldV1Done':
      return `ICMPv6 MLDv1 ${r.kind === 'mldV1Report' ? 'report' : 'done'} ${formatIpv6(r.group)}`;
    case 'mldV2Query':
      return `ICMPv6 MLDv2 query ${formatIpv6(r.group)} mrc=${r.maxResponseCode} sources=${r.sources.length}`;
    case 'mldV2Report':
      return `ICMPv6 MLDv2 report records=${r.records.length}`;
    case 'other':
      return `ICMPv6 type=${r.type} code=${r.code} len=${r.data.length}`;
  }
}

// ICMPv6 (RFC 4443) with Neighbor Discovery messages (RFC 4861 §4) and Multicast
// Listener Discovery v1 (RFC 2710 §3) and v2 (RFC 3810 §5). The checksum covers an IPv6
// pseudo-header (RFC 4443 §2.3, RFC 8200 §8.1).

import { computeTransportChecksum, verifyTransportChecksum, type PseudoHeader } from './checksum.js';
import { badChecksum, malformed, truncated, ParseError } from './error.js';
import { decodeFloatCode, encodeFloatCode } from './float-code.js';
import { formatIpv6, type Ipv6Address } from './address.js';
import { emitNdpOptions, ndpOptionsLength, parseNdpOptions, type NdpOption } from './ndp.js';
import { writeU16, readU32, writeU32 } from './bytes.js';

export const IP_PROTO_ICMPV6 = 58;
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

export const Icmpv6UnreachableCode = {
  NoRoute: 0,
  AdminProhibited: 1,
  BeyondScope: 2,
  AddressUnreachable: 3,
  PortUnreachable: 4,
  SourcePolicyFailed: 5,
  RejectRoute: 6,
} as const;

/** RFC 3810 §5.2.12 record types (same values as IGMPv3). */
export const MldRecordType = {
  ModeIsInclude: 1,
  ModeIsExclude: 2,
  ChangeToInclude: 3,
  ChangeToExclude: 4,
  AllowNewSources: 5,
  BlockOldSources: 6,
} as const;

/** Neighbor Advertisement flags (RFC 4861 §4.4), in the first 32-bit word. */
export const NeighborAdvertFlags = { Router: 0x80000000, Solicited: 0x40000000, Override: 0x20000000 } as const;

/**
 * RFC 3810 §5.1.3: a Maximum Response Code of 32768 or more is 1|exp(3)|mant(12)
 * standing for (mant | 0x1000) << (exp + 3) milliseconds.
 */
export function decodeMldMaxResponse(code: number): number {
  return decodeFloatCode(code, 12);
}
export function encodeMldMaxResponse(ms: number): number {
  return encodeFloatCode(ms, 12);
}

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
  get checksum(): number { return (this.bytes[this.offset + 2]! << 8) | this.bytes[this.offset + 3]!; }
  set checksum(v: number) {
    this.bytes[this.offset + 2] = v >>> 8;
    this.bytes[this.offset + 3] = v & 0xff;
  }
  /** Echo identifier and sequence number (RFC 4443 §4.1). */
  get identifier(): number { return (this.bytes[this.offset + 4]! << 8) | this.bytes[this.offset + 5]!; }
  get sequence(): number { return (this.bytes[this.offset + 6]! << 8) | this.bytes[this.offset + 7]!; }
  /** Offset of the NS/NA/redirect target address. */
  get targetOffset(): number { return this.offset + 8; }
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

export interface MldAddressRecord {
  recordType: number;
  group: Ipv6Address;
  sources: Ipv6Address[];
  /** Auxiliary data, kept as found (whole 32-bit words). */
  auxData: Uint8Array;
}

interface Common {
  code: number;
  /** As found (parse) or to write (emit); undefined on emit computes it (needs a pseudo-header). */
  checksum?: number | undefined;
}
export type Icmpv6Repr =
  | (Common & { kind: 'echoRequest' | 'echoReply'; identifier: number; sequence: number; data: Uint8Array })
  | (Common & { kind: 'destinationUnreachable' | 'timeExceeded'; unused: number; original: Uint8Array })
  | (Common & { kind: 'packetTooBig'; mtu: number; original: Uint8Array })
  | (Common & { kind: 'parameterProblem'; pointer: number; original: Uint8Array })
  | (Common & { kind: 'routerSolicitation'; reserved: number; options: NdpOption[] })
  | (Common & {
      kind: 'routerAdvertisement';
      curHopLimit: number;
      /** M (0x80), O (0x40) and the rest of the flag byte. */
      flags: number;
      routerLifetime: number;
      reachableTime: number;
      retransTimer: number;
      options: NdpOption[];
    })
  | (Common & { kind: 'neighborSolicitation'; reserved: number; target: Ipv6Address; options: NdpOption[] })
  | (Common & { kind: 'neighborAdvertisement'; /** R/S/O and 29 reserved bits */ flags: number; target: Ipv6Address; options: NdpOption[] })
  | (Common & { kind: 'redirect'; reserved: number; target: Ipv6Address; destination: Ipv6Address; options: NdpOption[] })
  | (Common & { kind: 'mldV1Query' | 'mldV1Report' | 'mldV1Done'; maxResponseDelay: number; reserved: number; group: Ipv6Address })
  | (Common & {
      kind: 'mldV2Query';
      maxResponseCode: number;
      reserved: number;
      group: Ipv6Address;
      /** The 4 reserved bits before S. */
      reserved2: number;
      suppressRouterProcessing: boolean;
      qrv: number;
      qqic: number;
      sources: Ipv6Address[];
      /** Bytes after the source list (ignored by receivers, kept). */
      extra: Uint8Array;
    })
  | (Common & { kind: 'mldV2Report'; reserved: number; records: MldAddressRecord[] })
  | (Common & { kind: 'other'; type: number; /** bytes 4..7 */ rest: number; data: Uint8Array });

export interface Icmpv6ParseOptions {
  /** Verify the checksum against this pseudo-header. */
  pseudoHeader?: PseudoHeader;
}


export function parseIcmpv6(bytes: Uint8Array, offset = 0, available = bytes.length - offset, opts: Icmpv6ParseOptions = {}): Icmpv6Repr | ParseError {
  if (available < ICMPV6_HEADER_LEN) return truncated('icmpv6', `${available} bytes, header needs ${ICMPV6_HEADER_LEN}`);
  const p = new Icmpv6Packet(bytes, offset, available);
  if (opts.pseudoHeader && !p.verifyChecksum(opts.pseudoHeader)) return badChecksum('icmpv6');
  const b = bytes, o = offset, end = offset + available;
  const code = p.code, checksum = p.checksum;
  const rest = readU32(b, o + 4);
  const body = b.subarray(o + 8, end);
  const need = (n: number, what: string) => (available < n ? truncated('icmpv6', `${what} needs ${n} bytes, has ${available}`) : null);
  const options = (from: number) => parseNdpOptions(b.subarray(from, end));
  switch (p.type) {
    case Icmpv6Type.EchoRequest:
    case Icmpv6Type.EchoReply:
      return { kind: p.type === Icmpv6Type.EchoRequest ? 'echoRequest' : 'echoReply', code, checksum, identifier: rest >>> 16, sequence: rest & 0xffff, data: body };
    case Icmpv6Type.DestinationUnreachable:
    case Icmpv6Type.TimeExceeded:
      return { kind: p.type === Icmpv6Type.TimeExceeded ? 'timeExceeded' : 'destinationUnreachable', code, checksum, unused: rest, original: body };
    case Icmpv6Type.PacketTooBig:
      return { kind: 'packetTooBig', code, checksum, mtu: rest, original: body };
    case Icmpv6Type.ParameterProblem:
      return { kind: 'parameterProblem', code, checksum, pointer: rest, original: body };
    case Icmpv6Type.RouterSolicitation: {
      const os = options(o + 8);
      if (os instanceof ParseError) return os;
      return { kind: 'routerSolicitation', code, checksum, reserved: rest, options: os };
    }
    case Icmpv6Type.RouterAdvertisement: {
      const short = need(16, 'router advertisement');
      if (short) return short;
      const os = options(o + 16);
      if (os instanceof ParseError) return os;
      return {
        kind: 'routerAdvertisement', code, checksum, curHopLimit: b[o + 4]!, flags: b[o + 5]!, routerLifetime: (b[o + 6]! << 8) | b[o + 7]!,
        reachableTime: readU32(b, o + 8), retransTimer: readU32(b, o + 12), options: os,
      };
    }
    case Icmpv6Type.NeighborSolicitation:
    case Icmpv6Type.NeighborAdvertisement: {
      const short = need(24, 'neighbor message');
      if (short) return short;
      const os = options(o + 24);
      if (os instanceof ParseError) return os;
      const target = b.slice(o + 8, o + 24);
      return p.type === Icmpv6Type.NeighborSolicitation
        ? { kind: 'neighborSolicitation', code, checksum, reserved: rest, target, options: os }
        : { kind: 'neighborAdvertisement', code, checksum, flags: rest, target, options: os };
    }
    case Icmpv6Type.Redirect: {
      const short = need(40, 'redirect');
      if (short) return short;
      const os = options(o + 40);
      if (os instanceof ParseError) return os;
      return { kind: 'redirect', code, checksum, reserved: rest, target: b.slice(o + 8, o + 24), destination: b.slice(o + 24, o + 40), options: os };
    }
    case Icmpv6Type.MldQuery:
    case Icmpv6Type.MldV1Report:
    case Icmpv6Type.MldV1Done: {
      const short = need(24, 'MLD message');
      if (short) return short;
      const group = b.slice(o + 8, o + 24);
      const maxResponseDelay = rest >>> 16, reserved = rest & 0xffff;
      if (p.type !== Icmpv6Type.MldQuery || available === 24) {
        const kind = p.type === Icmpv6Type.MldQuery ? 'mldV1Query' : p.type === Icmpv6Type.MldV1Report ? 'mldV1Report' : 'mldV1Done';
        // RFC 2710 §3: an MLDv1 message is exactly 24 bytes.
        if (available !== 24) return malformed('icmpv6', `MLDv1 ${kind} of ${available} bytes`);
        return { kind, code, checksum, maxResponseDelay, reserved, group };
      }
      // RFC 3810 §8.1: 24 bytes is MLDv1; at least 28 is MLDv2; anything else is invalid.
      if (available < 28) return malformed('icmpv6', `MLD query of ${available} bytes`);
      const n = (b[o + 26]! << 8) | b[o + 27]!;
      if (28 + 16 * n > available) return truncated('icmpv6', `MLDv2 query lists ${n} sources`);
      const sources: Ipv6Address[] = [];
      for (let i = 0; i < n; i++) sources.push(b.slice(o + 28 + 16 * i, o + 44 + 16 * i));
      return {
        kind: 'mldV2Query', code, checksum, maxResponseCode: maxResponseDelay, reserved, group,
        reserved2: b[o + 24]! >>> 4, suppressRouterProcessing: (b[o + 24]! & 0x08) !== 0, qrv: b[o + 24]! & 7, qqic: b[o + 25]!,
        sources, extra: b.subarray(o + 28 + 16 * n, end),
      };
    }
    case Icmpv6Type.MldV2Report: {
      const count = rest & 0xffff;
      const records: MldAddressRecord[] = [];
      let at = o + 8;
      for (let r = 0; r < count; r++) {
        if (at + 20 > end) return truncated('icmpv6', `MLDv2 record ${r} of ${count} truncated`);
        const auxLen = b[at + 1]! * 4;
        const ns = (b[at + 2]! << 8) | b[at + 3]!;
        const recEnd = at + 20 + 16 * ns + auxLen;
        if (recEnd > end) return truncated('icmpv6', `MLDv2 record ${r} claims ${recEnd - at} bytes`);
        const sources: Ipv6Address[] = [];
        for (let i = 0; i < ns; i++) sources.push(b.slice(at + 20 + 16 * i, at + 36 + 16 * i));
        records.push({ recordType: b[at]!, group: b.slice(at + 4, at + 20), sources, auxData: b.subarray(recEnd - auxLen, recEnd) });
        at = recEnd;
      }
      if (at !== end) return malformed('icmpv6', `${end - at} bytes after the last MLDv2 record`);
      return { kind: 'mldV2Report', code, checksum, reserved: rest >>> 16, records };
    }
    default:
      return { kind: 'other', type: p.type, code, checksum, rest, data: body };
  }
}

const TYPE_OF = {
  echoRequest: 128, echoReply: 129, destinationUnreachable: 1, packetTooBig: 2, timeExceeded: 3, parameterProblem: 4,
  routerSolicitation: 133, routerAdvertisement: 134, neighborSolicitation: 135, neighborAdvertisement: 136, redirect: 137,
  mldV1Query: 130, mldV2Query: 130, mldV1Report: 131, mldV1Done: 132, mldV2Report: 143,
} as const;

export function icmpv6ReprLength(r: Icmpv6Repr): number {
  switch (r.kind) {
    case 'echoRequest':
    case 'echoReply':
    case 'other':
      return 8 + r.data.length;
    case 'destinationUnreachable':
    case 'timeExceeded':
    case 'packetTooBig':
    case 'parameterProblem':
      return 8 + r.original.length;
    case 'routerSolicitation':
      return 8 + ndpOptionsLength(r.options);
    case 'routerAdvertisement':
      return 16 + ndpOptionsLength(r.options);
    case 'neighborSolicitation':
    case 'neighborAdvertisement':
      return 24 + ndpOptionsLength(r.options);
    case 'redirect':
      return 40 + ndpOptionsLength(r.options);
    case 'mldV1Query':
    case 'mldV1Report':
    case 'mldV1Done':
      return 24;
    case 'mldV2Query':
      return 28 + 16 * r.sources.length + r.extra.length;
    case 'mldV2Report': {
      let n = 8;
      for (const rec of r.records) n += 20 + 16 * rec.sources.length + rec.auxData.length;
      return n;
    }
  }
}

/** Writes the message; the checksum is computed when `repr.checksum` is undefined (then `ph` is required). */
export function emitIcmpv6(repr: Icmpv6Repr, bytes: Uint8Array, offset = 0, ph?: PseudoHeader): number {
  const len = icmpv6ReprLength(repr);
  const b = bytes, o = offset;
  b[o] = repr.kind === 'other' ? repr.type : TYPE_OF[repr.kind];
  b[o + 1] = repr.code;
  b[o + 2] = 0;
  b[o + 3] = 0;
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
      writeU16(b, o + 4, repr.identifier);
      writeU16(b, o + 6, repr.sequence);
      b.set(repr.data, o + 8);
      break;
    case 'other':
      writeU32(b, o + 4, repr.rest);
      b.set(repr.data, o + 8);
      break;
    case 'destinationUnreachable':
    case 'timeExceeded':
      writeU32(b, o + 4, repr.unused);
      b.set(repr.original, o + 8);
      break;
    case 'packetTooBig':
      writeU32(b, o + 4, repr.mtu);
      b.set(repr.original, o + 8);
      break;
    case 'parameterProblem':
      writeU32(b, o + 4, repr.pointer);
      b.set(repr.original, o + 8);
      break;
    case 'routerSolicitation':
      writeU32(b, o + 4, repr.reserved);
      emitNdpOptions(repr.options, b, o + 8);
      break;
    case 'routerAdvertisement':
      b[o + 4] = repr.curHopLimit;
      b[o + 5] = repr.flags;
      writeU16(b, o + 6, repr.routerLifetime);
      writeU32(b, o + 8, repr.reachableTime);
      writeU32(b, o + 12, repr.retransTimer);
      emitNdpOptions(repr.options, b, o + 16);
      break;
    case 'neighborSolicitation':
    case 'neighborAdvertisement':
      writeU32(b, o + 4, repr.kind === 'neighborSolicitation' ? repr.reserved : repr.flags);
      b.set(repr.target.subarray(0, 16), o + 8);
      emitNdpOptions(repr.options, b, o + 24);
      break;
    case 'redirect':
      writeU32(b, o + 4, repr.reserved);
      b.set(repr.target.subarray(0, 16), o + 8);
      b.set(repr.destination.subarray(0, 16), o + 24);
      emitNdpOptions(repr.options, b, o + 40);
      break;
    case 'mldV1Query':
    case 'mldV1Report':
    case 'mldV1Done':
      writeU16(b, o + 4, repr.maxResponseDelay);
      writeU16(b, o + 6, repr.reserved);
      b.set(repr.group.subarray(0, 16), o + 8);
      break;
    case 'mldV2Query': {
      writeU16(b, o + 4, repr.maxResponseCode);
      writeU16(b, o + 6, repr.reserved);
      b.set(repr.group.subarray(0, 16), o + 8);
      b[o + 24] = ((repr.reserved2 & 0x0f) << 4) | (repr.suppressRouterProcessing ? 0x08 : 0) | (repr.qrv & 7);
      b[o + 25] = repr.qqic;
      writeU16(b, o + 26, repr.sources.length);
      repr.sources.forEach((s, i) => b.set(s.subarray(0, 16), o + 28 + 16 * i));
      b.set(repr.extra, o + 28 + 16 * repr.sources.length);
      break;
    }
    case 'mldV2Report': {
      writeU16(b, o + 4, repr.reserved);
      writeU16(b, o + 6, repr.records.length);
      let at = o + 8;
      for (const r of repr.records) {
        if (r.auxData.length % 4 !== 0) throw new RangeError('auxiliary data must be whole 32-bit words');
        b[at] = r.recordType;
        b[at + 1] = r.auxData.length / 4;
        writeU16(b, at + 2, r.sources.length);
        b.set(r.group.subarray(0, 16), at + 4);
        at += 20;
        for (const s of r.sources) {
          b.set(s.subarray(0, 16), at);
          at += 16;
        }
        b.set(r.auxData, at);
        at += r.auxData.length;
      }
      break;
    }
  }
  const p = new Icmpv6Packet(bytes, offset, len);
  if (repr.checksum !== undefined) p.checksum = repr.checksum;
  else if (ph) p.fillChecksum(ph);
  else throw new TypeError('emitIcmpv6: a pseudo-header is needed to compute the checksum');
  return len;
}

export function formatIcmpv6(r: Icmpv6Repr): string {
  switch (r.kind) {
    case 'echoRequest':
    case 'echoReply':
      return `ICMPv6 ${r.kind === 'echoRequest' ? 'echo request' : 'echo reply'} id=${r.identifier} seq=${r.sequence}`;
    case 'neighborSolicitation':
      return `ICMPv6 neighbor solicitation who-has ${formatIpv6(r.target)}`;
    case 'neighborAdvertisement':
      return `ICMPv6 neighbor advertisement ${formatIpv6(r.target)}`;
    case 'packetTooBig':
      return `ICMPv6 packet too big mtu=${r.mtu}`;
    case 'other':
      return `ICMPv6 type=${r.type} code=${r.code}`;
    default:
      return `ICMPv6 ${r.kind} code=${r.code}`;
  }
}

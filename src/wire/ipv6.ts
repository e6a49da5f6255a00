// IPv6 (RFC 8200) with its extension-header chain (§4): hop-by-hop options (§4.3),
// routing (§4.4), fragment (§4.5), destination options (§4.6), and the authentication
// header (RFC 4302 §2) so that AH-protected packets can be walked.

import type { PseudoHeader } from './checksum.js';
import { malformed, truncated, ParseError, ParseErrorKind } from './error.js';
import { formatIpv6, type Ipv6Address } from './address.js';

export const IPV6_HEADER_LEN = 40;

export const NextHeader = {
  HopByHop: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  Routing: 43,
  Fragment: 44,
  ESP: 50,
  AH: 51,
  ICMPv6: 58,
  NoNextHeader: 59,
  DestinationOptions: 60,
} as const;

/** Option types inside hop-by-hop and destination-options headers (RFC 8200 §4.2). */
export const Ipv6OptionType = {
  Pad1: 0,
  PadN: 1,
  Jumbo: 0xc2, // RFC 2675
  RouterAlert: 0x05, // RFC 2711
} as const;

/** A longer chain than this is treated as an attack, not a packet. */
export const MAX_EXTENSION_HEADERS = 8;

export function isExtensionHeader(nh: number): boolean {
  return nh === NextHeader.HopByHop || nh === NextHeader.Routing || nh === NextHeader.Fragment ||
    nh === NextHeader.DestinationOptions || nh === NextHeader.AH;
}

export class Ipv6Packet {
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
  get trafficClass(): number {
    const b = this.bytes, o = this.offset;
    return ((b[o]! & 0x0f) << 4) | (b[o + 1]! >>> 4);
  }
  get flowLabel(): number {
    const b = this.bytes, o = this.offset;
    return ((b[o + 1]! & 0x0f) << 16) | (b[o + 2]! << 8) | b[o + 3]!;
  }
  /** Writes version 6, traffic class and flow label at once. */
  setVersionClassFlow(trafficClass: number, flowLabel: number): void {
    const b = this.bytes, o = this.offset;
    b[o] = 0x60 | ((trafficClass >>> 4) & 0x0f);
    b[o + 1] = ((trafficClass & 0x0f) << 4) | ((flowLabel >>> 16) & 0x0f);
    b[o + 2] = (flowLabel >>> 8) & 0xff;
    b[o + 3] = flowLabel & 0xff;
  }
  get payloadLength(): number { return (this.bytes[this.offset + 4]! << 8) | this.bytes[this.offset + 5]!; }
  set payloadLength(v: number) {
    this.bytes[this.offset + 4] = v >>> 8;
    this.bytes[this.offset + 5] = v & 0xff;
  }
  get nextHeader(): number { return this.bytes[this.offset + 6]!; }
  set nextHeader(v: number) { this.bytes[this.offset + 6] = v; }
  get hopLimit(): number { return this.bytes[this.offset + 7]!; }
  set hopLimit(v: number) { this.bytes[this.offset + 7] = v; }
  /** Offset of the source address (16 bytes) in `bytes`. */
  get srcOffset(): number { return this.offset + 8; }
  get dstOffset(): number { return this.offset + 24; }
  copySrc(out: Uint8Array, at = 0): void {
    for (let i = 0; i < 16; i++) out[at + i] = this.bytes[this.offset + 8 + i]!;
  }
  copyDst(out: Uint8Array, at = 0): void {
    for (let i = 0; i < 16; i++) out[at + i] = this.bytes[this.offset + 24 + i]!;
  }
  setSrc(a: Ipv6Address): void { this.bytes.set(a.subarray(0, 16), this.offset + 8); }
  setDst(a: Ipv6Address): void { this.bytes.set(a.subarray(0, 16), this.offset + 24); }
  get payloadOffset(): number { return this.offset + IPV6_HEADER_LEN; }
}

export interface Ipv6Option {
  /** Option type; Pad1 (0) has no length or data. */
  type: number;
  data: Uint8Array;
}

export type Ipv6ExtensionHeader =
  | { kind: 'hopByHop'; options: Ipv6Option[] }
  | { kind: 'destinationOptions'; options: Ipv6Option[] }
  | { kind: 'routing'; routingType: number; segmentsLeft: number; /** type-specific data after the first 4 bytes */ data: Uint8Array }
  | { kind: 'fragment'; /** in 8-octet units */ fragmentOffset: number; moreFragments: boolean; identification: number; /** byte 1 and the 2 reserved bits */ reserved: number }
  | { kind: 'authentication'; /** everything after the first 2 bytes */ data: Uint8Array };

export interface Ipv6Repr {
  trafficClass: number;
  flowLabel: number;
  hopLimit: number;
  src: Ipv6Address;
  dst: Ipv6Address;
  /** In wire order; each one's Next Header is the code of the following one, or `upperProtocol`. */
  extensionHeaders: Ipv6ExtensionHeader[];
  /** The Next Header value that ends the chain (TCP, UDP, ICMPv6, No Next Header, ESP, or unknown). */
  upperProtocol: number;
  /** The bytes after the chain (for a non-first fragment: the fragment data). */
  payload: Uint8Array;
}

function extensionCode(h: Ipv6ExtensionHeader): number {
  switch (h.kind) {
    case 'hopByHop': return NextHeader.HopByHop;
    case 'destinationOptions': return NextHeader.DestinationOptions;
    case 'routing': return NextHeader.Routing;
    case 'fragment': return NextHeader.Fragment;
    case 'authentication': return NextHeader.AH;
  }
}

/** TLV options of a hop-by-hop or destination-options header (RFC 8200 §4.2). */
export function parseIpv6Options(bytes: Uint8Array): Ipv6Option[] | ParseError {
  const out: Ipv6Option[] = [];
  let i = 0;
  while (i < bytes.length) {
    const type = bytes[i]!;
    if (type === Ipv6OptionType.Pad1) {
      out.push({ type, data: bytes.subarray(i + 1, i + 1) });
      i++;
      continue;
    }
    if (i + 2 > bytes.length) return new ParseError(ParseErrorKind.OptionOverflow, 'ipv6', `option ${type} has no length octet`);
    const len = bytes[i + 1]!;
    if (i + 2 + len > bytes.length) return new ParseError(ParseErrorKind.OptionOverflow, 'ipv6', `option ${type} of ${len} bytes runs past its header`);
    out.push({ type, data: bytes.subarray(i + 2, i + 2 + len) });
    i += 2 + len;
  }
  return out;
}

export interface Ipv6ParseOptions {
  /** Stop at the fixed header and return the rest as payload (for callers that walk the chain themselves). */
  fixedHeaderOnly?: boolean;
}

export function parseIpv6(bytes: Uint8Array, offset = 0, available = bytes.length - offset, opts: Ipv6ParseOptions = {}): Ipv6Repr | ParseError {
  if (available < IPV6_HEADER_LEN) return truncated('ipv6', `${available} bytes, header needs ${IPV6_HEADER_LEN}`);
  const p = new Ipv6Packet(bytes, offset);
  if (p.version !== 6) return malformed('ipv6', `version ${p.version}`);
  const plen = p.payloadLength;
  let nh = p.nextHeader;
  // RFC 2675: payload length 0 with a hop-by-hop header announces a jumbogram.
  if (plen === 0 && nh === NextHeader.HopByHop) return new ParseError(ParseErrorKind.Unsupported, 'ipv6', 'jumbogram (RFC 2675)');
  if (IPV6_HEADER_LEN + plen > available) return truncated('ipv6', `payload length ${plen} > ${available - IPV6_HEADER_LEN} available`);
  const end = offset + IPV6_HEADER_LEN + plen;
  const src = new Uint8Array(16), dst = new Uint8Array(16);
  p.copySrc(src);
  p.copyDst(dst);
  const headers: Ipv6ExtensionHeader[] = [];
  let at = offset + IPV6_HEADER_LEN;
  let destOptsSeen = 0;
  let seen = 0; // bit set of extension codes met, for RFC 8200 §4.1's "at most once"
  let fragmentData = false;
  let firstFragment = false;
  while (!opts.fixedHeaderOnly && isExtensionHeader(nh) && !fragmentData) {
    if (headers.length === MAX_EXTENSION_HEADERS) return new ParseError(ParseErrorKind.HeaderChain, 'ipv6', `more than ${MAX_EXTENSION_HEADERS} extension headers`);
    // RFC 8200 §4.1: hop-by-hop only immediately after the IPv6 header.
    if (nh === NextHeader.HopByHop && headers.length > 0) return malformed('ipv6', 'hop-by-hop header not first');
    if (nh === NextHeader.DestinationOptions) {
      if (++destOptsSeen > 2) return new ParseError(ParseErrorKind.HeaderChain, 'ipv6', 'destination options more than twice');
    } else {
      const bit = nh === NextHeader.HopByHop ? 1 : nh === NextHeader.Routing ? 2 : nh === NextHeader.Fragment ? 4 : 8;
      if (seen & bit) return new ParseError(ParseErrorKind.HeaderChain, 'ipv6', `extension header ${nh} repeated`);
      seen |= bit;
    }
    const chainError = (what: string) =>
      firstFragment
        ? new ParseError(ParseErrorKind.HeaderChain, 'ipv6', `first fragment does not hold the whole header chain (RFC 7112): ${what}`)
        : truncated('ipv6', what);
    if (at + 2 > end) return chainError(`extension header ${nh} truncated`);
    const next = bytes[at]!;
    let len: number;
    if (nh === NextHeader.Fragment) {
      len = 8;
      if (at + len > end) return chainError('fragment header truncated');
      const fo = (bytes[at + 2]! << 8) | bytes[at + 3]!;
      const h: Ipv6ExtensionHeader = {
        kind: 'fragment',
        fragmentOffset: fo >>> 3,
        moreFragments: (fo & 1) === 1,
        identification: ((bytes[at + 4]! << 24) | (bytes[at + 5]! << 16) | (bytes[at + 6]! << 8) | bytes[at + 7]!) >>> 0,
        reserved: (bytes[at + 1]! << 8) | ((fo >>> 1) & 3),
      };
      headers.push(h);
      // RFC 8200 §4.5: only the first fragment carries the rest of the chain.
      if (h.fragmentOffset !== 0) fragmentData = true;
      else firstFragment = true;
    } else if (nh === NextHeader.AH) {
      len = (bytes[at + 1]! + 2) * 4;
      if (at + len > end) return chainError('authentication header truncated');
      headers.push({ kind: 'authentication', data: bytes.subarray(at + 2, at + len) });
    } else {
      len = (bytes[at + 1]! + 1) * 8;
      if (at + len > end) return chainError(`extension header ${nh} of ${len} bytes truncated`);
      if (nh === NextHeader.Routing) {
        headers.push({ kind: 'routing', routingType: bytes[at + 2]!, segmentsLeft: bytes[at + 3]!, data: bytes.subarray(at + 4, at + len) });
      } else {
        const options = parseIpv6Options(bytes.subarray(at + 2, at + len));
        if (options instanceof ParseError) return options;
        headers.push({ kind: nh === NextHeader.HopByHop ? 'hopByHop' : 'destinationOptions', options });
      }
    }
    nh = next;
    at += len;
  }
  return {
    trafficClass: p.trafficClass,
    flowLabel: p.flowLabel,
    hopLimit: p.hopLimit,
    src,
    dst,
    extensionHeaders: headers,
    upperProtocol: nh,
    payload: bytes.subarray(at, end),
  };
}

function optionsLength(options: Ipv6Option[]): number {
  let n = 0;
  for (const o of options) n += o.type === Ipv6OptionType.Pad1 ? 1 : 2 + o.data.length;
  return n;
}

export function extensionHeaderLength(h: Ipv6ExtensionHeader): number {
  switch (h.kind) {
    case 'hopByHop':
    case 'destinationOptions':
      return (2 + optionsLength(h.options) + 7) & ~7;
    case 'routing':
      return (4 + h.data.length + 7) & ~7;
    case 'fragment':
      return 8;
    case 'authentication':
      return (2 + h.data.length + 3) & ~3;
  }
}

export function ipv6HeaderChainLength(repr: Pick<Ipv6Repr, 'extensionHeaders'>): number {
  let n = IPV6_HEADER_LEN;
  for (const h of repr.extensionHeaders) n += extensionHeaderLength(h);
  return n;
}

export function ipv6ReprLength(repr: Ipv6Repr): number {
  return ipv6HeaderChainLength(repr) + repr.payload.length;
}

function writeOptions(options: Ipv6Option[], bytes: Uint8Array, at: number, end: number): void {
  for (const o of options) {
    bytes[at++] = o.type;
    if (o.type === Ipv6OptionType.Pad1) continue;
    bytes[at++] = o.data.length;
    bytes.set(o.data, at);
    at += o.data.length;
  }
  // RFC 8200 §4.2: fill to a multiple of 8 with Pad1 or PadN.
  const gap = end - at;
  if (gap === 1) bytes[at] = Ipv6OptionType.Pad1;
  else if (gap > 1) {
    bytes[at] = Ipv6OptionType.PadN;
    bytes[at + 1] = gap - 2;
    bytes.fill(0, at + 2, end);
  }
}

/** Writes the fixed header, the extension headers and the payload; returns the bytes written. */
export function emitIpv6(repr: Ipv6Repr, bytes: Uint8Array, offset = 0): number {
  const total = ipv6ReprLength(repr);
  if (total - IPV6_HEADER_LEN > 0xffff) throw new RangeError(`IPv6 payload of ${total - IPV6_HEADER_LEN} bytes needs a jumbogram`);
  const p = new Ipv6Packet(bytes, offset);
  p.setVersionClassFlow(repr.trafficClass, repr.flowLabel);
  p.payloadLength = total - IPV6_HEADER_LEN;
  const hs = repr.extensionHeaders;
  p.nextHeader = hs.length ? extensionCode(hs[0]!) : repr.upperProtocol;
  p.hopLimit = repr.hopLimit;
  p.setSrc(repr.src);
  p.setDst(repr.dst);
  let at = offset + IPV6_HEADER_LEN;
  for (let k = 0; k < hs.length; k++) {
    const h = hs[k]!;
    const len = extensionHeaderLength(h);
    bytes[at] = k + 1 < hs.length ? extensionCode(hs[k + 1]!) : repr.upperProtocol;
    switch (h.kind) {
      case 'hopByHop':
      case 'destinationOptions':
        bytes[at + 1] = len / 8 - 1;
        writeOptions(h.options, bytes, at + 2, at + len);
        break;
      case 'routing':
        if ((4 + h.data.length) % 8 !== 0) throw new RangeError('routing header data must make the header a multiple of 8 bytes');
        bytes[at + 1] = len / 8 - 1;
        bytes[at + 2] = h.routingType;
        bytes[at + 3] = h.segmentsLeft;
        bytes.set(h.data, at + 4);
        break;
      case 'fragment': {
        bytes[at + 1] = (h.reserved >>> 8) & 0xff;
        const fo = ((h.fragmentOffset & 0x1fff) << 3) | ((h.reserved & 3) << 1) | (h.moreFragments ? 1 : 0);
        bytes[at + 2] = fo >>> 8;
        bytes[at + 3] = fo & 0xff;
        const id = h.identification;
        bytes[at + 4] = id >>> 24;
        bytes[at + 5] = (id >>> 16) & 0xff;
        bytes[at + 6] = (id >>> 8) & 0xff;
        bytes[at + 7] = id & 0xff;
        break;
      }
      case 'authentication':
        if ((2 + h.data.length) % 4 !== 0) throw new RangeError('authentication header must be a multiple of 4 bytes');
        bytes[at + 1] = len / 4 - 2;
        bytes.set(h.data, at + 2);
        break;
    }
    at += len;
  }
  if (repr.payload.length && (repr.payload.buffer !== bytes.buffer || repr.payload.byteOffset !== bytes.byteOffset + at)) {
    bytes.set(repr.payload, at);
  }
  return total;
}

/** The fragment header of a packet, if it has one. */
export function ipv6Fragment(repr: Ipv6Repr): Extract<Ipv6ExtensionHeader, { kind: 'fragment' }> | undefined {
  for (const h of repr.extensionHeaders) if (h.kind === 'fragment') return h;
  return undefined;
}

/**
 * RFC 8200 §8.1: the upper-layer checksum uses the final destination; with a routing
 * header that still has segments left, that is the last address of the route.
 * Type 0 (deprecated, RFC 5095) and type 2 (RFC 6275) list addresses after 4 reserved
 * bytes; Segment Routing (type 4, RFC 8754 §2) keeps the final segment at index 0.
 */
export function ipv6PseudoHeader(repr: Ipv6Repr): PseudoHeader {
  let dst = repr.dst;
  for (const h of repr.extensionHeaders) {
    if (h.kind !== 'routing' || h.segmentsLeft === 0) continue;
    if ((h.routingType === 0 || h.routingType === 2) && h.data.length >= 20 && (h.data.length - 4) % 16 === 0) {
      dst = h.data.subarray(h.data.length - 16);
    } else if (h.routingType === 4 && h.data.length >= 20) {
      dst = h.data.subarray(4, 20);
    }
  }
  return { version: 6, src: repr.src, dst };
}

export function formatIpv6Repr(repr: Ipv6Repr): string {
  const ext = repr.extensionHeaders.map((h) => h.kind).join(',');
  return `IPv6 ${formatIpv6(repr.src)} > ${formatIpv6(repr.dst)} nh=${repr.upperProtocol} hlim=${repr.hopLimit}${ext ? ` ext=${ext}` : ''} len=${repr.payload.length}`;
}

// Neighbor Discovery options (RFC 4861 §4.6) and RDNSS (RFC 8106 §5.1).
// Lengths on the wire are in units of 8 octets, type and length included.

import { malformed, ParseError, ParseErrorKind } from './error.js';
import type { Ipv6Address } from './address.js';
import { readU32, writeU32 } from './bytes.js';

export const NdpOptionType = {
  SourceLinkLayerAddress: 1,
  TargetLinkLayerAddress: 2,
  PrefixInformation: 3,
  RedirectedHeader: 4,
  Mtu: 5,
  Rdnss: 25,
} as const;

export type NdpOption =
  | { kind: 'sourceLinkLayerAddress'; /** 6 bytes on Ethernet, plus any padding, kept */ address: Uint8Array }
  | { kind: 'targetLinkLayerAddress'; address: Uint8Array }
  | {
      kind: 'prefixInformation';
      prefixLength: number;
      onLink: boolean;
      autonomous: boolean;
      /** The other 6 flag bits (router address R, etc.), kept as found. */
      otherFlags: number;
      validLifetime: number;
      preferredLifetime: number;
      reserved: number;
      prefix: Ipv6Address;
    }
  | { kind: 'redirectedHeader'; /** 6 reserved bytes */ reserved: Uint8Array; packet: Uint8Array }
  | { kind: 'mtu'; reserved: number; mtu: number }
  | { kind: 'rdnss'; reserved: number; lifetime: number; servers: Ipv6Address[] }
  | { kind: 'unknown'; type: number; data: Uint8Array };


export function parseNdpOptions(bytes: Uint8Array): NdpOption[] | ParseError {
  const out: NdpOption[] = [];
  let i = 0;
  while (i < bytes.length) {
    if (i + 2 > bytes.length) return new ParseError(ParseErrorKind.OptionOverflow, 'ndp', 'option header cut short');
    const type = bytes[i]!;
    const units = bytes[i + 1]!;
    // RFC 4861 §4.6: a zero length must make the whole packet be discarded.
    if (units === 0) return malformed('ndp', `option ${type} has length 0`);
    const len = units * 8;
    if (i + len > bytes.length) return new ParseError(ParseErrorKind.OptionOverflow, 'ndp', `option ${type} of ${len} bytes runs past the message`);
    const o = bytes.subarray(i, i + len);
    switch (type) {
      case NdpOptionType.SourceLinkLayerAddress:
      case NdpOptionType.TargetLinkLayerAddress:
        out.push(type === NdpOptionType.SourceLinkLayerAddress
          ? { kind: 'sourceLinkLayerAddress', address: o.subarray(2) }
          : { kind: 'targetLinkLayerAddress', address: o.subarray(2) });
        break;
      case NdpOptionType.PrefixInformation:
        if (units !== 4) return malformed('ndp', `prefix information of length ${units}, must be 4`);
        out.push({
          kind: 'prefixInformation', prefixLength: o[2]!, onLink: (o[3]! & 0x80) !== 0, autonomous: (o[3]! & 0x40) !== 0, otherFlags: o[3]! & 0x3f,
          validLifetime: readU32(o, 4), preferredLifetime: readU32(o, 8), reserved: readU32(o, 12), prefix: o.slice(16, 32),
        });
        break;
      case NdpOptionType.RedirectedHeader:
        out.push({ kind: 'redirectedHeader', reserved: o.subarray(2, 8), packet: o.subarray(8) });
        break;
      case NdpOptionType.Mtu:
        if (units !== 1) return malformed('ndp', `MTU option of length ${units}, must be 1`);
        out.push({ kind: 'mtu', reserved: (o[2]! << 8) | o[3]!, mtu: readU32(o, 4) });
        break;
      case NdpOptionType.Rdnss: {
        // RFC 8106 §5.1: length 3 + 2n, n ≥ 1.
        if (units < 3 || units % 2 === 0) return malformed('ndp', `RDNSS of length ${units}`);
        const servers: Ipv6Address[] = [];
        for (let p = 8; p < len; p += 16) servers.push(o.slice(p, p + 16));
        out.push({ kind: 'rdnss', reserved: (o[2]! << 8) | o[3]!, lifetime: readU32(o, 4), servers });
        break;
      }
      default:
        out.push({ kind: 'unknown', type, data: o.subarray(2) });
    }
    i += len;
  }
  return out;
}

function rawLength(o: NdpOption): number {
  switch (o.kind) {
    case 'sourceLinkLayerAddress':
    case 'targetLinkLayerAddress': return 2 + o.address.length;
    case 'prefixInformation': return 32;
    case 'redirectedHeader': return 8 + o.packet.length;
    case 'mtu': return 8;
    case 'rdnss': return 8 + 16 * o.servers.length;
    case 'unknown': return 2 + o.data.length;
  }
}

/** Bytes an option takes on the wire, padded with zeros to whole 8-octet units. */
export function ndpOptionLength(o: NdpOption): number {
  return (rawLength(o) + 7) & ~7;
}

export function ndpOptionsLength(options: NdpOption[]): number {
  let n = 0;
  for (const o of options) n += ndpOptionLength(o);
  return n;
}

export function emitNdpOptions(options: NdpOption[], bytes: Uint8Array, offset: number): number {
  let at = offset;
  for (const o of options) {
    const len = ndpOptionLength(o);
    if (len > 255 * 8) throw new RangeError('NDP option too long');
    bytes.fill(0, at, at + len);
    bytes[at + 1] = len / 8;
    switch (o.kind) {
      case 'sourceLinkLayerAddress':
      case 'targetLinkLayerAddress':
        bytes[at] = o.kind === 'sourceLinkLayerAddress' ? 1 : 2;
        bytes.set(o.address, at + 2);
        break;
      case 'prefixInformation':
        bytes[at] = NdpOptionType.PrefixInformation;
        bytes[at + 2] = o.prefixLength;
        bytes[at + 3] = (o.onLink ? 0x80 : 0) | (o.autonomous ? 0x40 : 0) | (o.otherFlags & 0x3f);
        writeU32(bytes, at + 4, o.validLifetime);
        writeU32(bytes, at + 8, o.preferredLifetime);
        writeU32(bytes, at + 12, o.reserved);
        bytes.set(o.prefix.subarray(0, 16), at + 16);
        break;
      case 'redirectedHeader':
        bytes[at] = NdpOptionType.RedirectedHeader;
        bytes.set(o.reserved.subarray(0, 6), at + 2);
        bytes.set(o.packet, at + 8);
        break;
      case 'mtu':
        bytes[at] = NdpOptionType.Mtu;
        bytes[at + 2] = o.reserved >>> 8;
        bytes[at + 3] = o.reserved & 0xff;
        writeU32(bytes, at + 4, o.mtu);
        break;
      case 'rdnss':
        bytes[at] = NdpOptionType.Rdnss;
        bytes[at + 2] = o.reserved >>> 8;
        bytes[at + 3] = o.reserved & 0xff;
        writeU32(bytes, at + 4, o.lifetime);
        o.servers.forEach((s, k) => bytes.set(s.subarray(0, 16), at + 8 + 16 * k));
        break;
      case 'unknown':
        bytes[at] = o.type;
        bytes.set(o.data, at + 2);
        break;
    }
    at += len;
  }
  return at - offset;
}

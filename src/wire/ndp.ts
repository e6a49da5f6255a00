// Neighbor Discovery options (RFC 4861 §4.6) and Recursive DNS Server (RFC 8106 §5.1).
// Each option is type, length (in units of 8 octets, type and length included), data.

import { malformed, ParseError, ParseErrorKind } from './error.js';
import type { Ipv6Address } from './address.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';

export const NdpOptionType = {
  SourceLinkLayerAddress: 1,
  TargetLinkLayerAddress: 2,
  PrefixInformation: 3,
  RedirectedHeader: 4,
  Mtu: 5,
  Rdnss: 25,
} as const;

/** Flag bits of the Prefix Information option's flag byte (RFC 4861 §4.6.2). */
export const PrefixInformationFlags = { OnLink: 0x80, Autonomous: 0x40 } as const;

/** The option unit: lengths count 8-octet blocks. */
export const NDP_OPTION_UNIT = 8;
/** Most bytes an option can take: 255 units. */
export const NDP_OPTION_MAX_LEN = 255 * NDP_OPTION_UNIT;

export type NdpOption =
  | {
      kind: 'sourceLinkLayerAddress';
      /**
       * The option's data after type and length: the 6-byte MAC on Ethernet (length 1);
       * longer options are kept raw, padding included (RFC 4861 §4.6.1).
       */
      address: Uint8Array;
    }
  | { kind: 'targetLinkLayerAddress'; address: Uint8Array }
  | {
      kind: 'prefixInformation';
      prefixLength: number;
      /** L flag. */
      onLink: boolean;
      /** A flag. */
      autonomous: boolean;
      /** The other 6 flag bits (RFC 6275's R, ...), kept as found. */
      otherFlags: number;
      /** Seconds; 0xffffffff is infinity. */
      validLifetime: number;
      preferredLifetime: number;
      /** Reserved2. */
      reserved: number;
      prefix: Ipv6Address;
    }
  | { kind: 'redirectedHeader'; /** 6 reserved bytes */ reserved: Uint8Array; /** the start of the redirected packet, with its padding */ packet: Uint8Array }
  | { kind: 'mtu'; reserved: number; mtu: number }
  | { kind: 'rdnss'; reserved: number; /** seconds */ lifetime: number; servers: Ipv6Address[] }
  | { kind: 'unknown'; type: number; /** everything after type and length */ data: Uint8Array };

function overflow(detail: string): ParseError {
  return new ParseError(ParseErrorKind.OptionOverflow, 'ndp', detail);
}

/**
 * Parses the options filling bytes[offset, offset+available). A zero length is Malformed
 * (RFC 4861 §4.6: the packet must be discarded); an option running past the end is
 * OptionOverflow. Known options of a length their RFC forbids are Malformed.
 */
export function parseNdpOptions(bytes: Uint8Array, offset = 0, available = bytes.length - offset): NdpOption[] | ParseError {
  const out: NdpOption[] = [];
  const end = offset + available;
  let i = offset;
  while (i < end) {
    if (i + 2 > end) return overflow('option header cut short');
    const type = bytes[i]!;
    const units = bytes[i + 1]!;
    if (units === 0) return malformed('ndp', `option ${type} has length 0`);
    const len = units * NDP_OPTION_UNIT;
    if (i + len > end) return overflow(`option ${type} of ${len} bytes runs past the message (${end - i} left)`);
    switch (type) {
      case NdpOptionType.SourceLinkLayerAddress:
        out.push({ kind: 'sourceLinkLayerAddress', address: bytes.subarray(i + 2, i + len) });
        break;
      case NdpOptionType.TargetLinkLayerAddress:
        out.push({ kind: 'targetLinkLayerAddress', address: bytes.subarray(i + 2, i + len) });
        break;
      case NdpOptionType.PrefixInformation: {
        if (units !== 4) return malformed('ndp', `prefix information of length ${units}, must be 4 (RFC 4861 §4.6.2)`);
        const flags = bytes[i + 3]!;
        out.push({
          kind: 'prefixInformation', prefixLength: bytes[i + 2]!,
          onLink: (flags & PrefixInformationFlags.OnLink) !== 0, autonomous: (flags & PrefixInformationFlags.Autonomous) !== 0, otherFlags: flags & 0x3f,
          validLifetime: readU32(bytes, i + 4), preferredLifetime: readU32(bytes, i + 8), reserved: readU32(bytes, i + 12), prefix: bytes.slice(i + 16, i + 32),
        });
        break;
      }
      case NdpOptionType.RedirectedHeader:
        out.push({ kind: 'redirectedHeader', reserved: bytes.subarray(i + 2, i + 8), packet: bytes.subarray(i + 8, i + len) });
        break;
      case NdpOptionType.Mtu:
        if (units !== 1) return malformed('ndp', `MTU option of length ${units}, must be 1 (RFC 4861 §4.6.4)`);
        out.push({ kind: 'mtu', reserved: readU16(bytes, i + 2), mtu: readU32(bytes, i + 4) });
        break;
      case NdpOptionType.Rdnss: {
        // RFC 8106 §5.1: length 3 + 2n for n ≥ 1 addresses.
        if (units < 3 || units % 2 === 0) return malformed('ndp', `RDNSS of length ${units}, must be odd and at least 3 (RFC 8106 §5.1)`);
        const servers: Ipv6Address[] = [];
        for (let p = i + 8; p < i + len; p += 16) servers.push(bytes.slice(p, p + 16));
        out.push({ kind: 'rdnss', reserved: readU16(bytes, i + 2), lifetime: readU32(bytes, i + 4), servers });
        break;
      }
      default:
        // RFC 4861 §4.6: unknown options are skipped, and kept here for re-emit.
        out.push({ kind: 'unknown', type, data: bytes.subarray(i + 2, i + len) });
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

export function ndpOptionsLength(options: readonly NdpOption[]): number {
  let n = 0;
  for (let k = 0; k < options.length; k++) n += ndpOptionLength(options[k]!);
  return n;
}

/** The first option of `kind`, or undefined. */
export function findNdpOption<K extends NdpOption['kind']>(options: readonly NdpOption[], kind: K): Extract<NdpOption, { kind: K }> | undefined {
  for (let k = 0; k < options.length; k++) if (options[k]!.kind === kind) return options[k] as Extract<NdpOption, { kind: K }>;
  return undefined;
}

/** Copies `src` to bytes[at..] unless it is already there (zero-copy emit). */
function place(src: Uint8Array, bytes: Uint8Array, at: number): void {
  if (src.length && (src.buffer !== bytes.buffer || src.byteOffset !== bytes.byteOffset + at)) bytes.set(src, at);
}

/** Writes the options at `offset`, each zero-padded to whole units; returns the bytes written. */
export function emitNdpOptions(options: readonly NdpOption[], bytes: Uint8Array, offset: number): number {
  let at = offset;
  for (let k = 0; k < options.length; k++) {
    const o = options[k]!;
    const len = ndpOptionLength(o);
    if (len > NDP_OPTION_MAX_LEN) throw new RangeError(`NDP option of ${len} bytes exceeds ${NDP_OPTION_MAX_LEN}`);
    // Zero the padding only: data already in place (a parsed option re-emitted) stays.
    bytes.fill(0, at + rawLength(o), at + len);
    bytes[at + 1] = len / NDP_OPTION_UNIT;
    switch (o.kind) {
      case 'sourceLinkLayerAddress':
      case 'targetLinkLayerAddress':
        bytes[at] = o.kind === 'sourceLinkLayerAddress' ? NdpOptionType.SourceLinkLayerAddress : NdpOptionType.TargetLinkLayerAddress;
        place(o.address, bytes, at + 2);
        break;
      case 'prefixInformation':
        bytes[at] = NdpOptionType.PrefixInformation;
        bytes[at + 2] = o.prefixLength;
        bytes[at + 3] = (o.onLink ? PrefixInformationFlags.OnLink : 0) | (o.autonomous ? PrefixInformationFlags.Autonomous : 0) | (o.otherFlags & 0x3f);
        writeU32(bytes, at + 4, o.validLifetime);
        writeU32(bytes, at + 8, o.preferredLifetime);
        writeU32(bytes, at + 12, o.reserved);
        bytes.set(o.prefix.subarray(0, 16), at + 16);
        break;
      case 'redirectedHeader':
        if (o.reserved.length !== 6) throw new RangeError('redirected header: reserved must be 6 bytes');
        bytes[at] = NdpOptionType.RedirectedHeader;
        place(o.reserved, bytes, at + 2);
        place(o.packet, bytes, at + 8);
        break;
      case 'mtu':
        bytes[at] = NdpOptionType.Mtu;
        writeU16(bytes, at + 2, o.reserved);
        writeU32(bytes, at + 4, o.mtu);
        break;
      case 'rdnss':
        if (o.servers.length === 0) throw new RangeError('RDNSS needs at least one server (RFC 8106 §5.1)');
        bytes[at] = NdpOptionType.Rdnss;
        writeU16(bytes, at + 2, o.reserved);
        writeU32(bytes, at + 4, o.lifetime);
        for (let s = 0; s < o.servers.length; s++) bytes.set(o.servers[s]!.subarray(0, 16), at + 8 + 16 * s);
        break;
      case 'unknown':
        bytes[at] = o.type;
        place(o.data, bytes, at + 2);
        break;
    }
    at += len;
  }
  return at - offset;
}

export function formatNdpOption(o: NdpOption): string {
  switch (o.kind) {
    case 'sourceLinkLayerAddress':
    case 'targetLinkLayerAddress':
      return `${o.kind === 'sourceLinkLayerAddress' ? 'sll' : 'tll'} ${hexBytes(o.address)}`;
    case 'prefixInformation':
      return `prefix ${o.prefixLength}${o.onLink ? ' L' : ''}${o.autonomous ? ' A' : ''} valid=${o.validLifetime} preferred=${o.preferredLifetime}`;
    case 'redirectedHeader':
      return `redirected ${o.packet.length} bytes`;
    case 'mtu':
      return `mtu ${o.mtu}`;
    case 'rdnss':
      return `rdnss ${o.servers.length} lifetime=${o.lifetime}`;
    case 'unknown':
      return `option ${o.type} ${o.data.length} bytes`;
  }
}

function hexBytes(a: Uint8Array): string {
  let s = '';
  for (let k = 0; k < a.length; k++) s += (k ? ':' : '') + a[k]!.toString(16).padStart(2, '0');
  return s;
}

// ICMP for IPv4 (RFC 792), fragmentation-needed MTU (RFC 1191 §4). The 4 bytes after the
// checksum are kept exactly (RFC 4884 puts a length there), so re-emitting is byte-exact.

import { finishChecksum, sumBytes, verifyChecksum } from './checksum.js';
import { badChecksum, truncated, type ParseError } from './error.js';
import { formatIpv4, readIpv4, writeIpv4, type Ipv4Address } from './address.js';
import { readU16, readU32, writeU16 } from './bytes.js';

export const ICMPV4_HEADER_LEN = 8;

export const Icmpv4Type = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  Redirect: 5,
  EchoRequest: 8,
  TimeExceeded: 11,
  ParameterProblem: 12,
} as const;

export const DestUnreachableCode = {
  NetUnreachable: 0,
  HostUnreachable: 1,
  ProtocolUnreachable: 2,
  PortUnreachable: 3,
  FragmentationNeeded: 4,
  SourceRouteFailed: 5,
  NetUnknown: 6,
  HostUnknown: 7,
  NetProhibited: 9,
  HostProhibited: 10,
  AdminProhibited: 13,
} as const;

export const TimeExceededCode = { TtlExceeded: 0, ReassemblyTimeExceeded: 1 } as const;

export class Icmpv4Packet {
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
  /** Echo identifier / sequence (RFC 792 echo messages). */
  get identifier(): number { return readU16(this.bytes, this.offset + 4); }
  set identifier(v: number) { writeU16(this.bytes, this.offset + 4, v); }
  get sequence(): number { return readU16(this.bytes, this.offset + 6); }
  set sequence(v: number) { writeU16(this.bytes, this.offset + 6, v); }
  /** RFC 1191 §4: next-hop MTU of a fragmentation-needed message. */
  get nextHopMtu(): number { return readU16(this.bytes, this.offset + 6); }
  get gateway(): Ipv4Address { return readIpv4(this.bytes, this.offset + 4); }
  get pointer(): number { return this.bytes[this.offset + 4]!; }
  get dataOffset(): number { return this.offset + ICMPV4_HEADER_LEN; }
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = finishChecksum(sumBytes(this.bytes, this.offset, this.length));
  }
  verifyChecksum(): boolean {
    return verifyChecksum(this.bytes, this.offset, this.length);
  }
}

interface Common {
  code: number;
  /** As found (parse) or to write (emit); undefined on emit computes it. */
  checksum?: number | undefined;
}
export type Icmpv4Repr =
  | (Common & { kind: 'echoRequest' | 'echoReply'; identifier: number; sequence: number; data: Uint8Array })
  | (Common & { kind: 'destinationUnreachable'; /** bytes 4..5 (RFC 4884 length lives here) */ unused: number; nextHopMtu: number; original: Uint8Array })
  | (Common & { kind: 'timeExceeded'; unused: number; original: Uint8Array })
  | (Common & { kind: 'redirect'; gateway: Ipv4Address; original: Uint8Array })
  | (Common & { kind: 'parameterProblem'; pointer: number; /** bytes 5..7 */ unused: number; original: Uint8Array })
  | (Common & { kind: 'other'; type: number; /** bytes 4..7 */ rest: number; data: Uint8Array });

export interface Icmpv4ParseOptions {
  /** Default true. */
  verifyChecksum?: boolean;
}


export function parseIcmpv4(bytes: Uint8Array, offset = 0, available = bytes.length - offset, opts: Icmpv4ParseOptions = {}): Icmpv4Repr | ParseError {
  if (available < ICMPV4_HEADER_LEN) return truncated('icmpv4', `${available} bytes, header needs ${ICMPV4_HEADER_LEN}`);
  const p = new Icmpv4Packet(bytes, offset, available);
  if (opts.verifyChecksum !== false && !p.verifyChecksum()) return badChecksum('icmpv4');
  const code = p.code, checksum = p.checksum;
  const body = bytes.subarray(offset + ICMPV4_HEADER_LEN, offset + available);
  const rest = readU32(bytes, offset + 4);
  switch (p.type) {
    case Icmpv4Type.EchoRequest:
    case Icmpv4Type.EchoReply:
      return { kind: p.type === Icmpv4Type.EchoRequest ? 'echoRequest' : 'echoReply', code, checksum, identifier: p.identifier, sequence: p.sequence, data: body };
    case Icmpv4Type.DestinationUnreachable:
      return { kind: 'destinationUnreachable', code, checksum, unused: rest >>> 16, nextHopMtu: rest & 0xffff, original: body };
    case Icmpv4Type.TimeExceeded:
      return { kind: 'timeExceeded', code, checksum, unused: rest, original: body };
    case Icmpv4Type.Redirect:
      return { kind: 'redirect', code, checksum, gateway: rest | 0, original: body };
    case Icmpv4Type.ParameterProblem:
      return { kind: 'parameterProblem', code, checksum, pointer: rest >>> 24, unused: rest & 0xffffff, original: body };
    default:
      return { kind: 'other', type: p.type, code, checksum, rest, data: body };
  }
}

function typeOf(r: Icmpv4Repr): number {
  switch (r.kind) {
    case 'echoRequest': return Icmpv4Type.EchoRequest;
    case 'echoReply': return Icmpv4Type.EchoReply;
    case 'destinationUnreachable': return Icmpv4Type.DestinationUnreachable;
    case 'timeExceeded': return Icmpv4Type.TimeExceeded;
    case 'redirect': return Icmpv4Type.Redirect;
    case 'parameterProblem': return Icmpv4Type.ParameterProblem;
    case 'other': return r.type;
  }
}

function bodyOf(r: Icmpv4Repr): Uint8Array {
  return 'original' in r ? r.original : r.data;
}

function restOf(r: Icmpv4Repr): number {
  switch (r.kind) {
    case 'echoRequest':
    case 'echoReply': return ((r.identifier << 16) | r.sequence) >>> 0;
    case 'destinationUnreachable': return ((r.unused << 16) | r.nextHopMtu) >>> 0;
    case 'timeExceeded': return r.unused >>> 0;
    case 'redirect': return r.gateway >>> 0;
    case 'parameterProblem': return ((r.pointer << 24) | (r.unused & 0xffffff)) >>> 0;
    case 'other': return r.rest >>> 0;
  }
}

export function icmpv4ReprLength(repr: Icmpv4Repr): number {
  return ICMPV4_HEADER_LEN + bodyOf(repr).length;
}

export function emitIcmpv4(repr: Icmpv4Repr, bytes: Uint8Array, offset = 0): number {
  const len = icmpv4ReprLength(repr);
  const p = new Icmpv4Packet(bytes, offset, len);
  p.type = typeOf(repr);
  p.code = repr.code;
  p.checksum = 0;
  writeIpv4(bytes, offset + 4, restOf(repr));
  const body = bodyOf(repr);
  if (body.length && (body.buffer !== bytes.buffer || body.byteOffset !== bytes.byteOffset + offset + ICMPV4_HEADER_LEN)) {
    bytes.set(body, offset + ICMPV4_HEADER_LEN);
  }
  if (repr.checksum !== undefined) p.checksum = repr.checksum;
  else p.fillChecksum();
  return len;
}

export function formatIcmpv4(repr: Icmpv4Repr): string {
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
      return `ICMP ${repr.kind === 'echoRequest' ? 'echo request' : 'echo reply'} id=${repr.identifier} seq=${repr.sequence} len=${repr.data.length}`;
    case 'destinationUnreachable':
      return `ICMP unreachable code=${repr.code}${repr.code === DestUnreachableCode.FragmentationNeeded ? ` mtu=${repr.nextHopMtu}` : ''}`;
    case 'timeExceeded':
      return `ICMP time exceeded code=${repr.code}`;
    case 'redirect':
      return `ICMP redirect code=${repr.code} gateway=${formatIpv4(repr.gateway)}`;
    case 'parameterProblem':
      return `ICMP parameter problem pointer=${repr.pointer}`;
    case 'other':
      return `ICMP type=${repr.type} code=${repr.code}`;
  }
}

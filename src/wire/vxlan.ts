// VXLAN header (RFC 7348 §5): 8 flag bits of which only I is defined, 24 reserved bits,
// a 24-bit VNI and 8 more reserved bits. Reserved bits are kept as found.

import { malformed, truncated, type ParseError } from './error.js';

export const VXLAN_HEADER_LEN = 8;
export const VXLAN_UDP_PORT = 4789;
/** RFC 7348 §5: the I flag says the VNI is valid. */
export const VXLAN_FLAG_I = 0x08;

export class VxlanPacket {
  constructor(
    public bytes: Uint8Array,
    public offset = 0,
  ) {}
  reset(bytes: Uint8Array, offset: number): this {
    this.bytes = bytes;
    this.offset = offset;
    return this;
  }
  get flags(): number { return this.bytes[this.offset]!; }
  set flags(v: number) { this.bytes[this.offset] = v; }
  get vni(): number {
    const b = this.bytes, o = this.offset;
    return (b[o + 4]! << 16) | (b[o + 5]! << 8) | b[o + 6]!;
  }
  set vni(v: number) {
    const b = this.bytes, o = this.offset;
    b[o + 4] = (v >>> 16) & 0xff;
    b[o + 5] = (v >>> 8) & 0xff;
    b[o + 6] = v & 0xff;
  }
  get payloadOffset(): number { return this.offset + VXLAN_HEADER_LEN; }
}

export interface VxlanRepr {
  /** Flag octet; must contain VXLAN_FLAG_I. */
  flags: number;
  vni: number;
  /** Bytes 1..3 (reserved, zero on send). */
  reserved1: number;
  /** Byte 7 (reserved, zero on send). */
  reserved2: number;
  /** The inner Ethernet frame. */
  payload: Uint8Array;
}

export function parseVxlan(bytes: Uint8Array, offset = 0, available = bytes.length - offset): VxlanRepr | ParseError {
  if (available < VXLAN_HEADER_LEN) return truncated('vxlan', `${available} bytes, header needs ${VXLAN_HEADER_LEN}`);
  const b = bytes, o = offset;
  const flags = b[o]!;
  // RFC 7348 §5: the I flag MUST be set for a valid VNI.
  if ((flags & VXLAN_FLAG_I) === 0) return malformed('vxlan', 'I flag clear');
  return {
    flags,
    vni: new VxlanPacket(bytes, offset).vni,
    reserved1: (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!,
    reserved2: b[o + 7]!,
    payload: bytes.subarray(o + VXLAN_HEADER_LEN, o + available),
  };
}

export function vxlanReprLength(repr: VxlanRepr): number {
  return VXLAN_HEADER_LEN + repr.payload.length;
}

export function emitVxlan(repr: VxlanRepr, bytes: Uint8Array, offset = 0): number {
  const b = bytes, o = offset;
  b[o] = repr.flags;
  b[o + 1] = (repr.reserved1 >>> 16) & 0xff;
  b[o + 2] = (repr.reserved1 >>> 8) & 0xff;
  b[o + 3] = repr.reserved1 & 0xff;
  new VxlanPacket(bytes, offset).vni = repr.vni;
  b[o + 7] = repr.reserved2;
  if (repr.payload.length && (repr.payload.buffer !== bytes.buffer || repr.payload.byteOffset !== bytes.byteOffset + o + VXLAN_HEADER_LEN)) {
    bytes.set(repr.payload, o + VXLAN_HEADER_LEN);
  }
  return VXLAN_HEADER_LEN + repr.payload.length;
}

export function formatVxlan(repr: VxlanRepr): string {
  return `VXLAN vni=${repr.vni} len=${repr.payload.length}`;
}

// ARP for Ethernet and IPv4 (RFC 826); gratuitous ARP (RFC 5227 §3).

import { malformed, truncated, ParseError, ParseErrorKind } from './error.js';
import { formatIpv4, readIpv4, writeIpv4, type Ipv4Address, type MacAddress } from './address.js';
import { readU16 } from './bytes.js';

export const ARP_LEN = 28;
export const ArpOperation = { Request: 1, Reply: 2 } as const;
const HTYPE_ETHERNET = 1;
const PTYPE_IPV4 = 0x0800;

export class ArpPacket {
  constructor(
    public bytes: Uint8Array,
    public offset = 0,
  ) {}
  reset(bytes: Uint8Array, offset: number): this {
    this.bytes = bytes;
    this.offset = offset;
    return this;
  }
  get hardwareType(): number { return readU16(this.bytes, this.offset); }
  get protocolType(): number { return readU16(this.bytes, this.offset + 2); }
  get hardwareLength(): number { return this.bytes[this.offset + 4]!; }
  get protocolLength(): number { return this.bytes[this.offset + 5]!; }
  get operation(): number { return readU16(this.bytes, this.offset + 6); }
  set operation(v: number) {
    this.bytes[this.offset + 6] = v >>> 8;
    this.bytes[this.offset + 7] = v & 0xff;
  }
  copySenderMac(out: Uint8Array, at = 0): void {
    for (let i = 0; i < 6; i++) out[at + i] = this.bytes[this.offset + 8 + i]!;
  }
  get senderIp(): Ipv4Address { return readIpv4(this.bytes, this.offset + 14); }
  set senderIp(a: Ipv4Address) { writeIpv4(this.bytes, this.offset + 14, a); }
  copyTargetMac(out: Uint8Array, at = 0): void {
    for (let i = 0; i < 6; i++) out[at + i] = this.bytes[this.offset + 18 + i]!;
  }
  get targetIp(): Ipv4Address { return readIpv4(this.bytes, this.offset + 24); }
  set targetIp(a: Ipv4Address) { writeIpv4(this.bytes, this.offset + 24, a); }
  /** RFC 5227 §3: an announcement carries the sender's address as target too. */
  get isGratuitous(): boolean { return this.senderIp === this.targetIp; }
}

export interface ArpRepr {
  operation: number;
  senderMac: MacAddress;
  senderIp: Ipv4Address;
  targetMac: MacAddress;
  targetIp: Ipv4Address;
}

/** Parses an Ethernet/IPv4 ARP packet; bytes after the 28 (Ethernet padding) are ignored. */
export function parseArp(bytes: Uint8Array, offset = 0, available = bytes.length - offset): ArpRepr | ParseError {
  if (available < 8) return truncated('arp', `${available} bytes, fixed part needs 8`);
  const p = new ArpPacket(bytes, offset);
  if (p.hardwareType !== HTYPE_ETHERNET || p.protocolType !== PTYPE_IPV4) {
    return new ParseError(ParseErrorKind.Unsupported, 'arp', `hardware type ${p.hardwareType}, protocol type 0x${p.protocolType.toString(16)}`);
  }
  if (p.hardwareLength !== 6 || p.protocolLength !== 4) return malformed('arp', `address lengths ${p.hardwareLength}/${p.protocolLength} for Ethernet/IPv4`);
  if (available < ARP_LEN) return truncated('arp', `${available} bytes, needs ${ARP_LEN}`);
  const senderMac = new Uint8Array(6), targetMac = new Uint8Array(6);
  p.copySenderMac(senderMac);
  p.copyTargetMac(targetMac);
  return { operation: p.operation, senderMac, senderIp: p.senderIp, targetMac, targetIp: p.targetIp };
}

export function emitArp(repr: ArpRepr, bytes: Uint8Array, offset = 0): number {
  const b = bytes, o = offset;
  b[o] = 0; b[o + 1] = HTYPE_ETHERNET;
  b[o + 2] = PTYPE_IPV4 >>> 8; b[o + 3] = PTYPE_IPV4 & 0xff;
  b[o + 4] = 6; b[o + 5] = 4;
  b[o + 6] = repr.operation >>> 8; b[o + 7] = repr.operation & 0xff;
  b.set(repr.senderMac.subarray(0, 6), o + 8);
  writeIpv4(b, o + 14, repr.senderIp);
  b.set(repr.targetMac.subarray(0, 6), o + 18);
  writeIpv4(b, o + 24, repr.targetIp);
  return ARP_LEN;
}

export function arpReprLength(_repr: ArpRepr): number {
  return ARP_LEN;
}

export function formatArp(repr: ArpRepr): string {
  return repr.operation === ArpOperation.Request
    ? `ARP who-has ${formatIpv4(repr.targetIp)} tell ${formatIpv4(repr.senderIp)}`
    : `ARP ${formatIpv4(repr.senderIp)} is-at ${Array.from(repr.senderMac, (x) => x.toString(16).padStart(2, '0')).join(':')} (op ${repr.operation})`;
}

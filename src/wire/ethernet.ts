// Ethernet II (IEEE 802.3 clause 3.2.6 "Type" interpretation) with IEEE 802.1Q
// customer tags and 802.1ad service tags, stacked.

import { truncated, ParseError, ParseErrorKind } from './error.js';
import type { MacAddress } from './address.js';
import { readU16 } from './bytes.js';

export const EtherType = {
  IPv4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPv6: 0x86dd,
  QinQ: 0x88a8,
} as const;

export const ETHERNET_HEADER_LEN = 14;
export const VLAN_TAG_LEN = 4;
/** More stacked tags than this is not a frame any real network carries. */
export const MAX_VLAN_TAGS = 4;
/** IEEE 802.3 §3.2.6: values below 0x0600 are lengths (802.3 frames), not types. */
const MIN_ETHERTYPE = 0x0600;

function isTagTpid(v: number): boolean {
  return v === EtherType.VLAN || v === EtherType.QinQ;
}

/** A zero-copy view of an Ethernet frame at `offset` in `bytes`. */
export class EthernetFrame {
  constructor(
    public bytes: Uint8Array,
    public offset = 0,
  ) {}
  reset(bytes: Uint8Array, offset: number): this {
    this.bytes = bytes;
    this.offset = offset;
    return this;
  }
  /** Copies the destination MAC into `out` (6 bytes at `at`). */
  copyDst(out: Uint8Array, at = 0): void {
    for (let i = 0; i < 6; i++) out[at + i] = this.bytes[this.offset + i]!;
  }
  copySrc(out: Uint8Array, at = 0): void {
    for (let i = 0; i < 6; i++) out[at + i] = this.bytes[this.offset + 6 + i]!;
  }
  setDst(mac: MacAddress): void {
    this.bytes.set(mac.subarray(0, 6), this.offset);
  }
  setSrc(mac: MacAddress): void {
    this.bytes.set(mac.subarray(0, 6), this.offset + 6);
  }
  /** True if the destination has the group bit (broadcast or multicast). */
  get isGroupDestination(): boolean {
    return (this.bytes[this.offset]! & 1) === 1;
  }
  /** Number of stacked VLAN tags (bounded by MAX_VLAN_TAGS + 1 for detection). */
  get tagCount(): number {
    if (!isTagTpid(readU16(this.bytes, this.offset + 12))) return 0; // the common, untagged case
    let n = 0;
    while (n <= MAX_VLAN_TAGS && isTagTpid(readU16(this.bytes, this.offset + 12 + n * VLAN_TAG_LEN))) n++;
    return n;
  }
  /** The EtherType after any tags. */
  get etherType(): number {
    const t = readU16(this.bytes, this.offset + 12);
    if (!isTagTpid(t)) return t;
    return readU16(this.bytes, this.offset + 12 + this.tagCount * VLAN_TAG_LEN);
  }
  set etherType(v: number) {
    const o = this.offset + 12 + this.tagCount * VLAN_TAG_LEN;
    this.bytes[o] = v >>> 8;
    this.bytes[o + 1] = v & 0xff;
  }
  /** The VLAN id of the outermost tag, or -1 when untagged. */
  get outerVid(): number {
    return isTagTpid(readU16(this.bytes, this.offset + 12)) ? readU16(this.bytes, this.offset + 14) & 0x0fff : -1;
  }
  get headerLength(): number {
    return ETHERNET_HEADER_LEN + this.tagCount * VLAN_TAG_LEN;
  }
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
}

export interface VlanTag {
  /** 0x8100 (802.1Q C-tag) or 0x88a8 (802.1ad S-tag). */
  tpid: number;
  /** Priority code point, 3 bits. */
  pcp: number;
  /** Drop eligible indicator. */
  dei: boolean;
  /** VLAN identifier, 12 bits. */
  vid: number;
}

export interface EthernetRepr {
  dst: MacAddress;
  src: MacAddress;
  vlans: VlanTag[];
  etherType: number;
  /** Everything after the header, including any link padding (upper layers trim by their own length). */
  payload: Uint8Array;
}

export function parseEthernet(bytes: Uint8Array, offset = 0, available = bytes.length - offset): EthernetRepr | ParseError {
  if (available < ETHERNET_HEADER_LEN) return truncated('ethernet', `${available} bytes, header needs ${ETHERNET_HEADER_LEN}`);
  const f = new EthernetFrame(bytes, offset);
  const vlans: VlanTag[] = [];
  let at = 12;
  for (;;) {
    if (at + 2 > available) return truncated('ethernet', 'frame ends inside the tag stack');
    const type = (bytes[offset + at]! << 8) | bytes[offset + at + 1]!;
    if (!isTagTpid(type)) break;
    if (vlans.length === MAX_VLAN_TAGS) return new ParseError(ParseErrorKind.HeaderChain, 'ethernet', `more than ${MAX_VLAN_TAGS} VLAN tags`);
    if (at + VLAN_TAG_LEN + 2 > available) return truncated('ethernet', 'frame ends inside a VLAN tag');
    const tci = (bytes[offset + at + 2]! << 8) | bytes[offset + at + 3]!;
    vlans.push({ tpid: type, pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff });
    at += VLAN_TAG_LEN;
  }
  const etherType = (bytes[offset + at]! << 8) | bytes[offset + at + 1]!;
  if (etherType < MIN_ETHERTYPE) {
    return new ParseError(ParseErrorKind.Unsupported, 'ethernet', `802.3 length field ${etherType}, not an EtherType`);
  }
  const dst = new Uint8Array(6), src = new Uint8Array(6);
  f.copyDst(dst);
  f.copySrc(src);
  return { dst, src, vlans, etherType, payload: bytes.subarray(offset + at + 2, offset + available) };
}

export function ethernetHeaderLength(repr: Pick<EthernetRepr, 'vlans'>): number {
  return ETHERNET_HEADER_LEN + repr.vlans.length * VLAN_TAG_LEN;
}

export function ethernetReprLength(repr: EthernetRepr): number {
  return ethernetHeaderLength(repr) + repr.payload.length;
}

/** Writes header and payload at `offset`; returns the bytes written. */
export function emitEthernet(repr: EthernetRepr, bytes: Uint8Array, offset = 0): number {
  if (repr.vlans.length > MAX_VLAN_TAGS) throw new RangeError(`at most ${MAX_VLAN_TAGS} VLAN tags`);
  bytes.set(repr.dst.subarray(0, 6), offset);
  bytes.set(repr.src.subarray(0, 6), offset + 6);
  let at = offset + 12;
  for (const t of repr.vlans) {
    const tci = ((t.pcp & 7) << 13) | (t.dei ? 0x1000 : 0) | (t.vid & 0x0fff);
    bytes[at] = t.tpid >>> 8;
    bytes[at + 1] = t.tpid & 0xff;
    bytes[at + 2] = tci >>> 8;
    bytes[at + 3] = tci & 0xff;
    at += VLAN_TAG_LEN;
  }
  bytes[at] = repr.etherType >>> 8;
  bytes[at + 1] = repr.etherType & 0xff;
  at += 2;
  if (repr.payload.length && (repr.payload.buffer !== bytes.buffer || repr.payload.byteOffset !== bytes.byteOffset + at)) {
    bytes.set(repr.payload, at);
  }
  return at - offset + repr.payload.length;
}

export function formatEthernet(repr: EthernetRepr): string {
  const hex = (m: Uint8Array) => Array.from(m, (x) => x.toString(16).padStart(2, '0')).join(':');
  const tags = repr.vlans.map((t) => ` vlan=${t.vid}`).join('');
  return `Ethernet ${hex(repr.src)} > ${hex(repr.dst)}${tags} type=0x${repr.etherType.toString(16).padStart(4, '0')}`;
}


// IPv6 address facts the engine needs (RFC 4291): kinds and scopes, the multicast groups
// every node joins, solicited-node groups, multicast MACs, modified EUI-64 interface
// identifiers, IPv4-mapped addresses, and a compact Map key.

import type { Ipv4Address, Ipv6Address, MacAddress } from '../wire/address.js';

export const IPV6_ANY: Ipv6Address = new Uint8Array(16);
export const IPV6_LOOPBACK: Ipv6Address = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
/** ff02::1, all nodes (RFC 4291 §2.7.1). */
export const ALL_NODES: Ipv6Address = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
/** ff02::2, all routers. */
export const ALL_ROUTERS_V6: Ipv6Address = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2);
/** ff02::16, all MLDv2-capable routers (RFC 3810 §5.2.14). */
export const MLDV2_ROUTERS: Ipv6Address = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16);
/** Minimum IPv6 link MTU (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;

/** A Map key for an address: its 16 bytes as 8 UTF-16 code units (slow paths only). */
export function ipv6Key(a: Uint8Array, at = 0): string {
  let s = '';
  for (let i = 0; i < 16; i += 2) s += String.fromCharCode((a[at + i]! << 8) | a[at + i + 1]!);
  return s;
}

export function ipv6Equal(a: Uint8Array, aAt: number, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[aAt + i] !== b[i]) return false;
  return true;
}

export function isUnspecified6(a: Uint8Array, at = 0): boolean {
  for (let i = 0; i < 16; i++) if (a[at + i] !== 0) return false;
  return true;
}

export function isLoopback6(a: Uint8Array, at = 0): boolean {
  for (let i = 0; i < 15; i++) if (a[at + i] !== 0) return false;
  return a[at + 15] === 1;
}

export function isMulticast6(a: Uint8Array, at = 0): boolean {
  return a[at] === 0xff;
}

/** fe80::/10 (RFC 4291 §2.5.6). */
export function isLinkLocal6(a: Uint8Array, at = 0): boolean {
  return a[at] === 0xfe && (a[at + 1]! & 0xc0) === 0x80;
}

/** The scope field of a multicast address (RFC 4291 §2.7). */
export function multicastScope6(a: Uint8Array, at = 0): number {
  return a[at + 1]! & 0x0f;
}

/** ::ffff:0:0/96 (RFC 4291 §2.5.5.2). */
export function isV4Mapped(a: Uint8Array, at = 0): boolean {
  for (let i = 0; i < 10; i++) if (a[at + i] !== 0) return false;
  return a[at + 10] === 0xff && a[at + 11] === 0xff;
}

export function v4MappedAddress(ip: Ipv4Address, out: Uint8Array = new Uint8Array(16)): Ipv6Address {
  out.fill(0, 0, 10);
  out[10] = 0xff;
  out[11] = 0xff;
  out[12] = ip >>> 24;
  out[13] = (ip >>> 16) & 0xff;
  out[14] = (ip >>> 8) & 0xff;
  out[15] = ip & 0xff;
  return out;
}

export function v4FromMapped(a: Uint8Array, at = 0): Ipv4Address {
  return (a[at + 12]! << 24) | (a[at + 13]! << 16) | (a[at + 14]! << 8) | a[at + 15]!;
}

/** ff02::1:ffXX:XXXX with the low 24 bits of `a` (RFC 4291 §2.7.1). */
export function solicitedNode(a: Uint8Array): Ipv6Address {
  const g = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0);
  g[13] = a[13]!;
  g[14] = a[14]!;
  g[15] = a[15]!;
  return g;
}

/** 33:33 followed by the low 32 bits of the group (RFC 2464 §7). */
export function multicastMac6(group: Uint8Array, out: Uint8Array, at = 0): MacAddress {
  out[0] = 0x33;
  out[1] = 0x33;
  out[2] = group[at + 12]!;
  out[3] = group[at + 13]!;
  out[4] = group[at + 14]!;
  out[5] = group[at + 15]!;
  return out;
}

/** Prefix (first `len` bits of `prefix`) followed by the modified EUI-64 of `mac` (RFC 4291 §2.5.1, appendix A). */
export function eui64Address(prefix: Uint8Array, mac: MacAddress): Ipv6Address {
  const a = new Uint8Array(16);
  a.set(prefix.subarray(0, 8), 0);
  a[8] = mac[0]! ^ 0x02;
  a[9] = mac[1]!;
  a[10] = mac[2]!;
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = mac[3]!;
  a[14] = mac[4]!;
  a[15] = mac[5]!;
  return a;
}

export const LINK_LOCAL_PREFIX: Ipv6Address = Uint8Array.of(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

/** Whether the first `len` bits of a (at aAt) and b agree. */
export function prefixMatch6(a: Uint8Array, aAt: number, b: Uint8Array, len: number): boolean {
  const whole = len >>> 3;
  for (let i = 0; i < whole; i++) if (a[aAt + i] !== b[i]) return false;
  const rest = len & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[aAt + whole]! ^ b[whole]!) & mask) === 0;
}

/** `a` with all bits past `len` cleared. */
export function maskPrefix6(a: Uint8Array, len: number): Ipv6Address {
  const out = Uint8Array.from(a.subarray(0, 16));
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, len - 8 * i));
    out[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

// IPv6 default source address selection, RFC 6724 §5, with the default policy table of
// §2.1 and the scopes of §3.1 and §3.2.
//
// Implemented: rule 1 (same address), 2 (appropriate scope), 3 (avoid deprecated),
// 5 (outgoing interface), 6 (matching label), 7 (temporary addresses; Linux's default of
// preferring public addresses), 8 (longest matching prefix).
// Not implemented: rule 4 (Mobile IPv6 home addresses) and 5.5 (prefixes advertised by the
// next hop, RFC 8028); neither is in Linux's ipv6_dev_get_saddr().

import type { Ipv6Address } from '../wire/address.js';

export interface SourceCandidate {
  /** 16 bytes. */
  address: Uint8Array;
  /** The on-link prefix the address was configured with; bounds rule 8. */
  prefixLength: number;
  ifindex: number;
  /** Preferred lifetime expired (RFC 4862 §5.5.4). */
  deprecated: boolean;
  /** Duplicate address detection still running (RFC 4862 §5.4): never a source. */
  tentative?: boolean;
  /** A temporary (privacy) address, RFC 8981. */
  temporary?: boolean;
}

/** Scope values (RFC 4291 §2.7; RFC 6724 §3.1). */
export const Ipv6Scope = {
  InterfaceLocal: 0x1,
  LinkLocal: 0x2,
  AdminLocal: 0x4,
  SiteLocal: 0x5,
  OrganizationLocal: 0x8,
  Global: 0xe,
} as const;

/**
 * The scope of an address. Multicast: the scope field (RFC 4291 §2.7). Unicast (RFC 6724
 * §3.1): link-local fe80::/10 and the loopback ::1 have link-local scope; deprecated
 * site-local fec0::/10 has site-local scope (as in Linux); everything else, ULAs included,
 * is global. IPv4-mapped (RFC 6724 §3.2): 127/8 and 169.254/16 link-local, others global.
 */
export function ipv6Scope(a: Ipv6Address): number {
  if (a[0] === 0xff) return a[1]! & 0x0f;
  if (a[0] === 0xfe && (a[1]! & 0xc0) === 0x80) return Ipv6Scope.LinkLocal;
  if (a[0] === 0xfe && (a[1]! & 0xc0) === 0xc0) return Ipv6Scope.SiteLocal;
  if (isLoopback(a)) return Ipv6Scope.LinkLocal;
  if (isV4Mapped(a)) {
    if (a[12] === 127 || (a[12] === 169 && a[13] === 254)) return Ipv6Scope.LinkLocal;
    return Ipv6Scope.Global;
  }
  return Ipv6Scope.Global;
}

/** Leading bits two addresses share, 0 to 128. */
export function commonPrefixLength(a: Ipv6Address, b: Ipv6Address): number {
  for (let i = 0; i < 16; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return 128;
}

interface PolicyEntry {
  readonly prefix: Uint8Array;
  readonly length: number;
  readonly precedence: number;
  readonly label: number;
}

function entry(bytes: number[], length: number, precedence: number, label: number): PolicyEntry {
  const prefix = new Uint8Array(16);
  prefix.set(bytes);
  return { prefix, length, precedence, label };
}

/** RFC 6724 §2.1, the default policy table. */
const DEFAULT_POLICY: readonly PolicyEntry[] = [
  entry([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 128, 50, 0), // ::1/128
  entry([], 0, 40, 1), // ::/0
  entry([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 96, 35, 4), // ::ffff:0:0/96
  entry([0x20, 0x02], 16, 30, 2), // 2002::/16 (6to4)
  entry([0x20, 0x01, 0, 0], 32, 5, 5), // 2001::/32 (Teredo)
  entry([0xfc], 7, 3, 13), // fc00::/7 (ULA)
  entry([], 96, 1, 3), // ::/96 (IPv4-compatible, deprecated)
  entry([0xfe, 0xc0], 10, 1, 11), // fec0::/10 (site-local, deprecated)
  entry([0x3f, 0xfe], 16, 1, 12), // 3ffe::/16 (6bone, returned)
];

/** The longest matching entry; ::/0 matches everything. */
function policy(a: Ipv6Address): PolicyEntry {
  let best = DEFAULT_POLICY[1]!;
  for (const e of DEFAULT_POLICY) {
    if (e.length > best.length && commonPrefixLength(a, e.prefix) >= e.length) best = e;
  }
  return best;
}

export function policyLabel(a: Ipv6Address): number {
  return policy(a).label;
}

export function policyPrecedence(a: Ipv6Address): number {
  return policy(a).precedence;
}

export interface SourceSelectOptions {
  /** Rule 7 as RFC 6724 words it (IPV6_PREFER_SRC_TMP); default false, Linux's default. */
  preferTemporary?: boolean;
}

/**
 * Picks the source for `dst` sent out of `outIfindex`, or null if there is no candidate.
 * The candidate set (RFC 6724 §4) excludes tentative addresses, and for a multicast or
 * link-local-scope destination holds only the outgoing interface's addresses (Linux:
 * ipv6_dev_get_saddr() with use_oif_addr).
 */
export function selectSource(dst: Ipv6Address, candidates: readonly SourceCandidate[], outIfindex: number, opts: SourceSelectOptions = {}): SourceCandidate | null {
  const dstScope = ipv6Scope(dst);
  const onlyOutgoing = dst[0] === 0xff || dstScope <= Ipv6Scope.LinkLocal;
  const dstLabel = policyLabel(dst);
  let best: SourceCandidate | null = null;
  for (const c of candidates) {
    if (c.tentative === true) continue;
    if (onlyOutgoing && c.ifindex !== outIfindex) continue;
    if (best === null || prefer(c, best, dst, dstScope, dstLabel, outIfindex, opts.preferTemporary === true)) best = c;
  }
  return best;
}

/** RFC 6724 §5: whether SA is preferred to SB (ties keep SB, the earlier candidate). */
function prefer(sa: SourceCandidate, sb: SourceCandidate, dst: Ipv6Address, dstScope: number, dstLabel: number, outIfindex: number, preferTemporary: boolean): boolean {
  // Rule 1: prefer same address.
  const aSame = equal(sa.address, dst);
  const bSame = equal(sb.address, dst);
  if (aSame !== bSame) return aSame;
  // Rule 2: prefer appropriate scope.
  const aScope = ipv6Scope(sa.address);
  const bScope = ipv6Scope(sb.address);
  if (aScope < bScope) return aScope >= dstScope; // if Scope(SA) < Scope(D), prefer SB
  if (bScope < aScope) return bScope < dstScope; // if Scope(SB) < Scope(D), prefer SA
  // Rule 3: avoid deprecated addresses.
  if (sa.deprecated !== sb.deprecated) return sb.deprecated;
  // Rule 5: prefer outgoing interface.
  const aOut = sa.ifindex === outIfindex;
  const bOut = sb.ifindex === outIfindex;
  if (aOut !== bOut) return aOut;
  // Rule 6: prefer matching label.
  const aLabel = policyLabel(sa.address) === dstLabel;
  const bLabel = policyLabel(sb.address) === dstLabel;
  if (aLabel !== bLabel) return aLabel;
  // Rule 7: temporary addresses. Linux prefers public ones unless IPV6_PREFER_SRC_TMP
  // (or use_tempaddr >= 2); by default we follow Linux.
  const aTemp = sa.temporary === true;
  const bTemp = sb.temporary === true;
  if (aTemp !== bTemp) return aTemp === preferTemporary;
  // Rule 8: longest matching prefix, counted no further than the source's prefix.
  const aLen = Math.min(commonPrefixLength(sa.address, dst), sa.prefixLength);
  const bLen = Math.min(commonPrefixLength(sb.address, dst), sb.prefixLength);
  return aLen > bLen;
}

function isLoopback(a: Uint8Array): boolean {
  for (let i = 0; i < 15; i++) if (a[i] !== 0) return false;
  return a[15] === 1;
}

function isV4Mapped(a: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

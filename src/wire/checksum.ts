// The Internet checksum (RFC 1071), pseudo-headers for IPv4 (RFC 768/793) and
// IPv6 (RFC 8200 §8.1), and incremental update (RFC 1624).
//
// Sums are kept as plain numbers without folding until the end: a float64 holds
// integers up to 2^53 exactly, so ~2^37 16-bit words can be added before any
// carry could be lost, far beyond any packet.

import type { Ipv4Address, Ipv6Address } from './address.js';

/** Adds the bytes [offset, offset+length) as big-endian 16-bit words to `initial`; unfolded. */
export function sumBytes(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  let i = offset;
  const end = offset + length;
  const end16 = end - 15;
  // Unrolled by 16 bytes: eight words per iteration.
  while (i < end16) {
    sum +=
      ((bytes[i]! << 8) | bytes[i + 1]!) +
      ((bytes[i + 2]! << 8) | bytes[i + 3]!) +
      ((bytes[i + 4]! << 8) | bytes[i + 5]!) +
      ((bytes[i + 6]! << 8) | bytes[i + 7]!) +
      ((bytes[i + 8]! << 8) | bytes[i + 9]!) +
      ((bytes[i + 10]! << 8) | bytes[i + 11]!) +
      ((bytes[i + 12]! << 8) | bytes[i + 13]!) +
      ((bytes[i + 14]! << 8) | bytes[i + 15]!);
    i += 16;
  }
  const end2 = end - 1;
  while (i < end2) {
    sum += (bytes[i]! << 8) | bytes[i + 1]!;
    i += 2;
  }
  // RFC 1071 §4.1: an odd trailing byte is padded with a zero byte.
  if (i < end) sum += bytes[i]! << 8;
  return sum;
}

/** Folds an unfolded sum to 16 bits (end-around carry). */
export function foldSum(sum: number): number {
  // Reduce a possibly > 32-bit value without bit operators first.
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value: ones' complement of the folded sum. */
export function finishChecksum(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

/** Checksum of a byte range (e.g. an IPv4 header, an ICMPv4 message). */
export function internetChecksum(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  return finishChecksum(sumBytes(bytes, offset, length, initial));
}

/** True if the range including its checksum field sums to 0xffff (RFC 1071 §1). */
export function verifyChecksum(bytes: Uint8Array, offset: number, length: number, initial = 0): boolean {
  return foldSum(sumBytes(bytes, offset, length, initial)) === 0xffff;
}

/** RFC 793 §3.1 / RFC 768: source, destination, zero, protocol, upper-layer length. */
export function ipv4PseudoHeaderSum(src: Ipv4Address, dst: Ipv4Address, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/** RFC 8200 §8.1: source, destination, 32-bit length, 24 zero bits, next header. */
export function ipv6PseudoHeaderSum(src: Ipv6Address, dst: Ipv6Address, nextHeader: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < 16; i += 2) sum += ((src[i]! << 8) | src[i + 1]!) + ((dst[i]! << 8) | dst[i + 1]!);
  return sum + Math.floor(length / 0x10000) + (length & 0xffff) + nextHeader;
}

/** The addresses a transport checksum covers, for either IP version. */
export type PseudoHeader =
  | { readonly version: 4; readonly src: Ipv4Address; readonly dst: Ipv4Address }
  | { readonly version: 6; readonly src: Ipv6Address; readonly dst: Ipv6Address };

export function pseudoHeaderSum(ph: PseudoHeader, protocol: number, length: number): number {
  return ph.version === 4
    ? ipv4PseudoHeaderSum(ph.src, ph.dst, protocol, length)
    : ipv6PseudoHeaderSum(ph.src, ph.dst, protocol, length);
}

/**
 * RFC 1624 eqn. 3: the new checksum after one 16-bit word changes from `oldWord`
 * to `newWord`, without summing the packet again: HC' = ~(~HC + ~m + m').
 */
export function updateChecksum16(checksum: number, oldWord: number, newWord: number): number {
  return ~foldSum((~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/** RFC 1624 for a 32-bit field (e.g. an IPv4 address under NAT): two word updates. */
export function updateChecksum32(checksum: number, oldValue: number, newValue: number): number {
  return updateChecksum16(updateChecksum16(checksum, oldValue >>> 16, newValue >>> 16), oldValue & 0xffff, newValue & 0xffff);
}

// The Internet checksum (RFC 1071), pseudo-headers for IPv4 (RFC 768/793) and
// IPv6 (RFC 8200 §8.1), and incremental update (RFC 1624).
//
// Sums are kept as plain numbers without folding until the end: a float64 holds
// integers up to 2^53 exactly, so carries are never lost within a packet.

import type { Ipv4Address, Ipv6Address } from './address.js';

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Below this length the word-at-a-time path is not worth its setup. */
const WIDE_MIN_LENGTH = 64;
/** Words summed before folding, far below 2^53 / 2^32. */
const WIDE_CHUNK_WORDS = 1 << 20;
/** One Uint32Array over each backing buffer, made once (no allocation per packet). */
const wordViews = new WeakMap<ArrayBufferLike, Uint32Array>();

/**
 * Below this length, a buffer seen for the first time is summed narrowly instead of
 * getting a view: a fresh buffer per packet would otherwise cost a view and a WeakMap
 * entry each time. Pooled buffers (the hot path) hit the cache after their first use.
 */
const VIEW_CREATE_MIN_LENGTH = 2048;

function wordView(buffer: ArrayBufferLike, length: number): Uint32Array | undefined {
  let v = wordViews.get(buffer);
  if (v === undefined && length >= VIEW_CREATE_MIN_LENGTH) {
    v = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    wordViews.set(buffer, v);
  }
  return v;
}

/** Makes later checksums over `bytes`' buffer take the wide path (call once per pooled buffer). */
export function prepareChecksumBuffer(bytes: Uint8Array): void {
  if (!wordViews.has(bytes.buffer)) wordViews.set(bytes.buffer, new Uint32Array(bytes.buffer, 0, bytes.buffer.byteLength >>> 2));
}

function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/** Big-endian 16-bit words of a short range, unfolded; an odd last byte is padded (RFC 1071 §4.1). */
function sumBytesNarrow(bytes: Uint8Array, offset: number, length: number): number {
  let sum = 0;
  let i = offset;
  const end = offset + length;
  const end8 = end - 7;
  while (i < end8) {
    sum +=
      ((bytes[i]! << 8) | bytes[i + 1]!) +
      ((bytes[i + 2]! << 8) | bytes[i + 3]!) +
      ((bytes[i + 4]! << 8) | bytes[i + 5]!) +
      ((bytes[i + 6]! << 8) | bytes[i + 7]!);
    i += 8;
  }
  const end2 = end - 1;
  while (i < end2) {
    sum += (bytes[i]! << 8) | bytes[i + 1]!;
    i += 2;
  }
  if (i < end) sum += bytes[i]! << 8;
  return sum;
}

/**
 * Adds the bytes [offset, offset+length) as big-endian 16-bit words to `initial`; unfolded.
 *
 * Long ranges are summed 32 bits at a time through a cached Uint32Array view. On a
 * little-endian host that yields the byte-swapped sum, and RFC 1071 §2(B) (byte-order
 * independence) lets us swap once at the end instead of per word. Leading bytes up to
 * 4-byte alignment are summed narrowly; if their count is odd, the rest of the range
 * sits at odd positions and its sum is swapped again (RFC 1071 §2(B) likewise).
 */
export function sumBytes(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  if (length < WIDE_MIN_LENGTH || !LITTLE_ENDIAN_HOST) return initial + sumBytesNarrow(bytes, offset, length);
  const absolute = bytes.byteOffset + offset;
  const lead = (4 - (absolute & 3)) & 3;
  const words = wordView(bytes.buffer, length);
  if (words === undefined) return initial + sumBytesNarrow(bytes, offset, length);
  let j = (absolute + lead) >>> 2;
  const wordCount = (length - lead) >>> 2;
  const wordEnd = j + wordCount;
  let body = 0;
  while (j < wordEnd) {
    const chunkEnd = Math.min(wordEnd, j + WIDE_CHUNK_WORDS);
    const chunkEnd4 = chunkEnd - 3;
    let s = 0;
    while (j < chunkEnd4) {
      s += words[j]! + words[j + 1]! + words[j + 2]! + words[j + 3]!;
      j += 4;
    }
    while (j < chunkEnd) s += words[j++]!;
    body += foldSum(s);
  }
  const tailStart = offset + lead + wordCount * 4;
  // The range after the lead, summed as big-endian words relative to its own start.
  let rest = swap16(foldSum(body)) + sumBytesNarrow(bytes, tailStart, offset + length - tailStart);
  if (lead & 1) rest = swap16(foldSum(rest));
  return initial + sumBytesNarrow(bytes, offset, lead) + rest;
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

/**
 * The checksum of an upper-layer message (UDP, TCP, ICMPv6) over its pseudo-header,
 * computed as if the 16-bit checksum field at `checksumAt` (relative to `offset`) were
 * zero; the bytes are left as they were.
 */
export function computeTransportChecksum(bytes: Uint8Array, offset: number, length: number, ph: PseudoHeader, protocol: number, checksumAt: number): number {
  const o = offset + checksumAt;
  const field = (bytes[o]! << 8) | bytes[o + 1]!;
  // Adding the field's ones' complement cancels its own contribution (x − f ≡ x + ~f, mod
  // 0xffff), which equals summing with it zeroed, without touching the buffer.
  return finishChecksum(sumBytes(bytes, offset, length, pseudoHeaderSum(ph, protocol, length)) + (0xffff - field));
}

/** True if an upper-layer message, checksum included, sums to 0xffff with its pseudo-header. */
export function verifyTransportChecksum(bytes: Uint8Array, offset: number, length: number, ph: PseudoHeader, protocol: number): boolean {
  return foldSum(sumBytes(bytes, offset, length, pseudoHeaderSum(ph, protocol, length))) === 0xffff;
}

// Multicast Listener Discovery: version 1 (RFC 2710 §3) and version 2 (RFC 3810 §5), the
// ICMPv6 messages of types 130, 131, 132 and 143. Bytes 0..3 (type, code, checksum) are
// the ICMPv6 header, read and written by icmpv6.ts; this module owns bytes 4 onwards.

import { malformed, truncated, type ParseError } from './error.js';
import { decodeFloatCode, encodeFloatCode } from './float-code.js';
import type { Ipv6Address } from './address.js';
import { readU16, writeU16 } from './bytes.js';

/** RFC 2710 §3: every MLDv1 message is 24 bytes. */
export const MLD_V1_LEN = 24;
/** RFC 3810 §5.1: an MLDv2 query with no sources. */
export const MLD_V2_QUERY_MIN_LEN = 28;
/** RFC 3810 §5.2: fixed part of a Multicast Address Record. */
export const MLD_RECORD_HEADER_LEN = 20;

/** RFC 3810 §5.2.12 record types (the same values as IGMPv3). */
export { IgmpRecordType as MldRecordType } from './igmp.js';

/**
 * RFC 3810 §5.1.3: a Maximum Response Code of 32768 or more is 1|exp(3)|mant(12) and
 * stands for (mant | 0x1000) << (exp + 3) milliseconds; below, it is the value itself.
 */
export function decodeMldMaxResponse(code: number): number {
  return decodeFloatCode(code, 12);
}
/** The code for the largest delay not above `ms` (clamped to the encodable range). */
export function encodeMldMaxResponse(ms: number): number {
  return encodeFloatCode(ms, 12);
}
/** RFC 3810 §5.1.9: QQIC of 128 or more is 1|exp(3)|mant(4), (mant | 0x10) << (exp + 3) seconds. */
export function decodeMldQqic(code: number): number {
  return decodeFloatCode(code, 4);
}
export function encodeMldQqic(seconds: number): number {
  return encodeFloatCode(seconds, 4);
}

export interface MldAddressRecord {
  recordType: number;
  group: Ipv6Address;
  sources: Ipv6Address[];
  /** Auxiliary data, kept as found; whole 32-bit words (RFC 3810 §5.2.6). */
  auxData: Uint8Array;
}

interface MldCommon {
  /** Byte 1 of the message (0 on send, ignored on receipt). */
  code: number;
  /** As found (parse) or to write (emit); undefined on emit computes it. */
  checksum?: number | undefined;
}

export type MldRepr =
  | (MldCommon & {
      kind: 'mldV1Query' | 'mldV1Report' | 'mldV1Done';
      /** Milliseconds (RFC 2710 §3.4); meaningful in queries only. */
      maxResponseDelay: number;
      reserved: number;
      group: Ipv6Address;
      /**
       * Bytes after the 24 of a report or done, kept for exact re-emit (Linux accepts
       * longer messages). Always empty for a query: 25 to 27 bytes is no valid query.
       */
      extra?: Uint8Array | undefined;
    })
  | (MldCommon & {
      kind: 'mldV2Query';
      /** Encoded as RFC 3810 §5.1.3; see decodeMldMaxResponse. */
      maxResponseCode: number;
      reserved: number;
      group: Ipv6Address;
      /** The 4 reserved bits before S. */
      reserved2: number;
      /** S flag (RFC 3810 §5.1.7). */
      suppressRouterProcessing: boolean;
      qrv: number;
      /** Encoded as RFC 3810 §5.1.9; see decodeMldQqic. */
      qqic: number;
      sources: Ipv6Address[];
      /** Bytes after the source list (RFC 3810 §5.1.12: ignored by receivers), kept. */
      extra: Uint8Array;
    })
  | (MldCommon & { kind: 'mldV2Report'; /** bytes 4..5 */ reserved: number; records: MldAddressRecord[] });

export type MldKind = MldRepr['kind'];

function readAddresses(b: Uint8Array, at: number, n: number): Ipv6Address[] {
  const out: Ipv6Address[] = [];
  for (let i = 0; i < n; i++) out.push(b.slice(at + 16 * i, at + 16 * i + 16));
  return out;
}

/**
 * Parses the MLD message of ICMPv6 type `type` (130, 131, 132 or 143) occupying
 * bytes[offset, offset+available); `code` and `checksum` come from its ICMPv6 header.
 */
export function parseMld(type: number, bytes: Uint8Array, offset: number, available: number, code: number, checksum: number): MldRepr | ParseError {
  const b = bytes, o = offset, end = offset + available;
  if (available < 8) return truncated('mld', `${available} bytes, header needs 8`);
  if (type === 143) {
    // RFC 3810 §5.2
    const count = readU16(b, o + 6);
    const records: MldAddressRecord[] = [];
    let at = o + 8;
    for (let r = 0; r < count; r++) {
      if (at + MLD_RECORD_HEADER_LEN > end) return truncated('mld', `record ${r} of ${count} cut short`);
      const auxLen = b[at + 1]! * 4;
      const ns = readU16(b, at + 2);
      const recEnd = at + MLD_RECORD_HEADER_LEN + 16 * ns + auxLen;
      if (recEnd > end) return truncated('mld', `record ${r} claims ${recEnd - at} bytes, ${end - at} left`);
      records.push({ recordType: b[at]!, group: b.slice(at + 4, at + 20), sources: readAddresses(b, at + 20, ns), auxData: b.subarray(recEnd - auxLen, recEnd) });
      at = recEnd;
    }
    // The records fill the message (RFC 3810 §5.2.3 counts them; the IPv6 length bounds it).
    if (at !== end) return malformed('mld', `${end - at} bytes after the last of ${count} records`);
    return { kind: 'mldV2Report', code, checksum, reserved: readU16(b, o + 4), records };
  }
  if (available < MLD_V1_LEN) return truncated('mld', `${available} bytes, MLD needs ${MLD_V1_LEN}`);
  const delay = readU16(b, o + 4);
  const reserved = readU16(b, o + 6);
  const group = b.slice(o + 8, o + 24);
  if (type !== 130) {
    return { kind: type === 131 ? 'mldV1Report' : 'mldV1Done', code, checksum, maxResponseDelay: delay, reserved, group, extra: b.subarray(o + MLD_V1_LEN, end) };
  }
  // RFC 3810 §8.1: a 24-byte query is MLDv1, one of at least 28 bytes MLDv2, others are invalid.
  if (available === MLD_V1_LEN) return { kind: 'mldV1Query', code, checksum, maxResponseDelay: delay, reserved, group, extra: b.subarray(end, end) };
  if (available < MLD_V2_QUERY_MIN_LEN) return malformed('mld', `query of ${available} bytes is neither MLDv1 (24) nor MLDv2 (≥ 28)`);
  const n = readU16(b, o + 26);
  const after = o + MLD_V2_QUERY_MIN_LEN + 16 * n;
  if (after > end) return truncated('mld', `query lists ${n} sources, room for ${Math.floor((end - o - MLD_V2_QUERY_MIN_LEN) / 16)}`);
  const flags = b[o + 24]!;
  return {
    kind: 'mldV2Query', code, checksum, maxResponseCode: delay, reserved, group,
    reserved2: flags >>> 4, suppressRouterProcessing: (flags & 0x08) !== 0, qrv: flags & 7, qqic: b[o + 25]!,
    sources: readAddresses(b, o + MLD_V2_QUERY_MIN_LEN, n), extra: b.subarray(after, end),
  };
}

export function mldReprLength(r: MldRepr): number {
  switch (r.kind) {
    case 'mldV1Query':
    case 'mldV1Report':
    case 'mldV1Done':
      return MLD_V1_LEN + (r.extra?.length ?? 0);
    case 'mldV2Query':
      return MLD_V2_QUERY_MIN_LEN + 16 * r.sources.length + r.extra.length;
    case 'mldV2Report': {
      let n = 8;
      for (const rec of r.records) n += MLD_RECORD_HEADER_LEN + 16 * rec.sources.length + rec.auxData.length;
      return n;
    }
  }
}

/** Copies `src` to bytes[at..] unless it is already there (zero-copy emit). */
function place(src: Uint8Array, bytes: Uint8Array, at: number): void {
  if (src.length && (src.buffer !== bytes.buffer || src.byteOffset !== bytes.byteOffset + at)) bytes.set(src, at);
}

function writeAddresses(list: Ipv6Address[], bytes: Uint8Array, at: number): number {
  for (let i = 0; i < list.length; i++) {
    bytes.set(list[i]!.subarray(0, 16), at);
    at += 16;
  }
  return at;
}

/** Writes bytes 4 onwards of an MLD message at `offset`; returns the message length. */
export function emitMldBody(r: MldRepr, bytes: Uint8Array, offset: number): number {
  const b = bytes, o = offset;
  switch (r.kind) {
    case 'mldV1Query':
    case 'mldV1Report':
    case 'mldV1Done':
      if (r.kind === 'mldV1Query' && r.extra?.length) throw new RangeError('an MLDv1 query is exactly 24 bytes (RFC 3810 §8.1)');
      writeU16(b, o + 4, r.maxResponseDelay);
      writeU16(b, o + 6, r.reserved);
      b.set(r.group.subarray(0, 16), o + 8);
      if (r.extra) place(r.extra, b, o + MLD_V1_LEN);
      break;
    case 'mldV2Query': {
      if (r.sources.length > 0xffff) throw new RangeError(`${r.sources.length} sources exceed 65535`);
      writeU16(b, o + 4, r.maxResponseCode);
      writeU16(b, o + 6, r.reserved);
      b.set(r.group.subarray(0, 16), o + 8);
      b[o + 24] = ((r.reserved2 & 0x0f) << 4) | (r.suppressRouterProcessing ? 0x08 : 0) | (r.qrv & 7);
      b[o + 25] = r.qqic;
      writeU16(b, o + 26, r.sources.length);
      place(r.extra, b, writeAddresses(r.sources, b, o + MLD_V2_QUERY_MIN_LEN));
      break;
    }
    case 'mldV2Report': {
      if (r.records.length > 0xffff) throw new RangeError(`${r.records.length} records exceed 65535`);
      writeU16(b, o + 4, r.reserved);
      writeU16(b, o + 6, r.records.length);
      let at = o + 8;
      for (const rec of r.records) {
        if (rec.auxData.length % 4 !== 0 || rec.auxData.length > 255 * 4) throw new RangeError('auxiliary data must be at most 255 whole 32-bit words');
        if (rec.sources.length > 0xffff) throw new RangeError(`${rec.sources.length} sources exceed 65535`);
        b[at] = rec.recordType;
        b[at + 1] = rec.auxData.length / 4;
        writeU16(b, at + 2, rec.sources.length);
        b.set(rec.group.subarray(0, 16), at + 4);
        at = writeAddresses(rec.sources, b, at + MLD_RECORD_HEADER_LEN);
        place(rec.auxData, b, at);
        at += rec.auxData.length;
      }
      break;
    }
  }
  return mldReprLength(r);
}

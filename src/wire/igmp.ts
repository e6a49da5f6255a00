// IGMP: version 1 (RFC 1112 App. I), version 2 (RFC 2236 §2), version 3 (RFC 3376 §4).
// Queries of all versions share type 0x11 and are told apart by length and Max Resp
// Code (RFC 3376 §7.1). The checksum covers the whole IGMP message.

import { finishChecksum, sumBytes, verifyChecksum } from './checksum.js';
import { badChecksum, malformed, truncated, type ParseError } from './error.js';
import { decodeFloatCode, encodeFloatCode } from './float-code.js';
import { formatIpv4, readIpv4, writeIpv4, type Ipv4Address } from './address.js';

export const IgmpType = {
  MembershipQuery: 0x11,
  V1MembershipReport: 0x12,
  V2MembershipReport: 0x16,
  LeaveGroup: 0x17,
  V3MembershipReport: 0x22,
} as const;

/** RFC 3376 §4.2.12 group record types. */
export const IgmpRecordType = {
  ModeIsInclude: 1,
  ModeIsExclude: 2,
  ChangeToInclude: 3,
  ChangeToExclude: 4,
  AllowNewSources: 5,
  BlockOldSources: 6,
} as const;

const V3_QUERY_MIN_LEN = 12;

/**
 * RFC 3376 §4.1.1 / §4.1.7: codes below 128 are values; above, 1|exp(3)|mant(4) stands
 * for (mant | 0x10) << (exp + 3). Used for Max Resp Code (tenths of a second) and QQIC (seconds).
 */
export function decodeIgmpFloat(code: number): number {
  return decodeFloatCode(code, 4);
}

/** The code whose decoded value is the largest not above `value` (clamped to the range). */
export function encodeIgmpFloat(value: number): number {
  return encodeFloatCode(value, 4);
}

export interface IgmpGroupRecord {
  recordType: number;
  group: Ipv4Address;
  sources: Ipv4Address[];
  /** Auxiliary data (length in 32-bit words on the wire), kept as found. */
  auxData: Uint8Array;
}

interface Common {
  /** As found (parse) or to write (emit); undefined on emit computes it. */
  checksum?: number | undefined;
  /** Bytes after the message proper (RFC 2236 §2.5: ignored, kept for exact re-emit). */
  extra: Uint8Array;
}

export type IgmpRepr =
  /** 8-byte query: IGMPv1 when maxRespCode is 0, IGMPv2 otherwise (RFC 2236 §4). */
  | (Common & { kind: 'query'; maxRespCode: number; group: Ipv4Address })
  | (Common & {
      kind: 'queryV3';
      maxRespCode: number;
      group: Ipv4Address;
      /** The 4 reserved bits. */
      reserved: number;
      suppressRouterProcessing: boolean;
      qrv: number;
      qqic: number;
      sources: Ipv4Address[];
    })
  | (Common & { kind: 'reportV1' | 'reportV2' | 'leave'; /** unused on send, kept as found */ maxRespCode: number; group: Ipv4Address })
  | (Common & { kind: 'reportV3'; /** bytes 1 and 4..5 */ reserved1: number; reserved2: number; records: IgmpGroupRecord[] })
  | (Common & { kind: 'other'; type: number; maxRespCode: number; /** bytes 4..7 */ rest: number });

export interface IgmpParseOptions {
  /** Default true. */
  verifyChecksum?: boolean;
}

export function igmpQueryVersion(repr: IgmpRepr): 1 | 2 | 3 | 0 {
  if (repr.kind === 'queryV3') return 3;
  if (repr.kind === 'query') return repr.maxRespCode === 0 ? 1 : 2;
  return 0;
}

export function parseIgmp(bytes: Uint8Array, offset = 0, available = bytes.length - offset, opts: IgmpParseOptions = {}): IgmpRepr | ParseError {
  if (available < 8) return truncated('igmp', `${available} bytes, message needs 8`);
  if (opts.verifyChecksum !== false && !verifyChecksum(bytes, offset, available)) return badChecksum('igmp');
  const b = bytes, o = offset;
  const type = b[o]!, code = b[o + 1]!, checksum = (b[o + 2]! << 8) | b[o + 3]!;
  const group = readIpv4(b, o + 4);
  const end = o + available;
  switch (type) {
    case IgmpType.MembershipQuery: {
      if (available === 8) return { kind: 'query', maxRespCode: code, group, checksum, extra: b.subarray(end, end) };
      // RFC 3376 §7.1: 9–11 bytes is no valid query.
      if (available < V3_QUERY_MIN_LEN) return malformed('igmp', `query of ${available} bytes`);
      const n = (b[o + 10]! << 8) | b[o + 11]!;
      if (V3_QUERY_MIN_LEN + 4 * n > available) return truncated('igmp', `query lists ${n} sources, ${available} bytes`);
      const sources: number[] = [];
      for (let i = 0; i < n; i++) sources.push(readIpv4(b, o + 12 + 4 * i));
      const after = o + V3_QUERY_MIN_LEN + 4 * n;
      return {
        kind: 'queryV3', maxRespCode: code, group, checksum,
        reserved: b[o + 8]! >>> 4, suppressRouterProcessing: (b[o + 8]! & 0x08) !== 0, qrv: b[o + 8]! & 7, qqic: b[o + 9]!,
        sources, extra: b.subarray(after, end),
      };
    }
    case IgmpType.V1MembershipReport:
    case IgmpType.V2MembershipReport:
    case IgmpType.LeaveGroup: {
      const kind = type === IgmpType.V1MembershipReport ? 'reportV1' : type === IgmpType.V2MembershipReport ? 'reportV2' : 'leave';
      return { kind, maxRespCode: code, group, checksum, extra: b.subarray(o + 8, end) };
    }
    case IgmpType.V3MembershipReport: {
      const count = (b[o + 6]! << 8) | b[o + 7]!;
      const records: IgmpGroupRecord[] = [];
      let at = o + 8;
      for (let r = 0; r < count; r++) {
        if (at + 8 > end) return truncated('igmp', `group record ${r} of ${count} truncated`);
        const auxLen = b[at + 1]! * 4;
        const ns = (b[at + 2]! << 8) | b[at + 3]!;
        const recEnd = at + 8 + 4 * ns + auxLen;
        if (recEnd > end) return truncated('igmp', `group record ${r} claims ${recEnd - at} bytes`);
        const sources: number[] = [];
        for (let i = 0; i < ns; i++) sources.push(readIpv4(b, at + 8 + 4 * i));
        records.push({ recordType: b[at]!, group: readIpv4(b, at + 4), sources, auxData: b.subarray(recEnd - auxLen, recEnd) });
        at = recEnd;
      }
      return { kind: 'reportV3', reserved1: code, reserved2: (b[o + 4]! << 8) | b[o + 5]!, records, checksum, extra: b.subarray(at, end) };
    }
    default:
      return { kind: 'other', type, maxRespCode: code, rest: group, checksum, extra: b.subarray(o + 8, end) };
  }
}

export function igmpReprLength(repr: IgmpRepr): number {
  let n: number;
  switch (repr.kind) {
    case 'queryV3':
      n = V3_QUERY_MIN_LEN + 4 * repr.sources.length;
      break;
    case 'reportV3':
      n = 8;
      for (const r of repr.records) n += 8 + 4 * r.sources.length + r.auxData.length;
      break;
    default:
      n = 8;
  }
  return n + repr.extra.length;
}

const TYPE_OF = { query: 0x11, queryV3: 0x11, reportV1: 0x12, reportV2: 0x16, leave: 0x17, reportV3: 0x22 } as const;

export function emitIgmp(repr: IgmpRepr, bytes: Uint8Array, offset = 0): number {
  const len = igmpReprLength(repr);
  const b = bytes, o = offset;
  b[o] = repr.kind === 'other' ? repr.type : TYPE_OF[repr.kind];
  b[o + 2] = 0;
  b[o + 3] = 0;
  let at = o + 8;
  switch (repr.kind) {
    case 'query':
    case 'reportV1':
    case 'reportV2':
    case 'leave':
      b[o + 1] = repr.maxRespCode;
      writeIpv4(b, o + 4, repr.group);
      break;
    case 'other':
      b[o + 1] = repr.maxRespCode;
      writeIpv4(b, o + 4, repr.rest);
      break;
    case 'queryV3':
      b[o + 1] = repr.maxRespCode;
      writeIpv4(b, o + 4, repr.group);
      b[o + 8] = ((repr.reserved & 0x0f) << 4) | (repr.suppressRouterProcessing ? 0x08 : 0) | (repr.qrv & 7);
      b[o + 9] = repr.qqic;
      b[o + 10] = repr.sources.length >>> 8;
      b[o + 11] = repr.sources.length & 0xff;
      at = o + 12;
      for (const s of repr.sources) {
        writeIpv4(b, at, s);
        at += 4;
      }
      break;
    case 'reportV3':
      if (repr.records.length > 0xffff) throw new RangeError('too many group records');
      b[o + 1] = repr.reserved1;
      b[o + 4] = repr.reserved2 >>> 8;
      b[o + 5] = repr.reserved2 & 0xff;
      b[o + 6] = repr.records.length >>> 8;
      b[o + 7] = repr.records.length & 0xff;
      for (const r of repr.records) {
        if (r.auxData.length % 4 !== 0) throw new RangeError('auxiliary data must be whole 32-bit words');
        b[at] = r.recordType;
        b[at + 1] = r.auxData.length / 4;
        b[at + 2] = r.sources.length >>> 8;
        b[at + 3] = r.sources.length & 0xff;
        writeIpv4(b, at + 4, r.group);
        at += 8;
        for (const s of r.sources) {
          writeIpv4(b, at, s);
          at += 4;
        }
        b.set(r.auxData, at);
        at += r.auxData.length;
      }
      break;
  }
  b.set(repr.extra, at);
  const c = repr.checksum ?? finishChecksum(sumBytes(b, o, len));
  b[o + 2] = c >>> 8;
  b[o + 3] = c & 0xff;
  return len;
}

export function formatIgmp(repr: IgmpRepr): string {
  switch (repr.kind) {
    case 'query':
      return `IGMPv${repr.maxRespCode === 0 ? 1 : 2} query group=${formatIpv4(repr.group)}`;
    case 'queryV3':
      return `IGMPv3 query group=${formatIpv4(repr.group)} sources=${repr.sources.length}`;
    case 'reportV3':
      return `IGMPv3 report records=${repr.records.length}`;
    case 'other':
      return `IGMP type=0x${repr.type.toString(16)}`;
    default:
      return `IGMP ${repr.kind} group=${formatIpv4(repr.group)}`;
  }
}

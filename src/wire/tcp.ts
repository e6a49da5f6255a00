// TCP header (RFC 9293 §3.1) and options (RFC 9293 §3.2, RFC 7323, RFC 2018).

import { computeTransportChecksum, verifyTransportChecksum, type PseudoHeader } from './checksum.js';
import { badChecksum, malformed, truncated, ParseError, ParseErrorKind } from './error.js';
import { readU16, writeU16, readU32, writeU32 } from './bytes.js';

export const TCP_MIN_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;
export const IP_PROTO_TCP = 6;

/** Control bits. AE (formerly NS) is the low bit of byte 12 (RFC 9293 §3.1, RFC 3540). */
export const TcpFlags = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
  ECE: 0x040,
  CWR: 0x080,
  AE: 0x100,
} as const;

export const TcpOptionKind = {
  EndOfList: 0,
  NoOperation: 1,
  MaxSegmentSize: 2,
  WindowScale: 3,
  SackPermitted: 4,
  Sack: 5,
  Timestamps: 8,
} as const;

/** RFC 7323 §2.3: a shift above 14 is used as 14. */
export const TCP_MAX_WINDOW_SHIFT = 14;
/** RFC 2018 §3: at most 4 blocks fit in 40 bytes of options (3 beside timestamps). */
export const TCP_MAX_SACK_BLOCKS = 4;

/**
 * The options of one segment, read without allocation into a reusable object of fixed shape.
 * `present` is a bit set of (1 << kind) for the known kinds seen.
 */
export class TcpOptionsScratch {
  present = 0;
  mss = 0;
  windowShift = 0;
  sackPermitted = false;
  hasTimestamps = false;
  tsVal = 0;
  tsEcr = 0;
  sackBlockCount = 0;
  /** left0, right0, left1, right1, … */
  readonly sackEdges = new Uint32Array(2 * TCP_MAX_SACK_BLOCKS);
  clear(): void {
    this.present = 0;
    this.mss = 0;
    this.windowShift = 0;
    this.sackPermitted = false;
    this.hasTimestamps = false;
    this.tsVal = 0;
    this.tsEcr = 0;
    this.sackBlockCount = 0;
  }
  has(kind: number): boolean {
    return (this.present & (1 << kind)) !== 0;
  }
}

/** A zero-copy view of a TCP segment of `length` bytes at `offset`. */
export class TcpPacket {
  constructor(
    public bytes: Uint8Array,
    public offset = 0,
    /** Segment length (header + payload); from the IP layer. */
    public length = bytes.length - offset,
  ) {}
  reset(bytes: Uint8Array, offset: number, length: number): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }
  get srcPort(): number { return readU16(this.bytes, this.offset); }
  set srcPort(v: number) { writeU16(this.bytes, this.offset, v); }
  get dstPort(): number { return readU16(this.bytes, this.offset + 2); }
  set dstPort(v: number) { writeU16(this.bytes, this.offset + 2, v); }
  get seq(): number { return readU32(this.bytes, this.offset + 4); }
  set seq(v: number) { writeU32(this.bytes, this.offset + 4, v); }
  get ack(): number { return readU32(this.bytes, this.offset + 8); }
  set ack(v: number) { writeU32(this.bytes, this.offset + 8, v); }
  /** Header length in bytes (data offset × 4). */
  get headerLength(): number { return (this.bytes[this.offset + 12]! >>> 4) * 4; }
  set headerLength(v: number) {
    const o = this.offset + 12;
    this.bytes[o] = ((v >>> 2) << 4) | (this.bytes[o]! & 0x0f);
  }
  /** Control bits with AE at 0x100; the three reserved bits (0xe00) ride along unchanged. */
  get flags(): number { return ((this.bytes[this.offset + 12]! & 0x0f) << 8) | this.bytes[this.offset + 13]!; }
  set flags(v: number) {
    const o = this.offset + 12;
    this.bytes[o] = (this.bytes[o]! & 0xf0) | ((v >>> 8) & 0x0f);
    this.bytes[o + 1] = v & 0xff;
  }
  get window(): number { return readU16(this.bytes, this.offset + 14); }
  set window(v: number) { writeU16(this.bytes, this.offset + 14, v); }
  get checksum(): number { return readU16(this.bytes, this.offset + 16); }
  set checksum(v: number) { writeU16(this.bytes, this.offset + 16, v); }
  get urgentPointer(): number { return readU16(this.bytes, this.offset + 18); }
  set urgentPointer(v: number) { writeU16(this.bytes, this.offset + 18, v); }
  get payloadOffset(): number { return this.offset + this.headerLength; }
  get payloadLength(): number { return this.length - this.headerLength; }
  /** RFC 9293 §3.4 SEG.LEN: payload plus one for each of SYN and FIN. */
  get segmentLength(): number {
    const f = this.bytes[this.offset + 13]!;
    return this.payloadLength + (f & TcpFlags.SYN ? 1 : 0) + (f & TcpFlags.FIN ? 1 : 0);
  }

  computeChecksum(ph: PseudoHeader): number {
    return computeTransportChecksum(this.bytes, this.offset, this.length, ph, IP_PROTO_TCP, 16);
  }
  fillChecksum(ph: PseudoHeader): void {
    this.checksum = this.computeChecksum(ph);
  }
  verifyChecksum(ph: PseudoHeader): boolean {
    return verifyTransportChecksum(this.bytes, this.offset, this.length, ph, IP_PROTO_TCP);
  }

  /** Validates the header against `length` without allocating: 0 or the ParseErrorKind. */
  check(): 0 | ParseErrorKind {
    if (this.length < TCP_MIN_HEADER_LEN) return ParseErrorKind.Truncated;
    const hl = this.headerLength;
    if (hl < TCP_MIN_HEADER_LEN) return ParseErrorKind.Malformed;
    if (hl > this.length) return ParseErrorKind.Truncated;
    return 0;
  }

  /**
   * Reads the known options into `out` without allocating; unknown options are skipped
   * (RFC 9293 §3.2: they must be ignored). Returns 0 or the ParseErrorKind.
   * Call `check()` first.
   */
  readOptions(out: TcpOptionsScratch): 0 | ParseErrorKind {
    out.clear();
    const b = this.bytes;
    let i = this.offset + TCP_MIN_HEADER_LEN;
    const end = this.offset + this.headerLength;
    while (i < end) {
      const kind = b[i]!;
      if (kind === TcpOptionKind.EndOfList) return 0;
      if (kind === TcpOptionKind.NoOperation) {
        i++;
        continue;
      }
      if (i + 1 >= end) return ParseErrorKind.OptionOverflow;
      const len = b[i + 1]!;
      if (len < 2 || i + len > end) return ParseErrorKind.OptionOverflow;
      switch (kind) {
        case TcpOptionKind.MaxSegmentSize:
          if (len !== 4) return ParseErrorKind.Malformed;
          out.mss = (b[i + 2]! << 8) | b[i + 3]!;
          break;
        case TcpOptionKind.WindowScale:
          if (len !== 3) return ParseErrorKind.Malformed;
          out.windowShift = b[i + 2]!;
          break;
        case TcpOptionKind.SackPermitted:
          if (len !== 2) return ParseErrorKind.Malformed;
          out.sackPermitted = true;
          break;
        case TcpOptionKind.Sack: {
          if ((len - 2) % 8 !== 0 || len === 2) return ParseErrorKind.Malformed;
          const n = Math.min((len - 2) >>> 3, TCP_MAX_SACK_BLOCKS);
          for (let k = 0; k < n; k++) {
            const p = i + 2 + 8 * k;
            out.sackEdges[2 * k] = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
            out.sackEdges[2 * k + 1] = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0;
          }
          out.sackBlockCount = n;
          break;
        }
        case TcpOptionKind.Timestamps:
          if (len !== 10) return ParseErrorKind.Malformed;
          out.hasTimestamps = true;
          out.tsVal = ((b[i + 2]! << 24) | (b[i + 3]! << 16) | (b[i + 4]! << 8) | b[i + 5]!) >>> 0;
          out.tsEcr = ((b[i + 6]! << 24) | (b[i + 7]! << 16) | (b[i + 8]! << 8) | b[i + 9]!) >>> 0;
          break;
        default:
          break;
      }
      if (kind < 31) out.present |= 1 << kind;
      i += len;
    }
    return 0;
  }
}

export type TcpOption =
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; shift: number }
  | { kind: 'sackPermitted' }
  | { kind: 'sack'; blocks: Array<[left: number, right: number]> }
  | { kind: 'timestamps'; tsVal: number; tsEcr: number }
  | { kind: 'unknown'; code: number; data: Uint8Array };

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** TcpFlags bits; reserved bits 0xe00 carried as found. */
  flags: number;
  window: number;
  urgentPointer: number;
  /** Options in wire order. */
  options: TcpOption[];
  /** Bytes after an EOL option up to the end of the header (normally zeros). */
  optionPadding?: Uint8Array | undefined;
  /** As found (parse) or to write (emit); undefined on emit computes it. */
  checksum?: number | undefined;
  payload: Uint8Array;
}

export interface TcpParseOptions {
  pseudoHeader?: PseudoHeader;
}

function optionOverflow(detail: string): ParseError {
  return new ParseError(ParseErrorKind.OptionOverflow, 'tcp', detail);
}


/** Parses the option bytes of a header into a list, keeping everything needed to re-emit them exactly. */
export function parseTcpOptions(opts: Uint8Array): { options: TcpOption[]; padding: Uint8Array } | ParseError {
  const options: TcpOption[] = [];
  let i = 0;
  while (i < opts.length) {
    const kind = opts[i]!;
    if (kind === TcpOptionKind.EndOfList) {
      options.push({ kind: 'eol' });
      return { options, padding: opts.subarray(i + 1) };
    }
    if (kind === TcpOptionKind.NoOperation) {
      options.push({ kind: 'nop' });
      i++;
      continue;
    }
    if (i + 1 >= opts.length) return optionOverflow(`option ${kind} has no length octet`);
    const len = opts[i + 1]!;
    if (len < 2) return optionOverflow(`option ${kind} length ${len} < 2`);
    if (i + len > opts.length) return optionOverflow(`option ${kind} length ${len} runs past the header`);
    const wrongLength = (want: string) => malformed('tcp', `option ${kind} length ${len}, must be ${want}`);
    switch (kind) {
      case TcpOptionKind.MaxSegmentSize:
        if (len !== 4) return wrongLength('4');
        options.push({ kind: 'mss', value: (opts[i + 2]! << 8) | opts[i + 3]! });
        break;
      case TcpOptionKind.WindowScale:
        if (len !== 3) return wrongLength('3');
        options.push({ kind: 'wscale', shift: opts[i + 2]! });
        break;
      case TcpOptionKind.SackPermitted:
        if (len !== 2) return wrongLength('2');
        options.push({ kind: 'sackPermitted' });
        break;
      case TcpOptionKind.Sack: {
        if (len === 2 || (len - 2) % 8 !== 0) return wrongLength('2 + 8n');
        const blocks: Array<[number, number]> = [];
        for (let p = i + 2; p < i + len; p += 8) blocks.push([readU32(opts, p), readU32(opts, p + 4)]);
        options.push({ kind: 'sack', blocks });
        break;
      }
      case TcpOptionKind.Timestamps:
        if (len !== 10) return wrongLength('10');
        options.push({ kind: 'timestamps', tsVal: readU32(opts, i + 2), tsEcr: readU32(opts, i + 6) });
        break;
      default:
        options.push({ kind: 'unknown', code: kind, data: opts.subarray(i + 2, i + len) });
    }
    i += len;
  }
  return { options, padding: opts.subarray(opts.length) };
}

export function parseTcp(bytes: Uint8Array, offset = 0, available = bytes.length - offset, opts: TcpParseOptions = {}): TcpRepr | ParseError {
  if (available < TCP_MIN_HEADER_LEN) return truncated('tcp', `${available} bytes, header needs ${TCP_MIN_HEADER_LEN}`);
  const p = new TcpPacket(bytes, offset, available);
  const hl = p.headerLength;
  if (hl < TCP_MIN_HEADER_LEN) return malformed('tcp', `data offset ${hl / 4} < 5`);
  if (hl > available) return truncated('tcp', `header length ${hl} > ${available} available`);
  if (opts.pseudoHeader && !p.verifyChecksum(opts.pseudoHeader)) return badChecksum('tcp');
  const o = parseTcpOptions(bytes.subarray(offset + TCP_MIN_HEADER_LEN, offset + hl));
  if (o instanceof ParseError) return o;
  return {
    srcPort: p.srcPort,
    dstPort: p.dstPort,
    seq: p.seq,
    ack: p.ack,
    flags: p.flags,
    window: p.window,
    urgentPointer: p.urgentPointer,
    options: o.options,
    optionPadding: o.padding,
    checksum: p.checksum,
    payload: bytes.subarray(offset + hl, offset + available),
  };
}

function optionLength(o: TcpOption): number {
  switch (o.kind) {
    case 'eol':
    case 'nop':
      return 1;
    case 'mss':
      return 4;
    case 'wscale':
      return 3;
    case 'sackPermitted':
      return 2;
    case 'sack':
      return 2 + 8 * o.blocks.length;
    case 'timestamps':
      return 10;
    case 'unknown':
      return 2 + o.data.length;
  }
}

/** Header length for `repr`: options plus padding, rounded up to 4 bytes. */
export function tcpHeaderLength(repr: Pick<TcpRepr, 'options' | 'optionPadding'>): number {
  let n = 0;
  for (const o of repr.options) n += optionLength(o);
  n += repr.optionPadding?.length ?? 0;
  return TCP_MIN_HEADER_LEN + ((n + 3) & ~3);
}

export function tcpReprLength(repr: TcpRepr): number {
  return tcpHeaderLength(repr) + repr.payload.length;
}


/**
 * Writes header, options and payload; returns the bytes written. Options are padded
 * with zero (EOL) bytes to a 4-byte boundary, as Linux does. The checksum is computed
 * when `repr.checksum` is undefined and a pseudo-header is given.
 */
export function emitTcp(repr: TcpRepr, bytes: Uint8Array, offset = 0, ph?: PseudoHeader): number {
  const hl = tcpHeaderLength(repr);
  if (hl > TCP_MAX_HEADER_LEN) throw new RangeError(`TCP options need ${hl - TCP_MIN_HEADER_LEN} bytes, at most 40 fit`);
  const total = hl + repr.payload.length;
  const p = new TcpPacket(bytes, offset, total);
  p.srcPort = repr.srcPort;
  p.dstPort = repr.dstPort;
  p.seq = repr.seq;
  p.ack = repr.ack;
  bytes[offset + 12] = 0;
  p.headerLength = hl;
  p.flags = repr.flags;
  p.window = repr.window;
  p.checksum = 0;
  p.urgentPointer = repr.urgentPointer;
  let i = offset + TCP_MIN_HEADER_LEN;
  for (const o of repr.options) {
    switch (o.kind) {
      case 'eol':
        bytes[i++] = TcpOptionKind.EndOfList;
        break;
      case 'nop':
        bytes[i++] = TcpOptionKind.NoOperation;
        break;
      case 'mss':
        bytes[i] = TcpOptionKind.MaxSegmentSize;
        bytes[i + 1] = 4;
        bytes[i + 2] = o.value >>> 8;
        bytes[i + 3] = o.value & 0xff;
        i += 4;
        break;
      case 'wscale':
        bytes[i] = TcpOptionKind.WindowScale;
        bytes[i + 1] = 3;
        bytes[i + 2] = o.shift;
        i += 3;
        break;
      case 'sackPermitted':
        bytes[i] = TcpOptionKind.SackPermitted;
        bytes[i + 1] = 2;
        i += 2;
        break;
      case 'sack':
        bytes[i] = TcpOptionKind.Sack;
        bytes[i + 1] = 2 + 8 * o.blocks.length;
        i += 2;
        for (const [l, r] of o.blocks) {
          writeU32(bytes, i, l);
          writeU32(bytes, i + 4, r);
          i += 8;
        }
        break;
      case 'timestamps':
        bytes[i] = TcpOptionKind.Timestamps;
        bytes[i + 1] = 10;
        writeU32(bytes, i + 2, o.tsVal);
        writeU32(bytes, i + 6, o.tsEcr);
        i += 10;
        break;
      case 'unknown':
        bytes[i] = o.code;
        bytes[i + 1] = 2 + o.data.length;
        bytes.set(o.data, i + 2);
        i += 2 + o.data.length;
        break;
    }
  }
  if (repr.optionPadding) {
    bytes.set(repr.optionPadding, i);
    i += repr.optionPadding.length;
  }
  while (i < offset + hl) bytes[i++] = 0;
  if (repr.payload.length && (repr.payload.buffer !== bytes.buffer || repr.payload.byteOffset !== bytes.byteOffset + offset + hl)) {
    bytes.set(repr.payload, offset + hl);
  }
  if (repr.checksum !== undefined) p.checksum = repr.checksum;
  else if (ph) p.fillChecksum(ph);
  return total;
}

const FLAG_NAMES: Array<[number, string]> = [
  [TcpFlags.SYN, 'S'], [TcpFlags.FIN, 'F'], [TcpFlags.RST, 'R'], [TcpFlags.PSH, 'P'],
  [TcpFlags.ACK, '.'], [TcpFlags.URG, 'U'], [TcpFlags.ECE, 'E'], [TcpFlags.CWR, 'W'], [TcpFlags.AE, 'A'],
];

/** tcpdump-style flag letters. */
export function formatTcpFlags(flags: number): string {
  let s = '';
  for (const [bit, name] of FLAG_NAMES) if (flags & bit) s += name;
  return s || 'none';
}

export function formatTcp(repr: TcpRepr): string {
  return `TCP ${repr.srcPort} > ${repr.dstPort} [${formatTcpFlags(repr.flags)}] seq=${repr.seq} ack=${repr.ack} win=${repr.window} len=${repr.payload.length}`;
}

// Capture file reader: classic pcap (draft-ietf-opsawg-pcap) in either byte order with
// µs or ns timestamps, and pcapng (draft-ietf-opsawg-pcapng): sections in either byte
// order, interfaces with if_tsresol/if_tsoffset, Enhanced, Simple and Obsolete Packet
// Blocks; other blocks are skipped. Packet bytes are zero-copy subarrays of the input.
// Malformed input returns a ParseError; the reader never throws.

import { malformed, ParseError, ParseErrorKind, truncated } from '../wire/error.js';

export interface CapturedPacket {
  seconds: number;
  nanoseconds: number;
  linkType: number;
  originalLength: number;
  /** The captured bytes: a subarray of the input, not a copy. */
  data: Uint8Array;
  /** Interface of the packet within its section (as the pcapng block says, and as tshark shows); 0 for pcap. */
  interfaceId: number;
  /** Index of the pcapng section (Section Header Block) the packet is in; 0 for pcap. */
  section: number;
}

export interface Capture {
  format: 'pcap' | 'pcapng';
  packets: CapturedPacket[];
}

const PCAP_FILE_HEADER_LEN = 24;
const PCAP_RECORD_HEADER_LEN = 16;

// pcapng block types (draft-ietf-opsawg-pcapng §4, §10.1).
const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 0x00000001;
const BT_OPB = 0x00000002;
const BT_SPB = 0x00000003;
const BT_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
// IDB options (§4.2).
const OPT_ENDOFOPT = 0;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

/** Reads a capture file, recognising its format by its first four bytes. */
export function readCapture(bytes: Uint8Array): Capture | ParseError {
  if (bytes.length < 4) return truncated('pcap', `${bytes.length} bytes, no file magic`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const m = dv.getUint32(0, false);
  if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) return readPcap(bytes, dv, false, m === 0xa1b23c4d);
  if (m === 0xd4c3b2a1 || m === 0x4d3cb2a1) return readPcap(bytes, dv, true, m === 0x4d3cb2a1);
  if (m === BT_SHB) return readPcapng(bytes, dv);
  return malformed('pcap', `unknown file magic 0x${m.toString(16).padStart(8, '0')}`);
}

function unsupported(layer: string, detail: string): ParseError {
  return new ParseError(ParseErrorKind.Unsupported, layer, detail);
}

function readPcap(bytes: Uint8Array, dv: DataView, le: boolean, nano: boolean): Capture | ParseError {
  const n = bytes.length;
  if (n < PCAP_FILE_HEADER_LEN) return truncated('pcap', `${n} bytes, file header needs ${PCAP_FILE_HEADER_LEN}`);
  const major = dv.getUint16(4, le);
  if (major !== 2) return unsupported('pcap', `version ${major}.${dv.getUint16(6, le)}`);
  // The link-type field carries FCS information in its upper bits (§5); the type is the low 16.
  const linkType = dv.getUint32(20, le) & 0xffff;
  const packets: CapturedPacket[] = [];
  let at = PCAP_FILE_HEADER_LEN;
  while (at < n) {
    if (n - at < PCAP_RECORD_HEADER_LEN) return truncated('pcap', `record ${packets.length}: ${n - at} bytes, header needs ${PCAP_RECORD_HEADER_LEN}`);
    let seconds = dv.getUint32(at, le);
    const sub = dv.getUint32(at + 4, le);
    const capLen = dv.getUint32(at + 8, le);
    const origLen = dv.getUint32(at + 12, le);
    at += PCAP_RECORD_HEADER_LEN;
    if (capLen > n - at) return truncated('pcap', `record ${packets.length}: captured length ${capLen} > ${n - at} bytes left`);
    let nanoseconds = nano ? sub : sub * 1000;
    if (nanoseconds >= 1e9) {
      // Out-of-range fraction: carry it into the seconds rather than reject the file.
      seconds += Math.floor(nanoseconds / 1e9);
      nanoseconds %= 1e9;
    }
    packets.push({ seconds, nanoseconds, linkType, originalLength: origLen, data: bytes.subarray(at, at + capLen), interfaceId: 0, section: 0 });
    at += capLen;
  }
  return { format: 'pcap', packets };
}

/** One interface of a pcapng section. */
interface Iface {
  linkType: number;
  snaplen: number;
  /** Units per second of timestamps: 10^e or 2^e. */
  base: 10 | 2;
  exp: number;
  /** if_tsoffset, seconds added to every timestamp. */
  offsetSec: number;
  id: number;
}

function readPcapng(bytes: Uint8Array, dv: DataView): Capture | ParseError {
  const n = bytes.length;
  const packets: CapturedPacket[] = [];
  let ifaces: Iface[] = [];
  let section = -1;
  let le = true;
  let at = 0;
  let first = true;
  const ts = new Timestamp();
  while (at < n) {
    if (n - at < 12) return truncated('pcapng', `block at ${at}: ${n - at} bytes, needs at least 12`);
    // The SHB type is a palindrome, so it is recognised before the byte order is known.
    const isShb = dv.getUint32(at, false) === BT_SHB;
    if (isShb) {
      const bom = dv.getUint32(at + 8, false);
      if (bom === BYTE_ORDER_MAGIC) le = false;
      else if (bom === 0x4d3c2b1a) le = true;
      else return malformed('pcapng', `section at ${at}: byte-order magic 0x${bom.toString(16)}`);
    } else if (first) {
      return malformed('pcapng', 'file does not start with a Section Header Block');
    }
    first = false;
    const type = dv.getUint32(at, le);
    const len = dv.getUint32(at + 4, le);
    if (len < 12 || len % 4 !== 0) return malformed('pcapng', `block at ${at}: total length ${len}`);
    if (len > n - at) return truncated('pcapng', `block at ${at}: total length ${len} > ${n - at} bytes left`);
    if (dv.getUint32(at + len - 4, le) !== len) return malformed('pcapng', `block at ${at}: trailing length ${dv.getUint32(at + len - 4, le)} != ${len}`);
    const body = at + 8;
    const bodyEnd = at + len - 4;
    const bodyLen = len - 12;
    switch (type) {
      case BT_SHB: {
        if (bodyLen < 16) return malformed('pcapng', `section header at ${at}: body ${bodyLen} < 16`);
        const major = dv.getUint16(body + 4, le);
        if (major !== 1) return unsupported('pcapng', `section at ${at}: version ${major}.${dv.getUint16(body + 6, le)}`);
        const err = checkOptions(dv, le, body + 16, bodyEnd, at);
        if (err) return err;
        ifaces = [];
        section++;
        break;
      }
      case BT_IDB: {
        if (bodyLen < 8) return malformed('pcapng', `interface block at ${at}: body ${bodyLen} < 8`);
        const iface: Iface = {
          linkType: dv.getUint16(body, le),
          snaplen: dv.getUint32(body + 4, le),
          base: 10,
          exp: 6,
          offsetSec: 0,
          id: ifaces.length,
        };
        const err = readIfaceOptions(dv, le, body + 8, bodyEnd, at, iface);
        if (err) return err;
        ifaces.push(iface);
        break;
      }
      case BT_EPB:
      case BT_OPB: {
        if (bodyLen < 20) return malformed('pcapng', `packet block at ${at}: body ${bodyLen} < 20`);
        const id = type === BT_EPB ? dv.getUint32(body, le) : dv.getUint16(body, le);
        const iface = ifaces[id];
        if (iface === undefined) return malformed('pcapng', `packet block at ${at}: interface ${id} not described (${ifaces.length} in section)`);
        const capLen = dv.getUint32(body + 12, le);
        const origLen = dv.getUint32(body + 16, le);
        const data = body + 20;
        if (pad4(capLen) > bodyEnd - data) return malformed('pcapng', `packet block at ${at}: captured length ${capLen} (padded) > ${bodyEnd - data} in block`);
        const err = checkOptions(dv, le, data + pad4(capLen), bodyEnd, at);
        if (err) return err;
        ts.set(dv.getUint32(body + 4, le), dv.getUint32(body + 8, le), iface);
        packets.push({
          seconds: ts.seconds,
          nanoseconds: ts.nanoseconds,
          linkType: iface.linkType,
          originalLength: origLen,
          data: bytes.subarray(data, data + capLen),
          interfaceId: iface.id,
          section,
        });
        break;
      }
      case BT_SPB: {
        if (bodyLen < 4) return malformed('pcapng', `simple packet block at ${at}: body ${bodyLen} < 4`);
        const iface = ifaces[0];
        if (iface === undefined) return malformed('pcapng', `simple packet block at ${at}: no interface in section`);
        const origLen = dv.getUint32(body, le);
        // §4.4: the captured length is the smaller of the original length and the snaplen
        // (0 means no limit), and must fit in the block.
        let capLen = origLen;
        if (iface.snaplen !== 0 && iface.snaplen < capLen) capLen = iface.snaplen;
        if (pad4(capLen) > bodyLen - 4) return malformed('pcapng', `simple packet block at ${at}: ${capLen} bytes do not fit in ${bodyLen - 4}`);
        packets.push({
          seconds: 0,
          nanoseconds: 0,
          linkType: iface.linkType,
          originalLength: origLen,
          data: bytes.subarray(body + 4, body + 4 + capLen),
          interfaceId: iface.id,
          section,
        });
        break;
      }
      default:
        break; // Name resolution, statistics, secrets, custom and unknown blocks.
    }
    at += len;
  }
  return { format: 'pcapng', packets };
}

/** Rounds up to a multiple of 4 (`x & 3` keeps the low bits of any safe integer). */
function pad4(x: number): number {
  return x + ((4 - (x & 3)) & 3);
}

/** Walks an option list and checks that every option fits in [at, end). */
function checkOptions(dv: DataView, le: boolean, at: number, end: number, block: number): ParseError | undefined {
  while (at < end) {
    if (end - at < 4) return malformed('pcapng', `block at ${block}: ${end - at} stray bytes after options`);
    const code = dv.getUint16(at, le);
    const len = dv.getUint16(at + 2, le);
    if (code === OPT_ENDOFOPT) return undefined;
    if (pad4(len) > end - at - 4) return new ParseError(ParseErrorKind.OptionOverflow, 'pcapng', `block at ${block}: option ${code} of ${len} bytes overflows the block`);
    at += 4 + pad4(len);
  }
  return undefined;
}

function readIfaceOptions(dv: DataView, le: boolean, at: number, end: number, block: number, iface: Iface): ParseError | undefined {
  const err = checkOptions(dv, le, at, end, block);
  if (err) return err;
  while (end - at >= 4) {
    const code = dv.getUint16(at, le);
    const len = dv.getUint16(at + 2, le);
    if (code === OPT_ENDOFOPT) break;
    const v = at + 4;
    if (code === IF_TSRESOL) {
      if (len !== 1) return malformed('pcapng', `interface block at ${block}: if_tsresol of ${len} bytes`);
      const r = dv.getUint8(v);
      // §4.2: MSB clear, 10^-r seconds; MSB set, 2^-(r & 0x7f).
      if (r & 0x80) { iface.base = 2; iface.exp = r & 0x7f; }
      else { iface.base = 10; iface.exp = r; }
      if ((iface.base === 10 && iface.exp > 18) || (iface.base === 2 && iface.exp > 63)) {
        return unsupported('pcapng', `interface block at ${block}: if_tsresol 0x${r.toString(16)}`);
      }
    } else if (code === IF_TSOFFSET) {
      if (len !== 8) return malformed('pcapng', `interface block at ${block}: if_tsoffset of ${len} bytes`);
      // A signed 64-bit count of seconds.
      iface.offsetSec = le
        ? dv.getInt32(v + 4, true) * 4294967296 + dv.getUint32(v, true)
        : dv.getInt32(v, false) * 4294967296 + dv.getUint32(v + 4, false);
    }
    at += 4 + pad4(len);
  }
  return undefined;
}

/**
 * Converts a 64-bit timestamp in interface units to seconds and nanoseconds exactly
 * (long division over 8-bit digits while the divisor fits, BigInt beyond).
 */
class Timestamp {
  seconds = 0;
  nanoseconds = 0;
  set(hi: number, lo: number, iface: Iface): void {
    const exp = iface.exp;
    if (iface.base === 10 ? exp <= 9 : exp <= 30) {
      const d = iface.base === 10 ? 10 ** exp : 2 ** exp;
      // ts = hi * 2^32 + lo; divide digit by digit so every intermediate is exact.
      let q = 0, r = 0;
      for (let shift = 24; shift >= 0; shift -= 8) {
        const cur = r * 256 + ((hi >>> shift) & 0xff);
        const qd = Math.floor(cur / d);
        q = q * 256 + qd;
        r = cur - qd * d;
      }
      for (let shift = 24; shift >= 0; shift -= 8) {
        const cur = r * 256 + ((lo >>> shift) & 0xff);
        const qd = Math.floor(cur / d);
        q = q * 256 + qd;
        r = cur - qd * d;
      }
      this.seconds = q + iface.offsetSec;
      // r < d <= 2^30, so r * 1e9 < 2^60 only for base 2; keep it exact below 2^53.
      if (iface.base === 10) this.nanoseconds = r * 10 ** (9 - exp);
      else if (exp <= 23) this.nanoseconds = Math.floor((r * 1e9) / d);
      else this.nanoseconds = Number((BigInt(r) * 1_000_000_000n) >> BigInt(exp));
      return;
    }
    const t = (BigInt(hi) << 32n) | BigInt(lo);
    const d = iface.base === 10 ? 10n ** BigInt(exp) : 1n << BigInt(exp);
    this.seconds = Number(t / d) + iface.offsetSec;
    this.nanoseconds = Number(((t % d) * 1_000_000_000n) / d);
  }
}

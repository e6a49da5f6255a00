// Classic pcap writer (the libpcap file format, draft-ietf-opsawg-pcap §4-5):
// a 24-byte file header, then per frame a 16-byte record header and the bytes.
// Written little-endian; magic 0xa1b2c3d4 (µs) or 0xa1b23c4d (ns), version 2.4.

import { closeSync, openSync, writeSync } from 'node:fs';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
export const PCAP_FILE_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
/** LINKTYPE_ETHERNET. */
export const LINKTYPE_ETHERNET = 1;
/** libpcap's and tcpdump's default snapshot length. */
export const PCAP_DEFAULT_SNAPLEN = 262144;

export type PcapResolution = 'us' | 'ns';

export interface PcapWriterOptions {
  /** Timestamp resolution of the file: microseconds or nanoseconds. */
  resolution: PcapResolution;
  /** Frames longer than this are cut; their original length is kept. Default 262144. */
  snaplen?: number;
  /** LINKTYPE_* value of the file. Default 1 (Ethernet). */
  linkType?: number;
  /** Size of the file sink's buffer (bytes); at least one full record fits. Default 1 MiB. */
  bufferSize?: number;
}

const DEFAULT_FILE_BUFFER = 1 << 20;
const INITIAL_MEMORY_BUFFER = 1 << 16;

/**
 * Writes frames in classic pcap format, to memory (`new PcapWriter(opts)`, then
 * `toBytes()`) or to a file (`PcapWriter.toFile(path, opts)`, then `close()`).
 * The file sink copies into one preallocated buffer flushed when full: no allocation
 * per frame in steady state.
 */
export class PcapWriter {
  readonly resolution: PcapResolution;
  readonly snaplen: number;
  readonly linkType: number;
  /** Frames written so far. */
  frames = 0;
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;
  /** Bytes already handed to the file (file sink only). */
  private flushed = 0;
  /** File descriptor, or -1 for the in-memory sink. */
  private fd: number;
  private closed = false;

  constructor(opts: PcapWriterOptions, fd = -1) {
    const snaplen = opts.snaplen ?? PCAP_DEFAULT_SNAPLEN;
    const linkType = opts.linkType ?? LINKTYPE_ETHERNET;
    if (opts.resolution !== 'us' && opts.resolution !== 'ns') throw new RangeError(`pcap resolution must be 'us' or 'ns'`);
    if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > 0x7fffffff) throw new RangeError(`pcap snaplen ${snaplen} out of range`);
    if (!Number.isInteger(linkType) || linkType < 0 || linkType > 0xffff) throw new RangeError(`pcap link type ${linkType} out of range`);
    this.resolution = opts.resolution;
    this.snaplen = snaplen;
    this.linkType = linkType;
    this.fd = fd;
    const size = fd >= 0 ? Math.max(opts.bufferSize ?? DEFAULT_FILE_BUFFER, PCAP_FILE_HEADER_LEN + PCAP_RECORD_HEADER_LEN) : INITIAL_MEMORY_BUFFER;
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
    this.writeFileHeader();
  }

  /** A writer whose output goes to `path` (created or truncated). Call `close()` at the end. */
  static toFile(path: string, opts: PcapWriterOptions): PcapWriter {
    const fd = openSync(path, 'w');
    try {
      return new PcapWriter(opts, fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Total bytes of the capture so far (file header included). */
  get byteLength(): number {
    return this.flushed + this.pos;
  }

  /**
   * Appends a frame seen at `timeUs` microseconds (since the epoch, or since the start
   * of a simulation); a fractional part carries nanoseconds in an 'ns' file.
   */
  write(frame: Uint8Array, timeUs: number): void {
    if (!(timeUs >= 0) || timeUs >= 4294967296e6) throw new RangeError(`pcap timestamp ${timeUs} µs out of range`);
    let sec = Math.floor(timeUs / 1e6);
    let remUs = timeUs - sec * 1e6;
    // Division may round up across a second boundary.
    if (remUs < 0) { sec -= 1; remUs += 1e6; }
    let sub: number;
    if (this.resolution === 'ns') {
      sub = Math.round(remUs * 1000);
      if (sub >= 1e9) { sec += 1; sub -= 1e9; }
    } else {
      sub = Math.floor(remUs);
      if (sub >= 1e6) { sec += 1; sub -= 1e6; }
    }
    this.record(frame, sec, sub);
  }

  /** Appends a frame with an exact timestamp; in a 'us' file nanoseconds are truncated to µs. */
  writeAt(frame: Uint8Array, seconds: number, nanoseconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 0xffffffff) throw new RangeError(`pcap seconds ${seconds} out of range`);
    if (!Number.isInteger(nanoseconds) || nanoseconds < 0 || nanoseconds >= 1e9) throw new RangeError(`pcap nanoseconds ${nanoseconds} out of range`);
    this.record(frame, seconds, this.resolution === 'ns' ? nanoseconds : Math.floor(nanoseconds / 1000));
  }

  /** The capture as bytes (a copy). For a file sink, what has been written so far is in the file. */
  toBytes(): Uint8Array {
    if (this.fd >= 0) throw new Error('toBytes() is for the in-memory sink; read the file instead');
    return this.buf.slice(0, this.pos);
  }

  /** Hands buffered bytes to the file (file sink; no-op in memory). */
  flush(): void {
    if (this.fd < 0 || this.pos === 0) return;
    let done = 0;
    while (done < this.pos) done += writeSync(this.fd, this.buf, done, this.pos - done);
    this.flushed += this.pos;
    this.pos = 0;
  }

  /** Flushes and closes the file; further writes throw. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.fd >= 0) closeSync(this.fd);
  }

  private writeFileHeader(): void {
    const v = this.view;
    v.setUint32(0, this.resolution === 'ns' ? PCAP_MAGIC_NS : PCAP_MAGIC_US, true);
    v.setUint16(4, PCAP_VERSION_MAJOR, true);
    v.setUint16(6, PCAP_VERSION_MINOR, true);
    v.setInt32(8, 0, true); // thiszone: timestamps are UTC
    v.setUint32(12, 0, true); // sigfigs
    v.setUint32(16, this.snaplen, true);
    v.setUint32(20, this.linkType, true);
    this.pos = PCAP_FILE_HEADER_LEN;
  }

  private record(frame: Uint8Array, sec: number, sub: number): void {
    if (this.closed) throw new Error('pcap writer is closed');
    const origLen = frame.length;
    const capLen = origLen < this.snaplen ? origLen : this.snaplen;
    const need = PCAP_RECORD_HEADER_LEN + capLen;
    if (this.pos + need > this.buf.length) this.makeRoom(need);
    const v = this.view, at = this.pos;
    v.setUint32(at, sec, true);
    v.setUint32(at + 4, sub, true);
    v.setUint32(at + 8, capLen, true);
    v.setUint32(at + 12, origLen, true);
    this.pos = at + PCAP_RECORD_HEADER_LEN;
    if (this.pos + capLen > this.buf.length) {
      // A record larger than the whole file buffer: header through the buffer, bytes directly.
      this.flush();
      let done = 0;
      while (done < capLen) done += writeSync(this.fd, frame, done, capLen - done);
      this.flushed += capLen;
    } else {
      if (capLen === origLen) this.buf.set(frame, this.pos);
      else {
        const b = this.buf, p = this.pos;
        for (let i = 0; i < capLen; i++) b[p + i] = frame[i]!;
      }
      this.pos += capLen;
    }
    this.frames++;
  }

  private makeRoom(need: number): void {
    if (this.fd >= 0) {
      this.flush();
      return;
    }
    let size = this.buf.length * 2;
    while (size < this.pos + need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

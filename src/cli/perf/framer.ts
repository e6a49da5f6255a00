// Splits a TCP byte stream into sockperf messages by their length field, without
// allocating: complete messages are handed over where they lie; only a message cut by a
// read boundary is gathered into an accumulation area first (as sockperf's
// BufferAccumulation does). The accumulation area and the receive area share one buffer,
// so gathering from the receive area is a copyWithin, not a new view.

import { HEADER_SIZE, MAX_MESSAGE_SIZE, readLength } from './message.js';

export interface MessageSink {
  /** One complete message at bytes[off, off + len). The bytes may be changed in place. */
  onMessage(bytes: Uint8Array, off: number, len: number): void;
}

export class StreamFramer {
  /** [accumulation area (one largest message) | receive area | spare area]. */
  readonly mem: Uint8Array;
  /** Where the spare area starts: a caller may stage replies there and copy into it with copyWithin. */
  readonly spareStart: number;
  /** Read into this (recv(fd, framer.rx)), then call received(n). */
  readonly rx: Uint8Array;
  /** Bytes of a partial message held at mem[0, pending). */
  private pending = 0;
  /** Set when a header carried an impossible length: the stream cannot be resynchronised. */
  invalid = false;
  messages = 0;

  constructor(rxSize = 1 << 16, spareSize = 0) {
    this.mem = new Uint8Array(MAX_MESSAGE_SIZE + rxSize + spareSize);
    this.rx = this.mem.subarray(MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE + rxSize);
    this.spareStart = MAX_MESSAGE_SIZE + rxSize;
  }

  /** `n` bytes were read into `rx`. False when the stream is invalid (close it). */
  received(n: number, sink: MessageSink): boolean {
    return this.push(this.mem, MAX_MESSAGE_SIZE, n, sink);
  }

  /** `n` bytes at src[off…] (src may be any buffer, e.g. a Node 'data' chunk). */
  push(src: Uint8Array, off: number, n: number, sink: MessageSink): boolean {
    if (this.invalid) return false;
    let p = off;
    const end = off + n;
    if (this.pending > 0) {
      if (this.pending < HEADER_SIZE) {
        const take = Math.min(HEADER_SIZE - this.pending, end - p);
        this.gather(src, p, take);
        p += take;
        if (this.pending < HEADER_SIZE) return true;
      }
      const len = readLength(this.mem, 0);
      if (len < HEADER_SIZE || len > MAX_MESSAGE_SIZE) return this.fail();
      const take = Math.min(len - this.pending, end - p);
      this.gather(src, p, take);
      p += take;
      if (this.pending < len) return true;
      this.pending = 0;
      this.messages++;
      sink.onMessage(this.mem, 0, len);
    }
    while (end - p >= HEADER_SIZE) {
      const len = readLength(src, p);
      if (len < HEADER_SIZE || len > MAX_MESSAGE_SIZE) return this.fail();
      if (end - p < len) break;
      this.messages++;
      sink.onMessage(src, p, len);
      p += len;
    }
    if (p < end) {
      this.pending = 0;
      this.gather(src, p, end - p);
    }
    return true;
  }

  /** Whether a partial message is waiting for more bytes. */
  get partial(): boolean {
    return this.pending > 0;
  }

  reset(): void {
    this.pending = 0;
    this.invalid = false;
  }

  private gather(src: Uint8Array, at: number, len: number): void {
    if (src === this.mem) this.mem.copyWithin(this.pending, at, at + len);
    else this.mem.set(src.subarray(at, at + len), this.pending);
    this.pending += len;
  }

  private fail(): boolean {
    this.invalid = true;
    this.pending = 0;
    return false;
  }
}

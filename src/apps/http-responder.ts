// A small HTTP/1.1 responder on xlio-ts's BSD socket API (no Node `net`): what a curl in
// another host fetches to show that the stack serves real clients. Node's own `http`
// server runs over the net drop-in (src/node); this one needs nothing but Sockets.
//
//   GET /hello          "hello from xlio-ts\n"
//   GET /bytes/N        N bytes, byte i = responderByte(i) (0 ≤ N ≤ 2^40), for checksums
//   HEAD of either      the same headers, no body
// Anything else: 404; a method other than GET/HEAD: 405 with Allow; a request line or
// header block that is not HTTP/1.x or exceeds 16 KiB: 400, then close (RFC 9112 §2.2, §3).
// Connections persist unless the client says `Connection: close` or speaks HTTP/1.0 without
// keep-alive (RFC 9112 §9.3).

import { Errno, errnoName } from '../errno.js';
import * as K from '../socket/constants.js';
import type { SocketPromises } from '../socket/promises.js';
import type { Sockets } from '../socket/sockets.js';
import type { SockAddr } from '../socket/types.js';

/** Byte i of every /bytes/N body. */
export function responderByte(i: number): number {
  return (i * 7 + 3) & 0xff;
}

const MAX_HEAD = 16 * 1024;
const CHUNK = 64 * 1024;
/** 256 + CHUNK bytes of the body pattern: any chunk of a body is a view of this. */
const PATTERN = Uint8Array.from({ length: 256 + CHUNK }, (_, i) => responderByte(i));
const CRLFCRLF = /\r\n\r\n/;
const enc = new TextEncoder();
const dec = new TextDecoder('latin1');

export interface ResponderCounters {
  connections: number;
  requests: number;
  bytesOut: number;
  errors: number;
}

interface Request {
  method: string;
  target: string;
  keepAlive: boolean;
}

/** Parses a request head (up to the blank line). Returns null when it is not HTTP/1.x. */
function parseHead(head: string): Request | null {
  const lines = head.split('\r\n');
  const m = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(lines[0] ?? '');
  if (m === null) return null;
  let connection = '';
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    if (line.slice(0, colon).toLowerCase() === 'connection') connection = line.slice(colon + 1).trim().toLowerCase();
  }
  const http10 = m[3] === '0';
  const keepAlive = http10 ? connection === 'keep-alive' : connection !== 'close';
  return { method: m[1]!, target: m[2]!, keepAlive };
}

export class HttpResponder {
  readonly counters: ResponderCounters = { connections: 0, requests: 0, bytesOut: 0, errors: 0 };
  private listenFd = -1;
  private closed = false;
  private readonly open = new Set<number>();

  constructor(
    private readonly api: Sockets,
    private readonly io: SocketPromises,
  ) {}

  /** Binds and listens on `addr`; returns the listening fd. Throws with the errno name. */
  listen(addr: SockAddr, backlog = 128): number {
    const fd = this.api.socket(addr.family, K.SOCK_STREAM, 0);
    if (fd < 0) throw new Error(`socket: ${errnoName(fd)}`);
    this.api.setsockoptInt(fd, K.SOL_SOCKET, K.SO_REUSEADDR, 1);
    let r = this.api.bind(fd, addr);
    if (r === 0) r = this.api.listen(fd, backlog);
    if (r < 0) {
      this.api.close(fd);
      throw new Error(`bind/listen: ${errnoName(r)}`);
    }
    this.listenFd = fd;
    return fd;
  }

  /** Accepts and serves connections until close(). */
  async serve(): Promise<void> {
    while (!this.closed) {
      const fd = await this.io.accept(this.listenFd);
      if (this.closed) {
        if (fd >= 0) this.api.close(fd);
        break;
      }
      if (fd < 0) {
        if (fd === -Errno.EAGAIN || fd === -Errno.EINTR || fd === -Errno.ECONNABORTED) continue;
        throw new Error(`accept: ${errnoName(fd)}`);
      }
      this.counters.connections++;
      this.open.add(fd);
      void this.connection(fd)
        .catch(() => this.counters.errors++)
        .finally(() => {
          this.open.delete(fd);
          this.api.close(fd);
        });
    }
  }

  private async connection(fd: number): Promise<void> {
    const buf = new Uint8Array(MAX_HEAD);
    let have = 0;
    for (;;) {
      // Read until a whole head is in (pipelined requests: what follows it stays for the next round).
      let end = -1;
      while ((end = dec.decode(buf.subarray(0, have)).search(CRLFCRLF)) < 0) {
        if (have === buf.length) {
          await this.reply(fd, 400, 'Bad Request', 'request head too large\n', false, false);
          return;
        }
        const n = await this.io.recv(fd, buf.subarray(have));
        if (n <= 0 || this.closed) return; // EOF, reset, or shutting down
        have += n;
      }
      const req = parseHead(dec.decode(buf.subarray(0, end)));
      buf.copyWithin(0, end + 4, have);
      have -= end + 4;
      if (req === null) {
        await this.reply(fd, 400, 'Bad Request', 'not an HTTP/1.x request\n', false, false);
        return;
      }
      this.counters.requests++;
      const head = req.method === 'HEAD';
      if (req.method !== 'GET' && !head) {
        if (!(await this.reply(fd, 405, 'Method Not Allowed', 'only GET and HEAD\n', req.keepAlive, false, 'Allow: GET, HEAD\r\n'))) return;
      } else if (req.target === '/hello') {
        if (!(await this.reply(fd, 200, 'OK', 'hello from xlio-ts\n', req.keepAlive, head))) return;
      } else {
        const m = /^\/bytes\/(\d{1,13})$/.exec(req.target);
        if (m === null) {
          if (!(await this.reply(fd, 404, 'Not Found', `no ${req.target} here\n`, req.keepAlive, head))) return;
        } else if (!(await this.body(fd, Number(m[1]), req.keepAlive, head))) return;
      }
      if (!req.keepAlive) return;
    }
  }

  /** Sends all of `bytes`; false when the connection failed. */
  private async sendAll(fd: number, bytes: Uint8Array): Promise<boolean> {
    const n = await this.io.send(fd, bytes, K.MSG_NOSIGNAL);
    if (n !== bytes.length) return false;
    this.counters.bytesOut += n;
    return true;
  }

  private async reply(fd: number, status: number, reason: string, text: string, keepAlive: boolean, head: boolean, extra = ''): Promise<boolean> {
    const body = enc.encode(text);
    const h = `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n${extra}${keepAlive ? '' : 'Connection: close\r\n'}\r\n`;
    if (!(await this.sendAll(fd, enc.encode(h)))) return false;
    return head || (await this.sendAll(fd, body));
  }

  private async body(fd: number, length: number, keepAlive: boolean, head: boolean): Promise<boolean> {
    const h = `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n${keepAlive ? '' : 'Connection: close\r\n'}\r\n`;
    if (!(await this.sendAll(fd, enc.encode(h)))) return false;
    if (head) return true;
    for (let off = 0; off < length; off += CHUNK) {
      const n = Math.min(CHUNK, length - off);
      const at = off & 0xff;
      if (!(await this.sendAll(fd, PATTERN.subarray(at, at + n)))) return false;
    }
    return true;
  }

  /** Stops accepting and closes the listener; connections in progress end at their next read. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.listenFd >= 0) this.api.close(this.listenFd);
    for (const fd of this.open) this.api.shutdown(fd, K.SHUT_RDWR);
  }
}

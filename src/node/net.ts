// xlio-ts/net: Node's `net` module over the xlio-ts stack of the process (host.ts).
//
// A port of Node 20's lib/net.js with the libuv TCP handle replaced by TcpHandle/ServerHandle
// below, which drive non-blocking descriptors of the host's socket API from its epoll
// callbacks. The stream logic, the order of events and the errors are net.js's own:
// Socket is a stream.Duplex with the same options, fields and methods; Server is an
// EventEmitter with every listen() overload for TCP; errors are Node's (errors.ts).
//
// What libuv does, the handles do the same way:
//   reading   readStart() arms reading; each EPOLLIN edge reads until EAGAIN into one 64 KiB
//             buffer shared by every socket, and each chunk is copied into a Buffer of its
//             own for 'data'. push() saying "enough" stops reading (readStop): the TCP
//             window closes on the peer. EOF is a push(null); an errno destroys the socket
//             with "read ECONNRESET".
//   writing   a write goes to send() at once (uv_try_write); what the kernel-side buffer does
//             not take waits in the handle and goes on EPOLLOUT; the write's callback runs
//             when all of it has been handed over (synchronously when it went at once), so
//             stream.Writable's buffer, writableLength, write()'s return value and 'drain'
//             are Node's. Several buffered chunks go out in one sendmsg (writev).
//   shutdown  _final → shutdown(SHUT_WR) once every write is out; its callback next turn.
//   close     _destroy → unwatch + close(fd); 'close' from a setImmediate, as uv_close calls
//             back in the loop's close phase. resetAndDestroy() sets SO_LINGER {1, 0}: RST.
//   lifetime  a handle keeps the process alive (host.ref()) while it is active as libuv
//             counts it — connecting, reading, writing, listening — and not unref'd.
//
// Socket calls made from user code (write, end, connect, setsockopt…) bring the stack's
// clock up to date first; after them what they sent goes out at once (host.afterCalls: the
// link, and lo to local sockets), while the events that causes wait for the host's next round
// (its next slice, or one setImmediate per turn when the loop is parked).
//
// Pipes and Unix domain sockets (path) are not network traffic (XLIO leaves AF_UNIX to the
// kernel too): they are Node's own. net.connect(path) / createConnection({ path }) return a
// node:net Socket; Server#listen(path) listens on an inner node:net Server whose accepted
// (node:net) sockets are this Server's connections, with Node's events, errors, counting,
// maxConnections/'drop', close(), address(), ref/unref. Socket#connect(path) on an xlio-ts
// Socket throws (use net.connect(path)).
// Not here: fd/handle adoption, cluster. Node's http, https and tls run unchanged over these
// sockets: see serve(), Agent and HttpsAgent at the end.
//
// Derived from Node.js's lib/net.js (v20), Copyright Node.js contributors, MIT License
// (https://github.com/nodejs/node/blob/v20.x/LICENSE): the JavaScript half is a port of it, so
// that events, their order and errors are Node's own.

import { executionAsyncId } from 'node:async_hooks';
import dns from 'node:dns';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import nodeNet from 'node:net';
import { addAbortSignal, Duplex, type DuplexOptions } from 'node:stream';
import tls from 'node:tls';
import { Errno } from '../errno.js';
import * as K from '../socket/constants.js';
import { MsgHdr, SockAddr } from '../socket/types.js';
import type { Sockets } from '../socket/sockets.js';
import { formatIpv4, formatIpv6, parseIpv4Text, parseIpv6Text } from '../wire/address.js';
import {
  ERR_INVALID_ADDRESS_FAMILY,
  ERR_INVALID_ARG_TYPE,
  ERR_INVALID_ARG_VALUE,
  ERR_INVALID_HANDLE_TYPE,
  ERR_INVALID_IP_ADDRESS,
  ERR_MISSING_ARGS,
  ERR_SERVER_ALREADY_LISTEN,
  ERR_SERVER_NOT_RUNNING,
  ERR_SOCKET_CLOSED,
  ERR_SOCKET_CLOSED_BEFORE_CONNECTION,
  ERR_SOCKET_CONNECTION_TIMEOUT,
  errnoException,
  exceptionWithHostPort,
  getTimerDuration,
  nodeAggregateError,
  uvExceptionWithHostPort,
  validateAbortSignal,
  validateBoolean,
  validateFunction,
  validateInt32,
  validateNumber,
  validatePort,
} from './errors.js';
import { processHost, type ProcessHost } from './host.js';

export const isIP = nodeNet.isIP;
export const isIPv4 = nodeNet.isIPv4;
export const isIPv6 = nodeNet.isIPv6;
export const BlockList = nodeNet.BlockList;
export const SocketAddress = nodeNet.SocketAddress;

const UV_EOF = -4095;
const UV_ENOTCONN = -Errno.ENOTCONN;
const UV_EADDRINUSE = -Errno.EADDRINUSE;
const UV_ECANCELED = -125;
const UV_ETIMEDOUT = -Errno.ETIMEDOUT;
const DEFAULT_IPV4_ADDR = '0.0.0.0';
const DEFAULT_IPV6_ADDR = '::';
/** What each read asks for (libuv suggests 64 KiB). */
const READ_SIZE = 64 * 1024;
const WATCH_EVENTS = K.EPOLLIN | K.EPOLLOUT | K.EPOLLRDHUP;

let autoSelectFamilyDefault = nodeNet.getDefaultAutoSelectFamily?.() ?? true;
let autoSelectFamilyAttemptTimeoutDefault = (nodeNet as { getDefaultAutoSelectFamilyAttemptTimeout?: () => number }).getDefaultAutoSelectFamilyAttemptTimeout?.() ?? 250;

export function getDefaultAutoSelectFamily(): boolean {
  return autoSelectFamilyDefault;
}
export function setDefaultAutoSelectFamily(value: boolean): void {
  validateBoolean(value, 'value');
  autoSelectFamilyDefault = value;
}
export function getDefaultAutoSelectFamilyAttemptTimeout(): number {
  return autoSelectFamilyAttemptTimeoutDefault;
}
export function setDefaultAutoSelectFamilyAttemptTimeout(value: number): void {
  validateInt32(value, 'value', 1);
  autoSelectFamilyAttemptTimeoutDefault = value < 10 ? 10 : value;
}

// ---------------------------------------------------------------------------------------
// The host side: clock, rounds, descriptors.

/** One read buffer for every socket: a chunk is copied out of it before the next read. */
const readBuf = Buffer.allocUnsafe(READ_SIZE);
const scratchAddr = new SockAddr();
const lingerZero = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

/** Around socket calls from user code (see ProcessHost.enterCalls/leaveCalls). */
const enter = (host: ProcessHost): void => host.enterCalls();
const leave = (host: ProcessHost): void => host.leaveCalls();

export interface AddressInfo {
  address: string;
  family: string;
  port: number;
}

function fillAddress(a: SockAddr, out: Partial<AddressInfo>): void {
  if (a.family === K.AF_INET) {
    out.address = formatIpv4(a.addr4);
    out.family = 'IPv4';
  } else {
    out.address = formatIpv6(a.addr6);
    out.family = 'IPv6';
  }
  out.port = a.port;
}

/** Text to a SockAddr for bind/connect; null when it is not an address of that family. */
function toSockAddr(ip: string, port: number, family: 4 | 6): SockAddr | null {
  if (family === 4) {
    const v4 = parseIpv4Text(ip);
    return v4 === null ? null : new SockAddr().setInet(v4, port);
  }
  const pct = ip.indexOf('%');
  const v6 = parseIpv6Text(pct < 0 ? ip : ip.slice(0, pct));
  return v6 === null ? null : new SockAddr().setInet6(v6, port);
}

type Callback = (err?: Error | null) => void;

/** What a connect request carries, as TCPConnectWrap does. */
class ConnectReq {
  oncomplete: ((status: number, handle: TcpHandle, req: ConnectReq, readable: boolean, writable: boolean) => void) | null = null;
  constructor(
    readonly address: string,
    readonly port: number,
    readonly localAddress: string | undefined,
    readonly localPort: number | undefined,
    readonly addressType: number,
  ) {}
}

/** Common to both handles: the descriptor, its watch, and the host's ref count. */
abstract class HandleBase {
  fd = -1;
  closed = false;
  /** unref() was called. */
  private unrefd = false;
  /** This handle holds one of the host's refs. */
  private refd = false;
  readonly api: Sockets;
  /** The readiness callback (one per handle, bound once). */
  protected readonly onReady = (ev: number): void => {
    if (this.closed) return;
    this.ready(ev);
  };

  constructor(readonly host: ProcessHost) {
    this.api = host.api;
  }

  protected abstract ready(ev: number): void;
  /** Whether libuv would count the handle as active. */
  protected abstract active(): boolean;

  /** Opens the descriptor (family AF_INET or AF_INET6) and watches it; 0 or −errno. */
  open(domain: number): number {
    if (this.fd >= 0) return 0;
    const fd = this.api.socket(domain, K.SOCK_STREAM | K.SOCK_NONBLOCK | K.SOCK_CLOEXEC, 0);
    if (fd < 0) return fd;
    this.adopt(fd);
    return 0;
  }

  adopt(fd: number): void {
    this.fd = fd;
    this.host.watch(fd, WATCH_EVENTS, this.onReady, this);
  }

  updateRef(): void {
    const want = !this.unrefd && !this.closed && this.active();
    if (want === this.refd) return;
    this.refd = want;
    if (want) this.host.ref();
    else this.host.unref();
  }

  ref(): void {
    this.unrefd = false;
    this.updateRef();
  }

  unref(): void {
    this.unrefd = true;
    this.updateRef();
  }

  hasRef(): boolean {
    return !this.unrefd;
  }

  getsockname(out: Partial<AddressInfo>): number {
    if (this.fd < 0) return -Errno.EBADF;
    const r = this.api.getsockname(this.fd, scratchAddr);
    if (r < 0) return r;
    fillAddress(scratchAddr, out);
    return 0;
  }

  /** bind (IPv4) / bind6; EADDRINUSE is kept for listen/connect to report, as libuv does. */
  protected bindTo(address: string, port: number, family: 4 | 6, ipv6Only: boolean): number {
    const a = toSockAddr(address, port, family);
    if (a === null) return -Errno.EINVAL;
    let r = this.open(family === 4 ? K.AF_INET : K.AF_INET6);
    if (r < 0) return r;
    this.api.setsockoptInt(this.fd, K.SOL_SOCKET, K.SO_REUSEADDR, 1);
    if (family === 6) this.api.setsockoptInt(this.fd, K.IPPROTO_IPV6, K.IPV6_V6ONLY, ipv6Only ? 1 : 0);
    enter(this.host);
    r = this.api.bind(this.fd, a);
    return r;
  }

  /** Stops watching and closes the descriptor; `cb` runs in a later turn (uv_close). */
  close(cb?: () => void): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd >= 0) {
      enter(this.host);
      this.host.unwatch(this.fd);
      this.api.close(this.fd);
      leave(this.host);
    }
    this.updateRef();
    if (cb !== undefined) setImmediate(cb);
  }
}

/** The TCP stream handle of one Socket (Node's TCPWrap over libuv's uv_tcp_t). */
export class TcpHandle extends HandleBase {
  owner: Socket | null = null;
  reading = false;
  bytesRead = 0;
  bytesWritten = 0;
  /** The write that did not go at once: what is left of it, and its callback. */
  private wbuf: Uint8Array | null = null;
  private wcb: Callback | null = null;
  /** Whether the last write() went asynchronously (streamBaseState[kLastWriteWasAsync]). */
  lastWriteAsync = false;
  private connectReq: ConnectReq | null = null;
  /** 1 while the handshake is under way, 2 once it ended (connectDone reports it). */
  private connectStatus = 0;
  private readonly connectDone = (): void => {
    const req = this.connectReq;
    if (req === null || this.closed) return;
    this.connectReq = null;
    this.connectStatus = 0;
    this.updateRef();
    const soerr = this.api.getsockoptInt(this.fd, K.SOL_SOCKET, K.SO_ERROR);
    req.oncomplete?.(soerr > 0 ? -soerr : 0, this, req, true, true);
  };
  private shuttingDown = false;
  private readonly msg = new MsgHdr();
  /** A user buffer (the `onread` option) to read into instead of a new Buffer per chunk. */
  userBuf: Uint8Array | null = null;

  /** An async id for async_hooks users (http's agent asks for it); the context the handle was made in. */
  private readonly asyncId = executionAsyncId();
  getAsyncId(): number {
    return this.asyncId;
  }

  get writeQueueSize(): number {
    return this.wbuf === null ? 0 : this.wbuf.length;
  }

  /** WatchOwner: what was written and not yet taken by the stack — this write's rest, then the stream's buffer — for the exit flush (shutdown.ts). */
  unsent(): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (this.wbuf !== null) out.push(this.wbuf);
    const o = this.owner;
    if (o === null || o.destroyed) return out;
    for (const e of (o as unknown as { writableBuffer: { chunk: unknown; encoding: BufferEncoding }[] }).writableBuffer) {
      out.push(typeof e.chunk === 'string' ? Buffer.from(e.chunk, e.encoding) : (e.chunk as Uint8Array));
    }
    return out;
  }

  protected active(): boolean {
    return this.reading || this.connectReq !== null || this.wbuf !== null || this.shuttingDown;
  }

  protected ready(ev: number): void {
    if (this.connectReq !== null) {
      if ((ev & (K.EPOLLOUT | K.EPOLLERR | K.EPOLLHUP)) === 0) return;
      if (this.connectStatus !== 1) return;
      // The outcome goes to the program in a callback of its own (as each libuv callback is,
      // with nextTicks and promises run in between), after whatever else this round delivers
      // — on loopback, the server's 'connection' comes first — and SO_ERROR is read then, as
      // libuv reads it in its callback (a server that resets at once makes it ECONNRESET).
      this.connectStatus = 2;
      setImmediate(this.connectDone);
      return;
    }
    if (this.wbuf !== null && (ev & (K.EPOLLOUT | K.EPOLLERR | K.EPOLLHUP)) !== 0) this.flush();
    if (this.reading && !this.closed && (ev & (K.EPOLLIN | K.EPOLLRDHUP | K.EPOLLHUP | K.EPOLLERR)) !== 0) this.readMore();
  }

  /** Reads until EAGAIN, handing each chunk to the owner (onStreamRead). */
  private readMore(): void {
    const api = this.api;
    const fd = this.fd;
    while (this.reading && !this.closed) {
      const owner = this.owner!;
      const ub = this.userBuf;
      const n = api.recv(fd, ub ?? readBuf, 0);
      if (n > 0) {
        this.bytesRead += n;
        if (ub !== null) owner.onReadUser(n, ub);
        else {
          const b = Buffer.allocUnsafe(n);
          // Short ones by hand: Buffer#copy of part of readBuf allocates a view of it first.
          if (n <= 256) for (let i = 0; i < n; i++) b[i] = readBuf[i]!;
          else readBuf.copy(b, 0, 0, n);
          owner.onRead(b);
        }
        continue;
      }
      if (n === -Errno.EAGAIN) return;
      if (n === 0 && ub !== null && ub.length === 0) return;
      this.reading = false;
      this.updateRef();
      owner.onReadEnd(n === 0 ? UV_EOF : n);
      return;
    }
  }

  readStart(): number {
    if (this.closed) return -Errno.EBADF;
    this.reading = true;
    this.updateRef();
    // Edge-triggered: re-arm so data (or EOF) that came while not reading is reported again.
    if (this.fd >= 0) this.host.rewatch(this.fd, WATCH_EVENTS);
    return 0;
  }

  readStop(): number {
    this.reading = false;
    this.updateRef();
    return 0;
  }

  /** connect / connect6: 0 (completion later through req.oncomplete) or −errno now. */
  connect(req: ConnectReq, address: string, port: number, family: 4 | 6): number {
    const a = toSockAddr(address, port, family);
    if (a === null) return -Errno.EINVAL;
    let r = this.open(family === 4 ? K.AF_INET : K.AF_INET6);
    if (r < 0) return r;
    enter(this.host);
    r = this.api.connect(this.fd, a);
    leave(this.host);
    if (r === 0 || r === -Errno.EINPROGRESS || r === -Errno.ECONNREFUSED) {
      // libuv reports ECONNREFUSED from connect() in the callback too (delayed_error); the
      // watch reports EPOLLOUT/EPOLLERR when the handshake ends.
      this.connectReq = req;
      this.connectStatus = 1;
      this.updateRef();
      if (r !== -Errno.EINPROGRESS) this.host.rewatch(this.fd, WATCH_EVENTS);
      return 0;
    }
    return r;
  }

  bind(address: string, port: number): number {
    return this.bindTo(address, port, 4, false);
  }

  bind6(address: string, port: number, ipv6Only: boolean): number {
    return this.bindTo(address, port, 6, ipv6Only);
  }

  getpeername(out: Partial<AddressInfo>): number {
    if (this.fd < 0) return -Errno.EBADF;
    const r = this.api.getpeername(this.fd, scratchAddr);
    if (r < 0) return r;
    fillAddress(scratchAddr, out);
    return 0;
  }

  /** A write: 0 (see lastWriteAsync) or −errno. `cb` runs only when it went asynchronously. */
  writeBuffer(data: Uint8Array, cb: Callback): number {
    if (this.fd < 0 || this.closed) return -Errno.EBADF;
    this.bytesWritten += data.length;
    enter(this.host);
    const n = this.api.send(this.fd, data, K.MSG_NOSIGNAL);
    leave(this.host);
    if (n === data.length) {
      this.lastWriteAsync = false;
      return 0;
    }
    if (n < 0 && n !== -Errno.EAGAIN) {
      this.lastWriteAsync = false;
      return n;
    }
    this.queue(n > 0 ? data.subarray(n) : data, cb);
    return 0;
  }

  /** writev of several chunks in one sendmsg. */
  writev(chunks: Uint8Array[], cb: Callback): number {
    if (this.fd < 0 || this.closed) return -Errno.EBADF;
    let total = 0;
    for (let i = 0; i < chunks.length; i++) total += chunks[i]!.length;
    this.bytesWritten += total;
    const msg = this.msg;
    msg.iov = chunks;
    enter(this.host);
    const n = chunks.length <= 1024 ? this.api.sendmsg(this.fd, msg, K.MSG_NOSIGNAL) : -Errno.EAGAIN;
    leave(this.host);
    msg.iov = [];
    if (n === total) {
      this.lastWriteAsync = false;
      return 0;
    }
    if (n < 0 && n !== -Errno.EAGAIN) {
      this.lastWriteAsync = false;
      return n;
    }
    // What is left goes as one buffer (rare: the kernel-side buffer filled up).
    const rest = Buffer.allocUnsafe(total - Math.max(n, 0));
    let skip = Math.max(n, 0);
    let at = 0;
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      rest.set(skip === 0 ? c : c.subarray(skip), at);
      at += c.length - skip;
      skip = 0;
    }
    this.queue(rest, cb);
    return 0;
  }

  private queue(rest: Uint8Array, cb: Callback): void {
    this.wbuf = rest;
    this.wcb = cb;
    this.lastWriteAsync = true;
    this.updateRef();
  }

  /** EPOLLOUT: more of the pending write; its callback once it is all out (onWriteComplete). */
  private flush(): void {
    const b = this.wbuf!;
    const n = this.api.send(this.fd, b, K.MSG_NOSIGNAL);
    if (n === -Errno.EAGAIN) return;
    if (n >= 0 && n < b.length) {
      this.wbuf = b.subarray(n);
      return;
    }
    const cb = this.wcb!;
    this.wbuf = null;
    this.wcb = null;
    this.updateRef();
    const owner = this.owner;
    if (owner === null || owner.destroyed) return cb(null);
    if (n < 0) return cb(errnoException(n, 'write'));
    owner._unrefTimer();
    owner[kLastWriteQueueSize] = 0;
    cb(null);
  }

  /** shutdown(SHUT_WR): 0 (cb next turn) or UV_ENOTCONN. */
  shutdown(cb: () => void): number {
    if (this.fd < 0 || this.closed || this.shuttingDown) return UV_ENOTCONN;
    this.shuttingDown = true;
    this.updateRef();
    // libuv shuts down in a later loop phase and calls back at once: 'finish', then the FIN
    // reaches the peer (its 'end' comes after this side's 'finish', as with Node).
    setImmediate(() => {
      this.shuttingDown = false;
      this.updateRef();
      cb();
      if (this.closed) return;
      enter(this.host);
      this.api.shutdown(this.fd, K.SHUT_WR);
      leave(this.host);
    });
    return 0;
  }

  setNoDelay(enable: boolean): number {
    if (this.fd < 0) return 0;
    return this.api.setsockoptInt(this.fd, K.IPPROTO_TCP, K.TCP_NODELAY, enable ? 1 : 0);
  }

  setKeepAlive(enable: boolean, delaySecs: number): number {
    if (this.fd < 0) return 0;
    const api = this.api;
    let r = api.setsockoptInt(this.fd, K.SOL_SOCKET, K.SO_KEEPALIVE, enable ? 1 : 0);
    if (r < 0 || !enable) return r;
    // uv__tcp_keepalive: the idle time, then probes every second, ten of them.
    r = api.setsockoptInt(this.fd, K.IPPROTO_TCP, K.TCP_KEEPIDLE, delaySecs);
    if (r < 0) return r;
    api.setsockoptInt(this.fd, K.IPPROTO_TCP, K.TCP_KEEPINTVL, 1);
    api.setsockoptInt(this.fd, K.IPPROTO_TCP, K.TCP_KEEPCNT, 10);
    return 0;
  }

  /** uv_tcp_close_reset: SO_LINGER {1, 0}, then close — the peer gets an RST. */
  reset(cb: () => void): number {
    if (this.fd >= 0 && !this.closed) {
      const r = this.api.setsockopt(this.fd, K.SOL_SOCKET, K.SO_LINGER, lingerZero);
      if (r < 0) return r;
    }
    this.close(cb);
    return 0;
  }

  override close(cb?: () => void): void {
    if (this.closed) return;
    const wcb = this.wcb;
    this.wbuf = null;
    this.wcb = null;
    this.connectReq = null;
    this.reading = false;
    super.close(cb);
    // A write still waiting is cancelled (libuv: UV_ECANCELED, which onWriteComplete hands to a destroyed stream as null).
    if (wcb !== null) wcb(null);
  }
}

/** The listening handle of a Server. */
class ServerHandle extends HandleBase {
  owner: Server | null = null;
  onconnection: ((err: number, handle: TcpHandle | null) => void) | null = null;
  private listening = false;
  /** libuv's delayed_error: a bind's EADDRINUSE, reported by listen. */
  private delayedError = 0;

  protected active(): boolean {
    return this.listening;
  }

  bind(address: string, port: number): number {
    return this.bound(this.bindTo(address, port, 4, false));
  }

  bind6(address: string, port: number, ipv6Only: boolean): number {
    return this.bound(this.bindTo(address, port, 6, ipv6Only));
  }

  private bound(r: number): number {
    if (r === -Errno.EADDRINUSE) {
      this.delayedError = r;
      return 0;
    }
    return r;
  }

  listen(backlog: number): number {
    if (this.delayedError !== 0) return this.delayedError;
    if (this.fd < 0) {
      const r = this.open(K.AF_INET);
      if (r < 0) return r;
    }
    enter(this.host);
    const r = this.api.listen(this.fd, backlog);
    leave(this.host);
    if (r < 0) return r;
    this.listening = true;
    this.updateRef();
    this.host.rewatch(this.fd, WATCH_EVENTS);
    return 0;
  }

  protected ready(ev: number): void {
    if (!this.listening || (ev & K.EPOLLIN) === 0) return;
    // uv__server_io: accept until EAGAIN, a connection callback for each.
    while (!this.closed) {
      const fd = this.api.accept4(this.fd, null, K.SOCK_NONBLOCK | K.SOCK_CLOEXEC);
      if (fd === -Errno.EAGAIN) return;
      if (fd === -Errno.ECONNABORTED) continue;
      if (fd < 0) {
        this.onconnection?.(fd, null);
        if (fd === -Errno.EMFILE || fd === -Errno.ENFILE) return;
        continue;
      }
      const h = new TcpHandle(this.host);
      h.adopt(fd);
      this.onconnection?.(0, h);
    }
  }

  override close(cb?: () => void): void {
    this.listening = false;
    super.close(cb);
  }
}

// ---------------------------------------------------------------------------------------
// Socket

const kLastWriteQueueSize = Symbol('lastWriteQueueSize');
const kTimeout = Symbol('kTimeout');
const kBuffer = Symbol('kBuffer');
const kBufferCb = Symbol('kBufferCb');
const kBufferGen = Symbol('kBufferGen');
const kSetNoDelay = Symbol('kSetNoDelay');
const kSetKeepAlive = Symbol('kSetKeepAlive');
const kSetKeepAliveInitialDelay = Symbol('kSetKeepAliveInitialDelay');
const kBytesRead = Symbol('kBytesRead');
const kBytesWritten = Symbol('kBytesWritten');
const kHost = Symbol('kHost');
const kOnTimeout = Symbol('kOnTimeout');
const normalizedArgsSymbol = Symbol('normalizedArgs');

export interface SocketConstructorOpts extends DuplexOptions {
  allowHalfOpen?: boolean;
  readable?: boolean;
  writable?: boolean;
  signal?: AbortSignal;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  onread?: { buffer: Uint8Array | (() => Uint8Array); callback: (bytesWritten: number, buf: Uint8Array) => boolean | void };
  /** The xlio-ts host (default: the process's, processHost()). */
  xlioHost?: ProcessHost;
  /** Internal: an accepted connection's handle. */
  handle?: TcpHandle;
  pauseOnCreate?: boolean;
  manualStart?: boolean;
  fd?: number;
}

export interface ConnectOpts {
  port?: number | string;
  host?: string;
  localAddress?: string;
  localPort?: number;
  family?: number | string;
  hints?: number;
  lookup?: (hostname: string, options: dns.LookupOptions, callback: (...args: any[]) => void) => void;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  timeout?: number;
  autoSelectFamily?: boolean;
  autoSelectFamilyAttemptTimeout?: number;
  path?: string;
  [k: string]: unknown;
}

type Normalized = [ConnectOpts & Record<string, any>, ((...a: any[]) => void) | null] & { [normalizedArgsSymbol]?: true };

function toNumber(x: unknown): number | false {
  return (x = Number(x)) as number >= 0 ? (x as number) : false;
}

function isPipeName(s: unknown): boolean {
  return typeof s === 'string' && toNumber(s) === false;
}

/** net.js normalizeArgs: [options, cb] from (options[, cb]) / (path[, cb]) / ([port][, host][, cb]). */
export function _normalizeArgs(args: unknown[]): Normalized {
  let arr: Normalized;
  if (args.length === 0) {
    arr = [{}, null] as Normalized;
    arr[normalizedArgsSymbol] = true;
    return arr;
  }
  const arg0 = args[0];
  let options: Record<string, unknown> = {};
  if (typeof arg0 === 'object' && arg0 !== null) options = arg0 as Record<string, unknown>;
  else if (isPipeName(arg0)) options.path = arg0;
  else {
    options.port = arg0;
    if (args.length > 1 && typeof args[1] === 'string') options.host = args[1];
  }
  const cb = args[args.length - 1];
  arr = (typeof cb !== 'function' ? [options, null] : [options, cb]) as Normalized;
  arr[normalizedArgsSymbol] = true;
  return arr;
}

function emitCloseNT(self: EventEmitter): void {
  self.emit('close');
}

/** 'end' seen: without allowHalfOpen, later writes fail as Node's do ("ended by the other party"). */
function onReadableStreamEnd(this: Socket): void {
  if (!this.allowHalfOpen) this.write = writeAfterFIN as Socket['write'];
}

function writeAfterFIN(this: Socket, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  if (!this.writableEnded) return (Duplex.prototype.write as (...a: unknown[]) => boolean).call(this, chunk, encoding, cb);
  if (typeof encoding === 'function') {
    cb = encoding;
    encoding = null;
  }
  const er = new Error('This socket has been ended by the other party') as NodeJS.ErrnoException;
  er.code = 'EPIPE';
  if (typeof cb === 'function') process.nextTick(cb as (e: Error) => void, er);
  this.destroy(er);
  return false;
}

function socketToDnsFamily(family: unknown): unknown {
  switch (family) {
    case 'IPv4':
      return 4;
    case 'IPv6':
      return 6;
  }
  return family;
}

export class Socket extends Duplex {
  connecting = false;
  _hadError = false;
  _parent: Socket | null = null;
  _host: string | null = null;
  _closeAfterHandlingError = false;
  _pendingData: unknown = null;
  _pendingEncoding = '';
  _peername: Partial<AddressInfo> | null = null;
  _sockname: Partial<AddressInfo> | null = null;
  server: Server | null = null;
  _server: Server | null = null;
  _aborted = false;
  declare timeout?: number;
  resetAndClosing = false;
  declare autoSelectFamilyAttemptedAddresses?: string[];
  declare allowHalfOpen: boolean;
  [kLastWriteQueueSize] = 0;
  [kTimeout]: NodeJS.Timeout | null = null;
  [kBuffer]: Uint8Array | true | null = null;
  [kBufferCb]: ((n: number, buf: Uint8Array) => boolean | void) | null = null;
  [kBufferGen]: (() => Uint8Array) | null = null;
  declare [kSetNoDelay]: boolean;
  declare [kSetKeepAlive]: boolean;
  declare [kSetKeepAliveInitialDelay]: number;
  [kBytesRead] = 0;
  [kBytesWritten] = 0;
  declare [kHost]: ProcessHost;
  [kOnTimeout]: (() => void) | null = null;
  _handle: TcpHandle | null = null;

  constructor(options?: SocketConstructorOpts | number) {
    const o0 = options as SocketConstructorOpts | undefined;
    if (o0?.objectMode) throw new ERR_INVALID_ARG_VALUE('options.objectMode', o0.objectMode, 'is not supported');
    else if (o0?.readableObjectMode || o0?.writableObjectMode) {
      throw new ERR_INVALID_ARG_VALUE(
        `options.${o0.readableObjectMode ? 'readableObjectMode' : 'writableObjectMode'}`,
        o0.readableObjectMode || o0.writableObjectMode,
        'is not supported',
      );
    }
    if (typeof o0?.keepAliveInitialDelay !== 'undefined') {
      validateNumber(o0.keepAliveInitialDelay, 'options.keepAliveInitialDelay');
      if (o0.keepAliveInitialDelay < 0) o0.keepAliveInitialDelay = 0;
    }
    let opts: SocketConstructorOpts;
    if (typeof options === 'number') opts = { fd: options };
    else opts = { ...options };
    opts.allowHalfOpen = Boolean(opts.allowHalfOpen);
    opts.emitClose = false;
    opts.autoDestroy = true;
    opts.decodeStrings = false;
    const handle = opts.handle;
    const host = opts.xlioHost ?? handle?.host ?? processHost();
    delete opts.handle;
    delete opts.xlioHost;
    // The signal is attached once the fields exist (an aborted one destroys the socket at once).
    const signal = opts.signal;
    delete opts.signal;
    super(opts);
    this[kHost] = host;
    if (handle !== undefined) this._handle = handle;
    else if (opts.fd !== undefined) throw new ERR_INVALID_ARG_VALUE('options.fd', opts.fd, 'is not supported by xlio-ts (it has no descriptors of the OS)');

    const onread = opts.onread;
    if (
      onread !== null &&
      typeof onread === 'object' &&
      (onread.buffer instanceof Uint8Array || typeof onread.buffer === 'function') &&
      typeof onread.callback === 'function'
    ) {
      if (typeof onread.buffer === 'function') {
        this[kBuffer] = true;
        this[kBufferGen] = onread.buffer;
      } else this[kBuffer] = onread.buffer;
      this[kBufferCb] = onread.callback;
    }
    this[kSetNoDelay] = Boolean(opts.noDelay);
    this[kSetKeepAlive] = Boolean(opts.keepAlive);
    this[kSetKeepAliveInitialDelay] = ~~((opts.keepAliveInitialDelay as number) / 1000);

    this.on('end', onReadableStreamEnd);
    this.initSocketHandle();
    this._pendingData = null;
    this._pendingEncoding = '';

    if (this._handle && opts.readable !== false) {
      if (opts.pauseOnCreate) {
        this._handle.reading = false;
        this._handle.readStop();
        (this as { readableFlowing: boolean | null }).readableFlowing = false;
      } else if (!opts.manualStart) this.read(0);
    }
    this.server = null;
    this._server = null;
    this[kBytesRead] = 0;
    this[kBytesWritten] = 0;
    if (signal) {
      validateAbortSignal(signal, 'options.signal');
      addAbortSignal(signal, this);
    }
  }

  /** The host this socket lives on. */
  get xlioHost(): ProcessHost {
    return this[kHost];
  }

  private initSocketHandle(): void {
    (this as unknown as { _undestroy(): void })._undestroy();
    this._sockname = null;
    const h = this._handle;
    if (h) {
      h.owner = this;
      let userBuf = this[kBuffer];
      if (userBuf) {
        const bufGen = this[kBufferGen];
        if (bufGen !== null) {
          userBuf = bufGen();
          if (!(userBuf instanceof Uint8Array)) return;
          this[kBuffer] = userBuf;
        }
        h.userBuf = userBuf as Uint8Array;
      }
    }
  }

  // ---- from the handle (onStreamRead) ----

  /** A chunk read into a Buffer of its own. */
  onRead(buf: Buffer): void {
    this._unrefTimer();
    if (this.destroyed) return;
    if (!this.push(buf)) this.stopReading();
  }

  /** A chunk read into the `onread` buffer. */
  onReadUser(nread: number, userBuf: Uint8Array): void {
    this._unrefTimer();
    if (this.destroyed) return;
    const result = this[kBufferCb]!(nread, userBuf) !== false;
    const bufGen = this[kBufferGen];
    if (bufGen !== null) {
      const next = bufGen();
      if (next instanceof Uint8Array) {
        this[kBuffer] = next;
        if (this._handle) this._handle.userBuf = next;
      }
    }
    if (!result) this.stopReading();
  }

  private stopReading(): void {
    const h = this._handle;
    if (h === null) return;
    h.reading = false;
    if (!this.destroyed) h.readStop();
  }

  /** EOF (UV_EOF) or a read error. */
  onReadEnd(nread: number): void {
    this._unrefTimer();
    if (nread !== UV_EOF) {
      this.destroy(errnoException(nread, 'read'));
      return;
    }
    if (this.readableEnded) return;
    this.push(null);
    this.read(0);
  }

  // ---- stream internals ----

  _unrefTimer(): void {
    for (let s: Socket | null = this; s != null; s = s._parent) s[kTimeout]?.refresh();
  }

  override _final(cb: (error?: Error | null) => void): void {
    if (this.pending) {
      this.once('connect', () => this._final(cb));
      return;
    }
    if (!this._handle) return cb();
    const err = this._handle.shutdown(() => cb());
    if (err === 1 || err === UV_ENOTCONN) return cb();
    else if (err !== 0) return cb(errnoException(err, 'shutdown'));
  }

  override _read(n: number): void {
    if (this.connecting || !this._handle) this.once('connect', () => this._read(n));
    else if (!this._handle.reading) this.tryReadStart();
  }

  private tryReadStart(): void {
    this._handle!.reading = true;
    const err = this._handle!.readStart();
    if (err) this.destroy(errnoException(err, 'read'));
  }

  override _write(data: any, encoding: BufferEncoding, cb: Callback): void {
    this._writeGeneric(false, data, encoding, cb);
  }

  override _writev(chunks: Array<{ chunk: any; encoding: BufferEncoding }>, cb: Callback): void {
    this._writeGeneric(true, chunks, '', cb);
  }

  _writeGeneric(writev: boolean, data: any, encoding: string, cb: Callback): void {
    if (this.connecting) {
      this._pendingData = data;
      this._pendingEncoding = encoding;
      const onClose = (): void => cb(new ERR_SOCKET_CLOSED_BEFORE_CONNECTION());
      this.once('connect', function connect(this: Socket) {
        this.off('close', onClose);
        this._writeGeneric(writev, data, encoding, cb);
      });
      this.once('close', onClose);
      return;
    }
    this._pendingData = null;
    this._pendingEncoding = '';
    const h = this._handle;
    if (!h) {
      cb(new ERR_SOCKET_CLOSED());
      return;
    }
    this._unrefTimer();
    let err: number;
    if (writev) {
      const chunks = new Array<Uint8Array>(data.length);
      const allBuffers = (data as { allBuffers?: boolean }).allBuffers;
      for (let i = 0; i < data.length; i++) {
        const e = data[i];
        chunks[i] = allBuffers || typeof e.chunk !== 'string' ? e.chunk : Buffer.from(e.chunk, e.encoding);
      }
      err = h.writev(chunks, cb);
    } else {
      const buf = typeof data === 'string' ? Buffer.from(data, encoding as BufferEncoding) : (data as Uint8Array);
      err = h.writeBuffer(buf, cb);
    }
    if (err !== 0) return cb(errnoException(err, 'write'));
    if (h.lastWriteAsync) this[kLastWriteQueueSize] = h.writeQueueSize;
    else cb();
  }

  override _destroy(exception: Error | null, cb: (error?: Error | null) => void): void {
    this.connecting = false;
    for (let s: Socket | null = this; s != null; s = s._parent) clearTimeout(s[kTimeout] ?? undefined);
    const h = this._handle;
    if (h) {
      const isException = exception ? true : false;
      this[kBytesRead] = h.bytesRead;
      this[kBytesWritten] = h.bytesWritten;
      if (this.resetAndClosing) {
        this.resetAndClosing = false;
        const err = h.reset(() => this.emit('close', isException));
        if (err) this.emit('error', errnoException(err, 'reset'));
      } else if (this._closeAfterHandlingError) {
        queueMicrotask(() => this.closeSocketHandle(isException, true));
      } else this.closeSocketHandle(isException);
      if (!this._closeAfterHandlingError) {
        h.owner = null;
        this._handle = null;
        this._sockname = null;
      }
      cb(exception);
    } else {
      cb(exception);
      process.nextTick(emitCloseNT, this);
    }
    if (this._server) {
      this._server._connections--;
      this._server._emitCloseIfDrained();
    }
  }

  private closeSocketHandle(isException: boolean, isCleanupPending = false): void {
    const h = this._handle;
    if (h) {
      h.close(() => {
        this.emit('close', isException);
        if (isCleanupPending) {
          h.owner = null;
          this._handle = null;
          this._sockname = null;
        }
      });
    }
  }

  // ---- public API ----

  setTimeout(msecs: number, callback?: () => void): this {
    if (this.destroyed) return this;
    this.timeout = msecs;
    msecs = getTimerDuration(msecs, 'msecs');
    clearTimeout(this[kTimeout] ?? undefined);
    if (msecs === 0) {
      if (callback !== undefined) {
        validateFunction(callback, 'callback');
        this.removeListener('timeout', callback);
      }
    } else {
      const t = setTimeout((this[kOnTimeout] ??= () => this._onTimeout()), msecs);
      t.unref();
      this[kTimeout] = t;
      if (callback !== undefined) {
        validateFunction(callback, 'callback');
        this.once('timeout', callback);
      }
    }
    return this;
  }

  _onTimeout(): void {
    const handle = this._handle;
    const lastWriteQueueSize = this[kLastWriteQueueSize];
    if (lastWriteQueueSize > 0 && handle) {
      const { writeQueueSize } = handle;
      if (lastWriteQueueSize !== writeQueueSize) {
        this[kLastWriteQueueSize] = writeQueueSize;
        this._unrefTimer();
        return;
      }
    }
    this.emit('timeout');
  }

  setNoDelay(enable?: boolean): this {
    enable = Boolean(enable === undefined ? true : enable);
    if (!this._handle) {
      this[kSetNoDelay] = enable;
      return this;
    }
    if (enable !== this[kSetNoDelay]) {
      this[kSetNoDelay] = enable;
      this._handle.setNoDelay(enable);
    }
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelayMsecs?: number): this {
    enable = Boolean(enable);
    const initialDelay = ~~((initialDelayMsecs as number) / 1000);
    if (!this._handle) {
      this[kSetKeepAlive] = enable;
      this[kSetKeepAliveInitialDelay] = initialDelay;
      return this;
    }
    if (enable !== this[kSetKeepAlive] || (enable && this[kSetKeepAliveInitialDelay] !== initialDelay)) {
      this[kSetKeepAlive] = enable;
      this[kSetKeepAliveInitialDelay] = initialDelay;
      this._handle.setKeepAlive(enable, initialDelay);
    }
    return this;
  }

  address(): Partial<AddressInfo> {
    return this._getsockname();
  }

  get _connecting(): boolean {
    return this.connecting;
  }

  get pending(): boolean {
    return !this._handle || this.connecting;
  }

  get readyState(): string {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  get bufferSize(): number | undefined {
    if (this._handle) return this.writableLength;
    return undefined;
  }

  override end(...args: any[]): this {
    (Duplex.prototype.end as (...a: any[]) => unknown).apply(this, args);
    return this;
  }

  resetAndDestroy(): this {
    if (this._handle) {
      if (this.connecting) this.once('connect', () => this._reset());
      else this._reset();
    } else this.destroy(new ERR_SOCKET_CLOSED());
    return this;
  }

  _reset(): this {
    this.resetAndClosing = true;
    return this.destroy();
  }

  override pause(): this {
    if (this[kBuffer] && !this.connecting && this._handle && this._handle.reading) {
      this._handle.reading = false;
      if (!this.destroyed) this._handle.readStop();
    }
    return Duplex.prototype.pause.call(this) as this;
  }

  override resume(): this {
    if (this[kBuffer] && !this.connecting && this._handle && !this._handle.reading) this.tryReadStart();
    return Duplex.prototype.resume.call(this) as this;
  }

  override read(n?: number): any {
    if (this[kBuffer] && !this.connecting && this._handle && !this._handle.reading) this.tryReadStart();
    return Duplex.prototype.read.call(this, n);
  }

  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', this.destroy);
  }

  _getpeername(): Partial<AddressInfo> {
    if (!this._handle || this.connecting) return this._peername || {};
    if (!this._peername) {
      const out: Partial<AddressInfo> = {};
      const err = this._handle.getpeername(out);
      if (err) return out;
      this._peername = out;
    }
    return this._peername;
  }

  _getsockname(): Partial<AddressInfo> {
    if (!this._handle) return {};
    if (!this._sockname) {
      this._sockname = {};
      this._handle.getsockname(this._sockname);
    }
    return this._sockname;
  }

  get bytesRead(): number {
    return this._handle ? this._handle.bytesRead : this[kBytesRead];
  }

  get remoteAddress(): string | undefined {
    return this._getpeername().address;
  }

  get remoteFamily(): string | undefined {
    return this._getpeername().family;
  }

  get remotePort(): number | undefined {
    return this._getpeername().port;
  }

  get localAddress(): string | undefined {
    return this._getsockname().address;
  }

  get localPort(): number | undefined {
    return this._getsockname().port;
  }

  get localFamily(): string | undefined {
    return this._getsockname().family;
  }

  get _bytesDispatched(): number {
    return this._handle ? this._handle.bytesWritten : this[kBytesWritten];
  }

  get bytesWritten(): number | undefined {
    let bytes = this._bytesDispatched;
    const data = this._pendingData;
    const encoding = this._pendingEncoding;
    const writableBuffer = (this as unknown as { writableBuffer?: Array<{ chunk: any; encoding: BufferEncoding }> }).writableBuffer;
    if (!writableBuffer) return undefined;
    for (const el of writableBuffer) bytes += el.chunk instanceof Buffer ? el.chunk.length : Buffer.byteLength(el.chunk, el.encoding);
    if (Array.isArray(data)) {
      for (let i = 0; i < data.length; i++) {
        const chunk = data[i];
        if ((data as { allBuffers?: boolean }).allBuffers || chunk instanceof Buffer) bytes += chunk.length;
        else bytes += Buffer.byteLength(chunk.chunk, chunk.encoding);
      }
    } else if (data) {
      if (typeof data !== 'string') bytes += (data as Uint8Array).length;
      else bytes += Buffer.byteLength(data, encoding as BufferEncoding);
    }
    return bytes;
  }

  connect(...args: any[]): this {
    let normalized: Normalized;
    if (Array.isArray(args[0]) && (args[0] as Normalized)[normalizedArgsSymbol]) normalized = args[0] as Normalized;
    else normalized = _normalizeArgs(args);
    const options = normalized[0];
    const cb = normalized[1];
    if (cb !== null) this.once('connect', cb);
    if (this._parent && this._parent.connecting) return this;
    if (options.port === undefined && options.path == null) throw new ERR_MISSING_ARGS(['options', 'port', 'path']);
    if (this.write !== Socket.prototype.write) this.write = Socket.prototype.write;
    if (this.destroyed) {
      this._handle = null;
      this._peername = null;
      this._sockname = null;
    }
    if (options.path) {
      throw new ERR_INVALID_ARG_VALUE(
        'options.path',
        options.path,
        'is not supported by an xlio-ts Socket: for a pipe or Unix domain socket use net.connect(path) or net.createConnection({ path }), which return a node:net Socket',
      );
    }
    if (!this._handle) {
      this._handle = new TcpHandle(this[kHost]);
      this.initSocketHandle();
    }
    this._unrefTimer();
    this.connecting = true;
    lookupAndConnect(this, options);
    return this;
  }

  /** Internal: a new handle for the next address (autoSelectFamily). */
  reinitializeHandle(handle: TcpHandle): void {
    this._handle?.close();
    this._handle = handle;
    this.initSocketHandle();
  }

  ref(): this {
    if (!this._handle) {
      this.once('connect', this.ref);
      return this;
    }
    this._handle.ref();
    return this;
  }

  unref(): this {
    if (!this._handle) {
      this.once('connect', this.unref);
      return this;
    }
    this._handle.unref();
    return this;
  }

  /** Internal (afterConnect): settings given before the handle existed. */
  applyPendingOptions(): void {
    const h = this._handle!;
    if (this[kSetNoDelay]) h.setNoDelay(true);
    if (this[kSetKeepAlive]) h.setKeepAlive(true, this[kSetKeepAliveInitialDelay]);
  }

  /** Internal (Server): options the server applies to an accepted socket. */
  setServerOptions(noDelay: boolean, keepAlive: boolean, initialDelay: number): void {
    const h = this._handle!;
    if (noDelay) {
      this[kSetNoDelay] = true;
      h.setNoDelay(true);
    }
    if (keepAlive) {
      this[kSetKeepAlive] = true;
      this[kSetKeepAliveInitialDelay] = initialDelay;
      h.setKeepAlive(true, initialDelay);
    }
  }
}

// Node's net.Socket has these as enumerable, non-configurable accessors on the prototype.
for (const name of ['bytesRead', 'remoteAddress', 'remoteFamily', 'remotePort', 'localAddress', 'localPort', 'localFamily', '_bytesDispatched', 'bytesWritten']) {
  const d = Object.getOwnPropertyDescriptor(Socket.prototype, name)!;
  Object.defineProperty(Socket.prototype, name, { ...d, enumerable: true, configurable: false });
}

/** Legacy name, as net.Stream. */
export const Stream = Socket;

function lookupAndConnect(self: Socket, options: ConnectOpts): void {
  const { localAddress, localPort } = options;
  const host = options.host || 'localhost';
  let { port, autoSelectFamilyAttemptTimeout, autoSelectFamily } = options;
  if (localAddress && !isIP(localAddress)) throw new ERR_INVALID_IP_ADDRESS(localAddress);
  if (localPort) validateNumber(localPort, 'options.localPort');
  if (typeof port !== 'undefined') {
    if (typeof port !== 'number' && typeof port !== 'string') throw new ERR_INVALID_ARG_TYPE('options.port', ['number', 'string'], port);
    validatePort(port);
  }
  const portNum = (port as number) | 0;
  if (autoSelectFamily != null) validateBoolean(autoSelectFamily, 'options.autoSelectFamily');
  else autoSelectFamily = autoSelectFamilyDefault;
  if (autoSelectFamilyAttemptTimeout != null) {
    validateInt32(autoSelectFamilyAttemptTimeout, 'options.autoSelectFamilyAttemptTimeout', 1);
    if (autoSelectFamilyAttemptTimeout < 10) autoSelectFamilyAttemptTimeout = 10;
  } else autoSelectFamilyAttemptTimeout = autoSelectFamilyAttemptTimeoutDefault;

  const addressType = isIP(host);
  if (addressType) {
    process.nextTick(() => {
      if (self.connecting) internalConnect(self, host, portNum, addressType, localAddress, localPort);
    });
    return;
  }
  if (options.lookup != null) validateFunction(options.lookup, 'options.lookup');
  const dnsopts: { family: unknown; hints: number; all?: boolean } = { family: socketToDnsFamily(options.family), hints: options.hints || 0 };
  if (dnsopts.family !== 4 && dnsopts.family !== 6 && dnsopts.hints === 0) dnsopts.hints = dns.ADDRCONFIG;
  self._host = host;
  const lookup = (options.lookup || dns.lookup) as (h: string, o: unknown, cb: (...a: any[]) => void) => void;

  if (dnsopts.family !== 4 && dnsopts.family !== 6 && !localAddress && autoSelectFamily) {
    dnsopts.all = true;
    lookupAndConnectMultiple(self, lookup, host, options, dnsopts, portNum, localAddress, localPort, autoSelectFamilyAttemptTimeout);
    return;
  }
  lookup(host, dnsopts, function emitLookup(err: NodeJS.ErrnoException | null, ip: string, addressType: number) {
    self.emit('lookup', err, ip, addressType, host);
    if (!self.connecting) return;
    if (err) process.nextTick(connectErrorNT, self, err);
    else if (!isIP(ip)) process.nextTick(connectErrorNT, self, new ERR_INVALID_IP_ADDRESS(ip));
    else if (addressType !== 4 && addressType !== 6) process.nextTick(connectErrorNT, self, new ERR_INVALID_ADDRESS_FAMILY(addressType, options.host, options.port));
    else {
      self._unrefTimer();
      internalConnect(self, ip, portNum, addressType, localAddress, localPort);
    }
  });
}

interface MultiContext {
  socket: Socket;
  addresses: dns.LookupAddress[];
  current: number;
  port: number;
  localPort: number | undefined;
  timeout: number;
  timer: NodeJS.Timeout | null;
  errors: Error[];
}

function lookupAndConnectMultiple(
  self: Socket,
  lookup: (h: string, o: unknown, cb: (...a: any[]) => void) => void,
  host: string,
  options: ConnectOpts,
  dnsopts: unknown,
  port: number,
  localAddress: string | undefined,
  localPort: number | undefined,
  timeout: number,
): void {
  lookup(host, dnsopts, function emitLookup(err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) {
    if (!self.connecting) return;
    else if (err) {
      self.emit('lookup', err, undefined, undefined, host);
      process.nextTick(connectErrorNT, self, err);
      return;
    }
    const validAddresses: dns.LookupAddress[][] = [[], []];
    const validIps: string[][] = [[], []];
    let destinations: Record<number, number> | undefined;
    for (let i = 0, l = addresses.length; i < l; i++) {
      const address = addresses[i]!;
      const { address: ip, family: addressType } = address;
      self.emit('lookup', err, ip, addressType, host);
      if (!self.connecting) return;
      if (isIP(ip) && (addressType === 4 || addressType === 6)) {
        destinations ??= addressType === 6 ? { 6: 0, 4: 1 } : { 4: 0, 6: 1 };
        const destination = destinations[addressType]!;
        if (!validIps[destination]!.includes(ip)) {
          validAddresses[destination]!.push(address);
          validIps[destination]!.push(ip);
        }
      }
    }
    if (!validAddresses[0]!.length && !validAddresses[1]!.length) {
      const first = addresses[0];
      if (first === undefined) return;
      if (!isIP(first.address)) process.nextTick(connectErrorNT, self, new ERR_INVALID_IP_ADDRESS(first.address));
      else if (first.family !== 4 && first.family !== 6) process.nextTick(connectErrorNT, self, new ERR_INVALID_ADDRESS_FAMILY(first.family, options.host, options.port));
      return;
    }
    const toAttempt: dns.LookupAddress[] = [];
    for (let i = 0, l = Math.max(validAddresses[0]!.length, validAddresses[1]!.length); i < l; i++) {
      if (i in validAddresses[0]!) toAttempt.push(validAddresses[0]![i]!);
      if (i in validAddresses[1]!) toAttempt.push(validAddresses[1]![i]!);
    }
    if (toAttempt.length === 1) {
      const { address: ip, family: addressType } = toAttempt[0]!;
      self._unrefTimer();
      internalConnect(self, ip, port, addressType, localAddress, localPort);
      return;
    }
    self.autoSelectFamilyAttemptedAddresses = [];
    const context: MultiContext = { socket: self, addresses: toAttempt, current: 0, port, localPort, timeout, timer: null, errors: [] };
    self._unrefTimer();
    internalConnectMultiple(context);
  });
}

function connectErrorNT(self: Socket, err: Error): void {
  self.destroy(err);
}

function checkBindError(err: number, port: number | undefined, handle: TcpHandle): number {
  if (err === 0 && port !== undefined && port > 0) {
    const out: Partial<AddressInfo> = {};
    err = handle.getsockname(out);
    if (err === 0 && port !== out.port) err = UV_EADDRINUSE;
  }
  return err;
}

function internalConnect(self: Socket, address: string, port: number, addressType: number, localAddress?: string, localPort?: number): void {
  let err: number;
  const h = self._handle!;
  if (localAddress || localPort) {
    if (addressType === 4) {
      localAddress = localAddress || DEFAULT_IPV4_ADDR;
      err = h.bind(localAddress, localPort ?? 0);
    } else {
      localAddress = localAddress || DEFAULT_IPV6_ADDR;
      err = h.bind6(localAddress, localPort ?? 0, false);
    }
    err = checkBindError(err, localPort, h);
    if (err) {
      self.destroy(exceptionWithHostPort(err, 'bind', localAddress, localPort));
      return;
    }
  }
  self.emit('connectionAttempt', address, port, addressType);
  const req = new ConnectReq(address, port, localAddress, localPort, addressType);
  req.oncomplete = afterConnect;
  err = h.connect(req, address, port, addressType === 4 ? 4 : 6);
  if (err) {
    const sockname = self._getsockname();
    const details = sockname ? `${sockname.address}:${sockname.port}` : undefined;
    self.destroy(exceptionWithHostPort(err, 'connect', address, port, details));
  }
}

function internalConnectMultiple(context: MultiContext, canceled?: boolean): void {
  clearTimeout(context.timer ?? undefined);
  const self = context.socket;
  if (self._aborted) return;
  if (canceled || context.current === context.addresses.length) {
    if (context.errors.length === 0) {
      self.destroy(new ERR_SOCKET_CONNECTION_TIMEOUT());
      return;
    }
    self.destroy(nodeAggregateError(context.errors));
    return;
  }
  const current = context.current++;
  if (current > 0) self.reinitializeHandle(new TcpHandle(self.xlioHost));
  const { localPort, port } = context;
  const { address, family: addressType } = context.addresses[current]!;
  let localAddress: string | undefined;
  let err: number;
  const h = self._handle!;
  if (localPort) {
    if (addressType === 4) {
      localAddress = DEFAULT_IPV4_ADDR;
      err = h.bind(localAddress, localPort);
    } else {
      localAddress = DEFAULT_IPV6_ADDR;
      err = h.bind6(localAddress, localPort, false);
    }
    err = checkBindError(err, localPort, h);
    if (err) {
      context.errors.push(exceptionWithHostPort(err, 'bind', localAddress, localPort));
      internalConnectMultiple(context);
      return;
    }
  }
  self.emit('connectionAttempt', address, port, addressType);
  const req = new ConnectReq(address, port, localAddress, localPort, addressType);
  req.oncomplete = (status, handle, r, readable, writable) => afterConnectMultiple(context, current, status, handle, r, readable, writable);
  self.autoSelectFamilyAttemptedAddresses!.push(`${address}:${port}`);
  err = h.connect(req, address, port, addressType === 4 ? 4 : 6);
  if (err) {
    const sockname = self._getsockname();
    const details = sockname ? `${sockname.address}:${sockname.port}` : undefined;
    const ex = exceptionWithHostPort(err, 'connect', address, port, details);
    context.errors.push(ex);
    self.emit('connectionAttemptFailed', address, port, addressType, ex);
    internalConnectMultiple(context);
    return;
  }
  if (current < context.addresses.length - 1) {
    context.timer = setTimeout(internalConnectMultipleTimeout, context.timeout, context, req, h);
  }
}

function createConnectionError(req: ConnectReq, status: number): Error {
  let details: string | undefined;
  if (req.localAddress && req.localPort) details = `${req.localAddress}:${req.localPort}`;
  const ex = exceptionWithHostPort(status, 'connect', req.address, req.port, details) as NodeJS.ErrnoException & { localAddress?: string; localPort?: number };
  if (details) {
    ex.localAddress = req.localAddress;
    ex.localPort = req.localPort;
  }
  return ex;
}

function afterConnectMultiple(context: MultiContext, current: number, status: number, handle: TcpHandle, req: ConnectReq, readable: boolean, writable: boolean): void {
  clearTimeout(context.timer ?? undefined);
  if (status === 0 && current !== context.current - 1) {
    handle.close();
    return;
  }
  const self = context.socket;
  if (status !== 0) {
    const ex = createConnectionError(req, status);
    context.errors.push(ex);
    self.emit('connectionAttemptFailed', req.address, req.port, req.addressType, ex);
    if (context.socket.connecting) internalConnectMultiple(context, status === UV_ECANCELED);
    return;
  }
  afterConnect(status, self._handle!, req, readable, writable);
}

function internalConnectMultipleTimeout(context: MultiContext, req: ConnectReq, handle: TcpHandle): void {
  context.socket.emit('connectionAttemptTimeout', req.address, req.port, req.addressType);
  req.oncomplete = null;
  context.errors.push(createConnectionError(req, UV_ETIMEDOUT));
  handle.close();
  if (context.socket.connecting) internalConnectMultiple(context);
}

function afterConnect(status: number, handle: TcpHandle, req: ConnectReq, readable: boolean, writable: boolean): void {
  const self = handle.owner;
  if (self === null || self.destroyed) return;
  self.connecting = false;
  self._sockname = null;
  if (status === 0) {
    if (self.readable && !readable) {
      self.push(null);
      self.read();
    }
    if (self.writable && !writable) self.end();
    self._unrefTimer();
    self.applyPendingOptions();
    self.emit('connect');
    self.emit('ready');
    if (readable && !self.isPaused()) self.read(0);
  } else {
    const ex = createConnectionError(req, status);
    self.emit('connectionAttemptFailed', req.address, req.port, req.addressType, ex);
    self.destroy(ex);
  }
}

// ---------------------------------------------------------------------------------------
// Server

export interface ServerOpts {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  highWaterMark?: number;
  /** The xlio-ts host (default: the process's, processHost()). */
  xlioHost?: ProcessHost;
}

export interface ListenOptions {
  port?: number | string | null;
  host?: string;
  backlog?: number;
  exclusive?: boolean;
  ipv6Only?: boolean;
  signal?: AbortSignal;
  path?: string;
  readableAll?: boolean;
  writableAll?: boolean;
  fd?: number;
  handle?: unknown;
  _handle?: unknown;
}

function addServerAbortSignalOption(self: Server, options: ListenOptions): void {
  if (options?.signal === undefined) return;
  validateAbortSignal(options.signal, 'options.signal');
  const { signal } = options;
  const onAborted = (): void => {
    self.close();
  };
  if (signal.aborted) process.nextTick(onAborted);
  else {
    signal.addEventListener('abort', onAborted, { once: true });
    self.once('close', () => signal.removeEventListener('abort', onAborted));
  }
}

function emitErrorNT(self: EventEmitter, err: Error): void {
  self.emit('error', err);
}

function emitListeningNT(self: Server): void {
  if (self._handle) self.emit('listening');
}

// The options an inner node:net Server (a pipe's) reads when it accepts a connection: read
// from the outer Server, so that changing them after listen() acts as on Node's. _connections
// is the outer's count: the inner's onconnection checks maxConnections against it and counts
// each connection there, as Node's does for its own pipe.
const PIPE_FORWARDED = [
  'allowHalfOpen',
  'pauseOnConnect',
  'noDelay',
  'keepAlive',
  'keepAliveInitialDelay',
  'highWaterMark',
  'maxConnections',
  '_connections',
] as const;

function defaultHighWaterMark(): number {
  const s = Duplex as unknown as { getDefaultHighWaterMark?: (objectMode: boolean) => number };
  return s.getDefaultHighWaterMark?.(false) ?? 16 * 1024;
}

export class Server extends EventEmitter {
  _connections = 0;
  _handle: ServerHandle | null = null;
  _usingWorkers = false;
  _unref = false;
  _listeningId = 1;
  _connectionKey?: string;
  _pipeName?: string;
  allowHalfOpen: boolean;
  pauseOnConnect: boolean;
  noDelay: boolean;
  keepAlive: boolean;
  keepAliveInitialDelay: number;
  highWaterMark: number;
  declare maxConnections?: number;
  /** Listening on a pipe (path): Node's own server does it (see listenPipe). */
  _pipeServer: nodeNet.Server | null = null;
  private readonly xhost: ProcessHost;

  constructor(options?: ServerOpts | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void) {
    super();
    let opts: ServerOpts;
    if (typeof options === 'function') {
      connectionListener = options;
      opts = {};
      this.on('connection', connectionListener);
    } else if (options == null || typeof options === 'object') {
      opts = { ...options };
      if (typeof connectionListener === 'function') this.on('connection', connectionListener);
    } else throw new ERR_INVALID_ARG_TYPE('options', 'Object', options);
    if (typeof opts.keepAliveInitialDelay !== 'undefined') {
      validateNumber(opts.keepAliveInitialDelay, 'options.keepAliveInitialDelay');
      if (opts.keepAliveInitialDelay < 0) opts.keepAliveInitialDelay = 0;
    }
    if (typeof opts.highWaterMark !== 'undefined') {
      validateNumber(opts.highWaterMark, 'options.highWaterMark');
      if (opts.highWaterMark < 0) opts.highWaterMark = defaultHighWaterMark();
    }
    this.xhost = opts.xlioHost ?? processHost();
    this.allowHalfOpen = opts.allowHalfOpen || false;
    this.pauseOnConnect = !!opts.pauseOnConnect;
    this.noDelay = Boolean(opts.noDelay);
    this.keepAlive = Boolean(opts.keepAlive);
    this.keepAliveInitialDelay = ~~((opts.keepAliveInitialDelay as number) / 1000);
    this.highWaterMark = opts.highWaterMark ?? defaultHighWaterMark();
  }

  /** The host this server lives on. */
  get xlioHost(): ProcessHost {
    return this.xhost;
  }

  get listening(): boolean {
    return !!this._handle || this.pipeActive();
  }

  /** Whether the inner pipe server holds a handle (as `_handle` does for TCP). */
  private pipeActive(): boolean {
    return !!this._pipeServer && this._pipeServer.listening;
  }

  listen(...args: any[]): this {
    const normalized = _normalizeArgs(args);
    let options = normalized[0] as ListenOptions & Record<string, any>;
    const cb = normalized[1];
    if (this._handle || this.pipeActive()) throw new ERR_SERVER_ALREADY_LISTEN();
    if (cb !== null) this.once('listening', cb);
    const backlogFromArgs = toNumber(args.length > 1 && args[1]) || toNumber(args.length > 2 && args[2]);
    options = (options._handle || options.handle || options) as ListenOptions;
    const ipv6Only = options.ipv6Only === true;
    this._listeningId++;
    if (options instanceof ServerHandle || (typeof options.fd === 'number' && options.fd >= 0)) {
      throw new ERR_INVALID_ARG_VALUE('options', options, 'is not supported by xlio-ts (handles and descriptors of the OS)');
    }
    addServerAbortSignalOption(this, options);
    if (args.length === 0 || typeof args[0] === 'function' || (typeof options.port === 'undefined' && 'port' in options) || options.port === null) {
      options.port = 0;
    }
    let backlog: number | false | undefined;
    if (typeof options.port === 'number' || typeof options.port === 'string') {
      validatePort(options.port, 'options.port');
      backlog = options.backlog || backlogFromArgs;
      if (options.host) lookupAndListen(this, (options.port as number) | 0, options.host, backlog, ipv6Only);
      else this._listen2(null, (options.port as number) | 0, 4, backlog, ipv6Only);
      return this;
    }
    if (options.path && isPipeName(options.path)) {
      const pipeName = (this._pipeName = options.path);
      backlog = options.backlog || backlogFromArgs;
      this.listenPipe(pipeName, backlog, options);
      return this;
    }
    if (!('port' in options || 'path' in options)) throw new ERR_INVALID_ARG_VALUE('options', options, 'must have the property "port" or "path"');
    throw new ERR_INVALID_ARG_VALUE('options', options);
  }

  /**
   * listen(path): Node's own net.Server listens (bind, listen, fchmod for readableAll /
   * writableAll, its errors in the next tick, 'listening' in the next tick) and accepts: each
   * of its sockets (a node:net Socket) is this server's 'connection', counted in _connections.
   */
  private listenPipe(path: string, backlog: number | false | undefined, options: ListenOptions): void {
    this._pipeServer?.removeAllListeners();
    const inner = new nodeNet.Server();
    for (const name of PIPE_FORWARDED) {
      Object.defineProperty(inner, name, {
        configurable: true,
        enumerable: true,
        get: () => (this as any)[name],
        set: (v: unknown) => {
          (this as any)[name] = v;
        },
      });
    }
    inner.on('listening', () => this.emit('listening'));
    inner.on('error', (err) => this.emit('error', err));
    inner.on('drop', (...a: unknown[]) => this.emit('drop', ...a));
    inner.on('connection', (socket: nodeNet.Socket) => {
      // The socket counts itself off (_destroy) on its _server: this one.
      const s = socket as nodeNet.Socket & { server: unknown; _server: unknown };
      s.server = this;
      s._server = this;
      this.emit('connection', socket);
    });
    this._pipeServer = inner;
    const opts: nodeNet.ListenOptions = { path };
    if (backlog) opts.backlog = backlog;
    if (options.readableAll !== undefined) opts.readableAll = options.readableAll;
    if (options.writableAll !== undefined) opts.writableAll = options.writableAll;
    if (options.exclusive !== undefined) opts.exclusive = options.exclusive;
    try {
      inner.listen(opts);
    } catch (e) {
      this._pipeServer = null;
      throw e;
    }
    if (this._unref) inner.unref();
  }

  /** setupListenHandle. */
  _listen2(address: string | null, port: number, addressType: number, backlog: number | false | undefined, ipv6Only: boolean): void {
    if (!this._handle) {
      let rval: ServerHandle | number | null = null;
      if (!address) {
        rval = this.createServerHandle(DEFAULT_IPV6_ADDR, port, 6, ipv6Only);
        if (typeof rval === 'number') {
          rval = null;
          address = DEFAULT_IPV4_ADDR;
          addressType = 4;
        } else {
          address = DEFAULT_IPV6_ADDR;
          addressType = 6;
        }
      }
      if (rval === null) rval = this.createServerHandle(address, port, addressType, ipv6Only);
      if (typeof rval === 'number') {
        process.nextTick(emitErrorNT, this, uvExceptionWithHostPort(rval, 'listen', address, port));
        return;
      }
      this._handle = rval;
    }
    const h = this._handle;
    h.owner = this;
    h.onconnection = this.onconnection;
    const err = h.listen(backlog || 511);
    if (err) {
      const ex = uvExceptionWithHostPort(err, 'listen', address, port);
      h.close();
      this._handle = null;
      process.nextTick(emitErrorNT, this, ex);
      return;
    }
    this._connectionKey = `${addressType}:${address}:${port}`;
    if (this._unref) this.unref();
    process.nextTick(emitListeningNT, this);
  }

  private createServerHandle(address: string, port: number, addressType: number, ipv6Only: boolean): ServerHandle | number {
    const handle = new ServerHandle(this.xhost);
    let err: number;
    if (!address) {
      err = handle.bind6(DEFAULT_IPV6_ADDR, port, ipv6Only);
      if (err) {
        handle.close();
        return this.createServerHandle(DEFAULT_IPV4_ADDR, port, 4, false);
      }
    } else if (addressType === 6) err = handle.bind6(address, port, ipv6Only);
    else err = handle.bind(address, port);
    if (err) {
      handle.close();
      return err;
    }
    return handle;
  }

  private readonly onconnection = (err: number, clientHandle: TcpHandle | null): void => {
    if (err) {
      this.emit('error', errnoException(err, 'accept'));
      return;
    }
    const ch = clientHandle!;
    if (this.maxConnections && this._connections >= this.maxConnections) {
      const data: Record<string, unknown> = { __proto__: null };
      const localInfo: Partial<AddressInfo> = {};
      ch.getsockname(localInfo);
      data.localAddress = localInfo.address;
      data.localPort = localInfo.port;
      data.localFamily = localInfo.family;
      const remoteInfo: Partial<AddressInfo> = {};
      ch.getpeername(remoteInfo);
      data.remoteAddress = remoteInfo.address;
      data.remotePort = remoteInfo.port;
      data.remoteFamily = remoteInfo.family;
      this.emit('drop', data);
      ch.close();
      return;
    }
    const socket = new Socket({
      handle: ch,
      allowHalfOpen: this.allowHalfOpen,
      pauseOnCreate: this.pauseOnConnect,
      readable: true,
      writable: true,
      readableHighWaterMark: this.highWaterMark,
      writableHighWaterMark: this.highWaterMark,
    });
    socket.setServerOptions(this.noDelay, this.keepAlive, this.keepAliveInitialDelay);
    this._connections++;
    socket.server = this;
    socket._server = this;
    this.emit('connection', socket);
  };

  address(): AddressInfo | string | null {
    if (this._handle) {
      const out: Partial<AddressInfo> = {};
      const err = this._handle.getsockname(out);
      if (err) throw errnoException(err, 'address');
      return out as AddressInfo;
    } else if (this._pipeName) return this._pipeName;
    return null;
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(cb, null, this._connections);
    return this;
  }

  close(cb?: (err?: Error) => void): this {
    this._listeningId++;
    if (typeof cb === 'function') {
      if (!this._handle && !this.pipeActive()) {
        this.once('close', function close() {
          cb(new ERR_SERVER_NOT_RUNNING());
        });
      } else this.once('close', cb);
    }
    if (this._handle) {
      this._handle.close();
      this._handle = null;
    }
    if (this._pipeServer) {
      const inner = this._pipeServer;
      this._pipeServer = null;
      if (inner.listening) inner.close();
    }
    this._emitCloseIfDrained();
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this._handle && !this.pipeActive()) return;
    await new Promise<void>((resolve, reject) => this.close((e) => (e ? reject(e) : resolve())));
  }

  _emitCloseIfDrained(): void {
    if (this._handle || this.pipeActive() || this._connections) return;
    process.nextTick(emitCloseNT, this);
  }

  ref(): this {
    this._unref = false;
    this._handle?.ref();
    this._pipeServer?.ref();
    return this;
  }

  unref(): this {
    this._unref = true;
    this._handle?.unref();
    this._pipeServer?.unref();
    return this;
  }

  override [EventEmitter.captureRejectionSymbol](err: Error, event: string, sock: Socket): void {
    switch (event) {
      case 'connection':
        sock.destroy(err);
        break;
      default:
        this.emit('error', err);
    }
  }
}

function lookupAndListen(self: Server, port: number, address: string, backlog: number | false | undefined, ipv6Only: boolean): void {
  const listeningId = self._listeningId;
  dns.lookup(address, function doListen(err, ip, addressType) {
    if (listeningId !== self._listeningId) return;
    if (err) self.emit('error', err);
    else {
      addressType = ip ? addressType : 4;
      self._listen2(ip, port, addressType, backlog, ipv6Only);
    }
  });
}

// ---------------------------------------------------------------------------------------
// Module functions

export function createServer(options?: ServerOpts | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void): Server {
  return new Server(options, connectionListener);
}

/**
 * net.connect / net.createConnection: (options[, cb]) or (port[, host][, cb]) make an xlio-ts
 * Socket; (path[, cb]) or ({ path }[, cb]), a pipe or Unix domain socket, Node's own
 * (node:net's createConnection with the same arguments).
 */
export function connect(path: string, connectListener?: () => void): nodeNet.Socket;
export function connect(options: ConnectOpts & SocketConstructorOpts & { path: string }, connectListener?: () => void): nodeNet.Socket;
export function connect(...args: any[]): Socket;
export function connect(...args: any[]): Socket | nodeNet.Socket {
  const normalized = _normalizeArgs(args);
  const options = normalized[0];
  if (options.path) return (nodeNet.createConnection as (...a: any[]) => nodeNet.Socket)(...args);
  const socket = new Socket(options as SocketConstructorOpts);
  if (options.timeout) socket.setTimeout(options.timeout as number);
  return socket.connect(normalized);
}

export const createConnection = connect;

// ---------------------------------------------------------------------------------------
// Node's http, https and tls over these sockets

/**
 * Feeds the connections of an xlio-ts Server to one of Node's servers (http.Server,
 * https.Server, tls.Server, http2…): each accepted socket is emitted there as 'connection',
 * which is how those servers take connections. Returns the xlio-ts Server (listen() it).
 *
 *   const srv = serve(http.createServer(handler)).listen(8080)
 */
export function serve(server: EventEmitter, options?: ServerOpts): Server {
  const x = new Server(options, (s) => {
    server.emit('connection', s);
  });
  x.on('error', (e) => server.emit('error', e));
  return x;
}

/** An http.Agent whose connections are xlio-ts sockets (keep-alive and pooling are Node's). */
export class Agent extends http.Agent {
  // As http.Agent's own (net.createConnection): the callback is a 'connect' listener.
  override createConnection(options: any, cb?: (err: Error | null, s: Duplex) => void): Duplex {
    return cb ? connect(options, cb) : connect(options);
  }
}

/** An https.Agent whose TLS runs over xlio-ts sockets (Node's tls on top of them). */
export class HttpsAgent extends https.Agent {
  override createConnection(options: any, cb?: (err: Error | null, s: Duplex) => void): Duplex {
    const socket = connect({ ...options, ...(options.timeout !== undefined ? { timeout: options.timeout } : {}) });
    const t = tls.connect({ ...options, socket });
    if (cb) t.once('secureConnect', () => cb(null, t));
    return t;
  }
}

/** tls.connect over an xlio-ts socket: options as tls.connect's, plus port/host for the TCP connection. */
export function tlsConnect(options: tls.ConnectionOptions & { port: number; host?: string }, cb?: () => void): tls.TLSSocket {
  const socket = connect({ port: options.port, host: options.host ?? 'localhost' });
  return tls.connect({ servername: options.host && !isIP(options.host) ? options.host : undefined, ...options, socket }, cb);
}

export default {
  BlockList,
  SocketAddress,
  connect,
  createConnection,
  createServer,
  isIP,
  isIPv4,
  isIPv6,
  Server,
  Socket,
  Stream,
  getDefaultAutoSelectFamily,
  setDefaultAutoSelectFamily,
  getDefaultAutoSelectFamilyAttemptTimeout,
  setDefaultAutoSelectFamilyAttemptTimeout,
  _normalizeArgs,
  serve,
  Agent,
  HttpsAgent,
  tlsConnect,
};

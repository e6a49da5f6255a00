// A ready-made worker application (see workers.ts): a UDP echo server and a TCP echo server
// on every worker, driven by epoll with timeout 0 from the poll loop's rounds. For
// benchmarks (pass `new URL('./echo-app.js', import.meta.url)` of this module as the app)
// and for the runtime's tests. Its counters (EchoCounter) are the worker's own.
//
// XLIO_TCP_NODELAY=1 (config.tcpNoDelay) sets TCP_NODELAY on the listener, which accepted
// connections inherit.

import { Errno } from '../errno.js';
import { AF_INET, AF_INET6, EPOLLIN, EPOLLOUT, EPOLL_CTL_ADD, EPOLL_CTL_MOD, IPPROTO_TCP, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_STREAM, TCP_NODELAY } from '../socket/constants.js';
import type { Sockets } from '../socket/sockets.js';
import { EpollEvent, SockAddr } from '../socket/types.js';
import type { WorkerApp, WorkerContext } from './workers.js';

export interface EchoAppOptions {
  /** UDP echo port (0: none); default 7. */
  udpPort?: number;
  /** TCP echo port (0: none); default 7. */
  tcpPort?: number;
  /** IPv6 sockets (dual-stack), else IPv4. */
  ipv6?: boolean;
  /** The first byte of every UDP reply becomes the worker's index (tests learn who answered). */
  tagWorker?: boolean;
  /** Count traffic per peer port and return it from close(). */
  recordFlows?: boolean;
}

/** Slots of the app's counters (WorkerContext.counters). */
export const EchoCounter = Object.freeze({
  UDP_IN: 0,
  UDP_BYTES_IN: 1,
  UDP_OUT: 2,
  TCP_ACCEPTED: 3,
  TCP_BYTES_IN: 4,
  TCP_BYTES_OUT: 5,
  TCP_CLOSED: 6,
  /** Rounds in which the app had something to do. */
  BUSY_ROUNDS: 7,
});

/** What close() returns with recordFlows: [peer port, datagrams or bytes] pairs. */
export interface EchoFlows {
  index: number;
  udp: [number, number][];
  tcp: [number, number][];
}

const MAX_EVENTS = 64;
const BUF = 65536;

/** Views of `buf` from offset 0, made once per length, so a send of `len` bytes allocates nothing. */
class Views {
  private readonly views: (Uint8Array | undefined)[] = [];
  constructor(readonly buf: Uint8Array) {}
  of(len: number): Uint8Array {
    return (this.views[len] ??= this.buf.subarray(0, len));
  }
}

class Connection {
  /** Bytes received but not yet echoed (send would block). */
  pendingAt = 0;
  pendingLen = 0;
  /** Watching EPOLLOUT (the send buffer was full) instead of EPOLLIN. */
  waitingOut = false;
  readonly pending = new Uint8Array(BUF);
  readonly views = new Views(this.pending);
  constructor(
    readonly fd: number,
    readonly peerPort: number,
  ) {}
}

class EchoApp implements WorkerApp {
  private readonly api: Sockets;
  private readonly ep: number;
  private readonly udp: number;
  private readonly listener: number;
  private readonly events: EpollEvent[] = Array.from({ length: MAX_EVENTS }, () => new EpollEvent());
  private readonly ev = new EpollEvent();
  private readonly buf = new Uint8Array(BUF);
  private readonly bufViews = new Views(this.buf);
  private readonly from = new SockAddr();
  private readonly conns = new Map<number, Connection>();
  private readonly udpFlows = new Map<number, number>();
  private readonly tcpFlows = new Map<number, number>();
  private readonly c: Float64Array;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly o: EchoAppOptions,
  ) {
    this.api = ctx.api;
    this.c = ctx.counters;
    const api = this.api;
    const family = o.ipv6 === true ? AF_INET6 : AF_INET;
    const any = (port: number): SockAddr => (o.ipv6 === true ? SockAddr.inet6(new Uint8Array(16), port) : SockAddr.inet(0, port));
    this.ep = check('epoll_create1', api.epoll_create1(0));
    const udpPort = o.udpPort ?? 7;
    const tcpPort = o.tcpPort ?? 7;
    this.udp = -1;
    this.listener = -1;
    if (udpPort !== 0) {
      this.udp = check('socket', api.socket(family, SOCK_DGRAM | SOCK_NONBLOCK));
      check('bind udp', api.bind(this.udp, any(udpPort)));
      this.watch(this.udp, EPOLLIN, EPOLL_CTL_ADD);
    }
    if (tcpPort !== 0) {
      this.listener = check('socket', api.socket(family, SOCK_STREAM | SOCK_NONBLOCK));
      if (ctx.config.tcpNoDelay) check('TCP_NODELAY', api.setsockoptInt(this.listener, IPPROTO_TCP, TCP_NODELAY, 1));
      check('bind tcp', api.bind(this.listener, any(tcpPort)));
      check('listen', api.listen(this.listener, 1024));
      this.watch(this.listener, EPOLLIN, EPOLL_CTL_ADD);
    }
  }

  private watch(fd: number, events: number, op: number): void {
    this.ev.events = events;
    this.ev.data = fd;
    check('epoll_ctl', this.api.epoll_ctl(this.ep, op, fd, this.ev));
  }

  round(): boolean {
    const n = this.api.epoll_wait(this.ep, this.events, MAX_EVENTS, 0);
    if (n <= 0) return false;
    for (let i = 0; i < n; i++) {
      const e = this.events[i]!;
      if (e.data === this.udp) this.serveUdp();
      else if (e.data === this.listener) this.accept();
      else {
        const k = this.conns.get(e.data);
        if (k !== undefined) this.serveTcp(k);
      }
    }
    this.c[EchoCounter.BUSY_ROUNDS]++;
    return true;
  }

  private serveUdp(): void {
    const api = this.api;
    const buf = this.buf;
    const c = this.c;
    for (;;) {
      const len = api.recvfrom(this.udp, buf, 0, this.from);
      if (len < 0) break;
      c[EchoCounter.UDP_IN]++;
      c[EchoCounter.UDP_BYTES_IN] += len;
      if (this.o.recordFlows === true) this.udpFlows.set(this.from.port, (this.udpFlows.get(this.from.port) ?? 0) + 1);
      if (this.o.tagWorker === true && len > 0) buf[0] = this.ctx.index;
      if (api.sendto(this.udp, this.bufViews.of(len), 0, this.from) >= 0) c[EchoCounter.UDP_OUT]++;
    }
  }

  private accept(): void {
    for (;;) {
      const peer = new SockAddr();
      const fd = this.api.accept4(this.listener, peer, SOCK_NONBLOCK);
      if (fd < 0) break;
      this.c[EchoCounter.TCP_ACCEPTED]++;
      this.conns.set(fd, new Connection(fd, peer.port));
      this.watch(fd, EPOLLIN, EPOLL_CTL_ADD);
    }
  }

  private serveTcp(k: Connection): void {
    const api = this.api;
    const c = this.c;
    if (!this.flush(k)) return;
    for (;;) {
      const got = api.recv(k.fd, k.pending, 0);
      if (got === -Errno.EAGAIN) return;
      if (got <= 0) return this.drop(k); // end of stream or an error (ECONNRESET…)
      c[EchoCounter.TCP_BYTES_IN] += got;
      if (this.o.recordFlows === true) this.tcpFlows.set(k.peerPort, (this.tcpFlows.get(k.peerPort) ?? 0) + got);
      k.pendingAt = 0;
      k.pendingLen = got;
      if (!this.flush(k)) return;
    }
  }

  /** Echoes what is pending; false when it cannot all go now (then the connection waits for EPOLLOUT) or the connection is gone. */
  private flush(k: Connection): boolean {
    while (k.pendingLen > 0) {
      const data = k.pendingAt === 0 ? k.views.of(k.pendingLen) : k.pending.subarray(k.pendingAt, k.pendingAt + k.pendingLen);
      const sent = this.api.send(k.fd, data, 0);
      if (sent === -Errno.EAGAIN) {
        if (!k.waitingOut) this.watch(k.fd, EPOLLOUT, EPOLL_CTL_MOD);
        k.waitingOut = true;
        return false;
      }
      if (sent < 0) {
        this.drop(k);
        return false;
      }
      this.c[EchoCounter.TCP_BYTES_OUT] += sent;
      k.pendingAt += sent;
      k.pendingLen -= sent;
    }
    if (k.waitingOut) this.watch(k.fd, EPOLLIN, EPOLL_CTL_MOD);
    k.waitingOut = false;
    return true;
  }

  private drop(k: Connection): void {
    this.api.close(k.fd);
    this.conns.delete(k.fd);
    this.c[EchoCounter.TCP_CLOSED]++;
  }

  close(): EchoFlows | null {
    for (const k of this.conns.values()) this.api.close(k.fd);
    if (this.o.recordFlows !== true) return null;
    return { index: this.ctx.index, udp: [...this.udpFlows], tcp: [...this.tcpFlows] };
  }
}

function check(what: string, r: number): number {
  if (r < 0) throw new Error(`echo app: ${what} failed: errno ${-r}`);
  return r;
}

/** The worker entry point: a UDP and a TCP echo server per ctx.data (EchoAppOptions). */
export function setup(ctx: WorkerContext): WorkerApp {
  return new EchoApp(ctx, (ctx.data ?? {}) as EchoAppOptions);
}

// A SOCK_DGRAM socket over the UDP engine (src/stack/udp.ts) with Linux's socket-level
// semantics: inet_dgram_connect (AF_UNSPEC dissolves), udp_sendmsg/udpv6_sendmsg address
// rules, udp_recvmsg (the pending error first, MSG_PEEK, MSG_TRUNC and msg_flags),
// inet_shutdown (ENOTCONN on an unconnected socket, yet the bits are set), and
// datagram_poll/udp_poll's mask. A sent datagram leaving the socket wakes writers, as
// Linux's sock_wfree does, so an edge-triggered EPOLLOUT fires after each send.

import { Errno, ErrnoError } from '../errno.js';
import { MAX_UDP_PAYLOAD_V4, MAX_UDP_PAYLOAD_V6, UdpEvent, UdpRoute, UdpSocket as EngineUdp, type UdpWaker } from '../stack/udp.js';
import { isUnspecified6, isV4Mapped, v4FromMapped, v4MappedAddress } from '../stack/ipv6-address.js';
import {
  AF_INET, AF_INET6, AF_UNSPEC, EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLRDNORM, EPOLLWRBAND, EPOLLWRNORM,
  IPPROTO_UDP, MSG_DONTWAIT, MSG_ERRQUEUE, MSG_MORE, MSG_OOB, MSG_PEEK, MSG_TRUNC, SOCK_DGRAM,
} from './constants.js';
import { WakeKey } from './file.js';
import { RCV_SHUTDOWN, SHUTDOWN_MASK, SocketFile, type SocketContext } from './socket-file.js';
import type { SockAddr } from './types.js';

/** net.core.rmem_default / wmem_default: what SO_RCVBUF / SO_SNDBUF report before anything is set. */
const UDP_RMEM_DEFAULT = 212992;
const UDP_WMEM_DEFAULT = 212992;

export class UdpSocketFile extends SocketFile implements UdpWaker {
  readonly family: 4 | 6;
  readonly udp: EngineUdp;
  /** Scratch for a gathered send or a scattered receive. */
  private scratch = new Uint8Array(0);
  private readonly addr6 = new Uint8Array(16);

  constructor(ctx: SocketContext, domain: number, protocol: number) {
    super(ctx, domain, SOCK_DGRAM, protocol === 0 ? IPPROTO_UDP : protocol, UDP_RMEM_DEFAULT, UDP_WMEM_DEFAULT);
    this.family = domain === AF_INET ? 4 : 6;
    this.udp = ctx.stack.udpSocket(this.family);
    this.udp.waker = this;
  }

  udpEvent(_s: EngineUdp, event: number): void {
    if (event !== UdpEvent.Data) this.routeCached = false; // an ICMP error resets the cached route
    this.wake(event === UdpEvent.Data ? WakeKey.Readable : WakeKey.Error);
  }


  private get connected(): boolean {
    return this.udp.connected;
  }

  poll(): number {
    let mask = 0;
    if (this.udp.pendingError !== null) mask |= EPOLLERR;
    const sh = this.userShutdown;
    if (sh & RCV_SHUTDOWN) mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM;
    if (sh === SHUTDOWN_MASK) mask |= EPOLLHUP;
    if (this.udp.queuedDatagrams > 0) mask |= EPOLLIN | EPOLLRDNORM;
    return mask | EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
  }

  /** The engine's form of a sockaddr given to connect/sendto (an IPv4 number, or 16 bytes), after addressError() said 0. */
  private engineAddress(a: SockAddr): number | Uint8Array {
    if (this.family === 4) return a.addr4 | 0;
    if (a.family === AF_INET) return v4MappedAddress(a.addr4, this.addr6);
    this.addr6.set(a.addr6);
    return this.addr6;
  }

  /** Linux's checks of a connect/sendto address (ip4_datagram_connect, __ip6_datagram_connect, udp(v6)_sendmsg): 0 or −errno. */
  private addressError(a: SockAddr, forSend: boolean): number {
    if (this.family === 4) {
      if (a.family === AF_INET || (forSend && a.family === AF_UNSPEC)) return 0;
      return -Errno.EAFNOSUPPORT;
    }
    if (a.family === AF_INET) return this.udp.v6Only ? (forSend ? -Errno.ENETUNREACH : -Errno.EAFNOSUPPORT) : 0;
    if (a.family === AF_INET6) return 0;
    return forSend ? -Errno.EINVAL : -Errno.EAFNOSUPPORT;
  }

  bind(a: SockAddr): number {
    if (this.family === 4) {
      if (a.family !== AF_INET && !(a.family === AF_UNSPEC && a.addr4 === 0)) return -Errno.EAFNOSUPPORT;
    } else {
      if (a.family === AF_INET) return -Errno.EINVAL;
      if (a.family !== AF_INET6) return -Errno.EAFNOSUPPORT;
    }
    const u = this.udp;
    u.reuseAddress = this.reuseAddr;
    u.reusePort = this.reusePort;
    try {
      u.bind(this.family === 4 ? a.addr4 | 0 : Uint8Array.from(a.addr6), a.port, a.scopeId);
    } catch (e) {
      return this.errnoOf(e);
    }
    this.routeCached = false; // __inet_bind ends with sk_dst_reset
    return 0;
  }

  connect(a: SockAddr): number {
    const u = this.udp;
    u.reuseAddress = this.reuseAddr;
    u.reusePort = this.reusePort;
    u.broadcast = this.broadcast;
    // inet_dgram_connect: AF_UNSPEC dissolves (udp_disconnect); otherwise autobind, then the protocol's checks.
    this.flowOverride = null;
    if (a.family === AF_UNSPEC) {
      u.disconnect();
      this.routeCached = false;
      return 0;
    }
    if (!this.autobind()) return -Errno.EAGAIN;
    const bad = this.addressError(a, false);
    if (bad !== 0) return bad;
    try {
      u.connect(this.engineAddress(a), a.port, a.scopeId);
    } catch (e) {
      this.routeCached = false;
      return this.errnoOf(e);
    }
    this.routeCached = true;
    // __ip4_datagram_connect stores its flow in inet->cork.fl, which an IPv4 cork in progress
    // also uses: the corked datagram now goes to the new peer.
    if (this.corkFamily === 4 && u.remoteFamily === 4) u.connectedRoute(this.corkRoute);
    return 0;
  }

  /** inet_autobind (inet_send_prepare, inet_dgram_connect): false when no port is free. */
  private autobind(): boolean {
    try {
      this.udp.autobind();
    } catch (e) {
      this.errnoOf(e);
      return false;
    }
    return true;
  }

  /** UDP corking (MSG_MORE / UDP_CORK, Linux's up->pending): the family (0: none), route and data so far. */
  private corkFamily: 0 | 4 | 6 = 0;
  private readonly corkRoute = new UdpRoute();
  private corkData: Uint8Array[] = [];
  private corkLength = 0;
  /**
   * Linux keeps a connected socket's flow in inet->cork.fl, the struct a MSG_MORE send
   * to an explicit address overwrites; later sends to the connected peer take their
   * addresses from it while the cached route lasts (udp_sendmsg), so they go where that
   * corked send went. Set by such a send, cleared by connect/disconnect.
   */
  private flowOverride: UdpRoute | null = null;

  /** UDP_CORK (options.ts should call setCork): every send is MSG_MORE while set. */
  udpCork = false;

  /** setsockopt(UDP_CORK): clearing it sends what is corked (udp_lib_setsockopt → udp_push_pending_frames). */
  setCork(on: boolean): void {
    this.udpCork = on;
    if (!on) this.pushCork();
  }

  /**
   * inet_sendmsg → udp_sendmsg / udpv6_sendmsg, in Linux's order: autobind first
   * (inet_send_prepare), then the protocol's checks; the pending error and shutdown show
   * only when a buffer is allocated (sock_alloc_send_pskb), after the address, route and
   * size checks. EPIPE raises no SIGPIPE on a datagram socket.
   */
  send(bufs: readonly Uint8Array[], flags: number, to: SockAddr | null): number {
    const data = this.gather(bufs);
    const u = this.udp;
    u.reuseAddress = this.reuseAddr;
    u.reusePort = this.reusePort;
    u.broadcast = this.broadcast;
    if (!this.autobind()) return -Errno.EAGAIN;
    let n: number;
    try {
      n = this.family === 4 ? this.send4(data, flags, to, to !== null ? to.port : 0) : this.send6(data, flags, to);
    } catch (e) {
      return this.errnoOf(e);
    }
    // The datagram left (Linux's sock_wfree → sk_write_space): writers wake. A connected send caches the route again.
    if (n >= 0) {
      if (to === null && u.connected) this.routeCached = true;
      this.wake(WakeKey.Writable);
    }
    return n;
  }

  /** udp_sendmsg. `to`: an AF_INET (or AF_UNSPEC, as INADDR_ANY) address, or null for the connected peer. */
  private send4(data: Uint8Array, flags: number, to: SockAddr | null, port: number): number {
    const u = this.udp;
    const len = data.length;
    if (len > 0xffff) return -Errno.EMSGSIZE;
    if (flags & MSG_OOB) return -Errno.EOPNOTSUPP; // "Mirror BSD error message compatibility"
    const more = (flags & MSG_MORE) !== 0 || this.udpCork;
    if (this.corkFamily !== 0) {
      if (this.corkFamily !== 4) return -Errno.EINVAL;
      return this.append(data, more, MAX_UDP_PAYLOAD_V4);
    }
    const r = u.route;
    if (to !== null) {
      if (to.family !== AF_INET && to.family !== AF_UNSPEC && !(to.family === AF_INET6 && this.family === 6)) return -Errno.EAFNOSUPPORT;
      if (port === 0) return -Errno.EINVAL;
      const dst = this.family === 6 && to.family === AF_INET6 ? (isUnspecified6(to.addr6) ? 0x7f000001 : v4FromMapped(to.addr6)) : to.addr4 | 0;
      u.route4(dst, port, r, 'sendto');
    } else {
      if (!u.connected) return -Errno.EDESTADDRREQ;
      if (this.family === 4 && this.flowOverride !== null) r.copyFrom(this.flowOverride);
      else u.connectedRoute(r);
    }
    if (more && to !== null && this.family === 4 && u.connected) (this.flowOverride ??= new UdpRoute()).copyFrom(r);
    return this.start(data, more, r, 4, MAX_UDP_PAYLOAD_V4);
  }

  /** udpv6_sendmsg: IPv4 destinations (and a cork begun by one) go to udp_sendmsg; MSG_OOB is not checked. */
  private send6(data: Uint8Array, flags: number, to: SockAddr | null): number {
    const u = this.udp;
    let mapped = false;
    if (to !== null && to.family === AF_INET6) {
      if (isV4Mapped(to.addr6) || (isUnspecified6(to.addr6) && !u.accepts6 && !u.v6Only)) mapped = true;
    } else if (to !== null && to.family === AF_INET) {
      return u.v6Only ? -Errno.ENETUNREACH : this.send4(data, flags, to, to.port);
    } else if (to !== null && to.family !== AF_UNSPEC) return -Errno.EINVAL;
    else {
      to = null;
      if (this.corkFamily === 0) {
        if (!u.connected) return -Errno.EDESTADDRREQ;
        if (u.remoteFamily === 4) {
          if (u.v6Only) return -Errno.ENETUNREACH;
          // udpv6_sendmsg hands a v4-mapped peer to udp_sendmsg as an explicit address: port 0 is EINVAL there.
          if (u.remotePort === 0) return -Errno.EINVAL;
          return this.send4(data, flags, null, 0);
        }
      }
    }
    if (mapped) {
      if (u.v6Only) return -Errno.ENETUNREACH;
      return this.send4(data, flags, to, to!.port);
    }
    const more = (flags & MSG_MORE) !== 0 || this.udpCork;
    if (this.corkFamily === 4) return this.send4(data, flags, to, to !== null ? to.port : 0);
    if (this.corkFamily === 6) return this.append(data, more, MAX_UDP_PAYLOAD_V6);
    const r = u.route;
    if (to !== null) {
      if (to.port === 0) return -Errno.EINVAL;
      const ifindex = to.scopeId !== 0 ? to.scopeId : u.boundIfindex;
      u.route6(to.addr6, to.port, ifindex, r, 'sendto');
    } else {
      u.connectedRoute(r);
    }
    return this.start(data, more, r, 6, MAX_UDP_PAYLOAD_V6);
  }

  /** The first datagram (or first corked part) along route r: the size check, then the buffer's (sock_alloc_send_pskb). */
  private start(data: Uint8Array, more: boolean, r: UdpRoute, family: 4 | 6, max: number): number {
    if (data.length > max) return -Errno.EMSGSIZE;
    const e = this.allocError();
    if (e !== 0) return e;
    if (!more) {
      this.udp.transmit(r, data);
      return data.length;
    }
    this.corkFamily = family;
    this.corkRoute.copyFrom(r);
    this.corkData = [data.slice()];
    this.corkLength = data.length;
    return data.length;
  }

  /** ip_append_data on a corked socket: too much in all flushes the cork (EMSGSIZE); without MORE the datagram goes. */
  private append(data: Uint8Array, more: boolean, max: number): number {
    if (this.corkLength + data.length > max) {
      this.flushCork();
      return -Errno.EMSGSIZE;
    }
    this.corkData.push(data.slice());
    this.corkLength += data.length;
    if (!more) this.pushCork();
    return data.length;
  }

  /** udp_push_pending_frames: the corked parts go as one datagram. */
  pushCork(): void {
    if (this.corkFamily === 0) return;
    const all = new Uint8Array(this.corkLength);
    let at = 0;
    for (const d of this.corkData) {
      all.set(d, at);
      at += d.length;
    }
    this.flushCork();
    this.udp.transmit(this.corkRoute, all);
  }

  /** udp_flush_pending_frames. */
  private flushCork(): void {
    this.corkFamily = 0;
    this.corkData = [];
    this.corkLength = 0;
  }

  /** sock_alloc_send_pskb's checks: the pending error (taken), then EPIPE after shutdown(SHUT_WR) — no SIGPIPE. */
  private allocError(): number {
    const u = this.udp;
    if (u.pendingError !== null) {
      const e = u.pendingError;
      u.pendingError = null;
      return -e.errno;
    }
    if (this.err !== 0) return super.takeError();
    if (this.userShutdown & 2) return -Errno.EPIPE;
    return 0;
  }

  /** −errno of an engine error (anything else is a bug and goes on up). */
  private errnoOf(e: unknown): number {
    if (e instanceof ErrnoError) return -e.errno;
    throw e;
  }

  /** One buffer as is; several copied into the scratch (a gathered datagram). */
  private gather(bufs: readonly Uint8Array[]): Uint8Array {
    if (bufs.length === 1) return bufs[0]!;
    let total = 0;
    for (const b of bufs) total += b.length;
    if (this.scratch.length < total) this.scratch = new Uint8Array(total);
    let at = 0;
    for (const b of bufs) {
      this.scratch.set(b, at);
      at += b.length;
    }
    return this.scratch.subarray(0, total);
  }

  /**
   * udp_recvmsg: the datagram's bytes into the buffers; returns the bytes copied (the full
   * length with MSG_TRUNC). `msgFlags[0]` gets MSG_TRUNC when the datagram did not fit.
   */
  recv(bufs: readonly Uint8Array[], flags: number, nonblock: boolean, from: SockAddr | null, msgFlags: Int32Array | null): number {
    // ip_recv_error / ipv6_recv_error: nothing is ever queued on the error queue here.
    if (flags & MSG_ERRQUEUE) return -Errno.EAGAIN;
    const dontwait = nonblock || (flags & MSG_DONTWAIT) !== 0;
    const peek = (flags & MSG_PEEK) !== 0;
    let room = 0;
    for (const b of bufs) room += b.length;
    const single = bufs.length === 1;
    if (!single && this.scratch.length < room) this.scratch = new Uint8Array(room);
    const into = single ? bufs[0]! : this.scratch.subarray(0, room);
    const u = this.udp;
    let deadline = -1;
    let len: number;
    for (;;) {
      try {
        len = u.recvInto(into, peek);
      } catch (e) {
        return this.errnoOf(e);
      }
      if (len >= 0) break;
      if (dontwait) return -Errno.EAGAIN;
      if (this.userShutdown & RCV_SHUTDOWN) return 0;
      if (deadline < 0) deadline = this.deadline(this.rcvTimeoUs);
      if (!this.ctx.sleep(deadline)) return -Errno.EAGAIN;
    }
    const copied = Math.min(len, room);
    if (!single) {
      let at = 0;
      for (const b of bufs) {
        const n = Math.min(b.length, copied - at);
        if (n <= 0) break;
        b.set(this.scratch.subarray(at, at + n));
        at += n;
      }
    }
    if (msgFlags !== null) msgFlags[0] = len > room ? MSG_TRUNC : 0;
    if (from !== null) {
      const a = u.lastAddress;
      if (typeof a === 'number') from.setInet(a, u.lastPort);
      else from.setInet6(a, u.lastPort);
    }
    return (flags & MSG_TRUNC) !== 0 ? len : copied;
  }

  shutdown(how: number): number {
    const h = how + 1;
    if ((h & ~SHUTDOWN_MASK) !== 0 || h === 0 || !Number.isInteger(how)) return -Errno.EINVAL;
    this.userShutdown |= h;
    this.wake(WakeKey.All);
    return this.connected ? 0 : -Errno.ENOTCONN;
  }

  release(): void {
    if (this.closed) return;
    this.closed = true;
    this.flushCork(); // udp_destroy_sock: corked data is dropped
    this.udp.waker = null;
    this.udp.close();
  }

  getsockname(out: SockAddr): number {
    const u = this.udp;
    if (this.family === 4) out.setInet(u.local4, u.localPort);
    else if (u.accepts6) out.setInet6(u.local6, u.localPort);
    else out.setInet6(v4MappedAddress(u.local4), u.localPort);
    return 0;
  }

  getpeername(out: SockAddr): number {
    const u = this.udp;
    if (!u.connected || u.remotePort === 0) return -Errno.ENOTCONN; // inet_getname: no peer port, no peer
    const a = u.remoteAddress;
    if (this.family === 4) out.setInet(a as number, u.remotePort);
    else if (typeof a === 'number') out.setInet6(v4MappedAddress(a), u.remotePort);
    else if (isV4Mapped(a)) out.setInet6(a, u.remotePort);
    else out.setInet6(a, u.remotePort);
    return 0;
  }

  /** SIOCINQ for UDP: the length of the next datagram. */
  inq(): number {
    return this.udp.nextLength;
  }

  /** SIOCOUTQ for UDP (sk_wmem_alloc): what is corked and not yet sent; a sent datagram leaves at once. */
  outq(): number {
    return this.corkLength;
  }

  /** SO_ERROR. */
  override takeError(): number {
    const e = this.udp.pendingError;
    if (e !== null) {
      this.udp.pendingError = null;
      return -e.errno;
    }
    return super.takeError();
  }

  get hasError(): boolean {
    return this.udp.pendingError !== null || this.err !== 0;
  }
}

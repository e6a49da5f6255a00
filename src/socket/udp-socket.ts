// A SOCK_DGRAM socket over the UDP engine (src/stack/udp.ts) with Linux's socket-level
// semantics: inet_dgram_connect (AF_UNSPEC dissolves), udp_sendmsg/udpv6_sendmsg address
// rules, udp_recvmsg (the pending error first, MSG_PEEK, MSG_TRUNC and msg_flags),
// inet_shutdown (ENOTCONN on an unconnected socket, yet the bits are set), and
// datagram_poll/udp_poll's mask. A sent datagram leaving the socket wakes writers, as
// Linux's sock_wfree does, so an edge-triggered EPOLLOUT fires after each send.

import { Errno, ErrnoError } from '../errno.js';
import { UdpEvent, UdpSocket as EngineUdp, type UdpWaker } from '../stack/udp.js';
import { isV4Mapped, v4MappedAddress } from '../stack/ipv6-address.js';
import {
  AF_INET, AF_INET6, AF_UNSPEC, EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLRDNORM, EPOLLWRBAND, EPOLLWRNORM,
  IPPROTO_UDP, MSG_DONTWAIT, MSG_NOSIGNAL, MSG_PEEK, MSG_TRUNC, SOCK_DGRAM,
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
    return 0;
  }

  connect(a: SockAddr): number {
    if (a.family === AF_UNSPEC) {
      if (this.connected) this.udp.disconnect();
      return 0;
    }
    const bad = this.addressError(a, false);
    if (bad !== 0) return bad;
    const u = this.udp;
    u.reuseAddress = this.reuseAddr;
    u.reusePort = this.reusePort;
    try {
      u.connect(this.engineAddress(a), a.port, a.scopeId);
    } catch (e) {
      return this.errnoOf(e);
    }
    return 0;
  }

  send(bufs: readonly Uint8Array[], flags: number, to: SockAddr | null): number {
    const data = this.gather(bufs);
    const u = this.udp;
    u.reuseAddress = this.reuseAddr;
    u.reusePort = this.reusePort;
    u.broadcast = this.broadcast;
    let n: number;
    try {
      if (to !== null && !(to.family === AF_UNSPEC && this.family === 6)) {
        const bad = this.addressError(to, true);
        if (bad !== 0) return bad;
        if (to.port === 0) return -Errno.EINVAL;
        n = u.sendTo(data, this.engineAddress(to), to.port, to.scopeId);
      } else {
        if (this.userShutdown & 2) return this.pipe(flags);
        n = u.sendTo(data);
      }
    } catch (e) {
      return this.errnoOf(e);
    }
    // The datagram left (Linux's sock_wfree → sk_write_space): writers wake.
    this.wake(WakeKey.Writable);
    return n;
  }

  /** −errno of an engine error (anything else is a bug and goes on up). */
  private errnoOf(e: unknown): number {
    if (e instanceof ErrnoError) return -e.errno;
    throw e;
  }

  private pipe(flags: number): number {
    if ((flags & MSG_NOSIGNAL) === 0) this.ctx.sigpipe();
    return -Errno.EPIPE;
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
    this.udp.waker = null;
    this.udp.close();
  }

  getsockname(out: SockAddr): number {
    const u = this.udp;
    const a = u.localAddress;
    if (this.family === 4) out.setInet(typeof a === 'number' ? a : 0, u.localPort);
    else if (typeof a === 'number') out.setInet6(v4MappedAddress(a), u.localPort);
    else out.setInet6(a, u.localPort);
    return 0;
  }

  getpeername(out: SockAddr): number {
    const u = this.udp;
    if (!u.connected) return -Errno.ENOTCONN;
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

  outq(): number {
    return 0;
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

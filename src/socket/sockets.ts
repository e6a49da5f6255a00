// The BSD socket API of one stack: descriptors and the calls on them, with Linux's
// results. Every call returns a number: ≥ 0 on success, −errno on failure (the kernel's
// own convention — no exception, no allocation on the hot path); `errnoName()` in
// src/errno.ts turns it into "EAGAIN". Bad arguments of the wrong JavaScript type are
// TypeErrors (a programming error, as Node's own APIs do); bad values are errnos.
//
// Blocking: a call on a blocking socket waits through the driver (worker threads and
// simulations can; the main thread cannot — there every call behaves as non-blocking and
// the *Async variants return Promises instead, see async.ts).

import { Errno } from '../errno.js';
import type { Stack } from '../stack/stack.js';
import { TcpState } from '../stack/tcp/connection.js';
import * as K from './constants.js';
import { Epoll, EP_MAX_EVENTS } from './epoll.js';
import { FdTable } from './fd-table.js';
import type { OpenFile } from './file.js';
import { getOption, setOption } from './options.js';
import { SocketFile, type SocketContext } from './socket-file.js';
import { TcpPortTable, TcpSocket } from './tcp-socket.js';
import { UdpSocketFile } from './udp-socket.js';
import { UnixSocket } from './unix-socket.js';
import { EpollEvent, FdSet, MMsgHdr, MsgHdr, PollFd, SockAddr } from './types.js';

/** How blocking calls wait: the runtime's poll loop, or a simulation's clock. */
export interface SocketDriver {
  /** Monotonic µs. */
  now(): number;
  /** Whether wait() may block this thread (false on Node's main thread). */
  readonly canBlock: boolean;
  /** Runs the stack until something may have changed or `deadline` (µs; Infinity: none). */
  wait(deadline: number): void;
}

export interface SocketsOptions {
  driver?: SocketDriver;
  /** The first descriptor number handed out (default 3: after stdin, stdout, stderr). */
  firstFd?: number;
  /** RLIMIT_NOFILE (default 1,048,576, Linux's nr_open). */
  maxFds?: number;
  /** XLIO_TCP_NODELAY: new TCP sockets start with TCP_NODELAY set (default false, as Linux). */
  tcpNoDelay?: boolean;
  /** XLIO_TCP_QUICKACK: TCP connections acknowledge every segment at once, always (XLIO's meaning; default false). */
  tcpQuickAck?: boolean;
}

/** The driver used when none is given: the stack's own clock, no blocking. */
class NonBlockingDriver implements SocketDriver {
  readonly canBlock = false;
  constructor(private readonly stack: Stack) {}
  now(): number {
    return this.stack.now;
  }
  wait(): void {}
}

const SOCK_FLAGS = K.SOCK_NONBLOCK | K.SOCK_CLOEXEC;
/** Linux's UIO_MAXIOV and UIO_MAXIOV for sendmmsg/recvmmsg's vlen. */
const UIO_MAXIOV = 1024;

export class Sockets implements SocketContext {
  readonly fds: FdTable;
  readonly driver: SocketDriver;
  readonly tcpPorts = new TcpPortTable();
  /** The SIGPIPE-equivalent: called when a write hits a connection that cannot send, unless MSG_NOSIGNAL. */
  onSignal: ((signal: 'SIGPIPE', fd: number) => void) | null = null;
  /** Defaults for new TCP sockets (SocketsOptions). */
  readonly tcpNoDelay: boolean;
  readonly tcpQuickAck: boolean;
  sigpipes = 0;
  /** The descriptor of the call in progress (for onSignal). */
  private currentFd = -1;
  private readonly one: Uint8Array[] = [new Uint8Array(0)];
  private readonly msgFlags = new Int32Array(1);

  constructor(
    readonly stack: Stack,
    opts: SocketsOptions = {},
  ) {
    this.driver = opts.driver ?? new NonBlockingDriver(stack);
    this.fds = new FdTable(opts.firstFd ?? 3, opts.maxFds ?? 1 << 20);
    this.tcpNoDelay = opts.tcpNoDelay === true;
    this.tcpQuickAck = opts.tcpQuickAck === true;
    stack.tcp.portTaken = (port) => this.tcpPorts.taken(port);
  }

  // SocketContext
  now(): number {
    return this.driver.now();
  }
  sleep(deadline: number): boolean {
    const d = this.driver;
    if (!d.canBlock || d.now() >= deadline) return false;
    d.wait(deadline);
    return true;
  }
  sigpipe(): void {
    this.sigpipes++;
    this.onSignal?.('SIGPIPE', this.currentFd);
  }

  // ---------------------------------------------------------------------------------------
  // Descriptors

  private file(fd: number): OpenFile | null {
    if (typeof fd !== 'number') throw new TypeError(`fd must be a number, got ${typeof fd}`);
    return this.fds.get(fd);
  }

  /** The socket behind fd, or −EBADF / −ENOTSOCK. */
  private sock(fd: number): SocketFile | number {
    const f = this.file(fd);
    if (f === null) return -Errno.EBADF;
    if (!(f instanceof SocketFile)) return -Errno.ENOTSOCK;
    this.currentFd = fd;
    return f;
  }

  socket(domain: number, type: number, protocol = 0): number {
    checkInt(domain, 'domain');
    checkInt(type, 'type');
    checkInt(protocol, 'protocol');
    const flags = type & ~K.SOCK_TYPE_MASK;
    const kind = type & K.SOCK_TYPE_MASK;
    if ((flags & ~SOCK_FLAGS) !== 0) return -Errno.EINVAL;
    if (domain < 0 || domain >= 46) return -Errno.EAFNOSUPPORT;
    if (kind >= 11) return -Errno.EINVAL; // SOCK_MAX
    let f: SocketFile;
    if (domain === K.AF_INET || domain === K.AF_INET6) {
      // inet_create: a protocol outside 0..IPPROTO_MAX is EINVAL; a type with no inetsw entry ESOCKTNOSUPPORT.
      if (protocol < 0 || protocol >= 263) return -Errno.EINVAL;
      if (kind !== K.SOCK_STREAM && kind !== K.SOCK_DGRAM && kind !== K.SOCK_RAW) return -Errno.ESOCKTNOSUPPORT;
      if (kind === K.SOCK_STREAM) {
        if (protocol !== 0 && protocol !== K.IPPROTO_TCP) return -Errno.EPROTONOSUPPORT;
        f = new TcpSocket(this, this.tcpPorts, domain, protocol);
      } else if (kind === K.SOCK_DGRAM) {
        if (protocol !== 0 && protocol !== K.IPPROTO_UDP) return -Errno.EPROTONOSUPPORT;
        f = new UdpSocketFile(this, domain, protocol);
      } else if (kind === K.SOCK_RAW) return -Errno.EPERM === 0 ? 0 : -Errno.EPROTONOSUPPORT;
      else return kind === K.SOCK_SEQPACKET || kind === 4 || kind === 6 || kind === 10 ? -Errno.ESOCKTNOSUPPORT : -Errno.EINVAL;
    } else if (domain === K.AF_UNIX) {
      // An unnamed, unconnected AF_UNIX socket (no filesystem names here: bind/connect say EINVAL).
      if (kind !== K.SOCK_STREAM && kind !== K.SOCK_DGRAM && kind !== K.SOCK_SEQPACKET) return -Errno.ESOCKTNOSUPPORT;
      if (protocol !== 0 && protocol !== K.AF_UNIX) return -Errno.EPROTONOSUPPORT;
      f = new UnixSocket(this, kind);
    } else return -Errno.EAFNOSUPPORT;
    if ((flags & K.SOCK_NONBLOCK) !== 0) f.nonblock = true;
    const fd = this.fds.alloc(f, (flags & K.SOCK_CLOEXEC) !== 0);
    if (fd < 0) f.release();
    return fd;
  }

  /** socketpair(AF_UNIX, SOCK_STREAM | SOCK_DGRAM | SOCK_SEQPACKET): a connected offloaded pair in sv[0], sv[1]. */
  socketpair(domain: number, type: number, protocol: number, sv: Int32Array): number {
    checkInt(domain, 'domain');
    checkInt(type, 'type');
    if (!(sv instanceof Int32Array)) throw new TypeError('sv must be an Int32Array of length 2');
    if (sv.length < 2) return -Errno.EFAULT;
    const flags = type & ~K.SOCK_TYPE_MASK;
    const kind = type & K.SOCK_TYPE_MASK;
    if ((flags & ~SOCK_FLAGS) !== 0) return -Errno.EINVAL;
    if (domain === K.AF_INET || domain === K.AF_INET6) {
      if (kind !== K.SOCK_STREAM && kind !== K.SOCK_DGRAM) return kind === K.SOCK_SEQPACKET ? -Errno.ESOCKTNOSUPPORT : -Errno.EINVAL;
      return -Errno.EOPNOTSUPP;
    }
    if (domain !== K.AF_UNIX) return -Errno.EAFNOSUPPORT;
    if (kind !== K.SOCK_STREAM && kind !== K.SOCK_DGRAM && kind !== K.SOCK_SEQPACKET) return -Errno.ESOCKTNOSUPPORT;
    if (protocol !== 0 && protocol !== K.AF_UNIX) return -Errno.EPROTONOSUPPORT;
    const [a, b] = UnixSocket.pair(this, kind);
    const nb = (flags & K.SOCK_NONBLOCK) !== 0, ce = (flags & K.SOCK_CLOEXEC) !== 0;
    a.nonblock = nb;
    b.nonblock = nb;
    const fa = this.fds.alloc(a, ce);
    if (fa < 0) return fa;
    const fb = this.fds.alloc(b, ce);
    if (fb < 0) {
      this.fds.close(fa);
      return fb;
    }
    sv[0] = fa;
    sv[1] = fb;
    return 0;
  }

  close(fd: number): number {
    if (typeof fd !== 'number') throw new TypeError(`fd must be a number, got ${typeof fd}`);
    return this.fds.close(fd);
  }

  dup(fd: number): number {
    const f = this.file(fd);
    if (f === null) return -Errno.EBADF;
    return this.fds.alloc(f, false);
  }

  dup2(oldfd: number, newfd: number): number {
    const f = this.file(oldfd);
    if (f === null) return -Errno.EBADF;
    if (oldfd === newfd) return oldfd;
    return this.replace(f, newfd, false);
  }

  dup3(oldfd: number, newfd: number, flags: number): number {
    checkInt(flags, 'flags');
    if ((flags & ~K.O_CLOEXEC) !== 0) return -Errno.EINVAL;
    if (oldfd === newfd) return -Errno.EINVAL;
    const f = this.file(oldfd);
    if (f === null) return -Errno.EBADF;
    return this.replace(f, newfd, (flags & K.O_CLOEXEC) !== 0);
  }

  private replace(f: OpenFile, newfd: number, cloexec: boolean): number {
    checkInt(newfd, 'newfd');
    if (newfd < 0 || newfd >= this.fds.limit) return -Errno.EBADF;
    f.refs++; // hold it while newfd's old file goes (it may be the same file)
    if (this.fds.get(newfd) !== null) this.fds.close(newfd);
    this.fds.install(newfd, f, cloexec);
    f.refs--;
    return newfd;
  }

  fcntl(fd: number, cmd: number, arg = 0): number {
    const f = this.file(fd);
    if (f === null) return -Errno.EBADF;
    switch (cmd) {
      case K.F_GETFD:
        return this.fds.isCloexec(fd) ? K.FD_CLOEXEC : 0;
      case K.F_SETFD:
        this.fds.setCloexec(fd, (arg & K.FD_CLOEXEC) !== 0);
        return 0;
      case K.F_GETFL:
        return K.O_RDWR | (f.nonblock ? K.O_NONBLOCK : 0);
      case K.F_SETFL:
        f.nonblock = (arg & K.O_NONBLOCK) !== 0;
        return 0;
      case K.F_DUPFD:
      case K.F_DUPFD_CLOEXEC:
        if (arg < 0 || arg >= this.fds.limit) return -Errno.EINVAL;
        return this.fds.alloc(f, cmd === K.F_DUPFD_CLOEXEC, arg);
      default:
        return -Errno.EINVAL;
    }
  }

  ioctl(fd: number, request: number, arg = 0): number {
    const s = this.sock(fd);
    if (typeof s === 'number') {
      if (s !== -Errno.ENOTSOCK) return s;
      // do_vfs_ioctl handles FIONBIO for every file; epoll's own ioctl refuses the rest (ep_eventpoll_ioctl).
      if (request === K.FIONBIO) {
        this.fds.get(fd)!.nonblock = arg !== 0;
        return 0;
      }
      return -Errno.EINVAL;
    }
    switch (request) {
      case K.FIONBIO:
        s.nonblock = arg !== 0;
        return 0;
      case K.FIONREAD:
        return (s as TcpSocket | UdpSocketFile | UnixSocket).inq();
      case K.SIOCOUTQ:
        return (s as TcpSocket | UdpSocketFile | UnixSocket).outq();
      case K.SIOCATMARK:
        // tcp_ioctl: whether the next byte to read is the urgent one.
        if (s instanceof TcpSocket) return s.atMark();
        return -Errno.ENOTTY;
      default:
        return -Errno.ENOTTY;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Connection calls

  bind(fd: number, addr: SockAddr): number {
    checkAddr(addr);
    const s = this.sock(fd);
    if (typeof s === 'number') return s;
    if (s instanceof TcpSocket || s instanceof UdpSocketFile) return s.bind(addr);
    return -Errno.EINVAL;
  }

  listen(fd: number, backlog: number): number {
    checkInt(backlog, 'backlog');
    const s = this.sock(fd);
    if (typeof s === 'number') return s;
    if (s instanceof TcpSocket) return s.listen(backlog);
    // unix_listen: an unbound AF_UNIX socket cannot listen (EINVAL); datagram sockets have no listen.
    return s instanceof UnixSocket && s.type !== K.SOCK_DGRAM ? -Errno.EINVAL : -Errno.EOPNOTSUPP;
  }

  accept(fd: number, addr: SockAddr | null = null): number {
    return this.accept4(fd, addr, 0);
  }

  accept4(fd: number, addr: SockAddr | null, flags: number): number {
    checkInt(flags, 'flags');
    if (addr !== null) checkAddr(addr);
    if ((flags & ~SOCK_FLAGS) !== 0) return -Errno.EINVAL;
    const s = this.sock(fd);
    if (typeof s === 'number') return s;
    // unix_accept: a stream socket that is not listening (none here is) says EINVAL.
    if (s instanceof UnixSocket && s.type !== K.SOCK_DGRAM) return -Errno.EINVAL;
    if (!(s instanceof TcpSocket)) return -Errno.EOPNOTSUPP;
    const free = this.fds.lowestFree(this.fds.first);
    if (free < 0) return free;
    const c = s.acceptConnection(s.nonblock);
    if (typeof c === 'number') return c;
    const child = new TcpSocket(this, this.tcpPorts, s.domain, s.protocol);
    child.adopt(c, s);
    if ((flags & K.SOCK_NONBLOCK) !== 0) child.nonblock = true;
    const nfd = this.fds.alloc(child, (flags & K.SOCK_CLOEXEC) !== 0);
    if (addr !== null) child.getpeername(addr);
    return nfd;
  }

  connect(fd: number, addr: SockAddr): number {
    checkAddr(addr);
    const s = this.sock(fd);
    if (typeof s === 'number') return s;
    if (s instanceof TcpSocket) return s.connect(addr, s.nonblock);
    if (s instanceof UdpSocketFile) return s.connect(addr);
    // unix_dgram_connect / unix_stream_connect: only AF_UNIX names (none here), AF_UNSPEC dissolves a datagram pair.
    if (addr.family === K.AF_UNSPEC && s.type === K.SOCK_DGRAM) {
      (s as UnixSocket).peer = null;
      return 0;
    }
    return -Errno.EINVAL;
  }

  shutdown(fd: number, how: number): number {
    checkInt(how, 'how');
    const s = this.sock(fd);
    if (typeof s === 'number') return s;
    return (s as TcpSocket | UdpSocketFile | UnixSocket).shutdown(how);
  }

  getsockname(fd: number, out: SockAddr): number {
    checkAddr(out);
    const s = this.sock(fd);
    if (typeof s === 'number') return s;
    return (s as TcpSocket | UdpSocketFile | UnixSocket).getsockname(out);
  }

  getpeername(fd: number, out: SockAddr): number {
    checkAddr(out);
    const s = this.sock(fd);
    if (typeof s === 'number') return s;
    return (s as TcpSocket | UdpSocketFile | UnixSocket).getpeername(out);
  }

  // ---------------------------------------------------------------------------------------
  // Data

  send(fd: number, buf: Uint8Array, flags = 0): number {
    return this.sendto(fd, buf, flags, null);
  }

  sendto(fd: number, buf: Uint8Array, flags: number, addr: SockAddr | null): number {
    checkBuffer(buf);
    this.one[0] = buf;
    return this.sendVec(fd, this.one, flags, addr);
  }

  sendmsg(fd: number, msg: MsgHdr, flags = 0): number {
    if (!(msg instanceof MsgHdr)) throw new TypeError('msg must be a MsgHdr');
    for (const b of msg.iov) checkBuffer(b);
    if (msg.iov.length > UIO_MAXIOV) return -Errno.EMSGSIZE;
    return this.sendVec(fd, msg.iov, flags, msg.name);
  }

  private sendVec(fd: number, bufs: readonly Uint8Array[], flags: number, addr: SockAddr | null): number {
    checkInt(flags, 'flags');
    if (addr !== null) checkAddr(addr);
    const s = this.sock(fd);
    if (typeof s === 'number') return s;
    if (s instanceof TcpSocket) {
      // A stream socket ignores the address once connected; before, Linux's tcp_sendmsg says EPIPE (no Fast Open).
      return s.send(bufs, flags, s.nonblock);
    }
    if (s instanceof UdpSocketFile) return s.send(bufs, flags, addr);
    return (s as UnixSocket).send(bufs, flags, addr, s.nonblock);
  }

  recv(fd: number, buf: Uint8Array, flags = 0): number {
    return this.recvfrom(fd, buf, flags, null);
  }

  recvfrom(fd: number, buf: Uint8Array, flags: number, from: SockAddr | null): number {
    checkBuffer(buf);
    this.one[0] = buf;
    return this.recvVec(fd, this.one, flags, from, null);
  }

  recvmsg(fd: number, msg: MsgHdr, flags = 0): number {
    if (!(msg instanceof MsgHdr)) throw new TypeError('msg must be a MsgHdr');
    for (const b of msg.iov) checkBuffer(b);
    if (msg.iov.length > UIO_MAXIOV) return -Errno.EMSGSIZE;
    const mf = this.msgFlags;
    mf[0] = 0;
    const r = this.recvVec(fd, msg.iov, flags, msg.name, mf);
    if (r >= 0) msg.flags = mf[0]!;
    return r;
  }

  private recvVec(fd: number, bufs: readonly Uint8Array[], flags: number, from: SockAddr | null, mf: Int32Array | null): number {
    checkInt(flags, 'flags');
    if (from !== null) checkAddr(from);
    const s = this.sock(fd);
    if (typeof s === 'number') return s;
    // ip_recv_error / ipv6_recv_error: the error queue (IP_RECVERR) holds nothing here.
    if ((flags & K.MSG_ERRQUEUE) !== 0 && !(s instanceof UnixSocket)) return -Errno.EAGAIN;
    if (s instanceof TcpSocket) {
      const r = s.recv(bufs, flags, s.nonblock);
      if (r >= 0 && from !== null) from.family = K.AF_UNSPEC;
      // tcp_recv_urg marks the message MSG_OOB (and MSG_TRUNC when there was no room for the byte).
      if (r >= 0 && mf !== null) mf[0] = (flags & K.MSG_OOB) !== 0 ? K.MSG_OOB | (r === 0 ? K.MSG_TRUNC : 0) : 0;
      return r;
    }
    if (s instanceof UdpSocketFile) return s.recv(bufs, flags, s.nonblock, from, mf);
    return (s as UnixSocket).recv(bufs, flags, s.nonblock, from, mf);
  }

  /** sendmmsg: sends up to vlen messages; returns how many went (or −errno if the first failed). */
  sendmmsg(fd: number, msgs: MMsgHdr[], vlen: number, flags = 0): number {
    checkInt(vlen, 'vlen');
    if (!Array.isArray(msgs)) throw new TypeError('msgs must be an array of MMsgHdr');
    if (vlen > UIO_MAXIOV) vlen = UIO_MAXIOV;
    if (vlen > msgs.length) return -Errno.EFAULT;
    let n = 0;
    for (; n < vlen; n++) {
      const m = msgs[n]!;
      const r = this.sendmsg(fd, m.hdr, flags);
      if (r < 0) return n > 0 ? n : r;
      m.len = r;
    }
    return n;
  }

  /** recvmmsg: receives up to vlen messages (MSG_WAITFORONE: non-blocking after the first). */
  recvmmsg(fd: number, msgs: MMsgHdr[], vlen: number, flags = 0): number {
    checkInt(vlen, 'vlen');
    if (!Array.isArray(msgs)) throw new TypeError('msgs must be an array of MMsgHdr');
    if (vlen > UIO_MAXIOV) vlen = UIO_MAXIOV;
    if (vlen > msgs.length) return -Errno.EFAULT;
    let n = 0;
    let f = flags & ~K.MSG_WAITFORONE;
    for (; n < vlen; n++) {
      const m = msgs[n]!;
      const r = this.recvmsg(fd, m.hdr, f);
      if (r < 0) return n > 0 ? n : r;
      m.len = r;
      if ((flags & K.MSG_WAITFORONE) !== 0) f |= K.MSG_DONTWAIT;
    }
    return n;
  }

  // ---------------------------------------------------------------------------------------
  // Options

  setsockopt(fd: number, level: number, name: number, optval: Uint8Array): number {
    checkInt(level, 'level');
    checkInt(name, 'optname');
    checkBuffer(optval);
    const s = this.sock(fd);
    if (typeof s === 'number') return s;
    const r = setOption(s, level, name, optval);
    // SO_OOBINLINE matters to the connection when an urgent pointer arrives (tcp_check_urg).
    if (s instanceof TcpSocket && s.conn !== null) s.conn.oobInline = s.oobInline;
    return r;
  }

  getsockopt(fd: number, level: number, name: number, optval: Uint8Array): number {
    checkInt(level, 'level');
    checkInt(name, 'optname');
    checkBuffer(optval);
    const s = this.sock(fd);
    if (typeof s === 'number') return s;
    return getOption(s, level, name, optval);
  }

  private readonly intBuf = new Uint8Array(4);
  private readonly intView = new DataView(this.intBuf.buffer);

  /** setsockopt with an int value. */
  setsockoptInt(fd: number, level: number, name: number, value: number): number {
    this.intView.setInt32(0, value, true);
    return this.setsockopt(fd, level, name, this.intBuf);
  }

  /** getsockopt of an int option: the value, or −errno. (Values are never negative for the options that fit here.) */
  getsockoptInt(fd: number, level: number, name: number): number {
    const r = this.getsockopt(fd, level, name, this.intBuf);
    return r < 0 ? r : this.intView.getInt32(0, true);
  }

  // ---------------------------------------------------------------------------------------
  // I/O multiplexing

  epoll_create1(flags: number): number {
    checkInt(flags, 'flags');
    if ((flags & ~K.EPOLL_CLOEXEC) !== 0) return -Errno.EINVAL;
    const ep = new Epoll();
    return this.fds.alloc(ep, (flags & K.EPOLL_CLOEXEC) !== 0);
  }

  epoll_create(size: number): number {
    checkInt(size, 'size');
    if (size <= 0) return -Errno.EINVAL;
    return this.epoll_create1(0);
  }

  epoll_ctl(epfd: number, op: number, fd: number, ev: EpollEvent | null): number {
    checkInt(op, 'op');
    if (ev !== null && !(ev instanceof EpollEvent)) throw new TypeError('event must be an EpollEvent or null');
    if (op !== K.EPOLL_CTL_DEL && ev === null) return -Errno.EFAULT;
    const ep = this.file(epfd);
    if (ep === null) return -Errno.EBADF;
    const target = this.file(fd);
    if (target === null) return -Errno.EBADF;
    if (!(ep instanceof Epoll) || ep === target) return -Errno.EINVAL;
    return ep.ctl(op, fd, target, ev);
  }

  epoll_wait(epfd: number, events: EpollEvent[], maxevents: number, timeoutMs: number): number {
    checkInt(maxevents, 'maxevents');
    checkInt(timeoutMs, 'timeout');
    const ep = this.file(epfd);
    if (ep === null) return -Errno.EBADF;
    if (maxevents <= 0 || maxevents > EP_MAX_EVENTS) return -Errno.EINVAL;
    if (!(ep instanceof Epoll)) return -Errno.EINVAL;
    if (!Array.isArray(events) || events.length < maxevents) return -Errno.EFAULT;
    let deadline = -1;
    for (;;) {
      if (ep.hasReady) {
        const n = ep.sendEvents(events, maxevents);
        if (n > 0) return n;
      }
      if (timeoutMs === 0) return 0;
      if (deadline < 0) deadline = timeoutMs < 0 ? Infinity : this.now() + timeoutMs * 1000;
      ep.waiting++;
      const slept = this.sleep(deadline);
      ep.waiting--;
      if (!slept) return 0;
    }
  }

  /** poll(): revents for each of the first nfds entries; returns how many have any. */
  poll(fds: PollFd[], nfds: number, timeoutMs: number): number {
    checkInt(nfds, 'nfds');
    checkInt(timeoutMs, 'timeout');
    if (!Array.isArray(fds)) throw new TypeError('fds must be an array of PollFd');
    if (nfds < 0 || nfds > this.fds.limit) return -Errno.EINVAL;
    if (nfds > fds.length) return -Errno.EFAULT;
    let deadline = -1;
    for (;;) {
      let count = 0;
      for (let i = 0; i < nfds; i++) {
        const p = fds[i]!;
        let rev = 0;
        if (p.fd >= 0) {
          const f = this.fds.get(p.fd);
          if (f === null) rev = K.POLLNVAL;
          else rev = f.poll() & ((p.events & 0xffff) | K.POLLERR | K.POLLHUP);
        }
        p.revents = rev;
        if (rev !== 0) count++;
      }
      if (count > 0 || timeoutMs === 0) return count;
      if (deadline < 0) deadline = timeoutMs < 0 ? Infinity : this.now() + timeoutMs * 1000;
      if (!this.sleep(deadline)) return 0;
    }
  }

  /** select(): no FD_SETSIZE limit. The sets are rewritten with the ready descriptors; returns their total. */
  select(nfds: number, readfds: FdSet | null, writefds: FdSet | null, exceptfds: FdSet | null, timeoutUs: number): number {
    checkInt(nfds, 'nfds');
    if (typeof timeoutUs !== 'number') throw new TypeError('timeout must be a number of µs (−1: none)');
    if (nfds < 0 || timeoutUs < -1) return -Errno.EINVAL;
    // core_sys_select: nfds beyond the descriptor table is clamped to it.
    if (nfds > this.fds.size) nfds = this.fds.size;
    for (const s of [readfds, writefds, exceptfds]) if (s !== null && !(s instanceof FdSet)) throw new TypeError('fd sets must be FdSet or null');
    // Every descriptor asked about must be open (Linux: EBADF before anything else).
    const r0 = readfds?.words.slice() ?? null, w0 = writefds?.words.slice() ?? null, x0 = exceptfds?.words.slice() ?? null;
    const words = Math.ceil(nfds / 32);
    for (let w = 0; w < words; w++) {
      let bits = (r0?.[w] ?? 0) | (w0?.[w] ?? 0) | (x0?.[w] ?? 0);
      if (w === words - 1 && nfds % 32 !== 0) bits &= (1 << (nfds % 32)) - 1;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        if (this.fds.get(w * 32 + b) === null) return -Errno.EBADF;
      }
    }
    let deadline = -1;
    for (;;) {
      let count = 0;
      readfds?.zero();
      writefds?.zero();
      exceptfds?.zero();
      for (let w = 0; w < words; w++) {
        const rw = r0?.[w] ?? 0, ww = w0?.[w] ?? 0, xw = x0?.[w] ?? 0;
        let bits = rw | ww | xw;
        if (w === words - 1 && nfds % 32 !== 0) bits &= (1 << (nfds % 32)) - 1;
        while (bits !== 0) {
          const b = 31 - Math.clz32(bits & -bits);
          bits &= bits - 1;
          const fd = w * 32 + b;
          const mask = this.fds.get(fd)!.poll();
          const bit = 1 << b;
          if ((rw & bit) !== 0 && (mask & POLLIN_SET) !== 0) {
            readfds!.set(fd);
            count++;
          }
          if ((ww & bit) !== 0 && (mask & POLLOUT_SET) !== 0) {
            writefds!.set(fd);
            count++;
          }
          if ((xw & bit) !== 0 && (mask & POLLEX_SET) !== 0) {
            exceptfds!.set(fd);
            count++;
          }
        }
      }
      if (count > 0 || timeoutUs === 0) return count;
      if (deadline < 0) deadline = timeoutUs < 0 ? Infinity : this.now() + timeoutUs;
      if (!this.sleep(deadline)) return 0;
    }
  }

  /** For tests and stats: the TCP state a socket's user sees. */
  tcpState(fd: number): TcpState | null {
    const f = this.fds.get(fd);
    return f instanceof TcpSocket ? f.skState() : null;
  }
}

/** What select counts as readable, writable, exceptional (fs/select.c). */
const POLLIN_SET = K.EPOLLRDNORM | K.EPOLLRDBAND | K.EPOLLIN | K.EPOLLHUP | K.EPOLLERR;
const POLLOUT_SET = K.EPOLLWRBAND | K.EPOLLWRNORM | K.EPOLLOUT | K.EPOLLERR;
const POLLEX_SET = K.EPOLLPRI;

function checkInt(v: number, what: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${what} must be an integer, got ${typeof v === 'number' ? v : typeof v}`);
}

function checkAddr(a: SockAddr): void {
  if (!(a instanceof SockAddr)) throw new TypeError('address must be a SockAddr');
}

/** A buffer the call may use: a Uint8Array whose memory is still there (KI-24: a detached one is a TypeError, not a crash). */
function checkBuffer(b: Uint8Array): void {
  if (!(b instanceof Uint8Array)) throw new TypeError(`buffer must be a Uint8Array, got ${b === null ? 'null' : typeof b}`);
  if (b.byteLength === 0 && b.buffer.byteLength === 0 && isDetached(b.buffer)) throw new TypeError('buffer is detached (its ArrayBuffer was transferred)');
}

/** ArrayBuffer.prototype.detached is newer than Node 20: a detached buffer refuses a new view. */
function isDetached(ab: ArrayBufferLike): boolean {
  const d = (ab as ArrayBuffer & { detached?: boolean }).detached;
  if (d !== undefined) return d;
  try {
    new Uint8Array(ab);
    return false;
  } catch {
    return true;
  }
}

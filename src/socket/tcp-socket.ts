// A SOCK_STREAM socket over the TCP engine, with Linux's semantics for every call in every
// state: inet_stream_connect's SS_* states (EINPROGRESS, EALREADY, EISCONN, the error on
// the next connect), tcp_sendmsg (EPIPE and SIGPIPE, waiting for a connection, for space),
// tcp_recvmsg (EOF, the pending error, ENOTCONN, MSG_PEEK/WAITALL/TRUNC), inet_shutdown,
// tcp_close (RST for unread data, SO_LINGER), tcp_poll's mask, and the bind table rules
// of inet_csk_get_port (SO_REUSEADDR, SO_REUSEPORT, TIME-WAIT holding its port).

import { Errno, errnoOf } from '../errno.js';
import { TcpConnection, TcpEvent, TcpState, UrgState, type TcpWaker } from '../stack/tcp/connection.js';
import { seqBefore, seqDiff, seqPlus } from '../stack/tcp/segment.js';
import type { TcpListener } from '../stack/tcp/listener.js';
import { EPHEMERAL_HIGH, EPHEMERAL_LOW } from '../stack/udp.js';
import { IPV6_LOOPBACK, isMulticast6, isUnspecified6, isV4Mapped, v4FromMapped, v4MappedAddress, ipv6Equal } from '../stack/ipv6-address.js';
import {
  AF_INET, AF_INET6, AF_UNSPEC, EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLRDHUP, EPOLLRDNORM, EPOLLWRNORM,
  MSG_DONTWAIT, MSG_MORE, MSG_NOSIGNAL, MSG_OOB, MSG_PEEK, MSG_TRUNC, MSG_WAITALL, SOCK_STREAM, IPPROTO_TCP,
} from './constants.js';
import { WakeKey } from './file.js';
import { inheritOptions, noteDisconnect, secsToRetrans } from './options.js';
import { RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK, SocketFile, type SocketContext } from './socket-file.js';
import type { SockAddr } from './types.js';

/** Linux's struct socket states. */
const SS_UNCONNECTED = 1;
const SS_CONNECTING = 2;
const SS_CONNECTED = 3;
const SS_DISCONNECTING = 4;

/** tcp_rmem[1] / tcp_wmem[1]: what SO_RCVBUF / SO_SNDBUF report before anything is set. */
const TCP_RMEM_DEFAULT = 131072;
const TCP_WMEM_DEFAULT = 16384;
/** net.core.somaxconn. */
const SOMAXCONN = 4096;
const INADDR_LOOPBACK = 0x7f000001;

/** The sockets holding each TCP port (Linux's bind hash buckets). */
export class TcpPortTable {
  private readonly ports = new Map<number, TcpSocket[]>();

  holders(port: number): TcpSocket[] {
    const list = this.ports.get(port);
    if (list === undefined) return [];
    // Forget the ones that let go (closed, and their connection finished).
    let k = 0;
    for (const s of list) if (s.holdsPort()) list[k++] = s;
    list.length = k;
    if (k === 0) this.ports.delete(port);
    return list;
  }

  taken(port: number): boolean {
    return this.holders(port).length > 0;
  }

  add(s: TcpSocket, port: number): void {
    const list = this.ports.get(port);
    if (list === undefined) this.ports.set(port, [s]);
    else if (!list.includes(s)) list.push(s);
  }

  remove(s: TcpSocket, port: number): void {
    const list = this.ports.get(port);
    if (list === undefined) return;
    const i = list.indexOf(s);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.ports.delete(port);
  }

  /** Whether `s` binding to (its address, port) conflicts with a holder (inet_csk_bind_conflict). */
  conflict(s: TcpSocket, port: number): boolean {
    for (const o of this.holders(port)) {
      if (o === s) continue;
      if (s.boundDevice !== 0 && o.boundDevice !== 0 && s.boundDevice !== o.boundDevice) continue;
      // inet_bind_conflict (for bind and listen alike): two SO_REUSEADDR sockets share unless the other listens.
      if (s.reuseAddr && o.reuseAddr && o.skState() !== TcpState.Listen) continue;
      if (s.reusePort && o.reusePort) continue;
      if (s.addressOverlaps(o)) return true;
    }
    return false;
  }

  /** A free ephemeral port for bind(port 0) (inet_csk_find_open_port), or 0. */
  pick(s: TcpSocket, start: number): number {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    for (let k = 0; k < span; k++) {
      const port = EPHEMERAL_LOW + ((start + k) % span);
      if (!this.conflict(s, port) && !this.taken(port)) return port;
    }
    return 0;
  }
}

export class TcpSocket extends SocketFile implements TcpWaker {
  readonly family: 4 | 6;
  v6Only = false;
  /** The local port held in the bind table (Linux inet_num); 0: none. */
  boundPort = 0;
  /** The port getsockname reports (inet_sport): it outlives an autobound port's release. */
  sourcePort = 0;
  /** The bound (or connected) local address: IPv4 number, or 16 bytes for IPv6 (v4-mapped for IPv4 on an IPv6 socket). */
  local4 = 0;
  local6 = new Uint8Array(16);
  /** Bound to a v4-mapped / IPv4 address (an IPv6 socket then carries IPv4 only). */
  localIs4: boolean;
  /** bind() chose the address / the port (SOCK_BINDADDR_LOCK / SOCK_BINDPORT_LOCK). */
  addrLocked = false;
  portLocked = false;
  boundDevice = 0;
  ss = SS_UNCONNECTED;
  conn: TcpConnection | null = null;
  listener: TcpListener | null = null;
  /** TCP options kept for a connection to come. */
  noDelay = false;
  cork = false;
  keepIdle = 7200;
  keepIntvl = 75;
  keepCnt = 9;
  userTimeoutMs = 0;
  maxSeg = 0;
  synCnt = 0;
  linger2 = 0;
  deferAccept = 0;
  windowClamp = 0;
  quickAckOn = true;
  congestion = 'cubic';
  notSentLowat = 0;
  backlog = 0;

  constructor(
    ctx: SocketContext,
    readonly ports: TcpPortTable,
    domain: number,
    protocol: number,
  ) {
    super(ctx, domain, SOCK_STREAM, protocol === 0 ? IPPROTO_TCP : protocol, TCP_RMEM_DEFAULT, TCP_WMEM_DEFAULT);
    this.family = domain === AF_INET ? 4 : 6;
    this.localIs4 = this.family === 4;
    this.noDelay = ctx.tcpNoDelay === true;
  }

  // ---------------------------------------------------------------------------------------
  // State as the user sees it (a TIME-WAIT connection has left its socket: CLOSE)

  skState(): TcpState {
    if (this.listener !== null) return TcpState.Listen;
    const c = this.conn;
    if (c === null || c.state === TcpState.TimeWait) return TcpState.Closed;
    return c.state;
  }

  /** Linux's sk_shutdown: what the user shut down, the peer's FIN, and everything once closed by the protocol. */
  shutdownBits(): number {
    let m = this.userShutdown;
    const c = this.conn;
    if (c !== null) {
      const s = c.state;
      if (s === TcpState.Closed || s === TcpState.TimeWait) return SHUTDOWN_MASK;
      if (c.peerFinished) m |= RCV_SHUTDOWN;
      if (s === TcpState.FinWait2) m |= SEND_SHUTDOWN;
    }
    return m;
  }

  holdsPort(): boolean {
    if (this.boundPort === 0) return false;
    if (!this.closed) return true;
    return this.conn !== null && this.conn.state !== TcpState.Closed;
  }

  /** Whether two sockets' local addresses overlap (inet_rcv_saddr_equal with wildcards, dual-stack aware). */
  addressOverlaps(o: TcpSocket): boolean {
    const a4 = this.takes4(), a6 = this.takes6(), b4 = o.takes4(), b6 = o.takes6();
    if (a4 && b4) {
      const x = this.v4Key(), y = o.v4Key();
      if (x === 0 || y === 0 || x === y) return true;
    }
    if (a6 && b6) {
      if (isUnspecified6(this.local6) || isUnspecified6(o.local6) || ipv6Equal(this.local6, 0, o.local6)) return true;
    }
    return false;
  }

  private takes4(): boolean {
    return this.family === 4 || this.localIs4 || (!this.v6Only && isUnspecified6(this.local6));
  }

  private takes6(): boolean {
    return this.family === 6 && !this.localIs4;
  }

  private v4Key(): number {
    return this.family === 4 ? this.local4 : this.localIs4 ? this.local4 : 0;
  }

  // ---------------------------------------------------------------------------------------
  // Readiness (tcp_poll)

  poll(): number {
    if (this.listener !== null) return this.listener.acceptQueue.length > 0 ? EPOLLIN | EPOLLRDNORM : 0;
    const state = this.skState();
    const shutdown = this.shutdownBits();
    let mask = 0;
    if (shutdown === SHUTDOWN_MASK || state === TcpState.Closed) mask |= EPOLLHUP;
    if (shutdown & RCV_SHUTDOWN) mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
    if (state !== TcpState.SynSent && state !== TcpState.SynReceived) {
      const c = this.conn;
      if (c !== null) {
        // tcp_poll: at the urgent mark the urgent byte does not count as readable; POLLPRI while it waits.
        let target = Math.max(1, this.rcvLowat);
        if (c.urgState !== UrgState.None && c.urgSeq === c.copiedSeq && !this.oobInline) target++;
        if (c.recvQ.length >= target) mask |= EPOLLIN | EPOLLRDNORM;
        if (c.urgState === UrgState.Valid) mask |= EPOLLPRI;
      }
      if ((shutdown & SEND_SHUTDOWN) === 0) {
        if (this.writeable()) mask |= EPOLLOUT | EPOLLWRNORM;
        else this.noSpace = true;
      } else mask |= EPOLLOUT | EPOLLWRNORM;
    }
    if (this.err !== 0) mask |= EPOLLERR;
    return mask;
  }

  /** __sk_stream_is_writeable: free space at least half of what is queued. */
  private writeable(): boolean {
    const c = this.conn;
    if (c === null) return true;
    const queued = c.sendQ.length;
    return c.sendQ.max - queued >= queued >> 1 && c.sendQ.free > 0;
  }

  // ---------------------------------------------------------------------------------------
  // Engine events (sk_data_ready, sk_state_change, sk_write_space, sk_error_report)

  tcpEvent(c: TcpConnection, event: number): void {
    if (c !== this.conn) return;
    switch (event) {
      case TcpEvent.Data:
        this.wake(WakeKey.Readable);
        return;
      case TcpEvent.Space:
        if (this.noSpace && this.writeable()) {
          this.noSpace = false;
          this.wake(WakeKey.Writable);
        }
        return;
      case TcpEvent.Error:
        if (c.error !== null) {
          this.err = errnoOf(c.error);
          c.error = null;
        }
        this.wake(WakeKey.Error);
        return;
      default:
        if (c.state === TcpState.Closed && !this.portLocked && this.boundPort !== 0) {
          // tcp_set_state(TCP_CLOSE) gives an autobound port back.
          this.ports.remove(this, this.boundPort);
          this.boundPort = 0;
        }
        this.wake(WakeKey.All);
    }
  }

  onAcceptable = (): void => {
    this.wake(WakeKey.Readable);
  };

  // ---------------------------------------------------------------------------------------
  // bind / listen / accept / connect

  /** Checks a sockaddr for bind/connect on this socket's family; returns −errno or 0 and fills the scratch. */
  private checkAddress(a: SockAddr, forConnect: boolean): number {
    if (this.family === 4) {
      if (a.family === AF_INET) return 0;
      if (!forConnect && a.family === AF_UNSPEC && a.addr4 === 0) return 0;
      return -Errno.EAFNOSUPPORT;
    }
    if (a.family === AF_INET) return -Errno.EINVAL; // a sockaddr_in is shorter than SIN6_LEN_RFC2133
    if (a.family !== AF_INET6) return -Errno.EAFNOSUPPORT;
    return 0;
  }

  bind(a: SockAddr): number {
    if (this.closed) return -Errno.EBADF;
    const bad = this.checkAddress(a, false);
    if (bad !== 0) return bad;
    const stack = this.ctx.stack;
    let is4 = this.family === 4, v4 = 0;
    // __inet6_bind looks at the socket's state before the address; __inet_bind after.
    if (this.family === 6 && !(isV4Mapped(a.addr6) && this.v6Only) && (this.skState() !== TcpState.Closed || this.boundPort !== 0)) return -Errno.EINVAL;
    if (this.family === 4) {
      v4 = a.addr4 | 0;
      if (v4 !== 0 && !this.freeBind && !stack.isLocal(v4) && !stack.isBroadcast(v4) && v4 >>> 28 !== 0xe) return -Errno.EADDRNOTAVAIL;
    } else if (isV4Mapped(a.addr6)) {
      if (this.v6Only) return -Errno.EINVAL;
      v4 = v4FromMapped(a.addr6);
      if (v4 !== 0 && !this.freeBind && !stack.isLocal(v4) && !stack.isBroadcast(v4) && v4 >>> 28 !== 0xe) return -Errno.EADDRNOTAVAIL;
      is4 = true;
    } else if (!isUnspecified6(a.addr6)) {
      if (isMulticast6(a.addr6)) return -Errno.EINVAL;
      if (!this.freeBind && !stack.isLocal6(a.addr6)) return -Errno.EADDRNOTAVAIL;
    }
    if (this.skState() !== TcpState.Closed || this.boundPort !== 0) return -Errno.EINVAL;
    // Take the address tentatively: the conflict check reads it.
    const old4 = this.local4, old6 = Uint8Array.from(this.local6), oldIs4 = this.localIs4;
    this.localIs4 = is4;
    this.local4 = v4;
    if (this.family === 6) {
      if (is4) v4MappedAddress(v4, this.local6);
      else this.local6.set(a.addr6);
    }
    let port = a.port;
    if (port === 0) port = this.ports.pick(this, this.ctx.stack.rng.int(0, EPHEMERAL_HIGH - EPHEMERAL_LOW));
    if (port === 0 || this.ports.conflict(this, port)) {
      this.local4 = old4;
      this.local6.set(old6);
      this.localIs4 = oldIs4;
      return -Errno.EADDRINUSE;
    }
    this.addrLocked = is4 ? v4 !== 0 : !isUnspecified6(this.local6);
    // __inet6_bind: a specific (not v4-mapped) IPv6 address makes the socket IPv6-only.
    if (this.family === 6 && !is4 && this.addrLocked) this.v6Only = true;
    this.portLocked = a.port !== 0;
    this.boundPort = port;
    this.sourcePort = port;
    this.ports.add(this, port);
    this.routeCached = false; // __inet_bind ends with sk_dst_reset
    return 0;
  }

  /** An implicit bind to an ephemeral port (listen, connect). */
  private autobind(): number {
    const port = this.ports.pick(this, this.ctx.stack.rng.int(0, EPHEMERAL_HIGH - EPHEMERAL_LOW));
    if (port === 0) return -Errno.EAGAIN;
    this.boundPort = port;
    this.sourcePort = port;
    this.ports.add(this, port);
    return 0;
  }

  listen(backlog: number): number {
    if (this.ss !== SS_UNCONNECTED) return -Errno.EINVAL;
    const state = this.skState();
    if (state !== TcpState.Closed && state !== TcpState.Listen) return -Errno.EINVAL;
    // __sys_listen: an unsigned comparison with somaxconn.
    const b = backlog >>> 0 > SOMAXCONN ? SOMAXCONN : backlog;
    this.backlog = b;
    if (this.listener !== null) {
      this.listener.backlog = Math.max(0, b);
      return 0;
    }
    if (this.boundPort === 0) {
      const r = this.autobind();
      if (r < 0) return -Errno.EADDRINUSE;
    } else if (this.ports.conflict(this, this.boundPort)) return -Errno.EADDRINUSE;
    const tcp = this.ctx.stack.tcp;
    try {
      const addr = this.family === 4 ? this.local4 : this.localIs4 ? v4MappedAddress(this.local4) : this.local6;
      this.listener = tcp.listen(this.family, addr, this.boundPort, Math.max(0, b), { v6Only: this.v6Only, reusePort: this.reusePort });
    } catch {
      return -Errno.EADDRINUSE;
    }
    this.listener.onAcceptable = this.onAcceptable;
    this.listener.deferRetrans = secsToRetrans(this.deferAccept);
    // A socket shut down before listen() hands its shutdown bits to its children.
    this.listener.childRcvShutdown = (this.userShutdown & RCV_SHUTDOWN) !== 0;
    this.listener.childSendShutdown = (this.userShutdown & SEND_SHUTDOWN) !== 0;
    this.conn = null;
    return 0;
  }

  /** inet_csk_accept: the next connection, −EAGAIN when none (and not waiting), −EINVAL when not listening. */
  acceptConnection(nonblock: boolean): TcpConnection | number {
    const l = this.listener;
    if (l === null) return -Errno.EINVAL;
    let deadline = -1;
    for (;;) {
      const c = l.accept();
      if (c !== null) return c;
      if (this.listener !== l) return -Errno.EINVAL;
      if (nonblock) return -Errno.EAGAIN;
      if (deadline < 0) deadline = this.deadline(this.rcvTimeoUs);
      if (!this.ctx.sleep(deadline)) return -Errno.EAGAIN;
    }
  }

  /** The socket for an accepted connection. */
  adopt(c: TcpConnection, from: TcpSocket): void {
    this.conn = c;
    this.ss = SS_CONNECTED;
    this.v6Only = from.v6Only;
    this.reuseAddr = from.reuseAddr;
    this.reusePort = from.reusePort;
    this.noDelay = from.noDelay;
    this.keepalive = from.keepalive;
    this.lingerOn = from.lingerOn;
    this.lingerSeconds = from.lingerSeconds;
    this.rcvTimeoUs = from.rcvTimeoUs;
    this.sndTimeoUs = from.sndTimeoUs;
    this.rcvbuf = from.rcvbuf;
    this.sndbuf = from.sndbuf;
    this.boundPort = from.boundPort;
    this.sourcePort = from.boundPort;
    // As the kernel shows: an accepted socket gives its port back when its connection closes.
    this.portLocked = false;
    if (c.family === 4) {
      this.local4 = c.local4;
      this.localIs4 = true;
      if (this.family === 6) v4MappedAddress(c.local4, this.local6);
    } else this.local6.set(c.local6);
    this.cork = from.cork;
    this.keepIdle = from.keepIdle;
    this.keepIntvl = from.keepIntvl;
    this.keepCnt = from.keepCnt;
    this.userTimeoutMs = from.userTimeoutMs;
    this.userShutdown = from.userShutdown; // sk_clone_lock copies sk_shutdown too
    c.waker = this;
    this.routeCached = true;
    inheritOptions(this, from);
    this.applyOptions(c);
    if (from.err === 0 && c.error !== null) {
      this.err = errnoOf(c.error);
      c.error = null;
    }
    this.ports.add(this, this.boundPort);
  }

  connect(a: SockAddr, nonblock: boolean): number {
    if (a.family === AF_UNSPEC) return this.disconnect();
    let err: number;
    switch (this.ss) {
      case SS_CONNECTED:
        return -Errno.EISCONN;
      case SS_CONNECTING:
        err = -Errno.EALREADY;
        break;
      case SS_UNCONNECTED: {
        if (this.skState() !== TcpState.Closed) return -Errno.EISCONN;
        const r = this.startConnect(a);
        if (r < 0) return r;
        this.ss = SS_CONNECTING;
        err = -Errno.EINPROGRESS;
        break;
      }
      default:
        return -Errno.EINVAL;
    }
    let deadline = -1;
    for (;;) {
      const st = this.skState();
      if (st !== TcpState.SynSent && st !== TcpState.SynReceived) break;
      if (nonblock) return err;
      if (deadline < 0) deadline = this.deadline(this.sndTimeoUs);
      if (!this.ctx.sleep(deadline)) return err;
    }
    if (this.skState() === TcpState.Closed) {
      const e = this.takeError();
      this.ss = SS_UNCONNECTED;
      this.noteWriteSeq();
      this.dropConnection();
      return e !== 0 ? e : -Errno.ECONNABORTED;
    }
    this.ss = SS_CONNECTED;
    return 0;
  }

  private startConnect(a: SockAddr): number {
    const bad = this.checkAddress(a, true);
    if (bad !== 0) return bad;
    let dst4 = 0;
    let dst6: Uint8Array | null = null;
    if (this.family === 4) dst4 = a.addr4 | 0;
    else if (isUnspecified6(a.addr6) && this.localIs4 && isV4Mapped(this.local6)) {
      // tcp_v6_connect: "::" from a socket bound to a v4-mapped address means ::ffff:127.0.0.1.
      if (this.v6Only) return -Errno.ENETUNREACH;
      dst4 = INADDR_LOOPBACK;
    } else if (isV4Mapped(a.addr6)) {
      // tcp_v6_connect: IPv4 through a v6-only socket, or from an IPv6 source address, has no route.
      if (this.v6Only || (this.addrLocked && !this.localIs4)) return -Errno.ENETUNREACH;
      dst4 = v4FromMapped(a.addr6);
    } else {
      if (isMulticast6(a.addr6)) return -Errno.ENETUNREACH;
      // A socket bound (or connected) to an IPv4 address stays IPv4 — even after a disconnect gave its port back.
      if (this.localIs4 && (this.boundPort !== 0 || this.addrLocked)) return -Errno.EAFNOSUPPORT;
      // tcp_v6_connect: the unspecified address means this host (::1).
      dst6 = isUnspecified6(a.addr6) ? IPV6_LOOPBACK : a.addr6;
    }
    // ip_route_output: connecting to 0.0.0.0 reaches this host — the bound address, else 127.0.0.1.
    if (dst6 === null && dst4 === 0) dst4 = this.addrLocked && this.localIs4 ? this.local4 : INADDR_LOOPBACK;
    const stack = this.ctx.stack;
    if (dst6 === null) {
      if (dst4 >>> 28 === 0xe || dst4 === -1 || stack.isBroadcast(dst4)) return -Errno.ENETUNREACH;
      if (stack.sourceFor4(dst4, this.boundDevice) === null) return -Errno.ENETUNREACH;
    } else if (stack.sourceFor6(dst6, this.boundDevice) === null) return -Errno.ENETUNREACH;
    const tcp = stack.tcp;
    const autobound = this.boundPort === 0;
    if (!autobound) this.ports.remove(this, this.boundPort); // the layer checks 4-tuples; re-added below
    let c: TcpConnection;
    try {
      c = tcp.connect(dst6 === null ? dst4 : dst6, a.port, {
        localPort: this.boundPort,
        local4: this.addrLocked && this.localIs4 ? this.local4 : undefined,
        local6: this.addrLocked && !this.localIs4 ? this.local6 : undefined,
        noDelay: this.noDelay,
        mss: this.maxSeg || undefined,
        rcvbuf: this.rcvbufLocked ? this.rcvbuf >> 1 : undefined,
        sndbuf: this.sndbufLocked ? this.sndbuf >> 1 : undefined,
        ifindex: this.boundDevice || undefined,
      });
    } catch (e) {
      if (!autobound) this.ports.add(this, this.boundPort);
      const code = (e as { code?: string }).code;
      return code === 'EADDRNOTAVAIL' ? -Errno.EADDRNOTAVAIL : -Errno.ENETUNREACH;
    }
    this.conn = c;
    this.routeCached = true;
    this.outqAfterDisconnect = 0;
    c.waker = this;
    this.applyOptions(c);
    this.boundPort = c.localPort;
    this.sourcePort = c.localPort;
    this.ports.add(this, c.localPort);
    if (c.family === 4) {
      this.local4 = c.local4;
      this.localIs4 = true;
      if (this.family === 6) v4MappedAddress(c.local4, this.local6);
    } else this.local6.set(c.local6);
    // sk_shutdown survives: a socket shut down before connect() stays so (send: EPIPE).
    c.rcvShutdown = (this.userShutdown & RCV_SHUTDOWN) !== 0;
    return 0;
  }

  /** Options set before the connection existed. */
  private applyOptions(c: TcpConnection): void {
    c.noDelay = this.noDelay;
    c.cork = this.cork;
    c.keepIdleUs = this.keepIdle * 1_000_000;
    c.keepIntervalUs = this.keepIntvl * 1_000_000;
    c.keepCount = this.keepCnt;
    c.userTimeoutUs = this.userTimeoutMs * 1000;
    c.deferHandshakeAck = this.deferAccept > 0;
    c.oobInline = this.oobInline;
    // TCP_QUICKACK 0 before connect enters pingpong mode, which outlives tcp_connect: the
    // handshake's ACK is then delayed (tcp_rcv_synsent_state_process).
    if (!this.quickAckOn) c.pingpong = true;
    c.ackEverySegment = this.ctx.tcpQuickAck === true;
    if (this.keepalive) c.setKeepalive(true);
  }

  /** tcp_disconnect (connect with AF_UNSPEC, or after a failed connect). */
  disconnect(): number {
    this.noteWriteSeq();
    const c = this.conn;
    if (this.listener !== null) {
      this.ctx.stack.tcp.closeListener(this.listener);
      this.listener = null;
    }
    if (c !== null) {
      c.waker = null;
      if (c.state !== TcpState.Closed && c.state !== TcpState.TimeWait) {
        if (c.state !== TcpState.SynSent) c.abort();
        else c.toClosed();
        if (c.state !== TcpState.SynSent) this.err = Errno.ECONNRESET;
      }
      this.conn = null;
    }
    this.dropConnection();
    this.ss = SS_UNCONNECTED;
    return 0;
  }

  private dropConnection(): void {
    const c = this.conn;
    if (c !== null) noteDisconnect(this);
    if (c !== null) {
      c.waker = null;
      this.conn = null;
    }
    this.userShutdown = 0;
    if (!this.portLocked && this.boundPort !== 0) {
      this.ports.remove(this, this.boundPort);
      this.boundPort = 0;
    }
    if (!this.addrLocked) {
      this.local4 = 0;
      this.local6.fill(0);
      this.localIs4 = this.family === 4;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Data

  /** tcp_sendmsg over one or more buffers. */
  send(bufs: readonly Uint8Array[], flags: number, nonblock: boolean): number {
    const dontwait = nonblock || (flags & MSG_DONTWAIT) !== 0;
    let deadline = -1;
    // Wait for the connection (sk_stream_wait_connect).
    for (;;) {
      const st = this.skState();
      if (st === TcpState.Established || st === TcpState.CloseWait) break;
      const e = this.takeError();
      if (e !== 0) return this.sendError(e, flags);
      if (st !== TcpState.SynSent && st !== TcpState.SynReceived) return this.sendError(-Errno.EPIPE, flags);
      if (dontwait) return -Errno.EAGAIN;
      if (deadline < 0) deadline = this.deadline(this.sndTimeoUs);
      if (!this.ctx.sleep(deadline)) return -Errno.EAGAIN;
    }
    const c = this.conn!;
    let copied = 0;
    let total = 0;
    for (let i = 0; i < bufs.length; i++) total += bufs[i]!.length;
    const more = (flags & MSG_MORE) !== 0;
    const oob = (flags & MSG_OOB) !== 0;
    // Hold the data while it is copied: MSG_MORE sends it later, MSG_OOB once it is marked urgent;
    // several buffers go out together, as tcp_sendmsg copies every iovec before its final
    // tcp_push (only full segments leave while it copies).
    const hold = more || oob || bufs.length > 1;
    if (hold) c.cork = true;
    for (let b = 0, off = 0; ; ) {
      if (this.err !== 0 || (this.shutdownBits() & SEND_SHUTDOWN) !== 0) {
        if (copied > 0) break;
        return this.sendError(-Errno.EPIPE, flags);
      }
      while (b < bufs.length && off >= bufs[b]!.length) {
        b++;
        off = 0;
      }
      if (b >= bufs.length) break;
      const buf = bufs[b]!;
      const n = c.write(buf, off, buf.length - off);
      if (n > 0) {
        copied += n;
        off += n;
        continue;
      }
      this.noSpace = true;
      if (dontwait) break;
      if (deadline < 0) deadline = this.deadline(this.sndTimeoUs);
      // tcp_sendmsg pushes what it holds before it waits for space.
      if (hold) c.setCork(this.cork);
      const woke = this.ctx.sleep(deadline);
      if (hold && this.conn === c) c.cork = true;
      if (!woke) break;
    }
    // MSG_MORE corks only this call's push (tcp_push with TCP_NAGLE_CORK): the next output
    // event — an ACK, a later send — may send what it held back, Nagle permitting.
    // tcp_mark_urg: MSG_OOB makes everything written so far urgent, its last byte the urgent one.
    if (oob && copied > 0) {
      c.cork = this.cork;
      c.markUrgent();
    }
    if (more) {
      c.cork = this.cork;
      c.heldByMore = copied > 0;
    } else {
      c.heldByMore = false;
      if (c.cork !== this.cork) c.setCork(this.cork);
    }
    if (copied === 0 && total > 0) return -Errno.EAGAIN;
    return copied;
  }

  /** sk_stream_error: EPIPE gives way to a pending error; an EPIPE result raises SIGPIPE unless MSG_NOSIGNAL. */
  private sendError(err: number, flags: number): number {
    if (err === -Errno.EPIPE) {
      const e = this.takeError();
      if (e !== 0) err = e;
    }
    if (err === -Errno.EPIPE && (flags & MSG_NOSIGNAL) === 0) this.ctx.sigpipe();
    return err;
  }

  /** tcp_recvmsg into one or more buffers. */
  recv(bufs: readonly Uint8Array[], flags: number, nonblock: boolean): number {
    if (this.listener !== null) return -Errno.ENOTCONN;
    if ((flags & MSG_OOB) !== 0) return this.recvUrgent(bufs, flags);
    let len = 0;
    for (let i = 0; i < bufs.length; i++) len += bufs[i]!.length;
    const dontwait = nonblock || (flags & MSG_DONTWAIT) !== 0;
    const peek = (flags & MSG_PEEK) !== 0;
    // sock_rcvlowat: MSG_WAITALL wants everything, else SO_RCVLOWAT; never less than one byte.
    const target = ((flags & MSG_WAITALL) !== 0 ? len : Math.min(this.rcvLowat, len)) || 1;
    let copied = 0;
    /** Urgent bytes stepped over in this call (a peek must step over them too). */
    let skipped = 0;
    let deadline = -1;
    do {
      const c = this.conn;
      const avail = c === null ? 0 : c.recvQ.length - (peek ? copied + skipped : 0);
      if (avail > 0) {
        let want = Math.min(avail, len - copied);
        if (c!.urgState !== UrgState.None) {
          // tcp_recvmsg_locked: stop at the urgent mark once something was read; at the mark,
          // step over the urgent byte (unless SO_OOBINLINE); before it, read up to it only.
          const off = seqDiff(c!.urgSeq, seqPlus(c!.copiedSeq, peek ? copied + skipped : 0));
          if (off === 0) {
            if (copied > 0) break;
            if (!this.oobInline) {
              if (peek) skipped++;
              else {
                c!.recvQ.consume(1);
                c!.bytesRead++;
              }
              this.urgentPassed(c!);
              continue;
            }
          } else if (off > 0 && off < want) want = off;
        }
        // Data: take what fits (a zero-length read takes nothing and returns 0).
        const n = this.take(c!, bufs, copied, copied + skipped, want, peek, (flags & MSG_TRUNC) !== 0);
        copied += n;
        if (!peek) this.urgentPassed(c!);
        if (copied >= len || n === 0) break;
        continue;
      }
      if (copied >= target) break;
      const st = this.skState();
      const sh = this.shutdownBits();
      if (copied > 0) {
        if (dontwait || this.err !== 0 || st === TcpState.Closed || (sh & RCV_SHUTDOWN) !== 0) break;
      } else {
        if (c !== null && c.peerFinished) break;
        if (this.err !== 0) return this.takeError();
        if ((sh & RCV_SHUTDOWN) !== 0) break;
        if (st === TcpState.Closed) return -Errno.ENOTCONN;
        if (dontwait) return -Errno.EAGAIN;
      }
      if (deadline < 0) deadline = this.deadline(this.rcvTimeoUs);
      if (!this.ctx.sleep(deadline)) {
        if (copied > 0 || len === 0) break;
        return -Errno.EAGAIN;
      }
      // tcp_recvmsg_locked loops while len > 0: a zero-length read waits once, then returns 0.
    } while (copied < len);
    return copied;
  }

  /** Once reading has gone past the urgent byte, urgent data is over (urg_data = 0). */
  private urgentPassed(c: TcpConnection): void {
    if (c.urgState !== UrgState.None && c.urgState !== UrgState.NotYet && seqBefore(c.urgSeq, c.copiedSeq)) c.urgState = UrgState.None;
  }

  /** tcp_recv_urg: recv(MSG_OOB) returns the urgent byte once (EINVAL when there is none or it was read, EAGAIN before it arrives). */
  private recvUrgent(bufs: readonly Uint8Array[], flags: number): number {
    const c = this.conn;
    if (this.oobInline || c === null || c.urgState === UrgState.None || c.urgState === UrgState.Read) return -Errno.EINVAL;
    if (this.skState() === TcpState.Closed && !c.peerFinished) return -Errno.ENOTCONN;
    if (c.urgState === UrgState.Valid) {
      if ((flags & MSG_PEEK) === 0) c.urgState = UrgState.Read;
      let len = 0;
      for (const b of bufs) len += b.length;
      if (len > 0) {
        if ((flags & MSG_TRUNC) === 0) {
          const first = bufs.find((b) => b.length > 0)!;
          first[0] = c.urgByte;
        }
        return 1;
      }
      return 0;
    }
    if (this.skState() === TcpState.Closed || (this.shutdownBits() & RCV_SHUTDOWN) !== 0) return 0;
    return -Errno.EAGAIN;
  }

  /** SIOCATMARK: the next byte to read is the urgent one. */
  atMark(): number {
    const c = this.conn;
    return c !== null && c.urgState !== UrgState.None && c.urgSeq === c.copiedSeq ? 1 : 0;
  }

  /** Copies (or with MSG_TRUNC discards) up to `n` bytes into the buffers at `at`; a peek leaves them queued. */
  private take(c: TcpConnection, bufs: readonly Uint8Array[], at: number, qoff: number, n: number, peek: boolean, discard: boolean): number {
    let done = 0;
    let skip = at;
    for (let i = 0; i < bufs.length && done < n; i++) {
      const b = bufs[i]!;
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      const want = Math.min(b.length - skip, n - done);
      let got: number;
      if (peek) got = c.recvQ.peek(b, skip, qoff + done, want);
      else if (discard) {
        got = Math.min(want, c.recvQ.length);
        c.recvQ.consume(got);
        c.bytesRead += got;
      } else got = c.read(b, skip, want);
      if (got <= 0) break;
      done += got;
      skip = 0;
      if (got < want) break;
    }
    if (discard && !peek && done > 0 && c.recvQ.length === 0) c.recvQ.release();
    return done;
  }

  // ---------------------------------------------------------------------------------------
  // shutdown / close

  shutdown(how: number): number {
    const h = how + 1;
    if ((h & ~SHUTDOWN_MASK) !== 0 || h === 0 || !Number.isInteger(how)) return -Errno.EINVAL;
    if (this.ss === SS_CONNECTING) {
      const st = this.skState();
      this.ss = st === TcpState.SynSent || st === TcpState.SynReceived || st === TcpState.Closed ? SS_DISCONNECTING : SS_CONNECTED;
    }
    let err = 0;
    switch (this.skState()) {
      case TcpState.Closed:
        err = -Errno.ENOTCONN;
        this.userShutdown |= h;
        break;
      case TcpState.Listen:
        if ((h & RCV_SHUTDOWN) !== 0) {
          this.disconnect();
          this.ss = SS_UNCONNECTED;
        }
        break;
      case TcpState.SynSent:
        this.disconnect();
        this.ss = SS_UNCONNECTED;
        break;
      default: {
        this.userShutdown |= h;
        const c = this.conn!;
        if ((h & RCV_SHUTDOWN) !== 0) c.rcvShutdown = true;
        if ((h & SEND_SHUTDOWN) !== 0) c.shutdownWrite();
      }
    }
    this.wake(WakeKey.All);
    return err;
  }

  /** The last descriptor is gone: tcp_close. */
  release(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.listener !== null) {
      this.ctx.stack.tcp.closeListener(this.listener);
      this.listener = null;
      return;
    }
    const c = this.conn;
    if (c === null) return;
    c.waker = null;
    if (c.state === TcpState.Closed || c.state === TcpState.TimeWait) return;
    if (this.lingerOn) {
      c.closeWithLinger(this.lingerSeconds);
      if (this.lingerSeconds > 0 && !this.nonblock) {
        const deadline = this.ctx.now() + this.lingerSeconds * 1_000_000;
        while (!c.closeDone && this.ctx.sleep(deadline)) {
          /* Linux's close() waits for the FIN's ACK until the linger time runs out */
        }
      }
      return;
    }
    c.close();
  }

  // ---------------------------------------------------------------------------------------
  // Names

  getsockname(out: SockAddr): number {
    // inet_sport: it outlives the release of an autobound port (after a refused connect, a disconnect).
    const port = this.boundPort !== 0 ? this.boundPort : this.sourcePort;
    if (this.family === 4) out.setInet(this.local4, port);
    else out.setInet6(this.local6, port);
    return 0;
  }

  getpeername(out: SockAddr): number {
    const c = this.conn;
    const st = this.skState();
    if (c === null || st === TcpState.Closed || st === TcpState.SynSent) return -Errno.ENOTCONN;
    if (this.family === 4) out.setInet(c.remote4, c.remotePort);
    else if (c.family === 4) out.setInet6(v4MappedAddress(c.remote4), c.remotePort);
    else out.setInet6(c.remote6, c.remotePort);
    return 0;
  }

  /** FIONREAD (SIOCINQ, Linux's tcp_inq): 0 while connecting; with urgent data pending (not inline), the bytes before it. */
  inq(): number {
    if (this.listener !== null) return -Errno.EINVAL;
    const c = this.conn;
    if (c === null) return 0;
    const st = c.state;
    if (st === TcpState.SynSent || st === TcpState.SynReceived) return 0;
    const copied = c.copiedSeq;
    if (!this.oobInline && c.urgState !== UrgState.None && !seqBefore(c.urgSeq, copied) && seqBefore(c.urgSeq, seqPlus(copied, c.recvQ.length))) {
      return seqDiff(c.urgSeq, copied);
    }
    return c.recvQ.length;
  }

  /** write_seq − snd_una left behind by tcp_disconnect, which also moves write_seq on by max_window + 2. */
  private outqAfterDisconnect = 0;

  private noteWriteSeq(): void {
    const c = this.conn;
    this.outqAfterDisconnect = (c === null ? this.outqAfterDisconnect : this.rawOutq(c)) + (c === null ? 0 : c.maxSndWnd) + 2;
  }

  private rawOutq(c: TcpConnection): number {
    let n = c.sendQ.length;
    if (c.sndUna === c.iss) n++;
    const st = c.state;
    if (c.finQueued && (st === TcpState.FinWait1 || st === TcpState.Closing || st === TcpState.LastAck)) n++;
    return n;
  }

  /** SIOCOUTQ: write_seq − snd_una — unacknowledged bytes, counting an unacknowledged SYN or FIN (as Linux's tcp_ioctl). */
  outq(): number {
    if (this.listener !== null) return -Errno.EINVAL;
    const c = this.conn;
    if (c === null) return this.outqAfterDisconnect;
    const st = c.state;
    if (st === TcpState.SynSent || st === TcpState.SynReceived) return 0;
    return this.rawOutq(c);
  }

  get isListening(): boolean {
    return this.listener !== null;
  }
}

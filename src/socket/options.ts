// getsockopt/setsockopt with Linux's rules (6.18). Where each rule comes from:
//   SOL_SOCKET          net/core/sock.c        sk_setsockopt / sk_getsockopt
//   IPPROTO_TCP         net/ipv4/tcp.c         do_tcp_setsockopt / do_tcp_getsockopt
//   IPPROTO_IP          net/ipv4/ip_sockglue.c do_ip_setsockopt / do_ip_getsockopt
//   IPPROTO_IPV6        net/ipv6/ipv6_sockglue.c do_ipv6_setsockopt / do_ipv6_getsockopt
//   IPPROTO_UDP         net/ipv4/udp.c         udp_lib_setsockopt / udp_lib_getsockopt
// and the dispatch between them (net/socket.c do_sock_{set,get}sockopt, tcp_setsockopt,
// udp(v6)_setsockopt, ip(v6)_setsockopt): see setOption / getOption.
//
// Values travel as bytes exactly as in C (ints little-endian, struct linger, struct
// timeval). How much is copied back depends on the level, as in Linux: SOL_SOCKET, TCP,
// UDP and IPv6 copy min(len, 4) bytes of an int; IPPROTO_IP gives one byte when fewer than
// four are asked for and the value fits in a byte.

import { Errno, ErrnoError } from '../errno.js';
import { TcpState } from '../stack/tcp/connection.js';
import * as K from './constants.js';
import { RMEM_MAX, SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF, SocketFile, WMEM_MAX } from './socket-file.js';
import { TcpSocket } from './tcp-socket.js';
import { UdpSocketFile } from './udp-socket.js';

/** Linux's CONFIG_HZ on Debian kernels: SO_RCVTIMEO/SO_SNDTIMEO and SO_LINGER are kept in jiffies. */
const HZ = 250;
const TICK_US = 1_000_000 / HZ;
/** MAX_SCHEDULE_TIMEOUT (LONG_MAX jiffies): "forever". */
const MAX_SCHEDULE_TIMEOUT = 0x7fffffffffffffffn;
/** TCP_MIN_MSS, MAX_TCP_WINDOW, MAX_TCP_KEEPIDLE/KEEPINTVL (include/net/tcp.h). */
const TCP_MIN_MSS = 88;
const MAX_TCP_WINDOW = 32767;
const MAX_TCP_KEEPIDLE = 32767;
const MAX_TCP_KEEPINTVL = 32767;
const MAX_TCP_KEEPCNT = 127;
const MAX_TCP_SYNCNT = 127;
const TCP_MAX_WSCALE = 14;
/** net.ipv4.tcp_fin_timeout (TCP_LINGER2 reads it when unset) and TCP_FIN_TIMEOUT_MAX (120 s). */
const TCP_FIN_TIMEOUT_S = 60;
const TCP_FIN_TIMEOUT_MAX_S = 120;
/** TCP_TIMEOUT_INIT / HZ and TCP_RTO_MAX / HZ: the retransmission schedule TCP_DEFER_ACCEPT counts in. */
const TCP_TIMEOUT_INIT_S = 1;
const TCP_RTO_MAX_S = 120;
/** net.ipv4.tcp_rmem[2]: tcp_set_rcvlowat caps SO_RCVLOWAT at half of it. */
const TCP_RMEM_MAX = 33554432;
/** net.ipv4.ip_default_ttl and the IPv6 hop_limit default (devconf). */
const DEFAULT_TTL = 64;
/** IP_MAX_MTU / IP6_MAX_MTU: dst_mtu() clamps (ipv4_mtu, ip6_mtu). */
const IP_MAX_MTU = 0xffff;
const IP6_MAX_MTU = 0xffff + 40;
/** INT_MAX. */
const INT_MAX = 0x7fffffff;

// Option numbers not in constants.ts (asm-generic/socket.h, in6.h).
const SO_TIMESTAMPNS = 35;
const SO_TIMESTAMP_NEW = 63;
const SO_TIMESTAMPNS_NEW = 64;
const IPV6_MTU_DISCOVER = 23;
const IPV6_MTU = 24;
const IP_PMTUDISC_OMIT = 5;
const IPV6_PMTUDISC_OMIT = 5;

// -----------------------------------------------------------------------------------------
// Per-socket option state that only this file reads (kept beside the socket, not on it).

interface OptState {
  // SOL_SOCKET
  debug: boolean; // SOCK_DBG
  noCheck: boolean; // sk_no_check_tx
  busyPollUs: number; // sk_ll_usec
  incomingCpu: number; // sk_incoming_cpu
  rcvTstamp: boolean; // SOCK_RCVTSTAMP
  rcvTstampNs: boolean; // SOCK_RCVTSTAMPNS
  tstampNew: boolean; // SOCK_TSTAMP_NEW
  /** The exact jiffies of SO_RCVTIMEO/SO_SNDTIMEO, with the µs value they were set as (to read back huge values exactly). */
  rcvTimeo: { us: number; jiffies: bigint } | null;
  sndTimeo: { us: number; jiffies: bigint } | null;
  // IPPROTO_IP (struct inet_sock)
  tos: number;
  ucTtl: number; // −1: the default
  mcTtl: number;
  mcLoop: boolean;
  /** IP_MULTICAST_IF's address (inet->mc_addr) and IPV6_MULTICAST_IF's index (np->mcast_oif). */
  mcIf: number;
  mc6If: number;
  recvErr: boolean;
  pmtudisc: number;
  freeBind: boolean;
  bindNoPort: boolean;
  // IPPROTO_IPV6 (struct ipv6_pinfo)
  hopLimit: number; // −1: the default
  mcastHops: number;
  mc6Loop: boolean;
  tclass: number;
  recvErr6: boolean;
  pmtudisc6: number;
  // IPPROTO_UDP (struct udp_sock)
  udpCork: boolean;
  udpGsoSize: number;
  udpGro: boolean;
  // IPPROTO_TCP: which stage of the connection TcpSocket.windowClamp has been carried through (see syncWindowClamp).
  clampPhase: 0 | 1 | 2;
  clampConn: unknown;
  /** mss_cache kept from a connection tcp_disconnect dropped (0: none). */
  lastMss: number;
}

function freshState(): OptState {
  return {
    debug: false, noCheck: false, busyPollUs: 0, incomingCpu: -1,
    rcvTstamp: false, rcvTstampNs: false, tstampNew: false, rcvTimeo: null, sndTimeo: null,
    // inet_create / inet6_create: uc_ttl −1, mc_ttl 1, MC_LOOP on, pmtudisc IP_PMTUDISC_WANT (no_pmtu_disc 0).
    tos: 0, ucTtl: -1, mcTtl: 1, mcLoop: true, mcIf: 0, mc6If: 0, recvErr: false, pmtudisc: 1, freeBind: false, bindNoPort: false,
    // inet6_create: hop_limit −1, mcast_hops IPV6_DEFAULT_MCASTHOPS (1), MC6_LOOP on, pmtudisc IPV6_PMTUDISC_WANT.
    hopLimit: -1, mcastHops: 1, mc6Loop: true, tclass: 0, recvErr6: false, pmtudisc6: 1,
    udpCork: false, udpGsoSize: 0, udpGro: false,
    clampPhase: 0, clampConn: null, lastMss: 0,
  };
}

const states = new WeakMap<SocketFile, OptState>();

function st(s: SocketFile): OptState {
  let o = states.get(s);
  if (o === undefined) {
    o = freshState();
    states.set(s, o);
  }
  return o;
}

/**
 * What an accepted socket takes over from its listener: sk_clone_lock copies the whole
 * struct sock (SOL_SOCKET state), inet_sock and ipv6_pinfo, and tcp_create_openreq_child
 * keeps the tcp_sock settings (keepalive times, user timeout, linger2, syn retries…). The
 * accept path calls this (after adopting the connection) for what lives here and for the
 * TcpSocket fields it does not copy itself.
 */
export function inheritOptions(child: TcpSocket, parent: TcpSocket): void {
  const p = states.get(parent);
  if (p !== undefined) states.set(child, { ...p, rcvTimeo: p.rcvTimeo && { ...p.rcvTimeo }, sndTimeo: p.sndTimeo && { ...p.sndTimeo } });
  child.broadcast = parent.broadcast;
  child.dontRoute = parent.dontRoute;
  child.oobInline = parent.oobInline;
  // Not sk_priority (the child's reads 0), TCP_DEFER_ACCEPT (0) nor TCP_QUICKACK (pingpong starts over).
  child.rcvLowat = parent.rcvLowat;
  child.rcvbufLocked = parent.rcvbufLocked;
  child.sndbufLocked = parent.sndbufLocked;
  child.cork = parent.cork;
  child.keepIdle = parent.keepIdle;
  child.keepIntvl = parent.keepIntvl;
  child.keepCnt = parent.keepCnt;
  child.userTimeoutMs = parent.userTimeoutMs;
  child.maxSeg = parent.maxSeg;
  child.synCnt = parent.synCnt;
  child.linger2 = parent.linger2;
  child.congestion = parent.congestion;
  child.notSentLowat = parent.notSentLowat;
  // tcp_openreq_init_rwin starts from the listener's window_clamp.
  child.windowClamp = parent.windowClamp;
  const o = st(child);
  o.clampPhase = 0;
  o.clampConn = null;
  // tcp_v4_syn_recv_sock / tcp_v6_syn_recv_sock: mc_ttl (IPv4) or mcast_hops (IPv6, and
  // IPv4 on an IPv6 socket) take the TTL / hop limit of the peer's ACK (its default, 64).
  if (child.conn !== null) {
    if (child.conn.family === 4) o.mcTtl = DEFAULT_TTL;
    if (child.family === 6) o.mcastHops = DEFAULT_TTL;
  }
}

// -----------------------------------------------------------------------------------------
// Bytes

const scratch = new DataView(new ArrayBuffer(16));

function readInt(v: Uint8Array): number {
  return new DataView(v.buffer, v.byteOffset, v.byteLength).getInt32(0, true);
}

/** A struct in_addr (network byte order) as the stack's signed 32-bit address. */
function readAddr4(v: Uint8Array): number {
  return new DataView(v.buffer, v.byteOffset, v.byteLength).getInt32(0, false);
}

/** Runs a cold-path engine call: 0, or −errno of the ErrnoError it throws. */
function engineCall(f: () => void): number {
  try {
    f();
    return 0;
  } catch (e) {
    if (e instanceof ErrnoError) return -e.errno;
    throw e;
  }
}

/** An int copied out as sk_getsockopt / do_tcp_getsockopt / udp / ipv6 do: min(len, 4) bytes. Returns the length. */
function putInt(out: Uint8Array, value: number): number {
  scratch.setInt32(0, value, true);
  const n = Math.min(out.length, 4);
  for (let i = 0; i < n; i++) out[i] = scratch.getUint8(i);
  return n;
}

/** do_ip_getsockopt's copyval: one byte when 0 < len < 4 and the value fits in a byte, else min(len, 4) bytes. */
function putIpInt(out: Uint8Array, value: number): number {
  if (out.length > 0 && out.length < 4 && value >= 0 && value <= 255) {
    out[0] = value;
    return 1;
  }
  return putInt(out, value);
}

function putBytes(out: Uint8Array, bytes: Uint8Array): number {
  const n = Math.min(out.length, bytes.length);
  out.set(bytes.subarray(0, n));
  return n;
}

// -----------------------------------------------------------------------------------------
// Dispatch

/** What a socket is, for the dispatch: TCP or UDP over IPv4 or IPv6, or something else (AF_UNIX). */
function inetOf(s: SocketFile): { tcp: boolean; family: 4 | 6 } | null {
  if (s instanceof TcpSocket) return { tcp: true, family: s.family };
  if (s instanceof UdpSocketFile) return { tcp: false, family: s.family };
  return null;
}

export function setOption(s: SocketFile, level: number, name: number, v: Uint8Array): number {
  if ((s instanceof UdpSocketFile || s instanceof TcpSocket) && resetsRoute(level, name)) {
    // sk_dst_reset: these drop a datagram socket's cached route (IP_TOS / IPV6_TCLASS only when they change).
    const before = new Uint8Array(4), after = new Uint8Array(4);
    const always = level === K.SOL_SOCKET;
    if (!always) getOption(s, level, name, before);
    const r = setOptionNow(s, level, name, v);
    if (r === 0 && (always || (getOption(s, level, name, after), before.some((b, i) => b !== after[i])))) s.routeCached = false;
    return r;
  }
  return setOptionNow(s, level, name, v);
}

function resetsRoute(level: number, name: number): boolean {
  return (level === K.SOL_SOCKET && (name === K.SO_DONTROUTE || name === K.SO_BINDTODEVICE)) || (level === K.IPPROTO_IP && name === K.IP_TOS) || (level === K.IPPROTO_IPV6 && name === K.IPV6_TCLASS);
}

function setOptionNow(s: SocketFile, level: number, name: number, v: Uint8Array): number {
  if (s instanceof TcpSocket) syncWindowClamp(s);
  // do_sock_setsockopt: SOL_SOCKET goes to sk_setsockopt for every family (udp_lib_setsockopt passes it on too).
  if (level === K.SOL_SOCKET) return setSocketOption(s, name, v);
  const inet = inetOf(s);
  // AF_UNIX's proto_ops have no setsockopt: EOPNOTSUPP.
  if (inet === null) return -Errno.EOPNOTSUPP;
  // tcp_setsockopt / udp(v6)_setsockopt take their own level, the rest goes to the address family.
  if (inet.tcp && level === K.IPPROTO_TCP) return setTcpOption(s as TcpSocket, name, v);
  if (!inet.tcp && level === K.IPPROTO_UDP) return setUdpOption(s as UdpSocketFile, name, v);
  // ipv6_setsockopt: SOL_IP goes to ip_setsockopt, anything but SOL_IPV6 is ENOPROTOOPT.
  if (inet.family === 6 && level === K.IPPROTO_IPV6) return setIpv6Option(s, name, v);
  // ip_setsockopt: anything but SOL_IP is ENOPROTOOPT (so is IPPROTO_IPV6 on an AF_INET socket).
  if (level === K.IPPROTO_IP) return setIpOption(s, name, v);
  return -Errno.ENOPROTOOPT;
}

export function getOption(s: SocketFile, level: number, name: number, out: Uint8Array): number {
  if (s instanceof TcpSocket) syncWindowClamp(s);
  if (level === K.SOL_SOCKET) return getSocketOption(s, name, out);
  const inet = inetOf(s);
  if (inet === null) return -Errno.EOPNOTSUPP;
  if (inet.tcp && level === K.IPPROTO_TCP) return getTcpOption(s as TcpSocket, name, out);
  if (!inet.tcp && level === K.IPPROTO_UDP) return getUdpOption(s as UdpSocketFile, name, out);
  if (inet.family === 6) {
    // ipv6_getsockopt: SOL_IP goes to ip_getsockopt, any other level but SOL_IPV6 is ENOPROTOOPT.
    if (level === K.IPPROTO_IPV6) return getIpv6Option(s, name, out);
    if (level === K.IPPROTO_IP) return getIpOption(s, name, out);
    return -Errno.ENOPROTOOPT;
  }
  // ip_getsockopt → do_ip_getsockopt: "if (level != SOL_IP) return -EOPNOTSUPP".
  if (level === K.IPPROTO_IP) return getIpOption(s, name, out);
  return -Errno.EOPNOTSUPP;
}

// -----------------------------------------------------------------------------------------
// SOL_SOCKET

/**
 * sock_set_timeout: a struct __kernel_old_timeval (16 bytes at least, else EINVAL), tv_usec
 * outside [0, 1e6) EDOM, tv_sec < 0 → 0 jiffies (every wait times out at once), {0,0} or
 * tv_sec ≥ MAX_SCHEDULE_TIMEOUT/HZ − 1 → forever, else tv_sec·HZ + ⌈tv_usec / (1e6/HZ)⌉.
 * Returns the jiffies (−1n: forever) or a negative errno as a number.
 */
function readTimeval(v: Uint8Array): bigint | number {
  if (v.length < 16) return -Errno.EINVAL;
  const d = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const sec = d.getBigInt64(0, true), usec = d.getBigInt64(8, true);
  if (usec < 0n || usec >= 1_000_000n) return -Errno.EDOM;
  if (sec < 0n) return 0n;
  if ((sec === 0n && usec === 0n) || sec >= MAX_SCHEDULE_TIMEOUT / BigInt(HZ) - 1n) return -1n;
  return sec * BigInt(HZ) + (usec + BigInt(TICK_US) - 1n) / BigInt(TICK_US);
}

/** sock_get_timeout: forever reads {0, 0}; else {j / HZ, (j % HZ) · 1e6 / HZ}. */
function putTimeval(out: Uint8Array, jiffies: bigint): number {
  const b = new Uint8Array(16);
  const d = new DataView(b.buffer);
  if (jiffies >= 0n) {
    d.setBigInt64(0, jiffies / BigInt(HZ), true);
    d.setBigInt64(8, ((jiffies % BigInt(HZ)) * 1_000_000n) / BigInt(HZ), true);
  }
  return putBytes(out, b);
}

/** The jiffies behind a socket's timeout in µs (0: forever, 1: "already expired", i.e. 0 jiffies). */
function timeoJiffies(us: number, exact: { us: number; jiffies: bigint } | null): bigint {
  if (exact !== null && exact.us === us) return exact.jiffies;
  if (us === 0) return -1n;
  if (us === 1) return 0n;
  return BigInt(Math.ceil(us / TICK_US));
}

/** sk_setsockopt's buffer rule (SO_SNDBUF/SO_RCVBUF, __sock_set_rcvbuf): the value as stored and reported. */
function bufferSize(val: number, max: number, min: number, force: boolean): number {
  // SO_SNDBUF/SO_RCVBUF: min_t(u32, val, {w,r}mem_max) — a negative int is a huge u32.
  // SO_*BUFFORCE: "No negative values (to prevent underflow, as val will be multiplied by 2)".
  let v = force ? Math.max(val, 0) : Math.min(val >>> 0, max);
  v = Math.min(v, Math.floor(INT_MAX / 2)); // "Ensure val * 2 fits into an int"
  return Math.max(v * 2, min);
}

function setSocketOption(s: SocketFile, name: number, v: Uint8Array): number {
  const o = st(s);
  // Options that are not a plain int come first, as in sk_setsockopt.
  if (name === K.SO_BINDTODEVICE) return setBindToDevice(s, v);
  if (name === K.SO_RCVTIMEO || name === K.SO_SNDTIMEO) {
    const j = readTimeval(v);
    if (typeof j === 'number') return j;
    // The sockets keep µs (0: forever, 1: expired); the exact jiffies are kept here for reading back.
    const us = j < 0n ? 0 : j === 0n ? 1 : Number(j) * TICK_US;
    const exact = { us, jiffies: j };
    if (name === K.SO_RCVTIMEO) {
      s.rcvTimeoUs = us;
      o.rcvTimeo = exact;
    } else {
      s.sndTimeoUs = us;
      o.sndTimeo = exact;
    }
    return 0;
  }
  // sk_setsockopt: every other option needs an int ("if (optlen < sizeof(int)) return -EINVAL").
  if (v.length < 4) return -Errno.EINVAL;
  const val = readInt(v);
  const on = val !== 0;
  switch (name) {
    case K.SO_LINGER: {
      // struct linger {int l_onoff; int l_linger}: 8 bytes or EINVAL. Off leaves the time as it was.
      if (v.length < 8) return -Errno.EINVAL;
      const secs = new DataView(v.buffer, v.byteOffset, 8).getInt32(4, true);
      if (val === 0) s.lingerOn = false;
      else {
        // (unsigned long)l_linger ≥ MAX_SCHEDULE_TIMEOUT/HZ (any negative) lingers forever.
        s.lingerSeconds = secs < 0 ? Infinity : secs;
        s.lingerOn = true;
      }
      return 0;
    }
    case K.SO_DEBUG:
      // Setting it needs CAP_NET_ADMIN, which the process has (the kernel runner is root).
      o.debug = on;
      return 0;
    case K.SO_REUSEADDR:
      s.reuseAddr = on;
      return 0;
    case K.SO_REUSEPORT:
      // "if (valbool && !sk_is_inet(sk)) ret = -EOPNOTSUPP".
      if (on && inetOf(s) === null) return -Errno.EOPNOTSUPP;
      s.reusePort = on;
      return 0;
    case K.SO_TYPE:
    case K.SO_PROTOCOL:
    case K.SO_DOMAIN:
    case K.SO_ERROR:
      return -Errno.ENOPROTOOPT;
    case K.SO_DONTROUTE:
      s.dontRoute = on;
      return 0;
    case K.SO_BROADCAST:
      s.broadcast = on;
      return 0;
    case K.SO_SNDBUF:
    case K.SO_SNDBUFFORCE:
      s.sndbuf = bufferSize(val, WMEM_MAX, SOCK_MIN_SNDBUF, name === K.SO_SNDBUFFORCE);
      s.sndbufLocked = true;
      applyBuffers(s);
      return 0;
    case K.SO_RCVBUF:
    case K.SO_RCVBUFFORCE:
      s.rcvbuf = bufferSize(val, RMEM_MAX, SOCK_MIN_RCVBUF, name === K.SO_RCVBUFFORCE);
      s.rcvbufLocked = true;
      applyBuffers(s);
      return 0;
    case K.SO_KEEPALIVE:
      s.keepalive = on;
      if (s instanceof TcpSocket && s.conn !== null) s.conn.setKeepalive(on);
      return 0;
    case K.SO_OOBINLINE:
      s.oobInline = on;
      return 0;
    case K.SO_NO_CHECK:
      o.noCheck = on;
      return 0;
    case K.SO_PRIORITY:
      // Values outside 0..6 need CAP_NET_ADMIN/CAP_NET_RAW, which the process has.
      s.priority = val;
      return 0;
    case K.SO_RCVLOWAT:
      setRcvLowat(s, val < 0 ? INT_MAX : val);
      return 0;
    case K.SO_TIMESTAMP:
    case SO_TIMESTAMPNS:
    case SO_TIMESTAMP_NEW:
    case SO_TIMESTAMPNS_NEW:
      // sock_set_timestamp.
      if (on) {
        o.tstampNew = name === SO_TIMESTAMP_NEW || name === SO_TIMESTAMPNS_NEW;
        o.rcvTstampNs = name === SO_TIMESTAMPNS || name === SO_TIMESTAMPNS_NEW;
        o.rcvTstamp = true;
      } else {
        o.rcvTstamp = false;
        o.rcvTstampNs = false;
      }
      return 0;
    case K.SO_BUSY_POLL:
      if (val < 0) return -Errno.EINVAL;
      o.busyPollUs = val;
      return 0;
    case K.SO_INCOMING_CPU:
      o.incomingCpu = val;
      return 0;
    default:
      // SO_SNDLOWAT, SO_ACCEPTCONN and the options the stack does not have.
      return -Errno.ENOPROTOOPT;
  }
}

/**
 * SO_RCVLOWAT (val already mapped: negative → INT_MAX). TCP has its own set_rcvlowat
 * (tcp_set_rcvlowat): capped at half the receive buffer (sk_rcvbuf if locked, else
 * tcp_rmem[2]), and an unlocked receive buffer grows to hold it (tcp_space_from_win: 2·val
 * at the default scaling ratio). Others: sk_rcvlowat = val ?: 1.
 */
function setRcvLowat(s: SocketFile, val: number): void {
  if (!(s instanceof TcpSocket)) {
    s.rcvLowat = val || 1;
    return;
  }
  const cap = s.rcvbufLocked ? s.rcvbuf >> 1 : TCP_RMEM_MAX >> 1;
  val = Math.min(val, cap);
  s.rcvLowat = val || 1;
  if (s.rcvbufLocked) return;
  const space = val * 2;
  if (space > s.rcvbuf) {
    s.rcvbuf = space;
    if (s.windowClamp > 0 && s.windowClamp < val) s.windowClamp = val;
  }
}

/** sock_setbindtodevice: at most IFNAMSIZ−1 bytes of a name; "" unbinds; an unknown name is ENODEV. */
function setBindToDevice(s: SocketFile, v: Uint8Array): number {
  const name = new TextDecoder().decode(v.subarray(0, 15)).replace(/\0.*$/s, '');
  let index = 0;
  if (name !== '') {
    const iface = s.ctx.stack.interface(name);
    if (iface === null) return -Errno.ENODEV;
    index = iface.index;
  }
  if (s instanceof TcpSocket) s.boundDevice = index;
  else if (s instanceof UdpSocketFile) s.udp.boundIfindex = index;
  return 0;
}

function boundDevice(s: SocketFile): number {
  if (s instanceof TcpSocket) return s.boundDevice;
  if (s instanceof UdpSocketFile) return s.udp.boundIfindex;
  return 0;
}

/** The buffer sizes reach the engine: payload bytes are half of what Linux reports. */
function applyBuffers(s: SocketFile): void {
  if (s instanceof TcpSocket && s.conn !== null) {
    if (s.rcvbufLocked) s.conn.setReceiveBuffer(s.rcvbuf >> 1);
    if (s.sndbufLocked) s.conn.setSendBuffer(s.sndbuf >> 1);
  } else if (s instanceof UdpSocketFile) s.udp.rcvbuf = s.rcvbuf;
}

function getSocketOption(s: SocketFile, name: number, out: Uint8Array): number {
  const o = st(s);
  switch (name) {
    case K.SO_DEBUG:
      return putInt(out, o.debug ? 1 : 0);
    case K.SO_DONTROUTE:
      return putInt(out, s.dontRoute ? 1 : 0);
    case K.SO_BROADCAST:
      return putInt(out, s.broadcast ? 1 : 0);
    case K.SO_SNDBUF:
      return putInt(out, s.sndbuf);
    case K.SO_RCVBUF:
      return putInt(out, s.rcvbuf);
    case K.SO_REUSEADDR:
      return putInt(out, s.reuseAddr ? 1 : 0);
    case K.SO_KEEPALIVE:
      return putInt(out, s.keepalive ? 1 : 0);
    case K.SO_TYPE:
      return putInt(out, s.type);
    case K.SO_PROTOCOL:
      return putInt(out, s.protocol);
    case K.SO_DOMAIN:
      return putInt(out, s.domain);
    case K.SO_ERROR:
      return putInt(out, -s.takeError());
    case K.SO_OOBINLINE:
      return putInt(out, s.oobInline ? 1 : 0);
    case K.SO_NO_CHECK:
      return putInt(out, o.noCheck ? 1 : 0);
    case K.SO_PRIORITY:
      return putInt(out, s.priority);
    case K.SO_LINGER: {
      // l_linger = sk_lingertime / HZ: "forever" (MAX_SCHEDULE_TIMEOUT) reads as that, truncated to an int.
      const b = new Uint8Array(8);
      const d = new DataView(b.buffer);
      d.setInt32(0, s.lingerOn ? 1 : 0, true);
      const secs = s.lingerSeconds === Infinity ? Number(BigInt.asIntN(32, MAX_SCHEDULE_TIMEOUT / BigInt(HZ))) : s.lingerSeconds;
      d.setInt32(4, secs, true);
      return putBytes(out, b);
    }
    case K.SO_TIMESTAMP:
      return putInt(out, o.rcvTstamp && !o.tstampNew && !o.rcvTstampNs ? 1 : 0);
    case SO_TIMESTAMPNS:
      return putInt(out, o.rcvTstampNs && !o.tstampNew ? 1 : 0);
    case SO_TIMESTAMP_NEW:
      return putInt(out, o.rcvTstamp && o.tstampNew && !o.rcvTstampNs ? 1 : 0);
    case SO_TIMESTAMPNS_NEW:
      return putInt(out, o.rcvTstampNs && o.tstampNew ? 1 : 0);
    case K.SO_RCVTIMEO:
      return putTimeval(out, timeoJiffies(s.rcvTimeoUs, o.rcvTimeo));
    case K.SO_SNDTIMEO:
      return putTimeval(out, timeoJiffies(s.sndTimeoUs, o.sndTimeo));
    case K.SO_RCVLOWAT:
      return putInt(out, s.rcvLowat);
    case K.SO_SNDLOWAT:
      return putInt(out, 1);
    case K.SO_ACCEPTCONN:
      return putInt(out, s instanceof TcpSocket && s.isListening ? 1 : 0);
    case K.SO_REUSEPORT:
      return putInt(out, s.reusePort ? 1 : 0);
    case K.SO_BUSY_POLL:
      return putInt(out, o.busyPollUs);
    case K.SO_INCOMING_CPU:
      return putInt(out, o.incomingCpu);
    case K.SO_BINDTODEVICE: {
      // sock_getbindtodevice: unbound → length 0; else the name and its NUL, needing IFNAMSIZ bytes of room.
      const index = boundDevice(s);
      if (index === 0) return 0;
      if (out.length < 16) return -Errno.EINVAL;
      const iface = s.ctx.stack.interface(index);
      const b = new TextEncoder().encode((iface?.name ?? '') + '\0');
      return putBytes(out, b);
    }
    default:
      return -Errno.ENOPROTOOPT;
  }
}

// -----------------------------------------------------------------------------------------
// IPPROTO_TCP

/** secs_to_retrans: TCP_DEFER_ACCEPT seconds → SYN-ACK retransmissions (timeouts doubling from 1 s, capped at 120 s). */
export function secsToRetrans(seconds: number): number {
  if (seconds <= 0) return 0;
  let timeout = TCP_TIMEOUT_INIT_S, period = timeout, res = 1;
  while (seconds > period && res < 255) {
    res++;
    timeout = Math.min(timeout * 2, TCP_RTO_MAX_S);
    period += timeout;
  }
  return res;
}

/** retrans_to_secs: the inverse, what getsockopt reports. */
function retransToSecs(retrans: number): number {
  if (retrans <= 0) return 0;
  let timeout = TCP_TIMEOUT_INIT_S, period = timeout;
  while (--retrans > 0) {
    timeout = Math.min(timeout * 2, TCP_RTO_MAX_S);
    period += timeout;
  }
  return period;
}

/** tcp_full_space: tcp_win_from_space(sk_rcvbuf) at the default scaling ratio (TCP_DEFAULT_SCALING_RATIO, ½). */
function fullSpace(s: TcpSocket): number {
  return s.rcvbuf >> 1;
}

/**
 * tcp_disconnect (connect(AF_UNSPEC), a failed connect) as far as options see it: window_clamp
 * goes back to 0, mss_cache stays. The TCP socket calls this before it lets go of its connection.
 */
export function noteDisconnect(s: TcpSocket): void {
  const o = st(s);
  if (s.conn !== null) o.lastMss = connectionMss(s);
  s.windowClamp = 0;
  o.clampConn = null;
  o.clampPhase = 0;
}

/**
 * mss_cache of the socket's connection: from tcp_connect_init on, computed from the route
 * with mss_clamp = user_mss or, until the peer's MSS is known, 536 (tcp_v4_connect) / 1220
 * (tcp_v6_connect), less the timestamp option (tcp_mtu_to_mss); once synchronized the
 * connection's own.
 */
function connectionMss(s: TcpSocket): number {
  const c = s.conn!;
  if (synchronized(s)) return c.mss;
  const clamp = s.maxSeg !== 0 ? s.maxSeg : c.family === 4 ? 536 : 1220;
  return Math.min(c.mssCap, clamp) - (s.ctx.stack.tcp.timestamps ? 12 : 0);
}

/** The connection has been synchronized (its peer's SYN-ACK or ACK of our SYN-ACK arrived). */
function synchronized(s: TcpSocket): boolean {
  const c = s.conn;
  return c !== null && c.maxSndWnd > 0;
}

/**
 * TCP_WINDOW_CLAMP as Linux's tp->window_clamp evolves: what the user set, until a
 * connection starts (tcp_connect_init / tcp_openreq_init_rwin: with SO_RCVBUF set, at most
 * the full space; then tcp_select_initial_window: 0 becomes the largest scaled window,
 * clamped to 65535 << rcv_wscale), then once synchronized (tcp_init_buffer_space) at most
 * the full space, less one segment when that is needed to keep a segment's room. The
 * transitions are applied when the socket is next looked at. (Receive-buffer autotuning,
 * which raises it later, is not modelled.)
 */
function syncWindowClamp(s: TcpSocket): void {
  const o = st(s);
  const c = s.conn;
  if (c !== o.clampConn) {
    // A connection dropped by tcp_disconnect (connect(AF_UNSPEC), a failed connect) takes the clamp with it.
    if (c === null && !s.isListening) s.windowClamp = 0;
    o.clampConn = c;
    o.clampPhase = 0;
  }
  const phase = c === null || s.isListening ? 0 : synchronized(s) ? 2 : 1;
  while (o.clampPhase < phase) {
    let clamp = s.windowClamp >>> 0;
    const full = fullSpace(s);
    if (o.clampPhase === 0) {
      if (s.rcvbufLocked && (clamp > full || clamp === 0)) clamp = full;
      if (clamp === 0) clamp = 0xffff * 2 ** TCP_MAX_WSCALE;
      let space = Math.min(clamp, full);
      space = Math.min(Math.max(space, TCP_RMEM_MAX, RMEM_MAX), clamp);
      const wscale = Math.min(Math.max(Math.floor(Math.log2(space)) - 15, 0), TCP_MAX_WSCALE);
      clamp = Math.min(0xffff * 2 ** wscale, clamp);
    } else {
      const adv = c!.advMss;
      if (clamp >= full) {
        clamp = full;
        // tcp_app_win (31): max(maxwin − (maxwin >> 31), 4·advmss) when maxwin > 4·advmss.
        if (full > 4 * adv) clamp = Math.max(full, 4 * adv);
      }
      if (clamp > 2 * adv && clamp + adv > full) clamp = Math.max(2 * adv, full - adv);
    }
    s.windowClamp = clamp;
    o.clampPhase++;
  }
}

function setTcpOption(s: TcpSocket, name: number, v: Uint8Array): number {
  if (name === K.TCP_CONGESTION) {
    // At least one byte; the name is what precedes a NUL within TCP_CA_NAME_MAX−1 bytes.
    if (v.length < 1) return -Errno.EINVAL;
    const algo = new TextDecoder().decode(v.subarray(0, 15)).replace(/\0.*$/s, '');
    if (algo !== 'cubic' && algo !== 'reno') return -Errno.ENOENT;
    s.congestion = algo;
    if (s.conn !== null) s.conn.setCongestion(algo);
    return 0;
  }
  if (v.length < 4) return -Errno.EINVAL;
  const val = readInt(v);
  const c = s.conn;
  switch (name) {
    case K.TCP_SYNCNT:
      if (val < 1 || val > MAX_TCP_SYNCNT) return -Errno.EINVAL;
      s.synCnt = val;
      return 0;
    case K.TCP_USER_TIMEOUT:
      if (val < 0) return -Errno.EINVAL;
      s.userTimeoutMs = val;
      if (c !== null) c.userTimeoutUs = val * 1000;
      return 0;
    case K.TCP_KEEPINTVL:
      if (val < 1 || val > MAX_TCP_KEEPINTVL) return -Errno.EINVAL;
      s.keepIntvl = val;
      if (c !== null) c.keepIntervalUs = val * 1_000_000;
      return 0;
    case K.TCP_KEEPCNT:
      if (val < 1 || val > MAX_TCP_KEEPCNT) return -Errno.EINVAL;
      s.keepCnt = val;
      if (c !== null) c.keepCount = val;
      return 0;
    case K.TCP_LINGER2:
      // Negative: −1 (no FIN-WAIT-2 wait); above TCP_FIN_TIMEOUT_MAX: that; 0 reads tcp_fin_timeout.
      s.linger2 = val < 0 ? -1 : Math.min(val, TCP_FIN_TIMEOUT_MAX_S);
      return 0;
    case K.TCP_DEFER_ACCEPT:
      // Kept as a number of retransmissions, read back as the seconds they cover.
      s.deferAccept = retransToSecs(secsToRetrans(val));
      if (s.listener !== null) s.listener.deferRetrans = secsToRetrans(val);
      return 0;
    case K.TCP_MAXSEG:
      if (val !== 0 && (val < TCP_MIN_MSS || val > MAX_TCP_WINDOW)) return -Errno.EINVAL;
      s.maxSeg = val;
      return 0;
    case K.TCP_NODELAY:
      s.noDelay = val !== 0;
      if (c !== null) c.setNoDelay(s.noDelay);
      return 0;
    case K.TCP_CORK:
      s.cork = val !== 0;
      if (c !== null) c.setCork(s.cork);
      return 0;
    case K.TCP_KEEPIDLE:
      if (val < 1 || val > MAX_TCP_KEEPIDLE) return -Errno.EINVAL;
      s.keepIdle = val;
      if (c !== null) {
        c.keepIdleUs = val * 1_000_000;
        if (s.keepalive) c.setKeepalive(true);
      }
      return 0;
    case K.TCP_WINDOW_CLAMP:
      // tcp_set_window_clamp: 0 only on a closed socket (EINVAL otherwise); else at least SOCK_MIN_RCVBUF/2.
      if (val === 0) {
        if (s.skState() !== TcpState.Closed) return -Errno.EINVAL;
        s.windowClamp = 0;
        return 0;
      }
      s.windowClamp = Math.max(SOCK_MIN_RCVBUF / 2, val);
      return 0;
    case K.TCP_QUICKACK:
      // __tcp_sock_set_quickack: 0 enters pingpong (delayed ACKs) mode, anything else leaves it
      // (an even value re-enters it only after pushing a scheduled ACK on a connection).
      s.quickAckOn = val !== 0;
      if (c !== null) {
        if (s.quickAckOn) c.quickAck();
        else c.pingpong = true;
      }
      return 0;
    case K.TCP_NOTSENT_LOWAT:
      s.notSentLowat = val;
      return 0;
    default:
      return -Errno.ENOPROTOOPT;
  }
}

function getTcpOption(s: TcpSocket, name: number, out: Uint8Array): number {
  const c = s.conn;
  const state = s.skState();
  switch (name) {
    case K.TCP_MAXSEG: {
      // mss_cache (TCP_MSS_DEFAULT until a connection computes it, kept after it), but
      // user_mss in CLOSE/LISTEN.
      let mss = c !== null && !s.isListening ? connectionMss(s) : st(s).lastMss || 536;
      if (s.maxSeg !== 0 && (state === TcpState.Closed || state === TcpState.Listen)) mss = s.maxSeg;
      return putInt(out, mss);
    }
    case K.TCP_NODELAY:
      return putInt(out, s.noDelay ? 1 : 0);
    case K.TCP_CORK:
      return putInt(out, s.cork ? 1 : 0);
    case K.TCP_KEEPIDLE:
      return putInt(out, s.keepIdle);
    case K.TCP_KEEPINTVL:
      return putInt(out, s.keepIntvl);
    case K.TCP_KEEPCNT:
      return putInt(out, s.keepCnt);
    case K.TCP_SYNCNT:
      // icsk_syn_retries ?: net.ipv4.tcp_syn_retries (6).
      return putInt(out, s.synCnt || 6);
    case K.TCP_LINGER2:
      return putInt(out, s.linger2 < 0 ? -1 : s.linger2 || TCP_FIN_TIMEOUT_S);
    case K.TCP_DEFER_ACCEPT:
      return putInt(out, s.deferAccept);
    case K.TCP_WINDOW_CLAMP:
      return putInt(out, s.windowClamp > 0 ? s.windowClamp : 0);
    case K.TCP_QUICKACK:
      // !inet_csk_in_pingpong_mode(sk): the connection's own mode once it exists.
      return putInt(out, (s.conn !== null ? !s.conn.pingpong : s.quickAckOn) ? 1 : 0);
    case K.TCP_USER_TIMEOUT:
      return putInt(out, s.userTimeoutMs);
    case K.TCP_NOTSENT_LOWAT:
      return putInt(out, s.notSentLowat);
    case K.TCP_CONGESTION: {
      // min(len, TCP_CA_NAME_MAX) bytes of the NUL-padded name.
      const b = new Uint8Array(16);
      b.set(new TextEncoder().encode(s.congestion));
      return putBytes(out, b);
    }
    case K.TCP_INFO: {
      // The leading fields of struct tcp_info: state, ca_state, retransmits, probes, backoff, options.
      const b = new Uint8Array(8);
      b[0] = tcpStateNumber(state);
      return putBytes(out, b);
    }
    default:
      return -Errno.ENOPROTOOPT;
  }
}

/** Linux's TCP_* state numbers (include/net/tcp_states.h). */
function tcpStateNumber(s: TcpState): number {
  switch (s) {
    case TcpState.Established: return 1;
    case TcpState.SynSent: return 2;
    case TcpState.SynReceived: return 3;
    case TcpState.FinWait1: return 4;
    case TcpState.FinWait2: return 5;
    case TcpState.TimeWait: return 6;
    case TcpState.Closed: return 7;
    case TcpState.CloseWait: return 8;
    case TcpState.LastAck: return 9;
    case TcpState.Listen: return 10;
    case TcpState.Closing: return 11;
  }
}

// -----------------------------------------------------------------------------------------
// IPPROTO_IP

/**
 * The int do_ip_setsockopt reads for its small options: 4 bytes when there are, else one
 * (unsigned) byte, else 0 ("If optlen==0, it is equivalent to val == 0").
 */
function ipInt(v: Uint8Array): number {
  if (v.length >= 4) return readInt(v);
  if (v.length >= 1) return v[0]!;
  return 0;
}

/** ip_tos2prio: TC_PRIO_BESTEFFORT 0, BULK 2, INTERACTIVE 6, INTERACTIVE_BULK 4 (ECN_OR_COST keeps the class). */
const IP_TOS2PRIO = [0, 0, 0, 0, 2, 2, 2, 2, 6, 6, 6, 6, 4, 4, 4, 4];

function setIpOption(s: SocketFile, name: number, v: Uint8Array): number {
  const o = st(s);
  const udp = s instanceof UdpSocketFile ? s.udp : null;
  const stream = s instanceof TcpSocket;
  const val = ipInt(v);
  switch (name) {
    case K.IP_RECVERR:
      o.recvErr = val !== 0;
      if (udp !== null) udp.recvErr = o.recvErr || o.recvErr6;
      return 0;
    case K.IP_MULTICAST_LOOP:
      if (v.length < 1) return -Errno.EINVAL;
      o.mcLoop = val !== 0;
      if (udp !== null) udp.multicastLoop = o.mcLoop;
      return 0;
    case K.IP_FREEBIND:
      if (v.length < 1) return -Errno.EINVAL;
      o.freeBind = val !== 0;
      s.freeBind = o.freeBind; // bind() reads it
      return 0;
    case K.IP_HDRINCL:
      // Raw sockets only.
      return -Errno.ENOPROTOOPT;
    case K.IP_MULTICAST_TTL:
      if (stream) return -Errno.EINVAL;
      if (v.length < 1) return -Errno.EINVAL;
      if (val !== -1 && (val < 0 || val > 255)) return -Errno.EINVAL;
      o.mcTtl = val === -1 ? 1 : val;
      if (udp !== null && s instanceof UdpSocketFile && s.family === 4) udp.multicastTtl = o.mcTtl;
      return 0;
    case K.IP_MTU_DISCOVER:
      // ip_sock_set_mtu_discover: IP_PMTUDISC_DONT..IP_PMTUDISC_OMIT.
      if (val < 0 || val > IP_PMTUDISC_OMIT) return -Errno.EINVAL;
      o.pmtudisc = val;
      return 0;
    case K.IP_TOS: {
      // __ip_sock_set_tos: a u8; a stream socket keeps its ECN bits (INET_ECN_MASK) as they
      // were. A change also sets sk_priority to rt_tos2priority(tos) (ip_tos2prio).
      const tos = stream ? (val & 0xfc) | (o.tos & 3) : val & 0xff;
      if (tos !== o.tos) {
        o.tos = tos;
        s.priority = IP_TOS2PRIO[(tos & 0x1e) >> 1]!;
      }
      return 0;
    }
    case K.IP_BIND_ADDRESS_NO_PORT:
      o.bindNoPort = val !== 0;
      return 0;
    case K.IP_TTL:
      if (v.length < 1) return -Errno.EINVAL;
      if (val !== -1 && (val < 1 || val > 255)) return -Errno.EINVAL;
      o.ucTtl = val;
      if (udp !== null && s instanceof UdpSocketFile && s.family === 4) udp.unicastTtl = val;
      return 0;
    case K.IP_MULTICAST_IF: {
      // do_ip_setsockopt: a struct ip_mreqn when optlen ≥ 12, a struct ip_mreq from 8, else an in_addr (≥ 4,
      // else EINVAL). 0.0.0.0 with no index clears it; an unknown interface is EADDRNOTAVAIL.
      if (stream) return -Errno.EINVAL;
      if (v.length < 4) return -Errno.EINVAL;
      const addr = readAddr4(v.subarray(v.length >= 8 ? 4 : 0)); // ip_mreqn or ip_mreq: imr_address; else an in_addr
      let ifindex = v.length >= 12 ? readInt(v.subarray(8)) : 0;
      if (ifindex === 0 && addr !== 0) ifindex = s.ctx.stack.multicastInterface(4, 0, addr);
      if ((ifindex !== 0 || addr !== 0) && (ifindex === 0 || !s.ctx.stack.hasInterface(ifindex))) return -Errno.EADDRNOTAVAIL;
      if (udp !== null && udp.boundIfindex !== 0 && ifindex !== 0 && ifindex !== udp.boundIfindex) return -Errno.EINVAL;
      o.mcIf = addr;
      if (udp !== null) {
        udp.multicastIfindex = ifindex;
        udp.multicastSource = addr;
      }
      return 0;
    }
    case K.IP_ADD_MEMBERSHIP:
    case K.IP_DROP_MEMBERSHIP: {
      // do_ip_setsockopt: EPROTO on a connection socket; a struct ip_mreq (8 bytes, else
      // EINVAL) or, from 12 bytes, a struct ip_mreqn {multiaddr, address, ifindex}. The
      // interface: the index, else the address, else the route to the group (ip_mc_find_dev).
      if (stream) return -Errno.EPROTO;
      if (v.length < 8) return -Errno.EINVAL;
      if (udp === null) return -Errno.ENOPROTOOPT;
      const group = readAddr4(v), addr = readAddr4(v.subarray(4));
      const ifindex = v.length >= 12 ? readInt(v.subarray(8)) : 0;
      const iface = ifindex !== 0 ? ifindex : addr !== 0 ? addr : undefined;
      return engineCall(() => (name === K.IP_ADD_MEMBERSHIP ? udp.addMembership(group, iface) : udp.dropMembership(group, iface)));
    }
    case K.IP_ADD_SOURCE_MEMBERSHIP:
    case K.IP_DROP_SOURCE_MEMBERSHIP:
    case K.IP_BLOCK_SOURCE:
    case K.IP_UNBLOCK_SOURCE: {
      // struct ip_mreq_source {imr_multiaddr, imr_interface, imr_sourceaddr}: exactly 12
      // bytes (RFC 3678 §4.1.3; Linux: optlen != sizeof → EINVAL).
      if (stream) return -Errno.EPROTO;
      if (v.length !== 12) return -Errno.EINVAL;
      if (udp === null) return -Errno.ENOPROTOOPT;
      const group = readAddr4(v), addr = readAddr4(v.subarray(4)), source = readAddr4(v.subarray(8));
      const iface = addr !== 0 ? addr : undefined;
      return engineCall(() => {
        if (name === K.IP_ADD_SOURCE_MEMBERSHIP) udp.addSourceMembership(group, source, iface);
        else if (name === K.IP_DROP_SOURCE_MEMBERSHIP) udp.dropSourceMembership(group, source, iface);
        else if (name === K.IP_BLOCK_SOURCE) udp.blockSource(group, source, iface);
        else udp.unblockSource(group, source, iface);
      });
    }
    case K.IP_OPTIONS:
      // ip_options_get: none given clears them; the stack sends no IP options.
      if (v.length === 0) return 0;
      if (v.length > 40) return -Errno.EINVAL;
      return -Errno.ENOPROTOOPT;
    default:
      return -Errno.ENOPROTOOPT;
  }
}

/** dst_mtu of the socket's cached route, or 0 when it has none (unconnected). */
function routeMtu(s: SocketFile): number {
  const stack = s.ctx.stack;
  let family: 0 | 4 | 6 = 0, d4 = 0, d6: Uint8Array | null = null, ifindex = 0;
  if (s instanceof TcpSocket) {
    const c = s.conn;
    if (c === null || s.isListening || !s.routeCached) return 0;
    family = c.family;
    d4 = c.remote4;
    d6 = c.remote6;
    ifindex = c.ifindex;
  } else if (s instanceof UdpSocketFile) {
    const u = s.udp;
    if (!u.connected || !s.routeCached) return 0;
    family = u.remoteFamily;
    d4 = u.remote4;
    d6 = u.remote6;
    ifindex = u.boundIfindex;
  }
  if (family === 4) return Math.min(stack.mtuFor(d4), IP_MAX_MTU);
  if (family === 6 && d6 !== null) {
    const iface = stack.ip6.routeTo(d6, ifindex);
    return iface === null ? 0 : Math.min(stack.ip6.mtuFor(d6, iface), IP6_MAX_MTU);
  }
  return 0;
}

function getIpOption(s: SocketFile, name: number, out: Uint8Array): number {
  const o = st(s);
  switch (name) {
    case K.IP_TOS:
      return putIpInt(out, o.tos);
    case K.IP_TTL:
      return putIpInt(out, o.ucTtl < 0 ? DEFAULT_TTL : o.ucTtl);
    case K.IP_RECVERR:
      return putIpInt(out, o.recvErr ? 1 : 0);
    case K.IP_MTU_DISCOVER:
      return putIpInt(out, o.pmtudisc);
    case K.IP_MULTICAST_TTL:
      return putIpInt(out, o.mcTtl);
    case K.IP_MULTICAST_LOOP:
      return putIpInt(out, o.mcLoop ? 1 : 0);
    case K.IP_MTU: {
      // The cached route's MTU; none: ENOTCONN.
      const mtu = routeMtu(s);
      if (mtu === 0) return -Errno.ENOTCONN;
      return putIpInt(out, mtu);
    }
    case K.IP_HDRINCL:
      return putIpInt(out, 0);
    case K.IP_FREEBIND:
      return putIpInt(out, o.freeBind ? 1 : 0);
    case K.IP_BIND_ADDRESS_NO_PORT:
      return putIpInt(out, o.bindNoPort ? 1 : 0);
    case K.IP_OPTIONS:
      // No options set: length 0.
      return 0;
    case K.IP_MULTICAST_IF: {
      // inet->mc_addr as a struct in_addr, min(len, 4) bytes.
      const b = new Uint8Array(4);
      new DataView(b.buffer).setInt32(0, o.mcIf, false);
      return putBytes(out, b);
    }
    default:
      return -Errno.ENOPROTOOPT;
  }
}

// -----------------------------------------------------------------------------------------
// IPPROTO_IPV6

function setIpv6Option(s: SocketFile, name: number, v: Uint8Array): number {
  const o = st(s);
  const udp = s instanceof UdpSocketFile ? s.udp : null;
  const stream = s instanceof TcpSocket;
  // do_ipv6_setsockopt reads an int when there are 4 bytes, else val = 0.
  const val = v.length >= 4 ? readInt(v) : 0;
  const short = v.length < 4;
  switch (name) {
    case K.IPV6_UNICAST_HOPS:
      if (short || val > 255 || val < -1) return -Errno.EINVAL;
      o.hopLimit = val;
      if (udp !== null) udp.unicastTtl = val;
      return 0;
    case K.IPV6_MULTICAST_LOOP:
      if (short || (val !== 0 && val !== 1)) return -Errno.EINVAL;
      o.mc6Loop = val === 1;
      if (udp !== null) udp.multicastLoop = o.mc6Loop;
      return 0;
    case K.IPV6_MULTICAST_HOPS:
      if (stream) return -Errno.ENOPROTOOPT;
      if (short || val > 255 || val < -1) return -Errno.EINVAL;
      o.mcastHops = val === -1 ? 1 : val;
      if (udp !== null) udp.multicastTtl = o.mcastHops;
      return 0;
    case K.IPV6_RECVERR:
      if (short) return -Errno.EINVAL;
      o.recvErr6 = val !== 0;
      if (udp !== null) udp.recvErr = o.recvErr || o.recvErr6;
      return 0;
    case IPV6_MTU_DISCOVER:
      if (short || val < 0 || val > IPV6_PMTUDISC_OMIT) return -Errno.EINVAL;
      o.pmtudisc6 = val;
      return 0;
    case K.IPV6_V6ONLY: {
      // Not once the socket has a local port (inet_num).
      const bound = s instanceof TcpSocket ? s.boundPort !== 0 : udp !== null && udp.localPort !== 0;
      if (short || bound) return -Errno.EINVAL;
      if (s instanceof TcpSocket) s.v6Only = val !== 0;
      if (udp !== null) udp.v6Only = val !== 0;
      return 0;
    }
    case K.IPV6_TCLASS: {
      if (short || val < -1 || val > 0xff) return -Errno.EINVAL;
      // RFC 3542 §6.5: −1 is the default, 0; a stream socket keeps its ECN bits.
      let t = val === -1 ? 0 : val;
      if (stream) t = (t & 0xfc) | (o.tclass & 3);
      o.tclass = t;
      return 0;
    }
    case K.IPV6_MULTICAST_IF:
      // do_ipv6_setsockopt: an interface index (0: by route); unknown: ENODEV; not the bound device: EINVAL.
      if (stream) return -Errno.ENOPROTOOPT;
      if (short) return -Errno.EINVAL;
      if (val !== 0 && !s.ctx.stack.hasInterface(val)) return -Errno.ENODEV;
      if (udp !== null && udp.boundIfindex !== 0 && val !== 0 && val !== udp.boundIfindex) return -Errno.EINVAL;
      o.mc6If = val;
      if (udp !== null) udp.multicastIfindex = val;
      return 0;
    case K.IPV6_JOIN_GROUP:
    case K.IPV6_LEAVE_GROUP: {
      // struct ipv6_mreq {ipv6mr_multiaddr, ipv6mr_interface}: 20 bytes, else EINVAL; EPROTO
      // on a connection socket (do_ipv6_setsockopt → ipv6_sock_mc_join / ipv6_sock_mc_drop).
      if (stream) return -Errno.EPROTO;
      if (v.length < 20) return -Errno.EINVAL;
      if (udp === null) return -Errno.ENOPROTOOPT;
      const group = Uint8Array.from(v.subarray(0, 16));
      const ifindex = readInt(v.subarray(16));
      const iface = ifindex !== 0 ? ifindex : undefined;
      return engineCall(() => (name === K.IPV6_JOIN_GROUP ? udp.addMembership(group, iface) : udp.dropMembership(group, iface)));
    }
    default:
      return -Errno.ENOPROTOOPT;
  }
}

function getIpv6Option(s: SocketFile, name: number, out: Uint8Array): number {
  const o = st(s);
  const udp = s instanceof UdpSocketFile ? s.udp : null;
  switch (name) {
    case K.IPV6_V6ONLY:
      return putInt(out, (s instanceof TcpSocket ? s.v6Only : udp?.v6Only) ? 1 : 0);
    case K.IPV6_UNICAST_HOPS:
      // −1: the route's hop limit, else the interface default (64).
      return putInt(out, o.hopLimit < 0 ? DEFAULT_TTL : o.hopLimit);
    case K.IPV6_MULTICAST_HOPS:
      return putInt(out, o.mcastHops);
    case K.IPV6_MULTICAST_LOOP:
      return putInt(out, o.mc6Loop ? 1 : 0);
    case K.IPV6_MULTICAST_IF:
      return putInt(out, o.mc6If);
    case K.IPV6_TCLASS:
      return putInt(out, o.tclass);
    case K.IPV6_RECVERR:
      return putInt(out, o.recvErr6 ? 1 : 0);
    case IPV6_MTU_DISCOVER:
      return putInt(out, o.pmtudisc6);
    case IPV6_MTU: {
      const mtu = routeMtu(s);
      if (mtu === 0) return -Errno.ENOTCONN;
      return putInt(out, mtu);
    }
    default:
      return -Errno.ENOPROTOOPT;
  }
}

// -----------------------------------------------------------------------------------------
// IPPROTO_UDP

function setUdpOption(s: UdpSocketFile, name: number, v: Uint8Array): number {
  const o = st(s);
  if (v.length < 4) return -Errno.EINVAL;
  const val = readInt(v);
  switch (name) {
    case K.UDP_CORK:
      o.udpCork = val !== 0;
      s.setCork(o.udpCork); // clearing it sends what was corked (udp_push_pending_frames)
      return 0;
    case K.UDP_SEGMENT:
      if (val < 0 || val > 0xffff) return -Errno.EINVAL;
      o.udpGsoSize = val;
      return 0;
    case K.UDP_GRO:
      o.udpGro = val !== 0;
      return 0;
    default:
      return -Errno.ENOPROTOOPT;
  }
}

function getUdpOption(s: UdpSocketFile, name: number, out: Uint8Array): number {
  const o = st(s);
  switch (name) {
    case K.UDP_CORK:
      return putInt(out, o.udpCork ? 1 : 0);
    case K.UDP_SEGMENT:
      return putInt(out, o.udpGsoSize);
    case K.UDP_GRO:
      return putInt(out, o.udpGro ? 1 : 0);
    default:
      return -Errno.ENOPROTOOPT;
  }
}

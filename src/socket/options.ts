// getsockopt/setsockopt with Linux's rules: sk_setsockopt/sk_getsockopt (SOL_SOCKET),
// do_tcp_setsockopt (IPPROTO_TCP), do_ip_setsockopt (IPPROTO_IP), do_ipv6_setsockopt
// (IPPROTO_IPV6) and udp_lib_setsockopt (IPPROTO_UDP). Values travel as bytes exactly as
// in C (ints little-endian, struct linger, struct timeval); an int option needs four bytes
// to set (EINVAL otherwise) and is truncated to the room given when read, as Linux does.
// Options the stack does not have: ENOPROTOOPT.

import { Errno } from '../errno.js';
import { TcpState } from '../stack/tcp/connection.js';
import * as K from './constants.js';
import { RMEM_MAX, SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF, SocketFile, WMEM_MAX } from './socket-file.js';
import { TcpSocket } from './tcp-socket.js';
import { UdpSocketFile } from './udp-socket.js';

/** Linux's CONFIG_HZ on Debian kernels: SO_RCVTIMEO/SO_SNDTIMEO are kept in jiffies. */
const HZ = 250;
const TICK_US = 1_000_000 / HZ;
/** TCP_MIN_MSS, MAX_TCP_WINDOW. */
const TCP_MIN_MSS = 88;
const MAX_TCP_WINDOW = 32767;
/** tcp_fin_timeout (TCP_LINGER2 reads it when unset). */
const TCP_FIN_TIMEOUT_S = 60;

const scratch = new DataView(new ArrayBuffer(16));

function readInt(v: Uint8Array): number {
  return new DataView(v.buffer, v.byteOffset, v.byteLength).getInt32(0, true);
}

/** Writes an int truncated to the room given (Linux copies min(len, 4) bytes). Returns the length. */
function putInt(out: Uint8Array, value: number): number {
  scratch.setInt32(0, value, true);
  const n = Math.min(out.length, 4);
  for (let i = 0; i < n; i++) out[i] = scratch.getUint8(i);
  return n;
}

function putBytes(out: Uint8Array, bytes: Uint8Array): number {
  const n = Math.min(out.length, bytes.length);
  out.set(bytes.subarray(0, n));
  return n;
}

/** struct timeval {tv_sec, tv_usec} (64-bit each) from a timeout in µs kept as whole jiffies (0: none). */
function putTimeval(out: Uint8Array, us: number): number {
  const b = new Uint8Array(16);
  const d = new DataView(b.buffer);
  d.setBigInt64(0, BigInt(Math.floor(us / 1_000_000)), true);
  d.setBigInt64(8, BigInt(us % 1_000_000), true);
  return putBytes(out, b);
}

/** sock_set_timeout: a timeval into µs rounded up to jiffies; 0 means forever; −errno on bad input. */
function readTimeval(v: Uint8Array): number {
  if (v.length < 16) return -Errno.EINVAL;
  const d = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const sec = Number(d.getBigInt64(0, true)), usec = Number(d.getBigInt64(8, true));
  if (usec < 0 || usec >= 1_000_000) return -Errno.EDOM;
  if (sec < 0) return -1; // Linux stores 0 jiffies: every wait times out at once
  if (sec === 0 && usec === 0) return 0;
  const us = sec * 1_000_000 + usec;
  return Math.ceil(us / TICK_US) * TICK_US;
}

export function setOption(s: SocketFile, level: number, name: number, v: Uint8Array): number {
  if (level === K.SOL_SOCKET) return setSocketOption(s, name, v);
  if (s instanceof TcpSocket) {
    if (level === K.IPPROTO_TCP) return setTcpOption(s, name, v);
    if (level === K.IPPROTO_IP) return setIpOption(s, name, v);
    if (level === K.IPPROTO_IPV6 && s.family === 6) return setIpv6Option(s, name, v);
    return -Errno.ENOPROTOOPT;
  }
  if (s instanceof UdpSocketFile) {
    if (level === K.IPPROTO_UDP) return setUdpOption(s, name, v);
    if (level === K.IPPROTO_IP) return setIpOption(s, name, v);
    if (level === K.IPPROTO_IPV6 && s.family === 6) return setIpv6Option(s, name, v);
    return -Errno.ENOPROTOOPT;
  }
  return -Errno.EOPNOTSUPP;
}

export function getOption(s: SocketFile, level: number, name: number, out: Uint8Array): number {
  if (level === K.SOL_SOCKET) return getSocketOption(s, name, out);
  if (s instanceof TcpSocket) {
    if (level === K.IPPROTO_TCP) return getTcpOption(s, name, out);
    if (level === K.IPPROTO_IP) return getIpOption(s, name, out);
    if (level === K.IPPROTO_IPV6 && s.family === 6) return getIpv6Option(s, name, out);
    return -Errno.ENOPROTOOPT;
  }
  if (s instanceof UdpSocketFile) {
    if (level === K.IPPROTO_UDP) return getUdpOption(s, name, out);
    if (level === K.IPPROTO_IP) return getIpOption(s, name, out);
    if (level === K.IPPROTO_IPV6 && s.family === 6) return getIpv6Option(s, name, out);
    return -Errno.ENOPROTOOPT;
  }
  return -Errno.EOPNOTSUPP;
}

// -----------------------------------------------------------------------------------------
// SOL_SOCKET

function setSocketOption(s: SocketFile, name: number, v: Uint8Array): number {
  if (name === K.SO_RCVTIMEO || name === K.SO_SNDTIMEO) {
    const us = readTimeval(v);
    if (us < -1) return us;
    const t = us === -1 ? 1 : us; // "already expired"
    if (name === K.SO_RCVTIMEO) s.rcvTimeoUs = t;
    else s.sndTimeoUs = t;
    return 0;
  }
  if (name === K.SO_LINGER) {
    if (v.length < 8) return -Errno.EINVAL;
    const d = new DataView(v.buffer, v.byteOffset, 8);
    const on = d.getInt32(0, true), secs = d.getInt32(4, true);
    if (on === 0) s.lingerOn = false;
    else {
      s.lingerOn = true;
      s.lingerSeconds = secs >>> 0 > 0x7fffffff / 1000 ? 0x7fffffff : secs >>> 0;
    }
    return 0;
  }
  if (name === K.SO_BINDTODEVICE) return -Errno.ENOPROTOOPT === 0 ? 0 : setBindToDevice(s, v);
  if (v.length < 4) return -Errno.EINVAL;
  const val = readInt(v);
  const on = val !== 0;
  switch (name) {
    case K.SO_REUSEADDR:
      s.reuseAddr = on;
      return 0;
    case K.SO_REUSEPORT:
      s.reusePort = on;
      return 0;
    case K.SO_KEEPALIVE:
      s.keepalive = on;
      if (s instanceof TcpSocket && s.conn !== null) s.conn.setKeepalive(on);
      return 0;
    case K.SO_BROADCAST:
      s.broadcast = on;
      return 0;
    case K.SO_DONTROUTE:
      s.dontRoute = on;
      return 0;
    case K.SO_OOBINLINE:
      s.oobInline = on;
      return 0;
    case K.SO_DEBUG:
    case K.SO_NO_CHECK:
    case K.SO_TIMESTAMP:
    case K.SO_BUSY_POLL:
      return 0;
    case K.SO_PRIORITY:
      s.priority = val;
      return 0;
    case K.SO_RCVLOWAT:
      s.rcvLowat = val < 0 ? 0x7fffffff : val === 0 ? 1 : val;
      return 0;
    case K.SO_RCVBUF:
    case K.SO_RCVBUFFORCE:
      s.rcvbuf = SocketFile.doubledBuffer(val, RMEM_MAX, SOCK_MIN_RCVBUF, name === K.SO_RCVBUFFORCE);
      s.rcvbufLocked = true;
      applyBuffers(s);
      return 0;
    case K.SO_SNDBUF:
    case K.SO_SNDBUFFORCE:
      s.sndbuf = SocketFile.doubledBuffer(val, WMEM_MAX, SOCK_MIN_SNDBUF, name === K.SO_SNDBUFFORCE);
      s.sndbufLocked = true;
      applyBuffers(s);
      return 0;
    default:
      return -Errno.ENOPROTOOPT;
  }
}

function setBindToDevice(s: SocketFile, v: Uint8Array): number {
  const name = new TextDecoder().decode(v).replace(/\0.*$/s, '');
  if (name === '') {
    if (s instanceof TcpSocket) s.boundDevice = 0;
    return 0;
  }
  const iface = s.ctx.stack.interface(name);
  if (iface === null) return -Errno.ENODEV;
  if (s instanceof TcpSocket) s.boundDevice = iface.index;
  else if (s instanceof UdpSocketFile) s.udp.boundIfindex = iface.index;
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
  switch (name) {
    case K.SO_TYPE:
      return putInt(out, s.type);
    case K.SO_PROTOCOL:
      return putInt(out, s.protocol);
    case K.SO_DOMAIN:
      return putInt(out, s.domain);
    case K.SO_ACCEPTCONN:
      return putInt(out, s instanceof TcpSocket && s.isListening ? 1 : 0);
    case K.SO_ERROR:
      return putInt(out, -s.takeError());
    case K.SO_REUSEADDR:
      return putInt(out, s.reuseAddr ? 1 : 0);
    case K.SO_REUSEPORT:
      return putInt(out, s.reusePort ? 1 : 0);
    case K.SO_KEEPALIVE:
      return putInt(out, s.keepalive ? 1 : 0);
    case K.SO_BROADCAST:
      return putInt(out, s.broadcast ? 1 : 0);
    case K.SO_DONTROUTE:
      return putInt(out, s.dontRoute ? 1 : 0);
    case K.SO_OOBINLINE:
      return putInt(out, s.oobInline ? 1 : 0);
    case K.SO_DEBUG:
    case K.SO_NO_CHECK:
    case K.SO_TIMESTAMP:
    case K.SO_BUSY_POLL:
      return putInt(out, 0);
    case K.SO_PRIORITY:
      return putInt(out, s.priority);
    case K.SO_RCVLOWAT:
      return putInt(out, s.rcvLowat);
    case K.SO_SNDLOWAT:
      return putInt(out, 1);
    case K.SO_RCVBUF:
      return putInt(out, s.rcvbuf);
    case K.SO_SNDBUF:
      return putInt(out, s.sndbuf);
    case K.SO_LINGER: {
      const b = new Uint8Array(8);
      const d = new DataView(b.buffer);
      d.setInt32(0, s.lingerOn ? 1 : 0, true);
      d.setInt32(4, s.lingerSeconds, true);
      return putBytes(out, b);
    }
    case K.SO_RCVTIMEO:
      return putTimeval(out, s.rcvTimeoUs === 1 ? 0 : s.rcvTimeoUs);
    case K.SO_SNDTIMEO:
      return putTimeval(out, s.sndTimeoUs === 1 ? 0 : s.sndTimeoUs);
    default:
      return -Errno.ENOPROTOOPT;
  }
}

// -----------------------------------------------------------------------------------------
// IPPROTO_TCP

function setTcpOption(s: TcpSocket, name: number, v: Uint8Array): number {
  if (name === K.TCP_CONGESTION) {
    const algo = new TextDecoder().decode(v).replace(/\0.*$/s, '');
    if (algo !== 'cubic' && algo !== 'reno') return -Errno.ENOENT;
    s.congestion = algo;
    if (s.conn !== null) s.conn.setCongestion(algo);
    return 0;
  }
  if (v.length < 4) return -Errno.EINVAL;
  const val = readInt(v);
  const c = s.conn;
  switch (name) {
    case K.TCP_NODELAY:
      s.noDelay = val !== 0;
      if (c !== null) c.setNoDelay(s.noDelay);
      return 0;
    case K.TCP_CORK:
      s.cork = val !== 0;
      if (c !== null) c.setCork(s.cork);
      return 0;
    case K.TCP_MAXSEG:
      if (val !== 0 && (val < TCP_MIN_MSS || val > MAX_TCP_WINDOW)) return -Errno.EINVAL;
      s.maxSeg = val;
      return 0;
    case K.TCP_KEEPIDLE:
      if (val < 1 || val > MAX_TCP_WINDOW) return -Errno.EINVAL;
      s.keepIdle = val;
      if (c !== null) {
        c.keepIdleUs = val * 1_000_000;
        if (s.keepalive) c.setKeepalive(true);
      }
      return 0;
    case K.TCP_KEEPINTVL:
      if (val < 1 || val > MAX_TCP_WINDOW) return -Errno.EINVAL;
      s.keepIntvl = val;
      if (c !== null) c.keepIntervalUs = val * 1_000_000;
      return 0;
    case K.TCP_KEEPCNT:
      if (val < 1 || val > 127) return -Errno.EINVAL;
      s.keepCnt = val;
      if (c !== null) c.keepCount = val;
      return 0;
    case K.TCP_SYNCNT:
      if (val < 1 || val > 127) return -Errno.EINVAL;
      s.synCnt = val;
      return 0;
    case K.TCP_LINGER2:
      s.linger2 = val < 0 ? -1 : val > TCP_FIN_TIMEOUT_S * 2 ? 0 : val;
      return 0;
    case K.TCP_DEFER_ACCEPT:
      s.deferAccept = Math.max(0, val);
      return 0;
    case K.TCP_WINDOW_CLAMP:
      if (val !== 0 && val < SOCK_MIN_RCVBUF / 2 && s.skState() !== TcpState.Closed) return -Errno.EINVAL;
      s.windowClamp = val < 0 ? -1 : val;
      return val < 0 ? -Errno.EINVAL : 0;
    case K.TCP_QUICKACK:
      s.quickAckOn = (val & 1) !== 0;
      if (c !== null && s.quickAckOn) c.quickAck();
      return 0;
    case K.TCP_USER_TIMEOUT:
      if (val < 0) return -Errno.EINVAL;
      s.userTimeoutMs = val;
      if (c !== null) c.userTimeoutUs = val * 1000;
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
  const st = s.skState();
  switch (name) {
    case K.TCP_NODELAY:
      return putInt(out, s.noDelay ? 1 : 0);
    case K.TCP_CORK:
      return putInt(out, s.cork ? 1 : 0);
    case K.TCP_MAXSEG: {
      let mss = c !== null && st !== TcpState.Closed && st !== TcpState.Listen && st !== TcpState.SynSent ? c.mss : 536;
      if (s.maxSeg !== 0 && (st === TcpState.Closed || st === TcpState.Listen)) mss = s.maxSeg;
      return putInt(out, mss);
    }
    case K.TCP_KEEPIDLE:
      return putInt(out, s.keepIdle);
    case K.TCP_KEEPINTVL:
      return putInt(out, s.keepIntvl);
    case K.TCP_KEEPCNT:
      return putInt(out, s.keepCnt);
    case K.TCP_SYNCNT:
      return putInt(out, s.synCnt || 6);
    case K.TCP_LINGER2:
      return putInt(out, s.linger2 < 0 ? -1 : s.linger2 || TCP_FIN_TIMEOUT_S);
    case K.TCP_DEFER_ACCEPT:
      return putInt(out, s.deferAccept);
    case K.TCP_WINDOW_CLAMP:
      return putInt(out, s.windowClamp > 0 ? s.windowClamp : 0);
    case K.TCP_QUICKACK:
      return putInt(out, s.quickAckOn ? 1 : 0);
    case K.TCP_USER_TIMEOUT:
      return putInt(out, s.userTimeoutMs);
    case K.TCP_NOTSENT_LOWAT:
      return putInt(out, s.notSentLowat);
    case K.TCP_CONGESTION: {
      const b = new Uint8Array(16);
      b.set(new TextEncoder().encode(s.congestion));
      return putBytes(out, b);
    }
    case K.TCP_INFO: {
      // The leading fields of struct tcp_info: state, ca_state, retransmits, probes, backoff, options.
      const b = new Uint8Array(8);
      b[0] = tcpStateNumber(st);
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
// IPPROTO_IP / IPPROTO_IPV6 / IPPROTO_UDP

/** Per-socket IP options kept on the socket file (the UDP engine keeps its own too). */
interface IpState {
  ipTos?: number;
  ipTtl?: number;
  ipRecvErr?: boolean;
  pmtuDisc?: number;
  freeBind?: boolean;
  bindNoPort?: boolean;
  tclass?: number;
  hops6?: number;
  udpCork?: boolean;
  udpSegment?: number;
  udpGro?: boolean;
}

function ipState(s: SocketFile): IpState {
  const o = s as SocketFile & { ip?: IpState };
  return (o.ip ??= {});
}

/** ip_setsockopt reads small options as an int, or as one byte when fewer than four are given (do_ip_setsockopt). */
function ipInt(v: Uint8Array): number | null {
  if (v.length >= 4) return readInt(v);
  if (v.length >= 1) return v[0]!;
  return null;
}

function setIpOption(s: SocketFile, name: number, v: Uint8Array): number {
  const st = ipState(s);
  const udp = s instanceof UdpSocketFile ? s.udp : null;
  const val = ipInt(v);
  switch (name) {
    case K.IP_TOS:
      if (val === null) return -Errno.EINVAL;
      st.ipTos = val & 0xff & ~3;
      return 0;
    case K.IP_TTL:
      if (v.length < 4) return -Errno.EINVAL;
      if (val !== -1 && (val! < 1 || val! > 255)) return -Errno.EINVAL;
      st.ipTtl = val!;
      if (udp !== null) udp.unicastTtl = val!;
      return 0;
    case K.IP_MULTICAST_TTL:
      if (val === null) return -Errno.EINVAL;
      if (val < -1 || val > 255) return -Errno.EINVAL;
      if (udp !== null) udp.multicastTtl = val === -1 ? 1 : val;
      return 0;
    case K.IP_MULTICAST_LOOP:
      if (val === null) return -Errno.EINVAL;
      if (udp !== null) udp.multicastLoop = val !== 0;
      return 0;
    case K.IP_RECVERR:
      if (val === null) return -Errno.EINVAL;
      st.ipRecvErr = val !== 0;
      if (udp !== null) udp.recvErr = val !== 0;
      return 0;
    case K.IP_MTU_DISCOVER:
      if (val === null) return -Errno.EINVAL;
      if (val < 0 || val > 5) return -Errno.EINVAL;
      st.pmtuDisc = val;
      return 0;
    case K.IP_FREEBIND:
      if (val === null) return -Errno.EINVAL;
      st.freeBind = val !== 0;
      return 0;
    case K.IP_BIND_ADDRESS_NO_PORT:
      if (val === null) return -Errno.EINVAL;
      st.bindNoPort = val !== 0;
      return 0;
    default:
      return -Errno.ENOPROTOOPT;
  }
}

function getIpOption(s: SocketFile, name: number, out: Uint8Array): number {
  const st = ipState(s);
  const udp = s instanceof UdpSocketFile ? s.udp : null;
  switch (name) {
    case K.IP_TOS:
      return putInt(out, st.ipTos ?? 0);
    case K.IP_TTL:
      return putInt(out, st.ipTtl === undefined || st.ipTtl === -1 ? 64 : st.ipTtl);
    case K.IP_MULTICAST_TTL:
      return putInt(out, udp !== null ? udp.multicastTtl : 1);
    case K.IP_MULTICAST_LOOP:
      return putInt(out, udp === null || udp.multicastLoop ? 1 : 0);
    case K.IP_RECVERR:
      return putInt(out, st.ipRecvErr ? 1 : 0);
    case K.IP_MTU_DISCOVER:
      return putInt(out, st.pmtuDisc ?? 1);
    case K.IP_FREEBIND:
      return putInt(out, st.freeBind ? 1 : 0);
    case K.IP_BIND_ADDRESS_NO_PORT:
      return putInt(out, st.bindNoPort ? 1 : 0);
    case K.IP_MTU:
      if (!(s instanceof TcpSocket && s.conn !== null && s.skState() !== TcpState.Closed)) return -Errno.ENOTCONN;
      return putInt(out, s.conn.mss + 40);
    default:
      return -Errno.ENOPROTOOPT;
  }
}

function setIpv6Option(s: SocketFile, name: number, v: Uint8Array): number {
  const st = ipState(s);
  const udp = s instanceof UdpSocketFile ? s.udp : null;
  if (v.length < 4) return name === K.IPV6_V6ONLY || name === K.IPV6_UNICAST_HOPS || name === K.IPV6_MULTICAST_HOPS || name === K.IPV6_MULTICAST_LOOP || name === K.IPV6_TCLASS || name === K.IPV6_RECVERR ? -Errno.EINVAL : -Errno.ENOPROTOOPT;
  const val = readInt(v);
  switch (name) {
    case K.IPV6_V6ONLY: {
      const bound = s instanceof TcpSocket ? s.boundPort !== 0 : udp !== null && udp.localPort !== 0;
      if (bound) return -Errno.EINVAL;
      if (s instanceof TcpSocket) s.v6Only = val !== 0;
      if (udp !== null) udp.v6Only = val !== 0;
      return 0;
    }
    case K.IPV6_UNICAST_HOPS:
      if (val < -1 || val > 255) return -Errno.EINVAL;
      st.hops6 = val;
      if (udp !== null) udp.unicastTtl = val;
      return 0;
    case K.IPV6_MULTICAST_HOPS:
      if (val < -1 || val > 255) return -Errno.EINVAL;
      if (udp !== null) udp.multicastTtl = val === -1 ? 1 : val;
      return 0;
    case K.IPV6_MULTICAST_LOOP:
      if (val !== 0 && val !== 1) return -Errno.EINVAL;
      if (udp !== null) udp.multicastLoop = val === 1;
      return 0;
    case K.IPV6_TCLASS:
      if (val < -1 || val > 0xff) return -Errno.EINVAL;
      st.tclass = val === -1 ? 0 : val;
      return 0;
    case K.IPV6_RECVERR:
      st.ipRecvErr = val !== 0;
      if (udp !== null) udp.recvErr = val !== 0;
      return 0;
    default:
      return -Errno.ENOPROTOOPT;
  }
}

function getIpv6Option(s: SocketFile, name: number, out: Uint8Array): number {
  const st = ipState(s);
  const udp = s instanceof UdpSocketFile ? s.udp : null;
  switch (name) {
    case K.IPV6_V6ONLY:
      return putInt(out, (s instanceof TcpSocket ? s.v6Only : udp?.v6Only) ? 1 : 0);
    case K.IPV6_UNICAST_HOPS:
      return putInt(out, st.hops6 === undefined || st.hops6 === -1 ? 64 : st.hops6);
    case K.IPV6_MULTICAST_HOPS:
      return putInt(out, udp !== null ? udp.multicastTtl : 1);
    case K.IPV6_MULTICAST_LOOP:
      return putInt(out, udp === null || udp.multicastLoop ? 1 : 0);
    case K.IPV6_TCLASS:
      return putInt(out, st.tclass ?? 0);
    case K.IPV6_RECVERR:
      return putInt(out, st.ipRecvErr ? 1 : 0);
    default:
      return -Errno.ENOPROTOOPT;
  }
}

function setUdpOption(s: UdpSocketFile, name: number, v: Uint8Array): number {
  const st = ipState(s);
  if (v.length < 4) return -Errno.EINVAL;
  const val = readInt(v);
  switch (name) {
    case K.UDP_CORK:
      st.udpCork = val !== 0;
      return 0;
    case K.UDP_SEGMENT:
      if (val < 0 || val > 0xffff) return -Errno.EINVAL;
      st.udpSegment = val;
      return 0;
    case K.UDP_GRO:
      st.udpGro = val !== 0;
      return 0;
    default:
      return -Errno.ENOPROTOOPT;
  }
}

function getUdpOption(s: UdpSocketFile, name: number, out: Uint8Array): number {
  const st = ipState(s);
  switch (name) {
    case K.UDP_CORK:
      return putInt(out, st.udpCork ? 1 : 0);
    case K.UDP_SEGMENT:
      return putInt(out, st.udpSegment ?? 0);
    case K.UDP_GRO:
      return putInt(out, st.udpGro ? 1 : 0);
    default:
      return -Errno.ENOPROTOOPT;
  }
}

// Engine-level UDP sockets (RFC 768, RFC 8200 §8.1) for IPv4 and IPv6: bind (specific or
// wildcard address, port 0 → ephemeral), connect/disconnect, sendTo, dual-stack IPv6
// sockets that also carry IPv4 as v4-mapped addresses unless IPV6_V6ONLY (RFC 4038 §4.2,
// RFC 3493 §5.3), multicast memberships with source filters (RFC 3678), and a receive
// queue of preallocated slots so steady-state receive allocates nothing. Errors are the
// ones Linux gives for the same call (EADDRINUSE, EDESTADDRREQ, EMSGSIZE, ECONNREFUSED,
// EAFNOSUPPORT, ...). The BSD socket layer builds on this.

import { ErrnoError } from '../errno.js';
import type { SeededRng } from '../rng.js';
import type { Ipv4Address, Ipv6Address } from '../wire/address.js';
import { IPV6_ANY, IPV6_LOOPBACK, isLinkLocal6, isMulticast6, isUnspecified6, isV4Mapped, ipv6Equal, v4FromMapped, v4MappedAddress } from './ipv6-address.js';

/** net.ipv4.ip_local_port_range default. */
export const EPHEMERAL_LOW = 32768;
export const EPHEMERAL_HIGH = 60999;
/** net.core.rmem_default. */
export const DEFAULT_RCVBUF = 212992;
/** 65535 − 20 (IPv4 header) − 8 (UDP header). */
export const MAX_UDP_PAYLOAD_V4 = 65507;
/** 65535 − 8: the IPv6 payload length bounds the UDP length (RFC 8200 §3; no jumbograms). */
export const MAX_UDP_PAYLOAD_V6 = 65527;
export const ANY = 0;
/** Linux's igmp_max_msf / mld_max_msf: sources per socket filter. */
export const MAX_SOURCES_PER_FILTER = 10;
/** Linux's igmp_max_memberships. */
export const MAX_MEMBERSHIPS = 20;

export type IpAddress = Ipv4Address | Ipv6Address;

/** The socket layer's hook for a UDP socket (Linux's sk_data_ready and sk_error_report). */
export interface UdpWaker {
  udpEvent(sock: UdpSocket, event: number): void;
}
/** Events for UdpWaker: a datagram was queued; an error is pending. */
export const UdpEvent = { Data: 1, Error: 8 } as const;
export type Family = 4 | 6;

export interface Datagram {
  data: Uint8Array;
  /** A number for an IPv4 socket; 16 bytes (v4-mapped for IPv4 peers) for an IPv6 socket. */
  address: IpAddress;
  port: number;
}

/** One multicast filter of a socket on one interface (RFC 3678's per-socket state). */
export class MulticastFilter {
  constructor(
    readonly ifindex: number,
    readonly group: IpAddress,
    public mode: 'include' | 'exclude',
    readonly sources: IpAddress[],
  ) {}
}

/** What a socket needs from the stack. */
export interface UdpHost {
  readonly udp: UdpTable;
  isLocal4(ip: Ipv4Address): boolean;
  isLocal6(ip: Ipv6Address): boolean;
  isBroadcast(ip: Ipv4Address): boolean;
  /** Source address toward dst, or null without a route. */
  sourceFor4(dst: Ipv4Address, ifindex: number): Ipv4Address | null;
  sourceFor6(dst: Ipv6Address, ifindex: number): Ipv6Address | null;
  sendUdp4(src: Ipv4Address, srcPort: number, dst: Ipv4Address, dstPort: number, data: Uint8Array, from: UdpSocket): boolean;
  sendUdp6(src: Ipv6Address, srcPort: number, dst: Ipv6Address, dstPort: number, data: Uint8Array, from: UdpSocket, ifindex: number): boolean;
  /** The interface a membership for `group` goes on: `hint` if given (index, or an IPv4 address's interface), else the route's. 0: none. */
  multicastInterface(family: Family, group: IpAddress, hint: number | Ipv4Address | undefined): number;
  /** The socket's filter for (ifindex, group) changed; mode include with no sources means gone. */
  setMulticastFilter(family: Family, ifindex: number, group: IpAddress, socketId: number, mode: 'include' | 'exclude', sources: IpAddress[]): void;
  hasInterface(ifindex: number): boolean;
}

/** Where a datagram goes (one per socket, reused). */
class Destination {
  family: Family = 4;
  v4 = 0;
  v6: Ipv6Address = IPV6_ANY;
  ifindex = 0;
  set(family: Family, v4: number, v6: Ipv6Address, ifindex: number): this {
    this.family = family;
    this.v4 = v4;
    this.v6 = v6;
    this.ifindex = ifindex;
    return this;
  }
}

/** Where a datagram goes and where it comes from (Linux's flowi4/flowi6 after the route lookup). */
export class UdpRoute {
  family: Family = 4;
  src4 = 0;
  dst4 = 0;
  readonly src6 = new Uint8Array(16);
  readonly dst6 = new Uint8Array(16);
  port = 0;
  ifindex = 0;
  copyFrom(r: UdpRoute): this {
    this.family = r.family;
    this.src4 = r.src4;
    this.dst4 = r.dst4;
    this.src6.set(r.src6);
    this.dst6.set(r.dst6);
    this.port = r.port;
    this.ifindex = r.ifindex;
    return this;
  }
}

/** Copies len bytes; a plain loop for small datagrams avoids the view object set(subarray) would allocate. */
function copyBytes(dst: Uint8Array, dstAt: number, src: Uint8Array, srcAt: number, len: number): void {
  if (len > 256) {
    dst.set(src.subarray(srcAt, srcAt + len), dstAt);
    return;
  }
  for (let i = 0; i < len; i++) dst[dstAt + i] = src[srcAt + i]!;
}

/** A received datagram held in a reusable slot. */
class Slot {
  data = new Uint8Array(0);
  length = 0;
  family: Family = 4;
  addr4 = 0;
  readonly addr6 = new Uint8Array(16);
  port = 0;
  ifindex = 0;
}

let nextSocketId = 1;

export class UdpSocket {
  readonly id = nextSocketId++;
  /** Local address as given to bind (0 / :: for the wildcard). */
  localAddress: IpAddress;
  localPort = 0;
  remoteAddress: IpAddress;
  remotePort = 0;
  rcvbuf = DEFAULT_RCVBUF;
  /** SO_REUSEADDR: may share a port with other sockets that set it too (set before bind). */
  reuseAddress = false;
  /** SO_REUSEPORT: may share a port with others that set it; unicast is spread among them by flow. */
  reusePort = false;
  /** IPV6_V6ONLY (IPv6 sockets, before bind): no IPv4 traffic. Linux's default is net.ipv6.bindv6only = 0. */
  v6Only = false;
  /** SO_BINDTODEVICE: only this interface (0: any). Also set by binding or connecting to a link-local address with a scope. */
  boundIfindex = 0;
  /** @internal Bind order, for Linux's "most recent wins" among SO_REUSEADDR sockets. */
  bindSeq = 0;
  /** SO_BROADCAST: required to send to a broadcast address (Linux: EACCES otherwise). */
  broadcast = false;
  /** IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS: 1 by default (RFC 1112 §6.1, RFC 3493 §5.2). */
  multicastTtl = 1;
  /** IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP: on by default; local members get a copy of what we send. */
  multicastLoop = true;
  /** IP_MULTICAST_IF / IPV6_MULTICAST_IF as an interface index (0: by route). */
  multicastIfindex = 0;
  /** IP_MULTICAST_IF given as an address: the source for multicast sends. */
  multicastSource: Ipv4Address = 0;
  /** IP_TTL / IPV6_UNICAST_HOPS (-1: the interface default, 64). */
  unicastTtl = -1;
  /** Memberships with their source filters. */
  readonly filters: MulticastFilter[] = [];
  /** IP_RECVERR / IPV6_RECVERR: every ICMP error (and neighbour failure) about our datagrams is reported, not only hard errors on a connected socket. */
  recvErr = false;
  /** Errors reported once by the next call, like Linux's sk_err (e.g. ECONNREFUSED). */
  pendingError: ErrnoError | null = null;
  /** Datagrams dropped because the receive queue was full (Linux: UDP RcvbufErrors). */
  drops = 0;
  closed = false;
  /** The socket layer, told when a datagram is queued or an error arrives. */
  waker: UdpWaker | null = null;
  /** After recvInto: the sender of the datagram read (a number or a reused 16-byte array), its port and interface. */
  lastAddress: IpAddress = 0;
  lastPort = 0;
  lastIfindex = 0;
  /** @internal Match keys (see UdpTable): which IPv4/IPv6 destinations the socket takes. */
  accepts4 = true;
  local4 = 0;
  accepts6 = false;
  local6: Ipv6Address = IPV6_ANY;
  /** Linux's SOCK_BINDADDR_LOCK / SOCK_BINDPORT_LOCK: bind() named an address / a port, so a disconnect keeps it. */
  bindAddrLocked = false;
  bindPortLocked = false;
  /**
   * @internal An IPv6 socket whose address a connect() set and a disconnect reset stays
   * hashed under that address in Linux 6.18 (only the IPv4 lookup has a by-port fallback):
   * IPv6 datagrams reach it only when sent to this address. null: none.
   */
  stale6: Ipv6Address | null = null;
  /** @internal Connected peer in either family (remoteFamily 0: not connected). */
  remoteFamily: 0 | Family = 0;
  remote4 = 0;
  remote6: Ipv6Address = IPV6_ANY;
  /** Scratch for destination(): reused, so sendTo allocates nothing. */
  private readonly dst = new Destination();
  /** Datagrams (and their payload bytes) queued to the socket and sent by it (`xlio stats`). */
  rxPackets = 0;
  rxBytes = 0;
  txPackets = 0;
  txBytes = 0;
  private slots: Slot[] = [];
  private head = 0;
  private count = 0;
  private queuedBytes = 0;
  private readonly last6 = new Uint8Array(16);

  constructor(
    private readonly host: UdpHost,
    readonly family: Family = 4,
  ) {
    this.localAddress = family === 4 ? ANY : IPV6_ANY;
    this.remoteAddress = family === 4 ? ANY : IPV6_ANY;
    this.accepts4 = family === 4;
    this.accepts6 = family === 6;
    if (family === 6) this.accepts4 = true; // dual-stack until v6Only or a bind says otherwise
    for (let i = 0; i < 4; i++) this.slots.push(new Slot());
  }

  /** connect() succeeded (Linux's TCP_ESTABLISHED); the peer's port may be 0, which takes any source port. */
  get connected(): boolean {
    return this.remoteFamily !== 0;
  }

  bind(address: IpAddress, port: number, scopeId = 0): void {
    this.checkOpen('bind');
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new ErrnoError('EINVAL', 'bind');
    // Already bound or connected: EINVAL — __inet6_bind checks this before the address, __inet_bind after.
    const active = this.localPort !== 0 || this.connected;
    if (active && this.family === 6) throw new ErrnoError('EINVAL', 'bind');
    const key = this.bindKeys(address, scopeId);
    if (active) throw new ErrnoError('EINVAL', 'bind');
    this.host.udp.bind(this, port, key);
    this.localAddress = typeof address === 'number' ? address : Uint8Array.from(address);
    this.stale6 = null;
    // inet_bind / __inet6_bind: the user locks; a specific IPv6 address also makes the socket v6-only.
    this.bindAddrLocked = typeof address === 'number' ? address !== ANY : !isUnspecified6(address);
    this.bindPortLocked = port !== 0;
    if (typeof address !== 'number' && !isUnspecified6(address) && !isV4Mapped(address)) this.v6Only = true;
  }

  /** Works out (without changing the socket) what a bind to `address` would accept. */
  private bindKeys(address: IpAddress, scopeId: number): BindKeys {
    const k: BindKeys = { accepts4: false, local4: 0, accepts6: false, local6: IPV6_ANY, ifindex: this.boundIfindex };
    if (this.family === 4) {
      if (typeof address !== 'number') throw new ErrnoError('EAFNOSUPPORT', 'bind');
      // Linux (inet_bind): a local, broadcast or multicast address, or the wildcard.
      if (address !== ANY && !this.host.isLocal4(address) && !this.host.isBroadcast(address) && address >>> 28 !== 0xe) {
        throw new ErrnoError('EADDRNOTAVAIL', 'bind');
      }
      k.accepts4 = true;
      k.local4 = address;
      return k;
    }
    if (typeof address === 'number' || address.length !== 16) throw new ErrnoError('EINVAL', 'bind'); // Linux: short sockaddr_in6
    if (isV4Mapped(address)) {
      // Linux (__inet6_bind): a v4-mapped address is an IPv4 bind; refused on a v6-only socket.
      if (this.v6Only) throw new ErrnoError('EINVAL', 'bind');
      const v4 = v4FromMapped(address);
      if (v4 !== ANY && !this.host.isLocal4(v4) && !this.host.isBroadcast(v4) && v4 >>> 28 !== 0xe) throw new ErrnoError('EADDRNOTAVAIL', 'bind');
      k.accepts4 = true;
      k.local4 = v4;
      return k;
    }
    if (isUnspecified6(address)) {
      k.accepts6 = true;
      k.accepts4 = !this.v6Only;
      return k;
    }
    if (isLinkLocal6(address) || (isMulticast6(address) && (address[1]! & 0xf) <= 2)) {
      // A link-scope address needs an interface (Linux: EINVAL without a scope id or bound device).
      if (scopeId !== 0) {
        if (!this.host.hasInterface(scopeId)) throw new ErrnoError('ENODEV', 'bind');
        if (this.boundIfindex !== 0 && this.boundIfindex !== scopeId) throw new ErrnoError('EINVAL', 'bind');
        k.ifindex = scopeId;
      } else if (this.boundIfindex === 0 && !isMulticast6(address)) throw new ErrnoError('EINVAL', 'bind');
    }
    if (!isMulticast6(address) && !this.host.isLocal6(address)) throw new ErrnoError('EADDRNOTAVAIL', 'bind');
    k.accepts6 = true;
    k.local6 = Uint8Array.from(address);
    return k;
  }

  /** @internal Applied by UdpTable.bind once the port is granted. */
  applyBind(k: BindKeys, port: number, seq: number): void {
    this.accepts4 = k.accepts4;
    this.local4 = k.local4;
    this.accepts6 = k.accepts6;
    this.local6 = k.local6;
    this.boundIfindex = k.ifindex;
    this.localPort = port;
    this.bindSeq = seq;
  }

  /** An implicit bind to the wildcard (inet_autobind), as send and connect do on an unbound socket. */
  autobind(): void {
    if (this.localPort !== 0) return;
    // inet_autobind picks a port only: an address bind() named (kept by a disconnect) stays.
    const keys = this.bindAddrLocked
      ? { accepts4: this.accepts4, local4: this.local4, accepts6: this.accepts6, local6: this.local6, ifindex: this.boundIfindex }
      : this.bindKeys(this.family === 4 ? ANY : IPV6_ANY, 0);
    this.host.udp.bind(this, 0, keys);
  }

  connect(address: IpAddress, port: number, scopeId = 0): void {
    this.checkOpen('connect');
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new ErrnoError('EINVAL', 'connect');
    const dst = this.destination(address, 'connect', scopeId);
    const r = this.route;
    if (dst.family === 4) this.route4(dst.v4, port, r, 'connect');
    else this.route6(dst.v6, port, dst.ifindex, r, 'connect');
    this.autobind();
    if (dst.ifindex !== 0 && this.boundIfindex === 0) this.boundIfindex = dst.ifindex;
    this.remoteFamily = r.family;
    this.remote4 = r.dst4;
    this.remote6 = r.family === 6 ? Uint8Array.from(r.dst6) : IPV6_ANY;
    this.remoteAddress = this.family === 4 ? r.dst4 : r.family === 4 ? v4MappedAddress(r.dst4) : Uint8Array.from(r.dst6);
    this.remotePort = port;
    // __ip4_datagram_connect / ip6_datagram_dst_update: an unset local address becomes the route's source.
    if (this.family === 4) {
      if (this.local4 === ANY) this.local4 = this.localAddress = r.src4;
    } else if (r.family === 4) {
      if ((this.accepts6 && isUnspecified6(this.local6)) || (!this.accepts6 && this.local4 === ANY)) {
        this.accepts6 = false;
        this.accepts4 = true;
        this.local4 = r.src4;
        this.local6 = IPV6_ANY;
        this.localAddress = v4MappedAddress(r.src4);
      }
    } else if (this.accepts6 && isUnspecified6(this.local6)) {
      this.local6 = Uint8Array.from(r.src6);
      this.accepts4 = false;
      this.localAddress = this.local6;
    }
    this.stale6 = null;
  }

  /**
   * connect() with AF_UNSPEC (Linux's __udp_disconnect): no peer, no bound device; the
   * local address goes back to the wildcard unless bind() named one, and the port is
   * released unless bind() named one.
   */
  disconnect(): void {
    this.checkOpen('connect');
    this.remoteFamily = 0;
    this.remote4 = 0;
    this.remote6 = IPV6_ANY;
    this.remoteAddress = this.family === 4 ? ANY : IPV6_ANY;
    this.remotePort = 0;
    this.boundIfindex = 0;
    if (!this.bindAddrLocked) {
      if (this.family === 6 && this.localPort !== 0) {
        if (!this.accepts6) this.stale6 = v4MappedAddress(this.local4);
        else if (!isUnspecified6(this.local6)) this.stale6 = this.local6;
      }
      this.local4 = ANY;
      this.accepts4 = this.family === 4 || !this.v6Only;
      this.accepts6 = this.family === 6;
      this.local6 = IPV6_ANY;
      this.localAddress = this.family === 4 ? ANY : IPV6_ANY;
    }
    if (!this.bindPortLocked && this.localPort !== 0) {
      this.host.udp.unbind(this);
      this.localPort = 0;
      this.stale6 = null;
    }
  }

  /** Sends one datagram; returns the bytes sent. */
  sendTo(data: Uint8Array, address?: IpAddress, port?: number, scopeId = 0): number {
    this.checkOpen('sendto');
    this.raisePending('sendto');
    const r = this.route;
    if (address !== undefined && port !== undefined) {
      if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new ErrnoError('EINVAL', 'sendto');
      if (port === 0) throw new ErrnoError('EINVAL', 'sendto'); // Linux: port 0 is not a destination
      const d = this.destination(address, 'sendto', scopeId);
      if (d.family === 4) {
        if (data.length > MAX_UDP_PAYLOAD_V4) throw new ErrnoError('EMSGSIZE', 'sendto');
        this.route4(d.v4, port, r, 'sendto');
      } else {
        if (data.length > MAX_UDP_PAYLOAD_V6) throw new ErrnoError('EMSGSIZE', 'sendto');
        this.route6(d.v6, port, d.ifindex !== 0 ? d.ifindex : this.boundIfindex, r, 'sendto');
      }
    } else if (this.connected) {
      if (data.length > (this.remoteFamily === 4 ? MAX_UDP_PAYLOAD_V4 : MAX_UDP_PAYLOAD_V6)) throw new ErrnoError('EMSGSIZE', 'sendto');
      this.connectedRoute(r);
    } else throw new ErrnoError('EDESTADDRREQ', 'sendto');
    this.transmit(r, data);
    return data.length;
  }

  /** Scratch route (reused, so a send allocates nothing). */
  readonly route = new UdpRoute();

  /** The route to the connected peer (the socket layer calls it after its own checks). */
  connectedRoute(out: UdpRoute): UdpRoute {
    if (this.remoteFamily === 4) return this.route4(this.remote4, this.remotePort, out, 'sendto');
    return this.route6(this.remote6, this.remotePort, this.boundIfindex, out, 'sendto');
  }

  /**
   * The IPv4 route of a datagram (udp_sendmsg's ip_route_output_flow): the source is the
   * bound address if it is a unicast one — EINVAL once it is no longer ours — else
   * IP_MULTICAST_IF's address for multicast, else the route's choice. 0.0.0.0 means the
   * bound address or 127.0.0.1 (ip_route_output_key_hash_rcu). EACCES for a broadcast
   * without SO_BROADCAST.
   */
  route4(dst: Ipv4Address, port: number, out: UdpRoute, syscall: string): UdpRoute {
    const l = this.local4;
    const bound = this.accepts4 && l !== ANY && l >>> 28 !== 0xe && !this.host.isBroadcast(l) ? l : ANY;
    if (dst === ANY) dst = bound !== ANY ? bound : 0x7f000001;
    let src: Ipv4Address | null;
    if (bound !== ANY) {
      if (!this.host.isLocal4(bound)) throw new ErrnoError('EINVAL', syscall);
      let ifindex = dst >>> 28 === 0xe && this.multicastIfindex !== 0 ? this.multicastIfindex : this.boundIfindex;
      // ip_route_output_key_hash_rcu: with a source address and no interface, a multicast or
      // limited-broadcast destination leaves through the source's own interface (even lo).
      if (ifindex === 0 && (dst >>> 28 === 0xe || (dst | 0) === -1)) ifindex = this.host.multicastInterface(4, dst, bound);
      if (this.host.sourceFor4(dst, ifindex) === null) throw new ErrnoError('ENETUNREACH', syscall);
      src = bound;
    } else if (dst >>> 28 === 0xe && this.multicastSource !== 0) src = this.multicastSource;
    else {
      const ifindex = dst >>> 28 === 0xe && this.multicastIfindex !== 0 ? this.multicastIfindex : this.boundIfindex;
      src = this.host.sourceFor4(dst, ifindex);
      if (src === null) throw new ErrnoError('ENETUNREACH', syscall);
    }
    if (!this.broadcast && this.host.isBroadcast(dst)) throw new ErrnoError('EACCES', syscall);
    out.family = 4;
    out.src4 = src;
    out.dst4 = dst;
    out.port = port;
    out.ifindex = this.boundIfindex;
    return out;
  }

  /** The IPv6 route (udpv6_sendmsg, ip6_datagram_dst_update): :: means ::1; the bound unicast address is the source. */
  route6(dst: Ipv6Address, port: number, ifindex: number, out: UdpRoute, syscall: string): UdpRoute {
    if (isUnspecified6(dst)) dst = IPV6_LOOPBACK;
    let src: Ipv6Address | null = this.accepts6 && !isUnspecified6(this.local6) && !isMulticast6(this.local6) ? this.local6 : null;
    const routed = this.host.sourceFor6(dst, ifindex);
    if (routed === null) throw new ErrnoError('ENETUNREACH', syscall);
    // A socket with a v4-mapped source cannot talk IPv6 (ip6_dst_lookup_tail, after the route lookup).
    if ((this.localPort !== 0 || this.bindAddrLocked) && !this.accepts6) throw new ErrnoError('EAFNOSUPPORT', syscall);
    if (src === null) src = routed;
    out.family = 6;
    out.src6.set(src);
    out.dst6.set(dst);
    out.port = port;
    out.ifindex = ifindex;
    return out;
  }

  /** Sends a datagram along a route (autobinding first, as udp_sendmsg's caller does). */
  transmit(r: UdpRoute, data: Uint8Array): void {
    this.autobind();
    this.txPackets++;
    this.txBytes += data.length;
    if (r.family === 4) this.host.sendUdp4(r.src4, this.localPort, r.dst4, r.port, data, this);
    else this.host.sendUdp6(r.src6, this.localPort, r.dst6, r.port, data, this, r.ifindex);
  }

  /** Resolves a destination given to connect/sendto into its family and addresses, with Linux's errors. */
  private destination(address: IpAddress, syscall: string, scopeId: number): Destination {
    const d = this.dst;
    if (this.family === 4) {
      if (typeof address !== 'number') throw new ErrnoError('EAFNOSUPPORT', syscall);
      return d.set(4, address, IPV6_ANY, 0);
    }
    if (typeof address === 'number' || address.length !== 16) throw new ErrnoError('EINVAL', syscall);
    if (isV4Mapped(address)) {
      // Linux (udpv6_sendmsg, __ip6_datagram_connect): v4-mapped is IPv4, not on a v6-only socket.
      if (this.v6Only) throw new ErrnoError('ENETUNREACH', syscall);
      return d.set(4, v4FromMapped(address), IPV6_ANY, 0);
    }
    // :: from a socket with a v4-mapped source is 127.0.0.1 (udpv6_sendmsg, __ip6_datagram_connect).
    if (isUnspecified6(address) && this.localPort !== 0 && !this.accepts6 && !this.v6Only) return d.set(4, 0x7f000001, IPV6_ANY, 0);
    let ifindex = 0;
    if (isLinkLocal6(address) || (isMulticast6(address) && (address[1]! & 0xf) <= 2)) {
      if (scopeId !== 0) {
        if (!this.host.hasInterface(scopeId)) throw new ErrnoError('ENODEV', syscall);
        ifindex = scopeId;
      } else if (isMulticast6(address)) ifindex = this.multicastIfindex;
      else if (this.boundIfindex === 0) throw new ErrnoError('EINVAL', syscall); // "connect to link-local address requires an interface"
    } else if (isMulticast6(address)) ifindex = this.multicastIfindex;
    return d.set(6, 0, Uint8Array.from(address), ifindex);
  }

  /**
   * IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP / MCAST_JOIN_GROUP (any-source). `iface`: an
   * interface index, or (IPv4) an interface address; absent, the route to the group picks
   * it. Linux: EINVAL for a non-multicast group, EADDRINUSE when already joined, ENODEV
   * without such an interface, ENOBUFS past igmp_max_memberships.
   */
  addMembership(group: IpAddress, iface?: number | Ipv4Address): void {
    const f = this.membership(group, iface, 'setsockopt');
    if (f !== null) throw new ErrnoError('EADDRINUSE', 'setsockopt');
    this.newFilter(group, iface, 'exclude', []);
  }

  /** IP_DROP_MEMBERSHIP / IPV6_LEAVE_GROUP. Linux: EADDRNOTAVAIL when not joined. */
  dropMembership(group: IpAddress, iface?: number | Ipv4Address): void {
    const f = this.membership(group, iface, 'setsockopt');
    if (f === null) throw new ErrnoError('EADDRNOTAVAIL', 'setsockopt');
    this.removeFilter(f);
  }

  /**
   * IP_ADD_SOURCE_MEMBERSHIP / MCAST_JOIN_SOURCE_GROUP (RFC 3678 §4.1.2): receive `group`
   * from `source` only. Linux: EINVAL when the socket holds an any-source membership of
   * the group, EADDRNOTAVAIL when the source is already there, ENOBUFS past igmp_max_msf.
   */
  addSourceMembership(group: IpAddress, source: IpAddress, iface?: number | Ipv4Address): void {
    this.checkSource(group, source);
    let f = this.membership(group, iface, 'setsockopt');
    if (f === null) {
      this.newFilter(group, iface, 'include', [source]);
      return;
    }
    if (f.mode !== 'include') throw new ErrnoError('EINVAL', 'setsockopt');
    if (indexOfAddress(f.sources, source) >= 0) throw new ErrnoError('EADDRNOTAVAIL', 'setsockopt');
    if (f.sources.length >= MAX_SOURCES_PER_FILTER) throw new ErrnoError('ENOBUFS', 'setsockopt');
    f.sources.push(copyAddress(source));
    this.pushFilter(f);
  }

  /** IP_DROP_SOURCE_MEMBERSHIP: the last source gone leaves the group. */
  dropSourceMembership(group: IpAddress, source: IpAddress, iface?: number | Ipv4Address): void {
    const f = this.membership(group, iface, 'setsockopt');
    if (f === null) throw new ErrnoError('EADDRNOTAVAIL', 'setsockopt');
    if (f.mode !== 'include') throw new ErrnoError('EINVAL', 'setsockopt');
    const i = indexOfAddress(f.sources, source);
    if (i < 0) throw new ErrnoError('EADDRNOTAVAIL', 'setsockopt');
    f.sources.splice(i, 1);
    if (f.sources.length === 0) this.removeFilter(f);
    else this.pushFilter(f);
  }

  /** IP_BLOCK_SOURCE (on an any-source membership): stop receiving from `source`. */
  blockSource(group: IpAddress, source: IpAddress, iface?: number | Ipv4Address): void {
    this.checkSource(group, source);
    const f = this.membership(group, iface, 'setsockopt');
    if (f === null) throw new ErrnoError('EINVAL', 'setsockopt');
    if (f.mode !== 'exclude') throw new ErrnoError('EINVAL', 'setsockopt');
    if (indexOfAddress(f.sources, source) >= 0) throw new ErrnoError('EADDRNOTAVAIL', 'setsockopt');
    if (f.sources.length >= MAX_SOURCES_PER_FILTER) throw new ErrnoError('ENOBUFS', 'setsockopt');
    f.sources.push(copyAddress(source));
    this.pushFilter(f);
  }

  /** IP_UNBLOCK_SOURCE. */
  unblockSource(group: IpAddress, source: IpAddress, iface?: number | Ipv4Address): void {
    const f = this.membership(group, iface, 'setsockopt');
    if (f === null || f.mode !== 'exclude') throw new ErrnoError('EINVAL', 'setsockopt');
    const i = indexOfAddress(f.sources, source);
    if (i < 0) throw new ErrnoError('EADDRNOTAVAIL', 'setsockopt');
    f.sources.splice(i, 1);
    this.pushFilter(f);
  }

  /** The source must be of the group's family (Linux: EINVAL). */
  private checkSource(group: IpAddress, source: IpAddress): void {
    if (typeof source !== typeof group || (typeof source !== 'number' && source.length !== 16)) throw new ErrnoError('EINVAL', 'setsockopt');
  }

  /** Validates group and interface; the socket's existing filter for them, or null. */
  private membership(group: IpAddress, iface: number | Ipv4Address | undefined, syscall: string): MulticastFilter | null {
    this.checkOpen(syscall);
    const family = typeof group === 'number' ? 4 : 6;
    if (this.family === 4 && family === 6) throw new ErrnoError('EINVAL', syscall);
    if (family === 4 ? (group as number) >>> 28 !== 0xe : !isMulticast6(group as Uint8Array)) throw new ErrnoError('EINVAL', syscall);
    const ifindex = this.host.multicastInterface(family, group, iface);
    if (ifindex === 0) throw new ErrnoError('ENODEV', syscall);
    for (const f of this.filters) if (f.ifindex === ifindex && sameAddress(f.group, group)) return f;
    return null;
  }

  private newFilter(group: IpAddress, iface: number | Ipv4Address | undefined, mode: 'include' | 'exclude', sources: IpAddress[]): void {
    if (this.filters.length >= MAX_MEMBERSHIPS) throw new ErrnoError('ENOBUFS', 'setsockopt');
    const family = typeof group === 'number' ? 4 : 6;
    const f = new MulticastFilter(this.host.multicastInterface(family, group, iface), copyAddress(group), mode, sources.map(copyAddress));
    this.filters.push(f);
    this.pushFilter(f);
  }

  private removeFilter(f: MulticastFilter): void {
    this.filters.splice(this.filters.indexOf(f), 1);
    this.host.setMulticastFilter(typeof f.group === 'number' ? 4 : 6, f.ifindex, f.group, this.id, 'include', []);
  }

  private pushFilter(f: MulticastFilter): void {
    this.host.setMulticastFilter(typeof f.group === 'number' ? 4 : 6, f.ifindex, f.group, this.id, f.mode, f.sources);
  }

  /**
   * Linux's ip_mc_sf_allow: a socket with no membership of the group still gets it
   * (IP_MULTICAST_ALL, on by default); with one, its filter decides.
   */
  allowsMulticast4(ifindex: number, group: Ipv4Address, src: Ipv4Address): boolean {
    for (const f of this.filters) {
      if (f.ifindex !== ifindex || f.group !== group) continue;
      let listed = false;
      for (const s of f.sources) if (s === src) listed = true;
      return f.mode === 'include' ? listed : !listed;
    }
    return true;
  }

  allowsMulticast6(ifindex: number, group: Uint8Array, groupAt: number, src: Uint8Array, srcAt: number): boolean {
    for (const f of this.filters) {
      if (f.ifindex !== ifindex || typeof f.group === 'number' || !ipv6Equal(group, groupAt, f.group)) continue;
      let listed = false;
      for (const s of f.sources) if (typeof s !== 'number' && ipv6Equal(src, srcAt, s)) listed = true;
      return f.mode === 'include' ? listed : !listed;
    }
    return true;
  }

  /** The next datagram, or null when none is queued (EAGAIN for a non-blocking socket). Allocates the result. */
  recv(): Datagram | null {
    this.checkOpen('recvfrom');
    this.raisePending('recvfrom');
    if (this.count === 0) return null;
    const s = this.slots[this.head]!;
    const d: Datagram = {
      data: s.data.slice(0, s.length),
      address: s.family === 4 && this.family === 4 ? s.addr4 : s.family === 4 ? v4MappedAddress(s.addr4) : Uint8Array.from(s.addr6),
      port: s.port,
    };
    this.lastIfindex = s.ifindex;
    this.pop(s);
    return d;
  }

  /**
   * The allocation-free receive: copies the next datagram into `buf` (truncating like
   * recvfrom without MSG_TRUNC) and returns its full length, or -1 when none is queued.
   * The sender is left in lastAddress/lastPort (a reused array for IPv6).
   */
  recvInto(buf: Uint8Array, peek = false): number {
    this.checkOpen('recvfrom');
    this.raisePending('recvfrom');
    if (this.count === 0) return -1;
    const s = this.slots[this.head]!;
    const n = Math.min(buf.length, s.length);
    copyBytes(buf, 0, s.data, 0, n);
    if (this.family === 4) this.lastAddress = s.addr4;
    else {
      if (s.family === 4) v4MappedAddress(s.addr4, this.last6);
      else this.last6.set(s.addr6);
      this.lastAddress = this.last6;
    }
    this.lastPort = s.port;
    this.lastIfindex = s.ifindex;
    const len = s.length;
    if (!peek) this.pop(s);
    return len;
  }

  private pop(s: Slot): void {
    this.queuedBytes -= s.length;
    this.head = (this.head + 1) % this.slots.length;
    this.count--;
  }

  get queuedDatagrams(): number {
    return this.count;
  }

  /** The length of the next datagram (Linux's SIOCINQ for UDP), or 0. */
  get nextLength(): number {
    return this.count === 0 ? 0 : this.slots[this.head]!.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.filters) this.host.setMulticastFilter(typeof f.group === 'number' ? 4 : 6, f.ifindex, f.group, this.id, 'include', []);
    this.filters.length = 0;
    this.host.udp.unbind(this);
    this.count = 0;
    this.queuedBytes = 0;
  }

  /** A slot to fill, or null (counted as a drop) when the receive buffer is full. */
  private claim(length: number): Slot | null {
    if (this.queuedBytes + length > this.rcvbuf) {
      this.drops++;
      return null;
    }
    if (this.count === this.slots.length) {
      // Grow the ring, keeping order: unroll from head.
      const grown: Slot[] = [];
      for (let i = 0; i < this.count; i++) grown.push(this.slots[(this.head + i) % this.slots.length]!);
      for (let i = this.count; i < this.count * 2; i++) grown.push(new Slot());
      this.slots = grown;
      this.head = 0;
    }
    const s = this.slots[(this.head + this.count) % this.slots.length]!;
    if (s.data.length < length) s.data = new Uint8Array(Math.max(2048, length));
    s.length = length;
    this.count++;
    this.queuedBytes += length;
    return s;
  }

  /** @internal Called by the stack: an IPv4 datagram (payload bytes[at, at+len)) for this socket. */
  deliver4(bytes: Uint8Array, at: number, len: number, src: Ipv4Address, port: number, ifindex: number): void {
    const s = this.claim(len);
    if (s === null) return;
    this.rxPackets++;
    this.rxBytes += len;
    copyBytes(s.data, 0, bytes, at, len);
    s.family = 4;
    s.addr4 = src;
    s.port = port;
    s.ifindex = ifindex;
    if (this.waker !== null) this.waker.udpEvent(this, UdpEvent.Data);
  }

  /** @internal An IPv6 datagram; the source is 16 bytes at srcAt. */
  deliver6(bytes: Uint8Array, at: number, len: number, src: Uint8Array, srcAt: number, port: number, ifindex: number): void {
    const s = this.claim(len);
    if (s === null) return;
    this.rxPackets++;
    this.rxBytes += len;
    copyBytes(s.data, 0, bytes, at, len);
    s.family = 6;
    for (let i = 0; i < 16; i++) s.addr6[i] = src[srcAt + i]!;
    s.port = port;
    s.ifindex = ifindex;
    if (this.waker !== null) this.waker.udpEvent(this, UdpEvent.Data);
  }

  /** @internal An error for the next call (Linux's sk_err), e.g. ECONNREFUSED from an ICMP port unreachable. */
  setError(e: ErrnoError): void {
    this.pendingError = e;
    if (this.waker !== null) this.waker.udpEvent(this, UdpEvent.Error);
  }

  /** @internal Whether the socket is connected to this IPv4 peer (or not connected). */
  matchesRemote4(src: Ipv4Address, sport: number): boolean {
    // compute_score: a connected port of 0 matches any source port.
    return this.remoteFamily === 0 || (this.remoteFamily === 4 && this.remote4 === src && (this.remotePort === 0 || this.remotePort === sport));
  }

  matchesRemote6(src: Uint8Array, srcAt: number, sport: number): boolean {
    return this.remoteFamily === 0 || (this.remoteFamily === 6 && (this.remotePort === 0 || this.remotePort === sport) && ipv6Equal(src, srcAt, this.remote6));
  }

  private checkOpen(syscall: string): void {
    if (this.closed) throw new ErrnoError('EBADF', syscall);
  }

  private raisePending(_syscall: string): void {
    const e = this.pendingError;
    if (e) {
      this.pendingError = null;
      throw e;
    }
  }
}

/** @internal What a bind would take. */
export interface BindKeys {
  accepts4: boolean;
  local4: Ipv4Address;
  accepts6: boolean;
  local6: Ipv6Address;
  ifindex: number;
}

function sameAddress(a: IpAddress, b: IpAddress): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  return ipv6Equal(a, 0, b);
}

function indexOfAddress(list: IpAddress[], a: IpAddress): number {
  for (let i = 0; i < list.length; i++) if (sameAddress(list[i]!, a)) return i;
  return -1;
}

function copyAddress(a: IpAddress): IpAddress {
  return typeof a === 'number' ? a : Uint8Array.from(a);
}

/** Whether two binds take a common destination (Linux's inet_bind_conflict, both families). */
function overlaps(s: UdpSocket, k: BindKeys): boolean {
  if (s.boundIfindex !== 0 && k.ifindex !== 0 && s.boundIfindex !== k.ifindex) return false;
  if (s.accepts4 && k.accepts4 && (s.local4 === ANY || k.local4 === ANY || s.local4 === k.local4)) return true;
  if (s.accepts6 && k.accepts6 && (isUnspecified6(s.local6) || isUnspecified6(k.local6) || ipv6Equal(s.local6, 0, k.local6))) return true;
  return false;
}

/** Bound UDP sockets (both families) by local port. */
export class UdpTable {
  private readonly byPort = new Map<number, UdpSocket[]>();
  private binds = 0;
  private readonly group: UdpSocket[] = [];

  constructor(private readonly rng: SeededRng) {}

  /** All bound sockets (for address-removal handling and stats). */
  *sockets(): IterableIterator<UdpSocket> {
    for (const list of this.byPort.values()) yield* list;
  }

  bind(sock: UdpSocket, port: number, k: BindKeys): void {
    if (port === 0) port = this.ephemeral(k);
    const list = this.byPort.get(port) ?? [];
    // Linux (inet_bind_conflict for UDP): overlapping binds conflict unless both set
    // SO_REUSEADDR, or both set SO_REUSEPORT.
    for (const s of list) {
      const shared = (s.reuseAddress && sock.reuseAddress) || (s.reusePort && sock.reusePort);
      if (!shared && overlaps(s, k)) throw new ErrnoError('EADDRINUSE', 'bind');
    }
    sock.applyBind(k, port, ++this.binds);
    list.push(sock);
    this.byPort.set(port, list);
  }

  unbind(sock: UdpSocket): void {
    const list = this.byPort.get(sock.localPort);
    if (!list) return;
    const i = list.indexOf(sock);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byPort.delete(sock.localPort);
  }

  /** Every socket a broadcast or multicast to `dst:dport` reaches (Linux: __udp4_lib_mcast_deliver). */
  lookupAll4(dst: Ipv4Address, dport: number, src: Ipv4Address, sport: number, ifindex: number, out: UdpSocket[]): number {
    out.length = 0;
    const list = this.byPort.get(dport);
    if (!list) return 0;
    for (const s of list) {
      if (!s.accepts4 || (s.local4 !== ANY && s.local4 !== dst)) continue;
      if (s.boundIfindex !== 0 && s.boundIfindex !== ifindex) continue;
      if (!s.matchesRemote4(src, sport)) continue;
      out.push(s);
    }
    return out.length;
  }

  lookupAll6(dst: Uint8Array, dstAt: number, dport: number, src: Uint8Array, srcAt: number, sport: number, ifindex: number, out: UdpSocket[]): number {
    out.length = 0;
    const list = this.byPort.get(dport);
    if (!list) return 0;
    for (const s of list) {
      if (!s.accepts6 || (!isUnspecified6(s.local6) && !ipv6Equal(dst, dstAt, s.local6))) continue;
      if (s.stale6 !== null && !ipv6Equal(dst, dstAt, s.stale6)) continue;
      if (s.boundIfindex !== 0 && s.boundIfindex !== ifindex) continue;
      if (!s.matchesRemote6(src, srcAt, sport)) continue;
      out.push(s);
    }
    return out.length;
  }

  /**
   * Linux's __udp4_lib_lookup, reduced: an IPv4 socket beats a dual-stack IPv6 one, a
   * bound address, a connected peer and a bound device each add; among SO_REUSEPORT
   * sockets of the best score a hash of the flow picks one (so a flow stays on one
   * socket); otherwise the most recently bound wins.
   */
  lookup4(dst: Ipv4Address, dport: number, src: Ipv4Address, sport: number, ifindex: number): UdpSocket | null {
    const list = this.byPort.get(dport);
    if (!list) return null;
    let best: UdpSocket | null = null, bestScore = -1;
    const group = this.group;
    group.length = 0;
    for (const s of list) {
      if (!s.accepts4 || (s.local4 !== ANY && s.local4 !== dst)) continue;
      if (s.boundIfindex !== 0 && s.boundIfindex !== ifindex) continue;
      if (!s.matchesRemote4(src, sport)) continue;
      const score = (s.family === 4 ? 2 : 1) + (s.local4 !== ANY ? 4 : 0) + (s.remoteFamily !== 0 ? 4 : 0) + (s.boundIfindex !== 0 ? 4 : 0);
      best = this.consider(s, score, best, bestScore);
      if (best === s) bestScore = score;
    }
    if (best !== null && best.reusePort && group.length > 1) return group[flowHash(src, sport, dst, dport) % group.length]!;
    return best;
  }

  lookup6(dst: Uint8Array, dstAt: number, dport: number, src: Uint8Array, srcAt: number, sport: number, ifindex: number): UdpSocket | null {
    const list = this.byPort.get(dport);
    if (!list) return null;
    let best: UdpSocket | null = null, bestScore = -1;
    this.group.length = 0;
    for (const s of list) {
      if (!s.accepts6 || (!isUnspecified6(s.local6) && !ipv6Equal(dst, dstAt, s.local6))) continue;
      if (s.stale6 !== null && !ipv6Equal(dst, dstAt, s.stale6)) continue;
      if (s.boundIfindex !== 0 && s.boundIfindex !== ifindex) continue;
      if (!s.matchesRemote6(src, srcAt, sport)) continue;
      const score = 2 + (isUnspecified6(s.local6) ? 0 : 4) + (s.remoteFamily !== 0 ? 4 : 0) + (s.boundIfindex !== 0 ? 4 : 0);
      best = this.consider(s, score, best, bestScore);
      if (best === s) bestScore = score;
    }
    if (best !== null && best.reusePort && this.group.length > 1) {
      const h = flowHash(readWord(src, srcAt + 12), sport, readWord(dst, dstAt + 12), dport);
      return this.group[h % this.group.length]!;
    }
    return best;
  }

  /** One step of the scoring: a higher score wins; a tie goes to the later bind; reuseport peers collect. */
  private consider(s: UdpSocket, score: number, best: UdpSocket | null, bestScore: number): UdpSocket | null {
    const group = this.group;
    if (score > bestScore) {
      group.length = 0;
      if (s.reusePort) group.push(s);
      return s;
    }
    if (score === bestScore) {
      if (s.reusePort) group.push(s);
      if (best !== null && s.bindSeq > best.bindSeq) return s;
    }
    return best;
  }

  private ephemeral(k: BindKeys): number {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    const start = this.rng.int(0, span - 1);
    for (let n = 0; n < span; n++) {
      const port = EPHEMERAL_LOW + ((start + n) % span);
      const list = this.byPort.get(port);
      if (!list || !list.some((s) => overlaps(s, k))) return port;
    }
    throw new ErrnoError('EADDRINUSE', 'bind'); // Linux: EADDRINUSE when the range is exhausted
  }
}

function readWord(b: Uint8Array, at: number): number {
  return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
}

/** A 4-tuple hash for SO_REUSEPORT selection (stable per flow; not Linux's jhash, same role). */
export function flowHash(src: number, sport: number, dst: number, dport: number): number {
  let h = Math.imul(src ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ sport, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ dst, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15) ^ dport, 0x165667b1);
  return (h ^ (h >>> 16)) >>> 0;
}

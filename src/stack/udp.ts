// Engine-level UDP sockets (RFC 768) on the IPv4 host: bind (specific or wildcard
// address, port 0 → ephemeral), connect, sendTo, a bounded receive queue, and the
// errors Linux gives (EADDRINUSE, EDESTADDRREQ, EMSGSIZE, ECONNREFUSED after an ICMP
// port unreachable on a connected socket). The BSD socket layer builds on this.

import { ErrnoError } from '../errno.js';
import type { SeededRng } from '../rng.js';
import type { Ipv4Address } from '../wire/address.js';

/** net.ipv4.ip_local_port_range default. */
export const EPHEMERAL_LOW = 32768;
export const EPHEMERAL_HIGH = 60999;
/** net.core.rmem_default. */
export const DEFAULT_RCVBUF = 212992;
/** 65535 − 20 (IPv4 header) − 8 (UDP header). */
export const MAX_UDP_PAYLOAD_V4 = 65507;
export const ANY = 0;

export interface Datagram {
  data: Uint8Array;
  address: Ipv4Address;
  port: number;
}

/** What a socket needs from the stack. */
export interface UdpHost {
  readonly udp: UdpTable;
  isLocal(ip: Ipv4Address): boolean;
  isBroadcast(ip: Ipv4Address): boolean;
  sendUdp(src: Ipv4Address, srcPort: number, dst: Ipv4Address, dstPort: number, data: Uint8Array, from: UdpSocket): boolean;
  joinGroup(group: Ipv4Address): void;
  leaveGroup(group: Ipv4Address): void;
  sourceFor(dst: Ipv4Address): Ipv4Address | null;
}

export class UdpSocket {
  localAddress: Ipv4Address = ANY;
  localPort = 0;
  remoteAddress: Ipv4Address = ANY;
  remotePort = 0;
  rcvbuf = DEFAULT_RCVBUF;
  /** SO_REUSEADDR: may share a port with other sockets that set it too (set before bind). */
  reuseAddress = false;
  /** SO_REUSEPORT: may share a port with others that set it; unicast is spread among them by flow. */
  reusePort = false;
  /** @internal Bind order, for Linux's "most recent wins" among SO_REUSEADDR sockets. */
  bindSeq = 0;
  /** SO_BROADCAST: required to send to a broadcast address (Linux: EACCES otherwise). */
  broadcast = false;
  /** IP_MULTICAST_TTL: 1 by default (RFC 1112 §6.1). */
  multicastTtl = 1;
  /** IP_MULTICAST_LOOP: on by default; local members get a copy of what we send. */
  multicastLoop = true;
  /** Groups joined with IP_ADD_MEMBERSHIP. */
  readonly memberships = new Set<Ipv4Address>();
  /** Errors reported once by the next call, like Linux's sk_err (e.g. ECONNREFUSED). */
  pendingError: ErrnoError | null = null;
  /** Datagrams dropped because the receive queue was full (Linux: UDP RcvbufErrors). */
  drops = 0;
  closed = false;
  private readonly queue: Datagram[] = [];
  private queuedBytes = 0;

  constructor(private readonly host: UdpHost) {}

  get connected(): boolean {
    return this.remotePort !== 0;
  }

  bind(address: Ipv4Address, port: number): void {
    this.checkOpen('bind');
    if (this.localPort !== 0) throw new ErrnoError('EINVAL', 'bind'); // already bound
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new ErrnoError('EINVAL', 'bind');
    // Linux (inet_bind): a local, broadcast or multicast address, or the wildcard.
    if (address !== ANY && !this.host.isLocal(address) && !this.host.isBroadcast(address) && address >>> 28 !== 0xe) {
      throw new ErrnoError('EADDRNOTAVAIL', 'bind');
    }
    this.host.udp.bind(this, address, port);
  }

  connect(address: Ipv4Address, port: number): void {
    this.checkOpen('connect');
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new ErrnoError('EINVAL', 'connect');
    const src = this.host.sourceFor(address);
    if (src === null) throw new ErrnoError('ENETUNREACH', 'connect');
    if (this.localPort === 0) this.host.udp.bind(this, ANY, 0);
    this.remoteAddress = address;
    this.remotePort = port;
  }

  /** Sends one datagram; returns the bytes sent. */
  sendTo(data: Uint8Array, address?: Ipv4Address, port?: number): number {
    this.checkOpen('sendto');
    this.raisePending('sendto');
    let dst = this.remoteAddress, dport = this.remotePort;
    if (address !== undefined && port !== undefined) {
      dst = address;
      dport = port;
    } else if (!this.connected) throw new ErrnoError('EDESTADDRREQ', 'sendto');
    if (data.length > MAX_UDP_PAYLOAD_V4) throw new ErrnoError('EMSGSIZE', 'sendto');
    if (!this.broadcast && this.host.isBroadcast(dst)) throw new ErrnoError('EACCES', 'sendto');
    const src = this.localAddress !== ANY ? this.localAddress : this.host.sourceFor(dst);
    if (src === null) throw new ErrnoError('ENETUNREACH', 'sendto');
    if (this.localPort === 0) this.host.udp.bind(this, ANY, 0);
    this.host.sendUdp(src, this.localPort, dst, dport, data, this);
    return data.length;
  }

  /** IP_ADD_MEMBERSHIP (any-source). Linux: EINVAL for a non-multicast group, EADDRINUSE when already joined. */
  addMembership(group: Ipv4Address): void {
    this.checkOpen('setsockopt');
    if (group >>> 28 !== 0xe) throw new ErrnoError('EINVAL', 'setsockopt');
    if (this.memberships.has(group)) throw new ErrnoError('EADDRINUSE', 'setsockopt');
    this.memberships.add(group);
    this.host.joinGroup(group);
  }

  /** IP_DROP_MEMBERSHIP. Linux: EADDRNOTAVAIL when not joined. */
  dropMembership(group: Ipv4Address): void {
    this.checkOpen('setsockopt');
    if (!this.memberships.delete(group)) throw new ErrnoError('EADDRNOTAVAIL', 'setsockopt');
    this.host.leaveGroup(group);
  }

  /** The next datagram, or null when none is queued (EAGAIN for a non-blocking socket). */
  recv(): Datagram | null {
    this.checkOpen('recvfrom');
    this.raisePending('recvfrom');
    const d = this.queue.shift();
    if (d === undefined) return null;
    this.queuedBytes -= d.data.length;
    return d;
  }

  get queuedDatagrams(): number {
    return this.queue.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const g of this.memberships) this.host.leaveGroup(g);
    this.memberships.clear();
    this.host.udp.unbind(this);
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  /** @internal Called by the stack for a datagram addressed to this socket. */
  deliver(data: Uint8Array, address: Ipv4Address, port: number): void {
    if (this.queuedBytes + data.length > this.rcvbuf) {
      this.drops++;
      return;
    }
    this.queue.push({ data, address, port });
    this.queuedBytes += data.length;
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

/** Bound UDP sockets by local port. */
export class UdpTable {
  private readonly byPort = new Map<number, UdpSocket[]>();
  private binds = 0;
  private readonly group: UdpSocket[] = [];

  constructor(private readonly rng: SeededRng) {}

  bind(sock: UdpSocket, address: Ipv4Address, port: number): void {
    if (port === 0) port = this.ephemeral(address);
    const list = this.byPort.get(port) ?? [];
    // Linux (inet_bind_conflict for UDP): addresses overlap when either is the wildcard or
    // they are equal; overlapping sockets conflict unless both set SO_REUSEADDR, or both
    // set SO_REUSEPORT.
    for (const s of list) {
      const overlap = s.localAddress === ANY || address === ANY || s.localAddress === address;
      const shared = (s.reuseAddress && sock.reuseAddress) || (s.reusePort && sock.reusePort);
      if (overlap && !shared) throw new ErrnoError('EADDRINUSE', 'bind');
    }
    sock.localAddress = address;
    sock.localPort = port;
    sock.bindSeq = ++this.binds;
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

  /** Every socket a broadcast to `dst:dport` reaches (Linux: __udp4_lib_mcast_deliver). */
  lookupAll(dst: Ipv4Address, dport: number, src: Ipv4Address, sport: number, out: UdpSocket[]): number {
    out.length = 0;
    const list = this.byPort.get(dport);
    if (!list) return 0;
    for (const s of list) {
      if (s.localAddress !== ANY && s.localAddress !== dst) continue;
      if (s.connected && (s.remoteAddress !== src || s.remotePort !== sport)) continue;
      out.push(s);
    }
    return out.length;
  }

  /**
   * Linux's __udp4_lib_lookup, reduced: a connected, address-bound match beats a wildcard;
   * among SO_REUSEPORT sockets of the best score, a hash of the flow picks one (so a flow
   * stays on one socket); otherwise the most recently bound wins.
   */
  lookup(dst: Ipv4Address, dport: number, src: Ipv4Address, sport: number): UdpSocket | null {
    const list = this.byPort.get(dport);
    if (!list) return null;
    let best: UdpSocket | null = null, bestScore = -1;
    const group = this.group;
    group.length = 0;
    for (const s of list) {
      if (s.localAddress !== ANY && s.localAddress !== dst) continue;
      if (s.connected && (s.remoteAddress !== src || s.remotePort !== sport)) continue;
      const score = (s.localAddress !== ANY ? 2 : 0) + (s.connected ? 4 : 0);
      if (score > bestScore) {
        best = s;
        bestScore = score;
        group.length = 0;
      } else if (score === bestScore && best !== null && s.bindSeq > best.bindSeq) {
        best = s;
      }
      if (score === bestScore && s.reusePort) group.push(s);
    }
    if (best !== null && best.reusePort && group.length > 1) return group[flowHash(src, sport, dst, dport) % group.length]!;
    return best;
  }

  private ephemeral(address: Ipv4Address): number {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    const start = this.rng.int(0, span - 1);
    for (let k = 0; k < span; k++) {
      const port = EPHEMERAL_LOW + ((start + k) % span);
      const list = this.byPort.get(port);
      if (!list || !list.some((s) => s.localAddress === ANY || address === ANY || s.localAddress === address)) return port;
    }
    throw new ErrnoError('EADDRINUSE', 'bind'); // Linux: EADDRINUSE when the range is exhausted
  }
}

/** A 4-tuple hash for SO_REUSEPORT selection (stable per flow; not Linux's jhash, same role). */
function flowHash(src: number, sport: number, dst: number, dport: number): number {
  let h = Math.imul(src ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ sport, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ dst, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15) ^ dport, 0x165667b1);
  return (h ^ (h >>> 16)) >>> 0;
}

// The TCP layer of the engine: demultiplexing arriving segments to connections and
// listeners (IPv4 and IPv6, dual-stack listeners), RST for segments nobody wants (RFC 9293
// §3.10.7.1, so a connect to a closed port fails at once with ECONNREFUSED, KI-09),
// passive opens with backlog and SYN cookies, TIME-WAIT reuse by a newer SYN (RFC 6191),
// building outgoing segments with their options (MSS, window scale, SACK, timestamps), and
// the timer wheel that drives every connection's timers from poll().

import { ErrnoError } from '../../errno.js';
import { TcpFlags, TcpPacket, TCP_MIN_HEADER_LEN } from '../../wire/tcp.js';
import { ipv4PseudoHeaderSum, ipv6PseudoHeaderSum, finishChecksum, foldSum, sumBytes } from '../../wire/checksum.js';
import { writeU16, writeU32 } from '../../wire/bytes.js';
import { IpProtocol } from '../../wire/ipv4.js';
import type { Ipv4Address, Ipv6Address } from '../../wire/address.js';
import { ipv6Equal, isUnspecified6, isV4Mapped, v4FromMapped } from '../ipv6-address.js';
import type { NetInterface } from '../interface.js';
import type { Stack } from '../stack.js';
import { TcpConnection, TcpState, type TcpHost } from './connection.js';
import { TcpListener } from './listener.js';
import { SegmentIn, seqBefore, seqDiff, seqPlus } from './segment.js';
import { TimerWheel, type Timer } from './timer-wheel.js';
import { IsnGenerator } from './isn.js';
import { SynCookies } from './syn-cookie.js';
import { parseCongestionAlgorithm, type CongestionAlgorithm } from './congestion.js';
import { BufferPool } from '../buffer-pool.js';
import { EPHEMERAL_HIGH, EPHEMERAL_LOW, flowHash as tupleHash } from '../udp.js';

export interface TcpCounters {
  segmentsIn: number;
  segmentsOut: number;
  resetsOut: number;
  badChecksum: number;
  malformed: number;
  noSocket: number;
  activeOpens: number;
  passiveOpens: number;
  retransmits: number;
}

export interface ConnectOptions {
  rcvbuf?: number;
  sndbuf?: number;
  cc?: CongestionAlgorithm;
  noDelay?: boolean;
  /** Bind to a local port first (0: ephemeral). */
  localPort?: number;
  /** TCP_MAXSEG: a cap on the MSS announced and used (Linux's user_mss). */
  mss?: number;
  /** The source address the socket was bound to (0 / undefined: chosen by route). */
  local4?: Ipv4Address;
  local6?: Ipv6Address;
  ifindex?: number;
}

const INITIAL_BUCKETS = 4096;

/**
 * The window of a SYN or SYN-ACK (Linux's tcp_select_initial_window): what the buffer offers,
 * at most 65535, rounded down to whole segments of the MSS we announce (less the timestamp
 * option on a SYN-ACK that agreed to it) — the familiar 64240 for a 1460-byte MSS.
 */
function synWindow(c: TcpConnection): number {
  const space = Math.min(0xffff, c.windowToAdvertise());
  const mss = c.advMss - (c.state === TcpState.SynReceived && c.tsOk ? 12 : 0);
  return space > mss && mss > 0 ? space - (space % mss) : space;
}

/** The MSS a path MTU allows: an IPv4 packet is at most 65535 bytes (Linux ipv4_default_advmss), an IPv6 payload too (ip6_default_advmss). */
function mss4(mtu: number): number {
  return Math.min(mtu, 65535) - 40;
}
function mss6(mtu: number): number {
  return Math.min(mtu - 60, 65535 - 20);
}

export class TcpLayer implements TcpHost {
  readonly wheel = new TimerWheel(1000);
  readonly counters: TcpCounters = { segmentsIn: 0, segmentsOut: 0, resetsOut: 0, badChecksum: 0, malformed: 0, noSocket: 0, activeOpens: 0, passiveOpens: 0, retransmits: 0 };
  /** Connections by 4-tuple hash (buckets of a few). */
  private buckets: TcpConnection[][] = [];
  private mask = INITIAL_BUCKETS - 1;
  /** Free send/receive buffer stores shared by this stack's connections. */
  readonly bufferPool = new BufferPool();
  private connectionCount = 0;
  private readonly listeners = new Map<number, TcpListener[]>();
  private readonly isn: IsnGenerator;
  private readonly cookies: SynCookies;
  private readonly seg = new SegmentIn();
  private readonly view = new TcpPacket(new Uint8Array(0), 0, 0);
  /** The congestion control for new connections (XLIO_TCP_CC_ALGO). */
  defaultCc: CongestionAlgorithm = 'cubic';
  /** XLIO_MSS: the largest MSS a connection offers and uses; 0 follows the path MTU (XLIO's default). */
  mssLimit = 0;
  /** The socket layer's bind table: ports bound by sockets that connect() must not take. */
  portTaken: ((port: number) => boolean) | null = null;
  /** net.ipv4.tcp_syncookies = 1: cookies when the SYN queue overflows. */
  syncookies = true;
  /** net.ipv4.tcp_sack, tcp_timestamps, tcp_window_scaling (all 1 by default, as Linux). */
  sack = true;
  timestamps = true;
  windowScaling = true;
  private readonly fire = (t: Timer) => (t.owner as TcpConnection).timerFired(t.kind);

  constructor(private readonly stack: Stack) {
    for (let i = 0; i < INITIAL_BUCKETS; i++) this.buckets.push([]);
    this.isn = new IsnGenerator(stack.rng.fork('tcp-isn'));
    this.cookies = new SynCookies(stack.rng.fork('tcp-cookies'));
    const env = typeof process !== 'undefined' ? process.env['XLIO_TCP_CC_ALGO'] : undefined;
    if (env !== undefined) {
      const cc = parseCongestionAlgorithm(env);
      if (cc !== null) this.defaultCc = cc;
    }
    const mss = typeof process !== 'undefined' ? process.env['XLIO_MSS'] : undefined;
    if (mss !== undefined && /^\d+$/.test(mss.trim()) && Number(mss) <= 65535) this.mssLimit = Number(mss);
  }

  /** The MSS a path allows (mss4/mss6 of its MTU), within XLIO_MSS; Linux's floor of 48 (tcp_min_snd_mss) below that. */
  private capMss(pathMss: number): number {
    return this.mssLimit > 0 ? Math.max(48, Math.min(pathMss, this.mssLimit)) : pathMss;
  }

  get now(): number {
    return this.stack.now;
  }

  get size(): number {
    return this.connectionCount;
  }

  /** Every connection in the table, in any state (the exit flush, src/node/shutdown.ts, waits for them). */
  *connections(): IterableIterator<TcpConnection> {
    for (const b of this.buckets) for (const c of b) yield c;
  }

  poll(now: number): number {
    this.wheel.advance(now, this.fire);
    return this.wheel.next();
  }

  // ---------------------------------------------------------------------------------------
  // Sockets

  /** Active open to dst:port (IPv4 number, or IPv6 16 bytes; v4-mapped goes as IPv4). */
  connect(dst: Ipv4Address | Ipv6Address, port: number, opts: ConnectOptions = {}): TcpConnection {
    // Port 0 is not refused: Linux sends the SYN and the peer answers RST (ECONNREFUSED).
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new ErrnoError('EINVAL', 'connect');
    const family: 4 | 6 = typeof dst === 'number' || isV4Mapped(dst) ? 4 : 6;
    const c = new TcpConnection(this, family, { rcvbuf: opts.rcvbuf, sndbuf: opts.sndbuf, cc: opts.cc ?? this.defaultCc });
    if (family === 4) {
      const d = typeof dst === 'number' ? dst : v4FromMapped(dst);
      const src = this.stack.sourceFor4(d, opts.ifindex ?? 0);
      if (src === null) throw new ErrnoError('ENETUNREACH', 'connect');
      c.local4 = opts.local4 ? opts.local4 : src;
      c.remote4 = d;
      c.mssCap = this.capMss(mss4(this.stack.mtuFor(d)));
    } else {
      const d = dst as Ipv6Address;
      const src = this.stack.sourceFor6(d, opts.ifindex ?? 0);
      if (src === null) throw new ErrnoError('ENETUNREACH', 'connect');
      c.local6 = Uint8Array.from(opts.local6 !== undefined && !isUnspecified6(opts.local6) ? opts.local6 : src);
      c.remote6 = Uint8Array.from(d);
      const iface = this.stack.ip6.routeTo(d, opts.ifindex ?? 0);
      c.mssCap = this.capMss(mss6(iface ? this.stack.ip6.mtuFor(d, iface) : 1280));
      c.ifindex = opts.ifindex ?? 0;
    }
    if (opts.mss) c.mssCap = Math.min(c.mssCap, opts.mss);
    c.advMss = c.mssCap;
    c.remotePort = port;
    c.localPort = opts.localPort || this.ephemeralPort(c);
    c.noDelay = opts.noDelay ?? false;
    c.lastReceiveAt = this.now;
    this.insert(c);
    this.counters.activeOpens++;
    c.openActive(this.isnFor(c), this.isn.tsOffset(c.family === 4 ? c.local4 : c.local6, c.localPort, c.family === 4 ? c.remote4 : c.remote6, c.remotePort));
    return c;
  }

  /** listen(): a listener on address:port (0 / :: for any). */
  listen(family: 4 | 6, address: Ipv4Address | Ipv6Address, port: number, backlog = 128, opts: { v6Only?: boolean; reusePort?: boolean } = {}): TcpListener {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new ErrnoError('EINVAL', 'bind');
    const l = new TcpListener(family);
    if (family === 4) {
      if (typeof address !== 'number') throw new ErrnoError('EAFNOSUPPORT', 'bind');
      if (address !== 0 && !this.stack.isLocal(address)) throw new ErrnoError('EADDRNOTAVAIL', 'bind');
      l.local4 = address;
    } else {
      if (typeof address === 'number') throw new ErrnoError('EINVAL', 'bind');
      if (isV4Mapped(address)) {
        l.accepts6 = false;
        l.local4 = v4FromMapped(address);
      } else {
        l.local6 = Uint8Array.from(address);
        l.accepts4 = !opts.v6Only && isUnspecified6(address);
        if (!isUnspecified6(address) && !this.stack.isLocal6(address)) throw new ErrnoError('EADDRNOTAVAIL', 'bind');
      }
    }
    if (port === 0) port = this.ephemeralListenPort();
    const list = this.listeners.get(port) ?? [];
    l.reusePort = opts.reusePort ?? false;
    for (const o of list) {
      if (o.reusePort && l.reusePort) continue; // SO_REUSEPORT listeners share the port
      const v4 = o.accepts4 && l.accepts4 && (o.local4 === 0 || l.local4 === 0 || o.local4 === l.local4);
      const v6 = o.accepts6 && l.accepts6 && (isUnspecified6(o.local6) || isUnspecified6(l.local6) || ipv6Equal(o.local6, 0, l.local6));
      if (v4 || v6) throw new ErrnoError('EADDRINUSE', 'bind');
    }
    l.localPort = port;
    // Linux clamps the backlog to net.core.somaxconn (4096).
    l.backlog = Math.max(0, Math.min(backlog, 4096));
    list.push(l);
    this.listeners.set(port, list);
    return l;
  }

  /** Closes a listener: queued connections are reset (Linux's inet_csk_listen_stop). */
  closeListener(l: TcpListener): void {
    if (l.closed) return;
    l.closed = true;
    const list = this.listeners.get(l.localPort);
    if (list) {
      list.splice(list.indexOf(l), 1);
      if (list.length === 0) this.listeners.delete(l.localPort);
    }
    // abort() takes each connection out of the queue: walk a copy.
    for (const c of l.acceptQueue.slice()) c.abort();
    l.acceptQueue.length = 0;
  }

  private ephemeralPort(c: TcpConnection): number {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    const start = this.stack.rng.int(0, span - 1);
    for (let k = 0; k < span; k++) {
      const port = EPHEMERAL_LOW + ((start + k) % span);
      if (this.listeners.has(port)) continue;
      if (this.portTaken !== null && this.portTaken(port)) continue;
      c.localPort = port;
      if (this.find(c) === null) return port;
    }
    throw new ErrnoError('EADDRNOTAVAIL', 'connect'); // Linux: no free 4-tuple
  }

  private ephemeralListenPort(): number {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    const start = this.stack.rng.int(0, span - 1);
    for (let k = 0; k < span; k++) {
      const port = EPHEMERAL_LOW + ((start + k) % span);
      if (!this.listeners.has(port)) return port;
    }
    throw new ErrnoError('EADDRINUSE', 'bind');
  }

  private isnFor(c: TcpConnection): number {
    return this.isn.isn(c.family === 4 ? c.local4 : c.local6, c.localPort, c.family === 4 ? c.remote4 : c.remote6, c.remotePort, this.now) | 0;
  }

  // ---------------------------------------------------------------------------------------
  // The connection table

  private hashOf(c: TcpConnection): number {
    return c.family === 4
      ? tupleHash(c.remote4, c.remotePort, c.local4, c.localPort)
      : tupleHash(word(c.remote6, 12) ^ word(c.remote6, 8), c.remotePort, word(c.local6, 12), c.localPort);
  }

  private insert(c: TcpConnection): void {
    c.hash = this.hashOf(c);
    this.buckets[c.hash & this.mask]!.push(c);
    this.connectionCount++;
    // Keep chains short: double the table past two connections a bucket (rehash once per doubling).
    if (this.connectionCount > 2 * this.buckets.length) this.growTable();
  }

  private growTable(): void {
    const next: TcpConnection[][] = [];
    const n = this.buckets.length * 2;
    for (let i = 0; i < n; i++) next.push([]);
    for (const b of this.buckets) for (const c of b) next[c.hash & (n - 1)]!.push(c);
    this.buckets = next;
    this.mask = n - 1;
  }

  private find(c: TcpConnection): TcpConnection | null {
    const b = this.buckets[this.hashOf(c) & this.mask]!;
    for (const o of b) {
      if (o.family !== c.family || o.localPort !== c.localPort || o.remotePort !== c.remotePort) continue;
      if (c.family === 4 ? o.local4 === c.local4 && o.remote4 === c.remote4 : ipv6Equal(o.local6, 0, c.local6) && ipv6Equal(o.remote6, 0, c.remote6)) return o;
    }
    return null;
  }

  private lookup4(src: Ipv4Address, sport: number, dst: Ipv4Address, dport: number): TcpConnection | null {
    const b = this.buckets[tupleHash(src, sport, dst, dport) & this.mask]!;
    for (let i = 0; i < b.length; i++) {
      const o = b[i]!;
      if (o.family === 4 && o.localPort === dport && o.remotePort === sport && o.local4 === dst && o.remote4 === src) return o;
    }
    return null;
  }

  private lookup6(bytes: Uint8Array, srcAt: number, sport: number, dstAt: number, dport: number): TcpConnection | null {
    const h = tupleHash(word(bytes, srcAt + 12) ^ word(bytes, srcAt + 8), sport, word(bytes, dstAt + 12), dport);
    const b = this.buckets[h & this.mask]!;
    for (let i = 0; i < b.length; i++) {
      const o = b[i]!;
      if (o.family === 6 && o.localPort === dport && o.remotePort === sport && ipv6Equal(bytes, dstAt, o.local6) && ipv6Equal(bytes, srcAt, o.remote6)) return o;
    }
    return null;
  }

  private listener4(dst: Ipv4Address, dport: number, ifindex: number): TcpListener | null {
    const list = this.listeners.get(dport);
    if (!list) return null;
    let best: TcpListener | null = null;
    for (const l of list) {
      if (!l.accepts4 || (l.local4 !== 0 && l.local4 !== dst) || (l.boundIfindex !== 0 && l.boundIfindex !== ifindex)) continue;
      // A specific address beats the wildcard; an IPv4 socket beats a dual-stack one (Linux's compute_score).
      if (best === null || (l.local4 !== 0 && best.local4 === 0) || (l.family === 4 && best.family === 6)) best = l;
    }
    return best;
  }

  private listener6(bytes: Uint8Array, dstAt: number, dport: number, ifindex: number): TcpListener | null {
    const list = this.listeners.get(dport);
    if (!list) return null;
    let best: TcpListener | null = null;
    for (const l of list) {
      if (!l.accepts6 || (!isUnspecified6(l.local6) && !ipv6Equal(bytes, dstAt, l.local6)) || (l.boundIfindex !== 0 && l.boundIfindex !== ifindex)) continue;
      if (best === null || (!isUnspecified6(l.local6) && isUnspecified6(best.local6))) best = l;
    }
    return best;
  }

  // ---------------------------------------------------------------------------------------
  // TcpHost

  tcpClosed(c: TcpConnection): void {
    const b = this.buckets[c.hash & this.mask]!;
    const i = b.indexOf(c);
    if (i >= 0) {
      b[i] = b[b.length - 1]!;
      b.pop();
      this.connectionCount--;
    }
    const l = c.listener as TcpListener | null;
    if (l !== null) {
      const k = l.acceptQueue.indexOf(c);
      if (k >= 0) l.acceptQueue.splice(k, 1);
      else l.synQueue = Math.max(0, l.synQueue - 1);
    }
  }

  tcpMayEstablish(c: TcpConnection, dataless: boolean): boolean {
    const l = c.listener as TcpListener | null;
    if (l === null) return true;
    // tcp_check_req: with TCP_DEFER_ACCEPT a bare ACK is dropped until the SYN-ACK has been retransmitted that often.
    if (dataless && l.deferRetrans > 0 && c.retransmits < l.deferRetrans) return false;
    if (!l.acceptQueueFull) return true;
    l.overflows++;
    return false;
  }

  tcpEstablished(c: TcpConnection): void {
    const l = c.listener as TcpListener | null;
    if (l === null || l.closed) return;
    l.synQueue = Math.max(0, l.synQueue - 1);
    l.acceptQueue.push(c);
    if (l.childRcvShutdown) c.rcvShutdown = true;
    if (l.childSendShutdown) c.shutdownWrite();
    this.counters.passiveOpens++;
    l.onAcceptable?.();
  }

  /** Builds one segment of `c` and sends it (options per RFC 9293 §3.2, RFC 7323, RFC 2018). */
  tcpOutput(c: TcpConnection, flags: number, seq: number, dataOffset: number, dataLength: number): void {
    const syn = (flags & TcpFlags.SYN) !== 0;
    const opts = this.optionBytes;
    let ol = 0;
    const tsVal = (Math.floor(this.now / 1000) + c.tsOffset) | 0;
    if (syn) {
      const active = c.state === TcpState.SynSent;
      // Linux's SYN layout: MSS, SACK-permitted + timestamps, NOP, window scale.
      opts[0] = 2; opts[1] = 4; writeU16(opts, 2, c.advMss); ol = 4;
      const ts = active ? this.timestamps : c.tsOk, sack = active ? this.sack : c.sackOk;
      const ws = active ? this.windowScaling : this.windowScaling && (c.sndShift > 0 || c.rcvShift > 0 || this.peerOfferedWs);
      if (sack && ts) {
        opts[ol] = 4; opts[ol + 1] = 2; opts[ol + 2] = 8; opts[ol + 3] = 10;
        writeU32(opts, ol + 4, tsVal); writeU32(opts, ol + 8, active ? 0 : c.tsRecent); ol += 12;
      } else if (ts) {
        opts[ol] = 1; opts[ol + 1] = 1; opts[ol + 2] = 8; opts[ol + 3] = 10;
        writeU32(opts, ol + 4, tsVal); writeU32(opts, ol + 8, active ? 0 : c.tsRecent); ol += 12;
      } else if (sack) {
        opts[ol] = 1; opts[ol + 1] = 1; opts[ol + 2] = 4; opts[ol + 3] = 2; ol += 4;
      }
      if (ws) {
        opts[ol] = 1; opts[ol + 1] = 3; opts[ol + 2] = 3; opts[ol + 3] = c.rcvShift; ol += 4;
      }
    } else if ((flags & TcpFlags.RST) === 0) {
      if (c.tsOk) {
        opts[0] = 1; opts[1] = 1; opts[2] = 8; opts[3] = 10;
        writeU32(opts, 4, tsVal); writeU32(opts, 8, c.tsRecent); ol = 12;
      }
      const dsack = c.sackOk && c.takeDsack();
      if (c.sackOk && (dsack || c.ooo.blockCount > 0)) {
        const max = c.tsOk ? 3 : 4;
        // RFC 2883 §4: a D-SACK block comes first, then the out-of-order blocks (RFC 2018 §4 order).
        let n = 0;
        if (dsack) {
          this.sackEdges[0] = c.dsackLeft;
          this.sackEdges[1] = c.dsackRight;
          n = 1;
        }
        const m = c.ooo.sackBlocks(this.sackScratch, max - n);
        for (let j = 0; j < m; j++, n++) {
          this.sackEdges[2 * n] = this.sackScratch[2 * j]!;
          this.sackEdges[2 * n + 1] = this.sackScratch[2 * j + 1]!;
        }
        if (n > 0) {
          opts[ol] = 1; opts[ol + 1] = 1; opts[ol + 2] = 5; opts[ol + 3] = 2 + 8 * n;
          for (let k = 0; k < n; k++) {
            writeU32(opts, ol + 4 + 8 * k, this.sackEdges[2 * k]!);
            writeU32(opts, ol + 8 + 8 * k, this.sackEdges[2 * k + 1]!);
          }
          ol += 4 + 8 * n;
        }
      }
    }
    const hl = TCP_MIN_HEADER_LEN + ol;
    const tcpLength = hl + dataLength;
    // IPv4 to a resolved neighbour: written in place in the stack's transmit frame, no allocation.
    const at = c.family === 4 ? this.stack.beginIpv4InPlace(c.remote4, 0, tcpLength) : -1;
    const seg = at >= 0 ? this.stack.txBuffer : new Uint8Array(tcpLength);
    const o = at >= 0 ? at : 0;
    writeU16(seg, o, c.localPort);
    writeU16(seg, o + 2, c.remotePort);
    writeU32(seg, o + 4, seq);
    const ackOn = (flags & TcpFlags.ACK) !== 0;
    writeU32(seg, o + 8, ackOn ? c.rcvNxt : 0);
    seg[o + 12] = (hl / 4) << 4;
    seg[o + 13] = flags & 0xff;
    // RFC 7323 §2.2: the window in a SYN is never scaled.
    const win = (flags & TcpFlags.RST) !== 0 ? 0 : syn ? synWindow(c) : c.windowField();
    if (syn) c.rcvAdvEdge = seqPlus(c.rcvNxt, Math.min(0xffff, c.windowToAdvertise()));
    writeU16(seg, o + 14, win);
    seg[o + 16] = 0;
    seg[o + 17] = 0;
    seg[o + 18] = 0;
    seg[o + 19] = 0;
    // Urgent mode (RFC 9293 §3.8.5, Linux's tcp_transmit_skb): segments before SND.UP carry URG
    // and the pointer (one past the urgent byte, as BSD and Linux), 0xffff while it is out of reach.
    if (c.urgMode && (flags & (TcpFlags.SYN | TcpFlags.RST)) === 0 && seqBefore(seq, c.sndUp)) {
      const d = seqDiff(c.sndUp, seq);
      if (d < 0x10000 || seqBefore(c.sndNxt, seqPlus(seq, 0xffff))) {
        seg[o + 13] = (flags | TcpFlags.URG) & 0xff;
        writeU16(seg, o + 18, Math.min(d, 0xffff));
      }
    }
    for (let k = 0; k < ol; k++) seg[o + TCP_MIN_HEADER_LEN + k] = opts[k]!;
    if (dataLength > 0) c.sendQ.peek(seg, o + hl, dataOffset, dataLength);
    this.counters.segmentsOut++;
    c.segsOut++;
    if (flags & TcpFlags.RST) this.counters.resetsOut++;
    if (c.family === 4) {
      const sum = sumBytes(seg, o, tcpLength, ipv4PseudoHeaderSum(c.local4, c.remote4, IpProtocol.TCP, tcpLength));
      writeU16(seg, o + 16, finishChecksum(sum));
      if (at >= 0) this.stack.finishIpv4InPlace(IpProtocol.TCP, c.local4, c.remote4, tcpLength);
      else this.stack.sendIpv4(c.remote4, IpProtocol.TCP, seg, c.local4);
    } else {
      const sum = sumBytes(seg, 0, tcpLength, ipv6PseudoHeaderSum(c.local6, c.remote6, IpProtocol.TCP, tcpLength));
      writeU16(seg, 16, finishChecksum(sum));
      this.stack.ip6.send(c.remote6, IpProtocol.TCP, seg, c.local6, -1, c.ifindex);
    }
  }

  private readonly optionBytes = new Uint8Array(40);
  private readonly sackEdges = new Array<number>(8).fill(0);
  private readonly sackScratch = new Array<number>(8).fill(0);
  /** Set while answering a SYN that offered window scaling. */
  private peerOfferedWs = false;

  // ---------------------------------------------------------------------------------------
  // Input

  /** A TCP segment in an IPv4 packet (from the IP layer, to one of our unicast addresses). */
  receive4(iface: NetInterface, bytes: Uint8Array, at: number, len: number, src: Ipv4Address, dst: Ipv4Address): void {
    const ok = iface.rxChecksumVerified || foldSum(sumBytes(bytes, at, len, ipv4PseudoHeaderSum(src, dst, IpProtocol.TCP, len))) === 0xffff;
    if (!this.parse(bytes, at, len, ok)) return;
    const seg = this.seg;
    seg.ifindex = iface.index;
    const sport = (bytes[at]! << 8) | bytes[at + 1]!, dport = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    let c = this.lookup4(src, sport, dst, dport);
    if (c !== null && c.state === TcpState.TimeWait && this.reuseTimeWait(c, seg)) c = null;
    if (c !== null) {
      c.segmentArrives(seg);
      return;
    }
    const l = this.listener4(dst, dport, iface.index);
    if (l !== null && this.listenerArrives(l, seg, 4, src, sport, dst, dport, null, 0, 0)) return;
    this.noSocket(4, src, sport, dst, dport, null, 0, 0);
  }

  /** A TCP segment in an IPv6 packet; addresses at bytes[srcAt], bytes[dstAt]. */
  receive6(iface: NetInterface, bytes: Uint8Array, at: number, len: number, srcAt: number, dstAt: number): void {
    const ok = iface.rxChecksumVerified || foldSum(sumBytes(bytes, at, len, ipv6PseudoHeaderSum(bytes.subarray(srcAt, srcAt + 16), bytes.subarray(dstAt, dstAt + 16), IpProtocol.TCP, len))) === 0xffff;
    if (!this.parse(bytes, at, len, ok)) return;
    const seg = this.seg;
    seg.ifindex = iface.index;
    const sport = (bytes[at]! << 8) | bytes[at + 1]!, dport = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    let c = this.lookup6(bytes, srcAt, sport, dstAt, dport);
    if (c !== null && c.state === TcpState.TimeWait && this.reuseTimeWait(c, seg)) c = null;
    if (c !== null) {
      c.segmentArrives(seg);
      return;
    }
    const l = this.listener6(bytes, dstAt, dport, iface.index);
    if (l !== null && this.listenerArrives(l, seg, 6, 0, sport, 0, dport, bytes, srcAt, dstAt)) return;
    this.noSocket(6, 0, sport, 0, dport, bytes, srcAt, dstAt);
  }

  private parse(bytes: Uint8Array, at: number, len: number, checksumOk: boolean): boolean {
    this.counters.segmentsIn++;
    if (!checksumOk) {
      this.counters.badChecksum++;
      return false;
    }
    const v = this.view.reset(bytes, at, len);
    if (v.check() !== 0 || v.readOptions(this.seg.options) !== 0) {
      this.counters.malformed++;
      return false;
    }
    const seg = this.seg;
    seg.seq = ((bytes[at + 4]! << 24) | (bytes[at + 5]! << 16) | (bytes[at + 6]! << 8) | bytes[at + 7]!);
    seg.ack = ((bytes[at + 8]! << 24) | (bytes[at + 9]! << 16) | (bytes[at + 10]! << 8) | bytes[at + 11]!);
    seg.flags = ((bytes[at + 12]! & 1) << 8) | bytes[at + 13]!;
    seg.window = (bytes[at + 14]! << 8) | bytes[at + 15]!;
    seg.urgentPointer = (bytes[at + 18]! << 8) | bytes[at + 19]!;
    const hl = (bytes[at + 12]! >>> 4) * 4;
    seg.bytes = bytes;
    seg.payloadAt = at + hl;
    seg.payloadLength = len - hl;
    return true;
  }

  /**
   * RFC 6191 / Linux (tcp_timewait_state_process): a SYN for a TIME-WAIT connection with a
   * higher sequence number (or newer timestamp) ends TIME-WAIT and opens anew.
   */
  private reuseTimeWait(c: TcpConnection, seg: SegmentIn): boolean {
    if ((seg.flags & (TcpFlags.SYN | TcpFlags.ACK | TcpFlags.RST)) !== TcpFlags.SYN) return false;
    const newer = c.tsOk && seg.options.hasTimestamps ? ((seg.options.tsVal | 0) - c.tsRecent) | 0 : ((seg.seq - c.rcvNxt) | 0);
    if (newer <= 0) return false;
    c.toClosed();
    return true;
  }

  /** RFC 9293 §3.10.7.2 for a listener. Returns false to answer as if nobody listened. */
  private listenerArrives(l: TcpListener, seg: SegmentIn, family: 4 | 6, src4: number, sport: number, dst4: number, dport: number,
    bytes: Uint8Array | null, srcAt: number, dstAt: number): boolean {
    const f = seg.flags;
    if (f & TcpFlags.RST) return true; // ignored
    if (f & TcpFlags.ACK) {
      // Maybe the final ACK of a handshake answered with a SYN cookie (RFC 4987 §3.6).
      if ((f & TcpFlags.SYN) === 0 && this.syncookies) {
        if (l.acceptQueueFull) {
          // Linux: the ACK completing a handshake is dropped while the accept queue is full
          // (tcp_abort_on_overflow = 0); the peer's next segment carries the cookie again.
          l.overflows++;
          return true;
        }
        const c = this.fromCookie(l, seg, family, src4, sport, dst4, dport, bytes, srcAt, dstAt);
        if (c !== null) return true;
      }
      return false; // RST <SEQ=SEG.ACK>
    }
    if ((f & TcpFlags.SYN) === 0) return true; // dropped
    // Linux (tcp_rcv_state_process, LISTEN): a SYN that also carries FIN is discarded — no
    // legitimate opener sends one; scanners and IDS evasion do.
    if (f & TcpFlags.FIN) return true;
    if (l.acceptQueueFull) {
      l.overflows++;
      return true; // Linux drops the SYN; the client retries
    }
    const c = new TcpConnection(this, family, { cc: this.defaultCc });
    this.fillAddresses(c, family, src4, sport, dst4, dport, bytes, srcAt, dstAt);
    c.ifindex = seg.ifindex;
    if (l.synQueue >= Math.max(1, l.backlog) && this.syncookies) {
      // SYN queue full: answer statelessly with a cookie as the ISN (the connection object is not kept).
      const cookie = this.cookies.encode(c.family === 4 ? c.local4 : c.local6, c.localPort, c.family === 4 ? c.remote4 : c.remote6, c.remotePort, seg.seq, Math.min(seg.options.mss || 536, c.mssCap), this.now);
      l.cookiesSent++;
      c.advMss = c.mssCap;
      c.iss = cookie | 0;
      c.irs = seg.seq;
      c.rcvNxt = seqPlus(seg.seq, 1);
      c.state = TcpState.SynReceived;
      // Cookies carry no options but the MSS (Linux encodes more in the timestamp; we do not).
      this.tcpOutput(c, TcpFlags.SYN | TcpFlags.ACK, c.iss, 0, 0);
      return true;
    }
    this.insert(c);
    c.listener = l;
    l.synQueue++;
    this.peerOfferedWs = seg.options.has(3);
    c.advMss = c.mssCap;
    c.openPassive(seg, this.isnFor(c), this.isn.tsOffset(c.family === 4 ? c.local4 : c.local6, c.localPort, c.family === 4 ? c.remote4 : c.remote6, c.remotePort), c.mssCap);
    this.peerOfferedWs = false;
    return true;
  }

  private fillAddresses(c: TcpConnection, family: 4 | 6, src4: number, sport: number, dst4: number, dport: number, bytes: Uint8Array | null, srcAt: number, dstAt: number): void {
    c.localPort = dport;
    c.remotePort = sport;
    if (family === 4) {
      c.local4 = dst4;
      c.remote4 = src4;
      c.mssCap = this.capMss(mss4(this.stack.mtuFor(src4)));
    } else {
      c.local6 = bytes!.slice(dstAt, dstAt + 16);
      c.remote6 = bytes!.slice(srcAt, srcAt + 16);
      const iface = this.stack.ip6.routeTo(c.remote6, 0);
      c.mssCap = this.capMss(mss6(iface ? this.stack.ip6.mtuFor(c.remote6, iface) : 1280));
    }
  }

  private fromCookie(l: TcpListener, seg: SegmentIn, family: 4 | 6, src4: number, sport: number, dst4: number, dport: number,
    bytes: Uint8Array | null, srcAt: number, dstAt: number): TcpConnection | null {
    const c = new TcpConnection(this, family, { cc: this.defaultCc });
    this.fillAddresses(c, family, src4, sport, dst4, dport, bytes, srcAt, dstAt);
    const peerIsn = seqPlus(seg.seq, -1);
    const mss = this.cookies.decode(seqPlus(seg.ack, -1) >>> 0, c.family === 4 ? c.local4 : c.local6, c.localPort, c.family === 4 ? c.remote4 : c.remote6, c.remotePort, peerIsn >>> 0, this.now);
    if (mss === 0) return null;
    c.iss = seqPlus(seg.ack, -1);
    c.sndUna = seg.ack;
    c.sndNxt = seg.ack;
    c.sndMax = seg.ack;
    c.irs = peerIsn;
    c.rcvNxt = seg.seq;
    c.mss = mss;
    c.advMss = c.mssCap;
    c.rcvShift = 0;
    c.sndShift = 0;
    c.sndWnd = seg.window;
    c.sndWl1 = seg.seq;
    c.sndWl2 = seg.ack;
    c.rcvAdvEdge = seqPlus(c.rcvNxt, Math.min(0xffff, c.windowToAdvertise()));
    c.cc.setMss(mss);
    c.state = TcpState.Established;
    c.lastReceiveAt = this.now;
    c.ifindex = seg.ifindex;
    this.insert(c);
    c.listener = l;
    l.synQueue++; // tcpEstablished takes it back off
    this.tcpEstablished(c);
    if (seg.payloadLength > 0 || (seg.flags & TcpFlags.FIN)) c.segmentArrives(seg);
    return c;
  }

  /**
   * An ICMP error (fragmentation needed) quoting one of our IPv4 segments: the connection it
   * belongs to, if there is one and the quoted sequence number lies in SND.UNA..SND.NXT (RFC
   * 5927 §4.1; Linux tcp_v4_err drops the rest as OutOfWindowIcmps), else null — a blind
   * attacker cannot shrink a path MTU or reach a connection without guessing the window.
   */
  icmpTarget4(local: Ipv4Address, localPort: number, remote: Ipv4Address, remotePort: number, seq: number): TcpConnection | null {
    const c = this.lookup4(remote, remotePort, local, localPort);
    if (c === null || c.state === TcpState.TimeWait || c.state === TcpState.Closed) return null;
    if (seqBefore(seq, c.sndUna) || seqBefore(c.sndNxt, seq)) return null;
    return c;
  }

  /** The path MTU toward a connection's peer dropped: its MSS follows (RFC 1191 §6.4). */
  pathMtuChanged4(c: TcpConnection): void {
    c.pathMtuReduced(this.capMss(mss4(this.stack.mtuFor(c.remote4))));
  }

  /** RFC 9293 §3.10.7.1: a segment for no connection gets a RST (unless it is one). */
  private noSocket(family: 4 | 6, src4: number, sport: number, dst4: number, dport: number, bytes: Uint8Array | null, srcAt: number, dstAt: number): void {
    const seg = this.seg;
    this.counters.noSocket++;
    if (seg.flags & TcpFlags.RST) return;
    const c = this.rstScratch(family);
    this.fillAddresses(c, family, src4, sport, dst4, dport, bytes, srcAt, dstAt);
    if (seg.flags & TcpFlags.ACK) this.tcpOutput(c, TcpFlags.RST, seg.ack, 0, 0);
    else {
      const len = seg.payloadLength + (seg.flags & TcpFlags.SYN ? 1 : 0) + (seg.flags & TcpFlags.FIN ? 1 : 0);
      c.rcvNxt = seqPlus(seg.seq, len);
      this.tcpOutput(c, TcpFlags.RST | TcpFlags.ACK, 0, 0, 0);
    }
  }

  private rst4: TcpConnection | null = null;
  private rst6: TcpConnection | null = null;
  /** A connection object used only to address RSTs (never in the table). */
  private rstScratch(family: 4 | 6): TcpConnection {
    if (family === 4) return (this.rst4 ??= new TcpConnection(this, 4, { rcvbuf: 0, sndbuf: 0, cc: 'none' }));
    return (this.rst6 ??= new TcpConnection(this, 6, { rcvbuf: 0, sndbuf: 0, cc: 'none' }));
  }
}

function word(b: Uint8Array, at: number): number {
  return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
}

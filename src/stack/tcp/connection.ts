// One TCP connection (RFC 9293): the transmission control block, the state machine run on
// each arriving segment (§3.10.7), output (segmentation within the congestion and receive
// windows, Nagle, FIN), retransmission (RFC 6298 timer with Linux's bounds, fast retransmit
// on three duplicate ACKs, RFC 5681/6582 recovery through the pluggable congestion control),
// delayed ACKs like Linux (quick ACKs at start, every second full segment, 40 ms), window
// scaling, timestamps with PAWS (RFC 7323), SACK (RFC 2018), zero-window probes, TIME-WAIT.
// The stack owns addressing, demultiplexing and building the packet (tcp-output in stack.ts).

import type { ErrnoName } from '../../errno.js';
import { TcpFlags } from '../../wire/tcp.js';
import { ByteRing } from './byte-ring.js';
import type { BufferPool } from '../buffer-pool.js';
import { ReassemblyQueue } from './reassembly-queue.js';
import { Timer, type TimerWheel } from './timer-wheel.js';
import { RttEstimator } from './rtt.js';
import { createCongestionControl, type CongestionAlgorithm, type CongestionControl } from './congestion.js';
import { seqAtOrBefore, seqBefore, seqDiff, seqPlus, type SegmentIn } from './segment.js';
import { DUP_THRESH, Scoreboard, SegmentTag } from './scoreboard.js';
import { RcvMemory } from './rcv-memory.js';

export const TcpState = {
  Closed: 'CLOSED',
  Listen: 'LISTEN',
  SynSent: 'SYN_SENT',
  SynReceived: 'SYN_RECV',
  Established: 'ESTABLISHED',
  FinWait1: 'FIN_WAIT1',
  FinWait2: 'FIN_WAIT2',
  CloseWait: 'CLOSE_WAIT',
  Closing: 'CLOSING',
  LastAck: 'LAST_ACK',
  TimeWait: 'TIME_WAIT',
} as const;
export type TcpState = (typeof TcpState)[keyof typeof TcpState];

/** Linux defaults (Documentation/networking/ip-sysctl.rst). */
export const TCP_DEFAULTS = Object.freeze({
  /** tcp_rmem / tcp_wmem defaults (middle values). */
  rcvbuf: 131072,
  sndbuf: 16384 * 4,
  /** tcp_syn_retries = 6 (1+2+4+8+16+32+64 s, then ETIMEDOUT). */
  synRetries: 6,
  /** tcp_retries2 = 15. */
  retries2: 15,
  /** TCP_TIMEWAIT_LEN. */
  timeWaitUs: 60_000_000,
  /** TCP_DELACK_MIN. */
  delayedAckUs: 40_000,
  /** TCP_DELACK_MAX. */
  delayedAckMaxUs: 200_000,
  /** TCP_MAX_QUICKACKS. */
  maxQuickAcks: 16,
  /** tcp_fin_timeout for orphaned FIN-WAIT-2. */
  finTimeoutUs: 60_000_000,
  /** TCP_RTO_MIN, TCP_RTO_MAX, TCP_TIMEOUT_INIT. */
  minRtoUs: 200_000,
  maxRtoUs: 120_000_000,
  initialRtoUs: 1_000_000,
  /** tcp_keepalive_time / intvl / probes. */
  keepIdleUs: 7_200_000_000,
  keepIntervalUs: 75_000_000,
  keepCount: 9,
  /** tcp_invalid_ratelimit: one out-of-window ACK or challenge ACK per 500 ms per socket. */
  invalidRatelimitUs: 500_000,
  /** RFC 8985 §7.2: a probe timeout with one segment in flight allows for a delayed ACK (Linux TCP_RTO_MIN). */
  tlpDelayedAckUs: 200_000,
  /** Linux TCP_TIMEOUT_MIN added to 2·SRTT otherwise. */
  tlpMinUs: 2_000,
  /** tcp_rmem / tcp_wmem maxima: how far auto-tuning grows the buffers. */
  rcvbufMax: 6 * 1024 * 1024,
  sndbufMax: 4 * 1024 * 1024,
});

/** What the retransmission timer is timing (Linux's icsk_pending): a timeout, the RACK reordering window, a tail loss probe. */
const XmitTimer = { Rto: 1, Reorder: 2, Probe: 3, Persist: 4 } as const;

const UNSPECIFIED6 = new Uint8Array(16);

/**
 * Three timers a connection, as Linux: retransmission (which also times the RACK reordering
 * window, the loss probe and zero-window probes), delayed ACK, and keepalive (which also
 * ends TIME-WAIT and an orphaned FIN-WAIT-2).
 */
export const TimerKind = { Retransmit: 1, DelayedAck: 2, Keepalive: 3 } as const;

/** What a connection knows of urgent data received (Linux's urg_data states). */
export const UrgState = { None: 0, NotYet: 1, Valid: 2, Read: 3 } as const;

/** What a connection needs from the stack. */
export interface TcpHost {
  readonly now: number;
  readonly wheel: TimerWheel;
  readonly bufferPool: BufferPool;
  /** net.ipv4.tcp_sack, tcp_timestamps, tcp_window_scaling: which options are offered and accepted. */
  readonly sack: boolean;
  readonly timestamps: boolean;
  readonly windowScaling: boolean;
  /** Builds and sends one segment of this connection; data comes from c.sendQ at `dataOffset` (bytes past SND.UNA). */
  tcpOutput(c: TcpConnection, flags: number, seq: number, dataOffset: number, dataLength: number): void;
  /** The connection reached CLOSED: forget it. */
  tcpClosed(c: TcpConnection): void;
  /** A passive connection became ESTABLISHED: queue it for accept(). */
  tcpEstablished(c: TcpConnection): void;
  /** Whether a passive connection may complete now (room in its listener's accept queue; data, under TCP_DEFER_ACCEPT). */
  tcpMayEstablish(c: TcpConnection, dataless: boolean): boolean;
}

/**
 * What a connection tells the socket layer (Linux's sk_data_ready, sk_state_change,
 * sk_write_space and sk_error_report callbacks): epoll and blocked calls wake on these.
 */
export const TcpEvent = { Data: 1, State: 2, Space: 4, Error: 8 } as const;

/** The socket layer's side of those callbacks. */
export interface TcpWaker {
  tcpEvent(c: TcpConnection, event: number): void;
}

/** A TCP_INFO-like record. */
export interface TcpInfo {
  state: TcpState;
  rttUs: number;
  rttVarUs: number;
  rtoUs: number;
  cwnd: number;
  ssthresh: number;
  mss: number;
  retransmits: number;
  totalRetransmits: number;
  bytesAcked: number;
  bytesReceived: number;
  sndWnd: number;
  rcvWnd: number;
  unacked: number;
}

export class TcpConnection {
  state: TcpState = TcpState.Closed;
  readonly family: 4 | 6;
  local4 = 0;
  remote4 = 0;
  /** IPv6 addresses; replaced (never written in place), and shared zeros for IPv4 connections. */
  local6: Uint8Array = UNSPECIFIED6;
  remote6: Uint8Array = UNSPECIFIED6;
  localPort = 0;
  remotePort = 0;
  ifindex = 0;
  /** Send sequence space (RFC 9293 §3.3.1), int32 bit patterns. */
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence sent (SND.NXT can be pulled back by a retransmission timeout). */
  sndMax = 0;
  sndWnd = 0;
  sndWl1 = 0;
  /** The largest window the peer offered (Linux max_window). */
  maxSndWnd = 0;
  sndWl2 = 0;
  /** Receive sequence space. */
  irs = 0;
  rcvNxt = 0;
  /** The right edge we last advertised (RCV.NXT + window), never moved left (RFC 9293 §3.8.6.2.2). */
  rcvAdvEdge = 0;
  /** Send MSS (peer's MSS option, route MTU) and what we announce. */
  mss = 536;
  advMss = 1460;
  sndShift = 0;
  rcvShift = 0;
  tsOk = false;
  tsRecent = 0;
  tsOffset = 0;
  sackOk = false;
  readonly sendQ: ByteRing;
  readonly recvQ: ByteRing;
  readonly ooo: ReassemblyQueue;
  /** The user shut down sending: a FIN follows the queued data. */
  finQueued = false;
  /** Our FIN went out (its sequence number is sndMax - 1 once sent). */
  finSent = false;
  finSeq = 0;
  /** The peer's FIN arrived in order. */
  peerFinished = false;
  /** A FIN seen ahead of missing data (its sequence number), processed when the gap fills. */
  pendingFinSeq = 0;
  hasPendingFin = false;
  readonly rtt: RttEstimator;
  cc: CongestionControl;
  dupAcks = 0;
  /** Fast recovery (RFC 6675 / RFC 6582) until SND.UNA reaches recoverSeq. */
  inRecovery = false;
  /** After a retransmission timeout, until SND.UNA reaches recoverSeq (Linux's Loss state). */
  rtoLoss = false;
  recoverSeq = 0;
  /**
   * Undo of spurious reductions (Linux's undo_marker, undo_retrans, retrans_stamp,
   * prior_cwnd, prior_ssthresh; RFC 3708 D-SACK detection, RFC 3522 Eifel detection with
   * RFC 4015's response). Set when a recovery or timeout starts (`hasUndo`, SND.UNA then in
   * `undoMarker`); `undoRetrans` counts the episode's retransmissions not yet reported
   * duplicate by a D-SACK (−1: none sent yet); `retransStampUs` is the first one's send time.
   */
  hasUndo = false;
  undoMarker = 0;
  undoRetrans = -1;
  retransStampUs = -1;
  priorCwnd = 0;
  priorSsthresh = 0;
  /** Reductions undone: by D-SACKs (every retransmission was unnecessary) and by timestamps (Eifel). */
  dsackUndos = 0;
  eifelUndos = 0;
  /** Recoveries entered (fast recovery, not timeouts). */
  recoveries = 0;
  /** Every segment in flight and what became of it (SACK, RACK, lost, retransmitted). */
  readonly sb = new Scoreboard();
  /** Which deadline rtxTimer holds (XmitTimer). */
  private xmitTimer: number = XmitTimer.Rto;
  /** RFC 8985 §7: one tail loss probe per flight, outstanding until SND.UNA passes tlpEnd. */
  tlpOutstanding = false;
  tlpIsRetrans = false;
  tlpEnd = 0;
  private tlpDsack = false;
  tlpProbes = 0;
  /** Linux's last_oow_ack_time: out-of-window and challenge ACKs are rate limited per socket. */
  private lastOowAckAt = -1;
  challengeAcks = 0;
  /** A D-SACK (RFC 2883) for the next ACK: a duplicate segment arrived. */
  private dsackPending = false;
  dsackLeft = 0;
  dsackRight = 0;
  /** Receive-buffer auto-tuning (Linux tcp_rcv_space_adjust): bytes read in the current measurement RTT. */
  private rcvSpace = 0;
  private rcvSpaceSeq = 0;
  private rcvSpaceAt = -1;
  /** SO_RCVBUF / SO_SNDBUF set by the user: no auto-tuning (Linux SOCK_RCVBUF_LOCK / SOCK_SNDBUF_LOCK). */
  rcvbufLocked = false;
  sndbufLocked = false;
  /** Karn's rule without timestamps: time one segment, not a retransmitted one. */
  rttSeq = 0;
  rttStart = -1;
  /** Consecutive timeouts of the current segment. */
  retransmits = 0;
  totalRetransmits = 0;
  bytesAcked = 0;
  bytesReceived = 0;
  /** Segments received and sent, every kind and retransmissions included (Linux's tcpi_segs_in / tcpi_segs_out; `xlio stats`). */
  segsIn = 0;
  segsOut = 0;
  /** Bytes the application has read. */
  bytesRead = 0;
  /** ACK scheduling: segments received since our last ACK, quick ACKs left. */
  unackedSegments = 0;
  quickAcks: number = TCP_DEFAULTS.maxQuickAcks;
  /**
   * Linux's interactive ("pingpong") mode: we answered data within the delayed-ACK time, so
   * ACKs wait to ride on the next reply instead of going at once; a delayed-ACK timeout ends it.
   */
  pingpong = false;
  /** XLIO_TCP_QUICKACK: every segment is acknowledged at once, for the connection's life (no delayed ACKs). */
  ackEverySegment = false;
  /** Urgent mode while sending (SND.UP past SND.UNA, RFC 9293 §3.8.5): set by send(MSG_OOB). */
  urgMode = false;
  sndUp = 0;
  /**
   * Urgent data received (Linux's urg_data): none, a pointer seen but the byte not yet here,
   * the byte here (urgByte, at urgSeq), or the byte read with MSG_OOB.
   */
  urgState = 0;
  urgByte = 0;
  urgSeq = 0;
  /** SO_OOBINLINE: the urgent byte stays in the stream. */
  oobInline = false;
  /** A MSG_MORE send left a partial segment queued: only an ACK of new data, a window change or a FIN sends it. */
  heldByMore = false;
  /** Receive memory as Linux accounts it, to know when its fast path would not be taken. */
  private readonly rcvMem = new RcvMemory();
  /** The segment being processed went down Linux's slow path for lack of receive memory. */
  private rcvSlowPath = false;
  /** TCP_DEFER_ACCEPT on a connecting socket: the handshake's last ACK is held back for data. */
  deferHandshakeAck = false;
  /** When in-order data last arrived (Linux's icsk_ack.lrcvtime); −1: never. */
  lastDataAt = -1;
  ackNow = false;
  noDelay = false;
  cork = false;
  keepalive = false;
  keepIdleUs: number = TCP_DEFAULTS.keepIdleUs;
  keepIntervalUs: number = TCP_DEFAULTS.keepIntervalUs;
  keepCount: number = TCP_DEFAULTS.keepCount;
  keepProbes = 0;
  /** TCP_USER_TIMEOUT in µs (0: off). */
  userTimeoutUs = 0;
  lastReceiveAt = 0;
  /** The first unacknowledged transmission of the oldest data (for TCP_USER_TIMEOUT). */
  unackedSince = -1;
  /** An error for the next call (ECONNREFUSED, ECONNRESET, ETIMEDOUT), like sk_err. */
  error: ErrnoName | null = null;
  /** The listener this came from, until accepted. */
  listener: unknown = null;
  /** The application closed the socket (no more reads): data arriving after that gets RST. */
  orphaned = false;
  /** shutdown(SHUT_RD): after our FIN, new data is answered with RST (Linux's TCPAbortOnData). */
  rcvShutdown = false;
  readonly rtxTimer: Timer;
  readonly delackTimer: Timer;
  readonly keepaliveTimer: Timer;
  /** @internal Table links. */
  hash = 0;
  /** The socket that owns this connection, told of data, state changes, send space and errors. */
  waker: TcpWaker | null = null;

  constructor(
    private readonly host: TcpHost,
    family: 4 | 6,
    opts: { rcvbuf?: number; sndbuf?: number; cc?: CongestionAlgorithm } = {},
  ) {
    this.family = family;
    this.sendQ = new ByteRing(0, opts.sndbuf ?? TCP_DEFAULTS.sndbuf, host.bufferPool);
    this.recvQ = new ByteRing(0, opts.rcvbuf ?? TCP_DEFAULTS.rcvbuf, host.bufferPool);
    this.ooo = new ReassemblyQueue(opts.rcvbuf ?? TCP_DEFAULTS.rcvbuf);
    this.rtt = new RttEstimator(TCP_DEFAULTS.minRtoUs, TCP_DEFAULTS.maxRtoUs, TCP_DEFAULTS.initialRtoUs);
    this.cc = createCongestionControl(opts.cc ?? 'cubic', this.mss);
    this.rcvbufLocked = opts.rcvbuf !== undefined;
    this.sndbufLocked = opts.sndbuf !== undefined;
    this.rtxTimer = new Timer(this, TimerKind.Retransmit);
    this.delackTimer = new Timer(this, TimerKind.DelayedAck);
    this.keepaliveTimer = new Timer(this, TimerKind.Keepalive);
    // Linux picks the receive window scale so the largest buffer auto-tuning may reach fits
    // (tcp_select_initial_window with tcp_rmem[2]); a buffer set by the user bounds it instead.
    const largest = this.rcvbufLocked ? this.recvQ.free : Math.max(this.recvQ.free, TCP_DEFAULTS.rcvbufMax);
    let shift = 0;
    while (shift < 14 && 65535 * 2 ** shift < largest) shift++;
    this.rcvShift = shift;
  }

  // ---------------------------------------------------------------------------------------
  // Opening

  /** Active open (RFC 9293 §3.10.1): send SYN, SYN-SENT. */
  openActive(iss: number, tsOffset: number): void {
    this.iss = iss | 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.tsOffset = tsOffset | 0;
    this.state = TcpState.SynSent;
    this.sendSyn();
  }

  /** Passive open from a listener's SYN (RFC 9293 §3.10.7.2): SYN-RECEIVED, send SYN-ACK. */
  openPassive(seg: SegmentIn, iss: number, tsOffset: number, mssCap: number): void {
    this.segsIn++; // the SYN
    this.iss = iss | 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.tsOffset = tsOffset | 0;
    this.irs = seg.seq;
    this.rcvNxt = seqPlus(seg.seq, 1);
    this.negotiate(seg, mssCap);
    this.sndWnd = seg.window; // never scaled in a SYN (RFC 7323 §2.2)
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    this.state = TcpState.SynReceived;
    this.lastReceiveAt = this.host.now;
    this.sendSyn();
  }

  /** Options of a SYN or SYN-ACK from the peer (RFC 9293 §3.7.1, RFC 7323 §2.2, RFC 2018 §2). */
  private negotiate(seg: SegmentIn, mssCap: number): void {
    const o = seg.options;
    // RFC 9293 §3.7.1: without an MSS option assume 536 (IPv4) / 1220 (IPv6, RFC 8200 §8.3).
    const peerMss = o.mss !== 0 ? o.mss : this.family === 4 ? 536 : 1220;
    this.mss = Math.max(64, Math.min(peerMss, mssCap));
    if (o.has(3) && this.host.windowScaling) this.sndShift = Math.min(o.windowShift, 14);
    else {
      this.sndShift = 0;
      this.rcvShift = 0; // both or neither (RFC 7323 §2.2)
    }
    this.sackOk = o.sackPermitted && this.host.sack;
    this.tsOk = o.hasTimestamps && this.host.timestamps;
    if (this.tsOk) this.tsRecent = o.tsVal | 0;
    // Linux's mss_cache: the MSS less the options every segment carries (timestamps: 12).
    if (this.tsOk) this.mss -= 12;
    // Linux's tcp_bound_to_half_wnd: no segment larger than half the largest window offered
    // (on loopback, whose MTU is 64 KiB, a 64 KiB SYN window halves the MSS).
    const w = seg.window;
    if (w > 536 && this.mss > w >> 1) this.mss = Math.max(w >> 1, 68 - 20 - (this.tsOk ? 12 : 0));
    this.cc.setMss(this.mss);
  }

  private sendSyn(): void {
    const flags = this.state === TcpState.SynSent ? TcpFlags.SYN : TcpFlags.SYN | TcpFlags.ACK;
    this.host.tcpOutput(this, flags, this.iss, 0, 0);
    this.sndNxt = seqPlus(this.iss, 1);
    if (seqBefore(this.sndMax, this.sndNxt)) this.sndMax = this.sndNxt;
    if (this.rttStart < 0 && this.retransmits === 0) {
      this.rttSeq = this.iss;
      this.rttStart = this.host.now;
    }
    this.armRetransmit();
  }

  // ---------------------------------------------------------------------------------------
  // User calls

  /** Queues bytes to send; returns how many fit (0: the send buffer is full, EAGAIN). */
  write(data: Uint8Array, off = 0, len = data.length - off): number {
    const n = this.sendQ.write(data, off, len);
    if (n > 0 && (this.state === TcpState.Established || this.state === TcpState.CloseWait)) this.push();
    return n;
  }

  /** Reads received bytes; returns the count, 0 at end of stream, −1 when none yet (EAGAIN). */
  read(dst: Uint8Array, off = 0, len = dst.length - off): number {
    if (this.recvQ.length === 0) return this.peerFinished ? 0 : -1;
    const n = this.recvQ.read(dst, off, len);
    this.bytesRead += n;
    this.rcvSpaceAdjust();
    const before = this.windowToAdvertise() - n;
    // RFC 9293 §3.8.6.2.2 (receiver SWS avoidance): tell the peer once the window opened by
    // at least min(buffer/2, MSS) — and at once if it had been closed.
    const after = this.windowToAdvertise();
    if (this.state !== TcpState.Closed && (before === 0 || after - before >= Math.min(this.recvQ.free / 2, this.advMss))) {
      if (seqDiff(seqPlus(this.rcvNxt, after), this.rcvAdvEdge) >= Math.min(this.recvQ.capacity / 2 || this.advMss, this.advMss)) this.sendAck();
    }
    if (this.recvQ.length === 0) this.recvQ.release();
    return n;
  }

  /**
   * Receive-buffer auto-tuning (Linux tcp_rcv_space_adjust, "DRS"): once per RTT, if the
   * application read more than in the RTT before, let the buffer grow to about twice that
   * (with room for the sender's growth), up to tcp_rmem[2]; the window follows the buffer.
   */
  private rcvSpaceAdjust(): void {
    if (this.rcvbufLocked) return;
    const now = this.host.now;
    if (this.rcvSpaceAt < 0) {
      this.rcvSpaceAt = now;
      this.rcvSpaceSeq = this.bytesRead;
      this.rcvSpace = Math.min(this.recvQ.max, 10 * this.advMss); // tcp_init_buffer_space: TCP_INIT_CWND segments
      return;
    }
    const rtt = this.rtt.srtt > 0 ? this.rtt.srtt : TCP_DEFAULTS.delayedAckUs;
    if (now - this.rcvSpaceAt < rtt) return;
    const copied = this.bytesRead - this.rcvSpaceSeq;
    if (copied > this.rcvSpace) {
      let rcvwin = 2 * copied + 16 * this.advMss;
      rcvwin += (2 * rcvwin * (copied - this.rcvSpace)) / this.rcvSpace;
      const target = Math.min(Math.floor(rcvwin), TCP_DEFAULTS.rcvbufMax);
      if (target > this.recvQ.max) {
        this.recvQ.setMaxCapacity(target);
        this.ooo.setMaxBytes(target);
      }
      this.rcvSpace = copied;
    }
    this.rcvSpaceSeq = this.bytesRead;
    this.rcvSpaceAt = now;
  }

  /** Send-buffer auto-tuning (Linux tcp_sndbuf_expand): room for two congestion windows, up to tcp_wmem[2]. */
  private maybeGrowSndbuf(): void {
    if (this.sndbufLocked) return;
    const want = Math.min(2 * this.cc.cwnd, TCP_DEFAULTS.sndbufMax);
    if (want > this.sendQ.max) this.sendQ.setMaxCapacity(want);
  }

  /** SO_RCVBUF: a fixed receive buffer, no auto-tuning (Linux doubles the value for bookkeeping; we keep it as payload bytes). */
  setReceiveBuffer(bytes: number): void {
    this.rcvbufLocked = true;
    this.recvQ.setMaxCapacity(bytes);
    this.ooo.setMaxBytes(bytes);
  }

  /** SO_SNDBUF: a fixed send buffer, no auto-tuning. */
  setSendBuffer(bytes: number): void {
    this.sndbufLocked = true;
    this.sendQ.setMaxCapacity(bytes);
  }

  /** shutdown(SHUT_WR) / close(): a FIN after the queued data (RFC 9293 §3.10.4). */
  shutdownWrite(): void {
    switch (this.state) {
      case TcpState.SynSent:
        this.toClosed();
        return;
      case TcpState.SynReceived:
      case TcpState.Established:
        this.finQueued = true;
        this.state = TcpState.FinWait1;
        this.push();
        return;
      case TcpState.CloseWait:
        this.finQueued = true;
        this.state = TcpState.LastAck;
        this.push();
        return;
      default:
        return;
    }
  }

  /** close() with unread data or SO_LINGER 0: RST and CLOSED (RFC 9293 §3.10.5, RFC 2525 §2.17). */
  abort(): void {
    if (this.state !== TcpState.Closed && this.state !== TcpState.Listen && this.state !== TcpState.SynSent && this.state !== TcpState.TimeWait) {
      this.host.tcpOutput(this, TcpFlags.RST | TcpFlags.ACK, this.sndNxt, 0, 0);
    }
    this.toClosed();
  }

  /** close(): Linux sends RST when unread data is discarded, else a FIN. */
  close(): void {
    this.orphaned = true;
    if (this.recvQ.length > 0) {
      this.abort();
      return;
    }
    this.shutdownWrite();
  }

  info(): TcpInfo {
    return {
      state: this.state, rttUs: this.rtt.srtt, rttVarUs: this.rtt.rttvar, rtoUs: this.rtt.rto, cwnd: this.cc.cwnd, ssthresh: this.cc.ssthresh,
      mss: this.mss, retransmits: this.retransmits, totalRetransmits: this.totalRetransmits, bytesAcked: this.bytesAcked,
      bytesReceived: this.bytesReceived, sndWnd: this.sndWnd, rcvWnd: this.windowToAdvertise(), unacked: seqDiff(this.sndMax, this.sndUna),
    };
  }

  // ---------------------------------------------------------------------------------------
  // Input (RFC 9293 §3.10.7)

  /** A segment for this connection (already checksummed and demultiplexed). */
  segmentArrives(seg: SegmentIn): void {
    const now = this.host.now;
    this.segsIn++;
    if (this.state === TcpState.SynSent) {
      this.synSentArrives(seg);
      return;
    }
    if (this.state === TcpState.Closed) return;
    const f = seg.flags;
    const len = seg.payloadLength + (f & TcpFlags.SYN ? 1 : 0) + (f & TcpFlags.FIN ? 1 : 0);
    // RFC 7323 §5.3 PAWS: a timestamp older than TS.Recent is a duplicate from long ago.
    if (this.tsOk && seg.options.hasTimestamps && (f & TcpFlags.RST) === 0 && seqBefore(seg.options.tsVal | 0, this.tsRecent)) {
      this.outOfWindowAck(seg);
      return;
    }
    // First: sequence number acceptability (§3.10.7.4).
    if (!this.acceptable(seg.seq, len)) {
      if ((f & TcpFlags.RST) === 0) {
        if (f & TcpFlags.SYN) this.challengeAck();
        else this.outOfWindowAck(seg);
      }
      return;
    }
    // Second: RST (RFC 5961 §3.2: exact match resets; in window gets a challenge ACK).
    if (f & TcpFlags.RST) {
      if (seg.seq !== this.rcvNxt) {
        this.challengeAck();
        return;
      }
      this.resetArrives();
      return;
    }
    // Fourth: SYN in a synchronized state (RFC 5961 §4.2: challenge ACK, drop).
    if (f & TcpFlags.SYN) {
      this.challengeAck();
      return;
    }
    if ((f & TcpFlags.ACK) === 0) return;
    this.lastReceiveAt = now;
    this.keepProbes = 0;
    // RFC 7323 §4.3: remember the timestamp of a segment covering RCV.NXT.
    if (this.tsOk && seg.options.hasTimestamps && seqAtOrBefore(seg.seq, this.rcvNxt)) this.tsRecent = seg.options.tsVal | 0;
    // Fifth: ACK.
    if (this.state === TcpState.SynReceived) {
      if (seqBefore(this.sndUna, seg.ack) && seqAtOrBefore(seg.ack, this.sndMax)) {
        // Linux (tcp_check_req): with the listener's accept queue full the ACK is dropped;
        // the SYN-ACK is retransmitted and the peer's next segment tries again.
        if (!this.host.tcpMayEstablish(this, seg.payloadLength === 0 && (f & TcpFlags.FIN) === 0)) return;
        this.state = TcpState.Established;
        this.sndWnd = seg.window << this.sndShift;
        this.maxSndWnd = this.sndWnd;
        this.sndWl1 = seg.seq;
        this.sndWl2 = seg.ack;
        this.host.tcpEstablished(this);
      } else {
        this.host.tcpOutput(this, TcpFlags.RST, seg.ack, 0, 0);
        return;
      }
    }
    const unaBefore = this.sndUna, wndBefore = this.sndWnd;
    this.rcvSlowPath = false;
    if (!this.ackArrives(seg)) return;
    if (this.urgMode && !seqBefore(this.sndUna, this.sndUp)) this.urgMode = false;
    // Sixth: the URG bit (RFC 9293 §3.10.7.4, Linux's tcp_urg).
    if ((f & TcpFlags.URG) !== 0 && this.state !== TcpState.CloseWait && this.state !== TcpState.Closing && this.state !== TcpState.LastAck && this.state !== TcpState.TimeWait) this.urgentPointerArrives(seg);
    // Seventh: segment text.
    if (seg.payloadLength > 0) this.dataArrives(seg);
    if (this.urgState === UrgState.NotYet) {
      const ptr = seqDiff(this.urgSeq, seg.seq);
      if (ptr >= 0 && ptr < seg.payloadLength && seqBefore(this.urgSeq, this.rcvNxt)) {
        this.urgByte = seg.bytes[seg.payloadAt + ptr]!;
        this.urgState = UrgState.Valid;
        if (this.waker !== null) this.waker.tcpEvent(this, TcpEvent.Data);
      }
    }
    // Eighth: FIN.
    if (f & TcpFlags.FIN) {
      const finSeq = seqPlus(seg.seq, seg.payloadLength);
      if (finSeq === this.rcvNxt) this.finArrives();
      else if (seqBefore(this.rcvNxt, finSeq)) {
        this.pendingFinSeq = finSeq;
        this.hasPendingFin = true;
      }
    }
    if ((this.state as TcpState) === TcpState.Closed) return;
    // Linux's fast path pushes pending data only when the ACK moved SND.UNA; a FIN or a window
    // change takes the slow path, which always does (tcp_data_snd_check). Data a MSG_MORE send
    // held back therefore waits for one of those.
    if (!this.heldByMore || this.sndUna !== unaBefore || this.sndWnd !== wndBefore || (f & TcpFlags.FIN) !== 0 || this.rcvSlowPath) {
      this.heldByMore = false;
      this.push();
    }
    this.maybeAck();
  }

  /** Linux's tcp_check_urg: a new urgent pointer; the urgent byte is the one before it. */
  private urgentPointerArrives(seg: SegmentIn): void {
    let ptr = seg.urgentPointer;
    if (ptr !== 0) ptr--;
    ptr = seqPlus(seg.seq, ptr);
    const copied = this.copiedSeq;
    if (seqBefore(ptr, copied)) return; // already read past it
    if (seqBefore(ptr, this.rcvNxt)) return; // do not replay an old pointer
    if (this.urgState !== UrgState.None && !seqBefore(this.urgSeq, ptr)) return; // not newer
    // The last byte read was urgent and a new pointer comes: step over the old byte for good.
    if (this.urgSeq === copied && this.urgState !== UrgState.None && !this.oobInline && copied !== this.rcvNxt) {
      this.recvQ.consume(1);
      this.bytesRead++;
    }
    this.urgState = UrgState.NotYet;
    this.urgSeq = ptr;
  }

  /** The sequence number of the next byte the application reads (Linux's copied_seq). */
  get copiedSeq(): number {
    return seqPlus(this.rcvNxt, -this.recvQ.length - (this.peerFinished ? 1 : 0));
  }

  /** send(MSG_OOB): everything queued so far is urgent; its last byte is the urgent one. */
  markUrgent(): void {
    this.sndUp = seqPlus(this.sndUna, this.sendQ.length);
    this.urgMode = seqBefore(this.sndUna, this.sndUp);
    this.push();
  }

  /** RFC 9293 §3.10.7.3. */
  private synSentArrives(seg: SegmentIn): void {
    const f = seg.flags;
    if (f & TcpFlags.ACK) {
      if (seqAtOrBefore(seg.ack, this.iss) || seqBefore(this.sndMax, seg.ack)) {
        if ((f & TcpFlags.RST) === 0) this.host.tcpOutput(this, TcpFlags.RST, seg.ack, 0, 0);
        return;
      }
    }
    if (f & TcpFlags.RST) {
      // Only an acceptable ACK makes a RST believable here (RFC 5961 §3.2 keeps that rule).
      if (f & TcpFlags.ACK) {
        this.error = 'ECONNREFUSED';
        this.toClosed();
      }
      return;
    }
    if ((f & TcpFlags.SYN) === 0) return;
    this.irs = seg.seq;
    this.rcvNxt = seqPlus(seg.seq, 1);
    // The SYN's window was offered before RCV.NXT was known: place its right edge now.
    this.rcvAdvEdge = seqPlus(this.rcvNxt, Math.min(0xffff, this.windowToAdvertise()));
    this.negotiate(seg, this.mssCap);
    this.lastReceiveAt = this.host.now;
    if (f & TcpFlags.ACK) {
      this.sndUna = seg.ack;
      this.sndWnd = seg.window; // never scaled in a SYN-ACK (RFC 7323 §2.2)
      this.maxSndWnd = seg.window;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.sampleRtt(seg, true);
      this.retransmits = 0;
      this.rtt.resetBackoff();
      this.host.wheel.disarm(this.rtxTimer);
      this.state = TcpState.Established;
      if (this.deferHandshakeAck || this.pingpong) {
        // tcp_rcv_synsent_state_process: with TCP_DEFER_ACCEPT (or in interactive mode) the
        // handshake's ACK waits to ride on the first data, for at most TCP_DELACK_MAX.
        this.unackedSegments = 1;
        this.host.wheel.arm(this.delackTimer, this.host.now + TCP_DEFAULTS.delayedAckMaxUs);
        this.push();
      } else {
        this.ackNow = true;
        this.push();
        this.maybeAck();
      }
      if (this.waker !== null) this.waker.tcpEvent(this, TcpEvent.State);
      return;
    }
    // Simultaneous open (§3.5, figure 7): SYN-RECEIVED, SYN-ACK with our ISS.
    this.state = TcpState.SynReceived;
    this.sndWnd = seg.window;
    this.host.tcpOutput(this, TcpFlags.SYN | TcpFlags.ACK, this.iss, 0, 0);
  }

  /** The MSS our route allows (set by the stack from the route MTU). */
  mssCap = 1460;

  /**
   * The path MTU shrank (RFC 1191 §6.4; Linux tcp_v4_mtu_reduced → tcp_sync_mss and
   * tcp_simple_retransmit): later segments fit the new MSS, and what is in flight — too big
   * for the path, so lost — is resent at once in pieces that fit, with no congestion response
   * (the loss was not congestion): Linux's TCP_CA_Loss without an ssthresh cut.
   */
  pathMtuReduced(mssCap: number): void {
    if (mssCap >= this.mssCap) return;
    this.mssCap = mssCap;
    const mss = Math.max(64, mssCap) - (this.tsOk ? 12 : 0);
    if (mss >= this.mss) return;
    this.mss = mss;
    this.cc.setMss(mss);
    if (this.sndUna === this.sndMax || (this.state !== TcpState.Established && this.state !== TcpState.CloseWait && this.state !== TcpState.FinWait1 &&
      this.state !== TcpState.Closing && this.state !== TcpState.LastAck)) return;
    if (!this.inRecovery) {
      this.rtoLoss = true;
      this.recoverSeq = this.sndMax;
      this.dupAcks = 0;
    }
    this.tlpOutstanding = false;
    this.sb.markAllLost();
    this.push();
  }

  /**
   * RFC 5961 §3.2/§4.2/§5.2 challenge ACK, at most one per tcp_invalid_ratelimit per socket
   * (RFC 5961 §7; Linux ≥ 6.0 has no global limit by default).
   */
  private challengeAck(): void {
    const now = this.host.now;
    if (this.lastOowAckAt >= 0 && now - this.lastOowAckAt < TCP_DEFAULTS.invalidRatelimitUs) return;
    this.lastOowAckAt = now;
    this.challengeAcks++;
    this.sendAck();
  }

  /**
   * A segment outside the window or failing PAWS gets a duplicate ACK (RFC 9293 §3.10.7.4);
   * Linux rate limits those for pure ACKs (tcp_oow_rate_limited: data segments cannot be part
   * of an ACK loop).
   */
  private outOfWindowAck(seg: SegmentIn): void {
    if (seg.payloadLength > 0) {
      // RFC 2883 §4: a duplicate segment is reported in the first SACK block (D-SACK).
      const end = seqPlus(seg.seq, seg.payloadLength);
      if (this.sackOk && seqAtOrBefore(end, this.rcvNxt)) this.setDsack(seg.seq, end);
      this.sendAck();
      return;
    }
    const now = this.host.now;
    if (this.lastOowAckAt >= 0 && now - this.lastOowAckAt < TCP_DEFAULTS.invalidRatelimitUs) return;
    this.lastOowAckAt = now;
    this.sendAck();
  }

  /** §3.10.7.4's table of the four acceptability cases. */
  private acceptable(seq: number, len: number): boolean {
    const wnd = Math.max(0, seqDiff(this.rcvAdvEdge, this.rcvNxt));
    if (len === 0) {
      if (wnd === 0) return seq === this.rcvNxt;
      return seqAtOrBefore(this.rcvNxt, seq) && seqBefore(seq, seqPlus(this.rcvNxt, wnd)) || seq === this.rcvNxt;
    }
    if (wnd === 0) return false;
    const end = seqPlus(seq, len - 1);
    const inWin = (x: number) => seqAtOrBefore(this.rcvNxt, x) && seqBefore(x, seqPlus(this.rcvNxt, wnd));
    return inWin(seq) || inWin(end) || (seqBefore(seq, this.rcvNxt) && seqBefore(this.rcvNxt, end));
  }

  private setDsack(left: number, right: number): void {
    this.dsackPending = true;
    this.dsackLeft = left;
    this.dsackRight = right;
  }

  /** @internal The D-SACK block for the segment being built, once. */
  takeDsack(): boolean {
    if (!this.dsackPending) return false;
    this.dsackPending = false;
    return true;
  }

  private resetArrives(): void {
    switch (this.state) {
      case TcpState.SynReceived:
        // A passive open goes back to LISTEN: the embryonic connection just disappears.
        this.toClosed();
        return;
      case TcpState.Established:
      case TcpState.FinWait1:
      case TcpState.FinWait2:
        this.error = 'ECONNRESET';
        this.toClosed();
        return;
      case TcpState.CloseWait:
        // Linux (tcp_reset): the peer already finished sending, so the error is EPIPE.
        this.error = 'EPIPE';
        this.toClosed();
        return;
      default:
        // CLOSING, LAST-ACK, TIME-WAIT: closed without an error (RFC 9293 §3.10.7.4, RFC 1337 for TIME-WAIT: Linux's default
        // tcp_rfc1337 = 0 lets RST end TIME-WAIT).
        this.toClosed();
    }
  }

  /** §3.10.7.4 "fifth, check the ACK field". Returns false when the segment is to be dropped. */
  private ackArrives(seg: SegmentIn): boolean {
    const ack = seg.ack;
    const now = this.host.now;
    if (seqBefore(this.sndMax, ack)) {
      // An ACK for data never sent: a (rate-limited) challenge ACK, and drop (RFC 5961 §5.2, Linux 6.x tcp_ack).
      this.challengeAck();
      return false;
    }
    if (seqBefore(ack, this.sndUna) && seqBefore(ack, seqPlus(this.sndUna, -Math.min(this.maxSndWnd, this.bytesAcked)))) {
      // RFC 5961 §5.2: an ACK older than any window we could have sent is a blind injection.
      this.challengeAck();
      return false;
    }
    const window = seg.window << this.sndShift;
    const sb = this.sb;
    const flightBefore = seqDiff(this.sndMax, this.sndUna);
    let delivered = 0;
    sb.beginAck(this.tsOk && seg.options.hasTimestamps && seg.options.tsEcr !== 0 ? ((seg.options.tsEcr | 0) - this.tsOffset) | 0 : NaN);
    // SACK blocks first, then the cumulative ACK (as Linux's tcp_sacktag_write_queue, then tcp_clean_rtx_queue).
    if (this.sackOk && seg.options.sackBlockCount > 0 && flightBefore > 0) delivered += this.sackArrives(seg, now);
    const acked = seqBefore(this.sndUna, ack) ? seqDiff(ack, this.sndUna) : 0;
    if (acked > 0) {
      sb.cumulativeAck(ack, now);
      delivered += sb.delivered;
      // The FIN takes a sequence number but no byte of the send queue.
      const finAcked = this.finSent && seqBefore(this.finSeq, ack);
      const dataAcked = Math.min(acked - (finAcked ? 1 : 0), this.sendQ.length);
      if (dataAcked > 0) this.sendQ.consume(dataAcked);
      if (this.sendQ.length === 0) this.sendQ.release();
      if (dataAcked > 0 && this.waker !== null) this.waker.tcpEvent(this, TcpEvent.Space);
      this.bytesAcked += dataAcked;
      this.sndUna = ack;
      if (seqBefore(this.sndNxt, ack)) this.sndNxt = ack;
      this.retransmits = 0;
      this.rtt.resetBackoff();
      this.unackedSince = this.sndUna === this.sndMax ? -1 : now;
      if (this.tlpOutstanding && seqAtOrBefore(this.tlpEnd, ack)) this.tlpAcked(now);
      if (finAcked) {
        this.ourFinAcked();
        if (this.state === TcpState.Closed) return false;
      }
    } else if (!this.sackOk && ack === this.sndUna && seg.payloadLength === 0 && (seg.flags & TcpFlags.FIN) === 0 && flightBefore > 0 && window === this.sndWnd) {
      // RFC 5681 §2: a duplicate ACK. Without SACK each stands for one segment that left the
      // network; the third starts fast retransmit (§3.2).
      this.dupAcks++;
      sb.renoDupAck(this.mss, flightBefore);
      delivered = this.mss;
      if (this.dupAcks === DUP_THRESH && !this.inRecovery && !this.rtoLoss) sb.markHeadLost();
    }
    if (acked > 0 || sb.firstSackedSentAt >= 0) this.sampleRtt(seg, acked > 0);
    this.afterAck(acked, delivered, flightBefore, now, acked > 0 && this.packetDelayed(seg));
    // RFC 9293 §3.10.7.4: window update from a newer segment.
    if (seqBefore(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqAtOrBefore(this.sndWl2, ack))) {
      const opened = this.sndWnd === 0 && window > 0;
      this.sndWnd = window;
      if (window > this.maxSndWnd) this.maxSndWnd = window;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
      if (opened && this.xmitTimer === XmitTimer.Persist) this.host.wheel.disarm(this.rtxTimer);
    }
    return true;
  }

  /** SACK blocks of an ACK (RFC 2018 §4, D-SACK per RFC 2883 §4); returns the bytes newly SACKed. */
  private sackArrives(seg: SegmentIn, now: number): number {
    const o = seg.options, sb = this.sb;
    let delivered = 0;
    for (let k = 0; k < o.sackBlockCount; k++) {
      const left = o.sackEdges[2 * k]! | 0, right = o.sackEdges[2 * k + 1]! | 0;
      if (!seqBefore(left, right)) continue;
      if (k === 0) {
        // RFC 2883 §4: a first block below the cumulative ACK, or inside the second block, reports a duplicate.
        const inSecond = o.sackBlockCount > 1 && seqAtOrBefore(o.sackEdges[2]! | 0, left) && seqAtOrBefore(right, o.sackEdges[3]! | 0);
        if (seqAtOrBefore(right, seg.ack) || inSecond) {
          sb.dsackSeen(this.sndUna, this.sndNxt);
          if (this.tlpOutstanding) this.tlpDsack = true;
          // RFC 3708 §3.2 / Linux tcp_check_dsack and tcp_sacktag_one: a duplicate of data
          // above the undo marker means one of this episode's retransmissions was needless.
          if (this.hasUndo && this.undoRetrans > 0 && seqBefore(this.undoMarker, right)) {
            const segs = Math.max(1, Math.ceil(seqDiff(right, left) / this.mss));
            this.undoRetrans = this.undoRetrans > segs ? this.undoRetrans - segs : 0;
          }
          continue;
        }
      }
      // Only blocks within what is in flight count (RFC 2018 §4; Linux tcp_is_sackblock_valid).
      if (seqAtOrBefore(left, this.sndUna) || seqBefore(this.sndMax, right)) continue;
      sb.delivered = 0;
      sb.sackBlock(left, right, now);
      delivered += sb.delivered;
    }
    return delivered;
  }

  /**
   * Linux tcp_packet_delayed, RFC 3522 §3.2 (Eifel detection): the ACK echoes a timestamp
   * older than the episode's first retransmission, so the original transmission, not the
   * retransmission, was what arrived.
   */
  private packetDelayed(seg: SegmentIn): boolean {
    if (!this.hasUndo || this.retransStampUs < 0 || !this.tsOk || !seg.options.hasTimestamps || seg.options.tsEcr === 0) return false;
    const stamp = (Math.floor(this.retransStampUs / 1000) + this.tsOffset) | 0;
    return seqBefore(seg.options.tsEcr | 0, stamp);
  }

  /** A recovery or timeout begins a loss episode (Linux tcp_init_undo, with prior_ssthresh = tcp_current_ssthresh). */
  private initUndo(): void {
    const cwnd = this.cc.cwnd, ssthresh = this.cc.ssthresh;
    this.priorCwnd = cwnd;
    this.priorSsthresh = this.inRecovery ? ssthresh : Math.max(ssthresh, Math.floor(cwnd / 2) + Math.floor(cwnd / 4));
    this.hasUndo = true;
    this.undoMarker = this.sndUna;
    // Retransmissions already in flight (a loss probe) count, as Linux's undo_retrans = retrans_out.
    this.undoRetrans = this.sb.retransBytes > 0 ? Math.ceil(this.sb.retransBytes / this.mss) : -1;
    this.retransStampUs = -1;
  }

  /**
   * The episode's reduction was spurious: restore the window (Linux tcp_undo_cwnd_reduction)
   * and leave recovery / loss. `unmarkLoss` (an Eifel-detected timeout or partial ACK) also
   * forgets the segments deemed lost, which would otherwise be retransmitted needlessly
   * (RFC 4015 §3.2 step 4 resumes with new data).
   */
  private undoReduction(now: number, unmarkLoss: boolean, byDsack: boolean): void {
    this.cc.onUndo(this.priorCwnd, this.priorSsthresh, now);
    if (unmarkLoss) this.sb.unmarkLost();
    if (this.inRecovery) this.sb.undoSeen();
    this.inRecovery = false;
    this.rtoLoss = false;
    this.dupAcks = 0;
    this.sb.renoSackedBytes = 0;
    this.hasUndo = false;
    this.retransStampUs = -1;
    if (byDsack) this.dsackUndos++;
    else this.eifelUndos++;
  }

  /** Loss detection, recovery and the congestion window after an ACK (RFC 6675 §5, RFC 8985, RFC 6582, RFC 5681). */
  private afterAck(acked: number, delivered: number, flightBefore: number, now: number, delayed = false): void {
    const sb = this.sb;
    let reorderWait = 0;
    if (this.sackOk) {
      reorderWait = sb.detectLoss(now, this.inRecovery || this.rtoLoss, this.rtt.srtt);
    } else if (acked > 0) {
      this.dupAcks = 0;
      // RFC 6582 §3.2 step 5: a partial ACK in recovery means the next segment was lost too.
      if (this.inRecovery && seqBefore(this.sndUna, this.recoverSeq) && !delayed) sb.markHeadLost();
    }
    if (this.hasUndo) {
      const full = seqAtOrBefore(this.recoverSeq, this.sndUna);
      if (this.undoRetrans === 0) {
        // RFC 3708 §3.2 / Linux tcp_try_undo_dsack: every retransmission of the episode was
        // reported duplicate, so none was needed — also when the D-SACKs come after the
        // recovery ended (Linux keeps undo_marker then, and undoes in Open/Disorder).
        this.undoReduction(now, false, true);
      } else if (delayed && (this.inRecovery || this.rtoLoss) && (this.rtoLoss || full || sb.retransBytes === 0)) {
        // RFC 3522 / RFC 4015, Linux tcp_try_undo_loss (after a timeout), tcp_try_undo_recovery
        // (the full ACK) and tcp_try_undo_partial (a hole filled by the original while no
        // retransmission is in flight): the original arrived, the loss was reordering or delay.
        this.undoReduction(now, !full, false);
      }
    }
    if ((this.inRecovery || this.rtoLoss) && seqAtOrBefore(this.recoverSeq, this.sndUna)) {
      if (this.inRecovery) {
        this.cc.onExitRecovery(now);
        sb.recoveryEnded();
      }
      this.inRecovery = false;
      this.rtoLoss = false;
      this.dupAcks = 0;
      sb.renoSackedBytes = 0;
      // The undo state outlives the episode (Linux: undo_marker stays until the next one or
      // an undo), so late D-SACKs can still prove it spurious; Eifel needs the episode.
      this.retransStampUs = -1;
    }
    const flight = seqDiff(this.sndMax, this.sndUna);
    if (!this.inRecovery && !this.rtoLoss && sb.pendingBytes > 0) this.enterRecovery(now);
    else if (this.inRecovery) this.cc.onRecoveryAck(delivered, sb.pipe(flight), now);
    else if (acked > 0) this.cc.onAck(acked, flightBefore, this.rtt.srtt, now);
    if (this.sndUna === this.sndMax) {
      this.host.wheel.disarm(this.rtxTimer);
      this.tlpOutstanding = false;
    } else if (reorderWait > 0) this.armXmitTimer(XmitTimer.Reorder, now + reorderWait);
    else if (acked > 0 || (this.rtxTimer.armed && this.xmitTimer === XmitTimer.Reorder)) this.restartXmitTimer(now);
  }

  /** Loss detected: RFC 6675 §5 step 4 / RFC 5681 §3.2 — ssthresh, and the first lost segment at once, whatever cwnd says. */
  private enterRecovery(now: number): void {
    this.initUndo();
    this.recoveries++;
    this.inRecovery = true;
    this.recoverSeq = this.sndMax;
    this.tlpOutstanding = false;
    this.cc.onEnterRecovery(seqDiff(this.sndMax, this.sndUna), now);
    const i = this.sb.firstPending();
    if (i >= 0) this.retransmitRecord(i);
  }

  /**
   * RFC 8985 §7.4.2: the ACK covered the loss probe. A probe that was a retransmission and
   * drew no D-SACK repaired a real loss: the congestion window is reduced as for one
   * (Linux tcp_process_tlp_ack: enter and leave CWR).
   */
  private tlpAcked(now: number): void {
    if (this.tlpIsRetrans && !this.tlpDsack) {
      this.cc.onEnterRecovery(this.cc.cwnd, now); // Linux's ssthresh from cwnd, as tcp_init_cwnd_reduction
      this.cc.onExitRecovery(now);
    }
    this.tlpOutstanding = false;
  }

  private ourFinAcked(): void {
    switch (this.state) {
      case TcpState.FinWait1:
        this.state = TcpState.FinWait2;
        // Linux: an orphaned FIN-WAIT-2 lasts tcp_fin_timeout.
        if (this.orphaned) this.host.wheel.arm(this.keepaliveTimer, this.host.now + TCP_DEFAULTS.finTimeoutUs);
        break;
      case TcpState.Closing:
        this.enterTimeWait();
        break;
      case TcpState.LastAck:
        this.toClosed();
        return;
      default:
        return;
    }
    if (this.waker !== null) this.waker.tcpEvent(this, TcpEvent.State);
  }

  /**
   * One RTT sample per ACK, as Linux's tcp_ack_update_rtt: from the send time of the first
   * newly ACKed segment never retransmitted (Karn's rule, RFC 6298 §3), else of the first
   * newly SACKed one, else (the handshake) the timed SYN; the echoed timestamp (RFC 7323
   * §4.1) only when every segment ACKed was retransmitted, which it disambiguates.
   */
  private sampleRtt(seg: SegmentIn, acked: boolean): void {
    const now = this.host.now;
    const sb = this.sb;
    let rtt = -1;
    // Karn (and Linux's FLAG_RETRANS_DATA_ACKED): no send-time sample when retransmitted data is among what is ACKed.
    if (sb.firstAckedSentAt >= 0 && sb.lastRetransAckedAt < 0) rtt = now - sb.firstAckedSentAt;
    else if (sb.firstSackedSentAt >= 0) rtt = now - sb.firstSackedSentAt;
    else if (acked && this.rttStart >= 0 && seqBefore(this.rttSeq, seg.ack)) {
      rtt = now - this.rttStart;
      this.rttStart = -1;
    } else if (acked && this.tsOk && seg.options.hasTimestamps && seg.options.tsEcr !== 0) {
      const sentMs = ((seg.options.tsEcr | 0) - this.tsOffset) | 0;
      const ms = (Math.floor(now / 1000) - sentMs) | 0;
      // An echo older than our last retransmission of the data it ACKs answers an earlier copy
      // whose ACK was lost (the peer echoes TS.Recent for a duplicate, RFC 7323 §4.3): it would
      // time the retransmission timeout, not the path (the check RFC 8985 §6.1 step 2 makes for RACK).
      const stale = sb.lastRetransAckedAt >= 0 && sentMs < Math.floor(sb.lastRetransAckedAt / 1000);
      if (ms >= 0 && ms < 600_000 && !stale) rtt = Math.max(1, ms) * 1000;
    }
    if (rtt < 0) return;
    if (rtt < 1) rtt = 1;
    this.rtt.sample(rtt);
    if (rtt < sb.minRttUs) sb.minRttUs = rtt;
  }

  private dataArrives(seg: SegmentIn): void {
    if (this.state !== TcpState.Established && this.state !== TcpState.FinWait1 && this.state !== TcpState.FinWait2) return;
    if (this.orphaned) {
      // Linux: data for a closed socket is answered with RST.
      this.abort();
      return;
    }
    if (this.rcvShutdown && this.state !== TcpState.Established && seqBefore(this.rcvNxt, seqPlus(seg.seq, seg.payloadLength))) {
      // tcp_rcv_state_process: new data in FIN-WAIT after shutdown(SHUT_RD) resets the connection.
      this.error = 'ECONNRESET';
      this.abort();
      return;
    }
    let seq = seg.seq, at = seg.payloadAt, len = seg.payloadLength;
    // Trim what we already have.
    const old = seqDiff(this.rcvNxt, seq);
    if (old > 0) {
      // RFC 2883 §4: report the duplicated part in a D-SACK.
      if (this.sackOk) this.setDsack(seq, seqPlus(seq, Math.min(old, len)));
      seq = this.rcvNxt;
      at += old;
      len -= old;
      if (len <= 0) {
        this.ackNow = true;
        return;
      }
    }
    const room = Math.max(0, seqDiff(this.rcvAdvEdge, seq));
    if (len > room) len = room;
    if (len <= 0) {
      this.ackNow = true;
      return;
    }
    this.unackedSegments++;
    if (seq === this.rcvNxt) {
      this.rcvSlowPath = this.rcvMem.arrive(len, this.bytesReceived, this.bytesRead);
      const n = this.recvQ.write(seg.bytes, at, len);
      this.rcvNxt = seqPlus(this.rcvNxt, n);
      this.bytesReceived += n;
      if (this.ooo.blockCount > 0) {
        const pulled = this.ooo.pull(this.rcvNxt, this.recvQ);
        this.rcvNxt = seqPlus(this.rcvNxt, pulled);
        this.bytesReceived += pulled;
        this.rcvMem.extend(this.bytesReceived);
        this.ackNow = true; // RFC 5681 §4.2: a segment filling a gap is ACKed at once
      }
      if (this.hasPendingFin && this.pendingFinSeq === this.rcvNxt) {
        this.hasPendingFin = false;
        this.finArrives();
      }
      if (n > 0) {
        this.lastDataAt = this.host.now;
        if (this.waker !== null) this.waker.tcpEvent(this, TcpEvent.Data);
      }
    } else {
      // Out of order: keep it and send a duplicate ACK at once (RFC 5681 §4.2), with SACK.
      this.ooo.insert(seq, seg.bytes, at, len);
      this.ackNow = true;
    }
  }

  private finArrives(): void {
    this.rcvNxt = seqPlus(this.rcvNxt, 1);
    this.peerFinished = true;
    switch (this.state) {
      case TcpState.SynReceived:
      case TcpState.Established:
        // Linux's tcp_fin: CLOSE-WAIT enters interactive mode, so the FIN's ACK is delayed
        // (it usually rides on our own FIN or reply).
        this.state = TcpState.CloseWait;
        this.pingpong = true;
        this.unackedSegments++;
        break;
      case TcpState.FinWait1:
        // Our FIN not yet acknowledged: simultaneous close (§3.6).
        this.ackNow = true;
        this.state = TcpState.Closing;
        break;
      case TcpState.FinWait2:
        this.ackNow = true;
        this.enterTimeWait();
        break;
      default:
        this.ackNow = true;
        break;
    }
    if (this.waker !== null) this.waker.tcpEvent(this, TcpEvent.State);
  }

  private enterTimeWait(): void {
    this.state = TcpState.TimeWait;
    this.host.wheel.disarm(this.rtxTimer);
    this.host.wheel.arm(this.keepaliveTimer, this.host.now + TCP_DEFAULTS.timeWaitUs);
  }

  /** @internal Gets rid of everything and tells the stack. */
  toClosed(): void {
    if (this.state === TcpState.Closed) return;
    this.state = TcpState.Closed;
    const w = this.host.wheel;
    w.disarm(this.rtxTimer);
    w.disarm(this.delackTimer);
    w.disarm(this.keepaliveTimer);
    this.ooo.clear();
    this.sb.clear();
    this.sb.release();
    this.host.tcpClosed(this);
    const waker = this.waker;
    if (waker !== null) {
      // Linux's tcp_reset/tcp_write_err: the error report, then tcp_done's state change.
      if (this.error !== null) waker.tcpEvent(this, TcpEvent.Error);
      waker.tcpEvent(this, TcpEvent.State);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Output

  /** The receive window we can offer now (before scaling). */
  windowToAdvertise(): number {
    return Math.max(0, this.recvQ.free - this.ooo.bytes);
  }

  /** @internal The window field for an outgoing segment; moves rcvAdvEdge right, never left. */
  windowField(): number {
    const max = 65535 << this.rcvShift;
    let wnd = Math.min(this.windowToAdvertise(), max);
    // Never shrink the offered window (RFC 9293 §3.8.6.2.1).
    const edge = seqPlus(this.rcvNxt, wnd);
    if (seqBefore(edge, this.rcvAdvEdge)) wnd = Math.max(0, seqDiff(this.rcvAdvEdge, this.rcvNxt));
    else this.rcvAdvEdge = edge;
    return Math.min(0xffff, wnd >>> this.rcvShift);
  }

  /**
   * Sends what the windows allow (RFC 9293 §3.10.2, RFC 5681): first the segments deemed lost
   * (RFC 6675 NextSeg rule 1), then new data and the FIN, while pipe < cwnd and within the
   * peer's window; Nagle (RFC 896) and TCP_CORK hold back a partial segment.
   */
  push(): void {
    const s = this.state;
    if (s !== TcpState.Established && s !== TcpState.CloseWait && s !== TcpState.FinWait1 && s !== TcpState.LastAck && s !== TcpState.Closing) return;
    const now = this.host.now;
    const sb = this.sb;
    let sentNew = false;
    for (let guard = 0; guard < 4096; guard++) {
      const flight = seqDiff(this.sndMax, this.sndUna);
      const pipe = sb.pipe(flight);
      const cwnd = this.cc.cwnd;
      if (sb.pendingBytes > 0) {
        if (pipe >= cwnd) break;
        const i = sb.firstPending();
        if (i >= 0) {
          this.retransmitRecord(i);
          continue;
        }
      }
      const offset = seqDiff(this.sndNxt, this.sndUna); // bytes past SND.UNA
      const unsent = this.sendQ.length - offset;
      if (unsent > 0) {
        if (this.sndWnd === 0) {
          // Zero window: probe when nothing is in flight (RFC 9293 §3.8.6.1).
          if (flight === 0 && !this.rtxTimer.armed) this.armXmitTimer(XmitTimer.Persist, now + this.rtt.rto);
          break;
        }
        const room = Math.min(cwnd - pipe, this.sndWnd - flight);
        if (room <= 0) break;
        // A full segment is what fits beside the options it carries now (SACK blocks shrink it).
        const full = this.segmentRoom();
        const n = Math.min(unsent, full, room);
        // Nagle (RFC 896, RFC 9293 §3.7.4): hold a small segment while data is unacknowledged.
        if (n < full && n === unsent && !this.finQueued && !this.urgMode) {
          if (this.cork) break;
          if (!this.noDelay && flight > 0) break;
        }
        // Room for less than a full segment: RFC 9293 §3.8.6.2.1 sender SWS avoidance.
        if (n < full && n < unsent && n < this.sndWnd >>> 1) break;
        const fin = this.finQueued && !this.finSent && n === unsent && this.state !== TcpState.Established && this.state !== TcpState.CloseWait;
        this.sendData(offset, n, fin);
        sentNew = true;
        continue;
      }
      if (this.finQueued && !this.finSent) {
        this.sendData(offset, 0, true);
        sentNew = true;
      }
      break;
    }
    if (sentNew) this.maybeGrowSndbuf();
  }

  /** Payload room in the next segment: the MSS less SACK blocks it will carry (RFC 2018 §3). */
  private segmentRoom(): number {
    if (!this.sackOk || (this.ooo.blockCount === 0 && !this.dsackPending)) return this.mss;
    return this.mss - 4 - 8 * Math.min(this.ooo.blockCount + (this.dsackPending ? 1 : 0), this.tsOk ? 3 : 4);
  }

  /** New data (and/or the FIN) at SND.NXT = SND.MAX. */
  private sendData(offset: number, n: number, fin: boolean): void {
    const seq = this.sndNxt;
    const now = this.host.now;
    // tcp_event_data_sent: data sent within the ACK timeout of data received is a reply.
    if (n > 0 && this.lastDataAt >= 0 && now - this.lastDataAt < TCP_DEFAULTS.delayedAckUs) this.pingpong = true;
    let flags = TcpFlags.ACK;
    if (n > 0 && offset + n === this.sendQ.length) flags |= TcpFlags.PSH;
    if (fin) flags |= TcpFlags.FIN;
    this.host.tcpOutput(this, flags, seq, offset, n);
    this.afterAckSent();
    const end = seqPlus(seq, n + (fin ? 1 : 0));
    this.sb.append(seq, end, now, fin);
    this.sndNxt = end;
    if (fin) {
      this.finSent = true;
      this.finSeq = seqPlus(seq, n);
    }
    this.sndMax = end;
    if (this.unackedSince < 0) this.unackedSince = now;
    // RFC 6298 §5.1 starts the timer if it is not running; a tail loss probe is rescheduled
    // after every transmission of new data (RFC 8985 §7.2, Linux tcp_schedule_loss_probe).
    if (this.tlpEligible()) this.armProbe(now);
    else if (!this.rtxTimer.armed) this.armXmitTimer(XmitTimer.Rto, now + this.rtt.rto);
  }

  /** Retransmits record i of the scoreboard (lost, or the tail loss probe), splitting it to fit a segment. */
  private retransmitRecord(i: number, probe = false): void {
    const sb = this.sb;
    const start = sb.startOf(i);
    let fin = (sb.flagsOf(i) & SegmentTag.Fin) !== 0;
    let n = seqDiff(sb.endOf(i), start) - (fin ? 1 : 0);
    const room = this.segmentRoom();
    if (n > room) {
      sb.split(i, room);
      n = room;
      fin = false;
    }
    let flags = TcpFlags.ACK;
    if (fin) flags |= TcpFlags.FIN;
    this.host.tcpOutput(this, flags, start, seqDiff(start, this.sndUna), n);
    this.afterAckSent();
    sb.retransmitted(i, this.host.now);
    this.totalRetransmits++;
    // Linux tcp_retransmit_skb: the episode's retransmissions are counted for the D-SACK undo
    // and the first one's time kept for Eifel (a loss probe is outside any episode).
    if (this.hasUndo && !probe && (this.inRecovery || this.rtoLoss)) {
      if (this.undoRetrans < 0) this.undoRetrans = 0;
      this.undoRetrans++;
      if (this.retransStampUs < 0) this.retransStampUs = this.host.now;
    }
    if (!this.rtxTimer.armed) this.armXmitTimer(XmitTimer.Rto, this.host.now + this.rtt.rto);
  }

  /** SYN or SYN-ACK again (handshake timeout). */
  private retransmitSyn(): void {
    this.host.tcpOutput(this, this.state === TcpState.SynSent ? TcpFlags.SYN : TcpFlags.SYN | TcpFlags.ACK, this.iss, 0, 0);
    this.totalRetransmits++;
  }

  /** Sends a pure ACK now. */
  sendAck(): void {
    if (this.state === TcpState.Closed || this.state === TcpState.SynSent) return;
    this.host.tcpOutput(this, TcpFlags.ACK, this.sndNxt, 0, 0);
    this.afterAckSent();
  }

  private afterAckSent(): void {
    this.unackedSegments = 0;
    this.ackNow = false;
    if (this.delackTimer.armed) this.host.wheel.disarm(this.delackTimer);
  }

  /**
   * Linux-like ACK policy: at once in quick-ack mode (the start of a connection), for
   * every second full-sized segment (RFC 5681 §4.2), out-of-order data or a FIN; else
   * within the delayed-ACK time.
   */
  private maybeAck(): void {
    if (this.unackedSegments === 0 && !this.ackNow) return;
    if (this.ackNow || this.ackEverySegment || this.unackedSegments >= 2 || (this.quickAcks > 0 && !this.pingpong)) {
      if (this.quickAcks > 0) this.quickAcks--;
      this.sendAck();
      return;
    }
    if (!this.delackTimer.armed) this.host.wheel.arm(this.delackTimer, this.host.now + TCP_DEFAULTS.delayedAckUs);
  }

  private armRetransmit(): void {
    const now = this.host.now;
    let rto = this.rtt.rto;
    // Linux tcp_clamp_rto_to_user_timeout: never wait past TCP_USER_TIMEOUT (at least 1 ms).
    if (this.userTimeoutUs > 0 && this.unackedSince >= 0) rto = Math.min(rto, Math.max(this.unackedSince + this.userTimeoutUs - now, 1000));
    this.armXmitTimer(XmitTimer.Rto, now + rto);
  }

  private armXmitTimer(kind: number, at: number): void {
    this.xmitTimer = kind;
    this.host.wheel.arm(this.rtxTimer, at);
  }

  /** After an ACK of new data: RFC 6298 §5.3 restarts the timer, or RFC 8985 §7.2 reschedules the probe. */
  private restartXmitTimer(now: number): void {
    if (this.tlpEligible()) this.armProbe(now);
    else this.armXmitTimer(XmitTimer.Rto, now + this.rtt.rto);
  }

  /** RFC 8985 §7.2: a probe may be scheduled with SACK, data in flight, no recovery and no probe outstanding. */
  private tlpEligible(): boolean {
    if (!this.sackOk || this.inRecovery || this.rtoLoss || this.tlpOutstanding || this.sndUna === this.sndMax) return false;
    const s = this.state;
    return s === TcpState.Established || s === TcpState.CloseWait || s === TcpState.FinWait1 || s === TcpState.LastAck || s === TcpState.Closing;
  }

  /** PTO = 2·SRTT, plus a delayed ACK's worth with one segment in flight (RFC 8985 §7.2), never past the RTO. */
  private armProbe(now: number): void {
    const srtt = this.rtt.srtt;
    let pto = TCP_DEFAULTS.initialRtoUs;
    if (srtt > 0) pto = 2 * srtt + (seqDiff(this.sndMax, this.sndUna) <= this.mss ? TCP_DEFAULTS.tlpDelayedAckUs : TCP_DEFAULTS.tlpMinUs);
    if (pto >= this.rtt.rto) this.armXmitTimer(XmitTimer.Rto, now + this.rtt.rto);
    else this.armXmitTimer(XmitTimer.Probe, now + pto);
  }

  /** A timer of this connection fired. */
  timerFired(kind: number): void {
    const now = this.host.now;
    switch (kind) {
      case TimerKind.DelayedAck:
        // tcp_delack_timer: a delayed ACK that had to fire means the exchange is not interactive.
        this.pingpong = false;
        if (this.unackedSegments > 0 || this.ackNow) this.sendAck();
        return;
      case TimerKind.Keepalive:
        // TIME-WAIT's 2MSL and an orphaned FIN-WAIT-2's tcp_fin_timeout end here too.
        if (this.state === TcpState.TimeWait || (this.state === TcpState.FinWait2 && this.orphaned)) this.toClosed();
        else this.keepaliveFired(now);
        return;
      case TimerKind.Retransmit:
        if (this.xmitTimer === XmitTimer.Persist) this.persistFired(now);
        else if (this.xmitTimer === XmitTimer.Probe) this.probeFired(now);
        else if (this.xmitTimer === XmitTimer.Reorder) this.reorderFired(now);
        else this.retransmitFired(now);
        return;
    }
  }

  zeroWindowProbes = 0;

  /**
   * Zero-window probe (RFC 9293 §3.8.6.1), as Linux's tcp_xmit_probe_skb: an ACK with an old
   * sequence number the peer must answer with its window; backs off like the RTO.
   */
  private persistFired(now: number): void {
    if (this.sndWnd !== 0 || this.sendQ.length <= seqDiff(this.sndNxt, this.sndUna)) return;
    this.host.tcpOutput(this, TcpFlags.ACK, seqPlus(this.sndUna, -1), 0, 0);
    this.zeroWindowProbes++;
    this.rtt.backoff();
    this.armXmitTimer(XmitTimer.Persist, now + this.rtt.rto);
  }
  /** Retransmission timeouts (all, not only consecutive). */
  timeouts = 0;

  /**
   * RFC 8985 §7.3: the tail loss probe — one new segment if the peer's window allows, else
   * the last segment again — so a lost tail is reported by SACK instead of waiting for the RTO.
   */
  private probeFired(now: number): void {
    if (!this.tlpEligible()) {
      if (this.sndUna !== this.sndMax) this.armRetransmit();
      return;
    }
    const flight = seqDiff(this.sndMax, this.sndUna);
    const offset = seqDiff(this.sndNxt, this.sndUna);
    const unsent = this.sendQ.length - offset;
    this.tlpOutstanding = true; // before sending: the send path must not reschedule a probe
    this.tlpDsack = false;
    this.tlpProbes++;
    if (unsent > 0 && this.sndWnd - flight > 0) {
      const n = Math.min(unsent, this.segmentRoom(), this.sndWnd - flight);
      this.tlpIsRetrans = false;
      this.sendData(offset, n, this.finQueued && !this.finSent && n === unsent && this.state !== TcpState.Established && this.state !== TcpState.CloseWait);
    } else {
      const last = this.sb.lastIndex;
      if (last < 0 || (this.sb.flagsOf(last) & SegmentTag.Sacked) !== 0) {
        this.tlpOutstanding = false;
        this.armRetransmit();
        return;
      }
      this.tlpIsRetrans = true;
      this.retransmitRecord(last, true);
    }
    this.tlpEnd = this.sndMax;
    this.armRetransmit();
  }

  /** RFC 8985 §6.3: the reordering window passed; mark what is now lost and repair it. */
  private reorderFired(now: number): void {
    const wait = this.sb.detectLoss(now, this.inRecovery || this.rtoLoss, this.rtt.srtt);
    if (!this.inRecovery && !this.rtoLoss && this.sb.pendingBytes > 0) this.enterRecovery(now);
    this.push();
    if (this.sndUna === this.sndMax) return;
    if (wait > 0) this.armXmitTimer(XmitTimer.Reorder, now + wait);
    else this.armRetransmit();
  }

  /** RFC 6298 §5.4–5.7 with Linux's limits: back off, collapse the window, resend from SND.UNA. */
  private retransmitFired(now: number): void {
    if (this.sndUna === this.sndMax) return;
    const limit = this.state === TcpState.SynSent || this.state === TcpState.SynReceived ? TCP_DEFAULTS.synRetries : TCP_DEFAULTS.retries2;
    const userTimedOut = this.userTimeoutUs > 0 && this.unackedSince >= 0 && now - this.unackedSince >= this.userTimeoutUs;
    if (this.retransmits >= limit || userTimedOut) {
      this.error = 'ETIMEDOUT';
      if (this.state !== TcpState.SynSent) this.host.tcpOutput(this, TcpFlags.RST | TcpFlags.ACK, this.sndNxt, 0, 0);
      this.toClosed();
      return;
    }
    this.retransmits++;
    this.timeouts++;
    this.rtt.backoff();
    this.rttStart = -1;
    if (this.state === TcpState.SynSent || this.state === TcpState.SynReceived) {
      this.cc.onRto(seqDiff(this.sndMax, this.sndUna), now);
      this.retransmitSyn();
      this.armRetransmit();
      return;
    }
    // RFC 5681 §3.1 / RFC 6298 §5.5–5.6; RFC 6675 §5.1: everything not SACKed is lost.
    // Linux tcp_enter_loss: a timeout outside an episode starts one (undo state, prior
    // window); within a recovery or a timeout already, the episode's undo state is kept.
    if (!this.inRecovery && !this.rtoLoss) this.initUndo();
    this.cc.onRto(seqDiff(this.sndMax, this.sndUna), now);
    if (this.inRecovery) this.sb.recoveryEnded();
    this.inRecovery = false;
    this.rtoLoss = true;
    this.recoverSeq = this.sndMax;
    this.dupAcks = 0;
    this.tlpOutstanding = false;
    this.sb.markAllLost();
    this.armRetransmit();
    this.push();
  }

  private keepaliveFired(now: number): void {
    if (!this.keepalive || (this.state !== TcpState.Established && this.state !== TcpState.CloseWait)) return;
    const idle = now - this.lastReceiveAt;
    if (idle < this.keepIdleUs && this.keepProbes === 0) {
      this.host.wheel.arm(this.keepaliveTimer, this.lastReceiveAt + this.keepIdleUs);
      return;
    }
    if (this.keepProbes >= this.keepCount) {
      this.error = 'ETIMEDOUT';
      this.host.tcpOutput(this, TcpFlags.RST | TcpFlags.ACK, this.sndNxt, 0, 0);
      this.toClosed();
      return;
    }
    // RFC 9293 §3.8.4: a probe is an ACK with SEG.SEQ = SND.NXT − 1.
    this.keepProbes++;
    this.host.tcpOutput(this, TcpFlags.ACK, seqPlus(this.sndNxt, -1), 0, 0);
    this.host.wheel.arm(this.keepaliveTimer, now + this.keepIntervalUs);
  }

  /** TCP_CONGESTION: switch the algorithm; the new one starts from the current window (Linux's tcp_set_congestion_control). */
  setCongestion(name: CongestionAlgorithm): void {
    const cwnd = this.cc.cwnd, ssthresh = this.cc.ssthresh;
    this.cc = createCongestionControl(name, this.mss);
    if (name !== 'none') {
      this.cc.cwnd = cwnd;
      this.cc.ssthresh = ssthresh;
    }
  }

  /** TCP_QUICKACK: ACK every segment at once for a while (Linux re-enters quick-ack mode). */
  quickAck(): void {
    this.quickAcks = TCP_DEFAULTS.maxQuickAcks;
    this.pingpong = false;
    if (this.unackedSegments > 0) this.sendAck();
  }

  /** TCP_CORK: hold partial segments while set; clearing it sends what is queued (tcp_push_pending_frames). */
  setCork(on: boolean): void {
    this.cork = on;
    if (!on) this.push();
  }

  /** TCP_NODELAY: setting it pushes what Nagle held back. */
  setNoDelay(on: boolean): void {
    this.noDelay = on;
    if (on) this.push();
  }

  /**
   * close() with SO_LINGER on. A zero linger time aborts: RST at once, queued data discarded
   * (RFC 9293 §3.10.5). Otherwise the close proceeds as usual and `lingerUntil` is when the
   * caller stops waiting for it (Linux's close() blocks until the FIN is acknowledged or
   * the time runs out; then the connection carries on, orphaned, as after a plain close).
   */
  closeWithLinger(lingerSeconds: number): void {
    if (lingerSeconds === 0) {
      this.orphaned = true;
      this.abort();
      return;
    }
    this.lingerUntil = this.host.now + lingerSeconds * 1_000_000;
    this.close();
  }

  /** Until when a lingering close() waits (−1: not lingering). */
  lingerUntil = -1;

  /** Everything sent, FIN included, was acknowledged (or the connection is gone): a lingering close() may return. */
  get closeDone(): boolean {
    const s = this.state;
    return s === TcpState.FinWait2 || s === TcpState.TimeWait || s === TcpState.Closed;
  }

  /** SO_KEEPALIVE on/off. */
  setKeepalive(on: boolean): void {
    this.keepalive = on;
    if (this.state !== TcpState.Established && this.state !== TcpState.CloseWait && this.state !== TcpState.SynSent && this.state !== TcpState.SynReceived) return;
    if (on) this.host.wheel.arm(this.keepaliveTimer, this.lastReceiveAt + this.keepIdleUs);
    else this.host.wheel.disarm(this.keepaliveTimer);
  }
}

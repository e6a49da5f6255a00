// The sender's record of every segment in flight: what was sent, when, and what became of
// it — SACKed (RFC 2018), deemed lost, retransmitted. It is Linux's retransmit queue with its
// sacked/lost/retrans tags, and serves three rules:
//  - RFC 6675's pipe (§4) and NextSeg rule 1 (§4: retransmit the first lost segment);
//  - RACK (RFC 8985 §6): a segment is lost once a segment sent after it was delivered and
//    it has had an RTT plus the reordering window to arrive;
//  - NewReno without SACK (RFC 6582): the head is lost after three duplicate ACKs, each of
//    which stands for one delivered segment (Linux's "reno sacks").
// Records are the segments as transmitted, contiguous from SND.UNA to SND.MAX (a FIN takes
// one sequence number of its record). They live in one Float64Array, four numbers a record
// (start, end, flags, sent-at µs), as a ring: no object per segment, one allocation per doubling.

import { seqAtOrBefore, seqBefore, seqDiff } from './segment.js';

export const SegmentTag = {
  Sacked: 1,
  Lost: 2,
  /** A retransmission of it is in flight. */
  Retrans: 4,
  /** Retransmitted at least once (RACK and Karn's rule ignore its timing). */
  EverRetrans: 8,
  Fin: 16,
} as const;

const STRIDE = 4;
const START = 0, END = 1, FLAGS = 2, SENT = 3;
const EMPTY = new Float64Array(0);
const INITIAL_RECORDS = 16;
/** RFC 6675 §2 / RFC 5681 DupThresh. */
export const DUP_THRESH = 3;
/** RFC 8985 §6.2: the reordering window grows after a D-SACK and returns to 1 after 16 recoveries. */
const REO_WND_PERSIST = 16;

export class Scoreboard {
  private rec: Float64Array = EMPTY;
  private head = 0;
  private count = 0;
  /** capacity − 1 (a power of two less one) */
  private mask = -1;
  sackedBytes = 0;
  sackedSegments = 0;
  lostBytes = 0;
  retransBytes = 0;
  /** Lost and not yet retransmitted: what NextSeg rule 1 still has to send. */
  pendingBytes = 0;
  /** Duplicate ACKs standing for delivered segments without SACK (bytes). */
  renoSackedBytes = 0;
  /** Index (from the head) before which no record is pending retransmission. */
  private pendingHint = 0;
  /** The highest end of a record retransmitted while in the queue: RACK's scan may stop past it. */
  private highestRetransEnd = 0;
  private hasRetrans = false;

  // RACK state (RFC 8985 §6.1).
  /** Sent-at and end of the most recently sent segment that was delivered; -1: none yet. */
  rackXmitTs = -1;
  rackEndSeq = 0;
  rackRtt = 0;
  /** Highest end delivered (cumulatively or by SACK): RACK.fack. */
  fack = 0;
  hasFack = false;
  /** RACK.fack before the ACK being processed (step 4 compares with it, so one ACK's SACK blocks cannot make its cumulative part look reordered). */
  private priorFack = 0;
  private hasPriorFack = false;
  /** Reordering seen on this connection (RACK.reord). */
  reordering = false;
  minRttUs = Infinity;
  reoWndMult = 1;
  /** D-SACKs received: each is a spurious retransmission (or a duplicate made by the network). */
  dsacks = 0;
  private reoWndPersist = REO_WND_PERSIST;
  /** Set by the last update: bytes newly delivered (cumulatively ACKed or SACKed) that were not SACKed before. */
  delivered = 0;

  get length(): number {
    return this.count;
  }
  startOf(i: number): number {
    return this.rec[((this.head + i) & this.mask) * STRIDE + START]! | 0;
  }
  endOf(i: number): number {
    return this.rec[((this.head + i) & this.mask) * STRIDE + END]! | 0;
  }
  flagsOf(i: number): number {
    return this.rec[((this.head + i) & this.mask) * STRIDE + FLAGS]! | 0;
  }
  sentAtOf(i: number): number {
    return this.rec[((this.head + i) & this.mask) * STRIDE + SENT]!;
  }
  /** Index of the last record (−1 when empty). */
  get lastIndex(): number {
    return this.count - 1;
  }

  /** pipe (RFC 6675 §4): bytes believed in the network, given FlightSize = SND.MAX − SND.UNA. */
  pipe(flight: number): number {
    const p = flight - this.sackedBytes - this.lostBytes + this.retransBytes - this.renoSackedBytes;
    return p > 0 ? p : 0;
  }

  /**
   * Transmission times strictly increase, so that two segments sent within one clock tick
   * (a retransmission, then new data) keep their order for RACK (RFC 8985 §6.1 compares
   * times first; Linux stamps skbs in nanoseconds). A tie is broken by 1/1024 µs.
   */
  private stamp(now: number): number {
    const t = now > this.lastStamp ? now : this.lastStamp + 1 / 1024;
    this.lastStamp = t;
    return t;
  }
  private lastStamp = -1;

  /** A segment [start, end) went out for the first time at `now`. */
  append(start: number, end: number, now: number, fin: boolean): void {
    if (this.count > this.mask) this.grow();
    const k = ((this.head + this.count) & this.mask) * STRIDE;
    const r = this.rec;
    r[k + START] = start;
    r[k + END] = end;
    r[k + FLAGS] = fin ? SegmentTag.Fin : 0;
    r[k + SENT] = this.stamp(now);
    this.count++;
  }

  /**
   * SND.UNA moved to `ack`: records wholly below it leave, a record it splits is trimmed.
   * Sets `delivered` to the bytes newly delivered and updates RACK from the records.
   */
  cumulativeAck(ack: number, now: number): void {
    this.delivered = 0;
    const r = this.rec;
    while (this.count > 0) {
      const k = (this.head & this.mask) * STRIDE;
      const start = r[k + START]! | 0, end = r[k + END]! | 0;
      if (seqAtOrBefore(end, start) || !seqBefore(start, ack)) break;
      const flags = r[k + FLAGS]! | 0;
      if (seqAtOrBefore(end, ack)) {
        if ((flags & SegmentTag.Sacked) === 0) {
          this.delivered += seqDiff(end, start);
          this.rackUpdate(r[k + SENT]!, end, flags, now, true);
          if ((flags & SegmentTag.EverRetrans) === 0) {
            if (this.firstAckedSentAt < 0) this.firstAckedSentAt = r[k + SENT]!;
          } else if (r[k + SENT]! > this.lastRetransAckedAt) this.lastRetransAckedAt = r[k + SENT]!;
        }
        this.tally(flags, seqDiff(end, start), -1);
        this.head = (this.head + 1) & this.mask;
        this.count--;
        if (this.pendingHint > 0) this.pendingHint--;
        continue;
      }
      // The ACK ends inside this record (the peer took part of it, or the MSS shrank).
      const cut = seqDiff(ack, start);
      this.tally(flags, seqDiff(end, start), -1);
      r[k + START] = ack;
      this.tally(flags, seqDiff(end, ack), 1);
      this.delivered += cut;
      break;
    }
    if (this.renoSackedBytes > 0) this.renoSackedBytes = Math.max(0, this.renoSackedBytes - this.delivered);
    if (this.count === 0) {
      this.head = 0;
      this.pendingHint = 0;
      this.hasRetrans = false;
    }
  }

  /**
   * One SACK block [left, right) (RFC 2018 §4), already checked to lie within (SND.UNA,
   * SND.MAX]. Marks the records it covers whole; adds what it newly covers to `delivered`.
   */
  sackBlock(left: number, right: number, now: number): void {
    let i = this.firstEndingAfter(left);
    for (; i < this.count; i++) {
      const k = ((this.head + i) & this.mask) * STRIDE;
      const r = this.rec;
      const start = r[k + START]! | 0, end = r[k + END]! | 0;
      if (!seqBefore(start, right)) break;
      const flags = r[k + FLAGS]! | 0;
      if ((flags & SegmentTag.Sacked) !== 0 || seqBefore(start, left) || seqBefore(right, end)) continue;
      this.delivered += seqDiff(end, start);
      this.rackUpdate(r[k + SENT]!, end, flags, now, false);
      if ((flags & SegmentTag.EverRetrans) === 0 && this.firstSackedSentAt < 0) this.firstSackedSentAt = r[k + SENT]!;
      this.setFlags(i, (flags | SegmentTag.Sacked) & ~(SegmentTag.Lost | SegmentTag.Retrans));
    }
  }

  /** The ACK being processed echoes a timestamp (RFC 7323): the send time, in ms of the µs clock, of what it answers. */
  hasAckEcho = false;
  ackEchoMs = 0;

  /** An ACK begins: remember RACK.fack as it was. `echoMs` as ackEchoMs, or NaN without a usable TSecr. */
  beginAck(echoMs = NaN): void {
    this.hasAckEcho = echoMs === echoMs;
    this.ackEchoMs = this.hasAckEcho ? echoMs | 0 : 0;
    this.priorFack = this.fack;
    this.hasPriorFack = this.hasFack;
    this.firstAckedSentAt = -1;
    this.firstSackedSentAt = -1;
    this.lastRetransAckedAt = -1;
  }
  /** The latest (re)transmission time of a retransmitted record this ACK delivered cumulatively (−1: none). */
  lastRetransAckedAt = -1;
  /** Send time of the first record this ACK delivered cumulatively / by SACK that was never retransmitted (−1: none). */
  firstAckedSentAt = -1;
  firstSackedSentAt = -1;

  /** RFC 8985 §6.1 steps 2–4 for one delivered segment. */
  private rackUpdate(sentAt: number, end: number, flags: number, now: number, cumulative: boolean): void {
    const rtt = now - sentAt;
    // Step 2: a retransmitted segment ACKed sooner than the minimum RTT, or (timestamps) by an
    // ACK echoing a TSval older than its last transmission, was the original's delivery: its
    // retransmission time must not make everything sent before it look lost (after a spurious
    // timeout that would be go-back-N of the whole window). The echo identifies only what
    // advanced the cumulative ACK: a receiver echoes TS.Recent, which out-of-order (SACKed)
    // segments do not update (RFC 7323 §4.3), so SACKed segments are not judged by it.
    if ((flags & SegmentTag.EverRetrans) !== 0) {
      if (rtt < this.minRttUs) return;
      if (cumulative && this.hasAckEcho && ((this.ackEchoMs - (Math.floor(sentAt / 1000) | 0)) | 0) < 0) return;
    }
    // Step 4 (before RACK.fack moves): an original delivered below the highest delivered end means reordering.
    if ((flags & SegmentTag.EverRetrans) === 0 && this.hasPriorFack && seqBefore(end, this.priorFack)) this.reordering = true;
    if (!this.hasFack || seqBefore(this.fack, end)) {
      this.fack = end;
      this.hasFack = true;
    }
    // Step 3: the most recently sent delivered segment.
    if (sentAt > this.rackXmitTs || (sentAt === this.rackXmitTs && seqBefore(this.rackEndSeq, end))) {
      this.rackXmitTs = sentAt;
      this.rackEndSeq = end;
      this.rackRtt = rtt;
    }
  }

  /**
   * A D-SACK arrived (RFC 2883): a retransmission was spurious. RFC 8985 §6.2 widens the
   * reordering window once per round trip; like Linux (tcp_sacktag_one) the duplicate counts
   * as reordering seen, else a reordering deeper than the RTT — whose originals are only ever
   * delivered after their retransmissions — would never switch RACK's window on.
   */
  dsackSeen(sndUna: number, sndNxt: number): void {
    this.dsacks++;
    this.reordering = true;
    if (this.hasDsackRound && seqAtOrBefore(this.dsackRound, sndUna)) this.hasDsackRound = false;
    if (this.hasDsackRound) return;
    this.hasDsackRound = true;
    this.dsackRound = sndNxt;
    if (this.reoWndMult < 16) this.reoWndMult++;
    this.reoWndPersist = REO_WND_PERSIST;
  }
  private dsackRound = 0;
  private hasDsackRound = false;

  /** A recovery ended: after 16 without a D-SACK the window multiplier returns to 1. */
  recoveryEnded(): void {
    if (--this.reoWndPersist <= 0) {
      this.reoWndMult = 1;
      this.reoWndPersist = REO_WND_PERSIST;
    }
  }

  /**
   * A recovery was undone as spurious (Linux tcp_try_undo_dsack): keep the widened
   * reordering window for longer (reo_wnd_persist + 1, at most 16).
   */
  undoSeen(): void {
    if (this.reoWndPersist < REO_WND_PERSIST) this.reoWndPersist++;
  }

  /** RFC 8985 §6.2 RACK_update_reo_wnd. */
  reorderWindow(inRecovery: boolean, srttUs: number): number {
    if (!this.reordering && (inRecovery || this.sackedSegments >= DUP_THRESH)) return 0;
    if (this.minRttUs === Infinity) return 0;
    return Math.min((this.reoWndMult * this.minRttUs) / 4, srttUs);
  }

  /**
   * RFC 8985 §6.2 RACK_detect_loss: marks lost every segment sent before the most recently
   * delivered one that has had RACK.rtt + reo_wnd to arrive. Returns how long until the next
   * candidate would be lost (the reordering timer), 0 if none.
   */
  detectLoss(now: number, inRecovery: boolean, srttUs: number): number {
    if (this.rackXmitTs < 0 || this.count === 0) return 0;
    const reoWnd = this.reorderWindow(inRecovery, srttUs);
    let timeout = 0;
    const r = this.rec;
    for (let i = 0; i < this.count; i++) {
      const k = ((this.head + i) & this.mask) * STRIDE;
      const flags = r[k + FLAGS]! | 0;
      const sentAt = r[k + SENT]!;
      const start = r[k + START]! | 0, end = r[k + END]! | 0;
      // Originals go out in sequence order, so past the retransmitted ones the first segment
      // sent after RACK.xmit_ts ends the scan.
      if ((flags & SegmentTag.EverRetrans) === 0 && sentAt > this.rackXmitTs && (!this.hasRetrans || seqAtOrBefore(this.highestRetransEnd, start))) break;
      if ((flags & SegmentTag.Sacked) !== 0) continue;
      if ((flags & (SegmentTag.Lost | SegmentTag.Retrans)) === SegmentTag.Lost) continue; // already awaiting retransmission
      const sentBefore = this.rackXmitTs > sentAt || (this.rackXmitTs === sentAt && seqBefore(end, this.rackEndSeq));
      if (!sentBefore) continue;
      const remaining = sentAt + this.rackRtt + reoWnd - now;
      if (remaining <= 0) this.setFlags(i, (flags | SegmentTag.Lost) & ~SegmentTag.Retrans);
      else if (remaining > timeout) timeout = remaining;
    }
    return timeout;
  }

  /** Marks the first record lost (NewReno's fast retransmit and partial ACKs). */
  markHeadLost(): void {
    if (this.count === 0) return;
    const f = this.flagsOf(0);
    if ((f & SegmentTag.Sacked) !== 0) return;
    this.setFlags(0, (f | SegmentTag.Lost) & ~SegmentTag.Retrans);
  }

  /** Retransmission timeout (RFC 6675 §5.1, Linux tcp_timeout_mark_lost): every record not SACKED is lost. */
  markAllLost(): void {
    for (let i = 0; i < this.count; i++) {
      const f = this.flagsOf(i);
      if ((f & SegmentTag.Sacked) === 0) this.setFlags(i, (f | SegmentTag.Lost) & ~SegmentTag.Retrans);
    }
    this.renoSackedBytes = 0;
  }

  /**
   * The losses were not real (an undone timeout or recovery: Linux tcp_undo_cwnd_reduction
   * with unmark_loss): no record stays marked lost. A retransmission in flight stays counted
   * in pipe, as Linux keeps retrans_out.
   */
  unmarkLost(): void {
    if (this.lostBytes <= 0) return;
    for (let i = 0; i < this.count; i++) {
      const f = this.flagsOf(i);
      if ((f & SegmentTag.Lost) !== 0) this.setFlags(i, f & ~SegmentTag.Lost);
    }
  }

  /** The first record lost and not retransmitted since (NextSeg rule 1), or −1. */
  firstPending(): number {
    if (this.pendingBytes <= 0) return -1;
    for (let i = this.pendingHint; i < this.count; i++) {
      if ((this.flagsOf(i) & (SegmentTag.Lost | SegmentTag.Retrans)) === SegmentTag.Lost) {
        this.pendingHint = i;
        return i;
      }
    }
    this.pendingHint = this.count;
    return -1;
  }

  /** Record i was just retransmitted (whole) at `now`. */
  retransmitted(i: number, now: number): void {
    const k = ((this.head + i) & this.mask) * STRIDE;
    this.rec[k + SENT] = this.stamp(now);
    const end = this.rec[k + END]! | 0;
    if (!this.hasRetrans || seqBefore(this.highestRetransEnd, end)) this.highestRetransEnd = end;
    this.hasRetrans = true;
    this.setFlags(i, this.flagsOf(i) | SegmentTag.Retrans | SegmentTag.EverRetrans);
  }

  /** Splits record i so that it ends `len` bytes after its start (a retransmission must fit a smaller segment). */
  split(i: number, len: number): void {
    const start = this.startOf(i), end = this.endOf(i);
    if (len <= 0 || len >= seqDiff(end, start)) return;
    if (this.count > this.mask) this.grow();
    const r = this.rec;
    // Shift the records after i one place toward the tail.
    for (let j = this.count; j > i + 1; j--) {
      const to = ((this.head + j) & this.mask) * STRIDE, from = ((this.head + j - 1) & this.mask) * STRIDE;
      r[to] = r[from]!; r[to + 1] = r[from + 1]!; r[to + 2] = r[from + 2]!; r[to + 3] = r[from + 3]!;
    }
    const k = ((this.head + i) & this.mask) * STRIDE, n = ((this.head + i + 1) & this.mask) * STRIDE;
    const flags = r[k + FLAGS]! | 0;
    const mid = (start + len) | 0;
    r[n + START] = mid;
    r[n + END] = end;
    r[n + FLAGS] = flags;
    r[n + SENT] = r[k + SENT]!;
    r[k + END] = mid;
    r[k + FLAGS] = flags & ~SegmentTag.Fin;
    this.count++;
    // Byte tallies are unchanged; a SACKed record counted once now counts twice.
    if ((flags & SegmentTag.Sacked) !== 0) this.sackedSegments++;
  }

  /** A duplicate ACK without SACK stands for one delivered segment (bounded by what is in flight). */
  renoDupAck(mss: number, flight: number): void {
    this.renoSackedBytes = Math.min(this.renoSackedBytes + mss, Math.max(0, flight - mss));
  }

  /** Forget everything (connection closed). Keeps the store for reuse. */
  clear(): void {
    this.head = 0;
    this.count = 0;
    this.sackedBytes = this.sackedSegments = this.lostBytes = this.retransBytes = this.pendingBytes = this.renoSackedBytes = 0;
    this.pendingHint = 0;
    this.hasRetrans = false;
  }

  /** Gives the store back when nothing is in flight (an idle connection holds none). */
  release(): void {
    if (this.count === 0) {
      this.rec = EMPTY;
      this.mask = -1;
      this.head = 0;
    }
  }

  private setFlags(i: number, flags: number): void {
    const k = ((this.head + i) & this.mask) * STRIDE;
    const old = this.rec[k + FLAGS]! | 0;
    if (old === flags) return;
    const len = seqDiff(this.rec[k + END]! | 0, this.rec[k + START]! | 0);
    this.tally(old, len, -1);
    this.tally(flags, len, 1);
    this.rec[k + FLAGS] = flags;
    if ((flags & (SegmentTag.Lost | SegmentTag.Retrans)) === SegmentTag.Lost && i < this.pendingHint) this.pendingHint = i;
  }

  private tally(flags: number, len: number, sign: 1 | -1): void {
    if (flags & SegmentTag.Sacked) {
      this.sackedBytes += sign * len;
      this.sackedSegments += sign;
    }
    if (flags & SegmentTag.Lost) this.lostBytes += sign * len;
    if (flags & SegmentTag.Retrans) this.retransBytes += sign * len;
    if ((flags & (SegmentTag.Lost | SegmentTag.Retrans)) === SegmentTag.Lost) this.pendingBytes += sign * len;
  }

  /** Binary search: the first record whose end is after `seq`. */
  private firstEndingAfter(seq: number): number {
    let lo = 0, hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqAtOrBefore(this.endOf(mid), seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private grow(): void {
    const cap = this.mask + 1;
    const next = new Float64Array(Math.max(INITIAL_RECORDS, cap * 2) * STRIDE);
    for (let i = 0; i < this.count; i++) {
      const from = ((this.head + i) & this.mask) * STRIDE;
      next.set(this.rec.subarray(from, from + STRIDE), i * STRIDE);
    }
    this.rec = next;
    this.head = 0;
    this.mask = next.length / STRIDE - 1;
  }
}

// NewReno: RFC 5681 slow start and congestion avoidance, RFC 6582 recovery, with the window
// reduction during recovery paced by RFC 6937 PRR. CUBIC (cubic.ts) shares slow start,
// recovery, RTO and idle restart, and replaces congestion avoidance and the loss reduction.
//
// Windows are bytes. Growth is in whole segments, as Linux counts snd_cwnd in packets:
// slow start adds acked bytes (RFC 3465 ABC, L = 2·SMSS per ACK), congestion avoidance adds
// one SMSS per cwnd bytes acknowledged (RFC 5681 §3.1, the byte-counting variant; Linux
// tcp_cong_avoid_ai).

import type { CongestionAlgorithm, CongestionControl } from './congestion.js';

/** Linux TCP_INFINITE_SSTHRESH: ssthresh before the first congestion event. */
export const INFINITE_SSTHRESH = 0x7fffffff;

export class NewReno implements CongestionControl {
  readonly name: CongestionAlgorithm = 'reno';
  cwnd: number;
  ssthresh = INFINITE_SSTHRESH;
  protected mss: number;
  protected readonly initialWindowSegments: number;
  /** Bytes acknowledged in congestion avoidance toward the next SMSS of growth. */
  protected bytesAcked = 0;
  protected inRecovery = false;
  /** Set by an RTO until new data is acknowledged: RFC 5681 §3.1 holds ssthresh across backoffs. */
  protected inRtoLoss = false;
  // RFC 6937 PRR state.
  private recoverFs = 0;
  private prrDelivered = 0;
  private prrOut = 0;

  constructor(mss: number, initialWindowSegments = 10) {
    this.mss = Math.max(1, mss);
    this.initialWindowSegments = Math.max(1, initialWindowSegments);
    // RFC 6928 / Linux: IW = 10 segments (Linux does not apply RFC 6928's 14600-byte cap).
    this.cwnd = this.initialWindowSegments * this.mss;
  }

  get recovering(): boolean {
    return this.inRecovery;
  }

  onAck(ackedBytes: number, inFlightBefore: number, rttUs: number, now: number): void {
    this.inRtoLoss = false;
    if (ackedBytes <= 0 || !this.cwndLimited(inFlightBefore)) return;
    let acked = ackedBytes;
    if (this.cwnd < this.ssthresh) {
      // RFC 3465 §2.2: at most L = 2·SMSS per ACK; Linux tcp_slow_start stops at ssthresh and
      // hands what is left of the ACK to congestion avoidance.
      const inc = Math.min(acked, 2 * this.mss);
      const grown = Math.min(this.cwnd + inc, this.ssthresh);
      acked = inc - (grown - this.cwnd);
      this.cwnd = grown;
      if (acked <= 0) return;
    }
    this.congestionAvoidance(acked, rttUs, now);
  }

  onEnterRecovery(inFlight: number, now: number): void {
    this.ssthresh = this.lossSsthresh(inFlight, now);
    // RFC 6675 §5 (4.2): cwnd = ssthresh; the fast retransmit goes out regardless.
    this.cwnd = this.ssthresh;
    this.bytesAcked = 0;
    this.inRecovery = true;
    this.inRtoLoss = false;
    this.recoverFs = Math.max(inFlight, this.mss);
    this.prrDelivered = 0;
    this.prrOut = 0;
  }

  /**
   * RFC 6937 PRR (PRR-SSRB). `ackedBytes` is DeliveredData: bytes newly cumulatively ACKed
   * plus newly SACKed (without SACK, one SMSS per duplicate ACK); `inFlight` is pipe after
   * this ACK. cwnd becomes pipe + sndcnt, so the sender sends sndcnt. The controller is not
   * told what was sent, so prr_out is taken to be what PRR allowed: exact for a bulk sender,
   * more conservative than RFC 6937 for an application-limited one. RFC 6582's partial-ACK
   * rule (retransmit the next hole) is the connection's job; the full ACK is onExitRecovery.
   */
  onRecoveryAck(ackedBytes: number, inFlight: number, _now: number): void {
    if (!this.inRecovery) return;
    const delivered = Math.max(0, ackedBytes);
    const pipe = Math.max(0, inFlight);
    this.prrDelivered += delivered;
    let sndcnt: number;
    if (pipe > this.ssthresh) {
      // Proportional rate reduction: send ssthresh/RecoverFS of what was delivered.
      sndcnt = Math.ceil((this.prrDelivered * this.ssthresh) / this.recoverFs) - this.prrOut;
    } else {
      // Slow start reduction bound: grow back toward ssthresh, at most delivered + 1 SMSS.
      const limit = Math.max(this.prrDelivered - this.prrOut, delivered) + this.mss;
      sndcnt = Math.min(this.ssthresh - pipe, limit);
    }
    if (sndcnt < 0) sndcnt = 0;
    this.prrOut += sndcnt;
    this.cwnd = Math.max(pipe + sndcnt, this.mss);
  }

  onExitRecovery(_now: number): void {
    if (!this.inRecovery) return;
    this.inRecovery = false;
    // RFC 6937 §3 / RFC 6582 §3.2 step 6 (option 2) / Linux tcp_end_cwnd_reduction.
    this.cwnd = Math.max(this.ssthresh, this.mss);
    this.bytesAcked = 0;
  }

  onRto(inFlight: number, now: number): void {
    // RFC 5681 §3.1: ssthresh only for the first timeout of a segment; Linux tcp_enter_loss
    // also keeps the ssthresh already chosen by a recovery in progress.
    if (!this.inRtoLoss && !this.inRecovery) this.ssthresh = this.lossSsthresh(inFlight, now);
    this.ssthresh = Math.max(this.ssthresh, 2 * this.mss);
    // Linux: loss window of 1 segment.
    this.cwnd = this.mss;
    this.bytesAcked = 0;
    this.inRecovery = false;
    this.inRtoLoss = true;
  }

  /**
   * Linux tcp_undo_cwnd_reduction with tcp_reno_undo_cwnd (RFC 3708 §3, RFC 4015 §3.2):
   * the window goes back to what it was before the spurious reduction, never lower than now.
   */
  onUndo(priorCwnd: number, priorSsthresh: number, _now: number): void {
    if (priorCwnd > this.cwnd) this.cwnd = priorCwnd;
    if (priorSsthresh > this.ssthresh) this.ssthresh = priorSsthresh;
    this.bytesAcked = 0;
    this.inRecovery = false;
    this.inRtoLoss = false;
  }

  onIdle(idleUs: number, rtoUs: number): void {
    if (!(idleUs > rtoUs)) return;
    // Linux tcp_cwnd_restart (RFC 5681 §4.1 with RFC 7661's memory of the window): remember
    // 3/4 of cwnd in ssthresh, then halve cwnd per RTO idle, down to the restart window
    // RW = min(IW, cwnd).
    const restart = Math.min(this.initialWindowSegments * this.mss, this.cwnd);
    if (!this.inRecovery) this.ssthresh = Math.max(this.ssthresh, Math.floor((this.cwnd * 3) / 4));
    let cwnd = this.cwnd;
    let delta = idleUs;
    if (rtoUs > 0) {
      while ((delta -= rtoUs) > 0 && cwnd > restart) cwnd = Math.floor(cwnd / 2);
    }
    this.cwnd = Math.max(cwnd, restart, this.mss);
    this.bytesAcked = 0;
  }

  /** Keeps the windows' size in segments, as Linux does (snd_cwnd counts packets). */
  setMss(mss: number): void {
    const next = Math.max(1, mss);
    if (next === this.mss) return;
    const scale = next / this.mss;
    this.cwnd = Math.max(Math.round(this.cwnd * scale), next);
    if (this.ssthresh !== INFINITE_SSTHRESH) {
      this.ssthresh = Math.min(Math.max(Math.round(this.ssthresh * scale), 2 * next), INFINITE_SSTHRESH);
    }
    this.bytesAcked = Math.round(this.bytesAcked * scale);
    this.mss = next;
  }

  /** RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2·SMSS). */
  protected lossSsthresh(inFlight: number, _now: number): number {
    return Math.max(Math.floor(Math.max(0, inFlight) / 2), 2 * this.mss);
  }

  /** RFC 5681 §3.1: one SMSS per window of acknowledged bytes (Linux tcp_cong_avoid_ai). */
  protected congestionAvoidance(ackedBytes: number, _rttUs: number, _now: number): void {
    this.bytesAcked += ackedBytes;
    if (this.bytesAcked >= this.cwnd) {
      const segments = Math.floor(this.bytesAcked / this.cwnd);
      this.bytesAcked -= segments * this.cwnd;
      this.cwnd += segments * this.mss;
    }
  }

  /**
   * RFC 7661 §4.1 / Linux tcp_is_cwnd_limited: grow only when the window was the limit. In
   * slow start Linux allows growth while cwnd < 2·packets_out; in congestion avoidance the
   * window must have been (within a segment of) full.
   */
  protected cwndLimited(inFlightBefore: number): boolean {
    if (this.cwnd < this.ssthresh) return this.cwnd < 2 * inFlightBefore;
    return inFlightBefore + this.mss > this.cwnd;
  }
}

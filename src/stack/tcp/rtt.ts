// RFC 6298 retransmission timer estimator with Linux's bounds (times in µs).
//
// Karn's rule (RFC 6298 §3): the caller must not sample an RTT from a segment that was
// retransmitted, since the ACK may be for either transmission; the backed-off RTO is then
// kept until an ACK for new, never-retransmitted data yields a sample. With TCP timestamps
// (RFC 7323 §4) the echoed TSecr identifies the transmission, so such ACKs may be sampled.
//
// Linux differences, and what this class does:
//  - RTO = SRTT + max(G, 4·RTTVAR), clamped to [minRto, maxRto] (RFC 6298 §2.2–§2.5). Linux
//    floors the variance term instead (tcp_set_rto: rttvar_us >= tcp_rto_min), i.e.
//    RTO = SRTT + max(4·RTTVAR, rto_min): a floor of rto_min/4 on RTTVAR. That is the default
//    here (`rttvarFloorUs` = minRtoUs/4); pass 0 for plain RFC 6298. `rttvar` reports the
//    unfloored RFC value.
//  - Linux keeps mdev_max over each RTT and lets rttvar decay once per RTT; here the RFC's
//    per-sample EWMA (α = 1/8, β = 1/4) is used.
//  - Bounds: tcp_rto_min 200 ms, TCP_RTO_MAX 120 s, TCP_TIMEOUT_INIT 1 s (RFC 6298 §2.1
//    allows 1 s). G is 1 µs (Linux measures RTT in µs).

/** Clock granularity G, µs. */
const CLOCK_GRANULARITY_US = 1;

export class RttEstimator {
  readonly minRtoUs: number;
  readonly maxRtoUs: number;
  readonly initialRtoUs: number;
  readonly rttvarFloorUs: number;
  private srttUs = 0;
  private rttvarUs = 0;
  private baseRtoUs: number;
  private rtoUs: number;
  private backoffs = 0;
  private sampled = false;

  constructor(minRtoUs = 200_000, maxRtoUs = 120_000_000, initialRtoUs = 1_000_000, rttvarFloorUs = minRtoUs / 4) {
    this.minRtoUs = minRtoUs;
    this.maxRtoUs = Math.max(maxRtoUs, minRtoUs);
    this.initialRtoUs = initialRtoUs;
    this.rttvarFloorUs = Math.max(0, rttvarFloorUs);
    this.baseRtoUs = this.clamp(initialRtoUs);
    this.rtoUs = this.baseRtoUs;
  }

  /** Smoothed RTT, µs (0 before the first sample). */
  get srtt(): number {
    return this.srttUs;
  }
  /** RTT variation, µs (0 before the first sample). */
  get rttvar(): number {
    return this.rttvarUs;
  }
  /** Current retransmission timeout including backoff, µs. */
  get rto(): number {
    return this.rtoUs;
  }
  get backoffCount(): number {
    return this.backoffs;
  }
  get hasSample(): boolean {
    return this.sampled;
  }

  /** One RTT measurement R, µs (Karn's rule: never from a retransmitted segment without timestamps). */
  sample(rttUs: number): void {
    if (!(rttUs >= 0) || !Number.isFinite(rttUs)) return;
    const r = Math.max(rttUs, 1); // Linux tcp_rtt_estimator: a zero sample counts as 1 µs
    if (!this.sampled) {
      // RFC 6298 §2.2.
      this.srttUs = r;
      this.rttvarUs = r / 2;
      this.sampled = true;
    } else {
      // RFC 6298 §2.3: RTTVAR first, from the old SRTT.
      this.rttvarUs = 0.75 * this.rttvarUs + 0.25 * Math.abs(this.srttUs - r);
      this.srttUs = 0.875 * this.srttUs + 0.125 * r;
    }
    const variance = 4 * Math.max(this.rttvarUs, this.rttvarFloorUs);
    this.baseRtoUs = this.clamp(this.srttUs + Math.max(CLOCK_GRANULARITY_US, variance));
    // A valid sample means new data was ACKed: RFC 6298 §5.7 / Linux clear the backoff.
    this.backoffs = 0;
    this.rtoUs = this.baseRtoUs;
  }

  /** RFC 6298 §5.5: the timer expired; double the RTO, up to the maximum (Linux icsk_backoff). */
  backoff(): void {
    this.backoffs++;
    this.rtoUs = Math.min(this.rtoUs * 2, this.maxRtoUs);
  }

  /**
   * Return to the estimator's RTO without a sample. Karn's rule keeps the backed-off RTO
   * until sample(); this is for callers that deliberately forget it (e.g. a new connection
   * phase, or RFC 6298 §5.7's reset after the handshake).
   */
  resetBackoff(): void {
    this.backoffs = 0;
    this.rtoUs = this.baseRtoUs;
  }

  private clamp(rto: number): number {
    return Math.min(Math.max(rto, this.minRtoUs), this.maxRtoUs);
  }
}

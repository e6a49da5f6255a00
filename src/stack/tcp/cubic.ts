// CUBIC, RFC 9438 (Linux's default, tcp_cubic.c). Slow start, recovery (RFC 6675 with
// RFC 6937 PRR, as RFC 9438 §4.6 allows), RTO and idle restart are NewReno's (newreno.ts);
// this file replaces congestion avoidance (§4.2–§4.5) and the loss reduction (§4.6–§4.8).
//
// The cubic math is in segments (W_max, W_est, K, origin), t in seconds; cwnd stays bytes
// and grows in whole segments like Linux's snd_cwnd, through a fractional-segment counter.
// Not implemented: HyStart++ (§4.10 RECOMMENDS it; slow start here is RFC 5681 + ABC).
// Spurious-loss undo (§4.9): the connection detects it (D-SACK, Eifel) and calls onUndo.

import { NewReno } from './newreno.js';

/** RFC 9438 §5.1. */
export const CUBIC_C = 0.4;
export const CUBIC_BETA = 0.7;
/** RFC 9438 §4.3: α_cubic = 3(1 − β)/(1 + β), Reno's average rate for CUBIC's β. */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** RFC 9438 §4.2 eq. 2, for a window reduced to β·W_max: K = ∛(W_max(1 − β)/C), seconds. */
export function cubicK(wMaxSegments: number): number {
  return Math.cbrt((wMaxSegments * (1 - CUBIC_BETA)) / CUBIC_C);
}

/** RFC 9438 §4.2 eq. 1: W_cubic(t) = C(t − K)³ + W_max, segments. */
export function cubicWindow(tSeconds: number, k: number, wMaxSegments: number): number {
  const d = tSeconds - k;
  return CUBIC_C * d * d * d + wMaxSegments;
}

/** ⌊bytes·β⌋ without binary rounding error (90000 · 0.7 = 62999.999…). */
function floorBeta(bytes: number): number {
  return Math.floor(bytes * CUBIC_BETA + 1e-6);
}

export class Cubic extends NewReno {
  override readonly name = 'cubic' as const;
  /** W_max, segments: the window before the last reduction, after fast convergence (§4.7). 0 = none. */
  wMax = 0;
  /** cwnd_prior, segments (§4.6): the window just before the last reduction. */
  cwndPrior = 0;
  /** W_est, segments: the Reno-friendly estimate (§4.3). */
  wEst = 0;
  /** K, seconds, and the curve's plateau, segments, for the current epoch. */
  k = 0;
  origin = 0;
  /** t_epoch, µs; -1 until the first ACK of a congestion avoidance stage. */
  epochStart = -1;
  /** Fractional segments of growth not yet added to cwnd. */
  private growth = 0;
  /** W_max and cwnd_prior before the last reduction, for §4.9's undo. */
  private undoWMax = 0;
  private undoCwndPrior = 0;

  /** Which region the last congestion-avoidance ACK was in (for tests and tracing). */
  region: 'reno-friendly' | 'concave' | 'convex' | 'none' = 'none';

  protected override lossSsthresh(_inFlight: number, _now: number): number {
    const cwndSeg = this.cwnd / this.mss;
    this.undoWMax = this.wMax;
    this.undoCwndPrior = this.cwndPrior;
    // §4.7 fast convergence: a flow whose window did not regain the last W_max releases
    // bandwidth by aiming lower (Linux: last_max_cwnd = cwnd·(1 + β)/2).
    this.wMax = cwndSeg < this.wMax ? (cwndSeg * (1 + CUBIC_BETA)) / 2 : cwndSeg;
    this.cwndPrior = cwndSeg;
    this.resetEpoch();
    // §4.6: ssthresh = cwnd·β_cubic, at least 2 segments (Linux bictcp_recalc_ssthresh uses
    // cwnd, not FlightSize; growth is held to cwnd-limited periods, as §4.6 then requires).
    return Math.max(floorBeta(this.cwnd), 2 * this.mss);
  }

  override onExitRecovery(now: number): void {
    super.onExitRecovery(now);
    this.resetEpoch();
  }

  override onRto(inFlight: number, now: number): void {
    super.onRto(inFlight, now);
    // §4.8 / Linux bictcp_reset on TCP_CA_Loss: the first congestion avoidance after a
    // timeout starts a curve with K = 0 and W_max = cwnd at its start.
    this.wMax = 0;
    this.resetEpoch();
  }

  /**
   * §4.9: a spurious congestion event restores W_max and cwnd_prior (fast convergence must
   * not lower the plateau for a loss that never happened); cwnd and ssthresh as NewReno. A
   * new epoch starts from the restored window (Linux's cubic undoes cwnd only).
   */
  override onUndo(priorCwnd: number, priorSsthresh: number, now: number): void {
    super.onUndo(priorCwnd, priorSsthresh, now);
    if (this.undoWMax > this.wMax) this.wMax = this.undoWMax;
    this.cwndPrior = this.undoCwndPrior;
    this.resetEpoch();
  }

  override onIdle(idleUs: number, rtoUs: number): void {
    if (idleUs > rtoUs) {
      super.onIdle(idleUs, rtoUs);
      this.resetEpoch();
    } else if (this.epochStart >= 0 && idleUs > 0) {
      // Linux CA_EVENT_TX_START: the curve does not advance while nothing is sent.
      this.epochStart += idleUs;
    }
  }

  override setMss(mss: number): void {
    super.setMss(mss);
    this.resetEpoch();
  }

  protected override congestionAvoidance(ackedBytes: number, rttUs: number, now: number): void {
    const cwndSeg = this.cwnd / this.mss;
    if (this.epochStart < 0) {
      this.epochStart = now;
      if (this.wMax <= cwndSeg) {
        // No reduction to recover from (first CA stage, after an RTO, or already above
        // W_max): start on the plateau, K = 0 (§4.8, Linux bictcp_update).
        this.k = 0;
        this.origin = cwndSeg;
      } else {
        // §4.2 eq. 2 with cwnd_epoch = cwnd at the start of this stage.
        this.k = Math.cbrt((this.wMax - cwndSeg) / CUBIC_C);
        this.origin = this.wMax;
      }
      this.wEst = cwndSeg;
      this.growth = 0;
    }
    const segmentsAcked = ackedBytes / this.mss;
    // §4.3: W_est grows like Reno with α_cubic, then α = 1 once it passes cwnd_prior.
    const alpha = this.wEst >= this.cwndPrior ? 1 : CUBIC_ALPHA;
    this.wEst += (alpha * segmentsAcked) / cwndSeg;

    const t = (now - this.epochStart) / 1e6;
    const wCubic = cubicWindow(t, this.k, this.origin);
    if (wCubic < this.wEst) {
      // §4.3: Reno-friendly region: cwnd = W_est.
      this.region = 'reno-friendly';
      const target = Math.floor(this.wEst);
      if (target > cwndSeg) this.cwnd = Math.max(this.cwnd, target * this.mss);
      this.growth = 0;
      return;
    }
    this.region = wCubic < this.origin ? 'concave' : 'convex';
    // §4.4/§4.5: aim at W_cubic one RTT ahead, within [cwnd, 1.5·cwnd]; each ACK adds
    // (target − cwnd)/cwnd segments.
    let target = cubicWindow(t + Math.max(0, rttUs) / 1e6, this.k, this.origin);
    if (target < cwndSeg) target = cwndSeg;
    else if (target > 1.5 * cwndSeg) target = 1.5 * cwndSeg;
    this.growth += ((target - cwndSeg) / cwndSeg) * segmentsAcked;
    if (this.growth >= 1) {
      const whole = Math.floor(this.growth);
      this.growth -= whole;
      this.cwnd += whole * this.mss;
    }
  }

  private resetEpoch(): void {
    this.epochStart = -1;
    this.growth = 0;
  }
}

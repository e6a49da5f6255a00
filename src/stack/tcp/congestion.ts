// Pluggable TCP congestion control (as gVisor's reno.go/cubic.go, Linux's tcp_congestion_ops).
// Each algorithm is a pure state machine: windows in bytes, time as `now` in µs, no clock,
// no allocation per call. The connection owns the scoreboard, FlightSize ("pipe", RFC 6675
// §4) and the recovery point; it tells the controller what happened and reads `cwnd`.
//
// Calling contract (what the connection does):
//  - new data cumulatively ACKed, not in recovery    -> onAck(acked, inFlightBefore, rtt, now)
//  - loss detected (3 dupacks / SACK / RACK)         -> onEnterRecovery(inFlight, now); the
//    fast retransmit itself is sent regardless of cwnd (RFC 5681 §3.2 step 4, RFC 6675 §5 (3))
//  - every ACK in recovery that delivers data        -> onRecoveryAck(delivered, inFlightAfter, now)
//  - ACK at or above the recovery point (full ACK)   -> onExitRecovery(now)
//  - retransmission timer fired                      -> onRto(inFlight, now)
//  - the reduction proved spurious (D-SACK / Eifel)  -> onUndo(priorCwnd, priorSsthresh, now)
//  - sending resumes with nothing in flight          -> onIdle(idleUs, rtoUs) (any idle length)
//  - path MSS changed                                -> setMss(mss)
// The sender may transmit while inFlight < cwnd.

import { Cubic } from './cubic.js';
import { INFINITE_SSTHRESH, NewReno } from './newreno.js';

export { INFINITE_SSTHRESH };

export type CongestionAlgorithm = 'cubic' | 'reno' | 'none';

export interface CongestionControl {
  readonly name: CongestionAlgorithm;
  /** Bytes. */
  cwnd: number;
  ssthresh: number;
  /** New data cumulatively acknowledged outside recovery (RFC 5681 §3.1: slow start / congestion avoidance; RFC 3465 ABC with L=2·SMSS in slow start, as Linux). */
  onAck(ackedBytes: number, inFlightBefore: number, rttUs: number, now: number): void;
  /** Loss detected by duplicate ACKs/SACK/RACK: RFC 5681 §3.2 / RFC 6675 §5 entry — ssthresh and cwnd set. */
  onEnterRecovery(inFlight: number, now: number): void;
  /** Partial and full ACK handling during recovery (RFC 6582 for NewReno; RFC 6937 PRR is optional — say if you implement it). */
  onRecoveryAck(ackedBytes: number, inFlight: number, now: number): void;
  onExitRecovery(now: number): void;
  /** Retransmission timeout (RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize/2, 2·SMSS); cwnd = 1 SMSS (Linux: loss window 1)). */
  onRto(inFlight: number, now: number): void;
  /**
   * The last recovery or timeout was spurious (RFC 3708 D-SACK, RFC 3522 Eifel): undo its
   * reduction (Linux tcp_undo_cwnd_reduction: cwnd = max(cwnd, prior_cwnd), ssthresh =
   * max(ssthresh, prior_ssthresh)) and leave recovery/loss; RFC 9438 §4.9 for CUBIC's state.
   */
  onUndo(priorCwnd: number, priorSsthresh: number, now: number): void;
  /** RFC 5681 §4.1 / RFC 7661-lite: restart after idle longer than the RTO (Linux tcp_slow_start_after_idle=1). */
  onIdle(idleUs: number, rtoUs: number): void;
  setMss(mss: number): void;
}

/** XLIO's CC_MOD_NONE: congestion control disabled, the window is never the limit. */
export class NoCongestionControl implements CongestionControl {
  readonly name = 'none' as const;
  cwnd = INFINITE_SSTHRESH;
  ssthresh = INFINITE_SSTHRESH;
  onAck(): void {}
  onEnterRecovery(): void {}
  onRecoveryAck(): void {}
  onExitRecovery(): void {}
  onRto(): void {}
  onUndo(): void {}
  onIdle(): void {}
  setMss(): void {}
}

export function createCongestionControl(
  name: CongestionAlgorithm,
  mss: number,
  initialWindowSegments = 10 /* RFC 6928, Linux */,
): CongestionControl {
  switch (name) {
    case 'cubic':
      return new Cubic(mss, initialWindowSegments);
    case 'reno':
      return new NewReno(mss, initialWindowSegments);
    case 'none':
      return new NoCongestionControl();
  }
}

/**
 * XLIO_TCP_CC_ALGO. XLIO takes a number, `enum cc_algo_mod { CC_MOD_LWIP, CC_MOD_CUBIC,
 * CC_MOD_NONE }` (default 0, lwIP's NewReno), and prints them as "lwip", "cubic",
 * "disable"; those names and ours ('reno', 'newreno', 'none') are accepted too.
 */
export function parseCongestionAlgorithm(text: string): CongestionAlgorithm | null {
  switch (text.trim().toLowerCase()) {
    case '0':
    case 'lwip':
    case 'reno':
    case 'newreno':
      return 'reno';
    case '1':
    case 'cubic':
      return 'cubic';
    case '2':
    case 'none':
    case 'disable':
      return 'none';
    default:
      return null;
  }
}

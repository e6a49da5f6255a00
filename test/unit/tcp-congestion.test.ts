import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  createCongestionControl,
  INFINITE_SSTHRESH,
  parseCongestionAlgorithm,
  type CongestionControl,
} from '../../src/stack/tcp/congestion.js';
import { NewReno } from '../../src/stack/tcp/newreno.js';
import { Cubic, CUBIC_ALPHA, CUBIC_BETA, CUBIC_C, cubicK, cubicWindow } from '../../src/stack/tcp/cubic.js';
import { fuzzRuns } from '../support/fuzz.js';

const MSS = 1000;

/**
 * One round trip of ACK clocking: the sender keeps the window full, and the window's worth
 * of segments sent at the round's start is ACKed one segment per ACK, spread over the RTT.
 * Returns the time at the end of the round.
 */
function ackRound(cc: CongestionControl, now: number, rttUs: number): number {
  const segments = Math.max(1, Math.floor(cc.cwnd / MSS));
  const step = rttUs / segments;
  for (let i = 0; i < segments; i++) {
    now += step;
    cc.onAck(MSS, cc.cwnd, rttUs, now);
  }
  return now;
}

/** A CUBIC flow in congestion avoidance just after a loss at W_max segments. */
function cubicAfterLossAt(wMaxSegments: number): Cubic {
  const cc = new Cubic(MSS);
  cc.cwnd = wMaxSegments * MSS;
  cc.ssthresh = wMaxSegments * MSS;
  cc.onEnterRecovery(wMaxSegments * MSS, 0);
  cc.onExitRecovery(0);
  return cc;
}

test('slow start: the window doubles every round trip from IW = 10 segments (RFC 5681 §3.1, RFC 6928)', () => {
  const cc = createCongestionControl('reno', MSS);
  assert.equal(cc.cwnd, 10 * MSS);
  assert.equal(cc.ssthresh, INFINITE_SSTHRESH);
  let now = 0;
  for (const expected of [20, 40, 80, 160]) {
    now = ackRound(cc, now, 10_000);
    assert.equal(cc.cwnd, expected * MSS);
  }
  const cubic = createCongestionControl('cubic', MSS);
  now = 0;
  for (const expected of [20, 40, 80]) {
    now = ackRound(cubic, now, 10_000);
    assert.equal(cubic.cwnd, expected * MSS);
  }
});

test('slow start: a stretch ACK grows cwnd by at most L = 2·SMSS (RFC 3465 §2.2)', () => {
  const cc = createCongestionControl('reno', MSS);
  cc.onAck(8 * MSS, 10 * MSS, 10_000, 1);
  assert.equal(cc.cwnd, 12 * MSS);
  cc.onAck(MSS / 2, 12 * MSS, 10_000, 2);
  assert.equal(cc.cwnd, 12 * MSS + MSS / 2);
});

test('slow start stops at ssthresh and hands the rest of the ACK to congestion avoidance (Linux tcp_slow_start)', () => {
  const cc = new NewReno(MSS);
  cc.ssthresh = 11 * MSS;
  cc.onAck(2 * MSS, 10 * MSS, 10_000, 1);
  assert.equal(cc.cwnd, 11 * MSS);
});

test('no growth while the application, not the window, limits the sender (RFC 7661, Linux tcp_is_cwnd_limited)', () => {
  const cc = createCongestionControl('reno', MSS);
  cc.onAck(MSS, 2 * MSS, 10_000, 1); // 2 segments in flight of a 10-segment window
  assert.equal(cc.cwnd, 10 * MSS);
  cc.onAck(MSS, 6 * MSS, 10_000, 2); // more than half the window in flight: slow start grows
  assert.equal(cc.cwnd, 11 * MSS);
});

test('Reno congestion avoidance: +1 SMSS per round trip (RFC 5681 §3.1)', () => {
  const cc = createCongestionControl('reno', MSS);
  cc.cwnd = 40 * MSS;
  cc.onEnterRecovery(40 * MSS, 0);
  cc.onExitRecovery(0);
  assert.equal(cc.cwnd, 20 * MSS);
  let now = 0;
  for (let round = 1; round <= 10; round++) {
    now = ackRound(cc, now, 50_000);
    assert.equal(cc.cwnd, (20 + round) * MSS);
  }
});

test('Reno recovery: ssthresh = max(FlightSize/2, 2·SMSS), cwnd = ssthresh; the full ACK leaves cwnd = ssthresh', () => {
  const cc = createCongestionControl('reno', MSS);
  cc.cwnd = 30 * MSS;
  cc.onEnterRecovery(24 * MSS, 0);
  assert.equal(cc.ssthresh, 12 * MSS);
  assert.equal(cc.cwnd, 12 * MSS);
  cc.onRecoveryAck(3 * MSS, 20 * MSS, 1);
  cc.onExitRecovery(2);
  assert.equal(cc.cwnd, 12 * MSS);
  assert.equal(cc.ssthresh, 12 * MSS);

  const small = createCongestionControl('reno', MSS);
  small.onEnterRecovery(3 * MSS, 0);
  assert.equal(small.ssthresh, 2 * MSS, 'never below 2·SMSS');
  assert.equal(small.cwnd, 2 * MSS);
});

test('PRR during recovery: sends ssthresh/RecoverFS of what is delivered, then at most delivered + 1 SMSS (RFC 6937)', () => {
  const cc = createCongestionControl('reno', MSS);
  cc.cwnd = 20 * MSS;
  cc.onEnterRecovery(20 * MSS, 0); // RecoverFS = 20, ssthresh = 10
  let pipe = 20 * MSS - MSS; // one segment lost
  let sent = 0;
  // Proportional part: each delivered segment allows half a segment to be sent.
  for (let i = 0; i < 10; i++) {
    pipe -= MSS;
    cc.onRecoveryAck(MSS, pipe, i);
    const sndcnt = cc.cwnd - pipe;
    assert.ok(sndcnt >= 0 && sndcnt <= MSS);
    sent += sndcnt;
    pipe += sndcnt;
  }
  assert.equal(sent, 5 * MSS);
  // Below ssthresh, PRR-SSRB: sndcnt = min(ssthresh − pipe, max(prr_delivered − prr_out, delivered) + SMSS).
  // The 5 segments of unused credit (10 delivered, 5 sent) are spent first: min(6, 6 + 1) = 6.
  pipe = 4 * MSS;
  cc.onRecoveryAck(MSS, pipe, 20);
  assert.equal(cc.cwnd - pipe, 6 * MSS);
  assert.equal(cc.cwnd, cc.ssthresh);
  // With the credit spent, a delivery allows at most delivered + 1 SMSS.
  pipe = 2 * MSS;
  cc.onRecoveryAck(MSS, pipe, 21);
  assert.equal(cc.cwnd - pipe, 2 * MSS);
  cc.onExitRecovery(22);
  assert.equal(cc.cwnd, 10 * MSS);
});

test('RTO: loss window 1 SMSS, ssthresh from FlightSize held across backoffs, then slow start back (RFC 5681 §3.1)', () => {
  const cc = createCongestionControl('reno', MSS);
  cc.cwnd = 40 * MSS;
  cc.onRto(30 * MSS, 0);
  assert.equal(cc.cwnd, MSS);
  assert.equal(cc.ssthresh, 15 * MSS);
  cc.onRto(MSS, 1); // the same segment times out again
  assert.equal(cc.ssthresh, 15 * MSS);
  assert.equal(cc.cwnd, MSS);
  let now = 2;
  for (let i = 0; i < 4; i++) now = ackRound(cc, now, 10_000);
  assert.equal(cc.cwnd, 15 * MSS, 'slow start stops at ssthresh');
  now = ackRound(cc, now, 10_000);
  assert.equal(cc.cwnd, 16 * MSS, 'then congestion avoidance');
  // A later, separate timeout recomputes ssthresh.
  cc.onRto(2 * MSS, now);
  assert.equal(cc.ssthresh, 2 * MSS);
});

test('RTO during recovery keeps the ssthresh chosen at recovery entry (Linux tcp_enter_loss)', () => {
  const cc = createCongestionControl('reno', MSS);
  cc.onEnterRecovery(20 * MSS, 0);
  cc.onRto(6 * MSS, 1);
  assert.equal(cc.ssthresh, 10 * MSS);
  assert.equal(cc.cwnd, MSS);
});

test('idle restart: nothing below one RTO; otherwise cwnd halves per idle RTO down to min(IW, cwnd) (Linux tcp_cwnd_restart)', () => {
  const cc = createCongestionControl('reno', MSS);
  cc.cwnd = 80 * MSS;
  cc.ssthresh = 40 * MSS;
  cc.onIdle(200_000, 200_000);
  assert.equal(cc.cwnd, 80 * MSS);
  cc.onIdle(600_000, 200_000);
  assert.equal(cc.cwnd, 20 * MSS);
  assert.equal(cc.ssthresh, 60 * MSS, 'ssthresh remembers 3/4 of the window');
  cc.onIdle(100_000_000, 200_000);
  assert.equal(cc.cwnd, 10 * MSS, 'never below the restart window');
});

test('setMss keeps the windows in segments (Linux counts snd_cwnd in packets)', () => {
  const cc = createCongestionControl('reno', 1460);
  cc.onEnterRecovery(40 * 1460, 0);
  cc.setMss(1000);
  assert.equal(cc.cwnd, 20_000);
  assert.equal(cc.ssthresh, 20_000);
});

test('CUBIC: K = ∛(W_max(1−β)/C) and the loss leaves cwnd = β·W_max (RFC 9438 §4.2, §4.6)', () => {
  assert.equal(CUBIC_C, 0.4);
  assert.equal(CUBIC_BETA, 0.7);
  assert.ok(Math.abs(CUBIC_ALPHA - 0.9 / 1.7) < 1e-12);
  assert.ok(Math.abs(cubicK(100) - Math.cbrt(75)) < 1e-12);
  const cc = cubicAfterLossAt(100);
  assert.equal(cc.wMax, 100);
  assert.equal(cc.cwnd, 70 * MSS);
  assert.equal(cc.ssthresh, 70 * MSS);
  cc.onAck(MSS, cc.cwnd, 100_000, 1_000);
  assert.ok(Math.abs(cc.k - Math.cbrt(75)) < 1e-9, `K = ${cc.k}`);
  assert.equal(cc.origin, 100);
});

test('CUBIC: after a loss at W_max the window follows W(t) = C(t−K)³ + W_max within 1 MSS (RFC 9438 §4.4, §4.5)', () => {
  // Large enough W_max·RTT that the cubic curve stays above the Reno estimate throughout.
  const rtt = 100_000;
  const wMax = 1000;
  const cc = cubicAfterLossAt(wMax);
  const k = cubicK(wMax); // ≈ 9.09 s
  let now = 0;
  const checkAt = [1, 2, 4, 6, 8, k, 10.5, 12];
  const seen = new Set<string>();
  while (checkAt.length > 0) {
    now = ackRound(cc, now, rtt);
    const t = (now - cc.epochStart) / 1e6;
    seen.add(cc.region);
    if (t >= checkAt[0]!) {
      checkAt.shift();
      const w = cubicWindow(t, k, wMax);
      const cwnd = cc.cwnd / MSS;
      assert.ok(Math.abs(cwnd - w) <= 1, `t=${t.toFixed(2)}s cwnd=${cwnd} W(t)=${w.toFixed(2)}`);
      assert.ok(cc.wEst < w, 'the cubic curve is above the Reno estimate at this RTT');
    }
  }
  assert.deepEqual([...seen].sort(), ['concave', 'convex']);
});

test('CUBIC: once W_est passes cwnd_prior (α = 1) the Reno-friendly region takes over past the plateau', () => {
  const rtt = 100_000;
  const cc = cubicAfterLossAt(100); // K ≈ 4.2 s; W_est reaches 100 segments near t = 5.6 s
  let now = 0;
  while ((now - Math.max(0, cc.epochStart)) / 1e6 < 7) now = ackRound(cc, now, rtt);
  assert.equal(cc.region, 'reno-friendly');
  const t = (now - cc.epochStart) / 1e6;
  assert.ok(cc.wEst > cubicWindow(t, cc.k, cc.origin));
  assert.equal(cc.cwnd, Math.floor(cc.wEst) * MSS);
});

test('CUBIC: at small RTT·W the Reno-friendly region dominates and cwnd follows W_est (RFC 9438 §4.3)', () => {
  const rtt = 1_000;
  const cc = cubicAfterLossAt(10); // cwnd 7, W_max 10, K ≈ 1.96 s
  let now = 0;
  for (let round = 1; round <= 5; round++) {
    now = ackRound(cc, now, rtt);
    // W_est grows α_cubic segments per round trip while below cwnd_prior.
    assert.ok(Math.abs(cc.wEst - (7 + CUBIC_ALPHA * round)) < 0.1, `round ${round}: W_est = ${cc.wEst}`);
    assert.equal(cc.region, 'reno-friendly');
    assert.equal(cc.cwnd, Math.floor(cc.wEst) * MSS);
  }
  // Past cwnd_prior, α = 1: Reno's +1 segment per round trip.
  for (let round = 0; round < 20; round++) now = ackRound(cc, now, rtt);
  const before = cc.wEst;
  now = ackRound(cc, now, rtt);
  assert.ok(Math.abs(cc.wEst - before - 1) < 0.1);
  const t = (now - cc.epochStart) / 1e6;
  assert.ok(cc.cwnd / MSS > cubicWindow(t, cc.k, cc.origin) + 1);
});

test('CUBIC fast convergence: a loss below the previous W_max lowers W_max to cwnd·(1+β)/2 (RFC 9438 §4.7)', () => {
  const cc = cubicAfterLossAt(100);
  cc.cwnd = 80 * MSS;
  cc.onEnterRecovery(80 * MSS, 0);
  assert.ok(Math.abs(cc.wMax - 68) < 1e-9);
  assert.equal(cc.cwndPrior, 80);
  assert.equal(cc.ssthresh, 56 * MSS);
  cc.onExitRecovery(1);
  cc.cwnd = 90 * MSS; // above the lowered W_max: W_max = cwnd
  cc.onEnterRecovery(90 * MSS, 2);
  assert.equal(cc.wMax, 90);
  assert.equal(cc.ssthresh, 63 * MSS);
});

test('CUBIC timeout: ssthresh = β·cwnd, loss window 1, next curve starts with K = 0 (RFC 9438 §4.8)', () => {
  const cc = createCongestionControl('cubic', MSS) as Cubic;
  cc.cwnd = 50 * MSS;
  cc.onRto(50 * MSS, 0);
  assert.equal(cc.ssthresh, 35 * MSS);
  assert.equal(cc.cwnd, MSS);
  assert.equal(cc.wMax, 0);
  let now = 0;
  while (cc.cwnd < cc.ssthresh) now = ackRound(cc, now, 10_000);
  now = ackRound(cc, now, 10_000);
  assert.equal(cc.k, 0);
});

test('parseCongestionAlgorithm: XLIO_TCP_CC_ALGO names and numbers (0=lwip, 1=cubic, 2=none)', () => {
  assert.equal(parseCongestionAlgorithm('cubic'), 'cubic');
  assert.equal(parseCongestionAlgorithm(' CUBIC '), 'cubic');
  assert.equal(parseCongestionAlgorithm('reno'), 'reno');
  assert.equal(parseCongestionAlgorithm('newreno'), 'reno');
  assert.equal(parseCongestionAlgorithm('lwip'), 'reno');
  assert.equal(parseCongestionAlgorithm('none'), 'none');
  assert.equal(parseCongestionAlgorithm('0'), 'reno');
  assert.equal(parseCongestionAlgorithm('1'), 'cubic');
  assert.equal(parseCongestionAlgorithm('2'), 'none');
  assert.equal(parseCongestionAlgorithm('3'), null);
  assert.equal(parseCongestionAlgorithm('bbr'), null);
});

test("'none' never limits the sender", () => {
  const cc = createCongestionControl('none', MSS);
  assert.equal(cc.name, 'none');
  cc.onRto(100 * MSS, 0);
  cc.onEnterRecovery(100 * MSS, 0);
  assert.equal(cc.cwnd, INFINITE_SSTHRESH);
  assert.equal(createCongestionControl('cubic', MSS).name, 'cubic');
  assert.equal(createCongestionControl('reno', MSS).name, 'reno');
});

type Event =
  | { kind: 'ack'; segs: number; inFlight: number; rtt: number; dt: number }
  | { kind: 'enter'; inFlight: number }
  | { kind: 'recoveryAck'; segs: number; inFlight: number }
  | { kind: 'exit' }
  | { kind: 'rto'; inFlight: number }
  | { kind: 'idle'; idle: number; rto: number }
  | { kind: 'mss'; mss: number };

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('ack' as const), segs: fc.integer({ min: 0, max: 64 }), inFlight: fc.integer({ min: 0, max: 400 }), rtt: fc.integer({ min: 0, max: 2_000_000 }), dt: fc.integer({ min: 0, max: 1_000_000 }) }) },
  fc.record({ kind: fc.constant('enter' as const), inFlight: fc.integer({ min: 0, max: 400 }) }),
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('recoveryAck' as const), segs: fc.integer({ min: 0, max: 20 }), inFlight: fc.integer({ min: 0, max: 400 }) }) },
  fc.record({ kind: fc.constant('exit' as const) }),
  fc.record({ kind: fc.constant('rto' as const), inFlight: fc.integer({ min: 0, max: 400 }) }),
  fc.record({ kind: fc.constant('idle' as const), idle: fc.integer({ min: 0, max: 10_000_000 }), rto: fc.integer({ min: 0, max: 3_000_000 }) }),
  fc.record({ kind: fc.constant('mss' as const), mss: fc.integer({ min: 500, max: 9000 }) }),
);

test('invariants: cwnd >= 1 SMSS always, ssthresh >= 2 SMSS after any loss, windows stay integral', () => {
  fc.assert(
    fc.property(fc.constantFrom('reno' as const, 'cubic' as const), fc.array(eventArb, { maxLength: 200 }), (algo, events) => {
      let mss = 1460;
      const cc = createCongestionControl(algo, mss);
      let now = 0;
      let lost = false;
      for (const e of events) {
        switch (e.kind) {
          case 'ack':
            now += e.dt;
            cc.onAck(e.segs * mss, e.inFlight * mss, e.rtt, now);
            break;
          case 'enter':
            cc.onEnterRecovery(e.inFlight * mss, now);
            lost = true;
            break;
          case 'recoveryAck':
            cc.onRecoveryAck(e.segs * mss, e.inFlight * mss, now);
            break;
          case 'exit':
            cc.onExitRecovery(now);
            break;
          case 'rto':
            cc.onRto(e.inFlight * mss, now);
            lost = true;
            break;
          case 'idle':
            now += e.idle;
            cc.onIdle(e.idle, e.rto);
            break;
          case 'mss':
            mss = e.mss;
            cc.setMss(mss);
            break;
        }
        assert.ok(cc.cwnd >= mss, `cwnd ${cc.cwnd} < mss ${mss} after ${e.kind}`);
        assert.ok(Number.isInteger(cc.cwnd) && Number.isInteger(cc.ssthresh));
        if (lost) assert.ok(cc.ssthresh >= 2 * mss, `ssthresh ${cc.ssthresh} < 2·mss after ${e.kind}`);
      }
    }),
    { numRuns: fuzzRuns(1000) },
  );
});

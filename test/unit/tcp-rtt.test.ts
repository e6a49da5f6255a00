import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RttEstimator } from '../../src/stack/tcp/rtt.js';
import { fuzzRuns } from '../support/fuzz.js';

test('before any sample the RTO is the initial 1 s (RFC 6298 §2.1, Linux TCP_TIMEOUT_INIT)', () => {
  const rtt = new RttEstimator();
  assert.equal(rtt.rto, 1_000_000);
  assert.equal(rtt.hasSample, false);
  assert.equal(rtt.srtt, 0);
  rtt.backoff();
  assert.equal(rtt.rto, 2_000_000);
  assert.equal(rtt.backoffCount, 1);
});

test('plain RFC 6298 (no RTTVAR floor): hand-computed SRTT, RTTVAR and RTO', () => {
  const rtt = new RttEstimator(200_000, 120_000_000, 1_000_000, 0);
  // §2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4·RTTVAR.
  rtt.sample(100_000);
  assert.equal(rtt.srtt, 100_000);
  assert.equal(rtt.rttvar, 50_000);
  assert.equal(rtt.rto, 300_000);
  // §2.3: RTTVAR = 3/4·50000 + 1/4·|100000 − 200000| = 62500; SRTT = 7/8·100000 + 1/8·200000.
  rtt.sample(200_000);
  assert.equal(rtt.rttvar, 62_500);
  assert.equal(rtt.srtt, 112_500);
  assert.equal(rtt.rto, 362_500);
  rtt.sample(100_000);
  assert.equal(rtt.rttvar, 50_000);
  assert.equal(rtt.srtt, 110_937.5);
  assert.equal(rtt.rto, 310_937.5);
  // §2.4: a small RTO is raised to the minimum.
  for (let i = 0; i < 100; i++) rtt.sample(1_000);
  assert.equal(rtt.rto, 200_000);
});

test('Linux bound: RTTVAR floored at rto_min/4, so RTO = SRTT + max(4·RTTVAR, rto_min)', () => {
  const rtt = new RttEstimator();
  rtt.sample(10_000);
  assert.equal(rtt.rttvar, 5_000, 'the reported RTTVAR is the RFC value');
  assert.equal(rtt.rto, 210_000);
  rtt.sample(100_000); // RTTVAR = 3750 + 22500 = 26250: 4·RTTVAR = 105000 < 200000
  assert.equal(rtt.srtt, 21_250);
  assert.equal(rtt.rto, 221_250);
  const wide = new RttEstimator();
  wide.sample(400_000); // 4·RTTVAR = 800000 above the floor
  assert.equal(wide.rto, 1_200_000);
});

test('RTO is clamped to the maximum; backoff doubles up to it; a new sample ends the backoff (RFC 6298 §2.5, §5.5)', () => {
  const rtt = new RttEstimator();
  rtt.sample(100_000_000);
  assert.equal(rtt.rto, 120_000_000);
  const r = new RttEstimator();
  r.sample(100_000);
  assert.equal(r.rto, 300_000);
  const expected = [600_000, 1_200_000, 2_400_000, 4_800_000, 9_600_000, 19_200_000, 38_400_000, 76_800_000, 120_000_000, 120_000_000];
  for (const e of expected) {
    r.backoff();
    assert.equal(r.rto, e);
  }
  assert.equal(r.backoffCount, expected.length);
  r.resetBackoff();
  assert.equal(r.rto, 300_000);
  assert.equal(r.backoffCount, 0);
  r.backoff();
  r.sample(100_000);
  assert.equal(r.backoffCount, 0);
  assert.ok(r.rto < 600_000);
});

test('bad samples are ignored; a zero sample counts as 1 µs', () => {
  const rtt = new RttEstimator();
  rtt.sample(-5);
  rtt.sample(Number.NaN);
  rtt.sample(Number.POSITIVE_INFINITY);
  assert.equal(rtt.hasSample, false);
  rtt.sample(0);
  assert.equal(rtt.srtt, 1);
});

test('invariants: RTO within [min, max]; SRTT within the range of the samples', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: 1, max: 300_000_000 }), fc.constant(-1)), { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 12 }), (samples, backoffs) => {
      const rtt = new RttEstimator();
      let lo = Infinity;
      let hi = -Infinity;
      for (const s of samples) {
        rtt.sample(s);
        if (s >= 0) {
          lo = Math.min(lo, s);
          hi = Math.max(hi, s);
        }
        assert.ok(rtt.rto >= 200_000 && rtt.rto <= 120_000_000);
        if (rtt.hasSample) assert.ok(rtt.srtt >= lo - 1e-6 && rtt.srtt <= hi + 1e-6);
      }
      for (let i = 0; i < backoffs; i++) rtt.backoff();
      assert.ok(rtt.rto >= 200_000 && rtt.rto <= 120_000_000);
    }),
    { numRuns: fuzzRuns(500) },
  );
});

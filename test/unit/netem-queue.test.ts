// The netem relay's scheduling (src/cli/netem-queue.ts) without a network: each test feeds
// numbered frames at known times through a seeded queue and checks what comes out and when.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NO_IMPAIRMENT, NetemQueue, netemArgsToParams, type NetemParams } from '../../src/cli/netem-queue.js';
import { SeededRng } from '../../src/rng.js';
import { fuzzRuns } from '../support/fuzz.js';

const SLOT = 64;

interface Out {
  id: number;
  at: number;
  len: number;
}

/**
 * Offers `n` frames, one every `gapUs` from t=0, each carrying its number in its first 4
 * bytes, draining every `stepUs`; then drains to the end. Returns departures in order.
 */
function run(params: Partial<NetemParams>, n: number, opts: { gapUs?: number; stepUs?: number; seed?: number; len?: (i: number) => number } = {}): { out: Out[]; q: NetemQueue } {
  const q = new NetemQueue({ ...NO_IMPAIRMENT, ...params }, new SeededRng(opts.seed ?? 42), SLOT);
  const gap = opts.gapUs ?? 10;
  const step = opts.stepUs ?? 1;
  const frame = new Uint8Array(SLOT * 2);
  const outBuf = new Uint8Array(SLOT * 16);
  const outLens = new Uint32Array(16);
  const view = new DataView(frame.buffer);
  const outView = new DataView(outBuf.buffer);
  const out: Out[] = [];
  const drain = (now: number): void => {
    for (let guard = 0; guard < 1_000_000; guard++) {
      const k = q.drain(now, outBuf, SLOT, outLens, 16);
      for (let i = 0; i < k; i++) out.push({ id: outView.getUint32(i * SLOT), at: now, len: outLens[i]! });
      if (k < 16) return;
    }
  };
  let now = 0;
  for (let i = 0; i < n; i++) {
    const t = i * gap;
    for (; now < t; now += step) drain(now);
    // at an offset, to check offer() copies the right bytes
    view.setUint32(7, i);
    q.offer(frame, 7, opts.len?.(i) ?? 60, t);
  }
  for (let guard = 0; q.held > 0 && guard < 100_000_000; guard++, now += step) drain(now);
  return { out, q };
}

test('no impairment: every frame, in order, at once', () => {
  const { out, q } = run({}, 1000);
  assert.equal(out.length, 1000);
  out.forEach((o, i) => {
    assert.equal(o.id, i);
    assert.equal(o.at, i * 10);
    assert.equal(o.len, 60);
  });
  assert.equal(q.counters.forwarded, 1000);
  assert.equal(q.counters.delayed, 0);
});

for (const loss of [1, 5, 25]) {
  test(`loss ${loss}%: the lost fraction over 100k frames is within 4 standard deviations of ${loss}%`, () => {
    const n = 100_000;
    const { out, q } = run({ lossPct: loss, limit: 10 }, n, { gapUs: 1 });
    const p = loss / 100;
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(q.counters.lost - n * p) < 4 * sd, `lost ${q.counters.lost} of ${n}`);
    assert.equal(out.length + q.counters.lost, n);
    // survivors keep their order
    for (let i = 1; i < out.length; i++) assert.ok(out[i]!.id > out[i - 1]!.id);
  });
}

test('the same seed gives the same losses; another seed, different ones', () => {
  const ids = (seed: number) => run({ lossPct: 5 }, 5000, { seed }).out.map((o) => o.id);
  assert.deepEqual(ids(7), ids(7));
  assert.notDeepEqual(ids(7), ids(8));
});

test('delay 10 ms: every frame leaves exactly 10 ms after it came, in order', () => {
  const { out, q } = run({ delayUs: 10_000, limit: 4000 }, 5000, { gapUs: 3 });
  assert.equal(out.length, 5000);
  out.forEach((o, i) => {
    assert.equal(o.id, i);
    assert.equal(o.at - i * 3, 10_000);
  });
  assert.equal(q.counters.delayed, 5000);
});

test('delay 10 ms ± 2 ms: every delay within bounds, spread over them, and jitter reorders', () => {
  const { out } = run({ delayUs: 10_000, jitterUs: 2_000, limit: 5000 }, 5000, { gapUs: 20 });
  assert.equal(out.length, 5000);
  let min = Infinity;
  let max = -Infinity;
  let inversions = 0;
  out.forEach((o, i) => {
    const d = o.at - o.id * 20;
    assert.ok(d >= 8_000 && d <= 12_001, `frame ${o.id} delayed ${d} µs`);
    min = Math.min(min, d);
    max = Math.max(max, d);
    if (i > 0 && o.id < out[i - 1]!.id) inversions++;
  });
  assert.ok(min < 8_200 && max > 11_800, `delays ${min}..${max}`);
  assert.ok(inversions > 100, `${inversions} inversions`);
});

test('reorder 25% with delay 10 ms: about a quarter go at once and overtake the delayed ones', () => {
  const n = 20_000;
  const { out, q } = run({ delayUs: 10_000, reorderPct: 25, limit: 10_000 }, n, { gapUs: 50 });
  assert.equal(out.length, n);
  const p = 0.25;
  assert.ok(Math.abs(q.counters.reordered - n * p) < 4 * Math.sqrt(n * p * (1 - p)), `reordered ${q.counters.reordered}`);
  let immediate = 0;
  let inversions = 0;
  for (let i = 0; i < out.length; i++) {
    const o = out[i]!;
    const d = o.at - o.id * 50;
    assert.ok(d === 0 || d === 10_000, `frame ${o.id} delayed ${d}`);
    if (d === 0) immediate++;
    if (i > 0 && o.id < out[i - 1]!.id) inversions++;
  }
  assert.equal(immediate, q.counters.reordered);
  assert.ok(inversions > n * 0.2, `${inversions} out-of-order departures`);
});

test('reorder without a delay changes nothing (netem needs a delay to reorder)', () => {
  const { out, q } = run({ reorderPct: 50 }, 1000);
  assert.deepEqual(
    out.map((o) => o.id),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.equal(q.counters.reordered, 0);
});

test('duplicate 10%: about a tenth of the frames come out twice, copies together', () => {
  const n = 20_000;
  const { out, q } = run({ duplicatePct: 10 }, n);
  assert.equal(out.length, n + q.counters.duplicated);
  assert.ok(Math.abs(q.counters.duplicated - n * 0.1) < 4 * Math.sqrt(n * 0.1 * 0.9));
  for (let i = 1; i < out.length; i++) assert.ok(out[i]!.id >= out[i - 1]!.id);
});

test('limit: a full queue drops and counts, and memory stays bounded', () => {
  // 1000 frames in 1 ms, each held 10 ms: only `limit` fit.
  const { out, q } = run({ delayUs: 10_000, limit: 100 }, 1000, { gapUs: 1 });
  assert.equal(out.length, 100);
  assert.equal(q.counters.droppedFull, 900);
  assert.deepEqual(
    out.map((o) => o.id),
    Array.from({ length: 100 }, (_, i) => i),
  );
});

test('rate 8 Mbit/s: 1000-byte frames leave 1 ms apart, in order', () => {
  const { out } = run({ rateBps: 8e6, limit: 200 }, 100, { gapUs: 1, len: () => 1000 });
  // 1000 B frames do not fit 64-byte slots: oversize. Use 50-byte frames instead.
  assert.equal(out.length, 0);
  const r = run({ rateBps: 8e6, limit: 200 }, 100, { gapUs: 1, len: () => 50 });
  assert.equal(r.out.length, 100);
  r.out.forEach((o, i) => {
    assert.equal(o.id, i);
    assert.ok(Math.abs(o.at - (i + 1) * 50) <= 1, `frame ${i} at ${o.at}`);
  });
  assert.equal(r.q.counters.oversize, 0);
});

test('property: conservation and bounds for any parameters', () => {
  fc.assert(
    fc.property(
      fc.record({
        lossPct: fc.integer({ min: 0, max: 50 }),
        delayUs: fc.integer({ min: 0, max: 5000 }),
        jitterUs: fc.integer({ min: 0, max: 2000 }),
        reorderPct: fc.integer({ min: 0, max: 100 }),
        duplicatePct: fc.integer({ min: 0, max: 50 }),
        limit: fc.integer({ min: 1, max: 300 }),
      }),
      fc.integer(),
      (p, seed) => {
        const { out, q } = run({ ...p, rateBps: 0 }, 500, { gapUs: 7, stepUs: 13, seed });
        const c = q.counters;
        assert.equal(c.received, 500);
        assert.equal(c.forwarded, out.length);
        assert.equal(out.length + c.lost + c.droppedFull, 500 + c.duplicated);
        assert.equal(q.held, 0);
        for (const o of out) {
          const d = o.at - o.id * 7;
          assert.ok(d >= 0 && d <= p.delayUs + p.jitterUs + 13, `delay ${d}`);
        }
      },
    ),
    { numRuns: fuzzRuns(100) },
  );
});

test('tc-netem arguments translate, and what is not modelled is refused', () => {
  assert.deepEqual(netemArgsToParams(['delay', '10ms', '2ms', 'loss', '1%', 'reorder', '25%', 'limit', '5000']), {
    ...NO_IMPAIRMENT,
    delayUs: 10_000,
    jitterUs: 2_000,
    lossPct: 1,
    reorderPct: 25,
    limit: 5000,
  });
  assert.equal(netemArgsToParams(['rate', '100mbit']).rateBps, 100e6);
  assert.equal(netemArgsToParams(['delay', '500us']).delayUs, 500);
  assert.throws(() => netemArgsToParams(['corrupt', '1%']), /not modelled/);
  assert.throws(() => netemArgsToParams(['loss', '1%', '25%']), /correlation/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Timer, TimerWheel } from '../../src/stack/tcp/timer-wheel.js';
import { fuzzRuns } from '../support/fuzz.js';

function collect(w: TimerWheel, now: number): number[] {
  const fired: number[] = [];
  w.advance(now, (t) => {
    assert.equal(t.armed, false);
    fired.push(t.kind);
  });
  return fired;
}

test('timer wheel: fires in deadline order, ties in arm order, only when due', () => {
  const w = new TimerWheel(1000);
  const t = [0, 1, 2, 3, 4].map((k) => new Timer(null, k));
  w.arm(t[0]!, 5_500);
  w.arm(t[1]!, 2_100);
  w.arm(t[2]!, 5_500);
  w.arm(t[3]!, 2_050);
  w.arm(t[4]!, 9_000);
  assert.equal(w.size, 5);
  assert.equal(w.next(), 2_050);
  assert.deepEqual(collect(w, 2_000), []);
  assert.deepEqual(collect(w, 2_099), [3]); // within a tick, by the exact deadline
  assert.equal(w.next(), 2_100);
  assert.deepEqual(collect(w, 6_000), [1, 0, 2]);
  assert.equal(w.next(), 9_000);
  assert.equal(w.size, 1);
  assert.equal(t[0]!.armed, false);
  assert.equal(t[0]!.at, Infinity);
});

test('timer wheel: re-arming moves a timer; disarm removes it; late arms fire on the next advance', () => {
  const w = new TimerWheel(1000);
  const a = new Timer('conn', 7);
  w.arm(a, 10_000);
  w.arm(a, 3_000);
  assert.equal(w.size, 1);
  assert.equal(w.next(), 3_000);
  w.arm(a, 50_000);
  assert.deepEqual(collect(w, 40_000), []);
  w.disarm(a);
  assert.equal(w.size, 0);
  assert.equal(w.next(), Infinity);
  assert.deepEqual(collect(w, 100_000), []);
  w.arm(a, 1); // already in the past
  assert.equal(w.next(), 1);
  assert.deepEqual(collect(w, 100_000), [7]);
  assert.equal(a.owner, 'conn');
});

test('timer wheel: a callback may re-arm, and a re-arm still due fires in the same advance', () => {
  const w = new TimerWheel(1000);
  const rto = new Timer(null, 1);
  let fires = 0;
  const seen: number[] = [];
  w.arm(rto, 1_000);
  w.advance(10_000, (t) => {
    fires++;
    seen.push(fires);
    if (fires < 3) w.arm(t, 1_000 * (fires + 1) * 2); // 4000, 6000: both <= 10000
    else w.arm(t, 20_000);
  });
  assert.equal(fires, 3);
  assert.equal(w.next(), 20_000);
  assert.equal(rto.armed, true);
});

test('timer wheel: timers from 1 ms to 2^32 µs ahead (and beyond, with 1 µs ticks) fire exactly on time', () => {
  for (const tickUs of [1000, 1]) {
    const w = new TimerWheel(tickUs);
    const start = 1_700_000_000_000_000; // a wall-clock-like µs origin
    w.advance(start, () => assert.fail('nothing armed'));
    const deltas = [1000, 255_000, 256_000, 65_536_000, 2 ** 32, 2 ** 32 + 1, 16_777_216_000, 2 ** 36 + 12345];
    const timers = deltas.map((d, i) => {
      const t = new Timer(null, i);
      w.arm(t, start + d);
      return t;
    });
    for (let i = 0; i < deltas.length; i++) {
      assert.equal(w.next(), start + deltas[i]!);
      assert.deepEqual(collect(w, start + deltas[i]! - 1), [], `tick ${tickUs}: ${deltas[i]} early`);
      assert.deepEqual(collect(w, start + deltas[i]!), [i], `tick ${tickUs}: ${deltas[i]} on time`);
    }
    assert.equal(w.size, 0);
    assert.ok(timers.every((t) => !t.armed));
  }
});

test('timer wheel: many idle far timers do not slow a busy near one', () => {
  const w = new TimerWheel(1000);
  const far: Timer[] = [];
  for (let i = 0; i < 20_000; i++) {
    const t = new Timer(null, i);
    w.arm(t, 7_200_000_000 + i); // keepalive-like: two hours out
    far.push(t);
  }
  const near = new Timer(null, -1);
  let now = 0;
  let fired = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 20_000; i++) {
    w.arm(near, now + 200);
    now += 1000;
    w.advance(now, () => fired++);
    assert.ok(w.next() <= 7_200_000_000);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(fired, 20_000);
  assert.equal(w.size, 20_000);
  assert.ok(ms < 1000, `20k polls took ${ms} ms`);
});

type Op =
  | { k: 'arm'; id: number; d: number }
  | { k: 'disarm'; id: number }
  | { k: 'adv'; d: number };

test('timer wheel: random arm/disarm/advance sequences fire like a sorted-array model', () => {
  const delta = fc.oneof(
    fc.integer({ min: -5_000, max: 0 }),
    fc.integer({ min: 0, max: 5_000 }),
    fc.integer({ min: 0, max: 2 ** 20 }),
    fc.integer({ min: 0, max: 2 ** 26 }),
    fc.integer({ min: 2 ** 31, max: 2 ** 34 }),
  );
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('arm' as const), id: fc.integer({ min: 0, max: 7 }), d: delta }),
    fc.record({ k: fc.constant('disarm' as const), id: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ k: fc.constant('adv' as const), d: fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 0, max: 2 ** 22 }), fc.integer({ min: 0, max: 2 ** 34 })) }),
  );
  fc.assert(
    fc.property(
      fc.constantFrom(1, 7, 1000),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.array(fc.option(fc.integer({ min: 1, max: 5_000 }), { nil: null }), { minLength: 8, maxLength: 8 }),
      fc.array(op, { maxLength: 60 }),
      (tickUs, start, rearm, ops) => {
        const w = new TimerWheel(tickUs);
        const timers = Array.from({ length: 8 }, (_, i) => new Timer(null, i));
        // Model: id -> [at, armSeq]
        const model = new Map<number, [number, number]>();
        let seq = 0;
        let now = start;
        const deadline = new Array<number>(8).fill(0);
        const refires = new Array<number>(8).fill(0);
        const armBoth = (id: number, at: number) => {
          w.arm(timers[id]!, at);
          model.set(id, [at, ++seq]);
          deadline[id] = at;
        };
        for (const o of ops) {
          if (o.k === 'arm') armBoth(o.id, now + o.d);
          else if (o.k === 'disarm') {
            w.disarm(timers[o.id]!);
            model.delete(o.id);
          } else {
            now += o.d;
            // The model's firings.
            const want: Array<[number, number]> = [];
            const modelRefires = refires.slice();
            const m = new Map(model);
            let mseq = seq;
            for (;;) {
              let best: [number, [number, number]] | null = null;
              for (const [id, v] of m) if (v[0] <= now && (!best || v[0] < best[1][0] || (v[0] === best[1][0] && v[1] < best[1][1]))) best = [id, v];
              if (!best) break;
              m.delete(best[0]);
              want.push([best[0], best[1][0]]);
              const d = rearm[best[0]];
              if (d != null && modelRefires[best[0]]! < 3) {
                modelRefires[best[0]]!++;
                m.set(best[0], [best[1][0] + d, ++mseq]);
              }
            }
            // The wheel's.
            const got: Array<[number, number]> = [];
            w.advance(now, (t) => {
              assert.equal(t.armed, false);
              const id = t.kind;
              got.push([id, deadline[id]!]);
              model.delete(id);
              const d = rearm[id];
              if (d != null && refires[id]! < 3) {
                refires[id]!++;
                armBoth(id, deadline[id]! + d);
              }
            });
            assert.deepEqual(got, want);
          }
          assert.equal(w.size, model.size);
          let min = Infinity;
          for (const v of model.values()) min = Math.min(min, v[0]);
          assert.equal(w.next(), min);
          for (let id = 0; id < 8; id++) assert.equal(timers[id]!.armed, model.has(id));
        }
      },
    ),
    { numRuns: fuzzRuns(1500) },
  );
});

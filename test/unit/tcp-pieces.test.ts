// The TCP building blocks against simple models: the timer wheel fires exactly what a
// sorted list would, the out-of-order queue delivers the bytes a byte map says, SACK blocks
// come most recent first (RFC 2018 §4), the byte ring keeps order across wrap-around, and
// SYN cookies decode to their MSS, reject tampering and expire after two 64 s counters.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Timer, TimerWheel } from '../../src/stack/tcp/timer-wheel.js';
import { ReassemblyQueue } from '../../src/stack/tcp/reassembly-queue.js';
import { ByteRing } from '../../src/stack/tcp/byte-ring.js';
import { SynCookies } from '../../src/stack/tcp/syn-cookie.js';
import { IsnGenerator } from '../../src/stack/tcp/isn.js';
import { SeededRng } from '../../src/rng.js';
import { fuzzRuns } from '../support/fuzz.js';

test('timer wheel: fires the same timers at the same times in the same order as a sorted-list model', () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('arm' as const), id: fc.integer({ min: 0, max: 15 }), delta: fc.integer({ min: 0, max: 20_000_000 }) }),
    fc.record({ k: fc.constant('disarm' as const), id: fc.integer({ min: 0, max: 15 }) }),
    fc.record({ k: fc.constant('advance' as const), by: fc.integer({ min: 0, max: 9_000_000 }) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
    const wheel = new TimerWheel(1000);
    const timers = Array.from({ length: 16 }, (_, i) => new Timer(i, 0));
    const model = new Map<number, { at: number; seq: number }>();
    let now = 0, seq = 0;
    const firedWheel: Array<[number, number]> = [];
    const firedModel: Array<[number, number]> = [];
    for (const o of ops) {
      if (o.k === 'arm') {
        wheel.arm(timers[o.id]!, now + o.delta);
        model.set(o.id, { at: now + o.delta, seq: ++seq });
      } else if (o.k === 'disarm') {
        wheel.disarm(timers[o.id]!);
        model.delete(o.id);
      } else {
        now += o.by;
        wheel.advance(now, (t) => firedWheel.push([t.owner as number, now]));
        const due = [...model.entries()].filter(([, v]) => v.at <= now).sort((x, y) => x[1].at - y[1].at || x[1].seq - y[1].seq);
        for (const [id] of due) {
          firedModel.push([id, now]);
          model.delete(id);
        }
      }
      assert.ok(wheel.next() <= Math.min(Infinity, ...[...model.values()].map((v) => v.at)), 'next() is never later than the earliest deadline');
    }
    assert.deepEqual(firedWheel, firedModel);
    assert.equal(wheel.size, model.size);
  }), { numRuns: fuzzRuns(300), seed: 11 });
});

test('reassembly queue: any arrival order of overlapping pieces yields exactly the bytes of the stream', () => {
  fc.assert(fc.property(
    fc.integer(),
    fc.array(fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 1500 })), { minLength: 1, maxLength: 30 }),
    (isn, pieces) => {
      const stream = new Uint8Array(4600);
      for (let i = 0; i < stream.length; i++) stream[i] = (i * 7 + 3) & 0xff;
      const q = new ReassemblyQueue(1 << 20);
      for (const [off, len] of pieces) q.insert((isn + off) | 0, stream, off, Math.min(len, stream.length - off));
      const out = new ByteRing(0, 1 << 20);
      const n = q.pull((isn + 1) | 0, out); // the receiver expects offset 1 next
      // What must come out: the contiguous run starting at offset 1 covered by the pieces.
      const covered = new Uint8Array(stream.length);
      for (const [off, len] of pieces) covered.fill(1, off, Math.min(stream.length, off + len));
      let run = 0;
      while (1 + run < stream.length && covered[1 + run]) run++;
      assert.equal(n, run);
      const got = new Uint8Array(n);
      out.read(got);
      assert.deepEqual(got, stream.subarray(1, 1 + run));
    },
  ), { numRuns: fuzzRuns(300), seed: 12 });
});

test('reassembly queue: SACK blocks name the most recently received block first (RFC 2018 §4)', () => {
  const q = new ReassemblyQueue(1 << 20);
  const data = new Uint8Array(100);
  q.insert(1000, data, 0, 100);
  q.insert(3000, data, 0, 100);
  q.insert(2000, data, 0, 100);
  const edges: number[] = [];
  assert.equal(q.sackBlocks(edges, 3), 3);
  assert.deepEqual(edges.slice(0, 6), [2000, 2100, 3000, 3100, 1000, 1100]);
  q.insert(2100, data, 0, 50); // extends the 2000 block: still first, now longer
  q.sackBlocks(edges, 3);
  assert.deepEqual(edges.slice(0, 2), [2000, 2150]);
  assert.equal(q.bytes, 350);
});

test('byte ring: order kept across wrap-around and growth; peek does not consume; max capacity respected', () => {
  const r = new ByteRing(0, 10_000);
  const src = Uint8Array.from({ length: 30_000 }, (_, i) => i & 0xff);
  let w = 0, rd = 0;
  const out = new Uint8Array(30_000);
  for (let step = 0; step < 200 && rd < src.length; step++) {
    w += r.write(src, w, Math.min(3_333, src.length - w));
    assert.ok(r.length <= 10_000);
    const tmp = new Uint8Array(7);
    const p = r.peek(tmp, 0, 0, 7);
    if (p > 0) assert.deepEqual(tmp.subarray(0, p), src.subarray(rd, rd + p));
    rd += r.read(out, rd, 2_222);
  }
  assert.deepEqual(out.subarray(0, rd), src.subarray(0, rd));
  assert.equal(rd, src.length);
  r.release();
  assert.equal(r.capacity, 0, 'an empty ring gives its buffer back');
});

test('SYN cookies: decode to the MSS class, reject a tampered cookie or another tuple, expire after two 64 s counters', () => {
  const c = new SynCookies(new SeededRng(5));
  const A = 0x0a000001, B = 0x0a000002;
  const t = 1_000_000_000;
  const cookie = c.encode(A, 80, B, 40000, 12345, 1460, t);
  assert.equal(c.decode(cookie, A, 80, B, 40000, 12345, t + 1_000_000), 1460);
  assert.equal(c.decode(c.encode(A, 80, B, 40000, 1, 1300, t), A, 80, B, 40000, 1, t), 1300);
  assert.equal(c.decode(c.encode(A, 80, B, 40000, 1, 1000, t), A, 80, B, 40000, 1, t), 536, 'rounded down to the table');
  assert.equal(c.decode((cookie + 1) >>> 0, A, 80, B, 40000, 12345, t), 0, 'tampered');
  assert.equal(c.decode(cookie, A, 80, B, 40001, 12345, t), 0, 'another tuple');
  assert.equal(c.decode(cookie, A, 80, B, 40000, 12345, t + 130_000_000), 0, 'expired');
});

test('ISNs (RFC 6528): grow with the 4 µs clock for one tuple, differ across tuples', () => {
  const g = new IsnGenerator(new SeededRng(9));
  const a = g.isn(1, 80, 2, 5000, 0);
  assert.equal(((g.isn(1, 80, 2, 5000, 4_000) - a) >>> 0), 1000, '4 ms later: 1000 ticks of 4 µs');
  assert.notEqual(g.isn(1, 80, 2, 5001, 0), a);
  assert.notEqual(g.tsOffset(1, 80, 2, 5000), g.tsOffset(1, 80, 2, 5001));
});

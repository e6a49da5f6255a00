import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteRing } from '../../src/stack/tcp/byte-ring.js';
import { fuzzRuns } from '../support/fuzz.js';

const bytes = (n: number, from = 0) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);

test('byte ring: idle holds no buffer; the first write takes one; release gives it back when empty', () => {
  const r = new ByteRing(0, 1 << 20);
  assert.equal(r.capacity, 0);
  assert.equal(r.length, 0);
  assert.equal(r.free, 1 << 20);
  assert.equal(r.write(bytes(10)), 10);
  assert.ok(r.capacity >= 10);
  r.release(); // not empty: kept
  assert.ok(r.capacity >= 10);
  const out = new Uint8Array(10);
  assert.equal(r.read(out, 0, 10), 10);
  assert.deepEqual(out, bytes(10));
  r.release();
  assert.equal(r.capacity, 0);
  // An initial capacity is still taken lazily.
  const s = new ByteRing(8192, 1 << 20);
  assert.equal(s.capacity, 0);
  s.write(bytes(1));
  assert.equal(s.capacity, 8192);
});

test('byte ring: grows by doubling, never past maxCapacity; write is cut at free', () => {
  const r = new ByteRing(16, 100);
  assert.equal(r.write(bytes(10)), 10);
  assert.equal(r.capacity, 16);
  assert.equal(r.write(bytes(10, 10)), 10);
  assert.equal(r.capacity, 32);
  assert.equal(r.write(bytes(50, 20)), 50);
  assert.equal(r.capacity, 100); // 128 capped at the maximum
  assert.equal(r.free, 30);
  assert.equal(r.write(bytes(40, 70)), 30);
  assert.equal(r.free, 0);
  assert.equal(r.write(bytes(5)), 0);
  const out = new Uint8Array(100);
  assert.equal(r.peek(out, 0, 0, 200), 100);
  assert.deepEqual(out, bytes(100));
});

test('byte ring: data wraps around the end of the store and keeps its order across growth', () => {
  const r = new ByteRing(8, 64);
  r.write(bytes(6));
  r.consume(5); // head at 5
  r.write(bytes(6, 6)); // wraps: 5 held... 1 + 6 = 7 bytes
  assert.equal(r.length, 7);
  assert.equal(r.capacity, 8);
  const out = new Uint8Array(7);
  assert.equal(r.peek(out, 0, 0, 7), 7);
  assert.deepEqual(out, bytes(7, 5));
  r.write(bytes(10, 12)); // grows while wrapped
  assert.equal(r.capacity, 32);
  const all = new Uint8Array(17);
  assert.equal(r.read(all, 0, 17), 17);
  assert.deepEqual(all, bytes(17, 5));
  assert.equal(r.length, 0);
});

test('byte ring: peek at an offset does not consume (the send queue builds retransmissions this way)', () => {
  const r = new ByteRing(0, 4096);
  r.write(bytes(1000));
  const seg = new Uint8Array(300);
  assert.equal(r.peek(seg, 0, 500, 300), 300);
  assert.deepEqual(seg, bytes(300, 500));
  assert.equal(r.peek(seg, 0, 900, 300), 100);
  assert.equal(r.peek(seg, 0, 1000, 300), 0);
  assert.equal(r.length, 1000);
  r.consume(600);
  assert.equal(r.peek(seg, 10, 0, 5), 5);
  assert.deepEqual(seg.subarray(10, 15), bytes(5, 600));
  r.consume(10_000);
  assert.equal(r.length, 0);
});

test('byte ring: a smaller maxCapacity keeps held bytes and blocks writes until they drain', () => {
  const r = new ByteRing(0, 1000);
  r.write(bytes(800));
  r.setMaxCapacity(500);
  assert.equal(r.free, 0);
  assert.equal(r.write(bytes(1)), 0);
  r.consume(400);
  assert.equal(r.free, 100);
  assert.equal(r.write(bytes(200)), 100);
  assert.equal(r.length, 500);
});

test('byte ring: random writes, peeks, reads and consumes match a plain array', () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('w' as const), n: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ k: fc.constant('r' as const), n: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ k: fc.constant('c' as const), n: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ k: fc.constant('p' as const), n: fc.integer({ min: 0, max: 300 }), o: fc.integer({ min: 0, max: 400 }) }),
    fc.record({ k: fc.constant('x' as const), n: fc.integer({ min: 0, max: 0 }) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 700 }), fc.array(op, { maxLength: 80 }), (init, max, ops) => {
      const r = new ByteRing(init, max);
      const model: number[] = [];
      let next = 0;
      for (const o of ops) {
        if (o.k === 'w') {
          const src = bytes(o.n, next);
          const n = r.write(src, 0, o.n);
          assert.equal(n, Math.min(o.n, max - model.length));
          for (let i = 0; i < n; i++) model.push(src[i]!);
          next += n;
        } else if (o.k === 'r' || o.k === 'p') {
          const off = o.k === 'p' ? (o as { o: number }).o : 0;
          const dst = new Uint8Array(o.n + 3);
          const n = o.k === 'r' ? r.read(dst, 3, o.n) : r.peek(dst, 3, off, o.n);
          const want = model.slice(off, off + o.n);
          assert.equal(n, want.length);
          assert.deepEqual([...dst.subarray(3, 3 + n)], want);
          if (o.k === 'r') model.splice(0, n);
        } else if (o.k === 'c') {
          r.consume(o.n);
          model.splice(0, o.n);
        } else {
          r.release();
          if (model.length === 0) assert.equal(r.capacity, 0);
        }
        assert.equal(r.length, model.length);
        assert.equal(r.free, max - model.length);
        assert.ok(r.capacity <= max);
      }
    }),
    { numRuns: fuzzRuns(500) },
  );
});

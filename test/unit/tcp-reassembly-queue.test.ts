import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReassemblyQueue } from '../../src/stack/tcp/reassembly-queue.js';
import { ByteRing } from '../../src/stack/tcp/byte-ring.js';
import { seqAdd } from '../../src/wire/seq.js';
import { fuzzRuns } from '../support/fuzz.js';

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);
const pattern = (n: number, from: number) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);

function drain(r: ByteRing): number[] {
  const out = new Uint8Array(r.length);
  r.read(out, 0, out.length);
  return [...out];
}

test('reassembly: a hole at the 2^32 wrap fills and everything comes out in order', () => {
  const isn = 0xfffffff0;
  const q = new ReassemblyQueue(1 << 16);
  const rcv = new ByteRing(0, 1 << 16);
  // Segments 2 and 3 (the second crosses 2^32) arrive before segment 1.
  assert.equal(q.insert(seqAdd(isn, 10), pattern(10, 10), 0, 10), 10);
  assert.equal(q.insert(seqAdd(isn, 20), pattern(10, 20), 0, 10), 10);
  assert.equal(q.blockCount, 1); // adjacent: merged
  assert.equal(q.bytes, 20);
  assert.equal(q.pull(isn, rcv), 0); // the gap is still open
  // The hole fills (the caller writes in-order data itself, then pulls).
  rcv.write(pattern(10, 0));
  assert.equal(q.pull(seqAdd(isn, 10), rcv), 20);
  assert.deepEqual(drain(rcv), [...pattern(30, 0)]);
  assert.equal(q.bytes, 0);
  assert.equal(q.blockCount, 0);
});

test('reassembly: overlaps keep the first copy (Linux), counting only new bytes', () => {
  const q = new ReassemblyQueue(1000);
  assert.equal(q.insert(110, fill(10, 0xaa), 0, 10), 10); // [110,120)
  assert.equal(q.insert(130, fill(10, 0xcc), 0, 10), 10); // [130,140)
  assert.equal(q.insert(105, fill(40, 0xbb), 0, 40), 20); // [105,145): fills 105-110, 120-130, 140-145
  assert.equal(q.blockCount, 1);
  assert.equal(q.insert(112, fill(4, 0xdd), 0, 4), 0); // a duplicate
  const rcv = new ByteRing(0, 1000);
  assert.equal(q.pull(105, rcv), 40);
  assert.deepEqual(drain(rcv), [...fill(5, 0xbb), ...fill(10, 0xaa), ...fill(10, 0xbb), ...fill(10, 0xcc), ...fill(5, 0xbb)]);
});

test('reassembly: data from the middle of a caller buffer (off) is copied, not referenced', () => {
  const q = new ReassemblyQueue(1000);
  const frame = pattern(100, 0);
  q.insert(5000, frame, 40, 20);
  frame.fill(0);
  const rcv = new ByteRing(0, 1000);
  assert.equal(q.pull(5000, rcv), 20);
  assert.deepEqual(drain(rcv), [...pattern(20, 40)]);
});

test('reassembly: SACK blocks list the most recent segment\'s block first, then most recent first (RFC 2018 §4)', () => {
  const q = new ReassemblyQueue(1 << 16);
  const e = new Uint32Array(8);
  q.insert(1100, fill(100, 1), 0, 100); // A [1100,1200)
  q.insert(1300, fill(100, 1), 0, 100); // B [1300,1400)
  q.insert(1500, fill(100, 1), 0, 100); // C [1500,1600)
  q.insert(1700, fill(100, 1), 0, 100); // D [1700,1800)
  assert.equal(q.sackBlocks(e, 4), 4);
  assert.deepEqual([...e], [1700, 1800, 1500, 1600, 1300, 1400, 1100, 1200]);
  q.insert(1400, fill(50, 1), 0, 50); // extends B
  assert.equal(q.sackBlocks(e, 3), 3); // with timestamps: 3
  assert.deepEqual([...e.subarray(0, 6)], [1300, 1450, 1700, 1800, 1500, 1600]);
  q.insert(1120, fill(10, 1), 0, 10); // a duplicate inside A: A is the most recent
  const arr: number[] = [];
  assert.equal(q.sackBlocks(arr, 4), 4);
  assert.deepEqual(arr, [1100, 1200, 1300, 1450, 1700, 1800, 1500, 1600]);
  // Edges near 2^32 come out unsigned.
  const w = new ReassemblyQueue(1000);
  w.insert(0xfffffffa, fill(10, 1), 0, 10);
  assert.equal(w.sackBlocks(arr, 4), 1);
  assert.deepEqual(arr.slice(0, 2), [0xfffffffa, 4]);
});

test('reassembly: refuses a segment that would exceed maxBytes, still accepts duplicates', () => {
  const q = new ReassemblyQueue(100);
  assert.equal(q.insert(1000, fill(80, 1), 0, 80), 80);
  assert.equal(q.insert(2000, fill(30, 2), 0, 30), 0);
  assert.equal(q.bytes, 80);
  assert.equal(q.blockCount, 1);
  assert.equal(q.insert(1070, fill(30, 3), 0, 30), 20);
  assert.equal(q.bytes, 100);
  assert.equal(q.insert(1000, fill(100, 4), 0, 100), 0);
  q.clear();
  assert.equal(q.bytes, 0);
  assert.equal(q.blockCount, 0);
});

test('reassembly: pull stops when the receive buffer is full and keeps the rest; old blocks are dropped', () => {
  const q = new ReassemblyQueue(10_000);
  q.insert(100, pattern(50, 0), 0, 50); // [100,150): wholly old by the time we pull at 200
  q.insert(190, pattern(100, 90), 0, 100); // [190,290): straddles 200
  const rcv = new ByteRing(0, 40);
  assert.equal(q.pull(200, rcv), 40);
  assert.deepEqual(drain(rcv), [...pattern(40, 100)]);
  assert.equal(q.bytes, 50);
  assert.equal(q.blockCount, 1);
  const e: number[] = [];
  q.sackBlocks(e, 4);
  assert.deepEqual(e.slice(0, 2), [240, 290]);
  const big = new ByteRing(0, 1000);
  assert.equal(q.pull(240, big), 50);
  assert.deepEqual(drain(big), [...pattern(50, 140)]);
});

test('reassembly: random segments match a byte map (first copy wins), with SACK order and wrap-around', () => {
  const seg = fc.record({ off: fc.integer({ min: 0, max: 400 }), len: fc.integer({ min: 1, max: 80 }), pull: fc.boolean() });
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 50, max: 600 }),
      fc.array(seg, { maxLength: 40 }),
      (base, maxBytes, segs) => {
        const q = new ReassemblyQueue(maxBytes);
        const rcv = new ByteRing(0, 1 << 20);
        const held = new Map<number, number>(); // offset -> byte
        const accepted: Array<{ s: number; e: number; stamp: number }> = [];
        let nxt = 0; // rcvNxt as an offset from base
        let stamp = 0;
        let value = 0;
        for (const g of segs) {
          // The caller trims to rcvNxt; data is a distinct byte value per segment.
          const s = Math.max(g.off, nxt + 1);
          const e = g.off + g.len;
          if (e <= s) continue;
          value = (value + 1) & 0xff;
          const data = fill(e - s + 2, value);
          let fresh = 0;
          for (let o = s; o < e; o++) if (!held.has(o)) fresh++;
          const ok = fresh === 0 || held.size + fresh <= maxBytes;
          assert.equal(q.insert(seqAdd(base, s), data, 1, e - s), ok ? fresh : 0);
          if (ok) {
            for (let o = s; o < e; o++) if (!held.has(o)) held.set(o, value);
            accepted.push({ s, e, stamp: ++stamp });
          }
          if (g.pull) {
            const gapByte = held.has(nxt) ? -1 : 0;
            if (gapByte === 0) {
              // Fill the hole at rcvNxt as in-order data would, then pull.
              rcv.write(fill(1, 0xee));
              nxt++;
            }
            let want = 0;
            const expect: number[] = [];
            while (held.has(nxt + want)) expect.push(held.get(nxt + want)!), want++;
            for (const k of [...held.keys()]) if (k < nxt) held.delete(k);
            drain(rcv);
            assert.equal(q.pull(seqAdd(base, nxt), rcv), want);
            assert.deepEqual(drain(rcv), expect);
            for (let k = 0; k < want; k++) held.delete(nxt + k);
            nxt += want;
          }
          assert.equal(q.bytes, held.size);
          // Blocks from the byte map, each with the stamp of the newest segment touching it.
          const keys = [...held.keys()].sort((a, b) => a - b);
          const blocks: Array<{ s: number; e: number; r: number }> = [];
          for (const k of keys) {
            const last = blocks[blocks.length - 1];
            if (last && last.e === k) last.e++;
            else blocks.push({ s: k, e: k + 1, r: 0 });
          }
          for (const b of blocks) for (const a of accepted) if (a.s <= b.e && a.e >= b.s) b.r = Math.max(b.r, a.stamp);
          assert.equal(q.blockCount, blocks.length);
          blocks.sort((x, y) => y.r - x.r);
          const out: number[] = [];
          const n = q.sackBlocks(out, 4);
          assert.equal(n, Math.min(4, blocks.length));
          for (let k = 0; k < n; k++) {
            assert.equal(out[2 * k], seqAdd(base, blocks[k]!.s));
            assert.equal(out[2 * k + 1], seqAdd(base, blocks[k]!.e));
          }
        }
      },
    ),
    { numRuns: fuzzRuns(400) },
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seqAdd, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqSub } from '../../src/wire/seq.js';
import { fuzzRuns } from '../support/fuzz.js';

test('seq: comparisons wrap around 2^32 (RFC 9293 §3.4)', () => {
  assert.ok(seqLt(0xfffffff0, 0x10));
  assert.ok(seqGt(0x10, 0xfffffff0));
  assert.equal(seqAdd(0xffffffff, 2), 1);
  assert.equal(seqSub(1, 0xffffffff), 2);
  assert.ok(seqLe(5, 5) && seqGe(5, 5) && !seqLt(5, 5));
  assert.ok(seqInWindow(0xfffffffe, 0xfffffff0, 0x20));
  assert.ok(!seqInWindow(0x20, 0xfffffff0, 0x20));
});

test('seq: a + d compares as d for every base and |d| < 2^31', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), (a, d) => {
      const b = seqAdd(a, d);
      assert.equal(seqSub(b, a), d);
      assert.equal(seqGt(b, a), d > 0);
      assert.equal(seqLt(b, a), d < 0);
    }),
    { numRuns: fuzzRuns(5000) },
  );
});

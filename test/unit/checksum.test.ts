import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  sumBytes, foldSum, internetChecksum, verifyChecksum, updateChecksum16, updateChecksum32,
  ipv4PseudoHeaderSum, ipv6PseudoHeaderSum, prepareChecksumBuffer,
} from '../../src/wire/checksum.js';
import { ipv4, ipv6 } from '../../src/wire/address.js';
import { fuzzRuns } from '../support/fuzz.js';

/** The definition, RFC 1071 §4.1, one byte pair at a time: the oracle for the fast paths. */
function referenceSum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i]! << 8) | (i + 1 < len ? b[off + i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

test('checksum: RFC 1071 §3 worked example sums to ddf2', () => {
  const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(foldSum(sumBytes(b, 0, 8)), 0xddf2);
});

test('checksum: a filled IPv4 header verifies and equals the complement of the definition', () => {
  // An ICMP echo request header 198.18.0.1 -> 198.18.0.2, total length 84, DF, TTL 64.
  // (Kernel-captured headers are checked against tshark in vectors-kernel.test.ts.)
  const h = Uint8Array.from([
    0x45, 0x00, 0x00, 0x54, 0x5a, 0x3b, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00,
    0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02,
  ]);
  const c = internetChecksum(h, 0, 20);
  h[10] = c >>> 8;
  h[11] = c & 0xff;
  assert.ok(verifyChecksum(h, 0, 20));
  assert.equal(c, referenceSum(h.map((x, i) => (i === 10 || i === 11 ? 0 : x)), 0, 20) ^ 0xffff);
});

test('checksum: wide path equals the definition for every length, offset and alignment', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat(7), fc.nat(7), (data, pre, post) => {
      const buf = new Uint8Array(pre + data.length + post);
      buf.set(data, pre);
      // A subarray with its own byteOffset exercises the buffer-absolute alignment logic.
      const view = buf.subarray(1);
      const off = Math.max(0, pre - 1);
      const len = Math.min(data.length, view.length - off);
      assert.equal(foldSum(sumBytes(view, off, len)), referenceSum(view, off, len));
    }),
    { numRuns: fuzzRuns(3000) },
  );
});

test('checksum: prepared (pooled) buffers take the wide path and agree with the definition', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 1600 }), fc.nat(7), (data, off) => {
      const buf = new Uint8Array(data.length + 8);
      buf.set(data, off);
      prepareChecksumBuffer(buf);
      assert.equal(foldSum(sumBytes(buf, off, data.length)), referenceSum(buf, off, data.length));
    }),
    { numRuns: fuzzRuns(2000) },
  );
});

test('checksum: works on a SharedArrayBuffer and on buffers whose length is not a multiple of 4', () => {
  const sab = new Uint8Array(new SharedArrayBuffer(1499));
  for (let i = 0; i < sab.length; i++) sab[i] = (i * 31 + 7) & 0xff;
  for (const off of [0, 1, 2, 3, 5]) assert.equal(foldSum(sumBytes(sab, off, sab.length - off)), referenceSum(sab, off, sab.length - off));
});

test('checksum: RFC 1624 incremental update equals recomputation', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 20, maxLength: 200 }), fc.nat(90), fc.integer({ min: 0, max: 0xffff }), (data, w, nv) => {
      const b = Uint8Array.from(data.length % 2 ? [...data, 0] : data);
      const at = 2 + 2 * (w % ((b.length - 2) / 2)); // any word but the checksum at 0..1
      b[0] = 0; b[1] = 0;
      const c = internetChecksum(b, 0, b.length);
      b[0] = c >>> 8; b[1] = c & 0xff;
      const old = (b[at]! << 8) | b[at + 1]!;
      b[at] = nv >>> 8; b[at + 1] = nv & 0xff;
      const updated = updateChecksum16(c, old, nv);
      b[0] = updated >>> 8; b[1] = updated & 0xff;
      assert.ok(verifyChecksum(b, 0, b.length));
    }),
    { numRuns: fuzzRuns(2000) },
  );
});

test('checksum: 32-bit incremental update (address rewrite) keeps the header valid', () => {
  const h = Uint8Array.from([0x45, 0, 0, 20, 0, 1, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]);
  const c = internetChecksum(h, 0, 20);
  const nu = ipv4('198.19.255.254');
  const up = updateChecksum32(c, ipv4('198.18.0.2'), nu);
  h.set([198, 19, 255, 254], 16);
  assert.equal(up, internetChecksum(h, 0, 20));
});

test('checksum: pseudo-headers match the byte layout of RFC 793 and RFC 8200 §8.1', () => {
  const v4 = new Uint8Array(12);
  v4.set([198, 18, 0, 1, 198, 18, 0, 2, 0, 6, 0x05, 0xdc]);
  assert.equal(foldSum(ipv4PseudoHeaderSum(ipv4('198.18.0.1'), ipv4('198.18.0.2'), 6, 1500)), referenceSum(v4, 0, 12));
  const src = ipv6('2001:db8::1'), dst = ipv6('fd00::2');
  const v6 = new Uint8Array(40);
  v6.set(src, 0); v6.set(dst, 16); v6.set([0, 1, 0x00, 0x10], 32); v6[39] = 17; // length 65552 (jumbo-sized)
  assert.equal(foldSum(ipv6PseudoHeaderSum(src, dst, 17, 65552)), referenceSum(v6, 0, 40));
});

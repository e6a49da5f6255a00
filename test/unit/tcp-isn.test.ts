import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IsnGenerator, SipHash24 } from '../../src/stack/tcp/isn.js';
import { SynCookies, COOKIE_MSS_TABLE } from '../../src/stack/tcp/syn-cookie.js';
import { SeededRng } from '../../src/rng.js';
import { ipv4, ipv6 } from '../../src/wire/address.js';
import { seqAdd, seqGt, seqSub } from '../../src/wire/seq.js';
import { fuzzRuns } from '../support/fuzz.js';

// A plain BigInt SipHash-2-4, straight from the paper, to check the 32-bit version against.
function sipRef(key: Uint8Array, m: Uint8Array): bigint {
  const M = (1n << 64n) - 1n;
  const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & M;
  const le = (b: Uint8Array, i: number, n: number) => {
    let x = 0n;
    for (let k = n - 1; k >= 0; k--) x = (x << 8n) | BigInt(b[i + k]!);
    return x;
  };
  const k0 = le(key, 0, 8), k1 = le(key, 8, 8);
  let v0 = k0 ^ 0x736f6d6570736575n, v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n, v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & M; v1 = rotl(v1, 13n); v1 ^= v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M; v3 = rotl(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & M; v3 = rotl(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & M; v1 = rotl(v1, 17n); v1 ^= v2; v2 = rotl(v2, 32n);
  };
  const full = m.length & ~7;
  for (let i = 0; i < full; i += 8) {
    const w = le(m, i, 8);
    v3 ^= w; round(); round(); v0 ^= w;
  }
  const b = (BigInt(m.length & 0xff) << 56n) | le(m, full, m.length & 7);
  v3 ^= b; round(); round(); v0 ^= b;
  v2 ^= 0xffn;
  round(); round(); round(); round();
  return v0 ^ v1 ^ v2 ^ v3;
}

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i);
const seq = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);

test('siphash: the reference test vectors (key 00..0f, message 00..n-1)', () => {
  const h = SipHash24.fromKeyBytes(KEY);
  const full = (n: number) => {
    const lo = h.hash(seq(n), n);
    return (BigInt(h.hi) << 32n) | BigInt(lo);
  };
  assert.equal(full(0), 0x726fdb47dd0e0e31n);
  assert.equal(full(15), 0xa129ca6149be45e5n);
  for (let n = 0; n < 64; n++) assert.equal(full(n), sipRef(KEY, seq(n)), `length ${n}`);
});

test('siphash: matches the BigInt reference for random keys and messages', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 48 }), (key, m) => {
      const h = SipHash24.fromKeyBytes(key);
      const lo = h.hash(m, m.length);
      assert.equal((BigInt(h.hi) << 32n) | BigInt(lo), sipRef(key, m));
    }),
    { numRuns: fuzzRuns(300) },
  );
});

const A = ipv4('198.18.0.1');
const B = ipv4('198.18.0.2');

test('isn: for one 4-tuple it advances with a 4 µs clock (RFC 6528 §3), wrapping mod 2^32', () => {
  const g = new IsnGenerator(new SeededRng(1));
  const t0 = 1_700_000_000_000_000;
  const i0 = g.isn(A, 40000, B, 80, t0);
  assert.ok(Number.isInteger(i0) && i0 >= 0 && i0 <= 0xffffffff);
  let prev = i0;
  for (const dt of [1, 4, 1000, 1_000_000, 60_000_000, 3_600_000_000]) {
    const i = g.isn(A, 40000, B, 80, t0 + dt);
    assert.equal(i, seqAdd(i0, Math.floor((t0 + dt) / 4) - Math.floor(t0 / 4)));
    assert.ok(!seqGt(prev, i), `non-decreasing after ${dt} µs`);
    prev = i;
  }
  assert.ok(seqGt(g.isn(A, 40000, B, 80, t0 + 8), i0));
  // Deterministic in the seed.
  assert.equal(new IsnGenerator(new SeededRng(1)).isn(A, 40000, B, 80, t0), i0);
  assert.notEqual(new IsnGenerator(new SeededRng(2)).isn(A, 40000, B, 80, t0), i0);
});

test('isn: different 4-tuples get unrelated offsets (IPv4 and IPv6)', () => {
  const g = new IsnGenerator(new SeededRng(7));
  const now = 123_456_789;
  const seen = new Set<number>();
  for (let port = 40000; port < 40100; port++) seen.add(g.isn(A, port, B, 80, now));
  assert.equal(seen.size, 100);
  const a = g.isn(A, 40000, B, 80, now);
  assert.notEqual(g.isn(B, 40000, A, 80, now), a);
  assert.notEqual(g.isn(A, 80, B, 40000, now), a);
  // Consecutive ports are not consecutive ISNs.
  assert.ok(Math.abs(seqSub(g.isn(A, 40001, B, 80, now), a)) > 1000);
  const x = ipv6('2001:db8::1'), y = ipv6('2001:db8::2');
  const v6 = g.isn(x, 40000, y, 80, now);
  assert.notEqual(g.isn(y, 40000, x, 80, now), v6);
  assert.equal(g.isn(ipv6('2001:db8::1'), 40000, y, 80, now), v6);
});

test('isn: timestamp offsets are per connection (4-tuple) and stable for a reused tuple', () => {
  const g = new IsnGenerator(new SeededRng(3));
  const o = g.tsOffset(A, 40000, B, 80);
  assert.ok(o >= 0 && o <= 0xffffffff);
  assert.equal(g.tsOffset(A, 40000, B, 80), o);
  assert.notEqual(g.tsOffset(A, 40001, B, 80), o);
  assert.notEqual(g.tsOffset(A, 40000, ipv4('198.18.0.3'), 80), o);
  // A different key from the ISN's: the offset is not the ISN at time 0.
  assert.notEqual(o, g.isn(A, 40000, B, 80, 0));
});

test('syn cookies: round-trip the MSS (rounded down to Linux\'s table) within the counter window', () => {
  const c = new SynCookies(new SeededRng(11));
  const now = 1_000_000_000;
  const peerIsn = 0xfffffff0;
  for (const [offered, expect] of [[1460, 1460], [9000, 1460], [1450, 1440], [1400, 1300], [1299, 536], [100, 536]] as const) {
    const ck = c.encode(A, 80, B, 40000, peerIsn, offered, now);
    assert.equal(c.decode(ck, A, 80, B, 40000, peerIsn, now), expect);
    assert.equal(c.decode(ck, A, 80, B, 40000, peerIsn, now + 60_000_000), expect);
  }
  assert.deepEqual([...COOKIE_MSS_TABLE], [536, 1300, 1440, 1460]);
  const x = ipv6('fe80::1'), y = ipv6('fe80::2');
  const ck6 = c.encode(x, 443, y, 5555, 42, 1440, now);
  assert.equal(c.decode(ck6, x, 443, y, 5555, 42, now), 1440);
  assert.equal(c.decode(ck6, y, 443, x, 5555, 42, now), 0);
});

test('syn cookies: expire after two 64-second counter values (2 minutes), and refuse the future', () => {
  const c = new SynCookies(new SeededRng(12));
  for (const made of [0, 63_999_999, 5_000_000_000]) {
    const ck = c.encode(A, 80, B, 40000, 1234, 1460, made);
    const start = Math.floor(made / 64_000_000) * 64_000_000;
    assert.equal(c.decode(ck, A, 80, B, 40000, 1234, start + 127_999_999), 1460, 'still in the second counter value');
    assert.equal(c.decode(ck, A, 80, B, 40000, 1234, start + 128_000_000), 0, 'third counter value: expired');
    assert.equal(c.decode(ck, A, 80, B, 40000, 1234, made + 130_000_000), 0, 'after 2 minutes and more');
    if (made >= 64_000_000) assert.equal(c.decode(ck, A, 80, B, 40000, 1234, made - 64_000_000), 0, 'from the future');
  }
});

test('syn cookies: a changed bit, tuple or peer ISN is rejected', () => {
  const c = new SynCookies(new SeededRng(13));
  const now = 77_000_000;
  const ck = c.encode(A, 80, B, 40000, 999, 1460, now);
  let accepted = 0;
  for (let bit = 0; bit < 32; bit++) if (c.decode((ck ^ (1 << bit)) >>> 0, A, 80, B, 40000, 999, now) !== 0) accepted++;
  // The MSS index is inside the MAC (unlike Linux, where low-bit changes pick another entry).
  assert.equal(accepted, 0);
  assert.equal(c.decode(ck, A, 81, B, 40000, 999, now), 0);
  assert.equal(c.decode(ck, A, 80, B, 40001, 999, now), 0);
  assert.equal(c.decode(ck, A, 80, ipv4('198.18.0.9'), 40000, 999, now), 0);
  assert.equal(c.decode(ck, A, 80, B, 40000, 1000, now), 0);
  // Another listener's secret.
  assert.equal(new SynCookies(new SeededRng(14)).decode(ck, A, 80, B, 40000, 999, now), 0);
  // A random forgery passes with probability 2/256 * 2^-22: none in a few thousand.
  const rng = new SeededRng(99);
  let forged = 0;
  for (let i = 0; i < 5000; i++) if (c.decode(rng.nextU32(), A, 80, B, 40000, 999, now) !== 0) forged++;
  assert.ok(forged <= 1, `${forged} forgeries`);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng, hashSeed } from '../../src/rng.js';

// Known answers from a separate C implementation of the published algorithms (native
// uint32 arithmetic, so it checks our Math.imul / >>> handling), `gcc -O2 kat.c`:
//   splitmix32: z = (x += 0x9e3779b9); z = (z ^ z>>16) * 0x85ebca6b; z = (z ^ z>>13) * 0xc2b2ae35; return z ^ z>>16;
//   seed(x): s[0..3] = four splitmix32 outputs
//   xoshiro128**: r = rotl(s1*5, 7)*9; t = s1<<9; s2^=s0; s3^=s1; s1^=s2; s0^=s3; s2^=t; s3 = rotl(s3, 11)
//   fnv1a32(label) for fork; fork seed = fnv1a32(label) ^ seed*0x9e3779b1
const KNOWN: Array<[number, number[]]> = [
  [0, [0xe308dc58, 0x4392d0e4, 0x03318f97, 0xac593a63, 0x08535f0a, 0x83532d1f]],
  [1, [0x9190299e, 0xc1017b27, 0xe3af522f, 0x7d71fb05, 0x787816c2, 0xfbbe0c00]],
  [0xdeadbeef, [0x897ad89d, 0x998f30df, 0x4a8bba06, 0xa0e20ce0, 0x8a40cc10, 0xbdc3ff9f]],
];

test('rng: xoshiro128** seeded by splitmix32 matches an independent C implementation', () => {
  for (const [seed, want] of KNOWN) {
    const r = new SeededRng(seed);
    assert.equal(r.seed, seed);
    assert.deepEqual(want.map(() => r.nextU32()), want, `seed ${seed}`);
  }
  assert.equal(hashSeed('link0ab'), 0xef7d1804);
  const child = new SeededRng(1).fork('child');
  assert.equal(child.seed, 0x7b9759ec);
  assert.deepEqual([child.nextU32(), child.nextU32(), child.nextU32()], [0x0ffc7fb6, 0xb2cadb7e, 0x50729191]);
});

test('rng: next() is in [0, 1) and uniform; int() covers [min, max] evenly', () => {
  const r = new SeededRng(7);
  const n = 100_000;
  const buckets = new Array<number>(10).fill(0);
  for (let i = 0; i < n; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
    buckets[Math.floor(x * 10)]!++;
  }
  // Each bucket is binomial(n, 0.1): 5 sigma = 5 * sqrt(n * 0.09) ≈ 474.
  for (const b of buckets) assert.ok(Math.abs(b - n / 10) < 474, `bucket ${b}`);
  const seen = new Map<number, number>();
  for (let i = 0; i < 60_000; i++) {
    const k = r.int(-3, 2);
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort((a, b) => a - b), [-3, -2, -1, 0, 1, 2]);
  for (const c of seen.values()) assert.ok(Math.abs(c - 10_000) < 5 * Math.sqrt(60_000 * (1 / 6) * (5 / 6)), `count ${c}`);
  assert.equal(r.int(5, 5), 5);
});

test('rng: chance(p) is true with probability p; 0 never, 1 always', () => {
  const r = new SeededRng(11);
  const n = 50_000;
  let hits = 0;
  for (let i = 0; i < n; i++) if (r.chance(0.3)) hits++;
  assert.ok(Math.abs(hits - 0.3 * n) < 5 * Math.sqrt(n * 0.21), `hits ${hits}`);
  for (let i = 0; i < 1000; i++) {
    assert.equal(r.chance(0), false);
    assert.equal(r.chance(1), true);
  }
});

test('rng: normal(mean, sd) has that mean and standard deviation', () => {
  const r = new SeededRng(13);
  const n = 50_000;
  let sum = 0, sq = 0;
  for (let i = 0; i < n; i++) {
    const x = r.normal(100, 15);
    sum += x;
    sq += x * x;
  }
  const mean = sum / n;
  const sd = Math.sqrt(sq / n - mean * mean);
  assert.ok(Math.abs(mean - 100) < 5 * 15 / Math.sqrt(n), `mean ${mean}`);
  assert.ok(Math.abs(sd - 15) < 0.3, `sd ${sd}`);
});

test('rng: fork() gives deterministic streams, independent of the parent and of each other', () => {
  const a = new SeededRng(42);
  const b = new SeededRng(42);
  b.nextU32(); // consuming the parent does not change its forks
  const fa = a.fork('x'), fb = b.fork('x');
  const sa = Array.from({ length: 8 }, () => fa.nextU32());
  assert.deepEqual(Array.from({ length: 8 }, () => fb.nextU32()), sa);
  const fy = a.fork('y');
  const sy = Array.from({ length: 8 }, () => fy.nextU32());
  const parent = Array.from({ length: 8 }, () => new SeededRng(42).nextU32());
  assert.notDeepEqual(sy, sa);
  assert.notDeepEqual(sa, parent);
  // Streams of different seeds or labels do not correlate: same-bit agreement stays near 1/2.
  const f1 = new SeededRng(1).fork('link0ab'), f2 = new SeededRng(2).fork('link0ab');
  let agree = 0;
  for (let i = 0; i < 10_000; i++) if ((f1.nextU32() & 1) === (f2.nextU32() & 1)) agree++;
  assert.ok(Math.abs(agree - 5000) < 250, `agree ${agree}`);
});

test('rng: fill() writes bytes from the stream, deterministically', () => {
  const a = new Uint8Array(7), b = new Uint8Array(7);
  new SeededRng(3).fill(a);
  new SeededRng(3).fill(b);
  assert.deepEqual(a, b);
  const w = new SeededRng(3).nextU32();
  assert.deepEqual([...a.subarray(0, 4)], [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]);
});

test('rng: no Math.random anywhere in src/', async () => {
  const { readdirSync, readFileSync, statSync } = await import('node:fs');
  const { join } = await import('node:path');
  const root = new URL('../../../src/', import.meta.url).pathname;
  const offenders: string[] = [];
  (function walk(dir: string) {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && /Math\.random\s*\(/.test(readFileSync(p, 'utf8'))) offenders.push(p);
    }
  })(root);
  assert.deepEqual(offenders, []);
});

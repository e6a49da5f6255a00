// Simulator tests with replayable seeds. The seed is XLIO_SEED when set ("random" picks
// one), otherwise a fixed hash of the test name, so CI runs are reproducible. A failing
// test prints the command that replays it.

import { randomInt } from 'node:crypto';
import { relative } from 'node:path';
import { test, type TestContext } from 'node:test';
import { hashSeed } from '../../src/rng.js';

export function seedFor(name: string): number {
  const env = process.env['XLIO_SEED'];
  if (env === 'random') return randomInt(0x100000000);
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`XLIO_SEED must be an integer in [0, 2^32) or "random", got ${JSON.stringify(env)}`);
    return n;
  }
  return hashSeed(name);
}

export function simTest(name: string, fn: (t: TestContext, seed: number) => void | Promise<void>): void {
  test(name, async (t) => {
    const seed = seedFor(name);
    try {
      await fn(t, seed);
    } catch (e) {
      const file = process.argv[1] === undefined ? '<test file>' : relative(process.cwd(), process.argv[1]);
      const pattern = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); // --test-name-pattern is a regular expression
      // Node 20 reads options only before the file names, so the pattern comes first.
      console.error(`replay: XLIO_SEED=${seed} node --test --test-name-pattern ${JSON.stringify(pattern)} ${file}`);
      throw e;
    }
  });
}

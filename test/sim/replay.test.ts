import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const caseFile = new URL('../support/sim-replay-case.js', import.meta.url).pathname;

function runNode(args: string[], seed?: string) {
  const env = { ...process.env };
  delete env['XLIO_SEED'];
  delete env['NODE_TEST_CONTEXT']; // run as a top-level test process, not as our child reporter
  if (seed !== undefined) env['XLIO_SEED'] = seed;
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env });
  const out = r.stdout + r.stderr;
  return { status: r.status, out, received: /received=([0-9,]*)/.exec(out)?.[1] };
}

test('sim: a failing simulator test prints its seed, and the printed command replays the same run', () => {
  const first = runNode(['--test', '--test-reporter=tap', caseFile], 'random');
  assert.notEqual(first.status, 0, 'the case fails on purpose');
  const m = /replay: XLIO_SEED=(\d+) node --test --test-name-pattern ("(?:[^"\\]|\\.)*") (\S+)/.exec(first.out);
  assert.ok(m, `no replay line in:\n${first.out}`);
  assert.ok(first.received !== undefined && first.received.length > 0);
  const [, seed, quoted, file] = m;
  const pattern = JSON.parse(quoted!) as string;
  assert.equal(pattern, 'replay case: lossy stream');
  // Exactly the printed command (the file name is relative to the current directory).
  const again = runNode(['--test', '--test-reporter=tap', '--test-name-pattern', pattern, file!], seed);
  assert.match(again.out, /# tests 1\b/);
  assert.equal(again.received, first.received, 'the printed seed reproduces the exact run');
  const bad = runNode(['--test', '--test-reporter=tap', caseFile], 'not-a-number');
  assert.match(bad.out, /XLIO_SEED must be an integer/);
});

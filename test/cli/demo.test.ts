// `xlio demo` (npm start): a short run prints the whole table with its ratios, writes the
// JSON results in their documented shape, keeps progress on stderr, rejects bad arguments
// with exit 2, and leaves no server process behind even when it is killed mid-run.
// Nothing here looks at how fast anything is: that is bench/'s business.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Procs, alive, childrenOf } from '../support/processes.js';
import { nativeUnavailableReason } from '../../src/native/addon.js';

// With the native addon the ping-pongs run again with xlio-ts's server in a second process.
const TWO_PROCESSES = nativeUnavailableReason() === null;
const TESTS = ['TCP ping-pong 64 B', 'UDP ping-pong 64 B', 'TCP bulk 8 KiB writes', ...(TWO_PROCESSES ? ['TCP ping-pong 64 B, two processes', 'UDP ping-pong 64 B, two processes'] : [])];
const MSG_SIZE = [64, 64, 8192, 64, 64];
const BULK = 2;
/** Progress steps: xlio-ts and node per test, except that the two-process rows reuse the node rows. */
const STEPS = TWO_PROCESSES ? 8 : 6;
const ROW_KEYS = ['test', 'impl', 'p50_us', 'p99_us', 'p999_us', 'msgs_per_s', 'gbit_per_s'];

test('xlio demo --seconds 0.3 --json FILE: the table with every row and ratio, the JSON results, progress on stderr', { timeout: 90_000 }, async (t) => {
  const procs = new Procs();
  const dir = mkdtempSync(join(tmpdir(), 'xlio-demo-'));
  t.after(async () => {
    await procs.killAll();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'demo.json');
  const d = await procs.runXlio(['demo', '--seconds', '0.3', '--json', file], 80_000);
  const out = d.describe();
  assert.ok(!d.timedOut, `did not finish\n${out}`);
  assert.equal(d.exit?.code, 0, out);

  // Progress: one line per measurement on stderr (not a TTY here), none on stdout.
  const progress = d.stderr.trimEnd().split('\n');
  assert.equal(progress.length, STEPS, out);
  progress.forEach((l, i) => assert.match(l, new RegExp(`^xlio demo: \\[${i + 1}/${STEPS}\\] .+ · (xlio-ts|node) .*\\(0\\.3 s\\)…$`), out));
  assert.doesNotMatch(d.stdout, /\[\d\/\d\]/, out);

  // The JSON: exactly { results: [two rows per test] }, xlio-ts then node for each test.
  const json = JSON.parse(readFileSync(file, 'utf8')) as { results: Record<string, unknown>[] };
  assert.deepEqual(Object.keys(json), ['results']);
  assert.equal(json.results.length, 2 * TESTS.length);
  json.results.forEach((row, i) => {
    const what = `row ${i}: ${JSON.stringify(row)}`;
    assert.deepEqual(Object.keys(row), ROW_KEYS, what);
    const k = Math.floor(i / 2);
    assert.equal(row.test, TESTS[k], what);
    assert.equal(row.impl, i % 2 === 0 ? 'xlio-ts' : 'node', what);
    for (const key of ['msgs_per_s', 'gbit_per_s']) {
      assert.ok(typeof row[key] === 'number' && Number.isFinite(row[key]) && (row[key] as number) > 0, `${what}: ${key}`);
    }
    // Gbit/s is the message rate times the message size.
    const gbit = ((row.msgs_per_s as number) * MSG_SIZE[k]! * 8) / 1e9;
    assert.ok(Math.abs((row.gbit_per_s as number) - gbit) <= 1e-9 * Math.max(1, gbit), `${what}: gbit_per_s vs msgs_per_s`);
    if (k !== BULK) {
      // Ping-pong rows measure latency: numbers, ordered.
      const [p50, p99, p999] = [row.p50_us, row.p99_us, row.p999_us] as number[];
      for (const v of [p50, p99, p999]) assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, what);
      assert.ok(p50! <= p99! && p99! <= p999!, what);
    } else {
      // The bulk row measures no latency: null, not 0 and not a made-up number.
      assert.deepEqual([row.p50_us, row.p99_us, row.p999_us], [null, null, null], what);
    }
  });

  // The table: a header, then per test an xlio-ts line, a node line and a ratio line.
  const lines = d.stdout.split('\n');
  const header = lines.findIndex((l) => /^test +impl +p50 µs +p99 µs +p99\.9 µs +msgs\/s +Gbit\/s$/.test(l));
  assert.ok(header >= 0, out);
  assert.match(lines[header + 1]!, /^[- ]+$/, out);
  const cells = (l: string): string[] => l.trim().split(/ {2,}/);
  for (let k = 0; k < TESTS.length; k++) {
    const [x, n, r] = [lines[header + 2 + 3 * k]!, lines[header + 3 + 3 * k]!, lines[header + 4 + 3 * k]!];
    assert.ok(x.startsWith(TESTS[k]!), `${TESTS[k]}\n${out}`);
    assert.deepEqual(cells(x).slice(1, 2), ['xlio-ts'], out);
    assert.deepEqual(cells(n).slice(0, 1), ['node'], out);
    const ratio = cells(r);
    assert.equal(ratio[0], 'ratio', out);
    assert.equal(ratio.length, 6, out);
    // Latency ratios for ping-pong, dashes for bulk; rate ratios everywhere.
    for (const [c, v] of ratio.slice(1).entries()) {
      if (k === BULK && c < 3) assert.equal(v, '–', out);
      else assert.match(v, /^\d+\.\d\d×$/, out);
    }
  }
  assert.match(d.stdout, new RegExp(`saved ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), out);
});

test('xlio demo: bad arguments exit 2 and say which; --help exits 0', { timeout: 60_000 }, async (t) => {
  const procs = new Procs();
  t.after(() => procs.killAll());
  const cases: [string[], RegExp][] = [
    [['--seconds', '0.1'], /--seconds needs a number from 0\.2 to 600, got "0\.1"/],
    [['--seconds=abc'], /--seconds needs a number/],
    [['--seconds'], /--seconds needs a number/],
    [['--seconds', '601'], /--seconds needs a number/],
    [['--json'], /--json needs a file name/],
    [['--json='], /--json needs a file name/],
    [['--fast'], /unknown option "--fast"/],
  ];
  const runs = await Promise.all(cases.map(([argv]) => procs.runXlio(['demo', ...argv], 20_000)));
  runs.forEach((r, i) => {
    assert.equal(r.exit?.code, 2, r.describe());
    assert.match(r.stderr, cases[i]![1], r.describe());
    assert.match(r.stderr, /usage: xlio demo/, r.describe());
    assert.equal(r.stdout, '', r.describe());
  });
  const h = await procs.runXlio(['demo', '--help'], 20_000);
  assert.equal(h.exit?.code, 0, h.describe());
  assert.match(h.stdout, /^usage: xlio demo \[--seconds N\] \[--json FILE\]/);
});

test('xlio demo: its kernel-side server processes end with it, even when it is killed', { timeout: 60_000 }, async (t) => {
  const procs = new Procs();
  const orphans: number[] = [];
  t.after(async () => {
    await procs.killAll();
    for (const pid of orphans) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  const d = procs.startXlio(['demo', '--seconds', '5']);
  // Step 2 is the first node measurement: its server child is running by then.
  await d.waitFor(/\[2\/\d\]/, 30_000);
  const kids = await childrenOf(d.pid);
  assert.ok(kids.length >= 1, `the demo's children: ${kids}\n${d.describe()}`);
  orphans.push(...kids);
  // Kill the demo alone (not its process group): its children must notice and stop.
  process.kill(d.pid, 'SIGKILL');
  await d.waitExit(5000);
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    const left = [];
    for (const pid of kids) if (await alive(pid)) left.push(pid);
    if (left.length === 0) return;
    await sleep(100);
  }
  assert.fail(`the demo's server processes outlived it: ${kids.join(', ')}`);
});

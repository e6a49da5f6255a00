// KI-17 (XLIO: "sfnt-stream UDP with poll loses sync messages / hangs"): `xlio perf`'s UDP
// ping-pong and throughput with each muxer (select, poll, epoll) complete, ten runs in a row,
// and every ping-pong request gets its reply, once and in order — also right after a
// flat-out stream has flooded the same server. --impl xlio busy-polls in worker threads, so
// the runs happen in a child process (perf-ki17-runner.ts) that this test bounds and kills.
// --impl os has no muxer of its own (libuv waits in epoll): it runs once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Procs } from '../support/processes.js';
import type { RunLine, RunnerLine } from './perf-ki17-runner.js';

const RUNNER = new URL('./perf-ki17-runner.js', import.meta.url).pathname;
const ROUNDS = 10;

/** Runs the runner for `arg` (bounded by `ms`) and returns its lines. */
async function runRunner(arg: string, ms: number): Promise<{ lines: RunnerLine[]; out: string }> {
  const procs = new Procs();
  try {
    const p = await procs.run(process.execPath, [RUNNER, arg], ms);
    const out = p.describe();
    const lines = p.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as RunnerLine);
    const hung = lines.find((l) => l.kind === 'hung');
    assert.equal(hung, undefined, `a run hung: ${JSON.stringify(hung)}\n${out}`);
    assert.ok(!p.timedOut, `the runner did not finish in ${ms} ms (after ${lines.length} runs)\n${out}`);
    const err = lines.find((l) => l.kind === 'error');
    assert.equal(err, undefined, `a run failed: ${JSON.stringify(err)}\n${out}`);
    assert.equal(p.exit?.code, 0, out);
    assert.deepEqual(lines.at(-1), { kind: 'done' }, out);
    assert.equal(p.stderr.trim(), '', out);
    return { lines, out };
  } finally {
    await procs.killAll();
  }
}

/** Ping-pong: a reply for every request it counted, none twice, none out of order. */
function assertEveryReply(r: RunLine, what: string): void {
  const s = JSON.stringify(r);
  assert.ok(r.sent > 0, `${what}: nothing sent: ${s}`);
  assert.equal(r.pongRequests, r.sent, `${what}: ping-pong asks a reply for every message: ${s}`);
  assert.equal(r.received, r.pongRequests, `${what}: replies vs requests: ${s}`);
  assert.equal(r.dropped, 0, `${what}: ${s}`);
  assert.equal(r.duplicates, 0, `${what}: ${s}`);
  assert.equal(r.outOfOrder, 0, `${what}: ${s}`);
  assert.equal(r.ignored, 0, `${what}: ${s}`);
}

/** Throughput: messages went out, none asked or got a reply. */
function assertStream(r: RunLine, what: string): void {
  const s = JSON.stringify(r);
  assert.ok(r.sent > 0, `${what}: nothing sent: ${s}`);
  assert.equal(r.pongRequests, 0, `${what}: ${s}`);
  assert.equal(r.received + r.duplicates + r.ignored, 0, `${what}: replies to a stream: ${s}`);
}

for (const iomux of ['select', 'poll', 'epoll'] as const) {
  test(`KI-17: xlio perf --impl xlio -F ${iomux}: UDP throughput then ping-pong, ${ROUNDS} rounds against one server, then once each via the API`, { timeout: 90_000 }, async () => {
    const { lines, out } = await runRunner(iomux, 80_000);
    const runs = lines.filter((l): l is RunLine => l.kind === 'run');
    const shared = runs.filter((r) => r.via === 'shared-server');
    assert.equal(shared.length, 2 * ROUNDS, out);
    for (const r of shared) {
      const what = `${r.mode} round ${r.round}`;
      if (r.mode === 'ping-pong') assertEveryReply(r, what);
      else assertStream(r, what);
    }
    // The server answered exactly the requests the clients counted, and received at least those.
    const server = lines.find((l) => l.kind === 'server');
    assert.ok(server !== undefined && server.kind === 'server', out);
    const pp = shared.filter((r) => r.mode === 'ping-pong');
    const sum = (rs: RunLine[], k: 'sent' | 'received'): number => rs.reduce((a, r) => a + r[k], 0);
    assert.equal(server.replied, sum(pp, 'received'), out);
    assert.ok(server.received >= sum(pp, 'sent') && server.received <= sum(shared, 'sent'), out);

    const api = runs.filter((r) => r.via === 'api');
    assert.deepEqual(
      api.map((r) => r.mode),
      ['ping-pong', 'throughput'],
      out,
    );
    assertEveryReply(api[0]!, 'ping-pong via runPingPong');
    assert.deepEqual(api[0]!.server, { received: api[0]!.sent, replied: api[0]!.received }, out);
    assertStream(api[1]!, 'throughput via runThroughput');
    assert.ok(api[1]!.server !== undefined && api[1]!.server.replied === 0 && api[1]!.server.received <= api[1]!.sent, out);
  });
}

test('KI-17: xlio perf --impl os: UDP ping-pong and throughput via the API (libuv polls; -F does not apply)', { timeout: 30_000 }, async () => {
  const { lines, out } = await runRunner('os', 25_000);
  const runs = lines.filter((l): l is RunLine => l.kind === 'run');
  assert.deepEqual(
    runs.map((r) => r.mode),
    ['ping-pong', 'throughput'],
    out,
  );
  assertEveryReply(runs[0]!, 'os ping-pong');
  assert.deepEqual(runs[0]!.server, { received: runs[0]!.sent, replied: runs[0]!.received }, out);
  assertStream(runs[1]!, 'os throughput');
  assert.ok(runs[1]!.server !== undefined && runs[1]!.server.replied === 0 && runs[1]!.server.received <= runs[1]!.sent, out);
});

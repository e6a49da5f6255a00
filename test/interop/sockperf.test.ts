// `xlio perf --impl os` and the real sockperf (3.7, Debian's package) as each other's peer
// over loopback, TCP and UDP, unprivileged:
//   - sockperf's server, our ping-pong, throughput and under-load clients (with -F select,
//     poll and epoll too): our client completes with sane numbers, and sockperf's server
//     counts the messages our client says it sent;
//   - our server, sockperf's ping-pong, throughput and under-load clients: sockperf's own
//     report says it completed, with replies and without complaint, and our server counts
//     what sockperf says it sent.
// Without sockperf installed (CI installs it: .ci/run), every test here skips.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Procs, type Proc, freePort } from '../support/processes.js';
import { PROBLEM, assertLatencyReport, assertThroughputReport, parseReport, stripAnsi, type PerfReport } from '../support/sockperf-report.js';

const probe = spawnSync('sockperf', ['--version'], { encoding: 'utf8' });
const HAVE_SOCKPERF = probe.error === undefined && /sockperf/.test(`${probe.stdout}${probe.stderr}`);
const skip = HAVE_SOCKPERF ? false : 'sockperf is not installed (apt-get install sockperf; CI installs it in .ci/run)';

const HOST = '127.0.0.1';
/** One client run; each takes about a second. */
const RUN_MS = 20_000;

type Proto = 'tcp' | 'udp';
const protoArgs = (p: Proto): string[] => (p === 'tcp' ? ['--tcp'] : []);

/** Starts `sockperf sr` on a port the kernel just had free; retries if someone took it meanwhile. */
async function startSockperfServer(procs: Procs, proto: Proto): Promise<{ srv: Proc; port: number }> {
  let last = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort(proto);
    const srv = procs.start('sockperf', ['sr', '-i', HOST, '-p', String(port), ...protoArgs(proto)]);
    try {
      // Printed once the socket is bound (and listening) and the server waits for messages.
      await srv.waitFor(/block on socket|ERROR/, 10_000);
    } catch (e) {
      last = (e as Error).message;
    }
    if (/block on socket/.test(srv.stdout) && !/ERROR/.test(srv.stdout + srv.stderr)) return { srv, port };
    last ||= srv.describe();
    await srv.stop('SIGKILL');
  }
  throw new Error(`sockperf sr did not start: ${last}`);
}

/** Starts our server on a port the kernel picks (-p 0), and reads the port it prints. */
async function startXlioServer(procs: Procs, proto: Proto): Promise<{ srv: Proc; port: number }> {
  const srv = procs.startXlio(['perf', 'sr', '-i', HOST, '-p', '0', ...protoArgs(proto)]);
  const m = await srv.waitFor(/PORT = +(\d+)/, 15_000);
  return { srv, port: Number(m[1]) };
}

function assertClean(out: string, what: string): void {
  const bad = stripAnsi(out)
    .split('\n')
    .filter((l) => PROBLEM.test(l));
  assert.deepEqual(bad, [], `${what}: complaints in the output:\n${out}`);
}

/** What a client run said about the messages it sent (and got back). */
interface Tally {
  sent: number;
  replies: number;
}

function tallyOf(r: PerfReport): Tally {
  return { sent: r.sent ?? r.tpSent ?? 0, replies: r.received ?? 0 };
}

const sum = (ts: Tally[], k: keyof Tally): number => ts.reduce((a, t) => a + t[k], 0);

// Two tests at a time (different ports, nothing shared): sockperf's client takes over three
// seconds for its shortest run (-t 1 plus its warm-up), so this halves the file's time.
describe('sockperf interop over loopback', { skip, concurrency: 2 }, () => {
  for (const proto of ['udp', 'tcp'] as const) {
    const P = proto.toUpperCase();

    test(`sockperf sr (${P}) as the server: xlio perf --impl os ping-pong, throughput, under-load as its client`, { skip, timeout: 60_000 }, async (t) => {
      const procs = new Procs();
      t.after(() => procs.killAll()); // whatever happens below
      const { srv, port } = await startSockperfServer(procs, proto);
      const tallies: Tally[] = [];
      const client = async (mode: string, extra: string[]): Promise<{ r: PerfReport; out: string }> => {
        const c = await procs.runXlio(['perf', mode, '-i', HOST, '-p', String(port), ...protoArgs(proto), ...extra], RUN_MS);
        const what = `xlio perf ${mode} ${extra.join(' ')} → sockperf sr ${P}`;
        assert.ok(!c.timedOut, `${what}: did not finish in ${RUN_MS} ms\n${c.describe()}`);
        assert.equal(c.exit?.code, 0, `${what}: ${c.describe()}`);
        assert.match(c.stdout, /Test ended/, c.describe());
        assertClean(c.stdout + c.stderr, what);
        const r = parseReport(c.stdout);
        tallies.push(tallyOf(r));
        return { r, out: c.describe() };
      };
      try {
        await t.test('ping-pong', async () => {
          const { r, out } = await client('pp', ['-t', '0.5']);
          assertLatencyReport(r, 'ping-pong', { dropsAllowed: false, out });
          // Ping-pong waits for each reply before the next message: every one came back.
          assert.equal(r.received, r.sent, out);
        });
        await t.test('ping-pong with bursts of 4 messages of 1400 bytes', async () => {
          const { r, out } = await client('pp', ['-n', '2000', '-b', '4', '-m', '1400']);
          assertLatencyReport(r, 'ping-pong -b 4 -m 1400', { dropsAllowed: false, out });
          assert.equal(r.sent, 2000, out);
          assert.equal(r.received, 2000, out);
          assert.match(out, /Summary: Latency of burst of 4 messages is/);
        });
        for (const F of ['select', 'poll', 'epoll']) {
          await t.test(`ping-pong -F ${F}`, async () => {
            const { r, out } = await client('pp', ['-n', '2000', '-F', F]);
            assertLatencyReport(r, `ping-pong -F ${F}`, { dropsAllowed: false, out });
            assert.equal(r.sent, 2000, out);
            assert.equal(r.received, 2000, out);
          });
        }
        await t.test('throughput', async () => {
          const { r, out } = await client('tp', ['-t', '0.5']);
          assertThroughputReport(r, 14, 'throughput', out);
        });
        await t.test('under-load', async () => {
          const { r, out } = await client('ul', ['-t', '0.5', '--mps', '10000']);
          assertLatencyReport(r, 'under-load', { dropsAllowed: true, out });
          // One pong request in 100 messages (sockperf's --reply-every default).
          assert.ok(r.received! <= Math.ceil(r.sent! / 100), out);
        });
      } finally {
        await srv.stop('SIGINT');
      }
      await t.test(`sockperf's server counted what our client sent`, () => {
        assert.equal(srv.exit?.code, 0, srv.describe());
        assertClean(srv.stdout + srv.stderr, 'sockperf sr');
        const handled = parseReport(srv.stdout).serverHandled;
        assert.ok(handled !== undefined, srv.describe());
        if (proto === 'tcp') assert.equal(handled, sum(tallies, 'sent'), `TCP loses nothing: ${JSON.stringify(tallies)}\n${srv.describe()}`);
        else {
          // UDP: every reply proves a received message; flat-out throughput may overrun the socket.
          assert.ok(handled >= sum(tallies, 'replies') && handled <= sum(tallies, 'sent'), `handled ${handled}; ${JSON.stringify(tallies)}`);
        }
      });
    });

    test(`xlio perf sr --impl os (${P}) as the server: sockperf ping-pong, throughput, under-load as its client`, { skip, timeout: 60_000 }, async (t) => {
      const procs = new Procs();
      t.after(() => procs.killAll()); // whatever happens below
      const { srv, port } = await startXlioServer(procs, proto);
      const tallies: Tally[] = [];
      const sockperf = async (mode: string, extra: string[] = []): Promise<{ r: PerfReport; out: string }> => {
        const c = await procs.run('sockperf', [mode, '-i', HOST, '-p', String(port), '-t', '1', ...protoArgs(proto), ...extra], RUN_MS);
        const what = `sockperf ${mode} ${extra.join(' ')} → xlio perf sr ${P}`;
        assert.ok(!c.timedOut, `${what}: did not finish in ${RUN_MS} ms\n${c.describe()}`);
        assert.equal(c.exit?.code, 0, `${what}: ${c.describe()}`);
        assert.match(c.stdout, /Test end \(interrupted by timer\)/, c.describe());
        assertClean(c.stdout + c.stderr, what);
        const r = parseReport(c.stdout);
        tallies.push(tallyOf(r));
        return { r, out: c.describe() };
      };
      try {
        await t.test('sockperf ping-pong', async () => {
          const { r, out } = await sockperf('pp');
          assertLatencyReport(r, 'sockperf ping-pong', { dropsAllowed: false, out });
          // sockperf stops its clock with one message in flight: it may miss the last reply.
          assert.ok(r.received! >= r.sent! - 1, out);
        });
        // Over TCP, bursts of larger messages reach our server cut at any byte: its framing at work.
        if (proto === 'tcp') {
          await t.test('sockperf ping-pong with bursts of 4 messages of 1400 bytes', async () => {
            const { r, out } = await sockperf('pp', ['-b', '4', '-m', '1400']);
            assertLatencyReport(r, 'sockperf ping-pong -b 4 -m 1400', { dropsAllowed: false, out });
            assert.ok(r.received! >= r.sent! - 4, out);
          });
        }
        await t.test('sockperf throughput', async () => {
          const { r, out } = await sockperf('tp');
          assertThroughputReport(r, 14, 'sockperf throughput', out);
        });
        await t.test('sockperf under-load', async () => {
          const { r, out } = await sockperf('ul');
          assertLatencyReport(r, 'sockperf under-load', { dropsAllowed: true, out });
        });
      } finally {
        await srv.stop('SIGINT');
      }
      await t.test('our server counted what sockperf sent and answered every reply sockperf got', () => {
        assert.equal(srv.exit?.code, 0, srv.describe());
        assertClean(srv.stdout + srv.stderr, 'xlio perf sr');
        const s = parseReport(srv.stdout);
        assert.ok(s.serverReceived !== undefined && s.serverReplied !== undefined, srv.describe());
        const sent = sum(tallies, 'sent'), replies = sum(tallies, 'replies');
        assert.ok(s.serverReplied >= replies && s.serverReplied <= s.serverReceived, `replied ${s.serverReplied}; ${JSON.stringify(tallies)}\n${srv.describe()}`);
        if (proto === 'tcp') {
          // Warm-up messages are not counted (sockperf's server does not count them either).
          assert.equal(s.serverReceived, sent, `TCP loses nothing: ${JSON.stringify(tallies)}\n${srv.describe()}`);
          assert.equal(s.serverConnections, tallies.length, srv.describe());
        } else assert.ok(s.serverReceived >= replies && s.serverReceived <= sent, `received ${s.serverReceived}; ${JSON.stringify(tallies)}`);
      });
    });
  }
});

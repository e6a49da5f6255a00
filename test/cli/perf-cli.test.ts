// `xlio perf`'s command line and report: sockperf's options in their long and short forms,
// clear errors (exit 2, naming the option), the summary as sockperf prints it (average,
// percentiles from <MIN> to <MAX>, one-way latency = RTT / 2), --full-log's CSV with one
// line per round trip; and the pieces under them — the message header and the framing of
// a TCP stream, and what a ping-pong client does when a reply is late or lost.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientConfig, reportLines, resultOf, runPingPong } from '../../src/cli/perf/api.js';
import { StreamFramer } from '../../src/cli/perf/framer.js';
import { FLAG_CLIENT, FLAG_PONG_REQUEST, HEADER_SIZE, emitPerfHeader, newClientMessage, parsePerfHeader, readSequence } from '../../src/cli/perf/message.js';
import { PERF_USAGE, parsePerfArgs } from '../../src/cli/perf/options.js';
import { PerfUsageError, REPLY_TIMEOUT_US, type ClientOutcome } from '../../src/cli/perf/transport.js';
import { ParseError } from '../../src/wire/error.js';
import { Procs } from '../support/processes.js';
import { assertLatencyReport, assertThroughputReport, parseReport } from '../support/sockperf-report.js';

// ---------------------------------------------------------------------------------------
// Options

test('perf options: sockperf short names, short and long forms, --opt=value, and the defaults', () => {
  for (const [name, sub] of [
    ['sr', 'server'],
    ['server', 'server'],
    ['pp', 'ping-pong'],
    ['ping-pong', 'ping-pong'],
    ['tp', 'throughput'],
    ['throughput', 'throughput'],
    ['ul', 'under-load'],
    ['under-load', 'under-load'],
  ]) {
    assert.equal(parsePerfArgs([name!]).sub, sub, name);
  }
  const d = parsePerfArgs(['pp']);
  assert.deepEqual(
    { impl: d.impl, proto: d.proto, host: d.host, port: d.port, msgSize: d.msgSize, seconds: d.seconds, count: d.count, mps: d.mps, burst: d.burst, iomux: d.iomux, fullLog: d.fullLog, help: d.help },
    { impl: 'os', proto: 'udp', host: undefined, port: 11111, msgSize: 14, seconds: 1, count: 0, mps: undefined, burst: 1, iomux: 'epoll', fullLog: undefined, help: false },
  );

  const short = parsePerfArgs(['pp', '--tcp', '-i', '10.1.2.3', '-p', '5001', '-m', '100', '-t', '2.5', '-n', '7', '--mps', '300', '-b', '4', '-F', 'p', '--full-log', 'x.csv', '--impl', 'xlio', '--spin-us', '-1']);
  const long = parsePerfArgs(['ping-pong', '--tcp', '--ip=10.1.2.3', '--port=5001', '--msg-size=100', '--time=2.5', '--number-of-packets=7', '--mps=300', '--burst=4', '--iomux-type=poll', '--full-log=x.csv', '--impl=xlio', '--spin-us=-1']);
  const spaced = parsePerfArgs(['pp', '--tcp', '--ip', '10.1.2.3', '--port', '5001', '--msg-size', '100', '--time', '2.5', '--number-of-packets', '7', '--pps', '300', '--burst', '4', '--iomux-type', 'poll', '--full-log', 'x.csv', '--impl', 'xlio', '--spin-us', '-1']);
  const want = { sub: 'ping-pong', impl: 'xlio', proto: 'tcp', host: '10.1.2.3', port: 5001, msgSize: 100, seconds: 2.5, count: 7, mps: 300, burst: 4, replyEvery: undefined, iomux: 'poll', iomuxGiven: true, fullLog: 'x.csv', spinUs: -1, processes: false, link: undefined, addr: undefined, help: false };
  assert.deepEqual(short, want);
  assert.deepEqual(long, want);
  assert.deepEqual(spaced, want);

  const wired = parsePerfArgs(['sr', '--impl', 'xlio', '--link', 'xdp:veth0,netns=x,mode=skb', '--addr=198.18.0.1/24']);
  assert.deepEqual([wired.link, wired.addr], ['xdp:veth0,netns=x,mode=skb', '198.18.0.1/24']);
  assert.equal(parsePerfArgs(['tp', '--mps=max']).mps, 'max');
  assert.equal(parsePerfArgs(['ul', '--reply-every', '10']).replyEvery, 10);
  for (const [v, m] of [
    ['s', 'select'],
    ['select', 'select'],
    ['p', 'poll'],
    ['e', 'epoll'],
  ]) {
    assert.equal(parsePerfArgs(['pp', '-F', v!]).iomux, m);
  }
  assert.equal(parsePerfArgs(['sr', '-p', '0']).port, 0, 'a server may ask for any free port');
  assert.equal(parsePerfArgs(['pp', '--impl', 'xlio', '--processes']).processes, true);
  assert.throws(() => parsePerfArgs(['pp', '--processes=1']), /--processes takes no value/);
  assert.equal(parsePerfArgs(['pp', '--help']).help, true);
  assert.equal(parsePerfArgs([]).help, true);
});

test('perf options: every bad value is a PerfUsageError that names the option', () => {
  const cases: [string[], RegExp][] = [
    [['bogus'], /unknown perf mode "bogus"/],
    [['pp', '--frob'], /unknown option "--frob"/],
    [['pp', '-p'], /-p needs a value/],
    [['pp', '-p', 'abc'], /-p needs an integer, got "abc"/],
    [['pp', '--port=70000'], /--port must be in 1\.\.65535, got 70000/],
    [['pp', '-p', '0'], /-p must be in 1\.\.65535/],
    [['pp', '-m', '13'], /-m must be in 14\.\.65507, got 13/],
    [['pp', '--msg-size=65508'], /--msg-size must be in 14\.\.65507/],
    [['pp', '-t', '0'], /-t needs a number of seconds/],
    [['pp', '--time=-1'], /--time needs a number of seconds/],
    [['pp', '-t', '1e3'], /-t needs a number of seconds/],
    [['pp', '-n', '0'], /-n must be in 1\.\./],
    [['pp', '--mps', 'lots'], /--mps needs an integer, got "lots"/],
    [['pp', '-b', '0'], /-b must be in 1\.\./],
    [['pp', '-F', 'kqueue'], /-F must be select, poll or epoll, got "kqueue"/],
    [['pp', '--iomux-type=x'], /--iomux-type must be select, poll or epoll/],
    [['pp', '--impl', 'dpdk'], /--impl must be os or xlio, got "dpdk"/],
    [['pp', '--tcp=yes'], /--tcp takes no value/],
    [['pp', '-i', ''], /-i needs an address/],
    [['pp', '--full-log='], /--full-log needs a file name/],
    [['pp', '--spin-us', '-2'], /--spin-us needs an integer/],
    [['pp', '--reply-every', '5'], /--reply-every applies to under-load only/],
    [['sr', '-n', '5'], /client options/],
  ];
  for (const [argv, re] of cases) {
    assert.throws(() => parsePerfArgs(argv), (e: Error) => e instanceof PerfUsageError && re.test(e.message), argv.join(' '));
  }
});

test('xlio perf: a bad option exits 2 with a message naming it and the usage; --help exits 0 with the usage', async (t) => {
  const procs = new Procs();
  t.after(() => procs.killAll());
  const runs = await Promise.all([
    procs.runXlio(['perf', 'pp', '-p', 'abc'], 20_000),
    procs.runXlio(['perf', 'tp', '--msg-size=5'], 20_000),
    procs.runXlio(['perf', 'ul', '-F', 'kqueue'], 20_000),
    procs.runXlio(['perf', 'sr', '--impl', 'xlio'], 20_000),
    procs.runXlio(['perf', 'frobnicate'], 20_000),
    procs.runXlio(['perf', 'pp', '--impl', 'xlio', '-i', '10.0.0.1'], 20_000),
    procs.runXlio(['perf', 'pp', '--impl', 'xlio', '--link', 'ether:x', '--addr', '198.18.0.1/24', '-i', '198.18.0.2'], 20_000),
    procs.runXlio(['perf', 'pp', '--impl', 'xlio', '--link', 'packet:veth0', '-i', '198.18.0.2'], 20_000),
    procs.runXlio(['perf', 'pp', '--link', 'packet:veth0', '--addr', '198.18.0.1/24', '-i', '198.18.0.2'], 20_000),
    procs.runXlio(['perf', 'pp', '--impl', 'xlio', '--link', 'packet:veth0', '--addr', '198.18.0.1'], 20_000),
  ]);
  const names = [
    /-p needs an integer, got "abc"/,
    /--msg-size must be in 14\.\.65507, got 5/,
    /-F must be select, poll or epoll, got "kqueue"/,
    /--impl xlio serves on a real link: give --link/,
    /unknown perf mode "frobnicate"/,
    /to reach 10\.0\.0\.1, give --link and --addr/,
    /--link "ether:x": unknown link kind "ether"/,
    /--link and --addr go together/,
    /--link applies to --impl xlio/,
    /--addr needs an IPv4 ADDRESS\/PREFIX/,
  ];
  runs.forEach((r, i) => {
    assert.equal(r.exit?.code, 2, r.describe());
    assert.match(r.stderr, /^xlio perf: /, r.describe());
    assert.match(r.stderr, names[i]!, r.describe());
    assert.equal(r.stdout, '', r.describe());
  });
  // Parse errors also show the usage (the last two fail after parsing: the message is enough).
  for (const r of runs.slice(0, 3)) assert.ok(r.stderr.includes(PERF_USAGE), r.describe());

  for (const argv of [['perf', '--help'], ['perf', 'pp', '--help'], ['perf', 'sr', '-h']]) {
    const h = await procs.runXlio(argv, 20_000);
    assert.equal(h.exit?.code, 0, h.describe());
    assert.equal(h.stdout, PERF_USAGE, h.describe());
    assert.equal(h.stderr, '', h.describe());
  }
  for (const opt of ['--tcp', '--ip', '--port', '--msg-size', '--time', '--number-of-packets', '--mps', '--burst', '--iomux-type', '--full-log', '--impl', '-i,', '-p,', '-m,', '-t,', '-n,', '-b,', '-F,']) {
    assert.ok(PERF_USAGE.includes(opt), `usage lists ${opt}`);
  }
});

// ---------------------------------------------------------------------------------------
// The report

/** An outcome of `n` round trips of 2, 4, … 2n µs (one-way 1 … n µs), sent 10 µs apart. */
function syntheticOutcome(n: number): ClientOutcome {
  const tx = new Float64Array(n), rtt = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    tx[i] = 1_000_000 + 10 * i;
    rtt[(i * 7919) % n] = 2 * (i + 1); // shuffled: the report sorts
  }
  return {
    counters: { sent: n, pongRequests: n, received: n, dropped: 0, duplicates: 0, outOfOrder: 0, ignored: 0, startUs: 1_000_000, endUs: 1_000_000 + 10 * n },
    tx,
    rtt,
    samples: n,
  };
}

test('perf report: sockperf lines, one-way latency = RTT / 2, percentile p is sample round(p·n) of n', () => {
  const cfg = clientConfig('ping-pong', { count: 1000 });
  const r = resultOf(cfg, 'os', syntheticOutcome(1000));
  const lines = reportLines(r, cfg);
  assert.deepEqual(lines, [
    '[Total Run] RunTime=0.010 sec; Warm up packets=0; SentMessages=1000; ReceivedMessages=1000',
    '========= Printing statistics for Server No: 0',
    '[Valid Duration] RunTime=0.012 sec; SentMessages=1000; ReceivedMessages=1000',
    '====> avg-latency=500.500 (std-dev=288.675)',
    '# dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0',
    'Summary: Latency is 500.500 usec',
    'Total 1000 observations; each percentile contains 10.00 observations',
    '---> <MAX> observation = 1000.000',
    '---> percentile 99.999 = 1000.000',
    '---> percentile 99.990 = 1000.000',
    '---> percentile 99.900 =  999.000',
    '---> percentile 99.000 =  990.000',
    '---> percentile 90.000 =  900.000',
    '---> percentile 75.000 =  750.000',
    '---> percentile 50.000 =  500.000',
    '---> percentile 25.000 =  250.000',
    '---> <MIN> observation =    1.000',
  ]);
  // The programmatic result carries the same numbers, RTT and one-way.
  assert.equal(r.rttUs!.p50, 1000);
  assert.equal(r.latencyUs!.p50, 500);
  assert.equal(r.latencyUs!.p9999, 1000);
  assert.equal(r.msgsPerSec, 1000 / 0.01);

  const tp = clientConfig('throughput', { count: 1000, msgSize: 1024 });
  assert.deepEqual(reportLines(resultOf(tp, 'os', { ...syntheticOutcome(0), counters: { ...syntheticOutcome(0).counters, sent: 1000, endUs: 1_000_000 + 10_000 } }), tp), [
    'Total of 1000 messages sent in 0.010 sec',
    '',
    'Summary: Message Rate is 100000 [msg/sec]',
    'Summary: BandWidth is 97.656 MBps (781.250 Mbps)',
  ]);

  // No replies at all: sockperf's own words.
  const none = syntheticOutcome(0);
  none.counters.sent = 5;
  assert.ok(reportLines(resultOf(cfg, 'os', none), cfg).includes('No messages were received from the server. Is the server down?'));
});

/** `xlio perf sr` on a port the kernel picks; returns its port. */
async function startServer(procs: Procs, proto: 'tcp' | 'udp'): Promise<number> {
  const srv = procs.startXlio(['perf', 'sr', '-i', '127.0.0.1', '-p', '0', ...(proto === 'tcp' ? ['--tcp'] : [])]);
  const m = await srv.waitFor(/PORT = +(\d+)/, 15_000);
  return Number(m[1]);
}

for (const proto of ['udp', 'tcp'] as const) {
  test(`xlio perf ping-pong (${proto.toUpperCase()}): the summary, and --full-log's CSV with one line per round trip that the summary is made of`, { timeout: 60_000 }, async (t) => {
    const procs = new Procs();
    const dir = mkdtempSync(join(tmpdir(), 'xlio-perf-'));
    t.after(async () => {
      await procs.killAll();
      rmSync(dir, { recursive: true, force: true });
    });
    const port = await startServer(procs, proto);
    const log = join(dir, 'full.csv');
    const N = 400;
    const c = await procs.runXlio(['perf', 'pp', '-i', '127.0.0.1', '-p', String(port), '-n', String(N), '--mps', '4000', '--full-log', log, ...(proto === 'tcp' ? ['--tcp'] : [])], 30_000);
    assert.equal(c.exit?.code, 0, c.describe());
    const out = c.describe();
    for (const l of c.stdout.trimEnd().split('\n')) assert.match(l, /^xlio perf: |^\[ 0\] IP = 127\.0\.0\.1 +PORT = +\d+ # (TCP|UDP)$|^$/, out);
    const r = parseReport(c.stdout);
    assertLatencyReport(r, 'ping-pong', { dropsAllowed: false, out });
    assert.equal(r.sent, N, out);
    assert.equal(r.received, N, out);
    assert.equal(r.observations, N, `a counted run keeps every sample\n${out}`);
    assert.match(c.stdout, /Warm up packets=0/);

    // The file: sockperf's parameters header, the same report, then the CSV.
    const text = readFileSync(log, 'utf8');
    const rows = text.split('\n');
    assert.equal(rows[0], '------------------------------');
    assert.equal(rows[1], `test was performed using the following parameters: --mps=4000 --burst=1 --reply-every=1 --msg-size=14 --number-of-packets=${N}`);
    assert.equal(rows[2], '------------------------------');
    assert.deepEqual(parseReport(text), r, 'the file repeats the report');
    const head = rows.indexOf('packet, txTime(sec), rxTime(sec), latency(usec)');
    assert.ok(head > 0, text);
    const csv = rows.slice(head + 1).filter((l) => /^\d/.test(l));
    assert.equal(csv.length, N, 'one line per round trip');
    assert.equal(rows.slice(head + 1 + N).join('\n'), '------------------------------\n');
    const lat: number[] = [];
    csv.forEach((l, i) => {
      const m = /^(\d+), (\d+\.\d{9}), (\d+\.\d{9}), (\d+\.\d{3})$/.exec(l);
      assert.ok(m, `CSV line ${i}: ${JSON.stringify(l)}`);
      assert.equal(Number(m[1]), i);
      const tx = Number(m[2]), rx = Number(m[3]), l1 = Number(m[4]);
      assert.ok(rx > tx, l);
      // latency is one-way: (rx − tx) / 2, in µs (the times are rounded to ns, the latency to 1 ns).
      assert.ok(Math.abs(l1 - ((rx - tx) * 1e6) / 2) <= 0.0021, `${l}: ${((rx - tx) * 1e6) / 2}`);
      if (i > 0) assert.ok(tx >= Number(/^\d+, (\d+\.\d+)/.exec(csv[i - 1]!)![1]), 'sent in order');
      lat.push(l1);
    });
    // The summary is these samples: sorted, sample round(p·n) − 1 (sockperf's rule).
    lat.sort((a, b) => a - b);
    const at = (p: number): number => lat[Math.min(N - 1, Math.max(0, Math.floor(0.5 + p * N) - 1))]!;
    const p = r.percentiles!;
    const near = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 0.0011, `${what}: report ${a}, CSV ${b}`);
    near(p.max, lat[N - 1]!, 'max');
    near(p.min, lat[0]!, 'min');
    near(p.p50, at(0.5), 'p50');
    near(p.p90, at(0.9), 'p90');
    near(p.p99, at(0.99), 'p99');
    near(p.p999, at(0.999), 'p99.9');
    near(p.p9999, at(0.9999), 'p99.99');
    near(r.avgLatency!, lat.reduce((a, b) => a + b, 0) / N, 'avg');
  });
}

test('xlio perf throughput and under-load (UDP) against our own server: their summaries', { timeout: 60_000 }, async (t) => {
  const procs = new Procs();
  t.after(() => procs.killAll());
  const port = await startServer(procs, 'udp');
  const tp = await procs.runXlio(['perf', 'tp', '-p', String(port), '-n', '5000', '-m', '100'], 30_000);
  assert.equal(tp.exit?.code, 0, tp.describe());
  const r = parseReport(tp.stdout);
  assertThroughputReport(r, 100, 'throughput', tp.describe());
  assert.equal(r.tpSent, 5000, tp.describe());

  const ul = await procs.runXlio(['perf', 'ul', '-p', String(port), '-t', '0.5', '--mps', '4000', '--reply-every', '20'], 30_000);
  assert.equal(ul.exit?.code, 0, ul.describe());
  const u = parseReport(ul.stdout);
  assertLatencyReport(u, 'under-load', { dropsAllowed: true, out: ul.describe() });
  assert.match(ul.stdout, /Warm up time=200 msec/, 'a 0.5 s run keeps sockperf\'s proportions: 40 % warm-up');
  assert.ok(u.received! <= Math.floor(u.sent! / 20), ul.describe());
});

// ---------------------------------------------------------------------------------------
// The client's bookkeeping when replies are late or lost

test('ping-pong over TCP waits for a late reply: nothing dropped, nothing duplicated', { timeout: 30_000 }, async () => {
  // A server that holds its first reply longer than a UDP ping-pong would wait for it.
  const holdMs = REPLY_TIMEOUT_US / 1000 + 300;
  let first = true;
  const conns = new Set<net.Socket>();
  const server = net.createServer((s) => {
    conns.add(s);
    const framer = new StreamFramer(0);
    s.on('data', (chunk: Buffer) => {
      framer.push(chunk, 0, chunk.length, {
        onMessage(b, off, len) {
          const reply = Buffer.from(b.subarray(off, off + len));
          reply[9] = reply[9]! & ~FLAG_CLIENT;
          if (first) {
            first = false;
            setTimeout(() => s.write(reply), holdMs);
          } else s.write(reply);
        },
      });
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const r = await runPingPong({ proto: 'tcp', host: '127.0.0.1', port, count: 5 });
    assert.deepEqual([r.sent, r.received, r.dropped, r.duplicates, r.outOfOrder], [5, 5, 0, 0, 0]);
    assert.ok(r.rttUs!.max >= holdMs * 1000 - 20_000, `the late reply's RTT: ${r.rttUs!.max}`);
  } finally {
    for (const s of conns) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('ping-pong over UDP gives up on a lost reply after a while, counts it dropped, and goes on', { timeout: 30_000 }, async () => {
  // A server that drops the second request and answers the rest.
  const sock = dgram.createSocket('udp4');
  let n = 0;
  sock.on('message', (msg, from) => {
    if (++n === 2) return;
    msg[9] = msg[9]! & ~FLAG_CLIENT;
    sock.send(msg, from.port, from.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  try {
    const r = await runPingPong({ proto: 'udp', host: '127.0.0.1', port: sock.address().port, count: 4 });
    assert.deepEqual([r.sent, r.received, r.dropped, r.duplicates, r.outOfOrder], [4, 3, 1, 0, 0]);
    assert.equal(r.summary!.dropped, 1);
    assert.equal(r.summary!.observations, 3);
  } finally {
    await new Promise<void>((r) => sock.close(() => r()));
  }
});

// ---------------------------------------------------------------------------------------
// Message and framing

test('sockperf header: big-endian sequence, flags and length; bad lengths are values, not exceptions', () => {
  const m = newClientMessage(20, FLAG_CLIENT | FLAG_PONG_REQUEST);
  emitPerfHeader({ sequence: 0x1_0000_0002, flags: FLAG_CLIENT | FLAG_PONG_REQUEST, length: 20 }, m);
  assert.deepEqual([...m.subarray(0, HEADER_SIZE)], [0, 0, 0, 1, 0, 0, 0, 2, 0, 3, 0, 0, 0, 20]);
  assert.deepEqual(parsePerfHeader(m), { sequence: 0x1_0000_0002, flags: 3, length: 20 });
  const short = parsePerfHeader(m.subarray(0, 13));
  assert.ok(short instanceof ParseError && short.kind === 'Truncated');
  const bad = Uint8Array.from(m);
  bad.set([0, 0, 0, 13], 10);
  const mal = parsePerfHeader(bad);
  assert.ok(mal instanceof ParseError && mal.kind === 'Malformed');
});

test('TCP framing: messages cut at every byte boundary come out whole and in order; an impossible length stops the stream', () => {
  const sizes = [14, 15, 100, 1400, 14, 65507, 33];
  const stream: number[] = [];
  sizes.forEach((size, i) => {
    const m = newClientMessage(size);
    emitPerfHeader({ sequence: i + 1, flags: FLAG_CLIENT, length: size }, m);
    stream.push(...m);
  });
  const bytes = Uint8Array.from(stream);
  for (const step of [1, 7, 13, 14, 1000, 70000]) {
    const framer = new StreamFramer(1 << 16);
    const got: [number, number][] = [];
    const sink = { onMessage: (b: Uint8Array, off: number, len: number) => void got.push([readSequence(b, off), len]) };
    for (let at = 0; at < bytes.length; at += step) {
      // Half the pieces through rx (recv into the framer's own buffer), half as foreign chunks.
      const piece = bytes.subarray(at, Math.min(bytes.length, at + step));
      if ((at / step) % 2 === 0 && piece.length <= framer.rx.length) {
        framer.rx.set(piece);
        assert.ok(framer.received(piece.length, sink));
      } else assert.ok(framer.push(piece, 0, piece.length, sink));
    }
    assert.deepEqual(
      got,
      sizes.map((s, i) => [i + 1, s]),
      `pieces of ${step}`,
    );
    assert.equal(framer.partial, false);
  }
  const framer = new StreamFramer(0);
  const m = newClientMessage(14);
  m.set([0, 1, 0, 0], 10); // 65536 > 65507
  assert.equal(framer.push(m, 0, m.length, { onMessage: () => assert.fail('no message') }), false);
  assert.equal(framer.invalid, true);
});

test('xlio perf --processes: the server in a second process over a named segment; without the native addon, a clear usage error', { timeout: 60_000 }, async () => {
  const { spawnSync } = await import('node:child_process');
  const cli = new URL('../../src/cli/xlio.js', import.meta.url).pathname;
  const off = spawnSync(process.execPath, [cli, 'perf', 'pp', '--impl', 'xlio', '--processes', '-t', '0.2'], { env: { ...process.env, XLIO_NO_NATIVE: '1' }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(off.status, 2, off.stderr);
  assert.match(off.stderr, /two processes over shared memory need the native addon, which is not available: the native addon is disabled by XLIO_NO_NATIVE=1/);
  assert.equal(spawnSync(process.execPath, [cli, 'perf', 'pp', '--processes', '-t', '0.2'], { encoding: 'utf8', timeout: 30_000 }).status, 2, '--processes needs --impl xlio');
  const { nativeUnavailableReason } = await import('../../src/native/addon.js');
  if (nativeUnavailableReason() !== null) return; // the addon is not built here: only the error path can be checked
  for (const proto of ['udp', 'tcp'] as const) {
    const r = await runPingPong({ impl: 'xlio', proto, msgSize: 64, seconds: 0.3, processes: true });
    assert.ok(r.received > 0 && r.received === r.sent - r.dropped, `${proto}: sent ${r.sent}, received ${r.received}, dropped ${r.dropped}`);
    assert.equal(r.duplicates, 0);
    assert.ok(r.latencyUs !== null && r.latencyUs.p50 > 0, proto);
  }
});

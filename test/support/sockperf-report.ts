// Reads the report sockperf prints — and `xlio perf`, which prints the same lines with its
// own prefix — into numbers, and the checks every sane report passes.

import assert from 'node:assert/strict';

export interface Percentiles {
  max: number;
  p99999: number;
  p9999: number;
  p999: number;
  p99: number;
  p90: number;
  p75: number;
  p50: number;
  p25: number;
  min: number;
}

export interface PerfReport {
  /** [Total Run] */
  runSeconds?: number;
  sent?: number;
  received?: number;
  /** [Valid Duration] */
  validSent?: number;
  validReceived?: number;
  avgLatency?: number;
  stdDev?: number;
  dropped?: number;
  duplicated?: number;
  outOfOrder?: number;
  /** "Summary: Latency is X usec" (or "of burst of N messages is"). */
  summaryLatency?: number;
  observations?: number;
  percentiles?: Percentiles;
  /** Throughput: "Total of N messages sent in S sec", message rate, MBps. */
  tpSent?: number;
  tpSeconds?: number;
  msgRate?: number;
  mbps?: number;
  /** sockperf's server: "Total N messages received and handled". */
  serverHandled?: number;
  /** xlio perf's server: "received N messages, replied R, C connections". */
  serverReceived?: number;
  serverReplied?: number;
  serverConnections?: number;
}

/** Lines that mean something went wrong, in either program's output. */
export const PROBLEM = /ERROR|WARNING|\bError\b|error:|No messages were|No valid observations|Invalid|program exits|Can`t/;

const num = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));

export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '');
}

export function parseReport(raw: string): PerfReport {
  const t = stripAnsi(raw);
  const r: PerfReport = {};
  let m = /\[Total Run\] RunTime=([\d.]+) sec; (?:Warm up time=\d+ msec|Warm up packets=\d+); SentMessages=(\d+); ReceivedMessages=(\d+)/.exec(t);
  if (m) [r.runSeconds, r.sent, r.received] = [num(m[1]), num(m[2]), num(m[3])];
  m = /\[Valid Duration\] RunTime=[\d.]+ sec; SentMessages=(\d+); ReceivedMessages=(\d+)/.exec(t);
  if (m) [r.validSent, r.validReceived] = [num(m[1]), num(m[2])];
  m = /====> avg-latency=([\d.]+) \(std-dev=([\d.]+)\)/.exec(t);
  if (m) [r.avgLatency, r.stdDev] = [num(m[1]), num(m[2])];
  m = /# dropped messages = (\d+); # duplicated messages = (\d+); # out-of-order messages = (\d+)/.exec(t);
  if (m) [r.dropped, r.duplicated, r.outOfOrder] = [num(m[1]), num(m[2]), num(m[3])];
  m = /Summary: Latency (?:of burst of \d+ messages )?is ([\d.]+) usec/.exec(t);
  if (m) r.summaryLatency = num(m[1]);
  m = /Total (\d+) observations/.exec(t);
  if (m) r.observations = num(m[1]);
  const max = /---> <MAX> observation = +([\d.]+)/.exec(t);
  const min = /---> <MIN> observation = +([\d.]+)/.exec(t);
  const pct = new Map<string, number>();
  for (const p of t.matchAll(/---> percentile +([\d.]+) = +([\d.]+)/g)) pct.set(p[1]!, Number(p[2]));
  if (max && min) {
    const at = (k: string): number => {
      const v = pct.get(k);
      assert.ok(v !== undefined, `no percentile ${k} line in:\n${t}`);
      return v;
    };
    r.percentiles = {
      max: Number(max[1]),
      p99999: at('99.999'),
      p9999: at('99.990'),
      p999: at('99.900'),
      p99: at('99.000'),
      p90: at('90.000'),
      p75: at('75.000'),
      p50: at('50.000'),
      p25: at('25.000'),
      min: Number(min[1]),
    };
  }
  m = /Total of (\d+) messages sent in ([\d.]+) sec/.exec(t);
  if (m) [r.tpSent, r.tpSeconds] = [num(m[1]), num(m[2])];
  m = /Summary: Message Rate is (\d+) \[msg\/sec\]/.exec(t);
  if (m) r.msgRate = num(m[1]);
  m = /Summary: BandWidth is ([\d.]+) MBps/.exec(t);
  if (m) r.mbps = num(m[1]);
  m = /Total (\d+) messages received and handled/.exec(t);
  if (m) r.serverHandled = num(m[1]);
  m = /received (\d+) messages, replied (\d+), (\d+) connections/.exec(t);
  if (m) [r.serverReceived, r.serverReplied, r.serverConnections] = [num(m[1]), num(m[2]), num(m[3])];
  return r;
}

/** The percentiles climb from <MIN> to <MAX>, and the average lies between them. */
export function assertOrdered(p: Percentiles, avg: number | undefined, what: string): void {
  const seq: [string, number][] = [
    ['min', p.min],
    ['p25', p.p25],
    ['p50', p.p50],
    ['p75', p.p75],
    ['p90', p.p90],
    ['p99', p.p99],
    ['p99.9', p.p999],
    ['p99.99', p.p9999],
    ['p99.999', p.p99999],
    ['max', p.max],
  ];
  assert.ok(p.min > 0, `${what}: <MIN> ${p.min} should be > 0`);
  for (let i = 1; i < seq.length; i++) {
    assert.ok(seq[i - 1]![1] <= seq[i]![1], `${what}: ${seq[i - 1]![0]} ${seq[i - 1]![1]} > ${seq[i]![0]} ${seq[i]![1]}`);
  }
  if (avg !== undefined) assert.ok(avg >= p.min && avg <= p.max, `${what}: average ${avg} outside [${p.min}, ${p.max}]`);
}

/**
 * A ping-pong or under-load report that completed: messages both ways, a latency summary
 * whose numbers agree, nothing duplicated or reordered (loopback and TCP do neither), and —
 * unless `dropsAllowed` — nothing dropped. Under-load allows drops: a reply still on its way
 * when the run ends counts as dropped, and on a busy machine one may well be.
 */
export function assertLatencyReport(r: PerfReport, what: string, opts: { dropsAllowed: boolean; out: string }): void {
  const ctx = `${what}\n${opts.out}`;
  assert.ok(r.sent !== undefined && r.received !== undefined, `${what}: no [Total Run] line\n${ctx}`);
  assert.ok(r.sent > 0, `${what}: nothing sent\n${ctx}`);
  assert.ok(r.received > 0, `${what}: no replies\n${ctx}`);
  assert.ok(r.received <= r.sent, `${what}: more replies (${r.received}) than messages (${r.sent})\n${ctx}`);
  assert.ok(r.observations !== undefined && r.observations > 0, `${what}: no observations\n${ctx}`);
  assert.ok(r.observations <= r.received, `${what}: ${r.observations} observations from ${r.received} replies\n${ctx}`);
  assert.equal(r.validReceived, r.observations, `${what}: [Valid Duration] ReceivedMessages vs Total observations\n${ctx}`);
  assert.ok(r.avgLatency !== undefined && r.summaryLatency !== undefined, `${what}: no average latency\n${ctx}`);
  assert.equal(r.summaryLatency, r.avgLatency, `${what}: Summary latency is the average\n${ctx}`);
  assert.ok(r.percentiles !== undefined, `${what}: no percentiles\n${ctx}`);
  assertOrdered(r.percentiles, r.avgLatency, what);
  assert.ok(r.dropped !== undefined, `${what}: no dropped/duplicated line\n${ctx}`);
  assert.equal(r.duplicated, 0, `${what}: duplicated messages\n${ctx}`);
  assert.equal(r.outOfOrder, 0, `${what}: out-of-order messages\n${ctx}`);
  if (!opts.dropsAllowed) assert.equal(r.dropped, 0, `${what}: dropped messages\n${ctx}`);
}

/** A throughput report: messages sent, and a rate and bandwidth that agree with each other. */
export function assertThroughputReport(r: PerfReport, msgSize: number, what: string, out: string): void {
  assert.ok(r.tpSent !== undefined && r.tpSent > 0, `${what}: no "Total of N messages sent"\n${out}`);
  assert.ok(r.tpSeconds !== undefined && r.tpSeconds > 0, `${what}: no run time\n${out}`);
  assert.ok(r.msgRate !== undefined && r.msgRate > 0, `${what}: no message rate\n${out}`);
  // Both programs round the rate to whole messages, then print MBps = rate × size / 2^20 to 3 decimals.
  assert.ok(r.mbps !== undefined && Math.abs(r.mbps - (r.msgRate * msgSize) / 1048576) <= 0.0011, `${what}: BandWidth ${r.mbps} MBps for ${r.msgRate} msg/s of ${msgSize} B\n${out}`);
}

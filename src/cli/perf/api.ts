// The programmatic face of `xlio perf`: run a sockperf-compatible test with either
// transport and get numbers back (the demo and benchmarks use this; the command line
// prints the same result the way sockperf does).

import { OsTransport } from './os-transport.js';
import type { PerfMode, ServerCounters } from './roles.js';
import { RttRecorder, fullLogLines, percentileLines, summarize, type LatencySummary, type Percentiles } from './stats.js';
import { PerfUsageError, type ClientConfig, type ClientOutcome, type Impl, type Iomux, type PerfServerHandle, type PerfTransport, type Proto } from './transport.js';
import { SERVER_IP } from './xlio-host.js';
import { XlioTransport } from './xlio-transport.js';
import type { WireConfig } from './xlio-worker.js';

export type { Impl, Iomux, PerfMode, Proto, Percentiles };

export interface PerfRunOptions {
  impl?: Impl;
  proto?: Proto;
  /** Bytes per message, header included (sockperf -m; default 14). */
  msgSize?: number;
  /** Run time (default 1 s) unless `count` is given. */
  seconds?: number;
  /** Messages to send (sockperf -n). */
  count?: number;
  /** Messages per second, or 'max' (sockperf --mps). */
  mps?: number | 'max';
  burst?: number;
  replyEvery?: number;
  iomux?: Iomux;
  /** The server to test against. For impl 'os' without a host, a server is started in this process. */
  host?: string;
  port?: number;
  /** xlio: idle spin budget before parking (µs; −1: never park). */
  spinUs?: number;
  /** xlio: run the server in a second process over a named shared-memory segment (needs the native addon). */
  processes?: boolean;
  /** xlio: the stack on a real link (a link spec) with this address, against `host` there. */
  wire?: WireConfig;
  /** Samples sent in the first `warmupMs` of a timed run are left out (sockperf: 400 ms; runs under 1 s: 40 % of the run). */
  warmupMs?: number;
}

export interface PerfResult {
  mode: PerfMode;
  impl: Impl;
  proto: Proto;
  msgSize: number;
  sent: number;
  /** Replies received (answered pong requests). */
  received: number;
  dropped: number;
  duplicates: number;
  outOfOrder: number;
  runSeconds: number;
  warmupMs: number;
  cooldownMs: number;
  /** Ping-pong: round trips per second; throughput and under-load: messages sent per second (sockperf's Message Rate). */
  msgsPerSec: number;
  /** msgsPerSec × message size, in Gbit/s (10^9). */
  gbitPerSec: number;
  /** Round-trip times and one-way latency (RTT / 2) over the valid window; null without replies. */
  rttUs: Percentiles | null;
  latencyUs: Percentiles | null;
  summary: LatencySummary | null;
  server?: ServerCounters;
  /** The raw samples (for --full-log). */
  outcome: ClientOutcome;
}

const MPS_DEFAULT_UNDER_LOAD = 10_000;
const REPLY_EVERY_DEFAULT = 100;
/** sockperf's TEST_START_WARMUP_MSEC and TEST_END_COOLDOWN_MSEC. */
const WARMUP_MS = 400;
const COOLDOWN_MS = 50;

/** `processes`: xlio-ts's server runs in a second process over a named segment (native addon); `wire`: on a real link. */
export function transportFor(impl: Impl, processes = false, wire?: WireConfig): PerfTransport {
  return impl === 'xlio' ? new XlioTransport(processes, wire ?? null) : new OsTransport();
}

/** The client configuration a mode implies, with sockperf's defaults. */
export function clientConfig(mode: PerfMode, o: PerfRunOptions): ClientConfig {
  const impl = o.impl ?? 'os';
  const mps = o.mps === undefined ? (mode === 'under-load' ? MPS_DEFAULT_UNDER_LOAD : 0) : o.mps === 'max' ? 0 : o.mps;
  const cfg: ClientConfig = {
    mode,
    proto: o.proto ?? 'udp',
    host: o.host ?? (impl === 'xlio' ? SERVER_IP : '127.0.0.1'),
    port: o.port ?? 11111,
    msgSize: o.msgSize ?? 14,
    seconds: o.seconds ?? 1,
    count: o.count ?? 0,
    mps,
    burst: o.burst ?? 1,
    replyEvery: mode === 'ping-pong' ? 1 : mode === 'throughput' ? 0 : (o.replyEvery ?? REPLY_EVERY_DEFAULT),
    iomux: o.iomux ?? 'epoll',
    ...(o.spinUs !== undefined ? { spinUs: o.spinUs } : {}),
  };
  validate(cfg);
  return cfg;
}

function validate(c: ClientConfig): void {
  const int = (v: number, name: string, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new PerfUsageError(`${name} must be an integer in ${min}..${max}, got ${v}`);
  };
  int(c.msgSize, 'message size', 14, 65507);
  int(c.port, 'port', c.host === '' ? 0 : 1, 65535);
  int(c.count, 'count', 0, Number.MAX_SAFE_INTEGER);
  int(c.mps, 'mps', 0, 100_000_000);
  int(c.burst, 'burst', 1, 1 << 20);
  int(c.replyEvery, 'reply-every', 0, 1 << 30);
  if (!(c.seconds > 0 && c.seconds <= 36_000_000)) throw new PerfUsageError(`time must be a number of seconds in (0, 36000000], got ${c.seconds}`);
}

async function run(mode: PerfMode, o: PerfRunOptions): Promise<PerfResult> {
  const cfg = clientConfig(mode, o);
  const impl = o.impl ?? 'os';
  let outcome: ClientOutcome;
  if (impl === 'os' && o.host === undefined) {
    // No peer given: serve ourselves, in this process, on an ephemeral loopback port.
    const t = new OsTransport();
    const srv: PerfServerHandle = await t.startServer({ proto: cfg.proto, host: '127.0.0.1', port: 0, iomux: cfg.iomux });
    try {
      outcome = await t.runClient({ ...cfg, host: srv.host, port: srv.port });
    } catch (e) {
      await srv.close();
      throw e;
    }
    outcome.server = await srv.close();
  } else outcome = await transportFor(impl, o.processes === true, o.wire).runClient(cfg);
  return resultOf(cfg, impl, outcome, o.warmupMs);
}

/** Turns a client's outcome into the numbers sockperf reports. */
export function resultOf(cfg: ClientConfig, impl: Impl, outcome: ClientOutcome, warmupMs?: number): PerfResult {
  const c = outcome.counters;
  const runUs = Math.max(1, c.endUs - c.startUs);
  const timed = cfg.count === 0;
  // sockperf's 400 ms head and 50 ms tail; runs shorter than a second keep the same proportions.
  const warm = timed ? (warmupMs ?? Math.min(WARMUP_MS, cfg.seconds * 400)) : (warmupMs ?? 0);
  const cool = timed ? Math.min(COOLDOWN_MS, cfg.seconds * 50) : 0;
  const rec = new RttRecorder(1);
  rec.tx = outcome.tx;
  rec.rtt = outcome.rtt;
  rec.count = outcome.samples;
  const summary = summarize(rec, c.startUs + warm * 1000, c.endUs - cool * 1000);
  const msgsPerSec = ((cfg.mode === 'ping-pong' ? c.received : c.sent) * 1e6) / runUs;
  return {
    mode: cfg.mode,
    impl,
    proto: cfg.proto,
    msgSize: cfg.msgSize,
    sent: c.sent,
    received: c.received,
    dropped: c.dropped,
    duplicates: c.duplicates,
    outOfOrder: c.outOfOrder,
    runSeconds: runUs / 1e6,
    warmupMs: warm,
    cooldownMs: cool,
    msgsPerSec,
    gbitPerSec: (msgsPerSec * cfg.msgSize * 8) / 1e9,
    rttUs: summary?.rttUs ?? null,
    latencyUs: summary?.latencyUs ?? null,
    summary,
    ...(outcome.server !== undefined ? { server: outcome.server } : {}),
    outcome,
  };
}

export const runPingPong = (o: PerfRunOptions = {}): Promise<PerfResult> => run('ping-pong', o);
export const runThroughput = (o: PerfRunOptions = {}): Promise<PerfResult> => run('throughput', o);
export const runUnderLoad = (o: PerfRunOptions = {}): Promise<PerfResult> => run('under-load', o);

/** Serves sockperf clients (impl 'os': Node's sockets on the given address) until close(). */
export function startPerfServer(o: { impl?: Impl; proto?: Proto; host?: string; port?: number; iomux?: Iomux; wire?: WireConfig } = {}): Promise<PerfServerHandle> {
  return transportFor(o.impl ?? 'os', false, o.wire).startServer({ proto: o.proto ?? 'udp', host: o.host ?? '0.0.0.0', port: o.port ?? 11111, iomux: o.iomux ?? 'epoll' });
}

// ---------------------------------------------------------------------------------------
// sockperf's report

/** The client report sockperf prints, line by line, without its "sockperf: " prefix. */
export function reportLines(r: PerfResult, cfg: ClientConfig): string[] {
  const out: string[] = [];
  const c = r.outcome.counters;
  if (r.mode === 'throughput') {
    out.push(`Total of ${c.sent} messages sent in ${r.runSeconds.toFixed(3)} sec`, '');
    // sockperf: msg/s rounded, then "MBps" = msg/s × size / 2^20 and "Mbps" = that × 8.
    const msgps = Math.round(r.msgsPerSec);
    const mbps = (msgps * cfg.msgSize) / 1024 / 1024;
    out.push(`Summary: Message Rate is ${msgps} [msg/sec]`, `Summary: BandWidth is ${mbps.toFixed(3)} MBps (${(mbps * 8).toFixed(3)} Mbps)`);
    return out;
  }
  const total = `[Total Run] RunTime=${r.runSeconds.toFixed(3)} sec; ` + (cfg.count === 0 ? `Warm up time=${Math.round(r.warmupMs)} msec; ` : `Warm up packets=0; `);
  out.push(`${total}SentMessages=${c.sent}; ReceivedMessages=${c.received}`);
  out.push('========= Printing statistics for Server No: 0');
  const s = r.summary;
  if (c.received === 0) {
    out.push('No messages were received from the server. Is the server down?');
    return out;
  }
  if (s === null) {
    out.push('No valid observations found. Try tune parameters: --time/--number-of-packets/--mps/--reply-every');
    return out;
  }
  out.push(`[Valid Duration] RunTime=${(s.validSpanUs / 1e6).toFixed(3)} sec; SentMessages=${(s.observations + s.dropped) * Math.max(1, cfg.replyEvery)}; ReceivedMessages=${s.observations}`);
  out.push(`====> avg-latency=${s.latencyUs.avg.toFixed(3)} (std-dev=${s.latencyUs.stdDev.toFixed(3)})`);
  out.push(`# dropped messages = ${s.dropped}; # duplicated messages = ${c.duplicates}; # out-of-order messages = ${c.outOfOrder}`);
  out.push(cfg.burst === 1 ? `Summary: Latency is ${s.latencyUs.avg.toFixed(3)} usec` : `Summary: Latency of burst of ${cfg.burst} messages is ${s.latencyUs.avg.toFixed(3)} usec`);
  out.push(...percentileLines(s));
  return out;
}

/** The --full-log file: the report, then one CSV line per valid round trip. */
export function fullLogText(r: PerfResult, cfg: ClientConfig): string {
  const c = r.outcome.counters;
  const rec = new RttRecorder(1);
  rec.tx = r.outcome.tx;
  rec.rtt = r.outcome.rtt;
  rec.count = r.outcome.samples;
  // sockperf's file starts with the parameters of the run between two rules.
  const rule = '------------------------------';
  const length = cfg.count > 0 ? `--number-of-packets=${cfg.count}` : `--time=${cfg.seconds}`;
  const params = `test was performed using the following parameters: --mps=${cfg.mps === 0 ? 'max' : cfg.mps} --burst=${cfg.burst} --reply-every=${cfg.replyEvery} --msg-size=${cfg.msgSize} ${length}`;
  return [rule, params, rule, ...reportLines(r, cfg), ...fullLogLines(rec, c.startUs + r.warmupMs * 1000, c.endUs - r.cooldownMs * 1000)].join('\n') + '\n';
}

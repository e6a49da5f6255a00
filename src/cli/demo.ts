// `xlio demo` (what `npm start` runs): xlio-ts against Node's own sockets, side by side,
// with no privileges and in well under a minute.
//   xlio-ts: two worker threads, one stack each, joined by a shared-memory link, busy-polling
//            (the in-process server and client of `xlio perf --impl xlio`).
//   node:    Node's net/dgram over kernel loopback, event-driven, client in this process and
//            the server in a child node process (`xlio perf server`).
// Rows: TCP and UDP ping-pong with 64-byte messages, TCP bulk throughput; with the native
// addon, the ping-pongs again with xlio-ts's server in a second process (compared with the
// same node rows: Node's server is in a second process throughout).

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { runPingPong, runThroughput, type PerfResult, type PerfRunOptions, type Proto } from './perf/api.js';
import { nativeUnavailableReason } from '../native/addon.js';

const CLI = new URL('./xlio.js', import.meta.url).pathname;

export const DEMO_USAGE = `usage: xlio demo [--seconds N] [--json FILE]

  --seconds N   seconds per measurement (default 3; six measurements in all)
  --json FILE   also write the results as JSON
`;

/** Message size of the bulk row: large writes, as a bulk sender makes them. */
const BULK_MSG = 8192;
const PP_MSG = 64;

export interface DemoRow {
  test: string;
  impl: 'xlio-ts' | 'node';
  p50_us: number | null;
  p99_us: number | null;
  p999_us: number | null;
  msgs_per_s: number;
  gbit_per_s: number;
}

interface DemoArgs {
  seconds: number;
  json: string | undefined;
}

function parseDemoArgs(argv: readonly string[]): DemoArgs | string {
  const a: DemoArgs = { seconds: 3, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const need = (): string | null => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) return null;
      return argv[++i]!;
    };
    if (arg === '--seconds') {
      const v = need();
      const n = Number(v);
      if (v === null || !/^\d+(\.\d+)?$/.test(v) || !(n >= 0.2) || n > 600) return `--seconds needs a number from 0.2 to 600, got ${JSON.stringify(v)}`;
      a.seconds = n;
    } else if (arg === '--json') {
      const v = need();
      if (v === null || v === '') return '--json needs a file name';
      a.json = v;
    } else return `unknown option ${JSON.stringify(arg)}`;
  }
  return a;
}

// ---------------------------------------------------------------------------------------
// The kernel-side server: a child process

interface ChildServer {
  port: number;
  child: ChildProcess;
}

/**
 * Starts `xlio perf server` (Node's sockets) in a child process on 127.0.0.1. It binds port 0
 * and prints the port the kernel gave it, so no other process can take the port in between.
 * The IPC channel stops it when this process goes away, however that happens.
 */
async function startChildServer(proto: Proto): Promise<ChildServer> {
  const args = [CLI, 'perf', 'server', '-i', '127.0.0.1', '-p', '0', ...(proto === 'tcp' ? ['--tcp'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  child.on('error', () => {}); // a failed spawn shows as 'exit' below
  let out = '';
  let err = '';
  const port = await new Promise<number>((resolve) => {
    const timer = setTimeout(() => resolve(0), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT = +(\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(0);
    });
  });
  child.stdout!.resume(); // keep reading: a full pipe would stall the server
  if (port > 0) return { port, child };
  child.kill('SIGKILL');
  throw new Error(`could not start the node ${proto.toUpperCase()} server: ${err.trim() || out.trim() || 'no output'}`);
}

function stopChild(s: ChildServer): Promise<void> {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
    const timer = setTimeout(() => s.child.kill('SIGKILL'), 3000);
    s.child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    s.child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------------------------------
// Progress on stderr

class Progress {
  private timer: ReturnType<typeof setInterval> | null = null;
  private label = '';
  private t0 = 0;
  private frame = 0;
  private readonly tty = process.stderr.isTTY === true;
  constructor(
    private readonly total: number,
    private readonly seconds: number,
  ) {}

  step(n: number, label: string): void {
    this.label = `[${n}/${this.total}] ${label}`;
    this.t0 = performance.now();
    if (!this.tty) {
      process.stderr.write(`xlio demo: ${this.label} (${this.seconds} s)…\n`);
      return;
    }
    if (this.timer === null) this.timer = setInterval(() => this.draw(), 100);
    this.draw();
  }

  private draw(): void {
    const spin = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏'[this.frame++ % 10];
    const s = ((performance.now() - this.t0) / 1000).toFixed(1);
    process.stderr.write(`\r\x1b[2K${spin} ${this.label}  ${s} s / ${this.seconds} s`);
  }

  done(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.tty) process.stderr.write('\r\x1b[2K');
  }
}

// ---------------------------------------------------------------------------------------

/** A row; latency columns are null for the bulk test, which measures no latency. */
function rowOf(test: string, impl: DemoRow['impl'], r: PerfResult, latency: boolean): DemoRow {
  const l = latency ? r.latencyUs : null;
  // A ping-pong without a single valid round trip measured nothing: say so rather than print a row of dashes.
  if (latency && l === null) throw new Error(`${test} · ${impl}: no replies (sent ${r.sent}, received ${r.received})`);
  return {
    test,
    impl,
    p50_us: l?.p50 ?? null,
    p99_us: l?.p99 ?? null,
    p999_us: l?.p999 ?? null,
    msgs_per_s: r.msgsPerSec,
    gbit_per_s: r.gbitPerSec,
  };
}

interface Measurement {
  test: string;
  latency: boolean;
  xlio: () => Promise<PerfResult>;
  proto: Proto;
  /** How xlio-ts runs, for the progress line. */
  how: string;
  /** Node's measurement, or the earlier test whose node row this one is compared with. */
  node: { run: (port: number) => Promise<PerfResult> } | { sameAs: string };
}

/** The ping-pong rows repeated with xlio-ts's server in a second process (needs the native addon). */
export function crossProcessRows(): boolean {
  return nativeUnavailableReason() === null;
}

export interface DemoOptions {
  seconds: number;
  progress?: boolean;
}

/** Runs the demo's six measurements; returns the rows (xlio-ts then node, per test). */
export async function runDemo(o: DemoOptions): Promise<DemoRow[]> {
  const base = (proto: Proto, msgSize: number): PerfRunOptions => ({ proto, msgSize, seconds: o.seconds });
  const threads = 'shared memory, two threads';
  const tests: Measurement[] = [
    {
      test: 'TCP ping-pong 64 B',
      latency: true,
      proto: 'tcp',
      how: threads,
      xlio: () => runPingPong({ ...base('tcp', PP_MSG), impl: 'xlio' }),
      node: { run: (port) => runPingPong({ ...base('tcp', PP_MSG), impl: 'os', host: '127.0.0.1', port }) },
    },
    {
      test: 'UDP ping-pong 64 B',
      latency: true,
      proto: 'udp',
      how: threads,
      xlio: () => runPingPong({ ...base('udp', PP_MSG), impl: 'xlio' }),
      node: { run: (port) => runPingPong({ ...base('udp', PP_MSG), impl: 'os', host: '127.0.0.1', port }) },
    },
    {
      test: `TCP bulk ${BULK_MSG / 1024} KiB writes`,
      latency: false,
      proto: 'tcp',
      how: threads,
      xlio: () => runThroughput({ ...base('tcp', BULK_MSG), impl: 'xlio' }),
      node: { run: (port) => runThroughput({ ...base('tcp', BULK_MSG), impl: 'os', host: '127.0.0.1', port }) },
    },
  ];
  if (crossProcessRows()) {
    for (const proto of ['tcp', 'udp'] as const) {
      const same = `${proto.toUpperCase()} ping-pong 64 B`;
      tests.push({
        test: `${same}, two processes`,
        latency: true,
        proto,
        how: 'shared memory, two processes',
        node: { sameAs: same },
        xlio: () => runPingPong({ ...base(proto, PP_MSG), impl: 'xlio', processes: true }),
      });
    }
  }
  const progress = o.progress === false ? null : new Progress(tests.length + tests.filter((t) => 'run' in t.node).length, o.seconds);
  const servers = new Map<Proto, ChildServer>();
  const rows: DemoRow[] = [];
  let step = 0;
  try {
    for (const t of tests) {
      progress?.step(++step, `${t.test} · xlio-ts (${t.how})`);
      rows.push(rowOf(t.test, 'xlio-ts', await t.xlio(), t.latency));
      const node = t.node;
      if ('sameAs' in node) {
        const earlier = rows.find((r) => r.test === node.sameAs && r.impl === 'node')!;
        rows.push({ ...earlier, test: t.test });
        continue;
      }
      let srv = servers.get(t.proto);
      if (srv === undefined) servers.set(t.proto, (srv = await startChildServer(t.proto)));
      progress?.step(++step, `${t.test} · node (kernel loopback, two processes)`);
      rows.push(rowOf(t.test, 'node', await node.run(srv.port), t.latency));
    }
  } finally {
    progress?.done();
    await Promise.all([...servers.values()].map(stopChild));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------
// The table

const num = (x: number | null, digits = 1): string => (x === null || !Number.isFinite(x) ? '–' : x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e4 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(digits));
const ratio = (a: number | null, b: number | null): string => (a === null || b === null || !(b > 0) ? '–' : `${(a / b).toFixed(2)}×`);

export function demoTable(rows: DemoRow[], seconds: number): string {
  const header = ['test', 'impl', 'p50 µs', 'p99 µs', 'p99.9 µs', 'msgs/s', 'Gbit/s'];
  const lines: string[][] = [];
  for (let i = 0; i + 1 < rows.length; i += 2) {
    const x = rows[i]!, n = rows[i + 1]!;
    lines.push([x.test, 'xlio-ts', num(x.p50_us), num(x.p99_us), num(x.p999_us), num(x.msgs_per_s, 0), x.gbit_per_s.toFixed(3)]);
    lines.push(['', 'node', num(n.p50_us), num(n.p99_us), num(n.p999_us), num(n.msgs_per_s, 0), n.gbit_per_s.toFixed(3)]);
    // Latency: node / xlio-ts (how many times lower ours is); rates: xlio-ts / node.
    lines.push(['', 'ratio', ratio(n.p50_us, x.p50_us), ratio(n.p99_us, x.p99_us), ratio(n.p999_us, x.p999_us), ratio(x.msgs_per_s, n.msgs_per_s), ratio(x.gbit_per_s, n.gbit_per_s)]);
  }
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c]!.length)));
  const fmt = (cells: string[]) => cells.map((s, c) => (c < 2 ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join('  ').trimEnd();
  return [
    `xlio-ts ${seconds} s per measurement. xlio-ts: two worker threads joined by a shared-memory link, busy-polling;`,
    `"two processes": the server stack in a second process, over a named shared-memory segment (native addon).`,
    `node: Node's net/dgram over kernel loopback, client here, server in a child process.`,
    `Latency is one-way (RTT / 2), as sockperf reports it; ping-pong msgs/s are round trips per second.`,
    `Ratios: latency node / xlio-ts, rates xlio-ts / node (above 1× means xlio-ts is better).`,
    '',
    fmt(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...lines.map(fmt),
  ].join('\n');
}

export async function demoCommand(argv: string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(DEMO_USAGE);
    return 0;
  }
  const a = parseDemoArgs(argv);
  if (typeof a === 'string') {
    process.stderr.write(`xlio demo: ${a}\n\n${DEMO_USAGE}`);
    return 2;
  }
  let rows: DemoRow[];
  try {
    rows = await runDemo({ seconds: a.seconds });
  } catch (e) {
    process.stderr.write(`xlio demo: error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  process.stdout.write(`${demoTable(rows, a.seconds)}\n`);
  if (a.json !== undefined) {
    try {
      writeFileSync(a.json, JSON.stringify({ results: rows }, null, 2) + '\n');
    } catch (e) {
      process.stderr.write(`xlio demo: cannot write ${a.json}: ${(e as { code?: string }).code ?? String(e)}\n`);
      return 1;
    }
    process.stdout.write(`\nsaved ${a.json}\n`);
  }
  return 0;
}

// `xlio stats`: reads the counters other xlio-ts processes publish (src/runtime/stats.ts) —
// XLIO's xlio_stats for xlio-ts. Without -p it lists the processes that publish in the stats
// directory (removing the files of processes that are gone); with -p PID it prints that
// process's table every --interval seconds (-n N times, or until interrupted); with
// --prometheus [HOST:]PORT it serves every published process's counters (or PID's) at
// /metrics in Prometheus's text exposition format (version 0.0.4).

import { createServer, type Server } from 'node:http';
import {
  DEFAULT_STATS_DIR, LOOP_FIELDS, POOL_FIELDS, RING_FIELDS, SOCKET_FIELDS, STACK_FIELDS, demandStats, formatStats, listStats, processAlive, readStats,
  type Field, type StatsSnapshot,
} from '../runtime/stats.js';

export const STATS_USAGE = `usage: xlio stats [-p PID] [--view N] [--interval S] [-n N] [-k DIR] [--prometheus [HOST:]PORT]

Shows the counters of running xlio-ts processes, read live from another process.
Without -p: lists the processes that publish stats (and removes files of dead ones).

options:
  -p, --pid PID            the process to show
  -v, --view N             1: rings and totals; 2: and sockets (default); 3: and buffer
                           pools, the poll loop, link driver and every stack counter
  -i, --interval S         seconds between refreshes (default 1; fractions allowed)
  -n, --count N            print N tables (or answer N scrapes) and exit
  -k, --directory DIR      the stats directory (default $XLIO_STATS_SHMEM_DIR, else ${DEFAULT_STATS_DIR})
  --prometheus [HOST:]PORT serve /metrics as Prometheus text on HOST (default 127.0.0.1);
                           PORT 0 picks a free port (printed on the first line)
  -h, --help               this text
`;

export interface StatsArgs {
  pid: number | null;
  view: number;
  intervalMs: number;
  count: number;
  dir: string;
  prometheus: { host: string; port: number } | null;
}

class UsageError extends Error {}

/** Parses the command line; throws UsageError with a one-line reason. */
export function parseStatsArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): StatsArgs | 'help' {
  const a: StatsArgs = { pid: null, view: 2, intervalMs: 1000, count: Infinity, dir: env['XLIO_STATS_SHMEM_DIR'] || DEFAULT_STATS_DIR, prometheus: null };
  for (let i = 0; i < argv.length; i++) {
    const opt = argv[i]!;
    const eq = opt.startsWith('--') ? opt.indexOf('=') : -1;
    const name = eq > 0 ? opt.slice(0, eq) : opt;
    const value = (): string => {
      if (eq > 0) return opt.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      return v;
    };
    const int = (v: string, what: string, min: number, max: number): number => {
      const n = /^\d+$/.test(v) ? Number(v) : NaN;
      if (!(n >= min && n <= max)) throw new UsageError(`${name} ${v}: ${what}`);
      return n;
    };
    switch (name) {
      case '-h':
      case '--help':
        return 'help';
      case '-p':
      case '--pid':
        a.pid = int(value(), 'a process id is a positive integer', 1, 2 ** 22);
        break;
      case '-v':
      case '--view':
        a.view = int(value(), 'the view is 1, 2 or 3', 1, 3);
        break;
      case '-i':
      case '--interval': {
        const v = value();
        const s = /^\d*\.?\d+$/.test(v) ? Number(v) : NaN;
        if (!(s > 0 && s <= 86400)) throw new UsageError(`${name} ${v}: the interval is a number of seconds above 0 (0.5, 1, 10)`);
        a.intervalMs = s * 1000;
        break;
      }
      case '-n':
      case '--count':
        a.count = int(value(), 'the count is a positive integer', 1, Number.MAX_SAFE_INTEGER);
        break;
      case '-k':
      case '--directory': {
        const v = value();
        if (v === '') throw new UsageError(`${name}: the directory is empty`);
        a.dir = v;
        break;
      }
      case '--prometheus': {
        const v = value();
        const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d+)$/.exec(v);
        const port = m === null ? NaN : Number(m[2]);
        if (m === null || !(port >= 0 && port <= 65535)) throw new UsageError(`--prometheus ${v}: give [HOST:]PORT with PORT 0-65535 (9464, 127.0.0.1:0)`);
        a.prometheus = { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
        break;
      }
      default:
        throw new UsageError(opt.startsWith('-') ? `unknown option ${opt}` : `unexpected argument '${opt}'`);
    }
  }
  return a;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Reads pid's stats after asking its publisher for a fresh copy: waits (up to the publisher's
 * slow interval and a margin) for a publish made after the request, so the numbers are current.
 */
export async function readFresh(dir: string, pid: number, waitMs = 2500): Promise<StatsSnapshot | null> {
  const t0 = Date.now();
  if (readStats(dir, pid) === null) return null;
  demandStats(dir, pid);
  for (;;) {
    const s = readStats(dir, pid);
    if (s === null || s.updatedAt >= t0 || Date.now() - t0 >= waitMs || !processAlive(pid)) return s;
    await sleep(10);
  }
}

function listTable(dir: string): string {
  const list = listStats(dir);
  if (list.length === 0) return `no xlio-ts processes publish stats in ${dir}\n`;
  const now = Date.now();
  const rows = list.map((e) => [String(e.pid), e.name, `${((now - e.startedAt) / 1000).toFixed(0)} s`, String(e.socketsOpen), `${Math.max(0, (now - e.updatedAt) / 1000).toFixed(1)} s ago`]);
  const head = ['PID', 'NAME', 'UP', 'SOCKETS', 'UPDATED'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((x, i) => x.padEnd(w[i]!)).join('  ').trimEnd()).join('\n') + `\n(${dir}; xlio stats -p PID for one)\n`;
}

// ---------------------------------------------------------------------------------------------
// Prometheus

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
function labels(l: Record<string, string>): string {
  return '{' + Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',') + '}';
}
function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9_]/g, '_').toLowerCase();
}
const endpoint = (a: string, p: number, fam: number): string => (fam === 6 ? `[${a}]:${p}` : `${a}:${p}`);

/** Prometheus text (exposition format 0.0.4) for these snapshots: one family per counter, HELP and TYPE once each. */
export function prometheusText(snaps: readonly StatsSnapshot[]): string {
  const families = new Map<string, { help: string; type: string; samples: string[] }>();
  const add = (name: string, help: string, type: 'counter' | 'gauge', l: Record<string, string>, value: number): void => {
    if (!Number.isFinite(value)) return;
    let f = families.get(name);
    if (f === undefined) families.set(name, (f = { help, type, samples: [] }));
    f.samples.push(`${name}${labels(l)} ${value}`);
  };
  const metric = (prefix: string, f: Field): string => `xlio_${prefix}_${f.name}${f.kind === 'counter' ? '_total' : ''}`;
  for (const s of snaps) {
    const pid = String(s.pid);
    add('xlio_process_start_time_seconds', 'When the process started publishing (seconds since the epoch)', 'gauge', { pid, name: s.name }, s.startedAt / 1000);
    add('xlio_process_sockets', 'Sockets open', 'gauge', { pid }, s.socketsOpen);
    add('xlio_process_updated_time_seconds', 'When the counters were last published (seconds since the epoch)', 'gauge', { pid }, s.updatedAt / 1000);
    for (const f of STACK_FIELDS) add(metric('stack', f), f.help, f.kind, { pid }, s.stack[f.name]!);
    for (const f of LOOP_FIELDS) add(metric('loop', f), f.help, f.kind, { pid }, s.loop[f.name]!);
    for (const r of s.rings) {
      for (const f of RING_FIELDS) add(metric('ring', f), f.help, f.kind, { pid, ring: r.name }, r.counters[f.name]!);
      for (const [n, v] of Object.entries(r.link)) add(`xlio_ring_link_${snake(n)}`, `Link driver counter ${n}`, 'gauge', { pid, ring: r.name }, v);
    }
    for (const p of s.pools) for (const f of POOL_FIELDS) add(metric('pool', f), f.help, f.kind, { pid, pool: p.name }, p.counters[f.name]!);
    for (const k of s.sockets) {
      const l = {
        pid, socket: String(k.fd), proto: k.proto, state: k.state || 'NONE', local: endpoint(k.local, k.localPort, k.family),
        remote: k.listener || (k.proto === 'udp' && k.remotePort === 0) ? '*' : endpoint(k.remote, k.remotePort, k.family),
      };
      for (const f of SOCKET_FIELDS) add(metric('socket', f), f.help, f.kind, l, k.counters[f.name]!);
    }
  }
  let out = '';
  for (const [name, f] of families) out += `# HELP ${name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${f.type}\n${f.samples.join('\n')}\n`;
  return out;
}

function collect(a: StatsArgs): StatsSnapshot[] {
  const pids = a.pid !== null ? [a.pid] : listStats(a.dir).map((e) => e.pid);
  const out: StatsSnapshot[] = [];
  for (const pid of pids) {
    demandStats(a.dir, pid); // keeps its publisher at the fast cadence while we are scraped
    try {
      const s = readStats(a.dir, pid);
      if (s !== null) out.push(s);
    } catch {
      /* exiting or unreadable: left out of this scrape */
    }
  }
  return out;
}

function serve(a: StatsArgs): Promise<number> {
  const p = a.prometheus!;
  let served = 0;
  return new Promise<number>((resolve) => {
    const server: Server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path !== '/metrics') {
        res.writeHead(path === '/' ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' }).end(path === '/' ? 'xlio-ts stats: see /metrics\n' : 'not found\n');
        return;
      }
      const body = prometheusText(collect(a));
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : body);
      if (++served >= a.count) server.close(() => resolve(0));
    });
    server.on('error', (e: NodeJS.ErrnoException) => {
      process.stderr.write(`xlio stats: --prometheus ${p.host}:${p.port}: ${e.code ?? e.message}\n`);
      resolve(1);
    });
    server.listen(p.port, p.host, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : p.port;
      const host = p.host.includes(':') ? `[${p.host}]` : p.host;
      process.stdout.write(`serving http://${host}:${port}/metrics${a.pid !== null ? ` (pid ${a.pid})` : ` (every process in ${a.dir})`}\n`);
      if (a.pid !== null) demandStats(a.dir, a.pid);
    });
    const stop = (): void => {
      server.close(() => resolve(0));
      server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function show(a: StatsArgs): Promise<number> {
  const pid = a.pid!;
  const tty = process.stdout.isTTY === true && a.count > 1;
  for (let i = 0; i < a.count; i++) {
    if (i > 0) await sleep(a.intervalMs);
    let s: StatsSnapshot | null;
    try {
      s = await readFresh(a.dir, pid);
    } catch (e) {
      process.stderr.write(`xlio stats: pid ${pid}: ${(e as Error).message}\n`);
      return 1;
    }
    if (s === null) {
      if (i > 0) {
        process.stdout.write(`pid ${pid} exited\n`);
        return 0;
      }
      process.stderr.write(processAlive(pid) ? `xlio stats: pid ${pid} publishes no xlio-ts stats in ${a.dir} (not an xlio-ts process, XLIO_STATS_SHMEM_DIR set otherwise for it, or empty)\n` : `xlio stats: no process ${pid}\n`);
      return 1;
    }
    const text = formatStats(s, a.view);
    process.stdout.write(tty ? `\x1b[H\x1b[2J${text}` : i > 0 ? `\n${text}` : text);
  }
  return 0;
}

export function statsCommand(argv: readonly string[]): number | Promise<number> {
  let a: StatsArgs | 'help';
  try {
    a = parseStatsArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`xlio stats: ${e.message}\n${STATS_USAGE}`);
    return 2;
  }
  if (a === 'help') {
    process.stdout.write(STATS_USAGE);
    return 0;
  }
  if (a.prometheus !== null) return serve(a);
  if (a.pid === null) {
    process.stdout.write(listTable(a.dir));
    return 0;
  }
  return show(a);
}

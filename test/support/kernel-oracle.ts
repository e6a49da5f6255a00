// The kernel as oracle for the socket layer: runs scenarios (test/diff/FORMAT.md) on real
// Linux sockets through test/diff/kernel_runner.py, inside a throwaway network namespace
// whose only interface is its own loopback holding 198.18.0.1, 198.18.0.2, fd00::1 and
// fd00::2. Nothing can leave the namespace, so nothing is ever sent outside
// 198.18.0.0/15 and fd00::/8. Needs root (ip netns); kernelOracleSkipReason() says why not.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Scenario = { name: string; steps: unknown[][] };
export type TraceEntry = Record<string, unknown>;
export type Trace = { name: string; trace: TraceEntry[] };

const PYTHON = '/usr/bin/python3';
let nsCounter = 0;

/** The repository root: the nearest directory above this module holding package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test', 'diff'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('kernel-oracle: repository root (package.json beside test/diff) not found');
    dir = up;
  }
}

function findIp(): string | null {
  for (const p of ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip']) if (existsSync(p)) return p;
  for (const d of (process.env['PATH'] ?? '').split(':')) if (d && existsSync(join(d, 'ip'))) return join(d, 'ip');
  return null;
}

/** null when the kernel oracle can run here, else why not (for `test(..., { skip })`). */
export function kernelOracleSkipReason(): string | null {
  if (process.platform !== 'linux') return `the kernel oracle needs Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'needs root to create a network namespace (ip netns); run as root or in CI';
  }
  if (findIp() === null) return 'needs the `ip` command (iproute2) to create a network namespace';
  if (!existsSync(PYTHON)) return `needs ${PYTHON} to run test/diff/kernel_runner.py`;
  return null;
}

function ipCmd(ip: string, args: string[]): void {
  const r = spawnSync(ip, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw new Error(`kernel-oracle: ip ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`kernel-oracle: ip ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
}

export interface RunOnKernelOptions {
  /** Bound on the whole run; the runner is killed after it. Default 60 s + 2 s per scenario. */
  timeoutMs?: number;
}

/** Runs the scenarios on the kernel, in a fresh network namespace, in order; one trace each. */
export async function runOnKernel(scenarios: Scenario[], opts: RunOnKernelOptions = {}): Promise<Trace[]> {
  const why = kernelOracleSkipReason();
  if (why !== null) throw new Error(`kernel-oracle: ${why}`);
  const ip = findIp()!;
  const ns = `xlio-diff-${process.pid}-${nsCounter++}`;
  const runner = join(repoRoot(), 'test', 'diff', 'kernel_runner.py');
  let created = false;
  try {
    ipCmd(ip, ['netns', 'add', ns]);
    created = true;
    ipCmd(ip, ['-n', ns, 'link', 'set', 'lo', 'up']);
    for (const a of ['198.18.0.1/32', '198.18.0.2/32']) ipCmd(ip, ['-n', ns, 'addr', 'add', a, 'dev', 'lo']);
    for (const a of ['fd00::1/128', 'fd00::2/128']) ipCmd(ip, ['-n', ns, '-6', 'addr', 'add', a, 'dev', 'lo', 'nodad']);
    const timeoutMs = opts.timeoutMs ?? 60_000 + 2_000 * scenarios.length;
    const out = await runChild(ip, ['netns', 'exec', ns, PYTHON, runner], scenarios, timeoutMs);
    const lines = out.split('\n').filter((l) => l.trim() !== '');
    if (lines.length !== scenarios.length) {
      throw new Error(`kernel-oracle: ${scenarios.length} scenarios in, ${lines.length} traces out`);
    }
    return lines.map((l, i) => {
      const t = JSON.parse(l) as Trace & { runner_warning?: string };
      if (t.name !== scenarios[i]!.name) throw new Error(`kernel-oracle: trace ${i} is for ${t.name}, expected ${scenarios[i]!.name}`);
      if (t.runner_warning !== undefined) throw new Error(`kernel-oracle: ${t.name}: ${t.runner_warning}`);
      return { name: t.name, trace: t.trace };
    });
  } finally {
    if (created) {
      try {
        ipCmd(ip, ['netns', 'del', ns]);
      } catch {
        // One retry: the runner may still have been exiting.
        spawnSync(ip, ['netns', 'del', ns], { timeout: 10_000 });
      }
    }
  }
}

function runChild(cmd: string, args: string[], scenarios: Scenario[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8').trim();
      if (timedOut) reject(new Error(`kernel-oracle: runner killed after ${timeoutMs} ms`));
      else if (code !== 0) reject(new Error(`kernel-oracle: runner exited with ${code ?? signal}: ${stderr}`));
      else resolve(Buffer.concat(out).toString('utf8'));
    });
    child.stdin.on('error', () => {
      // The runner died early; 'close' reports it.
    });
    child.stdin.end(scenarios.map((s) => JSON.stringify(s)).join('\n') + '\n');
  });
}

/** Every scenario in test/diff/scenarios/*.json, files in name order, scenarios in file order. */
export function loadWrittenScenarios(): Scenario[] {
  const dir = join(repoRoot(), 'test', 'diff', 'scenarios');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const all: Scenario[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    const list = JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown;
    if (!Array.isArray(list)) throw new Error(`${f}: not a JSON array of scenarios`);
    for (const s of list as Scenario[]) {
      if (typeof s?.name !== 'string' || !Array.isArray(s.steps) || !s.steps.every((st) => Array.isArray(st))) {
        throw new Error(`${f}: malformed scenario ${JSON.stringify(s).slice(0, 80)}`);
      }
      if (seen.has(s.name)) throw new Error(`${f}: duplicate scenario name ${s.name}`);
      seen.add(s.name);
      all.push(s);
    }
  }
  return all;
}

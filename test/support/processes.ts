// Child processes for tests that run real programs (the `xlio` command, sockperf): every
// process is started in a process group of its own and remembered, so a test can kill it —
// and whatever it started — in a `finally`, and so nothing outlives the test file even when
// an assertion throws halfway. Every wait is bounded.

import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';

/** The compiled `xlio` command, from a compiled test file at dist/test/<dir>/. */
export const XLIO_CLI = new URL('../../src/cli/xlio.js', import.meta.url).pathname;

const live = new Set<Proc>();
process.on('exit', () => {
  for (const p of live) p.signal('SIGKILL');
});

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running child whose output is collected as it comes. */
export class Proc {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  exit: Exit | null = null;
  readonly exited: Promise<Exit>;
  private readonly waiters: (() => void)[] = [];

  constructor(
    readonly cmd: string,
    readonly args: readonly string[],
    opts: { ipc?: boolean } = {},
  ) {
    // detached: a process group of its own, so kill() reaches grandchildren too.
    this.child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe', ...(opts.ipc === true ? (['ipc'] as const) : [])] });
    live.add(this);
    this.child.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString();
      this.wake();
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      this.wake();
    });
    this.exited = new Promise<Exit>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.exit !== null) return;
        this.exit = { code, signal };
        live.delete(this);
        this.wake();
        resolve(this.exit);
      };
      // 'close' comes after the output pipes are drained, so stdout is complete then.
      this.child.once('close', done);
      this.child.once('error', (e) => {
        this.stderr += `spawn failed: ${e.message}\n`;
        done(null, null);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** What a failed assertion should show. */
  describe(): string {
    const ex = this.exit === null ? 'still running' : `exit code ${this.exit.code}, signal ${this.exit.signal}`;
    return `${this.cmd} ${this.args.join(' ')} (${ex})\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the first match of `re` in stdout + stderr; rejects if the process exits first or after `ms`. */
  waitFor(re: RegExp, ms: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms from ${this.describe()}`)), ms);
      const check = (): void => {
        const m = re.exec(this.stdout) ?? re.exec(this.stderr);
        if (m !== null) {
          clearTimeout(timer);
          resolve(m);
        } else if (this.exit !== null) {
          clearTimeout(timer);
          reject(new Error(`exited before ${re}: ${this.describe()}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /** Sends `sig` to the whole process group (no-op once it has exited). */
  signal(sig: NodeJS.Signals): void {
    if (this.exit !== null || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, sig);
    } catch {
      /* already gone */
    }
  }

  /** Waits up to `ms` for the exit; then SIGKILLs the group and waits for that. */
  async waitExit(ms: number): Promise<Exit> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const t = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
    const e = await Promise.race([this.exited, t]);
    clearTimeout(timer);
    if (e !== null) return e;
    this.signal('SIGKILL');
    return this.exited;
  }

  /** Asks politely (`sig`), then kills after `graceMs`. */
  async stop(sig: NodeJS.Signals = 'SIGINT', graceMs = 5000): Promise<Exit> {
    this.signal(sig);
    return this.waitExit(graceMs);
  }
}

/**
 * The processes one test started: it kills them — and only them — in its `finally`, so tests
 * that run side by side do not touch each other's processes.
 */
export class Procs {
  private readonly mine = new Set<Proc>();

  start(cmd: string, args: readonly string[], opts: { ipc?: boolean } = {}): Proc {
    const p = new Proc(cmd, args, opts);
    this.mine.add(p);
    void p.exited.then(() => this.mine.delete(p));
    return p;
  }

  /** `xlio <args>` with this Node, left running. */
  startXlio(args: readonly string[], opts: { ipc?: boolean } = {}): Proc {
    return this.start(process.execPath, [XLIO_CLI, ...args], opts);
  }

  /** Runs a command to completion, killed (with its group) after `ms`; never rejects. */
  async run(cmd: string, args: readonly string[], ms: number): Promise<Proc & { timedOut: boolean; ms: number }> {
    const t0 = performance.now();
    const p = this.start(cmd, args);
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([p.exited, new Promise<void>((r) => (timer = setTimeout(() => ((timedOut = true), r()), ms)))]);
    clearTimeout(timer);
    if (timedOut) await p.stop('SIGKILL', 5000);
    return Object.assign(p, { timedOut, ms: performance.now() - t0 });
  }

  /** Runs `xlio <args>` with this Node, killed after `ms`. */
  runXlio(args: readonly string[], ms = 30_000): ReturnType<Procs['run']> {
    return this.run(process.execPath, [XLIO_CLI, ...args], ms);
  }

  /** Kills every process of this set still running. */
  async killAll(): Promise<void> {
    await Promise.all([...this.mine].map((p) => p.stop('SIGKILL', 5000)));
  }
}

/** A port the kernel has free on 127.0.0.1 for `proto` right now (bound to port 0, then released). */
export function freePort(proto: 'tcp' | 'udp'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (proto === 'tcp') {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const port = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(port));
      });
    } else {
      const sock = createSocket('udp4');
      sock.once('error', reject);
      sock.bind(0, '127.0.0.1', () => {
        const port = sock.address().port;
        sock.close(() => resolve(port));
      });
    }
  });
}

/** The pids whose parent is `ppid` (from /proc). */
export async function childrenOf(ppid: number): Promise<number[]> {
  const { readdirSync, readFileSync } = await import('node:fs');
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Whether a process is running (a zombie waiting to be reaped is not). */
export async function alive(pid: number): Promise<boolean> {
  const { readFileSync } = await import('node:fs');
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

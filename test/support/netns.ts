// Network namespaces for the interop tests: each test builds its hosts with `ip netns` and
// veth pairs (test addresses only: 198.18.0.0/15, fd00::/8), runs real programs inside them
// and tears everything down afterwards — in `t.after`, and again at process exit for what a
// crash left, and at the next start for what a killed run left (names carry the pid).
//
//   const topo = Topology.create('pkt');            // throws unless root: use netnsSkip first
//   const k = topo.ns('k'), x = topo.ns('x');       // "xt<pid>-pkt-k", …
//   topo.veth(k, 'veth0', x, 'veth0');
//   topo.addr(k, 'veth0', '198.18.0.2/24');
//   topo.run(k, ['ping', '-c', '1', '198.18.0.1']);
//   t.after(() => topo.destroy());
//
// The xlio-ts side opens its driver inside a namespace through the addon (the driver's
// `netns` option: /run/netns/NAME), so it stays in this process; kernel programs run with
// `ip netns exec`.

import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { Proc } from './processes.js';

const PREFIX = 'xt';

/** Why network-namespace tests cannot run here, or false when they can. */
export function netnsSkip(): string | false {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces and veth pairs: run the tests as root, as CI does';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return `iproute2's ip command does not work here (${r.error?.message ?? r.stderr.trim()}): apt-get install iproute2`;
  return false;
}

/** Whether a command is installed (found on PATH). */
export function haveCommand(cmd: string): boolean {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces that earlier runs left behind (their process is gone). */
function sweepStale(): void {
  if (!existsSync('/run/netns')) return;
  for (const name of readdirSync('/run/netns')) {
    const m = /^xt(\d+)-/.exec(name);
    if (m !== null && !alive(Number(m[1]))) spawnSync('ip', ['netns', 'del', name]);
  }
}

const open = new Set<Topology>();
process.on('exit', () => {
  for (const t of open) t.destroy();
});

export class Topology {
  private readonly namespaces: string[] = [];
  private readonly procs: Proc[] = [];
  private destroyed = false;

  private constructor(readonly tag: string) {}

  /** A new, empty topology; `tag` (a few letters) names its namespaces. */
  static create(tag: string): Topology {
    const skip = netnsSkip();
    if (skip !== false) throw new Error(skip);
    sweepStale();
    const t = new Topology(tag);
    open.add(t);
    return t;
  }

  /** Creates a namespace (lo up) and returns its full name. */
  ns(short: string): string {
    const name = `${PREFIX}${process.pid}-${this.tag}-${short}`;
    spawnSync('ip', ['netns', 'del', name]);
    this.ip(['netns', 'add', name]);
    this.namespaces.push(name);
    this.run(name, ['ip', 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** The path a driver's `netns` option takes. */
  static path(ns: string): string {
    return `/run/netns/${ns}`;
  }

  /**
   * A veth pair between two namespaces, both ends up. Offloads that would hand a packet
   * socket or XDP frames bigger than the MTU, or with checksums left for hardware to fill
   * (TSO/GSO/GRO, TX checksum), are turned off on both ends unless `offloads` is true.
   */
  veth(nsA: string, ifA: string, nsB: string, ifB: string, opts: { mtu?: number; offloads?: boolean; macA?: string; macB?: string } = {}): void {
    // Created in nsA with a temporary peer name, then the peer is moved and renamed: names
    // are per namespace, so both ends may be called veth0.
    const tmp = `xtp${process.pid % 100000}${this.namespaces.length}`;
    this.run(nsA, ['ip', 'link', 'add', ifA, ...(opts.macA ? ['address', opts.macA] : []), 'type', 'veth', 'peer', 'name', tmp, ...(opts.macB ? ['address', opts.macB] : [])]);
    this.run(nsA, ['ip', 'link', 'set', tmp, 'netns', nsB]);
    this.run(nsB, ['ip', 'link', 'set', tmp, 'name', ifB]);
    for (const [ns, ifc] of [
      [nsA, ifA],
      [nsB, ifB],
    ] as const) {
      if (opts.mtu !== undefined) this.run(ns, ['ip', 'link', 'set', ifc, 'mtu', String(opts.mtu)]);
      if (opts.offloads !== true) this.offloadsOff(ns, ifc);
      this.run(ns, ['ip', 'link', 'set', ifc, 'up']);
    }
  }

  /** Turns off segmentation, receive coalescing and checksum offloads (ethtool -K). */
  offloadsOff(ns: string, ifc: string): void {
    const r = spawnSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', ifc, 'tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'], { encoding: 'utf8' });
    if (r.error !== undefined) throw new Error(`ethtool is needed to turn off veth offloads (apt-get install ethtool): ${r.error.message}`);
    // ethtool exits 1 when one of the features cannot change ("Could not change any device features" is fatal).
    if (r.status !== 0 && /Could not change any/.test(r.stderr)) throw new Error(`ethtool -K ${ifc} in ${ns}: ${r.stderr.trim()}`);
  }

  /** Adds an address (CIDR) to an interface; IPv6 without duplicate address detection. */
  addr(ns: string, ifc: string, cidr: string): void {
    this.run(ns, ['ip', 'addr', 'add', cidr, 'dev', ifc, ...(cidr.includes(':') ? ['nodad'] : [])]);
  }

  /** A kernel that must not answer on an interface its namespace shares with xlio-ts: no IPv6 there. */
  noIpv6(ns: string, ifc: string): void {
    this.run(ns, ['sysctl', '-q', '-w', `net.ipv6.conf.${ifc}.disable_ipv6=1`]);
  }

  /** tc netem on an interface's egress: e.g. ['delay', '10ms', 'loss', '1%']. */
  netem(ns: string, ifc: string, args: readonly string[]): void {
    this.run(ns, ['tc', 'qdisc', 'replace', 'dev', ifc, 'root', 'netem', ...args]);
  }

  /** Runs a command in a namespace and returns its stdout; throws with its stderr when it fails. */
  run(ns: string, cmd: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): string {
    try {
      return execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as Error & { stderr?: string; stdout?: string };
      throw new Error(`in ${ns}: ${cmd.join(' ')} failed: ${(err.stderr ?? '').trim() || err.message}`);
    }
  }

  /**
   * run() without blocking this thread: for commands whose peer is an xlio-ts stack polled
   * on this thread's event loop (a synchronous run would stall it). Resolves with stdout;
   * rejects with stderr and the exit status.
   */
  runAsync(ns: string, cmd: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err === null) resolve(stdout);
        else reject(new Error(`in ${ns}: ${cmd.join(' ')} failed (${err.killed ? 'timed out' : `exit ${String(err.code)}`}): ${stderr.trim() || stdout.trim() || err.message}`));
      });
      if (opts.input !== undefined) child.stdin?.end(opts.input);
      else child.stdin?.end();
    });
  }

  /** Starts a long-running program in a namespace; it is killed at destroy(). */
  spawn(ns: string, cmd: readonly string[]): Proc {
    const p = new Proc('ip', ['netns', 'exec', ns, ...cmd]);
    this.procs.push(p);
    return p;
  }

  private ip(args: readonly string[]): void {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim()}`);
  }

  /** Kills what it started and deletes its namespaces (their veth ends go with them). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    open.delete(this);
    for (const p of this.procs) p.signal('SIGKILL');
    for (const ns of this.namespaces) spawnSync('ip', ['netns', 'del', ns]);
  }
}

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
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netemArgsToParams, type NetemParams } from '../../src/cli/netem-queue.js';
import { Proc, XLIO_CLI } from './processes.js';

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

function isAlive(pid: number): boolean {
  return pid > 0 && alive(pid);
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

let netemProbe: boolean | undefined;

/**
 * Whether impairment can use the kernel's tc netem (sch_netem): probed once by adding a netem
 * qdisc to lo in a scratch namespace. XLIO_NETEM=relay forces the user-space relay (`xlio
 * netem-relay`) even where the kernel has netem; XLIO_NETEM=tc forces tc.
 */
export function kernelHasNetem(): boolean {
  const force = process.env['XLIO_NETEM'];
  if (force === 'relay') return false;
  if (force === 'tc') return true;
  if (netemProbe !== undefined) return netemProbe;
  const ns = `${PREFIX}${process.pid}-netemprobe`;
  spawnSync('ip', ['netns', 'add', ns]);
  const r = spawnSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], { encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', ns]);
  netemProbe = r.status === 0;
  return netemProbe;
}

/** NetemParams as `xlio netem-relay` flags (both directions). */
export function relayFlags(p: NetemParams): string[] {
  const f: string[] = ['--limit', String(p.limit)];
  if (p.lossPct > 0) f.push('--loss', `${p.lossPct}%`);
  if (p.delayUs > 0) f.push('--delay', `${p.delayUs}us`);
  if (p.jitterUs > 0) f.push('--jitter', `${p.jitterUs}us`);
  if (p.reorderPct > 0) f.push('--reorder', `${p.reorderPct}%`);
  if (p.duplicatePct > 0) f.push('--duplicate', `${p.duplicatePct}%`);
  if (p.rateBps > 0) f.push('--rate', `${p.rateBps}bit`);
  return f;
}

/** Counters of one relay direction, from its final JSON line. */
export interface RelayDirection {
  received: number;
  forwarded: number;
  lost: number;
  delayed: number;
  reordered: number;
  duplicated: number;
  droppedFull: number;
  held: number;
  txDropped: number;
}

/** A running `xlio netem-relay` (killed with its topology at the latest). */
export class NetemRelay {
  constructor(readonly proc: Proc) {}

  /** Resolves once both links are open; rejects if it exits first or after `ms`. */
  async ready(ms = 15_000): Promise<void> {
    await this.proc.waitFor(/"event":"ready"/, ms);
  }

  /** SIGTERM, then its final counters (null if it had to be killed or printed none). */
  async stop(graceMs = 5000): Promise<{ ab: RelayDirection; ba: RelayDirection } | null> {
    await this.proc.stop('SIGTERM', graceMs);
    const line = this.proc.stdout.split('\n').find((l) => l.includes('"event":"final"'));
    return line === undefined ? null : (JSON.parse(line) as { ab: RelayDirection; ba: RelayDirection });
  }
}

/** Sleeps this thread (the relay start in netem() must be synchronous, as tc is). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const open = new Set<Topology>();
process.on('exit', () => {
  for (const t of open) t.destroy();
});

export class Topology {
  private readonly namespaces: string[] = [];
  private readonly procs: Proc[] = [];
  /** netem() through the relay: the relay process per "ns/ifc", and its side veth. */
  private readonly spliced = new Map<string, { proc: Proc; side: string; readyFile: string }>();
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

  /**
   * netem on an interface's egress: e.g. ['delay', '10ms', 'loss', '1%'] (tc-netem(8) words;
   * called again, it replaces the earlier impairment). With the kernel's sch_netem this is
   * `tc qdisc replace … netem`. Without it (kernelHasNetem() false), the same impairment is
   * spliced in with the user-space relay: a clsact egress filter on `ifc` redirects (tc
   * mirred) every frame the kernel sends there into a side veth pair; `xlio netem-relay
   * --oneway` reads them from the pair's other end and sends them, impaired, out of `ifc`
   * itself through an AF_PACKET socket with PACKET_QDISC_BYPASS, which skips tc egress, so
   * they do not loop. The relay understands loss, delay [jitter], reorder, duplicate, rate and
   * limit; other netem words throw. As with tc netem, frames that an AF_PACKET socket with
   * qdisc bypass (an xlio-ts packet link) sends on `ifc` are not impaired.
   */
  netem(ns: string, ifc: string, args: readonly string[], opts: { seed?: number } = {}): void {
    if (kernelHasNetem()) {
      this.run(ns, ['tc', 'qdisc', 'replace', 'dev', ifc, 'root', 'netem', ...args]);
      return;
    }
    const params = netemArgsToParams(args);
    const key = `${ns}/${ifc}`;
    let entry = this.spliced.get(key);
    if (entry !== undefined) {
      // Replace: the new relay takes over the same side veth and filter.
      entry.proc.signal('SIGKILL');
      for (let i = 0; i < 200 && entry.proc.exit === null && isAlive(entry.proc.pid); i++) sleepSync(10);
    } else {
      const side = `xnm${this.spliced.size}`;
      this.run(ns, ['ip', 'link', 'add', side, 'type', 'veth', 'peer', 'name', `${side}r`]);
      for (const dev of [side, `${side}r`]) {
        this.offloadsOff(ns, dev);
        this.noIpv6(ns, dev);
        this.run(ns, ['ip', 'link', 'set', dev, 'up']);
      }
      entry = { proc: null as unknown as Proc, side, readyFile: join(tmpdir(), `${PREFIX}${process.pid}-${this.tag}-${side}-${this.spliced.size}.ready`) };
    }
    rmSync(entry.readyFile, { force: true });
    const proc = this.spawn(ns, [
      process.execPath,
      XLIO_CLI,
      'netem-relay',
      '--a',
      `packet:${entry.side}r`,
      '--b',
      `packet:${ifc}`,
      '--oneway',
      '--seed',
      String(opts.seed ?? 1),
      ...relayFlags(params),
      '--ready-file',
      entry.readyFile,
    ]);
    entry.proc = proc;
    const deadline = Date.now() + 15_000;
    while (!existsSync(entry.readyFile)) {
      if (Date.now() > deadline || !isAlive(proc.pid)) throw new Error(`netem on ${ifc} in ${ns}: the user-space relay did not start (${proc.describe()})`);
      sleepSync(10);
    }
    rmSync(entry.readyFile, { force: true });
    if (!this.spliced.has(key)) {
      this.run(ns, ['tc', 'qdisc', 'add', 'dev', ifc, 'clsact']);
      this.run(ns, ['tc', 'filter', 'add', 'dev', ifc, 'egress', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', entry.side]);
      this.spliced.set(key, entry);
    }
  }

  /**
   * A user-space netem relay bridging two interfaces of namespace `ns` (no addresses on
   * them): every frame each way goes through `xlio netem-relay` with tc-netem(8) `args`
   * applied per direction. Call ready() on the result before sending; it is killed at
   * destroy() if not stopped before.
   */
  relay(ns: string, ifA: string, ifB: string, args: readonly string[], opts: { seed?: number; statsMs?: number } = {}): NetemRelay {
    const params = netemArgsToParams(args);
    const proc = this.spawn(ns, [
      process.execPath,
      XLIO_CLI,
      'netem-relay',
      '--a',
      `packet:${ifA}`,
      '--b',
      `packet:${ifB}`,
      '--seed',
      String(opts.seed ?? 1),
      ...(opts.statsMs !== undefined ? ['--stats-ms', String(opts.statsMs)] : []),
      ...relayFlags(params),
    ]);
    return new NetemRelay(proc);
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

// Latency and throughput on a real wire (issue 8): sockperf ping-pong, 64-byte messages, UDP
// and TCP, against the kernel's `sockperf sr` in namespace k, over one veth pair k ⟷ x:
//
//   xlio-ts xdp      `xlio perf pp --impl xlio --link xdp:veth0,netns=x`     (AF_XDP)
//   xlio-ts packet   `xlio perf pp --impl xlio --link packet:veth0,netns=x`  (AF_PACKET, TPACKET_V2)
//   kernel sockperf  `sockperf pp` in x (x's veth0 then has 198.18.0.1/24)
//   node net/dgram   `xlio perf pp --impl os` in x (Node's sockets over the same kernel)
//
// and TCP throughput (sockperf tp, 1400-byte messages) of the same four senders into the
// kernel's sockperf sr. Round-trip times (sockperf's latency × 2) p50/p99/p99.9; each case
// runs `--rounds` times, interleaved, and the round with the lowest p50 is kept (the least
// disturbed: the machines here are shared). Aim: xlio-ts ↔ kernel below Node ↔ kernel.
// Needs root (namespaces), sockperf and the native addon; without them it says why and
// exits 0. Options: --seconds S (per run, default 2), --rounds N (default 2).

import { spawnSync } from 'node:child_process';
import { nativeAddon, nativeUnavailableReason } from '../src/native/addon.js';
import { netnsSkip, Topology } from '../test/support/netns.js';
import { Procs, XLIO_CLI, type Proc } from '../test/support/processes.js';
import { parseReport, type PerfReport } from '../test/support/sockperf-report.js';
import { report, type BenchRow } from './report.js';

const KERNEL = '198.18.0.2';
const OURS = '198.18.0.1';
const UDP_PORT = '11111';
const TCP_PORT = '11112';
const MSG = '64';
const TP_MSG = '1400';

type Proto = 'udp' | 'tcp';
type Impl = 'xdp' | 'packet' | 'kernel' | 'node';
const IMPLS: readonly Impl[] = ['xdp', 'packet', 'kernel', 'node'];
const LABEL: Record<Impl, string> = {
  xdp: 'xlio-ts (AF_XDP)',
  packet: 'xlio-ts (AF_PACKET)',
  kernel: 'kernel sockperf',
  node: 'Node net/dgram',
};

interface Rtt {
  p50: number;
  p99: number;
  p999: number;
  round: number;
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!(v > 0)) throw new Error(`${name} needs a positive number`);
  return v;
}

function why(): string | false {
  const probe = spawnSync('sockperf', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) return 'sockperf is not installed (apt-get install sockperf)';
  return netnsSkip() || (nativeAddon() === null ? `the native addon is needed: ${nativeUnavailableReason()}` : false);
}

async function main(): Promise<void> {
  const skip = why();
  if (skip !== false) {
    console.log(`wire latency benchmark skipped: ${skip}`);
    return;
  }
  const seconds = arg('--seconds', 2);
  const rounds = arg('--rounds', 2);
  const procs = new Procs();
  const topo = Topology.create('wlat');
  const servers: Proc[] = [];
  try {
    const k = topo.ns('k');
    const x = topo.ns('x');
    topo.veth(k, 'veth0', x, 'veth0');
    topo.noIpv6(x, 'veth0');
    topo.addr(k, 'veth0', `${KERNEL}/24`);
    const xPath = Topology.path(x);
    for (const [proto, port] of [
      ['udp', UDP_PORT],
      ['tcp', TCP_PORT],
    ] as const) {
      const s = procs.start('ip', ['netns', 'exec', k, 'sockperf', 'sr', '-i', KERNEL, '-p', port, ...(proto === 'tcp' ? ['--tcp'] : [])]);
      await s.waitFor(/block on socket|ERROR/, 10_000);
      if (/ERROR/.test(s.stdout + s.stderr)) throw new Error(`sockperf sr did not start: ${s.describe()}`);
      servers.push(s);
    }

    /** The kernel in x holds our address only while a kernel-socket case runs (else it would answer for xlio-ts). */
    let kernelAddr = false;
    const setKernelAddr = (on: boolean): void => {
      if (on === kernelAddr) return;
      topo.run(x, ['ip', 'addr', on ? 'add' : 'del', `${OURS}/24`, 'dev', 'veth0']);
      kernelAddr = on;
    };
    /** The command line of one client run (mode pp or tp) for `impl`. */
    const command = (impl: Impl, mode: 'pp' | 'tp', proto: Proto): [string, string[]] => {
      const common = ['-i', KERNEL, '-p', proto === 'tcp' ? TCP_PORT : UDP_PORT, '-m', mode === 'pp' ? MSG : TP_MSG, '-t', String(seconds), ...(proto === 'tcp' ? ['--tcp'] : [])];
      switch (impl) {
        case 'xdp':
        case 'packet':
          setKernelAddr(false);
          return [process.execPath, [XLIO_CLI, 'perf', mode, '--impl', 'xlio', '--link', `${impl}:veth0,netns=${xPath}`, '--addr', `${OURS}/24`, ...common]];
        case 'kernel':
          setKernelAddr(true);
          return ['ip', ['netns', 'exec', x, 'sockperf', mode, ...common]];
        case 'node':
          setKernelAddr(true);
          return ['ip', ['netns', 'exec', x, process.execPath, XLIO_CLI, 'perf', mode, '--impl', 'os', ...common]];
      }
    };
    const run = async (impl: Impl, mode: 'pp' | 'tp', proto: Proto): Promise<PerfReport | null> => {
      const [cmd, args] = command(impl, mode, proto);
      const c = await procs.run(cmd, args, seconds * 1000 + 30_000);
      const r = parseReport(c.stdout);
      if (c.timedOut || c.exit?.code !== 0 || (mode === 'pp' ? r.percentiles === undefined : r.mbps === undefined)) {
        console.log(`  ${LABEL[impl]} ${mode} ${proto}: failed\n${c.describe()}`);
        return null;
      }
      return r;
    };

    // Latency: every case once per round, rounds interleaved.
    const rtt = new Map<string, Rtt>();
    for (let round = 1; round <= rounds; round++) {
      for (const proto of ['udp', 'tcp'] as const) {
        for (const impl of IMPLS) {
          const r = await run(impl, 'pp', proto);
          if (r === null) continue;
          const p = r.percentiles!;
          const cur: Rtt = { p50: 2 * p.p50, p99: 2 * p.p99, p999: 2 * p.p999, round };
          console.log(`  round ${round} ${proto.toUpperCase()} ${LABEL[impl].padEnd(20)} RTT p50 ${cur.p50.toFixed(1)} µs, p99 ${cur.p99.toFixed(1)}, p99.9 ${cur.p999.toFixed(1)} (${r.observations} observations)`);
          const key = `${proto}/${impl}`;
          const best = rtt.get(key);
          if (best === undefined || cur.p50 < best.p50) rtt.set(key, cur);
        }
      }
    }
    // TCP throughput, best of the rounds.
    const tp = new Map<Impl, number>();
    for (let round = 1; round <= rounds; round++) {
      for (const impl of IMPLS) {
        const r = await run(impl, 'tp', 'tcp');
        if (r === null) continue;
        const mbit = (r.mbps! * 8 * 1048576) / 1e6; // sockperf's MBps is 2^20 bytes/s
        console.log(`  round ${round} TCP throughput ${LABEL[impl].padEnd(20)} ${mbit.toFixed(0)} Mbit/s (${r.msgRate} msg/s of ${TP_MSG} B)`);
        tp.set(impl, Math.max(tp.get(impl) ?? 0, mbit));
      }
    }
    setKernelAddr(false);

    // The table: every case's RTT percentiles, and its ratio to Node's and the kernel's.
    const f = (v: number | undefined): string => (v === undefined ? 'n/a' : v.toFixed(1));
    const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined ? 'n/a' : `${(a / b).toFixed(2)}×`);
    console.log(`\nRound-trip time (µs, lower is better), 64-byte sockperf ping-pong into the kernel's sockperf sr over a veth pair; best of ${rounds} × ${seconds} s\n`);
    const head = ['proto', 'client', 'p50', 'p99', 'p99.9', 'p50 / node', 'p99 / node', 'p50 / kernel'];
    const lines: string[][] = [];
    for (const proto of ['udp', 'tcp'] as const) {
      const node = rtt.get(`${proto}/node`);
      const kern = rtt.get(`${proto}/kernel`);
      for (const impl of IMPLS) {
        const v = rtt.get(`${proto}/${impl}`);
        lines.push([proto.toUpperCase(), LABEL[impl], f(v?.p50), f(v?.p99), f(v?.p999), ratio(v?.p50, node?.p50), ratio(v?.p99, node?.p99), ratio(v?.p50, kern?.p50)]);
      }
    }
    const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const row = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
    console.log(row(head));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const l of lines) console.log(row(l));
    console.log(`\nTCP throughput into the kernel's sockperf sr (sockperf tp, ${TP_MSG}-byte messages), Mbit/s: ` + IMPLS.map((i) => `${LABEL[i]} ${tp.has(i) ? tp.get(i)!.toFixed(0) : 'n/a'}`).join(', '));

    // The JSON rows (report()'s convention: ours against a baseline, ratio = ours / baseline).
    const rows: BenchRow[] = [];
    for (const proto of ['udp', 'tcp'] as const) {
      const node = rtt.get(`${proto}/node`);
      const kern = rtt.get(`${proto}/kernel`);
      for (const impl of ['xdp', 'packet'] as const) {
        const v = rtt.get(`${proto}/${impl}`);
        if (v === undefined) continue;
        for (const [pct, key] of [
          ['p50', 'p50'],
          ['p99', 'p99'],
          ['p99.9', 'p999'],
        ] as const) {
          if (node !== undefined) rows.push({ name: `${proto.toUpperCase()} RTT ${pct}, ${LABEL[impl]} vs Node`, unit: 'µs (lower is better)', ours: v[key], baseline: node[key], baselineName: proto === 'udp' ? 'node dgram' : 'node net' });
        }
        if (kern !== undefined) rows.push({ name: `${proto.toUpperCase()} RTT p50, ${LABEL[impl]} vs kernel`, unit: 'µs (lower is better)', ours: v.p50, baseline: kern.p50, baselineName: 'kernel sockperf' });
      }
    }
    for (const impl of ['xdp', 'packet'] as const) {
      const ours = tp.get(impl);
      if (ours === undefined) continue;
      if (tp.has('kernel')) rows.push({ name: `TCP throughput, ${LABEL[impl]} → kernel`, unit: 'Mbit/s', ours, baseline: tp.get('kernel')!, baselineName: 'kernel sockperf' });
      if (tp.has('node')) rows.push({ name: `TCP throughput, ${LABEL[impl]} → kernel`, unit: 'Mbit/s', ours, baseline: tp.get('node')!, baselineName: 'node net' });
    }
    report('xlio-ts on a wire: sockperf latency and TCP throughput against the kernel (ratio = xlio-ts / baseline; for µs lower is better)', rows, new URL('../../bench/results/wire-latency.json', import.meta.url).pathname);
  } finally {
    for (const s of servers) await s.stop('SIGINT', 3000);
    await procs.killAll();
    topo.destroy();
  }
}

await main();

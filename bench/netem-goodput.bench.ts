// TCP goodput under netem-style impairment (issue 8): xlio-ts ⇄ a kernel host against
// kernel ⇄ kernel over the same impaired path, in the same run, per impairment and direction.
//
//   k (kernel socat) ⟷ r (tc netem, or `xlio netem-relay` where the kernel has no sch_netem)
//                    ⟷ x (xlio-ts on an AF_PACKET link) or k2 (kernel socat)
//
// Every transfer is SHA-256 verified (a wrong byte aborts the benchmark). Needs root (network
// namespaces) and socat; without them it says why and exits 0. Options: --mb N (MiB per
// transfer, default 32), --only NAME (one impairment). "none" is the relay alone: the
// ceiling the path itself puts on both.

import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAR_ADDR, K_ADDR, kernelToKernel, kernelToXlio, netemPath, payload, payloadFile, xlioToKernel, type Transfer } from '../test/support/netem-topo.js';
import { haveCommand, kernelHasNetem, netnsSkip } from '../test/support/netns.js';
import { report, type BenchRow } from './report.js';

const IMPAIRMENTS: readonly { name: string; args: readonly string[] }[] = [
  { name: 'none', args: ['limit', '4096'] },
  { name: 'loss 1%', args: ['loss', '1%', 'limit', '4096'] },
  { name: 'loss 5%', args: ['loss', '5%', 'limit', '4096'] },
  { name: 'delay 10ms', args: ['delay', '10ms', 'limit', '4096'] },
  { name: 'delay 10ms reorder 25%', args: ['delay', '10ms', 'reorder', '25%', 'limit', '4096'] },
  { name: 'delay 10ms loss 1%', args: ['delay', '10ms', 'loss', '1%', 'limit', '4096'] },
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const skip = netnsSkip() || (!haveCommand('socat') ? 'needs socat' : false);
  if (skip !== false) {
    console.log(`netem goodput benchmark skipped: ${skip}`);
    return;
  }
  const mb = Number(arg('--mb') ?? process.env['XLIO_NETEM_MB'] ?? 32);
  const only = arg('--only');
  const bytes = mb << 20;
  const transferMs = 600_000;
  const data = payload(bytes);
  const file = join(tmpdir(), `xt${process.pid}-netem-bench`);
  const sha = payloadFile(file, data);
  const rows: BenchRow[] = [];
  const check = (t: Transfer, what: string): number => {
    if (t.sha !== sha || t.bytes !== bytes) throw new Error(`${what}: the data arrived damaged (sha ${t.sha}, ${t.bytes} bytes)`);
    return t.mibps;
  };
  let port = 6100;
  let seed = 100;
  try {
    for (const imp of IMPAIRMENTS) {
      if (only !== undefined && imp.name !== only) continue;
      const x = await netemPath('bx', 'xlio', imp.args, { seed: seed++ });
      let up: number;
      let down: number;
      try {
        up = check(await xlioToKernel(x, data, port++, transferMs), `${imp.name} xlio-ts → kernel`);
        down = check(await kernelToXlio(x, file, bytes, port++, transferMs), `${imp.name} kernel → xlio-ts`);
      } finally {
        await x.destroy();
      }
      const k = await netemPath('bk', 'kernel', imp.args, { seed: seed++ });
      let kup: number;
      let kdown: number;
      try {
        kup = check(await kernelToKernel(k, k.far, k.k, K_ADDR, file, bytes, port++, transferMs), `${imp.name} kernel → kernel (to k)`);
        kdown = check(await kernelToKernel(k, k.k, k.far, FAR_ADDR, file, bytes, port++, transferMs), `${imp.name} kernel → kernel (from k)`);
      } finally {
        await k.destroy();
      }
      rows.push({ name: `${imp.name}, sending`, unit: 'MiB/s', ours: up, baseline: kup, baselineName: 'kernel' });
      rows.push({ name: `${imp.name}, receiving`, unit: 'MiB/s', ours: down, baseline: kdown, baselineName: 'kernel' });
      console.log(`${imp.name}: xlio-ts ${up.toFixed(2)} / ${down.toFixed(2)} MiB/s, kernel ${kup.toFixed(2)} / ${kdown.toFixed(2)} MiB/s (sending / receiving)`);
    }
  } finally {
    rmSync(file, { force: true });
  }
  const via = kernelHasNetem() ? 'tc netem' : 'xlio netem-relay (no sch_netem in this kernel)';
  report(`TCP goodput under impairment, ${mb} MiB per transfer, through ${via}: xlio-ts (AF_PACKET) ⇄ kernel vs kernel ⇄ kernel`, rows, new URL('../../bench/results/netem-goodput.json', import.meta.url).pathname);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);

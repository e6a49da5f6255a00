// Differential test of the socket layer against the Linux kernel: every written scenario
// (test/diff/scenarios/*.json) and XLIO_DIFF_COUNT (default 1000) generated ones run on
// real Linux sockets (in a throwaway network namespace: needs root) and on xlio-ts; the
// traces must be identical entry by entry.
//
// The seed of the generated scenarios is XLIO_DIFF_SEED (default 1; "random" draws one from
// the clock), always printed ("differential seed: N"); replay a divergence with
//   node dist/test/diff/replay.js --name N:index --kernel

import { test } from 'node:test';
import { kernelOracleSkipReason, loadWrittenScenarios, runOnKernel, type Scenario, type Trace } from '../support/kernel-oracle.js';
import { generateScenarios } from './generator.js';
import { kernelTraitsFrom, kernelTraitsProbe, knownGap } from './known-gaps.js';
import { divergenceCategory, firstDivergence, formatDivergence, runOnXlio, stableIndex, type Divergence, type XlioTrace } from './xlio-runner.js';

const DETAILED = 20;
const KERNEL_BATCHES = 4;

function envInt(name: string): number | null {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v}: expected a non-negative integer`);
  return n;
}

/**
 * The seed of this run: XLIO_DIFF_SEED (a number, or "random" for one from the clock), else 1
 * — CI runs the same 1,000 generated scenarios every time, so a red run is a regression and
 * replays exactly; exploring other seeds is a developer's job (see the README).
 */
function differentialSeed(): number {
  if (process.env['XLIO_DIFF_SEED'] === 'random') return Date.now() % 2_147_483_647;
  return envInt('XLIO_DIFF_SEED') ?? 1;
}

async function kernelTraces(all: Scenario[]): Promise<Trace[]> {
  // A few namespaces side by side: each batch gets its own runner process.
  const size = Math.ceil(all.length / KERNEL_BATCHES);
  const batches: Scenario[][] = [];
  for (let i = 0; i < all.length; i += size) batches.push(all.slice(i, i + size));
  const results = await Promise.all(batches.map((b) => runOnKernel(b)));
  return results.flat();
}

async function xlioTraces(all: Scenario[]): Promise<XlioTrace[]> {
  const out: XlioTrace[] = [];
  for (let i = 0; i < all.length; i++) {
    out.push(runOnXlio(all[i]!, stableIndex(all[i]!)));
    // Let the kernel runners' output flow while we compute.
    if (i % 25 === 24) await new Promise((r) => setImmediate(r));
  }
  return out;
}

test('differential: xlio-ts socket layer vs the Linux kernel', { timeout: 600_000 }, async (t) => {
  const why = kernelOracleSkipReason();
  if (why !== null) {
    t.skip(why);
    return;
  }
  const seed = differentialSeed();
  const count = envInt('XLIO_DIFF_COUNT') ?? 1000;
  console.log(`differential seed: ${seed}`);
  t.diagnostic(`differential seed: ${seed}`);

  const written = loadWrittenScenarios();
  const all = [...written, ...generateScenarios(seed, count)];
  const t0 = Date.now();
  const kernelP = kernelTraces(all);
  const xlio = await xlioTraces(all);
  const t1 = Date.now();
  const kernel = await kernelP;
  const traits = kernelTraitsFrom((await runOnKernel([kernelTraitsProbe]))[0]!);
  if (traits.disconnectKeepsPort) t.diagnostic('kernel trait: a disconnected socket keeps its port number (Linux 6.18)');
  const t2 = Date.now();
  t.diagnostic(`${all.length} scenarios (${written.length} written, ${count} generated): xlio ${t1 - t0} ms, kernel done at ${t2 - t0} ms`);

  const diverging: Array<{ sc: Scenario; k: Trace; x: XlioTrace; d: Divergence }> = [];
  const categories = new Map<string, { count: number; example: string }>();
  const gaps = new Map<string, { count: number; example: string; why: string }>();
  for (let i = 0; i < all.length; i++) {
    const d = firstDivergence(kernel[i]!, xlio[i]!);
    if (d === null) continue;
    const gap = knownGap(all[i]!, d.step, d.kernel, d.xlio, traits, kernel[i]!.trace);
    if (gap !== null) {
      const g = gaps.get(gap.key);
      if (g) g.count++;
      else gaps.set(gap.key, { count: 1, example: all[i]!.name, why: gap.why });
      continue;
    }
    diverging.push({ sc: all[i]!, k: kernel[i]!, x: xlio[i]!, d });
    const cat = divergenceCategory(all[i]!.steps[d.step], d);
    const c = categories.get(cat);
    if (c) c.count++;
    else categories.set(cat, { count: 1, example: all[i]!.name });
  }
  for (const [key, g] of gaps) t.diagnostic(`known gap ${key}: ${g.count} scenario(s), e.g. ${g.example} — ${g.why}`);
  if (diverging.length === 0) return;

  const writtenNames = new Set(written.map((s) => s.name));
  const lines: string[] = [];
  const nWritten = diverging.filter((v) => writtenNames.has(v.sc.name)).length;
  lines.push(`${diverging.length} of ${all.length} scenarios diverge from the kernel (${nWritten} written, ${diverging.length - nWritten} generated; differential seed: ${seed})`);
  lines.push('', 'by first diverging step (count, category, example):');
  for (const [cat, c] of [...categories].sort((a, b) => b[1].count - a[1].count)) {
    lines.push(`  ${String(c.count).padStart(5)}  ${cat}   [e.g. ${c.example}]`);
  }
  lines.push('', `the first ${Math.min(DETAILED, diverging.length)} in detail:`);
  for (const v of diverging.slice(0, DETAILED)) lines.push('', formatDivergence(v.sc, v.k, v.x, v.d, writtenNames.has(v.sc.name) ? 'written scenario' : seed));
  if (diverging.length > DETAILED) {
    lines.push('', `… and ${diverging.length - DETAILED} more: ${diverging.slice(DETAILED, DETAILED + 100).map((v) => v.sc.name).join(' ')}${diverging.length > DETAILED + 100 ? ' …' : ''}`);
  }
  lines.push('', `replay one with: XLIO_DIFF_SEED=${seed} node dist/test/diff/replay.js --name <name> --kernel`);
  const report = lines.join('\n');
  throw new Error(report);
});

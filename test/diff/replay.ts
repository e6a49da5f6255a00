// Replays socket scenarios on xlio-ts (and, with --kernel, on Linux) and prints the traces
// side by side, marking where they differ: the tool for debugging a divergence reported by
// test/diff/differential.test.ts.
//
//   node dist/test/diff/replay.js --name 1732540000:17 --kernel   one generated scenario (seed:index)
//   node dist/test/diff/replay.js --seed 42 --count 50 --kernel   generated scenarios 42:0 … 42:49
//   node dist/test/diff/replay.js --written --name tcp4/ --kernel  written scenarios whose name contains "tcp4/"
//   node dist/test/diff/replay.js --seed 42 --diverging --kernel  only those that diverge
//
// Options: --seed N (default XLIO_DIFF_SEED), --count C (default 1000 generated), --name S
// (substring of the scenario name; "seed:index" picks that generated scenario directly),
// --written (include test/diff/scenarios/*.json; default when --name matches no generated
// name), --kernel (run on Linux too: needs root), --diverging (with --kernel: print only
// scenarios that differ), --json (raw traces as JSON lines).

import { kernelOracleSkipReason, loadWrittenScenarios, runOnKernel, type Scenario, type Trace } from '../support/kernel-oracle.js';
import { generateScenarioAt, generateScenarios } from './generator.js';
import { firstDivergence, runOnXlio, stableIndex, type XlioTrace } from './xlio-runner.js';
import { isDeepStrictEqual } from 'node:util';

interface Options {
  seed: number | null;
  count: number;
  name: string | null;
  written: boolean;
  kernel: boolean;
  diverging: boolean;
  json: boolean;
}

function usage(msg: string): never {
  console.error(`replay: ${msg}\nusage: node dist/test/diff/replay.js [--seed N] [--count C] [--name substring|seed:index] [--written] [--kernel] [--diverging] [--json]`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const env = process.env['XLIO_DIFF_SEED'];
  const o: Options = { seed: env ? Number(env) : null, count: 1000, name: null, written: false, kernel: false, diverging: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--seed') o.seed = Number(val());
    else if (a === '--count') o.count = Number(val());
    else if (a === '--name') o.name = val();
    else if (a === '--written') o.written = true;
    else if (a === '--kernel') o.kernel = true;
    else if (a === '--diverging') o.diverging = true;
    else if (a === '--json') o.json = true;
    else if (a === '-h' || a === '--help') usage('help');
    else usage(`unknown argument ${a}`);
  }
  if (o.seed !== null && !Number.isInteger(o.seed)) usage('--seed must be an integer');
  if (!Number.isInteger(o.count) || o.count < 0) usage('--count must be a non-negative integer');
  return o;
}

function select(o: Options): Scenario[] {
  const exact = o.name !== null ? /^(\d+):(\d+)$/.exec(o.name) : null;
  if (exact && !o.written) {
    return [generateScenarioAt(Number(exact[1]), Number(exact[2]))];
  }
  const out: Scenario[] = [];
  if (o.written || (o.seed === null && o.name !== null)) out.push(...loadWrittenScenarios());
  if (o.seed !== null) out.push(...generateScenarios(o.seed, o.count));
  if (out.length === 0) usage('nothing selected: give --seed, --name or --written');
  return o.name === null ? out : out.filter((s) => s.name.includes(o.name!));
}

function cell(v: unknown): string {
  return v === undefined ? '—' : JSON.stringify(v);
}

function printSideBySide(sc: Scenario, x: XlioTrace, k: Trace | null): void {
  const d = k === null ? null : firstDivergence(k, x);
  const status = k === null ? '' : d === null ? '  [identical]' : `  [DIVERGES at step ${d.step}]`;
  console.log(`=== ${sc.name}${status}`);
  const rows = Math.max(sc.steps.length, x.trace.length, k?.trace.length ?? 0);
  const stepW = Math.min(60, Math.max(10, ...sc.steps.map((s) => JSON.stringify(s).length)));
  const kW = k === null ? 0 : Math.min(60, Math.max(6, ...k.trace.map((e) => JSON.stringify(e).length)));
  if (k !== null) console.log(`     ${'step'.padEnd(stepW)}  ${'kernel'.padEnd(kW)}  xlio`);
  else console.log(`     ${'step'.padEnd(stepW)}  xlio`);
  for (let i = 0; i < rows; i++) {
    const step = cell(sc.steps[i]);
    const xe = cell(x.trace[i]);
    if (k === null) {
      console.log(`  ${String(i).padStart(2)} ${step.padEnd(stepW)}  ${xe}`);
      continue;
    }
    const same = isDeepStrictEqual(k.trace[i], x.trace[i]);
    const mark = same ? '  ' : '!!';
    const ke = cell(k.trace[i]);
    console.log(`${mark}${String(i).padStart(2)} ${step.padEnd(stepW)}  ${ke.padEnd(kW)}  ${same ? '〃' : xe}`);
  }
  for (const n of x.notes ?? []) console.log(`  xlio note: ${n}`);
  console.log('');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const scenarios = select(o);
  if (scenarios.length === 0) usage('no scenario matches');
  if (o.diverging && !o.kernel) usage('--diverging needs --kernel');
  let kernel: Trace[] | null = null;
  if (o.kernel) {
    const why = kernelOracleSkipReason();
    if (why !== null) usage(`--kernel: ${why}`);
    kernel = await runOnKernel(scenarios);
  }
  let diverging = 0;
  for (let i = 0; i < scenarios.length; i++) {
    const sc = scenarios[i]!;
    const x = runOnXlio(sc, stableIndex(sc));
    const k = kernel?.[i] ?? null;
    const differs = k !== null && firstDivergence(k, x) !== null;
    if (differs) diverging++;
    if (o.diverging && !differs) continue;
    if (o.json) console.log(JSON.stringify({ name: sc.name, steps: sc.steps, xlio: x.trace, kernel: k?.trace, notes: x.notes }));
    else printSideBySide(sc, x, k);
  }
  if (kernel !== null) console.error(`${diverging} of ${scenarios.length} scenarios diverge`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});

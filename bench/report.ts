// Benchmark plumbing: warm up, time repeated runs, keep the best (least disturbed)
// run, print a table and save JSON. Machines here are noisy, so every row compares
// our path with a baseline measured in the same process, back to back.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface BenchRow {
  name: string;
  unit: string;
  ours: number;
  baseline: number;
  baselineName: string;
  target?: number;
}

/** Runs `fn(iterations)` `rounds` times after a warm-up; returns the best rate in operations/s. */
export function measureRate(fn: (iterations: number) => number, iterations: number, rounds = 7): number {
  let sink = fn(Math.max(1, iterations >>> 3)); // warm-up: lets the optimising compiler settle
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    sink += fn(iterations);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.max(best, iterations / dt);
  }
  if (sink === 0.5) console.log(''); // keeps `sink` observable so the work is not elided
  return best;
}

export function report(title: string, rows: BenchRow[], jsonPath: string): void {
  console.log(`\n${title}\n`);
  const header = ['benchmark', 'xlio-ts', 'baseline', 'ratio', 'target', 'unit'];
  const lines = rows.map((r) => [
    r.name,
    fmt(r.ours),
    `${fmt(r.baseline)} (${r.baselineName})`,
    `${(r.ours / r.baseline).toFixed(2)}×`,
    r.target === undefined ? '' : `${fmt(r.target)} ${r.ours >= r.target ? 'met' : 'MISSED'}`,
    r.unit,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(row(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(row(l));
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(
    jsonPath,
    JSON.stringify({ title, node: process.version, date: new Date().toISOString(), results: rows.map((r) => ({ ...r, ratio: r.ours / r.baseline })) }, null, 2) + '\n',
  );
  console.log(`\nsaved ${jsonPath}`);
}

function fmt(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)} G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(2)} k`;
  return x.toFixed(2);
}

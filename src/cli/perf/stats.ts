// Latency samples and their summary, computed as sockperf computes them: every round trip
// is kept (a preallocated typed array, grown by doubling — never per message), sorted once
// at the end, and percentile p is the sample at index round(p·n) − 1. Latency is reported
// one-way, RTT / 2, as sockperf does unless --full-rtt.

export class RttRecorder {
  /** Send time of each pong request (µs, monotonic) and its round-trip time (µs; NaN: never answered). */
  tx: Float64Array;
  rtt: Float64Array;
  count = 0;

  constructor(capacity = 1 << 16) {
    this.tx = new Float64Array(capacity);
    this.rtt = new Float64Array(capacity);
  }

  add(txUs: number, rttUs: number): void {
    if (this.count === this.tx.length) this.grow();
    this.tx[this.count] = txUs;
    this.rtt[this.count] = rttUs;
    this.count++;
  }

  private grow(): void {
    const n = this.tx.length * 2;
    const tx = new Float64Array(n), rtt = new Float64Array(n);
    tx.set(this.tx);
    rtt.set(this.rtt);
    this.tx = tx;
    this.rtt = rtt;
  }
}

export interface Percentiles {
  avg: number;
  stdDev: number;
  min: number;
  p25: number;
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  p99999: number;
  max: number;
}

export interface LatencySummary {
  /** Round trips inside the valid window. */
  observations: number;
  /** Pong requests sent inside the window that were never answered. */
  dropped: number;
  /** From the first valid sample's send to the last one's reply (µs), sockperf's valid RunTime. */
  validSpanUs: number;
  rttUs: Percentiles;
  /** One-way latency: RTT / 2. */
  latencyUs: Percentiles;
}

/** sockperf's percentile: the sample at index round(p·n) − 1 of the sorted array (the first if that is below 0). */
export function percentileOf(sorted: Float64Array, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const i = Math.floor(0.5 + p * n) - 1;
  return sorted[Math.min(n - 1, Math.max(0, i))]!;
}

function percentiles(sorted: Float64Array, scale: number): Percentiles {
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]!;
  const avg = sum / sorted.length;
  let sq = 0;
  for (let i = 0; i < sorted.length; i++) sq += (sorted[i]! - avg) ** 2;
  const at = (p: number) => percentileOf(sorted, p) * scale;
  return {
    avg: avg * scale,
    stdDev: Math.sqrt(sq / sorted.length) * scale,
    min: sorted[0]! * scale,
    p25: at(0.25),
    p50: at(0.5),
    p75: at(0.75),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    p9999: at(0.9999),
    p99999: at(0.99999),
    max: sorted[sorted.length - 1]! * scale,
  };
}

/** Summarises the samples sent in [fromUs, toUs] (sockperf drops a warm-up head and a cool-down tail); null if none. */
export function summarize(rec: RttRecorder, fromUs = -Infinity, toUs = Infinity): LatencySummary | null {
  let n = 0, dropped = 0;
  for (let i = 0; i < rec.count; i++) {
    const t = rec.tx[i]!;
    if (t < fromUs || t > toUs) continue;
    if (Number.isNaN(rec.rtt[i]!)) dropped++;
    else n++;
  }
  if (n === 0) return null;
  const sorted = new Float64Array(n);
  let first = Infinity, last = -Infinity;
  for (let i = 0, j = 0; i < rec.count; i++) {
    const t = rec.tx[i]!, r = rec.rtt[i]!;
    if (t < fromUs || t > toUs || Number.isNaN(r)) continue;
    sorted[j++] = r;
    if (t < first) first = t;
    if (t + r > last) last = t + r;
  }
  sorted.sort();
  return { observations: n, dropped, validSpanUs: last - first, rttUs: percentiles(sorted, 1), latencyUs: percentiles(sorted, 0.5) };
}

const f3 = (x: number) => x.toFixed(3);
const pad8 = (x: number) => f3(x).padStart(8);

/** The percentile block of sockperf's client report, line by line (without the "sockperf: " prefix). */
export function percentileLines(s: LatencySummary): string[] {
  const l = s.latencyUs;
  return [
    `Total ${s.observations} observations; each percentile contains ${(s.observations / 100).toFixed(2)} observations`,
    `---> <MAX> observation = ${pad8(l.max)}`,
    `---> percentile 99.999 = ${pad8(l.p99999)}`,
    `---> percentile 99.990 = ${pad8(l.p9999)}`,
    `---> percentile 99.900 = ${pad8(l.p999)}`,
    `---> percentile 99.000 = ${pad8(l.p99)}`,
    `---> percentile 90.000 = ${pad8(l.p90)}`,
    `---> percentile 75.000 = ${pad8(l.p75)}`,
    `---> percentile 50.000 = ${pad8(l.p50)}`,
    `---> percentile 25.000 = ${pad8(l.p25)}`,
    `---> <MIN> observation = ${pad8(l.min)}`,
  ];
}

/** sockperf's --full-log records: one line per valid round trip (times in seconds, latency in µs). */
export function fullLogLines(rec: RttRecorder, fromUs = -Infinity, toUs = Infinity): string[] {
  const out = ['------------------------------', 'packet, txTime(sec), rxTime(sec), latency(usec)'];
  let k = 0;
  for (let i = 0; i < rec.count; i++) {
    const t = rec.tx[i]!, r = rec.rtt[i]!;
    if (t < fromUs || t > toUs || Number.isNaN(r)) continue;
    out.push(`${k++}, ${(t / 1e6).toFixed(9)}, ${((t + r) / 1e6).toFixed(9)}, ${f3(r / 2)}`);
  }
  out.push('------------------------------');
  return out;
}

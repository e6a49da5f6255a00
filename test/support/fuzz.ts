// Number of property-test runs. XLIO_FUZZ_SCALE multiplies it (e.g. 10 for a long soak,
// 0.01 for a quick local loop); the default is what CI runs.
export function fuzzRuns(base: number): number {
  const scale = Number(process.env['XLIO_FUZZ_SCALE'] ?? '1');
  return Math.max(1, Math.round(base * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

// TCP sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4): a < b when the
// signed 32-bit difference a - b is negative.

export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** a - b as a signed distance in (-2^31, 2^31]. */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
/** RFC 9293 §3.4: lo <= x < hi, all modulo 2^32. */
export function seqInWindow(x: number, lo: number, hi: number): boolean {
  return ((x - lo) >>> 0) < ((hi - lo) >>> 0);
}
export function seqMax(a: number, b: number): number {
  return seqGt(a, b) ? a : b;
}
export function seqMin(a: number, b: number): number {
  return seqLt(a, b) ? a : b;
}

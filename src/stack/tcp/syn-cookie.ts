// SYN cookies (RFC 4987 §3.6), in the manner of Linux's net/ipv4/syncookies.c: when a
// listener's SYN queue is full, the SYN-ACK's ISN encodes a keyed hash of the 4-tuple and
// the peer's ISN, a coarse counter and an index into a small MSS table, so the final ACK
// can re-create the connection with no state kept in between:
//
//   cookie = H0(tuple) + peerIsn + (count << 24) + (H1(tuple, count, idx) mod 2^22) * 4 + idx
//
// H0 and H1 are SipHash-2-4 (isn.ts) under two independent 128-bit secrets. The counter
// ticks every 64 s (Linux: every 60 s, jiffies / (60 * HZ)), and a cookie is accepted for
// MAX_SYNCOOKIE_AGE = 2 counter values: between 64 and 128 s after it was made.
// One deliberate difference: Linux adds the MSS index to a 24-bit hash, so a valid cookie
// with its low bits changed (or an ACK whose sequence number is off by a little) decodes
// to another table entry; here the index is inside the MAC, and any change is refused.
// Not encoded (Linux does it only through the timestamp option): window scale,
// SACK-permitted, ECN.

import type { SeededRng } from '../../rng.js';
import { SipHash24, packTuple, type TupleAddr } from './isn.js';

/** Linux's msstab for IPv4 (net/ipv4/syncookies.c): an MSS is rounded down to one of these. */
export const COOKIE_MSS_TABLE: readonly number[] = [536, 1300, 1440, 1460];
export const COOKIE_COUNTER_US = 64_000_000;
/** Linux's MAX_SYNCOOKIE_AGE: counter values a cookie stays valid for. */
export const MAX_SYNCOOKIE_AGE = 2;
const COOKIEBITS = 24;
/** The MAC's bits in the low 24: all but the two index bits. */
const MACMASK = 0xfffffc;

export class SynCookies {
  private readonly h0: SipHash24;
  private readonly h1: SipHash24;
  private readonly scratch = new Uint8Array(48);

  /** Draws two 128-bit secrets from rng. */
  constructor(rng: SeededRng) {
    this.h0 = SipHash24.fromRng(rng);
    this.h1 = SipHash24.fromRng(rng);
  }

  /** The cookie (our ISN, unsigned) for a SYN from the peer carrying `peerIsn` and offering `mss`. */
  encode(
    localAddr: TupleAddr, localPort: number, remoteAddr: TupleAddr, remotePort: number,
    peerIsn: number, mss: number, nowUs: number,
  ): number {
    let idx = COOKIE_MSS_TABLE.length - 1;
    while (idx > 0 && mss < COOKIE_MSS_TABLE[idx]!) idx--;
    const count = Math.floor(nowUs / COOKIE_COUNTER_US) >>> 0;
    const a = this.hash(this.h0, localAddr, localPort, remoteAddr, remotePort, 0, 0);
    const mac = (this.hash(this.h1, localAddr, localPort, remoteAddr, remotePort, count, idx) << 2) & MACMASK;
    return (a + (peerIsn >>> 0) + ((count << COOKIEBITS) >>> 0) + (mac | idx)) >>> 0;
  }

  /**
   * The MSS a cookie stands for — `cookie` is our ISN, i.e. the ACK's number − 1, and
   * `peerIsn` the ACK's sequence number − 1 — or 0 when it is forged or too old.
   */
  decode(
    cookie: number, localAddr: TupleAddr, localPort: number, remoteAddr: TupleAddr, remotePort: number,
    peerIsn: number, nowUs: number,
  ): number {
    const count = Math.floor(nowUs / COOKIE_COUNTER_US) >>> 0;
    const a = this.hash(this.h0, localAddr, localPort, remoteAddr, remotePort, 0, 0);
    // Strip the outer layer: what is left is (count << 24) | mac | idx.
    const rest = ((cookie >>> 0) - a - (peerIsn >>> 0)) >>> 0;
    const diff = (count - (rest >>> COOKIEBITS)) & (0xffffffff >>> COOKIEBITS);
    if (diff >= MAX_SYNCOOKIE_AGE) return 0;
    const made = (count - diff) >>> 0;
    const idx = rest & 3;
    const mac = (this.hash(this.h1, localAddr, localPort, remoteAddr, remotePort, made, idx) << 2) & MACMASK;
    return mac === (rest & MACMASK) ? COOKIE_MSS_TABLE[idx]! : 0;
  }

  private hash(key: SipHash24, la: TupleAddr, lp: number, ra: TupleAddr, rp: number, count: number, idx: number): number {
    const s = this.scratch;
    const n = packTuple(s, la, lp, ra, rp);
    s[n] = count >>> 24;
    s[n + 1] = (count >>> 16) & 0xff;
    s[n + 2] = (count >>> 8) & 0xff;
    s[n + 3] = count & 0xff;
    s[n + 4] = idx;
    return key.hash(s, n + 5);
  }
}

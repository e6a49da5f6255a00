// SYN cookies (RFC 4987 §3.6), as Linux builds them: when a listener's SYN queue is full,
// the SYN-ACK's ISN encodes a keyed hash of the 4-tuple and the peer's ISN, a 64-second
// counter and an index into a small MSS table, so the final ACK can re-create the
// connection without any state kept in between. A cookie is good for two counter values
// (Linux's MAX_SYNCOOKIE_AGE), i.e. up to about two minutes.

import type { SeededRng } from '../../rng.js';
import { SipHash, pushAddr } from './isn.js';

type Addr = number | Uint8Array;

/** Linux's msstab for IPv4 (net/ipv4/syncookies.c). */
export const COOKIE_MSS_TABLE = [536, 1300, 1440, 1460] as const;
const COUNTER_US = 64_000_000;
const MAX_AGE = 2;


export class SynCookies {
  private readonly k1: SipHash;
  private readonly k2: SipHash;
  private readonly words: number[] = [];

  constructor(rng: SeededRng) {
    this.k1 = new SipHash(rng.fork('cookie1'));
    this.k2 = new SipHash(rng.fork('cookie2'));
  }

  private h(key: SipHash, la: Addr, lp: number, ra: Addr, rp: number, extra: number): number {
    const w = this.words;
    w.length = 0;
    pushAddr(w, la);
    pushAddr(w, ra);
    w.push((lp << 16) | rp, extra | 0);
    return key.hash(w);
  }

  /** The cookie (our ISN) for a SYN carrying `peerIsn` and offering `mss`. */
  encode(la: Addr, lp: number, ra: Addr, rp: number, peerIsn: number, mss: number, nowUs: number): number {
    let idx = 0;
    for (let i = COOKIE_MSS_TABLE.length - 1; i >= 0; i--) {
      if (mss >= COOKIE_MSS_TABLE[i]!) {
        idx = i;
        break;
      }
    }
    const count = Math.floor(nowUs / COUNTER_US) & 0xff;
    // Linux's layout: hash1 + peer ISN + (count << 24) + ((hash2(count) + idx) & 0xffffff).
    const c = (this.h(this.k1, la, lp, ra, rp, 0) + (peerIsn >>> 0) + (count << 24) + ((this.h(this.k2, la, lp, ra, rp, count) + idx) & 0xffffff)) >>> 0;
    return c;
  }

  /** The MSS a cookie (our ISN, i.e. the ACK's number − 1) stands for, or 0 when it is forged or too old. */
  decode(cookie: number, la: Addr, lp: number, ra: Addr, rp: number, peerIsn: number, nowUs: number): number {
    const now = Math.floor(nowUs / COUNTER_US);
    const rest = ((cookie >>> 0) - this.h(this.k1, la, lp, ra, rp, 0) - (peerIsn >>> 0)) >>> 0;
    const count = rest >>> 24;
    const age = ((now & 0xff) - count) & 0xff;
    if (age >= MAX_AGE) return 0;
    const idx = ((rest & 0xffffff) - this.h(this.k2, la, lp, ra, rp, count)) & 0xffffff;
    return idx < COOKIE_MSS_TABLE.length ? COOKIE_MSS_TABLE[idx]! : 0;
  }
}

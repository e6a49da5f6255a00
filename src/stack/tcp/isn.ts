// Initial sequence numbers (RFC 6528 §3): ISN = M + F(local, lport, remote, rport, secret),
// with M a 4-µs clock (RFC 9293 §3.4.1's 250 kHz) and F a keyed hash — here SipHash-2-4
// over the 4-tuple with a 128-bit key drawn from the stack's seeded RNG. Also Linux's
// per-connection timestamp offset (secure_tcp_ts_off) from the same hash with another key.

import type { SeededRng } from '../../rng.js';

type Addr = number | Uint8Array;

/** SipHash-2-4 on 32-bit halves (a 64-bit state as hi/lo pairs), returning the low 32 bits. */
export class SipHash {
  private readonly k: Uint32Array;
  private readonly words: number[] = [];
  constructor(rng: SeededRng) {
    this.k = Uint32Array.of(rng.int(0, 0xffffffff), rng.int(0, 0xffffffff), rng.int(0, 0xffffffff), rng.int(0, 0xffffffff));
  }

  /** Hashes a list of 32-bit words. */
  hash(words: readonly number[]): number {
    // State v0..v3 as (hi, lo) pairs.
    const k = this.k;
    let v0h = k[1]! ^ 0x736f6d65, v0l = k[0]! ^ 0x70736575;
    let v1h = k[3]! ^ 0x646f7261, v1l = k[2]! ^ 0x6e646f6d;
    let v2h = k[1]! ^ 0x6c796765, v2l = k[0]! ^ 0x6e657261;
    let v3h = k[3]! ^ 0x74656462, v3l = k[2]! ^ 0x79746573;
    const add = (ah: number, al: number, bh: number, bl: number): [number, number] => {
      const lo = (al >>> 0) + (bl >>> 0);
      return [((ah + bh + Math.floor(lo / 0x100000000)) | 0), lo | 0];
    };
    const rotl = (h: number, l: number, n: number): [number, number] => {
      if (n === 32) return [l, h];
      if (n > 32) { [h, l] = [l, h]; n -= 32; }
      return [(h << n) | (l >>> (32 - n)), (l << n) | (h >>> (32 - n))];
    };
    const round = () => {
      [v0h, v0l] = add(v0h, v0l, v1h, v1l); [v1h, v1l] = rotl(v1h, v1l, 13); v1h ^= v0h; v1l ^= v0l; [v0h, v0l] = rotl(v0h, v0l, 32);
      [v2h, v2l] = add(v2h, v2l, v3h, v3l); [v3h, v3l] = rotl(v3h, v3l, 16); v3h ^= v2h; v3l ^= v2l;
      [v0h, v0l] = add(v0h, v0l, v3h, v3l); [v3h, v3l] = rotl(v3h, v3l, 21); v3h ^= v0h; v3l ^= v0l;
      [v2h, v2l] = add(v2h, v2l, v1h, v1l); [v1h, v1l] = rotl(v1h, v1l, 17); v1h ^= v2h; v1l ^= v2l; [v2h, v2l] = rotl(v2h, v2l, 32);
    };
    const n = words.length;
    for (let i = 0; i < n; i += 2) {
      const ml = words[i]! | 0, mh = i + 1 < n ? words[i + 1]! | 0 : 0;
      v3h ^= mh; v3l ^= ml;
      round(); round();
      v0h ^= mh; v0l ^= ml;
    }
    const bh = (n * 4) << 24, bl = 0;
    v3h ^= bh; v3l ^= bl;
    round(); round();
    v0h ^= bh; v0l ^= bl;
    v2l ^= 0xff;
    round(); round(); round(); round();
    return (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  }
}

/** Appends an address as 32-bit words (one for IPv4, four for IPv6). */
export function pushAddr(out: number[], a: Addr): void {
  if (typeof a === 'number') out.push(a | 0);
  else for (let i = 0; i < 16; i += 4) out.push((a[i]! << 24) | (a[i + 1]! << 16) | (a[i + 2]! << 8) | a[i + 3]!);
}

export class IsnGenerator {
  private readonly isnKey: SipHash;
  private readonly tsKey: SipHash;
  private readonly words: number[] = [];

  constructor(rng: SeededRng) {
    this.isnKey = new SipHash(rng.fork('isn'));
    this.tsKey = new SipHash(rng.fork('ts'));
  }

  private tuple(la: Addr, lp: number, ra: Addr, rp: number): number[] {
    const w = this.words;
    w.length = 0;
    pushAddr(w, la);
    pushAddr(w, ra);
    w.push((lp << 16) | rp);
    return w;
  }

  /** RFC 6528: M (4 µs ticks) + F(4-tuple); an unsigned 32-bit number. */
  isn(la: Addr, lp: number, ra: Addr, rp: number, nowUs: number): number {
    const m = Math.floor(nowUs / 4) % 0x100000000;
    return (m + this.isnKey.hash(this.tuple(la, lp, ra, rp))) >>> 0;
  }

  /** A per-connection offset for TCP timestamps (so they reveal no host uptime). */
  tsOffset(la: Addr, lp: number, ra: Addr, rp: number): number {
    return this.tsKey.hash(this.tuple(la, lp, ra, rp)) | 0;
  }
}

// Initial sequence numbers (RFC 6528 §3): ISN = M + F(localip, localport, remoteip,
// remoteport, secretkey) mod 2^32, where
// - M is a 4-µs clock, RFC 6528 §3 / RFC 9293 §3.4.1's 250 kHz (Linux's
//   secure_tcp_seq() uses a 64-ns clock instead; we keep the RFC's rate, which wraps
//   every 4.77 hours rather than every 4.6 minutes);
// - F is SipHash-2-4 (Aumasson & Bernstein) with a 128-bit secret drawn from the stack's
//   seeded RNG, as Linux does (siphash over the addresses and ports, net_secret). It is
//   implemented here on 32-bit halves and checked against the reference test vectors;
//   no claim is made beyond that: the secret comes from a seeded, replayable PRNG.
// Also a per-connection timestamp offset (Linux's secure_tcp_ts_off): the same hash under
// another key.
//
// Hashing allocates nothing: the tuple is packed into a scratch array.

import type { SeededRng } from '../../rng.js';

/** An IPv4 address as a number (network order in the high byte), or 4/16 address bytes. */
export type TupleAddr = number | Uint8Array;

/** SipHash-2-4 with a 128-bit key, computed with 32-bit operations. */
export class SipHash24 {
  private v0h = 0;
  private v0l = 0;
  private v1h = 0;
  private v1l = 0;
  private v2h = 0;
  private v2l = 0;
  private v3h = 0;
  private v3l = 0;
  /** High 32 bits of the last hash (hash() returns the low 32). */
  hi = 0;

  /** The key as four little-endian 32-bit words: k0 = key bytes 0..7 = (w0, w1), k1 = bytes 8..15 = (w2, w3). */
  constructor(
    private readonly k0l: number,
    private readonly k0h: number,
    private readonly k1l: number,
    private readonly k1h: number,
  ) {}

  static fromRng(rng: SeededRng): SipHash24 {
    return new SipHash24(rng.nextU32(), rng.nextU32(), rng.nextU32(), rng.nextU32());
  }

  /** A key from 16 bytes (the reference vectors' form). */
  static fromKeyBytes(k: Uint8Array): SipHash24 {
    return new SipHash24(le32(k, 0), le32(k, 4), le32(k, 8), le32(k, 12));
  }

  /** Hashes m[0, len); returns the low 32 bits of the 64-bit result (unsigned); `hi` holds the rest. */
  hash(m: Uint8Array, len: number): number {
    this.v0h = this.k0h ^ 0x736f6d65;
    this.v0l = this.k0l ^ 0x70736575;
    this.v1h = this.k1h ^ 0x646f7261;
    this.v1l = this.k1l ^ 0x6e646f6d;
    this.v2h = this.k0h ^ 0x6c796765;
    this.v2l = this.k0l ^ 0x6e657261;
    this.v3h = this.k1h ^ 0x74656462;
    this.v3l = this.k1l ^ 0x79746573;
    const full = len & ~7;
    for (let i = 0; i < full; i += 8) this.compress(le32(m, i), le32(m, i + 4));
    let bl = 0;
    let bh = (len & 0xff) << 24;
    const rem = len & 7;
    for (let j = 0; j < rem; j++) {
      const b = m[full + j]!;
      if (j < 4) bl |= b << (8 * j);
      else bh |= b << (8 * (j - 4));
    }
    this.compress(bl, bh);
    this.v2l ^= 0xff;
    this.rounds(4);
    this.hi = (this.v0h ^ this.v1h ^ this.v2h ^ this.v3h) >>> 0;
    return (this.v0l ^ this.v1l ^ this.v2l ^ this.v3l) >>> 0;
  }

  private compress(ml: number, mh: number): void {
    this.v3l ^= ml;
    this.v3h ^= mh;
    this.rounds(2);
    this.v0l ^= ml;
    this.v0h ^= mh;
  }

  private rounds(n: number): void {
    let v0h = this.v0h, v0l = this.v0l, v1h = this.v1h, v1l = this.v1l;
    let v2h = this.v2h, v2l = this.v2l, v3h = this.v3h, v3l = this.v3l;
    let s = 0, h = 0;
    for (let r = 0; r < n; r++) {
      // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
      s = (v0l >>> 0) + (v1l >>> 0);
      v0h = (v0h + v1h + (s > 0xffffffff ? 1 : 0)) | 0;
      v0l = s | 0;
      h = v1h;
      v1h = (h << 13) | (v1l >>> 19);
      v1l = (v1l << 13) | (h >>> 19);
      v1h ^= v0h;
      v1l ^= v0l;
      h = v0h;
      v0h = v0l;
      v0l = h;
      // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
      s = (v2l >>> 0) + (v3l >>> 0);
      v2h = (v2h + v3h + (s > 0xffffffff ? 1 : 0)) | 0;
      v2l = s | 0;
      h = v3h;
      v3h = (h << 16) | (v3l >>> 16);
      v3l = (v3l << 16) | (h >>> 16);
      v3h ^= v2h;
      v3l ^= v2l;
      // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
      s = (v0l >>> 0) + (v3l >>> 0);
      v0h = (v0h + v3h + (s > 0xffffffff ? 1 : 0)) | 0;
      v0l = s | 0;
      h = v3h;
      v3h = (h << 21) | (v3l >>> 11);
      v3l = (v3l << 21) | (h >>> 11);
      v3h ^= v0h;
      v3l ^= v0l;
      // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
      s = (v2l >>> 0) + (v1l >>> 0);
      v2h = (v2h + v1h + (s > 0xffffffff ? 1 : 0)) | 0;
      v2l = s | 0;
      h = v1h;
      v1h = (h << 17) | (v1l >>> 15);
      v1l = (v1l << 17) | (h >>> 15);
      v1h ^= v2h;
      v1l ^= v2l;
      h = v2h;
      v2h = v2l;
      v2l = h;
    }
    this.v0h = v0h; this.v0l = v0l; this.v1h = v1h; this.v1l = v1l;
    this.v2h = v2h; this.v2l = v2l; this.v3h = v3h; this.v3l = v3l;
  }
}

function le32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

/** Writes an address (4 bytes for a number, else its own 4 or 16 bytes) at `at`; returns the next offset. */
export function packAddr(out: Uint8Array, at: number, a: TupleAddr): number {
  if (typeof a === 'number') {
    out[at] = a >>> 24;
    out[at + 1] = (a >>> 16) & 0xff;
    out[at + 2] = (a >>> 8) & 0xff;
    out[at + 3] = a & 0xff;
    return at + 4;
  }
  for (let i = 0; i < a.length; i++) out[at + i] = a[i]!;
  return at + a.length;
}

/** Packs (local address, remote address, local port, remote port) into out; returns the length (12 or 36). */
export function packTuple(out: Uint8Array, la: TupleAddr, lp: number, ra: TupleAddr, rp: number): number {
  let at = packAddr(out, 0, la);
  at = packAddr(out, at, ra);
  out[at] = (lp >>> 8) & 0xff;
  out[at + 1] = lp & 0xff;
  out[at + 2] = (rp >>> 8) & 0xff;
  out[at + 3] = rp & 0xff;
  return at + 4;
}

/** RFC 6528 §3 M: microseconds / 4, modulo 2^32. */
export const ISN_CLOCK_US = 4;

export class IsnGenerator {
  private readonly isnKey: SipHash24;
  private readonly tsKey: SipHash24;
  private readonly scratch = new Uint8Array(48);

  /** Draws two 128-bit secrets from rng: one for ISNs, one for timestamp offsets. */
  constructor(rng: SeededRng) {
    this.isnKey = SipHash24.fromRng(rng);
    this.tsKey = SipHash24.fromRng(rng);
  }

  /** RFC 6528 §3: M + F(4-tuple, secret) mod 2^32, with M a 4-µs clock; unsigned. */
  isn(localAddr: TupleAddr, localPort: number, remoteAddr: TupleAddr, remotePort: number, nowUs: number): number {
    const n = packTuple(this.scratch, localAddr, localPort, remoteAddr, remotePort);
    const f = this.isnKey.hash(this.scratch, n);
    const m = Math.floor(nowUs / ISN_CLOCK_US) % 4294967296;
    return (m + f) >>> 0;
  }

  /**
   * The offset added to TCP timestamps (RFC 7323 §7.1: they should not reveal the host's
   * uptime), unsigned: one per connection, keyed on the whole 4-tuple, as Linux's
   * per-connection offsets were when introduced (2016). Linux later (2017, "secure_seq:
   * downgrade to per-host timestamp offsets") keyed it on the address pair only, so all
   * connections between two hosts share one clock; here a reused 4-tuple still gets the
   * same offset, which is what PAWS across TIME-WAIT reuse needs.
   */
  tsOffset(localAddr: TupleAddr, localPort: number, remoteAddr: TupleAddr, remotePort: number): number {
    const n = packTuple(this.scratch, localAddr, localPort, remoteAddr, remotePort);
    return this.tsKey.hash(this.scratch, n);
  }
}

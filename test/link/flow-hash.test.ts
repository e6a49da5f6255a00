// flowHash / flowQueue: RSS-style spreading of Ethernet frames over queues. Both directions
// of a flow agree, flows spread evenly, fragments and non-IP fall back to fewer fields, and
// no input (truncated, garbage) throws or allocates.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import fc from 'fast-check';
import { flowHash, flowQueue } from '../../src/link/flow-hash.js';
import { fuzzRuns } from '../support/fuzz.js';

interface Flow {
  v6: boolean;
  proto: number;
  src: Uint8Array; // 4 or 16 bytes
  dst: Uint8Array;
  sport: number;
  dport: number;
  vlans: number; // 0..2 tags
  /** IPv4: the flags+offset field; IPv6: a fragment header with this offset/M (−1: none). */
  frag: number;
  /** IPv6 extension headers before the transport (hop-by-hop, destination options). */
  ext: number;
  payload: number;
}

const MAC_A = Uint8Array.of(2, 0, 0, 0, 0, 1);
const MAC_B = Uint8Array.of(2, 0, 0, 0, 0, 2);

/** Builds the frame of `f` from `smac` to `dmac` (checksums are not needed by the hash). */
function frame(f: Flow, smac = MAC_A, dmac = MAC_B): Uint8Array {
  const l4 = f.proto === 6 ? 20 : f.proto === 17 ? 8 : 8;
  const ext = f.v6 ? f.ext * 8 + (f.frag >= 0 ? 8 : 0) : 0;
  const ipHeader = f.v6 ? 40 : 20;
  const len = 14 + f.vlans * 4 + ipHeader + ext + l4 + f.payload;
  const b = new Uint8Array(len);
  b.set(dmac, 0);
  b.set(smac, 6);
  let at = 12;
  for (let i = 0; i < f.vlans; i++) {
    b[at] = i === 0 && f.vlans === 2 ? 0x88 : 0x81;
    b[at + 1] = i === 0 && f.vlans === 2 ? 0xa8 : 0x00;
    b[at + 3] = 7 + i; // VLAN id
    at += 4;
  }
  b[at] = f.v6 ? 0x86 : 0x08;
  b[at + 1] = f.v6 ? 0xdd : 0x00;
  const ip = at + 2;
  let next = ip + ipHeader;
  if (f.v6) {
    b[ip] = 0x60;
    const plen = len - ip - 40;
    b[ip + 4] = plen >> 8;
    b[ip + 5] = plen & 0xff;
    b[ip + 7] = 64;
    b.set(f.src, ip + 8);
    b.set(f.dst, ip + 24);
    let nhAt = ip + 6;
    for (let i = 0; i < f.ext; i++) {
      b[nhAt] = i === 0 ? 0 : 60; // hop-by-hop first, then destination options
      nhAt = next;
      b[next + 1] = 0; // 8 bytes
      next += 8;
    }
    if (f.frag >= 0) {
      b[nhAt] = 44;
      nhAt = next;
      b[next + 2] = f.frag >> 8;
      b[next + 3] = f.frag & 0xff;
      next += 8;
    }
    b[nhAt] = f.proto;
  } else {
    b[ip] = 0x45;
    const total = len - ip;
    b[ip + 2] = total >> 8;
    b[ip + 3] = total & 0xff;
    b[ip + 6] = f.frag >> 8;
    b[ip + 7] = f.frag & 0xff;
    b[ip + 8] = 64;
    b[ip + 9] = f.proto;
    b.set(f.src, ip + 12);
    b.set(f.dst, ip + 16);
  }
  if (f.proto === 6 || f.proto === 17) {
    b[next] = f.sport >> 8;
    b[next + 1] = f.sport & 0xff;
    b[next + 2] = f.dport >> 8;
    b[next + 3] = f.dport & 0xff;
  }
  for (let i = next + 4; i < len; i++) b[i] = (i * 7) & 0xff; // payload and the rest of L4
  return b;
}

function reverse(f: Flow): Flow {
  return { ...f, src: f.dst, dst: f.src, sport: f.dport, dport: f.sport };
}

function v4(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

function v6(last: number, prefix = 0xfd00): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = prefix >> 8;
  a[1] = prefix & 0xff;
  a[14] = last >> 8;
  a[15] = last & 0xff;
  return a;
}

const base: Flow = { v6: false, proto: 6, src: v4('198.18.0.1'), dst: v4('198.18.0.2'), sport: 40000, dport: 80, vlans: 0, frag: 0, ext: 0, payload: 10 };

const flowArb: fc.Arbitrary<Flow> = fc
  .record({
    v6: fc.boolean(),
    proto: fc.constantFrom(6, 17, 1, 58, 132),
    a: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    b: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    sport: fc.integer({ min: 0, max: 0xffff }),
    dport: fc.integer({ min: 0, max: 0xffff }),
    vlans: fc.integer({ min: 0, max: 2 }),
    fragKind: fc.constantFrom('none', 'none', 'first', 'later'),
    ext: fc.integer({ min: 0, max: 3 }),
    payload: fc.integer({ min: 0, max: 40 }),
  })
  .map((r) => {
    const n = r.v6 ? 16 : 4;
    const frag = r.fragKind === 'none' ? (r.v6 ? -1 : 0x4000 /* DF */) : r.fragKind === 'first' ? (r.v6 ? 1 : 0x2000) : r.v6 ? 185 << 3 : 185;
    return { v6: r.v6, proto: r.proto, src: r.a.subarray(0, n), dst: r.b.subarray(0, n), sport: r.sport, dport: r.dport, vlans: r.vlans, frag, ext: r.v6 ? r.ext : 0, payload: r.payload };
  });

test('flow hash: both directions of a flow hash alike (IPv4/IPv6, TCP/UDP/other, VLAN tags, fragments)', () => {
  fc.assert(
    fc.property(flowArb, fc.integer({ min: 1, max: 64 }), (f, n) => {
      const fwd = frame(f, MAC_A, MAC_B);
      const rev = frame(reverse(f), MAC_B, MAC_A);
      assert.equal(flowHash(fwd, 0, fwd.length), flowHash(rev, 0, rev.length));
      assert.equal(flowQueue(fwd, 0, fwd.length, n), flowQueue(rev, 0, rev.length, n));
    }),
    { numRuns: fuzzRuns(2000) },
  );
  // Non-IP: by the MAC pair, either way round.
  const arp = new Uint8Array(42);
  arp.set(MAC_B, 0);
  arp.set(MAC_A, 6);
  arp[12] = 0x08;
  arp[13] = 0x06;
  const back = arp.slice();
  back.set(MAC_A, 0);
  back.set(MAC_B, 6);
  assert.equal(flowHash(arp, 0, 42), flowHash(back, 0, 42));
});

test('flow hash: the key is the 5-tuple for TCP/UDP, the 3-tuple for other IP, the 2-tuple for fragments, the MACs otherwise', () => {
  const h = (f: Flow, smac = MAC_A): number => {
    const b = frame(f, smac);
    return flowHash(b, 0, b.length);
  };
  // Ports and protocol count for TCP and UDP; payload, MACs and VLAN tags do not.
  assert.notEqual(h(base), h({ ...base, sport: 40001 }));
  assert.notEqual(h(base), h({ ...base, dport: 81 }));
  assert.notEqual(h(base), h({ ...base, proto: 17 }));
  assert.equal(h(base), h({ ...base, payload: 500 }));
  assert.equal(h(base), h(base, Uint8Array.of(2, 9, 9, 9, 9, 9)));
  assert.equal(h(base), h({ ...base, vlans: 2 }));
  // ICMP: addresses and protocol; the bytes where ports would be do not count.
  const icmp = { ...base, proto: 1 };
  assert.equal(h(icmp), h({ ...icmp, sport: 1, dport: 2 }));
  assert.notEqual(h(icmp), h({ ...icmp, proto: 2 }));
  assert.notEqual(h(icmp), h({ ...icmp, dst: v4('198.18.0.3') }));
  // Fragments: the first (MF, with ports) and a later one (offset, no ports) agree, whatever the protocol.
  const first = { ...base, frag: 0x2000 };
  const later = { ...base, frag: 185, sport: 0, dport: 0 };
  assert.equal(h(first), h(later));
  assert.equal(h(first), h({ ...first, proto: 17, sport: 9 }));
  assert.notEqual(h(first), h(base));
  const f6 = { ...base, v6: true, src: v6(1), dst: v6(2), frag: 1, ext: 1 };
  assert.equal(h(f6), h({ ...f6, frag: 185 << 3, sport: 7, ext: 0 }));
  // IPv6 extension headers are stepped over to reach the ports.
  const u6 = { ...base, v6: true, proto: 17, src: v6(1), dst: v6(2), frag: -1, ext: 0 };
  assert.equal(h(u6), h({ ...u6, ext: 2 }));
  assert.notEqual(h(u6), h({ ...u6, ext: 2, sport: 1 }));
  // The ports must lie inside the IP packet, not in Ethernet padding: a UDP header cut to 2 bytes
  // (IPv4 total length says so) hashes as the 3-tuple, whatever follows.
  const padded = frame({ ...base, proto: 17 });
  padded[14 + 3] = 22; // total length: 20 + 2
  const other = padded.slice();
  other[14 + 22] ^= 0xff; // "destination port" byte in the padding
  assert.equal(flowHash(padded, 0, padded.length), flowHash(other, 0, other.length));
});

test('flow hash: flows spread evenly over the queues', () => {
  // Random flows over 8 queues, and the common case of one client opening many connections
  // (only the source port changes) over 6 queues: every queue within 10% of its share.
  const spread = (n: number, count: number, make: (i: number) => Uint8Array): number[] => {
    const q = new Array<number>(n).fill(0);
    for (let i = 0; i < count; i++) {
      const b = make(i);
      q[flowQueue(b, 0, b.length, n)]!++;
    }
    return q;
  };
  const rnd = fc.sample(flowArb, { numRuns: 16000, seed: 42 });
  const random = spread(8, rnd.length, (i) => frame(rnd[i]!));
  const ports = spread(6, 12000, (i) => frame({ ...base, sport: 32768 + i }));
  const hosts = spread(4, 8000, (i) => frame({ ...base, v6: true, src: v6(i), dst: v6(1, 0x2001), frag: -1 }));
  for (const [name, q, total] of [['random', random, 16000], ['ports', ports, 12000], ['hosts', hosts, 8000]] as const) {
    const share = total / q.length;
    for (const c of q) assert.ok(Math.abs(c - share) < share * 0.1, `${name}: queue counts ${q.join('/')} are uneven`);
  }
  // Unique 5-tuples rarely collide in 32 bits.
  const seen = new Set<number>();
  for (let i = 0; i < 12000; i++) {
    const b = frame({ ...base, sport: 1024 + i });
    seen.add(flowHash(b, 0, b.length));
  }
  assert.ok(seen.size >= 11995, `${12000 - seen.size} collisions`);
});

test('flow hash: malformed, truncated and random frames never throw and stay in range', () => {
  const good = [frame(base), frame({ ...base, v6: true, src: v6(1), dst: v6(2), frag: -1, ext: 3, vlans: 2 }), frame({ ...base, frag: 0x2000 })];
  for (const g of good) {
    for (let len = 0; len <= g.length; len++) {
      const q = flowQueue(g, 0, len, 5);
      assert.ok(q >= 0 && q < 5);
      // The length is honoured: a frame cut short hashes as its own bytes, not the buffer's.
      assert.equal(flowHash(g, 0, len), flowHash(g.slice(0, len), 0, len));
    }
  }
  assert.equal(flowHash(new Uint8Array(13), 0, 13), 0);
  assert.equal(flowHash(good[0]!, 0, 1000), flowHash(good[0]!, 0, good[0]!.length), 'len past the end is clamped');
  // A frame inside a larger buffer hashes as the frame alone.
  const big = new Uint8Array(good[1]!.length + 100);
  big.set(good[1]!, 37);
  assert.equal(flowHash(big, 37, good[1]!.length), flowHash(good[1]!, 0, good[1]!.length));
  // Bad IPv4 headers (IHL < 5, IHL past the frame, wrong version, total length < IHL) fall
  // back to the MACs: frames that differ only in addresses and ports then hash alike.
  for (const [at, value] of [[14, 0x44], [14, 0x4f], [14, 0x65], [17, 10]] as const) {
    const b = frame(base);
    const c = frame({ ...base, src: v4('198.18.0.9'), sport: 1 });
    b[at] = value;
    c[at] = value;
    assert.equal(flowHash(b, 0, b.length), flowHash(c, 0, c.length), `byte ${at} = ${value}: the IP header still counted`);
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: 1, max: 1000 }), fc.constantFrom(0x0800, 0x86dd, 0x8100, 0x0806), (bytes, n, type) => {
      if (bytes.length >= 14) {
        bytes[12] = type >> 8;
        bytes[13] = type & 0xff;
      }
      const q = flowQueue(bytes, 0, bytes.length, n);
      assert.ok(Number.isInteger(q) && q >= 0 && q < n);
    }),
    { numRuns: fuzzRuns(3000) },
  );
  for (const n of [0, -1, 1.5, Number.NaN]) assert.throws(() => flowQueue(good[0]!, 0, good[0]!.length, n), RangeError);
});

test('flow hash: hashing allocates nothing (no garbage collection over a million frames)', () => {
  const frames = [frame(base), frame({ ...base, v6: true, proto: 17, src: v6(1), dst: v6(2), frag: -1, ext: 2, vlans: 1 }), frame({ ...base, frag: 185 }), new Uint8Array(60)];
  const sink: Uint8Array[] = [];
  // A loop per function, warmed up (optimised) before it is measured.
  const loop = (fn: (b: Uint8Array, at: number, len: number) => number) => (): number => {
    let acc = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const b = frames[i & 3]!;
      b[b.length - 1] = i;
      acc = (acc + fn(b, 0, b.length)) | 0;
    }
    return acc;
  };
  const gcsDuring = (run: () => number): number => {
    run();
    run();
    const p = new v8.GCProfiler();
    p.start();
    run();
    return p.stop().statistics.length;
  };
  // The measurement sees allocation when there is some.
  const allocating = (b: Uint8Array, at: number, len: number): number => {
    sink[0] = new Uint8Array(16);
    return b[at]! + len;
  };
  assert.ok(gcsDuring(loop(allocating)) > 0, 'the control allocated without a collection');
  assert.equal(gcsDuring(loop(flowHash)), 0);
  assert.equal(gcsDuring(loop((b, at, len) => flowQueue(b, at, len, 7))), 0);
});

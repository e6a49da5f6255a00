import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ipv6 } from '../../src/wire/address.js';
import { NextHeader } from '../../src/wire/ipv6.js';
import { Ipv6Reassembler, LINUX_REASSEMBLY_V6, type Ipv6FragmentParameterProblem } from '../../src/stack/reassembly.js';
import { fuzzRuns } from '../support/fuzz.js';

const A = ipv6('2001:db8::a');
const B = ipv6('2001:db8::b');
const SEC = 1_000_000;

/** An IPv6 header (payload length as sent) naming the Fragment header, optionally after a destination-options header. */
function unfragmentable(opts: { destOpts?: boolean; payloadLength?: number } = {}): Uint8Array {
  const u = new Uint8Array(opts.destOpts ? 48 : 40);
  u[0] = 0x60;
  u[4] = (opts.payloadLength ?? 0) >>> 8;
  u[5] = (opts.payloadLength ?? 0) & 0xff;
  u[6] = opts.destOpts ? NextHeader.DestinationOptions : NextHeader.Fragment;
  u[7] = 64;
  u.set(A, 8);
  u.set(B, 24);
  if (opts.destOpts) {
    u[40] = NextHeader.Fragment;
    u[41] = 0; // 8 bytes
    u[42] = 1; // PadN, 4 bytes of padding
    u[43] = 4;
  }
  return u;
}

interface Frag {
  offset: number;
  more: boolean;
  data: Uint8Array;
}

/** Cuts a payload into fragments of `size` bytes (a multiple of 8), the last one shorter. */
function fragment(payload: Uint8Array, size: number): Frag[] {
  const out: Frag[] = [];
  for (let o = 0; o < payload.length; o += size) {
    const end = Math.min(o + size, payload.length);
    out.push({ offset: o, more: end < payload.length, data: payload.subarray(o, end) });
  }
  return out;
}

type Result = ReturnType<Ipv6Reassembler['add']>;

function add(r: Ipv6Reassembler, id: number, f: Frag, opts: { now?: number; nextHeader?: number; destOpts?: boolean; dst?: Uint8Array } = {}): Result {
  const u = unfragmentable({ destOpts: opts.destOpts ?? false, payloadLength: 8 + f.data.length + (opts.destOpts ? 8 : 0) });
  return r.add(A, opts.dst ?? B, id, f.offset, f.more, opts.nextHeader ?? NextHeader.UDP, u, f.data, opts.now ?? 0);
}

function isProblem(x: Result): x is Ipv6FragmentParameterProblem {
  return x !== null && !(x instanceof Uint8Array);
}

/** Asserts `whole` is the reassembled packet: header rewritten, payload intact. */
function assertWhole(whole: Result, payload: Uint8Array, opts: { destOpts?: boolean; nextHeader?: number } = {}): void {
  assert.ok(whole instanceof Uint8Array, 'reassembled');
  const hl = opts.destOpts ? 48 : 40;
  assert.equal(whole.length, hl + payload.length);
  assert.equal((whole[4]! << 8) | whole[5]!, hl - 40 + payload.length, 'payload length');
  if (opts.destOpts) {
    assert.equal(whole[6], NextHeader.DestinationOptions, 'the IPv6 header still names the options');
    assert.equal(whole[40], opts.nextHeader ?? NextHeader.UDP, 'the last Next Header names the upper layer');
  } else assert.equal(whole[6], opts.nextHeader ?? NextHeader.UDP);
  assert.deepEqual(whole.subarray(8, 24), A);
  assert.deepEqual(whole.subarray(24, 40), B);
  assert.deepEqual(whole.subarray(hl), payload);
}

function payloadOf(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
}

/** Adds all fragments in order; only the last call may complete. */
function addAll(r: Ipv6Reassembler, id: number, frags: Frag[], opts: { destOpts?: boolean } = {}): Result {
  let last: Result = null;
  frags.forEach((f, i) => {
    last = add(r, id, f, opts);
    if (i < frags.length - 1) assert.equal(last, null, `fragment ${i} completed early`);
  });
  return last;
}

test('ipv6 reassembly: Linux limits are 60 s and 4 MiB', () => {
  assert.equal(LINUX_REASSEMBLY_V6.lifetimeUs, 60 * SEC);
  assert.equal(LINUX_REASSEMBLY_V6.maxBytes, 4 * 1024 * 1024);
  const r = new Ipv6Reassembler();
  assert.deepEqual(r.limits, { lifetimeUs: 60 * SEC, maxBytes: 4 * 1024 * 1024 });
});

test('ipv6 reassembly: in order, reversed and shuffled fragments give back the packet', () => {
  const payload = payloadOf(3000);
  const frags = fragment(payload, 1232);
  const r = new Ipv6Reassembler();
  assertWhole(addAll(r, 1, frags), payload);
  assertWhole(addAll(r, 2, [...frags].reverse()), payload);
  assertWhole(addAll(r, 3, [frags[1]!, frags[2]!, frags[0]!]), payload);
  assert.equal(r.counters.reassembled, 3);
  assert.equal(r.pendingDatagrams, 0);
  assert.equal(r.pendingBytes, 0);
});

test('ipv6 reassembly: the first fragment\'s extension headers are kept, its last Next Header patched', () => {
  const payload = payloadOf(100);
  const frags = fragment(payload, 48);
  const r = new Ipv6Reassembler();
  // Later fragments carry no options: only the offset-0 fragment's unfragmentable part counts.
  assert.equal(add(r, 9, frags[2]!), null);
  assert.equal(add(r, 9, frags[1]!, { nextHeader: NextHeader.TCP }), null);
  const whole = add(r, 9, frags[0]!, { destOpts: true, nextHeader: NextHeader.ICMPv6 });
  // RFC 8200 §4.5: only the offset-0 fragment's Next Header is used.
  assertWhole(whole, payload, { destOpts: true, nextHeader: NextHeader.ICMPv6 });
});

test('ipv6 reassembly: any permutation of the fragments of any payload reassembles exactly (property)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 4000, size: 'max' }),
      fc.integer({ min: 1, max: 160 }).map((n) => n * 8),
      fc.boolean(),
      fc.integer({ min: 0, max: 0xffffffff }),
      (payload, size, destOpts, seed) => {
        const frags = fragment(payload, size);
        // A Fisher-Yates shuffle driven by the seed.
        let s = seed >>> 0;
        for (let i = frags.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          const j = s % (i + 1);
          [frags[i], frags[j]] = [frags[j]!, frags[i]!];
        }
        const r = new Ipv6Reassembler();
        const last = addAll(r, seed, frags, { destOpts });
        if (frags.length === 1) {
          assertWhole(last, payload, { destOpts }); // an atomic fragment
          assert.equal(r.counters.atomic, 1);
        } else {
          assertWhole(last, payload, { destOpts });
          assert.equal(r.counters.reassembled, 1);
        }
        assert.equal(r.pendingDatagrams, 0);
        assert.equal(r.pendingBytes, 0);
      },
    ),
    { numRuns: fuzzRuns(300) },
  );
});

test('ipv6 reassembly: exact duplicates are ignored; any other overlap discards the datagram silently (RFC 5722)', () => {
  const payload = payloadOf(48);
  const r = new Ipv6Reassembler();
  // Duplicates, even of the last fragment, do not disturb reassembly.
  assert.equal(add(r, 1, { offset: 0, more: true, data: payload.subarray(0, 16) }), null);
  assert.equal(add(r, 1, { offset: 0, more: true, data: payload.subarray(0, 16) }), null);
  assert.equal(add(r, 1, { offset: 32, more: false, data: payload.subarray(32) }), null);
  assert.equal(add(r, 1, { offset: 32, more: false, data: payload.subarray(32) }), null);
  assert.equal(r.counters.duplicates, 2);
  assertWhole(add(r, 1, { offset: 16, more: true, data: payload.subarray(16, 32) }), payload);

  // A partial overlap: everything received is dropped, nothing is sent back.
  assert.equal(add(r, 2, { offset: 0, more: true, data: new Uint8Array(16) }), null);
  assert.equal(add(r, 2, { offset: 8, more: true, data: new Uint8Array(16) }), null);
  assert.equal(r.counters.overlaps, 1);
  assert.equal(r.pendingDatagrams, 0);
  assert.equal(r.pendingBytes, 0);
  assert.equal(add(r, 2, { offset: 16, more: false, data: new Uint8Array(4) }), null, 'the rest alone does not complete it');

  // A fragment lying inside one already received is an overlap too (Linux would ignore it).
  assert.equal(add(r, 3, { offset: 0, more: true, data: new Uint8Array(32) }), null);
  assert.equal(add(r, 3, { offset: 8, more: true, data: new Uint8Array(8) }), null);
  assert.equal(r.counters.overlaps, 2);
  assert.equal(r.pendingDatagrams, 1, 'only datagram 2\'s tail is left');

  // A copy that disagrees on where the datagram ends, or two different ends.
  assert.equal(add(r, 4, { offset: 8, more: true, data: new Uint8Array(16) }), null);
  assert.equal(add(r, 4, { offset: 8, more: false, data: new Uint8Array(16) }), null);
  assert.equal(r.counters.overlaps, 3);
  assert.equal(add(r, 5, { offset: 16, more: false, data: new Uint8Array(8) }), null);
  assert.equal(add(r, 5, { offset: 40, more: false, data: new Uint8Array(8) }), null);
  assert.equal(r.counters.overlaps, 4);
  assert.equal(r.counters.reassembled, 1);
});

test('ipv6 reassembly: a non-final fragment not a multiple of 8 long earns a parameter problem at Payload Length', () => {
  const r = new Ipv6Reassembler();
  const p = add(r, 1, { offset: 0, more: true, data: new Uint8Array(1001) });
  assert.deepEqual(p, { kind: 'parameterProblem', code: 0, pointer: 4 });
  assert.equal(r.counters.parameterProblems, 1);
  assert.equal(r.pendingDatagrams, 0, 'the fragment is discarded');
  // The last fragment may have any length.
  assert.equal(add(r, 1, { offset: 8, more: false, data: new Uint8Array(1001) }), null);
  assert.equal(r.counters.parameterProblems, 1);
});

test('ipv6 reassembly: a Payload Length past 65535 earns a parameter problem at Fragment Offset', () => {
  const r = new Ipv6Reassembler();
  const p = add(r, 1, { offset: 65528, more: false, data: new Uint8Array(16) });
  assert.ok(isProblem(p));
  assert.deepEqual(p, { kind: 'parameterProblem', code: 0, pointer: 42 }); // 40-byte header, then 2 into the Fragment header
  // The fragment's own extension headers count towards the reassembled Payload Length.
  const q = add(r, 2, { offset: 65520, more: false, data: new Uint8Array(8) }, { destOpts: true });
  assert.deepEqual(q, { kind: 'parameterProblem', code: 0, pointer: 50 });
  // Exactly 65535 is allowed.
  assert.equal(add(r, 3, { offset: 65520, more: false, data: new Uint8Array(15) }), null);
  assert.equal(r.counters.parameterProblems, 2);
  assert.equal(r.pendingDatagrams, 1);
});

test('ipv6 reassembly: a first fragment with more extension headers than the rest cannot push the whole past 65535', () => {
  const r = new Ipv6Reassembler();
  // Each fragment is within bounds on its own, but the offset-0 fragment brings 8 bytes of
  // options, so the whole would be 8 + 65528 + 7 > 65535: dropped silently (Linux).
  assert.equal(add(r, 1, { offset: 65528, more: false, data: new Uint8Array(7) }), null);
  for (let o = 8; o < 65528; o += 8192) {
    assert.equal(add(r, 1, { offset: o, more: true, data: new Uint8Array(Math.min(8192, 65528 - o)) }), null);
  }
  assert.equal(add(r, 1, { offset: 0, more: true, data: new Uint8Array(8) }, { destOpts: true }), null);
  assert.equal(r.counters.reassembled, 0);
  assert.equal(r.counters.parameterProblems, 0);
  assert.equal(r.pendingDatagrams, 0);
});

test('ipv6 reassembly: a timeout reports the first fragment, and only when it arrived', () => {
  const reported: { src: Uint8Array; packet: Uint8Array }[] = [];
  const r = new Ipv6Reassembler({}, (src, packet) => reported.push({ src, packet }));
  const first = { offset: 0, more: true, data: payloadOf(16) };
  assert.equal(add(r, 0x12345678, first, { now: 0 }), null);
  assert.equal(add(r, 7, { offset: 16, more: false, data: new Uint8Array(8) }, { now: 10 * SEC }), null);
  assert.equal(r.poll(59 * SEC), 60 * SEC, 'still waiting before 60 s; the next deadline is the first datagram\'s');
  assert.equal(r.pendingDatagrams, 2);
  assert.equal(r.poll(60 * SEC), 70 * SEC);
  assert.equal(r.counters.timeouts, 1);
  assert.equal(reported.length, 1);
  assert.deepEqual(reported[0]!.src, A);
  // The offset-0 fragment packet as it arrived: header, Fragment header, data.
  const p = reported[0]!.packet;
  assert.equal(p.length, 40 + 8 + 16);
  assert.equal(p[6], NextHeader.Fragment);
  assert.equal((p[4]! << 8) | p[5]!, 8 + 16);
  assert.deepEqual([...p.subarray(40, 48)], [NextHeader.UDP, 0, 0, 1, 0x12, 0x34, 0x56, 0x78]);
  assert.deepEqual(p.subarray(48), first.data);
  // Without its first fragment, the other datagram times out quietly.
  assert.equal(r.poll(70 * SEC), Infinity);
  assert.equal(r.counters.timeouts, 2);
  assert.equal(reported.length, 1);
  assert.equal(r.pendingDatagrams, 0);
  assert.equal(r.pendingBytes, 0);
});

test('ipv6 reassembly: memory stays under its bound by evicting the oldest datagrams', () => {
  const r = new Ipv6Reassembler({ maxBytes: 10_000 });
  for (let id = 10; id < 30; id++) add(r, id, { offset: 8, more: true, data: new Uint8Array(1000) });
  assert.ok(r.pendingBytes <= 10_000);
  assert.equal(r.counters.evicted, 10);
  assert.equal(r.pendingDatagrams, 10);
  // The newest survive and complete; the oldest were forgotten.
  assert.equal(add(r, 29, { offset: 1008, more: false, data: new Uint8Array(4) }), null);
  assertWhole(add(r, 29, { offset: 0, more: true, data: new Uint8Array(8) }), new Uint8Array(1012));
  assert.equal(add(r, 10, { offset: 1008, more: false, data: new Uint8Array(4) }), null);
  assert.equal(add(r, 10, { offset: 0, more: true, data: new Uint8Array(8) }), null, 'datagram 10 lost its middle');
  // One datagram bigger than the bound is evicted itself.
  const small = new Ipv6Reassembler({ maxBytes: 100 });
  assert.equal(add(small, 1, { offset: 0, more: true, data: new Uint8Array(200) }), null);
  assert.equal(small.pendingDatagrams, 0);
  assert.equal(small.counters.evicted, 1);
});

test('ipv6 reassembly: an atomic fragment is processed on its own (RFC 6946)', () => {
  const r = new Ipv6Reassembler();
  // A datagram with the same identification is pending...
  assert.equal(add(r, 7, { offset: 8, more: false, data: new Uint8Array(8) }), null);
  const bytes = r.pendingBytes;
  // ...and the atomic fragment neither completes it nor disturbs it.
  const payload = payloadOf(20);
  assertWhole(add(r, 7, { offset: 0, more: false, data: payload }, { destOpts: true, nextHeader: NextHeader.TCP }), payload, { destOpts: true, nextHeader: NextHeader.TCP });
  assert.equal(r.counters.atomic, 1);
  assert.equal(r.counters.reassembled, 0);
  assert.equal(r.pendingDatagrams, 1);
  assert.equal(r.pendingBytes, bytes);
  // The pending datagram still completes with its own first fragment.
  assertWhole(add(r, 7, { offset: 0, more: true, data: payload.subarray(0, 8) }), Uint8Array.from([...payload.subarray(0, 8), ...new Uint8Array(8)]));
});

test('ipv6 reassembly: datagrams are told apart by source, destination and identification', () => {
  const r = new Ipv6Reassembler();
  const C = ipv6('2001:db8::c');
  assert.equal(add(r, 1, { offset: 0, more: true, data: new Uint8Array(8).fill(1) }), null);
  assert.equal(add(r, 1, { offset: 0, more: true, data: new Uint8Array(8).fill(2) }, { dst: C }), null);
  assert.equal(add(r, 2, { offset: 0, more: true, data: new Uint8Array(8).fill(3) }), null);
  assert.equal(r.pendingDatagrams, 3);
  assert.equal(r.counters.duplicates + r.counters.overlaps, 0);
  const whole = add(r, 1, { offset: 8, more: false, data: new Uint8Array(0) }, { dst: C });
  assert.ok(whole instanceof Uint8Array);
  assert.deepEqual([...whole.subarray(40)], [2, 2, 2, 2, 2, 2, 2, 2]);
});

test('ipv6 reassembly: a first fragment whose headers do not end at a Fragment header is malformed', () => {
  const r = new Ipv6Reassembler();
  const u = unfragmentable();
  u[6] = NextHeader.UDP; // does not name the Fragment header
  assert.equal(r.add(A, B, 1, 0, true, NextHeader.UDP, u, new Uint8Array(8), 0), null);
  assert.equal(r.add(A, B, 2, 0, true, NextHeader.UDP, u.subarray(0, 30), new Uint8Array(8), 0), null);
  const truncatedOptions = unfragmentable({ destOpts: true }).subarray(0, 44);
  assert.equal(r.add(A, B, 3, 0, true, NextHeader.UDP, truncatedOptions, new Uint8Array(8), 0), null);
  assert.equal(r.counters.malformed, 3);
  assert.equal(r.pendingDatagrams, 0);
  // An empty fragment with M set is dropped too (Linux).
  assert.equal(add(r, 4, { offset: 8, more: true, data: new Uint8Array(0) }), null);
  assert.equal(r.counters.malformed, 4);
});

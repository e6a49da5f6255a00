import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Icmpv6Packet, Icmpv6Type, Icmpv6UnreachableCode, Icmpv6TimeExceededCode, Icmpv6ParameterProblemCode, ICMPV6_HEADER_LEN,
  emitIcmpv6, formatIcmpv6, icmpv6ReprLength, icmpv6TypeOf, parseIcmpv6, type Icmpv6Repr,
} from '../../src/wire/icmpv6.js';
import { parseIpv6, NextHeader } from '../../src/wire/ipv6.js';
import { parseUdp } from '../../src/wire/udp.js';
import { isParseError, ParseErrorKind } from '../../src/wire/error.js';
import { formatIpv6, ipv6 } from '../../src/wire/address.js';
import { updateChecksum16, type PseudoHeader } from '../../src/wire/checksum.js';
import { fuzzRuns } from '../support/fuzz.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
// Each vector: bytes(IPv6(src='fe80::1',dst='ff02::1')/MSG)[40:] with scapy.layers.inet6 (Debian
// python3-scapy 2.5.0), so the checksum is scapy's over this pseudo-header.
const PH: PseudoHeader = { version: 6, src: ipv6('fe80::1'), dst: ipv6('ff02::1') };
// INNER = IPv6(src='2001:db8::1',dst='2001:db8::2',hlim=1)/UDP(sport=5000,dport=53)/Raw(b'q')
const V = {
  echoRequest: hex('80005b241234000970696e6736'), // ICMPv6EchoRequest(id=0x1234,seq=9,data=b'ping6')
  echoReply: hex('8100c247beefffff'), // ICMPv6EchoReply(id=0xbeef,seq=65535,data=b'')
  // ICMPv6DestUnreach(code=4)/INNER
  unreach: hex('0104901200000000600000000009110120010db800000000000000000000000120010db80000000000000000000000021388003500091faa71'),
  // ICMPv6DestUnreach(code=1)/INNER
  unreachAdmin: hex('0101901500000000600000000009110120010db800000000000000000000000120010db80000000000000000000000021388003500091faa71'),
  // ICMPv6PacketTooBig(mtu=1280)/INNER
  tooBig: hex('02008a1600000500600000000009110120010db800000000000000000000000120010db80000000000000000000000021388003500091faa71'),
  // ICMPv6TimeExceeded(code=1)/INNER
  timeExceeded: hex('03018e1500000000600000000009110120010db800000000000000000000000120010db80000000000000000000000021388003500091faa71'),
  // ICMPv6ParamProblem(code=1,ptr=40)/INNER
  paramProblem: hex('04018ced00000028600000000009110120010db800000000000000000000000120010db80000000000000000000000021388003500091faa71'),
  unknown: hex('c807f2520102030468656c6c6f'), // ICMPv6Unknown(type=200,code=7,msgbody=b'\x01\x02\x03\x04hello')
};

function parsed(b: Uint8Array): Icmpv6Repr {
  const r = parseIcmpv6(b, 0, b.length, { pseudoHeader: PH });
  assert.ok(!isParseError(r), String(r));
  return r;
}
function kindOf(b: Uint8Array, opts = {}): string {
  const r = parseIcmpv6(b, 0, b.length, opts);
  return isParseError(r) ? r.kind : `ok:${r.kind}`;
}
/** The invoking packet must be the scapy INNER packet, intact (its UDP checksum verifies). */
function assertInner(original: Uint8Array, frame: Uint8Array): void {
  assert.equal(original.buffer, frame.buffer, 'zero-copy');
  assert.equal(original.byteOffset, frame.byteOffset + 8);
  const ip = parseIpv6(original);
  assert.ok(!isParseError(ip), String(ip));
  assert.equal(formatIpv6(ip.src), '2001:db8::1');
  assert.equal(formatIpv6(ip.dst), '2001:db8::2');
  assert.equal(ip.hopLimit, 1);
  assert.equal(ip.upperProtocol, NextHeader.UDP);
  const udp = parseUdp(ip.payload, 0, ip.payload.length, { pseudoHeader: { version: 6, src: ip.src, dst: ip.dst } });
  assert.ok(!isParseError(udp), String(udp));
  assert.equal(udp.srcPort, 5000);
  assert.equal(udp.dstPort, 53);
  assert.equal(Buffer.from(udp.payload).toString(), 'q');
}

test('icmpv6: echo request and reply from scapy, field by field, checksums verified', () => {
  const e = parsed(V.echoRequest);
  assert.ok(e.kind === 'echoRequest');
  assert.equal(e.code, 0);
  assert.equal(e.checksum, 0x5b24);
  assert.equal(e.identifier, 0x1234);
  assert.equal(e.sequence, 9);
  assert.equal(Buffer.from(e.data).toString(), 'ping6');
  assert.equal(e.data.buffer, V.echoRequest.buffer, 'echo data is zero-copy');
  const r = parsed(V.echoReply);
  assert.ok(r.kind === 'echoReply');
  assert.equal(r.identifier, 0xbeef);
  assert.equal(r.sequence, 0xffff);
  assert.equal(r.data.length, 0);
});

test('icmpv6: error messages from scapy carry the invoking packet zero-copy (RFC 4443 §3)', () => {
  const u = parsed(V.unreach);
  assert.ok(u.kind === 'destinationUnreachable');
  assert.equal(u.code, Icmpv6UnreachableCode.PortUnreachable);
  assert.equal(u.unused, 0);
  assertInner(u.original, V.unreach);
  const a = parsed(V.unreachAdmin);
  assert.ok(a.kind === 'destinationUnreachable' && a.code === Icmpv6UnreachableCode.AdminProhibited);
  const t = parsed(V.tooBig);
  assert.ok(t.kind === 'packetTooBig');
  assert.equal(t.mtu, 1280);
  assertInner(t.original, V.tooBig);
  const x = parsed(V.timeExceeded);
  assert.ok(x.kind === 'timeExceeded');
  assert.equal(x.code, Icmpv6TimeExceededCode.FragmentReassemblyTimeExceeded);
  assertInner(x.original, V.timeExceeded);
  const p = parsed(V.paramProblem);
  assert.ok(p.kind === 'parameterProblem');
  assert.equal(p.code, Icmpv6ParameterProblemCode.UnrecognizedNextHeader);
  assert.equal(p.pointer, 40);
  assertInner(p.original, V.paramProblem);
});

test('icmpv6: an unknown type is kept whole: type, code, the 4 bytes after the checksum, data', () => {
  const u = parsed(V.unknown);
  assert.ok(u.kind === 'other');
  assert.equal(u.type, 200);
  assert.equal(u.code, 7);
  assert.equal(u.rest, 0x01020304);
  assert.equal(Buffer.from(u.data).toString(), 'hello');
  assert.equal(icmpv6TypeOf(u), 200);
});

test('icmpv6: every vector re-emits byte for byte, with a recomputed checksum and in place', () => {
  for (const [name, b] of Object.entries(V)) {
    const r = parsed(b);
    assert.equal(icmpv6ReprLength(r), b.length, name);
    const out = new Uint8Array(icmpv6ReprLength(r) + 3);
    assert.equal(emitIcmpv6({ ...r, checksum: undefined }, out, 3, PH), b.length);
    assert.deepEqual(out.subarray(3), b, name);
    // Re-emitting a parsed message into its own buffer leaves it unchanged (payload in place).
    const copy = Uint8Array.from(b);
    const inPlace = parsed(copy);
    emitIcmpv6({ ...inPlace, checksum: undefined }, copy, 0, PH);
    assert.deepEqual(copy, b, `${name} in place`);
  }
});

test('icmpv6: the view reads and writes fields without a Repr', () => {
  const b = Uint8Array.from(V.tooBig);
  const p = new Icmpv6Packet(b);
  assert.equal(p.type, Icmpv6Type.PacketTooBig);
  assert.equal(p.mtu, 1280);
  assert.equal(p.bodyOffset, 8);
  assert.ok(p.verifyChecksum(PH));
  p.mtu = 1400;
  assert.ok(!p.verifyChecksum(PH));
  assert.equal(p.computeChecksum(PH), updateChecksum16(0x8a16, 0x0500, 0x0578)); // RFC 1624
  p.fillChecksum(PH);
  assert.ok(p.verifyChecksum(PH));
  const r = parsed(b);
  assert.ok(r.kind === 'packetTooBig' && r.mtu === 1400);
  const e = p.reset(Uint8Array.from(V.echoRequest), 0, V.echoRequest.length);
  assert.equal(e.identifier, 0x1234);
  e.sequence = 10;
  e.identifier = 0x4321;
  assert.equal(e.rest, 0x4321000a);
  assert.equal(e.ndpOptionsOffset, -1);
  e.fillChecksum(PH);
  const er = parsed(e.bytes);
  assert.ok(er.kind === 'echoRequest' && er.identifier === 0x4321 && er.sequence === 10);
});

test('icmpv6: bad checksums and short messages are typed errors', () => {
  for (const [name, b] of Object.entries(V)) {
    for (const at of [0, 2, 5, b.length - 1]) {
      const bad = Uint8Array.from(b);
      bad[at]! ^= 0x10;
      assert.equal(kindOf(bad, { pseudoHeader: PH }), ParseErrorKind.Checksum, `${name} bit flipped at ${at}`);
    }
    // The pseudo-header is covered too (RFC 4443 §2.3): another destination fails.
    assert.equal(kindOf(b, { pseudoHeader: { ...PH, dst: ipv6('ff02::2') } }), ParseErrorKind.Checksum, name);
    // Without a pseudo-header nothing is verified.
    const bad = Uint8Array.from(b);
    bad[3]! ^= 1;
    assert.ok(kindOf(bad).startsWith('ok:'), name);
    for (let n = 0; n < ICMPV6_HEADER_LEN; n++) assert.equal(kindOf(b.subarray(0, n)), ParseErrorKind.Truncated, `${name} cut to ${n}`);
  }
  // Cutting an error message short leaves a shorter invoking packet, not an error: ICMPv6 has no length.
  const cut = parseIcmpv6(V.unreach, 0, 20);
  assert.ok(!isParseError(cut) && cut.kind === 'destinationUnreachable' && cut.original.length === 12);
});

test('icmpv6: emit needs a pseudo-header unless the checksum is given', () => {
  const r = parsed(V.echoRequest);
  const out = new Uint8Array(V.echoRequest.length);
  assert.throws(() => emitIcmpv6({ ...r, checksum: undefined }, out), TypeError);
  emitIcmpv6(r, out); // checksum as found
  assert.deepEqual(out, V.echoRequest);
  emitIcmpv6({ ...r, checksum: 0xabcd }, out);
  assert.equal(new Icmpv6Packet(out).checksum, 0xabcd);
});

test('icmpv6: format is one line naming the message', () => {
  assert.equal(formatIcmpv6(parsed(V.echoRequest)), 'ICMPv6 echo request id=4660 seq=9 len=5');
  assert.equal(formatIcmpv6(parsed(V.tooBig)), 'ICMPv6 packet too big mtu=1280 original=49');
  assert.equal(formatIcmpv6(parsed(V.paramProblem)), 'ICMPv6 parameter problem code=1 pointer=40');
  assert.equal(formatIcmpv6(parsed(V.unknown)), 'ICMPv6 type=200 code=7 len=5');
});

const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const body = fc.uint8Array({ maxLength: 64 });
const NOT_OTHER = new Set<number>(Object.values(Icmpv6Type));
const reprArb: fc.Arbitrary<Icmpv6Repr> = fc.oneof(
  fc.record({ kind: fc.constantFrom('echoRequest' as const, 'echoReply' as const), code: u8, identifier: u16, sequence: u16, data: body }),
  fc.record({ kind: fc.constantFrom('destinationUnreachable' as const, 'timeExceeded' as const), code: u8, unused: u32, original: body }),
  fc.record({ kind: fc.constant('packetTooBig' as const), code: u8, mtu: u32, original: body }),
  fc.record({ kind: fc.constant('parameterProblem' as const), code: u8, pointer: u32, original: body }),
  fc.record({ kind: fc.constant('other' as const), type: u8.filter((t) => !NOT_OTHER.has(t)), code: u8, rest: u32, data: body }),
);

test('icmpv6: Repr → emit → parse gives the Repr back, and emit again the same bytes', () => {
  fc.assert(
    fc.property(reprArb, fc.integer({ min: 0, max: 7 }), (repr, at) => {
      const b = new Uint8Array(at + icmpv6ReprLength(repr)).fill(0xa5); // every byte must be written
      const n = emitIcmpv6(repr, b, at, PH);
      assert.equal(n, b.length - at);
      const r = parseIcmpv6(b, at, n, { pseudoHeader: PH });
      assert.ok(!isParseError(r), String(r));
      assert.deepEqual({ ...r, checksum: undefined }, { ...repr, checksum: undefined });
      const again = new Uint8Array(icmpv6ReprLength(r));
      emitIcmpv6(r, again);
      assert.deepEqual(again, b.subarray(at));
    }),
    { numRuns: fuzzRuns(3000) },
  );
});

test('icmpv6: any message of an echo, error or unknown type parses and re-emits byte for byte', () => {
  const types = [1, 2, 3, 4, 128, 129, 0, 5, 127, 138, 144, 200, 255];
  fc.assert(
    fc.property(fc.constantFrom(...types), fc.uint8Array({ minLength: 7, maxLength: 80 }), (type, tail) => {
      const b = Uint8Array.of(type, ...tail);
      new Icmpv6Packet(b).fillChecksum(PH);
      const r = parseIcmpv6(b, 0, b.length, { pseudoHeader: PH });
      assert.ok(!isParseError(r), String(r));
      const out = new Uint8Array(icmpv6ReprLength(r));
      emitIcmpv6({ ...r, checksum: undefined }, out, 0, PH);
      assert.deepEqual(out, b);
    }),
    { numRuns: fuzzRuns(3000) },
  );
});

test('icmpv6: parse never throws on arbitrary bytes', () => {
  const types = [...NOT_OTHER];
  const arb = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    // A known type, so the deeper NDP and MLD code is reached.
    fc.tuple(fc.constantFrom(...types), u8, fc.uint8Array({ maxLength: 96 })).map(([t, c, rest]) => Uint8Array.of(t, c, 0, 0, ...rest)),
  );
  fc.assert(
    fc.property(arb, fc.boolean(), (b, verify) => {
      const r = parseIcmpv6(b, 0, b.length, verify ? { pseudoHeader: PH } : {});
      if (!isParseError(r)) assert.equal(icmpv6ReprLength(r), b.length);
      else assert.ok(r.kind in ParseErrorKind);
    }),
    { numRuns: fuzzRuns(100_000) },
  );
});

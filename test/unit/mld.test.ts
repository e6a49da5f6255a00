import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Icmpv6Packet, Icmpv6Type, emitIcmpv6, formatIcmpv6, icmpv6ReprLength, parseIcmpv6, type Icmpv6Repr } from '../../src/wire/icmpv6.js';
import {
  MldRecordType, decodeMldMaxResponse, decodeMldQqic, encodeMldMaxResponse, encodeMldQqic, parseMld, type MldRepr,
} from '../../src/wire/mld.js';
import { isParseError, ParseErrorKind } from '../../src/wire/error.js';
import { formatIpv6, ipv6 } from '../../src/wire/address.js';
import type { PseudoHeader } from '../../src/wire/checksum.js';
import { fuzzRuns } from '../support/fuzz.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
// Each vector: bytes(IPv6(src='fe80::1',dst='ff02::1')/MSG)[40:] with scapy.layers.inet6 (Debian
// python3-scapy 2.5.0), so the checksum is scapy's over this pseudo-header.
const PH: PseudoHeader = { version: 6, src: ipv6('fe80::1'), dst: ipv6('ff02::1') };
const V = {
  v1Query: hex('820059172710000000000000000000000000000000000000'), // ICMPv6MLQuery(mrd=10000,mladdr='::')
  v1Report: hex('8300802000000000ff020000000000000000000000010003'), // ICMPv6MLReport(mladdr='ff02::1:3')
  v1Done: hex('84007f2000000000ff020000000000000000000000010003'), // ICMPv6MLDone(mladdr='ff02::1:3')
  // ICMPv6MLReport(mladdr='ff02::1:3')/Raw(b'\x01\x02\x03\x04'): longer than 24 bytes, accepted as Linux does
  v1ReportExtra: hex('83007c1600000000ff02000000000000000000000001000301020304'),
  // ICMPv6MLQuery2(mrd=10000,mladdr='ff02::1:3',S=1,QRV=2,QQIC=125,sources=['2001:db8::1','2001:db8::2'])
  v2Query: hex('8200f3f727100000ff0200000000000000000000000100030a7d000220010db800000000000000000000000120010db8000000000000000000000002'),
  // ICMPv6MLQuery2(mrd=0x9234,mladdr='::',S=0,QRV=7,QQIC=0x8f): both codes in floating-point form
  v2QueryFloat: hex('8200e65f9234000000000000000000000000000000000000078f0000'),
  // ICMPv6MLReport2(records=[ICMPv6MLDMultAddrRec(rtype=4,dst='ff02::1:3'),
  //   ICMPv6MLDMultAddrRec(rtype=1,dst='ff02::1:4',sources=['2001:db8::7']),
  //   ICMPv6MLDMultAddrRec(rtype=5,auxdata_len=2,dst='ff05::1:5',sources=['2001:db8::8','2001:db8::9'],auxdata=b'AUX!data')])
  // auxdata_len is given: scapy 2.5.0 would count it in bytes, RFC 3810 §5.2.6 counts 32-bit words.
  v2Report: hex(
    '8f0070230000000304000000ff02000000000000000000000001000301000001ff02000000000000000000000001000420010db8000000000000000000000007' +
      '05020002ff05000000000000000000000001000520010db800000000000000000000000820010db80000000000000000000000094155582164617461',
  ),
};

function parsed(b: Uint8Array): Icmpv6Repr {
  const r = parseIcmpv6(b, 0, b.length, { pseudoHeader: PH });
  assert.ok(!isParseError(r), String(r));
  return r;
}
function kindOf(b: Uint8Array): string {
  const r = parseIcmpv6(b);
  return isParseError(r) ? r.kind : `ok:${r.kind}`;
}
function withByte(b: Uint8Array, at: number, v: number): Uint8Array {
  const c = Uint8Array.from(b);
  c[at] = v;
  return c;
}

test('mld: MLDv1 query, report and done from scapy, field by field (RFC 2710 §3)', () => {
  const q = parsed(V.v1Query);
  assert.ok(q.kind === 'mldV1Query');
  assert.equal(q.maxResponseDelay, 10000);
  assert.equal(q.reserved, 0);
  assert.equal(formatIpv6(q.group), '::');
  const r = parsed(V.v1Report);
  assert.ok(r.kind === 'mldV1Report');
  assert.equal(r.maxResponseDelay, 0);
  assert.equal(formatIpv6(r.group), 'ff02::1:3');
  assert.equal(r.extra?.length, 0);
  const d = parsed(V.v1Done);
  assert.ok(d.kind === 'mldV1Done' && formatIpv6(d.group) === 'ff02::1:3');
  const x = parsed(V.v1ReportExtra);
  assert.ok(x.kind === 'mldV1Report');
  assert.deepEqual(x.extra, Uint8Array.of(1, 2, 3, 4));
  const view = new Icmpv6Packet(V.v1Query);
  assert.equal(view.type, Icmpv6Type.MldQuery);
  assert.equal(view.maxResponse, 10000);
  assert.equal(view.multicastAddressOffset, 8);
});

test('mld: MLDv2 queries from scapy, field by field (RFC 3810 §5.1)', () => {
  const q = parsed(V.v2Query);
  assert.ok(q.kind === 'mldV2Query');
  assert.equal(q.maxResponseCode, 10000);
  assert.equal(decodeMldMaxResponse(q.maxResponseCode), 10000); // below 32768: the value itself
  assert.equal(formatIpv6(q.group), 'ff02::1:3');
  assert.equal(q.reserved2, 0);
  assert.equal(q.suppressRouterProcessing, true);
  assert.equal(q.qrv, 2);
  assert.equal(q.qqic, 125);
  assert.equal(decodeMldQqic(q.qqic), 125);
  assert.deepEqual(q.sources.map(formatIpv6), ['2001:db8::1', '2001:db8::2']);
  assert.equal(q.extra.length, 0);
  const f = parsed(V.v2QueryFloat);
  assert.ok(f.kind === 'mldV2Query');
  assert.equal(f.maxResponseCode, 0x9234);
  assert.equal(decodeMldMaxResponse(0x9234), 0x1234 << 4); // exp 1, mant 0x234: (0x1000 | mant) << (1 + 3)
  assert.equal(f.suppressRouterProcessing, false);
  assert.equal(f.qrv, 7);
  assert.equal(f.qqic, 0x8f);
  assert.equal(decodeMldQqic(0x8f), 0x1f << 3); // exp 0, mant 15
  assert.deepEqual(f.sources, []);
});

test('mld: MLDv2 report from scapy with records, sources and auxiliary data (RFC 3810 §5.2)', () => {
  const r = parsed(V.v2Report);
  assert.ok(r.kind === 'mldV2Report');
  assert.equal(r.reserved, 0);
  assert.equal(r.records.length, 3);
  const [a, b, c] = r.records;
  assert.equal(a!.recordType, MldRecordType.ChangeToExclude);
  assert.equal(formatIpv6(a!.group), 'ff02::1:3');
  assert.deepEqual(a!.sources, []);
  assert.equal(b!.recordType, MldRecordType.ModeIsInclude);
  assert.equal(formatIpv6(b!.group), 'ff02::1:4');
  assert.deepEqual(b!.sources.map(formatIpv6), ['2001:db8::7']);
  assert.equal(c!.recordType, MldRecordType.AllowNewSources);
  assert.equal(formatIpv6(c!.group), 'ff05::1:5');
  assert.deepEqual(c!.sources.map(formatIpv6), ['2001:db8::8', '2001:db8::9']);
  assert.equal(Buffer.from(c!.auxData).toString(), 'AUX!data');
  assert.equal(c!.auxData.buffer, V.v2Report.buffer, 'aux data is zero-copy');
  assert.equal(formatIcmpv6(r), 'ICMPv6 MLDv2 report records=3');
});

test('mld: every vector re-emits byte for byte with a recomputed checksum, and in place', () => {
  for (const [name, b] of Object.entries(V)) {
    const r = parsed(b);
    const out = new Uint8Array(icmpv6ReprLength(r));
    emitIcmpv6({ ...r, checksum: undefined }, out, 0, PH);
    assert.deepEqual(out, b, name);
    const copy = Uint8Array.from(b);
    emitIcmpv6({ ...parsed(copy), checksum: undefined }, copy, 0, PH);
    assert.deepEqual(copy, b, `${name} in place`);
  }
});

test('mld: Maximum Response Code and QQIC floating-point forms (RFC 3810 §5.1.3, §5.1.9)', () => {
  // The limits the RFC states: 8387584 ms and 31744 s.
  assert.equal(decodeMldMaxResponse(0x7fff), 32767);
  assert.equal(decodeMldMaxResponse(0x8000), 32768);
  assert.equal(decodeMldMaxResponse(0xffff), 8387584);
  assert.equal(decodeMldQqic(127), 127);
  assert.equal(decodeMldQqic(128), 128);
  assert.equal(decodeMldQqic(255), 31744);
  // Every code is the encoding of its own value, and values rise with codes.
  for (let c = 0; c <= 0xffff; c++) {
    assert.equal(encodeMldMaxResponse(decodeMldMaxResponse(c)), c);
    if (c > 0) assert.ok(decodeMldMaxResponse(c) > decodeMldMaxResponse(c - 1));
  }
  for (let c = 0; c <= 0xff; c++) assert.equal(encodeMldQqic(decodeMldQqic(c)), c);
  // Between codes, encode rounds down; beyond the range it clamps.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 8387584 }), (ms) => {
      const c = encodeMldMaxResponse(ms);
      assert.ok(decodeMldMaxResponse(c) <= ms);
      if (c < 0xffff) assert.ok(decodeMldMaxResponse(c + 1) > ms);
    }),
    { numRuns: fuzzRuns(2000) },
  );
  assert.equal(encodeMldMaxResponse(1e9), 0xffff);
  assert.equal(encodeMldQqic(1e6), 0xff);
});

test('mld: lengths and counts that lie are Truncated or Malformed', () => {
  for (let n = 8; n < 24; n++) {
    assert.equal(kindOf(V.v1Report.subarray(0, n)), ParseErrorKind.Truncated, `report cut to ${n}`);
    assert.equal(kindOf(V.v1Query.subarray(0, n)), ParseErrorKind.Truncated, `query cut to ${n}`);
  }
  // RFC 3810 §8.1: a query of 25 to 27 bytes is neither version.
  for (let n = 25; n < 28; n++) assert.equal(kindOf(V.v2Query.subarray(0, n)), ParseErrorKind.Malformed, `query of ${n}`);
  assert.equal(kindOf(V.v2Query.subarray(0, 24)), 'ok:mldV1Query');
  // Source count beyond the message; shorter than the message leaves `extra`.
  assert.equal(kindOf(withByte(V.v2Query, 27, 3)), ParseErrorKind.Truncated);
  assert.equal(kindOf(V.v2Query.subarray(0, V.v2Query.length - 1)), ParseErrorKind.Truncated);
  const fewer = parseIcmpv6(withByte(V.v2Query, 27, 1));
  assert.ok(!isParseError(fewer) && fewer.kind === 'mldV2Query' && fewer.sources.length === 1 && fewer.extra.length === 16);
  // Report: record count, a record's source count, its aux data length; and bytes left over.
  assert.equal(kindOf(withByte(V.v2Report, 7, 4)), ParseErrorKind.Truncated);
  assert.equal(kindOf(withByte(V.v2Report, 7, 2)), ParseErrorKind.Malformed);
  assert.equal(kindOf(withByte(V.v2Report, 31, 2)), ParseErrorKind.Truncated); // record 2 (at 28) claims 2 sources
  assert.equal(kindOf(withByte(V.v2Report, 65, 3)), ParseErrorKind.Truncated); // record 3 (at 64) claims 3 aux words
  assert.equal(kindOf(withByte(V.v2Report, 65, 1)), ParseErrorKind.Malformed); // 4 bytes after the last record
  assert.equal(kindOf(V.v2Report.subarray(0, 27)), ParseErrorKind.Truncated); // record header cut
  assert.equal(kindOf(Uint8Array.of(...V.v2Report, 0)), ParseErrorKind.Malformed);
  assert.equal(kindOf(V.v2Report.subarray(0, 8)), ParseErrorKind.Truncated);
  assert.equal(kindOf(withByte(V.v2Report.subarray(0, 8), 7, 0)), 'ok:mldV2Report');
  const bad = withByte(V.v2Report, 100, V.v2Report[100]! ^ 4);
  const r = parseIcmpv6(bad, 0, bad.length, { pseudoHeader: PH });
  assert.ok(isParseError(r) && r.kind === ParseErrorKind.Checksum);
});

test('mld: emit refuses what cannot be encoded', () => {
  const group = ipv6('ff02::1:3');
  const out = new Uint8Array(64);
  assert.throws(() => emitIcmpv6({ kind: 'mldV2Report', code: 0, reserved: 0, records: [{ recordType: 1, group, sources: [], auxData: new Uint8Array(3) }] }, out, 0, PH), RangeError);
  assert.throws(() => emitIcmpv6({ kind: 'mldV1Query', code: 0, maxResponseDelay: 0, reserved: 0, group, extra: new Uint8Array(4) }, out, 0, PH), RangeError);
  // Without `extra`, an MLDv1 message is 24 bytes.
  assert.equal(emitIcmpv6({ kind: 'mldV1Report', code: 0, maxResponseDelay: 0, reserved: 0, group }, out, 0, PH), 24);
  assert.deepEqual(out.subarray(0, 24), V.v1Report);
});

const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const a16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const words = (max: number) => fc.integer({ min: 0, max }).chain((n) => fc.uint8Array({ minLength: 4 * n, maxLength: 4 * n }));
const reprArb: fc.Arbitrary<MldRepr> = fc.oneof(
  fc.record({ kind: fc.constant('mldV1Query' as const), code: u8, maxResponseDelay: u16, reserved: u16, group: a16, extra: fc.constant(new Uint8Array(0)) }),
  fc.record({ kind: fc.constantFrom('mldV1Report' as const, 'mldV1Done' as const), code: u8, maxResponseDelay: u16, reserved: u16, group: a16, extra: fc.uint8Array({ maxLength: 12 }) }),
  fc.record({
    kind: fc.constant('mldV2Query' as const), code: u8, maxResponseCode: u16, reserved: u16, group: a16,
    reserved2: fc.integer({ min: 0, max: 15 }), suppressRouterProcessing: fc.boolean(), qrv: fc.integer({ min: 0, max: 7 }), qqic: u8,
    sources: fc.array(a16, { maxLength: 4 }), extra: fc.uint8Array({ maxLength: 12 }),
  }),
  fc.record({
    kind: fc.constant('mldV2Report' as const), code: u8, reserved: u16,
    records: fc.array(fc.record({ recordType: u8, group: a16, sources: fc.array(a16, { maxLength: 3 }), auxData: words(3) }), { maxLength: 4 }),
  }),
);

test('mld: Repr → emit → parse gives the Repr back, and emit again the same bytes', () => {
  fc.assert(
    fc.property(reprArb, (repr) => {
      const b = new Uint8Array(icmpv6ReprLength(repr)).fill(0xa5); // every byte must be written
      assert.equal(emitIcmpv6(repr, b, 0, PH), b.length);
      const r = parseIcmpv6(b, 0, b.length, { pseudoHeader: PH });
      assert.ok(!isParseError(r), String(r));
      assert.deepEqual({ ...r, checksum: undefined }, { ...repr, checksum: undefined });
      const again = new Uint8Array(icmpv6ReprLength(r));
      emitIcmpv6(r, again);
      assert.deepEqual(again, b);
    }),
    { numRuns: fuzzRuns(3000) },
  );
});

/** A record with honest counts and arbitrary contents. */
const rawRecord = fc.tuple(u8, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })).chain(([type, aux, ns]) =>
  fc.uint8Array({ minLength: 16 + 16 * ns + 4 * aux, maxLength: 16 + 16 * ns + 4 * aux }).map((rest) => Uint8Array.of(type, aux, 0, ns, ...rest)));

test('mld: valid reports with arbitrary record bytes parse and re-emit byte for byte', () => {
  fc.assert(
    fc.property(u8, u16, fc.array(rawRecord, { maxLength: 4 }), (code, reserved, recs) => {
      const b = Uint8Array.of(143, code, 0, 0, reserved >>> 8, reserved & 0xff, 0, recs.length, ...recs.flatMap((r) => [...r]));
      new Icmpv6Packet(b).fillChecksum(PH);
      const r = parseIcmpv6(b, 0, b.length, { pseudoHeader: PH });
      assert.ok(!isParseError(r) && r.kind === 'mldV2Report', String(r));
      const out = new Uint8Array(icmpv6ReprLength(r));
      emitIcmpv6({ ...r, checksum: undefined }, out, 0, PH);
      assert.deepEqual(out, b);
    }),
    { numRuns: fuzzRuns(3000) },
  );
});

test('mld: parse never throws on arbitrary bytes', () => {
  const arb = fc.oneof(
    fc.tuple(fc.constantFrom(130, 131, 132), fc.uint8Array({ maxLength: 100 })).map(([t, rest]) => Uint8Array.of(t, 0, 0, 0, ...rest)),
    // A report whose count may lie, records honest or not.
    fc.tuple(u8, fc.array(fc.oneof(rawRecord, fc.uint8Array({ maxLength: 40 })), { maxLength: 3 }))
      .map(([n, recs]) => Uint8Array.of(143, 0, 0, 0, 0, 0, 0, n & 3, ...recs.flatMap((r) => [...r]))),
  );
  fc.assert(
    fc.property(arb, (b) => {
      const r = parseIcmpv6(b);
      if (!isParseError(r)) assert.equal(icmpv6ReprLength(r), b.length);
      parseMld(b[0]!, b, 0, b.length, 0, 0);
    }),
    { numRuns: fuzzRuns(100_000) },
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeIgmpFloat, emitIgmp, encodeIgmpFloat, igmpQueryVersion, igmpReprLength, parseIgmp, IgmpRecordType, type IgmpRepr } from '../../src/wire/igmp.js';
import { isParseError, ParseErrorKind } from '../../src/wire/error.js';
import { formatIpv4 } from '../../src/wire/address.js';
import { fuzzRuns } from '../support/fuzz.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
// scapy.contrib.igmp / igmpv3:
const V = {
  v1Query: hex('1100eeff00000000'), // IGMP(type=0x11,mrcode=0,gaddr='0.0.0.0')
  v2Query: hex('1164fd96ef010203'), // IGMP(type=0x11,mrcode=100,gaddr='239.1.2.3')
  v2Report: hex('1614f8e6ef010203'), // IGMP(type=0x16,gaddr='239.1.2.3')
  leave: hex('1714f7e6ef010203'), // IGMP(type=0x17,gaddr='239.1.2.3')
  v1Report: hex('1214fce6ef010203'), // IGMP(type=0x12,gaddr='239.1.2.3')
  // IGMPv3(type=0x11,mrcode=0x8a)/IGMPv3mq(gaddr='239.1.2.3',s=1,qrv=2,qqic=125,srcaddrs=['198.18.0.1','198.18.0.2'])
  v3Query: hex('118a66c9ef0102030a7d0002c6120001c6120002'),
  // IGMPv3(type=0x22)/IGMPv3mr(records=[IGMPv3gr(rtype=1,maddr='239.1.2.3',srcaddrs=['198.18.0.5']),IGMPv3gr(rtype=4,maddr='239.9.9.9')])
  v3Report: hex('220029cd0000000201000001ef010203c612000504000000ef090909'),
};

function parsed(b: Uint8Array): IgmpRepr {
  const r = parseIgmp(b);
  assert.ok(!isParseError(r), String(r));
  return r;
}

test('igmp: v1, v2 and v3 messages from scapy, field by field, checksums verified', () => {
  assert.equal(igmpQueryVersion(parsed(V.v1Query)), 1);
  const q2 = parsed(V.v2Query);
  assert.ok(q2.kind === 'query' && q2.maxRespCode === 100);
  assert.equal(igmpQueryVersion(q2), 2);
  assert.equal(formatIpv4(q2.group), '239.1.2.3');
  assert.equal(parsed(V.v2Report).kind, 'reportV2');
  assert.equal(parsed(V.v1Report).kind, 'reportV1');
  assert.equal(parsed(V.leave).kind, 'leave');
  const q3 = parsed(V.v3Query);
  assert.ok(q3.kind === 'queryV3');
  assert.equal(q3.maxRespCode, 0x8a);
  assert.equal(decodeIgmpFloat(q3.maxRespCode), (0x0a | 0x10) << 3); // 208 tenths of a second
  assert.equal(q3.suppressRouterProcessing, true);
  assert.equal(q3.qrv, 2);
  assert.equal(q3.qqic, 125);
  assert.deepEqual(q3.sources.map(formatIpv4), ['198.18.0.1', '198.18.0.2']);
  const r3 = parsed(V.v3Report);
  assert.ok(r3.kind === 'reportV3');
  assert.equal(r3.records.length, 2);
  assert.equal(r3.records[0]!.recordType, IgmpRecordType.ModeIsInclude);
  assert.deepEqual(r3.records[0]!.sources.map(formatIpv4), ['198.18.0.5']);
  assert.equal(r3.records[1]!.recordType, IgmpRecordType.ChangeToExclude);
  assert.equal(formatIpv4(r3.records[1]!.group), '239.9.9.9');
  for (const b of Object.values(V)) {
    const r = parsed(b);
    const out = new Uint8Array(igmpReprLength(r));
    emitIgmp({ ...r, checksum: undefined }, out);
    assert.deepEqual(out, b);
  }
});

test('igmp: the float encoding of RFC 3376 §4.1.1 round-trips and is monotone', () => {
  for (let c = 0; c < 256; c++) assert.equal(encodeIgmpFloat(decodeIgmpFloat(c)), c);
  assert.equal(decodeIgmpFloat(0xff), 31744);
  for (let v = 0; v < 40000; v += 37) assert.ok(decodeIgmpFloat(encodeIgmpFloat(v)) <= Math.max(v, 0));
});

test('igmp: lying counts, odd lengths and bad checksums are typed errors', () => {
  const kind = (b: Uint8Array, verify = true) => {
    const r = parseIgmp(b, 0, b.length, { verifyChecksum: verify });
    return isParseError(r) ? r.kind : 'ok';
  };
  assert.equal(kind(V.v2Query.subarray(0, 7)), ParseErrorKind.Truncated);
  assert.equal(kind(V.v3Query.subarray(0, 10), false), ParseErrorKind.Malformed); // RFC 3376 §7.1
  const srcs = Uint8Array.from(V.v3Query); srcs[11] = 9;
  assert.equal(kind(srcs, false), ParseErrorKind.Truncated);
  const recs = Uint8Array.from(V.v3Report); recs[7] = 3;
  assert.equal(kind(recs, false), ParseErrorKind.Truncated);
  const ns = Uint8Array.from(V.v3Report); ns[11] = 4;
  assert.equal(kind(ns, false), ParseErrorKind.Truncated);
  const bad = Uint8Array.from(V.leave); bad[7] ^= 1;
  assert.equal(kind(bad), ParseErrorKind.Checksum);
});

const addr = fc.integer() // IPv4 addresses are int32 bit patterns;
const extra = fc.constant(new Uint8Array(0));
const reprArb: fc.Arbitrary<IgmpRepr> = fc.oneof(
  fc.record({ kind: fc.constant('query' as const), maxRespCode: fc.integer({ min: 0, max: 255 }), group: addr, extra }),
  fc.record({ kind: fc.constantFrom('reportV1' as const, 'reportV2' as const, 'leave' as const), maxRespCode: fc.integer({ min: 0, max: 255 }), group: addr, extra: fc.uint8Array({ maxLength: 4 }) }),
  fc.record({
    kind: fc.constant('queryV3' as const), maxRespCode: fc.integer({ min: 0, max: 255 }), group: addr, reserved: fc.integer({ min: 0, max: 15 }),
    suppressRouterProcessing: fc.boolean(), qrv: fc.integer({ min: 0, max: 7 }), qqic: fc.integer({ min: 0, max: 255 }), sources: fc.array(addr, { maxLength: 5 }), extra,
  }),
  fc.record({
    kind: fc.constant('reportV3' as const), reserved1: fc.integer({ min: 0, max: 255 }), reserved2: fc.integer({ min: 0, max: 0xffff }), extra,
    records: fc.array(fc.record({ recordType: fc.integer({ min: 1, max: 6 }), group: addr, sources: fc.array(addr, { maxLength: 3 }), auxData: fc.integer({ min: 0, max: 2 }).map((n) => new Uint8Array(4 * n)) }), { maxLength: 4 }),
  }),
);

test('igmp: emit → parse → emit is byte-exact; parse never throws', () => {
  fc.assert(fc.property(reprArb, (repr) => {
    const b = new Uint8Array(igmpReprLength(repr));
    emitIgmp(repr, b);
    const r = parseIgmp(b);
    assert.ok(!isParseError(r), String(r));
    assert.deepEqual({ ...r, checksum: undefined }, { ...repr, checksum: undefined });
    const again = new Uint8Array(igmpReprLength(r));
    emitIgmp(r, again);
    assert.deepEqual(again, b);
  }), { numRuns: fuzzRuns(3000) });
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }).map((t) => Uint8Array.from([0x22, 0, 0, 0, 0, 0, 0, 3, ...t]))), (b) => {
    parseIgmp(b, 0, b.length, { verifyChecksum: false });
    parseIgmp(b);
  }), { numRuns: fuzzRuns(100_000) });
});

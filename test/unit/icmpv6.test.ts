import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Icmpv6Packet, NeighborAdvertFlags, decodeMldMaxResponse, emitIcmpv6, encodeMldMaxResponse, icmpv6ReprLength, parseIcmpv6, type Icmpv6Repr,
} from '../../src/wire/icmpv6.js';
import { parseIpv6 } from '../../src/wire/ipv6.js';
import type { NdpOption } from '../../src/wire/ndp.js';
import { isParseError, ParseErrorKind } from '../../src/wire/error.js';
import { formatIpv6, formatMac, ipv6 } from '../../src/wire/address.js';
import type { PseudoHeader } from '../../src/wire/checksum.js';
import { fuzzRuns } from '../support/fuzz.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
// Each: bytes(IPv6(src='fe80::1',dst='ff02::1')/MSG)[40:] with scapy.layers.inet6, so the checksums are scapy's.
const PH: PseudoHeader = { version: 6, src: ipv6('fe80::1'), dst: ipv6('ff02::1') };
const V = {
  echo: hex('80005b241234000970696e6736'), // ICMPv6EchoRequest(id=0x1234,seq=9,data=b'ping6')
  // ICMPv6DestUnreach(code=4)/IPv6(src='fe80::1',dst='fe80::2')/UDP(sport=1,dport=2)
  unreach: hex('01048fd4000000006000000000081140fe800000000000000000000000000001fe80000000000000000000000000000200010002000802d7'),
  tooBig: hex('020062ca000005006000000000003b40fe800000000000000000000000000001fe800000000000000000000000000002'), // ICMPv6PacketTooBig(mtu=1280)/IPv6(...)
  timeExceeded: hex('030066ca000000006000000000003b40fe800000000000000000000000000001fe800000000000000000000000000002'),
  paramProblem: hex('040065a2000000286000000000003b40fe800000000000000000000000000001fe800000000000000000000000000002'), // ptr=40
  rs: hex('85007a2d000000000101020000000001'), // ICMPv6ND_RS()/ICMPv6NDOptSrcLLAddr(lladdr='02:00:00:00:00:01')
  // ICMPv6ND_RA(chlim=64,M=1,routerlifetime=1800,reachabletime=30000,retranstimer=1000)/SrcLLAddr/ICMPv6NDOptMTU(mtu=1500)
  //   /ICMPv6NDOptPrefixInfo(prefixlen=64,L=1,A=1,validlifetime=86400,preferredlifetime=14400,prefix='2001:db8:1::')
  //   /ICMPv6NDOptRDNSS(lifetime=600,dns=['2001:db8::53'])
  ra: hex('860068b84088070800007530000003e8010102000000000105010000000005dc030440c000015180000038400000000020010db8000100000000000000000000190300000000025820010db8000000000000000000000053'),
  ns: hex('8700799a00000000fe8000000000000000000000000000020101020000000001'), // ICMPv6ND_NS(tgt='fe80::2')/SrcLLAddr
  na: hex('8800179960000000fe8000000000000000000000000000020201020000000002'), // ICMPv6ND_NA(tgt='fe80::2',R=0,S=1,O=1)/DstLLAddr
  // ICMPv6ND_Redirect(tgt='fe80::3',dst='2001:db8::9')/DstLLAddr/ICMPv6NDOptRedirectedHdr(pkt=IPv6(...)/UDP(sport=7,dport=8))
  redirect: hex('8900d35600000000fe80000000000000000000000000000320010db800000000000000000000000902010200000000030407000000000000600000000008114020010db800000000000000000000000120010db8000000000000000000000009000700080008a453'),
  mld1Query: hex('820059172710000000000000000000000000000000000000'), // ICMPv6MLQuery(mrd=10000,mladdr='::')
  mld1Report: hex('8300802000000000ff020000000000000000000000010003'), // ICMPv6MLReport(mladdr='ff02::1:3')
  mld1Done: hex('84007f2000000000ff020000000000000000000000010003'),
  // ICMPv6MLQuery2(mrd=10000,mladdr='ff02::1:3',S=1,QRV=2,QQIC=125,sources=['2001:db8::1'])
  mld2Query: hex('820021c427100000ff0200000000000000000000000100030a7d000120010db8000000000000000000000001'),
  // ICMPv6MLReport2(records=[ICMPv6MLDMultAddrRec(rtype=4,dst='ff02::1:3'),ICMPv6MLDMultAddrRec(rtype=1,dst='ff02::1:4',sources=['2001:db8::7'])])
  mld2Report: hex('8f00422d0000000204000000ff02000000000000000000000001000301000001ff02000000000000000000000001000420010db8000000000000000000000007'),
};

function parsed(b: Uint8Array): Icmpv6Repr {
  const r = parseIcmpv6(b, 0, b.length, { pseudoHeader: PH });
  assert.ok(!isParseError(r), String(r));
  return r;
}
function opt<K extends NdpOption['kind']>(os: NdpOption[], kind: K): Extract<NdpOption, { kind: K }> {
  const o = os.find((x) => x.kind === kind);
  assert.ok(o, `option ${kind}`);
  return o as Extract<NdpOption, { kind: K }>;
}

test('icmpv6: echo and error messages from scapy, field by field, checksums verified', () => {
  const e = parsed(V.echo);
  assert.ok(e.kind === 'echoRequest' && e.identifier === 0x1234 && e.sequence === 9);
  assert.equal(Buffer.from(e.data).toString(), 'ping6');
  const u = parsed(V.unreach);
  assert.ok(u.kind === 'destinationUnreachable' && u.code === 4);
  const inner = parseIpv6(u.original);
  assert.ok(!isParseError(inner) && formatIpv6(inner.dst) === 'fe80::2');
  const t = parsed(V.tooBig);
  assert.ok(t.kind === 'packetTooBig' && t.mtu === 1280);
  assert.equal(parsed(V.timeExceeded).kind, 'timeExceeded');
  const pp = parsed(V.paramProblem);
  assert.ok(pp.kind === 'parameterProblem' && pp.pointer === 40);
  assert.equal(new Icmpv6Packet(V.echo).identifier, 0x1234);
});

test('icmpv6: NDP messages and options from scapy, field by field', () => {
  const rs = parsed(V.rs);
  assert.ok(rs.kind === 'routerSolicitation');
  assert.equal(formatMac(opt(rs.options, 'sourceLinkLayerAddress').address), '02:00:00:00:00:01');
  const ra = parsed(V.ra);
  assert.ok(ra.kind === 'routerAdvertisement');
  assert.equal(ra.curHopLimit, 64);
  assert.equal(ra.flags, 0x88); // M, and router preference 01 = high (RFC 4191 §2.2, scapy's default)
  assert.equal(ra.routerLifetime, 1800);
  assert.equal(ra.reachableTime, 30000);
  assert.equal(ra.retransTimer, 1000);
  assert.equal(opt(ra.options, 'mtu').mtu, 1500);
  const pi = opt(ra.options, 'prefixInformation');
  assert.equal(pi.prefixLength, 64);
  assert.ok(pi.onLink && pi.autonomous);
  assert.equal(pi.validLifetime, 86400);
  assert.equal(pi.preferredLifetime, 14400);
  assert.equal(formatIpv6(pi.prefix), '2001:db8:1::');
  const rd = opt(ra.options, 'rdnss');
  assert.equal(rd.lifetime, 600);
  assert.deepEqual(rd.servers.map(formatIpv6), ['2001:db8::53']);
  const ns = parsed(V.ns);
  assert.ok(ns.kind === 'neighborSolicitation' && formatIpv6(ns.target) === 'fe80::2');
  const na = parsed(V.na);
  assert.ok(na.kind === 'neighborAdvertisement');
  assert.equal(na.flags, NeighborAdvertFlags.Solicited | NeighborAdvertFlags.Override);
  assert.equal(formatMac(opt(na.options, 'targetLinkLayerAddress').address), '02:00:00:00:00:02');
  const r = parsed(V.redirect);
  assert.ok(r.kind === 'redirect');
  assert.equal(formatIpv6(r.target), 'fe80::3');
  assert.equal(formatIpv6(r.destination), '2001:db8::9');
  const rh = opt(r.options, 'redirectedHeader');
  const innerPkt = parseIpv6(rh.packet);
  assert.ok(!isParseError(innerPkt) && formatIpv6(innerPkt.dst) === '2001:db8::9');
});

test('icmpv6: MLDv1 and MLDv2 from scapy, field by field', () => {
  const q1 = parsed(V.mld1Query);
  assert.ok(q1.kind === 'mldV1Query' && q1.maxResponseDelay === 10000);
  const rep = parsed(V.mld1Report);
  assert.ok(rep.kind === 'mldV1Report' && formatIpv6(rep.group) === 'ff02::1:3');
  assert.equal(parsed(V.mld1Done).kind, 'mldV1Done');
  const q2 = parsed(V.mld2Query);
  assert.ok(q2.kind === 'mldV2Query');
  assert.equal(q2.maxResponseCode, 10000);
  assert.equal(decodeMldMaxResponse(q2.maxResponseCode), 10000);
  assert.ok(q2.suppressRouterProcessing);
  assert.equal(q2.qrv, 2);
  assert.equal(q2.qqic, 125);
  assert.deepEqual(q2.sources.map(formatIpv6), ['2001:db8::1']);
  const r2 = parsed(V.mld2Report);
  assert.ok(r2.kind === 'mldV2Report');
  assert.deepEqual(r2.records.map((x) => [x.recordType, formatIpv6(x.group), x.sources.map(formatIpv6)]), [
    [4, 'ff02::1:3', []],
    [1, 'ff02::1:4', ['2001:db8::7']],
  ]);
});

test('icmpv6: every vector re-emits byte for byte with a recomputed checksum', () => {
  for (const [name, b] of Object.entries(V)) {
    const r = parsed(b);
    const out = new Uint8Array(icmpv6ReprLength(r));
    emitIcmpv6({ ...r, checksum: undefined }, out, 0, PH);
    assert.deepEqual(out, b, name);
  }
});

test('icmpv6: MLDv2 maximum response code float form (RFC 3810 §5.1.3)', () => {
  for (const c of [0, 1, 0x7fff, 0x8000, 0x9abc, 0xffff]) assert.equal(encodeMldMaxResponse(decodeMldMaxResponse(c)), c);
  assert.equal(decodeMldMaxResponse(0x8000), 0x1000 << 3);
});

test('icmpv6: malformed messages and options are typed errors', () => {
  const kind = (b: Uint8Array) => {
    const r = parseIcmpv6(b);
    return isParseError(r) ? r.kind : 'ok';
  };
  const bad = Uint8Array.from(V.echo); bad[10] ^= 1;
  const r = parseIcmpv6(bad, 0, bad.length, { pseudoHeader: PH });
  assert.ok(isParseError(r) && r.kind === ParseErrorKind.Checksum);
  assert.equal(kind(V.echo.subarray(0, 7)), ParseErrorKind.Truncated);
  assert.equal(kind(V.ns.subarray(0, 20)), ParseErrorKind.Truncated);
  const zero = Uint8Array.from(V.ns); zero[25] = 0; // option length 0 (RFC 4861 §4.6)
  assert.equal(kind(zero), ParseErrorKind.Malformed);
  const over = Uint8Array.from(V.ns); over[25] = 2;
  assert.equal(kind(over), ParseErrorKind.OptionOverflow);
  const pi = Uint8Array.from(V.ra); pi[33] = 3; // prefix information must be 4 units
  assert.equal(kind(pi), ParseErrorKind.Malformed);
  assert.equal(kind(V.mld2Query.subarray(0, 26)), ParseErrorKind.Malformed); // RFC 3810 §8.1
  const srcs = Uint8Array.from(V.mld2Query); srcs[27] = 5;
  assert.equal(kind(srcs), ParseErrorKind.Truncated);
  const recs = Uint8Array.from(V.mld2Report); recs[7] = 3;
  assert.equal(kind(recs), ParseErrorKind.Truncated);
});

const a16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const ndpOpt: fc.Arbitrary<NdpOption> = fc.oneof(
  fc.integer({ min: 0, max: 2 }).map((n) => ({ kind: 'sourceLinkLayerAddress', address: new Uint8Array(6 + 8 * n).fill(7, 0, 6) }) as NdpOption),
  fc.integer({ min: 0, max: 2 }).map((n) => ({ kind: 'targetLinkLayerAddress', address: new Uint8Array(6 + 8 * n).fill(9, 0, 6) }) as NdpOption),
  fc.record({ kind: fc.constant('mtu' as const), reserved: fc.integer({ min: 0, max: 0xffff }), mtu: u32 }),
  fc.record({ kind: fc.constant('prefixInformation' as const), prefixLength: fc.integer({ min: 0, max: 128 }), onLink: fc.boolean(), autonomous: fc.boolean(), otherFlags: fc.integer({ min: 0, max: 63 }), validLifetime: u32, preferredLifetime: u32, reserved: u32, prefix: a16 }),
  fc.record({ kind: fc.constant('rdnss' as const), reserved: fc.integer({ min: 0, max: 0xffff }), lifetime: u32, servers: fc.array(a16, { minLength: 1, maxLength: 2 }) }),
  fc.record({ kind: fc.constant('unknown' as const), type: fc.integer({ min: 6, max: 24 }), data: fc.integer({ min: 0, max: 2 }).map((n) => new Uint8Array(6 + 8 * n)) }),
);
const code = fc.integer({ min: 0, max: 255 });
const reprArb: fc.Arbitrary<Icmpv6Repr> = fc.oneof(
  fc.record({ kind: fc.constantFrom('echoRequest' as const, 'echoReply' as const), code, identifier: fc.integer({ min: 0, max: 0xffff }), sequence: fc.integer({ min: 0, max: 0xffff }), data: fc.uint8Array({ maxLength: 32 }) }),
  fc.record({ kind: fc.constant('packetTooBig' as const), code, mtu: u32, original: fc.uint8Array({ maxLength: 48 }) }),
  fc.record({ kind: fc.constant('routerAdvertisement' as const), code, curHopLimit: code, flags: code, routerLifetime: fc.integer({ min: 0, max: 0xffff }), reachableTime: u32, retransTimer: u32, options: fc.array(ndpOpt, { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('neighborAdvertisement' as const), code, flags: u32, target: a16, options: fc.array(ndpOpt, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant('redirect' as const), code, reserved: u32, target: a16, destination: a16, options: fc.array(ndpOpt, { maxLength: 2 }) }),
  fc.record({ kind: fc.constantFrom('mldV1Report' as const, 'mldV1Done' as const), code, maxResponseDelay: fc.integer({ min: 0, max: 0xffff }), reserved: fc.integer({ min: 0, max: 0xffff }), group: a16 }),
  fc.record({ kind: fc.constant('mldV2Query' as const), code, maxResponseCode: fc.integer({ min: 0, max: 0xffff }), reserved: fc.integer({ min: 0, max: 0xffff }), group: a16, reserved2: fc.integer({ min: 0, max: 15 }), suppressRouterProcessing: fc.boolean(), qrv: fc.integer({ min: 0, max: 7 }), qqic: code, sources: fc.array(a16, { maxLength: 3 }), extra: fc.constant(new Uint8Array(0)) }),
  fc.record({ kind: fc.constant('mldV2Report' as const), code, reserved: fc.integer({ min: 0, max: 0xffff }), records: fc.array(fc.record({ recordType: fc.integer({ min: 1, max: 6 }), group: a16, sources: fc.array(a16, { maxLength: 2 }), auxData: fc.integer({ min: 0, max: 2 }).map((n) => new Uint8Array(4 * n)) }), { maxLength: 3 }) }),
);

test('icmpv6: emit → parse → emit is byte-exact; parse never throws', () => {
  fc.assert(fc.property(reprArb, (repr) => {
    const b = new Uint8Array(icmpv6ReprLength(repr));
    emitIcmpv6(repr, b, 0, PH);
    const r = parseIcmpv6(b, 0, b.length, { pseudoHeader: PH });
    assert.ok(!isParseError(r), String(r));
    assert.deepEqual({ ...r, checksum: undefined }, { ...repr, checksum: undefined });
    const again = new Uint8Array(icmpv6ReprLength(r));
    emitIcmpv6(r, again);
    assert.deepEqual(again, b);
  }), { numRuns: fuzzRuns(3000) });
  const types = [1, 2, 3, 4, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 143];
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.tuple(fc.constantFrom(...types), fc.uint8Array({ maxLength: 80 })).map(([t, rest]) => Uint8Array.from([t, 0, 0, 0, ...rest]))), (b) => {
    parseIcmpv6(b);
    parseIcmpv6(b, 0, b.length, { pseudoHeader: PH });
  }), { numRuns: fuzzRuns(100_000) });
});

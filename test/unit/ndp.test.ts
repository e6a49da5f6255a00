import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Icmpv6Packet, Icmpv6Type, NeighborAdvertFlags, RouterAdvertFlags, emitIcmpv6, formatIcmpv6, icmpv6ReprLength, parseIcmpv6, type Icmpv6Repr,
} from '../../src/wire/icmpv6.js';
import {
  NdpOptionType, emitNdpOptions, findNdpOption, formatNdpOption, ndpOptionsLength, parseNdpOptions, type NdpOption,
} from '../../src/wire/ndp.js';
import { parseIpv6 } from '../../src/wire/ipv6.js';
import { parseUdp } from '../../src/wire/udp.js';
import { isParseError, ParseErrorKind } from '../../src/wire/error.js';
import { formatIpv6, formatMac, ipv6 } from '../../src/wire/address.js';
import type { PseudoHeader } from '../../src/wire/checksum.js';
import { fuzzRuns } from '../support/fuzz.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
// Each vector: bytes(IPv6(src='fe80::1',dst='ff02::1')/MSG)[40:] with scapy.layers.inet6 (Debian
// python3-scapy 2.5.0), so the checksum is scapy's over this pseudo-header.
const PH: PseudoHeader = { version: 6, src: ipv6('fe80::1'), dst: ipv6('ff02::1') };
const V = {
  rs: hex('85007a2d000000000101020000000001'), // ICMPv6ND_RS()/ICMPv6NDOptSrcLLAddr(lladdr='02:00:00:00:00:01')
  // ICMPv6ND_RA(chlim=64,M=1,O=1,prf=3,P=1,routerlifetime=1800,reachabletime=30000,retranstimer=1000)
  //   /ICMPv6NDOptSrcLLAddr(lladdr='02:00:00:00:00:01')/ICMPv6NDOptMTU(mtu=1500)
  //   /ICMPv6NDOptPrefixInfo(prefixlen=64,L=1,A=0,R=1,validlifetime=86400,preferredlifetime=14400,prefix='2001:db8:1::')
  //   /ICMPv6NDOptRDNSS(lifetime=600,dns=['2001:db8::53','2001:db8::54'])/ICMPv6NDOptDNSSL(lifetime=600,searchlist=['example.'])
  ra: hex(
    '8600bf5540dc070800007530000003e8010102000000000105010000000005dc030440a000015180000038400000000020010db8000100000000000000000000' +
      '190500000000025820010db800000000000000000000005320010db80000000000000000000000541f03000000000258076578616d706c650000000000000000',
  ),
  ns: hex('8700799a00000000fe8000000000000000000000000000020101020000000001'), // ICMPv6ND_NS(tgt='fe80::2')/ICMPv6NDOptSrcLLAddr(lladdr='02:00:00:00:00:01')
  na: hex('8800b798c0000000fe8000000000000000000000000000020201020000000002'), // ICMPv6ND_NA(tgt='fe80::2',R=1,S=1,O=0)/ICMPv6NDOptDstLLAddr(lladdr='02:00:00:00:00:02')
  // ICMPv6ND_Redirect(tgt='fe80::3',dst='2001:db8::9')/ICMPv6NDOptDstLLAddr(lladdr='02:00:00:00:00:03')
  //   /ICMPv6NDOptRedirectedHdr(pkt=IPv6(src='2001:db8::1',dst='2001:db8::9',hlim=1)/UDP(sport=5000,dport=53)/Raw(b'q')/Raw(b'abcdefg'))
  redirect: hex(
    '8900d38c00000000fe80000000000000000000000000000320010db800000000000000000000000902010200000000030408000000000000' +
      '600000000010110120010db800000000000000000000000120010db8000000000000000000000009138800350010f2037161626364656667',
  ),
  // A 2-unit source link-layer address option (a non-Ethernet link), kept raw:
  // ICMPv6ND_NS(tgt='fe80::2')/ICMPv6NDOptUnknown(type=1,len=2,data=b'\x02\x00\x00\x00\x00\x01\x00\x00\xaa\xbb\x00\x00\x00\x00')
  nsLongLla: hex('8700ced500000000fe80000000000000000000000000000201020200000000010000aabb00000000'),
};

function parsed(b: Uint8Array): Icmpv6Repr {
  const r = parseIcmpv6(b, 0, b.length, { pseudoHeader: PH });
  assert.ok(!isParseError(r), String(r));
  return r;
}
function opt<K extends NdpOption['kind']>(os: NdpOption[], kind: K): Extract<NdpOption, { kind: K }> {
  const o = findNdpOption(os, kind);
  assert.ok(o, `option ${kind}`);
  return o;
}
function kindOf(b: Uint8Array): string {
  const r = parseIcmpv6(b);
  return isParseError(r) ? r.kind : `ok:${r.kind}`;
}

test('ndp: router solicitation and advertisement from scapy, field by field (RFC 4861 §4.1, §4.2)', () => {
  const rs = parsed(V.rs);
  assert.ok(rs.kind === 'routerSolicitation');
  assert.equal(rs.reserved, 0);
  assert.equal(rs.options.length, 1);
  assert.equal(formatMac(opt(rs.options, 'sourceLinkLayerAddress').address), '02:00:00:00:00:01');

  const ra = parsed(V.ra);
  assert.ok(ra.kind === 'routerAdvertisement');
  assert.equal(ra.curHopLimit, 64);
  // M, O, then H=0, preference 11 (RFC 4191 §2.2), P=1 (RFC 4389): the rest of the byte is kept.
  assert.equal(ra.flags, 0xdc);
  assert.ok(ra.flags & RouterAdvertFlags.Managed && ra.flags & RouterAdvertFlags.Other);
  assert.equal(ra.routerLifetime, 1800);
  assert.equal(ra.reachableTime, 30000);
  assert.equal(ra.retransTimer, 1000);
  assert.deepEqual(ra.options.map((o) => o.kind), ['sourceLinkLayerAddress', 'mtu', 'prefixInformation', 'rdnss', 'unknown']);
  assert.equal(formatMac(opt(ra.options, 'sourceLinkLayerAddress').address), '02:00:00:00:00:01');
  const mtu = opt(ra.options, 'mtu');
  assert.equal(mtu.mtu, 1500);
  assert.equal(mtu.reserved, 0);
  const pi = opt(ra.options, 'prefixInformation');
  assert.equal(pi.prefixLength, 64);
  assert.equal(pi.onLink, true);
  assert.equal(pi.autonomous, false);
  assert.equal(pi.otherFlags, 0x20); // R (RFC 6275 §7.2)
  assert.equal(pi.validLifetime, 86400);
  assert.equal(pi.preferredLifetime, 14400);
  assert.equal(pi.reserved, 0);
  assert.equal(formatIpv6(pi.prefix), '2001:db8:1::');
  const rd = opt(ra.options, 'rdnss');
  assert.equal(rd.lifetime, 600);
  assert.deepEqual(rd.servers.map(formatIpv6), ['2001:db8::53', '2001:db8::54']);
  // DNSSL (RFC 8106 §5.2, type 31) is not decoded: kept raw after type and length.
  const dnssl = opt(ra.options, 'unknown');
  assert.equal(dnssl.type, 31);
  assert.equal(dnssl.data.length, 22);
  assert.equal(Buffer.from(dnssl.data.subarray(7, 14)).toString(), 'example');

  const view = new Icmpv6Packet(V.ra);
  assert.equal(view.curHopLimit, 64);
  assert.equal(view.routerFlags, 0xdc);
  assert.equal(view.routerLifetime, 1800);
  assert.equal(view.reachableTime, 30000);
  assert.equal(view.retransTimer, 1000);
  assert.equal(view.ndpOptionsOffset, 16);
});

test('ndp: neighbor solicitation, advertisement and redirect from scapy, field by field (RFC 4861 §4.3-4.5)', () => {
  const ns = parsed(V.ns);
  assert.ok(ns.kind === 'neighborSolicitation');
  assert.equal(formatIpv6(ns.target), 'fe80::2');
  assert.equal(formatMac(opt(ns.options, 'sourceLinkLayerAddress').address), '02:00:00:00:00:01');

  const na = parsed(V.na);
  assert.ok(na.kind === 'neighborAdvertisement');
  assert.equal(na.flags, (NeighborAdvertFlags.Router | NeighborAdvertFlags.Solicited) >>> 0);
  assert.equal(na.flags & NeighborAdvertFlags.Override, 0);
  assert.equal(formatIpv6(na.target), 'fe80::2');
  assert.equal(formatMac(opt(na.options, 'targetLinkLayerAddress').address), '02:00:00:00:00:02');
  const nav = new Icmpv6Packet(V.na);
  assert.equal(nav.neighborFlags >>> 0, 0xc0000000);
  const t = new Uint8Array(16);
  nav.copyTarget(t);
  assert.equal(formatIpv6(t), 'fe80::2');

  const r = parsed(V.redirect);
  assert.ok(r.kind === 'redirect');
  assert.equal(formatIpv6(r.target), 'fe80::3');
  assert.equal(formatIpv6(r.destination), '2001:db8::9');
  assert.equal(formatMac(opt(r.options, 'targetLinkLayerAddress').address), '02:00:00:00:00:03');
  const rh = opt(r.options, 'redirectedHeader');
  assert.deepEqual(rh.reserved, new Uint8Array(6));
  assert.equal(rh.packet.buffer, V.redirect.buffer, 'redirected packet is zero-copy');
  const inner = parseIpv6(rh.packet);
  assert.ok(!isParseError(inner), String(inner));
  assert.equal(formatIpv6(inner.dst), '2001:db8::9');
  const udp = parseUdp(inner.payload, 0, inner.payload.length, { pseudoHeader: { version: 6, src: inner.src, dst: inner.dst } });
  assert.ok(!isParseError(udp), String(udp));
  assert.equal(Buffer.from(udp.payload).toString(), 'qabcdefg');
  assert.equal(new Icmpv6Packet(V.redirect).ndpOptionsOffset, 40);
});

test('ndp: a link-layer address longer than a MAC is kept raw (RFC 4861 §4.6.1)', () => {
  const ns = parsed(V.nsLongLla);
  assert.ok(ns.kind === 'neighborSolicitation');
  const a = opt(ns.options, 'sourceLinkLayerAddress').address;
  assert.equal(a.length, 14);
  assert.deepEqual(a, hex('0200000000010000aabb00000000'));
});

test('ndp: every vector re-emits byte for byte with a recomputed checksum, and in place', () => {
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

test('ndp: option length 0 is Malformed, an option past the end OptionOverflow (RFC 4861 §4.6)', () => {
  const zero = Uint8Array.from(V.ns);
  zero[25] = 0;
  assert.equal(kindOf(zero), ParseErrorKind.Malformed);
  const over = Uint8Array.from(V.ns);
  over[25] = 2;
  assert.equal(kindOf(over), ParseErrorKind.OptionOverflow);
  // One byte after the last option: no room for a type and length.
  assert.equal(kindOf(Uint8Array.of(...V.ns, 1)), ParseErrorKind.OptionOverflow);
  // A cut anywhere inside the options.
  for (let n = 25; n < V.ra.length; n++) {
    const k = kindOf(V.ra.subarray(0, n));
    if ([32, 64, 104].includes(n)) assert.equal(k, 'ok:routerAdvertisement', `cut at ${n}`);
    else assert.equal(k, ParseErrorKind.OptionOverflow, `cut at ${n}`);
  }
  // Zero length in a later option, after valid ones.
  const laterZero = Uint8Array.from(V.ra);
  laterZero[65] = 0; // the RDNSS option at 64
  assert.equal(kindOf(laterZero), ParseErrorKind.Malformed);
});

test('ndp: known options of a forbidden length are Malformed; fixed parts cut short are Truncated', () => {
  const set = (b: Uint8Array, at: number, v: number) => {
    const c = Uint8Array.from(b);
    c[at] = v;
    return c;
  };
  // Option offsets in V.ra: SLLA 16, MTU 24, prefix 32, RDNSS 64 (5 units), DNSSL 104 (3 units).
  assert.equal(kindOf(set(V.ra, 33, 3)), ParseErrorKind.Malformed); // prefix information is 4 units (§4.6.2)
  assert.equal(kindOf(set(V.ra, 33, 5)), ParseErrorKind.Malformed);
  assert.equal(kindOf(set(V.ra, 25, 2)), ParseErrorKind.Malformed); // MTU is 1 unit (§4.6.4)
  assert.equal(kindOf(set(V.ra, 65, 4)), ParseErrorKind.Malformed); // RDNSS is 3 + 2n units (RFC 8106 §5.1)
  assert.equal(kindOf(set(V.ra, 65, 1)), ParseErrorKind.Malformed);
  assert.equal(kindOf(set(V.ra, 105, 4)), ParseErrorKind.OptionOverflow); // the last option grown past the end
  for (let n = 8; n < 16; n++) assert.equal(kindOf(V.ra.subarray(0, n)), ParseErrorKind.Truncated, `RA cut to ${n}`);
  for (let n = 8; n < 24; n++) {
    assert.equal(kindOf(V.ns.subarray(0, n)), ParseErrorKind.Truncated, `NS cut to ${n}`);
    assert.equal(kindOf(V.na.subarray(0, n)), ParseErrorKind.Truncated, `NA cut to ${n}`);
  }
  for (let n = 8; n < 40; n++) assert.equal(kindOf(V.redirect.subarray(0, n)), ParseErrorKind.Truncated, `redirect cut to ${n}`);
  // The bare fixed parts, without options, are valid.
  assert.equal(kindOf(V.rs.subarray(0, 8)), 'ok:routerSolicitation');
  assert.equal(kindOf(V.ns.subarray(0, 24)), 'ok:neighborSolicitation');
  assert.equal(kindOf(V.redirect.subarray(0, 40)), 'ok:redirect');
  const bad = Uint8Array.from(V.ra);
  bad[40]! ^= 1;
  const r = parseIcmpv6(bad, 0, bad.length, { pseudoHeader: PH });
  assert.ok(isParseError(r) && r.kind === ParseErrorKind.Checksum);
});

test('ndp: parseNdpOptions works on a range, and format describes options', () => {
  const os = parseNdpOptions(V.ra, 16, V.ra.length - 16);
  assert.ok(!isParseError(os));
  assert.equal(ndpOptionsLength(os), V.ra.length - 16);
  assert.deepEqual(os.map(formatNdpOption), [
    'sll 02:00:00:00:00:01', 'mtu 1500', 'prefix 64 L valid=86400 preferred=14400', 'rdnss 2 lifetime=600', 'option 31 22 bytes',
  ]);
  assert.deepEqual(parseNdpOptions(V.ra, 16, 0), []);
  assert.equal(formatIcmpv6(parsed(V.na)), 'ICMPv6 neighbor advertisement fe80::2 [RS]');
  assert.equal(formatIcmpv6(parsed(V.ra)), 'ICMPv6 router advertisement hlim=64 M O lifetime=1800 options=5');
  assert.equal(formatIcmpv6(parsed(V.redirect)), 'ICMPv6 redirect 2001:db8::9 via fe80::3');
});

test('ndp: emit pads options to whole units with zeros and rejects impossible ones', () => {
  const b = new Uint8Array(32).fill(0xee);
  const n = emitNdpOptions([{ kind: 'unknown', type: 200, data: Uint8Array.of(1, 2, 3) }, { kind: 'sourceLinkLayerAddress', address: Uint8Array.of(2, 0, 0, 0, 0, 9) }], b, 0);
  assert.equal(n, 16);
  assert.deepEqual(b.subarray(0, 16), Uint8Array.of(200, 1, 1, 2, 3, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 9));
  assert.throws(() => emitNdpOptions([{ kind: 'rdnss', reserved: 0, lifetime: 1, servers: [] }], b, 0), RangeError);
  assert.throws(() => emitNdpOptions([{ kind: 'unknown', type: 9, data: new Uint8Array(2040) }], new Uint8Array(4096), 0), RangeError);
});

const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const a16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
/** Option data of 6 + 8n bytes: what a parse gives back, so the Repr round-trips exactly. */
const optData = fc.integer({ min: 0, max: 3 }).chain((n) => fc.uint8Array({ minLength: 6 + 8 * n, maxLength: 6 + 8 * n }));
const KNOWN = new Set<number>(Object.values(NdpOptionType));
const ndpOpt: fc.Arbitrary<NdpOption> = fc.oneof(
  optData.map((address): NdpOption => ({ kind: 'sourceLinkLayerAddress', address })),
  optData.map((address): NdpOption => ({ kind: 'targetLinkLayerAddress', address })),
  fc.record({ kind: fc.constant('mtu' as const), reserved: u16, mtu: u32 }),
  fc.record({
    kind: fc.constant('prefixInformation' as const), prefixLength: u8, onLink: fc.boolean(), autonomous: fc.boolean(), otherFlags: fc.integer({ min: 0, max: 63 }),
    validLifetime: u32, preferredLifetime: u32, reserved: u32, prefix: a16,
  }),
  fc.record({ kind: fc.constant('rdnss' as const), reserved: u16, lifetime: u32, servers: fc.array(a16, { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constant('redirectedHeader' as const), reserved: fc.uint8Array({ minLength: 6, maxLength: 6 }), packet: fc.integer({ min: 0, max: 6 }).chain((n) => fc.uint8Array({ minLength: 8 * n, maxLength: 8 * n })) }),
  fc.record({ kind: fc.constant('unknown' as const), type: u8.filter((t) => !KNOWN.has(t)), data: optData }),
);
const options = fc.array(ndpOpt, { maxLength: 5 });
const reprArb: fc.Arbitrary<Icmpv6Repr> = fc.oneof(
  fc.record({ kind: fc.constant('routerSolicitation' as const), code: u8, reserved: u32, options }),
  fc.record({ kind: fc.constant('routerAdvertisement' as const), code: u8, curHopLimit: u8, flags: u8, routerLifetime: u16, reachableTime: u32, retransTimer: u32, options }),
  fc.record({ kind: fc.constant('neighborSolicitation' as const), code: u8, reserved: u32, target: a16, options }),
  fc.record({ kind: fc.constant('neighborAdvertisement' as const), code: u8, flags: u32, target: a16, options }),
  fc.record({ kind: fc.constant('redirect' as const), code: u8, reserved: u32, target: a16, destination: a16, options }),
);

test('ndp: Repr → emit → parse gives the Repr back, and emit again the same bytes', () => {
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

/** Raw options with any type and content, each of a length its type allows. */
const rawOption = fc.tuple(u8, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 })).chain(([type, units, servers]) => {
  const n = type === NdpOptionType.PrefixInformation ? 4 : type === NdpOptionType.Mtu ? 1 : type === NdpOptionType.Rdnss ? 1 + 2 * servers : units;
  return fc.uint8Array({ minLength: 8 * n - 2, maxLength: 8 * n - 2 }).map((data) => Uint8Array.of(type, n, ...data));
});

test('ndp: valid messages with arbitrary option bytes parse and re-emit byte for byte', () => {
  const fixed = { 133: 8, 134: 16, 135: 24, 136: 24, 137: 40 } as const;
  fc.assert(
    fc.property(fc.constantFrom(133, 134, 135, 136, 137), u8, fc.uint8Array({ minLength: 36, maxLength: 36 }), fc.array(rawOption, { maxLength: 5 }), (type, code, head, opts) => {
      const b = Uint8Array.of(type, code, 0, 0, ...head.subarray(0, fixed[type as keyof typeof fixed] - 4), ...opts.flatMap((o) => [...o]));
      new Icmpv6Packet(b).fillChecksum(PH);
      const r = parseIcmpv6(b, 0, b.length, { pseudoHeader: PH });
      assert.ok(!isParseError(r), String(r));
      assert.ok('options' in r && r.options.length === opts.length);
      const out = new Uint8Array(icmpv6ReprLength(r));
      emitIcmpv6({ ...r, checksum: undefined }, out, 0, PH);
      assert.deepEqual(out, b);
    }),
    { numRuns: fuzzRuns(3000) },
  );
});

test('ndp: parse never throws on arbitrary bytes', () => {
  const ndpTypes = [Icmpv6Type.RouterSolicitation, Icmpv6Type.RouterAdvertisement, Icmpv6Type.NeighborSolicitation, Icmpv6Type.NeighborAdvertisement, Icmpv6Type.Redirect];
  const arb = fc.oneof(
    fc.tuple(fc.constantFrom(...ndpTypes), fc.uint8Array({ maxLength: 40 }), fc.array(fc.oneof(rawOption, fc.uint8Array({ maxLength: 12 })), { maxLength: 4 }))
      .map(([t, head, os]) => Uint8Array.of(t, 0, 0, 0, ...head, ...os.flatMap((o) => [...o]))),
    fc.uint8Array({ maxLength: 48 }),
  );
  fc.assert(
    fc.property(arb, (b) => {
      const r = parseIcmpv6(b);
      if (!isParseError(r)) assert.equal(icmpv6ReprLength(r), b.length);
      const os = parseNdpOptions(b);
      if (!isParseError(os)) assert.equal(ndpOptionsLength(os), b.length);
    }),
    { numRuns: fuzzRuns(100_000) },
  );
});

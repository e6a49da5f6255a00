import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Ipv6OptionType, Ipv6Packet, NextHeader, emitIpv6, ipv6Fragment, ipv6PseudoHeader, ipv6ReprLength, parseIpv6,
  type Ipv6ExtensionHeader, type Ipv6Repr,
} from '../../src/wire/ipv6.js';
import { parseUdp } from '../../src/wire/udp.js';
import { isParseError, ParseErrorKind } from '../../src/wire/error.js';
import { formatIpv6, ipv6 } from '../../src/wire/address.js';
import { fuzzRuns } from '../support/fuzz.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

// scapy: IPv6(src='2001:db8::1',dst='2001:db8::2',tc=0xb8,fl=0x12345,hlim=33)
//   /IPv6ExtHdrHopByHop(options=[RouterAlert()])/IPv6ExtHdrDestOpt(options=[PadN(optdata=b'\0\0\0\0')])
//   /IPv6ExtHdrRouting(type=0,addresses=['2001:db8::3'],segleft=1)/IPv6ExtHdrFragment(offset=0,m=1,id=0xdeadbeef)
//   /UDP(sport=1000,dport=2000)/Raw(b'xyz')
const CHAIN = hex('6b812345003b002120010db800000000000000000000000120010db80000000000000000000000023c000502000001002b000104000000002c0200010000000020010db800000000000000000000000311000001deadbeef03e807d0000ba63078797a');
// scapy: IPv6(src='fd00::1',dst='fd00::2')/IPv6ExtHdrFragment(offset=100,m=0,id=7,nh=17)/Raw(b'fragdata')
const LATER_FRAGMENT = hex('6000000000102c40fd000000000000000000000000000001fd00000000000000000000000000000211000320000000076672616764617461');

test('ipv6: full extension chain from scapy, field by field, UDP checksum over the final destination', () => {
  const r = parseIpv6(CHAIN);
  assert.ok(!isParseError(r), String(r));
  assert.equal(r.trafficClass, 0xb8);
  assert.equal(r.flowLabel, 0x12345);
  assert.equal(r.hopLimit, 33);
  assert.equal(formatIpv6(r.src), '2001:db8::1');
  assert.equal(formatIpv6(r.dst), '2001:db8::2');
  assert.deepEqual(r.extensionHeaders.map((h) => h.kind), ['hopByHop', 'destinationOptions', 'routing', 'fragment']);
  const hbh = r.extensionHeaders[0] as Extract<Ipv6ExtensionHeader, { kind: 'hopByHop' }>;
  assert.deepEqual(hbh.options.map((o) => o.type), [Ipv6OptionType.RouterAlert, Ipv6OptionType.PadN]);
  const rt = r.extensionHeaders[2] as Extract<Ipv6ExtensionHeader, { kind: 'routing' }>;
  assert.equal(rt.routingType, 0);
  assert.equal(rt.segmentsLeft, 1);
  const frag = ipv6Fragment(r);
  assert.ok(frag);
  assert.equal(frag.identification, 0xdeadbeef);
  assert.equal(frag.moreFragments, true);
  assert.equal(frag.fragmentOffset, 0);
  assert.equal(r.upperProtocol, NextHeader.UDP);
  const ph = ipv6PseudoHeader(r);
  assert.equal(formatIpv6(ph.dst as Uint8Array), '2001:db8::3'); // RFC 8200 §8.1
  const udp = parseUdp(r.payload, 0, r.payload.length, { pseudoHeader: ph });
  assert.ok(!isParseError(udp), String(udp));
  assert.equal(Buffer.from(udp.payload).toString(), 'xyz');
  const out = new Uint8Array(ipv6ReprLength(r));
  emitIpv6(r, out);
  assert.deepEqual(out, CHAIN);
  const v = new Ipv6Packet(CHAIN);
  assert.equal(v.nextHeader, NextHeader.HopByHop);
  assert.equal(v.payloadLength, 59);
});

test('ipv6: a later fragment stops the chain at the fragment header (RFC 8200 §4.5)', () => {
  const r = parseIpv6(LATER_FRAGMENT);
  assert.ok(!isParseError(r), String(r));
  const f = ipv6Fragment(r);
  assert.equal(f?.fragmentOffset, 100);
  assert.equal(f?.moreFragments, false);
  assert.equal(r.upperProtocol, NextHeader.UDP);
  assert.equal(Buffer.from(r.payload).toString(), 'fragdata');
});

test('ipv6: malformed chains are typed errors', () => {
  const kind = (b: Uint8Array) => {
    const r = parseIpv6(b);
    return isParseError(r) ? r.kind : 'ok';
  };
  assert.equal(kind(CHAIN.subarray(0, 39)), ParseErrorKind.Truncated);
  assert.equal(kind(CHAIN.subarray(0, 80)), ParseErrorKind.Truncated); // payload length lies
  const ver = Uint8Array.from(CHAIN); ver[0] = 0x4b;
  assert.equal(kind(ver), ParseErrorKind.Malformed);
  // Hop-by-hop after another header (RFC 8200 §4.1): make the dest-opts header point to HBH.
  const late = Uint8Array.from(CHAIN); late[48] = NextHeader.HopByHop;
  assert.equal(kind(late), ParseErrorKind.Malformed);
  // A routing header pointing to another routing header: a repeated header, a loop.
  const loop = Uint8Array.from(CHAIN); loop[56] = NextHeader.Routing;
  assert.equal(kind(loop), ParseErrorKind.HeaderChain);
  // An option whose length runs past its header.
  const opt = Uint8Array.from(CHAIN); opt[43] = 9;
  assert.equal(kind(opt), ParseErrorKind.OptionOverflow);
  // First fragment cut inside the chain that follows the fragment header (RFC 7112).
  const cut = Uint8Array.from(CHAIN.subarray(0, 40 + 8 + 8 + 24 + 8 + 4));
  cut[80] = NextHeader.DestinationOptions; cut[89] = 1; // then a 16-byte header that does not fit
  cut[5] = cut.length - 40;
  assert.equal(kind(cut), ParseErrorKind.HeaderChain);
  // Jumbogram announcement (RFC 2675).
  const jumbo = Uint8Array.from(CHAIN); jumbo[4] = 0; jumbo[5] = 0;
  assert.equal(kind(jumbo), ParseErrorKind.Unsupported);
});

test('ipv6: a chain of many destination-options headers is refused', () => {
  const n = 3;
  const b = new Uint8Array(40 + 8 * n);
  b.set(CHAIN.subarray(0, 40));
  b[4] = 0; b[5] = 8 * n; b[6] = NextHeader.DestinationOptions;
  for (let i = 0; i < n; i++) b[40 + 8 * i] = i + 1 < n ? NextHeader.DestinationOptions : NextHeader.NoNextHeader;
  for (let i = 0; i < n; i++) { b[42 + 8 * i] = 1; b[43 + 8 * i] = 4; }
  const r = parseIpv6(b);
  assert.ok(isParseError(r) && r.kind === ParseErrorKind.HeaderChain);
});

const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
const optionsArb = fc.array(
  fc.oneof(fc.constant({ type: 0, data: new Uint8Array(0) }), fc.tuple(fc.integer({ min: 1, max: 255 }), fc.uint8Array({ maxLength: 10 })).map(([type, data]) => ({ type, data }))),
  { maxLength: 4 },
);
const extArb: fc.Arbitrary<Ipv6ExtensionHeader> = fc.oneof(
  optionsArb.map((options) => ({ kind: 'destinationOptions', options }) as Ipv6ExtensionHeader),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3 })).map(
    ([routingType, segmentsLeft, n]) => ({ kind: 'routing', routingType, segmentsLeft, data: new Uint8Array(4 + 8 * n) }) as Ipv6ExtensionHeader,
  ),
  fc.record({ fragmentOffset: fc.constant(0), moreFragments: fc.boolean(), identification: fc.integer({ min: 0, max: 0xffffffff }), reserved: fc.integer({ min: 0, max: 0x3ff }) })
    .map((f) => ({ kind: 'fragment', ...f }) as Ipv6ExtensionHeader),
);
const reprArb: fc.Arbitrary<Ipv6Repr> = fc.record({
  trafficClass: fc.integer({ min: 0, max: 255 }),
  flowLabel: fc.integer({ min: 0, max: 0xfffff }),
  hopLimit: fc.integer({ min: 0, max: 255 }),
  src: addr,
  dst: addr,
  extensionHeaders: fc.tuple(fc.option(optionsArb), fc.uniqueArray(extArb, { maxLength: 3, selector: (h) => h.kind })).map(([hbh, rest]) => [
    ...(hbh ? [{ kind: 'hopByHop', options: hbh } as Ipv6ExtensionHeader] : []),
    ...rest,
  ]),
  upperProtocol: fc.constantFrom(6, 17, 58, 59),
  payload: fc.uint8Array({ maxLength: 40 }),
});

test('ipv6: emit → parse → emit is byte-exact', () => {
  fc.assert(
    fc.property(reprArb, (repr) => {
      const b = new Uint8Array(ipv6ReprLength(repr));
      emitIpv6(repr, b);
      const r = parseIpv6(b);
      assert.ok(!isParseError(r), String(r));
      assert.deepEqual(r.extensionHeaders.map((h) => h.kind), repr.extensionHeaders.map((h) => h.kind));
      assert.equal(r.upperProtocol, repr.upperProtocol);
      assert.deepEqual(r.payload, repr.payload);
      const again = new Uint8Array(ipv6ReprLength(r));
      emitIpv6(r, again);
      assert.deepEqual(again, b);
    }),
    { numRuns: fuzzRuns(3000) },
  );
});

test('ipv6: parse never throws on arbitrary bytes', () => {
  const head = CHAIN.subarray(0, 40);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 60 }),
        fc.tuple(fc.constantFrom(0, 43, 44, 51, 60), fc.uint8Array({ maxLength: 64 })).map(([nh, t]) => {
          const b = new Uint8Array(40 + t.length);
          b.set(head); b.set(t, 40);
          b[4] = t.length >>> 8; b[5] = t.length & 0xff; b[6] = nh;
          return b;
        }),
      ),
      (b) => { parseIpv6(b); },
    ),
    { numRuns: fuzzRuns(100_000) },
  );
});

test('ipv6 text: RFC 5952 §5 dotted form for IPv4-mapped addresses, and it parses back', () => {
  const m = ipv6('::ffff:198.18.0.1');
  assert.equal(formatIpv6(m), '::ffff:198.18.0.1');
  assert.deepEqual(ipv6(formatIpv6(m)), m);
  assert.equal(formatIpv6(ipv6('::fffe:c612:1')), '::fffe:c612:1', 'only ::ffff:0:0/96 is mapped');
});

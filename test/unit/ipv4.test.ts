import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Ipv4OptionType, Ipv4Packet, emitIpv4, ipv4ReprLength, parseIpv4, parseIpv4Options, type Ipv4Repr } from '../../src/wire/ipv4.js';
import { isParseError, ParseErrorKind } from '../../src/wire/error.js';
import { formatIpv4, ipv4 } from '../../src/wire/address.js';
import { fuzzRuns } from '../support/fuzz.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

// scapy: IP(src='198.18.0.1',dst='198.18.0.2',id=0x1234,ttl=63,tos=0xb8,flags='MF',frag=185,
//           options=[IPOption_RR(routers=['198.18.0.9']),IPOption_Router_Alert()])/Raw(b'abcd')
const WITH_OPTIONS = hex('48b80024123420b93f008dacc6120001c6120002070704c6120009940400000061626364');

test('ipv4: header with options and fragment fields from scapy, field by field', () => {
  const r = parseIpv4(WITH_OPTIONS);
  assert.ok(!isParseError(r), String(r));
  assert.equal(r.tos, 0xb8);
  assert.equal(r.identification, 0x1234);
  assert.equal(r.dontFragment, false);
  assert.equal(r.moreFragments, true);
  assert.equal(r.fragmentOffset, 185);
  assert.equal(r.ttl, 63);
  assert.equal(r.protocol, 0);
  assert.equal(r.checksum, 0x8dac); // scapy's, verified by parse
  assert.equal(formatIpv4(r.src), '198.18.0.1');
  assert.equal(formatIpv4(r.dst), '198.18.0.2');
  assert.equal(r.options.length, 12);
  assert.deepEqual(Buffer.from(r.payload).toString(), 'abcd');
  const opts = parseIpv4Options(r.options);
  assert.ok(!isParseError(opts));
  assert.deepEqual(opts.map((o) => o.type), [Ipv4OptionType.RecordRoute, Ipv4OptionType.RouterAlert, Ipv4OptionType.EndOfList]);
  assert.deepEqual([...opts[0]!.data], [4, 198, 18, 0, 9]); // pointer, then the route slot
  const v = new Ipv4Packet(WITH_OPTIONS);
  assert.equal(v.headerLength, 32);
  assert.equal(v.fragmentOffsetBytes, 1480);
  assert.equal(v.isFragment, true);
  assert.equal(v.dscp, 46); // EF
  assert.equal(v.check(WITH_OPTIONS.length), 0);
});

test('ipv4: malformed headers return typed errors', () => {
  const kind = (b: Uint8Array, opts?: { verifyChecksum?: boolean }) => {
    const r = parseIpv4(b, 0, b.length, opts);
    return isParseError(r) ? r.kind : 'ok';
  };
  assert.equal(kind(WITH_OPTIONS.subarray(0, 19)), ParseErrorKind.Truncated);
  assert.equal(kind(WITH_OPTIONS.subarray(0, 30)), ParseErrorKind.Truncated); // IHL says 32
  const lie = Uint8Array.from(WITH_OPTIONS); lie[3] = 0x80; // total length 128 > 36
  assert.equal(kind(lie, { verifyChecksum: false }), ParseErrorKind.Truncated);
  const short = Uint8Array.from(WITH_OPTIONS); short[3] = 20; // total length < IHL
  assert.equal(kind(short, { verifyChecksum: false }), ParseErrorKind.Malformed);
  const ihl = Uint8Array.from(WITH_OPTIONS); ihl[0] = 0x44;
  assert.equal(kind(ihl, { verifyChecksum: false }), ParseErrorKind.Malformed);
  const v6 = Uint8Array.from(WITH_OPTIONS); v6[0] = 0x68;
  assert.equal(kind(v6, { verifyChecksum: false }), ParseErrorKind.Malformed);
  const evil = Uint8Array.from(WITH_OPTIONS); evil[6] |= 0x80; // RFC 791 reserved flag
  assert.equal(kind(evil, { verifyChecksum: false }), ParseErrorKind.Malformed);
  const bad = Uint8Array.from(WITH_OPTIONS); bad[8] = 1;
  assert.equal(kind(bad), ParseErrorKind.Checksum);
  assert.equal(new Ipv4Packet(bad).check(bad.length), ParseErrorKind.Checksum);
  const overflow = Uint8Array.from(WITH_OPTIONS); overflow[21] = 40; // RR length past the header
  assert.equal(kind(overflow, { verifyChecksum: false }), ParseErrorKind.OptionOverflow);
});

const reprArb: fc.Arbitrary<Ipv4Repr> = fc.record({
  tos: fc.integer({ min: 0, max: 255 }),
  identification: fc.integer({ min: 0, max: 0xffff }),
  dontFragment: fc.boolean(),
  moreFragments: fc.boolean(),
  fragmentOffset: fc.integer({ min: 0, max: 0x1fff }),
  ttl: fc.integer({ min: 0, max: 255 }),
  protocol: fc.integer({ min: 0, max: 255 }),
  src: fc.integer().map((x) => x | 0) /* IPv4 addresses are int32 */,
  dst: fc.integer().map((x) => x | 0) /* IPv4 addresses are int32 */,
  // Well-formed option lists: NOPs and Router Alerts, padded with EOL.
  options: fc.array(fc.constantFrom([1], [148, 4, 0, 0]), { maxLength: 8 }).map((os) => {
    const flat = os.flat().slice(0, 40);
    while (flat.length % 4) flat.push(0);
    return Uint8Array.from(flat);
  }),
  checksum: fc.constant(undefined),
  payload: fc.uint8Array({ maxLength: 64 }),
});

test('ipv4: emit(parse(x)) reproduces packets byte for byte', () => {
  fc.assert(
    fc.property(reprArb, (repr) => {
      const b = new Uint8Array(ipv4ReprLength(repr));
      emitIpv4(repr, b);
      const r = parseIpv4(b);
      assert.ok(!isParseError(r), String(r));
      assert.deepEqual({ ...r, checksum: undefined }, repr);
      const again = new Uint8Array(ipv4ReprLength(r));
      emitIpv4(r, again);
      assert.deepEqual(again, b);
    }),
    { numRuns: fuzzRuns(3000) },
  );
  const r = parseIpv4(WITH_OPTIONS);
  assert.ok(!isParseError(r));
  const out = new Uint8Array(ipv4ReprLength(r));
  emitIpv4({ ...r, checksum: undefined }, out);
  assert.deepEqual(out, WITH_OPTIONS);
});

test('ipv4: parse never throws on arbitrary bytes', () => {
  const head = WITH_OPTIONS.subarray(0, 20);
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 70 }), fc.uint8Array({ maxLength: 50 }).map((t) => Uint8Array.from([0x4f, ...head.subarray(1), ...t]))), (b) => {
      parseIpv4(b, 0, b.length, { verifyChecksum: false });
      parseIpv4(b);
      new Ipv4Packet(b).check(b.length);
    }),
    { numRuns: fuzzRuns(100_000) },
  );
  assert.equal(ipv4('198.18.0.1'), 0xc6120001 | 0);
});

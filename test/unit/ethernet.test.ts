import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EthernetFrame, EtherType, emitEthernet, ethernetReprLength, parseEthernet, type EthernetRepr } from '../../src/wire/ethernet.js';
import { isParseError, ParseErrorKind } from '../../src/wire/error.js';
import { formatMac } from '../../src/wire/address.js';
import { fuzzRuns } from '../support/fuzz.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

// scapy: Ether(dst='02:00:00:00:00:02',src='02:00:00:00:00:01')/Dot1AD(vlan=100,prio=5)/
//        Dot1Q(vlan=200,id=1)/IP(src='198.18.0.1',dst='198.18.0.2')/UDP(sport=1,dport=2)
const QINQ = hex('02000000000202000000000188a8a064810010c808004500001c000100004011eea8c6120001c612000200010002000873b3');

test('ethernet: QinQ frame from scapy, field by field', () => {
  const r = parseEthernet(QINQ);
  assert.ok(!isParseError(r), String(r));
  assert.equal(formatMac(r.dst), '02:00:00:00:00:02');
  assert.equal(formatMac(r.src), '02:00:00:00:00:01');
  assert.deepEqual(r.vlans, [
    { tpid: 0x88a8, pcp: 5, dei: false, vid: 100 },
    { tpid: 0x8100, pcp: 0, dei: true, vid: 200 },
  ]);
  assert.equal(r.etherType, EtherType.IPv4);
  assert.equal(r.payload.length, 28);
  assert.equal(r.payload[0], 0x45);
  const v = new EthernetFrame(QINQ);
  assert.equal(v.tagCount, 2);
  assert.equal(v.etherType, EtherType.IPv4);
  assert.equal(v.outerVid, 100);
  assert.equal(v.payloadOffset, 22);
  assert.equal(v.isGroupDestination, false);
});

test('ethernet: truncated frames, 802.3 length frames and absurd tag stacks are typed errors', () => {
  const short = parseEthernet(QINQ.subarray(0, 13));
  assert.ok(isParseError(short) && short.kind === ParseErrorKind.Truncated);
  const inTag = parseEthernet(QINQ.subarray(0, 17));
  assert.ok(isParseError(inTag) && inTag.kind === ParseErrorKind.Truncated);
  const llc = Uint8Array.from(QINQ.subarray(0, 20));
  llc[12] = 0x00; llc[13] = 0x40;
  const r = parseEthernet(llc);
  assert.ok(isParseError(r) && r.kind === ParseErrorKind.Unsupported);
  const many = new Uint8Array(14 + 4 * 6);
  for (let i = 0; i < 6; i++) { many[12 + 4 * i] = 0x81; many[13 + 4 * i] = 0x00; }
  many[12 + 24] = 0x08;
  const m = parseEthernet(many);
  assert.ok(isParseError(m) && m.kind === ParseErrorKind.HeaderChain);
});

const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 });
const tagArb = fc.record({
  tpid: fc.constantFrom(0x8100, 0x88a8),
  pcp: fc.integer({ min: 0, max: 7 }),
  dei: fc.boolean(),
  vid: fc.integer({ min: 0, max: 4095 }),
});
const reprArb: fc.Arbitrary<EthernetRepr> = fc.record({
  dst: macArb,
  src: macArb,
  vlans: fc.array(tagArb, { maxLength: 4 }),
  etherType: fc.integer({ min: 0x0600, max: 0xffff }).filter((t) => t !== 0x8100 && t !== 0x88a8),
  payload: fc.uint8Array({ maxLength: 100 }),
});

test('ethernet: emit(parse(x)) reproduces frames byte for byte', () => {
  fc.assert(
    fc.property(reprArb, (repr) => {
      const b = new Uint8Array(ethernetReprLength(repr));
      assert.equal(emitEthernet(repr, b), b.length);
      const r = parseEthernet(b);
      assert.ok(!isParseError(r));
      assert.deepEqual(r, repr);
      const again = new Uint8Array(ethernetReprLength(r));
      emitEthernet(r, again);
      assert.deepEqual(again, b);
    }),
    { numRuns: fuzzRuns(3000) },
  );
  const r = parseEthernet(QINQ);
  assert.ok(!isParseError(r));
  const out = new Uint8Array(ethernetReprLength(r));
  emitEthernet(r, out);
  assert.deepEqual(out, QINQ);
});

test('ethernet: parse never throws on arbitrary bytes', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 30 }).map((t) => Uint8Array.from([...QINQ.subarray(0, 12), 0x81, 0x00, ...t]))), (b) => {
      parseEthernet(b);
      const v = new EthernetFrame(b);
      if (b.length >= 14) void v.etherType;
    }),
    { numRuns: fuzzRuns(100_000) },
  );
});

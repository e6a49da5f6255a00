import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VxlanPacket, emitVxlan, parseVxlan, vxlanReprLength, type VxlanRepr } from '../../src/wire/vxlan.js';
import { parseEthernet } from '../../src/wire/ethernet.js';
import { isParseError, ParseErrorKind } from '../../src/wire/error.js';
import { fuzzRuns } from '../support/fuzz.js';

// scapy: VXLAN(vni=0x123456,flags=0x08)/Ether(dst='02:00:00:00:00:02',src='02:00:00:00:00:01',type=0x0800)
const VX = Uint8Array.from(Buffer.from('08000000123456000200000000020200000000010800', 'hex'));

test('vxlan: header from scapy with its inner frame', () => {
  const r = parseVxlan(VX);
  assert.ok(!isParseError(r), String(r));
  assert.equal(r.vni, 0x123456);
  assert.equal(r.flags, 0x08);
  assert.equal(new VxlanPacket(VX).vni, 0x123456);
  const inner = parseEthernet(r.payload);
  assert.ok(!isParseError(inner));
  assert.equal(inner.etherType, 0x0800);
  const out = new Uint8Array(vxlanReprLength(r));
  emitVxlan(r, out);
  assert.deepEqual(out, VX);
});

test('vxlan: I flag clear is Malformed (RFC 7348 §5); short is Truncated', () => {
  const b = Uint8Array.from(VX); b[0] = 0;
  const r = parseVxlan(b);
  assert.ok(isParseError(r) && r.kind === ParseErrorKind.Malformed);
  const s = parseVxlan(VX.subarray(0, 7));
  assert.ok(isParseError(s) && s.kind === ParseErrorKind.Truncated);
});

const reprArb: fc.Arbitrary<VxlanRepr> = fc.record({
  flags: fc.integer({ min: 0, max: 255 }).map((f) => f | 0x08),
  vni: fc.integer({ min: 0, max: 0xffffff }),
  reserved1: fc.integer({ min: 0, max: 0xffffff }),
  reserved2: fc.integer({ min: 0, max: 255 }),
  payload: fc.uint8Array({ maxLength: 64 }),
});

test('vxlan: emit(parse(x)) is byte-exact; parse never throws', () => {
  fc.assert(fc.property(reprArb, (repr) => {
    const b = new Uint8Array(vxlanReprLength(repr));
    emitVxlan(repr, b);
    const r = parseVxlan(b);
    assert.ok(!isParseError(r));
    assert.deepEqual(r, repr);
  }), { numRuns: fuzzRuns(3000) });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 24 }), (b) => { parseVxlan(b); }), { numRuns: fuzzRuns(100_000) });
});

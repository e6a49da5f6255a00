import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ArpOperation, ArpPacket, emitArp, parseArp, type ArpRepr } from '../../src/wire/arp.js';
import { isParseError, ParseErrorKind } from '../../src/wire/error.js';
import { formatIpv4, formatMac } from '../../src/wire/address.js';
import { fuzzRuns } from '../support/fuzz.js';

// scapy: ARP(op=2,hwsrc='02:00:00:00:00:02',psrc='198.18.0.2',hwdst='02:00:00:00:00:01',pdst='198.18.0.1')
const REPLY = Uint8Array.from(Buffer.from('0001080006040002020000000002c6120002020000000001c6120001', 'hex'));

test('arp: reply from scapy, field by field', () => {
  const r = parseArp(REPLY);
  assert.ok(!isParseError(r), String(r));
  assert.equal(r.operation, ArpOperation.Reply);
  assert.equal(formatMac(r.senderMac), '02:00:00:00:00:02');
  assert.equal(formatIpv4(r.senderIp), '198.18.0.2');
  assert.equal(formatMac(r.targetMac), '02:00:00:00:00:01');
  assert.equal(formatIpv4(r.targetIp), '198.18.0.1');
  assert.equal(new ArpPacket(REPLY).isGratuitous, false);
  const out = new Uint8Array(28);
  emitArp(r, out);
  assert.deepEqual(out, REPLY);
});

test('arp: gratuitous announcement is recognised (RFC 5227 §3)', () => {
  const g = Uint8Array.from(REPLY);
  g.set(g.subarray(14, 18), 24);
  assert.equal(new ArpPacket(g).isGratuitous, true);
});

test('arp: other hardware/protocol types are Unsupported, short packets Truncated, bad lengths Malformed', () => {
  const t = Uint8Array.from(REPLY); t[1] = 6; // IEEE 802
  const r = parseArp(t);
  assert.ok(isParseError(r) && r.kind === ParseErrorKind.Unsupported);
  const s = parseArp(REPLY.subarray(0, 27));
  assert.ok(isParseError(s) && s.kind === ParseErrorKind.Truncated);
  const l = Uint8Array.from(REPLY); l[4] = 8;
  const m = parseArp(l);
  assert.ok(isParseError(m) && m.kind === ParseErrorKind.Malformed);
});

const reprArb: fc.Arbitrary<ArpRepr> = fc.record({
  operation: fc.integer({ min: 0, max: 0xffff }),
  senderMac: fc.uint8Array({ minLength: 6, maxLength: 6 }),
  senderIp: fc.integer(),
  targetMac: fc.uint8Array({ minLength: 6, maxLength: 6 }),
  targetIp: fc.integer(),
});

test('arp: emit(parse(x)) is byte-exact; parse never throws', () => {
  fc.assert(fc.property(reprArb, (repr) => {
    const b = new Uint8Array(28);
    emitArp(repr, b);
    const r = parseArp(b);
    assert.ok(!isParseError(r));
    assert.deepEqual(r, repr);
  }), { numRuns: fuzzRuns(3000) });
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 30 }).map((t) => Uint8Array.from([...REPLY.subarray(0, 6), ...t]))), (b) => {
    parseArp(b);
  }), { numRuns: fuzzRuns(100_000) });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DestUnreachableCode, Icmpv4Packet, emitIcmpv4, icmpv4ReprLength, parseIcmpv4, type Icmpv4Repr } from '../../src/wire/icmpv4.js';
import { parseIpv4 } from '../../src/wire/ipv4.js';
import { isParseError, ParseErrorKind } from '../../src/wire/error.js';
import { formatIpv4 } from '../../src/wire/address.js';
import { fuzzRuns } from '../support/fuzz.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
// scapy, with inner = bytes(IP(src='198.18.0.1',dst='198.18.0.9')/UDP(sport=5000,dport=53))[:28]:
const V = {
  echo: hex('080006f41234000770696e67'), // ICMP(type=8,id=0x1234,seq=7)/b'ping'
  fragNeeded: hex('030483cc000005784500001c000100004011eea1c6120001c61200091388003500085ff2'), // ICMP(type=3,code=4,nexthopmtu=1400)/inner
  portUnreach: hex('03038945000000004500001c000100004011eea1c6120001c61200091388003500085ff2'), // ICMP(type=3,code=3)/inner
  timeExceeded: hex('0b008148000000004500001c000100004011eea1c6120001c61200091388003500085ff2'), // ICMP(type=11,code=0)/inner
  redirect: hex('0501c036c61200fe4500001c000100004011eea1c6120001c61200091388003500085ff2'), // ICMP(type=5,code=1,gw='198.18.0.254')/inner
  paramProblem: hex('0c007748090000004500001c000100004011eea1c6120001c61200091388003500085ff2'), // ICMP(type=12,ptr=9)/inner
  timestamp: hex('0d00bd2300000000010310f1010310f1010310f1'), // ICMP(type=13)
};

function parsed(b: Uint8Array): Icmpv4Repr {
  const r = parseIcmpv4(b);
  assert.ok(!isParseError(r), String(r));
  return r;
}

test('icmpv4: every message kind from scapy, field by field, checksums verified', () => {
  const e = parsed(V.echo);
  assert.ok(e.kind === 'echoRequest');
  assert.equal(e.identifier, 0x1234);
  assert.equal(e.sequence, 7);
  assert.equal(Buffer.from(e.data).toString(), 'ping');
  const f = parsed(V.fragNeeded);
  assert.ok(f.kind === 'destinationUnreachable');
  assert.equal(f.code, DestUnreachableCode.FragmentationNeeded);
  assert.equal(f.nextHopMtu, 1400);
  const inner = parseIpv4(f.original);
  assert.ok(!isParseError(inner));
  assert.equal(formatIpv4(inner.dst), '198.18.0.9');
  const u = parsed(V.portUnreach);
  assert.ok(u.kind === 'destinationUnreachable' && u.code === DestUnreachableCode.PortUnreachable);
  assert.equal(parsed(V.timeExceeded).kind, 'timeExceeded');
  const r = parsed(V.redirect);
  assert.ok(r.kind === 'redirect');
  assert.equal(formatIpv4(r.gateway), '198.18.0.254');
  const pp = parsed(V.paramProblem);
  assert.ok(pp.kind === 'parameterProblem');
  assert.equal(pp.pointer, 9);
  const ts = parsed(V.timestamp);
  assert.ok(ts.kind === 'other' && ts.type === 13);
  assert.equal(new Icmpv4Packet(V.fragNeeded).nextHopMtu, 1400);
  for (const b of Object.values(V)) {
    const out = new Uint8Array(icmpv4ReprLength(parsed(b)));
    emitIcmpv4({ ...parsed(b), checksum: undefined }, out);
    assert.deepEqual(out, b);
  }
});

test('icmpv4: bad checksum and truncation are typed errors', () => {
  const b = Uint8Array.from(V.echo); b[9] ^= 1;
  const r = parseIcmpv4(b);
  assert.ok(isParseError(r) && r.kind === ParseErrorKind.Checksum);
  const t = parseIcmpv4(V.echo.subarray(0, 7));
  assert.ok(isParseError(t) && t.kind === ParseErrorKind.Truncated);
});

const u16 = fc.integer({ min: 0, max: 0xffff });
const body = fc.uint8Array({ maxLength: 48 });
const reprArb: fc.Arbitrary<Icmpv4Repr> = fc.oneof(
  fc.record({ kind: fc.constantFrom('echoRequest' as const, 'echoReply' as const), code: fc.integer({ min: 0, max: 255 }), identifier: u16, sequence: u16, data: body }),
  fc.record({ kind: fc.constant('destinationUnreachable' as const), code: fc.integer({ min: 0, max: 15 }), unused: u16, nextHopMtu: u16, original: body }),
  fc.record({ kind: fc.constant('timeExceeded' as const), code: fc.integer({ min: 0, max: 1 }), unused: fc.integer({ min: 0, max: 0xffffffff }), original: body }),
  fc.record({ kind: fc.constant('redirect' as const), code: fc.integer({ min: 0, max: 3 }), gateway: fc.integer(), original: body }),
  fc.record({ kind: fc.constant('parameterProblem' as const), code: fc.integer({ min: 0, max: 2 }), pointer: fc.integer({ min: 0, max: 255 }), unused: fc.integer({ min: 0, max: 0xffffff }), original: body }),
  fc.record({ kind: fc.constant('other' as const), type: fc.constantFrom(13, 14, 40, 255), code: fc.integer({ min: 0, max: 255 }), rest: fc.integer({ min: 0, max: 0xffffffff }), data: body }),
);

test('icmpv4: emit → parse → emit is byte-exact; parse never throws', () => {
  fc.assert(fc.property(reprArb, (repr) => {
    const b = new Uint8Array(icmpv4ReprLength(repr));
    emitIcmpv4(repr, b);
    const r = parseIcmpv4(b);
    assert.ok(!isParseError(r), String(r));
    assert.deepEqual({ ...r, checksum: undefined }, { ...repr, checksum: undefined });
    const again = new Uint8Array(icmpv4ReprLength(r));
    emitIcmpv4(r, again);
    assert.deepEqual(again, b);
  }), { numRuns: fuzzRuns(3000) });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
    parseIcmpv4(b);
    parseIcmpv4(b, 0, b.length, { verifyChecksum: false });
  }), { numRuns: fuzzRuns(100_000) });
});

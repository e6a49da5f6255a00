import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseUdp, emitUdp, udpReprLength, UdpPacket } from '../../src/wire/udp.js';
import { isParseError, ParseErrorKind } from '../../src/wire/error.js';
import { ipv4, ipv6 } from '../../src/wire/address.js';
import type { PseudoHeader } from '../../src/wire/checksum.js';
import { fuzzRuns } from '../support/fuzz.js';

// 198.18.0.1:5000 -> 198.18.0.2:6000, payload "hello", checksum field 0 (none).
const PH4: PseudoHeader = { version: 4, src: ipv4('198.18.0.1'), dst: ipv4('198.18.0.2') };
const DGRAM = Uint8Array.from([0x13, 0x88, 0x17, 0x70, 0x00, 0x0d, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);

test('udp: deconstruct a datagram field by field', () => {
  const p = new UdpPacket(DGRAM);
  assert.equal(p.srcPort, 5000);
  assert.equal(p.dstPort, 6000);
  assert.equal(p.length, 13);
});

test('udp: checksum with the IPv4 pseudo-header verifies after fill, fails after corruption', () => {
  const b = Uint8Array.from(DGRAM);
  const p = new UdpPacket(b);
  p.fillChecksum(PH4);
  assert.ok(p.verifyChecksum(PH4));
  b[9] ^= 0x01;
  assert.ok(!p.verifyChecksum(PH4));
  const r = parseUdp(b, 0, b.length, { pseudoHeader: PH4 });
  assert.ok(isParseError(r) && r.kind === ParseErrorKind.Checksum);
});

test('udp: zero checksum means none over IPv4, is invalid over IPv6 (RFC 8200 §8.1)', () => {
  const ph6: PseudoHeader = { version: 6, src: ipv6('2001:db8::1'), dst: ipv6('2001:db8::2') };
  assert.ok(new UdpPacket(DGRAM).verifyChecksum(PH4));
  assert.ok(!new UdpPacket(DGRAM).verifyChecksum(ph6));
});

test('udp: length that lies is an error, never a throw', () => {
  const b = Uint8Array.from(DGRAM);
  b[5] = 40; // claims 40 bytes, 13 present
  const r = parseUdp(b);
  assert.ok(isParseError(r) && r.kind === ParseErrorKind.Truncated);
  b[5] = 4; // shorter than a header
  const r2 = parseUdp(b);
  assert.ok(isParseError(r2) && r2.kind === ParseErrorKind.Malformed);
});

test('udp: emit(parse(x)) reproduces valid datagrams byte for byte', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), fc.uint8Array({ maxLength: 300 }), (s, d, payload) => {
      const b = new Uint8Array(8 + payload.length);
      emitUdp({ srcPort: s, dstPort: d, payload }, b, 0, PH4);
      const r = parseUdp(b, 0, b.length, { pseudoHeader: PH4 });
      assert.ok(!isParseError(r));
      const out = new Uint8Array(udpReprLength(r));
      emitUdp(r, out);
      assert.deepEqual(out, b);
    }),
    { numRuns: fuzzRuns(2000) },
  );
});

test('udp: parse never throws on arbitrary bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      parseUdp(b, 0, b.length, { pseudoHeader: PH4 });
    }),
    { numRuns: fuzzRuns(100_000) },
  );
});

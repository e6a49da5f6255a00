import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  TcpFlags, TcpOptionKind, TcpOptionsScratch, TcpPacket, emitTcp, parseTcp, tcpReprLength, formatTcpFlags,
  type TcpOption, type TcpRepr,
} from '../../src/wire/tcp.js';
import { isParseError, ParseErrorKind } from '../../src/wire/error.js';
import { ipv4, ipv6 } from '../../src/wire/address.js';
import type { PseudoHeader } from '../../src/wire/checksum.js';
import { fuzzRuns } from '../support/fuzz.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const PH: PseudoHeader = { version: 4, src: ipv4('198.18.0.1'), dst: ipv4('198.18.0.2') };

// scapy (each: bytes(IP(src='198.18.0.1',dst='198.18.0.2')/TCP(...))[20:]):
// TCP(sport=40000,dport=80,seq=0xfffffff0,flags='S',window=64240,
//     options=[('MSS',1460),('SAckOK',b''),('Timestamp',(123456,0)),('NOP',None),('WScale',7)])
const SYN = hex('9c400050fffffff000000000a002faf042240000020405b40402080a0001e2400000000001030307');
// TCP(sport=80,dport=40000,seq=1000,ack=2000,flags='PA',window=501,
//     options=[('NOP',None),('NOP',None),('Timestamp',(5,6)),('NOP',None),('NOP',None),('SAck',(3000,4000,5000,6000))])/b'hi'
const SACK = hex('00509c40000003e8000007d0d01801f53b6200000101080a00000005000000060101051200000bb800000fa000001388000017706869');
// TCP(sport=1,dport=2,flags='A',options=[(253,b'\x12\x34'),('NOP',None),('EOL',None)])
const UNKNOWN = hex('00010002000000000000000070102000d3680000fd04123401000000');

test('tcp: SYN with MSS, SACK-permitted, timestamps, window scale (scapy), field by field', () => {
  const r = parseTcp(SYN, 0, SYN.length, { pseudoHeader: PH });
  assert.ok(!isParseError(r), String(r));
  assert.equal(r.srcPort, 40000);
  assert.equal(r.dstPort, 80);
  assert.equal(r.seq, 0xfffffff0);
  assert.equal(r.ack, 0);
  assert.equal(r.flags, TcpFlags.SYN);
  assert.equal(r.window, 64240);
  assert.equal(r.checksum, 0x4224);
  assert.deepEqual(r.options, [
    { kind: 'mss', value: 1460 },
    { kind: 'sackPermitted' },
    { kind: 'timestamps', tsVal: 123456, tsEcr: 0 },
    { kind: 'nop' },
    { kind: 'wscale', shift: 7 },
  ]);
  const v = new TcpPacket(SYN);
  assert.equal(v.headerLength, 40);
  assert.equal(v.segmentLength, 1); // SYN occupies one sequence number
  const s = new TcpOptionsScratch();
  assert.equal(v.readOptions(s), 0);
  assert.equal(s.mss, 1460);
  assert.equal(s.windowShift, 7);
  assert.equal(s.sackPermitted, true);
  assert.equal(s.hasTimestamps, true);
  assert.equal(s.tsVal, 123456);
  assert.ok(s.has(TcpOptionKind.MaxSegmentSize) && !s.has(TcpOptionKind.Sack));
});

test('tcp: ACK with timestamps and two SACK blocks (scapy), field by field', () => {
  const r = parseTcp(SACK, 0, SACK.length, { pseudoHeader: PH });
  assert.ok(!isParseError(r), String(r));
  assert.equal(r.flags, TcpFlags.PSH | TcpFlags.ACK);
  assert.equal(formatTcpFlags(r.flags), 'P.');
  assert.equal(r.seq, 1000);
  assert.equal(r.ack, 2000);
  assert.equal(r.window, 501);
  assert.equal(Buffer.from(r.payload).toString(), 'hi');
  assert.deepEqual(r.options.at(-1), { kind: 'sack', blocks: [[3000, 4000], [5000, 6000]] });
  const s = new TcpOptionsScratch();
  assert.equal(new TcpPacket(SACK).readOptions(s), 0);
  assert.equal(s.sackBlockCount, 2);
  assert.deepEqual([...s.sackEdges.subarray(0, 4)], [3000, 4000, 5000, 6000]);
  assert.equal(s.tsVal, 5);
  assert.equal(s.tsEcr, 6);
});

test('tcp: unknown options and EOL padding are preserved byte for byte', () => {
  const r = parseTcp(UNKNOWN, 0, UNKNOWN.length, { pseudoHeader: PH });
  assert.ok(!isParseError(r), String(r));
  assert.deepEqual(r.options, [{ kind: 'unknown', code: 253, data: Uint8Array.from([0x12, 0x34]) }, { kind: 'nop' }, { kind: 'eol' }]);
  for (const seg of [SYN, SACK, UNKNOWN]) {
    const p = parseTcp(seg);
    assert.ok(!isParseError(p));
    const out = new Uint8Array(tcpReprLength(p));
    emitTcp({ ...p, checksum: undefined }, out, 0, PH);
    assert.deepEqual(out, seg);
  }
});

test('tcp: checksum over IPv4 and IPv6 pseudo-headers; corruption is detected', () => {
  const b = Uint8Array.from(SACK);
  b[b.length - 1] ^= 0x20;
  const r = parseTcp(b, 0, b.length, { pseudoHeader: PH });
  assert.ok(isParseError(r) && r.kind === ParseErrorKind.Checksum);
  const ph6: PseudoHeader = { version: 6, src: ipv6('2001:db8::1'), dst: ipv6('fd00::2') };
  const v = new TcpPacket(Uint8Array.from(SYN));
  v.fillChecksum(ph6);
  assert.ok(v.verifyChecksum(ph6));
  assert.ok(!v.verifyChecksum(PH));
});

test('tcp: malformed headers and options are typed errors', () => {
  const kind = (b: Uint8Array) => {
    const r = parseTcp(b);
    return isParseError(r) ? r.kind : 'ok';
  };
  assert.equal(kind(SYN.subarray(0, 19)), ParseErrorKind.Truncated);
  assert.equal(kind(SYN.subarray(0, 30)), ParseErrorKind.Truncated); // data offset says 40
  const off = Uint8Array.from(SYN); off[12] = 0x40; // data offset 4
  assert.equal(kind(off), ParseErrorKind.Malformed);
  const run = Uint8Array.from(SYN); run[21] = 30; // MSS length past the header
  assert.equal(kind(run), ParseErrorKind.OptionOverflow);
  const zero = Uint8Array.from(SYN); zero[21] = 0;
  assert.equal(kind(zero), ParseErrorKind.OptionOverflow);
  const mss = Uint8Array.from(SYN); mss[21] = 6; // MSS must be 4 long
  assert.equal(kind(mss), ParseErrorKind.Malformed);
  const s = new TcpOptionsScratch();
  assert.equal(new TcpPacket(mss).readOptions(s), ParseErrorKind.Malformed);
  assert.equal(new TcpPacket(run).readOptions(s), ParseErrorKind.OptionOverflow);
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const optionArb: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant({ kind: 'nop' } as TcpOption),
  fc.integer({ min: 0, max: 0xffff }).map((value) => ({ kind: 'mss', value }) as TcpOption),
  fc.integer({ min: 0, max: 255 }).map((shift) => ({ kind: 'wscale', shift }) as TcpOption),
  fc.constant({ kind: 'sackPermitted' } as TcpOption),
  fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: 3 }).map((blocks) => ({ kind: 'sack', blocks }) as TcpOption),
  fc.tuple(u32, u32).map(([tsVal, tsEcr]) => ({ kind: 'timestamps', tsVal, tsEcr }) as TcpOption),
  fc.tuple(fc.integer({ min: 9, max: 255 }), fc.uint8Array({ maxLength: 6 })).map(([code, data]) => ({ kind: 'unknown', code, data }) as TcpOption),
);
const reprArb: fc.Arbitrary<TcpRepr> = fc.record({
  srcPort: fc.integer({ min: 0, max: 0xffff }),
  dstPort: fc.integer({ min: 0, max: 0xffff }),
  seq: u32,
  ack: u32,
  flags: fc.integer({ min: 0, max: 0x1ff }),
  window: fc.integer({ min: 0, max: 0xffff }),
  urgentPointer: fc.integer({ min: 0, max: 0xffff }),
  options: fc.array(optionArb, { maxLength: 6 }).filter((os) => {
    let n = 0;
    for (const o of os) n += o.kind === 'nop' ? 1 : o.kind === 'sack' ? 2 + 8 * o.blocks.length : o.kind === 'unknown' ? 2 + o.data.length : o.kind === 'mss' ? 4 : o.kind === 'wscale' ? 3 : o.kind === 'timestamps' ? 10 : 2;
    return n <= 40;
  }),
  payload: fc.uint8Array({ maxLength: 64 }),
});

test('tcp: emit → parse → emit is byte-exact and parse recovers every field', () => {
  fc.assert(
    fc.property(reprArb, (repr) => {
      const b = new Uint8Array(tcpReprLength(repr));
      emitTcp(repr, b, 0, PH);
      const r = parseTcp(b, 0, b.length, { pseudoHeader: PH });
      assert.ok(!isParseError(r), String(r));
      for (const k of ['srcPort', 'dstPort', 'seq', 'ack', 'flags', 'window', 'urgentPointer'] as const) assert.equal(r[k], repr[k]);
      // Emit pads a list that does not fill 4-byte words with EOL bytes; the rest is identical.
      assert.deepEqual(r.options.slice(0, repr.options.length), repr.options);
      assert.deepEqual(r.payload, repr.payload);
      const again = new Uint8Array(tcpReprLength(r));
      emitTcp(r, again);
      assert.deepEqual(again, b);
      // The allocation-free reader agrees with the Repr.
      const s = new TcpOptionsScratch();
      assert.equal(new TcpPacket(b).readOptions(s), 0);
      const ts = r.options.find((o) => o.kind === 'timestamps');
      assert.equal(s.hasTimestamps, ts !== undefined);
    }),
    { numRuns: fuzzRuns(3000) },
  );
});

test('tcp: parse and readOptions never throw on arbitrary bytes', () => {
  const s = new TcpOptionsScratch();
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ minLength: 0, maxLength: 44 }).map((t) => Uint8Array.from([...SYN.subarray(0, 12), 0xf0, 0x12, 0, 0, 0, 0, 0, 0, ...t])),
      ),
      (b) => {
        parseTcp(b, 0, b.length, { pseudoHeader: PH });
        const v = new TcpPacket(b);
        if (v.check() === 0) v.readOptions(s);
      },
    ),
    { numRuns: fuzzRuns(100_000) },
  );
});

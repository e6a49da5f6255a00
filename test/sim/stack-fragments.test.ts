import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import type { LinkParams } from '../../src/link/sim/network.js';
import { Ipv4Reassembler } from '../../src/stack/reassembly.js';
import { ANY } from '../../src/stack/udp.js';
import { ipv4 } from '../../src/wire/address.js';
import { Ipv4Packet, emitIpv4 } from '../../src/wire/ipv4.js';
import { emitIcmpv4 } from '../../src/wire/icmpv4.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { simTest } from '../support/sim.js';
import { twoStacks } from '../support/stacks.js';

const A = ipv4('198.18.0.1');
const B = ipv4('198.18.0.2');

function pair(seed: number, params: Partial<LinkParams> = {}) {
  const t = twoStacks(seed, params);
  const ipFrames: Ipv4Packet[] = [];
  t.sim.capture({ write: (f) => { if (f[12] === 0x08 && f[13] === 0x00) ipFrames.push(new Ipv4Packet(f.slice(), 14)); } });
  return { ...t, ipFrames };
}

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 0xff);
}

simTest('fragments: a 4000-byte datagram leaves in three RFC 791 fragments and arrives whole', (_t, seed) => {
  const { a, b, settle, ipFrames } = pair(seed);
  const server = b.udpSocket();
  server.bind(ANY, 4000);
  const data = pattern(4000, 1);
  a.udpSocket().sendTo(data, B, 4000);
  settle();
  assert.deepEqual(ipFrames.map((p) => [p.fragmentOffsetBytes, p.totalLength, p.moreFragments, p.dontFragment]), [
    [0, 1500, true, false],
    [1480, 1500, true, false],
    [2960, 20 + 4008 - 2960, false, false],
  ]);
  assert.deepEqual(server.recv()?.data, data);
  assert.equal(b.reassembly.counters.reassembled, 1);
  assert.equal(b.reassembly.pendingDatagrams, 0);
});

simTest('fragments: reassembly survives reordering and duplication', (_t, seed) => {
  const { a, b, settle, link } = pair(seed);
  const server = b.udpSocket();
  server.bind(ANY, 4000);
  server.rcvbuf = 1 << 20;
  const c = a.udpSocket();
  c.sendTo(Uint8Array.of(0), B, 4000); // resolve ARP first
  settle();
  server.recv();
  link.set('ab', { reorder: 0.3, reorderDelayUs: 300, duplicate: 0.2, jitterUs: 50 });
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 30; i++) {
    const d = pattern(1600 + ((i * 977) % 9000), i); // all need fragmenting
    sent.push(d);
    c.sendTo(d, B, 4000);
  }
  settle(1_000_000);
  const got: Uint8Array[] = [];
  for (let d = server.recv(); d; d = server.recv()) got.push(d.data);
  const key = (x: Uint8Array) => createHash('sha256').update(x).digest('hex');
  const sentKeys = new Set(sent.map(key));
  const gotKeys = got.map(key);
  // The network duplicates frames, so a datagram may legitimately arrive twice; never corrupted.
  assert.ok(gotKeys.every((k) => sentKeys.has(k)), 'every delivered datagram is one that was sent, intact');
  assert.equal(new Set(gotKeys).size, sent.length, 'every datagram arrived');
  assert.ok(b.reassembly.counters.duplicates > 0);
});

simTest('fragments: lost fragments time out after 30 s, with ICMP time exceeded when the first arrived', (_t, seed) => {
  const { a, b, settle, link } = pair(seed);
  const server = b.udpSocket();
  server.bind(ANY, 4000);
  server.rcvbuf = 1 << 20;
  const c = a.udpSocket();
  c.sendTo(Uint8Array.of(0), B, 4000);
  settle();
  server.recv();
  link.set('ab', { loss: 0.25 });
  for (let i = 0; i < 40; i++) c.sendTo(pattern(5000, i), B, 4000);
  settle(1_000_000);
  link.set('ab', { loss: 0 });
  let delivered = 0;
  for (let d = server.recv(); d; d = server.recv()) {
    assert.equal(d.data.length, 5000);
    delivered++;
  }
  const pending = b.reassembly.pendingDatagrams;
  assert.ok(pending > 0 && delivered > 0, `delivered ${delivered}, pending ${pending}`);
  settle(28_000_000);
  assert.equal(b.reassembly.pendingDatagrams, pending, 'still waiting before 30 s');
  settle(2_000_000);
  assert.equal(b.reassembly.pendingDatagrams, 0);
  assert.equal(b.reassembly.counters.timeouts, pending);
  assert.ok(b.icmpTimeExceededOut > 0 && b.icmpTimeExceededOut <= pending);
  assert.equal(b.reassembly.pendingBytes, 0);
});

simTest('fragments: a 3000-byte ping is answered in fragments and reassembled by the sender', (_t, seed) => {
  const { a, settle } = pair(seed);
  const data = pattern(3000, 9);
  a.ping(B, 5, 1, data, 0);
  settle();
  assert.equal(a.echoReplies.length, 1);
  assert.deepEqual(a.echoReplies[0]!.data, data);
});

function frag(r: Ipv4Reassembler, id: number, offset: number, more: boolean, data: Uint8Array, now = 0) {
  const header = new Uint8Array(20);
  header[0] = 0x45;
  return r.add(A, B, 17, id, offset, more, data, header, now);
}

test('reassembly: overlaps discard the datagram (RFC 5722 rule), exact duplicates are ignored', () => {
  const r = new Ipv4Reassembler();
  assert.equal(frag(r, 1, 0, true, new Uint8Array(16)), null);
  assert.equal(frag(r, 1, 0, true, new Uint8Array(16)), null);
  assert.equal(r.counters.duplicates, 1);
  assert.equal(frag(r, 1, 8, true, new Uint8Array(16)), null); // overlaps [0,16)
  assert.equal(r.counters.overlaps, 1);
  assert.equal(r.pendingDatagrams, 0);
  assert.equal(frag(r, 1, 16, false, new Uint8Array(4)), null, 'the rest alone does not complete it');
  // A clean datagram completes, with the header rewritten.
  const whole = (frag(r, 2, 8, false, Uint8Array.of(9, 9)), frag(r, 2, 0, true, new Uint8Array(8).fill(1)));
  assert.ok(whole);
  assert.equal(whole.length, 30);
  const ip = new Ipv4Packet(whole);
  assert.equal(ip.totalLength, 30);
  assert.equal(ip.isFragment, false);
  assert.ok(ip.verifyChecksum());
  assert.deepEqual([...whole.subarray(20)], [1, 1, 1, 1, 1, 1, 1, 1, 9, 9]);
});

test('reassembly: malformed fragments are counted; memory stays under its bound by evicting the oldest', () => {
  const r = new Ipv4Reassembler({ maxBytes: 10_000 });
  frag(r, 1, 0, true, new Uint8Array(7)); // not a multiple of 8
  frag(r, 1, 65528, false, new Uint8Array(16)); // past 65535
  assert.equal(r.counters.malformed, 2);
  for (let id = 10; id < 30; id++) frag(r, id, 0, true, new Uint8Array(1000));
  assert.ok(r.pendingBytes <= 10_000);
  assert.equal(r.counters.evicted, 10);
  assert.equal(r.pendingDatagrams, 10);
  // Different ends announced for one datagram: corrupt, discarded.
  frag(r, 99, 0, true, new Uint8Array(8));
  frag(r, 99, 8, false, new Uint8Array(8));
  assert.ok(r.counters.reassembled === 1);
  frag(r, 98, 16, false, new Uint8Array(8));
  frag(r, 98, 40, false, new Uint8Array(8));
  assert.equal(r.counters.overlaps, 1);
});

/** An ICMP fragmentation-needed frame from B to A quoting a packet A sent to `quotedDst`. */
function fragNeeded(mtu: number, quotedSrc: number, quotedDst: number): Uint8Array {
  const quoted = new Uint8Array(28);
  emitIpv4({ tos: 0, identification: 1, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 17, src: quotedSrc, dst: quotedDst, options: new Uint8Array(0), payload: new Uint8Array(8) }, quoted);
  const icmp = new Uint8Array(8 + quoted.length);
  emitIcmpv4({ kind: 'destinationUnreachable', code: 4, unused: 0, nextHopMtu: mtu, original: quoted }, icmp);
  const ip = new Uint8Array(20 + icmp.length);
  emitIpv4({ tos: 0, identification: 2, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 1, src: B, dst: A, options: new Uint8Array(0), payload: icmp }, ip);
  const f = new Uint8Array(14 + ip.length);
  emitEthernet({ dst: Uint8Array.of(2, 0, 0, 0, 0, 1), src: Uint8Array.of(2, 0, 0, 0, 0, 2), vlans: [], etherType: EtherType.IPv4, payload: ip }, f);
  return f;
}

simTest('PMTU: fragmentation needed lowers the path MTU (RFC 1191), clamped to 552, forgotten after 600 s', (_t, seed) => {
  const { sim, a, b, settle, ipFrames } = pair(seed);
  const server = b.udpSocket();
  server.bind(ANY, 4000);
  const c = a.udpSocket();
  const sizes = () => ipFrames.splice(0).filter((p) => p.src === A && p.protocol === 17).map((p) => p.totalLength);
  c.sendTo(pattern(3000, 1), B, 4000);
  settle();
  assert.deepEqual(sizes(), [1500, 1500, 68]); // 3008 bytes of UDP: 1480 + 1480 + 48
  a.receive(fragNeeded(1000, A, B), sim.now);
  assert.equal(a.mtuFor(B), 1000);
  c.sendTo(pattern(3000, 2), B, 4000);
  settle();
  assert.deepEqual(sizes(), [996, 996, 996, 100]); // 976-byte pieces: (1000 − 20) rounded down to 8
  assert.equal(server.recv()?.data.length, 3000);
  assert.deepEqual(server.recv()?.data, pattern(3000, 2));
  a.receive(fragNeeded(300, A, B), sim.now);
  assert.equal(a.mtuFor(B), 552, 'net.ipv4.route.min_pmtu');
  a.receive(fragNeeded(700, ipv4('198.18.0.77'), B), sim.now);
  assert.equal(a.mtuFor(B), 552, 'a quoted packet that is not ours is ignored');
  settle(599_000_000);
  assert.equal(a.mtuFor(B, sim.now), 552);
  settle(1_000_000);
  assert.equal(a.mtuFor(B, sim.now), 1500, 'mtu_expires');
});

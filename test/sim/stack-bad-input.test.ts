// Bad input to the engine (issue 4's proof): truncated frames, wrong checksums, TTL or hop
// limit 0, martian and spoofed sources, oversized reassembly, and random mutations of valid
// IPv4/IPv6/ARP/ICMP/UDP/NDP/MLD frames are dropped and counted, never thrown. Plus IPv6
// multicast loopback between two sockets of one stack (KI-05, KI-07 for IPv6).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Stack } from '../../src/stack/stack.js';
import { SeededRng } from '../../src/rng.js';
import { ipv4, ipv6 } from '../../src/wire/address.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { emitIpv4, IpProtocol } from '../../src/wire/ipv4.js';
import { emitIpv6, ipv6ReprLength, type Ipv6Repr } from '../../src/wire/ipv6.js';
import { emitUdp } from '../../src/wire/udp.js';
import { emitIcmpv6, icmpv6ReprLength, type Icmpv6Repr } from '../../src/wire/icmpv6.js';
import { fuzzRuns } from '../support/fuzz.js';
import { simTest } from '../support/sim.js';
import { lanOfStacks } from '../support/stacks.js';

const MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);
const PEER_MAC = Uint8Array.of(2, 0, 0, 0, 0, 9);
const A = ipv4('198.18.0.1');
const P = ipv4('198.18.0.9');
const A6 = ipv6('2001:db8::1');
const P6 = ipv6('2001:db8::9');

function victim(): { s: Stack; sent: Uint8Array[] } {
  const s = new Stack({ mac: MAC, rng: new SeededRng(7) });
  const sent: Uint8Array[] = [];
  s.attach({ mtu: 1500, transmit: (f) => sent.push(f.slice()) });
  s.addAddress(A, 24);
  s.addAddress(A6, 64, undefined, { dad: false });
  s.poll(0);
  const u4 = s.udpSocket();
  u4.bind(0, 5000);
  const u6 = s.udpSocket(6);
  u6.bind(new Uint8Array(16), 5001);
  return { s, sent };
}

function frame(etherType: number, payload: Uint8Array, dst = MAC): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  emitEthernet({ dst, src: PEER_MAC, vlans: [], etherType, payload }, f);
  return f;
}

function udp4(src = P, dst = A, ttl = 64, dstPort = 5000): Uint8Array {
  const seg = new Uint8Array(8 + 4);
  emitUdp({ srcPort: 9, dstPort, payload: Uint8Array.of(1, 2, 3, 4) }, seg, 0, { version: 4, src, dst });
  const ip = new Uint8Array(20 + seg.length);
  emitIpv4({ tos: 0, identification: 1, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl, protocol: IpProtocol.UDP, src, dst, options: new Uint8Array(0), payload: seg }, ip);
  return frame(EtherType.IPv4, ip);
}

function ip6(src: Uint8Array, dst: Uint8Array, upperProtocol: number, payload: Uint8Array, hopLimit = 64): Uint8Array {
  const repr: Ipv6Repr = { trafficClass: 0, flowLabel: 0, hopLimit, src, dst, extensionHeaders: [], upperProtocol, payload };
  const b = new Uint8Array(ipv6ReprLength(repr));
  emitIpv6(repr, b);
  return frame(EtherType.IPv6, b);
}

function udp6(src = P6, dst = A6, hopLimit = 64): Uint8Array {
  const seg = new Uint8Array(12);
  emitUdp({ srcPort: 9, dstPort: 5001, payload: Uint8Array.of(1, 2, 3, 4) }, seg, 0, { version: 6, src, dst });
  return ip6(src, dst, IpProtocol.UDP, seg, hopLimit);
}

function icmp6(repr: Icmpv6Repr, src = P6, dst = A6, hopLimit = 255): Uint8Array {
  const b = new Uint8Array(icmpv6ReprLength(repr));
  emitIcmpv6(repr, b, 0, { version: 6, src, dst });
  return ip6(src, dst, 58, b, hopLimit);
}

function totalDrops(s: Stack): number {
  const c = s.counters;
  return c.droppedMalformed + c.droppedNotForUs + c.droppedMartian + c.droppedTtl + c.udpBadChecksum + c.icmp6BadChecksum + c.icmpBadChecksum;
}

test('bad input: each kind of bad frame is dropped and counted under its reason', () => {
  const { s } = victim();
  const eth0 = s.primary.counters;
  const cases: Array<[string, Uint8Array, () => number]> = [
    ['truncated Ethernet', new Uint8Array(10), () => eth0.dropMalformed],
    ['truncated IPv4', udp4().subarray(0, 24), () => eth0.dropMalformed],
    ['IPv4 header checksum', (() => { const f = udp4(); f[14 + 10]! ^= 0xff; return f; })(), () => eth0.dropChecksum],
    ['UDP checksum', (() => { const f = udp4(); f[f.length - 1]! ^= 0xff; return f; })(), () => eth0.dropChecksum],
    ['multicast source', udp4(ipv4('224.0.0.5')), () => eth0.dropMartian],
    ['limited-broadcast source', udp4(-1), () => eth0.dropMartian],
    ['loopback source from the wire', udp4(ipv4('127.0.0.1')), () => eth0.dropMartian],
    ['our own address as source (spoofed)', udp4(A), () => eth0.dropMartian],
    ['not our address', udp4(P, ipv4('198.18.0.77')), () => eth0.dropNotForUs],
    ['truncated IPv6', udp6().subarray(0, 40), () => eth0.dropMalformed],
    ['IPv6 multicast source', udp6(ipv6('ff02::1')), () => eth0.dropMartian],
    ['::1 from the wire', udp6(ipv6('::1')), () => eth0.dropMartian],
    ['v4-mapped source', udp6(ipv6('::ffff:198.18.0.9')), () => eth0.dropMartian],
    ['UDP/IPv6 checksum', (() => { const f = udp6(); f[f.length - 1]! ^= 0xff; return f; })(), () => eth0.dropChecksum],
    ['UDP/IPv6 zero checksum (RFC 8200 §8.1)', (() => { const f = udp6(); f[14 + 40 + 6] = 0; f[14 + 40 + 7] = 0; return f; })(), () => eth0.dropChecksum],
    ['NS with hop limit 64 (RFC 4861 §7.1.1)', icmp6({ kind: 'neighborSolicitation', code: 0, reserved: 0, target: A6, options: [] }, P6, A6, 64), () => eth0.dropMalformed],
    ['unknown EtherType', frame(0x88b5, new Uint8Array(46)), () => eth0.dropNotForUs],
  ];
  for (const [what, f, counter] of cases) {
    const before = counter();
    const udpIn = s.counters.udpIn;
    assert.doesNotThrow(() => s.receive(f, 1000), what);
    assert.equal(counter(), before + 1, `${what}: counted once under its reason`);
    assert.equal(s.counters.udpIn, udpIn, `${what}: nothing delivered`);
  }
  // The good frames themselves are delivered.
  s.receive(udp4(), 2000);
  s.receive(udp6(), 2000);
  assert.equal(s.counters.udpIn, 2);
  // TTL 0 / hop limit 0 to us is not a reason to drop (RFC 1122 §3.2.1.7, RFC 8200 §3; Linux).
  s.receive(udp4(P, A, 0), 3000);
  s.receive(udp6(P6, A6, 0), 3000);
  assert.equal(s.counters.udpIn, 4);
  assert.equal(eth0.dropTtl, 0);
});

test('bad input: oversized IPv4 reassembly is dropped, counted, and memory stays bounded', () => {
  const s = new Stack({ mac: MAC, rng: new SeededRng(8), ipv6: false, reassembly: { maxBytes: 64 * 1024 } });
  s.attach({ mtu: 1500, transmit: () => {} });
  s.addAddress(A, 24);
  // Fragments claiming offsets that sum past 65535 bytes (RFC 791: the limit).
  for (let id = 0; id < 50; id++) {
    for (let off = 0; off < 65536; off += 8 * 185) {
      const data = new Uint8Array(off + 1480 > 65535 ? 8 : 1480);
      const ip = new Uint8Array(20 + data.length);
      emitIpv4({ tos: 0, identification: id, dontFragment: false, moreFragments: true, fragmentOffset: off / 8, ttl: 64, protocol: IpProtocol.UDP, src: P, dst: A, options: new Uint8Array(0), payload: data }, ip);
      assert.doesNotThrow(() => s.receive(frame(EtherType.IPv4, ip), 1000 + id));
    }
  }
  assert.ok(s.reassembly.pendingBytes <= 64 * 1024, `reassembly memory ${s.reassembly.pendingBytes} within its bound`);
  assert.ok(s.reassembly.counters.evicted + s.reassembly.counters.malformed > 0, 'evictions or malformed fragments counted');
  assert.ok(s.primary.counters.dropReassembly > 0, 'the interface counts them');
  assert.equal(s.counters.udpIn, 0);
});

test('bad input: random mutations of valid frames never throw, and every frame is accounted for', () => {
  const base = [
    udp4(), udp6(), udp4(P, A, 64, 9999), udp6(P6, ipv6('ff02::1')),
    icmp6({ kind: 'echoRequest', code: 0, identifier: 1, sequence: 1, data: new Uint8Array(8) }, P6, A6, 64),
    icmp6({ kind: 'neighborSolicitation', code: 0, reserved: 0, target: A6, options: [{ kind: 'sourceLinkLayerAddress', address: PEER_MAC }] }, P6, ipv6('ff02::1:ff00:1')),
    icmp6({ kind: 'routerAdvertisement', code: 0, curHopLimit: 64, flags: 0, routerLifetime: 1800, reachableTime: 0, retransTimer: 0, options: [{ kind: 'mtu', reserved: 0, mtu: 1400 }] }, ipv6('fe80::9'), ipv6('ff02::1')),
    icmp6({ kind: 'mldV2Query', code: 0, maxResponseCode: 1000, reserved: 0, group: new Uint8Array(16), reserved2: 0, suppressRouterProcessing: false, qrv: 2, qqic: 125, sources: [], extra: new Uint8Array(0) }, ipv6('fe80::9'), ipv6('ff02::1'), 1),
    frame(EtherType.ARP, Uint8Array.of(0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 9, 198, 18, 0, 9, 0, 0, 0, 0, 0, 0, 198, 18, 0, 1), Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)),
  ];
  const { s } = victim();
  fc.assert(fc.property(
    fc.integer({ min: 0, max: base.length - 1 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
    fc.nat(),
    (which, flips, cut) => {
      const f = base[which]!.slice();
      for (const [pos, v] of flips) f[14 + (pos % (f.length - 14))] = v;
      const g = cut % 4 === 0 ? f.subarray(0, 14 + (cut % (f.length - 13))) : f;
      s.receive(g, 5000);
      s.poll(6000);
    },
  ), { numRuns: fuzzRuns(5000), seed: 42 });
  assert.equal(s.counters.framesIn, fuzzRuns(5000));
  assert.ok(totalDrops(s) > 0);
});

simTest('KI-05 IPv6: two sockets of one stack on one group receive each other\'s datagrams; KI-07 loop off stops the local copy', (_t, seed) => {
  const { hosts, settle } = lanOfStacks(seed, 2, {}, { ipv6: true });
  settle(3_000_000); // link-local addresses through DAD
  const G = ipv6('ff1e::1234');
  const s = hosts[0]!.s;
  const x = s.udpSocket(6);
  x.bind(new Uint8Array(16), 7000);
  x.addMembership(G);
  const y = s.udpSocket(6);
  y.bind(new Uint8Array(16), 7001);
  y.addMembership(G);
  const remote = hosts[1]!.s.udpSocket(6);
  remote.bind(new Uint8Array(16), 7000);
  remote.addMembership(G);
  settle();
  x.sendTo(Uint8Array.of(1), G, 7001);
  y.sendTo(Uint8Array.of(2), G, 7000);
  y.multicastLoop = false;
  y.sendTo(Uint8Array.of(3), G, 7000);
  settle();
  const drain = (u: typeof x) => {
    const out: number[] = [];
    for (let d = u.recv(); d !== null; d = u.recv()) out.push(d.data[0]!);
    return out;
  };
  assert.deepEqual(drain(y), [1]);
  assert.deepEqual(drain(x), [2], 'IPV6_MULTICAST_LOOP off: no local copy of 3');
  assert.deepEqual(drain(remote), [2, 3], 'the remote member receives both');
});

// Interfaces on the simulator: a stack with two Ethernet interfaces on two subnets,
// several addresses on one interface, address removal, loopback, and source-specific
// multicast (IGMPv3, MLDv2) with source filters.

import assert from 'node:assert/strict';
import { SimNetwork, type SimNic } from '../../src/link/sim/network.js';
import { Stack } from '../../src/stack/stack.js';
import { ANY } from '../../src/stack/udp.js';
import { IPV6_ANY, IPV6_LOOPBACK } from '../../src/stack/ipv6-address.js';
import { ipv4, ipv6, formatIpv6 } from '../../src/wire/address.js';
import { dissectFrame } from '../../src/wire/dissect.js';
import { IgmpRecordType } from '../../src/wire/igmp.js';
import { MldRecordType } from '../../src/wire/mld.js';
import { simTest } from '../support/sim.js';
import { lanOfStacks, twoStacks } from '../support/stacks.js';
import { errnoOf } from '../support/ipv6.js';

const A = ipv4('198.18.0.1');
const B = ipv4('198.18.0.2');
const bytes = (d: { data: Uint8Array } | null) => (d === null ? null : [...d.data]);

/**
 * A router-less host `x` with eth0 on 198.18.0.0/24 (peer p0 = .0.2) and eth1 on
 * 198.18.1.0/24 (peer p1 = .1.2), each interface its own simulator host, so frames arrive
 * on the interface they were sent to.
 */
function multihomed(seed: number) {
  const sim = new SimNetwork(seed);
  const nics: SimNic[] = [];
  const x = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 1, 1), rng: sim.rng.fork('x'), ipv6: false });
  const eth1 = x.addInterface({ name: 'eth1', mac: Uint8Array.of(2, 0, 0, 0, 1, 2) });
  const eth0 = x.primary;
  x.addAddress(ipv4('198.18.0.1'), 24, eth0);
  x.addAddress(ipv4('198.18.1.1'), 24, 'eth1');
  const peer = (name: string, last: number, addr: string) => {
    const p = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 2, last), rng: sim.rng.fork(name), ipv6: false });
    p.addAddress(ipv4(addr), 24);
    const nic = sim.addHost(name, p);
    p.attach({ mtu: 1500, transmit: (f) => nic.transmit(f) });
    nics.push(nic);
    return { p, nic };
  };
  const p0 = peer('p0', 1, '198.18.0.2');
  const p1 = peer('p1', 2, '198.18.1.2');
  for (const [iface, p] of [[eth0, p0], [eth1, p1]] as const) {
    const nic = sim.addHost(`x-${iface.name}`, iface);
    iface.attach({ mtu: 1500, transmit: (f) => nic.transmit(f) });
    sim.connect(nic, p.nic, { delayUs: 20 });
    nics.push(nic);
  }
  const settle = (us = 100_000) => {
    for (const n of nics) n.wake();
    sim.runUntil(sim.now + us);
    for (const n of nics) n.wake();
  };
  return { sim, x, eth0, eth1, p0: p0.p, p1: p1.p, settle };
}

simTest('interfaces: a stack with two Ethernet interfaces talks to a peer on each subnet', (_t, seed) => {
  const { x, eth0, eth1, p0, p1, settle } = multihomed(seed);
  assert.equal(eth0.index, 2);
  assert.equal(eth1.index, 3);
  assert.deepEqual(x.route(ipv4('198.18.1.2')), { nextHop: ipv4('198.18.1.2'), src: ipv4('198.18.1.1'), ifindex: 3 });
  const s = x.udpSocket();
  s.bind(ANY, 4000);
  const r0 = p0.udpSocket();
  r0.bind(ANY, 5000);
  const r1 = p1.udpSocket();
  r1.bind(ANY, 5000);
  s.sendTo(Uint8Array.of(0), ipv4('198.18.0.2'), 5000);
  s.sendTo(Uint8Array.of(1), ipv4('198.18.1.2'), 5000);
  settle();
  const g0 = r0.recv()!, g1 = r1.recv()!;
  assert.deepEqual([...g0.data], [0]);
  assert.equal(g0.address, ipv4('198.18.0.1'), 'source of the eth0 subnet');
  assert.deepEqual([...g1.data], [1]);
  assert.equal(g1.address, ipv4('198.18.1.1'), 'source of the eth1 subnet');
  assert.equal(r0.recv(), null);
  assert.equal(r1.recv(), null);
  r0.sendTo(Uint8Array.of(10), g0.address, g0.port);
  r1.sendTo(Uint8Array.of(11), g1.address, g1.port);
  settle();
  const back = [s.recv()!, s.recv()!];
  assert.deepEqual(back.map((d) => d.data[0]).sort(), [10, 11]);
  assert.equal(s.recv(), null);
  // Each peer's ARP traffic stayed on its own link: eth0 learned only p0, eth1 only p1.
  assert.deepEqual([...eth0.arp.entries.keys()], [ipv4('198.18.0.2')]);
  assert.deepEqual([...eth1.arp.entries.keys()], [ipv4('198.18.1.2')]);
  // Per-interface counters add up to the stack's.
  const sum = (k: 'rxFrames' | 'txFrames' | 'rxBytes' | 'txBytes') => x.interfaces.reduce((n, i) => n + i.counters[k], 0);
  assert.ok(eth0.counters.rxFrames > 0 && eth1.counters.rxFrames > 0);
  assert.ok(eth0.counters.txFrames > 0 && eth1.counters.txFrames > 0);
  assert.equal(sum('rxFrames'), x.counters.framesIn);
  assert.equal(sum('txFrames'), x.counters.framesOut);
  assert.equal(sum('rxBytes'), x.counters.bytesIn);
  assert.equal(sum('txBytes'), x.counters.bytesOut);
  assert.equal(x.lo.counters.txFrames, 0, 'nothing went through lo');
});

simTest('interfaces: several IPv4 addresses on one interface each answer ARP and ping (KI-03)', (_t, seed) => {
  const { a, b, sim, settle } = twoStacks(seed);
  const extra = [ipv4('198.18.0.20'), ipv4('198.18.0.21')];
  for (const ip of extra) b.addAddress(ip, 24);
  settle();
  for (const [k, ip] of [B, ...extra].entries()) assert.ok(a.ping(ip, 77, k, Uint8Array.of(k), sim.now));
  settle();
  assert.deepEqual(a.echoReplies.map((r) => r.from).sort(), [B, ...extra].sort());
  for (const ip of [B, ...extra]) assert.deepEqual(a.arp.entries.get(ip)?.mac, b.mac, 'each address resolves to b');
  // A socket bound to a secondary address sends from it.
  const s = b.udpSocket();
  s.bind(extra[1]!, 6000);
  const r = a.udpSocket();
  r.bind(ANY, 6001);
  s.sendTo(Uint8Array.of(3), A, 6001);
  settle();
  assert.equal(r.recv()!.address, extra[1]);
});

simTest('interfaces: after removeAddress, datagrams to it are not for us and a socket bound to it gets EINVAL', (_t, seed) => {
  const { a, b, settle } = twoStacks(seed);
  const X = ipv4('198.18.0.20');
  b.addAddress(X, 24);
  const bound = b.udpSocket();
  bound.bind(X, 6000);
  const tx = a.udpSocket();
  tx.sendTo(Uint8Array.of(1), X, 6000);
  settle();
  assert.deepEqual(bytes(bound.recv()), [1]);
  assert.equal(b.removeAddress(X), true);
  assert.equal(b.removeAddress(X), false, 'already gone');
  const notForUs = b.primary.counters.dropNotForUs;
  tx.sendTo(Uint8Array.of(2), X, 6000); // a's ARP entry still points at b
  settle();
  assert.equal(bound.recv(), null);
  assert.equal(b.primary.counters.dropNotForUs, notForUs + 1);
  // Linux: the socket stays bound; ip_route_output refuses a source that is not ours (EINVAL).
  assert.equal(errnoOf(() => bound.sendTo(Uint8Array.of(3), A, 6001)), 'EINVAL');
  assert.equal(bound.localAddress, X);
});

simTest('interfaces: UDP to 127.0.0.1, ::1 and our own address stays on lo, off the wire', (_t, seed) => {
  const { a, sim, settle } = twoStacks(seed, {}, { ipv6: true });
  const A6 = ipv6('2001:db8::1');
  a.addAddress(A6, 64, a.primary, { dad: false });
  settle(2_100_000);
  let onWire = 0;
  // Other traffic (b's router solicitations) may go meanwhile; count datagrams only.
  sim.capture({ write: (f) => { if (dissectFrame(f).layers.some((l) => l.layer === 'udp')) onWire++; } }, 'transmit');
  const v4 = a.udpSocket(4);
  v4.bind(ANY, 7000);
  const v6 = a.udpSocket(6);
  v6.v6Only = true;
  v6.bind(IPV6_ANY, 7000);
  const tx4 = a.udpSocket(4);
  const tx6 = a.udpSocket(6);
  const lo0 = a.lo.counters.rxFrames;
  tx4.sendTo(Uint8Array.of(1), ipv4('127.0.0.1'), 7000);
  tx4.sendTo(Uint8Array.of(2), A, 7000);
  tx6.sendTo(Uint8Array.of(3), IPV6_LOOPBACK, 7000);
  tx6.sendTo(Uint8Array.of(4), A6, 7000);
  settle();
  const d1 = v4.recv()!, d2 = v4.recv()!;
  assert.deepEqual([d1.data[0], d1.address], [1, ipv4('127.0.0.1')]);
  assert.deepEqual([d2.data[0], d2.address], [2, A], 'from our own address');
  const d3 = v6.recv()!, d4 = v6.recv()!;
  assert.deepEqual([d3.data[0], formatIpv6(d3.address as Uint8Array)], [3, '::1']);
  assert.deepEqual([d4.data[0], formatIpv6(d4.address as Uint8Array)], [4, '2001:db8::1']);
  assert.equal(onWire, 0, 'no datagram reached the wire');
  assert.equal(a.lo.counters.rxFrames - lo0, 4);
});

// ---------------------------------------------------------------------------------------
// Source-specific multicast (RFC 4607; IGMPv3 RFC 3376, MLDv2 RFC 3810)

/** A LAN of three stacks whose every transmitted frame is kept. */
function ssmLan(seed: number, ipv6On: boolean) {
  const t = lanOfStacks(seed, 3, {}, { ipv6: ipv6On });
  const sent: Uint8Array[] = [];
  t.sim.capture({ write: (f) => sent.push(f.slice()) }, 'transmit');
  return { ...t, sent };
}

simTest('multicast SSM (IPv4): a source membership admits that source only; the IGMPv3 report names it', (_t, seed) => {
  const { hosts, settle, sent } = ssmLan(seed, false);
  const [h1, h2, h3] = hosts.map((h) => h.s);
  const G = ipv4('232.1.1.1'), S2 = ipv4('198.18.0.2');
  const rx = h1!.udpSocket();
  rx.bind(ANY, 7000);
  rx.addSourceMembership(G, S2);
  settle();
  // RFC 3376 §5.1: joining in INCLUDE mode with one source is an ALLOW (or TO_IN) record with it.
  const records = sent.flatMap((f) => dissectFrame(f).layers).flatMap((l) => (l.layer === 'igmp' && l.repr.kind === 'reportV3' ? l.repr.records : []));
  const rec = records.find((r) => r.group === G);
  assert.ok(rec, 'an IGMPv3 report for the group');
  assert.ok(rec.recordType === IgmpRecordType.AllowNewSources || rec.recordType === IgmpRecordType.ChangeToInclude, `record type ${rec.recordType}`);
  assert.deepEqual(rec.sources, [S2]);
  h2!.udpSocket().sendTo(Uint8Array.of(2), G, 7000);
  h3!.udpSocket().sendTo(Uint8Array.of(3), G, 7000);
  settle();
  assert.deepEqual(bytes(rx.recv()), [2]);
  assert.equal(rx.recv(), null, 'the other source is filtered');
  assert.equal(h1!.primary.counters.dropSourceFiltered, 1);
});

simTest('multicast (IPv4): blockSource on an any-source membership stops that source only', (_t, seed) => {
  const { hosts, settle, sent } = ssmLan(seed, false);
  const [h1, h2, h3] = hosts.map((h) => h.s);
  const G = ipv4('239.1.1.1'), S3 = ipv4('198.18.0.3');
  const rx = h1!.udpSocket();
  rx.bind(ANY, 7000);
  rx.addMembership(G);
  settle();
  sent.length = 0;
  rx.blockSource(G, S3);
  settle();
  // RFC 3376 §5.1: EXCLUDE({}) → EXCLUDE({S3}) is a BLOCK(S3) record.
  const records = sent.flatMap((f) => dissectFrame(f).layers).flatMap((l) => (l.layer === 'igmp' && l.repr.kind === 'reportV3' ? l.repr.records : []));
  const rec = records.find((r) => r.group === G);
  assert.ok(rec);
  assert.ok(rec.recordType === IgmpRecordType.BlockOldSources || rec.recordType === IgmpRecordType.ChangeToExclude, `record type ${rec.recordType}`);
  assert.deepEqual(rec.sources, [S3]);
  h2!.udpSocket().sendTo(Uint8Array.of(2), G, 7000);
  h3!.udpSocket().sendTo(Uint8Array.of(3), G, 7000);
  settle();
  assert.deepEqual(bytes(rx.recv()), [2]);
  assert.equal(rx.recv(), null);
  rx.unblockSource(G, S3);
  h3!.udpSocket().sendTo(Uint8Array.of(4), G, 7000);
  settle();
  assert.deepEqual(bytes(rx.recv()), [4], 'unblocked');
});

simTest('multicast SSM (IPv6): a source membership on ff3e::1234 admits that source only; MLDv2 names it', (_t, seed) => {
  const { hosts, settle, sent } = ssmLan(seed, true);
  const [h1, h2, h3] = hosts.map((h) => h.s);
  const addrs = [1, 2, 3].map((i) => ipv6(`2001:db8::${i}`));
  hosts.forEach((h, i) => h.s.addAddress(addrs[i]!, 64, h.s.primary, { dad: false }));
  settle(2_100_000);
  const G = ipv6('ff3e::1234');
  const rx = h1!.udpSocket(6);
  rx.bind(IPV6_ANY, 7000);
  sent.length = 0;
  rx.addSourceMembership(G, addrs[1]!);
  settle();
  const records = sent.flatMap((f) => dissectFrame(f).layers).flatMap((l) => (l.layer === 'icmpv6' && l.repr.kind === 'mldV2Report' ? l.repr.records : []));
  const rec = records.find((r) => formatIpv6(r.group) === 'ff3e::1234');
  assert.ok(rec, 'an MLDv2 report for the group');
  assert.ok(rec.recordType === MldRecordType.AllowNewSources || rec.recordType === MldRecordType.ChangeToInclude, `record type ${rec.recordType}`);
  assert.deepEqual(rec.sources.map(formatIpv6), ['2001:db8::2']);
  h2!.udpSocket(6).sendTo(Uint8Array.of(2), G, 7000);
  h3!.udpSocket(6).sendTo(Uint8Array.of(3), G, 7000);
  settle();
  const got = rx.recv()!;
  assert.deepEqual([...got.data], [2]);
  assert.equal(formatIpv6(got.address as Uint8Array), '2001:db8::2');
  assert.equal(rx.recv(), null, 'the other source is filtered');
  assert.equal(h1!.primary.counters.dropSourceFiltered, 1);
  // blockSource on an any-source IPv6 membership.
  const G2 = ipv6('ff3e::5678');
  const any = h1!.udpSocket(6);
  any.bind(IPV6_ANY, 7001);
  any.addMembership(G2);
  any.blockSource(G2, addrs[2]!);
  settle();
  h2!.udpSocket(6).sendTo(Uint8Array.of(5), G2, 7001);
  h3!.udpSocket(6).sendTo(Uint8Array.of(6), G2, 7001);
  settle();
  assert.deepEqual(bytes(any.recv()), [5]);
  assert.equal(any.recv(), null);
});

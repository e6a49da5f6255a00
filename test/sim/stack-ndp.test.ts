// Neighbour discovery on the simulator (RFC 4861, RFC 4862): duplicate address
// detection, NUD states, resolution under loss, router advertisements and SLAAC.

import assert from 'node:assert/strict';
import { ipv6, formatIpv6 } from '../../src/wire/address.js';
import { NeighborAdvertFlags } from '../../src/wire/icmpv6.js';
import type { NdpOption } from '../../src/wire/ndp.js';
import { dissectFrame } from '../../src/wire/dissect.js';
import { AddressState } from '../../src/stack/interface.js';
import { ALL_NODES, IPV6_ANY, ipv6Key, solicitedNode } from '../../src/stack/ipv6-address.js';
import { NudState } from '../../src/stack/neighbor-cache.js';
import { simTest } from '../support/sim.js';
import { twoStacks } from '../support/stacks.js';
import { errnoOf, icmpv6Frame, lanWithWire, linkLocalOf } from '../support/ipv6.js';

const A6 = ipv6('2001:db8::1');
const B6 = ipv6('2001:db8::2');
const DUP = ipv6('2001:db8::5');
const DAD_US = 2_100_000;

simTest('ndp: DAD collision: a second host configuring an address in use marks it duplicate', (_t, seed) => {
  const { a, b, settle } = twoStacks(seed, {}, { ipv6: true });
  a.addAddress(DUP, 64);
  settle(DAD_US);
  assert.equal(a.primary.findIpv6(DUP)!.state, AddressState.Preferred);
  b.addAddress(DUP, 64);
  settle(DAD_US);
  // RFC 4862 §5.4.3: a answers b's probe (an NS from ::) with an NA to all nodes; §5.4.4: b gives up.
  assert.equal(b.primary.findIpv6(DUP)!.state, AddressState.Duplicate);
  assert.equal(b.ip6.ndp.counters.dadFailures, 1);
  assert.equal(a.primary.findIpv6(DUP)!.state, AddressState.Preferred, 'the owner keeps it');
  assert.equal(b.sourceFor6(ipv6('2001:db8::99'), 0), null, 'a duplicate address is never a source');
  const s = b.udpSocket(6);
  assert.equal(errnoOf(() => s.bind(DUP, 5000)), 'EADDRNOTAVAIL');
});

simTest('ndp: a crafted NS from :: or an NA for a tentative address makes it duplicate (RFC 4862 §5.4.3, §5.4.4)', (_t, seed) => {
  const { hosts, wire, settle } = lanWithWire(seed, 1);
  const s = hosts[0]!.s;
  settle(10);
  const X = ipv6('2001:db8::7'), Y = ipv6('2001:db8::8');
  s.addAddress(X, 64);
  s.addAddress(Y, 64);
  assert.equal(s.primary.findIpv6(X)!.state, AddressState.Tentative);
  // Another node's DAD probe: from ::, to the solicited-node group, no source link-layer option.
  wire.send(icmpv6Frame(wire.mac, undefined, IPV6_ANY, solicitedNode(X), { kind: 'neighborSolicitation', code: 0, reserved: 0, target: X, options: [] }));
  // Another node already owning Y advertises it.
  wire.send(icmpv6Frame(wire.mac, undefined, linkLocalOf(wire.mac), ALL_NODES, {
    kind: 'neighborAdvertisement', code: 0, flags: NeighborAdvertFlags.Override >>> 0, target: Y,
    options: [{ kind: 'targetLinkLayerAddress', address: wire.mac }],
  }));
  settle(DAD_US);
  assert.equal(s.primary.findIpv6(X)!.state, AddressState.Duplicate);
  assert.equal(s.primary.findIpv6(Y)!.state, AddressState.Duplicate);
  assert.equal(s.ip6.ndp.counters.dadFailures, 2);
  // The link-local address, probed by nobody else, is fine.
  assert.equal(s.primary.linkLocal()?.state, AddressState.Preferred);
});

simTest('ndp: NUD goes REACHABLE → STALE → DELAY → PROBE → REACHABLE (RFC 4861 §7.3.3)', (_t, seed) => {
  const { a, b, settle } = twoStacks(seed, {}, { ipv6: true });
  a.addAddress(A6, 64);
  b.addAddress(B6, 64);
  settle(DAD_US);
  const server = b.udpSocket(6);
  server.bind(IPV6_ANY, 5000);
  const client = a.udpSocket(6);
  const key = ipv6Key(B6);
  const entry = () => a.primary.ndp.entries.get(key);
  client.sendTo(Uint8Array.of(1), B6, 5000);
  settle(100_000);
  assert.equal(entry()?.state, NudState.Reachable);
  // ReachableTime is uniform in [15 s, 45 s) (RFC 4861 §6.3.2, base 30 s).
  settle(46_000_000);
  assert.equal(entry()?.state, NudState.Stale);
  client.sendTo(Uint8Array.of(2), B6, 5000);
  assert.equal(entry()?.state, NudState.Delay, 'using a STALE entry sends at once and starts DELAY');
  const nsBefore = a.ip6.ndp.counters.nsOut;
  settle(5_100_000); // DELAY_FIRST_PROBE_TIME 5 s
  assert.ok(a.ip6.ndp.counters.nsOut > nsBefore, 'a unicast probe went out');
  // b answers the probe with a solicited NA: reachable again.
  assert.equal(entry()?.state, NudState.Reachable);
  assert.equal(server.queuedDatagrams, 2);
});

simTest('ndp: under 100% loss a neighbour goes PROBE then FAILED; only a socket with recvErr gets EHOSTUNREACH', (_t, seed) => {
  const { a, b, link, settle } = twoStacks(seed, {}, { ipv6: true });
  a.addAddress(A6, 64);
  b.addAddress(B6, 64);
  settle(DAD_US);
  const key = ipv6Key(B6);
  const entry = () => a.primary.ndp.entries.get(key);
  const client = a.udpSocket(6);
  client.sendTo(Uint8Array.of(1), B6, 5000);
  settle(100_000);
  assert.equal(entry()?.state, NudState.Reachable);
  link.set('both', { loss: 1 });
  settle(46_000_000);
  assert.equal(entry()?.state, NudState.Stale);
  client.sendTo(Uint8Array.of(2), B6, 5000);
  settle(5_100_000);
  assert.equal(entry()?.state, NudState.Probe);
  settle(3_100_000); // 3 unicast probes 1 s apart (ucast_solicit)
  assert.equal(entry(), undefined, 'FAILED: the entry is gone');
  // A fresh resolution: three multicast solicitations, then the queued datagrams are dropped.
  const quiet = a.udpSocket(6);
  const loud = a.udpSocket(6);
  loud.recvErr = true;
  quiet.sendTo(Uint8Array.of(3), B6, 5000);
  loud.sendTo(Uint8Array.of(4), B6, 5000);
  assert.equal(entry()?.state, NudState.Incomplete);
  const dropped = a.counters.droppedUnresolved;
  settle(3_100_000);
  assert.equal(entry(), undefined);
  assert.equal(a.counters.droppedUnresolved - dropped, 2);
  assert.ok(a.unreachable.some((x) => typeof x !== 'number' && formatIpv6(x) === '2001:db8::2'));
  // Linux: ndisc_error_report → ICMPv6 address unreachable, a soft error (icmpv6_err_convert),
  // so only IPV6_RECVERR sockets hear of it.
  assert.equal(errnoOf(() => loud.recv()), 'EHOSTUNREACH');
  assert.equal(errnoOf(() => quiet.recv()), undefined);
});

simTest('ndp: resolution succeeds under 30% loss with a bounded number of solicitations', (_t, seed) => {
  const { a, b, settle } = twoStacks(seed, { loss: 0.3 }, { ipv6: true });
  a.addAddress(A6, 64);
  b.addAddress(B6, 64);
  settle(DAD_US);
  // Under loss DAD may miss nothing (no other owner), so both addresses are preferred.
  assert.equal(a.primary.findIpv6(A6)!.state, AddressState.Preferred);
  const server = b.udpSocket(6);
  server.bind(IPV6_ANY, 5000);
  const client = a.udpSocket(6);
  const ns0 = a.ip6.ndp.counters.nsOut;
  let attempts = 0;
  while (server.queuedDatagrams === 0 && attempts < 20) {
    client.sendTo(Uint8Array.of(attempts), B6, 5000);
    attempts++;
    settle(3_500_000); // long enough for a whole INCOMPLETE phase to finish or fail
  }
  assert.ok(server.queuedDatagrams > 0, `delivered within ${attempts} attempts`);
  const ns = a.ip6.ndp.counters.nsOut - ns0;
  // At most mcast_solicit (3) per resolution attempt, plus unicast NUD probes (3).
  assert.ok(ns <= 3 * attempts + 3, `${ns} solicitations for ${attempts} attempts`);
  assert.notEqual(a.primary.ndp.entries.get(ipv6Key(B6)), undefined);
});

// ---------------------------------------------------------------------------------------
// Router advertisements (RFC 4861 §6.3.4) and SLAAC (RFC 4862 §5.5)

const PREFIX = ipv6('2001:db8:1::');

function ra(o: { lifetime: number; valid?: number; preferred?: number; mtu?: number }) {
  const options: NdpOption[] = [{ kind: 'sourceLinkLayerAddress', address: Uint8Array.of(2, 0, 0, 0, 0, 0xfe) }];
  if (o.mtu !== undefined) options.push({ kind: 'mtu', reserved: 0, mtu: o.mtu });
  if (o.valid !== undefined) {
    options.push({
      kind: 'prefixInformation', prefixLength: 64, onLink: true, autonomous: true, otherFlags: 0,
      validLifetime: o.valid, preferredLifetime: o.preferred ?? o.valid, reserved: 0, prefix: PREFIX,
    });
  }
  return { kind: 'routerAdvertisement' as const, code: 0, curHopLimit: 64, flags: 0, routerLifetime: o.lifetime, reachableTime: 0, retransTimer: 0, options };
}

function routerLan(seed: number) {
  const t = lanWithWire(seed, 1);
  const s = t.hosts[0]!.s;
  const router = linkLocalOf(t.wire.mac);
  const advertise = (o: Parameters<typeof ra>[0]) => t.wire.send(icmpv6Frame(t.wire.mac, undefined, router, ALL_NODES, ra(o)));
  const defaultRoute = () => s.routes6.routes.find((r) => r.prefixLength === 0 && r.origin === 'ra');
  return { ...t, s, router, advertise, defaultRoute };
}

simTest('ndp: a router advertisement gives a SLAAC address, a default route via the router, and the MTU', (_t, seed) => {
  const { s, wire, router, advertise, defaultRoute, settle } = routerLan(seed);
  settle(DAD_US + 1_000_000); // DAD, then up to MAX_RTR_SOLICITATION_DELAY (1 s)
  // The host solicited a router once its link-local address was ready (RFC 4861 §6.3.7).
  assert.ok(wire.layers().some((ls) => ls.some((l) => l.layer === 'icmpv6' && l.repr.kind === 'routerSolicitation')));
  advertise({ lifetime: 1800, valid: 3600, preferred: 1800, mtu: 1400 });
  settle(100);
  const slaac = s.primary.ipv6.find((a) => a.origin === 'slaac');
  assert.ok(slaac, 'an address was formed');
  assert.equal(formatIpv6(slaac.address), '2001:db8:1::ff:fe00:1', 'prefix + modified EUI-64');
  assert.equal(slaac.state, AddressState.Tentative);
  assert.equal(s.ip6.ndp.counters.raIn, 1);
  const r = defaultRoute();
  assert.ok(r, 'a default route');
  assert.deepEqual(r.gateway, router);
  assert.equal(r.ifindex, s.primary.index);
  assert.equal(s.primary.mtu6, 1400, 'RFC 4861 §4.6.4 MTU option');
  settle(DAD_US);
  assert.equal(slaac.state, AddressState.Preferred);
  // Off-link traffic goes to the router's MAC (its link-layer address came in the RA).
  wire.frames.length = 0;
  const sock = s.udpSocket(6);
  sock.sendTo(Uint8Array.of(1, 2), ipv6('2001:db8:99::1'), 4000);
  settle(1000);
  const out = wire.frames.map((f) => dissectFrame(f).layers).find((ls) => ls.some((l) => l.layer === 'udp'));
  assert.ok(out, 'the datagram reached the router');
  const eth = out[0]!, ip = out[1]!;
  assert.ok(eth.layer === 'ethernet' && ip.layer === 'ipv6');
  assert.deepEqual(eth.repr.dst, wire.mac);
  assert.equal(formatIpv6(ip.repr.dst), '2001:db8:99::1');
  assert.deepEqual(ip.repr.src, slaac.address, 'from the SLAAC address');
  // A big datagram is fragmented to the advertised MTU.
  wire.frames.length = 0;
  sock.sendTo(new Uint8Array(2000), ipv6('2001:db8:99::1'), 4000);
  settle(1000);
  const lens = wire.frames.filter((f) => f[12] === 0x86 && f[13] === 0xdd).map((f) => f.length - 14);
  assert.equal(lens.length, 2);
  assert.ok(lens.every((n) => n <= 1400), `fragments ${lens.join(',')} fit 1400`);
});

simTest('ndp: an RA with router lifetime 0 removes the default route', (_t, seed) => {
  const { s, advertise, defaultRoute, settle } = routerLan(seed);
  settle(DAD_US);
  advertise({ lifetime: 1800, valid: 3600 });
  settle(100);
  assert.ok(defaultRoute());
  advertise({ lifetime: 0 });
  settle(100);
  assert.equal(defaultRoute(), undefined);
  // With only the on-link prefix left, an off-link destination is unreachable.
  assert.equal(errnoOf(() => s.udpSocket(6).sendTo(Uint8Array.of(1), ipv6('2001:db8:99::1'), 4000)), 'ENETUNREACH');
});

simTest('ndp: a SLAAC address is deprecated when its preferred lifetime ends and removed when its valid lifetime does', (_t, seed) => {
  const { s, advertise, settle } = routerLan(seed);
  settle(DAD_US);
  advertise({ lifetime: 1800, valid: 20, preferred: 10 });
  settle(100);
  const slaac = () => s.primary.ipv6.find((a) => a.origin === 'slaac');
  assert.ok(slaac());
  settle(DAD_US);
  assert.equal(slaac()!.state, AddressState.Preferred);
  settle(10_000_000);
  assert.equal(slaac()!.state, AddressState.Deprecated, 'RFC 4862 §5.5.4: past the preferred lifetime');
  // Still usable as a source when nothing better exists (RFC 6724 rule 3 only ranks).
  assert.deepEqual(s.sourceFor6(ipv6('2001:db8:1::9'), 0), slaac()!.address);
  const ll = s.primary.linkLocal()!.address;
  assert.deepEqual(solicitedNode(ll), solicitedNode(slaac()!.address), 'both share one solicited-node group');
  settle(10_000_000);
  assert.equal(slaac(), undefined, 'past the valid lifetime the address is gone');
  // The link-local address still listens on the shared group (memberships are counted).
  assert.ok(s.primary.mld.isMember(solicitedNode(ll)));
  // The on-link prefix route expired with it.
  assert.equal(s.routes6.routes.some((r) => r.prefixLength === 64 && r.origin === 'ra'), false);
});

simTest('ndp: an RA cannot cut a SLAAC address\'s valid lifetime below two hours (RFC 4862 §5.5.3 e)', (_t, seed) => {
  const { s, advertise, settle } = routerLan(seed);
  settle(DAD_US);
  advertise({ lifetime: 1800, valid: 3600, preferred: 1800 });
  settle(DAD_US);
  const a = s.primary.ipv6.find((x) => x.origin === 'slaac')!;
  const until = a.validUntil;
  advertise({ lifetime: 1800, valid: 0, preferred: 0 }); // a forged RA trying to kill it
  settle(100);
  assert.equal(s.primary.findIpv6(a.address), a, 'still configured');
  assert.equal(a.validUntil, until, 'remaining lifetime under two hours: the valid lifetime is ignored');
  assert.equal(a.state, AddressState.Deprecated, 'the preferred lifetime is honoured');
  advertise({ lifetime: 1800, valid: 7200 + 60, preferred: 600 });
  settle(100);
  assert.ok(a.validUntil > until, 'a longer lifetime is taken');
  assert.equal(a.state, AddressState.Preferred);
});

simTest('ndp: an NA without the override flag does not replace a known MAC, it only makes the entry STALE (RFC 4861 §7.2.5)', (_t, seed) => {
  const { hosts, wire, settle } = lanWithWire(seed, 1);
  const s = hosts[0]!.s;
  s.addAddress(A6, 64, s.primary, { dad: false });
  settle(DAD_US);
  const W = ipv6('2001:db8::fe');
  const key = ipv6Key(W);
  s.udpSocket(6).sendTo(Uint8Array.of(1), W, 4000);
  settle(100);
  assert.equal(s.primary.ndp.entries.get(key)?.state, NudState.Incomplete);
  const na = (flags: number, mac: Uint8Array) => wire.send(icmpv6Frame(wire.mac, s.mac, W, A6, {
    kind: 'neighborAdvertisement', code: 0, flags: flags >>> 0, target: W, options: [{ kind: 'targetLinkLayerAddress', address: mac }],
  }));
  na(NeighborAdvertFlags.Solicited | NeighborAdvertFlags.Override, wire.mac);
  settle(100);
  const e = s.primary.ndp.entries.get(key)!;
  assert.equal(e.state, NudState.Reachable);
  assert.deepEqual(e.mac, wire.mac);
  assert.ok(wire.layers().some((ls) => ls.some((l) => l.layer === 'udp')), 'the queued datagram went out');
  const other = Uint8Array.of(2, 0, 0, 0, 0, 0xee);
  na(0, other);
  settle(100);
  assert.equal(e.state, NudState.Stale);
  assert.deepEqual(e.mac, wire.mac, 'kept');
  na(NeighborAdvertFlags.Override, other);
  settle(100);
  assert.deepEqual(e.mac, other, 'the override flag replaces it');
  assert.equal(e.state, NudState.Stale, 'unsolicited: STALE');
});

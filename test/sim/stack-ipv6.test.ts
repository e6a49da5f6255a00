// IPv6 on the simulator: addresses and DAD, UDP and ICMPv6 over IPv6, input checks,
// fragmentation and path MTU, RFC 6724 source selection, and dual-stack sockets.

import assert from 'node:assert/strict';
import { ipv4, ipv6, formatIpv6 } from '../../src/wire/address.js';
import { NextHeader } from '../../src/wire/ipv6.js';
import { dissectFrame } from '../../src/wire/dissect.js';
import { AddressState } from '../../src/stack/interface.js';
import { IPV6_ANY, ipv6Key, v4MappedAddress } from '../../src/stack/ipv6-address.js';
import { ANY } from '../../src/stack/udp.js';
import { simTest } from '../support/sim.js';
import { twoStacks } from '../support/stacks.js';
import { errnoOf, icmpv6, icmpv6Of, ipv6Frame, lanWithWire, linkLocalOf, udp6 } from '../support/ipv6.js';
import type { LinkParams } from '../../src/link/sim/network.js';

const A6 = ipv6('2001:db8::1');
const B6 = ipv6('2001:db8::2');
const A4 = ipv4('198.18.0.1');
const B4 = ipv4('198.18.0.2');
/** DAD: a random delay up to 1 s (RFC 4862 §5.4.2), one probe, 1 s RetransTimer. */
const DAD_US = 2_100_000;

/** Two IPv6 stacks with 2001:db8::1 and ::2 (/64), DAD done. */
function pair6(seed: number, params: Partial<LinkParams> = {}) {
  const t = twoStacks(seed, params, { ipv6: true });
  t.a.addAddress(A6, 64);
  t.b.addAddress(B6, 64);
  t.settle(DAD_US);
  return t;
}

const bytes = (d: { data: Uint8Array } | null) => (d === null ? null : [...d.data]);

simTest('ipv6: the link-local address comes from the MAC (modified EUI-64) and becomes preferred after DAD', (_t, seed) => {
  const { a, settle } = twoStacks(seed, {}, { ipv6: true });
  const ll = a.primary.ipv6.find((x) => x.origin === 'link')!;
  // RFC 4291 appendix A: 02:00:00:00:00:01 → fe80::ff:fe00:1 (the U/L bit inverted).
  assert.equal(formatIpv6(ll.address), 'fe80::ff:fe00:1');
  assert.deepEqual(ll.address, linkLocalOf(a.mac));
  assert.equal(ll.state, AddressState.Tentative, 'tentative while DAD runs (RFC 4862 §5.4)');
  assert.equal(a.sourceFor6(ipv6('fe80::ff:fe00:2'), 2), null, 'a tentative address is no source');
  settle(DAD_US);
  assert.equal(ll.state, AddressState.Preferred);
  assert.ok(a.ip6.ndp.counters.nsOut >= 1, 'a DAD probe went out');
  assert.deepEqual(a.sourceFor6(ipv6('fe80::ff:fe00:2'), 2), ll.address);
});

simTest('ipv6: NS/NA resolution, then UDP over IPv6 both ways', (_t, seed) => {
  const { a, b, settle } = pair6(seed);
  const server = b.udpSocket(6);
  server.bind(IPV6_ANY, 5000);
  const client = a.udpSocket(6);
  const nsBefore = a.ip6.ndp.counters.nsOut;
  client.sendTo(Uint8Array.of(1, 2, 3), B6, 5000);
  settle();
  assert.ok(a.ip6.ndp.counters.nsOut > nsBefore, 'a solicited b');
  assert.ok(b.ip6.ndp.counters.naOut >= 1);
  assert.equal(a.primary.ndp.entries.get(ipv6Key(B6))?.state, 'REACHABLE');
  const got = server.recv()!;
  assert.deepEqual([...got.data], [1, 2, 3]);
  assert.deepEqual(got.address, A6);
  server.sendTo(Uint8Array.of(9), got.address, got.port);
  settle();
  const back = client.recv()!;
  assert.deepEqual([...back.data], [9]);
  assert.deepEqual(back.address, B6);
  assert.equal(back.port, 5000);
});

simTest('ipv6: link-local UDP needs a scope id; with one it flows (KI-11)', (_t, seed) => {
  const { a, b, settle } = pair6(seed);
  const llB = linkLocalOf(b.mac);
  const server = b.udpSocket(6);
  server.bind(IPV6_ANY, 5000);
  const client = a.udpSocket(6);
  // Linux (udpv6_sendmsg): a link-local destination without sin6_scope_id or a bound device is EINVAL.
  assert.equal(errnoOf(() => client.sendTo(Uint8Array.of(1), llB, 5000)), 'EINVAL');
  client.sendTo(Uint8Array.of(2), llB, 5000, a.primary.index);
  settle();
  const got = server.recv()!;
  assert.deepEqual([...got.data], [2]);
  assert.deepEqual(got.address, linkLocalOf(a.mac));
});

simTest('KI-03 ping6: an echo request is answered with the same identifier, sequence and data', (_t, seed) => {
  const { a, b, sim, settle } = pair6(seed);
  assert.ok(a.ping(B6, 0x1234, 7, Uint8Array.of(5, 6, 7), sim.now));
  settle();
  assert.equal(b.counters.echoRequestsIn, 1);
  assert.equal(b.counters.echoRepliesOut, 1);
  assert.equal(a.echoReplies.length, 1);
  const r = a.echoReplies[0]!;
  assert.deepEqual(r.from, B6);
  assert.equal(r.identifier, 0x1234);
  assert.equal(r.sequence, 7);
  assert.deepEqual([...r.data], [5, 6, 7]);
  // And to the link-local address over the given interface.
  assert.ok(a.ping(linkLocalOf(b.mac), 1, 2, new Uint8Array(0), sim.now, a.primary.index));
  settle();
  assert.equal(a.echoReplies.length, 2);
  assert.deepEqual(a.echoReplies[1]!.from, linkLocalOf(b.mac));
});

simTest('ipv6: hop limit 0 is delivered; a multicast source and a ::1 source are dropped and counted', (_t, seed) => {
  const { hosts, wire, settle } = lanWithWire(seed, 1);
  const s = hosts[0]!.s;
  s.addAddress(A6, 64, s.primary, { dad: false });
  const sock = s.udpSocket(6);
  sock.bind(IPV6_ANY, 7000);
  settle(DAD_US);
  const W = ipv6('2001:db8::fe');
  const send = (src: Uint8Array, hopLimit: number) =>
    wire.send(ipv6Frame({ srcMac: wire.mac, dstMac: s.mac, src, dst: A6, hopLimit, nextHeader: NextHeader.UDP, payload: udp6(1, 7000, Uint8Array.of(1), src, A6) }));
  const c = s.primary.counters;
  send(W, 0);
  settle();
  // A hop limit of 0 is never sent, but a host does not drop one it receives: only a
  // forwarding node checks it (RFC 8200 §3, RFC 1122 §3.2.1.7 for TTL; Linux ip6_forward).
  assert.equal(c.dropTtl, 0);
  assert.notEqual(sock.recv(), null, 'the hop limit 0 datagram is delivered');
  send(ipv6('ff0e::1'), 64); // RFC 4291 §2.7: never a source
  send(ipv6('::1'), 64); // RFC 4291 §2.5.3: never on a link
  settle();
  assert.equal(c.dropMartian, 2);
  assert.equal(s.counters.droppedMartian, 2);
  assert.equal(sock.recv(), null);
  send(W, 64);
  settle();
  assert.deepEqual(bytes(sock.recv()), [1], 'the same datagram from a proper source arrives');
});

simTest('ipv6: an unknown next header is answered with parameter problem code 1 pointing at it', (_t, seed) => {
  const { hosts, wire, settle } = lanWithWire(seed, 1);
  const s = hosts[0]!.s;
  s.addAddress(A6, 64, s.primary, { dad: false });
  settle(DAD_US);
  const W = ipv6('2001:db8::fe');
  // The raw wire host answers no neighbour solicitations: pre-load the cache instead.
  s.primary.ndp.addStatic(ipv6Key(W), wire.mac);
  wire.frames.length = 0;
  wire.send(ipv6Frame({ srcMac: wire.mac, dstMac: s.mac, src: W, dst: A6, nextHeader: 253, payload: new Uint8Array(8) }));
  settle();
  assert.equal(s.primary.counters.dropUnknownProtocol, 1);
  const pp = wire.frames.map(icmpv6Of).find((m) => m?.kind === 'parameterProblem');
  assert.ok(pp && pp.kind === 'parameterProblem', 'a parameter problem came back');
  // RFC 8200 §4 / RFC 4443 §3.4: code 1 (unrecognized Next Header), pointer at the fixed header's Next Header field.
  assert.equal(pp.code, 1);
  assert.equal(pp.pointer, 6);
});

simTest('ipv6: UDP with a zero checksum is dropped (RFC 8200 §8.1)', (_t, seed) => {
  const { hosts, wire, settle } = lanWithWire(seed, 1);
  const s = hosts[0]!.s;
  s.addAddress(A6, 64, s.primary, { dad: false });
  const sock = s.udpSocket(6);
  sock.bind(IPV6_ANY, 7000);
  settle(DAD_US);
  const W = ipv6('2001:db8::fe');
  wire.send(ipv6Frame({ srcMac: wire.mac, dstMac: s.mac, src: W, dst: A6, nextHeader: NextHeader.UDP, payload: udp6(1, 7000, Uint8Array.of(1), W, A6, 0) }));
  settle();
  assert.equal(sock.recv(), null);
  assert.equal(s.counters.udpBadChecksum, 1);
  assert.equal(s.primary.counters.dropChecksum, 1);
});

simTest('ipv6: a 4000-byte datagram is fragmented on send and reassembled under reordering and duplication', (_t, seed) => {
  const { a, b, sim, settle } = pair6(seed);
  const frags: number[] = [];
  sim.capture({
    write: (f) => {
      const ip = dissectFrame(f).layers.find((l) => l.layer === 'ipv6');
      if (ip?.layer === 'ipv6' && ip.repr.extensionHeaders.some((h) => h.kind === 'fragment')) frags.push(f.length);
    },
  }, 'transmit');
  const server = b.udpSocket(6);
  server.bind(IPV6_ANY, 5000);
  const client = a.udpSocket(6);
  client.sendTo(Uint8Array.of(0), B6, 5000); // resolve first, so the fragments go together
  settle();
  assert.deepEqual(bytes(server.recv()), [0]);
  for (const dir of [sim.links[0]!.ab, sim.links[0]!.ba]) dir.set({ reorder: 0.5, reorderDelayUs: 300, duplicate: 0.3 });
  const data = Uint8Array.from({ length: 4000 }, (_, i) => (i * 7) & 0xff);
  client.sendTo(data, B6, 5000);
  settle(200_000);
  assert.equal(frags.length, 3, '4048 bytes of UDP in 1448-byte pieces: three fragments');
  assert.ok(frags.every((n) => n <= 1514), 'every fragment fits the 1500-byte MTU');
  const got = server.recv()!;
  assert.equal(got.data.length, 4000);
  assert.deepEqual(got.data, data);
  assert.equal(server.recv(), null, 'a duplicated fragment does not make a second datagram');
});

simTest('ipv6: Packet Too Big lowers the path MTU, never below 1280 (RFC 8201)', (_t, seed) => {
  const { a, b, sim, settle } = pair6(seed);
  const server = b.udpSocket(6);
  server.bind(IPV6_ANY, 5000);
  const client = a.udpSocket(6);
  client.sendTo(new Uint8Array(1400), B6, 5000);
  settle();
  assert.equal(server.recv()!.data.length, 1400);
  const quoted = ipv6Frame({ srcMac: a.mac, dstMac: b.mac, src: A6, dst: B6, nextHeader: NextHeader.UDP, payload: udp6(client.localPort, 5000, new Uint8Array(1400), A6, B6) }).subarray(14, 14 + 1232);
  const ptb = (mtu: number) => ipv6Frame({ srcMac: b.mac, dstMac: a.mac, src: B6, dst: A6, nextHeader: NextHeader.ICMPv6, payload: icmpv6({ kind: 'packetTooBig', code: 0, mtu, original: quoted }, B6, A6) });
  a.receive(ptb(1400), sim.now);
  assert.equal(a.ip6.mtuFor(B6, a.primary), 1400);
  a.receive(ptb(600), sim.now);
  assert.equal(a.ip6.mtuFor(B6, a.primary), 1280, 'clamped to the IPv6 minimum MTU');
  const sizes: number[] = [];
  sim.capture({ write: (f) => { if (f[12] === 0x86 && f[13] === 0xdd && f[20] === NextHeader.Fragment) sizes.push(f.length - 14); } }, 'transmit');
  client.sendTo(new Uint8Array(1400), B6, 5000);
  settle();
  assert.equal(server.recv()!.data.length, 1400);
  assert.equal(sizes.length, 2, 'fragmented to the learned path MTU');
  assert.ok(sizes.every((n) => n <= 1280));
});

simTest('KI-09 ipv6: ICMPv6 port unreachable gives a connected v6 socket ECONNREFUSED', (_t, seed) => {
  const { a, b, settle } = pair6(seed);
  const s = a.udpSocket(6);
  s.connect(B6, 9);
  s.sendTo(Uint8Array.of(1));
  settle();
  assert.equal(b.counters.udpNoPort, 1);
  assert.equal(b.counters.icmpUnreachableOut, 1);
  assert.equal(errnoOf(() => s.recv()), 'ECONNREFUSED');
  assert.equal(s.recv(), null, 'reported once');
  // An unconnected socket is not told (Linux without IPV6_RECVERR).
  const u = a.udpSocket(6);
  u.sendTo(Uint8Array.of(1), B6, 9);
  settle();
  assert.equal(u.recv(), null);
});

simTest('ipv6: RFC 6724 source selection picks the address with the longest matching prefix', (_t, seed) => {
  const { a, settle } = twoStacks(seed, {}, { ipv6: true });
  const X = ipv6('2001:db8:1::1'), Y = ipv6('2001:db8:2::1');
  a.addAddress(X, 48, a.primary, { dad: false });
  a.addAddress(Y, 48, a.primary, { dad: false });
  settle(DAD_US);
  assert.deepEqual(a.sourceFor6(ipv6('2001:db8:2::99'), 0), Y);
  assert.deepEqual(a.sourceFor6(ipv6('2001:db8:1::99'), 0), X);
  // Rule 3: a deprecated address loses to a preferred one.
  a.primary.findIpv6(Y)!.state = AddressState.Deprecated;
  assert.deepEqual(a.sourceFor6(ipv6('2001:db8:2::99'), 0), X);
});

// ---------------------------------------------------------------------------------------
// Dual-stack sockets (Linux: net.ipv6.bindv6only = 0, RFC 3493 §3.7)

simTest('dual-stack: a v6 socket on :: receives IPv4 datagrams as ::ffff:a.b.c.d and can reply', (_t, seed) => {
  const { a, b, settle } = twoStacks(seed, {}, { ipv6: true });
  const server = b.udpSocket(6);
  server.bind(IPV6_ANY, 5000);
  const client = a.udpSocket(4);
  client.sendTo(Uint8Array.of(4), B4, 5000);
  settle();
  const got = server.recv()!;
  assert.deepEqual([...got.data], [4]);
  assert.deepEqual(got.address, v4MappedAddress(A4));
  server.sendTo(Uint8Array.of(6), got.address, got.port);
  settle();
  const back = client.recv()!;
  assert.deepEqual([...back.data], [6]);
  assert.equal(back.address, B4);
});

simTest('dual-stack: with v6Only the v6 socket gets no IPv4 and a v4 socket may share the port; without it EADDRINUSE', (_t, seed) => {
  const { a, b, settle } = twoStacks(seed, {}, { ipv6: true });
  const dual = b.udpSocket(6);
  dual.bind(IPV6_ANY, 5000);
  assert.equal(errnoOf(() => b.udpSocket(4).bind(ANY, 5000)), 'EADDRINUSE');
  dual.close();
  const only6 = b.udpSocket(6);
  only6.v6Only = true;
  only6.bind(IPV6_ANY, 5000);
  const v4 = b.udpSocket(4);
  v4.bind(ANY, 5000);
  a.udpSocket(4).sendTo(Uint8Array.of(1), B4, 5000);
  settle();
  assert.equal(only6.recv(), null);
  assert.deepEqual(bytes(v4.recv()), [1]);
});

simTest('dual-stack: v4-mapped addresses on a v6Only socket: bind EINVAL, sendTo ENETUNREACH', (_t, seed) => {
  const { b } = twoStacks(seed, {}, { ipv6: true });
  const s = b.udpSocket(6);
  s.v6Only = true;
  // Linux __inet6_bind: "if (ipv6_only_sock(sk)) return -EINVAL" for a v4-mapped address.
  assert.equal(errnoOf(() => s.bind(v4MappedAddress(B4), 5000)), 'EINVAL');
  // Linux udpv6_sendmsg: a v4-mapped destination on a v6-only socket is ENETUNREACH.
  assert.equal(errnoOf(() => s.sendTo(Uint8Array.of(1), v4MappedAddress(A4), 5000)), 'ENETUNREACH');
  const t = b.udpSocket(6);
  assert.equal(errnoOf(() => t.sendTo(Uint8Array.of(1), ipv6('fe80::1'), 5000)), 'EINVAL', 'link-local without a scope id');
});

simTest('ipv6: an unknown option (action 10) gets parameter problem code 2, but never about an ICMPv6 error (RFC 4443 §2.4 e.1)', (_t, seed) => {
  const { hosts, wire, settle } = lanWithWire(seed, 1);
  const s = hosts[0]!.s;
  s.addAddress(A6, 64, s.primary, { dad: false });
  settle(DAD_US);
  const W = ipv6('2001:db8::fe');
  s.primary.ndp.addStatic(ipv6Key(W), wire.mac);
  // Option type 0x80: the high bits 10 say "discard and send a parameter problem" (RFC 8200 §4.2).
  const dstOpts = [{ kind: 'destinationOptions' as const, options: [{ type: 0x80, data: new Uint8Array(4) }] }];
  const problems = () => wire.frames.map(icmpv6Of).filter((m) => m?.kind === 'parameterProblem');
  wire.frames.length = 0;
  wire.send(ipv6Frame({ srcMac: wire.mac, dstMac: s.mac, src: W, dst: A6, nextHeader: NextHeader.UDP, extensionHeaders: dstOpts, payload: udp6(1, 7000, Uint8Array.of(1), W, A6) }));
  settle();
  const pp = problems();
  assert.equal(pp.length, 1);
  assert.ok(pp[0]!.kind === 'parameterProblem');
  assert.equal(pp[0]!.code, 2);
  assert.equal(pp[0]!.pointer, 42, 'at the option type: 40-byte header + 2');
  // The same header in front of an ICMPv6 error message: dropped without an error back
  // (Linux icmp6_send → is_ineligible() skips extension headers to find the ICMPv6 type).
  wire.frames.length = 0;
  const err = icmpv6({ kind: 'destinationUnreachable', code: 4, unused: 0, original: new Uint8Array(48) }, W, A6);
  wire.send(ipv6Frame({ srcMac: wire.mac, dstMac: s.mac, src: W, dst: A6, nextHeader: NextHeader.ICMPv6, extensionHeaders: dstOpts, payload: err }));
  settle();
  assert.equal(problems().length, 0, 'no ICMPv6 error about an ICMPv6 error');
});

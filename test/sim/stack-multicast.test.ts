import assert from 'node:assert/strict';
import { ANY } from '../../src/stack/udp.js';
import { ipv4, formatIpv4 } from '../../src/wire/address.js';
import { dissectFrame } from '../../src/wire/dissect.js';
import { emitIgmp, igmpReprLength } from '../../src/wire/igmp.js';
import { emitIpv4, ipv4ReprLength } from '../../src/wire/ipv4.js';
import { emitEthernet, ethernetReprLength, EtherType } from '../../src/wire/ethernet.js';
import { ErrnoError } from '../../src/errno.js';
import { simTest } from '../support/sim.js';
import { lanOfStacks } from '../support/stacks.js';

const G = ipv4('239.1.2.3');

function lan(seed: number, n: number) {
  const t = lanOfStacks(seed, n);
  // The capture sees a frame once per host that receives it, so a flooded frame appears
  // several times; keep its first sighting. Repeated reports differ in their IP
  // identification, so none is lost here.
  const frames: Array<{ t: number; f: Uint8Array }> = [];
  const seen = new Set<string>();
  t.sim.capture({
    write: (f, at) => {
      const key = Buffer.from(f).toString('hex');
      if (seen.has(key)) return;
      seen.add(key);
      frames.push({ t: at, f: f.slice() });
    },
  });
  return { ...t, frames };
}

function drain(sock: { recv(): { data: Uint8Array } | null }): number[] {
  const out: number[] = [];
  for (let d = sock.recv(); d; d = sock.recv()) out.push(d.data[0]!);
  return out;
}

simTest('KI-05 two sockets of one stack on one group receive each other\'s datagrams', (_t, seed) => {
  const { hosts, settle } = lan(seed, 1);
  const s = hosts[0]!.s;
  const a = s.udpSocket();
  a.bind(ANY, 7000);
  a.addMembership(G);
  const b = s.udpSocket();
  b.bind(ANY, 7001);
  b.addMembership(G);
  a.sendTo(Uint8Array.of(1), G, 7001);
  b.sendTo(Uint8Array.of(2), G, 7000);
  settle();
  assert.deepEqual(drain(b), [1]);
  assert.deepEqual(drain(a), [2]);
});

simTest('KI-07 IP_MULTICAST_LOOP off: no local copy, remote members still receive', (_t, seed) => {
  const { hosts, settle } = lan(seed, 2);
  const local = hosts[0]!.s.udpSocket();
  local.bind(ANY, 7000);
  local.addMembership(G);
  const remote = hosts[1]!.s.udpSocket();
  remote.bind(ANY, 7000);
  remote.addMembership(G);
  settle();
  const tx = hosts[0]!.s.udpSocket();
  tx.multicastLoop = false;
  tx.sendTo(Uint8Array.of(5), G, 7000);
  tx.multicastLoop = true;
  tx.sendTo(Uint8Array.of(6), G, 7000);
  settle();
  assert.deepEqual(drain(local), [6]);
  assert.deepEqual(drain(remote), [5, 6]);
});

simTest('multicast: members receive, others do not; leaving stops delivery; IGMPv3 reports as RFC 3376 says', (_t, seed) => {
  const { hosts, settle, frames } = lan(seed, 3);
  const [h1, h2, h3] = hosts;
  const member = h2!.s.udpSocket();
  member.bind(G, 8000); // bound to the group address, as multicast receivers often are
  member.addMembership(G);
  const bystander = h3!.s.udpSocket();
  bystander.bind(ANY, 8000);
  settle(3_000_000);
  const tx = h1!.s.udpSocket();
  tx.sendTo(Uint8Array.of(1), G, 8000);
  settle();
  assert.deepEqual(drain(member), [1]);
  assert.deepEqual(drain(bystander), []);
  member.dropMembership(G);
  settle(3_000_000);
  tx.sendTo(Uint8Array.of(2), G, 8000);
  settle();
  assert.deepEqual(drain(member), []);
  // The wire carried two state-change reports for the join and two for the leave, each to
  // 224.0.0.22 with TTL 1 and a Router Alert option, the repeat within 1 s.
  const reports = frames
    .map(({ t, f }) => ({ t, d: dissectFrame(f) }))
    .filter(({ d }) => d.layers.some((l) => l.layer === 'igmp'));
  assert.ok(reports.every(({ d }) => d.error === null));
  const summary = reports.map(({ d }) => {
    const ip = d.layers.find((l) => l.layer === 'ipv4')!;
    const ig = d.layers.find((l) => l.layer === 'igmp')!;
    assert.ok(ip.layer === 'ipv4' && ig.layer === 'igmp' && ig.repr.kind === 'reportV3');
    assert.equal(formatIpv4(ip.repr.dst), '224.0.0.22');
    assert.equal(ip.repr.ttl, 1);
    assert.deepEqual([...ip.repr.options], [0x94, 4, 0, 0]);
    return ig.repr.records.map((r) => `${r.recordType}:${formatIpv4(r.group)}`).join(',');
  });
  assert.deepEqual(summary, ['4:239.1.2.3', '4:239.1.2.3', '3:239.1.2.3', '3:239.1.2.3']);
  assert.ok(reports[1]!.t - reports[0]!.t <= 1_000_000 && reports[3]!.t - reports[2]!.t <= 1_000_000);
});

simTest('multicast: a general query is answered within its Max Resp Time with current-state records', (_t, seed) => {
  const { sim, hosts, settle, frames } = lan(seed, 2);
  const m = hosts[1]!.s.udpSocket();
  m.addMembership(G);
  settle(3_000_000);
  const before = frames.length;
  // Querier: an IGMPv3 general query from h0's address to 224.0.0.1, Max Resp 10 (1 s).
  const q = { kind: 'queryV3' as const, maxRespCode: 10, group: 0, reserved: 0, suppressRouterProcessing: false, qrv: 2, qqic: 125, sources: [], extra: new Uint8Array(0) };
  const igmp = new Uint8Array(igmpReprLength(q));
  emitIgmp(q, igmp);
  const ipr = { tos: 0xc0, identification: 1, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 1, protocol: 2, src: ipv4('198.18.0.1'), dst: ipv4('224.0.0.1'), options: Uint8Array.of(0x94, 4, 0, 0), payload: igmp };
  const ip = new Uint8Array(ipv4ReprLength(ipr));
  emitIpv4(ipr, ip);
  const er = { dst: Uint8Array.of(1, 0, 0x5e, 0, 0, 1), src: Uint8Array.of(2, 0, 0, 0, 0, 1), vlans: [], etherType: EtherType.IPv4, payload: ip };
  const frame = new Uint8Array(ethernetReprLength(er));
  emitEthernet(er, frame);
  const sentAt = sim.now;
  hosts[0]!.nic.transmit(frame);
  settle(2_000_000);
  const answers = frames.slice(before).map(({ t, f }) => ({ t, d: dissectFrame(f) }))
    .filter(({ d }) => d.layers.some((l) => l.layer === 'igmp' && l.repr.kind === 'reportV3'));
  assert.equal(answers.length, 1);
  const ig = answers[0]!.d.layers.find((l) => l.layer === 'igmp')!;
  assert.ok(ig.layer === 'igmp' && ig.repr.kind === 'reportV3');
  assert.deepEqual(ig.repr.records.map((r) => [r.recordType, formatIpv4(r.group)]), [[2, '239.1.2.3']]);
  // Max Resp Code 10 = 1 s (RFC 3376 §4.1.1), plus the two 10 µs hops each way.
  const delay = answers[0]!.t - sentAt;
  assert.ok(delay >= 20 && delay <= 1_000_000 + 40, `answered after ${delay} µs`);
});

simTest('multicast: TTL is IP_MULTICAST_TTL (1 by default); membership errors are Linux errno values', (_t, seed) => {
  const { hosts, settle, frames } = lan(seed, 2);
  const tx = hosts[0]!.s.udpSocket();
  tx.sendTo(Uint8Array.of(1), G, 9000);
  tx.multicastTtl = 32;
  tx.sendTo(Uint8Array.of(2), G, 9000);
  settle();
  const ttls = frames.map(({ f }) => dissectFrame(f)).filter((d) => d.layers.some((l) => l.layer === 'udp'))
    .map((d) => { const ip = d.layers.find((l) => l.layer === 'ipv4')!; return ip.layer === 'ipv4' ? ip.repr.ttl : -1; });
  assert.deepEqual(ttls, [1, 32]);
  const code = (fn: () => void) => { try { fn(); } catch (e) { return e instanceof ErrnoError ? e.code : String(e); } return 'ok'; };
  const s = hosts[1]!.s.udpSocket();
  assert.equal(code(() => s.addMembership(ipv4('198.18.0.9'))), 'EINVAL');
  s.addMembership(G);
  assert.equal(code(() => s.addMembership(G)), 'EADDRINUSE');
  s.dropMembership(G);
  assert.equal(code(() => s.dropMembership(G)), 'EADDRNOTAVAIL');
});

/** Sends an 8-byte IGMP query (v1 when maxRespCode is 0, else v2) from h0 to 224.0.0.1. */
function oldQuery(h0: { nic: { transmit(f: Uint8Array): void } }, maxRespCode: number): void {
  const q = { kind: 'query' as const, maxRespCode, group: 0, extra: new Uint8Array(0) };
  const igmp = new Uint8Array(8);
  emitIgmp(q, igmp);
  const ipr = { tos: 0xc0, identification: 7, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 1, protocol: 2, src: ipv4('198.18.0.1'), dst: ipv4('224.0.0.1'), options: new Uint8Array(0), payload: igmp };
  const ip = new Uint8Array(ipv4ReprLength(ipr));
  emitIpv4(ipr, ip);
  const er = { dst: Uint8Array.of(1, 0, 0x5e, 0, 0, 1), src: Uint8Array.of(2, 0, 0, 0, 0, 1), vlans: [], etherType: EtherType.IPv4, payload: ip };
  const frame = new Uint8Array(ethernetReprLength(er));
  emitEthernet(er, frame);
  h0.nic.transmit(frame);
}

simTest('multicast: IGMPv1/v2 queriers switch the host to their version for 260 s (RFC 3376 §7.2.1)', (_t, seed) => {
  const { hosts, settle, frames } = lan(seed, 2);
  const igmpOut = (from: number) => frames.slice(from).map(({ f }) => dissectFrame(f))
    .map((d) => ({ ip: d.layers.find((l) => l.layer === 'ipv4'), ig: d.layers.find((l) => l.layer === 'igmp') }))
    .filter((x) => x.ig !== undefined && x.ig.layer === 'igmp' && x.ig.repr.kind !== 'query' && x.ig.repr.kind !== 'queryV3')
    .map(({ ip, ig }) => `${ig!.layer === 'igmp' ? ig!.repr.kind : ''}>${ip!.layer === 'ipv4' ? formatIpv4(ip!.repr.dst) : ''}`);
  oldQuery(hosts[0]!, 100); // IGMPv2 general query, 10 s
  settle();
  let mark = frames.length;
  const m = hosts[1]!.s.udpSocket();
  m.addMembership(G);
  settle(3_000_000);
  assert.deepEqual(igmpOut(mark), ['reportV2>239.1.2.3', 'reportV2>239.1.2.3']);
  mark = frames.length;
  oldQuery(hosts[0]!, 100);
  settle(11_000_000);
  assert.deepEqual(igmpOut(mark), ['reportV2>239.1.2.3'], 'the query is answered in v2');
  mark = frames.length;
  m.dropMembership(G);
  settle(3_000_000);
  assert.deepEqual(igmpOut(mark), ['leave>224.0.0.2'], 'one v2 leave to all-routers');
  mark = frames.length;
  oldQuery(hosts[0]!, 0); // IGMPv1 query
  settle();
  mark = frames.length;
  m.addMembership(G);
  settle(3_000_000);
  assert.deepEqual(igmpOut(mark), ['reportV1>239.1.2.3', 'reportV1>239.1.2.3']);
  settle(260_000_000);
  mark = frames.length;
  m.dropMembership(G);
  settle(3_000_000);
  assert.deepEqual(igmpOut(mark), ['reportV3>224.0.0.22', 'reportV3>224.0.0.22'], 'back to v3 after the timeout');
});

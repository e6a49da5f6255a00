// tshark, with checksum validation on, reads frames made by OUR emitters: nothing
// flagged (malformed, bad checksum, expert warnings or errors), and every frame is
// dissected as the protocol we meant (frame.protocols).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter } from '../../src/link/pcap.js';
import { emitUdp, udpReprLength } from '../../src/wire/udp.js';
import { ipv4, ipv6, mac } from '../../src/wire/address.js';
import type { PseudoHeader } from '../../src/wire/checksum.js';
import { emitEthernet, ethernetReprLength, EtherType, type VlanTag } from '../../src/wire/ethernet.js';
import { emitIpv4, ipv4ReprLength, ipv4PseudoHeader, IpProtocol, type Ipv4Repr } from '../../src/wire/ipv4.js';
import { emitArp, arpReprLength, ArpOperation, type ArpRepr } from '../../src/wire/arp.js';
import { emitVxlan, vxlanReprLength, VXLAN_FLAG_I, VXLAN_UDP_PORT } from '../../src/wire/vxlan.js';
import { emitIpv6, ipv6ReprLength, ipv6PseudoHeader, NextHeader, type Ipv6Repr, type Ipv6ExtensionHeader } from '../../src/wire/ipv6.js';
import { emitTcp, tcpReprLength, TcpFlags, type TcpRepr, type TcpOption } from '../../src/wire/tcp.js';
import { emitIcmpv4, icmpv4ReprLength, type Icmpv4Repr } from '../../src/wire/icmpv4.js';
import { emitIcmpv6, icmpv6ReprLength, type Icmpv6Repr } from '../../src/wire/icmpv6.js';
import { emitIgmp, igmpReprLength, type IgmpRepr } from '../../src/wire/igmp.js';

const HAS_TSHARK = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;

// --- tshark harness -------------------------------------------------------------

const TSHARK_PREFS = [
  '-o', 'ip.check_checksum:TRUE',
  '-o', 'tcp.check_checksum:TRUE',
  '-o', 'udp.check_checksum:TRUE',
  // Frames stand alone: sequence analysis would flag "ACKed segment that wasn't captured".
  '-o', 'tcp.analyze_sequence_numbers:FALSE',
];
// ICMP, ICMPv6 and IGMP checksums are always verified by this tshark (no preference).

// Expert severities (epan/proto.h): PI_WARN and PI_ERROR.
const PI_WARN = 0x00600000;

interface Case {
  name: string;
  frame: Uint8Array;
  /** frame.protocols as tshark should report it. */
  protocols: string;
  /** Expert messages that are right for this frame (e.g. tshark always warns on a RST). */
  allow?: RegExp[];
}

interface Verdict {
  protocols: string;
  problems: string[];
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function runTshark(args: string[]): string {
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `tshark ${args.join(' ')}: ${r.stderr}`);
  const err = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/^Running as user "root"/.test(l));
  assert.deepEqual(err, [], 'tshark stderr');
  return r.stdout;
}

/** Writes the frames to a pcap and asks tshark, per frame, what it saw and what it flagged. */
function tsharkVerdicts(cases: Case[]): Verdict[] {
  const dir = mkdtempSync(join(tmpdir(), 'xlio-codecs-'));
  try {
    const path = join(dir, 'codecs.pcap');
    const w = PcapWriter.toFile(path, { resolution: 'ns' });
    cases.forEach((c, i) => w.write(c.frame, 1_000_000 * (i + 1)));
    w.close();
    const verdicts: Verdict[] = cases.map(() => ({ protocols: '', problems: [] }));
    const fields = runTshark(['-r', path, ...TSHARK_PREFS, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=\u0001',
      '-e', 'frame.number', '-e', 'frame.protocols', '-e', '_ws.expert.severity', '-e', '_ws.expert.message']);
    for (const line of fields.split('\n')) {
      if (line === '') continue;
      const [num, protocols, sev, msg] = line.split('\t');
      const v = verdicts[Number(num) - 1]!;
      v.protocols = protocols ?? '';
      const sevs = (sev ?? '').split('\u0001'), msgs = (msg ?? '').split('\u0001');
      sevs.forEach((s, i) => {
        if (s !== '' && Number(s) >= PI_WARN) v.problems.push(`expert ${Number(s) >= 0x00800000 ? 'error' : 'warning'}: ${msgs[i]}`);
      });
    }
    const text = runTshark(['-r', path, ...TSHARK_PREFS, '-V']);
    const frames = text.split(/^(?=Frame \d+: )/m).filter((s) => s.startsWith('Frame '));
    assert.equal(frames.length, cases.length, 'tshark -V frame count');
    frames.forEach((f, i) => {
      for (const line of f.split('\n')) {
        if (/Malformed|Bad checksum|incorrect|\[Expert Info \((Warning|Error)/i.test(line)) verdicts[i]!.problems.push(line.trim());
        // Every checksum present must have been checked, not skipped.
        if (/Checksum Status: Unverified/.test(line)) verdicts[i]!.problems.push(`checksum not verified: ${line.trim()}`);
      }
    });
    return verdicts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function checkCases(t: TestContext, cases: Case[]): void {
  if (!HAS_TSHARK) return t.skip('tshark not installed');
  const verdicts = tsharkVerdicts(cases);
  const failures: string[] = [];
  cases.forEach((c, i) => {
    const v = verdicts[i]!;
    const wrong: string[] = [...new Set(v.problems)].filter((p) => !(c.allow ?? []).some((re) => re.test(p)));
    if (v.protocols !== c.protocols) wrong.push(`dissected as ${v.protocols}, meant ${c.protocols}`);
    if (wrong.length) failures.push(`${c.name}\n  frame: ${hex(c.frame)}\n  ${wrong.join('\n  ')}`);
  });
  assert.deepEqual(failures, [], failures.join('\n'));
}

function fromHex(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
}
function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
const text = (s: string) => new TextEncoder().encode(s);

// --- the harness itself notices what it must --------------------------------------

// /usr/bin/python3: Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02')/IP(src='198.18.0.1',
//   dst='198.18.0.2', id=1, flags='DF')/UDP(sport=5000, dport=6000)/Raw(b'hello')
const SCAPY_UDP4 = fromHex('020000000002020000000001080045000021000140004011aea3c6120001c612000213881770000d04e268656c6c6f');

test('tshark harness: a good scapy frame passes; bad checksums, truncation and a wrong protocol are caught', (t) => {
  if (!HAS_TSHARK) return t.skip('tshark not installed');
  const badIp = SCAPY_UDP4.slice(); badIp[24]! ^= 0xff;
  const badUdp = SCAPY_UDP4.slice(); badUdp[40]! ^= 0xff;
  const cut = SCAPY_UDP4.slice(0, 40);
  const cases: Case[] = [
    { name: 'good', frame: SCAPY_UDP4, protocols: 'eth:ethertype:ip:udp:data' },
    { name: 'bad ip checksum', frame: badIp, protocols: 'eth:ethertype:ip:udp:data' },
    { name: 'bad udp checksum', frame: badUdp, protocols: 'eth:ethertype:ip:udp:data' },
    { name: 'cut', frame: cut, protocols: 'eth:ethertype:ip:udp:data' },
    { name: 'wrong protocol', frame: SCAPY_UDP4, protocols: 'eth:ethertype:ipv6:udp:data' },
  ];
  const v = tsharkVerdicts(cases);
  assert.deepEqual(v[0]!.problems, []);
  assert.equal(v[0]!.protocols, 'eth:ethertype:ip:udp:data');
  assert.ok(v[1]!.problems.some((p) => /checksum/i.test(p)), v[1]!.problems.join('; '));
  assert.ok(v[2]!.problems.some((p) => /checksum/i.test(p)), v[2]!.problems.join('; '));
  assert.ok(v[3]!.problems.length > 0, 'a cut datagram is flagged');
  assert.throws(() => checkCases(t, cases.slice(4)), /dissected as eth:ethertype:ip:udp:data, meant/);
});

// --- frame builders over our emitters ------------------------------------------------

const MAC_A = mac('02:00:00:00:00:01');
const MAC_B = mac('02:00:00:00:00:02');
const A4 = ipv4('198.18.0.1'), B4 = ipv4('198.18.0.2');
const A6 = ipv6('2001:db8::1'), B6 = ipv6('2001:db8::2');

function eth(etherType: number, payload: Uint8Array, vlans: VlanTag[] = [], dst = MAC_B, src = MAC_A): Uint8Array {
  const repr = { dst, src, vlans, etherType, payload };
  const b = new Uint8Array(ethernetReprLength(repr));
  assert.equal(emitEthernet(repr, b), b.length);
  return b;
}

function ip4(protocol: number, payload: Uint8Array, over: Partial<Ipv4Repr> = {}): Uint8Array {
  const repr: Ipv4Repr = {
    tos: 0, identification: 0x1234, dontFragment: false, moreFragments: false, fragmentOffset: 0,
    ttl: 64, protocol, src: A4, dst: B4, options: new Uint8Array(0), payload, ...over,
  };
  const b = new Uint8Array(ipv4ReprLength(repr));
  assert.equal(emitIpv4(repr, b), b.length);
  return b;
}

function udp(srcPort: number, dstPort: number, payload: Uint8Array, ph: PseudoHeader): Uint8Array {
  const repr = { srcPort, dstPort, payload };
  const b = new Uint8Array(udpReprLength(repr));
  assert.equal(emitUdp(repr, b, 0, ph), b.length);
  return b;
}

const PH4: PseudoHeader = ipv4PseudoHeader({ src: A4, dst: B4 });
const PH6: PseudoHeader = { version: 6, src: A6, dst: B6 };

function ip6Repr(upperProtocol: number, payload: Uint8Array, extensionHeaders: Ipv6ExtensionHeader[] = [], over: Partial<Ipv6Repr> = {}): Ipv6Repr {
  return { trafficClass: 0, flowLabel: 0x12345, hopLimit: 64, src: A6, dst: B6, extensionHeaders, upperProtocol, payload, ...over };
}
function ip6(repr: Ipv6Repr): Uint8Array {
  const b = new Uint8Array(ipv6ReprLength(repr));
  assert.equal(emitIpv6(repr, b), b.length);
  return b;
}

function tcp(over: Partial<TcpRepr>, ph: PseudoHeader): Uint8Array {
  const repr: TcpRepr = {
    srcPort: 40000, dstPort: 5001, seq: 0x01020304, ack: 0, flags: TcpFlags.SYN, window: 65535, urgentPointer: 0,
    options: [], payload: new Uint8Array(0), ...over,
  };
  const b = new Uint8Array(tcpReprLength(repr));
  assert.equal(emitTcp(repr, b, 0, ph), b.length);
  return b;
}

function arp(repr: ArpRepr): Uint8Array {
  const b = new Uint8Array(arpReprLength(repr));
  assert.equal(emitArp(repr, b), b.length);
  return b;
}

// --- codecs ------------------------------------------------------------------------

test('tshark reads our Ethernet (802.1Q, QinQ), IPv4 (options, fragments) and UDP frames cleanly', (t) => {
  const dgram = udp(5000, 6000, text('hello'), PH4);
  // RFC 791 §3.1 options: NOP, Record Route (3 slots), Router Alert (RFC 2113), EOL + padding.
  const options = Uint8Array.of(
    0x01,
    0x07, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0,
    0x94, 4, 0, 0,
    0x00, 0, 0, 0,
  );
  // RFC 791 §3.2: a 1600-byte UDP datagram in two fragments (1480 + 120 bytes).
  const big = udp(5001, 6001, new Uint8Array(1592).map((_, i) => i & 0xff), PH4);
  const frag1 = ip4(IpProtocol.UDP, big.subarray(0, 1480), { identification: 0x4242, moreFragments: true });
  const frag2 = ip4(IpProtocol.UDP, big.subarray(1480), { identification: 0x4242, fragmentOffset: 1480 / 8 });
  checkCases(t, [
    { name: 'ethernet+ipv4+udp', frame: eth(EtherType.IPv4, ip4(IpProtocol.UDP, dgram, { dontFragment: true, tos: 0xb8 })), protocols: 'eth:ethertype:ip:udp:data' },
    { name: '802.1Q vlan 42', frame: eth(EtherType.IPv4, ip4(IpProtocol.UDP, dgram), [{ tpid: EtherType.VLAN, pcp: 5, dei: false, vid: 42 }]), protocols: 'eth:ethertype:vlan:ethertype:ip:udp:data' },
    {
      name: 'QinQ 802.1ad outer + 802.1Q inner',
      frame: eth(EtherType.IPv4, ip4(IpProtocol.UDP, dgram), [{ tpid: EtherType.QinQ, pcp: 0, dei: true, vid: 100 }, { tpid: EtherType.VLAN, pcp: 3, dei: false, vid: 7 }]),
      protocols: 'eth:ethertype:ieee8021ad:ethertype:vlan:ethertype:ip:udp:data',
    },
    { name: 'ipv4 options (NOP, RR, router alert, EOL)', frame: eth(EtherType.IPv4, ip4(IpProtocol.UDP, dgram, { options })), protocols: 'eth:ethertype:ip:udp:data' },
    { name: 'ipv4 first fragment', frame: eth(EtherType.IPv4, frag1), protocols: 'eth:ethertype:ip:data' },
    { name: 'ipv4 last fragment (reassembled)', frame: eth(EtherType.IPv4, frag2), protocols: 'eth:ethertype:ip:udp:data' },
    { name: 'udp over ipv4 with checksum', frame: eth(EtherType.IPv4, ip4(IpProtocol.UDP, udp(40000, 7, text('echo me'), PH4))), protocols: 'eth:ethertype:ip:udp:echo' },
  ]);
});

function ip6x(upperProtocol: number, payload: Uint8Array, extensionHeaders: Ipv6ExtensionHeader[] = [], hopLimit = 64, dst = B6): Uint8Array {
  return ip6(ip6Repr(upperProtocol, payload, extensionHeaders, { hopLimit, dst }));
}
function icmp4(repr: Icmpv4Repr): Uint8Array {
  const b = new Uint8Array(icmpv4ReprLength(repr));
  emitIcmpv4(repr, b);
  return b;
}
function icmp6(repr: Icmpv6Repr, ph: PseudoHeader = PH6): Uint8Array {
  const b = new Uint8Array(icmpv6ReprLength(repr));
  emitIcmpv6(repr, b, 0, ph);
  return b;
}
function igmp(repr: IgmpRepr): Uint8Array {
  const b = new Uint8Array(igmpReprLength(repr));
  emitIgmp(repr, b);
  return b;
}

test('tshark reads our ICMPv4, ICMPv6 (errors, NDP, MLDv1/v2) and IGMPv1/v2/v3 messages cleanly', (t) => {
  const routerAlert = { type: 0x05, data: Uint8Array.of(0, 0) };
  // RFC 792: an ICMP error quotes the IP header and 8 bytes of the datagram, so the quoted
  // UDP checksum cannot be checked (tshark says Unverified for it, rightly).
  const quoted4 = ip4(IpProtocol.UDP, udp(5000, 53, text('q'), PH4)).subarray(0, 28);
  const QUOTED_CUT = [/^checksum not verified/];
  const quoted6 = ip6x(NextHeader.UDP, udp(5000, 53, text('q'), PH6));
  // RFC 4861 §4.6.3: the redirected packet fills the option, whose length is whole 8-octet units.
  const quoted6Exact = ip6x(NextHeader.UDP, udp(5000, 53, new Uint8Array(0), PH6));
  const allNodes = ipv6('ff02::1');
  const phAll: PseudoHeader = { version: 6, src: A6, dst: allNodes };
  const mldDst = ipv6('ff02::16');
  const phMld: PseudoHeader = { version: 6, src: A6, dst: mldDst };
  const ra4 = Uint8Array.of(0x94, 4, 0, 0);
  const g = ipv4('239.1.2.3');
  const igmp4 = (m: Uint8Array, dst = g) => eth(EtherType.IPv4, ip4(IpProtocol.IGMP, m, { ttl: 1, options: ra4, tos: 0xc0, dst }));
  checkCases(t, [
    { name: 'icmp echo request', frame: eth(EtherType.IPv4, ip4(IpProtocol.ICMP, icmp4({ kind: 'echoRequest', code: 0, identifier: 7, sequence: 1, data: text('ping') }))), protocols: 'eth:ethertype:ip:icmp:data' },
    { name: 'icmp echo reply', frame: eth(EtherType.IPv4, ip4(IpProtocol.ICMP, icmp4({ kind: 'echoReply', code: 0, identifier: 7, sequence: 1, data: text('ping') }), { src: B4, dst: A4 }), [], MAC_A, MAC_B), protocols: 'eth:ethertype:ip:icmp:data' },
    { name: 'icmp port unreachable', frame: eth(EtherType.IPv4, ip4(IpProtocol.ICMP, icmp4({ kind: 'destinationUnreachable', code: 3, unused: 0, nextHopMtu: 0, original: quoted4 }), { src: B4, dst: A4 })), protocols: 'eth:ethertype:ip:icmp:ip:udp', allow: QUOTED_CUT },
    { name: 'icmp fragmentation needed', frame: eth(EtherType.IPv4, ip4(IpProtocol.ICMP, icmp4({ kind: 'destinationUnreachable', code: 4, unused: 0, nextHopMtu: 1400, original: quoted4 }), { src: B4, dst: A4 })), protocols: 'eth:ethertype:ip:icmp:ip:udp', allow: QUOTED_CUT },
    { name: 'icmp time exceeded', frame: eth(EtherType.IPv4, ip4(IpProtocol.ICMP, icmp4({ kind: 'timeExceeded', code: 0, unused: 0, original: quoted4 }), { src: B4, dst: A4 })), protocols: 'eth:ethertype:ip:icmp:ip:udp', allow: QUOTED_CUT },
    { name: 'icmp redirect', frame: eth(EtherType.IPv4, ip4(IpProtocol.ICMP, icmp4({ kind: 'redirect', code: 1, gateway: ipv4('198.18.0.254'), original: quoted4 }), { src: B4, dst: A4 })), protocols: 'eth:ethertype:ip:icmp:ip:udp', allow: QUOTED_CUT },
    { name: 'icmp parameter problem', frame: eth(EtherType.IPv4, ip4(IpProtocol.ICMP, icmp4({ kind: 'parameterProblem', code: 0, pointer: 9, unused: 0, original: quoted4 }), { src: B4, dst: A4 })), protocols: 'eth:ethertype:ip:icmp:ip:udp', allow: QUOTED_CUT },
    { name: 'icmpv6 echo request', frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({ kind: 'echoRequest', code: 0, identifier: 9, sequence: 2, data: text('ping6') }))), protocols: 'eth:ethertype:ipv6:icmpv6:data' },
    { name: 'icmpv6 echo reply', frame: eth(EtherType.IPv6, ip6(ip6Repr(NextHeader.ICMPv6, icmp6({ kind: 'echoReply', code: 0, identifier: 9, sequence: 2, data: text('ping6') }, { version: 6, src: B6, dst: A6 }), [], { src: B6, dst: A6 })), [], MAC_A, MAC_B), protocols: 'eth:ethertype:ipv6:icmpv6:data' },
    { name: 'icmpv6 port unreachable', frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({ kind: 'destinationUnreachable', code: 4, unused: 0, original: quoted6 }))), protocols: 'eth:ethertype:ipv6:icmpv6:ipv6:udp' },
    { name: 'icmpv6 packet too big', frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({ kind: 'packetTooBig', code: 0, mtu: 1280, original: quoted6 }))), protocols: 'eth:ethertype:ipv6:icmpv6:ipv6:udp' },
    { name: 'icmpv6 time exceeded', frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({ kind: 'timeExceeded', code: 0, unused: 0, original: quoted6 }))), protocols: 'eth:ethertype:ipv6:icmpv6:ipv6:udp' },
    { name: 'icmpv6 parameter problem', frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({ kind: 'parameterProblem', code: 0, pointer: 6, original: quoted6 }))), protocols: 'eth:ethertype:ipv6:icmpv6:ipv6:udp' },
    { name: 'ndp router solicitation', frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({ kind: 'routerSolicitation', code: 0, reserved: 0, options: [{ kind: 'sourceLinkLayerAddress', address: MAC_A }] }, { version: 6, src: A6, dst: ipv6('ff02::2') }), [], 255, ipv6('ff02::2'))), protocols: 'eth:ethertype:ipv6:icmpv6' },
    {
      name: 'ndp router advertisement with SLLA, MTU, prefix, RDNSS',
      frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({
        kind: 'routerAdvertisement', code: 0, curHopLimit: 64, flags: 0x80, routerLifetime: 1800, reachableTime: 30000, retransTimer: 1000,
        options: [
          { kind: 'sourceLinkLayerAddress', address: MAC_A },
          { kind: 'mtu', reserved: 0, mtu: 1500 },
          { kind: 'prefixInformation', prefixLength: 64, onLink: true, autonomous: true, otherFlags: 0, validLifetime: 86400, preferredLifetime: 14400, reserved: 0, prefix: ipv6('2001:db8:1::') },
          { kind: 'rdnss', reserved: 0, lifetime: 600, servers: [ipv6('2001:db8::53')] },
        ],
      }, phAll), [], 255, allNodes)),
      protocols: 'eth:ethertype:ipv6:icmpv6',
    },
    { name: 'ndp neighbor solicitation', frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({ kind: 'neighborSolicitation', code: 0, reserved: 0, target: B6, options: [{ kind: 'sourceLinkLayerAddress', address: MAC_A }] }), [], 255)), protocols: 'eth:ethertype:ipv6:icmpv6' },
    { name: 'ndp neighbor advertisement', frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({ kind: 'neighborAdvertisement', code: 0, flags: 0x60000000, target: B6, options: [{ kind: 'targetLinkLayerAddress', address: MAC_B }] }), [], 255)), protocols: 'eth:ethertype:ipv6:icmpv6' },
    {
      name: 'ndp redirect with redirected header',
      frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({
        kind: 'redirect', code: 0, reserved: 0, target: ipv6('fe80::3'), destination: ipv6('2001:db8::9'),
        options: [{ kind: 'targetLinkLayerAddress', address: MAC_B }, { kind: 'redirectedHeader', reserved: new Uint8Array(6), packet: quoted6Exact }],
      }), [], 255)),
      protocols: 'eth:ethertype:ipv6:icmpv6:ipv6:udp',
    },
    { name: 'mldv1 report', frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({ kind: 'mldV1Report', code: 0, maxResponseDelay: 0, reserved: 0, group: ipv6('ff15::1:3') }, { version: 6, src: A6, dst: ipv6('ff15::1:3') }), [{ kind: 'hopByHop', options: [routerAlert] }], 1, ipv6('ff15::1:3'))), protocols: 'eth:ethertype:ipv6:ipv6.hopopts:icmpv6' },
    { name: 'mldv1 general query', frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({ kind: 'mldV1Query', code: 0, maxResponseDelay: 10000, reserved: 0, group: new Uint8Array(16) }, phAll), [{ kind: 'hopByHop', options: [routerAlert] }], 1, allNodes)), protocols: 'eth:ethertype:ipv6:ipv6.hopopts:icmpv6' },
    { name: 'mldv1 done', frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({ kind: 'mldV1Done', code: 0, maxResponseDelay: 0, reserved: 0, group: ipv6('ff15::1:3') }, { version: 6, src: A6, dst: ipv6('ff02::2') }), [{ kind: 'hopByHop', options: [routerAlert] }], 1, ipv6('ff02::2'))), protocols: 'eth:ethertype:ipv6:ipv6.hopopts:icmpv6' },
    {
      name: 'mldv2 query',
      frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({ kind: 'mldV2Query', code: 0, maxResponseCode: 10000, reserved: 0, group: new Uint8Array(16), reserved2: 0, suppressRouterProcessing: false, qrv: 2, qqic: 125, sources: [], extra: new Uint8Array(0) }, phAll), [{ kind: 'hopByHop', options: [routerAlert] }], 1, allNodes)),
      protocols: 'eth:ethertype:ipv6:ipv6.hopopts:icmpv6',
    },
    {
      name: 'mldv2 report',
      frame: eth(EtherType.IPv6, ip6x(NextHeader.ICMPv6, icmp6({ kind: 'mldV2Report', code: 0, reserved: 0, records: [{ recordType: 4, group: ipv6('ff15::1:3'), sources: [], auxData: new Uint8Array(0) }, { recordType: 1, group: ipv6('ff15::1:4'), sources: [ipv6('2001:db8::7')], auxData: new Uint8Array(0) }] }, phMld), [{ kind: 'hopByHop', options: [routerAlert] }], 1, mldDst)),
      protocols: 'eth:ethertype:ipv6:ipv6.hopopts:icmpv6',
    },
    { name: 'igmpv1 query', frame: igmp4(igmp({ kind: 'query', maxRespCode: 0, group: 0, extra: new Uint8Array(0) }), ipv4('224.0.0.1')), protocols: 'eth:ethertype:ip:igmp:igmp' },
    { name: 'igmpv1 report', frame: igmp4(igmp({ kind: 'reportV1', maxRespCode: 0, group: g, extra: new Uint8Array(0) })), protocols: 'eth:ethertype:ip:igmp:igmp' },
    { name: 'igmpv2 query', frame: igmp4(igmp({ kind: 'query', maxRespCode: 100, group: 0, extra: new Uint8Array(0) }), ipv4('224.0.0.1')), protocols: 'eth:ethertype:ip:igmp:igmp' },
    { name: 'igmpv2 report', frame: igmp4(igmp({ kind: 'reportV2', maxRespCode: 0, group: g, extra: new Uint8Array(0) })), protocols: 'eth:ethertype:ip:igmp:igmp' },
    { name: 'igmpv2 leave', frame: igmp4(igmp({ kind: 'leave', maxRespCode: 0, group: g, extra: new Uint8Array(0) }), ipv4('224.0.0.2')), protocols: 'eth:ethertype:ip:igmp:igmp' },
    { name: 'igmpv3 query', frame: igmp4(igmp({ kind: 'queryV3', maxRespCode: 100, group: g, reserved: 0, suppressRouterProcessing: false, qrv: 2, qqic: 125, sources: [A4], extra: new Uint8Array(0) })), protocols: 'eth:ethertype:ip:igmp:igmp' },
    { name: 'igmpv3 report', frame: igmp4(igmp({ kind: 'reportV3', reserved1: 0, reserved2: 0, records: [{ recordType: 4, group: g, sources: [], auxData: new Uint8Array(0) }, { recordType: 1, group: ipv4('239.9.9.9'), sources: [A4], auxData: new Uint8Array(0) }], extra: new Uint8Array(0) }), ipv4('224.0.0.22')), protocols: 'eth:ethertype:ip:igmp:igmp' },
  ]);
});

test('tshark reads our ARP requests, replies and announcements cleanly', (t) => {
  const zero = new Uint8Array(6);
  const bcast = mac('ff:ff:ff:ff:ff:ff');
  checkCases(t, [
    { name: 'arp request', frame: eth(EtherType.ARP, arp({ operation: ArpOperation.Request, senderMac: MAC_A, senderIp: A4, targetMac: zero, targetIp: B4 }), [], bcast), protocols: 'eth:ethertype:arp' },
    { name: 'arp reply', frame: eth(EtherType.ARP, arp({ operation: ArpOperation.Reply, senderMac: MAC_B, senderIp: B4, targetMac: MAC_A, targetIp: A4 }), [], MAC_A, MAC_B), protocols: 'eth:ethertype:arp' },
    { name: 'gratuitous arp (RFC 5227 announcement)', frame: eth(EtherType.ARP, arp({ operation: ArpOperation.Request, senderMac: MAC_A, senderIp: A4, targetMac: zero, targetIp: A4 }), [], bcast), protocols: 'eth:ethertype:arp' },
  ]);
});

test('tshark reads our VXLAN (UDP 4789) with an inner Ethernet/IPv4/UDP frame cleanly', (t) => {
  const inner = eth(EtherType.IPv4, ip4(IpProtocol.UDP, udp(5000, 6000, text('inner'), PH4)), [], mac('02:00:00:00:01:02'), mac('02:00:00:00:01:01'));
  const vx = { flags: VXLAN_FLAG_I, vni: 0xabcdef, reserved1: 0, reserved2: 0, payload: inner };
  const vb = new Uint8Array(vxlanReprLength(vx));
  assert.equal(emitVxlan(vx, vb), vb.length);
  const outerPh4 = ipv4PseudoHeader({ src: ipv4('198.18.1.1'), dst: ipv4('198.18.1.2') });
  const outer = ip4(IpProtocol.UDP, udp(49152, VXLAN_UDP_PORT, vb, outerPh4), { src: ipv4('198.18.1.1'), dst: ipv4('198.18.1.2'), dontFragment: true });
  const outer6 = ip6(ip6Repr(NextHeader.UDP, udp(49153, VXLAN_UDP_PORT, vb, PH6)));
  checkCases(t, [
    { name: 'vxlan over ipv4', frame: eth(EtherType.IPv4, outer), protocols: 'eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:udp:data' },
    { name: 'vxlan over ipv6', frame: eth(EtherType.IPv6, outer6), protocols: 'eth:ethertype:ipv6:udp:vxlan:eth:ethertype:ip:udp:data' },
  ]);
});

test('tshark reads our IPv6 with hop-by-hop, routing, fragment and destination-options headers cleanly', (t) => {
  const C6 = ipv6('2001:db8::3');
  // RFC 2711 router alert (MLD) in hop-by-hop; an unknown skippable option (type 0x1e, RFC 8200 §4.2
  // action 00) in destination options; the emitter pads both to 8 bytes.
  const hbh: Ipv6ExtensionHeader = { kind: 'hopByHop', options: [{ type: 0x05, data: Uint8Array.of(0, 0) }] };
  const dest: Ipv6ExtensionHeader = { kind: 'destinationOptions', options: [{ type: 0x1e, data: Uint8Array.of(1, 2, 3) }] };
  // Fills its 8 bytes exactly: tshark 4.0 calls a destination-options header that ends in Pad1
  // before No Next Header malformed, even one scapy builds (RFC 8200 §4.2 allows it).
  const destFull: Ipv6ExtensionHeader = { kind: 'destinationOptions', options: [{ type: 0x1e, data: Uint8Array.of(1, 2, 3, 4) }] };
  // RFC 8754 §2 segment routing header, one segment left: the final destination (segment 0) is C6.
  const srhData = cat(Uint8Array.of(1, 0, 0, 0), C6, B6);
  const srh: Ipv6ExtensionHeader = { kind: 'routing', routingType: 4, segmentsLeft: 1, data: srhData };
  const chain = [hbh, srh, dest];
  const chained = ip6Repr(NextHeader.UDP, new Uint8Array(0), chain);
  chained.payload = udp(5000, 6000, text('chained'), ipv6PseudoHeader(chained));
  // RFC 8200 §4.5: a 1600-byte UDP datagram in two fragments (1448 + 152 bytes).
  const big = udp(5001, 6001, new Uint8Array(1592).map((_, i) => (i * 7) & 0xff), PH6);
  const frag = (off: number, more: boolean, part: Uint8Array) =>
    ip6(ip6Repr(NextHeader.UDP, part, [{ kind: 'fragment', fragmentOffset: off / 8, moreFragments: more, identification: 0xdeadbeef, reserved: 0 }]));
  checkCases(t, [
    { name: 'ipv6+udp', frame: eth(EtherType.IPv6, ip6(ip6Repr(NextHeader.UDP, udp(5000, 6000, text('hello'), PH6), [], { trafficClass: 0xb8 }))), protocols: 'eth:ethertype:ipv6:udp:data' },
    { name: 'ipv6 hop-by-hop + SRH + destination options + udp', frame: eth(EtherType.IPv6, ip6(chained)), protocols: 'eth:ethertype:ipv6:ipv6.hopopts:ipv6.routing:ipv6.dstopts:udp:data' },
    { name: 'ipv6 first fragment', frame: eth(EtherType.IPv6, frag(0, true, big.subarray(0, 1448))), protocols: 'eth:ethertype:ipv6:ipv6.fraghdr:data' },
    { name: 'ipv6 last fragment (reassembled)', frame: eth(EtherType.IPv6, frag(1448, false, big.subarray(1448))), protocols: 'eth:ethertype:ipv6:ipv6.fraghdr:udp:data' },
    { name: 'ipv6 no next header', frame: eth(EtherType.IPv6, ip6(ip6Repr(NextHeader.NoNextHeader, new Uint8Array(0), [destFull]))), protocols: 'eth:ethertype:ipv6:ipv6.dstopts' },
  ]);
});

test('tshark reads our TCP segments with every option cleanly (IPv4 and IPv6 checksums)', (t) => {
  const synOpts: TcpOption[] = [
    { kind: 'mss', value: 1460 }, { kind: 'sackPermitted' }, { kind: 'timestamps', tsVal: 123456, tsEcr: 0 },
    { kind: 'nop' }, { kind: 'wscale', shift: 7 },
  ];
  const sackOpts: TcpOption[] = [
    { kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamps', tsVal: 123460, tsEcr: 98765 },
    { kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[0x0a0b1c0d, 0x0a0b2c0d], [0x0a0b3c0d, 0x0a0b4c0d], [0x0a0b5c0d, 0x0a0b6c0d]] },
  ];
  const base = { seq: 0x01020305, ack: 0x0a0b0c0d };
  checkCases(t, [
    { name: 'tcp SYN mss/sackOK/ts/nop/wscale', frame: eth(EtherType.IPv4, ip4(IpProtocol.TCP, tcp({ options: synOpts }, PH4))), protocols: 'eth:ethertype:ip:tcp' },
    { name: 'tcp SYN-ACK over ipv6', frame: eth(EtherType.IPv6, ip6(ip6Repr(NextHeader.TCP, tcp({ flags: TcpFlags.SYN | TcpFlags.ACK, ack: 0x01020305, options: synOpts }, PH6)))), protocols: 'eth:ethertype:ipv6:tcp' },
    { name: 'tcp ACK with 3 SACK blocks', frame: eth(EtherType.IPv4, ip4(IpProtocol.TCP, tcp({ ...base, flags: TcpFlags.ACK, options: sackOpts }, PH4))), protocols: 'eth:ethertype:ip:tcp' },
    { name: 'tcp PSH+ACK with data, EOL-terminated options', frame: eth(EtherType.IPv4, ip4(IpProtocol.TCP, tcp({ ...base, flags: TcpFlags.PSH | TcpFlags.ACK, options: [{ kind: 'timestamps', tsVal: 7, tsEcr: 8 }, { kind: 'eol' }], payload: text('hello, world'), dstPort: 47000 }, PH4))), protocols: 'eth:ethertype:ip:tcp:data' },
    { name: 'tcp unknown option (kind 253, RFC 4727 experiment) preserved', frame: eth(EtherType.IPv4, ip4(IpProtocol.TCP, tcp({ ...base, flags: TcpFlags.ACK, options: [{ kind: 'unknown', code: 253, data: Uint8Array.of(0x12, 0x34) }] }, PH4))), protocols: 'eth:ethertype:ip:tcp' },
    { name: 'tcp FIN/URG/ECE/CWR flags over ipv6', frame: eth(EtherType.IPv6, ip6(ip6Repr(NextHeader.TCP, tcp({ ...base, flags: TcpFlags.FIN | TcpFlags.ACK | TcpFlags.URG | TcpFlags.ECE | TcpFlags.CWR, urgentPointer: 1, payload: text('!'), dstPort: 47000 }, PH6)))), protocols: 'eth:ethertype:ipv6:tcp:data' },
    { name: 'tcp RST', frame: eth(EtherType.IPv4, ip4(IpProtocol.TCP, tcp({ ...base, flags: TcpFlags.RST | TcpFlags.ACK, window: 0 }, PH4))), protocols: 'eth:ethertype:ip:tcp', allow: [/Connection reset \(RST\)/] },
  ]);
});

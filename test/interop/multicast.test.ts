// UDP multicast and broadcast between a Linux kernel host and xlio-ts over real links
// (issue 8: KI-06, KI-18, KI-23), both directions, on every link driver:
//
//   k (kernel, Node dgram peers: test/interop/peers/mcast-peer.ts, dumpcap on kernelIf):
//     198.18.0.2/24 and 198.18.0.3/24 (a second source for SSM), fd00::2/64
//   xlio-ts (this process, WireHost on the driver's link): 198.18.0.1/24, fd00::1/64
//
// Per driver, in order:
//   KI-06/KI-18 kernel → xlio-ts: two xlio-ts sockets joined to 239.1.2.3 (IP_ADD_MEMBERSHIP)
//     and to ff15::1:2 (IPV6_JOIN_GROUP) each get every datagram a kernel socket sends to the
//     group, byte for byte; after IP_DROP_MEMBERSHIP / IPV6_LEAVE_GROUP nothing more arrives.
//   KI-06/KI-18 xlio-ts → kernel: a kernel socket joined to the group gets every datagram an
//     xlio-ts socket sends (IP_MULTICAST_IF / IPV6_MULTICAST_IF, IP_MULTICAST_TTL 3 /
//     IPV6_MULTICAST_HOPS 4).
//   KI-06 source-specific: IP_ADD_SOURCE_MEMBERSHIP (239.1.2.4, source 198.18.0.2) delivers
//     the datagrams from 198.18.0.2 and none from 198.18.0.3.
//   KI-23 kernel → xlio-ts: 255.255.255.255 and 198.18.0.255 reach an xlio-ts socket bound to
//     0.0.0.0 (no SO_BROADCAST needed to receive, as on Linux).
//   KI-23 xlio-ts → kernel: without SO_BROADCAST sendto either address is EACCES (Linux's
//     ip_route_output → udp_sendmsg); with it both reach a kernel socket bound to 0.0.0.0.
//   On the wire (dumpcap on kernelIf, decoded by tshark): our IGMPv3 reports join and leave
//     239.1.2.3 and list 198.18.0.2 for 239.1.2.4 (to 224.0.0.22, 01:00:5e:00:00:16, TTL 1,
//     Router Alert: RFC 3376 §4, §9.1); our MLDv2 reports join and leave ff15::1:2 (to ff02::16,
//     33:33:00:00:00:16, hop limit 1, link-local source: RFC 3810 §5, §5.2.13); our group
//     datagrams go to 01:00:5e:01:02:03 / 33:33:00:01:00:02 (RFC 1112 §6.4, RFC 2464 §7)
//     with the TTL / hop limit set; broadcasts to ff:ff:ff:ff:ff:ff (RFC 919, RFC 922).

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Errno } from '../../src/errno.js';
import { nativeAddon, nativeUnavailableReason } from '../../src/native/addon.js';
import * as K from '../../src/socket/constants.js';
import { SockAddr } from '../../src/socket/types.js';
import { ipv4, ipv6 } from '../../src/wire/address.js';
import { DRIVERS, driverTopology, KERNEL_V4, KERNEL_V6, OUR_V4, OUR_V6, type DriverTopology } from '../support/driver-topo.js';
import { haveCommand, netnsSkip } from '../support/netns.js';
import type { Proc } from '../support/processes.js';
import type { WireHost } from '../support/wire-host.js';

const skip = netnsSkip() || (nativeAddon() === null ? `skipped: ${nativeUnavailableReason()}` : false) || (haveCommand('dumpcap') && haveCommand('tshark') ? false : 'needs dumpcap and tshark (apt-get install tshark)');

const PEER = new URL('./peers/mcast-peer.js', import.meta.url).pathname;
const GROUP4 = '239.1.2.3';
const SSM_GROUP4 = '239.1.2.4';
const GROUP6 = 'ff15::1:2';
const KERNEL_V4_B = '198.18.0.3';
const DIRECTED = '198.18.0.255';
const LIMITED = '255.255.255.255';
const PORT = { in4: 5101, in6: 5102, out4: 5103, out6: 5104, ssm: 5105, bcastIn: 5106, bcastOut: 5107 };
const MC_TTL = 3;
const MC_HOPS = 4;
/** How long a socket waits for a datagram that must arrive, and one that must not. */
const ARRIVE_MS = 4000;
const ABSENT_MS = 600;

/** Distinct, checkable payloads: a label and a pattern, 100–400 bytes. */
function payloads(label: string, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const head = new TextEncoder().encode(`${label} #${i} `);
    const b = new Uint8Array(100 + ((i * 97 + label.length * 13) % 300));
    for (let j = 0; j < b.length; j++) b[j] = (j * 7 + i * 31 + 1) & 0xff;
    b.set(head.subarray(0, b.length));
    out.push(b);
  }
  return out;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** struct ip_mreqn {imr_multiaddr, imr_address, imr_ifindex}: addresses in network order. */
function ipMreqn(group: string, addr: string, ifindex = 0): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setInt32(0, ipv4(group), false);
  v.setInt32(4, ipv4(addr), false);
  v.setInt32(8, ifindex, true);
  return b;
}

/** struct ip_mreq_source {imr_multiaddr, imr_interface, imr_sourceaddr}. */
function ipMreqSource(group: string, iface: string, source: string): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setInt32(0, ipv4(group), false);
  v.setInt32(4, ipv4(iface), false);
  v.setInt32(8, ipv4(source), false);
  return b;
}

/** struct ipv6_mreq {ipv6mr_multiaddr, ipv6mr_interface}. */
function ipv6Mreq(group: string, ifindex: number): Uint8Array {
  const b = new Uint8Array(20);
  b.set(ipv6(group));
  new DataView(b.buffer).setInt32(16, ifindex, true);
  return b;
}

/** A struct in_addr. */
function inAddr(addr: string): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, ipv4(addr), false);
  return b;
}

function ok(r: number, what: string): number {
  assert.ok(r >= 0, `${what}: ${r < 0 ? `-${Object.entries(Errno).find(([, n]) => n === -r)?.[0] ?? -r}` : r}`);
  return r;
}

/** An xlio-ts UDP socket bound to the wildcard and `port`, with a receive timeout. */
function udpSocket(h: WireHost, family: 4 | 6, port: number): number {
  const api = h.api;
  const fd = ok(api.socket(family === 4 ? K.AF_INET : K.AF_INET6, K.SOCK_DGRAM, 0), 'socket');
  if (family === 6) ok(api.setsockoptInt(fd, K.IPPROTO_IPV6, K.IPV6_V6ONLY, 1), 'IPV6_V6ONLY');
  const tv = new Uint8Array(16);
  new DataView(tv.buffer).setBigInt64(8, 250_000n, true); // 250 ms
  ok(api.setsockopt(fd, K.SOL_SOCKET, K.SO_RCVTIMEO, tv), 'SO_RCVTIMEO');
  ok(api.bind(fd, family === 4 ? SockAddr.inet(0, port) : SockAddr.inet6(new Uint8Array(16), port)), 'bind');
  return fd;
}

interface Got {
  data: Uint8Array;
  from: string;
}

/** Reads datagrams from fd until `n` arrived or `ms` passed. */
async function receive(h: WireHost, fd: number, n: number, ms: number): Promise<Got[]> {
  const got: Got[] = [];
  const buf = new Uint8Array(2048);
  const from = new SockAddr();
  const deadline = Date.now() + ms;
  while (got.length < n && Date.now() < deadline) {
    const r = await h.io.recvfrom(fd, buf, 0, from);
    if (r === -Errno.EAGAIN) continue;
    ok(r, 'recvfrom');
    const text = from.toString();
    got.push({ data: buf.slice(0, r), from: text.startsWith('[') ? text.slice(1, text.lastIndexOf(']')) : text.slice(0, text.lastIndexOf(':')) });
  }
  return got;
}

function assertPayloads(got: readonly Got[], want: readonly Uint8Array[], from: string, what: string): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} of ${want.length} datagrams`);
  for (let i = 0; i < want.length; i++) {
    assert.equal(got[i]!.from, from, `${what}: datagram ${i} from`);
    assert.deepEqual(Buffer.from(got[i]!.data), Buffer.from(want[i]!), `${what}: datagram ${i} bytes`);
  }
}

/** The kernel sends `data` (Node dgram in k). */
async function kernelSend(d: DriverTopology, cfg: { family: 4 | 6; bind: string; to: string; port: number; iface?: string; hops?: number; broadcast?: boolean }, data: readonly Uint8Array[]): Promise<void> {
  const out = await d.topo.runAsync(d.k, [process.execPath, PEER, 'send', JSON.stringify({ ...cfg, payloads: data.map(b64) })], { timeoutMs: 10_000 });
  assert.match(out, new RegExp(`sent ${data.length}`));
}

/** Starts a kernel receiver (Node dgram in k) and waits until it is bound and joined. */
async function kernelReceiver(d: DriverTopology, cfg: { family: 4 | 6; bind: string; port: number; join?: [string, string]; broadcast?: boolean; count: number }): Promise<{ proc: Proc; result(): Promise<Got[]> }> {
  const proc = d.topo.spawn(d.k, [process.execPath, PEER, 'recv', JSON.stringify({ ...cfg, ms: ARRIVE_MS })]);
  await proc.waitFor(/^ready$/m, 10_000);
  return {
    proc,
    async result() {
      await proc.waitFor(/^done \d+$/m, ARRIVE_MS + 5000);
      return proc.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { from: string; data: string })
        .map((m) => ({ from: m.from, data: new Uint8Array(Buffer.from(m.data, 'base64')) }));
    },
  };
}

function execAsync(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`))));
  });
}

/** tshark's fields for every frame of `pcap` matching `filter`, one record per frame. */
async function frames(pcap: string, filter: string, fields: readonly string[]): Promise<Record<string, string>[]> {
  const out = await execAsync('tshark', ['-r', pcap, '-Y', filter, '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=a', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])]);
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const v = l.split('|');
      return Object.fromEntries(fields.map((f, i) => [f, v[i] ?? '']));
    });
}

async function driverCase(t: TestContext, kind: (typeof DRIVERS)[number]): Promise<void> {
  const d = await driverTopology(kind, 'mc');
  t.after(() => d.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'xlio-mcast-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pcap = join(dir, 'k.pcapng');
  const h = d.host;
  const api = h.api;
  const ifindex = h.stack.primary.index;
  const IF = d.kernelIf;
  await d.topo.runAsync(d.k, ['ip', 'addr', 'add', `${KERNEL_V4_B}/24`, 'dev', IF]);
  const cap = d.topo.spawn(d.k, ['dumpcap', '-i', IF, '-w', pcap]);
  await cap.waitFor(/Capturing on/, 10_000);
  await sleep(300);

  await t.test(`KI-06/KI-18 ${kind}: kernel → xlio-ts IPv4 multicast ${GROUP4}, then IP_DROP_MEMBERSHIP stops it`, async () => {
    // Two receivers on one port (SO_REUSEADDR, as multicast receivers on Linux do).
    const fds: number[] = [];
    for (let i = 0; i < 2; i++) {
      const fd = ok(api.socket(K.AF_INET, K.SOCK_DGRAM, 0), 'socket');
      ok(api.setsockoptInt(fd, K.SOL_SOCKET, K.SO_REUSEADDR, 1), 'SO_REUSEADDR');
      const tv = new Uint8Array(16);
      new DataView(tv.buffer).setBigInt64(8, 250_000n, true);
      ok(api.setsockopt(fd, K.SOL_SOCKET, K.SO_RCVTIMEO, tv), 'SO_RCVTIMEO');
      ok(api.bind(fd, SockAddr.inet(0, PORT.in4)), 'bind');
      // Joined by interface address (struct ip_mreqn's imr_address), and by index.
      ok(api.setsockopt(fd, K.IPPROTO_IP, K.IP_ADD_MEMBERSHIP, i === 0 ? ipMreqn(GROUP4, OUR_V4) : ipMreqn(GROUP4, '0.0.0.0', ifindex)), 'IP_ADD_MEMBERSHIP');
      fds.push(fd);
    }
    assert.equal(api.setsockopt(fds[0]!, K.IPPROTO_IP, K.IP_ADD_MEMBERSHIP, ipMreqn(GROUP4, OUR_V4)), -Errno.EADDRINUSE, 'joining twice');
    await sleep(100);
    const data = payloads('k→x v4', 3);
    await kernelSend(d, { family: 4, bind: KERNEL_V4, to: GROUP4, port: PORT.in4 }, data);
    for (const fd of fds) assertPayloads(await receive(h, fd, data.length, ARRIVE_MS), data, KERNEL_V4, `socket ${fd}`);
    for (const fd of fds) ok(api.setsockopt(fd, K.IPPROTO_IP, K.IP_DROP_MEMBERSHIP, ipMreqn(GROUP4, OUR_V4)), 'IP_DROP_MEMBERSHIP');
    assert.equal(api.setsockopt(fds[0]!, K.IPPROTO_IP, K.IP_DROP_MEMBERSHIP, ipMreqn(GROUP4, OUR_V4)), -Errno.EADDRNOTAVAIL, 'leaving twice');
    await kernelSend(d, { family: 4, bind: KERNEL_V4, to: GROUP4, port: PORT.in4 }, payloads('after leave', 2));
    for (const fd of fds) assert.deepEqual(await receive(h, fd, 1, ABSENT_MS), [], 'nothing after leaving');
    for (const fd of fds) api.close(fd);
  });

  await t.test(`KI-06/KI-18 ${kind}: kernel → xlio-ts IPv6 multicast ${GROUP6}, then IPV6_LEAVE_GROUP stops it`, async () => {
    const fds: number[] = [];
    for (let i = 0; i < 2; i++) {
      const fd = ok(api.socket(K.AF_INET6, K.SOCK_DGRAM, 0), 'socket');
      ok(api.setsockoptInt(fd, K.SOL_SOCKET, K.SO_REUSEADDR, 1), 'SO_REUSEADDR');
      ok(api.setsockoptInt(fd, K.IPPROTO_IPV6, K.IPV6_V6ONLY, 1), 'IPV6_V6ONLY');
      const tv = new Uint8Array(16);
      new DataView(tv.buffer).setBigInt64(8, 250_000n, true);
      ok(api.setsockopt(fd, K.SOL_SOCKET, K.SO_RCVTIMEO, tv), 'SO_RCVTIMEO');
      ok(api.bind(fd, SockAddr.inet6(new Uint8Array(16), PORT.in6)), 'bind');
      ok(api.setsockopt(fd, K.IPPROTO_IPV6, K.IPV6_JOIN_GROUP, ipv6Mreq(GROUP6, ifindex)), 'IPV6_JOIN_GROUP');
      fds.push(fd);
    }
    await sleep(100);
    const data = payloads('k→x v6', 3);
    await kernelSend(d, { family: 6, bind: KERNEL_V6, to: GROUP6, port: PORT.in6, iface: `::%${IF}` }, data);
    for (const fd of fds) assertPayloads(await receive(h, fd, data.length, ARRIVE_MS), data, KERNEL_V6, `socket ${fd}`);
    for (const fd of fds) ok(api.setsockopt(fd, K.IPPROTO_IPV6, K.IPV6_LEAVE_GROUP, ipv6Mreq(GROUP6, ifindex)), 'IPV6_LEAVE_GROUP');
    await kernelSend(d, { family: 6, bind: KERNEL_V6, to: GROUP6, port: PORT.in6, iface: `::%${IF}` }, payloads('after leave', 2));
    for (const fd of fds) assert.deepEqual(await receive(h, fd, 1, ABSENT_MS), [], 'nothing after leaving');
    for (const fd of fds) api.close(fd);
  });

  await t.test(`KI-06/KI-18 ${kind}: xlio-ts → kernel IPv4 multicast ${GROUP4} (IP_MULTICAST_IF, IP_MULTICAST_TTL ${MC_TTL})`, async () => {
    const data = payloads('x→k v4', 3);
    const rx = await kernelReceiver(d, { family: 4, bind: '0.0.0.0', port: PORT.out4, join: [GROUP4, KERNEL_V4], count: data.length });
    const fd = udpSocket(h, 4, 0);
    ok(api.setsockopt(fd, K.IPPROTO_IP, K.IP_MULTICAST_IF, inAddr(OUR_V4)), 'IP_MULTICAST_IF');
    ok(api.setsockoptInt(fd, K.IPPROTO_IP, K.IP_MULTICAST_TTL, MC_TTL), 'IP_MULTICAST_TTL');
    for (const b of data) {
      assert.equal(await h.io.sendto(fd, b, 0, SockAddr.inet(ipv4(GROUP4), PORT.out4)), b.length);
      await sleep(20);
    }
    assertPayloads(await rx.result(), data, OUR_V4, 'kernel receiver');
    api.close(fd);
  });

  await t.test(`KI-06/KI-18 ${kind}: xlio-ts → kernel IPv6 multicast ${GROUP6} (IPV6_MULTICAST_IF, IPV6_MULTICAST_HOPS ${MC_HOPS})`, async () => {
    const data = payloads('x→k v6', 3);
    const rx = await kernelReceiver(d, { family: 6, bind: '::', port: PORT.out6, join: [GROUP6, `::%${IF}`], count: data.length });
    const fd = udpSocket(h, 6, 0);
    ok(api.setsockoptInt(fd, K.IPPROTO_IPV6, K.IPV6_MULTICAST_IF, ifindex), 'IPV6_MULTICAST_IF');
    ok(api.setsockoptInt(fd, K.IPPROTO_IPV6, K.IPV6_MULTICAST_HOPS, MC_HOPS), 'IPV6_MULTICAST_HOPS');
    for (const b of data) {
      assert.equal(await h.io.sendto(fd, b, 0, SockAddr.inet6(ipv6(GROUP6), PORT.out6)), b.length);
      await sleep(20);
    }
    assertPayloads(await rx.result(), data, OUR_V6, 'kernel receiver');
    api.close(fd);
  });

  await t.test(`KI-06 ${kind}: source-specific IP_ADD_SOURCE_MEMBERSHIP (${SSM_GROUP4}, ${KERNEL_V4}) drops ${KERNEL_V4_B}`, async () => {
    const fd = udpSocket(h, 4, PORT.ssm);
    ok(api.setsockopt(fd, K.IPPROTO_IP, K.IP_ADD_SOURCE_MEMBERSHIP, ipMreqSource(SSM_GROUP4, OUR_V4, KERNEL_V4)), 'IP_ADD_SOURCE_MEMBERSHIP');
    await sleep(100);
    await kernelSend(d, { family: 4, bind: KERNEL_V4_B, to: SSM_GROUP4, port: PORT.ssm }, payloads('other source', 2));
    const data = payloads('the source', 3);
    await kernelSend(d, { family: 4, bind: KERNEL_V4, to: SSM_GROUP4, port: PORT.ssm }, data);
    assertPayloads(await receive(h, fd, data.length + 2, ARRIVE_MS / 2), data, KERNEL_V4, 'SSM receiver');
    ok(api.setsockopt(fd, K.IPPROTO_IP, K.IP_DROP_SOURCE_MEMBERSHIP, ipMreqSource(SSM_GROUP4, OUR_V4, KERNEL_V4)), 'IP_DROP_SOURCE_MEMBERSHIP');
    api.close(fd);
  });

  await t.test(`KI-23 ${kind}: kernel → xlio-ts broadcast ${LIMITED} and ${DIRECTED}`, async () => {
    const fd = udpSocket(h, 4, PORT.bcastIn); // no SO_BROADCAST: receiving needs none
    const lim = payloads('limited', 2);
    const dir = payloads('directed', 2);
    // Bound to 198.18.0.2, the kernel sends 255.255.255.255 out of that address's device.
    await kernelSend(d, { family: 4, bind: KERNEL_V4, to: LIMITED, port: PORT.bcastIn, broadcast: true }, lim);
    await kernelSend(d, { family: 4, bind: KERNEL_V4, to: DIRECTED, port: PORT.bcastIn, broadcast: true }, dir);
    assertPayloads(await receive(h, fd, 4, ARRIVE_MS), [...lim, ...dir], KERNEL_V4, 'broadcast receiver');
    api.close(fd);
  });

  await t.test(`KI-23 ${kind}: xlio-ts → kernel broadcast ${LIMITED} and ${DIRECTED}; EACCES without SO_BROADCAST`, async () => {
    const lim = payloads('limited out', 2);
    const dir = payloads('directed out', 2);
    const rx = await kernelReceiver(d, { family: 4, bind: '0.0.0.0', port: PORT.bcastOut, broadcast: true, count: 4 });
    const fd = udpSocket(h, 4, 0);
    for (const to of [LIMITED, DIRECTED]) assert.equal(api.sendto(fd, lim[0]!, 0, SockAddr.inet(ipv4(to), PORT.bcastOut)), -Errno.EACCES, `sendto ${to} without SO_BROADCAST`);
    ok(api.setsockoptInt(fd, K.SOL_SOCKET, K.SO_BROADCAST, 1), 'SO_BROADCAST');
    for (const [to, data] of [[LIMITED, lim], [DIRECTED, dir]] as const) {
      for (const b of data) {
        assert.equal(await h.io.sendto(fd, b, 0, SockAddr.inet(ipv4(to), PORT.bcastOut)), b.length, `sendto ${to}`);
        await sleep(20);
      }
    }
    assertPayloads(await rx.result(), [...lim, ...dir], OUR_V4, 'kernel broadcast receiver');
    api.close(fd);
  });

  await t.test(`KI-06/KI-18/KI-23 ${kind}: IGMPv3, MLDv2, group MACs, TTL and hop limit on the wire`, async () => {
    await sleep(300);
    await cap.stop('SIGINT', 5000);
    const ourMac = [...h.stack.primary.mac].map((x) => x.toString(16).padStart(2, '0')).join(':');
    // One pass over the capture; the checks below pick their frames from it.
    const all = await frames(pcap, 'igmp || icmpv6.type == 143 || udp', [
      'eth.src', 'eth.dst', 'ip.src', 'ip.dst', 'ip.ttl', 'ip.opt.ra', 'igmp.type', 'igmp.record_type', 'igmp.maddr', 'igmp.saddr',
      'ipv6.src', 'ipv6.dst', 'ipv6.hlim', 'icmpv6.type', 'icmpv6.mldr.mar.record_type', 'icmpv6.mldr.mar.multicast_address', 'udp.dstport',
    ]);
    const pick = (p: (f: Record<string, string>) => boolean): Record<string, string>[] => all.filter(p);
    const igmp = pick((f) => f['eth.src'] === ourMac && f['igmp.type'] !== '');
    assert.ok(igmp.length > 0, 'no IGMP from xlio-ts on the wire');
    for (const f of igmp) {
      // RFC 3376 §4.2.14 / §9.1: v3 reports go to 224.0.0.22 with TTL 1 and the Router Alert option.
      assert.equal(f['igmp.type'], '0x22', `IGMP type ${JSON.stringify(f)}`);
      assert.equal(f['ip.dst'], '224.0.0.22');
      assert.equal(f['eth.dst'], '01:00:5e:00:00:16');
      assert.equal(f['ip.ttl'], '1');
      assert.notEqual(f['ip.opt.ra'], '', `Router Alert ${JSON.stringify(f)}`);
    }
    // Records per group: "type:group:sources".
    const records = igmp.flatMap((f) => {
      const types = f['igmp.record_type']!.split(','), groups = f['igmp.maddr']!.split(',');
      return types.map((ty, i) => ({ type: Number(ty), group: groups[i], sources: f['igmp.saddr'] }));
    });
    // Join: CHANGE_TO_EXCLUDE_MODE (4) {} (or IS_EX in a query answer); leave: CHANGE_TO_INCLUDE_MODE (3) {}.
    const g4 = records.filter((r) => r.group === GROUP4);
    assert.ok(g4.some((r) => r.type === 4 || r.type === 2), `no IGMPv3 join of ${GROUP4}: ${JSON.stringify(records)}`);
    assert.ok(g4.some((r) => r.type === 3), `no IGMPv3 leave (TO_IN {}) of ${GROUP4}: ${JSON.stringify(records)}`);
    const ssm = records.filter((r) => r.group === SSM_GROUP4);
    assert.ok(ssm.some((r) => (r.type === 5 || r.type === 3 || r.type === 1) && r.sources!.includes(KERNEL_V4)), `no IGMPv3 ALLOW/TO_IN {${KERNEL_V4}} for ${SSM_GROUP4}: ${JSON.stringify(records)}`);

    const mld = pick((f) => f['eth.src'] === ourMac && f['icmpv6.type'] === '143');
    assert.ok(mld.length > 0, 'no MLDv2 report from xlio-ts on the wire');
    for (const f of mld) {
      // RFC 3810 §5.2.14, §5.2.13: to ff02::16, hop limit 1, from a link-local address (or :: before one is valid).
      assert.equal(f['ipv6.dst'], 'ff02::16');
      assert.equal(f['eth.dst'], '33:33:00:00:00:16');
      assert.equal(f['ipv6.hlim'], '1');
      assert.ok(f['ipv6.src']!.startsWith('fe80:') || f['ipv6.src'] === '::', `MLD source ${f['ipv6.src']}`);
    }
    const mrec = mld.flatMap((f) => {
      const types = f['icmpv6.mldr.mar.record_type']!.split(','), groups = f['icmpv6.mldr.mar.multicast_address']!.split(',');
      return types.map((ty, i) => ({ type: Number(ty), group: groups[i] }));
    });
    assert.ok(mrec.some((r) => r.group === GROUP6 && (r.type === 4 || r.type === 2)), `no MLDv2 join of ${GROUP6}: ${JSON.stringify(mrec)}`);
    assert.ok(mrec.some((r) => r.group === GROUP6 && r.type === 3), `no MLDv2 leave (TO_IN {}) of ${GROUP6}: ${JSON.stringify(mrec)}`);

    // Our datagrams to the groups: RFC 1112 §6.4 / RFC 2464 §7 MACs, the TTL and hop limit we set.
    const udp4 = pick((f) => f['udp.dstport'] !== '' && f['ip.src'] === OUR_V4 && f['ip.dst'] === GROUP4);
    assert.equal(udp4.length, 3, 'our IPv4 group datagrams on the wire');
    for (const f of udp4) assert.deepEqual([f['eth.dst'], f['ip.ttl']], ['01:00:5e:01:02:03', String(MC_TTL)]);
    const udp6 = pick((f) => f['udp.dstport'] !== '' && f['ipv6.src'] === OUR_V6 && f['ipv6.dst'] === GROUP6);
    assert.equal(udp6.length, 3, 'our IPv6 group datagrams on the wire');
    for (const f of udp6) assert.deepEqual([f['eth.dst'], f['ipv6.hlim']], ['33:33:00:01:00:02', String(MC_HOPS)]);
    // The negative cases were real: the kernel did send what xlio-ts must not deliver.
    const kernelTo = (src: string, dst: string, port: number): number => pick((f) => (f['ip.src'] === src || f['ipv6.src'] === src) && (f['ip.dst'] === dst || f['ipv6.dst'] === dst) && f['udp.dstport'] === String(port)).length;
    assert.equal(kernelTo(KERNEL_V4, GROUP4, PORT.in4), 5, 'kernel datagrams to the IPv4 group, 2 of them after the leave');
    assert.equal(kernelTo(KERNEL_V6, GROUP6, PORT.in6), 5, 'kernel datagrams to the IPv6 group, 2 of them after the leave');
    assert.equal(kernelTo(KERNEL_V4_B, SSM_GROUP4, PORT.ssm), 2, 'datagrams from the excluded source');
    const bcast = pick((f) => f['udp.dstport'] !== '' && f['ip.src'] === OUR_V4 && (f['ip.dst'] === LIMITED || f['ip.dst'] === DIRECTED));
    assert.equal(bcast.length, 4, 'our broadcasts on the wire (none sent without SO_BROADCAST)');
    for (const f of bcast) assert.equal(f['eth.dst'], 'ff:ff:ff:ff:ff:ff');
  });
}

for (const kind of DRIVERS) {
  test(`multicast and broadcast, kernel ⟷ xlio-ts over ${kind}`, { skip, timeout: 120_000 }, async (t) => {
    await driverCase(t, kind);
  });
}

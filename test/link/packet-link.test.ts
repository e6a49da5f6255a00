// The AF_PACKET link against the Linux kernel: namespace k is a kernel host (veth0
// 198.18.0.2/24, fd00::2/64); namespace x holds the other end of the veth pair with no kernel
// addresses (and IPv6 off), and our stack drives it through a TPACKET_V3 packet socket with
// the veth's own MAC, 198.18.0.1/24 and fd00::1/64. Real programs (ping, socat, node's own
// dgram) talk to it from k. Skipped unless root with the addon built.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openPacketLink, type PacketLink, type PacketLinkOptions } from '../../src/link/packet-link.js';
import { nativeAddon, nativeUnavailableReason } from '../../src/native/addon.js';
import { AF_INET, AF_INET6, SHUT_WR, SOCK_DGRAM, SOCK_STREAM, SOL_SOCKET, SO_RCVTIMEO, SO_SNDTIMEO } from '../../src/socket/constants.js';
import { SockAddr, timeval } from '../../src/socket/types.js';
import { haveCommand, netnsSkip, Topology } from '../support/netns.js';
import type { Proc } from '../support/processes.js';
import { PatternSource } from '../support/transfer.js';
import { WireHost } from '../support/wire-host.js';

const skip = netnsSkip() || (nativeAddon() === null ? `skipped: ${nativeUnavailableReason()}` : false);
const skipSocat = skip || (haveCommand('socat') ? false : 'socat is not installed (apt-get install socat)');

const MIB = 1 << 20;

function formatMac(mac: Uint8Array): string {
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

interface Net {
  topo: Topology;
  /** The kernel host's namespace. */
  k: string;
  /** Our stack's namespace. */
  x: string;
}

/** k ↔ x over a veth pair; k has the kernel addresses, x none. Destroyed after the test. */
function net(t: TestContext, tag: string): Net {
  const topo = Topology.create(tag);
  t.after(() => topo.destroy());
  const k = topo.ns('k');
  const x = topo.ns('x');
  topo.veth(k, 'veth0', x, 'veth0');
  topo.noIpv6(x, 'veth0');
  topo.addr(k, 'veth0', '198.18.0.2/24');
  topo.addr(k, 'veth0', 'fd00::2/64');
  return { topo, k, x };
}

/** Our stack on x's veth0 through a packet link; stopped (link closed) after the test, before the topology goes. */
function host(t: TestContext, n: Net, opts: Partial<PacketLinkOptions> = {}): WireHost {
  const link = openPacketLink({ ifname: 'veth0', netns: n.x, ...opts });
  const h = WireHost.start(link, { mac: formatMac(link.mac), addrs: ['198.18.0.1/24', 'fd00::1/64'] });
  t.after(() => h.stop());
  return h;
}

/** Runs a program in a namespace without blocking this thread (our stack runs on it); bounded by `ms`. */
async function run(n: Net, ns: string, cmd: readonly string[], ms: number): Promise<Proc> {
  const p = n.topo.spawn(ns, cmd);
  await p.waitExit(ms);
  return p;
}

/** "rtt min/avg/max/mdev = 0.1/0.2/0.3/0.0 ms" → avg in ms. */
function pingAvg(p: Proc): number {
  const m = /= [\d.]+\/([\d.]+)\//.exec(p.stdout);
  return m === null ? NaN : Number(m[1]);
}

async function ping(n: Net, target: string, extra: readonly string[] = []): Promise<number> {
  const p = await run(n, n.k, ['ping', ...(target.includes(':') ? ['-6'] : []), '-c', '3', '-W', '2', '-i', '0.2', ...extra, target], 15_000);
  assert.equal(p.exit?.code, 0, p.describe());
  assert.match(p.stdout, /3 received/, p.describe());
  return pingAvg(p);
}

/** A blocking socket whose blocking calls give up after `s` seconds (so every await is bounded). */
function socketWithTimeouts(h: WireHost, domain: number, type: number, s = 15): number {
  const fd = h.api.socket(domain, type, 0);
  assert.ok(fd >= 0, `socket: ${fd}`);
  assert.equal(h.api.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval(s * 1e6)), 0);
  assert.equal(h.api.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, timeval(s * 1e6)), 0);
  return fd;
}

/** Sends `bytes` of a seeded pattern; returns its SHA-256. */
async function sendPattern(h: WireHost, fd: number, bytes: number, seed: number): Promise<string> {
  const src = new PatternSource(seed);
  const hash = createHash('sha256');
  const chunk = new Uint8Array(256 * 1024);
  for (let sent = 0; sent < bytes; ) {
    const n = Math.min(chunk.length, bytes - sent);
    const part = chunk.subarray(0, n);
    src.fill(part);
    hash.update(part);
    const r = await h.io.send(fd, part);
    assert.equal(r, n, `send returned ${r} after ${sent} bytes`);
    sent += n;
  }
  return hash.digest('hex');
}

/** Reads to end of stream; returns the byte count and SHA-256. */
async function recvAll(h: WireHost, fd: number, limit: number): Promise<{ bytes: number; sha: string }> {
  const hash = createHash('sha256');
  const buf = new Uint8Array(256 * 1024);
  let bytes = 0;
  for (;;) {
    const r = await h.io.recv(fd, buf);
    assert.ok(r >= 0, `recv returned ${r} after ${bytes} bytes`);
    if (r === 0) break;
    hash.update(buf.subarray(0, r));
    bytes += r;
    assert.ok(bytes <= limit, `more than ${limit} bytes`);
  }
  return { bytes, sha: hash.digest('hex') };
}

function patternFile(dir: string, bytes: number, seed: number): { path: string; sha: string } {
  const data = new Uint8Array(bytes);
  new PatternSource(seed).fill(data);
  const path = join(dir, `pattern-${seed}`);
  writeFileSync(path, data);
  return { path, sha: createHash('sha256').update(data).digest('hex') };
}

function rate(bytes: number, ms: number): string {
  return `${((bytes / MIB) * (1000 / ms)).toFixed(1)} MiB/s`;
}

test('packet link: the kernel pings our stack over IPv4 and IPv6; the link has the veth MAC', { skip, timeout: 60_000 }, async (t) => {
  const n = net(t, 'pping');
  const h = host(t, n);
  const link = h.link as PacketLink;
  const kernelView = n.topo.run(n.x, ['cat', `/sys/class/net/veth0/address`]).trim();
  assert.equal(formatMac(link.mac), kernelView);
  assert.equal(link.mtu, 1500);
  assert.equal(link.ifindex, Number(n.topo.run(n.x, ['cat', '/sys/class/net/veth0/ifindex']).trim()));
  const v4 = await ping(n, '198.18.0.1');
  const v6 = await ping(n, 'fd00::1');
  t.diagnostic(`ping RTT avg: IPv4 ${v4} ms, IPv6 ${v6} ms`);
  const c = link.counters();
  assert.ok(c['rxFrames']! >= 6 && c['txFrames']! >= 6, JSON.stringify(c));
  assert.equal(c['rxDropsTruncated'], 0);
  assert.equal(c['kernelDrops'], 0);
});

test('packet link: TCP with kernel socat, both directions and both roles, SHA-256 checked', { skip: skipSocat, timeout: 120_000 }, async (t) => {
  const n = net(t, 'ptcp');
  const h = host(t, n);
  const dir = mkdtempSync(join(tmpdir(), 'xlio-packet-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const SIZE = 8 * MIB;
  const results: string[] = [];

  // 1. socat server in k receives what our client sends.
  {
    const srv = n.topo.spawn(n.k, ['sh', '-c', 'socat -d -d -u TCP4-LISTEN:5001,reuseaddr STDOUT | sha256sum']);
    await srv.waitFor(/listening on/, 10_000);
    const fd = socketWithTimeouts(h, AF_INET, SOCK_STREAM);
    assert.equal(await h.io.connect(fd, SockAddr.parse('198.18.0.2', 5001)), 0);
    const t0 = performance.now();
    const sha = await sendPattern(h, fd, SIZE, 1);
    assert.equal(h.api.shutdown(fd, SHUT_WR), 0);
    await srv.waitExit(30_000);
    const ms = performance.now() - t0;
    assert.equal(srv.exit?.code, 0, srv.describe());
    assert.equal(srv.stdout.split(' ')[0], sha, 'the kernel received what we sent');
    h.api.close(fd);
    results.push(`our client → socat server ${rate(SIZE, ms)}`);
  }
  // 2. socat server in k sends a file to our client.
  {
    const f = patternFile(dir, SIZE, 2);
    const srv = n.topo.spawn(n.k, ['socat', '-d', '-d', '-u', `OPEN:${f.path}`, 'TCP4-LISTEN:5002,reuseaddr']);
    await srv.waitFor(/listening on/, 10_000);
    const fd = socketWithTimeouts(h, AF_INET, SOCK_STREAM);
    assert.equal(await h.io.connect(fd, SockAddr.parse('198.18.0.2', 5002)), 0);
    const t0 = performance.now();
    const got = await recvAll(h, fd, SIZE);
    const ms = performance.now() - t0;
    assert.deepEqual(got, { bytes: SIZE, sha: f.sha });
    h.api.close(fd);
    await srv.waitExit(10_000);
    results.push(`socat server → our client ${rate(SIZE, ms)}`);
  }
  // 3. Our server receives what a socat client in k sends (over IPv6).
  {
    const f = patternFile(dir, SIZE, 3);
    const l = socketWithTimeouts(h, AF_INET6, SOCK_STREAM);
    assert.equal(h.api.bind(l, SockAddr.parse('fd00::1', 5003)), 0);
    assert.equal(h.api.listen(l, 4), 0);
    const accepted = h.io.accept(l);
    const cli = n.topo.spawn(n.k, ['socat', '-u', `OPEN:${f.path}`, 'TCP6:[fd00::1]:5003']);
    const fd = await accepted;
    assert.ok(fd >= 0, `accept: ${fd} ${cli.describe()}`);
    const t0 = performance.now();
    const got = await recvAll(h, fd, SIZE);
    const ms = performance.now() - t0;
    assert.deepEqual(got, { bytes: SIZE, sha: f.sha });
    await cli.waitExit(10_000);
    assert.equal(cli.exit?.code, 0, cli.describe());
    h.api.close(fd);
    h.api.close(l);
    results.push(`socat client → our server (IPv6) ${rate(SIZE, ms)}`);
  }
  // 4. Our server sends to a socat client in k.
  {
    const l = socketWithTimeouts(h, AF_INET, SOCK_STREAM);
    assert.equal(h.api.bind(l, SockAddr.parse('198.18.0.1', 5004)), 0);
    assert.equal(h.api.listen(l, 4), 0);
    const accepted = h.io.accept(l);
    const cli = n.topo.spawn(n.k, ['sh', '-c', 'socat -u TCP4:198.18.0.1:5004 STDOUT | sha256sum']);
    const fd = await accepted;
    assert.ok(fd >= 0, `accept: ${fd} ${cli.describe()}`);
    const t0 = performance.now();
    const sha = await sendPattern(h, fd, SIZE, 4);
    assert.equal(h.api.shutdown(fd, SHUT_WR), 0);
    await cli.waitExit(30_000);
    const ms = performance.now() - t0;
    assert.equal(cli.exit?.code, 0, cli.describe());
    assert.equal(cli.stdout.split(' ')[0], sha);
    h.api.close(fd);
    h.api.close(l);
    results.push(`our server → socat client ${rate(SIZE, ms)}`);
  }
  const c = (h.link as PacketLink).counters();
  t.diagnostic(`8 MiB each: ${results.join('; ')}`);
  t.diagnostic(`counters: ${JSON.stringify(c)}`);
  assert.equal(c['rxDropsTruncated'], 0);
  assert.equal(c['rxDropsTooLong'], 0);
  assert.equal(c['txOversize'], 0);
});

test('packet link: UDP echo both ways (kernel echo server over IPv4, our echo server over IPv6)', { skip: skipSocat, timeout: 60_000 }, async (t) => {
  const n = net(t, 'pudp');
  const h = host(t, n);
  // The kernel echoes: socat's PIPE sends each datagram back to its sender.
  {
    const srv = n.topo.spawn(n.k, ['socat', '-d', '-d', '-T', '10', 'UDP4-LISTEN:6001,reuseaddr', 'PIPE']);
    await srv.waitFor(/listening on/, 10_000);
    const fd = socketWithTimeouts(h, AF_INET, SOCK_DGRAM, 5);
    assert.equal(h.api.connect(fd, SockAddr.parse('198.18.0.2', 6001)), 0);
    const buf = new Uint8Array(2048);
    for (let i = 0; i < 20; i++) {
      const msg = new TextEncoder().encode(`datagram ${i} `.padEnd(100 + i * 50, '.'));
      assert.equal(await h.io.send(fd, msg), msg.length);
      const r = await h.io.recv(fd, buf);
      assert.equal(r, msg.length, `echo ${i}: ${r}`);
      assert.deepEqual(buf.subarray(0, r), msg);
    }
    h.api.close(fd);
  }
  // We echo: a kernel client sends a line and prints the reply.
  {
    const fd = socketWithTimeouts(h, AF_INET6, SOCK_DGRAM, 10);
    assert.equal(h.api.bind(fd, SockAddr.parse('fd00::1', 6002)), 0);
    const cli = n.topo.spawn(n.k, ['sh', '-c', 'for i in 1 2 3; do echo "hello xlio $i" | socat -t 1 - UDP6:[fd00::1]:6002 || exit 1; done']);
    const buf = new Uint8Array(2048);
    const from = SockAddr.unspec();
    for (let i = 0; i < 3; i++) {
      const r = await h.io.recvfrom(fd, buf, 0, from);
      assert.ok(r > 0, `recvfrom: ${r} ${cli.describe()}`);
      assert.equal(h.api.sendto(fd, buf.subarray(0, r), 0, from), r);
    }
    await cli.waitExit(15_000);
    assert.equal(cli.exit?.code, 0, cli.describe());
    assert.equal(cli.stdout, 'hello xlio 1\nhello xlio 2\nhello xlio 3\n');
    h.api.close(fd);
  }
});

test('packet link: with PACKET_QDISC_BYPASS our frames skip the interface qdisc; without it they pass through it', { skip: skipSocat, timeout: 60_000 }, async (t) => {
  const n = net(t, 'pqd');
  // A counting qdisc on x's veth0 egress (veth has none by default): "Sent B bytes P pkt".
  n.topo.run(n.x, ['tc', 'qdisc', 'replace', 'dev', 'veth0', 'root', 'pfifo', 'limit', '1000']);
  const qdiscPackets = (): number => {
    const out = n.topo.run(n.x, ['tc', '-s', 'qdisc', 'show', 'dev', 'veth0']);
    const m = /Sent \d+ bytes (\d+) pkt/.exec(out);
    assert.ok(m !== null, out);
    return Number(m[1]);
  };
  const through: Record<string, number> = {};
  for (const bypass of [true, false]) {
    const link = openPacketLink({ ifname: 'veth0', netns: n.x, qdiscBypass: bypass });
    const h = WireHost.start(link, { mac: formatMac(link.mac), addrs: ['198.18.0.1/24', 'fd00::1/64'] });
    try {
      const before = qdiscPackets();
      await ping(n, '198.18.0.1');
      // A TCP exchange works either way.
      const srvFd = socketWithTimeouts(h, AF_INET, SOCK_STREAM);
      assert.equal(h.api.bind(srvFd, SockAddr.parse('198.18.0.1', 7000)), 0);
      assert.equal(h.api.listen(srvFd, 1), 0);
      const accepted = h.io.accept(srvFd);
      const cli = n.topo.spawn(n.k, ['sh', '-c', 'echo hello | socat -t 5 - TCP4:198.18.0.1:7000']);
      const fd = await accepted;
      assert.ok(fd >= 0, cli.describe());
      const buf = new Uint8Array(64);
      const r = await h.io.recv(fd, buf);
      assert.equal(new TextDecoder().decode(buf.subarray(0, r)), 'hello\n');
      assert.equal(await h.io.send(fd, buf.subarray(0, r)), r);
      h.api.close(fd);
      await cli.waitExit(10_000);
      assert.equal(cli.stdout, 'hello\n', cli.describe());
      h.api.close(srvFd);
      through[String(bypass)] = qdiscPackets() - before;
      assert.ok(link.framesOut >= 6, `sent ${link.framesOut}`);
    } finally {
      h.stop();
    }
  }
  t.diagnostic(`frames through the qdisc: bypass on ${through['true']}, off ${through['false']}`);
  assert.equal(through['true'], 0, 'bypass: nothing of ours reached the qdisc');
  assert.ok(through['false']! >= 6, `no bypass: ${through['false']} frames through the qdisc`);
});

test('packet link: two links in one fanout group share the frames by flow, none lost or doubled', { skip, timeout: 60_000 }, async (t) => {
  const n = net(t, 'pfan');
  const group = 1000 + (process.pid % 60000);
  const a = openPacketLink({ ifname: 'veth0', netns: n.x, fanout: { group, mode: 'hash' } });
  const b = openPacketLink({ ifname: 'veth0', netns: n.x, fanout: { group, mode: 'hash' } });
  t.after(() => (a.close(), b.close()));
  // Without a stack to answer ARP, the kernel in k is told our MAC.
  n.topo.run(n.k, ['ip', 'neigh', 'replace', '198.18.0.1', 'lladdr', formatMac(a.mac), 'dev', 'veth0', 'nud', 'permanent']);
  const FLOWS = 32;
  const PER_FLOW = 10;
  // Node in k: FLOWS sockets (source ports), PER_FLOW datagrams each, "xlio-fanout <flow> <seq>".
  const script = `
    const dgram = require('node:dgram');
    (async () => {
      for (let f = 0; f < ${FLOWS}; f++) {
        const s = dgram.createSocket('udp4');
        await new Promise((r) => s.bind(0, '198.18.0.2', r));
        for (let i = 0; i < ${PER_FLOW}; i++) await new Promise((r) => s.send('xlio-fanout ' + f + ' ' + i, 9000 + f, '198.18.0.1', r));
        s.close();
      }
    })();`;
  const sender = n.topo.spawn(n.k, [process.execPath, '-e', script]);
  const seen = new Map<string, string>(); // "flow seq" → 'a' | 'b'
  const flowsOf = { a: new Set<number>(), b: new Set<number>() };
  let doubled = 0;
  const decoder = new TextDecoder();
  const onFrame = (who: 'a' | 'b') => (bytes: Uint8Array, at: number, len: number) => {
    // Ethernet(14) + IPv4(20, no options from the kernel) + UDP(8), then the payload.
    if (len < 42 || bytes[at + 12] !== 0x08 || bytes[at + 13] !== 0x00 || bytes[at + 23] !== 17) return;
    const text = decoder.decode(bytes.subarray(at + 42, at + len));
    const m = /^xlio-fanout (\d+) (\d+)$/.exec(text);
    if (m === null) return;
    const key = `${m[1]} ${m[2]}`;
    if (seen.has(key)) doubled++;
    seen.set(key, who);
    flowsOf[who].add(Number(m[1]));
  };
  const fa = onFrame('a');
  const fb = onFrame('b');
  const deadline = performance.now() + 20_000;
  while (seen.size < FLOWS * PER_FLOW && performance.now() < deadline) {
    const got = a.receive(fa, 64) + b.receive(fb, 64);
    if (got === 0) await sleep(1);
  }
  await sender.waitExit(10_000);
  // Anything late (a doubled frame would be) has a moment to show up.
  for (let i = 0; i < 20; i++) {
    a.receive(fa, 64);
    b.receive(fb, 64);
    await sleep(5);
  }
  t.diagnostic(`fanout: link a got ${flowsOf.a.size} flows, link b ${flowsOf.b.size} (of ${FLOWS}); frames ${a.framesIn} + ${b.framesIn}`);
  assert.equal(sender.exit?.code, 0, sender.describe());
  assert.equal(seen.size, FLOWS * PER_FLOW, 'every datagram arrived');
  assert.equal(doubled, 0, 'no datagram reached both links');
  assert.ok(flowsOf.a.size > 0 && flowsOf.b.size > 0, 'both links got flows');
  const split = [...flowsOf.a].filter((f) => flowsOf.b.has(f));
  assert.deepEqual(split, [], 'each flow stayed on one link (hash fanout)');
});

test('packet link: one frame per call walks a block across calls in order; frames longer than the stride are dropped and counted', { skip, timeout: 30_000 }, async (t) => {
  const n = net(t, 'pcur');
  const link = openPacketLink({ ifname: 'veth0', netns: n.x });
  t.after(() => link.close());
  const addon = nativeAddon()!;
  n.topo.run(n.k, ['ip', 'neigh', 'replace', '198.18.0.1', 'lladdr', formatMac(link.mac), 'dev', 'veth0', 'nud', 'permanent']);
  // 60 datagrams in one burst from one socket, every tenth 1000 bytes long (more than the 512-byte stride).
  const script = `
    const s = require('node:dgram').createSocket('udp4');
    s.bind(0, '198.18.0.2', async () => {
      for (let i = 0; i < 60; i++) await new Promise((r) => s.send(i % 10 === 9 ? 'x'.repeat(1000) : 'xlio-seq ' + i, 9000, '198.18.0.1', r));
      s.close();
    });`;
  const sender = n.topo.spawn(n.k, [process.execPath, '-e', script]);
  await sender.waitExit(10_000);
  assert.equal(sender.exit?.code, 0, sender.describe());
  await sleep(50); // the block is retired (1 ms) and waits, whole, in the ring
  const STRIDE = 512;
  const buf = new Uint8Array(STRIDE);
  const lens = new Uint32Array(1);
  const seqs: number[] = [];
  const decoder = new TextDecoder();
  for (let i = 0; i < 200; i++) {
    const got = addon.portRecv(link.id, buf, STRIDE, lens, 1);
    if (got === 0) break;
    assert.equal(got, 1);
    const m = /^xlio-seq (\d+)$/.exec(decoder.decode(buf.subarray(42, lens[0])));
    if (m !== null) seqs.push(Number(m[1]));
  }
  const want = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 10 !== 9);
  assert.deepEqual(seqs, want, 'every short datagram, in order, one call at a time');
  const c = link.counters();
  assert.equal(c['rxDropsTooLong'], 6, JSON.stringify(c));
  assert.equal(c['rxDropsTruncated'], 0);
});

test('packet link: 1000 frames through a 16-slot TX ring arrive in order (slots are reclaimed, one kick per batch)', { skip, timeout: 30_000 }, async (t) => {
  const n = net(t, 'ptx');
  // Sender on x with a tiny TX ring; receiver: a second packet link on k's end of the veth.
  const tx = openPacketLink({ ifname: 'veth0', netns: n.x, frames: 16, blockSize: 16384, frameSize: 2048 });
  const rx = openPacketLink({ ifname: 'veth0', netns: n.k });
  t.after(() => (tx.close(), rx.close()));
  const addon = nativeAddon()!;
  const COUNT = 1000;
  const BATCH = 64;
  const STRIDE = 128;
  const buf = new Uint8Array(STRIDE * BATCH);
  const lens = new Uint32Array(BATCH).fill(60);
  // IEEE 802 local experimental EtherType 0x88b5: no protocol on k takes these frames.
  for (let i = 0; i < BATCH; i++) {
    buf.set(rx.mac, i * STRIDE);
    buf.set(tx.mac, i * STRIDE + 6);
    buf[i * STRIDE + 12] = 0x88;
    buf[i * STRIDE + 13] = 0xb5;
  }
  const seqs: number[] = [];
  const onFrame = (bytes: Uint8Array, at: number, len: number): void => {
    if (len >= 18 && bytes[at + 12] === 0x88 && bytes[at + 13] === 0xb5) seqs.push(new DataView(bytes.buffer, bytes.byteOffset + at + 14, 4).getUint32(0));
  };
  let sent = 0;
  const deadline = performance.now() + 15_000;
  while ((sent < COUNT || seqs.length < COUNT) && performance.now() < deadline) {
    const k = Math.min(BATCH, COUNT - sent);
    for (let i = 0; i < k; i++) new DataView(buf.buffer, i * STRIDE + 14, 4).setUint32(0, sent + i);
    const accepted = k > 0 ? addon.portSend(tx.id, buf, STRIDE, lens, 0, k) : 0;
    // A full ring is no error: the rest of the batch is offered again.
    for (let i = accepted; i < k; i++) buf.copyWithin(i * STRIDE - accepted * STRIDE, i * STRIDE, i * STRIDE + STRIDE);
    sent += accepted;
    if (rx.receive(onFrame, 256) === 0) await sleep(1);
  }
  const c = tx.counters();
  t.diagnostic(`tx counters: ${JSON.stringify(c)}`);
  assert.equal(seqs.length, COUNT, `received ${seqs.length} of ${COUNT}`);
  assert.deepEqual(seqs, Array.from({ length: COUNT }, (_, i) => i));
  assert.equal(c['txFrames'], COUNT);
  // One kick per batch, plus one each time the 16 slots fill mid-batch: never one per frame.
  assert.ok(c['kicks']! <= Math.ceil(COUNT / 16) + Math.ceil(COUNT / BATCH), `${c['kicks']} kicks`);
});

test('packet link: a missing interface is ENODEV naming it and the namespace; a missing namespace says so', { skip, timeout: 30_000 }, (t) => {
  const n = net(t, 'perr');
  assert.throws(
    () => openPacketLink({ ifname: 'nosuch0', netns: n.x }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ENODEV');
      assert.match(e.message, new RegExp(`no interface nosuch0 in /run/netns/${n.x}`));
      return true;
    },
  );
  assert.throws(() => openPacketLink({ ifname: 'veth0', netns: `${n.x}-gone` }), (e: Error & { code?: string }) => e.code === 'ENOENT');
  assert.throws(() => openPacketLink({ ifname: 'a-name-longer-than-ifnamsiz' }), (e: Error & { code?: string }) => e.code === 'EINVAL');
  assert.throws(() => openPacketLink({ ifname: 'veth0', netns: n.x, fanout: { group: 1, mode: 'rr' as 'hash' } }), RangeError);
});

test('packet link: without CAP_NET_RAW the error names the capability', { skip: skip || (haveCommand('capsh') ? false : 'capsh is not installed'), timeout: 30_000 }, async (t) => {
  const n = net(t, 'pcap');
  const mod = new URL('../../src/link/packet-link.js', import.meta.url).pathname;
  const code = `import(${JSON.stringify(mod)}).then((m) => { try { m.openPacketLink({ ifname: 'veth0' }); console.log('opened'); } catch (e) { console.log(e.code + ': ' + e.message); } })`;
  // capsh drops CAP_NET_RAW from the bounding set, so the node it starts (as root) lacks it.
  const p = await run(n, n.x, ['capsh', '--drop=cap_net_raw', '--', '-c', `exec ${process.execPath} -e "$0"`, code], 20_000);
  assert.match(p.stdout, /^EPERM: AF_PACKET needs CAP_NET_RAW: run as root or grant it with setcap cap_net_raw\+ep/, p.describe());
});

test('packet link: close releases the socket; the port is gone (EBADF) and the interface opens again', { skip, timeout: 30_000 }, async (t) => {
  const n = net(t, 'pclose');
  const sockets = (): number => n.topo.run(n.x, ['cat', '/proc/net/packet']).trim().split('\n').length - 1;
  const before = sockets();
  const link = openPacketLink({ ifname: 'veth0', netns: n.x });
  assert.equal(sockets(), before + 1);
  const addon = nativeAddon()!;
  link.close();
  link.close(); // idempotent
  assert.equal(sockets(), before, 'the packet socket is closed');
  assert.throws(() => addon.portRecv(link.id, new Uint8Array(link.stride), link.stride, new Uint32Array(1), 1), (e: Error & { code?: string }) => e.code === 'EBADF');
  // The interface is free again: a new link and stack on it answer ping.
  const h = host(t, n);
  await ping(n, '198.18.0.1');
  h.stop();
  // A park in progress (portWaitAsync on a pool thread) holds the port until it returns.
  for (let i = 0; i < 100 && sockets() !== before; i++) await sleep(10);
  assert.equal(sockets(), before);
});

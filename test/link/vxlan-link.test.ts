// The VXLAN link (pure TypeScript over dgram).
//
// Unprivileged: the header codec from literal bytes; a VxlanLink and a plain dgram socket on
// loopback — the exact bytes it sends, what it accepts and what it drops and counts, and how
// its waits end.
//
// As root, against a kernel vxlan device: this process's UDP socket lives in the root
// namespace, so a veth pair joins it to namespace k (root end .1 of a /30 in 198.19.0.0/16
// and fd00:9:PID::1/64, chosen by pid because every test process shares the root namespace;
// k's veth0 .2 and fd00:9:PID::2). In k, vx0 (VNI 42, IPv4 outside: 198.18.10.2/24,
// fd00:10::2/64) and vx6 (VNI 43, IPv6 outside: 198.18.11.2/24, fd00:11::2/64) tunnel to us;
// our stacks are 198.18.10.1 / fd00:10::1 and 198.18.11.1 / fd00:11::1. The kernel pings us
// through both tunnels, and TCP moves some MiB each way with socat (SHA-256 checked);
// datagrams for another VNI or without the I flag are dropped and counted.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VxlanLink, vxlanHeaderVni } from '../../src/link/vxlan-link.js';
import { Errno, errnoName } from '../../src/errno.js';
import { AF_INET, AF_INET6, SHUT_WR, SOCK_STREAM, SOL_SOCKET, SO_RCVTIMEO, SO_SNDTIMEO } from '../../src/socket/constants.js';
import { SockAddr, timeval } from '../../src/socket/types.js';
import { ParseError } from '../../src/wire/error.js';
import { VXLAN_HEADER_LEN, VxlanPacket, emitVxlan, parseVxlan } from '../../src/wire/vxlan.js';
import { haveCommand, netnsSkip, Topology } from '../support/netns.js';
import { Procs } from '../support/processes.js';
import { WireHost } from '../support/wire-host.js';
import { ok, receiveStream } from '../support/stream-check.js';

// ---------------------------------------------------------------- the header, from bytes

/** RFC 7348 §5: flags 0x08 (I), 24 reserved bits, VNI 42 (0x00002a), 8 reserved bits. */
const HEADER_42 = Uint8Array.from([0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x00]);
/** A minimal inner frame: broadcast destination, our MAC, EtherType 0x88b5 (local experimental), 4 bytes. */
const INNER = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0xb5, 0xde, 0xad, 0xbe, 0xef]);

describe('VXLAN header', () => {
  test('deconstructs a literal header', () => {
    const p = new VxlanPacket(HEADER_42);
    assert.equal(p.flags, 0x08);
    assert.equal(p.vni, 42);
    assert.equal(vxlanHeaderVni(HEADER_42), 42);
    // The largest VNI, and reserved bits, which a receiver ignores (RFC 7348 §5).
    assert.equal(vxlanHeaderVni(Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), 0xffffff);
    assert.equal(vxlanHeaderVni(Uint8Array.from([0x0c, 0, 0, 0, 0x12, 0x34, 0x56, 0])), 0x123456);
    // Without the I flag the VNI is not valid.
    assert.equal(vxlanHeaderVni(Uint8Array.from([0x00, 0, 0, 0, 0, 0, 0x2a, 0])), -1);
    assert.equal(vxlanHeaderVni(Uint8Array.from([0xf7, 0, 0, 0, 0, 0, 0x2a, 0])), -1);
  });

  test('constructs the same bytes, and parse/emit round-trip a datagram', () => {
    const b = new Uint8Array(8);
    const p = new VxlanPacket(b);
    p.flags = 0x08;
    p.vni = 42;
    assert.deepEqual(b, HEADER_42);
    const dgramBytes = new Uint8Array([...HEADER_42, ...INNER]);
    const r = parseVxlan(dgramBytes);
    if (r instanceof ParseError) assert.fail(r.toString());
    assert.equal(r.flags, 0x08);
    assert.equal(r.vni, 42);
    assert.deepEqual(r.payload, INNER);
    assert.ok(parseVxlan(HEADER_42.subarray(0, 7)) instanceof ParseError, 'truncated');
    assert.ok(parseVxlan(Uint8Array.from([0, 0, 0, 0, 0, 0, 42, 0])) instanceof ParseError, 'no I flag');
    const out = new Uint8Array(VXLAN_HEADER_LEN + INNER.length);
    assert.equal(emitVxlan({ flags: 0x08, vni: 42, reserved1: 0, reserved2: 0, payload: INNER }, out), out.length);
    assert.deepEqual(out, dgramBytes);
  });
});

// ---------------------------------------------------------------- the link on loopback

/** A plain UDP socket on 127.0.0.1 (loopback: nothing leaves the host). */
async function udp(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

function nextMessage(s: dgram.Socket, ms: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no datagram within ${ms} ms`)), ms);
    s.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
  });
}

function send(s: dgram.Socket, bytes: Uint8Array, port: number): Promise<void> {
  return new Promise((resolve, reject) => s.send(bytes, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
}

describe('VxlanLink on loopback', { timeout: 20_000 }, () => {
  let peer: dgram.Socket;
  let link: VxlanLink;
  before(async () => {
    peer = await udp();
    link = await VxlanLink.open({ vni: 42, local: { address: '127.0.0.1', port: 0 }, remote: { address: '127.0.0.1', port: peer.address().port }, mtu: 1450 });
  });
  after(() => {
    link?.close();
    peer?.close();
  });

  test('transmit sends the header and the frame, byte for byte', async () => {
    const got = nextMessage(peer, 5000);
    link.transmit(INNER);
    assert.deepEqual(new Uint8Array(await got), new Uint8Array([...HEADER_42, ...INNER]));
    assert.equal(link.framesOut, 1);
  });

  test('a datagram for our VNI becomes a frame; others are dropped and counted', async () => {
    const port = link.address().port;
    assert.equal(await link.waitForDataAsync(0), false);
    const woke = link.waitForDataAsync(5000);
    await send(peer, new Uint8Array([...HEADER_42, ...INNER]), port);
    assert.equal(await woke, true);
    // Another VNI, no I flag, too short for a header and an Ethernet header.
    await send(peer, new Uint8Array([0x08, 0, 0, 0, 0, 0, 0x07, 0, ...INNER]), port);
    await send(peer, new Uint8Array([0x00, 0, 0, 0, 0, 0, 0x2a, 0, ...INNER]), port);
    await send(peer, new Uint8Array([0x08, 0, 0, 0, 0, 0, 0x2a, 0, 0xff]), port);
    // Then one more good one, so the bad ones have surely been seen (datagrams on loopback keep their order).
    await send(peer, new Uint8Array([...HEADER_42, ...INNER.subarray(0, 14)]), port);
    for (let i = 0; i < 100 && link.queued < 2; i++) await sleep(10);
    const frames: number[][] = [];
    assert.equal(
      link.receive((bytes, at, len) => frames.push([...bytes.subarray(at, at + len)]), 64),
      2,
    );
    assert.deepEqual(frames, [[...INNER], [...INNER.subarray(0, 14)]]);
    assert.equal(link.rxOtherVni, 1);
    assert.equal(link.rxBadHeader, 2);
    assert.equal(link.framesIn, 2);
    assert.equal(link.receive(() => assert.fail('nothing more'), 64), 0);
  });

  test('a full receive ring drops and counts', async () => {
    const small = await VxlanLink.open({ vni: 42, local: { address: '127.0.0.1', port: 0 }, remote: { address: '127.0.0.1', port: peer.address().port }, mtu: 1450, rxSlots: 4 });
    try {
      for (let i = 0; i < 6; i++) await send(peer, new Uint8Array([...HEADER_42, ...INNER]), small.address().port);
      for (let i = 0; i < 100 && small.queued + small.rxDropsFull < 6; i++) await sleep(10);
      assert.equal(small.queued, 4);
      assert.equal(small.rxDropsFull, 2);
      assert.equal(small.receive(() => {}, 64), 4);
    } finally {
      small.close();
    }
  });

  test('waits end on timeout, on interruptWait, and an interrupt before a wait ends the next one', async () => {
    let t0 = performance.now();
    assert.equal(await link.waitForDataAsync(30), false);
    assert.ok(performance.now() - t0 >= 25);
    t0 = performance.now();
    const w = link.waitForDataAsync(5000);
    setTimeout(() => link.interruptWait(), 10);
    assert.equal(await w, false);
    assert.ok(performance.now() - t0 < 1000);
    link.interruptWait();
    t0 = performance.now();
    assert.equal(await link.waitForDataAsync(5000), false);
    assert.ok(performance.now() - t0 < 100);
    // The synchronous wait cannot block: it says whether frames are queued.
    assert.equal(link.waitForData(1000), false);
  });

  test('options are checked', async () => {
    const remote = { address: '127.0.0.1', port: 9 };
    await assert.rejects(VxlanLink.open({ vni: 1 << 24, local: { address: '127.0.0.1', port: 0 }, remote }), /VNI is 24 bits/);
    await assert.rejects(VxlanLink.open({ vni: 1, local: { address: 'localhost', port: 0 }, remote }), /not an IP address literal/);
    await assert.rejects(VxlanLink.open({ vni: 1, local: { address: '::1', port: 0 }, remote }), /different address families/);
    await assert.rejects(VxlanLink.open({ vni: 1, local: { address: '127.0.0.1', port: link.address().port }, remote }), /cannot bind UDP 127\.0\.0\.1 port \d+: .*EADDRINUSE/);
    await assert.rejects(VxlanLink.open({ vni: 1, local: { address: '127.0.0.1', port: 0 }, remote, mtu: 65486 }), /inner MTU 65486 is out of range \(68 … 65485\)/);
    // The default inner MTU: the loopback's (65536) less 50 bytes of encapsulation, capped
    // where the outer datagram would pass 64 KiB, as the kernel's vxlan caps it.
    const lo = await VxlanLink.open({ vni: 1, local: { address: '127.0.0.1', port: 0 }, remote });
    try {
      assert.equal(lo.mtu, 65535 - 50);
    } finally {
      lo.close();
    }
  });
});

// ---------------------------------------------------------------- against a kernel vxlan device

const skip = netnsSkip() || (haveCommand('socat') ? false : 'socat is not installed (apt-get install socat)');
/** Bytes each TCP transfer moves. */
const TRANSFER = 16 << 20;
const OUR_MAC = '02:00:00:00:00:01';

function pingRtt(out: string, count: number): string {
  assert.match(out, new RegExp(`${count} packets transmitted, ${count} received`), out);
  const m = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\//.exec(out);
  assert.ok(m !== null, out);
  return `rtt min/avg/max ${m[1]}/${m[2]}/${m[3]} ms`;
}

describe('VxlanLink against a kernel vxlan device', { skip, timeout: 240_000 }, () => {
  let topo: Topology;
  let k: string;
  // The outer addresses live in the root namespace, which every test process shares: a /30
  // and a /64 of their own per process (198.19.0.0/16, fd00:9:PID::/64), so runs side by side
  // (and other tests' tunnels) do not collide.
  const slot = process.pid % 16000;
  const net4 = `198.19.${slot >> 6}.${(slot & 63) << 2}`.split('.').map(Number);
  const ROOT4 = [...net4.slice(0, 3), net4[3]! + 1].join('.');
  const K4 = [...net4.slice(0, 3), net4[3]! + 2].join('.');
  const net6 = `fd00:9:${(process.pid % 65536).toString(16)}`;
  const ROOT6 = `${net6}::1`;
  const K6 = `${net6}::2`;
  const rootVeth = `xtv${process.pid % 100000}`;
  const tmpPeer = `xtw${process.pid % 100000}`;
  let link4: VxlanLink;
  let link6: VxlanLink;
  let host4: WireHost;
  let host6: WireHost;
  const procs = new Procs();
  const file = join(tmpdir(), `xlio-vxlan-${process.pid}.bin`);
  const data = randomBytes(TRANSFER);
  const dataSha = createHash('sha256').update(data).digest('hex');

  function root(cmd: readonly string[]): void {
    const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr.trim() || r.error?.message}`);
  }

  before(async () => {
    topo = Topology.create('vx');
    k = topo.ns('k');
    spawnSync('ip', ['link', 'del', rootVeth]);
    root(['ip', 'link', 'add', rootVeth, 'type', 'veth', 'peer', 'name', tmpPeer]);
    root(['ip', 'link', 'set', tmpPeer, 'netns', k]);
    topo.run(k, ['ip', 'link', 'set', tmpPeer, 'name', 'veth0']);
    // Software checksums and no segmentation or coalescing on the veth: the UDP socket then
    // reads datagrams whose inner frames are complete and no larger than the inner MTU.
    root(['ethtool', '-K', rootVeth, 'tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    topo.offloadsOff(k, 'veth0');
    root(['ip', 'addr', 'add', `${ROOT4}/30`, 'dev', rootVeth]);
    root(['ip', 'addr', 'add', `${ROOT6}/64`, 'dev', rootVeth, 'nodad']);
    root(['ip', 'link', 'set', rootVeth, 'up']);
    topo.addr(k, 'veth0', `${K4}/30`);
    topo.addr(k, 'veth0', `${K6}/64`);
    topo.run(k, ['ip', 'link', 'set', 'veth0', 'up']);
    topo.run(k, ['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'local', K4, 'remote', ROOT4, 'dstport', '4789', 'dev', 'veth0']);
    topo.run(k, ['ip', 'link', 'add', 'vx6', 'type', 'vxlan', 'id', '43', 'local', K6, 'remote', ROOT6, 'dstport', '4789', 'dev', 'veth0']);
    for (const [dev, a4, a6] of [
      ['vx0', '198.18.10.2/24', 'fd00:10::2/64'],
      ['vx6', '198.18.11.2/24', 'fd00:11::2/64'],
    ] as const) {
      topo.run(k, ['ip', 'link', 'set', dev, 'up']);
      topo.addr(k, dev, a4);
      topo.addr(k, dev, a6);
    }
    link4 = await VxlanLink.open({ vni: 42, local: { address: ROOT4, port: 4789 }, remote: { address: K4, port: 4789 } });
    link6 = await VxlanLink.open({ vni: 43, local: { address: ROOT6, port: 4789 }, remote: { address: K6, port: 4789 } });
    host4 = WireHost.start(link4, { mac: OUR_MAC, addrs: ['198.18.10.1/24', 'fd00:10::1/64'] });
    host6 = WireHost.start(link6, { mac: '02:00:00:00:00:02', addrs: ['198.18.11.1/24', 'fd00:11::1/64'] });
    writeFileSync(file, data);
  });

  after(async () => {
    await procs.killAll();
    host4?.stop();
    host6?.stop();
    spawnSync('ip', ['link', 'del', rootVeth]);
    topo?.destroy();
    rmSync(file, { force: true });
  });

  function kernel(cmd: readonly string[], ms: number) {
    return procs.run('ip', ['netns', 'exec', k, ...cmd], ms);
  }

  test('the inner MTU is the outer one less the encapsulation, as the kernel chose', () => {
    assert.equal(link4.mtu, 1450);
    assert.equal(link6.mtu, 1430);
    assert.match(topo.run(k, ['ip', 'link', 'show', 'vx0']), /mtu 1450 /);
    assert.match(topo.run(k, ['ip', 'link', 'show', 'vx6']), /mtu 1430 /);
  });

  test('the kernel pings us through both tunnels, IPv4 and IPv6 inside', { timeout: 60_000 }, async () => {
    for (const [tunnel, v, addr] of [
      ['IPv4 outer', '-4', '198.18.10.1'],
      ['IPv4 outer', '-6', 'fd00:10::1'],
      ['IPv6 outer', '-4', '198.18.11.1'],
      ['IPv6 outer', '-6', 'fd00:11::1'],
    ] as const) {
      const p = await kernel(['ping', v, '-c', '3', '-i', '0.2', '-W', '2', addr], 15_000);
      assert.equal(p.exit?.code, 0, p.describe());
      console.log(`# vxlan (${tunnel}): ping ${v} ${addr}: ${pingRtt(p.stdout, 3)}`);
    }
  });

  for (const [tunnel, fam, ours, theirs] of [
    ['IPv4 outer', AF_INET, '198.18.10.1', '198.18.10.2'],
    ['IPv4 outer', AF_INET6, 'fd00:10::1', 'fd00:10::2'],
    ['IPv6 outer', AF_INET, '198.18.11.1', '198.18.11.2'],
  ] as const) {
    const v = fam === AF_INET ? 'IPv4' : 'IPv6';
    const host = (): WireHost => (tunnel === 'IPv4 outer' ? host4 : host6);
    const tag = `${tunnel}, ${v} inside`;

    test(`TCP (${tag}): kernel → us, ${TRANSFER >> 20} MiB, SHA-256 checked`, { timeout: 90_000 }, async () => {
      const { api, io } = host();
      const port = 5100 + (fam === AF_INET6 ? 10 : 0) + (tunnel === 'IPv6 outer' ? 20 : 0);
      const lfd = ok('socket', api.socket(fam, SOCK_STREAM));
      try {
        ok('bind', api.bind(lfd, SockAddr.parse(ours, port)));
        ok('listen', api.listen(lfd, 4));
        ok('rcvtimeo', api.setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, timeval(20_000_000)));
        const target = fam === AF_INET ? `TCP4:${ours}:${port}` : `TCP6:[${ours}]:${port}`;
        const t0 = performance.now();
        const sender = kernel(['socat', '-u', `OPEN:${file}`, target], 75_000);
        const { bytes, sha } = await receiveStream(host(), lfd);
        const ms = performance.now() - t0;
        const p = await sender;
        assert.equal(p.exit?.code, 0, p.describe());
        assert.equal(bytes, TRANSFER);
        assert.equal(sha, dataSha);
        console.log(`# vxlan (${tag}): TCP kernel → xlio-ts: ${(TRANSFER / 1048576 / (ms / 1000)).toFixed(1)} MiB/s`);
      } finally {
        api.close(lfd);
      }
    });

    test(`TCP (${tag}): us → kernel, ${TRANSFER >> 20} MiB, SHA-256 checked`, { timeout: 90_000 }, async () => {
      const { api, io } = host();
      const port = 5200 + (fam === AF_INET6 ? 10 : 0) + (tunnel === 'IPv6 outer' ? 20 : 0);
      const listen = fam === AF_INET ? `TCP4-LISTEN:${port},bind=${theirs},reuseaddr` : `TCP6-LISTEN:${port},bind=[${theirs}],reuseaddr`;
      const receiver = procs.start('ip', ['netns', 'exec', k, 'sh', '-c', `socat -u ${listen} STDOUT | sha256sum`]);
      let fd = -1;
      for (let attempt = 0; ; attempt++) {
        fd = ok('socket', api.socket(fam, SOCK_STREAM));
        ok('sndtimeo', api.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, timeval(20_000_000)));
        const r = await io.connect(fd, SockAddr.parse(theirs, port));
        if (r === 0) break;
        api.close(fd);
        if (r !== -Errno.ECONNREFUSED || attempt >= 100) throw new Error(`connect: ${r}`);
        await sleep(50);
      }
      const t0 = performance.now();
      try {
        const chunk = 1 << 16;
        for (let off = 0; off < TRANSFER; off += chunk) {
          const r = ok('send', await io.send(fd, data.subarray(off, off + chunk)));
          assert.equal(r, Math.min(chunk, TRANSFER - off));
        }
        ok('shutdown', api.shutdown(fd, SHUT_WR));
        const exit = await receiver.waitExit(60_000);
        const ms = performance.now() - t0;
        assert.equal(exit.code, 0, receiver.describe());
        assert.equal(receiver.stdout.split(' ')[0], dataSha, receiver.describe());
        console.log(`# vxlan (${tag}): TCP xlio-ts → kernel: ${(TRANSFER / 1048576 / (ms / 1000)).toFixed(1)} MiB/s`);
      } finally {
        api.close(fd);
      }
    });
  }

  test('datagrams for another VNI, or without the I flag, are dropped and counted', { timeout: 20_000 }, async () => {
    const s = dgram.createSocket('udp4');
    try {
      await new Promise<void>((r) => s.bind(0, ROOT4, r));
      const before = { other: link4.rxOtherVni, bad: link4.rxBadHeader };
      // A frame that would reach our stack (to its MAC) if the VNI were right.
      const frame = [0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x09, 0x88, 0xb5, 1, 2, 3, 4];
      await new Promise<void>((r, j) => s.send(Uint8Array.from([0x08, 0, 0, 0, 0, 0, 43, 0, ...frame]), 4789, ROOT4, (e) => (e ? j(e) : r())));
      await new Promise<void>((r, j) => s.send(Uint8Array.from([0x00, 0, 0, 0, 0, 0, 42, 0, ...frame]), 4789, ROOT4, (e) => (e ? j(e) : r())));
      for (let i = 0; i < 200 && (link4.rxOtherVni === before.other || link4.rxBadHeader === before.bad); i++) await sleep(10);
      assert.equal(link4.rxOtherVni, before.other + 1);
      assert.equal(link4.rxBadHeader, before.bad + 1);
      console.log('# vxlan counters (IPv4 outer):', JSON.stringify(link4.counters()));
      console.log('# vxlan counters (IPv6 outer):', JSON.stringify(link6.counters()));
    } finally {
      s.close();
    }
  });
});

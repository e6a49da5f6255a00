import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Stack } from '../../src/stack/stack.js';
import { ANY, EPHEMERAL_HIGH, EPHEMERAL_LOW } from '../../src/stack/udp.js';
import { SeededRng } from '../../src/rng.js';
import { ipv4 } from '../../src/wire/address.js';
import { ErrnoError, Errno } from '../../src/errno.js';
import { IcmpRateLimiter } from '../../src/stack/icmp-rate-limit.js';
import { dissectFrame } from '../../src/wire/dissect.js';
import { simTest } from '../support/sim.js';
import { twoStacks } from '../support/stacks.js';
import { errnoOf } from '../support/errno.js';

const A = ipv4('198.18.0.1');
const B = ipv4('198.18.0.2');

function pair(seed: number) {
  return twoStacks(seed);
}

simTest('udp: datagrams travel both ways with their source address and port', (_t, seed) => {
  const { a, b, settle } = pair(seed);
  const server = b.udpSocket();
  server.bind(ANY, 5000);
  const client = a.udpSocket();
  assert.equal(client.sendTo(Uint8Array.from([1, 2, 3]), B, 5000), 3);
  settle();
  const got = server.recv();
  assert.ok(got);
  assert.deepEqual([...got.data], [1, 2, 3]);
  assert.equal(got.address, A);
  assert.ok(got.port >= EPHEMERAL_LOW && got.port <= EPHEMERAL_HIGH, `ephemeral port ${got.port}`);
  assert.equal(client.localPort, got.port);
  server.sendTo(Uint8Array.from([9]), got.address, got.port);
  settle();
  assert.deepEqual([...client.recv()!.data], [9]);
  assert.equal(client.recv(), null, 'empty queue: EAGAIN');
});

simTest('udp: a closed port answers with ICMP port unreachable; a connected socket then gets ECONNREFUSED (KI-09)', (_t, seed) => {
  const { a, b, settle } = pair(seed);
  const s = a.udpSocket();
  s.connect(B, 9);
  s.sendTo(Uint8Array.from([1]));
  settle();
  assert.equal(b.counters.udpNoPort, 1);
  assert.equal(b.counters.icmpUnreachableOut, 1);
  assert.equal(errnoOf(() => s.recv()), 'ECONNREFUSED');
  assert.equal(s.recv(), null, 'the error is reported once');
  // An unconnected socket is not told (Linux without IP_RECVERR).
  const u = a.udpSocket();
  u.sendTo(Uint8Array.from([1]), B, 9);
  settle();
  assert.equal(u.recv(), null);
});

test('udp: bind errors are Linux errno values', () => {
  const s = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), rng: new SeededRng(3), ipv6: false });
  s.addAddress(A, 24);
  const x = s.udpSocket();
  x.bind(A, 7000);
  assert.equal(errnoOf(() => x.bind(A, 7001)), 'EINVAL'); // already bound
  assert.equal(errnoOf(() => s.udpSocket().bind(A, 7000)), 'EADDRINUSE');
  assert.equal(errnoOf(() => s.udpSocket().bind(ANY, 7000)), 'EADDRINUSE');
  assert.equal(errnoOf(() => s.udpSocket().bind(ipv4('198.18.9.9'), 7002)), 'EADDRNOTAVAIL');
  assert.equal(errnoOf(() => s.udpSocket().sendTo(new Uint8Array(1))), 'EDESTADDRREQ');
  assert.equal(errnoOf(() => s.udpSocket().sendTo(new Uint8Array(65508), B, 1)), 'EMSGSIZE');
  assert.equal(errnoOf(() => s.udpSocket().sendTo(new Uint8Array(1), ipv4('198.19.0.1'), 1)), 'ENETUNREACH');
  x.close();
  assert.equal(errnoOf(() => x.recv()), 'EBADF');
  s.udpSocket().bind(A, 7000); // free again after close
  assert.equal(new ErrnoError('EADDRINUSE', 'bind').errno, Errno.EADDRINUSE);
});

simTest('udp: a full receive buffer drops and counts instead of growing', (_t, seed) => {
  const { a, b, settle } = pair(seed);
  const server = b.udpSocket();
  server.bind(B, 6000);
  server.rcvbuf = 1000;
  const c = a.udpSocket();
  for (let i = 0; i < 5; i++) c.sendTo(new Uint8Array(300), B, 6000);
  settle();
  assert.equal(server.queuedDatagrams, 3);
  assert.equal(server.drops, 2);
});

simTest('udp: corrupted datagrams are dropped (mostly by the UDP checksum) and counted', (_t, seed) => {
  const { sim, a, b, settle } = pair(seed);
  const server = b.udpSocket();
  server.bind(ANY, 5000);
  const c = a.udpSocket();
  c.sendTo(new Uint8Array(1200), B, 5000); // resolves ARP and arrives intact
  settle();
  assert.equal(server.queuedDatagrams, 1);
  server.recv();
  sim.links[0]!.set('ab', { corrupt: 1 }); // one bit flipped in every frame from now on
  const before = { ...b.counters };
  for (let i = 0; i < 20; i++) c.sendTo(new Uint8Array(1200), B, 5000);
  settle();
  // A flipped bit in the source MAC is the one corruption nothing above Ethernet can see.
  const delivered = server.queuedDatagrams;
  const bad = b.counters.udpBadChecksum - before.udpBadChecksum;
  const other = b.counters.droppedMalformed - before.droppedMalformed + b.counters.droppedNotForUs - before.droppedNotForUs;
  assert.equal(bad + other + delivered, 20, 'every corrupted frame is accounted for');
  assert.ok(delivered <= 2, `${delivered} delivered`);
  assert.ok(bad >= 15, `payload bits dominate: ${bad} caught by the UDP checksum`);
});

simTest('udp: port unreachable replies are rate limited like Linux (burst 6, then 1 per second per peer)', (_t, seed) => {
  const { sim, a, b, settle } = pair(seed);
  const s = a.udpSocket();
  s.connect(B, 9);
  for (let i = 0; i < 100; i++) {
    try {
      s.sendTo(Uint8Array.of(i));
    } catch (e) {
      if (!(e instanceof ErrnoError)) throw e; // ECONNREFUSED from an earlier reply
    }
  }
  settle();
  assert.equal(b.counters.udpNoPort, 100);
  assert.equal(b.counters.icmpUnreachableOut, 6);
  assert.equal(b.icmpLimiter.limitedHost, 94);
  // 2.5 s later, two more seconds of credit.
  sim.runUntil(sim.now + 2_500_000);
  for (let i = 0; i < 10; i++) {
    try {
      s.sendTo(Uint8Array.of(i));
    } catch (e) {
      if (!(e instanceof ErrnoError)) throw e;
    }
  }
  settle();
  assert.equal(b.counters.icmpUnreachableOut, 8);
});

test('icmp rate limit: the global bucket caps all peers together', () => {
  const l = new IcmpRateLimiter();
  let allowed = 0;
  for (let peer = 1; peer <= 200; peer++) if (l.allow(peer, 0)) allowed++;
  assert.equal(allowed, 50, 'icmp_msgs_burst');
  assert.equal(l.limitedGlobal, 150);
  let later = 0;
  for (let peer = 201; peer <= 400; peer++) if (l.allow(peer, 20_000)) later++;
  assert.equal(later, 20, '1000 per second: 20 ms refill 20 messages');
  let capped = 0;
  for (let peer = 401; peer <= 600; peer++) if (l.allow(peer, 10_000_000)) capped++;
  assert.equal(capped, 50, 'credit never exceeds the burst');
});

simTest('udp: the in-place send path builds the same valid frames as the general one', (_t, seed) => {
  const { sim, a, b, settle } = pair(seed);
  const frames: Uint8Array[] = [];
  sim.capture({ write: (f) => frames.push(f.slice()) });
  const server = b.udpSocket();
  server.bind(ANY, 5000);
  const c = a.udpSocket();
  c.sendTo(Uint8Array.of(1, 2, 3), B, 5000); // ARP not resolved yet: the general path
  settle();
  c.sendTo(Uint8Array.of(4, 5, 6), B, 5000); // resolved: built in place
  c.sendTo(new Uint8Array(0), B, 5000); // empty datagram, padded to 60 bytes
  settle();
  const udpFrames = frames.map((f) => dissectFrame(f)).filter((d) => d.layers.some((l) => l.layer === 'udp'));
  assert.equal(udpFrames.length, 3);
  for (const d of udpFrames) {
    assert.equal(d.error, null, 'checksums verify');
    const ip = d.layers.find((l) => l.layer === 'ipv4')!;
    assert.ok(ip.layer === 'ipv4' && ip.repr.dontFragment && ip.repr.ttl === 64 && ip.repr.src === A);
  }
  assert.deepEqual([server.recv()?.data, server.recv()?.data, server.recv()?.data].map((x) => x && [...x]), [[1, 2, 3], [4, 5, 6], []]);
  assert.equal(frames.filter((f) => f.length < 60).length, 0);
});

test('udp: SO_REUSEADDR and SO_REUSEPORT bind rules are Linux\'s', () => {
  const s = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), rng: new SeededRng(11), ipv6: false });
  s.addAddress(A, 24);
  const mk = (addr: boolean, port: boolean) => {
    const u = s.udpSocket();
    u.reuseAddress = addr;
    u.reusePort = port;
    return u;
  };
  mk(true, false).bind(ANY, 5353);
  mk(true, false).bind(A, 5353); // both SO_REUSEADDR: wildcard and specific may share
  assert.equal(errnoOf(() => mk(false, false).bind(A, 5353)), 'EADDRINUSE');
  assert.equal(errnoOf(() => mk(false, true).bind(ANY, 5353)), 'EADDRINUSE', 'SO_REUSEPORT alone does not join SO_REUSEADDR sockets');
  mk(false, true).bind(ANY, 6000);
  mk(false, true).bind(ANY, 6000);
  assert.equal(errnoOf(() => mk(true, false).bind(ANY, 6000)), 'EADDRINUSE');
});

simTest('udp: SO_REUSEPORT spreads flows across sockets and keeps each flow on one; SO_REUSEADDR unicast goes to the newest', (_t, seed) => {
  const { a, b, settle } = pair(seed);
  const group = Array.from({ length: 4 }, () => {
    const u = b.udpSocket();
    u.reusePort = true;
    u.bind(ANY, 7000);
    return u;
  });
  const clients = Array.from({ length: 40 }, () => a.udpSocket());
  a.ping(B, 1, 1, new Uint8Array(0), 0); // resolve ARP first: 120 datagrams would overflow unres_qlen (101)
  settle();
  for (let round = 0; round < 3; round++) for (const c of clients) c.sendTo(Uint8Array.of(round), B, 7000);
  settle();
  const bySocket = group.map((u) => {
    const ports: number[] = [];
    for (let d = u.recv(); d; d = u.recv()) ports.push(d.port);
    return ports;
  });
  assert.equal(bySocket.flat().length, 120);
  assert.ok(bySocket.every((p) => p.length > 0), `spread: ${bySocket.map((p) => p.length)}`);
  for (const c of clients) assert.equal(bySocket.filter((p) => p.includes(c.localPort)).length, 1, 'one flow, one socket');
  const older = b.udpSocket();
  older.reuseAddress = true;
  older.bind(ANY, 7100);
  const newer = b.udpSocket();
  newer.reuseAddress = true;
  newer.bind(ANY, 7100);
  a.udpSocket().sendTo(Uint8Array.of(9), B, 7100);
  settle();
  assert.equal(older.recv(), null);
  assert.deepEqual([...newer.recv()!.data], [9]);
});

simTest('counters: frames and bytes in and out match what crossed the wire', (_t, seed) => {
  const { sim, a, b, settle } = pair(seed);
  let fromA = 0, bytesFromA = 0, fromB = 0, bytesFromB = 0;
  sim.capture({ write: (f) => { if (f[11] === 1) { fromA++; bytesFromA += f.length; } else { fromB++; bytesFromB += f.length; } } });
  const server = b.udpSocket();
  server.bind(ANY, 5000);
  const c = a.udpSocket();
  for (let i = 0; i < 5; i++) c.sendTo(new Uint8Array(i * 300), B, 5000);
  c.sendTo(new Uint8Array(3000), B, 9); // fragments, then a port unreachable back
  settle();
  assert.deepEqual([a.counters.framesOut, a.counters.bytesOut], [fromA, bytesFromA]);
  assert.deepEqual([b.counters.framesIn, b.counters.bytesIn], [fromA, bytesFromA]);
  assert.deepEqual([b.counters.framesOut, b.counters.bytesOut], [fromB, bytesFromB]);
  assert.deepEqual([a.counters.framesIn, a.counters.bytesIn], [fromB, bytesFromB]);
  assert.equal(b.counters.udpIn, 6);
  assert.equal(b.counters.udpNoPort, 1);
});

simTest('udp: ARP failure reaches a socket as EHOSTUNREACH with IP_RECVERR, connected or not; without it nothing (Linux: host unreachable is a soft error)', (_t, seed) => {
  const { a, settle } = pair(seed);
  const MISSING = ipv4('198.18.0.99');
  const plain = a.udpSocket();
  plain.connect(MISSING, 9);
  const told = a.udpSocket();
  told.recvErr = true;
  told.connect(MISSING, 9);
  const unconnected = a.udpSocket();
  unconnected.recvErr = true;
  plain.sendTo(Uint8Array.of(1));
  told.sendTo(Uint8Array.of(2));
  unconnected.sendTo(Uint8Array.of(3), MISSING, 10);
  settle(2_500_000);
  assert.equal(told.recv(), null, 'still resolving: no error yet');
  settle(1_000_000); // three requests one second apart, then FAILED (mcast_solicit = 3)
  assert.equal(errnoOf(() => told.recv()), 'EHOSTUNREACH');
  assert.equal(told.recv(), null, 'reported once');
  assert.equal(errnoOf(() => unconnected.recv()), 'EHOSTUNREACH');
  assert.equal(plain.recv(), null, 'no IP_RECVERR: nothing reported');
  assert.equal(a.counters.droppedUnresolved, 3);
  assert.equal(a.primary.counters.txDropUnresolved, 3);
});

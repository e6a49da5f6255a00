// The stats block (src/runtime/stats.ts): what a publisher writes is what a reader decodes,
// socket by socket, ring by ring; capacities, sequence lock and format errors; the publisher's
// files (a whole-block file without the addon, a descriptor and a shared-memory segment with
// it), its reader-driven cadence, its XLIO_STATS_FILE dump and the cleanup of dead processes'.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/native/addon.js';
import { SeededRng } from '../../src/rng.js';
import { LoopStat } from '../../src/runtime/poll-loop.js';
import {
  FLAG_LIVE_SHM, HEADER_BYTES, STATS_MAGIC, StatsFormatError, StatsPublisher, StatsWriter, blockBytes, decodeHeader, decodeStats, demandStats, formatStats,
  listStats, readStats, statsFileName, statsOptionsFromEnv, type Capacities,
} from '../../src/runtime/stats.js';
import * as K from '../../src/socket/constants.js';
import { Sockets } from '../../src/socket/sockets.js';
import { SockAddr } from '../../src/socket/types.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4, ipv6 } from '../../src/wire/address.js';

/** A stack with sockets and some loopback traffic: UDP 3 × 10 bytes a→b (2 read), TCP 700 bytes. */
function world() {
  const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), rng: new SeededRng(7) });
  const api = new Sockets(stack);
  const lo = ipv4('127.0.0.1');
  const a = api.socket(K.AF_INET, K.SOCK_DGRAM | K.SOCK_NONBLOCK, 0);
  const b = api.socket(K.AF_INET6, K.SOCK_DGRAM | K.SOCK_NONBLOCK, 0);
  assert.equal(api.bind(a, SockAddr.inet(lo, 5000)), 0);
  assert.equal(api.bind(b, SockAddr.inet6(ipv6('::1'), 5001)), 0);
  const c = api.socket(K.AF_INET, K.SOCK_DGRAM | K.SOCK_NONBLOCK, 0);
  assert.equal(api.connect(c, SockAddr.inet(lo, 5000)), 0);
  for (let i = 0; i < 3; i++) assert.equal(api.send(c, new Uint8Array(10)), 10);
  const buf = new Uint8Array(64);
  assert.equal(api.recv(a, buf), 10);
  assert.equal(api.recv(a, buf), 10);
  const l = api.socket(K.AF_INET, K.SOCK_STREAM | K.SOCK_NONBLOCK, 0);
  assert.equal(api.bind(l, SockAddr.inet(lo, 6000)), 0);
  assert.equal(api.listen(l, 4), 0);
  const t = api.socket(K.AF_INET, K.SOCK_STREAM | K.SOCK_NONBLOCK, 0);
  api.connect(t, SockAddr.inet(lo, 6000));
  stack.poll(stack.now); // the handshake over lo
  const s = api.accept4(l, null, K.SOCK_NONBLOCK);
  assert.ok(s > 0, `accept ${s}`);
  assert.equal(api.send(t, new Uint8Array(700)), 700);
  stack.poll(stack.now);
  assert.equal(api.recv(s, new Uint8Array(1000)), 700);
  stack.poll(stack.now + 1_000_000); // delayed ACKs
  return { stack, api, fds: { a, b, c, l, t, s } };
}

const CAP: Capacities = { rings: 4, pools: 2, sockets: 16 };
const meta = { pid: 4242, name: 'node app.js', startedAt: 1000, intervalMs: 100 };

test('stats layout: what the writer fills is what the reader decodes', () => {
  const { stack, api, fds } = world();
  const loopStats = new Float64Array(LoopStat.COUNT);
  loopStats[LoopStat.ROUNDS] = 123;
  loopStats[LoopStat.PARKS] = 4;
  const w = new StatsWriter(new Uint8Array(blockBytes(CAP)), CAP, meta);
  w.fill({ stack, api, loop: { stats: loopStats } }, 5000);
  const s = decodeStats(w.bytes.subarray(0, w.used));
  assert.equal(s.pid, 4242);
  assert.equal(s.name, 'node app.js');
  assert.equal(s.startedAt, 1000);
  assert.equal(s.updatedAt, 5000);
  assert.equal(s.publishes, 1);
  assert.equal(s.sequence, 2, 'even after a publish');
  assert.equal(s.stack['udp_out'], stack.counters.udpOut);
  assert.equal(s.stack['udp_in'], 3);
  assert.equal(s.stack['frames_in'], stack.counters.framesIn);
  assert.equal(s.stack['tcp_segments_out'], stack.tcp.counters.segmentsOut);
  assert.equal(s.loop['rounds'], 123);
  assert.equal(s.loop['parks'], 4);
  // Rings: lo carries everything and, with no link, the loop's counters.
  const lo = s.rings.find((r) => r.name === 'lo')!;
  assert.equal(lo.counters['rx_packets'], stack.lo.counters.rxFrames);
  assert.equal(lo.counters['tx_bytes'], stack.lo.counters.txBytes);
  assert.equal(lo.counters['rx_packets'], lo.counters['tx_packets']);
  assert.equal(lo.polled, true, 'no wire: the loop polls for lo');
  assert.equal(lo.counters['polls'], 123);
  assert.ok(Number.isNaN(s.rings[1]!.counters['polls']!), 'eth0 is not polled');
  assert.deepEqual(s.rings.map((r) => r.name), ['lo', 'eth0']);
  // Sockets, in descriptor order.
  const by = new Map(s.sockets.map((k) => [k.fd, k]));
  assert.equal(s.socketsOpen, 6);
  const a = by.get(fds.a)!;
  assert.deepEqual([a.proto, a.family, a.local, a.localPort, a.remotePort], ['udp', 4, '127.0.0.1', 5000, 0]);
  assert.equal(a.counters['rx_queue_packets'], 1);
  assert.equal(a.counters['rx_queue_bytes'], 10);
  assert.equal(a.counters['rx_drops'], 0);
  const b = by.get(fds.b)!;
  assert.deepEqual([b.proto, b.family, b.local, b.localPort], ['udp', 6, '::1', 5001]);
  const c = by.get(fds.c)!;
  assert.deepEqual([c.remote, c.remotePort], ['127.0.0.1', 5000]);
  const l = by.get(fds.l)!;
  assert.deepEqual([l.proto, l.state, l.listener, l.localPort, l.counters['accept_queue']], ['tcp', 'LISTEN', true, 6000, 0]);
  const t = by.get(fds.t)!;
  const sv = by.get(fds.s)!;
  assert.equal(t.state, 'ESTABLISHED');
  assert.deepEqual([t.remote, t.remotePort, sv.localPort, sv.remotePort], ['127.0.0.1', 6000, 6000, t.localPort]);
  assert.equal(t.counters['tx_bytes'], 700);
  assert.equal(t.counters['tx_queue_bytes'], 0);
  assert.equal(sv.counters['rx_bytes'], 700);
  assert.equal(sv.counters['app_read_bytes'], 700);
  assert.equal(sv.counters['retransmits'], 0);
  assert.ok(sv.counters['cwnd']! > 0);
  // Pools.
  assert.deepEqual(s.pools.map((p) => p.name), ['tcp-buffers']);
  assert.equal(s.pools[0]!.counters['max_bytes'], stack.tcp.bufferPool.maxBytes);
  assert.equal(s.pools[0]!.counters['no_buffer'], stack.tcp.bufferPool.allocated);
  // A second publish moves the sequence by 2 and sees the new state.
  api.close(fds.c);
  w.fill({ stack, api }, 6000);
  const s2 = decodeStats(w.bytes);
  assert.equal(s2.sequence, 4);
  assert.equal(s2.publishes, 2);
  assert.equal(s2.socketsOpen, 5);
  assert.ok(Number.isNaN(s2.loop['rounds']!), 'no loop: not counted');
});

test('stats layout: sockets beyond the capacity are counted, not written; format errors are typed', () => {
  const { stack, api } = world();
  const cap = { rings: 1, pools: 0, sockets: 2 };
  const w = new StatsWriter(new Uint8Array(blockBytes(cap)), cap, meta);
  w.fill({ stack, api }, 1);
  const s = decodeStats(w.bytes.subarray(0, w.used));
  assert.equal(s.sockets.length, 2);
  assert.equal(s.socketsOpen, 6);
  assert.equal(s.rings.length, 1);
  assert.equal(s.pools.length, 0);
  assert.match(formatStats(s, 2, 2), /4 more sockets than the block has slots for/);
  const bad = w.bytes.slice();
  bad[0] = 0;
  assert.throws(() => decodeStats(bad), (e) => e instanceof StatsFormatError && /not an xlio-ts stats block/.test(e.message));
  const v2 = w.bytes.slice();
  new DataView(v2.buffer).setUint32(4, 99, true);
  assert.throws(() => decodeStats(v2), /layout version 99, this reader knows 1/);
  assert.throws(() => decodeStats(w.bytes.subarray(0, 100)), /at least 1024 bytes/);
  assert.throws(() => decodeStats(w.bytes.subarray(0, w.used - 1)), /truncated/);
  assert.throws(() => new StatsWriter(new Uint8Array(100), cap, meta), RangeError);
  assert.equal(new DataView(w.bytes.buffer).getUint32(0, true), STATS_MAGIC);
});

test('stats publisher without the addon: the file is the whole block, rewritten atomically; close removes it and writes XLIO_STATS_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xlio-stats-'));
  try {
    const { stack, api } = world();
    const dump = join(dir, 'dump.txt');
    const p = new StatsPublisher({ dir, dumpFile: dump, shm: false, pid: process.pid, name: 'unit' });
    p.source = { stack, api };
    p.publish(7777);
    const file = join(dir, statsFileName(process.pid));
    const h = decodeHeader(readFileSync(file));
    assert.equal(h.flags & FLAG_LIVE_SHM, 0);
    const s = readStats(dir, process.pid)!;
    assert.equal(s.updatedAt, 7777);
    assert.equal(s.sockets.length, 6);
    assert.equal(s.name, 'unit');
    assert.equal(readFileSync(file).length, HEADER_BYTES + 8 * 512 + 4 * 128 + 6 * 256, 'header, rings, pools and the used socket slots');
    assert.deepEqual(listStats(dir).map((e) => e.pid), [process.pid]);
    p.close();
    assert.equal(existsSync(file), false);
    const text = readFileSync(dump, 'utf8');
    assert.match(text, /xlio-ts stats: pid \d+ \(unit\).*final/);
    assert.match(text, /STACK\n {2}frames_in/);
    assert.match(text, /tcp-buffers/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stats publisher with the addon: a descriptor names a shared-memory segment written in place', { skip: nativeAddon() === null ? 'native addon not built' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'xlio-stats-'));
  try {
    const { stack, api } = world();
    const p = new StatsPublisher({ dir, pid: process.pid });
    assert.ok(p.shmName !== null);
    p.source = { stack, api };
    const d = decodeHeader(readFileSync(join(dir, statsFileName(process.pid))));
    assert.equal(d.flags & FLAG_LIVE_SHM, FLAG_LIVE_SHM);
    assert.equal(d.shmName, p.shmName);
    p.publish(1234);
    assert.equal(readStats(dir, process.pid)!.updatedAt, 1234);
    api.close(3); // the next publish is visible without rewriting any file
    p.publish(1235);
    const s = readStats(dir, process.pid)!;
    assert.equal(s.updatedAt, 1235);
    assert.equal(s.socketsOpen, 5);
    const seg = `/dev/shm${p.shmName}`;
    assert.ok(existsSync(seg));
    p.close();
    assert.equal(existsSync(seg), false);
    assert.equal(readStats(dir, process.pid), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stats publisher: slow while no one reads, fast while a reader asks', { timeout: 10_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xlio-stats-'));
  try {
    const p = new StatsPublisher({ dir, shm: false, pid: process.pid, fastMs: 20, slowMs: 300 });
    p.source = { stack: world().stack };
    await new Promise((r) => setTimeout(r, 700));
    const idle = readStats(dir, process.pid)!.publishes;
    assert.ok(idle >= 1 && idle <= 4, `idle publishes ${idle}`);
    demandStats(dir, process.pid);
    await new Promise((r) => setTimeout(r, 700));
    const busy = readStats(dir, process.pid)!.publishes - idle;
    assert.ok(busy >= 10, `publishes while asked: ${busy}`);
    assert.equal(readStats(dir, process.pid)!.intervalMs, 20);
    // An old request does not count.
    const old = (Date.now() - 60_000) / 1000;
    utimesSync(join(dir, `${statsFileName(process.pid)}.want`), old, old);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(readStats(dir, process.pid)!.intervalMs, 300);
    p.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stats: files and segments of dead processes are removed by listStats; the environment decides where', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xlio-stats-'));
  try {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(dead.stdout);
    const w = new StatsWriter(new Uint8Array(blockBytes(CAP)), CAP, { ...meta, pid });
    w.fill(null, 1);
    writeFileSync(join(dir, statsFileName(pid)), w.bytes.subarray(0, w.used));
    writeFileSync(join(dir, `${statsFileName(pid)}.want`), '');
    writeFileSync(join(dir, 'xlioSTAT.notapid'), 'x');
    const seg = `/dev/shm/xlio-stats.${pid}`;
    writeFileSync(seg, 'stale');
    assert.deepEqual(listStats(dir), []);
    assert.equal(existsSync(join(dir, statsFileName(pid))), false);
    assert.equal(existsSync(join(dir, `${statsFileName(pid)}.want`)), false);
    assert.equal(existsSync(seg), false);
    assert.equal(existsSync(join(dir, 'xlioSTAT.notapid')), true, 'not ours: left alone');
    assert.deepEqual(listStats(join(dir, 'missing')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(statsOptionsFromEnv({}), { dir: '/tmp/xlio', dumpFile: null });
  assert.equal(statsOptionsFromEnv({ XLIO_STATS_SHMEM_DIR: '' }), null);
  assert.deepEqual(statsOptionsFromEnv({ XLIO_STATS_SHMEM_DIR: '', XLIO_STATS_FILE: '/tmp/x' }), { dir: null, dumpFile: '/tmp/x' });
});

// Unmodified Node programs offloaded with `node --import xlio-ts/register` (and `xlio run`)
// against a Linux kernel host and real tools. Topology (namespaces built here, removed in
// t.after):
//
//   k (kernel host)                         x (where the offloaded program runs)
//   veth0 198.18.0.2/24 fd00::2/64  ⟷  veth0: no kernel addresses, IPv6 off; xlio-ts's packet
//                                            link, 198.18.0.1/24 fd00::1/64 (XLIO_LINK/ADDR)
//   veth1 198.19.0.2/24 fd00:1::2/64 ⟷ veth1 198.19.0.1/24 fd00:1::1/64: x's kernel, for the
//                                            sockets the rules leave to the OS
//
// So the path a socket took shows in the addresses: 198.18.0.1/fd00::1 is xlio-ts,
// 198.19.0.1/fd00:1::1 is x's kernel; and `ss` in x lists only the kernel's sockets.
//   - wrk (Debian) loads the unmodified http server (test/fixtures/apps/http-server.mjs) for
//     10 s from k: no socket errors, no non-2xx, requests/s reported;
//   - curl -k over HTTPS (IPv4 and IPv6) to the unmodified https server (openssl cert);
//   - ioredis against Debian's redis-server in k: SET/GET/INCR/pipeline round trips, from
//     198.18.0.1, no kernel connection in x;
//   - a rules file: tcp_server 8080 offloaded, 8081 not; tcp_client to 198.18.0.2:6379 and
//     [fd00::2]:6379 offloaded, others not — each observed from both ends.
// Needs root, wrk, redis-server, openssl, curl (CI installs them in .ci/run).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { haveCommand, netnsSkip } from '../support/netns.js';
import { APPS, offloadTopology, parseWrk, startOffloaded, type OffloadTopology } from '../support/offload-topo.js';
const TOOLS = ['wrk', 'redis-server', 'openssl', 'curl', 'ss', 'ethtool'];
const missing = TOOLS.filter((c) => !haveCommand(c));
const skip = netnsSkip() || (missing.length > 0 ? `needs ${missing.join(', ')} (apt-get install wrk redis-server openssl curl iproute2 ethtool; CI installs them)` : false);
const WRK_SECONDS = Number(process.env['OFFLOAD_WRK_SECONDS'] ?? 10);

/** The kernel's TCP sockets in a namespace (ss), one per line. */
function kernelTcp(t: OffloadTopology, ns: string, what: 'listening' | 'connected'): string {
  return t.topo.run(ns, ['ss', '-tnH', ...(what === 'listening' ? ['-l'] : ['state', 'established'])]);
}

async function retry<T>(f: () => Promise<T>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('unmodified programs offloaded by xlio-ts/register', { skip }, () => {
  let t: OffloadTopology;
  let dir = '';
  before(() => {
    t = offloadTopology('off');
    dir = mkdtempSync(join(tmpdir(), 'xlio-offload-'));
  });
  after(() => {
    t?.topo.destroy();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  test(`an http server under wrk for ${WRK_SECONDS} s: no errors`, { timeout: 120_000 }, async () => {
    const srv = startOffloaded(t, 'http-server.mjs', ['8080'], ['XLIO_TRACELEVEL=3']);
    try {
      await srv.waitFor(/listening \{"address":"::","family":"IPv6","port":8080\}/, 20_000);
      assert.match(srv.stderr, /tcp_server \[::\]:8080 -> xlio/);
      // x's kernel has no listener: the server is xlio-ts's.
      assert.doesNotMatch(kernelTcp(t, t.x, 'listening'), /:8080\b/);
      const hello = await retry(() => t.topo.runAsync(t.k, ['curl', '-sS', '--max-time', '5', 'http://198.18.0.1:8080/']), 10_000);
      assert.equal(hello, 'hello\n');
      const out = await t.topo.runAsync(t.k, ['wrk', '-t2', '-c32', `-d${WRK_SECONDS}s`, '--timeout', '5s', '--latency', 'http://198.18.0.1:8080/'], { timeoutMs: (WRK_SECONDS + 30) * 1000 });
      const w = parseWrk(out);
      console.log(`wrk against the offloaded http server: ${w.rps.toFixed(0)} requests/s, p99 ${(w.p99us / 1000).toFixed(2)} ms, ${w.requests} requests`);
      assert.equal(w.socketErrors, null, out);
      assert.equal(w.non2xx, null, out);
      assert.ok(w.rps > 0 && w.requests > 0, out);
      // IPv6 too, through the same dual-stack listener.
      assert.equal(await t.topo.runAsync(t.k, ['curl', '-sS', '-g', '--max-time', '5', 'http://[fd00::1]:8080/']), 'hello\n');
      assert.equal(srv.exit, null, srv.describe());
    } finally {
      await srv.stop('SIGKILL', 5000);
    }
  });

  test('curl -k over HTTPS to an unmodified https server (via xlio run), IPv4 and IPv6', { timeout: 60_000 }, async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    t.topo.run(t.k, ['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=xlio-ts test']);
    const srv = startOffloaded(t, 'https-server.mjs', ['8443', key, cert], ['XLIO_TRACELEVEL=3'], true);
    try {
      await srv.waitFor(/listening/, 20_000);
      assert.match(srv.stderr, /tcp_server \[::\]:8443 -> xlio/);
      assert.doesNotMatch(kernelTcp(t, t.x, 'listening'), /:8443\b/);
      const v4 = await retry(() => t.topo.runAsync(t.k, ['curl', '-k', '-sS', '--max-time', '10', 'https://198.18.0.1:8443/']), 10_000);
      assert.match(v4, /^secure hello over TLSv1\.[23]\n$/);
      const v6 = await t.topo.runAsync(t.k, ['curl', '-k', '-sS', '-g', '--max-time', '10', 'https://[fd00::1]:8443/']);
      assert.match(v6, /^secure hello over TLSv1\.[23]\n$/);
      // Several in a row on one connection (keep-alive).
      const many = await t.topo.runAsync(t.k, ['curl', '-k', '-sS', '--max-time', '10', 'https://198.18.0.1:8443/a', 'https://198.18.0.1:8443/b', 'https://198.18.0.1:8443/c']);
      assert.equal(many.split('\n').filter((l) => l.startsWith('secure hello')).length, 3);
    } finally {
      await srv.stop('SIGKILL', 5000);
    }
  });

  test('ioredis against redis-server in the kernel namespace: its own round trips pass, over xlio-ts', { timeout: 60_000 }, async () => {
    const redis = t.topo.spawn(t.k, ['redis-server', '--bind', '198.18.0.2', '--port', '6379', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'no', '--dir', dir]);
    try {
      await redis.waitFor(/Ready to accept connections/, 15_000);
      const client = startOffloaded(t, 'redis-client.mjs', ['198.18.0.2', '6379'], ['XLIO_TRACELEVEL=3']);
      const exit = await client.waitExit(45_000);
      assert.equal(exit.code, 0, client.describe());
      const line = client.stdout.trim().split('\n').pop()!;
      const r = JSON.parse(line) as { ok: boolean; local: string; remote: string; incr: number; pipeline: number };
      assert.equal(r.ok, true, line);
      assert.equal(r.incr, 100);
      assert.equal(r.pipeline, 2000);
      assert.match(r.local, /^198\.18\.0\.1:\d+$/, 'the connection is from xlio-ts\'s address');
      assert.equal(r.remote, '198.18.0.2:6379');
      assert.match(client.stderr, /tcp_client 198\.18\.0\.2:6379 -> xlio/);
      // Redis saw the client come from 198.18.0.1 (no kernel socket in x has that address).
      const info = await t.topo.runAsync(t.k, ['redis-cli', '-h', '198.18.0.2', 'INFO', 'stats']).catch(() => '');
      if (info !== '') assert.match(info, /total_connections_received:[1-9]/);
    } finally {
      await redis.stop('SIGKILL', 5000);
    }
  });

  test('rules: tcp_server 8080 offloaded and 8081 not; tcp_client to 198.18.0.2:6379 and [fd00::2]:6379 offloaded, others not', { timeout: 60_000 }, async () => {
    const rules = join(dir, 'libxlio.conf');
    writeFileSync(
      rules,
      ['use xlio tcp_server *:8080', 'use os tcp_server *:*', 'use xlio tcp_client 198.18.0.2:6379', 'use xlio tcp_client [fd00::2]:6379', 'use os tcp_client *:*', ''].join('\n'),
    );
    const peer = t.topo.spawn(t.k, [process.execPath, join(APPS, 'kernel-peer.mjs'), '6379', '6380']);
    await peer.waitFor(/listening 6380/, 10_000);
    const targets = ['198.18.0.2:6379', '[fd00::2]:6379', '198.19.0.2:6380', '[fd00:1::2]:6380', '198.18.0.2:6380'];
    const app = startOffloaded(t, 'net-rules-probe.mjs', ['8080,8081', targets.join(',')], ['XLIO_TRACELEVEL=3', `XLIO_CONFIG_FILE=${rules}`]);
    try {
      const m = await app.waitFor(/^\{"clients".*$/m, 20_000);
      const { clients } = JSON.parse(m[0]) as { clients: Record<string, string> };
      assert.deepEqual(clients, {
        '198.18.0.2:6379': 'peer ::ffff:198.18.0.1', // offloaded: from xlio-ts's address
        '[fd00::2]:6379': 'peer fd00::1',
        '198.19.0.2:6380': 'peer ::ffff:198.19.0.1', // the OS: from x's kernel
        '[fd00:1::2]:6380': 'peer fd00:1::1',
        '198.18.0.2:6380': 'error ENETUNREACH', // the OS, which has no route to xlio-ts's subnet
      });
      // Servers: 8080 answers on xlio-ts's addresses only, 8081 on the kernel's only.
      const curl = (url: string): Promise<string> => t.topo.runAsync(t.k, ['curl', '-sS', '-g', '--max-time', '3', url]).catch((e: Error) => `failed: ${e.message.split('\n')[0]}`);
      assert.equal(await curl('http://198.18.0.1:8080/'), 'served 8080 to ::ffff:198.18.0.2\n');
      assert.equal(await curl('http://[fd00::1]:8080/'), 'served 8080 to fd00::2\n');
      assert.equal(await curl('http://198.19.0.1:8081/'), 'served 8081 to ::ffff:198.19.0.2\n');
      assert.equal(await curl('http://[fd00:1::1]:8081/'), 'served 8081 to fd00:1::2\n');
      assert.match(await curl('http://198.19.0.1:8080/'), /^failed/);
      assert.match(await curl('http://198.18.0.1:8081/'), /^failed/);
      const listening = kernelTcp(t, t.x, 'listening');
      assert.match(listening, /:8081\b/);
      assert.doesNotMatch(listening, /:8080\b/);
      for (const re of [
        /tcp_server \[::\]:8080 -> xlio \(.*:1: use xlio tcp_server \*:8080\)/,
        /tcp_server \[::\]:8081 -> os \(.*:2: use os tcp_server \*:\*\)/,
        /tcp_client 198\.18\.0\.2:6379 -> xlio \(.*:3:/,
        /tcp_client \[fd00::2\]:6379 -> xlio \(.*:4:/,
        /tcp_client 198\.19\.0\.2:6380 -> os \(.*:5:/,
        /tcp_client \[fd00:1::2\]:6380 -> os \(.*:5:/,
        /tcp_client 198\.18\.0\.2:6380 -> os \(.*:5:/,
      ])
        assert.match(app.stderr, re);
    } finally {
      await app.stop('SIGKILL', 5000);
      await peer.stop('SIGKILL', 5000);
    }
  });
});

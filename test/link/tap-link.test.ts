// The TAP driver against the Linux kernel: namespace k holds our TAP device tap0 (created
// there through the link's netns option) with 198.18.0.2/24 and fd00::2/64 — the kernel's
// NIC — and our stack (198.18.0.1/24, fd00::1/64, its own MAC) is the far end of its wire.
// The kernel pings us over IPv4 and IPv6, moves some MiB each way over TCP with socat
// (SHA-256 checked), gets its UDP datagrams echoed; closing the link removes the device;
// bad names, a missing namespace, a busy device and a device of another kind fail with
// errors that say so. Skips unless root with the native addon built.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openTapLink, type TapLink } from '../../src/link/tap-link.js';
import { nativeAddon, nativeUnavailableReason } from '../../src/native/addon.js';
import { Errno, errnoName } from '../../src/errno.js';
import { AF_INET, AF_INET6, SHUT_WR, SOCK_DGRAM, SOCK_STREAM, SOL_SOCKET, SO_RCVTIMEO, SO_SNDTIMEO } from '../../src/socket/constants.js';
import { SockAddr, timeval } from '../../src/socket/types.js';
import { haveCommand, netnsSkip, Topology } from '../support/netns.js';
import { Procs } from '../support/processes.js';
import { WireHost } from '../support/wire-host.js';
import { ok, receiveStream } from '../support/stream-check.js';

const skip = netnsSkip() || (nativeAddon() === null ? `the native addon is not available: ${nativeUnavailableReason()}` : false) || (haveCommand('socat') ? false : 'socat is not installed (apt-get install socat)');

const OUR_MAC = '02:00:00:00:00:01';
const OURS4 = '198.18.0.1';
const OURS6 = 'fd00::1';
const KERNEL4 = '198.18.0.2';
const KERNEL6 = 'fd00::2';
/** Bytes each TCP transfer moves. */
const TRANSFER = 16 << 20;

/** ping's RTT summary, after checking that every reply came. */
function pingRtt(out: string, count: number): string {
  assert.match(out, new RegExp(`${count} packets transmitted, ${count} received`), out);
  const m = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\//.exec(out);
  assert.ok(m !== null, out);
  return `rtt min/avg/max ${m[1]}/${m[2]}/${m[3]} ms`;
}

describe('tap link: the kernel on one end of the wire, xlio-ts on the other', { skip, timeout: 180_000 }, () => {
  let topo: Topology;
  let k: string;
  let link: TapLink;
  let host: WireHost;
  const procs = new Procs();
  const file = join(tmpdir(), `xlio-tap-${process.pid}.bin`);
  const data = randomBytes(TRANSFER);
  const dataSha = createHash('sha256').update(data).digest('hex');

  before(() => {
    topo = Topology.create('tap');
    k = topo.ns('k');
    link = openTapLink({ name: 'tap0', netns: Topology.path(k) });
    topo.addr(k, 'tap0', `${KERNEL4}/24`);
    topo.addr(k, 'tap0', `${KERNEL6}/64`);
    topo.run(k, ['ip', 'link', 'set', 'tap0', 'up']);
    host = WireHost.start(link, { mac: OUR_MAC, addrs: [`${OURS4}/24`, `${OURS6}/64`] });
    writeFileSync(file, data);
  });

  after(async () => {
    await procs.killAll();
    host?.stop();
    topo?.destroy();
    rmSync(file, { force: true });
  });

  /** Runs a command in k without blocking the event loop (our stack runs on it). */
  function kernel(cmd: readonly string[], ms: number) {
    return procs.run('ip', ['netns', 'exec', k, ...cmd], ms);
  }

  test('the link reports the device', () => {
    assert.equal(link.name, 'tap0');
    assert.ok(link.ifindex > 0);
    assert.equal(link.mtu, 1500);
    const shown = topo.run(k, ['ip', '-o', 'link', 'show', 'tap0']);
    assert.match(shown, new RegExp(`^${link.ifindex}: tap0:`));
  });

  test('the kernel pings us over IPv4 and IPv6', { timeout: 30_000 }, async () => {
    for (const [v, addr] of [
      ['-4', OURS4],
      ['-6', OURS6],
    ] as const) {
      const p = await kernel(['ping', v, '-c', '3', '-i', '0.2', '-W', '2', addr], 15_000);
      assert.equal(p.exit?.code, 0, p.describe());
      const rtt = pingRtt(p.stdout, 3);
      console.log(`# tap: ping ${v} ${addr}: ${rtt}`);
    }
  });

  for (const [fam, ours] of [
    [AF_INET, OURS4],
    [AF_INET6, OURS6],
  ] as const) {
    const v = fam === AF_INET ? 'IPv4' : 'IPv6';
    test(`TCP over ${v}: kernel → us, ${TRANSFER >> 20} MiB, SHA-256 checked`, { timeout: 60_000 }, async () => {
      const { api, io } = host;
      const port = fam === AF_INET ? 5001 : 5011;
      const lfd = ok('socket', api.socket(fam, SOCK_STREAM));
      try {
        ok('bind', api.bind(lfd, SockAddr.parse(ours, port)));
        ok('listen', api.listen(lfd, 4));
        ok('rcvtimeo', api.setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, timeval(20_000_000)));
        const target = fam === AF_INET ? `TCP4:${ours}:${port}` : `TCP6:[${ours}]:${port}`;
        const t0 = performance.now();
        const sender = kernel(['socat', '-u', `OPEN:${file}`, target], 45_000);
        const { bytes, sha } = await receiveStream(host, lfd);
        const ms = performance.now() - t0;
        const p = await sender;
        assert.equal(p.exit?.code, 0, p.describe());
        assert.equal(bytes, TRANSFER);
        assert.equal(sha, dataSha);
        console.log(`# tap: TCP ${v} kernel → xlio-ts: ${(TRANSFER / 1048576 / (ms / 1000)).toFixed(1)} MiB/s`);
      } finally {
        api.close(lfd);
      }
    });

    test(`TCP over ${v}: us → kernel, ${TRANSFER >> 20} MiB, SHA-256 checked`, { timeout: 60_000 }, async () => {
      const { api, io } = host;
      const port = fam === AF_INET ? 5002 : 5012;
      const kaddr = fam === AF_INET ? KERNEL4 : KERNEL6;
      const listen = fam === AF_INET ? `TCP4-LISTEN:${port},bind=${kaddr},reuseaddr` : `TCP6-LISTEN:${port},bind=[${kaddr}],reuseaddr`;
      const receiver = procs.start('ip', ['netns', 'exec', k, 'sh', '-c', `socat -u ${listen} STDOUT | sha256sum`]);
      let fd = -1;
      // The listener is up when a connect is not refused: retry, bounded.
      for (let attempt = 0; ; attempt++) {
        fd = ok('socket', api.socket(fam, SOCK_STREAM));
        ok('sndtimeo', api.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, timeval(20_000_000)));
        const r = await io.connect(fd, SockAddr.parse(kaddr, port));
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
        const exit = await receiver.waitExit(30_000);
        const ms = performance.now() - t0;
        assert.equal(exit.code, 0, receiver.describe());
        assert.equal(receiver.stdout.split(' ')[0], dataSha, receiver.describe());
        console.log(`# tap: TCP ${v} xlio-ts → kernel: ${(TRANSFER / 1048576 / (ms / 1000)).toFixed(1)} MiB/s`);
      } finally {
        api.close(fd);
      }
    });

    test(`UDP over ${v}: we echo the kernel's datagrams`, { timeout: 30_000 }, async () => {
      const { api, io } = host;
      const port = 7;
      const fd = ok('socket', api.socket(fam, SOCK_DGRAM));
      ok('bind', api.bind(fd, SockAddr.parse(ours, port)));
      ok('rcvtimeo', api.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval(10_000_000)));
      let echoed = 0;
      const echo = (async () => {
        const buf = new Uint8Array(2048);
        const from = new SockAddr();
        for (let i = 0; i < 3; i++) {
          const r = await io.recvfrom(fd, buf, 0, from);
          if (r < 0) return;
          ok('sendto', api.sendto(fd, buf.subarray(0, r), 0, from));
          echoed++;
        }
      })();
      try {
        const target = fam === AF_INET ? `UDP4:${ours}:${port}` : `UDP6:[${ours}]:${port}`;
        for (let i = 0; i < 3; i++) {
          const msg = `hello xlio ${v} ${i}`;
          const q = await kernel(['sh', '-c', `printf '%s' '${msg}' | socat -T 3 -t 0.5 - ${target}`], 10_000);
          assert.equal(q.stdout, msg, q.describe());
        }
        await echo;
        assert.equal(echoed, 3);
      } finally {
        api.close(fd);
      }
    });
  }

  test('closing the link removes the device', { timeout: 20_000 }, async () => {
    host.stop();
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      gone = spawnSync('ip', ['netns', 'exec', k, 'ip', 'link', 'show', 'tap0']).status !== 0;
      if (!gone) await sleep(50);
    }
    assert.ok(gone, 'tap0 still exists in k after close()');
  });
});

describe('tap link errors', { skip, timeout: 60_000 }, () => {
  let topo: Topology;
  let k: string;
  before(() => {
    topo = Topology.create('tape');
    k = topo.ns('k');
  });
  after(() => topo?.destroy());

  function throwsCode(fn: () => unknown, code: string, message: RegExp): void {
    assert.throws(fn, (e: Error & { code?: string }) => {
      assert.equal(e.code, code, `code of: ${e.message}`);
      assert.match(e.message, message);
      return true;
    });
  }

  test('bad names say what a name may be', () => {
    for (const name of ['', 'a-name-that-is-too-long', 'a/b', 'a b', 'a:b']) {
      throwsCode(() => openTapLink({ name, netns: Topology.path(k) }), 'ERR_INVALID_ARG_VALUE', /invalid TAP device name .*1 to 15 characters/);
    }
  });

  test('a namespace that does not exist', () => {
    throwsCode(() => openTapLink({ name: 'tap0', netns: `/run/netns/${k}-missing` }), 'ENOENT', /open\(\/run\/netns\/.*-missing\).*ip netns add/);
  });

  test('a device already attached, or of another kind', () => {
    const a = openTapLink({ name: 'tap1', netns: Topology.path(k) });
    try {
      throwsCode(() => openTapLink({ name: 'tap1', netns: Topology.path(k) }), 'EBUSY', /already attached/);
    } finally {
      a.close();
    }
    throwsCode(() => openTapLink({ name: 'lo', netns: Topology.path(k) }), 'EINVAL', /not a TAP device/);
  });

  test('"tap%d" lets the kernel number the device', () => {
    const a = openTapLink({ name: 'xt%d', netns: Topology.path(k) });
    try {
      assert.match(a.name, /^xt\d+$/);
      assert.match(topo.run(k, ['ip', '-o', 'link', 'show', a.name]), new RegExp(`${a.name}:`));
    } finally {
      a.close();
    }
  });

  test('multiQueue: a second descriptor attaches to the same device', () => {
    const a = openTapLink({ name: 'tapmq', netns: Topology.path(k), multiQueue: true });
    try {
      const b = openTapLink({ name: 'tapmq', netns: Topology.path(k), multiQueue: true });
      assert.equal(b.ifindex, a.ifindex);
      b.close();
    } finally {
      a.close();
    }
  });

  test('frames sent while the device is down, and frames larger than a slot, are counted, not thrown', { timeout: 20_000 }, async () => {
    const a = openTapLink({ name: 'tap2', netns: Topology.path(k) });
    try {
      const frame = new Uint8Array(60).fill(0xff, 0, 6);
      a.transmit(frame); // tun_get_user: EIO while the device is down
      a.transmit(new Uint8Array(6)); // shorter than an Ethernet header: EINVAL
      assert.equal(a.counters()['txErrors'], 2);
      assert.equal(a.txDropped, 2);
      // A kernel MTU above what our slots hold (1536 bytes): a 3000-byte ping cannot fit.
      topo.run(k, ['ip', 'link', 'set', 'tap2', 'mtu', '9000', 'up']);
      topo.addr(k, 'tap2', '198.18.1.2/24');
      topo.run(k, ['ip', 'neigh', 'replace', '198.18.1.1', 'lladdr', OUR_MAC, 'dev', 'tap2']);
      spawnSync('ip', ['netns', 'exec', k, 'ping', '-c', '1', '-s', '3000', '-W', '0.3', '198.18.1.1']);
      let seen = 0;
      for (let i = 0; i < 50 && (a.counters()['rxDropsOversize'] ?? 0) === 0; i++) {
        a.receive(() => seen++, 64);
        await sleep(10);
      }
      assert.ok((a.counters()['rxDropsOversize'] ?? 0) >= 1, JSON.stringify(a.counters()));
    } finally {
      a.close();
    }
  });

  test('without CAP_NET_ADMIN the error says what to do instead', { timeout: 20_000 }, () => {
    const mod = new URL('../../src/link/tap-link.js', import.meta.url).href;
    const script = `import(${JSON.stringify(mod)}).then((m) => { try { m.openTapLink({ name: 'tap9' }); console.log('opened'); } catch (e) { console.log(e.code + ' ' + e.message); } })`;
    const r = spawnSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^(EACCES|EPERM) .*TAP needs CAP_NET_ADMIN: run as root.*use the shm link or vxlan/, r.stdout + r.stderr);
  });
});

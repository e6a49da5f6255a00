// The AF_XDP driver against the Linux kernel: namespace k is a kernel host (veth0,
// 198.18.0.2/24, fd00::2/64); across the veth pair, namespace x's veth0 carries no kernel
// addresses and our stack, on an AF_XDP socket, with 198.18.0.1/24, fd00::1/64 and the
// veth's own MAC. The kernel pings us, moves MiB both ways over TCP with socat (SHA-256
// checked), and has UDP echoed — once with the XDP program in the driver (native) and once
// after the socket buffer is built (skb). Then what a user meets at the edges: zero-copy on
// veth, the program gone when the link closes, a missing interface, an interface already
// taken. Needs root; skips with the reason when the kernel refuses AF_XDP.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openXdpLink, type XdpLink, type XdpMode } from '../../src/link/xdp-link.js';
import { nativeAddon, nativeUnavailableReason } from '../../src/native/addon.js';
import { AF_INET, AF_INET6, SHUT_WR, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.js';
import { SockAddr } from '../../src/socket/types.js';
import { haveCommand, netnsSkip, Topology } from '../support/netns.js';
import { WireHost } from '../support/wire-host.js';

const skip: string | false =
  netnsSkip() || (nativeAddon() === null ? `${nativeUnavailableReason()}` : false) || (!haveCommand('socat') ? 'socat is not installed (apt-get install socat)' : false);

const MIB = 1 << 20;
const TRANSFER = 16 * MIB;

interface Wire {
  topo: Topology;
  k: string;
  x: string;
}

/** k ↔ x over a veth pair; the kernel host in k, nothing of the kernel's on x's veth0. */
function wire(t: TestContext, tag: string, veth: { queues?: number } = {}): Wire {
  const topo = Topology.create(tag);
  t.after(() => topo.destroy());
  const k = topo.ns('k');
  const x = topo.ns('x');
  if (veth.queues === undefined) topo.veth(k, 'veth0', x, 'veth0');
  else {
    // Explicit queue counts on both ends (a plain veth has one of each).
    const q = String(veth.queues);
    topo.run(k, ['ip', 'link', 'add', 'veth0', 'numtxqueues', q, 'numrxqueues', q, 'type', 'veth', 'peer', 'name', 'xtq0', 'numtxqueues', q, 'numrxqueues', q]);
    topo.run(k, ['ip', 'link', 'set', 'xtq0', 'netns', x]);
    topo.run(x, ['ip', 'link', 'set', 'xtq0', 'name', 'veth0']);
    for (const ns of [k, x]) {
      topo.offloadsOff(ns, 'veth0');
      topo.run(ns, ['ip', 'link', 'set', 'veth0', 'up']);
    }
  }
  topo.noIpv6(x, 'veth0');
  topo.addr(k, 'veth0', '198.18.0.2/24');
  topo.addr(k, 'veth0', 'fd00::2/64');
  return { topo, k, x };
}

/** Opens the link, or skips the test when this kernel has no AF_XDP. */
function openOrSkip(t: TestContext, opts: Parameters<typeof openXdpLink>[0]): XdpLink | null {
  try {
    return openXdpLink(opts);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code === 'EAFNOSUPPORT') {
      t.skip(`the kernel refuses AF_XDP: ${err.message}`);
      return null;
    }
    throw e;
  }
}

/** Our stack on x's veth0 through AF_XDP. */
function xlioHost(t: TestContext, w: Wire, mode: XdpMode): { host: WireHost; link: XdpLink } | null {
  const link = openOrSkip(t, { ifname: 'veth0', netns: Topology.path(w.x), mode });
  if (link === null) return null;
  const host = WireHost.start(link, { mac: link.mac, addrs: ['198.18.0.1/24', 'fd00::1/64'] });
  t.after(() => host.stop());
  return { host, link };
}

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a kernel program in `ns` to completion without blocking this thread (our stack's
 * poll loop runs on it: Topology.run would stall it); its stdout, or throws with its output.
 */
async function runAsync(w: Wire, ns: string, cmd: readonly string[], ms: number): Promise<string> {
  const p = w.topo.spawn(ns, cmd);
  const exit = await p.waitExit(ms);
  if (exit.code !== 0) throw new Error(p.describe());
  return p.stdout;
}

/** Whether x's veth0 has an XDP program attached, from `ip -d link show`. */
function xdpAttached(w: Wire): boolean {
  return /\bxdp(generic|drv)?\b|prog\/xdp/.test(w.topo.run(w.x, ['ip', '-d', 'link', 'show', 'veth0']));
}

/** The average RTT ping reports ("rtt min/avg/max/mdev = a/b/c/d ms"). */
function pingAvgMs(out: string): number {
  const m = /= [\d.]+\/([\d.]+)\//.exec(out);
  assert.ok(m !== null, `no rtt line in:\n${out}`);
  return Number(m[1]);
}

/** Kernel → us: socat in k sends `data` to our listener on `port`; returns MiB/s and checks SHA-256. */
async function kernelToUs(w: Wire, host: WireHost, family: number, addr: string, port: number, data: Uint8Array, file: string): Promise<number> {
  const { api, io } = host;
  const ls = api.socket(family, SOCK_STREAM, 0);
  assert.ok(ls >= 0, `socket: ${ls}`);
  assert.equal(api.bind(ls, SockAddr.parse(family === AF_INET ? '0.0.0.0' : '::', port)), 0);
  assert.equal(api.listen(ls, 4), 0);
  const target = family === AF_INET ? `TCP4:${addr}:${port}` : `TCP6:[${addr}]:${port}`;
  const sender = w.topo.spawn(w.k, ['socat', '-u', `OPEN:${file}`, target]);
  const t0 = performance.now();
  const fd = await within(10_000, 'accept', io.accept(ls));
  assert.ok(fd >= 0, `accept: ${fd}`);
  const hash = createHash('sha256');
  const buf = new Uint8Array(256 * 1024);
  let got = 0;
  for (let i = 0; i <= data.length; i++) {
    // every read but the last brings at least one byte: the loop is bounded by the size
    const n = await within(20_000, `recv after ${got} bytes`, io.recv(fd, buf));
    assert.ok(n >= 0, `recv: ${n}`);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    got += n;
  }
  const secs = (performance.now() - t0) / 1000;
  assert.equal(got, data.length, 'bytes received');
  assert.equal(hash.digest('hex'), createHash('sha256').update(data).digest('hex'), 'SHA-256 of what arrived');
  const exit = await sender.waitExit(10_000);
  assert.equal(exit.code, 0, sender.describe());
  api.close(fd);
  api.close(ls);
  return data.length / MIB / secs;
}

/** Us → kernel: we connect to socat in k and send `data`; socat pipes it to sha256sum. Returns MiB/s. */
async function usToKernel(w: Wire, host: WireHost, family: number, addr: string, port: number, data: Uint8Array): Promise<number> {
  const { api, io } = host;
  const listen = family === AF_INET ? `TCP4-LISTEN:${port},reuseaddr` : `TCP6-LISTEN:${port},reuseaddr`;
  const receiver = w.topo.spawn(w.k, ['sh', '-c', `socat -u ${listen} - | sha256sum`]);
  // socat listens once it prints nothing; wait until the port is bound.
  for (let i = 0; i < 100 && !w.topo.run(w.k, ['ss', '-Hltn', `sport = :${port}`]).includes(String(port)); i++) await new Promise((r) => setTimeout(r, 50));
  const fd = api.socket(family, SOCK_STREAM, 0);
  const t0 = performance.now();
  assert.equal(await within(10_000, 'connect', io.connect(fd, SockAddr.parse(addr, port))), 0);
  const chunk = 256 * 1024;
  for (let off = 0; off < data.length; off += chunk) {
    const piece = data.subarray(off, Math.min(off + chunk, data.length));
    const n = await within(20_000, `send at ${off}`, io.send(fd, piece));
    assert.equal(n, piece.length, `send at ${off}`);
  }
  assert.equal(api.shutdown(fd, SHUT_WR), 0);
  const out = await within(20_000, 'sha256sum', receiver.waitFor(/^([0-9a-f]{64})/m, 20_000));
  const secs = (performance.now() - t0) / 1000;
  assert.equal(out[1], createHash('sha256').update(data).digest('hex'), 'SHA-256 of what the kernel received');
  api.close(fd);
  return data.length / MIB / secs;
}

/** Our UDP echo on `port` answers `count` datagrams; the kernel's socat sends each and prints the reply. */
async function udpEcho(w: Wire, host: WireHost, family: number, addr: string, port: number): Promise<void> {
  const { api, io } = host;
  const fd = api.socket(family, SOCK_DGRAM, 0);
  assert.equal(api.bind(fd, SockAddr.parse(family === AF_INET ? '0.0.0.0' : '::', port)), 0);
  let stop = false;
  const echo = (async () => {
    const buf = new Uint8Array(2048);
    const from = SockAddr.unspec();
    for (let i = 0; i < 100 && !stop; i++) {
      const n = await io.recvfrom(fd, buf, 0, from);
      if (n < 0) return;
      api.sendto(fd, buf.subarray(0, n), 0, from);
    }
  })();
  const target = family === AF_INET ? `UDP4:${addr}:${port}` : `UDP6:[${addr}]:${port}`;
  for (const size of [1, 100, 1400]) {
    const msg = 'u'.repeat(size - 1) + '\n';
    const reply = await within(10_000, `udp echo of ${size} bytes`, new Promise<string>((resolve, reject) => {
      const p = w.topo.spawn(w.k, ['sh', '-c', `printf '%s' "$0" | socat -t 0.5 -T 3 - ${target}`, msg]);
      p.exited.then((e) => (e.code === 0 ? resolve(p.stdout) : reject(new Error(p.describe()))), reject);
    }));
    assert.equal(reply, msg, `${size}-byte datagram echoed`);
  }
  stop = true;
  api.close(fd);
  void echo; // ends when the closed socket fails its pending recvfrom, or with the host
}

for (const mode of ['native', 'skb'] as const) {
  test(`xdp (${mode}): the kernel pings our stack, IPv4 and IPv6`, { skip, timeout: 60_000 }, async (t) => {
    const w = wire(t, `xp${mode[0]}`);
    const h = xlioHost(t, w, mode);
    if (h === null) return;
    assert.equal(h.link.mode, mode);
    assert.equal(h.link.zeroCopy, false, 'veth only copies');
    assert.ok(xdpAttached(w), 'ip link shows the program on x/veth0');
    const v4out = await runAsync(w, w.k, ['ping', '-c', '20', '-i', '0.02', '-W', '2', '198.18.0.1'], 20_000);
    const big = await runAsync(w, w.k, ['ping', '-c', '5', '-i', '0.02', '-W', '2', '-s', '1400', '198.18.0.1'], 20_000);
    const v6out = await runAsync(w, w.k, ['ping', '-6', '-c', '20', '-i', '0.02', '-W', '2', 'fd00::1'], 20_000);
    assert.match(v4out, / 0% packet loss/);
    assert.match(big, / 0% packet loss/);
    assert.match(v6out, / 0% packet loss/);
    t.diagnostic(`ping RTT avg (${mode}): IPv4 ${pingAvgMs(v4out)} ms, IPv4 1400 B ${pingAvgMs(big)} ms, IPv6 ${pingAvgMs(v6out)} ms`);
    t.diagnostic(`counters: ${JSON.stringify(h.link.counters())}`);
  });

  test(`xdp (${mode}): ${TRANSFER / MIB} MiB each way over TCP with the kernel's socat, SHA-256 checked`, { skip, timeout: 120_000 }, async (t) => {
    const w = wire(t, `xt${mode[0]}`);
    const h = xlioHost(t, w, mode);
    if (h === null) return;
    const dir = mkdtempSync(join(tmpdir(), 'xdp-link-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const data = randomBytes(TRANSFER);
    const file = join(dir, 'data');
    writeFileSync(file, data);
    const small = data.subarray(0, 4 * MIB);
    writeFileSync(file + '-v6', small);
    const inV4 = await kernelToUs(w, h.host, AF_INET, '198.18.0.1', 5001, data, file);
    const outV4 = await usToKernel(w, h.host, AF_INET, '198.18.0.2', 5002, data);
    const inV6 = await kernelToUs(w, h.host, AF_INET6, 'fd00::1', 5003, small, file + '-v6');
    const outV6 = await usToKernel(w, h.host, AF_INET6, 'fd00::2', 5004, small);
    t.diagnostic(`TCP (${mode}): kernel→xlio ${inV4.toFixed(1)} MiB/s, xlio→kernel ${outV4.toFixed(1)} MiB/s, IPv6 (4 MiB) kernel→xlio ${inV6.toFixed(1)} MiB/s, xlio→kernel ${outV6.toFixed(1)} MiB/s`);
    t.diagnostic(`counters: ${JSON.stringify(h.link.counters())}`);
  });

  test(`xdp (${mode}): UDP echo for the kernel, IPv4 and IPv6`, { skip, timeout: 60_000 }, async (t) => {
    const w = wire(t, `xu${mode[0]}`);
    const h = xlioHost(t, w, mode);
    if (h === null) return;
    await udpEcho(w, h.host, AF_INET, '198.18.0.1', 7000);
    await udpEcho(w, h.host, AF_INET6, 'fd00::1', 7001);
  });
}

test('xdp: zero-copy is off on veth with auto, and on fails saying the driver only copies', { skip, timeout: 30_000 }, (t) => {
  const w = wire(t, 'xz');
  const path = Topology.path(w.x);
  const link = openOrSkip(t, { ifname: 'veth0', netns: path, zeroCopy: 'auto' });
  if (link === null) return;
  assert.equal(link.zeroCopy, false);
  link.close();
  assert.throws(
    () => openXdpLink({ ifname: 'veth0', netns: path, zeroCopy: 'on' }),
    (e: Error & { code?: string }) => {
      assert.match(e.message, /does not do AF_XDP zero-copy/);
      assert.match(e.message, /zeroCopy 'auto' or 'off'/);
      return true;
    },
  );
  assert.equal(xdpAttached(w), false, 'a failed open leaves no program behind');
});

test('xdp: closing the link detaches the program', { skip, timeout: 30_000 }, (t) => {
  const w = wire(t, 'xd');
  for (const mode of ['native', 'skb'] as const) {
    const link = openOrSkip(t, { ifname: 'veth0', netns: Topology.path(w.x), mode });
    if (link === null) return;
    assert.ok(xdpAttached(w), `attached (${mode})`);
    link.close();
    assert.equal(xdpAttached(w), false, `detached after close (${mode}): ${w.topo.run(w.x, ['ip', '-d', 'link', 'show', 'veth0'])}`);
  }
});

test('xdp: a missing interface is ENODEV naming it and its namespace', { skip, timeout: 30_000 }, (t) => {
  const w = wire(t, 'xe');
  const path = Topology.path(w.x);
  assert.throws(
    () => openXdpLink({ ifname: 'nosuch0', netns: w.x }),
    (e: Error & { code?: string }) => {
      if (e.code === 'EAFNOSUPPORT') return true;
      assert.equal(e.code, 'ENODEV', e.message);
      assert.ok(e.message.includes(`no interface nosuch0 in ${path}`), e.message);
      return true;
    },
  );
});

test('xdp: links on two queues of one interface share its program, which stays until the last closes', { skip, timeout: 30_000 }, (t) => {
  const w = wire(t, 'xq', { queues: 2 });
  const path = Topology.path(w.x);
  const q0 = openOrSkip(t, { ifname: 'veth0', netns: path, queue: 0, mode: 'native' });
  if (q0 === null) return;
  t.after(() => q0.close());
  assert.throws(
    () => openXdpLink({ ifname: 'veth0', netns: path, queue: 1, mode: 'skb' }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'EBUSY', e.message);
      assert.match(e.message, /already carries this process's XDP program in native mode/);
      return true;
    },
  );
  const q1 = openXdpLink({ ifname: 'veth0', netns: path, queue: 1 });
  t.after(() => q1.close());
  assert.equal(q1.mode, 'native', "'auto' takes the mode of the program already there");
  q0.close();
  assert.ok(xdpAttached(w), 'still attached while queue 1 is open');
  q1.close();
  assert.equal(xdpAttached(w), false, 'detached with the last link');
});

test("xdp: another process's program on the interface is EBUSY, saying so", { skip, timeout: 30_000 }, (t) => {
  const w = wire(t, 'xb', { queues: 2 });
  const path = Topology.path(w.x);
  const first = openOrSkip(t, { ifname: 'veth0', netns: path, queue: 0 });
  if (first === null) return;
  t.after(() => first.close());
  const module = new URL('../../src/link/xdp-link.js', import.meta.url).href;
  const code = `import { openXdpLink } from ${JSON.stringify(module)};
try { openXdpLink({ ifname: 'veth0', netns: ${JSON.stringify(path)}, queue: 1 }); console.log('opened'); }
catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const err = JSON.parse(r.stdout) as { code: string; message: string };
  assert.equal(err.code, 'EBUSY', err.message);
  assert.match(err.message, /another XDP program is already attached/);
  assert.ok(xdpAttached(w), 'the first link keeps its program');
});

test('xdp: without CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN the error names the capabilities and the fallback', { skip: skip || (haveCommand('capsh') ? false : 'capsh is not installed (apt-get install libcap2-bin)'), timeout: 30_000 }, (t) => {
  const w = wire(t, 'xc');
  const module = new URL('../../src/link/xdp-link.js', import.meta.url).href;
  const code = `import { openXdpLink } from ${JSON.stringify(module)};
try { openXdpLink({ ifname: 'veth0' }); console.log('opened'); }
catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  // Inside x already (ip netns exec), so the driver needs no setns; capsh takes the capabilities
  // out of the bounding set, so the node it starts as root lacks them.
  const r = spawnSync(
    'ip',
    ['netns', 'exec', w.x, 'capsh', '--drop=cap_bpf,cap_net_admin,cap_sys_admin,cap_perfmon', '--', '-c', `exec ${process.execPath} --input-type=module -e "$0"`, code],
    { encoding: 'utf8', timeout: 20_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const err = JSON.parse(r.stdout) as { code: string; message: string };
  assert.equal(err.code, 'EPERM', err.message);
  assert.match(err.message, /AF_XDP needs CAP_BPF and CAP_NET_ADMIN .* or root; without them use the packet driver or the shm link/);
  assert.equal(xdpAttached(w), false);
});

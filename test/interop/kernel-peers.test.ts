// xlio-ts against a Linux kernel host and programs no one here wrote, with our stack on each
// link driver in turn (packet, xdp, tap, vxlan; test/support/driver-topo.ts):
//   - iputils ping and ping -6 to our addresses; our ICMP echo requests to the kernel;
//   - TCP with socat and ncat as servers and clients in the kernel's namespace: 256 MiB each
//     way, IPv4 and IPv6, SHA-256 checked (XLIO_INTEROP_MB=N for a shorter local run);
//   - curl fetching from the HTTP responder (src/apps/http-responder.ts) on our sockets.
// The xlio-ts host runs on this thread's event loop, so every kernel-side command runs
// asynchronously (runAsync/spawn). Needs root; CI installs socat, ncat, curl, iputils-ping.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HttpResponder, responderByte } from '../../src/apps/http-responder.js';
import * as K from '../../src/socket/constants.js';
import { SockAddr } from '../../src/socket/types.js';
import type { IpAddress } from '../../src/stack/udp.js';
import { ipv4, ipv6 } from '../../src/wire/address.js';
import { DRIVERS, driverTopology, KERNEL_V4, KERNEL_V6, OUR_V4, OUR_V6, type DriverTopology } from '../support/driver-topo.js';
import { haveCommand, netnsSkip } from '../support/netns.js';

const MB = Number(process.env['XLIO_INTEROP_MB'] ?? 256);
const BYTES = MB << 20;
const TOOLS = ['socat', 'ncat', 'curl', 'ping'];
const missing = TOOLS.filter((c) => !haveCommand(c));
const skip = netnsSkip() || (missing.length > 0 ? `needs ${missing.join(', ')} (apt-get install socat ncat curl iputils-ping; CI installs them)` : false);

/** Byte i of the transfer pattern (not periodic in 256, so a shifted or repeated block is caught). */
const CHUNK = 1 << 16;
function chunkAt(off: number, out: Uint8Array): void {
  // Each 64 KiB chunk starts with its index, then a pattern seeded by it.
  const idx = off / CHUNK;
  let x = (idx * 2654435761) >>> 0 || 1;
  for (let i = 0; i < out.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
    out[i + 1] = (x >>> 8) & 255;
    out[i + 2] = (x >>> 16) & 255;
    out[i + 3] = (x >>> 24) & 255;
  }
}

let file = '';
let fileSha = '';
/** The pattern as a file the kernel-side programs send (and its SHA-256). */
async function patternFile(): Promise<void> {
  file = join(tmpdir(), `xlio-interop-${process.pid}-${MB}M.bin`);
  const h = createHash('sha256');
  const out = createWriteStream(file);
  const buf = new Uint8Array(CHUNK);
  for (let off = 0; off < BYTES; off += CHUNK) {
    chunkAt(off, buf);
    h.update(buf);
    if (!out.write(Buffer.from(buf))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  fileSha = h.digest('hex');
}

function sockaddr(ip: string, port: number): SockAddr {
  return ip.includes(':') ? SockAddr.inet6(ipv6(ip), port) : SockAddr.inet(ipv4(ip), port);
}

/** Sends BYTES of the pattern from a new connection to ip:port; returns MiB/s. */
async function sendPattern(d: DriverTopology, ip: string, port: number): Promise<number> {
  const { api, io } = d.host;
  const fd = api.socket(ip.includes(':') ? K.AF_INET6 : K.AF_INET, K.SOCK_STREAM, 0);
  const t0 = performance.now();
  // The kernel-side server may need a moment to listen: retry refused connects for 5 s.
  let r = -1;
  for (let i = 0; i < 50; i++) {
    r = await io.connect(fd, sockaddr(ip, port));
    if (r === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(r, 0, `connect to ${ip}:${port}`);
  const buf = new Uint8Array(CHUNK);
  for (let off = 0; off < BYTES; off += CHUNK) {
    chunkAt(off, buf);
    const n = await io.send(fd, buf, K.MSG_NOSIGNAL);
    assert.equal(n, CHUNK, `send at ${off}`);
  }
  assert.equal(api.close(fd), 0);
  return MB / ((performance.now() - t0) / 1000);
}

/** Accepts one connection on our ip:port, reads it to EOF; returns [sha256, bytes, MiB/s]. */
async function receiveOne(d: DriverTopology, lfd: number): Promise<[string, number, number]> {
  const { api, io } = d.host;
  const fd = await io.accept(lfd);
  assert.ok(fd >= 0, `accept: ${fd}`);
  const t0 = performance.now();
  const h = createHash('sha256');
  const buf = new Uint8Array(1 << 18);
  let got = 0;
  for (;;) {
    const n = await io.recv(fd, buf);
    if (n === 0) break;
    assert.ok(n > 0, `recv: ${n}`);
    h.update(buf.subarray(0, n));
    got += n;
  }
  api.close(fd);
  return [h.digest('hex'), got, MB / ((performance.now() - t0) / 1000)];
}

function listen(d: DriverTopology, ip: string, port: number): number {
  const { api } = d.host;
  const fd = api.socket(ip.includes(':') ? K.AF_INET6 : K.AF_INET, K.SOCK_STREAM, 0);
  api.setsockoptInt(fd, K.SOL_SOCKET, K.SO_REUSEADDR, 1);
  assert.equal(api.bind(fd, sockaddr(ip, port)), 0);
  assert.equal(api.listen(fd, 8), 0);
  return fd;
}

/** Our echo requests to `dst`: each reply's payload must come back intact. */
async function ourPing(d: DriverTopology, dst: IpAddress, count: number): Promise<number> {
  const { stack, loop } = d.host;
  let replies = 0;
  for (let seq = 1; seq <= count; seq++) {
    const data = Uint8Array.from({ length: 56 }, (_, i) => (i * seq) & 255);
    stack.echoReplies.length = 0;
    loop.pump();
    assert.ok(stack.ping(dst, 0x4242, seq, data, loop.now()), 'ping: no route');
    loop.wake();
    const until = Date.now() + 3000;
    while (Date.now() < until && !stack.echoReplies.some((r) => r.sequence === seq && r.identifier === 0x4242)) await new Promise((r) => setTimeout(r, 5));
    const reply = stack.echoReplies.find((r) => r.sequence === seq);
    if (reply !== undefined) {
      assert.deepEqual(reply.data, data);
      replies++;
    }
  }
  return replies;
}

const rates: string[] = [];

describe('kernel peers', { skip }, () => {
  before(async () => {
    await patternFile();
  });
  after(() => {
    if (file !== '') rmSync(file, { force: true });
    if (rates.length > 0) console.log(`# TCP ${MB} MiB transfers (MiB/s):\n${rates.map((r) => `#   ${r}`).join('\n')}`);
  });

  for (const kind of DRIVERS) {
    describe(`on the ${kind} driver`, () => {
      let d: DriverTopology;
      before(async () => {
        d = await driverTopology(kind, 'kp');
      });
      after(() => d?.destroy());

      test(`KI-01 ${kind}: no hardware needed (this VM): ping and ping -6 reach xlio-ts; xlio-ts's echo requests get the kernel's replies`, { timeout: 60_000 }, async () => {
        for (const [cmd, ip] of [
          [['ping', '-c', '3', '-i', '0.2', '-W', '2'], OUR_V4],
          [['ping', '-6', '-c', '3', '-i', '0.2', '-W', '2'], OUR_V6],
        ] as const) {
          const out = await d.topo.runAsync(d.k, [...cmd, ip], { timeoutMs: 20_000 });
          assert.match(out, /3 packets transmitted, 3 received, 0% packet loss/, out);
        }
        assert.equal(await ourPing(d, ipv4(KERNEL_V4), 3), 3);
        assert.equal(await ourPing(d, ipv6(KERNEL_V6), 3), 3);
      });

      test(`${kind}: TCP ${MB} MiB each way, IPv4 and IPv6, with socat and ncat as servers and clients, SHA-256 checked`, { timeout: 600_000 }, async () => {
        const mtu = `mtu ${d.opened.link.mtu}`;
        // IPv4, we send: socat is the server.
        const socatSrv = d.topo.spawn(d.k, ['sh', '-c', `socat -u TCP4-LISTEN:5001,reuseaddr STDOUT | sha256sum`]);
        const out4 = await sendPattern(d, KERNEL_V4, 5001);
        await socatSrv.exited;
        assert.equal(socatSrv.stdout.split(' ')[0], fileSha, `socat server got something else: ${socatSrv.stdout}${socatSrv.stderr}`);
        // IPv4, we receive: ncat is the client.
        let lfd = listen(d, OUR_V4, 5002);
        const ncatCli = d.topo.runAsync(d.k, ['sh', '-c', `ncat --send-only ${OUR_V4} 5002 < ${file}`], { timeoutMs: 540_000 });
        const [sha4, got4, in4] = await receiveOne(d, lfd);
        await ncatCli;
        d.host.api.close(lfd);
        assert.equal(got4, BYTES);
        assert.equal(sha4, fileSha);
        // IPv6, we send: ncat is the server.
        const ncatSrv = d.topo.spawn(d.k, ['sh', '-c', `ncat -6 -l --recv-only ${KERNEL_V6} 5003 | sha256sum`]);
        const out6 = await sendPattern(d, KERNEL_V6, 5003);
        await ncatSrv.exited;
        assert.equal(ncatSrv.stdout.split(' ')[0], fileSha, `ncat server got something else: ${ncatSrv.stdout}${ncatSrv.stderr}`);
        // IPv6, we receive: socat is the client.
        lfd = listen(d, OUR_V6, 5004);
        const socatCli = d.topo.runAsync(d.k, ['socat', '-u', `FILE:${file}`, `TCP6:[${OUR_V6}]:5004`], { timeoutMs: 540_000 });
        const [sha6, got6, in6] = await receiveOne(d, lfd);
        await socatCli;
        d.host.api.close(lfd);
        assert.equal(got6, BYTES);
        assert.equal(sha6, fileSha);
        rates.push(`${kind.padEnd(6)} (${mtu}): out v4 ${out4.toFixed(0)}, in v4 ${in4.toFixed(0)}, out v6 ${out6.toFixed(0)}, in v6 ${in6.toFixed(0)}`);
      });

      test(`${kind}: curl fetches from an HTTP responder on xlio-ts sockets, IPv4 and IPv6`, { timeout: 60_000 }, async () => {
        const responder = new HttpResponder(d.host.api, d.host.io);
        responder.listen(sockaddr(OUR_V4, 8080));
        const responder6 = new HttpResponder(d.host.api, d.host.io);
        responder6.listen(sockaddr(OUR_V6, 8080));
        const serving = Promise.all([responder.serve(), responder6.serve()]);
        try {
          const N = 4_000_037;
          const expected = createHash('sha256')
            .update(Uint8Array.from({ length: N }, (_, i) => responderByte(i)))
            .digest('hex');
          const sum = await d.topo.runAsync(d.k, ['sh', '-c', `curl -sS --fail --max-time 30 http://${OUR_V4}:8080/bytes/${N} | sha256sum`], { timeoutMs: 40_000 });
          assert.equal(sum.split(' ')[0], expected);
          const hello = await d.topo.runAsync(d.k, ['curl', '-sS', '--fail', '--max-time', '10', '-g', `http://[${OUR_V6}]:8080/hello`], { timeoutMs: 20_000 });
          assert.equal(hello, 'hello from xlio-ts\n');
          // Two requests on one connection (curl reuses it), and a 404 that curl reports.
          const two = await d.topo.runAsync(d.k, ['curl', '-sS', '--max-time', '10', '-w', '%{http_code} %{num_connects}\\n', `http://${OUR_V4}:8080/hello`, `http://${OUR_V4}:8080/missing`], { timeoutMs: 20_000 });
          assert.match(two, /^hello from xlio-ts\n200 1\nno \/missing here\n404 0\n$/);
        } finally {
          responder.close();
          responder6.close();
        }
        await serving;
      });
    });
  }
});

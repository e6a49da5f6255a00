// KI-25: the first connect and the first send cost what later ones cost — nothing is set up
// lazily on first use (XLIO takes tens of milliseconds there). Measured in one fresh process:
//   xlio-ts: two stacks joined by an in-process shared-memory link, driven from this thread
//            (each step pumps both stacks until the call completes). The first connect also
//            resolves the peer's MAC (one ARP exchange), as a first contact on a wire does.
//   node:    net.connect to a net.Server on kernel loopback and dgram send, event-driven.
// Printed per implementation: the first call, the median of the next LATER calls, and
// first / median. xlio-ts runs twice, each in a fresh child process: cold, and after
// prewarm() (src/runtime/prewarm.ts, which the runtime's workers run at start), which
// compiles the hot paths on a private pair of stacks before the first real call.
// Run: npx tsc -p . && node dist/bench/first-use.bench.js

import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { prewarm } from '../src/runtime/prewarm.js';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { ShmLink } from '../src/link/shm-link.js';
import { createHost, LINK_BYTES, LINK_MTU, SERVER_IP } from '../src/cli/perf/xlio-host.js';
import * as K from '../src/socket/constants.js';
import { PollFd, SockAddr } from '../src/socket/types.js';
import { ipv4 } from '../src/wire/address.js';

const LATER = 200;
const STEP_LIMIT = 100_000;

interface Row {
  what: string;
  impl: string;
  firstUs: number;
  medianUs: number;
}

const nowUs = (): number => performance.now() * 1000;
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;

function xlioRows(impl: string): Row[] {
  const shared = ShmLink.pair(LINK_BYTES, LINK_MTU);
  const s = createHost(shared, 'server'), c = createHost(shared, 'client');
  const pumpUntil = (done: () => boolean, what: string): void => {
    for (let i = 0; !done(); i++) {
      if (i > STEP_LIMIT) throw new Error(`${what} did not complete`);
      c.driver.pump();
      s.driver.pump();
    }
  };
  const lfd = s.api.socket(K.AF_INET, K.SOCK_STREAM | K.SOCK_NONBLOCK);
  s.api.setsockoptInt(lfd, K.SOL_SOCKET, K.SO_REUSEADDR, 1);
  s.api.bind(lfd, SockAddr.inet(ipv4(SERVER_IP), 5001));
  s.api.listen(lfd, 1024);
  const to = SockAddr.inet(ipv4(SERVER_IP), 5001);
  const pfd = [new PollFd(0, K.POLLOUT)];
  const msg = new Uint8Array(64), rx = new Uint8Array(4096);

  // TCP: connect until writable and accepted; then one 64-byte send until the server has it.
  const connects: number[] = [], sends: number[] = [];
  for (let i = 0; i <= LATER; i++) {
    const t0 = nowUs();
    const fd = c.api.socket(K.AF_INET, K.SOCK_STREAM | K.SOCK_NONBLOCK);
    c.api.connect(fd, to);
    pfd[0]!.fd = fd;
    let afd = -1;
    pumpUntil(() => c.api.poll(pfd, 1, 0) === 1 && (afd >= 0 || (afd = s.api.accept4(lfd, null, K.SOCK_NONBLOCK)) >= 0), 'connect');
    const t1 = nowUs();
    c.api.send(fd, msg, 0);
    pumpUntil(() => s.api.recv(afd, rx, K.MSG_DONTWAIT) > 0, 'send');
    const t2 = nowUs();
    connects.push(t1 - t0);
    sends.push(t2 - t1);
    c.api.close(fd);
    s.api.close(afd);
    pumpUntil(() => true, 'close');
  }

  // UDP: a fresh socket's first datagram, until the server has it.
  const us = s.api.socket(K.AF_INET, K.SOCK_DGRAM | K.SOCK_NONBLOCK);
  s.api.bind(us, SockAddr.inet(ipv4(SERVER_IP), 5002));
  const udp: number[] = [];
  const uto = SockAddr.inet(ipv4(SERVER_IP), 5002);
  for (let i = 0; i <= LATER; i++) {
    const t0 = nowUs();
    const fd = c.api.socket(K.AF_INET, K.SOCK_DGRAM | K.SOCK_NONBLOCK);
    c.api.sendto(fd, msg, 0, uto);
    pumpUntil(() => s.api.recv(us, rx, K.MSG_DONTWAIT) > 0, 'udp send');
    udp.push(nowUs() - t0);
    c.api.close(fd);
  }
  return [
    { what: 'TCP connect (until accepted)', impl, firstUs: connects[0]!, medianUs: median(connects.slice(1)) },
    { what: 'TCP first send of a connection', impl, firstUs: sends[0]!, medianUs: median(sends.slice(1)) },
    { what: 'UDP first datagram of a socket', impl, firstUs: udp[0]!, medianUs: median(udp.slice(1)) },
  ];
}

async function nodeRows(): Promise<Row[]> {
  const server = createServer();
  const accepted: ((s: import('node:net').Socket) => void)[] = [];
  server.on('connection', (sock) => accepted.shift()?.(sock));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const connects: number[] = [], sends: number[] = [];
  for (let i = 0; i <= LATER; i++) {
    const t0 = nowUs();
    const gotServer = new Promise<import('node:net').Socket>((r) => accepted.push(r));
    const sock = createConnection({ port, host: '127.0.0.1', noDelay: true });
    await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
    const peer = await gotServer;
    const t1 = nowUs();
    const data = new Promise<void>((r) => peer.once('data', () => r()));
    sock.write(Buffer.alloc(64));
    await data;
    const t2 = nowUs();
    connects.push(t1 - t0);
    sends.push(t2 - t1);
    sock.destroy();
    peer.destroy();
  }
  server.close();

  const rxSock = createSocket('udp4');
  await new Promise<void>((r) => rxSock.bind(0, '127.0.0.1', r));
  const uport = rxSock.address().port;
  const udp: number[] = [];
  for (let i = 0; i <= LATER; i++) {
    const t0 = nowUs();
    const tx = createSocket('udp4');
    const got = new Promise<void>((r) => rxSock.once('message', () => r()));
    tx.send(Buffer.alloc(64), uport, '127.0.0.1');
    await got;
    udp.push(nowUs() - t0);
    tx.close();
  }
  rxSock.close();
  return [
    { what: 'TCP connect (until accepted)', impl: 'node', firstUs: connects[0]!, medianUs: median(connects.slice(1)) },
    { what: 'TCP first send of a connection', impl: 'node', firstUs: sends[0]!, medianUs: median(sends.slice(1)) },
    { what: 'UDP first datagram of a socket', impl: 'node', firstUs: udp[0]!, medianUs: median(udp.slice(1)) },
  ];
}

/** xlio-ts's rows measured in a fresh process, cold or after prewarm(). */
function xlioInChild(warm: boolean): Row[] {
  const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, warm ? '--xlio-prewarmed' : '--xlio-cold'], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`xlio-ts child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Row[];
}

if (process.argv.includes('--xlio-cold') || process.argv.includes('--xlio-prewarmed')) {
  const warm = process.argv.includes('--xlio-prewarmed');
  if (warm) prewarm();
  process.stdout.write(JSON.stringify(xlioRows(warm ? 'xlio-ts prewarmed' : 'xlio-ts')));
  process.exit(0);
}
const rows = [...xlioInChild(false), ...xlioInChild(true), ...(await nodeRows())];

console.log(`\nKI-25 first use: the first call against the median of the next ${LATER} (µs), each implementation in a fresh process\n`);
const head = ['call', 'impl', 'first µs', `median µs`, 'first / median'];
const lines = rows.map((r) => [r.what, r.impl, r.firstUs.toFixed(1), r.medianUs.toFixed(1), `${(r.firstUs / r.medianUs).toFixed(1)}×`]);
const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
const fmt = (cells: string[]): string => cells.map((c, i) => c.padEnd(w[i]!)).join('  ');
console.log(fmt(head));
console.log(w.map((n) => '-'.repeat(n)).join('  '));
for (const l of lines) console.log(fmt(l));
for (const what of new Set(rows.map((r) => r.what))) {
  const x = rows.find((r) => r.what === what && r.impl === 'xlio-ts')!, w = rows.find((r) => r.what === what && r.impl === 'xlio-ts prewarmed')!, n = rows.find((r) => r.what === what && r.impl === 'node')!;
  console.log(`${what}: first call xlio-ts ${x.firstUs.toFixed(1)} µs cold, ${w.firstUs.toFixed(1)} µs prewarmed; node ${n.firstUs.toFixed(1)} µs (node / prewarmed xlio-ts: ${(n.firstUs / w.firstUs).toFixed(1)}×)`);
}

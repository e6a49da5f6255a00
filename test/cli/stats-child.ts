// A child for test/cli/stats.test.ts: an xlio-ts process (a ProcessHost on its loopback)
// that sends a known amount of TCP and UDP traffic between sockets of its own, prints one
// JSON line {"ready":…} with its sockets' descriptors, and stays alive until stdin closes or
// it is killed (SIGTERM), so `xlio stats` can read its counters from another process.
//
//   TCP  client → server: TCP_MSGS × TCP_MSG bytes, all read by the server;
//        server → client: TCP_BACK bytes, of which the client reads TCP_BACK_READ.
//   UDP  b → a: UDP_MSGS × UDP_MSG bytes; a reads UDP_READ of them (the rest stay queued);
//        a → b: UDP_BACK × UDP_BACK_LEN bytes, all read.

import { pathToFileURL } from 'node:url';
import { ProcessHost, setProcessHost } from '../../src/node/host.js';
import * as K from '../../src/socket/constants.js';
import { SockAddr } from '../../src/socket/types.js';
import { ipv4 } from '../../src/wire/address.js';

export const TRAFFIC = {
  TCP_PORT: 7100, TCP_MSGS: 10, TCP_MSG: 1000, TCP_BACK: 1500, TCP_BACK_READ: 1000,
  UDP_A: 7200, UDP_B: 7201, UDP_MSGS: 20, UDP_MSG: 100, UDP_READ: 15, UDP_BACK: 7, UDP_BACK_LEN: 50,
} as const;

async function main(): Promise<void> {
  const T = TRAFFIC;
  const host = new ProcessHost();
  setProcessHost(host); // publishes it (XLIO_STATS_SHMEM_DIR from the test)
  host.ref();
  const { api, io } = host;
  const lo = ipv4('127.0.0.1');
  const must = (r: number, what: string): number => {
    if (r < 0) throw new Error(`${what}: ${r}`);
    return r;
  };

  // TCP
  const lfd = must(api.socket(K.AF_INET, K.SOCK_STREAM, 0), 'socket');
  must(api.bind(lfd, SockAddr.inet(lo, T.TCP_PORT)), 'bind');
  must(api.listen(lfd, 8), 'listen');
  const cfd = must(api.socket(K.AF_INET, K.SOCK_STREAM, 0), 'socket');
  const accepted = io.accept(lfd);
  must(await io.connect(cfd, SockAddr.inet(lo, T.TCP_PORT)), 'connect');
  const sfd = must(await accepted, 'accept');
  const msg = new Uint8Array(T.TCP_MSG).fill(0x61);
  for (let i = 0; i < T.TCP_MSGS; i++) must(await io.send(cfd, msg), 'send');
  const sink = new Uint8Array(T.TCP_MSGS * T.TCP_MSG);
  must(await io.recv(sfd, sink, K.MSG_WAITALL), 'recv');
  must(await io.send(sfd, new Uint8Array(T.TCP_BACK).fill(0x62)), 'send back');
  must(await io.recv(cfd, new Uint8Array(T.TCP_BACK_READ), K.MSG_WAITALL), 'recv back');

  // UDP
  const a = must(api.socket(K.AF_INET, K.SOCK_DGRAM, 0), 'udp socket');
  const b = must(api.socket(K.AF_INET, K.SOCK_DGRAM, 0), 'udp socket');
  must(api.bind(a, SockAddr.inet(lo, T.UDP_A)), 'bind a');
  must(api.bind(b, SockAddr.inet(lo, T.UDP_B)), 'bind b');
  must(api.connect(b, SockAddr.inet(lo, T.UDP_A)), 'connect b');
  const d = new Uint8Array(T.UDP_MSG).fill(0x63);
  for (let i = 0; i < T.UDP_MSGS; i++) must(await io.send(b, d), 'udp send');
  const buf = new Uint8Array(2048);
  for (let i = 0; i < T.UDP_READ; i++) must(await io.recv(a, buf), 'udp recv');
  for (let i = 0; i < T.UDP_BACK; i++) must(await io.sendto(a, new Uint8Array(T.UDP_BACK_LEN), 0, SockAddr.inet(lo, T.UDP_B)), 'udp send back');
  for (let i = 0; i < T.UDP_BACK; i++) must(await io.recv(b, buf), 'udp recv back');

  // Let delayed ACKs go out, so every byte sent is acknowledged.
  await new Promise((r) => setTimeout(r, 300));
  process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, tcp: { listener: lfd, client: cfd, server: sfd }, udp: { a, b } }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

// Run only as a program (the test imports TRAFFIC from here).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`stats-child: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}

// The program shutdown.test.ts ends in various ways: it opens `conns` connections to the
// sink, writes `bytes` bytes on each (byte k is k % 251; in two writes, so that the stream
// buffers some), prints one JSON line {ready, written, pending} and waits for a line on stdin
// — or for a signal — to end as its scenario says. The same script runs over xlio-ts
// (mode "xlio": xlio-ts/net on the host XLIO_LINK/XLIO_ADDR describe) and over Node's own
// net (mode "node"), so its exit status and stderr can be compared.
//
//   node shutdown-child.js <xlio|node> <scenario> <address> <port> <conns> <bytes>
//
// Scenarios: SIGINT, SIGTERM, SIGHUP (the test sends the signal), exit3 (process.exit(3)),
// throw (an uncaught exception), end (sockets unref'd, stdin closed: the program just ends),
// destroy (nothing written until the line comes; then write, destroy() at once, and
// process.exit(0) in the same turn: KI-20, close() after send() with nothing left running), linger0 (SO_LINGER {1, 0} on every
// socket, then the test sends SIGTERM), handler (the program listens for SIGINT itself,
// added after its sockets are up, and exits with 7 from there).

import type * as NodeNet from 'node:net';

const [mode, scenario, address, portText, connsText, bytesText] = process.argv.slice(2) as [string, string, string, string, string, string];
const port = Number(portText);
const conns = Number(connsText);
const bytes = Number(bytesText);

let net: typeof NodeNet;
let lingerZero: ((s: NodeNet.Socket) => void) | null = null;
if (mode === 'xlio') {
  const { processHostFromEnv } = await import('../../src/node/host.js');
  const host = await processHostFromEnv();
  net = (await import('../../src/node/net.js')) as unknown as typeof NodeNet;
  lingerZero = (s) => {
    const fd = (s as unknown as { _handle: { fd: number } })._handle.fd;
    const r = host.api.setsockopt(fd, 1 /* SOL_SOCKET */, 13 /* SO_LINGER */, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
    if (r !== 0) throw new Error(`setsockopt(SO_LINGER): ${r}`);
  };
} else {
  net = await import('node:net');
}

const payload = Buffer.alloc(bytes);
for (let i = 0; i < bytes; i++) payload[i] = i % 251;

const sockets: NodeNet.Socket[] = [];
let connected = 0;
for (let i = 0; i < conns; i++) {
  const s = net.connect({ host: address, port });
  sockets.push(s);
  s.on('connect', () => {
    if (++connected === conns) ready();
  });
}

function write(s: NodeNet.Socket): void {
  const half = bytes >> 1;
  s.write(payload.subarray(0, half));
  s.write(payload.subarray(half));
}

function ready(): void {
  for (const s of sockets) {
    if (scenario === 'linger0') lingerZero?.(s);
    if (scenario !== 'destroy') write(s);
  }
  const pending = sockets.reduce((n, s) => n + s.writableLength, 0);
  if (scenario === 'handler') {
    process.on('SIGINT', () => {
      console.log(JSON.stringify({ handled: 'SIGINT' }));
      process.exit(7);
    });
  }
  console.log(JSON.stringify({ ready: true, written: bytes * conns, pending }));
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', () => {
  switch (scenario) {
    case 'exit3':
      process.exit(3);
      break;
    case 'throw':
      throw new Error('boom');
    case 'destroy':
      // KI-20: close() at once after send(), and the process ends in this same turn.
      for (const s of sockets) {
        write(s);
        s.destroy();
      }
      process.exit(0);
      break;
    case 'end':
      for (const s of sockets) s.unref();
      process.stdin.destroy();
      break;
  }
});

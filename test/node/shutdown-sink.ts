// The kernel peer of shutdown.test.ts: a Node server (Node's own net, the kernel's TCP) in
// the test's namespace k. It accepts without reading (pauseOnConnect) until a line "go" on
// stdin, then reads every connection, checks that byte k of the stream is k % 251, and when
// a connection closes prints one JSON line: its bytes, whether they were all in order,
// whether it ended ('end') and the error code if any.
//
// A FIN and an RST are told apart by a write after the end: Linux reports an RST that came
// while the socket's data was still unread as EOF after that data, not as ECONNRESET, but a
// write to a reset socket fails (EPIPE), to one the peer only shut down it does not.
//
//   node shutdown-sink.js <address> [eager]    → {"port":P} once listening

import net from 'node:net';

const address = process.argv[2] ?? '198.18.0.2';
// "eager": read from the start.
let go = process.argv[3] === 'eager';
let next = 0;
const waiting: (() => void)[] = [];

const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => {
  const id = next++;
  let bytes = 0;
  let ordered = true;
  let end = false;
  let error: string | null = null;
  s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  s.on('end', () => {
    end = true;
    s.end('x');
  });
  s.on('close', () => console.log(JSON.stringify({ id, bytes, ordered, end, error })));
  const start = (): void => {
    s.on('data', (d: Buffer) => {
      if (ordered) {
        for (let i = 0; i < d.length; i++) {
          if (d[i] !== (bytes + i) % 251) {
            ordered = false;
            break;
          }
        }
      }
      bytes += d.length;
    });
    s.resume();
  };
  if (go) start();
  else waiting.push(start);
});
server.listen(0, address, () => console.log(JSON.stringify({ port: (server.address() as net.AddressInfo).port })));

process.stdin.setEncoding('utf8');
process.stdin.on('data', (line: string) => {
  if (!line.includes('go') || go) return;
  go = true;
  for (const start of waiting.splice(0)) start();
});
process.stdin.on('end', () => process.exit(0));

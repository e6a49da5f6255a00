// net: servers — listen forms and address(), 'listening' order, close() semantics,
// getConnections, maxConnections and 'drop', pauseOnConnect.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { behaviour, bounded, cleanup, collect, connected, listening, next, record, sleep, tick, until } from './harness.js';

const S = 'net: server';

behaviour(S, "listen(0, host, cb): the callback runs before other 'listening' listeners; listening is true", async (m, t) => {
  const s = m.net.createServer();
  cleanup(t, s);
  const log: string[] = [];
  const r = s.listen(0, '127.0.0.1', () => log.push('callback'));
  s.on('listening', () => log.push('listening'));
  assert.equal(r, s);
  assert.equal(s.listening, false);
  await next(s, 'listening');
  await tick();
  assert.deepEqual([log, s.listening], [['callback', 'listening'], true]);
});

behaviour(S, 'address() of a server on 127.0.0.1 port 0: { address, family, port } with an ephemeral port', async (m, t) => {
  const l = await listening(m, t);
  const a = l.server.address() as AddressInfo;
  assert.deepEqual(Object.keys(a).sort(), ['address', 'family', 'port']);
  assert.deepEqual([a.address, a.family], ['127.0.0.1', 'IPv4']);
  assert.ok(Number.isInteger(a.port) && a.port > 0 && a.port < 65536);
});

behaviour(S, 'address() is null before listen() and after close()', async (m, t) => {
  const s = m.net.createServer();
  cleanup(t, s);
  const before = s.address();
  s.listen(0, '127.0.0.1');
  await next(s, 'listening');
  await new Promise<void>((resolve) => s.close(() => resolve()));
  assert.deepEqual([before, s.address(), s.listening], [null, null, false]);
});

behaviour(S, 'listen overloads: (port, host), (port, cb), ({port, host}), (string port), (port, host, backlog, cb)', async (m, t) => {
  const mk = () => {
    const s = m.net.createServer();
    cleanup(t, s);
    return s;
  };
  const a = mk();
  a.listen(0, '127.0.0.1');
  const b = mk();
  let bcb = false;
  b.listen(0, () => (bcb = true));
  const c = mk();
  c.listen({ port: 0, host: '127.0.0.1' });
  const d = mk();
  d.listen('0' as any, '127.0.0.1');
  const e = mk();
  let ecb = false;
  e.listen(0, '127.0.0.1', 10, () => (ecb = true));
  await Promise.all([a, b, c, d, e].map((s) => next(s, 'listening')));
  await tick();
  const fam = [a, c, d, e].map((s) => (s.address() as AddressInfo).address);
  assert.deepEqual([fam, bcb, ecb], [['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1'], true, true]);
});

behaviour(S, "listen() with no host listens on '::' (IPv6, dual stack)", async (m, t) => {
  const s = m.net.createServer();
  cleanup(t, s);
  s.listen(0);
  await next(s, 'listening');
  const a = s.address() as AddressInfo;
  assert.deepEqual([a.address, a.family], ['::', 'IPv6']);
});

behaviour(S, 'listen on 0.0.0.0: address() is 0.0.0.0, and a 127.0.0.1 client connects', async (m, t) => {
  const l = await listening(m, t, { host: '0.0.0.0' });
  assert.deepEqual((l.server.address() as AddressInfo).address, '0.0.0.0');
  const [, s] = await connected(m, t, l);
  assert.deepEqual([s.localAddress, s.remoteAddress], ['127.0.0.1', '127.0.0.1']);
});

behaviour(S, "close() with no connections: callback (no error) after 'close' listeners registered earlier", async (m, t) => {
  const l = await listening(m, t);
  const log: string[] = [];
  l.server.on('close', () => log.push('close'));
  const r = l.server.close((e) => log.push(`callback:${e}`));
  assert.equal(r, l.server);
  assert.equal(l.server.listening, false);
  await next(l.server, 'close');
  await tick();
  assert.deepEqual(log, ['close', 'callback:undefined']);
});

behaviour(S, "close() waits for open connections: no 'close' until the last one ends", async (m, t) => {
  const l = await listening(m, t);
  const [c] = await connected(m, t, l);
  let closed = false;
  l.server.close(() => (closed = true));
  assert.equal(l.server.listening, false);
  await sleep(100);
  const whileOpen = closed;
  c.end();
  await bounded(until(() => closed, 'server close'), 'server close');
  assert.deepEqual([whileOpen, closed], [false, true]);
});

behaviour(S, 'after close() new connections are refused while old ones still work', async (m, t) => {
  const l = await listening(m, t);
  l.server.on('connection', (s) => s.pipe(s));
  const [c] = await connected(m, t, l);
  l.server.close();
  const late = m.net.connect(l.port, '127.0.0.1');
  cleanup(t, late);
  const [e] = await next(late, 'error');
  assert.equal(e.code, 'ECONNREFUSED');
  const echoed = collect(c);
  c.end('still here');
  assert.equal(String(await echoed), 'still here');
});

behaviour(S, 'getConnections(cb): (null, count), and the count follows closes', async (m, t) => {
  const l = await listening(m, t);
  const count = () => new Promise<[unknown, number]>((resolve) => l.server.getConnections((e, n) => resolve([e, n])));
  const zero = await count();
  const [a] = await connected(m, t, l);
  await connected(m, t, l);
  const two = await count();
  a.destroy();
  await next(l.accepted[0]!, 'close');
  const one = await count();
  assert.deepEqual([zero, two, one], [[null, 0], [null, 2], [null, 1]]);
});

behaviour(S, 'getConnections returns the server', async (m, t) => {
  const l = await listening(m, t);
  const r = l.server.getConnections(() => {});
  assert.equal(r, l.server);
});

behaviour(S, "maxConnections: over the limit the server emits 'drop' with both addresses and closes the socket", async (m, t) => {
  const l = await listening(m, t);
  assert.equal(l.server.maxConnections, undefined);
  l.server.maxConnections = 1;
  const [first] = await connected(m, t, l);
  const drops: any[] = [];
  l.server.on('drop', (d) => drops.push(d));
  const second = m.net.connect(l.port, '127.0.0.1');
  cleanup(t, second);
  second.on('error', () => {});
  const closed = next(second, 'close');
  await next(second, 'connect');
  const secondPort = second.localPort;
  await closed;
  assert.equal(drops.length, 1);
  assert.deepEqual({ ...drops[0] }, {
    localAddress: '127.0.0.1',
    localPort: l.port,
    localFamily: 'IPv4',
    remoteAddress: '127.0.0.1',
    remotePort: secondPort,
    remoteFamily: 'IPv4',
  });
  assert.equal(l.accepted.length, 1);
  assert.equal(first.destroyed, false);
});

behaviour(S, "maxConnections = 0 is no limit: connections are accepted, no 'drop'", async (m, t) => {
  const l = await listening(m, t);
  l.server.maxConnections = 0;
  let drops = 0;
  l.server.on('drop', () => drops++);
  await connected(m, t, l);
  await connected(m, t, l);
  assert.deepEqual([drops, l.accepted.length], [0, 2]);
});

behaviour(S, "pauseOnConnect: no 'data' until resume(), then everything", async (m, t) => {
  const l = await listening(m, t, { server: { pauseOnConnect: true } });
  const c = m.net.connect(l.port, '127.0.0.1');
  cleanup(t, c);
  c.write('waiting');
  const s = await l.nextConnection();
  const seen: string[] = [];
  s.on('data', (d) => seen.push(String(d)));
  await sleep(100);
  const whilePaused = seen.join('');
  s.resume();
  await until(() => seen.join('') === 'waiting', "the data after resume()");
  assert.deepEqual([whilePaused, s.isPaused()], ['', false]);
});

behaviour(S, 'server.ref()/unref() return the server', async (m, t) => {
  const l = await listening(m, t);
  assert.equal(l.server.unref(), l.server);
  assert.equal(l.server.ref(), l.server);
});

behaviour(S, 'createServer(options, listener) and new Server(): allowHalfOpen passes to accepted sockets', async (m, t) => {
  let seen: boolean | undefined;
  const s = m.net.createServer({ allowHalfOpen: true }, (sock) => {
    seen = sock.allowHalfOpen;
    sock.destroy();
  });
  cleanup(t, s);
  const plain = new m.net.Server();
  assert.ok(plain instanceof m.net.Server);
  assert.ok(s instanceof m.net.Server);
  s.listen(0, '127.0.0.1');
  await next(s, 'listening');
  const c = m.net.connect((s.address() as AddressInfo).port, '127.0.0.1');
  cleanup(t, c);
  c.on('error', () => {});
  await next(s, 'connection');
  assert.equal(seen, true);
});

behaviour(S, 'a closed server can listen again', async (m, t) => {
  const l = await listening(m, t);
  await new Promise<void>((resolve) => l.server.close(() => resolve()));
  l.server.listen(0, '127.0.0.1');
  await next(l.server, 'listening');
  const [c] = await connected(m, t, { ...l, port: (l.server.address() as AddressInfo).port });
  assert.equal(c.remotePort, (l.server.address() as AddressInfo).port);
});

behaviour(S, "server 'connection' events for sequential clients come in connect order", async (m, t) => {
  const l = await listening(m, t);
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) {
    const [c] = await connected(m, t, l);
    ports.push(c.localPort!);
  }
  assert.deepEqual(
    l.accepted.map((s) => s.remotePort),
    ports,
  );
});

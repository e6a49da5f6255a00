// net: IPv6 — ::1, dual-stack '::' accepting IPv4 clients (v4-mapped addresses), ipv6Only.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { behaviour, cleanup, collect, connected, listening, next } from './harness.js';

const V = 'net: ipv6';

behaviour(V, 'listen on ::1: address() is { address: "::1", family: "IPv6", port }', async (m, t) => {
  const l = await listening(m, t, { host: '::1' });
  assert.deepEqual(l.server.address(), { address: '::1', family: 'IPv6', port: l.port });
});

behaviour(V, 'a ::1 client: remote/local address and family on both ends', async (m, t) => {
  const l = await listening(m, t, { host: '::1' });
  const [c, s] = await connected(m, t, l, { host: '::1' });
  assert.deepEqual(
    [c.remoteAddress, c.remoteFamily, c.remotePort, c.localAddress, c.localFamily],
    ['::1', 'IPv6', l.port, '::1', 'IPv6'],
  );
  assert.deepEqual([s.remoteAddress, s.remoteFamily, s.remotePort, s.localAddress, s.localPort], ['::1', 'IPv6', c.localPort, '::1', l.port]);
  assert.deepEqual(c.address(), { address: '::1', family: 'IPv6', port: c.localPort });
});

behaviour(V, 'data round trip over ::1', async (m, t) => {
  const l = await listening(m, t, { host: '::1' });
  l.server.on('connection', (s) => s.pipe(s));
  const c = m.net.connect({ port: l.port, host: '::1' });
  cleanup(t, c);
  const got = collect(c);
  c.end('over six');
  assert.equal(String(await got), 'over six');
});

behaviour(V, "dual stack: a server on '::' accepts an IPv4 client as ::ffff:127.0.0.1", async (m, t) => {
  const l = await listening(m, t, { host: '::' });
  const [c, s] = await connected(m, t, l, { host: '127.0.0.1' });
  assert.deepEqual([c.remoteAddress, c.remoteFamily, c.localAddress], ['127.0.0.1', 'IPv4', '127.0.0.1']);
  assert.deepEqual(
    [s.remoteAddress, s.remoteFamily, s.remotePort, s.localAddress, s.localFamily],
    ['::ffff:127.0.0.1', 'IPv6', c.localPort, '::ffff:127.0.0.1', 'IPv6'],
  );
});

behaviour(V, "dual stack: a server on '::' accepts an IPv6 client too", async (m, t) => {
  const l = await listening(m, t, { host: '::' });
  const [, s] = await connected(m, t, l, { host: '::1' });
  assert.deepEqual([s.remoteAddress, s.localAddress], ['::1', '::1']);
});

behaviour(V, "ipv6Only: a server on '::' refuses IPv4 clients", async (m, t) => {
  const l = await listening(m, t, { host: '::', listen: { ipv6Only: true } });
  const c = m.net.connect(l.port, '127.0.0.1');
  cleanup(t, c);
  const [e] = await next(c, 'error');
  assert.deepEqual([e.code, e.address, e.port], ['ECONNREFUSED', '127.0.0.1', l.port]);
});

behaviour(V, "ipv6Only: an IPv4 server can share the port with an IPv6-only server on '::'", async (m, t) => {
  const six = await listening(m, t, { host: '::', listen: { ipv6Only: true } });
  const four = m.net.createServer((s) => s.end('v4'));
  cleanup(t, four);
  four.listen(six.port, '0.0.0.0');
  await next(four, 'listening');
  six.server.on('connection', (s) => s.end('v6'));
  const c4 = m.net.connect(six.port, '127.0.0.1');
  const c6 = m.net.connect(six.port, '::1');
  cleanup(t, c4, c6);
  assert.deepEqual([String(await collect(c4)), String(await collect(c6))], ['v4', 'v6']);
});

behaviour(V, "without ipv6Only, an IPv4 server cannot share the port of a server on '::' (EADDRINUSE)", async (m, t) => {
  const six = await listening(m, t, { host: '::' });
  const four = m.net.createServer();
  cleanup(t, four);
  four.listen(six.port, '0.0.0.0');
  const [e] = await next(four, 'error');
  assert.deepEqual([e.code, e.address, e.port], ['EADDRINUSE', '0.0.0.0', six.port]);
});

behaviour(V, "connect to '::ffff:127.0.0.1' reaches an IPv4 server", async (m, t) => {
  const l = await listening(m, t, { host: '127.0.0.1' });
  const c = m.net.connect({ port: l.port, host: '::ffff:127.0.0.1' });
  cleanup(t, c);
  await next(c, 'connect');
  const s = await l.nextConnection();
  assert.deepEqual([c.remoteFamily, s.remoteAddress], ['IPv6', '127.0.0.1']);
});

behaviour(V, 'net.isIP / isIPv4 / isIPv6', async (m) => {
  assert.deepEqual(
    ['127.0.0.1', '::1', '::ffff:127.0.0.1', 'fe80::1%lo', 'localhost', '1.2.3', ''].map((a) => [m.net.isIP(a), m.net.isIPv4(a), m.net.isIPv6(a)]),
    [
      [4, true, false],
      [6, false, true],
      [6, false, true],
      [6, false, true],
      [0, false, false],
      [0, false, false],
      [0, false, false],
    ],
  );
});

behaviour(V, "server address() on '::' after listen(0, '::')", async (m, t) => {
  const l = await listening(m, t, { host: '::' });
  assert.deepEqual(l.server.address() as AddressInfo, { address: '::', family: 'IPv6', port: l.port });
});

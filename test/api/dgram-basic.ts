// dgram: bind/address, 'listening', implicit bind on send, every send overload, message and
// rinfo shape; connect/disconnect/remoteAddress and their errors.

import assert from 'node:assert/strict';
import { behaviour, bound, closeUdpAfter, message, next, record, thrown, tick, udpPort } from './harness.js';

const B = 'dgram: bind and send';
const C = 'dgram: connect';

behaviour(B, "bind(0, '127.0.0.1', cb): callback before other 'listening' listeners; address() shape", async (m, t) => {
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  const log: string[] = [];
  const r = s.bind(0, '127.0.0.1', () => log.push('callback'));
  s.on('listening', () => log.push('listening'));
  assert.equal(r, s);
  await next(s, 'listening');
  await tick();
  const a = s.address();
  assert.deepEqual(log, ['callback', 'listening']);
  assert.deepEqual(Object.keys(a).sort(), ['address', 'family', 'port']);
  assert.deepEqual([a.address, a.family], ['127.0.0.1', 'IPv4']);
  assert.ok(a.port > 0 && a.port < 65536);
});

behaviour(B, "bind() with no arguments binds 0.0.0.0 (udp4) / :: (udp6) on an ephemeral port", async (m, t) => {
  const a = m.dgram.createSocket('udp4');
  const b = m.dgram.createSocket('udp6');
  closeUdpAfter(t, a, b);
  a.bind();
  b.bind();
  await Promise.all([next(a, 'listening'), next(b, 'listening')]);
  assert.deepEqual([a.address().address, a.address().family, b.address().address, b.address().family], ['0.0.0.0', 'IPv4', '::', 'IPv6']);
  assert.ok(a.address().port > 0 && b.address().port > 0);
});

behaviour(B, 'bind forms: (port, cb), ({ port, address }), ({ port, address, exclusive }, cb)', async (m, t) => {
  const a = m.dgram.createSocket('udp4');
  const b = m.dgram.createSocket('udp4');
  const c = m.dgram.createSocket('udp4');
  closeUdpAfter(t, a, b, c);
  let acb = false;
  let ccb = false;
  a.bind(0, () => (acb = true));
  b.bind({ port: 0, address: '127.0.0.1' });
  c.bind({ port: 0, address: '127.0.0.1', exclusive: true }, () => (ccb = true));
  await Promise.all([a, b, c].map((s) => next(s, 'listening')));
  await tick();
  assert.deepEqual([acb, ccb, a.address().address, b.address().address, c.address().address], [true, true, '0.0.0.0', '127.0.0.1', '127.0.0.1']);
});

behaviour(B, "a datagram arrives with rinfo { address, family, port, size } of the sender", async (m, t) => {
  const r = await bound(m, t);
  const s = await bound(m, t);
  s.send('hello', udpPort(r), '127.0.0.1');
  const [msg, rinfo] = await message(r);
  assert.ok(Buffer.isBuffer(msg));
  assert.equal(String(msg), 'hello');
  assert.deepEqual(rinfo, { address: '127.0.0.1', family: 'IPv4', port: udpPort(s), size: 5 });
});

behaviour(B, "send() on an unbound socket binds it implicitly: 'listening', then address() is 0.0.0.0:ephemeral", async (m, t) => {
  const r = await bound(m, t);
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  const log = record(s, ['listening', 'error', 'close']);
  const sent = new Promise<[unknown, number]>((resolve) => s.send('implicit', udpPort(r), '127.0.0.1', (e, n) => resolve([e, n])));
  const [msg, rinfo] = await message(r);
  const [err, bytes] = await sent;
  const a = s.address();
  assert.deepEqual([log, err, bytes, String(msg)], [['listening'], null, 8, 'implicit']);
  assert.deepEqual([a.address, a.family, rinfo.port], ['0.0.0.0', 'IPv4', a.port]);
});

behaviour(B, 'send(msg, port, address, cb): the callback gets (null, bytes sent)', async (m, t) => {
  const r = await bound(m, t);
  const s = await bound(m, t);
  const [err, n] = await new Promise<[unknown, number]>((resolve) => s.send(Buffer.from('abcdef'), udpPort(r), '127.0.0.1', (e, b) => resolve([e, b])));
  assert.deepEqual([err, n], [null, 6]);
});

behaviour(B, 'send(msg, offset, length, port, address, cb) sends the slice', async (m, t) => {
  const r = await bound(m, t);
  const s = await bound(m, t);
  let bytes = -1;
  s.send(Buffer.from('0123456789'), 2, 5, udpPort(r), '127.0.0.1', (_e, n) => (bytes = n));
  const [msg, rinfo] = await message(r);
  await tick();
  assert.deepEqual([String(msg), rinfo.size, bytes], ['23456', 5, 5]);
});

behaviour(B, 'send(string, offset, length, …) slices the string too', async (m, t) => {
  const r = await bound(m, t);
  const s = await bound(m, t);
  s.send('abcdefgh', 1, 3, udpPort(r), '127.0.0.1');
  const [msg] = await message(r);
  assert.equal(String(msg), 'bcd');
});

behaviour(B, 'send([buf, string, Uint8Array], port, address) sends one datagram of their concatenation', async (m, t) => {
  const r = await bound(m, t);
  const s = await bound(m, t);
  let bytes = -1;
  s.send([Buffer.from('one,'), 'two,', new Uint8Array([0x33])], udpPort(r), '127.0.0.1', (_e, n) => (bytes = n));
  const [msg, rinfo] = await message(r);
  await tick();
  assert.deepEqual([String(msg), rinfo.size, bytes], ['one,two,3', 9, 9]);
});

behaviour(B, 'send(Uint8Array) and send(DataView) send their bytes', async (m, t) => {
  const r = await bound(m, t);
  const s = await bound(m, t);
  s.send(new Uint8Array([1, 2, 3]), udpPort(r), '127.0.0.1');
  const [a] = await message(r);
  const ab = new Uint8Array([9, 8, 7, 6]).buffer;
  s.send(new DataView(ab, 1, 2), udpPort(r), '127.0.0.1');
  const [b] = await message(r);
  assert.deepEqual([[...a], [...b]], [
    [1, 2, 3],
    [8, 7],
  ]);
});

behaviour(B, 'send(msg, port) without an address goes to 127.0.0.1 (udp4)', async (m, t) => {
  const r = await bound(m, t);
  const s = await bound(m, t);
  s.send('no address', udpPort(r));
  const [msg, rinfo] = await message(r);
  assert.deepEqual([String(msg), rinfo.address], ['no address', '127.0.0.1']);
});

behaviour(B, "send(msg, port, 'localhost') resolves the name for the socket's family", async (m, t) => {
  const r = await bound(m, t);
  const s = await bound(m, t);
  s.send('by name', udpPort(r), 'localhost');
  const [msg] = await message(r);
  assert.equal(String(msg), 'by name');
});

behaviour(B, 'a zero-length datagram is delivered with size 0', async (m, t) => {
  const r = await bound(m, t);
  const s = await bound(m, t);
  let bytes = -1;
  s.send(Buffer.alloc(0), udpPort(r), '127.0.0.1', (_e, n) => (bytes = n));
  const [msg, rinfo] = await message(r);
  await tick();
  assert.deepEqual([msg.length, rinfo.size, bytes], [0, 0, 0]);
});

behaviour(B, 'datagram boundaries are kept: three sends, three messages, in order', async (m, t) => {
  const r = await bound(m, t);
  const s = await bound(m, t);
  const got: string[] = [];
  r.on('message', (msg) => got.push(String(msg)));
  for (const x of ['a', 'bb', 'ccc']) s.send(x, udpPort(r), '127.0.0.1');
  while (got.length < 3) await next(r, 'message');
  assert.deepEqual(got, ['a', 'bb', 'ccc']);
});

behaviour(B, 'a 65507-byte datagram (the IPv4 maximum) arrives intact', async (m, t) => {
  const r = await bound(m, t);
  const s = await bound(m, t);
  const big = Buffer.alloc(65507);
  for (let i = 0; i < big.length; i++) big[i] = i * 7;
  s.send(big, udpPort(r), '127.0.0.1');
  const [msg, rinfo] = await message(r);
  assert.deepEqual([rinfo.size, msg.equals(big)], [65507, true]);
});

behaviour(B, 'a 65508-byte datagram fails: EMSGSIZE on the send callback', async (m, t) => {
  const r = await bound(m, t);
  const s = await bound(m, t);
  const [err] = await new Promise<[any]>((resolve) => s.send(Buffer.alloc(65508), udpPort(r), '127.0.0.1', (e) => resolve([e])));
  assert.deepEqual([err?.code, err?.syscall, err?.errno, err?.address, err?.port, err?.message], [
    'EMSGSIZE',
    'send',
    -90,
    '127.0.0.1',
    udpPort(r),
    `send EMSGSIZE 127.0.0.1:${udpPort(r)}`,
  ]);
});

behaviour(B, 'getSendQueueSize() and getSendQueueCount() are 0 once sends completed', async (m, t) => {
  const r = await bound(m, t);
  const s = await bound(m, t);
  await new Promise<void>((resolve) => s.send('q', udpPort(r), '127.0.0.1', () => resolve()));
  assert.deepEqual([s.getSendQueueSize(), s.getSendQueueCount()], [0, 0]);
});

behaviour(B, 'two sockets exchange datagrams both ways', async (m, t) => {
  const a = await bound(m, t);
  const b = await bound(m, t);
  a.send('ping', udpPort(b), '127.0.0.1');
  const [m1, r1] = await message(b);
  b.send('pong', r1.port, r1.address);
  const [m2, r2] = await message(a);
  assert.deepEqual([String(m1), String(m2), r2.port], ['ping', 'pong', udpPort(b)]);
});

// ---------------------------------------------------------------- connect

behaviour(C, "connect(port, address, cb): 'listening' (implicit bind), then 'connect', then the callback", async (m, t) => {
  const r = await bound(m, t);
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  const log = record(s, ['listening', 'connect', 'error']);
  await new Promise<void>((resolve) => {
    s.connect(udpPort(r), '127.0.0.1', () => {
      log.push('callback');
      resolve();
    });
  });
  assert.deepEqual(log, ['listening', 'connect', 'callback']);
});

behaviour(C, 'remoteAddress() of a connected socket: { address, family, port }', async (m, t) => {
  const r = await bound(m, t);
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  s.connect(udpPort(r), '127.0.0.1');
  await next(s, 'connect');
  assert.deepEqual(s.remoteAddress(), { address: '127.0.0.1', family: 'IPv4', port: udpPort(r) });
});

behaviour(C, 'a connected socket sends with send(msg) and send(msg, cb)', async (m, t) => {
  const r = await bound(m, t);
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  s.connect(udpPort(r), '127.0.0.1');
  await next(s, 'connect');
  s.send('first');
  const [m1] = await message(r);
  const [e, n] = await new Promise<[unknown, number]>((resolve) => s.send(Buffer.from('second'), (err, b) => resolve([err, b])));
  const [m2, rinfo] = await message(r);
  assert.deepEqual([String(m1), String(m2), e, n, rinfo.port], ['first', 'second', null, 6, s.address().port]);
});

behaviour(C, 'a connected socket receives only from its peer', async (m, t) => {
  const peer = await bound(m, t);
  const stranger = await bound(m, t);
  const s = await bound(m, t);
  s.connect(udpPort(peer), '127.0.0.1');
  await next(s, 'connect');
  stranger.send('from stranger', udpPort(s), '127.0.0.1');
  await new Promise<void>((resolve) => stranger.send('', udpPort(peer), '127.0.0.1', () => resolve()));
  peer.send('from peer', udpPort(s), '127.0.0.1');
  const [msg, rinfo] = await message(s);
  assert.deepEqual([String(msg), rinfo.port], ['from peer', udpPort(peer)]);
});

behaviour(C, 'remoteAddress() on an unconnected socket throws ERR_SOCKET_DGRAM_NOT_CONNECTED', async (m, t) => {
  const s = await bound(m, t);
  const e = thrown(() => s.remoteAddress());
  assert.deepEqual([e.code, e.message], ['ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected']);
});

behaviour(C, 'connect() twice throws ERR_SOCKET_DGRAM_IS_CONNECTED', async (m, t) => {
  const r = await bound(m, t);
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  s.connect(udpPort(r), '127.0.0.1');
  await next(s, 'connect');
  const e = thrown(() => s.connect(udpPort(r), '127.0.0.1'));
  assert.deepEqual([e.code, e.message], ['ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected']);
});

behaviour(C, 'send(msg, port, address, cb) on a connected socket throws ERR_SOCKET_DGRAM_IS_CONNECTED', async (m, t) => {
  const r = await bound(m, t);
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  s.connect(udpPort(r), '127.0.0.1');
  await next(s, 'connect');
  const e = thrown(() => s.send('x', udpPort(r), '127.0.0.1', () => {}));
  assert.deepEqual([e.code, e.message], ['ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected']);
});

behaviour(C, 'disconnect(): remoteAddress() throws again, and the socket can send to anyone', async (m, t) => {
  const r = await bound(m, t);
  const other = await bound(m, t);
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  s.connect(udpPort(r), '127.0.0.1');
  await next(s, 'connect');
  assert.equal(s.disconnect(), undefined);
  const e = thrown(() => s.remoteAddress());
  s.send('after disconnect', udpPort(other), '127.0.0.1');
  const [msg] = await message(other);
  assert.deepEqual([e.code, String(msg)], ['ERR_SOCKET_DGRAM_NOT_CONNECTED', 'after disconnect']);
});

behaviour(C, 'disconnect() on an unconnected socket throws ERR_SOCKET_DGRAM_NOT_CONNECTED', async (m, t) => {
  const s = await bound(m, t);
  const e = thrown(() => s.disconnect());
  assert.deepEqual([e.code, e.message], ['ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected']);
});

behaviour(C, 'send(msg) without a port on an unconnected socket throws ERR_SOCKET_BAD_PORT', async (m, t) => {
  const s = await bound(m, t);
  const e = thrown(() => (s as any).send('x'));
  assert.deepEqual([e.code, e.name], ['ERR_SOCKET_BAD_PORT', 'RangeError']);
});

behaviour(C, 'connect() with port 0 throws ERR_SOCKET_BAD_PORT', async (m, t) => {
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  const e = thrown(() => s.connect(0, '127.0.0.1'));
  assert.deepEqual([e.code, e.message], ['ERR_SOCKET_BAD_PORT', 'Port should be > 0 and < 65536. Received type number (0).']);
});

behaviour(C, "a connected socket whose peer port is closed gets 'error' ECONNREFUSED (recvmsg) after a send", async (m, t) => {
  const gone = await bound(m, t);
  const port = udpPort(gone);
  await new Promise<void>((resolve) => gone.close(() => resolve()));
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  s.connect(port, '127.0.0.1');
  await next(s, 'connect');
  const errored = next(s, 'error');
  s.send('anyone?');
  const [e] = await errored;
  assert.deepEqual([e.code, e.syscall, e.errno, e.message], ['ECONNREFUSED', 'recvmsg', -111, 'recvmsg ECONNREFUSED']);
});

behaviour(C, 'connect(port) with no address connects to 127.0.0.1 (udp4)', async (m, t) => {
  const r = await bound(m, t);
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  s.connect(udpPort(r));
  await next(s, 'connect');
  assert.equal(s.remoteAddress().address, '127.0.0.1');
});

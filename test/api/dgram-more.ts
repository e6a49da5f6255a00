// dgram: errors and close, socket options (broadcast, TTL, buffer sizes), IPv6, multicast on
// the loopback, ref/unref lifetime, AbortSignal, API surface.

import assert from 'node:assert/strict';
import { behaviour, bound, child, closeUdpAfter, errFields, message, next, record, thrown, tick, udpPort } from './harness.js';

const E = 'dgram: errors and close';
const O = 'dgram: options, ipv6, multicast';
const L = 'dgram: lifetime and abort';

behaviour(E, "close(cb): 'close' listeners registered earlier, then the callback", async (m, t) => {
  const s = await bound(m, t);
  const log: string[] = [];
  s.on('close', () => log.push('close'));
  const r = s.close(() => log.push('callback'));
  assert.equal(r, s);
  await next(s, 'close');
  await tick();
  assert.deepEqual(log, ['close', 'callback']);
});

behaviour(E, 'after close(): send, address, bind and close throw ERR_SOCKET_DGRAM_NOT_RUNNING', async (m, t) => {
  const s = await bound(m, t);
  s.close();
  const errs = [
    thrown(() => s.send('x', 9, '127.0.0.1')),
    thrown(() => s.address()),
    thrown(() => s.bind(0)),
    thrown(() => s.close()),
  ];
  assert.deepEqual(
    errs.map((e) => [e.code, e.message]),
    Array(4).fill(['ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running']),
  );
});

behaviour(E, 'close() of a never-bound socket emits close', async (m, t) => {
  const s = m.dgram.createSocket('udp4');
  const log = record(s, ['listening', 'close', 'error']);
  s.close();
  await next(s, 'close');
  assert.deepEqual(log, ['close']);
});

behaviour(E, 'address() before bind throws EBADF (getsockname)', async (m, t) => {
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  const e = thrown(() => s.address());
  assert.deepEqual([e.code, e.syscall, e.message], ['EBADF', 'getsockname', 'getsockname EBADF']);
});

behaviour(E, 'bind() twice throws ERR_SOCKET_ALREADY_BOUND', async (m, t) => {
  const s = await bound(m, t);
  const e = thrown(() => s.bind(0));
  assert.deepEqual([e.code, e.message], ['ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound']);
});

behaviour(E, "EADDRINUSE: binding a taken port emits 'error' with every field; no 'listening'", async (m, t) => {
  const a = await bound(m, t);
  const b = m.dgram.createSocket('udp4');
  closeUdpAfter(t, b);
  const log = record(b, ['listening', 'error']);
  b.bind(udpPort(a), '127.0.0.1');
  const [e] = await next(b, 'error');
  await tick();
  assert.deepEqual(errFields(e), {
    code: 'EADDRINUSE',
    errno: -98,
    syscall: 'bind',
    address: '127.0.0.1',
    port: udpPort(a),
    message: `bind EADDRINUSE 127.0.0.1:${udpPort(a)}`,
  });
  assert.deepEqual(log, ['error:EADDRINUSE']);
});

behaviour(E, 'reuseAddr: two sockets bind the same address and port', async (m, t) => {
  const a = await bound(m, t, 'udp4', '127.0.0.1', { reuseAddr: true });
  const b = m.dgram.createSocket({ type: 'udp4', reuseAddr: true });
  closeUdpAfter(t, b);
  b.bind(udpPort(a), '127.0.0.1');
  await next(b, 'listening');
  assert.equal(udpPort(b), udpPort(a));
});

behaviour(E, 'createSocket with a bad type throws ERR_SOCKET_BAD_TYPE', async (m) => {
  const e = thrown(() => m.dgram.createSocket('udp5' as any));
  assert.deepEqual([e.code, e.name, e.message], ['ERR_SOCKET_BAD_TYPE', 'TypeError', 'Bad socket type specified. Valid types are: udp4, udp6']);
});

behaviour(E, 'send with port 0 throws ERR_SOCKET_BAD_PORT', async (m, t) => {
  const s = await bound(m, t);
  const e = thrown(() => s.send('x', 0, '127.0.0.1'));
  assert.deepEqual([e.code, e.message], ['ERR_SOCKET_BAD_PORT', 'Port should be > 0 and < 65536. Received type number (0).']);
});

behaviour(E, 'send of a number throws ERR_INVALID_ARG_TYPE', async (m, t) => {
  const s = await bound(m, t);
  const e = thrown(() => s.send(42 as any, 9, '127.0.0.1'));
  assert.deepEqual([e.code, e.name], ['ERR_INVALID_ARG_TYPE', 'TypeError']);
});

behaviour(E, 'send with offset+length past the buffer throws ERR_BUFFER_OUT_OF_BOUNDS', async (m, t) => {
  const s = await bound(m, t);
  const e = thrown(() => s.send(Buffer.alloc(4), 2, 5, 9, '127.0.0.1'));
  assert.deepEqual([e.code, e.name], ['ERR_BUFFER_OUT_OF_BOUNDS', 'RangeError']);
});

behaviour(E, 'send to an unresolvable name: the callback gets the lookup error (ENOTFOUND/EAI_AGAIN, getaddrinfo)', async (m, t) => {
  const s = await bound(m, t);
  const [e] = await new Promise<[any]>((resolve) => s.send('x', 9, 'parity.invalid', (err) => resolve([err])));
  assert.ok(['ENOTFOUND', 'EAI_AGAIN'].includes(e?.code), `code ${e?.code}`);
  assert.deepEqual([e.syscall, e.hostname], ['getaddrinfo', 'parity.invalid']);
});

// ---------------------------------------------------------------- options

behaviour(O, 'broadcast without setBroadcast(true): EACCES on the send callback', async (m, t) => {
  const s = await bound(m, t);
  const [e] = await new Promise<[any]>((resolve) => s.send('all', 9, '255.255.255.255', (err) => resolve([err])));
  assert.deepEqual(errFields(e), {
    code: 'EACCES',
    errno: -13,
    syscall: 'send',
    address: '255.255.255.255',
    port: 9,
    message: 'send EACCES 255.255.255.255:9',
  });
});

behaviour(O, 'setBroadcast/setTTL/setMulticastTTL/setMulticastLoopback before bind throw EBADF', async (m, t) => {
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  const errs = [
    thrown(() => s.setBroadcast(true)),
    thrown(() => s.setTTL(5)),
    thrown(() => s.setMulticastTTL(5)),
    thrown(() => s.setMulticastLoopback(true)),
  ];
  assert.deepEqual(
    errs.map((e) => [e.code, e.syscall, e.message]),
    [
      ['EBADF', 'setBroadcast', 'setBroadcast EBADF'],
      ['EBADF', 'setTTL', 'setTTL EBADF'],
      ['EBADF', 'setMulticastTTL', 'setMulticastTTL EBADF'],
      ['EBADF', 'setMulticastLoopback', 'setMulticastLoopback EBADF'],
    ],
  );
});

behaviour(O, 'setTTL/setMulticastTTL return the value; setMulticastLoopback returns the flag; setBroadcast returns undefined', async (m, t) => {
  const s = await bound(m, t);
  assert.deepEqual([s.setTTL(17), s.setMulticastTTL(3), s.setMulticastLoopback(false), s.setMulticastLoopback(true), s.setBroadcast(true)], [17, 3, false, true, undefined]);
});

behaviour(O, 'setTTL(0) and setTTL(256) throw EINVAL', async (m, t) => {
  const s = await bound(m, t);
  const e0 = thrown(() => s.setTTL(0));
  const e1 = thrown(() => s.setTTL(256));
  assert.deepEqual([e0.code, e0.syscall, e1.code], ['EINVAL', 'setTTL', 'EINVAL']);
});

behaviour(O, 'setTTL with a string throws ERR_INVALID_ARG_TYPE', async (m, t) => {
  const s = await bound(m, t);
  const e = thrown(() => s.setTTL('5' as any));
  assert.equal(e.code, 'ERR_INVALID_ARG_TYPE');
});

behaviour(O, 'buffer sizes: set N, get 2N (the kernel doubles it)', async (m, t) => {
  const s = await bound(m, t);
  s.setRecvBufferSize(8192);
  s.setSendBufferSize(16384);
  assert.deepEqual([s.getRecvBufferSize(), s.getSendBufferSize()], [16384, 32768]);
});

behaviour(O, 'createSocket({ recvBufferSize, sendBufferSize }) applies at bind', async (m, t) => {
  const s = await bound(m, t, 'udp4', '127.0.0.1', { recvBufferSize: 10000, sendBufferSize: 12000 });
  assert.deepEqual([s.getRecvBufferSize(), s.getSendBufferSize()], [20000, 24000]);
});

behaviour(O, 'buffer sizes before bind throw ERR_SOCKET_BUFFER_SIZE (EBADF)', async (m, t) => {
  const s = m.dgram.createSocket('udp4');
  closeUdpAfter(t, s);
  const e = thrown(() => s.getRecvBufferSize());
  assert.deepEqual([e.code, e.name, e.message], [
    'ERR_SOCKET_BUFFER_SIZE',
    'SystemError',
    'Could not get or set buffer size: uv_recv_buffer_size returned EBADF (bad file descriptor)',
  ]);
});

behaviour(O, 'udp6 on ::1: address() and rinfo carry the IPv6 address and family', async (m, t) => {
  const r = await bound(m, t, 'udp6', '::1');
  const s = await bound(m, t, 'udp6', '::1');
  assert.deepEqual(r.address(), { address: '::1', family: 'IPv6', port: udpPort(r) });
  s.send('six', udpPort(r), '::1');
  const [msg, rinfo] = await message(r);
  assert.deepEqual([String(msg), rinfo], ['six', { address: '::1', family: 'IPv6', port: udpPort(s), size: 3 }]);
});

behaviour(O, "udp6 send(msg, port) without an address goes to ::1", async (m, t) => {
  const r = await bound(m, t, 'udp6', '::1');
  const s = await bound(m, t, 'udp6', '::1');
  s.send('implicit six', udpPort(r));
  const [msg, rinfo] = await message(r);
  assert.deepEqual([String(msg), rinfo.address], ['implicit six', '::1']);
});

behaviour(O, "udp6 bound to '::' receives IPv4 datagrams from ::ffff:127.0.0.1", async (m, t) => {
  const r = await bound(m, t, 'udp6', '::');
  const s = await bound(m, t, 'udp4', '127.0.0.1');
  s.send('mapped', udpPort(r), '127.0.0.1');
  const [msg, rinfo] = await message(r);
  assert.deepEqual([String(msg), rinfo], ['mapped', { address: '::ffff:127.0.0.1', family: 'IPv6', port: udpPort(s), size: 6 }]);
});

behaviour(O, "udp6 ipv6Only on '::' leaves the IPv4 port free for a udp4 socket", async (m, t) => {
  const six = await bound(m, t, 'udp6', '::', { ipv6Only: true });
  const four = m.dgram.createSocket('udp4');
  closeUdpAfter(t, four);
  four.bind(udpPort(six), '0.0.0.0');
  await next(four, 'listening');
  assert.equal(udpPort(four), udpPort(six));
});

behaviour(O, "udp6 on '::' without ipv6Only takes the IPv4 port too (EADDRINUSE for udp4)", async (m, t) => {
  const six = await bound(m, t, 'udp6', '::');
  const four = m.dgram.createSocket('udp4');
  closeUdpAfter(t, four);
  four.bind(udpPort(six), '0.0.0.0');
  const [e] = await next(four, 'error');
  assert.deepEqual([e.code, e.syscall], ['EADDRINUSE', 'bind']);
});

behaviour(O, 'a connected udp6 socket: remoteAddress() shape', async (m, t) => {
  const r = await bound(m, t, 'udp6', '::1');
  const s = m.dgram.createSocket('udp6');
  closeUdpAfter(t, s);
  s.connect(udpPort(r), '::1');
  await next(s, 'connect');
  assert.deepEqual(s.remoteAddress(), { address: '::1', family: 'IPv6', port: udpPort(r) });
});

behaviour(O, 'multicast on the loopback: a member of 239.1.2.3 on 127.0.0.1 receives a datagram sent to the group', async (m, t) => {
  const r = m.dgram.createSocket({ type: 'udp4', reuseAddr: true });
  closeUdpAfter(t, r);
  r.bind(0);
  await next(r, 'listening');
  r.addMembership('239.1.2.3', '127.0.0.1');
  const s = await bound(m, t, 'udp4', '127.0.0.1');
  s.setMulticastInterface('127.0.0.1');
  s.send('to the group', udpPort(r), '239.1.2.3');
  const [msg, rinfo] = await message(r);
  assert.deepEqual([String(msg), rinfo.address, rinfo.port], ['to the group', '127.0.0.1', udpPort(s)]);
});

behaviour(O, 'multicast: after dropMembership the group datagram is not received (a unicast one is)', async (m, t) => {
  const r = m.dgram.createSocket({ type: 'udp4', reuseAddr: true });
  closeUdpAfter(t, r);
  r.bind(0);
  await next(r, 'listening');
  r.addMembership('239.1.2.4', '127.0.0.1');
  r.dropMembership('239.1.2.4', '127.0.0.1');
  const s = await bound(m, t, 'udp4', '127.0.0.1');
  s.setMulticastInterface('127.0.0.1');
  s.send('group', udpPort(r), '239.1.2.4');
  s.send('unicast', udpPort(r), '127.0.0.1');
  const [msg] = await message(r);
  assert.equal(String(msg), 'unicast');
});

behaviour(O, 'addMembership without a group throws ERR_MISSING_ARGS; with a unicast address, EINVAL', async (m, t) => {
  const s = await bound(m, t, 'udp4', '0.0.0.0');
  const e1 = thrown(() => (s as any).addMembership());
  const e2 = thrown(() => s.addMembership('127.0.0.1', '127.0.0.1'));
  assert.deepEqual([e1.code, e1.message, e2.code, e2.syscall], ['ERR_MISSING_ARGS', 'The "multicastAddress" argument must be specified', 'EINVAL', 'addMembership']);
});

behaviour(O, 'dropMembership of a group never joined throws EADDRNOTAVAIL', async (m, t) => {
  const s = await bound(m, t, 'udp4', '0.0.0.0');
  const e = thrown(() => s.dropMembership('239.9.9.9', '127.0.0.1'));
  assert.deepEqual([e.code, e.syscall], ['EADDRNOTAVAIL', 'dropMembership']);
});

behaviour(O, 'addSourceSpecificMembership on the loopback: the datagram from the listed source arrives', async (m, t) => {
  const r = m.dgram.createSocket({ type: 'udp4', reuseAddr: true });
  closeUdpAfter(t, r);
  r.bind(0);
  await next(r, 'listening');
  r.addSourceSpecificMembership('127.0.0.1', '232.1.2.3', '127.0.0.1');
  const s = await bound(m, t, 'udp4', '127.0.0.1');
  s.setMulticastInterface('127.0.0.1');
  s.send('ssm', udpPort(r), '232.1.2.3');
  const [msg] = await message(r);
  assert.equal(String(msg), 'ssm');
});

// ---------------------------------------------------------------- lifetime, abort, surface

const ALIVE = `setTimeout(() => { console.log('alive'); process.exit(0); }, 200).unref();\n`;

behaviour(L, 'a bound socket keeps the process alive', async (m) => {
  const r = await child(m, `const s = dgram.createSocket('udp4'); s.bind(0, '127.0.0.1', () => { ${ALIVE} });`);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'alive\n', '']);
});

behaviour(L, 'an unref()ed bound socket lets the process exit; ref() holds it again', async (m) => {
  const a = await child(m, `const s = dgram.createSocket('udp4'); s.bind(0, '127.0.0.1', () => { s.unref(); console.log('bound'); });`);
  const b = await child(m, `const s = dgram.createSocket('udp4'); s.bind(0, '127.0.0.1', () => { s.unref(); s.ref(); ${ALIVE} });`);
  assert.deepEqual([a.code, a.stdout, a.stderr], [0, 'bound\n', '']);
  assert.deepEqual([b.code, b.stdout], [0, 'alive\n']);
});

behaviour(L, 'a program that sends, receives and closes exits on its own', async (m) => {
  const r = await child(
    m,
    `const a = dgram.createSocket('udp4'); const b = dgram.createSocket('udp4');
     b.on('message', (msg) => { console.log('got:' + msg); a.close(); b.close(); });
     b.bind(0, '127.0.0.1', () => a.send('hi', b.address().port, '127.0.0.1'));`,
  );
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'got:hi\n', '']);
});

behaviour(L, 'ref()/unref() return the socket', async (m, t) => {
  const s = await bound(m, t);
  assert.deepEqual([s.unref() === s, s.ref() === s], [true, true]);
});

behaviour(L, "createSocket({ signal }): abort() closes the socket ('close')", async (m, t) => {
  const ac = new AbortController();
  const s = m.dgram.createSocket({ type: 'udp4', signal: ac.signal });
  closeUdpAfter(t, s);
  s.bind(0, '127.0.0.1');
  await next(s, 'listening');
  const log = record(s, ['close', 'error']);
  ac.abort();
  await next(s, 'close');
  assert.deepEqual(log, ['close']);
  assert.equal(thrown(() => s.address()).code, 'ERR_SOCKET_DGRAM_NOT_RUNNING');
});

behaviour(L, "createSocket({ signal }) with an already aborted signal: 'close' without binding", async (m, t) => {
  const s = m.dgram.createSocket({ type: 'udp4', signal: AbortSignal.abort() });
  closeUdpAfter(t, s);
  const log = record(s, ['listening', 'close', 'error']);
  await next(s, 'close');
  assert.deepEqual(log, ['close']);
});

behaviour(L, 'createSocket(type, listener): the listener is a message listener', async (m, t) => {
  const got: string[] = [];
  const r = m.dgram.createSocket('udp4', (msg) => got.push(String(msg)));
  closeUdpAfter(t, r);
  r.bind(0, '127.0.0.1');
  await next(r, 'listening');
  const s = await bound(m, t);
  s.send('via listener', udpPort(r), '127.0.0.1');
  await next(r, 'message');
  assert.deepEqual(got, ['via listener']);
});

behaviour(L, 'the dgram module exports what node:dgram exports, with the methods of Node', async (m) => {
  const methods = [
    'addMembership', 'addSourceSpecificMembership', 'address', 'bind', 'close', 'connect', 'disconnect', 'dropMembership',
    'dropSourceSpecificMembership', 'getRecvBufferSize', 'getSendBufferSize', 'getSendQueueCount', 'getSendQueueSize', 'ref',
    'remoteAddress', 'send', 'setBroadcast', 'setMulticastInterface', 'setMulticastLoopback', 'setMulticastTTL',
    'setRecvBufferSize', 'setSendBufferSize', 'setTTL', 'unref',
  ];
  assert.deepEqual(
    [typeof m.dgram.createSocket, typeof m.dgram.Socket, methods.filter((n) => typeof (m.dgram.Socket.prototype as any)[n] !== 'function')],
    ['function', 'function', []],
  );
  const s = m.dgram.createSocket('udp4');
  assert.ok(s instanceof m.dgram.Socket);
  s.close();
});

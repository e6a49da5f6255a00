// net: process lifetime (ref/unref, checked in child processes that import the module under
// test), AbortSignal on listen/connect, and the public API surface.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { behaviour, child, cleanup, listening, next, record, tick } from './harness.js';

const L = 'net: lifetime and abort';

/** A child sees 'alive' only if something ref'd kept its event loop running for 200 ms. */
const ALIVE = `setTimeout(() => { console.log('alive'); process.exit(0); }, 200).unref();\n`;

behaviour(L, 'an unref()ed listening server lets the process exit', async (m) => {
  const r = await child(m, `const s = net.createServer(); s.listen(0, '127.0.0.1', () => { s.unref(); console.log('listening'); });`);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'listening\n', '']);
});

behaviour(L, 'a listening server keeps the process alive', async (m) => {
  const r = await child(m, `const s = net.createServer(); s.listen(0, '127.0.0.1', () => { ${ALIVE} });`);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'alive\n', '']);
});

behaviour(L, 'unref() then ref() keeps it alive again', async (m) => {
  const r = await child(m, `const s = net.createServer(); s.listen(0, '127.0.0.1', () => { s.unref(); s.ref(); ${ALIVE} });`);
  assert.deepEqual([r.code, r.stdout], [0, 'alive\n']);
});

behaviour(L, 'unref() before listen() still applies once listening', async (m) => {
  const r = await child(m, `const s = net.createServer(); s.unref(); s.listen(0, '127.0.0.1', () => console.log('listening'));`);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'listening\n', '']);
});

behaviour(L, 'an open connection keeps the process alive; unref() on both of its sockets lets it exit', async (m) => {
  const script = (unrefSockets: boolean) => `
    const s = net.createServer((sock) => { ${unrefSockets ? 'sock.unref();' : ''} });
    s.listen(0, '127.0.0.1', () => {
      s.unref();
      const c = net.connect(s.address().port, '127.0.0.1', () => { ${unrefSockets ? 'c.unref();' : ''} console.log('connected'); ${ALIVE} });
    });`;
  const held = await child(m, script(false));
  const released = await child(m, script(true));
  assert.deepEqual([held.code, held.stdout], [0, 'connected\nalive\n']);
  assert.deepEqual([released.code, released.stdout, released.stderr], [0, 'connected\n', '']);
});

behaviour(L, 'a program that closes everything exits on its own with status 0', async (m) => {
  const r = await child(
    m,
    `const s = net.createServer((sock) => sock.end('bye'));
     s.listen(0, '127.0.0.1', () => {
       const c = net.connect(s.address().port, '127.0.0.1');
       let got = '';
       c.on('data', (d) => (got += d));
       c.on('close', () => { s.close(() => console.log('done:' + got)); });
     });`,
  );
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'done:bye\n', '']);
});

behaviour(L, "listen({ signal }): abort() closes the server ('close', listening false)", async (m, t) => {
  const ac = new AbortController();
  const s = m.net.createServer();
  cleanup(t, s);
  s.listen({ port: 0, host: '127.0.0.1', signal: ac.signal });
  await next(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  ac.abort();
  await next(s, 'close');
  assert.deepEqual([s.listening, s.address()], [false, null]);
  const c = m.net.connect(port, '127.0.0.1');
  cleanup(t, c);
  const [e] = await next(c, 'error');
  assert.equal(e.code, 'ECONNREFUSED');
});

behaviour(L, "listen({ signal }) with an already aborted signal: no 'listening', 'close'", async (m, t) => {
  const s = m.net.createServer();
  cleanup(t, s);
  const log = record(s, ['listening', 'close', 'error']);
  s.listen({ port: 0, host: '127.0.0.1', signal: AbortSignal.abort() });
  await next(s, 'close');
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual([log, s.listening], [['close'], false]);
});

behaviour(L, "connect({ signal }) aborted while connected: 'error' AbortError (ABORT_ERR) then 'close:true'", async (m, t) => {
  const l = await listening(m, t);
  const ac = new AbortController();
  const c = m.net.connect({ port: l.port, host: '127.0.0.1', signal: ac.signal });
  cleanup(t, c);
  await next(c, 'connect');
  const log = record(c, ['error', 'close']);
  let err: any;
  c.on('error', (e) => (err = e));
  ac.abort();
  await next(c, 'close');
  assert.deepEqual(log, ['error:ABORT_ERR', 'close:true']);
  assert.deepEqual([err.name, err.code, err.message], ['AbortError', 'ABORT_ERR', 'The operation was aborted']);
});

behaviour(L, 'connect({ signal }) aborted while connecting: AbortError, and the socket is destroyed', async (m, t) => {
  const l = await listening(m, t);
  const ac = new AbortController();
  const c = m.net.connect({ port: l.port, host: '127.0.0.1', signal: ac.signal });
  cleanup(t, c);
  const log = record(c, ['connect', 'error', 'close']);
  ac.abort();
  await next(c, 'close');
  assert.deepEqual([log, c.destroyed], [['error:ABORT_ERR', 'close:true'], true]);
});

behaviour(L, 'the net module exports what node:net exports', async (m) => {
  const names = [
    'BlockList', 'Server', 'Socket', 'SocketAddress', 'Stream', 'connect', 'createConnection', 'createServer',
    'getDefaultAutoSelectFamily', 'getDefaultAutoSelectFamilyAttemptTimeout', 'isIP', 'isIPv4', 'isIPv6',
    'setDefaultAutoSelectFamily', 'setDefaultAutoSelectFamilyAttemptTimeout',
  ];
  assert.deepEqual(
    names.filter((n) => typeof (m.net as any)[n] !== 'function'),
    [],
  );
});

behaviour(L, 'net.Socket and net.Server have the methods of Node', async (m) => {
  const socket = [
    'address', 'connect', 'destroy', 'destroySoon', 'end', 'pause', 'ref', 'resetAndDestroy', 'resume',
    'setEncoding', 'setKeepAlive', 'setNoDelay', 'setTimeout', 'unref', 'write', 'cork', 'uncork', 'pipe', 'read',
  ];
  const server = ['address', 'close', 'getConnections', 'listen', 'ref', 'unref'];
  assert.deepEqual(
    [
      socket.filter((n) => typeof (m.net.Socket.prototype as any)[n] !== 'function'),
      server.filter((n) => typeof (m.net.Server.prototype as any)[n] !== 'function'),
      typeof (m.net.Server.prototype as any)[(Symbol as any).asyncDispose],
    ],
    [[], [], 'function'],
  );
});

behaviour(L, 'server[Symbol.asyncDispose]() closes the server', async (m, t) => {
  const l = await listening(m, t);
  await (l.server as any)[(Symbol as any).asyncDispose]();
  assert.equal(l.server.listening, false);
});

// net: errors — system errors with every field (code, errno, syscall, address, port,
// message), argument validation errors (code, name, message).

import assert from 'node:assert/strict';
import { behaviour, cleanup, closedPort, errFields, listening, next, record, thrown, tick } from './harness.js';

const E = 'net: errors';

behaviour(E, "ECONNREFUSED: 'error' with code/errno/syscall/address/port/message, then 'close:true'", async (m, t) => {
  const port = await closedPort(m);
  const c = m.net.connect(port, '127.0.0.1');
  cleanup(t, c);
  const log = record(c, ['connect', 'error', 'close']);
  const closed = next(c, 'close');
  const [e] = await next(c, 'error');
  await closed;
  assert.deepEqual(errFields(e), {
    code: 'ECONNREFUSED',
    errno: -111,
    syscall: 'connect',
    address: '127.0.0.1',
    port,
    message: `connect ECONNREFUSED 127.0.0.1:${port}`,
  });
  assert.ok(e instanceof Error);
  assert.deepEqual(log, ['error:ECONNREFUSED', 'close:true']);
  assert.deepEqual([c.destroyed, c.connecting], [true, false]);
});

behaviour(E, 'ECONNREFUSED on ::1 carries the IPv6 address', async (m, t) => {
  const port = await closedPort(m, '::1');
  const c = m.net.connect({ port, host: '::1' });
  cleanup(t, c);
  const [e] = await next(c, 'error');
  assert.deepEqual(errFields(e), {
    code: 'ECONNREFUSED',
    errno: -111,
    syscall: 'connect',
    address: '::1',
    port,
    message: `connect ECONNREFUSED ::1:${port}`,
  });
});

behaviour(E, 'ECONNREFUSED reaches the connect() caller only as an event: the connect callback never runs', async (m, t) => {
  const port = await closedPort(m);
  let called = false;
  const c = m.net.connect(port, '127.0.0.1', () => (called = true));
  cleanup(t, c);
  const closed = next(c, 'close');
  await next(c, 'error');
  await closed;
  await tick();
  assert.equal(called, false);
});

behaviour(E, "EADDRINUSE: the second server gets 'error' with every field and is not listening", async (m, t) => {
  const a = await listening(m, t);
  const b = m.net.createServer();
  cleanup(t, b);
  const log = record(b, ['listening', 'error', 'close']);
  b.listen(a.port, '127.0.0.1');
  const [e] = await next(b, 'error');
  await tick();
  assert.deepEqual(errFields(e), {
    code: 'EADDRINUSE',
    errno: -98,
    syscall: 'listen',
    address: '127.0.0.1',
    port: a.port,
    message: `listen EADDRINUSE: address already in use 127.0.0.1:${a.port}`,
  });
  assert.deepEqual([log, b.listening, b.address()], [['error:EADDRINUSE'], false, null]);
});

behaviour(E, 'EADDRINUSE between a 0.0.0.0 server and a 127.0.0.1 server on the same port', async (m, t) => {
  const a = await listening(m, t, { host: '0.0.0.0' });
  const b = m.net.createServer();
  cleanup(t, b);
  b.listen(a.port, '127.0.0.1');
  const [e] = await next(b, 'error');
  assert.deepEqual([e.code, e.syscall], ['EADDRINUSE', 'listen']);
});

behaviour(E, 'EADDRNOTAVAIL: listening on an address the host does not have', async (m, t) => {
  const s = m.net.createServer();
  cleanup(t, s);
  s.listen(0, '203.0.113.7');
  const [e] = await next(s, 'error');
  assert.deepEqual(errFields(e), {
    code: 'EADDRNOTAVAIL',
    errno: -99,
    syscall: 'listen',
    address: '203.0.113.7',
    port: undefined,
    message: 'listen EADDRNOTAVAIL: address not available 203.0.113.7',
  });
});

behaviour(E, 'connect({}) throws ERR_MISSING_ARGS', async (m) => {
  const e = thrown(() => m.net.connect({} as any));
  assert.deepEqual([e.code, e.name, e.message], ['ERR_MISSING_ARGS', 'TypeError', 'The "options" or "port" or "path" argument must be specified']);
});

behaviour(E, 'connect with port 70000 throws ERR_SOCKET_BAD_PORT (RangeError)', async (m) => {
  const e = thrown(() => m.net.connect({ port: 70000, host: '127.0.0.1' }));
  assert.deepEqual([e.code, e.name, e.message], ['ERR_SOCKET_BAD_PORT', 'RangeError', 'Port should be >= 0 and < 65536. Received type number (70000).']);
});

behaviour(E, 'connect with port -1 and port 1.5 throw ERR_SOCKET_BAD_PORT', async (m) => {
  const e1 = thrown(() => m.net.connect({ port: -1, host: '127.0.0.1' }));
  const e2 = thrown(() => m.net.connect({ port: 1.5, host: '127.0.0.1' }));
  assert.deepEqual([e1.code, e2.code], ['ERR_SOCKET_BAD_PORT', 'ERR_SOCKET_BAD_PORT']);
});

behaviour(E, 'connect with a non-string host throws ERR_INVALID_ARG_TYPE', async (m) => {
  const e = thrown(() => m.net.connect({ port: 80, host: 12 as any }));
  assert.deepEqual([e.code, e.name], ['ERR_INVALID_ARG_TYPE', 'TypeError']);
});

behaviour(E, 'listen with port 65536 throws ERR_SOCKET_BAD_PORT', async (m, t) => {
  const s = m.net.createServer();
  cleanup(t, s);
  const e = thrown(() => s.listen(65536, '127.0.0.1'));
  assert.deepEqual([e.code, e.name, e.message], ['ERR_SOCKET_BAD_PORT', 'RangeError', 'options.port should be >= 0 and < 65536. Received type number (65536).']);
});

behaviour(E, 'listen() twice throws ERR_SERVER_ALREADY_LISTEN', async (m, t) => {
  const l = await listening(m, t);
  const e = thrown(() => l.server.listen(0, '127.0.0.1'));
  assert.deepEqual([e.code, e.message], ['ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.']);
});

behaviour(E, "close() on a server that is not running: callback gets ERR_SERVER_NOT_RUNNING, 'close' is emitted first", async (m, t) => {
  const s = m.net.createServer();
  cleanup(t, s);
  const log: string[] = [];
  let cbErr: any;
  s.on('close', () => log.push('close'));
  await new Promise<void>((resolve) => {
    s.close((e) => {
      cbErr = e;
      log.push('callback');
      resolve();
    });
  });
  assert.deepEqual(log, ['close', 'callback']);
  assert.deepEqual([cbErr?.code, cbErr?.message], ['ERR_SERVER_NOT_RUNNING', 'Server is not running.']);
});

behaviour(E, 'server.close() twice: the second callback gets ERR_SERVER_NOT_RUNNING', async (m, t) => {
  const l = await listening(m, t);
  const first = new Promise<unknown>((resolve) => l.server.close((e) => resolve(e)));
  const second = new Promise<any>((resolve) => l.server.close((e) => resolve(e)));
  assert.equal(await first, undefined);
  assert.equal((await second)?.code, 'ERR_SERVER_NOT_RUNNING');
});

behaviour(E, 'an error on a socket without an error listener does not reach the server', async (m, t) => {
  const l = await listening(m, t);
  const serverErrors: unknown[] = [];
  l.server.on('error', (e) => serverErrors.push(e));
  const c = m.net.connect(l.port, '127.0.0.1');
  cleanup(t, c);
  const connectedP = next(c, 'connect');
  const s = await l.nextConnection();
  await connectedP;
  c.resetAndDestroy();
  await next(s, 'close');
  assert.deepEqual(serverErrors, []);
});

// xlio-ts/net (src/node/net.ts) on the process's loopback-only host: the events of Node's
// net in Node's order (each scenario also runs against node:net and the per-socket
// sequences must be equal), errors with Node's fields, half-close, backpressure, timeouts,
// server options and limits, address shapes, lifetime, AbortSignal, RST, a 1 MiB echo,
// and Node's own http, https and tls running over these sockets unchanged.

import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import tls from 'node:tls';
import * as xnet from '../../src/node/net.js';
import { next, record } from '../support/events.js';

type NetMod = typeof nodeNet;
const X = xnet as unknown as NetMod;
const netUrl = new URL('../../src/node/net.js', import.meta.url).href;


const EVENTS = ['lookup', 'connect', 'ready', 'data', 'end', 'finish', 'close', 'error', 'timeout', 'drain'];

async function listen(net: NetMod, t: TestContext, opts: nodeNet.ServerOpts = {}, host = '127.0.0.1') {
  const server = net.createServer(opts);
  const accepted: nodeNet.Socket[] = [];
  server.on('connection', (s) => accepted.push(s));
  t.after(() => {
    for (const s of accepted) s.destroy();
    server.close();
  });
  server.listen(0, host);
  await next(server, 'listening');
  return { server, accepted, port: (server.address() as nodeNet.AddressInfo).port };
}

async function accepted(l: { accepted: nodeNet.Socket[]; server: nodeNet.Server }, i = 0): Promise<nodeNet.Socket> {
  while (l.accepted.length <= i) await next(l.server, 'connection');
  return l.accepted[i]!;
}

/** Runs `scenario` against node:net and xlio-ts/net; returns both logs (asserted equal by the caller). */
async function both(t: TestContext, scenario: (net: NetMod, t: TestContext) => Promise<unknown>): Promise<[unknown, unknown]> {
  const a = await scenario(nodeNet, t);
  const b = await scenario(X, t);
  return [a, b];
}

test('net: connect, data, end and close in Node’s order on both sides (and as node:net)', { timeout: 15_000 }, async (t) => {
  const [n, x] = await both(t, async (net, t) => {
    const l = await listen(net, t);
    const c = net.connect(l.port, '127.0.0.1');
    const cl = record(c, EVENTS);
    await next(c, 'connect');
    const s = await accepted(l);
    const sl = record(s, EVENTS);
    s.on('data', (d) => s.write(`echo:${d}`));
    c.write('hi');
    await next(c, 'data');
    c.end();
    await next(c, 'close');
    if (!s.destroyed || sl[sl.length - 1] !== 'close:false') await next(s, 'close');
    return { cl, sl, bytes: [c.bytesRead, c.bytesWritten, s.bytesRead, s.bytesWritten] };
  });
  assert.deepEqual(x, n);
  assert.deepEqual((x as { cl: string[] }).cl, ['connect', 'ready', 'data:echo:hi', 'finish', 'end', 'close:false']);
  assert.deepEqual((x as { sl: string[] }).sl, ['data:hi', 'end', 'finish', 'close:false']);
});

test('net: no 1 s stalls — connect, write, end and server.close() complete in milliseconds, many times over', { timeout: 30_000 }, async () => {
  // Each cycle takes a few ms on loopback (as on node:net); a lost segment or a missed wake-up
  // costs 250 ms (the loop's longest park) to 1 s (TCP's initial RTO) and fails the bound.
  // Forty cycles: the stalls this pins (TCP timestamps stepping back across a millisecond, the
  // peer's PAWS dropping the handshake's last ACK) hit about one connection in four.
  const slow: string[] = [];
  for (let i = 0; i < 40; i++) {
    const t0 = performance.now();
    const server = X.createServer((s) => s.on('data', (d) => s.write(d)));
    server.listen(0, '127.0.0.1');
    await next(server, 'listening');
    const c = X.connect((server.address() as nodeNet.AddressInfo).port, '127.0.0.1');
    await next(c, 'connect');
    const t1 = performance.now();
    c.write('ping');
    await next(c, 'data');
    const t2 = performance.now();
    c.end();
    await next(c, 'close');
    const t3 = performance.now();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const t4 = performance.now();
    if (t4 - t0 > 200) slow.push(`cycle ${i}: connect ${(t1 - t0).toFixed(1)} ms, echo ${(t2 - t1).toFixed(1)} ms, end→close ${(t3 - t2).toFixed(1)} ms, server.close ${(t4 - t3).toFixed(1)} ms`);
  }
  assert.deepEqual(slow, []);
});

test('net: allowHalfOpen keeps the server writable after the client’s FIN; without it the server ends itself', { timeout: 15_000 }, async (t) => {
  const [n, x] = await both(t, async (net, t) => {
    const out: unknown[] = [];
    for (const allowHalfOpen of [true, false]) {
      const l = await listen(net, t, { allowHalfOpen });
      const c = net.connect({ port: l.port, host: '127.0.0.1', allowHalfOpen: true });
      t.after(() => c.destroy());
      await next(c, 'connect');
      const s = await accepted(l);
      const sl = record(s, ['end', 'finish', 'close']);
      s.resume();
      let got = '';
      c.on('data', (d) => (got += d));
      c.end('question');
      await next(s, 'end');
      out.push([s.writable, s.writableEnded, s.readyState]);
      if (allowHalfOpen) {
        s.end('answer after half-close');
      }
      await next(c, 'end');
      await next(c, 'close');
      out.push(got, sl.slice());
    }
    return out;
  });
  assert.deepEqual(x, n);
  assert.deepEqual(x, [
    [true, false, 'writeOnly'],
    'answer after half-close',
    ['end', 'finish', 'close:false'],
    [false, true, 'closed'],
    '',
    ['end', 'finish', 'close:false'],
  ]);
});

test('net: ECONNREFUSED has Node’s message, code, errno, syscall, address and port', { timeout: 10_000 }, async () => {
  // A port nothing listens on: one a server bound, then closed.
  const srv = X.createServer().listen(0, '127.0.0.1');
  await next(srv, 'listening');
  const port = (srv.address() as nodeNet.AddressInfo).port;
  srv.close();
  await next(srv, 'close');
  const c = X.connect(port, '127.0.0.1');
  const log = record(c, EVENTS);
  const [err] = await next(c, 'error');
  await next(c, 'close');
  assert.equal(err.message, `connect ECONNREFUSED 127.0.0.1:${port}`);
  assert.deepEqual(
    { code: err.code, errno: err.errno, syscall: err.syscall, address: err.address, port: err.port },
    { code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: '127.0.0.1', port },
  );
  assert.deepEqual(log, ['error:ECONNREFUSED', 'close:true']);
  assert.deepEqual(Object.keys(err).sort(), ['address', 'code', 'errno', 'port', 'syscall']);
});

test('net: EADDRINUSE from listen, as Node words it; close() of a server not listening: ERR_SERVER_NOT_RUNNING', { timeout: 10_000 }, async (t) => {
  const l = await listen(X, t);
  const s2 = X.createServer();
  s2.listen(l.port, '127.0.0.1');
  const [err] = await next(s2, 'error');
  assert.equal(err.message, `listen EADDRINUSE: address already in use 127.0.0.1:${l.port}`);
  assert.deepEqual([err.code, err.errno, err.syscall, err.address, err.port], ['EADDRINUSE', -98, 'listen', '127.0.0.1', l.port]);
  assert.equal(s2.listening, false);
  const [closeErr] = await new Promise<any[]>((resolve) => s2.close((...a) => resolve(a)));
  assert.equal(closeErr.code, 'ERR_SERVER_NOT_RUNNING');
  assert.equal(closeErr.message, 'Server is not running.');
  assert.match(String(closeErr.stack), /^Error \[ERR_SERVER_NOT_RUNNING\]: Server is not running\./);
  assert.throws(() => l.server.listen(0), { code: 'ERR_SERVER_ALREADY_LISTEN' });
});

test('net: backpressure — a paused reader makes write() return false; "drain" after it resumes', { timeout: 15_000 }, async (t) => {
  const l = await listen(X, t, { pauseOnConnect: true });
  const c = X.connect(l.port, '127.0.0.1');
  t.after(() => c.destroy());
  await next(c, 'connect');
  const s = await accepted(l);
  const chunk = Buffer.alloc(16 * 1024, 7);
  let writes = 0;
  while (c.write(chunk)) {
    writes++;
    if (writes > 10_000) assert.fail('write() never returned false');
    // Let the stack move what it can, so the kernel-side buffers fill.
    if (writes % 4 === 0) await new Promise((r) => setImmediate(r));
  }
  assert.ok(c.writableLength >= c.writableHighWaterMark);
  assert.equal(c.bufferSize, c.writableLength);
  let drained = false;
  c.once('drain', () => (drained = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(drained, false, "no 'drain' while the reader is paused");
  let got = 0;
  s.on('data', (d: Buffer) => (got += d.length));
  s.resume();
  await next(c, 'drain');
  assert.equal(c.write(Buffer.alloc(1)), true);
  c.end();
  await next(s, 'end');
  assert.equal(got, (writes + 1) * chunk.length + 1);
  assert.equal(c.bytesWritten, got);
});

test('net: setTimeout fires "timeout" (the socket stays open), refreshed by activity; 0 disables it', { timeout: 10_000 }, async (t) => {
  const l = await listen(X, t);
  const c = X.connect(l.port, '127.0.0.1');
  t.after(() => c.destroy());
  await next(c, 'connect');
  const t0 = Date.now();
  let cbCalled = false;
  c.setTimeout(80, () => (cbCalled = true));
  assert.equal(c.timeout, 80);
  await next(c, 'timeout');
  assert.ok(Date.now() - t0 >= 70);
  assert.ok(cbCalled);
  assert.equal(c.destroyed, false);
  c.setTimeout(0);
  let fired = false;
  c.on('timeout', () => (fired = true));
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(fired, false);
  assert.throws(() => c.setTimeout(-1), { code: 'ERR_OUT_OF_RANGE' });
  // connect({ timeout }) arms it too.
  const c2 = X.connect({ port: l.port, host: '127.0.0.1', timeout: 50 });
  t.after(() => c2.destroy());
  await next(c2, 'timeout');
});

test('net: pauseOnConnect — nothing is read until resume()', { timeout: 10_000 }, async (t) => {
  const l = await listen(X, t, { pauseOnConnect: true });
  const c = X.connect(l.port, '127.0.0.1');
  t.after(() => c.destroy());
  await next(c, 'connect');
  const s = await accepted(l);
  c.write('early');
  let got = '';
  s.on('data', (d) => (got += d));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(got, '');
  assert.equal(s.isPaused(), true);
  s.resume();
  await next(s, 'data');
  assert.equal(got, 'early');
});

test("net: maxConnections — excess connections are closed with a 'drop' carrying both addresses; getConnections counts", { timeout: 10_000 }, async (t) => {
  const l = await listen(X, t);
  l.server.maxConnections = 1;
  const drops: any[] = [];
  l.server.on('drop', (d) => drops.push(d));
  const c1 = X.connect(l.port, '127.0.0.1');
  t.after(() => c1.destroy());
  await next(c1, 'connect');
  await accepted(l);
  const c2 = X.connect(l.port, '127.0.0.1');
  const log = record(c2, EVENTS);
  await next(c2, 'close');
  assert.deepEqual(log, ['connect', 'ready', 'end', 'finish', 'close:false']);
  assert.equal(drops.length, 1);
  assert.deepEqual(
    { ...drops[0] },
    { localAddress: '127.0.0.1', localPort: l.port, localFamily: 'IPv4', remoteAddress: '127.0.0.1', remotePort: c2.localPort ?? drops[0].remotePort, remoteFamily: 'IPv4' },
  );
  const [err, count] = await new Promise<any[]>((resolve) => l.server.getConnections((...a) => resolve(a)));
  assert.deepEqual([err, count], [null, 1]);
  c1.destroy();
  await next(l.accepted[0]!, 'close');
  const [, count2] = await new Promise<any[]>((resolve) => l.server.getConnections((...a) => resolve(a)));
  assert.equal(count2, 0);
});

test('net: address() shapes for IPv4, IPv6 and the dual-stack default (as node:net)', { timeout: 10_000 }, async (t) => {
  const [n, x] = await both(t, async (net, t) => {
    const shape = (a: any) => ({ address: a.address, family: a.family, port: typeof a.port });
    const out: unknown[] = [];
    const any = net.createServer().listen(0);
    t.after(() => any.close());
    await next(any, 'listening');
    out.push(shape(any.address()));
    const l6 = await listen(net, t, {}, '::1');
    out.push(shape(l6.server.address()));
    const c6 = net.connect(l6.port, '::1');
    t.after(() => c6.destroy());
    await next(c6, 'connect');
    out.push(shape(c6.address()), [c6.remoteAddress, c6.remoteFamily, c6.remotePort === l6.port, c6.localFamily]);
    // An IPv4 client of the '::' server is seen as ::ffff:127.0.0.1.
    const c4 = net.connect((any.address() as nodeNet.AddressInfo).port, '127.0.0.1');
    t.after(() => c4.destroy());
    const [[s4]] = await Promise.all([next(any, 'connection'), next(c4, 'connect')]);
    out.push([s4.remoteAddress, s4.remoteFamily, s4.localAddress, c4.remoteFamily]);
    s4.destroy();
    return out;
  });
  assert.deepEqual(x, n);
  assert.deepEqual(x, [
    { address: '::', family: 'IPv6', port: 'number' },
    { address: '::1', family: 'IPv6', port: 'number' },
    { address: '::1', family: 'IPv6', port: 'number' },
    ['::1', 'IPv6', true, 'IPv6'],
    ['::ffff:127.0.0.1', 'IPv6', '::ffff:127.0.0.1', 'IPv4'],
  ]);
});

test('net: ref/unref — a child process with an open connection stays; unref’d everything, it exits', { timeout: 20_000 }, () => {
  const run = (body: string) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', `import * as net from ${JSON.stringify(netUrl)};\n${body}`], { encoding: 'utf8', timeout: 8000 });
  const body = (unref: boolean) => `
    const srv = net.createServer((s) => { ${unref ? 's.unref();' : ''} });
    srv.listen(0, '127.0.0.1', () => {
      const c = net.connect(srv.address().port, '127.0.0.1', () => { console.log('connected'); ${unref ? 'c.unref(); srv.unref();' : ''} });
    });
    setTimeout(() => console.log('alive'), 400).unref();`;
  const free = run(body(true));
  assert.equal(free.status, 0, free.stderr);
  assert.equal(free.stdout, 'connected\n');
  // Ref'd: still alive at 400 ms (then the process is killed by the timeout, or ends when told).
  const held = run(`${body(false)}\nsetTimeout(() => process.exit(0), 600).unref();`);
  assert.equal(held.status, 0, held.stderr);
  assert.equal(held.stdout, 'connected\nalive\n');
  // A server that closes everything lets the process end by itself.
  const tidy = run(`
    const srv = net.createServer((s) => s.end('bye'));
    srv.listen(0, '127.0.0.1', () => {
      const c = net.connect(srv.address().port, '127.0.0.1');
      let got = ''; c.on('data', (d) => got += d);
      c.on('close', () => { console.log('done:' + got); srv.close(); });
    });`);
  assert.equal(tidy.status, 0, tidy.stderr);
  assert.equal(tidy.stdout, 'done:bye\n');
  assert.equal(tidy.stderr, '');
});

test('net: AbortSignal — connect({ signal }) and listen({ signal })', { timeout: 10_000 }, async (t) => {
  const l = await listen(X, t);
  const ac = new AbortController();
  const c = X.connect({ port: l.port, host: '127.0.0.1', signal: ac.signal });
  const log = record(c, EVENTS);
  await next(c, 'connect');
  ac.abort();
  const [err] = await next(c, 'error');
  await next(c, 'close');
  assert.deepEqual([err.name, err.code], ['AbortError', 'ABORT_ERR']);
  assert.deepEqual(log, ['connect', 'ready', 'error:ABORT_ERR', 'close:true']);
  // Already aborted: destroyed at once ('close' with no argument: there was no handle yet).
  // (Node then goes on to connect the destroyed socket anyway, and so does this one.)
  const c2 = X.connect({ port: l.port, host: '127.0.0.1', signal: AbortSignal.abort() });
  t.after(() => c2.destroy());
  const log2 = record(c2, ['error', 'close']);
  await next(c2, 'close');
  assert.deepEqual(log2, ['error:ABORT_ERR', 'close:undefined']);
  // listen({ signal }): abort closes the server.
  const ac2 = new AbortController();
  const srv = X.createServer();
  srv.listen({ port: 0, host: '127.0.0.1', signal: ac2.signal });
  await next(srv, 'listening');
  ac2.abort();
  await next(srv, 'close');
  assert.equal(srv.listening, false);
});

test('net: resetAndDestroy() sends an RST: the peer gets "read ECONNRESET"', { timeout: 10_000 }, async (t) => {
  const l = await listen(X, t);
  const c = X.connect(l.port, '127.0.0.1');
  await next(c, 'connect');
  const s = await accepted(l);
  const sl = record(s, EVENTS);
  const cl = record(c, EVENTS);
  c.resetAndDestroy();
  const [err] = await next(s, 'close').then(() => [s.errored as any]);
  assert.deepEqual(sl, ['error:ECONNRESET', 'close:true']);
  assert.deepEqual([err.message, err.code, err.errno, err.syscall], ['read ECONNRESET', 'ECONNRESET', -104, 'read']);
  assert.deepEqual(cl, ['close:false']);
  // Writing to a reset connection: EPIPE or ECONNRESET, as Linux says, on 'write'.
});

test('net: 1 MiB echo arrives intact (SHA-256)', { timeout: 20_000 }, async (t) => {
  const server = X.createServer((s) => s.pipe(s));
  server.listen(0, '127.0.0.1');
  t.after(() => server.close());
  await next(server, 'listening');
  const data = randomBytes(1 << 20);
  const c = X.connect((server.address() as nodeNet.AddressInfo).port, '127.0.0.1');
  const h = createHash('sha256');
  let n = 0;
  c.on('data', (d: Buffer) => {
    h.update(d);
    n += d.length;
  });
  // Odd-sized writes.
  for (let off = 0; off < data.length; ) {
    const len = Math.min(data.length - off, 1 + ((off * 7919) % 70_000));
    c.write(data.subarray(off, off + len));
    off += len;
  }
  c.end();
  await next(c, 'end');
  assert.equal(n, data.length);
  assert.equal(h.digest('hex'), createHash('sha256').update(data).digest('hex'));
  await next(c, 'close');
});

test('net: a hostname is looked up with dns.lookup ("lookup" event), and errors are Node’s', { timeout: 10_000 }, async (t) => {
  const l = await listen(X, t);
  const c = X.connect({ port: l.port, host: 'localhost', family: 4 });
  t.after(() => c.destroy());
  const [err, address, family, host] = await next(c, 'lookup');
  await next(c, 'connect');
  assert.deepEqual([err, address, family, host], [null, '127.0.0.1', 4, 'localhost']);
  assert.throws(() => X.connect({ port: 70000 } as any), { code: 'ERR_SOCKET_BAD_PORT', name: 'RangeError' });
  assert.throws(() => X.connect({} as any), { code: 'ERR_MISSING_ARGS' });
  assert.throws(() => new X.Socket().setTimeout('x' as any), { code: 'ERR_INVALID_ARG_TYPE', message: 'The "msecs" argument must be of type number. Received type string (\'x\')' });
});

test('net: socket options and properties — setNoDelay, setKeepAlive, readyState, pending, connecting', { timeout: 10_000 }, async (t) => {
  const l = await listen(X, t, { noDelay: true, keepAlive: true, keepAliveInitialDelay: 2000 });
  const c = X.connect({ port: l.port, host: '127.0.0.1', noDelay: true, keepAlive: true, keepAliveInitialDelay: 1000 });
  t.after(() => c.destroy());
  assert.deepEqual([c.connecting, c.pending, c.readyState], [true, true, 'opening']);
  await next(c, 'connect');
  assert.deepEqual([c.connecting, c.pending, c.readyState], [false, false, 'open']);
  const s = await accepted(l);
  const host = (c as unknown as xnet.Socket).xlioHost;
  const fd = (c as unknown as xnet.Socket)._handle!.fd;
  const sfd = (s as unknown as xnet.Socket)._handle!.fd;
  const K = await import('../../src/socket/constants.js');
  assert.equal(host.api.getsockoptInt(fd, K.IPPROTO_TCP, K.TCP_NODELAY), 1);
  assert.equal(host.api.getsockoptInt(fd, K.SOL_SOCKET, K.SO_KEEPALIVE), 1);
  assert.equal(host.api.getsockoptInt(fd, K.IPPROTO_TCP, K.TCP_KEEPIDLE), 1);
  assert.equal(host.api.getsockoptInt(sfd, K.IPPROTO_TCP, K.TCP_NODELAY), 1);
  assert.equal(host.api.getsockoptInt(sfd, K.IPPROTO_TCP, K.TCP_KEEPIDLE), 2);
  assert.equal(c.setNoDelay(false), c);
  assert.equal(host.api.getsockoptInt(fd, K.IPPROTO_TCP, K.TCP_NODELAY), 0);
  c.setKeepAlive(false);
  assert.equal(host.api.getsockoptInt(fd, K.SOL_SOCKET, K.SO_KEEPALIVE), 0);
  c.end();
  assert.equal(c.readyState, 'readOnly');
});

// ---------------------------------------------------------------------------------------
// Node's http, https and tls over xlio-ts sockets

function body(r: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let b = '';
    r.on('data', (d) => (b += d));
    r.on('end', () => resolve(b));
    r.on('error', reject);
  });
}

test('http over xlio-ts: http.Server fed by serve(), GET and POST through an Agent and through createConnection', { timeout: 15_000 }, async (t) => {
  const hs = http.createServer(async (req, res) => {
    const b = await body(req);
    res.setHeader('x-method', req.method!);
    res.end(`${req.method} ${req.url} ${b}`);
  });
  const srv = xnet.serve(hs).listen(0, '127.0.0.1');
  t.after(() => srv.close());
  await next(srv, 'listening');
  const port = (srv.address() as nodeNet.AddressInfo).port;
  const agent = new xnet.Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  const seen: nodeNet.Socket[] = [];
  for (const method of ['GET', 'POST', 'POST']) {
    const r = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ port, host: '127.0.0.1', method, path: '/p', agent }, resolve);
      req.on('error', reject);
      req.on('socket', (s) => seen.push(s));
      req.end(method === 'POST' ? 'payload' : undefined);
    });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['x-method'], method);
    assert.equal(await body(r), `${method} /p ${method === 'POST' ? 'payload' : ''}`);
  }
  assert.ok(seen[0] instanceof xnet.Socket);
  assert.equal(seen[1], seen[0], 'keep-alive reuses the connection');
  const r = await new Promise<http.IncomingMessage>((resolve, reject) =>
    http.get({ path: '/cc', createConnection: () => xnet.createConnection(port, '127.0.0.1') as any }, resolve).on('error', reject),
  );
  assert.equal(await body(r), 'GET /cc ');
});

function selfSigned(t: TestContext): { key: Buffer; cert: Buffer } | null {
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), 'xlio-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], {
      stdio: 'ignore',
    });
  } catch {
    return null;
  }
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) };
}

test('https and tls over xlio-ts: https.Server via serve(), HttpsAgent, tls.connect({ socket }), new TLSSocket(ours, { isServer })', { timeout: 20_000 }, async (t) => {
  const kc = selfSigned(t);
  if (kc === null) return t.skip('openssl is not available to make a certificate');
  const { key, cert } = kc;
  // https
  const hs = https.createServer({ key, cert }, (req, res) => res.end(`secure ${req.url}`));
  const srv = xnet.serve(hs).listen(0, '127.0.0.1');
  t.after(() => srv.close());
  await next(srv, 'listening');
  const port = (srv.address() as nodeNet.AddressInfo).port;
  const agent = new xnet.HttpsAgent({ ca: cert });
  t.after(() => agent.destroy());
  const r = await new Promise<http.IncomingMessage>((resolve, reject) => https.get({ host: 'localhost', port, path: '/x', agent, ca: cert }, resolve).on('error', reject));
  assert.equal(r.statusCode, 200);
  assert.equal(await body(r), 'secure /x');
  assert.equal((r.socket as tls.TLSSocket).getPeerCertificate().subject.CN, 'localhost');
  // tls by hand on both sides: TLSSocket(isServer) over an accepted xlio-ts socket, tls.connect({ socket }) over a client one.
  const ctx = tls.createSecureContext({ key, cert });
  const plain = xnet.createServer((s) => {
    const ts = new tls.TLSSocket(s as unknown as nodeNet.Socket, { isServer: true, secureContext: ctx });
    ts.on('data', (d) => ts.end(`tls echo ${d}`));
    ts.on('error', () => {});
  });
  plain.listen(0, '127.0.0.1');
  t.after(() => plain.close());
  await next(plain, 'listening');
  const raw = xnet.connect((plain.address() as nodeNet.AddressInfo).port, '127.0.0.1');
  const tc = tls.connect({ socket: raw as unknown as nodeNet.Socket, ca: cert, servername: 'localhost' });
  await next(tc, 'secureConnect');
  assert.equal(tc.authorized, true);
  tc.write('ping');
  assert.equal(await body(tc), 'tls echo ping');
});

// xlio-ts/net (src/node/net.ts) with pipes / Unix domain sockets (a path): Node's own net does
// them (XLIO leaves AF_UNIX to the kernel), so every scenario runs against node:net and
// against xlio-ts/net with identical expectations — events and their order on both sides,
// address(), getConnections, close() draining, 'drop', errors with Node's fields, half-close.

import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import * as xnet from '../../src/node/net.js';
import { next, record } from '../support/events.js';

type NetMod = typeof nodeNet;
const X = xnet as unknown as NetMod;


const EVENTS = ['connect', 'ready', 'data', 'end', 'finish', 'close', 'error', 'timeout'];
const SERVER_EVENTS = ['listening', 'connection', 'close', 'error', 'drop'];

/** A fresh directory under os.tmpdir() for this test, removed after it; sock(name) is a path in it. */
function tmp(t: TestContext): (name: string) => string {
  const dir = mkdtempSync(join(tmpdir(), 'xlio-pipe-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return (name) => join(dir, name);
}

/** Runs `scenario` against node:net, then xlio-ts/net (each with its own socket path). */
async function both(t: TestContext, scenario: (net: NetMod, path: string, t: TestContext) => Promise<unknown>): Promise<[unknown, unknown]> {
  const sock = tmp(t);
  const a = await scenario(nodeNet, sock('node.sock'), t);
  const b = await scenario(X, sock('xlio.sock'), t);
  return [a, b];
}

function errFields(err: any): Record<string, unknown> {
  return { name: err.name, message: err.message, code: err.code, errno: err.errno, syscall: err.syscall, address: err.address, port: err.port, keys: Object.keys(err).sort() };
}

test('net pipe: listen(path) + connect(path) echo — events in Node’s order on both sides, address() is the path', { timeout: 15_000 }, async (t) => {
  const [n, x] = await both(t, async (net, path) => {
    const server = net.createServer();
    const svl = record(server, SERVER_EVENTS);
    let s: nodeNet.Socket | undefined;
    const sl: string[] = [];
    server.on('connection', (sock) => {
      s = sock;
      record(sock, EVENTS, sl);
      sock.on('data', (d) => sock.write(`echo:${d}`));
    });
    const ret = server.listen(path);
    const early = [ret === server, server.listening];
    await next(server, 'listening');
    const addr = server.address();
    const c = net.connect(path);
    const isNodeSocket = c instanceof nodeNet.Socket;
    const cl = record(c, EVENTS);
    await next(c, 'connect');
    c.write('hi');
    await next(c, 'data');
    c.end();
    await next(c, 'close');
    if (!s!.destroyed || sl[sl.length - 1] !== 'close:false') await next(s!, 'close');
    const serverIsOurs = (s as any).server === server;
    server.close();
    await next(server, 'close');
    return { early, addr: addr === path, isNodeSocket, serverIsOurs, cl, sl, svl, after: [server.listening, server.address() === path], bytes: [c.bytesRead, c.bytesWritten, s!.bytesRead, s!.bytesWritten], remote: [c.remoteAddress, s!.remoteAddress] };
  });
  assert.deepEqual(x, n);
  const r = x as any;
  assert.deepEqual(r.early, [true, true]);
  assert.equal(r.addr, true);
  assert.equal(r.isNodeSocket, true);
  assert.equal(r.serverIsOurs, true);
  assert.deepEqual(r.cl, ['connect', 'ready', 'data:echo:hi', 'finish', 'end', 'close:false']);
  assert.deepEqual(r.sl, ['data:hi', 'end', 'finish', 'close:false']);
  assert.deepEqual(r.svl, ['listening', 'connection', 'close:undefined']);
});

test('net pipe: listen({ path }, cb), createConnection({ path }, cb), listen(path, backlog, cb)', { timeout: 15_000 }, async (t) => {
  const [n, x] = await both(t, async (net, path) => {
    const log: string[] = [];
    const server = net.createServer((s) => {
      log.push('connection');
      s.end('bye');
    });
    await new Promise<void>((resolve) => server.listen({ path, backlog: 5 }, () => resolve()));
    log.push(`listening:${server.address() === path}`);
    const c = net.createConnection({ path }, () => log.push('connect cb'));
    let got = '';
    c.on('data', (d) => (got += d));
    await next(c, 'close');
    log.push(`got:${got}`);
    await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    log.push('closed');
    // listen again on the same server, with (path, backlog, cb)
    await new Promise<void>((resolve) => server.listen(path, 10, () => resolve()));
    log.push(`relisten:${server.listening}`);
    await (server as any)[Symbol.asyncDispose]();
    log.push(`disposed:${server.listening}`);
    return log;
  });
  assert.deepEqual(x, n);
  assert.deepEqual(x, ['listening:true', 'connection', 'connect cb', 'got:bye', 'closed', 'relisten:true', 'disposed:false']);
});

test('net pipe: getConnections counts; close() waits for connections to end, then "close"', { timeout: 15_000 }, async (t) => {
  const [n, x] = await both(t, async (net, path) => {
    const server = net.createServer();
    const accepted: nodeNet.Socket[] = [];
    server.on('connection', (s) => accepted.push(s));
    server.listen(path);
    await next(server, 'listening');
    const count = () => new Promise<any[]>((resolve) => server.getConnections((...a) => resolve(a)));
    const log: unknown[] = [];
    const c1 = net.connect(path);
    const c2 = net.connect(path);
    await Promise.all([next(c1, 'connect'), next(c2, 'connect')]);
    while (accepted.length < 2) await next(server, 'connection');
    log.push(['count', ...(await count())]);
    let closed = false;
    server.close(() => {
      closed = true;
      log.push('close cb');
    });
    log.push(['listening after close()', server.listening]);
    await new Promise((r) => setTimeout(r, 50));
    log.push(['closed while connected', closed]);
    // the path is gone for new clients
    const c3 = net.connect(path);
    const [e3] = await next(c3, 'error');
    log.push(['new client', e3.code]);
    c1.end();
    await next(accepted[0]!, 'close');
    log.push(['count', ...(await count())]);
    log.push(['closed with one left', closed]);
    c2.destroy();
    await next(server, 'close');
    log.push(['count', ...(await count())]);
    const [notRunning] = await new Promise<any[]>((resolve) => server.close((...a) => resolve(a)));
    log.push(['close again', notRunning?.code]);
    return log;
  });
  assert.deepEqual(x, n);
  assert.deepEqual(x, [
    ['count', null, 2],
    ['listening after close()', false],
    ['closed while connected', false],
    ['new client', 'ENOENT'],
    ['count', null, 1],
    ['closed with one left', false],
    'close cb',
    ['count', null, 0],
    ['close again', 'ERR_SERVER_NOT_RUNNING'],
  ]);
});

test("net pipe: maxConnections — excess connections are closed and 'drop' is emitted (no address data for pipes)", { timeout: 15_000 }, async (t) => {
  const [n, x] = await both(t, async (net, path) => {
    const server = net.createServer();
    const svl = record(server, SERVER_EVENTS);
    const accepted: nodeNet.Socket[] = [];
    server.on('connection', (s) => accepted.push(s));
    server.maxConnections = 1;
    server.listen(path);
    await next(server, 'listening');
    const c1 = net.connect(path);
    await next(c1, 'connect');
    while (accepted.length < 1) await next(server, 'connection');
    const c2 = net.connect(path);
    const l2 = record(c2, EVENTS);
    c2.resume();
    await next(c2, 'close');
    const [, count] = await new Promise<any[]>((resolve) => server.getConnections((...a) => resolve(a)));
    c1.destroy();
    server.close();
    await next(server, 'close');
    return { svl, l2, count };
  });
  assert.deepEqual(x, n);
  assert.deepEqual((x as any).svl, ['listening', 'connection', 'drop:0', 'close:undefined']);
  assert.equal((x as any).count, 1);
});

test('net pipe: EADDRINUSE on a second listen to the same path, with Node’s fields', { timeout: 15_000 }, async (t) => {
  const [n, x] = await both(t, async (net, path) => {
    const s1 = net.createServer().listen(path);
    await next(s1, 'listening');
    const s2 = net.createServer();
    const log = record(s2, SERVER_EVENTS);
    s2.listen(path);
    const [err] = await next(s2, 'error');
    const after = [s2.listening, s2.address() === path];
    const [closeErr] = await new Promise<any[]>((resolve) => s2.close((...a) => resolve(a)));
    s1.close();
    await next(s1, 'close');
    return JSON.parse(JSON.stringify({ err: errFields(err), log, after, closeErr: closeErr?.code }).replaceAll(path, '<path>'));
  });
  assert.deepEqual(x, n);
  const r = x as any;
  assert.equal(r.err.code, 'EADDRINUSE');
  assert.equal(r.err.syscall, 'listen');
  assert.equal(r.err.message, 'listen EADDRINUSE: address already in use <path>');
  assert.deepEqual([r.err.address, r.err.port], ['<path>', -1]);
  assert.deepEqual(r.log, ['error:EADDRINUSE', 'close:undefined']);
  assert.deepEqual(r.after, [false, true]);
  assert.equal(r.closeErr, 'ERR_SERVER_NOT_RUNNING');
});

test('net pipe: ENOENT (no such path) and ECONNREFUSED (not a listening socket) connecting, with Node’s fields', { timeout: 15_000 }, async (t) => {
  const [n, x] = await both(t, async (net, path) => {
    const out: unknown[] = [];
    const c = net.connect(path + '.missing');
    const log = record(c, EVENTS);
    const [err] = await next(c, 'error');
    await next(c, 'close');
    out.push(errFields(err), log);
    writeFileSync(path, ''); // a path that exists but where nothing listens
    const c2 = net.createConnection({ path });
    const log2 = record(c2, EVENTS);
    const [err2] = await next(c2, 'error');
    await next(c2, 'close');
    rmSync(path);
    out.push(errFields(err2), log2);
    return JSON.parse(JSON.stringify(out).replaceAll(path, '<path>'));
  });
  assert.deepEqual(x, n);
  const r = x as any;
  assert.deepEqual([r[0].code, r[0].syscall, r[0].address, r[0].message], ['ENOENT', 'connect', '<path>.missing', 'connect ENOENT <path>.missing']);
  assert.deepEqual(r[1], ['error:ENOENT', 'close:true']);
  assert.deepEqual([r[2].code, r[2].syscall, r[2].address], ['ECONNREFUSED', 'connect', '<path>']);
  assert.deepEqual(r[3], ['error:ECONNREFUSED', 'close:true']);
});

test('net pipe: allowHalfOpen keeps the server writable after the client’s FIN; without it the server ends itself', { timeout: 15_000 }, async (t) => {
  const [n, x] = await both(t, async (net, path) => {
    const out: unknown[] = [];
    for (const allowHalfOpen of [true, false]) {
      const server = net.createServer({ allowHalfOpen });
      server.listen(path);
      await next(server, 'listening');
      const c = net.connect({ path, allowHalfOpen: true });
      const [[s]] = await Promise.all([next(server, 'connection'), next(c, 'connect')]);
      const sl = record(s, ['end', 'finish', 'close']);
      s.resume();
      let got = '';
      c.on('data', (d) => (got += d));
      c.end('question');
      await next(s, 'end');
      out.push([s.writable, s.writableEnded, s.readyState]);
      if (allowHalfOpen) s.end('answer after half-close');
      await next(c, 'end');
      await next(c, 'close');
      if (sl[sl.length - 1] !== 'close:false') await next(s, 'close');
      out.push(got, sl.slice());
      server.close();
      await next(server, 'close');
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

test('net pipe: readableAll/writableAll set the socket file’s mode; ref/unref return the server', { timeout: 15_000 }, async (t) => {
  const [n, x] = await both(t, async (net, path) => {
    const server = net.createServer();
    server.listen({ path, readableAll: true, writableAll: true });
    await next(server, 'listening');
    const mode = statSync(path).mode & 0o666;
    const refs = [server.unref() === server, server.ref() === server];
    server.close();
    await next(server, 'close');
    return { mode, refs };
  });
  assert.deepEqual(x, n);
  assert.equal((x as any).mode, 0o666);
});

test('net pipe: Socket#connect(path) on an xlio-ts Socket throws, naming net.connect(path)', () => {
  const s = new xnet.Socket();
  assert.throws(() => s.connect('/tmp/some.sock'), { code: 'ERR_INVALID_ARG_VALUE', message: /net\.connect\(path\)/ });
  assert.throws(() => s.connect({ path: '/tmp/some.sock' }), { code: 'ERR_INVALID_ARG_VALUE', message: /net\.connect\(path\)/ });
  s.destroy();
});

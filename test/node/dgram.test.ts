// xlio-ts/dgram (src/node/dgram.ts): Node's dgram over the process's xlio-ts host. Every
// expectation here is what Node 20's own dgram does over the kernel (checked side by side
// while writing them); the loopback-only host needs no privileges. Multicast and the limited
// broadcast need an interface besides lo: those tests build a host on a null link (frames
// go nowhere), where IP_MULTICAST_LOOP delivers a process's own group traffic (KI-07).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import * as dgram from '../../src/node/dgram.js';
import { LoopbackOnlyLink, ProcessHost } from '../../src/node/host.js';

type Sock = dgram.Socket;

function bounded<T>(p: Promise<T>, what: string, ms = 2_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const next = (s: Sock, ev: string, ms?: number): Promise<any[]> => bounded(once(s, ev), `'${ev}'`, ms);
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function closeAfter(t: TestContext, ...socks: Sock[]): void {
  t.after(() => {
    for (const s of socks) {
      try {
        s.close();
      } catch {
        /* closed */
      }
    }
  });
}

function make(t: TestContext, opts: dgram.SocketType | dgram.SocketOptions = 'udp4'): Sock {
  const s = dgram.createSocket(opts);
  closeAfter(t, s);
  return s;
}

async function bound(t: TestContext, opts: dgram.SocketType | dgram.SocketOptions = 'udp4', address?: string): Promise<Sock> {
  const s = make(t, opts);
  const type = typeof opts === 'string' ? opts : opts.type;
  s.bind(0, address ?? (type === 'udp4' ? '127.0.0.1' : '::1'));
  await next(s, 'listening');
  return s;
}

/** The next `n` datagrams on `s` as [text, rinfo]. */
function messages(s: Sock, n: number, ms = 2_000): Promise<[string, dgram.RemoteInfo][]> {
  const got: [string, dgram.RemoteInfo][] = [];
  return bounded(
    new Promise((resolve) => {
      const on = (m: Buffer, r: dgram.RemoteInfo) => {
        got.push([m.toString('latin1'), r]);
        if (got.length === n) {
          s.removeListener('message', on);
          resolve(got);
        }
      };
      s.on('message', on);
    }),
    `${n} datagrams`,
    ms,
  );
}

function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected a throw');
}

const fields = (e: any) => ({ code: e.code, errno: e.errno, syscall: e.syscall, address: e.address, port: e.port, message: e.message });

const sendCb = (s: Sock, ...args: unknown[]): Promise<[Error | null, number | undefined]> =>
  bounded(new Promise((resolve) => (s.send as (...a: unknown[]) => void)(...args, (e: Error | null, n?: number) => resolve([e, n]))), 'the send callback');

/** A host with an Ethernet interface on a null link (198.18.0.1/24, fd00::1/64, a default gateway): multicast and broadcast have routes. */
function linkHost(t: TestContext): ProcessHost {
  const h = new ProcessHost({ link: new LoopbackOnlyLink(), addrs: ['198.18.0.1/24', 'fd00::1/64'], gateway: '198.18.0.254' });
  t.after(() => setTimeout(() => h.close(), 50));
  return h;
}

// ---------------------------------------------------------------------------------------
// bind and address

test('dgram: bind forms, address() shape, ephemeral ports, the callback before other listening listeners', async (t) => {
  const a = make(t);
  const b = make(t, 'udp6');
  const c = make(t);
  const d = make(t);
  const log: string[] = [];
  assert.equal(
    a.bind(0, '127.0.0.1', () => log.push('cb')),
    a,
  );
  a.on('listening', () => log.push('listening'));
  b.bind();
  c.bind({ port: 0, address: '127.0.0.1', exclusive: true });
  d.bind(0, () => log.push('d cb'));
  await Promise.all([a, b, c, d].map((s) => next(s, 'listening')));
  await tick();
  assert.deepEqual(log.sort(), ['cb', 'd cb', 'listening']);
  const aa = a.address();
  assert.deepEqual(Object.keys(aa), ['address', 'family', 'port']);
  assert.deepEqual([aa.address, aa.family], ['127.0.0.1', 'IPv4']);
  assert.deepEqual([b.address().address, b.address().family, c.address().address, d.address().address], ['::', 'IPv6', '127.0.0.1', '0.0.0.0']);
  const ports = new Set([a, b, c, d].map((s) => s.address().port));
  assert.equal(ports.size, 4);
  for (const p of ports) assert.ok(p >= 1024 && p < 65536);
  assert.equal(thrown(() => a.bind(0)).code, 'ERR_SOCKET_ALREADY_BOUND');
});

test('dgram: address() before bind is getsockname EBADF; EADDRINUSE is an error event with every field; reuseAddr shares a port', async (t) => {
  const s = make(t);
  assert.deepEqual(fields(thrown(() => s.address())), { code: 'EBADF', errno: -9, syscall: 'getsockname', address: undefined, port: undefined, message: 'getsockname EBADF' });
  const a = await bound(t, 'udp4', '0.0.0.0');
  const port = a.address().port;
  const b = make(t);
  const log: string[] = [];
  b.on('listening', () => log.push('listening'));
  b.bind(port);
  const [e] = await next(b, 'error');
  await tick();
  assert.deepEqual(log, []);
  assert.deepEqual(fields(e), { code: 'EADDRINUSE', errno: -98, syscall: 'bind', address: '0.0.0.0', port, message: `bind EADDRINUSE 0.0.0.0:${port}` });
  assert.deepEqual(Object.keys(e), ['errno', 'code', 'syscall', 'address', 'port']);
  // After a failed bind the socket is unbound again: another bind works.
  b.bind(0);
  await next(b, 'listening');
  const r1 = await bound(t, { type: 'udp4', reuseAddr: true }, '0.0.0.0');
  const r2 = make(t, { type: 'udp4', reuseAddr: true });
  r2.bind(r1.address().port);
  await next(r2, 'listening');
  assert.equal(r2.address().port, r1.address().port);
});

test('dgram: bind errors — an address of the other family is EINVAL, ipv6Only on udp4 is EINVAL, a bad hostname is the lookup error', async (t) => {
  const a = make(t);
  a.bind(0, '::1');
  assert.deepEqual(fields((await next(a, 'error'))[0]), { code: 'EINVAL', errno: -22, syscall: 'bind', address: '::1', port: undefined, message: 'bind EINVAL ::1' });
  const b = make(t, { type: 'udp4', ipv6Only: true });
  b.bind(0);
  assert.equal((await next(b, 'error'))[0].message, 'bind EINVAL 0.0.0.0');
  const c = make(t, { type: 'udp4', lookup: (_h, _f, cb) => process.nextTick(cb, Object.assign(new Error('getaddrinfo ENOTFOUND nowhere'), { code: 'ENOTFOUND' }), '', 4) });
  c.bind(0, 'nowhere');
  assert.equal((await next(c, 'error'))[0].code, 'ENOTFOUND');
});

// ---------------------------------------------------------------------------------------
// send and receive

test('dgram: every send overload (Buffer, string, offset/length, arrays, TypedArray, DataView, default address)', async (t) => {
  const r = await bound(t);
  const s = await bound(t);
  const port = r.address().port;
  const got = messages(r, 9);
  const results: unknown[] = [];
  results.push(await sendCb(s, Buffer.from('buffer'), port, '127.0.0.1'));
  results.push(await sendCb(s, 'string', port, '127.0.0.1'));
  results.push(await sendCb(s, Buffer.from('xxsliceyy'), 2, 5, port, '127.0.0.1'));
  results.push(await sendCb(s, 'xxstrsliceyy', 2, 8, port));
  results.push(await sendCb(s, [Buffer.from('ar'), 'ray', new Uint8Array([0x21])], port, '127.0.0.1'));
  results.push(await sendCb(s, new Uint16Array([0x6968]), port));
  const dv = Buffer.from('--dv--');
  results.push(await sendCb(s, new DataView(dv.buffer, dv.byteOffset, 6), port, '127.0.0.1'));
  results.push(await sendCb(s, [], port, '127.0.0.1'));
  s.send('nocb', port, '127.0.0.1');
  const m = await got;
  assert.deepEqual(
    m.map(([text]) => text),
    ['buffer', 'string', 'slice', 'strslice', 'array!', 'hi', '--dv--', '', 'nocb'],
  );
  assert.deepEqual(results, [[null, 6], [null, 6], [null, 5], [null, 8], [null, 6], [null, 2], [null, 6], [null, 0]]);
  assert.deepEqual(m[0]![1], { address: '127.0.0.1', family: 'IPv4', port: s.address().port, size: 6 });
  assert.equal(m[7]![1].size, 0);
});

test('dgram: received Buffers are each their own copy (one reusable receive buffer underneath)', async (t) => {
  const r = await bound(t);
  const s = await bound(t);
  const bufs: Buffer[] = [];
  const done = new Promise<void>((resolve) =>
    r.on('message', (m: Buffer) => {
      bufs.push(m);
      if (bufs.length === 50) resolve();
    }),
  );
  for (let i = 0; i < 50; i++) s.send(Buffer.alloc(100 + i, i), r.address().port, '127.0.0.1');
  await bounded(done, '50 datagrams');
  for (let i = 0; i < 50; i++) {
    assert.equal(bufs[i]!.length, 100 + i);
    assert.ok(bufs[i]!.every((b) => b === i));
    assert.equal(bufs[i]!.buffer.byteLength, bufs[i]!.length);
  }
  // The largest IPv4 datagram.
  const big = Buffer.alloc(65507, 7);
  const p = next(r, 'message');
  assert.deepEqual(await sendCb(s, big, r.address().port, '127.0.0.1'), [null, 65507]);
  const [m, ri] = await p;
  assert.ok((m as Buffer).equals(big));
  assert.equal(ri.size, 65507);
  const [e] = await sendCb(s, Buffer.alloc(65508), r.address().port, '127.0.0.1');
  assert.equal((e as any).message, `send EMSGSIZE 127.0.0.1:${r.address().port}`);
});

test('dgram: send argument errors are thrown synchronously, as Node throws them', async (t) => {
  const s = await bound(t);
  assert.deepEqual(
    [thrown(() => s.send('x', 0, '127.0.0.1')), thrown(() => s.send('x', 70000, '127.0.0.1'))].map((e) => [e.code, e.message, e.name]),
    [
      ['ERR_SOCKET_BAD_PORT', 'Port should be > 0 and < 65536. Received type number (0).', 'RangeError'],
      ['ERR_SOCKET_BAD_PORT', 'Port should be > 0 and < 65536. Received type number (70000).', 'RangeError'],
    ],
  );
  const e = thrown(() => s.send(5 as never, 70, '127.0.0.1'));
  assert.equal(e.code, 'ERR_INVALID_ARG_TYPE');
  assert.equal(e.message, 'The "buffer" argument must be of type string or an instance of Buffer, TypedArray, or DataView. Received type number (5)');
  assert.equal(thrown(() => s.send(Buffer.alloc(3), 2, 5, 70, '127.0.0.1')).message, '"length" is outside of buffer bounds');
  assert.equal(thrown(() => s.send(Buffer.alloc(3), 4, 0, 70, '127.0.0.1')).code, 'ERR_BUFFER_OUT_OF_BOUNDS');
  assert.equal(thrown(() => s.send([1] as never, 70, '127.0.0.1')).code, 'ERR_INVALID_ARG_TYPE');
  assert.equal(thrown(() => s.send('x', 70, 5 as never)).code, 'ERR_INVALID_ARG_TYPE');
  assert.equal(String(thrown(() => dgram.createSocket('udp5' as never))), 'TypeError [ERR_SOCKET_BAD_TYPE]: Bad socket type specified. Valid types are: udp4, udp6');
  assert.equal(thrown(() => dgram.createSocket({ type: 'udp4', recvBufferSize: -1 })).code, 'ERR_OUT_OF_RANGE');
  assert.equal(thrown(() => dgram.createSocket({ type: 'udp4', lookup: 5 as never })).code, 'ERR_INVALID_ARG_TYPE');
});

test('dgram: implicit bind on the first send — listening first, queued sends in order, bound to the wildcard', async (t) => {
  const r = await bound(t);
  const s = make(t);
  const log: string[] = [];
  s.on('listening', () => log.push('listening'));
  const got = messages(r, 3);
  s.send('1', r.address().port, '127.0.0.1', () => log.push('sent 1'));
  s.send('2', r.address().port, '127.0.0.1', () => log.push('sent 2'));
  s.send('3', r.address().port, () => log.push('sent 3'));
  log.push('sync');
  const m = await got;
  await sleep(10);
  assert.deepEqual(log, ['sync', 'listening', 'sent 1', 'sent 2', 'sent 3']);
  assert.deepEqual(
    m.map(([x]) => x),
    ['1', '2', '3'],
  );
  assert.equal(s.address().address, '0.0.0.0');
  assert.equal(m[0]![1].port, s.address().port);
});

test('dgram: hostnames resolve (dns.lookup, or the lookup option with the family), errors go to the callback or as error', async (t) => {
  const r = await bound(t);
  const s = await bound(t);
  const named = messages(r, 1);
  assert.deepEqual(await sendCb(s, 'named', r.address().port, 'localhost'), [null, 5]);
  assert.equal((await named)[0]![0], 'named');
  const asked: unknown[] = [];
  const l = make(t, {
    type: 'udp4',
    lookup: (host, family, cb) => {
      asked.push([host, family]);
      if (host === 'bad.example') process.nextTick(cb, Object.assign(new Error('getaddrinfo ENOTFOUND bad.example'), { code: 'ENOTFOUND' }), '', 4);
      else process.nextTick(cb, null, '127.0.0.1', 4);
    },
  });
  const got = messages(r, 1);
  assert.deepEqual(await sendCb(l, 'via lookup', r.address().port, 'my.peer'), [null, 10]);
  assert.equal((await got)[0]![0], 'via lookup');
  const [e] = await sendCb(l, 'x', r.address().port, 'bad.example');
  assert.equal((e as any).code, 'ENOTFOUND');
  l.send('x', r.address().port, 'bad.example');
  assert.equal((await next(l, 'error'))[0].code, 'ENOTFOUND');
  assert.deepEqual(asked, [
    ['0.0.0.0', 4],
    ['my.peer', 4],
    ['bad.example', 4],
    ['bad.example', 4],
  ]);
});

test('dgram: IPv6 — udp6 on ::1, default address ::1, v4-mapped senders to a dual-stack socket, ipv6Only', async (t) => {
  const r = await bound(t, 'udp6');
  const s = await bound(t, 'udp6');
  assert.deepEqual(r.address(), { address: '::1', family: 'IPv6', port: r.address().port });
  const got = messages(r, 2);
  s.send('six', r.address().port, '::1');
  s.send('default', r.address().port);
  const m = await got;
  assert.deepEqual(m[0], ['six', { address: '::1', family: 'IPv6', port: s.address().port, size: 3 }]);
  assert.equal(m[1]![0], 'default');
  // A udp6 socket on '::' hears IPv4 as ::ffff:a.b.c.d, and sends to mapped addresses.
  const dual = await bound(t, 'udp6', '::');
  const v4 = await bound(t);
  const g2 = messages(dual, 1);
  v4.send('from v4', dual.address().port, '127.0.0.1');
  assert.deepEqual((await g2)[0], ['from v4', { address: '::ffff:127.0.0.1', family: 'IPv6', port: v4.address().port, size: 7 }]);
  const g3 = messages(v4, 1);
  dual.send('to v4', v4.address().port, '::ffff:127.0.0.1');
  assert.deepEqual((await g3)[0], ['to v4', { address: '127.0.0.1', family: 'IPv4', port: dual.address().port, size: 5 }]);
  // An IPv4 text is no address for udp6, nor IPv6 text for udp4 (uv_ip6_addr / uv_ip4_addr): EINVAL.
  assert.equal((await sendCb(dual, 'x', 9, '127.0.0.1'))[0]!.message, 'send EINVAL 127.0.0.1:9');
  assert.equal((await sendCb(v4, 'x', 9, '::1'))[0]!.message, 'send EINVAL ::1:9');
  // ipv6Only leaves the IPv4 port free; without it a udp6 '::' socket holds it.
  const only = await bound(t, { type: 'udp6', ipv6Only: true }, '::');
  const other = make(t);
  other.bind(only.address().port, '0.0.0.0');
  await next(other, 'listening');
  const taker = make(t);
  taker.bind(dual.address().port, '0.0.0.0');
  assert.equal((await next(taker, 'error'))[0].code, 'EADDRINUSE');
});

// ---------------------------------------------------------------------------------------
// connect

test('dgram: connect — listening, then connect; remoteAddress; sends without an address; the errors around it', async (t) => {
  const r = await bound(t);
  const port = r.address().port;
  const s = make(t);
  const log: string[] = [];
  s.on('listening', () => log.push('listening'));
  s.on('connect', () => log.push('connect'));
  assert.equal(s.connect(port, '127.0.0.1', () => log.push('cb')), undefined);
  assert.equal(thrown(() => s.connect(port)).code, 'ERR_SOCKET_DGRAM_IS_CONNECTED');
  assert.equal(thrown(() => s.remoteAddress()).code, 'ERR_SOCKET_DGRAM_NOT_CONNECTED');
  await next(s, 'connect');
  await tick();
  assert.deepEqual(log, ['listening', 'connect', 'cb']);
  assert.deepEqual(s.remoteAddress(), { address: '127.0.0.1', family: 'IPv4', port });
  const got = messages(r, 3);
  assert.deepEqual(await sendCb(s, 'one'), [null, 3]);
  assert.deepEqual(await sendCb(s, Buffer.from('xtwox'), 1, 3), [null, 3]);
  s.send(['thr', 'ee']);
  assert.deepEqual(
    (await got).map(([x]) => x),
    ['one', 'two', 'three'],
  );
  assert.equal(thrown(() => s.send('xy', 0, 1, port, '127.0.0.1')).code, 'ERR_SOCKET_DGRAM_IS_CONNECTED');
  s.disconnect();
  assert.equal(thrown(() => s.disconnect()).code, 'ERR_SOCKET_DGRAM_NOT_CONNECTED');
  assert.equal(thrown(() => s.remoteAddress()).code, 'ERR_SOCKET_DGRAM_NOT_CONNECTED');
  assert.equal(thrown(() => s.send('y')).message, 'Port should be > 0 and < 65536. Received undefined.');
  assert.equal(thrown(() => s.connect(0)).code, 'ERR_SOCKET_BAD_PORT');
  // Linux's udp_disconnect unhashes a port that bind(0) chose: address() says port 0, and
  // connecting again picks a new one (as Node over the kernel shows).
  assert.deepEqual(s.address(), { address: '0.0.0.0', family: 'IPv4', port: 0 });
  s.connect(port);
  await next(s, 'connect');
  assert.ok(s.address().port > 0);
  assert.equal(s.remoteAddress().port, port);
});

test('dgram: connect to a hostname that does not resolve: the callback gets the error; connect errors', async (t) => {
  const s = make(t, {
    type: 'udp4',
    lookup: (h, _f, cb) =>
      h === 'x.invalid' ? process.nextTick(cb, Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }), '', 4) : process.nextTick(cb, null, h, 4),
  });
  const [e] = await bounded(new Promise<unknown[]>((resolve) => s.connect(9, 'x.invalid', (...a: unknown[]) => resolve(a))), 'connect callback');
  assert.equal((e as any).code, 'ENOTFOUND');
  assert.equal(thrown(() => s.remoteAddress()).code, 'ERR_SOCKET_DGRAM_NOT_CONNECTED');
  // Without a callback: 'error'.
  const u = make(t, 'udp6');
  u.connect(9, '127.0.0.1');
  const [e2] = await next(u, 'error');
  assert.deepEqual([e2.code, e2.syscall, e2.message], ['EINVAL', 'connect', 'connect EINVAL 127.0.0.1:9']);
});

test('dgram: a connected socket told port unreachable reports ECONNREFUSED (recvmsg error event, or the next send)', async (t) => {
  const closed = await bound(t);
  const port = closed.address().port;
  closed.close();
  const s = make(t);
  s.connect(port, '127.0.0.1');
  await next(s, 'connect');
  let done = false;
  const seen = new Promise<any>((resolve) => {
    s.once('error', resolve);
    s.send('x', () => setTimeout(() => done || s.send('y', (e) => e && resolve(e)), 100));
  });
  const e = await bounded(seen, 'ECONNREFUSED');
  done = true;
  assert.equal(e.code, 'ECONNREFUSED');
  assert.ok(e.syscall === 'recvmsg' || e.syscall === 'send', e.syscall);
});

// ---------------------------------------------------------------------------------------
// close

test("dgram: close — 'close' on the next tick, listeners then the callback; ERR_SOCKET_DGRAM_NOT_RUNNING after", async (t) => {
  const s = await bound(t);
  const log: string[] = [];
  s.on('close', () => log.push('listener'));
  assert.equal(
    s.close(() => log.push('cb')),
    s,
  );
  log.push('sync');
  await next(s, 'close').catch(() => undefined);
  await tick();
  assert.deepEqual(log, ['sync', 'listener', 'cb']);
  for (const f of [() => s.address(), () => s.send('x', 9, '127.0.0.1'), () => s.bind(0), () => s.close(), () => s.remoteAddress(), () => s.addMembership('239.1.1.1'), () => s.setMulticastInterface('127.0.0.1')]) {
    const e = thrown(f);
    assert.deepEqual([e.code, e.message, String(e)], ['ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running', 'Error [ERR_SOCKET_DGRAM_NOT_RUNNING]: Not running']);
  }
  // What Node's null handle gives:
  assert.equal(thrown(() => s.setTTL(1)).message, "Cannot read properties of null (reading 'setTTL')");
  assert.equal(thrown(() => s.getRecvBufferSize()).message, "Cannot read properties of null (reading 'bufferSize')");
  assert.equal(s.ref(), s);
  // connect() on a closed bound socket gets past the checks to the null handle, as Node's does.
  assert.equal(thrown(() => s.connect(9)).message, "Cannot read properties of null (reading 'lookup')");
  // Never bound: close still emits.
  const n = dgram.createSocket('udp4');
  n.close();
  await next(n, 'close');
  // Closed while binding: the close waits for the bind, then 'listening' and 'close'.
  const b = dgram.createSocket('udp4');
  const bl: string[] = [];
  b.on('listening', () => bl.push('listening'));
  b.send('x', 9, '127.0.0.1', () => bl.push('sent'));
  b.close(() => bl.push('close'));
  await next(b, 'close');
  assert.deepEqual(bl, ['listening', 'close']);
});

test('dgram: a datagram arriving for a socket closed inside a message handler is not delivered after close', async (t) => {
  const r = await bound(t);
  const s = await bound(t);
  let count = 0;
  r.on('message', () => {
    count++;
    r.close();
  });
  for (let i = 0; i < 5; i++) s.send('x', r.address().port, '127.0.0.1');
  await next(r, 'close');
  await sleep(30);
  assert.equal(count, 1);
});

// ---------------------------------------------------------------------------------------
// options

test('dgram: option setters before bind are EBADF; their ranges and return values after', async (t) => {
  const u = make(t);
  for (const [name, f] of [
    ['setBroadcast', () => u.setBroadcast(true)],
    ['setTTL', () => u.setTTL(5)],
    ['setMulticastTTL', () => u.setMulticastTTL(5)],
    ['setMulticastLoopback', () => u.setMulticastLoopback(true)],
    ['setMulticastInterface', () => u.setMulticastInterface('127.0.0.1')],
  ] as const) {
    assert.deepEqual(fields(thrown(f)), { code: 'EBADF', errno: -9, syscall: name, address: undefined, port: undefined, message: `${name} EBADF` });
  }
  assert.deepEqual([u.getSendQueueSize(), u.getSendQueueCount()], [0, 0]);
  const s = await bound(t);
  assert.deepEqual([s.setBroadcast(true), s.setTTL(64), s.setMulticastTTL(0), s.setMulticastLoopback(false), s.setMulticastLoopback(true)], [undefined, 64, 0, false, true]);
  assert.equal(thrown(() => s.setTTL(0)).message, 'setTTL EINVAL');
  assert.equal(thrown(() => s.setTTL(256)).message, 'setTTL EINVAL');
  assert.equal(thrown(() => s.setMulticastTTL(256)).message, 'setMulticastTTL EINVAL');
  assert.equal(thrown(() => s.setTTL('a' as never)).message, `The "ttl" argument must be of type number. Received type string ('a')`);
  assert.equal(thrown(() => s.setMulticastInterface('foo')).message, 'setMulticastInterface EINVAL');
  assert.equal(thrown(() => s.setMulticastInterface('1.2.3.4')).message, 'setMulticastInterface EADDRNOTAVAIL');
  assert.equal(thrown(() => s.setMulticastInterface(5 as never)).code, 'ERR_INVALID_ARG_TYPE');
  s.setMulticastInterface('127.0.0.1');
});

test('dgram: buffer sizes — SystemError EBADF before bind, set N get 2N, options applied at bind, bad sizes', async (t) => {
  const u = make(t);
  const e = thrown(() => u.getRecvBufferSize());
  assert.equal(e.name, 'SystemError');
  assert.equal(e.code, 'ERR_SOCKET_BUFFER_SIZE');
  assert.equal(e.message, 'Could not get or set buffer size: uv_recv_buffer_size returned EBADF (bad file descriptor)');
  assert.deepEqual([e.errno, e.syscall, e.info], [-9, 'uv_recv_buffer_size', { errno: -9, code: 'EBADF', message: 'bad file descriptor', syscall: 'uv_recv_buffer_size' }]);
  assert.deepEqual(Object.keys(e), ['code', 'info', 'errno', 'syscall']);
  assert.equal(String(e), 'SystemError [ERR_SOCKET_BUFFER_SIZE]: Could not get or set buffer size: uv_recv_buffer_size returned EBADF (bad file descriptor)');
  assert.equal(thrown(() => u.setSendBufferSize(4096)).info.syscall, 'uv_send_buffer_size');
  const s = await bound(t);
  assert.equal(s.getRecvBufferSize(), 212992);
  s.setRecvBufferSize(10000);
  s.setSendBufferSize(5000);
  assert.deepEqual([s.getRecvBufferSize(), s.getSendBufferSize()], [20000, 10000]);
  for (const bad of [-1, 1.5, 2 ** 32]) assert.equal(thrown(() => s.setRecvBufferSize(bad)).code, 'ERR_SOCKET_BAD_BUFFER_SIZE');
  assert.equal(thrown(() => s.setRecvBufferSize(2 ** 31)).info.code, 'EINVAL');
  const o = await bound(t, { type: 'udp4', recvBufferSize: 8192, sendBufferSize: 16384 });
  assert.deepEqual([o.getRecvBufferSize(), o.getSendBufferSize()], [16384, 32768]);
});

test('dgram: broadcast — EACCES without setBroadcast (127.255.255.255 on the loopback host; 255.255.255.255 with a link), sent with it', async (t) => {
  const s = await bound(t, 'udp4', '0.0.0.0');
  assert.deepEqual(fields((await sendCb(s, 'all', 9, '127.255.255.255'))[0]), {
    code: 'EACCES',
    errno: -13,
    syscall: 'send',
    address: '127.255.255.255',
    port: 9,
    message: 'send EACCES 127.255.255.255:9',
  });
  // Without a callback the error is dropped, as Node drops it: no 'error' event.
  let errors = 0;
  s.on('error', () => errors++);
  s.send('all', 9, '127.255.255.255');
  await sleep(20);
  assert.equal(errors, 0);
  s.setBroadcast(true);
  assert.deepEqual(await sendCb(s, 'all', 9, '127.255.255.255'), [null, 3]);

  const h = linkHost(t);
  const r = make(t, { type: 'udp4', xlioHost: h });
  r.bind(0);
  await next(r, 'listening');
  const b = make(t, { type: 'udp4', xlioHost: h });
  assert.equal((await sendCb(b, 'all', r.address().port, '255.255.255.255'))[0]!.message, `send EACCES 255.255.255.255:${r.address().port}`);
  b.setBroadcast(true);
  assert.deepEqual(await sendCb(b, 'all', r.address().port, '255.255.255.255'), [null, 3]);
});

// ---------------------------------------------------------------------------------------
// multicast

test('KI-07 dgram: multicast — a member hears the process’s own group traffic (IP_MULTICAST_LOOP); loopback off, drop, errors', async (t) => {
  const h = linkHost(t);
  const r = make(t, { type: 'udp4', reuseAddr: true, xlioHost: h });
  r.bind(0);
  await next(r, 'listening');
  const port = r.address().port;
  r.addMembership('239.1.2.3', '198.18.0.1');
  const s = make(t, { type: 'udp4', xlioHost: h });
  s.bind(0, '198.18.0.1');
  await next(s, 'listening');
  s.setMulticastInterface('198.18.0.1');
  s.setMulticastTTL(3);
  const got = messages(r, 1);
  s.send('to the group', port, '239.1.2.3');
  assert.deepEqual((await got)[0], ['to the group', { address: '198.18.0.1', family: 'IPv4', port: s.address().port, size: 12 }]);

  // IP_MULTICAST_LOOP off: our own group datagrams no longer come back; a unicast one does.
  const seen: string[] = [];
  r.on('message', (m: Buffer) => seen.push(String(m)));
  s.setMulticastLoopback(false);
  s.send('not looped', port, '239.1.2.3');
  s.send('unicast', port, '198.18.0.1');
  await bounded((async () => { while (!seen.includes('unicast')) await sleep(5); })(), 'the unicast datagram');
  s.setMulticastLoopback(true);
  r.dropMembership('239.1.2.3', '198.18.0.1');
  s.send('after drop', port, '239.1.2.3');
  s.send('unicast 2', port, '198.18.0.1');
  await bounded((async () => { while (!seen.includes('unicast 2')) await sleep(5); })(), 'the second unicast datagram');
  assert.deepEqual(seen, ['unicast', 'unicast 2']);

  assert.equal(thrown(() => r.addMembership(undefined as never)).message, 'The "multicastAddress" argument must be specified');
  assert.equal(thrown(() => r.addMembership('1.2.3.4')).message, 'addMembership EINVAL');
  assert.equal(thrown(() => r.addMembership('foo')).message, 'addMembership EINVAL');
  assert.equal(thrown(() => r.dropMembership('239.9.9.9')).message, 'dropMembership EADDRNOTAVAIL');
  r.addMembership('239.1.2.5');
  assert.equal(thrown(() => r.addMembership('239.1.2.5')).message, 'addMembership EADDRINUSE');
  assert.equal(thrown(() => r.addMembership('ff02::1')).message, 'addMembership ENOPROTOOPT');
});

test('dgram: source-specific multicast and IPv6 groups', async (t) => {
  const h = linkHost(t);
  const r = make(t, { type: 'udp4', reuseAddr: true, xlioHost: h });
  r.bind(0);
  await next(r, 'listening');
  r.addSourceSpecificMembership('198.18.0.1', '232.1.2.3', '198.18.0.1');
  const s = make(t, { type: 'udp4', xlioHost: h });
  s.bind(0, '198.18.0.1');
  await next(s, 'listening');
  s.setMulticastInterface('198.18.0.1');
  const got = messages(r, 1);
  s.send('ssm', r.address().port, '232.1.2.3');
  assert.equal((await got)[0]![0], 'ssm');
  r.dropSourceSpecificMembership('198.18.0.1', '232.1.2.3', '198.18.0.1');
  assert.equal(thrown(() => r.addSourceSpecificMembership('198.18.0.1', '198.18.0.2')).message, 'addSourceSpecificMembership EINVAL');
  assert.equal(thrown(() => r.addSourceSpecificMembership(1 as never, '232.1.2.3')).message, 'The "sourceAddress" argument must be of type string. Received type number (1)');

  const r6 = make(t, { type: 'udp6', reuseAddr: true, xlioHost: h });
  r6.bind(0);
  await next(r6, 'listening');
  r6.addMembership('ff15::1:2');
  const s6 = make(t, { type: 'udp6', xlioHost: h });
  s6.bind(0);
  await next(s6, 'listening');
  const g6 = messages(r6, 1);
  s6.send('six', r6.address().port, 'ff15::1:2');
  assert.deepEqual((await g6)[0], ['six', { address: 'fd00::1', family: 'IPv6', port: s6.address().port, size: 3 }]);
  r6.dropMembership('ff15::1:2');
});

test('dgram: addMembership on an unbound socket binds it to the wildcard (libuv’s deferred bind): bind() then fails with EINVAL', async (t) => {
  const h = linkHost(t);
  const m = make(t, { type: 'udp4', xlioHost: h });
  m.addMembership('239.1.2.3');
  assert.equal(m.address().address, '0.0.0.0');
  m.bind(0);
  assert.equal((await next(m, 'error'))[0].message, 'bind EINVAL 0.0.0.0');
  // On the loopback-only host no route leads to a group: ENODEV, as Linux says with only lo.
  const l = make(t);
  assert.equal(thrown(() => l.addMembership('239.1.2.3')).message, 'addMembership ENODEV');
});

// ---------------------------------------------------------------------------------------
// lifetime

function child(script: string, ms = 5_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const mod = new URL('../../src/node/dgram.js', import.meta.url).href;
  const p = spawn(process.execPath, ['--input-type=module', '-e', `import * as dgram from ${JSON.stringify(mod)};\n${script}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => p.kill('SIGKILL'), ms);
  return new Promise((resolve) =>
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const ALIVE = `setTimeout(() => { console.log('alive'); process.exit(0); }, 300).unref();`;

test('dgram: ref/unref — a bound socket keeps the process alive, unref() lets it end, ref() (even later) holds it again', { timeout: 20_000 }, async () => {
  const [held, free, reref, unbound, sendOnly] = await Promise.all([
    child(`const s = dgram.createSocket('udp4'); s.bind(0, '127.0.0.1', () => { ${ALIVE} });`),
    child(`const s = dgram.createSocket('udp4'); s.bind(0, '127.0.0.1', () => { s.unref(); console.log('bound'); });`),
    child(`const s = dgram.createSocket('udp4'); s.bind(0, '127.0.0.1', () => { s.unref(); setTimeout(() => { s.ref(); ${ALIVE} }, 100); });`),
    child(`const s = dgram.createSocket('udp4'); console.log('made');`),
    child(
      `const a = dgram.createSocket('udp4'); const b = dgram.createSocket('udp4');
       b.on('message', (m, r) => { console.log('got:' + m + ':' + r.size); a.close(); b.close(); });
       b.bind(0, '127.0.0.1', () => a.send('hi', b.address().port, '127.0.0.1'));`,
    ),
  ]);
  assert.deepEqual([held.code, held.stdout, held.stderr], [0, 'alive\n', '']);
  assert.deepEqual([free.code, free.stdout, free.stderr], [0, 'bound\n', '']);
  assert.deepEqual([reref.code, reref.stdout, reref.stderr], [0, 'alive\n', '']);
  assert.deepEqual([unbound.code, unbound.stdout, unbound.stderr], [0, 'made\n', '']);
  assert.deepEqual([sendOnly.code, sendOnly.stdout, sendOnly.stderr], [0, 'got:hi:2\n', '']);
});

test('dgram: AbortSignal — abort() closes a bound socket; an aborted signal closes it at once', async (t) => {
  const ac = new AbortController();
  const s = make(t, { type: 'udp4', signal: ac.signal });
  s.bind(0, '127.0.0.1');
  await next(s, 'listening');
  const log: string[] = [];
  s.on('close', () => log.push('close'));
  s.on('error', () => log.push('error'));
  ac.abort();
  await next(s, 'close').catch(() => undefined);
  await tick();
  assert.deepEqual(log, ['close']);
  assert.equal(thrown(() => s.address()).code, 'ERR_SOCKET_DGRAM_NOT_RUNNING');
  const p = dgram.createSocket({ type: 'udp4', signal: AbortSignal.abort() });
  const pl: string[] = [];
  p.on('listening', () => pl.push('listening'));
  p.on('close', () => pl.push('close'));
  await next(p, 'close').catch(() => undefined);
  await tick();
  assert.deepEqual(pl, ['close']);
  assert.equal(thrown(() => dgram.createSocket({ type: 'udp4', signal: {} as never })).code, 'ERR_INVALID_ARG_TYPE');
});

test('dgram: createSocket(type, listener) listens for messages; the module’s surface is Node’s', async (t) => {
  const got: string[] = [];
  const r = dgram.createSocket('udp4', (m) => got.push(String(m)));
  closeAfter(t, r);
  r.bind(0, '127.0.0.1');
  await next(r, 'listening');
  const s = await bound(t);
  s.send('via listener', r.address().port, '127.0.0.1');
  await next(r, 'message');
  assert.deepEqual(got, ['via listener']);
  assert.equal(dgram.default.createSocket, dgram.createSocket);
  assert.ok(r instanceof dgram.Socket);
  const nodeDgram = await import('node:dgram');
  const ours = Object.getOwnPropertyNames(dgram.Socket.prototype);
  const missing = Object.getOwnPropertyNames(nodeDgram.Socket.prototype).filter((n) => !n.startsWith('_') && !ours.includes(n));
  assert.deepEqual(missing, []);
});

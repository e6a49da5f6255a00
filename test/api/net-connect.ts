// net: establishing connections (events and their order on both sides, state flags,
// addresses) and moving data (concatenation, encodings, counters, integrity).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { behaviour, bounded, cleanup, collect, connected, listening, next, pair, record, tick } from './harness.js';

const A = 'net: connect';
const D = 'net: data';

behaviour(A, "client sees the connect callback, then 'connect', then 'ready'", async (m, t) => {
  const l = await listening(m, t);
  const log: string[] = [];
  const c = m.net.connect(l.port, '127.0.0.1', () => log.push('callback'));
  cleanup(t, c);
  record(c, ['connect', 'ready', 'error', 'close'], log);
  await next(c, 'ready');
  await tick();
  assert.deepEqual(log, ['callback', 'connect', 'ready']);
});

behaviour(A, "server sees 'connection' with a Socket of the module, the connection listener first", async (m, t) => {
  const log: string[] = [];
  const server = m.net.createServer((s) => {
    log.push(`listener:${s instanceof m.net.Socket}`);
  });
  cleanup(t, server);
  server.on('connection', (s) => {
    log.push('connection');
    t.after(() => s.destroy());
  });
  server.listen(0, '127.0.0.1');
  await next(server, 'listening');
  const c = m.net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  cleanup(t, c);
  await next(server, 'connection');
  await tick();
  assert.deepEqual(log, ['listener:true', 'connection']);
});

behaviour(A, 'connect() returns the socket; createConnection is connect; new Socket().connect() works too', async (m, t) => {
  const l = await listening(m, t);
  const a = m.net.connect({ port: l.port, host: '127.0.0.1' });
  const b = m.net.createConnection({ port: l.port, host: '127.0.0.1' });
  const s = new m.net.Socket();
  const r = s.connect(l.port, '127.0.0.1');
  cleanup(t, a, b, s);
  assert.equal(r, s);
  assert.ok(a instanceof m.net.Socket);
  assert.ok(b instanceof m.net.Socket);
  assert.equal(m.net.createConnection, m.net.connect);
  await Promise.all([next(a, 'connect'), next(b, 'connect'), next(s, 'connect')]);
});

behaviour(A, 'connecting/pending/readyState across connect', async (m, t) => {
  const l = await listening(m, t);
  const c = new m.net.Socket();
  cleanup(t, c);
  const before = [c.connecting, c.pending, c.readyState];
  c.connect(l.port, '127.0.0.1');
  const during = [c.connecting, c.pending, c.readyState];
  await next(c, 'connect');
  const after = [c.connecting, c.pending, c.readyState];
  assert.deepEqual(before, [false, true, 'open']);
  assert.deepEqual(during, [true, true, 'opening']);
  assert.deepEqual(after, [false, false, 'open']);
});

behaviour(A, 'readyState goes writeOnly after the peer ends, readOnly after our end, closed after destroy', async (m, t) => {
  const { c, s } = await pair(m, t, { allowHalfOpen: true }, { allowHalfOpen: true });
  s.end();
  await next(c, 'end');
  const afterPeerEnd = c.readyState;
  c.end();
  await next(c, 'finish');
  const afterBoth = c.readyState;
  const { c: c2 } = await pair(m, t, { allowHalfOpen: true }, { allowHalfOpen: true });
  c2.end();
  await next(c2, 'finish');
  const afterOwnEnd = c2.readyState;
  c2.destroy();
  assert.deepEqual([afterPeerEnd, afterOwnEnd, afterBoth, c2.readyState], ['writeOnly', 'readOnly', 'closed', 'closed']);
});

behaviour(A, 'an unconnected Socket: no addresses, address() is {}, timeout undefined', async (m) => {
  const s = new m.net.Socket();
  assert.deepEqual(
    [s.remoteAddress, s.remotePort, s.remoteFamily, s.localAddress, s.localPort, s.timeout, s.destroyed, s.bytesRead, s.bytesWritten],
    [undefined, undefined, undefined, undefined, undefined, undefined, false, 0, 0],
  );
  assert.deepEqual(s.address(), {});
  s.destroy();
});

behaviour(A, 'client remote/local address, port and family (IPv4)', async (m, t) => {
  const l = await listening(m, t);
  const [c, s] = await connected(m, t, l);
  assert.deepEqual(
    { ra: c.remoteAddress, rp: c.remotePort, rf: c.remoteFamily, la: c.localAddress, lf: c.localFamily },
    { ra: '127.0.0.1', rp: l.port, rf: 'IPv4', la: '127.0.0.1', lf: 'IPv4' },
  );
  assert.equal(typeof c.localPort, 'number');
  assert.deepEqual(c.address(), { address: '127.0.0.1', family: 'IPv4', port: c.localPort });
  assert.equal(s.remotePort, c.localPort);
});

behaviour(A, 'accepted socket remote/local address, port and family (IPv4)', async (m, t) => {
  const l = await listening(m, t);
  const [c, s] = await connected(m, t, l);
  assert.deepEqual(
    { ra: s.remoteAddress, rp: s.remotePort, rf: s.remoteFamily, la: s.localAddress, lp: s.localPort, lf: s.localFamily },
    { ra: '127.0.0.1', rp: c.localPort, rf: 'IPv4', la: '127.0.0.1', lp: l.port, lf: 'IPv4' },
  );
  assert.deepEqual(s.address(), { address: '127.0.0.1', family: 'IPv4', port: l.port });
});

behaviour(A, "accepted socket: server property, not connecting, readyState 'open', bytes 0", async (m, t) => {
  const l = await listening(m, t);
  const [, s] = await connected(m, t, l);
  assert.deepEqual([(s as any).server === l.server, s.connecting, s.pending, s.readyState, s.bytesRead, s.bytesWritten], [true, false, false, 'open', 0, 0]);
});

behaviour(A, "connect by name: 'lookup' (err, address, family, host) with family 4, then 'connect'", async (m, t) => {
  const l = await listening(m, t);
  const log: string[] = [];
  const c = m.net.connect({ port: l.port, host: 'localhost', family: 4 });
  cleanup(t, c);
  c.on('lookup', (err, address, family, host) => log.push(`lookup:${err}:${address}:${family}:${host}`));
  c.on('connect', () => log.push('connect'));
  await next(c, 'connect');
  assert.deepEqual(log, ['lookup:null:127.0.0.1:4:localhost', 'connect']);
  assert.equal(c.remoteAddress, '127.0.0.1');
});

behaviour(A, 'connect with a custom lookup function: called with the host, its answer is used', async (m, t) => {
  const l = await listening(m, t);
  const asked: string[] = [];
  const c = m.net.connect({
    port: l.port,
    host: 'parity.invalid',
    family: 4,
    lookup: ((host: string, _opts: unknown, cb: (e: null, a: string, f: number) => void) => {
      asked.push(host);
      setImmediate(() => cb(null, '127.0.0.1', 4));
    }) as any,
  });
  cleanup(t, c);
  const looked = next(c, 'lookup');
  const connectedP = next(c, 'connect');
  const [err, address, family, host] = await looked;
  await connectedP;
  assert.deepEqual([asked, err, address, family, host, c.remoteAddress], [['parity.invalid'], null, '127.0.0.1', 4, 'parity.invalid', '127.0.0.1']);
});

behaviour(A, 'connect with localAddress binds the client to it', async (m, t) => {
  const l = await listening(m, t);
  const [c, s] = await connected(m, t, l, { localAddress: '127.0.0.1' });
  assert.equal(c.localAddress, '127.0.0.1');
  assert.equal(s.remoteAddress, '127.0.0.1');
});

behaviour(A, 'connect with an explicit localPort uses that port', async (m, t) => {
  const l = await listening(m, t);
  const probe = await listening(m, t);
  const wanted = probe.port;
  await new Promise<void>((resolve) => probe.server.close(() => resolve()));
  const [c, s] = await connected(m, t, l, { localAddress: '127.0.0.1', localPort: wanted });
  assert.deepEqual([c.localPort, s.remotePort], [wanted, wanted]);
});

behaviour(A, 'the client is a Duplex; setNoDelay/setKeepAlive/ref/unref/setTimeout return this', async (m, t) => {
  const { c } = await pair(m, t);
  assert.ok(c instanceof Duplex);
  assert.equal(c.setNoDelay(true), c);
  assert.equal(c.setNoDelay(false), c);
  assert.equal(c.setNoDelay(), c);
  assert.equal(c.setKeepAlive(true, 1000), c);
  assert.equal(c.setKeepAlive(false), c);
  assert.equal(c.ref(), c);
  assert.equal(c.unref(), c);
  assert.equal(c.ref(), c);
  assert.equal(c.setTimeout(0), c);
});

behaviour(A, 'setNoDelay/setKeepAlive before connect return this, and the socket still connects', async (m, t) => {
  const l = await listening(m, t);
  const c = new m.net.Socket();
  cleanup(t, c);
  assert.equal(c.setNoDelay(true), c);
  assert.equal(c.setKeepAlive(true, 500), c);
  c.connect(l.port, '127.0.0.1');
  await next(c, 'connect');
});

behaviour(A, 'connect options noDelay and keepAlive are accepted', async (m, t) => {
  const l = await listening(m, t);
  const [c] = await connected(m, t, l, { noDelay: true, keepAlive: true, keepAliveInitialDelay: 1000 });
  assert.equal(c.readyState, 'open');
});

behaviour(A, 'many clients connect to one server; each gets its own accepted socket and echo', async (m, t) => {
  const l = await listening(m, t);
  l.server.on('connection', (s) => s.pipe(s));
  const clients = Array.from({ length: 8 }, (_, i) => {
    const c = m.net.connect(l.port, '127.0.0.1');
    cleanup(t, c);
    c.end(`client-${i}`);
    return collect(c).then(String);
  });
  assert.deepEqual(await Promise.all(clients), Array.from({ length: 8 }, (_, i) => `client-${i}`));
  assert.equal(l.accepted.length, 8);
});

// ---------------------------------------------------------------- data

behaviour(D, "writes arrive in order; 'data' chunks concatenate to what was written", async (m, t) => {
  const { c, s } = await pair(m, t);
  const got = collect(s);
  c.write('hello ');
  c.write(Buffer.from('world'));
  c.write(new Uint8Array([0x21]));
  c.end();
  assert.equal(String(await got), 'hello world!');
});

behaviour(D, "without an encoding 'data' delivers Buffers", async (m, t) => {
  const { c, s } = await pair(m, t);
  c.write('abc');
  const [chunk] = await next(s, 'data');
  assert.ok(Buffer.isBuffer(chunk));
});

behaviour(D, "setEncoding('utf8') delivers strings and decodes a character split across writes", async (m, t) => {
  const { c, s } = await pair(m, t);
  assert.equal(s.setEncoding('utf8'), s);
  const euro = Buffer.from('€', 'utf8'); // 3 bytes
  const chunks: unknown[] = [];
  s.on('data', (d) => chunks.push(d));
  const ended = next(s, 'end');
  c.write(euro.subarray(0, 1));
  await tick();
  c.write(euro.subarray(1));
  c.end('!');
  await ended;
  assert.ok(chunks.every((x) => typeof x === 'string'));
  assert.equal(chunks.join(''), '€!');
});

behaviour(D, "setEncoding('hex') and write(string, 'latin1')", async (m, t) => {
  const { c, s } = await pair(m, t);
  s.setEncoding('hex');
  const got = collect(s);
  c.write('\u00ff\u0001', 'latin1');
  c.end();
  assert.equal(String(await got), 'ff01');
});

behaviour(D, 'write callbacks run in order, with no error', async (m, t) => {
  const { c } = await pair(m, t);
  const log: string[] = [];
  await new Promise<void>((resolve) => {
    c.write('a', (e) => log.push(`1:${e ?? null}`));
    c.write('b', (e) => log.push(`2:${e ?? null}`));
    c.write('c', (e) => {
      log.push(`3:${e ?? null}`);
      resolve();
    });
  });
  assert.deepEqual(log, ['1:null', '2:null', '3:null']);
});

behaviour(D, 'small writes return true', async (m, t) => {
  const { c } = await pair(m, t);
  assert.deepEqual([c.write('x'), c.write(Buffer.alloc(100)), c.write('y', 'utf8')], [true, true, true]);
});

behaviour(D, 'writes before the connection is established are buffered and delivered', async (m, t) => {
  const l = await listening(m, t);
  const c = m.net.connect(l.port, '127.0.0.1');
  cleanup(t, c);
  assert.equal(c.connecting, true);
  c.write('early ');
  c.end('bird');
  const s = await l.nextConnection();
  assert.equal(String(await collect(s)), 'early bird');
});

behaviour(D, "the server's first write (inside 'connection') reaches the client", async (m, t) => {
  const l = await listening(m, t);
  l.server.on('connection', (s) => s.end('greeting'));
  const c = m.net.connect(l.port, '127.0.0.1');
  cleanup(t, c);
  assert.equal(String(await collect(c)), 'greeting');
});

behaviour(D, 'bytesWritten and bytesRead count payload bytes on both ends', async (m, t) => {
  const { c, s } = await pair(m, t);
  const got = collect(s);
  c.write('12345');
  c.write(Buffer.alloc(1000, 1));
  c.end('€'); // 3 bytes
  await got;
  await next(c, 'close').catch(() => {});
  assert.deepEqual([c.bytesWritten, s.bytesRead], [1008, 1008]);
});

behaviour(D, 'pipe() echo round trip', async (m, t) => {
  const l = await listening(m, t);
  l.server.on('connection', (s) => s.pipe(s));
  const c = m.net.connect(l.port, '127.0.0.1');
  cleanup(t, c);
  const got = collect(c);
  c.end('ping-pong');
  assert.equal(String(await got), 'ping-pong');
});

behaviour(D, 'a 4 MiB transfer arrives intact (sha256) in both directions', async (m, t) => {
  const l = await listening(m, t);
  l.server.on('connection', (s) => s.pipe(s));
  const payload = randomBytes(4 << 20);
  const c = m.net.connect(l.port, '127.0.0.1');
  cleanup(t, c);
  const got = collect(c, 5_000);
  c.end(payload);
  const back = await got;
  assert.equal(back.length, payload.length);
  assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(payload).digest('hex'));
});

behaviour(D, "paused mode: 'readable' and read() return the bytes", async (m, t) => {
  const { c, s } = await pair(m, t);
  c.end('readable-data');
  const parts: Buffer[] = [];
  await bounded(
    new Promise<void>((resolve) => {
      s.on('readable', () => {
        let chunk: Buffer | null;
        while ((chunk = s.read() as Buffer | null) !== null) parts.push(chunk);
      });
      s.on('end', resolve);
    }),
    "'end'",
  );
  assert.equal(Buffer.concat(parts).toString(), 'readable-data');
});

behaviour(D, 'async iteration yields the data and finishes at the end', async (m, t) => {
  const { c, s } = await pair(m, t);
  c.end('iterated');
  const parts: Buffer[] = [];
  await bounded(
    (async () => {
      for await (const chunk of s) parts.push(chunk as Buffer);
    })(),
    'the iteration to end',
  );
  assert.equal(Buffer.concat(parts).toString(), 'iterated');
});

behaviour(D, 'pause() stops data until resume(); isPaused() follows', async (m, t) => {
  const { c, s } = await pair(m, t);
  const seen: string[] = [];
  s.on('data', (d) => seen.push(String(d)));
  s.pause();
  assert.equal(s.isPaused(), true);
  c.write('held');
  await new Promise((r) => setTimeout(r, 100));
  const whilePaused = seen.length;
  s.resume();
  assert.equal(s.isPaused(), false);
  await next(s, 'data');
  assert.deepEqual([whilePaused, seen.join('')], [0, 'held']);
});

behaviour(D, 'cork()/uncork(): corked writes are all delivered in order', async (m, t) => {
  const { c, s } = await pair(m, t);
  const got = collect(s);
  c.cork();
  c.write('a');
  c.write('b');
  c.write('c');
  const lengthWhileCorked = c.writableLength;
  c.uncork();
  c.end();
  assert.deepEqual([lengthWhileCorked, String(await got)], [3, 'abc']);
});

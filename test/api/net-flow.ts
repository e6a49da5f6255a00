// net: backpressure ('drain', write() return values, writableLength) and timeouts/options.

import assert from 'node:assert/strict';
import { getDefaultHighWaterMark } from 'node:stream';
import { behaviour, cleanup, collect, listening, next, pair, record, sleep, tick } from './harness.js';

const B = 'net: backpressure';
const T = 'net: timeouts and options';

behaviour(B, "writableHighWaterMark is the stream default; readableHighWaterMark too", async (m, t) => {
  const { c, s } = await pair(m, t);
  const hwm = getDefaultHighWaterMark(false);
  assert.deepEqual([c.writableHighWaterMark, s.writableHighWaterMark, c.readableHighWaterMark], [hwm, hwm, hwm]);
});

behaviour(B, "write() below highWaterMark returns true; a 64 KiB write the kernel takes at once returns true too, with writableLength 0", async (m, t) => {
  const { c, s } = await pair(m, t);
  let got = 0;
  s.on('data', (d: Buffer) => (got += d.length));
  const small = c.write(Buffer.alloc(c.writableHighWaterMark - 1));
  await new Promise((r) => setTimeout(r, 20));
  const big = c.write(Buffer.alloc(64 * 1024));
  const lengthAfter = c.writableLength;
  const needDrain = c.writableNeedDrain;
  c.end();
  await next(s, 'end');
  assert.deepEqual([small, big, lengthAfter, needDrain, got], [true, true, 0, false, c.writableHighWaterMark - 1 + 64 * 1024]);
});

behaviour(B, "no 'drain' when write() returned true", async (m, t) => {
  const { c, s } = await pair(m, t);
  let drains = 0;
  c.on('drain', () => drains++);
  const r = c.write('small');
  await next(s, 'data');
  await sleep(30);
  assert.deepEqual([r, drains], [true, 0]);
});

behaviour(B, "a peer that does not read: writes pile up in writableLength; resuming drains everything with one 'drain'", async (m, t) => {
  const { c, s } = await pair(m, t);
  s.pause();
  const chunk = Buffer.alloc(64 * 1024, 7);
  const total = 16 * 1024 * 1024;
  let firstFalse = -1;
  for (let i = 0; i < total / chunk.length; i++) {
    const ok = c.write(chunk);
    if (!ok && firstFalse < 0) firstFalse = i;
  }
  let drains = 0;
  c.on('drain', () => drains++);
  await sleep(150);
  const pending = c.writableLength;
  assert.ok(firstFalse > 0, `the first write the kernel could not take whole returned false (at chunk ${firstFalse})`);
  assert.ok(pending > 0, `writableLength ${pending} should stay above 0 while the peer does not read`);
  assert.equal(c.writableNeedDrain, true);
  let got = 0;
  s.on('data', (d: Buffer) => (got += d.length));
  s.resume();
  await next(c, 'drain', 5_000);
  c.end();
  await next(s, 'end', 5_000);
  await tick();
  assert.deepEqual([got, drains, c.writableLength, c.writableNeedDrain, c.bytesWritten], [total, 1, 0, false, total]);
});

behaviour(B, "with a peer that does not read, write() returns false until 'drain', then true again", async (m, t) => {
  const { c, s } = await pair(m, t, { pauseOnConnect: true });
  const chunk = Buffer.alloc(64 * 1024);
  let writes = 0;
  while (c.write(chunk)) {
    if (++writes > 4096) assert.fail('write() never returned false');
    if (writes % 16 === 0) await new Promise((r) => setImmediate(r));
  }
  const again = c.write('x');
  s.resume();
  await next(c, 'drain', 5_000);
  const after = c.write('y');
  assert.deepEqual([again, after], [false, true]);
});

behaviour(B, 'writableLength counts queued bytes before the connection is established', async (m, t) => {
  const l = await listening(m, t);
  const c = m.net.connect(l.port, '127.0.0.1');
  cleanup(t, c);
  c.write('12345');
  c.write(Buffer.alloc(10));
  const queued = c.writableLength;
  await next(c, 'connect');
  assert.equal(queued, 15);
});

behaviour(B, 'pipe() between sockets respects backpressure and delivers every byte', async (m, t) => {
  // client A -> server pipes into client B's server socket -> B collects
  const l = await listening(m, t);
  const [a, sa] = await (async () => {
    const p = l.nextConnection();
    const c = m.net.connect(l.port, '127.0.0.1');
    cleanup(t, c);
    await next(c, 'connect');
    return [c, await p] as const;
  })();
  const p2 = l.nextConnection();
  const b = m.net.connect(l.port, '127.0.0.1');
  cleanup(t, b);
  await next(b, 'connect');
  const sb = await p2;
  sa.pipe(sb);
  const got = collect(b, 5_000);
  const payload = Buffer.alloc(3 * 1024 * 1024, 0x5a);
  a.end(payload);
  const out = await got;
  assert.equal(out.length, payload.length);
  assert.ok(out.equals(payload));
});

// ---------------------------------------------------------------- timeouts and options

behaviour(T, "setTimeout(ms): one 'timeout' on an idle socket, which stays open", async (m, t) => {
  const { c } = await pair(m, t);
  const log = record(c, ['timeout', 'end', 'close', 'error']);
  c.setTimeout(80);
  assert.equal(c.timeout, 80);
  await next(c, 'timeout');
  await sleep(50);
  assert.deepEqual([log, c.destroyed, c.readyState], [['timeout'], false, 'open']);
});

behaviour(T, "setTimeout(ms, cb): cb is a 'timeout' listener", async (m, t) => {
  const { c } = await pair(m, t);
  const log: string[] = [];
  c.setTimeout(50, () => log.push('cb'));
  c.on('timeout', () => log.push('event'));
  await next(c, 'timeout');
  await tick();
  assert.deepEqual(log, ['cb', 'event']);
});

behaviour(T, "setTimeout(0) disarms the timer: no 'timeout'", async (m, t) => {
  const { c } = await pair(m, t);
  let fired = 0;
  c.on('timeout', () => fired++);
  c.setTimeout(60);
  c.setTimeout(0);
  await sleep(200);
  assert.deepEqual([fired, c.timeout], [0, 0]);
});

behaviour(T, "connect({ timeout }) arms the idle timer", async (m, t) => {
  const l = await listening(m, t);
  const c = m.net.connect({ port: l.port, host: '127.0.0.1', timeout: 60 });
  cleanup(t, c);
  const log = record(c, ['connect', 'timeout']);
  await next(c, 'timeout');
  assert.deepEqual([log, c.timeout], [['connect', 'timeout'], 60]);
});

behaviour(T, "'timeout' does not fire after destroy()", async (m, t) => {
  const { c } = await pair(m, t);
  let fired = 0;
  c.on('timeout', () => fired++);
  c.setTimeout(50);
  c.destroy();
  await sleep(150);
  assert.equal(fired, 0);
});

behaviour(T, "the accepted socket's idle timer fires on the server side too", async (m, t) => {
  const { s } = await pair(m, t);
  s.setTimeout(50);
  await next(s, 'timeout');
  assert.equal(s.destroyed, false);
});

behaviour(T, 'setTimeout with a non-number throws ERR_INVALID_ARG_TYPE', async (m, t) => {
  const { c } = await pair(m, t);
  let e: any;
  try {
    c.setTimeout('100' as any);
  } catch (x) {
    e = x;
  }
  assert.equal(e?.code, 'ERR_INVALID_ARG_TYPE');
});

behaviour(T, 'allowHalfOpen is a property of client and server sockets', async (m, t) => {
  const { c, s } = await pair(m, t, { allowHalfOpen: true }, {});
  const c2 = new m.net.Socket({ allowHalfOpen: true });
  assert.deepEqual([c.allowHalfOpen, s.allowHalfOpen, c2.allowHalfOpen], [false, true, true]);
  c2.destroy();
});

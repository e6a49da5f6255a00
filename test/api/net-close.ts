// net: closing — clean close from either side ('end'/'finish'/'close' order), half-close with
// and without allowHalfOpen, end() vs destroy(), destroy(err), resetAndDestroy().

import assert from 'node:assert/strict';
import { behaviour, bounded, collect, next, pair, record, tick, type BehaviourFn } from './harness.js';

const C = 'net: close';

const EVENTS = ['end', 'finish', 'close', 'error'] as const;

/** Waits for 'close' on both. */
async function bothClosed(...s: NodeJS.EventEmitter[]): Promise<void> {
  await Promise.all(s.map((x) => next(x, 'close', 2_500).catch(() => undefined)));
  await tick();
}

behaviour_(`client end(): client 'finish','end','close:false'; server 'end','finish','close:false'`, async (m, t) => {
  const { c, s } = await pair(m, t);
  const cl = record(c, EVENTS);
  const sl = record(s, EVENTS);
  const closed = bothClosed(c, s);
  c.end();
  await closed;
  assert.deepEqual({ client: cl, server: sl }, { client: ['finish', 'end', 'close:false'], server: ['end', 'finish', 'close:false'] });
});

behaviour_(`server end(): server 'finish','end','close:false'; client 'end','finish','close:false'`, async (m, t) => {
  const { c, s } = await pair(m, t);
  const cl = record(c, EVENTS);
  const sl = record(s, EVENTS);
  const closed = bothClosed(c, s);
  s.end();
  await closed;
  assert.deepEqual({ client: cl, server: sl }, { client: ['end', 'finish', 'close:false'], server: ['finish', 'end', 'close:false'] });
});

behaviour_(`end(data, cb): the peer gets the data; the callback runs just before 'finish'`, async (m, t) => {
  const { c, s } = await pair(m, t);
  const log: string[] = [];
  const got = collect(s);
  c.on('finish', () => log.push('finish'));
  const r = c.end('last words', () => log.push('cb'));
  assert.equal(r, c);
  assert.equal(String(await got), 'last words');
  await bounded(
    (async () => {
      while (!log.includes('cb')) await tick();
    })(),
    'the end callback',
  );
  assert.deepEqual(log, ['cb', 'finish']);
});

behaviour_(`allowHalfOpen false (default): the server ends its side automatically after the client's FIN`, async (m, t) => {
  const { c, s } = await pair(m, t);
  assert.equal(s.allowHalfOpen, false);
  const waits = [next(s, 'end'), next(s, 'finish'), next(c, 'end')];
  c.end();
  await Promise.all(waits);
  assert.equal(s.writableEnded, true);
});

behaviour_(`allowHalfOpen true: the server keeps writing after the client's FIN, then ends`, async (m, t) => {
  const { c, s } = await pair(m, t, { allowHalfOpen: true });
  assert.equal(s.allowHalfOpen, true);
  const fromServer = collect(c);
  c.end('question');
  const q = await collect(s);
  assert.deepEqual([String(q), s.writable, s.writableEnded], ['question', true, false]);
  s.write('answer, ');
  s.end('after half-close');
  assert.equal(String(await fromServer), 'answer, after half-close');
});

behaviour_(`allowHalfOpen true on the client: it reads after its own end() and ends only when told`, async (m, t) => {
  const { c, s } = await pair(m, t, { allowHalfOpen: true }, { allowHalfOpen: true });
  s.end('from server');
  const got = await collect(c);
  assert.deepEqual([String(got), c.writable, c.readyState], ['from server', true, 'writeOnly']);
  const atServer = collect(s);
  c.end('reply after end');
  assert.equal(String(await atServer), 'reply after end');
});

behaviour_(`allowHalfOpen false: a write once the auto-end finished fails: EPIPE 'This socket has been ended by the other party', then 'close:true'`, async (m, t) => {
  const { c, s } = await pair(m, t);
  const log = record(s, EVENTS);
  let ret: boolean | undefined;
  let cbErr: any;
  s.once('finish', () => {
    ret = s.write('too late', (e) => (cbErr = e));
  });
  const closed = next(s, 'close');
  c.end();
  await closed;
  await tick();
  assert.deepEqual(log, ['end', 'finish', 'error:EPIPE', 'close:true']);
  assert.deepEqual([ret, cbErr?.code, cbErr?.message], [false, 'EPIPE', 'This socket has been ended by the other party']);
});

behaviour_(`write after end() → ERR_STREAM_WRITE_AFTER_END, on the callback and as 'error'`, async (m, t) => {
  const { c } = await pair(m, t);
  c.end();
  const log: string[] = [];
  let cbErr: any;
  c.on('error', (e: any) => log.push(`error:${e.code}`));
  const r = c.write('x', (e) => (cbErr = e));
  await next(c, 'close');
  assert.equal(r, false);
  assert.deepEqual([cbErr?.code, cbErr?.message], ['ERR_STREAM_WRITE_AFTER_END', 'write after end']);
  assert.deepEqual(log, ['error:ERR_STREAM_WRITE_AFTER_END']);
});

behaviour_(`destroy(): 'close:false' only (no 'end', no 'finish'); destroyed at once; the peer sees 'end'`, async (m, t) => {
  const { c, s } = await pair(m, t);
  const cl = record(c, EVENTS);
  const sl = record(s, EVENTS);
  const closed = bothClosed(c, s);
  const r = c.destroy();
  assert.equal(r, c);
  assert.equal(c.destroyed, true);
  await closed;
  assert.deepEqual(cl, ['close:false']);
  assert.deepEqual(sl[0], 'end');
  assert.equal(sl[sl.length - 1], 'close:false');
});

behaviour_(`destroy(err): 'error' with that error, then 'close:true'`, async (m, t) => {
  const { c } = await pair(m, t);
  const log = record(c, EVENTS);
  const e = new Error('boom');
  let got: unknown;
  c.on('error', (x) => (got = x));
  c.destroy(e);
  await next(c, 'close');
  assert.deepEqual(log, ['error:Error', 'close:true']);
  assert.equal(got, e);
  assert.equal(c.errored, e);
});

behaviour_(`destroy() twice: one 'close'`, async (m, t) => {
  const { c } = await pair(m, t);
  const log = record(c, EVENTS);
  c.destroy();
  c.destroy();
  await next(c, 'close');
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(log, ['close:false']);
});

behaviour_(`write after destroy() → ERR_STREAM_DESTROYED on the callback, no 'error'`, async (m, t) => {
  const { c } = await pair(m, t);
  const log = record(c, EVENTS);
  c.destroy();
  let cbErr: any;
  const r = c.write('x', (e) => (cbErr = e));
  await next(c, 'close').catch(() => {});
  await tick();
  assert.equal(r, false);
  assert.deepEqual([cbErr?.code, cbErr?.message], ['ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed']);
  assert.deepEqual(log, ['close:false']);
});

behaviour_(`resetAndDestroy(): the peer gets 'error' ECONNRESET (read) then 'close:true'`, async (m, t) => {
  const { c, s } = await pair(m, t);
  const sl = record(s, EVENTS);
  const errs: any[] = [];
  s.on('error', (e) => errs.push(e));
  const r = c.resetAndDestroy();
  assert.equal(r, c);
  await next(s, 'close');
  assert.deepEqual(sl, ['error:ECONNRESET', 'close:true']);
  assert.deepEqual([errs[0].code, errs[0].syscall, errs[0].errno, errs[0].message], ['ECONNRESET', 'read', -104, 'read ECONNRESET']);
});

behaviour_(`resetAndDestroy(): the resetting side closes without an error`, async (m, t) => {
  const { c } = await pair(m, t);
  const cl = record(c, EVENTS);
  c.resetAndDestroy();
  assert.equal(c.destroyed, true);
  await next(c, 'close');
  assert.deepEqual(cl, ['close:false']);
});

behaviour_(`destroy() with unread data on the server side resets the client: ECONNRESET`, async (m, t) => {
  const { c, s } = await pair(m, t, { pauseOnConnect: true });
  c.write('unread');
  await new Promise((r) => setTimeout(r, 50)); // never read: the bytes sit in the server's receive queue
  const cl = record(c, EVENTS);
  s.destroy();
  await next(c, 'close');
  assert.deepEqual(cl, ['error:ECONNRESET', 'close:true']);
});

behaviour_(`destroySoon(): ends, then destroys once written`, async (m, t) => {
  const { c, s } = await pair(m, t, { allowHalfOpen: true }, { allowHalfOpen: true });
  const cl = record(c, EVENTS);
  const got = collect(s);
  const closed = next(c, 'close');
  c.write('soon');
  c.destroySoon();
  assert.equal(String(await got), 'soon');
  await closed;
  assert.deepEqual([cl, c.destroyed], [['finish', 'close:false'], true]);
});

behaviour_(`end() before the connection is established: connects, sends the FIN, the server sees 'end'`, async (m, t) => {
  const { l } = await pair(m, t);
  const serverEnd = new Promise<void>((resolve) => l.server.once('connection', (s) => s.once('end', resolve)));
  const c = m.net.connect(l.port, '127.0.0.1');
  t.after(() => c.destroy());
  const cl = record(c, ['connect', ...EVENTS]);
  const closed = next(c, 'close');
  c.end();
  await bounded(serverEnd, "the server's 'end'");
  await closed;
  assert.deepEqual(cl, ['connect', 'finish', 'end', 'close:false']);
});

behaviour_(`'end' is not emitted on a socket destroyed before the peer's FIN`, async (m, t) => {
  const { c, s } = await pair(m, t);
  const cl = record(c, EVENTS);
  c.destroy();
  await next(c, 'close');
  s.end();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(cl, ['close:false']);
});

function behaviour_(name: string, fn: BehaviourFn): void {
  behaviour(C, name, fn);
}

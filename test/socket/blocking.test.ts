// Blocking calls in worker threads park on the link's doorbell (Atomics.wait) and honour
// SO_RCVTIMEO; on the main thread the Promise API waits without blocking the event loop.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ShmLink } from '../../src/link/shm-link.js';
import { SeededRng } from '../../src/rng.js';
import { AF_INET, SOCK_STREAM, SOCK_NONBLOCK, SOL_SOCKET, SO_RCVTIMEO } from '../../src/socket/constants.js';
import { LinkDriver } from '../../src/socket/drivers.js';
import { SocketPromises } from '../../src/socket/promises.js';
import { Sockets } from '../../src/socket/sockets.js';
import { SockAddr } from '../../src/socket/types.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4 } from '../../src/wire/address.js';
import { Errno } from '../../src/errno.js';

function runWorker(shared: unknown, side: 'a' | 'b'): Promise<{ ok: boolean; result: Record<string, unknown>; error?: string; log: string[] }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./blocking-worker.js', import.meta.url), { workerData: { shared, side } });
    const timer = setTimeout(() => {
      void w.terminate();
      reject(new Error(`worker ${side} did not finish in 20 s`));
    }, 20_000);
    w.once('message', (m) => {
      clearTimeout(timer);
      void w.terminate();
      resolve(m);
    });
    w.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

test('blocking calls in two worker threads: accept, connect, MSG_WAITALL, echo, SO_RCVTIMEO → EAGAIN, EOF', { timeout: 30_000 }, async () => {
  const shared = ShmLink.pair(1 << 20, 1500);
  const [a, b] = await Promise.all([runWorker(shared, 'a'), runWorker(shared, 'b')]);
  assert.ok(a.ok, `server: ${a.error} ${a.log.join(' ')}`);
  assert.ok(b.ok, `client: ${b.error} ${b.log.join(' ')}`);
  assert.equal(a.result['received'], 'hello');
  assert.equal(b.result['echo'], 'hello');
  assert.equal(a.result['timeoutErr'], 'EAGAIN');
  // SO_RCVTIMEO is 100 ms (Linux rounds up to a jiffy): the call waited that long, and not the 5 s of the other timeout.
  const ms = a.result['timeoutMs'] as number;
  assert.ok(ms >= 99 && ms < 4000, `recv timed out after ${ms} ms`);
  assert.equal(a.result['eof'], 0);
  assert.match(String(a.result['peer']), /^198\.18\.0\.2:\d+$/);
});

test('main thread: the Promise API waits for data without blocking the event loop, and honours SO_RCVTIMEO', { timeout: 10_000 }, async () => {
  const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), rng: new SeededRng(7), ipv6: false });
  const shared = ShmLink.pair(1 << 16, 1500);
  const link = new ShmLink(shared, 'a');
  stack.attach(link);
  stack.addAddress(ipv4('198.18.0.1'), 32);
  const driver = new LinkDriver(stack, link);
  assert.equal(driver.canBlock, false, 'the main thread never blocks');
  const api = new Sockets(stack, { driver });
  const p = new SocketPromises(api, driver);
  const l = api.socket(AF_INET, SOCK_STREAM);
  assert.equal(api.bind(l, SockAddr.inet(ipv4('198.18.0.1'), 80)), 0);
  assert.equal(api.listen(l, 4), 0);
  const c = api.socket(AF_INET, SOCK_STREAM);
  const accepted = p.accept(l);
  assert.equal(await p.connect(c, SockAddr.inet(ipv4('198.18.0.1'), 80)), 0);
  const s = await accepted;
  assert.ok(s > 0);
  // A blocking socket on the main thread: the plain call does not wait…
  const buf = new Uint8Array(3);
  assert.equal(api.recv(s, buf), -Errno.EAGAIN);
  // …the promise does, while timers keep firing.
  let ticks = 0;
  const tick = setInterval(() => ticks++, 2);
  setTimeout(() => api.send(c, Uint8Array.of(1, 2, 3)), 40);
  assert.equal(await p.recv(s, buf), 3);
  clearInterval(tick);
  assert.deepEqual([...buf], [1, 2, 3]);
  // The data came from a timer, so the loop must have run; the interval shows it kept running (no timing bound: machines are noisy).
  assert.ok(ticks >= 1, `the event loop ran while waiting (${ticks} ticks)`);
  // SO_RCVTIMEO bounds the wait.
  const tv = new Uint8Array(16);
  new DataView(tv.buffer).setBigInt64(8, 30_000n, true);
  assert.equal(api.setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, tv), 0);
  const t0 = performance.now();
  assert.equal(await p.recv(s, buf), -Errno.EAGAIN);
  assert.ok(performance.now() - t0 >= 25);
  // A non-blocking socket's promise answers at once.
  const nb = api.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
  assert.equal(await p.recv(nb, buf), -Errno.ENOTCONN);
  for (const fd of [c, s, l, nb]) assert.equal(api.close(fd), 0);
});

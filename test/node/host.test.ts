// The process host of the Node drop-ins: readiness callbacks from its epoll set, a
// loopback-only host by default, and keeping the process alive only while something is ref'd.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { ProcessHost } from '../../src/node/host.js';
import { Errno } from '../../src/errno.js';
import * as K from '../../src/socket/constants.js';
import { SockAddr } from '../../src/socket/types.js';
import { ipv4 } from '../../src/wire/address.js';

test('process host: readiness callbacks carry accept, data and hang-up on its loopback', { timeout: 10_000 }, async (t) => {
  const h = new ProcessHost();
  t.after(() => h.close());
  const { api } = h;
  const lfd = api.socket(K.AF_INET, K.SOCK_STREAM | K.SOCK_NONBLOCK, 0);
  assert.equal(api.bind(lfd, SockAddr.inet(ipv4('127.0.0.1'), 7000)), 0);
  assert.equal(api.listen(lfd, 4), 0);
  const seen: string[] = [];
  let server = -1;
  const done = new Promise<void>((resolve) => {
    h.watch(lfd, K.EPOLLIN, () => {
      server = api.accept4(lfd, null, K.SOCK_NONBLOCK);
      seen.push('accept');
      h.watch(server, K.EPOLLIN | K.EPOLLRDHUP, (ev) => {
        const buf = new Uint8Array(64);
        const n = api.recv(server, buf);
        if (n > 0) seen.push(`data:${new TextDecoder().decode(buf.subarray(0, n))}`);
        if ((ev & K.EPOLLRDHUP) !== 0) {
          seen.push('rdhup');
          resolve();
        }
      });
    });
  });
  const c = api.socket(K.AF_INET, K.SOCK_STREAM | K.SOCK_NONBLOCK, 0);
  assert.equal(api.connect(c, SockAddr.inet(ipv4('127.0.0.1'), 7000)), -Errno.EINPROGRESS);
  h.kick();
  await new Promise<void>((resolve) => h.watch(c, K.EPOLLOUT, () => resolve()));
  assert.equal(api.send(c, new TextEncoder().encode('hi')), 2);
  assert.equal(api.shutdown(c, K.SHUT_WR), 0);
  h.kick();
  await done;
  assert.deepEqual(seen, ['accept', 'data:hi', 'rdhup']);
});

test('process host: the process exits when nothing is ref’d, and stays while something is', { timeout: 20_000 }, () => {
  const mod = new URL('../../src/node/host.js', import.meta.url).href;
  const run = (body: string) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', `import { processHost } from ${JSON.stringify(mod)}; const h = processHost(); ${body}`], { encoding: 'utf8', timeout: 10_000 });
  // A watched listener but no ref: the event loop has nothing else, the process ends at once.
  const free = run(`h.watch(h.api.socket(2, 1, 0), 1, () => {}); console.log('end');`);
  assert.equal(free.status, 0, free.stderr);
  assert.equal(free.stdout, 'end\n');
  // ref'd for 300 ms, then unref'd: the process lives that long, then ends by itself.
  const t0 = Date.now();
  const held = run(`h.ref(); setTimeout(() => { h.unref(); console.log('unref'); }, 300).unref();`);
  assert.equal(held.status, 0, held.stderr);
  assert.equal(held.stdout, 'unref\n');
  assert.ok(Date.now() - t0 >= 300);
});

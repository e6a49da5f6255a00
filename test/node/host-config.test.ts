// XLIO_* variables on the process host. XLIO_MSS (XLIO's meaning: the largest TCP MSS; 0 follows the MTU):
// both ends of a loopback connection (MTU 65536: an MSS in the tens of thousands) use the cap;
// XLIO_TCP_NODELAY (and QUICKACK) are the defaults of new TCP sockets.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Errno } from '../../src/errno.js';
import { ProcessHost, processHostFromEnv, setProcessHost } from '../../src/node/host.js';
import * as K from '../../src/socket/constants.js';
import { SockAddr } from '../../src/socket/types.js';
import { ipv4 } from '../../src/wire/address.js';

async function connectedMss(): Promise<[number, number]> {
  const h = new ProcessHost();
  try {
    const { api } = h;
    const l = api.socket(K.AF_INET, K.SOCK_STREAM | K.SOCK_NONBLOCK, 0);
    assert.equal(api.bind(l, SockAddr.inet(ipv4('127.0.0.1'), 7100)), 0);
    assert.equal(api.listen(l, 4), 0);
    const c = api.socket(K.AF_INET, K.SOCK_STREAM | K.SOCK_NONBLOCK, 0);
    assert.equal(api.connect(c, SockAddr.inet(ipv4('127.0.0.1'), 7100)), -Errno.EINPROGRESS);
    let a = -1;
    for (let i = 0; i < 100 && a < 0; i++) {
      h.loop.pump();
      a = api.accept4(l, null, 0);
    }
    assert.ok(a >= 0, `accept: ${a}`);
    return [api.getsockoptInt(c, K.IPPROTO_TCP, K.TCP_MAXSEG), api.getsockoptInt(a, K.IPPROTO_TCP, K.TCP_MAXSEG)];
  } finally {
    h.close();
  }
}

test('XLIO_MSS caps the MSS both ends of a connection use; unset, the MTU decides', { timeout: 10_000 }, async () => {
  const saved = process.env['XLIO_MSS'];
  try {
    delete process.env['XLIO_MSS'];
    const [c0, a0] = await connectedMss();
    assert.ok(c0 > 30_000 && a0 > 30_000, `lo's MTU: ${c0}, ${a0}`);
    process.env['XLIO_MSS'] = '1000';
    const [c1, a1] = await connectedMss();
    // 1000 offered and used; 12 bytes of each segment go to the timestamp option.
    assert.deepEqual([c1, a1], [988, 988]);
  } finally {
    if (saved === undefined) delete process.env['XLIO_MSS'];
    else process.env['XLIO_MSS'] = saved;
  }
});

test('XLIO_TCP_NODELAY and XLIO_TCP_QUICKACK are the defaults of the process host’s new TCP sockets', { timeout: 10_000 }, async () => {
  for (const [env, want] of [
    [{}, 0],
    [{ XLIO_TCP_NODELAY: '1' }, 1],
  ] as const) {
    setProcessHost(null);
    const h = await processHostFromEnv({ ...env });
    try {
      const fd = h.api.socket(K.AF_INET, K.SOCK_STREAM, 0);
      assert.equal(h.api.getsockoptInt(fd, K.IPPROTO_TCP, K.TCP_NODELAY), want, JSON.stringify(env));
    } finally {
      setProcessHost(null);
      h.close();
    }
  }
});

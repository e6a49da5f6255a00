// XLIO_TCP_NODELAY and XLIO_TCP_QUICKACK as the runtime applies them: defaults for every new
// TCP socket of a Sockets instance (workers pass the config's values).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShmLink } from '../../src/link/shm-link.js';
import { SeededRng } from '../../src/rng.js';
import * as K from '../../src/socket/constants.js';
import { LinkDriver } from '../../src/socket/drivers.js';
import { Sockets, type SocketsOptions } from '../../src/socket/sockets.js';
import { PollFd, SockAddr } from '../../src/socket/types.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4 } from '../../src/wire/address.js';

function pair(serverOpts: SocketsOptions) {
  const shared = ShmLink.pair(1 << 20, 1500);
  const mk = (side: 'a' | 'b', opts: SocketsOptions) => {
    const me = side === 'a' ? 1 : 2;
    const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, me), rng: new SeededRng(me), ipv6: false });
    const link = new ShmLink(shared, side);
    stack.attach(link);
    stack.addAddress(ipv4(`198.18.0.${me}`), 24);
    const driver = new LinkDriver(stack, link, undefined, { canBlock: false });
    return { stack, driver, api: new Sockets(stack, { driver, ...opts }) };
  };
  return { s: mk('a', serverOpts), c: mk('b', {}) };
}

/** Connects, makes the server's side interactive (TCP_QUICKACK 0: delayed ACKs), then counts the frames it sends for one 10-byte segment. */
function framesForOneSegment(opts: SocketsOptions): { nodelay: number; acks: number } {
  const { s, c } = pair(opts);
  const pump = (done: () => boolean) => {
    for (let i = 0; !done(); i++) {
      assert.ok(i < 1000, 'exchange completes');
      c.driver.pump();
      s.driver.pump();
    }
  };
  const to = SockAddr.inet(ipv4('198.18.0.1'), 80);
  const lfd = s.api.socket(K.AF_INET, K.SOCK_STREAM | K.SOCK_NONBLOCK);
  s.api.bind(lfd, to);
  s.api.listen(lfd, 8);
  const fd = c.api.socket(K.AF_INET, K.SOCK_STREAM | K.SOCK_NONBLOCK);
  c.api.setsockoptInt(fd, K.IPPROTO_TCP, K.TCP_NODELAY, 1); // the client never waits on Nagle
  c.api.connect(fd, to);
  const pfd = [new PollFd(fd, K.POLLOUT)];
  let afd = -1;
  pump(() => c.api.poll(pfd, 1, 0) === 1 && (afd >= 0 || (afd = s.api.accept4(lfd, null, K.SOCK_NONBLOCK)) >= 0));
  const nodelay = s.api.getsockoptInt(afd, K.IPPROTO_TCP, K.TCP_NODELAY);
  // Spend the connection's initial quick ACKs, then ask for delayed ones (Linux's interactive mode).
  for (let i = 0; i < 20; i++) {
    c.api.send(fd, new Uint8Array(10), 0);
    pump(() => s.api.recv(afd, new Uint8Array(100), K.MSG_DONTWAIT) > 0);
  }
  assert.equal(s.api.setsockoptInt(afd, K.IPPROTO_TCP, K.TCP_QUICKACK, 0), 0);
  c.api.send(fd, new Uint8Array(10), 0);
  c.driver.pump();
  const before = s.stack.counters.framesOut;
  s.driver.pump(); // the segment arrives; an ACK goes out at once only without delayed ACKs
  return { nodelay, acks: s.stack.counters.framesOut - before };
}

test('XLIO_TCP_NODELAY / XLIO_TCP_QUICKACK: Sockets defaults for new TCP sockets; off by default, as Linux', () => {
  const linux = framesForOneSegment({});
  assert.equal(linux.nodelay, 0, 'TCP_NODELAY off by default');
  assert.equal(linux.acks, 0, 'a segment to an interactive connection waits for the delayed ACK');
  const xlio = framesForOneSegment({ tcpNoDelay: true, tcpQuickAck: true });
  assert.equal(xlio.nodelay, 1, 'XLIO_TCP_NODELAY=1: TCP_NODELAY set on new sockets (accepted ones inherit it from the listener)');
  assert.equal(xlio.acks, 1, 'XLIO_TCP_QUICKACK=1: every segment acknowledged at once');
});

test('XLIO_SELECT_POLL: a blocking wait polls the link that many rounds before it parks; -1 polls until its deadline; 0 parks at once', () => {
  const shared = ShmLink.pair(1 << 16, 1500);
  const run = (spinPolls: number, waitMs: number): { spins: number; parks: number } => {
    const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 7), rng: new SeededRng(7), ipv6: false });
    const link = new ShmLink(shared, 'a');
    stack.attach(link);
    const driver = new LinkDriver(stack, link, undefined, { canBlock: true, spinPolls });
    const parks = link.rx.dataParks;
    driver.wait(driver.now() + waitMs * 1000);
    return { spins: driver.spins, parks: link.rx.dataParks - parks };
  };
  assert.deepEqual(run(0, 5), { spins: 0, parks: 1 }, 'parks at once');
  assert.deepEqual(run(300, 200), { spins: 300, parks: 1 }, 'polls 300 rounds, then parks until the deadline');
  const forever = run(-1, 5);
  assert.ok(forever.spins > 0, 'polls');
  assert.equal(forever.parks, 0, 'never parks: polls until the deadline');
});

// KI-25: the first connect and the first send should cost what later ones cost. xlio-ts
// allocates nothing lazily on first use, but its first calls run JavaScript the engine has
// not compiled yet: a fresh process's first TCP connect + exchange takes ≈ 13 ms, the next
// ones ≈ 0.1–0.3 ms. prewarm() runs the hot paths — TCP connect/accept/send/recv/close,
// UDP sendto/recvfrom, epoll — on a throwaway pair of stacks in this thread, so the engine
// compiles them before the application's first call (≈ 50 ms for 64 rounds; measured: the
// first connect + exchange on new stacks then takes ≈ 0.5 ms). Nothing it makes outlives it.

import { ShmLink } from '../link/shm-link.js';
import { SeededRng } from '../rng.js';
import * as K from '../socket/constants.js';
import { LinkDriver } from '../socket/drivers.js';
import { Sockets } from '../socket/sockets.js';
import { EpollEvent, PollFd, SockAddr } from '../socket/types.js';
import { Stack } from '../stack/stack.js';
import { ipv4 } from '../wire/address.js';

export interface PrewarmReport {
  rounds: number;
  ms: number;
}

/** Documentation addresses of the throwaway pair: they never reach a link of the application. */
const A = '198.18.255.1', B = '198.18.255.2';
const PORT = 9;
const STEP_LIMIT = 10_000;

function host(shared: ReturnType<typeof ShmLink.pair>, side: 'a' | 'b'): { api: Sockets; driver: LinkDriver } {
  const me = side === 'a' ? 1 : 2;
  const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0xff, 0, me), rng: new SeededRng(0x9e3779b1 + me), ipv6: false });
  const link = new ShmLink(shared, side);
  stack.attach(link);
  stack.addAddress(ipv4(side === 'a' ? A : B), 24);
  const driver = new LinkDriver(stack, link, undefined, { canBlock: false });
  return { api: new Sockets(stack, { driver }), driver };
}

/** Compiles the socket hot paths by running them `rounds` times on a private pair of stacks. */
export function prewarm(rounds = 64): PrewarmReport {
  const t0 = performance.now();
  const shared = ShmLink.pair(1 << 20, 65520);
  const s = host(shared, 'a'), c = host(shared, 'b');
  const pump = (done: () => boolean): void => {
    for (let i = 0; !done(); i++) {
      if (i > STEP_LIMIT) throw new Error('xlio-ts prewarm: a private exchange did not complete');
      c.driver.pump();
      s.driver.pump();
    }
  };
  const ok = (r: number, what: string): number => {
    if (r < 0) throw new Error(`xlio-ts prewarm: ${what} failed (${r})`);
    return r;
  };
  const to = SockAddr.inet(ipv4(A), PORT);
  const lfd = ok(s.api.socket(K.AF_INET, K.SOCK_STREAM | K.SOCK_NONBLOCK), 'socket');
  ok(s.api.bind(lfd, to), 'bind');
  ok(s.api.listen(lfd, 128), 'listen');
  const ufd = ok(s.api.socket(K.AF_INET, K.SOCK_DGRAM | K.SOCK_NONBLOCK), 'socket');
  ok(s.api.bind(ufd, to), 'bind');
  const ep = ok(s.api.epoll_create1(0), 'epoll_create1');
  const events = [new EpollEvent()];
  const pfd = [new PollFd(0, K.POLLOUT)];
  const msg = new Uint8Array(64), rx = new Uint8Array(2048), from = new SockAddr();
  try {
    for (let i = 0; i < rounds; i++) {
      // TCP: connect, accept, one exchange each way through epoll, close both ends.
      const fd = ok(c.api.socket(K.AF_INET, K.SOCK_STREAM | K.SOCK_NONBLOCK), 'socket');
      c.api.setsockoptInt(fd, K.IPPROTO_TCP, K.TCP_NODELAY, 1);
      c.api.connect(fd, to);
      pfd[0]!.fd = fd;
      let afd = -1;
      pump(() => c.api.poll(pfd, 1, 0) === 1 && (afd >= 0 || (afd = s.api.accept4(lfd, null, K.SOCK_NONBLOCK)) >= 0));
      s.api.epoll_ctl(ep, K.EPOLL_CTL_ADD, afd, new EpollEvent(K.EPOLLIN, afd));
      ok(c.api.send(fd, msg, 0), 'send');
      pump(() => s.api.epoll_wait(ep, events, 1, 0) === 1);
      ok(s.api.recv(afd, rx, 0), 'recv');
      ok(s.api.send(afd, msg, 0), 'send');
      pump(() => c.api.recv(fd, rx, K.MSG_DONTWAIT) > 0);
      c.api.close(fd);
      s.api.close(afd);
      // UDP: a datagram each way.
      const u = ok(c.api.socket(K.AF_INET, K.SOCK_DGRAM | K.SOCK_NONBLOCK), 'socket');
      ok(c.api.sendto(u, msg, 0, to), 'sendto');
      pump(() => s.api.recvfrom(ufd, rx, 0, from) > 0);
      ok(s.api.sendto(ufd, msg, 0, from), 'sendto');
      pump(() => c.api.recv(u, rx, 0) > 0);
      c.api.close(u);
    }
  } finally {
    for (const fd of [lfd, ufd, ep]) s.api.close(fd);
  }
  return { rounds, ms: performance.now() - t0 };
}

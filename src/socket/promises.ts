// The Promise API for Node's main thread, where nothing may block: each call tries the
// non-blocking form and, while it would block, waits for the socket's wake-up (or its
// SO_RCVTIMEO / SO_SNDTIMEO, or the poll timeout) with the stack running in between —
// parked with Atomics.waitAsync, so timers, I/O and other promises keep going. Results
// follow the same convention as the calls: ≥ 0, or −errno.

import { Errno } from '../errno.js';
import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, MSG_DONTWAIT, MSG_WAITALL } from './constants.js';
import type { OpenFile, Waiter } from './file.js';
import { SocketFile } from './socket-file.js';
import type { Sockets } from './sockets.js';
import type { EpollEvent, PollFd, SockAddr } from './types.js';

/** What the promise API needs from a driver: a clock, a pump, and a wait that does not block the event loop. */
export interface AsyncDriver {
  now(): number;
  pump(): number;
  waitAsync(deadline: number): Promise<void>;
  /** Holds the link's transmits until uncork() (or the next pump's round), so the segments of one send leave in one batch. */
  cork?(): void;
  uncork?(): void;
}

/** A one-shot entry on a file's wait queue that settles a promise. */
class WakeWaiter implements Waiter {
  waitPrev: Waiter | null = null;
  waitNext: Waiter | null = null;
  readonly exclusive = false;
  private resolve: (() => void) | null = null;
  readonly woken: Promise<void>;
  constructor(private readonly mask: number) {
    this.woken = new Promise((r) => (this.resolve = r));
  }
  wakeUp(key: number): boolean {
    if (key === 0 || (key & this.mask) !== 0) this.resolve?.();
    return true;
  }
}

const READ = EPOLLIN | EPOLLERR | EPOLLHUP;
const WRITE = EPOLLOUT | EPOLLERR | EPOLLHUP;

export class SocketPromises {
  constructor(
    readonly api: Sockets,
    readonly driver: AsyncDriver,
  ) {}

  private file(fd: number): OpenFile | null {
    return this.api.fds.get(fd);
  }

  /** Waits until `fd` may be ready for `mask`, something else happened, or `deadline`. */
  private async ready(fd: number, mask: number, deadline: number): Promise<void> {
    const f = this.file(fd);
    if (f === null || (f.poll() & mask) !== 0) return;
    const w = new WakeWaiter(mask);
    f.addWaiter(w);
    try {
      await Promise.race([this.driver.waitAsync(deadline), w.woken]);
    } finally {
      f.removeWaiter(w);
    }
  }

  private deadline(fd: number, send: boolean): number {
    const f = this.file(fd);
    const t = f instanceof SocketFile ? (send ? f.sndTimeoUs : f.rcvTimeoUs) : 0;
    return t === 0 ? Infinity : this.driver.now() + t;
  }

  /** Retries `attempt` while it says EAGAIN, waiting for `mask` on fd in between. */
  private async retry(fd: number, mask: number, send: boolean, attempt: () => number, dontwait: boolean): Promise<number> {
    let deadline = -1;
    for (;;) {
      const r = attempt();
      this.driver.pump();
      if (r !== -Errno.EAGAIN || dontwait) return r;
      if (deadline < 0) deadline = this.deadline(fd, send);
      if (this.driver.now() >= deadline) return r;
      await this.ready(fd, mask, deadline);
    }
  }

  recv(fd: number, buf: Uint8Array, flags = 0): Promise<number> {
    return this.recvfrom(fd, buf, flags, null);
  }

  async recvfrom(fd: number, buf: Uint8Array, flags: number, from: SockAddr | null): Promise<number> {
    const dontwait = (flags & MSG_DONTWAIT) !== 0 || this.file(fd)?.nonblock === true;
    if ((flags & MSG_WAITALL) === 0 || dontwait) {
      return this.retry(fd, READ, false, () => this.api.recvfrom(fd, buf, flags | MSG_DONTWAIT, from), dontwait);
    }
    // MSG_WAITALL: keep reading until the buffer is full, the stream ends, or an error/timeout.
    let got = 0;
    const deadline = this.deadline(fd, false);
    while (got < buf.length) {
      const r = this.api.recvfrom(fd, buf.subarray(got), (flags & ~MSG_WAITALL) | MSG_DONTWAIT, from);
      this.driver.pump();
      if (r > 0) got += r;
      else if (r === 0) break;
      else if (r !== -Errno.EAGAIN) return got > 0 ? got : r;
      else if (this.driver.now() >= deadline) return got > 0 ? got : r;
      else await this.ready(fd, READ, deadline);
    }
    return got;
  }

  send(fd: number, buf: Uint8Array, flags = 0): Promise<number> {
    return this.sendto(fd, buf, flags, null);
  }

  /** Sends all of `buf` (as a blocking send does), or what fitted before the timeout or an error. */
  async sendto(fd: number, buf: Uint8Array, flags: number, to: SockAddr | null): Promise<number> {
    const dontwait = (flags & MSG_DONTWAIT) !== 0 || this.file(fd)?.nonblock === true;
    let sent = 0;
    let deadline = -1;
    for (;;) {
      // Corked: a 64 KiB send's 45 segments go to the link as one batch (one system call on a
      // native link) rather than one at a time; the pump's round sends them.
      this.driver.cork?.();
      const r = this.api.sendto(fd, sent === 0 ? buf : buf.subarray(sent), flags | MSG_DONTWAIT, to);
      this.driver.pump();
      this.driver.uncork?.();
      if (r >= 0) {
        sent += r;
        if (sent >= buf.length || dontwait) return sent;
      } else if (r !== -Errno.EAGAIN || dontwait) return sent > 0 ? sent : r;
      if (deadline < 0) deadline = this.deadline(fd, true);
      if (this.driver.now() >= deadline) return sent > 0 ? sent : -Errno.EAGAIN;
      await this.ready(fd, WRITE, deadline);
    }
  }

  accept(fd: number, addr: SockAddr | null = null, flags = 0): Promise<number> {
    const dontwait = this.file(fd)?.nonblock === true;
    return this.retry(fd, READ, false, () => this.api.accept4(fd, addr, flags), dontwait);
  }

  /** connect, resolved once the connection is made or has failed (or SO_SNDTIMEO: EINPROGRESS). */
  async connect(fd: number, addr: SockAddr): Promise<number> {
    let r = this.api.connect(fd, addr);
    this.driver.pump();
    if (r !== -Errno.EINPROGRESS || this.file(fd)?.nonblock === true) return r;
    const deadline = this.deadline(fd, true);
    for (;;) {
      await this.ready(fd, WRITE, deadline);
      r = this.api.connect(fd, addr);
      this.driver.pump();
      if (r !== -Errno.EALREADY) return r === -Errno.EISCONN ? 0 : r;
      if (this.driver.now() >= deadline) return -Errno.EINPROGRESS;
    }
  }

  async epollWait(epfd: number, events: EpollEvent[], maxevents: number, timeoutMs: number): Promise<number> {
    const deadline = timeoutMs < 0 ? Infinity : this.driver.now() + timeoutMs * 1000;
    for (;;) {
      const r = this.api.epoll_wait(epfd, events, maxevents, 0);
      if (r !== 0 || timeoutMs === 0 || this.driver.now() >= deadline) return r;
      await this.ready(epfd, EPOLLIN, deadline);
      this.driver.pump();
    }
  }

  async poll(fds: PollFd[], nfds: number, timeoutMs: number): Promise<number> {
    const deadline = timeoutMs < 0 ? Infinity : this.driver.now() + timeoutMs * 1000;
    for (;;) {
      this.driver.pump();
      const r = this.api.poll(fds, nfds, 0);
      if (r !== 0 || timeoutMs === 0 || this.driver.now() >= deadline) return r;
      await this.driver.waitAsync(deadline);
    }
  }
}

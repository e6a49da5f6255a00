// sockperf's -F: which xlio-ts readiness call the busy-poll loops ask, always with timeout 0
// (they spin; the stack is pumped between rounds). Each keeps its argument records from one
// round to the next, so a round allocates nothing of its own.

import { EPOLLIN, EPOLL_CTL_ADD, EPOLL_CTL_DEL, POLLIN } from '../../socket/constants.js';
import type { Sockets } from '../../socket/sockets.js';
import { EpollEvent, FdSet, PollFd } from '../../socket/types.js';
import type { Iomux } from './transport.js';

export interface Mux {
  add(fd: number): void;
  remove(fd: number): void;
  /** One round with timeout 0: how many descriptors are readable; their numbers are in `ready`. */
  poll(): number;
  readonly ready: Int32Array;
}

const MAX_READY = 64;

function check(r: number, what: string): number {
  if (r < 0) throw new Error(`${what} failed: errno ${-r}`);
  return r;
}

class EpollMux implements Mux {
  readonly ready = new Int32Array(MAX_READY);
  private readonly ep: number;
  private readonly events = Array.from({ length: MAX_READY }, () => new EpollEvent());
  constructor(private readonly api: Sockets) {
    this.ep = check(api.epoll_create1(0), 'epoll_create1');
  }
  add(fd: number): void {
    check(this.api.epoll_ctl(this.ep, EPOLL_CTL_ADD, fd, new EpollEvent(EPOLLIN, fd)), 'epoll_ctl');
  }
  remove(fd: number): void {
    this.api.epoll_ctl(this.ep, EPOLL_CTL_DEL, fd, null);
  }
  poll(): number {
    const n = check(this.api.epoll_wait(this.ep, this.events, MAX_READY, 0), 'epoll_wait');
    for (let i = 0; i < n; i++) this.ready[i] = this.events[i]!.data;
    return n;
  }
}

class PollMux implements Mux {
  ready = new Int32Array(MAX_READY);
  private fds: PollFd[] = [];
  constructor(private readonly api: Sockets) {}
  add(fd: number): void {
    this.fds.push(new PollFd(fd, POLLIN));
    if (this.fds.length > this.ready.length) this.ready = new Int32Array(this.fds.length * 2);
  }
  remove(fd: number): void {
    this.fds = this.fds.filter((p) => p.fd !== fd);
  }
  poll(): number {
    const fds = this.fds;
    const n = check(this.api.poll(fds, fds.length, 0), 'poll');
    if (n === 0) return 0;
    let k = 0;
    for (let i = 0; i < fds.length; i++) if (fds[i]!.revents !== 0) this.ready[k++] = fds[i]!.fd;
    return k;
  }
}

class SelectMux implements Mux {
  ready = new Int32Array(MAX_READY);
  private members: number[] = [];
  private readonly set = new FdSet(1024);
  private template = new Uint32Array(this.set.words.length);
  private nfds = 0;
  constructor(private readonly api: Sockets) {}
  add(fd: number): void {
    this.members.push(fd);
    this.rebuild();
  }
  remove(fd: number): void {
    this.members = this.members.filter((m) => m !== fd);
    this.rebuild();
  }
  private rebuild(): void {
    this.set.zero();
    for (const fd of this.members) this.set.set(fd);
    this.template = this.set.words.slice();
    this.nfds = this.members.length === 0 ? 0 : Math.max(...this.members) + 1;
    if (this.members.length > this.ready.length) this.ready = new Int32Array(this.members.length * 2);
  }
  poll(): number {
    this.set.words.set(this.template);
    const n = check(this.api.select(this.nfds, this.set, null, null, 0), 'select');
    if (n === 0) return 0;
    let k = 0;
    const m = this.members;
    for (let i = 0; i < m.length; i++) if (this.set.isSet(m[i]!)) this.ready[k++] = m[i]!;
    return k;
  }
}

export function createMux(kind: Iomux, api: Sockets): Mux {
  switch (kind) {
    case 'epoll':
      return new EpollMux(api);
    case 'poll':
      return new PollMux(api);
    case 'select':
      return new SelectMux(api);
  }
}

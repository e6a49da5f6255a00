// An open file description (Linux's struct file) of the socket layer: what descriptors
// point at. dup'ed descriptors share one; it lives until the last of them is closed.
// Each has a wait queue — the epoll items watching it — woken with a key the way Linux's
// sk_data_ready / sk_state_change / sk_write_space / sk_error_report wake a socket's.

import { EPOLLERR, EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLRDBAND, EPOLLRDNORM, EPOLLWRBAND, EPOLLWRNORM } from './constants.js';

/** The wake-up keys Linux passes to the wait queue (0 wakes every kind of waiter). */
export const WakeKey = {
  /** sock_def_readable: data, a connection to accept. */
  Readable: EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND,
  /** sk_stream_write_space / sock_def_write_space. */
  Writable: EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND,
  /** sock_def_error_report. */
  Error: EPOLLERR,
  /** sock_def_wakeup (state change): everyone. */
  All: 0,
} as const;

/** One entry of a wait queue: an epoll item (see epoll.ts). Returns whether it consumed an exclusive wake-up. */
export interface Waiter {
  waitPrev: Waiter | null;
  waitNext: Waiter | null;
  readonly exclusive: boolean;
  wakeUp(key: number): boolean;
}

export abstract class OpenFile {
  /** Descriptors pointing here. */
  refs = 0;
  /** O_NONBLOCK (fcntl F_SETFL, FIONBIO, SOCK_NONBLOCK). */
  nonblock = false;
  private waitHead: Waiter | null = null;
  private waitTail: Waiter | null = null;
  /** Bumped by every wake-up: a blocked call re-checks when it changes. */
  wakeups = 0;

  /** The readiness mask now (Linux's f_op->poll). */
  abstract poll(): number;

  /** The last descriptor went away. */
  abstract release(): void;

  /** Linux's add_wait_queue (head) / add_wait_queue_exclusive (tail). */
  addWaiter(w: Waiter): void {
    if (w.exclusive || this.waitHead === null) {
      w.waitPrev = this.waitTail;
      w.waitNext = null;
      if (this.waitTail !== null) this.waitTail.waitNext = w;
      else this.waitHead = w;
      this.waitTail = w;
    } else {
      w.waitPrev = null;
      w.waitNext = this.waitHead;
      this.waitHead.waitPrev = w;
      this.waitHead = w;
    }
  }

  removeWaiter(w: Waiter): void {
    if (w.waitPrev !== null) w.waitPrev.waitNext = w.waitNext;
    else if (this.waitHead === w) this.waitHead = w.waitNext;
    else return;
    if (w.waitNext !== null) w.waitNext.waitPrev = w.waitPrev;
    else this.waitTail = w.waitPrev;
    w.waitPrev = null;
    w.waitNext = null;
  }

  get firstWaiter(): Waiter | null {
    return this.waitHead;
  }

  /** Linux's __wake_up_common with nr_exclusive = 1: every waiter, up to the first exclusive one that took it. */
  wake(key: number): void {
    this.wakeups++;
    let w = this.waitHead;
    while (w !== null) {
      const next = w.waitNext;
      if (w.wakeUp(key) && w.exclusive) break;
      w = next;
    }
  }
}

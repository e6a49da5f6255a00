// epoll (Linux fs/eventpoll.c semantics). An epoll set is itself an open file. Each
// registration (file, fd) is an item on the file's wait queue; a wake-up whose key meets
// the item's interest puts the item on the set's ready list (once: FIFO, no duplicates).
// epoll_wait walks only the ready list — O(ready), not O(registered) — polling each item
// again: nothing now → dropped; level-triggered → back on the tail; EPOLLET → stays off
// until the next wake-up; EPOLLONESHOT → disarmed until EPOLL_CTL_MOD. So an ACK alone
// never raises EPOLLOUT on an edge-triggered socket (no wake-up comes with it), and an
// EPOLLIN edge reports EPOLLOUT too when the socket is writable, exactly as Linux does.

import { Errno } from '../errno.js';
import {
  EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLLERR, EPOLLET, EPOLLEXCLUSIVE, EPOLLHUP, EPOLLIN, EPOLLONESHOT, EPOLLOUT,
  EPOLLRDNORM, EPOLLWAKEUP,
} from './constants.js';
import { OpenFile, type Waiter } from './file.js';
import type { EpollEvent } from './types.js';

/** Flags that are the item's own, not events (Linux EP_PRIVATE_BITS). */
const EP_PRIVATE_BITS = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
/** What may accompany EPOLLEXCLUSIVE (Linux EPOLLEXCLUSIVE_OK_BITS). */
const EPOLLEXCLUSIVE_OK_BITS = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
/** Linux EP_MAX_NESTS: how deep epoll sets may nest. */
const EP_MAX_NESTS = 4;
/** Linux EP_MAX_EVENTS: INT_MAX / sizeof(struct epoll_event). */
export const EP_MAX_EVENTS = Math.floor(0x7fffffff / 12);

/** One registration of (file, fd) in an epoll set. */
export class EpItem implements Waiter {
  waitPrev: Waiter | null = null;
  waitNext: Waiter | null = null;
  rdPrev: EpItem | null = null;
  rdNext: EpItem | null = null;
  /** On the ready list. */
  linked = false;
  readonly exclusive: boolean;

  constructor(
    readonly ep: Epoll,
    readonly file: OpenFile,
    readonly fd: number,
    public events: number,
    public data: number,
  ) {
    this.exclusive = (events & EPOLLEXCLUSIVE) !== 0;
  }

  wakeUp(key: number): boolean {
    return this.ep.callback(this, key);
  }
}

export class Epoll extends OpenFile {
  private rdHead: EpItem | null = null;
  private rdTail: EpItem | null = null;
  /** @internal */
  readonly items = new Set<EpItem>();
  /** epoll_wait calls blocked on this set (they take exclusive wake-ups). */
  waiting = 0;

  get size(): number {
    return this.items.size;
  }

  // ---------------------------------------------------------------------------------------
  // The ready list

  private linkTail(i: EpItem): void {
    i.rdPrev = this.rdTail;
    i.rdNext = null;
    if (this.rdTail !== null) this.rdTail.rdNext = i;
    else this.rdHead = i;
    this.rdTail = i;
    i.linked = true;
  }

  private unlink(i: EpItem): void {
    if (!i.linked) return;
    if (i.rdPrev !== null) i.rdPrev.rdNext = i.rdNext;
    else this.rdHead = i.rdNext;
    if (i.rdNext !== null) i.rdNext.rdPrev = i.rdPrev;
    else this.rdTail = i.rdPrev;
    i.rdPrev = null;
    i.rdNext = null;
    i.linked = false;
  }

  /** Whether something is on the ready list (it may turn out not ready when polled). */
  get hasReady(): boolean {
    return this.rdHead !== null;
  }

  // ---------------------------------------------------------------------------------------
  // Wake-ups (ep_poll_callback)

  /** @internal A wake-up of a watched file. Returns Linux's ewake: whether an exclusive wake-up was consumed. */
  callback(i: EpItem, key: number): boolean {
    const ev = i.events;
    let ewake = false;
    // A disarmed one-shot item, or a key outside its interest: nothing.
    if ((ev & ~EP_PRIVATE_BITS) !== 0 && (key === 0 || (key & ev) !== 0)) {
      if (!i.linked) this.linkTail(i);
      if (this.waiting > 0) {
        if (i.exclusive) {
          const inout = key & (EPOLLIN | EPOLLOUT);
          if (inout === EPOLLIN) ewake = (ev & EPOLLIN) !== 0;
          else if (inout === EPOLLOUT) ewake = (ev & EPOLLOUT) !== 0;
          else if (inout === 0) ewake = true;
        }
        this.wakeups++;
      }
      // Sets watching this set hear of it (ep_poll_safewake).
      if (this.firstWaiter !== null) this.wake(EPOLLIN | EPOLLRDNORM);
    }
    if (!i.exclusive) ewake = true;
    return ewake;
  }

  // ---------------------------------------------------------------------------------------
  // As a file: readable when an item is really ready (__ep_eventpoll_poll)

  poll(): number {
    return this.pollDepth(0);
  }

  /** @internal */
  pollDepth(depth: number): number {
    let i = this.rdHead;
    while (i !== null) {
      const next = i.rdNext;
      if (itemPoll(i, depth + 1) !== 0) return EPOLLIN | EPOLLRDNORM;
      // Queued by a wake-up but not ready for what the item asks: drop it.
      this.unlink(i);
      i = next;
    }
    return 0;
  }

  release(): void {
    for (const i of this.items) {
      i.file.removeWaiter(i);
      this.unlink(i);
    }
    this.items.clear();
  }

  /** @internal The watched file is gone (its last descriptor closed): forget its item. */
  forget(i: EpItem): void {
    i.file.removeWaiter(i);
    this.unlink(i);
    this.items.delete(i);
  }

  private find(file: OpenFile, fd: number): EpItem | null {
    for (let w = file.firstWaiter; w !== null; w = w.waitNext) {
      if (w instanceof EpItem && w.ep === this && w.fd === fd) return w;
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------
  // epoll_ctl (do_epoll_ctl), once the descriptors are resolved; returns 0 or −errno

  ctl(op: number, fd: number, target: OpenFile, ev: EpollEvent | null): number {
    if (op !== EPOLL_CTL_DEL && ev === null) return -Errno.EFAULT;
    let events = ev === null ? 0 : ev.events | 0;
    if (target === this) return -Errno.EINVAL;
    if (op !== EPOLL_CTL_DEL && (events & EPOLLEXCLUSIVE) !== 0) {
      if (op === EPOLL_CTL_MOD) return -Errno.EINVAL;
      if (op === EPOLL_CTL_ADD && (target instanceof Epoll || (events & ~EPOLLEXCLUSIVE_OK_BITS) !== 0)) return -Errno.EINVAL;
    }
    if (op === EPOLL_CTL_ADD && target instanceof Epoll && reaches(target, this, 1)) return -Errno.ELOOP;
    const i = this.find(target, fd);
    switch (op) {
      case EPOLL_CTL_ADD: {
        if (i !== null) return -Errno.EEXIST;
        events |= EPOLLERR | EPOLLHUP;
        const item = new EpItem(this, target, fd, events, ev!.data);
        this.items.add(item);
        target.addWaiter(item);
        if (itemPoll(item, 1) !== 0 && !item.linked) this.readied(item);
        return 0;
      }
      case EPOLL_CTL_DEL:
        if (i === null) return -Errno.ENOENT;
        this.forget(i);
        return 0;
      case EPOLL_CTL_MOD:
        if (i === null) return -Errno.ENOENT;
        if ((i.events & EPOLLEXCLUSIVE) !== 0) return -Errno.EINVAL;
        i.events = events | EPOLLERR | EPOLLHUP;
        i.data = ev!.data;
        if (itemPoll(i, 1) !== 0 && !i.linked) this.readied(i);
        return 0;
      default:
        return -Errno.EINVAL;
    }
  }

  private readied(i: EpItem): void {
    this.linkTail(i);
    if (this.waiting > 0) this.wakeups++;
    if (this.firstWaiter !== null) this.wake(EPOLLIN | EPOLLRDNORM);
  }

  // ---------------------------------------------------------------------------------------
  // epoll_wait's harvest (ep_send_events)

  /** Fills `out` with up to `max` events from the ready list; returns how many. */
  sendEvents(out: EpollEvent[], max: number): number {
    // Take the ready list (ep_start_scan); level-triggered items go back to a fresh one.
    let i = this.rdHead;
    this.rdHead = null;
    this.rdTail = null;
    let n = 0;
    while (i !== null && n < max) {
      const next = i.rdNext;
      i.rdPrev = null;
      i.rdNext = null;
      i.linked = false;
      const revents = itemPoll(i, 1);
      if (revents !== 0) {
        const e = out[n]!;
        e.events = revents;
        e.data = i.data;
        n++;
        if ((i.events & EPOLLONESHOT) !== 0) i.events &= EP_PRIVATE_BITS;
        else if ((i.events & EPOLLET) === 0) this.linkTail(i);
      }
      i = next;
    }
    // What was not reached goes back in front (ep_done_scan's list_splice).
    if (i !== null) {
      let last = i;
      for (let k: EpItem | null = i; k !== null; k = k.rdNext) {
        k.linked = true;
        last = k;
      }
      i.rdPrev = null;
      const head = this.rdHead as EpItem | null; // level-triggered items re-queued above
      last.rdNext = head;
      if (head !== null) head.rdPrev = last;
      else this.rdTail = last;
      this.rdHead = i;
    }
    return n;
  }
}

/** ep_item_poll: the file's readiness masked by the item's interest. */
function itemPoll(i: EpItem, depth: number): number {
  const f = i.file;
  const mask = f instanceof Epoll ? f.pollDepth(depth) : f.poll();
  return mask & i.events;
}

/** Whether `from` (an epoll set) reaches `to` through nested sets (ep_loop_check), or nests too deep. */
function reaches(from: Epoll, to: Epoll, depth: number): boolean {
  if (from === to || depth > EP_MAX_NESTS) return true;
  for (const i of from.items) {
    if (i.file instanceof Epoll && reaches(i.file, to, depth + 1)) return true;
  }
  return false;
}

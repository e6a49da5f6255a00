// How socket calls wait. A blocking call (recv on an empty socket, accept, connect,
// epoll_wait with a timeout…) keeps the stack running while it waits: frames in from the
// link, timers, loopback. In a worker thread it parks on the link's doorbell
// (Atomics.wait) between rounds; on Node's main thread nothing may block, so calls never
// wait there and the Promise API (promises.ts) waits with Atomics.waitAsync instead.

import { isMainThread } from 'node:worker_threads';
import type { Stack } from '../stack/stack.js';
import type { SocketDriver } from './sockets.js';

/** A link whose receiver can be pumped and can sleep until frames arrive (ShmLink). */
export interface ParkableLink {
  receive(handler: (bytes: Uint8Array, at: number, len: number) => void, max: number): number;
  waitForData(timeoutMs: number): boolean;
  waitForDataAsync(timeoutMs: number): Promise<boolean>;
  /**
   * waitForDataAsync keeps Node's event loop alive until it settles (a native wait on the
   * threadpool does; Atomics.waitAsync does not): a loop with nothing ref'd must not use it.
   */
  readonly asyncWaitHoldsLoop?: boolean;
  /** Ends a wait in progress (or the next one) without a frame: how a parked poll loop is stopped. */
  interruptWait?(): void;
  /** Holds transmitted frames until uncork(), so a round of work costs one doorbell. */
  cork?(): void;
  uncork?(): void;
}

const origin = performance.now();
/** Monotonic microseconds since this module loaded. */
export function monotonicUs(): number {
  return Math.round((performance.now() - origin) * 1000) + 1;
}

/** The monotonicUs() value of a clock reading already taken as performance.now() × 1000. */
export function monotonicFromPerfUs(perfUs: number): number {
  return Math.round(perfUs - origin * 1000) + 1;
}

/** Frames handled per link receive call (one batch, NAPI's weight). */
const BATCH = 64;
/**
 * Batches per round at most: like Linux's netdev_budget (300 frames per softirq run), a flood
 * on the link cannot keep the thread in the stack forever — the application gets to read its
 * sockets between rounds (a flat-out UDP sender otherwise starved the perf server's reads).
 */
const ROUND_BATCHES = 5;
/** The longest single park: calls re-check their own deadlines at least this often. */
const MAX_PARK_MS = 50;

/** Runs one stack over one parkable link; parks in worker threads. */
export class LinkDriver implements SocketDriver {
  readonly canBlock: boolean;
  /** Frames the last receiveFrames() (or pump()) handed to the stack. */
  frames = 0;
  /** The clock read once per pump round: every frame of a batch arrives "now" (one clock read, ~50 ns, per round rather than per frame). */
  private roundNow = 0;
  private readonly onFrame = (bytes: Uint8Array, at: number, len: number): void => {
    this.frames++;
    this.stack.receive(bytes.subarray(at, at + len), this.roundNow);
  };

  constructor(
    readonly stack: Stack,
    readonly link: ParkableLink,
    private readonly clock: () => number = monotonicUs,
    opts: { canBlock?: boolean; spinPolls?: number; spinCapUs?: number } = {},
  ) {
    this.canBlock = opts.canBlock ?? !isMainThread;
    const polls = opts.spinPolls ?? 0;
    this.spinPolls = polls < 0 ? Infinity : polls;
    this.spinCapUs = opts.spinCapUs ?? Infinity;
  }

  /**
   * XLIO_SELECT_POLL: pump rounds a blocking wait (select/poll/epoll_wait, a blocking recv…)
   * polls the link before it parks on the doorbell (Infinity: until its deadline), at most
   * spinCapUs µs. 0 (the default): park at once.
   */
  readonly spinPolls: number;
  readonly spinCapUs: number;
  /** Pump rounds spent polling in wait() before parking (or instead of it). */
  spins = 0;

  now(): number {
    return this.clock();
  }

  /** Hands the frames waiting on the link to the stack (up to ROUND_BATCHES batches) as arriving at `now`; returns how many. */
  receiveFrames(now: number = this.now()): number {
    if (now > this.latest) this.latest = now;
    this.frames = 0;
    this.roundNow = now;
    for (let b = 1; this.link.receive(this.onFrame, BATCH) === BATCH && b < ROUND_BATCHES; b++) {
      /* keep draining full batches, within the budget */
    }
    return this.frames;
  }

  /** One round of work: received frames, due timers. Returns the stack's next deadline. */
  pump(): number {
    return this.pumpAt(this.now());
  }

  /**
   * pump() with a clock reading the caller already has (a busy loop reads it rarely: each
   * read allocates in Node 20). A reading older than one the stack already saw (taken before
   * a park that pumped with a fresh one) counts as that one: the stack's time never goes
   * back — TCP timestamps from a clock that did would fail the peer's PAWS check.
   */
  pumpAt(now: number): number {
    if (now < this.latest) now = this.latest;
    this.receiveFrames(now);
    return this.stack.poll(now);
  }
  /** The latest time handed to the stack by this driver. */
  private latest = 0;

  /** A pump round, then how long to park (ms) before `deadline` or the next timer; −1: no park (frames came, or it is time). */
  private parkTime(deadline: number): number {
    const next = this.pump();
    if (this.frames > 0) return -1;
    const now = this.now();
    const until = Math.min(deadline, next);
    if (until <= now) return -1;
    return Math.min(MAX_PARK_MS, (until - now) / 1000);
  }

  wait(deadline: number): void {
    if (this.spinPolls > 0) {
      const start = this.now();
      for (let i = 0; i < this.spinPolls; i++) {
        this.spins++;
        const next = this.pump();
        if (this.frames > 0) return;
        const now = this.now();
        if (now >= deadline || now >= next) return;
        if (now - start >= this.spinCapUs) break;
      }
    }
    const ms = this.parkTime(deadline);
    if (ms < 0) return;
    this.link.waitForData(ms);
    this.pump();
  }

  /** The main thread's wait: as wait(), parked with Atomics.waitAsync so the event loop runs meanwhile. */
  async waitAsync(deadline: number): Promise<void> {
    const ms = this.parkTime(deadline);
    if (ms < 0) return;
    // Atomics.waitAsync holds no handle on the event loop: a timer keeps the process alive while we wait.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.link.waitForDataAsync(ms), new Promise<void>((r) => (timer = setTimeout(r, Math.ceil(ms))))]);
    clearTimeout(timer);
    this.pump();
  }
}

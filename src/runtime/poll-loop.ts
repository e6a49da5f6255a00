// The poll loop: drives one Stack over one parkable Link, as XLIO's receive path drives a
// ring. Each round hands every waiting frame to the stack (LinkDriver.receiveFrames, in
// batches), runs the application's round (onRound), then stack.poll(now), whose return value
// is the next timer deadline. A round that found nothing is idle: the loop spins for the
// XLIO_RX_POLL budget (a count of idle rounds, capped in wall time: see config.ts), then
// parks on the link's doorbell until a frame arrives or the stack's next deadline comes.
//
//   worker thread   run(): rounds back to back, parks with Atomics.wait (link.waitForData).
//                   Blocks its thread until stopped.
//   main thread     start(): never blocks. Rounds run in slices of at most `sliceUs`, then
//                   yield to the event loop with setImmediate — at once when the application's
//                   callbacks ran and the next round found nothing (what they queued, nextTicks
//                   and promises, is likely the program's next send); parking uses Atomics.waitAsync
//                   (link.waitForDataAsync), so timers, I/O and promises run while the loop
//                   waits. A timer keeps the process alive while parked (keepAlive).
//
// Hot path. stack.poll runs only when there may be something for it: frames came in, the
// application did something (its socket calls may have armed timers), or the deadline has
// come. Reading any clock in Node allocates (performance.now() returns a fresh heap number),
// so while spinning idle the loop reads it on every CLOCK_EVERY-th round and reuses the last
// reading in between (stale by a few rounds of well under a microsecond). An idle spin round
// is then an empty-ring check and the app's round; a worker's loop allocates nothing per
// round beyond one clock reading per CLOCK_EVERY idle rounds, and per frame nothing beyond
// LinkDriver's view of it (stack.receive takes a whole Uint8Array) and what the stack does.
// The main-thread loop also costs one Immediate per slice. Transmits of a round are corked
// (when the link can), so a round publishes once and rings the peer's doorbell at most once.
//
// Stopping. stop() sets a stop word and ends a park in progress through the link's
// interruptWait(). The stop word and the counters can live in shared memory (`control`,
// `stats`), so another thread can stop a worker's loop and read its counters live; the
// counters are written only by the loop's own thread.
//
// Time. Each round brings the stack's clock (stack.now, which API calls arm their timers
// from) to the loop's, so calls made in onRound start their timers from now even after a long
// park. Socket calls made outside the loop's rounds (from a timer or a promise on the main
// thread) should be preceded by pump() (a round: the clock is current) and followed by
// wake() (a parked loop runs a round at once, with stack.poll, and parks again with the
// stack's new deadline, which those calls may have moved earlier).
//
// A running main-thread loop is also an AsyncDriver: SocketPromises can wait on it (its
// waits then end after the loop's next round with work) instead of pumping the link itself;
// its pump() wakes a parked loop whose deadline moved earlier.

import { isMainThread } from 'node:worker_threads';
import type { LinkDriver, ParkableLink } from '../socket/drivers.js';
import type { AsyncDriver } from '../socket/promises.js';
import { DEFAULT_CONFIG, spinCapUs, type RuntimeConfig } from './config.js';

/** Indices of the loop's counters in its `stats` array (Float64). */
export const LoopStat = Object.freeze({
  /** Rounds run. */
  ROUNDS: 0,
  /** Rounds that found work: frames, the app's round, or a timer already due. */
  BUSY: 1,
  /** Frames handed to the stack. */
  FRAMES: 2,
  /** Idle rounds spent spinning within the XLIO_RX_POLL budget. */
  SPINS: 3,
  /** Sleeps on the link's doorbell. */
  PARKS: 4,
  /** Sleeps ended by a frame. */
  WAKEUPS: 5,
  /** Sleeps ended at the timer deadline, the longest park, or stop(). */
  TIMEOUTS: 6,
  COUNT: 8,
});

/** Int32 words of the loop's `control` array. */
export const LoopControl = Object.freeze({
  /** Non-zero: the loop stops before its next round (and a park in progress is interrupted). */
  STOP: 0,
  COUNT: 1,
});

export interface PollLoopOptions {
  /** XLIO_RX_POLL: idle rounds to spin before parking; −1 never parks, 0 parks at once. Default XLIO's 100000. */
  rxPoll?: number;
  /** Wall-time cap of one spin (µs); default spinCapUs(rxPoll). */
  spinCapUs?: number;
  /** The longest single park (ms), so links without interruptWait still notice stop(); default 250. */
  maxParkMs?: number;
  /** Main thread: the longest run of rounds (µs) before yielding to the event loop; default 100. */
  sliceUs?: number;
  /**
   * The application's work, run every round after the frames. Returns true when it did
   * something — any socket call that may have changed the stack's state — so the round runs
   * stack.poll (timers the calls armed, frames they looped back).
   */
  onRound?: ((now: number) => boolean) | null;
  /** Counters (LoopStat layout), e.g. a view of shared memory another thread reads. */
  stats?: Float64Array;
  /** Control words (LoopControl layout), e.g. shared memory another thread stops the loop through. */
  control?: Int32Array;
  /** Main thread: keep the process alive while parked (default true, as a listening server does). */
  keepAlive?: boolean;
}

const DEFAULT_MAX_PARK_MS = 250;
/** The keep-alive timer of a main-thread park runs this much longer than the park (afterPark clears it). */
const KEEPALIVE_MARGIN_MS = 50;
/** While nothing is ref'd, a loop on a link whose async wait holds the event loop polls this often (ms) on an unref'd timer. */
const UNREF_POLL_MS = 2;
/** While spinning idle, the clock is read on every CLOCK_EVERY-th round (a power of two). */
const CLOCK_EVERY = 16;
const DEFAULT_SLICE_US = 100;

const IDLE = 0;
const RUNNING = 1;

function noop(): void {}

/** A promise-API wait on a running loop: ends after the loop's next round with work, or at its deadline. */
class RoundWaiter {
  timer: ReturnType<typeof setTimeout> | null = null;
  constructor(readonly resolve: () => void) {}
}

export class PollLoop implements AsyncDriver {
  readonly stats: Float64Array;
  readonly control: Int32Array;
  readonly rxPoll: number;
  readonly spinCapUs: number;
  readonly maxParkMs: number;
  readonly sliceUs: number;
  /** Main thread: a timer keeps the process alive while parked (a host with nothing ref'd sets it false). */
  get keepAlive(): boolean {
    return this.keepAliveOn;
  }
  set keepAlive(on: boolean) {
    this.keepAliveOn = on;
    // A park holding the process for a loop that no longer should: let go now, not when the
    // park ends (up to maxParkMs later: an unref'd program would outlive its last handle).
    if (!on && this.parkTimer !== null) {
      clearTimeout(this.parkTimer);
      this.parkTimer = null;
    }
  }
  private keepAliveOn = true;
  /** The application's round (see PollLoopOptions.onRound); may be set after construction. */
  onRound: ((now: number) => boolean) | null;
  /** The stack's next deadline (µs; Infinity: none; −Infinity: not polled yet) as of its last poll. */
  next = -Infinity;

  private readonly link: ParkableLink;
  private readonly corks: boolean;
  private state = IDLE;
  private lastNow = 0;
  private idle = 0;
  private idleSince = 0;
  private parkTimer: ReturnType<typeof setTimeout> | null = null;
  /** The next round runs stack.poll whatever it finds (wake(): calls outside the rounds may have armed timers). */
  private pollDue = false;
  /** The last round's application round did something (its callbacks may have queued nextTicks and promises). */
  private appRan = false;
  /** Main thread: parked in waitForDataAsync, until this time (µs). */
  private parked = false;
  private parkUntil = 0;
  private settle: ((e: unknown) => void) | null = null;
  private readonly waiters: RoundWaiter[] = [];

  /** A loop with the config's XLIO_RX_POLL. */
  static fromConfig(driver: LinkDriver, config: RuntimeConfig, opts: Omit<PollLoopOptions, 'rxPoll'> = {}): PollLoop {
    return new PollLoop(driver, { ...opts, rxPoll: config.rxPoll });
  }

  constructor(
    readonly driver: LinkDriver,
    opts: PollLoopOptions = {},
  ) {
    const rxPoll = opts.rxPoll ?? DEFAULT_CONFIG.rxPoll;
    if (!Number.isInteger(rxPoll) || rxPoll < -1) throw new RangeError(`PollLoop rxPoll must be an integer >= -1, got ${rxPoll}`);
    this.rxPoll = rxPoll;
    this.spinCapUs = opts.spinCapUs ?? spinCapUs(rxPoll);
    this.maxParkMs = opts.maxParkMs ?? DEFAULT_MAX_PARK_MS;
    this.sliceUs = opts.sliceUs ?? DEFAULT_SLICE_US;
    this.keepAlive = opts.keepAlive ?? true;
    this.onRound = opts.onRound ?? null;
    this.stats = opts.stats ?? new Float64Array(LoopStat.COUNT);
    this.control = opts.control ?? new Int32Array(new SharedArrayBuffer(4 * LoopControl.COUNT));
    if (this.stats.length < LoopStat.COUNT) throw new RangeError(`PollLoop stats needs ${LoopStat.COUNT} slots`);
    if (this.control.length < LoopControl.COUNT) throw new RangeError(`PollLoop control needs ${LoopControl.COUNT} words`);
    this.link = driver.link;
    this.corks = typeof this.link.cork === 'function' && typeof this.link.uncork === 'function';
  }

  get running(): boolean {
    return this.state === RUNNING;
  }

  /** Main thread: parked (waiting on the link's doorbell or the stack's next deadline). */
  get isParked(): boolean {
    return this.parked;
  }

  now(): number {
    return this.driver.now();
  }

  /**
   * One round: frames in, the application's round, timers (stack.poll, when there may be
   * something for it: frames, app work, a deadline reached, or `force`). Returns true when it
   * found work: frames, the app did something, or a timer is already due again.
   */
  round(force = false): boolean {
    const d = this.driver;
    const s = this.stats;
    let now = force || (this.idle & (CLOCK_EVERY - 1)) === 0 ? d.now() : this.lastNow;
    // Never backwards: socket calls made between rounds may have brought the stack's clock past
    // the reused reading, and a clock that steps back makes TCP timestamps step back (the peer's
    // PAWS then drops the segment: a handshake's last ACK lost for a whole SYN-ACK RTO).
    if (now < d.stack.now) now = d.stack.now;
    d.stack.now = now; // calls made in onRound arm their timers from now, not from the last frame or poll
    if (this.corks) this.link.cork!();
    const frames = d.receiveFrames(now);
    const app = this.onRound !== null && this.onRound(now);
    let next = this.next;
    if (frames > 0 || app || now >= next || force || this.pollDue) {
      this.pollDue = false;
      next = this.next = d.stack.poll(now);
    }
    if (this.corks) this.link.uncork!();
    this.lastNow = now;
    this.appRan = app;
    s[LoopStat.ROUNDS]++;
    s[LoopStat.FRAMES] += frames;
    const busy = frames > 0 || app || next <= now;
    if (busy) {
      s[LoopStat.BUSY]++;
      if (this.waiters.length !== 0) this.wakeWaiters();
    }
    return busy;
  }

  /** After an idle round: true to spin another round, false to park (the XLIO_RX_POLL budget is spent). */
  private spinAgain(): boolean {
    if (this.rxPoll >= 0) {
      if (this.idle === 0) this.idleSince = this.lastNow;
      if (this.idle >= this.rxPoll || this.lastNow - this.idleSince >= this.spinCapUs) return false;
    }
    this.idle++;
    this.stats[LoopStat.SPINS]++;
    return true;
  }

  /** How long to park (ms): until the stack's next deadline, at most maxParkMs; 0 when a timer is due. */
  private parkMs(): number {
    this.idle = 0;
    const left = this.next - this.driver.now();
    if (left <= 0) return 0;
    return Math.min(this.maxParkMs, left / 1000);
  }

  private begin(): void {
    if (this.state === RUNNING) throw new Error('this PollLoop is already running');
    this.state = RUNNING;
    this.idle = 0;
    this.next = -Infinity; // the first round polls the stack
  }

  /** Back to idle; the stop request that ended the run is consumed. */
  private end(): void {
    if (this.corks) this.link.uncork!();
    this.state = IDLE;
    Atomics.store(this.control, LoopControl.STOP, 0);
    if (this.waiters.length !== 0) this.wakeWaiters();
  }

  /**
   * In a worker: runs rounds until stop() (or the control word's STOP, from another thread),
   * parking with Atomics.wait when idle. Blocks the thread; on the main thread use start().
   * A stop requested before run() makes it return at once.
   */
  run(): void {
    if (isMainThread) throw new Error('PollLoop.run() blocks its thread: on the main thread use start()');
    this.begin();
    const ctl = this.control;
    const s = this.stats;
    try {
      while (Atomics.load(ctl, LoopControl.STOP) === 0) {
        if (this.round()) {
          this.idle = 0;
          continue;
        }
        if (this.spinAgain()) continue;
        const ms = this.parkMs();
        if (ms <= 0 || Atomics.load(ctl, LoopControl.STOP) !== 0) continue;
        s[LoopStat.PARKS]++;
        if (this.link.waitForData(ms)) s[LoopStat.WAKEUPS]++;
        else s[LoopStat.TIMEOUTS]++;
      }
    } finally {
      this.end();
    }
  }

  /**
   * On the main thread (or any thread that must not block): runs the loop without blocking
   * the event loop. The promise settles when the loop stops (rejects if a round throws).
   */
  start(): Promise<void> {
    this.begin();
    return new Promise<void>((resolve, reject) => {
      this.settle = (e) => (e === null ? resolve() : reject(e));
      setImmediate(this.tick);
    });
  }

  /**
   * Ends the main-thread loop's park so it runs a round now (after socket calls made outside
   * its rounds: their timers may be due before the deadline it parked with).
   */
  wake(): void {
    this.pollDue = true;
    if (this.pollTimer !== null) {
      clearTimeout(this.pollTimer);
      this.pollTimer = null;
      this.parked = false;
      setImmediate(this.tick);
      return;
    }
    if (this.parked && this.link.interruptWait !== undefined) this.link.interruptWait();
  }

  /** Stops the loop before its next round and ends a park in progress (the link's interruptWait). */
  stop(): void {
    Atomics.store(this.control, LoopControl.STOP, 1);
    if (this.state === RUNNING && this.link.interruptWait !== undefined) this.link.interruptWait();
  }

  /** One slice of the main-thread loop: rounds until it parks, yields, or stops. */
  private readonly tick = (): void => {
    const ctl = this.control;
    let sliceEnd = -1;
    let appRan = false;
    try {
      for (;;) {
        if (Atomics.load(ctl, LoopControl.STOP) !== 0) return this.finish(null);
        if (this.round()) {
          this.idle = 0;
          if (this.appRan) appRan = true;
        } else if (appRan) {
          // The application's callbacks ran and nothing followed: what they queued (nextTicks,
          // promises — often the program's next send) runs only once this slice returns, so
          // return now rather than spin out the slice while the program's work waits behind it.
          setImmediate(this.tick);
          return;
        } else if (!this.spinAgain()) {
          const ms = this.parkMs();
          if (ms > 0) return this.parkAsync(ms);
        }
        if (sliceEnd < 0) sliceEnd = this.lastNow + this.sliceUs;
        else if (this.lastNow >= sliceEnd) {
          setImmediate(this.tick);
          return;
        }
      }
    } catch (e) {
      this.finish(e);
    }
  };

  private parkAsync(ms: number): void {
    this.stats[LoopStat.PARKS]++;
    if (!this.keepAliveOn && this.link.asyncWaitHoldsLoop === true) {
      // Nothing of ours may keep the process alive, but this link's async wait would (a
      // threadpool job until it returns, re-armed park after park): a program that closed its
      // last socket would never exit. Poll on an unref'd timer instead while unref'd.
      this.parked = true;
      this.parkUntil = this.lastNow + ms * 1000;
      this.pollTimer = setTimeout(this.afterPoll, Math.min(Math.ceil(ms), UNREF_POLL_MS));
      this.pollTimer.unref();
      return;
    }
    // Atomics.waitAsync holds no handle on the event loop: a timer keeps the process alive meanwhile.
    // It outlasts the park by a margin: had it fired first, the event loop could find nothing
    // ref'd before the link's own (unref'd) wait timer ends the park — and the process exit.
    if (this.keepAlive) this.parkTimer = setTimeout(noop, Math.ceil(ms) + KEEPALIVE_MARGIN_MS);
    this.parked = true;
    this.parkUntil = this.lastNow + ms * 1000;
    this.link.waitForDataAsync(ms).then(this.afterPark, this.failPark);
  }

  /** The unref'd poll of parkAsync ended (or wake() ended it early). */
  private readonly afterPoll = (): void => {
    this.pollTimer = null;
    this.parked = false;
    this.stats[LoopStat.TIMEOUTS]++;
    this.tick();
  };
  private pollTimer: ReturnType<typeof setTimeout> | null = null;

  private readonly afterPark = (data: boolean): void => {
    this.parked = false;
    if (this.parkTimer !== null) {
      clearTimeout(this.parkTimer);
      this.parkTimer = null;
    }
    this.stats[data ? LoopStat.WAKEUPS : LoopStat.TIMEOUTS]++;
    this.tick();
  };

  private readonly failPark = (e: unknown): void => {
    this.parked = false;
    if (this.parkTimer !== null) clearTimeout(this.parkTimer);
    this.parkTimer = null;
    this.finish(e);
  };

  private finish(e: unknown): void {
    this.end();
    const settle = this.settle;
    this.settle = null;
    settle?.(e);
  }

  // ---- AsyncDriver: SocketPromises over a running loop ----

  /** AsyncDriver: holds the link's transmits (socket calls made between rounds) until uncork() or the next round. */
  cork(): void {
    if (this.corks) this.link.cork!();
  }

  uncork(): void {
    if (this.corks) this.link.uncork!();
  }

  /**
   * A round now, with stack.poll (AsyncDriver); returns the stack's next deadline. A parked
   * loop whose deadline moved earlier wakes.
   */
  pump(): number {
    this.round(true);
    if (this.parked && this.next < this.parkUntil) this.wake();
    return this.next;
  }

  /**
   * Main thread, between rounds, after socket calls made by the program: the stack's timers
   * and its loopback now (stack.poll at the stack's clock, which the calls' caller brought
   * up to date), without the application's round. What the calls sent goes out at once — to
   * the link, and through lo to local sockets, whose readiness changes, as Linux's loopback
   * delivers within the sending syscall — while the events it causes wait for the next
   * round. The loop's deadline follows; a parked loop must still be woken (wake()) if that
   * deadline moved earlier or readiness changed.
   */
  flush(): void {
    const d = this.driver;
    const now = d.stack.now;
    if (this.corks) this.link.cork!();
    this.next = d.stack.poll(now);
    if (this.corks) this.link.uncork!();
    this.pollDue = false;
  }

  /**
   * AsyncDriver: while the loop runs, resolves after its next round with work or at
   * `deadline` (µs); when it is not running, the driver's own wait (it pumps and parks).
   */
  waitAsync(deadline: number): Promise<void> {
    if (this.state !== RUNNING) return this.driver.waitAsync(deadline);
    return new Promise<void>((resolve) => {
      const w = new RoundWaiter(resolve);
      const left = deadline - this.driver.now();
      if (left <= 0) return resolve();
      if (left !== Infinity) w.timer = setTimeout(() => this.release(w), Math.ceil(left / 1000));
      this.waiters.push(w);
    });
  }

  private release(w: RoundWaiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
    w.resolve();
  }

  private wakeWaiters(): void {
    const ws = this.waiters.splice(0);
    for (const w of ws) {
      if (w.timer !== null) clearTimeout(w.timer);
      w.resolve();
    }
  }
}

// The waiting side of a shared-memory doorbell, shared by ShmRing (one ring) and
// ShmSwitchPort (several inbound rings, one bell). Three Int32 words in shared memory:
//   PARKED  the consumer is (about to be) asleep: a producer that publishes and finds it
//           set clears it, adds 1 to BELL and notifies (that side lives with the producer);
//   BELL    a sequence number to sleep on (Atomics.wait / futex);
//   KICK    set by interrupt() from any thread: ends the wait in progress, or the next one.
// One park round raises PARKED, reads BELL, then re-checks for data: a frame published
// after the check finds PARKED set and rings, so no wake-up is lost. Cross-process bells
// (a named segment) wait and wake with the native addon's futex, which reaches other
// processes; Atomics.notify does not.

/** Futex calls on shared memory that other processes mapped too (the native addon provides them). */
export interface ShmFutex {
  futexWait(sab: SharedArrayBuffer, byteOffset: number, expected: number, timeoutMs: number): 'ok' | 'not-equal' | 'timed-out';
  futexWaitAsync(sab: SharedArrayBuffer, byteOffset: number, expected: number, timeoutMs: number): Promise<'ok' | 'not-equal' | 'timed-out'>;
  futexWake(sab: SharedArrayBuffer, byteOffset: number, count: number): number;
}

type WaitAsync = (ta: Int32Array, index: number, value: number, timeout?: number) => { async: boolean; value: Promise<'ok' | 'timed-out'> | 'not-equal' | 'timed-out' };
const waitAsync: WaitAsync | undefined = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

/**
 * The longest single futexWaitAsync: it holds a libuv threadpool thread and keeps the
 * process from exiting until it returns, so long waits are taken in slices.
 */
const FUTEX_ASYNC_SLICE_MS = 250;
/**
 * futexWake wakes every sleeper on the bell, not one: only one consumer sleeps there, but an
 * abandoned async wait of it (one that lost a race with a timer and was not awaited) may
 * still be queued, and FUTEX_WAKE of 1 could pick that one.
 */
export const FUTEX_WAKE_ALL = Infinity;

export class Doorbell {
  /** Parks that slept (or were about to). */
  parks = 0;
  /** Waits that ended with data after sleeping. */
  wakeups = 0;
  timeouts = 0;
  /** Waits ended by interrupt() rather than by data or the timeout. */
  interrupts = 0;
  private seq = 0;

  /**
   * `ctl`: the Int32 view holding the words at indexes `parked`, `bell` and `kick`;
   * `isEmpty`: whether no data is waiting; `futex` (cross-process) with `sab` = ctl's buffer.
   */
  constructor(
    private readonly ctl: Int32Array,
    private readonly parked: number,
    private readonly bell: number,
    private readonly kick: number,
    private readonly isEmpty: () => boolean,
    private readonly futex: ShmFutex | null = null,
  ) {}

  private get bellByteOffset(): number {
    return this.ctl.byteOffset + 4 * this.bell;
  }

  /** Ends the wait in progress (it returns false), or the next one. Any thread (or process, with a futex). */
  interrupt(): void {
    const ctl = this.ctl;
    Atomics.store(ctl, this.kick, 1);
    Atomics.add(ctl, this.bell, 1);
    Atomics.notify(ctl, this.bell);
    if (this.futex !== null) this.futex.futexWake(ctl.buffer as SharedArrayBuffer, this.bellByteOffset, FUTEX_WAKE_ALL);
  }

  /** One park round: ms to sleep on the bell (its value in `seq`), 0 when data is there, −1 past the deadline or interrupted. */
  private park(deadline: number): number {
    const ctl = this.ctl;
    Atomics.store(ctl, this.parked, 1);
    this.seq = Atomics.load(ctl, this.bell);
    if (!this.isEmpty()) return 0;
    if (Atomics.load(ctl, this.kick) !== 0) {
      Atomics.store(ctl, this.kick, 0);
      Atomics.store(ctl, this.parked, 0);
      this.interrupts++;
      return -1;
    }
    const left = deadline - performance.now();
    if (left <= 0) {
      Atomics.store(ctl, this.parked, 0);
      this.timeouts++;
      return -1;
    }
    this.parks++;
    return left;
  }

  /** Data arrived after `slept` sleeps or none: lower the flag and count the wake-up. */
  private unpark(slept: boolean): true {
    Atomics.store(this.ctl, this.parked, 0);
    if (slept) this.wakeups++;
    return true;
  }

  /** In a worker (blocks the thread): sleeps until data arrives or `timeoutMs` passes; false on timeout or interrupt. */
  wait(timeoutMs: number): boolean {
    if (!this.isEmpty()) return true;
    const deadline = performance.now() + timeoutMs;
    let slept = false;
    for (;;) {
      const left = this.park(deadline);
      if (left < 0) return false;
      if (left === 0) return this.unpark(slept);
      slept = true;
      // A bell rung for an earlier park can wake this one early: loop and re-check.
      if (this.futex !== null) this.futex.futexWait(this.ctl.buffer as SharedArrayBuffer, this.bellByteOffset, this.seq, left);
      else Atomics.wait(this.ctl, this.bell, this.seq, left);
    }
  }

  /** On the main thread: as wait() with Atomics.waitAsync (or futexWaitAsync), so the event loop keeps running. One wait at a time. */
  async waitAsync(timeoutMs: number): Promise<boolean> {
    if (!this.isEmpty()) return true;
    const futex = this.futex;
    if (futex === null && waitAsync === undefined) throw new Error('Atomics.waitAsync is not available in this runtime');
    const deadline = performance.now() + timeoutMs;
    let slept = false;
    for (;;) {
      const left = this.park(deadline);
      if (left < 0) return false;
      if (left === 0) return this.unpark(slept);
      slept = true;
      if (futex !== null) await futex.futexWaitAsync(this.ctl.buffer as SharedArrayBuffer, this.bellByteOffset, this.seq, Math.min(left, FUTEX_ASYNC_SLICE_MS));
      else {
        const r = waitAsync!(this.ctl, this.bell, this.seq, left);
        if (r.async) await r.value;
      }
    }
  }
}

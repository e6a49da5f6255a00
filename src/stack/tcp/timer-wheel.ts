// Timers for every connection of a stack in one structure, so that poll() costs what
// expires rather than the number of connections: a hashed timing wheel of 1 ms ticks
// (4096 slots); a timer further than one revolution stays in its slot with its exact
// deadline and is skipped until its turn (Varghese & Lauck's scheme 4). Timers are
// intrusive (linked through their own fields): arming and disarming allocate nothing.

export class Timer {
  at = Infinity;
  /** @internal Links in the slot list. */
  next: Timer | null = null;
  prev: Timer | null = null;
  slot = -1;
  /** @internal Arm order, for ties. */
  seq = 0;
  constructor(
    readonly owner: unknown,
    readonly kind: number,
  ) {}
  get armed(): boolean {
    return this.slot >= 0;
  }
}

const SLOTS = 4096;

function byDeadline(x: Timer, y: Timer): number {
  return x.at - y.at || x.seq - y.seq;
}

export class TimerWheel {
  private readonly heads: (Timer | null)[] = new Array<Timer | null>(SLOTS).fill(null);
  private count = 0;
  private armSeq = 0;
  /** The current tick: slots before it are processed; its own slot is looked at again by each advance. */
  private tick = 0;
  private earliest = Infinity;
  private readonly due: Timer[] = [];

  constructor(private readonly tickUs = 1000) {}

  get size(): number {
    return this.count;
  }

  arm(t: Timer, at: number): void {
    if (t.slot >= 0) this.unlink(t);
    t.at = at;
    t.seq = ++this.armSeq;
    let tick = Math.floor(at / this.tickUs);
    if (tick < this.tick) tick = this.tick; // already past: the current slot, looked at by every advance
    const slot = tick % SLOTS;
    t.slot = slot;
    t.prev = null;
    t.next = this.heads[slot]!;
    if (t.next) t.next.prev = t;
    this.heads[slot] = t;
    this.count++;
    if (at < this.earliest) this.earliest = at;
  }

  disarm(t: Timer): void {
    if (t.slot < 0) return;
    this.unlink(t);
    t.at = Infinity;
  }

  private unlink(t: Timer): void {
    if (t.prev) t.prev.next = t.next;
    else this.heads[t.slot] = t.next;
    if (t.next) t.next.prev = t.prev;
    t.next = t.prev = null;
    t.slot = -1;
    this.count--;
  }

  /** A lower bound on the earliest deadline (exact unless the earliest timer was disarmed): never later than the truth. */
  next(): number {
    return this.count === 0 ? Infinity : this.earliest;
  }

  /** Fires every timer due at `now`, in deadline order (ties in arm order); a fired timer is disarmed first. */
  advance(now: number, fire: (t: Timer) => void): void {
    if (this.count === 0) {
      this.tick = Math.max(this.tick, Math.floor(now / this.tickUs));
      this.earliest = Infinity;
      return;
    }
    if (now < this.earliest) return;
    const target = Math.floor(now / this.tickUs);
    const due = this.due;
    due.length = 0;
    // Visit each slot at most once per call, from the current tick (which may hold timers
    // armed for a moment already reached) to the target.
    const from = Math.max(this.tick, 0);
    const steps = Math.min(target - from + 1, SLOTS);
    for (let k = 0; k < steps; k++) {
      const slot = (from + k) % SLOTS;
      for (let t: Timer | null = this.heads[slot]!; t !== null; ) {
        const nx: Timer | null = t.next;
        if (t.at <= now) due.push(t);
        t = nx;
      }
    }
    this.tick = target;
    for (const t of due) this.unlink(t);
    due.sort(byDeadline);
    for (const t of due) {
      t.at = Infinity;
      fire(t);
    }
    due.length = 0;
    this.recomputeEarliest(now);
  }

  private recomputeEarliest(now: number): void {
    let e = Infinity;
    if (this.count > 0) {
      // Scan forward from the current tick for the first slot holding a timer; a full revolution bounds it.
      const start = Math.floor(now / this.tickUs);
      for (let k = 0; k < SLOTS; k++) {
        for (let t: Timer | null = this.heads[(start + k) % SLOTS]!; t !== null; t = t.next) if (t.at < e) e = t.at;
        if (e !== Infinity && e <= (start + k + 1) * this.tickUs) break;
      }
    }
    this.earliest = e;
  }
}

// Timers for every connection of a stack in one structure, so that advance() costs what
// expires rather than the number of timers: a hierarchical timing wheel (Varghese &
// Lauck's scheme 7, as in Linux before 4.8) of four levels of 256 slots over ticks of
// `tickUs`, covering 2^32 ticks ahead; anything further waits in an overflow list.
//
// - Level l holds timers whose tick is less than 256^(l+1) ticks ahead when placed, in
//   slot floor(tick / 256^l) mod 256. That slot is cascaded (its timers placed again, one
//   level lower or into the ready heap) when the current tick reaches the start of the
//   timer's level-l period, so each timer moves at most four times.
// - An occupancy bitmap per level finds the next non-empty slot in a few word operations,
//   so advance() jumps straight over idle stretches instead of stepping every tick.
// - Timers of the current tick (and late arms, whose deadline already passed) sit in a
//   small binary heap ordered by (deadline, arm order), which gives the exact firing order
//   inside a tick.
//
// Timers are intrusive (linked through their own fields): arming and disarming allocate
// nothing. arm() is O(1) into the wheel, O(log n) into the current tick's heap.

const SLOTS = 256;
const LEVELS = 4;
/** Ticks per slot at each level; SPAN[LEVELS] = 2^32, the reach of the wheel. */
const SPAN = [1, 256, 65536, 16777216, 4294967296] as const;
const OVERFLOW = LEVELS * SLOTS;
const READY = OVERFLOW + 1;
const IDLE = -1;

export class Timer {
  /** Deadline in µs while armed; Infinity when not armed. */
  at = Infinity;
  /** @internal Links in a slot list. */
  next: Timer | null = null;
  /** @internal */
  prev: Timer | null = null;
  /** @internal Slot index (level * 256 + slot), OVERFLOW, READY, or IDLE. */
  where = IDLE;
  /** @internal Arm order, for ties. */
  seq = 0;
  /** @internal Position in the ready heap. */
  heapIndex = -1;
  constructor(
    readonly owner: unknown,
    readonly kind: number,
  ) {}
  get armed(): boolean {
    return this.where >= 0;
  }
}

function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

export class TimerWheel {
  private readonly heads: (Timer | null)[] = new Array<Timer | null>(OVERFLOW + 1).fill(null);
  /** One bit per slot: 8 words per level. */
  private readonly bits = new Uint32Array(LEVELS * 8);
  /** Earliest deadline per slot list, valid unless marked stale (its holder was removed). */
  private readonly slotMin = new Float64Array(OVERFLOW + 1).fill(Infinity);
  private readonly slotStale = new Uint8Array(OVERFLOW + 1);
  /**
   * Slot lists known to be in non-increasing order of deadline from head to tail, so that
   * the tail holds the minimum. Timers are mostly armed in deadline order (each at the head)
   * and leave in deadline order, from the tail: then removing the earliest costs O(1) rather
   * than a rescan of the slot, which made closing 100,000 connections quadratic.
   */
  private readonly slotSorted = new Uint8Array(OVERFLOW + 1);
  private readonly tails: (Timer | null)[] = new Array<Timer | null>(OVERFLOW + 1).fill(null);
  /** Scratch for sorting a slot's list. */
  private readonly sortScratch: Timer[] = [];
  private readonly heap: (Timer | null)[] = [];
  private heapLen = 0;
  private count = 0;
  private armSeq = 0;
  /** Every tick before this one has been processed; timers with tick <= cur are in the heap. */
  private cur = 0;
  private cachedNext = Infinity;
  private cacheValid = true;

  constructor(readonly tickUs = 1000) {}

  /** Armed timers. */
  get size(): number {
    return this.count;
  }

  /** Arms t for deadline `at` (µs), moving it if already armed. A non-finite `at` disarms. */
  arm(t: Timer, at: number): void {
    if (t.where !== IDLE) this.remove(t);
    if (!(at < Infinity)) {
      t.at = Infinity;
      return;
    }
    t.at = at;
    t.seq = ++this.armSeq;
    this.count++;
    this.place(t);
    if (this.cacheValid && at < this.cachedNext) this.cachedNext = at;
  }

  disarm(t: Timer): void {
    if (t.where === IDLE) return;
    this.remove(t);
    t.at = Infinity;
  }

  /**
   * The earliest pending deadline, or Infinity: exact, not a bound. Cached; when the cache
   * is stale it takes the ready heap's top or, failing that, the cached minimum of the
   * first non-empty slot of each level (skipping levels that cannot hold anything earlier;
   * a slot is rescanned only after its earliest timer was removed).
   */
  next(): number {
    if (this.cacheValid) return this.cachedNext;
    let best = Infinity;
    if (this.count > 0) {
      if (this.heapLen > 0) best = this.heap[0]!.at;
      else best = this.wheelMin();
    }
    this.cachedNext = best;
    this.cacheValid = true;
    return best;
  }

  /**
   * Fires every timer with at <= now, in order of `at`, ties in arm order. A fired timer
   * is disarmed before its callback, which may arm it (or any other) again; one armed for
   * a moment <= now fires within this same call.
   */
  advance(now: number, fire: (t: Timer) => void): void {
    const target = Math.floor(now / this.tickUs);
    if (this.count === 0) {
      if (target > this.cur) this.cur = target;
      return;
    }
    for (;;) {
      while (this.heapLen > 0) {
        const t = this.heap[0]!;
        if (!(t.at <= now)) break;
        this.heapRemove(0);
        t.where = IDLE;
        t.at = Infinity;
        this.count--;
        this.cacheValid = false;
        fire(t);
      }
      if (this.cur >= target) return;
      const nt = this.nextEventTick();
      if (nt > target) {
        this.cur = target;
        return;
      }
      this.cur = nt;
      this.cascade(nt);
    }
  }

  // ---- placement ----

  private tickOf(at: number): number {
    return Math.floor(at / this.tickUs);
  }

  private place(t: Timer): void {
    const tick = this.tickOf(t.at);
    const delta = tick - this.cur;
    if (delta <= 0) {
      this.heapPush(t);
      return;
    }
    let idx: number;
    if (delta < SPAN[1]) idx = tick % SLOTS;
    else if (delta < SPAN[2]) idx = SLOTS + (Math.floor(tick / SPAN[1]) % SLOTS);
    else if (delta < SPAN[3]) idx = 2 * SLOTS + (Math.floor(tick / SPAN[2]) % SLOTS);
    else if (delta < SPAN[4]) idx = 3 * SLOTS + (Math.floor(tick / SPAN[3]) % SLOTS);
    else idx = OVERFLOW;
    const head = this.heads[idx]!;
    t.where = idx;
    t.prev = null;
    t.next = head;
    if (head !== null) {
      head.prev = t;
      if (t.at < head.at) this.slotSorted[idx] = 0;
    } else {
      if (idx < OVERFLOW) this.bits[idx >>> 5]! |= 1 << (idx & 31);
      this.tails[idx] = t;
      this.slotSorted[idx] = 1;
    }
    this.heads[idx] = t;
    if (t.at < this.slotMin[idx]!) {
      // Below the cached minimum (even a stale one, which bounds what is left): exact again.
      this.slotMin[idx] = t.at;
      this.slotStale[idx] = 0;
    }
  }

  private remove(t: Timer): void {
    const w = t.where;
    if (w === READY) this.heapRemove(t.heapIndex);
    else {
      if (t.prev !== null) t.prev.next = t.next;
      else {
        this.heads[w] = t.next;
        if (t.next === null && w < OVERFLOW) this.bits[w >>> 5]! &= ~(1 << (w & 31));
      }
      if (t.next !== null) t.next.prev = t.prev;
      else this.tails[w] = t.prev;
      t.next = t.prev = null;
      if (this.heads[w] === null) {
        this.slotMin[w] = Infinity;
        this.slotStale[w] = 0;
      } else if (this.slotSorted[w] !== 0) {
        this.slotMin[w] = this.tails[w]!.at;
        this.slotStale[w] = 0;
      } else if (t.at === this.slotMin[w]) this.slotStale[w] = 1;
    }
    t.where = IDLE;
    this.count--;
    if (this.cacheValid && t.at === this.cachedNext) this.cacheValid = false;
  }

  /** Takes a slot's list and places each timer again relative to the current tick. */
  private replaceSlot(idx: number): void {
    let t: Timer | null = this.heads[idx]!;
    if (t === null) return;
    this.heads[idx] = null;
    this.tails[idx] = null;
    this.slotMin[idx] = Infinity;
    this.slotStale[idx] = 0;
    if (idx < OVERFLOW) this.bits[idx >>> 5]! &= ~(1 << (idx & 31));
    while (t !== null) {
      const nx: Timer | null = t.next;
      t.next = t.prev = null;
      this.place(t);
      t = nx;
    }
  }

  /** At tick nt: overflow, then every level whose period starts here, then level 0's slot. */
  private cascade(nt: number): void {
    if (this.heads[OVERFLOW] !== null) this.replaceSlot(OVERFLOW);
    for (let l = LEVELS - 1; l >= 1; l--) {
      if (nt % SPAN[l]! === 0) this.replaceSlot(l * SLOTS + (Math.floor(nt / SPAN[l]!) % SLOTS));
    }
    this.replaceSlot(nt % SLOTS);
  }

  /** Distance from `start` to the first occupied slot of a level, cyclically; -1 if none. */
  private scan(level: number, start: number): number {
    const bits = this.bits;
    const base = level * 8;
    const w0 = start >>> 5;
    let word = bits[base + w0]! & (-1 << (start & 31));
    if (word !== 0) return (w0 << 5) + ctz(word) - start;
    for (let k = 1; k <= 8; k++) {
      const wi = (w0 + k) & 7;
      word = bits[base + wi]!;
      if (k === 8) word &= ~(-1 << (start & 31)); // back at the first word: the bits below start
      if (word !== 0) return ((wi << 5) + ctz(word) - start + SLOTS) & (SLOTS - 1);
    }
    return -1;
  }

  /** The earliest tick after cur at which a level-0 slot is due or a non-empty slot cascades. */
  private nextEventTick(): number {
    const cur = this.cur;
    let best = Infinity;
    const d0 = this.scan(0, (cur + 1) % SLOTS);
    if (d0 >= 0) best = cur + 1 + d0;
    for (let l = 1; l < LEVELS; l++) {
      const q = Math.floor(cur / SPAN[l]!);
      if ((q + 1) * SPAN[l]! >= best) break; // higher levels cascade later still
      const d = this.scan(l, (q + 1) % SLOTS);
      if (d >= 0) {
        const m = (q + 1 + d) * SPAN[l]!;
        if (m < best) best = m;
      }
    }
    if (this.heads[OVERFLOW] !== null) {
      // An overflow timer comes into reach at the last multiple of 2^32 ticks before it.
      for (let t: Timer | null = this.heads[OVERFLOW]!; t !== null; t = t.next) {
        const m = Math.max(Math.floor(this.tickOf(t.at) / SPAN[4]) * SPAN[4], cur + 1);
        if (m < best) best = m;
      }
    }
    return best;
  }

  /** Minimum deadline over the wheel (heap empty): the first occupied slot of each level holds that level's earliest. */
  private wheelMin(): number {
    const cur = this.cur;
    const tickUs = this.tickUs;
    let best = Infinity;
    const d0 = this.scan(0, (cur + 1) % SLOTS);
    if (d0 >= 0) best = this.listMin((cur + 1 + d0) % SLOTS, best);
    for (let l = 1; l < LEVELS; l++) {
      const q = Math.floor(cur / SPAN[l]!);
      const d = this.scan(l, (q + 1) % SLOTS);
      if (d < 0) continue;
      // Everything in that slot is due at or after the start of its period.
      if ((q + 1 + d) * SPAN[l]! * tickUs >= best) continue;
      best = this.listMin(l * SLOTS + ((q + 1 + d) % SLOTS), best);
    }
    best = this.listMin(OVERFLOW, best);
    return best;
  }

  /** min(best, the earliest deadline in a slot), rescanning the slot only when its cached minimum went stale. */
  private listMin(idx: number, best: number): number {
    if (this.slotStale[idx] !== 0) {
      this.sortSlot(idx);
      this.slotMin[idx] = this.tails[idx]!.at;
      this.slotStale[idx] = 0;
    }
    const m = this.slotMin[idx]!;
    return m < best ? m : best;
  }

  /** Orders a slot's list by deadline, latest first, so later removals of the earliest cost O(1). */
  private sortSlot(idx: number): void {
    const a = this.sortScratch;
    a.length = 0;
    for (let t: Timer | null = this.heads[idx]!; t !== null; t = t.next) a.push(t);
    a.sort((x, y) => y.at - x.at || y.seq - x.seq);
    let prev: Timer | null = null;
    for (let i = 0; i < a.length; i++) {
      const t = a[i]!;
      t.prev = prev;
      t.next = null;
      if (prev !== null) prev.next = t;
      prev = t;
    }
    this.heads[idx] = a[0]!;
    this.tails[idx] = prev;
    this.slotSorted[idx] = 1;
    a.length = 0;
  }

  // ---- the ready heap, ordered by (at, seq) ----

  private static before(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private heapPush(t: Timer): void {
    t.where = READY;
    const heap = this.heap;
    let i = this.heapLen++;
    if (i === heap.length) heap.push(null);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = heap[p]!;
      if (!TimerWheel.before(t, pt)) break;
      heap[i] = pt;
      pt.heapIndex = i;
      i = p;
    }
    heap[i] = t;
    t.heapIndex = i;
  }

  private heapRemove(i: number): void {
    const heap = this.heap;
    const removed = heap[i]!;
    const last = heap[--this.heapLen]!;
    heap[this.heapLen] = null;
    removed.heapIndex = -1;
    if (last === removed) return;
    // Put `last` at i, then sift up or down.
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = heap[p]!;
      if (!TimerWheel.before(last, pt)) break;
      heap[i] = pt;
      pt.heapIndex = i;
      i = p;
    }
    const n = this.heapLen;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && TimerWheel.before(heap[r]!, heap[l]!) ? r : l;
      const ct = heap[c]!;
      if (!TimerWheel.before(ct, last)) break;
      heap[i] = ct;
      ct.heapIndex = i;
      i = c;
    }
    heap[i] = last;
    last.heapIndex = i;
  }
}

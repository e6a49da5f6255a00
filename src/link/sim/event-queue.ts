// A binary min-heap of events ordered by (time, insertion sequence), so that events
// at the same instant run in the order they were scheduled: runs are deterministic.

export class EventQueue<T> {
  private times: number[] = [];
  private seqs: number[] = [];
  private items: T[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.items.length;
  }
  peekTime(): number {
    return this.items.length ? this.times[0]! : Infinity;
  }
  push(time: number, item: T): void {
    let i = this.items.length;
    this.times.push(time);
    this.seqs.push(this.nextSeq++);
    this.items.push(item);
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  /** Removes and returns the earliest item; call only when size > 0. */
  pop(): T {
    const top = this.items[0]!;
    const last = this.items.length - 1;
    this.swap(0, last);
    this.times.pop();
    this.seqs.pop();
    this.items.pop();
    let i = 0;
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
  private less(i: number, j: number): boolean {
    const ti = this.times[i]!, tj = this.times[j]!;
    return ti < tj || (ti === tj && this.seqs[i]! < this.seqs[j]!);
  }
  private swap(i: number, j: number): void {
    const t = this.times[i]!; this.times[i] = this.times[j]!; this.times[j] = t;
    const s = this.seqs[i]!; this.seqs[i] = this.seqs[j]!; this.seqs[j] = s;
    const x = this.items[i]!; this.items[i] = this.items[j]!; this.items[j] = x;
  }
}

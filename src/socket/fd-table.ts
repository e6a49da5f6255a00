// The descriptor table: lowest free number first (as Linux's alloc_fd), a per-descriptor
// close-on-exec flag, and a limit like RLIMIT_NOFILE past which allocation is EMFILE.
// A bitmap of used numbers with a "next free" hint keeps allocation O(1) amortized at
// hundreds of thousands of descriptors.

import { Errno } from '../errno.js';
import { Epoll, EpItem } from './epoll.js';
import type { OpenFile } from './file.js';

export class FdTable {
  private files: (OpenFile | null)[] = [];
  private cloexec = new Uint8Array(64);
  private used = new Uint32Array(4);
  /** No free descriptor below this (Linux's next_fd). */
  private nextFree: number;
  /** Open descriptors. */
  count = 0;

  constructor(
    /** Descriptors below this are not ours (0–2: a process's standard streams). */
    readonly first: number,
    /** RLIMIT_NOFILE: descriptors are below this. */
    readonly limit: number,
  ) {
    this.nextFree = first;
  }

  /** The table's extent: one past the highest descriptor ever used. */
  get size(): number {
    return this.files.length;
  }

  get(fd: number): OpenFile | null {
    if (!(fd >= 0 && fd < this.files.length)) return null; // also rejects NaN and non-integers below
    return this.files[fd] ?? null;
  }

  isCloexec(fd: number): boolean {
    return this.get(fd) !== null && this.cloexec[fd] === 1;
  }

  setCloexec(fd: number, on: boolean): void {
    this.grow(fd);
    this.cloexec[fd] = on ? 1 : 0;
  }

  /** The lowest free descriptor ≥ min, or −EMFILE. */
  lowestFree(min: number): number {
    let fd = Math.max(min, this.first);
    if (fd === this.first || fd < this.nextFree) fd = Math.max(fd, this.nextFree);
    const used = this.used;
    for (;;) {
      const w = fd >>> 5;
      if (w >= used.length) break;
      const bits = used[w]! | ((1 << (fd & 31)) - 1);
      if (bits !== -1) {
        fd = (w << 5) + ctz(~bits);
        break;
      }
      fd = (w + 1) << 5;
    }
    return fd < this.limit ? fd : -Errno.EMFILE;
  }

  /** Installs `file` at the lowest free descriptor ≥ min; returns it or −EMFILE. */
  alloc(file: OpenFile, cloexec: boolean, min = this.first): number {
    const fd = this.lowestFree(min);
    if (fd < 0) return fd;
    this.install(fd, file, cloexec);
    return fd;
  }

  /** Puts `file` at `fd` (which must be free). */
  install(fd: number, file: OpenFile, cloexec: boolean): void {
    this.grow(fd);
    this.files[fd] = file;
    this.cloexec[fd] = cloexec ? 1 : 0;
    this.used[fd >>> 5]! |= 1 << (fd & 31);
    file.refs++;
    this.count++;
    if (fd === this.nextFree) this.nextFree = fd + 1;
  }

  /** Removes descriptor `fd`; the file is released with its last descriptor. Returns 0 or −EBADF. */
  close(fd: number): number {
    const f = this.get(fd);
    if (f === null) return -Errno.EBADF;
    this.files[fd] = null;
    this.cloexec[fd] = 0;
    this.used[fd >>> 5]! &= ~(1 << (fd & 31));
    this.count--;
    if (fd < this.nextFree) this.nextFree = fd;
    drop(f);
    return 0;
  }

  /** Every open descriptor, ascending. */
  *descriptors(): IterableIterator<number> {
    for (let fd = 0; fd < this.files.length; fd++) if (this.files[fd] != null) yield fd;
  }

  private grow(fd: number): void {
    while (this.files.length <= fd) this.files.push(null);
    if (fd >= this.cloexec.length) {
      const c = new Uint8Array(Math.max(fd + 1, this.cloexec.length * 2));
      c.set(this.cloexec);
      this.cloexec = c;
    }
    if (fd >>> 5 >= this.used.length) {
      const u = new Uint32Array(Math.max((fd >>> 5) + 1, this.used.length * 2));
      u.set(this.used);
      this.used = u;
    }
  }
}

/** One reference to `f` went away; with the last, epoll forgets it and it is released (Linux's fput → eventpoll_release). */
export function drop(f: OpenFile): void {
  if (--f.refs > 0) return;
  for (let w = f.firstWaiter; w !== null; w = f.firstWaiter) {
    if (w instanceof EpItem) w.ep.forget(w);
    else f.removeWaiter(w);
  }
  if (f instanceof Epoll) f.release();
  else f.release();
}

/** Count of trailing zero bits of a nonzero 32-bit value. */
function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

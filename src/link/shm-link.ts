// A Link over shared memory: two ShmRings in one SharedArrayBuffer, one per direction.
// Side 'a' transmits on the first ring and receives on the second; side 'b' the reverse.
// Either side may live in another worker_thread: pass `ShmLink.pair()`'s result in
// workerData or postMessage (the SAB is shared, not copied) and construct a ShmLink there.
// A full transmit ring drops the frame and counts it, as a NIC's full tx queue does.
//
// Across processes: ShmLink.createNamed(name) puts the link in a POSIX shared-memory
// segment (the native addon's shmOpen) and ShmLink.openNamed(name) attaches to it from
// another process. The segment starts with a link header so the opener learns and checks
// the geometry:
//
//   Int32 words at byte 0:  0 magic "SLNK" (stored last: the segment is ready)
//                           1 version   2 header bytes (256)   3 mtu
//                           4 ring capacity (data bytes of each ring)
//                           5 creator's pid   6 flags (bit 0: cross-process doorbells)
//   byte 256:               ring a→b, then ring b→a (ShmRing layout, each bytesFor(capacity))
//
// Both rings then ring their doorbells with a shared futex as well (ShmRing's ShmFutex),
// since Atomics.notify does not reach another process. The SharedArrayBuffer can still be
// handed to worker threads of either process (`link.shared`), which attach the same way.

import type { Link } from './link.js';
import { ShmRing, ShmRingLayout, type ShmFrameHandler } from './shm-ring.js';
import { requireNativeAddon, type NativeAddon } from '../native/addon.js';

export type ShmSide = 'a' | 'b';

/** What both sides attach to; structured-cloneable. */
export interface ShmLinkShared {
  readonly sab: SharedArrayBuffer;
  readonly mtu: number;
  /** Byte offset of the first ring (0 for pair(); a named segment's link header comes first). */
  readonly ringsAt?: number;
  /** The memory is shared with other processes: doorbells use the native shared futex. */
  readonly crossProcess?: boolean;
  /** The shared-memory segment's name, for messages (named links only). */
  readonly name?: string;
}

/** A named segment's link header (see the top of this file). */
const LINK_MAGIC = 0x534c4e4b; // "SLNK"
const LINK_VERSION = 1;
const LINK_HEADER_BYTES = 256;
const W_LINK_MAGIC = 0;
const W_LINK_VERSION = 1;
const W_LINK_HEADER_BYTES = 2;
const W_LINK_MTU = 3;
const W_LINK_CAPACITY = 4;
const W_LINK_CREATOR_PID = 5;
const W_LINK_FLAGS = 6;
const FLAG_CROSS_PROCESS = 1;

const ETH_HEADER = 14;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
/** Ethernet header plus two VLAN tags: the longest L2 header transmit() accepts beyond the MTU. */
const MAX_L2_HEADER = ETH_HEADER + 8;

/** Bytes before the payload: the Ethernet header and its 802.1Q/802.1ad tags. */
function l2HeaderLength(f: Uint8Array): number {
  let type = (f[12]! << 8) | f[13]!;
  let n = ETH_HEADER;
  if ((type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) && f.length >= n + 4) {
    n += 4;
    type = (f[16]! << 8) | f[17]!;
    if (type === ETHERTYPE_VLAN && f.length >= n + 4) n += 4;
  }
  return n;
}

function checkGeometry(capacityBytes: number, mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 68) throw new RangeError(`ShmLink mtu must be an integer >= 68, got ${mtu}`);
  const cap = ShmRing.bytesFor(capacityBytes) - ShmRingLayout.HEADER_BYTES; // rounded up to a power of two
  if (mtu + MAX_L2_HEADER > cap / 2 - 4) {
    throw new RangeError(`ShmLink ring of ${cap} bytes cannot hold a ${mtu + MAX_L2_HEADER}-byte frame (needs ${2 * (mtu + MAX_L2_HEADER + 4)})`);
  }
}

function errnoCode(e: unknown): string | undefined {
  return (e as { code?: unknown }).code as string | undefined;
}

export class ShmLink implements Link {
  /** Memory, not a wire: nothing can damage a frame between the two stacks. */
  readonly rxChecksumVerified = true;
  /** Allocates the shared buffer for a pair: two rings of at least `capacityBytes` each. */
  static pair(capacityBytes = 1 << 20, mtu = 1500): ShmLinkShared {
    checkGeometry(capacityBytes, mtu);
    const one = ShmRing.bytesFor(capacityBytes);
    const sab = new SharedArrayBuffer(2 * one);
    ShmRing.format(sab, 0, capacityBytes);
    ShmRing.format(sab, one, capacityBytes);
    return { sab, mtu };
  }

  /**
   * Creates the named shared-memory segment `name` ('/name' or 'name', see shm_overview(7))
   * holding a link of two rings of at least `capacityBytes`, and returns side 'a' of it
   * (or `side`). Another process attaches with openNamed(name). Fails with code 'EEXIST'
   * if the name is taken (a stale segment: unlinkNamed it). The creator should unlinkNamed
   * the name when done (the memory lives on while either side has it mapped).
   * Needs the native addon.
   */
  static createNamed(name: string, capacityBytes = 1 << 20, mtu = 1500, side: ShmSide = 'a'): ShmLink {
    const addon = requireNativeAddon('A cross-process ShmLink (createNamed)');
    checkGeometry(capacityBytes, mtu);
    const one = ShmRing.bytesFor(capacityBytes);
    const sab = addon.shmOpen(name, LINK_HEADER_BYTES + 2 * one, true);
    let link: ShmLink;
    try {
      const cap = ShmRing.format(sab, LINK_HEADER_BYTES, capacityBytes);
      ShmRing.format(sab, LINK_HEADER_BYTES + one, capacityBytes);
      const h = new Int32Array(sab, 0, LINK_HEADER_BYTES >> 2);
      h[W_LINK_VERSION] = LINK_VERSION;
      h[W_LINK_HEADER_BYTES] = LINK_HEADER_BYTES;
      h[W_LINK_MTU] = mtu;
      h[W_LINK_CAPACITY] = cap;
      h[W_LINK_CREATOR_PID] = process.pid;
      h[W_LINK_FLAGS] = FLAG_CROSS_PROCESS;
      // Last, and seq-cst: an opener that sees the magic sees the whole header and both rings.
      Atomics.store(h, W_LINK_MAGIC, LINK_MAGIC);
      link = new ShmLink({ sab, mtu, ringsAt: LINK_HEADER_BYTES, crossProcess: true, name }, side, addon);
    } catch (e) {
      addon.shmUnlink(name);
      throw e;
    }
    return link;
  }

  /**
   * Attaches to the link in the named segment made by createNamed() (in this or another
   * process), as side 'b' (or `side`). Checks the header: magic, version and geometry.
   * Needs the native addon.
   */
  static openNamed(name: string, side: ShmSide = 'b'): ShmLink {
    const addon = requireNativeAddon('A cross-process ShmLink (openNamed)');
    let sab: SharedArrayBuffer;
    try {
      sab = addon.shmOpen(name, 0, false);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') (e as Error).message = `no ShmLink segment '${name}': ${(e as Error).message}; createNamed() it first`;
      throw e;
    }
    const where = `shared-memory segment '${name}'`;
    if (sab.byteLength < LINK_HEADER_BYTES) throw new Error(`${where} is ${sab.byteLength} bytes: too small for a ShmLink`);
    const h = new Int32Array(sab, 0, LINK_HEADER_BYTES >> 2);
    const magic = Atomics.load(h, W_LINK_MAGIC);
    if (magic === 0) throw new Error(`${where} holds no ShmLink yet (magic 0): its creator has not finished createNamed()`);
    if (magic !== LINK_MAGIC) throw new Error(`${where} is not a ShmLink (magic 0x${(magic >>> 0).toString(16)}, expected 0x${LINK_MAGIC.toString(16)})`);
    const version = h[W_LINK_VERSION]!;
    if (version !== LINK_VERSION) throw new Error(`${where} holds a version ${version} ShmLink; this code reads version ${LINK_VERSION}`);
    const mtu = h[W_LINK_MTU]!;
    const cap = h[W_LINK_CAPACITY]!;
    const headerBytes = h[W_LINK_HEADER_BYTES]!;
    const expected = headerBytes + 2 * (ShmRingLayout.HEADER_BYTES + cap);
    if (headerBytes !== LINK_HEADER_BYTES || cap < 64 || (cap & (cap - 1)) !== 0 || sab.byteLength !== expected) {
      throw new Error(`${where} has an inconsistent ShmLink header: header ${headerBytes} bytes, rings of ${cap}, segment ${sab.byteLength} bytes (expected ${expected})`);
    }
    checkGeometry(cap, mtu);
    if ((h[W_LINK_FLAGS]! & FLAG_CROSS_PROCESS) === 0) throw new Error(`${where} is not marked for cross-process doorbells`);
    return new ShmLink({ sab, mtu, ringsAt: LINK_HEADER_BYTES, crossProcess: true, name }, side, addon);
  }

  /**
   * Removes the segment's name (shm_unlink): new openNamed() calls fail, mapped links keep
   * working. Returns false if there was no such segment. Needs the native addon.
   */
  static unlinkNamed(name: string): boolean {
    const addon = requireNativeAddon('ShmLink.unlinkNamed');
    try {
      addon.shmUnlink(name);
      return true;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return false;
      throw e;
    }
  }

  readonly mtu: number;
  readonly side: ShmSide;
  /** This side's transmit ring (its producer) and receive ring (its consumer). */
  readonly tx: ShmRing;
  readonly rx: ShmRing;
  /** Idle receivers can sleep on a doorbell: waitForData / waitForDataAsync. */
  readonly canPark = true;

  /** Frames dropped because the transmit ring was full. */
  txDrops = 0;
  /** Frames refused as malformed: shorter than an Ethernet header or longer than the MTU. */
  txErrors = 0;

  /** What another thread attaches to (new ShmLink(link.shared, otherSide)); structured-cloneable. */
  readonly shared: ShmLinkShared;
  /** Doorbells reach other processes (a named segment); needs the native addon. */
  readonly crossProcess: boolean;

  private corked = false;

  /**
   * Attaches `side` of a link. A cross-process `shared` (from a named segment, maybe passed
   * to this worker thread) needs the native addon for its doorbells and throws without it.
   */
  constructor(shared: ShmLinkShared, side: ShmSide, addon?: NativeAddon) {
    this.mtu = shared.mtu;
    this.side = side;
    this.shared = shared;
    this.crossProcess = shared.crossProcess === true;
    const futex = this.crossProcess ? (addon ?? requireNativeAddon(`The cross-process ShmLink '${shared.name ?? ''}'`)) : null;
    const at = shared.ringsAt ?? 0;
    const first = ShmRing.attach(shared.sab, at, futex);
    const second = ShmRing.attach(shared.sab, at + ShmRing.bytesFor(first.capacity), futex);
    this.tx = side === 'a' ? first : second;
    this.rx = side === 'a' ? second : first;
  }

  get txFrames(): number {
    return this.tx.pushedFrames;
  }
  get txBytes(): number {
    return this.tx.pushedBytes;
  }
  get rxFrames(): number {
    return this.rx.drainedFrames;
  }
  get rxBytes(): number {
    return this.rx.drainedBytes;
  }

  /** Copies the frame into the transmit ring; published at once unless corked. */
  transmit(frame: Uint8Array): void {
    const len = frame.length;
    if (len < ETH_HEADER || len - l2HeaderLength(frame) > this.mtu) {
      this.txErrors++;
      return;
    }
    if (!this.tx.stage(frame, 0, len)) {
      this.txDrops++;
      // Let the peer see what is staged so it can free space.
      if (this.corked) this.tx.publish();
      return;
    }
    if (!this.corked) this.tx.publish();
  }

  /** Holds transmitted frames back until uncork(), so a batch costs one publish and at most one doorbell. */
  cork(): void {
    this.corked = true;
  }

  uncork(): void {
    this.corked = false;
    if (this.tx.stagedBytes !== 0) this.tx.publish();
  }

  /** Hands up to `max` received frames to `handler` as views (valid until receive returns); returns how many. */
  receive(handler: ShmFrameHandler, max: number): number {
    return this.rx.drain(handler, max);
  }

  /** In a worker: sleeps until a frame arrives or `timeoutMs` passes; returns whether one is waiting. */
  waitForData(timeoutMs: number): boolean {
    return this.rx.waitForData(timeoutMs);
  }

  /** On the main thread: as waitForData, without blocking the event loop. */
  waitForDataAsync(timeoutMs: number): Promise<boolean> {
    return this.rx.waitForDataAsync(timeoutMs);
  }

  /**
   * Ends this side's wait in progress (it returns false), or its next one. Any thread may
   * call it on its own ShmLink of the same side (the constructor only attaches views).
   */
  interruptWait(): void {
    this.rx.interruptWait();
  }
}

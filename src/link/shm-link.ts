// A Link over shared memory: two ShmRings in one SharedArrayBuffer, one per direction.
// Side 'a' transmits on the first ring and receives on the second; side 'b' the reverse.
// Either side may live in another worker_thread: pass `ShmLink.pair()`'s result in
// workerData or postMessage (the SAB is shared, not copied) and construct a ShmLink there.
// A full transmit ring drops the frame and counts it, as a NIC's full tx queue does.

import type { Link } from './link.js';
import { ShmRing, type ShmFrameHandler } from './shm-ring.js';

export type ShmSide = 'a' | 'b';

/** What both sides attach to; structured-cloneable. */
export interface ShmLinkShared {
  readonly sab: SharedArrayBuffer;
  readonly mtu: number;
}

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

export class ShmLink implements Link {
  /** Allocates the shared buffer for a pair: two rings of at least `capacityBytes` each. */
  static pair(capacityBytes = 1 << 20, mtu = 1500): ShmLinkShared {
    if (!Number.isInteger(mtu) || mtu < 68) throw new RangeError(`ShmLink mtu must be an integer >= 68, got ${mtu}`);
    const one = ShmRing.bytesFor(capacityBytes);
    const sab = new SharedArrayBuffer(2 * one);
    const cap = ShmRing.format(sab, 0, capacityBytes);
    ShmRing.format(sab, one, capacityBytes);
    if (mtu + MAX_L2_HEADER > cap / 2 - 4) {
      throw new RangeError(`ShmLink ring of ${cap} bytes cannot hold a ${mtu + MAX_L2_HEADER}-byte frame (needs ${2 * (mtu + MAX_L2_HEADER + 4)})`);
    }
    return { sab, mtu };
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

  private corked = false;

  constructor(shared: ShmLinkShared, side: ShmSide) {
    this.mtu = shared.mtu;
    this.side = side;
    const first = ShmRing.attach(shared.sab, 0);
    const second = ShmRing.attach(shared.sab, ShmRing.bytesFor(first.capacity));
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
}

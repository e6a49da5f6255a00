// The TypeScript side of a native frame port (native/src/port.h): the AF_PACKET, AF_XDP and
// TAP drivers open a port in the addon and wrap it in a NativePortLink, which is a Link (the
// stack transmits into it) and a ParkableLink (LinkDriver and PollLoop pump and park on it).
//
// Frames cross the N-API boundary in batches, copied once each way: received frames land in
// a preallocated buffer at a fixed stride and are handed to the stack as views of it;
// transmitted frames are copied into a second one and sent when the batch is full, at
// uncork(), or at once when not corked. Nothing is allocated per frame.

import type { NativeAddon } from '../native/addon.js';
import type { ParkableLink } from '../socket/drivers.js';
import type { Link } from './link.js';

export interface NativePortOptions {
  /** Frames per receive or transmit batch. */
  batch?: number;
}

/** Frames per batch unless told otherwise: NAPI's weight. */
const DEFAULT_BATCH = 64;
/** Ethernet header bytes in front of the MTU's payload. */
const ETH_HEADER = 14;

export class NativePortLink implements Link, ParkableLink {
  /** Frames from a real wire are verified like any NIC's without checksum offload. */
  readonly rxChecksumVerified = false;
  /** portWaitAsync is a threadpool job: it holds the event loop until it returns. */
  readonly asyncWaitHoldsLoop = true;
  /** Bytes per frame slot: the MTU's payload, its Ethernet header and a VLAN tag. */
  readonly stride: number;
  private readonly batch: number;
  private readonly rxBuf: Uint8Array;
  private readonly rxLens: Uint32Array;
  private readonly txBuf: Uint8Array;
  private readonly txLens: Uint32Array;
  private txCount = 0;
  private corked = false;
  private closed = false;

  /** Frames the device did not accept (its ring stayed full). */
  txDropped = 0;
  /** Frames larger than the MTU handed to transmit() (a stack bug if ever non-zero). */
  txOversize = 0;
  framesIn = 0;
  framesOut = 0;

  constructor(
    private readonly addon: NativeAddon,
    /** The port id from the driver's open call. */
    readonly id: number,
    readonly mtu: number,
    /** What this is, for messages: "packet:veth0 in /run/netns/x". */
    readonly description: string,
    opts: NativePortOptions = {},
  ) {
    this.batch = opts.batch ?? DEFAULT_BATCH;
    this.stride = (mtu + ETH_HEADER + 4 + 63) & ~63;
    this.rxBuf = new Uint8Array(this.stride * this.batch);
    this.rxLens = new Uint32Array(this.batch);
    this.txBuf = new Uint8Array(this.stride * this.batch);
    this.txLens = new Uint32Array(this.batch);
  }

  transmit(frame: Uint8Array): void {
    if (this.closed) return;
    const len = frame.length;
    if (len > this.stride) {
      this.txOversize++;
      return;
    }
    const n = this.txCount;
    this.txBuf.set(frame, n * this.stride);
    this.txLens[n] = len;
    this.txCount = n + 1;
    if (!this.corked || this.txCount === this.batch) this.flush();
  }

  /** Sends the frames waiting in the transmit batch. */
  flush(): void {
    const count = this.txCount;
    if (count === 0) return;
    this.txCount = 0;
    const sent = this.addon.portSend(this.id, this.txBuf, this.stride, this.txLens, 0, count);
    this.framesOut += sent;
    this.txDropped += count - sent;
  }

  cork(): void {
    this.corked = true;
  }

  uncork(): void {
    this.corked = false;
    this.flush();
  }

  receive(handler: (bytes: Uint8Array, at: number, len: number) => void, max: number): number {
    if (this.closed) return 0;
    const n = this.addon.portRecv(this.id, this.rxBuf, this.stride, this.rxLens, max < this.batch ? max : this.batch);
    const stride = this.stride;
    for (let i = 0; i < n; i++) handler(this.rxBuf, i * stride, this.rxLens[i]!);
    this.framesIn += n;
    return n;
  }

  waitForData(timeoutMs: number): boolean {
    if (this.closed) return false;
    this.flush();
    return this.addon.portWait(this.id, timeoutMs);
  }

  waitForDataAsync(timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.flush();
    return this.addon.portWaitAsync(this.id, timeoutMs);
  }

  interruptWait(): void {
    if (!this.closed) this.addon.portInterrupt(this.id);
  }

  /** The driver's own counters (ring drops, kicks…) with this link's. */
  counters(): Record<string, number> {
    const own = { framesIn: this.framesIn, framesOut: this.framesOut, txDropped: this.txDropped, txOversize: this.txOversize };
    return this.closed ? own : { ...this.addon.portCounters(this.id), ...own };
  }

  /** Sends what is batched and closes the port (its descriptors, rings and any XDP program). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.addon.portClose(this.id);
  }
}

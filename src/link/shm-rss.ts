// A multi-queue NIC over shared memory, for one stack per thread (XLIO's ring per thread):
// queue k of the "NIC" belongs to worker k, and the device side — the wire, where a peer
// stack or a load generator sits — steers every frame it transmits to the queue of its flow,
// as a NIC's RSS does: flowQueue() of the symmetric 5-tuple hash (flow-hash.ts), so both
// directions of a flow, and every frame of it, meet the same worker.
//
// It is an ShmSwitch of queues + 1 ports: port 0 is the device, port 1 + k is queue k. The
// device pushes a frame straight into ring (0 → 1+k); worker k pushes into ring (1+k → 0).
// Every ring keeps one producer and one consumer, each worker parks on its own port's
// doorbell, and the device parks on its port's doorbell, which any worker may ring (the
// switch's many-producer protocol). So a frame is copied once per direction (into the ring;
// the receiver reads it in place) and no thread needs another's state: there is no dispatcher
// thread and no shared queue. The switch's rings between two queues stay unused.
//
// Steering, decided by the device alone (rssQueue):
//   - a group destination (broadcast, multicast), ARP, and IPv6 neighbour discovery go to
//     every queue: each worker's stack keeps its own neighbour cache and must hear them;
//   - a frame of a flow a worker started goes back to that worker: the device remembers, for
//     the flow hash of each frame a queue sends, which queue sent it (Intel's "application
//     targeted routing"), in a fixed table private to the device;
//   - anything else goes to flowQueue(frame, queues).
// The table holds FLOW_SLOTS hashes; a slot is overwritten by a later flow that hashes to it,
// which then sends the earlier flow's frames by plain RSS.

import type { Link } from './link.js';
import { flowHash } from './flow-hash.js';
import type { ShmFrameHandler } from './shm-ring.js';
import { ShmSwitch, ShmSwitchPort, type ShmSwitchShared } from './shm-switch.js';

/** What the device and every queue attach to (structured-cloneable). */
export interface ShmRssShared {
  readonly switch: ShmSwitchShared;
  readonly queues: number;
}

export interface ShmRssOptions {
  /** Data bytes per ring (rounded up to a power of two); default 256 KiB. */
  capacityBytes?: number;
  /** Largest payload after the Ethernet header; default 1500. */
  mtu?: number;
}

const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV6 = 0x86dd;
const NH_ICMPV6 = 58;
/** ICMPv6 router solicitation .. redirect (RFC 4861 §4). */
const ND_FIRST = 133;
const ND_LAST = 137;
/** Learned flows remembered by the device (a power of two). */
const FLOW_SLOTS = 1 << 14;
const MAX_QUEUES = 63;

/**
 * The queue of the frame `bytes[at .. at+len)` among `n`: its flow's (flowQueue), or −1 for
 * every queue (group addresses, ARP, IPv6 neighbour discovery without extension headers).
 */
export function rssQueue(bytes: Uint8Array, at: number, len: number, n: number): number {
  return forEveryQueue(bytes, at, len) ? -1 : hashQueue(flowHash(bytes, at, len), n);
}

/** Frames every worker's stack must see: group destinations, ARP, IPv6 neighbour discovery. */
function forEveryQueue(bytes: Uint8Array, at: number, len: number): boolean {
  if (len < 14 || (bytes[at]! & 1) !== 0) return true;
  const type = (bytes[at + 12]! << 8) | bytes[at + 13]!;
  if (type === ETHERTYPE_ARP) return true;
  if (type === ETHERTYPE_IPV6 && len >= 14 + 41 && bytes[at + 14 + 6] === NH_ICMPV6) {
    const icmpType = bytes[at + 14 + 40]!;
    return icmpType >= ND_FIRST && icmpType <= ND_LAST;
  }
  return false;
}

/** flowQueue's scaling of a hash to [0, n). */
function hashQueue(hash: number, n: number): number {
  return Math.floor(((hash >>> 0) * n) / 4294967296);
}

export const ShmRss = Object.freeze({
  /** Allocates a segment of `queues` queues and the device port; hand the result to every thread. */
  create(queues: number, opts: ShmRssOptions = {}): ShmRssShared {
    if (!Number.isInteger(queues) || queues < 1 || queues > MAX_QUEUES) throw new RangeError(`ShmRss queue count must be an integer in 1..${MAX_QUEUES}, got ${queues}`);
    return { switch: ShmSwitch.create(queues + 1, opts), queues };
  },
  /** Ends queue `queue`'s wait in progress (or its next one), from any thread: stops a parked worker. */
  interruptWait(shared: ShmRssShared, queue: number): void {
    ShmSwitch.interruptWait(shared.switch, 1 + queue);
  },
});

/** What both ends of the NIC share: a switch port, parked on and corked as the port is. */
abstract class ShmRssPort implements Link {
  readonly mtu: number;
  readonly canPark = true;

  constructor(readonly port: ShmSwitchPort) {
    this.mtu = port.mtu;
  }

  abstract transmit(frame: Uint8Array): void;

  receive(handler: ShmFrameHandler, max: number): number {
    return this.port.receive(handler, max);
  }
  waitForData(timeoutMs: number): boolean {
    return this.port.waitForData(timeoutMs);
  }
  waitForDataAsync(timeoutMs: number): Promise<boolean> {
    return this.port.waitForDataAsync(timeoutMs);
  }
  interruptWait(): void {
    this.port.interruptWait();
  }
  cork(): void {
    this.port.cork();
  }
  uncork(): void {
    this.port.uncork();
  }
  close(): void {
    this.port.close();
  }
}

/** Queue `queue` of the NIC: the Link a worker's stack attaches to. Everything it transmits goes to the device. */
export class ShmRssQueue extends ShmRssPort {
  readonly queue: number;

  constructor(shared: ShmRssShared, queue: number) {
    if (!Number.isInteger(queue) || queue < 0 || queue >= shared.queues) throw new RangeError(`ShmRss queue must be an integer in 0..${shared.queues - 1}, got ${queue}`);
    super(new ShmSwitchPort(shared.switch, 1 + queue));
    this.queue = queue;
  }

  transmit(frame: Uint8Array): void {
    this.port.transmitTo(0, frame);
  }
}

/** The device side of the NIC (the wire): steers what it transmits to the queues, receives what they send. */
export class ShmRssDevice extends ShmRssPort {
  readonly queues: number;
  /** Frames steered to each queue (a frame sent to every queue counts once per queue). */
  readonly steered: Float64Array;
  /** Frames sent to every queue (group addresses, ARP, neighbour discovery). */
  replicated = 0;
  /** Frames steered by a learned flow rather than by the hash alone. */
  learnedHits = 0;

  private readonly flowHash = new Int32Array(FLOW_SLOTS);
  private readonly flowQueue = new Int8Array(FLOW_SLOTS).fill(-1);
  private handler: ShmFrameHandler = () => {};
  private readonly onFrame: ShmFrameHandler;

  constructor(shared: ShmRssShared) {
    super(new ShmSwitchPort(shared.switch, 0));
    this.queues = shared.queues;
    this.steered = new Float64Array(shared.queues);
    this.onFrame = (bytes, at, len) => {
      // Remember which queue this flow's frames come from, unless it is a group frame or not a flow.
      if ((bytes[at]! & 1) === 0) {
        const h = flowHash(bytes, at, len);
        const slot = h & (FLOW_SLOTS - 1);
        this.flowHash[slot] = h;
        this.flowQueue[slot] = this.port.receivingFrom - 1;
      }
      this.handler(bytes, at, len);
    };
  }

  /** The queue a frame goes to (−1: every queue), as transmit() decides it. */
  queueOf(frame: Uint8Array, at = 0, len = frame.length - at): number {
    if (forEveryQueue(frame, at, len)) return -1;
    const h = flowHash(frame, at, len);
    const q = hashQueue(h, this.queues);
    const slot = h & (FLOW_SLOTS - 1);
    const learned = this.flowQueue[slot]!;
    if (learned >= 0 && this.flowHash[slot] === h) {
      if (learned !== q) this.learnedHits++;
      return learned;
    }
    return q;
  }

  transmit(frame: Uint8Array): void {
    const q = this.queueOf(frame);
    if (q >= 0) {
      this.steered[q]++;
      this.port.transmitTo(1 + q, frame);
      return;
    }
    this.replicated++;
    for (let k = 0; k < this.queues; k++) {
      this.steered[k]++;
      this.port.transmitTo(1 + k, frame);
    }
  }

  /** As the port's receive, learning which queue each flow comes from. */
  override receive(handler: ShmFrameHandler, max: number): number {
    this.handler = handler;
    return this.port.receive(this.onFrame, max);
  }
}

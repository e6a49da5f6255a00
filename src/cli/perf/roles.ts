// What a sockperf client and server do with messages, apart from how bytes move: both
// transports (Node's sockets, xlio-ts's) drive these two classes.

import type { MessageSink } from './framer.js';
import { FLAG_CLIENT, FLAG_PONG_REQUEST, FLAG_WARMUP, newClientMessage, readFlags, readSequence, writeFlags, writeSequence } from './message.js';
import { RttRecorder } from './stats.js';

export type PerfMode = 'ping-pong' | 'throughput' | 'under-load';

/** Pong requests remembered at once (a ring indexed by sequence number). */
const RING = 1 << 16;

/** Counters a client run ends with; structured-cloneable. */
export interface ClientCounters {
  sent: number;
  pongRequests: number;
  received: number;
  /** Pong requests given up on (UDP loss) or unanswered at the end. */
  dropped: number;
  duplicates: number;
  outOfOrder: number;
  /** Messages from the peer that were not replies (client flag or warm-up set). */
  ignored: number;
  startUs: number;
  endUs: number;
}

/**
 * The client side: numbers messages 1, 2, 3…, sets the pong-request flag on every
 * `replyEvery`-th (sockperf: 1 in ping-pong, 100 in under-load, never in throughput),
 * remembers when each was sent, and matches replies by sequence number.
 */
export class PerfClientCore implements MessageSink {
  /** One message, header filled in; stamp() renumbers copies of it in place. */
  readonly msg: Uint8Array;
  readonly recorder: RttRecorder;
  seq = 0;
  sent = 0;
  pongRequests = 0;
  received = 0;
  dropped = 0;
  duplicates = 0;
  outOfOrder = 0;
  ignored = 0;
  /** Pong requests sent and not yet answered or given up on. */
  outstanding = 0;
  /** The receive time (µs) of the messages being fed: set before feeding a batch. */
  now = 0;
  private lastRx = 0;
  private readonly txTime = new Float64Array(RING);
  private readonly txSeq = new Float64Array(RING).fill(-1);

  constructor(
    readonly msgSize: number,
    /** Every how many messages a pong is requested; 0: never. */
    readonly replyEvery: number,
    expectedSamples = 1 << 16,
  ) {
    this.msg = newClientMessage(msgSize);
    this.recorder = new RttRecorder(Math.min(1 << 24, Math.max(1024, expectedSamples)));
  }

  /** Numbers the next message, whose header is at buf[off]; returns whether it requests a pong. */
  stamp(buf: Uint8Array, off: number, nowUs: number): boolean {
    const s = ++this.seq;
    this.sent++;
    writeSequence(buf, off, s);
    const pong = this.replyEvery > 0 && s % this.replyEvery === 0;
    writeFlags(buf, off, pong ? FLAG_CLIENT | FLAG_PONG_REQUEST : FLAG_CLIENT);
    if (pong) {
      const slot = s % RING;
      this.txTime[slot] = nowUs;
      this.txSeq[slot] = s;
      this.pongRequests++;
      this.outstanding++;
    }
    return pong;
  }

  /** Takes back the last stamp() (the message could not be sent). */
  unstamp(): void {
    const s = this.seq--;
    this.sent--;
    const slot = s % RING;
    if (this.txSeq[slot] === s) {
      this.txSeq[slot] = -1;
      this.pongRequests--;
      this.outstanding--;
    }
  }

  onMessage(bytes: Uint8Array, off: number, _len: number): void {
    const flags = readFlags(bytes, off);
    if ((flags & (FLAG_CLIENT | FLAG_WARMUP)) !== 0) {
      this.ignored++;
      return;
    }
    const s = readSequence(bytes, off);
    const slot = s % RING;
    if (this.txSeq[slot] !== s) {
      this.duplicates++; // answered already, given up on, or never asked
      return;
    }
    this.txSeq[slot] = -1;
    this.outstanding--;
    this.received++;
    if (s < this.lastRx) this.outOfOrder++;
    else this.lastRx = s;
    const t = this.txTime[slot]!;
    this.recorder.add(t, this.now - t);
  }

  /** Gives up on every outstanding pong request (a lost UDP datagram): they count as dropped (an RTT of NaN). */
  abandon(): void {
    let left = this.outstanding;
    for (let s = this.seq; left > 0 && s > 0 && s > this.seq - RING; s--) {
      const slot = s % RING;
      if (this.txSeq[slot] === s) {
        this.txSeq[slot] = -1;
        this.recorder.add(this.txTime[slot]!, NaN);
        left--;
      }
    }
    this.dropped += this.outstanding;
    this.outstanding = 0;
  }

  /** The final counts: what is still outstanding is dropped. */
  counters(startUs: number, endUs: number): ClientCounters {
    if (this.outstanding > 0) this.abandon();
    return {
      sent: this.sent,
      pongRequests: this.pongRequests,
      received: this.received,
      dropped: this.dropped,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      ignored: this.ignored,
      startUs,
      endUs,
    };
  }
}

export interface ServerCounters {
  /** Client messages received (warm-up excluded), as sockperf's g_receiveCount. */
  received: number;
  replied: number;
  ignored: number;
  bytes: number;
  connections: number;
}

/** The server side: sockperf's handle_message. */
export class PerfServerCore {
  received = 0;
  replied = 0;
  ignored = 0;
  bytes = 0;
  connections = 0;

  /** Looks at one message in place; true if it must go back (its client flag is then already cleared). */
  handle(bytes: Uint8Array, off: number, len: number): boolean {
    this.bytes += len;
    const flags = readFlags(bytes, off);
    if ((flags & FLAG_CLIENT) === 0 || (flags & FLAG_WARMUP) !== 0) {
      this.ignored++;
      return false;
    }
    this.received++;
    if ((flags & FLAG_PONG_REQUEST) === 0) return false;
    writeFlags(bytes, off, flags & ~FLAG_CLIENT);
    this.replied++;
    return true;
  }

  counters(): ServerCounters {
    return { received: this.received, replied: this.replied, ignored: this.ignored, bytes: this.bytes, connections: this.connections };
  }
}

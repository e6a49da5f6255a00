// The one small interface both transports implement: run a sockperf client, or serve
// sockperf clients. "os" is Node's own net/dgram over the kernel, event-driven as a Node
// user writes it; "xlio" is xlio-ts's socket layer, busy-polled in worker threads.

import type { ClientCounters, PerfMode, ServerCounters } from './roles.js';

export type Proto = 'tcp' | 'udp';
export type Iomux = 'select' | 'poll' | 'epoll';
export type Impl = 'os' | 'xlio';

export interface ClientConfig {
  mode: PerfMode;
  proto: Proto;
  /** The server; the xlio transport ignores it when it runs its own in-process server. */
  host: string;
  port: number;
  msgSize: number;
  /** Run time in seconds when `count` is 0. */
  seconds: number;
  /** Messages to send (sockperf -n); 0: time-based. */
  count: number;
  /** Messages per second; 0: as fast as possible (sockperf --mps=max). */
  mps: number;
  /** Messages sent back to back in every cycle (sockperf -b). */
  burst: number;
  /** Every how many messages a pong is requested; 0: never. */
  replyEvery: number;
  iomux: Iomux;
  /** xlio: how long an idle loop spins before it parks on the link's doorbell (µs; −1: never parks). */
  spinUs?: number;
}

/** What a client run measured: counters plus every answered pong request (send time, RTT; µs). */
export interface ClientOutcome {
  counters: ClientCounters;
  tx: Float64Array;
  rtt: Float64Array;
  samples: number;
  /** The server's counters, when the transport ran the server itself. */
  server?: ServerCounters;
  /** xlio: how often the client's loop parked (spin budget exhausted). */
  parks?: number;
}

export interface ServerConfig {
  proto: Proto;
  host: string;
  port: number;
  iomux: Iomux;
  spinUs?: number;
}

/**
 * The default spin budget of the xlio loops: idle this long, a loop parks until a frame
 * arrives. Spinning is the fast path, but two spinners on CPUs shared with other work get
 * descheduled for whole time slices (milliseconds); the loops then park at once for a while
 * (see IdlePolicy in xlio-worker.ts).
 */
export const DEFAULT_SPIN_US = 1000;

export interface PerfServerHandle {
  readonly host: string;
  readonly port: number;
  counters(): ServerCounters;
  close(): Promise<ServerCounters>;
}

export interface PerfTransport {
  readonly impl: Impl;
  runClient(cfg: ClientConfig): Promise<ClientOutcome>;
  startServer(cfg: ServerConfig): Promise<PerfServerHandle>;
}

/** After the last send, how long a client waits for replies still on their way (sockperf: 0.1 s). */
export const DRAIN_US = 100_000;
/**
 * A ping-pong client gives up on a UDP reply after this long and sends the next message.
 * sockperf never gives up (its run stalls until the timer ends it). Shorter than a second, a
 * busy two-core machine turns threads that wait for a CPU into "dropped" messages: a reply
 * 200 ms late has been seen there between two xlio-ts worker threads (KI-17 test).
 */
export const REPLY_TIMEOUT_US = 1_000_000;

/** A clear error for the command line (exit code 2). */
export class PerfUsageError extends Error {
  override readonly name = 'PerfUsageError';
}

// Worker mode: N worker threads, each with its own Stack, its own NIC queue and its own poll
// loop — XLIO's ring per thread, without XLIO's locks (KI-22). All workers share one
// interface identity (the same MAC and addresses, as XLIO's threads share one NIC), and
// flows are spread over them by the symmetric 5-tuple hash.
//
// Design: the NIC is an ShmRss segment (src/link/shm-rss.ts): one SPSC ring pair per worker
// plus a device port where the wire is (a peer stack, a load generator, later a multi-queue
// AF_XDP link). The device steers each frame it sends into the ring of its flow's worker.
// We chose this over a dispatcher thread (one ingress ring read by a thread that forwards
// each frame to flowQueue(frame, N)'s ring) because the dispatcher copies every frame a
// second time and costs a thread that sits between the wire and every worker; steering where
// the frame is written costs one flowHash per frame and no copy beyond the one any link
// makes. Nothing on the data path is shared mutable state: each ring has one producer and
// one consumer, each stack, buffer pool, neighbour cache and socket table lives in one
// thread, each worker's counters (a block of `stats`, see WorkerBlock) are written only by
// that worker, and the only words two threads both write are the device port's doorbell —
// by atomic read-modify-write, and only when the device is parked.
//
// XLIO_RING_ALLOCATION_LOGIC_RX/TX: per thread (20, the default), per CPU id (30), per core
// (31) and per socket (10, since a socket lives in exactly one worker) all mean a queue per
// worker, which is what this builds. Per interface (0) and per IP address (1) mean one ring
// shared by every thread; sharing it would need a lock on the data path, which xlio-ts never
// takes, so with those values only one worker can be started (count > 1 is an error).
//
// The application: a module exporting `setup(ctx: WorkerContext)` runs in every worker; it
// opens its sockets on ctx.api (the same listeners in every worker, as SO_REUSEPORT across
// threads) and returns `{ round?(now): boolean, close?(): unknown }`. round() runs in every
// loop round (non-blocking socket calls; true when it did something); close() runs after the
// loop stops and its result is returned by pool.stop(). echo-app.ts is one such module.
//
// Benchmarks: startWorkers({ count, app, data }) gives a WorkerPool; attach the peer with
// `new ShmRssDevice(pool.rss)` (in any one thread), drive it, and read pool.snapshot() for
// each worker's frames, rounds, parks and app counters while it runs.

import { Worker } from 'node:worker_threads';
import type { ShmRssShared } from '../link/shm-rss.js';
import { ShmRss } from '../link/shm-rss.js';
import type { LinkDriver } from '../socket/drivers.js';
import type { Sockets } from '../socket/sockets.js';
import type { Stack, StackCounters } from '../stack/stack.js';
import { configFromEnvironment, ringPerWorker, type RuntimeConfig } from './config.js';
import { LoopControl, LoopStat, type PollLoop } from './poll-loop.js';

/** Layout of one worker's block in the pool's `stats` memory (Float64 slots; 512 bytes, so blocks never share a cache line). */
export const WorkerBlock = Object.freeze({
  SLOTS: 64,
  /** LoopStat counters start here. */
  LOOP: 0,
  /** The worker's threadId, written once by the worker when it is ready. */
  THREAD_ID: 8,
  /** Application counters (WorkerContext.counters) start here. */
  APP: 16,
  APP_SLOTS: 48,
  /** Int32 control words per worker (LoopControl layout), 64 bytes apart. */
  CONTROL_WORDS: 16,
});

/** What setup() gets: this worker's stack, socket API and loop, and its own counters. */
export interface WorkerContext {
  readonly index: number;
  readonly count: number;
  readonly stack: Stack;
  readonly api: Sockets;
  readonly driver: LinkDriver;
  readonly loop: PollLoop;
  readonly config: RuntimeConfig;
  readonly data: unknown;
  /** This worker's application counters (WorkerBlock.APP_SLOTS), in shared memory, read live by the pool; only this worker writes them. */
  readonly counters: Float64Array;
}

/** What setup() returns. */
export interface WorkerApp {
  /** Runs every loop round after the received frames; true when it did something. */
  round?(now: number): boolean;
  /** Runs after the loop stops; the result (structured-cloneable) is returned by pool.stop(). */
  close?(): unknown;
}

export type WorkerSetup = (ctx: WorkerContext) => WorkerApp | Promise<WorkerApp>;

/** What a worker's job carries (structured-cloned into the worker). */
export interface WorkerJob {
  readonly kind: 'xlio-runtime-worker';
  readonly index: number;
  readonly count: number;
  readonly rss: ShmRssShared;
  readonly config: RuntimeConfig;
  readonly app: string;
  readonly data: unknown;
  readonly mac: Uint8Array;
  readonly addresses: readonly string[];
  readonly seed: number;
  readonly stats: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
}

export interface StartWorkersOptions {
  /** Worker threads (one stack and one queue each). */
  count: number;
  /** The module every worker runs (URL or path of compiled JS exporting setup()). */
  app: string | URL;
  /** Passed to setup() as ctx.data (structured-cloned). */
  data?: unknown;
  /** Default: configFromEnvironment() (XLIO_* variables, unknown names warned about once). */
  config?: RuntimeConfig;
  /** The interface's addresses with prefix, shared by every worker; default ['198.18.0.1/24']. */
  addresses?: string[];
  /** The interface's MAC; default 02:00:00:00:00:01. */
  mac?: Uint8Array;
  /** Data bytes per ring; default 256 KiB. */
  ringBytes?: number;
  /** Seeds each stack's RNG (worker i: seed + i). */
  seed?: number;
  /** How long the workers may take to start; default 10 s. */
  readyTimeoutMs?: number;
}

/** One worker's counters as read live from shared memory. */
export interface WorkerSnapshot {
  index: number;
  threadId: number;
  rounds: number;
  busyRounds: number;
  frames: number;
  spins: number;
  parks: number;
  wakeups: number;
  timeouts: number;
  /** The application's counters (a copy). */
  app: number[];
}

/** What a worker reports when it stops. */
export interface WorkerReport extends WorkerSnapshot {
  /** What the app's close() returned. */
  result: unknown;
  stack: StackCounters | null;
  error: string | null;
}

/** Messages from a worker. */
export type WorkerMessage = { type: 'ready'; index: number } | { type: 'done'; index: number; result: unknown; stack: StackCounters } | { type: 'error'; index: number; error: string };

const DEFAULT_MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);

class WorkerHandle {
  ready: Promise<void>;
  done: Promise<WorkerMessage>;
  private readyResolve!: () => void;
  private readyReject!: (e: Error) => void;
  private doneResolve!: (m: WorkerMessage) => void;
  finished = false;

  constructor(
    readonly index: number,
    readonly worker: Worker,
  ) {
    this.ready = new Promise((res, rej) => {
      this.readyResolve = res;
      this.readyReject = rej;
    });
    this.ready.catch(() => {}); // awaited by startWorkers; a late failure is reported by `done`
    this.done = new Promise((res) => (this.doneResolve = res));
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') this.readyResolve();
      else this.finish(m);
    });
    worker.on('error', (e) => this.finish({ type: 'error', index, error: String(e instanceof Error ? (e.stack ?? e.message) : e) }));
    worker.on('exit', (code) => this.finish({ type: 'error', index, error: `worker ${index} exited with code ${code} before reporting` }));
  }

  private finish(m: WorkerMessage): void {
    if (this.finished) return;
    this.finished = true;
    if (m.type === 'error') this.readyReject(new Error(`worker ${this.index}: ${m.error}`));
    this.doneResolve(m);
  }
}

export class WorkerPool {
  readonly count: number;
  /** The NIC: attach the wire side with `new ShmRssDevice(pool.rss)` in one thread. */
  readonly rss: ShmRssShared;
  readonly config: RuntimeConfig;
  /** Every worker's block (WorkerBlock layout), written only by its worker. */
  readonly stats: Float64Array;
  readonly control: Int32Array;
  private readonly handles: WorkerHandle[];
  private stopping: Promise<WorkerReport[]> | null = null;

  /** @internal use startWorkers() */
  constructor(count: number, rss: ShmRssShared, config: RuntimeConfig, stats: SharedArrayBuffer, control: SharedArrayBuffer, handles: WorkerHandle[]) {
    this.count = count;
    this.rss = rss;
    this.config = config;
    this.stats = new Float64Array(stats);
    this.control = new Int32Array(control);
    this.handles = handles;
  }

  /** Worker `index`'s application counters, live (read-only here: only the worker writes them). */
  appCounters(index: number): Float64Array {
    const at = index * WorkerBlock.SLOTS + WorkerBlock.APP;
    return this.stats.subarray(at, at + WorkerBlock.APP_SLOTS);
  }

  /** Worker `index`'s counters now. */
  snapshotOf(index: number): WorkerSnapshot {
    const s = this.stats;
    const b = index * WorkerBlock.SLOTS;
    return {
      index,
      threadId: s[b + WorkerBlock.THREAD_ID]!,
      rounds: s[b + LoopStat.ROUNDS]!,
      busyRounds: s[b + LoopStat.BUSY]!,
      frames: s[b + LoopStat.FRAMES]!,
      spins: s[b + LoopStat.SPINS]!,
      parks: s[b + LoopStat.PARKS]!,
      wakeups: s[b + LoopStat.WAKEUPS]!,
      timeouts: s[b + LoopStat.TIMEOUTS]!,
      app: Array.from(this.appCounters(index)),
    };
  }

  /** Every worker's counters now. */
  snapshot(): WorkerSnapshot[] {
    return this.handles.map((h) => this.snapshotOf(h.index));
  }

  /**
   * Stops every worker's loop (a parked one at once), lets its app close, and waits for the
   * reports; a worker that does not finish within `timeoutMs` is terminated and reported
   * with an error.
   */
  stop(timeoutMs = 5000): Promise<WorkerReport[]> {
    this.stopping ??= this.stopAll(timeoutMs);
    return this.stopping;
  }

  private async stopAll(timeoutMs: number): Promise<WorkerReport[]> {
    for (const h of this.handles) {
      Atomics.store(this.control, h.index * WorkerBlock.CONTROL_WORDS + LoopControl.STOP, 1);
      ShmRss.interruptWait(this.rss, h.index);
    }
    return Promise.all(
      this.handles.map(async (h): Promise<WorkerReport> => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<WorkerMessage>((res) => {
          timer = setTimeout(() => res({ type: 'error', index: h.index, error: `worker ${h.index} did not stop within ${timeoutMs} ms` }), timeoutMs);
        });
        const m = await Promise.race([h.done, late]);
        clearTimeout(timer);
        await h.worker.terminate();
        const snap = this.snapshotOf(h.index);
        if (m.type === 'done') return { ...snap, result: m.result, stack: m.stack, error: null };
        return { ...snap, result: null, stack: null, error: m.type === 'error' ? m.error : 'no report' };
      }),
    );
  }
}

/**
 * Starts `count` workers, each with its own stack, queue and poll loop, running `app`;
 * resolves once every worker's app is set up and its loop is about to run.
 */
export async function startWorkers(o: StartWorkersOptions): Promise<WorkerPool> {
  const count = o.count;
  if (!Number.isInteger(count) || count < 1 || count > 63) throw new RangeError(`startWorkers count must be an integer in 1..63, got ${count}`);
  const config = o.config ?? configFromEnvironment();
  if (count > 1) {
    for (const [name, logic] of [
      ['XLIO_RING_ALLOCATION_LOGIC_RX', config.ringAllocationRx],
      ['XLIO_RING_ALLOCATION_LOGIC_TX', config.ringAllocationTx],
    ] as const) {
      if (!ringPerWorker(logic)) {
        throw new Error(
          `${name}=${logic} (${logic === 0 ? 'per interface' : 'per IP address'}) means one ring shared by every thread; xlio-ts never shares a ring between threads (KI-22), so it runs a single worker: start 1 worker, or use 20 (per thread) for ${count}`,
        );
      }
    }
  }
  const rss = ShmRss.create(count, { mtu: config.mtu === 0 ? 1500 : config.mtu, capacityBytes: o.ringBytes });
  const stats = new SharedArrayBuffer(count * WorkerBlock.SLOTS * 8);
  const control = new SharedArrayBuffer(count * WorkerBlock.CONTROL_WORDS * 4);
  const app = o.app instanceof URL ? o.app.href : o.app.startsWith('file:') ? o.app : new URL(o.app, `file://${process.cwd()}/`).href;
  const handles: WorkerHandle[] = [];
  for (let i = 0; i < count; i++) {
    const job: WorkerJob = {
      kind: 'xlio-runtime-worker',
      index: i,
      count,
      rss,
      config,
      app,
      data: o.data ?? null,
      mac: o.mac ?? DEFAULT_MAC,
      addresses: o.addresses ?? ['198.18.0.1/24'],
      seed: o.seed ?? 0x5eed,
      stats,
      control,
    };
    handles.push(new WorkerHandle(i, new Worker(new URL('./worker-main.js', import.meta.url), { workerData: job })));
  }
  const pool = new WorkerPool(count, rss, config, stats, control, handles);
  const timeoutMs = o.readyTimeoutMs ?? 10_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      Promise.all(handles.map((h) => h.ready)),
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`workers did not start within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (e) {
    await Promise.all(handles.map((h) => h.worker.terminate()));
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return pool;
}

// The "xlio" transport: xlio-ts's socket layer in worker threads. Over a ShmLink pair by
// default: the server runs in one worker (198.18.0.1), the client in another (198.18.0.2).
// With a wire (--link, --addr) there is one worker, on a real link (packet, xdp, tap,
// vxlan), and its peer is whatever answers there: the kernel's sockperf, another host. The
// main thread only starts the workers and waits, so its event loop stays free.

import { fork } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { nativeUnavailableReason } from '../../native/addon.js';
import { ShmLink, type ShmLinkShared } from '../../link/shm-link.js';
import type { ServerCounters } from './roles.js';
import { PerfUsageError, type ClientConfig, type ClientOutcome, type PerfServerHandle, type PerfTransport, type ServerConfig } from './transport.js';
import { LINK_BYTES, LINK_MTU, SERVER_IP } from './xlio-host.js';
import type { WireConfig, XlioWorkerData, XlioWorkerMessage } from './xlio-worker.js';

const WORKER = new URL('./xlio-worker.js', import.meta.url);
const PROC_SERVER = new URL('./xlio-proc-server.js', import.meta.url);
let segments = 0;

export interface XlioServerHandle extends PerfServerHandle {
  /** The shared-memory link a client worker joins (none on a wire). */
  readonly shared: ShmLinkShared | null;
}

function spawn(data: XlioWorkerData): Worker {
  // The workers need no stdin; their stdout/stderr go to ours.
  return new Worker(WORKER, { workerData: data });
}

/** A server or client run elsewhere: a worker thread, or a child process with an IPC channel ('message', 'error', 'exit'). */
type Runner = EventEmitter;

/**
 * Resolves with the runner's first message of `type`; rejects on an error message, a crash,
 * its exit, or after `ms` — then `abort()`s it (terminate, kill) unless it already exited.
 */
function expect<T extends XlioWorkerMessage['type']>(r: Runner, type: T, ms: number, what: string, abort: () => void): Promise<Extract<XlioWorkerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const fail = (e: Error, kill: boolean): void => {
      cleanup();
      if (kill) abort();
      reject(e);
    };
    // unref: the runner itself keeps the process alive while it runs.
    const timer = setTimeout(() => fail(new Error(`${what}: no '${type}' in ${(ms / 1000).toFixed(0)} s`), true), ms).unref();
    const onMessage = (m: XlioWorkerMessage): void => {
      if (m.type === 'error') fail(new Error(`${what}: ${m.message}`), true);
      else if (m.type === type) {
        cleanup();
        resolve(m as Extract<XlioWorkerMessage, { type: T }>);
      }
    };
    const onError = (e: Error): void => fail(e, false);
    const onExit = (code: number | null): void => fail(new Error(`${what}: exited (${code}) before '${type}'`), false);
    const cleanup = (): void => {
      clearTimeout(timer);
      r.off('message', onMessage);
      r.off('error', onError);
      r.off('exit', onExit);
    };
    r.on('message', onMessage);
    r.on('error', onError);
    r.on('exit', onExit);
  });
}

/** The server's counters once `done` arrives, or a rejection after 10 s; `cleanup` runs either way. */
function stopped(done: Promise<Extract<XlioWorkerMessage, { type: 'done' }>>, what: string, cleanup: () => void): Promise<ServerCounters> {
  const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not stop in 10 s`)), 10_000).unref());
  return Promise.race([done.then((m) => m.counters), late]).finally(cleanup);
}

/**
 * Waits for a started server's 'ready' (aborting it on failure) and returns its handle: close()
 * asks it to stop, waits up to 10 s for its final counters, then aborts it in any case.
 */
async function serverHandle(
  cfg: ServerConfig,
  shared: ShmLinkShared | null,
  r: Runner,
  what: string,
  ops: { abort: () => void; stop: () => void; counters: () => ServerCounters },
): Promise<XlioServerHandle> {
  const done = expect(r, 'done', 24 * 3600_000, what, ops.abort);
  done.catch(() => {}); // observed by close()
  try {
    await Promise.race([expect(r, 'ready', 20_000, what, ops.abort), done]);
  } catch (e) {
    ops.abort();
    throw e;
  }
  let closed: Promise<ServerCounters> | null = null;
  return {
    host: cfg.host === '' || shared !== null ? SERVER_IP : cfg.host,
    port: cfg.port,
    shared,
    counters: ops.counters,
    close: () => {
      if (closed === null) {
        ops.stop();
        closed = stopped(done, what, ops.abort);
      }
      return closed;
    },
  };
}

export class XlioTransport implements PerfTransport {
  readonly impl = 'xlio' as const;

  /**
   * `processes`: the server runs in a second process, over a named shared-memory segment
   * (needs the native addon). `wire`: the stack goes on a real link instead of shared memory.
   */
  constructor(
    private readonly processes = false,
    private readonly wire: WireConfig | null = null,
  ) {
    if (processes && wire !== null) throw new PerfUsageError('--processes and --link do not go together: on a real link the peer is already another host');
  }

  /** Starts an xlio-ts server in a worker (or a second process), on 198.18.0.1 of a new ShmLink, or on the wire. */
  async startServer(cfg: ServerConfig): Promise<XlioServerHandle> {
    if (this.processes) return this.startProcessServer(cfg);
    const shared = this.wire === null ? ShmLink.pair(LINK_BYTES, LINK_MTU) : null;
    const control = new SharedArrayBuffer(8 + 4 * 8);
    const w = spawn({ role: 'server', ...(shared !== null ? { shared } : { wire: this.wire! }), control, server: cfg });
    const live = new Float64Array(control, 8, 4);
    return serverHandle(cfg, shared, w, 'xlio-ts server', {
      abort: () => void w.terminate(),
      stop: () => Atomics.store(new Int32Array(control, 0, 1), 0, 1),
      counters: () => ({ received: live[0]!, replied: live[1]!, ignored: 0, bytes: live[2]!, connections: live[3]! }),
    });
  }

  /**
   * The server in a child process: this process creates the named segment, the child
   * attaches side 'a' and serves; the name is unlinked as soon as both have it mapped.
   */
  private async startProcessServer(cfg: ServerConfig): Promise<XlioServerHandle> {
    const why = nativeUnavailableReason();
    if (why !== null) throw new PerfUsageError(`two processes over shared memory need the native addon, which is not available: ${why}`);
    const name = `/xlio-perf-${process.pid}-${++segments}`;
    const link = ShmLink.createNamed(name, LINK_BYTES, LINK_MTU, 'b');
    try {
      const child = fork(PROC_SERVER, [name, JSON.stringify(cfg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      return await serverHandle(cfg, link.shared, child, 'xlio-ts server process', {
        abort: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        },
        stop: () => {
          if (child.connected) child.send('stop');
        },
        // The child's counters arrive with its 'done' message only.
        counters: () => ({ received: 0, replied: 0, ignored: 0, bytes: 0, connections: 0 }),
      });
    } finally {
      ShmLink.unlinkNamed(name); // both sides have it mapped (or the child failed): the name is no longer needed
    }
  }

  /** Runs a client worker against `server`, or against a server of its own started for the run. */
  async runClient(cfg: ClientConfig, server?: XlioServerHandle): Promise<ClientOutcome> {
    if (this.wire !== null) {
      const w = spawn({ role: 'client', wire: this.wire, control: new SharedArrayBuffer(8), client: cfg });
      const limit = cfg.count > 0 ? 120_000 : cfg.seconds * 1000 + 30_000;
      const { outcome } = await expect(w, 'result', limit, 'xlio-ts client', () => void w.terminate());
      void w.terminate();
      return outcome;
    }
    if (server === undefined && cfg.host !== SERVER_IP && cfg.host !== '') {
      throw new PerfUsageError(`--impl xlio talks to its own in-process server (${SERVER_IP}) over shared memory; it has no link to ${cfg.host}`);
    }
    const own = server === undefined;
    const srv = server ?? (await this.startServer({ proto: cfg.proto, host: SERVER_IP, port: cfg.port, iomux: cfg.iomux, ...(cfg.spinUs !== undefined ? { spinUs: cfg.spinUs } : {}) }));
    try {
      const w = spawn({ role: 'client', shared: srv.shared!, control: new SharedArrayBuffer(8), client: cfg });
      const limit = cfg.count > 0 ? 120_000 : cfg.seconds * 1000 + 30_000;
      const { outcome } = await expect(w, 'result', limit, 'xlio-ts client', () => void w.terminate());
      void w.terminate();
      if (own) outcome.server = await srv.close();
      return outcome;
    } finally {
      if (own) await srv.close().catch(() => {});
    }
  }
}

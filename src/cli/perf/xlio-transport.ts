// The "xlio" transport: xlio-ts's socket layer in worker threads over a ShmLink pair. The
// server runs in one worker (198.18.0.1), the client in another (198.18.0.2); the main
// thread only starts them and waits, so its event loop stays free (progress, timers).
// xlio-ts has no link to the host's network yet (AF_PACKET/AF_XDP drivers are native
// work), so its peer is always the in-process server.

import { fork, type ChildProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { nativeUnavailableReason } from '../../native/addon.js';
import { ShmLink, type ShmLinkShared } from '../../link/shm-link.js';
import type { ServerCounters } from './roles.js';
import { PerfUsageError, type ClientConfig, type ClientOutcome, type PerfServerHandle, type PerfTransport, type ServerConfig } from './transport.js';
import { LINK_BYTES, LINK_MTU, SERVER_IP } from './xlio-host.js';
import type { XlioWorkerData, XlioWorkerMessage } from './xlio-worker.js';

const WORKER = new URL('./xlio-worker.js', import.meta.url);
const PROC_SERVER = new URL('./xlio-proc-server.js', import.meta.url);
let segments = 0;

/** Resolves with the child's first message of `type`; rejects on an error message, its exit, or after `ms`. */
function expectChild<T extends XlioWorkerMessage['type']>(c: ChildProcess, type: T, ms: number): Promise<Extract<XlioWorkerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`xlio-ts server process: no '${type}' in ${(ms / 1000).toFixed(0)} s`)), ms).unref();
    const onMessage = (m: XlioWorkerMessage): void => {
      if (m.type === 'error') done(new Error(`xlio-ts server process: ${m.message}`));
      else if (m.type === type) done(null, m as Extract<XlioWorkerMessage, { type: T }>);
    };
    const onExit = (code: number | null, signal: string | null): void => done(new Error(`xlio-ts server process exited (${signal ?? code}) before '${type}'`));
    const done = (e: Error | null, m?: Extract<XlioWorkerMessage, { type: T }>): void => {
      clearTimeout(timer);
      c.off('message', onMessage);
      c.off('exit', onExit);
      if (e !== null) reject(e);
      else resolve(m!);
    };
    c.on('message', onMessage);
    c.once('exit', onExit);
  });
}

export interface XlioServerHandle extends PerfServerHandle {
  readonly shared: ShmLinkShared;
}

function spawn(data: XlioWorkerData): Worker {
  // The workers need no stdin; their stdout/stderr go to ours.
  return new Worker(WORKER, { workerData: data });
}

/** Resolves with the first message of `type`, rejects on an error message, a crash, or after `ms`. */
function expect<T extends XlioWorkerMessage['type']>(w: Worker, type: T, ms: number, what: string): Promise<Extract<XlioWorkerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      void w.terminate();
      reject(new Error(`${what}: no answer in ${(ms / 1000).toFixed(0)} s`));
    }, ms).unref(); // the worker itself keeps the process alive while it runs
    const onMessage = (m: XlioWorkerMessage): void => {
      if (m.type === 'error') {
        cleanup();
        void w.terminate();
        reject(new Error(`${what}: ${m.message}`));
      } else if (m.type === type) {
        cleanup();
        resolve(m as Extract<XlioWorkerMessage, { type: T }>);
      }
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`${what}: worker exited (${code}) before '${type}'`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    w.on('message', onMessage);
    w.once('error', onError);
    w.once('exit', onExit);
  });
}

export class XlioTransport implements PerfTransport {
  readonly impl = 'xlio' as const;

  /** `processes`: the server runs in a second process, over a named shared-memory segment (needs the native addon). */
  constructor(private readonly processes = false) {}

  /** Starts an xlio-ts server in a worker (or a second process), on 198.18.0.1 of a new ShmLink. */
  async startServer(cfg: ServerConfig): Promise<XlioServerHandle> {
    if (this.processes) return this.startProcessServer(cfg);
    const shared = ShmLink.pair(LINK_BYTES, LINK_MTU);
    const control = new SharedArrayBuffer(8 + 4 * 8);
    const w = spawn({ role: 'server', shared, control, server: cfg });
    const done = expect(w, 'done', 24 * 3600_000, 'xlio-ts server');
    done.catch(() => {}); // observed by close()
    await Promise.race([expect(w, 'ready', 20_000, 'xlio-ts server'), done]);
    const live = new Float64Array(control, 8, 4);
    let closed: Promise<ServerCounters> | null = null;
    return {
      host: SERVER_IP,
      port: cfg.port,
      shared,
      counters: () => ({ received: live[0]!, replied: live[1]!, ignored: 0, bytes: live[2]!, connections: live[3]! }),
      close: () => {
        if (closed === null) {
          Atomics.store(new Int32Array(control, 0, 1), 0, 1);
          closed = Promise.race([done.then((m) => m.counters), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('xlio-ts server did not stop in 10 s')), 10_000).unref())]).finally(() => void w.terminate());
        }
        return closed;
      },
    };
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
    let child: ChildProcess;
    try {
      child = fork(PROC_SERVER, [name, JSON.stringify(cfg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const done = expectChild(child, 'done', 24 * 3600_000);
      done.catch(() => {}); // observed by close()
      try {
        await Promise.race([expectChild(child, 'ready', 20_000), done]);
      } catch (e) {
        child.kill('SIGKILL');
        throw e;
      }
      let closed: Promise<ServerCounters> | null = null;
      return {
        host: SERVER_IP,
        port: cfg.port,
        shared: link.shared,
        counters: () => ({ received: 0, replied: 0, ignored: 0, bytes: 0, connections: 0 }),
        close: () => {
          if (closed === null) {
            if (child.connected) child.send('stop');
            closed = Promise.race([done.then((m) => m.counters), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('xlio-ts server process did not stop in 10 s')), 10_000).unref())]).finally(() => {
              if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            });
          }
          return closed;
        },
      };
    } finally {
      ShmLink.unlinkNamed(name); // both sides have it mapped (or the child failed): the name is no longer needed
    }
  }

  /** Runs a client worker against `server`, or against a server of its own started for the run. */
  async runClient(cfg: ClientConfig, server?: XlioServerHandle): Promise<ClientOutcome> {
    if (server === undefined && cfg.host !== SERVER_IP && cfg.host !== '') {
      throw new PerfUsageError(`--impl xlio talks to its own in-process server (${SERVER_IP}) over shared memory; it has no link to ${cfg.host}`);
    }
    const own = server === undefined;
    const srv = server ?? (await this.startServer({ proto: cfg.proto, host: SERVER_IP, port: cfg.port, iomux: cfg.iomux, ...(cfg.spinUs !== undefined ? { spinUs: cfg.spinUs } : {}) }));
    try {
      const w = spawn({ role: 'client', shared: srv.shared, control: new SharedArrayBuffer(8), client: cfg });
      const limit = cfg.count > 0 ? 120_000 : cfg.seconds * 1000 + 30_000;
      const { outcome } = await expect(w, 'result', limit, 'xlio-ts client');
      void w.terminate();
      if (own) outcome.server = await srv.close();
      return outcome;
    } finally {
      if (own) await srv.close().catch(() => {});
    }
  }
}

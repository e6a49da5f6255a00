// The "xlio" transport: xlio-ts's socket layer in worker threads over a ShmLink pair. The
// server runs in one worker (198.18.0.1), the client in another (198.18.0.2); the main
// thread only starts them and waits, so its event loop stays free (progress, timers).
// xlio-ts has no link to the host's network yet (AF_PACKET/AF_XDP drivers are native
// work), so its peer is always the in-process server.

import { Worker } from 'node:worker_threads';
import { ShmLink, type ShmLinkShared } from '../../link/shm-link.js';
import type { ServerCounters } from './roles.js';
import { PerfUsageError, type ClientConfig, type ClientOutcome, type PerfServerHandle, type PerfTransport, type ServerConfig } from './transport.js';
import { LINK_BYTES, LINK_MTU, SERVER_IP } from './xlio-host.js';
import type { XlioWorkerData, XlioWorkerMessage } from './xlio-worker.js';

const WORKER = new URL('./xlio-worker.js', import.meta.url);

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

  /** Starts an xlio-ts server in a worker, on 198.18.0.1 of a new ShmLink pair. */
  async startServer(cfg: ServerConfig): Promise<XlioServerHandle> {
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

// Child process of perf-ki17.test.ts: runs `xlio perf`'s UDP modes over and over and prints
// one JSON line per run, so that the test can bound the whole thing from outside and kill
// it (worker threads and all) if a run hangs. Usage: node perf-ki17-runner.js <select|poll|epoll|os>
//
//   select|poll|epoll: one xlio-ts UDP server (a worker thread, that muxer) serves ten rounds
//     of [throughput flat out, ping-pong] from fresh client workers — the sfnt-stream pattern
//     of KI-17: a stream, then messages that must each be answered (once the server has
//     taken in the stream: a reply later than the client's UDP give-up time is slowness, not
//     loss) — then the server's counters; then one ping-pong and one throughput through the public API (runPingPong,
//     runThroughput), which start a server of their own.
//   os: one ping-pong and one throughput through the API with Node's sockets.

import { runPingPong, runThroughput, clientConfig, resultOf, type PerfResult } from '../../src/cli/perf/api.js';
import type { Iomux } from '../../src/cli/perf/transport.js';
import type { ClientCounters } from '../../src/cli/perf/roles.js';
import { XlioTransport } from '../../src/cli/perf/xlio-transport.js';
import type { ShmLinkShared } from '../../src/link/shm-link.js';
import { ShmRing } from '../../src/link/shm-ring.js';
import { setTimeout as sleep } from 'node:timers/promises';

const ROUNDS = 10;
const RUN_SECONDS = 0.2;
/** A run that has not finished after this long is hung (it takes RUN_SECONDS plus a worker's start). */
const RUN_LIMIT_MS = 15_000;

export interface RunLine extends Pick<ClientCounters, 'sent' | 'pongRequests' | 'received' | 'dropped' | 'duplicates' | 'outOfOrder' | 'ignored'> {
  kind: 'run';
  via: 'shared-server' | 'api';
  mode: 'ping-pong' | 'throughput';
  round: number;
  ms: number;
  /** The server's counters, when the run had a server of its own. */
  server?: { received: number; replied: number };
}

export interface ServerLine {
  kind: 'server';
  received: number;
  replied: number;
}

export type RunnerLine = RunLine | ServerLine | { kind: 'hung'; what: string } | { kind: 'error'; message: string } | { kind: 'done' };

const emit = (l: RunnerLine): void => void process.stdout.write(`${JSON.stringify(l)}\n`);

/** `p`, or a 'hung' line and exit 3 (process.exit stops the worker threads too). */
async function bounded<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>(() => {
    timer = setTimeout(() => {
      emit({ kind: 'hung', what });
      process.exit(3);
    }, RUN_LIMIT_MS);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

function line(via: RunLine['via'], mode: RunLine['mode'], round: number, ms: number, r: PerfResult): RunLine {
  const c = r.outcome.counters;
  return {
    kind: 'run',
    via,
    mode,
    round,
    ms: Math.round(ms),
    sent: c.sent,
    pongRequests: c.pongRequests,
    received: c.received,
    dropped: c.dropped,
    duplicates: c.duplicates,
    outOfOrder: c.outOfOrder,
    ignored: c.ignored,
    ...(r.server !== undefined ? { server: { received: r.server.received, replied: r.server.replied } } : {}),
  };
}

/** The ring the server (side a of the link) receives from, attached only to look at it. */
function ringToServer(shared: ShmLinkShared): ShmRing {
  const at = shared.ringsAt ?? 0;
  const first = ShmRing.attach(shared.sab, at);
  return ShmRing.attach(shared.sab, at + ShmRing.bytesFor(first.capacity));
}

/**
 * Waits until the server has taken in everything a flat-out stream left on the link, and its
 * count has stopped moving. How long that takes is the machine's business (a starved worker
 * thread chews a backlog of tens of thousands of frames slowly); what must not happen is that
 * it never ends, or that the server answers nothing afterwards.
 */
async function settle(ring: ShmRing, received: () => number, what: string): Promise<void> {
  const until = performance.now() + RUN_LIMIT_MS;
  let last = -1, stableSince = 0;
  for (;;) {
    const now = performance.now();
    if (now > until) {
      emit({ kind: 'hung', what: `${what}: the server did not take in the stream (link empty: ${ring.isEmpty()})` });
      process.exit(3);
    }
    const n = received();
    if (!ring.isEmpty() || n !== last) {
      last = n;
      stableSince = now;
    } else if (now - stableSince >= 50) return;
    await sleep(5);
  }
}

async function sharedServer(iomux: Iomux): Promise<void> {
  const t = new XlioTransport();
  const srv = await bounded('xlio-ts server start', t.startServer({ proto: 'udp', host: '198.18.0.1', port: 11111, iomux }));
  const ring = ringToServer(srv.shared!);
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of ['throughput', 'ping-pong'] as const) {
      const cfg = clientConfig(mode, { impl: 'xlio', proto: 'udp', iomux, seconds: RUN_SECONDS });
      const t0 = performance.now();
      const outcome = await bounded(`${mode} round ${round} (${iomux})`, t.runClient(cfg, srv));
      emit(line('shared-server', mode, round, performance.now() - t0, resultOf(cfg, 'xlio', outcome)));
      if (mode === 'throughput') await settle(ring, () => srv.counters().received, `after throughput round ${round}`);
    }
  }
  const c = await bounded('xlio-ts server close', srv.close());
  emit({ kind: 'server', received: c.received, replied: c.replied });
}

async function viaApi(impl: 'xlio' | 'os', iomux: Iomux): Promise<void> {
  for (const [mode, fn] of [
    ['ping-pong', runPingPong],
    ['throughput', runThroughput],
  ] as const) {
    const t0 = performance.now();
    const r = await bounded(`${mode} via the API (${impl}, ${iomux})`, fn({ impl, proto: 'udp', iomux, seconds: RUN_SECONDS }));
    emit(line('api', mode, 0, performance.now() - t0, r));
  }
}

const arg = process.argv[2];
try {
  if (arg === 'os') await viaApi('os', 'epoll');
  else if (arg === 'select' || arg === 'poll' || arg === 'epoll') {
    await sharedServer(arg);
    await viaApi('xlio', arg);
  } else throw new Error(`usage: perf-ki17-runner.js select|poll|epoll|os, got ${JSON.stringify(arg)}`);
  emit({ kind: 'done' });
} catch (e) {
  emit({ kind: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exit(1); // a server worker may still be spinning: do not wait for it
}

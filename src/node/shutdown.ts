// Clean shutdown of the process's xlio-ts hosts (KI-02, KI-12, KI-15, KI-20).
//
// The stack lives in this process: when the process goes, its TCP connections go with it —
// no kernel carries on sending what was queued, no FIN reaches the peer. So before the
// process actually ends, every connection of every live ProcessHost (host.ts registers
// itself here) gets what the program wrote flushed and a FIN (SO_LINGER 0: an RST), and the
// stack is pumped until the peers have acknowledged them or a bounded time has passed.
//
// When. Node's own behaviour is kept exactly; we only add the flush before it:
//   SIGINT, SIGTERM, SIGHUP  with no listener of the program's, Node dies of the signal. We
//             listen only while the program does not (a listener it adds later makes us
//             step aside: 'newListener'; when it removes its last one we come back), flush,
//             drop our listener — the signal's disposition is then the default again — and
//             re-raise the signal, so the parent sees the same signal (a shell: 128+n).
//   process.exit(), the end of the program, an uncaught exception
//             'exit' (Node emits it in all three, after printing an uncaught exception's
//             trace) flushes synchronously: nothing async can run there, so the link is
//             pumped on this thread, parking in its blocking waitForData between rounds.
//             We never print and never change the exit code.
//
// What is flushed. For each TCP descriptor: the rest of a drop-in socket's pending write
// and the chunks its stream still buffers (TcpHandle.unsent), handed to the stack as its send
// buffer takes them; then close(), which queues the FIN after them — or, with SO_LINGER
// {1, 0}, sends an RST and drops them, as Linux does. A socket with unread data is closed at
// once (Linux's close(): RST). Data arriving while a socket's writes are still being flushed
// is read and dropped (the program is gone), so that its close still sends a FIN. Connections
// already closed by the program (orphans still sending: KI-20) are waited for too.
//
// Bounded. The wait ends when every connection is done (FIN acknowledged: FIN_WAIT2,
// TIME_WAIT or CLOSED), or after `timeoutMs` (2 s; longer when a socket asked for a longer
// SO_LINGER, up to 60 s). Connections still unfinished then are reset, so their peers do not
// wait out a retransmission timeout for a process that is gone.

import { isMainThread } from 'node:worker_threads';
import { Errno } from '../errno.js';
import * as K from '../socket/constants.js';
import { TcpSocket } from '../socket/tcp-socket.js';
import { TcpState, type TcpConnection } from '../stack/tcp/connection.js';
import type { ProcessHost } from './host.js';

export type ShutdownSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';
export const SHUTDOWN_SIGNALS: readonly ShutdownSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface ShutdownOptions {
  /** The longest the flush waits for peers (ms) unless a socket's SO_LINGER asks for longer; default 2000. */
  timeoutMs?: number;
}

/** What one host's flush did. */
export interface FlushReport {
  /** TCP descriptors closed. */
  closed: number;
  /** Bytes of unsent program data handed to the stack. */
  flushedBytes: number;
  /** Connections reset because they had not finished by the deadline. */
  abandoned: number;
  /** How long it took (ms). */
  ms: number;
}

const DEFAULT_TIMEOUT_MS = 2000;
/** SO_LINGER may extend the wait, up to this. */
const MAX_LINGER_MS = 60_000;
/** The longest single park while waiting (ms). */
const PARK_MS = 10;
/** Receives of data nobody will read go here. */
const discard = new Uint8Array(64 * 1024);
/** For sleeping on a link that cannot park (the loopback-only host's). */
const nap = new Int32Array(new SharedArrayBuffer(4));

let timeoutMs = DEFAULT_TIMEOUT_MS;
const hosts = new Set<ProcessHost>();
let installed = false;
/** Signals we listen for now. */
const listening = new Set<ShutdownSignal>();
const handlers = new Map<ShutdownSignal, () => void>();
/** Our own process.on/removeListener calls, which the watchers must ignore. */
let selfEdit = false;

export function configureShutdown(opts: ShutdownOptions): void {
  if (opts.timeoutMs !== undefined) {
    if (!(opts.timeoutMs >= 0) || !Number.isFinite(opts.timeoutMs)) throw new RangeError(`timeoutMs must be a finite number >= 0, got ${opts.timeoutMs}`);
    timeoutMs = opts.timeoutMs;
  }
}

/** A host to flush at exit (ProcessHost's constructor). The first one installs the hooks. */
export function registerHost(host: ProcessHost): void {
  hosts.add(host);
  if (!installed) install();
}

/** A host that closed (ProcessHost.close). */
export function unregisterHost(host: ProcessHost): void {
  hosts.delete(host);
}

/** The signals we listen for now (tests). */
export function shutdownSignalsHeld(): ShutdownSignal[] {
  return SHUTDOWN_SIGNALS.filter((s) => listening.has(s));
}

function install(): void {
  installed = true;
  process.on('exit', onExit);
  // Keep our 'exit' listener after the program's, so what they write still goes out.
  process.on('newListener', onNewListener);
  if (!isMainThread) return; // signals reach the main thread only
  for (const sig of SHUTDOWN_SIGNALS) handlers.set(sig, () => onSignal(sig));
  process.on('removeListener', onRemoveListener);
  for (const sig of SHUTDOWN_SIGNALS) if (process.listenerCount(sig) === 0) listen(sig);
}

function listen(sig: ShutdownSignal): void {
  if (listening.has(sig)) return;
  listening.add(sig);
  selfEdit = true;
  try {
    process.on(sig, handlers.get(sig)!);
  } finally {
    selfEdit = false;
  }
}

function unlisten(sig: ShutdownSignal): void {
  if (!listening.delete(sig)) return;
  selfEdit = true;
  try {
    process.removeListener(sig, handlers.get(sig)!);
  } finally {
    selfEdit = false;
  }
}

function isShutdownSignal(event: string | symbol): event is ShutdownSignal {
  return event === 'SIGINT' || event === 'SIGTERM' || event === 'SIGHUP';
}

function onNewListener(event: string | symbol): void {
  if (selfEdit) return;
  if (event === 'exit') {
    // Added after this returns: move ours behind it once it is there.
    queueMicrotask(moveExitLast);
    return;
  }
  if (!isShutdownSignal(event) || !listening.has(event)) return;
  // The program handles this signal now. Ours goes once its listener is in (dropping ours
  // first would leave the signal at its default disposition for a moment); until then our
  // handler sees it and stays out of the way.
  queueMicrotask(() => {
    if (process.listenerCount(event) > 1) unlisten(event);
  });
}

function onRemoveListener(event: string | symbol): void {
  if (selfEdit || !isShutdownSignal(event)) return;
  if (process.listenerCount(event) === 0 && hosts.size > 0) listen(event);
}

function moveExitLast(): void {
  const ls = process.listeners('exit');
  if (ls[ls.length - 1] === onExit) return;
  selfEdit = true;
  try {
    process.removeListener('exit', onExit);
    process.on('exit', onExit);
  } finally {
    selfEdit = false;
  }
}

function onSignal(sig: ShutdownSignal): void {
  // The program listens too (it added a listener a moment ago): it decides, not us.
  if (process.listenerCount(sig) > 1) {
    unlisten(sig);
    return;
  }
  flushAll();
  // Back to the default disposition, then the same signal: Node's own death by it.
  for (const s of SHUTDOWN_SIGNALS) unlisten(s);
  process.kill(process.pid, sig);
}

function onExit(): void {
  flushAll();
}

/** Flushes and closes every registered host's connections (synchronously); each host once. */
export function flushAll(): void {
  for (const h of [...hosts]) {
    hosts.delete(h);
    if (h.isClosed) continue;
    try {
      flushHost(h);
    } catch {
      // The process is going: a failure here must not add output or change its status.
    }
  }
}

/** The state of one TCP descriptor being flushed. */
interface Pending {
  fd: number;
  chunks: Uint8Array[];
  at: number;
}

function isDone(c: TcpConnection): boolean {
  const s = c.state;
  return s === TcpState.Closed || s === TcpState.TimeWait || s === TcpState.FinWait2 || s === TcpState.Listen;
}

/**
 * Flushes one host synchronously: hands every TCP descriptor's unsent program data to the
 * stack, closes every descriptor (FIN after the data, or RST under SO_LINGER 0), and pumps
 * the link until every connection is done or the deadline (`timeoutMs` or SO_LINGER's).
 */
export function flushHost(host: ProcessHost, opts: ShutdownOptions = {}): FlushReport {
  const t0 = performance.now();
  const api = host.api;
  const driver = host.driver;
  const link = host.link;
  // process.exit() from a readiness callback: the round's transmits are corked.
  host.loop.uncork();
  host.stack.now = driver.now();
  let limitMs = opts.timeoutMs ?? timeoutMs;
  const flushing: Pending[] = [];
  let closed = 0;
  let flushedBytes = 0;
  for (const fd of [...api.fds.descriptors()]) {
    const f = api.fds.get(fd);
    if (!(f instanceof TcpSocket)) continue;
    if (f.lingerOn && f.lingerSeconds > 0) limitMs = Math.max(limitMs, Math.min(MAX_LINGER_MS, f.lingerSeconds * 1000));
    const c = f.conn;
    const sending = c !== null && f.listener === null && (c.state === TcpState.Established || c.state === TcpState.CloseWait);
    const chunks = sending && !(f.lingerOn && f.lingerSeconds === 0) && c.recvQ.length === 0 ? (host.ownerOf(fd)?.unsent?.() ?? []).filter((b) => b.length > 0) : [];
    if (chunks.length > 0) flushing.push({ fd, chunks: [...chunks], at: 0 });
    else {
      host.unwatch(fd);
      api.close(fd);
      closed++;
    }
  }
  const deadline = driver.now() + limitMs * 1000;
  for (;;) {
    // Hand over what the send buffers take; close a descriptor once it has nothing left.
    for (let i = 0; i < flushing.length; ) {
      const p = flushing[i]!;
      let dead = false;
      while (p.chunks.length > 0) {
        const b = p.chunks[0]!;
        const n = api.send(p.fd, p.at === 0 ? b : b.subarray(p.at), K.MSG_NOSIGNAL | K.MSG_DONTWAIT);
        if (n === -Errno.EAGAIN) break;
        if (n < 0) {
          dead = true; // reset by the peer, or the like: nothing more will go
          break;
        }
        flushedBytes += n;
        p.at += n;
        if (p.at >= b.length) {
          p.chunks.shift();
          p.at = 0;
        }
      }
      // Data the program will never read: dropped, so the close is a FIN, not an RST.
      while (!dead && api.recv(p.fd, discard, K.MSG_DONTWAIT) > 0) {
        /* drain */
      }
      if (dead || p.chunks.length === 0) {
        host.unwatch(p.fd);
        api.close(p.fd);
        closed++;
        flushing[i] = flushing[flushing.length - 1]!;
        flushing.pop();
        continue;
      }
      i++;
    }
    const next = driver.pump();
    const frames = driver.frames;
    let busy = flushing.length > 0;
    if (!busy) {
      for (const c of host.stack.tcp.connections()) {
        if (!isDone(c)) {
          busy = true;
          break;
        }
      }
    }
    if (!busy) break;
    const now = driver.now();
    if (now >= deadline) break;
    if (frames > 0) continue;
    // Nothing came: sleep until a frame, the stack's next timer or the deadline.
    const ms = Math.max(0, Math.min(PARK_MS, (Math.min(next, deadline) - now) / 1000));
    if (ms <= 0) continue;
    const before = performance.now();
    const woke = link.waitForData(ms);
    // A link that cannot park (no wire) returns at once: do not spin on it.
    if (!woke && performance.now() - before < ms / 2) Atomics.wait(nap, 0, 0, Math.min(1, ms));
  }
  // Out of time: the rest cannot finish. Reset them rather than leave their peers waiting.
  let abandoned = 0;
  for (const p of flushing) {
    host.unwatch(p.fd);
    api.setsockopt(p.fd, K.SOL_SOCKET, K.SO_LINGER, LINGER_ZERO);
    api.close(p.fd);
    closed++;
  }
  for (const c of [...host.stack.tcp.connections()]) {
    if (isDone(c)) continue;
    c.abort();
    abandoned++;
  }
  driver.pump();
  host.loop.uncork();
  return { closed, flushedBytes, abandoned, ms: performance.now() - t0 };
}

const LINGER_ZERO = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

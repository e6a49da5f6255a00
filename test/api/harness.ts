// The parity suite's harness. Every behaviour of `net` and `dgram` is written once, as a
// function of the modules under test, and registered in one table; parity-node.test.ts runs
// the table against Node's own `node:net`/`node:dgram` (proof that the expectations describe
// Node), parity-xlio.test.ts runs the same table against `xlio-ts/net`/`xlio-ts/dgram`.
//
// Rules for behaviours: exact expectations (event sequences recorded and deepEqual'd, error
// codes/syscalls/messages, return values), no outcome that depends on a timing race, every
// wait bounded (a test never takes more than a few seconds), port 0 everywhere, and all
// sockets/servers closed through t.after even when an assertion throws halfway.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { describe, test, type TestContext } from 'node:test';
import type * as NodeNet from 'node:net';
import type * as NodeDgram from 'node:dgram';

/** The modules under test, plus the specifiers a child process imports to get the same ones. */
export interface Mods {
  net: typeof NodeNet;
  dgram: typeof NodeDgram;
  /** What a child process passes to import() for `net` (node:net, or a file URL). */
  netSpec: string;
  /** What a child process passes to import() for `dgram`. */
  dgramSpec: string;
}

export type Area =
  | 'net: connect'
  | 'net: data'
  | 'net: close'
  | 'net: errors'
  | 'net: server'
  | 'net: backpressure'
  | 'net: timeouts and options'
  | 'net: ipv6'
  | 'net: lifetime and abort'
  | 'dgram: bind and send'
  | 'dgram: connect'
  | 'dgram: errors and close'
  | 'dgram: options, ipv6, multicast'
  | 'dgram: lifetime and abort';

export type BehaviourFn = (m: Mods, t: TestContext) => Promise<void>;

export interface Behaviour {
  area: Area;
  name: string;
  fn: BehaviourFn;
}

/** The table, in registration order. */
export const table: Behaviour[] = [];

/** Registers one behaviour; names are unique within an area. */
export function behaviour(area: Area, name: string, fn: BehaviourFn): void {
  if (table.some((b) => b.area === area && b.name === name)) throw new Error(`duplicate behaviour: ${area} / ${name}`);
  table.push({ area, name, fn });
}

/** Per-behaviour bound: a drop-in that hangs fails that behaviour, not the whole file. */
export const BEHAVIOUR_TIMEOUT_MS = 6_000;

/** Runs every behaviour of the table against `m`, one describe() per area. */
export function runTable(m: Mods, rows: readonly Behaviour[] = table): void {
  const areas = [...new Set(rows.map((b) => b.area))];
  for (const area of areas) {
    describe(area, () => {
      for (const b of rows.filter((r) => r.area === area)) {
        test(b.name, { timeout: BEHAVIOUR_TIMEOUT_MS }, (t) => b.fn(m, t));
      }
    });
  }
}

// ---------------------------------------------------------------- waiting, bounded

/** `p`, or a rejection naming `what` after `ms`. */
export function bounded<T>(p: Promise<T>, what: string, ms = 2_500): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The arguments of the next `event` on `em` (bounded). Rejects on 'error' unless waiting for 'error' or 'close'. */
export function next(em: EventEmitter, event: string, ms = 2_500): Promise<any[]> {
  return bounded(
    new Promise<any[]>((resolve, reject) => {
      const onEvent = (...args: any[]) => {
        em.off('error', onError);
        resolve(args);
      };
      const onError = (err: unknown) => {
        em.off(event, onEvent);
        reject(err);
      };
      em.once(event, onEvent);
      if (event !== 'error' && event !== 'close') em.once('error', onError);
    }),
    `'${event}'`,
    ms,
  );
}

/** Resolves once `pred()` holds (polled), or rejects after `ms`. */
export async function until(pred: () => boolean, what: string, ms = 2_500): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One turn of the event loop (setImmediate). */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// ---------------------------------------------------------------- recording events

/**
 * Records the given events of `em` into an array, in order: the event name, with the
 * boolean of 'close' (close:false / close:true), the code of 'error' (error:ECONNRESET)
 * and the utf-8 text of 'data' (data:…) when asked for.
 */
export function record(em: EventEmitter, events: readonly string[], log: string[] = [], prefix = ''): string[] {
  for (const ev of events) {
    em.on(ev, (...args: any[]) => {
      if (ev === 'close' && typeof args[0] === 'boolean') log.push(`${prefix}close:${args[0]}`);
      else if (ev === 'error') log.push(`${prefix}error:${(args[0] as { code?: string })?.code ?? (args[0] as Error)?.name}`);
      else if (ev === 'data') log.push(`${prefix}data:${String(args[0])}`);
      else log.push(`${prefix}${ev}`);
    });
  }
  return log;
}

/** Everything `s` delivers until 'end' (or 'close'), concatenated. */
export function collect(s: NodeJS.ReadableStream & EventEmitter, ms = 2_500): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer | string) => chunks.push(typeof d === 'string' ? Buffer.from(d) : d));
  return bounded(
    new Promise<Buffer>((resolve, reject) => {
      s.once('end', () => resolve(Buffer.concat(chunks)));
      s.once('close', () => resolve(Buffer.concat(chunks)));
      s.once('error', reject);
    }),
    'the end of the stream',
    ms,
  );
}

/** Picks out the fields of an error the suite compares. */
export function errFields(e: any, keys: readonly string[] = ['code', 'errno', 'syscall', 'address', 'port', 'message']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = e?.[k];
  return out;
}

/** Runs `fn`, expects it to throw, returns the error. */
export function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected a throw');
}

// ---------------------------------------------------------------- net fixtures

export type NetSocket = NodeNet.Socket;
export type NetServer = NodeNet.Server;

/** Destroys/closes everything registered, when the test ends (pass or fail). */
export function cleanup(t: TestContext, ...things: { destroy?: () => unknown; close?: (...a: any[]) => unknown }[]): void {
  t.after(() => {
    for (const x of things) {
      try {
        if (typeof x.destroy === 'function') x.destroy();
        else if (typeof x.close === 'function') x.close();
      } catch {
        /* already closed */
      }
    }
  });
}

export interface Listening {
  server: NetServer;
  port: number;
  /** Every socket the server accepted, in order. */
  accepted: NetSocket[];
  /** The next accepted socket (bounded). */
  nextConnection(): Promise<NetSocket>;
}

/** A server listening on `host` (default 127.0.0.1), port 0; closed, with its connections, at the end of the test. */
export async function listening(
  m: Mods,
  t: TestContext,
  opts: { host?: string; server?: NodeNet.ServerOpts; listen?: NodeNet.ListenOptions } = {},
): Promise<Listening> {
  const server = m.net.createServer(opts.server ?? {});
  const accepted: NetSocket[] = [];
  const waiters: ((s: NetSocket) => void)[] = [];
  server.on('connection', (s: NetSocket) => {
    accepted.push(s);
    s.on('error', () => {}); // behaviours that care listen themselves
    const w = waiters.shift();
    if (w) w(s);
  });
  t.after(() => {
    for (const s of accepted) s.destroy();
    try {
      server.close();
    } catch {
      /* not running */
    }
  });
  server.listen({ port: 0, host: opts.host ?? '127.0.0.1', ...(opts.listen ?? {}) });
  await next(server, 'listening');
  const port = (server.address() as NodeNet.AddressInfo).port;
  let taken = 0;
  return {
    server,
    port,
    accepted,
    nextConnection() {
      const i = taken++;
      if (i < accepted.length) return Promise.resolve(accepted[i]!);
      return bounded(
        new Promise<NetSocket>((resolve) => {
          waiters.push(resolve);
        }),
        "the server's 'connection'",
      );
    },
  };
}

/** A client connected to `l` (both ends established): [client, its accepted peer]. */
export async function connected(
  m: Mods,
  t: TestContext,
  l: Listening,
  opts: Partial<NodeNet.TcpNetConnectOpts> = {},
): Promise<[NetSocket, NetSocket]> {
  const peer = l.nextConnection();
  const c = m.net.connect({ port: l.port, host: '127.0.0.1', ...opts });
  cleanup(t, c);
  await next(c, 'connect');
  return [c, await peer];
}

/** A client/server pair on 127.0.0.1 with default options. */
export async function pair(m: Mods, t: TestContext, server: NodeNet.ServerOpts = {}, client: Partial<NodeNet.TcpNetConnectOpts> = {}) {
  const l = await listening(m, t, { server });
  const [c, s] = await connected(m, t, l, client);
  return { l, c, s };
}

/** A port on `host` that nothing listens on (a server bound it, then closed). */
export async function closedPort(m: Mods, host = '127.0.0.1'): Promise<number> {
  const s = m.net.createServer();
  s.listen(0, host);
  await next(s, 'listening');
  const port = (s.address() as NodeNet.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------- dgram fixtures

export type Udp = NodeDgram.Socket;

/** A UDP socket bound to `address` port 0 (after 'listening'); closed at the end of the test. */
export async function bound(m: Mods, t: TestContext, type: 'udp4' | 'udp6' = 'udp4', address?: string, opts: Partial<NodeDgram.SocketOptions> = {}): Promise<Udp> {
  const s = m.dgram.createSocket({ type, ...opts });
  closeUdpAfter(t, s);
  s.bind(0, address ?? (type === 'udp4' ? '127.0.0.1' : '::1'));
  await next(s, 'listening');
  return s;
}

export function closeUdpAfter(t: TestContext, ...socks: Udp[]): void {
  t.after(() => {
    for (const s of socks) {
      try {
        s.close();
      } catch {
        /* already closed */
      }
    }
  });
}

export function udpPort(s: Udp): number {
  return s.address().port;
}

/** The next datagram on `s`: [message, rinfo] (bounded). */
export async function message(s: Udp, ms = 2_500): Promise<[Buffer, NodeDgram.RemoteInfo]> {
  const [msg, rinfo] = await next(s, 'message', ms);
  return [msg as Buffer, rinfo as NodeDgram.RemoteInfo];
}

// ---------------------------------------------------------------- child processes

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs an ES module `script` in a fresh Node process with `net` and `dgram` bound to the
 * modules under test (imported from m.netSpec / m.dgramSpec; '' = not available); killed after `ms`.
 */
export function child(m: Mods, script: string, ms = 4_000): Promise<ChildResult> {
  const load = (name: string, spec: string, fn: string) =>
    spec === ''
      ? `const ${name} = undefined;\n`
      : `const ${name}NS = await import(${JSON.stringify(spec)}); const ${name} = typeof ${name}NS.${fn} === 'function' ? ${name}NS : ${name}NS.default;\n`;
  const prelude = load('net', m.netSpec, 'connect') + load('dgram', m.dgramSpec, 'createSocket');
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', prelude + script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

// xlio-ts/register: transparent offload of an unmodified program, as LD_PRELOAD=libxlio.so
// does for a C one.
//
//   node --import xlio-ts/register app.js          (or: xlio run -- node app.js)
//
// Loaded before the program, it reads the environment — XLIO_LINK/XLIO_ADDR/XLIO_GATEWAY for
// the process host (host.ts), the XLIO_* settings (runtime/config.ts), the libxlio.conf rules
// (XLIO_CONFIG_FILE, /etc/libxlio.conf; runtime/rules.ts) for this program's name — and then
// patches Node's own `net` and `dgram` so that each socket asks the rules, as XLIO does:
//
//   tcp_server    net.Server.prototype.listen (http.Server, https.Server, tls.Server and plain
//                 net servers are all net.Servers): the local address and port. Offloaded, an
//                 xlio-ts Server listens instead and every socket it accepts is emitted as
//                 'connection' on the program's server; address(), close(), getConnections(),
//                 ref()/unref(), `listening`, maxConnections, 'listening', 'close', 'drop' and
//                 errors are the xlio-ts Server's, which are Node's.
//   tcp_client    net.Socket.prototype.connect — which net.connect, net.createConnection and
//                 http.Agent's createConnection all end in: the peer (and the local end when
//                 given). Offloaded, the program's net.Socket becomes an xlio-ts Socket before
//                 connecting (its prototype is swapped; the stream state, listeners and data
//                 written while connecting are kept). Only plain net.Sockets are converted: a
//                 subclass (tls.TLSSocket makes its own native handle) goes to the OS; a TLS
//                 client is offloaded when tls.connect is given no socket of its own (below).
//   udp_receiver  dgram.createSocket returns a socket that decides at its first bind (the
//   udp_connect   local end), connect (the peer) or send (the destination), whichever comes
//   udp_sender    first, and keeps that decision (XLIO decides udp_sender per destination;
//                 one socket here is on one side for its life).
//
// Names (not IP literals) are resolved with dns.lookup before a decision; 'localhost' is
// 127.0.0.1. route()'s KI-18 rule applies: a peer or bound address that only the host
// kernel owns goes to the OS. Everything not selected is Node's own code, untouched.
//
// XLIO_TRACELEVEL ≥ 3 (info and above), or NODE_DEBUG containing "xlio", writes one line per
// decision to stderr: `xlio-ts: tcp_server [::]:8080 -> xlio (/etc/libxlio.conf:3: use xlio
// tcp_server *:8080)`. Silent by default. A bad XLIO_* value or rules file stops the program
// at start with the reason (as XLIO refuses to start), exit status 1.

import dgram from 'node:dgram';
import dns from 'node:dns';
import { EventEmitter } from 'node:events';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';
import { configFromEnvironment } from '../runtime/config.js';
import { hostView, loadRules, programName, type HostView, type RuleKind, type RuleSet, type Transport } from '../runtime/rules.js';
import * as xdgram from './dgram.js';
import { ERR_SERVER_NOT_RUNNING } from './errors.js';
import { processHostFromEnv } from './host.js';
import * as xnet from './net.js';

// ---------------------------------------------------------------------------------------
// Environment

const TRACE_NAMES: Record<string, number> = { none: -1, panic: 0, error: 1, warn: 2, warning: 2, info: 3, details: 4, debug: 5, fine: 6, func: 6, finer: 7, funcall: 7, 'func+': 7, all: 8 };

function traceLevel(env: NodeJS.ProcessEnv): number {
  const v = (env['XLIO_TRACELEVEL'] ?? '').trim().toLowerCase();
  if (v === '') return -1;
  if (v in TRACE_NAMES) return TRACE_NAMES[v]!;
  const n = Number(v);
  return Number.isInteger(n) ? n : -1;
}

const verbose = traceLevel(process.env) >= 3 || /(^|,)\s*xlio\s*(,|$)/i.test(process.env['NODE_DEBUG'] ?? '');

function log(line: string): void {
  if (verbose) process.stderr.write(`xlio-ts: ${line}\n`);
}

let rules: RuleSet;
let view: HostView;
try {
  configFromEnvironment(process.env);
  rules = loadRules(process.env, { program: programName(process.argv) });
  view = hostView(process.env);
  await processHostFromEnv(process.env);
} catch (e) {
  process.stderr.write(`xlio-ts: cannot offload this program: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}

/** Counts of decisions, for tests and `xlio run`'s log. */
export const decisions = { xlio: 0, os: 0 };

function fmt(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address || '*'}:${port}`;
}

/** The rules' answer for one socket (logged). `remote` for the kinds that match the peer. */
function choose(kind: RuleKind, local: { address: string; port: number }, remote?: { address: string; port: number }): Transport {
  const r = rules.route(kind, local, remote, view);
  decisions[r.transport]++;
  const what = remote !== undefined ? `${fmt(remote.address, remote.port)}${local.address !== '' || local.port !== 0 ? ` from ${fmt(local.address, local.port)}` : ''}` : fmt(local.address, local.port);
  log(`${kind} ${what} -> ${r.transport} (${r.reason})`);
  return r.transport;
}

/** An IP literal for `host` now ('localhost' → 127.0.0.1), or null when it needs a lookup. */
function literal(host: string | undefined | null, fallback: string): string | null {
  if (host === undefined || host === null || host === '') return fallback;
  if (net.isIP(host) !== 0) return host;
  if (host === 'localhost') return '127.0.0.1';
  return null;
}

/** Resolves `host` (family as Node would pick first), then calls back with an address ('' when it fails). */
function resolve(host: string, family: number, cb: (address: string) => void): void {
  dns.lookup(host, { family: family === 4 || family === 6 ? family : 0 }, (err, address) => cb(err ? '' : address));
}

// ---------------------------------------------------------------------------------------
// tcp_server: net.Server.prototype.listen

const kX = Symbol('xlio-ts server');
type NodeServer = net.Server & Record<string | symbol, any>;
const ServerProto = net.Server.prototype as unknown as Record<string | symbol, any>;
const nodeListen = ServerProto['listen'] as (...args: unknown[]) => net.Server;
const nodeClose = ServerProto['close'] as (cb?: (err?: Error) => void) => net.Server;
const nodeAddress = ServerProto['address'] as () => unknown;
const nodeGetConnections = ServerProto['getConnections'] as (cb: (err: Error | null, n: number) => void) => net.Server;
const nodeRef = ServerProto['ref'] as () => net.Server;
const nodeUnref = ServerProto['unref'] as () => net.Server;
const nodeListening = Object.getOwnPropertyDescriptor(ServerProto, 'listening')!;
const nodeServerDispose = ServerProto[Symbol.asyncDispose] as (() => Promise<void>) | undefined;

/** The xlio-ts server standing in for `server` (made once, reused if it listens again). */
function xserverFor(server: NodeServer): xnet.Server {
  let x = server[kX] as xnet.Server | undefined;
  if (x !== undefined) return x;
  x = new xnet.Server({
    allowHalfOpen: Boolean(server.allowHalfOpen),
    pauseOnConnect: Boolean(server.pauseOnConnect),
    noDelay: Boolean(server.noDelay),
    keepAlive: Boolean(server.keepAlive),
    keepAliveInitialDelay: (Number(server.keepAliveInitialDelay) || 0) * 1000,
    ...(typeof server.highWaterMark === 'number' ? { highWaterMark: server.highWaterMark } : {}),
  });
  // maxConnections is read at each accept: the program's server holds it.
  Object.defineProperty(x, 'maxConnections', { get: () => server.maxConnections, set: (v) => (server.maxConnections = v), configurable: true });
  x.on('connection', (s: xnet.Socket) => {
    s.server = server as unknown as xnet.Server;
    server.emit('connection', s);
  });
  x.on('listening', () => server.emit('listening'));
  x.on('close', () => server.emit('close'));
  x.on('error', (e) => server.emit('error', e));
  x.on('drop', (d) => server.emit('drop', d));
  server[kX] = x;
  return x;
}

function offloadedListen(server: NodeServer, args: unknown[]): void {
  const x = xserverFor(server);
  // A listen callback is a 'listening' listener of the program's server, as Node's.
  const last = args[args.length - 1];
  const rest = typeof last === 'function' ? args.slice(0, -1) : args;
  if (typeof last === 'function') server.once('listening', last as () => void);
  if (server._unref === true) x.unref();
  x.listen(...rest);
}

ServerProto['listen'] = function listen(this: NodeServer, ...args: unknown[]): net.Server {
  const x = this[kX] as xnet.Server | undefined;
  if (x?.listening === true) return nodeListen.apply(this, args); // ERR_SERVER_ALREADY_LISTEN, as Node
  if (this.listening) return nodeListen.apply(this, args);
  const options = (net as unknown as { _normalizeArgs(a: unknown[]): [Record<string, any>, unknown] })._normalizeArgs(args)[0];
  const o = (options['_handle'] || options['handle'] || options) as Record<string, any>;
  if (o['path'] || typeof o['fd'] === 'number' || o['_handle'] !== undefined || o !== options || options['exclusive'] === false || typeof options['port'] === 'object') {
    return nodeListen.apply(this, args);
  }
  const port = Number(options['port'] ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return nodeListen.apply(this, args); // Node's validation error
  const go = (address: string): void => {
    if (choose('tcp_server', { address, port }) === 'xlio') offloadedListen(this, args);
    else {
      this[kX] = undefined;
      nodeListen.apply(this, args);
    }
  };
  const host = options['host'] as string | undefined;
  const lit = literal(host, '::'); // Node listens on [::] (dual stack) when no host is given
  if (lit !== null) go(lit);
  else resolve(host!, 0, (a) => go(a));
  return this;
};

ServerProto['close'] = function close(this: NodeServer, cb?: (err?: Error) => void): net.Server {
  const x = this[kX] as xnet.Server | undefined;
  if (x === undefined) return nodeClose.call(this, cb);
  if (typeof cb === 'function') {
    if (!x.listening) this.once('close', () => cb(new ERR_SERVER_NOT_RUNNING()));
    else this.once('close', cb);
  }
  x.close();
  return this;
};

ServerProto['address'] = function address(this: NodeServer): unknown {
  const x = this[kX] as xnet.Server | undefined;
  return x === undefined ? nodeAddress.call(this) : x.address();
};

ServerProto['getConnections'] = function getConnections(this: NodeServer, cb: (err: Error | null, n: number) => void): net.Server {
  const x = this[kX] as xnet.Server | undefined;
  if (x === undefined) return nodeGetConnections.call(this, cb);
  x.getConnections(cb);
  return this;
};

ServerProto['ref'] = function ref(this: NodeServer): net.Server {
  const x = this[kX] as xnet.Server | undefined;
  if (x === undefined) return nodeRef.call(this);
  this._unref = false;
  x.ref();
  return this;
};

ServerProto['unref'] = function unref(this: NodeServer): net.Server {
  const x = this[kX] as xnet.Server | undefined;
  if (x === undefined) return nodeUnref.call(this);
  this._unref = true;
  x.unref();
  return this;
};

Object.defineProperty(ServerProto, 'listening', {
  ...nodeListening,
  get(this: NodeServer): boolean {
    const x = this[kX] as xnet.Server | undefined;
    return x !== undefined ? x.listening : (nodeListening.get!.call(this) as boolean);
  },
});

if (nodeServerDispose !== undefined) {
  ServerProto[Symbol.asyncDispose] = async function asyncDispose(this: NodeServer): Promise<void> {
    const x = this[kX] as xnet.Server | undefined;
    if (x === undefined) return nodeServerDispose.call(this);
    if (!x.listening) return;
    await new Promise<void>((res, rej) => this.close((e?: Error) => (e ? rej(e) : res())));
  };
}

// ---------------------------------------------------------------------------------------
// tcp_client: net.Socket.prototype.connect

const SocketProto = net.Socket.prototype as unknown as Record<string | symbol, any>;
const nodeConnect = SocketProto['connect'] as (...args: unknown[]) => net.Socket;
const nodeSetTimeout = SocketProto['setTimeout'] as (ms: number) => net.Socket;
const normalizedArgs = Object.getOwnPropertySymbols((net as unknown as { _normalizeArgs(a: unknown[]): object })._normalizeArgs([])).find((s) => s.description === 'normalizedArgs');
/** Own fields of a fresh socket that stay the program socket's: its emitter and stream state. */
const KEEP = new Set<string | symbol>(['_events', '_eventsCount', '_maxListeners', '_readableState', '_writableState', 'allowHalfOpen']);

/** Turns a plain net.Socket that has not connected yet into an xlio-ts Socket (same object). */
function become(sock: net.Socket & Record<string | symbol, any>, options: Record<string, any>): void {
  const timeout = sock.timeout;
  if (timeout) nodeSetTimeout.call(sock, 0);
  const fresh = new xnet.Socket({
    allowHalfOpen: sock.allowHalfOpen,
    ...(options['noDelay'] !== undefined ? { noDelay: options['noDelay'] } : {}),
    ...(options['keepAlive'] !== undefined ? { keepAlive: options['keepAlive'] } : {}),
    ...(options['keepAliveInitialDelay'] !== undefined ? { keepAliveInitialDelay: options['keepAliveInitialDelay'] } : {}),
    ...(options['onread'] !== undefined ? { onread: options['onread'] } : {}),
  }) as unknown as Record<string | symbol, any>;
  for (const key of Reflect.ownKeys(fresh)) {
    if (KEEP.has(key)) continue;
    if (typeof key === 'symbol' && (key.description === 'kCapture' || key.description === 'shapeMode')) continue;
    sock[key] = fresh[key];
  }
  // Node's setNoDelay/setKeepAlive before connect are remembered in its own fields.
  const nodeSym = (name: string): unknown => {
    const s = Object.getOwnPropertySymbols(sock).find((k) => k.description === name && !Object.prototype.hasOwnProperty.call(fresh, k));
    return s === undefined ? undefined : sock[s];
  };
  Object.setPrototypeOf(sock, xnet.Socket.prototype);
  if (nodeSym('kSetNoDelay') === true) sock.setNoDelay(true);
  if (nodeSym('kSetKeepAlive') === true) sock.setKeepAlive(true, Number(nodeSym('kSetKeepAliveInitialDelay') ?? 0) * 1000);
  if (timeout) sock.setTimeout(timeout);
}

SocketProto['connect'] = function connect(this: net.Socket & Record<string | symbol, any>, ...args: unknown[]): net.Socket {
  // Only a plain, fresh net.Socket can become one of ours; everything else is Node's.
  if (Object.getPrototypeOf(this) !== SocketProto || this._handle || this.connecting || this.destroyed || this._parent) return nodeConnect.apply(this, args);
  const normalized = normalizedArgs !== undefined && Array.isArray(args[0]) && (args[0] as unknown as Record<symbol, unknown>)[normalizedArgs] ? (args[0] as unknown as [Record<string, any>, unknown]) : (net as unknown as { _normalizeArgs(a: unknown[]): [Record<string, any>, unknown] })._normalizeArgs(args);
  const options = normalized[0];
  const cb = normalized[1];
  if (options['path'] || options['port'] === undefined || options['port'] === null) return nodeConnect.apply(this, args);
  const port = Number(options['port']);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return nodeConnect.apply(this, args);
  const local = { address: typeof options['localAddress'] === 'string' ? options['localAddress'] : '', port: Number(options['localPort'] ?? 0) || 0 };
  const go = (address: string): void => {
    if (address !== '' && choose('tcp_client', local, { address, port }) === 'xlio') {
      become(this, options);
      (this as { connecting: boolean }).connecting = false;
      // The program's own options (host name, family, lookup, timeouts…) and callback.
      (xnet.Socket.prototype.connect as (...a: unknown[]) => unknown).call(this, options, ...(typeof cb === 'function' ? [cb] : []));
    } else {
      if (address === '') decisions.os++;
      (this as { connecting: boolean }).connecting = false;
      nodeConnect.apply(this, args);
    }
  };
  const lit = literal(options['host'] as string | undefined, 'localhost');
  if (lit === 'localhost') go('127.0.0.1');
  else if (lit !== null) go(lit);
  else {
    // Writes while the name resolves wait for 'connect', as they do while Node connects.
    (this as { connecting: boolean }).connecting = true;
    resolve(options['host'] as string, Number(options['family'] ?? 0), (a) => go(a));
  }
  return this;
};

// A TLS client without a socket of its own: its TCP connection asks the rules; offloaded,
// TLS runs over an xlio-ts socket (as HttpsAgent does).
const nodeTlsConnect = tls.connect;
function tlsConnect(this: unknown, ...args: any[]): tls.TLSSocket {
  const o = args[0];
  if (o === null || typeof o !== 'object' || o.socket !== undefined || o.path || o.port === undefined) return (nodeTlsConnect as (...a: unknown[]) => tls.TLSSocket).apply(this, args);
  const host = (o.host as string | undefined) ?? 'localhost';
  const lit = literal(host, 'localhost') === 'localhost' ? '127.0.0.1' : literal(host, 'localhost');
  const port = Number(o.port);
  if (lit === null || !Number.isInteger(port) || port <= 0 || port > 65535) return (nodeTlsConnect as (...a: unknown[]) => tls.TLSSocket).apply(this, args);
  const local = { address: typeof o.localAddress === 'string' ? o.localAddress : '', port: Number(o.localPort ?? 0) || 0 };
  if (choose('tcp_client', local, { address: lit, port }) !== 'xlio') return (nodeTlsConnect as (...a: unknown[]) => tls.TLSSocket).apply(this, args);
  const socket = new xnet.Socket();
  socket.connect({ port, host, ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}), ...(o.localPort !== undefined ? { localPort: o.localPort } : {}) });
  const servername = o.servername ?? (net.isIP(host) === 0 ? host : undefined);
  return (nodeTlsConnect as (...a: unknown[]) => tls.TLSSocket).call(this, { ...o, socket, ...(servername !== undefined ? { servername } : {}) }, ...args.slice(1));
}
(tls as { connect: unknown }).connect = tlsConnect;

// ---------------------------------------------------------------------------------------
// udp_receiver, udp_connect, udp_sender: dgram.createSocket

const nodeCreateSocket = dgram.createSocket;
type AnySocket = dgram.Socket | xdgram.Socket;
const FORWARDED = ['message', 'listening', 'close', 'error', 'connect'] as const;

/** A dgram socket that is Node's or xlio-ts's from its first bind, connect or send on. */
class RoutedDgramSocket extends EventEmitter {
  private impl: AnySocket | null = null;
  private refd = true;
  private closed = false;
  private readonly opts: dgram.SocketOptions;

  constructor(opts: dgram.SocketOptions) {
    super();
    this.opts = opts;
  }

  private wildcard(): string {
    return this.opts.type === 'udp6' ? '::' : '0.0.0.0';
  }

  private loopback(): string {
    return this.opts.type === 'udp6' ? '::1' : '127.0.0.1';
  }

  /** Makes the socket on `transport`'s side and forwards its events. */
  private make(transport: Transport): AnySocket {
    const impl = transport === 'xlio' ? xdgram.createSocket(this.opts as xdgram.SocketOptions) : nodeCreateSocket(this.opts);
    for (const ev of FORWARDED) (impl as EventEmitter).on(ev, (...a: unknown[]) => this.emit(ev, ...a));
    if (!this.refd) impl.unref();
    this.impl = impl;
    return impl;
  }

  /** The socket for a call made before any decision that is not one: Node's errors on an unbound socket. */
  private probe<T>(f: (s: dgram.Socket) => T): T {
    const s = nodeCreateSocket(this.opts.type);
    try {
      return f(s);
    } finally {
      s.close();
    }
  }

  private decided(kind: RuleKind, address: string | null, port: number, remote: boolean, then: (s: AnySocket) => void): void {
    const fin = (a: string): void => {
      if (this.impl !== null) return then(this.impl);
      const end = { address: a, port };
      const t = a === '' ? 'os' : remote ? choose(kind, { address: '', port: 0 }, end) : choose(kind, end);
      then(this.make(t));
    };
    if (this.impl !== null) return then(this.impl);
    if (address !== null) return fin(address);
    return fin('');
  }

  bind(...args: any[]): this {
    if (this.impl !== null) {
      (this.impl.bind as (...a: unknown[]) => unknown)(...args);
      return this;
    }
    let port = 0;
    let address: string | undefined;
    if (args[0] !== null && typeof args[0] === 'object') {
      port = Number(args[0].port ?? 0) || 0;
      address = args[0].address;
      if (typeof args[0].fd === 'number') {
        (this.make('os').bind as (...a: unknown[]) => unknown)(...args);
        return this;
      }
    } else {
      port = Number(args[0] ?? 0) || 0;
      if (typeof args[1] === 'string') address = args[1];
    }
    const lit = literal(address, this.wildcard());
    const run = (a: string): void => this.decided('udp_receiver', a, port, false, (s) => (s.bind as (...x: unknown[]) => unknown)(...args));
    if (lit !== null) run(lit);
    else {
      // As Node: binding is asynchronous when it needs a lookup; calls in between wait for it.
      this.impl = null;
      resolve(address!, this.opts.type === 'udp6' ? 6 : 4, run);
    }
    return this;
  }

  connect(port: number, address?: string | (() => void), cb?: () => void): void {
    if (this.impl !== null) return (this.impl.connect as (...a: unknown[]) => void)(port, address, cb);
    const addr = typeof address === 'string' ? address : undefined;
    const lit = literal(addr, this.loopback());
    const args = [port, address, cb].filter((a) => a !== undefined);
    if (typeof port !== 'number' && typeof port !== 'string') {
      (this.make('os').connect as (...a: unknown[]) => void)(...args);
      return;
    }
    const run = (a: string): void => this.decided('udp_connect', a, Number(port), true, (s) => (s.connect as (...x: unknown[]) => void)(...args));
    if (lit !== null) run(lit);
    else resolve(addr!, this.opts.type === 'udp6' ? 6 : 4, run);
  }

  send(...args: any[]): void {
    if (this.impl !== null) return (this.impl.send as (...a: unknown[]) => void)(...args);
    // Node's argument shapes: (msg, [offset, length,] port, address, cb) on an unconnected socket.
    let port: unknown;
    let address: unknown;
    if (args[4] || (args[3] && typeof args[3] !== 'function')) {
      port = args[3];
      address = args[4];
    } else {
      port = args[1];
      address = args[2];
    }
    const p = Number(port);
    if (!Number.isInteger(p) || p <= 0 || p > 65535) {
      (this.make('os').send as (...a: unknown[]) => void)(...args); // Node's error
      return;
    }
    const addr = typeof address === 'string' ? address : undefined;
    const lit = literal(addr, this.loopback());
    const run = (a: string): void => this.decided('udp_sender', a, p, true, (s) => (s.send as (...x: unknown[]) => void)(...args));
    if (lit !== null) run(lit);
    else resolve(addr!, this.opts.type === 'udp6' ? 6 : 4, run);
  }

  close(cb?: () => void): this {
    if (this.impl !== null) {
      this.impl.close(cb);
      return this;
    }
    if (this.closed) return this.probe((s) => (s.close(), this)); // ERR_SOCKET_DGRAM_NOT_RUNNING from the second close
    this.closed = true;
    if (typeof cb === 'function') this.once('close', cb);
    process.nextTick(() => this.emit('close'));
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.impl !== null) return (this.impl as unknown as { [Symbol.asyncDispose](): Promise<void> })[Symbol.asyncDispose]();
    if (!this.closed) await new Promise<void>((r) => this.close(r));
  }

  ref(): this {
    this.refd = true;
    this.impl?.ref();
    return this;
  }

  unref(): this {
    this.refd = false;
    this.impl?.unref();
    return this;
  }
}

// The remaining methods: the decided socket's, or Node's answer for a socket that is not bound.
for (const name of [
  'address',
  'remoteAddress',
  'disconnect',
  'setBroadcast',
  'setTTL',
  'setMulticastTTL',
  'setMulticastLoopback',
  'setMulticastInterface',
  'addMembership',
  'dropMembership',
  'addSourceSpecificMembership',
  'dropSourceSpecificMembership',
  'setRecvBufferSize',
  'setSendBufferSize',
  'getRecvBufferSize',
  'getSendBufferSize',
  'getSendQueueSize',
  'getSendQueueCount',
] as const) {
  Object.defineProperty(RoutedDgramSocket.prototype, name, {
    value: function (this: { impl: AnySocket | null; probe<T>(f: (s: dgram.Socket) => T): T }, ...args: unknown[]): unknown {
      if (this.impl !== null) return (this.impl[name] as (...a: unknown[]) => unknown).apply(this.impl, args);
      return this.probe((s) => (s[name] as (...a: unknown[]) => unknown).apply(s, args));
    },
    writable: true,
    configurable: true,
  });
}

function createSocket(type: dgram.SocketType | dgram.SocketOptions, listener?: (msg: Buffer, rinfo: dgram.RemoteInfo) => void): dgram.Socket {
  const opts: dgram.SocketOptions = typeof type === 'string' ? { type } : { ...(type as dgram.SocketOptions) };
  // Bad types, options Node refuses: Node's own errors.
  if ((opts.type !== 'udp4' && opts.type !== 'udp6') || opts.signal?.aborted) return nodeCreateSocket(type as dgram.SocketType, listener);
  const s = new RoutedDgramSocket(opts);
  if (typeof listener === 'function') s.on('message', listener);
  if (opts.signal !== undefined) opts.signal.addEventListener('abort', () => s.close(), { once: true });
  return s as unknown as dgram.Socket;
}
(dgram as { createSocket: unknown }).createSocket = createSocket;

// ESM `import { createSocket } from 'node:dgram'` and friends see the patched functions.
syncBuiltinESMExports();

log(`offloading ${programName(process.argv)} (rules: ${rules.source ?? 'none'}${rules.block !== null ? `, block "${rules.block.program} ${rules.block.id}"` : ''}; link: ${process.env['XLIO_LINK'] || 'loopback only'})`);

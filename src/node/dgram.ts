// xlio-ts/dgram: Node's `dgram` module over the process's xlio-ts stack (src/node/host.ts).
//
// The JavaScript half follows Node 20's lib/dgram.js step by step — the same argument
// juggling in send(), the same bind/connect states, queue of sends made while binding,
// lookups, nextTicks and error objects — so events come in the same order and errors carry
// the same code, errno, syscall, address, port and message. The native half, which Node
// gets from udp_wrap.cc and libuv, is the `handle*` methods below, written to libuv's rules
// on Linux:
//
//   - the descriptor is made lazily (uv_udp_init makes none): before bind, connect, send or
//     addMembership, the option setters and address() say EBADF as Node does;
//   - addMembership/addSourceSpecificMembership, connect and send bind an unbound socket to
//     the wildcard address first (uv__udp_maybe_deferred_bind, REUSEADDR for memberships);
//   - addresses are parsed for the socket's family (uv_ip4_addr / uv_ip6_addr, "%scope"):
//     a udp4 socket sending to '::1' gets EINVAL from send, not from the stack;
//   - a send is tried at once (uv_udp_try_send): the callback gets the byte count or the
//     error on the next tick; without a callback an error is dropped, as Node drops it;
//   - received datagrams: EPOLLIN (edge-triggered) → recvfrom until EAGAIN into one
//     reusable 64 KiB buffer; each datagram is copied into its own Buffer for 'message'.
//     A receive error (a connected socket's ICMP port unreachable) is 'error' with
//     syscall 'recvmsg', as libuv reports it.
//
// Keeping the process alive: a receiving (bound) socket that is ref'd holds one ref on the
// host, as an active libuv handle does; unref(), close() or never binding hold none.
//
// Differences that remain: Node drains its nextTick/microtask queues between two 'message'
// events of one poll round (each is a separate MakeCallback); here the datagrams found in
// one host round are emitted back to back. Sends never queue (the stack takes them at once),
// so getSendQueueSize()/getSendQueueCount() are always 0. Cluster workers share nothing:
// a socket binds in the worker itself, as `exclusive: true` would.
//
// Derived from Node.js's lib/dgram.js (v20), Copyright Node.js contributors, MIT License
// (https://github.com/nodejs/node/blob/v20.x/LICENSE): the JavaScript half is a port of it, so
// that events, their order and errors are Node's own.

import { Buffer } from 'node:buffer';
import dns from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { getSystemErrorMap, getSystemErrorName } from 'node:util';
import * as K from '../socket/constants.js';
import { MsgHdr, SockAddr } from '../socket/types.js';
import { formatIpv4, formatIpv6, parseIpv4Text, parseIpv6Text } from '../wire/address.js';
import {
  ERR_BUFFER_OUT_OF_BOUNDS,
  ERR_INVALID_ARG_TYPE,
  ERR_MISSING_ARGS,
  ERR_SOCKET_ALREADY_BOUND,
  ERR_SOCKET_BAD_BUFFER_SIZE,
  ERR_SOCKET_BAD_TYPE,
  ERR_SOCKET_DGRAM_IS_CONNECTED,
  ERR_SOCKET_DGRAM_NOT_CONNECTED,
  ERR_SOCKET_DGRAM_NOT_RUNNING,
  errnoException,
  exceptionWithHostPort,
  validateAbortSignal,
  validateFunction,
  validateNumber,
  validatePort,
  validateString,
  validateUint32,
} from './errors.js';
import { processHost, type ProcessHost } from './host.js';

export type SocketType = 'udp4' | 'udp6';

export interface RemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
}

export interface AddressInfo {
  address: string;
  family: string;
  port: number;
}

export interface BindOptions {
  port?: number;
  address?: string;
  exclusive?: boolean;
  fd?: number;
}

export type LookupFunction = (
  hostname: string,
  family: number,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
) => void;

export interface SocketOptions {
  type: SocketType;
  reuseAddr?: boolean;
  ipv6Only?: boolean;
  recvBufferSize?: number;
  sendBufferSize?: number;
  lookup?: LookupFunction;
  signal?: AbortSignal;
  /** xlio-ts: the host to put this socket on (default: the process's, processHost()). */
  xlioHost?: ProcessHost;
}

type MessageListener = (msg: Buffer, rinfo: RemoteInfo) => void;
type SendCallback = (error: Error | null, bytes?: number) => void;

const BIND_STATE_UNBOUND = 0;
const BIND_STATE_BINDING = 1;
const BIND_STATE_BOUND = 2;

const CONNECT_STATE_DISCONNECTED = 0;
const CONNECT_STATE_CONNECTING = 1;
const CONNECT_STATE_CONNECTED = 2;

/** libuv's bind flags. */
const UV_UDP_IPV6ONLY = 1;
const UV_UDP_REUSEADDR = 4;

const EAGAIN = -11;
const EBADF = -9;
const EINVAL = -22;
const EAFNOSUPPORT = -97;
const EDESTADDRREQ = -89;
const EISCONN = -106;
const ENOTCONN = -107;
const ENOPROTOOPT = -92;

// ---------------------------------------------------------------------------------------
// Shared scratch (the main thread runs one socket call at a time)

/** The one receive buffer: each datagram is copied out of it before the next recvfrom. */
const RBUF = Buffer.allocUnsafeSlow(65536);
const FROM = new SockAddr();
const ADDR = new SockAddr();
const MSG = new MsgHdr();
const OPT = new Uint8Array(4);
const OPTV = new DataView(OPT.buffer);
const MREQ = new Uint8Array(8);
const MREQV = new DataView(MREQ.buffer);
const MREQ_SRC = new Uint8Array(12);
const MREQ_SRCV = new DataView(MREQ_SRC.buffer);
const MREQ6 = new Uint8Array(20);
const MREQ6V = new DataView(MREQ6.buffer);

/** Around socket calls from user code (see ProcessHost.enterCalls/leaveCalls). */
const enter = (host: ProcessHost): void => host.enterCalls();
const leave = (host: ProcessHost): void => host.leaveCalls();

// ---------------------------------------------------------------------------------------
// Addresses as libuv parses them

/**
 * sockaddr_for_family: `text` as an address of `family` into `out`; 0, or EINVAL when it
 * is not one (uv_ip4_addr / uv_ip6_addr). IPv6 text may carry a zone: "fe80::1%eth0" or "%2".
 */
function parseAddress(host: ProcessHost, family: 4 | 6, text: string, port: number, out: SockAddr): number {
  if (family === 4) {
    const a = parseIpv4Text(text);
    if (a === null) return EINVAL;
    out.setInet(a, port);
    return 0;
  }
  let scope = 0;
  const pct = text.indexOf('%');
  if (pct >= 0) {
    scope = zoneIndex(host, text.slice(pct + 1));
    text = text.slice(0, pct);
  }
  const a6 = parseIpv6Text(text);
  if (a6 === null) return EINVAL;
  out.setInet6(a6, port, scope);
  return 0;
}

/** if_nametoindex on the stack's interfaces (0 when unknown, as libuv leaves it); a number is taken as an index. */
function zoneIndex(host: ProcessHost, zone: string): number {
  const iface = host.stack.interface(zone);
  if (iface !== null) return host.stack.interfaces.indexOf(iface) + 1;
  return /^[0-9]+$/.test(zone) ? Number(zone) : 0;
}

/** uv_inet_pton(AF_INET): the address as a 32-bit int, or null. */
function inetPton4(text: string): number | null {
  return parseIpv4Text(text);
}

function familyName(sa: SockAddr): 'IPv4' | 'IPv6' {
  return sa.family === K.AF_INET6 ? 'IPv6' : 'IPv4';
}

/** AddressToJS: { address, family, port }. */
function addressToJS(sa: SockAddr): AddressInfo {
  if (sa.family === K.AF_INET6) return { address: formatIpv6(sa.addr6), family: 'IPv6', port: sa.port };
  return { address: formatIpv4(sa.addr4), family: 'IPv4', port: sa.port };
}

// ---------------------------------------------------------------------------------------
// ERR_SOCKET_BUFFER_SIZE: a SystemError, as Node's internal/errors makes it

interface SystemErrorContext {
  errno: number;
  code: string;
  message: string;
  syscall: string;
}

class SystemError extends Error {
  code: string;
  declare info: SystemErrorContext;
  declare errno: number;
  declare syscall: string;
  constructor(key: string, prefix: string, context: SystemErrorContext) {
    super(`${prefix}: ${context.syscall} returned ${context.code} (${context.message})`);
    const message = this.message;
    this.code = key;
    Object.defineProperties(this, {
      name: { value: 'SystemError', enumerable: false, writable: true, configurable: true },
      message: { value: message, enumerable: false, writable: true, configurable: true },
      info: { value: context, enumerable: true, configurable: true, writable: false },
      errno: {
        get() {
          return context.errno;
        },
        set(v: number) {
          context.errno = v;
        },
        enumerable: true,
        configurable: true,
      },
      syscall: {
        get() {
          return context.syscall;
        },
        set(v: string) {
          context.syscall = v;
        },
        enumerable: true,
        configurable: true,
      },
    });
    // The stack's header as Node's: "SystemError [ERR_X]: …".
    const lines = (this.stack ?? '').split('\n');
    lines[0] = `SystemError [${key}]: ${message}`;
    Object.defineProperty(this, 'stack', { value: lines.join('\n'), enumerable: false, writable: true, configurable: true });
  }
  override toString(): string {
    return `${this.name} [${this.code}]: ${this.message}`;
  }
}

function bufferSizeError(err: number, syscall: string): SystemError {
  const [code, message] = getSystemErrorMap().get(err) ?? [getSystemErrorName(err), 'unknown error'];
  return new SystemError('ERR_SOCKET_BUFFER_SIZE', 'Could not get or set buffer size', { errno: err, code, message, syscall });
}

/** What Node throws when a method reaches a closed socket's null handle. */
function nullHandle(prop: string): TypeError {
  return new TypeError(`Cannot read properties of null (reading '${prop}')`);
}

// ---------------------------------------------------------------------------------------
// The socket

type Lookup = (address: string, callback: (err: NodeJS.ErrnoException | null, ip: string) => void) => void;

export class Socket extends EventEmitter {
  type: SocketType;

  // Node's kStateSymbol state
  /** Whether the handle is open (Node's state.handle !== null). */
  #open = true;
  #receiving = false;
  #bindState = BIND_STATE_UNBOUND;
  #connectState = CONNECT_STATE_DISCONNECTED;
  #queue: (() => void)[] | undefined = undefined;
  #reuseAddr: boolean | undefined;
  #ipv6Only: boolean | undefined;
  #recvBufferSize: number | undefined;
  #sendBufferSize: number | undefined;
  #lookupFn: LookupFunction;

  // the handle (udp_wrap + libuv)
  readonly #host: ProcessHost;
  readonly #family: 4 | 6;
  #fd = -1;
  /** UV_HANDLE_IPV6: bound to an AF_INET6 address (options go to IPPROTO_IPV6). */
  #ipv6 = false;
  /** UV_HANDLE_UDP_CONNECTED. */
  #connected = false;
  #refd = true;
  #hostRefd = false;
  /** The last destination text and port parsed into #dest (sends to one peer parse once). */
  #destText: string | null = null;
  #destPort = 0;
  readonly #dest = new SockAddr();
  /** The last sender's address text (rinfo.address), by its address. */
  #fromText = '';
  #from4 = 0;
  readonly #from6 = new Uint8Array(16);
  #fromFamily = 0;

  constructor(type: SocketType | SocketOptions, listener?: MessageListener) {
    super();
    let lookup: LookupFunction | undefined;
    let recvBufferSize: number | undefined;
    let sendBufferSize: number | undefined;
    let options: SocketOptions | undefined;
    if (type !== null && typeof type === 'object') {
      options = type;
      type = options.type;
      lookup = options.lookup;
      if (options.recvBufferSize) validateUint32(options.recvBufferSize, 'options.recvBufferSize');
      if (options.sendBufferSize) validateUint32(options.sendBufferSize, 'options.sendBufferSize');
      recvBufferSize = options.recvBufferSize;
      sendBufferSize = options.sendBufferSize;
    }
    // newHandle
    if (lookup === undefined) lookup = dns.lookup as unknown as LookupFunction;
    else validateFunction(lookup, 'lookup');
    if (type !== 'udp4' && type !== 'udp6') throw new ERR_SOCKET_BAD_TYPE();
    this.#lookupFn = lookup;
    this.#family = type === 'udp4' ? 4 : 6;
    this.#host = options?.xlioHost ?? processHost();
    this.type = type;
    if (typeof listener === 'function') this.on('message', listener);
    this.#reuseAddr = options?.reuseAddr;
    this.#ipv6Only = options?.ipv6Only;
    this.#recvBufferSize = recvBufferSize;
    this.#sendBufferSize = sendBufferSize;

    if (options?.signal !== undefined) {
      const { signal } = options;
      validateAbortSignal(signal, 'options.signal');
      const onAborted = () => {
        if (this.#open) this.close();
      };
      if (signal.aborted) onAborted();
      else {
        signal.addEventListener('abort', onAborted, { once: true });
        this.once('close', () => signal.removeEventListener('abort', onAborted));
      }
    }
  }

  /** lookup4 / lookup6: the socket's resolver for its family, localhost when no address. */
  #lookup: Lookup = (address, callback) => {
    const fam = this.#family;
    this.#lookupFn(address || (fam === 4 ? '127.0.0.1' : '::1'), fam, callback as never);
  };

  #healthCheck(): void {
    if (!this.#open) throw new ERR_SOCKET_DGRAM_NOT_RUNNING();
  }

  // -------------------------------------------------------------------------------------
  // bind

  bind(port?: number | BindOptions | null, address?: string | (() => void), callback?: () => void): this;
  bind(...args: unknown[]): this {
    let port = args[0] as unknown;
    const address_ = args[1];
    this.#healthCheck();
    if (this.#bindState !== BIND_STATE_UNBOUND) throw new ERR_SOCKET_ALREADY_BOUND();
    this.#bindState = BIND_STATE_BINDING;

    const cb = args.length > 0 ? args[args.length - 1] : undefined;
    if (typeof cb === 'function') {
      const removeListeners = function (this: Socket) {
        this.removeListener('error', removeListeners);
        this.removeListener('listening', onListening);
      };
      const onListening = function (this: Socket) {
        removeListeners.call(this);
        (cb as () => void).call(this);
      };
      this.on('error', removeListeners);
      this.on('listening', onListening);
    }

    let address: unknown;
    if (port !== null && typeof port === 'object') {
      const o = port as BindOptions;
      if (Number.isInteger(o.fd) && (o.fd as number) > 0) {
        // Opening an existing descriptor: xlio-ts sockets have none of the kernel's.
        this.#bindState = BIND_STATE_UNBOUND;
        throw errnoException(EINVAL, 'open');
      }
      address = o.address || '';
      port = o.port;
    } else {
      address = typeof address_ === 'function' ? '' : address_;
    }
    if (!address) address = this.type === 'udp4' ? '0.0.0.0' : '::';

    this.#lookup(address as string, (err, ip) => {
      if (!this.#open) return; // closed in the meantime
      if (err) {
        this.#bindState = BIND_STATE_UNBOUND;
        this.emit('error', err);
        return;
      }
      let flags = 0;
      if (this.#reuseAddr) flags |= UV_UDP_REUSEADDR;
      if (this.#ipv6Only) flags |= UV_UDP_IPV6ONLY;
      const e = this.#handleBind(ip, (port as number) || 0, flags);
      if (e) {
        const ex = exceptionWithHostPort(e, 'bind', ip, port as number);
        this.#bindState = BIND_STATE_UNBOUND;
        this.emit('error', ex);
        return;
      }
      this.#startListening();
    });
    return this;
  }

  #startListening(): void {
    this.#recvStart();
    this.#bindState = BIND_STATE_BOUND;
    if (this.#recvBufferSize) this.#bufferSize(this.#recvBufferSize, true);
    if (this.#sendBufferSize) this.#bufferSize(this.#sendBufferSize, false);
    this.emit('listening');
  }

  // -------------------------------------------------------------------------------------
  // connect / disconnect

  connect(port: number, address?: string | (() => void), callback?: () => void): void {
    port = validatePort(port, 'Port', false);
    if (typeof address === 'function') {
      callback = address;
      address = '';
    } else if (address === undefined) {
      address = '';
    }
    validateString(address, 'address');
    if (this.#connectState !== CONNECT_STATE_DISCONNECTED) throw new ERR_SOCKET_DGRAM_IS_CONNECTED();
    this.#connectState = CONNECT_STATE_CONNECTING;
    if (this.#bindState === BIND_STATE_UNBOUND) this.bind({ port: 0, exclusive: true }, null as never);
    if (this.#bindState !== BIND_STATE_BOUND) {
      const a = address;
      const p = port;
      const c = callback;
      this.#enqueue(() => this.#connect(p, a, c));
      return;
    }
    this.#connect(port, address, callback);
  }

  #connect(port: number, address: string, callback: ((err?: Error) => void) | undefined): void {
    if (callback) this.once('connect', callback);
    if (!this.#open) throw nullHandle('lookup'); // Node reaches the closed socket's null handle here
    this.#lookup(address, (ex, ip) => this.#doConnect(ex, ip, address, port, callback));
  }

  #doConnect(ex: Error | null, ip: string, address: string, port: number, callback: ((err?: Error) => void) | undefined): void {
    if (!this.#open) return;
    if (!ex) {
      const err = this.#handleConnect(ip, port);
      if (err) ex = exceptionWithHostPort(err, 'connect', address, port);
    }
    if (ex) {
      this.#connectState = CONNECT_STATE_DISCONNECTED;
      const e = ex;
      process.nextTick(() => {
        if (callback) {
          this.removeListener('connect', callback);
          callback(e);
        } else this.emit('error', e);
      });
      return;
    }
    this.#connectState = CONNECT_STATE_CONNECTED;
    process.nextTick(() => this.emit('connect'));
  }

  disconnect(): void {
    if (this.#connectState !== CONNECT_STATE_CONNECTED) throw new ERR_SOCKET_DGRAM_NOT_CONNECTED();
    if (!this.#open) throw nullHandle('disconnect');
    const err = this.#handleDisconnect();
    if (err) throw errnoException(err, 'connect');
    this.#connectState = CONNECT_STATE_DISCONNECTED;
  }

  // -------------------------------------------------------------------------------------
  // send

  #enqueue(toEnqueue: () => void): void {
    if (this.#queue === undefined) {
      this.#queue = [];
      this.once(EventEmitter.errorMonitor, onListenError);
      this.once('listening', onListenSuccess);
    }
    this.#queue.push(toEnqueue);
  }

  /** onListenError: the queue is dropped. */
  static _dropQueue(self: Socket): void {
    self.removeListener('listening', onListenSuccess);
    self.#queue = undefined;
  }

  /** onListenSuccess: the queued sends and connects go, in order. */
  static _clearQueue(self: Socket): void {
    self.removeListener(EventEmitter.errorMonitor, onListenError);
    const queue = self.#queue!;
    self.#queue = undefined;
    for (const entry of queue) entry();
  }

  /** Node's legacy sendto(buffer, offset, length, port, address, callback). */
  sendto(buffer: unknown, offset: number, length: number, port: number, address: string, callback?: SendCallback): void {
    validateNumber(offset, 'offset');
    validateNumber(length, 'length');
    validateNumber(port, 'port');
    validateString(address, 'address');
    this.send(buffer as never, offset, length, port, address, callback);
  }

  // valid combinations (lib/dgram.js)
  // For connectionless sockets
  //   send(buffer, offset, length, port, address, callback)
  //   send(buffer, offset, length, port, address)
  //   send(buffer, offset, length, port, callback)
  //   send(buffer, offset, length, port)
  //   send(bufferOrList, port, address, callback)
  //   send(bufferOrList, port, address)
  //   send(bufferOrList, port, callback)
  //   send(bufferOrList, port)
  // For connected sockets
  //   send(buffer, offset, length, callback)
  //   send(buffer, offset, length)
  //   send(bufferOrList, callback)
  //   send(bufferOrList)
  send(msg: string | NodeJS.ArrayBufferView | readonly unknown[], port?: number | SendCallback, address?: string | SendCallback, callback?: SendCallback): void;
  send(msg: string | NodeJS.ArrayBufferView, offset: number, length: number, port?: number | SendCallback, address?: string | SendCallback, callback?: SendCallback): void;
  send(buffer: unknown, offset?: unknown, length?: unknown, port?: unknown, address?: unknown, callback?: unknown): void {
    let list: Uint8Array | Uint8Array[];
    const connected = this.#connectState === CONNECT_STATE_CONNECTED;
    if (!connected) {
      if (address || (port && typeof port !== 'function')) {
        buffer = sliceBuffer(buffer, offset, length);
      } else {
        callback = port;
        port = offset;
        address = length;
      }
    } else {
      if (typeof length === 'number') {
        buffer = sliceBuffer(buffer, offset, length);
        if (typeof port === 'function') {
          callback = port;
          port = null;
        }
      } else {
        callback = offset;
      }
      if (port || address) throw new ERR_SOCKET_DGRAM_IS_CONNECTED();
    }

    if (!Array.isArray(buffer)) {
      if (typeof buffer === 'string') list = Buffer.from(buffer);
      else if (!ArrayBuffer.isView(buffer)) throw new ERR_INVALID_ARG_TYPE('buffer', ['Buffer', 'TypedArray', 'DataView', 'string'], buffer);
      else list = asBytes(buffer as NodeJS.ArrayBufferView);
    } else {
      const l = fixBufferList(buffer);
      if (l === null) throw new ERR_INVALID_ARG_TYPE('buffer list arguments', ['Buffer', 'TypedArray', 'DataView', 'string'], buffer);
      list = l;
    }

    if (!connected) port = validatePort(port, 'Port', false);

    // Normalize callback so it's either a function or undefined but not anything else.
    if (typeof callback !== 'function') callback = undefined;

    if (typeof address === 'function') {
      callback = address;
      address = undefined;
    } else if (address != null) {
      validateString(address, 'address');
    }

    this.#healthCheck();

    if (this.#bindState === BIND_STATE_UNBOUND) this.bind({ port: 0, exclusive: true }, null as never);

    if (Array.isArray(list) && list.length === 0) list.push(Buffer.alloc(0));

    // Not bound yet: the datagram goes once binding is done.
    if (this.#bindState !== BIND_STATE_BOUND) {
      const l = list, p = port, a = address, c = callback;
      this.#enqueue(() => this.send(l as never, p as number, a as string, c as SendCallback));
      return;
    }

    if (connected) {
      this.#doSend(null, null, list, address as string | undefined, port as number | null | undefined, callback as SendCallback | undefined);
      return;
    }
    const addr = address as string | undefined;
    if (this.#lookupFn === (dns.lookup as unknown) && typeof addr === 'string' && isIP(addr) !== 0) {
      // dns.lookup of an IP literal answers on the next tick: so does this, without a closure.
      process.nextTick(doSendNT, this, addr, list, addr, port, callback);
      return;
    }
    const l = list, p = port as number, c = callback as SendCallback | undefined;
    this.#lookup(addr as string, (ex, ip) => this.#doSend(ex, ip, l, addr, p, c));
  }

  /** doSend: the lookup's result, then the datagram (uv_udp_try_send); the callback on the next tick. */
  static _doSend(self: Socket, ip: string, list: Uint8Array | Uint8Array[], address: string | undefined, port: number, callback: SendCallback | undefined): void {
    self.#doSend(null, ip, list, address, port, callback);
  }

  #doSend(ex: Error | null, ip: string | null, list: Uint8Array | Uint8Array[], address: string | undefined, port: number | null | undefined, callback: SendCallback | undefined): void {
    if (ex) {
      if (typeof callback === 'function') {
        process.nextTick(callback, ex);
        return;
      }
      process.nextTick(emitErrorNT, this, ex);
      return;
    } else if (!this.#open) {
      return;
    }
    const err = port ? this.#handleSend(list, port, ip!) : this.#handleSend(list, 0, null);
    if (err >= 0) {
      if (callback) process.nextTick(callback, null, err);
      return;
    }
    // Not emitted as 'error' (dgram_legacy.js compatibility): only the callback hears of it.
    if (callback) process.nextTick(callback, exceptionWithHostPort(err, 'send', address as string, port as number));
  }

  // -------------------------------------------------------------------------------------
  // close, address

  close(callback?: () => void): this {
    const queue = this.#queue;
    if (typeof callback === 'function') this.on('close', callback);
    if (queue !== undefined) {
      queue.push(() => this.close());
      return this;
    }
    this.#healthCheck();
    this.#stopReceiving();
    this.#handleClose();
    this.#open = false;
    process.nextTick(emitCloseNT, this);
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#open) return;
    await new Promise<void>((resolve) => this.close(() => resolve()));
  }

  address(): AddressInfo {
    this.#healthCheck();
    const fd = this.#fd;
    if (fd < 0) throw errnoException(EBADF, 'getsockname');
    const r = this.#host.api.getsockname(fd, ADDR);
    if (r < 0) throw errnoException(r, 'getsockname');
    return addressToJS(ADDR);
  }

  remoteAddress(): AddressInfo {
    this.#healthCheck();
    if (this.#connectState !== CONNECT_STATE_CONNECTED) throw new ERR_SOCKET_DGRAM_NOT_CONNECTED();
    const fd = this.#fd;
    if (fd < 0) throw errnoException(EBADF, 'getpeername');
    const r = this.#host.api.getpeername(fd, ADDR);
    if (r < 0) throw errnoException(r, 'getpeername');
    return addressToJS(ADDR);
  }

  // -------------------------------------------------------------------------------------
  // options

  setBroadcast(arg: boolean): void {
    if (!this.#open) throw nullHandle('setBroadcast');
    const err = this.#setInt(K.SOL_SOCKET, K.SO_BROADCAST, arg ? 1 : 0);
    if (err) throw errnoException(err, 'setBroadcast');
  }

  setTTL(ttl: number): number {
    validateNumber(ttl, 'ttl');
    if (!this.#open) throw nullHandle('setTTL');
    const v = ttl | 0;
    const err = v < 1 || v > 255 ? EINVAL : this.#setIpInt(K.IP_TTL, K.IPV6_UNICAST_HOPS, v);
    if (err) throw errnoException(err, 'setTTL');
    return ttl;
  }

  setMulticastTTL(ttl: number): number {
    validateNumber(ttl, 'ttl');
    if (!this.#open) throw nullHandle('setMulticastTTL');
    const v = ttl | 0;
    const err = v < 0 || v > 255 ? EINVAL : this.#setIpInt(K.IP_MULTICAST_TTL, K.IPV6_MULTICAST_HOPS, v);
    if (err) throw errnoException(err, 'setMulticastTTL');
    return ttl;
  }

  setMulticastLoopback(arg: boolean): boolean {
    if (!this.#open) throw nullHandle('setMulticastLoopback');
    const err = this.#setIpInt(K.IP_MULTICAST_LOOP, K.IPV6_MULTICAST_LOOP, arg ? 1 : 0);
    if (err) throw errnoException(err, 'setMulticastLoopback');
    return arg; // 0.4 compatibility
  }

  setMulticastInterface(interfaceAddress: string): void {
    this.#healthCheck();
    validateString(interfaceAddress, 'interfaceAddress');
    const err = this.#handleSetMulticastInterface(interfaceAddress);
    if (err) throw errnoException(err, 'setMulticastInterface');
  }

  addMembership(multicastAddress: string, interfaceAddress?: string): void {
    this.#healthCheck();
    if (!multicastAddress) throw new ERR_MISSING_ARGS('multicastAddress');
    const err = this.#handleMembership(String(multicastAddress), interfaceAddress == null ? null : String(interfaceAddress), true);
    if (err) throw errnoException(err, 'addMembership');
  }

  dropMembership(multicastAddress: string, interfaceAddress?: string): void {
    this.#healthCheck();
    if (!multicastAddress) throw new ERR_MISSING_ARGS('multicastAddress');
    const err = this.#handleMembership(String(multicastAddress), interfaceAddress == null ? null : String(interfaceAddress), false);
    if (err) throw errnoException(err, 'dropMembership');
  }

  addSourceSpecificMembership(sourceAddress: string, groupAddress: string, interfaceAddress?: string): void {
    this.#healthCheck();
    validateString(sourceAddress, 'sourceAddress');
    validateString(groupAddress, 'groupAddress');
    const err = this.#handleSourceMembership(sourceAddress, groupAddress, interfaceAddress == null ? null : String(interfaceAddress), true);
    if (err) throw errnoException(err, 'addSourceSpecificMembership');
  }

  dropSourceSpecificMembership(sourceAddress: string, groupAddress: string, interfaceAddress?: string): void {
    this.#healthCheck();
    validateString(sourceAddress, 'sourceAddress');
    validateString(groupAddress, 'groupAddress');
    const err = this.#handleSourceMembership(sourceAddress, groupAddress, interfaceAddress == null ? null : String(interfaceAddress), false);
    if (err) throw errnoException(err, 'dropSourceSpecificMembership');
  }

  setRecvBufferSize(size: number): void {
    this.#bufferSize(size, true);
  }

  setSendBufferSize(size: number): void {
    this.#bufferSize(size, false);
  }

  getRecvBufferSize(): number {
    return this.#bufferSize(0, true);
  }

  getSendBufferSize(): number {
    return this.#bufferSize(0, false);
  }

  /** Bytes waiting to be sent: none — the stack takes every datagram at once. */
  getSendQueueSize(): number {
    if (!this.#open) throw nullHandle('getSendQueueSize');
    return 0;
  }

  getSendQueueCount(): number {
    if (!this.#open) throw nullHandle('getSendQueueCount');
    return 0;
  }

  /** bufferSize(): Node's checks, then uv_recv_buffer_size / uv_send_buffer_size (0 reads it). */
  #bufferSize(size: number, recv: boolean): number {
    if (size >>> 0 !== size) throw new ERR_SOCKET_BAD_BUFFER_SIZE();
    if (!this.#open) throw nullHandle('bufferSize');
    const syscall = recv ? 'uv_recv_buffer_size' : 'uv_send_buffer_size';
    if ((size | 0) !== size) throw bufferSizeError(EINVAL, syscall);
    const fd = this.#fd;
    if (fd < 0) throw bufferSizeError(EBADF, syscall);
    const name = recv ? K.SO_RCVBUF : K.SO_SNDBUF;
    const api = this.#host.api;
    if (size === 0) {
      const v = api.getsockoptInt(fd, K.SOL_SOCKET, name);
      if (v < 0) throw bufferSizeError(v, syscall);
      return v;
    }
    const r = api.setsockoptInt(fd, K.SOL_SOCKET, name, size);
    if (r < 0) throw bufferSizeError(r, syscall);
    return size;
  }

  // -------------------------------------------------------------------------------------
  // ref / unref

  ref(): this {
    if (this.#open) {
      this.#refd = true;
      this.#updateHostRef();
    }
    return this;
  }

  unref(): this {
    if (this.#open) {
      this.#refd = false;
      this.#updateHostRef();
    }
    return this;
  }

  /** An active (receiving) ref'd handle keeps the process alive. */
  #updateHostRef(): void {
    const want = this.#open && this.#receiving && this.#refd;
    if (want === this.#hostRefd) return;
    this.#hostRefd = want;
    if (want) this.#host.ref();
    else this.#host.unref();
  }

  #stopReceiving(): void {
    if (!this.#receiving) return;
    if (this.#fd >= 0) this.#host.unwatch(this.#fd);
    this.#receiving = false;
    this.#updateHostRef();
  }

  // -------------------------------------------------------------------------------------
  // The handle: udp_wrap.cc and libuv's udp.c on Linux. Each returns 0 or −errno.

  /** uv__socket for a lazily made descriptor. */
  #makeFd(domain: number): number {
    const api = this.#host.api;
    const fd = api.socket(domain, K.SOCK_DGRAM | K.SOCK_NONBLOCK | K.SOCK_CLOEXEC, 0);
    if (fd < 0) return fd;
    this.#fd = fd;
    return 0;
  }

  /** uv__udp_bind. */
  #bindAddr(addr: SockAddr, flags: number): number {
    const api = this.#host.api;
    if ((flags & UV_UDP_IPV6ONLY) !== 0 && addr.family !== K.AF_INET6) return EINVAL;
    if (this.#fd < 0) {
      const e = this.#makeFd(addr.family);
      if (e) return e;
    }
    const fd = this.#fd;
    enter(this.#host);
    if ((flags & UV_UDP_REUSEADDR) !== 0) {
      const e = api.setsockoptInt(fd, K.SOL_SOCKET, K.SO_REUSEADDR, 1);
      if (e < 0) return e;
    }
    if ((flags & UV_UDP_IPV6ONLY) !== 0) {
      const e = api.setsockoptInt(fd, K.IPPROTO_IPV6, K.IPV6_V6ONLY, 1);
      if (e < 0) return e;
    }
    const r = api.bind(fd, addr);
    if (r < 0) return r === EAFNOSUPPORT ? EINVAL : r;
    if (addr.family === K.AF_INET6) this.#ipv6 = true;
    return 0;
  }

  /** uv__udp_maybe_deferred_bind: the wildcard address of `domain`, port 0, when there is no descriptor yet. */
  #deferredBind(domain: number, flags: number): number {
    if (this.#fd >= 0) return 0;
    if (domain === K.AF_INET6) ADDR.setInet6(IN6ADDR_ANY, 0);
    else ADDR.setInet(0, 0);
    return this.#bindAddr(ADDR, flags);
  }

  #handleBind(ip: string, port: number, flags: number): number {
    const e = parseAddress(this.#host, this.#family, ip, port, ADDR);
    if (e) return e;
    return this.#bindAddr(ADDR, flags);
  }

  /** uv_udp_recv_start: readiness callbacks on EPOLLIN (errors come with it). */
  #recvStart(): void {
    this.#receiving = true;
    this.#updateHostRef(); // before the loop starts: it parks holding the process
    this.#host.watch(this.#fd, K.EPOLLIN, this.#onReady);
  }

  #handleConnect(ip: string, port: number): number {
    const e = parseAddress(this.#host, this.#family, ip, port, ADDR);
    if (e) return e;
    if (this.#connected) return EISCONN;
    const b = this.#deferredBind(ADDR.family, 0);
    if (b) return b;
    enter(this.#host);
    const r = this.#host.api.connect(this.#fd, ADDR);
    if (r < 0) return r;
    this.#connected = true;
    return 0;
  }

  #handleDisconnect(): number {
    if (!this.#connected) return ENOTCONN;
    const r = this.#host.api.connect(this.#fd, UNSPEC);
    if (r < 0 && r !== EAFNOSUPPORT && r !== EINVAL) return r;
    this.#connected = false;
    return 0;
  }

  /** DoSend + uv_udp_try_send: the bytes sent, or −errno. `ip` null: to the connected peer. */
  #handleSend(list: Uint8Array | Uint8Array[], port: number, ip: string | null): number {
    const host = this.#host;
    let to: SockAddr | null = null;
    if (ip !== null) {
      if (ip !== this.#destText || port !== this.#destPort) {
        const e = parseAddress(host, this.#family, ip, port, this.#dest);
        if (e) {
          this.#destText = null;
          return e;
        }
        this.#destText = ip;
        this.#destPort = port;
      }
      to = this.#dest;
    }
    if (to === null && !this.#connected) return EDESTADDRREQ;
    if (to !== null && this.#connected) return EISCONN;
    if (to !== null) {
      const b = this.#deferredBind(to.family, 0);
      if (b) return b;
    }
    enter(host);
    let r: number;
    if (Array.isArray(list)) {
      MSG.name = to;
      MSG.iov = list;
      r = host.api.sendmsg(this.#fd, MSG, 0);
      MSG.iov = NO_IOV;
      MSG.name = null;
    } else {
      r = host.api.sendto(this.#fd, list, 0, to);
    }
    leave(host);
    return r;
  }

  #handleClose(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    this.#host.unwatch(fd);
    this.#host.api.close(fd);
    this.#updateHostRef();
    leave(this.#host);
  }

  /** uv__setsockopt: IPPROTO_IPV6's option on a socket bound to IPv6, else IPPROTO_IP's. */
  #setIpInt(opt4: number, opt6: number, value: number): number {
    return this.#ipv6 ? this.#setInt(K.IPPROTO_IPV6, opt6, value) : this.#setInt(K.IPPROTO_IP, opt4, value);
  }

  #setInt(level: number, name: number, value: number): number {
    const fd = this.#fd;
    if (fd < 0) return EBADF;
    const r = this.#host.api.setsockoptInt(fd, level, name, value);
    return r < 0 ? r : 0;
  }

  /** uv_udp_set_multicast_interface: an IPv4 address (IP_MULTICAST_IF), or IPv6 text whose zone is the index. */
  #handleSetMulticastInterface(text: string): number {
    const fd = this.#fd;
    const v4 = inetPton4(text);
    if (v4 !== null) {
      OPTV.setInt32(0, v4, false);
      if (fd < 0) return EBADF;
      const r = this.#host.api.setsockopt(fd, K.IPPROTO_IP, K.IP_MULTICAST_IF, OPT);
      return r < 0 ? r : 0;
    }
    if (parseAddress(this.#host, 6, text, 0, ADDR) !== 0) return EINVAL;
    if (fd < 0) return EBADF;
    OPTV.setInt32(0, ADDR.scopeId, true);
    const r = this.#host.api.setsockopt(fd, K.IPPROTO_IPV6, K.IPV6_MULTICAST_IF, OPT);
    return r < 0 ? r : 0;
  }

  /** uv_udp_set_membership: IP_ADD_MEMBERSHIP (struct ip_mreq) or IPV6_JOIN_GROUP (struct ipv6_mreq). */
  #handleMembership(group: string, iface: string | null, join: boolean): number {
    const api = this.#host.api;
    const g4 = parseIpv4Text(group);
    if (g4 !== null) {
      const b = this.#deferredBind(K.AF_INET, UV_UDP_REUSEADDR);
      if (b) return b;
      let ifaddr = 0;
      if (iface !== null) {
        const a = inetPton4(iface);
        if (a === null) return EINVAL;
        ifaddr = a;
      }
      MREQV.setInt32(0, g4, false);
      MREQV.setInt32(4, ifaddr, false);
      enter(this.#host);
      const r = api.setsockopt(this.#fd, K.IPPROTO_IP, join ? K.IP_ADD_MEMBERSHIP : K.IP_DROP_MEMBERSHIP, MREQ);
      leave(this.#host);
      return r < 0 ? r : 0;
    }
    if (parseAddress(this.#host, 6, group, 0, ADDR) !== 0) return EINVAL;
    const g6 = Uint8Array.from(ADDR.addr6);
    const b = this.#deferredBind(K.AF_INET6, UV_UDP_REUSEADDR);
    if (b) return b;
    let ifindex = 0;
    if (iface !== null) {
      if (parseAddress(this.#host, 6, iface, 0, ADDR) !== 0) return EINVAL;
      ifindex = ADDR.scopeId;
    }
    MREQ6.set(g6, 0);
    MREQ6V.setInt32(16, ifindex, true);
    enter(this.#host);
    const r = api.setsockopt(this.#fd, K.IPPROTO_IPV6, join ? K.IPV6_JOIN_GROUP : K.IPV6_LEAVE_GROUP, MREQ6);
    leave(this.#host);
    return r < 0 ? r : 0;
  }

  /** uv_udp_set_source_membership: IP_ADD_SOURCE_MEMBERSHIP (struct ip_mreq_source); IPv6 (MCAST_JOIN_SOURCE_GROUP) is not in the socket layer. */
  #handleSourceMembership(source: string, group: string, iface: string | null, join: boolean): number {
    const g4 = parseIpv4Text(group);
    if (g4 === null) {
      if (parseAddress(this.#host, 6, group, 0, ADDR) !== 0) return EINVAL;
      if (parseAddress(this.#host, 6, source, 0, ADDR) !== 0) return EINVAL;
      const b = this.#deferredBind(K.AF_INET6, UV_UDP_REUSEADDR);
      if (b) return b;
      return ENOPROTOOPT;
    }
    const s4 = parseIpv4Text(source);
    if (s4 === null) return EINVAL;
    const b = this.#deferredBind(K.AF_INET, UV_UDP_REUSEADDR);
    if (b) return b;
    let ifaddr = 0;
    if (iface !== null) {
      const a = inetPton4(iface);
      if (a === null) return EINVAL;
      ifaddr = a;
    }
    MREQ_SRCV.setInt32(0, g4, false);
    MREQ_SRCV.setInt32(4, ifaddr, false);
    MREQ_SRCV.setInt32(8, s4, false);
    enter(this.#host);
    const r = this.#host.api.setsockopt(this.#fd, K.IPPROTO_IP, join ? K.IP_ADD_SOURCE_MEMBERSHIP : K.IP_DROP_SOURCE_MEMBERSHIP, MREQ_SRC);
    leave(this.#host);
    return r < 0 ? r : 0;
  }

  // -------------------------------------------------------------------------------------
  // Receive

  /** The descriptor is readable (or has an error): every queued datagram, then EAGAIN. */
  readonly #onReady = (_events: number): void => {
    const api = this.#host.api;
    const fd = this.#fd;
    let errors = 0;
    while (this.#receiving && this.#fd === fd) {
      const n = api.recvfrom(fd, RBUF, 0, FROM);
      if (n < 0) {
        if (n === EAGAIN) return;
        // libuv's recv callback with nread < 0: 'error' (recvmsg). The error is consumed; look again once.
        if (++errors > 1) return;
        this.emit('error', errnoException(n, 'recvmsg'));
        continue;
      }
      const msg = Buffer.allocUnsafeSlow(n);
      // Short ones by hand: Buffer#copy of part of RBUF allocates a view of it first.
      if (n <= 256) for (let i = 0; i < n; i++) msg[i] = RBUF[i]!;
      else RBUF.copy(msg, 0, 0, n);
      this.emit('message', msg, { address: this.#senderText(), family: familyName(FROM), port: FROM.port, size: n } satisfies RemoteInfo);
    }
  };

  /** rinfo.address of FROM, formatted once per sender. */
  #senderText(): string {
    const f = FROM;
    if (f.family === K.AF_INET) {
      if (this.#fromFamily !== K.AF_INET || this.#from4 !== f.addr4) {
        this.#fromFamily = K.AF_INET;
        this.#from4 = f.addr4;
        this.#fromText = formatIpv4(f.addr4);
      }
      return this.#fromText;
    }
    const a = f.addr6, last = this.#from6;
    let same = this.#fromFamily === K.AF_INET6;
    for (let i = 0; same && i < 16; i++) if (a[i] !== last[i]) same = false;
    if (!same) {
      this.#fromFamily = K.AF_INET6;
      last.set(a);
      this.#fromText = formatIpv6(a);
    }
    return this.#fromText;
  }
}

const IN6ADDR_ANY = new Uint8Array(16);
const UNSPEC = SockAddr.unspec();
const NO_IOV: Uint8Array[] = [];

function onListenSuccess(this: Socket): void {
  Socket._clearQueue(this);
}

function onListenError(this: Socket): void {
  Socket._dropQueue(this);
}

function doSendNT(self: Socket, ip: string, list: Uint8Array | Uint8Array[], address: string, port: number, callback: SendCallback | undefined): void {
  Socket._doSend(self, ip, list, address, port, callback);
}

function emitErrorNT(self: Socket, err: Error): void {
  self.emit('error', err);
}

function emitCloseNT(self: Socket): void {
  self.emit('close');
}

/** The bytes of any ArrayBufferView (Buffer and Uint8Array as they are). */
function asBytes(v: NodeJS.ArrayBufferView): Uint8Array {
  if (v instanceof Uint8Array) return v;
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function sliceBuffer(buffer: unknown, offset: unknown, length: unknown): Buffer {
  let b: NodeJS.ArrayBufferView;
  if (typeof buffer === 'string') b = Buffer.from(buffer);
  else if (!ArrayBuffer.isView(buffer)) throw new ERR_INVALID_ARG_TYPE('buffer', ['Buffer', 'TypedArray', 'DataView', 'string'], buffer);
  else b = buffer as NodeJS.ArrayBufferView;
  const off = (offset as number) >>> 0;
  const len = (length as number) >>> 0;
  if (off > b.byteLength) throw new ERR_BUFFER_OUT_OF_BOUNDS('offset');
  if (off + len > b.byteLength) throw new ERR_BUFFER_OUT_OF_BOUNDS('length');
  return Buffer.from(b.buffer, b.byteOffset + off, len);
}

function fixBufferList(list: readonly unknown[]): Uint8Array[] | null {
  const out = new Array<Uint8Array>(list.length);
  for (let i = 0, l = list.length; i < l; i++) {
    const buf = list[i];
    if (typeof buf === 'string') out[i] = Buffer.from(buf);
    else if (!ArrayBuffer.isView(buf)) return null;
    else out[i] = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  return out;
}

export function createSocket(type: SocketType | SocketOptions, listener?: MessageListener): Socket {
  return new Socket(type, listener);
}

export default { createSocket, Socket };

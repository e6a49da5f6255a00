// Node-shaped errors for the drop-ins (net.ts, dgram.ts): the same classes, messages,
// codes and properties as Node's lib/internal/errors.js produces, so code that inspects
// `err.code`, `err.errno`, `err.syscall`, `err.address`, `err.port` or the message cannot
// tell them apart.
//
//   errnoException(-111, 'read')                         → "read ECONNRESET"
//   exceptionWithHostPort(-111, 'connect', '127.0.0.1', 1) → "connect ECONNREFUSED 127.0.0.1:1"
//   uvExceptionWithHostPort(-98, 'listen', '::', 80)     → "listen EADDRINUSE: address already in use :::80"
//   new ERR_SERVER_NOT_RUNNING()                          → Error [ERR_SERVER_NOT_RUNNING]: Server is not running.
//
// errno numbers are negative, libuv's convention on Linux (−errno), which is what the socket
// layer returns — pass its results straight in.

import { inspect, getSystemErrorMap, getSystemErrorName } from 'node:util';

type ErrorBase = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

/** The code a NodeError carries, also in its stack header ("Error [ERR_X]: message") and toString(). */
function nodeError<B extends ErrorBase>(Base: B, code: string, message: string): InstanceType<B> & { code: string } {
  const e = new Base(message) as InstanceType<B> & { code: string };
  // Node's stack header carries the code ("TypeError [ERR_X]: …"): name it so while the stack is taken.
  Object.defineProperty(e, 'name', { value: `${Base.name} [${code}]`, configurable: true, writable: true, enumerable: false });
  void e.stack;
  delete (e as { name?: string }).name;
  e.code = code;
  Object.defineProperty(e, 'toString', {
    value(this: Error) {
      return `${this.name} [${code}]: ${this.message}`;
    },
    configurable: true,
    writable: true,
    enumerable: false,
  });
  return e;
}

/** A Node error class for one code: `new ERR_X(...args)` as Node's internal errors are made. */
function makeCode<A extends unknown[], B extends ErrorBase>(code: string, Base: B, msg: string | ((...args: A) => string)) {
  const C = function (this: unknown, ...args: A) {
    return nodeError(Base, code, typeof msg === 'string' ? msg : msg(...args));
  } as unknown as { new (...args: A): InstanceType<B> & { code: string } };
  Object.defineProperty(C, 'name', { value: code });
  return C;
}

const kTypes = ['string', 'function', 'number', 'object', 'Function', 'Object', 'boolean', 'bigint', 'symbol'];
const classRegExp = /^[A-Z][a-zA-Z0-9]*$/;

function formatList(array: string[], type = 'and'): string {
  switch (array.length) {
    case 0:
      return '';
    case 1:
      return `${array[0]}`;
    case 2:
      return `${array[0]} ${type} ${array[1]}`;
    case 3:
      return `${array[0]}, ${array[1]}, ${type} ${array[2]}`;
    default:
      return `${array.slice(0, -1).join(', ')}, ${type} ${array[array.length - 1]}`;
  }
}

/** Node's determineSpecificType: how "Received …" describes a value. */
export function determineSpecificType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'bigint':
      return `type bigint (${value}n)`;
    case 'number':
      if (value === 0) return 1 / value === -Infinity ? 'type number (-0)' : 'type number (0)';
      if (value !== value) return 'type number (NaN)';
      if (value === Infinity) return 'type number (Infinity)';
      if (value === -Infinity) return 'type number (-Infinity)';
      return `type number (${value})`;
    case 'boolean':
      return value ? 'type boolean (true)' : 'type boolean (false)';
    case 'symbol':
      return `type symbol (${String(value)})`;
    case 'function':
      return `function ${(value as { name: string }).name}`;
    case 'object': {
      const ctor = (value as { constructor?: { name?: string } }).constructor;
      if (ctor && 'name' in ctor) return `an instance of ${ctor.name}`;
      return `${inspect(value, { depth: -1 })}`;
    }
    case 'string': {
      let v = value as string;
      if (v.length > 28) v = `${v.slice(0, 25)}...`;
      if (v.indexOf("'") === -1) return `type string ('${v}')`;
      return `type string (${JSON.stringify(v)})`;
    }
    default: {
      let inspected = inspect(value, { colors: false });
      if (inspected.length > 28) inspected = `${inspected.slice(0, 25)}...`;
      return `type ${typeof value} (${inspected})`;
    }
  }
}

export const ERR_INVALID_ARG_TYPE = makeCode('ERR_INVALID_ARG_TYPE', TypeError, (name: string, expected: string | string[], actual: unknown) => {
  if (!Array.isArray(expected)) expected = [expected];
  let msg = 'The ';
  if (name.endsWith(' argument')) msg += `${name} `;
  else msg += `"${name}" ${name.includes('.') ? 'property' : 'argument'} `;
  msg += 'must be ';
  const types: string[] = [];
  const instances: string[] = [];
  const other: string[] = [];
  for (const value of expected) {
    if (kTypes.includes(value)) types.push(value.toLowerCase());
    else if (classRegExp.test(value)) instances.push(value);
    else other.push(value);
  }
  if (instances.length > 0) {
    const pos = types.indexOf('object');
    if (pos !== -1) {
      types.splice(pos, 1);
      instances.push('Object');
    }
  }
  if (types.length > 0) {
    msg += `${types.length > 1 ? 'one of type' : 'of type'} ${formatList(types, 'or')}`;
    if (instances.length > 0 || other.length > 0) msg += ' or ';
  }
  if (instances.length > 0) {
    msg += `an instance of ${formatList(instances, 'or')}`;
    if (other.length > 0) msg += ' or ';
  }
  if (other.length > 0) {
    if (other.length > 1) msg += `one of ${formatList(other, 'or')}`;
    else {
      if (other[0]!.toLowerCase() !== other[0]) msg += 'an ';
      msg += `${other[0]}`;
    }
  }
  return `${msg}. Received ${determineSpecificType(actual)}`;
});

export const ERR_INVALID_ARG_VALUE = makeCode('ERR_INVALID_ARG_VALUE', TypeError, (name: string, value: unknown, reason = 'is invalid') => {
  let inspected = inspect(value);
  if (inspected.length > 128) inspected = `${inspected.slice(0, 128)}...`;
  return `The ${name.includes('.') ? 'property' : 'argument'} '${name}' ${reason}. Received ${inspected}`;
});

export const ERR_OUT_OF_RANGE = makeCode('ERR_OUT_OF_RANGE', RangeError, (str: string, range: string, input: unknown) => {
  let received: string;
  if (Number.isInteger(input) && Math.abs(input as number) > 2 ** 32) received = addNumericalSeparator(String(input));
  else if (typeof input === 'bigint') {
    received = String(input);
    if (input > 2n ** 32n || input < -(2n ** 32n)) received = addNumericalSeparator(received);
    received += 'n';
  } else received = inspect(input);
  return `The value of "${str}" is out of range. It must be ${range}. Received ${received}`;
});

function addNumericalSeparator(val: string): string {
  let res = '';
  let i = val.length;
  const start = val[0] === '-' ? 1 : 0;
  for (; i >= start + 4; i -= 3) res = `_${val.slice(i - 3, i)}${res}`;
  return `${val.slice(0, i)}${res}`;
}

export const ERR_SOCKET_BAD_PORT = makeCode('ERR_SOCKET_BAD_PORT', RangeError, (name: string, port: unknown, allowZero = true) =>
  `${name} should be ${allowZero ? '>=' : '>'} 0 and < 65536. Received ${determineSpecificType(port)}.`,
);
export const ERR_MISSING_ARGS = makeCode('ERR_MISSING_ARGS', TypeError, (...args: (string | string[])[]) => {
  const wrap = (a: string) => `"${a}"`;
  const parts = args.map((a) => (Array.isArray(a) ? a.map(wrap).join(' or ') : wrap(a)));
  return `The ${formatList(parts)} argument${args.length > 1 ? 's' : ''} must be specified`;
});
export const ERR_INVALID_IP_ADDRESS = makeCode('ERR_INVALID_IP_ADDRESS', TypeError, (ip: unknown) => `Invalid IP address: ${String(ip)}`);
export const ERR_INVALID_ADDRESS_FAMILY = makeCode('ERR_INVALID_ADDRESS_FAMILY', RangeError, (addressType: unknown, host: unknown, port: unknown) =>
  `Invalid address family: ${String(addressType)} ${String(host)}:${String(port)}`,
);
export const ERR_INVALID_HANDLE_TYPE = makeCode('ERR_INVALID_HANDLE_TYPE', TypeError, 'This handle type cannot be sent');
export const ERR_INVALID_FD_TYPE = makeCode('ERR_INVALID_FD_TYPE', TypeError, (type: string) => `Unsupported fd type: ${type}`);
export const ERR_SERVER_ALREADY_LISTEN = makeCode('ERR_SERVER_ALREADY_LISTEN', Error, 'Listen method has been called more than once without closing.');
export const ERR_SERVER_NOT_RUNNING = makeCode('ERR_SERVER_NOT_RUNNING', Error, 'Server is not running.');
export const ERR_SOCKET_CLOSED = makeCode('ERR_SOCKET_CLOSED', Error, 'Socket is closed');
export const ERR_SOCKET_CLOSED_BEFORE_CONNECTION = makeCode('ERR_SOCKET_CLOSED_BEFORE_CONNECTION', Error, 'Socket closed before the connection was established');
export const ERR_SOCKET_CONNECTION_TIMEOUT = makeCode('ERR_SOCKET_CONNECTION_TIMEOUT', Error, 'Socket connection timeout');
// dgram's
export const ERR_SOCKET_ALREADY_BOUND = makeCode('ERR_SOCKET_ALREADY_BOUND', Error, 'Socket is already bound');
export const ERR_SOCKET_BAD_BUFFER_SIZE = makeCode('ERR_SOCKET_BAD_BUFFER_SIZE', TypeError, 'Buffer size must be a positive integer');
export const ERR_SOCKET_BAD_TYPE = makeCode('ERR_SOCKET_BAD_TYPE', TypeError, 'Bad socket type specified. Valid types are: udp4, udp6');
export const ERR_SOCKET_DGRAM_IS_CONNECTED = makeCode('ERR_SOCKET_DGRAM_IS_CONNECTED', Error, 'Already connected');
export const ERR_SOCKET_DGRAM_NOT_CONNECTED = makeCode('ERR_SOCKET_DGRAM_NOT_CONNECTED', Error, 'Not connected');
export const ERR_SOCKET_DGRAM_NOT_RUNNING = makeCode('ERR_SOCKET_DGRAM_NOT_RUNNING', Error, 'Not running');
export const ERR_BUFFER_OUT_OF_BOUNDS = makeCode('ERR_BUFFER_OUT_OF_BOUNDS', RangeError, (name?: string) =>
  name ? `"${name}" is outside of buffer bounds` : 'Attempt to access memory outside buffer bounds',
);

/** Node's `err.code` for a (negative) errno: 'ECONNRESET'. */
export function errnoCode(err: number): string {
  return getSystemErrorName(err < 0 ? err : -err);
}

function define(e: Error, props: Record<string, unknown>): void {
  for (const k of Object.keys(props)) (e as unknown as Record<string, unknown>)[k] = props[k];
}

/** Node's ErrnoException: "read ECONNRESET" with errno, code, syscall. */
export function errnoException(err: number, syscall: string, original?: string): NodeJS.ErrnoException {
  const code = errnoCode(err);
  const e = new Error(original ? `${syscall} ${code} ${original}` : `${syscall} ${code}`) as NodeJS.ErrnoException;
  define(e, { errno: err, code, syscall });
  return e;
}

/** Node's ExceptionWithHostPort: "connect ECONNREFUSED 127.0.0.1:1" (+ " - Local (addr:port)"). */
export function exceptionWithHostPort(err: number, syscall: string, address: string, port?: number, additional?: string): NodeJS.ErrnoException {
  const code = errnoCode(err);
  let details = '';
  if (port && port > 0) details = ` ${address}:${port}`;
  else if (address) details = ` ${address}`;
  if (additional) details += ` - Local (${additional})`;
  const e = new Error(`${syscall} ${code}${details}`) as NodeJS.ErrnoException & { address?: string; port?: number };
  define(e, { errno: err, code, syscall, address });
  if (port) e.port = port;
  return e;
}

/** Node's UVExceptionWithHostPort: "listen EADDRINUSE: address already in use 127.0.0.1:8080". */
export function uvExceptionWithHostPort(err: number, syscall: string, address: string | null | undefined, port?: number): NodeJS.ErrnoException {
  const [code, uvmsg] = getSystemErrorMap().get(err < 0 ? err : -err) ?? ['UNKNOWN', 'unknown error'];
  let details = '';
  if (port && port > 0) details = ` ${address}:${port}`;
  else if (address) details = ` ${address}`;
  const e = new Error(`${syscall} ${code}: ${uvmsg}${details}`) as NodeJS.ErrnoException & { address?: unknown; port?: number };
  define(e, { code, errno: err, syscall, address });
  if (port) e.port = port;
  return e;
}

/** Node's AbortError (from AbortSignal-aware APIs): name 'AbortError', code 'ABORT_ERR'. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/** Node's NodeAggregateError: an AggregateError whose code is the first error's. */
export function nodeAggregateError(errors: Error[], message = ''): AggregateError & { code?: string } {
  const e = new AggregateError(errors, message) as AggregateError & { code?: string };
  e.code = (errors[0] as NodeJS.ErrnoException | undefined)?.code;
  return e;
}

// ---- Node's validators (lib/internal/validators.js), throwing the same errors ----

export function validateNumber(value: unknown, name: string, min?: number, max?: number): asserts value is number {
  if (typeof value !== 'number') throw new ERR_INVALID_ARG_TYPE(name, 'number', value);
  if ((min != null && value < min) || (max != null && value > max) || ((min != null || max != null) && Number.isNaN(value))) {
    throw new ERR_OUT_OF_RANGE(
      name,
      `${min != null ? `>= ${min}` : ''}${min != null && max != null ? ' && ' : ''}${max != null ? `<= ${max}` : ''}`,
      value,
    );
  }
}

export function validateInt32(value: unknown, name: string, min = -2147483648, max = 2147483647): asserts value is number {
  if (typeof value !== 'number') throw new ERR_INVALID_ARG_TYPE(name, 'number', value);
  if (!Number.isInteger(value)) throw new ERR_OUT_OF_RANGE(name, 'an integer', value);
  if (value < min || value > max) throw new ERR_OUT_OF_RANGE(name, `>= ${min} && <= ${max}`, value);
}

export function validateUint32(value: unknown, name: string, positive = false): asserts value is number {
  if (typeof value !== 'number') throw new ERR_INVALID_ARG_TYPE(name, 'number', value);
  if (!Number.isInteger(value)) throw new ERR_OUT_OF_RANGE(name, 'an integer', value);
  const min = positive ? 1 : 0;
  const max = 4294967295;
  if (value < min || value > max) throw new ERR_OUT_OF_RANGE(name, `>= ${min} && <= ${max}`, value);
}

export function validateBoolean(value: unknown, name: string): asserts value is boolean {
  if (typeof value !== 'boolean') throw new ERR_INVALID_ARG_TYPE(name, 'boolean', value);
}

export function validateString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw new ERR_INVALID_ARG_TYPE(name, 'string', value);
}

export function validateFunction(value: unknown, name: string): asserts value is (...a: unknown[]) => unknown {
  if (typeof value !== 'function') throw new ERR_INVALID_ARG_TYPE(name, 'Function', value);
}

export function validateAbortSignal(signal: unknown, name: string): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw new ERR_INVALID_ARG_TYPE(name, 'AbortSignal', signal);
  }
}

/** validatePort: a number or numeric string 0..65535 (1.. without allowZero); returns it as a number. */
export function validatePort(port: unknown, name = 'Port', allowZero = true): number {
  if (
    (typeof port !== 'number' && typeof port !== 'string') ||
    (typeof port === 'string' && port.trim().length === 0) ||
    +port !== +port >>> 0 ||
    +port > 0xffff ||
    (+port === 0 && !allowZero)
  ) {
    throw new ERR_SOCKET_BAD_PORT(name, port, allowZero);
  }
  return +port | 0;
}

/** timers' getTimerDuration: a finite non-negative number of ms, capped at TIMEOUT_MAX with a warning. */
export function getTimerDuration(msecs: unknown, name: string): number {
  validateNumber(msecs, name);
  if (msecs < 0 || !Number.isFinite(msecs)) throw new ERR_OUT_OF_RANGE(name, 'a non-negative finite number', msecs);
  if (msecs > 2 ** 31 - 1) {
    process.emitWarning(`${msecs} does not fit into a 32-bit signed integer.\nTimer duration was truncated to ${2 ** 31 - 1}.`, 'TimeoutOverflowWarning');
    return 2 ** 31 - 1;
  }
  return msecs;
}

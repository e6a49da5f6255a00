// Runs socket scenarios (test/diff/FORMAT.md) on xlio-ts's socket layer (src/socket) and
// produces the trace exactly as test/diff/kernel_runner.py does on Linux: same entries,
// same field names, same symbols, same runner errors (an unknown name ends the scenario
// with {"err": "RUNNER", …}, a step that does not return within 3 s of simulated time
// with {"err": "TIMEOUT"}).
//
// Each scenario gets a fresh stack holding 198.18.0.1, 198.18.0.2, fd00::1 and fd00::2;
// nothing leaves the host (every address is local: traffic goes through the stack's
// loopback). Time is simulated: after every step the stack is polled until nothing is in
// flight, `sleep` advances the clock (running the timers that come due on the way), and a
// blocking call waits through the driver, which advances the clock to the next timer or
// the call's deadline.

import { isDeepStrictEqual } from 'node:util';
import { Sockets, type SocketDriver } from '../../src/socket/sockets.js';
import { EpollEvent, FdSet, MsgHdr, PollFd, SockAddr } from '../../src/socket/types.js';
import {
  AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC, F_GETFL, F_SETFL, FIONBIO, O_NONBLOCK, SOL_SOCKET, SO_DOMAIN, SO_TYPE,
} from '../../src/socket/constants.js';
import { hashSeed } from '../../src/rng.js';
import { formatIpv4, formatIpv6, ipv4, ipv6 } from '../../src/wire/address.js';
import type { Scenario, Trace, TraceEntry } from '../support/kernel-oracle.js';
import { LocalStack } from '../support/local-stack.js';

/** Like the kernel runner's per-step interval timer. */
export const STEP_TIMEOUT_US = 3_000_000;
const START_US = 1_000_000;
const SETTLE_ROUNDS = 100;
const MAX_WAITS_PER_STEP = 200_000;

// ---------------------------------------------------------------------------------------
// Names and numbers, as kernel_runner.py spells them

const AF: Record<string, number> = { UNSPEC: 0, UNIX: 1, LOCAL: 1, INET: 2, INET6: 10, PACKET: 17, NETLINK: 16 };
const SOCK_TYPES: Record<string, number> = {
  STREAM: 1, DGRAM: 2, RAW: 3, RDM: 4, SEQPACKET: 5, PACKET: 10, NONBLOCK: 0o4000, CLOEXEC: 0o2000000,
};
const O_CLOEXEC_ = 0o2000000;

const MSG: ReadonlyArray<readonly [string, number]> = [
  ['OOB', 0x1], ['PEEK', 0x2], ['DONTROUTE', 0x4], ['CTRUNC', 0x8], ['PROBE', 0x10], ['TRUNC', 0x20], ['DONTWAIT', 0x40],
  ['EOR', 0x80], ['WAITALL', 0x100], ['FIN', 0x200], ['SYN', 0x400], ['CONFIRM', 0x800], ['RST', 0x1000], ['ERRQUEUE', 0x2000],
  ['NOSIGNAL', 0x4000], ['MORE', 0x8000], ['WAITFORONE', 0x10000], ['ZEROCOPY', 0x4000000], ['FASTOPEN', 0x20000000],
  ['CMSG_CLOEXEC', 0x40000000],
];
const MSG_BY_NAME: Record<string, number> = Object.fromEntries(MSG);
const MSG_TRUNC = 0x20;

const EV: ReadonlyArray<readonly [string, number]> = [
  ['IN', 0x001], ['PRI', 0x002], ['OUT', 0x004], ['ERR', 0x008], ['HUP', 0x010], ['NVAL', 0x020], ['RDNORM', 0x040],
  ['RDBAND', 0x080], ['WRNORM', 0x100], ['WRBAND', 0x200], ['MSG', 0x400], ['RDHUP', 0x2000], ['EXCLUSIVE', 2 ** 28],
  ['WAKEUP', 2 ** 29], ['ONESHOT', 2 ** 30], ['ET', 2 ** 31],
];
const EV_BY_NAME: Record<string, number> = Object.fromEntries(EV);

const SHUT: Record<string, number> = { RD: 0, WR: 1, RDWR: 2 };
const EPOLL_OPS: Record<string, number> = { ADD: 1, DEL: 2, MOD: 3 };
const LEVELS: Record<string, number> = {
  SOL_SOCKET: 1, IPPROTO_IP: 0, SOL_IP: 0, IPPROTO_IPV6: 41, SOL_IPV6: 41, IPPROTO_TCP: 6, SOL_TCP: 6, IPPROTO_UDP: 17, SOL_UDP: 17,
};

/** Option name → [number, kind]; kinds: int, linger, timeval, errno, bytes:<size>. */
const OPTS: Record<string, readonly [number, string]> = {};
function opts(kindDefault: string, table: ReadonlyArray<readonly [string, number, string?]>): void {
  for (const [name, num, kind] of table) OPTS[name] = [num, kind ?? kindDefault];
}
opts('int', [
  ['SO_DEBUG', 1], ['SO_REUSEADDR', 2], ['SO_TYPE', 3], ['SO_ERROR', 4, 'errno'], ['SO_DONTROUTE', 5], ['SO_BROADCAST', 6],
  ['SO_SNDBUF', 7], ['SO_RCVBUF', 8], ['SO_KEEPALIVE', 9], ['SO_OOBINLINE', 10], ['SO_NO_CHECK', 11], ['SO_PRIORITY', 12],
  ['SO_LINGER', 13, 'linger'], ['SO_REUSEPORT', 15], ['SO_RCVLOWAT', 18], ['SO_SNDLOWAT', 19], ['SO_RCVTIMEO', 20, 'timeval'],
  ['SO_SNDTIMEO', 21, 'timeval'], ['SO_BINDTODEVICE', 25, 'bytes:16'], ['SO_TIMESTAMP', 29], ['SO_ACCEPTCONN', 30],
  ['SO_SNDBUFFORCE', 32], ['SO_RCVBUFFORCE', 33], ['SO_PROTOCOL', 38], ['SO_DOMAIN', 39], ['SO_BUSY_POLL', 46], ['SO_INCOMING_CPU', 49],
]);
opts('int', [
  ['IP_TOS', 1], ['IP_TTL', 2], ['IP_HDRINCL', 3], ['IP_OPTIONS', 4, 'bytes:40'], ['IP_RECVERR', 11], ['IP_MTU_DISCOVER', 10],
  ['IP_MTU', 14], ['IP_FREEBIND', 15], ['IP_MULTICAST_IF', 32, 'bytes:4'], ['IP_MULTICAST_TTL', 33], ['IP_MULTICAST_LOOP', 34],
  ['IP_ADD_MEMBERSHIP', 35, 'bytes:8'], ['IP_DROP_MEMBERSHIP', 36, 'bytes:8'], ['IP_UNBLOCK_SOURCE', 37, 'bytes:12'],
  ['IP_BLOCK_SOURCE', 38, 'bytes:12'], ['IP_ADD_SOURCE_MEMBERSHIP', 39, 'bytes:12'], ['IP_DROP_SOURCE_MEMBERSHIP', 40, 'bytes:12'],
  ['IP_BIND_ADDRESS_NO_PORT', 24],
]);
opts('int', [
  ['IPV6_UNICAST_HOPS', 16], ['IPV6_MULTICAST_IF', 17], ['IPV6_MULTICAST_HOPS', 18], ['IPV6_MULTICAST_LOOP', 19],
  ['IPV6_JOIN_GROUP', 20, 'bytes:20'], ['IPV6_LEAVE_GROUP', 21, 'bytes:20'], ['IPV6_RECVERR', 25], ['IPV6_V6ONLY', 26], ['IPV6_TCLASS', 67],
]);
opts('int', [
  ['TCP_NODELAY', 1], ['TCP_MAXSEG', 2], ['TCP_CORK', 3], ['TCP_KEEPIDLE', 4], ['TCP_KEEPINTVL', 5], ['TCP_KEEPCNT', 6],
  ['TCP_SYNCNT', 7], ['TCP_LINGER2', 8], ['TCP_DEFER_ACCEPT', 9], ['TCP_WINDOW_CLAMP', 10], ['TCP_INFO', 11, 'bytes:104'],
  ['TCP_QUICKACK', 12], ['TCP_CONGESTION', 13, 'bytes:16'], ['TCP_USER_TIMEOUT', 18], ['TCP_NOTSENT_LOWAT', 25],
]);
opts('int', [['UDP_CORK', 1], ['UDP_SEGMENT', 103], ['UDP_GRO', 104]]);

const IOCTLS: Record<string, number> = {
  FIONREAD: 0x541b, SIOCINQ: 0x541b, SIOCOUTQ: 0x5411, FIONBIO: 0x5421, SIOCATMARK: 0x8905, SIOCOUTQNSD: 0x894b,
};

const ADDR4: Record<string, string> = {
  A4: '198.18.0.1', B4: '198.18.0.2', ANY4: '0.0.0.0', N4: '198.19.255.254', LO4: '127.0.0.1', BCAST4: '255.255.255.255',
};
const ADDR6: Record<string, string> = {
  A6: 'fd00::1', B6: 'fd00::2', ANY6: '::', N6: 'fd00:ffff::1', LO6: '::1', A4M: '::ffff:198.18.0.1', B4M: '::ffff:198.18.0.2',
  ANY4M: '::ffff:0.0.0.0', N4M: '::ffff:198.19.255.254',
};
const ADDR4_VALUE = new Map(Object.entries(ADDR4).map(([k, v]) => [k, ipv4(v)]));
const ADDR6_VALUE = new Map(Object.entries(ADDR6).map(([k, v]) => [k, ipv6(v)]));
const SYM4 = new Map([...ADDR4_VALUE].map(([k, v]) => [v, k]));
const SYM6 = new Map([...ADDR6_VALUE].map(([k, v]) => [hex(v), k]));
const EPH_LO = 32768;
const EPH_HI = 60999;
const PORT_BASE = 10000;

/** errno names as the kernel runner spells them: Python's errno.errorcode on Linux, with its ERRNO_PREFERRED (EOPNOTSUPP, EAGAIN, EDEADLK). */
const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 7: 'E2BIG', 8: 'ENOEXEC', 9: 'EBADF', 10: 'ECHILD',
  11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 15: 'ENOTBLK', 16: 'EBUSY', 17: 'EEXIST', 18: 'EXDEV', 19: 'ENODEV',
  20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL', 23: 'ENFILE', 24: 'EMFILE', 25: 'ENOTTY', 26: 'ETXTBSY', 27: 'EFBIG', 28: 'ENOSPC',
  29: 'ESPIPE', 30: 'EROFS', 31: 'EMLINK', 32: 'EPIPE', 33: 'EDOM', 34: 'ERANGE', 35: 'EDEADLK', 36: 'ENAMETOOLONG',
  37: 'ENOLCK', 38: 'ENOSYS', 39: 'ENOTEMPTY', 40: 'ELOOP', 42: 'ENOMSG', 43: 'EIDRM', 61: 'ENODATA', 62: 'ETIME',
  71: 'EPROTO', 74: 'EBADMSG', 75: 'EOVERFLOW', 77: 'EBADFD', 84: 'EILSEQ', 85: 'ERESTART', 88: 'ENOTSOCK',
  89: 'EDESTADDRREQ', 90: 'EMSGSIZE', 91: 'EPROTOTYPE', 92: 'ENOPROTOOPT', 93: 'EPROTONOSUPPORT', 94: 'ESOCKTNOSUPPORT',
  95: 'EOPNOTSUPP', 96: 'EPFNOSUPPORT', 97: 'EAFNOSUPPORT', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL', 100: 'ENETDOWN',
  101: 'ENETUNREACH', 102: 'ENETRESET', 103: 'ECONNABORTED', 104: 'ECONNRESET', 105: 'ENOBUFS', 106: 'EISCONN',
  107: 'ENOTCONN', 108: 'ESHUTDOWN', 109: 'ETOOMANYREFS', 110: 'ETIMEDOUT', 111: 'ECONNREFUSED', 112: 'EHOSTDOWN',
  113: 'EHOSTUNREACH', 114: 'EALREADY', 115: 'EINPROGRESS', 116: 'ESTALE', 121: 'EREMOTEIO', 122: 'EDQUOT', 125: 'ECANCELED',
};

/** The trace name of an errno (either sign). */
export function traceErrno(n: number): string {
  const e = Math.abs(n);
  return ERRNO_NAMES[e] ?? `E${e}`;
}

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new RunnerError(`bad option value ${pyRepr({ bytes: s })}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** FNV-1a 32-bit, 8 lowercase hex digits. */
export function fnv1a(data: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** The bytes `send … n` sends: (counter + i) & 0xff. */
export function payload(counter: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (counter + i) & 0xff;
  return out;
}

function maskNames(v: number, table: ReadonlyArray<readonly [string, number]>): string {
  let rest = v >>> 0;
  const names: string[] = [];
  for (const [n, bit] of table) {
    if (rest >= bit && Math.floor(rest / bit) % 2 === 1) {
      names.push(n);
      rest -= bit;
    }
  }
  if (rest !== 0) names.push(`0x${rest.toString(16)}`);
  return names.join('|');
}

/** Python's repr() of the simple values steps hold (for RUNNER error details). */
function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === 'string') {
    if (v.includes("'") && !v.includes('"')) return `"${v}"`;
    return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v as object).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  return String(v);
}

/** Python int(x) for the values steps hold. */
function pyInt(v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return parseInt(v, 10);
  throw new RunnerError(`int() of ${pyRepr(v)}`);
}

function flagsParse(spec: unknown, table: Record<string, number>, what: string): number {
  if (spec === null || spec === undefined || spec === '' || spec === 0) return 0;
  if (typeof spec === 'number') return spec;
  let v = 0;
  for (let part of String(spec).split('|')) {
    part = part.trim();
    if (part === '') continue;
    const bit = table[part];
    if (bit !== undefined) v = (v | bit) >>> 0;
    else if (/^-?\d+$/.test(part)) v = (v | parseInt(part, 10)) >>> 0;
    else if (/^0x[0-9a-fA-F]+$/.test(part)) v = (v | parseInt(part, 16)) >>> 0;
    else throw new RunnerError(`unknown ${what} flag ${pyRepr(part)}`);
  }
  return v | 0;
}

class RunnerError extends Error {}

/** A step that would not return (simulated time ran past STEP_TIMEOUT_US, or the layer spun). */
class StepTimeout extends Error {}

// ---------------------------------------------------------------------------------------

/** A scenario's trace plus notes that are not compared (why a step timed out or threw). */
export interface XlioTrace extends Trace {
  notes?: string[];
}

class XlioScenario extends LocalStack {
  readonly api: Sockets;
  private stepStart = START_US;
  private waits = 0;
  private sigpipe = false;
  readonly fds = new Map<string, number>();
  readonly counter = new Map<string, number>();
  readonly regnames: string[] = [];
  readonly notes: string[] = [];
  readonly base = 3;

  constructor(readonly index: number) {
    super(1000 + index, START_US, SETTLE_ROUNDS);
    const self = this;
    const driver: SocketDriver = {
      canBlock: true,
      now: () => self.now,
      wait: (deadlineUs: number) => self.wait(deadlineUs),
    };
    this.api = new Sockets(this.stack, { driver, firstFd: this.base, maxFds: 1 << 20 });
    this.api.onSignal = () => {
      this.sigpipe = true;
    };
    this.settle();
  }

  // -- time --

  /** The driver's wait: run what is pending; if nothing was, advance the clock to the next timer or the deadline. */
  wait(deadlineUs: number): void {
    if (++this.waits > MAX_WAITS_PER_STEP) throw new StepTimeout(`more than ${MAX_WAITS_PER_STEP} driver waits in one step`);
    const before = this.activity;
    const next = this.settle();
    if (this.activity !== before) return;
    const limit = this.stepStart + STEP_TIMEOUT_US;
    const t = Math.min(deadlineUs, next, limit);
    if (t >= limit) {
      this.now = Math.max(this.now, limit);
      throw new StepTimeout(`blocked past ${STEP_TIMEOUT_US} µs (deadline ${deadlineUs}, next timer ${next})`);
    }
    if (t > this.now) this.now = t;
    this.settle();
  }

  // -- arguments --

  fd(s: unknown): number {
    if (typeof s === 'boolean') throw new RunnerError(`bad descriptor reference ${pyRepr(s)}`);
    if (typeof s === 'number' && Number.isInteger(s)) return s >= 0 ? this.base + s : -1;
    const fd = typeof s === 'string' ? this.fds.get(s) : undefined;
    if (fd === undefined) throw new RunnerError(`unknown name ${pyRepr(s)}`);
    return fd;
  }

  rel(fd: number): number {
    return fd - this.base;
  }

  port(p: unknown): number {
    if (typeof p === 'number' && Number.isInteger(p)) return p;
    if (typeof p === 'string') {
      const m = /^P([1-9])$/.exec(p);
      if (m) return PORT_BASE + Number(m[1]);
      if (/^\d+$/.test(p)) return parseInt(p, 10);
    }
    throw new RunnerError(`bad port ${pyRepr(p)}`);
  }

  portOut(p: number | null): string | number | null {
    if (p === null) return null;
    if (p > PORT_BASE && p <= PORT_BASE + 9) return `P${p - PORT_BASE}`;
    if (p >= EPH_LO && p <= EPH_HI) return 'eph';
    return p;
  }

  addr(addr: unknown, port: unknown): SockAddr {
    if (addr === 'UNSPEC') return SockAddr.unspec();
    const pn = this.port(port);
    if (typeof addr === 'string') {
      const a4 = ADDR4_VALUE.get(addr);
      if (a4 !== undefined) return SockAddr.inet(a4, pn & 0xffff);
      const a6 = ADDR6_VALUE.get(addr);
      if (a6 !== undefined) return SockAddr.inet6(a6, pn & 0xffff);
    }
    throw new RunnerError(`unknown address symbol ${pyRepr(addr)}`);
  }

  /** (addr, port) trace values of a returned address; `noneIfUnspec` for calls where Linux returns no address. */
  peer(a: SockAddr, noneIfUnspec: boolean): [string | null, string | number | null] {
    if (a.family === AF_INET) return [SYM4.get(a.addr4 | 0) ?? formatIpv4(a.addr4), this.portOut(a.port)];
    if (a.family === AF_INET6) return [SYM6.get(hex(a.addr6)) ?? formatIpv6(a.addr6), this.portOut(a.port)];
    if (a.family === AF_UNIX) return ['unix', null];
    if (a.family === AF_UNSPEC) return noneIfUnspec ? [null, null] : ['UNSPEC', null];
    return [`family${a.family}`, null];
  }

  bindName(name: string, fd: number): void {
    this.fds.set(name, fd);
    this.counter.set(name, 0);
  }

  fail(r: number): TraceEntry {
    return { err: traceErrno(r) };
  }

  private familyOf(fd: number): number {
    const b = new Uint8Array(4);
    return this.api.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, b) === 4 ? new DataView(b.buffer).getInt32(0, true) : 0;
  }

  private typeOf(fd: number): number {
    const b = new Uint8Array(4);
    return this.api.getsockopt(fd, SOL_SOCKET, SO_TYPE, b) === 4 ? new DataView(b.buffer).getInt32(0, true) : 0;
  }

  private copied(fd: number, r: number, bufsize: number, flags: number): number {
    if (r <= 0) return 0;
    if (flags & MSG_TRUNC && this.typeOf(fd) === 1 && [AF_INET, AF_INET6].includes(this.familyOf(fd))) return 0;
    return Math.min(r, bufsize);
  }

  // -- running --

  run(steps: unknown[][]): TraceEntry[] {
    const trace: TraceEntry[] = [];
    for (const step of steps) {
      const entry = this.guarded(step);
      trace.push(entry);
      if (entry['err'] === 'TIMEOUT' || entry['err'] === 'RUNNER' || entry['err'] === 'XLIO_EXCEPTION') break;
    }
    return trace;
  }

  guarded(step: unknown): TraceEntry {
    this.sigpipe = false;
    this.stepStart = this.now;
    this.waits = 0;
    let entry: TraceEntry;
    try {
      entry = this.step(step);
    } catch (e) {
      if (e instanceof StepTimeout) {
        this.notes.push(`step ${JSON.stringify(step)}: TIMEOUT: ${e.message}`);
        entry = { err: 'TIMEOUT' };
      } else if (e instanceof RunnerError) {
        entry = { err: 'RUNNER', detail: e.message };
      } else {
        const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        this.notes.push(`step ${JSON.stringify(step)}: exception: ${e instanceof Error ? e.stack : msg}`);
        entry = { err: 'XLIO_EXCEPTION', detail: msg };
      }
    }
    try {
      this.settle();
    } catch (e) {
      this.notes.push(`settling after ${JSON.stringify(step)}: ${e instanceof Error ? e.stack : String(e)}`);
      if (entry['err'] === undefined) entry = { err: 'XLIO_EXCEPTION', detail: String(e) };
    }
    if (this.sigpipe) entry['sigpipe'] = true;
    return entry;
  }

  step(st: unknown): TraceEntry {
    if (!Array.isArray(st) || st.length === 0 || typeof st[0] !== 'string') throw new RunnerError(`malformed step ${pyRepr(st)}`);
    const a = st.slice(1) as unknown[];
    switch (st[0]) {
      case 'socket': return this.opSocket(a[0], a[1], a[2], a[3] ?? 0);
      case 'socketpair': return this.opSocketpair(a[0], a[1], a[2], a[3], a[4] ?? 0);
      case 'bind': return this.opBind(a[0], a[1], a[2]);
      case 'listen': return this.ret0(this.api.listen(this.fd(a[0]), pyInt(a[1])));
      case 'connect': return this.opConnect(a[0], a[1], a[2]);
      case 'accept': return this.opAccept(a[0], a[1], a[2]);
      case 'send': return this.opSend(a[0], a[1], a[2] ?? '');
      case 'sendto': return this.opSendto(a[0], a[1], a[2], a[3], a[4]);
      case 'sendmsg': return this.opSendmsg(a[0], a[1], a[2] ?? '', a[3] ?? null, a[4] ?? null);
      case 'recv': return this.opRecv('recv', a[0], a[1], a[2] ?? '');
      case 'recvfrom': return this.opRecv('recvfrom', a[0], a[1], a[2] ?? '');
      case 'recvmsg': return this.opRecv('recvmsg', a[0], a[1], a[2] ?? '');
      case 'shutdown': {
        const how = typeof a[1] === 'string' && a[1] in SHUT ? SHUT[a[1]]! : pyInt(a[1]);
        return this.ret0(this.api.shutdown(this.fd(a[0]), how));
      }
      case 'close': return this.ret0(this.api.close(this.fd(a[0])));
      case 'getsockname': return this.opName(true, a[0]);
      case 'getpeername': return this.opName(false, a[0]);
      case 'setsockopt': return this.opSetsockopt(a[0], a[1], a[2], a[3]);
      case 'getsockopt': return this.opGetsockopt(a[0], a[1], a[2], a[3] ?? null);
      case 'ioctl': return this.opIoctl(a[0], a[1], a[2] ?? null);
      case 'fcntl': return this.opFcntl(a[0], a[1], a[2] ?? null);
      case 'dup': {
        const fd = this.fd(a[0]);
        return this.newFd(a[1], this.api.dup(fd));
      }
      case 'dup2': {
        const fd = this.fd(a[0]);
        return this.newFd(a[1], this.api.dup2(fd, this.fd(pyInt(a[2]))));
      }
      case 'dup3': {
        const fl = flagsParse(a[3] ?? null, { CLOEXEC: O_CLOEXEC_, NONBLOCK: O_NONBLOCK }, 'dup3');
        const fd = this.fd(a[0]);
        return this.newFd(a[1], this.api.dup3(fd, this.fd(pyInt(a[2])), fl));
      }
      case 'poll': return this.opPoll(a[0], a[1]);
      case 'select': return this.opSelect(a[0], a[1], a[2], a[3] ?? null);
      case 'epoll_create': {
        const fl = flagsParse(a[1] ?? null, { CLOEXEC: O_CLOEXEC_, NONBLOCK: O_NONBLOCK }, 'epoll_create');
        return this.newFd(a[0], this.api.epoll_create1(fl));
      }
      case 'epoll_ctl': return this.opEpollCtl(a[0], a[1], a[2], a[3] ?? null);
      case 'epoll_wait': return this.opEpollWait(a[0], a[1], a[2]);
      case 'sleep':
        this.advance(pyInt(a[0]) * 1000);
        return { ret: 0 };
      default:
        throw new RunnerError(`unknown step ${pyRepr(st[0])}`);
    }
  }

  ret0(r: number): TraceEntry {
    return r < 0 ? this.fail(r) : { ret: 0 };
  }

  newFd(name: unknown, fd: number): TraceEntry {
    if (fd < 0) return this.fail(fd);
    this.bindName(String(name), fd);
    return { ret: 0, fd: this.rel(fd) };
  }

  opSocket(name: unknown, domain: unknown, type: unknown, protocol: unknown): TraceEntry {
    const d = typeof domain === 'string' && domain in AF ? AF[domain]! : pyInt(domain);
    const t = flagsParse(type, SOCK_TYPES, 'socket type');
    const fd = this.api.socket(d, t, pyInt(protocol));
    return this.newFd(name, fd);
  }

  opSocketpair(n1: unknown, n2: unknown, domain: unknown, type: unknown, protocol: unknown): TraceEntry {
    const d = typeof domain === 'string' && domain in AF ? AF[domain]! : pyInt(domain);
    const t = flagsParse(type, SOCK_TYPES, 'socket type');
    const sv = new Int32Array(2);
    const r = this.api.socketpair(d, t, pyInt(protocol), sv);
    if (r < 0) return this.fail(r);
    this.bindName(String(n1), sv[0]!);
    this.bindName(String(n2), sv[1]!);
    return { ret: 0, fds: [this.rel(sv[0]!), this.rel(sv[1]!)] };
  }

  opBind(s: unknown, addr: unknown, port: unknown): TraceEntry {
    const fd = this.fd(s);
    return this.ret0(this.api.bind(fd, this.addr(addr, port)));
  }

  opConnect(s: unknown, addr: unknown, port: unknown): TraceEntry {
    const fd = this.fd(s);
    return this.ret0(this.api.connect(fd, this.addr(addr, port)));
  }

  opAccept(s: unknown, newname: unknown, flags: unknown): TraceEntry {
    const fl = flagsParse(flags ?? null, SOCK_TYPES, 'accept');
    const out = SockAddr.unspec();
    const lfd = this.fd(s);
    const fd = flags === undefined || flags === null ? this.api.accept(lfd, out) : this.api.accept4(lfd, out, fl);
    if (fd < 0) return this.fail(fd);
    this.bindName(String(newname), fd);
    const [addr, port] = this.peer(out, true);
    return { ret: 0, fd: this.rel(fd), addr, port };
  }

  sent(s: unknown, r: number): TraceEntry {
    if (r < 0) return this.fail(r);
    const name = String(s);
    this.counter.set(name, (this.counter.get(name) ?? 0) + r);
    return { ret: r };
  }

  opSend(s: unknown, n: unknown, flags: unknown): TraceEntry {
    const data = payload(this.counter.get(String(s)) ?? 0, pyInt(n));
    const fl = flagsParse(flags, MSG_BY_NAME, 'msg');
    return this.sent(s, this.api.send(this.fd(s), data, fl));
  }

  opSendto(s: unknown, n: unknown, flags: unknown, addr: unknown, port: unknown): TraceEntry {
    const fd = this.fd(s);
    const data = payload(this.counter.get(String(s)) ?? 0, pyInt(n));
    const to = this.addr(addr, port);
    return this.sent(s, this.api.sendto(fd, data, flagsParse(flags, MSG_BY_NAME, 'msg'), to));
  }

  opSendmsg(s: unknown, n: unknown, flags: unknown, addr: unknown, port: unknown): TraceEntry {
    const fd = this.fd(s);
    const len = pyInt(n);
    const data = payload(this.counter.get(String(s)) ?? 0, len);
    const half = Math.floor(len / 2);
    const msg = new MsgHdr();
    if (addr !== null && addr !== undefined) msg.name = this.addr(addr, port);
    msg.iov = [data.subarray(0, half), data.subarray(half)];
    return this.sent(s, this.api.sendmsg(fd, msg, flagsParse(flags, MSG_BY_NAME, 'msg')));
  }

  opRecv(variant: 'recv' | 'recvfrom' | 'recvmsg', s: unknown, bufsize: unknown, flags: unknown): TraceEntry {
    const fd = this.fd(s);
    const size = pyInt(bufsize);
    const fl = flagsParse(flags, MSG_BY_NAME, 'msg');
    const buf = new Uint8Array(Math.max(size, 0));
    if (variant === 'recv') {
      const r = this.api.recv(fd, buf, fl);
      if (r < 0) return this.fail(r);
      const k = this.copied(fd, r, size, fl);
      return { ret: r, len: k, hash: fnv1a(buf.subarray(0, k)) };
    }
    if (variant === 'recvfrom') {
      const from = SockAddr.unspec();
      const r = this.api.recvfrom(fd, buf, fl, from);
      if (r < 0) return this.fail(r);
      const k = this.copied(fd, r, size, fl);
      const [addr, port] = this.peer(from, true);
      return { ret: r, len: k, hash: fnv1a(buf.subarray(0, k)), addr, port };
    }
    const msg = new MsgHdr();
    msg.name = SockAddr.unspec();
    msg.iov = [buf];
    const r = this.api.recvmsg(fd, msg, fl);
    if (r < 0) return this.fail(r);
    const k = this.copied(fd, r, size, fl);
    const [addr, port] = this.peer(msg.name ?? SockAddr.unspec(), true);
    return { ret: r, len: k, hash: fnv1a(buf.subarray(0, k)), addr, port, flags: maskNames(msg.flags, MSG) };
  }

  opName(sock: boolean, s: unknown): TraceEntry {
    const out = SockAddr.unspec();
    const fd = this.fd(s);
    const r = sock ? this.api.getsockname(fd, out) : this.api.getpeername(fd, out);
    if (r < 0) return this.fail(r);
    const [addr, port] = this.peer(out, false);
    return { ret: 0, addr, port };
  }

  static opt(level: unknown, name: unknown): [number, number, string] {
    let lv: number;
    if (typeof level === 'string' && level in LEVELS) lv = LEVELS[level]!;
    else if (typeof level === 'number' || (typeof level === 'string' && /^\d+$/.test(level))) lv = pyInt(level);
    else throw new RunnerError(`unknown level ${pyRepr(level)}`);
    if (typeof name === 'string' && name in OPTS) {
      const [num, kind] = OPTS[name]!;
      return [lv, num, kind];
    }
    if (typeof name === 'number' || (typeof name === 'string' && /^\d+$/.test(name))) return [lv, pyInt(name), 'int'];
    throw new RunnerError(`unknown option ${pyRepr(name)}`);
  }

  opSetsockopt(s: unknown, level: unknown, name: unknown, value: unknown): TraceEntry {
    const [lv, num] = XlioScenario.opt(level, name);
    let raw: Uint8Array;
    if (typeof value === 'boolean') value = value ? 1 : 0;
    if (typeof value === 'number') {
      raw = new Uint8Array(4);
      new DataView(raw.buffer).setInt32(0, value, true);
    } else if (value !== null && typeof value === 'object' && 'linger' in value) {
      const l = (value as { linger: unknown[] }).linger;
      raw = new Uint8Array(8);
      new DataView(raw.buffer).setInt32(0, pyInt(l[0]), true);
      new DataView(raw.buffer).setInt32(4, pyInt(l[1]), true);
    } else if (value !== null && typeof value === 'object' && 'timeval' in value) {
      const us = pyInt((value as { timeval: unknown }).timeval);
      raw = new Uint8Array(16);
      const dv = new DataView(raw.buffer);
      dv.setBigInt64(0, BigInt(Math.floor(us / 1_000_000)), true);
      dv.setBigInt64(8, BigInt(us - Math.floor(us / 1_000_000) * 1_000_000), true);
    } else if (value !== null && typeof value === 'object' && 'bytes' in value) {
      raw = fromHex(String((value as { bytes: unknown }).bytes));
    } else throw new RunnerError(`bad option value ${pyRepr(value)}`);
    return this.ret0(this.api.setsockopt(this.fd(s), lv, num, raw));
  }

  opGetsockopt(s: unknown, level: unknown, name: unknown, optlen: unknown): TraceEntry {
    const [lv, num, kind] = XlioScenario.opt(level, name);
    const natural = ({ int: 4, errno: 4, linger: 8, timeval: 16 } as Record<string, number>)[kind] ?? parseInt(kind.split(':')[1]!, 10);
    const size = optlen === null ? natural : pyInt(optlen);
    const buf = new Uint8Array(Math.max(size, 0));
    const r = this.api.getsockopt(this.fd(s), lv, num, buf);
    if (r < 0) return this.fail(r);
    const got = buf.subarray(0, Math.min(r, buf.length));
    const dv = new DataView(got.buffer, got.byteOffset, got.byteLength);
    let value: unknown;
    if ((kind === 'int' || kind === 'errno') && r === 4) {
      const v = dv.getInt32(0, true);
      value = kind === 'errno' && v !== 0 ? traceErrno(v) : v;
    } else if (kind === 'linger' && r === 8) {
      value = { linger: [dv.getInt32(0, true), dv.getInt32(4, true)] };
    } else if (kind === 'timeval' && r === 16) {
      value = { timeval: Number(dv.getBigInt64(0, true)) * 1_000_000 + Number(dv.getBigInt64(8, true)) };
    } else value = { bytes: hex(got) };
    return { ret: 0, value };
  }

  opIoctl(s: unknown, req: unknown, arg: unknown): TraceEntry {
    if (typeof req !== 'string' || !(req in IOCTLS)) throw new RunnerError(`unknown ioctl ${pyRepr(req)}`);
    const fd = this.fd(s);
    const code = IOCTLS[req]!;
    if (code === FIONBIO) return this.ret0(this.api.ioctl(fd, FIONBIO, arg === null ? 0 : pyInt(arg)));
    const r = this.api.ioctl(fd, code, arg === null ? 0 : pyInt(arg));
    if (r < 0) return this.fail(r);
    return { ret: 0, value: r };
  }

  opFcntl(s: unknown, cmd: unknown, arg: unknown): TraceEntry {
    const fd = this.fd(s);
    if (cmd === 'GETFL') {
      const r = this.api.fcntl(fd, F_GETFL, 0);
      if (r < 0) return this.fail(r);
      return { ret: 0, nonblock: r & O_NONBLOCK ? 1 : 0 };
    }
    if (cmd === 'SETFL') {
      const r = this.api.fcntl(fd, F_GETFL, 0);
      if (r < 0) return this.fail(r);
      const nf = pyInt(arg) ? r | O_NONBLOCK : r & ~O_NONBLOCK;
      return this.ret0(this.api.fcntl(fd, F_SETFL, nf));
    }
    throw new RunnerError(`unknown fcntl ${pyRepr(cmd)}`);
  }

  opPoll(entries: unknown, timeout: unknown): TraceEntry {
    if (!Array.isArray(entries)) throw new RunnerError(`bad poll entries ${pyRepr(entries)}`);
    const fds = entries.map((e) => {
      const [s, ev] = e as [unknown, unknown];
      return new PollFd(this.fd(s), flagsParse(ev, EV_BY_NAME, 'poll') & 0xffff);
    });
    const r = this.api.poll(fds, fds.length, pyInt(timeout));
    if (r < 0) return this.fail(r);
    return { ret: r, revents: fds.map((p) => maskNames(p.revents & 0xffff, EV)) };
  }

  opSelect(rd: unknown, wr: unknown, ex: unknown, timeout: unknown): TraceEntry {
    const lists = [rd, wr, ex].map((l) => (Array.isArray(l) ? (l as unknown[]) : []));
    let nfds = 0;
    for (const names of lists) for (const s of names) nfds = Math.max(nfds, this.fd(s) + 1);
    const sets = lists.map((names) => {
      const set = new FdSet();
      for (const s of names) {
        const fd = this.fd(s);
        if (fd < 0) throw new RunnerError('select on a negative descriptor');
        set.set(fd);
      }
      return set;
    });
    const t = timeout !== null && timeout !== undefined && pyInt(timeout) >= 0 ? pyInt(timeout) * 1000 : -1;
    const r = this.api.select(nfds, sets[0]!, sets[1]!, sets[2]!, t);
    if (r < 0) return this.fail(r);
    const out: TraceEntry = { ret: r };
    (['r', 'w', 'x'] as const).forEach((key, i) => {
      const got: unknown[] = [];
      for (const s of lists[i]!) if (sets[i]!.isSet(this.fd(s)) && !got.includes(s)) got.push(s);
      out[key] = got;
    });
    return out;
  }

  opEpollCtl(e: unknown, op: unknown, s: unknown, events: unknown): TraceEntry {
    const o = typeof op === 'string' && op in EPOLL_OPS ? EPOLL_OPS[op]! : pyInt(op);
    const ev = flagsParse(events, EV_BY_NAME, 'epoll') | 0;
    this.regnames.push(s as string);
    const data = this.regnames.length - 1;
    const epfd = this.fd(e);
    const fd = this.fd(s);
    return this.ret0(this.api.epoll_ctl(epfd, o, fd, new EpollEvent(ev, data)));
  }

  opEpollWait(e: unknown, maxevents: unknown, timeout: unknown): TraceEntry {
    const m = pyInt(maxevents);
    const events = Array.from({ length: Math.max(1, Math.min(m, 4096)) }, () => new EpollEvent());
    if (m > 4096) throw new RunnerError('maxevents too large');
    const r = this.api.epoll_wait(this.fd(e), events, m, pyInt(timeout));
    if (r < 0) return this.fail(r);
    const evs: unknown[] = [];
    for (let i = 0; i < r; i++) {
      const d = events[i]!.data;
      evs.push([d >= 0 && d < this.regnames.length ? this.regnames[d] : d, maskNames(events[i]!.events, EV)]);
    }
    return { ret: r, events: evs };
  }
}

/** The index to run a scenario with, from its name: the same run wherever the scenario sits in a list. */
export function stableIndex(sc: Scenario): number {
  return hashSeed(sc.name) % 1_000_000;
}

/** Runs `scenario` on a fresh xlio-ts stack; `index` seeds it (new SeededRng(1000 + index)). */
export function runOnXlio(scenario: Scenario, index: number): XlioTrace {
  let sc: XlioScenario;
  try {
    sc = new XlioScenario(index);
  } catch (e) {
    return { name: scenario.name, trace: [{ err: 'XLIO_EXCEPTION', detail: `setup: ${e instanceof Error ? e.message : String(e)}` }] };
  }
  const trace = sc.run(scenario.steps);
  const out: XlioTrace = { name: scenario.name, trace };
  if (sc.notes.length > 0) out.notes = sc.notes;
  return out;
}

// ---------------------------------------------------------------------------------------
// Comparing traces (shared by the differential test and the replay tool)

/** Where two traces of one scenario first differ, or null when they are identical. */
export interface Divergence {
  name: string;
  step: number;
  kernel: TraceEntry | undefined;
  xlio: TraceEntry | undefined;
}

export function firstDivergence(kernel: Trace, xlio: Trace): Divergence | null {
  const n = Math.max(kernel.trace.length, xlio.trace.length);
  for (let i = 0; i < n; i++) {
    if (!isDeepStrictEqual(kernel.trace[i], xlio.trace[i])) return { name: kernel.name, step: i, kernel: kernel.trace[i], xlio: xlio.trace[i] };
  }
  return null;
}

const CATEGORY_FIELDS = new Set(['value', 'revents', 'events', 'addr', 'port', 'flags', 'r', 'w', 'x', 'nonblock', 'sigpipe', 'err']);

function outcome(e: TraceEntry | undefined): string {
  if (e === undefined) return '(no entry)';
  return typeof e['err'] === 'string' ? String(e['err']) : 'ok';
}

/** A short label grouping similar divergences: the step's op (with the option or ioctl) and what differs. */
export function divergenceCategory(step: unknown, d: Divergence): string {
  const st = Array.isArray(step) ? step : [];
  let op = String(st[0] ?? '?');
  if (op === 'setsockopt' || op === 'getsockopt') op += ` ${String(st[3])}`;
  else if (op === 'ioctl' || op === 'fcntl') op += ` ${String(st[2])}`;
  else if (op === 'shutdown') op += ` ${String(st[2])}`;
  const ko = outcome(d.kernel);
  const xo = outcome(d.xlio);
  if (ko !== xo) return `${op}: kernel ${ko} / xlio ${xo}`;
  const k = d.kernel ?? {};
  const x = d.xlio ?? {};
  const keys = [...new Set([...Object.keys(k), ...Object.keys(x)])].filter((f) => !isDeepStrictEqual(k[f], x[f])).sort();
  const shown = keys.map((f) => (CATEGORY_FIELDS.has(f) ? `${f} ${JSON.stringify(k[f] ?? null)} / ${JSON.stringify(x[f] ?? null)}` : f));
  return `${op}: ${ko}, differs in ${shown.join(', ')}`;
}

/** A readable account of one divergence: the steps up to it with both traces, the diverging one marked. */
export function formatDivergence(sc: Scenario, kernel: Trace, xlio: XlioTrace, d: Divergence, seed: number | string, context = 12): string {
  const lines: string[] = [];
  lines.push(`scenario ${sc.name} (${typeof seed === 'number' ? `seed ${seed}` : seed}), diverges at step ${d.step}: ${JSON.stringify(sc.steps[d.step] ?? null)}`);
  lines.push(`  kernel: ${JSON.stringify(d.kernel ?? null)}`);
  lines.push(`  xlio:   ${JSON.stringify(d.xlio ?? null)}`);
  const from = Math.max(0, d.step - context);
  if (d.step > 0) lines.push(`  steps before it${from > 0 ? ` (from ${from})` : ''}:`);
  for (let i = from; i < d.step; i++) {
    lines.push(`    ${String(i).padStart(2)} ${JSON.stringify(sc.steps[i])} -> ${JSON.stringify(kernel.trace[i] ?? null)}`);
  }
  if (xlio.notes) for (const n of xlio.notes) lines.push(`  xlio note: ${n.split('\n').slice(0, 6).join('\n    ')}`);
  return lines.join('\n');
}

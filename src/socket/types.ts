// The argument records of the socket API, shaped like their C counterparts and reused
// by callers so that no call has to allocate: struct sockaddr_in/sockaddr_in6 (SockAddr),
// struct msghdr (MsgHdr), struct mmsghdr (MMsgHdr), struct pollfd (PollFd),
// struct epoll_event (EpollEvent) and fd_set (FdSet, which grows: no FD_SETSIZE limit).

import { AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC } from './constants.js';
import { formatIpv4, formatIpv6, parseIpv4Text, parseIpv6Text } from '../wire/address.js';

/** A socket address: AF_INET (addr4, port), AF_INET6 (addr6, port, flowinfo, scopeId), AF_UNIX or AF_UNSPEC. */
export class SockAddr {
  family: number = AF_UNSPEC;
  port = 0;
  /** IPv4 as a 32-bit int bit pattern (src/wire/address.ts). */
  addr4 = 0;
  readonly addr6 = new Uint8Array(16);
  flowinfo = 0;
  scopeId = 0;

  static inet(addr4: number, port: number): SockAddr {
    const a = new SockAddr();
    return a.setInet(addr4, port);
  }

  static inet6(addr6: Uint8Array, port: number, scopeId = 0): SockAddr {
    const a = new SockAddr();
    return a.setInet6(addr6, port, scopeId);
  }

  static unspec(): SockAddr {
    return new SockAddr();
  }

  /** "198.18.0.1", "fd00::1" (either family), with a port. Throws TypeError on bad text. */
  static parse(text: string, port: number): SockAddr {
    const v4 = parseIpv4Text(text);
    if (v4 !== null) return SockAddr.inet(v4, port);
    const v6 = parseIpv6Text(text);
    if (v6 !== null) return SockAddr.inet6(v6, port);
    throw new TypeError(`not an IPv4 or IPv6 address: ${JSON.stringify(text)}`);
  }

  setInet(addr4: number, port: number): this {
    this.family = AF_INET;
    this.addr4 = addr4 | 0;
    this.port = port;
    this.addr6.fill(0);
    this.flowinfo = 0;
    this.scopeId = 0;
    return this;
  }

  setInet6(addr6: Uint8Array, port: number, scopeId = 0, at = 0): this {
    this.family = AF_INET6;
    this.addr6.set(addr6.subarray(at, at + 16));
    this.port = port;
    this.addr4 = 0;
    this.flowinfo = 0;
    this.scopeId = scopeId;
    return this;
  }

  setUnix(): this {
    this.family = AF_UNIX;
    this.port = 0;
    this.addr4 = 0;
    this.addr6.fill(0);
    return this;
  }

  copyFrom(o: SockAddr): this {
    this.family = o.family;
    this.port = o.port;
    this.addr4 = o.addr4;
    this.addr6.set(o.addr6);
    this.flowinfo = o.flowinfo;
    this.scopeId = o.scopeId;
    return this;
  }

  toString(): string {
    if (this.family === AF_INET) return `${formatIpv4(this.addr4)}:${this.port}`;
    if (this.family === AF_INET6) return `[${formatIpv6(this.addr6)}]:${this.port}`;
    return this.family === AF_UNIX ? 'unix' : 'unspec';
  }
}

/** struct msghdr: the address, the buffers (scatter/gather) and msg_flags as returned by recvmsg. */
export class MsgHdr {
  name: SockAddr | null = null;
  iov: Uint8Array[] = [];
  /** Out: MSG_TRUNC, MSG_CTRUNC, MSG_EOR… as recvmsg sets them. */
  flags = 0;
}

/** struct mmsghdr: one message of sendmmsg/recvmmsg and its byte count. */
export class MMsgHdr {
  readonly hdr = new MsgHdr();
  len = 0;
}

/** struct pollfd. */
export class PollFd {
  revents = 0;
  constructor(
    public fd: number,
    public events: number,
  ) {}
}

/** struct epoll_event: the event mask and the caller's 64-bit data (a number here). */
export class EpollEvent {
  constructor(
    public events = 0,
    public data = 0,
  ) {}
}

/** An fd_set without FD_SETSIZE: a bit set that grows to the highest descriptor used. */
export class FdSet {
  words: Uint32Array;
  constructor(capacity = 1024) {
    this.words = new Uint32Array(Math.max(1, Math.ceil(capacity / 32)));
  }
  set(fd: number): void {
    const w = fd >>> 5;
    if (w >= this.words.length) {
      const bigger = new Uint32Array(Math.max(w + 1, this.words.length * 2));
      bigger.set(this.words);
      this.words = bigger;
    }
    this.words[w]! |= 1 << (fd & 31);
  }
  clear(fd: number): void {
    const w = fd >>> 5;
    if (w < this.words.length) this.words[w]! &= ~(1 << (fd & 31));
  }
  isSet(fd: number): boolean {
    const w = fd >>> 5;
    return w < this.words.length && (this.words[w]! & (1 << (fd & 31))) !== 0;
  }
  zero(): void {
    this.words.fill(0);
  }
}

/** A struct timeval (16 bytes: tv_sec, tv_usec as 64-bit little-endian) for SO_RCVTIMEO/SO_SNDTIMEO, from microseconds. */
export function timeval(us: number): Uint8Array {
  const b = new Uint8Array(16);
  const d = new DataView(b.buffer);
  d.setBigInt64(0, BigInt(Math.floor(us / 1e6)), true);
  d.setBigInt64(8, BigInt(us % 1e6), true);
  return b;
}

// What every socket has, whatever its protocol: Linux's struct socket + the generic part
// of struct sock — the SOL_SOCKET options, the pending error (sk_err), the shutdown bits
// the user asked for, and the context the calls run in (clock, blocking, signals).

import type { Stack } from '../stack/stack.js';
import { OpenFile } from './file.js';

/** What socket calls need from the API object that runs them. */
export interface SocketContext {
  readonly stack: Stack;
  /** Monotonic µs. */
  now(): number;
  /**
   * Blocks until something may have changed or `deadline` (µs, Infinity: none). Returns
   * false without waiting when the deadline has passed or this thread cannot block.
   */
  sleep(deadline: number): boolean;
  /** SIGPIPE for a write to a connection that cannot send (unless MSG_NOSIGNAL). */
  sigpipe(): void;
  /** Defaults for new TCP sockets (XLIO_TCP_NODELAY, XLIO_TCP_QUICKACK); absent: Linux's (off). */
  readonly tcpNoDelay?: boolean;
  readonly tcpQuickAck?: boolean;
}

/** Linux's sk_shutdown bits. */
export const RCV_SHUTDOWN = 1;
export const SEND_SHUTDOWN = 2;
export const SHUTDOWN_MASK = 3;

/**
 * net.core.rmem_max / wmem_max: the most SO_RCVBUF / SO_SNDBUF may ask for (before Linux
 * doubles it). 4 MiB: what the reference kernel (6.18) reports, so a set −1 reads 8388608.
 */
export const RMEM_MAX = 4194304;
export const WMEM_MAX = 4194304;
/** SOCK_MIN_RCVBUF / SOCK_MIN_SNDBUF on x86-64 (2048 + the skb overhead, ×2 for the send side). */
export const SOCK_MIN_RCVBUF = 2304;
export const SOCK_MIN_SNDBUF = 4608;

export abstract class SocketFile extends OpenFile {
  // SOL_SOCKET state
  reuseAddr = false;
  reusePort = false;
  keepalive = false;
  broadcast = false;
  oobInline = false;
  dontRoute = false;
  lingerOn = false;
  /** The cached route (sk_dst_cache) IP_MTU reads: connect sets it; SO_DONTROUTE, SO_BINDTODEVICE, a TOS/TCLASS change or an ICMP error drop it. */
  routeCached = false;
  /** IP_FREEBIND / IPV6_FREEBIND: bind to an address that is not (yet) ours. */
  freeBind = false;
  lingerSeconds = 0;
  /** SO_RCVTIMEO / SO_SNDTIMEO in µs (0: wait forever). */
  rcvTimeoUs = 0;
  sndTimeoUs = 0;
  rcvLowat = 1;
  priority = 0;
  /** SO_RCVBUF / SO_SNDBUF as getsockopt reports them (Linux doubles what was set). */
  rcvbuf: number;
  sndbuf: number;
  rcvbufLocked = false;
  sndbufLocked = false;
  /** Pending error (sk_err), an errno number; reported once by the next call or SO_ERROR. */
  err = 0;
  /** shutdown() bits the user asked for. */
  userShutdown = 0;
  /** Linux SOCK_NOSPACE: a writer found no room; the next freed space wakes writers. */
  noSpace = false;
  closed = false;

  constructor(
    readonly ctx: SocketContext,
    readonly domain: number,
    readonly type: number,
    readonly protocol: number,
    rcvbuf: number,
    sndbuf: number,
  ) {
    super();
    this.rcvbuf = rcvbuf;
    this.sndbuf = sndbuf;
  }

  /** sock_error(): takes the pending error (as −errno) or 0. */
  takeError(): number {
    const e = this.err;
    this.err = 0;
    return e === 0 ? 0 : -e;
  }

  /** The deadline of a call that may wait `timeoUs` (0: forever) from now. */
  deadline(timeoUs: number): number {
    return timeoUs === 0 ? Infinity : this.ctx.now() + timeoUs;
  }

}

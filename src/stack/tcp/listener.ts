// A listening TCP socket (RFC 9293 §3.10.7.2): the address it accepts on, its backlog,
// the embryonic connections of its SYN queue and the established ones waiting in its
// accept queue. Linux's rules: the accept queue holds at most `backlog` connections
// (SYNs are dropped while it is full); a full SYN queue answers with SYN cookies.

import type { TcpConnection } from './connection.js';

export class TcpListener {
  local4 = 0;
  local6: Uint8Array = new Uint8Array(16);
  /** IPv6 listener: also takes IPv4 (v4-mapped) unless v6Only. */
  accepts4 = true;
  accepts6 = false;
  localPort = 0;
  boundIfindex = 0;
  /** TCP_DEFER_ACCEPT as SYN-ACK retransmissions: until then a handshake ACK without data does not complete a connection. */
  deferRetrans = 0;
  /** SO_REUSEPORT: shares its port with other such listeners. */
  reusePort = false;
  backlog = 128;
  /** Connections in SYN-RECEIVED. */
  synQueue = 0;
  readonly acceptQueue: TcpConnection[] = [];
  /** Linux's ListenOverflows / ListenDrops and SyncookiesSent. */
  overflows = 0;
  cookiesSent = 0;
  closed = false;
  /**
   * The listening socket's shutdown bits, which its children inherit (sk_clone_lock copies
   * sk_shutdown): a child shut for receiving resets on data; one shut for sending sends its
   * FIN as soon as it is established (tcp_rcv_state_process, SYN-RECV).
   */
  childRcvShutdown = false;
  childSendShutdown = false;
  /** Called when a connection is ready to accept (for the socket layer's readiness). */
  onAcceptable: (() => void) | null = null;

  constructor(readonly family: 4 | 6) {
    this.accepts6 = family === 6;
  }

  /** The next established connection, or null (EAGAIN). */
  accept(): TcpConnection | null {
    const c = this.acceptQueue.shift();
    if (c === undefined) return null;
    c.listener = null;
    return c;
  }

  get acceptQueueFull(): boolean {
    // Linux's sk_acceptq_is_full compares with '>': a backlog of n holds n + 1 (0 still takes one).
    return this.acceptQueue.length > this.backlog;
  }
}

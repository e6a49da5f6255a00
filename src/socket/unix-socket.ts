// socketpair(AF_UNIX): two connected sockets in memory (KI-04: offloaded, no kernel
// descriptors). Stream and datagram (and SOCK_SEQPACKET as record-keeping stream) pairs
// with Linux's af_unix behaviour: shutdown of one side shows on the other
// (unix_shutdown), closing one side hangs up the other and resets it if data was left
// unread (unix_release_sock), EPIPE/SIGPIPE on writing to a gone reader, unix_poll's mask,
// and the reader's consumption waking the writer (sock_wfree → unix_write_space).

import { Errno } from '../errno.js';
import {
  EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLRDNORM, EPOLLWRBAND, EPOLLWRNORM, MSG_DONTWAIT, MSG_NOSIGNAL,
  MSG_OOB, MSG_PEEK, MSG_TRUNC, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM, AF_UNIX, AF_UNSPEC,
} from './constants.js';
import { WakeKey } from './file.js';
import { RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK, SocketFile, type SocketContext } from './socket-file.js';
import type { SockAddr } from './types.js';

/** net.core.wmem_default: how much one side may have queued at the other. */
const UNIX_SNDBUF = 212992;

export class UnixSocket extends SocketFile {
  peer: UnixSocket | null = null;
  /** Received records (a stream keeps byte chunks; a datagram socket whole messages). */
  private readonly queue: Uint8Array[] = [];
  /** Read offset into queue[0] (streams). */
  private head = 0;
  queuedBytes = 0;
  /** Linux's sk_shutdown for this side: its own and the peer's, mirrored. */
  shutdownBits = 0;
  /** The other side is gone (its last descriptor closed). */
  peerGone = false;

  constructor(ctx: SocketContext, type: number) {
    super(ctx, AF_UNIX, type, 0, UNIX_SNDBUF, UNIX_SNDBUF);
  }

  static pair(ctx: SocketContext, type: number): [UnixSocket, UnixSocket] {
    const a = new UnixSocket(ctx, type), b = new UnixSocket(ctx, type);
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  /** Connection-oriented (SOCK_STREAM, SOCK_SEQPACKET): shutdown and close show at the peer. */
  private get stream(): boolean {
    return this.type !== SOCK_DGRAM;
  }

  /** Message boundaries kept (SOCK_DGRAM, SOCK_SEQPACKET: unix_dgram_sendmsg / unix_dgram_recvmsg). */
  private get records(): boolean {
    return this.type !== SOCK_STREAM;
  }

  /** A connection-oriented socket that never had a peer (Linux's TCP_CLOSE state: socket(), not socketpair()). */
  private get unconnected(): boolean {
    return this.stream && this.peer === null && !this.peerGone;
  }

  poll(): number {
    let mask = 0;
    if (this.err !== 0) mask |= EPOLLERR;
    const sh = this.shutdownBits;
    if (sh === SHUTDOWN_MASK) mask |= EPOLLHUP;
    if (sh & RCV_SHUTDOWN) mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM;
    if (this.queue.length > 0) mask |= EPOLLIN | EPOLLRDNORM;
    // unix_poll: a connection-based socket in TCP_CLOSE hangs up.
    if ((this.stream && this.peerGone) || this.unconnected) mask |= EPOLLHUP;
    if (this.writable()) mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
    return mask;
  }

  /** unix_writable: what we have queued at the peer is at most a quarter of the send buffer. */
  private writable(): boolean {
    const p = this.peer;
    return p === null || p.queuedBytes << 2 <= this.sndbuf;
  }

  send(bufs: readonly Uint8Array[], flags: number, to: SockAddr | null, nonblock: boolean): number {
    let total = 0;
    for (const b of bufs) total += b.length;
    if (this.type === SOCK_STREAM) {
      // unix_stream_sendmsg: an address is EISCONN/EOPNOTSUPP; no peer ever: ENOTCONN.
      if (to !== null) return this.peer !== null || this.peerGone ? -Errno.EISCONN : -Errno.EOPNOTSUPP;
      if (this.unconnected) return -Errno.ENOTCONN;
    } else {
      // unix_dgram_sendmsg: MSG_OOB first; SOCK_SEQPACKET needs a connection and ignores the address
      // (unix_seqpacket_sendmsg); a datagram socket's address must be an AF_UNIX name (unix_validate_addr).
      if (this.type === SOCK_SEQPACKET && this.unconnected) return -Errno.ENOTCONN;
      if (flags & MSG_OOB) return -Errno.EOPNOTSUPP;
      if (to !== null && this.type === SOCK_DGRAM) return -Errno.EINVAL;
    }
    if (this.records) {
      // unix_dgram_sendmsg: EPIPE without SIGPIPE, for our shutdown or the reader's.
      if (this.shutdownBits & SEND_SHUTDOWN) return -Errno.EPIPE;
      const p = this.peer;
      if (p === null) return this.peerGone ? this.refused() : -Errno.ENOTCONN;
      if (p.shutdownBits & RCV_SHUTDOWN) return -Errno.EPIPE;
      if (total > this.sndbuf - 32) return -Errno.EMSGSIZE;
      const msg = new Uint8Array(total);
      let at = 0;
      for (const b of bufs) {
        msg.set(b, at);
        at += b.length;
      }
      p.enqueue(msg);
      return total;
    }
    const dontwait = nonblock || (flags & MSG_DONTWAIT) !== 0;
    let sent = 0;
    let deadline = -1;
    for (let i = 0; i < bufs.length; ) {
      if (this.shutdownBits & SEND_SHUTDOWN) return sent > 0 ? sent : this.pipe(flags);
      const p = this.peer;
      if (p === null || (p.shutdownBits & RCV_SHUTDOWN) !== 0) return sent > 0 ? sent : this.pipe(flags);
      const b = bufs[i]!;
      const off = sent - prefix(bufs, i);
      if (off >= b.length) {
        i++;
        continue;
      }
      const room = Math.max(0, this.sndbuf - p.queuedBytes);
      if (room === 0) {
        this.noSpace = true;
        if (dontwait) break;
        if (deadline < 0) deadline = this.deadline(this.sndTimeoUs);
        if (!this.ctx.sleep(deadline)) break;
        continue;
      }
      const n = Math.min(room, b.length - off);
      p.enqueue(b.slice(off, off + n));
      sent += n;
    }
    if (sent === 0 && total > 0) return -Errno.EAGAIN;
    return sent;
  }

  private refused(): number {
    this.peerGone = false;
    return -Errno.ECONNREFUSED;
  }

  private pipe(flags: number): number {
    if ((flags & MSG_NOSIGNAL) === 0) this.ctx.sigpipe();
    return -Errno.EPIPE;
  }

  private enqueue(chunk: Uint8Array): void {
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    this.wake(WakeKey.Readable);
  }

  recv(bufs: readonly Uint8Array[], flags: number, nonblock: boolean, from: SockAddr | null, msgFlags: Int32Array | null): number {
    const dontwait = nonblock || (flags & MSG_DONTWAIT) !== 0;
    const peek = (flags & MSG_PEEK) !== 0;
    // unix_stream_read_generic: EINVAL unless connected; unix_seqpacket_recvmsg: ENOTCONN.
    if (this.unconnected) return this.type === SOCK_STREAM ? -Errno.EINVAL : -Errno.ENOTCONN;
    // unix_dgram_recvmsg: no out-of-band data on datagram sockets.
    if (this.records && (flags & MSG_OOB) !== 0) return -Errno.EOPNOTSUPP;
    let room = 0;
    for (const b of bufs) room += b.length;
    let deadline = -1;
    while (this.queue.length === 0) {
      const e = this.takeError();
      if (e !== 0) return e;
      if (this.records) {
        // unix_dgram_recvmsg: a non-blocking read says EAGAIN even after shutdown, except SOCK_SEQPACKET's EOF.
        if (dontwait) return this.type === SOCK_SEQPACKET && (this.shutdownBits & RCV_SHUTDOWN) !== 0 ? 0 : -Errno.EAGAIN;
        if (this.shutdownBits & RCV_SHUTDOWN) return 0;
      } else {
        // unix_stream_read_generic: the shutdown (EOF) before EAGAIN.
        if (this.shutdownBits & RCV_SHUTDOWN) return 0;
        if (dontwait) return -Errno.EAGAIN;
      }
      if (deadline < 0) deadline = this.deadline(this.rcvTimeoUs);
      if (!this.ctx.sleep(deadline)) return -Errno.EAGAIN;
    }
    // The peer of a socketpair is unnamed: no address comes back (msg_namelen 0).
    if (from !== null) from.family = AF_UNSPEC;
    if (this.records) {
      const m = this.queue[0]!;
      const n = Math.min(room, m.length);
      scatter(bufs, m, 0, n);
      if (msgFlags !== null) msgFlags[0] = m.length > room ? MSG_TRUNC : 0;
      if (!peek) {
        this.queue.shift();
        this.queuedBytes -= m.length;
        this.peerWritable();
      }
      return (flags & MSG_TRUNC) !== 0 ? m.length : n;
    }
    if (msgFlags !== null) msgFlags[0] = 0;
    let copied = 0, k = 0, off = this.head;
    while (copied < room && k < this.queue.length) {
      const c = this.queue[k]!;
      const n = Math.min(room - copied, c.length - off);
      scatter(bufs, c.subarray(off, off + n), copied, n);
      copied += n;
      off += n;
      if (off === c.length) {
        k++;
        off = 0;
      }
    }
    if (!peek) {
      this.queue.splice(0, k);
      this.head = off;
      this.queuedBytes -= copied;
      this.peerWritable();
    }
    return copied;
  }

  /** The reader freed room: the writer's sock_wfree → unix_write_space. */
  private peerWritable(): void {
    const p = this.peer;
    if (p !== null && p.writable()) p.wake(WakeKey.Writable);
  }

  shutdown(how: number): number {
    const h = how + 1;
    if ((h & ~SHUTDOWN_MASK) !== 0 || h === 0 || !Number.isInteger(how)) return -Errno.EINVAL;
    this.shutdownBits |= h;
    this.wake(WakeKey.All);
    const p = this.peer;
    if (p !== null && (this.stream || this.type === SOCK_SEQPACKET)) {
      let pm = 0;
      if (h & RCV_SHUTDOWN) pm |= SEND_SHUTDOWN;
      if (h & SEND_SHUTDOWN) pm |= RCV_SHUTDOWN;
      p.shutdownBits |= pm;
      if (pm !== 0) p.wake(WakeKey.All);
    }
    return 0;
  }

  release(): void {
    if (this.closed) return;
    this.closed = true;
    const p = this.peer;
    this.peer = null;
    if (p === null) return;
    p.peer = null;
    p.peerGone = true;
    if (this.stream) {
      p.shutdownBits = SHUTDOWN_MASK;
      if (this.queue.length > 0) p.err = Errno.ECONNRESET;
      p.wake(WakeKey.All);
    }
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  getsockname(out: SockAddr): number {
    out.setUnix();
    return 0;
  }

  getpeername(out: SockAddr): number {
    if (this.peer === null && !(this.stream && this.peerGone)) return -Errno.ENOTCONN;
    out.setUnix();
    return 0;
  }

  inq(): number {
    if (this.records) return this.queue.length === 0 ? 0 : this.queue[0]!.length;
    return this.queuedBytes;
  }

  outq(): number {
    return this.peer === null ? 0 : this.peer.queuedBytes;
  }

}

function prefix(bufs: readonly Uint8Array[], i: number): number {
  let n = 0;
  for (let k = 0; k < i; k++) n += bufs[k]!.length;
  return n;
}

/** Copies n bytes of src into the buffers starting at byte `at` of their concatenation. */
function scatter(bufs: readonly Uint8Array[], src: Uint8Array, at: number, n: number): void {
  let done = 0;
  for (const b of bufs) {
    if (done >= n) break;
    if (at >= b.length) {
      at -= b.length;
      continue;
    }
    const k = Math.min(b.length - at, n - done);
    b.set(src.subarray(done, done + k), at);
    done += k;
    at = 0;
  }
}

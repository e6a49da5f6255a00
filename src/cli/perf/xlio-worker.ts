// A worker thread of the "xlio" transport: one xlio-ts stack on one side of a ShmLink, and
// a sockperf server or client on its socket API, busy-polling — every call non-blocking,
// the chosen iomux with timeout 0, the stack pumped between rounds, never parking. The hot
// loops allocate nothing per message: buffers, views and argument records are made up front.

import { parentPort, workerData } from 'node:worker_threads';
import type { ShmLinkShared } from '../../link/shm-link.js';
import { Errno, errnoName } from '../../errno.js';
import * as K from '../../socket/constants.js';
import { PollFd, SockAddr } from '../../socket/types.js';
import { ipv4 } from '../../wire/address.js';
import { StreamFramer, type MessageSink } from './framer.js';
import { FLAG_CLIENT, FLAG_WARMUP, HEADER_SIZE, MAX_MESSAGE_SIZE, newClientMessage, readLength } from './message.js';
import { createMux } from './mux.js';
import { PerfClientCore, PerfServerCore, type ServerCounters } from './roles.js';
import { DEFAULT_SPIN_US, DRAIN_US, REPLY_TIMEOUT_US, type ClientConfig, type ClientOutcome, type ServerConfig } from './transport.js';
import { ViewCache } from './views.js';
import { monotonicFromPerfUs } from '../../socket/drivers.js';
import { openLink, type WireLink } from '../../link/open-link.js';
import { SERVER_IP, createHost, createWireHost, type XlioHost } from './xlio-host.js';

/** --link: the worker's stack goes on this real link (a link spec) with this address. */
export interface WireConfig {
  link: string;
  /** "198.18.0.1/24". */
  addr: string;
}

export interface XlioWorkerData {
  role: 'server' | 'client';
  /** The in-process shared-memory link (unless `wire`). */
  shared?: ShmLinkShared;
  wire?: WireConfig;
  /** Int32 [0]: stop (server); Float64 from byte 8: the server's live counters. */
  control: SharedArrayBuffer;
  client?: ClientConfig;
  server?: ServerConfig;
}

export type XlioWorkerMessage =
  | { type: 'ready' }
  | { type: 'result'; outcome: ClientOutcome }
  | { type: 'done'; counters: ServerCounters }
  | { type: 'error'; message: string };

/** Without progress (nothing sent or received) for this long, a loop gives up. */
const STALL_US = 5_000_000;

const nowUs = (): number => performance.now() * 1000;
/** A nowUs() reading on the stacks' clock (monotonicUs): the two must never be mixed. */
const stackTime = (us: number): number => monotonicFromPerfUs(us);

function check(r: number, what: string): number {
  if (r < 0) throw new Error(`${what}: ${errnoName(r)}`);
  return r;
}

/** Messages per send when a TCP client streams flat out: about 64 KiB. */
export function messagesPerWrite(msgSize: number): number {
  return Math.max(1, Math.floor(65536 / msgSize));
}

/**
 * Spin, then park. A loop reports each round whether it did anything; idle past the spin
 * budget, it sleeps on the link's doorbell. Spinning only pays while the thread owns its
 * CPU: when the clock jumps between two rounds, the OS took the CPU away (another process
 * wants it), and a spinner would only keep the peer thread waiting for a CPU — so for a
 * while the loop parks as soon as it is idle.
 */
class IdlePolicy {
  private idleSince = -1;
  private lastRound = -1;
  private contendedUntil = -1;
  parks = 0;
  preemptions = 0;
  constructor(
    private readonly h: XlioHost,
    private readonly spinUs: number,
  ) {}
  /** `busy`: the round sent or received something. `maxParkUs`: wake by then (a paced send is due). */
  round(busy: boolean, now: number, maxParkUs = PARK_US): void {
    if (this.spinUs < 0) return;
    if (this.lastRound >= 0 && now - this.lastRound > PREEMPTED_US) {
      this.preemptions++;
      this.contendedUntil = now + CONTENDED_US;
    }
    this.lastRound = now;
    if (busy) {
      this.idleSince = -1;
      return;
    }
    if (this.idleSince < 0) this.idleSince = now;
    const budget = now < this.contendedUntil ? 0 : this.spinUs;
    if (now - this.idleSince >= budget && maxParkUs > 0) {
      const d = this.h.driver;
      d.wait(d.now() + Math.min(maxParkUs, PARK_US));
      this.parks++;
      this.idleSince = -1;
      this.lastRound = -1; // a park is not a preemption
    }
  }
}

/** The longest park: loops re-check their clocks (run time, stop flag) at least this often. */
const PARK_US = 10_000;
/**
 * A gap this long between two rounds of a loop means the thread was descheduled. Longer than
 * a young-generation collection (≈ 0.5–1.8 ms here), which must not count: at 500 µs every
 * scavenge flipped the loops into park-at-once mode and TCP ping-pong p50 went 3.3 → 10 µs.
 */
const PREEMPTED_US = 2000;
/** After a preemption, park at once when idle for this long. */
const CONTENDED_US = 100_000;

/** Runs the stack for `us` microseconds (lets FINs and ACKs go out). */
function settle(h: XlioHost, us: number, until: () => boolean = () => false): void {
  const end = nowUs() + us;
  while (nowUs() < end && !until()) h.driver.pump();
}

// ---------------------------------------------------------------------------------------
// Client

function connect(h: XlioHost, fd: number, to: SockAddr, tcp: boolean): void {
  const r = h.api.connect(fd, to);
  if (!tcp) return void check(r, 'connect');
  if (r !== 0 && r !== -Errno.EINPROGRESS) check(r, 'connect');
  const pfd = [new PollFd(fd, K.POLLOUT)];
  const until = nowUs() + STALL_US;
  while (h.api.poll(pfd, 1, 0) === 0) {
    h.driver.pump();
    if (nowUs() > until) throw new Error(`connect to ${to} timed out`);
  }
  const err = h.api.getsockoptInt(fd, K.SOL_SOCKET, K.SO_ERROR);
  if (err !== 0) throw new Error(`connect to ${to}: ${errnoName(err)}`);
}

/** How long a wire client's warm-up waits for the server's address to resolve (ARP): Linux gives up after 3 probes, 1 s apart. */
const WARMUP_RESOLVE_US = 3_000_000;

/**
 * Before the clock starts on a real link: a UDP client sends two warm-up messages (sockperf's
 * FLAG_WARMUP, which servers ignore — sockperf sends the same two for multicast) and spins
 * until the server's MAC is known, so the first measured datagram neither waits behind ARP
 * nor, in a flat-out throughput run, overflows the unresolved neighbour's queue. A TCP
 * client needs none: connect() resolved the address. Returns the microseconds it took.
 */
function warmUp(h: XlioHost, fd: number, cfg: ClientConfig, server: number): number {
  const t0 = nowUs();
  if (cfg.proto === 'tcp') return 0;
  const msg = newClientMessage(cfg.msgSize, FLAG_CLIENT | FLAG_WARMUP);
  const route = h.stack.route(server);
  const hop = route === null ? server : route.nextHop;
  for (let i = 0; i < 2; i++) {
    const r = h.api.send(fd, msg, 0);
    if (r < 0 && r !== -Errno.EAGAIN && r !== -Errno.ENOBUFS) check(r, 'send (warm-up)');
  }
  const until = t0 + WARMUP_RESOLVE_US;
  for (;;) {
    const now = nowUs();
    h.driver.pumpAt(stackTime(now));
    if (h.stack.arp.lookup(hop, stackTime(now)) !== null || now > until) break;
  }
  // Drop whatever answered the warm-up (sockperf's server does not answer it; others might).
  const rx = new Uint8Array(MAX_MESSAGE_SIZE + 1);
  while (h.api.recv(fd, rx, 0) > 0);
  return nowUs() - t0;
}

export function runClient(h: XlioHost, cfg: ClientConfig, opts: { warmup?: boolean } = {}): ClientOutcome {
  const { api, driver } = h;
  const tcp = cfg.proto === 'tcp';
  const pp = cfg.mode === 'ping-pong';
  const size = cfg.msgSize;
  const expected = cfg.count > 0 ? cfg.count : 1 << 20;
  const core = new PerfClientCore(size, cfg.replyEvery, cfg.replyEvery > 0 ? Math.ceil(expected / cfg.replyEvery) : 1024);
  const fd = check(api.socket(K.AF_INET, (tcp ? K.SOCK_STREAM : K.SOCK_DGRAM) | K.SOCK_NONBLOCK), 'socket');
  if (tcp && cfg.mode !== 'throughput') check(api.setsockoptInt(fd, K.IPPROTO_TCP, K.TCP_NODELAY, 1), 'setsockopt(TCP_NODELAY)');
  const server = ipv4(cfg.host === '' ? SERVER_IP : cfg.host);
  connect(h, fd, SockAddr.inet(server, cfg.port), tcp);
  if (opts.warmup === true) warmUp(h, fd, cfg, server);
  const mux = createMux(cfg.iomux, api);
  mux.add(fd);
  const framer = tcp ? new StreamFramer(1 << 16) : null;
  const rx = framer !== null ? framer.rx : new Uint8Array(1 << 16);

  // What goes out: `perSend` messages staged in `out`, sent as one write (TCP) or one datagram each (UDP).
  const flatOut = !pp && cfg.mps === 0;
  const perSend = pp ? cfg.burst : flatOut ? (tcp ? messagesPerWrite(size) : 64) : 64;
  const out = new Uint8Array(perSend * size);
  for (let i = 0; i < perSend; i++) out.set(core.msg, i * size);
  const outViews = new ViewCache(out);
  const msgViews = Array.from({ length: perSend }, (_, i) => out.subarray(i * size, (i + 1) * size));
  let outOff = 0;
  let outLen = 0;

  const start = nowUs();
  const endAt = cfg.count > 0 ? Infinity : start + cfg.seconds * 1e6;
  let sending = true;
  let endUs = start;
  let lastSendAt = start;
  let lastProgress = start;

  /** Sends what is staged in `out` (TCP); false if the socket is full. */
  const flushTcp = (): boolean => {
    while (outOff < outLen) {
      const view = outLen === out.length ? outViews.tail(outOff) : out.subarray(outOff, outLen);
      const r = api.send(fd, view, 0);
      if (r === -Errno.EAGAIN) return false;
      check(r, 'send');
      outOff += r;
      lastProgress = nowUs();
    }
    return true;
  };

  /** Stamps and sends `m` messages; returns how many went. */
  const sendMessages = (m: number, now: number): number => {
    if (tcp) {
      for (let i = 0; i < m; i++) core.stamp(out, i * size, now);
      outOff = 0;
      outLen = m * size;
      flushTcp();
      return m;
    }
    for (let i = 0; i < m; i++) {
      core.stamp(out, i * size, now);
      const r = api.send(fd, msgViews[i]!, 0);
      if (r < 0) {
        core.unstamp(); // sockperf's "skipped" send: the sequence number is used again
        if (r !== -Errno.EAGAIN && r !== -Errno.ENOBUFS) check(r, 'send');
        return i;
      }
    }
    lastProgress = now;
    return m;
  };

  const idle = new IdlePolicy(h, cfg.spinUs ?? DEFAULT_SPIN_US);
  // Streaming (throughput, under-load): a round's frames — the segments of one 64 KiB write,
  // the ACKs and the segments an ACK lets go — leave in one batch, one kick of the device,
  // not one system call each (TCP throughput over AF_XDP 380 → see bench/wire-latency).
  // Ping-pong sends one message a round: nothing to batch, and it must leave at once.
  const batchTx = !pp && h.link.cork !== undefined && h.link.uncork !== undefined;
  for (;;) {
    if (batchTx) h.link.cork!();
    // One clock reading per round, for the stamps, the pacing and the stack (each read
    // allocates in Node 20). Reading it less often made TCP ping-pong slower (3.3 → 9.8 µs
    // p50 with a reading every 16 quiet rounds), so every round it is.
    const now = nowUs();
    const sentBefore = core.sent;
    const flushedBefore = outOff;
    /** When the next paced send is due (µs); Infinity: not waiting on the clock. */
    let nextAt = Infinity;
    if (sending) {
      if (outOff < outLen) flushTcp();
      else if (now >= endAt || (cfg.count > 0 && core.sent >= cfg.count)) {
        sending = false;
        endUs = now;
      } else if (pp) {
        if (core.outstanding === 0) {
          const at = cfg.mps === 0 ? now : start + (core.sent * 1e6) / cfg.mps;
          if (now >= at) {
            const m = cfg.count > 0 ? Math.min(cfg.burst, cfg.count - core.sent) : cfg.burst;
            if (sendMessages(m, now) > 0) lastSendAt = now;
          } else nextAt = at;
        }
      } else {
        let due = cfg.mps > 0 ? Math.floor(((now - start) * cfg.mps) / 1e6) + 1 - core.sent : perSend;
        if (cfg.count > 0) due = Math.min(due, cfg.count - core.sent);
        if (due > perSend) due = perSend;
        if (due > 0 && sendMessages(due, now) > 0) lastSendAt = now;
        if (cfg.mps > 0) nextAt = start + ((core.sent + 1) * 1e6) / cfg.mps;
      }
    } else if ((core.outstanding === 0 && outOff >= outLen) || now - endUs >= DRAIN_US) break;

    driver.pumpAt(stackTime(now));
    let got = false;
    if (mux.poll() > 0) {
      for (;;) {
        const r = api.recv(fd, rx, 0);
        if (r > 0) {
          got = true;
          core.now = lastProgress = nowUs();
          if (framer !== null) {
            if (!framer.received(r, core)) throw new Error('the server sent a message with an impossible length');
          } else if (r >= HEADER_SIZE) core.onMessage(rx, 0, r);
        } else if (r === -Errno.EAGAIN) break;
        else if (r === 0) throw new Error('the server closed the connection');
        else check(r, 'recv');
      }
    }
    if (batchTx) h.link.uncork!();
    if (pp && core.outstanding > 0 && !tcp && now - lastSendAt > REPLY_TIMEOUT_US) core.abandon();
    if (now - lastProgress > STALL_US) throw new Error(`no progress for ${STALL_US / 1e6} s (sent ${core.sent}, received ${core.received})`);
    idle.round(got || core.sent !== sentBefore || outOff !== flushedBefore, now, Math.min(nextAt, endAt) - now);
  }
  // Every message counted as sent goes into the socket (the drain window may end with part of
  // a batch still in `out`, the socket buffer full) and reaches the server before the FIN — as
  // a kernel socket's buffer would after close(). Bounded: a server that stops reading costs 10 s.
  if (tcp) {
    settle(h, 10_000_000, () => {
      if (outOff < outLen) flushTcp();
      return outOff >= outLen && api.ioctl(fd, K.SIOCOUTQ) <= 0;
    });
  }
  api.close(fd);
  // TCP: the FIN and its ACK; UDP: datagrams still queued behind ARP leave.
  settle(h, 20_000);
  const rec = core.recorder;
  return { counters: core.counters(start, endUs), tx: rec.tx.slice(0, rec.count), rtt: rec.rtt.slice(0, rec.count), samples: rec.count, parks: idle.parks };
}

// ---------------------------------------------------------------------------------------
// Server

const SPARE = 1 << 17; // two largest messages

/** One accepted connection: its framer, and the replies staged in the framer's spare area. */
class TcpEcho implements MessageSink {
  readonly framer = new StreamFramer(1 << 16, SPARE);
  private readonly views = new ViewCache(this.framer.mem, this.framer.spareStart, SPARE);
  staged = 0;
  constructor(
    readonly fd: number,
    private readonly h: XlioHost,
    private readonly core: PerfServerCore,
    private readonly control: Int32Array,
  ) {}

  onMessage(bytes: Uint8Array, off: number, len: number): void {
    if (!this.core.handle(bytes, off, len)) return;
    if (this.staged + len > SPARE) this.flush();
    const mem = this.framer.mem;
    // Messages are always in the framer's own buffer here: copy within it.
    mem.copyWithin(this.framer.spareStart + this.staged, off, off + len);
    this.staged += len;
  }

  /** Sends the staged replies, spinning on a full socket (sockperf's server sends blocking); false on error. */
  flush(): boolean {
    const { api, driver } = this.h;
    const base = this.framer.spareStart, mem = this.framer.mem;
    let since = 0;
    while (this.staged > 0) {
      const r = api.send(this.fd, this.views.prefix(this.staged), 0);
      if (r > 0) {
        if (r < this.staged) mem.copyWithin(base, base + r, base + this.staged);
        this.staged -= r;
        since = 0;
      } else if (r === -Errno.EAGAIN) {
        driver.pump();
        if (since === 0) since = nowUs();
        else if (nowUs() - since > STALL_US || Atomics.load(this.control, 0) !== 0) return false;
      } else return false;
    }
    return true;
  }
}

export function runServer(h: XlioHost, cfg: ServerConfig, control: SharedArrayBuffer, onReady: () => void): ServerCounters {
  const { api, driver } = h;
  const stop = new Int32Array(control, 0, 1);
  const live = new Float64Array(control, 8, 4);
  const tcp = cfg.proto === 'tcp';
  const core = new PerfServerCore();
  const lfd = check(api.socket(K.AF_INET, (tcp ? K.SOCK_STREAM : K.SOCK_DGRAM) | K.SOCK_NONBLOCK), 'socket');
  check(api.setsockoptInt(lfd, K.SOL_SOCKET, K.SO_REUSEADDR, 1), 'setsockopt(SO_REUSEADDR)');
  const host = cfg.host === '' ? SERVER_IP : cfg.host;
  check(api.bind(lfd, SockAddr.inet(ipv4(host), cfg.port)), `bind ${host}:${cfg.port}`);
  if (tcp) check(api.listen(lfd, 128), 'listen');
  const mux = createMux(cfg.iomux, api);
  mux.add(lfd);
  const conns: (TcpEcho | undefined)[] = [];
  const rx = new Uint8Array(MAX_MESSAGE_SIZE + 1);
  const rxViews = new ViewCache(rx);
  const from = new SockAddr();
  onReady();

  const closeConn = (c: TcpEcho): void => {
    mux.remove(c.fd);
    api.close(c.fd);
    conns[c.fd] = undefined;
  };

  const idle = new IdlePolicy(h, cfg.spinUs ?? DEFAULT_SPIN_US);
  while (Atomics.load(stop, 0) === 0) {
    const now = nowUs(); // one reading per round (see runClient)
    driver.pumpAt(stackTime(now));
    const n = mux.poll();
    idle.round(n > 0, now);
    for (let i = 0; i < n; i++) {
      const fd = mux.ready[i]!;
      if (!tcp) {
        for (;;) {
          const r = api.recvfrom(fd, rx, 0, from);
          if (r < 0) break;
          if (r < HEADER_SIZE) {
            core.ignored++;
            continue;
          }
          // sockperf answers with the header's length of bytes.
          const len = Math.min(readLength(rx, 0), r);
          if (core.handle(rx, 0, len)) api.sendto(fd, rxViews.prefix(len), 0, from);
        }
      } else if (fd === lfd) {
        for (;;) {
          const c = api.accept4(lfd, null, K.SOCK_NONBLOCK);
          if (c < 0) break;
          api.setsockoptInt(c, K.IPPROTO_TCP, K.TCP_NODELAY, 1);
          conns[c] = new TcpEcho(c, h, core, stop);
          mux.add(c);
          core.connections++;
        }
      } else {
        const c = conns[fd];
        if (c === undefined) continue;
        for (;;) {
          const r = api.recv(fd, c.framer.rx, 0);
          if (r > 0) {
            const ok = c.framer.received(r, c);
            // sockperf closes a connection whose message is larger than it accepts.
            if (!c.flush() || !ok) {
              closeConn(c);
              break;
            }
          } else {
            if (r !== -Errno.EAGAIN) closeConn(c); // 0: the client closed; or an error
            break;
          }
        }
      }
    }
    if (n > 0) {
      live[0] = core.received;
      live[1] = core.replied;
      live[2] = core.bytes;
      live[3] = core.connections;
    }
  }
  for (const c of conns) if (c !== undefined) closeConn(c);
  api.close(lfd);
  settle(h, 20_000);
  return core.counters();
}

// ---------------------------------------------------------------------------------------

if (parentPort !== null && workerData !== null && (workerData as XlioWorkerData).role !== undefined) {
  const port = parentPort;
  const data = workerData as XlioWorkerData;
  const post = (m: XlioWorkerMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
  void (async () => {
    let wire: WireLink | null = null;
    try {
      let h: XlioHost;
      if (data.wire !== undefined) {
        const opened = await openLink(data.wire.link);
        wire = opened.link;
        h = createWireHost(wire, opened.mac, data.wire.addr);
      } else h = createHost(data.shared!, data.role);
      if (data.role === 'server') {
        const counters = runServer(h, data.server!, data.control, () => post({ type: 'ready' }));
        post({ type: 'done', counters });
      } else {
        const outcome = runClient(h, data.client!, { warmup: data.wire !== undefined });
        post({ type: 'result', outcome }, [outcome.tx.buffer as ArrayBuffer, outcome.rtt.buffer as ArrayBuffer]);
      }
    } catch (e) {
      post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    } finally {
      wire?.close();
    }
  })();
}

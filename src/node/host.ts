// The process's xlio-ts host: the one Stack, socket API and main-thread poll loop that the
// Node drop-ins (net.ts, dgram.ts) put their sockets on. Readiness reaches JavaScript
// objects through one epoll set: every drop-in socket registers its descriptor with a
// callback, and each loop round asks epoll_wait (timeout 0) what changed and calls those
// callbacks — Linux's own readiness rules, edge-triggered, so a callback runs when something
// new happened, not on every round.
//
// Where the host lives comes from the environment (our extensions to XLIO's variables):
//   XLIO_LINK     a link spec (src/link/link-spec.ts): packet:eth1, xdp:eth1, tap:tap0…
//   XLIO_ADDR     the stack's addresses on it, comma-separated CIDRs: 198.18.0.1/24,fd00::1/64
//   XLIO_GATEWAY  an IPv4 default gateway
// Without XLIO_LINK the host has only its loopback (127.0.0.1, ::1). Tests build hosts of
// their own and install them with setProcessHost().
//
// Stats: the process's host (made here or installed with setProcessHost) is published for
// `xlio stats` as XLIO does, by default in /tmp/xlio (XLIO_STATS_SHMEM_DIR; empty: off;
// XLIO_STATS_FILE: a text dump at exit). Nothing is added to the hot path: a timer copies
// the counters the stack keeps anyway (src/runtime/stats.ts).
//
// Keeping the process alive: like a libuv handle, a drop-in socket or server is counted
// with ref() while it should keep Node running (unref() when the program says so or when
// it closes); the loop holds the event loop open only while the count is above zero.
//
// Shutdown: every host registers with shutdown.ts, which flushes its connections (pending
// writes, then FIN; RST under SO_LINGER 0) on SIGINT/SIGTERM/SIGHUP, process.exit(), an
// uncaught exception or the program's end, before the process goes. Drop-in handles pass
// themselves to watch() so that the flush can ask them what they still hold (unsent()).

import type { Link } from '../link/link.js';
import { openLink } from '../link/open-link.js';
import { SeededRng } from '../rng.js';
import { loadConfig } from '../runtime/config.js';
import { PollLoop } from '../runtime/poll-loop.js';
import { publishProcessStats, unpublishProcessStats } from '../runtime/stats.js';
import * as K from '../socket/constants.js';
import { LinkDriver, type ParkableLink } from '../socket/drivers.js';
import { SocketPromises } from '../socket/promises.js';
import { Sockets } from '../socket/sockets.js';
import { EpollEvent } from '../socket/types.js';
import { Stack } from '../stack/stack.js';
import { ipv4, ipv6, mac as parseMac } from '../wire/address.js';
import { registerHost, unregisterHost } from './shutdown.js';

/** Called with the ready events (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR…) of a watched descriptor. */
export type ReadyCallback = (events: number) => void;

/** What a drop-in handle tells the exit flush (shutdown.ts) about its descriptor. */
export interface WatchOwner {
  /** What the program wrote that the stack has not taken yet, oldest first. */
  unsent?(): readonly Uint8Array[];
}

/** Events per epoll_wait. */
const BATCH = 256;

/** The wire of a host with no link: nothing goes out, nothing comes in; parks until woken or timed out. */
export class LoopbackOnlyLink implements Link, ParkableLink {
  readonly mtu = 65535;
  private wake: ((data: boolean) => void) | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pending = false;
  transmit(): void {
    /* no wire: the stack only routes through lo */
  }
  receive(): number {
    return 0;
  }
  waitForData(): boolean {
    const p = this.pending;
    this.pending = false;
    return p;
  }
  waitForDataAsync(timeoutMs: number): Promise<boolean> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(() => this.settle(), timeoutMs);
      this.timer.unref();
    });
  }
  interruptWait(): void {
    if (this.wake === null) this.pending = true;
    else this.settle();
  }
  private settle(): void {
    const w = this.wake;
    this.wake = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    w?.(false);
  }
  close(): void {
    this.settle();
  }
}

export interface ProcessHostOptions {
  link?: (Link & ParkableLink & { close?(): void }) | null;
  /** The stack's MAC on the link ("02:…" or bytes). */
  mac?: string | Uint8Array;
  /** CIDRs on the link: "198.18.0.1/24", "fd00::1/64". */
  addrs?: readonly string[];
  gateway?: string;
  /** XLIO_RX_POLL for the loop (idle rounds before parking). */
  rxPoll?: number;
  /** XLIO_TCP_NODELAY / XLIO_TCP_QUICKACK: defaults of new TCP sockets. */
  tcpNoDelay?: boolean;
  tcpQuickAck?: boolean;
  seed?: number;
}

export class ProcessHost {
  readonly stack: Stack;
  readonly driver: LinkDriver;
  readonly api: Sockets;
  readonly loop: PollLoop;
  readonly io: SocketPromises;
  readonly link: Link & ParkableLink & { close?(): void };
  private readonly epfd: number;
  private readonly events: EpollEvent[] = Array.from({ length: BATCH }, () => new EpollEvent());
  private readonly ev = new EpollEvent();
  /** Callbacks by descriptor. */
  private readonly callbacks: (ReadyCallback | undefined)[] = [];
  /** The handle behind each watched descriptor, for the exit flush. */
  private readonly owners: (WatchOwner | undefined)[] = [];
  private refs = 0;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(opts: ProcessHostOptions = {}) {
    const addrs = opts.addrs ?? [];
    const v6 = addrs.some((a) => a.includes(':'));
    const mac = opts.mac === undefined ? Uint8Array.of(2, 0x78, 0, 0, 0, 1) : typeof opts.mac === 'string' ? parseMac(opts.mac) : opts.mac;
    this.stack = new Stack({ mac, rng: new SeededRng(opts.seed ?? (Date.now() ^ (process.pid << 8))), ipv6: v6 });
    this.link = opts.link ?? new LoopbackOnlyLink();
    if (opts.link != null) this.stack.attach(this.link);
    for (const a of addrs) {
      const slash = a.lastIndexOf('/');
      if (slash < 0) throw new Error(`an address needs its prefix length: "${a}" (198.18.0.1/24, fd00::1/64)`);
      const ip = a.slice(0, slash);
      this.stack.addAddress(ip.includes(':') ? ipv6(ip) : ipv4(ip), Number(a.slice(slash + 1)), this.stack.primary, { dad: false });
    }
    if (opts.gateway !== undefined) this.stack.defaultGateway = ipv4(opts.gateway);
    this.driver = new LinkDriver(this.stack, this.link, undefined, { canBlock: false });
    this.api = new Sockets(this.stack, { driver: this.driver, tcpNoDelay: opts.tcpNoDelay ?? false, tcpQuickAck: opts.tcpQuickAck ?? false });
    // Without a link nothing can arrive while the loop spins (frames come only from this
    // thread's own calls, which cannot run meanwhile): an idle loop parks at once.
    const rxPoll = opts.link == null ? 0 : (opts.rxPoll ?? 2000);
    this.loop = new PollLoop(this.driver, { rxPoll, keepAlive: false, onRound: this.round });
    this.io = new SocketPromises(this.api, this.loop);
    this.epfd = this.api.epoll_create1(K.EPOLL_CLOEXEC);
    // Signals, process.exit(), uncaught exceptions and the end of the program flush and close
    // this host's connections before the process goes (KI-02, KI-12, KI-15, KI-20).
    registerHost(this);
  }

  /** One loop round's application work: the drop-ins' ready callbacks. */
  private readonly round = (): boolean => {
    const n = this.api.epoll_wait(this.epfd, this.events, BATCH, 0);
    this.dispatching = true;
    for (let i = 0; i < n; i++) {
      const e = this.events[i]!;
      const cb = this.callbacks[e.data];
      if (cb === undefined) continue;
      try {
        cb(e.events);
      } catch (err) {
        // As an exception in a libuv callback would: uncaughtException, not a dead loop.
        process.nextTick(() => {
          throw err;
        });
      }
    }
    this.dispatching = false;
    return n > 0;
  };

  /** True while a round's readiness callbacks run: the stack's clock is current and a stack poll follows. */
  private dispatching = false;

  /** Before socket calls from user code: the stack's clock to now (the timers they arm start from it). */
  enterCalls(): void {
    if (!this.dispatching) this.stack.now = this.driver.now();
  }

  /** After socket calls from user code: what they sent goes out now; the events it causes, in a later round. */
  leaveCalls(): void {
    if (!this.dispatching) this.afterCalls();
  }

  /** Calls `cb` with `fd`'s events (edge-triggered: when they change) from the loop's rounds. */
  watch(fd: number, events: number, cb: ReadyCallback, owner?: object): void {
    this.callbacks[fd] = cb;
    this.owners[fd] = owner as WatchOwner | undefined;
    this.ev.events = events | K.EPOLLET;
    this.ev.data = fd;
    const r = this.api.epoll_ctl(this.epfd, K.EPOLL_CTL_ADD, fd, this.ev);
    if (r < 0) throw new Error(`epoll_ctl(ADD, ${fd}): ${r}`);
    this.start();
  }

  /** Changes the events watched (re-arms: edges already pending are reported again). */
  rewatch(fd: number, events: number): void {
    this.ev.events = events | K.EPOLLET;
    this.ev.data = fd;
    this.api.epoll_ctl(this.epfd, K.EPOLL_CTL_MOD, fd, this.ev);
    this.loop.wake();
  }

  /** Stops watching (before closing the descriptor). */
  unwatch(fd: number): void {
    if (this.callbacks[fd] === undefined) return;
    this.callbacks[fd] = undefined;
    this.owners[fd] = undefined;
    this.api.epoll_ctl(this.epfd, K.EPOLL_CTL_DEL, fd, null);
  }

  /** After socket calls made outside a round (from user code): run a round soon, with timers. */
  kick(): void {
    this.loop.pump();
    this.loop.wake();
  }

  private kickPending = false;
  private readonly runKick = (): void => {
    this.kickPending = false;
    this.kick();
  };

  /**
   * After socket calls made by the program outside a round (the caller brought the stack's
   * clock up to date before them): what they sent goes out now (loop.flush: the link, and lo
   * to local sockets, as Linux's loopback delivers within the sending call), and the events
   * that causes come in a round of their own, never inside the caller's call — the loop's next
   * slice when it runs, or a check-phase round when it is parked (its deadline and readiness
   * are stale) or not running (one per turn, however many calls).
   */
  afterCalls(): void {
    const loop = this.loop;
    loop.flush();
    if (this.kickPending || (loop.running && !loop.isParked)) return;
    this.kickPending = true;
    setImmediate(this.runKick);
  }

  /** The handle watching `fd` (watch()'s owner), if any. */
  ownerOf(fd: number): WatchOwner | undefined {
    return this.owners[fd];
  }

  /** close() was called: the loop is stopped and the link closed. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** One more handle keeps the process alive. */
  ref(): void {
    if (++this.refs === 1) {
      this.loop.keepAlive = true;
      // A loop parked while nothing was ref'd holds no timer: end the park so it parks again holding one.
      this.loop.wake();
    }
    this.start();
  }

  unref(): void {
    if (this.refs > 0 && --this.refs === 0) this.loop.keepAlive = false;
  }

  private start(): void {
    if (this.running !== null || this.closed) return;
    this.running = this.loop.start().catch((e: unknown) => {
      if (!this.closed) process.nextTick(() => {
        throw e;
      });
    });
  }

  /** Stops the loop and closes the link. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    unregisterHost(this);
    unpublishProcessStats(this);
    this.loop.stop();
    this.link.close?.();
  }
}

let current: ProcessHost | null = null;

/** The host from the environment (XLIO_LINK, XLIO_ADDR, XLIO_GATEWAY and XLIO_RX_POLL), made on first use. */
export async function processHostFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<ProcessHost> {
  if (current !== null) return current;
  const cfg = loadConfig(env);
  const spec = env['XLIO_LINK'];
  const addrs = (env['XLIO_ADDR'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (spec === undefined || spec === '') {
    current = new ProcessHost({ rxPoll: cfg.rxPoll, tcpNoDelay: cfg.tcpNoDelay, tcpQuickAck: cfg.tcpQuickAck });
    publishProcessStats(current, env);
    return current;
  }
  if (addrs.length === 0) throw new Error(`XLIO_LINK=${spec} needs XLIO_ADDR (the stack's addresses on it, e.g. 198.18.0.1/24)`);
  const opened = await openLink(spec);
  const gateway = env['XLIO_GATEWAY'];
  current = new ProcessHost({ link: opened.link, mac: opened.mac, addrs, rxPoll: cfg.rxPoll, tcpNoDelay: cfg.tcpNoDelay, tcpQuickAck: cfg.tcpQuickAck, ...(gateway ? { gateway } : {}) });
  publishProcessStats(current, env);
  return current;
}

/** The installed host; a loopback-only one if none was installed or made from the environment. */
export function processHost(): ProcessHost {
  if (current === null) {
    current = new ProcessHost();
    publishProcessStats(current);
  }
  return current;
}

/** Installs `host` as the process's (tests; `register` after reading the environment). null removes it. */
export function setProcessHost(host: ProcessHost | null): void {
  if (host === null && current !== null) unpublishProcessStats(current);
  current = host;
  if (host !== null) publishProcessStats(host);
}

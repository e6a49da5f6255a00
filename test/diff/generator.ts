// A seeded generator of socket scenarios (test/diff/FORMAT.md) for the differential test
// against the kernel. It keeps a rough model of what each name refers to (domain, type,
// blocking mode, bound address, listening, connected) so that most sequences are
// plausible (servers bind and listen, clients connect to them, data flows, descriptors
// are polled), and mixes in calls in the wrong order, on the wrong kind of socket, on
// closed names and with invalid arguments: the errors are the point.
//
// Every scenario ends on the kernel: a socket that is (or may become) blocking has
// SO_RCVTIMEO and SO_SNDTIMEO of 2–5 ms, poll/select/epoll_wait wait 0 ms (rarely 1–3),
// `sleep` is at most 5 ms, and no scenario is longer than MAX_STEPS.

import { SeededRng } from '../../src/rng.js';
import type { Scenario } from '../support/kernel-oracle.js';

export const MAX_STEPS = 40;
/** The longest sleep or poll/select/epoll_wait timeout a scenario may ask for (ms). */
export const MAX_WAIT_MS = 5;

type Domain = 'INET' | 'INET6' | 'UNIX';
type Kind = 'STREAM' | 'DGRAM' | 'SEQPACKET';

/** What the generator believes an open file (socket or epoll instance) is. */
interface FileModel {
  epoll: boolean;
  domain: Domain;
  kind: Kind;
  nonblock: boolean;
  /** SO_RCVTIMEO/SO_SNDTIMEO are set (so the file may safely become blocking). */
  timeo: boolean;
  bound: { addr: string; port: string | number } | null;
  listening: boolean;
  connected: boolean;
  /** Names of sockets that connected to this listener and were not accepted yet. */
  pending: number;
  shutWr: boolean;
}

interface NameModel {
  name: string;
  file: FileModel;
  open: boolean;
  /** The estimated relative descriptor. */
  fd: number;
}

type Step = unknown[];

function pick<T>(rng: SeededRng, items: readonly T[]): T {
  return items[rng.int(0, items.length - 1)]!;
}

function weighted<T>(rng: SeededRng, items: ReadonlyArray<readonly [T, number]>): T {
  let total = 0;
  for (const [, w] of items) total += w;
  let x = rng.next() * total;
  for (const [v, w] of items) {
    if (w <= 0) continue;
    if (x < w) return v;
    x -= w;
  }
  for (let i = items.length - 1; i >= 0; i--) if (items[i]![1] > 0) return items[i]![0];
  return items[0]![0];
}

const SOCKET_NAMES = ['a', 'b', 'c', 'd', 's', 't'];
const ACCEPT_NAMES = ['x', 'y', 'z', 'w', 'v', 'u'];
const DUP_NAMES = ['d1', 'd2', 'd3', 'd4'];
const EPOLL_NAMES = ['e', 'f'];

const ADDRS_FOR: Record<Domain, ReadonlyArray<readonly [string, number]>> = {
  INET: [['A4', 5], ['ANY4', 3], ['B4', 2], ['N4', 0.4], ['A6', 0.3], ['UNSPEC', 0.3], ['A4M', 0.15]],
  INET6: [['A6', 4], ['ANY6', 3], ['B6', 1.5], ['A4M', 1], ['ANY4M', 0.4], ['B4M', 0.3], ['N6', 0.4], ['A4', 0.3], ['UNSPEC', 0.2]],
  UNIX: [['A4', 1], ['UNSPEC', 1], ['A6', 0.5]],
};

const SEND_FLAGS: ReadonlyArray<readonly [string, number]> = [
  ['', 10], ['NOSIGNAL', 4], ['DONTWAIT', 2], ['DONTWAIT|NOSIGNAL', 2], ['MORE', 1], ['OOB', 0.5], ['EOR', 0.2], ['CONFIRM', 0.2],
];
const RECV_FLAGS: ReadonlyArray<readonly [string, number]> = [
  ['', 9], ['PEEK', 2], ['DONTWAIT', 3], ['WAITALL', 1.5], ['TRUNC', 1], ['PEEK|DONTWAIT', 1.5], ['OOB', 0.5],
  ['DONTWAIT|TRUNC', 0.5], ['ERRQUEUE', 0.3], ['WAITALL|DONTWAIT', 0.4], ['PEEK|TRUNC', 0.4],
];
const POLL_EVENTS: ReadonlyArray<readonly [string, number]> = [
  ['IN', 4], ['OUT', 3], ['IN|OUT', 4], ['IN|OUT|RDHUP', 3], ['PRI', 0.5], ['IN|PRI|OUT|RDHUP', 1], ['', 0.5], ['RDNORM|WRNORM', 0.5],
  ['RDHUP', 0.5], ['IN|RDBAND', 0.3],
];
const EPOLL_BASE: ReadonlyArray<readonly [string, number]> = [
  ['IN', 4], ['OUT', 2], ['IN|OUT', 4], ['IN|RDHUP', 2], ['IN|OUT|RDHUP', 3], ['PRI', 0.3], ['', 0.4], ['IN|OUT|ERR|HUP', 0.5],
];

/** Integer options settable with plausible and invalid values: [level, name, values, socket kinds it is meant for]. */
const INT_OPTS: ReadonlyArray<readonly [string, string, readonly number[]]> = [
  ['SOL_SOCKET', 'SO_REUSEADDR', [0, 1, 1]],
  ['SOL_SOCKET', 'SO_REUSEPORT', [0, 1, 1]],
  ['SOL_SOCKET', 'SO_KEEPALIVE', [0, 1]],
  ['SOL_SOCKET', 'SO_SNDBUF', [0, 1, 1024, 4096, 65536, 1 << 20, -1]],
  ['SOL_SOCKET', 'SO_RCVBUF', [0, 1, 1024, 4096, 65536, 1 << 20, -1]],
  ['SOL_SOCKET', 'SO_RCVLOWAT', [0, 1, 10, 1000, -1]],
  ['SOL_SOCKET', 'SO_SNDLOWAT', [1]],
  ['SOL_SOCKET', 'SO_BROADCAST', [0, 1]],
  ['SOL_SOCKET', 'SO_OOBINLINE', [0, 1]],
  ['SOL_SOCKET', 'SO_PRIORITY', [0, 3, 6, 7, -1]],
  ['SOL_SOCKET', 'SO_DONTROUTE', [0, 1]],
  ['SOL_SOCKET', 'SO_TYPE', [1]],
  ['SOL_SOCKET', 'SO_ERROR', [0]],
  ['SOL_SOCKET', 'SO_TIMESTAMP', [0, 1]],
  ['SOL_SOCKET', 'SO_ACCEPTCONN', [1]],
  ['IPPROTO_IP', 'IP_TOS', [0, 0x10, 0xb8, 0xff, 256]],
  ['IPPROTO_IP', 'IP_TTL', [1, 64, 255, 0, 256, -1]],
  ['IPPROTO_IP', 'IP_MTU_DISCOVER', [0, 1, 2, 3, 4, 5, 9]],
  ['IPPROTO_IP', 'IP_RECVERR', [0, 1]],
  ['IPPROTO_IP', 'IP_FREEBIND', [0, 1]],
  ['IPPROTO_IP', 'IP_BIND_ADDRESS_NO_PORT', [0, 1]],
  ['IPPROTO_IP', 'IP_MULTICAST_TTL', [0, 1, 255, 256]],
  ['IPPROTO_IP', 'IP_MULTICAST_LOOP', [0, 1]],
  ['IPPROTO_IPV6', 'IPV6_V6ONLY', [0, 1, 1]],
  ['IPPROTO_IPV6', 'IPV6_UNICAST_HOPS', [-1, 0, 1, 64, 255, 256, -2]],
  ['IPPROTO_IPV6', 'IPV6_TCLASS', [-1, 0, 0x10, 0xff, 256]],
  ['IPPROTO_IPV6', 'IPV6_RECVERR', [0, 1]],
  ['IPPROTO_IPV6', 'IPV6_MULTICAST_HOPS', [-1, 1, 256]],
  ['IPPROTO_TCP', 'TCP_NODELAY', [0, 1, 1]],
  ['IPPROTO_TCP', 'TCP_CORK', [0, 1]],
  ['IPPROTO_TCP', 'TCP_MAXSEG', [0, 1, 88, 536, 1400, 65535, 65536]],
  ['IPPROTO_TCP', 'TCP_KEEPIDLE', [0, 1, 60, 7200, 32767, 32768]],
  ['IPPROTO_TCP', 'TCP_KEEPINTVL', [0, 1, 75, 32767, 32768]],
  ['IPPROTO_TCP', 'TCP_KEEPCNT', [0, 1, 9, 127, 128]],
  ['IPPROTO_TCP', 'TCP_SYNCNT', [0, 1, 6, 127, 128]],
  ['IPPROTO_TCP', 'TCP_LINGER2', [-1, 0, 30, 200]],
  ['IPPROTO_TCP', 'TCP_DEFER_ACCEPT', [0, 1, 5]],
  ['IPPROTO_TCP', 'TCP_WINDOW_CLAMP', [0, 1, 100, 65536]],
  ['IPPROTO_TCP', 'TCP_QUICKACK', [0, 1]],
  ['IPPROTO_TCP', 'TCP_USER_TIMEOUT', [0, 1000, -1]],
  ['IPPROTO_TCP', 'TCP_NOTSENT_LOWAT', [0, 1, 16384]],
  ['IPPROTO_UDP', 'UDP_CORK', [0, 1]],
  ['IPPROTO_UDP', 'UDP_SEGMENT', [0, 1000, 1472]],
  ['IPPROTO_UDP', 'UDP_GRO', [0, 1]],
];

const GET_OPTS: ReadonlyArray<readonly [string, string]> = [
  ['SOL_SOCKET', 'SO_TYPE'], ['SOL_SOCKET', 'SO_ERROR'], ['SOL_SOCKET', 'SO_ERROR'], ['SOL_SOCKET', 'SO_DOMAIN'],
  ['SOL_SOCKET', 'SO_PROTOCOL'], ['SOL_SOCKET', 'SO_ACCEPTCONN'], ['SOL_SOCKET', 'SO_REUSEADDR'], ['SOL_SOCKET', 'SO_REUSEPORT'],
  ['SOL_SOCKET', 'SO_KEEPALIVE'], ['SOL_SOCKET', 'SO_SNDBUF'], ['SOL_SOCKET', 'SO_RCVBUF'], ['SOL_SOCKET', 'SO_RCVLOWAT'],
  ['SOL_SOCKET', 'SO_SNDLOWAT'], ['SOL_SOCKET', 'SO_LINGER'], ['SOL_SOCKET', 'SO_RCVTIMEO'], ['SOL_SOCKET', 'SO_SNDTIMEO'],
  ['SOL_SOCKET', 'SO_BROADCAST'], ['SOL_SOCKET', 'SO_OOBINLINE'], ['SOL_SOCKET', 'SO_PRIORITY'], ['SOL_SOCKET', 'SO_DONTROUTE'],
  ['IPPROTO_IP', 'IP_TOS'], ['IPPROTO_IP', 'IP_TTL'], ['IPPROTO_IP', 'IP_MTU'], ['IPPROTO_IP', 'IP_MTU_DISCOVER'],
  ['IPPROTO_IP', 'IP_RECVERR'], ['IPPROTO_IP', 'IP_MULTICAST_TTL'], ['IPPROTO_IP', 'IP_MULTICAST_LOOP'],
  ['IPPROTO_IPV6', 'IPV6_V6ONLY'], ['IPPROTO_IPV6', 'IPV6_UNICAST_HOPS'], ['IPPROTO_IPV6', 'IPV6_TCLASS'],
  ['IPPROTO_TCP', 'TCP_NODELAY'], ['IPPROTO_TCP', 'TCP_MAXSEG'], ['IPPROTO_TCP', 'TCP_CORK'], ['IPPROTO_TCP', 'TCP_KEEPIDLE'],
  ['IPPROTO_TCP', 'TCP_KEEPINTVL'], ['IPPROTO_TCP', 'TCP_KEEPCNT'], ['IPPROTO_TCP', 'TCP_SYNCNT'], ['IPPROTO_TCP', 'TCP_LINGER2'],
  ['IPPROTO_TCP', 'TCP_DEFER_ACCEPT'], ['IPPROTO_TCP', 'TCP_WINDOW_CLAMP'], ['IPPROTO_TCP', 'TCP_USER_TIMEOUT'],
  ['IPPROTO_TCP', 'TCP_NOTSENT_LOWAT'], ['IPPROTO_UDP', 'UDP_CORK'], ['IPPROTO_UDP', 'UDP_SEGMENT'],
];

/** One scenario being built. */
class Builder {
  readonly steps: Step[] = [];
  readonly names = new Map<string, NameModel>();
  /** Estimated open relative descriptors. */
  private readonly fdsInUse = new Set<number>();
  private usedPorts: string[] = [];
  /** The name the last opSocket/opAccept created (null when it most likely failed). */
  lastName: string | null = null;
  /** Names by role in the plan (srv, cli, conn, u1, u2). */
  private readonly roles = new Map<string, string>();
  private plan: Array<() => boolean> = [];
  private nextPort = 1;
  private createdSockets = 0;
  readonly maxSockets: number;
  readonly target: number;
  readonly domainMode: 'INET' | 'INET6' | 'mixed';
  readonly kindMode: 'STREAM' | 'DGRAM' | 'mixed';

  constructor(private readonly rng: SeededRng) {
    this.maxSockets = rng.int(1, 4);
    this.target = weighted(rng, [[rng.int(4, 12), 3], [rng.int(12, 25), 4], [rng.int(25, MAX_STEPS), 3]] as const);
    this.domainMode = weighted(rng, [['INET', 4], ['INET6', 3], ['mixed', 3]] as const);
    this.kindMode = weighted(rng, [['STREAM', 5], ['DGRAM', 3], ['mixed', 2]] as const);
    const planKind = weighted(rng, [['tcp', 5], ['udp', 2], ['none', 3]] as const);
    if (planKind === 'tcp') this.plan = this.tcpPlan();
    else if (planKind === 'udp') this.plan = this.udpPlan();
    // Invalid orders: swap a few neighbouring steps of the plan.
    for (let i = 0; i + 1 < this.plan.length; i++) {
      if (rng.chance(0.06)) [this.plan[i], this.plan[i + 1]] = [this.plan[i + 1]!, this.plan[i]!];
    }
  }

  private role(r: string): string | undefined {
    return this.roles.get(r);
  }

  private planDomain(): Domain {
    return this.domainMode === 'mixed' ? pick(this.rng, ['INET', 'INET6'] as const) : this.domainMode;
  }

  private otherDomain(d: Domain): Domain {
    return this.rng.chance(0.75) ? d : d === 'INET' ? 'INET6' : 'INET';
  }

  private create(role: string, domain: Domain, kind: Kind): () => boolean {
    return () => {
      const ok = this.opSocket({ domain, kind });
      if (ok && this.lastName !== null) this.roles.set(role, this.lastName);
      return ok;
    };
  }

  /** Epoll watching the plan's sockets, sometimes. */
  private epollPlan(roles: string[]): Array<() => boolean> {
    if (!this.rng.chance(0.4)) return [];
    const out: Array<() => boolean> = [() => this.opEpollCreate()];
    for (const r of roles) if (this.rng.chance(0.8)) out.push(() => this.opEpollCtl(this.role(r)));
    return out;
  }

  private exchange(ops: Array<() => boolean>, n: number): Array<() => boolean> {
    const out: Array<() => boolean> = [];
    for (let i = 0; i < n; i++) out.push(() => pick(this.rng, ops)());
    return out;
  }

  /** A TCP server and client: socket, bind, listen, connect, accept, data both ways, an ending. */
  private tcpPlan(): Array<() => boolean> {
    const d1 = this.planDomain();
    const d2 = this.otherDomain(d1);
    const plan: Array<() => boolean> = [
      this.create('srv', d1, 'STREAM'),
      () => this.opBind(this.role('srv')),
      () => this.opListen(this.role('srv')),
      this.create('cli', d2, 'STREAM'),
      () => this.opConnect(this.role('cli'), this.role('srv')),
      () => {
        const ok = this.opAccept(this.role('srv'));
        if (ok && this.lastName !== null) this.roles.set('conn', this.lastName);
        return ok;
      },
    ];
    plan.push(...this.epollPlan(['cli', 'conn', 'srv']));
    const wait = (): boolean => (this.epolls().length > 0 && this.rng.chance(0.5) ? this.opEpollWait() : this.opPoll([this.role('cli'), this.role('conn')].filter((x): x is string => x !== undefined)));
    plan.push(...this.exchange([
      () => this.opSend(this.role('cli')), () => this.opSend(this.role('cli')), () => this.opRecv(this.role('conn')), () => this.opRecv(this.role('conn')),
      () => this.opSend(this.role('conn')), () => this.opRecv(this.role('cli')), wait,
    ], this.rng.int(1, 8)));
    const cli = (): string | undefined => this.role('cli');
    const conn = (): string | undefined => this.role('conn');
    const endings: Array<Array<() => boolean>> = [
      [() => this.opShutdown(cli()), () => this.opRecv(conn()), wait],
      [() => this.opClose(cli()), () => this.opRecv(conn()), () => this.opSend(conn()), wait],
      [() => this.opClose(conn()), () => this.opSend(cli()), () => this.opRecv(cli()), wait],
      [() => this.opShutdown(conn()), () => this.opSend(conn()), () => this.opRecv(cli())],
      [() => this.opClose(this.role('srv')), () => this.opSend(cli()), () => this.opRecv(conn())],
      [],
    ];
    plan.push(...pick(this.rng, endings));
    return plan;
  }

  /** Two UDP sockets: datagrams one way and back, a connect, receives. */
  private udpPlan(): Array<() => boolean> {
    const d1 = this.planDomain();
    const d2 = this.otherDomain(d1);
    const plan: Array<() => boolean> = [
      this.create('u1', d1, 'DGRAM'),
      () => this.opBind(this.role('u1')),
      this.create('u2', d2, 'DGRAM'),
    ];
    if (this.rng.chance(0.6)) plan.push(() => this.opBind(this.role('u2')));
    plan.push(...this.epollPlan(['u1', 'u2']));
    const u1 = (): string | undefined => this.role('u1');
    const u2 = (): string | undefined => this.role('u2');
    plan.push(...this.exchange([
      () => this.opSend(u2(), u1()), () => this.opSend(u2(), u1()), () => this.opRecv(u1()), () => this.opRecv(u1()),
      () => this.opSend(u1(), u2()), () => this.opRecv(u2()), () => this.opConnect(u2(), u1()),
      () => this.opSend(u2()), () => this.opPoll([u1(), u2()].filter((x): x is string => x !== undefined)),
    ], this.rng.int(2, 10)));
    return plan;
  }

  room(): number {
    return MAX_STEPS - this.steps.length;
  }

  push(step: Step): void {
    this.steps.push(step);
  }

  // ---- the descriptor/name model ----

  private allocFd(): number {
    let fd = 0;
    while (this.fdsInUse.has(fd)) fd++;
    this.fdsInUse.add(fd);
    return fd;
  }

  bindName(name: string, file: FileModel, fd = this.allocFd()): NameModel {
    const n: NameModel = { name, file, open: true, fd };
    this.names.set(name, n);
    return n;
  }

  closeName(n: NameModel): void {
    if (!n.open) return;
    n.open = false;
    this.fdsInUse.delete(n.fd);
    // Another name on the same descriptor number (dup2 onto it) is closed with it.
    for (const o of this.names.values()) if (o.open && o.fd === n.fd) o.open = false;
  }

  openNames(pred: (n: NameModel) => boolean = () => true): NameModel[] {
    return [...this.names.values()].filter((n) => n.open && pred(n));
  }

  sockets(pred: (n: NameModel) => boolean = () => true): NameModel[] {
    return this.openNames((n) => !n.file.epoll && pred(n));
  }

  /** A socket name for an operation: mostly one that fits `pred`, sometimes any name (closed, epoll…). */
  chooseSocket(pred: (n: NameModel) => boolean = () => true, wrong = 0.06): string | null {
    const all = [...this.names.values()];
    if (all.length === 0) return null;
    if (this.rng.chance(wrong)) return pick(this.rng, all).name;
    const good = this.sockets(pred);
    if (good.length > 0) return pick(this.rng, good).name;
    const open = this.sockets();
    if (open.length > 0) return pick(this.rng, open).name;
    return pick(this.rng, all).name;
  }

  freshName(pool: readonly string[], reuseClosed = 0.25): string {
    const closed = [...this.names.values()].filter((n) => !n.open && pool.includes(n.name));
    if (closed.length > 0 && this.rng.chance(reuseClosed)) return pick(this.rng, closed).name;
    for (const p of pool) if (!this.names.has(p)) return p;
    for (let i = 1; ; i++) {
      const c = `${pool[0]}${i}`;
      if (!this.names.has(c)) return c;
    }
  }

  timeoutSteps(name: string, file: FileModel): void {
    this.push(['setsockopt', name, 'SOL_SOCKET', 'SO_RCVTIMEO', { timeval: this.rng.int(2, 5) * 1000 }]);
    this.push(['setsockopt', name, 'SOL_SOCKET', 'SO_SNDTIMEO', { timeval: this.rng.int(2, 5) * 1000 }]);
    file.timeo = true;
  }

  newFile(domain: Domain, kind: Kind, nonblock: boolean): FileModel {
    return { epoll: false, domain, kind, nonblock, timeo: false, bound: null, listening: false, connected: false, pending: 0, shutWr: false };
  }

  // ---- address choice ----

  goodBindAddr(domain: Domain): string {
    if (domain === 'INET6') return weighted(this.rng, [['A6', 4], ['ANY6', 4], ['B6', 1], ['A4M', 1], ['ANY4M', 0.3]] as const);
    return weighted(this.rng, [['A4', 4], ['ANY4', 3], ['B4', 2]] as const);
  }

  freshPort(): string | number {
    if (this.nextPort > 9) return this.bindPort();
    const p = `P${this.nextPort++}`;
    this.usedPorts.push(p);
    return p;
  }

  bindPort(): string | number {
    const r = this.rng.next();
    if (r < 0.2) return 0;
    if (r < 0.45 && this.usedPorts.length > 0) return pick(this.rng, this.usedPorts);
    if (this.nextPort <= 9) {
      const p = `P${this.nextPort++}`;
      this.usedPorts.push(p);
      return p;
    }
    return pick(this.rng, this.usedPorts);
  }

  anyPortSymbol(): string {
    return `P${this.rng.int(1, 9)}`;
  }

  randomAddr(domain: Domain): string {
    return weighted(this.rng, ADDRS_FOR[domain]);
  }

  /** An address of `domain`'s family that reaches a socket bound to `bound`. */
  addrReaching(domain: Domain, bound: string): string {
    const v6 = domain === 'INET6';
    switch (bound) {
      case 'A4':
      case 'A4M':
        return v6 ? 'A4M' : 'A4';
      case 'B4':
      case 'B4M':
        return v6 ? 'B4M' : 'B4';
      case 'ANY4':
      case 'ANY4M':
        return v6 ? pick(this.rng, ['A4M', 'B4M']) : pick(this.rng, ['A4', 'B4']);
      case 'A6':
        return v6 ? 'A6' : 'A4';
      case 'B6':
        return v6 ? 'B6' : 'B4';
      case 'ANY6':
        return v6 ? pick(this.rng, ['A6', 'B6', 'A4M']) : pick(this.rng, ['A4', 'B4']);
      default:
        return this.randomAddr(domain);
    }
  }

  /** [addr, port, the socket it should reach] for connect/sendto from a socket of `domain`: mostly a bound socket of `kind`. */
  destination(domain: Domain, kind: Kind, self: FileModel | null, to?: string): [string, string | number, FileModel | null] {
    const forced = to === undefined ? undefined : this.names.get(to);
    if (forced !== undefined && forced.open && forced.file.bound !== null && /^P\d$/.test(String(forced.file.bound.port)) && this.rng.chance(0.95)) {
      const b = forced.file.bound;
      const reaches = !(domain === 'INET' && (b.addr === 'A6' || b.addr === 'B6'));
      return [this.addrReaching(domain, b.addr), b.port, reaches ? forced.file : null];
    }
    if (this.rng.chance(0.12)) {
      return [this.randomAddr(domain), this.rng.chance(0.1) ? 0 : this.anyPortSymbol(), null];
    }
    const targets = this.sockets((n) => n.file !== self && n.file.bound !== null && /^P\d$/.test(String(n.file.bound.port)) && (n.file.kind === kind || this.rng.chance(0.1)));
    const listening = targets.filter((n) => n.file.listening);
    const t = listening.length > 0 && kind === 'STREAM' && this.rng.chance(0.85) ? pick(this.rng, listening) : targets.length > 0 ? pick(this.rng, targets) : null;
    if (t === null) {
      const p = this.usedPorts.length > 0 && this.rng.chance(0.6) ? pick(this.rng, this.usedPorts) : this.anyPortSymbol();
      return [domain === 'INET6' ? pick(this.rng, ['A6', 'A4M', 'B6']) : pick(this.rng, ['A4', 'B4']), p, null];
    }
    const addr = this.addrReaching(domain, t.file.bound!.addr);
    // An IPv4 socket cannot reach a socket bound to an IPv6 address.
    const reaches = !(domain === 'INET' && (t.file.bound!.addr === 'A6' || t.file.bound!.addr === 'B6'));
    return [addr, t.file.bound!.port, reaches ? t.file : null];
  }

  sendSize(): number {
    return weighted(this.rng, [
      [0, 0.4], [this.rng.int(1, 100), 3.5], [this.rng.int(100, 3000), 4.5], [this.rng.int(3000, 65536), 1], [this.rng.int(65536, 300_000), 0.6],
    ] as const);
  }

  recvSize(): number {
    return weighted(this.rng, [
      [0, 0.4], [this.rng.int(1, 100), 2.5], [this.rng.int(100, 3000), 4], [65536, 1.5], [300_000, 0.6],
    ] as const);
  }

  waitMs(): number {
    return this.rng.chance(0.85) ? 0 : this.rng.int(1, 3);
  }

  // ---- operations ----

  opSocket(force?: { domain: Domain; kind: Kind }): boolean {
    if (this.room() < 3) return false;
    const name = this.freshName(SOCKET_NAMES);
    this.lastName = name;
    const odd = force === undefined && this.rng.chance(0.05);
    let domain: Domain = force?.domain ?? (this.domainMode === 'mixed' ? pick(this.rng, ['INET', 'INET6'] as const) : this.domainMode);
    let kind: Kind = force?.kind ?? (this.kindMode === 'mixed' ? pick(this.rng, ['STREAM', 'DGRAM'] as const) : this.kindMode);
    let protocol: number | undefined;
    let fails = false;
    if (odd) {
      const what = this.rng.int(0, 5);
      if (what === 0) domain = 'UNIX';
      else if (what === 1) {
        kind = 'SEQPACKET';
        fails = true; // INET/INET6 have no SOCK_SEQPACKET
      } else if (what === 2) protocol = kind === 'STREAM' ? 6 : 17;
      else if (what === 3) {
        protocol = kind === 'STREAM' ? 17 : 6;
        fails = true;
      } else if (what === 4) protocol = 0;
      else {
        protocol = 255;
        fails = true;
      }
    } else if (this.rng.chance(0.05)) protocol = kind === 'STREAM' ? 6 : 17;
    const nonblock = this.rng.chance(0.45);
    let type: string = kind;
    if (nonblock) type += '|NONBLOCK';
    if (this.rng.chance(0.1)) type += '|CLOEXEC';
    const step: Step = ['socket', name, domain, type];
    if (protocol !== undefined) step.push(protocol);
    this.push(step);
    this.createdSockets++;
    if (fails) {
      // The name keeps whatever it had before (or stays unknown): do not model it.
      this.lastName = null;
      return true;
    }
    const file = this.newFile(domain, kind, nonblock);
    this.bindName(name, file);
    if (!nonblock || this.rng.chance(0.3)) this.timeoutSteps(name, file);
    return true;
  }

  opSocketpair(): boolean {
    if (this.room() < 5) return false;
    const n1 = this.freshName(SOCKET_NAMES, 0);
    const n2 = this.freshName(SOCKET_NAMES.filter((n) => n !== n1), 0);
    const domain: Domain = this.rng.chance(0.7) ? 'UNIX' : pick(this.rng, ['INET', 'INET6'] as const);
    const kind = pick(this.rng, ['STREAM', 'DGRAM'] as const);
    const nonblock = this.rng.chance(0.4);
    this.push(['socketpair', n1, n2, domain, nonblock ? `${kind}|NONBLOCK` : kind]);
    this.createdSockets += 2;
    if (domain !== 'UNIX') return true;
    const f1 = this.newFile('UNIX', kind, nonblock);
    const f2 = this.newFile('UNIX', kind, nonblock);
    f1.connected = f2.connected = true;
    this.bindName(n1, f1);
    this.bindName(n2, f2);
    this.timeoutSteps(n1, f1);
    this.timeoutSteps(n2, f2);
    return true;
  }

  opBind(forced?: string): boolean {
    const name = forced ?? this.chooseSocket((n) => n.file.bound === null && n.file.domain !== 'UNIX');
    if (name === null) return false;
    const n = this.names.get(name);
    const domain = n?.file.domain ?? 'INET';
    const addr = forced !== undefined && this.rng.chance(0.9) ? this.goodBindAddr(domain) : this.randomAddr(domain);
    const port = forced !== undefined && this.rng.chance(0.9) ? this.freshPort() : this.bindPort();
    this.push(['bind', name, addr, port]);
    const v6addr = ['A6', 'B6', 'ANY6', 'A4M', 'B4M', 'ANY4M', 'N6'].includes(addr);
    const fits = (domain === 'INET' && !v6addr && addr !== 'UNSPEC') || (domain === 'INET6' && v6addr);
    if (n && n.open && n.file.bound === null && fits && addr !== 'N4' && addr !== 'N6') {
      n.file.bound = { addr, port: port === 0 ? 'eph' : port };
    }
    return true;
  }

  opListen(forced?: string): boolean {
    const name = forced ?? this.chooseSocket((n) => n.file.kind === 'STREAM' && !n.file.listening && !n.file.connected && n.file.bound !== null);
    if (name === null) return false;
    const backlog = forced !== undefined ? weighted(this.rng, [[1, 1], [5, 2], [128, 3], [0, 0.3]] as const) : weighted(this.rng, [[0, 1], [1, 2], [2, 1], [5, 2], [128, 3], [-1, 0.5], [4096, 0.3]] as const);
    this.push(['listen', name, backlog]);
    const n = this.names.get(name);
    if (n && n.open && n.file.kind === 'STREAM' && !n.file.connected) n.file.listening = true;
    return true;
  }

  opConnect(forced?: string, to?: string): boolean {
    const name = forced ?? this.chooseSocket((n) => !n.file.listening && (!n.file.connected || n.file.kind === 'DGRAM'));
    if (name === null) return false;
    const n = this.names.get(name);
    const domain = n?.file.domain ?? 'INET';
    const kind = n?.file.kind ?? 'STREAM';
    let dest = this.destination(domain, kind, n?.file ?? null, to);
    if (kind === 'DGRAM' && n?.file.connected && this.rng.chance(0.3)) dest = ['UNSPEC', 0, null];
    this.push(['connect', name, dest[0], dest[1]]);
    if (n && n.open) {
      const wasIdle = !n.file.connected && !n.file.listening;
      n.file.connected = dest[0] !== 'UNSPEC';
      if (n.file.bound === null) n.file.bound = { addr: domain === 'INET6' ? 'ANY6' : 'ANY4', port: 'eph' };
      const t = dest[2];
      if (t !== null && wasIdle && kind === 'STREAM' && t.listening && t.kind === 'STREAM') t.pending++;
    }
    return true;
  }

  opAccept(forced?: string): boolean {
    if (this.room() < 3) return false;
    const name = forced ?? this.chooseSocket((n) => n.file.listening && n.file.pending > 0) ?? this.chooseSocket((n) => n.file.listening);
    if (name === null) return false;
    const l = this.names.get(name);
    const newname = this.freshName(ACCEPT_NAMES, 0.15);
    const flags = weighted(this.rng, [[null, 5], ['NONBLOCK', 3], ['CLOEXEC', 0.7], ['NONBLOCK|CLOEXEC', 1], ['', 0.5], ['MORE', 0.1]] as const);
    const nonblock = flags !== null && flags.includes('NONBLOCK');
    const step: Step = ['accept', name, newname];
    if (flags !== null) step.push(flags);
    this.push(step);
    this.lastName = null;
    const likely = l !== undefined && l.open && l.file.listening && l.file.pending > 0;
    if (likely) {
      l.file.pending--;
      const file = this.newFile(l.file.domain, 'STREAM', nonblock);
      file.connected = true;
      file.timeo = l.file.timeo; // the child inherits the listener's timeouts
      file.bound = l.file.bound;
      this.bindName(newname, file);
      this.lastName = newname;
      if (!nonblock && !file.timeo) this.timeoutSteps(newname, file);
    } else if (this.names.has(newname)) {
      // A reused name: if the accept fails it keeps its old descriptor, if it succeeds it
      // names a new socket, which must not be left blocking without timeouts.
      if (!nonblock && !(l?.open && l.file.timeo)) this.timeoutSteps(newname, this.names.get(newname)!.file);
    }
    // Otherwise (a fresh name the accept most likely does not bind) the name is never used again.
    return true;
  }

  opSend(forced?: string, to?: string): boolean {
    const name = forced ?? this.chooseSocket((n) => n.file.connected || n.file.kind === 'DGRAM');
    if (name === null) return false;
    const n = this.names.get(name);
    const size = this.sendSize();
    const flags = weighted(this.rng, SEND_FLAGS);
    const variant = to !== undefined ? weighted(this.rng, [['sendto', 3], ['sendmsg', 1]] as const) : weighted(this.rng, [['send', 5], ['sendto', 2.5], ['sendmsg', 2.5]] as const);
    const domain = n?.file.domain ?? 'INET';
    const kind = n?.file.kind ?? 'STREAM';
    if (variant === 'send') this.push(['send', name, size, flags]);
    else if (variant === 'sendto') {
      const [a, p] = this.destination(domain, kind, n?.file ?? null, to);
      this.push(['sendto', name, size, flags, a, p]);
    } else if (to === undefined && (this.rng.chance(0.5) || kind === 'STREAM')) {
      this.push(['sendmsg', name, size, flags]);
    } else {
      const [a, p] = this.destination(domain, kind, n?.file ?? null, to);
      this.push(['sendmsg', name, size, flags, a, p]);
    }
    if (n && n.open && n.file.bound === null && kind === 'DGRAM') n.file.bound = { addr: domain === 'INET6' ? 'ANY6' : 'ANY4', port: 'eph' };
    return true;
  }

  opRecv(forced?: string): boolean {
    const name = forced ?? this.chooseSocket((n) => n.file.connected || n.file.kind === 'DGRAM' || n.file.listening);
    if (name === null) return false;
    const size = this.recvSize();
    const flags = weighted(this.rng, RECV_FLAGS);
    const variant = weighted(this.rng, [['recv', 5], ['recvfrom', 2.5], ['recvmsg', 2.5]] as const);
    this.push([variant, name, size, flags]);
    return true;
  }

  opShutdown(forced?: string): boolean {
    const name = forced ?? this.chooseSocket((n) => n.file.connected || n.file.listening);
    if (name === null) return false;
    const how = weighted<string | number>(this.rng, [['RD', 2], ['WR', 4], ['RDWR', 3], [3, 0.3], [-1, 0.2]] as const);
    this.push(['shutdown', name, how]);
    const n = this.names.get(name);
    if (n && n.open && (how === 'WR' || how === 'RDWR')) n.file.shutWr = true;
    return true;
  }

  opClose(forced?: string): boolean {
    const all = this.openNames();
    let name: string;
    if (forced !== undefined) name = forced;
    else if (all.length === 0 || this.rng.chance(0.06)) {
      if (this.names.size === 0) return false;
      name = pick(this.rng, [...this.names.keys()]);
    } else name = pick(this.rng, all).name;
    this.push(['close', name]);
    const n = this.names.get(name)!;
    this.closeName(n);
    return true;
  }

  opDup(): boolean {
    const name = this.chooseSocket();
    if (name === null) return false;
    const src = this.names.get(name)!;
    const newname = this.freshName(DUP_NAMES, 0.2);
    const variant = weighted(this.rng, [['dup', 4], ['dup2', 3], ['dup3', 2]] as const);
    if (variant === 'dup') {
      this.push(['dup', name, newname]);
      if (src.open) this.bindName(newname, src.file);
      return true;
    }
    let target: number;
    const others = this.openNames((n) => n !== src);
    const r = this.rng.next();
    if (r < 0.25 && others.length > 0) target = pick(this.rng, others).fd;
    else if (r < 0.35) target = src.fd;
    else if (r < 0.38) target = -1;
    else target = this.rng.int(0, 7);
    const step: Step = [variant, name, newname, target];
    let flags: string | null = null;
    if (variant === 'dup3') {
      flags = weighted(this.rng, [[null, 2], ['CLOEXEC', 3], ['NONBLOCK', 0.5], ['', 0.5]] as const);
      if (flags !== null) step.push(flags);
    }
    this.push(step);
    const ok = src.open && target >= 0 && !(variant === 'dup3' && (target === src.fd || flags === 'NONBLOCK'));
    if (!ok) return true; // a fresh newname stays unknown and is never used
    if (target !== src.fd) {
      // Whatever was open on the target is closed; names for that number now reach src's file.
      for (const o of this.openNames((o) => o.fd === target)) o.file = src.file;
      this.fdsInUse.add(target);
    }
    this.bindName(newname, src.file, target);
    return true;
  }

  opSetsockopt(): boolean {
    const name = this.chooseSocket();
    if (name === null) return false;
    const n = this.names.get(name)!;
    const f = n.file;
    const r = this.rng.next();
    if (r < 0.1) {
      // Timeouts: never 0 on a socket that could block, never long.
      const opt = pick(this.rng, ['SO_RCVTIMEO', 'SO_SNDTIMEO']);
      const value = this.rng.chance(0.15) ? { bytes: pick(this.rng, ['', '01', '0100000000000000']) } : { timeval: this.rng.int(1, 5) * 1000 };
      if (f.listening && f.pending > 0) return false; // queued children would miss them
      if (!f.timeo && 'timeval' in value && n.open) {
        // Set both, so the socket can safely become blocking later.
        if (this.room() < 2) return false;
        this.timeoutSteps(name, f);
        return true;
      }
      this.push(['setsockopt', name, 'SOL_SOCKET', opt, value]);
      return true;
    }
    if (r < 0.17) {
      // Abortive close (l_onoff 1, l_linger 0) or lingering off: never a blocking linger.
      const v = pick(this.rng, [[1, 0], [1, 0], [0, 0], [0, 5]]);
      this.push(['setsockopt', name, 'SOL_SOCKET', 'SO_LINGER', this.rng.chance(0.1) ? { bytes: '01000000' } : { linger: v }]);
      return true;
    }
    if (r < 0.2) {
      // Odd option names, levels and lengths.
      const odd = pick(this.rng, [
        ['SOL_SOCKET', 9999, 1],
        [255, 1, 1],
        ['IPPROTO_TCP', 'TCP_NODELAY', { bytes: '01' }],
        ['SOL_SOCKET', 'SO_REUSEADDR', { bytes: '' }],
        ['SOL_SOCKET', 'SO_KEEPALIVE', { bytes: '0100000000' }],
        ['IPPROTO_IP', 'IP_TOS', { bytes: '10' }],
        ['IPPROTO_TCP', 'TCP_CONGESTION', { bytes: '637562696300' }],
        ['IPPROTO_TCP', 'TCP_INFO', 1],
      ] as const);
      this.push(['setsockopt', name, ...odd]);
      return true;
    }
    const matching = INT_OPTS.filter(([lv]) => {
      if (lv === 'IPPROTO_TCP') return f.kind === 'STREAM' || this.rng.chance(0.1);
      if (lv === 'IPPROTO_UDP') return f.kind === 'DGRAM' || this.rng.chance(0.1);
      if (lv === 'IPPROTO_IPV6') return f.domain === 'INET6' || this.rng.chance(0.1);
      return true;
    });
    const [lv, opt, values] = pick(this.rng, matching.length > 0 ? matching : INT_OPTS);
    this.push(['setsockopt', name, lv, opt, pick(this.rng, values)]);
    return true;
  }

  opGetsockopt(): boolean {
    const name = this.chooseSocket();
    if (name === null) return false;
    const f = this.names.get(name)!.file;
    const matching = GET_OPTS.filter(([lv]) => {
      if (lv === 'IPPROTO_TCP') return f.kind === 'STREAM' || this.rng.chance(0.1);
      if (lv === 'IPPROTO_UDP') return f.kind === 'DGRAM' || this.rng.chance(0.1);
      if (lv === 'IPPROTO_IPV6') return f.domain === 'INET6' || this.rng.chance(0.1);
      return true;
    });
    const [lv, opt] = pick(this.rng, matching);
    const step: Step = ['getsockopt', name, lv, opt];
    if (this.rng.chance(0.04)) step.push(pick(this.rng, [0, 1, 2, 3, 8]));
    this.push(step);
    return true;
  }

  opIoctl(): boolean {
    const name = this.chooseSocket();
    if (name === null) return false;
    const f = this.names.get(name)!.file;
    const r = this.rng.next();
    if (r < 0.4) this.push(['ioctl', name, 'FIONREAD']);
    else if (r < 0.6) this.push(['ioctl', name, 'SIOCOUTQ']);
    else if (r < 0.65) this.push(['ioctl', name, 'SIOCATMARK']);
    else {
      // Blocking only when timeouts make it safe.
      const on = this.mayBlock(name) && this.rng.chance(0.5) ? 0 : 1;
      this.push(['ioctl', name, 'FIONBIO', on]);
      f.nonblock = on === 1;
    }
    return true;
  }

  /** True when `name` surely reaches a file with timeouts, so it may be made blocking. */
  mayBlock(name: string): boolean {
    const n = this.names.get(name);
    return n !== undefined && n.open && n.file.timeo;
  }

  opFcntl(): boolean {
    const name = this.chooseSocket();
    if (name === null) return false;
    const f = this.names.get(name)!.file;
    if (this.rng.chance(0.5)) this.push(['fcntl', name, 'GETFL']);
    else {
      const on = this.mayBlock(name) && this.rng.chance(0.5) ? 0 : 1;
      this.push(['fcntl', name, 'SETFL', on]);
      f.nonblock = on === 1;
    }
    return true;
  }

  opName(): boolean {
    const name = this.chooseSocket();
    if (name === null) return false;
    this.push([this.rng.chance(0.5) ? 'getsockname' : 'getpeername', name]);
    return true;
  }

  /** 1–3 distinct names, mostly open sockets. */
  someNames(max = 3): string[] {
    const k = this.rng.int(1, max);
    const out: string[] = [];
    for (let i = 0; i < k * 2 && out.length < k; i++) {
      const s = this.chooseSocket(() => true, 0.08);
      if (s !== null && !out.includes(s)) out.push(s);
    }
    return out;
  }

  opPoll(forced?: string[]): boolean {
    const names = forced ?? this.someNames();
    if (names.length === 0) return false;
    this.push(['poll', names.map((n) => [n, weighted(this.rng, POLL_EVENTS)]), this.waitMs()]);
    return true;
  }

  opSelect(): boolean {
    const all = this.someNames(4);
    if (all.length === 0) return false;
    const r: string[] = [];
    const w: string[] = [];
    const x: string[] = [];
    for (const n of all) {
      if (this.rng.chance(0.7)) r.push(n);
      if (this.rng.chance(0.6)) w.push(n);
      if (this.rng.chance(0.2)) x.push(n);
    }
    this.push(['select', r, w, x, this.waitMs()]);
    return true;
  }

  opEpollCreate(): boolean {
    const name = this.freshName(EPOLL_NAMES, 0.3);
    const step: Step = ['epoll_create', name];
    if (this.rng.chance(0.1)) step.push('CLOEXEC');
    this.push(step);
    const file = this.newFile('INET', 'STREAM', false);
    file.epoll = true;
    this.bindName(name, file);
    return true;
  }

  epolls(): NameModel[] {
    return [...this.names.values()].filter((n) => n.file.epoll);
  }

  opEpollCtl(forcedTarget?: string): boolean {
    const eps = this.epolls();
    if (eps.length === 0) return false;
    const openEps = eps.filter((e) => e.open);
    const e = openEps.length > 0 && this.rng.chance(0.95) ? pick(this.rng, openEps) : pick(this.rng, eps);
    const op = weighted<string | number>(this.rng, [['ADD', 6], ['MOD', 2.5], ['DEL', 1.5], [7, 0.1]] as const);
    let target: string | null;
    const r = this.rng.next();
    if (r < 0.03) target = e.name;
    else if (r < 0.06 && eps.length > 1) target = pick(this.rng, eps.filter((x) => x !== e)).name;
    else target = forcedTarget ?? this.chooseSocket();
    if (target === null) return false;
    let events = weighted(this.rng, EPOLL_BASE);
    const mods: string[] = [];
    if (this.rng.chance(0.3)) mods.push('ET');
    if (this.rng.chance(0.15)) mods.push('ONESHOT');
    if (this.rng.chance(op === 'ADD' ? 0.1 : 0.05)) mods.push('EXCLUSIVE');
    if (mods.length > 0) events = events === '' ? mods.join('|') : `${events}|${mods.join('|')}`;
    this.push(['epoll_ctl', e.name, op, target, events]);
    return true;
  }

  opEpollWait(): boolean {
    const eps = this.epolls();
    if (eps.length === 0) return false;
    const e = pick(this.rng, eps);
    const maxevents = this.rng.chance(0.95) ? this.rng.int(1, 8) : pick(this.rng, [0, -1]);
    this.push(['epoll_wait', e.name, maxevents, this.waitMs()]);
    return true;
  }

  opSleep(): boolean {
    this.push(['sleep', this.rng.int(0, MAX_WAIT_MS)]);
    return true;
  }

  /** Weighted choice of the next operation given the model. */
  step(): void {
    const socks = this.sockets();
    const live = socks.length;
    const streams = socks.filter((n) => n.file.kind === 'STREAM');
    const listeners = streams.filter((n) => n.file.listening);
    const pending = listeners.some((n) => n.file.pending > 0);
    const connected = socks.some((n) => n.file.connected);
    const boundUnlistened = streams.some((n) => n.file.bound !== null && !n.file.listening && !n.file.connected);
    const unbound = socks.some((n) => n.file.bound === null);
    const hasEpoll = this.epolls().length > 0;
    const canCreate = this.createdSockets < this.maxSockets;
    const ops: ReadonlyArray<readonly [() => boolean, number]> = [
      [() => this.opSocket(), canCreate ? (live === 0 ? 50 : 2.5) : live === 0 ? 0.3 : 0],
      [() => this.opSocketpair(), canCreate && this.createdSockets + 2 <= this.maxSockets ? 0.15 : 0],
      [() => this.opBind(), unbound ? 3 : 0.4],
      [() => this.opListen(), boundUnlistened ? 3 : 0.3],
      [() => this.opConnect(), listeners.length > 0 || socks.some((n) => n.file.kind === 'DGRAM') ? 2.5 : 0.6],
      [() => this.opAccept(), pending ? 4 : listeners.length > 0 ? 1 : 0.15],
      [() => this.opSend(), connected ? 4 : 1],
      [() => this.opRecv(), connected ? 4 : 1],
      [() => this.opShutdown(), connected ? 0.8 : 0.2],
      [() => this.opClose(), live > 0 ? 0.8 : 0.1],
      [() => this.opDup(), 0.35],
      [() => this.opSetsockopt(), 1.2],
      [() => this.opGetsockopt(), 1.2],
      [() => this.opIoctl(), 0.6],
      [() => this.opFcntl(), 0.4],
      [() => this.opName(), 0.7],
      [() => this.opPoll(), 1],
      [() => this.opSelect(), 0.6],
      [() => this.opEpollCreate(), hasEpoll ? 0.1 : 0.6],
      [() => this.opEpollCtl(), hasEpoll ? 1.6 : 0],
      [() => this.opEpollWait(), hasEpoll ? 1.4 : 0],
      [() => this.opSleep(), 0.3],
    ];
    if (this.plan.length > 0 && this.rng.chance(0.7)) {
      if (this.plan.shift()!()) return;
    }
    for (let tries = 0; tries < 10; tries++) {
      if (weighted(this.rng, ops)()) return;
    }
    this.opSleep();
  }
}

/** One scenario from `rng`, named `name`. */
export function generateScenario(rng: SeededRng, name: string): Scenario {
  const b = new Builder(rng);
  while (b.steps.length < b.target) b.step();
  if (b.steps.length > MAX_STEPS) b.steps.length = MAX_STEPS;
  return { name, steps: b.steps };
}

/** Scenario `index` of `seed`, named "<seed>:<index>" (each scenario has its own stream: any one can be regenerated alone). */
export function generateScenarioAt(seed: number, index: number): Scenario {
  return generateScenario(new SeededRng(seed).fork(`scenario ${index}`), `${seed}:${index}`);
}

/** `count` scenarios named "<seed>:<index>", the same for the same seed. */
export function generateScenarios(seed: number, count: number): Scenario[] {
  const out: Scenario[] = [];
  for (let i = 0; i < count; i++) out.push(generateScenarioAt(seed, i));
  return out;
}

// The host side of source-filtered multicast membership, shared by IGMPv3 (RFC 3376) and
// MLDv2 (RFC 3810, which repeats RFC 3376 §3 and §5 for IPv6): per-socket filters
// (IPMulticastListen, §3.1), the interface state merged from them (§3.2), State-Change
// Reports with their retransmission and merging rules (§5.1), and Current-State answers to
// queries (§5.2). A pure state machine: time comes in as `now` (µs), randomness from the
// injected SeededRng, and poll(now) emits what is due and says when to call again.
//
// The address type A is a number for IPv4 and a 16-byte Uint8Array for IPv6; `key` maps an
// address to a value that compares with === (and sorts, so records list sources in order).

import { ErrnoError } from '../errno.js';
import type { SeededRng } from '../rng.js';

/** RFC 3376 §4.2.12 record types, which RFC 3810 §5.2.12 shares. */
import { IgmpRecordType as RecordType } from '../wire/igmp.js';
export { RecordType };

export interface MulticastRecord<A> {
  /** 1 IS_IN, 2 IS_EX, 3 TO_IN, 4 TO_EX, 5 ALLOW, 6 BLOCK. */
  type: number;
  group: A;
  sources: A[];
}

export type FilterMode = 'include' | 'exclude';

export interface FilterState<A> {
  mode: FilterMode;
  sources: A[];
}

export interface MulticastHostOptions<A> {
  /** Robustness Variable (RFC 3376 §8.1): State-Change Reports are sent this many times. Default 2. */
  robustness?: number;
  /** Unsolicited Report Interval (RFC 3376 §8.11), µs. Default 1 s. */
  unsolicitedIntervalUs?: number;
  /** Sources one socket may name for one group; Linux: sysctl igmp_max_msf (default 10). */
  maxSourcesPerSocket?: number;
  /** False for groups that keep state but are never reported (224.0.0.1, ff02::1, scope 0/1). */
  reportable?: (group: A) => boolean;
}

type Key = string | number;

interface SourceSet<A> {
  mode: FilterMode;
  sources: Map<Key, A>;
}

class GroupEntry<A> {
  /** IPMulticastListen state of each socket (RFC 3376 §3.1). INCLUDE {} is no entry. */
  readonly sockets = new Map<number, SourceSet<A>>();
  /** Interface state (§3.2) as last reported: in any-source mode, projected to INCLUDE {} or EXCLUDE {}. */
  reported: SourceSet<A> = { mode: 'include', sources: new Map() };
  /** §5.1: Filter Mode Change records still to send. */
  modeLeft = 0;
  /** §5.1: per-source retransmission state, reports still to send naming each source. */
  readonly sourceLeft = new Map<Key, { addr: A; left: number }>();
  changeAt = Infinity;
  /** §5.2: group timer and the recorded sources (empty: a Group-Specific Query). */
  responseAt = Infinity;
  readonly responseSources = new Map<Key, A>();
  constructor(readonly group: A) {}
}

export class MulticastHost<A> {
  private readonly entries = new Map<Key, GroupEntry<A>>();
  private readonly robustness: number;
  private readonly unsolicitedUs: number;
  private readonly maxSources: number;
  private readonly reportable: (group: A) => boolean;
  /** §5.2: the interface timer, a pending response to a General Query. */
  private generalAt = Infinity;
  /**
   * Older-version compatibility (RFC 3376 §7.2.1, RFC 3810 §8.2.1): IGMPv1/v2 and MLDv1
   * can only say "join" and "leave", so source lists are ignored and the reported state is
   * projected to EXCLUDE {} (a member) or INCLUDE {} (not).
   */
  private anySource = false;

  constructor(
    private readonly rng: SeededRng,
    private readonly key: (a: A) => Key,
    /** Every record due at one instant, in one call; the caller splits them into packets. */
    private readonly send: (records: MulticastRecord<A>[]) => void,
    opts: MulticastHostOptions<A> = {},
  ) {
    this.robustness = Math.max(1, opts.robustness ?? 2);
    this.unsolicitedUs = Math.max(1, opts.unsolicitedIntervalUs ?? 1_000_000);
    this.maxSources = opts.maxSourcesPerSocket ?? 10;
    this.reportable = opts.reportable ?? (() => true);
  }

  /**
   * One socket's filter for a group (RFC 3376 §3.1 IPMulticastListen); INCLUDE {} removes
   * it. A change of the interface state schedules a State-Change Report at `now`.
   */
  setFilter(socketId: number, group: A, mode: FilterMode, sources: readonly A[], now: number): void {
    // Linux: IP_MSFILTER and IP_ADD_SOURCE_MEMBERSHIP fail with ENOBUFS beyond igmp_max_msf.
    if (sources.length > this.maxSources) throw new ErrnoError('ENOBUFS', 'setsockopt');
    const k = this.key(group);
    let g = this.entries.get(k);
    if (g === undefined) {
      if (mode === 'include' && sources.length === 0) return;
      g = new GroupEntry(group);
      this.entries.set(k, g);
    }
    if (mode === 'include' && sources.length === 0) g.sockets.delete(socketId);
    else g.sockets.set(socketId, { mode, sources: this.toMap(sources) });
    this.stateChanged(g, now);
    this.forgetIfIdle(g, k);
  }

  /** Drops every filter of a socket (close()). */
  closeSocket(socketId: number, now: number): void {
    for (const [k, g] of [...this.entries]) {
      if (!g.sockets.delete(socketId)) continue;
      this.stateChanged(g, now);
      this.forgetIfIdle(g, k);
    }
  }

  /** A socket's own filter for a group, or null (INCLUDE {}). */
  socketFilter(socketId: number, group: A): FilterState<A> | null {
    const s = this.entries.get(this.key(group))?.sockets.get(socketId);
    return s === undefined ? null : { mode: s.mode, sources: this.sorted(s.sources) };
  }

  /**
   * Linux ip_mc_sf_allow(): whether the socket's own filter lets `source` through to
   * `group`. A socket with no membership gets `notJoined` (Linux: IP_MULTICAST_ALL).
   */
  socketAccepts(socketId: number, group: A, source: A, notJoined = false): boolean {
    const s = this.entries.get(this.key(group))?.sockets.get(socketId);
    if (s === undefined) return notJoined;
    return s.sources.has(this.key(source)) === (s.mode === 'include');
  }

  /** RFC 3376 §3.2: the interface state for a group, null when it is INCLUDE {}. */
  interfaceState(group: A): FilterState<A> | null {
    const g = this.entries.get(this.key(group));
    if (g === undefined) return null;
    const s = this.merge(g);
    if (s.mode === 'include' && s.sources.size === 0) return null;
    return { mode: s.mode, sources: this.sorted(s.sources) };
  }

  /** Whether the interface state lets a packet from `source` to `group` in. */
  accepts(group: A, source: A): boolean {
    const g = this.entries.get(this.key(group));
    if (g === undefined) return false;
    const s = this.merge(g);
    return s.sources.has(this.key(source)) === (s.mode === 'include');
  }

  /** Any interface state other than INCLUDE {}. */
  isMember(group: A): boolean {
    const g = this.entries.get(this.key(group));
    return g !== undefined && hasState(this.merge(g));
  }

  /** The groups with interface state other than INCLUDE {}. */
  groups(): A[] {
    const out: A[] = [];
    for (const g of this.entries.values()) if (hasState(this.merge(g))) out.push(g.group);
    return out;
  }

  /**
   * Switches older-version compatibility on or off (RFC 3376 §7.2.1: "Whenever a host
   * changes its compatibility mode, it cancels all its pending response and retransmission
   * timers"). The reported state becomes the current one, projected as the mode requires.
   */
  setAnySource(on: boolean): void {
    this.anySource = on;
    this.cancelPending();
    for (const g of this.entries.values()) g.reported = this.project(this.merge(g));
  }

  /** Cancels every pending response and retransmission. */
  cancelPending(): void {
    this.generalAt = Infinity;
    for (const [k, g] of [...this.entries]) {
      g.modeLeft = 0;
      g.sourceLeft.clear();
      g.changeAt = Infinity;
      g.responseAt = Infinity;
      g.responseSources.clear();
      this.forgetIfIdle(g, k);
    }
  }

  /**
   * RFC 3376 §5.2: schedules the answer to a General (group null), Group-Specific or
   * Group-and-Source-Specific Query after a random delay in [0, maxRespUs).
   */
  query(group: A | null, sources: readonly A[], maxRespUs: number, now: number): void {
    if (group === null && this.anySource) {
      // RFC 2236 §3, RFC 2710 §4: an older-version General Query starts a timer, each with
      // its own random delay, for every group the host is a member of at this moment.
      for (const g of this.entries.values()) this.query(g.group, [], maxRespUs, now);
      return;
    }
    const at = now + Math.floor(this.rng.next() * Math.max(1, maxRespUs));
    // 1. A pending General Query response due no later covers this query too.
    if (this.generalAt <= at) return;
    // 2. A General Query: the interface timer; any later pending general response is replaced.
    if (group === null) {
      this.generalAt = at;
      return;
    }
    const g = this.entries.get(this.key(group));
    if (g === undefined || !hasState(this.project(this.merge(g))) || !this.reportable(g.group)) return;
    const sourceSpecific = sources.length > 0 && !this.anySource;
    if (g.responseAt === Infinity) {
      // 3. No pending response for this group: the group timer, recording the sources.
      g.responseAt = at;
      g.responseSources.clear();
      if (sourceSpecific) for (const s of sources) g.responseSources.set(this.key(s), s);
      return;
    }
    // 4. A Group-Specific Query, or a pending one: a single response about the whole group.
    if (!sourceSpecific || g.responseSources.size === 0) g.responseSources.clear();
    // 5. Both source-specific: the recorded list grows by the queried sources.
    else for (const s of sources) g.responseSources.set(this.key(s), s);
    g.responseAt = Math.min(g.responseAt, at);
  }

  /** Sends everything due at `now` in one call; returns the next deadline (Infinity for none). */
  poll(now: number): number {
    // Fast path, taken on almost every call (the runtime polls between frames): nothing is
    // due, so nothing to send and nothing to forget (entries become idle only when a timer
    // fires or a socket leaves, and both forget them there). Allocates nothing.
    let next = this.generalAt;
    if (next > now) {
      if (this.entries.size === 0) return next; // not even an iterator
      let due = false;
      for (const g of this.entries.values()) {
        if (g.changeAt <= now || g.responseAt <= now) {
          due = true;
          break;
        }
        if (g.changeAt < next) next = g.changeAt;
        if (g.responseAt < next) next = g.responseAt;
      }
      if (!due) return next;
    }
    const out: MulticastRecord<A>[] = [];
    for (const [k, g] of [...this.entries]) {
      if (g.changeAt <= now) this.sendChange(g, now, out);
      if (g.responseAt <= now) {
        this.answerGroup(g, out);
        g.responseAt = Infinity;
        g.responseSources.clear();
      }
      this.forgetIfIdle(g, k);
    }
    if (this.generalAt <= now) {
      // §5.2: one Current-State Record for every group with reception state.
      this.generalAt = Infinity;
      for (const g of this.entries.values()) {
        const s = this.project(this.merge(g));
        if (hasState(s) && this.reportable(g.group)) out.push(this.record(s.mode === 'include' ? RecordType.ModeIsInclude : RecordType.ModeIsExclude, g.group, s.sources));
      }
    }
    if (out.length > 0) this.send(out);
    next = this.generalAt;
    for (const g of this.entries.values()) next = Math.min(next, g.changeAt, g.responseAt);
    return next;
  }

  /** §5.1: compares the new interface state with the reported one and updates the pending report. */
  private stateChanged(g: GroupEntry<A>, now: number): void {
    const old = g.reported;
    const cur = this.project(this.merge(g));
    g.reported = cur;
    if (!this.reportable(g.group)) return;
    let changed = false;
    if (old.mode !== cur.mode) {
      // A Filter Mode Change record carries the whole new list, which supersedes any
      // pending source-list changes. Older versions send a leave once (RFC 2236 §3, RFC 2710 §4).
      g.modeLeft = this.anySource && cur.mode === 'include' ? 1 : this.robustness;
      g.sourceLeft.clear();
      changed = true;
    } else {
      // INCLUDE(A)→INCLUDE(B): ALLOW(B-A), BLOCK(A-B); EXCLUDE(A)→EXCLUDE(B): ALLOW(A-B),
      // BLOCK(B-A). Either way the changed sources are the symmetric difference; whether
      // each goes in ALLOW or BLOCK follows from the current state when the report is built.
      for (const [from, to] of [[cur.sources, old.sources], [old.sources, cur.sources]] as const) {
        for (const [k, a] of from) {
          if (to.has(k)) continue;
          g.sourceLeft.set(k, { addr: a, left: this.robustness });
          changed = true;
        }
      }
    }
    // Each change is sent at once; the merged report becomes the first of Robustness.
    if (changed) g.changeAt = now;
  }

  private sendChange(g: GroupEntry<A>, now: number, out: MulticastRecord<A>[]): void {
    const cur = g.reported;
    if (g.modeLeft > 0) {
      out.push(this.record(cur.mode === 'include' ? RecordType.ChangeToInclude : RecordType.ChangeToExclude, g.group, cur.sources));
      g.modeLeft--;
    } else {
      const allow: A[] = [];
      const block: A[] = [];
      for (const [k, s] of g.sourceLeft) ((cur.sources.has(k) === (cur.mode === 'include')) ? allow : block).push(s.addr);
      // §5.1: an ALLOW or BLOCK record with no sources is left out.
      if (allow.length) out.push(this.record(RecordType.AllowNewSources, g.group, this.toMap(allow)));
      if (block.length) out.push(this.record(RecordType.BlockOldSources, g.group, this.toMap(block)));
    }
    let left = g.modeLeft;
    for (const [k, s] of g.sourceLeft) {
      if (--s.left <= 0) g.sourceLeft.delete(k);
      else left = Math.max(left, s.left);
    }
    // §5.1: retransmitted at random intervals in (0, Unsolicited Report Interval).
    g.changeAt = left > 0 ? now + 1 + Math.floor(this.rng.next() * (this.unsolicitedUs - 1)) : Infinity;
  }

  /** §5.2: the answer to a Group-Specific or Group-and-Source-Specific Query. */
  private answerGroup(g: GroupEntry<A>, out: MulticastRecord<A>[]): void {
    const s = this.project(this.merge(g));
    if (!hasState(s) || !this.reportable(g.group)) return;
    if (g.responseSources.size === 0) {
      out.push(this.record(s.mode === 'include' ? RecordType.ModeIsInclude : RecordType.ModeIsExclude, g.group, s.sources));
      return;
    }
    // INCLUDE(A), queried B: IS_IN(A*B); EXCLUDE(A), queried B: IS_IN(B-A); nothing if empty.
    const listened = new Map<Key, A>();
    for (const [k, a] of g.responseSources) if (s.sources.has(k) === (s.mode === 'include')) listened.set(k, a);
    if (listened.size > 0) out.push(this.record(RecordType.ModeIsInclude, g.group, listened));
  }

  /**
   * RFC 3376 §3.2: EXCLUDE if any socket excludes, with the intersection of the EXCLUDE
   * lists minus the union of the INCLUDE lists; otherwise INCLUDE with the union.
   */
  private merge(g: GroupEntry<A>): SourceSet<A> {
    let excl: Map<Key, A> | null = null;
    const incl = new Map<Key, A>();
    for (const s of g.sockets.values()) {
      if (s.mode === 'include') {
        for (const [k, a] of s.sources) incl.set(k, a);
      } else if (excl === null) {
        excl = new Map(s.sources);
      } else {
        for (const k of [...excl.keys()]) if (!s.sources.has(k)) excl.delete(k);
      }
    }
    if (excl === null) return { mode: 'include', sources: incl };
    for (const k of incl.keys()) excl.delete(k);
    return { mode: 'exclude', sources: excl };
  }

  private project(s: SourceSet<A>): SourceSet<A> {
    if (!this.anySource) return s;
    return { mode: hasState(s) ? 'exclude' : 'include', sources: new Map() };
  }

  private forgetIfIdle(g: GroupEntry<A>, k: Key): void {
    if (g.sockets.size === 0 && g.changeAt === Infinity && g.responseAt === Infinity) this.entries.delete(k);
  }

  private toMap(list: readonly A[]): Map<Key, A> {
    const m = new Map<Key, A>();
    for (const a of list) m.set(this.key(a), a);
    return m;
  }

  private sorted(m: Map<Key, A>): A[] {
    return [...m.keys()].sort(compareKeys).map((k) => m.get(k)!);
  }

  private record(type: number, group: A, sources: Map<Key, A>): MulticastRecord<A> {
    return { type, group, sources: this.sorted(sources) };
  }
}

function hasState<A>(s: SourceSet<A>): boolean {
  return s.mode === 'exclude' || s.sources.size > 0;
}

function compareKeys(a: Key, b: Key): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * RFC 3376 §4.2.16 / RFC 3810 §5.2.15: splits records into reports of at most `room` bytes
 * of records, each record `headerLen` bytes plus `addrLen` per source. An IS_EX or TO_EX
 * record too long for one report keeps as many sources as fit; others are split into
 * several records of the same type.
 */
export function packRecords<A>(records: readonly MulticastRecord<A>[], room: number, headerLen: number, addrLen: number): MulticastRecord<A>[][] {
  const maxSources = Math.max(1, Math.floor((room - headerLen) / addrLen));
  const pieces: MulticastRecord<A>[] = [];
  for (const r of records) {
    if (r.sources.length <= maxSources) pieces.push(r);
    else if (r.type === RecordType.ModeIsExclude || r.type === RecordType.ChangeToExclude) pieces.push({ ...r, sources: r.sources.slice(0, maxSources) });
    else for (let i = 0; i < r.sources.length; i += maxSources) pieces.push({ ...r, sources: r.sources.slice(i, i + maxSources) });
  }
  const out: MulticastRecord<A>[][] = [];
  let cur: MulticastRecord<A>[] = [];
  let used = 0;
  for (const p of pieces) {
    const len = headerLen + addrLen * p.sources.length;
    if (cur.length > 0 && used + len > room) {
      out.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(p);
    used += len;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

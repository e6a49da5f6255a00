// Host side of IGMPv3 (RFC 3376 §5) over the shared membership core (multicast-host.ts):
// per-socket source filters merged into the interface state, State-Change Reports repeated
// Robustness Variable times (2) at random intervals up to the Unsolicited Report Interval
// (1 s, RFC 3376 §8.11), and answers to general, group-specific and group-and-source-
// specific queries after a random delay up to the Max Resp Time. Hearing an IGMPv1 or v2
// query switches the host to that version's messages for the Older Version Querier Present
// Timeout (RFC 3376 §7.2.1), during which source lists are ignored.

import type { SeededRng } from '../rng.js';
import type { Ipv4Address } from '../wire/address.js';
import { decodeIgmpFloat, type IgmpGroupRecord } from '../wire/igmp.js';
import { MulticastHost, packRecords, RecordType, type FilterMode, type FilterState, type MulticastRecord } from './multicast-host.js';

export const ALL_HOSTS = 0xe0000001 | 0; // 224.0.0.1
export const IGMPV3_ROUTERS = 0xe0000016 | 0; // 224.0.0.22
export const ALL_ROUTERS = 0xe0000002 | 0; // 224.0.0.2
const ROBUSTNESS = 2;
/** RFC 3376 §8.12: Robustness × Query Interval (125 s) + Query Response Interval (10 s). */
const OLDER_QUERIER_PRESENT_US = (ROBUSTNESS * 125 + 10) * 1_000_000;
/** The socket id of join()/leave() without one: any-source joins, counted per group. */
const ANY_SOURCE_JOINS = -1;

/** What the host asks the stack to send. */
export type IgmpMessage =
  | { version: 3; records: IgmpGroupRecord[] }
  | { version: 1 | 2; kind: 'report' | 'leave'; group: Ipv4Address };

export interface IgmpHostOptions {
  /** Sources one socket may name for one group (Linux sysctl igmp_max_msf, default 10). */
  maxSourcesPerSocket?: number;
  /** Link MTU, bounding each v3 report (RFC 3376 §4.2.16). Default 1500. */
  mtu?: number;
}

export function isMulticast(ip: Ipv4Address): boolean {
  return ip >>> 28 === 0xe;
}

/** RFC 1112 §6.4: 01:00:5e followed by the low 23 bits of the group. */
export function multicastMac(group: Ipv4Address, out: Uint8Array): Uint8Array {
  out[0] = 0x01;
  out[1] = 0x00;
  out[2] = 0x5e;
  out[3] = (group >>> 16) & 0x7f;
  out[4] = (group >>> 8) & 0xff;
  out[5] = group & 0xff;
  return out;
}

const NO_AUX = new Uint8Array(0);

export class IgmpHost {
  private readonly core: MulticastHost<Ipv4Address>;
  /** join()/leave() without a socket id count references per group, as before sockets had filters. */
  private readonly anySourceJoins = new Map<Ipv4Address, number>();
  /** Room for group records in one report: MTU − IPv4 header with Router Alert (24) − IGMP header (8). */
  private readonly reportRoom: number;
  reportsSent = 0;
  /** Compatibility mode (RFC 3376 §7.2.1): 1, 2 or 3, and until when an older mode lasts. */
  private olderVersion: 1 | 2 | 3 = 3;
  private olderUntil = -Infinity;
  /** The mode the core was last told about. */
  private mode: 1 | 2 | 3 = 3;

  constructor(
    rng: SeededRng,
    /** Sends one IGMP message. */
    private readonly send: (msg: IgmpMessage) => void,
    opts: IgmpHostOptions = {},
  ) {
    this.reportRoom = (opts.mtu ?? 1500) - 24 - 8;
    this.core = new MulticastHost<Ipv4Address>(rng, (a) => a, (records) => this.emit(records), {
      robustness: ROBUSTNESS,
      unsolicitedIntervalUs: 1_000_000,
      maxSourcesPerSocket: opts.maxSourcesPerSocket ?? 10,
      // RFC 3376 §5: the all-systems group is never reported.
      reportable: (g) => g !== ALL_HOSTS,
    });
  }

  /** The version the host speaks at `now`. */
  version(now: number): 1 | 2 | 3 {
    return now < this.olderUntil ? this.olderVersion : 3;
  }

  isMember(group: Ipv4Address): boolean {
    return group === ALL_HOSTS || this.core.isMember(group);
  }

  get memberships(): Ipv4Address[] {
    return this.core.groups();
  }

  /**
   * An any-source join (EXCLUDE {}). Without `socketId`, joins are counted per group and
   * the group is left when the count falls to zero.
   */
  join(group: Ipv4Address, now: number, socketId?: number): void {
    this.tick(now);
    if (socketId !== undefined) return this.core.setFilter(socketId, group, 'exclude', [], now);
    const n = this.anySourceJoins.get(group) ?? 0;
    this.anySourceJoins.set(group, n + 1);
    if (n === 0) this.core.setFilter(ANY_SOURCE_JOINS, group, 'exclude', [], now);
  }

  leave(group: Ipv4Address, now: number, socketId?: number): void {
    this.tick(now);
    if (socketId !== undefined) return this.core.setFilter(socketId, group, 'include', [], now);
    const n = this.anySourceJoins.get(group) ?? 0;
    if (n === 0) return;
    if (n > 1) {
      this.anySourceJoins.set(group, n - 1);
      return;
    }
    this.anySourceJoins.delete(group);
    this.core.setFilter(ANY_SOURCE_JOINS, group, 'include', [], now);
  }

  /** RFC 3376 §3.1 IPMulticastListen for one socket; INCLUDE {} leaves. Throws ENOBUFS beyond the source limit. */
  setFilter(socketId: number, group: Ipv4Address, mode: FilterMode, sources: readonly Ipv4Address[], now: number): void {
    this.tick(now);
    this.core.setFilter(socketId, group, mode, sources, now);
  }

  closeSocket(socketId: number, now: number): void {
    this.tick(now);
    this.core.closeSocket(socketId, now);
  }

  socketFilter(socketId: number, group: Ipv4Address): FilterState<Ipv4Address> | null {
    return this.core.socketFilter(socketId, group);
  }

  interfaceState(group: Ipv4Address): FilterState<Ipv4Address> | null {
    return this.core.interfaceState(group);
  }

  /** Whether the interface state admits a datagram from `source` to `group`. */
  accepts(group: Ipv4Address, source: Ipv4Address): boolean {
    return group === ALL_HOSTS || this.core.accepts(group, source);
  }

  /** Linux ip_mc_sf_allow(); a socket that has not joined gets `notJoined` (IP_MULTICAST_ALL). */
  socketAccepts(socketId: number, group: Ipv4Address, source: Ipv4Address, notJoined = false): boolean {
    return this.core.socketAccepts(socketId, group, source, notJoined);
  }

  /**
   * RFC 3376 §5.2: answer a query after a random delay within its Max Resp Time. A v1 or v2
   * query (its `version`) also sets the compatibility mode. `group` 0 is a General Query;
   * `sources` are a v3 query's source list.
   */
  query(version: 1 | 2 | 3, group: Ipv4Address, maxRespCode: number, now: number, sources: readonly Ipv4Address[] = []): void {
    this.tick(now);
    if (version < 3) {
      // The oldest version heard while its timer runs wins.
      this.olderVersion = Math.min(version, this.version(now)) as 1 | 2;
      this.olderUntil = now + OLDER_QUERIER_PRESENT_US;
      // RFC 2236 §4: a v1 query's zero Max Resp Time means 10 s.
      if (version === 1) maxRespCode = 100;
      this.tick(now);
    }
    const maxUs = Math.max(1, decodeIgmpFloat(maxRespCode)) * 100_000; // tenths of a second
    this.core.query(group === 0 ? null : group, sources, maxUs, now);
  }

  poll(now: number): number {
    this.tick(now);
    const next = this.core.poll(now);
    return this.olderUntil === -Infinity ? next : Math.min(next, this.olderUntil);
  }

  /** Applies a change of compatibility mode; RFC 3376 §7.2.1: pending timers are cancelled. */
  private tick(now: number): void {
    if (this.olderUntil !== -Infinity && now >= this.olderUntil) this.olderUntil = -Infinity;
    const v = this.version(now);
    if (v === this.mode) return;
    if ((v === 3) !== (this.mode === 3)) this.core.setAnySource(v !== 3);
    else this.core.cancelPending();
    this.mode = v;
  }

  private emit(records: MulticastRecord<Ipv4Address>[]): void {
    const v = this.mode;
    if (v === 3) {
      for (const batch of packRecords(records, this.reportRoom, 8, 4)) {
        this.reportsSent++;
        this.send({ version: 3, records: batch.map((r) => ({ recordType: r.type, group: r.group, sources: r.sources, auxData: NO_AUX })) });
      }
      return;
    }
    // RFC 3376 §7.2.1: in v1/v2 mode the core reports only joins (TO_EX {}), leaves
    // (TO_IN {}) and memberships (IS_EX {}); joins and memberships become v1/v2 reports,
    // leaves v2 leaves (IGMPv1 has none).
    for (const r of records) {
      if (r.type === RecordType.ChangeToInclude) {
        if (v === 2) this.send({ version: 2, kind: 'leave', group: r.group });
        continue;
      }
      if (r.type !== RecordType.ChangeToExclude && r.type !== RecordType.ModeIsExclude) continue;
      this.reportsSent++;
      this.send({ version: v, kind: 'report', group: r.group });
    }
  }
}

// Host side of MLDv2 (RFC 3810 §6) over the shared membership core (multicast-host.ts):
// the IPv6 twin of IgmpHost. Per-socket source filters merge into the interface state;
// State-Change Reports go Robustness (2) times at random intervals up to the Unsolicited
// Report Interval (1 s, RFC 3810 §9.11); queries are answered after a random delay up to
// their Maximum Response Delay. An MLDv1 query switches the host to MLDv1 reports and
// dones for the Older Version Querier Present Timeout (RFC 3810 §8.2.1, §9.12), during
// which source lists are ignored.

import type { SeededRng } from '../rng.js';
import type { Ipv6Address } from '../wire/address.js';
import type { MldAddressRecord } from '../wire/mld.js';
import { isUnspecified6 as isUnspecified, multicastScope6 as multicastScope } from './ipv6-address.js';
import { MulticastHost, packRecords, RecordType, type FilterMode, type FilterState, type MulticastRecord } from './multicast-host.js';

const ROBUSTNESS = 2;
/** RFC 3810 §9.12: Robustness × Query Interval (125 s) + Query Response Interval (10 s). */
const OLDER_QUERIER_PRESENT_US = (ROBUSTNESS * 125 + 10) * 1_000_000;
/** The socket id of join()/leave() without one: any-source joins, counted per group. */
const ANY_SOURCE_JOINS = -1;
/** IPv6 header (40) + Hop-by-Hop with Router Alert (8) + MLDv2 report header (8). */
const REPORT_OVERHEAD = 40 + 8 + 8;

export { ALL_NODES, MLDV2_ROUTERS as ALL_MLDV2_ROUTERS, ALL_ROUTERS_V6 as ALL_ROUTERS6 } from './ipv6-address.js';
/** RFC 2464 §7's 33:33 MAC is multicastMac6. */
export { multicastMac6 as ipv6MulticastMac } from './ipv6-address.js';
export { isMulticast6 as isIpv6Multicast, multicastScope6 as multicastScope, solicitedNode as solicitedNodeMulticast } from './ipv6-address.js';

/** What the host asks the stack to send. */
export type MldMessage =
  | { version: 2; records: MldAddressRecord[] }
  | { version: 1; kind: 'report' | 'done'; group: Uint8Array };

export interface MldHostOptions {
  /** Sources one socket may name for one group (Linux sysctl mld_max_msf, default 10 here as for IGMP). */
  maxSourcesPerSocket?: number;
  /** Link MTU, bounding each v2 report (RFC 3810 §5.2.15). Default 1500. */
  mtu?: number;
}


const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A fixed-length hex string: compares with === and sorts as the address does. */
function addressKey(a: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 16; i++) s += HEX[a[i] ?? 0];
  return s;
}

function isAllNodes(a: Uint8Array): boolean {
  if (a[0] !== 0xff || (a[1] !== 0x01 && a[1] !== 0x02) || a[15] !== 1) return false;
  for (let i = 2; i < 15; i++) if (a[i] !== 0) return false;
  return true;
}


/**
 * RFC 3810 §6: no MLD messages for scope 0 (reserved) or 1 (interface-local), nor for the
 * link-scope all-nodes address ff02::1.
 */
export function isReportableMldGroup(group: Uint8Array): boolean {
  return multicastScope(group) > 1 && !isAllNodes(group);
}

const NO_AUX = new Uint8Array(0);

export class MldHost {
  private readonly core: MulticastHost<Ipv6Address>;
  private readonly anySourceJoins = new Map<string, number>();
  private readonly reportRoom: number;
  reportsSent = 0;
  /** RFC 3810 §8.2.1: until when an MLDv1 querier is known to be present. */
  private olderUntil = -Infinity;
  /** The mode the core was last told about. */
  private mode: 1 | 2 = 2;

  constructor(
    rng: SeededRng,
    /** Sends one MLD message. */
    private readonly send: (msg: MldMessage) => void,
    opts: MldHostOptions = {},
  ) {
    this.reportRoom = (opts.mtu ?? 1500) - REPORT_OVERHEAD;
    this.core = new MulticastHost<Ipv6Address>(rng, addressKey, (records) => this.emit(records), {
      robustness: ROBUSTNESS,
      unsolicitedIntervalUs: 1_000_000,
      maxSourcesPerSocket: opts.maxSourcesPerSocket ?? 10,
      reportable: isReportableMldGroup,
    });
  }

  /** The version the host speaks at `now`. */
  version(now: number): 1 | 2 {
    return now < this.olderUntil ? 1 : 2;
  }

  /** All-nodes (ff01::1, ff02::1) is always listened to (RFC 4291 §2.7.1). */
  isMember(group: Uint8Array): boolean {
    return isAllNodes(group) || this.core.isMember(group);
  }

  get memberships(): Ipv6Address[] {
    return this.core.groups();
  }

  /** An any-source join (EXCLUDE {}). Without `socketId`, joins are counted per group. */
  join(group: Uint8Array, now: number, socketId?: number): void {
    this.tick(now);
    if (socketId !== undefined) return this.core.setFilter(socketId, group.slice(0, 16), 'exclude', [], now);
    const k = addressKey(group);
    const n = this.anySourceJoins.get(k) ?? 0;
    this.anySourceJoins.set(k, n + 1);
    if (n === 0) this.core.setFilter(ANY_SOURCE_JOINS, group.slice(0, 16), 'exclude', [], now);
  }

  leave(group: Uint8Array, now: number, socketId?: number): void {
    this.tick(now);
    if (socketId !== undefined) return this.core.setFilter(socketId, group.slice(0, 16), 'include', [], now);
    const k = addressKey(group);
    const n = this.anySourceJoins.get(k) ?? 0;
    if (n === 0) return;
    if (n > 1) {
      this.anySourceJoins.set(k, n - 1);
      return;
    }
    this.anySourceJoins.delete(k);
    this.core.setFilter(ANY_SOURCE_JOINS, group, 'include', [], now);
  }

  /** RFC 3810 §4.1 IPv6MulticastListen for one socket; INCLUDE {} leaves. Throws ENOBUFS beyond the source limit. */
  setFilter(socketId: number, group: Uint8Array, mode: FilterMode, sources: readonly Uint8Array[], now: number): void {
    this.tick(now);
    this.core.setFilter(socketId, group.slice(0, 16), mode, sources.map((s) => s.slice(0, 16)), now);
  }

  closeSocket(socketId: number, now: number): void {
    this.tick(now);
    this.core.closeSocket(socketId, now);
  }

  socketFilter(socketId: number, group: Uint8Array): FilterState<Ipv6Address> | null {
    return this.core.socketFilter(socketId, group);
  }

  interfaceState(group: Uint8Array): FilterState<Ipv6Address> | null {
    return this.core.interfaceState(group);
  }

  accepts(group: Uint8Array, source: Uint8Array): boolean {
    return isAllNodes(group) || this.core.accepts(group, source);
  }

  /** Linux ip6_mc_source filtering (inet6_mc_check); a socket that has not joined gets `notJoined`. */
  socketAccepts(socketId: number, group: Uint8Array, source: Uint8Array, notJoined = false): boolean {
    return this.core.socketAccepts(socketId, group, source, notJoined);
  }

  /**
   * RFC 3810 §6.2 (v2) or RFC 2710 §4 (v1): schedules the answer to a query. `group` null
   * or :: is a General Query; `maxRespMs` is the decoded Maximum Response Delay.
   */
  query(version: 1 | 2, group: Uint8Array | null, sources: readonly Uint8Array[], maxRespMs: number, now: number): void {
    if (version === 1) this.olderUntil = now + OLDER_QUERIER_PRESENT_US;
    this.tick(now);
    const g = group === null || isUnspecified(group) ? null : group;
    this.core.query(g, version === 1 ? [] : sources, Math.max(1, maxRespMs) * 1000, now);
  }

  poll(now: number): number {
    this.tick(now);
    const next = this.core.poll(now);
    return this.olderUntil === -Infinity ? next : Math.min(next, this.olderUntil);
  }

  /** RFC 3810 §8.2.1: a change of compatibility mode cancels pending timers. */
  private tick(now: number): void {
    if (this.olderUntil !== -Infinity && now >= this.olderUntil) this.olderUntil = -Infinity;
    const v = this.version(now);
    if (v === this.mode) return;
    this.core.setAnySource(v === 1);
    this.mode = v;
  }

  private emit(records: MulticastRecord<Ipv6Address>[]): void {
    if (this.mode === 2) {
      for (const batch of packRecords(records, this.reportRoom, 20, 16)) {
        this.reportsSent++;
        this.send({ version: 2, records: batch.map((r) => ({ recordType: r.type, group: r.group, sources: r.sources, auxData: NO_AUX })) });
      }
      return;
    }
    // RFC 3810 §8.2.2: in MLDv1 mode joins and memberships become v1 reports, leaves dones.
    for (const r of records) {
      if (r.type === RecordType.ChangeToInclude) {
        this.send({ version: 1, kind: 'done', group: r.group });
        continue;
      }
      if (r.type !== RecordType.ChangeToExclude && r.type !== RecordType.ModeIsExclude) continue;
      this.reportsSent++;
      this.send({ version: 1, kind: 'report', group: r.group });
    }
  }
}

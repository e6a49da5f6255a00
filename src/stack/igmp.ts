// Host side of IGMPv3 (RFC 3376 §5) for any-source membership: the interface state per
// group (a reference count of joins), state-change reports on join and leave, repeated
// Robustness Variable times (2) at random intervals up to the Unsolicited Report Interval
// (1 s, RFC 3376 §8.11), and answers to queries after a random delay up to the Max Resp
// Time. Hearing an IGMPv1 or v2 query switches the host to that version's messages for
// the Older Version Querier Present Timeout (RFC 3376 §7.2.1). Source-specific filters
// arrive with the rest of the multicast work.

import type { SeededRng } from '../rng.js';
import type { Ipv4Address } from '../wire/address.js';
import { decodeIgmpFloat, IgmpRecordType, type IgmpGroupRecord } from '../wire/igmp.js';

export const ALL_HOSTS = 0xe0000001; // 224.0.0.1
export const IGMPV3_ROUTERS = 0xe0000016; // 224.0.0.22
const ROBUSTNESS = 2;
const UNSOLICITED_INTERVAL_US = 1_000_000;
/** RFC 3376 §8.12: Robustness × Query Interval (125 s) + Query Response Interval (10 s). */
const OLDER_QUERIER_PRESENT_US = (ROBUSTNESS * 125 + 10) * 1_000_000;
export const ALL_ROUTERS = 0xe0000002; // 224.0.0.2

/** What the host asks the stack to send. */
export type IgmpMessage =
  | { version: 3; records: IgmpGroupRecord[] }
  | { version: 1 | 2; kind: 'report' | 'leave'; group: Ipv4Address };

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

class GroupState {
  refs = 0;
  /** State-change reports still to send, and when the next one goes. */
  changesLeft = 0;
  changeAt = Infinity;
  changeType: number = IgmpRecordType.ChangeToExclude;
  /** Pending answer to a query. */
  reportAt = Infinity;
  constructor(readonly group: Ipv4Address) {}
}

export class IgmpHost {
  private readonly groups = new Map<Ipv4Address, GroupState>();
  /** Groups left whose CHANGE_TO_INCLUDE reports are still being repeated. */
  private readonly leaving = new Map<Ipv4Address, GroupState>();
  reportsSent = 0;
  /** Compatibility mode (RFC 3376 §7.2.1): 1, 2 or 3, and until when an older mode lasts. */
  private olderVersion: 1 | 2 | 3 = 3;
  private olderUntil = -Infinity;

  constructor(
    private readonly rng: SeededRng,
    /** Sends one IGMP message. */
    private readonly send: (msg: IgmpMessage) => void,
  ) {}

  /** The version the host speaks at `now`. */
  version(now: number): 1 | 2 | 3 {
    return now < this.olderUntil ? this.olderVersion : 3;
  }

  isMember(group: Ipv4Address): boolean {
    return group === ALL_HOSTS || (this.groups.get(group)?.refs ?? 0) > 0;
  }

  get memberships(): Ipv4Address[] {
    return [...this.groups.keys()];
  }

  join(group: Ipv4Address, now: number): void {
    let g = this.groups.get(group);
    if (g === undefined) {
      g = this.leaving.get(group) ?? new GroupState(group);
      this.leaving.delete(group);
      this.groups.set(group, g);
    }
    if (g.refs++ === 0) this.stateChange(g, IgmpRecordType.ChangeToExclude, now);
  }

  leave(group: Ipv4Address, now: number): void {
    const g = this.groups.get(group);
    if (g === undefined || g.refs === 0) return;
    if (--g.refs > 0) return;
    this.groups.delete(group);
    this.leaving.set(group, g);
    g.reportAt = Infinity;
    this.stateChange(g, IgmpRecordType.ChangeToInclude, now);
  }

  /**
   * RFC 3376 §5.2: answer a query after a random delay within its Max Resp Time. A v1 or v2
   * query (its `version`) also sets the compatibility mode.
   */
  query(version: 1 | 2 | 3, group: Ipv4Address, maxRespCode: number, now: number): void {
    if (version < 3) {
      // The oldest version heard while its timer runs wins.
      this.olderVersion = Math.min(version, this.version(now)) as 1 | 2;
      this.olderUntil = now + OLDER_QUERIER_PRESENT_US;
      // RFC 2236 §4: a v1 query's zero Max Resp Time means 10 s.
      if (version === 1) maxRespCode = 100;
    }
    const maxUs = Math.max(1, decodeIgmpFloat(maxRespCode)) * 100_000; // tenths of a second
    const at = now + Math.floor(this.rng.next() * maxUs);
    for (const g of this.groups.values()) {
      if (group !== 0 && g.group !== group) continue;
      if (at < g.reportAt) g.reportAt = at;
    }
  }

  poll(now: number): number {
    let next = Infinity;
    const due: IgmpGroupRecord[] = [];
    if (this.olderUntil !== -Infinity && now >= this.olderUntil) this.olderUntil = -Infinity;
    if (this.olderUntil !== -Infinity) next = this.olderUntil;
    for (const map of [this.groups, this.leaving]) {
      for (const g of map.values()) {
        if (g.changeAt <= now) {
          due.push({ recordType: g.changeType, group: g.group, sources: [], auxData: new Uint8Array(0) });
          g.changesLeft--;
          // RFC 2236 §3: an IGMPv2 leave is sent once, not repeated like reports.
          if (map === this.leaving && this.version(now) < 3) g.changesLeft = 0;
          g.changeAt = g.changesLeft > 0 ? now + Math.floor(this.rng.next() * UNSOLICITED_INTERVAL_US) : Infinity;
          if (g.changesLeft === 0 && map === this.leaving) this.leaving.delete(g.group);
        }
        if (g.reportAt <= now) {
          // Current-state record: EXCLUDE {} means "any source" (RFC 3376 §4.2.12).
          due.push({ recordType: IgmpRecordType.ModeIsExclude, group: g.group, sources: [], auxData: new Uint8Array(0) });
          g.reportAt = Infinity;
        }
        next = Math.min(next, g.changeAt, g.reportAt);
      }
    }
    if (due.length) this.emit(due, now);
    return next;
  }

  private emit(due: IgmpGroupRecord[], now: number): void {
    const v = this.version(now);
    if (v === 3) {
      this.reportsSent++;
      this.send({ version: 3, records: due });
      return;
    }
    // RFC 3376 §7.2.1: in v1/v2 mode, state changes become v1/v2 reports and (v2 only) leaves.
    for (const r of due) {
      if (r.recordType === IgmpRecordType.ChangeToInclude) {
        if (v === 2) this.send({ version: 2, kind: 'leave', group: r.group });
        continue;
      }
      this.reportsSent++;
      this.send({ version: v, kind: 'report', group: r.group });
    }
  }

  private stateChange(g: GroupState, type: number, now: number): void {
    g.changeType = type;
    g.changesLeft = ROBUSTNESS;
    g.changeAt = now; // the first report goes at once
  }
}

// Host side of IGMPv3 (RFC 3376 §5) for any-source membership: the interface state per
// group (a reference count of joins), state-change reports on join and leave, repeated
// Robustness Variable times (2) at random intervals up to the Unsolicited Report Interval
// (1 s, RFC 3376 §8.11), and answers to queries after a random delay up to the Max Resp
// Time. Source-specific filters arrive with the rest of the multicast work.

import type { SeededRng } from '../rng.js';
import type { Ipv4Address } from '../wire/address.js';
import { decodeIgmpFloat, IgmpRecordType, type IgmpGroupRecord } from '../wire/igmp.js';

export const ALL_HOSTS = 0xe0000001; // 224.0.0.1
export const IGMPV3_ROUTERS = 0xe0000016; // 224.0.0.22
const ROBUSTNESS = 2;
const UNSOLICITED_INTERVAL_US = 1_000_000;

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

  constructor(
    private readonly rng: SeededRng,
    /** Sends one IGMPv3 report with these records. */
    private readonly sendReport: (records: IgmpGroupRecord[]) => void,
  ) {}

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

  /** RFC 3376 §5.2: answer a query after a random delay within its Max Resp Time. */
  query(group: Ipv4Address, maxRespCode: number, now: number): void {
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
    for (const map of [this.groups, this.leaving]) {
      for (const g of map.values()) {
        if (g.changeAt <= now) {
          due.push({ recordType: g.changeType, group: g.group, sources: [], auxData: new Uint8Array(0) });
          g.changesLeft--;
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
    if (due.length) {
      this.reportsSent++;
      this.sendReport(due);
    }
    return next;
  }

  private stateChange(g: GroupState, type: number, now: number): void {
    g.changeType = type;
    g.changesLeft = ROBUSTNESS;
    g.changeAt = now; // the first report goes at once
  }
}

// A network interface of the engine: its MAC and MTU, the Link it sends on, its IPv4 and
// IPv6 addresses (with IPv6 address states, RFC 4862), its neighbour caches (ARP, NDP),
// its multicast memberships (IGMP, MLD) and its counters by reason. Interface 1 is the
// loopback (`lo`), as in Linux. The protocol work lives in the stack; an interface is
// also the simulator's host for its NIC: receive() hands frames to the stack with the
// interface they came in on.

import type { Link } from '../link/link.js';
import type { Ipv4Address, Ipv6Address, MacAddress } from '../wire/address.js';
import type { NeighborCache } from './neighbor-cache.js';
import type { IgmpHost } from './igmp.js';
import type { MldHost } from './mld.js';
import { ipv6Key } from './ipv6-address.js';

export interface Ipv4InterfaceAddress {
  address: Ipv4Address;
  prefixLength: number;
}

/** RFC 4862 §5.5.4 address states, plus Linux's "dadfailed". */
export const AddressState = {
  Tentative: 'tentative',
  Preferred: 'preferred',
  Deprecated: 'deprecated',
  Duplicate: 'duplicate',
} as const;
export type AddressState = (typeof AddressState)[keyof typeof AddressState];

export class Ipv6InterfaceAddress {
  state: AddressState = AddressState.Tentative;
  /** µs; Infinity for static addresses (RFC 4862 §5.5.3 lifetimes for SLAAC ones). */
  validUntil = Infinity;
  preferredUntil = Infinity;
  /** Duplicate address detection: NS probes still to send and when the next step is due. */
  dadProbesLeft = 0;
  dadAt = Infinity;
  readonly key: string;
  constructor(
    readonly address: Ipv6Address,
    readonly prefixLength: number,
    /** 'static' (added by the user), 'link' (the fe80:: address), 'slaac' (from a router advertisement). */
    readonly origin: 'static' | 'link' | 'slaac',
  ) {
    this.key = ipv6Key(address);
  }
  /** Usable as a source and accepted as a destination (not tentative, not duplicate). */
  get usable(): boolean {
    return this.state === AddressState.Preferred || this.state === AddressState.Deprecated;
  }
}

/**
 * Counters of one interface as plain numbers (Linux's /proc/net/dev and the IP MIB's
 * discards, split by reason). Every dropped frame is counted in exactly one drop field.
 */
export class InterfaceCounters {
  rxFrames = 0;
  rxBytes = 0;
  txFrames = 0;
  txBytes = 0;
  /** Truncated or invalid headers, wrong versions or lengths. */
  dropMalformed = 0;
  /** A bad IPv4 header, UDP, ICMP or ICMPv6 checksum. */
  dropChecksum = 0;
  /** Not addressed to us (another MAC or IP, a group we have not joined, an EtherType we do not speak). */
  dropNotForUs = 0;
  /** Martian or spoofed sources (multicast, broadcast, loopback from outside, our own address). */
  dropMartian = 0;
  /** TTL or hop limit 0 on arrival (RFC 1122 §3.2.1.7: never sent). */
  dropTtl = 0;
  /** Multicast from a source the interface's filter excludes (RFC 3376 §3.2). */
  dropSourceFiltered = 0;
  /** An upper protocol we do not implement (ICMP protocol / parameter problem sent). */
  dropUnknownProtocol = 0;
  /** Fragments dropped by reassembly (overlaps, timeouts, memory bound). */
  dropReassembly = 0;
  /** Outgoing packets dropped: no route, neighbour resolution failed, no link. */
  txDropNoRoute = 0;
  txDropUnresolved = 0;
  txDropNoLink = 0;
}

export class NetInterface {
  link: Link | null = null;
  readonly ipv4: Ipv4InterfaceAddress[] = [];
  readonly ipv6: Ipv6InterfaceAddress[] = [];
  readonly counters = new InterfaceCounters();
  /** IPv6 link MTU from a router advertisement (RFC 4861 §6.3.4), 0 when none. */
  raMtu = 0;
  /** Cur Hop Limit from a router advertisement (0: none; then 64). */
  hopLimit = 64;
  /** Router solicitations still to send and when the next goes (RFC 4861 §6.3.7). */
  rsLeft = 0;
  rsAt = Infinity;
  /** net.ipv6.conf.*.accept_ra and autoconf. */
  acceptRa = true;
  autoconf = true;
  /** Whether IPv6 runs on this interface (link-local address, DAD, RS, MLD). */
  ipv6Enabled = true;

  constructor(
    readonly index: number,
    readonly name: string,
    readonly mac: MacAddress,
    readonly arp: NeighborCache<number>,
    readonly ndp: NeighborCache<string>,
    readonly igmp: IgmpHost,
    readonly mld: MldHost,
    private readonly host: { receiveOn(iface: NetInterface, frame: Uint8Array, now: number): void; poll(now: number): number },
    private readonly fixedMtu = 0,
  ) {}

  get isLoopback(): boolean {
    return this.index === 1;
  }

  /** The link's MTU (or the configured one). */
  get mtu(): number {
    return this.fixedMtu || this.link?.mtu || 1500;
  }

  /** The IPv6 MTU: the link's, or a smaller one a router advertised (never below 1280). */
  get mtu6(): number {
    return this.raMtu !== 0 && this.raMtu < this.mtu ? this.raMtu : this.mtu;
  }

  attach(link: Link): void {
    this.link = link;
    this.rxChecksumVerified = link.rxChecksumVerified === true;
  }

  /** The attached link vouches for received frames: their checksums are not verified. */
  rxChecksumVerified = false;

  /** The simulator's (or a driver's) entry point: a frame arrived on this interface. */
  receive(frame: Uint8Array, now: number): void {
    this.host.receiveOn(this, frame, now);
  }

  poll(now: number): number {
    return this.host.poll(now);
  }

  hasIpv4(ip: Ipv4Address): boolean {
    const list = this.ipv4;
    for (let k = 0; k < list.length; k++) if (list[k]!.address === ip) return true;
    return false;
  }

  /** The IPv6 address record for the 16 bytes at `at`, in any state. */
  findIpv6(bytes: Uint8Array, at = 0): Ipv6InterfaceAddress | null {
    outer: for (const a of this.ipv6) {
      for (let i = 0; i < 16; i++) if (a.address[i] !== bytes[at + i]) continue outer;
      return a;
    }
    return null;
  }

  /** A usable link-local address (the source of NDP and MLD messages), or null. */
  linkLocal(): Ipv6InterfaceAddress | null {
    for (const a of this.ipv6) if (a.origin === 'link' && a.usable) return a;
    for (const a of this.ipv6) if (a.address[0] === 0xfe && (a.address[1]! & 0xc0) === 0x80 && a.usable) return a;
    return null;
  }
}

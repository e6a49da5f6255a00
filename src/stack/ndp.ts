// Neighbor Discovery (RFC 4861) and stateless address autoconfiguration (RFC 4862) for
// the host: neighbour solicitations and advertisements (resolution, NUD probes, the
// override rules of §7.2.5), duplicate address detection (RFC 4862 §5.4), router
// solicitation at start-up (§6.3.7), router advertisements (default routers, on-link
// prefixes, SLAAC addresses with lifetimes and the two-hour rule, MTU, hop limit,
// reachable/retrans times) and redirects (§8.3). Messages are validated as §6.1 and §7.1
// require (hop limit 255, code 0, lengths, option lengths) and dropped otherwise.

import type { MacAddress } from '../wire/address.js';
import { parseIcmpv6, Icmpv6Type, NeighborAdvertFlags } from '../wire/icmpv6.js';
import { findNdpOption, type NdpOption } from '../wire/ndp.js';
import { ParseError } from '../wire/error.js';
import { AddressState, type Ipv6InterfaceAddress, type NetInterface } from './interface.js';
import {
  ALL_NODES, ALL_ROUTERS_V6, IPV6_ANY, IPV6_MIN_MTU, LINK_LOCAL_PREFIX, eui64Address, ipv6Equal, ipv6Key, isLinkLocal6, isMulticast6,
  isUnspecified6, maskPrefix6, solicitedNode,
} from './ipv6-address.js';
import type { Ipv6Layer } from './ipv6.js';
import { keyToIpv6 } from './ipv6.js';
import type { Stack } from './stack.js';

/** RFC 4861 §10 host constants (Linux: rtr_solicit_delay, rtr_solicit_interval, rtr_solicits). */
const MAX_RTR_SOLICITATION_DELAY_US = 1_000_000;
const RTR_SOLICITATION_INTERVAL_US = 4_000_000;
const MAX_RTR_SOLICITATIONS = 3;
/** RFC 4862 §5.1 DupAddrDetectTransmits (Linux dad_transmits) and RetransTimer. */
const DAD_TRANSMITS = 1;
const RETRANS_TIMER_US = 1_000_000;
/** RFC 4862 §5.5.3 (e): two hours. */
const TWO_HOURS_US = 7_200_000_000;
const INFINITE_LIFETIME = 0xffffffff;

export class NdpCounters {
  nsIn = 0;
  nsOut = 0;
  naIn = 0;
  naOut = 0;
  rsOut = 0;
  raIn = 0;
  redirectsIn = 0;
  /** Messages failing §6.1/§7.1 validation. */
  invalid = 0;
  dadFailures = 0;
}

export class Ndp {
  readonly counters = new NdpCounters();

  constructor(
    private readonly stack: Stack,
    private readonly ip6: Ipv6Layer,
  ) {}

  /** RFC 4862 §5.3: form the link-local address (modified EUI-64) and run DAD on it. */
  interfaceUp(iface: NetInterface): void {
    this.ip6.addAddress(iface, eui64Address(LINK_LOCAL_PREFIX, iface.mac), 64, { origin: 'link' });
  }

  /** An address was added: join its solicited-node group and start DAD (or use it at once). */
  addressAdded(iface: NetInterface, a: Ipv6InterfaceAddress, dad: boolean): void {
    if (iface.isLoopback) return;
    iface.mld.join(solicitedNode(a.address), this.stack.now);
    if (!dad) {
      a.state = AddressState.Preferred;
      this.addressReady(iface, a);
      return;
    }
    a.state = AddressState.Tentative;
    a.dadProbesLeft = DAD_TRANSMITS;
    // RFC 4862 §5.4.2: a random delay of up to MAX_RTR_SOLICITATION_DELAY before the first probe.
    a.dadAt = this.stack.now + Math.floor(this.stack.rng.next() * MAX_RTR_SOLICITATION_DELAY_US);
  }

  addressRemoved(iface: NetInterface, a: Ipv6InterfaceAddress): void {
    if (iface.isLoopback) return;
    if (a.state !== AddressState.Duplicate) iface.mld.leave(solicitedNode(a.address), this.stack.now);
  }

  /** DAD succeeded (or was skipped): a new link-local address starts router solicitation. */
  private addressReady(iface: NetInterface, a: Ipv6InterfaceAddress): void {
    a.dadAt = Infinity;
    if (a.origin === 'link' && iface.acceptRa && iface.rsLeft === 0 && iface.rsAt === Infinity) {
      iface.rsLeft = MAX_RTR_SOLICITATIONS;
      iface.rsAt = this.stack.now + Math.floor(this.stack.rng.next() * MAX_RTR_SOLICITATION_DELAY_US);
    }
    // RFC 4861 §7.2.6: a node may announce a new address with unsolicited advertisements (Linux does).
    this.sendAdvertisement(iface, a.address, ALL_NODES, false, true);
  }

  /** DAD failed (RFC 4862 §5.4.5): the address is not used; Linux marks it dadfailed. */
  private dadFailed(iface: NetInterface, a: Ipv6InterfaceAddress): void {
    if (a.state !== AddressState.Tentative) return;
    a.state = AddressState.Duplicate;
    a.dadAt = Infinity;
    this.counters.dadFailures++;
    iface.mld.leave(solicitedNode(a.address), this.stack.now);
  }

  poll(now: number): number {
    let next = Infinity;
    for (const iface of this.stack.interfaces) {
      if (!iface.ipv6Enabled) continue;
      for (let k = iface.ipv6.length - 1; k >= 0; k--) {
        const a = iface.ipv6[k]!;
        if (a.dadAt <= now && a.state === AddressState.Tentative) {
          if (a.dadProbesLeft > 0) {
            a.dadProbesLeft--;
            a.dadAt = now + RETRANS_TIMER_US;
            this.sendSolicitation(iface, a.address, null, true);
          } else {
            a.state = now >= a.preferredUntil ? AddressState.Deprecated : AddressState.Preferred;
            this.addressReady(iface, a);
          }
        }
        // RFC 4862 §5.5.4: past the preferred lifetime deprecated, past the valid one gone.
        if (a.validUntil <= now) {
          iface.ipv6.splice(k, 1);
          this.addressRemoved(iface, a);
          continue;
        }
        if (a.preferredUntil <= now && a.state === AddressState.Preferred) a.state = AddressState.Deprecated;
        next = Math.min(next, a.dadAt, a.validUntil, a.state === AddressState.Preferred ? a.preferredUntil : Infinity);
      }
      if (iface.rsAt <= now) {
        if (iface.rsLeft > 0) {
          iface.rsLeft--;
          this.sendRouterSolicitation(iface);
        }
        iface.rsAt = iface.rsLeft > 0 ? now + RTR_SOLICITATION_INTERVAL_US : Infinity;
      }
      next = Math.min(next, iface.rsAt);
    }
    return next;
  }

  /** The neighbour cache asks for resolution (multicast NS) or a NUD probe (unicast NS). */
  solicit(iface: NetInterface, key: string, unicastTo: MacAddress | null): void {
    this.sendSolicitation(iface, keyToIpv6(key), unicastTo, false);
  }

  /**
   * RFC 4861 §7.2.2: to the solicited-node group (or the neighbour itself when probing),
   * from one of the interface's addresses with our link-layer address; DAD probes
   * (RFC 4862 §5.4.2) from :: without it.
   */
  private sendSolicitation(iface: NetInterface, target: Uint8Array, unicastTo: MacAddress | null, dad: boolean): void {
    const ll = dad ? null : iface.linkLocal() ?? iface.ipv6.find((a) => a.usable) ?? null;
    if (!dad && ll === null) return;
    const src = ll?.address ?? IPV6_ANY;
    const dst = unicastTo !== null ? target : solicitedNode(target);
    const options: NdpOption[] = dad ? [] : [{ kind: 'sourceLinkLayerAddress', address: iface.mac }];
    this.counters.nsOut++;
    this.ip6.sendIcmpRepr(iface, dst, src, { kind: 'neighborSolicitation', code: 0, reserved: 0, target: Uint8Array.from(target), options }, 255);
  }

  private sendAdvertisement(iface: NetInterface, target: Uint8Array, dst: Uint8Array, solicited: boolean, override: boolean): void {
    const flags = (solicited ? NeighborAdvertFlags.Solicited : 0) | (override ? NeighborAdvertFlags.Override : 0);
    this.counters.naOut++;
    this.ip6.sendIcmpRepr(iface, dst, target, {
      kind: 'neighborAdvertisement', code: 0, flags: flags >>> 0, target: Uint8Array.from(target),
      options: [{ kind: 'targetLinkLayerAddress', address: iface.mac }],
    }, 255);
  }

  private sendRouterSolicitation(iface: NetInterface): void {
    // RFC 4861 §6.3.7: with our link-layer address unless the source is unspecified.
    const ll = iface.linkLocal();
    const options: NdpOption[] = ll ? [{ kind: 'sourceLinkLayerAddress', address: iface.mac }] : [];
    this.counters.rsOut++;
    this.ip6.sendIcmpRepr(iface, ALL_ROUTERS_V6, ll?.address ?? IPV6_ANY, { kind: 'routerSolicitation', code: 0, reserved: 0, options }, 255);
  }

  /** An NDP message (types 133–137) at frame[p, p+len) of the IPv6 packet at ipAt. */
  receive(iface: NetInterface, frame: Uint8Array, ipAt: number, p: number, len: number, hopLimit: number, now: number): void {
    const src = frame.subarray(ipAt + 8, ipAt + 24);
    const dst = frame.subarray(ipAt + 24, ipAt + 40);
    const m = parseIcmpv6(frame, p, len);
    // RFC 4861 §6.1, §7.1: hop limit 255 (so it came from this link), code 0, valid options.
    if (m instanceof ParseError || hopLimit !== 255 || frame[p + 1] !== 0 || iface.isLoopback) {
      this.counters.invalid++;
      this.stack.dropMalformed(iface);
      return;
    }
    switch (m.kind) {
      case 'neighborSolicitation': return this.receiveNs(iface, src, dst, m.target, m.options, now);
      case 'neighborAdvertisement': return this.receiveNa(iface, dst, m.flags, m.target, m.options, now);
      case 'routerAdvertisement': return this.receiveRa(iface, src, m, now);
      case 'redirect': return this.receiveRedirect(iface, src, m.target, m.destination, m.options, now);
      default: return; // router solicitations are for routers
    }
  }

  private receiveNs(iface: NetInterface, src: Uint8Array, dst: Uint8Array, target: Uint8Array, options: NdpOption[], now: number): void {
    const slla = findNdpOption(options, 'sourceLinkLayerAddress');
    const fromUnspecified = isUnspecified6(src);
    // §7.1.1: target not multicast; from :: only to a solicited-node group and without SLLA.
    if (isMulticast6(target) || (fromUnspecified && (!isSolicitedNodeGroup(dst) || slla !== undefined)) || (slla && slla.address.length !== 6)) {
      this.counters.invalid++;
      return;
    }
    this.counters.nsIn++;
    const a = iface.findIpv6(target);
    if (a === null || a.state === AddressState.Duplicate) return;
    if (a.state === AddressState.Tentative) {
      // RFC 4862 §5.4.3: another node's DAD probe for our tentative address: it is a duplicate.
      if (fromUnspecified) this.dadFailed(iface, a);
      return;
    }
    if (fromUnspecified) {
      // §7.2.4: answer a DAD probe for an address we own to all nodes, not solicited.
      this.sendAdvertisement(iface, target, ALL_NODES, false, true);
      return;
    }
    // §7.2.3: the sender's link-layer address goes into the cache (STALE if new or changed).
    if (slla) iface.ndp.learn(ipv6Key(src), slla.address, now, false, true);
    this.sendAdvertisement(iface, target, src, true, true);
  }

  private receiveNa(iface: NetInterface, dst: Uint8Array, flags: number, target: Uint8Array, options: NdpOption[], now: number): void {
    const solicited = (flags & NeighborAdvertFlags.Solicited) !== 0;
    // §7.1.2: target not multicast; S clear when sent to a multicast address.
    if (isMulticast6(target) || (solicited && isMulticast6(dst))) {
      this.counters.invalid++;
      return;
    }
    this.counters.naIn++;
    const a = iface.findIpv6(target);
    if (a !== null) {
      // RFC 4862 §5.4.4: an advertisement for our tentative address: duplicate.
      if (a.state === AddressState.Tentative) this.dadFailed(iface, a);
      return;
    }
    const tlla = findNdpOption(options, 'targetLinkLayerAddress');
    const key = ipv6Key(target);
    const e = iface.ndp.entries.get(key);
    if (e === undefined) return; // §7.2.5: no entry, nothing to update
    if (tlla === undefined || tlla.address.length !== 6) {
      if (solicited) iface.ndp.confirm(key, now);
      return;
    }
    const override = (flags & NeighborAdvertFlags.Override) !== 0;
    iface.ndp.learn(key, tlla.address, now, solicited, false, override);
    const wasRouter = e.isRouter;
    e.isRouter = (flags & NeighborAdvertFlags.Router) !== 0;
    // §7.2.5: a router that says it is no longer one leaves the default router list.
    if (wasRouter && !e.isRouter) this.stack.routes6.removeWhere((r) => r.origin === 'ra' && r.gateway !== null && ipv6Equal(target, 0, r.gateway) && r.ifindex === iface.index);
  }

  /** RFC 4861 §6.1.2 validation and §6.3.4 processing of a router advertisement. */
  private receiveRa(iface: NetInterface, src: Uint8Array, m: Extract<ReturnType<typeof parseIcmpv6>, { kind: 'routerAdvertisement' }>, now: number): void {
    if (!isLinkLocal6(src)) {
      this.counters.invalid++;
      return;
    }
    this.counters.raIn++;
    if (!iface.acceptRa) return;
    const routes = this.stack.routes6;
    if (m.curHopLimit !== 0) iface.hopLimit = m.curHopLimit;
    if (m.reachableTime !== 0) iface.ndp.params.baseReachableUs = m.reachableTime * 1000;
    if (m.retransTimer !== 0) iface.ndp.params.retransUs = m.retransTimer * 1000;
    const gw = Uint8Array.from(src);
    // Default router list: lifetime 0 removes it.
    routes.removeWhere((r) => r.origin === 'ra' && r.prefixLength === 0 && r.gateway !== null && ipv6Equal(gw, 0, r.gateway) && r.ifindex === iface.index);
    if (m.routerLifetime !== 0) {
      routes.replace({ prefix: IPV6_ANY, prefixLength: 0, gateway: gw, ifindex: iface.index, metric: 1024, expiresAt: now + m.routerLifetime * 1_000_000, origin: 'ra' });
      iface.rsLeft = 0; // a router answered: stop soliciting
      iface.rsAt = Infinity;
    }
    const slla = findNdpOption(m.options, 'sourceLinkLayerAddress');
    if (slla && slla.address.length === 6) {
      iface.ndp.learn(ipv6Key(src), slla.address, now, false, true);
      const e = iface.ndp.entries.get(ipv6Key(src));
      if (e) e.isRouter = true;
    }
    const mtu = findNdpOption(m.options, 'mtu');
    // §6.3.4: an MTU option within [1280, link MTU] sets the link's IPv6 MTU.
    if (mtu && mtu.mtu >= IPV6_MIN_MTU && mtu.mtu <= iface.mtu) iface.raMtu = mtu.mtu;
    for (const o of m.options) if (o.kind === 'prefixInformation') this.prefix(iface, o, now);
  }

  /** §6.3.4 on-link prefixes and RFC 4862 §5.5.3 autonomous address configuration. */
  private prefix(iface: NetInterface, o: Extract<NdpOption, { kind: 'prefixInformation' }>, now: number): void {
    if (isLinkLocal6(o.prefix) || o.prefixLength > 128) return; // §5.5.3 (b), and nonsense lengths
    if (o.preferredLifetime !== INFINITE_LIFETIME && o.validLifetime !== INFINITE_LIFETIME && o.preferredLifetime > o.validLifetime) return; // (c)
    const routes = this.stack.routes6;
    const prefix = maskPrefix6(o.prefix, o.prefixLength);
    const valid = o.validLifetime === INFINITE_LIFETIME ? Infinity : now + o.validLifetime * 1_000_000;
    if (o.onLink) {
      routes.removeWhere((r) => r.origin === 'ra' && r.gateway === null && r.prefixLength === o.prefixLength && r.ifindex === iface.index && ipv6Equal(prefix, 0, r.prefix));
      if (o.validLifetime !== 0) routes.replace({ prefix, prefixLength: o.prefixLength, gateway: null, ifindex: iface.index, metric: 256, expiresAt: valid, origin: 'ra' });
    }
    // SLAAC forms addresses from /64 prefixes only (the interface identifier is 64 bits, RFC 4291 §2.5.1).
    if (!o.autonomous || !iface.autoconf || o.prefixLength !== 64) return;
    const preferred = o.preferredLifetime === INFINITE_LIFETIME ? Infinity : now + o.preferredLifetime * 1_000_000;
    const addr = eui64Address(prefix, iface.mac);
    const existing = iface.findIpv6(addr);
    if (existing === null) {
      if (o.validLifetime === 0) return;
      const a = this.ip6.addAddress(iface, addr, 64, { origin: 'slaac' });
      a.validUntil = valid;
      a.preferredUntil = preferred;
      return;
    }
    if (existing.origin !== 'slaac') return;
    // §5.5.3 (e): the two-hour rule against shortening a valid lifetime by a forged RA.
    const remaining = existing.validUntil - now;
    if (valid - now > TWO_HOURS_US || valid > existing.validUntil) existing.validUntil = valid;
    else if (remaining > TWO_HOURS_US) existing.validUntil = now + TWO_HOURS_US;
    existing.preferredUntil = preferred;
    if (existing.state === AddressState.Deprecated && preferred > now) existing.state = AddressState.Preferred;
    if (existing.state === AddressState.Preferred && preferred <= now) existing.state = AddressState.Deprecated;
  }

  /**
   * RFC 4861 §8.1 validation and §8.3: from the current first hop for the destination (a
   * link-local address); the destination's traffic then goes to the target, which is the
   * destination itself when it is on-link.
   */
  private receiveRedirect(iface: NetInterface, src: Uint8Array, target: Uint8Array, destination: Uint8Array, options: NdpOption[], now: number): void {
    const r = new (class { iface: NetInterface | null = null; nextHop = IPV6_ANY; })();
    if (!isLinkLocal6(src) || isMulticast6(destination) || (!isLinkLocal6(target) && !ipv6Equal(target, 0, destination))
      || !this.ip6.routeInto(destination, iface.index, r) || !ipv6Equal(src, 0, r.nextHop)) {
      this.counters.invalid++;
      return;
    }
    this.counters.redirectsIn++;
    const onLink = ipv6Equal(target, 0, destination);
    this.stack.routes6.replace({
      prefix: Uint8Array.from(destination), prefixLength: 128, gateway: onLink ? null : Uint8Array.from(target), ifindex: iface.index,
      metric: 0, expiresAt: now + 600_000_000, origin: 'ra',
    });
    const tlla = findNdpOption(options, 'targetLinkLayerAddress');
    if (tlla && tlla.address.length === 6) iface.ndp.learn(ipv6Key(target), tlla.address, now, false, true);
  }
}

/** ff02::1:ffXX:XXXX. */
function isSolicitedNodeGroup(a: Uint8Array): boolean {
  return a[0] === 0xff && a[1] === 2 && a[11] === 1 && a[12] === 0xff && a.subarray(2, 11).every((b) => b === 0);
}

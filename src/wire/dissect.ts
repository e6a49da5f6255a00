// Walks an Ethernet frame down through every layer the codecs know, for tools and
// tests (cold path: it allocates a Repr per layer). Checksums are verified on the way;
// a layer that does not parse ends the walk with its ParseError.

import { EtherType, parseEthernet, formatEthernet, type EthernetRepr } from './ethernet.js';
import { parseArp, formatArp, type ArpRepr } from './arp.js';
import { IpProtocol, parseIpv4, formatIpv4Repr, ipv4PseudoHeader, type Ipv4Repr } from './ipv4.js';
import { NextHeader, parseIpv6, formatIpv6Repr, ipv6Fragment, ipv6PseudoHeader, type Ipv6Repr } from './ipv6.js';
import { parseIcmpv4, formatIcmpv4, type Icmpv4Repr } from './icmpv4.js';
import { parseIcmpv6, formatIcmpv6, type Icmpv6Repr } from './icmpv6.js';
import { parseIgmp, formatIgmp, type IgmpRepr } from './igmp.js';
import { parseUdp, formatUdp, type UdpRepr } from './udp.js';
import { parseTcp, formatTcp, type TcpRepr } from './tcp.js';
import { parseVxlan, formatVxlan, VXLAN_UDP_PORT, type VxlanRepr } from './vxlan.js';
import { ParseError } from './error.js';
import type { PseudoHeader } from './checksum.js';

export type Layer =
  | { layer: 'ethernet'; repr: EthernetRepr }
  | { layer: 'arp'; repr: ArpRepr }
  | { layer: 'ipv4'; repr: Ipv4Repr }
  | { layer: 'ipv6'; repr: Ipv6Repr }
  | { layer: 'icmpv4'; repr: Icmpv4Repr }
  | { layer: 'icmpv6'; repr: Icmpv6Repr }
  | { layer: 'igmp'; repr: IgmpRepr }
  | { layer: 'udp'; repr: UdpRepr }
  | { layer: 'tcp'; repr: TcpRepr }
  | { layer: 'vxlan'; repr: VxlanRepr };

export interface Dissection {
  layers: Layer[];
  /** Why the walk stopped early, if it did. */
  error: ParseError | null;
}

/** At most this many nested VXLAN frames are followed. */
const MAX_NESTING = 4;

export function dissectFrame(frame: Uint8Array): Dissection {
  const layers: Layer[] = [];
  const error = walkEthernet(frame, layers, 0);
  return { layers, error };
}

function walkEthernet(frame: Uint8Array, out: Layer[], depth: number): ParseError | null {
  const eth = parseEthernet(frame);
  if (eth instanceof ParseError) return eth;
  out.push({ layer: 'ethernet', repr: eth });
  switch (eth.etherType) {
    case EtherType.ARP: {
      const a = parseArp(eth.payload);
      if (a instanceof ParseError) return a;
      out.push({ layer: 'arp', repr: a });
      return null;
    }
    case EtherType.IPv4: {
      const ip = parseIpv4(eth.payload);
      if (ip instanceof ParseError) return ip;
      out.push({ layer: 'ipv4', repr: ip });
      // Only the first fragment starts with the transport header.
      if (ip.fragmentOffset !== 0 || ip.moreFragments) return null;
      return walkTransport(ip.protocol, ip.payload, ipv4PseudoHeader(ip), out, depth);
    }
    case EtherType.IPv6: {
      const ip = parseIpv6(eth.payload);
      if (ip instanceof ParseError) return ip;
      out.push({ layer: 'ipv6', repr: ip });
      if (ipv6Fragment(ip)) return null;
      return walkTransport(ip.upperProtocol, ip.payload, ipv6PseudoHeader(ip), out, depth);
    }
    default:
      return null;
  }
}

function walkTransport(protocol: number, bytes: Uint8Array, ph: PseudoHeader, out: Layer[], depth: number): ParseError | null {
  switch (protocol) {
    case IpProtocol.ICMP: {
      const r = parseIcmpv4(bytes);
      if (r instanceof ParseError) return r;
      out.push({ layer: 'icmpv4', repr: r });
      return null;
    }
    case IpProtocol.IGMP: {
      const r = parseIgmp(bytes);
      if (r instanceof ParseError) return r;
      out.push({ layer: 'igmp', repr: r });
      return null;
    }
    case NextHeader.ICMPv6: {
      const r = parseIcmpv6(bytes, 0, bytes.length, { pseudoHeader: ph });
      if (r instanceof ParseError) return r;
      out.push({ layer: 'icmpv6', repr: r });
      return null;
    }
    case IpProtocol.UDP: {
      const r = parseUdp(bytes, 0, bytes.length, { pseudoHeader: ph });
      if (r instanceof ParseError) return r;
      out.push({ layer: 'udp', repr: r });
      if (r.dstPort === VXLAN_UDP_PORT && depth < MAX_NESTING) {
        const v = parseVxlan(r.payload);
        if (v instanceof ParseError) return v;
        out.push({ layer: 'vxlan', repr: v });
        return walkEthernet(v.payload, out, depth + 1);
      }
      return null;
    }
    case IpProtocol.TCP: {
      const r = parseTcp(bytes, 0, bytes.length, { pseudoHeader: ph });
      if (r instanceof ParseError) return r;
      out.push({ layer: 'tcp', repr: r });
      return null;
    }
    default:
      return null;
  }
}

export function formatLayer(l: Layer): string {
  switch (l.layer) {
    case 'ethernet': return formatEthernet(l.repr);
    case 'arp': return formatArp(l.repr);
    case 'ipv4': return formatIpv4Repr(l.repr);
    case 'ipv6': return formatIpv6Repr(l.repr);
    case 'icmpv4': return formatIcmpv4(l.repr);
    case 'icmpv6': return formatIcmpv6(l.repr);
    case 'igmp': return formatIgmp(l.repr);
    case 'udp': return formatUdp(l.repr);
    case 'tcp': return formatTcp(l.repr);
    case 'vxlan': return formatVxlan(l.repr);
  }
}

/** One line per frame, tcpdump-like: the layers from the outermost in, and any error. */
export function formatDissection(d: Dissection): string {
  const parts = d.layers.map(formatLayer);
  if (d.error) parts.push(`[${d.error.toString()}]`);
  return parts.join(' | ');
}

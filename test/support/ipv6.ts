// Helpers for IPv6 simulator tests: topologies with a raw "wire" host that records what
// it receives and injects hand-built frames (a router, an impostor), frame builders on
// the wire codecs, and errno capture.

import { SimNetwork, type LinkParams, type SimNic } from '../../src/link/sim/network.js';
import { emitEthernet, EtherType, ETHERNET_HEADER_LEN } from '../../src/wire/ethernet.js';
import { emitIpv6, ipv6ReprLength, NextHeader, type Ipv6ExtensionHeader } from '../../src/wire/ipv6.js';
import { emitIcmpv6, icmpv6ReprLength, type Icmpv6Repr } from '../../src/wire/icmpv6.js';
import { emitUdp, udpReprLength } from '../../src/wire/udp.js';
import { dissectFrame, type Layer } from '../../src/wire/dissect.js';
import { eui64Address, LINK_LOCAL_PREFIX, multicastMac6 } from '../../src/stack/ipv6-address.js';
import type { Ipv6Address, MacAddress } from '../../src/wire/address.js';
import { lanOfStacks } from './stacks.js';

export { errnoOf } from './errno.js';

/** fe80::/64 plus the modified EUI-64 of `mac`. */
export function linkLocalOf(mac: MacAddress): Ipv6Address {
  return eui64Address(LINK_LOCAL_PREFIX, mac);
}

/** A raw host on the simulator: it records every frame it receives and sends what a test builds. */
export class WireHost {
  readonly frames: Uint8Array[] = [];
  nic!: SimNic;
  constructor(readonly mac: MacAddress) {}
  receive(frame: Uint8Array): void {
    this.frames.push(frame.slice());
  }
  poll(): number {
    return Infinity;
  }
  send(frame: Uint8Array): void {
    this.nic.transmit(frame);
  }
  /** Dissected frames received so far (dissection errors kept out). */
  layers(): Layer[][] {
    return this.frames.map((f) => dissectFrame(f).layers);
  }
}

/** `n` IPv6-enabled stacks and a raw wire host (MAC 02:00:00:00:00:fe) on one switch. */
export function lanWithWire(seed: number, n: number, params: Partial<LinkParams> = {}) {
  const t = lanOfStacks(seed, n, params, { ipv6: true });
  const wire = new WireHost(Uint8Array.of(2, 0, 0, 0, 0, 0xfe));
  wire.nic = t.sim.addHost('wire', wire, { mac: wire.mac });
  t.sim.connect(wire.nic, t.sw.port(), { delayUs: 10 });
  return { ...t, wire };
}

/** An Ethernet frame carrying an IPv6 packet; `dstMac` defaults to the multicast MAC of `dst`. */
export function ipv6Frame(o: {
  srcMac: MacAddress;
  dstMac?: MacAddress;
  src: Ipv6Address;
  dst: Ipv6Address;
  hopLimit?: number;
  nextHeader: number;
  payload: Uint8Array;
  extensionHeaders?: Ipv6ExtensionHeader[];
}): Uint8Array {
  const repr = {
    trafficClass: 0, flowLabel: 0, hopLimit: o.hopLimit ?? 64, src: o.src, dst: o.dst,
    extensionHeaders: o.extensionHeaders ?? [], upperProtocol: o.nextHeader, payload: o.payload,
  };
  const packet = new Uint8Array(ipv6ReprLength(repr));
  emitIpv6(repr, packet);
  const dstMac = o.dstMac ?? multicastMac6(o.dst, new Uint8Array(6));
  const frame = new Uint8Array(Math.max(60, ETHERNET_HEADER_LEN + packet.length));
  emitEthernet({ dst: dstMac, src: o.srcMac, vlans: [], etherType: EtherType.IPv6, payload: packet }, frame);
  return frame;
}

/** An ICMPv6 message with its checksum for src → dst. */
export function icmpv6(repr: Icmpv6Repr, src: Ipv6Address, dst: Ipv6Address): Uint8Array {
  const msg = new Uint8Array(icmpv6ReprLength(repr));
  emitIcmpv6(repr, msg, 0, { version: 6, src, dst });
  return msg;
}

/** A UDP datagram for src → dst; `checksum` forces a value (0: none). */
export function udp6(srcPort: number, dstPort: number, payload: Uint8Array, src: Ipv6Address, dst: Ipv6Address, checksum?: number): Uint8Array {
  const seg = new Uint8Array(udpReprLength({ srcPort, dstPort, payload }));
  emitUdp({ srcPort, dstPort, payload, checksum }, seg, 0, { version: 6, src, dst });
  return seg;
}

/** An ICMPv6 frame ready to send from the wire host. */
export function icmpv6Frame(srcMac: MacAddress, dstMac: MacAddress | undefined, src: Ipv6Address, dst: Ipv6Address, repr: Icmpv6Repr, hopLimit = 255): Uint8Array {
  return ipv6Frame({ srcMac, dstMac, src, dst, hopLimit, nextHeader: NextHeader.ICMPv6, payload: icmpv6(repr, src, dst) });
}

export function icmpv6Of(f: Uint8Array): Icmpv6Repr | null {
  for (const l of dissectFrame(f).layers) if (l.layer === 'icmpv6') return l.repr;
  return null;
}

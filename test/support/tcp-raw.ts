// Raw TCP for simulator tests, in the spirit of gVisor's packetimpact: a scripted peer that
// sends hand-built segments and records what the stack under test answers, a frame filter
// that drops chosen frames on their way into a stack, and the Ethernet/IPv4/TCP codecs
// glued together to build and read one segment per frame.

import { SimNetwork, type FrameCapture, type LinkParams, type SimHost, type SimLink, type SimNic } from '../../src/link/sim/network.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4, type Ipv4Address, type MacAddress } from '../../src/wire/address.js';
import { EtherType, ETHERNET_HEADER_LEN, emitEthernet, parseEthernet } from '../../src/wire/ethernet.js';
import { IpProtocol, emitIpv4, parseIpv4 } from '../../src/wire/ipv4.js';
import { TcpFlags, emitTcp, parseTcp, tcpHeaderLength, type TcpOption, type TcpRepr } from '../../src/wire/tcp.js';
import { ParseError } from '../../src/wire/error.js';

export const STACK_IP = ipv4('198.18.0.1');
export const PEER_IP = ipv4('198.18.0.2');
export const STACK_MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);
export const PEER_MAC = Uint8Array.of(2, 0, 0, 0, 0, 2);

/** Sequence numbers as the wire carries them (unsigned); the stack keeps int32 bit patterns. */
export const u32 = (x: number): number => x >>> 0;

/** One TCP segment seen on the wire. Sequence and acknowledgment numbers are unsigned. */
export interface RawSegment {
  at: number;
  src: Ipv4Address;
  dst: Ipv4Address;
  tcp: TcpRepr;
}

/** Sequence space a segment takes: payload plus one each for SYN and FIN. */
export function segmentLength(t: TcpRepr): number {
  return t.payload.length + (t.flags & TcpFlags.SYN ? 1 : 0) + (t.flags & TcpFlags.FIN ? 1 : 0);
}

/** The TCP segment in an Ethernet/IPv4 frame, or null for anything else. */
export function parseTcpFrame(frame: Uint8Array, at = 0): RawSegment | null {
  const eth = parseEthernet(frame);
  if (eth instanceof ParseError || eth.etherType !== EtherType.IPv4) return null;
  const ip = parseIpv4(eth.payload);
  if (ip instanceof ParseError || ip.protocol !== IpProtocol.TCP || ip.moreFragments || ip.fragmentOffset !== 0) return null;
  const tcp = parseTcp(ip.payload, 0, ip.payload.length, { pseudoHeader: { version: 4, src: ip.src, dst: ip.dst } });
  if (tcp instanceof ParseError) return null;
  // Own copies: the frame's buffer may be reused by whoever handed it over.
  return { at, src: ip.src, dst: ip.dst, tcp: { ...tcp, payload: tcp.payload.slice(), options: tcp.options.slice() } };
}

export interface SegmentSpec {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  options?: TcpOption[];
  payload?: Uint8Array;
}

/** An Ethernet/IPv4/TCP frame with correct checksums. */
export function buildTcpFrame(srcMac: MacAddress, dstMac: MacAddress, src: Ipv4Address, dst: Ipv4Address, s: SegmentSpec): Uint8Array {
  const tcp: TcpRepr = {
    srcPort: s.srcPort, dstPort: s.dstPort, seq: u32(s.seq), ack: u32(s.ack ?? 0), flags: s.flags, window: s.window ?? 65535,
    urgentPointer: 0, options: s.options ?? [], payload: s.payload ?? new Uint8Array(0),
  };
  const seg = new Uint8Array(tcpHeaderLength(tcp) + tcp.payload.length);
  emitTcp(tcp, seg, 0, { version: 4, src, dst });
  const ipLen = 20 + seg.length;
  const frame = new Uint8Array(ETHERNET_HEADER_LEN + ipLen);
  emitEthernet({ dst: dstMac, src: srcMac, vlans: [], etherType: EtherType.IPv4, payload: new Uint8Array(0) }, frame, 0);
  emitIpv4({
    tos: 0, identification: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64,
    protocol: IpProtocol.TCP, src, dst, options: new Uint8Array(0), payload: seg,
  }, frame, ETHERNET_HEADER_LEN);
  return frame;
}

/** A host with no stack: it records every TCP segment addressed to it and sends what the test scripts. */
export class RawTcpPeer implements SimHost {
  nic: SimNic | null = null;
  readonly received: RawSegment[] = [];
  constructor(
    readonly mac: MacAddress,
    readonly ip: Ipv4Address,
    readonly stackMac: MacAddress,
    readonly stackIp: Ipv4Address,
  ) {}
  receive(frame: Uint8Array, now: number): void {
    const s = parseTcpFrame(frame, now);
    if (s !== null && s.dst === this.ip) this.received.push(s);
  }
  poll(): number {
    return Infinity;
  }
  send(s: SegmentSpec): void {
    if (this.nic === null) throw new Error('raw peer: no NIC');
    this.nic.transmit(buildTcpFrame(this.mac, this.stackMac, this.ip, this.stackIp, s));
  }
}

/**
 * The peer's half of one connection: its SND.NXT and RCV.NXT, kept by the test. `send`
 * uses them unless told otherwise and advances SND.NXT by what it sent.
 */
export class RawFlow {
  sndNxt: number;
  rcvNxt = 0;
  constructor(
    readonly peer: RawTcpPeer,
    readonly port: number,
    readonly stackPort: number,
    iss: number,
  ) {
    this.sndNxt = u32(iss);
  }

  /** Everything the stack sent on this flow, in order. */
  get segments(): RawSegment[] {
    return this.peer.received.filter((s) => s.tcp.srcPort === this.stackPort && s.tcp.dstPort === this.port);
  }

  last(): TcpRepr | undefined {
    const all = this.segments;
    return all[all.length - 1]?.tcp;
  }

  /** Sends one segment; `seq` and `ack` default to SND.NXT and RCV.NXT; only a default seq advances SND.NXT. */
  send(flags: number, o: { seq?: number; ack?: number; window?: number; payload?: Uint8Array; options?: TcpOption[] } = {}): void {
    const seq = o.seq ?? this.sndNxt;
    const s: SegmentSpec = { srcPort: this.port, dstPort: this.stackPort, seq, ack: o.ack ?? (flags & TcpFlags.ACK ? this.rcvNxt : 0), flags };
    if (o.window !== undefined) s.window = o.window;
    if (o.payload !== undefined) s.payload = o.payload;
    if (o.options !== undefined) s.options = o.options;
    this.peer.send(s);
    if (o.seq === undefined) this.sndNxt = u32(seq + (o.payload?.length ?? 0) + (flags & TcpFlags.SYN ? 1 : 0) + (flags & TcpFlags.FIN ? 1 : 0));
  }

  /** RCV.NXT from what the stack sent so far (it sends in order here). */
  sync(): number {
    for (const s of this.segments) {
      const end = u32(s.tcp.seq + segmentLength(s.tcp));
      if (((end - this.rcvNxt) | 0) > 0 || this.rcvNxt === 0) this.rcvNxt = end;
    }
    return this.rcvNxt;
  }
}

function stackHost(sim: SimNetwork, i: number, mac: MacAddress, ip: Ipv4Address, wrap?: (s: Stack) => SimHost) {
  const s = new Stack({ mac, rng: sim.rng.fork(`stack${i}`), ipv6: false });
  s.addAddress(ip, 24);
  const nic = sim.addHost(`h${i}`, wrap ? wrap(s) : s);
  s.attach({ mtu: 1500, transmit: (f) => nic.transmit(f) });
  return { s, nic };
}

function settler(sim: SimNetwork, nics: SimNic[]) {
  return (us = 100_000) => {
    for (const n of nics) n.wake();
    sim.runUntil(sim.now + us);
    for (const n of nics) n.wake();
  };
}

/** One stack (198.18.0.1) and a raw peer (198.18.0.2) on one link; the stack knows the peer's MAC (no ARP). */
export function stackWithRawPeer(seed: number, params: Partial<LinkParams> = {}) {
  const sim = new SimNetwork(seed);
  const h = stackHost(sim, 0, STACK_MAC, STACK_IP);
  const peer = new RawTcpPeer(PEER_MAC, PEER_IP, STACK_MAC, STACK_IP);
  peer.nic = sim.addHost('peer', peer);
  h.s.addNeighbor(PEER_IP, PEER_MAC);
  const link: SimLink = sim.connect(h.nic, peer.nic, { delayUs: 20, ...params });
  return { sim, stack: h.s, nic: h.nic, peer, link, settle: settler(sim, [h.nic]) };
}

/** Wraps a stack so that the test can drop chosen frames before the stack sees them. */
export class FrameFilter implements SimHost {
  /** Returns true to drop the frame. */
  dropIf: ((frame: Uint8Array, now: number) => boolean) | null = null;
  dropped = 0;
  constructor(readonly inner: Stack) {}
  receive(frame: Uint8Array, now: number): void {
    if (this.dropIf !== null && this.dropIf(frame, now)) {
      this.dropped++;
      return;
    }
    this.inner.receive(frame, now);
  }
  poll(now: number): number {
    return this.inner.poll(now);
  }
}

/** Like twoStacks (a = 198.18.0.1, b = 198.18.0.2), with a FrameFilter in front of each stack. */
export function twoFilteredStacks(seed: number, params: Partial<LinkParams> = {}) {
  const sim = new SimNetwork(seed);
  let fa: FrameFilter | null = null, fb: FrameFilter | null = null;
  const ha = stackHost(sim, 0, STACK_MAC, STACK_IP, (s) => (fa = new FrameFilter(s)));
  const hb = stackHost(sim, 1, PEER_MAC, PEER_IP, (s) => (fb = new FrameFilter(s)));
  const link: SimLink = sim.connect(ha.nic, hb.nic, { delayUs: 20, ...params });
  return { sim, a: ha.s, b: hb.s, fa: fa!, fb: fb!, link, settle: settler(sim, [ha.nic, hb.nic]) };
}

/** Records the TCP segments that hosts transmit (sim.capture at the 'transmit' point), each stamped with its send time. */
export class SegmentLog implements FrameCapture {
  readonly segments: RawSegment[] = [];
  write(frame: Uint8Array, timeUs: number): void {
    const s = parseTcpFrame(frame, timeUs);
    if (s !== null) this.segments.push(s);
  }
  static on(sim: SimNetwork): SegmentLog {
    const log = new SegmentLog();
    sim.capture(log, 'transmit');
    return log;
  }
  from(src: Ipv4Address, since = -Infinity): RawSegment[] {
    return this.segments.filter((s) => s.src === src && s.at >= since);
  }
}

// The AF_PACKET link: a raw packet socket on a real (or veth) interface with TPACKET_V2 (or V3)
// mmap rings (native/src/packet.cc), as a NativePortLink. The stack takes the interface's
// own MAC, as XLIO takes the NIC's; the kernel must then keep its hands off the interface's
// traffic, so give it no addresses there (and disable its IPv6, or it answers neighbour
// solicitations for link-local addresses of its own).
//
//   const link = openPacketLink({ ifname: 'veth0', netns: 'x' });
//   const stack = new Stack({ mac: link.mac, … }); stack.attach(link);
//
// Worker mode: each worker opens its own link with the same `fanout` group; the kernel then
// spreads the interface's frames over them by flow hash (PACKET_FANOUT_HASH), so every
// connection stays with one worker's stack.

import { requireNativeAddon } from '../native/addon.js';
import { netnsPath } from './link-spec.js';
import { NativePortLink, type NativePortOptions } from './native-port-link.js';

export type FanoutMode = 'hash' | 'lb' | 'cpu';

export interface PacketLinkOptions extends NativePortOptions {
  /** The interface: "eth0", "veth0". */
  ifname: string;
  /** Its network namespace: a path (/run/netns/NAME) or an `ip netns` name. Default: this process's. */
  netns?: string;
  /** PACKET_QDISC_BYPASS: transmit straight to the driver, skipping tc. Default true. */
  qdiscBypass?: boolean;
  /** PACKET_FANOUT: links in one group on one interface share its frames. */
  fanout?: { group: number; mode?: FanoutMode };
  /**
   * The ring version. 2 (default): the kernel hands over every received frame at once, by its
   * own status word. 3: it hands over whole blocks, when full or when the retire timer fires —
   * fewer wake-ups for a reader that sleeps, but a frame arriving alone waits `retireMs`
   * (≥ 1 ms; the kernel closes a block only when the next frame does not fit, or on the timer),
   * which put a 1 ms floor under every round trip of a busy-polling stack (xlio perf ping-pong
   * over packet: RTT 1000 µs with V3, against ≈ 20 µs over AF_XDP).
   */
  version?: 2 | 3;
  /** Ring geometry (see NativeAddon.packetOpen): frames per ring, slot bytes, block bytes, retire timeout (V3). */
  frames?: number;
  frameSize?: number;
  blockSize?: number;
  retireMs?: number;
}

export class PacketLink extends NativePortLink {
  constructor(
    addon: ReturnType<typeof requireNativeAddon>,
    id: number,
    mtu: number,
    description: string,
    /** The interface's MAC address: the stack's own. */
    readonly mac: Uint8Array,
    readonly ifindex: number,
    opts: NativePortOptions,
  ) {
    super(addon, id, mtu, description, opts);
  }
}

/** Opens an AF_PACKET link; throws with the reason when the addon, the capability or the interface is missing. */
export function openPacketLink(opts: PacketLinkOptions): PacketLink {
  const addon = requireNativeAddon('the packet driver');
  const netns = opts.netns === undefined || opts.netns === '' ? undefined : netnsPath(opts.netns);
  const r = addon.packetOpen({
    ifname: opts.ifname,
    ...(netns !== undefined ? { netns } : {}),
    ...(opts.frames !== undefined ? { frames: opts.frames } : {}),
    ...(opts.frameSize !== undefined ? { frameSize: opts.frameSize } : {}),
    ...(opts.blockSize !== undefined ? { blockSize: opts.blockSize } : {}),
    ...(opts.retireMs !== undefined ? { retireMs: opts.retireMs } : {}),
    version: opts.version ?? 2,
    qdiscBypass: opts.qdiscBypass ?? true,
    ...(opts.fanout !== undefined ? { fanout: { group: opts.fanout.group, mode: opts.fanout.mode ?? 'hash' } } : {}),
  });
  const description = `packet:${opts.ifname}${netns !== undefined ? ` in ${netns}` : ''}`;
  return new PacketLink(addon, r.id, r.mtu, description, r.mac, r.ifindex, opts.batch !== undefined ? { batch: opts.batch } : {});
}

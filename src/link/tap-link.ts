// A TAP device (/dev/net/tun) as a link: the kernel's side of the wire is the TAP netdev (it
// has its own MAC, addresses and routes, configured with `ip`), and xlio-ts is the far end —
// its stack uses a MAC of its own. Every frame the kernel sends out of the device arrives
// here whole, with its checksums filled in; every frame we transmit the kernel receives as
// if from a cable. The device is created when the link opens (in `netns`, if given) and
// disappears when it closes.
//
//   const link = openTapLink({ name: 'tap0', netns: '/run/netns/k' });
//   // ip -n k addr add 198.18.0.2/24 dev tap0 && ip -n k link set tap0 up
//   const host = WireHost.start(link, { mac: '02:00:00:00:00:01', addrs: ['198.18.0.1/24'] });
//
// Needs the native addon and CAP_NET_ADMIN (root). Without them, the shm link or vxlan.

import { requireNativeAddon } from '../native/addon.js';
import { NativePortLink } from './native-port-link.js';

export interface TapLinkOptions {
  /** The device's name (at most 15 characters; "tap%d" lets the kernel number it). */
  name: string;
  /** A network namespace to create the device in: /run/netns/NAME. Default: this process's. */
  netns?: string;
  /** Frames per receive or transmit batch (default 64). */
  batch?: number;
  /** IFF_MULTI_QUEUE: other descriptors (other threads' links) may attach to the same device. */
  multiQueue?: boolean;
}

export class TapLink extends NativePortLink {
  constructor(
    addon: ReturnType<typeof requireNativeAddon>,
    opened: { id: number; name: string; ifindex: number; mtu: number },
    /** The namespace the device lives in ('' for this process's). */
    readonly netns: string,
    batch: number | undefined,
  ) {
    super(addon, opened.id, opened.mtu, `tap:${opened.name}${netns === '' ? '' : ` in ${netns}`}`, batch === undefined ? {} : { batch });
    this.name = opened.name;
    this.ifindex = opened.ifindex;
  }

  /** The device's name as the kernel gave it. */
  readonly name: string;
  /** Its interface index in its namespace. */
  readonly ifindex: number;
}

/** Creates the TAP device and opens it as a link. Throws with the errno name in `code`. */
export function openTapLink(opts: TapLinkOptions): TapLink {
  const addon = requireNativeAddon('the TAP driver');
  const netns = opts.netns ?? '';
  const opened = addon.tapOpen({ name: opts.name, ...(netns === '' ? {} : { netns }), ...(opts.multiQueue === true ? { multiQueue: true } : {}) });
  return new TapLink(addon, opened, netns, opts.batch);
}

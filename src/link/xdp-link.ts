// The AF_XDP link: an AF_XDP socket on one queue of an interface, fed by an XDP program that
// redirects that queue's frames to it (native/src/xdp.cc), as a NativePortLink. Like the
// packet link, the stack takes the interface's own MAC, as XLIO takes the NIC's; the
// kernel sees none of that queue's frames, but give it no addresses on the interface all
// the same (and disable its IPv6 there), so that it sends nothing of its own.
//
//   const link = openXdpLink({ ifname: 'veth0', netns: 'x' });
//   const stack = new Stack({ mac: link.mac, … }); stack.attach(link);
//
// mode: 'native' runs the program in the driver (veth, most NICs), 'skb' after the kernel
// built its socket buffer (any interface, slower); 'auto' tries native first. zeroCopy:
// the NIC DMAs straight into the UMEM where the driver supports it ('auto' uses it when
// there); veth only copies. Closing the link detaches the program.
//
// Needs the native addon, AF_XDP in the kernel, and CAP_BPF + CAP_NET_ADMIN + CAP_NET_RAW
// (root). Without them: the packet driver or the shm link.

import { requireNativeAddon } from '../native/addon.js';
import { netnsPath } from './link-spec.js';
import { NativePortLink, type NativePortOptions } from './native-port-link.js';

export type XdpMode = 'auto' | 'native' | 'skb';
export type XdpZeroCopy = 'auto' | 'on' | 'off';

export interface XdpLinkOptions extends NativePortOptions {
  /** The interface: "eth0", "veth0". */
  ifname: string;
  /** Its network namespace: a path (/run/netns/NAME) or an `ip netns` name. Default: this process's. */
  netns?: string;
  /** The queue whose frames this link takes (default 0). */
  queue?: number;
  /** Where the XDP program runs (default 'auto': native, else skb). */
  mode?: XdpMode;
  /** Zero-copy (default 'auto': when the driver can). */
  zeroCopy?: XdpZeroCopy;
  /** UMEM chunks, a power of two, half for each direction (default 4096). */
  frames?: number;
  /** UMEM chunk bytes (default 2048; 4096 for MTUs above 1774). */
  frameSize?: 2048 | 4096;
}

export class XdpLink extends NativePortLink {
  constructor(
    addon: ReturnType<typeof requireNativeAddon>,
    opened: { id: number; mac: Uint8Array; ifindex: number; mtu: number; mode: 'native' | 'skb'; zeroCopy: boolean },
    description: string,
    /** The queue this link serves. */
    readonly queue: number,
    opts: NativePortOptions,
  ) {
    super(addon, opened.id, opened.mtu, description, opts);
    this.mac = opened.mac;
    this.ifindex = opened.ifindex;
    this.mode = opened.mode;
    this.zeroCopy = opened.zeroCopy;
  }

  /** The interface's MAC address: the stack's own. */
  readonly mac: Uint8Array;
  /** Its interface index in its namespace. */
  readonly ifindex: number;
  /** Where the program was attached. */
  readonly mode: 'native' | 'skb';
  /** Whether the socket is bound in zero-copy mode. */
  readonly zeroCopy: boolean;
}

/** Opens an AF_XDP link; throws (with the errno name in `code`) when the addon, the kernel, a capability or the interface is missing. */
export function openXdpLink(opts: XdpLinkOptions): XdpLink {
  const addon = requireNativeAddon('the AF_XDP driver');
  const netns = opts.netns === undefined || opts.netns === '' ? undefined : netnsPath(opts.netns);
  const queue = opts.queue ?? 0;
  const r = addon.xdpOpen({
    ifname: opts.ifname,
    ...(netns !== undefined ? { netns } : {}),
    queue,
    ...(opts.frames !== undefined ? { frames: opts.frames } : {}),
    ...(opts.frameSize !== undefined ? { frameSize: opts.frameSize } : {}),
    mode: opts.mode ?? 'auto',
    zeroCopy: opts.zeroCopy ?? 'auto',
  });
  const description = `xdp:${opts.ifname}${netns !== undefined ? ` in ${netns}` : ''} queue ${queue} (${r.mode}${r.zeroCopy ? ', zero-copy' : ', copy'})`;
  return new XdpLink(addon, r, description, queue, opts.batch !== undefined ? { batch: opts.batch } : {});
}

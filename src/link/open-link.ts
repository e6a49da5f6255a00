// Opens the link a LinkSpec names (src/link/link-spec.ts): the one entry point the CLI, the
// runtime and the tests use to put a stack on a real wire. Each driver module is loaded
// only when asked for, so a missing addon concerns only the drivers that need it.

import { mac as parseMac } from '../wire/address.js';
import type { ParkableLink } from '../socket/drivers.js';
import type { Link } from './link.js';
import { formatLinkSpec, parseLinkSpec, type LinkSpec } from './link-spec.js';

/** A link to a wire: frames both ways, parking, and a close that releases the device. */
export type WireLink = Link & ParkableLink & { close(): void };

export interface OpenedLink {
  link: WireLink;
  /** The MAC the stack should use: the interface's own for packet and xdp (as XLIO uses the NIC's), chosen for tap and vxlan. */
  mac: Uint8Array;
  /** The spec, normalised, for messages. */
  description: string;
}

/** A locally administered unicast MAC (02:…) for the far end of a TAP or VXLAN wire, from the process and a counter. */
let macs = 0;
export function localMac(): Uint8Array {
  const n = ++macs;
  return Uint8Array.of(0x02, 0x78, (process.pid >>> 8) & 0xff, process.pid & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

export async function openLink(spec: LinkSpec | string): Promise<OpenedLink> {
  const s = typeof spec === 'string' ? parseLinkSpec(spec) : spec;
  const description = formatLinkSpec(s);
  switch (s.kind) {
    case 'packet': {
      const { openPacketLink } = await import('./packet-link.js');
      const link = openPacketLink({
        ifname: s.ifname,
        ...(s.netns !== undefined ? { netns: s.netns } : {}),
        ...(s.qdiscBypass !== undefined ? { qdiscBypass: s.qdiscBypass } : {}),
        ...(s.fanout !== undefined ? { fanout: { group: s.fanout, mode: 'hash' as const } } : {}),
      });
      return { link, mac: link.mac, description };
    }
    case 'xdp': {
      const { openXdpLink } = await import('./xdp-link.js');
      const link = openXdpLink({
        ifname: s.ifname,
        ...(s.netns !== undefined ? { netns: s.netns } : {}),
        ...(s.queue !== undefined ? { queue: s.queue } : {}),
        ...(s.mode !== undefined ? { mode: s.mode } : {}),
        ...(s.zeroCopy !== undefined ? { zeroCopy: s.zeroCopy } : {}),
      });
      return { link, mac: link.mac, description };
    }
    case 'tap': {
      const { openTapLink } = await import('./tap-link.js');
      const link = openTapLink({ name: s.name, ...(s.netns !== undefined ? { netns: s.netns } : {}) });
      return { link, mac: s.mac !== undefined ? parseMac(s.mac) : localMac(), description };
    }
    case 'vxlan': {
      const { VxlanLink } = await import('./vxlan-link.js');
      const link = await VxlanLink.open({ vni: s.vni, local: s.local, remote: s.remote, ...(s.mtu !== undefined ? { mtu: s.mtu } : {}) });
      return { link, mac: s.mac !== undefined ? parseMac(s.mac) : localMac(), description };
    }
  }
}

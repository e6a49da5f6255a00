// One topology per link driver, all with the same addresses, so an interop test can run
// the same scenario with xlio-ts on each driver in turn against a Linux kernel host:
//
//   kernel host (namespace k): 198.18.0.2/24, fd00::2/64 on `kernelIf`
//   xlio-ts (this process):    198.18.0.1/24, fd00::1/64 on the driver's link
//
//   packet, xdp  k:veth0 ⟷ x:veth0; our link is on x's end (the kernel in x has no
//                addresses there and IPv6 off, so it never answers for us).
//   tap          our TAP device tap0 is created in k: the kernel's NIC is the TAP netdev.
//   vxlan        this (root) namespace ⟷ k over a veth with a /30 of 198.18.128.0/17 of its
//                own (per process and topology: test files run side by side) carrying the
//                tunnel; in k a kernel vxlan device vx0 (VNI 42) holds the kernel host's
//                addresses; our VxlanLink is the other tunnel end.

import { spawnSync } from 'node:child_process';
import { openLink, type OpenedLink } from '../../src/link/open-link.js';
import { Topology } from './netns.js';
import { WireHost } from './wire-host.js';

export type DriverKind = 'packet' | 'xdp' | 'tap' | 'vxlan';
export const DRIVERS: readonly DriverKind[] = ['packet', 'xdp', 'tap', 'vxlan'];

export const KERNEL_V4 = '198.18.0.2';
export const KERNEL_V6 = 'fd00::2';
export const OUR_V4 = '198.18.0.1';
export const OUR_V6 = 'fd00::1';

let underlays = 0;
/** A /30 of 198.18.128.0/17 for a vxlan underlay: 8192 of them, by pid and a counter. */
function underlay(): { root: string; k: string } {
  const n = (process.pid % 1024) * 8 + (underlays++ % 8);
  const base = (198 << 24) | (18 << 16) | (128 << 8);
  const ip = (i: number): string => [(i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255].join('.');
  return { root: ip(base + n * 4 + 1), k: ip(base + n * 4 + 2) };
}

export interface DriverTopology {
  readonly kind: DriverKind;
  readonly topo: Topology;
  /** The kernel host's namespace. */
  readonly k: string;
  /** Its interface facing xlio-ts (capture here). */
  readonly kernelIf: string;
  readonly opened: OpenedLink;
  readonly host: WireHost;
  /** Stops the host, closes the link, tears the namespaces down. Idempotent. */
  destroy(): void;
}

/**
 * Builds the topology for `kind`, opens the link and starts an xlio-ts host on it.
 * `netem`: tc netem arguments applied to the kernel's egress towards us (delay, loss…).
 */
export async function driverTopology(kind: DriverKind, tag: string, opts: { netem?: readonly string[] } = {}): Promise<DriverTopology> {
  const topo = Topology.create(`${tag}${kind[0]}`);
  let rootVeth: string | null = null;
  let opened: OpenedLink | null = null;
  try {
    const k = topo.ns('k');
    let kernelIf = 'veth0';
    if (kind === 'packet' || kind === 'xdp') {
      const x = topo.ns('x');
      topo.veth(k, 'veth0', x, 'veth0');
      topo.noIpv6(x, 'veth0');
      opened = await openLink(`${kind}:veth0,netns=${Topology.path(x)}`);
    } else if (kind === 'tap') {
      opened = await openLink(`tap:tap0,netns=${Topology.path(k)}`);
      kernelIf = 'tap0';
      topo.offloadsOff(k, 'tap0');
      topo.run(k, ['ip', 'link', 'set', 'tap0', 'up']);
    } else {
      // The tunnel's underlay: a veth from this namespace into k (deleted with k, and again below).
      rootVeth = `xtv${process.pid % 100000}${tag.slice(0, 2)}${underlays % 8}`;
      const u = underlay();
      spawnSync('ip', ['link', 'del', rootVeth]);
      const r = spawnSync('ip', ['link', 'add', rootVeth, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', k], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`ip link add ${rootVeth}: ${r.stderr.trim()}`);
      for (const args of [
        ['addr', 'add', `${u.root}/30`, 'dev', rootVeth],
        ['link', 'set', rootVeth, 'up'],
      ]) {
        const s = spawnSync('ip', args, { encoding: 'utf8' });
        if (s.status !== 0) throw new Error(`ip ${args.join(' ')}: ${s.stderr.trim()}`);
      }
      topo.addr(k, 'veth0', `${u.k}/30`);
      topo.offloadsOff(k, 'veth0');
      topo.run(k, ['ip', 'link', 'set', 'veth0', 'up']);
      topo.run(k, ['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'local', u.k, 'remote', u.root, 'dstport', '4789', 'dev', 'veth0']);
      // The inner frames reach a dgram socket, not a wire: with checksum offload the kernel
      // would leave their TCP/UDP checksums for "hardware" that never runs.
      topo.offloadsOff(k, 'vx0');
      topo.run(k, ['ip', 'link', 'set', 'vx0', 'up']);
      kernelIf = 'vx0';
      opened = await openLink(`vxlan:42,local=${u.root},remote=${u.k}`);
    }
    topo.addr(k, kernelIf, `${KERNEL_V4}/24`);
    topo.addr(k, kernelIf, `${KERNEL_V6}/64`);
    if (opts.netem !== undefined) topo.netem(k, kernelIf === 'vx0' ? 'veth0' : kernelIf, opts.netem);
    const host = WireHost.start(opened.link, { mac: opened.mac, addrs: [`${OUR_V4}/24`, `${OUR_V6}/64`] });
    const link = opened;
    let done = false;
    return {
      kind,
      topo,
      k,
      kernelIf,
      opened: link,
      host,
      destroy() {
        if (done) return;
        done = true;
        host.stop();
        topo.destroy();
        if (rootVeth !== null) spawnSync('ip', ['link', 'del', rootVeth]);
      },
    };
  } catch (e) {
    opened?.link.close();
    topo.destroy();
    if (rootVeth !== null) spawnSync('ip', ['link', 'del', rootVeth]);
    throw e;
  }
}

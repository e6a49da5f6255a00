// One xlio-ts host for `xlio perf`: a Stack with the BSD socket API over it, on one side of
// a ShmLink (the in-process benchmark: the server is 198.18.0.1 on side a, the client
// 198.18.0.2 on side b; nothing leaves the shared-memory link), or on a real link (--link:
// packet, xdp, tap, vxlan) with the address --addr gives it.

import type { Link } from '../../link/link.js';
import { ShmLink, type ShmLinkShared } from '../../link/shm-link.js';
import { SeededRng } from '../../rng.js';
import { LinkDriver, type ParkableLink } from '../../socket/drivers.js';
import { Sockets } from '../../socket/sockets.js';
import { Stack } from '../../stack/stack.js';
import { ipv4, ipv6 } from '../../wire/address.js';

export const SERVER_IP = '198.18.0.1';
export const CLIENT_IP = '198.18.0.2';
/** Bytes per direction of the shared-memory link. */
export const LINK_BYTES = 4 << 20;
/**
 * The link's MTU, as Linux's loopback device has it (65536, which the kernel's IP layer caps
 * at IP_MAX_MTU = 65520): Node's sockets in the comparison run over lo, and a bulk TCP
 * transfer then moves 64 KiB segments, not 1500-byte ones (TCP bulk over shm: 1.5 Gbit/s
 * at 1500, 5.9 at 9000, 9.5 at 65520).
 */
export const LINK_MTU = 65520;

export interface XlioHost {
  stack: Stack;
  link: Link & ParkableLink;
  driver: LinkDriver;
  api: Sockets;
}

export function createHost(shared: ShmLinkShared, role: 'server' | 'client'): XlioHost {
  const me = role === 'server' ? 1 : 2;
  const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, me), rng: new SeededRng(0x5eed + me), ipv6: false });
  const link = new ShmLink(shared, role === 'server' ? 'a' : 'b');
  stack.attach(link);
  stack.addAddress(ipv4(role === 'server' ? SERVER_IP : CLIENT_IP), 24);
  return hostOn(stack, link);
}

/** A host on a real link with the interface's MAC and `addr` ("198.18.0.1/24", "fd00::1/64"). */
export function createWireHost(link: Link & ParkableLink, mac: Uint8Array, addr: string): XlioHost {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(addr);
  if (m === null) throw new Error(`--addr must be ADDRESS/PREFIX (198.18.0.1/24, fd00::1/64), not ${JSON.stringify(addr)}`);
  const v6 = m[1]!.includes(':');
  const stack = new Stack({ mac, rng: new SeededRng(0x5eed ^ process.pid), ipv6: v6 });
  stack.attach(link);
  stack.addAddress(v6 ? ipv6(m[1]!) : ipv4(m[1]!), Number(m[2]), stack.primary, { dad: false });
  return hostOn(stack, link);
}

function hostOn(stack: Stack, link: Link & ParkableLink): XlioHost {
  // Spinning loops never block: every call is non-blocking and every iomux call has timeout 0.
  const driver = new LinkDriver(stack, link, undefined, { canBlock: false });
  const api = new Sockets(stack, { driver });
  return { stack, link, driver, api };
}

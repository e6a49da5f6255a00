// One xlio-ts host for the in-process benchmark: a Stack on one side of a ShmLink, with
// the BSD socket API over it. The server is 198.18.0.1 (side a), the client 198.18.0.2
// (side b); nothing leaves the shared-memory link.

import { ShmLink, type ShmLinkShared } from '../../link/shm-link.js';
import { SeededRng } from '../../rng.js';
import { LinkDriver } from '../../socket/drivers.js';
import { Sockets } from '../../socket/sockets.js';
import { Stack } from '../../stack/stack.js';
import { ipv4 } from '../../wire/address.js';

export const SERVER_IP = '198.18.0.1';
export const CLIENT_IP = '198.18.0.2';
/** Bytes per direction of the shared-memory link. */
export const LINK_BYTES = 4 << 20;
export const LINK_MTU = 1500;

export interface XlioHost {
  stack: Stack;
  link: ShmLink;
  driver: LinkDriver;
  api: Sockets;
}

export function createHost(shared: ShmLinkShared, role: 'server' | 'client'): XlioHost {
  const me = role === 'server' ? 1 : 2;
  const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, me), rng: new SeededRng(0x5eed + me), ipv6: false });
  const link = new ShmLink(shared, role === 'server' ? 'a' : 'b');
  stack.attach(link);
  stack.addAddress(ipv4(role === 'server' ? SERVER_IP : CLIENT_IP), 24);
  // Spinning loops never block: every call is non-blocking and every iomux call has timeout 0.
  const driver = new LinkDriver(stack, link, undefined, { canBlock: false });
  const api = new Sockets(stack, { driver });
  return { stack, link, driver, api };
}

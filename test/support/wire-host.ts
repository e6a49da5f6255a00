// An xlio-ts host on a real link, for the interop tests: a Stack attached to a driver's
// link (packet, xdp, tap, vxlan…), the BSD socket API over it, and a PollLoop on the main
// thread (parks with waitForDataAsync, so the test's own awaits, timers and child processes
// keep running). Socket calls go through `io` (SocketPromises), which waits on the loop.
//
//   const host = WireHost.start(link, { mac: '02:00:00:00:00:01', addrs: ['198.18.0.1/24', 'fd00::1/64'] });
//   const fd = host.api.socket(AF_INET, SOCK_STREAM, 0); … await host.io.connect(fd, …);
//   t.after(() => host.stop());

import type { WireLink } from '../../src/link/open-link.js';
import { SeededRng } from '../../src/rng.js';
import { PollLoop } from '../../src/runtime/poll-loop.js';
import { LinkDriver } from '../../src/socket/drivers.js';
import { SocketPromises } from '../../src/socket/promises.js';
import { Sockets } from '../../src/socket/sockets.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4, ipv6, mac } from '../../src/wire/address.js';

export type { WireLink };

export interface WireHostOptions {
  /** The host's MAC: "02:00:00:00:00:01" or its bytes (an interface's own, from its driver). */
  mac: string | Uint8Array;
  /** Addresses with prefix lengths: "198.18.0.1/24", "fd00::1/64". */
  addrs: readonly string[];
  /** IPv4 default gateway, if any. */
  gateway?: string;
  seed?: number;
  /** Idle rounds before the loop parks (XLIO_RX_POLL); default 2000, so an idle test host sleeps. */
  rxPoll?: number;
}

export class WireHost {
  readonly stack: Stack;
  readonly driver: LinkDriver;
  readonly api: Sockets;
  readonly loop: PollLoop;
  readonly io: SocketPromises;
  private stopped = false;

  private constructor(
    readonly link: WireLink,
    opts: WireHostOptions,
  ) {
    const v6 = opts.addrs.some((a) => a.includes(':'));
    this.stack = new Stack({ mac: typeof opts.mac === 'string' ? mac(opts.mac) : opts.mac, rng: new SeededRng(opts.seed ?? 0x1e5), ipv6: v6 });
    this.stack.attach(link);
    for (const a of opts.addrs) {
      const [addr, len] = a.split('/') as [string, string];
      this.stack.addAddress(addr.includes(':') ? ipv6(addr) : ipv4(addr), Number(len), this.stack.primary, { dad: false });
    }
    if (opts.gateway !== undefined) this.stack.defaultGateway = ipv4(opts.gateway);
    this.driver = new LinkDriver(this.stack, link, undefined, { canBlock: false });
    this.api = new Sockets(this.stack, { driver: this.driver });
    this.loop = new PollLoop(this.driver, { rxPoll: opts.rxPoll ?? 2000 });
    this.io = new SocketPromises(this.api, this.loop);
  }

  /** Builds the host and starts its loop on the main thread. */
  static start(link: WireLink, opts: WireHostOptions): WireHost {
    const h = new WireHost(link, opts);
    void h.loop.start().catch((e: unknown) => {
      if (!h.stopped) console.error('wire host loop failed:', e);
    });
    return h;
  }

  /** Stops the loop and closes the link. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.loop.stop();
    this.link.close();
  }
}

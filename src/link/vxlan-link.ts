// VXLAN (RFC 7348) as a link, in pure TypeScript over Node's dgram: inner Ethernet frames
// travel in UDP datagrams (port 4789) behind an 8-byte header — the I flag and a 24-bit VNI —
// between this process and one remote tunnel endpoint, IPv4 or IPv6 outside. The far end is
// typically a kernel vxlan device:
//
//   ip link add vx0 type vxlan id 42 local 198.18.9.2 remote 198.18.9.1 dstport 4789 dev veth0
//   const link = await VxlanLink.open({ vni: 42, local: { address: '198.18.9.1' }, remote: { address: '198.18.9.2' } });
//
// It needs no privileges and no native addon, but it runs on Node's event loop: datagrams
// arrive through dgram's 'message' callbacks, so the link is for the main-thread PollLoop
// (PollLoop.start(), which parks with waitForDataAsync). waitForData(), the synchronous park
// of worker loops, cannot block — nothing would deliver a datagram meanwhile — and only
// reports whether frames are queued.
//
// Receive: each datagram's header is checked (I flag set, our VNI; others are counted and
// dropped) and the whole datagram is copied once into a preallocated ring of slots; receive()
// hands the stack views into the ring. Transmit: each frame is copied once into a
// preallocated slot behind a header written when the link opened, and sent with
// socket.send. dgram sends synchronously when the kernel takes the datagram at once; when
// it cannot, libuv queues the send and keeps a reference to the slot, so a slot is reused
// only while fewer sends than there are slots are queued (getSendQueueCount), and a frame
// finding every slot queued is dropped and counted, as a NIC drops on a full ring. Nothing
// is allocated per frame here beyond what dgram itself allocates (the received Buffer and
// rinfo, a view and a request per send).

import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ParkableLink } from '../socket/drivers.js';
import { VXLAN_FLAG_I, VXLAN_HEADER_LEN, VXLAN_UDP_PORT, VxlanPacket } from '../wire/vxlan.js';
import type { Link } from './link.js';

export interface VxlanEndpoint {
  /** An IPv4 or IPv6 address literal (no host names: the link resolves nothing). */
  address: string;
  /** UDP port; default 4789 (IANA, RFC 7348 §5). */
  port?: number;
}

export interface VxlanLinkOptions {
  /** The VXLAN network identifier, 0 … 2^24 − 1. */
  vni: number;
  /** Where this end's UDP socket binds. */
  local: VxlanEndpoint;
  /** The one remote tunnel endpoint (unicast, like `ip link add … type vxlan remote ADDR`). */
  remote: VxlanEndpoint;
  /**
   * The inner MTU. Default: the MTU of the interface holding `local` minus the encapsulation
   * (50 bytes with IPv4 outside, 70 with IPv6: outer IP + UDP + VXLAN + inner Ethernet, the
   * kernel's VXLAN_HEADROOM / VXLAN6_HEADROOM): 1450 over a 1500-byte IPv4 network; at most
   * 65485 (IPv4) or 65465 (IPv6), where the kernel's vxlan caps it too.
   */
  mtu?: number;
  /** Receive ring slots (default 512, fewer for a large MTU: 8 MiB at most) and transmit slots (default 256, 4 MiB at most). */
  rxSlots?: number;
  txSlots?: number;
  /** SO_RCVBUF / SO_SNDBUF to ask for (default 4 MiB each; the kernel caps them at net.core.[rw]mem_max). */
  socketBufferBytes?: number;
}

/** The inner Ethernet header (and a VLAN tag) in front of the MTU's payload. */
const INNER_ETH = 14 + 4;
/** Outer headers before the inner frame: IP + UDP + VXLAN. */
const OUTER_V4 = 20 + 8 + VXLAN_HEADER_LEN;
const OUTER_V6 = 40 + 8 + VXLAN_HEADER_LEN;
/** The smallest inner frame: an Ethernet header. */
const MIN_INNER = 14;

/** Hot-path check of a VXLAN header at bytes[0..8): the VNI, or −1 without the I flag. Reserved bits are ignored (RFC 7348 §5). */
export function vxlanHeaderVni(bytes: Uint8Array): number {
  if ((bytes[0]! & VXLAN_FLAG_I) === 0) return -1;
  return (bytes[4]! << 16) | (bytes[5]! << 8) | bytes[6]!;
}

/** The MTU of the local interface that holds `address` (from sysfs), or null when it cannot be found. */
function interfaceMtu(address: string): number | null {
  const want = address.toLowerCase();
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (addrs === undefined || !addrs.some((a) => a.address.toLowerCase() === want)) continue;
    try {
      const mtu = Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
      return Number.isInteger(mtu) && mtu > 0 ? mtu : null;
    } catch {
      return null;
    }
  }
  return null;
}

function checkPort(what: string, port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`${what} port must be an integer 0 … 65535, not ${port}`);
  return port;
}

export class VxlanLink implements Link, ParkableLink {
  /** Frames crossed a wire (and a kernel that may have left checksums to hardware): verify them. */
  readonly rxChecksumVerified = false;
  readonly vni: number;
  readonly mtu: number;
  /** The outer address family: 4 or 6. */
  readonly family: 4 | 6;
  readonly remoteAddress: string;
  readonly remotePort: number;

  /** Frames handed to the stack. */
  framesIn = 0;
  /** Frames sent. */
  framesOut = 0;
  /** Datagrams too short for a header and an Ethernet header, or without the I flag. */
  rxBadHeader = 0;
  /** Datagrams for another VNI. */
  rxOtherVni = 0;
  /** Frames dropped because the receive ring was full (the stack did not drain it in time). */
  rxDropsFull = 0;
  /** Frames larger than the MTU allows, dropped. */
  rxDropsOversize = 0;
  /** Frames handed to transmit() larger than the MTU (a stack bug if ever non-zero). */
  txOversize = 0;
  /** Frames dropped because every transmit slot was still queued in libuv. */
  txDropsFull = 0;
  /** Errors the socket reported (sends that failed later, and the like). */
  socketErrors = 0;
  /** The last of them. */
  lastError: Error | null = null;

  /** Bytes per slot: a VXLAN header and the largest inner frame. */
  private readonly slotBytes: number;
  private readonly rxRing: Uint8Array;
  private readonly rxLens: Uint32Array;
  private readonly rxSlots: number;
  /** Slots written (head) and consumed (tail), counting up; head − tail frames are queued. */
  private rxHead = 0;
  private rxTail = 0;
  private readonly txRing: Uint8Array;
  private readonly txSlots: number;
  private txNext = 0;
  private closed = false;

  private waiter: ((data: boolean) => void) | null = null;
  private waitTimer: ReturnType<typeof setTimeout> | null = null;
  /** interruptWait() with no wait in progress: the next one ends at once. */
  private interruptPending = false;

  private constructor(
    private readonly socket: dgram.Socket,
    opts: VxlanLinkOptions,
    family: 4 | 6,
    mtu: number,
  ) {
    this.vni = opts.vni;
    this.family = family;
    this.mtu = mtu;
    this.remoteAddress = opts.remote.address;
    this.remotePort = opts.remote.port ?? VXLAN_UDP_PORT;
    this.slotBytes = (VXLAN_HEADER_LEN + mtu + INNER_ETH + 7) & ~7;
    this.rxSlots = opts.rxSlots ?? Math.max(16, Math.min(512, Math.floor((8 << 20) / this.slotBytes)));
    this.txSlots = opts.txSlots ?? Math.max(16, Math.min(256, Math.floor((4 << 20) / this.slotBytes)));
    this.rxRing = new Uint8Array(this.slotBytes * this.rxSlots);
    this.rxLens = new Uint32Array(this.rxSlots);
    this.txRing = new Uint8Array(this.slotBytes * this.txSlots);
    // Every transmit slot starts with the same header: written once, here (RFC 7348 §5:
    // flags 0x08, reserved bits zero, the VNI).
    const h = new VxlanPacket(this.txRing, 0);
    for (let i = 0; i < this.txSlots; i++) {
      h.reset(this.txRing, i * this.slotBytes);
      h.flags = VXLAN_FLAG_I;
      h.vni = this.vni;
    }
    socket.on('message', this.onMessage);
    socket.on('error', this.onError);
  }

  /** Binds the UDP socket at `local` and resolves with the link once it is bound. */
  static async open(opts: VxlanLinkOptions): Promise<VxlanLink> {
    if (!Number.isInteger(opts.vni) || opts.vni < 0 || opts.vni > 0xffffff) throw new RangeError(`a VNI is 24 bits (0 … 16777215), not ${opts.vni}`);
    const lf = isIP(opts.local.address);
    const rf = isIP(opts.remote.address);
    if (lf === 0) throw new TypeError(`local address "${opts.local.address}" is not an IP address literal`);
    if (rf === 0) throw new TypeError(`remote address "${opts.remote.address}" is not an IP address literal`);
    if (lf !== rf) throw new TypeError(`local ${opts.local.address} and remote ${opts.remote.address} are of different address families`);
    const family = lf as 4 | 6;
    checkPort('local', opts.local.port ?? VXLAN_UDP_PORT);
    checkPort('remote', opts.remote.port ?? VXLAN_UDP_PORT);
    for (const k of ['rxSlots', 'txSlots'] as const) {
      const v = opts[k];
      if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 65536)) throw new RangeError(`${k} must be an integer 1 … 65536, not ${v}`);
    }
    // Linux: vxlan_config_validate caps the MTU at IP_MAX_MTU (65535) less the headroom.
    const headroom = (family === 4 ? OUTER_V4 : OUTER_V6) + 14;
    const maxMtu = 65535 - headroom;
    const mtu = opts.mtu ?? Math.min(maxMtu, (interfaceMtu(opts.local.address) ?? 1500) - headroom);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > maxMtu) throw new RangeError(`inner MTU ${mtu} is out of range (68 … ${maxMtu})`);
    // A lookup that answers at once: dgram then sends synchronously (the default dns.lookup
    // answers even an address literal on the next tick, and the transmit slot would be reused
    // before the datagram left).
    const socket = dgram.createSocket({
      type: family === 4 ? 'udp4' : 'udp6',
      lookup: (host: string, _o: unknown, cb: (err: Error | null, address: string, family: number) => void) => cb(null, host, family),
    } as dgram.SocketOptions);
    await new Promise<void>((resolve, reject) => {
      const fail = (e: Error): void => {
        socket.close();
        const err = new Error(`VXLAN: cannot bind UDP ${opts.local.address} port ${opts.local.port ?? VXLAN_UDP_PORT}: ${e.message}`, { cause: e });
        reject(Object.assign(err, { code: (e as NodeJS.ErrnoException).code }));
      };
      socket.once('error', fail);
      socket.bind({ address: opts.local.address, port: opts.local.port ?? VXLAN_UDP_PORT, exclusive: true }, () => {
        socket.off('error', fail);
        resolve();
      });
    });
    const bytes = opts.socketBufferBytes ?? 4 << 20;
    try {
      socket.setRecvBufferSize(bytes);
      socket.setSendBufferSize(bytes);
    } catch {
      /* the kernel's limits stand */
    }
    return new VxlanLink(socket, opts, family, mtu);
  }

  /** The bound local endpoint. */
  address(): { address: string; port: number } {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  private readonly onMessage = (msg: Buffer): void => {
    const len = msg.length;
    if (len < VXLAN_HEADER_LEN + MIN_INNER) {
      this.rxBadHeader++;
      return;
    }
    const vni = vxlanHeaderVni(msg);
    if (vni < 0) {
      this.rxBadHeader++;
      return;
    }
    if (vni !== this.vni) {
      this.rxOtherVni++;
      return;
    }
    if (len > this.slotBytes) {
      this.rxDropsOversize++;
      return;
    }
    const head = this.rxHead;
    if (head - this.rxTail >= this.rxSlots) {
      this.rxDropsFull++;
      return;
    }
    // The whole datagram, header included, in one copy with no view to allocate; the frame
    // is at +8 in the slot.
    const slot = head % this.rxSlots;
    this.rxRing.set(msg, slot * this.slotBytes);
    this.rxLens[slot] = len - VXLAN_HEADER_LEN;
    this.rxHead = head + 1;
    if (this.waiter !== null) this.endWait(true);
  };

  private readonly onError = (e: Error): void => {
    this.socketErrors++;
    this.lastError = e;
  };

  transmit(frame: Uint8Array): void {
    if (this.closed) return;
    const len = frame.length;
    if (len + VXLAN_HEADER_LEN > this.slotBytes) {
      this.txOversize++;
      return;
    }
    // Sends queued in libuv hold the most recent slots: the one about to be rewritten
    // (used txSlots sends ago) is free unless all of them are queued.
    if (this.socket.getSendQueueCount() >= this.txSlots) {
      this.txDropsFull++;
      return;
    }
    const slot = this.txNext;
    this.txNext = slot + 1 === this.txSlots ? 0 : slot + 1;
    const at = slot * this.slotBytes;
    this.txRing.set(frame, at + VXLAN_HEADER_LEN);
    this.socket.send(this.txRing, at, VXLAN_HEADER_LEN + len, this.remotePort, this.remoteAddress);
    this.framesOut++;
  }

  /** Frames queued for receive(). */
  get queued(): number {
    return this.rxHead - this.rxTail;
  }

  receive(handler: (bytes: Uint8Array, at: number, len: number) => void, max: number): number {
    let n = 0;
    const ring = this.rxRing;
    const slots = this.rxSlots;
    const size = this.slotBytes;
    while (n < max && this.rxTail !== this.rxHead) {
      const slot = this.rxTail % slots;
      // Consumed before the handler runs: it may not re-enter receive, but a frame it
      // throws on must not come back forever.
      this.rxTail++;
      n++;
      handler(ring, slot * size + VXLAN_HEADER_LEN, this.rxLens[slot]!);
    }
    this.framesIn += n;
    return n;
  }

  /**
   * Cannot block: datagrams arrive only through Node's event loop, which a blocked thread
   * does not run. Returns whether frames are queued now. Use the link with the main-thread
   * PollLoop (start()), which parks with waitForDataAsync.
   */
  waitForData(_timeoutMs: number): boolean {
    this.interruptPending = false;
    return this.rxHead !== this.rxTail;
  }

  /** Resolves true when a frame arrives (at once if some are queued), false on timeout or interruptWait(). */
  waitForDataAsync(timeoutMs: number): Promise<boolean> {
    if (this.rxHead !== this.rxTail) return Promise.resolve(true);
    if (this.closed || this.interruptPending || !(timeoutMs > 0)) {
      this.interruptPending = false;
      return Promise.resolve(false);
    }
    if (this.waiter !== null) this.endWait(false); // one wait at a time: an older one ends
    return new Promise<boolean>((resolve) => {
      this.waiter = resolve;
      this.waitTimer = setTimeout(this.onWaitTimeout, Math.min(timeoutMs, 2_147_483_647));
    });
  }

  private readonly onWaitTimeout = (): void => {
    this.waitTimer = null;
    this.endWait(false);
  };

  private endWait(data: boolean): void {
    const w = this.waiter;
    this.waiter = null;
    if (this.waitTimer !== null) {
      clearTimeout(this.waitTimer);
      this.waitTimer = null;
    }
    if (w !== null) w(data);
  }

  interruptWait(): void {
    if (this.waiter !== null) this.endWait(false);
    else this.interruptPending = true;
  }

  counters(): Record<string, number> {
    return {
      framesIn: this.framesIn,
      framesOut: this.framesOut,
      rxBadHeader: this.rxBadHeader,
      rxOtherVni: this.rxOtherVni,
      rxDropsFull: this.rxDropsFull,
      rxDropsOversize: this.rxDropsOversize,
      txOversize: this.txOversize,
      txDropsFull: this.txDropsFull,
      socketErrors: this.socketErrors,
    };
  }

  /** Closes the socket; a wait in progress ends with false. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.endWait(false);
    this.socket.off('message', this.onMessage);
    this.socket.close();
  }
}

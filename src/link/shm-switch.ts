// A shared-memory "switch" for more than two stacks: one SharedArrayBuffer segment holds a
// full mesh of single-producer/single-consumer ShmRings, ring (i→j) for every ordered pair of
// ports. There is no switch thread: a port transmitting a frame is the switch. It looks the
// destination MAC up in its own table and pushes the frame into ring (i→j); a group address
// (broadcast or multicast: bit 0 of the first byte) goes into every ring (i→*), and an
// unknown unicast is flooded the same way. Each port learns where a MAC lives from the
// source address of what it receives (ring k→i: that MAC is behind port k); a port may also
// register its own MAC in the segment, which the others consult on a miss.
//
// Every ring has one writer and one reader, the learned tables are private to their port,
// and a registered MAC is written only by its port. The only words written by more than one
// thread are the doorbells below, and only with atomic read-modify-write.
//
// Parking on N−1 inbound rings: each port has one doorbell (BELL, PARKED) in its control
// block that every inbound ring's producer rings; the rings' own data doorbells are unused
// (their parked flags stay 0, so ShmRing.publish() never notifies). With seq-cst Atomics:
//   waiter (port j):   S: store PARKED=1; L: seq=load BELL; C: check every inbound ring;
//                      if all empty, W: Atomics.wait(BELL, seq, t); repeat; then store PARKED=0.
//   producer (i→j):    T: store the ring's tail (publish); R: if load PARKED != 0 and
//                      exchange(PARKED, 0) was 1: A: add 1 to BELL, notify.
// Why no wake-up is lost: say the waiter sleeps in W although producer p published at T_p.
// C did not see it, so C < T_p < R_p in the single total order of seq-cst operations, and
// R_p comes after S. After S the flag is only ever cleared by producers' exchanges (the
// waiter clears it after W returns), so whether R_p reads 1 or 0, some producer q exchanged
// it from 1 to 0 at X_q, after S and no later than R_p, and then adds to BELL at A_q. If A_q
// came before L, then T_q < X_q < A_q < L < C and C would have seen q's frame (and not
// slept): a contradiction. So A_q comes after L: either W finds BELL != seq and returns at
// once, or W is already asleep and A_q's notify wakes it. The waiter re-checks every ring
// after any wake, so it finds p's frame. A bell rung late for an earlier park only causes a
// spurious wake and a re-check. One exchange wins per park, so a busy port costs its
// producers one load of PARKED per publish.
//
// Any thread may end a port's wait without a frame (ShmSwitch.interruptWait: a poll loop
// being stopped): it stores KICK=1, adds 1 to BELL and notifies; the waiter checks KICK
// after L, so it either sees the kick or finds BELL changed (as above). A kick with no wait
// in progress ends the next one.
//
// Across processes, Atomics.notify does not reach the waiter (see DESIGN.md); this is for
// worker_threads sharing one SAB.

import type { Link } from './link.js';
import { Doorbell } from './doorbell.js';
import { ShmRing, ShmRingLayout, type ShmFrameHandler } from './shm-ring.js';

/** What every port attaches to: the segment and its geometry; structured-cloneable (postMessage, workerData). */
export interface ShmSwitchShared {
  readonly sab: SharedArrayBuffer;
  readonly ports: number;
  readonly mtu: number;
  /** Data bytes of each ring (a power of two). */
  readonly ringCapacity: number;
}

export interface ShmSwitchOptions {
  /** Data bytes per ring (rounded up to a power of two); default 256 KiB. There are ports × (ports − 1) rings. */
  capacityBytes?: number;
  /** Largest payload after the Ethernet header; default 1500. */
  mtu?: number;
}

export interface ShmSwitchPortOptions {
  /** Registers this MAC in the segment so other ports reach it without flooding first. */
  mac?: Uint8Array;
}

/** Int32 word indices of the segment, for tools and tests that inspect it. */
export const ShmSwitchLayout = Object.freeze({
  HEADER_BYTES: 256,
  MAGIC: 0,
  PORTS: 1,
  MTU: 2,
  RING_CAPACITY: 3,
  /** Each port's control block, after the header. */
  PORT_BLOCK_BYTES: 256,
  // Word offsets inside a port block. The doorbell line (written by the port's producers and by the port).
  BELL: 0,
  PARKED: 1,
  /** Set by ShmSwitch.interruptWait (any thread), cleared by the port's wait it ends. */
  KICK: 2,
  // The owner's line: claimed while a ShmSwitchPort is open; the registered MAC (valid when MAC_SET = 1).
  OPEN: 16,
  MAC_SET: 17,
  MAC_HI: 18,
  MAC_LO: 19,
});

const L = ShmSwitchLayout;
const MAGIC_VALUE = 0x53535754; // "SSWT"
const MIN_PORTS = 2;
const MAX_PORTS = 64;
const MIN_MTU = 68;
const MAX_MTU = 65535;
const MAX_SEGMENT_BYTES = 2 ** 31 - 8;
const DEFAULT_CAPACITY = 1 << 18;
const ETH_HEADER = 14;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
/** Ethernet header plus two VLAN tags: the longest L2 header transmit() accepts beyond the MTU. */
const MAX_L2_HEADER = ETH_HEADER + 8;
/** Learned-table slots per port (a power of two) and the longest probe. */
const TABLE_SLOTS = 256;
const TABLE_PROBES = 8;
/** Marks a used slot in the table's high word (a MAC's high part is 16 bits). */
const SLOT_USED = 0x10000;


/** Bytes before the payload: the Ethernet header and its 802.1Q/802.1ad tags. */
function l2HeaderLength(f: Uint8Array): number {
  let type = (f[12]! << 8) | f[13]!;
  let n = ETH_HEADER;
  if ((type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) && f.length >= n + 4) {
    n += 4;
    type = (f[16]! << 8) | f[17]!;
    if (type === ETHERTYPE_VLAN && f.length >= n + 4) n += 4;
  }
  return n;
}

function checkGeometry(ports: number, mtu: number): void {
  if (!Number.isInteger(ports) || ports < MIN_PORTS || ports > MAX_PORTS) {
    throw new RangeError(`ShmSwitch port count must be an integer in ${MIN_PORTS}..${MAX_PORTS}, got ${ports}`);
  }
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    throw new RangeError(`ShmSwitch mtu must be an integer in ${MIN_MTU}..${MAX_MTU}, got ${mtu}`);
  }
}

/** Byte offset of ring (from→to) in a segment of `ports` ports with rings of `ringBytes`; from ≠ to. */
function ringOffset(ports: number, ringBytes: number, from: number, to: number): number {
  const slot = from * (ports - 1) + (to < from ? to : to - 1);
  return L.HEADER_BYTES + ports * L.PORT_BLOCK_BYTES + slot * ringBytes;
}

export class ShmSwitch {
  /** Allocates and formats a segment of `ports` ports; hand the result to each port's thread. */
  static create(ports: number, opts: ShmSwitchOptions = {}): ShmSwitchShared {
    const mtu = opts.mtu ?? 1500;
    checkGeometry(ports, mtu);
    const requested = opts.capacityBytes ?? DEFAULT_CAPACITY;
    const ringBytes = ShmRing.bytesFor(requested); // RangeError for a bad capacity
    const cap = ringBytes - ShmRingLayout.HEADER_BYTES;
    if (mtu + MAX_L2_HEADER > cap / 2 - 4) {
      throw new RangeError(`ShmSwitch ring of ${cap} bytes cannot hold a ${mtu + MAX_L2_HEADER}-byte frame (capacity must be >= ${2 * (mtu + MAX_L2_HEADER + 4)})`);
    }
    const total = L.HEADER_BYTES + ports * L.PORT_BLOCK_BYTES + ports * (ports - 1) * ringBytes;
    if (total > MAX_SEGMENT_BYTES) {
      throw new RangeError(`ShmSwitch of ${ports} ports with ${cap}-byte rings needs ${total} bytes, more than ${MAX_SEGMENT_BYTES}`);
    }
    const sab = new SharedArrayBuffer(total);
    for (let i = 0; i < ports; i++) {
      for (let j = 0; j < ports; j++) if (i !== j) ShmRing.format(sab, ringOffset(ports, ringBytes, i, j), cap);
    }
    const h = new Int32Array(sab, 0, L.HEADER_BYTES >> 2);
    h[L.PORTS] = ports;
    h[L.MTU] = mtu;
    h[L.RING_CAPACITY] = cap;
    Atomics.store(h, L.MAGIC, MAGIC_VALUE);
    return { sab, ports, mtu, ringCapacity: cap };
  }

  /**
   * Ends port `port`'s waitForData/waitForDataAsync in progress (it returns false), or its
   * next one if none is; from any thread holding the segment, e.g. to stop a parked worker.
   */
  static interruptWait(shared: ShmSwitchShared, port: number): void {
    if (!Number.isInteger(port) || port < 0 || port >= shared.ports) throw new RangeError(`ShmSwitch port index must be an integer in 0..${shared.ports - 1}, got ${port}`);
    const ctl = new Int32Array(shared.sab, 0, (L.HEADER_BYTES + shared.ports * L.PORT_BLOCK_BYTES) >> 2);
    const block = (L.HEADER_BYTES + port * L.PORT_BLOCK_BYTES) >> 2;
    Atomics.store(ctl, block + L.KICK, 1);
    Atomics.add(ctl, block + L.BELL, 1);
    Atomics.notify(ctl, block + L.BELL);
  }
}

/** One port of a ShmSwitch: a Link for one Stack, pumped with receive() and parked with waitForData(). */
export class ShmSwitchPort implements Link {
  /** Memory, not a wire: nothing can damage a frame between the stacks. */
  readonly rxChecksumVerified = true;
  readonly index: number;
  readonly ports: number;
  readonly mtu: number;
  /** Idle receivers can sleep on the port's doorbell: waitForData / waitForDataAsync. */
  readonly canPark = true;

  // Transmit counters.
  /** Unicast frames sent to the one port their destination is known at. */
  txForwarded = 0;
  /** Unicast frames to an unknown MAC, sent to every other port. */
  txFlooded = 0;
  /** Broadcast and multicast frames, sent to every other port. */
  txGroup = 0;
  /** Copies not made because the ring to that port was full (a flood counts once per full ring). */
  txDrops = 0;
  /** Frames refused as malformed: shorter than an Ethernet header or longer than the MTU. */
  txErrors = 0;
  /** Doorbells rung (the destination port was parked). */
  notifies = 0;

  // Receive counters.
  rxFrames = 0;
  rxBytes = 0;
  /** This port's doorbell (waitForData, waitForDataAsync, interruptWait): one bell for all its inbound rings. */
  private readonly dataBell: Doorbell;
  /** Sleeps in waitForData/waitForDataAsync (a wait may sleep more than once). */
  get dataParks(): number {
    return this.dataBell.parks;
  }
  /** Waits that slept and ended with data rather than at the timeout. */
  get wakeups(): number {
    return this.dataBell.wakeups;
  }
  get dataTimeouts(): number {
    return this.dataBell.timeouts;
  }
  /** Waits ended by ShmSwitch.interruptWait rather than by data or the timeout. */
  get dataInterrupts(): number {
    return this.dataBell.interrupts;
  }
  /** Learned-table entries written (new MACs and moves). */
  learned = 0;

  private readonly ctl: Int32Array; // the whole segment as Int32
  private readonly bellAt: Int32Array; // BELL word index of each port
  private readonly tx: (ShmRing | null)[]; // tx[j]: ring (index→j); null at index
  private readonly rx: ShmRing[]; // inbound rings, in port order without this one
  private readonly rxFrom: Int32Array; // rxFrom[k]: the port rx[k] comes from
  // Learned table: open addressing over (hi | SLOT_USED, lo) → port.
  private readonly slotHi = new Int32Array(TABLE_SLOTS);
  private readonly slotLo = new Int32Array(TABLE_SLOTS);
  private readonly slotPort = new Int8Array(TABLE_SLOTS);
  // Staged but unpublished rings while corked.
  private readonly dirty: Uint8Array;
  private corked = false;
  private closed = false;
  // Receive state, set per receive() call so onFrame is one function made once.
  private handler: ShmFrameHandler = () => {};
  private from = 0;
  private nextRx = 0;
  private readonly onFrame: ShmFrameHandler;

  /** Opens port `index` of the segment; one ShmSwitchPort per port at a time (it throws if the port is open). */
  constructor(shared: ShmSwitchShared, index: number, opts: ShmSwitchPortOptions = {}) {
    const { sab, ports, mtu, ringCapacity } = shared;
    checkGeometry(ports, mtu);
    if (!Number.isInteger(index) || index < 0 || index >= ports) throw new RangeError(`ShmSwitch port index must be an integer in 0..${ports - 1}, got ${index}`);
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < L.HEADER_BYTES) throw new RangeError('ShmSwitch descriptor holds no segment');
    const ctl = new Int32Array(sab, 0, sab.byteLength >> 2);
    if (Atomics.load(ctl, L.MAGIC) !== MAGIC_VALUE) throw new Error('no ShmSwitch segment in this SharedArrayBuffer');
    if (ctl[L.PORTS] !== ports || ctl[L.MTU] !== mtu || ctl[L.RING_CAPACITY] !== ringCapacity) {
      throw new RangeError(`ShmSwitch descriptor (${ports} ports, mtu ${mtu}, rings of ${ringCapacity}) does not match the segment (${ctl[L.PORTS]}, ${ctl[L.MTU]}, ${ctl[L.RING_CAPACITY]})`);
    }
    if (opts.mac !== undefined && opts.mac.length !== 6) throw new RangeError(`a MAC address has 6 bytes, got ${opts.mac.length}`);
    const ringBytes = ShmRing.bytesFor(ringCapacity);
    if (ringOffset(ports, ringBytes, ports - 1, ports - 2) + ringBytes > sab.byteLength) throw new RangeError('ShmSwitch segment is shorter than its geometry');
    const block = (L.HEADER_BYTES + index * L.PORT_BLOCK_BYTES) >> 2;
    this.index = index;
    this.ports = ports;
    this.mtu = mtu;
    this.ctl = ctl;
    this.dataBell = new Doorbell(ctl, block + L.PARKED, block + L.BELL, block + L.KICK, () => this.isEmpty());
    this.bellAt = new Int32Array(ports);
    for (let j = 0; j < ports; j++) this.bellAt[j] = ((L.HEADER_BYTES + j * L.PORT_BLOCK_BYTES) >> 2) + L.BELL;
    this.tx = [];
    this.rx = [];
    this.rxFrom = new Int32Array(ports - 1);
    for (let j = 0; j < ports; j++) {
      if (j === index) {
        this.tx.push(null);
        continue;
      }
      this.tx.push(ShmRing.attach(sab, ringOffset(ports, ringBytes, index, j)));
      this.rxFrom[this.rx.length] = j;
      this.rx.push(ShmRing.attach(sab, ringOffset(ports, ringBytes, j, index)));
    }
    this.dirty = new Uint8Array(ports);
    this.onFrame = (bytes, at, len) => {
      this.rxFrames++;
      this.rxBytes += len;
      // A unicast source MAC lives behind the port the frame came from.
      if ((bytes[at + 6]! & 1) === 0) this.learn(bytes, at + 6, this.from);
      this.handler(bytes, at, len);
    };
    // Claimed last, so a constructor that throws leaves the port free.
    if (Atomics.compareExchange(ctl, block + L.OPEN, 0, 1) !== 0) throw new Error(`ShmSwitch port ${index} is already open`);
    if (opts.mac !== undefined) {
      const m = opts.mac;
      ctl[block + L.MAC_HI] = (m[0]! << 8) | m[1]!;
      ctl[block + L.MAC_LO] = (m[2]! << 24) | (m[3]! << 16) | (m[4]! << 8) | m[5]!;
      Atomics.store(ctl, block + L.MAC_SET, 1); // publishes the two words above
    } else {
      Atomics.store(ctl, block + L.MAC_SET, 0);
    }
  }

  /** Releases the port (and its registered MAC) so it can be opened again. */
  close(): void {
    if (this.closed) return;
    this.uncork();
    this.closed = true;
    const block = (L.HEADER_BYTES + this.index * L.PORT_BLOCK_BYTES) >> 2;
    Atomics.store(this.ctl, block + L.MAC_SET, 0);
    Atomics.store(this.ctl, block + L.OPEN, 0);
  }

  /** The ring this port transmits into towards port `to` (for statistics). */
  txRing(to: number): ShmRing {
    const r = this.tx[to];
    if (r === null || r === undefined) throw new RangeError(`port ${this.index} has no ring to port ${to}`);
    return r;
  }

  /** The ring this port receives from port `from` (for statistics). */
  rxRing(from: number): ShmRing {
    if (!Number.isInteger(from) || from < 0 || from >= this.ports || from === this.index) throw new RangeError(`port ${this.index} has no ring from port ${from}`);
    return this.rx[from < this.index ? from : from - 1]!;
  }

  get txFrames(): number {
    let n = 0;
    for (const r of this.tx) if (r !== null) n += r.pushedFrames;
    return n;
  }

  /** Where frames to `mac` go: a port index, or −1 when unknown (they are flooded). */
  lookup(mac: Uint8Array, at = 0): number {
    const hi = ((mac[at]! << 8) | mac[at + 1]!) | SLOT_USED;
    const lo = (mac[at + 2]! << 24) | (mac[at + 3]! << 16) | (mac[at + 4]! << 8) | mac[at + 5]!;
    let s = slotOf(hi, lo);
    for (let p = 0; p < TABLE_PROBES; p++) {
      if (this.slotHi[s] === hi && this.slotLo[s] === lo) return this.slotPort[s]!;
      if (this.slotHi[s] === 0) break;
      s = (s + 1) & (TABLE_SLOTS - 1);
    }
    // Not learned yet: a port that registered this MAC (then remember it).
    const ctl = this.ctl;
    for (let j = 0; j < this.ports; j++) {
      if (j === this.index) continue;
      const block = (L.HEADER_BYTES + j * L.PORT_BLOCK_BYTES) >> 2;
      if (Atomics.load(ctl, block + L.MAC_SET) === 1 && (ctl[block + L.MAC_HI]! | SLOT_USED) === hi && ctl[block + L.MAC_LO] === lo) {
        this.learn(mac, at, j);
        return j;
      }
    }
    return -1;
  }

  /** Records that `mac` lives behind port `port`; a full probe run evicts its first slot. */
  private learn(mac: Uint8Array, at: number, port: number): void {
    const hi = ((mac[at]! << 8) | mac[at + 1]!) | SLOT_USED;
    const lo = (mac[at + 2]! << 24) | (mac[at + 3]! << 16) | (mac[at + 4]! << 8) | mac[at + 5]!;
    const first = slotOf(hi, lo);
    let s = first;
    for (let p = 0; p < TABLE_PROBES; p++) {
      if (this.slotHi[s] === hi && this.slotLo[s] === lo) {
        if (this.slotPort[s] !== port) {
          this.slotPort[s] = port; // the MAC moved
          this.learned++;
        }
        return;
      }
      if (this.slotHi[s] === 0) break;
      s = (s + 1) & (TABLE_SLOTS - 1);
    }
    if (this.slotHi[s] !== 0) s = first;
    this.slotHi[s] = hi;
    this.slotLo[s] = lo;
    this.slotPort[s] = port;
    this.learned++;
  }

  // ---- transmit ----

  /** Copies the frame into the ring(s) towards its destination; published at once unless corked. */
  transmit(frame: Uint8Array): void {
    const len = frame.length;
    if (len < ETH_HEADER || len - l2HeaderLength(frame) > this.mtu || this.closed) {
      this.txErrors++;
      return;
    }
    if ((frame[0]! & 1) === 0) {
      const to = this.lookup(frame, 0);
      if (to >= 0) {
        this.txForwarded++;
        this.sendTo(to, frame, len);
        return;
      }
      this.txFlooded++;
    } else {
      this.txGroup++;
    }
    for (let j = 0; j < this.ports; j++) if (j !== this.index) this.sendTo(j, frame, len);
  }

  /**
   * Copies the frame into the ring towards port `to` whatever its destination MAC (no lookup,
   * no flooding): for a port that steers frames itself. Published at once unless corked.
   */
  transmitTo(to: number, frame: Uint8Array): void {
    const len = frame.length;
    if (len < ETH_HEADER || len - l2HeaderLength(frame) > this.mtu || this.closed || to === this.index || !(to >= 0 && to < this.ports)) {
      this.txErrors++;
      return;
    }
    this.txForwarded++;
    this.sendTo(to, frame, len);
  }

  private sendTo(to: number, frame: Uint8Array, len: number): void {
    const ring = this.tx[to]!;
    if (!ring.stage(frame, 0, len)) {
      this.txDrops++;
      // Let the peer see what is staged so it can free space.
      if (this.corked) this.flush(to);
      return;
    }
    if (this.corked) this.dirty[to] = 1;
    else this.flush(to);
  }

  /** Publishes ring (index→to) and rings port `to`'s doorbell if it is parked. */
  private flush(to: number): void {
    this.dirty[to] = 0;
    this.tx[to]!.publish();
    const ctl = this.ctl;
    const parked = this.bellAt[to]! - L.BELL + L.PARKED;
    if (Atomics.load(ctl, parked) !== 0 && Atomics.exchange(ctl, parked, 0) !== 0) {
      const bell = this.bellAt[to]!;
      Atomics.add(ctl, bell, 1);
      Atomics.notify(ctl, bell, 1);
      this.notifies++;
    }
  }

  /** True when a frame of `len` bytes fits in the ring to port `to` now. */
  hasSpaceFor(to: number, len: number): boolean {
    return this.txRing(to).hasSpaceFor(len);
  }

  /**
   * In a worker: sleeps until a frame of `len` bytes fits in the ring to port `to`, or
   * `timeoutMs` passes (false). For senders that want back-pressure instead of drops.
   * Publishes what is staged for that port first and rings its doorbell, since a parked
   * receiver could not free space otherwise.
   */
  waitForSpace(to: number, len: number, timeoutMs: number): boolean {
    const ring = this.txRing(to);
    if (ring.stagedBytes !== 0) this.flush(to);
    return ring.waitForSpace(len, timeoutMs);
  }

  /** Holds transmitted frames back until uncork(), so a batch costs one publish and at most one doorbell per port. */
  cork(): void {
    this.corked = true;
  }

  uncork(): void {
    this.corked = false;
    const dirty = this.dirty;
    for (let j = 0; j < this.ports; j++) if (dirty[j] !== 0) this.flush(j);
  }

  // ---- receive ----

  /**
   * Hands up to `max` received frames to `handler` as views (valid until it returns), taking
   * from the inbound rings in turn, starting one ring later each call so no port starves.
   */
  receive(handler: ShmFrameHandler, max: number): number {
    this.handler = handler;
    const rx = this.rx;
    const count = rx.length;
    let k = this.nextRx;
    this.nextRx = k + 1 === count ? 0 : k + 1;
    let n = 0;
    for (let i = 0; i < count && n < max; i++) {
      this.from = this.rxFrom[k]!;
      n += rx[k]!.drain(this.onFrame, max - n);
      k = k + 1 === count ? 0 : k + 1;
    }
    return n;
  }

  /** Ends this port's wait in progress (or its next one), as ShmSwitch.interruptWait; from the port's own thread. */
  interruptWait(): void {
    this.dataBell.interrupt();
  }

  /** The port the frame being handed to a receive() handler came from. */
  get receivingFrom(): number {
    return this.from;
  }

  /** True when no inbound ring holds a published frame. */
  isEmpty(): boolean {
    const rx = this.rx;
    for (let k = 0; k < rx.length; k++) if (!rx[k]!.isEmpty()) return false;
    return true;
  }

  /** In a worker (Atomics.wait blocks the thread): sleeps until a frame arrives or `timeoutMs` passes; false on timeout or interrupt. */
  waitForData(timeoutMs: number): boolean {
    return this.dataBell.wait(timeoutMs);
  }

  /** On the main thread: as waitForData with Atomics.waitAsync, so the event loop keeps running. One wait at a time. */
  waitForDataAsync(timeoutMs: number): Promise<boolean> {
    return this.dataBell.waitAsync(timeoutMs);
  }
}

function slotOf(hi: number, lo: number): number {
  return Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) >>> 24; // top 8 bits: TABLE_SLOTS = 256
}

// Worker side of shm-switch.test.ts. Roles:
//   sender:   one port sends `frames` raw frames to another port's MAC in bursts with pauses,
//             waiting for ring space rather than dropping (the many-producer doorbell test).
//   receiver: one port takes the frames of every sender, parking on its one doorbell, and
//             checks each sender's frames arrive complete and in order.
//   stack:    a Stack (198.18.0.<port+1>/24) on one port, driven by LinkDriver, talking UDP
//             and TCP with the other stacks through the switch; it counts every frame its
//             port delivers, by destination, to show unicast reached only its destination.
// Every loop is bounded by a deadline and reports an error instead of hanging.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ShmSwitchPort, type ShmSwitchShared } from '../../src/link/shm-switch.js';
import type { ShmFrameHandler } from '../../src/link/shm-ring.js';
import { SeededRng } from '../../src/rng.js';
import { AF_INET, MSG_DONTWAIT, SHUT_WR, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_STREAM, SOL_SOCKET, SO_BROADCAST } from '../../src/socket/constants.js';
import { LinkDriver, type ParkableLink } from '../../src/socket/drivers.js';
import { Sockets } from '../../src/socket/sockets.js';
import { SockAddr } from '../../src/socket/types.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4 } from '../../src/wire/address.js';
import { Errno, errnoName } from '../../src/errno.js';
import { stressLength, verifyStressFrame, writeStressFrame, XorShift32 } from './shm-ring-stress-worker.js';

/** The MAC of port `i`: 02:00:00:00:00:<i+1>. */
export function portMac(i: number): Uint8Array {
  return Uint8Array.of(2, 0, 0, 0, 0, i + 1);
}

const ETH_HEADER = 14;
/** IEEE 802 local experimental EtherType. */
const ETHERTYPE_TEST = 0x88b5;
/** Largest body of a raw test frame (the Ethernet payload is a stress frame, as in the ring stress test). */
export const RAW_MAX_BODY = 1500;

/** Writes a raw test frame from port `from` to `dst` carrying stress frame `seq`; returns its length. */
export function writeRawFrame(buf: Uint8Array, dst: Uint8Array, from: number, seq: number): number {
  buf.set(dst, 0);
  buf.set(portMac(from), 6);
  buf[12] = ETHERTYPE_TEST >> 8;
  buf[13] = ETHERTYPE_TEST & 0xff;
  const body = stressLength(seq, RAW_MAX_BODY);
  writeStressFrame(buf, ETH_HEADER, body, seq);
  return ETH_HEADER + body;
}

export interface SenderJob {
  kind: 'switch';
  role: 'sender';
  shared: ShmSwitchShared;
  port: number;
  to: number;
  frames: number;
  seed: number;
  maxBurst: number;
  pauseChance: number;
  maxPauseMs: number;
  stallMs: number;
}

export interface ReceiverJob {
  kind: 'switch';
  role: 'receiver';
  shared: ShmSwitchShared;
  port: number;
  /** Frames expected from each port (0 for none). */
  expect: number[];
  stallMs: number;
}

export interface StackJob {
  kind: 'switch';
  role: 'stack';
  shared: ShmSwitchShared;
  port: number;
  /** Phase barriers: one Int32 counter per phase. */
  sync: SharedArrayBuffer;
  udpPerPeer: number;
  broadcasts: number;
  tcpBytes: number;
  deadlineMs: number;
}

export interface PortReport {
  port: number;
  error: string | null;
  elapsedMs: number;
  rxFrames: number;
  parks: number;
  wakeups: number;
  timeouts: number;
  notifies: number;
  txForwarded: number;
  txFlooded: number;
  txGroup: number;
  txDrops: number;
  /** Frames this port pushed into ring (port→j), by j. */
  txTo: number[];
  /** Frames this port took from ring (k→port), by k. */
  rxFrom: number[];
  /** Received unicast frames addressed to this port / to another MAC / group frames. */
  rxForMe: number;
  rxNotForMe: number;
  rxGroup: number;
  extra: Record<string, number>;
}

function report(p: ShmSwitchPort, error: string | null, t0: number, counts: { forMe: number; notForMe: number; group: number }, extra: Record<string, number> = {}): PortReport {
  const txTo: number[] = [];
  const rxFrom: number[] = [];
  for (let j = 0; j < p.ports; j++) {
    txTo.push(j === p.index ? 0 : p.txRing(j).pushedFrames);
    rxFrom.push(j === p.index ? 0 : p.rxRing(j).drainedFrames);
  }
  return {
    port: p.index, error, elapsedMs: performance.now() - t0, rxFrames: p.rxFrames, parks: p.dataParks, wakeups: p.wakeups, timeouts: p.dataTimeouts,
    notifies: p.notifies, txForwarded: p.txForwarded, txFlooded: p.txFlooded, txGroup: p.txGroup, txDrops: p.txDrops, txTo, rxFrom,
    rxForMe: counts.forMe, rxNotForMe: counts.notForMe, rxGroup: counts.group, extra,
  };
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function send(job: SenderJob): PortReport {
  const port = new ShmSwitchPort(job.shared, job.port, { mac: portMac(job.port) });
  const dst = portMac(job.to);
  const ring = port.txRing(job.to);
  const rng = new XorShift32(job.seed);
  const buf = new Uint8Array(ETH_HEADER + RAW_MAX_BODY);
  const t0 = performance.now();
  let error: string | null = null;
  let seq = 0;
  // The receiver registers its MAC when it opens its port: until then a frame would be flooded.
  while (port.lookup(dst) !== job.to && error === null) {
    if (performance.now() - t0 > job.stallMs) error = `sender ${job.port}: port ${job.to} did not open within ${job.stallMs} ms`;
    Atomics.wait(sleepCell, 0, 0, 1);
  }
  while (seq < job.frames && error === null) {
    const burst = Math.min(job.frames - seq, 1 + Math.floor(rng.next() * job.maxBurst));
    port.cork();
    for (let k = 0; k < burst && error === null; k++, seq++) {
      const len = writeRawFrame(buf, dst, job.port, seq);
      // Back-pressure instead of a drop: sleep on the ring's own space doorbell.
      if (!port.hasSpaceFor(job.to, len) && !port.waitForSpace(job.to, len, job.stallMs)) error = `sender ${job.port}: no space for frame ${seq} within ${job.stallMs} ms`;
      else port.transmit(buf.subarray(0, len));
    }
    port.uncork();
    if (rng.next() < job.pauseChance) Atomics.wait(sleepCell, 0, 0, rng.next() * job.maxPauseMs);
  }
  const r = report(port, error ?? (port.txDrops > 0 ? `sender ${job.port}: ${port.txDrops} drops` : null), t0, { forMe: 0, notForMe: 0, group: 0 }, { spaceParks: ring.spaceParks });
  port.close();
  return r;
}

// Receiver state at module level: the handler is one function made once.
let rExpected: number[] = [];
let rError: string | null = null;
function onRaw(bytes: Uint8Array, at: number, len: number): void {
  if (rError !== null) return;
  const from = bytes[at + 11]! - 1;
  const want = rExpected[from];
  if (want === undefined) {
    rError = `frame from unknown port ${from}`;
    return;
  }
  const bad = verifyStressFrame(bytes, at + ETH_HEADER, len - ETH_HEADER, want, RAW_MAX_BODY);
  if (bad !== null) rError = `from port ${from}: ${bad}`;
  rExpected[from] = want + 1;
}

function receive(job: ReceiverJob): PortReport {
  const port = new ShmSwitchPort(job.shared, job.port, { mac: portMac(job.port) });
  rExpected = job.expect.map(() => 0);
  rError = null;
  const total = job.expect.reduce((a, b) => a + b, 0);
  const t0 = performance.now();
  while (port.rxFrames < total && rError === null) {
    if (port.receive(onRaw, 32) > 0) continue;
    if (!port.waitForData(job.stallMs)) rError = `receiver: no frame for ${job.stallMs} ms after ${port.rxFrames} of ${total} (lost wake-up?)`;
  }
  if (rError === null) {
    for (let k = 0; k < job.expect.length; k++) if (rExpected[k] !== job.expect[k]) rError = `from port ${k}: ${rExpected[k]} frames, expected ${job.expect[k]}`;
  }
  const r = report(port, rError, t0, { forMe: port.rxFrames, notForMe: 0, group: 0 });
  port.close();
  return r;
}

/** The port as LinkDriver sees it, counting each delivered frame by its destination MAC. */
class CountingPort implements ParkableLink {
  forMe = 0;
  notForMe = 0;
  group = 0;
  private handler: ShmFrameHandler = () => {};
  private readonly onFrame: ShmFrameHandler;
  constructor(
    readonly port: ShmSwitchPort,
    private readonly mac: Uint8Array,
  ) {
    this.onFrame = (bytes, at, len) => {
      if ((bytes[at]! & 1) !== 0) this.group++;
      else if (this.isMine(bytes, at)) this.forMe++;
      else this.notForMe++;
      this.handler(bytes, at, len);
    };
  }
  private isMine(b: Uint8Array, at: number): boolean {
    for (let i = 0; i < 6; i++) if (b[at + i] !== this.mac[i]) return false;
    return true;
  }
  receive(handler: ShmFrameHandler, max: number): number {
    this.handler = handler;
    return this.port.receive(this.onFrame, max);
  }
  waitForData(timeoutMs: number): boolean {
    return this.port.waitForData(timeoutMs);
  }
  waitForDataAsync(timeoutMs: number): Promise<boolean> {
    return this.port.waitForDataAsync(timeoutMs);
  }
}

function ignore(): void {}

function addr(port: number): number {
  return ipv4(`198.18.0.${port + 1}`);
}

/** Byte `i` of the TCP stream port `from` sends. */
function streamByte(from: number, i: number): number {
  return (Math.imul(i, 31) + from * 101 + (i >>> 9)) & 0xff;
}

const UDP_PORT = 5000;
const BCAST_PORT = 5001;
const TCP_PORT = 7000;
const UDP_LEN = 64;
const REQUEST = 1;
const REPLY = 2;
const BROADCAST = 3;
const UDP_WINDOW = 16;

function runStack(job: StackJob): PortReport {
  const me = job.port;
  const n = job.shared.ports;
  const mac = portMac(me);
  const stack = new Stack({ mac, rng: new SeededRng(100 + me), ipv6: false });
  const port = new ShmSwitchPort(job.shared, me);
  const link = new CountingPort(port, mac);
  stack.attach(port);
  stack.addAddress(addr(me), 24);
  const driver = new LinkDriver(stack, link);
  const api = new Sockets(stack, { driver });
  const sync = new Int32Array(job.sync);
  const t0 = performance.now();
  const deadline = t0 + job.deadlineMs;
  const extra: Record<string, number> = { udpReplies: 0, udpRequestsServed: 0, broadcastsIn: 0, ownBroadcastsIn: 0, tcpBytesIn: 0, tcpBytesOut: 0 };
  let phase = 'setup';
  const fail = (what: string): never => {
    throw new Error(`port ${me}, ${phase}: ${what}; frames in ${stack.counters.framesIn}, out ${stack.counters.framesOut}`);
  };
  const ok = (what: string, r: number): number => (r < 0 ? fail(`${what}: ${errnoName(r)}`) : r);
  /** Runs `step` until it returns true, pumping the stack and parking between rounds. */
  const until = (step: () => boolean): void => {
    while (!step()) {
      if (performance.now() > deadline) fail('deadline passed');
      driver.wait(driver.now() + 2000);
    }
  };
  /** Runs `serve` until every stack has reached barrier `k` (each keeps serving its peers meanwhile). */
  const barrier = (k: number, serve: () => void): void => {
    Atomics.add(sync, k, 1);
    until(() => {
      serve();
      return Atomics.load(sync, k) === n;
    });
  };

  let error: string | null = null;
  try {
    // Phase 1: UDP request/reply with every peer, UDP_WINDOW requests in flight per peer.
    phase = 'udp';
    const u = ok('socket', api.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK));
    ok('bind', api.bind(u, SockAddr.inet(addr(me), UDP_PORT)));
    const b = ok('socket', api.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK));
    ok('bind', api.bind(b, SockAddr.inet(0, BCAST_PORT)));
    ok('setsockopt', api.setsockoptInt(b, SOL_SOCKET, SO_BROADCAST, 1));
    barrier(0, () => {}); // every stack bound before anyone sends
    const sent = new Array<number>(n).fill(0);
    const answered = new Array<number>(n).fill(0);
    const dgram = new Uint8Array(UDP_LEN);
    const from = new SockAddr();
    const fillDgram = (type: number, src: number, dst: number, seq: number): void => {
      dgram[0] = type;
      dgram[1] = src;
      dgram[2] = dst;
      dgram[3] = 0;
      new DataView(dgram.buffer).setUint32(4, seq, true);
      for (let i = 8; i < UDP_LEN; i++) dgram[i] = (src * 31 + dst * 7 + seq + i) & 0xff;
    };
    const checkDgram = (type: number, src: number, dst: number, len: number): number => {
      if (len !== UDP_LEN || dgram[0] !== type || dgram[1] !== src || dgram[2] !== dst) fail(`bad datagram type ${dgram[0]} ${dgram[1]}→${dgram[2]}, ${len} bytes`);
      const seq = new DataView(dgram.buffer).getUint32(4, true);
      for (let i = 8; i < UDP_LEN; i++) if (dgram[i] !== ((src * 31 + dst * 7 + seq + i) & 0xff)) fail(`datagram ${seq} ${src}→${dst} corrupted at byte ${i}`);
      return seq;
    };
    const serveUdp = (): void => {
      for (;;) {
        const len = api.recvfrom(u, dgram, 0, from);
        if (len === -Errno.EAGAIN) break;
        ok('recvfrom', len);
        const peer = (from.addr4 & 0xff) - 1;
        if (dgram[0] === REQUEST) {
          const seq = checkDgram(REQUEST, peer, me, len);
          fillDgram(REPLY, me, peer, seq);
          ok('sendto reply', api.sendto(u, dgram, 0, from));
          extra['udpRequestsServed']!++;
        } else {
          const seq = checkDgram(REPLY, peer, me, len);
          if (seq !== answered[peer]) fail(`reply ${seq} from ${peer}, expected ${answered[peer]} (lost, duplicated or reordered)`);
          answered[peer]!++;
          extra['udpReplies']!++;
        }
      }
    };
    const udpStep = (): boolean => {
      serveUdp();
      let done = true;
      for (let p = 0; p < n; p++) {
        if (p === me) continue;
        while (sent[p]! < job.udpPerPeer && sent[p]! - answered[p]! < UDP_WINDOW) {
          fillDgram(REQUEST, me, p, sent[p]!);
          ok('sendto', api.sendto(u, dgram, 0, SockAddr.inet(addr(p), UDP_PORT)));
          sent[p]!++;
        }
        if (answered[p]! < job.udpPerPeer) done = false;
      }
      return done;
    };
    until(udpStep);
    barrier(1, serveUdp);

    // Phase 2: directed broadcasts to 198.18.0.255, which every other stack receives.
    phase = 'broadcast';
    const heard = new Array<number>(n).fill(0);
    const serveBroadcast = (): void => {
      for (;;) {
        const len = api.recvfrom(b, dgram, 0, from);
        if (len === -Errno.EAGAIN) break;
        ok('recvfrom broadcast', len);
        const peer = (from.addr4 & 0xff) - 1;
        const seq = checkDgram(BROADCAST, peer, 255, len);
        if (peer === me) {
          extra['ownBroadcastsIn']!++; // looped back locally, as Linux does
          continue;
        }
        if (seq !== heard[peer]) fail(`broadcast ${seq} from ${peer}, expected ${heard[peer]}`);
        heard[peer]!++;
        extra['broadcastsIn']!++;
      }
    };
    const everyone = SockAddr.inet(ipv4('198.18.0.255'), BCAST_PORT);
    for (let seq = 0; seq < job.broadcasts; seq++) {
      fillDgram(BROADCAST, me, 255, seq);
      ok('sendto broadcast', api.sendto(b, dgram, 0, everyone));
    }
    until(() => {
      serveBroadcast();
      return heard.every((h, p) => p === me || h === job.broadcasts);
    });
    barrier(2, serveBroadcast);

    // Phase 3: TCP. Each stack sends tcpBytes to the next one (0→1→…→n−1→0) and receives
    // from the previous one, all non-blocking in one loop.
    phase = 'tcp';
    const l = ok('socket', api.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK));
    ok('bind', api.bind(l, SockAddr.inet(addr(me), TCP_PORT)));
    ok('listen', api.listen(l, 4));
    barrier(3, () => {});
    const c = ok('socket', api.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK));
    const r = api.connect(c, SockAddr.inet(addr((me + 1) % n), TCP_PORT));
    if (r !== -Errno.EINPROGRESS && r !== 0) fail(`connect: ${errnoName(r)}`);
    const out = new Uint8Array(16384);
    const inBuf = new Uint8Array(16384);
    let sentBytes = 0;
    let gotBytes = 0;
    let shut = false;
    let eof = false;
    let s = -1;
    const prev = (me + n - 1) % n;
    until(() => {
      while (sentBytes < job.tcpBytes) {
        const k = Math.min(out.length, job.tcpBytes - sentBytes);
        for (let i = 0; i < k; i++) out[i] = streamByte(me, sentBytes + i);
        const w = api.send(c, out.subarray(0, k));
        if (w === -Errno.EAGAIN) break;
        sentBytes += ok('send', w);
      }
      if (sentBytes === job.tcpBytes && !shut) {
        ok('shutdown', api.shutdown(c, SHUT_WR));
        shut = true;
      }
      if (s < 0) {
        const peer = new SockAddr();
        const a = api.accept(l, peer);
        if (a !== -Errno.EAGAIN) {
          s = ok('accept', a);
          if (peer.addr4 !== addr(prev)) fail(`accepted ${peer.toString()}, expected 198.18.0.${prev + 1}`);
        }
      }
      while (s >= 0 && !eof) {
        const got = api.recv(s, inBuf, MSG_DONTWAIT); // accept() does not pass O_NONBLOCK on (Linux)
        if (got === -Errno.EAGAIN) break;
        if (ok('recv', got) === 0) eof = true;
        for (let i = 0; i < got; i++) if (inBuf[i] !== streamByte(prev, gotBytes + i)) fail(`stream from ${prev} corrupted at byte ${gotBytes + i}`);
        gotBytes += got;
      }
      return shut && eof;
    });
    if (gotBytes !== job.tcpBytes) fail(`received ${gotBytes} bytes, expected ${job.tcpBytes}`);
    extra['tcpBytesIn'] = gotBytes;
    extra['tcpBytesOut'] = sentBytes;
    api.close(s);
    api.close(c);
    api.close(l);
    // Let the closes finish, and keep ACKing the peers until every stack is done.
    barrier(4, () => {});
    const settle = performance.now() + 100;
    until(() => performance.now() > settle);
    // Stop transmitting (the stack is no longer pumped) and wait for everyone to stop; then
    // take what is still in the rings, so the ring counters of all ports are final.
    phase = 'stop';
    Atomics.add(sync, 5, 1);
    for (let v = Atomics.load(sync, 5); v !== n; v = Atomics.load(sync, 5)) {
      if (performance.now() > deadline) fail('deadline passed');
      Atomics.wait(sync, 5, v, 10);
    }
    while (link.receive(ignore, 64) > 0) {
      /* counted by the link, not handed to the stack */
    }
  } catch (e) {
    error = String(e);
  }
  extra['droppedNotForUs'] = stack.counters.droppedNotForUs;
  extra['framesIn'] = stack.counters.framesIn;
  extra['framesOut'] = stack.counters.framesOut;
  extra['learned'] = port.learned;
  const rep = report(port, error, t0, link, extra);
  port.close();
  return rep;
}

const job = workerData as SenderJob | ReceiverJob | StackJob | null;
if (!isMainThread && parentPort !== null && job !== null && job.kind === 'switch') {
  let r: PortReport;
  switch (job.role) {
    case 'sender': r = send(job); break;
    case 'receiver': r = receive(job); break;
    case 'stack': r = runStack(job); break;
  }
  parentPort.postMessage(r);
}

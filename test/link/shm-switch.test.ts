// The shared-memory switch: a full mesh of SPSC rings between N ports of one segment, each
// port learning MACs from what it receives. Main-thread tests for geometry, forwarding,
// flooding, learning, drops and corking; then worker threads: three senders into one
// receiver parked on its single doorbell, and four Stacks talking UDP (unicast and
// broadcast, so ARP crosses the switch) and TCP.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ShmSwitch, ShmSwitchLayout, ShmSwitchPort, type ShmSwitchShared } from '../../src/link/shm-switch.js';
import { portMac, writeRawFrame, RAW_MAX_BODY, type PortReport, type ReceiverJob, type SenderJob, type StackJob } from './shm-switch-worker.js';
import { verifyStressFrame } from './shm-ring-stress-worker.js';

const WORKER = new URL('./shm-switch-worker.js', import.meta.url);
const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/** Runs the jobs in workers; rejects with what is known if they are not all done within `limitMs`. */
async function runWorkers(jobs: (SenderJob | ReceiverJob | StackJob)[], limitMs: number): Promise<PortReport[]> {
  const workers = jobs.map((job) => new Worker(WORKER, { workerData: job }));
  const finished: (PortReport | null)[] = jobs.map(() => null);
  const done = workers.map(
    (w, i) =>
      new Promise<PortReport>((resolve, reject) => {
        w.once('message', (r: PortReport) => {
          finished[i] = r;
          resolve(r);
        });
        w.once('error', reject);
        w.once('exit', (code) => setTimeout(() => reject(new Error(`worker ${i} exited with ${code} and no result`)), 200));
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const status = finished.map((r, i) => (r === null ? `port ${jobs[i]!.port}: running` : `port ${r.port}: ${r.error ?? 'done'}`));
      reject(new Error(`workers not done within ${limitMs} ms (deadlock?): ${status.join('; ')}`));
    }, limitMs);
  });
  try {
    return await Promise.race([Promise.all(done), timeout]);
  } finally {
    clearTimeout(timer);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function frameTo(dst: Uint8Array, from: number, seq: number): Uint8Array {
  const buf = new Uint8Array(14 + RAW_MAX_BODY);
  return buf.subarray(0, writeRawFrame(buf, dst, from, seq));
}

/** Drains a port; returns the sequence numbers of raw test frames received, with their source port. */
function drain(p: ShmSwitchPort): string[] {
  const got: string[] = [];
  p.receive((bytes, at, len) => {
    const seq = bytes[at + 14]! | (bytes[at + 15]! << 8);
    assert.equal(verifyStressFrame(bytes, at + 14, len - 14, seq, RAW_MAX_BODY), null);
    got.push(`${bytes[at + 11]! - 1}:${seq}`);
  }, 1000);
  return got;
}

function open(shared: ShmSwitchShared, n: number, withMacs = false): ShmSwitchPort[] {
  return Array.from({ length: n }, (_, i) => new ShmSwitchPort(shared, i, withMacs ? { mac: portMac(i) } : {}));
}

test('shm switch: geometry is validated with RangeErrors, and a port opens once at a time', () => {
  assert.throws(() => ShmSwitch.create(1), RangeError);
  assert.throws(() => ShmSwitch.create(65), RangeError);
  assert.throws(() => ShmSwitch.create(2.5), RangeError);
  assert.throws(() => ShmSwitch.create(4, { mtu: 67 }), /mtu/);
  assert.throws(() => ShmSwitch.create(4, { mtu: 65536 }), /mtu/);
  assert.throws(() => ShmSwitch.create(4, { mtu: 1500.5 }), /mtu/);
  assert.throws(() => ShmSwitch.create(4, { capacityBytes: 2048, mtu: 1500 }), /cannot hold a 1522-byte frame/);
  assert.throws(() => ShmSwitch.create(4, { capacityBytes: 0 }), RangeError);
  assert.throws(() => ShmSwitch.create(4, { capacityBytes: Number.NaN }), RangeError);
  assert.throws(() => ShmSwitch.create(64, { capacityBytes: 1 << 20 }), /needs \d+ bytes/);

  const shared = ShmSwitch.create(3, { capacityBytes: 8192, mtu: 1500 });
  assert.deepEqual([shared.ports, shared.mtu, shared.ringCapacity], [3, 1500, 8192]);
  assert.throws(() => new ShmSwitchPort(shared, 3), RangeError);
  assert.throws(() => new ShmSwitchPort(shared, -1), RangeError);
  assert.throws(() => new ShmSwitchPort({ ...shared, mtu: 9000 }, 0), /does not match the segment/);
  assert.throws(() => new ShmSwitchPort({ ...shared, sab: new SharedArrayBuffer(4096) }, 0), /no ShmSwitch segment/);
  assert.throws(() => new ShmSwitchPort(shared, 0, { mac: new Uint8Array(5) }), RangeError);
  const p0 = new ShmSwitchPort(shared, 0);
  assert.throws(() => new ShmSwitchPort(shared, 0), /already open/);
  p0.close();
  const again = new ShmSwitchPort(shared, 0);
  assert.equal(again.index, 0);
  assert.equal(again.mtu, 1500);
  assert.equal(again.canPark, true);
  again.close();
});

test('shm switch: broadcast reaches every other port; unknown unicast floods; learned unicast reaches only its port', () => {
  const shared = ShmSwitch.create(4, { capacityBytes: 1 << 16 });
  const [p0, p1, p2, p3] = open(shared, 4);
  const all = [p0!, p1!, p2!, p3!];
  // A broadcast from port 0: everyone else, not the sender.
  p0!.transmit(frameTo(BROADCAST, 0, 1));
  assert.deepEqual(all.map(drain), [[], ['0:1'], ['0:1'], ['0:1']]);
  assert.equal(p0!.txGroup, 1);
  // Ports 1..3 learned that port 0's MAC is behind port 0: a reply goes there only.
  p2!.transmit(frameTo(portMac(0), 2, 2));
  assert.deepEqual(all.map(drain), [['2:2'], [], [], []]);
  assert.equal(p2!.txForwarded, 1);
  assert.equal(p2!.txFlooded, 0);
  // Port 0 has not heard from port 3's MAC yet: flooded to every other port…
  p0!.transmit(frameTo(portMac(3), 0, 3));
  assert.deepEqual(all.map(drain), [[], ['0:3'], ['0:3'], ['0:3']]);
  assert.equal(p0!.txFlooded, 1);
  assert.equal(p0!.lookup(portMac(3)), -1);
  // …until port 3 speaks; port 0 learns where it is and forwards only there.
  p3!.transmit(frameTo(portMac(0), 3, 4));
  assert.deepEqual(all.map(drain), [['3:4'], [], [], []]);
  assert.equal(p0!.lookup(portMac(3)), 3);
  p0!.transmit(frameTo(portMac(3), 0, 5));
  assert.deepEqual(all.map(drain), [[], [], [], ['0:5']]);
  assert.equal(p0!.txFlooded, 1);
  assert.equal(p0!.txForwarded, 1);
  // A multicast group address (bit 0 of the first byte) is flooded like a broadcast.
  p1!.transmit(frameTo(Uint8Array.of(0x01, 0x00, 0x5e, 0x00, 0x00, 0x01), 1, 6));
  assert.deepEqual(all.map(drain), [['1:6'], [], ['1:6'], ['1:6']]);
  // The ring counters agree: port 0 pushed into ring 0→3 three times (broadcast, flood, forward).
  assert.equal(p0!.txRing(3).pushedFrames, 3);
  assert.equal(p3!.rxRing(0).drainedFrames, 3);
  assert.equal(p0!.txRing(1).pushedFrames, 2);
  // A MAC that moves (a host re-attached elsewhere) is re-learned from its next frame.
  p1!.transmit(frameTo(portMac(0), 3, 7)); // port 1 sends with port 3's source MAC
  drain(p0!);
  assert.equal(p0!.lookup(portMac(3)), 1);
  for (const p of all) p.close();
});

test('shm switch: a registered MAC is reached without flooding; malformed frames and full rings are counted', () => {
  const shared = ShmSwitch.create(3, { capacityBytes: 4096, mtu: 1500 });
  const ports = open(shared, 3, true);
  const [p0, p1, p2] = ports as [ShmSwitchPort, ShmSwitchPort, ShmSwitchPort];
  p0.transmit(frameTo(portMac(2), 0, 1));
  assert.deepEqual(ports.map(drain), [[], [], ['0:1']]);
  assert.equal(p0.txFlooded, 0);
  assert.equal(p0.txForwarded, 1);
  // A port that closes withdraws its MAC.
  p2.close();
  const other = new ShmSwitchPort(shared, 2); // reopened without a MAC
  assert.equal(p1.lookup(portMac(2)), -1);
  other.close();

  p0.transmit(new Uint8Array(13));
  p0.transmit(new Uint8Array(14 + 1501)); // one byte over the MTU
  assert.equal(p0.txErrors, 2);
  // Ring 0→1 holds 4096 bytes: a few full-sized frames fill it; the rest are dropped, and
  // port 1's other rings are unaffected.
  const big = new Uint8Array(1514);
  big.set(portMac(1), 0);
  big.set(portMac(0), 6);
  let sent = 0;
  while (p0.txDrops === 0 && sent < 10) {
    p0.transmit(big);
    sent++;
  }
  assert.equal(p0.txDrops, 1);
  assert.equal(p0.hasSpaceFor(1, 1514), false);
  p2.close();
  const q2 = new ShmSwitchPort(shared, 2, { mac: portMac(2) });
  q2.transmit(frameTo(portMac(1), 2, 9));
  let fromTwo = 0;
  let fromZero = 0;
  p1.receive((bytes, at) => (bytes[at + 11] === 3 ? fromTwo++ : fromZero++), 100);
  assert.deepEqual([fromZero, fromTwo], [sent - 1, 1]);
  assert.equal(p0.hasSpaceFor(1, 1514), true);
  p0.close();
  p1.close();
  q2.close();
});

test('shm switch: corked frames stay invisible, then one uncork publishes every port and rings each parked port once', () => {
  const shared = ShmSwitch.create(4, { capacityBytes: 1 << 16 });
  const ports = open(shared, 4, true);
  const p0 = ports[0]!;
  // Pretend ports 1 and 2 are parked.
  const ctl = new Int32Array(shared.sab);
  const word = (port: number, w: number): number => ((ShmSwitchLayout.HEADER_BYTES + port * ShmSwitchLayout.PORT_BLOCK_BYTES) >> 2) + w;
  Atomics.store(ctl, word(1, ShmSwitchLayout.PARKED), 1);
  Atomics.store(ctl, word(2, ShmSwitchLayout.PARKED), 1);
  p0.cork();
  for (let i = 0; i < 5; i++) p0.transmit(frameTo(portMac(1), 0, i));
  p0.transmit(frameTo(BROADCAST, 0, 5));
  assert.equal(ports[1]!.isEmpty(), true, 'a corked frame is visible');
  assert.equal(p0.notifies, 0);
  p0.uncork();
  assert.equal(p0.notifies, 2, 'one doorbell per parked port');
  assert.equal(Atomics.load(ctl, word(1, ShmSwitchLayout.BELL)), 1);
  assert.equal(Atomics.load(ctl, word(2, ShmSwitchLayout.BELL)), 1);
  assert.equal(Atomics.load(ctl, word(3, ShmSwitchLayout.BELL)), 0, 'a port that is not parked is not rung');
  assert.equal(Atomics.load(ctl, word(1, ShmSwitchLayout.PARKED)), 0, 'the ringer clears the flag');
  assert.deepEqual(ports.map(drain), [[], ['0:0', '0:1', '0:2', '0:3', '0:4', '0:5'], ['0:5'], ['0:5']]);
  // Nothing waiting: a wait ends at its timeout; with a frame waiting it returns at once.
  assert.equal(ports[3]!.waitForData(10), false);
  assert.equal(ports[3]!.dataTimeouts, 1);
  ports[2]!.transmit(frameTo(portMac(3), 2, 6));
  assert.equal(ports[3]!.waitForData(1000), true);
  for (const p of ports) p.close();
});

test('shm switch: the descriptor is structured-cloneable and a port opened from the clone shares the segment', async () => {
  const shared = ShmSwitch.create(2, { capacityBytes: 8192 });
  const clone = structuredClone(shared);
  assert.ok(clone.sab instanceof SharedArrayBuffer);
  const a = new ShmSwitchPort(shared, 0);
  const b = new ShmSwitchPort(clone, 1);
  a.transmit(frameTo(BROADCAST, 0, 3));
  assert.deepEqual(drain(b), ['0:3']);
  // waitForDataAsync: a frame sent later wakes the main thread.
  setTimeout(() => b.transmit(frameTo(portMac(0), 1, 4)), 20);
  assert.equal(await a.waitForDataAsync(2000), true);
  assert.equal(a.dataParks >= 1 && a.wakeups === 1, true);
  assert.deepEqual(drain(a), ['1:4']);
  a.close();
  b.close();
});

test('shm switch: three senders into one receiver that parks on its single doorbell: nothing lost, no wake-up missed', { timeout: 20_000 }, async (t) => {
  const perSender = 60_000;
  const shared = ShmSwitch.create(4, { capacityBytes: 8192, mtu: 1500 });
  const senders: SenderJob[] = [1, 2, 3].map((port) => ({
    kind: 'switch', role: 'sender', shared, port, to: 0, frames: perSender, seed: 1000 + port, maxBurst: 24, pauseChance: 0.3, maxPauseMs: 0.5, stallMs: 3000,
  }));
  const receiver: ReceiverJob = { kind: 'switch', role: 'receiver', shared, port: 0, expect: [0, perSender, perSender, perSender], stallMs: 3000 };
  const t0 = performance.now();
  const reports = await runWorkers([receiver, ...senders], 15_000);
  const ms = performance.now() - t0;
  for (const r of reports) assert.equal(r.error, null, `port ${r.port}: ${r.error}`);
  const [rx, ...tx] = reports as [PortReport, ...PortReport[]];
  assert.equal(rx.rxFrames, 3 * perSender);
  assert.deepEqual(rx.rxFrom, [0, perSender, perSender, perSender]);
  assert.equal(rx.timeouts, 0, 'a wait ran out its timeout (lost wake-up)');
  assert.ok(rx.parks > 1000, `the receiver parked only ${rx.parks} times`);
  const notifies = tx.reduce((s, r) => s + r.notifies, 0);
  assert.ok(notifies > 1000, `senders rang the doorbell only ${notifies} times`);
  // Registered MACs: every frame went to port 0 only, none flooded.
  for (const r of tx) {
    assert.equal(r.txFlooded, 0);
    assert.equal(r.txForwarded, perSender);
    assert.deepEqual(r.txTo.filter((_, j) => j !== 0 && j !== r.port), [0, 0]);
  }
  t.diagnostic(
    `${Math.round((3 * perSender) / (rx.elapsedMs / 1000)).toLocaleString('en')} frames/s into one port (${ms.toFixed(0)} ms); ` +
      `receiver parked ${rx.parks}, woken ${rx.wakeups}; doorbells rung ${notifies}; senders parked for space ${tx.map((r) => r.extra['spaceParks']).join('/')}`,
  );
});

test('shm switch: four Stacks in worker threads talk UDP, broadcast and TCP through one switch; unicast reaches only its destination', { timeout: 20_000 }, async (t) => {
  const n = 4;
  const udpPerPeer = 300;
  const broadcasts = 20;
  const tcpBytes = 256 * 1024;
  const shared = ShmSwitch.create(n, { capacityBytes: 1 << 18, mtu: 1500 });
  const sync = new SharedArrayBuffer(8 * 4);
  const jobs: StackJob[] = Array.from({ length: n }, (_, port) => ({ kind: 'switch', role: 'stack', shared, port, sync, udpPerPeer, broadcasts, tcpBytes, deadlineMs: 12_000 }));
  const t0 = performance.now();
  const reports = await runWorkers(jobs, 15_000);
  const ms = performance.now() - t0;
  for (const r of reports) assert.equal(r.error, null, `port ${r.port}: ${r.error}`);
  for (const r of reports) {
    const x = r.extra;
    assert.equal(x['udpReplies'], (n - 1) * udpPerPeer, `port ${r.port}: UDP replies`);
    assert.equal(x['udpRequestsServed'], (n - 1) * udpPerPeer, `port ${r.port}: UDP requests served`);
    assert.equal(x['broadcastsIn'], (n - 1) * broadcasts, `port ${r.port}: broadcasts heard`);
    assert.equal(x['tcpBytesIn'], tcpBytes);
    // Unicast frames reached only their destination: none arrived at a port whose MAC they do not carry…
    assert.equal(r.rxNotForMe, 0, `port ${r.port} received ${r.rxNotForMe} unicast frames for another MAC`);
    assert.equal(x['droppedNotForUs'], 0);
    // …because none was flooded: ARP's broadcasts taught every port where each MAC lives.
    assert.equal(r.txFlooded, 0, `port ${r.port} flooded ${r.txFlooded} frames`);
    assert.equal(r.txDrops, 0);
    assert.ok(r.rxGroup > 0 && r.txGroup > 0, 'ARP and the broadcasts crossed the switch');
  }
  // Every frame pushed into ring i→j was taken by port j, and each unicast frame sent was
  // received exactly once, by its destination.
  for (const a of reports) for (const b of reports) if (a !== b) assert.equal(b.rxFrom[a.port], a.txTo[b.port], `ring ${a.port}→${b.port}`);
  const forwarded = reports.reduce((s, r) => s + r.txForwarded, 0);
  const unicastIn = reports.reduce((s, r) => s + r.rxForMe, 0);
  assert.equal(unicastIn, forwarded);
  const groupIn = reports.reduce((s, r) => s + r.rxGroup, 0);
  assert.equal(groupIn, reports.reduce((s, r) => s + r.txGroup, 0) * (n - 1));
  const parks = reports.reduce((s, r) => s + r.parks, 0);
  t.diagnostic(
    `${ms.toFixed(0)} ms; unicast frames ${forwarded}, group frames ${reports.reduce((s, r) => s + r.txGroup, 0)} (×${n - 1} copies); ` +
      `parks ${parks}; per port rx ${reports.map((r) => r.rxFrames).join('/')}`,
  );
});

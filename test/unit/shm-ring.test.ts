import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { ShmRing, ShmRingLayout } from '../../src/link/shm-ring.js';
import { ShmLink } from '../../src/link/shm-link.js';
import { fuzzRuns } from '../support/fuzz.js';
import { checkFrame, frameLength, writeFrame, type FrameSpec, type WorkerJob, type WorkerResult } from './shm-ring-worker.js';

const WORKER = new URL('./shm-ring-worker.js', import.meta.url);

/** Runs the jobs in workers; rejects with a clear message if they are not all done within `limitMs`. */
async function runWorkers(jobs: WorkerJob[], limitMs: number): Promise<WorkerResult[]> {
  const workers = jobs.map((job) => new Worker(WORKER, { workerData: job }));
  const done = workers.map(
    (w, i) =>
      new Promise<WorkerResult>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        // The result message may be delivered just after 'exit'.
        w.once('exit', (code) => setTimeout(() => reject(new Error(`${jobs[i]!.role} worker exited with ${code} and no result`)), 200));
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`workers did not finish within ${limitMs} ms (deadlock?)`)), limitMs);
  });
  try {
    return await Promise.race([Promise.all(done), timeout]);
  } finally {
    clearTimeout(timer);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function assertClean(results: WorkerResult[]): void {
  const errors = results.filter((r) => r.error !== null).map((r) => r.error);
  assert.deepEqual(errors, [], errors.join('; '));
}

test('shm ring: random frames of 1..9000 bytes survive wrap-around in order, byte for byte', () => {
  const MAX_REC = (9000 + 11) & ~7;
  const op = fc.record({
    push: fc.array(fc.integer({ min: 1, max: 9000 }), { maxLength: 12 }),
    take: fc.integer({ min: 0, max: 12 }),
    popInto: fc.boolean(),
  });
  // Start anywhere, including just before the Int32 counters wrap.
  const start = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: 2 ** 31 - 70000, max: 2 ** 31 - 1 }));
  fc.assert(
    fc.property(fc.constantFrom(32768, 65536), start, fc.array(op, { maxLength: 40 }), (capacity, startAt, ops) => {
      const sab = new SharedArrayBuffer(ShmRing.bytesFor(capacity));
      ShmRing.format(sab, 0, capacity);
      const h = new Int32Array(sab, 0, ShmRingLayout.HEADER_BYTES >> 2);
      h[ShmRingLayout.HEAD] = h[ShmRingLayout.TAIL] = startAt & ~7;
      const ring = ShmRing.attach(sab);
      const model: { seq: number; len: number }[] = [];
      let used = 0; // record bytes in the ring by the model (skips not counted)
      let seq = 0;
      let refused = 0;
      const frame = new Uint8Array(9000);
      const out = new Uint8Array(9000);
      const spec = { minLen: 0, maxLen: 0 };
      let front = 0;
      let bad: string | null = null;
      const check = (bytes: Uint8Array, at: number, len: number): void => {
        const want = model[front++]!;
        if (len !== want.len) bad ??= `frame ${want.seq}: length ${len}, expected ${want.len}`;
        else if (len >= 8) {
          spec.minLen = spec.maxLen = len; // the length is checked above
          bad ??= checkFrame(bytes, at, len, want.seq, spec);
        } else if (bytes[at] !== (want.seq & 0xff)) bad ??= `frame ${want.seq}: wrong first byte`;
      };
      const take = (k: number, usePop: boolean): void => {
        front = 0;
        if (usePop) {
          for (let i = 0; i < k; i++) {
            const n = ring.popInto(out);
            if (front === model.length) {
              assert.equal(n, -1);
              break;
            }
            check(out, 0, n);
          }
        } else ring.drain(check, k);
        assert.equal(bad, null, bad ?? '');
        for (const f of model.splice(0, front)) used -= (f.len + 11) & ~7;
      };
      for (const o of ops) {
        for (const len of o.push) {
          if (len >= 8) writeFrame(frame, 0, len, seq);
          else frame.fill(seq & 0xff, 0, len);
          const rec = (len + 11) & ~7;
          if (ring.tryPush(frame, 0, len)) {
            model.push({ seq, len });
            used += rec;
          } else {
            refused++;
            // Refused only when full: there is at most one skip already inside and one before this record.
            assert.ok(model.length > 0, 'an empty ring refused a frame');
            assert.ok(used + rec + MAX_REC + rec > capacity, `refused ${len} bytes with ${used} of ${capacity} in use`);
          }
          seq++;
        }
        take(o.take, o.popInto);
      }
      take(model.length + 1, false);
      assert.equal(model.length, 0);
      assert.ok(ring.isEmpty());
      assert.equal(ring.fullEvents, refused);
      // An empty ring takes the largest frame wherever the counters stand.
      const big = new Uint8Array(ring.maxFrameLength);
      writeFrame(big, 0, big.length, 7);
      assert.ok(ring.tryPush(big, 0, big.length));
      assert.equal(ring.popInto(new Uint8Array(big.length)), big.length);
      assert.ok(ring.isEmpty());
    }),
    { numRuns: fuzzRuns(150) },
  );
});

test('shm ring: a full ring refuses frames without overwriting, then takes them again once drained', () => {
  const ring = ShmRing.create(4096);
  assert.equal(ring.capacity, 4096);
  const frame = new Uint8Array(100); // a record of 104 bytes
  let pushed = 0;
  for (; pushed < 100; pushed++) {
    frame.fill(pushed & 0xff);
    if (!ring.tryPush(frame, 0, 100)) break;
  }
  assert.equal(pushed, 39); // 39 × 104 = 4056; 40 bytes left before the end
  assert.equal(ring.fullEvents, 1);
  assert.equal(ring.tryPush(frame, 0, 100), false);
  assert.equal(ring.fullEvents, 2);
  assert.equal(ring.pushedFrames, 39);

  const out = new Uint8Array(100);
  assert.equal(ring.popInto(out), 100);
  assert.ok(out.every((b) => b === 0), 'the oldest frame was overwritten');
  // 104 bytes freed at the start plus 40 at the end: the next record skips to the start.
  frame.fill(39);
  assert.ok(ring.tryPush(frame, 0, 100));
  assert.equal(ring.tryPush(frame, 0, 8), false);
  const seen: number[] = [];
  const n = ring.drain((bytes, at, len) => {
    assert.equal(len, 100);
    seen.push(bytes[at]!);
  }, 1000);
  assert.equal(n, 39);
  assert.deepEqual(seen, Array.from({ length: 39 }, (_, i) => i + 1));
  assert.ok(ring.isEmpty());
  let again = 0;
  while (again < 100 && ring.tryPush(frame, 0, 100)) again++;
  assert.equal(again, 39);
  assert.throws(() => ring.tryPush(new Uint8Array(4096), 0, ring.maxFrameLength + 1), RangeError);
});

test('shm ring: staged frames stay invisible until one publish, which rings the bell once if the consumer is parked', () => {
  const ring = ShmRing.create(1 << 16);
  const frame = new Uint8Array(64);
  for (let i = 0; i < 10; i++) assert.ok(ring.stage(frame, 0, 64));
  assert.ok(ring.isEmpty());
  assert.equal(ring.drain(() => assert.fail('unpublished frame delivered'), 100), 0);
  // Pretend a consumer is parked.
  const h = new Int32Array(ring.sab, ring.offset, ShmRingLayout.HEADER_BYTES >> 2);
  h[ShmRingLayout.DATA_PARKED] = 1;
  ring.publish();
  assert.equal(ring.dataNotifies, 1);
  assert.equal(h[ShmRingLayout.DATA_BELL], 1);
  assert.equal(h[ShmRingLayout.DATA_PARKED], 0, 'the ringer clears the flag');
  ring.tryPush(frame, 0, 64);
  assert.equal(ring.dataNotifies, 1, 'one bell per park');
  assert.equal(ring.drain(() => {}, 100), 11);
  // An empty ring's wait ends at its timeout.
  const t0 = performance.now();
  assert.equal(ring.waitForData(20), false);
  assert.ok(performance.now() - t0 >= 15);
  assert.equal(ring.dataTimeouts, 1);
});

test('shm ring: a corrupt record length makes drain and popInto throw instead of reading garbage', () => {
  const ring = ShmRing.create(4096);
  ring.tryPush(new Uint8Array(100), 0, 100);
  const lens = new Int32Array(ring.sab);
  lens[(ring.offset + ShmRingLayout.HEADER_BYTES) >> 2] = 5000; // longer than the ring allows
  assert.throws(() => ring.drain(() => {}, 10), /corrupt/);
  assert.throws(() => ring.popInto(new Uint8Array(9000)), /corrupt/);
  lens[(ring.offset + ShmRingLayout.HEADER_BYTES) >> 2] = 200; // runs past the tail
  assert.throws(() => ring.drain(() => {}, 10), /corrupt/);
});

test('shm ring: two workers move 1,000,000 frames with none lost, duplicated, reordered or corrupted', async (t) => {
  const frames = 1_000_000;
  const spec: FrameSpec = { minLen: 12, maxLen: 120 };
  const ring = ShmRing.create(1 << 18);
  const [prod, cons] = await runWorkers(
    [
      { role: 'producer', sab: ring.sab, offset: 0, frames, batch: 32, spec, spaceTimeoutMs: 5000 },
      { role: 'consumer', sab: ring.sab, offset: 0, frames, max: 256, spin: 2000, parkTimeoutMs: 5000, spec },
    ],
    25_000,
  );
  assertClean([prod!, cons!]);
  assert.equal(prod!.frames, frames);
  assert.equal(cons!.frames, frames);
  assert.ok(ring.isEmpty());
  const rate = frames / (cons!.elapsedMs / 1000);
  t.diagnostic(
    `${Math.round(rate).toLocaleString('en')} frames/s (${cons!.elapsedMs.toFixed(0)} ms); ` +
      `producer full ${prod!.fullEvents}, parked ${prod!.parks}; consumer parked ${cons!.parks}, woken ${cons!.wakeups}`,
  );
});

test('shm ring: bursts with pauses never strand a parked consumer or producer', async () => {
  // A small ring, so the producer also fills it and parks for space. After each burst the
  // producer waits for the ring to empty, so a consumer that sleeps through a burst's
  // doorbell is caught; a wait that runs out its 3 s timeout is a lost wake-up too.
  const frames = 20_000;
  const spec: FrameSpec = { minLen: 8, maxLen: 1500 };
  const ring = ShmRing.create(8192);
  const [prod, cons] = await runWorkers(
    [
      { role: 'burst-producer', sab: ring.sab, offset: 0, frames, seed: 12345, maxBurst: 16, maxPauseMs: 1, spec, spaceTimeoutMs: 3000, drainTimeoutMs: 2000 },
      { role: 'consumer', sab: ring.sab, offset: 0, frames, max: 16, spin: 0, parkTimeoutMs: 3000, spec },
    ],
    20_000,
  );
  assertClean([prod!, cons!]);
  assert.equal(cons!.frames, frames);
  assert.equal(cons!.timeouts, 0);
  assert.equal(prod!.timeouts, 0);
  assert.ok(cons!.parks > 100, `consumer parked only ${cons!.parks} times`);
  assert.ok(prod!.parks > 0, 'producer never parked for space');
});

test('shm ring: a main-thread consumer parks with Atomics.waitAsync and keeps the event loop running', async () => {
  const frames = 5_000;
  const spec: FrameSpec = { minLen: 8, maxLen: 600 };
  const ring = ShmRing.create(8192);
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 1);
  let expected = 0;
  let bad: string | null = null;
  const onFrame = (bytes: Uint8Array, at: number, len: number): void => {
    bad ??= checkFrame(bytes, at, len, expected, spec);
    expected++;
  };
  const producer = runWorkers(
    [{ role: 'burst-producer', sab: ring.sab, offset: 0, frames, seed: 99, maxBurst: 30, maxPauseMs: 3, spec, spaceTimeoutMs: 3000, drainTimeoutMs: 2000 }],
    15_000,
  );
  const deadline = performance.now() + 15_000;
  try {
    while (expected < frames && bad === null) {
      if (ring.drain(onFrame, 32) > 0) continue;
      assert.ok(performance.now() < deadline, `main-thread consumer stuck after ${expected} of ${frames} frames`);
      assert.ok(await ring.waitForDataAsync(3000), `no frame for 3 s after ${expected} of ${frames} (lost wake-up)`);
    }
  } finally {
    clearInterval(ticker);
  }
  assert.equal(bad, null, bad ?? '');
  const [prod] = await producer;
  assertClean([prod!]);
  assert.equal(ring.dataTimeouts, 0);
  assert.ok(ring.dataParks > 10, `parked only ${ring.dataParks} times`);
  assert.ok(ticks > 0, 'the event loop did not run while parked');
});

function ethernetFrame(seq: number, spec: FrameSpec): Uint8Array {
  const f = new Uint8Array(frameLength(seq, spec));
  writeFrame(f, 0, f.length, seq);
  return f;
}

test('shm link: frames sent on side a arrive on side b and back; oversize frames and a full ring count as drops', () => {
  const shared = ShmLink.pair(8192, 1500);
  const a = new ShmLink(shared, 'a');
  const b = new ShmLink(shared, 'b');
  assert.equal(a.mtu, 1500);
  const spec: FrameSpec = { minLen: 60, maxLen: 1514 };
  for (let i = 0; i < 3; i++) a.transmit(ethernetFrame(i, spec));
  let expected = 0;
  const got = b.receive((bytes, at, len) => {
    assert.equal(checkFrame(bytes, at, len, expected++, spec), null);
    b.transmit(bytes.subarray(at, at + len));
  }, 10);
  assert.equal(got, 3);
  expected = 0;
  assert.equal(a.receive((bytes, at, len) => assert.equal(checkFrame(bytes, at, len, expected++, spec), null), 10), 3);

  const big = new Uint8Array(1515); // 1501 bytes after a plain Ethernet header
  a.transmit(big);
  a.transmit(new Uint8Array(13));
  assert.equal(a.txErrors, 2);
  big[12] = 0x81; // 802.1Q: the tag does not count against the MTU
  big[13] = 0x00;
  a.transmit(big.subarray(0, 1518));
  assert.equal(a.txErrors, 2);
  assert.equal(b.receive(() => {}, 10), 1);

  a.cork();
  let sent = 0;
  while (a.txDrops === 0 && sent < 100) {
    a.transmit(ethernetFrame(sent, spec));
    sent++;
  }
  assert.equal(b.rx.isEmpty(), false, 'a full ring while corked publishes what it holds');
  a.uncork();
  expected = 0;
  assert.equal(b.receive((bytes, at, len) => assert.equal(checkFrame(bytes, at, len, expected++, spec), null), 1000), sent - 1);
  assert.equal(a.txDrops, 1);
  assert.throws(() => ShmLink.pair(2048, 1500), RangeError);
});

test('shm link: a worker on side b echoes every frame back to the main thread', async () => {
  const frames = 20_000;
  const window = 32;
  const spec: FrameSpec = { minLen: 60, maxLen: 1514 };
  const shared = ShmLink.pair(1 << 17, 1500);
  const link = new ShmLink(shared, 'a');
  const echo = runWorkers([{ role: 'echo', shared, frames, parkTimeoutMs: 3000 }], 15_000);
  let sent = 0;
  let back = 0;
  let bad: string | null = null;
  const onFrame = (bytes: Uint8Array, at: number, len: number): void => {
    bad ??= checkFrame(bytes, at, len, back, spec);
    back++;
  };
  const deadline = performance.now() + 15_000;
  while (back < frames && bad === null) {
    link.cork();
    for (; sent < frames && sent - back < window; sent++) link.transmit(ethernetFrame(sent, spec));
    link.uncork();
    if (link.receive(onFrame, 64) > 0) continue;
    assert.ok(performance.now() < deadline, `echo stuck: ${back} of ${frames} frames back`);
    assert.ok(await link.waitForDataAsync(3000), `no echo for 3 s after ${back} of ${frames} (lost wake-up)`);
  }
  assert.equal(bad, null, bad ?? '');
  const [r] = await echo;
  assertClean([r!]);
  assert.equal(link.txDrops, 0);
  assert.equal(link.rxFrames, frames);
});

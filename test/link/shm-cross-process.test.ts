// The native addon's shared memory and futex doorbell, and a ShmLink that joins two
// processes: a forked child (shm-cross-process-child.ts) opens the named segment the test
// creates; frames, parked waits and a TCP connection cross between them. Without the addon
// (not built, or XLIO_NO_NATIVE=1) these tests skip, except the one that checks the error
// a named link gives then.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ShmLink } from '../../src/link/shm-link.js';
import { ShmRingLayout } from '../../src/link/shm-ring.js';
import { nativeAddon, nativeUnavailableReason, type NativeAddon } from '../../src/native/addon.js';
import { SeededRng } from '../../src/rng.js';
import { AF_INET, MSG_WAITALL, SOCK_STREAM, SOL_SOCKET, SO_RCVTIMEO } from '../../src/socket/constants.js';
import { LinkDriver } from '../../src/socket/drivers.js';
import { SocketPromises } from '../../src/socket/promises.js';
import { Sockets } from '../../src/socket/sockets.js';
import { SockAddr } from '../../src/socket/types.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4 } from '../../src/wire/address.js';
import { BulkExchange, PING_LEN, readStamp, writeStamps } from './shm-cross-process-frames.js';

const addon = nativeAddon();
const skip = addon === null ? `skipped: ${nativeUnavailableReason()}` : false;
const native = addon as NativeAddon;
const CHILD = new URL('./shm-cross-process-child.js', import.meta.url);

let serial = 0;
/** A segment name no other test run uses: pid and a counter. */
function segmentName(what: string): string {
  return `/xlio-test-${process.pid}-${what}-${serial++}`;
}

/** Removes a segment if it is still there (cleanup after failures too). */
function unlinkQuietly(name: string): void {
  try {
    native.shmUnlink(name);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
  }
}

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: Error & { code?: string }) => {
    assert.equal(e.code, code, `code of: ${e.message}`);
    if (message !== undefined) assert.match(e.message, message);
    return true;
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

interface Reply {
  id: number;
  ok: boolean;
  result?: Record<string, unknown>;
  error?: string;
}

/** The forked process on side b, answering requests over IPC. */
class ChildSide {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private stderr = '';
  private exited: string | null = null;
  readonly hello: Promise<Record<string, unknown>>;
  private readonly proc: ChildProcess;

  constructor(name: string) {
    this.proc = fork(CHILD, [name], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.hello = new Promise((resolve, reject) => this.pending.set(0, { resolve, reject }));
    this.proc.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result!);
      else p.reject(new Error(`child: ${m.error}`));
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = `child exited (code ${code}, signal ${signal}): ${this.stderr.trim()}`;
      for (const p of this.pending.values()) p.reject(new Error(this.exited));
      this.pending.clear();
    });
  }

  /** Sends a request; rejects if the child fails, exits, or takes longer than `limitMs`. */
  request(msg: Record<string, unknown>, limitMs: number): Promise<Record<string, unknown>> {
    if (this.exited !== null) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`child did not answer ${JSON.stringify(msg)} within ${limitMs} ms`));
      }, limitMs);
      this.pending.set(id, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.proc.send({ id, ...msg });
    });
  }

  /** Ends the child (asks, then kills it if it has not gone within a second). */
  async close(): Promise<void> {
    if (this.exited !== null) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.disconnect();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 1000);
    await gone;
    clearTimeout(t);
  }
}

/** A named link with a forked child attached to side b; always closed and unlinked afterwards. */
async function withChild(what: string, capacity: number, body: (link: ShmLink, child: ChildSide) => Promise<void>): Promise<void> {
  const name = segmentName(what);
  let child: ChildSide | null = null;
  try {
    const link = ShmLink.createNamed(name, capacity, 1500);
    child = new ChildSide(name);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the child did not start in 10 s')), 10_000)));
    const hello = await Promise.race([child.hello, late]).finally(() => clearTimeout(timer));
    assert.equal(hello['crossProcess'], true);
    assert.equal(hello['mtu'], 1500);
    assert.equal(hello['capacity'], link.tx.capacity, 'the child read the geometry from the segment header');
    assert.notEqual(hello['pid'], process.pid);
    await body(link, child);
  } finally {
    await child?.close();
    unlinkQuietly(name);
  }
}

// ---- the addon itself ----

test('native addon: bad arguments are TypeError/RangeError or errno-coded Errors, and create nothing', { skip }, () => {
  const name = segmentName('args');
  try {
    throwsCode(() => native.shmOpen(42 as unknown as string, 4096, true), 'ERR_INVALID_ARG_TYPE');
    throwsCode(() => native.shmOpen(name, '4096' as unknown as number, true), 'ERR_INVALID_ARG_TYPE');
    throwsCode(() => native.shmOpen(name, 4096, 1 as unknown as boolean), 'ERR_INVALID_ARG_TYPE');
    for (const bytes of [0, -1, 1.5, NaN, Infinity, 2 ** 40]) throwsCode(() => native.shmOpen(name, bytes, true), 'ERR_OUT_OF_RANGE', /bytes/);
    throwsCode(() => native.shmOpen(name, -1, false), 'ERR_OUT_OF_RANGE');
    throwsCode(() => native.shmOpen('/a/b', 4096, true), 'EINVAL', /no other '\/'/);
    throwsCode(() => native.shmOpen('/', 4096, true), 'EINVAL');
    throwsCode(() => native.shmOpen('x'.repeat(300), 4096, true), 'ENAMETOOLONG');
    throwsCode(() => native.shmUnlink(''), 'EINVAL');
    // None of that created the segment.
    throwsCode(() => native.shmOpen(name, 0, false), 'ENOENT', new RegExp(name));

    const sab = new SharedArrayBuffer(16);
    throwsCode(() => native.futexWait(new ArrayBuffer(16) as unknown as SharedArrayBuffer, 0, 0, 0), 'ERR_INVALID_ARG_TYPE', /SharedArrayBuffer/);
    throwsCode(() => native.futexWake(new Int32Array(sab) as unknown as SharedArrayBuffer, 0, 1), 'ERR_INVALID_ARG_TYPE');
    throwsCode(() => native.futexWait(sab, 2, 0, 0), 'ERR_OUT_OF_RANGE', /aligned/);
    throwsCode(() => native.futexWait(sab, 16, 0, 0), 'ERR_OUT_OF_RANGE', /outside the 16-byte/);
    throwsCode(() => native.futexWait(sab, 13, 0, 0), 'ERR_OUT_OF_RANGE', /outside/);
    throwsCode(() => native.futexWait(sab, -4, 0, 0), 'ERR_OUT_OF_RANGE');
    throwsCode(() => native.futexWait(sab, 0.5, 0, 0), 'ERR_OUT_OF_RANGE');
    throwsCode(() => native.futexWait(sab, 0, '0' as unknown as number, 0), 'ERR_INVALID_ARG_TYPE');
    throwsCode(() => native.futexWait(sab, 0, 0, '1' as unknown as number), 'ERR_INVALID_ARG_TYPE');
    throwsCode(() => native.futexWake(sab, 6, 1), 'ERR_OUT_OF_RANGE', /aligned/);
    throwsCode(() => native.futexWake(sab, 0, '1' as unknown as number), 'ERR_INVALID_ARG_TYPE');
    // The async form checks its arguments at once, as Atomics.waitAsync does.
    throwsCode(() => void native.futexWaitAsync(sab, 1, 0, 0), 'ERR_OUT_OF_RANGE');
    // The last word of the buffer is fine.
    assert.equal(native.futexWait(sab, 12, 1, 0), 'not-equal');
  } finally {
    unlinkQuietly(name);
  }
});

test('futexWait: not-equal at once, timed-out after the timeout; futexWake wakes exactly count waiters', { skip, timeout: 10_000 }, async () => {
  const sab = new SharedArrayBuffer(16);
  const i32 = new Int32Array(sab);
  Atomics.store(i32, 1, 5);
  let t0 = performance.now();
  assert.equal(native.futexWait(sab, 4, 4, 5000), 'not-equal');
  assert.ok(performance.now() - t0 < 1000, 'not-equal does not sleep');
  // ToInt32, as Atomics.wait: 2**32 + 5 is 5.
  assert.equal(native.futexWait(sab, 4, 2 ** 32 + 5, 0), 'timed-out');
  t0 = performance.now();
  assert.equal(native.futexWait(sab, 4, 5, 40), 'timed-out');
  const slept = performance.now() - t0;
  assert.ok(slept >= 39 && slept < 3000, `a 40 ms wait took ${slept} ms`);
  assert.equal(native.futexWait(sab, 4, 5, -1), 'timed-out', 'a negative timeout is 0');
  assert.equal(native.futexWake(sab, 4, 1), 0, 'nobody is waiting');

  // Async: the promise settles off the event loop; timers keep running meanwhile.
  assert.equal(await native.futexWaitAsync(sab, 4, 6, 5000), 'not-equal');
  let ticks = 0;
  const tick = setInterval(() => ticks++, 5);
  t0 = performance.now();
  assert.equal(await native.futexWaitAsync(sab, 4, 5, 60), 'timed-out');
  clearInterval(tick);
  assert.ok(performance.now() - t0 >= 59);
  assert.ok(ticks >= 1, 'the event loop ran during the async wait');

  // Three async waiters on one word: a wake of 2 releases two, the rest a wake of all.
  const waits = [0, 1, 2].map(() => native.futexWaitAsync(sab, 4, 5, 5000));
  const settled: string[] = [];
  waits.forEach((p) => void p.then((r) => settled.push(r)));
  // A waiter is only counted once its threadpool thread sleeps: retry until both are found.
  let woken = 0;
  for (const end = performance.now() + 3000; woken < 2 && performance.now() < end; await sleep(2)) woken += native.futexWake(sab, 4, 2 - woken);
  assert.equal(woken, 2);
  await sleep(50);
  assert.deepEqual(settled, ['ok', 'ok'], 'exactly two woke');
  let rest = 0;
  for (const end = performance.now() + 3000; rest < 1 && performance.now() < end; await sleep(2)) rest += native.futexWake(sab, 4, Infinity);
  assert.equal(rest, 1);
  assert.deepEqual(await Promise.all(waits), ['ok', 'ok', 'ok']);
});

test('futexWait blocks a worker thread until futexWake from another thread (the addon loads in workers)', { skip, timeout: 10_000 }, async () => {
  const sab = new SharedArrayBuffer(8);
  const addonPath = fileURLToPath(new URL('../../../build/Release/xlio_native.node', import.meta.url));
  const w = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const a = require(workerData.addonPath);
     parentPort.postMessage('waiting');
     const t0 = performance.now();
     const r = a.futexWait(workerData.sab, 4, 0, 5000);
     parentPort.postMessage({ r, ms: performance.now() - t0 });`,
    { eval: true, workerData: { sab, addonPath } },
  );
  try {
    const messages: unknown[] = [];
    const done = new Promise<{ r: string; ms: number }>((resolve, reject) => {
      w.on('message', (m) => (m === 'waiting' ? messages.push(m) : resolve(m)));
      w.once('error', reject);
    });
    let woken = 0;
    for (const end = performance.now() + 4000; woken === 0 && performance.now() < end; await sleep(2)) woken = native.futexWake(sab, 4, 1);
    assert.equal(woken, 1);
    const { r, ms } = await done;
    assert.equal(r, 'ok');
    assert.ok(ms < 4000, `woken after ${ms} ms`);
  } finally {
    await w.terminate();
  }
});

test('shmOpen: two mappings of one name share their bytes; EEXIST, ENOENT and size checks', { skip }, () => {
  const name = segmentName('shm');
  try {
    const a = native.shmOpen(name, 8192, true);
    assert.ok(a instanceof SharedArrayBuffer);
    assert.equal(a.byteLength, 8192);
    const b = native.shmOpen(name.slice(1), 0, false); // the leading '/' is optional
    assert.equal(b.byteLength, 8192, 'bytes 0 maps the whole segment');
    const wa = new Int32Array(a);
    const wb = new Int32Array(b);
    Atomics.store(wa, 2047, 0x12345678);
    assert.equal(Atomics.load(wb, 2047), 0x12345678, 'a write through one mapping is seen through the other');
    Atomics.add(wb, 0, 3);
    assert.equal(Atomics.load(wa, 0), 3);
    throwsCode(() => native.shmOpen(name, 8192, true), 'EEXIST', new RegExp(`${name}.*O_EXCL`));
    throwsCode(() => native.shmOpen(name, 16384, false), 'EINVAL', /8192 bytes, less than the 16384 requested/);
    assert.equal(native.shmOpen(name, 4096, false).byteLength, 4096);
    native.shmUnlink(name);
    throwsCode(() => native.shmOpen(name, 0, false), 'ENOENT');
    throwsCode(() => native.shmUnlink(name), 'ENOENT', /shm_unlink/);
    // The mappings outlive the name.
    Atomics.store(wb, 1, 77);
    assert.equal(Atomics.load(wa, 1), 77);
  } finally {
    unlinkQuietly(name);
  }
});

test('ShmLink.createNamed/openNamed: the opener reads the geometry; foreign or unfinished segments are refused', { skip }, () => {
  const name = segmentName('named');
  const raw = segmentName('raw');
  try {
    const a = ShmLink.createNamed(name, 1 << 16, 9000);
    const b = ShmLink.openNamed(name);
    assert.equal(a.side, 'a');
    assert.equal(b.side, 'b');
    assert.equal(b.mtu, 9000);
    assert.equal(b.rx.capacity, 1 << 16);
    assert.ok(a.crossProcess && b.crossProcess);
    assert.ok(a.tx.futex !== null && b.rx.futex !== null, 'both rings ring the shared futex');
    // Two separate mappings: frames cross both ways.
    const f = new Uint8Array(9014).map((_, i) => (i * 31) & 0xff);
    a.transmit(f);
    b.transmit(f.subarray(0, 60));
    const got: number[][] = [];
    b.receive((bytes, at, len) => got.push([len, bytes[at + 9013]!]), 8);
    a.receive((bytes, at, len) => got.push([len, bytes[at + 59]!]), 8);
    assert.deepEqual(got, [
      [9014, (9013 * 31) & 0xff],
      [60, (59 * 31) & 0xff],
    ]);
    throwsCode(() => ShmLink.createNamed(name), 'EEXIST');

    // Segments that are not (yet) a link.
    const sab = native.shmOpen(raw, 256 + 2 * (256 + 1024), true);
    assert.throws(() => ShmLink.openNamed(raw), /holds no ShmLink yet \(magic 0\)/);
    const h = new Int32Array(sab);
    h[0] = 0x7f454c46;
    assert.throws(() => ShmLink.openNamed(raw), /is not a ShmLink \(magic 0x7f454c46/);
    h.set([0x534c4e4b, 1, 256, 1500, 4096], 0); // claims rings of 4096 bytes in a segment made for 1024
    assert.throws(() => ShmLink.openNamed(raw), /inconsistent ShmLink header.*rings of 4096/);
    h.set([0x534c4e4b, 2], 0);
    assert.throws(() => ShmLink.openNamed(raw), /version 2/);
    native.shmUnlink(raw);
    native.shmOpen(raw, 64, true);
    assert.throws(() => ShmLink.openNamed(raw), /64 bytes: too small/);

    const missing = segmentName('missing');
    throwsCode(() => ShmLink.openNamed(missing), 'ENOENT', /createNamed\(\) it first/);
    // Bad geometry is refused before any segment is made.
    assert.throws(() => ShmLink.createNamed(missing, 256, 1500), RangeError);
    assert.throws(() => ShmLink.createNamed(missing, 1 << 16, 20), RangeError);
    throwsCode(() => native.shmOpen(missing, 0, false), 'ENOENT');

    assert.equal(ShmLink.unlinkNamed(name), true);
    assert.equal(ShmLink.unlinkNamed(name), false);
    // The attached sides keep working after the name is gone.
    a.transmit(f.subarray(0, 100));
    assert.equal(b.receive(() => {}, 8), 1);
  } finally {
    unlinkQuietly(name);
    unlinkQuietly(raw);
  }
});

test('without the native addon, a named ShmLink says it needs the addon and why; in-process links still work', { timeout: 15_000 }, () => {
  const url = new URL('../../src/link/shm-link.js', import.meta.url).href;
  const script = `
    const { ShmLink } = await import(${JSON.stringify(url)});
    const out = {};
    for (const [k, f] of [['create', () => ShmLink.createNamed('/xlio-never-${process.pid}')], ['open', () => ShmLink.openNamed('/xlio-never-${process.pid}')]]) {
      try { f(); out[k] = 'no error'; } catch (e) { out[k] = e.message; }
    }
    const shared = ShmLink.pair(1 << 12, 1500);
    const a = new ShmLink(shared, 'a'), b = new ShmLink(shared, 'b');
    a.transmit(new Uint8Array(60));
    out.inProcess = b.receive(() => {}, 4);
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, XLIO_NO_NATIVE: '1' },
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.match(String(out['create']), /cross-process ShmLink \(createNamed\) needs the native addon: the native addon is disabled by XLIO_NO_NATIVE=1/);
  assert.match(String(out['open']), /cross-process ShmLink \(openNamed\) needs the native addon: .*XLIO_NO_NATIVE=1/);
  assert.equal(out['inProcess'], 1);
});

// ---- two processes ----

test('two processes: 100,000 frames each way through a named ShmLink, byte for byte', { skip, timeout: 30_000 }, async (t: TestContext) => {
  const FRAMES = 100_000;
  await withChild('bulk', 1 << 18, async (link, child) => {
    const x = new BulkExchange(link, 0, FRAMES);
    let childError: Error | null = null;
    const childDone = child.request({ cmd: 'bulk', frames: FRAMES }, 25_000);
    childDone.catch((e: Error) => (childError = e));
    const t0 = performance.now();
    let rounds = 0;
    while (!x.done) {
      if (childError !== null) throw childError;
      if (x.step()) {
        // Let IPC (a failing child's report) and timers in now and then.
        if ((++rounds & 255) === 0) await yieldToLoop();
        continue;
      }
      if (performance.now() - t0 > 20_000) throw new Error(`stalled: sent ${x.sent}, received ${x.received}`);
      await link.waitForDataAsync(2);
    }
    const ms = performance.now() - t0;
    const c = await childDone;
    assert.equal(x.mismatches, 0, x.firstMismatch ?? '');
    assert.equal(c['mismatches'], 0, String(c['firstMismatch']));
    assert.equal(x.received, FRAMES);
    assert.equal(c['received'], FRAMES);
    assert.equal(c['sent'], FRAMES);
    assert.equal(link.txDrops + (c['txDrops'] as number), 0, 'no frame was dropped');
    assert.equal(link.txFrames, FRAMES);
    t.diagnostic(
      `${Math.round((2 * FRAMES) / (ms / 1000)).toLocaleString('en')} frames/s across processes ` +
        `(${((link.txBytes + link.rxBytes) / (ms / 1000) / 1e6).toFixed(0)} MB/s, ${ms.toFixed(0)} ms for ${2 * FRAMES} frames); ` +
        `parent parked ${link.rx.dataParks}×, child parked ${c['dataParks']}× for data and ${c['spaceParks']}× for space`,
    );
  });
});

test('two processes: a parked child is woken by the parent (futexWait, futexWaitAsync), and answers a parked parent', { skip, timeout: 30_000 }, async (t: TestContext) => {
  const ROUNDS = 150;
  await withChild('park', 1 << 16, async (link, child) => {
    // The child's "I am parked" flag: DATA_PARKED of the ring we transmit on.
    const words = new Int32Array(link.tx.sab);
    const parkedFlag = (link.tx.offset >> 2) + ShmRingLayout.DATA_PARKED;
    const ping = new Uint8Array(PING_LEN);
    const stamps = { sent: 0n, woke: 0n, answered: 0n };
    const onAnswer = (bytes: Uint8Array, at: number): void => {
      stamps.sent = readStamp(bytes, at, 0);
      stamps.woke = readStamp(bytes, at, 1);
      stamps.answered = readStamp(bytes, at, 2);
    };
    for (const mode of ['block', 'async'] as const) {
      const childWake: number[] = [];
      const parentWake: number[] = [];
      const notifies0 = link.tx.dataNotifies;
      const parentSleeps0 = link.rx.wakeups;
      const done = child.request({ cmd: 'park', rounds: ROUNDS, mode }, 25_000);
      for (let r = 0; r < ROUNDS; r++) {
        // Wait until the child has raised its flag, then a little longer so it is asleep in the kernel.
        for (const end = performance.now() + 3000; Atomics.load(words, parkedFlag) !== 1; await sleep(1)) {
          if (performance.now() > end) throw new Error(`round ${r}: the child never parked`);
        }
        await sleep(2);
        writeStamps(ping, [process.hrtime.bigint()]);
        link.transmit(ping);
        const got = await link.waitForDataAsync(3000);
        const resumed = process.hrtime.bigint();
        assert.ok(got, `round ${r}: no answer within 3 s`);
        assert.equal(link.receive(onAnswer, 1), 1);
        childWake.push(Number(stamps.woke - stamps.sent) / 1000);
        parentWake.push(Number(resumed - stamps.answered) / 1000);
      }
      const c = await done;
      assert.equal(c['timeouts'], 0);
      assert.equal(c['wakeups'], ROUNDS, 'the child slept and was woken once per round');
      assert.equal(link.tx.dataNotifies - notifies0, ROUNDS, 'every ping rang the doorbell of a parked child');
      childWake.sort((p, q) => p - q);
      parentWake.sort((p, q) => p - q);
      // A wake that did not cross the process boundary would cost the child's whole wait
      // (2 s, failing the round) or, async, its 250 ms slice.
      assert.ok(percentile(childWake, 0.5) < 50_000, `median child wake-up ${percentile(childWake, 0.5)} µs`);
      t.diagnostic(
        `child parked with ${mode === 'block' ? 'futexWait (blocking)' : 'futexWaitAsync (threadpool)'}: wake latency ` +
          `p50 ${percentile(childWake, 0.5).toFixed(0)} µs, p90 ${percentile(childWake, 0.9).toFixed(0)} µs, max ${childWake[childWake.length - 1]!.toFixed(0)} µs; ` +
          `its answer → parent (futexWaitAsync, slept ${link.rx.wakeups - parentSleeps0}/${ROUNDS}×) p50 ${percentile(parentWake, 0.5).toFixed(0)} µs`,
      );
    }
  });
});

test('two processes: a Stack on each side of the named link, TCP connect and echo', { skip, timeout: 30_000 }, async (t: TestContext) => {
  await withChild('tcp', 1 << 20, async (link, child) => {
    const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), rng: new SeededRng(1), ipv6: false });
    stack.attach(link);
    stack.addAddress(ipv4('198.18.0.1'), 24);
    const driver = new LinkDriver(stack, link);
    const api = new Sockets(stack, { driver });
    const p = new SocketPromises(api, driver);
    await child.request({ cmd: 'tcp-listen', port: 7000 }, 10_000);
    const served = child.request({ cmd: 'tcp-serve' }, 20_000);
    let serveError: Error | null = null;
    served.catch((e: Error) => (serveError = e));

    const s = api.socket(AF_INET, SOCK_STREAM);
    const tv = new Uint8Array(16);
    new DataView(tv.buffer).setBigInt64(0, 10n, true); // SO_RCVTIMEO 10 s bounds every wait below
    assert.equal(api.setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, tv), 0);
    const t0 = performance.now();
    assert.equal(await p.connect(s, SockAddr.inet(ipv4('198.18.0.2'), 7000)), 0);
    const connectMs = performance.now() - t0;
    const data = new Uint8Array(256 * 1024).map((_, i) => (i * 131 + (i >> 10)) & 0xff);
    const back = new Uint8Array(data.length);
    const CHUNK = 16 * 1024;
    for (let off = 0; off < data.length; off += CHUNK) {
      if (serveError !== null) throw serveError;
      assert.equal(await p.send(s, data.subarray(off, off + CHUNK)), CHUNK);
      assert.equal(await p.recv(s, back.subarray(off, off + CHUNK), MSG_WAITALL), CHUNK, `echo of bytes ${off}..`);
    }
    const echoMs = performance.now() - t0 - connectMs;
    assert.ok(Buffer.from(back).equals(Buffer.from(data)), 'the echo matches byte for byte');
    assert.equal(api.close(s), 0);
    // Keep our stack running until the child has seen the end of stream and closed.
    let pumping = true;
    const pump = (async () => {
      while (pumping) await driver.waitAsync(driver.now() + 20_000);
    })();
    try {
      const r = await served;
      assert.equal(r['echoed'], data.length);
      assert.match(String(r['peer']), /^198\.18\.0\.1:\d+$/);
    } finally {
      pumping = false;
      await pump;
    }
    t.diagnostic(`TCP across processes: connect ${connectMs.toFixed(1)} ms, 256 KiB echoed in 16 KiB steps in ${echoMs.toFixed(0)} ms`);
  });
});

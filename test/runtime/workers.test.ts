// Worker mode: N worker threads, each with its own stack, NIC queue and poll loop, serving
// UDP and TCP echo (echo-app.ts) to a client stack on the NIC's device port. Flows are spread
// by the symmetric 5-tuple hash, every frame of a flow meets the same worker, every message
// comes back; and (KI-22) nothing on the data path is shared between workers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { threadId } from 'node:worker_threads';
import { ShmRingLayout } from '../../src/link/shm-ring.js';
import { ShmSwitchPort } from '../../src/link/shm-switch.js';
import { loadConfig } from '../../src/runtime/config.js';
import { EchoCounter, type EchoFlows } from '../../src/runtime/echo-app.js';
import { startWorkers, type WorkerPool, type WorkerReport } from '../../src/runtime/workers.js';
import { CLIENT_IP, ECHO_PORT, FlowClient, SERVER_IP, expectedQueue, type FlowPlan } from './flow-client.js';

const ECHO_APP = new URL('../../src/runtime/echo-app.js', import.meta.url);
/** Short spins: the tests share two CPUs with other test files. */
const CONFIG = loadConfig({ XLIO_RX_POLL: '200' });

async function runFlows(count: number, plan: FlowPlan, watch?: (pool: WorkerPool) => void) {
  const pool = await startWorkers({ count, app: ECHO_APP, data: { udpPort: ECHO_PORT, tcpPort: ECHO_PORT, tagWorker: true, recordFlows: true }, config: CONFIG, addresses: [`${SERVER_IP}/24`], ringBytes: 4 << 20 });
  const client = new FlowClient(pool.rss, plan);
  let sampler: ReturnType<typeof setInterval> | undefined;
  if (watch !== undefined) sampler = setInterval(() => watch(pool), 1);
  let reports: WorkerReport[];
  try {
    await client.run(15_000);
    // Let each worker take the last frames steered to it (the client's final ACKs) before stopping.
    for (let i = 0; i < 400 && pool.snapshot().some((w) => w.frames < client.device.steered[w.index]!); i++) await new Promise((r) => setTimeout(r, 5));
  } finally {
    clearInterval(sampler);
    const t0 = performance.now();
    reports = await pool.stop();
    const stopMs = performance.now() - t0;
    assert.ok(stopMs < 1000, `the pool stopped in ${stopMs.toFixed(0)} ms`);
  }
  assert.equal(client.error, null, `${client.error}; ${client.progress()}`);
  assert.equal(client.device.port.txDrops, 0, 'no queue overflowed');
  for (const r of reports) assert.equal(r.error, null, `worker ${r.index}: ${r.error}`);
  return { pool, client, reports };
}

/** Every flow was served by the worker the hash picks, entirely, and by no other. */
function checkSpread(count: number, client: FlowClient, reports: WorkerReport[], plan: FlowPlan): void {
  const flows = reports.map((r) => r.result as EchoFlows);
  const udpBy = new Map<number, number[]>();
  const tcpBy = new Map<number, number[]>();
  for (const f of flows) {
    for (const [port, n] of f.udp) udpBy.set(port, [...(udpBy.get(port) ?? []), f.index, n]);
    for (const [port, n] of f.tcp) tcpBy.set(port, [...(tcpBy.get(port) ?? []), f.index, n]);
  }
  const used = new Set<number>();
  for (const f of client.udp) {
    const q = expectedQueue(17, CLIENT_IP, f.port, SERVER_IP, ECHO_PORT, count);
    assert.equal(f.worker, q, `UDP flow ${f.port}: replies from worker ${f.worker}, the hash picks ${q}`);
    assert.deepEqual(udpBy.get(f.port), [q, plan.udpPerFlow], `UDP flow ${f.port}: served by worker ${q} alone, every datagram`);
    used.add(q);
  }
  for (const f of client.tcp) {
    const q = expectedQueue(6, CLIENT_IP, f.port, SERVER_IP, ECHO_PORT, count);
    assert.deepEqual(tcpBy.get(f.port), [q, plan.tcpBytes], `TCP flow ${f.port}: served by worker ${q} alone, every byte`);
    used.add(q);
  }
  assert.equal(used.size, count, `flows reached every worker (${[...used].join(', ')})`);
  const udpTotal = reports.reduce((a, r) => a + r.app[EchoCounter.UDP_IN]!, 0);
  assert.equal(udpTotal, plan.udpFlows * plan.udpPerFlow);
}

const PLAN: FlowPlan = { udpFlows: 24, udpPerFlow: 8, tcpFlows: 8, tcpBytes: 20_000 };

test('worker mode, 1 worker: many UDP and TCP flows, every message delivered and echoed', { timeout: 30_000 }, async () => {
  const { client, reports } = await runFlows(1, PLAN);
  assert.equal(reports.length, 1);
  checkSpread(1, client, reports, PLAN);
  assert.equal(reports[0]!.app[EchoCounter.TCP_ACCEPTED], PLAN.tcpFlows);
  assert.ok(reports[0]!.parks > 0, 'the worker parked when idle');
});

test('worker mode, 2 workers: flows spread by the symmetric 5-tuple hash, each flow always on the same worker, every message delivered', { timeout: 30_000 }, async () => {
  const { client, reports } = await runFlows(2, PLAN);
  assert.equal(reports.length, 2);
  checkSpread(2, client, reports, PLAN);
  // The device steered only by the hash: no flow was started by a worker.
  assert.equal(client.device.learnedHits, 0);
  const accepted = reports.map((r) => r.app[EchoCounter.TCP_ACCEPTED]!);
  assert.equal(accepted[0]! + accepted[1]!, PLAN.tcpFlows);
});

test('KI-22 one stack per worker thread and no shared mutable state on the data path: own rings, own counters, flows processed concurrently', { timeout: 30_000 }, async () => {
  const plan: FlowPlan = { udpFlows: 64, udpPerFlow: 60, tcpFlows: 8, tcpBytes: 200_000 };
  // While the flows run, sample both workers' frame counters: count the samples in which both moved.
  let last = [0, 0];
  let bothMoved = 0;
  let samples = 0;
  const { pool, client, reports } = await runFlows(2, plan, (p) => {
    const now = [p.snapshotOf(0).frames, p.snapshotOf(1).frames];
    if (now[0]! > last[0]! && now[1]! > last[1]!) bothMoved++;
    samples++;
    last = now;
  });
  checkSpread(2, client, reports, plan);

  // One stack per thread: two worker threads, neither of them this one.
  const threads = reports.map((r) => r.threadId);
  assert.equal(new Set(threads).size, 2, `worker threads ${threads.join(', ')}`);
  assert.ok(!threads.includes(threadId));

  // Each worker took exactly the frames the device steered to its own queue, and its stack
  // saw exactly the frames its loop counted: one consumer per queue, one writer per counter.
  for (const r of reports) {
    assert.equal(r.frames, client.device.steered[r.index], `worker ${r.index}: frames taken = frames steered to queue ${r.index}`);
    assert.equal(r.stack!.framesIn, r.frames, `worker ${r.index}: the stack's count = the loop's count`);
  }
  // What the workers sent reached the device, and nothing went from one worker to another:
  // the switch rings between the two queues' ports were never published to.
  const fromWorkers = reports.reduce((a, r) => a + r.stack!.framesOut, 0);
  assert.equal(client.stack.counters.framesIn, fromWorkers);
  for (const [from, to] of [
    [1, 2],
    [2, 1],
  ] as const) {
    const port = new ShmSwitchPort(pool.rss.switch, from); // the workers have closed theirs
    const ring = port.txRing(to);
    const tail = Atomics.load(new Int32Array(ring.sab, ring.offset, ShmRingLayout.HEADER_BYTES >> 2), ShmRingLayout.TAIL);
    port.close();
    assert.equal(tail, 0, `ring from worker ${from - 1} to worker ${to - 1} was never used`);
  }
  // Both workers made progress in the same 1 ms windows: the flows were processed in parallel.
  assert.ok(bothMoved >= 3, `${bothMoved} of ${samples} samples saw both workers take frames`);
});

test('XLIO_RING_ALLOCATION_LOGIC_RX=0 (one ring per interface) runs a single worker: two are refused with a clear message', async () => {
  const perInterface = loadConfig({ XLIO_RING_ALLOCATION_LOGIC_RX: '0', XLIO_RX_POLL: '0' });
  await assert.rejects(startWorkers({ count: 2, app: ECHO_APP, config: perInterface }), /XLIO_RING_ALLOCATION_LOGIC_RX=0 \(per interface\) means one ring shared by every thread; xlio-ts never shares a ring between threads \(KI-22\)/);
  await assert.rejects(startWorkers({ count: 2, app: ECHO_APP, config: loadConfig({ XLIO_RING_ALLOCATION_LOGIC_TX: 'per_ip_address' }) }), /XLIO_RING_ALLOCATION_LOGIC_TX=1 \(per IP address\)/);
  const one = await startWorkers({ count: 1, app: ECHO_APP, config: perInterface });
  const [r] = await one.stop();
  assert.equal(r!.error, null);
  // Per socket, per CPU id and per core are a queue per worker, as per thread is.
  const perSocket = await startWorkers({ count: 2, app: ECHO_APP, config: loadConfig({ XLIO_RING_ALLOCATION_LOGIC_RX: '10', XLIO_RING_ALLOCATION_LOGIC_TX: '31', XLIO_RX_POLL: '0' }) });
  assert.equal(perSocket.rss.queues, 2);
  for (const rep of await perSocket.stop()) assert.equal(rep.error, null);
});

// The body of one runtime worker (started by workers.ts): its own Stack on its own NIC queue,
// the socket API over it, the application's setup(), then the poll loop until stopped.

import { isMainThread, parentPort, threadId, workerData } from 'node:worker_threads';
import { ShmRssQueue } from '../link/shm-rss.js';
import { SeededRng } from '../rng.js';
import { LinkDriver } from '../socket/drivers.js';
import { Sockets } from '../socket/sockets.js';
import { Stack } from '../stack/stack.js';
import { ipv4, ipv6 } from '../wire/address.js';
import { prewarm } from './prewarm.js';
import { spinCapUs } from './config.js';
import { PollLoop } from './poll-loop.js';
import { WorkerBlock, type WorkerJob, type WorkerMessage, type WorkerSetup } from './workers.js';

function post(m: WorkerMessage): void {
  parentPort!.postMessage(m);
}

async function main(job: WorkerJob): Promise<void> {
  const v6 = job.addresses.some((a) => a.includes(':'));
  const stack = new Stack({ mac: job.mac, rng: new SeededRng(job.seed + job.index), ipv6: v6 });
  const link = new ShmRssQueue(job.rss, job.index);
  stack.attach(link);
  for (const cidr of job.addresses) {
    const [text, prefix] = cidr.split('/');
    const isV6 = text!.includes(':');
    stack.addAddress(isV6 ? ipv6(text!) : ipv4(text!), prefix === undefined ? (isV6 ? 128 : 32) : Number(prefix), stack.primary, { dad: false });
  }
  // XLIO_SELECT_POLL: blocking waits poll the queue this long before parking.
  const driver = new LinkDriver(stack, link, undefined, { spinPolls: job.config.selectPoll, spinCapUs: spinCapUs(job.config.selectPoll) });
  const api = new Sockets(stack, { driver, tcpNoDelay: job.config.tcpNoDelay, tcpQuickAck: job.config.tcpQuickAck });
  const stats = new Float64Array(job.stats, job.index * WorkerBlock.SLOTS * 8, WorkerBlock.SLOTS);
  const control = new Int32Array(job.control, job.index * WorkerBlock.CONTROL_WORDS * 4, WorkerBlock.CONTROL_WORDS);
  const loop = PollLoop.fromConfig(driver, job.config, { stats: stats.subarray(WorkerBlock.LOOP, WorkerBlock.LOOP + 8), control });
  const counters = stats.subarray(WorkerBlock.APP, WorkerBlock.APP + WorkerBlock.APP_SLOTS);
  if (job.config.prewarm > 0) prewarm(job.config.prewarm); // KI-25: compile the hot paths before the app's first call
  const mod = (await import(job.app)) as { setup?: WorkerSetup };
  if (typeof mod.setup !== 'function') throw new Error(`${job.app} does not export a setup(ctx) function`);
  const app = await mod.setup({ index: job.index, count: job.count, stack, api, driver, loop, config: job.config, data: job.data, counters });
  if (typeof app.round === 'function') loop.onRound = app.round.bind(app);
  stats[WorkerBlock.THREAD_ID] = threadId;
  post({ type: 'ready', index: job.index });
  loop.run();
  const result = typeof app.close === 'function' ? app.close() : null;
  link.close();
  post({ type: 'done', index: job.index, result, stack: { ...stack.counters } });
}

const job = workerData as WorkerJob | null;
if (!isMainThread && parentPort !== null && job !== null && job.kind === 'xlio-runtime-worker') {
  main(job).catch((e: unknown) => post({ type: 'error', index: job.index, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }));
}

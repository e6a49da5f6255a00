// Worker side of poll-loop.test.ts: one stack on side 'a' of a ShmLink, run by PollLoop.run()
// (parking with Atomics.wait) with its control words and counters in shared memory, so the
// main thread can stop it and watch it park.

import { parentPort, workerData } from 'node:worker_threads';
import { ShmLink, type ShmLinkShared } from '../../src/link/shm-link.js';
import { SeededRng } from '../../src/rng.js';
import { PollLoop } from '../../src/runtime/poll-loop.js';
import { LinkDriver } from '../../src/socket/drivers.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4 } from '../../src/wire/address.js';

export interface LoopJob {
  kind: 'loop-worker';
  shared: ShmLinkShared;
  control: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  rxPoll: number;
  maxParkMs: number;
}

const job = workerData as LoopJob | null;
if (parentPort !== null && job !== null && job.kind === 'loop-worker') {
  const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), rng: new SeededRng(1), ipv6: false });
  const link = new ShmLink(job.shared, 'a');
  stack.attach(link);
  stack.addAddress(ipv4('198.18.0.1'), 24);
  const loop = new PollLoop(new LinkDriver(stack, link), { rxPoll: job.rxPoll, maxParkMs: job.maxParkMs, control: new Int32Array(job.control), stats: new Float64Array(job.stats) });
  parentPort.postMessage({ type: 'running' });
  loop.run();
  parentPort.postMessage({ type: 'stopped', at: performance.timeOrigin + performance.now() });
}

// Run by test/sim/replay.test.ts in a child process: a simulator test that fails on
// purpose and reports the seed it ran with, to show that failures print a replay line
// and that the seed reproduces the run. Not a test file of its own.
import assert from 'node:assert/strict';
import { SimNetwork } from '../../src/link/sim/network.js';
import { simTest } from './sim.js';
import { Pinger, macOf, seqOf } from './toy-hosts.js';

simTest('replay case: lossy stream', (_t, seed) => {
  const sim = new SimNetwork(seed);
  const got: number[] = [];
  const pinger = new Pinger(macOf(1), macOf(2), 50, 10);
  const a = sim.addHost('a', pinger);
  pinger.nic = a;
  const b = sim.addHost('b', { receive: (f) => void got.push(seqOf(f)), poll: () => Infinity });
  sim.connect(a, b, { loss: 0.3 });
  sim.runUntilIdle({ maxEvents: 10_000 });
  console.log(`received=${got.join(',')}`);
  assert.equal(got.length, 50, 'fails on purpose: 30% loss');
});

// KI-25: prewarm() runs the socket hot paths on a private pair of stacks so that the first
// real connect and send run compiled code (how much faster is bench/first-use.bench.ts's
// business). Here: it completes its exchanges, may run again, leaves nothing behind in the
// application's stacks, and XLIO_PREWARM configures it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prewarm } from '../../src/runtime/prewarm.js';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../../src/runtime/config.js';
import { Stack } from '../../src/stack/stack.js';
import { SeededRng } from '../../src/rng.js';
import { ipv4 } from '../../src/wire/address.js';

test('KI-25 prewarm: private TCP and UDP exchanges complete, run again, and touch no other stack', () => {
  const app = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 9), rng: new SeededRng(1), ipv6: false });
  const frames: Uint8Array[] = [];
  app.attach({ mtu: 1500, transmit: (f) => void frames.push(f.slice()) });
  app.addAddress(ipv4('198.18.0.9'), 24);
  const before = JSON.stringify(app.counters);
  const sent = frames.length;
  const r = prewarm(8);
  assert.equal(r.rounds, 8);
  assert.ok(r.ms >= 0 && Number.isFinite(r.ms));
  assert.equal(prewarm(3).rounds, 3, 'a second prewarm reuses nothing of the first');
  assert.equal(JSON.stringify(app.counters), before, "the application's stack saw nothing");
  assert.equal(frames.length, sent, "nothing left the application's link");
  assert.equal(app.tcp.size, 0);
});

test('KI-25 XLIO_PREWARM: rounds a worker prewarms at start (default 64, 0 none), bad values refused', () => {
  assert.equal(DEFAULT_CONFIG.prewarm, 64);
  assert.equal(loadConfig({}).prewarm, 64);
  assert.equal(loadConfig({ XLIO_PREWARM: '0' }).prewarm, 0);
  assert.equal(loadConfig({ XLIO_PREWARM: '500' }).prewarm, 500);
  assert.deepEqual(loadConfig({ XLIO_PREWARM: '5' }).unknown, [], 'a known name');
  assert.throws(() => loadConfig({ XLIO_PREWARM: '-1' }), ConfigError);
  assert.throws(() => loadConfig({ XLIO_PREWARM: 'lots' }), /XLIO_PREWARM/);
});

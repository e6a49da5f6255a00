// Data integrity on a long fat path (issue: TCP): 1 GiB one way over a 1 Gbit/s link with
// a 30 ms round trip (a 3.75 MB bandwidth-delay product, 57 times the 64 KiB an unscaled
// window can offer), SHA-256 checked. The window scale option must be in use, the receiver
// must advertise more than 65,535 bytes, and goodput must exceed half the link rate in
// simulated time. The data is generated and hashed chunk by chunk: nothing holds 1 GiB.

import assert from 'node:assert/strict';
import { simTest } from '../support/sim.js';
import { twoStacks } from '../support/stacks.js';
import { closeBoth, flow, pump, rate } from '../support/transfer.js';
import { ipv4 } from '../../src/wire/address.js';
import { TcpState, type TcpConnection } from '../../src/stack/tcp/connection.js';

const A = ipv4('198.18.0.1');
const B = ipv4('198.18.0.2');
const SIZE = Number(process.env['XLIO_BDP_MIB'] ?? 1024) * 1024 * 1024;
const ONE_WAY_US = 15_000;

simTest('tcp integrity: 1 GiB over 1 Gbit/s with a 30 ms RTT, SHA-256 checked, needs window scaling', (t, seed) => {
  const t0 = performance.now();
  const env = twoStacks(seed, { delayUs: ONE_WAY_US, bandwidthBps: 1e9, queueFrames: 4000 });
  const l = env.b.tcp.listen(4, 0, 5001);
  const c = env.a.tcp.connect(B, 5001);
  let s: TcpConnection | null = null;
  for (let k = 0; k < 100 && s === null; k++) {
    env.settle(10_000);
    s = l.accept();
  }
  assert.ok(s !== null, `accepted (client ${c.state})`);
  assert.equal(c.state, TcpState.Established);
  assert.ok(c.sndShift > 0 && c.sndShift === s.rcvShift, `window scale in use: client shifts the server's window by ${c.sndShift}, the server chose ${s.rcvShift}`);
  assert.equal(s.remote4, A);

  const f = flow('a→b', c, s, SIZE, seed);
  let maxWnd = 0, maxAdvertised = 0;
  const run = pump(env, [f], {
    stepUs: 5_000, limitUs: 120_000_000, maxSteps: 30_000,
    onStep: () => {
      if (c.sndWnd > maxWnd) maxWnd = c.sndWnd;
      const w = s!.info().rcvWnd;
      if (w > maxAdvertised) maxAdvertised = w;
    },
    extra: () => `link a→b: ${JSON.stringify(env.link.ab.counters)}`,
  });
  assert.equal(f.receiver.got, SIZE);
  assert.equal(f.receiver.digest(), f.sender.digest(), 'SHA-256 of what was read equals that of what was written');
  assert.ok(maxWnd > 65535, `the client saw the server offer ${maxWnd} bytes, more than an unscaled window can say`);
  assert.ok(c.maxSndWnd > 65535, `largest window offered ${c.maxSndWnd}`);
  assert.ok(s.recvQ.max > 65535, `receive buffer grew to ${s.recvQ.max}`);
  const gbps = (SIZE * 8) / run.elapsedUs / 1e3;
  assert.ok(gbps > 0.5, `goodput ${gbps.toFixed(3)} Gbit/s in simulated time (${(run.elapsedUs / 1e6).toFixed(3)} s), over 0.5 Gbit/s`);

  const closeUs = closeBoth(env, [f], c, s, 10_000, 10_000_000);
  assert.equal(c.error, null);
  assert.equal(s.error, null);
  const d = env.link.ab.counters;
  for (const line of [
    `${SIZE / (1 << 20)} MiB in ${(run.elapsedUs / 1e6).toFixed(3)} s simulated: ${gbps.toFixed(3)} Gbit/s (${rate(SIZE, run.elapsedUs)}), ${run.steps} turns, ${(run.wallMs / 1e3).toFixed(1)} s wall (${rate(SIZE, run.wallMs * 1e3)} per wall second)`,
    `window scale ${c.sndShift}; largest window seen ${maxWnd} (maxSndWnd ${c.maxSndWnd}), largest advertised ${maxAdvertised}; receive buffer ${s.recvQ.max}, send buffer ${c.sendQ.max}; srtt ${c.info().rttUs} µs`,
    `client: rtx ${c.totalRetransmits} rto ${c.timeouts} tlp ${c.tlpProbes} cwnd ${c.info().cwnd}; link a→b sent ${d.sent}, queue-dropped ${d.droppedQueue}`,
    `close ${(closeUs / 1e6).toFixed(3)} s simulated: client ${c.state}, server ${s.state}; total wall ${((performance.now() - t0) / 1e3).toFixed(1)} s`,
  ]) t.diagnostic(line);
});

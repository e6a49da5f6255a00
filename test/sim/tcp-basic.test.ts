// TCP between two stacks on the simulator: handshake and options, data both ways checked
// by SHA-256, orderly close through TIME-WAIT, half-close, RST for a closed port
// (ECONNREFUSED at once, KI-09), simultaneous open, loss/reordering/duplication, the
// accept backlog, and the timers' ETIMEDOUT.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { simTest } from '../support/sim.js';
import { twoStacks } from '../support/stacks.js';
import { ipv4 } from '../../src/wire/address.js';
import { TcpState, type TcpConnection } from '../../src/stack/tcp/connection.js';
import type { LinkParams } from '../../src/link/sim/network.js';
import type { SeededRng } from '../../src/rng.js';

const A = ipv4('198.18.0.1');
const B = ipv4('198.18.0.2');

function payload(rng: SeededRng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(0, 255);
  return b;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Pumps `data` from `tx` to `rx` and back-pressure aware reading, up to `limitUs` simulated time. */
function transfer(env: ReturnType<typeof twoStacks>, tx: TcpConnection, rx: TcpConnection, data: Uint8Array, limitUs = 60_000_000): Uint8Array {
  const out = new Uint8Array(data.length);
  let sent = 0, got = 0;
  const buf = new Uint8Array(65536);
  const start = env.sim.now;
  while (got < data.length && env.sim.now - start < limitUs) {
    if (sent < data.length) sent += tx.write(data, sent, data.length - sent);
    env.settle(2_000);
    for (;;) {
      const n = rx.read(buf);
      if (n <= 0) break;
      out.set(buf.subarray(0, n), got);
      got += n;
    }
  }
  assert.equal(got, data.length, `received ${got} of ${data.length} bytes in ${(env.sim.now - start) / 1e6} s`);
  return out;
}

function connected(seed: number, params: Partial<LinkParams> = {}) {
  const env = twoStacks(seed, params);
  const l = env.b.tcp.listen(4, 0, 80);
  const c = env.a.tcp.connect(B, 80);
  env.settle(50_000);
  const s = l.accept();
  assert.ok(s, 'accepted');
  return { ...env, l, c, s: s! };
}

simTest('tcp: three-way handshake negotiates MSS, window scale, SACK and timestamps; data flows both ways intact', (t, seed) => {
  const env = connected(seed);
  const { c, s } = env;
  assert.equal(c.state, TcpState.Established);
  assert.equal(s.state, TcpState.Established);
  assert.equal(c.mss, 1448, 'Linux\'s snd_mss: 1460 less the 12 bytes of timestamps every segment carries');
  assert.ok(c.tsOk && s.tsOk && c.sackOk && s.sackOk);
  assert.equal(c.sndShift, s.rcvShift);
  assert.equal(s.remote4, A);
  const up = payload(env.sim.rng.fork('up'), 300_000);
  assert.equal(sha(transfer(env, c, s, up)), sha(up));
  const down = payload(env.sim.rng.fork('down'), 200_000);
  assert.equal(sha(transfer(env, s, c, down)), sha(down));
  assert.ok(c.info().rttUs > 0, 'RTT measured');
  assert.equal(env.a.reassembly.counters.reassembled + env.b.reassembly.counters.reassembled, 0, 'full segments fit the MTU: no IP fragments');
  void t;
});

simTest('tcp: orderly close — FIN each way, FIN_WAIT2, TIME_WAIT for 60 s on the active closer, then CLOSED', (_t, seed) => {
  const env = connected(seed);
  const { c, s } = env;
  c.write(Uint8Array.of(1, 2, 3));
  c.shutdownWrite(); // close() right after a write still delivers the bytes, then FIN (KI-20)
  env.settle(50_000);
  const buf = new Uint8Array(10);
  assert.equal(s.read(buf), 3);
  assert.equal(s.read(buf), 0, 'end of stream');
  assert.equal(s.state, TcpState.CloseWait);
  assert.equal(c.state, TcpState.FinWait2);
  s.write(Uint8Array.of(9)); // half-close: the other direction still works
  env.settle(50_000);
  assert.equal(c.read(buf), 1);
  s.close();
  env.settle(50_000);
  assert.equal(s.state, TcpState.Closed);
  assert.equal(c.state, TcpState.TimeWait);
  env.settle(59_000_000);
  assert.equal(c.state, TcpState.TimeWait);
  env.settle(2_000_000);
  assert.equal(c.state, TcpState.Closed);
  assert.equal(env.a.tcp.size + env.b.tcp.size, 0, 'both tables empty');
});

simTest('KI-09 tcp: connect to a closed port is refused at once with ECONNREFUSED', (_t, seed) => {
  const env = twoStacks(seed);
  const c = env.a.tcp.connect(B, 81);
  env.settle(10_000);
  assert.equal(c.state, TcpState.Closed);
  assert.equal(c.error, 'ECONNREFUSED');
  assert.ok(env.sim.now < 1_000_000);
  assert.equal(env.b.tcp.counters.resetsOut, 1);
});

simTest('tcp: simultaneous open (RFC 9293 §3.5) reaches ESTABLISHED on both sides', (_t, seed) => {
  const env = twoStacks(seed);
  // Each side connects to the other's port from its own fixed port.
  const x = env.a.tcp.connect(B, 5001, { localPort: 5000 });
  const y = env.b.tcp.connect(A, 5000, { localPort: 5001 });
  env.settle(3_000_000);
  assert.equal(x.state, TcpState.Established);
  assert.equal(y.state, TcpState.Established);
  const msg = Uint8Array.of(7, 7, 7);
  x.write(msg);
  env.settle(100_000);
  const buf = new Uint8Array(8);
  assert.equal(y.read(buf), 3);
});

simTest('tcp: data survives 5% loss with reordering and duplication (SHA-256 checked)', (_t, seed) => {
  const env = connected(seed, { loss: 0.05, reorder: 0.02, duplicate: 0.02, delayUs: 500 });
  const data = payload(env.sim.rng.fork('data'), 400_000);
  assert.equal(sha(transfer(env, env.c, env.s, data, 120_000_000)), sha(data));
  assert.ok(env.c.totalRetransmits > 0, 'losses were repaired by retransmission');
});

simTest('tcp: RST in ESTABLISHED closes with ECONNRESET; abort() sends it', (_t, seed) => {
  const env = connected(seed);
  env.c.abort();
  env.settle(50_000);
  assert.equal(env.s.state, TcpState.Closed);
  assert.equal(env.s.error, 'ECONNRESET');
});

simTest('tcp: the accept queue holds `backlog` + 1 connections (Linux); a SYN-queue overflow is answered with a SYN cookie and completes once there is room', (_t, seed) => {
  const env = twoStacks(seed);
  const l = env.b.tcp.listen(4, 0, 90, 2);
  const conns = [0, 1, 2, 3].map(() => env.a.tcp.connect(B, 90));
  env.settle(100_000);
  // Linux: the third and fourth SYNs find the SYN queue at the backlog and get cookies; their
  // clients are ESTABLISHED, but the accept queue takes backlog + 1 (sk_acceptq_is_full
  // compares with '>'), so the fourth ACK is dropped while it is full.
  assert.equal(l.cookiesSent, 2);
  assert.equal(l.acceptQueue.length, 3);
  assert.ok(conns.every((c) => c.state === TcpState.Established));
  assert.ok(l.overflows >= 1);
  const first = l.accept()!;
  assert.ok(first);
  // The fourth client's data carries the cookie's ACK again: now it is accepted, with its data.
  conns[3]!.write(Uint8Array.of(42));
  env.settle(100_000);
  assert.equal(l.acceptQueue.length, 3);
  const fourth = l.acceptQueue.find((c) => c.remotePort === conns[3]!.localPort);
  assert.ok(fourth, 'the cookie connection was re-created from its ACK');
  const buf = new Uint8Array(4);
  assert.equal(fourth!.read(buf), 1);
  assert.equal(buf[0], 42);
  assert.equal(fourth!.mss, 1460, 'the MSS came back out of the cookie');
});

simTest('tcp: SYNs to a dead host time out with ETIMEDOUT after Linux\'s six retries', (_t, seed) => {
  const env = twoStacks(seed, { loss: 1 });
  env.a.addNeighbor(B, Uint8Array.of(2, 0, 0, 0, 0, 2)); // no ARP: only SYNs vanish
  const c = env.a.tcp.connect(B, 80);
  env.settle(126_000_000);
  assert.equal(c.state, TcpState.SynSent, 'still trying after 126 s (1+2+4+8+16+32+64 = 127)');
  env.settle(2_000_000);
  assert.equal(c.state, TcpState.Closed);
  assert.equal(c.error, 'ETIMEDOUT');
});

simTest('tcp: over IPv6, and a dual-stack listener on :: takes IPv4 too (v4-mapped peers)', (_t, seed) => {
  const env = twoStacks(seed, {}, { ipv6: true });
  const A6 = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
  const B6 = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2);
  env.a.addAddress(A6, 64, undefined, { dad: false });
  env.b.addAddress(B6, 64, undefined, { dad: false });
  env.settle(3_000_000);
  const l = env.b.tcp.listen(6, new Uint8Array(16), 443);
  const c6 = env.a.tcp.connect(B6, 443);
  const c4 = env.a.tcp.connect(B, 443);
  env.settle(100_000);
  assert.equal(c6.state, TcpState.Established);
  assert.equal(c4.state, TcpState.Established);
  assert.equal(c6.mss, 1428, 'IPv6: 1500 − 40 − 20 − 12 (timestamps)');
  assert.equal(l.acceptQueue.length, 2);
  const s6 = l.accept()!, s4 = l.accept()!;
  assert.deepEqual([s6.family, s4.family].sort(), [4, 6]);
  const data = payload(env.sim.rng.fork('v6'), 100_000);
  const env2 = { ...env };
  assert.equal(sha(transfer(env2, c6, s6.family === 6 ? s6 : s4, data)), sha(data));
});

simTest('tcp: keepalive finds a dead peer after idle + count × interval and reports ETIMEDOUT', (_t, seed) => {
  const env = connected(seed);
  env.c.keepIdleUs = 10_000_000;
  env.c.keepIntervalUs = 1_000_000;
  env.c.keepCount = 3;
  env.c.setKeepalive(true);
  env.settle(11_000_000);
  assert.equal(env.c.state, TcpState.Established, 'the live peer answers probes');
  env.link.set('both', { loss: 1 });
  env.settle(13_500_000);
  assert.equal(env.c.state, TcpState.Closed);
  assert.equal(env.c.error, 'ETIMEDOUT');
});

simTest('tcp: a zero window is probed by the persist timer and the transfer resumes when the reader drains', (_t, seed) => {
  const env = connected(seed);
  const big = payload(env.sim.rng.fork('zw'), 400_000);
  let sent = 0;
  for (let i = 0; i < 50; i++) {
    sent += env.c.write(big, sent, big.length - sent);
    env.settle(20_000);
  }
  assert.equal(env.c.sndWnd, 0, 'the receiver, never reading, closed its window');
  const before = env.b.tcp.counters.segmentsIn;
  env.settle(5_000_000);
  assert.ok(env.b.tcp.counters.segmentsIn > before, 'window probes arrived while the window was closed');
  // Drain and finish the transfer.
  const out = new Uint8Array(big.length);
  let got = 0;
  const buf = new Uint8Array(65536);
  for (let i = 0; i < 2000 && got < big.length; i++) {
    if (sent < big.length) sent += env.c.write(big, sent, big.length - sent);
    for (let n = env.s.read(buf); n > 0; n = env.s.read(buf)) {
      out.set(buf.subarray(0, n), got);
      got += n;
    }
    env.settle(20_000);
  }
  assert.equal(got, big.length);
  assert.equal(sha(out), sha(big));
});

simTest('tcp: TCP_INFO-like record reflects the connection', (_t, seed) => {
  const env = connected(seed, { delayUs: 5_000 });
  const data = payload(env.sim.rng.fork('info'), 50_000);
  transfer(env, env.c, env.s, data);
  env.settle(100_000); // the last ACKs come back
  const i = env.c.info();
  assert.equal(i.state, TcpState.Established);
  assert.ok(i.rttUs >= 10_000 && i.rttUs < 40_000, `rtt ${i.rttUs} µs on a 10 ms round trip`);
  assert.ok(i.rtoUs >= 200_000, 'RTO floor 200 ms (Linux)');
  assert.equal(i.bytesAcked, data.length);
  assert.equal(env.s.info().bytesReceived, data.length);
  assert.equal(i.mss, 1448);
  assert.ok(i.cwnd >= 10 * 1460);
});

simTest('tcp: knobs — TCP_CORK holds small writes until uncorked, TCP_NODELAY sends at once, SO_LINGER 0 resets, TCP_CONGESTION switches', (_t, seed) => {
  const env = connected(seed, { delayUs: 1_000 });
  const { c, s } = env;
  const buf = new Uint8Array(64);
  c.setCork(true);
  c.write(Uint8Array.of(1, 2, 3));
  env.settle(20_000);
  assert.equal(s.read(buf), -1, 'corked: nothing sent');
  c.setCork(false);
  env.settle(20_000);
  assert.equal(s.read(buf), 3);
  // Nagle holds a second small write while the first is unacknowledged; NODELAY sends it.
  c.write(Uint8Array.of(4));
  c.write(Uint8Array.of(5));
  env.settle(1_500); // less than a round trip: only the first byte is out
  assert.equal(s.read(buf), 1);
  c.setNoDelay(true);
  c.write(Uint8Array.of(6));
  env.settle(1_500);
  assert.equal(s.read(buf), 2, 'the held byte and the new one go at once');
  assert.equal(c.cc.name, 'cubic');
  c.setCongestion('reno');
  assert.equal(c.cc.name, 'reno');
  c.closeWithLinger(0);
  env.settle(20_000);
  assert.equal(c.state, TcpState.Closed);
  assert.equal(s.state, TcpState.Closed);
  assert.equal(s.error, 'ECONNRESET');
});

// Loss recovery on the simulator with chosen segments dropped: SACK-based recovery (RFC 6675)
// against NewReno without SACK on the same losses, RACK (RFC 8985 §6) finding a lost
// retransmission, the tail loss probe (§7) repairing a lost tail without a timeout, D-SACK
// (RFC 2883) for duplicates, and receive-buffer auto-tuning.

import assert from 'node:assert/strict';
import { simTest } from '../support/sim.js';
import { twoFilteredStacks, PEER_IP } from '../support/tcp-raw.js';
import { TcpState, type TcpConnection } from '../../src/stack/tcp/connection.js';
import type { LinkParams } from '../../src/link/sim/network.js';

/** The relative sequence number and payload length of a TCP/IPv4 data frame, or null. */
function dataSegment(frame: Uint8Array): { seq: number; len: number } | null {
  if (frame.length < 54 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[23] !== 6) return null;
  const ihl = (frame[14]! & 15) * 4;
  const total = (frame[16]! << 8) | frame[17]!;
  const t = 14 + ihl;
  const hl = (frame[t + 12]! >>> 4) * 4;
  const len = total - ihl - hl;
  if (len <= 0) return null;
  const seq = ((frame[t + 4]! << 24) | (frame[t + 5]! << 16) | (frame[t + 6]! << 8) | frame[t + 7]!) >>> 0;
  return { seq, len };
}

interface Run {
  c: TcpConnection;
  s: TcpConnection;
  dropped: number;
  elapsedUs: number;
  received: Uint8Array;
}

/**
 * Sends `size` bytes from a to b; `drop(index, copy)` decides, for the `copy`-th transmission
 * (0 = first) of the data segment starting at byte index·MSS, whether the link loses it.
 */
function run(seed: number, size: number, sack: boolean, drop: (index: number, copy: number) => boolean, params: Partial<LinkParams> = {}): Run {
  const env = twoFilteredStacks(seed, { delayUs: 500, ...params });
  env.a.tcp.sack = sack;
  env.b.tcp.sack = sack;
  const l = env.b.tcp.listen(4, 0, 80);
  const c = env.a.tcp.connect(PEER_IP, 80);
  env.settle(8 * (params.delayUs ?? 500) + 10_000);
  const s = l.accept();
  assert.ok(s, 'accepted');
  const isn1 = (c.iss + 1) >>> 0;
  const copies = new Map<number, number>();
  let dropped = 0;
  env.fb.dropIf = (frame) => {
    const d = dataSegment(frame);
    if (d === null) return false;
    const off = (d.seq - isn1) >>> 0;
    const index = Math.floor(off / c.mss);
    const copy = copies.get(off) ?? 0;
    copies.set(off, copy + 1);
    if (drop(index, copy)) {
      dropped++;
      return true;
    }
    return false;
  };
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >>> 9)) & 255;
  const received = new Uint8Array(size);
  const buf = new Uint8Array(65536);
  let sent = 0, got = 0;
  const start = env.sim.now;
  while (got < size && env.sim.now - start < 120_000_000) {
    if (sent < size) sent += c.write(data, sent, size - sent);
    env.settle(1_000);
    for (;;) {
      const n = s!.read(buf);
      if (n <= 0) break;
      received.set(buf.subarray(0, n), got);
      got += n;
    }
  }
  assert.equal(got, size, `all ${size} bytes arrive (got ${got})`);
  assert.deepEqual(received, data, 'intact and in order');
  return { c, s: s!, dropped, elapsedUs: env.sim.now - start, received };
}

/** A fixed pseudo-random tenth of the segments. */
const tenth = (i: number) => ((i * 2654435761) >>> 0) % 10 === 3;

simTest('tcp: SACK recovery (RFC 6675 + RACK) retransmits exactly the lost segments, fewer than NewReno without SACK on the same losses', (_t, seed) => {
  const size = 1_500_000;
  // A tenth of the segments are lost, and the first retransmission of every fifth of those.
  const pattern = (i: number, copy: number) => i > 20 && tenth(i) && (copy === 0 || (copy === 1 && i % 5 === 2));
  const withSack = run(seed, size, true, pattern);
  const without = run(seed, size, false, pattern);
  assert.equal(withSack.dropped, without.dropped, 'the same segments were lost');
  assert.ok(withSack.dropped > 50, `a real loss pattern (${withSack.dropped} segments)`);
  assert.equal(withSack.c.totalRetransmits, withSack.dropped, 'SACK: one retransmission per lost copy, none spurious');
  assert.equal(withSack.c.timeouts, 0, 'SACK: no retransmission timeout (RACK finds the lost retransmissions)');
  assert.ok(without.c.timeouts > 0, 'NewReno needs timeouts for lost retransmissions');
  assert.equal(withSack.c.sb.dsacks, 0, 'no D-SACK: nothing was sent twice needlessly');
  assert.ok(without.c.totalRetransmits > withSack.c.totalRetransmits, `NewReno retransmits more (${without.c.totalRetransmits} vs ${withSack.c.totalRetransmits})`);
  assert.ok(without.elapsedUs > withSack.elapsedUs, `and takes longer (${without.elapsedUs} vs ${withSack.elapsedUs} µs)`);
});

simTest('tcp: RACK (RFC 8985 §6) detects a lost retransmission without waiting for the retransmission timeout', (_t, seed) => {
  // Segment 40 is lost, and so is its first retransmission; later segments keep flowing.
  const r = run(seed, 400_000, true, (i, copy) => i === 40 && copy < 2);
  assert.equal(r.dropped, 2);
  assert.equal(r.c.timeouts, 0, 'no RTO: the second retransmission was triggered by SACKs of data sent after the first');
  assert.equal(r.c.totalRetransmits, 2);
  assert.ok(r.elapsedUs < 150_000, `done in ${r.elapsedUs} µs, well inside one 200 ms RTO`);
});

simTest('tcp: a lost tail is repaired by the tail loss probe (RFC 8985 §7), not by a retransmission timeout', (_t, seed) => {
  // 20 segments; the last two are lost. Nothing follows them, so no SACK can reveal the loss:
  // the probe (2·SRTT later) retransmits the last segment, whose SACK then exposes the other.
  const mssGuess = 1448;
  const size = 20 * mssGuess;
  const r = run(seed, size, true, (i, copy) => copy === 0 && (i === 18 || i === 19));
  assert.equal(r.dropped, 2);
  assert.equal(r.c.timeouts, 0, 'no RTO');
  assert.ok(r.c.tlpProbes >= 1, 'a loss probe went out');
  assert.ok(r.elapsedUs < 100_000, `recovered in ${r.elapsedUs} µs (an RTO is at least 200 ms)`);
  assert.equal(r.c.state, TcpState.Established);
});

simTest('tcp: without SACK the same lost tail waits for the retransmission timeout (the baseline TLP improves on)', (_t, seed) => {
  const size = 20 * 1448;
  const r = run(seed, size, false, (i, copy) => copy === 0 && (i === 18 || i === 19));
  assert.ok(r.c.timeouts >= 1, 'an RTO was needed');
  assert.ok(r.elapsedUs >= 200_000, `took ${r.elapsedUs} µs`);
});

simTest('tcp: a retransmission the receiver already had draws a D-SACK (RFC 2883), which widens RACK\'s reordering window', (_t, seed) => {
  // The link holds 5% of frames back by 3 ms (three RTTs): the sender retransmits needlessly at first.
  const r = run(seed, 600_000, true, () => false, { reorder: 0.05, reorderDelayUs: 3_000 });
  if (r.c.totalRetransmits > 0) {
    assert.ok(r.c.sb.dsacks > 0, 'spurious retransmissions are reported by D-SACK');
    assert.ok(r.c.sb.reordering, 'reordering was detected (RACK.reord)');
  }
  assert.ok(r.c.totalRetransmits < 40, `few spurious retransmissions under reordering (${r.c.totalRetransmits})`);
});

simTest('tcp: receive-buffer auto-tuning grows the advertised window past the 128 KiB default on a long fat path', (_t, seed) => {
  // 1 Gbit/s, 20 ms RTT: a 2.5 MB bandwidth-delay product.
  const r = run(seed, 16_000_000, true, () => false, { delayUs: 10_000, bandwidthBps: 1e9, queueFrames: 4000 });
  assert.ok(r.s.recvQ.max > 1_000_000, `receive buffer grew to ${r.s.recvQ.max}`);
  assert.ok(r.c.sendQ.max > 1_000_000, `send buffer grew to ${r.c.sendQ.max}`);
  assert.ok(r.s.rcvShift >= 7, 'window scale chosen for the largest buffer (Linux: 7 for 6 MiB)');
  const gbps = (16_000_000 * 8) / r.elapsedUs / 1e3;
  assert.ok(gbps > 0.3, `goodput ${gbps.toFixed(2)} Gbit/s (a 128 KiB window would allow 0.05)`);
});

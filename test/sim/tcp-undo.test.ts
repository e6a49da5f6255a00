// Undo of spurious congestion responses on the simulator: a segment held back in the network
// (not lost) makes the sender retransmit it; the reduction must then be undone — by D-SACK
// (RFC 3708, Linux tcp_try_undo_dsack) or by timestamps (RFC 3522 Eifel detection, RFC 4015
// response, Linux tcp_try_undo_recovery / tcp_try_undo_loss) — while a real loss keeps it.
// Mechanism, not timing: counts of recoveries, timeouts, undos and the restored window.

import assert from 'node:assert/strict';
import { simTest } from '../support/sim.js';
import { twoFilteredStacks, PEER_IP } from '../support/tcp-raw.js';
import type { TcpConnection } from '../../src/stack/tcp/connection.js';
import { INFINITE_SSTHRESH } from '../../src/stack/tcp/congestion.js';

/** Source host (last octet of the IPv4 source), relative sequence and payload length of a TCP/IPv4 frame, or null. */
function tcpFrame(frame: Uint8Array): { src: number; seq: number; len: number } | null {
  if (frame.length < 54 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[23] !== 6) return null;
  const ihl = (frame[14]! & 15) * 4;
  const total = (frame[16]! << 8) | frame[17]!;
  const t = 14 + ihl;
  const hl = (frame[t + 12]! >>> 4) * 4;
  const seq = ((frame[t + 4]! << 24) | (frame[t + 5]! << 16) | (frame[t + 6]! << 8) | frame[t + 7]!) >>> 0;
  return { src: frame[29]!, seq, len: total - ihl - hl };
}

/** What the network does to a frame: deliver it, hold it back by `holdUs` (later frames pass it), or lose it. */
type Fate = { hold: number } | 'drop' | 'pass';

interface Seg {
  /** Data segment index (relative offset / MSS) and which transmission of it (0 = first); −1 for frames without data. */
  index: number;
  copy: number;
  /** Sent by the data sender (a) or by the receiver (b). */
  fromSender: boolean;
  at: number;
}

/**
 * Sends `size` bytes from a to b over a 1 ms RTT link; `fate` decides each frame's fate
 * (both directions). Returns the sender after every byte arrived intact.
 */
function transfer(seed: number, size: number, fate: (s: Seg) => Fate): TcpConnection {
  const env = twoFilteredStacks(seed, { delayUs: 500 });
  const l = env.b.tcp.listen(4, 0, 80);
  const c = env.a.tcp.connect(PEER_IP, 80);
  env.settle(20_000);
  const s = l.accept();
  assert.ok(s, 'accepted');
  const isn1 = (c.iss + 1) >>> 0;
  const copies = new Map<number, number>();
  const drop = new Set<Uint8Array>();
  env.sim.capture({
    write(frame: Uint8Array, at: number): void {
      const f = tcpFrame(frame);
      let verdict: Fate = 'pass';
      if (f !== null) {
        const fromSender = f.src === 1;
        let index = -1, copy = 0;
        if (fromSender && f.len > 0) {
          const off = (f.seq - isn1) >>> 0;
          index = Math.floor(off / c.mss);
          copy = copies.get(off) ?? 0;
          copies.set(off, copy + 1);
        }
        verdict = fate({ index, copy, fromSender, at });
      }
      const dir = f !== null && f.src === 2 ? env.link.ba : env.link.ab;
      if (verdict === 'drop') drop.add(frame);
      if (typeof verdict === 'object') dir.set({ reorder: 1, reorderDelayUs: verdict.hold });
      else dir.set({ reorder: 0 });
    },
  }, 'transmit');
  env.fa.dropIf = (frame) => drop.delete(frame);
  env.fb.dropIf = (frame) => drop.delete(frame);
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >>> 11)) & 255;
  const received = new Uint8Array(size);
  const buf = new Uint8Array(65536);
  let sent = 0, got = 0;
  const start = env.sim.now;
  while (got < size && env.sim.now - start < 30_000_000) {
    if (sent < size) sent += c.write(data, sent, size - sent);
    env.settle(1_000);
    for (let n = s!.read(buf); n > 0; n = s!.read(buf)) {
      received.set(buf.subarray(0, n), got);
      got += n;
    }
  }
  assert.equal(got, size, `all ${size} bytes arrive`);
  assert.deepEqual(received, data, 'intact and in order');
  return c;
}

const SIZE = 400_000;
const K = 60;

simTest('tcp undo: a segment delayed past RACK\'s window is retransmitted once, and the D-SACK for it undoes the reduction (RFC 3708)', (_t, seed) => {
  // The first copy of segment K is held back 5 ms (five RTTs): RACK deems it lost and it is
  // retransmitted; the retransmission fills the hole, the late original draws a D-SACK.
  const c = transfer(seed, SIZE, (s) => (s.index === K && s.copy === 0 ? { hold: 5_000 } : 'pass'));
  assert.equal(c.timeouts, 0, 'no retransmission timeout');
  assert.equal(c.recoveries, 1, 'one fast recovery');
  assert.equal(c.totalRetransmits, 1, 'one retransmission');
  assert.ok(c.sb.dsacks >= 1, 'the late original was reported by D-SACK');
  assert.equal(c.dsackUndos, 1, 'the recovery was undone by the D-SACK');
  assert.equal(c.cc.ssthresh, INFINITE_SSTHRESH, 'ssthresh is back to what it was (still slow start)');
  assert.ok(c.cc.cwnd >= c.priorCwnd, `cwnd ${c.cc.cwnd} restored to at least the ${c.priorCwnd} before the recovery`);
});

simTest('tcp undo: the late original filling the hole undoes the recovery by its echoed timestamp (RFC 3522 Eifel)', (_t, seed) => {
  // As above, but every retransmission of K is lost: no D-SACK can come, the original
  // arrives 5 ms late and its ACK echoes a timestamp older than the first retransmission.
  const c = transfer(seed, SIZE, (s) => (s.index === K ? (s.copy === 0 ? { hold: 5_000 } : 'drop') : 'pass'));
  assert.equal(c.timeouts, 0, 'no retransmission timeout');
  assert.equal(c.recoveries, 1, 'one fast recovery');
  assert.equal(c.sb.dsacks, 0, 'no D-SACK');
  assert.equal(c.eifelUndos, 1, 'undone by the timestamp');
  assert.equal(c.cc.ssthresh, INFINITE_SSTHRESH, 'ssthresh restored');
});

simTest('tcp undo: a spurious retransmission timeout (ACKs delayed past the RTO) is undone by Eifel, without go-back-N', (_t, seed) => {
  // Everything b sends in the 150 ms after segment K first leaves is held back 300 ms: the
  // sender's window fills, the RTO (about 200 ms) fires and the head is retransmitted (that
  // copy, and any loss probe's, lost too); then the held ACKs, for the originals, arrive.
  let from = -1;
  const c = transfer(seed, SIZE, (s) => {
    if (from < 0 && s.fromSender && s.index === K && s.copy === 0) from = s.at;
    if (from >= 0 && !s.fromSender && s.at < from + 150_000) return { hold: 300_000 };
    if (from >= 0 && s.fromSender && s.copy > 0 && s.at < from + 300_000) return 'drop';
    return 'pass';
  });
  assert.equal(c.timeouts, 1, 'one retransmission timeout');
  assert.equal(c.eifelUndos, 1, 'undone: the ACKs echo timestamps older than the retransmission');
  assert.ok(c.totalRetransmits <= 3, `no go-back-N of the whole window (${c.totalRetransmits} retransmissions)`);
  assert.ok(c.cc.cwnd >= c.priorCwnd, `cwnd ${c.cc.cwnd} restored (was ${c.priorCwnd})`);
});

simTest('tcp undo: a real loss is not undone — one reduction for the episode, ssthresh kept', (_t, seed) => {
  // Segment K and K+3 are lost outright, in one window: one recovery, one reduction, no undo.
  const c = transfer(seed, SIZE, (s) => ((s.index === K || s.index === K + 3) && s.copy === 0 ? 'drop' : 'pass'));
  assert.equal(c.timeouts, 0);
  assert.equal(c.recoveries, 1, 'both losses in one episode');
  assert.equal(c.totalRetransmits, 2);
  assert.equal(c.dsackUndos + c.eifelUndos, 0, 'nothing undone');
  assert.ok(c.cc.ssthresh < INFINITE_SSTHRESH, 'ssthresh set by the loss');
});

// TCP's state machine at its edges, against RFC 9293, RFC 5961, RFC 6191, RFC 7323 and
// RFC 9438, with Linux as the reference where the RFCs leave a choice: RST in every state,
// RFC 5961's challenge ACKs and their rate limit, TIME-WAIT reuse by a newer SYN,
// TCP_USER_TIMEOUT, keepalive, zero-window probing, CUBIC's window curve, half-close and
// simultaneous close. A scripted raw peer (test/support/tcp-raw.ts) plays the other end
// wherever a state has to be reached exactly or a segment has to be wrong on purpose.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { simTest } from '../support/sim.js';
import { twoStacks } from '../support/stacks.js';
import {
  PEER_IP, PEER_MAC, RawFlow, SegmentLog, STACK_IP, STACK_MAC, buildTcpFrame, parseTcpFrame, stackWithRawPeer,
  twoFilteredStacks, u32, type RawSegment,
} from '../support/tcp-raw.js';
import { TcpState, type TcpConnection } from '../../src/stack/tcp/connection.js';
import { CUBIC_BETA, CUBIC_C, type Cubic } from '../../src/stack/tcp/cubic.js';
import { TcpFlags, type TcpOption } from '../../src/wire/tcp.js';
import type { LinkParams } from '../../src/link/sim/network.js';
import type { SeededRng } from '../../src/rng.js';

const { SYN, ACK, RST, FIN, PSH } = TcpFlags;
const A = STACK_IP; // 198.18.0.1, the stack under test (or the first of two stacks)
const B = PEER_IP; // 198.18.0.2, the raw peer (or the second stack)
/** The raw peer's ISS: just below 2^32, so its sequence numbers wrap during the tests. */
const PEER_ISS = 0xffffff00;
const MSS_ONLY: TcpOption[] = [{ kind: 'mss', value: 1460 }];

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const bytes = (s: string) => new TextEncoder().encode(s);

function payload(rng: SeededRng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(0, 255);
  return b;
}

/** The state now (a plain read, so TypeScript does not narrow it from an earlier assertion). */
const stateOf = (c: TcpConnection): TcpState => c.state;

function readAll(c: TcpConnection): Uint8Array {
  const parts: number[] = [];
  const buf = new Uint8Array(65536);
  for (let n = c.read(buf); n > 0; n = c.read(buf)) for (let i = 0; i < n; i++) parts.push(buf[i]!);
  return Uint8Array.from(parts);
}

/** Moves `data` from tx to rx (writing as room frees, reading as it arrives) within `limitUs`. */
function transfer(settle: (us: number) => void, now: () => number, tx: TcpConnection, rx: TcpConnection, data: Uint8Array, limitUs = 30_000_000): Uint8Array {
  const out = new Uint8Array(data.length);
  const buf = new Uint8Array(65536);
  let sent = 0, got = 0;
  const start = now();
  while (got < data.length && now() - start < limitUs) {
    if (sent < data.length) sent += tx.write(data, sent, data.length - sent);
    settle(2_000);
    for (let n = rx.read(buf); n > 0; n = rx.read(buf)) {
      out.set(buf.subarray(0, n), got);
      got += n;
    }
  }
  assert.equal(got, data.length, `received ${got} of ${data.length} bytes`);
  return out;
}

function describe(s: RawSegment): string {
  const t = s.tcp;
  const names: Array<[number, string]> = [[SYN, 'S'], [FIN, 'F'], [RST, 'R'], [PSH, 'P'], [ACK, '.']];
  const f = names.filter(([b]) => t.flags & b).map(([, n]) => n).join('');
  return `${(s.at / 1000).toFixed(3)} ms [${f}] seq=${t.seq} ack=${t.ack} win=${t.window} len=${t.payload.length}`;
}

/** Two stacks, a connected to b's listener on port 80; returns both ends. */
function connected(seed: number, params: Partial<LinkParams> = {}) {
  const env = twoStacks(seed, params);
  const log = SegmentLog.on(env.sim);
  const l = env.b.tcp.listen(4, 0, 80);
  const c = env.a.tcp.connect(B, 80);
  env.settle(50_000);
  const s = l.accept();
  assert.ok(s, 'accepted');
  assert.equal(c.state, TcpState.Established);
  return { ...env, log, l, c, s: s! };
}

/**
 * The stack actively opens port 40000 → raw peer port 80; the peer answers SYN-ACK with
 * an MSS option only (no window scaling, SACK or timestamps, so windows are plain numbers
 * and PAWS stays out of the way), and the stack's ACK makes it ESTABLISHED.
 */
function establishedWithRawPeer(seed: number) {
  const env = stackWithRawPeer(seed);
  const c = env.stack.tcp.connect(B, 80, { localPort: 40000 });
  env.settle(1_000);
  const flow = new RawFlow(env.peer, 80, 40000, PEER_ISS);
  const syn = flow.last();
  assert.ok(syn && syn.flags === SYN, 'the stack sent its SYN');
  flow.rcvNxt = u32(syn.seq + 1);
  flow.send(SYN | ACK, { options: MSS_ONLY });
  env.settle(1_000);
  assert.equal(c.state, TcpState.Established);
  assert.equal(flow.last()!.flags, ACK, 'the handshake\'s ACK');
  return { ...env, c, flow };
}

/** What the stack sent on `flow` after the first `since` segments. */
function sentSince(flow: RawFlow, since: number): RawSegment[] {
  return flow.segments.slice(since);
}

/** A challenge ACK (RFC 5961 §3.2, §4.2): a bare ACK with SEQ = SND.NXT and ACK = RCV.NXT. */
function isChallengeAck(s: RawSegment, c: TcpConnection): boolean {
  return s.tcp.flags === ACK && s.tcp.payload.length === 0 && s.tcp.seq === u32(c.sndNxt) && s.tcp.ack === u32(c.rcvNxt);
}

/** The connection still carries data both ways after whatever the test did to it. */
function assertStillWorks(env: ReturnType<typeof establishedWithRawPeer>): void {
  const { c, flow, settle } = env;
  flow.send(ACK | PSH, { payload: bytes('ping') });
  settle(50_000);
  assert.deepEqual(readAll(c), bytes('ping'), 'data from the peer is delivered');
  const before = flow.segments.length;
  c.write(bytes('pong'));
  settle(1_000);
  const data = sentSince(flow, before).filter((s) => s.tcp.payload.length > 0);
  assert.equal(data.length, 1);
  assert.deepEqual(data[0]!.tcp.payload, bytes('pong'), 'data to the peer is sent');
}

// -------------------------------------------------------------------------------------------
// 1. RST in every state (RFC 9293 §3.10.7.3 and §3.10.7.4, RFC 5961 §3.2).

simTest('tcp RST in SYN_SENT: without ACK or with an unacceptable ACK it is ignored; with an acceptable ACK the connect is refused (ECONNREFUSED)', (_t, seed) => {
  const env = stackWithRawPeer(seed);
  const c = env.stack.tcp.connect(B, 80, { localPort: 40000 });
  env.settle(1_000);
  const flow = new RawFlow(env.peer, 80, 40000, PEER_ISS);
  const syn = flow.last()!;
  assert.equal(syn.flags, SYN);
  // §3.10.7.3 second: "If the ACK bit is off, drop the segment and return" — an off-path
  // attacker cannot know the ISS, so a bare RST must not kill the connect.
  flow.send(RST, { seq: 12345 });
  env.settle(1_000);
  assert.equal(c.state, TcpState.SynSent, 'RST without ACK ignored');
  // §3.10.7.3 first: SEG.ACK =< ISS is unacceptable; with RST set, drop it (no RST back).
  flow.send(RST | ACK, { seq: 0, ack: syn.seq });
  env.settle(1_000);
  assert.equal(c.state, TcpState.SynSent, 'RST acknowledging nothing we sent ignored');
  assert.equal(c.error, null);
  flow.send(RST | ACK, { seq: 0, ack: u32(syn.seq + 1) });
  env.settle(1_000);
  assert.equal(c.state, TcpState.Closed);
  assert.equal(c.error, 'ECONNREFUSED');
  assert.equal(env.stack.tcp.size, 0);
  assert.deepEqual(flow.segments.map((s) => s.tcp.flags), [SYN], 'nothing but the SYN: a RST is never answered');
});

simTest('tcp RST in SYN_RECV (passive open): the embryonic connection disappears silently and the listener keeps working', (_t, seed) => {
  const env = stackWithRawPeer(seed);
  const l = env.stack.tcp.listen(4, 0, 80);
  const flow = new RawFlow(env.peer, 41000, 80, PEER_ISS);
  flow.send(SYN, { options: MSS_ONLY });
  env.settle(1_000);
  const synAck = flow.last()!;
  assert.equal(synAck.flags, SYN | ACK);
  assert.equal(synAck.ack, u32(PEER_ISS + 1));
  flow.sync();
  assert.equal(env.stack.tcp.size, 1, 'a connection in SYN_RECV');
  assert.equal(l.synQueue, 1);
  flow.send(RST);
  env.settle(3_000_000); // past the first SYN-ACK retransmission (1 s)
  assert.equal(env.stack.tcp.size, 0, 'RFC 9293 §3.10.7.4: back to LISTEN, the TCB is gone');
  assert.equal(l.synQueue, 0);
  assert.equal(l.accept(), null);
  assert.equal(flow.segments.length, 1, 'no answer to the RST and no SYN-ACK retransmission');
  // A new handshake on the same listener completes and carries data.
  const again = new RawFlow(env.peer, 41001, 80, 0x1234);
  again.send(SYN, { options: MSS_ONLY });
  env.settle(1_000);
  assert.equal(again.last()!.flags, SYN | ACK);
  again.sync();
  again.send(ACK | PSH, { payload: bytes('hello') });
  env.settle(1_000);
  const s = l.accept();
  assert.ok(s, 'the listener still accepts');
  assert.equal(s!.state, TcpState.Established);
  assert.deepEqual(readAll(s!), bytes('hello'));
});

interface StateCase {
  state: TcpState;
  error: 'ECONNRESET' | 'EPIPE' | null;
  /** Drives the established connection into `state`. */
  reach(env: ReturnType<typeof establishedWithRawPeer>): void;
}

const RST_CASES: StateCase[] = [
  { state: TcpState.Established, error: 'ECONNRESET', reach: () => {} },
  {
    state: TcpState.FinWait1, error: 'ECONNRESET',
    reach: ({ c, settle }) => {
      c.shutdownWrite(); // FIN sent, never acknowledged
      settle(1_000);
    },
  },
  {
    state: TcpState.FinWait2, error: 'ECONNRESET',
    reach: ({ c, flow, settle }) => {
      c.shutdownWrite();
      settle(1_000);
      flow.sync();
      flow.send(ACK); // acknowledges the FIN
      settle(1_000);
    },
  },
  {
    state: TcpState.CloseWait, error: 'EPIPE', // Linux tcp_reset: the peer had finished sending
    reach: ({ flow, settle }) => {
      flow.send(FIN | ACK);
      settle(1_000);
    },
  },
  {
    state: TcpState.Closing, error: null,
    reach: ({ c, flow, settle }) => {
      c.shutdownWrite();
      settle(1_000);
      flow.send(FIN | ACK); // ACK = our FIN's own sequence number: the FINs crossed
      settle(1_000);
      flow.sync();
    },
  },
  {
    state: TcpState.LastAck, error: null,
    reach: ({ c, flow, settle }) => {
      flow.send(FIN | ACK);
      settle(1_000);
      c.shutdownWrite();
      settle(1_000);
      flow.sync();
    },
  },
  {
    state: TcpState.TimeWait, error: null,
    reach: ({ c, flow, settle }) => {
      c.shutdownWrite();
      settle(1_000);
      flow.sync();
      flow.send(FIN | ACK);
      settle(1_000);
    },
  },
];

for (const k of RST_CASES) {
  const outcome = k.error === null ? 'CLOSED without an error' : `CLOSED with ${k.error}`;
  simTest(`tcp RST in ${k.state}: a RST at exactly RCV.NXT leaves the connection ${outcome}`, (_t, seed) => {
    const env = establishedWithRawPeer(seed);
    k.reach(env);
    const { c, flow } = env;
    assert.equal(c.state, k.state, `reached ${k.state}`);
    assert.equal(flow.sndNxt, u32(c.rcvNxt), 'the peer knows RCV.NXT');
    const before = flow.segments.length;
    flow.send(RST);
    env.settle(1_000);
    assert.equal(c.state, TcpState.Closed);
    assert.equal(c.error, k.error);
    assert.equal(env.stack.tcp.size, 0, 'the 4-tuple is free');
    assert.deepEqual(sentSince(flow, before).map(describe), [], 'nothing sent in answer to a RST');
  });
}

// -------------------------------------------------------------------------------------------
// 2. RFC 5961: blind reset and SYN injection, and ACKs for data never sent.

simTest('tcp RFC 5961 §3.2: an in-window RST not at RCV.NXT gets a challenge ACK and the connection survives', (_t, seed) => {
  const env = establishedWithRawPeer(seed);
  const { c, flow } = env;
  const before = flow.segments.length;
  flow.send(RST, { seq: u32(flow.sndNxt + 1000) });
  env.settle(1_000);
  assert.equal(c.state, TcpState.Established);
  assert.equal(c.error, null);
  const answer = sentSince(flow, before);
  assert.equal(answer.length, 1, `one segment back: ${answer.map(describe).join(', ')}`);
  assert.ok(isChallengeAck(answer[0]!, c), `challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT>: ${describe(answer[0]!)}`);
  assertStillWorks(env);
});

simTest('tcp RFC 5961 §3.2: a RST outside the window (ahead or behind) is dropped silently', (_t, seed) => {
  const env = establishedWithRawPeer(seed);
  const { c, flow } = env;
  const before = flow.segments.length;
  flow.send(RST, { seq: u32(flow.sndNxt + 1_000_000) }); // far beyond the 64 KB window
  env.settle(1_000);
  flow.send(RST, { seq: u32(flow.sndNxt - 1) }); // just behind RCV.NXT
  env.settle(1_000);
  assert.equal(c.state, TcpState.Established);
  assert.deepEqual(sentSince(flow, before).map(describe), [], 'no ACK, no RST');
  assertStillWorks(env);
});

simTest('tcp RFC 5961 §4.2: a SYN in ESTABLISHED gets a challenge ACK and the connection survives', (_t, seed) => {
  const env = establishedWithRawPeer(seed);
  const { c, flow } = env;
  const before = flow.segments.length;
  flow.send(SYN, { seq: u32(flow.sndNxt + 100), options: MSS_ONLY });
  env.settle(1_000);
  assert.equal(c.state, TcpState.Established);
  const answer = sentSince(flow, before);
  assert.equal(answer.length, 1, `one segment back: ${answer.map(describe).join(', ')}`);
  assert.ok(isChallengeAck(answer[0]!, c), `challenge ACK, not RST (RFC 793 reset here): ${describe(answer[0]!)}`);
  assertStillWorks(env);
});

for (const state of [TcpState.Established, TcpState.FinWait2]) {
  simTest(`tcp RFC 9293 §3.10.7.4 / RFC 5961 §5.2: in ${state} an ACK for data never sent is answered with an ACK and dropped with its data`, (_t, seed) => {
    const env = establishedWithRawPeer(seed);
    const { c, flow } = env;
    if (state === TcpState.FinWait2) RST_CASES.find((k) => k.state === state)!.reach(env);
    assert.equal(c.state, state);
    const rcvNxt = u32(c.rcvNxt);
    const before = flow.segments.length;
    flow.send(ACK | PSH, { seq: flow.sndNxt, ack: u32(c.sndNxt + 5000), payload: bytes('bogus') });
    env.settle(1_000);
    assert.equal(c.state, state);
    assert.equal(c.read(new Uint8Array(16)), -1, 'its data was not taken');
    const answer = sentSince(flow, before);
    assert.equal(answer.length, 1, `one segment back: ${answer.map(describe).join(', ')}`);
    assert.ok(answer[0]!.tcp.flags === ACK && answer[0]!.tcp.seq === u32(c.sndNxt) && answer[0]!.tcp.ack === rcvNxt, describe(answer[0]!));
    // The same sequence numbers, now with a good ACK, are accepted.
    if (state === TcpState.Established) assertStillWorks(env);
    else {
      flow.send(ACK | PSH, { payload: bytes('ping') });
      env.settle(50_000);
      assert.deepEqual(readAll(c), bytes('ping'));
    }
  });
}

simTest('tcp RFC 5961 §7 (Linux tcp_invalid_ratelimit): at most one challenge ACK per 500 ms — 10 bad RSTs in 100 ms get 1, another after 500 ms gets 1 more', (_t, seed) => {
  const env = establishedWithRawPeer(seed);
  const { c, flow } = env;
  env.settle(1_000_000); // quiet: nothing else in flight
  const before = flow.segments.length;
  const t0 = env.sim.now;
  for (let i = 0; i < 10; i++) {
    flow.send(RST, { seq: u32(flow.sndNxt + 100 + i) });
    env.settle(10_000);
  }
  const burst = sentSince(flow, before);
  assert.equal(c.state, TcpState.Established);
  assert.ok(burst.every((s) => isChallengeAck(s, c)), burst.map(describe).join(', '));
  assert.equal(burst.length, 1, `challenge ACKs for 10 bad RSTs within 100 ms: ${burst.map(describe).join(', ')}`);
  const first = burst[0]!.at;
  assert.ok(first - t0 < 1_000, 'the first bad RST is answered');
  // 400 ms after the first challenge ACK: still limited.
  env.settle(first + 400_000 - env.sim.now);
  flow.send(RST, { seq: u32(flow.sndNxt + 200) });
  env.settle(1_000);
  assert.equal(sentSince(flow, before).length, 1, 'no second challenge ACK within 500 ms');
  // Past 500 ms: the next one is answered.
  env.settle(first + 510_000 - env.sim.now);
  flow.send(RST, { seq: u32(flow.sndNxt + 300) });
  env.settle(1_000);
  const all = sentSince(flow, before);
  assert.equal(all.length, 2, `challenge ACKs: ${all.map(describe).join(', ')}`);
  assert.ok(isChallengeAck(all[1]!, c));
  assert.equal(c.state, TcpState.Established);
});

// -------------------------------------------------------------------------------------------
// 3. TIME-WAIT reuse (RFC 6191 with RFC 7323 timestamps; Linux tcp_timewait_state_process).

simTest('tcp RFC 6191: a SYN with a newer timestamp on a TIME_WAIT 4-tuple opens a new connection at once; an older one does not', (_t, seed) => {
  const env = twoStacks(seed);
  const log = SegmentLog.on(env.sim);
  const l = env.b.tcp.listen(4, 0, 80);
  const c = env.a.tcp.connect(B, 80, { localPort: 40000 });
  env.settle(50_000);
  const s = l.accept()!;
  assert.ok(s && c.tsOk && s.tsOk, 'timestamps negotiated');
  c.write(bytes('first'));
  env.settle(50_000);
  assert.deepEqual(readAll(s), bytes('first'));
  // The server closes first, so the server holds the 4-tuple in TIME_WAIT.
  s.close();
  env.settle(50_000);
  assert.equal(readAll(c).length, 0);
  c.close();
  env.settle(50_000);
  assert.equal(c.state, TcpState.Closed);
  assert.equal(s.state, TcpState.TimeWait);
  assert.equal(env.b.tcp.size, 1, 'A:40000 ↔ B:80 is held by TIME_WAIT for 60 s');
  env.settle(1_000_000);

  // A SYN on that 4-tuple with an older timestamp than TS.Recent is no new incarnation
  // (RFC 6191 §2, RFC 7323 §5 PAWS): TIME_WAIT stays and answers with an ACK.
  env.link.set('ba', { loss: 1 }); // keep B's answer from A, whose RST would end TIME_WAIT
  const mark = env.sim.now;
  const oldSyn = buildTcpFrame(STACK_MAC, PEER_MAC, A, B, {
    srcPort: 40000, dstPort: 80, seq: u32(s.rcvNxt + 100_000), flags: SYN, window: 65535,
    options: [{ kind: 'mss', value: 1460 }, { kind: 'sackPermitted' }, { kind: 'timestamps', tsVal: u32(s.tsRecent - 1), tsEcr: 0 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }],
  });
  env.b.receive(oldSyn, env.sim.now);
  env.settle(1_000);
  env.link.set('ba', { loss: 0 });
  assert.equal(s.state, TcpState.TimeWait, 'an older SYN does not end TIME_WAIT');
  assert.equal(l.synQueue, 0);
  assert.deepEqual(log.from(B, mark).map((x) => x.tcp.flags), [ACK], 'TIME_WAIT answers with an ACK');

  // The client reconnects from the same port: its SYN carries a newer timestamp.
  const start = env.sim.now;
  const c2 = env.a.tcp.connect(B, 80, { localPort: 40000 });
  env.settle(20_000); // far less than the 1 s SYN retransmission a RST-and-retry would need
  assert.equal(c2.state, TcpState.Established, 'established in one round trip');
  assert.equal(c2.totalRetransmits, 0);
  assert.equal(s.state, TcpState.Closed, 'the TIME_WAIT connection made way');
  const s2 = l.accept();
  assert.ok(s2 && s2 !== s, 'a new connection from the listener');
  assert.equal(s2!.remotePort, 40000);
  const synAcks = log.from(B, start).filter((x) => x.tcp.flags === (SYN | ACK));
  assert.equal(synAcks.length, 1, 'the SYN was answered with a SYN-ACK, not an ACK for the old connection');
  const up = payload(env.sim.rng.fork('up'), 100_000);
  assert.equal(sha(transfer(env.settle, () => env.sim.now, c2, s2!, up)), sha(up));
  const down = payload(env.sim.rng.fork('down'), 50_000);
  assert.equal(sha(transfer(env.settle, () => env.sim.now, s2!, c2, down)), sha(down));
});

// -------------------------------------------------------------------------------------------
// 4. TCP_USER_TIMEOUT (RFC 5482; Linux tcp_write_timeout / tcp_clamp_rto_to_user_timeout).

simTest('tcp TCP_USER_TIMEOUT: with the peer gone, unacknowledged data ends the connection with ETIMEDOUT at the user timeout, not after 15 retries', (_t, seed) => {
  const env = connected(seed);
  const { c } = env;
  const userTimeout = 5_000_000;
  c.userTimeoutUs = userTimeout;
  env.link.set('both', { loss: 1 });
  const t0 = env.sim.now;
  c.write(new Uint8Array(1000));
  let closedAt = -1;
  let rtoAtDeadline = -1;
  while (env.sim.now - t0 < 30_000_000) {
    env.settle(1_000);
    if (stateOf(c) === TcpState.Closed) {
      closedAt = env.sim.now;
      break;
    }
    if (rtoAtDeadline < 0 && env.sim.now - t0 >= userTimeout) rtoAtDeadline = c.info().rtoUs;
  }
  assert.ok(closedAt > 0, `still ${c.state} 30 s after the write`);
  assert.equal(c.error, 'ETIMEDOUT');
  const elapsed = closedAt - t0;
  assert.ok(elapsed >= userTimeout - 1_000, `not before the user timeout: closed after ${elapsed / 1e6} s`);
  // Linux clamps the RTO to what is left of the user timeout (tcp_clamp_rto_to_user_timeout):
  // the connection ends at the deadline, within the timer wheel's 1 ms tick.
  void rtoAtDeadline;
  assert.ok(elapsed <= userTimeout + 3_000, `closed ${elapsed / 1e6} s after the write; user timeout ${userTimeout / 1e6} s`);
  assert.ok(c.totalRetransmits < 15, `${c.totalRetransmits} retransmissions`);
});

simTest('tcp SO_LINGER {on, 5 s}: close() waits until the FIN is acknowledged when the peer is alive; with the peer gone it gives up at the linger time and the orphan carries on, without a RST', (_t, seed) => {
  const env = connected(seed);
  const { c, s, log } = env;
  c.write(new Uint8Array(3000).fill(7));
  c.closeWithLinger(5);
  assert.equal(c.lingerUntil, env.sim.now + 5_000_000);
  env.settle(20_000);
  assert.ok(c.closeDone, `FIN acknowledged within 20 ms (state ${c.state})`);
  assert.equal(s.read(new Uint8Array(4000)), 3000, 'every byte delivered before the FIN');

  const env2 = connected(seed + 1);
  env2.link.set('both', { loss: 1 });
  const t0 = env2.sim.now;
  env2.c.write(new Uint8Array(3000).fill(7));
  env2.c.closeWithLinger(5);
  while (!env2.c.closeDone && env2.sim.now < env2.c.lingerUntil) env2.settle(10_000);
  assert.equal(env2.c.closeDone, false, 'nothing acknowledged: the lingering close times out');
  assert.ok(env2.sim.now - t0 >= 5_000_000);
  assert.equal(env2.c.state, TcpState.FinWait1, 'the orphan keeps retransmitting its data and FIN');
  const rsts = env2.log.from(A, t0).filter((x) => (x.tcp.flags & RST) !== 0);
  assert.equal(rsts.length, 0, 'no RST (only a zero linger time aborts)');
  void log;
});

// -------------------------------------------------------------------------------------------
// 5. Keepalive (RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6; Linux tcp_keepalive_timer).

simTest('tcp keepalive: a live peer keeps the connection across idle periods; a dead one is found at idle + interval × count with ETIMEDOUT', (_t, seed) => {
  const env = connected(seed);
  const { c, s, log } = env;
  const idle = 10_000_000, interval = 1_000_000, count = 5;
  c.keepIdleUs = idle;
  c.keepIntervalUs = interval;
  c.keepCount = count;
  c.setKeepalive(true);
  const start = env.sim.now;
  const isProbe = (x: RawSegment) => x.tcp.flags === ACK && x.tcp.payload.length === 0 && x.tcp.seq === u32(c.sndNxt - 1);
  // Live: 4½ idle periods with no application data.
  env.settle(45_000_000);
  assert.equal(c.state, TcpState.Established);
  assert.equal(s.state, TcpState.Established);
  const liveProbes = log.from(A, start).filter(isProbe);
  assert.equal(liveProbes.length, 4, `one probe per idle period: ${liveProbes.map(describe).join(', ')}`);
  for (const probe of liveProbes) {
    // Each probe was answered, so the next comes a full idle period after the answer
    // (the first, an idle period after the handshake's last segment).
    const heardBefore = Math.max(...log.from(B).filter((x) => x.at < probe.at).map((x) => x.at));
    assert.ok(Math.abs(probe.at - (heardBefore + idle)) <= 20_000, `probe ${describe(probe)} comes ${(probe.at - heardBefore) / 1e6} s after the peer was last heard`);
  }
  assert.ok(log.from(B, start).length >= 4, 'the peer answered the probes');
  // Data from the peer, then the peer vanishes.
  s.write(bytes('last words'));
  env.settle(1_000);
  const heard = env.sim.now;
  assert.deepEqual(readAll(c), bytes('last words'));
  env.link.set('both', { loss: 1 });
  let closedAt = -1;
  while (env.sim.now - heard < idle + interval * count + 5_000_000) {
    env.settle(10_000);
    if (stateOf(c) === TcpState.Closed) {
      closedAt = env.sim.now;
      break;
    }
  }
  assert.ok(closedAt > 0, 'the dead peer was detected');
  assert.equal(c.error, 'ETIMEDOUT');
  const expected = heard + idle + interval * count;
  assert.ok(Math.abs(closedAt - expected) <= 50_000, `closed ${(closedAt - heard) / 1e6} s after the last segment; expected ${(expected - heard) / 1e6} s`);
  assert.equal(log.from(A, heard).filter(isProbe).length, count, `${count} unanswered probes`);
});

// -------------------------------------------------------------------------------------------
// 6. Zero-window probing (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17; Linux tcp_probe_timer).

simTest('tcp zero window: the sender probes with a backed-off persist timer, the receiver takes nothing beyond its window, and the transfer completes intact once it reads', (_t, seed) => {
  const env = connected(seed);
  const { c, s, log } = env;
  const big = payload(env.sim.rng.fork('zw'), 600_000);
  let sent = 0;
  for (let i = 0; i < 100 && c.sndWnd !== 0; i++) {
    sent += c.write(big, sent, big.length - sent);
    env.settle(10_000);
  }
  assert.equal(c.sndWnd, 0, 'the receiver, not reading, closed its window');
  env.settle(50_000); // the last window update and its ACKs are done
  const closedAt = env.sim.now;
  const heldBefore = s.info().bytesReceived;
  env.settle(12_000_000);
  const probes = log.from(A, closedAt);
  assert.ok(probes.length >= 4 && probes.length <= 8, `${probes.length} persist probes in 12 s: ${probes.slice(0, 8).map(describe).join(', ')}…`);
  const gaps = probes.slice(1).map((p, i) => p.at - probes[i]!.at);
  for (let i = 1; i < gaps.length; i++) {
    assert.ok(gaps[i]! >= 1.8 * gaps[i - 1]! - 2_000, `probe intervals back off exponentially: ${gaps.map((g) => g / 1000).join(', ')} ms`);
  }
  assert.ok(gaps[0]! >= 200_000, 'no faster than the RTO floor');
  // The receiver answers each probe with its (zero) window, except that, like Linux
  // (tcp_oow_rate_limited), it may skip a probe that comes within 500 ms of its last such ACK.
  let lastAnswer = -Infinity;
  for (const p of probes) {
    const answer = log.from(B, p.at).find((x) => x.at <= p.at + 1_000);
    if (answer !== undefined) {
      assert.equal(answer.tcp.window, 0, `answer ${describe(answer)}`);
      lastAnswer = answer.at;
    } else assert.ok(p.at - lastAnswer < 500_000, `probe ${describe(p)} unanswered ${(p.at - lastAnswer) / 1000} ms after the last answer`);
  }
  assert.equal(s.info().bytesReceived, heldBefore, 'nothing accepted beyond the advertised window');
  assert.equal(c.state, TcpState.Established);
  // The receiver reads: the transfer resumes and completes.
  const out = new Uint8Array(big.length);
  let got = 0;
  const buf = new Uint8Array(65536);
  const resume = env.sim.now;
  while (got < big.length && env.sim.now - resume < 20_000_000) {
    if (sent < big.length) sent += c.write(big, sent, big.length - sent);
    for (let n = s.read(buf); n > 0; n = s.read(buf)) {
      out.set(buf.subarray(0, n), got);
      got += n;
    }
    env.settle(5_000);
  }
  assert.equal(got, big.length, `received ${got} of ${big.length}`);
  assert.equal(sha(out), sha(big));
  assert.ok(env.sim.now - resume < 2_000_000, `resumed promptly: ${(env.sim.now - resume) / 1e6} s`);
});

// -------------------------------------------------------------------------------------------
// 7. CUBIC's window after one loss (RFC 9438 §4.2, §4.6).

simTest('tcp CUBIC: after a single loss, cwnd follows W(t) = C(t − K)³ + W_max (C = 0.4, β = 0.7) through the concave and convex regions', (_t, seed) => {
  // 100 ms RTT and 100 Mbit/s (a BDP of ~860 segments: no queue drops), so the window is
  // a few hundred segments and CUBIC, not its Reno-friendly estimate, sets it.
  const env = twoFilteredStacks(seed, { delayUs: 50_000, bandwidthBps: 100e6, queueFrames: 100_000 });
  // Simultaneous open, so that both ends choose their buffers (a listener's connections take
  // the defaults): the window must be limited by nothing but congestion control.
  const x = env.a.tcp.connect(B, 5001, { localPort: 5000, sndbuf: 8 << 20, rcvbuf: 1 << 20, cc: 'cubic' });
  const y = env.b.tcp.connect(A, 5000, { localPort: 5001, rcvbuf: 8 << 20, cc: 'cubic' });
  env.settle(1_000_000);
  assert.equal(x.state, TcpState.Established);
  assert.equal(y.state, TcpState.Established);
  const cc = x.cc as Cubic;
  assert.equal(cc.name, 'cubic');
  const mss = x.mss;
  const chunk = new Uint8Array(1 << 20);
  const sink = new Uint8Array(1 << 20);
  const pump = () => {
    while (x.write(chunk) > 0);
    while (y.read(sink) > 0);
  };
  // Slow start until 120 segments, then drop exactly one data segment on its way to y.
  let armed = false;
  env.fb.dropIf = (frame) => {
    if (!armed) return false;
    const seg = parseTcpFrame(frame);
    if (seg === null || seg.tcp.payload.length === 0) return false;
    armed = false;
    return true;
  };
  let lossAt = -1, t0 = -1;
  const samples: Array<{ t: number; w: number }> = [];
  let epochCwnd = 0;
  for (let guard = 0; guard < 40_000; guard++) {
    pump();
    env.settle(1_000);
    if (lossAt < 0) {
      if (!armed && env.fb.dropped === 0 && cc.cwnd >= 120 * mss) armed = true;
      if (x.inRecovery) lossAt = env.sim.now;
      continue;
    }
    if (t0 < 0) {
      if (!x.inRecovery) {
        t0 = env.sim.now; // congestion avoidance starts: t = 0 of RFC 9438 §4.2
        epochCwnd = cc.cwnd / mss;
      }
      continue;
    }
    const t = (env.sim.now - t0) / 1e6;
    samples.push({ t, w: cc.cwnd / mss });
    if (t > 10) break;
  }
  assert.ok(lossAt > 0 && t0 > 0, 'a loss was detected and recovered from');
  assert.equal(env.fb.dropped, 1, 'one segment lost');
  assert.equal(x.totalRetransmits, 1, 'one congestion event, repaired by one fast retransmit (no RTO)');
  const wMax = cc.cwndPrior;
  assert.ok(wMax >= 120, `W_max ${wMax.toFixed(1)} segments`);
  // §4.6: ssthresh = cwnd · β_cubic; §4.2 eq. 2: K = ∛((W_max − cwnd_epoch)/C).
  assert.ok(Math.abs(cc.ssthresh - CUBIC_BETA * wMax * mss) <= mss, `ssthresh ${cc.ssthresh / mss} segments = β·W_max = ${(CUBIC_BETA * wMax).toFixed(1)}`);
  assert.ok(Math.abs(epochCwnd - CUBIC_BETA * wMax) <= 1, `cwnd at the start of congestion avoidance ${epochCwnd.toFixed(1)} = β·W_max`);
  const K = Math.cbrt((wMax - epochCwnd) / CUBIC_C);
  assert.equal(CUBIC_C, 0.4);
  assert.equal(CUBIC_BETA, 0.7);
  const W = (t: number) => CUBIC_C * (t - K) ** 3 + wMax;
  // Tolerance: the window is sampled between ACKs and aims one RTT ahead (§4.4), so allow
  // the curve's value anywhere within one RTT (0.1 s) of t, ±2 segments.
  const rtt = 0.1;
  const at = (t: number) => samples.reduce((best, p) => (Math.abs(p.t - t) < Math.abs(best.t - t) ? p : best));
  const points = [0.25 * K, 0.5 * K, 0.75 * K, K, K + 1, K + 2, K + 3].filter((t) => t <= 10);
  const report = points.map((t) => `t=${t.toFixed(2)} cwnd=${at(t).w.toFixed(1)} W=${W(t).toFixed(1)}`).join('; ');
  for (const t of points) {
    const p = at(t);
    const lo = Math.min(W(t - rtt), W(t + rtt)) - 2, hi = Math.max(W(t - rtt), W(t + rtt)) + 2;
    assert.ok(p.w >= lo && p.w <= hi, `at t = ${t.toFixed(2)} s (K = ${K.toFixed(2)} s, W_max = ${wMax.toFixed(1)}): cwnd ${p.w.toFixed(1)} segments, W(t) = ${W(t).toFixed(1)}; ${report}`);
  }
  // Concave then convex: below W_max before K, above it after.
  assert.ok(at(0.5 * K).w < wMax && at(Math.min(K + 3, 10)).w > wMax, report);
});

// -------------------------------------------------------------------------------------------
// 8. Half-close and simultaneous close (RFC 9293 §3.6).

for (const first of ['client', 'server'] as const) {
  simTest(`tcp half-close: after the ${first} shuts down writing, the other direction still carries data to the end, then both close`, (_t, seed) => {
    const env = connected(seed, { delayUs: 1_000 });
    const closer = first === 'client' ? env.c : env.s;
    const other = first === 'client' ? env.s : env.c;
    const settle = env.settle, now = () => env.sim.now;
    const before = payload(env.sim.rng.fork('before'), 30_000);
    assert.equal(sha(transfer(settle, now, closer, other, before)), sha(before));
    closer.shutdownWrite();
    settle(20_000);
    assert.equal(other.read(new Uint8Array(16)), 0, 'end of stream');
    assert.equal(closer.state, TcpState.FinWait2);
    assert.equal(other.state, TcpState.CloseWait);
    const after = payload(env.sim.rng.fork('after'), 300_000);
    assert.equal(sha(transfer(settle, now, other, closer, after)), sha(after), 'the open direction carries a full transfer');
    assert.equal(closer.state, TcpState.FinWait2);
    other.shutdownWrite();
    settle(20_000);
    assert.equal(closer.read(new Uint8Array(16)), 0, 'end of stream the other way');
    assert.equal(closer.state, TcpState.TimeWait);
    assert.equal(other.state, TcpState.Closed);
    assert.equal(other.error, null);
    assert.equal(closer.error, null);
  });
}

simTest('tcp simultaneous close: both shut down writing at once → CLOSING on both → TIME_WAIT on both → CLOSED after 60 s', (_t, seed) => {
  const env = connected(seed, { delayUs: 1_000 });
  const { c, s } = env;
  c.write(bytes('from c'));
  s.write(bytes('from s'));
  c.shutdownWrite();
  s.shutdownWrite();
  assert.equal(c.state, TcpState.FinWait1);
  assert.equal(s.state, TcpState.FinWait1);
  env.settle(1_500); // the FINs crossed (1 ms one way); the ACKs of them are on the wire
  assert.equal(c.state, TcpState.Closing);
  assert.equal(s.state, TcpState.Closing);
  env.settle(2_000);
  assert.equal(c.state, TcpState.TimeWait);
  assert.equal(s.state, TcpState.TimeWait);
  assert.deepEqual(readAll(c), bytes('from s'));
  assert.deepEqual(readAll(s), bytes('from c'));
  assert.equal(c.read(new Uint8Array(4)), 0);
  assert.equal(s.read(new Uint8Array(4)), 0);
  env.settle(59_000_000);
  assert.equal(c.state, TcpState.TimeWait);
  assert.equal(s.state, TcpState.TimeWait);
  env.settle(2_000_000);
  assert.equal(c.state, TcpState.Closed);
  assert.equal(s.state, TcpState.Closed);
  assert.equal(c.error, null);
  assert.equal(s.error, null);
  assert.equal(env.a.tcp.size + env.b.tcp.size, 0);
});


import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SimNetwork, type LinkParams, type SimNic } from '../../src/link/sim/network.js';
import { Stack } from '../../src/stack/stack.js';
import { NudState } from '../../src/stack/neighbor-cache.js';
import { SeededRng } from '../../src/rng.js';
import { ipv4 } from '../../src/wire/address.js';
import { EtherType } from '../../src/wire/ethernet.js';
import { simTest } from '../support/sim.js';
import { fuzzRuns } from '../support/fuzz.js';

const A = ipv4('198.18.0.1');
const B = ipv4('198.18.0.2');
const MISSING = ipv4('198.18.0.99');

function linkOf(nic: SimNic) {
  return { mtu: 1500, transmit: (f: Uint8Array) => nic.transmit(f) };
}

function pair(seed: number, params: Partial<LinkParams> = {}) {
  const sim = new SimNetwork(seed);
  const rng = sim.rng.fork('stacks');
  const a = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), rng: rng.fork('a'), ipv6: false });
  const b = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 2), rng: rng.fork('b'), ipv6: false });
  a.addAddress(A, 24);
  b.addAddress(B, 24);
  const na = sim.addHost('a', a);
  const nb = sim.addHost('b', b);
  a.attach(linkOf(na));
  b.attach(linkOf(nb));
  const frames: Array<{ t: number; type: number; dst0: number }> = [];
  sim.capture({ write: (f, t) => frames.push({ t, type: (f[12]! << 8) | f[13]!, dst0: f[0]! }) });
  sim.connect(na, nb, { delayUs: 50, ...params });
  /** a pings `dst`, then the simulator learns a's new deadline (as a poll loop would). */
  const ping = (dst: number, id: number, seq: number, data = new Uint8Array(8)) => {
    const ok = a.ping(dst, id, seq, data, sim.now);
    na.wake();
    return ok;
  };
  return { sim, a, b, frames, ping };
}

simTest('stack: a ping resolves ARP, is answered, and the reply carries our data (KI-03 echo replies)', (_t, seed) => {
  const { sim, a, b, frames, ping } = pair(seed);
  assert.ok(ping(B, 0x77, 1, Uint8Array.from([1, 2, 3, 4])));
  sim.runUntil(10_000);
  assert.equal(a.echoReplies.length, 1);
  const r = a.echoReplies[0]!;
  assert.deepEqual([r.from, r.identifier, r.sequence, r.ttl], [B, 0x77, 1, 64]);
  assert.deepEqual([...r.data], [1, 2, 3, 4]);
  // ARP request (broadcast), ARP reply, echo request, echo reply: in that order.
  assert.deepEqual(frames.map((f) => f.type), [EtherType.ARP, EtherType.ARP, EtherType.IPv4, EtherType.IPv4]);
  assert.equal(frames[0]!.dst0, 0xff);
  assert.equal(a.arp.entries.get(B)?.state, NudState.Reachable);
  // B learned A from the request aimed at it (RFC 826 merge) as STALE, without asking,
  // and using it for the reply moved it to DELAY (Linux: neigh_event_send).
  assert.equal(b.arp.entries.get(A)?.state, NudState.Delay);
  assert.equal(b.counters.echoRepliesOut, 1);
});

simTest('stack: ARP retries through 30% loss until pings get through', (_t, seed) => {
  const { sim, a, ping } = pair(seed, { loss: 0.3 });
  for (let i = 0; i < 50; i++) {
    ping(B, 1, i);
    sim.runUntil(sim.now + 1_000_000);
  }
  // Each answered ping needs two frames through 30% loss (0.7² ≈ 0.49, about 24 of 50), less
  // what waits on resolution; the bound sits far below that so that every seed passes.
  assert.ok(a.echoReplies.length >= 8, `only ${a.echoReplies.length} of 50 answered`);
  assert.ok(a.arp.droppedQueueFull === 0);
  assert.equal(a.arp.entries.get(B)?.mac[5], 2);
});

simTest('stack: an address nobody owns fails after 3 requests, 1 s apart, like Linux', (_t, seed) => {
  const { sim, a, frames, ping } = pair(seed);
  ping(MISSING, 1, 1);
  ping(MISSING, 1, 2);
  sim.runUntil(2_900_000);
  assert.deepEqual(a.unreachable, []);
  assert.equal(a.arp.entries.get(MISSING)?.state, NudState.Incomplete);
  sim.runUntil(3_100_000);
  assert.deepEqual(a.unreachable, [MISSING]);
  assert.equal(a.counters.droppedUnresolved, 2);
  assert.equal(a.arp.entries.has(MISSING), false);
  const requests = frames.filter((f) => f.type === EtherType.ARP);
  assert.equal(requests.length, 3);
  assert.deepEqual(requests.map((f) => Math.round((f.t - 50) / 1e6)), [0, 1, 2]);
});

simTest('stack: packets beyond the 101 a resolving neighbour queues are dropped oldest first and counted as unresolved drops', (_t, seed) => {
  const { sim, a, ping } = pair(seed);
  for (let i = 0; i < 105; i++) ping(MISSING, 1, i);
  assert.equal(a.arp.droppedQueueFull, 4);
  assert.equal(a.counters.droppedUnresolved, 4, 'overflow drops count as unresolved (Linux: unresolved_discards)');
  assert.equal(a.interfaces[1]!.counters.txDropUnresolved, 4);
  sim.runUntil(3_100_000);
  assert.equal(a.counters.droppedUnresolved, 105, 'then the 101 queued ones when resolution fails');
});

simTest('stack: NUD goes REACHABLE → STALE → DELAY → PROBE (unicast) → REACHABLE', (_t, seed) => {
  const { sim, a, frames, ping } = pair(seed);
  ping(B, 1, 1);
  sim.runUntil(100_000);
  const e = a.arp.entries.get(B)!;
  assert.equal(e.state, NudState.Reachable);
  // Reachable time is uniform in [15 s, 45 s) for the 30 s base.
  assert.ok(e.timerAt >= 15_000_000 && e.timerAt < 45_100_000, `timer ${e.timerAt}`);
  sim.runUntil(46_000_000);
  assert.equal(e.state, NudState.Stale);
  ping(B, 1, 2);
  assert.equal(e.state, NudState.Delay);
  sim.runUntil(sim.now + 4_900_000);
  assert.equal(a.echoReplies.length, 2, 'a STALE entry is used at once');
  const before = frames.length;
  sim.runUntil(sim.now + 200_000);
  // DELAY expired: one unicast request to B's MAC, answered, and the entry is REACHABLE again.
  const probe = frames.slice(before).find((f) => f.type === EtherType.ARP);
  assert.ok(probe && probe.dst0 === 2, 'the probe is unicast');
  assert.equal(e.state, NudState.Reachable);
});

test('stack: routes by longest prefix, then default gateway; no route is counted', () => {
  const s = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 9), rng: new SeededRng(1), ipv6: false });
  s.addAddress(ipv4('198.18.0.1'), 16);
  s.addAddress(ipv4('198.18.5.1'), 24);
  assert.deepEqual(s.route(ipv4('198.18.5.7')), { nextHop: ipv4('198.18.5.7'), src: ipv4('198.18.5.1'), ifindex: 2 });
  assert.deepEqual(s.route(ipv4('198.18.9.7')), { nextHop: ipv4('198.18.9.7'), src: ipv4('198.18.0.1'), ifindex: 2 });
  assert.equal(s.route(ipv4('198.19.0.1')), null);
  assert.equal(s.ping(ipv4('198.19.0.1'), 1, 1, new Uint8Array(0), 0), false);
  assert.equal(s.counters.droppedNoRoute, 1);
  s.defaultGateway = ipv4('198.18.0.254');
  assert.deepEqual(s.route(ipv4('198.19.0.1')), { nextHop: ipv4('198.18.0.254'), src: ipv4('198.18.0.1'), ifindex: 2 });
  assert.throws(() => s.addAddress(ipv4('198.18.0.2'), 33), RangeError);
});

simTest('stack: broadcast pings are ignored (icmp_echo_ignore_broadcasts) and foreign frames dropped', (_t, seed) => {
  const { sim, a, b, ping } = pair(seed);
  ping(ipv4('198.18.0.255'), 1, 1);
  sim.runUntil(2_000_000);
  assert.equal(b.counters.echoRequestsIn, 1, 'the broadcast reached b without ARP');
  assert.equal(b.counters.echoRepliesOut, 0);
  assert.equal(a.echoReplies.length, 0);
  assert.equal(a.arp.entries.size, 0);
  b.receive(Uint8Array.of(2, 0, 0, 0, 0, 77, 2, 0, 0, 0, 0, 1, 0x08, 0x00, ...new Array<number>(46).fill(0)), sim.now);
  assert.ok(b.counters.droppedNotForUs >= 1);
});

test('stack: arbitrary frames are dropped and counted, never thrown', () => {
  const s = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 2), rng: new SeededRng(7), ipv6: false });
  s.addAddress(B, 24);
  const sent: Uint8Array[] = [];
  s.attach({ mtu: 1500, transmit: (f) => sent.push(f) });
  const header = Uint8Array.of(2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1);
  fc.assert(
    fc.property(fc.constantFrom(0x0800, 0x0806), fc.uint8Array({ maxLength: 80 }), (type, body) => {
      const f = Uint8Array.from([...header, type >>> 8, type & 0xff, ...body]);
      s.receive(f, 0);
      s.poll(0);
    }),
    { numRuns: fuzzRuns(20_000) },
  );
  assert.ok(s.counters.droppedMalformed > 0);
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SimNetwork, type LinkParams, type SimHost, type SimLink, type SimNic, type SwitchOptions } from '../../src/link/sim/network.js';
import { simTest } from '../support/sim.js';
import { Echoer, Pinger, Sink, macOf, seqOf, testFrame } from '../support/toy-hosts.js';

type Params = Partial<LinkParams> | { ab: Partial<LinkParams>; ba: Partial<LinkParams> };
type NicHost = SimHost & { nic: SimNic | null };

/** `hosts` on one switch, host i with MAC 02:00:00:00:00:<i+1>; `params[i]` for its cable. */
function lan(seed: number, hosts: SimHost[], params: Params[] = [], options: Partial<SwitchOptions> = {}) {
  const sim = new SimNetwork(seed);
  const sw = sim.addSwitch('sw', options);
  const nics: SimNic[] = [];
  const links: SimLink[] = [];
  hosts.forEach((h, i) => {
    const nic = sim.addHost(`h${i}`, h, { mac: macOf(i + 1) });
    if ('nic' in h) (h as NicHost).nic = nic;
    nics.push(nic);
    links.push(sim.connect(nic, sw.port(), params[i] ?? { delayUs: 5 }));
  });
  return { sim, sw, nics, links };
}

simTest('switch: floods a frame to an unknown MAC, learns from the reply, then forwards only', (_t, seed) => {
  const pinger = new Pinger(macOf(1), macOf(2), 5, 1000);
  const echo = new Echoer(macOf(2));
  const bystanders = [new Sink(), new Sink()];
  const { sim, sw } = lan(seed, [pinger, echo, ...bystanders]);
  assert.ok(sim.runUntilIdle({ maxEvents: 10_000 }).idle);
  assert.deepEqual(pinger.received.map((r) => [r.seq, r.at]), Array.from({ length: 5 }, (_, i) => [i, i * 1000 + 20]));
  // Only the first frame, to a not-yet-learned MAC, reached the bystanders.
  for (const s of bystanders) assert.deepEqual(s.frames.map((f) => seqOf(f.frame)), [0]);
  assert.deepEqual(sw.counters, { flooded: 1, forwarded: 9, filtered: 0, runts: 0, aged: 0 });
  assert.equal(sw.lookup(macOf(1), sim.now), 0);
  assert.equal(sw.lookup(macOf(2), sim.now), 1);
  assert.equal(sw.lookup(macOf(3), sim.now), -1, 'a silent host is never learned');
  assert.equal(sw.tableSize, 2);
});

simTest('switch: broadcast and multicast always flood; group source addresses are not learned', (_t, seed) => {
  const sinks = [new Sink(), new Sink(), new Sink(), new Sink()];
  const { sim, sw, nics } = lan(seed, sinks);
  const bcast = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
  const mcast = Uint8Array.of(0x01, 0x00, 0x5e, 0x00, 0x00, 0x01);
  for (let i = 0; i < 3; i++) {
    nics[0]!.transmit(testFrame(bcast, macOf(1), i));
    nics[1]!.transmit(testFrame(mcast, macOf(2), 10 + i));
  }
  nics[2]!.transmit(testFrame(macOf(1), Uint8Array.of(0x03, 0, 0, 0, 0, 9), 99)); // bogus group source
  sim.runUntilIdle({ maxEvents: 1000 });
  assert.equal(sw.counters.flooded, 6);
  assert.equal(sw.counters.forwarded, 1);
  assert.equal(sw.tableSize, 2);
  assert.deepEqual(sinks.map((s) => s.frames.map((f) => seqOf(f.frame)).sort((a, b) => a - b)), [
    [10, 11, 12, 99],
    [0, 1, 2],
    [0, 1, 2, 10, 11, 12],
    [0, 1, 2, 10, 11, 12],
  ]);
  nics[3]!.transmit(new Uint8Array(10));
  sim.runUntilIdle({ maxEvents: 10 });
  assert.equal(sw.counters.runts, 1);
});

simTest('switch: the same seed reproduces a 4-host run exactly; another seed does not', (_t, seed) => {
  const run = (s: number) => {
    const p1 = new Pinger(macOf(1), macOf(2), 200, 30);
    const p3 = new Pinger(macOf(3), macOf(4), 200, 45);
    const impaired = { delayUs: 20, jitterUs: 15, loss: 0.05, duplicate: 0.05, reorder: 0.05, reorderDelayUs: 100, corrupt: 0.02, bandwidthBps: 50e6 };
    const { sim } = lan(s, [p1, new Echoer(macOf(2)), p3, new Echoer(macOf(4))], [impaired, impaired, impaired, impaired]);
    const h = createHash('sha256');
    let n = 0;
    sim.capture({ write: (f, t) => { h.update(`${t};${f.length};`); h.update(f); n++; } });
    assert.ok(sim.runUntilIdle({ maxEvents: 100_000 }).idle);
    return { hash: h.digest('hex'), n };
  };
  const first = run(seed);
  assert.ok(first.n > 600, `frames ${first.n}`);
  assert.deepEqual(run(seed), first);
  assert.notEqual(run((seed ^ 0x5a5a5a5a) >>> 0).hash, first.hash);
});

simTest('switch: entries age out, after which unicast floods again', (_t, seed) => {
  const run = (options: Partial<SwitchOptions>) => {
    const pinger = new Pinger(macOf(1), macOf(2), 5, 2000);
    const echo = new Echoer(macOf(2));
    const bystander = new Sink();
    const { sim, sw } = lan(seed, [pinger, echo, bystander], [], options);
    sim.runUntilIdle({ maxEvents: 1000 });
    assert.equal(pinger.received.length, 5);
    return { sw, bystander };
  };
  const fresh = run({}); // 802.1D default: 300 s
  assert.equal(fresh.sw.counters.flooded, 1);
  assert.equal(fresh.sw.counters.aged, 0);
  // Echo's MAC is 2 ms old at each new request, older than 1 ms: every request floods.
  const short = run({ ageingUs: 1000 });
  assert.equal(short.sw.counters.flooded, 5);
  assert.equal(short.bystander.frames.length, 5);
  assert.equal(short.sw.counters.aged, 4);
});

simTest('switch: a frame for a MAC on the port it came in by is filtered', (_t, seed) => {
  // A and B hang off an edge switch whose entries age fast; it uplinks to a core switch
  // with a host C. Once the edge forgets B, it floods A → B, and the core, which still
  // knows B is behind the uplink, drops that copy instead of sending it to C.
  const sim = new SimNetwork(seed);
  const edge = sim.addSwitch('edge', { ageingUs: 1000 });
  const core = sim.addSwitch('core');
  sim.connect(edge.port(), core.port(), { delayUs: 5 });
  const hosts = [new Sink(), new Sink(), new Sink()];
  const nics = hosts.map((h, i) => sim.addHost(`h${i}`, h));
  sim.connect(nics[0]!, edge.port(), { delayUs: 5 });
  sim.connect(nics[1]!, edge.port(), { delayUs: 5 });
  sim.connect(nics[2]!, core.port(), { delayUs: 5 });
  const bcast = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
  nics[0]!.transmit(testFrame(bcast, macOf(1), 1));
  nics[1]!.transmit(testFrame(bcast, macOf(2), 2));
  sim.runUntil(5000);
  assert.equal(core.lookup(macOf(2), sim.now), 0);
  nics[0]!.transmit(testFrame(macOf(2), macOf(1), 3));
  sim.runUntilIdle({ maxEvents: 100 });
  assert.deepEqual(hosts[1]!.frames.map((f) => seqOf(f.frame)), [1, 3]);
  assert.deepEqual(hosts[2]!.frames.map((f) => seqOf(f.frame)), [1, 2]);
  assert.equal(core.counters.filtered, 1);
  assert.ok(edge.counters.aged >= 1);
});

simTest('switch: each port has its own link parameters, and flooded copies are separate buffers', (_t, seed) => {
  const seen: Uint8Array[] = [];
  const scribbler: SimHost = { receive: (f) => { seen.push(f.slice()); f.fill(0xee); }, poll: () => Infinity };
  const clean = new Sink();
  const corrupted = new Sink();
  const deaf = new Sink();
  // Ports in flooding order: the corrupted copy is made first, the scribbler writes into
  // its copy before the clean host gets its own.
  const { sim, links, nics } = lan(seed, [new Sink(), corrupted, scribbler, clean, deaf], [
    {}, { ab: {}, ba: { corrupt: 1 } }, {}, {}, { ab: {}, ba: { loss: 1 } },
  ]);
  const bcast = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
  const want = testFrame(bcast, macOf(1), 5);
  nics[0]!.transmit(want);
  sim.runUntilIdle({ maxEvents: 100 });
  assert.deepEqual(seen, [want]);
  assert.deepEqual(clean.frames.map((f) => f.frame), [want]);
  assert.equal(corrupted.frames.length, 1);
  assert.notDeepEqual(corrupted.frames[0]!.frame, want);
  assert.equal(deaf.frames.length, 0);
  assert.equal(links[4]!.ba.counters.droppedLoss, 1);
  assert.equal(links[1]!.ba.counters.corrupted, 1);
});

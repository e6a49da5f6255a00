import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimNetwork } from '../../src/link/sim/network.js';
import { Stack } from '../../src/stack/stack.js';
import { RouteTable } from '../../src/stack/route-table.js';
import { SeededRng } from '../../src/rng.js';
import { ipv4 } from '../../src/wire/address.js';
import { simTest } from '../support/sim.js';
import { twoStacks } from '../support/stacks.js';
import { errnoOf } from '../support/errno.js';

const REMOTE = ipv4('198.19.0.1');

simTest('KI-13 a route replaced at runtime moves an existing UDP flow to the new gateway', (_t, seed) => {
  const sim = new SimNetwork(seed);
  const sw = sim.addSwitch('sw');
  const rng = sim.rng.fork('stacks');
  const mk = (n: number, addr: string) => {
    const s = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, n), rng: rng.fork(addr), ipv6: false });
    s.addAddress(ipv4(addr), 24);
    const nic = sim.addHost(addr, s);
    s.attach({ mtu: 1500, transmit: (f) => nic.transmit(f) });
    sim.connect(nic, sw.port(), { delayUs: 10 });
    return { s, nic };
  };
  const a = mk(1, '198.18.0.1');
  const g1 = mk(2, '198.18.0.253');
  const g2 = mk(3, '198.18.0.254');
  a.s.routes.add({ prefix: ipv4('198.19.0.0'), prefixLength: 16, gateway: ipv4('198.18.0.253') });
  const sock = a.s.udpSocket();
  sock.connect(REMOTE, 9000);
  // The gateways are hosts: they receive the frames for their MAC and drop them as not theirs,
  // which is how we see which one the flow goes through.
  const through = () => [g1.s.counters.droppedNotForUs, g2.s.counters.droppedNotForUs];
  const send = (n: number) => {
    for (let i = 0; i < n; i++) sock.sendTo(Uint8Array.of(i));
    a.nic.wake();
    sim.runUntil(sim.now + 100_000);
  };
  send(5);
  assert.deepEqual(through(), [5, 0]);
  a.s.routes.replace({ prefix: ipv4('198.19.0.0'), prefixLength: 16, gateway: ipv4('198.18.0.254') });
  send(5);
  assert.deepEqual(through(), [5, 5], 'the same socket now goes through the new gateway');
  a.s.routes.remove(ipv4('198.19.0.0'), 16);
  assert.equal(errnoOf(() => sock.sendTo(Uint8Array.of(1))), 'ENETUNREACH');
  a.s.defaultGateway = ipv4('198.18.0.253');
  send(3);
  assert.deepEqual(through(), [8, 5], 'a default route picks the flow up again');
});

test('routes: longest prefix, then metric; connected subnets compete by prefix; Linux errors', () => {
  const t = new RouteTable();
  t.add({ prefix: 0, prefixLength: 0, gateway: ipv4('198.18.0.1') });
  t.add({ prefix: ipv4('198.19.0.0'), prefixLength: 16, gateway: ipv4('198.18.0.2'), metric: 100 });
  t.add({ prefix: ipv4('198.19.0.0'), prefixLength: 16, gateway: ipv4('198.18.0.3'), metric: 10 });
  t.add({ prefix: ipv4('198.19.7.0'), prefixLength: 24, gateway: ipv4('198.18.0.4') });
  assert.equal(t.lookup(ipv4('198.19.7.9'))?.gateway, ipv4('198.18.0.4'));
  assert.equal(t.lookup(ipv4('198.19.8.9'))?.gateway, ipv4('198.18.0.3'));
  assert.equal(t.lookup(ipv4('203.0.113.1'))?.gateway, ipv4('198.18.0.1'));
  assert.equal(errnoOf(() => t.add({ prefix: 0, prefixLength: 0, gateway: ipv4('198.18.0.9') })), 'EEXIST');
  assert.equal(errnoOf(() => t.remove(ipv4('198.20.0.0'), 16)), 'ESRCH');
  assert.equal(errnoOf(() => t.add({ prefix: 0, prefixLength: 33 })), 'EINVAL');
  // Host bits in the prefix are cleared, as `ip route` does.
  t.add({ prefix: ipv4('198.20.1.77'), prefixLength: 16 });
  assert.equal(t.lookup(ipv4('198.20.200.1'))?.prefix, ipv4('198.20.0.0'));

  const s = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 9), rng: new SeededRng(5), ipv6: false });
  s.addAddress(ipv4('198.18.0.10'), 24);
  s.routes.add({ prefix: ipv4('198.18.0.128'), prefixLength: 25, gateway: ipv4('198.18.0.1') });
  assert.deepEqual(s.route(ipv4('198.18.0.200')), { nextHop: ipv4('198.18.0.1'), src: ipv4('198.18.0.10'), ifindex: 2 }, 'a /25 beats the connected /24');
  assert.deepEqual(s.route(ipv4('198.18.0.20')), { nextHop: ipv4('198.18.0.20'), src: ipv4('198.18.0.10'), ifindex: 2 });
  s.routes.add({ prefix: ipv4('198.21.0.0'), prefixLength: 16, gateway: ipv4('198.99.0.1') });
  assert.equal(s.route(ipv4('198.21.0.5')), null, 'a gateway off every connected subnet is no route');
  s.defaultGateway = ipv4('198.18.0.1');
  assert.equal(s.defaultGateway, ipv4('198.18.0.1'));
  s.defaultGateway = null;
  assert.equal(s.defaultGateway, null);
  assert.equal(s.route(ipv4('198.30.0.1')), null);
});

simTest('KI-13 an address removed at runtime stops answering at once; a new one works without restart', (_t, seed) => {
  const { sim, a, b, na, settle } = twoStacks(seed);
  const B = ipv4('198.18.0.2');
  const B2 = ipv4('198.18.0.22');
  const ping = (dst: number, seq: number) => {
    a.ping(dst, 1, seq, new Uint8Array(8), sim.now);
    na.wake();
    sim.runUntil(sim.now + 100_000);
  };
  ping(B, 1);
  assert.equal(a.echoReplies.length, 1);
  assert.equal(b.removeAddress(B), true);
  assert.equal(b.removeAddress(B), false);
  ping(B, 2);
  assert.equal(a.echoReplies.length, 1, 'no reply from a removed address');
  assert.ok(b.counters.droppedNotForUs >= 1);
  b.addAddress(B2, 24);
  ping(B2, 3);
  assert.equal(a.echoReplies.length, 2);
  assert.equal(a.echoReplies[1]!.from, B2);
  settle();
});

// Test topologies of xlio-ts stacks on the simulator: two hosts on a link, or N hosts
// on a learning switch, addressed 198.18.0.<i+1>/24 with MACs 02:00:00:00:00:<i+1>.

import { SimNetwork, type LinkParams, type SimLink, type SimNic } from '../../src/link/sim/network.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4 } from '../../src/wire/address.js';

export interface TestHost {
  s: Stack;
  nic: SimNic;
}

export interface TopologyOptions {
  /** IPv6 on the hosts' interfaces (link-local, DAD, RS, MLD); off by default so IPv4 tests see only IPv4 and ARP. */
  ipv6?: boolean;
}

function host(sim: SimNetwork, i: number, o: TopologyOptions = {}): TestHost {
  const s = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, i + 1), rng: sim.rng.fork(`stack${i}`), ipv6: o.ipv6 ?? false });
  s.addAddress(ipv4(`198.18.0.${i + 1}`), 24);
  const nic = sim.addHost(`h${i}`, s);
  s.attach({ mtu: 1500, transmit: (f) => nic.transmit(f) });
  return { s, nic };
}

/** Lets every host notice timers armed by API calls, then runs the simulation `us` further. */
function settler(sim: SimNetwork, hosts: TestHost[]) {
  return (us = 100_000) => {
    for (const h of hosts) h.nic.wake();
    sim.runUntil(sim.now + us);
    // Bring every stack's clock to the simulator's, so API calls made next (which take no
    // time argument) arm their timers from now, as a runtime polling continuously would.
    for (const h of hosts) h.nic.wake();
  };
}

/** Two stacks, a (198.18.0.1) and b (198.18.0.2), joined by one link. */
export function twoStacks(seed: number, params: Partial<LinkParams> = {}, o: TopologyOptions = {}) {
  const sim = new SimNetwork(seed);
  const ha = host(sim, 0, o);
  const hb = host(sim, 1, o);
  const link: SimLink = sim.connect(ha.nic, hb.nic, { delayUs: 20, ...params });
  return { sim, a: ha.s, b: hb.s, na: ha.nic, nb: hb.nic, link, settle: settler(sim, [ha, hb]) };
}

/** `n` stacks on one learning switch. */
export function lanOfStacks(seed: number, n: number, params: Partial<LinkParams> = {}, o: TopologyOptions = {}) {
  const sim = new SimNetwork(seed);
  const sw = sim.addSwitch('sw');
  const hosts = Array.from({ length: n }, (_, i) => {
    const h = host(sim, i, o);
    sim.connect(h.nic, sw.port(), { delayUs: 10, ...params });
    return h;
  });
  return { sim, sw, hosts, settle: settler(sim, hosts) };
}

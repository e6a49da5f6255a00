import assert from 'node:assert/strict';
import { ANY } from '../../src/stack/udp.js';
import { ipv4 } from '../../src/wire/address.js';
import { ErrnoError } from '../../src/errno.js';
import { simTest } from '../support/sim.js';
import { lanOfStacks } from '../support/stacks.js';

function lan(seed: number, n: number) {
  return lanOfStacks(seed, n);
}

simTest('KI-23 limited and directed broadcasts reach every host, and every matching socket on each', (_t, seed) => {
  const { hosts, settle } = lan(seed, 4);
  const receivers = hosts.slice(1).flatMap((h) => {
    const wild = h.s.udpSocket();
    wild.bind(ANY, 6000);
    const other = h.s.udpSocket();
    other.bind(ANY, 6001); // another port: must not receive
    return [wild, other];
  });
  const tx = hosts[0]!.s.udpSocket();
  tx.broadcast = true;
  tx.sendTo(Uint8Array.of(1), ipv4('255.255.255.255'), 6000);
  tx.sendTo(Uint8Array.of(2), ipv4('198.18.0.255'), 6000);
  settle();
  for (let i = 0; i < receivers.length; i += 2) {
    const got: number[] = [];
    for (let d = receivers[i]!.recv(); d; d = receivers[i]!.recv()) {
      got.push(d.data[0]!);
      assert.equal(d.address, ipv4('198.18.0.1'));
    }
    assert.deepEqual(got, [1, 2]);
    assert.equal(receivers[i + 1]!.recv(), null);
  }
  // No ICMP port unreachable is sent for broadcasts (RFC 1122 §4.1.3.1).
  assert.ok(hosts.every((h) => h.s.counters.icmpUnreachableOut === 0));
});

simTest('KI-23 sending to a broadcast address needs SO_BROADCAST (EACCES, as Linux)', (_t, seed) => {
  const { hosts } = lan(seed, 2);
  const tx = hosts[0]!.s.udpSocket();
  for (const dst of ['255.255.255.255', '198.18.0.255']) {
    assert.throws(() => tx.sendTo(Uint8Array.of(1), ipv4(dst), 6000), (e: unknown) => e instanceof ErrnoError && e.code === 'EACCES');
  }
  tx.broadcast = true;
  assert.equal(tx.sendTo(Uint8Array.of(1), ipv4('255.255.255.255'), 6000), 1);
});

// Static neighbours (`ip neigh add … nud permanent`) for both families, and KI-13's
// "neighbours can change while running": a replaced static entry redirects the flow at once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Stack } from '../../src/stack/stack.js';
import { SeededRng } from '../../src/rng.js';
import { ipv4, ipv6 } from '../../src/wire/address.js';
import { NudState } from '../../src/stack/neighbor-cache.js';
import { ipv6Key } from '../../src/stack/ipv6-address.js';

test('KI-13 static neighbours: sends go straight to the given MAC, without ARP or NS, and a replaced entry takes effect at once', () => {
  const s = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), rng: new SeededRng(5) });
  const frames: Uint8Array[] = [];
  s.attach({ mtu: 1500, transmit: (f) => frames.push(f.slice()) });
  s.addAddress(ipv4('198.18.0.1'), 24);
  s.addAddress(ipv6('2001:db8::1'), 64, undefined, { dad: false });
  const P4 = ipv4('198.18.0.7'), P6 = ipv6('2001:db8::7');
  s.addNeighbor(P4, Uint8Array.of(2, 0, 0, 0, 0, 7));
  s.addNeighbor(P6, Uint8Array.of(2, 0, 0, 0, 0, 8));
  assert.equal(s.primary.arp.entries.get(P4)?.state, NudState.Permanent);
  assert.equal(s.primary.ndp.entries.get(ipv6Key(P6))?.state, NudState.Permanent);
  frames.length = 0;
  s.udpSocket().sendTo(Uint8Array.of(1), P4, 9);
  s.udpSocket(6).sendTo(Uint8Array.of(2), P6, 9);
  assert.equal(frames.length, 2, 'no resolution traffic');
  assert.deepEqual([...frames[0]!.subarray(0, 6)], [2, 0, 0, 0, 0, 7]);
  assert.equal((frames[0]![12]! << 8) | frames[0]![13]!, 0x0800);
  assert.deepEqual([...frames[1]!.subarray(0, 6)], [2, 0, 0, 0, 0, 8]);
  assert.equal((frames[1]![12]! << 8) | frames[1]![13]!, 0x86dd);
  // Replace while running: the next datagram goes to the new MAC.
  s.addNeighbor(P4, Uint8Array.of(2, 0, 0, 0, 0, 0x17));
  s.udpSocket().sendTo(Uint8Array.of(3), P4, 9);
  assert.deepEqual([...frames[2]!.subarray(0, 6)], [2, 0, 0, 0, 0, 0x17]);
  // Removed: the next send resolves again (an ARP request goes out).
  assert.equal(s.removeNeighbor(P4), true);
  s.udpSocket().sendTo(Uint8Array.of(4), P4, 9);
  assert.equal((frames[3]![12]! << 8) | frames[3]![13]!, 0x0806);
  assert.equal(s.removeNeighbor(P4, 'eth0'), true, 'the entry being resolved can be deleted too');
  assert.equal(s.removeNeighbor(P4, 'eth0'), false, 'and then there is none');
  assert.throws(() => s.addNeighbor(P4, Uint8Array.of(2, 0, 0, 0, 0, 7), 'eth9'), /ENODEV/);
});

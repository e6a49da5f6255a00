import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRng } from '../../src/rng.js';
import { ErrnoError } from '../../src/errno.js';
import {
  ALL_NODES, MldHost, ipv6MulticastMac, isIpv6Multicast, isReportableMldGroup, multicastScope, solicitedNodeMulticast, type MldMessage,
} from '../../src/stack/mld.js';
import { formatIpv6, ipv6 } from '../../src/wire/address.js';
import { MldRecordType } from '../../src/wire/mld.js';

const SEC = 1_000_000;
const G = ipv6('ff3e::8000:1'); // source-specific, global scope
const H = ipv6('ff05::1:3'); // site scope
const S1 = ipv6('2001:db8::1');
const S2 = ipv6('2001:db8::2');
const S3 = ipv6('2001:db8::3');
const NAMES = ['IS_IN', 'IS_EX', 'TO_IN', 'TO_EX', 'ALLOW', 'BLOCK'];

function mld(seed = 1) {
  const out: string[] = [];
  const h = new MldHost(new SeededRng(seed), (m: MldMessage) => {
    out.push(m.version === 2
      ? `v2 ${m.records.map((r) => `${NAMES[r.recordType - 1]} ${formatIpv6(r.group)} {${r.sources.map(formatIpv6).join(',')}}`).join('; ')}`
      : `v1 ${m.kind} ${formatIpv6(m.group)}`);
  });
  const run = (from: number, until: number) => {
    for (let t = from; t <= until; ) t = h.poll(t);
  };
  return { h, out, run };
}

test('solicitedNodeMulticast: ff02::1:ff + low 24 bits (RFC 4291 §2.7.1)', () => {
  assert.equal(formatIpv6(solicitedNodeMulticast(ipv6('fe80::2aa:ff:fe28:9c5a'))), 'ff02::1:ff28:9c5a');
  assert.equal(formatIpv6(solicitedNodeMulticast(ipv6('2001:db8::1'))), 'ff02::1:ff00:1');
  assert.equal(formatIpv6(solicitedNodeMulticast(ipv6('4037::01:800:200e:8c6c'))), 'ff02::1:ff0e:8c6c');
});

test('ipv6MulticastMac: 33:33 + low 32 bits (RFC 2464 §7)', () => {
  const mac = (g: string) => Buffer.from(ipv6MulticastMac(ipv6(g), new Uint8Array(6))).toString('hex');
  assert.equal(mac('ff02::1'), '333300000001');
  assert.equal(mac('ff02::1:ff28:9c5a'), '3333ff289c5a');
  assert.equal(mac('ff3e::8000:1'), '333380000001');
});

test('isIpv6Multicast, multicastScope, isReportableMldGroup', () => {
  assert.equal(isIpv6Multicast(ipv6('ff02::1')), true);
  assert.equal(isIpv6Multicast(ipv6('fe80::1')), false);
  assert.equal(multicastScope(ipv6('ff01::1')), 1);
  assert.equal(multicastScope(ipv6('ff02::1')), 2);
  assert.equal(multicastScope(ipv6('ff3e::1')), 0xe);
  assert.equal(isReportableMldGroup(ipv6('ff02::1')), false, 'link-scope all-nodes');
  assert.equal(isReportableMldGroup(ipv6('ff01::5')), false, 'interface-local');
  assert.equal(isReportableMldGroup(ipv6('ff00::5')), false, 'reserved scope 0');
  assert.equal(isReportableMldGroup(ipv6('ff02::1:ff00:1')), true, 'solicited-node groups are reported');
  assert.equal(isReportableMldGroup(G), true);
});

test('MLDv2: source filters become address records; the RFC 3810 record types are IGMPv3\'s', () => {
  const { h, out, run } = mld();
  h.setFilter(1, G, 'include', [S1, S2], 0);
  run(0, 5 * SEC);
  assert.deepEqual(out.splice(0), ['v2 ALLOW ff3e::8000:1 {2001:db8::1,2001:db8::2}', 'v2 ALLOW ff3e::8000:1 {2001:db8::1,2001:db8::2}']);
  h.setFilter(2, G, 'exclude', [S2], 10 * SEC);
  run(10 * SEC, 15 * SEC);
  assert.deepEqual(out.splice(0), ['v2 TO_EX ff3e::8000:1 {}', 'v2 TO_EX ff3e::8000:1 {}'], 'S2 is included by socket 1, so nothing is excluded');
  assert.equal(h.accepts(G, S3), true);
  assert.equal(h.socketAccepts(2, G, S2), false);
  assert.equal(h.socketAccepts(1, G, S3), false);
  assert.equal(MldRecordType.ChangeToExclude, 4);
  h.setFilter(2, G, 'include', [], 20 * SEC);
  run(20 * SEC, 25 * SEC);
  assert.deepEqual(out.splice(0), ['v2 TO_IN ff3e::8000:1 {2001:db8::1,2001:db8::2}', 'v2 TO_IN ff3e::8000:1 {2001:db8::1,2001:db8::2}']);
  assert.equal(h.accepts(G, S3), false);
  assert.equal(h.reportsSent, 6);
});

test('MLDv2 queries: general (null or ::), address-specific, address-and-source-specific', () => {
  const { h, out, run } = mld(2);
  h.setFilter(1, G, 'include', [S1, S2], 0);
  h.join(H, 0);
  run(0, 5 * SEC);
  out.length = 0;
  h.query(2, ipv6('::'), [], 1000, 10 * SEC);
  run(10 * SEC, 12 * SEC);
  assert.deepEqual(out.splice(0), ['v2 IS_IN ff3e::8000:1 {2001:db8::1,2001:db8::2}; IS_EX ff05::1:3 {}']);
  h.query(2, G, [S2, S3], 1000, 20 * SEC);
  run(20 * SEC, 22 * SEC);
  assert.deepEqual(out.splice(0), ['v2 IS_IN ff3e::8000:1 {2001:db8::2}']);
  h.query(2, H, [], 1000, 30 * SEC);
  run(30 * SEC, 32 * SEC);
  assert.deepEqual(out.splice(0), ['v2 IS_EX ff05::1:3 {}']);
});

test('MLD never reports ff02::1 nor scope 0/1 groups, and always listens to all-nodes', () => {
  const { h, out, run } = mld(3);
  assert.equal(h.isMember(ALL_NODES), true);
  assert.equal(h.isMember(ipv6('ff01::1')), true);
  h.join(ALL_NODES, 0);
  h.join(ipv6('ff01::1234'), 0);
  h.join(ipv6('ff00::1234'), 0);
  h.setFilter(1, ipv6('ff11::5'), 'include', [S1], 0);
  h.query(2, null, [], 1000, 0);
  h.query(1, null, [], 1000, 2 * SEC);
  run(0, 10 * SEC);
  h.leave(ipv6('ff01::1234'), 10 * SEC);
  run(10 * SEC, 15 * SEC);
  assert.deepEqual(out, []);
  assert.equal(h.isMember(ipv6('ff01::1234')), false);
  assert.equal(h.accepts(ipv6('ff11::5'), S1), true, 'state is kept, only not reported');
});

test('MLDv1 compatibility: a v1 query switches to v1 reports and dones for 260 s (RFC 3810 §8)', () => {
  const { h, out, run } = mld(4);
  const sn = solicitedNodeMulticast(ipv6('fe80::2aa:ff:fe28:9c5a'));
  h.query(1, null, [], 10_000, 0);
  assert.equal(h.version(0), 1);
  h.join(sn, SEC);
  h.setFilter(1, G, 'include', [S1], SEC);
  run(SEC, 5 * SEC);
  assert.deepEqual(out.splice(0).sort(), ['v1 report ff02::1:ff28:9c5a', 'v1 report ff02::1:ff28:9c5a', 'v1 report ff3e::8000:1', 'v1 report ff3e::8000:1']);
  h.setFilter(1, G, 'include', [S1, S2], 10 * SEC); // sources are not expressible in MLDv1
  run(10 * SEC, 15 * SEC);
  assert.deepEqual(out.splice(0), []);
  h.query(1, null, [], 10_000, 20 * SEC); // each group gets its own timer
  run(20 * SEC, 35 * SEC);
  assert.deepEqual(out.splice(0).sort(), ['v1 report ff02::1:ff28:9c5a', 'v1 report ff3e::8000:1']);
  h.setFilter(1, G, 'include', [], 40 * SEC);
  run(40 * SEC, 45 * SEC);
  assert.deepEqual(out.splice(0), ['v1 done ff3e::8000:1'], 'a done is sent once');
  // 260 s after the last v1 query: MLDv2 again.
  assert.equal(h.version(20 * SEC + 260 * SEC - 1), 1);
  assert.equal(h.version(20 * SEC + 260 * SEC), 2);
  h.leave(sn, 300 * SEC);
  run(300 * SEC, 305 * SEC);
  assert.deepEqual(out.splice(0), ['v2 TO_IN ff02::1:ff28:9c5a {}', 'v2 TO_IN ff02::1:ff28:9c5a {}']);
});

test('MLD: ENOBUFS beyond 10 sources per socket; the same seed replays the same reports', () => {
  const { h } = mld();
  const src = (n: number) => Array.from({ length: n }, (_, i) => ipv6(`2001:db8::${i + 1}`));
  h.setFilter(1, G, 'exclude', src(10), 0);
  assert.throws(() => h.setFilter(1, G, 'exclude', src(11), 0), (e) => e instanceof ErrnoError && e.code === 'ENOBUFS');
  const scenario = () => {
    const { h: m, out } = mld(99);
    const times: number[] = [];
    m.setFilter(1, G, 'include', [S1], 0);
    m.join(H, 50);
    m.query(2, null, [], 5000, 100);
    for (let t = 0; t <= 20 * SEC; ) {
      const before = out.length;
      const next = m.poll(t);
      if (out.length > before) times.push(t);
      t = next;
    }
    return { out, times };
  };
  assert.deepEqual(scenario(), scenario());
});

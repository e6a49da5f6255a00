import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRng } from '../../src/rng.js';
import { ErrnoError } from '../../src/errno.js';
import { MulticastHost, packRecords, RecordType as T, type MulticastHostOptions, type MulticastRecord } from '../../src/stack/multicast-host.js';
import { ALL_HOSTS, IgmpHost, type IgmpMessage } from '../../src/stack/igmp.js';
import { formatIpv4, ipv4 } from '../../src/wire/address.js';

const G = ipv4('232.1.1.1');
const H = ipv4('232.2.2.2');
const S1 = ipv4('198.18.0.1');
const S2 = ipv4('198.18.0.2');
const S3 = ipv4('198.18.0.3');
const S4 = ipv4('198.18.0.4');
const S5 = ipv4('198.18.0.5');
const NAMES = ['IS_IN', 'IS_EX', 'TO_IN', 'TO_EX', 'ALLOW', 'BLOCK'];

/** "TO_EX 232.1.1.1 {198.18.0.1,198.18.0.2}" */
function fmt(r: MulticastRecord<number>): string {
  return `${NAMES[r.type - 1]} ${formatIpv4(r.group)} {${r.sources.map(formatIpv4).join(',')}}`;
}

/** A host on IPv4 addresses whose reports are recorded with the time they were sent. */
function host(seed = 1, opts: MulticastHostOptions<number> = {}) {
  const sent: Array<{ t: number; records: string[] }> = [];
  let clock = 0;
  const h = new MulticastHost<number>(new SeededRng(seed), (a) => a, (records) => sent.push({ t: clock, records: records.map(fmt) }), opts);
  /** Polls at every deadline up to `until`. */
  const run = (from: number, until: number): void => {
    for (let t = from; t <= until; ) {
      clock = t;
      const next = h.poll(t);
      if (next <= t) throw new Error(`poll(${t}) asked to be called again at ${next}`);
      t = next;
    }
  };
  /** The reports sent since the last call, flattened. */
  const take = (): string[] => sent.splice(0).flatMap((s) => s.records);
  return { h, sent, run, take };
}

const SEC = 1_000_000;

test('§5.1 INCLUDE(A) → INCLUDE(B): ALLOW(B−A), BLOCK(A−B)', () => {
  const { h, run, take } = host();
  h.setFilter(1, G, 'include', [S1, S2], 0);
  run(0, 5 * SEC);
  assert.deepEqual(take(), ['ALLOW 232.1.1.1 {198.18.0.1,198.18.0.2}', 'ALLOW 232.1.1.1 {198.18.0.1,198.18.0.2}']);
  h.setFilter(1, G, 'include', [S2, S3], 10 * SEC);
  run(10 * SEC, 15 * SEC);
  assert.deepEqual(take(), ['ALLOW 232.1.1.1 {198.18.0.3}', 'BLOCK 232.1.1.1 {198.18.0.1}', 'ALLOW 232.1.1.1 {198.18.0.3}', 'BLOCK 232.1.1.1 {198.18.0.1}']);
});

test('§5.1 INCLUDE(A) → EXCLUDE(B): TO_EX(B); EXCLUDE(A) → INCLUDE(B): TO_IN(B)', () => {
  const { h, run, take } = host();
  h.setFilter(1, G, 'include', [S1], 0);
  run(0, 5 * SEC);
  take();
  h.setFilter(1, G, 'exclude', [S2, S3], 10 * SEC);
  run(10 * SEC, 15 * SEC);
  assert.deepEqual(take(), ['TO_EX 232.1.1.1 {198.18.0.2,198.18.0.3}', 'TO_EX 232.1.1.1 {198.18.0.2,198.18.0.3}']);
  h.setFilter(1, G, 'include', [S4], 20 * SEC);
  run(20 * SEC, 25 * SEC);
  assert.deepEqual(take(), ['TO_IN 232.1.1.1 {198.18.0.4}', 'TO_IN 232.1.1.1 {198.18.0.4}']);
  // Leaving from INCLUDE(A) is INCLUDE(A) → INCLUDE {}: BLOCK(A); then the group is gone.
  h.setFilter(1, G, 'include', [], 30 * SEC);
  run(30 * SEC, 35 * SEC);
  assert.deepEqual(take(), ['BLOCK 232.1.1.1 {198.18.0.4}', 'BLOCK 232.1.1.1 {198.18.0.4}']);
  assert.deepEqual(h.groups(), []);
  assert.equal(h.poll(36 * SEC), Infinity);
});

test('§5.1 EXCLUDE(A) → EXCLUDE(B): ALLOW(A−B), BLOCK(B−A)', () => {
  const { h, run, take } = host();
  h.setFilter(1, G, 'exclude', [S1, S2], 0);
  run(0, 5 * SEC);
  assert.deepEqual(take(), ['TO_EX 232.1.1.1 {198.18.0.1,198.18.0.2}', 'TO_EX 232.1.1.1 {198.18.0.1,198.18.0.2}']);
  h.setFilter(1, G, 'exclude', [S2, S3], 10 * SEC);
  run(10 * SEC, 15 * SEC);
  assert.deepEqual(take(), ['ALLOW 232.1.1.1 {198.18.0.1}', 'BLOCK 232.1.1.1 {198.18.0.3}', 'ALLOW 232.1.1.1 {198.18.0.1}', 'BLOCK 232.1.1.1 {198.18.0.3}']);
  // No change, no report.
  h.setFilter(1, G, 'exclude', [S3, S2], 20 * SEC);
  assert.equal(h.poll(20 * SEC), Infinity);
  assert.deepEqual(take(), []);
});

test('§5.1 Robustness transmissions: the first at once, the others within the Unsolicited Report Interval', () => {
  for (const robustness of [1, 2, 3]) {
    const { h, sent, run } = host(7, { robustness, unsolicitedIntervalUs: 500_000 });
    h.setFilter(1, G, 'exclude', [], 1000);
    assert.equal(h.poll(999), 1000, 'the first report is due at the change');
    run(1000, 10 * SEC);
    assert.equal(sent.length, robustness);
    assert.equal(sent[0]!.t, 1000);
    for (let i = 1; i < sent.length; i++) {
      const gap = sent[i]!.t - sent[i - 1]!.t;
      assert.ok(gap > 0 && gap < 500_000, `gap ${gap}`);
    }
  }
});

test('§5.1 a change while retransmissions are pending is merged and restarts the count', () => {
  const { h, run, take, sent } = host(3);
  h.setFilter(1, G, 'include', [S1], 0);
  h.poll(0);
  assert.deepEqual(take(), ['ALLOW 232.1.1.1 {198.18.0.1}']);
  // Before the retransmission: S2 is added. The new report goes at once and names both
  // sources (S1 still has retransmission state); S1 then has been sent twice, S2 once more.
  h.setFilter(1, G, 'include', [S1, S2], 10);
  run(10, 5 * SEC);
  assert.deepEqual(take(), ['ALLOW 232.1.1.1 {198.18.0.1,198.18.0.2}', 'ALLOW 232.1.1.1 {198.18.0.2}']);
  // S3 added then removed again before its retransmission: the pending report turns it into a BLOCK.
  h.setFilter(1, G, 'include', [S1, S2, S3], 10 * SEC);
  h.poll(10 * SEC);
  h.setFilter(1, G, 'include', [S1, S2], 10 * SEC + 5);
  run(10 * SEC + 5, 15 * SEC);
  assert.deepEqual(take(), ['ALLOW 232.1.1.1 {198.18.0.3}', 'BLOCK 232.1.1.1 {198.18.0.3}', 'BLOCK 232.1.1.1 {198.18.0.3}']);
  // A join followed at once by a leave: the filter mode change replaces the pending one,
  // and its report is the first of Robustness.
  h.setFilter(2, H, 'exclude', [], 20 * SEC);
  h.poll(20 * SEC);
  h.setFilter(2, H, 'include', [], 20 * SEC + 1);
  run(20 * SEC + 1, 25 * SEC);
  assert.deepEqual(take(), ['TO_EX 232.2.2.2 {}', 'TO_IN 232.2.2.2 {}', 'TO_IN 232.2.2.2 {}']);
  assert.equal(sent.length, 0);
});

test('§5.1 a mode change while source changes are pending: TO_EX carries the whole list', () => {
  const { h, run, take } = host(4);
  h.setFilter(1, G, 'include', [S1], 0);
  h.poll(0);
  h.setFilter(2, G, 'exclude', [S2], 1);
  run(1, 5 * SEC);
  assert.deepEqual(take(), ['ALLOW 232.1.1.1 {198.18.0.1}', 'TO_EX 232.1.1.1 {198.18.0.2}', 'TO_EX 232.1.1.1 {198.18.0.2}']);
});

test('§3.2 interface state merges the sockets: EXCLUDE wins, intersection minus INCLUDE union', () => {
  const { h, run, take } = host();
  h.setFilter(1, G, 'include', [S1, S2], 0);
  h.setFilter(2, G, 'include', [S2, S3], 0);
  assert.deepEqual(h.interfaceState(G), { mode: 'include', sources: [S1, S2, S3] });
  h.setFilter(3, G, 'exclude', [S1, S4, S5], 0);
  h.setFilter(4, G, 'exclude', [S3, S4, S5], 0);
  // ∩ EXCLUDE = {S4, S5}, minus ∪ INCLUDE = {S1, S2, S3}: S4 and S5 excluded.
  assert.deepEqual(h.interfaceState(G), { mode: 'exclude', sources: [S4, S5] });
  h.setFilter(5, G, 'include', [S5], 0);
  assert.deepEqual(h.interfaceState(G), { mode: 'exclude', sources: [S4] });
  run(0, 5 * SEC);
  assert.deepEqual(take(), ['TO_EX 232.1.1.1 {198.18.0.4}', 'TO_EX 232.1.1.1 {198.18.0.4}']);
  // The EXCLUDE sockets go: back to INCLUDE with the union.
  h.setFilter(3, G, 'include', [], 10 * SEC);
  h.setFilter(4, G, 'include', [], 10 * SEC);
  assert.deepEqual(h.interfaceState(G), { mode: 'include', sources: [S1, S2, S3, S5] });
  run(10 * SEC, 15 * SEC);
  assert.deepEqual(take(), ['TO_IN 232.1.1.1 {198.18.0.1,198.18.0.2,198.18.0.3,198.18.0.5}', 'TO_IN 232.1.1.1 {198.18.0.1,198.18.0.2,198.18.0.3,198.18.0.5}']);
  assert.equal(h.isMember(G), true);
  h.closeSocket(1, 20 * SEC);
  h.closeSocket(2, 20 * SEC);
  h.closeSocket(5, 20 * SEC);
  assert.equal(h.isMember(G), false);
  assert.equal(h.interfaceState(G), null);
});

test('accepts() follows the interface state, socketAccepts() the socket\'s own filter (Linux ip_mc_sf_allow)', () => {
  const { h } = host();
  h.setFilter(1, G, 'include', [S1], 0);
  h.setFilter(2, G, 'exclude', [S2], 0);
  assert.equal(h.accepts(G, S1), true);
  assert.equal(h.accepts(G, S2), false, 'no socket wants S2');
  assert.equal(h.accepts(G, S3), true, 'socket 2 takes any other source');
  assert.equal(h.socketAccepts(1, G, S1), true);
  assert.equal(h.socketAccepts(1, G, S3), false);
  assert.equal(h.socketAccepts(2, G, S2), false);
  assert.equal(h.socketAccepts(2, G, S3), true);
  assert.equal(h.socketAccepts(3, G, S1), false, 'not joined');
  assert.equal(h.socketAccepts(3, G, S1, true), true, 'not joined, IP_MULTICAST_ALL');
  assert.equal(h.accepts(H, S1), false);
  assert.deepEqual(h.socketFilter(2, G), { mode: 'exclude', sources: [S2] });
  assert.deepEqual(h.groups(), [G]);
});

test('ENOBUFS beyond maxSourcesPerSocket (Linux igmp_max_msf, 10 by default)', () => {
  const { h } = host();
  const src = (n: number) => Array.from({ length: n }, (_, i) => S1 + i);
  h.setFilter(1, G, 'include', src(10), 0);
  assert.throws(() => h.setFilter(1, G, 'include', src(11), 0), (e) => e instanceof ErrnoError && e.code === 'ENOBUFS' && e.errno === 105);
  assert.deepEqual(h.interfaceState(G)?.sources.length, 10, 'the failed call changed nothing');
  const { h: wide } = host(1, { maxSourcesPerSocket: 64 });
  wide.setFilter(1, G, 'exclude', src(64), 0);
  assert.throws(() => wide.setFilter(1, G, 'exclude', src(65), 0), ErrnoError);
});

test('§5.2 General Query: one Current-State Record per group with state, within Max Resp Time', () => {
  const { h, run, take, sent } = host(5);
  h.setFilter(1, G, 'include', [S1], 0);
  h.setFilter(1, H, 'exclude', [S2], 0);
  run(0, 5 * SEC);
  take();
  h.query(null, [], 2 * SEC, 10 * SEC);
  // A second General Query with a later delay does not add a response.
  h.query(null, [], 10 * SEC, 10 * SEC + 1);
  run(10 * SEC, 30 * SEC);
  assert.equal(sent.length, 1);
  const t = sent[0]!.t;
  assert.ok(t >= 10 * SEC && t < 12 * SEC);
  assert.deepEqual(take(), ['IS_IN 232.1.1.1 {198.18.0.1}', 'IS_EX 232.2.2.2 {198.18.0.2}']);
});

test('§5.2 Group-Specific Query: IS_IN/IS_EX for that group; none for a group without state', () => {
  const { h, run, take } = host(6);
  h.setFilter(1, G, 'exclude', [S1], 0);
  h.setFilter(1, H, 'include', [S1], 0);
  run(0, 5 * SEC);
  take();
  h.query(G, [], SEC, 10 * SEC);
  h.query(ipv4('232.9.9.9'), [], SEC, 10 * SEC);
  run(10 * SEC, 20 * SEC);
  assert.deepEqual(take(), ['IS_EX 232.1.1.1 {198.18.0.1}']);
});

test('§5.2 Group-and-Source-Specific Query: IS_IN(A∩B) in INCLUDE, IS_IN(B−A) in EXCLUDE, nothing if empty', () => {
  const { h, run, take } = host(8);
  h.setFilter(1, G, 'include', [S1, S2], 0);
  h.setFilter(1, H, 'exclude', [S1], 0);
  run(0, 5 * SEC);
  take();
  h.query(G, [S2, S3], SEC, 10 * SEC);
  h.query(H, [S1, S2], SEC, 10 * SEC);
  run(10 * SEC, 20 * SEC);
  assert.deepEqual(take().sort(), ['IS_IN 232.1.1.1 {198.18.0.2}', 'IS_IN 232.2.2.2 {198.18.0.2}']);
  h.query(G, [S3], SEC, 30 * SEC);
  h.query(H, [S1], SEC, 30 * SEC);
  run(30 * SEC, 40 * SEC);
  assert.deepEqual(take(), [], 'no queried source is listened to');
});

test('§5.2 pending responses: source lists accumulate; a Group-Specific Query makes it about the whole group', () => {
  const { h, run, take } = host(9);
  h.setFilter(1, G, 'include', [S1, S2, S3], 0);
  run(0, 5 * SEC);
  take();
  h.query(G, [S1], SEC, 10 * SEC);
  h.query(G, [S2, S4], SEC, 10 * SEC);
  run(10 * SEC, 20 * SEC);
  assert.deepEqual(take(), ['IS_IN 232.1.1.1 {198.18.0.1,198.18.0.2}']);
  h.query(G, [S1], SEC, 30 * SEC);
  h.query(G, [], SEC, 30 * SEC);
  h.query(G, [S2], SEC, 30 * SEC);
  run(30 * SEC, 40 * SEC);
  assert.deepEqual(take(), ['IS_IN 232.1.1.1 {198.18.0.1,198.18.0.2,198.18.0.3}']);
});

test('§5.2 rule 1: a pending General Query response due sooner covers a group query', () => {
  const { h, run, take, sent } = host(10);
  h.setFilter(1, G, 'exclude', [], 0);
  run(0, 5 * SEC);
  take();
  h.query(null, [], 1, 10 * SEC); // due at once
  h.query(G, [], 5 * SEC, 10 * SEC);
  run(10 * SEC, 20 * SEC);
  assert.equal(sent.length, 1);
  assert.deepEqual(take(), ['IS_EX 232.1.1.1 {}']);
});

test('records due together go in one send() call', () => {
  const { h, sent } = host(11);
  h.setFilter(1, G, 'exclude', [], 0);
  h.setFilter(1, H, 'include', [S1], 0);
  h.poll(0);
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0]!.records, ['TO_EX 232.1.1.1 {}', 'ALLOW 232.2.2.2 {198.18.0.1}']);
});

test('the same seed gives the same reports at the same times', () => {
  const scenario = (seed: number) => {
    const { h, sent, run } = host(seed);
    h.setFilter(1, G, 'exclude', [S1], 0);
    h.setFilter(2, H, 'include', [S2, S3], 100);
    run(0, 3 * SEC);
    h.query(null, [], 10 * SEC, 3 * SEC);
    h.setFilter(2, H, 'include', [S3], 4 * SEC);
    run(3 * SEC, 30 * SEC);
    return sent;
  };
  assert.deepEqual(scenario(1234), scenario(1234));
  assert.ok(scenario(1234).length >= 6);
});

test('unreportable groups keep state but send nothing', () => {
  const { h, run, sent } = host(12, { reportable: (g) => g !== G });
  h.setFilter(1, G, 'exclude', [], 0);
  h.query(null, [], SEC, 0);
  h.query(G, [], SEC, 0);
  run(0, 5 * SEC);
  assert.equal(h.isMember(G), true);
  assert.deepEqual(sent, []);
});

test('packRecords: IS_EX/TO_EX truncated, other records split, reports bounded', () => {
  const srcs = Array.from({ length: 10 }, (_, i) => S1 + i);
  const recs: MulticastRecord<number>[] = [
    { type: T.ModeIsExclude, group: G, sources: srcs },
    { type: T.AllowNewSources, group: H, sources: srcs },
  ];
  // Room for a header (8) and 4 sources (16) per report.
  const packed = packRecords(recs, 24, 8, 4);
  assert.deepEqual(packed.map((p) => p.map((r) => `${r.type}:${r.sources.length}`)), [['2:4'], ['5:4'], ['5:4'], ['5:2']]);
  assert.deepEqual(packed.slice(1).flatMap((p) => p[0]!.sources), srcs);
  assert.deepEqual(packRecords(recs, 1000, 8, 4).length, 1);
});

// IgmpHost: the core behind the IPv4 wire messages.

function igmp(seed = 1) {
  const out: string[] = [];
  const h = new IgmpHost(new SeededRng(seed), (m: IgmpMessage) => {
    out.push(m.version === 3
      ? `v3 ${m.records.map((r) => `${NAMES[r.recordType - 1]} ${formatIpv4(r.group)} {${r.sources.map(formatIpv4).join(',')}}`).join('; ')}`
      : `v${m.version} ${m.kind} ${formatIpv4(m.group)}`);
  });
  const run = (from: number, until: number) => {
    for (let t = from; t <= until; ) t = h.poll(t);
  };
  return { h, out, run };
}

test('IgmpHost: source filters become IGMPv3 records; queries with sources are answered', () => {
  const { h, out, run } = igmp();
  h.setFilter(1, G, 'include', [S1, S2], 0);
  run(0, 5 * SEC);
  assert.deepEqual(out.splice(0), ['v3 ALLOW 232.1.1.1 {198.18.0.1,198.18.0.2}', 'v3 ALLOW 232.1.1.1 {198.18.0.1,198.18.0.2}']);
  assert.equal(h.accepts(G, S1), true);
  assert.equal(h.accepts(G, S3), false);
  assert.equal(h.accepts(ALL_HOSTS, S3), true);
  assert.equal(h.socketAccepts(1, G, S2), true);
  h.query(3, G, 10, 10 * SEC, [S2, S3]);
  run(10 * SEC, 20 * SEC);
  assert.deepEqual(out.splice(0), ['v3 IS_IN 232.1.1.1 {198.18.0.2}']);
  assert.equal(h.reportsSent, 3);
});

test('IgmpHost: 224.0.0.1 is always a member and never reported', () => {
  const { h, out, run } = igmp();
  assert.equal(h.isMember(ALL_HOSTS), true);
  h.join(ALL_HOSTS, 0);
  h.query(3, 0, 10, 0);
  h.query(3, ALL_HOSTS, 10, 0);
  run(0, 5 * SEC);
  assert.deepEqual(out, []);
});

test('IgmpHost: joins without a socket id are counted per group', () => {
  const { h, out, run } = igmp();
  h.join(G, 0);
  h.join(G, 0);
  h.poll(0);
  h.leave(G, 10);
  assert.equal(h.isMember(G), true);
  h.leave(G, 20);
  assert.equal(h.isMember(G), false);
  run(20, 5 * SEC);
  assert.deepEqual(out, ['v3 TO_EX 232.1.1.1 {}', 'v3 TO_IN 232.1.1.1 {}', 'v3 TO_IN 232.1.1.1 {}']);
});

test('IgmpHost in IGMPv2 mode: source lists are ignored, membership is what is reported (RFC 3376 §7.2.1)', () => {
  const { h, out, run } = igmp(2);
  h.query(2, 0, 100, 0);
  assert.equal(h.version(0), 2);
  run(0, 11 * SEC);
  out.length = 0;
  h.setFilter(1, G, 'include', [S1], 20 * SEC);
  run(20 * SEC, 25 * SEC);
  assert.deepEqual(out.splice(0), ['v2 report 232.1.1.1', 'v2 report 232.1.1.1']);
  h.setFilter(1, G, 'include', [S1, S2], 30 * SEC); // still a member: nothing to say in v2
  run(30 * SEC, 35 * SEC);
  assert.deepEqual(out.splice(0), []);
  h.query(3, G, 10, 40 * SEC, [S3]); // source-specific, answered as a group-specific one
  run(40 * SEC, 45 * SEC);
  assert.deepEqual(out.splice(0), ['v2 report 232.1.1.1']);
  h.setFilter(1, G, 'include', [], 50 * SEC);
  run(50 * SEC, 55 * SEC);
  assert.deepEqual(out.splice(0), ['v2 leave 232.1.1.1']);
  // After the Older Version Querier Present Timeout, back to v3 with source lists.
  h.setFilter(1, G, 'include', [S1], 300 * SEC);
  run(300 * SEC, 305 * SEC);
  assert.equal(h.version(300 * SEC), 3);
  assert.deepEqual(out.splice(0), ['v3 ALLOW 232.1.1.1 {198.18.0.1}', 'v3 ALLOW 232.1.1.1 {198.18.0.1}']);
});

test('IgmpHost: a change of compatibility mode cancels pending retransmissions (RFC 3376 §7.2.1)', () => {
  const { h, out, run } = igmp(3);
  h.join(G, 0);
  h.poll(0);
  h.query(1, 0, 0, 1); // IGMPv1 querier: the pending TO_EX retransmission is dropped
  run(1, 15 * SEC);
  assert.deepEqual(out, ['v3 TO_EX 232.1.1.1 {}', 'v1 report 232.1.1.1']);
});

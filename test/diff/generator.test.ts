// The scenario generator of the differential test: deterministic per seed, varied, and
// every scenario within the limits that make it end quickly on the kernel.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateScenarioAt, generateScenarios, MAX_STEPS, MAX_WAIT_MS } from './generator.js';

const KNOWN_OPS = new Set([
  'socket', 'socketpair', 'bind', 'listen', 'connect', 'accept', 'send', 'sendto', 'sendmsg', 'recv', 'recvfrom', 'recvmsg',
  'shutdown', 'close', 'getsockname', 'getpeername', 'setsockopt', 'getsockopt', 'ioctl', 'fcntl', 'dup', 'dup2', 'dup3',
  'poll', 'select', 'epoll_create', 'epoll_ctl', 'epoll_wait', 'sleep',
]);
const ADDRS = new Set(['A4', 'B4', 'A6', 'B6', 'ANY4', 'ANY6', 'A4M', 'B4M', 'ANY4M', 'N4', 'N6', 'UNSPEC']);

test('generator: the same seed gives the same scenarios, another seed others', () => {
  const a = generateScenarios(12345, 200);
  const b = generateScenarios(12345, 200);
  assert.deepStrictEqual(a, b);
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  const c = generateScenarios(12346, 200);
  let same = 0;
  for (let i = 0; i < 200; i++) if (JSON.stringify(a[i]!.steps) === JSON.stringify(c[i]!.steps)) same++;
  assert.ok(same < 5, `${same} identical scenarios across seeds`);
  // Any one scenario can be regenerated alone.
  assert.deepStrictEqual(generateScenarioAt(12345, 137), a[137]);
});

test('generator: names are "<seed>:<index>" and scenarios differ from each other', () => {
  const list = generateScenarios(7, 300);
  list.forEach((s, i) => assert.equal(s.name, `7:${i}`));
  const distinct = new Set(list.map((s) => JSON.stringify(s.steps)));
  assert.ok(distinct.size >= 295, `only ${distinct.size} distinct scenarios of 300`);
});

test('generator: every scenario stays within the limits that make it end on the kernel', () => {
  for (const seed of [1, 2, 3, 99, 2024, 0xdeadbeef]) {
    for (const sc of generateScenarios(seed, 400)) {
      const where = (i: number): string => `${sc.name} step ${i}: ${JSON.stringify(sc.steps[i])}`;
      assert.ok(sc.steps.length >= 1 && sc.steps.length <= MAX_STEPS, `${sc.name}: ${sc.steps.length} steps`);
      assert.doesNotThrow(() => JSON.parse(JSON.stringify(sc)));
      let created = 0;
      sc.steps.forEach((st, i) => {
        const op = st[0] as string;
        assert.ok(KNOWN_OPS.has(op), where(i));
        switch (op) {
          case 'sleep':
            assert.ok(Number.isInteger(st[1]) && (st[1] as number) >= 0 && (st[1] as number) <= MAX_WAIT_MS, where(i));
            break;
          case 'poll':
            assert.ok((st[2] as number) >= 0 && (st[2] as number) <= 3, where(i));
            break;
          case 'select':
            assert.ok((st[4] as number) >= 0 && (st[4] as number) <= 3, where(i));
            break;
          case 'epoll_wait':
            assert.ok((st[3] as number) >= 0 && (st[3] as number) <= 3, where(i));
            assert.ok((st[2] as number) <= 4096, where(i));
            break;
          case 'send':
          case 'sendto':
          case 'sendmsg':
            assert.ok(Number.isInteger(st[2]) && (st[2] as number) >= 0 && (st[2] as number) <= 300_000, where(i));
            break;
          case 'recv':
          case 'recvfrom':
          case 'recvmsg':
            assert.ok(Number.isInteger(st[2]) && (st[2] as number) >= 0 && (st[2] as number) <= 300_000, where(i));
            break;
          case 'bind':
          case 'connect':
            assert.ok(ADDRS.has(st[2] as string), where(i));
            assert.ok(st[3] === 0 || /^P[1-9]$/.test(String(st[3])), where(i));
            break;
          case 'socket': {
            created++;
            // A socket that can block gets short receive and send timeouts right away.
            const type = String(st[3]);
            const expectedToWork = !type.includes('SEQPACKET') && (st[4] === undefined || st[4] === 0 || st[4] === (type.startsWith('STREAM') ? 6 : 17));
            if (!type.includes('NONBLOCK') && expectedToWork) {
              const rcv = sc.steps[i + 1];
              const snd = sc.steps[i + 2];
              if (rcv !== undefined) {
                assert.deepEqual(rcv.slice(0, 4), ['setsockopt', st[1], 'SOL_SOCKET', 'SO_RCVTIMEO'], where(i));
                assert.ok(snd !== undefined, where(i));
                assert.deepEqual(snd.slice(0, 4), ['setsockopt', st[1], 'SOL_SOCKET', 'SO_SNDTIMEO'], where(i));
                for (const s of [rcv, snd]) {
                  const us = (s[4] as { timeval: number }).timeval;
                  assert.ok(us >= 2000 && us <= 5000, where(i));
                }
              }
            }
            break;
          }
          case 'setsockopt': {
            const v = st[4] as { timeval?: number; linger?: number[] } | number;
            if (st[3] === 'SO_RCVTIMEO' || st[3] === 'SO_SNDTIMEO') {
              // Never "no timeout", never long.
              if (typeof v === 'object' && v.timeval !== undefined) assert.ok(v.timeval >= 1000 && v.timeval <= 5000, where(i));
              else assert.ok(typeof v === 'object' && 'bytes' in v, where(i));
            }
            if (st[3] === 'SO_LINGER' && typeof v === 'object' && v.linger !== undefined) {
              // No lingering close that could block for seconds.
              assert.ok(v.linger[0] === 0 || v.linger[1] === 0, where(i));
            }
            break;
          }
          case 'ioctl':
            assert.ok(['FIONREAD', 'SIOCOUTQ', 'SIOCATMARK', 'FIONBIO'].includes(st[2] as string), where(i));
            break;
        }
      });
      assert.ok(created <= 8, `${sc.name}: ${created} sockets`);
    }
  }
});

test('generator: the scenarios cover the socket API and its flag combinations', () => {
  const list = generateScenarios(4242, 1000);
  const ops = new Map<string, number>();
  const epollEvents = new Set<string>();
  const domains = new Set<string>();
  const types = new Set<string>();
  let bigSends = 0;
  let reusedNames = 0;
  let epollFlagsSeen = 0;
  const lengths: number[] = [];
  for (const sc of list) {
    lengths.push(sc.steps.length);
    const closed = new Set<string>();
    for (const st of sc.steps) {
      const op = st[0] as string;
      ops.set(op, (ops.get(op) ?? 0) + 1);
      if (op === 'socket') {
        domains.add(st[2] as string);
        types.add(String(st[3]).split('|')[0]!);
        if (closed.has(st[1] as string)) reusedNames++;
      }
      if (op === 'close') closed.add(st[1] as string);
      if (op === 'epoll_ctl') {
        for (const f of String(st[4]).split('|')) epollEvents.add(f);
        if (/ET|ONESHOT|EXCLUSIVE/.test(String(st[4]))) epollFlagsSeen++;
      }
      if ((op === 'send' || op === 'sendto' || op === 'sendmsg') && (st[2] as number) > 65536) bigSends++;
    }
  }
  for (const op of KNOWN_OPS) assert.ok((ops.get(op) ?? 0) > 0, `no ${op} in 1000 scenarios`);
  for (const f of ['IN', 'OUT', 'RDHUP', 'ET', 'ONESHOT', 'EXCLUSIVE']) assert.ok(epollEvents.has(f), `epoll_ctl never uses ${f}`);
  for (const d of ['INET', 'INET6']) assert.ok(domains.has(d), `no ${d} socket`);
  for (const k of ['STREAM', 'DGRAM']) assert.ok(types.has(k), `no ${k} socket`);
  assert.ok(bigSends > 10, `only ${bigSends} sends above 64 KiB`);
  assert.ok(reusedNames > 10, `closed names reused only ${reusedNames} times`);
  assert.ok(epollFlagsSeen > 50, `ET/ONESHOT/EXCLUSIVE only ${epollFlagsSeen} times`);
  // Lengths spread over the whole range.
  assert.ok(lengths.some((n) => n <= 10) && lengths.some((n) => n >= 35), `lengths ${Math.min(...lengths)}..${Math.max(...lengths)}`);
  // Plausible flows: many scenarios connect and accept, not just fail.
  assert.ok((ops.get('accept') ?? 0) > 200 && (ops.get('listen') ?? 0) > 300, 'too few servers');
});

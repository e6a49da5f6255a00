import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const cli = new URL('../../src/cli/xlio.js', import.meta.url).pathname;
const fixture = new URL('../../../test/fixtures/kernel/ping4.pcap', import.meta.url).pathname;
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

test('xlio version and help', () => {
  const v = run('version');
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^xlio-ts \d+\.\d+\.\d+\n$/);
  const h = run('help');
  assert.equal(h.status, 0);
  assert.match(h.stdout, /capture read FILE/);
  const bad = run('frobnicate');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown command 'frobnicate'/);
});

test('xlio capture read dissects a kernel capture, one line per frame', () => {
  const r = run('capture', 'read', fixture, '-c', '3');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 3);
  assert.ok(lines.some((l) => /ICMP echo request id=\d+ seq=1/.test(l)), r.stdout);
  assert.ok(lines.every((l) => !/Truncated|Malformed|Checksum/.test(l)), r.stdout);
});

test('xlio capture read reports unreadable input clearly', () => {
  const missing = run('capture', 'read', '/nonexistent/x.pcap');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /cannot read \/nonexistent\/x\.pcap: ENOENT/);
  const notPcap = run('capture', 'read', cli);
  assert.equal(notPcap.status, 1);
  assert.match(notPcap.stderr, /is not a readable capture/);
  const badCount = run('capture', 'read', fixture, '-c', 'many');
  assert.equal(badCount.status, 2);
});

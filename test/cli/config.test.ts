// `xlio config --check` run as a program (the compiled CLI): good and bad environments and
// rules files, the messages (FILE:LINE:COLUMN for rules), exit statuses 0/1/2, --app, --json.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XLIO_CLI } from '../support/processes.js';

/** Runs `xlio config …` with only `env` as XLIO_* settings (PATH etc. kept, other XLIO_* removed). */
function run(args: string[], env: Record<string, string> = {}) {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('XLIO_') && v !== undefined) base[k] = v;
  return spawnSync(process.execPath, [XLIO_CLI, 'config', ...args], { encoding: 'utf8', env: { ...base, ...env }, timeout: 30_000 });
}

const dir = mkdtempSync(join(tmpdir(), 'xlio-config-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const GOOD = ['# test rules', 'application-id server.js *', 'use os tcp_server [fd00::]/64:8080', 'use xlio tcp_client 198.18.0.0/15:*:*:*', 'application-id * *', 'use os udp_connect *:53', ''].join('\n');

test('a good environment and rules file: exit 0, the effective configuration and the program\'s rules', () => {
  const rules = file('good.conf', GOOD);
  const r = run(['--check', '--app', 'server.js'], { XLIO_CONFIG_FILE: rules, XLIO_SPEC: 'latency', XLIO_TCP_QUICKACK: '1', XLIO_TRACELEVEL: 'debug', XLIO_TCP_CC_ALGO: 'cubic', XLIO_MSS: '1460' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /XLIO_SPEC=latency/);
  assert.match(r.stdout, /XLIO_RX_POLL=-1 \(poll forever\)/);
  assert.match(r.stdout, /XLIO_TCP_QUICKACK=1/);
  assert.match(r.stdout, new RegExp(`rules: ${rules.replace(/[.]/g, '\\.')}`));
  assert.match(r.stdout, /program server\.js: block 'application-id server\.js \*' \(line 2\)/);
  assert.match(r.stdout, /3: use os tcp_server \[fd00::\]\/64:8080\n\s+4: use xlio tcp_client 198\.18\.0\.0\/15:\*:\*:\*\n/);
  assert.doesNotMatch(r.stdout, /udp_connect/, 'only the selected block is listed');
  // Another program falls through to '* *'.
  const other = run(['--app', 'worker.js', '--rules', rules]);
  assert.equal(other.status, 0, other.stderr);
  assert.match(other.stdout, /program worker\.js: block 'application-id \* \*' \(line 5\)[^\n]*\n\s+6: use os udp_connect \*:53\n/);
  // Without --app: every block.
  const all = run(['--rules', rules]);
  assert.equal(all.status, 0, all.stderr);
  assert.match(all.stdout, /application-id server\.js \* \(line 2\):/);
  assert.match(all.stdout, /application-id \* \* \(line 5\):/);
});

test('no rules file at the default path is fine; a missing --rules or XLIO_CONFIG_FILE is not', () => {
  const r = run(['--app', 'x.js'], { XLIO_CONFIG_FILE: '' });
  assert.equal(r.status, 0, r.stderr);
  const missing = join(dir, 'missing.conf');
  const a = run(['--rules', missing]);
  assert.equal(a.status, 1);
  assert.match(a.stderr, new RegExp(`error: ${missing.replace(/[.]/g, '\\.')}: cannot read the rules file: no such file`));
  const b = run([], { XLIO_CONFIG_FILE: missing });
  assert.equal(b.status, 1);
  assert.match(b.stderr, /cannot read the rules file \(named by XLIO_CONFIG_FILE\): no such file/);
});

test('a bad rules file: every error as FILE:LINE:COLUMN: message, exit 1', () => {
  const bad = file('bad.conf', ['application-id * *', 'use os udp_connect *:53', '', '    use offload tcp_server *:80', 'use os tcp_server 10.0.0.0/33:*', 'use os tcp_client *:80 *:*', 'use os tcp_server fd00::1:80', 'application-id x'].join('\n'));
  const r = run(['--check', '--rules', bad]);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(lines, [
    `${bad}:4:9: expected 'xlio' or 'os' after 'use', got 'offload'`,
    `${bad}:5:28: prefix length 33 is above 32, the most an IPv4 address has`,
    `${bad}:6:24: unexpected '*' after *:80 (the local part follows the remote one after ':', e.g. 'use os tcp_client *:80:*:*')`,
    `${bad}:7:19: IPv6 addresses are written in brackets, e.g. [fd00::1]/64:80`,
    `${bad}:8:17: 'application-id' needs a program name and a user-defined id (either may be '*'), got only 'x'`,
    'xlio config: 5 problems found',
  ]);
});

test('a bad environment: each bad value with what it accepts; typos get a did-you-mean; exit 1', () => {
  const r = run(['--rules', file('empty.conf', '')], {
    XLIO_RX_POLL: 'forever',
    XLIO_MTU: '20',
    XLIO_RING_ALLOCATION_LOGIC_TX: '11',
    XLIO_TCP_NODELAY: 'yes',
    XLIO_TRACELEVEL: 'loud',
    XLIO_TCP_CC_ALGO: 'bbr',
    XLIO_GATEWAY: 'fd00::1',
    XLIO_ADDR: '198.18.0.1/40',
    XLIO_RX_POL: '10',
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: XLIO_ADDR="198\.18\.0\.1\/40" is not valid: XLIO_ADDR accepts comma-separated addresses/m);
  assert.match(r.stderr, /^error: XLIO_GATEWAY="fd00::1" is not valid: XLIO_GATEWAY accepts an IPv4 address$/m);
  assert.match(r.stderr, /^error: XLIO_MTU="20" is not valid: XLIO_MTU accepts 0 \(follow the link\) or an MTU from 68 to 65535$/m);
  assert.match(r.stderr, /^error: XLIO_RING_ALLOCATION_LOGIC_TX="11" is not valid/m);
  assert.match(r.stderr, /^error: XLIO_RX_POLL="forever" is not valid: XLIO_RX_POLL accepts an integer count of poll iterations from -1/m);
  assert.match(r.stderr, /^error: XLIO_RX_POL is not a setting xlio-ts reads \(did you mean XLIO_RX_POLL\?\)$/m);
  assert.match(r.stderr, /^error: XLIO_TCP_CC_ALGO="bbr" is not valid: XLIO_TCP_CC_ALGO accepts 0 \(lwIP's NewReno, default\), 1 \(cubic\) or 2 \(none\)/m);
  assert.match(r.stderr, /^error: XLIO_TCP_NODELAY="yes" is not valid: XLIO_TCP_NODELAY accepts 0 or 1$/m);
  assert.match(r.stderr, /^error: XLIO_TRACELEVEL="loud" is not valid: XLIO_TRACELEVEL accepts a level from -1 to 8 or its name/m);
  assert.match(r.stderr, /^xlio config: 9 problems found$/m);
  // An XLIO setting xlio-ts does not implement (no near name) is a warning: exit 0.
  const w = run(['--rules', file('empty2.conf', '')], { XLIO_TSO_TOTALLY_UNRELATED: '1' });
  assert.equal(w.status, 0, w.stderr);
  assert.match(w.stderr, /^warning: XLIO_TSO_TOTALLY_UNRELATED is not a setting xlio-ts reads; ignored$/m);
  // XLIO_LINK without XLIO_ADDR, and a bad link spec.
  const l = run(['--rules', file('empty3.conf', '')], { XLIO_LINK: 'packet:eth9' });
  assert.equal(l.status, 1);
  assert.match(l.stderr, /XLIO_LINK="packet:eth9" is not valid: XLIO_LINK needs XLIO_ADDR/);
  const l2 = run(['--rules', file('empty4.conf', '')], { XLIO_LINK: 'warp:eth9', XLIO_ADDR: '198.18.0.1/24' });
  assert.equal(l2.status, 1);
  assert.match(l2.stderr, /XLIO_LINK="warp:eth9" is not valid: .*unknown link kind "warp"/);
});

test('application ids: XLIO_APPLICATION_ID and --id pick blocks; an id no block has warns; a dead block warns', () => {
  const rules = file('ids.conf', ['application-id server.js B1', 'use os tcp_server *:1', 'application-id * *', 'use os tcp_server *:2', 'application-id late.js *', 'use os tcp_server *:3'].join('\n'));
  const b1 = run(['--rules', rules, '--app', 'server.js'], { XLIO_APPLICATION_ID: 'B1' });
  assert.equal(b1.status, 0, b1.stderr);
  assert.match(b1.stdout, /application id: B1/);
  assert.match(b1.stdout, /program server\.js: block 'application-id server\.js B1' \(line 1\)/);
  const unset = run(['--rules', rules, '--app', 'server.js']);
  assert.match(unset.stdout, /program server\.js: block 'application-id \* \*' \(line 3\)/);
  const byFlag = run(['--rules', rules, '--app', 'server.js', '--id', 'B1']);
  assert.match(byFlag.stdout, /block 'application-id server\.js B1'/);
  const nowhere = run(['--rules', rules, '--app', 'server.js', '--id', 'B9']);
  assert.equal(nowhere.status, 0);
  assert.match(nowhere.stderr, /warning: .*no application-id line has the user-defined id 'B9'/);
  assert.match(nowhere.stderr, new RegExp(`warning: ${rules.replace(/[.]/g, '\\.')}:5:1: 'application-id late\\.js \\*' never applies: 'application-id \\* \\*' at line 3 comes first`));
});

test('--json: one object with ok, errors (file, line, column), config and rules', () => {
  const good = run(['--json', '--rules', file('j.conf', GOOD), '--app', 'server.js'], { XLIO_TCP_NODELAY: '1' });
  assert.equal(good.status, 0, good.stderr);
  const g = JSON.parse(good.stdout);
  assert.equal(g.ok, true);
  assert.deepEqual(g.errors, []);
  assert.equal(g.config.tcpNoDelay, true);
  assert.equal(g.rules.selected.program, 'server.js');
  assert.deepEqual(
    g.rules.selected.rules.map((r: { line: number; text: string }) => [r.line, r.text]),
    [
      [3, 'use os tcp_server [fd00::]/64:8080'],
      [4, 'use xlio tcp_client 198.18.0.0/15:*:*:*'],
    ],
  );
  const badPath = file('jbad.conf', 'use os tcp_server *:0\n');
  const bad = run(['--json', '--rules', badPath], { XLIO_MTU: 'x' });
  assert.equal(bad.status, 1);
  const b = JSON.parse(bad.stdout);
  assert.equal(b.ok, false);
  assert.equal(b.config, null);
  assert.deepEqual(
    b.errors.map((e: { source: string; variable?: string; file?: string; line?: number; column?: number }) => [e.source, e.variable ?? e.file, e.line ?? null, e.column ?? null]),
    [
      ['env', 'XLIO_MTU', null, null],
      ['rules', badPath, 1, 21],
    ],
  );
});

test('bad arguments exit 2; --help exits 0; xlio help lists config', () => {
  for (const args of [['--bogus'], ['--rules'], ['--app'], ['--check', 'extra']]) {
    const r = run(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, /^xlio config: /);
    assert.match(r.stderr, /usage: xlio config/);
  }
  const h = run(['--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /usage: xlio config \[--check\] \[--rules FILE\] \[--app NAME\]/);
  const top = spawnSync(process.execPath, [XLIO_CLI, 'help'], { encoding: 'utf8' });
  assert.match(top.stdout, /config --check \[--rules FILE\] \[--app NAME\] \[--json\]/);
});

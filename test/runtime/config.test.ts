// XLIO_* environment variables parsed into the runtime's config with XLIO's meanings: every
// variable, the profiles and their precedence, bad values, unknown names warned about once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CONFIG_VARIABLES, ConfigError, DEFAULT_CONFIG, describeConfig, loadConfig, ringPerWorker, spinCapUs, warnUnknown } from '../../src/runtime/config.js';

/** The error loadConfig throws for `env`. */
function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail(`${JSON.stringify(env)} was accepted`);
}

test('defaults are XLIO\'s: 100000 polls, ring per thread, Nagle and delayed ACK on, MTU from the link', () => {
  const c = loadConfig({});
  assert.deepEqual({ ...c, unknown: [...c.unknown] }, { ...DEFAULT_CONFIG, unknown: [] });
  assert.equal(c.rxPoll, 100_000);
  assert.equal(c.selectPoll, 100_000);
  assert.equal(c.ringAllocationRx, 20);
  assert.equal(c.ringAllocationTx, 20);
  assert.equal(c.tcpNoDelay, false);
  assert.equal(c.tcpQuickAck, false);
  assert.equal(c.mtu, 0);
  assert.equal(c.spec, 'none');
  assert.ok(Object.isFrozen(c));
  // Unrelated variables and empty values change nothing.
  assert.deepEqual(loadConfig({ PATH: '/bin', XLIO_RX_POLL: '', XLIO_MTU: '  ' }).rxPoll, 100_000);
});

test('XLIO_RX_POLL and XLIO_SELECT_POLL: poll iterations, -1 forever, 0 one poll, up to 100000000', () => {
  for (const name of ['XLIO_RX_POLL', 'XLIO_SELECT_POLL'] as const) {
    const key = name === 'XLIO_RX_POLL' ? 'rxPoll' : 'selectPoll';
    assert.equal(loadConfig({ [name]: '-1' })[key], -1);
    assert.equal(loadConfig({ [name]: '0' })[key], 0);
    assert.equal(loadConfig({ [name]: '2500' })[key], 2500);
    assert.equal(loadConfig({ [name]: ' +7 ' })[key], 7);
    assert.equal(loadConfig({ [name]: '100000000' })[key], 100_000_000);
    for (const bad of ['-2', '100000001', '12abc', '1.5', 'forever', '0x10']) {
      const e = errorOf({ [name]: bad });
      assert.equal(e.variable, name);
      assert.match(e.message, new RegExp(`^${name}="${bad.replace(/[.+]/g, '\\$&')}" is not valid: ${name} accepts an integer count of poll iterations from -1 \\(poll forever\\) to 100000000`));
    }
  }
  // The µs cap derived from the count: XLIO's 0.1 µs per poll.
  assert.equal(spinCapUs(100_000), 10_000);
  assert.equal(spinCapUs(0), 0);
  assert.equal(spinCapUs(-1), Infinity);
});

test('XLIO_RING_ALLOCATION_LOGIC_RX/TX: XLIO\'s numbers and names; 11 and 32 (API-only) and others refused', () => {
  const accepted: [string, number, boolean][] = [
    ['0', 0, false],
    ['1', 1, false],
    ['10', 10, true],
    ['20', 20, true],
    ['30', 30, true],
    ['31', 31, true],
    ['per_interface', 0, false],
    ['per_ip_address', 1, false],
    ['PER_SOCKET', 10, true],
    ['per_thread', 20, true],
    ['per_cpuid', 30, true],
    ['per_core', 31, true],
  ];
  for (const [text, value, perWorker] of accepted) {
    const rx = loadConfig({ XLIO_RING_ALLOCATION_LOGIC_RX: text });
    assert.equal(rx.ringAllocationRx, value, text);
    assert.equal(rx.ringAllocationTx, 20, 'TX keeps its default');
    assert.equal(loadConfig({ XLIO_RING_ALLOCATION_LOGIC_TX: text }).ringAllocationTx, value, text);
    assert.equal(ringPerWorker(rx.ringAllocationRx), perWorker, text);
  }
  for (const name of ['XLIO_RING_ALLOCATION_LOGIC_RX', 'XLIO_RING_ALLOCATION_LOGIC_TX']) {
    for (const bad of ['11', '32', '2', '-1', 'per_user_id', 'thread', '']) {
      if (bad === '') continue; // empty counts as unset
      const e = errorOf({ [name]: bad });
      assert.equal(e.variable, name);
      assert.match(e.message, /accepts 0 \(per interface\), 1 \(per IP address\), 10 \(per socket\), 20 \(per thread\), 30 \(per CPU id\), 31 \(per core\)/);
    }
  }
});

test('XLIO_TCP_NODELAY, XLIO_TCP_QUICKACK: 0 or 1', () => {
  assert.equal(loadConfig({ XLIO_TCP_NODELAY: '1' }).tcpNoDelay, true);
  assert.equal(loadConfig({ XLIO_TCP_NODELAY: '0' }).tcpNoDelay, false);
  assert.equal(loadConfig({ XLIO_TCP_QUICKACK: '1' }).tcpQuickAck, true);
  assert.equal(loadConfig({ XLIO_TCP_QUICKACK: '0' }).tcpQuickAck, false);
  for (const name of ['XLIO_TCP_NODELAY', 'XLIO_TCP_QUICKACK']) {
    for (const bad of ['2', 'yes', 'true', '-1']) {
      const e = errorOf({ [name]: bad });
      assert.equal(e.message, `${name}=${JSON.stringify(bad)} is not valid: ${name} accepts 0 or 1`);
    }
  }
});

test('XLIO_MTU: 0 follows the link, else 68..65535', () => {
  assert.equal(loadConfig({ XLIO_MTU: '0' }).mtu, 0);
  assert.equal(loadConfig({ XLIO_MTU: '9000' }).mtu, 9000);
  assert.equal(loadConfig({ XLIO_MTU: '68' }).mtu, 68);
  assert.equal(loadConfig({ XLIO_MTU: '65535' }).mtu, 65535);
  for (const bad of ['67', '1', '65536', 'jumbo', '-1500']) {
    const e = errorOf({ XLIO_MTU: bad });
    assert.equal(e.variable, 'XLIO_MTU');
    assert.match(e.message, /XLIO_MTU accepts 0 \(follow the link\) or an MTU from 68 to 65535/);
  }
});

test('XLIO_SPEC: latency and ultra-latency poll forever with TCP_NODELAY, as XLIO sets them; explicit variables win', () => {
  for (const spec of ['latency', 'ultra-latency', 'LATENCY', '1', '2']) {
    const c = loadConfig({ XLIO_SPEC: spec });
    assert.equal(c.rxPoll, -1, spec);
    assert.equal(c.selectPoll, -1, spec);
    assert.equal(c.tcpNoDelay, true, spec);
    // XLIO's profiles leave quick-ACK and the ring logic (already a ring per thread) alone.
    assert.equal(c.tcpQuickAck, false, spec);
    assert.equal(c.ringAllocationRx, 20, spec);
  }
  assert.equal(loadConfig({ XLIO_SPEC: '1' }).spec, 'ultra-latency');
  assert.equal(loadConfig({ XLIO_SPEC: '2' }).spec, 'latency');
  assert.equal(loadConfig({ XLIO_SPEC: 'none' }).rxPoll, 100_000);
  // A variable set explicitly overrides the profile, whatever the order of the environment.
  const c = loadConfig({ XLIO_RX_POLL: '5000', XLIO_SPEC: 'ultra-latency', XLIO_TCP_NODELAY: '0' });
  assert.equal(c.rxPoll, 5000);
  assert.equal(c.selectPoll, -1);
  assert.equal(c.tcpNoDelay, false);
  assert.equal(c.spec, 'ultra-latency');
  for (const bad of ['nginx', 'nvme_bf3', 'fast', '3']) {
    const e = errorOf({ XLIO_SPEC: bad });
    assert.match(e.message, /XLIO_SPEC accepts none, latency or ultra-latency/);
  }
  assert.match(errorOf({ XLIO_SPEC: 'nginx' }).message, /nginx is an XLIO profile for hardware or applications xlio-ts does not target/);
});

test('unknown XLIO_* names: listed by loadConfig (pure), one stderr line each, once', () => {
  const env = { XLIO_RX_POL: '10', XLIO_RX_WRE: '256', XLIO_TRACELEVEL: '3', XLIO_TCP_CC_ALGO: '0', XLIO_NO_NATIVE: '1', NOT_XLIO: 'x' };
  const c = loadConfig(env);
  // Names other parts of xlio-ts read are not unknown.
  assert.deepEqual([...c.unknown], ['XLIO_RX_POL', 'XLIO_RX_WRE']);
  const lines: string[] = [];
  const seen = new Set<string>();
  warnUnknown(c, (l) => lines.push(l), seen);
  warnUnknown(loadConfig(env), (l) => lines.push(l), seen);
  warnUnknown(loadConfig({ ...env, XLIO_BOGUS: '1' }), (l) => lines.push(l), seen);
  assert.deepEqual(lines, [
    'xlio-ts: warning: XLIO_RX_POL is not a setting xlio-ts reads; ignored (did you mean XLIO_RX_POLL?)',
    'xlio-ts: warning: XLIO_RX_WRE is not a setting xlio-ts reads; ignored',
    'xlio-ts: warning: XLIO_BOGUS is not a setting xlio-ts reads; ignored',
  ]);
  for (const l of lines) assert.ok(!l.includes('\n'), 'one line each');
});

test('every variable is described, and describeConfig names each setting with its unit', () => {
  const names = CONFIG_VARIABLES.map((v) => v.name);
  assert.deepEqual(names, ['XLIO_SPEC', 'XLIO_RX_POLL', 'XLIO_SELECT_POLL', 'XLIO_RING_ALLOCATION_LOGIC_RX', 'XLIO_RING_ALLOCATION_LOGIC_TX', 'XLIO_TCP_NODELAY', 'XLIO_TCP_QUICKACK', 'XLIO_MTU', 'XLIO_PREWARM']);
  const rx = CONFIG_VARIABLES.find((v) => v.name === 'XLIO_RX_POLL')!;
  assert.match(rx.describe, /poll iterations/);
  assert.match(rx.describe, /0\.1 µs/);
  const text = describeConfig(loadConfig({ XLIO_RX_POLL: '1000', XLIO_RING_ALLOCATION_LOGIC_TX: '0' }));
  assert.match(text, /^XLIO_RX_POLL=1000 iterations \(cap 100 µs\)$/m);
  assert.match(text, /^XLIO_SELECT_POLL=100000 iterations \(cap 10 ms\)$/m);
  assert.match(text, /^XLIO_RING_ALLOCATION_LOGIC_TX=0 \(per_interface: one shared queue: one worker\)$/m);
  assert.match(text, /^XLIO_MTU=0 \(follow the link\)$/m);
  assert.match(text, /^XLIO_PREWARM=64$/m);
});

test('configFromEnvironment warns on stderr, once per unknown name per process', () => {
  const url = new URL('../../src/runtime/config.js', import.meta.url).href;
  const script = `import { configFromEnvironment } from ${JSON.stringify(url)}; configFromEnvironment(); configFromEnvironment(); console.log('ok');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env['PATH'] ?? '', XLIO_FOO: '1', XLIO_RX_POLL: '10' }, encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'ok\n');
  assert.equal(r.stderr, 'xlio-ts: warning: XLIO_FOO is not a setting xlio-ts reads; ignored\n');
  // A bad value is an error that names the variable.
  const bad = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env['PATH'] ?? '', XLIO_RX_POLL: 'fast' }, encoding: 'utf8', timeout: 10_000 });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /ConfigError: XLIO_RX_POLL="fast" is not valid: XLIO_RX_POLL accepts an integer/);
});

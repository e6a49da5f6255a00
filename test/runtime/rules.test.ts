// Offload rules in libxlio.conf syntax (runtime/rules.ts): every rule form selects the right
// path for IPv4 and IPv6 (KI-11), application-id blocks, comments, XLIO's default, every parse
// error with its line:column, a property test against a naive reference, and KI-18 (an
// address only the host kernel owns goes to the OS).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { globMatch, hostView, loadRules, ownedByKernelOnly, parseRules, programName, RuleParseError, rulesFromText, RulesFileError, type HostView, type RuleKind, type SocketEnd } from '../../src/runtime/rules.js';

const E = (address: string, port: number): SocketEnd => ({ address, port });
const ANY = E('0.0.0.0', 0);
const rules = (text: string, program = 'app.js', appId?: string) => rulesFromText(text, { file: 'r.conf', program, ...(appId !== undefined ? { appId } : {}) });

/** The errors of `text` as "line:column: message". */
function errorsOf(text: string): string[] {
  return parseRules(text, 'r.conf').errors.map((e) => `${e.line}:${e.column}: ${e.detail}`);
}

test('no rules: everything is offloaded (XLIO\'s default), every kind, both families', () => {
  for (const text of ['', '\n\n', '# only a comment\n   \t\n', 'application-id * *\n']) {
    const rs = rules(text);
    for (const kind of ['tcp_server', 'udp_receiver'] as RuleKind[]) assert.equal(rs.decide(kind, E('198.18.0.1', 80)), 'xlio');
    for (const kind of ['tcp_client', 'udp_sender', 'udp_connect'] as RuleKind[]) {
      assert.equal(rs.decide(kind, ANY, E('198.18.0.2', 80)), 'xlio');
      assert.equal(rs.decide(kind, E('::', 0), E('fd00::2', 80)), 'xlio');
    }
  }
});

test('each of the five kinds matches only its own rules, on the end XLIO documents', () => {
  // tcp_server and udp_receiver: the local end; udp_sender: the remote end; tcp_client and
  // udp_connect: remote first, then (optionally) local.
  const rs = rules(['use os tcp_server *:80', 'use os udp_receiver *:5000', 'use os udp_sender *:6000', 'use os tcp_client *:443', 'use os udp_connect *:53'].join('\n'));
  assert.equal(rs.decide('tcp_server', E('198.18.0.1', 80)), 'os');
  assert.equal(rs.decide('tcp_server', E('198.18.0.1', 81)), 'xlio');
  assert.equal(rs.decide('udp_receiver', E('198.18.0.1', 5000)), 'os');
  assert.equal(rs.decide('udp_receiver', E('198.18.0.1', 80)), 'xlio', 'a tcp_server rule does not apply to udp_receiver');
  assert.equal(rs.decide('udp_sender', E('198.18.0.1', 1234), E('198.18.0.2', 6000)), 'os');
  assert.equal(rs.decide('udp_sender', E('198.18.0.1', 6000), E('198.18.0.2', 1234)), 'xlio', 'udp_sender matches the destination, not the local port');
  assert.equal(rs.decide('tcp_client', E('198.18.0.1', 40000), E('198.18.0.2', 443)), 'os');
  assert.equal(rs.decide('tcp_client', E('198.18.0.1', 443), E('198.18.0.2', 40000)), 'xlio', 'tcp_client: the first part is the remote end');
  assert.equal(rs.decide('udp_connect', ANY, E('198.18.0.53', 53)), 'os');
  assert.equal(rs.decide('udp_sender', ANY, E('198.18.0.53', 53)), 'xlio', 'a udp_connect rule does not apply to udp_sender');
  // The two-part form: remote:ports:local:ports.
  const five = rules('use os tcp_client 198.18.0.0/24:443:198.18.1.7:*\nuse os udp_connect [fd00::]/64:*:[fd00:1::]/64:5000-5009');
  assert.equal(five.decide('tcp_client', E('198.18.1.7', 40000), E('198.18.0.9', 443)), 'os');
  assert.equal(five.decide('tcp_client', E('198.18.1.8', 40000), E('198.18.0.9', 443)), 'xlio', 'local address differs');
  assert.equal(five.decide('tcp_client', E('198.18.1.7', 40000), E('198.18.2.9', 443)), 'xlio', 'remote address differs');
  assert.equal(five.decide('udp_connect', E('fd00:1::5', 5005), E('fd00::9', 1)), 'os');
  assert.equal(five.decide('udp_connect', E('fd00:1::5', 5010), E('fd00::9', 1)), 'xlio', 'local port out of range');
  assert.equal(five.decide('udp_connect', E('fd00:2::5', 5005), E('fd00::9', 1)), 'xlio', 'local address out of prefix');
  assert.throws(() => five.decide('tcp_client', ANY), TypeError, 'a remote-matching kind needs remote');
});

test('IPv4 exact addresses and prefixes /0 /8 /24 /32; the rule address is masked as in XLIO', () => {
  const cases: [string, string, boolean][] = [
    ['10.1.2.3', '10.1.2.3', true],
    ['10.1.2.3', '10.1.2.4', false],
    ['10.1.2.3/32', '10.1.2.3', true],
    ['10.1.2.3/32', '10.1.2.2', false],
    ['10.1.2.0/24', '10.1.2.255', true],
    ['10.1.2.0/24', '10.1.3.0', false],
    ['10.1.2.77/24', '10.1.2.1', true], // 1.1.1.x/24 means 1.1.1.0/24
    ['10.0.0.0/8', '10.255.0.1', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['0.0.0.0/0', 'fd00::1', false], // IPv4 rules match IPv4 only…
    ['10.1.2.0/24', '::ffff:10.1.2.9', true], // …and its IPv4-mapped IPv6 form
    ['10.1.2.3', 'not-an-address', false],
    ['*', 'not-an-address', true],
    ['*', 'fd00::1', true],
    ['*', '10.0.0.1', true],
  ];
  for (const [rule, addr, os] of cases) {
    assert.equal(rules(`use os tcp_server ${rule}:*`).decide('tcp_server', E(addr, 80)), os ? 'os' : 'xlio', `${rule} vs ${addr}`);
  }
});

test('IPv6 (KI-11): bracketed exact addresses and prefixes /0 /64 /128, zones, mapped forms', () => {
  const cases: [string, string, boolean][] = [
    ['[fd00::1]', 'fd00::1', true],
    ['[fd00::1]', 'fd00:0:0:0:0:0:0:1', true],
    ['[fd00::1]', 'fd00::2', false],
    ['[fd00::1]/128', 'fd00::1', true],
    ['[fd00::1]/128', 'fd00::1:0', false],
    ['[fd00:1:2:3::]/64', 'fd00:1:2:3:ffff::1', true],
    ['[fd00:1:2:3::]/64', 'fd00:1:2:4::1', false],
    ['[fd00:1:2:3::99]/64', 'fd00:1:2:3::1', true], // masked like IPv4
    ['[::]/0', '2001:db8::1', true],
    ['[::]/0', '198.18.0.1', false], // IPv6 rules match IPv6 only
    ['[::]/0', '::ffff:198.18.0.1', false], // a mapped address is IPv4
    ['[::1]', '::1', true],
    ['[fe80::1]', 'fe80::1%eth0', true], // zones are ignored
    ['[::ffff:198.18.0.0]/120', '198.18.0.7', true], // the IPv4 rule 198.18.0.0/24
    ['[::ffff:198.18.0.0]/120', '::ffff:198.18.0.7', true],
    ['[::ffff:198.18.0.0]/120', '198.18.1.7', false],
  ];
  for (const [rule, addr, os] of cases) {
    assert.equal(rules(`use os tcp_server ${rule}:*`).decide('tcp_server', E(addr, 80)), os ? 'os' : 'xlio', `${rule} vs ${addr}`);
  }
  // Both families in one file, each kind.
  const rs = rules(['use os tcp_client [2001:db8::]/32:443', 'use os udp_sender [ff02::]/16:*', 'use os udp_receiver [::]/0:5353', 'use os udp_connect [2001:db8::53]:53:[::]/0:*'].join('\n'));
  assert.equal(rs.decide('tcp_client', E('::', 0), E('2001:db8:5::1', 443)), 'os');
  assert.equal(rs.decide('tcp_client', E('::', 0), E('2001:db9::1', 443)), 'xlio');
  assert.equal(rs.decide('udp_sender', ANY, E('ff02::fb', 5353)), 'os');
  assert.equal(rs.decide('udp_receiver', E('::', 5353), undefined), 'os');
  assert.equal(rs.decide('udp_receiver', E('0.0.0.0', 5353)), 'xlio', 'an IPv4 wildcard bind is not IPv6');
  assert.equal(rs.decide('udp_connect', E('fd00::7', 4000), E('2001:db8::53', 53)), 'os');
  assert.equal(rs.decide('udp_connect', E('198.18.0.1', 4000), E('2001:db8::53', 53)), 'xlio');
});

test('ports: exact, ranges (inclusive) and *; port 0 (unbound) matches only *', () => {
  const rs = rules('use os tcp_server *:8080\nuse os udp_receiver *:5000-5009\nuse os tcp_client *:*:*:1-1023');
  assert.equal(rs.decide('tcp_server', E('::', 8080)), 'os');
  assert.equal(rs.decide('tcp_server', E('::', 8081)), 'xlio');
  for (const [p, os] of [[4999, false], [5000, true], [5005, true], [5009, true], [5010, false]] as const) assert.equal(rs.decide('udp_receiver', E('0.0.0.0', p)), os ? 'os' : 'xlio', `port ${p}`);
  assert.equal(rs.decide('tcp_client', E('198.18.0.1', 1023), E('198.18.0.2', 80)), 'os');
  assert.equal(rs.decide('tcp_client', E('198.18.0.1', 1024), E('198.18.0.2', 80)), 'xlio');
  assert.equal(rs.decide('tcp_client', E('198.18.0.1', 0), E('198.18.0.2', 80)), 'xlio', 'an unbound local port matches no number');
  assert.equal(rules('use os tcp_server *:*').decide('tcp_server', E('::', 0)), 'os');
  assert.equal(rules('use os tcp_server *:65535').decide('tcp_server', E('::', 65535)), 'os');
  assert.equal(rules('use os tcp_server *:1').decide('tcp_server', E('::', 1)), 'os');
});

test('first match wins; xlio rules can carve exceptions out of os rules; no match is offload', () => {
  const rs = rules(['use xlio tcp_server 198.18.0.1:80', 'use os tcp_server 198.18.0.0/24:*', 'use xlio tcp_server *:*'].join('\n'));
  assert.equal(rs.decide('tcp_server', E('198.18.0.1', 80)), 'xlio');
  assert.equal(rs.decide('tcp_server', E('198.18.0.1', 81)), 'os');
  assert.equal(rs.decide('tcp_server', E('198.18.1.1', 81)), 'xlio');
  assert.equal(rs.match('tcp_server', E('198.18.0.1', 81))?.line, 2);
  const reversed = rules(['use os tcp_server 198.18.0.0/24:*', 'use xlio tcp_server 198.18.0.1:80'].join('\n'));
  assert.equal(reversed.decide('tcp_server', E('198.18.0.1', 80)), 'os', 'the earlier os rule wins');
  assert.equal(rules('use os tcp_server 1.2.3.4:80').decide('tcp_server', E('1.2.3.4', 81)), 'xlio');
});

test('application-id blocks: program patterns, user-defined ids, *, first matching block decides', () => {
  const text = [
    'use os tcp_server *:1', // before any application-id: the implicit block '* *'
    'application-id server.js *',
    'use os tcp_server *:2',
    'application-id db2* B1',
    'use os tcp_server *:3',
    'application-id t?cp.js *',
    'use os tcp_server *:4',
    'application-id * B2',
    'use os tcp_server *:5',
  ].join('\n');
  const portOs = (program: string, appId?: string): number[] => {
    const rs = rules(text, program, appId);
    return [1, 2, 3, 4, 5].filter((p) => rs.decide('tcp_server', E('::', p)) === 'os');
  };
  // The implicit '* *' block comes first and matches everyone: it decides.
  assert.deepEqual(portOs('server.js'), [1]);
  const later = text.split('\n').slice(1).join('\n');
  const portOs2 = (program: string, appId?: string): number[] => {
    const rs = rules(later, program, appId);
    return [1, 2, 3, 4, 5].filter((p) => rs.decide('tcp_server', E('::', p)) === 'os');
  };
  assert.deepEqual(portOs2('server.js'), [2]);
  assert.deepEqual(portOs2('server.jsx'), [], 'no block: offloaded');
  assert.deepEqual(portOs2('db2admin'), [], 'B1 blocks need XLIO_APPLICATION_ID=B1');
  assert.deepEqual(portOs2('db2admin', 'B1'), [3]);
  assert.deepEqual(portOs2('db2admin', 'B2'), [5], 'db2* B1 does not match id B2; * B2 does');
  assert.deepEqual(portOs2('db2admin', '*'), [3], 'XLIO_APPLICATION_ID=* matches every block');
  assert.deepEqual(portOs2('ttcp.js'), [4]);
  assert.deepEqual(portOs2('tcp.js'), [], '? is exactly one character');
  assert.deepEqual(portOs2('other', 'B2'), [5]);
  // A block reopened with the same fields collects the later rules too.
  const reopened = rules('application-id a.js *\nuse os tcp_server *:1\napplication-id b.js *\nuse os tcp_server *:2\napplication-id a.js *\nuse os tcp_server *:3', 'a.js');
  assert.deepEqual(reopened.rules.map((r) => r.line), [2, 6]);
  // The program name: the script's basename, 'node' without one.
  assert.equal(programName(['/usr/bin/node', '/srv/app/server.js']), 'server.js');
  assert.equal(programName(['/usr/bin/node']), 'node');
});

test('fnmatch-style program patterns', () => {
  assert.ok(globMatch('*', 'anything'));
  assert.ok(globMatch('db2*', 'db2'));
  assert.ok(globMatch('t?cp', 'ttcp'));
  assert.ok(!globMatch('t?cp', 'tcp'));
  assert.ok(globMatch('[st]erver.js', 'server.js'));
  assert.ok(!globMatch('[!st]erver.js', 'server.js'));
  assert.ok(globMatch('app[0-9].js', 'app7.js'));
  assert.ok(globMatch('a\\*b', 'a*b'));
  assert.ok(!globMatch('a\\*b', 'axb'));
  assert.ok(globMatch('*.js', 'x.js') && !globMatch('*.js', 'x.mjs'));
});

test('comments, blank lines and whitespace (spaces, tabs, CRLF) are ignored, as in XLIO', () => {
  const text = '# header\r\n\r\n   \t# indented comment\r\n\tapplication-id\t*   *  # trailing\r\nuse   os\ttcp_server   198.18.0.0/24 : 80 - 90   # blanks around : and - are XLIO\'s too\r\n';
  const p = parseRules(text, 'r.conf');
  assert.deepEqual(p.errors, []);
  assert.equal(p.blocks[0]!.rules[0]!.text, 'use os tcp_server 198.18.0.0/24:80-90');
  assert.equal(p.blocks[0]!.rules[0]!.line, 5);
  const rs = rulesFromText(text, { program: 'x' });
  assert.equal(rs.decide('tcp_server', E('198.18.0.9', 85)), 'os');
  // log statements are checked and ignored.
  assert.deepEqual(errorsOf('log destination file xlio.log min-level 4\nlog destination stderr\nlog min-level 9'), []);
});

test('every parse error, with its line and column', () => {
  const cases: [string, string][] = [
    ['frobnicate', "1:1: expected 'application-id', 'use' or 'log', got 'frobnicate'"],
    ['USE os tcp_server *:1', "1:1: expected 'application-id', 'use' or 'log', got 'USE' (keywords are lower case)"],
    ['application-id', "1:15: 'application-id' needs a program name and a user-defined id (either may be '*'), got end of line"],
    ['application-id app', "1:19: 'application-id' needs a program name and a user-defined id (either may be '*'), got only 'app'"],
    ['application-id a b c', "1:20: unexpected 'c' after 'application-id a b'"],
    ['use', "1:4: expected 'xlio' or 'os' after 'use', got end of line"],
    ['use offload tcp_server *:80', "1:5: expected 'xlio' or 'os' after 'use', got 'offload'"],
    ['use vma tcp_server *:80', "1:5: expected 'xlio' or 'os' after 'use', got 'vma' (libvma's 'vma' is 'xlio' here)"],
    ['use xlio tcp', "1:10: expected tcp_server, tcp_client, udp_sender, udp_receiver or udp_connect after 'use xlio', got 'tcp'"],
    ['use xlio tcp_server', "1:20: expected an address ('*', an IPv4 address such as 192.168.1.0/24, or an IPv6 address in brackets such as [fd00::1]) after 'tcp_server', got end of line"],
    ['use xlio tcp_server *', "1:22: expected ':' and a port after the address *, got end of line"],
    ['use xlio tcp_server *:', "1:23: expected a port (1-65535), a range (1024-2047) or '*', got end of line"],
    ['use xlio tcp_server *:0', '1:23: port 0 is out of range: ports are 1 to 65535'],
    ['use xlio tcp_server *:65536', '1:23: port 65536 is out of range: ports are 1 to 65535'],
    ['use xlio tcp_server *:90-80', '1:26: the port range 90-80 ends below its start'],
    ['use xlio tcp_server *:http', "1:23: expected a port (1-65535), a range (1024-2047) or '*', got 'http'"],
    ['use xlio tcp_server 1.2.3:80', "1:26: '1.2.3' is not an IPv4 address: expected four numbers separated by '.', got ':'"],
    ['use xlio tcp_server 1.2.3.256:80', '1:27: 256 is above 255 in an IPv4 address'],
    ['use xlio tcp_server 01.2.3.4:80', "1:21: '01' in an IPv4 address: octets are written in decimal without leading zeros"],
    ['use xlio tcp_server 1.2.3.4/33:80', '1:29: prefix length 33 is above 32, the most an IPv4 address has'],
    ['use xlio tcp_server 1.2.3.4/:80', "1:29: expected a prefix length from 0 to 32 after '/', got ':'"],
    ['use xlio tcp_server [fd00::1]/129:80', '1:31: prefix length 129 is above 128, the most an IPv6 address has'],
    ['use xlio tcp_server [fd00::/64]:80', '1:21: the prefix length of an IPv6 address goes after the brackets, e.g. [fd00::]/64:80'],
    ['use xlio tcp_server [fd00::1:80', "1:21: '[' opens an IPv6 address that is never closed with ']'"],
    ['use xlio tcp_server [fd00:::1]:80', "1:22: 'fd00:::1' is not an IPv6 address"],
    ['use xlio tcp_server fd00::1:80', '1:21: IPv6 addresses are written in brackets, e.g. [fd00::1]/64:80'],
    ['use xlio tcp_server ::1:80', '1:21: IPv6 addresses are written in brackets, e.g. [fd00::1]/64:80'],
    ['use xlio tcp_server [::ffff:1.2.3.4]/64:*', '1:21: an IPv4-mapped prefix shorter than /96 mixes IPv4 and IPv6; write the IPv4 form (a.b.c.d/n) or a plain IPv6 prefix'],
    ['use xlio tcp_server *:80:*:*', "1:25: tcp_server takes one address:port (the local end); unexpected ':' after *:80"],
    ['use xlio udp_receiver *:80:*:*', "1:27: udp_receiver takes one address:port (the local end); unexpected ':' after *:80"],
    ['use xlio udp_sender *:80:*:*', "1:25: udp_sender takes one address:port (the remote end); unexpected ':' after *:80"],
    ['use xlio tcp_client *:80 *:*', "1:26: unexpected '*' after *:80 (the local part follows the remote one after ':', e.g. 'use xlio tcp_client *:80:*:*')"],
    ['use xlio udp_connect *:53:*:*:*', "1:30: unexpected ':' after the local part *:*"],
    ['use xlio tcp_client *:80:', "1:26: expected an address ('*', an IPv4 address such as 192.168.1.0/24, or an IPv6 address in brackets such as [fd00::1]) after '*:80:', got end of line"],
    ['use xlio tcp_server $:80', "1:21: expected an address ('*', an IPv4 address such as 192.168.1.0/24, or an IPv6 address in brackets such as [fd00::1]) after 'tcp_server', got '$'"],
    ['log destination mail', "1:17: expected stderr, syslog or file <name> after 'destination', got 'mail'"],
    ['log destination file', "1:21: expected a file name after 'destination file', got end of line"],
    ['log min-level 10', "1:15: expected a level from 1 to 9 after 'min-level', got '10'"],
    ['log verbose', "1:5: expected 'destination' or 'min-level' in a log statement, got 'verbose'"],
  ];
  for (const [text, want] of cases) assert.deepEqual(errorsOf(text), [want], text);
  // Every bad line is reported, on its own line number, and the good ones still parse.
  const many = '# ok\nuse os tcp_server *:80\nuse os tcp_server *:0\n\n  use bad tcp_server *:1\napplication-id x\n';
  const p = parseRules(many, '/etc/libxlio.conf');
  assert.deepEqual(
    p.errors.map((e) => e.message),
    ['/etc/libxlio.conf:3:21: port 0 is out of range: ports are 1 to 65535', "/etc/libxlio.conf:5:7: expected 'xlio' or 'os' after 'use', got 'bad'", "/etc/libxlio.conf:6:17: 'application-id' needs a program name and a user-defined id (either may be '*'), got only 'x'"],
  );
  assert.ok(p.errors.every((e) => e instanceof RuleParseError && e.file === '/etc/libxlio.conf'));
  assert.throws(() => rulesFromText(many), (e: unknown) => e instanceof RulesFileError && e.errors.length === 3);
});

test('loadRules: XLIO_CONFIG_FILE, the default path, XLIO_APPLICATION_ID, unreadable files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xlio-rules-'));
  try {
    const f = join(dir, 'libxlio.conf');
    writeFileSync(f, 'application-id * *\nuse os udp_connect *:53\napplication-id * B1\nuse os tcp_server *:80\n');
    const rs = loadRules({ XLIO_CONFIG_FILE: f }, { program: 'app.js' });
    assert.equal(rs.source, f);
    assert.equal(rs.decide('udp_connect', ANY, E('198.18.0.1', 53)), 'os');
    assert.equal(rs.decide('tcp_server', E('::', 80)), 'xlio');
    // The first matching block decides: '* *' matches id B1 too and comes first.
    assert.equal(loadRules({ XLIO_CONFIG_FILE: f, XLIO_APPLICATION_ID: 'B1' }, { program: 'a' }).decide('tcp_server', E('::', 80)), 'xlio');
    writeFileSync(f, 'application-id * B1\nuse os tcp_server *:80\napplication-id * *\nuse os udp_connect *:53\n');
    assert.equal(loadRules({ XLIO_CONFIG_FILE: f, XLIO_APPLICATION_ID: 'B1' }, { program: 'a' }).decide('tcp_server', E('::', 80)), 'os');
    assert.equal(loadRules({ XLIO_CONFIG_FILE: f }, { program: 'a' }).decide('tcp_server', E('::', 80)), 'xlio');
    // The default path is /etc/libxlio.conf; absent, there are no rules.
    let asked = '';
    const none = loadRules({}, {
      program: 'a',
      readFile: (p) => {
        asked = p;
        throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      },
    });
    assert.equal(asked, '/etc/libxlio.conf');
    assert.equal(none.decide('tcp_server', E('::', 80)), 'xlio');
    assert.equal(none.block, null);
    // A file that XLIO_CONFIG_FILE names must exist; a bad file is refused with its errors.
    assert.throws(() => loadRules({ XLIO_CONFIG_FILE: join(dir, 'missing.conf') }), (e: unknown) => e instanceof RulesFileError && /cannot read the rules file: no such file \(named by XLIO_CONFIG_FILE\)/.test(e.message));
    writeFileSync(f, 'use os tcp_server *:99999\n');
    assert.throws(() => loadRules({ XLIO_CONFIG_FILE: f }), (e: unknown) => e instanceof RulesFileError && e.errors[0]!.line === 1 && e.errors[0]!.column === 21);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ── Property test: decide() against a naive reference ─────────────────────────────────────

/** A rule of the generator: the family, a network as bigint, a prefix, and ports. */
interface GenEnd {
  fam: 0 | 4 | 6;
  net: bigint;
  prefix: number;
  ports: [number, number] | null;
}
interface GenRule {
  os: boolean;
  kind: RuleKind;
  first: GenEnd;
  second: GenEnd | null;
}

const v4s = ['198.18.0.1', '198.18.0.2', '198.18.1.1', '10.0.0.1', '0.0.0.0'];
const v6s = ['fd00::1', 'fd00::2', 'fd00:0:0:1::1', '2001:db8::1', '::'];

function toBig(addr: string): { fam: 4 | 6; v: bigint } {
  if (!addr.includes(':')) return { fam: 4, v: addr.split('.').reduce((a, o) => (a << 8n) | BigInt(o), 0n) };
  // Expand '::' by hand (the reference must not reuse the code under test).
  const [h = '', t] = addr.split('::');
  const hs = h === '' ? [] : h.split(':');
  const ts = t === undefined || t === '' ? [] : t.split(':');
  const groups = t === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  return { fam: 6, v: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

function text(e: GenEnd): string {
  let a: string;
  if (e.fam === 0) a = '*';
  else if (e.fam === 4) a = `${[24n, 16n, 8n, 0n].map((s) => (e.net >> s) & 255n).join('.')}/${e.prefix}`;
  else a = `[${[112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => ((e.net >> s) & 0xffffn).toString(16)).join(':')}]/${e.prefix}`;
  const p = e.ports === null ? '*' : e.ports[0] === e.ports[1] ? `${e.ports[0]}` : `${e.ports[0]}-${e.ports[1]}`;
  return `${a}:${p}`;
}

function refEnd(e: GenEnd, addr: string, port: number): boolean {
  if (e.ports !== null && (port < e.ports[0] || port > e.ports[1])) return false;
  if (e.fam === 0) return true;
  const a = toBig(addr);
  if (a.fam !== e.fam) return false;
  const bits = e.fam === 4 ? 32 : 128;
  const shift = BigInt(bits - e.prefix);
  return a.v >> shift === e.net >> shift;
}

function reference(rs: GenRule[], kind: RuleKind, local: SocketEnd, remote: SocketEnd): 'xlio' | 'os' {
  for (const r of rs) {
    if (r.kind !== kind) continue;
    const localFirst = kind === 'tcp_server' || kind === 'udp_receiver';
    const firstEnd = localFirst ? local : remote;
    if (!refEnd(r.first, firstEnd.address, firstEnd.port)) continue;
    if (r.second !== null && !refEnd(r.second, local.address, local.port)) continue;
    return r.os ? 'os' : 'xlio';
  }
  return 'xlio';
}

test('property: decide() equals a naive reference over random rules and addresses (IPv4 and IPv6)', () => {
  const port = fc.constantFrom(0, 1, 53, 80, 81, 443, 5000, 65535);
  const ports = fc.oneof(fc.constant(null), fc.tuple(fc.integer({ min: 1, max: 6000 }), fc.integer({ min: 0, max: 600 })).map(([a, d]): [number, number] => [a, Math.min(65535, a + d)]), fc.constantFrom<[number, number]>([80, 80], [53, 53], [1, 65535]));
  const end = fc.oneof(
    fc.record({ fam: fc.constant(0 as const), net: fc.constant(0n), prefix: fc.constant(0), ports }),
    fc.tuple(fc.constantFrom(...v4s), fc.integer({ min: 0, max: 32 }), ports).map(([a, p, pr]): GenEnd => ({ fam: 4, net: toBig(a).v, prefix: p, ports: pr })),
    fc.tuple(fc.constantFrom(...v6s), fc.constantFrom(0, 8, 16, 48, 64, 96, 112, 127, 128), ports).map(([a, p, pr]): GenEnd => ({ fam: 6, net: toBig(a).v, prefix: p, ports: pr })),
  );
  const kind = fc.constantFrom<RuleKind>('tcp_server', 'tcp_client', 'udp_sender', 'udp_receiver', 'udp_connect');
  const rule = fc.record({ os: fc.boolean(), kind, first: end, second: end }).map((r): GenRule => ({ ...r, second: r.kind === 'tcp_client' || r.kind === 'udp_connect' ? r.second : null }));
  const addr = fc.constantFrom(...v4s, ...v6s, '198.18.0.200', 'fd00::ffff', '::ffff:198.18.0.1');
  fc.assert(
    fc.property(fc.array(rule, { maxLength: 12 }), fc.array(fc.tuple(kind, addr, port, addr, port), { minLength: 1, maxLength: 20 }), (rs, queries) => {
      const file = rs.map((r) => `use ${r.os ? 'os' : 'xlio'} ${r.kind} ${text(r.first)}${r.second !== null ? `:${text(r.second)}` : ''}`).join('\n');
      const set = rulesFromText(file, { program: 'p' });
      for (const [k, la, lp, ra, rp] of queries) {
        // The reference reads '::ffff:a.b.c.d' as IPv4, as documented.
        const norm = (a: string): string => (a.startsWith('::ffff:') ? a.slice(7) : a);
        const want = reference(rs, k, E(norm(la), lp), E(norm(ra), rp));
        assert.equal(set.decide(k, E(la, lp), E(ra, rp)), want, `${file}\n${k} ${la}:${lp} → ${ra}:${rp}`);
      }
    }),
    { numRuns: 400, seed: 0x5eed },
  );
});

// ── KI-18 ────────────────────────────────────────────────────────────────────────────────

test('KI-18 an address only the host kernel owns goes to the OS, whatever the rules say', () => {
  const view = hostView({});
  assert.ok(view.kernel.includes('127.0.0.1'), `os.networkInterfaces() lists loopback: ${view.kernel.join(', ')}`);
  const onLink: HostView = { kernel: [...view.kernel, '198.18.0.2', 'fd00:18::2'], xlio: ['198.18.0.1', 'fd00:18::1'], onLink: true };
  const loopbackOnly: HostView = { ...onLink, xlio: [], onLink: false };
  // The kernel's interface addresses: only the kernel has them.
  assert.equal(ownedByKernelOnly('198.18.0.2', onLink), true);
  assert.equal(ownedByKernelOnly('fd00:18::2', onLink), true);
  assert.equal(ownedByKernelOnly('::ffff:198.18.0.2', onLink), true);
  // xlio-ts's own addresses and everything else are not the kernel's alone.
  assert.equal(ownedByKernelOnly('198.18.0.1', onLink), false);
  assert.equal(ownedByKernelOnly('198.18.0.3', onLink), false);
  assert.equal(ownedByKernelOnly('fd00:18::1', onLink), false);
  assert.equal(ownedByKernelOnly('example.com', onLink), false);
  // Loopback: the kernel's when xlio-ts is on a link (all of 127/8 and ::1), xlio-ts's own otherwise.
  for (const lo of ['127.0.0.1', '127.1.2.3', '::1']) {
    assert.equal(ownedByKernelOnly(lo, onLink), true, lo);
    assert.equal(ownedByKernelOnly(lo, loopbackOnly), false, lo);
  }
  // A real kernel interface address of this machine (not loopback), if it has one.
  const real = view.kernel.find((a) => a !== '127.0.0.1' && a !== '::1' && !a.startsWith('fe80'));
  if (real !== undefined) assert.equal(ownedByKernelOnly(real, { kernel: view.kernel, xlio: [], onLink: false }), true, real);

  const rs = rules('use xlio tcp_client *:*:*:*\nuse os tcp_client 203.0.113.0/24:*');
  // The rules offload everything; route() still sends kernel-only peers to the OS, with the reason.
  const r = rs.route('tcp_client', ANY, E('198.18.0.2', 6379), onLink);
  assert.equal(r.transport, 'os');
  assert.match(r.reason, /^KI-18: the peer 198\.18\.0\.2 belongs to the host kernel only/);
  assert.equal(rs.decide('tcp_client', ANY, E('198.18.0.2', 6379)), 'xlio', 'decide() is the rules alone');
  assert.equal(rs.route('tcp_client', ANY, E('127.0.0.1', 6379), onLink).transport, 'os');
  assert.equal(rs.route('tcp_client', ANY, E('127.0.0.1', 6379), loopbackOnly).transport, 'xlio');
  const offloaded = rs.route('tcp_client', ANY, E('198.18.0.9', 80), onLink);
  assert.deepEqual([offloaded.transport, offloaded.reason], ['xlio', 'r.conf:1: use xlio tcp_client *:*:*:*']);
  // Servers and receivers bound to a kernel-only address go to the OS too.
  assert.equal(rs.route('tcp_server', E('198.18.0.2', 80), undefined, onLink).transport, 'os');
  assert.equal(rs.route('udp_receiver', E('198.18.0.1', 80), undefined, onLink).transport, 'xlio');
  assert.equal(rs.route('udp_sender', ANY, E('fd00:18::2', 53), onLink).transport, 'os');
  // An os rule is reported as the reason.
  assert.equal(rules('use os tcp_client 203.0.113.0/24:*').route('tcp_client', ANY, E('203.0.113.5', 1), onLink).reason, 'r.conf:1: use os tcp_client 203.0.113.0/24:*');
  assert.equal(rules('application-id * *').route('tcp_server', E('::', 80), undefined, onLink).reason, "no rule matches: offloaded (XLIO's default)");
  assert.equal(rules('').route('tcp_server', E('::', 80), undefined, onLink).reason, "no rules: offloaded (XLIO's default)");
  assert.equal(rules('application-id other.js *\nuse os tcp_server *:*').route('tcp_server', E('::', 80), undefined, onLink).reason, "no application-id block applies to this program: offloaded (XLIO's default)");
});

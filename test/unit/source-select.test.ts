import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv6, formatIpv6 } from '../../src/wire/address.js';
import {
  commonPrefixLength, ipv6Scope, policyLabel, policyPrecedence, selectSource, type SourceCandidate,
} from '../../src/stack/source-select.js';

const ETH0 = 1;
const ETH1 = 2;

function addr(text: string, more: Partial<SourceCandidate> = {}): SourceCandidate {
  return { address: ipv6(text), prefixLength: 64, ifindex: ETH0, deprecated: false, ...more };
}

function pick(dst: string, candidates: SourceCandidate[], out = ETH0, preferTemporary = false): string | null {
  const s = selectSource(ipv6(dst), candidates, out, { preferTemporary });
  return s === null ? null : formatIpv6(s.address);
}

/** Both orders give the same answer: the rules, not the list order, decide. */
function pickBothWays(dst: string, a: SourceCandidate, b: SourceCandidate, out = ETH0, preferTemporary = false): string | null {
  const r = pick(dst, [a, b], out, preferTemporary);
  assert.equal(pick(dst, [b, a], out, preferTemporary), r, 'order-independent');
  return r;
}

// RFC 6724 §10.1, one test per example.
test('source-select §10.1: 2001:db8:1::1 from 2001:db8:3::1 or fe80::1 → 2001:db8:3::1 (appropriate scope)', () => {
  assert.equal(pickBothWays('2001:db8:1::1', addr('2001:db8:3::1'), addr('fe80::1')), '2001:db8:3::1');
});

test('source-select §10.1: ff05::1 from 2001:db8:3::1 or fe80::1 → 2001:db8:3::1 (appropriate scope)', () => {
  assert.equal(pickBothWays('ff05::1', addr('2001:db8:3::1'), addr('fe80::1')), '2001:db8:3::1');
});

test('source-select §10.1: 2001:db8:1::1 from 2001:db8:1::1 (deprecated) or 2001:db8:2::1 → 2001:db8:1::1 (same address)', () => {
  assert.equal(pickBothWays('2001:db8:1::1', addr('2001:db8:1::1', { deprecated: true }), addr('2001:db8:2::1')), '2001:db8:1::1');
});

test('source-select §10.1: fe80::1 from fe80::2 (deprecated) or 2001:db8:1::1 → fe80::2 (appropriate scope)', () => {
  assert.equal(pickBothWays('fe80::1', addr('fe80::2', { deprecated: true }), addr('2001:db8:1::1')), 'fe80::2');
});

test('source-select §10.1: 2001:db8:1::1 from 2001:db8:1::2 or 2001:db8:3::2 → 2001:db8:1::2 (longest matching prefix)', () => {
  assert.equal(pickBothWays('2001:db8:1::1', addr('2001:db8:1::2'), addr('2001:db8:3::2')), '2001:db8:1::2');
});

test('source-select §10.1: the home-address example (rule 4) is not implemented; rule 8 decides instead', () => {
  // RFC: 2001:db8:1::2 (care-of) or 2001:db8:3::2 (home) → 2001:db8:3::2. Without Mobile
  // IPv6 the two are plain addresses, and Linux too picks the longer match.
  assert.equal(pickBothWays('2001:db8:1::1', addr('2001:db8:1::2'), addr('2001:db8:3::2')), '2001:db8:1::2');
});

test('source-select §10.1: 2002:c633:6401::1 from a 6to4 temporary or 2001:db8:1::2 → the 6to4 one (matching label)', () => {
  const r = pickBothWays('2002:c633:6401::1', addr('2002:c633:6401::d5e3:7953:13eb:22e8', { temporary: true }), addr('2001:db8:1::2'));
  assert.equal(r, '2002:c633:6401:0:d5e3:7953:13eb:22e8');
});

test('source-select §10.1: 2001:db8:1::d5e3:0:0:1 from 2001:db8:1::2 or a temporary → the temporary (prefer temporary)', () => {
  const pub = addr('2001:db8:1::2');
  const tmp = addr('2001:db8:1::d5e3:7953:13eb:22e8', { temporary: true });
  // As RFC 6724 words rule 7 (Linux with IPV6_PREFER_SRC_TMP or use_tempaddr=2):
  assert.equal(pickBothWays('2001:db8:1::d5e3:0:0:1', pub, tmp, ETH0, true), '2001:db8:1:0:d5e3:7953:13eb:22e8');
  // Linux's default (use_tempaddr=0, no socket preference) keeps the public address,
  // although the temporary one has the longer match.
  assert.equal(pickBothWays('2001:db8:1::d5e3:0:0:1', pub, tmp), '2001:db8:1::2');
});

test('source-select: a deprecated address loses to a preferred one of the same scope (rule 3)', () => {
  assert.equal(pickBothWays('2001:db8:1::1', addr('2001:db8:1::2', { deprecated: true }), addr('2001:db8:9::2')), '2001:db8:9::2');
});

test('source-select: the outgoing interface wins over a longer match elsewhere (rule 5)', () => {
  assert.equal(pickBothWays('2001:db8:1::1', addr('2001:db8:1::2', { ifindex: ETH1 }), addr('2001:db8:9::2', { ifindex: ETH0 }), ETH0), '2001:db8:9::2');
  assert.equal(pickBothWays('2001:db8:1::1', addr('2001:db8:1::2', { ifindex: ETH1 }), addr('2001:db8:9::2', { ifindex: ETH0 }), ETH1), '2001:db8:1::2');
});

test('source-select: tentative addresses are never chosen, even the same address', () => {
  assert.equal(pickBothWays('2001:db8:1::1', addr('2001:db8:1::1', { tentative: true }), addr('fe80::1')), 'fe80::1');
  assert.equal(pick('2001:db8:1::1', [addr('2001:db8:1::1', { tentative: true })]), null);
  assert.equal(pick('2001:db8:1::1', []), null);
});

test('source-select: link-local and multicast destinations take only the outgoing interface\'s addresses', () => {
  assert.equal(pick('fe80::1', [addr('fe80::2', { ifindex: ETH1 })], ETH0), null);
  assert.equal(pickBothWays('fe80::1', addr('fe80::2', { ifindex: ETH1 }), addr('fe80::3', { ifindex: ETH0 }), ETH1), 'fe80::2');
  assert.equal(pickBothWays('ff02::1', addr('fe80::2', { ifindex: ETH1 }), addr('2001:db8::3', { ifindex: ETH0 }), ETH1), 'fe80::2');
  // A global destination may use another interface's address.
  assert.equal(pick('2001:db8:1::1', [addr('2001:db8:1::2', { ifindex: ETH1 })], ETH0), '2001:db8:1::2');
});

test('source-select: rule 8 counts no further than the source\'s prefix length', () => {
  // Both share 2001:db8:1::/64 with the destination; the /64 bound makes them tie, and the
  // first listed stays, although ::1:2 shares more bits.
  const a = addr('2001:db8:1::1:2');
  const b = addr('2001:db8:1::ff:2');
  assert.equal(pick('2001:db8:1::1:1', [b, a]), '2001:db8:1::ff:2');
  assert.equal(pick('2001:db8:1::1:1', [a, b]), '2001:db8:1::1:2');
  assert.equal(pickBothWays('2001:db8:1::1:1', { ...a, prefixLength: 128 }, b), '2001:db8:1::1:2');
});

test('source-select: a ULA source for a ULA destination beats a global one by label (rule 6)', () => {
  assert.equal(pickBothWays('fd00:1::1', addr('2001:db8::2'), addr('fd00:2::2')), 'fd00:2::2');
});

test('source-select: scopes (RFC 4291 §2.7, RFC 6724 §3.1, §3.2)', () => {
  const cases: [string, number][] = [
    ['fe80::1', 2], ['febf::1', 2], ['::1', 2], ['fec0::1', 5], ['fd00::1', 0xe], ['2001:db8::1', 0xe],
    ['ff01::1', 1], ['ff02::1', 2], ['ff05::1', 5], ['ff08::1', 8], ['ff0e::1', 0xe], ['ff15::1', 5],
    ['::ffff:127.0.0.1', 2], ['::ffff:169.254.1.1', 2], ['::ffff:10.0.0.1', 0xe], ['::ffff:198.18.0.1', 0xe],
  ];
  for (const [a, scope] of cases) assert.equal(ipv6Scope(ipv6(a)), scope, a);
});

test('source-select: the default policy table (RFC 6724 §2.1)', () => {
  const cases: [string, number, number][] = [
    ['::1', 50, 0], ['2001:db8::1', 40, 1], ['fe80::1', 40, 1], ['::ffff:198.18.0.1', 35, 4], ['2002:c633:6401::1', 30, 2],
    ['2001:0:1::1', 5, 5], ['fd00::1', 3, 13], ['fc00::1', 3, 13], ['::198.18.0.1', 1, 3], ['fec0::1', 1, 11], ['3ffe::1', 1, 12],
  ];
  for (const [a, precedence, label] of cases) {
    assert.equal(policyPrecedence(ipv6(a)), precedence, `precedence ${a}`);
    assert.equal(policyLabel(ipv6(a)), label, `label ${a}`);
  }
});

test('source-select: commonPrefixLength', () => {
  assert.equal(commonPrefixLength(ipv6('2001:db8::1'), ipv6('2001:db8::1')), 128);
  assert.equal(commonPrefixLength(ipv6('2001:db8::1'), ipv6('2001:db8::')), 127);
  assert.equal(commonPrefixLength(ipv6('2001:db8:1::'), ipv6('2001:db8:3::')), 46);
  assert.equal(commonPrefixLength(ipv6('8000::'), ipv6('::')), 0);
});

// Link specs (`--link packet:veth0,netns=x`): what parses, into what, and the messages for what does not.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLinkSpec, LinkSpecError, parseLinkSpec } from '../../src/link/link-spec.js';

test('link spec: each kind with its options', () => {
  assert.deepEqual(parseLinkSpec('packet:veth0'), { kind: 'packet', ifname: 'veth0' });
  assert.deepEqual(parseLinkSpec('packet:veth0,netns=x,bypass=off,fanout=7'), { kind: 'packet', ifname: 'veth0', netns: '/run/netns/x', qdiscBypass: false, fanout: 7 });
  assert.deepEqual(parseLinkSpec('xdp:eth1,netns=/var/run/netns/k,queue=3,mode=skb,zerocopy=off'), {
    kind: 'xdp',
    ifname: 'eth1',
    netns: '/var/run/netns/k',
    queue: 3,
    mode: 'skb',
    zeroCopy: 'off',
  });
  assert.deepEqual(parseLinkSpec('tap:tap0,mac=02:AA:00:00:00:01'), { kind: 'tap', name: 'tap0', mac: '02:aa:00:00:00:01' });
  assert.deepEqual(parseLinkSpec('vxlan:42,local=198.18.9.1,remote=198.18.9.2:8472,mtu=1450'), {
    kind: 'vxlan',
    vni: 42,
    local: { address: '198.18.9.1', port: 4789 },
    remote: { address: '198.18.9.2', port: 8472 },
    mtu: 1450,
  });
  const v6 = parseLinkSpec('vxlan:7,local=[fd00:9::1],remote=[fd00:9::2]:4790');
  assert.deepEqual(v6.kind === 'vxlan' && v6.remote, { address: 'fd00:9::2', port: 4790 });
});

test('link spec: format and parse round-trip', () => {
  for (const text of [
    'packet:veth0',
    'packet:veth0,netns=/run/netns/x,bypass=on,fanout=0',
    'xdp:veth0,netns=/run/netns/x,queue=0,mode=native,zerocopy=auto',
    'tap:tap0,netns=/run/netns/k,mac=02:00:00:00:00:01',
    'vxlan:16777215,local=[fd00:9::1]:4789,remote=[fd00:9::2]:4789,mtu=1430,mac=02:00:00:00:00:02',
  ]) {
    assert.equal(formatLinkSpec(parseLinkSpec(text)), text);
  }
});

test('link spec: errors say what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['veth0', /a link is packet:IFNAME/],
    ['ether:veth0', /unknown link kind "ether"/],
    ['packet:', /needs an interface name/],
    ['packet:veth0,queue=1', /packet has no option "queue" \(it takes netns, bypass, fanout\)/],
    ['packet:veth0,bypass', /option bypass needs a value/],
    ['packet:veth0,bypass=maybe', /bypass must be on or off/],
    ['packet:veth0,netns=a,netns=b', /netns is given twice/],
    ['packet:averyveryverylongname', /not a valid interface name/],
    ['xdp:veth0,mode=fast', /mode must be auto, native, skb/],
    ['xdp:veth0,queue=-1', /queue must be an integer from 0 to 1023/],
    ['tap:tap0,mac=02:00', /mac must be six hex bytes/],
    ['vxlan:42,local=198.18.9.1', /vxlan needs local=ADDR and remote=ADDR/],
    ['vxlan:16777216,local=198.18.9.1,remote=198.18.9.2', /VNI must be an integer from 0 to 16777215/],
    ['vxlan:1,local=fd00::1,remote=198.18.9.2', /local must be an IPv4 address or a bracketed IPv6 address/],
    ['vxlan:1,local=[fd00::1],remote=198.18.9.2', /both be IPv4 or both IPv6/],
    ['vxlan:1,local=198.18.9.1:0,remote=198.18.9.2', /local port must be an integer from 1 to 65535/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseLinkSpec(text), (e: unknown) => e instanceof LinkSpecError && re.test(e.message), text);
  }
});

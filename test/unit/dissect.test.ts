import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { readCapture } from '../../src/link/pcap.js';
import { dissectFrame, formatDissection } from '../../src/wire/dissect.js';
import { emitEthernet, ethernetReprLength } from '../../src/wire/ethernet.js';
import { isParseError } from '../../src/wire/error.js';

const root = new URL('../../../test/fixtures/', import.meta.url);

function fixtures(dir: string): string[] {
  return readdirSync(new URL(`${dir}/`, root)).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => `${dir}/${f}`);
}

// Every frame the Linux kernel and scapy produced parses through every layer, with every
// checksum (IPv4 header, ICMP, IGMP, ICMPv6/UDP/TCP over their pseudo-headers) verified.
for (const name of [...fixtures('kernel'), ...fixtures('scapy')]) {
  test(`dissect: ${name} parses cleanly at every layer`, () => {
    const cap = readCapture(readFileSync(new URL(name, root)));
    assert.ok(!isParseError(cap), String(cap));
    assert.ok(cap.packets.length > 0);
    for (const [i, p] of cap.packets.entries()) {
      const d = dissectFrame(p.data);
      assert.equal(d.error, null, `frame ${i + 1}: ${formatDissection(d)}`);
      assert.ok(d.layers.length >= 2, `frame ${i + 1} stops at ${d.layers.map((l) => l.layer).join('/')}`);
      // The outer frame re-emits byte for byte from its Repr.
      const eth = d.layers[0]!;
      assert.ok(eth.layer === 'ethernet');
      const out = new Uint8Array(ethernetReprLength(eth.repr));
      emitEthernet(eth.repr, out);
      assert.deepEqual(out, Uint8Array.from(p.data));
    }
  });
}

test('dissect: a corrupted TCP segment stops the walk with a checksum error', () => {
  const cap = readCapture(readFileSync(new URL('kernel/tcp-sack.pcap', root)));
  assert.ok(!isParseError(cap));
  const frame = Uint8Array.from(cap.packets[0]!.data);
  frame[frame.length - 1]! ^= 0x40;
  const d = dissectFrame(frame);
  assert.equal(d.error?.kind, 'Checksum');
  assert.deepEqual(d.layers.map((l) => l.layer), ['ethernet', 'ipv4']);
});

// Codec benchmarks (issue 3): header parses per second for Ethernet + IPv4 + TCP, and
// checksum throughput over 1500-byte payloads.
//
// Baseline ("node Buffer"): the same work written the way Node code usually reads packets,
// with Buffer's readUInt16BE/readUInt32BE and a two-bytes-at-a-time checksum loop, in the
// same process and run, so the ratio is meaningful on a noisy machine.

import { EthernetFrame, EtherType } from '../src/wire/ethernet.js';
import { Ipv4Packet, IpProtocol } from '../src/wire/ipv4.js';
import { TcpOptionsScratch, TcpPacket } from '../src/wire/tcp.js';
import { foldSum, prepareChecksumBuffer, sumBytes } from '../src/wire/checksum.js';
import { emitEthernet } from '../src/wire/ethernet.js';
import { emitIpv4 } from '../src/wire/ipv4.js';
import { emitTcp } from '../src/wire/tcp.js';
import { mac } from '../src/wire/address.js';
import { measureRate, report, type BenchRow } from './report.js';

/** A batch of 64 realistic frames (timestamps on, 100-byte payloads), as a receive ring would hold. */
function makeFrames(): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) {
    const tcp = new Uint8Array(32 + 100);
    emitTcp(
      { srcPort: 40000 + i, dstPort: 80, seq: i * 1000, ack: 7, flags: 0x18, window: 501, urgentPointer: 0,
        options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamps', tsVal: i, tsEcr: 9 }], payload: new Uint8Array(100) },
      tcp, 0, { version: 4, src: 0xc6120001, dst: 0xc6120002 });
    const ip = new Uint8Array(20 + tcp.length);
    emitIpv4({ tos: 0, identification: i, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 6,
      src: 0xc6120001, dst: 0xc6120002, options: new Uint8Array(0), payload: tcp }, ip);
    const f = new Uint8Array(14 + ip.length);
    emitEthernet({ dst: mac('02:00:00:00:00:02'), src: mac('02:00:00:00:00:01'), vlans: [], etherType: EtherType.IPv4, payload: ip }, f);
    frames.push(f);
  }
  return frames;
}

const frames = makeFrames();
const buffers = frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.length));

// Ours: reused views, validation as the stack will do it (IPv4 header checksum included).
const eth = new EthernetFrame(frames[0]!);
const ip = new Ipv4Packet(frames[0]!);
const tcp = new TcpPacket(frames[0]!);
const opts = new TcpOptionsScratch();
function parseOurs(n: number): number {
  let acc = 0;
  for (let k = 0; k < n; k++) {
    const f = frames[k & 63]!;
    eth.reset(f, 0);
    if (eth.etherType !== EtherType.IPv4) continue;
    ip.reset(f, eth.payloadOffset);
    if (ip.check(f.length - ip.offset) !== 0 || ip.protocol !== IpProtocol.TCP) continue;
    tcp.reset(f, ip.payloadOffset, ip.payloadLength);
    if (tcp.check() !== 0 || tcp.readOptions(opts) !== 0) continue;
    acc += tcp.srcPort + tcp.dstPort + tcp.seq + tcp.ack + tcp.window + opts.tsVal + ip.src;
  }
  return acc;
}

function parseNode(n: number): number {
  let acc = 0;
  for (let k = 0; k < n; k++) {
    const b = buffers[k & 63]!;
    if (b.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (b[14]! & 0x0f) * 4;
    if ((b[14]! >> 4) !== 4 || b.readUInt16BE(16) > b.length - 14) continue;
    let sum = 0;
    for (let i = 14; i < 14 + ihl; i += 2) sum += b.readUInt16BE(i);
    if (foldSum(sum) !== 0xffff || b[23] !== 6) continue;
    const t = 14 + ihl;
    const doff = (b[t + 12]! >> 4) * 4;
    let tsVal = 0;
    for (let i = t + 20; i < t + doff; ) {
      const kind = b[i]!;
      if (kind === 0) break;
      if (kind === 1) { i++; continue; }
      if (kind === 8) tsVal = b.readUInt32BE(i + 2);
      i += b[i + 1]!;
    }
    acc += b.readUInt16BE(t) + b.readUInt16BE(t + 2) + b.readUInt32BE(t + 4) + b.readUInt32BE(t + 8) + b.readUInt16BE(t + 14) + tsVal + b.readInt32BE(26) /* the source address, as an int32 like ours */;
  }
  return acc;
}

const payload = new Uint8Array(1500);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 131 + 7) & 0xff;
const payloadBuf = Buffer.from(payload.buffer);
prepareChecksumBuffer(payload); // as a buffer pool does for each of its buffers
function checksumOurs(n: number): number {
  let acc = 0;
  for (let k = 0; k < n; k++) acc += foldSum(sumBytes(payload, 0, 1500));
  return acc;
}
function checksumNode(n: number): number {
  let acc = 0;
  for (let k = 0; k < n; k++) {
    let s = 0;
    for (let i = 0; i < 1500; i += 2) s += payloadBuf.readUInt16BE(i);
    acc += foldSum(s);
  }
  return acc;
}

if (parseOurs(64) !== parseNode(64)) throw new Error('the two parsers disagree; the benchmark would compare different work');
if (checksumOurs(1) !== checksumNode(1)) throw new Error('the two checksums disagree');

const rows: BenchRow[] = [
  { name: 'parse Ethernet+IPv4+TCP headers', unit: 'frames/s', ours: measureRate(parseOurs, 2_000_000), baseline: measureRate(parseNode, 2_000_000), baselineName: 'node Buffer', target: 20e6 },
  { name: 'checksum 1500 B', unit: 'B/s', ours: 1500 * measureRate(checksumOurs, 200_000), baseline: 1500 * measureRate(checksumNode, 50_000), baselineName: 'node Buffer', target: 2e9 },
];
report('xlio-ts wire codecs', rows, new URL('../../bench/results/wire.json', import.meta.url).pathname);

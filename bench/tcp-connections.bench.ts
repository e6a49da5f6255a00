// TCP connections (issue 6's benchmark).
//
// (a) Set-up and tear-down rate: connect, accept, one byte each way, close both ends (the
//     client first, so it keeps TIME-WAIT, as most clients do). Two xlio-ts stacks in one
//     thread over an in-memory wire, against Node's `net` over kernel loopback, measured in
//     the same run: one connection at a time, and 32 at a time.
// (b) Memory per idle ESTABLISHED connection with 1,000,000 connections in one process. Only
//     the server is a real stack: the client is a stateless crafted peer that answers each
//     SYN-ACK with the ACK completing the handshake (frames built with src/wire's codecs),
//     so what is measured is one side's state. Measured as process.memoryUsage()'s
//     heapUsed + external after a full GC, before and after, divided by the count.
//     With --breakdown N (default 100,000 when given without a number), a heap snapshot of
//     N connections is diffed against one taken before, by constructor: what takes the bytes.
//
// Usage: node --expose-gc dist/bench/tcp-connections.bench.js [--count N] [--breakdown [N]] [--skip-rate] [--skip-memory]
//        (or XLIO_BENCH_CONNECTIONS=N for the count; default 1,000,000).

import net from 'node:net';
import { getHeapSnapshot } from 'node:v8';
import { Stack } from '../src/stack/stack.js';
import { SeededRng } from '../src/rng.js';
import { ipv4 } from '../src/wire/address.js';
import { EtherType, ETHERNET_HEADER_LEN, emitEthernet } from '../src/wire/ethernet.js';
import { IpProtocol, IPV4_MIN_HEADER_LEN, emitIpv4 } from '../src/wire/ipv4.js';
import { TcpFlags, emitTcp, type TcpOption } from '../src/wire/tcp.js';
import { TcpState, type TcpConnection } from '../src/stack/tcp/connection.js';
import { report, type BenchRow } from './report.js';

const A = ipv4('198.18.0.1');
const B = ipv4('198.18.0.2');
const MAC_A = Uint8Array.of(2, 0, 0, 0, 0, 1);
const MAC_B = Uint8Array.of(2, 0, 0, 0, 0, 2);

const args = process.argv.slice(2);
function argValue(name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  return v !== undefined && !v.startsWith('--') ? v : '';
}
const memoryCount = Number(argValue('--count') || process.env['XLIO_BENCH_CONNECTIONS'] || 1_000_000);
const breakdownArg = argValue('--breakdown');
const breakdownCount = breakdownArg === undefined ? 0 : Number(breakdownArg || 100_000);

// ---------------------------------------------------------------------------------------
// (a) set-up and tear-down rate

/** Frames between two stacks: a FIFO of copies (the Link contract: copied before transmit returns). */
class MemoryWire {
  private frames: Uint8Array[] = [];
  private to: Stack[] = [];
  link(to: () => Stack) {
    return { mtu: 1500, transmit: (f: Uint8Array) => { this.frames.push(f.slice()); this.to.push(to()); } };
  }
  /** Delivers until nothing is left (every answer included); returns the frames delivered. */
  run(now: number): number {
    let n = 0;
    for (let round = 0; round < 64 && this.frames.length > 0; round++) {
      const frames = this.frames, to = this.to;
      this.frames = [];
      this.to = [];
      for (let i = 0; i < frames.length; i++) to[i]!.receive(frames[i]!, now);
      n += frames.length;
    }
    if (this.frames.length > 0) throw new Error('wire: frames still moving after 64 rounds');
    return n;
  }
}

function stackPair(seed: number) {
  const wire = new MemoryWire();
  const rng = new SeededRng(seed);
  const a = new Stack({ mac: MAC_A, rng: rng.fork('a'), ipv6: false });
  const b = new Stack({ mac: MAC_B, rng: rng.fork('b'), ipv6: false });
  a.addAddress(A, 24);
  b.addAddress(B, 24);
  a.addNeighbor(B, MAC_B);
  b.addNeighbor(A, MAC_A);
  a.attach(wire.link(() => b));
  b.attach(wire.link(() => a));
  return { wire, a, b };
}

/**
 * `total` connections, `parallel` at a time, on fresh stacks; returns connections per second.
 * Virtual time moves 1 µs per exchange: no timer fires, and TIME-WAIT connections stay in
 * the client's table for the whole run (as they stay in the kernel's for Node's).
 */
function oursRate(total: number, parallel: number, seed: number): number {
  const { wire, a, b } = stackPair(seed);
  const port = 5001;
  const l = b.tcp.listen(4, 0, port, 4096);
  let now = 1;
  const step = () => {
    now++;
    a.poll(now);
    b.poll(now);
    wire.run(now);
  };
  const clients: TcpConnection[] = [];
  const servers: TcpConnection[] = [];
  const one = Uint8Array.of(42);
  const buf = new Uint8Array(16);
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < total; done += parallel) {
    const k = Math.min(parallel, total - done);
    clients.length = 0;
    servers.length = 0;
    for (let i = 0; i < k; i++) clients.push(a.tcp.connect(B, port));
    step();
    for (let s = l.accept(); s !== null; s = l.accept()) servers.push(s);
    if (servers.length !== k) throw new Error(`accepted ${servers.length} of ${k}`);
    for (const c of clients) c.write(one);
    step();
    for (const s of servers) {
      if (s.read(buf) !== 1) throw new Error('server: no byte');
      s.write(buf, 0, 1);
    }
    step();
    for (const c of clients) {
      if (c.read(buf) !== 1) throw new Error('client: no byte');
      c.close();
    }
    step();
    for (const s of servers) {
      if (s.read(buf) !== 0) throw new Error('server: no end of stream');
      s.close();
    }
    step();
    for (const s of servers) if (s.state !== TcpState.Closed) throw new Error(`server left in ${s.state}`);
    for (const c of clients) if (c.state !== TcpState.TimeWait) throw new Error(`client left in ${c.state}`);
  }
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (b.tcp.size !== 0 || a.tcp.size !== total) throw new Error(`tables: client ${a.tcp.size}, server ${b.tcp.size}`);
  return total / dt;
}

function bestOf(rounds: number, fn: (round: number) => number): number {
  let best = 0;
  for (let r = 0; r < rounds; r++) best = Math.max(best, fn(r));
  return best;
}

async function nodeRate(total: number, parallel: number): Promise<number> {
  const server = net.createServer((sock) => {
    sock.on('data', (d) => sock.write(d));
    sock.on('end', () => sock.end());
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', 4096, r));
  const port = (server.address() as net.AddressInfo).port;
  const one = Buffer.of(42);
  let started = 0, finished = 0;
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const open = () => {
      started++;
      const c = net.connect(port, '127.0.0.1', () => c.write(one));
      c.once('data', () => c.end());
      c.on('error', reject);
      c.on('close', () => {
        finished++;
        if (finished === total) resolve();
        else if (started < total) open();
      });
    };
    for (let i = 0; i < Math.min(parallel, total); i++) open();
  });
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  await new Promise((r) => server.close(r));
  return total / dt;
}

// ---------------------------------------------------------------------------------------
// (b) memory per idle connection

/**
 * The stateless client: builds SYNs (with Linux's options: MSS, SACK-permitted, timestamps,
 * window scale) and the ACKs that complete handshakes. Peer ports cover 1024–65535 on one
 * address, so the stack listens on as many ports as the count needs.
 */
class CraftedPeer {
  private readonly frame = new Uint8Array(ETHERNET_HEADER_LEN + IPV4_MIN_HEADER_LEN + 40);
  private readonly tcp = new Uint8Array(40);
  private readonly empty = new Uint8Array(0);
  private ipId = 0;

  syn(srcPort: number, dstPort: number, isn: number, tsVal: number): Uint8Array {
    const options: TcpOption[] = [
      { kind: 'mss', value: 1460 }, { kind: 'sackPermitted' }, { kind: 'timestamps', tsVal, tsEcr: 0 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 },
    ];
    return this.build(srcPort, dstPort, isn, 0, TcpFlags.SYN, options);
  }

  ack(srcPort: number, dstPort: number, seq: number, ack: number, tsVal: number, tsEcr: number): Uint8Array {
    return this.build(srcPort, dstPort, seq, ack, TcpFlags.ACK, [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamps', tsVal, tsEcr }]);
  }

  private build(srcPort: number, dstPort: number, seq: number, ack: number, flags: number, options: TcpOption[]): Uint8Array {
    const tl = emitTcp({ srcPort, dstPort, seq: seq >>> 0, ack: ack >>> 0, flags, window: 502, urgentPointer: 0, options, payload: this.empty },
      this.tcp, 0, { version: 4, src: B, dst: A });
    const ipLen = emitIpv4({ tos: 0, identification: (this.ipId = (this.ipId + 1) & 0xffff), dontFragment: true, moreFragments: false, fragmentOffset: 0,
      ttl: 64, protocol: IpProtocol.TCP, src: B, dst: A, options: this.empty, payload: this.tcp.subarray(0, tl) }, this.frame, ETHERNET_HEADER_LEN);
    emitEthernet({ dst: MAC_A, src: MAC_B, vlans: [], etherType: EtherType.IPv4, payload: this.empty }, this.frame, 0);
    return this.frame.subarray(0, ETHERNET_HEADER_LEN + ipLen);
  }
}

function memoryNow(): { heap: number; external: number; arrayBuffers: number } {
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** Opens `count` idle ESTABLISHED connections on one stack; returns it and the ports used. */
function openIdle(count: number, seed: number): { s: Stack; listenPorts: number } {
  const rng = new SeededRng(seed);
  const s = new Stack({ mac: MAC_A, rng: rng.fork('server'), ipv6: false });
  s.addAddress(A, 24);
  s.addNeighbor(B, MAC_B);
  // The stack's answer to each frame arrives synchronously through transmit().
  let synAck = { seq: 0, tsVal: 0, seen: false };
  s.attach({
    mtu: 1500,
    transmit: (f: Uint8Array) => {
      const at = ETHERNET_HEADER_LEN + IPV4_MIN_HEADER_LEN;
      if ((f[at + 13]! & (TcpFlags.SYN | TcpFlags.ACK)) !== (TcpFlags.SYN | TcpFlags.ACK)) throw new Error(`unexpected segment, flags ${f[at + 13]}`);
      synAck.seq = ((f[at + 4]! << 24) | (f[at + 5]! << 16) | (f[at + 6]! << 8) | f[at + 7]!) >>> 0;
      // The timestamps option: the stack puts it first (after NOP NOP or SACK-permitted), find kind 8.
      const hl = (f[at + 12]! >>> 4) * 4;
      for (let o = at + 20; o < at + hl;) {
        const kind = f[o]!;
        if (kind === 0) break;
        if (kind === 1) { o++; continue; }
        if (kind === 8) synAck.tsVal = ((f[o + 2]! << 24) | (f[o + 3]! << 16) | (f[o + 4]! << 8) | f[o + 5]!) >>> 0;
        o += f[o + 1]!;
      }
      synAck.seen = true;
    },
  });
  const peer = new CraftedPeer();
  const PORTS_PER_LISTENER = 65536 - 1024;
  const listenPorts = Math.ceil(count / PORTS_PER_LISTENER);
  const listeners = Array.from({ length: listenPorts }, (_, k) => s.tcp.listen(4, 0, 10000 + k, 4096));
  let now = 1000;
  for (let i = 0; i < count; i++) {
    const lk = Math.floor(i / PORTS_PER_LISTENER);
    const sport = 1024 + (i % PORTS_PER_LISTENER);
    const dport = 10000 + lk;
    const isn = Math.imul(i, 0x9e3779b1) >>> 0;
    if ((i & 1023) === 0) now += 1000; // 1 ms of virtual time per 1024 connections
    const ts = Math.floor(now / 1000);
    synAck.seen = false;
    s.receive(peer.syn(sport, dport, isn, ts), now);
    if (!synAck.seen) throw new Error(`no SYN-ACK for connection ${i}`);
    s.receive(peer.ack(sport, dport, isn + 1, synAck.seq + 1, ts, synAck.tsVal), now);
    const c = listeners[lk]!.accept();
    if (c === null || c.state !== TcpState.Established) throw new Error(`connection ${i} not established`);
    if ((i & 1023) === 1023) s.poll(now);
  }
  s.poll(now);
  if (s.tcp.size !== count) throw new Error(`table holds ${s.tcp.size} of ${count}`);
  synAck = { seq: 0, tsVal: 0, seen: false };
  return { s, listenPorts };
}

interface Aggregate { count: number; size: number }

/** Self size and count by node name (constructor for objects) from a heap snapshot. */
async function heapByConstructor(): Promise<Map<string, Aggregate>> {
  const chunks: string[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(typeof chunk === 'string' ? chunk : String(chunk));
  const snap = JSON.parse(chunks.join('')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  chunks.length = 0;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const fType = fields.indexOf('type'), fName = fields.indexOf('name'), fSize = fields.indexOf('self_size');
  const out = new Map<string, Aggregate>();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + fType]!]!;
    const name = type === 'object' || type === 'native' ? snap.strings[nodes[i + fName]!]! : `(${type})`;
    const a = out.get(name) ?? { count: 0, size: 0 };
    a.count++;
    a.size += nodes[i + fSize]!;
    out.set(name, a);
  }
  return out;
}

async function breakdown(count: number): Promise<Array<{ name: string; perConnection: number; bytesPerConnection: number }>> {
  memoryNow();
  const before = await heapByConstructor();
  const kept = openIdle(count, 7);
  memoryNow();
  const after = await heapByConstructor();
  const rows: Array<{ name: string; perConnection: number; bytesPerConnection: number }> = [];
  for (const [name, a] of after) {
    const b = before.get(name) ?? { count: 0, size: 0 };
    const dSize = a.size - b.size;
    if (Math.abs(dSize) / count < 0.5) continue;
    rows.push({ name, perConnection: (a.count - b.count) / count, bytesPerConnection: dSize / count });
  }
  rows.sort((x, y) => y.bytesPerConnection - x.bytesPerConnection);
  if (kept.s.tcp.size !== count) throw new Error('lost connections');
  return rows;
}

// ---------------------------------------------------------------------------------------

const rows: BenchRow[] = [];
const extra: Record<string, unknown> = {};
if (!args.includes('--skip-rate')) {
  oursRate(2000, 1, 99); // warm-up: the optimising compiler settles
  const seq = bestOf(5, (r) => oursRate(10_000, 1, r + 1));
  const par = bestOf(5, (r) => oursRate(10_000, 32, r + 100));
  await nodeRate(500, 1);
  const nodeSeq = Math.max(await nodeRate(3000, 1), await nodeRate(3000, 1));
  const nodePar = Math.max(await nodeRate(6000, 32), await nodeRate(6000, 32));
  rows.push(
    { name: 'TCP connect+accept+1 B each way+close, one at a time', unit: 'connections/s', ours: seq, baseline: nodeSeq, baselineName: 'node net' },
    { name: 'TCP connect+accept+1 B each way+close, 32 at a time', unit: 'connections/s', ours: par, baseline: nodePar, baselineName: 'node net' },
  );
}

if (!args.includes('--skip-memory')) {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
    console.error('memory: run with node --expose-gc');
    process.exit(2);
  }
  const m0 = memoryNow();
  const t0 = performance.now();
  let kept: { s: Stack } | null = openIdle(memoryCount, 3);
  const openSec = (performance.now() - t0) / 1000;
  const m1 = memoryNow();
  const perHeap = (m1.heap - m0.heap) / memoryCount;
  const perExternal = (m1.external - m0.external) / memoryCount;
  const perArrayBuffers = (m1.arrayBuffers - m0.arrayBuffers) / memoryCount;
  const per = perHeap + perExternal;
  console.log(`\nmemory: ${memoryCount.toLocaleString('en')} idle ESTABLISHED connections on one stack (stateless crafted peer), opened in ${openSec.toFixed(1)} s ` +
    `(${(memoryCount / openSec).toFixed(0)}/s): ${per.toFixed(0)} bytes per connection = heap ${perHeap.toFixed(0)} + external ${perExternal.toFixed(0)} ` +
    `(of which ArrayBuffers ${perArrayBuffers.toFixed(0)}); target 2048 — ${per <= 2048 ? 'met' : 'MISSED'}`);
  extra['memory'] = { connections: memoryCount, side: 'server stack only; the client is a stateless crafted peer', bytesPerConnection: per,
    heapPerConnection: perHeap, externalPerConnection: perExternal, arrayBuffersPerConnection: perArrayBuffers, targetBytes: 2048, openPerSecond: memoryCount / openSec };
  if (kept.s.tcp.size !== memoryCount) throw new Error('lost connections');
  kept = null; // a heap snapshot of a million connections would not fit in one string
  // Lower is better here, so the target is the baseline column (report() marks `target` as met when above it).
  rows.push({ name: `bytes per idle ESTABLISHED connection at ${memoryCount.toLocaleString('en')}, heap+external (aim ≤ 2048)`, unit: 'bytes', ours: per, baseline: 2048, baselineName: 'aim' });
}

if (breakdownCount > 0) {
  const b = await breakdown(breakdownCount);
  console.log(`\nheap by constructor, per connection (snapshot diff over ${breakdownCount.toLocaleString('en')} connections):`);
  let total = 0;
  for (const r of b) {
    total += r.bytesPerConnection;
    console.log(`  ${r.name.padEnd(40)} ${r.perConnection.toFixed(2).padStart(6)} × ${r.perConnection ? (r.bytesPerConnection / r.perConnection).toFixed(0).padStart(5) : '    -'} B = ${r.bytesPerConnection.toFixed(0).padStart(6)} B`);
  }
  console.log(`  ${'total'.padEnd(40)} ${''.padStart(6)}   ${''.padStart(5)}   = ${total.toFixed(0).padStart(6)} B`);
  extra['breakdown'] = { connections: breakdownCount, byConstructor: b };
}

const jsonPath = new URL('../../bench/results/tcp-connections.json', import.meta.url).pathname;
report('xlio-ts engine: TCP connections', rows, jsonPath);
if (Object.keys(extra).length > 0) {
  // report() wrote the rows; add the memory details beside them.
  const { readFileSync, writeFileSync } = await import('node:fs');
  const j = JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(jsonPath, JSON.stringify({ ...j, ...extra }, null, 2) + '\n');
}

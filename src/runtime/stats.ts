// Live statistics another process can read: XLIO's xlio_stats model (per-socket, per-ring and
// per-buffer-pool counters in a shared-memory block, one per process) for xlio-ts.
//
// Cost. Nothing is added to the hot path: the stack, its interfaces, TCP connections, UDP
// sockets, the buffer pool and the poll loop already keep their counters as plain fields. A
// publisher copies them into the block on an unref'd timer, off the hot path: once a second
// while no one reads, every `fastMs` (100 ms) while a reader has asked within the last
// DEMAND_MS (a reader asks by touching `xlioSTAT.<pid>.want` in the stats directory; the
// publisher looks at that file's mtime when its timer fires). A publish walks the sockets
// and writes a few hundred bytes per socket: tens of microseconds for a few sockets.
//
// Where the block lives (XLIO_STATS_SHMEM_DIR, default /tmp/xlio as XLIO's; empty disables):
//   with the native addon   a POSIX shared-memory segment `/xlio-stats.<pid>` (shm_open +
//                           mmap; on Linux it is the file /dev/shm/xlio-stats.<pid>), written
//                           in place under a sequence lock; `<dir>/xlioSTAT.<pid>` is its
//                           descriptor: the header alone, flag LIVE_SHM, naming the segment.
//   without it              `<dir>/xlioSTAT.<pid>` is the whole block, rewritten atomically
//                           (write `.tmp`, rename) at each publish.
// A reader (readStats) reads the descriptor and then the segment (through /dev/shm, so it
// needs no addon) or the file itself. Files of processes that are gone are removed by
// listStats (and their segments unlinked).
// XLIO_STATS_FILE=path: at exit, the last counters are written there as text (formatStats,
// view 3), as XLIO dumps its statistics to that file.
//
// Layout (version 1; little-endian; counters are float64 — integers exact to 2^53; NaN means
// "not counted by this build"):
//
//   header, HEADER_BYTES (1024)
//     0  u32 magic 0x54534c58 ("XLST")     4  u32 version (1)
//     8  u32 header bytes                  12 u32 block bytes (as allocated)
//     16 u32 pid                           20 u32 flags (1 LIVE_SHM: the block is in the
//                                                  segment, this is its descriptor; 2 FINAL)
//     24 u32 sequence (odd while a publish is in progress; +2 per publish)
//     28 u32 ring capacity   32 u32 rings   36 u32 pool capacity   40 u32 pools
//     44 u32 socket capacity 48 u32 sockets (slots filled) 52 u32 sockets open (may exceed capacity)
//     64 f64 started (ms since the epoch)  72 f64 updated (ms)  80 f64 publishes  88 f64 interval (ms)
//     128 name: 64 bytes UTF-8, NUL-padded (the program)   192 segment name: 64 bytes
//     256 stack counters: STACK_FIELDS × f64     576 loop counters: LOOP_FIELDS × f64
//   rings, ring capacity × RING_SLOT (512):
//     0 u32 ifindex   4 u32 flags (1: the ring the poll loop drives, with its link)   8 name: 24 bytes
//     32 RING_FIELDS × f64
//     288 link driver counters: 7 × (name 24 bytes, f64)
//   pools, pool capacity × POOL_SLOT (128):
//     0 name: 32 bytes   32 POOL_FIELDS × f64
//   sockets, socket capacity × SOCKET_SLOT (256), last so that a file can stop after the used ones:
//     0 i32 fd   4 u8 IP protocol (6, 17)   5 u8 family (4, 6)   6 u8 TCP state (index in
//     TCP_STATES + 1; 0 none)   7 u8 role (0 socket, 1 listener)   8 u16 local port   10 u16 remote port
//     16 local address: 16 bytes (IPv4: the first 4, network order)   32 remote address: 16 bytes
//     48 SOCKET_FIELDS × f64
//
// Per-socket packet counts: the engine counts bytes per connection (received, acknowledged,
// read) but, in this build, not segments or datagrams per socket. The publisher reads them
// from fields named after Linux's tcp_info (TcpConnection.segsIn / segsOut) and, for UDP, from
// UdpSocket.rxPackets / rxBytes / txPackets / txBytes when the engine has them, NaN otherwise.

import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { nativeAddon } from '../native/addon.js';
import type { Link } from '../link/link.js';
import { TcpSocket } from '../socket/tcp-socket.js';
import { UdpSocketFile } from '../socket/udp-socket.js';
import type { Stack } from '../stack/stack.js';
import { TcpState } from '../stack/tcp/connection.js';
import { formatIpv4, formatIpv6 } from '../wire/address.js';
import { LoopStat } from './poll-loop.js';

export const STATS_MAGIC = 0x54534c58;
export const STATS_VERSION = 1;
export const HEADER_BYTES = 1024;
export const RING_SLOT = 512;
export const POOL_SLOT = 128;
export const SOCKET_SLOT = 256;
export const FLAG_LIVE_SHM = 1;
export const FLAG_FINAL = 2;
export const DEFAULT_STATS_DIR = '/tmp/xlio';
/** A reader's request (the want file's mtime) keeps the publisher fast this long. */
export const DEMAND_MS = 3000;

const H_SEQ = 24;
const H_NAME = 128;
const H_SHM = 192;
const H_STACK = 256;
const H_LOOP = 576;
const RING_FIELDS_AT = 32;
const RING_EXTRAS_AT = 288;
const RING_EXTRAS = 7;
const POOL_FIELDS_AT = 32;
const SOCKET_FIELDS_AT = 48;

export type FieldKind = 'counter' | 'gauge';
export interface Field {
  readonly name: string;
  readonly kind: FieldKind;
  readonly help: string;
}
const c = (name: string, help: string): Field => ({ name, kind: 'counter', help });
const g = (name: string, help: string): Field => ({ name, kind: 'gauge', help });

/** Stack-wide counters (Stack.counters, then the TCP layer's). */
export const STACK_FIELDS: readonly Field[] = [
  c('frames_in', 'Frames received on all interfaces'),
  c('frames_out', 'Frames sent on all interfaces'),
  c('bytes_in', 'Bytes received on all interfaces'),
  c('bytes_out', 'Bytes sent on all interfaces'),
  c('dropped_not_for_us', 'Frames not addressed to this stack'),
  c('dropped_malformed', 'Malformed frames or bad checksums'),
  c('dropped_no_route', 'Packets without a route'),
  c('dropped_unresolved', 'Packets whose next hop did not resolve'),
  c('dropped_martian', 'Packets from martian sources'),
  c('dropped_ttl', 'Packets arriving with TTL 0'),
  c('arp_requests_in', 'ARP requests received'),
  c('arp_replies_out', 'ARP replies sent'),
  c('echo_requests_in', 'ICMP echo requests received'),
  c('echo_replies_out', 'ICMP echo replies sent'),
  c('udp_in', 'UDP datagrams received'),
  c('udp_out', 'UDP datagrams sent'),
  c('udp_no_port', 'UDP datagrams to a port no socket holds'),
  c('udp_bad_checksum', 'UDP datagrams with a bad checksum'),
  c('icmp_unreachable_out', 'ICMP destination unreachable messages sent'),
  c('icmp_in', 'ICMP messages received'),
  c('icmp_bad_checksum', 'ICMP messages with a bad checksum'),
  c('icmp6_in', 'ICMPv6 messages received'),
  c('icmp6_out', 'ICMPv6 messages sent'),
  c('icmp6_bad_checksum', 'ICMPv6 messages with a bad checksum'),
  c('tcp_segments_in', 'TCP segments received'),
  c('tcp_segments_out', 'TCP segments sent'),
  c('tcp_resets_out', 'TCP resets sent'),
  c('tcp_bad_checksum', 'TCP segments with a bad checksum'),
  c('tcp_malformed', 'Malformed TCP segments'),
  c('tcp_no_socket', 'TCP segments for no socket'),
  c('tcp_active_opens', 'TCP connections opened by connect'),
  c('tcp_passive_opens', 'TCP connections opened by a listener'),
  c('tcp_retransmits', 'TCP segments retransmitted'),
];
const STACK_KEYS = [
  'framesIn', 'framesOut', 'bytesIn', 'bytesOut', 'droppedNotForUs', 'droppedMalformed', 'droppedNoRoute', 'droppedUnresolved', 'droppedMartian', 'droppedTtl',
  'arpRequestsIn', 'arpRepliesOut', 'echoRequestsIn', 'echoRepliesOut', 'udpIn', 'udpOut', 'udpNoPort', 'udpBadChecksum', 'icmpUnreachableOut', 'icmpIn',
  'icmpBadChecksum', 'icmp6In', 'icmp6Out', 'icmp6BadChecksum',
] as const;
const TCP_KEYS = ['segmentsIn', 'segmentsOut', 'resetsOut', 'badChecksum', 'malformed', 'noSocket', 'activeOpens', 'passiveOpens', 'retransmits'] as const;

/** The poll loop's counters (LoopStat), in that order. */
export const LOOP_FIELDS: readonly Field[] = [
  c('rounds', 'Poll loop rounds'),
  c('busy_rounds', 'Rounds that found work'),
  c('frames', 'Frames handed to the stack by the loop'),
  c('spins', 'Idle rounds spent spinning (XLIO_RX_POLL budget)'),
  c('parks', 'Sleeps on the link doorbell'),
  c('wakeups', 'Sleeps ended by a frame'),
  c('timeouts', 'Sleeps ended by a deadline'),
];
const LOOP_INDEX = [LoopStat.ROUNDS, LoopStat.BUSY, LoopStat.FRAMES, LoopStat.SPINS, LoopStat.PARKS, LoopStat.WAKEUPS, LoopStat.TIMEOUTS];

/** Per ring (an interface and, for the one the loop drives, its link). */
export const RING_FIELDS: readonly Field[] = [
  c('rx_packets', 'Frames received'),
  c('rx_bytes', 'Bytes received'),
  c('tx_packets', 'Frames sent'),
  c('tx_bytes', 'Bytes sent'),
  c('rx_drop_malformed', 'Received frames dropped: malformed'),
  c('rx_drop_checksum', 'Received frames dropped: bad checksum'),
  c('rx_drop_not_for_us', 'Received frames dropped: not for us'),
  c('rx_drop_martian', 'Received frames dropped: martian source'),
  c('rx_drop_ttl', 'Received frames dropped: TTL 0'),
  c('rx_drop_source_filtered', 'Received frames dropped: multicast source filter'),
  c('rx_drop_unknown_protocol', 'Received frames dropped: unknown protocol'),
  c('rx_drop_reassembly', 'Received fragments dropped by reassembly'),
  c('tx_drop_no_route', 'Frames not sent: no route'),
  c('tx_drop_unresolved', 'Frames not sent: neighbour unresolved'),
  c('tx_drop_no_link', 'Frames not sent: no link'),
  c('polls', 'Poll loop rounds on this ring'),
  c('busy_polls', 'Rounds that found work on this ring'),
  c('spins', 'Idle spinning rounds on this ring'),
  c('parks', 'Sleeps on the ring doorbell (XLIO: interrupts armed)'),
  c('wakeups', 'Sleeps ended by a frame (XLIO: interrupts)'),
];
const IFACE_KEYS = [
  'rxFrames', 'rxBytes', 'txFrames', 'txBytes', 'dropMalformed', 'dropChecksum', 'dropNotForUs', 'dropMartian', 'dropTtl', 'dropSourceFiltered',
  'dropUnknownProtocol', 'dropReassembly', 'txDropNoRoute', 'txDropUnresolved', 'txDropNoLink',
] as const;
const RING_LOOP_INDEX = [LoopStat.ROUNDS, LoopStat.BUSY, LoopStat.SPINS, LoopStat.PARKS, LoopStat.WAKEUPS];

/** Per buffer pool. */
export const POOL_FIELDS: readonly Field[] = [
  g('held_bytes', 'Bytes held free for reuse'),
  g('max_bytes', 'Most bytes the pool holds'),
  c('reused', 'Buffers served from the pool'),
  c('no_buffer', 'Buffers newly allocated because the pool had none of the size'),
];

/** Per socket. */
export const SOCKET_FIELDS: readonly Field[] = [
  c('rx_bytes', 'Bytes received (TCP: in order from the peer)'),
  c('rx_packets', 'Segments or datagrams received'),
  c('tx_bytes', 'Bytes sent (TCP: acknowledged by the peer)'),
  c('tx_packets', 'Segments or datagrams sent'),
  c('rx_drops', 'Datagrams dropped: receive buffer full'),
  g('rx_queue_bytes', 'Bytes waiting to be read'),
  g('rx_queue_packets', 'Datagrams waiting to be read'),
  g('tx_queue_bytes', 'Bytes written but not yet acknowledged'),
  c('app_read_bytes', 'Bytes the application has read'),
  c('retransmits', 'Retransmissions'),
  g('rtt_us', 'Smoothed round-trip time (us)'),
  g('cwnd', 'Congestion window (bytes)'),
  g('accept_queue', 'Connections waiting to be accepted'),
  c('listen_overflows', 'Connections dropped: accept queue full'),
];

export const TCP_STATES: readonly string[] = Object.values(TcpState);

function fieldIndex(fields: readonly Field[]): Record<string, number> {
  const r: Record<string, number> = {};
  fields.forEach((f, i) => (r[f.name] = i));
  return r;
}
const SF = fieldIndex(SOCKET_FIELDS);
const PF = fieldIndex(POOL_FIELDS);

if (H_STACK + 8 * STACK_FIELDS.length > H_LOOP || H_LOOP + 8 * LOOP_FIELDS.length > HEADER_BYTES) throw new Error('stats: header fields overflow');
if (RING_FIELDS_AT + 8 * RING_FIELDS.length > RING_EXTRAS_AT || RING_EXTRAS_AT + 32 * RING_EXTRAS > RING_SLOT) throw new Error('stats: ring fields overflow');
if (POOL_FIELDS_AT + 8 * POOL_FIELDS.length > POOL_SLOT || SOCKET_FIELDS_AT + 8 * SOCKET_FIELDS.length > SOCKET_SLOT) throw new Error('stats: slot fields overflow');

export interface Capacities {
  rings: number;
  pools: number;
  sockets: number;
}
export const DEFAULT_CAPACITIES: Capacities = { rings: 8, pools: 4, sockets: 1024 };

/** The block's size for these capacities. */
export function blockBytes(cap: Capacities): number {
  return HEADER_BYTES + cap.rings * RING_SLOT + cap.pools * POOL_SLOT + cap.sockets * SOCKET_SLOT;
}

// ---------------------------------------------------------------------------------------------
// Decoded form

export interface SocketStats {
  fd: number;
  proto: 'tcp' | 'udp';
  family: 4 | 6;
  /** TCP state name ('ESTABLISHED'…), '' for UDP. */
  state: string;
  listener: boolean;
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  counters: Record<string, number>;
}
export interface RingStats {
  ifindex: number;
  name: string;
  /** The ring the poll loop drives (its link's counters are in `link`). */
  polled: boolean;
  counters: Record<string, number>;
  link: Record<string, number>;
}
export interface PoolStats {
  name: string;
  counters: Record<string, number>;
}
export interface StatsSnapshot {
  version: number;
  pid: number;
  flags: number;
  name: string;
  shmName: string;
  startedAt: number;
  updatedAt: number;
  publishes: number;
  intervalMs: number;
  sequence: number;
  socketsOpen: number;
  stack: Record<string, number>;
  loop: Record<string, number>;
  rings: RingStats[];
  pools: PoolStats[];
  sockets: SocketStats[];
}

export class StatsFormatError extends Error {}

const enc = new TextEncoder();
const dec = new TextDecoder();

function putString(b: Uint8Array, at: number, max: number, s: string): void {
  b.fill(0, at, at + max);
  const bytes = enc.encode(s);
  let n = Math.min(bytes.length, max - 1);
  while (n > 0 && (bytes[n]! & 0xc0) === 0x80) n--; // do not cut a UTF-8 sequence
  b.set(bytes.subarray(0, n), at);
}
function getString(b: Uint8Array, at: number, max: number): string {
  let end = at;
  while (end < at + max && b[end] !== 0) end++;
  return dec.decode(b.subarray(at, end));
}

/** Offsets of the slot arrays for a header's capacities. */
function regions(ringCap: number, poolCap: number): { rings: number; pools: number; sockets: number } {
  const rings = HEADER_BYTES;
  const pools = rings + ringCap * RING_SLOT;
  return { rings, pools, sockets: pools + poolCap * POOL_SLOT };
}

function readFields(v: DataView, at: number, fields: readonly Field[]): Record<string, number> {
  const r: Record<string, number> = {};
  for (let i = 0; i < fields.length; i++) r[fields[i]!.name] = v.getFloat64(at + 8 * i, true);
  return r;
}

function formatAddress(family: number, b: Uint8Array): string {
  if (family === 4) return formatIpv4(((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0);
  return formatIpv6(b);
}

/** The header alone (for listing): pid, name, times, flags, counts. */
export function decodeHeader(bytes: Uint8Array): Omit<StatsSnapshot, 'rings' | 'pools' | 'sockets' | 'stack' | 'loop'> & { ringCap: number; poolCap: number; socketCap: number; rings: number; pools: number; sockets: number } {
  if (bytes.length < HEADER_BYTES) throw new StatsFormatError(`a stats block is at least ${HEADER_BYTES} bytes, this one has ${bytes.length}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0, true);
  if (magic !== STATS_MAGIC) throw new StatsFormatError(`not an xlio-ts stats block (magic 0x${magic.toString(16)})`);
  const version = v.getUint32(4, true);
  if (version !== STATS_VERSION) throw new StatsFormatError(`stats layout version ${version}, this reader knows ${STATS_VERSION}`);
  return {
    version,
    pid: v.getUint32(16, true),
    flags: v.getUint32(20, true),
    sequence: v.getUint32(H_SEQ, true),
    ringCap: v.getUint32(28, true),
    rings: v.getUint32(32, true),
    poolCap: v.getUint32(36, true),
    pools: v.getUint32(40, true),
    socketCap: v.getUint32(44, true),
    sockets: v.getUint32(48, true),
    socketsOpen: v.getUint32(52, true),
    startedAt: v.getFloat64(64, true),
    updatedAt: v.getFloat64(72, true),
    publishes: v.getFloat64(80, true),
    intervalMs: v.getFloat64(88, true),
    name: getString(bytes, H_NAME, 64),
    shmName: getString(bytes, H_SHM, 64),
  };
}

/** Decodes a whole block (or a file holding the header and the used slots). */
export function decodeStats(bytes: Uint8Array): StatsSnapshot {
  const h = decodeHeader(bytes);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = regions(h.ringCap, h.poolCap);
  if (h.rings > h.ringCap || h.pools > h.poolCap || h.sockets > h.socketCap) throw new StatsFormatError('stats block: more slots used than it has');
  const need = r.sockets + h.sockets * SOCKET_SLOT;
  if (bytes.length < need) throw new StatsFormatError(`stats block truncated: ${bytes.length} bytes, its header needs ${need}`);
  const rings: RingStats[] = [];
  for (let i = 0; i < h.rings; i++) {
    const at = r.rings + i * RING_SLOT;
    const link: Record<string, number> = {};
    for (let k = 0; k < RING_EXTRAS; k++) {
      const e = at + RING_EXTRAS_AT + 32 * k;
      const name = getString(bytes, e, 24);
      if (name !== '') link[name] = v.getFloat64(e + 24, true);
    }
    rings.push({ ifindex: v.getUint32(at, true), polled: (v.getUint32(at + 4, true) & 1) !== 0, name: getString(bytes, at + 8, 24), counters: readFields(v, at + RING_FIELDS_AT, RING_FIELDS), link });
  }
  const pools: PoolStats[] = [];
  for (let i = 0; i < h.pools; i++) {
    const at = r.pools + i * POOL_SLOT;
    pools.push({ name: getString(bytes, at, 32), counters: readFields(v, at + POOL_FIELDS_AT, POOL_FIELDS) });
  }
  const sockets: SocketStats[] = [];
  for (let i = 0; i < h.sockets; i++) {
    const at = r.sockets + i * SOCKET_SLOT;
    const family = bytes[at + 5] === 6 ? 6 : 4;
    const st = bytes[at + 6]!;
    sockets.push({
      fd: v.getInt32(at, true),
      proto: bytes[at + 4] === 17 ? 'udp' : 'tcp',
      family,
      state: st === 0 ? '' : (TCP_STATES[st - 1] ?? `?${st}`),
      listener: bytes[at + 7] === 1,
      localPort: v.getUint16(at + 8, true),
      remotePort: v.getUint16(at + 10, true),
      local: formatAddress(family, bytes.subarray(at + 16, at + 32)),
      remote: formatAddress(family, bytes.subarray(at + 32, at + 48)),
      counters: readFields(v, at + SOCKET_FIELDS_AT, SOCKET_FIELDS),
    });
  }
  const { ringCap: _a, poolCap: _b, socketCap: _c, rings: _d, pools: _e, sockets: _f, ...head } = h;
  return { ...head, stack: readFields(v, H_STACK, STACK_FIELDS), loop: readFields(v, H_LOOP, LOOP_FIELDS), rings, pools, sockets };
}

// ---------------------------------------------------------------------------------------------
// Writing

/** What a publisher reads: a stack, and optionally its socket API, poll loop and link. */
export interface StatsSource {
  readonly stack: Stack;
  readonly api?: { readonly fds: { readonly size: number; get(fd: number): unknown } } | null;
  readonly loop?: { readonly stats: Float64Array } | null;
  readonly link?: (Link & { counters?(): Record<string, number> }) | null;
}

/** Counters the engine may keep per socket (see the file's comment): read when present. */
interface MaybeCounted {
  segsIn?: number;
  segsOut?: number;
  rxPackets?: number;
  rxBytes?: number;
  txPackets?: number;
  txBytes?: number;
}
const num = (x: number | undefined): number => (typeof x === 'number' ? x : NaN);

/**
 * A block and how to fill it. `bytes` may be a view of shared memory; `shared` says whether
 * the sequence word is written with Atomics (another process maps it).
 */
export class StatsWriter {
  readonly bytes: Uint8Array;
  private readonly v: DataView;
  private readonly seq: Int32Array | null;
  private readonly regions: { rings: number; pools: number; sockets: number };
  /** Bytes in use after the last fill (header, rings, pools, the filled socket slots). */
  used = HEADER_BYTES;

  constructor(
    bytes: Uint8Array,
    readonly cap: Capacities,
    meta: { pid: number; name: string; shmName?: string; startedAt: number; intervalMs: number; flags?: number },
    shared = false,
  ) {
    if (bytes.length < blockBytes(cap)) throw new RangeError(`a stats block for ${JSON.stringify(cap)} needs ${blockBytes(cap)} bytes`);
    this.bytes = bytes;
    this.v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.seq = shared && bytes.buffer instanceof SharedArrayBuffer ? new Int32Array(bytes.buffer, bytes.byteOffset, HEADER_BYTES / 4) : null;
    this.regions = regions(cap.rings, cap.pools);
    const v = this.v;
    v.setUint32(0, STATS_MAGIC, true);
    v.setUint32(4, STATS_VERSION, true);
    v.setUint32(8, HEADER_BYTES, true);
    v.setUint32(12, blockBytes(cap), true);
    v.setUint32(16, meta.pid, true);
    v.setUint32(20, meta.flags ?? 0, true);
    v.setUint32(28, cap.rings, true);
    v.setUint32(36, cap.pools, true);
    v.setUint32(44, cap.sockets, true);
    v.setFloat64(64, meta.startedAt, true);
    v.setFloat64(88, meta.intervalMs, true);
    putString(bytes, H_NAME, 64, meta.name);
    putString(bytes, H_SHM, 64, meta.shmName ?? '');
  }

  set flags(f: number) {
    this.v.setUint32(20, f, true);
  }
  get flags(): number {
    return this.v.getUint32(20, true);
  }
  set intervalMs(ms: number) {
    this.v.setFloat64(88, ms, true);
  }

  private setSeq(n: number): void {
    if (this.seq !== null) Atomics.store(this.seq, H_SEQ / 4, n);
    else this.v.setUint32(H_SEQ, n >>> 0, true);
  }
  private getSeq(): number {
    return this.seq !== null ? Atomics.load(this.seq, H_SEQ / 4) >>> 0 : this.v.getUint32(H_SEQ, true);
  }

  /** Copies the source's counters into the block (under the sequence lock). */
  fill(src: StatsSource | null, now: number): void {
    const start = (this.getSeq() | 1) >>> 0; // odd: in progress
    this.setSeq(start);
    const v = this.v;
    let rings = 0;
    let pools = 0;
    let sockets = 0;
    let open = 0;
    if (src !== null) {
      const s = src.stack;
      const sc = s.counters as unknown as Record<string, number>;
      for (let i = 0; i < STACK_KEYS.length; i++) v.setFloat64(H_STACK + 8 * i, sc[STACK_KEYS[i]!] ?? NaN, true);
      const tc = s.tcp.counters as unknown as Record<string, number>;
      for (let i = 0; i < TCP_KEYS.length; i++) v.setFloat64(H_STACK + 8 * (STACK_KEYS.length + i), tc[TCP_KEYS[i]!] ?? NaN, true);
      const ls = src.loop?.stats ?? null;
      for (let i = 0; i < LOOP_FIELDS.length; i++) v.setFloat64(H_LOOP + 8 * i, ls === null ? NaN : ls[LOOP_INDEX[i]!]!, true);
      rings = this.fillRings(src, ls);
      pools = this.fillPools(src);
      [sockets, open] = this.fillSockets(src);
    }
    v.setUint32(32, rings, true);
    v.setUint32(40, pools, true);
    v.setUint32(48, sockets, true);
    v.setUint32(52, open, true);
    v.setFloat64(72, now, true);
    v.setFloat64(80, v.getFloat64(80, true) + 1, true);
    this.used = this.regions.sockets + sockets * SOCKET_SLOT;
    this.setSeq((start + 1) >>> 0);
  }

  private fillRings(src: StatsSource, ls: Float64Array | null): number {
    const v = this.v;
    let n = 0;
    const ifaces = src.stack.interfaces;
    // The loop's counters go with the interface on its link; a host with no wire (a
    // loopback-only ProcessHost) polls for lo's traffic alone.
    let onWire = false;
    for (let i = 0; i < ifaces.length; i++) if (src.link != null && ifaces[i]!.link === src.link) onWire = true;
    for (let i = 0; i < ifaces.length && n < this.cap.rings; i++) {
      const iface = ifaces[i]!;
      const at = this.regions.rings + n * RING_SLOT;
      const polled = ls !== null && (onWire ? iface.link === src.link : src.loop != null && iface === src.stack.lo);
      v.setUint32(at, i + 1, true);
      v.setUint32(at + 4, polled ? 1 : 0, true);
      putString(this.bytes, at + 8, 24, iface.name);
      const ic = iface.counters as unknown as Record<string, number>;
      for (let k = 0; k < IFACE_KEYS.length; k++) v.setFloat64(at + RING_FIELDS_AT + 8 * k, ic[IFACE_KEYS[k]!] ?? NaN, true);
      for (let k = 0; k < RING_LOOP_INDEX.length; k++) v.setFloat64(at + RING_FIELDS_AT + 8 * (IFACE_KEYS.length + k), polled ? ls![RING_LOOP_INDEX[k]!]! : NaN, true);
      this.bytes.fill(0, at + RING_EXTRAS_AT, at + RING_SLOT);
      if (polled && onWire && typeof src.link!.counters === 'function') {
        let k = 0;
        for (const [name, value] of Object.entries(src.link!.counters())) {
          if (k === RING_EXTRAS) break;
          if (typeof value !== 'number') continue;
          putString(this.bytes, at + RING_EXTRAS_AT + 32 * k, 24, name);
          v.setFloat64(at + RING_EXTRAS_AT + 32 * k + 24, value, true);
          k++;
        }
      }
      n++;
    }
    return n;
  }

  private fillPools(src: StatsSource): number {
    if (this.cap.pools === 0) return 0;
    const p = src.stack.tcp.bufferPool;
    const at = this.regions.pools;
    putString(this.bytes, at, 32, 'tcp-buffers');
    const v = this.v;
    v.setFloat64(at + POOL_FIELDS_AT + 8 * PF['held_bytes']!, p.bytes, true);
    v.setFloat64(at + POOL_FIELDS_AT + 8 * PF['max_bytes']!, p.maxBytes, true);
    v.setFloat64(at + POOL_FIELDS_AT + 8 * PF['reused']!, p.reused, true);
    v.setFloat64(at + POOL_FIELDS_AT + 8 * PF['no_buffer']!, p.allocated, true);
    return 1;
  }

  /** Returns [slots filled, sockets open]. */
  private fillSockets(src: StatsSource): [number, number] {
    const fds = src.api?.fds;
    if (fds == null) return [0, 0];
    let n = 0;
    let open = 0;
    const size = fds.size;
    for (let fd = 0; fd < size; fd++) {
      const f = fds.get(fd);
      if (!(f instanceof TcpSocket) && !(f instanceof UdpSocketFile)) continue;
      open++;
      if (n === this.cap.sockets) continue;
      const at = this.regions.sockets + n * SOCKET_SLOT;
      this.bytes.fill(0, at, at + SOCKET_SLOT);
      const v = this.v;
      v.setInt32(at, fd, true);
      for (let k = 0; k < SOCKET_FIELDS.length; k++) v.setFloat64(at + SOCKET_FIELDS_AT + 8 * k, NaN, true);
      const set = (name: string, x: number): void => v.setFloat64(at + SOCKET_FIELDS_AT + 8 * SF[name]!, x, true);
      if (f instanceof TcpSocket) this.fillTcp(f, at, set);
      else this.fillUdp(f, at, set);
      n++;
    }
    return [n, open];
  }

  private putAddr(at: number, family: number, a4: number, a6: Uint8Array): void {
    if (family === 4) this.v.setUint32(at, a4 >>> 0, false);
    else this.bytes.set(a6.subarray(0, 16), at);
  }

  private fillTcp(s: TcpSocket, at: number, set: (name: string, x: number) => void): void {
    const b = this.bytes;
    b[at + 4] = 6;
    b[at + 5] = s.family;
    const conn = s.conn;
    const l = s.listener;
    if (conn !== null) {
      b[at + 6] = TCP_STATES.indexOf(conn.state) + 1;
      this.v.setUint16(at + 8, conn.localPort, true);
      this.v.setUint16(at + 10, conn.remotePort, true);
      // An IPv6 socket's IPv4 connection shows as IPv4.
      b[at + 5] = conn.family;
      this.putAddr(at + 16, conn.family, conn.local4, conn.local6);
      this.putAddr(at + 32, conn.family, conn.remote4, conn.remote6);
      const m = conn as unknown as MaybeCounted;
      set('rx_bytes', conn.bytesReceived);
      set('tx_bytes', conn.bytesAcked);
      set('rx_packets', num(m.segsIn));
      set('tx_packets', num(m.segsOut));
      set('rx_queue_bytes', conn.recvQ.length);
      set('tx_queue_bytes', conn.sendQ.length);
      set('app_read_bytes', conn.bytesRead);
      set('retransmits', conn.totalRetransmits);
      set('rtt_us', conn.rtt.srtt);
      set('cwnd', conn.cc.cwnd);
    } else if (l !== null) {
      b[at + 6] = TCP_STATES.indexOf(TcpState.Listen) + 1;
      b[at + 7] = 1;
      this.v.setUint16(at + 8, l.localPort, true);
      this.putAddr(at + 16, s.family, l.local4, l.local6);
      set('accept_queue', l.acceptQueue.length);
      set('listen_overflows', l.overflows);
    } else {
      b[at + 6] = TCP_STATES.indexOf(TcpState.Closed) + 1;
      this.v.setUint16(at + 8, s.sourcePort, true);
      this.putAddr(at + 16, s.family, s.local4, s.local6);
    }
  }

  private fillUdp(f: UdpSocketFile, at: number, set: (name: string, x: number) => void): void {
    const b = this.bytes;
    const u = f.udp;
    b[at + 4] = 17;
    b[at + 5] = u.family;
    this.v.setUint16(at + 8, u.localPort, true);
    const la = u.localAddress;
    if (typeof la === 'number') {
      b[at + 5] = 4;
      this.putAddr(at + 16, 4, la, la as never);
    } else this.putAddr(at + 16, 6, 0, la);
    if (u.connected) {
      this.v.setUint16(at + 10, u.remotePort, true);
      const ra = u.remoteAddress;
      if (typeof ra === 'number') this.putAddr(at + 32, 4, ra, ra as never);
      else this.putAddr(at + 32, 6, 0, ra);
    }
    const m = u as unknown as MaybeCounted & { queuedBytes?: number };
    set('rx_packets', num(m.rxPackets));
    set('rx_bytes', num(m.rxBytes));
    set('tx_packets', num(m.txPackets));
    set('tx_bytes', num(m.txBytes));
    set('rx_drops', u.drops);
    set('rx_queue_packets', u.queuedDatagrams);
    set('rx_queue_bytes', num(m.queuedBytes)); // private in the engine; read here, off the hot path
  }
}

// ---------------------------------------------------------------------------------------------
// Files and segments

export const statsFileName = (pid: number): string => `xlioSTAT.${pid}`;
export const shmNameFor = (pid: number): string => `/xlio-stats.${pid}`;
const SHM_DIR = '/dev/shm';

function readWhole(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** The u32 sequence word of a segment, read alone after a copy (seqlock check). */
function readSeq(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, H_SEQ);
    return b.readUInt32LE(0);
  } finally {
    closeSync(fd);
  }
}

/** A process's snapshot from `dir`, or null when it has no stats there. */
export function readStats(dir: string, pid: number): StatsSnapshot | null {
  const desc = readWhole(join(dir, statsFileName(pid)));
  if (desc === null) return null;
  const h = decodeHeader(desc);
  if ((h.flags & FLAG_LIVE_SHM) === 0 || h.shmName === '') return decodeStats(desc);
  const path = join(SHM_DIR, h.shmName.replace(/^\//, ''));
  for (let tries = 0; ; tries++) {
    const bytes = readWhole(path);
    if (bytes === null) throw new StatsFormatError(`stats of pid ${pid}: its segment ${h.shmName} is gone`);
    const seq = bytes.readUInt32LE(H_SEQ);
    if ((seq & 1) === 0 && readSeq(path) === seq) return decodeStats(bytes);
    if (tries === 50) throw new StatsFormatError(`stats of pid ${pid}: no consistent copy after 50 tries (a publish in progress each time)`);
  }
}

/** Asks pid's publisher for frequent updates for the next DEMAND_MS (touches its want file). */
export function demandStats(dir: string, pid: number): void {
  try {
    writeFileSync(join(dir, `${statsFileName(pid)}.want`), '');
  } catch {
    /* a read-only directory: the reader gets the slow cadence */
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

/** Removes what a process published in `dir` (its descriptor, want/tmp files and its segment). */
export function removeStats(dir: string, pid: number): void {
  const p = join(dir, statsFileName(pid));
  const desc = readWhole(p);
  let shm = shmNameFor(pid);
  if (desc !== null) {
    try {
      shm = decodeHeader(desc).shmName || shm;
    } catch {
      /* not ours to read: still remove by name */
    }
  }
  unlinkQuiet(join(SHM_DIR, shm.replace(/^\//, '')));
  unlinkQuiet(p);
  unlinkQuiet(`${p}.want`);
  unlinkQuiet(`${p}.tmp`);
}

export interface StatsEntry {
  pid: number;
  name: string;
  startedAt: number;
  updatedAt: number;
  socketsOpen: number;
}

/** Processes with stats in `dir`, by pid. Files of processes that are gone are removed (`clean`). */
export function listStats(dir: string, clean = true): StatsEntry[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: StatsEntry[] = [];
  for (const n of names) {
    const m = /^xlioSTAT\.(\d+)(\.want|\.tmp)?$/.exec(n);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (!processAlive(pid)) {
      if (clean) removeStats(dir, pid);
      continue;
    }
    if (m[2] !== undefined) continue;
    try {
      const s = readStats(dir, pid);
      if (s !== null) out.push({ pid, name: s.name, startedAt: s.startedAt, updatedAt: s.updatedAt, socketsOpen: s.socketsOpen });
    } catch {
      /* unreadable or mid-exit: not listed */
    }
  }
  if (clean) {
    // Segments of processes killed before they could remove them (their descriptor may be gone).
    let shm: string[] = [];
    try {
      shm = readdirSync(SHM_DIR);
    } catch {
      /* no /dev/shm */
    }
    for (const n of shm) {
      const m = /^xlio-stats\.(\d+)$/.exec(n);
      if (m !== null && !processAlive(Number(m[1]))) unlinkQuiet(join(SHM_DIR, n));
    }
  }
  return out.sort((a, b) => a.pid - b.pid);
}

// ---------------------------------------------------------------------------------------------
// The publisher

export interface PublisherOptions {
  /** The stats directory (XLIO_STATS_SHMEM_DIR); null: none (only `dumpFile` at exit). */
  dir: string | null;
  /** XLIO_STATS_FILE: a text dump at close. */
  dumpFile?: string | null;
  cap?: Partial<Capacities>;
  /** Put the block in a shared-memory segment when the addon is there (default true). */
  shm?: boolean;
  fastMs?: number;
  slowMs?: number;
  pid?: number;
  name?: string;
}

function programName(): string {
  const script = process.argv[1];
  return script === undefined ? basename(process.argv0) : `${basename(process.argv0)} ${basename(script)}`;
}

export class StatsPublisher {
  readonly dir: string | null;
  readonly dumpFile: string | null;
  readonly pid: number;
  readonly writer: StatsWriter;
  readonly shmName: string | null;
  readonly fastMs: number;
  readonly slowMs: number;
  source: StatsSource | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly path: string | null;

  constructor(opts: PublisherOptions) {
    this.dir = opts.dir;
    this.dumpFile = opts.dumpFile ?? null;
    this.pid = opts.pid ?? process.pid;
    this.fastMs = opts.fastMs ?? 100;
    this.slowMs = opts.slowMs ?? 1000;
    const cap: Capacities = { ...DEFAULT_CAPACITIES, ...opts.cap };
    const size = blockBytes(cap);
    let bytes: Uint8Array | null = null;
    let shmName: string | null = null;
    const addon = this.dir !== null && opts.shm !== false ? nativeAddon() : null;
    if (addon !== null) {
      const name = shmNameFor(this.pid);
      try {
        bytes = new Uint8Array(addon.shmOpen(name, size, true));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          // A segment of an earlier process with our pid, never cleaned up.
          addon.shmUnlink(name);
          bytes = new Uint8Array(addon.shmOpen(name, size, true));
        } else bytes = null;
      }
      if (bytes !== null) shmName = name;
    }
    this.shmName = shmName;
    const meta = { pid: this.pid, name: opts.name ?? programName(), startedAt: Date.now(), intervalMs: this.slowMs, flags: shmName !== null ? FLAG_LIVE_SHM : 0, ...(shmName !== null ? { shmName } : {}) };
    this.writer = new StatsWriter(bytes ?? new Uint8Array(size), cap, meta, shmName !== null);
    this.path = this.dir === null ? null : join(this.dir, statsFileName(this.pid));
    if (this.dir !== null) {
      mkdirSync(this.dir, { recursive: true, mode: 0o1777 });
      this.writer.fill(null, Date.now());
      // The descriptor (the header: LIVE_SHM and the segment's name) or the first whole file.
      this.writeFile(shmName !== null ? this.writer.bytes.subarray(0, HEADER_BYTES) : this.writer.bytes.subarray(0, this.writer.used));
      this.schedule(this.slowMs);
    }
  }

  private writeFile(bytes: Uint8Array): void {
    const tmp = `${this.path!}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, this.path!);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(this.tick, ms);
    this.timer.unref();
  }

  /** Whether a reader asked within DEMAND_MS. */
  private demanded(now: number): boolean {
    const st = statSync(`${this.path!}.want`, { throwIfNoEntry: false });
    return st !== undefined && now - st.mtimeMs < DEMAND_MS;
  }

  private readonly tick = (): void => {
    this.timer = null;
    if (this.closed) return;
    const now = Date.now();
    let fast = false;
    try {
      fast = this.demanded(now);
      this.writer.intervalMs = fast ? this.fastMs : this.slowMs;
      this.publish(now);
    } catch {
      /* the directory went away or filled up: try again next time */
    }
    this.schedule(fast ? this.fastMs : this.slowMs);
  };

  /** Copies the counters into the block now (and rewrites the file when there is no segment). */
  publish(now = Date.now()): void {
    this.writer.fill(this.source, now);
    if (this.path !== null && this.shmName === null) this.writeFile(this.writer.bytes.subarray(0, this.writer.used));
  }

  /** The counters as of now. */
  snapshot(): StatsSnapshot {
    this.writer.fill(this.source, Date.now());
    return decodeStats(this.writer.bytes.subarray(0, this.writer.used));
  }

  /** Stops publishing: writes the dump file (XLIO_STATS_FILE) and removes the published files. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.dumpFile !== null) {
      try {
        this.writer.flags = this.writer.flags | FLAG_FINAL;
        writeFileSync(this.dumpFile, formatStats(this.snapshot(), 3));
      } catch (e) {
        process.stderr.write(`xlio-ts: XLIO_STATS_FILE=${this.dumpFile}: ${(e as Error).message}\n`);
      }
    }
    if (this.dir !== null) {
      unlinkQuiet(this.path!);
      unlinkQuiet(`${this.path!}.want`);
      unlinkQuiet(`${this.path!}.tmp`);
    }
    if (this.shmName !== null) {
      try {
        nativeAddon()?.shmUnlink(this.shmName);
      } catch {
        /* gone already */
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The process's publisher (the ProcessHost's)

let processPublisher: StatsPublisher | null = null;
let exitHooked = false;

/** XLIO_STATS_SHMEM_DIR (default /tmp/xlio; empty: none) and XLIO_STATS_FILE as publisher options, or null when both are off. */
export function statsOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): PublisherOptions | null {
  const d = env['XLIO_STATS_SHMEM_DIR'];
  const dir = d === undefined ? DEFAULT_STATS_DIR : d === '' ? null : d;
  const f = env['XLIO_STATS_FILE'];
  const dumpFile = f === undefined || f === '' ? null : f;
  if (dir === null && dumpFile === null) return null;
  return { dir, dumpFile };
}

/**
 * Publishes `source` as this process's stats (one publisher per process; a later source
 * replaces an earlier one). Never throws: stats that cannot be published are not a reason
 * for the program to fail; the reason goes to stderr once.
 */
export function publishProcessStats(source: StatsSource, env: Readonly<Record<string, string | undefined>> = process.env): StatsPublisher | null {
  if (processPublisher === null) {
    const opts = statsOptionsFromEnv(env);
    if (opts === null) return null;
    try {
      processPublisher = new StatsPublisher(opts);
    } catch (e) {
      process.stderr.write(`xlio-ts: stats not published (XLIO_STATS_SHMEM_DIR=${opts.dir ?? ''}): ${(e as Error).message}\n`);
      return null;
    }
    if (!exitHooked) {
      exitHooked = true;
      process.on('exit', () => {
        processPublisher?.close();
        processPublisher = null;
      });
    }
  }
  processPublisher.source = source;
  return processPublisher;
}

/** Stops publishing `source` (its host closed): the files go away, XLIO_STATS_FILE is written. */
export function unpublishProcessStats(source: StatsSource): void {
  if (processPublisher === null || processPublisher.source !== source) return;
  processPublisher.close();
  processPublisher = null;
}

export function processStatsPublisher(): StatsPublisher | null {
  return processPublisher;
}

// ---------------------------------------------------------------------------------------------
// Text

function cell(x: number): string {
  return Number.isNaN(x) ? '-' : String(Math.round(x));
}

function table(headers: string[], rows: string[][]): string {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

const endpoint = (a: string, p: number, fam: number): string => (fam === 6 ? `[${a}]:${p}` : `${a}:${p}`);

/**
 * The table `xlio stats` prints (and XLIO_STATS_FILE holds). View 1: the process, its rings and
 * stack totals; 2: and its sockets; 3: and buffer pools, the poll loop, link driver counters
 * and every stack counter.
 */
export function formatStats(s: StatsSnapshot, view: number, now = Date.now()): string {
  let out = `xlio-ts stats: pid ${s.pid} (${s.name}), up ${((now - s.startedAt) / 1000).toFixed(1)} s, updated ${Math.max(0, (now - s.updatedAt) / 1000).toFixed(2)} s ago, ${s.socketsOpen} sockets${(s.flags & FLAG_FINAL) !== 0 ? ', final' : ''}\n\n`;
  out += table(
    ['RING', 'RX PKTS', 'RX BYTES', 'TX PKTS', 'TX BYTES', 'RX DROPS', 'TX DROPS', 'POLLS', 'PARKS', 'WAKEUPS'],
    s.rings.map((r) => {
      const k = r.counters;
      let rxd = 0;
      let txd = 0;
      for (const [n, v] of Object.entries(k)) {
        if (n.startsWith('rx_drop_')) rxd += v;
        else if (n.startsWith('tx_drop_')) txd += v;
      }
      return [r.name, cell(k['rx_packets']!), cell(k['rx_bytes']!), cell(k['tx_packets']!), cell(k['tx_bytes']!), cell(rxd), cell(txd), cell(k['polls']!), cell(k['parks']!), cell(k['wakeups']!)];
    }),
  );
  const st = s.stack;
  out += `\nTOTAL  frames in ${cell(st['frames_in']!)} out ${cell(st['frames_out']!)}  bytes in ${cell(st['bytes_in']!)} out ${cell(st['bytes_out']!)}  udp in ${cell(st['udp_in']!)} out ${cell(st['udp_out']!)}  tcp segs in ${cell(st['tcp_segments_in']!)} out ${cell(st['tcp_segments_out']!)}  retrans ${cell(st['tcp_retransmits']!)}\n`;
  if (view >= 2) {
    out += '\n';
    out += table(
      ['FD', 'PROTO', 'STATE', 'LOCAL', 'REMOTE', 'RX BYTES', 'RX PKTS', 'TX BYTES', 'TX PKTS', 'RX DROPS', 'RX QUEUE', 'TX QUEUE', 'READ', 'RETRANS'],
      s.sockets.map((k) => {
        const x = k.counters;
        const queue = k.proto === 'udp' ? `${cell(x['rx_queue_packets']!)}/${cell(x['rx_queue_bytes']!)}` : k.listener ? `${cell(x['accept_queue']!)}` : cell(x['rx_queue_bytes']!);
        return [
          String(k.fd), k.proto + (k.family === 6 ? '6' : ''), k.state || '-', endpoint(k.local, k.localPort, k.family),
          k.remotePort === 0 && k.proto === 'udp' ? '*' : k.listener ? '*' : endpoint(k.remote, k.remotePort, k.family),
          cell(x['rx_bytes']!), cell(x['rx_packets']!), cell(x['tx_bytes']!), cell(x['tx_packets']!), cell(x['rx_drops']!), queue, cell(x['tx_queue_bytes']!), cell(x['app_read_bytes']!), cell(x['retransmits']!),
        ];
      }),
    );
    if (s.sockets.length < s.socketsOpen) out += `(${s.socketsOpen - s.sockets.length} more sockets than the block has slots for)\n`;
  }
  if (view >= 3) {
    out += '\n';
    out += table(['POOL', 'HELD BYTES', 'MAX BYTES', 'REUSED', 'NO BUFFER'], s.pools.map((p) => [p.name, cell(p.counters['held_bytes']!), cell(p.counters['max_bytes']!), cell(p.counters['reused']!), cell(p.counters['no_buffer']!)]));
    out += '\nLOOP   ' + LOOP_FIELDS.map((f) => `${f.name} ${cell(s.loop[f.name]!)}`).join('  ') + '\n';
    for (const r of s.rings) {
      const e = Object.entries(r.link);
      if (e.length > 0) out += `LINK ${r.name}  ` + e.map(([n, v]) => `${n} ${cell(v)}`).join('  ') + '\n';
    }
    out += '\nSTACK\n' + STACK_FIELDS.map((f) => `  ${f.name.padEnd(24)} ${cell(st[f.name]!)}`).join('\n') + '\n';
  }
  return out;
}

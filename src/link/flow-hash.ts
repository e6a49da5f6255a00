// RSS-style flow spreading: a symmetric hash over an Ethernet frame's flow key, reduced to
// a queue index, so one flow (both directions) always lands on the same queue or thread.
//
// Key, from the most specific to the least (as NIC RSS and Linux's flow dissector do):
//   TCP/UDP over IPv4/IPv6, not fragmented      5-tuple: addresses, ports, protocol
//   other IP, or a port header not in the frame  3-tuple: addresses, protocol
//   an IP fragment (any: later ones carry no ports, so all of a datagram must agree)
//                                                2-tuple: addresses
//   not IP, or a malformed IP header             2-tuple: the MAC addresses, and the EtherType
// Up to two VLAN tags (802.1Q / 802.1ad) are skipped. Symmetric: each endpoint (address and
// port) is hashed alone and the two are combined in sorted order, so A→B and B→A agree.
// Parsing never throws and never allocates: it reads the bytes in place.

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
// IPv6 extension headers skipped on the way to the transport header (RFC 8200 §4).
const NH_HOP_BY_HOP = 0;
const NH_ROUTING = 43;
const NH_FRAGMENT = 44;
const NH_DEST_OPTS = 60;
/** Extension headers followed at most (a chain longer than this hashes as a 3-tuple). */
const MAX_EXT_HEADERS = 6;
/** The hash seed, as an RSS key: fixed, so every thread spreads the same way. */
const SEED = 0x6b43a9b5;

/** murmur3's 32-bit mixing step for one word. */
function mixWord(h: number, w: number): number {
  let k = Math.imul(w, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's finaliser: every input bit affects every output bit. */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h; // int32: a small integer to V8, no heap number when returned
}

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) | 0;
}

/** Hash of one endpoint: `words` 32-bit words of address at `at`, then the port (−1: none). */
function endpoint(b: Uint8Array, at: number, words: number, port: number): number {
  let h = SEED;
  for (let i = 0; i < words; i++) h = mixWord(h, u32(b, at + 4 * i));
  if (port >= 0) h = mixWord(h, port);
  return finish(h);
}

/** Combines two endpoint hashes in sorted order (the symmetry), then the protocol tag. */
function combine(a: number, b: number, tag: number): number {
  const lo = a < b ? a : b;
  const hi = a < b ? b : a;
  return finish(mixWord(mixWord(mixWord(SEED, lo), hi), tag));
}

/** Tags keep keys of different kinds apart (a 3-tuple never equals a 5-tuple by accident). */
const TAG_L2 = 0x10000;
const TAG_2TUPLE = 0x20000;
const TAG_3TUPLE = 0x30000;
const TAG_5TUPLE = 0x50000;

/** The L2 fallback: both MACs (sorted) and the EtherType. */
function hashMacs(b: Uint8Array, at: number, type: number): number {
  // A MAC is 6 bytes: one word plus a half word.
  const d = finish(mixWord(mixWord(SEED, u32(b, at)), u16(b, at + 4)));
  const s = finish(mixWord(mixWord(SEED, u32(b, at + 6)), u16(b, at + 10)));
  return combine(d, s, TAG_L2 | type);
}

/** True when the protocol has ports and they lie inside the packet. */
function transportPorts(proto: number, l4: number, end: number): boolean {
  return (proto === PROTO_TCP || proto === PROTO_UDP) && l4 + 4 <= end;
}

function hashIpv4(b: Uint8Array, ip: number, end: number, frameAt: number, type: number): number {
  const ihl = (b[ip]! & 0x0f) * 4;
  const total = u16(b, ip + 2);
  if (b[ip]! >> 4 !== 4 || ihl < 20 || ip + ihl > end || total < ihl) return hashMacs(b, frameAt, type);
  // Ethernet pads short frames: bytes past the IP total length are not the packet's.
  if (ip + total < end) end = ip + total;
  const proto = b[ip + 9]!;
  const src = ip + 12;
  const dst = ip + 16;
  // MF set or a non-zero offset: a fragment.
  if ((u16(b, ip + 6) & 0x3fff) !== 0) return combine(endpoint(b, src, 1, -1), endpoint(b, dst, 1, -1), TAG_2TUPLE);
  const l4 = ip + ihl;
  if (!transportPorts(proto, l4, end)) return combine(endpoint(b, src, 1, -1), endpoint(b, dst, 1, -1), TAG_3TUPLE | proto);
  return combine(endpoint(b, src, 1, u16(b, l4)), endpoint(b, dst, 1, u16(b, l4 + 2)), TAG_5TUPLE | proto);
}

function hashIpv6(b: Uint8Array, ip: number, end: number, frameAt: number, type: number): number {
  if (b[ip]! >> 4 !== 6 || ip + 40 > end) return hashMacs(b, frameAt, type);
  const payload = u16(b, ip + 4); // 0: a jumbogram (RFC 2675), bounded by the frame only
  if (payload !== 0 && ip + 40 + payload < end) end = ip + 40 + payload;
  const src = ip + 8;
  const dst = ip + 24;
  let next = b[ip + 6]!;
  let at = ip + 40;
  for (let i = 0; i < MAX_EXT_HEADERS; i++) {
    if (next === NH_FRAGMENT) return combine(endpoint(b, src, 4, -1), endpoint(b, dst, 4, -1), TAG_2TUPLE);
    if (next !== NH_HOP_BY_HOP && next !== NH_ROUTING && next !== NH_DEST_OPTS) break;
    if (at + 8 > end) return combine(endpoint(b, src, 4, -1), endpoint(b, dst, 4, -1), TAG_3TUPLE | next);
    next = b[at]!;
    at += (b[at + 1]! + 1) * 8;
  }
  if (!transportPorts(next, at, end)) return combine(endpoint(b, src, 4, -1), endpoint(b, dst, 4, -1), TAG_3TUPLE | next);
  return combine(endpoint(b, src, 4, u16(b, at)), endpoint(b, dst, 4, u16(b, at + 2)), TAG_5TUPLE | next);
}

/**
 * The flow hash of the Ethernet frame `bytes[at .. at+len)`, as a signed 32-bit integer (so
 * returning it allocates nothing); the same for both directions of a flow. A frame shorter
 * than an Ethernet header hashes to 0.
 */
export function flowHash(bytes: Uint8Array, at: number, len: number): number {
  const end = Math.min(at + len, bytes.length);
  if (at < 0 || end - at < 14) return 0;
  let type = u16(bytes, at + 12);
  let l3 = at + 14;
  for (let tags = 0; tags < 2 && (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) && l3 + 4 <= end; tags++) {
    type = u16(bytes, l3 + 2);
    l3 += 4;
  }
  if (type === ETHERTYPE_IPV4 && l3 + 20 <= end) return hashIpv4(bytes, l3, end, at, type);
  if (type === ETHERTYPE_IPV6) return hashIpv6(bytes, l3, end, at, type);
  return hashMacs(bytes, at, type);
}

/**
 * The queue in [0, n) for the frame `bytes[at .. at+len)`: flowHash scaled to n
 * (multiply-shift, so every queue gets an equal share of the hash space).
 */
export function flowQueue(bytes: Uint8Array, at: number, len: number, n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new RangeError(`flowQueue needs an integer queue count >= 1, got ${n}`);
  return Math.floor(((flowHash(bytes, at, len) >>> 0) * n) / 4294967296);
}

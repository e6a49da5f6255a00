// Address representations used by the codecs.
//  - IPv4 address: the 32 bits in host order as a signed int32 (198.18.0.1 is
//    0xC6120001 | 0, a negative number). Signed, so that every address is a small
//    integer to V8 (no heap number when it crosses a call or lands in a field): the
//    engine's per-packet path allocates nothing. Compare with ===; format with formatIpv4.
//  - IPv6 address: a 16-byte Uint8Array.
//  - MAC address: a 6-byte Uint8Array.

export type Ipv4Address = number;
export type Ipv6Address = Uint8Array;
export type MacAddress = Uint8Array;

export function readIpv4(bytes: Uint8Array, offset: number): Ipv4Address {
  return (bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
}
export function writeIpv4(bytes: Uint8Array, offset: number, a: Ipv4Address): void {
  bytes[offset] = a >>> 24;
  bytes[offset + 1] = (a >>> 16) & 0xff;
  bytes[offset + 2] = (a >>> 8) & 0xff;
  bytes[offset + 3] = a & 0xff;
}

export function ipv4(text: string): Ipv4Address {
  const r = parseIpv4Text(text);
  if (r === null) throw new TypeError(`not an IPv4 address: ${JSON.stringify(text)}`);
  return r;
}
export function parseIpv4Text(text: string): Ipv4Address | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v | 0;
}
/** The limited broadcast address 255.255.255.255 (RFC 919). */
export const IPV4_BROADCAST: Ipv4Address = -1;

export function formatIpv4(a: Ipv4Address): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

export function ipv6(text: string): Ipv6Address {
  const r = parseIpv6Text(text);
  if (r === null) throw new TypeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  return r;
}
export function parseIpv6Text(text: string): Ipv6Address | null {
  let s = text;
  // A trailing dotted quad (::ffff:198.18.0.1) stands for the last two groups.
  const lastColon = s.lastIndexOf(':');
  if (lastColon < 0) return null;
  if (s.indexOf('.', lastColon) !== -1) {
    const v4 = parseIpv4Text(s.slice(lastColon + 1));
    if (v4 === null) return null;
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === '') return [];
    const r: number[] = [];
    for (const x of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(x)) return null;
      r.push(parseInt(x, 16));
    }
    return r;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  let all: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return null;
    all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    all = head;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >>> 8;
    out[2 * i + 1] = all[i]! & 0xff;
  }
  return out;
}
/** RFC 5952 canonical text form. */
export function formatIpv6(a: Ipv6Address): string {
  // RFC 5952 §5: an IPv4-mapped address ends in dotted-quad form.
  if (a[10] === 0xff && a[11] === 0xff && a.subarray(0, 10).every((b) => b === 0)) return `::ffff:${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((a[2 * i]! << 8) | a[2 * i + 1]!);
  // Longest run of ≥2 zero groups (first one on ties) becomes "::" (RFC 5952 §4.2).
  let bestStart = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

export function mac(text: string): MacAddress {
  const m = /^([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})$/.exec(text);
  if (!m) throw new TypeError(`not a MAC address: ${JSON.stringify(text)}`);
  return Uint8Array.from(m.slice(1, 7).map((x) => parseInt(x, 16)));
}
export function formatMac(a: MacAddress): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + a[i]!.toString(16).padStart(2, '0');
  return s;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// Differences from Linux that xlio-ts does not yet close, each named and explained, so the
// differential test can tell them from regressions. A divergence is excused only when it
// matches one of these exactly; everything else fails the test. The README's "not yet
// supported" table lists the same items.

import type { Scenario, TraceEntry } from '../support/kernel-oracle.js';

/** What a probe found out about the kernel the oracle runs on (see kernelTraitsProbe). */
export interface KernelTraits {
  /**
   * After a disconnect (a failed connect, connect(AF_UNSPEC), shutdown of a listener) the
   * socket keeps its local port number while the port itself is released, and listen(),
   * bind() and some connect()s then fail with EINVAL. Seen on Linux 6.18; earlier kernels
   * (and xlio-ts) release the port and clear it, so the socket can listen or bind again.
   */
  disconnectKeepsPort: boolean;
}

export const NO_KERNEL_TRAITS: KernelTraits = { disconnectKeepsPort: false };

/** A scenario whose kernel trace tells the traits apart: a refused connect, then listen. */
export const kernelTraitsProbe: Scenario = {
  name: 'probe/disconnect-keeps-port',
  steps: [
    ['socket', 'a', 'INET', 'STREAM'],
    ['connect', 'a', 'A4', 'P1'],
    ['listen', 'a', 1],
  ],
};

export function kernelTraitsFrom(probe: { trace: TraceEntry[] }): KernelTraits {
  const connect = probe.trace[1], listen = probe.trace[2];
  return { disconnectKeepsPort: connect?.['err'] === 'ECONNREFUSED' && listen?.['err'] === 'EINVAL' };
}

export interface KnownGap {
  key: string;
  why: string;
  /** Whether the first divergence (at `step`, kernel entry `k`, xlio entry `x`) is this gap. */
  matches(sc: Scenario, step: number, k: TraceEntry | undefined, x: TraceEntry | undefined, traits: KernelTraits, ktrace: readonly TraceEntry[]): boolean;
}

/**
 * The names that refer at `step` to the same open file as `name`, by descriptor number as the
 * kernel's trace gave them out: a name whose socket was closed refers to whatever socket later
 * took its number, and dup/dup2/dup3 add names for the same socket.
 */
const aliasesOf = (sc: Scenario, ktrace: readonly TraceEntry[], step: number, name: string): Set<string> => {
  const fdOf = new Map<string, number>();
  const fileOf = new Map<number, number>(); // descriptor → which open file (creation step)
  for (let i = 0; i < step; i++) {
    const st = sc.steps[i]!, fd = ktrace[i]?.['fd'];
    if (typeof fd !== 'number') continue;
    const op = String(st[0]);
    const newName = String(op === 'accept' || op === 'dup' || op === 'dup2' || op === 'dup3' ? st[2] : st[1]);
    fdOf.set(newName, fd);
    const from = fdOf.get(String(st[1]));
    fileOf.set(fd, op.startsWith('dup') && from !== undefined ? (fileOf.get(from) ?? i) : i);
  }
  const fd = fdOf.get(name);
  const file = fd === undefined ? undefined : fileOf.get(fd);
  const out = new Set<string>([name]);
  if (file !== undefined) for (const [n, f] of fdOf) if (fileOf.get(f) === file) out.add(n);
  return out;
};

const STREAM_NAMES = (sc: Scenario, upTo: number): Set<string> => {
  const s = new Set<string>();
  for (const st of sc.steps.slice(0, upTo + 1)) {
    if (st[0] === 'socket' && String(st[3]).includes('STREAM') && st[2] !== 'UNIX') s.add(String(st[1]));
    if (st[0] === 'accept') s.add(String(st[2]));
    if ((st[0] === 'dup' || st[0] === 'dup2' || st[0] === 'dup3') && s.has(String(st[1]))) s.add(String(st[2]));
  }
  return s;
};

const bothOk = (k: TraceEntry | undefined, x: TraceEntry | undefined): boolean =>
  k !== undefined && x !== undefined && k['err'] === undefined && x['err'] === undefined;

/** Both succeeded and differ only in byte counts / data hashes / a value. */
const onlyCounts = (k: TraceEntry | undefined, x: TraceEntry | undefined): boolean => {
  if (!bothOk(k, x)) return false;
  for (const f of new Set([...Object.keys(k!), ...Object.keys(x!)])) {
    if (f === 'ret' || f === 'len' || f === 'hash' || f === 'value') continue;
    if (JSON.stringify(k![f]) !== JSON.stringify(x![f])) return false;
  }
  return true;
};

/** Both succeeded and differ only in writability: poll's OUT/WRNORM/WRBAND bits, select's write set (and the counts). */
const onlyWritability = (op: string, k: TraceEntry | undefined, x: TraceEntry | undefined): boolean => {
  if (!bothOk(k, x)) return false;
  if (op === 'select') return JSON.stringify(k!['r']) === JSON.stringify(x!['r']) && JSON.stringify(k!['x']) === JSON.stringify(x!['x']);
  const strip = (m: unknown): string => String(m).split('|').filter((b) => b !== 'OUT' && b !== 'WRNORM' && b !== 'WRBAND').join('|');
  const kr = k!['revents'] as unknown[], xr = x!['revents'] as unknown[];
  return Array.isArray(kr) && Array.isArray(xr) && kr.length === xr.length && kr.every((m, i) => strip(m) === strip(xr[i]));
};

export const KNOWN_GAPS: readonly KnownGap[] = [
  {
    key: 'buffer-accounting',
    why: "Linux charges buffers by skb truesize and grows them by its own heuristics; xlio-ts counts payload bytes, so how much a send accepts or a read returns under buffer pressure differs (the data itself is the same stream)",
    matches(sc, step, k, x) {
      const op = String(sc.steps[step]?.[0]);
      const bigSend = sc.steps.slice(0, step + 1).some((st) => /^send/.test(String(st[0])) && Number(st[2]) >= 16384);
      // Writability (sk_stream_wspace) is judged in truesize too: after a big send, only the OUT bits may differ.
      if ((op === 'poll' || op === 'select') && bigSend && onlyWritability(op, k, x)) return true;
      if (!/^(send|recv|ioctl|getsockopt)/.test(op) || !onlyCounts(k, x)) return false;
      if (op === 'getsockopt') {
        // Buffer sizes of a connected TCP socket follow Linux's autotuning (tcp_init_buffer_space, tcp_sndbuf_expand).
        return /SO_SNDBUF|SO_RCVBUF|TCP_WINDOW_CLAMP/.test(String(sc.steps[step]?.[3]));
      }
      // Only after a send big enough to meet a buffer limit (16 KiB: Linux's smallest default).
      return sc.steps.slice(0, step + 1).some((st) => /^send/.test(String(st[0])) && Number(st[2]) >= 16384);
    },
  },
  {
    key: 'tcp-maxseg-value',
    why: "TCP_MAXSEG on a connected socket follows Linux's mss_cache, which also tracks the peer's largest window after the handshake; xlio-ts bounds the MSS by the handshake's windows only",
    matches(sc, step, k, x) {
      const st = sc.steps[step];
      return st?.[0] === 'getsockopt' && st[3] === 'TCP_MAXSEG' && bothOk(k, x);
    },
  },
  {
    key: 'ipv6-connect-after-mapped',
    why: "after a failed connect to a v4-mapped address, Linux leaves an IPv6 TCP socket on its IPv4 path (icsk_af_ops), so a later connect to an IPv6 address sends nothing useful and times out; xlio-ts connects it",
    matches(sc, step) {
      // From a connect to an IPv6 address, by a socket that connected to a v4-mapped one before, on.
      const mapped = new Set<string>();
      for (const p of sc.steps.slice(0, step + 1)) {
        if (p[0] !== 'connect') continue;
        const name = String(p[1]), to = String(p[2]);
        if (/^(A4M|B4M|ANY4M|N4M)$/.test(to)) mapped.add(name);
        else if (mapped.has(name) && /6$/.test(to)) return true;
      }
      return false;
    },
  },
  {
    key: 'kernel-disconnect-keeps-port',
    why: 'this kernel (Linux 6.18) keeps a disconnected socket\'s port number after releasing the port, so listen/bind/connect on it fail with EINVAL; xlio-ts behaves as earlier kernels and releases it (only counted when the probe finds this kernel behaviour)',
    matches(sc, step, k, x, traits, ktrace) {
      const st = sc.steps[step];
      if (!traits.disconnectKeepsPort || k?.['err'] !== 'EINVAL' || x?.['err'] === 'EINVAL') return false;
      if (st?.[0] !== 'listen' && st?.[0] !== 'bind' && st?.[0] !== 'connect') return false;
      // The socket went through a disconnect before: any connect, or a shutdown.
      const names = aliasesOf(sc, ktrace, step, String(st[1]));
      return sc.steps.slice(0, step).some((p) => (p[0] === 'connect' || p[0] === 'shutdown') && names.has(String(p[1])));
    },
  },
  {
    key: 'negative-optlen',
    why: 'getsockopt with a negative optlen (EINVAL in C) cannot be expressed in the JavaScript API, whose option buffer is a Uint8Array',
    matches(sc, step) {
      const st = sc.steps[step];
      return st?.[0] === 'getsockopt' && typeof st[4] === 'number' && st[4] < 0;
    },
  },
];

/** The gap a divergence falls under, or null (a real divergence). */
export function knownGap(sc: Scenario, step: number, k: TraceEntry | undefined, x: TraceEntry | undefined, traits: KernelTraits = NO_KERNEL_TRAITS, ktrace: readonly TraceEntry[] = []): KnownGap | null {
  for (const g of KNOWN_GAPS) if (g.matches(sc, step, k, x, traits, ktrace)) return g;
  return null;
}

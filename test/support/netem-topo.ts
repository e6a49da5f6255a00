// An impaired path between a kernel host and a far host, for the netem interop test and the
// netem goodput benchmark (issue 8):
//
//   k (kernel, veth0 198.18.0.2/24) ⟷ r (veth0, veth1: no addresses) ⟷ far
//   far = x  (xlio-ts: a packet link on x:veth0, 198.18.0.1/24 in our stack; the kernel in x
//             has no addresses there and IPv6 off)
//      or k2 (a second kernel host, veth0 198.18.0.1/24) for kernel-to-kernel on the same path
//
// In r the two veths are joined by `xlio netem-relay`, impairing both directions alike, when
// the kernel has no sch_netem (kernelHasNetem()); otherwise by a Linux bridge with tc netem
// on both of r's egresses. Offloads are off on every veth end, IPv6 off on all of them.
//
// The transfers here verify every byte (SHA-256 of what arrived against what was sent) and
// time the whole thing: from just before the sender starts to the receiver's end of stream.

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { openPacketLink } from '../../src/link/packet-link.js';
import { SeededRng } from '../../src/rng.js';
import * as K from '../../src/socket/constants.js';
import { SockAddr } from '../../src/socket/types.js';
import { ipv4 } from '../../src/wire/address.js';
import { kernelHasNetem, Topology, type NetemRelay, type RelayDirection } from './netns.js';
import { WireHost } from './wire-host.js';

export const K_ADDR = '198.18.0.2';
export const FAR_ADDR = '198.18.0.1';

export type Far = 'xlio' | 'kernel';

export interface NetemPath {
  readonly topo: Topology;
  readonly k: string;
  readonly r: string;
  readonly far: string;
  /** The relay when the path uses one (no sch_netem), else null (tc netem on a bridge). */
  readonly relay: NetemRelay | null;
  /** The xlio-ts host (far = 'xlio'), else null. */
  readonly host: WireHost | null;
  /** Stops the relay (returning its counters), the host, and removes the namespaces. */
  destroy(): Promise<{ ab: RelayDirection; ba: RelayDirection } | null>;
}

/** Builds the path with tc-netem(8) `args` on both directions. */
export async function netemPath(tag: string, far: Far, args: readonly string[], opts: { seed?: number } = {}): Promise<NetemPath> {
  const topo = Topology.create(tag);
  let host: WireHost | null = null;
  let relay: NetemRelay | null = null;
  try {
    const k = topo.ns('k');
    const r = topo.ns('r');
    const f = topo.ns(far === 'xlio' ? 'x' : 'k2');
    topo.veth(k, 'veth0', r, 'veth0');
    topo.veth(r, 'veth1', f, 'veth0');
    for (const [ns, ifc] of [
      [k, 'veth0'],
      [r, 'veth0'],
      [r, 'veth1'],
      [f, 'veth0'],
    ] as const)
      topo.noIpv6(ns, ifc);
    topo.addr(k, 'veth0', `${K_ADDR}/24`);
    if (far === 'kernel') topo.addr(f, 'veth0', `${FAR_ADDR}/24`);
    if (kernelHasNetem()) {
      topo.run(r, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
      topo.run(r, ['ip', 'link', 'set', 'veth0', 'master', 'br0']);
      topo.run(r, ['ip', 'link', 'set', 'veth1', 'master', 'br0']);
      topo.run(r, ['ip', 'link', 'set', 'br0', 'up']);
      topo.netem(r, 'veth0', args);
      topo.netem(r, 'veth1', args);
    } else {
      relay = topo.relay(r, 'veth0', 'veth1', args, opts.seed !== undefined ? { seed: opts.seed } : {});
      await relay.ready();
    }
    if (far === 'xlio') {
      const link = openPacketLink({ ifname: 'veth0', netns: Topology.path(f) });
      host = WireHost.start(link, { mac: link.mac, addrs: [`${FAR_ADDR}/24`] });
    }
    const h = host;
    const rl = relay;
    let done = false;
    return {
      topo,
      k,
      r,
      far: f,
      relay,
      host,
      async destroy() {
        if (done) return null;
        done = true;
        const counters = rl !== null ? await rl.stop() : null;
        h?.stop();
        topo.destroy();
        return counters;
      },
    };
  } catch (e) {
    host?.stop();
    topo.destroy();
    throw e;
  }
}

/** `bytes` pseudo-random bytes from `seed` (no repeating pattern: a misplaced segment changes the hash). */
export function payload(bytes: number, seed = 8): Buffer {
  const rng = new SeededRng(seed);
  const b = Buffer.allocUnsafe(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) b.writeUInt32LE(rng.nextU32(), i);
  for (let i = bytes & ~3; i < bytes; i++) b[i] = rng.nextU32() & 0xff;
  return b;
}

/** The payload written to a file (for kernel senders) with its SHA-256. */
export function payloadFile(path: string, data: Uint8Array): string {
  writeFileSync(path, data);
  return createHash('sha256').update(data).digest('hex');
}

export interface Transfer {
  bytes: number;
  seconds: number;
  mibps: number;
  /** SHA-256 of what arrived. */
  sha: string;
}

function result(bytes: number, t0: number, sha: string): Transfer {
  const seconds = (performance.now() - t0) / 1000;
  return { bytes, seconds, mibps: bytes / 1048576 / seconds, sha };
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no end within ${ms} ms`)), ms);
    }),
  ]);
}

/** Waits (bounded) until a TCP port listens in a namespace. */
async function listening(topo: Topology, ns: string, port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const out = await topo.runAsync(ns, ['ss', '-Hltn', `sport = :${port}`]);
    if (out.trim() !== '') return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`nothing listens on port ${port} in ${ns} after ${ms} ms`);
}

/** A kernel receiver in `ns`: socat to sha256sum; resolves with the digest and when it ended. */
function kernelReceiver(topo: Topology, ns: string, port: number): { done: (ms: number) => Promise<string> } {
  const p = topo.spawn(ns, ['sh', '-c', `socat -u TCP-LISTEN:${port},reuseaddr STDOUT | sha256sum`]);
  return {
    async done(ms) {
      const ex = await p.waitExit(ms);
      const m = /^([0-9a-f]{64})/.exec(p.stdout);
      if (ex.code !== 0 || m === null) throw new Error(`kernel receiver in ${ns}: ${p.describe()}`);
      return m[1]!;
    },
  };
}

/** xlio-ts (far) sends `data` to a kernel socat in k. */
export async function xlioToKernel(path: NetemPath, data: Uint8Array, port: number, ms: number): Promise<Transfer> {
  const { api, io } = path.host!;
  const rx = kernelReceiver(path.topo, path.k, port);
  await listening(path.topo, path.k, port);
  const t0 = performance.now();
  const fd = api.socket(K.AF_INET, K.SOCK_STREAM, 0);
  const send = async (): Promise<void> => {
    const c = await io.connect(fd, SockAddr.inet(ipv4(K_ADDR), port));
    if (c !== 0) throw new Error(`connect: ${c}`);
    const CHUNK = 1 << 16;
    for (let off = 0; off < data.length; off += CHUNK) {
      const n = await io.send(fd, data.subarray(off, Math.min(off + CHUNK, data.length)), K.MSG_NOSIGNAL);
      if (n !== Math.min(CHUNK, data.length - off)) throw new Error(`send at ${off}: ${n}`);
    }
  };
  try {
    await timeout(send(), ms, 'xlio-ts send');
  } finally {
    api.close(fd);
  }
  const sha = await rx.done(Math.max(1000, ms - (performance.now() - t0)));
  return result(data.length, t0, sha);
}

/** A kernel socat in k sends `file` to xlio-ts (far), which hashes what it reads. */
export async function kernelToXlio(path: NetemPath, file: string, bytes: number, port: number, ms: number): Promise<Transfer> {
  const { api, io } = path.host!;
  const lfd = api.socket(K.AF_INET, K.SOCK_STREAM, 0);
  api.setsockopt(lfd, K.SOL_SOCKET, K.SO_REUSEADDR, Uint8Array.of(1, 0, 0, 0));
  if (api.bind(lfd, SockAddr.inet(ipv4(FAR_ADDR), port)) !== 0 || api.listen(lfd, 4) !== 0) throw new Error('bind/listen failed');
  const t0 = performance.now();
  const sender = path.topo.runAsync(path.k, ['socat', '-u', `FILE:${file}`, `TCP:${FAR_ADDR}:${port}`], { timeoutMs: ms });
  sender.catch(() => undefined); // awaited below; a failure then is reported with the receive's
  const receive = async (): Promise<[string, number]> => {
    const fd = await io.accept(lfd);
    if (fd < 0) throw new Error(`accept: ${fd}`);
    const h = createHash('sha256');
    const buf = new Uint8Array(1 << 18);
    let got = 0;
    try {
      for (;;) {
        const n = await io.recv(fd, buf);
        if (n === 0) break;
        if (n < 0) throw new Error(`recv after ${got} bytes: ${n}`);
        h.update(buf.subarray(0, n));
        got += n;
      }
    } finally {
      api.close(fd);
    }
    return [h.digest('hex'), got];
  };
  try {
    const [sha, got] = await timeout(receive(), ms, 'xlio-ts receive');
    const r = result(got, t0, sha);
    await sender;
    if (got !== bytes) throw new Error(`received ${got} of ${bytes} bytes`);
    return r;
  } finally {
    api.close(lfd);
  }
}

/** A kernel socat in `from` sends `file` to a kernel receiver in `to` at `toAddr`. */
export async function kernelToKernel(path: NetemPath, from: string, to: string, toAddr: string, file: string, bytes: number, port: number, ms: number): Promise<Transfer> {
  const rx = kernelReceiver(path.topo, to, port);
  await listening(path.topo, to, port);
  const t0 = performance.now();
  await path.topo.runAsync(from, ['socat', '-u', `FILE:${file}`, `TCP:${toAddr}:${port}`], { timeoutMs: ms });
  const sha = await rx.done(Math.max(1000, ms - (performance.now() - t0)));
  return result(bytes, t0, sha);
}

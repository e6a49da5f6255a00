// The topology of the offload tests and benchmark (test/interop/offload.test.ts,
// bench/http-wrk.bench.ts): a kernel host k and a namespace x where the offloaded program runs.
//
//   k (kernel host)                         x (where the offloaded program runs)
//   veth0 198.18.0.2/24 fd00::2/64  <->  veth0: no kernel addresses, IPv6 off; xlio-ts's packet
//                                            link, 198.18.0.1/24 fd00::1/64 (XLIO_LINK/ADDR)
//   veth1 198.19.0.2/24 fd00:1::2/64 <-> veth1 198.19.0.1/24 fd00:1::1/64: x's kernel, for the
//                                            sockets the rules leave to the OS

import { join } from 'node:path';
import { Topology } from './netns.js';
import { XLIO_CLI, type Proc } from './processes.js';

/** The register hook, compiled. */
export const REGISTER = new URL('../../src/node/register.js', import.meta.url).pathname;
/** test/fixtures/apps/ (plain .mjs programs, not compiled). */
export const APPS = new URL('../../../test/fixtures/apps/', import.meta.url).pathname;

export interface OffloadTopology {
  topo: Topology;
  k: string;
  x: string;
}

/** The two-link topology above. */
export function offloadTopology(tag: string): OffloadTopology {
  const topo = Topology.create(tag);
  try {
    const k = topo.ns('k');
    const x = topo.ns('x');
    topo.veth(k, 'veth0', x, 'veth0');
    topo.noIpv6(x, 'veth0');
    topo.addr(k, 'veth0', '198.18.0.2/24');
    topo.addr(k, 'veth0', 'fd00::2/64');
    topo.veth(k, 'veth1', x, 'veth1');
    topo.addr(k, 'veth1', '198.19.0.2/24');
    topo.addr(k, 'veth1', 'fd00:1::2/64');
    topo.addr(x, 'veth1', '198.19.0.1/24');
    topo.addr(x, 'veth1', 'fd00:1::1/64');
    return { topo, k, x };
  } catch (e) {
    topo.destroy();
    throw e;
  }
}

/** The environment of an offloaded program on x's veth0. */
export const OFFLOAD_ENV = ['XLIO_LINK=packet:veth0', 'XLIO_ADDR=198.18.0.1/24,fd00::1/64', 'NODE_OPTIONS='];

/** Runs `node --import register APP ARGS` in x (killed with the topology). */
export function startOffloaded(t: OffloadTopology, app: string, args: readonly string[], env: readonly string[] = [], viaXlioRun = false): Proc {
  const node = viaXlioRun ? [process.execPath, XLIO_CLI, 'run', '--', process.execPath] : [process.execPath, '--import', REGISTER];
  return t.topo.spawn(t.x, ['env', ...OFFLOAD_ENV, ...env, ...node, join(APPS, app), ...args]);
}

/** wrk's summary: requests/s, p99 latency (µs), errors. */
export interface WrkResult {
  rps: number;
  p99us: number;
  requests: number;
  socketErrors: string | null;
  non2xx: string | null;
  text: string;
}

function toUs(v: string, unit: string): number {
  return Number(v) * ({ us: 1, ms: 1000, s: 1_000_000 } as Record<string, number>)[unit]!;
}

export function parseWrk(text: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(text);
  const req = /(\d+) requests in/.exec(text);
  return {
    rps: rps ? Number(rps[1]) : 0,
    p99us: p99 ? toUs(p99[1]!, p99[2]!) : NaN,
    requests: req ? Number(req[1]) : 0,
    socketErrors: /Socket errors:.*/.exec(text)?.[0] ?? null,
    non2xx: /Non-2xx or 3xx responses:.*/.exec(text)?.[0] ?? null,
    text,
  };
}


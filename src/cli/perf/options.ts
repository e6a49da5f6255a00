// `xlio perf` arguments, spelled as sockperf spells them (long and short forms,
// `--opt value` or `--opt=value`). Anything unknown or malformed is a PerfUsageError.

import { LinkSpecError, parseLinkSpec } from '../../link/link-spec.js';
import type { PerfMode } from './roles.js';
import { PerfUsageError, type Impl, type Iomux, type Proto } from './transport.js';

export type PerfSub = 'server' | PerfMode;

export interface PerfArgs {
  sub: PerfSub;
  impl: Impl;
  proto: Proto;
  host: string | undefined;
  port: number;
  msgSize: number;
  seconds: number;
  count: number;
  mps: number | 'max' | undefined;
  burst: number;
  replyEvery: number | undefined;
  iomux: Iomux;
  iomuxGiven: boolean;
  fullLog: string | undefined;
  spinUs: number | undefined;
  /** --impl xlio: the server in a second process over a named shared-memory segment. */
  processes: boolean;
  /** --impl xlio on a real link: its spec (src/link/link-spec.ts) and our address. */
  link: string | undefined;
  addr: string | undefined;
  help: boolean;
}

export const PERF_USAGE = `usage: xlio perf <server|ping-pong|throughput|under-load> [options]
       (sockperf's short names work too: sr, pp, tp, ul)

options (as sockperf's):
  --tcp                   TCP (default UDP)
  -i, --ip ADDR           server: listen on ADDR (default 0.0.0.0); client: send to ADDR
  -p, --port N            port (default 11111)
  -m, --msg-size N        message size in bytes, header included (14..65507, default 14)
  -t, --time SEC          run time in seconds (default 1)
  -n, --number-of-packets N
                          send N messages instead of running for a time
  --mps N|max             messages per second (default: max; under-load: 10000)
  -b, --burst N           messages per burst (default 1)
  --reply-every N         under-load: request a reply every N messages (default 100)
  -F, --iomux-type T      select|poll|epoll (s|p|e; default epoll): the readiness call of --impl xlio
  --full-log FILE         write every round trip (CSV) to FILE
  --impl os|xlio          os: Node's net/dgram over the kernel (default);
                          xlio: xlio-ts busy-polling in worker threads, against an
                          in-process xlio-ts server over shared memory (198.18.0.1)
  --spin-us N             xlio: spin this long idle before parking on the link's
                          doorbell (default 1000; parks at once while the OS
                          preempts the spinning threads; -1: spin forever)
  --processes             xlio: run the server in a second process, over a named
                          shared-memory segment (needs the native addon)
  --link SPEC             xlio: put the stack on a real link instead, and talk to
                          whatever is on the other side (sockperf on a kernel host):
                          packet:IF[,netns=NS], xdp:IF[,netns=NS,mode=native|skb],
                          tap:NAME[,netns=NS]
  --addr ADDR/PREFIX      xlio with --link: the stack's IPv4 address (198.18.0.1/24)
`;

const SUBS: Record<string, PerfSub> = {
  server: 'server',
  sr: 'server',
  'ping-pong': 'ping-pong',
  pp: 'ping-pong',
  throughput: 'throughput',
  tp: 'throughput',
  'under-load': 'under-load',
  ul: 'under-load',
};

const IOMUX: Record<string, Iomux> = { s: 'select', select: 'select', p: 'poll', poll: 'poll', e: 'epoll', epoll: 'epoll' };

/** Option name → canonical key, for the ones that take a value. */
const VALUED: Record<string, string> = {
  '-i': 'ip',
  '--ip': 'ip',
  '-p': 'port',
  '--port': 'port',
  '-m': 'msg-size',
  '--msg-size': 'msg-size',
  '-t': 'time',
  '--time': 'time',
  '-n': 'count',
  '--number-of-packets': 'count',
  '--mps': 'mps',
  '--pps': 'mps',
  '-b': 'burst',
  '--burst': 'burst',
  '--reply-every': 'reply-every',
  '-F': 'iomux',
  '--iomux-type': 'iomux',
  '--full-log': 'full-log',
  '--impl': 'impl',
  '--spin-us': 'spin-us',
  '--link': 'link',
  '--addr': 'addr',
};

function integer(v: string, opt: string, min: number, max: number): number {
  if (!/^\d+$/.test(v)) throw new PerfUsageError(`${opt} needs an integer, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (n < min || n > max) throw new PerfUsageError(`${opt} must be in ${min}..${max}, got ${n}`);
  return n;
}

export function parsePerfArgs(argv: readonly string[]): PerfArgs {
  const [subName, ...rest] = argv;
  if (subName === undefined || subName === '-h' || subName === '--help' || subName === 'help') {
    return { ...defaults('ping-pong'), help: true };
  }
  const sub = SUBS[subName];
  if (sub === undefined) throw new PerfUsageError(`unknown perf mode ${JSON.stringify(subName)} (server, ping-pong, throughput, under-load)`);
  const a = defaults(sub);
  for (let i = 0; i < rest.length; i++) {
    let arg = rest[i]!;
    let value: string | undefined;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    if (eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg === '--tcp' || arg === '--processes' || arg === '-h' || arg === '--help') {
      if (value !== undefined) throw new PerfUsageError(`${arg} takes no value`);
      if (arg === '--tcp') a.proto = 'tcp';
      else if (arg === '--processes') a.processes = true;
      else a.help = true;
      continue;
    }
    const key = VALUED[arg];
    if (key === undefined) throw new PerfUsageError(`unknown option ${JSON.stringify(arg)}`);
    if (value === undefined) {
      if (i + 1 >= rest.length) throw new PerfUsageError(`${arg} needs a value`);
      value = rest[++i]!;
    }
    switch (key) {
      case 'ip':
        if (value === '' || /\s/.test(value)) throw new PerfUsageError(`${arg} needs an address, got ${JSON.stringify(value)}`);
        a.host = value;
        break;
      case 'port':
        a.port = integer(value, arg, sub === 'server' ? 0 : 1, 65535);
        break;
      case 'msg-size':
        a.msgSize = integer(value, arg, 14, 65507);
        break;
      case 'time': {
        const t = Number(value);
        if (!/^\d+(\.\d+)?$/.test(value) || !(t > 0) || t > 36_000_000) throw new PerfUsageError(`${arg} needs a number of seconds in (0, 36000000], got ${JSON.stringify(value)}`);
        a.seconds = t;
        break;
      }
      case 'count':
        a.count = integer(value, arg, 1, Number.MAX_SAFE_INTEGER);
        break;
      case 'mps':
        a.mps = value === 'max' ? 'max' : integer(value, arg, 1, 100_000_000);
        break;
      case 'burst':
        a.burst = integer(value, arg, 1, 1 << 20);
        break;
      case 'reply-every':
        a.replyEvery = integer(value, arg, 1, 1 << 30);
        break;
      case 'iomux': {
        const m = IOMUX[value];
        if (m === undefined) throw new PerfUsageError(`${arg} must be select, poll or epoll, got ${JSON.stringify(value)}`);
        a.iomux = m;
        a.iomuxGiven = true;
        break;
      }
      case 'full-log':
        if (value === '') throw new PerfUsageError(`${arg} needs a file name`);
        a.fullLog = value;
        break;
      case 'spin-us':
        a.spinUs = value === '-1' ? -1 : integer(value, arg, 0, 10_000_000);
        break;
      case 'impl':
        if (value !== 'os' && value !== 'xlio') throw new PerfUsageError(`--impl must be os or xlio, got ${JSON.stringify(value)}`);
        a.impl = value;
        break;
      case 'link':
        try {
          if (parseLinkSpec(value).kind === 'vxlan') {
            throw new PerfUsageError(
              '--link vxlan: xlio perf busy-polls its stack in a worker thread, and vxlan frames arrive through dgram on an event loop that a busy worker never runs; use packet, xdp or tap',
            );
          }
        } catch (e) {
          if (e instanceof LinkSpecError) throw new PerfUsageError(`--link ${e.message}`);
          throw e;
        }
        a.link = value;
        break;
      case 'addr':
        if (!/^\d+\.\d+\.\d+\.\d+\/\d{1,2}$/.test(value)) throw new PerfUsageError(`--addr needs an IPv4 ADDRESS/PREFIX such as 198.18.0.1/24, got ${JSON.stringify(value)}`);
        a.addr = value;
        break;
    }
  }
  if ((a.link === undefined) !== (a.addr === undefined)) throw new PerfUsageError("--link and --addr go together: the link to use and the stack's address on it");
  if (a.link !== undefined && a.impl !== 'xlio') throw new PerfUsageError('--link applies to --impl xlio');
  if (a.link !== undefined && a.processes) throw new PerfUsageError('--processes and --link do not go together: on a real link the peer is already another host');
  if (a.link !== undefined && a.sub !== 'server' && a.host === undefined) throw new PerfUsageError('with --link, -i names the server to test (e.g. -i 198.18.0.2)');
  if (a.sub === 'server' && (a.fullLog !== undefined || a.count > 0)) throw new PerfUsageError('--full-log and -n are client options');
  if (a.replyEvery !== undefined && a.sub !== 'under-load') throw new PerfUsageError('--reply-every applies to under-load only');
  return a;
}

function defaults(sub: PerfSub): PerfArgs {
  return {
    sub,
    impl: 'os',
    proto: 'udp',
    host: undefined,
    port: 11111,
    msgSize: 14,
    seconds: 1,
    count: 0,
    mps: undefined,
    burst: 1,
    replyEvery: undefined,
    iomux: 'epoll',
    iomuxGiven: false,
    fullLog: undefined,
    spinUs: undefined,
    processes: false,
    link: undefined,
    addr: undefined,
    help: false,
  };
}

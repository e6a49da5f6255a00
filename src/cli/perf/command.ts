// `xlio perf …`: sockperf's command line and report on top of api.ts.

import { writeFileSync } from 'node:fs';
import { clientConfig, fullLogText, reportLines, resultOf, startPerfServer, transportFor } from './api.js';
import { PERF_USAGE, parsePerfArgs, type PerfArgs } from './options.js';
import { PerfUsageError, type ClientConfig } from './transport.js';
import { SERVER_IP } from './xlio-host.js';

const PREFIX = 'xlio perf: ';
const say = (line: string): void => void process.stdout.write(line === '' ? '\n' : `${PREFIX}${line}\n`);

function addressLine(host: string, port: number, proto: string): string {
  return `[ 0] IP = ${host.padEnd(15)} PORT = ${String(port).padStart(5)} # ${proto.toUpperCase()}`;
}

function implLine(a: PerfArgs): string {
  return a.impl === 'os'
    ? "impl os: Node's net/dgram over the kernel (libuv's event loop waits in epoll; -F does not apply)"
    : `impl xlio: xlio-ts in worker threads over ${a.link !== undefined ? `the link ${a.link} as ${a.addr}` : 'shared memory'}, busy-polling with ${a.iomux}() (timeout 0)`;
}

export async function perfCommand(argv: string[]): Promise<number> {
  let a: PerfArgs;
  try {
    a = parsePerfArgs(argv);
  } catch (e) {
    if (!(e instanceof PerfUsageError)) throw e;
    process.stderr.write(`xlio perf: ${e.message}\n\n${PERF_USAGE}`);
    return 2;
  }
  if (a.help) {
    process.stdout.write(PERF_USAGE);
    return 0;
  }
  try {
    return a.sub === 'server' ? await serve(a) : await client(a);
  } catch (e) {
    if (e instanceof PerfUsageError) {
      process.stderr.write(`xlio perf: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`xlio perf: error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

async function serve(a: PerfArgs): Promise<number> {
  if (a.impl === 'xlio' && a.link === undefined) {
    throw new PerfUsageError(
      `--impl xlio serves on a real link: give --link (packet:IF, xdp:IF, tap:NAME, vxlan:…) and --addr. ` +
        `Without one, 'xlio perf ping-pong --impl xlio' runs its own xlio-ts server (${SERVER_IP}) in-process.`,
    );
  }
  const host = a.host ?? (a.addr !== undefined ? a.addr.split('/')[0]! : '0.0.0.0');
  const wire = a.link !== undefined ? { link: a.link, addr: a.addr! } : undefined;
  const srv = await startPerfServer({ impl: a.impl, proto: a.proto, host, port: a.port, iomux: a.iomux, ...(wire !== undefined ? { wire } : {}) });
  say(implLine(a));
  say('[SERVER] listen on:');
  process.stdout.write(`${addressLine(srv.host, srv.port, a.proto)}\n`);
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    // Started by a Node parent with an IPC channel (xlio demo): stop when that parent is gone,
    // even if it was killed without a chance to stop us.
    if (process.send !== undefined) process.once('disconnect', () => resolve('parent exit'));
  });
  const c = await srv.close();
  if (signal === 'parent exit') return 0; // nobody reads our output any more
  say(`Test end (interrupted by ${signal})`);
  say(`received ${c.received} messages, replied ${c.replied}, ${c.connections} connections`);
  return 0;
}

async function client(a: PerfArgs): Promise<number> {
  if (a.impl === 'xlio' && a.link === undefined && a.host !== undefined && a.host !== SERVER_IP) {
    throw new PerfUsageError(`--impl xlio without --link talks to its own in-process server (${SERVER_IP}) over shared memory; to reach ${a.host}, give --link and --addr`);
  }
  const mode = a.sub as Exclude<PerfArgs['sub'], 'server'>;
  const cfg: ClientConfig = clientConfig(mode, {
    impl: a.impl,
    proto: a.proto,
    msgSize: a.msgSize,
    seconds: a.seconds,
    count: a.count,
    burst: a.burst,
    iomux: a.iomux,
    port: a.port,
    ...(a.host !== undefined ? { host: a.host } : {}),
    ...(a.mps !== undefined ? { mps: a.mps } : {}),
    ...(a.replyEvery !== undefined ? { replyEvery: a.replyEvery } : {}),
    ...(a.spinUs !== undefined ? { spinUs: a.spinUs } : {}),
  });
  say(implLine(a));
  say('[CLIENT] send on:');
  process.stdout.write(`${addressLine(cfg.host, cfg.port, cfg.proto)}\n`);
  say('Starting test...');
  if (a.processes && a.impl !== 'xlio') throw new PerfUsageError('--processes applies to --impl xlio');
  const wire = a.link !== undefined ? { link: a.link, addr: a.addr! } : undefined;
  const outcome = await transportFor(a.impl, a.processes, wire).runClient(cfg);
  const r = resultOf(cfg, a.impl, outcome);
  say(cfg.count > 0 ? `Test end (${cfg.count} messages sent)` : 'Test end (interrupted by timer)');
  say('Test ended');
  for (const line of reportLines(r, cfg)) say(line);
  if (r.server !== undefined) say(`in-process xlio-ts server: received ${r.server.received} messages, replied ${r.server.replied}`);
  if (a.fullLog !== undefined) writeFileSync(a.fullLog, fullLogText(r, cfg));
  return 0;
}

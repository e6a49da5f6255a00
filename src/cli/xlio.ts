#!/usr/bin/env node
// The `xlio` command. Subcommands arrive with the milestones that give them
// something to do; each one listed in `xlio help` works.

import { readFileSync } from 'node:fs';
import { captureCommand } from './capture.js';
import { configCommand } from './config.js';
import { demoCommand } from './demo.js';
import { netemRelayCommand } from './netem-relay.js';
import { perfCommand } from './perf/command.js';
import { runCommand } from './run.js';
import { statsCommand } from './stats.js';

const USAGE = `usage: xlio <command> [args]

commands:
  run [--link SPEC --addr CIDR…] [--] COMMAND [ARGS…]
                             run a Node program offloaded: its net/dgram sockets
                             go to xlio-ts as the rules select, the rest to the OS;
                             'xlio run --help' lists the options
  capture read FILE [-c N]   print one line per frame of a pcap/pcapng file,
                             dissected by xlio-ts's own codecs
  perf MODE [options]        sockperf-compatible benchmark: server, ping-pong,
                             throughput, under-load (sr, pp, tp, ul); --impl os|xlio;
                             'xlio perf --help' lists the options
  demo [--seconds N] [--json FILE]
                             xlio-ts over shared memory against Node's net/dgram over
                             the kernel: ping-pong latency and bulk throughput
  netem-relay --a LINK --b LINK [--loss P%] [--delay T] [--reorder P%] …
                             forward frames between two links impaired like
                             tc-netem (for kernels without sch_netem);
                             'xlio netem-relay --help' lists the options
  stats [-p PID] [--view N] [--interval S] [--prometheus PORT]
                             live counters of running xlio-ts processes (sockets,
                             rings, buffer pools), as a table or Prometheus text;
                             'xlio stats --help' lists the options
  config --check [--rules FILE] [--app NAME] [--json]
                             validate the XLIO_* environment and the offload
                             rules (libxlio.conf); print what applies
  version                    print the version
  help                       print this text
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function main(argv: string[]): number | Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    case 'version':
    case '--version':
      process.stdout.write(`xlio-ts ${version()}\n`);
      return 0;
    case 'run':
      return runCommand(rest);
    case 'capture':
      return captureCommand(rest);
    case 'perf':
      return perfCommand(rest);
    case 'demo':
      return demoCommand(rest);
    case 'netem-relay':
      return netemRelayCommand(rest);
    case 'stats':
      return statsCommand(rest);
    case 'config':
      return configCommand(rest);
    default:
      process.stderr.write(`xlio: unknown command '${cmd}'\n${USAGE}`);
      return 2;
  }
}

const code = main(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
else {
  code.then(
    (c) => {
      process.exitCode = c;
    },
    (e: unknown) => {
      process.stderr.write(`xlio: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

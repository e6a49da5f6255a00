#!/usr/bin/env node
// The `xlio` command. Subcommands arrive with the milestones that give them
// something to do; each one listed in `xlio help` works.

import { readFileSync } from 'node:fs';
import { captureCommand } from './capture.js';

const USAGE = `usage: xlio <command> [args]

commands:
  capture read FILE [-c N]   print one line per frame of a pcap/pcapng file,
                             dissected by xlio-ts's own codecs
  version                    print the version
  help                       print this text
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function main(argv: string[]): number {
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
    case 'capture':
      return captureCommand(rest);
    default:
      process.stderr.write(`xlio: unknown command '${cmd}'\n${USAGE}`);
      return 2;
  }
}

process.exitCode = main(process.argv.slice(2));

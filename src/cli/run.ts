// `xlio run [options] -- COMMAND [ARGS…]`: runs a program offloaded, as `LD_PRELOAD=libxlio.so
// COMMAND` does for XLIO. The command (node, or anything that starts node: npm, npx, a
// script with a node shebang) gets `--import <xlio-ts/register>` in NODE_OPTIONS, so every
// Node process it starts loads the register hook (src/node/register.ts) before its program,
// and the XLIO_* variables the options name. Signals sent to `xlio run` (INT, TERM, HUP,
// QUIT, USR1, USR2) are passed to the child; `xlio run` exits with the child's status, or
// dies of the same signal when the child did.

import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

const USAGE = `usage: xlio run [options] [--] COMMAND [ARGS…]

Runs COMMAND with Node's net and dgram offloaded to xlio-ts for the sockets the rules
select (NODE_OPTIONS gains --import xlio-ts/register; XLIO_* variables are passed on).

options (each sets the XLIO_* variable named; variables already set are kept otherwise):
  --link SPEC        XLIO_LINK: packet:IF[,netns=NS] | xdp:IF[,…] | tap:NAME[,…]
  --addr CIDR        XLIO_ADDR: the stack's address on the link (repeat, or comma-separated)
  --gateway IP       XLIO_GATEWAY: IPv4 default gateway
  --rules FILE       XLIO_CONFIG_FILE: the libxlio.conf rules file
  --app-id ID        XLIO_APPLICATION_ID
  --trace LEVEL      XLIO_TRACELEVEL (3 or more: one line per socket decision on stderr)
  -h, --help         this text

examples:
  xlio run --link packet:eth1 --addr 198.18.0.1/24 -- node server.js
  XLIO_CONFIG_FILE=./libxlio.conf xlio run -- npm start
`;

const FORWARD: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** The register hook of this installation, as a file URL (no quoting needed in NODE_OPTIONS). */
export function registerUrl(): string {
  return pathToFileURL(new URL('../node/register.js', import.meta.url).pathname).href;
}

export interface RunPlan {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** Parses `xlio run`'s arguments into what to spawn; throws a usage message on bad input. */
export function planRun(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): RunPlan | 'help' {
  const out: NodeJS.ProcessEnv = { ...env };
  const addrs: string[] = [];
  let i = 0;
  const value = (flag: string): string => {
    const v = argv[++i];
    if (v === undefined || v === '') throw new Error(`xlio run: ${flag} needs a value`);
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-')) break;
    switch (a) {
      case '-h':
      case '--help':
        return 'help';
      case '--link':
        out['XLIO_LINK'] = value(a);
        break;
      case '--addr':
        addrs.push(...value(a).split(',').map((s) => s.trim()).filter((s) => s !== ''));
        break;
      case '--gateway':
        out['XLIO_GATEWAY'] = value(a);
        break;
      case '--rules':
        out['XLIO_CONFIG_FILE'] = value(a);
        break;
      case '--app-id':
        out['XLIO_APPLICATION_ID'] = value(a);
        break;
      case '--trace':
        out['XLIO_TRACELEVEL'] = value(a);
        break;
      default:
        throw new Error(`xlio run: unknown option ${a} (the command goes after --)`);
    }
  }
  const rest = argv.slice(i);
  if (rest.length === 0) throw new Error('xlio run: no command to run (xlio run [options] -- node app.js)');
  if (addrs.length > 0) out['XLIO_ADDR'] = addrs.join(',');
  if (out['XLIO_LINK'] && !out['XLIO_ADDR']) throw new Error('xlio run: --link needs --addr (the stack\'s addresses on the link, e.g. 198.18.0.1/24)');
  const imp = `--import ${registerUrl()}`;
  const prev = out['NODE_OPTIONS'] ?? '';
  out['NODE_OPTIONS'] = prev.includes(imp) ? prev : prev === '' ? imp : `${prev} ${imp}`;
  return { command: rest[0]!, args: rest.slice(1), env: out };
}

export function runCommand(argv: readonly string[]): number | Promise<number> {
  let plan: RunPlan | 'help';
  try {
    plan = planRun(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (plan === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const { command, args, env } = plan;
  return new Promise<number>((resolve) => {
    const child = spawn(command, args, { env, stdio: 'inherit' });
    const handlers = new Map<NodeJS.Signals, () => void>();
    for (const sig of FORWARD) {
      const h = (): void => {
        if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      };
      handlers.set(sig, h);
      process.on(sig, h);
    }
    const done = (): void => {
      for (const [sig, h] of handlers) process.off(sig, h);
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      done();
      process.stderr.write(`xlio run: cannot run ${command}: ${e.code === 'ENOENT' ? 'not found' : e.message}\n`);
      resolve(e.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (code, signal) => {
      done();
      if (signal !== null) {
        // Die of the same signal, as a shell would report it (128+n).
        process.kill(process.pid, signal);
        setTimeout(() => resolve(128 + (signalNumber(signal) ?? 0)), 100).unref();
        return;
      }
      resolve(code ?? 1);
    });
  });
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  const n = (
    { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 } as Partial<Record<NodeJS.Signals, number>>
  )[sig];
  return n;
}

// `xlio config --check`: validates the XLIO_* environment and the rules file (libxlio.conf)
// the way a program started under xlio-ts would read them, and says what they add up to.
//
//   xlio config [--check] [--rules FILE] [--app NAME] [--id ID] [--json]
//
// Every XLIO_* variable is checked against XLIO's meaning and range (the ones runtime/config.ts
// reads through loadConfig, one at a time so that every bad value is reported; the ones read
// elsewhere — XLIO_TRACELEVEL, XLIO_TCP_CC_ALGO, XLIO_MSS, XLIO_STATS_*, XLIO_LINK, XLIO_ADDR,
// XLIO_GATEWAY, XLIO_CONFIG_FILE, XLIO_APPLICATION_ID — here). An unknown XLIO_* name within
// two edits of a known one is an error (a typo: the setting silently does nothing); any other
// unknown name is a warning (XLIO has many settings xlio-ts does not implement). The rules
// file is XLIO_CONFIG_FILE, else /etc/libxlio.conf (absent: no rules, which is fine), or
// --rules FILE (which must exist); every bad line is reported as FILE:LINE:COLUMN: message.
// --app NAME picks the application-id block as the program NAME would get it (the script's
// basename for `node NAME`); --id overrides XLIO_APPLICATION_ID.
//
// Exit status: 0 all is well (warnings allowed; a summary of the effective configuration
// and the applicable rules on stdout), 1 something is wrong (each problem on stderr), 2 bad
// arguments. --json prints one JSON object on stdout instead, with the same exit status.

import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseLinkSpec } from '../link/link-spec.js';
import { CONFIG_VARIABLES, ConfigError, describeConfig, loadConfig, suggestVariable, type RuntimeConfig } from '../runtime/config.js';
import { applicationId, DEFAULT_APPLICATION_ID, parseRules, RuleParseError, rulesFilePath, selectRules, type ParsedRules, type RuleSet } from '../runtime/rules.js';
import { parseCongestionAlgorithm } from '../stack/tcp/congestion.js';
import { parseIpv4Text, parseIpv6Text } from '../wire/address.js';

const USAGE = `usage: xlio config [--check] [--rules FILE] [--app NAME] [--id ID] [--json]

Checks the XLIO_* environment and the offload rules file (libxlio.conf syntax) and prints
the effective configuration and the rules that apply.

  --check        check (the default action)
  --rules FILE   the rules file to check (default: XLIO_CONFIG_FILE, else /etc/libxlio.conf)
  --app NAME     the program whose application-id block to show (for 'node server.js': server.js)
  --id ID        the user-defined id (default: XLIO_APPLICATION_ID)
  --json         one JSON object on stdout

exit status: 0 all is well, 1 something is wrong, 2 bad arguments
`;

/** One finding. */
export interface Finding {
  readonly severity: 'error' | 'warning';
  readonly source: 'env' | 'rules';
  /** The variable (env findings). */
  readonly variable?: string;
  /** file, line, column (rules findings; line 0 when the file itself is the problem). */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const TRACE_LEVELS: Record<string, number> = { none: -1, panic: 0, error: 1, warn: 2, warning: 2, info: 3, details: 4, debug: 5, fine: 6, func: 6, finer: 7, funcall: 7, 'func+': 7, all: 8 };

/** Checks a variable read outside runtime/config.ts; returns the problem, or null. */
function checkElsewhere(name: string, value: string, env: Env): string | null {
  const v = value.trim();
  switch (name) {
    case 'XLIO_TRACELEVEL': {
      if (v.toLowerCase() in TRACE_LEVELS) return null;
      if (/^-?\d+$/.test(v) && Number(v) >= -1 && Number(v) <= 8) return null;
      return 'accepts a level from -1 to 8 or its name: none, panic, error, warn, info (default), details, debug, fine, finer, all';
    }
    case 'XLIO_TCP_CC_ALGO':
      return parseCongestionAlgorithm(v) !== null ? null : "accepts 0 (lwIP's NewReno, default), 1 (cubic) or 2 (none), or the names lwip, reno, newreno, cubic, none, disable";
    case 'XLIO_MSS':
      return /^\d+$/.test(v) && Number(v) <= 65535 ? null : 'accepts 0 (derived from the MTU, default) or a segment size up to 65535';
    case 'XLIO_STATS_FILE': {
      const dir = dirname(v);
      const st = statOrNull(dir);
      return st === null ? `names a file in ${dir}, which does not exist` : !st.isDirectory() ? `names a file in ${dir}, which is not a directory` : null;
    }
    case 'XLIO_STATS_SHMEM_DIR': {
      const st = statOrNull(v);
      return st !== null && !st.isDirectory() ? `names ${v}, which exists and is not a directory` : null;
    }
    case 'XLIO_LINK':
      try {
        parseLinkSpec(v);
      } catch (e) {
        return (e as Error).message;
      }
      return (env['XLIO_ADDR'] ?? '').trim() === '' ? 'needs XLIO_ADDR (the stack\'s addresses on the link, e.g. 198.18.0.1/24)' : null;
    case 'XLIO_ADDR': {
      for (const cidr of v.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
        const [a = '', len, more] = cidr.split('/');
        const four = parseIpv4Text(a) !== null;
        const six = !four && parseIpv6Text(a) !== null;
        const max = four ? 32 : 128;
        if ((!four && !six) || more !== undefined || (len !== undefined && !(/^\d+$/.test(len) && Number(len) <= max))) return `accepts comma-separated addresses with prefix lengths (198.18.0.1/24,fd00::1/64); '${cidr}' is not one`;
      }
      return null;
    }
    case 'XLIO_GATEWAY':
      return parseIpv4Text(v) !== null ? null : 'accepts an IPv4 address';
    case 'XLIO_APPLICATION_ID':
      return /\s/.test(v) ? 'is one word (it is compared with the second field of application-id lines)' : null;
    default:
      return null;
  }
}

function statOrNull(p: string): import('node:fs').Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/** Every finding about the environment, and the config when the values are good. */
export function checkEnvironment(env: Env): { findings: Finding[]; config: RuntimeConfig | null } {
  const findings: Finding[] = [];
  const own = new Set(CONFIG_VARIABLES.map((v) => v.name));
  for (const name of Object.keys(env).filter((k) => k.startsWith('XLIO_')).sort()) {
    const value = env[name];
    if (value === undefined || value.trim() === '') continue;
    if (own.has(name)) {
      try {
        loadConfig({ [name]: value });
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        findings.push({ severity: 'error', source: 'env', variable: name, message: e.message });
      }
      continue;
    }
    const probe = loadConfig({ [name]: value });
    if (probe.unknown.includes(name)) {
      const near = suggestVariable(name);
      findings.push(
        near !== null
          ? { severity: 'error', source: 'env', variable: name, message: `${name} is not a setting xlio-ts reads (did you mean ${near}?)` }
          : { severity: 'warning', source: 'env', variable: name, message: `${name} is not a setting xlio-ts reads; ignored` },
      );
      continue;
    }
    const problem = checkElsewhere(name, value, env);
    if (problem !== null) findings.push({ severity: 'error', source: 'env', variable: name, message: `${name}=${JSON.stringify(value)} is not valid: ${name} ${problem}` });
  }
  let config: RuntimeConfig | null = null;
  if (!findings.some((f) => f.severity === 'error' && f.variable !== undefined && own.has(f.variable))) config = loadConfig(env);
  return { findings, config };
}

interface RulesReport {
  readonly file: string;
  /** False when the default file does not exist (no rules: everything offloaded). */
  readonly present: boolean;
  readonly parsed: ParsedRules | null;
  readonly selected: RuleSet | null;
}

/** Reads and parses the rules file; findings for what is wrong with it. */
export function checkRules(env: Env, opts: { rules?: string; app?: string; id?: string }): { findings: Finding[]; report: RulesReport } {
  const findings: Finding[] = [];
  const named = opts.rules !== undefined ? { path: opts.rules, explicit: true } : rulesFilePath(env);
  let text: string | null = null;
  try {
    text = readFileSync(named.path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!(code === 'ENOENT' && !named.explicit)) {
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
      const by = opts.rules !== undefined ? '' : ' (named by XLIO_CONFIG_FILE)';
      findings.push({ severity: 'error', source: 'rules', file: named.path, line: 0, column: 0, message: `${named.path}: cannot read the rules file${by}: ${why}` });
    }
  }
  if (text === null) return { findings, report: { file: named.path, present: false, parsed: null, selected: null } };
  const parsed = parseRules(text, named.path);
  for (const e of parsed.errors) findings.push(ruleFinding(e));
  // XLIO uses the first block that matches: one after a catch-all 'application-id * *' is dead.
  const catchAll = parsed.blocks.find((b) => b.program === '*' && b.id === '*');
  for (const b of parsed.blocks) {
    if (catchAll !== undefined && b !== catchAll && b.line > catchAll.line && b.explicit) {
      findings.push({ severity: 'warning', source: 'rules', file: named.path, line: b.line, column: 1, message: `${named.path}:${b.line}:1: 'application-id ${b.program} ${b.id}' never applies: 'application-id * *' at line ${catchAll.line}${catchAll.explicit ? '' : ' (rules before any application-id)'} comes first and matches every program (the first matching block is used)` });
    }
  }
  const appId = opts.id ?? applicationId(env);
  if (appId !== DEFAULT_APPLICATION_ID && appId !== '*' && !parsed.blocks.some((b) => b.id === appId)) {
    findings.push({ severity: 'warning', source: 'rules', file: named.path, line: 0, column: 0, message: `${named.path}: no application-id line has the user-defined id '${appId}' (XLIO_APPLICATION_ID); only blocks with '*' apply` });
  }
  let selected: RuleSet | null = null;
  if (opts.app !== undefined) {
    selected = selectRules(parsed, opts.app, appId, named.path);
    if (selected.block === null && parsed.blocks.length > 0) {
      findings.push({ severity: 'warning', source: 'rules', file: named.path, line: 0, column: 0, message: `${named.path}: no application-id block matches program '${opts.app}' with id '${appId}': all its sockets are offloaded` });
    }
  }
  return { findings, report: { file: named.path, present: true, parsed, selected } };
}

function ruleFinding(e: RuleParseError): Finding {
  return { severity: 'error', source: 'rules', file: e.file, line: e.line, column: e.column, message: e.message };
}

interface Args {
  rules?: string;
  app?: string;
  id?: string;
  json: boolean;
  help: boolean;
}

function parseArgs(argv: readonly string[]): Args | string {
  const a: Args = { json: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    const value = (): string | null => {
      const v = argv[++i];
      return v === undefined || v === '' ? null : v;
    };
    switch (x) {
      case '--check':
        break;
      case '--json':
        a.json = true;
        break;
      case '--help':
      case '-h':
        a.help = true;
        break;
      case '--rules':
      case '--app':
      case '--id': {
        const v = value();
        if (v === null) return `${x} needs a value`;
        a[x.slice(2) as 'rules' | 'app' | 'id'] = v;
        break;
      }
      default:
        return `unknown argument '${x}'`;
    }
  }
  return a;
}

/** `xlio config …`: returns the exit status. */
export function configCommand(argv: readonly string[], env: Env = process.env, out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): number {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    err(`xlio config: ${args}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    out(USAGE);
    return 0;
  }
  const envCheck = checkEnvironment(env);
  const rulesCheck = checkRules(env, args);
  const findings = [...envCheck.findings, ...rulesCheck.findings];
  const ok = !findings.some((f) => f.severity === 'error');
  const { report } = rulesCheck;
  const appId = args.id ?? applicationId(env);
  if (args.json) {
    const blocks = report.parsed?.blocks.map((b) => ({ program: b.program, id: b.id, line: b.line, explicit: b.explicit, rules: b.rules.map((r) => ({ line: r.line, transport: r.transport, kind: r.kind, text: r.text })) })) ?? [];
    const sel = report.selected;
    out(
      JSON.stringify(
        {
          ok,
          errors: findings.filter((f) => f.severity === 'error'),
          warnings: findings.filter((f) => f.severity === 'warning'),
          config: envCheck.config === null ? null : { ...envCheck.config, unknown: [...envCheck.config.unknown] },
          rules: {
            file: report.file,
            present: report.present,
            applicationId: appId,
            blocks,
            program: args.app ?? null,
            selected: sel === null ? null : sel.block === null ? null : { program: sel.block.program, id: sel.block.id, line: sel.block.line, rules: sel.block.rules.map((r) => ({ line: r.line, transport: r.transport, kind: r.kind, text: r.text })) },
          },
        },
        null,
        2,
      ) + '\n',
    );
    return ok ? 0 : 1;
  }
  // Rule errors read like a compiler's (FILE:LINE:COLUMN: message); the rest say what they are.
  for (const f of findings) err(f.severity === 'error' && f.source === 'rules' && (f.line ?? 0) > 0 ? `${f.message}\n` : `${f.severity}: ${f.message}\n`);
  if (!ok) {
    const n = findings.filter((f) => f.severity === 'error').length;
    err(`xlio config: ${n} problem${n === 1 ? '' : 's'} found\n`);
    return 1;
  }
  const lines: string[] = ['environment:'];
  for (const l of describeConfig(envCheck.config!).split('\n')) lines.push(`  ${l}`);
  lines.push('', `rules: ${report.file}${report.present ? '' : ' (not present: no rules, every socket is offloaded)'}`);
  lines.push(`  application id: ${appId === DEFAULT_APPLICATION_ID ? `(XLIO_APPLICATION_ID unset: only '*' blocks apply)` : appId}`);
  const blocks = report.parsed?.blocks ?? [];
  if (report.present && blocks.length === 0) lines.push('  no rules: every socket is offloaded');
  if (args.app !== undefined && report.selected !== null) {
    const b = report.selected.block;
    if (b === null) lines.push(`  program ${args.app}: no block applies; every socket is offloaded`);
    else {
      lines.push(`  program ${args.app}: block ${b.explicit ? `'application-id ${b.program} ${b.id}' (line ${b.line})` : '(statements before any application-id)'}, first match wins, else offloaded:`);
      if (b.rules.length === 0) lines.push('    (no rules: every socket is offloaded)');
      for (const r of b.rules) lines.push(`    ${r.line}: ${r.text}`);
    }
  } else {
    for (const b of blocks) {
      lines.push(`  ${b.explicit ? `application-id ${b.program} ${b.id} (line ${b.line})` : 'before any application-id (as application-id * *)'}:`);
      if (b.rules.length === 0) lines.push('    (no rules)');
      for (const r of b.rules) lines.push(`    ${r.line}: ${r.text}`);
    }
    if (blocks.length > 0) lines.push("  (--app NAME shows the block a program gets: for 'node server.js', --app server.js)");
  }
  out(lines.join('\n') + '\n');
  return 0;
}

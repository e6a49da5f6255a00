// Offload rules: which sockets xlio-ts takes and which it leaves to the OS, in XLIO's
// libxlio.conf language, extended to IPv6 (KI-11), plus the KI-18 override for addresses only
// the host kernel owns. Written from XLIO's documentation (libxlio.conf, README); parsed here
// by hand, nothing generated.
//
// ── The file ────────────────────────────────────────────────────────────────────────────────
// One statement per line. '#' starts a comment that runs to the end of the line; blank lines
// and leading/trailing whitespace (spaces, tabs) are ignored. Keywords are lower case.
//
//   application-id <program-name|pattern|*> <user-defined-id|*>
//       Opens a block: the statements that follow, up to the next application-id, apply to the
//       programs it names. <program-name> is a shell pattern (fnmatch without flags: '*', '?',
//       '[…]', '\' escapes) matched against the program's name without its directory; here
//       that is the basename of process.argv[1] (the script: `node server.js` → server.js), or
//       "node" when there is no script. <user-defined-id> is compared with XLIO_APPLICATION_ID:
//       a block whose id is '*' matches any id; a named id matches only that value of
//       XLIO_APPLICATION_ID; XLIO_APPLICATION_ID=* matches every block; with it unset only
//       '*' blocks match (XLIO's XLIO_DEFAULT_APPLICATION_ID). Statements before the first
//       application-id belong to an implicit `application-id * *`. A second application-id
//       with the same two fields reopens the earlier block (its rules are appended there).
//
//   use <xlio|os> <role> <tuple>
//       <role> is tcp_server | tcp_client | udp_sender | udp_receiver | udp_connect, and the
//       tuple is XLIO's:
//         tcp_server    LOCAL                   the address and port listened on
//         udp_receiver  LOCAL                   the address and port bound (a group for multicast)
//         udp_sender    REMOTE                  the destination of a send
//         tcp_client    REMOTE[:LOCAL]          connect(): the peer, then optionally our end
//         udp_connect   REMOTE[:LOCAL]          a connect()ed UDP socket: the peer, then our end
//       where each of LOCAL and REMOTE is <address>:<ports>, written without spaces between
//       the parts (XLIO's lexer skips blanks around ':', '/', '-', so do we), e.g.
//         use xlio tcp_client 192.168.1.0/24:*:*:*    peers in 192.168.1.0/24, any port, from anywhere
//         use os   udp_connect *:53                     DNS clients go through the OS
//       Note the order in the two-part form: the REMOTE end comes first (XLIO's documented
//       "remote_ip:remote_port:local_ip:local_port").
//
//   log [destination stderr|syslog|file <name>] [min-level <1-9>]
//       XLIO's logging statement ("not fully supported" in XLIO); checked and then ignored.
//
// Addresses:  *                         any address, IPv4 or IPv6
//             a.b.c.d[/n]               IPv4, prefix length 0..32 (default 32)
//             [IPv6][/n]                IPv6 in brackets, prefix length 0..128 (default 128):
//                                       [fd00::1]:80, [fd00::]/64:*, [::1]:*, [::]/0:* …
// Ports:      *  |  p  |  p-q           1..65535, a range inclusive, p ≤ q
//
// Matching, as XLIO: the block is the FIRST application-id block whose program pattern and id
// both match; in it, the first rule of the socket's role whose every part matches decides
// ("first match wins"); when none matches — or no block matches, or there is no file — the
// socket is offloaded ('xlio', XLIO's default). A rule address is masked with its own prefix
// before comparing (XLIO's forgiveness: 1.1.1.7/24 means 1.1.1.0/24). An unbound local end is
// port 0, which no port number or range matches (only '*').
// The IPv6 extension: an IPv4 rule matches IPv4 addresses and their IPv4-mapped IPv6 form
// (::ffff:a.b.c.d, what a dual-stack socket sees; XLIO converts those too); an IPv6 rule
// matches IPv6 addresses other than the mapped ones; '*' matches both. So 0.0.0.0/0 is "all
// of IPv4", [::]/0 "all of IPv6", '*' everything. A rule written [::ffff:a.b.c.d]/n (n ≥ 96)
// is the IPv4 rule a.b.c.d/(n−96). A dual-stack listener on '::' is an IPv6 address here.
// Zone suffixes (fe80::1%eth0) are ignored. A socket address that is not an IP literal
// matches only '*'. (XLIO, IPv4-only, also reads ::a.b.c.d and ::1 as IPv4; we do not.)
//
// Errors are typed (RuleParseError: file, line, column, message — columns count from 1) and
// every bad line is reported, not only the first; a file with any error is refused as a whole.
// We are stricter than XLIO's parser where it silently accepts nonsense: a port of 0 or above
// 65535, a reversed range, a prefix longer than the address, an octet with a leading zero,
// a second part on a role that has one, an unknown transport (XLIO's 'sdp', 'sa', '*').
//
// ── KI-18 ───────────────────────────────────────────────────────────────────────────────────
// An offloaded socket's packets leave through xlio-ts's link, so they can never reach an
// address that only the host kernel owns (the kernel does not receive what is sent out of
// its own interface). route() therefore sends to the OS any socket whose peer — or, for
// servers and receivers, whose bound address — is such an address: one of the host's
// kernel interface addresses (os.networkInterfaces()) that the xlio-ts host does not also
// have, and the loopback block (127.0.0.0/8, ::1) when the xlio-ts host is on a link (a
// loopback-only xlio-ts host owns loopback itself). decide() is the rules alone.

import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { basename } from 'node:path';
import { parseIpv6Text } from '../wire/address.js';

export type RuleKind = 'tcp_server' | 'tcp_client' | 'udp_sender' | 'udp_receiver' | 'udp_connect';
export type Transport = 'xlio' | 'os';
export const RULE_KINDS: readonly RuleKind[] = Object.freeze(['tcp_server', 'tcp_client', 'udp_sender', 'udp_receiver', 'udp_connect']);

/** XLIO's default path of the rules file. */
export const DEFAULT_RULES_FILE = '/etc/libxlio.conf';
/** XLIO's value of the application id when XLIO_APPLICATION_ID is unset: it matches only '*' blocks. */
export const DEFAULT_APPLICATION_ID = 'XLIO_DEFAULT_APPLICATION_ID';

/** A socket's end as the caller knows it: an IP literal (or '' when unknown) and a port (0 when unbound). */
export interface SocketEnd {
  readonly address: string;
  readonly port: number;
}

/** One address:ports part of a rule. family 0 = any ('*'). Words hold the masked network, big-endian 32-bit. */
export interface AddressMatcher {
  readonly family: 0 | 4 | 6;
  readonly prefix: number;
  /** IPv4: one word; IPv6: four. Already masked. */
  readonly net: readonly number[];
  readonly mask: readonly number[];
  /** 0..0 means any port. */
  readonly portLow: number;
  readonly portHigh: number;
  /** As written in the file (normalised spacing). */
  readonly text: string;
}

export interface Rule {
  readonly transport: Transport;
  readonly kind: RuleKind;
  /** The end compared with the socket's local address, if the rule has one. */
  readonly local: AddressMatcher | null;
  /** The end compared with the socket's peer, if the rule has one. */
  readonly remote: AddressMatcher | null;
  readonly file: string;
  readonly line: number;
  /** The statement, normalised: `use os udp_connect *:53`. */
  readonly text: string;
}

export interface AppBlock {
  readonly program: string;
  readonly id: string;
  readonly line: number;
  /** False for the implicit block of statements before any application-id. */
  readonly explicit: boolean;
  readonly rules: readonly Rule[];
}

export interface LogStatement {
  readonly line: number;
  readonly destination: 'stderr' | 'syslog' | 'file' | null;
  readonly fileName: string | null;
  readonly minLevel: number | null;
}

/** A problem in a rules file, at a 1-based line and column. */
export class RuleParseError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${column}: ${detail}`);
    this.name = 'RuleParseError';
  }
}

/** A rules file that cannot be used: every parse error in it, or why it could not be read (line 0). */
export class RulesFileError extends Error {
  constructor(
    readonly file: string,
    readonly errors: readonly RuleParseError[],
  ) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'RulesFileError';
  }
}

/** What a parse produced: the blocks in file order and the errors (empty when the file is good). */
export interface ParsedRules {
  readonly file: string;
  readonly blocks: readonly AppBlock[];
  readonly logs: readonly LogStatement[];
  readonly errors: readonly RuleParseError[];
}

// ── Lexing a line ──────────────────────────────────────────────────────────────────────────

interface Tok {
  /** 'word' (keywords, names, numbers), or a punctuation char, or 'v6' (a bracketed address). */
  readonly t: 'word' | ':' | '/' | '-' | '*' | '.' | 'v6' | 'bad';
  readonly s: string;
  /** 1-based column. */
  readonly col: number;
}

/** Whitespace-separated words of a line (comments already cut), with their columns. */
function words(line: string): Tok[] {
  const out: Tok[] = [];
  const re = /[^ \t\r]+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) out.push({ t: 'word', s: m[0], col: m.index + 1 });
  return out;
}

/** The tuple's tokens: XLIO's lexer skips blanks between them. Numbers and names are 'word'. */
function tupleTokens(text: string, col0: number): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const col = col0 + i;
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === ':' || c === '/' || c === '-' || c === '*' || c === '.') {
      out.push({ t: c, s: c, col });
      i++;
    } else if (c === '[') {
      const end = text.indexOf(']', i);
      if (end < 0) {
        out.push({ t: 'bad', s: text.slice(i), col });
        break;
      }
      out.push({ t: 'v6', s: text.slice(i + 1, end), col });
      i = end + 1;
    } else if (/[0-9A-Za-z_]/.test(c)) {
      let j = i;
      while (j < text.length && /[0-9A-Za-z_]/.test(text[j]!)) j++;
      out.push({ t: 'word', s: text.slice(i, j), col });
      i = j;
    } else {
      out.push({ t: 'bad', s: c, col });
      i++;
    }
  }
  return out;
}

/** A statement-level failure: the column and message. */
class Fail {
  constructor(
    readonly col: number,
    readonly msg: string,
  ) {}
}

const TRANSPORTS: Record<string, Transport> = { xlio: 'xlio', os: 'os' };
const ROLE_LIST = 'tcp_server, tcp_client, udp_sender, udp_receiver or udp_connect';

function quote(t: Tok | undefined): string {
  if (t === undefined) return 'end of line';
  if (t.t === 'v6') return `'[${t.s}]'`;
  return `'${t.s}'`;
}

// ── Addresses ──────────────────────────────────────────────────────────────────────────────

function maskWords(family: 4 | 6, prefix: number): number[] {
  const n = family === 4 ? 1 : 4;
  const m: number[] = [];
  for (let i = 0; i < n; i++) {
    const bits = Math.max(0, Math.min(32, prefix - 32 * i));
    m.push(bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0);
  }
  return m;
}

function v6Words(b: Uint8Array): number[] {
  const w: number[] = [];
  for (let i = 0; i < 4; i++) w.push(((b[4 * i]! << 24) | (b[4 * i + 1]! << 16) | (b[4 * i + 2]! << 8) | b[4 * i + 3]!) >>> 0);
  return w;
}

function isMapped(w: readonly number[]): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
}

/** Parses the tuple part `<addr>:<ports>[:<addr>:<ports>]` into one or two matchers. */
class TupleParser {
  private i = 0;
  constructor(
    private readonly toks: Tok[],
    private readonly endCol: number,
  ) {}

  private peek(): Tok | undefined {
    return this.toks[this.i];
  }
  private next(): Tok | undefined {
    return this.toks[this.i++];
  }
  private col(t: Tok | undefined): number {
    return t === undefined ? this.endCol : t.col;
  }
  atEnd(): boolean {
    return this.i >= this.toks.length;
  }
  here(): Tok | undefined {
    return this.peek();
  }

  /** <address>:<ports>; `after` names what came before, for messages. */
  part(after: string): AddressMatcher {
    const addr = this.address(after);
    const colon = this.next();
    if (colon?.t !== ':') {
      if (colon?.t === '/' && addr.family === 6) throw new Fail(colon.col, `the prefix length of an IPv6 address goes after the brackets, e.g. [fd00::]/64:80`);
      throw new Fail(this.col(colon), `expected ':' and a port after the address ${addr.text}, got ${quote(colon)}`);
    }
    const [lo, hi, ptext] = this.ports();
    const text = `${addr.text}:${ptext}`;
    return { ...addr, portLow: lo, portHigh: hi, text };
  }

  private address(after: string): Omit<AddressMatcher, 'portLow' | 'portHigh'> {
    const t = this.next();
    if (t === undefined || t.t === ':' || t.t === '/' || t.t === '-' || t.t === '.' || t.t === 'bad') {
      if (t?.t === 'bad' && t.s.startsWith('[')) throw new Fail(t.col, `'[' opens an IPv6 address that is never closed with ']'`);
      if (t?.t === ':' && this.peek()?.t === ':') throw new Fail(t.col, `IPv6 addresses are written in brackets, e.g. [fd00::1]/64:80`);
      throw new Fail(this.col(t), `expected an address ('*', an IPv4 address such as 192.168.1.0/24, or an IPv6 address in brackets such as [fd00::1]) after ${after}, got ${quote(t)}`);
    }
    if (t.t === '*') return { family: 0, prefix: 0, net: [], mask: [], text: '*' };
    if (t.t === 'v6') return this.v6(t);
    // IPv4: word '.' word '.' word '.' word, each a decimal octet.
    if (t.t === 'word' && this.peek()?.t === ':' && /^[0-9a-fA-F]{1,4}$/.test(t.s)) {
      throw new Fail(t.col, `IPv6 addresses are written in brackets, e.g. [fd00::1]/64:80`);
    }
    const octets: number[] = [];
    let tok: Tok | undefined = t;
    for (let k = 0; k < 4; k++) {
      if (k > 0) {
        const dot = this.next();
        if (dot?.t !== '.') throw new Fail(this.col(dot), `'${octets.join('.')}' is not an IPv4 address: expected four numbers separated by '.', got ${quote(dot)}`);
        tok = this.next();
      }
      if (tok === undefined || tok.t !== 'word' || !/^[0-9]+$/.test(tok.s)) {
        throw new Fail(this.col(tok), k === 0 ? `expected an address ('*', an IPv4 address such as 192.168.1.0/24, or an IPv6 address in brackets such as [fd00::1]) after ${after}, got ${quote(tok)}` : `expected a number from 0 to 255 in the IPv4 address, got ${quote(tok)}`);
      }
      if (tok.s.length > 1 && tok.s[0] === '0') throw new Fail(tok.col, `'${tok.s}' in an IPv4 address: octets are written in decimal without leading zeros`);
      const n = Number(tok.s);
      if (n > 255) throw new Fail(tok.col, `${tok.s} is above 255 in an IPv4 address`);
      octets.push(n);
    }
    const word = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
    const prefix = this.prefix(32, 'an IPv4 address');
    const mask = maskWords(4, prefix);
    const text = octets.join('.') + (prefix === 32 ? '' : `/${prefix}`);
    return { family: 4, prefix, net: [(word & mask[0]!) >>> 0], mask, text };
  }

  private v6(t: Tok): Omit<AddressMatcher, 'portLow' | 'portHigh'> {
    const inner = t.s;
    if (inner.includes('/')) throw new Fail(t.col, `the prefix length of an IPv6 address goes after the brackets, e.g. [fd00::]/64:80`);
    const bytes = parseIpv6Text(inner.split('%')[0]!);
    if (bytes === null || inner.includes('%')) throw new Fail(t.col + 1, `'${inner}' is not an IPv6 address`);
    const w = v6Words(bytes);
    const prefix = this.prefix(128, 'an IPv6 address');
    if (isMapped(w)) {
      // [::ffff:a.b.c.d]/n is the IPv4 rule a.b.c.d/(n−96).
      if (prefix < 96) throw new Fail(t.col, `an IPv4-mapped prefix shorter than /96 mixes IPv4 and IPv6; write the IPv4 form (a.b.c.d/n) or a plain IPv6 prefix`);
      const p4 = prefix - 96;
      const mask = maskWords(4, p4);
      const v = w[3]!;
      const text = `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}` + (p4 === 32 ? '' : `/${p4}`);
      return { family: 4, prefix: p4, net: [(v & mask[0]!) >>> 0], mask, text };
    }
    const mask = maskWords(6, prefix);
    const net = w.map((x, i) => (x & mask[i]!) >>> 0);
    return { family: 6, prefix, net, mask, text: `[${inner}]` + (prefix === 128 ? '' : `/${prefix}`) };
  }

  private prefix(max: number, what: string): number {
    if (this.peek()?.t !== '/') return max;
    this.next();
    const n = this.next();
    if (n === undefined || n.t !== 'word' || !/^[0-9]+$/.test(n.s)) throw new Fail(this.col(n), `expected a prefix length from 0 to ${max} after '/', got ${quote(n)}`);
    const v = Number(n.s);
    if (v > max) throw new Fail(n.col, `prefix length ${n.s} is above ${max}, the most ${what} has`);
    return v;
  }

  private ports(): [number, number, string] {
    const t = this.next();
    if (t?.t === '*') return [0, 0, '*'];
    const lo = this.port(t);
    if (this.peek()?.t !== '-') return [lo, lo, String(lo)];
    this.next();
    const u = this.next();
    const hi = this.port(u);
    if (hi < lo) throw new Fail(u!.col, `the port range ${lo}-${hi} ends below its start`);
    return [lo, hi, `${lo}-${hi}`];
  }

  private port(t: Tok | undefined): number {
    if (t === undefined || t.t !== 'word' || !/^[0-9]+$/.test(t.s)) throw new Fail(this.col(t), `expected a port (1-65535), a range (1024-2047) or '*', got ${quote(t)}`);
    const v = Number(t.s);
    if (v < 1 || v > 65535) throw new Fail(t.col, `port ${t.s} is out of range: ports are 1 to 65535`);
    return v;
  }

  sep(): Tok | undefined {
    return this.next();
  }
}

/** How each role reads its tuple: what the first part is, and whether a second (local) part may follow. */
const ROLE_SHAPE: Record<RuleKind, { first: 'local' | 'remote'; second: boolean }> = {
  tcp_server: { first: 'local', second: false },
  udp_receiver: { first: 'local', second: false },
  udp_sender: { first: 'remote', second: false },
  tcp_client: { first: 'remote', second: true },
  udp_connect: { first: 'remote', second: true },
};

function parseUse(ws: Tok[], line: string, file: string, lineNo: number): Rule {
  const tr = ws[1];
  if (tr === undefined || !(tr.s in TRANSPORTS)) {
    const hint = tr?.s === 'vma' ? " (libvma's 'vma' is 'xlio' here)" : tr !== undefined && tr.s.toLowerCase() in TRANSPORTS ? ' (keywords are lower case)' : '';
    throw new Fail(tr?.col ?? line.trimEnd().length + 1, `expected 'xlio' or 'os' after 'use', got ${quote(tr)}${hint}`);
  }
  const transport = TRANSPORTS[tr.s]!;
  const role = ws[2];
  if (role === undefined || !(role.s in ROLE_SHAPE)) {
    throw new Fail(role?.col ?? line.trimEnd().length + 1, `expected ${ROLE_LIST} after 'use ${transport}', got ${quote(role)}`);
  }
  const kind = role.s as RuleKind;
  const shape = ROLE_SHAPE[kind];
  const tupleStart = role.col - 1 + role.s.length;
  const toks = tupleTokens(line.slice(tupleStart), tupleStart + 1);
  const p = new TupleParser(toks, line.trimEnd().length + 1);
  const first = p.part(`'${kind}'`);
  let second: AddressMatcher | null = null;
  if (!p.atEnd()) {
    const s = p.here()!;
    if (s.t !== ':') {
      const hint = shape.second ? ` (the local part follows the remote one after ':', e.g. 'use ${transport} ${kind} ${first.text}:*:*')` : ` (${kind} takes one ${shape.first} address:port)`;
      throw new Fail(s.col, `unexpected ${quote(s)} after ${first.text}${hint}`);
    }
    if (!shape.second) throw new Fail(s.col, `${kind} takes one address:port (the ${shape.first} end); unexpected ':' after ${first.text}`);
    p.sep();
    second = p.part(`'${first.text}:'`);
    if (!p.atEnd()) throw new Fail(p.here()!.col, `unexpected ${quote(p.here())} after the local part ${second.text}`);
  }
  const local = shape.first === 'local' ? first : second;
  const remote = shape.first === 'remote' ? first : null;
  const text = `use ${transport} ${kind} ${first.text}${second !== null ? `:${second.text}` : ''}`;
  return { transport, kind, local, remote, file, line: lineNo, text };
}

function parseLog(ws: Tok[], lineNo: number): LogStatement {
  let destination: LogStatement['destination'] = null;
  let fileName: string | null = null;
  let minLevel: number | null = null;
  for (let i = 1; i < ws.length; ) {
    const w = ws[i]!;
    if (w.s === 'destination') {
      const d = ws[i + 1];
      if (d?.s === 'stderr' || d?.s === 'syslog') {
        destination = d.s;
        i += 2;
      } else if (d?.s === 'file') {
        const n = ws[i + 2];
        if (n === undefined) throw new Fail(d.col + d.s.length, `expected a file name after 'destination file', got end of line`);
        destination = 'file';
        fileName = n.s;
        i += 3;
      } else throw new Fail(d?.col ?? w.col + w.s.length, `expected stderr, syslog or file <name> after 'destination', got ${quote(d)}`);
    } else if (w.s === 'min-level') {
      const n = ws[i + 1];
      if (n === undefined || !/^[1-9]$/.test(n.s)) throw new Fail(n?.col ?? w.col + w.s.length, `expected a level from 1 to 9 after 'min-level', got ${quote(n)}`);
      minLevel = Number(n.s);
      i += 2;
    } else throw new Fail(w.col, `expected 'destination' or 'min-level' in a log statement, got ${quote(w)}`);
  }
  return { line: lineNo, destination, fileName, minLevel };
}

/** Parses the text of a rules file. Never throws: errors come back in `errors`, one per bad line. */
export function parseRules(text: string, file = '<rules>'): ParsedRules {
  const blocks: { program: string; id: string; line: number; explicit: boolean; rules: Rule[] }[] = [];
  const logs: LogStatement[] = [];
  const errors: RuleParseError[] = [];
  let current: (typeof blocks)[number] | null = null;
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const hash = raw.indexOf('#');
    const line = hash < 0 ? raw : raw.slice(0, hash);
    const ws = words(line);
    if (ws.length === 0) continue;
    const lineNo = n + 1;
    try {
      const head = ws[0]!;
      if (head.s === 'application-id') {
        if (ws.length < 3) throw new Fail(ws[ws.length - 1]!.col + ws[ws.length - 1]!.s.length, `'application-id' needs a program name and a user-defined id (either may be '*'), got ${ws.length === 1 ? 'end of line' : `only ${quote(ws[1])}`}`);
        if (ws.length > 3) throw new Fail(ws[3]!.col, `unexpected ${quote(ws[3])} after 'application-id ${ws[1]!.s} ${ws[2]!.s}'`);
        const program = ws[1]!.s;
        const id = ws[2]!.s;
        const again = blocks.find((b) => b.program === program && b.id === id);
        if (again !== undefined) current = again;
        else {
          current = { program, id, line: lineNo, explicit: true, rules: [] };
          blocks.push(current);
        }
      } else if (head.s === 'use') {
        const rule = parseUse(ws, line, file, lineNo);
        if (current === null) {
          current = { program: '*', id: '*', line: lineNo, explicit: false, rules: [] };
          blocks.push(current);
        }
        current.rules.push(rule);
      } else if (head.s === 'log') {
        logs.push(parseLog(ws, lineNo));
      } else {
        const lower = head.s.toLowerCase();
        const hint = lower === 'use' || lower === 'application-id' || lower === 'log' ? ' (keywords are lower case)' : head.s === 'application_id' || head.s === 'app-id' ? " (did you mean 'application-id'?)" : '';
        throw new Fail(head.col, `expected 'application-id', 'use' or 'log', got ${quote(head)}${hint}`);
      }
    } catch (e) {
      if (!(e instanceof Fail)) throw e;
      errors.push(new RuleParseError(file, lineNo, e.col, e.msg));
    }
  }
  return {
    file,
    blocks: Object.freeze(blocks.map((b) => Object.freeze({ ...b, rules: Object.freeze(b.rules) }))),
    logs: Object.freeze(logs),
    errors: Object.freeze(errors),
  };
}

// ── Program names ──────────────────────────────────────────────────────────────────────────

/** fnmatch(pattern, name, 0): '*' any run, '?' one char, '[…]' a class ('!' or '^' negates, a-b ranges), '\' escapes. */
export function globMatch(pattern: string, name: string): boolean {
  const rec = (pi: number, ni: number): boolean => {
    while (pi < pattern.length) {
      const c = pattern[pi]!;
      if (c === '*') {
        while (pattern[pi] === '*') pi++;
        if (pi === pattern.length) return true;
        for (let k = ni; k <= name.length; k++) if (rec(pi, k)) return true;
        return false;
      }
      if (ni >= name.length) return false;
      if (c === '?') {
        pi++;
        ni++;
      } else if (c === '[') {
        const r = classMatch(pattern, pi, name[ni]!);
        if (r === null) {
          // An unclosed '[' is an ordinary character.
          if (name[ni] !== '[') return false;
          pi++;
          ni++;
        } else {
          if (!r.ok) return false;
          pi = r.end;
          ni++;
        }
      } else {
        const lit = c === '\\' && pi + 1 < pattern.length ? pattern[++pi]! : c;
        if (lit !== name[ni]) return false;
        pi++;
        ni++;
      }
    }
    return ni === name.length;
  };
  return rec(0, 0);
}

function classMatch(p: string, at: number, ch: string): { ok: boolean; end: number } | null {
  let i = at + 1;
  let neg = false;
  if (p[i] === '!' || p[i] === '^') {
    neg = true;
    i++;
  }
  let ok = false;
  let first = true;
  while (i < p.length && (p[i] !== ']' || first)) {
    first = false;
    let lo = p[i]!;
    if (lo === '\\' && i + 1 < p.length) lo = p[++i]!;
    if (p[i + 1] === '-' && i + 2 < p.length && p[i + 2] !== ']') {
      let hi = p[i + 2]!;
      let skip = 3;
      if (hi === '\\' && i + 3 < p.length) {
        hi = p[i + 3]!;
        skip = 4;
      }
      if (lo <= ch && ch <= hi) ok = true;
      i += skip;
    } else {
      if (lo === ch) ok = true;
      i++;
    }
  }
  if (i >= p.length) return null;
  return { ok: ok !== neg, end: i + 1 };
}

/** The program name rules are chosen by: basename of argv[1] (the script), or 'node' without one. */
export function programName(argv: readonly string[] = process.argv): string {
  const script = argv[1];
  return script !== undefined && script !== '' ? basename(script) : 'node';
}

/** XLIO's user-defined id test: '*' on either side matches; the default id matches only '*' blocks. */
function idMatches(blockId: string, appId: string): boolean {
  return appId === '*' || blockId === '*' || blockId === appId;
}

// ── Matching ───────────────────────────────────────────────────────────────────────────────

/** A socket address in the matcher's form: family 0 when not an IP literal. Reused (no allocation for IPv4). */
class Addr {
  family: 0 | 4 | 6 = 0;
  readonly w = new Uint32Array(4);
}

const scratchA = new Addr();
const scratchB = new Addr();

/** Decimal dotted quad without leading zeros → unsigned 32-bit, or -1. No allocation. */
function ipv4At(text: string, from: number, to: number): number {
  let v = 0;
  let octets = 0;
  let i = from;
  while (octets < 4) {
    const start = i;
    let n = 0;
    while (i < to) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
      i++;
    }
    const len = i - start;
    if (len === 0 || len > 3 || n > 255 || (len > 1 && text.charCodeAt(start) === 48)) return -1;
    v = v * 256 + n;
    octets++;
    if (octets < 4) {
      if (i >= to || text.charCodeAt(i) !== 46) return -1;
      i++;
    }
  }
  return i === to ? v : -1;
}

const groups = new Uint16Array(8);

/** IPv6 text (optional trailing dotted quad) into `w`; false if not an IPv6 literal. No allocation. */
function ipv6Into(text: string, to: number, w: Uint32Array): boolean {
  let n = 0;
  let gap = -1;
  let i = 0;
  if (to >= 2 && text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
  }
  while (i < to) {
    const start = i;
    let g = 0;
    while (i < to) {
      const c = text.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      g = g * 16 + d;
      i++;
    }
    if (i < to && text.charCodeAt(i) === 46) {
      // The last 32 bits as a dotted quad.
      const v4 = ipv4At(text, start, to);
      if (v4 < 0 || n > 6) return false;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      i = to;
      break;
    }
    if (i - start === 0 || i - start > 4 || n >= 8) return false;
    groups[n++] = g;
    if (i === to) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (i < to && text.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === to) return false;
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  const shift = gap < 0 ? 0 : 8 - n;
  for (let k = 0; k < 4; k++) w[k] = 0;
  for (let k = 0; k < n; k++) {
    const pos = gap >= 0 && k >= gap ? k + shift : k;
    const wi = pos >> 1;
    w[wi] = (pos & 1) === 0 ? ((groups[k]! << 16) | (w[wi]! & 0xffff)) >>> 0 : ((w[wi]! & 0xffff0000) | groups[k]!) >>> 0;
  }
  return true;
}

function readAddress(text: string, into: Addr): Addr {
  into.family = 0;
  if (typeof text !== 'string' || text.length === 0) return into;
  if (text.indexOf(':') < 0) {
    const v = ipv4At(text, 0, text.length);
    if (v >= 0) {
      into.family = 4;
      into.w[0] = v;
    }
    return into;
  }
  const pct = text.indexOf('%');
  if (!ipv6Into(text, pct < 0 ? text.length : pct, into.w)) return into;
  if (into.w[0] === 0 && into.w[1] === 0 && into.w[2] === 0xffff) {
    into.family = 4;
    into.w[0] = into.w[3]!;
  } else into.family = 6;
  return into;
}

function endMatches(m: AddressMatcher, a: Addr, port: number): boolean {
  if (m.portLow !== 0 && (port < m.portLow || port > m.portHigh)) return false;
  if (m.family === 0) return true;
  if (m.family !== a.family) return false;
  const n = m.family === 4 ? 1 : 4;
  for (let i = 0; i < n; i++) if (((a.w[i]! & m.mask[i]!) >>> 0) !== m.net[i]) return false;
  return true;
}

/** Why route() chose what it chose. */
export interface Route {
  readonly transport: Transport;
  /** The rule that decided, or null (the default, or KI-18). */
  readonly rule: Rule | null;
  /** One line for logs and `xlio config`: the rule, the default, or the KI-18 reason. */
  readonly reason: string;
}

/** The rules in force for one program: the selected application-id block of a parsed file. */
export class RuleSet {
  /** The rules of the selected block, by kind, in file order. */
  private readonly byKind: Record<RuleKind, readonly Rule[]>;

  constructor(
    readonly parsed: ParsedRules,
    readonly program: string,
    readonly appId: string,
    /** The block that applies to this program, or null (no block matches: everything is offloaded). */
    readonly block: AppBlock | null,
    /** Where the rules came from (null: no file). */
    readonly source: string | null,
  ) {
    const by = { tcp_server: [], tcp_client: [], udp_sender: [], udp_receiver: [], udp_connect: [] } as Record<RuleKind, Rule[]>;
    for (const r of block?.rules ?? []) by[r.kind].push(r);
    this.byKind = by;
  }

  /** The rules that apply to this program, in file order. */
  get rules(): readonly Rule[] {
    return this.block?.rules ?? [];
  }

  /** The first rule of `kind` matching the socket's ends, or null. `remote` is needed by tcp_client, udp_sender, udp_connect. */
  match(kind: RuleKind, local: SocketEnd, remote?: SocketEnd): Rule | null {
    const list = this.byKind[kind];
    if (list === undefined) throw new TypeError(`not a rule kind: ${String(kind)}`);
    if (list.length === 0) return null;
    const shape = ROLE_SHAPE[kind];
    if (shape.first === 'remote' && remote === undefined) throw new TypeError(`${kind} rules match the peer's address: pass remote`);
    const l = readAddress(local.address, scratchA);
    const r = remote === undefined ? null : readAddress(remote.address, scratchB);
    for (let i = 0; i < list.length; i++) {
      const rule = list[i]!;
      if (rule.remote !== null && !endMatches(rule.remote, r!, remote!.port)) continue;
      if (rule.local !== null && !endMatches(rule.local, l, local.port)) continue;
      return rule;
    }
    return null;
  }

  /** 'xlio' or 'os' for a socket of `kind` with these ends: the first matching rule, else 'xlio'. Pure. */
  decide(kind: RuleKind, local: SocketEnd, remote?: SocketEnd): Transport {
    const rule = this.match(kind, local, remote);
    return rule === null ? 'xlio' : rule.transport;
  }

  /**
   * decide(), then KI-18: an offloaded socket whose peer (tcp_client, udp_sender,
   * udp_connect) or bound address (tcp_server, udp_receiver) only the host kernel owns goes
   * to the OS. `host` defaults to this process's view (hostView()).
   */
  route(kind: RuleKind, local: SocketEnd, remote?: SocketEnd, host: HostView = hostView()): Route {
    const rule = this.match(kind, local, remote);
    if (rule !== null && rule.transport === 'os') return { transport: 'os', rule, reason: `${rule.file}:${rule.line}: ${rule.text}` };
    const end = ROLE_SHAPE[kind].first === 'remote' ? remote! : local;
    if (ownedByKernelOnly(end.address, host)) {
      const what = ROLE_SHAPE[kind].first === 'remote' ? 'the peer' : 'the bound address';
      return { transport: 'os', rule: null, reason: `KI-18: ${what} ${end.address} belongs to the host kernel only; an offloaded socket cannot reach it` };
    }
    if (rule !== null) return { transport: 'xlio', rule, reason: `${rule.file}:${rule.line}: ${rule.text}` };
    const why = this.block !== null ? 'no rule matches' : this.source === null ? 'no rules file' : this.parsed.blocks.length === 0 ? 'no rules' : 'no application-id block applies to this program';
    return { transport: 'xlio', rule: null, reason: `${why}: offloaded (XLIO's default)` };
  }
}

/** Selects the block for `program` and `appId` (first match, as XLIO). */
export function selectRules(parsed: ParsedRules, program: string, appId: string = DEFAULT_APPLICATION_ID, source: string | null = parsed.file): RuleSet {
  const block = parsed.blocks.find((b) => globMatch(b.program, program) && idMatches(b.id, appId)) ?? null;
  return new RuleSet(parsed, program, appId, block, source);
}

/** Parses `text` and selects the block; throws RulesFileError if the text has errors. */
export function rulesFromText(text: string, opts: { file?: string; program?: string; appId?: string } = {}): RuleSet {
  const parsed = parseRules(text, opts.file ?? '<rules>');
  if (parsed.errors.length > 0) throw new RulesFileError(parsed.file, parsed.errors);
  return selectRules(parsed, opts.program ?? programName(), opts.appId ?? DEFAULT_APPLICATION_ID);
}

/** The rules file `env` names: XLIO_CONFIG_FILE, else XLIO's default /etc/libxlio.conf. */
export function rulesFilePath(env: Readonly<Record<string, string | undefined>> = process.env): { path: string; explicit: boolean } {
  const f = env['XLIO_CONFIG_FILE'];
  return f !== undefined && f.trim() !== '' ? { path: f, explicit: true } : { path: DEFAULT_RULES_FILE, explicit: false };
}

/** The application id `env` asks for (XLIO_APPLICATION_ID), or XLIO's default. */
export function applicationId(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const v = env['XLIO_APPLICATION_ID'];
  return v !== undefined && v.trim() !== '' ? v.trim() : DEFAULT_APPLICATION_ID;
}

/**
 * The rules for this process: the file from XLIO_CONFIG_FILE (or /etc/libxlio.conf), the block
 * chosen by the program name (`opts.program`, default programName()) and XLIO_APPLICATION_ID.
 * A missing default file means no rules (everything offloaded); a missing XLIO_CONFIG_FILE, an
 * unreadable file or a file with errors throws RulesFileError.
 */
export function loadRules(env: Readonly<Record<string, string | undefined>> = process.env, opts: { program?: string; readFile?: (path: string) => string } = {}): RuleSet {
  const { path, explicit } = rulesFilePath(env);
  const program = opts.program ?? programName();
  const appId = applicationId(env);
  let text: string;
  try {
    text = (opts.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return selectRules({ file: path, blocks: [], logs: [], errors: [] }, program, appId, null);
    const why = code === 'ENOENT' ? `no such file${explicit ? ' (named by XLIO_CONFIG_FILE)' : ''}` : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    throw new RulesFileError(path, [new RuleParseError(path, 0, 0, `cannot read the rules file: ${why}`)]);
  }
  const parsed = parseRules(text, path);
  if (parsed.errors.length > 0) throw new RulesFileError(path, parsed.errors);
  return selectRules(parsed, program, appId, path);
}

// ── KI-18: addresses only the host kernel owns ─────────────────────────────────────────────

/** What the host looks like: the kernel's interface addresses and the xlio-ts host's. */
export interface HostView {
  /** Addresses of the kernel's interfaces (os.networkInterfaces()), loopback included. */
  readonly kernel: readonly string[];
  /** The xlio-ts host's own addresses (XLIO_ADDR without prefixes). */
  readonly xlio: readonly string[];
  /** True when the xlio-ts host is on a link (XLIO_LINK): loopback is then the kernel's. */
  readonly onLink: boolean;
}

/** The view of this process: os.networkInterfaces(), XLIO_LINK and XLIO_ADDR of `env`. */
export function hostView(env: Readonly<Record<string, string | undefined>> = process.env): HostView {
  const kernel: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) kernel.push(a.address);
  const link = env['XLIO_LINK'];
  const xlio = (env['XLIO_ADDR'] ?? '')
    .split(',')
    .map((s) => s.trim().split('/')[0]!)
    .filter((s) => s !== '');
  return { kernel, xlio, onLink: link !== undefined && link.trim() !== '' };
}

const kA = new Addr();
const kB = new Addr();

function sameAddress(a: Addr, text: string): boolean {
  const b = readAddress(text, kB);
  if (b.family !== a.family || a.family === 0) return false;
  const n = a.family === 4 ? 1 : 4;
  for (let i = 0; i < n; i++) if (a.w[i] !== b.w[i]) return false;
  return true;
}

/**
 * True when `address` belongs to the host kernel and not to the xlio-ts host: one of the
 * kernel's interface addresses that xlio-ts does not have, or loopback (127.0.0.0/8, ::1)
 * while xlio-ts is on a link. Offloaded traffic to it must go through the OS (KI-18).
 */
export function ownedByKernelOnly(address: string, host: HostView = hostView()): boolean {
  const a = readAddress(address, kA);
  if (a.family === 0) return false;
  const loopback = a.family === 4 ? a.w[0]! >>> 24 === 127 : a.w[0] === 0 && a.w[1] === 0 && a.w[2] === 0 && a.w[3] === 1;
  if (loopback) return host.onLink;
  for (const x of host.xlio) if (sameAddress(a, x)) return false;
  for (const k of host.kernel) if (sameAddress(a, k)) return true;
  return false;
}

/** The normalised text of a rule set's selected rules, one per line (for `xlio config`). */
export function describeRules(rs: RuleSet): string[] {
  if (rs.block === null) return [];
  return rs.block.rules.map((r) => `${r.file}:${r.line}: ${r.text}`);
}

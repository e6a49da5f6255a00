// The runtime's configuration, read once from XLIO_* environment variables with XLIO's
// meanings (libxlio's sys_vars.cpp/sys_vars.h are the reference) into a typed object that is
// passed down; nothing else reads the environment for these settings.
//
//   XLIO_SPEC                       none | latency | ultra-latency (XLIO's profiles; also 0, 1 = ultra-latency, 2 = latency).
//                                   A profile sets defaults; a variable set explicitly wins, as in XLIO.
//   XLIO_RX_POLL                    busy-poll budget before parking, in poll iterations (default 100000,
//                                   -1 = poll forever, 0 = one poll then park; range -1..100000000).
//   XLIO_SELECT_POLL                the same budget for select/poll/epoll waits (same unit and range).
//   XLIO_RING_ALLOCATION_LOGIC_RX   0 per interface, 1 per IP address, 10 per socket, 20 per thread
//   XLIO_RING_ALLOCATION_LOGIC_TX   (default), 30 per CPU id, 31 per core; or XLIO's names
//                                   (per_interface, per_ip_address, per_socket, per_thread, per_cpuid,
//                                   per_core). 11 and 32 are API-only in XLIO and refused here too.
//   XLIO_TCP_NODELAY                1: new TCP sockets start with TCP_NODELAY (default 0).
//   XLIO_TCP_QUICKACK               1: no delayed ACKs (default 0).
//   XLIO_MTU                        0: follow the link's MTU (default); else 68..65535.
//   XLIO_PREWARM                    xlio-ts's own: rounds of private TCP/UDP exchanges a worker
//                                   runs at start so its first real connect runs compiled code
//                                   (KI-25; default 64, 0: none). See prewarm.ts.
//
// The unit of XLIO_RX_POLL. XLIO counts iterations of its receive loop (one poll of the
// completion queue, ~0.1 µs of C on the hardware it targets: the default 100000 spins about
// 10 ms). We keep the count, so that a tuned XLIO setting keeps its meaning: one iteration is
// one idle round of the poll loop (drain the link, run the app's round, stack.poll). Our round
// costs more than a CQ poll and varies with the stack's work (timers, connections), so the
// count alone could spin for much longer than an XLIO user expects: the spin also ends after
// spinCapUs(n) = n × 0.1 µs, the wall time XLIO's n polls take. Whichever comes first ends
// the spin. XLIO forces 0 to 1 ("at least one good polling loop"); here 0 means the same:
// the round that found nothing was the one poll, and the loop parks at once.
//
// Profiles, as XLIO sets them (sys_vars.cpp, MCE_SPEC_SOCKPERF_*): both latency and
// ultra-latency poll forever (rx and select -1) and turn TCP_NODELAY on; neither changes
// quick-ACK or the ring logic, whose default is already one ring per thread. What separates
// them in XLIO (latency keeps the internal thread's 100 ms progress engine and polls OS
// descriptors; ultra-latency has no internal thread) has no counterpart here: timers run in
// stack.poll on the loop's own thread.
//
// Ring allocation in our model (see workers.ts): every per-thread kind of ring (per thread,
// per CPU id, per core, and per socket, since a socket lives in exactly one worker's stack)
// is one queue per worker; per interface and per IP address are one queue shared by every
// thread, which xlio-ts never does (KI-22: no lock or shared state on the data path), so they
// allow a single worker.
//
// Values are parsed strictly (XLIO's atoi accepts "12abc"; we refuse it) and a bad value is
// an error naming the variable and what it accepts. An empty value counts as unset. XLIO_*
// names that are neither read here nor by another part of xlio-ts produce one warning each.

/** XLIO's ring_logic_t values accepted in XLIO_RING_ALLOCATION_LOGIC_RX/TX. */
export type RingAllocationLogic = 0 | 1 | 10 | 20 | 30 | 31;
export type SpecProfile = 'none' | 'latency' | 'ultra-latency';

export interface RuntimeConfig {
  readonly spec: SpecProfile;
  /** XLIO_RX_POLL: idle rounds to spin before parking; −1 forever, 0 park at once. */
  readonly rxPoll: number;
  /** XLIO_SELECT_POLL: the same for select/poll/epoll waits. */
  readonly selectPoll: number;
  readonly ringAllocationRx: RingAllocationLogic;
  readonly ringAllocationTx: RingAllocationLogic;
  readonly tcpNoDelay: boolean;
  readonly tcpQuickAck: boolean;
  /** XLIO_MTU: 0 follows the link. */
  readonly mtu: number;
  /** XLIO_PREWARM: private exchanges run at a worker's start (prewarm.ts); 0: none. */
  readonly prewarm: number;
  /** XLIO_* names in the environment that nothing in xlio-ts reads (see warnUnknown). */
  readonly unknown: readonly string[];
}

/** XLIO's defaults (MCE_DEFAULT_*), with no profile. */
export const DEFAULT_CONFIG: RuntimeConfig = Object.freeze({
  spec: 'none',
  rxPoll: 100_000,
  selectPoll: 100_000,
  ringAllocationRx: 20,
  ringAllocationTx: 20,
  tcpNoDelay: false,
  tcpQuickAck: false,
  mtu: 0,
  prewarm: 64,
  unknown: Object.freeze([]) as readonly string[],
});

/** What each profile changes from the defaults (sys_vars.cpp). */
const PROFILES: Record<SpecProfile, Partial<RuntimeConfig>> = {
  none: {},
  latency: { rxPoll: -1, selectPoll: -1, tcpNoDelay: true },
  'ultra-latency': { rxPoll: -1, selectPoll: -1, tcpNoDelay: true },
};

/** XLIO's poll iteration on its own hardware: the µs cap of a spin of n iterations is n × this. */
export const POLL_ITERATION_US = 0.1;
/** XLIO's bounds on XLIO_RX_POLL / XLIO_SELECT_POLL (MCE_MIN/MAX_RX_NUM_POLLS). */
const MIN_POLLS = -1;
const MAX_POLLS = 100_000_000;

/** The wall-time cap (µs) of a spin of `polls` iterations: Infinity for −1 (poll forever). */
export function spinCapUs(polls: number): number {
  return polls < 0 ? Infinity : polls * POLL_ITERATION_US;
}

/** A bad value: names the variable, the value and what is accepted. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly value: string,
    readonly accepted: string,
  ) {
    super(`${variable}=${JSON.stringify(value)} is not valid: ${variable} accepts ${accepted}`);
    this.name = 'ConfigError';
  }
}

const RING_LOGIC_NAMES: Record<string, RingAllocationLogic> = {
  per_interface: 0,
  per_ip_address: 1,
  per_socket: 10,
  per_thread: 20,
  per_cpuid: 30,
  per_core: 31,
};
const RING_LOGIC_ACCEPTED = '0 (per interface), 1 (per IP address), 10 (per socket), 20 (per thread), 30 (per CPU id), 31 (per core), or their names per_interface, per_ip_address, per_socket, per_thread, per_cpuid, per_core';

function parseInteger(name: string, v: string, min: number, max: number, accepted: string): number {
  const t = v.trim();
  if (!/^[+-]?\d+$/.test(t)) throw new ConfigError(name, v, accepted);
  const n = Number(t);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ConfigError(name, v, accepted);
  return n;
}

function parsePolls(name: string, v: string): number {
  return parseInteger(name, v, MIN_POLLS, MAX_POLLS, `an integer count of poll iterations from ${MIN_POLLS} (poll forever) to ${MAX_POLLS}; 0 parks after one poll`);
}

function parseBool01(name: string, v: string): boolean {
  return parseInteger(name, v, 0, 1, '0 or 1') === 1;
}

function parseRingLogic(name: string, v: string): RingAllocationLogic {
  const t = v.trim().toLowerCase();
  const byName = RING_LOGIC_NAMES[t];
  if (byName !== undefined) return byName;
  if (/^[+-]?\d+$/.test(t)) {
    const n = Number(t);
    for (const k in RING_LOGIC_NAMES) if (RING_LOGIC_NAMES[k] === n) return n as RingAllocationLogic;
  }
  throw new ConfigError(name, v, RING_LOGIC_ACCEPTED);
}

function parseSpec(name: string, v: string): SpecProfile {
  const t = v.trim().toLowerCase();
  if (t === 'none' || t === '0') return 'none';
  if (t === 'ultra-latency' || t === '1') return 'ultra-latency';
  if (t === 'latency' || t === '2') return 'latency';
  const xlioOnly = ['nginx', 'nginx_dpu', 'nvme_bf2', 'nvme_bf3', 'multi_ring_latency'];
  const hint = xlioOnly.includes(t) ? ` (${t} is an XLIO profile for hardware or applications xlio-ts does not target)` : '';
  throw new ConfigError(name, v, `none, latency or ultra-latency (or 0, 1 = ultra-latency, 2 = latency)${hint}`);
}

function parseMtu(name: string, v: string): number {
  const n = parseInteger(name, v, 0, 65535, '0 (follow the link) or an MTU from 68 to 65535');
  if (n !== 0 && n < 68) throw new ConfigError(name, v, '0 (follow the link) or an MTU from 68 to 65535');
  return n;
}

/** One variable this module reads: its name and what it means here (for `xlio config` and the docs). */
export interface ConfigVariable {
  readonly name: string;
  readonly describe: string;
}

/** The variables loadConfig reads, with what they mean here. */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = Object.freeze([
  { name: 'XLIO_SPEC', describe: 'Profile setting defaults: none, latency or ultra-latency. Both latency profiles poll forever (XLIO_RX_POLL=-1, XLIO_SELECT_POLL=-1) and set TCP_NODELAY, as XLIO does; variables set explicitly override the profile.' },
  {
    name: 'XLIO_RX_POLL',
    describe:
      'Busy-poll budget before the poll loop parks, in poll iterations as in XLIO (default 100000). One iteration is one idle round of the loop (drain the link, the app round, stack.poll); the spin also ends after n × 0.1 µs (XLIO\'s n polls on its hardware, 10 ms by default), whichever comes first, because our round costs more and varies with load. -1 polls forever (never parks); 0 parks after the one poll that found nothing.',
  },
  { name: 'XLIO_SELECT_POLL', describe: 'The same budget, in poll iterations, for select/poll/epoll waits (default 100000; -1 forever, 0 one poll then sleep).' },
  {
    name: 'XLIO_RING_ALLOCATION_LOGIC_RX',
    describe: 'How receive rings are allocated: 20 per thread (default), 30 per CPU id, 31 per core and 10 per socket all give each worker its own queue; 0 per interface and 1 per IP address mean one queue shared by every thread, which xlio-ts never shares (KI-22), so they allow a single worker.',
  },
  { name: 'XLIO_RING_ALLOCATION_LOGIC_TX', describe: 'As XLIO_RING_ALLOCATION_LOGIC_RX, for transmit rings.' },
  { name: 'XLIO_TCP_NODELAY', describe: '1: new TCP sockets start with TCP_NODELAY (Nagle off). Default 0.' },
  { name: 'XLIO_TCP_QUICKACK', describe: '1: acknowledge every segment at once (no delayed ACK). Default 0.' },
  { name: 'XLIO_MTU', describe: 'The MTU of links the runtime creates: 0 (default) follows the link; else 68 to 65535.' },
  { name: 'XLIO_PREWARM', describe: "xlio-ts's own: rounds of private TCP/UDP exchanges a worker runs at start, so the first real connect and send run compiled code (KI-25). Default 64; 0: none." },
]);

/**
 * XLIO_* variables read elsewhere in xlio-ts (the stack, the native addon, stats, rules, the
 * CLI): not unknown, so no warning here.
 */
const READ_ELSEWHERE = new Set(['XLIO_LINK', 'XLIO_ADDR', 'XLIO_GATEWAY', 'XLIO_TRACELEVEL', 'XLIO_TCP_CC_ALGO', 'XLIO_MSS', 'XLIO_STATS_FILE', 'XLIO_STATS_SHMEM_DIR', 'XLIO_NO_NATIVE', 'XLIO_CONFIG_FILE', 'XLIO_APPLICATION_ID']);

const READ_HERE = new Set(CONFIG_VARIABLES.map((v) => v.name));

/**
 * Parses the XLIO_* variables of `env` (process.env's shape) into a config: XLIO's defaults,
 * then the XLIO_SPEC profile, then each variable that is set. Pure: throws ConfigError on a
 * bad value and lists unread XLIO_* names in `unknown` without printing anything.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): RuntimeConfig {
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v;
  };
  const specValue = get('XLIO_SPEC');
  const spec = specValue === undefined ? 'none' : parseSpec('XLIO_SPEC', specValue);
  const c = { ...DEFAULT_CONFIG, ...PROFILES[spec], spec } as { -readonly [K in keyof RuntimeConfig]: RuntimeConfig[K] };
  let v: string | undefined;
  if ((v = get('XLIO_RX_POLL')) !== undefined) c.rxPoll = parsePolls('XLIO_RX_POLL', v);
  if ((v = get('XLIO_SELECT_POLL')) !== undefined) c.selectPoll = parsePolls('XLIO_SELECT_POLL', v);
  if ((v = get('XLIO_RING_ALLOCATION_LOGIC_RX')) !== undefined) c.ringAllocationRx = parseRingLogic('XLIO_RING_ALLOCATION_LOGIC_RX', v);
  if ((v = get('XLIO_RING_ALLOCATION_LOGIC_TX')) !== undefined) c.ringAllocationTx = parseRingLogic('XLIO_RING_ALLOCATION_LOGIC_TX', v);
  if ((v = get('XLIO_TCP_NODELAY')) !== undefined) c.tcpNoDelay = parseBool01('XLIO_TCP_NODELAY', v);
  if ((v = get('XLIO_TCP_QUICKACK')) !== undefined) c.tcpQuickAck = parseBool01('XLIO_TCP_QUICKACK', v);
  if ((v = get('XLIO_MTU')) !== undefined) c.mtu = parseMtu('XLIO_MTU', v);
  if ((v = get('XLIO_PREWARM')) !== undefined) c.prewarm = parseInteger('XLIO_PREWARM', v, 0, 100_000, 'a number of rounds from 0 (none) to 100000');
  c.unknown = Object.freeze(
    Object.keys(env)
      .filter((k) => k.startsWith('XLIO_') && !READ_HERE.has(k) && !READ_ELSEWHERE.has(k))
      .sort(),
  );
  return Object.freeze(c);
}

/** True when the ring logic gives each thread its own ring (one queue per worker); false: one ring shared by all. */
export function ringPerWorker(logic: RingAllocationLogic): boolean {
  return logic !== 0 && logic !== 1;
}

/** XLIO_* names read outside this module (the stack, the native addon, stats, rules, the CLI). */
export const VARIABLES_READ_ELSEWHERE: readonly string[] = Object.freeze([...READ_ELSEWHERE]);

/** The known XLIO_* name closest to `name` (within two edits), for "did you mean"; null if none. */
export function suggestVariable(name: string): string | null {
  return closest(name);
}

/** The closest known name within two edits, for "did you mean". */
function closest(name: string): string | null {
  let best: string | null = null;
  let bestD = 3;
  for (const k of [...READ_HERE, ...READ_ELSEWHERE]) {
    const d = editDistance(name, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}

/** Names already warned about in this thread: each unknown name warns once. */
const warned = new Set<string>();

/**
 * Writes one line to stderr (or `write`) for each name of config.unknown not warned about
 * before in this thread; returns the lines written.
 */
export function warnUnknown(config: RuntimeConfig, write: (line: string) => void = (l) => process.stderr.write(l + '\n'), seen: Set<string> = warned): string[] {
  const lines: string[] = [];
  for (const name of config.unknown) {
    if (seen.has(name)) continue;
    seen.add(name);
    const near = closest(name);
    const line = `xlio-ts: warning: ${name} is not a setting xlio-ts reads; ignored${near !== null ? ` (did you mean ${near}?)` : ''}`;
    lines.push(line);
    write(line);
  }
  return lines;
}

/** The process's configuration: loadConfig(process.env), warning once about unknown XLIO_* names. */
export function configFromEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): RuntimeConfig {
  const c = loadConfig(env);
  warnUnknown(c);
  return c;
}

/** A multi-line summary (for `xlio config` and logs): each setting, its value and its source. */
export function describeConfig(c: RuntimeConfig): string {
  const polls = (n: number): string => (n < 0 ? '-1 (poll forever)' : `${n} iterations (cap ${spinCapUs(n) >= 1000 ? `${spinCapUs(n) / 1000} ms` : `${spinCapUs(n)} µs`})`);
  const logic = (l: RingAllocationLogic): string => `${l} (${Object.keys(RING_LOGIC_NAMES).find((k) => RING_LOGIC_NAMES[k] === l)}: ${ringPerWorker(l) ? 'a queue per worker' : 'one shared queue: one worker'})`;
  return [
    `XLIO_SPEC=${c.spec}`,
    `XLIO_RX_POLL=${polls(c.rxPoll)}`,
    `XLIO_SELECT_POLL=${polls(c.selectPoll)}`,
    `XLIO_RING_ALLOCATION_LOGIC_RX=${logic(c.ringAllocationRx)}`,
    `XLIO_RING_ALLOCATION_LOGIC_TX=${logic(c.ringAllocationTx)}`,
    `XLIO_TCP_NODELAY=${c.tcpNoDelay ? 1 : 0}`,
    `XLIO_TCP_QUICKACK=${c.tcpQuickAck ? 1 : 0}`,
    `XLIO_MTU=${c.mtu === 0 ? '0 (follow the link)' : c.mtu}`,
    `XLIO_PREWARM=${c.prewarm}`,
  ].join('\n');
}

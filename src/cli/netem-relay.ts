// `xlio netem-relay`: a user-space stand-in for Linux's sch_netem, for kernels built without
// it (CONFIG_NET_SCH_NETEM unset: "Specified qdisc kind is unknown"). It bridges two links —
// normally two AF_PACKET sockets on veth ends, each in its own namespace if need be — and
// forwards every frame each way through a NetemQueue (src/cli/netem-queue.ts): loss,
// duplication, delay ± jitter, reordering, rate and a frame limit, per direction.
//
//   xlio netem-relay --a packet:veth0,netns=/run/netns/r --b packet:veth1,netns=/run/netns/r \
//        --delay 10ms --loss 1% --reorder 25% --seed 7
//
// It is a CLI subcommand rather than test-only code because it is useful on its own: any
// application (kernel or xlio-ts) can be tried under impairment on such a kernel.
//
// One thread: receive a batch from each side (copied into free slots of that direction's
// queue), send what is due (copied into a transmit batch, one portSend per batch), and when
// nothing moved for --spin-us, park in poll(2) on both ports until a frame arrives or the
// next frame is due (whole milliseconds; the last sub-millisecond is spun, so departures are
// on time to a few microseconds). Nothing is allocated per frame.
//
// Output: JSON lines on stdout — {"event":"ready",…} once the links are open, {"event":
// "stats",…} every --stats-ms, and {"event":"final",…} with every counter after SIGTERM or
// SIGINT, then exit 0.

import { writeFileSync } from 'node:fs';
import { NativePortLink } from '../link/native-port-link.js';
import { openLink } from '../link/open-link.js';
import { requireNativeAddon } from '../native/addon.js';
import { SeededRng } from '../rng.js';
import { monotonicUs } from '../socket/drivers.js';
import { NO_IMPAIRMENT, NetemQueue, parsePercent, parseRateBps, parseTimeUs, type NetemParams } from './netem-queue.js';

export const NETEM_RELAY_USAGE = `usage: xlio netem-relay --a LINK --b LINK [impairments] [options]

Forwards every frame between two links, impaired like tc-netem(8), for kernels without
sch_netem. LINK is a link spec (packet:IF[,netns=PATH], xdp:…, tap:…) or a bare interface
name (packet:IF). Each impairment applies to both directions; add -ab or -ba to the option
(--loss-ab 5%) for one direction only (a→b is what arrives on --a and leaves on --b).

impairments:
  --loss P%          drop each frame with probability P
  --delay T          hold each frame for T (10ms, 500us, 1s)
  --jitter T         ± T uniformly around the delay (reorders, like netem)
  --reorder P%       with a delay: P% of frames skip it (netem's "reorder P gap 1")
  --duplicate P%     send P% of frames twice
  --rate R           serialise at R (100mbit, 1gbit, 10mbps)
  --limit N          hold at most N frames per direction, drop the rest (default 1000)
options:
  --seed N           the random generator's seed (default 1): runs are replayable
  --oneway           forward a→b only; frames arriving on --b are not read
  --spin-us N        busy-poll this long after the last frame before parking (default 200)
  --stats-ms N       print counters every N ms (default 0: only at exit)
  --ready-file PATH  write "ready" to PATH once both links are open
`;

/** Frames per receive or transmit batch. */
const BATCH = 64;
/** Longest park: the loop wakes at least this often (signals, stats). */
const MAX_PARK_MS = 100;

interface RelayOptions {
  a: string;
  b: string;
  ab: NetemParams;
  ba: NetemParams;
  seed: number;
  oneway: boolean;
  spinUs: number;
  statsMs: number;
  readyFile: string | undefined;
}

function parseArgs(argv: readonly string[]): RelayOptions {
  const o: RelayOptions = { a: '', b: '', ab: { ...NO_IMPAIRMENT }, ba: { ...NO_IMPAIRMENT }, seed: 1, oneway: false, spinUs: 200, statsMs: 0, readyFile: undefined };
  const setters: Record<string, (p: NetemParams, v: string) => void> = {
    loss: (p, v) => (p.lossPct = parsePercent(v)),
    delay: (p, v) => (p.delayUs = parseTimeUs(v)),
    jitter: (p, v) => (p.jitterUs = parseTimeUs(v)),
    reorder: (p, v) => (p.reorderPct = parsePercent(v)),
    duplicate: (p, v) => (p.duplicatePct = parsePercent(v)),
    rate: (p, v) => (p.rateBps = parseRateBps(v)),
    limit: (p, v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`bad --limit '${v}'`);
      p.limit = n;
    },
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--oneway') {
      o.oneway = true;
      continue;
    }
    const m = /^--([a-z-]+?)(?:-(ab|ba))?$/.exec(arg);
    if (m === null) throw new Error(`unexpected argument '${arg}'`);
    const v = argv[++i];
    if (v === undefined) throw new Error(`${arg} needs a value`);
    const name = m[1]!;
    const setter = setters[name];
    if (setter !== undefined) {
      if (m[2] !== 'ba') setter(o.ab, v);
      if (m[2] !== 'ab') setter(o.ba, v);
      continue;
    }
    if (m[2] !== undefined) throw new Error(`${arg}: only impairments take -ab/-ba`);
    switch (name) {
      case 'a':
        o.a = v;
        break;
      case 'b':
        o.b = v;
        break;
      case 'seed':
        o.seed = Number(v) | 0;
        break;
      case 'spin-us':
        o.spinUs = Number(v);
        break;
      case 'stats-ms':
        o.statsMs = Number(v);
        break;
      case 'ready-file':
        o.readyFile = v;
        break;
      default:
        throw new Error(`unknown option '${arg}'`);
    }
  }
  if (o.a === '' || o.b === '') throw new Error('--a and --b are both needed');
  return o;
}

function spec(s: string): string {
  return s.includes(':') ? s : `packet:${s}`;
}

export async function netemRelayCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(NETEM_RELAY_USAGE);
    return 0;
  }
  let o: RelayOptions;
  try {
    o = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`xlio netem-relay: ${(e as Error).message}\n${NETEM_RELAY_USAGE}`);
    return 2;
  }
  const addon = requireNativeAddon('the netem relay');
  const la = (await openLink(spec(o.a))).link;
  let lb: typeof la;
  try {
    lb = (await openLink(spec(o.b))).link;
  } catch (e) {
    la.close();
    throw e;
  }
  if (!(la instanceof NativePortLink) || !(lb instanceof NativePortLink)) {
    la.close();
    lb.close();
    throw new Error('the netem relay needs native-port links (packet, xdp, tap)');
  }
  const A = la;
  const B = lb;
  const stride = Math.max(A.stride, B.stride);
  const ab = new NetemQueue(o.ab, new SeededRng(o.seed), stride);
  const ba = new NetemQueue(o.ba, new SeededRng((o.seed ^ 0x5bd1e995) | 0), stride);
  const rxBuf = new Uint8Array(stride * BATCH);
  const rxLens = new Uint32Array(BATCH);
  const txBuf = new Uint8Array(stride * BATCH);
  const txLens = new Uint32Array(BATCH);
  const txDropped = { a: 0, b: 0 };
  const parks = { count: 0 };

  let stopping = false;
  const stop = (): void => {
    stopping = true;
    A.interruptWait();
    B.interruptWait();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const snapshot = (event: string): string =>
    JSON.stringify({
      event,
      ab: { ...ab.counters, held: ab.held, txDropped: txDropped.b },
      ba: { ...ba.counters, held: ba.held, txDropped: txDropped.a },
      parks: parks.count,
      ...(event === 'final' ? { linkA: A.counters(), linkB: B.counters() } : {}),
    }) + '\n';
  const statsTimer = o.statsMs > 0 ? setInterval(() => process.stdout.write(snapshot('stats')), o.statsMs) : undefined;

  process.stdout.write(JSON.stringify({ event: 'ready', a: A.description, b: B.description, ab: o.ab, ba: o.ba, seed: o.seed, oneway: o.oneway }) + '\n');
  if (o.readyFile !== undefined) writeFileSync(o.readyFile, 'ready\n');

  /** Moves what is due from `q` to the port `to`; returns frames sent. */
  const send = (q: NetemQueue, to: NativePortLink, now: number, which: 'a' | 'b'): number => {
    let total = 0;
    // Bounded: each round drains up to BATCH of the at most `limit` frames held.
    for (let round = 0; round <= q.params.limit / BATCH + 1; round++) {
      const k = q.drain(now, txBuf, stride, txLens, BATCH);
      if (k === 0) break;
      const sent = addon.portSend(to.id, txBuf, stride, txLens, 0, k);
      txDropped[which] += k - sent;
      total += k;
      if (k < BATCH) break;
    }
    return total;
  };
  const recv = (from: NativePortLink, q: NetemQueue, now: number): number => {
    const n = addon.portRecv(from.id, rxBuf, stride, rxLens, BATCH);
    for (let i = 0; i < n; i++) q.offer(rxBuf, i * stride, rxLens[i]!, now);
    return n;
  };
  const park = async (ms: number): Promise<void> => {
    parks.count++;
    let aDone = false;
    let bDone = false;
    const pa = A.waitForDataAsync(ms).then(() => void (aDone = true));
    const pb = o.oneway ? null : B.waitForDataAsync(ms).then(() => void (bDone = true));
    await (pb === null ? pa : Promise.race([pa, pb]));
    // End the other wait so the next park does not stack a second one on the threadpool.
    if (!aDone) A.interruptWait();
    if (pb !== null && !bDone) B.interruptWait();
    await Promise.all([pa, pb]);
  };

  let lastActive = monotonicUs();
  let spins = 0;
  try {
    while (!stopping) {
      const now = monotonicUs();
      let work = recv(A, ab, now);
      if (!o.oneway) work += recv(B, ba, now);
      work += send(ab, B, now, 'b');
      work += send(ba, A, now, 'a');
      if (work > 0) lastActive = now;
      // Let signals and the stats timer in now and then while busy.
      if ((++spins & 255) === 0) await new Promise<void>((r) => setImmediate(r));
      if (now - lastActive < o.spinUs) continue;
      const next = Math.min(ab.nextDue(), ba.nextDue());
      const waitUs = next - now;
      if (waitUs < 1000) continue; // due within a millisecond: spin to it
      await park(Math.min(MAX_PARK_MS, Math.floor(waitUs / 1000)));
    }
  } finally {
    if (statsTimer !== undefined) clearInterval(statsTimer);
    process.stdout.write(snapshot('final'));
    A.close();
    B.close();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
  return 0;
}

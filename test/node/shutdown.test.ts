// Clean shutdown (src/node/shutdown.ts; KI-02, KI-12, KI-15, KI-20). The peer is the Linux
// kernel in another process: a Node server on Node's own net (shutdown-sink.ts) in network
// namespace k, at the far end of a veth from namespace x, where a child process
// (shutdown-child.ts) runs xlio-ts on a packet link (XLIO_LINK=packet:veth0,netns=…x). The
// sink accepts but does not read until told to, so when the child is ended — by a signal,
// process.exit(), an uncaught exception or the program's end — most of what it wrote is
// still in its stack, its sockets' write queues and their streams' buffers. Then the sink
// reads, and must get every byte, in order, and a FIN; or an RST under SO_LINGER 0. The same
// child run with Node's own net (in namespace k, against the same kind of sink) gives the
// exit status, signal and stderr that ours must equal.
//
// Needs root (namespaces) and the native addon (packet link); skipped with the reason otherwise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { nativeAddon, nativeUnavailableReason } from '../../src/native/addon.js';
import { ProcessHost } from '../../src/node/host.js';
import { shutdownSignalsHeld } from '../../src/node/shutdown.js';
import { Topology, netnsSkip } from '../support/netns.js';

const CHILD = new URL('./shutdown-child.js', import.meta.url).pathname;
const SINK = new URL('./shutdown-sink.js', import.meta.url).pathname;
const KERNEL = '198.18.0.2';
const OURS = '198.18.0.1/24';
const CONNS = 4;
const BYTES = 1 << 20;

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const skip = netnsSkip() || (nativeAddon() === null ? `skipped: ${nativeUnavailableReason()}` : false);

interface Record {
  id: number;
  bytes: number;
  ordered: boolean;
  end: boolean;
  error: string | null;
}

/** A process whose stdout lines and stderr are collected; every wait bounded. */
class Child {
  readonly proc: ChildProcess;
  readonly lines: unknown[] = [];
  stderr = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private partial = '';
  private readonly waiters: (() => void)[] = [];

  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.proc = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stdout!.on('data', (d: string) => {
      this.partial += d;
      let nl: number;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        const line = this.partial.slice(0, nl);
        this.partial = this.partial.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line));
        } catch {
          this.lines.push(line);
        }
      }
      this.wake();
    });
    this.proc.stderr!.on('data', (d: string) => (this.stderr += d));
    this.proc.stdin!.on('error', () => {}); // a child that is gone does not take our line
    this.exited = new Promise((resolve) => {
      this.proc.once('close', (code, signal) => {
        this.exit = { code, signal };
        this.wake();
        resolve(this.exit);
      });
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits (≤ ms) until `pred` holds over the lines; throws with the output otherwise. */
  async until<T>(pred: (lines: unknown[]) => T | undefined | false, ms: number, what: string): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const r = pred(this.lines);
      if (r !== undefined && r !== false) return r;
      if (this.exit !== null && pred(this.lines) === undefined) throw new Error(`${what}: exited first (${JSON.stringify(this.exit)}); stdout ${JSON.stringify(this.lines)} stderr ${this.stderr}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`${what}: not within ${ms} ms; stdout ${JSON.stringify(this.lines)} stderr ${this.stderr}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  send(line: string): void {
    if (this.exit === null) this.proc.stdin!.write(line + '\n');
  }

  /** Waits ≤ ms for the exit, then kills. */
  async waitExit(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const t0 = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([this.exited, new Promise<null>((res) => (timer = setTimeout(() => res(null), ms)))]);
    clearTimeout(timer);
    if (r === null) {
      this.proc.kill('SIGKILL');
      const e = await this.exited;
      throw new Error(`did not exit within ${ms} ms (killed: ${JSON.stringify(e)}); stderr ${this.stderr}`);
    }
    return { ...r, ms: Date.now() - t0 };
  }

  kill(): void {
    if (this.exit === null) this.proc.kill('SIGKILL');
  }
}

interface Outcome {
  exit: { code: number | null; signal: NodeJS.Signals | null; ms: number };
  stderr: string;
  stdout: unknown[];
  ready: { written: number; pending: number };
  records: Record[];
}

/** One run: a sink in k, the child (over xlio-ts in the root namespace, or Node's net in k), ended per `scenario`. */
async function run(
  topo: Topology,
  k: string,
  x: string,
  mode: 'xlio' | 'node',
  scenario: string,
  opts: { conns?: number; bytes?: number; resume?: boolean; expectRecords?: boolean; eager?: boolean } = {},
): Promise<Outcome> {
  const conns = opts.conns ?? CONNS;
  const bytes = opts.bytes ?? BYTES;
  const sink = new Child('ip', ['netns', 'exec', k, process.execPath, SINK, KERNEL, ...(opts.eager === true ? ['eager'] : [])]);
  let child: Child | null = null;
  try {
    const { port } = await sink.until((ls) => ls.find((l) => typeof (l as { port?: number }).port === 'number') as { port: number } | undefined, 10_000, 'sink listening');
    const args = [CHILD, mode, scenario, KERNEL, String(port), String(conns), String(bytes)];
    child =
      mode === 'xlio'
        ? new Child(process.execPath, args, { ...process.env, XLIO_LINK: `packet:veth0,netns=${Topology.path(x)}`, XLIO_ADDR: OURS, XLIO_STATS_SHMEM_DIR: '' })
        : new Child('ip', ['netns', 'exec', k, process.execPath, ...args]);
    const ready = await child.until((ls) => ls.find((l) => (l as { ready?: boolean }).ready === true) as { written: number; pending: number } | undefined, 15_000, `${mode} ${scenario} ready`);
    if (scenario.startsWith('SIG')) child.proc.kill(scenario as NodeJS.Signals);
    else if (scenario === 'linger0' || scenario === 'handler') child.proc.kill(scenario === 'linger0' ? 'SIGTERM' : 'SIGINT');
    else child.send('go');
    // The sink reads from now on (unless the test wants a peer that never does).
    if (opts.resume !== false) sink.send('go');
    const exit = await child.waitExit(15_000);
    let records: Record[] = [];
    if (opts.expectRecords !== false) {
      if (opts.resume === false) sink.send('go');
      records = await sink.until((ls) => {
        const rs = ls.filter((l) => typeof (l as Record).bytes === 'number') as Record[];
        return rs.length >= conns ? rs : undefined;
      }, 10_000, `${mode} ${scenario}: the sink's ${conns} connections closed`);
    }
    return { exit, stderr: child.stderr, stdout: child.lines, ready, records };
  } finally {
    child?.kill();
    sink.kill();
  }
}

test('signal listeners: ours only while the program has none of its own (KI-02)', async () => {
  const host = new ProcessHost();
  try {
    const mine = SIGNALS.filter((s) => process.listenerCount(s) === 0);
    const held = shutdownSignalsHeld();
    for (const s of mine) assert.ok(held.includes(s), `${s}: ${held}`);
    if (!mine.includes('SIGHUP')) return;
    // The program starts listening: we step aside (once its listener is in).
    const f = (): void => {};
    process.on('SIGHUP', f);
    await Promise.resolve();
    assert.ok(!shutdownSignalsHeld().includes('SIGHUP'));
    assert.deepEqual(process.listeners('SIGHUP'), [f]);
    // It stops: we are back, so a SIGHUP still flushes before the process dies of it.
    process.removeListener('SIGHUP', f);
    assert.ok(shutdownSignalsHeld().includes('SIGHUP'));
    assert.equal(process.listenerCount('SIGHUP'), 1);
  } finally {
    host.close();
  }
});

test('shutdown over a packet link against a kernel peer (KI-02, KI-12, KI-15, KI-20)', { skip, timeout: 600_000 }, async (t) => {
  const topo = Topology.create('sd');
  t.after(() => topo.destroy());
  const k = topo.ns('k');
  const x = topo.ns('x');
  topo.veth(k, 'veth0', x, 'veth0');
  topo.noIpv6(x, 'veth0');
  topo.addr(k, 'veth0', `${KERNEL}/24`);

  const expected: { [s: string]: { code: number | null; signal: NodeJS.Signals | null } } = {
    SIGINT: { code: null, signal: 'SIGINT' },
    SIGTERM: { code: null, signal: 'SIGTERM' },
    SIGHUP: { code: null, signal: 'SIGHUP' },
    exit3: { code: 3, signal: null },
    throw: { code: 1, signal: null },
    end: { code: 0, signal: null },
    handler: { code: 7, signal: null },
  };

  for (const scenario of Object.keys(expected)) {
    await t.test(`${scenario}: every byte and a FIN reach the kernel peer; status and stderr as Node's (KI-02, KI-12, KI-15)`, async () => {
      const ours = await run(topo, k, x, 'xlio', scenario);
      const node = await run(topo, k, x, 'node', scenario, { expectRecords: false });
      const what = `xlio: ${JSON.stringify(ours.exit)} stderr ${JSON.stringify(ours.stderr)}; node: ${JSON.stringify(node.exit)} stderr ${JSON.stringify(node.stderr)}`;
      // Node's own status for this script, and ours the same.
      assert.deepEqual({ code: node.exit.code, signal: node.exit.signal }, expected[scenario], what);
      assert.deepEqual({ code: ours.exit.code, signal: ours.exit.signal }, expected[scenario], what);
      // No output of ours: empty, or (uncaught exception) exactly Node's trace.
      if (scenario === 'throw') {
        assert.match(ours.stderr, /Error: boom/);
        assert.equal(ours.stderr, node.stderr, what);
      } else {
        assert.equal(ours.stderr, '', what);
        assert.equal(node.stderr, '', what);
      }
      // Something was still waiting when the end came: the flush had work to do.
      assert.equal(ours.ready.written, CONNS * BYTES);
      assert.ok(ours.ready.pending > 0, `pending at the end: ${ours.ready.pending}`);
      // The kernel peer: every byte, in order, then a FIN (not an RST).
      assert.equal(ours.records.length, CONNS);
      for (const r of ours.records) assert.deepEqual(r, { id: r.id, bytes: BYTES, ordered: true, end: true, error: null }, JSON.stringify(ours.records));
      // Promptly (KI-12): the flush is bounded by 2 s and took far less here.
      assert.ok(ours.exit.ms < 5000, `exit took ${ours.exit.ms} ms`);
      if (scenario === 'handler') assert.ok(ours.stdout.some((l) => (l as { handled?: string }).handled === 'SIGINT'), 'the program handled SIGINT itself');
    });
  }

  await t.test('destroy() right after write(), then process.exit(0): every byte, then FIN (KI-20)', async () => {
    // Within the stack's send buffer (so write() hands it all over at once, as the kernel's
    // would), beyond the first flight: most of it goes after the program is done.
    const small = 48 * 1024;
    const ours = await run(topo, k, x, 'xlio', 'destroy', { bytes: small });
    const node = await run(topo, k, x, 'node', 'destroy', { bytes: small, expectRecords: false });
    assert.deepEqual({ code: ours.exit.code, signal: ours.exit.signal }, { code: 0, signal: null });
    assert.deepEqual({ code: node.exit.code, signal: node.exit.signal }, { code: 0, signal: null });
    assert.equal(ours.stderr, '');
    for (const r of ours.records) assert.deepEqual(r, { id: r.id, bytes: small, ordered: true, end: true, error: null }, JSON.stringify(ours.records));
  });

  await t.test('SO_LINGER 0: SIGTERM resets every connection, queued data dropped (KI-15)', async () => {
    const ours = await run(topo, k, x, 'xlio', 'linger0');
    assert.deepEqual({ code: ours.exit.code, signal: ours.exit.signal }, { code: null, signal: 'SIGTERM' });
    assert.equal(ours.stderr, '');
    assert.equal(ours.records.length, CONNS);
    for (const r of ours.records) {
      assert.ok(r.error === 'ECONNRESET' || r.error === 'EPIPE', JSON.stringify(r));
      assert.ok(r.ordered && r.bytes < BYTES, JSON.stringify(r));
    }
  });

  await t.test('a peer that never reads does not hold the exit: SIGTERM ends the process within the bound, its connections reset (KI-12)', async () => {
    const ours = await run(topo, k, x, 'xlio', 'SIGTERM', { resume: false });
    assert.deepEqual({ code: ours.exit.code, signal: ours.exit.signal }, { code: null, signal: 'SIGTERM' });
    assert.equal(ours.stderr, '');
    assert.ok(ours.exit.ms >= 1500 && ours.exit.ms < 4000, `exit took ${ours.exit.ms} ms (bound: 2 s)`);
    // What could not be delivered in time is not passed off as complete: RST, not FIN.
    assert.equal(ours.records.length, CONNS);
    for (const r of ours.records) {
      assert.ok(r.error === 'ECONNRESET' || r.error === 'EPIPE', JSON.stringify(r));
      assert.ok(r.ordered, JSON.stringify(r));
      assert.ok(r.bytes < BYTES, JSON.stringify(r));
    }
  });
});

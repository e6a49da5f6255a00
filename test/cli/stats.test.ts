// `xlio stats` against a running xlio-ts process: a child (stats-child.ts) sends a known
// amount of TCP and UDP traffic between its own sockets over its ProcessHost's loopback and
// stays alive; the CLI, another process, reads its counters — as a table (--view 2) and as
// Prometheus text — and they match the traffic sent. With the native addon (a shared-memory
// segment) and without it (XLIO_NO_NATIVE=1: a file rewritten by the publisher). Also: the
// process list, cleanup of dead processes' files, XLIO_STATS_FILE at exit, bad arguments.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { nativeAddon } from '../../src/native/addon.js';
import { TRAFFIC as T } from './stats-child.js';

const cli = new URL('../../src/cli/xlio.js', import.meta.url).pathname;
const childJs = new URL('./stats-child.js', import.meta.url).pathname;

interface Ready {
  pid: number;
  tcp: { listener: number; client: number; server: number };
  udp: { a: number; b: number };
}

async function startChild(env: Record<string, string>): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = spawn(process.execPath, [childJs], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready: ${err}`)), 15_000);
    lines.once('line', (l) => {
      clearTimeout(timer);
      resolve(JSON.parse(l) as Ready);
    });
    child.once('exit', (code) => reject(new Error(`child exited ${code}: ${err}`)));
  });
  return { child, ready };
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.stdin!.end(); // the child exits 0 when its stdin closes
  });
}

const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [cli, 'stats', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });

/** The socket rows of a --view 2 table by descriptor: the 14 columns. */
function socketRows(out: string): Map<number, string[]> {
  const rows = new Map<number, string[]>();
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith('FD '));
  assert.ok(at > 0, out);
  for (const l of lines.slice(at + 1)) {
    if (l.trim() === '') break;
    const cols = l.trim().split(/\s+/);
    assert.equal(cols.length, 14, l);
    rows.set(Number(cols[0]), cols);
  }
  return rows;
}

const COL = { proto: 1, state: 2, local: 3, remote: 4, rxBytes: 5, rxPkts: 6, txBytes: 7, txPkts: 8, drops: 9, rxQueue: 10, txQueue: 11, read: 12, retrans: 13 };

for (const mode of ['shm', 'file'] as const) {
  const skip = mode === 'shm' && nativeAddon() === null ? 'native addon not built' : false;
  test(`xlio stats reads a running process's counters and they match the traffic sent (${mode})`, { timeout: 60_000, skip }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'xlio-stats-cli-'));
    const env: Record<string, string> = { XLIO_STATS_SHMEM_DIR: dir, ...(mode === 'file' ? { XLIO_NO_NATIVE: '1' } : {}) };
    const { child, ready } = await startChild(env);
    t.after(async () => {
      await stop(child);
      rmSync(dir, { recursive: true, force: true });
    });
    const pid = ready.pid;
    const published = readdirSync(dir);
    assert.ok(published.includes(`xlioSTAT.${pid}`), published.join());
    if (mode === 'shm') assert.ok(existsSync(`/dev/shm/xlio-stats.${pid}`));

    // The list (as of the process's last publish: the counts may be a second old).
    const list = run(['-k', dir]);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${pid}\\s+node stats-child\\.js\\s+\\d+ s\\s+\\d+\\s`, 'm'));

    // The table.
    const r = run(['-p', String(pid), '-n', '1', '--view', '2'], { XLIO_STATS_SHMEM_DIR: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^xlio-ts stats: pid ${pid} \\(node stats-child\\.js\\), up [\\d.]+ s, updated [\\d.]+ s ago, 5 sockets`));
    const rows = socketRows(r.stdout);
    assert.deepEqual([...rows.keys()].sort(), [ready.tcp.listener, ready.tcp.client, ready.tcp.server, ready.udp.a, ready.udp.b].sort());
    const listener = rows.get(ready.tcp.listener)!;
    assert.deepEqual([listener[COL.proto], listener[COL.state], listener[COL.local], listener[COL.remote], listener[COL.rxQueue]], ['tcp', 'LISTEN', `127.0.0.1:${T.TCP_PORT}`, '*', '0']);
    const client = rows.get(ready.tcp.client)!;
    const server = rows.get(ready.tcp.server)!;
    const sent = T.TCP_MSGS * T.TCP_MSG;
    assert.equal(client[COL.state], 'ESTABLISHED');
    assert.equal(client[COL.remote], `127.0.0.1:${T.TCP_PORT}`);
    assert.equal(server[COL.local], `127.0.0.1:${T.TCP_PORT}`);
    assert.equal(server[COL.remote], client[COL.local]);
    // client → server: every byte sent, acknowledged, received and read.
    assert.equal(client[COL.txBytes], String(sent));
    assert.equal(server[COL.rxBytes], String(sent));
    assert.equal(server[COL.read], String(sent));
    // server → client: TCP_BACK sent and received, TCP_BACK_READ read, the rest waiting.
    assert.equal(server[COL.txBytes], String(T.TCP_BACK));
    assert.equal(client[COL.rxBytes], String(T.TCP_BACK));
    assert.equal(client[COL.read], String(T.TCP_BACK_READ));
    assert.equal(client[COL.rxQueue], String(T.TCP_BACK - T.TCP_BACK_READ));
    for (const row of [client, server]) {
      assert.equal(row[COL.txQueue], '0', 'all acknowledged');
      assert.equal(row[COL.retrans], '0');
    }
    // Segments (tcpi_segs_in/out): over lo nothing is lost, so what one end sent the other
    // received — the handshake, the data, the ACKs; the client at least its SYN, its ACK and one
    // segment of data, the server at least its SYN-ACK and its data.
    assert.equal(client[COL.txPkts], server[COL.rxPkts]);
    assert.equal(server[COL.txPkts], client[COL.rxPkts]);
    assert.ok(Number(client[COL.txPkts]) >= 3, `client segments out: ${client[COL.txPkts]}`);
    assert.ok(Number(server[COL.txPkts]) >= 2, `server segments out: ${server[COL.txPkts]}`);
    // UDP: a holds the datagrams it did not read; b read all it got; no drops.
    const a = rows.get(ready.udp.a)!;
    const b = rows.get(ready.udp.b)!;
    assert.deepEqual([a[COL.proto], a[COL.local], a[COL.remote]], ['udp', `127.0.0.1:${T.UDP_A}`, '*']);
    assert.deepEqual([b[COL.local], b[COL.remote]], [`127.0.0.1:${T.UDP_B}`, `127.0.0.1:${T.UDP_A}`]);
    const queued = T.UDP_MSGS - T.UDP_READ;
    assert.equal(a[COL.rxQueue], `${queued}/${queued * T.UDP_MSG}`);
    assert.equal(b[COL.rxQueue], '0/0');
    assert.equal(a[COL.drops], '0');
    assert.equal(b[COL.drops], '0');
    // Datagrams and payload bytes each way: b → a UDP_MSGS × UDP_MSG, a → b UDP_BACK × UDP_BACK_LEN.
    const ab = [String(T.UDP_BACK), String(T.UDP_BACK * T.UDP_BACK_LEN)];
    const ba = [String(T.UDP_MSGS), String(T.UDP_MSGS * T.UDP_MSG)];
    assert.deepEqual([a[COL.rxPkts], a[COL.rxBytes], a[COL.txPkts], a[COL.txBytes]], [...ba, ...ab]);
    assert.deepEqual([b[COL.rxPkts], b[COL.rxBytes], b[COL.txPkts], b[COL.txBytes]], [...ab, ...ba]);
    // Rings and totals: everything went through lo, once each way.
    const udp = T.UDP_MSGS + T.UDP_BACK;
    const total = /^TOTAL\s+frames in (\d+) out (\d+)\s+bytes in (\d+) out (\d+)\s+udp in (\d+) out (\d+)\s+tcp segs in (\d+) out (\d+)\s+retrans (\d+)$/m.exec(r.stdout);
    assert.ok(total, r.stdout);
    const [framesIn, framesOut, bytesIn, bytesOut, udpIn, udpOut, segsIn, segsOut, retrans] = total.slice(1).map(Number) as number[];
    assert.equal(udpIn, udp);
    assert.equal(udpOut, udp);
    assert.equal(segsIn, segsOut);
    assert.equal(retrans, 0);
    assert.equal(framesIn, udp + segsIn!, 'every frame is a UDP datagram or a TCP segment');
    // Every segment in the process was one of the connection's.
    assert.equal(Number(client[COL.rxPkts]) + Number(server[COL.rxPkts]), segsIn);
    assert.equal(Number(client[COL.txPkts]) + Number(server[COL.txPkts]), segsOut);
    assert.equal(framesOut, framesIn);
    assert.equal(bytesIn, bytesOut);
    // Payload + Ethernet/IPv4/UDP headers, + TCP payload both ways + at least 54 bytes a segment.
    const udpBytes = T.UDP_MSGS * (T.UDP_MSG + 42) + T.UDP_BACK * (T.UDP_BACK_LEN + 42);
    assert.ok(bytesIn! >= udpBytes + sent + T.TCP_BACK + 54 * segsIn!, `bytes ${bytesIn}`);
    const lo = /^lo\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(r.stdout);
    assert.ok(lo, r.stdout);
    assert.deepEqual(lo.slice(1, 7).map(Number), [framesIn, bytesIn, framesOut, bytesOut, 0, 0]);
    assert.ok(Number(lo[7]) > 0, 'the loop polled');

    // Prometheus, on an ephemeral port: one scrape, then the command exits 0.
    const prom = spawn(process.execPath, [cli, 'stats', '-k', dir, '-p', String(pid), '--prometheus', '127.0.0.1:0', '-n', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const first = await new Promise<string>((resolve) => createInterface({ input: prom.stdout! }).once('line', resolve));
    const url = /^serving (http:\/\/127\.0\.0\.1:\d+\/metrics) \(pid \d+\)$/.exec(first);
    assert.ok(url, first);
    const body = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
      get(url[1]!, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), text }));
      }).on('error', reject);
    });
    assert.equal(await new Promise((resolve) => prom.once('exit', resolve)), 0);
    assert.equal(body.status, 200);
    assert.match(body.type, /^text\/plain; version=0\.0\.4/);
    const samples = new Map<string, number>();
    const typed = new Set<string>();
    for (const line of body.text.trim().split('\n')) {
      const ty = /^# TYPE (\S+) (counter|gauge)$/.exec(line);
      if (ty) {
        assert.ok(!typed.has(ty[1]!), `one TYPE per family: ${ty[1]}`);
        typed.add(ty[1]!);
        continue;
      }
      if (line.startsWith('# HELP ')) continue;
      const m = /^([a-z0-9_]+)(\{[^}]*\}) (\S+)$/.exec(line);
      assert.ok(m, `sample line: ${line}`);
      assert.ok(typed.has(m[1]!), `TYPE before samples: ${m[1]}`);
      samples.set(m[1]! + m[2]!, Number(m[3]));
    }
    const p = String(pid);
    const sock = (fd: number, proto: string, state: string, local: string, remote: string) => `{pid="${p}",socket="${fd}",proto="${proto}",state="${state}",local="${local}",remote="${remote}"}`;
    const cl = sock(ready.tcp.client, 'tcp', 'ESTABLISHED', client[COL.local]!, `127.0.0.1:${T.TCP_PORT}`);
    const sv = sock(ready.tcp.server, 'tcp', 'ESTABLISHED', `127.0.0.1:${T.TCP_PORT}`, client[COL.local]!);
    assert.equal(samples.get(`xlio_socket_tx_bytes_total${cl}`), sent);
    assert.equal(samples.get(`xlio_socket_rx_bytes_total${sv}`), sent);
    assert.equal(samples.get(`xlio_socket_app_read_bytes_total${cl}`), T.TCP_BACK_READ);
    assert.equal(samples.get(`xlio_socket_rx_queue_bytes${cl}`), T.TCP_BACK - T.TCP_BACK_READ);
    const ua = sock(ready.udp.a, 'udp', 'NONE', `127.0.0.1:${T.UDP_A}`, '*');
    assert.equal(samples.get(`xlio_socket_rx_queue_packets${ua}`), queued);
    assert.equal(samples.get(`xlio_socket_rx_drops_total${ua}`), 0);
    assert.equal(samples.get(`xlio_stack_udp_in_total{pid="${p}"}`), udp);
    assert.equal(samples.get(`xlio_ring_rx_packets_total{pid="${p}",ring="lo"}`), framesIn);
    assert.equal(samples.get(`xlio_ring_tx_bytes_total{pid="${p}",ring="lo"}`), bytesOut);
    assert.equal(samples.get(`xlio_pool_max_bytes{pid="${p}",pool="tcp-buffers"}`), 64 << 20);
    assert.equal(samples.get(`xlio_process_sockets{pid="${p}"}`), 5);
    assert.equal(samples.get(`xlio_socket_rx_packets_total${ua}`), T.UDP_MSGS);
    assert.equal(samples.get(`xlio_socket_tx_bytes_total${ua}`), T.UDP_BACK * T.UDP_BACK_LEN);
    assert.equal(samples.get(`xlio_socket_rx_packets_total${sv}`), Number(server[COL.rxPkts]));
    assert.equal(samples.get(`xlio_socket_tx_packets_total${cl}`), Number(client[COL.txPkts]));

    // The child leaves: its files go with it.
    assert.equal(await stop(child), 0);
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(existsSync(`/dev/shm/xlio-stats.${pid}`), false);
    const gone = run(['-k', dir, '-p', String(pid), '-n', '1']);
    assert.equal(gone.status, 1);
    assert.match(gone.stderr, new RegExp(`no process ${pid}`));
  });
}

test('XLIO_STATS_FILE: the final counters are written as text when the process exits', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xlio-stats-cli-'));
  try {
    const dump = join(dir, 'final.txt');
    const { child, ready } = await startChild({ XLIO_STATS_SHMEM_DIR: '', XLIO_STATS_FILE: dump });
    assert.equal(await stop(child), 0);
    const text = readFileSync(dump, 'utf8');
    assert.match(text, new RegExp(`^xlio-ts stats: pid ${ready.pid} \\(node stats-child\\.js\\).*5 sockets, final`));
    const rows = socketRows(text);
    assert.equal(rows.get(ready.tcp.client)![COL.txBytes], String(T.TCP_MSGS * T.TCP_MSG));
    assert.match(text, /^ {2}udp_in\s+27$/m);
    assert.deepEqual(readdirSync(dir), ['final.txt'], 'no stats directory: nothing else written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('xlio stats: the list skips and removes files of dead processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xlio-stats-cli-'));
  try {
    const pid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    writeFileSync(join(dir, `xlioSTAT.${pid}`), Buffer.alloc(1024));
    writeFileSync(join(dir, `xlioSTAT.${pid}.want`), '');
    const r = run(['-k', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `no xlio-ts processes publish stats in ${dir}\n`);
    assert.deepEqual(readdirSync(dir), []);
    const p = run(['-k', dir, '-p', String(process.pid), '-n', '1']);
    assert.equal(p.status, 1);
    assert.match(p.stderr, new RegExp(`pid ${process.pid} publishes no xlio-ts stats in ${dir}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('xlio stats: bad arguments are explained and exit 2', () => {
  const cases: [string[], RegExp][] = [
    [['--view', '4'], /--view 4: the view is 1, 2 or 3/],
    [['-p', 'abc'], /-p abc: a process id is a positive integer/],
    [['-p'], /-p needs a value/],
    [['--interval', '0'], /--interval 0: the interval is a number of seconds above 0/],
    [['-i', 'soon'], /-i soon: the interval/],
    [['-n', '0'], /-n 0: the count is a positive integer/],
    [['--prometheus', '70000'], /--prometheus 70000: give \[HOST:\]PORT with PORT 0-65535/],
    [['--prometheus', 'host:'], /--prometheus host:/],
    [['--frobnicate'], /unknown option --frobnicate/],
    [['extra'], /unexpected argument 'extra'/],
    [['-k', ''], /-k: the directory is empty/],
  ];
  for (const [args, msg] of cases) {
    const r = run(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.match(r.stderr, /usage: xlio stats/);
    assert.equal(r.stdout, '');
  }
  const h = run(['--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /--prometheus \[HOST:\]PORT/);
  const top = spawnSync(process.execPath, [cli, 'help'], { encoding: 'utf8' });
  assert.match(top.stdout, /stats \[-p PID\] \[--view N\] \[--interval S\] \[--prometheus PORT\]/);
});

test('xlio stats --prometheus: a port in use is reported, exit 1', { timeout: 20_000 }, async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as AddressInfo).port;
  try {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [cli, 'stats', '--prometheus', `127.0.0.1:${port}`, '-n', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('exit', (code) => resolve({ code, stderr }));
    });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `xlio stats: --prometheus 127.0.0.1:${port}: EADDRINUSE\n`);
  } finally {
    busy.close();
  }
});

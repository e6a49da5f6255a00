// TCP at scale between two stacks on the simulator: 100,000 concurrent IPv4 connections
// (spread over four listening ports, since one client address has only the 28,232
// ephemeral ports 32768–60999 per destination port), all ESTABLISHED at the same time on
// both sides, every one carrying checked bytes each way, then all closed in an orderly way:
// the clients (active closers) sit in TIME-WAIT, the servers reach CLOSED, and 60 s of
// simulated time later both connection tables are empty. The link is lossless, so any
// retransmission or RST is a bug. Work is done in batches so memory stays bounded (the
// accept queue holds at most 4096, and every connection with bytes in flight holds a buffer).

import assert from 'node:assert/strict';
import { simTest } from '../support/sim.js';
import { twoStacks } from '../support/stacks.js';
import { ipv4 } from '../../src/wire/address.js';
import { TcpState, type TcpConnection } from '../../src/stack/tcp/connection.js';

const A = ipv4('198.18.0.1');
const B = ipv4('198.18.0.2');
const CONNECTIONS = Number(process.env['XLIO_SCALE_CONNECTIONS'] ?? 100_000);
const PORTS = [5001, 5002, 5003, 5004];
/**
 * Connections acted on per turn (opened, exchanging data, closing): well inside the 4096
 * backlog, and few buffers held at once. Also small because the timer wheel's next()
 * rescans a whole slot each time the earliest timer of a slot is disarmed, and a batch's
 * retransmission timers share a slot: a turn costs O(BATCH²) there.
 */
const BATCH = Number(process.env['XLIO_SCALE_BATCH'] ?? 1000);
const REQUEST = 8;
const REPLY = 12;

/** What client i sends (8 bytes) and what its server answers (12 bytes): both depend on i. */
function request(i: number, out: Uint8Array): Uint8Array {
  const v = new DataView(out.buffer, out.byteOffset, REQUEST);
  v.setUint32(0, i);
  v.setUint32(4, Math.imul(i, 0x9e3779b1) >>> 0);
  return out.subarray(0, REQUEST);
}
function reply(i: number, out: Uint8Array): Uint8Array {
  const v = new DataView(out.buffer, out.byteOffset, REPLY);
  v.setUint32(0, ~i >>> 0);
  v.setUint32(4, Math.imul(i ^ 0x5bd1e995, 0x85ebca6b) >>> 0);
  v.setUint32(8, i);
  return out.subarray(0, REPLY);
}

function countStates(conns: readonly TcpConnection[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of conns) m.set(c.state, (m.get(c.state) ?? 0) + 1);
  return m;
}

simTest(`tcp scale: ${CONNECTIONS.toLocaleString('en')} concurrent connections open, carry checked data both ways, close cleanly and leave empty tables`, (t, seed) => {
  const t0 = performance.now();
  const env = twoStacks(seed, { delayUs: 20 });
  const { a, b, settle } = env;
  // Static neighbours: the first burst of SYNs would otherwise overflow ARP's queue of 101
  // packets per unresolved neighbour (unres_qlen, as Linux) and wait 1 s for its SYN retry.
  a.addNeighbor(B, Uint8Array.of(2, 0, 0, 0, 0, 2));
  b.addNeighbor(A, Uint8Array.of(2, 0, 0, 0, 0, 1));
  const listeners = PORTS.map((p) => b.tcp.listen(4, 0, p, 4096));
  const clients: TcpConnection[] = new Array<TcpConnection>(CONNECTIONS);
  /** Server side of client i, found by (listener index, client port). */
  const servers: TcpConnection[] = new Array<TcpConnection>(CONNECTIONS);
  const byTuple = new Int32Array(PORTS.length << 16).fill(-1);

  // 1. Open: every connection is accepted, none is refused, none falls back to a SYN cookie.
  for (let first = 0; first < CONNECTIONS; first += BATCH) {
    const last = Math.min(CONNECTIONS, first + BATCH);
    for (let i = first; i < last; i++) {
      const c = a.tcp.connect(B, PORTS[i % PORTS.length]!);
      clients[i] = c;
      const key = ((i % PORTS.length) << 16) | c.localPort;
      assert.equal(byTuple[key], -1, `4-tuple of client ${i} reused`);
      byTuple[key] = i;
    }
    settle(1_000); // 20 µs each way: the handshakes are done long before
    for (let k = 0; k < listeners.length; k++) {
      for (let s = listeners[k]!.accept(); s !== null; s = listeners[k]!.accept()) {
        const i = byTuple[(k << 16) | s.remotePort]!;
        assert.ok(i >= first && i < last, `accepted a connection of client port ${s.remotePort} on port ${PORTS[k]} that was not opened in this batch`);
        assert.equal(servers[i], undefined, 'accepted twice');
        servers[i] = s;
      }
    }
    for (let i = first; i < last; i++) {
      if (servers[i] === undefined || clients[i]!.state !== TcpState.Established) {
        assert.fail(`client ${i} (port ${clients[i]!.localPort} → ${PORTS[i % PORTS.length]}) is ${clients[i]!.state}${servers[i] ? '' : ', never accepted'}`);
      }
    }
  }
  // Each side sees the other offer an open window, and no more than the other can take
  // (RFC 7323 §2.2: the window of a SYN or SYN-ACK is not scaled; §2.3: later ones are).
  const badWindows: string[] = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const c = clients[i]!.info(), s = servers[i]!.info();
    if (!(s.sndWnd > 0 && s.sndWnd <= c.rcvWnd && c.sndWnd > 0 && c.sndWnd <= s.rcvWnd)) {
      badWindows.push(`client ${i} offers ${s.sndWnd} (has room for ${c.rcvWnd}), its server offers ${c.sndWnd} (has room for ${s.rcvWnd})`);
    }
  }
  assert.deepEqual(badWindows.slice(0, 5), [], `${badWindows.length} connections offer a window that is closed or larger than the receiver's room`);
  const opened = performance.now();
  assert.equal(a.tcp.size, CONNECTIONS, 'client table');
  assert.equal(b.tcp.size, CONNECTIONS, 'server table');
  assert.deepEqual([...countStates(clients)], [[TcpState.Established, CONNECTIONS]], 'every client ESTABLISHED at once');
  assert.deepEqual([...countStates(servers)], [[TcpState.Established, CONNECTIONS]], 'every server ESTABLISHED at once');
  for (const l of listeners) {
    assert.equal(l.cookiesSent, 0, 'no SYN cookies');
    assert.equal(l.overflows, 0, 'no accept-queue overflow');
  }

  // 2. Data: a request each way per connection, checked byte for byte, in batches.
  const out = new Uint8Array(16), want = new Uint8Array(16), got = new Uint8Array(64);
  for (let first = 0; first < CONNECTIONS; first += BATCH) {
    const last = Math.min(CONNECTIONS, first + BATCH);
    for (let i = first; i < last; i++) assert.equal(clients[i]!.write(request(i, out)), REQUEST);
    settle(1_000);
    for (let i = first; i < last; i++) {
      const s = servers[i]!;
      const n = s.read(got);
      assert.equal(n, REQUEST, `server of client ${i} read ${n} bytes`);
      assert.deepEqual(got.subarray(0, n), request(i, want), `request of client ${i}`);
      assert.equal(s.write(reply(i, out)), REPLY);
    }
    settle(1_000);
    for (let i = first; i < last; i++) {
      const n = clients[i]!.read(got);
      assert.equal(n, REPLY, `client ${i} read ${n} bytes`);
      assert.deepEqual(got.subarray(0, n), reply(i, want), `reply to client ${i}`);
    }
  }
  settle(100_000); // delayed ACKs of the replies go out
  let bytesAcked = 0, bytesReceived = 0, retransmits = 0;
  for (let i = 0; i < CONNECTIONS; i++) {
    const c = clients[i]!, s = servers[i]!;
    bytesAcked += c.bytesAcked + s.bytesAcked;
    bytesReceived += c.bytesReceived + s.bytesReceived;
    retransmits += c.totalRetransmits + s.totalRetransmits;
  }
  assert.equal(bytesReceived, CONNECTIONS * (REQUEST + REPLY));
  assert.equal(bytesAcked, CONNECTIONS * (REQUEST + REPLY), 'every byte acknowledged');
  assert.equal(retransmits, 0, 'no retransmission on a lossless link');
  const exchanged = performance.now();

  // 3. Close: the clients close first (FIN_WAIT → TIME_WAIT), the servers see end of stream and close (LAST_ACK → CLOSED).
  for (let first = 0; first < CONNECTIONS; first += BATCH) {
    const last = Math.min(CONNECTIONS, first + BATCH);
    for (let i = first; i < last; i++) clients[i]!.close();
    settle(1_000);
  }
  settle(50_000); // a FIN received in ESTABLISHED is ACKed after the delayed-ACK time, as Linux's tcp_fin does
  for (let first = 0; first < CONNECTIONS; first += BATCH) {
    const last = Math.min(CONNECTIONS, first + BATCH);
    for (let i = first; i < last; i++) {
      assert.equal(clients[i]!.state, TcpState.FinWait2, 'the client waits for its server\'s FIN');
      assert.equal(servers[i]!.state, TcpState.CloseWait);
      assert.equal(servers[i]!.read(got), 0, 'end of stream');
      servers[i]!.close();
    }
    settle(1_000);
  }
  assert.deepEqual([...countStates(servers)], [[TcpState.Closed, CONNECTIONS]], 'servers CLOSED after their FIN is acknowledged');
  assert.deepEqual([...countStates(clients)], [[TcpState.TimeWait, CONNECTIONS]], 'clients in TIME_WAIT');
  assert.equal(b.tcp.size, 0, 'server table empty');
  assert.equal(a.tcp.size, CONNECTIONS, 'client table holds the TIME_WAIT connections');
  assert.equal(a.tcp.counters.resetsOut + b.tcp.counters.resetsOut, 0, 'no RST');
  for (let i = 0; i < CONNECTIONS; i++) {
    assert.equal(clients[i]!.error, null);
    assert.equal(servers[i]!.error, null);
  }
  settle(59_000_000);
  assert.equal(a.tcp.size, CONNECTIONS, 'TIME_WAIT lasts 60 s');
  settle(2_000_000);
  assert.deepEqual([...countStates(clients)], [[TcpState.Closed, CONNECTIONS]]);
  assert.equal(a.tcp.size, 0, 'client table empty after TIME_WAIT');
  assert.equal(b.tcp.size, 0);
  assert.equal(a.tcp.wheel.size + b.tcp.wheel.size, 0, 'no timer left armed');
  const done = performance.now();
  const mem = process.memoryUsage();
  t.diagnostic(`open ${((opened - t0) / 1000).toFixed(1)} s, data ${((exchanged - opened) / 1000).toFixed(1)} s, close ${((done - exchanged) / 1000).toFixed(1)} s; ` +
    `frames ${env.link.ab.counters.sent + env.link.ba.counters.sent}; rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB`);
});

// The "os" transport: Node's net and dgram over the kernel, event-driven, the way a Node
// program would write a sockperf peer. libuv's loop waits in epoll, so -F does not apply.

import dgram from 'node:dgram';
import net from 'node:net';
import { StreamFramer, type MessageSink } from './framer.js';
import { HEADER_SIZE, readLength } from './message.js';
import { PerfClientCore, PerfServerCore, type ServerCounters } from './roles.js';
import { DRAIN_US, REPLY_TIMEOUT_US, type ClientConfig, type ClientOutcome, type PerfServerHandle, type PerfTransport, type ServerConfig } from './transport.js';

const nowUs = (): number => performance.now() * 1000;

export class OsTransport implements PerfTransport {
  readonly impl = 'os' as const;

  startServer(cfg: ServerConfig): Promise<PerfServerHandle> {
    return cfg.proto === 'tcp' ? tcpServer(cfg) : udpServer(cfg);
  }

  runClient(cfg: ClientConfig): Promise<ClientOutcome> {
    return new OsClient(cfg).run();
  }
}

// ---------------------------------------------------------------------------------------
// Server

/** Collects the replies to one 'data' chunk, so they go out in one write. */
class ReplyBatch implements MessageSink {
  out = Buffer.allocUnsafe(1 << 16);
  len = 0;
  constructor(private readonly core: PerfServerCore) {}
  onMessage(bytes: Uint8Array, off: number, len: number): void {
    if (!this.core.handle(bytes, off, len)) return;
    if (this.len + len > this.out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.len + len));
      bigger.set(this.out.subarray(0, this.len));
      this.out = bigger;
    }
    this.out.set(bytes.subarray(off, off + len), this.len);
    this.len += len;
  }
}

function tcpServer(cfg: ServerConfig): Promise<PerfServerHandle> {
  const core = new PerfServerCore();
  const open = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (sock) => {
    core.connections++;
    open.add(sock);
    const framer = new StreamFramer(0);
    const batch = new ReplyBatch(core);
    sock.on('data', (chunk: Buffer) => {
      const ok = framer.push(chunk, 0, chunk.length, batch);
      if (batch.len > 0) {
        sock.write(Buffer.from(batch.out.subarray(0, batch.len)));
        batch.len = 0;
      }
      // sockperf closes a connection whose message is larger than it accepts.
      if (!ok) sock.destroy();
    });
    sock.on('error', () => {});
    sock.on('close', () => open.delete(sock));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', reject);
      const a = server.address() as net.AddressInfo;
      resolve({
        host: a.address,
        port: a.port,
        counters: () => core.counters(),
        close: () =>
          new Promise<ServerCounters>((done) => {
            for (const s of open) s.destroy();
            server.close(() => done(core.counters()));
          }),
      });
    });
  });
}

function udpServer(cfg: ServerConfig): Promise<PerfServerHandle> {
  const core = new PerfServerCore();
  const sock = dgram.createSocket(net.isIPv6(cfg.host) ? 'udp6' : 'udp4');
  sock.on('message', (msg, rinfo) => {
    if (msg.length < HEADER_SIZE) {
      core.ignored++;
      return;
    }
    // sockperf answers with the header's length of bytes.
    const len = Math.min(readLength(msg, 0), msg.length);
    if (core.handle(msg, 0, len)) sock.send(msg, 0, len, rinfo.port, rinfo.address);
  });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(cfg.port, cfg.host, () => {
      sock.off('error', reject);
      sock.on('error', () => {});
      const a = sock.address();
      resolve({
        host: a.address,
        port: a.port,
        counters: () => core.counters(),
        close: () => new Promise<ServerCounters>((done) => sock.close(() => done(core.counters()))),
      });
    });
  });
}

// ---------------------------------------------------------------------------------------
// Client

/** Messages per write when streaming: about 64 KiB over TCP; 64 datagrams per batch over UDP. */
function messagesPerWrite(msgSize: number, tcp: boolean): number {
  return tcp ? Math.max(1, Math.floor(65536 / msgSize)) : 64;
}

class OsClient implements MessageSink {
  private readonly core: PerfClientCore;
  private readonly framer = new StreamFramer(0);
  private tcp: net.Socket | null = null;
  private udp: dgram.Socket | null = null;
  /** The ping-pong burst, reused (a reply proves the previous write left). */
  private readonly burstBuf: Buffer;
  private startUs = 0;
  private endUs = 0;
  private endAt = Infinity;
  private lastSendAt = 0;
  private sending = true;
  private done = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private resolve!: (o: ClientOutcome) => void;
  private reject!: (e: Error) => void;

  constructor(private readonly cfg: ClientConfig) {
    const expected = cfg.count > 0 ? cfg.count : 1 << 16;
    this.core = new PerfClientCore(cfg.msgSize, cfg.replyEvery, cfg.replyEvery > 0 ? Math.ceil(expected / cfg.replyEvery) : 1024);
    this.burstBuf = Buffer.alloc(cfg.msgSize * cfg.burst);
    for (let i = 0; i < cfg.burst; i++) this.burstBuf.set(this.core.msg, i * cfg.msgSize);
  }

  run(): Promise<ClientOutcome> {
    return new Promise<ClientOutcome>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      const { cfg } = this;
      if (cfg.proto === 'tcp') {
        const s = net.connect({ host: cfg.host, port: cfg.port, noDelay: cfg.mode !== 'throughput' });
        this.tcp = s;
        s.once('connect', () => this.start());
        s.on('data', (chunk: Buffer) => {
          this.core.now = nowUs();
          if (!this.framer.push(chunk, 0, chunk.length, this)) this.fail(new Error('the server sent a message with an impossible length'));
        });
        s.on('error', (e) => this.fail(e));
        s.on('close', () => this.fail(new Error('the server closed the connection')));
      } else {
        const s = dgram.createSocket(net.isIPv6(cfg.host) ? 'udp6' : 'udp4');
        this.udp = s;
        s.on('message', (msg) => {
          this.core.now = nowUs();
          if (msg.length >= HEADER_SIZE) this.onMessage(msg, 0, msg.length);
        });
        s.on('error', (e) => this.fail(e));
        s.connect(cfg.port, cfg.host, () => this.start());
      }
    });
  }

  private start(): void {
    this.startUs = nowUs();
    if (this.cfg.count === 0) this.endAt = this.startUs + this.cfg.seconds * 1e6;
    // A slow tick: UDP ping-pong loss recovery, and the end of the test if no reply comes.
    this.timer = setInterval(() => this.tick(), 20);
    if (this.cfg.mode === 'ping-pong') this.sendBurst();
    else this.stream();
  }

  private stopSending(now: number): void {
    if (!this.sending) return;
    this.sending = false;
    this.endUs = now;
    if (this.core.outstanding === 0) this.finish();
  }

  private tick(): void {
    const now = nowUs();
    if (this.sending && now >= this.endAt) this.stopSending(now);
    if (!this.sending) {
      if (now - this.endUs >= DRAIN_US) this.finish();
      return;
    }
    // Only a datagram can be lost: a TCP reply that is late is still on its way (sockperf waits for it).
    if (this.udp !== null && this.cfg.mode === 'ping-pong' && this.core.outstanding > 0 && now - this.lastSendAt > REPLY_TIMEOUT_US) {
      this.core.abandon();
      this.sendBurst();
    }
  }

  // ping-pong: a burst, then wait for every reply
  private sendBurst(): void {
    const { cfg, core } = this;
    const now = nowUs();
    if (now >= this.endAt || (cfg.count > 0 && core.sent >= cfg.count)) return this.stopSending(now);
    if (cfg.mps > 0) {
      const at = this.startUs + (core.sent * 1e6) / cfg.mps;
      if (now < at) {
        const ms = (at - now) / 1000;
        if (ms >= 1) setTimeout(() => this.sendBurst(), Math.floor(ms));
        else setImmediate(() => this.sendBurst());
        return;
      }
    }
    const n = cfg.count > 0 ? Math.min(cfg.burst, cfg.count - core.sent) : cfg.burst;
    for (let i = 0; i < n; i++) core.stamp(this.burstBuf, i * cfg.msgSize, now);
    this.lastSendAt = now;
    const bytes = n === cfg.burst ? this.burstBuf : this.burstBuf.subarray(0, n * cfg.msgSize);
    if (this.tcp !== null) this.tcp.write(bytes);
    else for (let i = 0; i < n; i++) this.udp!.send(bytes.subarray(i * cfg.msgSize, (i + 1) * cfg.msgSize));
  }

  // throughput and under-load: send on a schedule (or flat out), replies come when they come
  private stream(): void {
    if (!this.sending || this.done) return;
    const { cfg, core } = this;
    const now = nowUs();
    if (now >= this.endAt || (cfg.count > 0 && core.sent >= cfg.count)) return this.stopSending(now);
    const per = messagesPerWrite(cfg.msgSize, this.tcp !== null);
    // Flat out: TCP fills the socket until write() says wait; UDP sends one batch per turn of the loop.
    let due = cfg.mps > 0 ? Math.floor(((now - this.startUs) * cfg.mps) / 1e6) + 1 - core.sent : this.tcp !== null ? per * 16 : per;
    if (cfg.count > 0) due = Math.min(due, cfg.count - core.sent);
    let writable = true;
    while (due > 0 && writable) {
      const n = Math.min(due, per);
      const buf = Buffer.allocUnsafe(n * cfg.msgSize); // a write keeps its buffer: a fresh one each time
      for (let i = 0; i < n; i++) {
        buf.set(core.msg, i * cfg.msgSize);
        core.stamp(buf, i * cfg.msgSize, now);
      }
      due -= n;
      this.lastSendAt = now;
      if (this.tcp !== null) writable = this.tcp.write(buf);
      else {
        // Flat out, dgram queues sends in libuv: the last send's callback continues, once the queue drained.
        const last = cfg.mps === 0 && due === 0 ? n - 1 : -1;
        for (let i = 0; i < n; i++) this.udp!.send(buf.subarray(i * cfg.msgSize, (i + 1) * cfg.msgSize), i === last ? this.next : undefined);
        if (last >= 0) return;
      }
    }
    if (this.tcp !== null && !writable) this.tcp.once('drain', this.next);
    else if (cfg.mps > 0) {
      const nextAt = this.startUs + ((core.sent + 1) * 1e6) / cfg.mps;
      const ms = (nextAt - nowUs()) / 1000;
      if (ms >= 1) setTimeout(() => this.stream(), Math.floor(ms));
      else setImmediate(() => this.stream());
    } else setImmediate(this.next);
  }

  private readonly next = (): void => this.stream();

  onMessage(bytes: Uint8Array, off: number, len: number): void {
    const before = this.core.received;
    this.core.onMessage(bytes, off, len);
    if (this.core.received === before || this.core.outstanding !== 0 || this.done) return;
    if (!this.sending) this.finish();
    else if (this.cfg.mode === 'ping-pong') this.sendBurst();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== null) clearInterval(this.timer);
    const r = this.core.recorder;
    const outcome: ClientOutcome = { counters: this.core.counters(this.startUs, this.endUs), tx: r.tx.subarray(0, r.count), rtt: r.rtt.subarray(0, r.count), samples: r.count };
    if (this.tcp !== null) {
      this.tcp.removeAllListeners('close');
      this.tcp.on('error', () => {});
      this.tcp.end();
      this.tcp.destroySoon();
    }
    if (this.udp !== null) this.udp.close();
    this.resolve(outcome);
  }

  private fail(e: Error): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.tcp?.destroy();
    if (this.udp !== null) {
      try {
        this.udp.close();
      } catch {
        /* already closed */
      }
    }
    this.reject(e);
  }
}

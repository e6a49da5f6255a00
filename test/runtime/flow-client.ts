// The wire side of worker-mode tests: a client stack (198.18.0.2) on the device port of a
// worker pool's NIC, driven by a PollLoop on the main thread. It opens many UDP and TCP flows
// to the workers' echo servers (echo-app.ts, 198.18.0.1) and checks every reply; all socket
// calls are non-blocking, made from the loop's rounds.

import { Errno, errnoName } from '../../src/errno.js';
import { ShmRssDevice, rssQueue, type ShmRssShared } from '../../src/link/shm-rss.js';
import { SeededRng } from '../../src/rng.js';
import { PollLoop } from '../../src/runtime/poll-loop.js';
import { AF_INET, SHUT_WR, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_STREAM } from '../../src/socket/constants.js';
import { LinkDriver } from '../../src/socket/drivers.js';
import { Sockets } from '../../src/socket/sockets.js';
import { SockAddr } from '../../src/socket/types.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4 } from '../../src/wire/address.js';

export const SERVER_IP = '198.18.0.1';
export const CLIENT_IP = '198.18.0.2';
export const ECHO_PORT = 7;
const UDP_LEN = 48;

/** The queue RSS picks for an IPv4 TCP/UDP flow: built from a minimal frame of that 5-tuple. */
export function expectedQueue(proto: 6 | 17, src: string, srcPort: number, dst: string, dstPort: number, queues: number): number {
  const f = new Uint8Array(14 + 20 + 20);
  f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
  const ip = 14;
  f[ip] = 0x45;
  const total = 20 + (proto === 6 ? 20 : 8);
  f[ip + 2] = total >> 8;
  f[ip + 3] = total & 0xff;
  f[ip + 8] = 64;
  f[ip + 9] = proto;
  const dv = new DataView(f.buffer);
  dv.setUint32(ip + 12, ipv4(src));
  dv.setUint32(ip + 16, ipv4(dst));
  dv.setUint16(ip + 20, srcPort);
  dv.setUint16(ip + 22, dstPort);
  return rssQueue(f, 0, 14 + total, queues);
}

interface UdpFlow {
  fd: number;
  port: number;
  sent: number;
  got: number;
  /** The worker that answered (from the reply's tag); −1 until the first reply. */
  worker: number;
}

interface TcpFlow {
  fd: number;
  port: number;
  sent: number;
  got: number;
  shut: boolean;
  eof: boolean;
}

export interface FlowPlan {
  udpFlows: number;
  udpPerFlow: number;
  tcpFlows: number;
  tcpBytes: number;
}

export class FlowClient {
  readonly stack: Stack;
  readonly device: ShmRssDevice;
  readonly driver: LinkDriver;
  readonly api: Sockets;
  readonly loop: PollLoop;
  readonly udp: UdpFlow[] = [];
  readonly tcp: TcpFlow[] = [];
  error: string | null = null;
  private readonly buf = new Uint8Array(65536);
  private readonly server: SockAddr;
  private resolve: (() => void) | null = null;

  constructor(
    rss: ShmRssShared,
    private readonly plan: FlowPlan,
  ) {
    this.stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 2), rng: new SeededRng(99), ipv6: false });
    this.device = new ShmRssDevice(rss);
    this.stack.attach(this.device);
    this.stack.addAddress(ipv4(CLIENT_IP), 24);
    this.driver = new LinkDriver(this.stack, this.device);
    this.api = new Sockets(this.stack, { driver: this.driver });
    this.loop = new PollLoop(this.driver, { rxPoll: 200, onRound: () => this.step() });
    this.server = SockAddr.inet(ipv4(SERVER_IP), ECHO_PORT);
  }

  private fail(what: string): void {
    this.error ??= what;
  }

  private ok(what: string, r: number): number {
    if (r < 0) this.fail(`${what}: ${errnoName(r)}`);
    return r;
  }

  /** Opens every flow, runs the loop until every reply is in (or `timeoutMs`), then stops it. */
  async run(timeoutMs: number): Promise<void> {
    const api = this.api;
    for (let i = 0; i < this.plan.udpFlows; i++) {
      const fd = this.ok('udp socket', api.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK));
      this.ok('bind', api.bind(fd, SockAddr.inet(ipv4(CLIENT_IP), 20000 + i)));
      this.udp.push({ fd, port: 20000 + i, sent: 0, got: 0, worker: -1 });
    }
    for (let i = 0; i < this.plan.tcpFlows; i++) {
      const fd = this.ok('tcp socket', api.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK));
      this.ok('bind', api.bind(fd, SockAddr.inet(ipv4(CLIENT_IP), 30000 + i)));
      const r = api.connect(fd, this.server);
      if (r !== -Errno.EINPROGRESS && r !== 0) this.fail(`connect: ${errnoName(r)}`);
      this.tcp.push({ fd, port: 30000 + i, sent: 0, got: 0, shut: false, eof: false });
    }
    const done = new Promise<void>((r) => (this.resolve = r));
    const running = this.loop.start();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.loop.stop();
    await running;
    if (!this.finished()) this.fail(`not finished within ${timeoutMs} ms: ${this.progress()}`);
  }

  progress(): string {
    const u = this.udp.reduce((a, f) => a + f.got, 0);
    const t = this.tcp.reduce((a, f) => a + f.got, 0);
    return `udp replies ${u}/${this.plan.udpFlows * this.plan.udpPerFlow}, tcp bytes ${t}/${this.plan.tcpFlows * this.plan.tcpBytes}, device ring drops ${this.device.port.txDrops}`;
  }

  private finished(): boolean {
    return this.udp.every((f) => f.got === this.plan.udpPerFlow) && this.tcp.every((f) => f.eof && f.got === this.plan.tcpBytes);
  }

  /** One client round: send what the windows allow, take replies. */
  private step(): boolean {
    const api = this.api;
    const buf = this.buf;
    let did = false;
    for (const f of this.udp) {
      // A window of 4 datagrams per flow: the rings never overflow.
      while (f.sent < this.plan.udpPerFlow && f.sent - f.got < 4) {
        const d = buf.subarray(0, UDP_LEN);
        d.fill(f.sent & 0xff);
        d[1] = f.port & 0xff;
        this.ok('sendto', api.sendto(f.fd, d, 0, this.server));
        f.sent++;
        did = true;
      }
      for (;;) {
        const n = api.recv(f.fd, buf, 0);
        if (n === -Errno.EAGAIN) break;
        did = true;
        if (n !== UDP_LEN || buf[1] !== (f.port & 0xff) || buf[2] !== (f.got & 0xff)) this.fail(`flow ${f.port}: bad reply ${n} bytes [${buf.subarray(0, 3).join(',')}], expected #${f.got}`);
        if (f.worker === -1) f.worker = buf[0]!;
        else if (buf[0] !== f.worker) this.fail(`flow ${f.port}: answered by worker ${buf[0]} after worker ${f.worker}`);
        f.got++;
      }
    }
    for (const f of this.tcp) {
      while (f.sent < this.plan.tcpBytes) {
        const k = Math.min(4096, this.plan.tcpBytes - f.sent);
        for (let i = 0; i < k; i++) buf[i] = (f.port + f.sent + i) & 0xff;
        const w = api.send(f.fd, buf.subarray(0, k), 0);
        if (w === -Errno.EAGAIN || w === -Errno.ENOTCONN) break;
        if (this.ok('send', w) < 0) break;
        f.sent += w;
        did = true;
      }
      if (f.sent === this.plan.tcpBytes && !f.shut && f.got === f.sent) {
        this.ok('shutdown', api.shutdown(f.fd, SHUT_WR));
        f.shut = true;
      }
      while (!f.eof) {
        const n = api.recv(f.fd, buf, 0);
        if (n === -Errno.EAGAIN || n === -Errno.ENOTCONN) break;
        if (this.ok('recv', n) < 0) break;
        did = true;
        if (n === 0) {
          f.eof = true;
          api.close(f.fd);
          break;
        }
        for (let i = 0; i < n; i++) if (buf[i] !== ((f.port + f.got + i) & 0xff)) this.fail(`tcp flow ${f.port}: byte ${f.got + i} corrupted`);
        f.got += n;
      }
    }
    if (this.resolve !== null && (this.error !== null || this.finished())) {
      this.resolve();
      this.resolve = null;
    }
    return did;
  }
}

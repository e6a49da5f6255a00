// The kernel side of test/interop/multicast.test.ts: a Node dgram socket in the kernel
// host's namespace that receives or sends multicast and broadcast datagrams.
//
//   node mcast-peer.js recv '{"family":4,"bind":"0.0.0.0","port":5000,"join":["239.1.2.3","198.18.0.2"],"broadcast":true,"count":3,"ms":4000}'
//     prints "ready", then one JSON line per datagram {from, port, data (base64)}, then
//     "done N" after `count` datagrams or `ms` milliseconds, whichever comes first.
//   node mcast-peer.js send '{"family":6,"bind":"fd00::2","to":"ff15::1:2","port":5000,"iface":"::%veth0","hops":2,"payloads":["base64",…]}'
//     sends each payload (50 ms apart), prints "sent N", exits.

import dgram from 'node:dgram';

interface RecvConfig {
  family: 4 | 6;
  bind: string;
  port: number;
  /** [group, interface] for addMembership. */
  join?: [string, string];
  broadcast?: boolean;
  count: number;
  ms: number;
}

interface SendConfig {
  family: 4 | 6;
  /** The source address (also picks the device for multicast and 255.255.255.255: ip_route_output_key_hash_rcu). */
  bind: string;
  to: string;
  port: number;
  /** setMulticastInterface. */
  iface?: string;
  /** IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS. */
  hops?: number;
  broadcast?: boolean;
  payloads: string[];
}

const [mode, json] = process.argv.slice(2);
if (json === undefined) throw new Error('usage: mcast-peer recv|send JSON');

if (mode === 'recv') {
  const c = JSON.parse(json) as RecvConfig;
  const s = dgram.createSocket({ type: c.family === 4 ? 'udp4' : 'udp6', ipv6Only: c.family === 6 });
  let n = 0;
  const finish = (): void => {
    process.stdout.write(`done ${n}\n`);
    s.close();
  };
  const timer = setTimeout(finish, c.ms);
  s.on('message', (msg, rinfo) => {
    process.stdout.write(`${JSON.stringify({ from: rinfo.address, port: rinfo.port, data: msg.toString('base64') })}\n`);
    if (++n >= c.count) {
      clearTimeout(timer);
      finish();
    }
  });
  s.bind(c.port, c.bind, () => {
    if (c.broadcast === true) s.setBroadcast(true);
    if (c.join !== undefined) s.addMembership(c.join[0], c.join[1]);
    process.stdout.write('ready\n');
  });
} else if (mode === 'send') {
  const c = JSON.parse(json) as SendConfig;
  const s = dgram.createSocket({ type: c.family === 4 ? 'udp4' : 'udp6', ipv6Only: c.family === 6 });
  s.bind(0, c.bind, () => {
    if (c.broadcast === true) s.setBroadcast(true);
    if (c.iface !== undefined) s.setMulticastInterface(c.iface);
    if (c.hops !== undefined) s.setMulticastTTL(c.hops);
    let i = 0;
    const next = (): void => {
      if (i >= c.payloads.length) {
        process.stdout.write(`sent ${i}\n`);
        s.close();
        return;
      }
      s.send(Buffer.from(c.payloads[i++]!, 'base64'), c.port, c.to, (err) => {
        if (err) {
          process.stderr.write(`send to ${c.to}: ${err.message}\n`);
          process.exit(1);
        }
        setTimeout(next, 50);
      });
    };
    next();
  });
} else throw new Error(`unknown mode ${mode}`);

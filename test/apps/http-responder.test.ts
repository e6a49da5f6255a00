// The HTTP responder on xlio-ts sockets, fetched by an xlio-ts client over a shared-memory
// link (curl fetches it over real links in test/interop): routes, keep-alive and pipelining,
// HEAD, and the error statuses.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { HttpResponder, responderByte } from '../../src/apps/http-responder.js';
import { ShmLink } from '../../src/link/shm-link.js';
import * as K from '../../src/socket/constants.js';
import { SockAddr } from '../../src/socket/types.js';
import { ipv4 } from '../../src/wire/address.js';
import { WireHost } from '../support/wire-host.js';

function hosts(): { server: WireHost; client: WireHost } {
  const shared = ShmLink.pair(1 << 20, 1500);
  const link = (side: 'a' | 'b') => Object.assign(new ShmLink(shared, side), { close() {} });
  return {
    server: WireHost.start(link('a'), { mac: '02:00:00:00:00:01', addrs: ['198.18.0.1/24'], seed: 1 }),
    client: WireHost.start(link('b'), { mac: '02:00:00:00:00:02', addrs: ['198.18.0.2/24'], seed: 2 }),
  };
}

/** Reads from fd until `done(bytes so far)` or EOF; bounded by 10 s. */
async function readUntil(h: WireHost, fd: number, done: (got: Buffer) => boolean): Promise<Buffer> {
  const parts: Buffer[] = [];
  const buf = new Uint8Array(65536);
  const until = Date.now() + 10_000;
  let got = Buffer.alloc(0);
  while (!done(got) && Date.now() < until) {
    const n = await h.io.recv(fd, buf);
    if (n <= 0) break;
    parts.push(Buffer.from(buf.subarray(0, n)));
    got = Buffer.concat(parts);
  }
  return got;
}

/** Splits consecutive responses: [status, headers, body] each (Content-Length framed). */
function responses(data: Buffer, heads: boolean[]): { status: number; headers: string; body: Buffer }[] {
  const out = [];
  let at = 0;
  for (const head of heads) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const headers = data.subarray(at, end).toString('latin1');
    const len = Number(/Content-Length: (\d+)/.exec(headers)?.[1] ?? 0);
    const bodyLen = head ? 0 : len;
    out.push({ status: Number(headers.slice(9, 12)), headers, body: data.subarray(end + 4, end + 4 + bodyLen) });
    at = end + 4 + bodyLen;
  }
  return out;
}

function complete(heads: boolean[]): (d: Buffer) => boolean {
  return (d) => {
    const r = responses(d, heads);
    return r.length === heads.length && r.every((x, i) => heads[i] || x.body.length === Number(/Content-Length: (\d+)/.exec(x.headers)![1]));
  };
}

test('http responder: routes, pipelined keep-alive requests, HEAD, 404, 405, then 400 and close', { timeout: 30_000 }, async (t) => {
  const { server, client } = hosts();
  const responder = new HttpResponder(server.api, server.io);
  t.after(() => {
    responder.close();
    server.stop();
    client.stop();
  });
  responder.listen(SockAddr.inet(ipv4('198.18.0.1'), 8080));
  const serving = responder.serve();
  const fd = client.api.socket(K.AF_INET, K.SOCK_STREAM, 0);
  assert.equal(await client.io.connect(fd, SockAddr.inet(ipv4('198.18.0.1'), 8080)), 0);
  const N = 1_000_003;
  const reqs =
    'GET /hello HTTP/1.1\r\nHost: x\r\n\r\n' +
    `GET /bytes/${N} HTTP/1.1\r\nHost: x\r\n\r\n` +
    'HEAD /bytes/5 HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n' +
    'POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n';
  const heads = [false, false, true, false, false];
  assert.equal(await client.io.send(fd, new TextEncoder().encode(reqs)), reqs.length);
  const got = responses(await readUntil(client, fd, complete(heads)), heads);
  assert.deepEqual(
    got.map((r) => r.status),
    [200, 200, 200, 404, 405],
  );
  assert.equal(got[0]!.body.toString(), 'hello from xlio-ts\n');
  const expected = Uint8Array.from({ length: N }, (_, i) => responderByte(i));
  assert.equal(got[1]!.body.length, N);
  assert.equal(createHash('sha256').update(got[1]!.body).digest('hex'), createHash('sha256').update(expected).digest('hex'));
  assert.match(got[2]!.headers, /Content-Length: 5/);
  assert.match(got[4]!.headers, /Allow: GET, HEAD/);
  // Not HTTP: 400 with Connection: close, then EOF.
  await client.io.send(fd, new TextEncoder().encode('HELLO THERE\r\n\r\n'));
  const bad = await readUntil(client, fd, () => false);
  assert.match(bad.toString('latin1'), /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Connection: close\r\n/);
  assert.equal(client.api.close(fd), 0);
  // HTTP/1.0 without keep-alive: one response, then the server closes.
  const fd2 = client.api.socket(K.AF_INET, K.SOCK_STREAM, 0);
  assert.equal(await client.io.connect(fd2, SockAddr.inet(ipv4('198.18.0.1'), 8080)), 0);
  await client.io.send(fd2, new TextEncoder().encode('GET /hello HTTP/1.0\r\n\r\n'));
  const one = await readUntil(client, fd2, () => false);
  assert.match(one.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[\s\S]*Connection: close\r\n\r\nhello from xlio-ts\n$/);
  client.api.close(fd2);
  assert.equal(responder.counters.connections, 2);
  assert.equal(responder.counters.requests, 6);
  responder.close();
  await serving;
});

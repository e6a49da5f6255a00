// The xlio-ts perf server in a process of its own (`xlio perf` / `xlio demo` cross-process
// mode): started by XlioTransport with the name of a shared-memory segment its parent made
// (ShmLink.createNamed), it attaches side 'a' and runs the usual server worker on it. The
// parent talks to it over the IPC channel: it forwards the worker's 'ready', 'done' and
// 'error' messages, and stops the server on 'stop' or when the parent goes away.
//   node xlio-proc-server.js NAME SERVER-CONFIG-JSON

import { Worker } from 'node:worker_threads';
import { ShmLink } from '../../link/shm-link.js';
import type { ServerConfig } from './transport.js';
import type { XlioWorkerData, XlioWorkerMessage } from './xlio-worker.js';

const [name, configJson] = process.argv.slice(2);
const send = (m: XlioWorkerMessage, then?: () => void): void => {
  if (process.send === undefined || !process.connected) return void then?.();
  process.send(m, undefined, {}, () => then?.());
};

if (name === undefined || configJson === undefined || process.send === undefined) {
  process.stderr.write('xlio-proc-server: usage: (forked with IPC) xlio-proc-server.js NAME SERVER-CONFIG-JSON\n');
  process.exit(2);
}

try {
  const server = JSON.parse(configJson) as ServerConfig;
  const link = ShmLink.openNamed(name, 'a');
  const control = new SharedArrayBuffer(8 + 4 * 8);
  const stop = (): void => void Atomics.store(new Int32Array(control, 0, 1), 0, 1);
  const data: XlioWorkerData = { role: 'server', shared: link.shared, control, server };
  const w = new Worker(new URL('./xlio-worker.js', import.meta.url), { workerData: data });
  w.on('message', (m: XlioWorkerMessage) => {
    if (m.type === 'done' || m.type === 'error') send(m, () => process.exit(m.type === 'done' ? 0 : 1));
    else send(m);
  });
  w.once('error', (e) => send({ type: 'error', message: e.message }, () => process.exit(1)));
  process.on('message', (m) => {
    if (m === 'stop') stop();
  });
  process.once('disconnect', stop); // the parent went away: stop, and exit when the worker is done
} catch (e) {
  send({ type: 'error', message: e instanceof Error ? e.message : String(e) }, () => process.exit(1));
}

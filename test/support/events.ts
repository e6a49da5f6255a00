// Waiting for and recording EventEmitter events in tests of the net drop-in (test/node).

import type { EventEmitter } from 'node:events';

/** `em`'s next `event` (rejects on 'error' first, or after `ms`). */
export function next(em: EventEmitter, event: string, ms = 3000): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for '${event}'`)), ms);
    const onErr = (e: unknown) => {
      clearTimeout(timer);
      em.off(event, on);
      reject(e);
    };
    const on = (...a: any[]) => {
      clearTimeout(timer);
      em.off('error', onErr);
      resolve(a);
    };
    em.once(event, on);
    if (event !== 'error' && event !== 'close') em.once('error', onErr);
  });
}

/** Appends each of `events` to `log` as it fires ('close:hadError', 'error:CODE', 'data:TEXT', 'drop:ARGC', else the name). */
export function record(em: EventEmitter, events: string[], log: string[] = [], prefix = ''): string[] {
  for (const ev of events) {
    em.on(ev, (...a: any[]) => {
      if (ev === 'close') log.push(`${prefix}close:${a[0]}`);
      else if (ev === 'error') log.push(`${prefix}error:${a[0]?.code}`);
      else if (ev === 'data') log.push(`${prefix}data:${String(a[0])}`);
      else if (ev === 'drop') log.push(`${prefix}drop:${a.length}`);
      else log.push(`${prefix}${ev}`);
    });
  }
  return log;
}

// The errno name an engine call throws, or undefined when it does not throw.

import { ErrnoError } from '../../src/errno.js';

export function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof ErrnoError) return e.code;
    throw e;
  }
  return undefined;
}

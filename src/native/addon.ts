// Loads the optional native addon (native/, built by `npm install` into
// build/Release/xlio_native.node). Everything that needs it asks nativeAddon() and, on
// null, explains itself with nativeUnavailableReason().
//
// XLIO_NO_NATIVE=1 (or any value but '' and '0') makes the addon unavailable, as if it had
// not been built: for testing the fallbacks, or to rule the addon out when debugging.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export type FutexWaitResult = 'ok' | 'not-equal' | 'timed-out';

/** The functions of build/Release/xlio_native.node (native/src/*.cc). */
export interface NativeAddon {
  /**
   * shm_open + mmap(MAP_SHARED) as a SharedArrayBuffer. `create`: a new segment of `bytes`
   * (O_EXCL: fails with code 'EEXIST' if the name is taken). Otherwise opens an existing one:
   * `bytes` 0 maps all of it. Errors carry the errno name in `code`.
   */
  shmOpen(name: string, bytes: number, create: boolean): SharedArrayBuffer;
  /** shm_unlink: removes the name; mappings stay valid. Throws with code 'ENOENT' if there is none. */
  shmUnlink(name: string): void;
  /** FUTEX_WAIT on the Int32 at `byteOffset` (4-aligned): blocks like Atomics.wait, but any process can wake it. */
  futexWait(sab: SharedArrayBuffer, byteOffset: number, expected: number, timeoutMs: number): FutexWaitResult;
  /** futexWait on a libuv threadpool thread, for the main thread. Keep `timeoutMs` short: it holds a pool thread. */
  futexWaitAsync(sab: SharedArrayBuffer, byteOffset: number, expected: number, timeoutMs: number): Promise<FutexWaitResult>;
  /** FUTEX_WAKE: wakes up to `count` futexWait(Async) waiters on that word, in any process; returns how many. */
  futexWake(sab: SharedArrayBuffer, byteOffset: number, count: number): number;

  // Frame ports (native/src/port.h): what the AF_PACKET, AF_XDP and TAP drivers open. Frame i
  // of a batch sits at i × stride in `buf`, its length in lens[i].
  /** Copies up to `max` received frames into buf; returns how many (0: none waiting). Never blocks. */
  portRecv(id: number, buf: Uint8Array, stride: number, lens: Uint32Array, max: number): number;
  /** Sends frames [first, first + count); returns how many the device accepted (it may wait ≈ 1 ms for ring space). */
  portSend(id: number, buf: Uint8Array, stride: number, lens: Uint32Array, first: number, count: number): number;
  /** Sleeps until frames may be waiting (true), or the timeout or portInterrupt (false). */
  portWait(id: number, timeoutMs: number): boolean;
  /** portWait on a libuv threadpool thread, for the main thread. */
  portWaitAsync(id: number, timeoutMs: number): Promise<boolean>;
  /** Ends the port's current wait (or its next one) with false. */
  portInterrupt(id: number): void;
  /** Closes the port; a wait in progress ends first. */
  portClose(id: number): void;
  /** The driver's counters. */
  portCounters(id: number): Record<string, number>;
  /** Enters the network namespace at `path` and leaves it again: throws what a driver opening there would. */
  netnsCheck(path: string): void;
}

const ADDON_FILE = 'build/Release/xlio_native.node';

let loaded: NativeAddon | null | undefined;
let reason: string | null = null;

/** The package root: the nearest directory above this module with a package.json (dist/src/native → ../../..). */
function packageRoot(): URL | null {
  let dir = new URL('.', import.meta.url);
  for (let i = 0; i < 5; i++) {
    if (existsSync(new URL('package.json', dir))) return dir;
    dir = new URL('..', dir);
  }
  return null;
}

function notBuilt(why: string): string {
  return `the native addon is not built: run npm install with a C++ compiler, make and python3 available (${why})`;
}

function load(): NativeAddon | null {
  const off = process.env['XLIO_NO_NATIVE'];
  if (off !== undefined && off !== '' && off !== '0') {
    reason = `the native addon is disabled by XLIO_NO_NATIVE=${off}`;
    return null;
  }
  const root = packageRoot();
  if (root === null) {
    reason = notBuilt(`no package.json above ${import.meta.url}`);
    return null;
  }
  const file = fileURLToPath(new URL(ADDON_FILE, root));
  if (!existsSync(file)) {
    let why = `${file} does not exist`;
    const failed = new URL('build/native-build-failed.txt', root);
    if (existsSync(failed)) why += `; the build failed: ${readFileSync(failed, 'utf8').trim()}`;
    reason = notBuilt(why);
    return null;
  }
  try {
    return createRequire(import.meta.url)(file) as NativeAddon;
  } catch (e) {
    reason = `the native addon did not load: run npm install again to rebuild it for this Node (${file}: ${(e as Error).message})`;
    return null;
  }
}

/** The addon, or null when it is not built, does not load, or XLIO_NO_NATIVE is set. Loaded once per thread. */
export function nativeAddon(): NativeAddon | null {
  if (loaded === undefined) loaded = load();
  return loaded;
}

/** Why nativeAddon() is null (a sentence for an error message), or null when it is available. */
export function nativeUnavailableReason(): string | null {
  return nativeAddon() === null ? reason : null;
}

/** The addon, or throws an Error saying that `feature` needs it and why it is not available. */
export function requireNativeAddon(feature: string): NativeAddon {
  const addon = nativeAddon();
  if (addon === null) throw new Error(`${feature} needs the native addon: ${nativeUnavailableReason()}`);
  return addon;
}

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
  /**
   * AF_PACKET on `ifname` (in the namespace at path `netns`) with TPACKET_V3 (or V2) receive and
   * transmit rings, as a frame port (native/src/packet.cc). Throws EPERM naming CAP_NET_RAW,
   * ENODEV naming the interface and namespace.
   */
  packetOpen(opts: {
    ifname: string;
    netns?: string;
    /** Frames per ring (RX and TX each); default 2048. */
    frames?: number;
    /** TX slot bytes, a power of two (raised to fit the MTU); default 2048. */
    frameSize?: number;
    /** Ring block bytes, a multiple of the page size and of frameSize; default 65536. */
    blockSize?: number;
    /** Milliseconds before the kernel hands over a partly filled RX block (V3 only); default 1. */
    retireMs?: number;
    /** TPACKET_V3 (default here: RX in blocks, handed over when full or after retireMs) or TPACKET_V2 (every frame handed over at once). */
    version?: 2 | 3;
    /** PACKET_QDISC_BYPASS; default true. */
    qdiscBypass?: boolean;
    /** PACKET_FANOUT: sockets of one group on one interface share its frames. */
    fanout?: { group: number; mode?: 'hash' | 'lb' | 'cpu' };
  }): { id: number; mac: Uint8Array; ifindex: number; mtu: number; frameSize: number; blockSize: number; rxBlocks: number; txFrames: number; version?: number };
  /**
   * Opens (creating it if needed) the TAP device `name` in the namespace at `netns`
   * (/run/netns/NAME; default: this one) as a frame port (IFF_TAP | IFF_NO_PI; IFF_MULTI_QUEUE
   * with `multiQueue`). The device goes away when the port closes. Errors carry the errno name
   * in `code` (EPERM: not root; ENOENT: no /dev/net/tun).
   */
  tapOpen(opts: { name: string; netns?: string; multiQueue?: boolean }): { id: number; name: string; ifindex: number; mtu: number };
  /**
   * AF_XDP on queue `queue` of `ifname` (in the namespace at path `netns`) as a frame port
   * (native/src/xdp.cc): an XSKMAP, a redirect program loaded with bpf(2) and attached with a
   * BPF link (detached when the port closes), a UMEM of `frames` chunks of `frameSize` bytes
   * and its four rings. mode 'auto' tries native XDP, then skb (generic); zeroCopy 'auto'
   * falls back to copy mode when the driver has no zero-copy ('on' throws then). Throws
   * EPERM naming CAP_BPF/CAP_NET_ADMIN/CAP_NET_RAW, ENODEV naming the interface and
   * namespace, EBUSY when another XDP program holds the interface.
   */
  xdpOpen(opts: {
    ifname: string;
    netns?: string;
    /** Default 0. */
    queue?: number;
    /** UMEM chunks, a power of two (half receive, half transmit); default 4096. */
    frames?: number;
    /** Default 2048. */
    frameSize?: 2048 | 4096;
    mode?: 'auto' | 'native' | 'skb';
    zeroCopy?: 'auto' | 'on' | 'off';
  }): { id: number; mac: Uint8Array; ifindex: number; mtu: number; mode: 'native' | 'skb'; zeroCopy: boolean };
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

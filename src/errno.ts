// Linux errno values (include/uapi/asm-generic/errno*.h), used by the engine and the
// socket layer so that errors read exactly as Linux reports them.

export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ENOSPC: 28,
  ESPIPE: 29,
  EPIPE: 32,
  EDOM: 33,
  ERANGE: 34,
  ENOSYS: 38,
  ELOOP: 40,
  EPROTO: 71,
  EBADFD: 77,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  ESOCKTNOSUPPORT: 94,
  EOPNOTSUPP: 95,
  EPFNOSUPPORT: 96,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ENETRESET: 102,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ESHUTDOWN: 108,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
} as const;
export type ErrnoName = keyof typeof Errno;

/** An error carrying a Linux errno, thrown by cold-path calls (bind, connect, …). */
export class ErrnoError extends Error {
  readonly errno: number;
  constructor(
    readonly code: ErrnoName,
    syscall: string,
  ) {
    super(`${syscall}: ${code}`);
    this.errno = Errno[code];
  }
}

const NAMES: string[] = [];
for (const [k, v] of Object.entries(Errno)) NAMES[v] = k;

/** The Linux name of an errno number (either sign: the socket API returns −errno), e.g. 11 → 'EAGAIN'. */
export function errnoName(n: number): string {
  return NAMES[n < 0 ? -n : n] ?? `E${n < 0 ? -n : n}`;
}

/** The number of an errno name, for code that returns −errno. */
export function errnoOf(name: ErrnoName): number {
  return Errno[name];
}

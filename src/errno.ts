// Linux errno values (include/uapi/asm-generic/errno*.h), used by the engine and the
// socket layer so that errors read exactly as Linux reports them.

export const Errno = {
  EPERM: 1,
  ESRCH: 3,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EFAULT: 14,
  ENODEV: 19,
  EEXIST: 17,
  EINVAL: 22,
  EMFILE: 24,
  EPIPE: 32,
  EPROTO: 71,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  ENOPROTOOPT: 92,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETUNREACH: 101,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ECONNREFUSED: 111,
  ETIMEDOUT: 110,
  EHOSTUNREACH: 113,
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

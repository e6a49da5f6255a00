#!/usr/bin/python3
"""Runs socket scenarios (test/diff/FORMAT.md) on the real Linux socket API.

stdin: JSON lines, one scenario each ({"name": ..., "steps": [[op, ...], ...]}).
stdout: one JSON line per scenario, {"name": ..., "trace": [entry, ...]}.

Every call goes straight to libc through ctypes (no Python socket objects), so the
kernel sees exactly the arguments the scenario describes and nothing is retried,
wrapped or closed behind the scenario's back. Run it inside a network namespace whose
loopback holds 198.18.0.1/32, 198.18.0.2/32, fd00::1/128 and fd00::2/128 (the test
support in test/support/kernel-oracle.ts does this).

Safety: every step runs under a 3 s interval timer (a step that does not return is
reported as {"err": "TIMEOUT"} and ends its scenario); every descriptor a scenario
opened is closed when it ends, also on failure, so the next scenario starts from the
same lowest free descriptor.
"""

import ctypes
import ctypes.util
import errno
import json
import os
import signal
import socket
import struct
import sys
import time

STEP_TIMEOUT_S = 3.0

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

# ---------------------------------------------------------------------------------------
# Linux numbers (mirrors src/socket/constants.ts)

AF = {"UNSPEC": 0, "UNIX": 1, "LOCAL": 1, "INET": 2, "INET6": 10, "PACKET": 17, "NETLINK": 16}
SOCK_TYPES = {"STREAM": 1, "DGRAM": 2, "RAW": 3, "RDM": 4, "SEQPACKET": 5, "PACKET": 10,
              "NONBLOCK": 0o4000, "CLOEXEC": 0o2000000}
O_NONBLOCK = 0o4000
O_CLOEXEC = 0o2000000

MSG = [("OOB", 0x1), ("PEEK", 0x2), ("DONTROUTE", 0x4), ("CTRUNC", 0x8), ("PROBE", 0x10),
       ("TRUNC", 0x20), ("DONTWAIT", 0x40), ("EOR", 0x80), ("WAITALL", 0x100), ("FIN", 0x200),
       ("SYN", 0x400), ("CONFIRM", 0x800), ("RST", 0x1000), ("ERRQUEUE", 0x2000),
       ("NOSIGNAL", 0x4000), ("MORE", 0x8000), ("WAITFORONE", 0x10000), ("ZEROCOPY", 0x4000000),
       ("FASTOPEN", 0x20000000), ("CMSG_CLOEXEC", 0x40000000)]
MSG_BY_NAME = dict(MSG)

EV = [("IN", 0x001), ("PRI", 0x002), ("OUT", 0x004), ("ERR", 0x008), ("HUP", 0x010),
      ("NVAL", 0x020), ("RDNORM", 0x040), ("RDBAND", 0x080), ("WRNORM", 0x100),
      ("WRBAND", 0x200), ("MSG", 0x400), ("RDHUP", 0x2000), ("EXCLUSIVE", 1 << 28),
      ("WAKEUP", 1 << 29), ("ONESHOT", 1 << 30), ("ET", 1 << 31)]
EV_BY_NAME = dict(EV)

SHUT = {"RD": 0, "WR": 1, "RDWR": 2}
EPOLL_OPS = {"ADD": 1, "DEL": 2, "MOD": 3}

LEVELS = {"SOL_SOCKET": 1, "IPPROTO_IP": 0, "SOL_IP": 0, "IPPROTO_IPV6": 41, "SOL_IPV6": 41,
          "IPPROTO_TCP": 6, "SOL_TCP": 6, "IPPROTO_UDP": 17, "SOL_UDP": 17}

# Option name -> (level, number, kind). Kinds: int, linger, timeval, errno, bytes:<size>.
OPTS = {}


def _opts(level, kind_default, table):
    for name, num, *kind in table:
        OPTS[name] = (level, num, kind[0] if kind else kind_default)


_opts(1, "int", [
    ("SO_DEBUG", 1), ("SO_REUSEADDR", 2), ("SO_TYPE", 3), ("SO_ERROR", 4, "errno"),
    ("SO_DONTROUTE", 5), ("SO_BROADCAST", 6), ("SO_SNDBUF", 7), ("SO_RCVBUF", 8),
    ("SO_KEEPALIVE", 9), ("SO_OOBINLINE", 10), ("SO_NO_CHECK", 11), ("SO_PRIORITY", 12),
    ("SO_LINGER", 13, "linger"), ("SO_REUSEPORT", 15), ("SO_RCVLOWAT", 18), ("SO_SNDLOWAT", 19),
    ("SO_RCVTIMEO", 20, "timeval"), ("SO_SNDTIMEO", 21, "timeval"),
    ("SO_BINDTODEVICE", 25, "bytes:16"), ("SO_TIMESTAMP", 29), ("SO_ACCEPTCONN", 30),
    ("SO_SNDBUFFORCE", 32), ("SO_RCVBUFFORCE", 33), ("SO_PROTOCOL", 38), ("SO_DOMAIN", 39),
    ("SO_BUSY_POLL", 46), ("SO_INCOMING_CPU", 49),
])
_opts(0, "int", [
    ("IP_TOS", 1), ("IP_TTL", 2), ("IP_HDRINCL", 3), ("IP_OPTIONS", 4, "bytes:40"),
    ("IP_RECVERR", 11), ("IP_MTU_DISCOVER", 10), ("IP_MTU", 14), ("IP_FREEBIND", 15),
    ("IP_MULTICAST_IF", 32, "bytes:4"), ("IP_MULTICAST_TTL", 33), ("IP_MULTICAST_LOOP", 34),
    ("IP_ADD_MEMBERSHIP", 35, "bytes:8"), ("IP_DROP_MEMBERSHIP", 36, "bytes:8"),
    ("IP_UNBLOCK_SOURCE", 37, "bytes:12"), ("IP_BLOCK_SOURCE", 38, "bytes:12"),
    ("IP_ADD_SOURCE_MEMBERSHIP", 39, "bytes:12"), ("IP_DROP_SOURCE_MEMBERSHIP", 40, "bytes:12"),
    ("IP_BIND_ADDRESS_NO_PORT", 24),
])
_opts(41, "int", [
    ("IPV6_UNICAST_HOPS", 16), ("IPV6_MULTICAST_IF", 17), ("IPV6_MULTICAST_HOPS", 18),
    ("IPV6_MULTICAST_LOOP", 19), ("IPV6_JOIN_GROUP", 20, "bytes:20"),
    ("IPV6_LEAVE_GROUP", 21, "bytes:20"), ("IPV6_RECVERR", 25), ("IPV6_V6ONLY", 26),
    ("IPV6_TCLASS", 67),
])
_opts(6, "int", [
    ("TCP_NODELAY", 1), ("TCP_MAXSEG", 2), ("TCP_CORK", 3), ("TCP_KEEPIDLE", 4),
    ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 6), ("TCP_SYNCNT", 7), ("TCP_LINGER2", 8),
    ("TCP_DEFER_ACCEPT", 9), ("TCP_WINDOW_CLAMP", 10), ("TCP_INFO", 11, "bytes:104"),
    ("TCP_QUICKACK", 12), ("TCP_CONGESTION", 13, "bytes:16"), ("TCP_USER_TIMEOUT", 18),
    ("TCP_NOTSENT_LOWAT", 25),
])
_opts(17, "int", [("UDP_CORK", 1), ("UDP_SEGMENT", 103), ("UDP_GRO", 104)])

IOCTLS = {"FIONREAD": 0x541B, "SIOCINQ": 0x541B, "SIOCOUTQ": 0x5411, "FIONBIO": 0x5421,
          "SIOCATMARK": 0x8905, "SIOCOUTQNSD": 0x894B}
F_GETFL, F_SETFL = 3, 4

# ---------------------------------------------------------------------------------------
# Addresses

ADDR4 = {"A4": "198.18.0.1", "B4": "198.18.0.2", "ANY4": "0.0.0.0", "N4": "198.19.255.254",
         "LO4": "127.0.0.1", "BCAST4": "255.255.255.255"}
ADDR6 = {"A6": "fd00::1", "B6": "fd00::2", "ANY6": "::", "N6": "fd00:ffff::1", "LO6": "::1",
         "A4M": "::ffff:198.18.0.1", "B4M": "::ffff:198.18.0.2", "ANY4M": "::ffff:0.0.0.0",
         "N4M": "::ffff:198.19.255.254"}
SYM4 = {socket.inet_pton(socket.AF_INET, v): k for k, v in ADDR4.items()}
SYM6 = {socket.inet_pton(socket.AF_INET6, v): k for k, v in ADDR6.items()}
EPH_LO, EPH_HI = 32768, 60999


class RunnerError(Exception):
    pass


class StepTimeout(Exception):
    pass


def sockaddr(addr, port, fam_hint):
    """(bytes, length) of a sockaddr for a symbol; UNSPEC takes the size of fam_hint's."""
    if addr == "UNSPEC":
        n = 28 if fam_hint == 10 else 16
        return bytes(n), n
    if addr in ADDR4:
        raw = struct.pack("=H", 2) + struct.pack("!H4s8x", port,
                                                  socket.inet_pton(socket.AF_INET, ADDR4[addr]))
        return raw, 16
    if addr in ADDR6:
        raw = struct.pack("=H", 10) + struct.pack("!HI16sI", port, 0,
                                                   socket.inet_pton(socket.AF_INET6, ADDR6[addr]), 0)
        return raw, 28
    raise RunnerError("unknown address symbol %r" % (addr,))


def decode_sockaddr(buf, length):
    """(addr, port) trace values of a returned sockaddr; port still numeric."""
    if length == 0:
        return None, None
    fam = struct.unpack_from("=H", buf, 0)[0]
    if fam == 2 and length >= 16:
        port = struct.unpack_from("!H", buf, 2)[0]
        a = bytes(buf[4:8])
        return SYM4.get(a, socket.inet_ntop(socket.AF_INET, a)), port
    if fam == 10 and length >= 24:
        port = struct.unpack_from("!H", buf, 2)[0]
        a = bytes(buf[8:24])
        return SYM6.get(a, socket.inet_ntop(socket.AF_INET6, a)), port
    if fam == 1:
        return "unix", None
    if fam == 0:
        return "UNSPEC", None
    return "family%d" % fam, None


def fnv1a(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "%08x" % h


PATTERN = bytes(range(256)) * 2


def payload(counter, n):
    start = counter & 0xFF
    if n <= 256:
        return PATTERN[start:start + n]
    reps = (n + start) // 256 + 1
    return (bytes(range(256)) * reps)[start:start + n]


def flags_parse(spec, table, what):
    if spec is None or spec == "" or spec == 0:
        return 0
    if isinstance(spec, int):
        return spec
    v = 0
    for part in str(spec).split("|"):
        part = part.strip()
        if part == "":
            continue
        if part in table:
            v |= table[part]
        elif part.lstrip("-").isdigit() or part.startswith("0x"):
            v |= int(part, 0)
        else:
            raise RunnerError("unknown %s flag %r" % (what, part))
    return v


def mask_names(v, table):
    names = []
    for n, bit in table:
        if v & bit:
            names.append(n)
            v &= ~bit
    if v:
        names.append("0x%x" % v)
    return "|".join(names)


# Where Linux has two names for one number, the canonical one (as src/errno.ts spells it).
ERRNO_PREFERRED = {errno.EOPNOTSUPP: "EOPNOTSUPP", errno.EAGAIN: "EAGAIN", errno.EDEADLK: "EDEADLK"}


def errname(e):
    return ERRNO_PREFERRED.get(e) or errno.errorcode.get(e, "E%d" % e)


# ---------------------------------------------------------------------------------------
# libc prototypes

c_int, c_void_p, c_size_t, c_ssize_t, c_uint = ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_ssize_t, ctypes.c_uint
socklen_t = ctypes.c_uint32
P = ctypes.POINTER


def proto(name, res, *args):
    f = getattr(libc, name)
    f.restype = res
    f.argtypes = list(args)
    return f


c_socket = proto("socket", c_int, c_int, c_int, c_int)
c_socketpair = proto("socketpair", c_int, c_int, c_int, c_int, P(c_int))
c_bind = proto("bind", c_int, c_int, c_void_p, socklen_t)
c_listen = proto("listen", c_int, c_int, c_int)
c_connect = proto("connect", c_int, c_int, c_void_p, socklen_t)
c_accept4 = proto("accept4", c_int, c_int, c_void_p, P(socklen_t), c_int)
c_send = proto("send", c_ssize_t, c_int, c_void_p, c_size_t, c_int)
c_sendto = proto("sendto", c_ssize_t, c_int, c_void_p, c_size_t, c_int, c_void_p, socklen_t)
c_sendmsg = proto("sendmsg", c_ssize_t, c_int, c_void_p, c_int)
c_recv = proto("recv", c_ssize_t, c_int, c_void_p, c_size_t, c_int)
c_recvfrom = proto("recvfrom", c_ssize_t, c_int, c_void_p, c_size_t, c_int, c_void_p, P(socklen_t))
c_recvmsg = proto("recvmsg", c_ssize_t, c_int, c_void_p, c_int)
c_shutdown = proto("shutdown", c_int, c_int, c_int)
c_close = proto("close", c_int, c_int)
c_getsockname = proto("getsockname", c_int, c_int, c_void_p, P(socklen_t))
c_getpeername = proto("getpeername", c_int, c_int, c_void_p, P(socklen_t))
c_setsockopt = proto("setsockopt", c_int, c_int, c_int, c_int, c_void_p, socklen_t)
c_getsockopt = proto("getsockopt", c_int, c_int, c_int, c_int, c_void_p, P(socklen_t))
c_ioctl = proto("ioctl", c_int, c_int, ctypes.c_ulong, c_void_p)
c_fcntl = proto("fcntl", c_int, c_int, c_int, ctypes.c_long)
c_dup = proto("dup", c_int, c_int)
c_dup2 = proto("dup2", c_int, c_int, c_int)
c_dup3 = proto("dup3", c_int, c_int, c_int, c_int)
c_poll = proto("poll", c_int, c_void_p, ctypes.c_ulong, c_int)
c_select = proto("select", c_int, c_int, c_void_p, c_void_p, c_void_p, c_void_p)
c_epoll_create1 = proto("epoll_create1", c_int, c_int)
c_epoll_ctl = proto("epoll_ctl", c_int, c_int, c_int, c_int, c_void_p)
c_epoll_wait = proto("epoll_wait", c_int, c_int, c_void_p, c_int, c_int)


class iovec(ctypes.Structure):
    _fields_ = [("iov_base", c_void_p), ("iov_len", c_size_t)]


class msghdr(ctypes.Structure):
    _fields_ = [("msg_name", c_void_p), ("msg_namelen", socklen_t), ("msg_iov", P(iovec)),
                ("msg_iovlen", c_size_t), ("msg_control", c_void_p), ("msg_controllen", c_size_t),
                ("msg_flags", c_int)]


class pollfd(ctypes.Structure):
    _fields_ = [("fd", c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


class epoll_event(ctypes.Structure):
    _pack_ = 1  # x86_64: struct epoll_event is __attribute__((packed))
    _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]


if os.uname().machine != "x86_64":
    class epoll_event(ctypes.Structure):  # noqa: F811  (other architectures: natural layout)
        _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]


class timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


# ---------------------------------------------------------------------------------------
# One scenario


class Scenario:
    def __init__(self, index, scen, base):
        self.index = index
        self.name = scen.get("name")
        self.steps = scen.get("steps", [])
        self.base = base
        self.fds = {}          # name -> absolute fd number (kept after close)
        self.open = set()      # absolute fds this scenario holds open
        self.counter = {}      # name -> send counter
        self.regnames = []     # epoll data index -> name registered
        self.ports = {}        # symbol -> port
        self.port_syms = {}    # port -> symbol
        for k in range(1, 10):
            p = 10000 + (index * 10 + k) % 22000
            self.ports["P%d" % k] = p
            self.port_syms[p] = "P%d" % k

    # -- arguments --
    def fd(self, s):
        if isinstance(s, bool):
            raise RunnerError("bad descriptor reference %r" % (s,))
        if isinstance(s, int):
            return self.base + s if s >= 0 else -1
        if s not in self.fds:
            raise RunnerError("unknown name %r" % (s,))
        return self.fds[s]

    def rel(self, fd):
        return fd - self.base

    def port(self, p):
        if isinstance(p, int):
            return p
        if isinstance(p, str) and p in self.ports:
            return self.ports[p]
        if isinstance(p, str) and p.isdigit():
            return int(p)
        raise RunnerError("bad port %r" % (p,))

    def port_out(self, p):
        if p is None:
            return None
        if p in self.port_syms:
            return self.port_syms[p]
        if EPH_LO <= p <= EPH_HI:
            return "eph"
        return p

    def family_of(self, fd):
        v = c_int(0)
        ln = socklen_t(4)
        if c_getsockopt(fd, 1, 39, ctypes.byref(v), ctypes.byref(ln)) == 0:
            return v.value
        return 0

    def type_of(self, fd):
        v = c_int(0)
        ln = socklen_t(4)
        if c_getsockopt(fd, 1, 3, ctypes.byref(v), ctypes.byref(ln)) == 0:
            return v.value
        return 0

    def addr_arg(self, fd, addr, port):
        raw, n = sockaddr(addr, self.port(port), self.family_of(fd))
        b = ctypes.create_string_buffer(raw, max(n, 128))
        return b, n

    def peer(self, buf, ln):
        a, p = decode_sockaddr(buf, ln)
        return a, self.port_out(p)

    def bind_name(self, name, fd):
        self.fds[name] = fd
        self.open.add(fd)
        self.counter[name] = 0

    def reg_index(self, name):
        self.regnames.append(name)
        return len(self.regnames) - 1

    # -- running --
    def run(self):
        trace = []
        try:
            for step in self.steps:
                entry = self.guarded(step)
                trace.append(entry)
                if entry.get("err") in ("TIMEOUT", "RUNNER"):
                    break
        finally:
            self.cleanup()
        return trace

    def guarded(self, step):
        drain_sigpipe()
        fired = [False]

        def on_alarm(signum, frame):
            fired[0] = True
            raise StepTimeout()

        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, STEP_TIMEOUT_S)
        try:
            try:
                entry = self.step(step)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
            if fired[0]:
                entry = {"err": "TIMEOUT"}
        except StepTimeout:
            entry = {"err": "TIMEOUT"}
        except RunnerError as e:
            entry = {"err": "RUNNER", "detail": str(e)}
        except Exception as e:  # a bug in the runner or a malformed step
            entry = {"err": "RUNNER", "detail": "%s: %s" % (type(e).__name__, e)}
        if drain_sigpipe():
            entry["sigpipe"] = True
        return entry

    def cleanup(self):
        signal.setitimer(signal.ITIMER_REAL, 0)
        old = signal.signal(signal.SIGALRM, lambda s, f: None)
        # Lingering closes may block up to their linger time; the timer only interrupts.
        signal.setitimer(signal.ITIMER_REAL, STEP_TIMEOUT_S)
        try:
            for fd in sorted(self.open):
                c_close(fd)
            self.open.clear()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        drain_sigpipe()

    def step(self, st):
        if not isinstance(st, list) or not st or not isinstance(st[0], str):
            raise RunnerError("malformed step %r" % (st,))
        op = st[0]
        fn = getattr(self, "op_" + op, None)
        if fn is None:
            raise RunnerError("unknown step %r" % (op,))
        return fn(*st[1:])

    @staticmethod
    def fail():
        return {"err": errname(ctypes.get_errno())}

    # -- steps --
    def op_socket(self, name, domain, typ, protocol=0):
        d = AF[domain] if isinstance(domain, str) and domain in AF else int(domain)
        t = flags_parse(typ, SOCK_TYPES, "socket type")
        fd = c_socket(d, t, int(protocol))
        if fd < 0:
            return self.fail()
        self.bind_name(name, fd)
        return {"ret": 0, "fd": self.rel(fd)}

    def op_socketpair(self, n1, n2, domain, typ, protocol=0):
        d = AF[domain] if isinstance(domain, str) and domain in AF else int(domain)
        t = flags_parse(typ, SOCK_TYPES, "socket type")
        sv = (c_int * 2)()
        if c_socketpair(d, t, int(protocol), sv) < 0:
            return self.fail()
        self.bind_name(n1, sv[0])
        self.bind_name(n2, sv[1])
        return {"ret": 0, "fds": [self.rel(sv[0]), self.rel(sv[1])]}

    def op_bind(self, s, addr, port):
        fd = self.fd(s)
        b, n = self.addr_arg(fd, addr, port)
        if c_bind(fd, b, n) < 0:
            return self.fail()
        return {"ret": 0}

    def op_listen(self, s, backlog):
        if c_listen(self.fd(s), int(backlog)) < 0:
            return self.fail()
        return {"ret": 0}

    def op_connect(self, s, addr, port):
        fd = self.fd(s)
        b, n = self.addr_arg(fd, addr, port)
        if c_connect(fd, b, n) < 0:
            return self.fail()
        return {"ret": 0}

    def op_accept(self, s, newname, flags=None):
        fl = flags_parse(flags, SOCK_TYPES, "accept")
        buf = ctypes.create_string_buffer(128)
        ln = socklen_t(128)
        fd = c_accept4(self.fd(s), buf, ctypes.byref(ln), fl)
        if fd < 0:
            return self.fail()
        self.bind_name(newname, fd)
        a, p = self.peer(buf, ln.value)
        return {"ret": 0, "fd": self.rel(fd), "addr": a, "port": p}

    def _sent(self, s, r):
        if r < 0:
            return self.fail()
        self.counter[s] = self.counter.get(s, 0) + r
        return {"ret": r}

    def op_send(self, s, n, flags=""):
        data = payload(self.counter.get(s, 0), int(n))
        r = c_send(self.fd(s), data, len(data), flags_parse(flags, MSG_BY_NAME, "msg"))
        return self._sent(s, r)

    def op_sendto(self, s, n, flags, addr, port):
        fd = self.fd(s)
        data = payload(self.counter.get(s, 0), int(n))
        b, ln = self.addr_arg(fd, addr, port)
        r = c_sendto(fd, data, len(data), flags_parse(flags, MSG_BY_NAME, "msg"), b, ln)
        return self._sent(s, r)

    def op_sendmsg(self, s, n, flags="", addr=None, port=None):
        fd = self.fd(s)
        n = int(n)
        data = ctypes.create_string_buffer(payload(self.counter.get(s, 0), n), max(n, 1))
        iov = (iovec * 2)()
        half = n // 2
        iov[0].iov_base = ctypes.addressof(data)
        iov[0].iov_len = half
        iov[1].iov_base = ctypes.addressof(data) + half
        iov[1].iov_len = n - half
        m = msghdr()
        if addr is not None:
            b, ln = self.addr_arg(fd, addr, port)
            m.msg_name = ctypes.addressof(b)
            m.msg_namelen = ln
        m.msg_iov = iov
        m.msg_iovlen = 2
        r = c_sendmsg(fd, ctypes.byref(m), flags_parse(flags, MSG_BY_NAME, "msg"))
        return self._sent(s, r)

    def _copied(self, fd, r, bufsize, flags):
        # Bytes the call placed in the buffer: MSG_TRUNC makes ret the full datagram length
        # (UDP) or makes TCP discard the data without copying it.
        if r <= 0:
            return 0
        if flags & MSG_BY_NAME["TRUNC"] and self.type_of(fd) == 1 and self.family_of(fd) in (2, 10):
            return 0
        return min(r, bufsize)

    def op_recv(self, s, bufsize, flags=""):
        fd = self.fd(s)
        bufsize = int(bufsize)
        fl = flags_parse(flags, MSG_BY_NAME, "msg")
        buf = ctypes.create_string_buffer(max(bufsize, 1))
        r = c_recv(fd, buf, bufsize, fl)
        if r < 0:
            return self.fail()
        k = self._copied(fd, r, bufsize, fl)
        return {"ret": r, "len": k, "hash": fnv1a(buf.raw[:k])}

    def op_recvfrom(self, s, bufsize, flags=""):
        fd = self.fd(s)
        bufsize = int(bufsize)
        fl = flags_parse(flags, MSG_BY_NAME, "msg")
        buf = ctypes.create_string_buffer(max(bufsize, 1))
        ab = ctypes.create_string_buffer(128)
        ln = socklen_t(128)
        r = c_recvfrom(fd, buf, bufsize, fl, ab, ctypes.byref(ln))
        if r < 0:
            return self.fail()
        k = self._copied(fd, r, bufsize, fl)
        a, p = self.peer(ab, ln.value)
        return {"ret": r, "len": k, "hash": fnv1a(buf.raw[:k]), "addr": a, "port": p}

    def op_recvmsg(self, s, bufsize, flags=""):
        fd = self.fd(s)
        bufsize = int(bufsize)
        fl = flags_parse(flags, MSG_BY_NAME, "msg")
        buf = ctypes.create_string_buffer(max(bufsize, 1))
        ab = ctypes.create_string_buffer(128)
        iov = (iovec * 1)()
        iov[0].iov_base = ctypes.addressof(buf)
        iov[0].iov_len = bufsize
        m = msghdr()
        m.msg_name = ctypes.addressof(ab)
        m.msg_namelen = 128
        m.msg_iov = iov
        m.msg_iovlen = 1
        r = c_recvmsg(fd, ctypes.byref(m), fl)
        if r < 0:
            return self.fail()
        k = self._copied(fd, r, bufsize, fl)
        a, p = self.peer(ab, m.msg_namelen)
        return {"ret": r, "len": k, "hash": fnv1a(buf.raw[:k]), "addr": a, "port": p,
                "flags": mask_names(m.msg_flags & 0xFFFFFFFF, MSG)}

    def op_shutdown(self, s, how):
        h = SHUT[how] if isinstance(how, str) and how in SHUT else int(how)
        if c_shutdown(self.fd(s), h) < 0:
            return self.fail()
        return {"ret": 0}

    def op_close(self, s):
        fd = self.fd(s)
        if c_close(fd) < 0:
            return self.fail()
        self.open.discard(fd)
        return {"ret": 0}

    def _name(self, fn, s):
        buf = ctypes.create_string_buffer(128)
        ln = socklen_t(128)
        if fn(self.fd(s), buf, ctypes.byref(ln)) < 0:
            return self.fail()
        a, p = self.peer(buf, ln.value)
        return {"ret": 0, "addr": a, "port": p}

    def op_getsockname(self, s):
        return self._name(c_getsockname, s)

    def op_getpeername(self, s):
        return self._name(c_getpeername, s)

    @staticmethod
    def opt(level, name):
        lv = LEVELS[level] if isinstance(level, str) and level in LEVELS else None
        if lv is None:
            if isinstance(level, int) or (isinstance(level, str) and level.isdigit()):
                lv = int(level)
            else:
                raise RunnerError("unknown level %r" % (level,))
        if isinstance(name, str) and name in OPTS:
            olv, num, kind = OPTS[name]
            return lv, num, kind
        if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
            return lv, int(name), "int"
        raise RunnerError("unknown option %r" % (name,))

    def op_setsockopt(self, s, level, name, value):
        lv, num, _kind = self.opt(level, name)
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int):
            raw = struct.pack("=i", value)
        elif isinstance(value, dict) and "linger" in value:
            raw = struct.pack("=ii", int(value["linger"][0]), int(value["linger"][1]))
        elif isinstance(value, dict) and "timeval" in value:
            us = int(value["timeval"])
            raw = struct.pack("=qq", us // 1000000, us % 1000000)
        elif isinstance(value, dict) and "bytes" in value:
            raw = bytes.fromhex(value["bytes"])
        else:
            raise RunnerError("bad option value %r" % (value,))
        buf = ctypes.create_string_buffer(raw, max(len(raw), 1))
        if c_setsockopt(self.fd(s), lv, num, buf, len(raw)) < 0:
            return self.fail()
        return {"ret": 0}

    def op_getsockopt(self, s, level, name, optlen=None):
        lv, num, kind = self.opt(level, name)
        natural = {"int": 4, "errno": 4, "linger": 8, "timeval": 16}.get(kind)
        if natural is None:
            natural = int(kind.split(":")[1])
        size = natural if optlen is None else int(optlen)
        buf = ctypes.create_string_buffer(max(size, 256))
        ln = socklen_t(size & 0xFFFFFFFF)
        if c_getsockopt(self.fd(s), lv, num, buf, ctypes.byref(ln)) < 0:
            return self.fail()
        got = buf.raw[:min(ln.value, len(buf.raw))]
        if kind in ("int", "errno") and ln.value == 4:
            v = struct.unpack("=i", got)[0]
            if kind == "errno" and v != 0:
                v = errname(v)
            value = v
        elif kind == "linger" and ln.value == 8:
            value = {"linger": list(struct.unpack("=ii", got))}
        elif kind == "timeval" and ln.value == 16:
            sec, usec = struct.unpack("=qq", got)
            value = {"timeval": sec * 1000000 + usec}
        else:
            value = {"bytes": got.hex()}
        return {"ret": 0, "value": value}

    def op_ioctl(self, s, req, arg=None):
        if req not in IOCTLS:
            raise RunnerError("unknown ioctl %r" % (req,))
        v = c_int(0 if arg is None else int(arg))
        if c_ioctl(self.fd(s), IOCTLS[req], ctypes.byref(v)) < 0:
            return self.fail()
        if req == "FIONBIO":
            return {"ret": 0}
        return {"ret": 0, "value": v.value}

    def op_fcntl(self, s, cmd, arg=None):
        fd = self.fd(s)
        if cmd == "GETFL":
            r = c_fcntl(fd, F_GETFL, 0)
            if r < 0:
                return self.fail()
            return {"ret": 0, "nonblock": 1 if r & O_NONBLOCK else 0}
        if cmd == "SETFL":
            r = c_fcntl(fd, F_GETFL, 0)
            if r < 0:
                return self.fail()
            nf = (r | O_NONBLOCK) if int(arg) else (r & ~O_NONBLOCK)
            if c_fcntl(fd, F_SETFL, nf) < 0:
                return self.fail()
            return {"ret": 0}
        raise RunnerError("unknown fcntl %r" % (cmd,))

    def _newfd(self, name, fd):
        if fd < 0:
            return self.fail()
        self.bind_name(name, fd)
        return {"ret": 0, "fd": self.rel(fd)}

    def op_dup(self, s, newname):
        return self._newfd(newname, c_dup(self.fd(s)))

    def op_dup2(self, s, newname, target):
        return self._newfd(newname, c_dup2(self.fd(s), self.fd(int(target))))

    def op_dup3(self, s, newname, target, flags=None):
        fl = flags_parse(flags, {"CLOEXEC": O_CLOEXEC, "NONBLOCK": O_NONBLOCK}, "dup3")
        return self._newfd(newname, c_dup3(self.fd(s), self.fd(int(target)), fl))

    def op_poll(self, entries, timeout):
        n = len(entries)
        arr = (pollfd * max(n, 1))()
        for i, (s, ev) in enumerate(entries):
            arr[i].fd = self.fd(s)
            arr[i].events = flags_parse(ev, EV_BY_NAME, "poll") & 0xFFFF
            arr[i].revents = 0
        r = c_poll(arr, n, int(timeout))
        if r < 0:
            return self.fail()
        return {"ret": r, "revents": [mask_names(arr[i].revents & 0xFFFF, EV) for i in range(n)]}

    def op_select(self, rd, wr, ex, timeout):
        sets = []
        nfds = 0
        for names in (rd, wr, ex):
            for s in names:
                nfds = max(nfds, self.fd(s) + 1)
        words = max(16, (nfds + 63) // 64)  # at least a full 1024-bit fd_set
        for names in (rd, wr, ex):
            arr = (ctypes.c_uint64 * words)()
            for s in names:
                fd = self.fd(s)
                if fd < 0:
                    raise RunnerError("select on a negative descriptor")
                arr[fd // 64] |= 1 << (fd % 64)
            sets.append(arr)
        tv = None
        if timeout is not None and int(timeout) >= 0:
            tv = timeval(int(timeout) // 1000, (int(timeout) % 1000) * 1000)
        r = c_select(nfds, sets[0], sets[1], sets[2], ctypes.byref(tv) if tv is not None else None)
        if r < 0:
            return self.fail()
        out = {"ret": r}
        for key, names, arr in zip(("r", "w", "x"), (rd, wr, ex), sets):
            got = []
            for s in names:
                fd = self.fd(s)
                if arr[fd // 64] >> (fd % 64) & 1 and s not in got:
                    got.append(s)
            out[key] = got
        return out

    def op_epoll_create(self, name, flags=None):
        fl = flags_parse(flags, {"CLOEXEC": O_CLOEXEC, "NONBLOCK": O_NONBLOCK}, "epoll_create")
        return self._newfd(name, c_epoll_create1(fl))

    def op_epoll_ctl(self, e, op, s, events=None):
        o = EPOLL_OPS[op] if isinstance(op, str) and op in EPOLL_OPS else int(op)
        ev = epoll_event()
        ev.events = flags_parse(events, EV_BY_NAME, "epoll") & 0xFFFFFFFF
        ev.data = self.reg_index(s)
        if c_epoll_ctl(self.fd(e), o, self.fd(s), ctypes.byref(ev)) < 0:
            return self.fail()
        return {"ret": 0}

    def op_epoll_wait(self, e, maxevents, timeout):
        m = int(maxevents)
        arr = (epoll_event * max(1, min(m, 4096)))()
        if m > 4096:
            raise RunnerError("maxevents too large")
        r = c_epoll_wait(self.fd(e), arr, m, int(timeout))
        if r < 0:
            return self.fail()
        evs = []
        for i in range(r):
            d = arr[i].data
            nm = self.regnames[d] if d < len(self.regnames) else d
            evs.append([nm, mask_names(arr[i].events, EV)])
        return {"ret": r, "events": evs}

    def op_sleep(self, ms):
        time.sleep(int(ms) / 1000.0)
        return {"ret": 0}


# ---------------------------------------------------------------------------------------


def drain_sigpipe():
    """True when a SIGPIPE was pending (and consumes it). SIGPIPE is blocked in this
    process, so a send that raises it leaves it pending on this thread."""
    got = False
    while signal.SIGPIPE in signal.sigpending():
        signal.sigtimedwait([signal.SIGPIPE], 0)
        got = True
    return got


def lowest_free_fd():
    fd = os.open("/dev/null", os.O_RDONLY)
    os.close(fd)
    return fd


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGPIPE])
    out = sys.stdout
    index = 0
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            scen = json.loads(line)
        except ValueError as e:
            out.write(json.dumps({"name": None, "trace": [{"err": "RUNNER", "detail": "bad JSON: %s" % e}]}) + "\n")
            out.flush()
            index += 1
            continue
        base = lowest_free_fd()
        sc = Scenario(index, scen, base)
        trace = sc.run()
        after = lowest_free_fd()
        res = {"name": sc.name, "trace": trace}
        if after != base:
            res["runner_warning"] = "descriptor table not restored (base %d, now %d)" % (base, after)
        out.write(json.dumps(res, separators=(",", ":")) + "\n")
        out.flush()
        index += 1


if __name__ == "__main__":
    main()

// Linux's numbers for the socket API (include/linux/socket.h, include/uapi/linux/in.h,
// in6.h, tcp.h, udp.h, eventpoll.h, poll.h, asm-generic/socket.h, asm-generic/fcntl.h,
// asm-generic/ioctls.h), so values pass unchanged between xlio-ts and C or Python code.

export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_SEQPACKET = 5;
export const SOCK_TYPE_MASK = 0xf;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const SOL_SOCKET = 1;

export const MSG_OOB = 0x1;
export const MSG_PEEK = 0x2;
export const MSG_DONTROUTE = 0x4;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_EOR = 0x80;
export const MSG_WAITALL = 0x100;
export const MSG_CONFIRM = 0x800;
export const MSG_ERRQUEUE = 0x2000;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_MORE = 0x8000;
export const MSG_WAITFORONE = 0x10000;
export const MSG_CMSG_CLOEXEC = 0x40000000;

export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

// SOL_SOCKET
export const SO_DEBUG = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_DONTROUTE = 5;
export const SO_BROADCAST = 6;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_OOBINLINE = 10;
export const SO_NO_CHECK = 11;
export const SO_PRIORITY = 12;
export const SO_LINGER = 13;
export const SO_REUSEPORT = 15;
export const SO_RCVLOWAT = 18;
export const SO_SNDLOWAT = 19;
export const SO_RCVTIMEO = 20;
export const SO_SNDTIMEO = 21;
export const SO_BINDTODEVICE = 25;
export const SO_TIMESTAMP = 29;
export const SO_ACCEPTCONN = 30;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_PROTOCOL = 38;
export const SO_DOMAIN = 39;
export const SO_BUSY_POLL = 46;
export const SO_INCOMING_CPU = 49;

// IPPROTO_IP
export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_HDRINCL = 3;
export const IP_OPTIONS = 4;
export const IP_RECVERR = 11;
export const IP_MTU_DISCOVER = 10;
export const IP_MTU = 14;
export const IP_FREEBIND = 15;
export const IP_MULTICAST_IF = 32;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;
export const IP_ADD_MEMBERSHIP = 35;
export const IP_DROP_MEMBERSHIP = 36;
export const IP_UNBLOCK_SOURCE = 37;
export const IP_BLOCK_SOURCE = 38;
export const IP_ADD_SOURCE_MEMBERSHIP = 39;
export const IP_DROP_SOURCE_MEMBERSHIP = 40;
export const IP_BIND_ADDRESS_NO_PORT = 24;

// IPPROTO_IPV6
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_MULTICAST_IF = 17;
export const IPV6_MULTICAST_HOPS = 18;
export const IPV6_MULTICAST_LOOP = 19;
export const IPV6_JOIN_GROUP = 20;
export const IPV6_LEAVE_GROUP = 21;
export const IPV6_RECVERR = 25;
export const IPV6_V6ONLY = 26;
export const IPV6_TCLASS = 67;

// IPPROTO_TCP
export const TCP_NODELAY = 1;
export const TCP_MAXSEG = 2;
export const TCP_CORK = 3;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;
export const TCP_SYNCNT = 7;
export const TCP_LINGER2 = 8;
export const TCP_DEFER_ACCEPT = 9;
export const TCP_WINDOW_CLAMP = 10;
export const TCP_INFO = 11;
export const TCP_QUICKACK = 12;
export const TCP_CONGESTION = 13;
export const TCP_USER_TIMEOUT = 18;
export const TCP_NOTSENT_LOWAT = 25;

// IPPROTO_UDP
export const UDP_CORK = 1;
export const UDP_SEGMENT = 103;
export const UDP_GRO = 104;

// epoll (include/uapi/linux/eventpoll.h) and poll (asm-generic/poll.h)
export const EPOLLIN = 0x001;
export const EPOLLPRI = 0x002;
export const EPOLLOUT = 0x004;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const EPOLLNVAL = 0x020;
export const EPOLLRDNORM = 0x040;
export const EPOLLRDBAND = 0x080;
export const EPOLLWRNORM = 0x100;
export const EPOLLWRBAND = 0x200;
export const EPOLLMSG = 0x400;
export const EPOLLRDHUP = 0x2000;
export const EPOLLEXCLUSIVE = 1 << 28;
export const EPOLLWAKEUP = 1 << 29;
export const EPOLLONESHOT = 1 << 30;
export const EPOLLET = 1 << 31;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLL_CLOEXEC = SOCK_CLOEXEC;
export const POLLIN = EPOLLIN;
export const POLLPRI = EPOLLPRI;
export const POLLOUT = EPOLLOUT;
export const POLLERR = EPOLLERR;
export const POLLHUP = EPOLLHUP;
export const POLLNVAL = EPOLLNVAL;
export const POLLRDNORM = EPOLLRDNORM;
export const POLLRDBAND = EPOLLRDBAND;
export const POLLWRNORM = EPOLLWRNORM;
export const POLLWRBAND = EPOLLWRBAND;
export const POLLRDHUP = EPOLLRDHUP;

// fcntl / ioctl
export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_DUPFD_CLOEXEC = 1030;
export const FD_CLOEXEC = 1;
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const FIONREAD = 0x541b;
export const FIONBIO = 0x5421;
export const SIOCOUTQ = 0x5411;
export const SIOCATMARK = 0x8905;

/** Names for traces and messages: the flag bits of an epoll/poll mask, in Linux's bit order. */
export const EPOLL_BIT_NAMES: ReadonlyArray<readonly [number, string]> = [
  [EPOLLIN, 'IN'], [EPOLLPRI, 'PRI'], [EPOLLOUT, 'OUT'], [EPOLLERR, 'ERR'], [EPOLLHUP, 'HUP'], [EPOLLNVAL, 'NVAL'],
  [EPOLLRDNORM, 'RDNORM'], [EPOLLRDBAND, 'RDBAND'], [EPOLLWRNORM, 'WRNORM'], [EPOLLWRBAND, 'WRBAND'], [EPOLLMSG, 'MSG'],
  [EPOLLRDHUP, 'RDHUP'], [EPOLLEXCLUSIVE, 'EXCLUSIVE'], [EPOLLWAKEUP, 'WAKEUP'], [EPOLLONESHOT, 'ONESHOT'], [EPOLLET, 'ET'],
];

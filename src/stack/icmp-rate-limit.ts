// ICMP error rate limiting as Linux does it (net/ipv4/icmp.c, net/ipv4/inetpeer.c):
//  - a global token bucket: net.ipv4.icmp_msgs_per_sec (1000) with icmp_msgs_burst (50);
//  - per destination: net.ipv4.icmp_ratelimit (1000 ms) per message, with credit for up
//    to 6 messages banked (XRLIM_BURST_FACTOR), for the types in icmp_ratemask
//    (destination unreachable, source quench, time exceeded, parameter problem).
// Echo replies are not limited. Times are µs.

/** A peer: an IPv4 address, or an IPv6 address's key (ipv6Key). */
type Peer = number | string;

export interface IcmpRateLimits {
  msgsPerSec: number;
  burst: number;
  perPeerIntervalUs: number;
  perPeerBurst: number;
  /** Bound on remembered peers; the oldest is forgotten first. */
  maxPeers: number;
}

export const LINUX_ICMP_LIMITS: Readonly<IcmpRateLimits> = Object.freeze({
  msgsPerSec: 1000,
  burst: 50,
  perPeerIntervalUs: 1_000_000,
  perPeerBurst: 6,
  maxPeers: 4096,
});

class PeerBucket {
  constructor(
    public tokens: number,
    public last: number,
  ) {}
}

export class IcmpRateLimiter {
  readonly limits: IcmpRateLimits;
  private globalTokens: number;
  private globalLast = -Infinity;
  private readonly peers = new Map<Peer, PeerBucket>();
  /** Messages suppressed (Linux: IcmpOutRateLimitGlobal + IcmpOutRateLimitHost). */
  limitedGlobal = 0;
  limitedHost = 0;

  constructor(limits: Partial<IcmpRateLimits> = {}) {
    this.limits = { ...LINUX_ICMP_LIMITS, ...limits };
    this.globalTokens = this.limits.burst;
  }

  /** May an ICMP error go to `dst` at `now`? Consumes credit when it may. */
  allow(dst: Peer, now: number): boolean {
    const l = this.limits;
    // Global bucket.
    if (this.globalLast !== -Infinity) {
      this.globalTokens = Math.min(l.burst, this.globalTokens + ((now - this.globalLast) * l.msgsPerSec) / 1e6);
    }
    this.globalLast = now;
    if (this.globalTokens < 1) {
      this.limitedGlobal++;
      return false;
    }
    // Per-peer bucket: a new peer starts with the full burst.
    let p = this.peers.get(dst);
    const cap = l.perPeerBurst * l.perPeerIntervalUs;
    if (p === undefined) {
      if (this.peers.size >= l.maxPeers) this.peers.delete(this.peers.keys().next().value as Peer);
      p = new PeerBucket(cap, now);
      this.peers.set(dst, p);
    } else {
      p.tokens = Math.min(cap, p.tokens + (now - p.last));
      p.last = now;
    }
    if (p.tokens < l.perPeerIntervalUs) {
      this.limitedHost++;
      return false;
    }
    p.tokens -= l.perPeerIntervalUs;
    this.globalTokens -= 1;
    return true;
  }
}

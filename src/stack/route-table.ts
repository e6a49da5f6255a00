// Routing tables for IPv4 and IPv6: longest-prefix match, then lowest metric (Linux's fib
// lookup, reduced to one table per family). Routes can be added, replaced and removed at any time; the
// stack looks up every packet, so existing flows follow a change at once (KI-13).

import type { Ipv4Address, Ipv6Address } from '../wire/address.js';
import { maskPrefix6, prefixMatch6 } from './ipv6-address.js';
import { bytesEqual } from '../wire/address.js';
import { ErrnoError } from '../errno.js';

export interface Ipv4Route {
  prefix: Ipv4Address;
  prefixLength: number;
  /** Next hop; null for an on-link (connected) route. */
  gateway: Ipv4Address | null;
  /** Lower wins among equal prefixes (Linux: priority). */
  metric: number;
  /** Preferred source address (Linux: `src`), or null to pick from the interface. */
  source: Ipv4Address | null;
  /** Output interface (Linux: `dev`), or 0 to take the one holding the gateway's subnet. */
  ifindex: number;
}

export function prefixMask(len: number): number {
  return len === 0 ? 0 : -1 << (32 - len);
}

export class RouteTable {
  readonly routes: Ipv4Route[] = [];

  /** `ip route add`: EEXIST-like EINVAL refusal is Linux's answer to an identical route; here it is replaced only by `replace`. */
  add(route: Partial<Ipv4Route> & Pick<Ipv4Route, 'prefix' | 'prefixLength'>): void {
    const r = normalize(route);
    if (this.find(r.prefix, r.prefixLength, r.metric) >= 0) throw new ErrnoError('EEXIST', 'route add');
    this.routes.push(r);
  }

  /** `ip route replace`: adds, or replaces the route with the same prefix and metric. */
  replace(route: Partial<Ipv4Route> & Pick<Ipv4Route, 'prefix' | 'prefixLength'>): void {
    const r = normalize(route);
    const i = this.find(r.prefix, r.prefixLength, r.metric);
    if (i >= 0) this.routes[i] = r;
    else this.routes.push(r);
  }

  /** `ip route del`: ESRCH when there is no such route, as Linux. */
  remove(prefix: Ipv4Address, prefixLength: number, metric = 0): void {
    const i = this.find(prefix & prefixMask(prefixLength), prefixLength, metric);
    if (i < 0) throw new ErrnoError('ESRCH', 'route del');
    this.routes.splice(i, 1);
  }

  lookup(dst: Ipv4Address): Ipv4Route | null {
    let best: Ipv4Route | null = null;
    const list = this.routes;
    for (let k = 0; k < list.length; k++) {
      const r = list[k]!;
      if (((dst ^ r.prefix) & prefixMask(r.prefixLength)) !== 0) continue;
      if (best === null || r.prefixLength > best.prefixLength || (r.prefixLength === best.prefixLength && r.metric < best.metric)) best = r;
    }
    return best;
  }

  private find(prefix: Ipv4Address, prefixLength: number, metric: number): number {
    return this.routes.findIndex((r) => r.prefix === prefix && r.prefixLength === prefixLength && r.metric === metric);
  }
}

function normalize(route: Partial<Ipv4Route> & Pick<Ipv4Route, 'prefix' | 'prefixLength'>): Ipv4Route {
  const { prefixLength } = route;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) throw new ErrnoError('EINVAL', 'route');
  return {
    prefix: route.prefix & prefixMask(prefixLength),
    prefixLength,
    gateway: route.gateway ?? null,
    metric: route.metric ?? 0,
    source: route.source ?? null,
    ifindex: route.ifindex ?? 0,
  };
}

export interface Ipv6Route {
  prefix: Ipv6Address;
  prefixLength: number;
  /** Next hop (usually a router's link-local address); null for on-link. */
  gateway: Ipv6Address | null;
  /** Output interface; 0 means any interface holding the gateway's (or destination's) prefix. */
  ifindex: number;
  metric: number;
  /** When a learned route (router advertisement) lapses, µs; Infinity for static routes. */
  expiresAt: number;
  /** Who added it: 'static' (the user), 'ra' (a router advertisement). */
  origin: 'static' | 'ra';
}

/** The IPv6 table; RA-learned routes expire (RFC 4861 §6.3.4, §6.3.5). */
export class Ipv6RouteTable {
  readonly routes: Ipv6Route[] = [];

  add(route: Partial<Ipv6Route> & Pick<Ipv6Route, 'prefix' | 'prefixLength'>): void {
    const r = normalize6(route);
    if (this.find(r.prefix, r.prefixLength, r.metric, r.ifindex) >= 0) throw new ErrnoError('EEXIST', 'route add');
    this.routes.push(r);
  }

  replace(route: Partial<Ipv6Route> & Pick<Ipv6Route, 'prefix' | 'prefixLength'>): void {
    const r = normalize6(route);
    const i = this.find(r.prefix, r.prefixLength, r.metric, r.ifindex);
    if (i >= 0) this.routes[i] = r;
    else this.routes.push(r);
  }

  remove(prefix: Ipv6Address, prefixLength: number, metric = 0, ifindex = 0): void {
    const i = this.find(maskPrefix6(prefix, prefixLength), prefixLength, metric, ifindex);
    if (i < 0) throw new ErrnoError('ESRCH', 'route del');
    this.routes.splice(i, 1);
  }

  /** Removes every route matching `pred`; returns how many. */
  removeWhere(pred: (r: Ipv6Route) => boolean): number {
    let n = 0;
    for (let i = this.routes.length - 1; i >= 0; i--) {
      if (pred(this.routes[i]!)) {
        this.routes.splice(i, 1);
        n++;
      }
    }
    return n;
  }

  /** Longest prefix, then lowest metric, among routes alive at `now` (optionally on one interface). */
  lookup(dst: Uint8Array, dstAt: number, now: number, ifindex = 0): Ipv6Route | null {
    let best: Ipv6Route | null = null;
    for (const r of this.routes) {
      if (r.expiresAt <= now) continue;
      if (ifindex !== 0 && r.ifindex !== 0 && r.ifindex !== ifindex) continue;
      if (!prefixMatch6(dst, dstAt, r.prefix, r.prefixLength)) continue;
      if (best === null || r.prefixLength > best.prefixLength || (r.prefixLength === best.prefixLength && r.metric < best.metric)) best = r;
    }
    return best;
  }

  /** Drops expired routes; returns the next expiry. */
  expire(now: number): number {
    let next = Infinity;
    for (let i = this.routes.length - 1; i >= 0; i--) {
      const r = this.routes[i]!;
      if (r.expiresAt <= now) this.routes.splice(i, 1);
      else if (r.expiresAt < next) next = r.expiresAt;
    }
    return next;
  }

  private find(prefix: Ipv6Address, prefixLength: number, metric: number, ifindex: number): number {
    return this.routes.findIndex((r) => r.prefixLength === prefixLength && r.metric === metric && r.ifindex === ifindex && bytesEqual(r.prefix, prefix));
  }
}

function normalize6(route: Partial<Ipv6Route> & Pick<Ipv6Route, 'prefix' | 'prefixLength'>): Ipv6Route {
  const { prefixLength } = route;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 128 || route.prefix.length !== 16) throw new ErrnoError('EINVAL', 'route');
  return {
    prefix: maskPrefix6(route.prefix, prefixLength),
    prefixLength,
    gateway: route.gateway ? Uint8Array.from(route.gateway) : null,
    ifindex: route.ifindex ?? 0,
    metric: route.metric ?? 1024, // Linux's default IPv6 metric
    expiresAt: route.expiresAt ?? Infinity,
    origin: route.origin ?? 'static',
  };
}

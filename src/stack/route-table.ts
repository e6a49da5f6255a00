// IPv4 routing table: longest-prefix match, then lowest metric (Linux's fib lookup,
// reduced to one table). Routes can be added, replaced and removed at any time; the
// stack looks up every packet, so existing flows follow a change at once (KI-13).

import type { Ipv4Address } from '../wire/address.js';
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
}

export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
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
    const i = this.find((prefix & prefixMask(prefixLength)) >>> 0, prefixLength, metric);
    if (i < 0) throw new ErrnoError('ESRCH', 'route del');
    this.routes.splice(i, 1);
  }

  lookup(dst: Ipv4Address): Ipv4Route | null {
    let best: Ipv4Route | null = null;
    for (const r of this.routes) {
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
    prefix: (route.prefix & prefixMask(prefixLength)) >>> 0,
    prefixLength,
    gateway: route.gateway ?? null,
    metric: route.metric ?? 0,
    source: route.source ?? null,
  };
}

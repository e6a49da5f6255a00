// A link named on a command line or in configuration: `kind:name[,key=value…]`.
//
//   packet:veth0,netns=x            AF_PACKET on veth0 inside /run/netns/x
//   packet:eth1,bypass=off,fanout=7 without PACKET_QDISC_BYPASS, in fanout group 7
//   xdp:veth0,netns=x,mode=skb,queue=0,zerocopy=off
//   tap:tap0,netns=x,mac=02:00:00:00:00:01
//   vxlan:42,local=198.18.9.1,remote=198.18.9.2:4789,mtu=1450
//
// netns is a name under /run/netns (as `ip netns` makes them) or an absolute path. IPv6
// endpoints are written in brackets: remote=[fd00:9::2]:4789. Parsing is strict: an
// unknown kind or key, a missing value or a bad number is an error that says which.

export type XdpMode = 'auto' | 'native' | 'skb';
export type ZeroCopy = 'auto' | 'on' | 'off';

export interface Endpoint {
  address: string;
  port: number;
}

export type LinkSpec =
  | { kind: 'packet'; ifname: string; netns?: string; qdiscBypass?: boolean; fanout?: number }
  | { kind: 'xdp'; ifname: string; netns?: string; queue?: number; mode?: XdpMode; zeroCopy?: ZeroCopy }
  | { kind: 'tap'; name: string; netns?: string; mac?: string }
  | { kind: 'vxlan'; vni: number; local: Endpoint; remote: Endpoint; mtu?: number; mac?: string };

export class LinkSpecError extends Error {
  readonly code = 'ERR_INVALID_ARG_VALUE';
}

export const VXLAN_DEFAULT_PORT = 4789;

const KEYS: Record<LinkSpec['kind'], readonly string[]> = {
  packet: ['netns', 'bypass', 'fanout'],
  xdp: ['netns', 'queue', 'mode', 'zerocopy'],
  tap: ['netns', 'mac'],
  vxlan: ['local', 'remote', 'mtu', 'mac'],
};

const USAGE = 'a link is packet:IFNAME, xdp:IFNAME, tap:NAME or vxlan:VNI,local=ADDR,remote=ADDR[:PORT], with ,key=value options';

/** The path of a namespace given by name (`ip netns` makes /run/netns/NAME) or by path (anything with a slash). */
export function netnsPath(ns: string): string {
  return ns.includes('/') ? ns : `/run/netns/${ns}`;
}

function integer(spec: string, key: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new LinkSpecError(`${spec}: ${key} must be an integer from ${min} to ${max}, not "${v}"`);
  return Number(v);
}

function onOff(spec: string, key: string, v: string): boolean {
  if (v === 'on' || v === '1' || v === 'yes') return true;
  if (v === 'off' || v === '0' || v === 'no') return false;
  throw new LinkSpecError(`${spec}: ${key} must be on or off, not "${v}"`);
}

function choice<T extends string>(spec: string, key: string, v: string, options: readonly T[]): T {
  if (!(options as readonly string[]).includes(v)) throw new LinkSpecError(`${spec}: ${key} must be ${options.join(', ')}; not "${v}"`);
  return v as T;
}

function mac(spec: string, v: string): string {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(v)) throw new LinkSpecError(`${spec}: mac must be six hex bytes like 02:00:00:00:00:01, not "${v}"`);
  return v.toLowerCase();
}

/** ADDR, ADDR:PORT, [IPV6] or [IPV6]:PORT. */
function endpoint(spec: string, key: string, v: string): Endpoint {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(v) ?? /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(v);
  if (m === null) throw new LinkSpecError(`${spec}: ${key} must be an IPv4 address or a bracketed IPv6 address, with an optional :port (${key}=198.18.9.1:4789, ${key}=[fd00:9::1]); not "${v}"`);
  return { address: m[1]!, port: m[2] === undefined ? VXLAN_DEFAULT_PORT : integer(spec, `${key} port`, m[2], 1, 65535) };
}

export function parseLinkSpec(spec: string): LinkSpec {
  const colon = spec.indexOf(':');
  if (colon < 0) throw new LinkSpecError(`"${spec}": ${USAGE}`);
  const kind = spec.slice(0, colon);
  if (!(kind in KEYS)) throw new LinkSpecError(`"${spec}": unknown link kind "${kind}"; ${USAGE}`);
  const [main = '', ...rest] = spec.slice(colon + 1).split(',');
  if (main === '' || main.includes('=')) throw new LinkSpecError(`"${spec}": ${kind} needs ${kind === 'vxlan' ? 'a VNI' : 'an interface name'} after "${kind}:"`);
  const opts = new Map<string, string>();
  for (const kv of rest) {
    const eq = kv.indexOf('=');
    const key = eq < 0 ? kv : kv.slice(0, eq);
    if (!KEYS[kind as LinkSpec['kind']].includes(key)) throw new LinkSpecError(`"${spec}": ${kind} has no option "${key}" (it takes ${KEYS[kind as LinkSpec['kind']].join(', ')})`);
    if (eq < 0 || eq === kv.length - 1) throw new LinkSpecError(`"${spec}": option ${key} needs a value (${key}=…)`);
    if (opts.has(key)) throw new LinkSpecError(`"${spec}": option ${key} is given twice`);
    opts.set(key, kv.slice(eq + 1));
  }
  const ns = opts.get('netns');
  // Linux interface names: at most IFNAMSIZ − 1 = 15 bytes, no '/', no whitespace (dev_valid_name).
  if (kind !== 'vxlan' && (main.length > 15 || /[\s/:]/.test(main))) throw new LinkSpecError(`"${spec}": "${main}" is not a valid interface name (at most 15 characters, no '/', ':' or spaces)`);
  switch (kind as LinkSpec['kind']) {
    case 'packet': {
      const bypass = opts.get('bypass');
      const fanout = opts.get('fanout');
      return {
        kind: 'packet',
        ifname: main,
        ...(ns !== undefined ? { netns: netnsPath(ns) } : {}),
        ...(bypass !== undefined ? { qdiscBypass: onOff(spec, 'bypass', bypass) } : {}),
        ...(fanout !== undefined ? { fanout: integer(spec, 'fanout', fanout, 0, 65535) } : {}),
      };
    }
    case 'xdp': {
      const queue = opts.get('queue');
      const mode = opts.get('mode');
      const zc = opts.get('zerocopy');
      return {
        kind: 'xdp',
        ifname: main,
        ...(ns !== undefined ? { netns: netnsPath(ns) } : {}),
        ...(queue !== undefined ? { queue: integer(spec, 'queue', queue, 0, 1023) } : {}),
        ...(mode !== undefined ? { mode: choice(spec, 'mode', mode, ['auto', 'native', 'skb'] as const) } : {}),
        ...(zc !== undefined ? { zeroCopy: choice(spec, 'zerocopy', zc, ['auto', 'on', 'off'] as const) } : {}),
      };
    }
    case 'tap': {
      const m = opts.get('mac');
      return { kind: 'tap', name: main, ...(ns !== undefined ? { netns: netnsPath(ns) } : {}), ...(m !== undefined ? { mac: mac(spec, m) } : {}) };
    }
    case 'vxlan': {
      const vni = integer(spec, 'VNI', main, 0, 0xffffff);
      const local = opts.get('local');
      const remote = opts.get('remote');
      if (local === undefined || remote === undefined) throw new LinkSpecError(`"${spec}": vxlan needs local=ADDR and remote=ADDR (the outer UDP endpoints)`);
      const l = endpoint(spec, 'local', local);
      const r = endpoint(spec, 'remote', remote);
      if (l.address.includes(':') !== r.address.includes(':')) throw new LinkSpecError(`"${spec}": local and remote must both be IPv4 or both IPv6`);
      const mtu = opts.get('mtu');
      const m = opts.get('mac');
      return {
        kind: 'vxlan',
        vni,
        local: l,
        remote: r,
        ...(mtu !== undefined ? { mtu: integer(spec, 'mtu', mtu, 68, 65470) } : {}),
        ...(m !== undefined ? { mac: mac(spec, m) } : {}),
      };
    }
  }
}

/** The spec back as text (parseLinkSpec(formatLinkSpec(s)) equals s). */
export function formatLinkSpec(s: LinkSpec): string {
  const ep = (e: Endpoint): string => `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}`;
  const parts: string[] = [];
  switch (s.kind) {
    case 'packet':
      parts.push(`packet:${s.ifname}`);
      if (s.netns !== undefined) parts.push(`netns=${s.netns}`);
      if (s.qdiscBypass !== undefined) parts.push(`bypass=${s.qdiscBypass ? 'on' : 'off'}`);
      if (s.fanout !== undefined) parts.push(`fanout=${s.fanout}`);
      break;
    case 'xdp':
      parts.push(`xdp:${s.ifname}`);
      if (s.netns !== undefined) parts.push(`netns=${s.netns}`);
      if (s.queue !== undefined) parts.push(`queue=${s.queue}`);
      if (s.mode !== undefined) parts.push(`mode=${s.mode}`);
      if (s.zeroCopy !== undefined) parts.push(`zerocopy=${s.zeroCopy}`);
      break;
    case 'tap':
      parts.push(`tap:${s.name}`);
      if (s.netns !== undefined) parts.push(`netns=${s.netns}`);
      if (s.mac !== undefined) parts.push(`mac=${s.mac}`);
      break;
    case 'vxlan':
      parts.push(`vxlan:${s.vni}`, `local=${ep(s.local)}`, `remote=${ep(s.remote)}`);
      if (s.mtu !== undefined) parts.push(`mtu=${s.mtu}`);
      if (s.mac !== undefined) parts.push(`mac=${s.mac}`);
      break;
  }
  return parts.join(',');
}

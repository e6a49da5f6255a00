// Field-by-field agreement with an independent decoder: every fixture (frames from the
// Linux kernel and from scapy) was decoded by tshark when it was made (the .fields.json
// beside it, see scripts/fixtures/). Here our codecs decode the same frames and every
// field tshark reported must come out identical. A field tshark reports that we do not
// derive fails the test unless it is listed in IGNORED with the reason.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { readCapture } from '../../src/link/pcap.js';
import { dissectFrame, type Layer } from '../../src/wire/dissect.js';
import { parseIpv4Options } from '../../src/wire/ipv4.js';
import { ipv6Fragment, type Ipv6ExtensionHeader } from '../../src/wire/ipv6.js';
import { formatIpv4, formatIpv6, formatMac } from '../../src/wire/address.js';
import { isParseError } from '../../src/wire/error.js';
import { igmpQueryVersion } from '../../src/wire/igmp.js';
import type { NdpOption } from '../../src/wire/ndp.js';
import { TcpOptionKind } from '../../src/wire/tcp.js';

type Value = string | number;
type Fields = Map<string, Value[]>;

const IGNORED: Record<string, string> = {
  'ieee8021ah.etype': 'tshark files the type after an 802.1ad tag under 802.1ah; the value is checked through vlan/eth',
};

const PROTOCOL_OF: Record<string, string> = {
  ethernet: 'eth', arp: 'arp', ipv4: 'ip', ipv6: 'ipv6', icmpv4: 'icmp', icmpv6: 'icmpv6', igmp: 'igmp', udp: 'udp', tcp: 'tcp', vxlan: 'vxlan',
};

function add(f: Fields, key: string, v: Value | boolean): void {
  const list = f.get(key) ?? [];
  list.push(typeof v === 'boolean' ? (v ? 1 : 0) : v);
  f.set(key, list);
}

function extCode(h: Ipv6ExtensionHeader): number {
  return { hopByHop: 0, destinationOptions: 60, routing: 43, fragment: 44, authentication: 51 }[h.kind];
}
function extLen(h: Ipv6ExtensionHeader): number {
  switch (h.kind) {
    case 'hopByHop':
    case 'destinationOptions': {
      let n = 2;
      for (const o of h.options) n += o.type === 0 ? 1 : 2 + o.data.length;
      return n / 8 - 1;
    }
    case 'routing': return (4 + h.data.length) / 8 - 1;
    case 'fragment': return 0;
    case 'authentication': return (2 + h.data.length) / 4 - 2;
  }
}

function ndpOptions(f: Fields, options: NdpOption[]): void {
  for (const o of options) {
    const type = { sourceLinkLayerAddress: 1, targetLinkLayerAddress: 2, prefixInformation: 3, redirectedHeader: 4, mtu: 5, rdnss: 25, unknown: -1 }[o.kind];
    add(f, 'icmpv6.opt.type', o.kind === 'unknown' ? o.type : type);
    switch (o.kind) {
      case 'sourceLinkLayerAddress':
      case 'targetLinkLayerAddress':
        add(f, 'icmpv6.opt.length', (o.address.length + 2) / 8);
        add(f, 'icmpv6.opt.linkaddr', formatMac(o.address));
        break;
      case 'prefixInformation':
        add(f, 'icmpv6.opt.length', 4);
        add(f, 'icmpv6.opt.prefix.length', o.prefixLength);
        add(f, 'icmpv6.opt.prefix.flag', (o.onLink ? 0x80 : 0) | (o.autonomous ? 0x40 : 0) | o.otherFlags);
        add(f, 'icmpv6.opt.prefix.valid_lifetime', o.validLifetime);
        add(f, 'icmpv6.opt.prefix.preferred_lifetime', o.preferredLifetime);
        add(f, 'icmpv6.opt.prefix', formatIpv6(o.prefix));
        break;
      case 'redirectedHeader':
        add(f, 'icmpv6.opt.length', (8 + o.packet.length) / 8);
        break;
      case 'mtu':
        add(f, 'icmpv6.opt.length', 1);
        add(f, 'icmpv6.opt.mtu', o.mtu);
        break;
      case 'rdnss':
        add(f, 'icmpv6.opt.length', 1 + 2 * o.servers.length);
        break;
      case 'unknown':
        add(f, 'icmpv6.opt.length', (o.data.length + 2) / 8);
        break;
    }
  }
}

function layerFields(f: Fields, l: Layer, next: Layer | undefined): void {
  switch (l.layer) {
    case 'ethernet': {
      const r = l.repr;
      add(f, 'eth.dst', formatMac(r.dst));
      add(f, 'eth.src', formatMac(r.src));
      add(f, 'eth.type', r.vlans.length ? r.vlans[0]!.tpid : r.etherType);
      r.vlans.forEach((t, i) => {
        const p = t.tpid === 0x8100 ? 'vlan' : 'ieee8021ad';
        add(f, `${p}.priority`, t.pcp);
        add(f, `${p}.dei`, t.dei);
        add(f, `${p}.id`, t.vid);
        if (p === 'vlan') add(f, 'vlan.etype', i + 1 < r.vlans.length ? r.vlans[i + 1]!.tpid : r.etherType);
      });
      break;
    }
    case 'arp': {
      const r = l.repr;
      add(f, 'arp.hw.type', 1);
      add(f, 'arp.proto.type', 0x0800);
      add(f, 'arp.hw.size', 6);
      add(f, 'arp.proto.size', 4);
      add(f, 'arp.opcode', r.operation);
      add(f, 'arp.src.hw_mac', formatMac(r.senderMac));
      add(f, 'arp.src.proto_ipv4', formatIpv4(r.senderIp));
      add(f, 'arp.dst.hw_mac', formatMac(r.targetMac));
      add(f, 'arp.dst.proto_ipv4', formatIpv4(r.targetIp));
      break;
    }
    case 'ipv4': {
      const r = l.repr;
      add(f, 'ip.version', 4);
      add(f, 'ip.hdr_len', 20 + r.options.length);
      add(f, 'ip.dsfield', r.tos);
      add(f, 'ip.len', 20 + r.options.length + r.payload.length);
      add(f, 'ip.id', r.identification);
      add(f, 'ip.flags', (r.dontFragment ? 2 : 0) | (r.moreFragments ? 1 : 0));
      add(f, 'ip.flags.df', r.dontFragment);
      add(f, 'ip.flags.mf', r.moreFragments);
      add(f, 'ip.frag_offset', r.fragmentOffset);
      add(f, 'ip.ttl', r.ttl);
      add(f, 'ip.proto', r.protocol);
      add(f, 'ip.checksum', r.checksum!);
      add(f, 'ip.checksum.status', 1); // parse verified it
      add(f, 'ip.src', formatIpv4(r.src));
      add(f, 'ip.dst', formatIpv4(r.dst));
      const opts = parseIpv4Options(r.options);
      assert.ok(!isParseError(opts));
      for (const o of opts) {
        add(f, 'ip.opt.type', o.type);
        if (o.type > 1) add(f, 'ip.opt.len', o.data.length + 2);
        if (o.type === 7 || o.type === 68 || o.type === 131 || o.type === 137) add(f, 'ip.opt.ptr', o.data[0]!);
      }
      break;
    }
    case 'ipv6': {
      const r = l.repr;
      const hs = r.extensionHeaders;
      add(f, 'ipv6.version', 6);
      add(f, 'ipv6.tclass', r.trafficClass);
      add(f, 'ipv6.flow', r.flowLabel);
      let plen = r.payload.length;
      for (const h of hs) plen += (h.kind === 'fragment' ? 8 : h.kind === 'authentication' ? (extLen(h) + 2) * 4 : (extLen(h) + 1) * 8);
      add(f, 'ipv6.plen', plen);
      add(f, 'ipv6.nxt', hs.length ? extCode(hs[0]!) : r.upperProtocol);
      add(f, 'ipv6.hlim', r.hopLimit);
      add(f, 'ipv6.src', formatIpv6(r.src));
      add(f, 'ipv6.dst', formatIpv6(r.dst));
      hs.forEach((h, i) => {
        const nxt = i + 1 < hs.length ? extCode(hs[i + 1]!) : r.upperProtocol;
        const p = { hopByHop: 'hopopts', destinationOptions: 'dstopts', routing: 'routing', fragment: 'fraghdr', authentication: 'ah' }[h.kind];
        add(f, `ipv6.${p}.nxt`, nxt);
        if (h.kind !== 'fragment') add(f, `ipv6.${p}.len`, extLen(h));
        if (h.kind === 'hopByHop' || h.kind === 'destinationOptions') {
          for (const o of h.options) {
            add(f, 'ipv6.opt.type', o.type);
            if (o.type !== 0) add(f, 'ipv6.opt.length', o.data.length);
          }
        } else if (h.kind === 'routing') {
          add(f, 'ipv6.routing.type', h.routingType);
          add(f, 'ipv6.routing.segleft', h.segmentsLeft);
        } else if (h.kind === 'fragment') {
          add(f, 'ipv6.fraghdr.offset', h.fragmentOffset);
          add(f, 'ipv6.fraghdr.more', h.moreFragments);
          add(f, 'ipv6.fraghdr.ident', h.identification);
        }
      });
      break;
    }
    case 'icmpv4': {
      const r = l.repr;
      const type = { echoRequest: 8, echoReply: 0, destinationUnreachable: 3, timeExceeded: 11, redirect: 5, parameterProblem: 12, other: -1 }[r.kind];
      add(f, 'icmp.type', r.kind === 'other' ? r.type : type);
      add(f, 'icmp.code', r.code);
      add(f, 'icmp.checksum', r.checksum!);
      add(f, 'icmp.checksum.status', 1);
      if (r.kind === 'echoRequest' || r.kind === 'echoReply') {
        add(f, 'icmp.ident', r.identifier);
        add(f, 'icmp.seq', r.sequence);
      } else if (r.kind === 'destinationUnreachable' && r.code === 4) add(f, 'icmp.mtu', r.nextHopMtu);
      else if (r.kind === 'parameterProblem') add(f, 'icmp.pointer', r.pointer);
      else if (r.kind === 'redirect') add(f, 'icmp.redir_gw', formatIpv4(r.gateway));
      break;
    }
    case 'icmpv6': {
      const r = l.repr;
      const types: Record<string, number> = {
        echoRequest: 128, echoReply: 129, destinationUnreachable: 1, packetTooBig: 2, timeExceeded: 3, parameterProblem: 4, routerSolicitation: 133,
        routerAdvertisement: 134, neighborSolicitation: 135, neighborAdvertisement: 136, redirect: 137, mldV1Query: 130, mldV2Query: 130,
        mldV1Report: 131, mldV1Done: 132, mldV2Report: 143,
      };
      add(f, 'icmpv6.type', r.kind === 'other' ? r.type : types[r.kind]!);
      add(f, 'icmpv6.code', r.code);
      add(f, 'icmpv6.checksum', r.checksum!);
      add(f, 'icmpv6.checksum.status', 1);
      switch (r.kind) {
        case 'echoRequest':
        case 'echoReply':
          add(f, 'icmpv6.echo.identifier', r.identifier);
          add(f, 'icmpv6.echo.sequence_number', r.sequence);
          break;
        case 'packetTooBig': add(f, 'icmpv6.mtu', r.mtu); break;
        case 'parameterProblem': add(f, 'icmpv6.pointer', r.pointer); break;
        case 'routerSolicitation': ndpOptions(f, r.options); break;
        case 'routerAdvertisement':
          add(f, 'icmpv6.nd.ra.cur_hop_limit', r.curHopLimit);
          add(f, 'icmpv6.nd.ra.flag', r.flags);
          add(f, 'icmpv6.nd.ra.router_lifetime', r.routerLifetime);
          add(f, 'icmpv6.nd.ra.reachable_time', r.reachableTime);
          add(f, 'icmpv6.nd.ra.retrans_timer', r.retransTimer);
          ndpOptions(f, r.options);
          break;
        case 'neighborSolicitation':
          add(f, 'icmpv6.nd.ns.target_address', formatIpv6(r.target));
          ndpOptions(f, r.options);
          break;
        case 'neighborAdvertisement':
          add(f, 'icmpv6.nd.na.flag', r.flags);
          add(f, 'icmpv6.nd.na.target_address', formatIpv6(r.target));
          ndpOptions(f, r.options);
          break;
        case 'redirect':
          add(f, 'icmpv6.nd.rd.target_address', formatIpv6(r.target));
          add(f, 'icmpv6.rd.na.destination_address', formatIpv6(r.destination));
          ndpOptions(f, r.options);
          break;
        case 'mldV1Query':
        case 'mldV1Report':
        case 'mldV1Done':
          add(f, 'icmpv6.mld.maximum_response_delay', r.maxResponseDelay);
          add(f, 'icmpv6.mld.multicast_address', formatIpv6(r.group));
          break;
        case 'mldV2Query':
          add(f, 'icmpv6.mld.maximum_response_code', r.maxResponseCode);
          add(f, 'icmpv6.mld.multicast_address', formatIpv6(r.group));
          add(f, 'icmpv6.mld.flag', (r.reserved2 << 4) | (r.suppressRouterProcessing ? 8 : 0) | r.qrv);
          add(f, 'icmpv6.mld.qqi', r.qqic);
          add(f, 'icmpv6.mld.nb_sources', r.sources.length);
          for (const s of r.sources) add(f, 'icmpv6.mld.source_address', formatIpv6(s));
          break;
        case 'mldV2Report':
          add(f, 'icmpv6.mldr.nb_mcast_records', r.records.length);
          for (const rec of r.records) {
            add(f, 'icmpv6.mldr.mar.record_type', rec.recordType);
            add(f, 'icmpv6.mldr.mar.aux_data_len', rec.auxData.length / 4);
            add(f, 'icmpv6.mldr.mar.nb_sources', rec.sources.length);
            add(f, 'icmpv6.mldr.mar.multicast_address', formatIpv6(rec.group));
            for (const s of rec.sources) add(f, 'icmpv6.mldr.mar.source_address', formatIpv6(s));
          }
          break;
        default:
      }
      break;
    }
    case 'igmp': {
      const r = l.repr;
      const version = r.kind === 'reportV1' ? 1 : r.kind === 'reportV2' || r.kind === 'leave' ? 2 : r.kind === 'reportV3' ? 3 : igmpQueryVersion(r);
      add(f, 'igmp.version', version);
      add(f, 'igmp.type', r.kind === 'other' ? r.type : { query: 0x11, queryV3: 0x11, reportV1: 0x12, reportV2: 0x16, leave: 0x17, reportV3: 0x22 }[r.kind]);
      if ((r.kind === 'query' && version === 2) || r.kind === 'queryV3' || r.kind === 'reportV2' || r.kind === 'leave') add(f, 'igmp.max_resp', r.maxRespCode);
      add(f, 'igmp.checksum', r.checksum!);
      add(f, 'igmp.checksum.status', 1);
      if (r.kind === 'query' || r.kind === 'reportV1' || r.kind === 'reportV2' || r.kind === 'leave') add(f, 'igmp.maddr', formatIpv4(r.group));
      if (r.kind === 'queryV3') {
        add(f, 'igmp.maddr', formatIpv4(r.group));
        add(f, 'igmp.s', r.suppressRouterProcessing);
        add(f, 'igmp.qrv', r.qrv);
        add(f, 'igmp.qqic', r.qqic);
        add(f, 'igmp.num_src', r.sources.length);
        for (const s of r.sources) add(f, 'igmp.saddr', formatIpv4(s));
      }
      if (r.kind === 'reportV3') {
        add(f, 'igmp.num_grp_recs', r.records.length);
        for (const rec of r.records) {
          add(f, 'igmp.record_type', rec.recordType);
          add(f, 'igmp.aux_data_len', rec.auxData.length / 4);
          add(f, 'igmp.num_src', rec.sources.length);
          add(f, 'igmp.maddr', formatIpv4(rec.group));
          for (const s of rec.sources) add(f, 'igmp.saddr', formatIpv4(s));
        }
      }
      break;
    }
    case 'udp': {
      const r = l.repr;
      add(f, 'udp.srcport', r.srcPort);
      add(f, 'udp.dstport', r.dstPort);
      add(f, 'udp.length', 8 + r.payload.length);
      add(f, 'udp.checksum', r.checksum!);
      add(f, 'udp.checksum.status', r.checksum === 0 ? 3 : 1); // 3: none present (IPv4 zero checksum)
      break;
    }
    case 'tcp': {
      const r = l.repr;
      add(f, 'tcp.srcport', r.srcPort);
      add(f, 'tcp.dstport', r.dstPort);
      add(f, 'tcp.seq_raw', r.seq);
      add(f, 'tcp.ack_raw', r.ack);
      let optLen = 0;
      for (const o of r.options) optLen += o.kind === 'nop' || o.kind === 'eol' ? 1 : o.kind === 'mss' ? 4 : o.kind === 'wscale' ? 3 : o.kind === 'sackPermitted' ? 2 : o.kind === 'timestamps' ? 10 : o.kind === 'sack' ? 2 + 8 * o.blocks.length : 2 + o.data.length;
      add(f, 'tcp.hdr_len', 20 + optLen + (r.optionPadding?.length ?? 0));
      add(f, 'tcp.flags', r.flags);
      add(f, 'tcp.window_size_value', r.window);
      add(f, 'tcp.checksum', r.checksum!);
      add(f, 'tcp.checksum.status', 1);
      add(f, 'tcp.urgent_pointer', r.urgentPointer);
      for (const o of r.options) {
        const kind = { eol: 0, nop: 1, mss: 2, wscale: 3, sackPermitted: 4, sack: 5, timestamps: 8, unknown: -1 }[o.kind];
        add(f, 'tcp.option_kind', o.kind === 'unknown' ? o.code : kind);
        switch (o.kind) {
          case 'mss': add(f, 'tcp.option_len', 4); add(f, 'tcp.options.mss_val', o.value); break;
          case 'wscale': add(f, 'tcp.option_len', 3); add(f, 'tcp.options.wscale.shift', o.shift); break;
          case 'sackPermitted': add(f, 'tcp.option_len', 2); break;
          case 'timestamps': add(f, 'tcp.option_len', 10); add(f, 'tcp.options.timestamp.tsval', o.tsVal); add(f, 'tcp.options.timestamp.tsecr', o.tsEcr); break;
          case 'sack':
            add(f, 'tcp.option_len', 2 + 8 * o.blocks.length);
            for (const [le, re] of o.blocks) { add(f, 'tcp.options.sack_le', le); add(f, 'tcp.options.sack_re', re); }
            break;
          case 'unknown': add(f, 'tcp.option_len', 2 + o.data.length); break;
          default:
        }
      }
      // tshark lists each zero byte of padding after an EOL as another EOL.
      for (const b of r.optionPadding ?? []) if (b === TcpOptionKind.EndOfList) add(f, 'tcp.option_kind', 0);
      break;
    }
    case 'vxlan': {
      const r = l.repr;
      add(f, 'vxlan.flags', (r.flags << 8) | (r.reserved1 >>> 16));
      add(f, 'vxlan.vni', r.vni);
      break;
    }
  }
  void next;
}

interface FieldsFile {
  frames: Array<{ number: number; protocols: string; fields: Record<string, Value[]> }>;
}

const root = new URL('../../../test/fixtures/', import.meta.url);
const files: string[] = [];
for (const dir of ['kernel', 'scapy']) {
  for (const f of readdirSync(new URL(`${dir}/`, root))) if (f.endsWith('.pcap')) files.push(`${dir}/${f}`);
}

for (const name of files) {
  test(`tshark agrees with our codecs on every field of ${name}`, () => {
    const expected = JSON.parse(readFileSync(new URL(name.replace(/\.pcap$/, '.fields.json'), root), 'utf8')) as FieldsFile;
    const cap = readCapture(readFileSync(new URL(name, root)));
    assert.ok(!isParseError(cap), String(cap));
    assert.equal(cap.packets.length, expected.frames.length);
    let compared = 0;
    cap.packets.forEach((p, i) => {
      const want = expected.frames[i]!;
      const d = dissectFrame(p.data);
      assert.equal(d.error, null, `frame ${want.number}: ${d.error}`);
      const ours: Fields = new Map();
      d.layers.forEach((l, k) => layerFields(ours, l, d.layers[k + 1]));
      const ourProtocols = new Set(d.layers.map((l) => PROTOCOL_OF[l.layer]!));
      // Packets quoted inside ICMP errors and redirects, and transport headers inside IP
      // fragments, are decoded by tshark but not by our dissector: there, ours must be a prefix.
      const fragment = d.layers.some((l) => (l.layer === 'ipv4' && (l.repr.moreFragments || l.repr.fragmentOffset > 0)) || (l.layer === 'ipv6' && ipv6Fragment(l.repr)));
      const quoted = /icmp(v6)?:.*ip/.test(want.protocols) || fragment;
      for (const [key, values] of Object.entries(want.fields)) {
        if (key in IGNORED) continue;
        const proto = key.startsWith('vlan.') || key.startsWith('ieee8021ad.') ? 'eth' : key.split('.')[0]!;
        if (!ourProtocols.has(proto)) {
          assert.ok(quoted, `frame ${want.number} (${want.protocols}): tshark has ${key} but we decoded no ${proto} layer`);
          continue;
        }
        const mine = ours.get(key);
        if (mine === undefined && quoted) continue; // a field only the quoted packet has
        assert.ok(mine !== undefined, `frame ${want.number} (${want.protocols}): we do not derive ${key} = ${JSON.stringify(values)}`);
        const cmp = quoted ? values.slice(0, mine.length) : values;
        assert.deepEqual(mine, cmp, `frame ${want.number} (${want.protocols}): ${key}`);
        compared += mine.length;
      }
    });
    assert.ok(compared > 0);
  });
}

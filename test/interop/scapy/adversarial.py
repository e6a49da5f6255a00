#!/usr/bin/env python3
# Adversarial cases against a TCP/IP stack on a real link, with scapy (plain Python 3).
#
#   adversarial.py --iface veth0 --dst-ip 198.18.0.1 --dst-mac 02:.. --src-ip 198.18.0.3
#                  --src-mac 02:00:00:00:00:03 [--cases a,b,c] [--list]
#
# Prints one JSON line per case: {"name", "ok", "detail"} (detail cites the RFC). The
# target must have static neighbours src-ip -> src-mac and alt-ip -> alt-mac, a TCP echo
# server on --echo, a TCP sink that never reads (small receive buffer) on --sink, a TCP
# server that sends --sender-bytes of the alphabet on accept on --sender, a listener with
# a tiny backlog (echo) on --flood, a UDP echo socket on --udp-echo, and nothing on
# --closed. Frames that are malformed on purpose (truncated headers, bad lengths) are sent
# from --bad-mac, so a capture can tell them apart. Every wait is bounded.
#
# Frames are sent and received on raw AF_PACKET sockets; scapy only builds and dissects.

import argparse
import json
import os
import random
import socket
import sys
import threading
import time

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Ether, Raw, IPOption, IPv6, ICMPv6EchoRequest, ICMPv6EchoReply,
                       IPv6ExtHdrRouting, ICMPv6ParamProblem, ICMPv6ND_NS, ICMPv6ND_NA, ICMPv6NDOptSrcLLAddr)  # noqa: E402

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
ALPHABET = b'abcdefghijklmnopqrstuvwxyz'


def tcp_data(p):
    """The TCP payload of frame p, without Ethernet padding."""
    ip = bytes(p[IP])[:p[IP].len]
    at = p[IP].ihl * 4 + p[TCP].dataofs * 4
    return ip[at:]


def icmp_data(p):
    """The bytes after the 8-byte ICMP header, without Ethernet padding."""
    ip = bytes(p[IP])[:p[IP].len]
    return ip[p[IP].ihl * 4 + 8:]


def pattern(n):
    return (ALPHABET * (n // len(ALPHABET) + 1))[:n]


class Wire:
    """A raw socket to send frames, and a thread keeping every frame the target sends."""

    def __init__(self, iface, target_mac):
        self.iface = iface
        self.target_mac = bytes.fromhex(target_mac.replace(':', ''))
        self.tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.tx.bind((iface, 0))
        self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.rx.bind((iface, 0))
        self.rx.settimeout(0.05)
        self.frames = []  # (time, scapy Ether) from the target only
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while self.running:
            try:
                data, addr = self.rx.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING or data[6:12] != self.target_mac:
                continue
            try:
                p = Ether(data)
            except Exception:  # a frame scapy cannot dissect is still a frame
                p = Raw(data)
            with self.cond:
                self.frames.append((time.monotonic(), p))
                self.cond.notify_all()

    def send(self, frame):
        self.tx.send(bytes(frame))

    def mark(self):
        with self.lock:
            return len(self.frames)

    def expect(self, pred, timeout=1.0, start=None):
        """The first frame from the target since `start` matching pred, or None after timeout."""
        i = self.mark() if start is None else start
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                while i < len(self.frames):
                    p = self.frames[i][1]
                    i += 1
                    try:
                        if pred(p):
                            return p
                    except (AttributeError, IndexError, TypeError):
                        pass
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def after(self, p, start):
        """The index just past frame p (found at or after start)."""
        with self.lock:
            for k in range(start, len(self.frames)):
                if self.frames[k][1] is p:
                    return k + 1
        return len(self.frames)

    def collect(self, pred, duration, start):
        """Every frame from the target matching pred, from `start` until `duration` has passed."""
        time.sleep(duration)
        with self.lock:
            out = []
            for _, p in self.frames[start:]:
                try:
                    if pred(p):
                        out.append(p)
                except (AttributeError, IndexError, TypeError):
                    pass
            return out

    def close(self):
        self.running = False
        self.thread.join(1)
        self.tx.close()
        self.rx.close()


class Ctx:
    def __init__(self, a):
        self.a = a
        self.w = Wire(a.iface, a.dst_mac)
        self.dst = a.dst_ip
        self.src = a.src_ip
        self.ports = iter(range(a.sport_base, a.sport_base + 5000))
        self.ip_id = iter(range(0x4000, 0x8000))

    def eth(self, bad=False, src_mac=None):
        return Ether(src=self.a.bad_mac if bad else (src_mac or self.a.src_mac), dst=self.a.dst_mac)

    def sport(self):
        return next(self.ports)

    def ipid(self):
        return next(self.ip_id)

    def ip(self, **kw):
        kw.setdefault('src', self.src)
        kw.setdefault('dst', self.dst)
        kw.setdefault('id', self.ipid())
        return IP(**kw)

    def echo_req(self, ident, seq=1, data=b'xlio-adversarial', **ipkw):
        return self.eth() / self.ip(**ipkw) / ICMP(type=8, id=ident, seq=seq) / Raw(data)

    def is_echo_reply(self, ident):
        return lambda p: p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id == ident

    def alive(self):
        """The target still answers an echo request."""
        ident = random.randrange(0x100, 0xffff)
        m = self.w.mark()
        self.w.send(self.echo_req(ident))
        return self.w.expect(self.is_echo_reply(ident), 1.0, m) is not None


class Flow:
    """A handcrafted TCP connection from src:sport to the target."""

    def __init__(self, ctx, dport, src=None, sport=None, mss=1460, win=65535, ts=False):
        self.c = ctx
        self.dport = dport
        self.src = src or ctx.src
        self.sport = sport or ctx.sport()
        self.isn = random.randrange(1 << 32)
        self.snd_nxt = self.isn
        self.rcv_nxt = None
        self.mss = mss
        self.win = win
        self.synack = None

    def pkt(self, flags, seq=None, ack=None, data=b'', win=None, options=None, bad=False, **tcpkw):
        t = TCP(sport=self.sport, dport=self.dport, flags=flags, seq=self.snd_nxt if seq is None else seq,
                ack=(self.rcv_nxt or 0) if ack is None else ack, window=self.win if win is None else win,
                options=options or [], **tcpkw)
        p = self.c.eth(bad=bad) / self.c.ip(src=self.src) / t
        if data:
            p = p / Raw(data)
        return p

    def mine(self, p):
        return p.haslayer(TCP) and p[IP].dst == self.src and p[TCP].sport == self.dport and p[TCP].dport == self.sport

    def send(self, *args, **kw):
        self.c.w.send(self.pkt(*args, **kw))

    def expect(self, pred=lambda p: True, timeout=1.0, start=None):
        return self.c.w.expect(lambda p: self.mine(p) and pred(p), timeout, start)

    def connect(self, options=None):
        opts = [('MSS', self.mss)] if options is None else options
        m = self.c.w.mark()
        self.send('S', seq=self.isn, ack=0, options=opts)
        sa = self.expect(lambda p: p[TCP].flags & 0x12 == 0x12, 1.0, m)
        if sa is None:
            return False
        self.synack = sa
        self.snd_nxt = (self.isn + 1) & 0xffffffff
        self.rcv_nxt = (sa[TCP].seq + 1) & 0xffffffff
        self.send('A')
        return True

    def send_data(self, data, seq=None):
        self.send('PA', seq=seq, data=data)
        if seq is None:
            self.snd_nxt = (self.snd_nxt + len(data)) & 0xffffffff

    def read_echo(self, n, timeout=1.5, start=0):
        """Collects n bytes of in-order data from the target (ACKing it); returns them."""
        got = b''
        deadline = time.monotonic() + timeout
        i = start
        while len(got) < n and time.monotonic() < deadline:
            p = self.expect(lambda p: len(tcp_data(p)) > 0, deadline - time.monotonic(), i)
            if p is None:
                break
            i = self.c.w.after(p, i)
            seq = p[TCP].seq
            data = tcp_data(p)
            off = (self.rcv_nxt - seq) & 0xffffffff
            if off < len(data):
                got += data[off:]
                self.rcv_nxt = (seq + len(data)) & 0xffffffff
                self.send('A')
        return got

    def reset(self):
        self.send('R', ack=0)


def result(ok, detail):
    return bool(ok), detail


# ------------------------------------------------------------------------------------------
# Cases. Each returns (ok, detail); the name says what is checked, the detail cites the RFC.

CASES = {}


def case(name):
    def reg(fn):
        CASES[name] = fn
        return fn
    return reg


def no_echo(c, build, why, wait=0.4):
    ident = random.randrange(0x100, 0xffff)
    m = c.w.mark()
    c.w.send(build(ident))
    r = c.w.expect(c.is_echo_reply(ident), wait, m)
    return result(r is None and c.alive(), why + ('' if r is None else ': but an echo reply came'))


# --- IPv4 ---

@case('ipv4-echo-baseline')
def _(c):
    ident = 0x1111
    m = c.w.mark()
    c.w.send(c.echo_req(ident, data=b'baseline'))
    r = c.w.expect(c.is_echo_reply(ident), 1.0, m)
    return result(r is not None and icmp_data(r) == b'baseline', 'RFC 1122 §3.2.2.6: echo reply with the same data')


@case('ipv4-bad-header-checksum')
def _(c):
    return no_echo(c, lambda i: c.eth() / c.ip(chksum=0x1234) / ICMP(id=i) / Raw(b'x' * 16),
                   'RFC 1122 §3.2.1.2: a datagram with a bad header checksum is silently discarded')


@case('ipv4-ihl-below-5')
def _(c):
    def build(i):
        raw = bytearray(bytes(c.ip() / ICMP(id=i) / Raw(b'x' * 16)))
        raw[0] = 0x44  # IHL 4 (16 bytes): below the minimum of 5
        return c.eth(bad=True) / Raw(bytes(raw))
    return no_echo(c, build, 'RFC 791 §3.1: IHL < 5 is not a valid header: discarded')


@case('ipv4-total-length-beyond-frame')
def _(c):
    return no_echo(c, lambda i: c.eth(bad=True) / c.ip(len=400) / ICMP(id=i) / Raw(b'x' * 16),
                   'RFC 791 §3.1 / RFC 1122 §3.2.1.1: total length larger than what arrived: discarded')


@case('ipv4-total-length-below-header')
def _(c):
    return no_echo(c, lambda i: c.eth(bad=True) / c.ip(len=12) / ICMP(id=i) / Raw(b'x' * 16),
                   'RFC 791 §3.1: total length shorter than the header: discarded')


@case('ipv4-version-not-4')
def _(c):
    def build(i):
        raw = bytearray(bytes(c.ip() / ICMP(id=i) / Raw(b'x' * 16)))
        raw[0] = 0x65  # version 6 in an IPv4 EtherType
        return c.eth(bad=True) / Raw(bytes(raw))
    return no_echo(c, build, 'RFC 1122 §3.2.1.1: a version other than 4 is discarded')


@case('ipv4-truncated-header')
def _(c):
    def build(i):
        raw = bytes(c.ip() / ICMP(id=i))[:12]
        return c.eth(bad=True) / Raw(raw)
    return no_echo(c, build, 'RFC 791 §3.1: a frame holding 12 of the 20 header bytes is discarded')


@case('ipv4-bad-option-length')
def _(c):
    ident = 0x2222
    m = c.w.mark()
    # An option of type 0x44 (timestamp) whose length 40 runs past the 4 option bytes.
    c.w.send(c.eth(bad=True) / c.ip(options=[IPOption(b'\x44\x28\x05\x00')]) / ICMP(id=ident) / Raw(b'x' * 16))
    r = c.w.expect(lambda p: p.haslayer(ICMP) and ((p[ICMP].type == 0 and p[ICMP].id == ident) or p[ICMP].type == 12), 0.5, m)
    pp = r is not None and r[ICMP].type == 12
    ok = (r is None or pp) and c.alive()
    return result(ok, 'RFC 1122 §3.2.1.8 / §3.2.2.5 (Linux ip_options_compile): an option longer than the header is discarded'
                  + (' with a parameter problem' if pp else '') + ('' if ok else ': but it was answered'))


@case('ipv4-ttl-0-to-us')
def _(c):
    ident = 0x3333
    m = c.w.mark()
    c.w.send(c.echo_req(ident, ttl=0))
    r = c.w.expect(c.is_echo_reply(ident), 1.0, m)
    return result(r is not None, 'RFC 1122 §3.2.1.7: a host MUST NOT discard a datagram just because its TTL is < 2 (Linux accepts TTL 0 to itself)')


@case('ipv4-reserved-flag')
def _(c):
    return no_echo(c, lambda i: c.eth(bad=True) / c.ip(flags='evil') / ICMP(id=i) / Raw(b'x' * 16),
                   'RFC 791 §3.1: the reserved flag must be zero (this stack drops it, stricter than Linux)')


@case('ipv4-land-attack')
def _(c):
    sport = c.a.echo
    m = c.w.mark()
    c.w.send(c.eth() / c.ip(src=c.dst) / TCP(sport=sport, dport=c.a.echo, flags='S', seq=1000))
    r = c.w.expect(lambda p: p.haslayer(TCP) and p[TCP].sport == c.a.echo, 0.5, m)
    return result(r is None and c.alive(), 'RFC 1122 §3.2.1.3 (CERT CA-1997-28 land): a datagram from our own address arriving from outside is a martian: no SYN-ACK, no loop')


@case('ipv4-source-broadcast')
def _(c):
    return no_echo(c, lambda i: c.eth() / c.ip(src='255.255.255.255') / ICMP(id=i) / Raw(b'x' * 16),
                   'RFC 1122 §3.2.1.3: a broadcast or multicast source address is discarded')


@case('ipv4-not-for-us')
def _(c):
    return no_echo(c, lambda i: c.eth() / c.ip(dst='198.18.0.77') / ICMP(id=i) / Raw(b'x' * 16),
                   'RFC 1122 §3.3.1.1: a host does not forward a datagram for another address')


@case('icmp-echo-to-broadcast')
def _(c):
    def build(i):
        return Ether(src=c.a.src_mac, dst='ff:ff:ff:ff:ff:ff') / c.ip(dst=c.a.broadcast) / ICMP(id=i) / Raw(b'x' * 16)
    return no_echo(c, build, 'RFC 1122 §3.2.2.6 MAY: echo to a broadcast address ignored (Linux icmp_echo_ignore_broadcasts=1)')


@case('icmp-bad-checksum')
def _(c):
    return no_echo(c, lambda i: c.eth() / c.ip() / ICMP(id=i, chksum=0x4321) / Raw(b'x' * 16),
                   'RFC 792 / RFC 1122 §3.2.2: a bad ICMP checksum is discarded')


@case('icmp-truncated')
def _(c):
    return no_echo(c, lambda i: c.eth(bad=True) / c.ip(proto=1) / Raw(b'\x08\x00'),
                   'RFC 792: an ICMP message shorter than its 8-byte header is discarded')


# --- fragments ---

def frags(c, payload_pkt, size, bad=False):
    return [c.eth(bad=bad) / f for f in __import__('scapy.all', fromlist=['fragment']).fragment(payload_pkt, fragsize=size)]


@case('frag-reassembly-baseline')
def _(c):
    ident = 0x4444
    data = pattern(1200)
    m = c.w.mark()
    for f in frags(c, c.ip() / ICMP(id=ident) / Raw(data), 400):
        c.w.send(f)
    r = c.w.expect(c.is_echo_reply(ident), 1.0, m)
    return result(r is not None and icmp_data(r) == data, 'RFC 791 §3.2: three fragments reassembled, echoed whole')


@case('frag-tiny-fragments')
def _(c):
    ident = 0x4455
    data = pattern(200)
    m = c.w.mark()
    fs = frags(c, c.ip() / ICMP(id=ident) / Raw(data), 8)
    random.Random(1).shuffle(fs)
    for f in fs:
        c.w.send(f)
    r = c.w.expect(c.is_echo_reply(ident), 1.0, m)
    return result(r is not None and icmp_data(r) == data, f'RFC 791 §3.2 / RFC 815: {len(fs)} 8-byte fragments out of order reassembled (a host must, RFC 1858 concerns filters)')


@case('frag-overlap-discarded')
def _(c):
    ident = 0x4466
    ipid = c.ipid()
    whole = bytes(ICMP(id=ident) / Raw(pattern(64)))
    # [0,40) then [32,72) with different bytes in the overlap [32,40).
    a = c.eth(bad=True) / IP(src=c.src, dst=c.dst, id=ipid, flags='MF', frag=0, proto=1) / Raw(whole[:40])
    b2 = bytearray(whole[32:72]); b2[0:8] = b'OVERLAP!'
    b = c.eth(bad=True) / IP(src=c.src, dst=c.dst, id=ipid, frag=4, proto=1) / Raw(bytes(b2))
    m = c.w.mark()
    c.w.send(a)
    c.w.send(b)
    r = c.w.expect(c.is_echo_reply(ident), 0.5, m)
    return result(r is None and c.alive(), 'RFC 5722 §4 (applied to IPv4 as Linux does): overlapping fragments discard the whole datagram')


@case('frag-beyond-65535')
def _(c):
    ident = 0x4477
    ipid = c.ipid()
    m = c.w.mark()
    c.w.send(c.eth() / IP(src=c.src, dst=c.dst, id=ipid, flags='MF', frag=0, proto=1) / ICMP(id=ident) / Raw(b'y' * 32))
    # Offset 65528 + 64 bytes > 65535: the ping of death.
    c.w.send(c.eth(bad=True) / IP(src=c.src, dst=c.dst, id=ipid, frag=8191, proto=1) / Raw(b'z' * 64))
    r = c.w.expect(c.is_echo_reply(ident), 0.5, m)
    return result(r is None and c.alive(), 'RFC 791 §3.2 (ping of death, CERT CA-1996-26): a datagram longer than 65535 bytes is discarded')


def frag_timeout_start(c):
    """The first fragment alone, and separately a later fragment alone: checked at the end."""
    first = c.eth() / IP(src=c.src, dst=c.dst, id=0x7e01, flags='MF', frag=0, proto=17) / UDP(sport=4000, dport=c.a.udp_echo, len=200) / Raw(b'f' * 24)
    later = c.eth() / IP(src=c.src, dst=c.dst, id=0x7e02, frag=4, proto=17) / Raw(b'g' * 32)
    m = c.w.mark()
    c.w.send(first)
    c.w.send(later)
    return m, time.monotonic()


def frag_timeout_check(c, m, t0):
    left = c.a.frag_lifetime + 1.5 - (time.monotonic() - t0)
    te = lambda ipid: (lambda p: p.haslayer(ICMP) and p[ICMP].type == 11 and p[ICMP].code == 1 and p.haslayer('IPerror') and p['IPerror'].id == ipid)
    r1 = c.w.expect(te(0x7e01), max(0.1, left), m)
    r2 = c.w.expect(te(0x7e02), 0.1, m)
    return r1, r2


# --- UDP ---

def udp_echo(c, build, want, why, wait=0.5):
    sport = c.sport()
    m = c.w.mark()
    c.w.send(build(sport))
    r = c.w.expect(lambda p: p.haslayer(UDP) and p[UDP].dport == sport and p[UDP].sport == c.a.udp_echo, wait, m)
    ok = (r is not None) == want
    return result(ok and c.alive(), why + ('' if ok else ': ' + ('no echo' if want else 'but it was echoed')))


@case('udp-bad-checksum')
def _(c):
    return udp_echo(c, lambda s: c.eth() / c.ip() / UDP(sport=s, dport=c.a.udp_echo, chksum=0xbeef) / Raw(b'bad sum'), False,
                    'RFC 768 / RFC 1122 §4.1.3.4: a datagram with a bad checksum is silently discarded')


@case('udp-zero-checksum-accepted')
def _(c):
    return udp_echo(c, lambda s: c.eth() / c.ip() / UDP(sport=s, dport=c.a.udp_echo, chksum=0) / Raw(b'no sum'), True,
                    'RFC 768: checksum 0 means none was computed: accepted (echoed)')


@case('udp-length-beyond-packet')
def _(c):
    return udp_echo(c, lambda s: c.eth(bad=True) / c.ip() / UDP(sport=s, dport=c.a.udp_echo, len=200) / Raw(b'short'), False,
                    'RFC 768 / RFC 1122 §4.1.3.4: a UDP length beyond the IP payload is discarded')


@case('udp-closed-port-unreachable')
def _(c):
    sport = c.sport()
    m = c.w.mark()
    c.w.send(c.eth() / c.ip() / UDP(sport=sport, dport=c.a.closed) / Raw(b'anyone?'))
    r = c.w.expect(lambda p: p.haslayer(ICMP) and p[ICMP].type == 3 and p[ICMP].code == 3 and p.haslayer('UDPerror') and p['UDPerror'].sport == sport, 1.0, m)
    return result(r is not None, 'RFC 1122 §4.1.3.1 / §3.2.2.1: port unreachable, quoting the datagram')


@case('udp-closed-port-broadcast-silent')
def _(c):
    sport = c.sport()
    m = c.w.mark()
    c.w.send(Ether(src=c.a.src_mac, dst='ff:ff:ff:ff:ff:ff') / c.ip(dst=c.a.broadcast) / UDP(sport=sport, dport=c.a.closed) / Raw(b'anyone?'))
    r = c.w.expect(lambda p: p.haslayer(ICMP) and p[ICMP].type == 3, 0.5, m)
    return result(r is None, 'RFC 1122 §3.2.2: no ICMP error about a datagram sent to a broadcast address')


@case('icmp-port-unreachable-live-udp')
def _(c):
    host, port = c.a.udp_conn.split(':')
    quoted = IP(src=c.dst, dst=c.src, id=1, ttl=64) / UDP(sport=int(host), dport=int(port)) / Raw(b'q' * 8)
    c.w.send(c.eth() / c.ip() / ICMP(type=3, code=3) / Raw(bytes(quoted)[:36]))
    return result(True, 'RFC 1122 §4.1.3.3: port unreachable for a connected UDP socket: its next recv fails ECONNREFUSED (checked by the test)')


# --- ARP ---

@case('arp-request-answered')
def _(c):
    m = c.w.mark()
    c.w.send(Ether(src=c.a.src_mac, dst='ff:ff:ff:ff:ff:ff') / ARP(op=1, hwsrc=c.a.src_mac, psrc=c.src, pdst=c.dst))
    r = c.w.expect(lambda p: p.haslayer(ARP) and p[ARP].op == 2 and p[ARP].psrc == c.dst and p[ARP].pdst == c.src, 1.0, m)
    return result(r is not None and r[ARP].hwsrc.lower() == c.a.dst_mac.lower(), 'RFC 826: a request for our address gets a reply with our MAC')


@case('arp-other-target-ignored')
def _(c):
    m = c.w.mark()
    c.w.send(Ether(src=c.a.src_mac, dst='ff:ff:ff:ff:ff:ff') / ARP(op=1, hwsrc=c.a.src_mac, psrc=c.src, pdst='198.18.0.99'))
    r = c.w.expect(lambda p: p.haslayer(ARP) and p[ARP].op == 2, 0.4, m)
    return result(r is None, 'RFC 826: a request for another address is not answered')


@case('arp-spoof-own-address')
def _(c):
    m = c.w.mark()
    # Someone claims our address (gratuitous ARP): no reply, no change; we still answer for it.
    c.w.send(Ether(src='02:00:00:00:0e:01', dst='ff:ff:ff:ff:ff:ff') / ARP(op=2, hwsrc='02:00:00:00:0e:01', psrc=c.dst, pdst=c.dst))
    r = c.w.expect(lambda p: p.haslayer(ARP) and p[ARP].op == 2 and p[ARP].pdst == c.dst, 0.3, m)
    return result(r is None and c.alive(), 'RFC 5227 §2.4 (Linux arp_process): a claim on our own address from another MAC is ignored')


@case('arp-truncated')
def _(c):
    ok_before = c.alive()
    c.w.send(Ether(src=c.a.bad_mac, dst='ff:ff:ff:ff:ff:ff', type=0x0806) / Raw(bytes(ARP(op=1, psrc=c.src, pdst=c.dst))[:14]))
    return result(ok_before and c.alive(), 'RFC 826: a truncated ARP packet is discarded; the stack stays up')


# --- TCP ---

@case('tcp-bad-checksum')
def _(c):
    f = Flow(c, c.a.echo)
    m = c.w.mark()
    f.send('S', seq=f.isn, ack=0, options=[('MSS', 1460)], chksum=0x1bad)
    r = f.expect(timeout=0.4, start=m)
    return result(r is None, 'RFC 9293 §3.1 (MUST-2/3), RFC 1122 §4.2.2.7: a segment with a bad checksum is discarded: no SYN-ACK')


@case('tcp-data-offset-beyond-segment')
def _(c):
    f = Flow(c, c.a.echo)
    m = c.w.mark()
    f.send('S', seq=f.isn, ack=0, dataofs=15, bad=True)
    r = f.expect(timeout=0.4, start=m)
    return result(r is None and c.alive(), 'RFC 9293 §3.1: a data offset (60 bytes) beyond the segment: discarded')


@case('tcp-data-offset-below-5')
def _(c):
    f = Flow(c, c.a.echo)
    m = c.w.mark()
    f.send('S', seq=f.isn, ack=0, dataofs=3, bad=True)
    r = f.expect(timeout=0.4, start=m)
    return result(r is None and c.alive(), 'RFC 9293 §3.1: a data offset below 5 words: discarded')


@case('tcp-truncated-header')
def _(c):
    f = Flow(c, c.a.echo)
    m = c.w.mark()
    raw = bytes(f.pkt('S', seq=f.isn, ack=0)[TCP])[:12]
    c.w.send(c.eth(bad=True) / c.ip(proto=6) / Raw(raw))
    r = f.expect(timeout=0.4, start=m)
    return result(r is None and c.alive(), 'RFC 9293 §3.1: 12 bytes of a TCP header: discarded')


@case('tcp-option-length-zero')
def _(c):
    f = Flow(c, c.a.echo)
    m = c.w.mark()
    # MSS then an option of kind 8 with length 0 (a parser that trusts it loops forever).
    raw = bytearray(bytes(f.pkt('S', seq=f.isn, ack=0, options=[('MSS', 1460), ('NOP', None), ('NOP', None), ('NOP', None), ('NOP', None)], bad=True)))
    raw[14 + 20 + 24] = 8
    raw[14 + 20 + 25] = 0
    # Recompute the TCP checksum over the edited bytes.
    p = Ether(bytes(raw))
    del p[TCP].chksum
    c.w.send(p)
    r = f.expect(timeout=0.4, start=m)
    if r is not None and r[TCP].flags & 0x12 == 0x12:
        f.send('R', seq=(f.isn + 1) & 0xffffffff, ack=0)
    ok = c.alive()
    what = 'nothing' if r is None else str(r[TCP].flags)
    return result(ok, f'RFC 9293 §3.1 MUST-7: an illegal option length (0) is survived ({what} in answer); the stack stays up')


@case('tcp-syn-closed-port')
def _(c):
    f = Flow(c, c.a.closed)
    m = c.w.mark()
    f.send('S', seq=f.isn, ack=0)
    r = f.expect(timeout=1.0, start=m)
    ok = r is not None and r[TCP].flags == 'RA' and r[TCP].seq == 0 and r[TCP].ack == (f.isn + 1) & 0xffffffff
    return result(ok, 'RFC 9293 §3.10.7.1: SYN to a closed port gets <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>' + ('' if ok else f': got {r and r.summary()}'))


@case('tcp-ack-closed-port')
def _(c):
    f = Flow(c, c.a.closed)
    m = c.w.mark()
    f.send('A', seq=f.isn, ack=0x12345678)
    r = f.expect(timeout=1.0, start=m)
    ok = r is not None and r[TCP].flags == 'R' and r[TCP].seq == 0x12345678
    return result(ok, 'RFC 9293 §3.10.7.1: an ACK to a closed port gets <SEQ=SEG.ACK><CTL=RST>' + ('' if ok else f': got {r and r.summary()}'))


@case('tcp-rst-closed-port-silent')
def _(c):
    f = Flow(c, c.a.closed)
    m = c.w.mark()
    f.send('R', seq=f.isn, ack=0)
    r = f.expect(timeout=0.4, start=m)
    return result(r is None, 'RFC 9293 §3.10.7.1: a RST to a closed port is discarded, never answered')


@case('tcp-null-and-xmas-to-listener-dropped')
def _(c):
    f1, f2 = Flow(c, c.a.echo), Flow(c, c.a.echo)
    m = c.w.mark()
    f1.send('', seq=f1.isn, ack=0)
    f2.send('FPU', seq=f2.isn, ack=0)
    r = c.w.expect(lambda p: f1.mine(p) or f2.mine(p), 0.4, m)
    return result(r is None, 'RFC 9293 §3.10.7.2: a segment without SYN, ACK or RST to a LISTEN socket is dropped')


@case('tcp-syn-fin-to-listener-dropped')
def _(c):
    f = Flow(c, c.a.echo)
    m = c.w.mark()
    f.send('SF', seq=f.isn, ack=0)
    r = f.expect(timeout=0.4, start=m)
    if r is not None:
        f.send('R', seq=(f.isn + 1) & 0xffffffff, ack=0)
    return result(r is None, 'Linux tcp_rcv_state_process (LISTEN: SYN with FIN is discarded), a scan/evasion probe; RFC 9293 §3.10.7.2 leaves it open' + ('' if r is None else f': got {r.summary()}'))


@case('tcp-synack-to-listener-rst')
def _(c):
    f = Flow(c, c.a.echo)
    m = c.w.mark()
    f.send('SA', seq=f.isn, ack=0x0badcafe)
    r = f.expect(timeout=1.0, start=m)
    ok = r is not None and r[TCP].flags == 'R' and r[TCP].seq == 0x0badcafe
    return result(ok, 'RFC 9293 §3.10.7.2: an ACK-bearing segment to LISTEN gets <SEQ=SEG.ACK><CTL=RST>' + ('' if ok else f': got {r and r.summary()}'))


def established(c, port=None, **kw):
    f = Flow(c, port or c.a.echo, **kw)
    if not f.connect():
        raise RuntimeError('handshake with the target failed')
    return f


def still_echoes(f, msg=b'still here'):
    m = f.c.w.mark()
    f.send_data(msg)
    return f.read_echo(len(msg), 1.5, m) == msg


@case('tcp-rst-out-of-window-ignored')
def _(c):
    f = established(c)
    m = c.w.mark()
    f.send('R', seq=(f.snd_nxt + 0x40000000) & 0xffffffff, ack=0)
    r = f.expect(timeout=0.4, start=m)
    ok = r is None and still_echoes(f)
    f.reset()
    return result(ok, 'RFC 5961 §3.2 / RFC 9293 §3.10.7.4: a RST outside the window is silently dropped; the connection lives')


@case('tcp-rst-in-window-challenge-ack')
def _(c):
    f = established(c)
    m = c.w.mark()
    f.send('R', seq=(f.snd_nxt + 100) & 0xffffffff, ack=0)
    r = f.expect(timeout=1.0, start=m)
    ok = r is not None and r[TCP].flags == 'A' and r[TCP].ack == f.snd_nxt and r[TCP].seq == f.rcv_nxt
    alive = still_echoes(f)
    f.reset()
    return result(ok and alive, 'RFC 5961 §3.2: a RST in the window but not at RCV.NXT gets a challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT>; the connection lives'
                  + ('' if ok else f': got {r and r.summary()}') + ('' if alive else ': echo failed afterwards'))


@case('tcp-rst-exact-resets')
def _(c):
    f = established(c)
    if not still_echoes(f, b'before reset'):
        return result(False, 'no echo before the RST')
    f.send('R', ack=0)
    time.sleep(0.1)
    m = c.w.mark()
    f.send_data(b'after reset')
    r = f.expect(timeout=1.0, start=m)
    ok = r is not None and r[TCP].flags & 0x04 != 0
    return result(ok, f'RFC 5961 §3.2 / RFC 9293 §3.10.7.4: a RST at RCV.NXT resets the connection (the server socket sees ECONNRESET, checked by the test; port {f.sport}); later data gets a RST')


@case('tcp-syn-in-established-challenge-ack')
def _(c):
    f = established(c)
    m = c.w.mark()
    f.send('S', seq=(f.isn + 5000) & 0xffffffff, ack=0)
    r = f.expect(timeout=1.0, start=m)
    ok = r is not None and r[TCP].flags == 'A' and r[TCP].ack == f.snd_nxt
    alive = still_echoes(f)
    f.reset()
    return result(ok and alive, 'RFC 5961 §4.2: a SYN in a synchronized state gets a challenge ACK and is dropped; the connection lives'
                  + ('' if ok else f': got {r and r.summary()}'))


@case('tcp-ack-of-unsent-data')
def _(c):
    f = established(c)
    m = c.w.mark()
    f.send('A', ack=(f.rcv_nxt + 100000) & 0xffffffff, data=b'')
    r = f.expect(timeout=1.0, start=m)
    ok = r is not None and r[TCP].flags == 'A' and r[TCP].ack == f.snd_nxt
    alive = still_echoes(f)
    f.reset()
    return result(ok and alive, 'RFC 9293 §3.10.7.4 / RFC 5961 §5.2: an ACK for data never sent gets an ACK and is dropped'
                  + ('' if ok else f': got {r and r.summary()}'))


@case('tcp-data-out-of-window-dup-ack')
def _(c):
    f = established(c)
    m = c.w.mark()
    f.send('PA', seq=(f.snd_nxt + 0x20000000) & 0xffffffff, data=b'far away')
    r = f.expect(timeout=1.0, start=m)
    ok = r is not None and r[TCP].flags == 'A' and r[TCP].ack == f.snd_nxt and len(tcp_data(r)) == 0
    alive = still_echoes(f)
    f.reset()
    return result(ok and alive, 'RFC 9293 §3.10.7.4: an unacceptable segment gets <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and is dropped'
                  + ('' if ok else f': got {r and r.summary()}'))


@case('tcp-duplicate-segment-once')
def _(c):
    f = established(c)
    m = c.w.mark()
    seq = f.snd_nxt
    f.send_data(b'abc')
    f.send('PA', seq=seq, data=b'abc')  # the same segment again
    f.send_data(b'def')
    got = f.read_echo(6, 1.5, m)
    extra = f.read_echo(1, 0.3)
    f.reset()
    return result(got == b'abcdef' and extra == b'', f'RFC 9293 §3.10.7.4 / §3.4: a duplicate is ACKed and its data delivered once (echo {got + extra!r})')


@case('tcp-overlap-after-delivery')
def _(c):
    f = established(c)
    m = c.w.mark()
    seq = f.snd_nxt
    f.send_data(b'abcd')
    time.sleep(0.05)
    # Bytes 2..5 again, the first two of them different: what was received stands.
    f.send('PA', seq=(seq + 2) & 0xffffffff, data=b'XXef')
    f.snd_nxt = (seq + 6) & 0xffffffff
    got = f.read_echo(6, 1.5, m)
    extra = f.read_echo(1, 0.3)
    f.reset()
    return result(got == b'abcdef' and extra == b'', f'RFC 9293 §3.10.7.4 (trim to the window): overlapping bytes already received are kept; stream {got + extra!r}')


@case('tcp-overlap-out-of-order')
def _(c):
    f = established(c)
    m = c.w.mark()
    seq = f.snd_nxt
    f.send('PA', seq=(seq + 4) & 0xffffffff, data=b'EFGH')  # out of order first
    time.sleep(0.05)
    f.send('PA', seq=seq, data=b'abcdXY')  # overlaps [4,6) with different bytes
    f.snd_nxt = (seq + 8) & 0xffffffff
    got = f.read_echo(8, 1.5, m)
    extra = f.read_echo(1, 0.3)
    f.reset()
    s = got + extra
    ok = len(s) == 8 and s[:4] == b'abcd' and s[6:] == b'GH' and s[4:6] in (b'EF', b'XY')
    who = 'first-received (queued)' if s[4:6] == b'EF' else 'later in-order (Linux tcp_data_queue)'
    return result(ok, f'RFC 9293 §3.10.7.4 / §3.4: overlapping out-of-order data gives one consistent 8-byte stream ({s!r}: {who} bytes won)')


@case('tcp-zero-window-probe')
def _(c):
    f = established(c, port=c.a.sink)
    chunk = b'z' * 1000
    zero = None
    sent = 0
    for _ in range(400):
        m = c.w.mark()
        f.send_data(chunk)
        sent += len(chunk)
        r = f.expect(lambda p: p[TCP].flags & 0x10 and p[TCP].ack == f.snd_nxt, 0.3, m)
        if r is None:
            # Not all accepted: the last ACK says where the window closed.
            acks = c.w.collect(lambda p: f.mine(p) and p[TCP].flags & 0x10, 0.05, m)
            if acks:
                f.snd_nxt = acks[-1][TCP].ack
                if acks[-1][TCP].window == 0:
                    zero = acks[-1]
            break
        if r[TCP].window == 0:
            zero = r
            break
    if zero is None:
        f.reset()
        return result(False, f'no zero window after {sent} bytes')
    m = c.w.mark()
    f.send('PA', data=b'P')  # a one-byte window probe beyond the closed window
    r = f.expect(lambda p: p[TCP].flags & 0x10, 1.0, m)
    ok = r is not None and r[TCP].window == 0 and r[TCP].ack == f.snd_nxt
    f.reset()
    return result(ok, f'RFC 9293 §3.8.6.1 / §3.10.7.4: a zero-window probe is ACKed with window 0 and not accepted (window closed after {sent} bytes)'
                  + ('' if ok else f': got {r and r.summary()}'))


def receive_segments(f, n, timeout, start):
    """ACKs the target's data as it comes; returns (bytes, [payload sizes], [fragmented?])."""
    got = b''
    sizes = []
    frag = False
    deadline = time.monotonic() + timeout
    i = start
    while len(got) < n and time.monotonic() < deadline:
        p = f.c.w.expect(lambda p: p.haslayer(IP) and p[IP].dst == f.src and (p[IP].flags.MF or p[IP].frag > 0 or (p.haslayer(TCP) and f.mine(p) and len(tcp_data(p)) > 0)),
                         deadline - time.monotonic(), i)
        if p is None:
            break
        i = f.c.w.after(p, i)
        if p[IP].flags.MF or p[IP].frag > 0:
            frag = True
            continue
        data = tcp_data(p)
        sizes.append(len(data))
        off = (f.rcv_nxt - p[TCP].seq) & 0xffffffff
        if off < len(data):
            got += data[off:]
            f.rcv_nxt = (p[TCP].seq + len(data)) & 0xffffffff
            f.send('A')
    return got, sizes, frag


@case('tcp-tiny-mss')
def _(c):
    f = Flow(c, c.a.sender, mss=1)
    m = c.w.mark()
    if not f.connect():
        return result(False, 'no handshake')
    got, sizes, _ = receive_segments(f, c.a.sender_bytes, 4.0, m)
    f.reset()
    ok = got == pattern(c.a.sender_bytes) and sizes and max(sizes) <= 64 and min(sizes[:-1] or [48]) >= 36
    return result(ok, f'RFC 9293 §3.7.1 / RFC 6691, Linux tcp_min_snd_mss: MSS 1 is raised to a floor (segments {min(sizes or [0])}..{max(sizes or [0])} bytes, Linux 36..48), not 1-byte segments; stream intact ({len(got)} bytes)')


@case('tcp-no-mss-option-536')
def _(c):
    f = Flow(c, c.a.sender)
    m = c.w.mark()
    if not f.connect(options=[]):
        return result(False, 'no handshake')
    got, sizes, _ = receive_segments(f, c.a.sender_bytes, 3.0, m)
    f.reset()
    ok = got == pattern(c.a.sender_bytes) and sizes and max(sizes) <= 536
    return result(ok, f'RFC 9293 §3.7.1 / RFC 1122 §4.2.2.6: no MSS option means 536 (largest segment {max(sizes or [0])})')


@case('icmp-frag-needed-live-tcp')
def _(c):
    f = Flow(c, c.a.sender, mss=1460)
    m = c.w.mark()
    if not f.connect():
        return result(False, 'no handshake')
    first = f.expect(lambda p: len(tcp_data(p)) > 0, 1.0, m)
    if first is None:
        return result(False, 'no data from the server')
    m2 = c.w.mark()
    quote = bytes(first[IP])[:28]
    c.w.send(c.eth() / IP(src=c.a.router_ip, dst=c.dst, id=c.ipid()) / ICMP(type=3, code=4, nexthopmtu=1000) / Raw(quote))
    f.rcv_nxt = first[TCP].seq  # nothing of it was acknowledged
    got, sizes, frag = receive_segments(f, c.a.sender_bytes, 2.0, m2)
    f.reset()
    ok = got == pattern(c.a.sender_bytes) and sizes and max(sizes) <= 960 and not frag
    return result(ok, f'RFC 1191 §6.4 / RFC 5927 §4.1: fragmentation needed (MTU 1000) quoting an in-window segment shrinks the MSS; data resent in segments of ≤ 960 bytes, unfragmented (first {len(tcp_data(first))}, then {sizes}{", fragmented" if frag else ""})')


@case('icmp-frag-needed-out-of-window-ignored')
def _(c):
    f = Flow(c, c.a.sender, src=c.a.alt_ip, mss=1460)
    m = c.w.mark()
    if not f.connect():
        return result(False, 'no handshake')
    first = f.expect(lambda p: len(tcp_data(p)) > 0, 1.0, m)
    if first is None:
        return result(False, 'no data from the server')
    q = bytearray(bytes(first[IP])[:28])
    q[24:28] = ((first[TCP].seq + 0x10000000) & 0xffffffff).to_bytes(4, 'big')  # a sequence number never sent
    c.w.send(c.eth() / IP(src=c.a.router_ip, dst=c.dst, id=c.ipid()) / ICMP(type=3, code=4, nexthopmtu=600) / Raw(bytes(q)))
    time.sleep(0.2)
    got, sizes, frag = receive_segments(f, c.a.sender_bytes, 1.0, m)
    f.reset()
    return result(got == pattern(c.a.sender_bytes), f'RFC 5927 §4.1: fragmentation needed quoting a sequence number outside SND.UNA..SND.NXT is ignored (the path MTU to {c.a.alt_ip} is checked by the test)')


@case('icmp-error-for-no-flow-ignored')
def _(c):
    quoted = IP(src=c.dst, dst=c.a.noflow_ip, id=7, ttl=64, flags='DF') / TCP(sport=c.a.echo, dport=40000, seq=12345, flags='A')
    c.w.send(c.eth() / IP(src=c.a.router_ip, dst=c.dst, id=c.ipid()) / ICMP(type=3, code=4, nexthopmtu=576) / Raw(bytes(quoted)[:28]))
    quoted_u = IP(src=c.dst, dst=c.a.noflow_ip, id=8, ttl=64) / UDP(sport=c.a.udp_echo, dport=40001)
    c.w.send(c.eth() / IP(src=c.a.router_ip, dst=c.dst, id=c.ipid()) / ICMP(type=3, code=3) / Raw(bytes(quoted_u)[:28]))
    time.sleep(0.05)
    return result(c.alive(), f'RFC 5927 §4 / Linux tcp_v4_err, __udp4_lib_err: ICMP errors quoting a flow that does not exist are ignored (no path MTU to {c.a.noflow_ip}: checked by the test)')


@case('tcp-syn-flood-cookies')
def _(c):
    n = c.a.flood_syns
    flows = [Flow(c, c.a.flood, mss=1400) for _ in range(n)]
    m = c.w.mark()
    # Each SYN offers SACK, timestamps and window scaling: a SYN-ACK from the SYN queue echoes
    # them; a SYN cookie carries the MSS alone (this stack encodes nothing in a timestamp).
    offer = [('MSS', 1400), ('SAckOK', b''), ('Timestamp', (12345, 0)), ('NOP', None), ('WScale', 7)]
    for f in flows:
        f.send('S', seq=f.isn, ack=0, options=offer)
    answered = {}
    deadline = time.monotonic() + 1.5
    i = m
    while len(answered) < n and time.monotonic() < deadline:
        p = c.w.expect(lambda p: p.haslayer(TCP) and p[TCP].sport == c.a.flood and p[TCP].flags & 0x12 == 0x12, deadline - time.monotonic(), i)
        if p is None:
            break
        i = c.w.after(p, i)
        answered.setdefault(p[TCP].dport, p)
    def has_ts(p):
        return any(o[0] == 'Timestamp' for o in p[TCP].options)
    queued = sum(1 for p in answered.values() if has_ts(p))
    cookies = [sp for sp, p in answered.items() if not has_ts(p)]
    # A forged ACK (wrong cookie) for one flow is refused.
    last = next((f for f in reversed(flows) if f.sport in cookies), None)
    if last is None:
        return result(False, f'{len(answered)} of {n} SYNs answered, none with a cookie ({queued} from the queue)')
    sa = answered[last.sport]
    bogus = Flow(c, c.a.flood, mss=1400)
    m2 = c.w.mark()
    bogus.send('A', seq=(bogus.isn + 1) & 0xffffffff, ack=(sa[TCP].seq + 1 + 0x1000) & 0xffffffff)
    rb = bogus.expect(lambda p: p[TCP].flags & 0x04, 1.0, m2)
    # The last SYN was answered after the queue was full: complete it (the cookie) and talk.
    last.snd_nxt = (last.isn + 1) & 0xffffffff
    last.rcv_nxt = (sa[TCP].seq + 1) & 0xffffffff
    last.send('A')
    echoed = still_echoes(last, b'cookie works')
    for f in flows:
        s = answered.get(f.sport)
        if s is not None:
            f.send('R', seq=(f.isn + 1) & 0xffffffff, ack=0)
    ok = len(answered) == n and queued == c.a.flood_backlog and len(cookies) == n - queued and rb is not None and echoed
    return result(ok, f'RFC 4987 §3.6: {len(answered)}/{n} spoofed SYNs answered: {queued} from the SYN queue (backlog {c.a.flood_backlog}), {len(cookies)} with SYN cookies (MSS option only); '
                  f'a cookie ACK completes a connection that echoes ({echoed}); a forged cookie ACK gets a RST ({rb is not None})')


# --- IPv6 (the target has --dst-ip6; the kernel side is --src-ip6, spoofed from --src-mac) ---

def v6(c, **kw):
    kw.setdefault('src', c.a.src_ip6)
    kw.setdefault('dst', c.a.dst_ip6)
    return IPv6(**kw)


@case('ipv6-hop-limit-0-to-us')
def _(c):
    m = c.w.mark()
    c.w.send(c.eth() / v6(c, hlim=0) / ICMPv6EchoRequest(id=0x6601, data=b'hl0'))
    r = c.w.expect(lambda p: p.haslayer(ICMPv6EchoReply) and p[ICMPv6EchoReply].id == 0x6601, 1.0, m)
    return result(r is not None, 'RFC 8200 §3: the hop limit is decremented only by forwarding nodes; a packet to us with hop limit 0 is accepted (Linux)')


@case('ipv6-routing-header-type-0')
def _(c):
    m = c.w.mark()
    c.w.send(c.eth() / v6(c) / IPv6ExtHdrRouting(type=0, segleft=1, addresses=['fd00::99']) / ICMPv6EchoRequest(id=0x6602))
    r = c.w.expect(lambda p: p.haslayer(ICMPv6EchoReply) and p[ICMPv6EchoReply].id == 0x6602 or p.haslayer(ICMPv6ParamProblem), 1.0, m)
    ok = r is not None and r.haslayer(ICMPv6ParamProblem) and r[ICMPv6ParamProblem].code == 0
    return result(ok, 'RFC 5095 §3 / RFC 8200 §4.4: a type 0 routing header with segments left is refused with a parameter problem (code 0)'
                  + ('' if ok else f': got {r and r.summary()}'))


@case('ipv6-ns-hop-limit-not-255')
def _(c):
    m = c.w.mark()
    sol = 'ff02::1:ff' + c.a.dst_ip6.split(':')[-1].rjust(6, '0')[-6:-4] + ':' + c.a.dst_ip6.split(':')[-1].rjust(4, '0')
    c.w.send(Ether(src=c.a.src_mac, dst='33:33:ff:' + ':'.join(c.a.dst_mac.split(':')[3:])) /
             IPv6(src=c.a.src_ip6, dst=c.a.dst_ip6, hlim=64) / ICMPv6ND_NS(tgt=c.a.dst_ip6) / ICMPv6NDOptSrcLLAddr(lladdr=c.a.src_mac))
    r = c.w.expect(lambda p: p.haslayer(ICMPv6ND_NA), 0.5, m)
    return result(r is None and c.alive(), 'RFC 4861 §7.1.1: a neighbor solicitation with hop limit ≠ 255 (off-link forgery) is discarded')


@case('ipv6-truncated-ns')
def _(c):
    m = c.w.mark()
    raw = bytes(IPv6(src=c.a.src_ip6, dst=c.a.dst_ip6, hlim=255) / ICMPv6ND_NS(tgt=c.a.dst_ip6))
    raw = bytearray(raw[:40 + 12])  # 12 of the 24 bytes of the message
    raw[4:6] = (12).to_bytes(2, 'big')
    c.w.send(Ether(src=c.a.bad_mac, dst=c.a.dst_mac, type=0x86dd) / Raw(bytes(raw)))
    r = c.w.expect(lambda p: p.haslayer(ICMPv6ND_NA), 0.4, m)
    return result(r is None and c.alive(), 'RFC 4861 §7.1.1: an ICMPv6 length below 24 octets for a NS is discarded')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--iface', required=True)
    ap.add_argument('--dst-ip', required=True)
    ap.add_argument('--dst-mac', required=True)
    ap.add_argument('--src-ip', default='198.18.0.3')
    ap.add_argument('--src-mac', default='02:00:00:00:00:03')
    ap.add_argument('--alt-ip', default='198.18.0.4')
    ap.add_argument('--noflow-ip', default='198.18.0.5')
    ap.add_argument('--router-ip', default='198.18.0.254')
    ap.add_argument('--dst-ip6', default='fd00::1')
    ap.add_argument('--src-ip6', default='fd00::3')
    ap.add_argument('--broadcast', default='198.18.0.255')
    ap.add_argument('--bad-mac', default='02:00:00:00:0b:ad')
    ap.add_argument('--echo', type=int, default=7001)
    ap.add_argument('--sink', type=int, default=7002)
    ap.add_argument('--udp-conn', default='7003:9003', help='our connected UDP socket: local port:remote port (remote is --src-ip)')
    ap.add_argument('--sender', type=int, default=7004)
    ap.add_argument('--sender-bytes', type=int, default=1200)
    ap.add_argument('--flood', type=int, default=7005)
    ap.add_argument('--flood-backlog', type=int, default=2)
    ap.add_argument('--flood-syns', type=int, default=8)
    ap.add_argument('--udp-echo', type=int, default=7006)
    ap.add_argument('--closed', type=int, default=7010)
    ap.add_argument('--frag-lifetime', type=float, default=2.0, help='the target reassembly timeout, seconds')
    ap.add_argument('--sport-base', type=int, default=20000)
    ap.add_argument('--cases', default='')
    ap.add_argument('--list', action='store_true')
    a = ap.parse_args()
    names = list(CASES) + ['frag-timeout-time-exceeded', 'frag-timeout-no-first-silent']
    if a.list:
        print('\n'.join(names))
        return 0
    want = [n for n in a.cases.split(',') if n] or names
    unknown = [n for n in want if n not in names]
    if unknown:
        print(f'unknown cases: {unknown}', file=sys.stderr)
        return 2
    random.seed(a.sport_base)
    c = Ctx(a)
    t0 = time.monotonic()
    timeout_state = frag_timeout_start(c) if 'frag-timeout-time-exceeded' in want or 'frag-timeout-no-first-silent' in want else None
    for name in want:
        if name not in CASES:
            continue
        start = time.monotonic()
        try:
            ok, detail = CASES[name](c)
        except Exception as e:  # a case that breaks reports it and the run goes on
            ok, detail = False, f'exception: {type(e).__name__}: {e}'
        print(json.dumps({'name': name, 'ok': ok, 'detail': detail, 'ms': round((time.monotonic() - start) * 1000)}), flush=True)
    if timeout_state is not None:
        r1, r2 = frag_timeout_check(c, *timeout_state)
        if 'frag-timeout-time-exceeded' in want:
            print(json.dumps({'name': 'frag-timeout-time-exceeded', 'ok': r1 is not None,
                              'detail': 'RFC 792 / RFC 1122 §3.3.2: a datagram whose first fragment arrived and that never completed earns time exceeded, code 1, quoting it'}), flush=True)
        if 'frag-timeout-no-first-silent' in want:
            print(json.dumps({'name': 'frag-timeout-no-first-silent', 'ok': r2 is None,
                              'detail': 'RFC 792: without fragment zero no time exceeded is sent'}), flush=True)
    c.w.close()
    print(json.dumps({'done': True, 'ms': round((time.monotonic() - t0) * 1000)}), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

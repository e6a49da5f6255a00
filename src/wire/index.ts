// The packet codecs: zero-copy views plus Repr with parse/emit, one module per protocol.
export * from './address.js';
export * from './error.js';
export * from './checksum.js';
export * from './ethernet.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './icmpv4.js';
export * from './icmpv6.js';
export * from './ndp.js';
export * from './igmp.js';
export * from './udp.js';
export * from './tcp.js';
export * from './seq.js';
export * from './vxlan.js';
export * from './dissect.js';

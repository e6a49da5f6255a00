// The contract between a protocol stack and its "NIC". A link moves whole Ethernet
// frames; the stack never learns whether they cross shared memory, AF_XDP or a
// simulated wire.

export interface Link {
  /** Largest frame payload (bytes after the Ethernet header) the link carries. */
  readonly mtu: number;
  /** Sends one frame; the link copies it or owns it before returning, so the caller may reuse the buffer. */
  transmit(frame: Uint8Array): void;
}

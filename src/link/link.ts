// The contract between a protocol stack and its "NIC". A link moves whole Ethernet
// frames; the stack never learns whether they cross shared memory, AF_XDP or a
// simulated wire.

export interface Link {
  /** Largest frame payload (bytes after the Ethernet header) the link carries. */
  readonly mtu: number;
  /** Sends one frame; the link copies it or owns it before returning, so the caller may reuse the buffer. */
  transmit(frame: Uint8Array): void;
  /**
   * Frames from this link cannot have been damaged on the way (shared memory, not a wire),
   * so the stack need not verify their checksums: Linux's CHECKSUM_UNNECESSARY, which its
   * loopback and veth devices set, or a NIC's receive checksum offload.
   */
  readonly rxChecksumVerified?: boolean;
}

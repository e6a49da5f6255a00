// The AF_PACKET driver: a raw packet socket on one interface, with TPACKET_V3 receive and
// transmit rings mapped into this process, as a frame port (port.h).
//
//   packetOpen({ ifname, netns?, version?: 2 | 3, frames?, frameSize?, blockSize?, retireMs?,
//                qdiscBypass?, fanout?: { group, mode: 'hash' | 'lb' | 'cpu' } })
//     → { id, mac: Uint8Array(6), ifindex, mtu, version, frameSize, blockSize, rxBlocks, txFrames }
//
// version 3 (the default here) batches receive into blocks, as below; version 2 hands over
// every frame on its own (per-frame tp_status), at once: no retire timer. With V3 a frame
// that arrives alone waits for the timer (≥ 1 ms: tp_retire_blk_tov is in milliseconds, and
// the kernel closes a block only when the next frame does not fit or the timer fires), so a
// request/response exchange over V3 takes ≥ 1 ms per received frame; V2 is for latency.
//
// Receive (packet_mmap.rst, TPACKET_V3): the kernel fills variable-sized frames into blocks
// and hands a whole block over by setting its block_status to TP_STATUS_USER, when it is full
// or when the retire timer (tp_retire_blk_tov) fires; we give it back with TP_STATUS_KERNEL
// once every frame in it has been copied out. A batch may end mid-block: the cursor stays.
// Transmit: fixed-size slots; we fill a slot, set TP_STATUS_SEND_REQUEST, and one
// sendto(fd, NULL, 0) per batch makes the kernel send every requested slot; it sets each
// back to TP_STATUS_AVAILABLE when the skb is released.

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>

#include "args.h"
#include "errors.h"
#include "init.h"
#include "netns.h"
#include "port.h"

namespace xlio {

namespace {

/** packet_mmap.rst: a TX frame's data starts at TPACKET3_HDRLEN − sizeof(sockaddr_ll) (no PACKET_TX_HAS_OFF). */
constexpr size_t kTxDataOffset = TPACKET_ALIGN(sizeof(struct tpacket3_hdr));
/** The same for TPACKET_V2 (TPACKET2_HDRLEN − sizeof(sockaddr_ll)). */
constexpr size_t kTxDataOffsetV2 = TPACKET_ALIGN(sizeof(struct tpacket2_hdr));
/** Where the kernel puts a V2 RX frame's data at most (tpacket_rcv: TPACKET_ALIGN(hdrlen + 16) + 16 of headroom, rounded up). */
constexpr size_t kRxDataOffsetV2 = 128;

struct PacketConfig {
  std::string ifname;
  std::string netns;
  uint32_t frames = 2048;      // per ring
  uint32_t frameSize = 2048;   // TX slot size, and RX's nominal frame size
  uint32_t blockSize = 1 << 16;
  uint32_t retireMs = 1;
  uint32_t version = 3;  // TPACKET_V3 or TPACKET_V2
  bool qdiscBypass = true;
  bool fanout = false;
  uint32_t fanoutGroup = 0;
  uint32_t fanoutMode = PACKET_FANOUT_HASH;
};

class PacketPort final : public Port {
 public:
  PacketPort(int fd, uint8_t* map, size_t mapLen, uint32_t rxBlocks, uint32_t blockSize, uint32_t txFrames, uint32_t frameSize, bool v2)
      : fd_(fd), map_(map), mapLen_(mapLen), rxBlocks_(rxBlocks), blockSize_(blockSize), txFrames_(txFrames), frameSize_(frameSize),
        v2_(v2), tx_(map + static_cast<size_t>(rxBlocks) * blockSize) {}

  ~PacketPort() override { Close(); }

  int Recv(uint8_t* buf, size_t stride, uint32_t* lens, int max) override { return v2_ ? RecvV2(buf, stride, lens, max) : RecvV3(buf, stride, lens, max); }

  /** TPACKET_V2: frame slots in ring order (RX has as many as TX), each handed over on its own by its tp_status. */
  int RecvV2(uint8_t* buf, size_t stride, uint32_t* lens, int max) {
    uint32_t slot = rxBlock_.load(std::memory_order_relaxed);  // V2: the next RX slot
    int n = 0;
    while (n < max) {
      auto* h = RxSlotV2(slot);
      const uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
      if ((status & TP_STATUS_USER) == 0) break;
      const uint8_t* data = reinterpret_cast<const uint8_t*>(h) + h->tp_mac;
      const uint32_t len = h->tp_snaplen;
      const bool vlan = (status & TP_STATUS_VLAN_VALID) != 0 && len >= 12;
      const uint32_t full = len + (vlan ? 4 : 0);
      if (h->tp_snaplen < h->tp_len) {
        rxTruncated_++;
      } else if (full > stride) {
        rxTooLong_++;
      } else {
        uint8_t* out = buf + static_cast<size_t>(n) * stride;
        if (vlan) {
          const uint16_t tpid = (status & TP_STATUS_VLAN_TPID_VALID) != 0 ? h->tp_vlan_tpid : ETH_P_8021Q;
          const uint16_t tci = h->tp_vlan_tci;
          std::memcpy(out, data, 12);
          out[12] = tpid >> 8, out[13] = tpid & 0xff, out[14] = tci >> 8, out[15] = tci & 0xff;
          std::memcpy(out + 16, data + 12, len - 12);
        } else {
          std::memcpy(out, data, len);
        }
        if ((status & TP_STATUS_CSUMNOTREADY) != 0) rxCsumNotReady_++;
        lens[n++] = full;
        rxFrames_++;
      }
      __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      slot = slot + 1 == txFrames_ ? 0 : slot + 1;
    }
    rxBlock_.store(slot, std::memory_order_relaxed);
    return n;
  }

  int RecvV3(uint8_t* buf, size_t stride, uint32_t* lens, int max) {
    // The cursor in locals; stored back at the end, where Ready() (on a waiting thread) reads it.
    uint32_t block = rxBlock_.load(std::memory_order_relaxed);
    uint32_t left = rxLeft_.load(std::memory_order_relaxed);
    uint8_t* frame = rxFrame_;
    int n = 0;
    while (n < max) {
      if (left == 0) {
        tpacket_block_desc* b = Block(block);
        if ((__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) break;
        left = b->hdr.bh1.num_pkts;
        frame = reinterpret_cast<uint8_t*>(b) + b->hdr.bh1.offset_to_first_pkt;
        if (left == 0) {  // nothing in it (not expected: the timer retires only blocks with frames)
          ReleaseBlock(b, &block);
          continue;
        }
      }
      const auto* h = reinterpret_cast<const tpacket3_hdr*>(frame);
      const uint8_t* data = frame + h->tp_mac;
      uint32_t len = h->tp_snaplen;
      // packet(7): a VLAN tag the device stripped (TP_STATUS_VLAN_VALID) is in hv1; put it back.
      const bool vlan = (h->tp_status & TP_STATUS_VLAN_VALID) != 0 && len >= 12;
      const uint32_t full = len + (vlan ? 4 : 0);
      if (h->tp_snaplen < h->tp_len) {
        rxTruncated_++;
      } else if (full > stride) {
        rxTooLong_++;
      } else {
        uint8_t* out = buf + static_cast<size_t>(n) * stride;
        if (vlan) {
          const uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) != 0 ? h->hv1.tp_vlan_tpid : ETH_P_8021Q;
          const uint16_t tci = h->hv1.tp_vlan_tci;
          std::memcpy(out, data, 12);
          out[12] = tpid >> 8, out[13] = tpid & 0xff, out[14] = tci >> 8, out[15] = tci & 0xff;
          std::memcpy(out + 16, data + 12, len - 12);
        } else {
          std::memcpy(out, data, len);
        }
        if ((h->tp_status & TP_STATUS_CSUMNOTREADY) != 0) rxCsumNotReady_++;
        lens[n++] = full;
        rxFrames_++;
      }
      if (--left == 0) {
        ReleaseBlock(Block(block), &block);
      } else {
        frame += h->tp_next_offset;
      }
    }
    rxFrame_ = frame;
    rxLeft_.store(left, std::memory_order_relaxed);
    rxBlock_.store(block, std::memory_order_relaxed);
    return n;
  }

  int Send(const uint8_t* buf, size_t stride, const uint32_t* lens, int count) override {
    return v2_ ? SendRing<tpacket2_hdr>(buf, stride, lens, count, kTxDataOffsetV2) : SendRing<tpacket3_hdr>(buf, stride, lens, count, kTxDataOffset);
  }

  /** The TX ring, fixed-size slots of header type H (tpacket2_hdr or tpacket3_hdr) with data at `offset`. */
  template <typename H>
  int SendRing(const uint8_t* buf, size_t stride, const uint32_t* lens, int count, size_t offset) {
    const size_t room = frameSize_ - offset;
    int accepted = 0;
    int pending = 0;  // requested since the last kick
    bool waited = false;
    while (accepted < count) {
      auto* h = reinterpret_cast<H*>(tx_ + static_cast<size_t>(txHead_) * frameSize_);
      uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
      if (status != TP_STATUS_AVAILABLE) {
        // The slot is still queued or in flight: kick what we added, then wait for POLLOUT
        // (packet_poll: the ring's current slot is available) once, for ≈ 1 ms at most.
        if (pending > 0) {
          Kick();
          pending = 0;
          status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
        }
        if (status != TP_STATUS_AVAILABLE && !waited) {
          waited = true;
          struct pollfd p = {fd_, POLLOUT, 0};
          poll(&p, 1, 1);
          status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
        }
        if (status != TP_STATUS_AVAILABLE) {
          txRingFull_++;
          break;
        }
      }
      const uint32_t len = lens[accepted];
      if (len > room) {  // cannot happen with the port's stride checks unless frameSize < stride
        txTooLong_++;
        accepted++;
        continue;
      }
      std::memcpy(reinterpret_cast<uint8_t*>(h) + offset, buf + static_cast<size_t>(accepted) * stride, len);
      h->tp_len = len;
      h->tp_snaplen = len;
      if constexpr (std::is_same_v<H, tpacket3_hdr>) h->tp_next_offset = 0;  // the kernel rejects variable-sized TX slots
      __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
      txHead_ = txHead_ + 1 == txFrames_ ? 0 : txHead_ + 1;
      txSent_++;
      accepted++;
      pending++;
    }
    if (pending > 0) Kick();
    return accepted;
  }

  int PollFd() const override { return fd_; }

  bool Ready() override {
    if (v2_) return (__atomic_load_n(&RxSlotV2(rxBlock_.load(std::memory_order_relaxed))->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
    if (rxLeft_.load(std::memory_order_relaxed) != 0) return true;  // stopped mid-block
    return (__atomic_load_n(&Block(rxBlock_.load(std::memory_order_relaxed))->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
  }

  std::vector<std::pair<std::string, double>> Counters() const override {
    std::lock_guard<std::mutex> hold(statsLock_);
    // packet(7): reading PACKET_STATISTICS resets the kernel's counters, so they are summed here.
    if (fd_ >= 0) {
      tpacket_stats_v3 st{};
      socklen_t len = sizeof st;
      if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
        kernelPackets_ += st.tp_packets;
        kernelDrops_ += st.tp_drops;
        kernelFreezes_ += st.tp_freeze_q_cnt;
      }
    }
    return {
        {"rxFrames", static_cast<double>(rxFrames_)},
        {"rxDropsTruncated", static_cast<double>(rxTruncated_)},
        {"rxDropsTooLong", static_cast<double>(rxTooLong_)},
        {"rxCsumNotReady", static_cast<double>(rxCsumNotReady_)},
        {"kernelPackets", static_cast<double>(kernelPackets_)},
        {"kernelDrops", static_cast<double>(kernelDrops_)},
        {"kernelFreezeQueue", static_cast<double>(kernelFreezes_)},
        {"txFrames", static_cast<double>(txSent_)},
        {"txRingFull", static_cast<double>(txRingFull_)},
        {"txDropsTooLong", static_cast<double>(txTooLong_)},
        {"kicks", static_cast<double>(kicks_)},
        {"kickErrors", static_cast<double>(kickErrors_)},
        {"lastKickErrno", static_cast<double>(lastKickErrno_)},
    };
  }

  void Close() override {
    if (map_ != nullptr) {
      munmap(map_, mapLen_);
      map_ = nullptr;
    }
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

 private:
  tpacket_block_desc* Block(uint32_t i) const { return reinterpret_cast<tpacket_block_desc*>(map_ + static_cast<size_t>(i) * blockSize_); }

  /** V2: RX slot i (slots never straddle blocks: blockSize is a multiple of frameSize, so they lie back to back). */
  tpacket2_hdr* RxSlotV2(uint32_t i) const { return reinterpret_cast<tpacket2_hdr*>(map_ + static_cast<size_t>(i) * frameSize_); }

  /** packet_mmap.rst: the block goes back to the kernel with TP_STATUS_KERNEL; blocks are consumed in ring order. */
  void ReleaseBlock(tpacket_block_desc* b, uint32_t* block) {
    __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    *block = *block + 1 == rxBlocks_ ? 0 : *block + 1;
  }

  /** One sendto(fd, NULL, 0) sends every TP_STATUS_SEND_REQUEST slot; MSG_DONTWAIT: do not wait for their completion. */
  void Kick() {
    kicks_++;
    if (sendto(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0 && errno != EAGAIN && errno != ENOBUFS) {
      kickErrors_++;
      lastKickErrno_ = errno;
    }
  }

  int fd_;
  uint8_t* map_;
  size_t mapLen_;
  const uint32_t rxBlocks_;
  const uint32_t blockSize_;
  const uint32_t txFrames_;
  const uint32_t frameSize_;
  const bool v2_;
  uint8_t* const tx_;

  std::atomic<uint32_t> rxBlock_{0};  // V3: the current block; V2: the next frame slot
  std::atomic<uint32_t> rxLeft_{0};  // frames still to read in rxBlock_ (0: the block is not ours yet)
  uint8_t* rxFrame_ = nullptr;       // the next of them
  uint32_t txHead_ = 0;

  uint64_t rxFrames_ = 0, rxTruncated_ = 0, rxTooLong_ = 0, rxCsumNotReady_ = 0;
  uint64_t txSent_ = 0, txRingFull_ = 0, txTooLong_ = 0, kicks_ = 0, kickErrors_ = 0;
  int lastKickErrno_ = 0;
  mutable std::mutex statsLock_;
  mutable uint64_t kernelPackets_ = 0, kernelDrops_ = 0, kernelFreezes_ = 0;
};

std::string Where(const std::string& netns) { return netns.empty() ? "this network namespace" : netns; }

/** A failed step of packetOpen: errno and what was being done. */
struct OpenError {
  int err = 0;
  std::string what;
};

bool Fail(OpenError* e, int err, std::string what) {
  e->err = err;
  e->what = std::move(what);
  return false;
}

bool SetInt(int fd, int level, int name, int value, const char* what, OpenError* e) {
  if (setsockopt(fd, level, name, &value, sizeof value) == 0) return true;
  return Fail(e, errno, std::string("setsockopt(") + what + ")");
}

struct Opened {
  std::shared_ptr<PacketPort> port;
  uint8_t mac[6] = {};
  int ifindex = 0;
  int mtu = 0;
  uint32_t frameSize = 0, blockSize = 0, rxBlocks = 0, txFrames = 0, version = 3;
};

/** Opens, configures, maps and binds the socket; false with `e` set on failure (nothing left open). */
bool OpenPacket(PacketConfig c, Opened* out, OpenError* e) {
  if (c.ifname.empty() || c.ifname.size() >= IFNAMSIZ) return Fail(e, EINVAL, "interface name \"" + c.ifname + "\" (1 to 15 characters)");
  std::string what;
  int prev = EnterNetns(c.netns, &what);
  if (prev < -1) return Fail(e, -prev, what);
  // Protocol 0: the socket receives nothing until bind() names the interface and ETH_P_ALL
  // (packet(7)), so no frame of another interface lands in the ring in between.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  int err = errno;
  LeaveNetns(prev);  // the socket keeps its namespace; its ioctls and bind act there
  if (fd < 0) {
    if (err == EPERM || err == EACCES)
      return Fail(e, err, "AF_PACKET needs CAP_NET_RAW: run as root or grant it with setcap cap_net_raw+ep $(which node); without it use the shm link or vxlan");
    return Fail(e, err, "socket(AF_PACKET, SOCK_RAW)");
  }
  auto bail = [&](int code, std::string step) {
    close(fd);
    return Fail(e, code, std::move(step));
  };

  struct ifreq ifr {};
  std::memcpy(ifr.ifr_name, c.ifname.data(), c.ifname.size());
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
    err = errno;
    return bail(err, err == ENODEV ? "no interface " + c.ifname + " in " + Where(c.netns) : "ioctl(SIOCGIFINDEX, " + c.ifname + ")");
  }
  out->ifindex = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) return bail(errno, "ioctl(SIOCGIFHWADDR, " + c.ifname + ")");
  if (ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */)
    return bail(EPROTONOSUPPORT, c.ifname + " is not an Ethernet interface (hardware type " + std::to_string(ifr.ifr_hwaddr.sa_family) + ")");
  std::memcpy(out->mac, ifr.ifr_hwaddr.sa_data, 6);
  if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) return bail(errno, "ioctl(SIOCGIFMTU, " + c.ifname + ")");
  out->mtu = ifr.ifr_mtu;

  // Geometry. A TX slot holds its header and the largest frame (MTU + Ethernet + VLAN tag);
  // packet_mmap.rst: frame size a multiple of TPACKET_ALIGNMENT, block size a multiple of
  // the page size and of the frame size, frames per ring = blocks × frames per block.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  uint32_t frameSize = c.frameSize;
  const bool v2 = c.version == 2;
  // V2 receives into the same fixed slots, its data further in (kRxDataOffsetV2).
  const size_t need = (v2 ? kRxDataOffsetV2 : kTxDataOffset) + static_cast<size_t>(out->mtu) + 18;
  while (frameSize < need) frameSize *= 2;
  uint32_t blockSize = c.blockSize;
  if (blockSize < frameSize) blockSize = frameSize;
  if (blockSize % page != 0 || blockSize % frameSize != 0 || frameSize % TPACKET_ALIGNMENT != 0)
    return bail(EINVAL, "ring geometry: blockSize " + std::to_string(blockSize) + " must be a multiple of the page size (" +
                            std::to_string(page) + ") and of frameSize " + std::to_string(frameSize) + " (a power of two ≥ 64)");
  const uint32_t perBlock = blockSize / frameSize;
  const uint32_t blocks = (c.frames + perBlock - 1) / perBlock;
  if (blocks == 0 || blocks > 65536) return bail(EINVAL, "ring geometry: " + std::to_string(c.frames) + " frames");

  if (!SetInt(fd, SOL_PACKET, PACKET_VERSION, v2 ? TPACKET_V2 : TPACKET_V3, v2 ? "PACKET_VERSION, TPACKET_V2" : "PACKET_VERSION, TPACKET_V3", e))
    return close(fd), false;
  // PACKET_LOSS: a TX slot the kernel cannot send is skipped (set available again) instead of
  // stopping the ring at TP_STATUS_WRONG_FORMAT. Must precede the rings (EBUSY after).
  if (!SetInt(fd, SOL_PACKET, PACKET_LOSS, 1, "PACKET_LOSS", e)) return close(fd), false;

  tpacket_req3 rx{};
  rx.tp_block_size = blockSize;
  rx.tp_block_nr = blocks;
  rx.tp_frame_size = frameSize;
  rx.tp_frame_nr = blocks * perBlock;
  if (!v2) rx.tp_retire_blk_tov = c.retireMs;  // ms: a partly filled block is handed over after this
  // (V2 reads the same struct's first four fields, as tpacket_req: the rest must stay 0.)
  if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof rx) < 0) return bail(errno, "setsockopt(PACKET_RX_RING)");
  tpacket_req3 tx{};  // TX with V3: retire timeout, private area and feature word must be 0
  tx.tp_block_size = blockSize;
  tx.tp_block_nr = blocks;
  tx.tp_frame_size = frameSize;
  tx.tp_frame_nr = blocks * perBlock;
  if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof tx) < 0) return bail(errno, "setsockopt(PACKET_TX_RING)");

  // packet_mmap.rst: with both rings, one mmap maps RX then TX, back to back.
  const size_t ringLen = static_cast<size_t>(blocks) * blockSize;
  void* map = mmap(nullptr, 2 * ringLen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (map == MAP_FAILED) return bail(errno, "mmap of the packet rings (" + std::to_string(2 * ringLen) + " bytes)");
  auto port = std::make_shared<PacketPort>(fd, static_cast<uint8_t*>(map), 2 * ringLen, blocks, blockSize, blocks * perBlock, frameSize, v2);
  // From here on the port owns fd and the mapping: closing it releases both.
  auto bail2 = [&](int code, std::string step) {
    port->Close();
    return Fail(e, code, std::move(step));
  };

  // packet(7) PACKET_QDISC_BYPASS: transmit straight to the driver, skipping the qdisc layer
  // (and with it tc, and the qdisc's own backpressure: a full device queue drops).
  const int one = 1;
  if (c.qdiscBypass && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0) return bail2(errno, "setsockopt(PACKET_QDISC_BYPASS)");
  // packet(7) PACKET_IGNORE_OUTGOING: our own transmissions are not looped back to us.
  if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) return bail2(errno, "setsockopt(PACKET_IGNORE_OUTGOING)");

  struct sockaddr_ll sll {};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = out->ifindex;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) {
    err = errno;
    return bail2(err, err == ENODEV ? "no interface " + c.ifname + " in " + Where(c.netns) : "bind(" + c.ifname + ")");
  }
  // packet(7) PACKET_FANOUT: the group id in the low 16 bits, the mode in the high ones; the
  // socket must be bound first, and every member of a group binds the same way. Hash mode
  // defragments first so every fragment of a datagram follows its flow.
  if (c.fanout) {
    uint32_t flags = c.fanoutMode == PACKET_FANOUT_HASH ? PACKET_FANOUT_FLAG_DEFRAG : 0;
    int arg = static_cast<int>((c.fanoutGroup & 0xffff) | ((c.fanoutMode | flags) << 16));
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) < 0)
      return bail2(errno, "setsockopt(PACKET_FANOUT, group " + std::to_string(c.fanoutGroup) + ") (a group's members must use the same mode)");
  }
  out->port = std::move(port);
  out->frameSize = frameSize;
  out->blockSize = blockSize;
  out->rxBlocks = blocks;
  out->txFrames = blocks * perBlock;
  out->version = v2 ? 2 : 3;
  return true;
}

napi_value Get(napi_env env, napi_value obj, const char* key, bool* has) {
  napi_value v = nullptr;
  *has = false;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return nullptr;
  *has = !IsUndefined(env, v);
  return v;
}

/** An optional positive integer option; false with an error thrown when it is not one. */
bool GetCountOpt(napi_env env, napi_value obj, const char* key, uint32_t* out, double lo, double hi) {
  bool has;
  napi_value v = Get(env, obj, key, &has);
  if (!has) return true;
  double d;
  if (!GetNumber(env, v, key, &d)) return false;
  if (!(d >= lo && d <= hi) || d != std::floor(d)) {
    ThrowRangeError(env, std::string(key) + " must be an integer from " + NumberText(lo) + " to " + NumberText(hi) + ", not " + NumberText(d));
    return false;
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

bool ReadConfig(napi_env env, napi_value opts, PacketConfig* c) {
  napi_valuetype t;
  if (napi_typeof(env, opts, &t) != napi_ok || t != napi_object) {
    ThrowTypeError(env, "The \"options\" argument must be an object ({ ifname, netns?, … })");
    return false;
  }
  bool has;
  napi_value v = Get(env, opts, "ifname", &has);
  if (!GetString(env, v, "ifname", &c->ifname)) return false;
  v = Get(env, opts, "netns", &has);
  if (has && !GetString(env, v, "netns", &c->netns)) return false;
  if (!GetCountOpt(env, opts, "frames", &c->frames, 16, 1 << 20)) return false;
  if (!GetCountOpt(env, opts, "frameSize", &c->frameSize, 256, 1 << 20)) return false;
  if (!GetCountOpt(env, opts, "blockSize", &c->blockSize, 4096, 1 << 26)) return false;
  if (!GetCountOpt(env, opts, "retireMs", &c->retireMs, 1, 1000)) return false;
  if (!GetCountOpt(env, opts, "version", &c->version, 2, 3)) return false;
  if ((c->frameSize & (c->frameSize - 1)) != 0) {
    ThrowRangeError(env, "frameSize must be a power of two, not " + std::to_string(c->frameSize));
    return false;
  }
  v = Get(env, opts, "qdiscBypass", &has);
  if (has && !GetBool(env, v, "qdiscBypass", &c->qdiscBypass)) return false;
  v = Get(env, opts, "fanout", &has);
  if (has) {
    c->fanout = true;
    if (napi_typeof(env, v, &t) != napi_ok || t != napi_object) {
      ThrowTypeError(env, "The \"fanout\" option must be an object ({ group, mode })");
      return false;
    }
    bool hasGroup;
    Get(env, v, "group", &hasGroup);
    if (!hasGroup) {
      ThrowTypeError(env, "fanout.group is required (0 to 65535)");
      return false;
    }
    if (!GetCountOpt(env, v, "group", &c->fanoutGroup, 0, 65535)) return false;
    bool hasMode;
    napi_value m = Get(env, v, "mode", &hasMode);
    std::string mode = "hash";
    if (hasMode && !GetString(env, m, "fanout.mode", &mode)) return false;
    if (mode == "hash") c->fanoutMode = PACKET_FANOUT_HASH;
    else if (mode == "lb") c->fanoutMode = PACKET_FANOUT_LB;
    else if (mode == "cpu") c->fanoutMode = PACKET_FANOUT_CPU;
    else {
      ThrowRangeError(env, "fanout.mode must be 'hash', 'lb' or 'cpu', not '" + mode + "'");
      return false;
    }
  }
  return true;
}

void SetNumber(napi_env env, napi_value obj, const char* key, double d) { napi_set_named_property(env, obj, key, MakeNumber(env, d)); }

napi_value PacketOpen(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  PacketConfig c;
  if (!ReadConfig(env, argv[0], &c)) return nullptr;
  Opened o;
  OpenError e;
  if (!OpenPacket(c, &o, &e)) return ThrowErrno(env, e.err, e.what);
  double id = RegisterPort(o.port);
  if (id < 0) return ThrowErrno(env, static_cast<int>(-id), "eventfd for the packet port");

  napi_value out, mac, ab;
  napi_create_object(env, &out);
  void* macData = nullptr;
  napi_create_arraybuffer(env, 6, &macData, &ab);
  std::memcpy(macData, o.mac, 6);
  napi_create_typedarray(env, napi_uint8_array, 6, ab, 0, &mac);
  SetNumber(env, out, "id", id);
  napi_set_named_property(env, out, "mac", mac);
  SetNumber(env, out, "ifindex", o.ifindex);
  SetNumber(env, out, "mtu", o.mtu);
  SetNumber(env, out, "frameSize", o.frameSize);
  SetNumber(env, out, "blockSize", o.blockSize);
  SetNumber(env, out, "version", o.version);
  SetNumber(env, out, "rxBlocks", o.rxBlocks);
  SetNumber(env, out, "txFrames", o.txFrames);
  return out;
}

}  // namespace

bool InitPacket(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"packetOpen", nullptr, PacketOpen, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}

}  // namespace xlio

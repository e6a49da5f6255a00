// The AF_XDP driver: an XDP program that redirects one queue's frames to an AF_XDP socket,
// and that socket's UMEM and four rings as a frame port (port.h).
//
//   xdpOpen({ ifname, netns?, queue?, frames?, frameSize?, mode?, zeroCopy? })
//     → { id, mac: Uint8Array(6), ifindex, mtu, mode: 'native' | 'skb', zeroCopy }
//
// Everything is set up with system calls, following the kernel's
// Documentation/networking/af_xdp.rst and the uapi headers (linux/if_xdp.h, linux/bpf.h),
// so nothing but the kernel is needed at run time:
//   1. bpf(BPF_MAP_CREATE) an XSKMAP; bpf(BPF_PROG_LOAD) a five-instruction XDP program,
//      assembled below, that does bpf_redirect_map(xsks, ctx->rx_queue_index, XDP_PASS);
//   2. socket(AF_XDP); the UMEM (one anonymous mapping cut into equal chunks) registered
//      with XDP_UMEM_REG; the fill, completion, RX and TX rings sized and mmap'd; bind to
//      (ifindex, queue), zero-copy when the driver does it, copy mode otherwise;
//   3. the socket into the XSKMAP at `queue`; bpf(BPF_LINK_CREATE) attaches the program to
//      the interface. The link's descriptor is the attachment: closing the port detaches it.
//
// The UMEM's first half receives (its chunks live on the fill ring, the RX ring, or in
// flight in the kernel), its second half transmits (a free list, the TX ring, or the
// completion ring). Frames are copied once each way between the UMEM and the JavaScript
// batch buffer; a batch costs no system call on receive and one kick (sendto) on transmit
// when the kernel asks for it (XDP_RING_NEED_WAKEUP; in copy mode it always does).

#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "init.h"
#include "netns.h"
#include "port.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace xlio {

// ---- bpf(2) ----

static long Bpf(int cmd, union bpf_attr* attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

static int CreateXskMap(uint32_t entries) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_type = BPF_MAP_TYPE_XSKMAP;
  a.key_size = 4;
  a.value_size = 4;
  a.max_entries = entries;
  strncpy(a.map_name, "xlio_xsks", sizeof a.map_name - 1);
  return static_cast<int>(Bpf(BPF_MAP_CREATE, &a));
}

static struct bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  struct bpf_insn i;
  memset(&i, 0, sizeof i);
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

/**
 * Loads the redirect program; on failure returns −errno with the verifier's log in `log`.
 *
 *   r2 = *(u32 *)(r1 + offsetof(struct xdp_md, rx_queue_index))
 *   r1 = map_fd xsks                     ; ld_imm64, src_reg BPF_PSEUDO_MAP_FD (2 slots)
 *   r3 = XDP_PASS                        ; flags: the action when the slot is empty
 *   call bpf_redirect_map
 *   exit                                 ; r0 = XDP_REDIRECT, or XDP_PASS
 */
static int LoadRedirectProgram(int mapFd, std::string* log) {
  struct bpf_insn prog[] = {
      Insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, offsetof(struct xdp_md, rx_queue_index), 0),
      Insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, mapFd),
      Insn(0, 0, 0, 0, 0),
      Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, XDP_PASS),
      Insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect_map),
      Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  static const char license[] = "Dual MIT/GPL";
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.insn_cnt = sizeof prog / sizeof prog[0];
  a.insns = reinterpret_cast<uint64_t>(prog);
  a.license = reinterpret_cast<uint64_t>(license);
  a.expected_attach_type = BPF_XDP;
  strncpy(a.prog_name, "xlio_xsk_redir", sizeof a.prog_name - 1);
  int fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &a));
  if (fd >= 0) return fd;
  int err = errno;
  if (err == EPERM) return -err;
  // Refused: load again with a log buffer, for the verifier's reasons.
  std::vector<char> buf(64 * 1024, '\0');
  a.log_level = 1;
  a.log_size = static_cast<uint32_t>(buf.size() - 1);
  a.log_buf = reinterpret_cast<uint64_t>(buf.data());
  fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &a));
  if (fd >= 0) return fd;
  *log = buf.data();
  return -err;
}

static int MapUpdate(int mapFd, uint32_t key, uint32_t value) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = static_cast<uint32_t>(mapFd);
  a.key = reinterpret_cast<uint64_t>(&key);
  a.value = reinterpret_cast<uint64_t>(&value);
  a.flags = BPF_ANY;
  return Bpf(BPF_MAP_UPDATE_ELEM, &a) < 0 ? -errno : 0;
}

static int AttachXdp(int progFd, int ifindex, uint32_t flags) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.link_create.prog_fd = static_cast<uint32_t>(progFd);
  a.link_create.target_ifindex = static_cast<uint32_t>(ifindex);
  a.link_create.attach_type = BPF_XDP;
  a.link_create.flags = flags;
  int fd = static_cast<int>(Bpf(BPF_LINK_CREATE, &a));
  return fd >= 0 ? fd : -errno;
}

// ---- rings ----

/** One mmap'd ring: the kernel and we each own one index; the other is read with acquire. */
struct Ring {
  uint32_t* producer = nullptr;
  uint32_t* consumer = nullptr;
  uint32_t* flags = nullptr;
  uint8_t* descs = nullptr;
  uint32_t size = 0;
  uint32_t mask = 0;
  void* map = MAP_FAILED;
  size_t mapLen = 0;

  bool NeedsWakeup() const { return (__atomic_load_n(flags, __ATOMIC_RELAXED) & XDP_RING_NEED_WAKEUP) != 0; }
  xdp_desc* Desc(uint32_t i) const { return reinterpret_cast<xdp_desc*>(descs) + (i & mask); }
  uint64_t* Addr(uint32_t i) const { return reinterpret_cast<uint64_t*>(descs) + (i & mask); }
  void Unmap() {
    if (map != MAP_FAILED) munmap(map, mapLen);
    map = MAP_FAILED;
  }
};

static int MapRing(int fd, const xdp_ring_offset& off, uint32_t size, size_t descSize, off_t pgoff, Ring* r) {
  r->mapLen = off.desc + size * descSize;
  r->map = mmap(nullptr, r->mapLen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
  if (r->map == MAP_FAILED) return -errno;
  auto* base = static_cast<uint8_t*>(r->map);
  r->producer = reinterpret_cast<uint32_t*>(base + off.producer);
  r->consumer = reinterpret_cast<uint32_t*>(base + off.consumer);
  r->flags = reinterpret_cast<uint32_t*>(base + off.flags);
  r->descs = base + off.desc;
  r->size = size;
  r->mask = size - 1;
  return 0;
}

static double NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// ---- the program on an interface, shared by the process's sockets on its queues ----

/**
 * An interface carries one XDP program. Every link this process opens on it (one per queue,
 * say one per worker thread: the addon's statics are shared by all of them) shares the one
 * XSKMAP, program and BPF link; the last to close detaches it. Created, found and released
 * under `attachLock`, so an open never meets one that is half torn down.
 */
struct Attachment {
  uint64_t netnsDev = 0, netnsIno = 0;
  int ifindex = 0;
  uint32_t entries = 0;
  std::string mode;
  int mapFd = -1, progFd = -1, linkFd = -1;
  ~Attachment() {
    if (linkFd >= 0) close(linkFd);  // detaches the program
    if (progFd >= 0) close(progFd);
    if (mapFd >= 0) close(mapFd);
  }
};

static std::mutex attachLock;
static std::vector<std::weak_ptr<Attachment>> attachments;

// ---- the port ----

class XdpPort : public Port {
 public:
  int xsk = -1;
  std::shared_ptr<Attachment> attachment;
  uint8_t* umem = nullptr;
  size_t umemLen = 0;
  uint32_t frameSize = 0;
  uint32_t rxChunks = 0;  // chunks [0, rxChunks) receive, [rxChunks, 2 × rxChunks) transmit
  Ring rx, tx, fill, comp;
  std::vector<uint64_t> freeTx;  // transmit chunks not in flight (capacity reserved up front)

  double rxFrames = 0, txFrames = 0, rxDropsOversize = 0, kicks = 0, txNoChunk = 0, kickErrors = 0;

  ~XdpPort() override { Close(); }

  int Recv(uint8_t* buf, size_t stride, uint32_t* lens, int max) override {
    uint32_t cons = *rx.consumer;  // ours: only this thread writes it
    uint32_t avail = __atomic_load_n(rx.producer, __ATOMIC_ACQUIRE) - cons;
    uint32_t n = avail < static_cast<uint32_t>(max) ? avail : static_cast<uint32_t>(max);
    if (n == 0) return 0;
    // The fill ring holds every receive chunk, so there is always room for those we give back.
    uint32_t fprod = *fill.producer;
    int out = 0;
    for (uint32_t i = 0; i < n; i++) {
      const xdp_desc* d = rx.Desc(cons + i);
      if (d->len > stride) {
        rxDropsOversize++;
      } else {
        memcpy(buf + static_cast<size_t>(out) * stride, umem + d->addr, d->len);
        lens[out++] = d->len;
      }
      // Aligned mode: the descriptor's address is the chunk's plus headroom; give back the chunk.
      *fill.Addr(fprod + i) = d->addr & ~static_cast<uint64_t>(frameSize - 1);
    }
    __atomic_store_n(rx.consumer, cons + n, __ATOMIC_RELEASE);
    __atomic_store_n(fill.producer, fprod + n, __ATOMIC_RELEASE);
    rxFrames += out;
    // af_xdp.rst: with XDP_USE_NEED_WAKEUP a zero-copy driver may sleep when the fill ring ran
    // dry; a receive call wakes it. Copy mode is driven by the kernel's receive path.
    if (fill.NeedsWakeup()) {
      recvfrom(xsk, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
      kicks++;
    }
    return out;
  }

  int Send(const uint8_t* buf, size_t stride, const uint32_t* lens, int count) override {
    Reclaim();
    int accepted = 0;
    double deadline = 0;
    for (int round = 0; round < 1000000; round++) {
      uint32_t prod = *tx.producer;
      uint32_t space = tx.size - (prod - __atomic_load_n(tx.consumer, __ATOMIC_ACQUIRE));
      uint32_t want = static_cast<uint32_t>(count - accepted);
      uint32_t k = want < space ? want : space;
      if (k > freeTx.size()) k = static_cast<uint32_t>(freeTx.size());
      for (uint32_t i = 0; i < k; i++) {
        uint64_t addr = freeTx.back();
        freeTx.pop_back();
        uint32_t len = lens[accepted + i];
        memcpy(umem + addr, buf + static_cast<size_t>(accepted + i) * stride, len);
        xdp_desc* d = tx.Desc(prod + i);
        d->addr = addr;
        d->len = len;
        d->options = 0;
      }
      if (k > 0) __atomic_store_n(tx.producer, prod + k, __ATOMIC_RELEASE);
      accepted += static_cast<int>(k);
      Kick();
      Reclaim();
      if (accepted == count) break;
      // No chunk or no ring space: the kernel is still sending. Wait up to ≈ 1 ms for it.
      double now = NowMs();
      if (deadline == 0) deadline = now + 1.0;
      else if (now >= deadline) {
        txNoChunk++;
        break;
      }
      if (freeTx.empty()) sched_yield();
    }
    txFrames += accepted;
    return accepted;
  }

  int PollFd() const override { return xsk; }

  bool Ready() override {
    // Frames already on the RX ring: no sleep. poll(POLLIN) on the socket wakes a sleeping
    // zero-copy driver itself when the fill ring asks for it (xsk_poll), so nothing to arm.
    return __atomic_load_n(rx.producer, __ATOMIC_ACQUIRE) != *rx.consumer;
  }

  std::vector<std::pair<std::string, double>> Counters() const override {
    std::vector<std::pair<std::string, double>> c = {
        {"rxFrames", rxFrames}, {"txFrames", txFrames}, {"rxDropsOversize", rxDropsOversize},
        {"kicks", kicks},       {"txNoChunk", txNoChunk}, {"kickErrors", kickErrors},
    };
    struct xdp_statistics st;
    socklen_t len = sizeof st;
    if (xsk >= 0 && getsockopt(xsk, SOL_XDP, XDP_STATISTICS, &st, &len) == 0) {
      c.emplace_back("rx_dropped", static_cast<double>(st.rx_dropped));
      c.emplace_back("rx_invalid_descs", static_cast<double>(st.rx_invalid_descs));
      c.emplace_back("tx_invalid_descs", static_cast<double>(st.tx_invalid_descs));
      c.emplace_back("rx_ring_full", static_cast<double>(st.rx_ring_full));
      c.emplace_back("rx_fill_ring_empty_descs", static_cast<double>(st.rx_fill_ring_empty_descs));
      c.emplace_back("tx_ring_empty_descs", static_cast<double>(st.tx_ring_empty_descs));
    }
    return c;
  }

  void CloseSocket() {
    rx.Unmap();
    tx.Unmap();
    fill.Unmap();
    comp.Unmap();
    if (xsk >= 0) close(xsk);
    xsk = -1;
  }

  void Close() override {
    CloseSocket();  // the kernel takes it out of the XSKMAP
    if (attachment != nullptr) {
      std::lock_guard<std::mutex> hold(attachLock);
      attachment.reset();  // the last link on the interface detaches the program
    }
    if (umem != nullptr) munmap(umem, umemLen);
    umem = nullptr;
  }

 private:
  /** Takes finished transmit chunks off the completion ring. */
  void Reclaim() {
    uint32_t cons = *comp.consumer;
    uint32_t n = __atomic_load_n(comp.producer, __ATOMIC_ACQUIRE) - cons;
    for (uint32_t i = 0; i < n; i++) freeTx.push_back(*comp.Addr(cons + i) & ~static_cast<uint64_t>(frameSize - 1));
    if (n > 0) __atomic_store_n(comp.consumer, cons + n, __ATOMIC_RELEASE);
  }

  /**
   * Tells the kernel to send what is on the TX ring when it asks to be told. In copy mode
   * each sendto sends at most a small budget (32 frames) and answers EAGAIN while more wait,
   * so it is repeated — a few calls per batch, never one per frame.
   */
  void Kick() {
    for (int i = 0; i < 64; i++) {
      if (__atomic_load_n(tx.consumer, __ATOMIC_ACQUIRE) == *tx.producer) return;
      if (!tx.NeedsWakeup()) return;
      kicks++;
      if (sendto(xsk, nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) continue;
      int err = errno;
      if (err == EAGAIN || err == EBUSY || err == ENOBUFS) {
        // EAGAIN: budget spent, or the device queue is full; EBUSY: the device dropped one.
        if (err != EAGAIN) kickErrors++;
        Reclaim();
        continue;
      }
      kickErrors++;  // ENETDOWN, ENXIO: nothing this call can do; the frames stay queued
      return;
    }
  }
};

// ---- xdpOpen ----

/** The named property of `obj`, or nullptr (no exception) when it is undefined. */
static napi_value Prop(napi_env env, napi_value obj, const char* name) {
  napi_value v;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return nullptr;
  return IsUndefined(env, v) ? nullptr : v;
}

static bool OptString(napi_env env, napi_value obj, const char* name, std::string* out) {
  napi_value v = Prop(env, obj, name);
  return v == nullptr || GetString(env, v, name, out);
}

static bool OptUint(napi_env env, napi_value obj, const char* name, double max, uint32_t* out) {
  napi_value v = Prop(env, obj, name);
  if (v == nullptr) return true;
  double d;
  if (!GetNumber(env, v, name, &d)) return false;
  if (!(d >= 0 && d <= max) || d != static_cast<double>(static_cast<uint64_t>(d))) {
    ThrowRangeError(env, std::string(name) + " must be an integer from 0 to " + NumberText(max) + ", not " + NumberText(d));
    return false;
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

static bool OptChoice(napi_env env, napi_value obj, const char* name, std::initializer_list<const char*> allowed, std::string* out) {
  if (!OptString(env, obj, name, out)) return false;
  for (const char* a : allowed)
    if (*out == a) return true;
  std::string list;
  for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + "'" + a + "'";
  ThrowRangeError(env, std::string(name) + " must be one of " + list + ", not '" + *out + "'");
  return false;
}

struct XdpOptions {
  std::string ifname, netns, mode = "auto", zeroCopy = "auto";
  uint32_t queue = 0, frames = 4096, frameSize = 2048;
};

/** An error for JavaScript: errno and message, filled by the steps of Open. */
struct OpenError {
  int err = 0;
  std::string message;
  int Fail(int e, std::string m) {
    err = e;
    message = std::move(m);
    return -e;
  }
};

static std::string Where(const XdpOptions& o) {
  return o.netns.empty() ? "this network namespace" : o.netns;
}

/** The message for a privilege error from `step`. */
static std::string Privileges(const std::string& step) {
  return step +
         ": AF_XDP needs CAP_BPF and CAP_NET_ADMIN (to load and attach the XDP program) and CAP_NET_RAW (for the socket), "
         "or root; without them use the packet driver or the shm link";
}

struct Info {
  int ifindex = 0;
  int mtu = 0;
  uint8_t mac[6] = {0};
};

static int InterfaceInfo(const XdpOptions& o, Info* info, OpenError* e) {
  if (o.ifname.empty() || o.ifname.size() >= IFNAMSIZ) return e->Fail(EINVAL, "ifname '" + o.ifname + "' is not an interface name");
  unsigned idx = if_nametoindex(o.ifname.c_str());
  if (idx == 0) {
    int err = errno == ENXIO ? ENODEV : errno;
    if (err == ENODEV) return e->Fail(ENODEV, "no interface " + o.ifname + " in " + Where(o));
    return e->Fail(err, "if_nametoindex(" + o.ifname + ")");
  }
  info->ifindex = static_cast<int>(idx);
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return e->Fail(errno, "socket(AF_INET) for the interface's MAC and MTU");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, o.ifname.c_str(), IFNAMSIZ - 1);
  int r = ioctl(s, SIOCGIFMTU, &ifr);
  if (r == 0) info->mtu = ifr.ifr_mtu;
  if (r == 0) r = ioctl(s, SIOCGIFHWADDR, &ifr);
  int err = errno;
  close(s);
  if (r < 0) return e->Fail(err, "ioctl(SIOCGIFMTU/SIOCGIFHWADDR, " + o.ifname + ")");
  memcpy(info->mac, ifr.ifr_hwaddr.sa_data, 6);
  return 0;
}

/** The AF_XDP socket with its UMEM registered, rings mapped, the fill ring stocked, bound with `bindFlags`. */
static int OpenSocket(XdpPort* p, const XdpOptions& o, const Info& info, uint16_t bindFlags, OpenError* e) {
  p->xsk = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (p->xsk < 0) {
    int err = errno;
    if (err == EAFNOSUPPORT) return e->Fail(err, "socket(AF_XDP): this kernel has no AF_XDP (CONFIG_XDP_SOCKETS); use the packet driver or the shm link");
    if (err == EPERM || err == EACCES) return e->Fail(err, Privileges("socket(AF_XDP)"));
    return e->Fail(err, "socket(AF_XDP)");
  }
  struct xdp_umem_reg reg;
  memset(&reg, 0, sizeof reg);
  reg.addr = reinterpret_cast<uint64_t>(p->umem);
  reg.len = p->umemLen;
  reg.chunk_size = p->frameSize;
  reg.headroom = 0;
  if (setsockopt(p->xsk, SOL_XDP, XDP_UMEM_REG, &reg, sizeof reg) < 0) {
    int err = errno;
    if (err == EPERM) return e->Fail(err, Privileges("XDP_UMEM_REG"));
    if (err == ENOBUFS || err == ENOMEM)
      return e->Fail(err, "XDP_UMEM_REG of " + std::to_string(p->umemLen) + " bytes: over RLIMIT_MEMLOCK (raise it, or use fewer frames)");
    return e->Fail(err, "XDP_UMEM_REG (" + std::to_string(o.frames) + " chunks of " + std::to_string(o.frameSize) + " bytes)");
  }
  uint32_t half = p->rxChunks;
  struct {
    int opt;
    const char* name;
  } rings[] = {{XDP_UMEM_FILL_RING, "XDP_UMEM_FILL_RING"}, {XDP_UMEM_COMPLETION_RING, "XDP_UMEM_COMPLETION_RING"}, {XDP_RX_RING, "XDP_RX_RING"}, {XDP_TX_RING, "XDP_TX_RING"}};
  for (const auto& r : rings) {
    if (setsockopt(p->xsk, SOL_XDP, r.opt, &half, sizeof half) < 0) return e->Fail(errno, std::string(r.name) + " of " + std::to_string(half) + " entries");
  }
  struct xdp_mmap_offsets off;
  socklen_t len = sizeof off;
  if (getsockopt(p->xsk, SOL_XDP, XDP_MMAP_OFFSETS, &off, &len) < 0) return e->Fail(errno, "XDP_MMAP_OFFSETS");
  int r = MapRing(p->xsk, off.rx, half, sizeof(xdp_desc), XDP_PGOFF_RX_RING, &p->rx);
  if (r == 0) r = MapRing(p->xsk, off.tx, half, sizeof(xdp_desc), XDP_PGOFF_TX_RING, &p->tx);
  if (r == 0) r = MapRing(p->xsk, off.fr, half, sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING, &p->fill);
  if (r == 0) r = MapRing(p->xsk, off.cr, half, sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING, &p->comp);
  if (r < 0) return e->Fail(-r, "mmap of the AF_XDP rings");

  // Every receive chunk onto the fill ring; every transmit chunk onto the free list.
  for (uint32_t i = 0; i < half; i++) *p->fill.Addr(i) = static_cast<uint64_t>(i) * p->frameSize;
  __atomic_store_n(p->fill.producer, half, __ATOMIC_RELEASE);
  p->freeTx.clear();
  p->freeTx.reserve(half);
  for (uint32_t i = 0; i < half; i++) p->freeTx.push_back(static_cast<uint64_t>(half + i) * p->frameSize);

  struct sockaddr_xdp sxdp;
  memset(&sxdp, 0, sizeof sxdp);
  sxdp.sxdp_family = AF_XDP;
  sxdp.sxdp_flags = bindFlags;
  sxdp.sxdp_ifindex = static_cast<uint32_t>(info.ifindex);
  sxdp.sxdp_queue_id = o.queue;
  // A socket closed moments ago holds its queue until the kernel's deferred release has run
  // (its buffer pool is freed from a work queue), so EBUSY is retried for up to ≈ 1 s.
  int br = -1, err = 0;
  for (int i = 0; i < 100; i++) {
    br = bind(p->xsk, reinterpret_cast<struct sockaddr*>(&sxdp), sizeof sxdp);
    err = br < 0 ? errno : 0;
    if (br == 0 || err != EBUSY) break;
    struct timespec ten = {0, 10 * 1000 * 1000};
    nanosleep(&ten, nullptr);
  }
  if (br < 0) {
    std::string what = "bind(AF_XDP, " + o.ifname + " queue " + std::to_string(o.queue) + (bindFlags & XDP_ZEROCOPY ? ", zero-copy)" : ", copy mode)");
    if ((bindFlags & XDP_ZEROCOPY) && (err == EOPNOTSUPP || err == EPROTONOSUPPORT || err == EINVAL))
      return e->Fail(err, what + ": the driver of " + o.ifname + " does not do AF_XDP zero-copy (veth, for one, only copies); use zeroCopy 'auto' or 'off'");
    if (err == EINVAL) return e->Fail(err, what + ": is queue " + std::to_string(o.queue) + " one of the interface's RX and TX queues?");
    if (err == EBUSY) return e->Fail(err, what + ": another AF_XDP socket is bound to this queue (for more than a second)");
    if (err == EPERM) return e->Fail(err, Privileges(what));
    return e->Fail(err, what);
  }
  return 0;
}

static int IsZeroCopy(int xsk) {
  struct xdp_options opts;
  socklen_t len = sizeof opts;
  if (getsockopt(xsk, SOL_XDP, XDP_OPTIONS, &opts, &len) < 0) return 0;
  return (opts.flags & XDP_OPTIONS_ZEROCOPY) != 0;
}

/** This thread's network namespace, as stat(2) names it. */
static bool NetnsId(uint64_t* dev, uint64_t* ino) {
  struct stat st;
  if (stat("/proc/thread-self/ns/net", &st) < 0) return false;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return true;
}

/** The interface's attachment: the one this process already has there, or a new one. Called under attachLock. */
static int Attach(XdpPort* p, const XdpOptions& o, const Info& info, OpenError* e) {
  uint64_t dev = 0, ino = 0;
  bool known = NetnsId(&dev, &ino);
  for (size_t i = 0; i < attachments.size();) {
    auto a = attachments[i].lock();
    if (a == nullptr) {
      attachments[i] = attachments.back();
      attachments.pop_back();
      continue;
    }
    i++;
    if (!known || a->netnsDev != dev || a->netnsIno != ino || a->ifindex != info.ifindex) continue;
    if (o.mode != "auto" && o.mode != a->mode)
      return e->Fail(EBUSY, o.ifname + " already carries this process's XDP program in " + a->mode + " mode (another link, on another queue); open with mode '" +
                                a->mode + "' or 'auto'");
    if (o.queue >= a->entries)
      return e->Fail(EINVAL, "queue " + std::to_string(o.queue) + " is beyond the " + std::to_string(a->entries) + " entries of " + o.ifname + "'s XSKMAP");
    p->attachment = std::move(a);
    return 0;
  }

  auto a = std::make_shared<Attachment>();
  a->netnsDev = dev;
  a->netnsIno = ino;
  a->ifindex = info.ifindex;
  // Room for every queue a worker may take later, not just this one.
  a->entries = o.queue + 1 > 64 ? o.queue + 1 : 64;
  a->mapFd = CreateXskMap(a->entries);
  if (a->mapFd < 0) {
    int err = errno;
    if (err == EPERM) return e->Fail(err, Privileges("bpf(BPF_MAP_CREATE, XSKMAP)"));
    if (err == EINVAL) return e->Fail(err, "bpf(BPF_MAP_CREATE, XSKMAP): this kernel has no AF_XDP (CONFIG_XDP_SOCKETS)");
    return e->Fail(err, "bpf(BPF_MAP_CREATE, XSKMAP)");
  }
  std::string log;
  a->progFd = LoadRedirectProgram(a->mapFd, &log);
  if (a->progFd < 0) {
    int err = -a->progFd;
    if (err == EPERM) return e->Fail(err, Privileges("bpf(BPF_PROG_LOAD)"));
    return e->Fail(err, "bpf(BPF_PROG_LOAD) of the XDP redirect program" + (log.empty() ? std::string() : "; the verifier said:\n" + log));
  }
  struct Try {
    const char* name;
    uint32_t flags;
  };
  std::vector<Try> tries;
  if (o.mode != "skb") tries.push_back({"native", XDP_FLAGS_DRV_MODE});
  if (o.mode != "native") tries.push_back({"skb", XDP_FLAGS_SKB_MODE});
  int err = 0;
  for (const auto& t : tries) {
    int fd = AttachXdp(a->progFd, info.ifindex, t.flags);
    if (fd >= 0) {
      a->linkFd = fd;
      a->mode = t.name;
      attachments.push_back(a);
      p->attachment = std::move(a);
      return 0;
    }
    err = -fd;
    if (err == EBUSY || err == EEXIST)
      return e->Fail(err, "bpf(BPF_LINK_CREATE, XDP, " + std::string(t.name) + " mode) on " + o.ifname +
                              ": another XDP program is already attached there (ip link show " + o.ifname + "; ip link set " + o.ifname + " xdp off)");
    if (err == EPERM) return e->Fail(err, Privileges("bpf(BPF_LINK_CREATE, XDP)"));
  }
  if (o.mode == "native")
    return e->Fail(err, "bpf(BPF_LINK_CREATE, XDP, native mode) on " + o.ifname +
                            ": the driver refused native XDP (no support, or its MTU or queue counts do not allow it); mode 'skb' works on any interface");
  return e->Fail(err, "bpf(BPF_LINK_CREATE, XDP, " + std::string(o.mode == "auto" ? "native, then skb" : "skb") + " mode) on " + o.ifname);
}

/** Builds the whole driver inside the current namespace. */
static int Open(XdpPort* p, const XdpOptions& o, Info* info, std::string* modeOut, bool* zcOut, OpenError* e) {
  int r = InterfaceInfo(o, info, e);
  if (r < 0) return r;
  // The XDP frame needs its headroom (XDP_PACKET_HEADROOM, 256) inside the chunk.
  uint32_t room = o.frameSize - 256;
  if (static_cast<uint32_t>(info->mtu) + 18 > room)
    return e->Fail(EINVAL, o.ifname + "'s MTU " + std::to_string(info->mtu) + " does not fit a " + std::to_string(o.frameSize) +
                               "-byte UMEM chunk (" + std::to_string(room) + " bytes after the XDP headroom): use frameSize 4096 or a smaller MTU");

  p->frameSize = o.frameSize;
  p->rxChunks = o.frames / 2;
  p->umemLen = static_cast<size_t>(o.frames) * o.frameSize;
  void* m = mmap(nullptr, p->umemLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (m == MAP_FAILED) return e->Fail(errno, "mmap of a " + std::to_string(p->umemLen) + "-byte UMEM");
  p->umem = static_cast<uint8_t*>(m);

  // The socket first, so that no frame is redirected to an empty slot; zero-copy when asked or possible.
  bool zc = false;
  if (o.zeroCopy != "off") {
    r = OpenSocket(p, o, *info, XDP_USE_NEED_WAKEUP | XDP_ZEROCOPY, e);
    if (r == 0) zc = true;
    else if (o.zeroCopy == "on") return r;
    else {
      p->CloseSocket();
      if (e->err == EPERM || e->err == EAFNOSUPPORT || e->err == ENOBUFS || e->err == ENOMEM) return r;
    }
  }
  if (!zc) {
    r = OpenSocket(p, o, *info, XDP_USE_NEED_WAKEUP | XDP_COPY, e);
    if (r < 0) return r;
  }
  *zcOut = IsZeroCopy(p->xsk) != 0;
  std::lock_guard<std::mutex> hold(attachLock);
  r = Attach(p, o, *info, e);
  if (r < 0) return r;
  *modeOut = p->attachment->mode;
  r = MapUpdate(p->attachment->mapFd, o.queue, static_cast<uint32_t>(p->xsk));
  if (r < 0) return e->Fail(-r, "bpf(BPF_MAP_UPDATE_ELEM): the socket into the XSKMAP");
  return 0;
}

static napi_value XdpOpen(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t != napi_object) return ThrowTypeError(env, "The \"options\" argument must be an object");
  XdpOptions o;
  napi_value v = Prop(env, argv[0], "ifname");
  if (v == nullptr) return ThrowTypeError(env, "The \"ifname\" option must be a string");
  if (!GetString(env, v, "ifname", &o.ifname)) return nullptr;
  if (!OptString(env, argv[0], "netns", &o.netns)) return nullptr;
  if (!OptUint(env, argv[0], "queue", 65535, &o.queue)) return nullptr;
  if (!OptUint(env, argv[0], "frames", 1 << 20, &o.frames)) return nullptr;
  if (o.frames < 64 || (o.frames & (o.frames - 1)) != 0) return ThrowRangeError(env, "frames must be a power of two from 64, not " + std::to_string(o.frames));
  if (!OptUint(env, argv[0], "frameSize", 65536, &o.frameSize)) return nullptr;
  if (o.frameSize != 2048 && o.frameSize != 4096) return ThrowRangeError(env, "frameSize must be 2048 or 4096, not " + std::to_string(o.frameSize));
  if (!OptChoice(env, argv[0], "mode", {"auto", "native", "skb"}, &o.mode)) return nullptr;
  if (!OptChoice(env, argv[0], "zeroCopy", {"auto", "on", "off"}, &o.zeroCopy)) return nullptr;

  std::string what;
  int prev = EnterNetns(o.netns, &what);
  if (prev < -1) return ThrowErrno(env, -prev, what);
  auto port = std::make_shared<XdpPort>();
  Info ifi;
  std::string mode;
  bool zc = false;
  OpenError e;
  int r = Open(port.get(), o, &ifi, &mode, &zc, &e);
  LeaveNetns(prev);
  if (r < 0) {
    port->Close();
    return ThrowErrno(env, e.err, "xdp " + o.ifname + (o.netns.empty() ? "" : " in " + o.netns) + ": " + e.message);
  }
  double id = RegisterPort(port);
  if (id < 0) return ThrowErrno(env, static_cast<int>(-id), "xdp: registering the port");

  napi_value out, mac, ab;
  napi_create_object(env, &out);
  void* data;
  napi_create_arraybuffer(env, 6, &data, &ab);
  memcpy(data, ifi.mac, 6);
  napi_create_typedarray(env, napi_uint8_array, 6, ab, 0, &mac);
  napi_value zcv;
  napi_get_boolean(env, zc, &zcv);
  napi_set_named_property(env, out, "id", MakeNumber(env, id));
  napi_set_named_property(env, out, "mac", mac);
  napi_set_named_property(env, out, "ifindex", MakeNumber(env, ifi.ifindex));
  napi_set_named_property(env, out, "mtu", MakeNumber(env, ifi.mtu));
  napi_set_named_property(env, out, "mode", MakeString(env, mode.c_str()));
  napi_set_named_property(env, out, "zeroCopy", zcv);
  return out;
}

bool InitXdp(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"xdpOpen", nullptr, XdpOpen, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}

}  // namespace xlio

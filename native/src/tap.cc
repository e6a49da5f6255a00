// The TAP driver: a /dev/net/tun descriptor as a frame port (port.h).
//
//   tapOpen({ name, netns?, multiQueue? }): { id, name, ifindex, mtu }
//
// TUNSETIFF with IFF_TAP | IFF_NO_PI creates (or attaches to) an Ethernet device whose every
// frame the kernel transmits becomes one read(2) on the descriptor, and every write(2) one
// frame the kernel receives. The device is the *kernel's* NIC: xlio-ts is the far end of its
// wire, with a MAC of its own. Without IFF_VNET_HDR the device offers no checksum or
// segmentation offload, so the kernel hands us complete frames no larger than its MTU with
// their checksums filled in (tun.c: tun_net_init sets no NETIF_F_HW_CSUM/TSO features).
//
// The device is not made persistent (no TUNSETPERSIST): the kernel deletes it when the last
// descriptor closes, i.e. when the port closes.

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "args.h"
#include "errors.h"
#include "init.h"
#include "netns.h"
#include "port.h"

namespace xlio {

/** How long Send waits for the descriptor to take more frames after EAGAIN (port.h: ≈ 1 ms at most). */
static constexpr int kSendWaitMs = 1;

class TapPort : public Port {
 public:
  explicit TapPort(int fd) : fd_(fd) {}
  ~TapPort() override { Close(); }

  int Recv(uint8_t* buf, size_t stride, uint32_t* lens, int max) override {
    int n = 0;
    while (n < max) {
      // A second, one-byte iovec tells an oversize frame from one that fills the slot exactly:
      // tun_put_user copies what fits and returns the frame's whole length.
      struct iovec iov[2] = {{buf + static_cast<size_t>(n) * stride, stride}, {&spill_, sizeof spill_}};
      ssize_t r = readv(fd_, iov, 2);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        if (n > 0) break;  // report the frames we have; the error comes back on the next call
        return -errno;
      }
      if (r == 0) break;
      if (static_cast<size_t>(r) > stride) {
        rxDropsOversize_++;
        continue;
      }
      lens[n++] = static_cast<uint32_t>(r);
      rxFrames_++;
    }
    return n;
  }

  int Send(const uint8_t* buf, size_t stride, const uint32_t* lens, int count) override {
    int sent = 0;
    bool waited = false;
    for (int i = 0; i < count; i++) {
      const uint8_t* frame = buf + static_cast<size_t>(i) * stride;
      ssize_t r = write(fd_, frame, lens[i]);
      if (r >= 0) {
        sent++;
        txFrames_++;
        continue;
      }
      int err = errno;
      if (err == EINTR) {
        i--;
        continue;
      }
      if (err == EAGAIN) {
        txAgain_++;
        if (waited) break;  // one short wait per batch, then report what was accepted
        waited = true;
        struct pollfd p = {fd_, POLLOUT, 0};
        if (poll(&p, 1, kSendWaitMs) > 0 && (p.revents & POLLOUT)) i--;  // retry this frame
        else break;
        continue;
      }
      if (err == EIO || err == EINVAL || err == EFAULT || err == ENOMEM || err == ENOBUFS) {
        // EIO: the device is down (tun_get_user drops while !IFF_UP); EINVAL: a frame the
        // kernel refused (shorter than an Ethernet header). Like a NIC whose link is down,
        // the frame is lost and counted; the rest of the batch is still tried.
        txErrors_++;
        continue;
      }
      return sent > 0 ? sent : -err;
    }
    return sent;
  }

  int PollFd() const override { return fd_; }

  std::vector<std::pair<std::string, double>> Counters() const override {
    return {{"rxFrames", static_cast<double>(rxFrames_)},
            {"txFrames", static_cast<double>(txFrames_)},
            {"rxDropsOversize", static_cast<double>(rxDropsOversize_)},
            {"txAgain", static_cast<double>(txAgain_)},
            {"txErrors", static_cast<double>(txErrors_)}};
  }

  void Close() override {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
  uint8_t spill_ = 0;
  uint64_t rxFrames_ = 0;
  uint64_t txFrames_ = 0;
  uint64_t rxDropsOversize_ = 0;
  uint64_t txAgain_ = 0;
  uint64_t txErrors_ = 0;
};

/** A property of the options object, or undefined; false with an error pending. */
static bool GetProp(napi_env env, napi_value obj, const char* key, napi_value* out) {
  return napi_get_named_property(env, obj, key, out) == napi_ok;
}

/** What an open/ioctl error means for a TAP user, beyond strerror. */
static std::string Explain(int err, const std::string& step) {
  switch (err) {
    case EPERM:
    case EACCES:
      return step + ": TAP needs CAP_NET_ADMIN: run as root (or grant the capability); without it use the shm link or vxlan";
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return step + ": no /dev/net/tun (modprobe tun / the container needs the device)";
    case EBUSY:
      return step + ": the device is already attached to another descriptor (another program holds it, or it was created without IFF_MULTI_QUEUE)";
    default:
      return step;
  }
}

// tapOpen({ name: string, netns?: string, multiQueue?: boolean }): { id, name, ifindex, mtu }
static napi_value TapOpen(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  napi_valuetype type;
  napi_typeof(env, argv[0], &type);
  if (type != napi_object) return ThrowTypeError(env, "The \"options\" argument must be an object: { name, netns?, multiQueue? }");
  napi_value v;
  std::string name, netns;
  bool multiQueue = false;
  if (!GetProp(env, argv[0], "name", &v) || !GetString(env, v, "options.name", &name)) return nullptr;
  if (!GetProp(env, argv[0], "netns", &v)) return nullptr;
  if (!IsUndefined(env, v) && !GetString(env, v, "options.netns", &netns)) return nullptr;
  if (!GetProp(env, argv[0], "multiQueue", &v)) return nullptr;
  if (!IsUndefined(env, v) && !GetBool(env, v, "options.multiQueue", &multiQueue)) return nullptr;
  // netdevice(7): a name is at most IFNAMSIZ − 1 bytes; dev_valid_name() refuses '/', ':' and
  // white space. Checked here so the error names the rule rather than saying EINVAL.
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == ".." || name.find_first_of("/: \t\n") != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return ThrowError(env, "ERR_INVALID_ARG_VALUE",
                      "invalid TAP device name '" + name + "': 1 to " + std::to_string(IFNAMSIZ - 1) + " characters, without '/', ':' or spaces");
  }

  std::string what;
  int prev = EnterNetns(netns, &what);
  if (prev < -1) return ThrowErrno(env, -prev, what);
  // Everything below runs inside the namespace; every path leaves it before returning.
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    LeaveNetns(prev);
    return ThrowErrno(env, err, Explain(err, "open(/dev/net/tun)"));
  }
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (multiQueue ? IFF_MULTI_QUEUE : 0);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    LeaveNetns(prev);
    std::string step = "TUNSETIFF " + name + (netns.empty() ? "" : " in " + netns);
    if (err == EINVAL) step += " (a device of that name exists and is not a TAP device, or its flags differ)";
    return ThrowErrno(env, err, Explain(err, step));
  }
  std::string actual(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  // The index and MTU come from a socket of the same namespace (netdevice(7) ioctls).
  int ifindex = 0, mtu = 1500;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s >= 0) {
    struct ifreq q;
    std::memset(&q, 0, sizeof q);
    std::memcpy(q.ifr_name, actual.data(), actual.size());
    if (ioctl(s, SIOCGIFINDEX, &q) == 0) ifindex = q.ifr_ifindex;
    if (ioctl(s, SIOCGIFMTU, &q) == 0) mtu = q.ifr_mtu;
    close(s);
  }
  LeaveNetns(prev);

  double id = RegisterPort(std::make_shared<TapPort>(fd));  // closes fd on failure
  if (id < 0) return ThrowErrno(env, static_cast<int>(-id), "tapOpen: registering the port");
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "id", MakeNumber(env, id));
  napi_set_named_property(env, out, "name", MakeString(env, actual.c_str()));
  napi_set_named_property(env, out, "ifindex", MakeNumber(env, ifindex));
  napi_set_named_property(env, out, "mtu", MakeNumber(env, mtu));
  return out;
}

bool InitTap(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tapOpen", nullptr, TapOpen, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}

}  // namespace xlio

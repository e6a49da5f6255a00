// The port table and the JavaScript functions over it (see port.h).
//
//   portRecv(id, buf: Uint8Array, stride, lens: Uint32Array, max): frames received
//   portSend(id, buf: Uint8Array, stride, lens: Uint32Array, first, count): frames accepted
//   portWait(id, timeoutMs): true when frames may be waiting, false on timeout or interrupt
//   portWaitAsync(id, timeoutMs): Promise<same>, the wait on a libuv threadpool thread
//   portInterrupt(id): ends the current wait (or the next one) with false
//   portClose(id): closes the port (a wait in progress ends first)
//   portCounters(id): { name: value } of the driver's counters

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmath>
#include <mutex>
#include <unordered_map>

#include "args.h"
#include "errors.h"
#include "init.h"
#include "port.h"

namespace xlio {

/** A registered port and its interrupt eventfd; closed when the last user lets go. */
struct PortEntry {
  std::shared_ptr<Port> port;
  int interruptFd = -1;
  ~PortEntry() {
    port->Close();
    if (interruptFd >= 0) close(interruptFd);
  }
};

static std::mutex tableLock;
static std::unordered_map<int, std::shared_ptr<PortEntry>> table;
static int nextId = 1;

double RegisterPort(std::shared_ptr<Port> port) {
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) {
    int err = errno;
    port->Close();
    return -err;
  }
  auto entry = std::make_shared<PortEntry>();
  entry->port = std::move(port);
  entry->interruptFd = efd;
  std::lock_guard<std::mutex> hold(tableLock);
  int id = nextId++;
  table.emplace(id, std::move(entry));
  return id;
}

static std::shared_ptr<PortEntry> Find(int id) {
  std::lock_guard<std::mutex> hold(tableLock);
  auto it = table.find(id);
  return it == table.end() ? nullptr : it->second;
}

/** The port of argument `v`, or nullptr with EBADF thrown. */
static std::shared_ptr<PortEntry> GetPort(napi_env env, napi_value v) {
  double id = 0;
  if (!GetNumber(env, v, "id", &id)) return nullptr;
  auto entry = Find(static_cast<int>(id));
  if (entry == nullptr) ThrowErrno(env, EBADF, "port " + NumberText(id) + " is not open");
  return entry;
}

static bool GetTyped(napi_env env, napi_value v, napi_typedarray_type want, const char* what, void** data, size_t* length) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (!is || napi_get_typedarray_info(env, v, &type, length, data, &ab, &offset) != napi_ok || type != want) {
    ThrowTypeError(env, std::string("The \"") + what + "\" argument must be a " + (want == napi_uint8_array ? "Uint8Array" : "Uint32Array"));
    return false;
  }
  return true;
}

static bool GetCount(napi_env env, napi_value v, const char* what, size_t* out) {
  double d = 0;
  if (!GetNumber(env, v, what, &d)) return false;
  if (!(d >= 0) || d != std::floor(d) || d > 1e9) {
    ThrowRangeError(env, std::string(what) + " must be a non-negative integer, not " + NumberText(d));
    return false;
  }
  *out = static_cast<size_t>(d);
  return true;
}

/** The frame layout arguments: buf, stride, lens, and the frames [first, first + count) must fit both. */
struct Frames {
  uint8_t* buf = nullptr;
  size_t bufLen = 0;
  size_t stride = 0;
  uint32_t* lens = nullptr;
  size_t lensLen = 0;
};

static bool GetFrames(napi_env env, napi_value* argv, Frames* f) {
  void* b;
  void* l;
  if (!GetTyped(env, argv[0], napi_uint8_array, "buf", &b, &f->bufLen)) return false;
  if (!GetCount(env, argv[1], "stride", &f->stride)) return false;
  if (!GetTyped(env, argv[2], napi_uint32_array, "lens", &l, &f->lensLen)) return false;
  if (f->stride == 0) {
    ThrowRangeError(env, "stride must be at least 1");
    return false;
  }
  f->buf = static_cast<uint8_t*>(b);
  f->lens = static_cast<uint32_t*>(l);
  return true;
}

static bool CheckRange(napi_env env, const Frames& f, size_t first, size_t count) {
  if (first + count > f.lensLen || (first + count) * f.stride > f.bufLen) {
    ThrowRangeError(env, "frames " + std::to_string(first) + ".." + std::to_string(first + count) + " at stride " +
                             std::to_string(f.stride) + " do not fit a " + std::to_string(f.bufLen) + "-byte buffer with " +
                             std::to_string(f.lensLen) + " lengths");
    return false;
  }
  return true;
}

static napi_value PortRecv(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!GetArgs(env, info, 5, argv)) return nullptr;
  auto entry = GetPort(env, argv[0]);
  if (entry == nullptr) return nullptr;
  Frames f;
  size_t max = 0;
  if (!GetFrames(env, argv + 1, &f) || !GetCount(env, argv[4], "max", &max) || !CheckRange(env, f, 0, max)) return nullptr;
  int n = entry->port->Recv(f.buf, f.stride, f.lens, static_cast<int>(max));
  if (n < 0) return ThrowErrno(env, -n, "port receive");
  return MakeNumber(env, n);
}

static napi_value PortSend(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!GetArgs(env, info, 6, argv)) return nullptr;
  auto entry = GetPort(env, argv[0]);
  if (entry == nullptr) return nullptr;
  Frames f;
  size_t first = 0, count = 0;
  if (!GetFrames(env, argv + 1, &f) || !GetCount(env, argv[4], "first", &first) || !GetCount(env, argv[5], "count", &count) ||
      !CheckRange(env, f, first, count))
    return nullptr;
  for (size_t i = first; i < first + count; i++) {
    if (f.lens[i] > f.stride) return ThrowRangeError(env, "frame " + std::to_string(i) + " is " + std::to_string(f.lens[i]) + " bytes, more than the stride");
  }
  int n = entry->port->Send(f.buf + first * f.stride, f.stride, f.lens + first, static_cast<int>(count));
  if (n < 0) return ThrowErrno(env, -n, "port send");
  return MakeNumber(env, n);
}

/** Timeouts beyond this wait forever (poll's int milliseconds). */
static constexpr double kForeverMs = 2147483647.0;

/**
 * Sleeps until the port's descriptor is readable, its interrupt is rung, or `timeoutMs` passes.
 * Returns 1 (readable), 0 (timeout or interrupt; the interrupt is consumed) or −errno.
 */
static int WaitOn(PortEntry* e, double timeoutMs) {
  if (e->port->Ready()) return 1;
  int ms = std::isnan(timeoutMs) || timeoutMs >= kForeverMs ? -1 : timeoutMs <= 0 ? 0 : static_cast<int>(std::ceil(timeoutMs));
  struct pollfd fds[2] = {{e->port->PollFd(), POLLIN, 0}, {e->interruptFd, POLLIN, 0}};
  for (;;) {
    int r = poll(fds, 2, ms);
    if (r < 0 && errno == EINTR) continue;  // the deadline restarts: a wait is never required to be exact
    if (r < 0) return -errno;
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      if (read(e->interruptFd, &v, sizeof v) < 0) { /* consumed by a concurrent wait */ }
      return 0;
    }
    if (fds[0].revents & (POLLERR | POLLNVAL)) return -EIO;
    return r > 0 ? 1 : 0;
  }
}

/** The (id, timeoutMs) arguments of portWait and portWaitAsync: the port, or nullptr with an error thrown. */
static std::shared_ptr<PortEntry> GetWaitArgs(napi_env env, napi_callback_info info, double* ms) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  auto entry = GetPort(env, argv[0]);
  if (entry == nullptr || !GetNumber(env, argv[1], "timeoutMs", ms)) return nullptr;
  return entry;
}

static napi_value PortWait(napi_env env, napi_callback_info info) {
  double ms = 0;
  auto entry = GetWaitArgs(env, info, &ms);
  if (entry == nullptr) return nullptr;
  int r = WaitOn(entry.get(), ms);
  if (r < 0) return ThrowErrno(env, -r, "poll");
  napi_value out;
  napi_get_boolean(env, r == 1, &out);
  return out;
}

struct AsyncPortWait {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  std::shared_ptr<PortEntry> entry;  // the port stays open until this wait returns
  double timeoutMs = 0;
  int result = 0;
};

static void ExecutePortWait(napi_env, void* data) {
  auto* w = static_cast<AsyncPortWait*>(data);
  w->result = WaitOn(w->entry.get(), w->timeoutMs);
}

static void CompletePortWait(napi_env env, napi_status status, void* data) {
  auto* w = static_cast<AsyncPortWait*>(data);
  if (status == napi_ok && w->result >= 0) {
    napi_value out;
    napi_get_boolean(env, w->result == 1, &out);
    napi_resolve_deferred(env, w->deferred, out);
  } else {
    napi_reject_deferred(env, w->deferred, ErrnoError(env, status == napi_ok ? -w->result : ECANCELED, "poll"));
  }
  napi_delete_async_work(env, w->work);
  delete w;
}

static napi_value PortWaitAsync(napi_env env, napi_callback_info info) {
  double ms = 0;
  auto entry = GetWaitArgs(env, info, &ms);
  if (entry == nullptr) return nullptr;
  napi_value promise;
  napi_deferred deferred;
  if (napi_create_promise(env, &deferred, &promise) != napi_ok) return nullptr;
  auto* w = new AsyncPortWait();
  w->deferred = deferred;
  w->entry = std::move(entry);
  w->timeoutMs = ms;
  if (napi_create_async_work(env, nullptr, MakeString(env, "xlio:portWaitAsync"), ExecutePortWait, CompletePortWait, w, &w->work) != napi_ok ||
      napi_queue_async_work(env, w->work) != napi_ok) {
    if (w->work != nullptr) napi_delete_async_work(env, w->work);
    delete w;
    napi_reject_deferred(env, deferred, ErrnoError(env, ENOMEM, "portWaitAsync: could not queue the wait"));
  }
  return promise;
}

static void Ring(PortEntry* e) {
  uint64_t one = 1;
  if (write(e->interruptFd, &one, sizeof one) < 0) { /* the counter is already non-zero: a wait will see it */ }
}

static napi_value PortInterrupt(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  auto entry = GetPort(env, argv[0]);
  if (entry == nullptr) return nullptr;
  Ring(entry.get());
  return Undefined(env);
}

static napi_value PortClose(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  double id = 0;
  if (!GetNumber(env, argv[0], "id", &id)) return nullptr;
  std::shared_ptr<PortEntry> entry;
  {
    std::lock_guard<std::mutex> hold(tableLock);
    auto it = table.find(static_cast<int>(id));
    if (it == table.end()) return ThrowErrno(env, EBADF, "port " + NumberText(id) + " is not open");
    entry = std::move(it->second);
    table.erase(it);
  }
  Ring(entry.get());  // a wait in progress returns; the port closes when it lets go
  return Undefined(env);
}

static napi_value PortCounters(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  auto entry = GetPort(env, argv[0]);
  if (entry == nullptr) return nullptr;
  napi_value out;
  napi_create_object(env, &out);
  for (const auto& [name, value] : entry->port->Counters()) napi_set_named_property(env, out, name.c_str(), MakeNumber(env, value));
  return out;
}

bool InitPort(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"portRecv", nullptr, PortRecv, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"portSend", nullptr, PortSend, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"portWait", nullptr, PortWait, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"portWaitAsync", nullptr, PortWaitAsync, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"portInterrupt", nullptr, PortInterrupt, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"portClose", nullptr, PortClose, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"portCounters", nullptr, PortCounters, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}

}  // namespace xlio

// A doorbell that crosses processes: FUTEX_WAIT/FUTEX_WAKE on an Int32 inside a
// SharedArrayBuffer. V8 keeps Atomics.wait's waiters in a per-process list, so
// Atomics.notify never reaches another process; a futex without FUTEX_PRIVATE_FLAG is keyed
// by the page's backing object and offset (futex(2)), so every process that mapped the
// same shared-memory segment waits on, and wakes, the same futex.
//
//   futexWait(sab, byteOffset, expected, timeoutMs): 'ok' | 'not-equal' | 'timed-out'
//   futexWaitAsync(sab, byteOffset, expected, timeoutMs): Promise<same>
//   futexWake(sab, byteOffset, count): number of waiters woken
//
// Arguments follow Atomics.wait/notify: `expected` is converted with ToInt32; a timeout of
// NaN or +Infinity waits forever, a negative one is 0; a count of +Infinity wakes all.

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

#include "args.h"
#include "errors.h"
#include "init.h"
#include "sab.h"

namespace xlio {

enum WaitResult : int { kOk = 0, kNotEqual = 1, kTimedOut = 2 };

static const char* WaitResultName(int r) {
  return r == kOk ? "ok" : r == kNotEqual ? "not-equal" : "timed-out";
}

/** Timeouts beyond this (about 31 years) wait forever; keeps the timespec arithmetic in range. */
static constexpr double kForeverMs = 1e12;

/**
 * Sleeps while *addr == expected, until woken or `timeoutMs` passes. Returns a WaitResult,
 * or −errno. Runs on any thread (the async form calls it on a libuv threadpool thread).
 */
static int WaitOn(uint32_t* addr, uint32_t expected, double timeoutMs) {
  struct timespec deadline;
  struct timespec* until = nullptr;
  if (timeoutMs < kForeverMs) {
    // futex(2): FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline (FUTEX_WAIT a
    // relative one), so a retry after EINTR keeps the original deadline.
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    const double ms = timeoutMs > 0 ? timeoutMs : 0;
    const long long ns = static_cast<long long>(ms * 1e6);
    deadline.tv_sec += static_cast<time_t>(ns / 1000000000LL);
    deadline.tv_nsec += static_cast<long>(ns % 1000000000LL);
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
    until = &deadline;
  }
  bool interrupted = false;
  for (;;) {
    // No FUTEX_PRIVATE_FLAG: waiters in other processes must be found by futexWake.
    long r = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, expected, until, nullptr, FUTEX_BITSET_MATCH_ANY);
    if (r == 0) return kOk;  // futex(2): may also be a spurious wake-up; callers re-check
    switch (errno) {
      case EAGAIN:  // the word was not `expected`; after EINTR it changed while we slept
        return interrupted ? kOk : kNotEqual;
      case ETIMEDOUT:
        return kTimedOut;
      case EINTR:  // a signal handler ran (futex(2): not restarted): wait out the rest
        interrupted = true;
        continue;
      default:
        return -errno;
    }
  }
}

/** The aligned Int32 at `byteOffset` of a SharedArrayBuffer; false with TypeError/RangeError thrown otherwise. */
static bool GetWord(napi_env env, napi_value sabV, napi_value offV, napi_value* sabOut, uint32_t** addr) {
  void* data = nullptr;
  size_t length = 0;
  if (!GetSharedArrayBuffer(sabV, &data, &length)) {
    ThrowTypeError(env, "The \"sab\" argument must be a SharedArrayBuffer");
    return false;
  }
  double off = 0;
  if (!GetNumber(env, offV, "byteOffset", &off)) return false;
  if (!(off >= 0) || off != std::floor(off) || off + 4 > static_cast<double>(length)) {
    ThrowRangeError(env, "byteOffset " + NumberText(off) + " is outside the " + std::to_string(length) +
                             "-byte SharedArrayBuffer (an Int32 needs byteOffset + 4 <= byteLength)");
    return false;
  }
  const size_t at = static_cast<size_t>(off);
  // futex(2): "the futex word must be 4-byte aligned" (EINVAL otherwise).
  if (at % 4 != 0 || (reinterpret_cast<uintptr_t>(data) + at) % 4 != 0) {
    ThrowRangeError(env, "byteOffset " + std::to_string(at) + " is not 4-byte aligned (a futex word is an aligned Int32)");
    return false;
  }
  *sabOut = sabV;
  *addr = reinterpret_cast<uint32_t*>(static_cast<char*>(data) + at);
  return true;
}

/** The timeout argument as Atomics.wait reads it: undefined/NaN/+Infinity are forever, negatives 0. */
static bool GetTimeout(napi_env env, napi_value v, double* ms) {
  if (IsUndefined(env, v)) {
    *ms = INFINITY;
    return true;
  }
  if (!GetNumber(env, v, "timeoutMs", ms)) return false;
  if (std::isnan(*ms)) *ms = INFINITY;
  return true;
}

struct WaitArgs {
  napi_value sab = nullptr;
  uint32_t* addr = nullptr;
  uint32_t expected = 0;
  double timeoutMs = 0;
};

static bool GetWaitArgs(napi_env env, napi_callback_info info, WaitArgs* w) {
  napi_value argv[4];
  if (!GetArgs(env, info, 4, argv)) return false;
  if (!GetWord(env, argv[0], argv[1], &w->sab, &w->addr)) return false;
  double unused;
  if (!GetNumber(env, argv[2], "expected", &unused)) return false;
  int32_t expected = 0;
  napi_get_value_int32(env, argv[2], &expected);  // ToInt32, as Atomics.wait does
  w->expected = static_cast<uint32_t>(expected);
  return GetTimeout(env, argv[3], &w->timeoutMs);
}

// futexWait(sab, byteOffset, expected, timeoutMs): blocks this thread, as Atomics.wait does.
static napi_value FutexWait(napi_env env, napi_callback_info info) {
  WaitArgs w;
  if (!GetWaitArgs(env, info, &w)) return nullptr;
  int r = WaitOn(w.addr, w.expected, w.timeoutMs);
  if (r < 0) return ThrowErrno(env, -r, "futex(FUTEX_WAIT_BITSET)");
  return MakeString(env, WaitResultName(r));
}

// futexWake(sab, byteOffset, count): wakes up to `count` waiters of any process.
static napi_value FutexWake(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!GetArgs(env, info, 3, argv)) return nullptr;
  napi_value sab;
  uint32_t* addr;
  if (!GetWord(env, argv[0], argv[1], &sab, &addr)) return nullptr;
  int count = INT_MAX;
  if (!IsUndefined(env, argv[2])) {
    double c = 0;
    if (!GetNumber(env, argv[2], "count", &c)) return nullptr;
    // As Atomics.notify: ToIntegerOrInfinity, then at least 0.
    c = std::isnan(c) ? 0 : std::trunc(c);
    count = c <= 0 ? 0 : c >= INT_MAX ? INT_MAX : static_cast<int>(c);
  }
  long r = syscall(SYS_futex, addr, FUTEX_WAKE, count, nullptr, nullptr, 0);
  if (r < 0) return ThrowErrno(env, errno, "futex(FUTEX_WAKE)");
  return MakeNumber(env, static_cast<double>(r));
}

/** One futexWaitAsync in flight: the wait runs on a libuv threadpool thread, the promise settles on the JS thread. */
struct AsyncWait {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref sab = nullptr;  // keeps the SharedArrayBuffer, hence the mapping, alive while a thread sleeps on it
  uint32_t* addr = nullptr;
  uint32_t expected = 0;
  double timeoutMs = 0;
  int result = 0;
};

static void ExecuteWait(napi_env, void* data) {
  AsyncWait* w = static_cast<AsyncWait*>(data);
  w->result = WaitOn(w->addr, w->expected, w->timeoutMs);
}

static void CompleteWait(napi_env env, napi_status status, void* data) {
  AsyncWait* w = static_cast<AsyncWait*>(data);
  if (status == napi_ok && w->result >= 0) {
    napi_resolve_deferred(env, w->deferred, MakeString(env, WaitResultName(w->result)));
  } else {
    int err = status == napi_ok ? -w->result : ECANCELED;
    napi_reject_deferred(env, w->deferred, ErrnoError(env, err, "futex(FUTEX_WAIT_BITSET)"));
  }
  napi_delete_reference(env, w->sab);
  napi_delete_async_work(env, w->work);
  delete w;
}

// futexWaitAsync(sab, byteOffset, expected, timeoutMs): Promise<'ok'|'not-equal'|'timed-out'>.
// For Node's main thread, which must not block: the futex wait occupies one libuv threadpool
// thread (UV_THREADPOOL_SIZE, 4 by default, shared with fs and dns) until it returns, and the
// pending work keeps the event loop alive, as a timer would. Callers keep timeouts short.
static napi_value FutexWaitAsync(napi_env env, napi_callback_info info) {
  WaitArgs args;
  if (!GetWaitArgs(env, info, &args)) return nullptr;
  napi_value promise = nullptr;
  napi_deferred deferred = nullptr;
  if (napi_create_promise(env, &deferred, &promise) != napi_ok) return nullptr;
  // Settled at once when the word already differs: no thread needed.
  if (__atomic_load_n(args.addr, __ATOMIC_SEQ_CST) != args.expected) {
    napi_resolve_deferred(env, deferred, MakeString(env, WaitResultName(kNotEqual)));
    return promise;
  }
  AsyncWait* w = new AsyncWait();
  w->deferred = deferred;
  w->addr = args.addr;
  w->expected = args.expected;
  w->timeoutMs = args.timeoutMs;
  napi_value name = MakeString(env, "xlio:futexWaitAsync");
  if (napi_create_reference(env, args.sab, 1, &w->sab) != napi_ok ||
      napi_create_async_work(env, nullptr, name, ExecuteWait, CompleteWait, w, &w->work) != napi_ok ||
      napi_queue_async_work(env, w->work) != napi_ok) {
    if (w->work != nullptr) napi_delete_async_work(env, w->work);
    if (w->sab != nullptr) napi_delete_reference(env, w->sab);
    delete w;
    napi_reject_deferred(env, deferred, ErrnoError(env, ENOMEM, "futexWaitAsync: could not queue the wait"));
  }
  return promise;
}

bool InitFutex(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"futexWait", nullptr, FutexWait, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futexWaitAsync", nullptr, FutexWaitAsync, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futexWake", nullptr, FutexWake, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}

}  // namespace xlio

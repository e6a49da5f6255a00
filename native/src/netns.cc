// Network namespaces for drivers (see netns.h). setns(2) with CLONE_NEWNET changes only the
// calling thread, and is allowed in a multi-threaded process, so the thread can step in,
// create its descriptors and step back while Node's other threads stay where they are.

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include "args.h"
#include "errors.h"
#include "init.h"
#include "netns.h"

namespace xlio {

int EnterNetns(const std::string& path, std::string* what) {
  if (path.empty()) return -1;
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    int err = errno;
    *what = "open(/proc/thread-self/ns/net)";
    return -err;
  }
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(self);
    *what = "open(" + path + ") (a network namespace: ip netns add NAME makes /run/netns/NAME)";
    return -err;
  }
  int r = setns(target, CLONE_NEWNET);
  int err = errno;
  close(target);
  if (r < 0) {
    close(self);
    *what = "setns(" + path + ", CLONE_NEWNET) (needs CAP_SYS_ADMIN)";
    return -err;
  }
  return self;
}

void LeaveNetns(int previous) {
  if (previous < 0) return;
  // Cannot fail for a descriptor of our own earlier namespace short of the kernel losing it.
  if (setns(previous, CLONE_NEWNET) < 0) { /* nothing sensible to do: the thread stays where it is */ }
  close(previous);
}

// netnsCheck(path): enters the namespace and leaves it again; throws what a driver would.
static napi_value NetnsCheck(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  std::string path;
  if (!GetString(env, argv[0], "path", &path)) return nullptr;
  std::string what;
  int prev = EnterNetns(path, &what);
  if (prev < -1) return ThrowErrno(env, -prev, what);
  LeaveNetns(prev);
  return Undefined(env);
}

bool InitNetns(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"netnsCheck", nullptr, NetnsCheck, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}

}  // namespace xlio

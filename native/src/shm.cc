// POSIX shared memory as a SharedArrayBuffer: shmOpen(name, bytes, create) and shmUnlink(name).
// Two processes that open the same name see each other's writes through their
// SharedArrayBuffers, and Atomics work on them (the hardware's atomics do not care which
// process issued them). Waking a waiter in another process needs futex.cc.

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "args.h"
#include "errors.h"
#include "sab.h"
#include "init.h"

namespace xlio {

/** Largest segment shmOpen maps (64 GiB); far beyond what a link needs, small enough to catch a bad size. */
static constexpr double kMaxSegmentBytes = 68719476736.0;

/**
 * shm_overview(7): a name is "/somename", up to NAME_MAX characters, with no slash after the
 * first. "somename" is accepted and gets the slash. Returns false (error thrown) otherwise.
 */
static bool NormalizeName(napi_env env, napi_value v, std::string* name) {
  std::string raw;
  if (!GetString(env, v, "name", &raw)) return false;
  std::string rest = !raw.empty() && raw[0] == '/' ? raw.substr(1) : raw;
  if (rest.empty() || rest.find('/') != std::string::npos || rest.find('\0') != std::string::npos) {
    ThrowError(env, "EINVAL", "invalid shared-memory name '" + raw + "': it must be '/name' with no other '/' (shm_overview(7))");
    return false;
  }
  if (rest.size() > NAME_MAX - 1) {
    ThrowError(env, "ENAMETOOLONG", "shared-memory name '" + raw + "' is longer than " + std::to_string(NAME_MAX - 1) + " characters");
    return false;
  }
  *name = "/" + rest;
  return true;
}

static void Unmap(void* data, size_t length, void*) {
  // Runs when V8 frees the last SharedArrayBuffer over the mapping (any thread). munmap(2)
  // is thread-safe; the segment itself lives on until shm_unlink and the last unmap.
  munmap(data, length);
}

// shmOpen(name: string, bytes: number, create: boolean): SharedArrayBuffer
static napi_value ShmOpen(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!GetArgs(env, info, 3, argv)) return nullptr;
  std::string name;
  double bytesArg = 0;
  bool create = false;
  if (!NormalizeName(env, argv[0], &name) || !GetNumber(env, argv[1], "bytes", &bytesArg) || !GetBool(env, argv[2], "create", &create)) {
    return nullptr;
  }
  // Creating needs a size; opening takes 0 for "the whole segment" or a size it must have.
  const double minBytes = create ? 1 : 0;
  if (!(bytesArg >= minBytes && bytesArg <= kMaxSegmentBytes) || bytesArg != static_cast<double>(static_cast<uint64_t>(bytesArg))) {
    return ThrowRangeError(env, "The \"bytes\" argument must be an integer from " + std::to_string(static_cast<int>(minBytes)) + " to " +
                                    std::to_string(static_cast<uint64_t>(kMaxSegmentBytes)) + ", got " + NumberText(bytesArg));
  }
  size_t bytes = static_cast<size_t>(bytesArg);

  // shm_open(3): O_EXCL makes creation fail with EEXIST rather than reuse a stale segment.
  const int flags = create ? O_RDWR | O_CREAT | O_EXCL : O_RDWR;
  int fd = shm_open(name.c_str(), flags, 0600);
  if (fd < 0) {
    return ThrowErrno(env, errno, "shm_open('" + name + "', " + (create ? "O_RDWR|O_CREAT|O_EXCL" : "O_RDWR") + ")");
  }
  // On any failure after a create, remove the name again so no half-made segment is left.
  auto fail = [&](int err, const std::string& what) -> napi_value {
    close(fd);
    if (create) shm_unlink(name.c_str());
    return ThrowErrno(env, err, what);
  };
  if (create) {
    if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) return fail(errno, "ftruncate('" + name + "', " + std::to_string(bytes) + ")");
    // posix_fallocate(3) reserves the pages now: a full /dev/shm fails here with ENOSPC
    // instead of raising SIGBUS on some later store into the mapping (tmpfs allocates lazily).
    int err = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    if (err != 0 && err != EOPNOTSUPP) return fail(err, "posix_fallocate('" + name + "', " + std::to_string(bytes) + ")");
  } else {
    struct stat st;
    if (fstat(fd, &st) != 0) return fail(errno, "fstat('" + name + "')");
    size_t size = static_cast<size_t>(st.st_size);
    if (size == 0) {
      close(fd);
      return ThrowError(env, "EINVAL", "shared-memory segment '" + name + "' is empty: its creator has not sized it (yet)");
    }
    if (bytes == 0) bytes = size;
    if (bytes > size) {
      close(fd);
      return ThrowError(env, "EINVAL", "shared-memory segment '" + name + "' is " + std::to_string(size) + " bytes, less than the " +
                                           std::to_string(bytes) + " requested");
    }
  }
  void* data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) return fail(errno, "mmap('" + name + "', " + std::to_string(bytes) + ", MAP_SHARED)");
  // mmap(2): "closing the file descriptor does not unmap the region".
  close(fd);
  return NewSharedArrayBuffer(env, data, bytes, Unmap, nullptr);
}

// shmUnlink(name: string): void — the name goes at once; mappings stay valid until unmapped (shm_unlink(3)).
static napi_value ShmUnlink(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  std::string name;
  if (!NormalizeName(env, argv[0], &name)) return nullptr;
  if (shm_unlink(name.c_str()) != 0) return ThrowErrno(env, errno, "shm_unlink('" + name + "')");
  return Undefined(env);
}

bool InitShm(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"shmOpen", nullptr, ShmOpen, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"shmUnlink", nullptr, ShmUnlink, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}

}  // namespace xlio

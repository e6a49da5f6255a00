#include "errors.h"

#include <errno.h>
#include <string.h>

namespace xlio {

const char* ErrnoName(int err) {
  switch (err) {
#define XLIO_ERRNO(e) \
  case e:             \
    return #e;
    XLIO_ERRNO(EPERM)
    XLIO_ERRNO(ENOENT)
    XLIO_ERRNO(EINTR)
    XLIO_ERRNO(EIO)
    XLIO_ERRNO(EBADF)
    XLIO_ERRNO(EAGAIN)
    XLIO_ERRNO(ENOMEM)
    XLIO_ERRNO(EACCES)
    XLIO_ERRNO(EFAULT)
    XLIO_ERRNO(EBUSY)
    XLIO_ERRNO(EEXIST)
    XLIO_ERRNO(ENODEV)
    XLIO_ERRNO(ENOTDIR)
    XLIO_ERRNO(EISDIR)
    XLIO_ERRNO(EINVAL)
    XLIO_ERRNO(ENFILE)
    XLIO_ERRNO(EMFILE)
    XLIO_ERRNO(EFBIG)
    XLIO_ERRNO(ENOSPC)
    XLIO_ERRNO(EROFS)
    XLIO_ERRNO(ERANGE)
    XLIO_ERRNO(ENAMETOOLONG)
    XLIO_ERRNO(ENOSYS)
    XLIO_ERRNO(EOVERFLOW)
    XLIO_ERRNO(ETIMEDOUT)
    XLIO_ERRNO(ENOTSUP)
#undef XLIO_ERRNO
    default:
      return nullptr;
  }
}

napi_value ThrowError(napi_env env, const char* code, const std::string& message) {
  napi_throw_error(env, code, message.c_str());
  return nullptr;
}

napi_value ErrnoError(napi_env env, int err, const std::string& what) {
  const char* name = ErrnoName(err);
  std::string code = name != nullptr ? name : "E" + std::to_string(err);
  char buf[128];
  // GNU strerror_r returns the message (maybe not in buf).
  const char* text = strerror_r(err, buf, sizeof buf);
  std::string message = what + ": " + text + " (" + code + ")";
  napi_value codeV = nullptr, messageV = nullptr, error = nullptr;
  napi_create_string_utf8(env, code.c_str(), NAPI_AUTO_LENGTH, &codeV);
  napi_create_string_utf8(env, message.c_str(), NAPI_AUTO_LENGTH, &messageV);
  napi_create_error(env, codeV, messageV, &error);
  // Node's system errors also carry errno (negative, as libuv reports it).
  napi_value errnoV = nullptr;
  napi_create_int32(env, -err, &errnoV);
  napi_set_named_property(env, error, "errno", errnoV);
  return error;
}

napi_value ThrowErrno(napi_env env, int err, const std::string& what) {
  napi_throw(env, ErrnoError(env, err, what));
  return nullptr;
}

napi_value ThrowTypeError(napi_env env, const std::string& message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message.c_str());
  return nullptr;
}

napi_value ThrowRangeError(napi_env env, const std::string& message) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message.c_str());
  return nullptr;
}

}  // namespace xlio

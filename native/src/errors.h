// Throwing JavaScript errors from the addon: system-call failures carry `code` set to the
// errno name ('ENOENT', 'EEXIST', …) as Node's own fs errors do; argument errors are
// TypeError/RangeError with Node's ERR_* codes.

#pragma once

#include <node_api.h>

#include <string>

namespace xlio {

/** The symbolic name of an errno value ("ENOENT"), or "E<number>" for one not in the table. */
const char* ErrnoName(int err);

/** Error(`${what}: ${strerror(err)} (${code})`) with code = ErrnoName(err) (or "E<number>"). */
napi_value ErrnoError(napi_env env, int err, const std::string& what);

/** Throws ErrnoError(err, what). Returns nullptr for `return Throw…;`. */
napi_value ThrowErrno(napi_env env, int err, const std::string& what);

/** Throws an Error with this code and message. */
napi_value ThrowError(napi_env env, const char* code, const std::string& message);

/** Throws TypeError (code ERR_INVALID_ARG_TYPE). */
napi_value ThrowTypeError(napi_env env, const std::string& message);

/** Throws RangeError (code ERR_OUT_OF_RANGE). */
napi_value ThrowRangeError(napi_env env, const std::string& message);

}  // namespace xlio

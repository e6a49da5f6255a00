// SharedArrayBuffer across the N-API boundary. N-API (Node 20) can neither create a
// SharedArrayBuffer nor read one (napi_get_arraybuffer_info rejects it), so these two
// helpers use the V8 API; everything else in the addon is plain N-API.

#pragma once

#include <node_api.h>

#include <cstddef>

namespace xlio {

/** Deleter for memory handed to NewSharedArrayBuffer; runs once, on any thread, when the last SAB referring to it is collected. */
using SabDeleter = void (*)(void* data, size_t length, void* hint);

/**
 * A SharedArrayBuffer over `length` bytes at `data` that JavaScript may share with worker
 * threads; `deleter(data, length, hint)` releases the memory when V8 no longer needs it.
 * Returns nullptr with a JS exception pending on failure.
 */
napi_value NewSharedArrayBuffer(napi_env env, void* data, size_t length, SabDeleter deleter, void* hint);

/** If `value` is a SharedArrayBuffer: its memory and length, and true. Otherwise false. */
bool GetSharedArrayBuffer(napi_value value, void** data, size_t* length);

}  // namespace xlio

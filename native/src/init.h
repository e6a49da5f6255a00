// The parts of the addon; addon.cc calls each Init* to add its functions to the exports.

#pragma once

#include <node_api.h>

namespace xlio {

/** Adds shmOpen and shmUnlink to `exports`. */
bool InitShm(napi_env env, napi_value exports);

/** Adds futexWait, futexWaitAsync and futexWake to `exports`. */
bool InitFutex(napi_env env, napi_value exports);

}  // namespace xlio

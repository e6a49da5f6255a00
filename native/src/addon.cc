// xlio_native: what JavaScript cannot do by itself (see DESIGN.md, "native/"). Optional:
// src/native/addon.ts loads it if it was built and everything that does not need it works
// without it. Context-aware (NAPI_MODULE_INIT), so worker threads can load it too.

#include <node_api.h>

#include "init.h"

NAPI_MODULE_INIT() {
  if (!xlio::InitShm(env, exports) || !xlio::InitFutex(env, exports) || !xlio::InitPort(env, exports) ||
      !xlio::InitNetns(env, exports) || !xlio::InitPacket(env, exports) || !xlio::InitTap(env, exports) ||
      !xlio::InitXdp(env, exports))
    return nullptr;
  return exports;
}

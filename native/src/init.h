// The parts of the addon; addon.cc calls each Init* to add its functions to the exports.

#pragma once

#include <node_api.h>

namespace xlio {

/** Adds shmOpen and shmUnlink to `exports`. */
bool InitShm(napi_env env, napi_value exports);

/** Adds futexWait, futexWaitAsync and futexWake to `exports`. */
bool InitFutex(napi_env env, napi_value exports);

/** Adds the port functions (port.h) to `exports`. */
bool InitPort(napi_env env, napi_value exports);

/** Adds netnsCheck (netns.h) to `exports`. */
bool InitNetns(napi_env env, napi_value exports);

/** Adds packetOpen (AF_PACKET, TPACKET_V3) to `exports`. */
bool InitPacket(napi_env env, napi_value exports);

/** Adds tapOpen (/dev/net/tun) to `exports`. */
bool InitTap(napi_env env, napi_value exports);

/** Adds xdpOpen (AF_XDP) to `exports`. */
bool InitXdp(napi_env env, napi_value exports);

}  // namespace xlio

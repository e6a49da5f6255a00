// (in progress: the packet driver is being written)
#include "init.h"
namespace xlio {
bool InitPacket(napi_env, napi_value) { return true; }
}  // namespace xlio

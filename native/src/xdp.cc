// (in progress: the xdp driver is being written)
#include "init.h"
namespace xlio {
bool InitXdp(napi_env, napi_value) { return true; }
}  // namespace xlio

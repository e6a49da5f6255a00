// (in progress: the tap driver is being written)
#include "init.h"
namespace xlio {
bool InitTap(napi_env, napi_value) { return true; }
}  // namespace xlio

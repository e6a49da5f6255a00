// Entering a network namespace for the span of one call: a driver opened there (a packet
// socket, a TAP device, an AF_XDP socket and its XDP program) stays in it after the thread
// returns to its own namespace; a socket's namespace is fixed when it is created.

#pragma once

#include <node_api.h>

#include <string>

namespace xlio {

/**
 * Moves the calling thread into the network namespace at `path` (e.g. /run/netns/NAME;
 * "" = stay). Returns a descriptor of the previous namespace for LeaveNetns (−1 for ""), or
 * −errno (with `what` naming the failing step).
 */
int EnterNetns(const std::string& path, std::string* what);

/** Back to the namespace EnterNetns returned; closes it. */
void LeaveNetns(int previous);

/** Adds netnsCheck(path) (opens and setns's into it and back: errors as a driver would meet them) to `exports`. */
bool InitNetns(napi_env env, napi_value exports);

}  // namespace xlio

// A frame port: what a native driver (AF_PACKET, AF_XDP, TAP) gives JavaScript. Each driver
// subclasses Port and registers an instance; JavaScript then moves frames in batches with
// portRecv/portSend (one N-API call per batch, frames laid out at a fixed stride in a
// Uint8Array it owns), sleeps with portWait/portWaitAsync (poll(2) on the driver's
// descriptor and the port's eventfd), ends a sleep with portInterrupt and closes with
// portClose. src/link/native-port-link.ts is the TypeScript side.

#pragma once

#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace xlio {

class Port {
 public:
  virtual ~Port() = default;
  /**
   * Copies up to `max` received frames into `buf`: frame i at i × stride, its length in
   * lens[i]. A frame longer than `stride` is dropped and counted by the driver. Returns how
   * many (0 when none wait), or −errno. Never blocks.
   */
  virtual int Recv(uint8_t* buf, size_t stride, uint32_t* lens, int max) = 0;
  /**
   * Queues `count` frames (frame i at i × stride, lens[i] bytes) and kicks the device once.
   * May wait briefly (≈ 1 ms at most) for ring space. Returns how many it accepted, or −errno.
   */
  virtual int Send(const uint8_t* buf, size_t stride, const uint32_t* lens, int count) = 0;
  /** The descriptor on which poll(2) reports POLLIN when frames may be waiting. */
  virtual int PollFd() const = 0;
  /** Called before sleeping: true when frames already wait (no sleep). A driver with a wake-up protocol arms it here. */
  virtual bool Ready() { return false; }
  /** The driver's counters, (name, value). */
  virtual std::vector<std::pair<std::string, double>> Counters() const { return {}; }
  /** Releases descriptors and mappings. Called once, when no call is using the port any more. */
  virtual void Close() = 0;
};

/** Adds a port to the table (creating its interrupt eventfd); returns its id, or −errno. */
double RegisterPort(std::shared_ptr<Port> port);

/** Adds portRecv, portSend, portWait, portWaitAsync, portInterrupt, portClose, portCounters to `exports`. */
bool InitPort(napi_env env, napi_value exports);

}  // namespace xlio

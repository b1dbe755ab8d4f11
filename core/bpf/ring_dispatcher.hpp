// SPDX-License-Identifier: Apache-2.0
// Drains one of a plugin's ring buffers on the core's event loop (its epoll
// fd watched by Boost.Asio), checks each record's header (long enough, and
// naming a source the plugin registered) and hands what one drain found to
// the event bus as one batch for that plugin alone, delivered on the worker
// pool. A periodic drain backs up the producer's batched wakeups.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/event_bus.hpp"

struct ring_buffer;

namespace rampart::bpf {

class RingDispatcher {
 public:
  // `owner`: the plugin whose sources the records must carry.
  RingDispatcher(boost::asio::io_context& io, int ring_fd, runtime::EventBus& bus,
                 std::string owner, std::weak_ptr<runtime::EventSink> target,
                 std::chrono::milliseconds backstop = std::chrono::milliseconds(20));
  ~RingDispatcher();
  RingDispatcher(const RingDispatcher&) = delete;
  RingDispatcher& operator=(const RingDispatcher&) = delete;

  void start();
  void stop();  // from any thread; returns once no handler runs

  uint64_t received() const { return received_.load(); }
  uint64_t malformed() const { return malformed_.load(); }
  uint64_t foreign() const { return foreign_.load(); }
  // Over every dispatcher this process ran.
  static uint64_t total_received() { return total_received_.load(); }
  static uint64_t total_malformed() { return total_malformed_.load(); }
  static uint64_t total_foreign() { return total_foreign_.load(); }

  // Drains what is in the ring now (loop thread, or tests).
  int drain();

 private:
  void wait();
  void arm_backstop();
  static int on_record(void* self, void* data, size_t size);
  bool owned(uint32_t source);
  void flush();

  boost::asio::io_context& io_;
  runtime::EventBus& bus_;
  const std::string owner_;
  std::weak_ptr<runtime::EventSink> target_;
  ring_buffer* ring_ = nullptr;
  boost::asio::posix::stream_descriptor epoll_;
  boost::asio::steady_timer backstop_timer_;
  std::chrono::milliseconds backstop_;
  // Shared with the handlers queued on the loop: one that runs after this
  // object is gone sees it set and returns.
  std::shared_ptr<std::atomic<bool>> stopped_ = std::make_shared<std::atomic<bool>>(false);
  std::atomic<uint64_t> received_{0}, malformed_{0}, foreign_{0};
  // The drain in progress (loop thread only).
  runtime::EventBatch batch_;
  // The owner's sources as of sources_generation_.
  std::vector<uint32_t> sources_;
  uint64_t sources_generation_ = ~0ull;
  static std::atomic<uint64_t> total_received_, total_malformed_, total_foreign_;
};

}  // namespace rampart::bpf

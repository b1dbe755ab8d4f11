// SPDX-License-Identifier: Apache-2.0
// The core's threads: one Boost.Asio event loop (timers, later the ring-buffer
// fds) and a worker pool on which engines and senders run.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <thread>

namespace rampart::runtime {

class Runtime {
 public:
  explicit Runtime(unsigned workers);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  boost::asio::io_context& loop() { return io_; }
  boost::asio::thread_pool& workers() { return pool_; }

  // Runs every queued handler, then joins all threads. Idempotent.
  void shutdown();

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  boost::asio::thread_pool pool_;
  std::thread loop_thread_;
};

}  // namespace rampart::runtime

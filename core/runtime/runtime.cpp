// SPDX-License-Identifier: Apache-2.0
#include "runtime/runtime.hpp"

#include <pthread.h>

namespace rampart::runtime {

Runtime::Runtime(unsigned workers)
    : guard_(boost::asio::make_work_guard(io_)), pool_(workers), loop_thread_([this] {
        pthread_setname_np(pthread_self(), "rampart-loop");
        io_.run();
      }) {}

Runtime::~Runtime() { shutdown(); }

void Runtime::shutdown() {
  guard_.reset();
  if (loop_thread_.joinable()) loop_thread_.join();
  pool_.join();
}

}  // namespace rampart::runtime

// SPDX-License-Identifier: Apache-2.0
// Declared after an EventBus (or anything else the workers deliver for):
// on scope exit, runs the runtime's queued handlers and joins its threads
// before that object is destroyed. A delivery still finishing its
// bookkeeping when a test has seen the backlog reach 0 otherwise touches a
// destroyed bus (the daemon shuts the runtime down first, too).
#pragma once

#include "runtime/runtime.hpp"

namespace rampart::test {

class JoinWorkers {
 public:
  explicit JoinWorkers(runtime::Runtime& rt) : rt_(rt) {}
  ~JoinWorkers() { rt_.shutdown(); }
  JoinWorkers(const JoinWorkers&) = delete;
  JoinWorkers& operator=(const JoinWorkers&) = delete;

 private:
  runtime::Runtime& rt_;
};

}  // namespace rampart::test

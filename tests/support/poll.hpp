// SPDX-License-Identifier: Apache-2.0
// Waiting for a condition another thread makes true, where no event says
// so: polls it until it holds or a generous deadline passes.
#pragma once

#include <chrono>
#include <thread>

namespace rampart::test {

// Polls `done` until it holds or `timeout` passes; the last answer.
template <class F>
bool poll_until(F&& done, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace rampart::test

// SPDX-License-Identifier: Apache-2.0
// Waiting until no packet can still be running a program that left the
// chain. XDP and TC programs run inside RCU read-side sections (softirq
// with bottom halves off, or rcu_read_lock), so once an RCU grace period
// that began after a program left its place has ended, no packet is still
// reading that program's maps, and they may be rewritten. The kernel's
// membarrier(MEMBARRIER_CMD_GLOBAL) is synchronize_rcu(): one call waits
// for one grace period (~8 ms on the project's VMs at HZ=250).
//
// One thread runs the grace periods, back to back while there are
// requests: a ticket taken when a program left is done once a grace period
// that began after the ticket has ended, so many tickets share one wait.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace rampart::bpf {

class GracePeriods {
 public:
  GracePeriods();
  ~GracePeriods();
  GracePeriods(const GracePeriods&) = delete;
  GracePeriods& operator=(const GracePeriods&) = delete;

  // Whether this kernel can wait for a grace period for us (not with
  // nohz_full CPUs: membarrier refuses MEMBARRIER_CMD_GLOBAL there).
  bool available() const { return available_; }
  // A ticket for "everything that left up to now".
  uint64_t request();
  bool done(uint64_t ticket) const;
  // Blocks until done(ticket); false if grace periods are not available.
  bool wait(uint64_t ticket);
  uint64_t completed() const;

 private:
  void run();
  const bool available_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t requested_ = 0, completed_ = 0;
  bool stop_ = false, broken_ = false;
  std::thread thread_;
};

}  // namespace rampart::bpf

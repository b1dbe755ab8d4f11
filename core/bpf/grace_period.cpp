// SPDX-License-Identifier: Apache-2.0
#include "bpf/grace_period.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace rampart::bpf {
namespace {

long membarrier(int cmd) { return syscall(SYS_membarrier, cmd, 0, 0); }

bool global_supported() {
  const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
  return cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL) != 0;
}

}  // namespace

GracePeriods::GracePeriods() : available_(global_supported()) {
  if (available_) thread_ = std::thread([this] { run(); });
}

GracePeriods::~GracePeriods() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t GracePeriods::request() {
  std::lock_guard lock(mu_);
  const uint64_t t = ++requested_;
  cv_.notify_all();
  return t;
}

bool GracePeriods::done(uint64_t ticket) const {
  std::lock_guard lock(mu_);
  return completed_ >= ticket;
}

uint64_t GracePeriods::completed() const {
  std::lock_guard lock(mu_);
  return completed_;
}

bool GracePeriods::wait(uint64_t ticket) {
  if (!available_) return false;
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return completed_ >= ticket || stop_ || broken_; });
  return completed_ >= ticket;
}

void GracePeriods::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || requested_ > completed_; });
    if (stop_) return;
    // Every ticket taken so far was taken before this grace period begins.
    const uint64_t target = requested_;
    lock.unlock();
    const bool ok = membarrier(MEMBARRIER_CMD_GLOBAL) == 0;
    const int e = errno;
    lock.lock();
    if (!ok && e == EINTR) continue;
    if (!ok) {  // nothing waits for a grace period that cannot be had
      broken_ = true;
      cv_.notify_all();
      return;
    }
    completed_ = target;
    cv_.notify_all();
  }
}

}  // namespace rampart::bpf

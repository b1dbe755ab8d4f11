// SPDX-License-Identifier: Apache-2.0
#include "store/apply_gate.hpp"

namespace rampart::store {
namespace {
thread_local ApplyGate* t_current = nullptr;
}  // namespace

ApplyGate::Scope::Scope(ApplyGate& gate) : outer_(t_current) { t_current = &gate; }
ApplyGate::Scope::~Scope() { t_current = outer_; }
ApplyGate* ApplyGate::current() noexcept { return t_current; }

void ApplyGate::written(const std::string& failure) {
  std::lock_guard lock(mu_);
  if (!written_) written_ = failure;  // the first word stands
  cv_.notify_all();
}

std::string ApplyGate::wait_written() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return written_.has_value(); });
  return *written_;
}

void ApplyGate::applied(bool ok) {
  std::lock_guard lock(mu_);
  applied_ = ok;
  cv_.notify_all();
}

bool ApplyGate::wait_applied() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return applied_.has_value(); });
  return *applied_;
}

}  // namespace rampart::store

// SPDX-License-Identifier: Apache-2.0
// One agent per host: rampartd holds an exclusive lock on its state
// directory (a lock file holding its pid) and on its bpffs pin root for as
// long as it runs. A second rampartd with the same state or pins would
// adopt the first one's programs and split its API, so it is refused.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "util/unique_fd.hpp"

namespace rampart::daemon {

class LockError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InstanceLock {
 public:
  // Locks <state_dir>/rampartd.lock (created 0600) and the directory
  // pin_root (which must exist), each when not empty (`--detach-all`
  // locks only the pins, to refuse while an agent runs). Throws LockError naming the
  // path and, when known, the pid that holds it. The locks go with the
  // process, so a crashed agent never leaves one behind.
  static std::unique_ptr<InstanceLock> acquire(const std::string& state_dir,
                                               const std::string& pin_root);
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

 private:
  InstanceLock() = default;
  util::UniqueFd state_fd_;
  util::UniqueFd pin_fd_;
};

}  // namespace rampart::daemon

// SPDX-License-Identifier: Apache-2.0
#include "daemon/instance_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace rampart::daemon {
namespace {

std::string holder_of(int fd) {
  char buf[32] = {};
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  std::string pid(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? "" : " (pid " + pid + ")";
}

}  // namespace

std::unique_ptr<InstanceLock> InstanceLock::acquire(const std::string& state_dir,
                                                    const std::string& pin_root) {
  std::unique_ptr<InstanceLock> lock(new InstanceLock);
  if (!state_dir.empty()) {
    const std::string path = state_dir + "/rampartd.lock";
    lock->state_fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock->state_fd_ < 0) throw LockError("cannot open " + path + ": " + std::strerror(errno));
    if (flock(lock->state_fd_, LOCK_EX | LOCK_NB) != 0) {
      throw LockError("another rampartd" + holder_of(lock->state_fd_) + " runs with state in " +
                      state_dir + " (it holds " + path + ")");
    }
    const std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(lock->state_fd_, 0) != 0 ||
        pwrite(lock->state_fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
      throw LockError("cannot write " + path + ": " + std::strerror(errno));
  }
  if (!pin_root.empty()) {
    lock->pin_fd_ = open(pin_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock->pin_fd_ < 0) throw LockError("cannot open " + pin_root + ": " + std::strerror(errno));
    if (flock(lock->pin_fd_, LOCK_EX | LOCK_NB) != 0)
      throw LockError("another rampartd runs with its pins in " + pin_root);
  }
  return lock;
}

InstanceLock::~InstanceLock() {
  if (pin_fd_ >= 0) close(pin_fd_);
  if (state_fd_ >= 0) close(state_fd_);  // the lock file stays; its lock goes
}

}  // namespace rampart::daemon

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
    lock->state_fd_.reset(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    const int fd = lock->state_fd_.get();
    if (fd < 0) throw LockError("cannot open " + path + ": " + std::strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      throw LockError("another rampartd" + holder_of(fd) + " runs with state in " + state_dir +
                      " (it holds " + path + ")");
    }
    const std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
      throw LockError("cannot write " + path + ": " + std::strerror(errno));
  }
  if (!pin_root.empty()) {
    lock->pin_fd_.reset(open(pin_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!lock->pin_fd_) throw LockError("cannot open " + pin_root + ": " + std::strerror(errno));
    if (flock(lock->pin_fd_.get(), LOCK_EX | LOCK_NB) != 0)
      throw LockError("another rampartd runs with its pins in " + pin_root);
  }
  return lock;
}

// The fds close with the members (pins first); the lock file stays, its
// lock goes.
InstanceLock::~InstanceLock() = default;

}  // namespace rampart::daemon

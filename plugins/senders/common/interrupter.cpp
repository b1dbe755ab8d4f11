// SPDX-License-Identifier: Apache-2.0
#include "interrupter.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace rampart::sender {

Interrupter::Watch::Watch(Interrupter& owner, int socket_fd) : owner_(owner) {
  fd_ = fcntl(socket_fd, F_DUPFD_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "watching a socket");
  std::lock_guard lock(owner_.mu_);
  if (owner_.interrupted_) {
    ::close(fd_);
    throw Interrupted();
  }
  owner_.fds_.insert(fd_);
}

Interrupter::Watch::~Watch() {
  {
    std::lock_guard lock(owner_.mu_);
    owner_.fds_.erase(fd_);
  }
  ::close(fd_);
}

void Interrupter::interrupt() {
  std::lock_guard lock(mu_);
  interrupted_ = true;
  for (const int fd : fds_) ::shutdown(fd, SHUT_RDWR);
}

bool Interrupter::interrupted() const {
  std::lock_guard lock(mu_);
  return interrupted_;
}

}  // namespace rampart::sender

// SPDX-License-Identifier: Apache-2.0
// A file descriptor with one owner: closed when the owner goes, on every
// way out (return, throw), moved but never copied. Borrowers get the
// plain int from get(); release() hands ownership on.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace rampart::util {

class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  // The fd, no longer closed here.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  // Closes the fd held (keeping errno: callers report the error that
  // brought them here) and holds `fd` instead.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0 && fd_ != fd) {
      const int saved = errno;
      ::close(fd_);
      errno = saved;
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace rampart::util

// SPDX-License-Identifier: Apache-2.0
// util::UniqueFd: one owner, closed on every way out, errno kept.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <utility>

#include "util/unique_fd.hpp"

namespace {

using rampart::util::UniqueFd;

bool is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

int open_null() {
  const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  return fd;
}

TEST(UniqueFd, ClosesWhenItsOwnerGoesOnEveryWayOut) {
  int raw = -1;
  {
    const UniqueFd fd(open_null());
    raw = fd.get();
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_FALSE(is_open(raw));

  auto thrower = [&] {
    const UniqueFd fd(open_null());
    raw = fd.get();
    throw std::runtime_error("failed half way");
  };
  EXPECT_THROW(thrower(), std::runtime_error);
  EXPECT_FALSE(is_open(raw)) << "a throw closes it too";
}

TEST(UniqueFd, MovesOwnershipAndReleaseHandsItOn) {
  UniqueFd a(open_null());
  const int raw = a.get();
  UniqueFd b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): the point
  EXPECT_EQ(b.get(), raw);
  UniqueFd c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(is_open(raw));

  const int released = c.release();
  EXPECT_EQ(released, raw);
  EXPECT_FALSE(c.valid());
  c.reset();
  EXPECT_TRUE(is_open(raw)) << "released: no longer closed by its old owner";
  close(released);
}

TEST(UniqueFd, ResetClosesTheOldOneAndKeepsErrno) {
  UniqueFd fd(open_null());
  const int first = fd.get();
  const int second = open_null();
  errno = ENOSPC;  // as if the call that brought the caller here failed
  fd.reset(second);
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_FALSE(is_open(first));
  EXPECT_EQ(fd.get(), second);
  fd.reset(second);  // the same fd again: kept open, not closed under us
  EXPECT_TRUE(is_open(second));
  UniqueFd none(-1);
  EXPECT_FALSE(none);
}

}  // namespace

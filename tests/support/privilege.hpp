// SPDX-License-Identifier: Apache-2.0
// Privileged tests skip without root, except under RAMPART_REQUIRE_KERNEL=1
// (CI), where a privileged test that cannot run is a failure.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#define RAMPART_REQUIRE_ROOT()                                           \
  do {                                                                   \
    if (::geteuid() != 0) {                                              \
      if (std::getenv("RAMPART_REQUIRE_KERNEL")) FAIL() << "needs root"; \
      GTEST_SKIP() << "needs root";                                      \
    }                                                                    \
  } while (0)

// SPDX-License-Identifier: Apache-2.0
// The `audit:` section of rampartd's configuration (parsed, with errors
// naming file:line, in config/config.cpp): how much of the rule audit log
// the store keeps. Hot reloadable.
#pragma once

#include <cstdint>

namespace rampart::store {

struct AuditSettings {
  // A year covers the usual audit-trail requirements; 100,000 entries
  // (tens of MB at most) are ten imports of 10,000 rules.
  double max_age_s = 365 * 86400.0;  // 0: keep forever
  uint64_t max_count = 100000;       // 0: no limit
  bool operator==(const AuditSettings&) const = default;
};

}  // namespace rampart::store

// SPDX-License-Identifier: Apache-2.0
// The `ips` rule domain (REST: /api/v1/ips/rules): networks the IPS never
// blocks, each {"prefix": "198.51.100.0/24", "note": "partner"}, beside
// the config's allow and management lists.
#pragma once

#include <cstdint>
#include <string>

#include "cidr.hpp"
#include "json_body.hpp"

namespace rampart::ips {

struct AllowEntry {
  uint64_t id = 0;
  net::Cidr prefix;
  std::string note;
};

// Throws json::BodyError naming the field.
AllowEntry allow_entry_from_json(const std::string& body, uint64_t id);
const char* allow_entry_schema_json();

}  // namespace rampart::ips

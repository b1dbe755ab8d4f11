// SPDX-License-Identifier: Apache-2.0
// A firewall rule as the JSON body stored and served by the API:
// {id, priority, action, protocol, src_ip, dst_ip, src_port, dst_port,
//  vlan_id, tcp_flags, enabled, description}.
#pragma once

#include <stdexcept>
#include <string>

#include "rule.hpp"

namespace rampart::firewall {

// A bad rule body; field() names the offending field ("" for the body).
class RuleError : public std::runtime_error {
 public:
  RuleError(std::string field, const std::string& what)
      : std::runtime_error(field.empty() ? what : field + ": " + what), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// Parses and validates one body. `id`, if non-zero, must match the body's
// id when present and fills it when absent.
Rule rule_from_json(const std::string& body, uint64_t id = 0);
std::string rule_to_json(const Rule& r);

// The JSON Schema (OpenAPI 3.0 subset) of a rule body, for the API's docs.
const char* rule_schema_json();

// An entry of the source blocklist as the API's `blocklist` domain stores
// it: {id, prefix, owner, reason, expires_at}.
struct BlocklistEntry {
  uint32_t id = 0;
  Cidr prefix;
  std::string owner;       // who listed it ("" when not said)
  std::string reason;      // at most 256 bytes
  int64_t expires_at = 0;  // seconds since the epoch; 0: never
};
BlocklistEntry blocklist_entry_from_json(const std::string& body, uint64_t id = 0);
const char* blocklist_entry_schema_json();

}  // namespace rampart::firewall

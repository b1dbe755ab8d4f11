// SPDX-License-Identifier: Apache-2.0
// What the alert senders share: one alert as one stable JSON object (the
// same fields in every sender, EVE-like so Filebeat and Logstash take it
// as is) and the pieces senders also print as text.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace rampart::sender {

// The alert as one JSON object on one line, without a trailing newline:
//   timestamp (RFC 3339 UTC, microseconds), timestamp_ns, event_type
//   "alert", alert_id, component, severity, action, rule_id, message;
//   src_ip, dst_ip, src_port, dst_port, proto when the alert has addresses;
//   vlan_id when set; mitre {technique_id, technique_name, tactic} when a
//   technique is set; signature {id, rev, category}, flow_id, app_proto
//   and match {buffer, offset, excerpt_base64} when the engine set them;
//   suppressed when > 0; src_geo / dst_geo {country, city, asn, as_org,
//   name, reputation} with the fields that are known.
// Text that is not valid UTF-8 has the bad bytes replaced by U+FFFD.
std::string alert_json(const sdk::Alert& alert);

// "alert" or "block".
std::string_view action_name(uint32_t action);
// `text` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view text);

}  // namespace rampart::sender

// SPDX-License-Identifier: Apache-2.0
// What the alert senders share: one alert as one stable JSON object (the
// same fields in every sender, EVE-like so Filebeat and Logstash take it
// as is) and the pieces senders also print as text.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include "control_chars.hpp"

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace rampart::sender {

// The alert as one JSON object on one line, without a trailing newline:
//   timestamp (RFC 3339 UTC, microseconds), timestamp_ns, event_type
//   "alert", alert_id, component, severity, action, rule_id, message;
//   src_ip, dst_ip, src_port, dst_port, proto when the alert has addresses;
//   vlan_id when set; mitre {technique_id, technique_name, tactic} when a
//   technique is set; signature {id, rev, name, category}, flow_id, app_proto
//   and match {buffer, offset, excerpt_base64}, context {...} when the
//   engine set them;
//   suppressed when > 0; src_geo / dst_geo {country, city, asn, as_org,
//   name, reputation} with the fields that are known.
// Text that is not valid UTF-8 has the bad bytes replaced by U+FFFD.
std::string alert_json(const sdk::Alert& alert);

// Suricata's EVE alert record, one line, for SIEM pipelines built for it
// (the Filebeat/Elastic Agent Suricata module, Logstash, Splunk's TA):
//   timestamp ("2024-05-01T12:00:00.123456+0000"), flow_id, event_type
//   "alert", src_ip, src_port, dest_ip, dest_port, proto ("TCP", "UDP",
//   "ICMP", "IPv6-ICMP" or the number), vlan [id], app_proto;
//   alert {action "allowed" | "blocked", gid (1 with a signature, else 0),
//   signature_id, rev, signature (the rule's name, else the message),
//   category, severity 1 (critical, high), 2 (medium), 3 (low), metadata
//   {mitre_technique_id, mitre_technique_name, mitre_tactic_name: [..]}};
//   the engine's context sections (flow, http, tls, dns, ...) at the top
//   level; and rampart {alert_id, component, rule_id, severity, message,
//   mitre, suppressed, match, src_geo, dst_geo}: what EVE has no place for.
std::string eve_json(const sdk::Alert& alert);

enum class Format { rampart, eve };
// A sender's `format` setting: "rampart" (alert_json, the default) or
// "eve" (eve_json); anything else is refused with the key.
Format format_setting(const sdk::Config& cfg);
// The alert in `format`, one line without its newline.
std::string format_alert(Format format, const sdk::Alert& alert);

// The alert's context_json as an object; null without one.
Poco::JSON::Object::Ptr context_of(const sdk::Alert& alert);

// "alert" or "block".
std::string_view action_name(uint32_t action);
// `text` with every invalid UTF-8 sequence replaced by U+FFFD.
using rampart::text::valid_utf8;

}  // namespace rampart::sender

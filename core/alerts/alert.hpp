// SPDX-License-Identifier: Apache-2.0
// An alert as the core holds it: copied out of the engine's memory, given
// an id and a time, enriched, and handed to the store, the streams and the
// senders. AlertView turns it back into the ABI struct senders receive.
#pragma once

#include <rampart/sdk/abi.h>

#include <Poco/JSON/Object.h>

#include <array>
#include <cstdint>
#include <string>

namespace rampart::alerts {

// What the core knows about one address (GeoIP, passive DNS, reputation).
struct Enrichment {
  std::string country;  // ISO 3166-1 alpha-2
  std::string city;
  uint32_t asn = 0;
  std::string as_org;
  std::string name;         // reverse lookup from passive DNS
  int32_t reputation = -1;  // of `name`, 0..100; -1 unknown
  bool empty() const {
    return country.empty() && city.empty() && asn == 0 && as_org.empty() && name.empty() &&
           reputation < 0;
  }
};

struct AlertRecord {
  std::string id;
  std::string component;
  std::string rule_id;
  std::string message;
  std::string technique_id;  // MITRE ATT&CK
  std::string technique_name;
  std::string tactic;
  uint32_t severity = RAMPART_SEVERITY_LOW;
  uint32_t action = RAMPART_ALERT_ACTION_ALERT;
  uint8_t ip_family = 0;
  uint8_t protocol = 0;
  uint16_t vlan_id = 0;
  std::array<uint8_t, 16> src_addr{};
  std::array<uint8_t, 16> dst_addr{};
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint64_t time_ns = 0;       // CLOCK_REALTIME
  uint32_t suppressed = 0;    // duplicates suppressed since the previous delivery
  std::string suppressed_by;  // "", "dedup", "throttle_source", "throttle_rule", "unrouted"
  Enrichment src_info, dst_info;
  // ABI 1.12: the signature and the match (rampart_alert's comments).
  uint32_t signature_id = 0;
  uint32_t signature_rev = 0;
  std::string signature;
  std::string category;
  uint64_t flow_id = 0;
  std::string app_proto;
  std::string match_buffer;
  uint32_t match_offset = 0;
  std::string match_excerpt;  // raw bytes, at most RAMPART_ALERT_EXCERPT_MAX
  std::string context;        // a JSON object's text (checked), or empty

  // Reads only the fields inside alert.struct_size; never the ones the
  // host sets on delivery (id, component, suppressed, enrichment).
  static AlertRecord from_abi(const rampart_alert& alert);
  // "" without addresses.
  std::string src_ip() const;
  std::string dst_ip() const;
};

// The ABI struct for a record, pointing into it: valid while both live.
class AlertView {
 public:
  explicit AlertView(const AlertRecord& r);
  AlertView(const AlertView&) = delete;
  AlertView& operator=(const AlertView&) = delete;
  const rampart_alert* get() const { return &alert_; }

 private:
  rampart_alert alert_{};
  rampart_alert_enrichment src_{}, dst_{};
};

// "low".."critical" -> 0..3; false for anything else.
bool parse_severity(const std::string& text, uint32_t& out);

// The API's JSON form (also what the store keeps).
Poco::JSON::Object::Ptr to_json(const AlertRecord& r);
// The record back from to_json's text (alerts the store re-delivers);
// throws std::invalid_argument on text it cannot have made.
AlertRecord from_json(const std::string& text);

}  // namespace rampart::alerts

// SPDX-License-Identifier: Apache-2.0
// What the host hands to on_event / on_events / send_alert, and alerts to emit.
// Part of the C++ SDK; include <rampart/sdk/plugin.hpp> for all of it.
#ifndef RAMPART_SDK_VIEWS_HPP
#define RAMPART_SDK_VIEWS_HPP

#include <rampart/sdk/abi.h>

#include <arpa/inet.h>

#include <arpa/inet.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rampart/sdk/error.hpp>

namespace rampart::sdk {

// Read-only views of what the host hands to on_event / send_alert.
struct Event {
  const rampart_event* raw;
  // A rampart_event_source, or a registered source's id.
  uint32_t source() const { return raw->source; }
  uint32_t type() const { return raw->type; }
  std::string_view bytes() const { return {static_cast<const char*>(raw->data), raw->len}; }
};

// A batch handed to on_events (ABI 1.6): a ring's records in order.
class Events {
 public:
  Events(const rampart_event* events, size_t count) : events_(events), count_(count) {}
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  Event operator[](size_t i) const { return Event{events_ + i}; }

  class iterator {
   public:
    explicit iterator(const rampart_event* p) : p_(p) {}
    Event operator*() const { return Event{p_}; }
    iterator& operator++() {
      ++p_;
      return *this;
    }
    bool operator==(const iterator& o) const { return p_ == o.p_; }
    bool operator!=(const iterator& o) const { return p_ != o.p_; }

   private:
    const rampart_event* p_;
  };
  iterator begin() const { return iterator(events_); }
  iterator end() const { return iterator(events_ + count_); }

 private:
  const rampart_event* events_;
  size_t count_;
};

// "low", "medium", "high" or "critical" (values past critical read as critical).
inline std::string_view severity_name(uint32_t severity) {
  static constexpr std::string_view names[] = {"low", "medium", "high", "critical"};
  constexpr auto kLast = static_cast<uint32_t>(RAMPART_SEVERITY_CRITICAL);
  return names[severity < kLast ? severity : kLast];
}

// An alert address as text: family 4 (first 4 bytes) or 6; "" otherwise.
inline std::string address_text(uint8_t family, const uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 4) inet_ntop(AF_INET, addr, buf, sizeof buf);
  if (family == 6) inet_ntop(AF_INET6, addr, buf, sizeof buf);
  return buf;
}

// A CLOCK_REALTIME time in nanoseconds as RFC 3339 UTC with microseconds
// ("2024-05-01T12:00:00.123456Z").
inline std::string rfc3339(uint64_t time_ns) {
  const time_t secs = static_cast<time_t>(time_ns / 1000000000u);
  struct tm utc {};
  gmtime_r(&secs, &utc);
  char buf[64];
  const size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(buf + n, sizeof buf - n, ".%06uZ",
           static_cast<unsigned>((time_ns % 1000000000u) / 1000u));
  return buf;
}

// RFC 4648 base64 with padding, no line breaks (an alert's match_excerpt
// as JSON text).
inline std::string base64(std::string_view bytes) {
  static constexpr char kDigits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (n > 1) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (n > 2) v |= static_cast<unsigned char>(bytes[i + 2]);
    for (size_t k = 0; k < 4; ++k) out += k <= n ? kDigits[(v >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

struct Alert {
  const rampart_alert* raw;
  std::string_view id() const { return view(raw->id); }
  std::string_view component() const { return view(raw->component); }
  std::string_view rule_id() const { return view(raw->rule_id); }
  std::string_view message() const { return view(raw->message); }
  rampart_severity severity() const { return static_cast<rampart_severity>(raw->severity); }
  std::string src_ip() const { return address_text(raw->ip_family, raw->src_addr); }
  std::string dst_ip() const { return address_text(raw->ip_family, raw->dst_addr); }
  // ABI 1.3 fields; empty / 0 / nullptr from an older host.
  std::string_view technique_id() const { return v13() ? view(raw->mitre_technique_id) : ""; }
  std::string_view technique_name() const { return v13() ? view(raw->mitre_technique_name) : ""; }
  std::string_view tactic() const { return v13() ? view(raw->mitre_tactic) : ""; }
  uint32_t suppressed() const { return v13() ? raw->suppressed : 0; }
  const rampart_alert_enrichment* src_info() const { return v13() ? raw->src_info : nullptr; }
  const rampart_alert_enrichment* dst_info() const { return v13() ? raw->dst_info : nullptr; }
  // ABI 1.12 fields; empty / 0 from an older host or an alert without them.
  uint32_t signature_id() const { return v112() ? raw->signature_id : 0; }
  uint32_t signature_rev() const { return v112() ? raw->signature_rev : 0; }
  std::string_view signature() const { return v112() ? view(raw->signature) : ""; }
  std::string_view category() const { return v112() ? view(raw->category) : ""; }
  uint64_t flow_id() const { return v112() ? raw->flow_id : 0; }
  std::string_view app_proto() const { return v112() ? view(raw->app_proto) : ""; }
  std::string_view match_buffer() const { return v112() ? view(raw->match_buffer) : ""; }
  uint32_t match_offset() const { return v112() ? raw->match_offset : 0; }
  std::string_view match_excerpt() const { return v112() ? view(raw->match_excerpt) : ""; }
  // A JSON object's text, or empty.
  std::string_view context_json() const { return v112() ? view(raw->context_json) : ""; }
  static std::string_view view(rampart_str s) {
    return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view();
  }

 private:
  bool v13() const { return raw->struct_size >= RAMPART_FIELD_END(rampart_alert, dst_info); }
  bool v112() const { return raw->struct_size >= RAMPART_FIELD_END(rampart_alert, match_excerpt); }
};

// The MITRE ATT&CK technique an alert reports.
struct Technique {
  std::string_view id;      // "T1046"
  std::string_view name;    // "Network Service Discovery"
  std::string_view tactic;  // "Discovery"
};

// What a signature engine says of the rule that fired and of the match
// (ABI 1.12; an older host ignores it). Strings must outlive emit_alert().
struct Signature {
  uint32_t id = 0;             // the rule's number (sid)
  uint32_t rev = 0;            // its revision
  std::string_view name;       // its name, the same in all its alerts (msg)
  std::string_view category;   // its class (classtype)
  uint64_t flow_id = 0;        // the flow, as the engine numbers it
  std::string_view app_proto;  // "http", "tls", ...
  std::string_view buffer;     // where the match was ("http.uri", "payload")
  uint32_t offset = 0;         // of the bytes that matched last, in `buffer`
  std::string_view excerpt;    // those bytes (raw; the host keeps RAMPART_ALERT_EXCERPT_MAX)
  std::string_view context;    // a JSON object: EVE-style "flow", "http", ... sections
};

inline void set_signature(rampart_alert& a, const Signature& s) {
  a.signature_id = s.id;
  a.signature_rev = s.rev;
  a.signature = to_str(s.name);
  a.category = to_str(s.category);
  a.flow_id = s.flow_id;
  a.app_proto = to_str(s.app_proto);
  a.match_buffer = to_str(s.buffer);
  a.match_offset = s.offset;
  a.match_excerpt = to_str(s.excerpt);
  a.context_json = to_str(s.context);
}

// Builds an alert to emit; strings must outlive emit_alert().
inline rampart_alert make_alert(rampart_severity severity, std::string_view rule_id,
                                std::string_view message, Technique technique = {}) {
  rampart_alert a{};
  a.struct_size = sizeof(a);
  a.severity = severity;
  a.action = RAMPART_ALERT_ACTION_ALERT;
  a.rule_id = to_str(rule_id);
  a.message = to_str(message);
  a.mitre_technique_id = to_str(technique.id);
  a.mitre_technique_name = to_str(technique.name);
  a.mitre_tactic = to_str(technique.tactic);
  return a;
}

}  // namespace rampart::sdk

#endif  // RAMPART_SDK_VIEWS_HPP

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
  static std::string_view view(rampart_str s) {
    return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view();
  }

 private:
  bool v13() const { return raw->struct_size >= RAMPART_FIELD_END(rampart_alert, dst_info); }
};

// The MITRE ATT&CK technique an alert reports.
struct Technique {
  std::string_view id;      // "T1046"
  std::string_view name;    // "Network Service Discovery"
  std::string_view tactic;  // "Discovery"
};

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

// SPDX-License-Identifier: Apache-2.0
// A firewall rule as operators write it, and its validation. Every error
// names the field at fault.
#pragma once

#include <rampart/sdk/abi.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cidr.hpp"

namespace rampart::firewall {

enum class Action : uint8_t { allow = 0, deny = 1, log = 2, reject = 3 };

// Networks are the plugins' common type (plugins/common/cidr.hpp).
using net::Cidr;
using net::format_cidr;
using net::parse_cidr;

struct PortRange {
  uint16_t lo = 0;
  uint16_t hi = 65535;
  bool operator==(const PortRange&) const = default;
};

// (packet_flags & mask) == value
struct TcpFlags {
  uint8_t mask = 0;
  uint8_t value = 0;
  bool operator==(const TcpFlags&) const = default;
};

constexpr int kAnyProtocol = -1;

struct Rule {
  uint32_t id = 0;
  int32_t priority = 0;  // lower first; ties broken by id
  Action action = Action::deny;
  int protocol = kAnyProtocol;  // IP protocol number: 1, 6, 17, 58, or any
  std::optional<Cidr> src, dst;
  std::optional<PortRange> src_port, dst_port;
  std::optional<uint16_t> vlan_id;
  std::optional<TcpFlags> tcp_flags;
  bool enabled = true;
  std::string description;
  // Seconds since the epoch after which the core deletes the rule (API
  // rules only; rest-api.md "Rules that expire"); 0: never. Matching does
  // not read it: until deleted, the rule is enforced as written.
  int64_t expires_at = 0;

  bool operator==(const Rule&) const = default;
};

// Parsers for the textual forms; each returns nullopt and sets `error`.
// Control characters (NUL included) are refused by every one of them.
std::optional<Action> parse_action(std::string_view s, std::string& error);
std::optional<int> parse_protocol(std::string_view s, std::string& error);
std::optional<PortRange> parse_ports(std::string_view s, std::string& error);
std::optional<TcpFlags> parse_tcp_flags(std::string_view s, std::string& error);

std::string_view action_name(Action a);

// What an alert for a packet judged by `a` reports: the MITRE ATT&CK
// technique (a blocked packet is most often probing: Active Scanning; a
// packet a `log` rule watches is reaching a service: Network Service
// Discovery) and the severity.
struct AlertKind {
  const char* technique_id;
  const char* technique_name;
  const char* tactic;
  rampart_severity severity;
  bool blocked;
};
AlertKind alert_kind(Action a);
std::string protocol_name(int protocol);
std::string format_ports(const PortRange& p);
std::string format_tcp_flags(const TcpFlags& f);

// "" if the rule is consistent, else "<field>: <why>".
std::string validate(const Rule& r);

}  // namespace rampart::firewall

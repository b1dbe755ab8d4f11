// SPDX-License-Identifier: Apache-2.0
#include "rule.hpp"

#include <charconv>

#include "control_chars.hpp"

namespace rampart::firewall {
namespace {

constexpr std::pair<const char*, uint8_t> kFlagBits[] = {
    {"FIN", 0x01}, {"SYN", 0x02}, {"RST", 0x04}, {"PSH", 0x08},
    {"ACK", 0x10}, {"URG", 0x20}, {"ECE", 0x40}, {"CWR", 0x80}};

template <class T>
bool parse_uint(std::string_view s, T& out) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Rule fields come from outside (REST bodies, YAML, feed files) and none has
// a use for control characters.
bool free_of_control_chars(std::string_view s, std::string& error) {
  error = text::control_char_problem(s);
  return error.empty();
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<Action> parse_action(std::string_view s, std::string& error) {
  if (!free_of_control_chars(s, error)) return std::nullopt;
  if (s == "allow") return Action::allow;
  if (s == "deny") return Action::deny;
  if (s == "log") return Action::log;
  if (s == "reject") return Action::reject;
  error = "expected allow, deny, log or reject, got '" + std::string(s) + "'";
  return std::nullopt;
}

std::optional<int> parse_protocol(std::string_view s, std::string& error) {
  if (!free_of_control_chars(s, error)) return std::nullopt;
  if (s == "any") return kAnyProtocol;
  if (s == "tcp") return 6;
  if (s == "udp") return 17;
  if (s == "icmp") return 1;
  if (s == "icmpv6") return 58;
  error = "expected tcp, udp, icmp, icmpv6 or any, got '" + std::string(s) + "'";
  return std::nullopt;
}

std::optional<PortRange> parse_ports(std::string_view s, std::string& error) {
  if (!free_of_control_chars(s, error)) return std::nullopt;
  const auto dash = s.find('-');
  unsigned lo = 0, hi = 0;
  const bool ok = dash == std::string_view::npos
                      ? parse_uint(s, lo) && (hi = lo, true)
                      : parse_uint(s.substr(0, dash), lo) && parse_uint(s.substr(dash + 1), hi);
  if (!ok || lo > 65535 || hi > 65535) {
    error = "expected a port (0-65535) or a range like 1000-2000, got '" + std::string(s) + "'";
    return std::nullopt;
  }
  if (lo > hi) {
    error = "range '" + std::string(s) + "' ends before it starts";
    return std::nullopt;
  }
  return PortRange{static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)};
}

std::optional<TcpFlags> parse_tcp_flags(std::string_view s, std::string& error) {
  if (!free_of_control_chars(s, error)) return std::nullopt;
  TcpFlags f;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = s.find(',', pos);
    std::string tok = upper(s.substr(pos, comma == std::string_view::npos ? s.npos : comma - pos));
    const bool negated = !tok.empty() && tok[0] == '!';
    if (negated) tok.erase(0, 1);
    uint8_t bit = 0;
    for (const auto& [name, b] : kFlagBits) {
      if (tok == name) bit = b;
    }
    if (!bit) {
      error =
          "unknown TCP flag '" + tok + "' (FIN SYN RST PSH ACK URG ECE CWR, '!' to require clear)";
      return std::nullopt;
    }
    if (f.mask & bit) {
      error = "TCP flag " + tok + " given twice";
      return std::nullopt;
    }
    f.mask |= bit;
    if (!negated) f.value |= bit;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return f;
}

AlertKind alert_kind(Action a) {
  switch (a) {
    case Action::deny:
    case Action::reject:
      return {"T1595", "Active Scanning", "Reconnaissance", RAMPART_SEVERITY_MEDIUM, true};
    case Action::log:
    case Action::allow:
      break;
  }
  return {"T1046", "Network Service Discovery", "Discovery", RAMPART_SEVERITY_LOW, false};
}

std::string_view action_name(Action a) {
  switch (a) {
    case Action::allow:
      return "allow";
    case Action::deny:
      return "deny";
    case Action::log:
      return "log";
    case Action::reject:
      return "reject";
  }
  return "deny";
}

std::string protocol_name(int p) {
  switch (p) {
    case kAnyProtocol:
      return "any";
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 1:
      return "icmp";
    case 58:
      return "icmpv6";
  }
  return std::to_string(p);
}

std::string format_ports(const PortRange& p) {
  return p.lo == p.hi ? std::to_string(p.lo) : std::to_string(p.lo) + "-" + std::to_string(p.hi);
}

std::string format_tcp_flags(const TcpFlags& f) {
  std::string out;
  for (const auto& [name, bit] : kFlagBits) {
    if (!(f.mask & bit)) continue;
    out += (out.empty() ? "" : ",") + std::string(f.value & bit ? "" : "!") + name;
  }
  return out;
}

std::string validate(const Rule& r) {
  if (r.id == 0) return "id: must be 1 or more";
  if (r.protocol != kAnyProtocol && r.protocol != 1 && r.protocol != 6 && r.protocol != 17 &&
      r.protocol != 58) {
    return "protocol: unsupported protocol " + std::to_string(r.protocol);
  }
  if (r.src && r.dst && r.src->family != r.dst->family) {
    return "dst_ip: address family differs from src_ip";
  }
  const Cidr* addr = r.src ? &*r.src : r.dst ? &*r.dst : nullptr;
  if (addr && r.protocol == 1 && addr->family == 6)
    return "protocol: icmp with an IPv6 address (use icmpv6)";
  if (addr && r.protocol == 58 && addr->family == 4)
    return "protocol: icmpv6 with an IPv4 address (use icmp)";
  if ((r.src_port || r.dst_port) && r.protocol != 6 && r.protocol != 17 &&
      r.protocol != kAnyProtocol) {
    return std::string(r.src_port ? "src_port" : "dst_port") +
           ": ports need protocol tcp, udp or any";
  }
  if (r.tcp_flags && r.protocol != 6) return "tcp_flags: needs protocol tcp";
  if (r.tcp_flags && r.tcp_flags->mask == 0) return "tcp_flags: empty";
  if (r.vlan_id && (*r.vlan_id < 1 || *r.vlan_id > 4094)) return "vlan_id: must be 1-4094";
  if (r.description.size() > 256) return "description: longer than 256 characters";
  return "";
}

}  // namespace rampart::firewall

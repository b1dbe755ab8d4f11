// SPDX-License-Identifier: Apache-2.0
#include "listen_settings.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "control_chars.hpp"

namespace rampart::frontend {

namespace {

// A DNS name as RFC 1123 allows it: dot-separated labels of letters, digits
// and inner hyphens, each 1-63 long, 253 in all.
bool host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    const size_t dot = std::min(s.find('.', start), s.size());
    const auto label = s.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (const char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (dot == s.size()) return true;
    start = dot + 1;
  }
}

bool ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;  // s holds no NUL: checked first
}

}  // namespace

ListenAddress parse_listen(const sdk::Config& cfg, const std::string& key,
                           const std::string& fallback) {
  const auto text = cfg.get<std::string>(key, fallback);
  if (const auto problem = text::control_char_problem(text); !problem.empty())
    throw cfg.invalid(key, problem);
  const auto malformed = [&] { return cfg.invalid(key, "expected host:port, got '" + text + "'"); };
  ListenAddress a;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    // An IPv6 literal; its brackets are what tells its colons from the port's.
    const auto close = text.find(']');
    if (close == std::string::npos || text.compare(close + 1, 1, ":") != 0) throw malformed();
    a.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    in6_addr v6{};
    if (inet_pton(AF_INET6, a.host.c_str(), &v6) != 1)
      throw cfg.invalid(key, "'" + a.host + "' is not an IPv6 address");
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) throw malformed();
    a.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (a.host.find(':') != std::string::npos) {
      throw cfg.invalid(key, "an IPv6 address needs brackets ([::1]:8080), got '" + text + "'");
    }
    // All digits and dots is meant as an IPv4 address, not a name.
    const bool numeric = a.host.find_first_not_of("0123456789.") == std::string::npos;
    if (numeric ? !ipv4(a.host) : !host_name(a.host)) {
      throw cfg.invalid(key,
                        "host must be an IPv4 address, an IPv6 address in brackets or a host name, "
                        "got '" +
                            a.host + "'");
    }
  }
  // Digits only: from_chars alone stops at the first non-digit ("80abc").
  // Port 0 asks the system for a free port (the tests use it).
  unsigned value = 0;
  const bool digits = !port.empty() && port.size() <= 5 &&
                      port.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || std::from_chars(port.data(), port.data() + port.size(), value).ec != std::errc() ||
      value > 65535) {
    throw cfg.invalid(key, "port must be 0-65535, digits only, got '" + port + "'");
  }
  a.port = static_cast<uint16_t>(value);
  return a;
}

std::optional<TlsSettings> parse_tls(const sdk::Config& cfg, const std::string& key) {
  if (!cfg.has(key)) return std::nullopt;
  cfg.allow_only(key, {"cert", "key"});
  TlsSettings t{cfg.require<std::string>(key + ".cert"), cfg.require<std::string>(key + ".key")};
  for (const auto& [field, path] : {std::pair{"cert", t.cert_file}, std::pair{"key", t.key_file}}) {
    if (access(path.c_str(), R_OK) != 0)
      throw cfg.invalid(key + "." + field, path + ": " + std::strerror(errno));
  }
  return t;
}

std::string api_key_from(std::string_view authorization, std::string_view x_api_key) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() > kScheme.size()) {
    bool bearer = true;
    for (size_t i = 0; i < kScheme.size(); ++i) {
      bearer = bearer && std::tolower(static_cast<unsigned char>(authorization[i])) == kScheme[i];
    }
    if (bearer) return std::string(authorization.substr(kScheme.size()));
  }
  return std::string(x_api_key);
}

}  // namespace rampart::frontend

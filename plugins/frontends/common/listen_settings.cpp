// SPDX-License-Identifier: Apache-2.0
#include "listen_settings.hpp"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

namespace rampart::frontend {

ListenAddress parse_listen(const sdk::Config& cfg, const std::string& key,
                           const std::string& fallback) {
  const auto text = cfg.get<std::string>(key, fallback);
  const auto colon = text.rfind(':');
  unsigned port = 0;
  if (colon == std::string::npos || colon == 0 ||
      std::from_chars(text.data() + colon + 1, text.data() + text.size(), port).ec != std::errc() ||
      port > 65535) {
    throw cfg.invalid(key, "expected host:port, got '" + text + "'");
  }
  ListenAddress a;
  a.host = text.substr(0, colon);
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']')
    a.host = a.host.substr(1, a.host.size() - 2);
  a.port = static_cast<uint16_t>(port);
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

// SPDX-License-Identifier: Apache-2.0
// Settings every network frontend (REST, metrics, gRPC) reads the same
// way: `listen`, `tls: {cert, key}`, and the API key a client sent. Only
// the SDK: a frontend that does not speak HTTP through Poco links this
// without Poco.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rampart::frontend {

struct ListenAddress {
  std::string host;  // without the brackets of an IPv6 literal
  uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};

// TLS for a frontend: PEM certificate (chain) and private key files.
struct TlsSettings {
  std::string cert_file, key_file;
};

// `key` as {cert, key}; absent: nullopt. Files must be readable now, so
// --check-config and reloads catch a wrong path.
std::optional<TlsSettings> parse_tls(const sdk::Config& cfg, const std::string& key);

// `key` as "host:port": an IPv4 address, an IPv6 address in brackets
// ("[::1]:9090") or a host name, and a port of digits only, 0-65535 (0: any
// free port); an error naming the key otherwise.
ListenAddress parse_listen(const sdk::Config& cfg, const std::string& key,
                           const std::string& fallback);

// The API key token from the two places clients put it: an
// "Authorization: Bearer <key>" value (scheme case-insensitive), else an
// "X-API-Key: <key>" value; "" if neither holds one.
std::string api_key_from(std::string_view authorization, std::string_view x_api_key);

}  // namespace rampart::frontend

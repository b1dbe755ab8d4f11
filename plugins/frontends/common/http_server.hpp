// SPDX-License-Identifier: Apache-2.0
// What every HTTP frontend plugin (REST, metrics) shares: the `listen`
// setting and a Poco HTTPServer bound to it.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace rampart::frontend {

struct ListenAddress {
  std::string host;
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

// `key` as "host:port" ("[::1]:9090" for IPv6); an error naming the key.
ListenAddress parse_listen(const sdk::Config& cfg, const std::string& key,
                           const std::string& fallback);

// Binds and starts a server, HTTPS only (TLS 1.2 or newer) with tls;
// throws sdk::Error naming the address when the port cannot be bound or
// the certificate or key cannot be used.
std::unique_ptr<Poco::Net::HTTPServer> start_http_server(
    const ListenAddress& at, Poco::Net::HTTPRequestHandlerFactory* factory, int threads, int queue,
    const std::optional<TlsSettings>& tls = std::nullopt);

// The API key a client sent: "Authorization: Bearer <key>" or "X-API-Key: <key>".
std::string credential(const Poco::Net::HTTPServerRequest& req);

}  // namespace rampart::frontend

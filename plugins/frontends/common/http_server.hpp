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
#include <string>

namespace rampart::frontend {

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};

// `key` as "host:port" ("[::1]:9090" for IPv6); an error naming the key.
ListenAddress parse_listen(const sdk::Config& cfg, const std::string& key,
                           const std::string& fallback);

// Binds and starts a server; throws sdk::Error naming the
// address when the port cannot be bound.
std::unique_ptr<Poco::Net::HTTPServer> start_http_server(
    const ListenAddress& at, Poco::Net::HTTPRequestHandlerFactory* factory, int threads, int queue);

// The API key a client sent: "Authorization: Bearer <key>" or "X-API-Key: <key>".
std::string credential(const Poco::Net::HTTPServerRequest& req);

}  // namespace rampart::frontend

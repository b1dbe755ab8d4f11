// SPDX-License-Identifier: Apache-2.0
// What every HTTP frontend plugin (REST, metrics) shares: an HTTP server
// bound to its `listen` setting (listen_settings.hpp) that answers every
// error in JSON (its own too: a malformed request line or headers past
// Poco's limits), and the JSON responses.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include "listen_settings.hpp"

#include <Poco/Dynamic/Var.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/TCPServer.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace rampart::frontend {

struct OpenConnections;

// A running server. Poco's HTTPServer answers requests it cannot parse
// (request line or header fields past its limits, a broken header) with
// an empty 400; this one runs its own connection loop so those answers are
// JSON like every other error.
class HttpServer {
 public:
  HttpServer(Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
             const Poco::Net::ServerSocket& socket, int threads, int queue);
  ~HttpServer();
  uint16_t port() const { return tcp_->port(); }
  // Stops accepting and cuts the connections still open.
  void stop();

 private:
  std::shared_ptr<OpenConnections> open_;
  std::unique_ptr<Poco::Net::TCPServer> tcp_;
};

// Binds and starts a server, HTTPS only (TLS 1.2 or newer) with tls;
// throws sdk::Error naming the address when the port cannot be bound or
// the certificate or key cannot be used.
std::unique_ptr<HttpServer> start_http_server(const ListenAddress& at,
                                              Poco::Net::HTTPRequestHandlerFactory* factory,
                                              int threads, int queue,
                                              const std::optional<TlsSettings>& tls = std::nullopt);

// A JSON response with its length.
void send_json(Poco::Net::HTTPServerResponse& res, Poco::Net::HTTPResponse::HTTPStatus status,
               const Poco::Dynamic::Var& body);
// An error response: {"error", "detail", "field"?}.
void send_error(Poco::Net::HTTPServerResponse& res, Poco::Net::HTTPResponse::HTTPStatus status,
                const std::string& error, const std::string& detail, const std::string& field = "");

// The API key a client sent: "Authorization: Bearer <key>" or "X-API-Key: <key>".
std::string credential(const Poco::Net::HTTPServerRequest& req);

}  // namespace rampart::frontend

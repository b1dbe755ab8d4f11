// SPDX-License-Identifier: Apache-2.0
#include "http_server.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/String.h>

#include <charconv>

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

std::unique_ptr<Poco::Net::HTTPServer> start_http_server(
    const ListenAddress& at, Poco::Net::HTTPRequestHandlerFactory* factory, int threads,
    int queue) {
  Poco::Net::HTTPRequestHandlerFactory::Ptr owned(factory);
  try {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(at.host, at.port));
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(threads);
    params->setMaxQueued(queue);
    auto server = std::make_unique<Poco::Net::HTTPServer>(owned, socket, params);
    server->start();
    return server;
  } catch (const Poco::Exception& e) {
    throw sdk::Error(RAMPART_ERR_INTERNAL,
                     "cannot listen on " + at.text() + ": " + e.displayText());
  }
}

std::string credential(const Poco::Net::HTTPServerRequest& req) {
  const std::string auth = req.get("Authorization", "");
  if (auth.size() > 7 && Poco::icompare(auth.substr(0, 7), "Bearer ") == 0) return auth.substr(7);
  return req.get("X-API-Key", "");
}

}  // namespace rampart::frontend

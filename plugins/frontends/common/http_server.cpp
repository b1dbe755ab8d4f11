// SPDX-License-Identifier: Apache-2.0
#include "http_server.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/String.h>

#include <Poco/Net/Context.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureServerSocket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>

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

std::unique_ptr<Poco::Net::HTTPServer> start_http_server(
    const ListenAddress& at, Poco::Net::HTTPRequestHandlerFactory* factory, int threads, int queue,
    const std::optional<TlsSettings>& tls) {
  Poco::Net::HTTPRequestHandlerFactory::Ptr owned(factory);
  try {
    const Poco::Net::SocketAddress address(at.host, at.port);
    std::unique_ptr<Poco::Net::ServerSocket> socket;
    if (tls) {
      static std::once_flag ssl_ready;
      std::call_once(ssl_ready, [] { Poco::Net::initializeSSL(); });
      Poco::Net::Context::Params p;
      p.certificateFile = tls->cert_file;
      p.privateKeyFile = tls->key_file;
      p.verificationMode = Poco::Net::Context::VERIFY_NONE;  // clients authenticate with API keys
      p.loadDefaultCAs = false;
      Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, p);
      ctx->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
      socket = std::make_unique<Poco::Net::SecureServerSocket>(address, 64, ctx);
    } else {
      socket = std::make_unique<Poco::Net::ServerSocket>(address);
    }
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(threads);
    params->setMaxQueued(queue);
    auto server = std::make_unique<Poco::Net::HTTPServer>(owned, *socket, params);
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

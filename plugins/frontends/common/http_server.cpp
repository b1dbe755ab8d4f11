// SPDX-License-Identifier: Apache-2.0
#include "http_server.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>

#include <Poco/Net/Context.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureServerSocket.h>

#include <mutex>
#include <set>
#include <sstream>

namespace rampart::frontend {

using Poco::Net::HTTPResponse;

// The connections being served, so stop() can cut them.
struct OpenConnections {
  std::mutex mu;
  bool stopped = false;
  std::set<Poco::Net::StreamSocket*> sockets;

  bool enter(Poco::Net::StreamSocket* s) {
    std::lock_guard lock(mu);
    if (!stopped) sockets.insert(s);
    return !stopped;
  }
  void leave(Poco::Net::StreamSocket* s) {
    std::lock_guard lock(mu);
    sockets.erase(s);
  }
  bool is_stopped() {
    std::lock_guard lock(mu);
    return stopped;
  }
  void stop() {
    std::lock_guard lock(mu);
    stopped = true;
    for (auto* s : sockets) {
      try {
        s->shutdown();
      } catch (const Poco::Exception&) {  // already closed by the peer
      }
    }
  }
};

namespace {

// Printable ASCII only: Poco's parse errors may quote what the client sent.
std::string printable(const std::string& s) {
  std::string out;
  for (const char c : s) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

// One client connection: requests parsed by Poco, answered by the
// factory's handlers; what Poco refuses to parse is answered here, in JSON.
class Connection : public Poco::Net::TCPServerConnection {
 public:
  Connection(const Poco::Net::StreamSocket& s, Poco::Net::HTTPServerParams::Ptr params,
             Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
             std::shared_ptr<OpenConnections> open)
      : TCPServerConnection(s),
        params_(std::move(params)),
        factory_(std::move(factory)),
        open_(std::move(open)) {}

  void run() override {
    if (!open_->enter(&socket())) return;
    try {
      serve();
    } catch (const Poco::Exception&) {  // the peer went away mid-response
    }
    open_->leave(&socket());
  }

 private:
  void serve() {
    Poco::Net::HTTPServerSession session(socket(), params_);
    while (!open_->is_stopped() && session.hasMoreRequests()) {
      Poco::Net::HTTPServerResponseImpl response(session);
      try {
        Poco::Net::HTTPServerRequestImpl request(response, session, params_);
        const std::string& version = request.getVersion();
        if (version != HTTPResponse::HTTP_1_0 && version != HTTPResponse::HTTP_1_1) {
          refuse(session, response, HTTPResponse::HTTP_VERSION_NOT_SUPPORTED,
                 "http version not supported", "use HTTP/1.1");
          return;
        }
        response.setVersion(version);
        response.setKeepAlive(params_->getKeepAlive() && request.getKeepAlive() &&
                              session.canKeepAlive());
        std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
            factory_->createRequestHandler(request));
        if (!handler) {
          send_error(response, HTTPResponse::HTTP_NOT_IMPLEMENTED, "not implemented",
                     request.getMethod() + " " + request.getURI());
        } else {
          if (request.getExpectContinue() && response.getStatus() == HTTPResponse::HTTP_OK)
            response.sendContinue();
          handler->handleRequest(request, response);
        }
        session.setKeepAlive(response.getKeepAlive() && response.sent() && session.canKeepAlive());
      } catch (const Poco::Net::NoMessageException&) {
        return;  // the client closed the connection between requests
      } catch (const Poco::Net::MessageException& e) {
        refuse(session, response, HTTPResponse::HTTP_BAD_REQUEST, "bad request",
               "malformed request: " + printable(e.message()));
        return;
      } catch (const Poco::Exception& e) {
        if (session.networkException()) return;
        refuse(session, response, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "internal error",
               printable(e.displayText()));
        return;
      }
    }
  }

  // Answers once and closes: after a parse error the stream position is unknown.
  static void refuse(Poco::Net::HTTPServerSession& session,
                     Poco::Net::HTTPServerResponseImpl& response, HTTPResponse::HTTPStatus status,
                     const std::string& error, const std::string& detail) {
    session.setKeepAlive(false);
    if (response.sent()) return;
    response.setVersion(HTTPResponse::HTTP_1_1);
    response.setKeepAlive(false);
    send_error(response, status, error, detail);
  }

  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
  std::shared_ptr<OpenConnections> open_;
};

class ConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  ConnectionFactory(Poco::Net::HTTPServerParams::Ptr params,
                    Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                    std::shared_ptr<OpenConnections> open)
      : params_(std::move(params)), factory_(std::move(factory)), open_(std::move(open)) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& s) override {
    return new Connection(s, params_, factory_, open_);
  }

 private:
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
  std::shared_ptr<OpenConnections> open_;
};

}  // namespace

HttpServer::HttpServer(Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                       const Poco::Net::ServerSocket& socket, int threads, int queue)
    : open_(std::make_shared<OpenConnections>()) {
  Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(threads);
  params->setMaxQueued(queue);
  tcp_ = std::make_unique<Poco::Net::TCPServer>(
      new ConnectionFactory(params, std::move(factory), open_), socket, params);
  tcp_->start();
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::stop() {
  tcp_->stop();
  open_->stop();
}

std::unique_ptr<HttpServer> start_http_server(const ListenAddress& at,
                                              Poco::Net::HTTPRequestHandlerFactory* factory,
                                              int threads, int queue,
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
    return std::make_unique<HttpServer>(owned, *socket, threads, queue);
  } catch (const Poco::Exception& e) {
    throw sdk::Error(RAMPART_ERR_INTERNAL,
                     "cannot listen on " + at.text() + ": " + e.displayText());
  }
}

void send_json(Poco::Net::HTTPServerResponse& res, HTTPResponse::HTTPStatus status,
               const Poco::Dynamic::Var& body) {
  std::ostringstream os;
  Poco::JSON::Stringifier::stringify(body, os);
  const std::string text = os.str();
  res.setStatus(status);
  res.setContentType("application/json");
  res.setContentLength(static_cast<std::streamsize>(text.size()));
  res.send() << text;
}

void send_error(Poco::Net::HTTPServerResponse& res, HTTPResponse::HTTPStatus status,
                const std::string& error, const std::string& detail, const std::string& field) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("error", error);
  o->set("detail", detail);
  if (!field.empty()) o->set("field", field);
  send_json(res, status, o);
}

std::string credential(const Poco::Net::HTTPServerRequest& req) {
  return api_key_from(req.get("Authorization", ""), req.get("X-API-Key", ""));
}

}  // namespace rampart::frontend

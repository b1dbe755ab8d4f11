// SPDX-License-Identifier: Apache-2.0
// The HTTP/1.1 server every HTTP frontend plugin (REST, metrics) runs, on
// Boost.Asio: TCP (optionally TLS) and Unix-socket listeners, request heads
// read without holding a thread, RFC 9112 message framing, and every error
// answered in JSON.
//
// Why not Poco's HTTPServer: it gives each connection a thread from a small
// pool (8 idle connections made the REST API unavailable), and its header
// parser accepts what RFC 9112 says must be refused (whitespace before the
// colon, obs-fold), so a body could be left unread and parsed as the next
// request. Here the head is parsed strictly, the body is read exactly as
// framed (Content-Length or chunked) or the connection is closed, and only
// the handler runs on a worker thread.
//
// Defences against slow and greedy clients (docs/rest-api.md):
//  - a deadline for a whole request head (TLS handshake included), for the
//    body and for writing the answer;
//  - a cap on connections per client address (per uid on a Unix socket)
//    and overall; at a cap, the oldest connection still waiting for its
//    request head is closed to make room, so idle or trickling connections
//    can never lock out a client that sends a request;
//  - bounded head size and field count, body size decided per request.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include "http_message.hpp"
#include "listen_settings.hpp"

#include <Poco/Dynamic/Var.h>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rampart::frontend {

// A JSON response.
Response json_response(int status, const Poco::Dynamic::Var& body);
// An error response: {"error", "detail", "field"?}.
Response error_response(int status, const std::string& error, const std::string& detail,
                        const std::string& field = "");

// What a frontend implements. Both calls run on a worker thread and may
// block briefly (they call into the core).
class Handler {
 public:
  virtual ~Handler() = default;
  // Called when a request head is complete, before any of its body is
  // read. Returns an answer to send at once (the body is then never read,
  // and the connection closes if one was announced), or nullopt to read a
  // body of at most `max_body` bytes (preset to the server's limit) and
  // call handle().
  virtual std::optional<Response> admit(const Request& head, size_t& max_body) = 0;
  virtual Response handle(Request& request) = 0;
};

struct ServerLimits {
  std::chrono::milliseconds head_timeout{
      10000};  // TLS handshake + the whole head (also keep-alive idle)
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
  size_t max_head_bytes = 32 * 1024;
  size_t max_fields = 100;
  size_t max_body = 1 << 20;  // the default admit() starts from
  size_t max_connections = 1024;
  size_t max_connections_per_client = 128;
  unsigned threads = 4;  // handler threads
};

// Counters a frontend may publish as metrics; read at any time.
struct ServerStats {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> open{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> timed_out{0};     // closed by a deadline
  std::atomic<uint64_t> evicted{0};       // closed to make room at a connection cap
  std::atomic<uint64_t> refused{0};       // closed at accept: at a cap with nothing to evict
  std::atomic<uint64_t> bad_requests{0};  // framing or syntax errors
};

class HttpServer {
 public:
  HttpServer(std::shared_ptr<Handler> handler, ServerLimits limits);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Listeners, added before start(). Each throws sdk::Error naming the
  // address when it cannot be used. Sockets never set SO_REUSEPORT: a
  // second agent on the same port fails to bind instead of sharing it.
  // Returns the bound port (the one chosen when 0 was asked for).
  uint16_t listen_tcp(const ListenAddress& at,
                      const std::optional<TlsSettings>& tls = std::nullopt);
  // A Unix stream socket at `path` with `mode` (a stale socket file is
  // replaced; one a live server answers on is an error). Peers carry the
  // kernel's credentials (Peer::local).
  void listen_unix(const std::string& path, mode_t mode);

  void start();
  // Stops accepting, closes every connection and waits for handlers still
  // running. Idempotent.
  void stop();

  const ServerStats& stats() const;

  struct Impl;  // the connections reach it; not part of the interface

 private:
  std::unique_ptr<Impl> impl_;
};

// A server's connection counters as the plugin's metrics
// (rampart_http_connections_*{listener}), brought up to date by update():
// a frontend calls it from a host timer, so nothing is counted twice and
// the connection path takes no lock for metrics.
class ServerMetrics {
 public:
  ServerMetrics(const sdk::Host& host, const std::string& listener);
  void update(const ServerStats& stats);

 private:
  sdk::Metric open_, accepted_, requests_, timed_out_, evicted_, refused_, bad_;
  uint64_t seen_[6] = {};
};

// The API key a client sent: "Authorization: Bearer <key>" or "X-API-Key: <key>".
std::string credential(const Request& req);
// The peer as the host's management API takes it (ABI 1.4).
sdk::ApiPeer api_peer(const Peer& peer);

// The settings every HTTP frontend shares, over `defaults`:
// request_head_timeout_ms, body_timeout_ms, max_connections,
// max_connections_per_client, threads. The caller lists them in its
// allow_only (kServerSettings).
ServerLimits parse_server_limits(const sdk::Config& cfg, ServerLimits defaults);
inline constexpr const char* kServerSettings[] = {"request_head_timeout_ms", "body_timeout_ms",
                                                  "max_connections", "max_connections_per_client",
                                                  "threads"};

}  // namespace rampart::frontend

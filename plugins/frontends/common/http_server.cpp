// SPDX-License-Identifier: Apache-2.0
#include "http_server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>

#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <list>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <type_traits>

#include "http_message.hpp"

namespace rampart::frontend {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_proto = asio::local::stream_protocol;
using TlsStream = asio::ssl::stream<tcp::socket>;

Response json_response(int status, const Poco::Dynamic::Var& body) {
  std::ostringstream os;
  Poco::JSON::Stringifier::stringify(body, os);
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = os.str();
  return r;
}

Response error_response(int status, const std::string& error, const std::string& detail,
                        const std::string& field) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("error", error);
  o->set("detail", detail);
  if (!field.empty()) o->set("field", field);
  return json_response(status, o);
}

std::string credential(const Request& req) {
  return api_key_from(req.get("Authorization"), req.get("X-API-Key"));
}

sdk::ApiPeer api_peer(const Peer& peer) {
  sdk::ApiPeer p;
  p.local = peer.local;
  p.uid = peer.uid;
  p.gid = peer.gid;
  p.pid = peer.pid;
  p.tls = peer.tls;
  return p;
}

ServerMetrics::ServerMetrics(const sdk::Host& host, const std::string& listener) {
  const sdk::Labels l = {{"listener", listener.c_str()}};
  open_ = host.gauge("rampart_http_connections_open", "HTTP connections open", l);
  accepted_ =
      host.counter("rampart_http_connections_accepted_total", "HTTP connections accepted", l);
  requests_ = host.counter("rampart_http_requests_total", "HTTP request heads read", l);
  timed_out_ = host.counter("rampart_http_connections_timed_out_total",
                            "HTTP connections closed by a deadline (head, body or write)", l);
  evicted_ =
      host.counter("rampart_http_connections_evicted_total",
                   "Idle or slow HTTP connections closed to make room at a connection cap", l);
  refused_ = host.counter("rampart_http_connections_refused_total",
                          "HTTP connections closed at accept: at a cap, nothing to evict", l);
  bad_ = host.counter("rampart_http_bad_requests_total",
                      "HTTP requests refused for their syntax or framing", l);
}

void ServerMetrics::update(const ServerStats& st) {
  open_.set(static_cast<double>(st.open.load()));
  const uint64_t now[6] = {st.accepted.load(), st.requests.load(), st.timed_out.load(),
                           st.evicted.load(),  st.refused.load(),  st.bad_requests.load()};
  sdk::Metric* m[6] = {&accepted_, &requests_, &timed_out_, &evicted_, &refused_, &bad_};
  for (int i = 0; i < 6; ++i) {
    if (now[i] > seen_[i]) m[i]->inc(static_cast<double>(now[i] - seen_[i]));
    seen_[i] = now[i];
  }
}

ServerLimits parse_server_limits(const sdk::Config& cfg, ServerLimits d) {
  auto ms = [&](const char* key, std::chrono::milliseconds fallback) {
    const auto v = cfg.get<uint64_t>(key, static_cast<uint64_t>(fallback.count()));
    if (v < 100 || v > 3600000) throw cfg.invalid(key, "must be 100-3600000 (milliseconds)");
    return std::chrono::milliseconds(v);
  };
  d.head_timeout = ms("request_head_timeout_ms", d.head_timeout);
  d.body_timeout = ms("body_timeout_ms", d.body_timeout);
  d.max_connections = cfg.get<uint64_t>("max_connections", d.max_connections);
  if (d.max_connections < 1 || d.max_connections > 100000)
    throw cfg.invalid("max_connections", "must be 1-100000");
  d.max_connections_per_client =
      cfg.get<uint64_t>("max_connections_per_client", d.max_connections_per_client);
  if (d.max_connections_per_client < 1 || d.max_connections_per_client > d.max_connections)
    throw cfg.invalid("max_connections_per_client", "must be 1-max_connections");
  d.threads = cfg.get<uint32_t>("threads", d.threads);
  if (d.threads < 1 || d.threads > 64) throw cfg.invalid("threads", "must be 1-64");
  return d;
}

namespace {

// Printable ASCII only: details may quote what the client sent.
std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 256)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

const char* error_name(int status) {
  switch (status) {
    case 408:
      return "request timeout";
    case 413:
      return "body too large";
    case 414:
    case 431:
      return "request too large";
    case 501:
      return "not implemented";
    case 505:
      return "http version not supported";
    default:
      return "bad request";
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Connections. Everything below runs on the server's one I/O thread, except
// Handler calls, which run on the worker pool and post their result back.

class ConnectionBase;
using ConnectionList = std::list<std::shared_ptr<ConnectionBase>>;

struct HttpServer::Impl {
  Impl(std::shared_ptr<Handler> h, ServerLimits l) : handler(std::move(h)), limits(l) {}

  std::shared_ptr<Handler> handler;
  ServerLimits limits;
  ServerStats stats;
  asio::io_context io;
  std::optional<asio::thread_pool> workers;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread io_thread;
  std::mutex stop_mu;
  bool started = false, stopped = false;

  struct Listener {
    std::optional<tcp::acceptor> tcp_acceptor;
    std::optional<unix_proto::acceptor> unix_acceptor;
    std::shared_ptr<asio::ssl::context> tls;
    std::string unix_path;
    ino_t unix_inode = 0;
    std::optional<asio::steady_timer> retry;  // after EMFILE
  };
  std::vector<std::unique_ptr<Listener>> listeners;

  // I/O thread only.
  ConnectionList connections;  // oldest first
  std::map<std::string, size_t> per_client;

  void accept(Listener& l);
  template <class Socket>
  void accepted(Listener& l, Socket socket, Peer peer, std::string client);
  // Closes the oldest connection still waiting for a request head (of
  // `client` when given); false if there is none.
  bool evict_one(const std::string* client);
  void forget(ConnectionBase& c);
  void close_all();
  // Stopping, step one: no new connections or requests; idle connections
  // close; `done` is set once the last connection is gone.
  void begin_drain(std::promise<void>* done);
  bool draining = false;
  std::promise<void>* drained = nullptr;
};

class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  virtual ~ConnectionBase() = default;
  virtual void start() = 0;
  virtual void close() = 0;
  // Waiting for (or reading) a request head: idle or slow, and so the one
  // to go when room is needed.
  bool evictable() const { return evictable_; }
  std::string client;
  ConnectionList::iterator self;

 protected:
  bool evictable_ = true;
};

namespace {

template <class T>
struct is_tls : std::false_type {};
template <>
struct is_tls<TlsStream> : std::true_type {};

// The socket under a stream (TLS or not).
template <class Stream>
auto& raw(Stream& s) {
  if constexpr (is_tls<Stream>::value) {
    return s.next_layer();
  } else {
    return s;
  }
}

template <class Stream>
class Connection : public ConnectionBase {
 public:
  Connection(HttpServer::Impl& server, Stream stream, Peer peer)
      : server_(server), stream_(std::move(stream)), timer_(server.io), peer_(std::move(peer)) {}

  void start() override {
    arm(server_.limits.head_timeout);
    if constexpr (is_tls<Stream>::value) {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = me()](const boost::system::error_code& ec) {
                                if (self->closed_) return;
                                if (ec) return self->close();
                                self->read_head();
                              });
    } else {
      read_head();
    }
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    ++timer_gen_;
    timer_.cancel();
    boost::system::error_code ignored;
    raw(stream_).close(ignored);
    server_.forget(*this);
  }

 private:
  std::shared_ptr<Connection> me() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }

  // One deadline at a time; a newer arm() or close() outdates the older one.
  void arm(std::chrono::milliseconds after) {
    const uint64_t gen = ++timer_gen_;
    timer_.expires_after(after);
    timer_.async_wait([self = me(), gen](const boost::system::error_code& ec) {
      if (ec || self->closed_ || gen != self->timer_gen_) return;
      self->timed_out();
    });
  }

  void timed_out() {
    ++server_.stats.timed_out;
    // A client that sent part of a request hears why; an idle one is just closed.
    if (!in_.empty() && (phase_ == Phase::head || phase_ == Phase::body)) {
      fail(408, "the request did not arrive within its deadline");
    } else {
      close();
    }
  }

  void read_more(void (Connection::*then)()) {
    stream_.async_read_some(asio::buffer(chunk_),
                            [self = me(), then](const boost::system::error_code& ec, size_t n) {
                              if (self->closed_) return;
                              if (ec) return self->close();  // peer gone, or reset
                              self->in_.append(self->chunk_.data(), n);
                              ((*self).*then)();
                            });
  }

  void read_head() {
    phase_ = Phase::head;
    http::skip_empty_lines(in_);
    const size_t end = http::head_end(in_, scan_from_);
    if (end == std::string::npos) {
      if (in_.size() > server_.limits.max_head_bytes)
        return fail(431, "the request head is longer than " +
                             std::to_string(server_.limits.max_head_bytes) + " bytes");
      if (http::has_bare_lf(in_)) return fail(400, "lines must end in CRLF");
      scan_from_ = in_.size() > 3 ? in_.size() - 3 : 0;
      return read_more(&Connection::read_head);
    }
    scan_from_ = 0;
    if (end > server_.limits.max_head_bytes)
      return fail(431, "the request head is longer than " +
                           std::to_string(server_.limits.max_head_bytes) + " bytes");
    const std::string head = in_.substr(0, end);
    in_.erase(0, end);
    evictable_ = false;
    ++timer_gen_;  // no deadline while the handler decides
    timer_.cancel();
    ++server_.stats.requests;
    req_ = Request{};
    req_.peer = peer_;
    if (auto refused = http::parse_head(head, server_.limits.max_fields, req_))
      return fail(refused->status, refused->detail);
    if (auto refused = http::framing_of(req_, framing_))
      return fail(refused->status, refused->detail);
    keep_alive_ = http::wants_keep_alive(req_);
    phase_ = Phase::admit;
    asio::post(*server_.workers, [self = me()] {
      size_t max_body = self->server_.limits.max_body;
      std::optional<Response> answer;
      try {
        answer = self->server_.handler->admit(self->req_, max_body);
      } catch (const std::exception& e) {
        answer = error_response(500, "internal error", e.what());
      }
      asio::post(self->server_.io, [self, answer = std::move(answer), max_body]() mutable {
        self->admitted(std::move(answer), max_body);
      });
    });
  }

  bool body_announced() const { return framing_.chunked || framing_.length > 0; }

  void admitted(std::optional<Response> answer, size_t max_body) {
    if (closed_) return;
    if (answer) {
      // The body stays unread: the connection cannot carry another request.
      return respond(std::move(*answer), body_announced());
    }
    max_body_ = max_body;
    if (!framing_.chunked && framing_.length > max_body_)
      return fail(413, "at most " + std::to_string(max_body_) + " bytes of body");
    if (!body_announced()) return handle();
    phase_ = Phase::body;
    arm(server_.limits.body_timeout);
    if (http::expects_continue(req_) && in_.empty()) {
      out_ = "HTTP/1.1 100 Continue\r\n\r\n";
      return asio::async_write(stream_, asio::buffer(out_),
                               [self = me()](const boost::system::error_code& ec, size_t) {
                                 if (self->closed_) return;
                                 if (ec) return self->close();
                                 self->read_body();
                               });
    }
    read_body();
  }

  void read_body() {
    if (framing_.chunked) {
      std::string why;
      switch (decoder_.feed(in_, req_.body, max_body_, why)) {
        case http::ChunkedDecoder::Result::more:
          return read_more(&Connection::read_body);
        case http::ChunkedDecoder::Result::bad:
          return fail(400, "malformed chunked body: " + why);
        case http::ChunkedDecoder::Result::too_large:
          return fail(413, "at most " + std::to_string(max_body_) + " bytes of body");
        case http::ChunkedDecoder::Result::done:
          decoder_ = {};
          return handle();
      }
    }
    const size_t want = static_cast<size_t>(framing_.length) - req_.body.size();
    const size_t take = std::min(want, in_.size());
    req_.body.append(in_, 0, take);
    in_.erase(0, take);
    if (req_.body.size() < framing_.length) return read_more(&Connection::read_body);
    handle();
  }

  void handle() {
    ++timer_gen_;
    timer_.cancel();
    phase_ = Phase::handle;
    asio::post(*server_.workers, [self = me()] {
      Response res;
      try {
        res = self->server_.handler->handle(self->req_);
      } catch (const std::exception& e) {
        res = error_response(500, "internal error", e.what());
      }
      asio::post(self->server_.io,
                 [self, res = std::move(res)]() mutable { self->respond(std::move(res), false); });
    });
  }

  // An error of the request's syntax or framing: answered, then closed,
  // since where the next request would start is unknown.
  void fail(int status, const std::string& detail) {
    if (status == 400 || status == 431 || status == 414 || status == 505 || status == 501)
      ++server_.stats.bad_requests;
    if (req_.version.empty()) req_.version = "HTTP/1.1";
    respond(error_response(status, error_name(status), printable(detail)), true);
  }

  void respond(Response res, bool must_close) {
    if (closed_) return;
    const bool close_after = must_close || res.close || !keep_alive_ || server_.draining;
    phase_ = Phase::write;
    evictable_ = false;
    out_ = http::serialize(res, req_, close_after);
    arm(server_.limits.write_timeout);
    asio::async_write(stream_, asio::buffer(out_),
                      [self = me(), close_after](const boost::system::error_code& ec, size_t) {
                        if (self->closed_) return;
                        if (ec) return self->close();
                        if (close_after) return self->linger();
                        self->next_request();
                      });
  }

  void next_request() {
    if (server_.draining) return close();
    req_ = Request{};
    out_.clear();
    out_.shrink_to_fit();
    framing_ = {};
    evictable_ = true;
    server_.connections.splice(server_.connections.end(), server_.connections, self);
    arm(server_.limits.head_timeout);
    read_head();
  }

  // Closing with unread bytes in the receive queue makes the kernel send a
  // reset, which can destroy the answer before the client reads it: stop
  // sending, then read and drop what the client still sends, briefly.
  void linger() {
    if (server_.draining) return close();
    phase_ = Phase::linger;
    evictable_ = true;
    boost::system::error_code ignored;
    raw(stream_).shutdown(asio::socket_base::shutdown_send, ignored);
    arm(std::chrono::milliseconds(2000));
    drain();
  }

  void drain() {
    raw(stream_).async_read_some(asio::buffer(chunk_),
                                 [self = me()](const boost::system::error_code& ec, size_t n) {
                                   if (self->closed_) return;
                                   self->drained_ += n;
                                   if (ec || self->drained_ > (1u << 20)) return self->close();
                                   self->drain();
                                 });
  }

  enum class Phase { head, admit, body, handle, write, linger };

  HttpServer::Impl& server_;
  Stream stream_;
  asio::steady_timer timer_;
  uint64_t timer_gen_ = 0;
  Peer peer_;
  bool closed_ = false;
  Phase phase_ = Phase::head;
  std::array<char, 16384> chunk_{};
  std::string in_;  // received and not yet consumed
  size_t scan_from_ = 0;
  Request req_;
  http::Framing framing_;
  http::ChunkedDecoder decoder_;
  size_t max_body_ = 0;
  bool keep_alive_ = true;
  std::string out_;
  size_t drained_ = 0;
};

}  // namespace

void HttpServer::Impl::forget(ConnectionBase& c) {
  --stats.open;
  if (auto it = per_client.find(c.client); it != per_client.end() && --it->second == 0)
    per_client.erase(it);
  connections.erase(c.self);  // may drop the last reference: no member of c after this
  if (draining && connections.empty() && drained) {
    drained->set_value();
    drained = nullptr;
  }
}

void HttpServer::Impl::begin_drain(std::promise<void>* done) {
  draining = true;
  drained = done;
  for (auto& l : listeners) {
    boost::system::error_code ignored;
    if (l->tcp_acceptor) l->tcp_acceptor->close(ignored);
    if (l->unix_acceptor) l->unix_acceptor->close(ignored);
    if (l->retry) l->retry->cancel();
  }
  // Requests being handled are answered (then closed); the rest go now.
  std::vector<std::shared_ptr<ConnectionBase>> idle;
  for (auto& c : connections) {
    if (c->evictable()) idle.push_back(c);
  }
  for (auto& c : idle) c->close();
  if (connections.empty() && drained) {
    drained->set_value();
    drained = nullptr;
  }
}

bool HttpServer::Impl::evict_one(const std::string* client) {
  for (auto& c : connections) {
    if (c->evictable() && (!client || c->client == *client)) {
      ++stats.evicted;
      c->close();
      return true;
    }
  }
  return false;
}

template <class Socket>
void HttpServer::Impl::accepted(Listener& l, Socket socket, Peer peer, std::string client) {
  ++stats.accepted;
  // At a cap, the oldest connection still waiting for its head makes room:
  // idle and trickling connections cannot lock out a client that talks.
  const bool room =
      (per_client[client] < limits.max_connections_per_client || evict_one(&client)) &&
      (connections.size() < limits.max_connections || evict_one(nullptr));
  if (!room) {
    ++stats.refused;
    if (per_client[client] == 0) per_client.erase(client);
    return;  // the socket closes as it goes out of scope
  }
  std::shared_ptr<ConnectionBase> c;
  if constexpr (std::is_same_v<Socket, tcp::socket>) {
    if (l.tls) {
      c = std::make_shared<Connection<TlsStream>>(*this, TlsStream(std::move(socket), *l.tls),
                                                  std::move(peer));
    } else {
      c = std::make_shared<Connection<tcp::socket>>(*this, std::move(socket), std::move(peer));
    }
  } else {
    c = std::make_shared<Connection<Socket>>(*this, std::move(socket), std::move(peer));
  }
  c->client = client;
  ++per_client[client];
  ++stats.open;
  connections.push_back(c);
  c->self = std::prev(connections.end());
  c->start();
}

void HttpServer::Impl::accept(Listener& l) {
  auto on_error = [this, &l](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || stopped) return;
    // Out of descriptors: make room and try again shortly, without spinning.
    if (ec == asio::error::no_descriptors) evict_one(nullptr);
    l.retry.emplace(io);
    l.retry->expires_after(std::chrono::milliseconds(20));
    l.retry->async_wait([this, &l](const boost::system::error_code& e) {
      if (!e && !stopped) accept(l);
    });
  };
  if (l.tcp_acceptor) {
    l.tcp_acceptor->async_accept(
        [this, &l, on_error](const boost::system::error_code& ec, tcp::socket socket) {
          if (ec) return on_error(ec);
          Peer peer;
          boost::system::error_code e;
          const auto remote = socket.remote_endpoint(e);
          if (!e) {
            peer.address = remote.address().to_string();
            peer.port = remote.port();
          }
          peer.tls = static_cast<bool>(l.tls);
          std::string client = "ip:" + peer.address;
          accepted(l, std::move(socket), std::move(peer), std::move(client));
          accept(l);
        });
  } else {
    l.unix_acceptor->async_accept(
        [this, &l, on_error](const boost::system::error_code& ec, unix_proto::socket socket) {
          if (ec) return on_error(ec);
          Peer peer;
          peer.address = "local";
          ucred cred{};
          socklen_t len = sizeof cred;
          if (getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            peer.local = true;
            peer.uid = cred.uid;
            peer.gid = cred.gid;
            peer.pid = cred.pid;
          }
          std::string client = "uid:" + std::to_string(peer.uid);
          accepted(l, std::move(socket), std::move(peer), std::move(client));
          accept(l);
        });
  }
}

void HttpServer::Impl::close_all() {
  stopped = true;
  for (auto& l : listeners) {
    boost::system::error_code ignored;
    if (l->tcp_acceptor) l->tcp_acceptor->close(ignored);
    if (l->unix_acceptor) l->unix_acceptor->close(ignored);
    if (l->retry) l->retry->cancel();
  }
  while (!connections.empty()) connections.front()->close();
}

HttpServer::HttpServer(std::shared_ptr<Handler> handler, ServerLimits limits)
    : impl_(std::make_unique<Impl>(std::move(handler), limits)) {}

HttpServer::~HttpServer() {
  stop();
  for (auto& l : impl_->listeners) {
    struct stat st {};
    // Our socket file, not one a later server put there.
    if (!l->unix_path.empty() && stat(l->unix_path.c_str(), &st) == 0 && st.st_ino == l->unix_inode)
      unlink(l->unix_path.c_str());
  }
}

uint16_t HttpServer::listen_tcp(const ListenAddress& at, const std::optional<TlsSettings>& tls) {
  auto l = std::make_unique<Impl::Listener>();
  try {
    if (tls) {
      l->tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
      l->tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                          asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
      SSL_CTX* ctx = l->tls->native_handle();
      SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
      // TLS 1.2: forward-secret AEAD suites only (TLS 1.3's are all such).
      SSL_CTX_set_cipher_list(ctx,
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
      SSL_CTX_set_options(
          ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
      l->tls->use_certificate_chain_file(tls->cert_file);
      l->tls->use_private_key_file(tls->key_file, asio::ssl::context::pem);
    }
    tcp::resolver resolver(impl_->io);
    const auto endpoints =
        resolver.resolve(at.host, std::to_string(at.port), tcp::resolver::numeric_service);
    const tcp::endpoint ep = *endpoints.begin();
    l->tcp_acceptor.emplace(impl_->io);
    l->tcp_acceptor->open(ep.protocol());
    // SO_REUSEADDR only (rebinding past TIME_WAIT); never SO_REUSEPORT.
    l->tcp_acceptor->set_option(asio::socket_base::reuse_address(true));
    l->tcp_acceptor->bind(ep);
    l->tcp_acceptor->listen(asio::socket_base::max_listen_connections);
  } catch (const boost::system::system_error& e) {
    throw sdk::Error(RAMPART_ERR_INTERNAL, "cannot listen on " + at.text() + ": " + e.what());
  }
  const uint16_t port = l->tcp_acceptor->local_endpoint().port();
  impl_->listeners.push_back(std::move(l));
  return port;
}

void HttpServer::listen_unix(const std::string& path, mode_t mode) {
  auto fail = [&](const std::string& why) {
    throw sdk::Error(RAMPART_ERR_INTERNAL, "cannot listen on " + path + ": " + why);
  };
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto dir = fs::path(path).parent_path();
  if (!dir.empty() && !fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) fail("cannot create " + dir.string() + ": " + ec.message());
    chmod(dir.c_str(), 0755);
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) fail("it exists and is not a socket");
    // A socket file someone still answers on belongs to a live server.
    unix_proto::socket probe(impl_->io);
    boost::system::error_code e;
    probe.connect(unix_proto::endpoint(path), e);
    if (!e) fail("another server is listening there");
    unlink(path.c_str());
  }
  auto l = std::make_unique<Impl::Listener>();
  try {
    l->unix_acceptor.emplace(impl_->io);
    l->unix_acceptor->open();
    l->unix_acceptor->bind(unix_proto::endpoint(path));
    // rampartd runs with umask 077, so the socket is never wider than 0700
    // between bind and this chmod.
    if (chmod(path.c_str(), mode) != 0) fail(std::string("chmod: ") + std::strerror(errno));
    l->unix_acceptor->listen(asio::socket_base::max_listen_connections);
  } catch (const boost::system::system_error& e) {
    fail(e.what());
  }
  if (stat(path.c_str(), &st) == 0) l->unix_inode = st.st_ino;
  l->unix_path = path;
  impl_->listeners.push_back(std::move(l));
}

void HttpServer::start() {
  std::lock_guard lock(impl_->stop_mu);
  if (impl_->started || impl_->stopped) return;
  impl_->started = true;
  impl_->workers.emplace(impl_->limits.threads);
  impl_->work.emplace(impl_->io.get_executor());
  for (auto& l : impl_->listeners) impl_->accept(*l);
  impl_->io_thread = std::thread([this] { impl_->io.run(); });
}

void HttpServer::stop() {
  std::lock_guard lock(impl_->stop_mu);
  if (impl_->stopped) return;
  if (!impl_->started) {
    impl_->close_all();
    impl_->stopped = true;
    return;
  }
  // Requests already being handled get their answers (a reload that stops
  // this very frontend answers the request that asked for it first), for
  // at most a grace period; then everything closes.
  std::promise<void> drained;
  auto done = drained.get_future();
  asio::post(impl_->io, [this, &drained] { impl_->begin_drain(&drained); });
  done.wait_for(std::chrono::seconds(3));
  std::promise<void> closed;
  asio::post(impl_->io, [this, &closed] {
    impl_->drained = nullptr;
    impl_->close_all();
    closed.set_value();
  });
  closed.get_future().wait();
  impl_->work.reset();
  impl_->io.stop();
  impl_->io_thread.join();
  // Handlers still running finish; what they post back to the stopped
  // loop never runs.
  impl_->workers->join();
  impl_->stopped = true;
}

const ServerStats& HttpServer::stats() const { return impl_->stats; }

}  // namespace rampart::frontend

// SPDX-License-Identifier: Apache-2.0
// The HTTP frontends' server (plugins/frontends/common) against hostile
// clients, with raw sockets: message framing (RFC 9112: no request is ever
// parsed out of another's body), the head parser's strictness, slow and
// idle clients (deadlines, connection caps with eviction), TLS versions and
// ciphers, and the Unix socket's peer credentials.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fuzz_inputs.hpp"
#include "http_check.hpp"
#include "http_message.hpp"
#include "http_server.hpp"
#include "raw_http.hpp"
#include "sender_harness.hpp"
#include "temp_dir.hpp"

namespace {

namespace fe = rampart::frontend;
using namespace std::chrono_literals;
using rampart::test::RawConn;

// Answers "<method> <path> <body bytes>", records what reached handle().
class Recorder : public fe::Handler {
 public:
  std::optional<fe::Response> admit(const fe::Request& r, size_t& max_body) override {
    ++admitted;
    if (r.path == "/refuse") return fe::error_response(401, "unauthorized", "no key");
    if (r.path == "/small") max_body = 8;
    return std::nullopt;
  }
  fe::Response handle(fe::Request& r) override {
    {
      std::lock_guard lock(mu);
      handled.push_back(r.method + " " + r.path);
      last_peer = r.peer;
    }
    fe::Response res;
    res.content_type = "text/plain";
    res.body = r.method + " " + r.path + " " + std::to_string(r.body.size());
    if (r.path == "/status/401") res.status = 401;
    if (r.path == "/status/204") res.status = 204;
    if (r.path == "/echo") res.body = r.body;
    return res;
  }
  std::vector<std::string> seen() {
    std::lock_guard lock(mu);
    return handled;
  }
  std::atomic<int> admitted{0};
  std::mutex mu;
  std::vector<std::string> handled;
  fe::Peer last_peer;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void start(fe::ServerLimits limits = {}) {
    server_ = std::make_unique<fe::HttpServer>(recorder_, limits);
    port_ = server_->listen_tcp({"127.0.0.1", 0});
    server_->start();
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  RawConn conn() {
    auto c = RawConn::tcp(port_);
    EXPECT_TRUE(c.ok());
    return c;
  }
  bool hidden_ran() {
    for (const auto& s : recorder_->seen()) {
      if (s.find("/hidden") != std::string::npos) return true;
    }
    return false;
  }

  std::shared_ptr<Recorder> recorder_ = std::make_shared<Recorder>();
  std::unique_ptr<fe::HttpServer> server_;
  uint16_t port_ = 0;
};

const std::string kHidden = "DELETE /hidden HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";

std::string with_body(const std::string& method, const std::string& path, const std::string& body,
                      const std::string& extra = "") {
  return method + " " + path + " HTTP/1.1\r\nHost: x\r\n" + extra +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// ---- Request smuggling: a body is always consumed as framed ------------

TEST_F(HttpServerTest, ABodyOfAGetOrDeleteIsReadAsBodyNeverAsARequest) {
  start();
  for (const std::string method : {"GET", "DELETE", "HEAD"}) {
    auto c = conn();
    ASSERT_TRUE(
        c.send(with_body(method, "/healthz", kHidden) + "GET /after HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto first = c.read_response(std::chrono::seconds(10), method == "HEAD");
    ASSERT_TRUE(first) << method;
    EXPECT_EQ(first->status, 200);
    if (method != "HEAD") {
      EXPECT_EQ(first->body, method + " /healthz " + std::to_string(kHidden.size()));
    }
    // The connection carries on with the request after the body.
    auto second = c.read_response();
    ASSERT_TRUE(second) << method;
    EXPECT_EQ(second->body, "GET /after 0");
  }
  EXPECT_FALSE(hidden_ran());
}

TEST_F(HttpServerTest, AnAnswerBeforeTheBodyClosesTheConnection) {
  start();
  {
    // Refused at admit (as an unauthenticated request is): the announced
    // body is never read, so the connection cannot go on.
    auto c = conn();
    ASSERT_TRUE(c.send(with_body("POST", "/refuse", kHidden)));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->reason, "Unauthorized");
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(c.closed_within(5s));
  }
  {
    // Too large for the route (413): same.
    auto c = conn();
    ASSERT_TRUE(c.send(with_body("POST", "/small", kHidden)));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_NE(r->body.find("\"error\":\"body too large\""), std::string::npos) << r->body;
    EXPECT_TRUE(c.closed_within(5s));
  }
  EXPECT_FALSE(hidden_ran());
}

TEST_F(HttpServerTest, ContentLengthWithTransferEncodingIsRefusedAndClosed) {
  start();
  auto c = conn();
  const std::string chunked = "5\r\nhello\r\n0\r\n\r\n";
  ASSERT_TRUE(
      c.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(chunked.size()) +
             "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + kHidden));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("ambiguous"), std::string::npos) << r->body;
  EXPECT_TRUE(c.closed_within(5s));
  EXPECT_TRUE(recorder_->seen().empty());
}

TEST_F(HttpServerTest, TransferCodingsOtherThanChunkedAreRefused) {
  start();
  struct Case {
    std::string te;
    int status;
  };
  for (const auto& [te, status] :
       {Case{"gzip, chunked", 501}, Case{"chunked, gzip", 400}, Case{"identity", 400},
        Case{"chunked, chunked", 400}, Case{"x-custom,chunked", 501}}) {
    auto c = conn();
    ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
                       "\r\n\r\n0\r\n\r\n" + kHidden));
    auto r = c.read_response();
    ASSERT_TRUE(r) << te;
    EXPECT_EQ(r->status, status) << te;
    EXPECT_TRUE(c.closed_within(5s)) << te;
  }
  {
    auto c = conn();
    ASSERT_TRUE(c.send("POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << "Transfer-Encoding in HTTP/1.0";
  }
  EXPECT_TRUE(recorder_->seen().empty());
}

TEST_F(HttpServerTest, ChunkedBodiesAreDecodedAndWhatFollowsIsTheNextRequest) {
  start();
  auto c = conn();
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
             "GET /after HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello world");
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "GET /after 0");
  // A chunk longer than its size line said is a framing error.
  auto bad = conn();
  ASSERT_TRUE(
      bad.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "3\r\nhello\r\n0\r\n\r\n"));
  r = bad.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(bad.closed_within(5s));
  // A chunked body past the route's limit: 413, closed.
  auto big = conn();
  ASSERT_TRUE(
      big.send("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "ff\r\n"));
  r = big.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(big.closed_within(5s));
}

TEST_F(HttpServerTest, AWriteWithoutLengthOrChunkedHasAnEmptyBodyAndDoesNotHang) {
  start();
  auto c = conn();
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send("POST /config/reload HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.read_response(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "POST /config/reload 0");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_F(HttpServerTest, MalformedHeadsAreRefusedAndClosed) {
  start();
  const std::vector<std::pair<std::string, int>> cases = {
      {"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello", 400},  // space before ':'
      {"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n 5\r\n\r\nhello", 400},  // obs-fold
      {"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
      {"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", 400},
      {"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5 5\r\n\r\nhello", 400},
      {"GET /x HTTP/1.1\r\n\r\n", 400},                        // no Host
      {"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},  // two
      {"GET /x HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"GET /x HTTP/1.1x\r\nHost: x\r\n\r\n", 400},
      {"GET  /x HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"GET x HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"G(T /x HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"GET /x HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400},  // bare CR
      {"GET /x HTTP/1.1\nHost: x\n\n", 400},                   // bare LF
      {std::string("GET /x HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 37), 400},
      {"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
  };
  for (const auto& [request, status] : cases) {
    auto c = conn();
    ASSERT_TRUE(c.send(request + kHidden));
    auto r = c.read_response();
    ASSERT_TRUE(r) << request.substr(0, 60);
    EXPECT_EQ(r->status, status) << request.substr(0, 60);
    EXPECT_EQ(r->header("Content-Type"), "application/json");
    EXPECT_TRUE(c.closed_within(5s)) << request.substr(0, 60);
  }
  EXPECT_TRUE(recorder_->seen().empty());
  // Equal lengths given twice are one length.
  auto c = conn();
  ASSERT_TRUE(
      c.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5, "
             "5\r\n\r\nhello"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "POST /x 5");
}

TEST_F(HttpServerTest, HeadsPastTheLimitsAreRefused) {
  fe::ServerLimits l;
  l.max_head_bytes = 4096;
  l.max_fields = 10;
  start(l);
  auto c = conn();
  std::string many = "GET /x HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 11; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  ASSERT_TRUE(c.send(many + "\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->reason, "Request Header Fields Too Large");
  auto big = conn();
  ASSERT_TRUE(big.send("GET /x HTTP/1.1\r\nHost: x\r\nX: " + std::string(5000, 'v')));
  r = big.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(big.closed_within(5s));
}

TEST_F(HttpServerTest, ExpectContinueGetsAnInterimAnswerBeforeTheBody) {
  start();
  auto c = conn();
  ASSERT_TRUE(
      c.send("PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: "
             "4\r\n\r\n"));
  auto interim = c.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("data"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "data");
}

TEST_F(HttpServerTest, StatusLinesCarryTheirReasonAndKeepAliveFollowsTheClient) {
  start();
  auto c = conn();
  ASSERT_TRUE(
      c.send("GET /status/401 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/204 HTTP/1.1\r\nHost: "
             "x\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->reason, "Unauthorized");
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->reason, "No Content");
  EXPECT_EQ(r->header("Content-Length"), "");
  // HTTP/1.0 closes unless asked to keep alive; "Connection: close" closes.
  auto old = conn();
  ASSERT_TRUE(old.send("GET /a HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(old.read_response());
  EXPECT_TRUE(old.closed_within(5s));
  auto bye = conn();
  ASSERT_TRUE(bye.send("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(bye.read_response());
  EXPECT_TRUE(bye.closed_within(5s));
  EXPECT_EQ(fe::reason_phrase(414), "URI Too Long");
  EXPECT_EQ(fe::reason_phrase(429), "Too Many Requests");
}

// ---- Slow and idle clients ----------------------------------------------

TEST_F(HttpServerTest, IdleAndTricklingClientsAreCutAtTheHeadDeadline) {
  fe::ServerLimits l;
  l.head_timeout = 400ms;
  start(l);
  auto idle = conn();
  auto trickle = conn();
  ASSERT_TRUE(trickle.send("GET /x HTTP/1.1\r\n"));
  // A header line every 100 ms never completes the head: the deadline is
  // for the whole head, not between lines.
  std::atomic<bool> stop{false};
  std::thread drip([&] {
    for (int i = 0; i < 40 && !stop; ++i) {
      if (!trickle.send("X-" + std::to_string(i) + ": v\r\n")) break;
      std::this_thread::sleep_for(100ms);  // the attack's pace, not synchronisation
    }
  });
  EXPECT_TRUE(idle.closed_within(3s));
  auto answer = trickle.read_response(3s);
  stop = true;
  drip.join();
  ASSERT_TRUE(answer) << "a client that sent part of a head hears why";
  EXPECT_EQ(answer->status, 408);
  EXPECT_GE(server_->stats().timed_out.load(), 2u);
}

TEST_F(HttpServerTest, AtTheConnectionCapIdleConnectionsMakeRoomForAClientThatTalks) {
  fe::ServerLimits l;
  l.max_connections = 1000;
  l.max_connections_per_client = 50;
  l.head_timeout = 60s;  // eviction, not deadlines, must make the room here
  start(l);
  std::vector<RawConn> idle;
  for (int i = 0; i < 300; ++i) idle.push_back(conn());
  // Half trickle a partial head.
  for (size_t i = 0; i < idle.size(); i += 2) ASSERT_TRUE(idle[i].send("GET /x HTTP/1.1\r\n"));
  // Every request of a client from the same address is still answered.
  for (int i = 0; i < 20; ++i) {
    auto c = conn();
    ASSERT_TRUE(c.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = c.read_response(5s);
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->body, "GET /ok 0");
  }
  EXPECT_LE(server_->stats().open.load(), 50u) << "the per-client cap holds";
  EXPECT_GE(server_->stats().evicted.load(), 250u);
}

TEST_F(HttpServerTest, AConnectionWithARequestInFlightIsNeverEvicted) {
  fe::ServerLimits l;
  l.max_connections = 4;
  l.max_connections_per_client = 4;
  start(l);
  auto busy = conn();
  // Expect: 100-continue parks the request between its head and body.
  ASSERT_TRUE(
      busy.send("PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: "
                "2\r\n\r\n"));
  ASSERT_TRUE(busy.read_response());
  std::vector<RawConn> more;
  for (int i = 0; i < 10; ++i) more.push_back(conn());
  ASSERT_TRUE(busy.send("ok"));
  auto r = busy.read_response(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "ok");
}

// A request being handled when the server stops still gets its answer
// (a reload that stops a frontend answers the request that asked for it).
TEST(HttpServerStop, ARequestInFlightIsAnsweredBeforeTheServerCloses) {
  struct Parked : fe::Handler {
    std::promise<void> entered, release;
    std::shared_future<void> go = release.get_future().share();
    std::optional<fe::Response> admit(const fe::Request&, size_t&) override { return std::nullopt; }
    fe::Response handle(fe::Request&) override {
      entered.set_value();
      go.wait();
      fe::Response r;
      r.body = "answered";
      return r;
    }
  };
  auto parked = std::make_shared<Parked>();
  fe::HttpServer server(parked, {});
  const uint16_t port = server.listen_tcp({"127.0.0.1", 0});
  server.start();
  auto c = RawConn::tcp(port);
  auto idle = RawConn::tcp(port);
  ASSERT_TRUE(c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  parked->entered.get_future().wait();
  std::thread stopper([&] { server.stop(); });
  EXPECT_TRUE(idle.closed_within(5s)) << "idle connections go at once";
  parked->release.set_value();
  const auto r = c.read_response(5s);
  stopper.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "answered");
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_FALSE(RawConn::tcp(port).ok()) << "no longer listening";
}

// ---- TLS --------------------------------------------------------------------

TEST(HttpServerTls, OnlyTls12OrNewerWithForwardSecretAeadSuites) {
  rampart::test::TempDir dir;
  const auto cert = rampart::test::make_certificate(dir);
  ASSERT_TRUE(cert.error.empty()) << cert.error;
  auto recorder = std::make_shared<Recorder>();
  fe::HttpServer server(recorder, {});
  const uint16_t port = server.listen_tcp({"127.0.0.1", 0}, fe::TlsSettings{cert.cert, cert.key});
  server.start();
  // An idle TCP connection that never says hello holds nothing up.
  auto idle = RawConn::tcp(port);
  ASSERT_TRUE(idle.ok());
  auto client = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"/usr/bin/openssl", "s_client", "-connect",
                                     "127.0.0.1:" + std::to_string(port), "-quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string cmd;
    for (const auto& a : args) cmd += "'" + a + "' ";
    cmd =
        "printf 'GET /tls HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | timeout 10 " +
        cmd + " 2>&1";
    return rampart::test::run_command({"/bin/sh", "-c", cmd}).output;
  };
  EXPECT_NE(client({"-tls1_3"}).find("GET /tls 0"), std::string::npos);
  EXPECT_NE(client({"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"}).find("GET /tls 0"),
            std::string::npos);
  for (const std::string cipher : {"AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA", "AES256-SHA256"}) {
    EXPECT_EQ(client({"-tls1_2", "-cipher", cipher}).find("GET /tls 0"), std::string::npos)
        << cipher << " must be refused";
  }
  EXPECT_EQ(client({"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}).find("GET /tls 0"),
            std::string::npos);
  server.stop();
}

// ---- Unix socket ---------------------------------------------------------------

TEST(HttpServerUnix, PeersCarryTheKernelsCredentialsAndTheSocketIsOwnerOnly) {
  rampart::test::TempDir dir;
  const std::string path = dir / "sub/api.sock";
  auto recorder = std::make_shared<Recorder>();
  {
    fe::HttpServer server(recorder, {});
    server.listen_unix(path, 0600);
    server.start();
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto c = RawConn::unix_socket(path);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send("GET /who HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    ASSERT_TRUE(c.read_response());
    EXPECT_TRUE(recorder->last_peer.local);
    EXPECT_EQ(recorder->last_peer.uid, getuid());
    EXPECT_EQ(recorder->last_peer.pid, getpid());
    EXPECT_EQ(recorder->last_peer.text(),
              "local:uid=" + std::to_string(getuid()) + ",pid=" + std::to_string(getpid()));
    // A second server on a socket someone answers on is refused.
    fe::HttpServer second(recorder, {});
    EXPECT_THROW(second.listen_unix(path, 0600), rampart::sdk::Error);
    server.stop();
  }
  // Gone with its server; a stale socket file would be replaced.
  struct stat st {};
  EXPECT_NE(stat(path.c_str(), &st), 0);
}

TEST(HttpServerTcp, ASecondServerCannotShareAPort) {
  auto recorder = std::make_shared<Recorder>();
  fe::HttpServer first(recorder, {});
  const uint16_t port = first.listen_tcp({"127.0.0.1", 0});
  first.start();
  fe::HttpServer second(recorder, {});
  EXPECT_THROW(second.listen_tcp({"127.0.0.1", port}), rampart::sdk::Error)
      << "no SO_REUSEPORT: two agents never split one port's requests";
}

// ---- The parser alone ------------------------------------------------------------

TEST(HttpMessage, ChunkedDecoderTakesBytesAsTheyCome) {
  const std::string body = "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
  fe::http::ChunkedDecoder d;
  std::string in, out, why;
  auto result = fe::http::ChunkedDecoder::Result::more;
  for (char c : body) {
    in += c;
    result = d.feed(in, out, 1 << 20, why);
    if (result != fe::http::ChunkedDecoder::Result::more) break;
  }
  EXPECT_EQ(result, fe::http::ChunkedDecoder::Result::done) << why;
  EXPECT_EQ(out, "Wikipedia in\r\n\r\nchunks.");
  EXPECT_TRUE(in.empty());
  fe::http::ChunkedDecoder overflow;
  in = "ffffffffffffffffff\r\n";
  out.clear();
  EXPECT_EQ(overflow.feed(in, out, 1 << 20, why), fe::http::ChunkedDecoder::Result::bad);
}

TEST(HttpMessage, AbsoluteFormTargetsServeTheirPath) {
  fe::Request req;
  ASSERT_FALSE(fe::http::parse_head(
      "GET http://127.0.0.1:8080/api/v1/x?a=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 100, req));
  EXPECT_EQ(req.path, "/api/v1/x");
  EXPECT_EQ(req.query, "a=1");
}

TEST(HttpMessage, ResponseHeadersCannotBeSplit) {
  fe::Response res;
  res.headers.emplace_back("X-Ok", "fine");
  res.headers.emplace_back("X-Bad", "a\r\nSet-Cookie: stolen=1");
  res.headers.emplace_back("Bad Name", "v");
  fe::Request req;
  req.method = "GET";
  req.version = "HTTP/1.1";
  const auto text = fe::http::serialize(res, req, false);
  EXPECT_NE(text.find("X-Ok: fine\r\n"), std::string::npos);
  EXPECT_EQ(text.find("stolen"), std::string::npos);
  EXPECT_EQ(text.find("Bad Name"), std::string::npos);
}

// The fuzz corpus and every input fuzz_http ever crashed on, replayed
// through the fuzzer's own checks.
TEST(HttpMessage, FuzzInputsHoldTheParsersInvariants) {
  const size_t replayed =
      rampart::test::for_each_fuzz_input("http", [](const auto& path, const std::string& bytes) {
        EXPECT_TRUE(rampart::fuzz::check_http_input(bytes)) << path;
      });
  EXPECT_GE(replayed, 8u);
}

}  // namespace

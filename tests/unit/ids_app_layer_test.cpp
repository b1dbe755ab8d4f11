// SPDX-License-Identifier: Apache-2.0
// The IDS application layer alone: bytes in, inspections (buffers) out.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "app_layer.hpp"
#include "tls_records.hpp"

namespace rampart::ids {
namespace {

// An inspection copied out of the callback (its views die with it).
struct Seen {
  std::map<Buffer, std::string> buf;
  std::vector<std::string> headers;
  bool to_server = false;
  AppProto app = AppProto::unknown;
  bool has(Buffer b) const { return buf.count(b) != 0; }
  bool operator==(const Seen& o) const {
    return buf == o.buf && headers == o.headers && to_server == o.to_server && app == o.app;
  }
  std::string operator[](Buffer b) const {
    auto it = buf.find(b);
    return it == buf.end() ? std::string("<absent>") : it->second;
  }
};

struct Harness {
  AppLimits limits;
  AppStats stats;
  std::unique_ptr<AppLayer> app;
  std::vector<Seen> seen;
  explicit Harness(AppProto hint = AppProto::http, AppLimits l = {}, HttpPool* pool = nullptr)
      : limits(l) {
    app = std::make_unique<AppLayer>(limits, hint, pool);
  }
  Packet pkt(bool to_server, uint16_t dport = 80) const {
    Packet p;
    p.ip_proto = 6;
    p.sport = to_server ? 40000 : dport;
    p.dport = to_server ? dport : 40000;
    p.to_server = to_server;
    return p;
  }
  void collect(const Inspection& in) {
    Seen s;
    for (size_t i = 0; i < kBufferCount; ++i)
      if (in.present.test(i)) s.buf[static_cast<Buffer>(i)] = std::string(in.buffer[i]);
    for (size_t i = 0; i < in.request_header_count; ++i)
      s.headers.emplace_back(in.request_headers[i]);
    s.to_server = in.pkt.to_server;
    s.app = in.pkt.app;
    seen.push_back(std::move(s));
  }
  void send(bool to_server, std::string_view bytes, uint16_t dport = 80) {
    app->stream(pkt(to_server, dport), bytes, stats, [&](const Inspection& in) { collect(in); });
  }
  void lose(bool to_server, uint64_t len) {
    app->gap(pkt(to_server), len, stats, [&](const Inspection& in) { collect(in); });
  }
  void close(bool to_server) {
    app->end(pkt(to_server), to_server, stats, [&](const Inspection& in) { collect(in); });
  }
  void datagram(std::string_view bytes, uint32_t len, uint16_t dport = 53) {
    Packet p = pkt(true, dport);
    p.ip_proto = 17;
    app->datagram(p, bytes, len, stats, [&](const Inspection& in) { collect(in); });
  }
};

const std::string kGet =
    "GET /a/./b//c/../d%2Ehtml?q=%41b HTTP/1.1\r\n"
    "Host: WWW.Example.COM:8080\r\n"
    "User-Agent: curl/8.0\r\n"
    "Cookie: sid=42\r\n"
    "Accept: */*\r\n"
    "\r\n";

TEST(IdsHttp, AGetSplitInThreeIsOneRequestWithEveryBuffer) {
  Harness h;
  h.send(true, kGet.substr(0, 10));
  h.send(true, kGet.substr(10, 50));
  EXPECT_TRUE(h.seen.empty());
  h.send(true, kGet.substr(60));
  ASSERT_EQ(h.seen.size(), 1u);
  const Seen& s = h.seen[0];
  EXPECT_TRUE(s.to_server);
  EXPECT_EQ(s.app, AppProto::http);
  EXPECT_EQ(s[Buffer::http_method], "GET");
  EXPECT_EQ(s[Buffer::http_uri_raw], "/a/./b//c/../d%2Ehtml?q=%41b");
  EXPECT_EQ(s[Buffer::http_uri], "/a/b/d.html?q=Ab");
  EXPECT_EQ(s[Buffer::http_protocol], "HTTP/1.1");
  EXPECT_EQ(s[Buffer::http_request_line], "GET /a/./b//c/../d%2Ehtml?q=%41b HTTP/1.1");
  EXPECT_EQ(s[Buffer::http_start], kGet);
  EXPECT_EQ(s[Buffer::http_host], "www.example.com");
  EXPECT_EQ(s[Buffer::http_host_raw], "WWW.Example.COM:8080");
  EXPECT_EQ(s[Buffer::http_user_agent], "curl/8.0");
  EXPECT_EQ(s[Buffer::http_cookie], "sid=42");
  EXPECT_EQ(s[Buffer::http_accept], "*/*");
  EXPECT_FALSE(s.has(Buffer::http_referer));
  EXPECT_FALSE(s.has(Buffer::http_request_body));
  EXPECT_FALSE(s.has(Buffer::payload));
  EXPECT_EQ(s[Buffer::http_header_names], "\r\nHost\r\nUser-Agent\r\nCookie\r\nAccept\r\n\r\n");
  EXPECT_EQ(s[Buffer::http_header],
            "Host: WWW.Example.COM:8080\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n");
  EXPECT_EQ(s[Buffer::http_header_raw],
            "Host: WWW.Example.COM:8080\r\nUser-Agent: curl/8.0\r\nCookie: sid=42\r\n"
            "Accept: */*\r\n");
  ASSERT_TRUE(s.has(Buffer::http_request_header));
  EXPECT_EQ(s.headers,
            (std::vector<std::string>{"Host: WWW.Example.COM:8080", "User-Agent: curl/8.0",
                                      "Cookie: sid=42", "Accept: */*"}));
  EXPECT_EQ(h.stats.total(), 0u);
}

TEST(IdsHttp, PipelinedRequestsPairWithTheirResponses) {
  Harness h;
  h.send(true,
         "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
         "HEAD /two HTTP/1.1\r\nHost: a\r\n\r\n"
         "POST /three HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_EQ(h.seen.size(), 4u);  // three heads, one body
  EXPECT_EQ(h.seen[0][Buffer::http_uri], "/one");
  EXPECT_EQ(h.seen[1][Buffer::http_method], "HEAD");
  EXPECT_EQ(h.seen[2][Buffer::http_uri], "/three");
  EXPECT_FALSE(h.seen[2].has(Buffer::http_request_body));
  EXPECT_EQ(h.seen[3][Buffer::http_request_body], "hello");
  EXPECT_EQ(h.seen[3][Buffer::http_uri], "/three");
  h.seen.clear();
  // The HEAD response says Content-Length but has no body: the third
  // response must still be read as one.
  h.send(false,
         "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nServer: x\r\n\r\nabc"
         "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n"
         "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nLocation: /three/1\r\n\r\nok");
  ASSERT_EQ(h.seen.size(), 5u);
  EXPECT_EQ(h.seen[0][Buffer::http_uri], "/one");
  EXPECT_EQ(h.seen[0][Buffer::http_server], "x");
  EXPECT_FALSE(h.seen[0].to_server);
  EXPECT_EQ(h.seen[1][Buffer::http_response_body], "abc");
  EXPECT_EQ(h.seen[2][Buffer::http_method], "HEAD");
  EXPECT_FALSE(h.seen[2].has(Buffer::http_response_body));
  EXPECT_EQ(h.seen[3][Buffer::http_uri], "/three");
  EXPECT_EQ(h.seen[3][Buffer::http_stat_code], "201");
  EXPECT_EQ(h.seen[3][Buffer::http_stat_msg], "Created");
  EXPECT_EQ(h.seen[3][Buffer::http_location], "/three/1");
  EXPECT_EQ(h.seen[4][Buffer::http_response_body], "ok");
  EXPECT_EQ(h.stats.total(), 0u);
}

// A connection's bytes, sent both ways in turns.
void converse(Harness& h) {
  h.send(true, "GET /first HTTP/1.1\r\nHost: b.example\r\nUser-Agent: ua-two\r\n\r\n");
  h.send(true, "POST /up HTTP/1.1\r\nHost: b.example\r\nContent-Length: 3\r\n\r\nabc");
  h.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
  h.send(false, "HTTP/1.1 204 No Content\r\nServer: s2\r\n\r\n");
}

TEST(IdsHttp, AParserFromThePoolStartsEachConnectionAfresh) {
  HttpPool pool;
  {
    // A connection left in the middle of everything: two requests
    // pending, a request body and a response body half sent, a chunk
    // size line half read.
    Harness a(AppProto::http, {}, &pool);
    a.send(true,
           "GET /old HTTP/1.1\r\nHost: a.example\r\nCookie: secret=1\r\nX-Old: 1\r\n\r\n"
           "PUT /old2 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 100\r\n\r\nleft-");
    a.send(false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: s=9\r\n\r\n1");
    ASSERT_GE(a.seen.size(), 3u);
  }
  // The first connection's parser and its requests went back to the pool.
  EXPECT_EQ(pool.parsers_kept(), 1u);
  EXPECT_EQ(pool.requests_kept(), 2u);

  Harness pooled(AppProto::http, {}, &pool), fresh(AppProto::http);
  converse(pooled);
  converse(fresh);
  EXPECT_EQ(pool.parsers_kept(), 0u);  // taken by `pooled`
  ASSERT_EQ(pooled.seen.size(), fresh.seen.size());
  for (size_t i = 0; i < fresh.seen.size(); ++i) EXPECT_TRUE(pooled.seen[i] == fresh.seen[i]) << i;
  EXPECT_EQ(pooled.seen[0][Buffer::http_header_names], "\r\nHost\r\nUser-Agent\r\n\r\n");
  EXPECT_FALSE(pooled.seen[0].has(Buffer::http_cookie));
  EXPECT_EQ(pooled.seen.back()[Buffer::http_server], "s2");
  EXPECT_EQ(pooled.stats.total(), 0u);
}

TEST(IdsHttp, ThePoolIsBoundedAndFreesWhatGrewLarge) {
  HttpPool pool;
  AppLimits limits;
  for (size_t i = 0; i < HttpPool::kParsers + 5; ++i)
    pool.put(std::make_unique<HttpParser>(limits, &pool));
  EXPECT_EQ(pool.parsers_kept(), HttpPool::kParsers);
  for (size_t i = 0; i < HttpPool::kRequests + 5; ++i) pool.put(std::make_unique<HttpRequest>());
  EXPECT_EQ(pool.requests_kept(), HttpPool::kRequests);

  // A request comes back as new: small strings keep their capacity, one
  // grown past kKeepCapacity is freed.
  HttpPool one;
  auto r = std::make_unique<HttpRequest>();
  r->id = 9;
  r->uri.assign(200, 'u');
  r->body.assign(HttpPool::kKeepCapacity + 1, 'b');
  r->head.raw.assign(300, 'r');
  r->head.named[HttpHead::host].own = "h.example.with.a.long.name";
  r->head.named[HttpHead::host].owned = true;
  r->head.has = 1u << HttpHead::host;
  r->head.each.push_back(Span{0, 3});
  r->had_body = r->has_host = true;
  HttpRequest* raw = r.get();
  one.put(std::move(r));
  auto back = one.request();
  ASSERT_EQ(back.get(), raw);
  EXPECT_EQ(back->id, 0u);
  EXPECT_TRUE(back->uri.empty());
  EXPECT_GE(back->uri.capacity(), 200u);
  EXPECT_TRUE(back->body.empty());
  EXPECT_LT(back->body.capacity(), 100u);
  EXPECT_TRUE(back->head.raw.empty());
  EXPECT_TRUE(back->head.value(HttpHead::host).empty());
  EXPECT_FALSE(back->head.present(HttpHead::host));
  EXPECT_TRUE(back->head.each.empty());
  EXPECT_FALSE(back->had_body || back->has_host);
  EXPECT_EQ(one.requests_kept(), 0u);
}

TEST(IdsHttp, ChunkedBodiesAreDechunkedAcrossAnySplit) {
  Harness h;
  std::string req =
      "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n"
      "GET /next HTTP/1.1\r\n\r\n";
  for (char c : req) h.send(true, std::string_view(&c, 1));
  ASSERT_EQ(h.seen.size(), 3u);
  EXPECT_EQ(h.seen[1][Buffer::http_request_body], "hello, world");
  EXPECT_EQ(h.seen[2][Buffer::http_uri], "/next");
  h.seen.clear();
  h.send(false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  ASSERT_EQ(h.seen.size(), 2u);
  EXPECT_EQ(h.seen[1][Buffer::http_response_body], "abc");
  EXPECT_EQ(h.seen[1][Buffer::http_uri], "/up");
  EXPECT_EQ(h.stats.total(), 0u);
}

TEST(IdsHttp, AResponseWithoutLengthEndsWithTheConnection) {
  Harness h;
  h.send(true, "GET / HTTP/1.0\r\n\r\n");
  h.send(false, "HTTP/1.0 404 Not Found\r\nContent-Type: text/html\r\nSet-Cookie: a=b\r\n\r\n<ht");
  h.send(false, "ml>");
  ASSERT_EQ(h.seen.size(), 2u);
  EXPECT_EQ(h.seen[1][Buffer::http_stat_code], "404");
  EXPECT_EQ(h.seen[1][Buffer::http_stat_msg], "Not Found");
  EXPECT_EQ(h.seen[1][Buffer::http_response_line], "HTTP/1.0 404 Not Found");
  EXPECT_EQ(h.seen[1][Buffer::http_content_type], "text/html");
  EXPECT_EQ(h.seen[1][Buffer::http_cookie], "a=b");  // Set-Cookie on the response side
  EXPECT_EQ(h.seen[1][Buffer::http_header], "Content-Type: text/html\r\n");
  h.close(false);
  ASSERT_EQ(h.seen.size(), 3u);
  EXPECT_EQ(h.seen[2][Buffer::http_response_body], "<html>");
}

TEST(IdsHttp, FoldedAndDuplicateHeadersAreJoined) {
  Harness h;
  h.send(true,
         "GET / HTTP/1.1\r\nUser-Agent: a\r\n  b\r\nAccept: x\r\nAccept: y\r\nBad Line\r\n\r\n");
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.seen[0][Buffer::http_user_agent], "a b");
  EXPECT_EQ(h.seen[0][Buffer::http_accept], "x, y");
  EXPECT_EQ(h.seen[0].headers.size(), 3u);
  EXPECT_EQ(h.stats[Malformed::http_folded_header], 1u);
  EXPECT_EQ(h.stats[Malformed::http_bad_header], 1u);
}

// A head's texts (http.header, each request header, the named values) are
// ranges of the head while its lines are "Name: value" as sent, and made
// the same byte for byte, copied, where they are not.
TEST(IdsHttp, AHeadAsSentLendsItsBytesAndAnyOtherIsMadeTheSame) {
  auto within = [](std::string_view v, std::string_view t) {
    const auto p = reinterpret_cast<uintptr_t>(v.data());
    const auto b = reinterpret_cast<uintptr_t>(t.data());
    return !v.empty() && p >= b && p + v.size() <= b + t.size();
  };
  struct Case {
    std::string head;
    std::string header;             // http.header
    std::vector<std::string> each;  // http.request_header
    std::string ua, accept;         // two named values
    bool lent;                      // http.header, each, UA and Accept are views of the head
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\nUser-Agent: u\r\nAccept: a\r\n\r\n",
       "User-Agent: u\r\nAccept: a\r\n",
       {"User-Agent: u", "Accept: a"},
       "u",
       "a",
       true},
      // padded, no space, bare LF, folded, repeated, a Cookie between two
      {"GET / HTTP/1.1\r\nUser-Agent:u  \r\nAccept: a\r\n\r\n",
       "User-Agent: u\r\nAccept: a\r\n",
       {"User-Agent: u", "Accept: a"},
       "u",
       "a",
       false},
      {"GET / HTTP/1.1\nUser-Agent: u\nAccept: a\n\n",
       "User-Agent: u\r\nAccept: a\r\n",
       {"User-Agent: u", "Accept: a"},
       "u",
       "a",
       false},
      {"GET / HTTP/1.1\r\nUser-Agent: u\r\n\tv\r\nAccept: a\r\n\r\n",
       "User-Agent: u v\r\nAccept: a\r\n",
       {"User-Agent: u v", "Accept: a"},
       "u v",
       "a",
       false},
      {"GET / HTTP/1.1\r\nAccept: a\r\nUser-Agent: u\r\nAccept: b\r\n\r\n",
       "Accept: a\r\nUser-Agent: u\r\nAccept: b\r\n",
       {"Accept: a", "User-Agent: u", "Accept: b"},
       "u",
       "a, b",
       false},
      {"GET / HTTP/1.1\r\nUser-Agent: u\r\nCookie: c=1\r\nAccept: a\r\n\r\n",
       "User-Agent: u\r\nAccept: a\r\n",
       {"User-Agent: u", "Cookie: c=1", "Accept: a"},
       "u",
       "a",
       false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.head);
    AppLimits limits;
    AppStats stats;
    AppLayer app(limits, AppProto::http);
    Packet p;
    p.ip_proto = 6;
    p.sport = 40000;
    p.dport = 80;
    size_t seen = 0;
    app.stream(p, c.head, stats, [&](const Inspection& in) {
      ++seen;
      EXPECT_EQ(in.heads[0], c.head);
      EXPECT_EQ(in.get(Buffer::http_header), c.header);
      std::vector<std::string> each(in.request_headers,
                                    in.request_headers + in.request_header_count);
      EXPECT_EQ(each, c.each);
      EXPECT_EQ(in.get(Buffer::http_user_agent), c.ua);
      EXPECT_EQ(in.get(Buffer::http_accept), c.accept);
      const bool lent = within(in.get(Buffer::http_header), in.heads[0]) &&
                        within(in.request_headers_text, in.heads[0]) &&
                        within(in.get(Buffer::http_user_agent), in.heads[0]) &&
                        within(in.get(Buffer::http_accept), in.heads[0]);
      EXPECT_EQ(lent, c.lent);
      // Lent or made, each header view lies in the text the prefilter scans.
      for (size_t i = 0; i < in.request_header_count; ++i)
        EXPECT_TRUE(within(in.request_headers[i], in.request_headers_text));
    });
    EXPECT_EQ(seen, 1u);
  }
}

TEST(IdsHttp, TheBodyIsKeptUpToTheLimitAndInspectedThere) {
  AppLimits l;
  l.http_max_body = 4;
  Harness h(AppProto::http, l);
  h.send(true, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789GET /x HTTP/1.1\r\n\r\n");
  ASSERT_EQ(h.seen.size(), 3u);
  EXPECT_EQ(h.seen[1][Buffer::http_request_body], "0123");
  EXPECT_EQ(h.seen[2][Buffer::http_uri], "/x");
}

TEST(IdsHttp, AGapInABodyOfKnownLengthKeepsTheFraming) {
  Harness h;
  h.send(true, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n012");
  h.lose(true, 4);
  h.send(true, "789GET /after HTTP/1.1\r\n\r\n");
  ASSERT_EQ(h.seen.size(), 3u);
  EXPECT_EQ(h.seen[1][Buffer::http_request_body], "012");  // up to the gap
  EXPECT_EQ(h.seen[2][Buffer::http_uri], "/after");
  EXPECT_EQ(h.stats[Malformed::http_gap], 1u);
}

TEST(IdsHttp, AGapInAHeadGivesUpTheRequestAndResynchronizes) {
  Harness h;
  h.send(true, "GET /lost HTTP/1.1\r\nHo");
  h.lose(true, 100);
  h.send(true, "st: x\r\n\r\nGET /found HTTP/1.1\r\n\r\n");
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.seen[0][Buffer::http_uri], "/found");
  EXPECT_EQ(h.stats[Malformed::http_gap], 1u);
}

TEST(IdsHttp, MalformedInputIsFlaggedAndBounded) {
  {
    Harness h;
    h.send(true, std::string("\x01\x02\x03junk\0\xff", 9));
    h.send(true, "\r\nGET /ok HTTP/1.1\r\n\r\n");
    EXPECT_EQ(h.stats[Malformed::http_request_line], 1u);
    ASSERT_EQ(h.seen.size(), 1u);
    EXPECT_EQ(h.seen[0][Buffer::http_uri], "/ok");
  }
  {
    Harness h;
    h.send(true, "GET / HTTP/1.1\r\nX: " + std::string(20000, 'a'));
    EXPECT_EQ(h.stats[Malformed::http_head_too_large], 1u);
    EXPECT_TRUE(h.seen.empty());
  }
  {
    AppLimits l;
    l.http_max_headers = 3;
    Harness h(AppProto::http, l);
    h.send(true, "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n");
    EXPECT_EQ(h.stats[Malformed::http_too_many_headers], 1u);
    EXPECT_TRUE(h.seen.empty());
  }
  {
    Harness h;
    h.send(true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc");
    EXPECT_EQ(h.stats[Malformed::http_bad_chunk], 1u);
    h.send(true, "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n");
    EXPECT_EQ(h.stats[Malformed::http_bad_content_length], 1u);
    h.send(true, "POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n");
    EXPECT_EQ(h.stats[Malformed::http_bad_content_length], 2u);
    h.send(true,
           "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    EXPECT_EQ(h.stats[Malformed::http_cl_and_te], 1u);
    h.send(true, "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n");
    EXPECT_EQ(h.stats[Malformed::http_nul], 0u);  // (string literal stops at the NUL)
    h.send(true, std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26));
    EXPECT_EQ(h.stats[Malformed::http_nul], 1u);
    h.send(true, "GET /nohttp FTP/1.0\r\n\r\n");
    EXPECT_EQ(h.stats[Malformed::http_request_line], 1u);
  }
  {
    Harness h;
    h.send(true, "GET / HTTP/1.1\r\n\r\n");
    h.send(false, "HTTP/1.1 2x0 Odd\r\n\r\n");
    EXPECT_EQ(h.stats[Malformed::http_response_line], 1u);
    h.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");  // resynchronized
    ASSERT_EQ(h.seen.size(), 2u);
    EXPECT_EQ(h.seen[1][Buffer::http_stat_code], "200");
    Harness g;
    g.send(false, "SSH-2.0-x\r\n");
    EXPECT_EQ(g.stats[Malformed::http_response_line], 1u);
  }
}

TEST(IdsHttp, TooManyPipelinedRequestsDropTheOldestButKeepThePairing) {
  AppLimits l;
  l.http_max_pending = 2;
  Harness h(AppProto::http, l);
  h.send(true, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(h.stats[Malformed::http_pending_overflow], 1u);
  h.seen.clear();
  h.send(false,
         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(h.seen.size(), 3u);
  EXPECT_FALSE(h.seen[0].has(Buffer::http_uri));  // its request was dropped
  EXPECT_EQ(h.seen[1][Buffer::http_uri], "/2");
  EXPECT_EQ(h.seen[2][Buffer::http_uri], "/3");
}

TEST(IdsHttp, AnInterimResponseDoesNotTakeTheRequest) {
  Harness h;
  h.send(true, "PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  h.send(false, "HTTP/1.1 100 Continue\r\n\r\n");
  h.send(true, "hi");
  h.send(false, "HTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_EQ(h.seen.size(), 4u);
  EXPECT_EQ(h.seen[1][Buffer::http_stat_code], "100");
  EXPECT_EQ(h.seen[2][Buffer::http_request_body], "hi");
  EXPECT_EQ(h.seen[3][Buffer::http_stat_code], "204");
  EXPECT_EQ(h.seen[3][Buffer::http_uri], "/f");
}

TEST(IdsHttp, AfterConnectTheTunnelIsNotParsed) {
  Harness h;
  h.send(true, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  h.send(false, "HTTP/1.1 200 Connection established\r\n\r\n");
  h.send(true, "\x16\x03\x01 not http at all");
  h.send(false, "junk");
  EXPECT_EQ(h.seen.size(), 2u);
  EXPECT_EQ(h.seen[0][Buffer::http_uri], "example.com:443");
  EXPECT_EQ(h.stats.total(), 0u);
}

TEST(IdsHttp, UrisAreNormalized) {
  std::string out;
  auto n = [&](std::string_view in) {
    normalize_uri(in, out);
    return out;
  };
  EXPECT_EQ(n("/"), "/");
  EXPECT_EQ(n("/a/b/"), "/a/b/");
  EXPECT_EQ(n("/a//b"), "/a/b");
  EXPECT_EQ(n("/a/./b/../c"), "/a/c");
  EXPECT_EQ(n("/../../etc/passwd"), "/etc/passwd");
  EXPECT_EQ(n("/a/.."), "/");
  EXPECT_EQ(n("/a/%2e%2e/b"), "/b");
  EXPECT_EQ(n("/%zz/%4"), "/%zz/%4");  // invalid escapes kept
  EXPECT_EQ(n("/x?a=/../&b=%20"), "/x?a=/../&b= ");
  EXPECT_EQ(n("http://Host:8080/p/./q?x"), "/p/q?x");
  EXPECT_EQ(n("*"), "*");
  std::string h;
  normalize_host("Ex.COM:80", h);
  EXPECT_EQ(h, "ex.com");
  normalize_host("[::1]:8080", h);
  EXPECT_EQ(h, "[::1]");
}

using test::client_hello;
using test::tls_record;

TEST(IdsTls, TheSniOfAClientHelloSplitAcrossRecordsAndSegments) {
  Harness h(AppProto::unknown);
  std::string hs = client_hello("Secure.Example.org");
  // Two records, the second split across three segments.
  std::string bytes = tls_record(hs.substr(0, 50)) + tls_record(hs.substr(50));
  h.send(true, bytes.substr(0, 2), 443);
  h.send(true, bytes.substr(2, 60), 443);
  h.send(true, bytes.substr(62, 10), 443);
  EXPECT_TRUE(h.seen.empty());
  h.send(true, bytes.substr(72), 443);
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.seen[0][Buffer::tls_sni], "Secure.Example.org");
  EXPECT_EQ(h.seen[0].app, AppProto::tls);
  EXPECT_EQ(h.app->proto(), AppProto::tls);
  h.send(true, std::string("\x17\x03\x03\x00\x05hello", 10),
         443);  // application data: nothing more
  EXPECT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.stats.total(), 0u);
}

TEST(IdsTls, ADirectionIsEncryptedFromItsFirstApplicationDataRecord) {
  Harness h(AppProto::unknown);
  const std::string hello = tls_record(client_hello("a.example"));
  h.send(true, hello.substr(0, 3), 443);  // (a header split across segments)
  h.send(true, hello.substr(3), 443);
  EXPECT_FALSE(h.app->encrypted(true));
  // The server's handshake, its header and body split; then CCS.
  const std::string server = tls_record(std::string(3000, 'C')) + tls_record("\x01", 0x14);
  h.send(false, server.substr(0, 4), 443);
  h.send(false, server.substr(4, 1500), 443);
  h.send(false, server.substr(1504), 443);
  EXPECT_FALSE(h.app->encrypted(false));
  EXPECT_FALSE(h.app->encrypted(true));
  // The client's CCS and Finished (as application data, TLS 1.3), then data.
  h.send(true, tls_record("\x01", 0x14) + tls_record("fin", 0x17).substr(0, 2), 443);
  EXPECT_FALSE(h.app->encrypted(true));
  h.send(true, tls_record("fin", 0x17).substr(2), 443);
  EXPECT_TRUE(h.app->encrypted(true));
  EXPECT_FALSE(h.app->encrypted(false));
  h.send(false, tls_record("ticket", 0x17), 443);
  EXPECT_TRUE(h.app->encrypted(false));
  EXPECT_EQ(h.stats.total(), 0u);
}

TEST(IdsTls, BytesThatAreNotTlsRecordsAreNeverTakenForEncrypted) {
  {  // application data before any ClientHello
    Harness h(AppProto::tls);
    h.send(true, tls_record("GET /exploit", 0x17), 443);
    h.send(true, tls_record("more", 0x17), 443);
    EXPECT_FALSE(h.app->encrypted(true));
  }
  {  // a real ClientHello, but no handshake record back from the server
    Harness h(AppProto::unknown);
    h.send(true, tls_record(client_hello("a.example")), 443);
    h.send(true, tls_record("GET /exploit", 0x17), 443);
    h.send(false, tls_record("late", 0x16), 443);
    h.send(true, tls_record("more", 0x17), 443);
    EXPECT_FALSE(h.app->encrypted(true));
  }
  {  // a ClientHello that does not parse
    Harness h(AppProto::tls);
    h.send(true, tls_record(std::string("\x01\x00\x00\x02\x03\x03", 6)), 443);
    h.send(true, tls_record("data", 0x17), 443);
    EXPECT_FALSE(h.app->encrypted(true));
  }
  {  // after the hello, something that is not a record (type, version, length)
    for (const std::string& junk :
         {std::string("\x30\x03\x03\x00\x04", 5), std::string("\x17\x02\x03\x00\x04", 5),
          std::string("\x17\x03\x03\x00\x00", 5), std::string("\x17\x03\x03\x48\x01", 5)}) {
      Harness h(AppProto::unknown);
      h.send(true, tls_record(client_hello("a.example")), 443);
      h.send(false, tls_record(std::string(50, 'S')), 443);
      h.send(true, junk + "data" + tls_record("x", 0x17), 443);
      EXPECT_FALSE(h.app->encrypted(true)) << testing::PrintToString(junk);
    }
  }
  {  // a gap before the application data: the record boundaries are lost
    Harness h(AppProto::unknown);
    h.send(true, tls_record(client_hello("a.example")), 443);
    h.send(false, tls_record(std::string(50, 'S')), 443);
    h.lose(true, 100);
    h.send(true, tls_record("data", 0x17), 443);
    EXPECT_FALSE(h.app->encrypted(true));
  }
}

TEST(IdsTls, MalformedHellosAreFlagged) {
  {
    Harness h(AppProto::tls);
    h.send(true, std::string("\x17\x03\x03\x00\x05hello", 10), 443);
    EXPECT_EQ(h.stats[Malformed::tls_bad_record], 1u);
  }
  {
    Harness h(AppProto::tls);
    std::string hs = client_hello("a.b");
    hs[4 + 34] = 100;  // session id length past the message
    h.send(true, tls_record(hs), 443);
    EXPECT_EQ(h.stats[Malformed::tls_bad_hello], 1u);
    EXPECT_TRUE(h.seen.empty());
  }
  {
    Harness h(AppProto::tls);
    h.send(true, tls_record(std::string("\x01\xff\xff\xff", 4)), 443);
    EXPECT_EQ(h.stats[Malformed::tls_hello_too_large], 1u);
  }
  {
    Harness h(AppProto::tls);
    h.send(true, tls_record(client_hello("x")).substr(0, 20), 443);
    h.lose(true, 10);
    EXPECT_EQ(h.stats[Malformed::tls_gap], 1u);
  }
  {
    std::string_view sni;
    EXPECT_TRUE(parse_client_hello_sni(client_hello("").substr(4), sni));
    EXPECT_TRUE(sni.empty());
  }
}

std::string dns_query_msg(std::string_view qname_wire) {
  std::string m("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  return m + std::string(qname_wire) + std::string("\x00\x01\x00\x01", 4);
}

TEST(IdsDns, TheFirstQuestionOfAQuery) {
  Harness h(AppProto::unknown);
  std::string m =
      dns_query_msg(std::string("\x03www\x07"
                                "Example\x03"
                                "com\x00",
                                17));
  h.datagram(m, static_cast<uint32_t>(m.size()));
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.seen[0][Buffer::dns_query], "www.Example.com");  // as sent
  EXPECT_EQ(h.seen[0].app, AppProto::dns);
  // A response is not a query.
  std::string r = m;
  r[2] = static_cast<char>(0x81);
  h.datagram(r, static_cast<uint32_t>(r.size()));
  EXPECT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.stats.total(), 0u);
}

TEST(IdsDns, CompressionPointersAreFollowedAndLoopsStopped) {
  std::string name;
  // "a" then a pointer to offset 12+... : build "\x01a\xc0\x10" where 0x10
  // points at "\x03xyz\x00" placed after the question.
  std::string m =
      dns_query_msg(std::string("\x01"
                                "a\xc0\x14",
                                4));
  // offset 12: 01 'a' c0 14 | 16: qtype qclass | 20: 03 'xyz' 00
  m += std::string("\x03xyz\x00", 5);
  EXPECT_EQ(parse_dns_query(m, name), DnsResult::ok);
  EXPECT_EQ(name, "a.xyz");
  std::string loop =
      dns_query_msg(std::string("\x01"
                                "a\xc0\x0c",
                                4));  // points at itself
  EXPECT_EQ(parse_dns_query(loop, name), DnsResult::loop);
  std::string out_of_range = dns_query_msg(std::string("\xc0\xff", 2));
  EXPECT_EQ(parse_dns_query(out_of_range, name), DnsResult::malformed);
  std::string bad_label =
      dns_query_msg(std::string("\x41"
                                "a\x00",
                                3));
  EXPECT_EQ(parse_dns_query(bad_label, name), DnsResult::malformed);
  EXPECT_EQ(parse_dns_query("short", name), DnsResult::truncated);

  Harness h(AppProto::dns);
  h.datagram(loop, static_cast<uint32_t>(loop.size()));
  h.datagram(bad_label, static_cast<uint32_t>(bad_label.size()));
  std::string m2 =
      dns_query_msg(std::string("\x05"
                                "hello\x00",
                                7));
  h.datagram(m2.substr(0, 15), static_cast<uint32_t>(m2.size()));  // captured 15 of 28
  h.datagram(m2.substr(0, 15), 15);                                // the whole (short) message
  EXPECT_EQ(h.stats[Malformed::dns_pointer_loop], 1u);
  EXPECT_EQ(h.stats[Malformed::dns_bad_message], 2u);
  EXPECT_EQ(h.stats[Malformed::dns_truncated], 1u);
  EXPECT_TRUE(h.seen.empty());
}

TEST(IdsDns, TcpMessagesHaveALengthPrefix) {
  Harness h(AppProto::unknown);
  std::string m =
      dns_query_msg(std::string("\x03"
                                "foo\x03"
                                "bar\x00",
                                9));
  std::string framed =
      std::string{static_cast<char>(m.size() >> 8), static_cast<char>(m.size())} + m;
  std::string two = framed + framed;
  h.send(true, two.substr(0, 1), 53);
  h.send(true, two.substr(1, 20), 53);
  h.send(true, two.substr(21), 53);
  ASSERT_EQ(h.seen.size(), 2u);
  EXPECT_EQ(h.seen[0][Buffer::dns_query], "foo.bar");
  EXPECT_EQ(h.seen[1][Buffer::dns_query], "foo.bar");
}

TEST(IdsSsh, BannersGiveProtoAndSoftware) {
  Harness h(AppProto::unknown);
  h.send(false, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r", 22);
  EXPECT_TRUE(h.seen.empty());
  h.send(false, "\n", 22);
  h.send(true, "SSH-2.0-libssh_0.10\r\n", 22);
  ASSERT_EQ(h.seen.size(), 2u);
  EXPECT_EQ(h.seen[0][Buffer::ssh_proto], "2.0");
  EXPECT_EQ(h.seen[0][Buffer::ssh_software], "OpenSSH_9.2p1");
  EXPECT_FALSE(h.seen[0].to_server);
  EXPECT_EQ(h.seen[1][Buffer::ssh_software], "libssh_0.10");
  EXPECT_EQ(h.app->proto(), AppProto::ssh);
}

TEST(IdsSsh, OtherLinesFirstAreAllowedUpToTheLimit) {
  AppLimits l;
  l.ssh_max_prebanner = 100;
  Harness h(AppProto::ssh, l);
  h.send(false, "hello there\r\nSSH-1.99-Cisco-1.25\r\n", 22);
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.seen[0][Buffer::ssh_proto], "1.99");
  EXPECT_EQ(h.seen[0][Buffer::ssh_software], "Cisco-1.25");
  h.send(true, std::string(200, 'x'), 22);
  EXPECT_EQ(h.stats[Malformed::ssh_bad_banner], 1u);
  Harness g(AppProto::ssh);
  g.send(true, "SSH-" + std::string(300, 'v'), 22);
  EXPECT_EQ(g.stats[Malformed::ssh_bad_banner], 1u);
  EXPECT_TRUE(g.seen.empty());
}

TEST(IdsDetect, ProtocolsAreRecognisedFromTheirFirstBytes) {
  EXPECT_EQ(detect_proto("GET / HTTP/1.1", 6, 1, 8080), AppProto::http);
  EXPECT_EQ(detect_proto("HTTP/1.1 200", 6, 8080, 1), AppProto::http);
  EXPECT_EQ(detect_proto("\x16\x03\x01\x02", 6, 1, 8443), AppProto::tls);
  EXPECT_EQ(detect_proto("SSH-2.0-x", 6, 1, 2222), AppProto::ssh);
  EXPECT_EQ(detect_proto("anything", 17, 5353, 53), AppProto::dns);
  EXPECT_EQ(detect_proto("GE", 6, 1, 80), AppProto::unknown);
  EXPECT_EQ(detect_proto("\x00\x01junk", 6, 1, 80), AppProto::unknown);
  // An unknown flow whose first bytes are HTTP gets parsed as HTTP.
  Harness h(AppProto::unknown);
  h.send(true, "GE", 8080);
  h.send(true, "T /x HTTP/1.1\r\n\r\n", 8080);
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.seen[0][Buffer::http_uri], "/x");
  EXPECT_EQ(h.app->proto(), AppProto::http);
  // One that is none of them is left alone.
  Harness g(AppProto::unknown);
  g.send(true, std::string(64, '\x7f'), 9999);
  g.send(true, "GET / HTTP/1.1\r\n\r\n", 9999);
  EXPECT_TRUE(g.seen.empty());
  EXPECT_EQ(g.app->proto(), AppProto::unknown);
}

TEST(IdsMalformed, EveryKindHasAName) {
  for (size_t i = 0; i < kMalformedCount; ++i) {
    std::string n = malformed_name(static_cast<Malformed>(i));
    EXPECT_FALSE(n.empty());
    EXPECT_NE(n, "unknown");
  }
  EXPECT_STREQ(malformed_name(Malformed::dns_pointer_loop), "dns_pointer_loop");
}

}  // namespace
}  // namespace rampart::ids

// SPDX-License-Identifier: Apache-2.0
// The IDS flow table: flows, TCP reassembly and the application layer
// behind it, driven with events as tc_ids sends them and an explicit clock.
#include <gtest/gtest.h>

#include <list>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "flow_table.hpp"
#include "tls_records.hpp"

namespace rampart::ids {
namespace {

constexpr uint64_t kSec = 1'000'000'000;

struct Got {
  bool packet = false;  // the packet's own inspection (else a milestone)
  bool to_server = false, established = false;
  AppProto app = AppProto::unknown;
  std::string payload, stream, fresh;  // fresh: stream from stream_new
  uint32_t dsize = 0;
  bool payload_ends_stream = false;
  std::map<Buffer, std::string> buf;
  uint64_t flow_packets = 0;
  std::string operator[](Buffer b) const {
    auto it = buf.find(b);
    return it == buf.end() ? "<absent>" : it->second;
  }
};

struct Table {
  FlowTable t;
  std::vector<Got> got;
  explicit Table(FlowTableConfig cfg = {}) : t(cfg) {}

  void feed(const PacketEvent& ev, uint64_t now = 0) {
    t.feed(ev, now, [&](const Inspection& in, FlowState& fs) {
      Got g;
      g.packet = !in.milestone;
      g.to_server = in.pkt.to_server;
      g.established = in.pkt.established;
      g.app = in.pkt.app;
      g.payload = in.get(Buffer::payload);
      g.stream = in.stream;
      g.fresh = in.stream.substr(in.stream_new);
      g.dsize = in.dsize;
      g.payload_ends_stream = in.payload_ends_stream;
      for (size_t i = 0; i < kBufferCount; ++i)
        if (in.present.test(i) && i != 0) g.buf[static_cast<Buffer>(i)] = std::string(in.buffer[i]);
      g.flow_packets = fs.packets[0] + fs.packets[1];
      got.push_back(std::move(g));
    });
  }
  // The packet inspections only.
  std::vector<Got> packets() const {
    std::vector<Got> v;
    for (const auto& g : got)
      if (g.packet) v.push_back(g);
    return v;
  }
  std::vector<Got> milestones() const {
    std::vector<Got> v;
    for (const auto& g : got)
      if (!g.packet) v.push_back(g);
    return v;
  }
};

// A TCP connection between 10.0.0.1:40000 (client) and 10.0.0.2:80.
struct Conn {
  uint64_t id = 7;
  uint8_t client_last = 1;
  uint16_t sport = 40000, dport = 80;
  uint32_t cseq = 1000, sseq = 5000;  // ISNs
  std::string keep;                   // events hold views; keep their bytes alive

  PacketEvent ev(bool to_server, uint8_t flags, uint32_t seq, std::string_view data,
                 uint32_t payload_len = UINT32_MAX) {
    PacketEvent e;
    e.flow_id = id;
    e.ip_proto = 6;
    std::array<uint8_t, 16> c{10, 0, 0, client_last}, s{10, 0, 0, 2};
    e.src = to_server ? c : s;
    e.dst = to_server ? s : c;
    e.sport = to_server ? sport : dport;
    e.dport = to_server ? dport : sport;
    e.tcp_flags = flags;
    e.seq = seq;
    e.payload = data;
    e.payload_len = payload_len == UINT32_MAX ? static_cast<uint32_t>(data.size()) : payload_len;
    return e;
  }
  void handshake(Table& t, uint64_t now = 0) {
    t.feed(ev(true, tcp::syn, cseq, ""), now);
    t.feed(ev(false, tcp::syn | tcp::ack, sseq, ""), now);
    t.feed(ev(true, tcp::ack, cseq + 1, ""), now);
  }
  // Client data at relative offset `off` (0 = the first byte after the SYN).
  PacketEvent c(uint32_t off, std::string_view d, uint32_t len = UINT32_MAX) {
    return ev(true, tcp::ack | tcp::psh, cseq + 1 + off, d, len);
  }
  PacketEvent s(uint32_t off, std::string_view d, uint32_t len = UINT32_MAX) {
    return ev(false, tcp::ack | tcp::psh, sseq + 1 + off, d, len);
  }
};

TEST(IdsFlow, AContentSplitAcrossTwoSegmentsIsWholeInTheStream) {
  Table t;
  Conn c;
  c.handshake(t);
  t.got.clear();
  t.feed(c.c(0, "xxxxev"));
  t.feed(c.c(6, "il-payload"));
  auto p = t.packets();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[1].payload, "il-payload");
  EXPECT_EQ(p[1].stream, "xxxxevil-payload");
  EXPECT_EQ(p[1].fresh, "il-payload");
  EXPECT_TRUE(p[1].payload_ends_stream);
  EXPECT_NE(p[1].stream.find("evil"), std::string::npos);
  EXPECT_TRUE(p[1].to_server);
  EXPECT_TRUE(p[1].established);
}

TEST(IdsFlow, OutOfOrderSegmentsAreDeliveredOnceTheGapFills) {
  Table t;
  Conn c;
  c.handshake(t);
  t.got.clear();
  t.feed(c.c(8, "CCCC"));
  t.feed(c.c(4, "BBBB"));
  EXPECT_EQ(t.t.stats().ooo_bytes_held, 8u);
  auto p = t.packets();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].stream, "");  // nothing in order yet
  EXPECT_EQ(p[0].payload, "CCCC");
  t.feed(c.c(0, "AAAA"));
  p = t.packets();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[2].stream, "AAAABBBBCCCC");
  EXPECT_EQ(p[2].fresh, "AAAABBBBCCCC");
  EXPECT_FALSE(p[2].payload_ends_stream);  // the held bytes came after it
  FlowStats st = t.t.stats();
  EXPECT_EQ(st.ooo_bytes_held, 0u);
  EXPECT_EQ(st.ooo_segments, 2u);
  EXPECT_EQ(st.gaps, 0u);
}

TEST(IdsFlow, RetransmissionsAndOverlapsAreTrimmedFirstWins) {
  Table t;
  Conn c;
  c.handshake(t);
  t.got.clear();
  t.feed(c.c(0, "AAAA"));
  t.feed(c.c(0, "BBBB"));  // a retransmission with other bytes: the first stay
  t.feed(c.c(2, "XXYY"));  // overlaps two bytes
  auto p = t.packets();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[1].stream, "");
  EXPECT_EQ(p[1].payload, "BBBB");  // the packet is still the packet
  EXPECT_EQ(p[2].stream, "AAAAYY");
  EXPECT_EQ(p[2].fresh, "YY");
  EXPECT_FALSE(p[2].payload_ends_stream);  // only its tail was new
  EXPECT_TRUE(p[0].payload_ends_stream);
  // Held segments overlap each other: the first held wins too.
  t.feed(c.c(20, "CCCC"));
  t.feed(c.c(18, "DDDDDDDD"));  // 18..25: 18-19 and 24-25 are new
  t.feed(c.c(6, std::string(12, '.')));
  p = t.packets();
  EXPECT_EQ(p.back().fresh, std::string(12, '.') + "DDCCCCDD");
  EXPECT_EQ(t.t.stats().trimmed_bytes, 4u + 2u);
}

TEST(IdsFlow, SequenceNumbersWrapAround) {
  Table t;
  Conn c;
  c.cseq = 0xFFFFFFF0u;
  c.handshake(t);
  t.got.clear();
  t.feed(c.c(0, "0123456789"));   // 0xFFFFFFF1 .. 0xFFFFFFFA
  t.feed(c.c(20, "KLMN"));        // past zero, held
  t.feed(c.c(10, "abcdefghij"));  // crosses zero and fills the gap
  auto p = t.packets();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[2].stream, "0123456789abcdefghijKLMN");
  t.feed(c.c(0, "zz"));  // an old retransmission from before the wrap
  EXPECT_EQ(t.packets().back().stream, "");
  EXPECT_EQ(t.t.stats().gaps, 0u);
}

TEST(IdsFlow, ATruncatedCaptureIsAGapTheStreamAndHttpGetPast) {
  Table t;
  Conn c;
  c.handshake(t);
  t.got.clear();
  std::string head = "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n";
  t.feed(c.c(0, head));
  std::string body(1400, 'b');
  // 1,400 bytes of payload, 100 captured.
  t.feed(c.c(static_cast<uint32_t>(head.size()), std::string_view(body).substr(0, 100), 1400));
  t.feed(c.c(static_cast<uint32_t>(head.size() + 1400), std::string(600, 'c')));
  t.feed(c.c(static_cast<uint32_t>(head.size() + 2000), "GET /next HTTP/1.1\r\n\r\n"));
  FlowStats st = t.t.stats();
  EXPECT_EQ(st.truncated_events, 1u);
  EXPECT_EQ(st.gaps, 1u);
  EXPECT_EQ(st.gap_bytes, 1300u);
  auto p = t.packets();
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[1].dsize, 1400u);
  EXPECT_EQ(p[2].stream, std::string(600, 'c'));  // nothing before the gap
  auto m = t.milestones();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[1][Buffer::http_request_body], std::string(100, 'b'));  // up to the gap
  EXPECT_EQ(m[2][Buffer::http_uri], "/next");
  EXPECT_EQ(st.app[Malformed::http_gap], 1u);
}

// Three connections from three clients: flow ids 1, 2 and 3.
struct Three {
  std::array<Conn, 3> conns;
  Three() {
    for (uint8_t i = 0; i < 3; ++i) {
      conns[i].id = i + 1u;
      conns[i].client_last = static_cast<uint8_t>(i == 0 ? 1 : i + 2);
    }
  }
};

TEST(IdsFlow, TheLeastRecentlySeenFlowIsEvictedAtTheBound) {
  FlowTableConfig cfg;
  cfg.max_flows = 2;
  cfg.shards = 1;
  Table t(cfg);
  Three three;
  auto& [a, b, c] = three.conns;
  t.feed(a.c(0, "a"), 1);
  t.feed(b.c(0, "b"), 2);
  t.feed(a.c(1, "a"), 3);  // a is now the most recent
  t.feed(c.c(0, "c"), 4);  // b goes
  EXPECT_EQ(t.t.size(), 2u);
  EXPECT_EQ(t.t.stats().flows_evicted, 1u);
  t.got.clear();
  t.feed(a.c(2, "a"), 5);
  EXPECT_EQ(t.got.back().flow_packets, 3u);  // a kept its state
  t.feed(b.c(1, "b"), 6);
  EXPECT_EQ(t.got.back().flow_packets, 1u);  // b is new again
  EXPECT_EQ(t.t.stats().flows_created, 4u);
}

TEST(IdsFlow, ManyFlowsComingAndGoingKeepTheirOwnStateAsAnLruModelSays) {
  // One shard of 1,024 flows and 3,000 flows' packets in a random order:
  // each packet must find its own flow (its count goes on) unless the
  // least recently seen went first, as a plain LRU model says. Ids
  // repeat across ports, so tuples sharing an id are told apart.
  FlowTableConfig cfg;
  cfg.shards = 1;
  cfg.max_flows = 1024;
  FlowTable t(cfg);
  std::list<uint32_t> lru;
  std::map<uint32_t, std::pair<uint64_t, std::list<uint32_t>::iterator>> model;
  std::mt19937 rng(42);
  uint64_t mismatches = 0, evictions = 0;
  for (int i = 0; i < 200000; ++i) {
    const uint32_t k = rng() % 3000;
    auto it = model.find(k);
    if (it != model.end()) {
      ++it->second.first;
      lru.splice(lru.begin(), lru, it->second.second);
    } else {
      if (model.size() == cfg.max_flows) {
        model.erase(lru.back());
        lru.pop_back();
        ++evictions;
      }
      lru.push_front(k);
      model[k] = {1, lru.begin()};
    }
    PacketEvent e;
    e.flow_id = k % 700;  // ids shared by several tuples
    e.ip_proto = 17;
    e.src = {10, 1, static_cast<uint8_t>(k >> 8), static_cast<uint8_t>(k)};
    e.dst = {10, 2, 0, 1};
    e.sport = static_cast<uint16_t>(20000 + k % 5);
    e.dport = 9999;
    e.payload = "x";
    e.payload_len = 1;
    uint64_t seen = 0;
    t.feed(e, 1, [&](const Inspection&, FlowState& fs) { seen = fs.packets[1]; });
    if (seen != model[k].first) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(evictions, 10000u);
  EXPECT_EQ(t.size(), cfg.max_flows);
  EXPECT_EQ(t.stats().flows_evicted, evictions);
}

TEST(IdsFlow, IdleFlowsTimeOut) {
  FlowTableConfig cfg;
  cfg.idle_timeout_ns = 30 * kSec;
  cfg.shards = 1;
  Table t(cfg);
  Conn a, b;
  a.id = 1;
  b.id = 2;
  b.client_last = 3;
  t.feed(a.c(0, "a"), 0);
  t.feed(b.c(0, "b"), 20 * kSec);
  t.feed(b.c(1, "b"), 31 * kSec);  // a has been idle 31 s: removed on the way
  EXPECT_EQ(t.t.size(), 1u);
  EXPECT_EQ(t.t.stats().flows_timed_out, 1u);
  EXPECT_EQ(t.t.expire(60 * kSec), 0u);  // b was seen at 31 s
  EXPECT_EQ(t.t.expire(61 * kSec), 1u);
  EXPECT_EQ(t.t.size(), 0u);
  EXPECT_EQ(t.t.stats().flows_timed_out, 2u);
}

// The oldest flow is looked at again only when it could have timed out;
// a flow seen again meanwhile leaves the next oldest to time out on time,
// neither early nor late.
TEST(IdsFlow, FlowsTimeOutOnTimeWhicheverWasSeenLast) {
  FlowTableConfig cfg;
  cfg.idle_timeout_ns = 30 * kSec;
  cfg.shards = 1;
  Table t(cfg);
  Three three;
  auto& [a, b, c] = three.conns;
  t.feed(a.c(0, "a"), 0);
  t.feed(b.c(0, "b"), 10 * kSec);
  t.feed(a.c(1, "a"), 25 * kSec);  // a seen again: b is the oldest now
  t.feed(c.c(0, "c"), 35 * kSec);  // past a's first deadline: b (idle 25 s) stays
  EXPECT_EQ(t.t.size(), 3u);
  t.feed(c.c(1, "c"), 39 * kSec);
  EXPECT_EQ(t.t.size(), 3u);
  t.feed(c.c(2, "c"), 40 * kSec);  // b idle 30 s
  EXPECT_EQ(t.t.size(), 2u);
  t.feed(c.c(3, "c"), 54 * kSec);
  EXPECT_EQ(t.t.size(), 2u);
  t.feed(c.c(4, "c"), 55 * kSec);  // a idle 30 s
  EXPECT_EQ(t.t.size(), 1u);
  EXPECT_EQ(t.t.stats().flows_timed_out, 2u);
}

TEST(IdsFlow, TwoFlowsWithTheSameIdAreKeptApart) {
  Table t;
  Conn a, b;
  a.id = b.id = 99;
  b.client_last = 9;  // another client: another 5-tuple
  a.handshake(t);
  b.handshake(t);
  t.got.clear();
  t.feed(a.c(0, "from-a "));
  t.feed(b.c(0, "from-b "));
  t.feed(a.c(7, "more-a"));
  EXPECT_EQ(t.t.size(), 2u);
  auto p = t.packets();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[1].stream, "from-b ");
  EXPECT_EQ(p[2].stream, "from-a more-a");
  EXPECT_EQ(t.got.back().flow_packets, 5u);  // 3 handshake + 2 data, a's own
}

TEST(IdsFlow, TheInitiatorIsTheClientAndTheHandshakeEstablishes) {
  Table t;
  Conn c;
  t.feed(c.ev(false, tcp::syn | tcp::ack, c.sseq, ""));  // the SYN was not sampled
  EXPECT_FALSE(t.got.back().to_server);
  EXPECT_FALSE(t.got.back().established);
  t.feed(c.ev(true, tcp::syn, c.cseq, ""));
  t.feed(c.ev(true, tcp::ack, c.cseq + 1, ""));
  EXPECT_TRUE(t.got.back().to_server);
  EXPECT_TRUE(t.got.back().established);
  // UDP: seen both ways.
  PacketEvent q;
  q.flow_id = 5;
  q.ip_proto = 17;
  q.src = {10, 0, 0, 1};
  q.dst = {10, 0, 0, 53};
  q.sport = 5555;
  q.dport = 53;
  std::string msg(
      "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03"
      "abc\x02"
      "de\x00\x00\x01\x00\x01",
      12 + 12);
  q.payload = msg;
  q.payload_len = static_cast<uint32_t>(msg.size());
  t.got.clear();
  t.feed(q);
  ASSERT_EQ(t.got.size(), 2u);
  EXPECT_EQ(t.got[0][Buffer::dns_query], "abc.de");
  EXPECT_EQ(t.got[1].app, AppProto::dns);
  EXPECT_FALSE(t.got[1].established);
  std::swap(q.src, q.dst);
  std::swap(q.sport, q.dport);
  msg[2] = static_cast<char>(0x81);
  t.feed(q);
  EXPECT_TRUE(t.got.back().established);
  EXPECT_FALSE(t.got.back().to_server);
}

TEST(IdsFlow, ANewSynOnTheTupleStartsTheFlowAgain) {
  Table t;
  Conn c;
  c.handshake(t);
  t.feed(c.c(0, "hello"), 1);
  bool marked = false;
  t.t.feed(c.c(5, "x"), 2, [&](const Inspection&, FlowState& fs) { fs.user_as<int>() = 42; });
  c.cseq = 777777;
  t.t.feed(c.ev(true, tcp::syn, c.cseq, ""), 3, [&](const Inspection&, FlowState& fs) {
    marked = std::any_cast<int>(&fs.user) != nullptr;
  });
  EXPECT_FALSE(marked);
  EXPECT_EQ(t.t.stats().flows_reused, 1u);
  EXPECT_EQ(t.t.size(), 1u);
}

TEST(IdsFlow, TheOutOfOrderBoundGivesUpTheGap) {
  FlowTableConfig cfg;
  cfg.max_ooo_bytes = 10;
  Table t(cfg);
  Conn c;
  c.handshake(t);
  t.got.clear();
  t.feed(c.c(100, "0123456789"));  // held: 10 bytes, the bound
  t.feed(c.c(110, "abc"));         // over it: the 100 missing bytes are given up
  FlowStats st = t.t.stats();
  EXPECT_EQ(st.ooo_overflows, 1u);
  EXPECT_EQ(st.gaps, 1u);
  EXPECT_EQ(st.gap_bytes, 100u);
  EXPECT_EQ(st.ooo_bytes_held, 0u);
  EXPECT_EQ(t.packets().back().stream, "0123456789abc");
}

TEST(IdsFlow, TheStreamWindowIsBounded) {
  FlowTableConfig cfg;
  cfg.stream_window = 1024;
  Table t(cfg);
  Conn c;
  c.handshake(t);
  std::string all;
  for (uint32_t i = 0; i < 10; ++i) {
    std::string seg(1000, static_cast<char>('a' + i));
    all += seg;
    t.feed(c.c(i * 1000, seg));
    const Got& g = t.got.back();
    EXPECT_LE(g.stream.size(), 1024u + 1000u);
    EXPECT_EQ(g.fresh, seg);
    EXPECT_EQ(all.substr(all.size() - g.stream.size()), g.stream);
  }
}

TEST(IdsFlow, AnHttpGetInThreeSegmentsIsOneRequest) {
  Table t;
  Conn c;
  c.handshake(t);
  t.got.clear();
  std::string req =
      "GET /shop/../admin//x.php?id=%31 HTTP/1.1\r\nHost: Shop.Example:8080\r\n"
      "User-Agent: Mozilla/5.0\r\nCookie: s=1\r\n\r\n";
  PacketEvent e = c.c(0, std::string_view(req).substr(0, 20));  // (views: req outlives e)
  e.l7 = AppProto::http;
  t.feed(e);
  t.feed(c.c(20, req.substr(20, 30)));
  t.feed(c.c(50, req.substr(50)));
  auto m = t.milestones();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0][Buffer::http_method], "GET");
  EXPECT_EQ(m[0][Buffer::http_uri], "/admin/x.php?id=1");
  EXPECT_EQ(m[0][Buffer::http_uri_raw], "/shop/../admin//x.php?id=%31");
  EXPECT_EQ(m[0][Buffer::http_host], "shop.example");
  EXPECT_EQ(m[0][Buffer::http_user_agent], "Mozilla/5.0");
  EXPECT_EQ(m[0][Buffer::http_cookie], "s=1");
  EXPECT_EQ(m[0][Buffer::http_header_names], "\r\nHost\r\nUser-Agent\r\nCookie\r\n\r\n");
  EXPECT_EQ(m[0].app, AppProto::http);
  EXPECT_TRUE(m[0].to_server);
  EXPECT_EQ(t.got.back().app, AppProto::http);
  // The milestone comes before the packet that completed it.
  EXPECT_FALSE(t.got[t.got.size() - 2].packet);
  EXPECT_TRUE(t.got.back().packet);
  t.got.clear();
  t.feed(c.s(0, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbo"));
  t.feed(c.s(40, "dy"));
  m = t.milestones();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0][Buffer::http_stat_code], "200");
  EXPECT_EQ(m[1][Buffer::http_response_body], "body");
  EXPECT_EQ(m[1][Buffer::http_uri], "/admin/x.php?id=1");
  EXPECT_FALSE(m[1].to_server);
}

TEST(IdsFlow, AFinEndsABodyDelimitedByTheClose) {
  Table t;
  Conn c;
  c.handshake(t);
  t.feed(c.c(0, "GET / HTTP/1.0\r\n\r\n"));
  t.feed(c.s(0, "HTTP/1.0 200 OK\r\n\r\nuntil-close"));
  t.got.clear();
  t.feed(c.ev(false, tcp::fin | tcp::ack, c.sseq + 1 + 30, ""));
  auto m = t.milestones();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0][Buffer::http_response_body], "until-close");
}

TEST(IdsFlow, AFlowThatEndedLeavesNothingToTheNextOne) {
  FlowTableConfig cfg;
  cfg.shards = 1;  // both flows in one shard: the second takes what the first gave back
  Table t(cfg);
  Conn a;
  a.handshake(t);
  // Ended in the middle of a request body and a response head.
  std::string req =
      "POST /old HTTP/1.1\r\nHost: a.example\r\nX-Old: 1\r\nContent-Length: 50\r\n\r\nleft";
  std::string resp = "HTTP/1.1 200 OK\r\nX-Half: ";
  PacketEvent e = a.c(0, req);
  e.l7 = AppProto::http;
  t.feed(e);
  t.feed(a.s(0, resp));
  t.feed(a.ev(true, tcp::fin | tcp::ack, a.cseq + 1 + static_cast<uint32_t>(req.size()), ""));
  t.feed(a.ev(false, tcp::fin | tcp::ack, a.sseq + 1 + static_cast<uint32_t>(resp.size()), ""));
  // A late ACK of the ended flow: a packet, nothing else.
  t.got.clear();
  t.feed(a.ev(true, tcp::ack, a.cseq + 2 + static_cast<uint32_t>(req.size()), ""));
  ASSERT_EQ(t.got.size(), 1u);
  EXPECT_TRUE(t.got[0].packet);
  EXPECT_EQ(t.got[0].stream, "");

  Conn b;
  b.id = 9;
  b.client_last = 9;
  b.handshake(t);
  t.got.clear();
  std::string get = "GET /new HTTP/1.1\r\nHost: b.example\r\n\r\n";
  PacketEvent g = b.c(0, get);
  g.l7 = AppProto::http;
  t.feed(g);
  t.feed(b.s(0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  // Each milestone's buffers are the new connection's alone.
  const std::vector<std::map<Buffer, std::string>> want = {
      {{Buffer::http_uri, "/new"},
       {Buffer::http_header_names, "\r\nHost\r\n\r\n"},
       {Buffer::http_request_body, "<absent>"}},
      {{Buffer::http_header, "Content-Length: 2\r\n"}, {Buffer::http_uri, "/new"}},
      {{Buffer::http_response_body, "ok"}}};
  const auto m = t.milestones();
  ASSERT_EQ(m.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    for (const auto& [b, v] : want[i]) EXPECT_EQ(m[i][b], v) << i << " " << static_cast<int>(b);
  auto p = t.packets();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].stream, get);
  EXPECT_EQ(t.t.stats().app.total(), 0u);
  EXPECT_EQ(t.t.size(), 2u);
}

TEST(IdsFlow, EncryptedTlsIsPassedOverUnlessAskedFor) {
  for (bool inspect : {false, true}) {
    FlowTableConfig cfg;
    cfg.inspect_encrypted = inspect;
    Table t(cfg);
    Conn c;
    c.dport = 443;
    c.handshake(t);
    const std::string hello = test::tls_record(test::client_hello("a.example"));
    const std::string server = test::tls_record(std::string(700, 'C'));
    const std::string data = test::tls_record("evil-bytes", 0x17);
    const std::string more = test::tls_record("evil-again", 0x17);
    t.feed(c.c(0, hello));
    t.feed(c.s(0, server));
    t.got.clear();
    t.feed(c.c(static_cast<uint32_t>(hello.size()), data));
    // The packet that turned the direction encrypted is inspected whole.
    auto p = t.packets();
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].payload, data);
    t.got.clear();
    t.feed(c.c(static_cast<uint32_t>(hello.size() + data.size()), more));
    p = t.packets();
    ASSERT_EQ(p.size(), 1u) << inspect;
    EXPECT_EQ(p[0].dsize, more.size());
    if (inspect) {
      EXPECT_EQ(p[0].payload, more);
      EXPECT_EQ(p[0].fresh, more);
      EXPECT_EQ(t.t.stats().encrypted_bytes, 0u);
    } else {
      EXPECT_EQ(p[0][Buffer::payload], "<absent>");
      EXPECT_EQ(p[0].stream, "");
      EXPECT_EQ(t.t.stats().encrypted_bytes, more.size());
      // Bytes the capture left out are counted with them, not as a gap.
      const std::string last = test::tls_record(std::string(900, 'x'), 0x17);
      t.feed(c.c(static_cast<uint32_t>(hello.size() + data.size() + more.size()),
                 std::string_view(last).substr(0, 100), static_cast<uint32_t>(last.size())));
      EXPECT_EQ(t.t.stats().encrypted_bytes, more.size() + last.size());
      EXPECT_EQ(t.t.stats().gaps, 0u);
    }
    // The server's direction is not encrypted until its own application data.
    t.got.clear();
    t.feed(c.s(static_cast<uint32_t>(server.size()), "plain"));
    p = t.packets();
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].payload, "plain");
  }
}

TEST(IdsFlow, MalformedApplicationDataIsCountedNotFatal) {
  Table t;
  Conn c;
  c.handshake(t);
  const std::string not_hello("\x16\x03\x01\x00\x04\x02\x00\x00\x00", 9);
  PacketEvent e = c.c(0, not_hello);
  t.feed(e);
  EXPECT_EQ(t.t.stats().app[Malformed::tls_bad_hello], 1u);
  Conn d;
  d.id = 8;
  d.client_last = 8;
  d.handshake(t);
  t.feed(d.c(0, "GET / HTTP/1.1\r\n" + std::string(20000, 'h')));
  EXPECT_EQ(t.t.stats().app[Malformed::http_head_too_large], 1u);
  EXPECT_EQ(t.t.stats().app.total(), 2u);
  EXPECT_EQ(t.t.size(), 2u);
}

}  // namespace
}  // namespace rampart::ids

// SPDX-License-Identifier: Apache-2.0
// tc_ids under BPF_PROG_TEST_RUN (root): flows sampled at their tier's
// rate, whole and both ways; the application protocol named from the
// payload; the event's fields and payload; backpressure cutting the rate,
// then keeping to followed flows, every packet left out counted.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "ids_program.hpp"
#include "packet_builder.hpp"
#include "privilege.hpp"

namespace rampart::test {
namespace {

constexpr int kTcNext = -1;  // what the stage returns: on to the next filter

ids::StageSettings settings(double percent) {
  ids::StageSettings s;
  s.rates[0] = ids::rate_ppm(percent);
  s.seed = 0x5eed5eed12345678ull;
  s.capture = 512;
  return s;
}

std::string v4(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

net::Cidr cidr(const std::string& s) {
  std::string err;
  auto c = net::parse_cidr(s, err);
  if (!c) throw std::invalid_argument(err);
  return *c;
}

// A UDP packet of flow `i` of a set: source in `base` + i's low bits.
std::vector<uint8_t> flow_packet(uint32_t base, uint32_t i, bool reply = false) {
  const std::string client = v4(base + (i & 0xffff)), server = "192.0.2.10";
  const uint16_t port = static_cast<uint16_t>(1024 + (i >> 16) * 7 + (i % 50000));
  PacketBuilder b;
  if (reply)
    b.ipv4(server, client).udp(53, port);
  else
    b.ipv4(client, server).udp(port, 53);
  return b.payload(0).build();
}

class IdsStage : public ::testing::Test {
 protected:
  void SetUp() override { RAMPART_REQUIRE_ROOT(); }
};

TEST_F(IdsStage, SamplesFlowsAtTheRateWithinFivePercentAndSeesASampledFlowBothWays) {
  for (const double percent : {10.0, 50.0}) {
    IdsProgram p(settings(percent));
    constexpr uint32_t kFlows = 100'000;
    std::set<uint64_t> sampled_ids;
    std::vector<bool> sampled(kFlows);
    for (uint32_t i = 0; i < kFlows; ++i) {
      ASSERT_EQ(p.run(flow_packet(0x0a000000u + (i & 0xff0000u), i)), kTcNext);
      if (i % 4096 == 4095 || i + 1 == kFlows) {
        for (const auto& r : p.drain()) sampled_ids.insert(r.ev.flow_id);
      }
    }
    const double expected = kFlows * percent / 100.0;
    const uint64_t sent = p.stat(RAMPART_IDS_STAT_SENT);
    EXPECT_NEAR(static_cast<double>(sent), expected, expected * 0.05) << percent << "%";
    EXPECT_EQ(sent + p.stat(RAMPART_IDS_STAT_UNSAMPLED), kFlows);
    EXPECT_EQ(sampled_ids.size(), sent) << "every sampled flow has an id of its own";

    // The replies, seen at egress: sampled exactly when their flow was,
    // under the same flow id.
    uint32_t both = 0, one = 0;
    for (uint32_t i = 0; i < 3000; ++i) {
      const auto before = p.stat(RAMPART_IDS_STAT_SENT);
      p.run(flow_packet(0x0a000000u + (i & 0xff0000u), i), false);
      const auto fwd = p.drain();
      p.run(flow_packet(0x0a000000u + (i & 0xff0000u), i, true), true);
      const auto back = p.drain();
      ASSERT_EQ(fwd.size(), back.size()) << "flow " << i;
      if (!fwd.empty()) {
        EXPECT_EQ(fwd[0].ev.flow_id, back[0].ev.flow_id);
        EXPECT_TRUE(back[0].ev.flags & RAMPART_IDS_EV_EGRESS);
        EXPECT_FALSE(fwd[0].ev.flags & RAMPART_IDS_EV_EGRESS);
        ++both;
      } else {
        ++one;
      }
      ASSERT_EQ(p.stat(RAMPART_IDS_STAT_SENT) - before, fwd.size() * 2);
    }
    EXPECT_GT(both, 0u);
    EXPECT_GT(one, 0u);
  }
}

TEST_F(IdsStage, ACountrysTierHasItsOwnRateAndTheRemoteEndDecidesIt) {
  ids::StageSettings s = settings(5);
  s.rates[1] = ids::rate_ppm(50);
  s.tiers = {{cidr("10.1.0.0/16"), 1}, {cidr("2001:db8:1::/48"), 1}};
  IdsProgram p(s);
  auto count_sent = [&](uint32_t base, uint32_t n, bool egress) {
    const uint64_t before = p.stat(RAMPART_IDS_STAT_SENT);
    for (uint32_t i = 0; i < n; ++i) {
      p.run(flow_packet(base, i * 7919u % 65536u + (i / 65536u), egress), egress);
      if (i % 4096 == 4095) p.drain();
    }
    p.drain();
    return static_cast<double>(p.stat(RAMPART_IDS_STAT_SENT) - before);
  };
  constexpr uint32_t kFlows = 20'000;
  EXPECT_NEAR(count_sent(0x0a010000u, kFlows, false), kFlows * 0.5, kFlows * 0.5 * 0.05);
  EXPECT_NEAR(count_sent(0x0a020000u, 2 * kFlows, false), 2 * kFlows * 0.05,
              2 * kFlows * 0.05 * 0.05);
  // At egress the remote end is the destination: replies to 10.1/16 are tier 1.
  EXPECT_NEAR(count_sent(0x0a010000u, kFlows, true), kFlows * 0.5, kFlows * 0.5 * 0.05);

  // An IPv6 flow from the tier's network carries its tier in the event.
  ids::StageSettings s2 = settings(0);
  s2.rates[1] = ids::rate_ppm(100);
  s2.tiers = {{cidr("2001:db8:1::/48"), 1}};
  IdsProgram p6(s2);
  p6.run(PacketBuilder().ipv6("2001:db8:1::5", "2001:db8:ff::1").tcp(4000, 80, 0x02).build());
  p6.run(PacketBuilder().ipv6("2001:db8:2::5", "2001:db8:ff::1").tcp(4000, 80, 0x02).build());
  const auto got = p6.drain();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].ev.tier, 1);
  EXPECT_EQ(got[0].ev.family, RAMPART_FAMILY_V6);
  EXPECT_EQ(p6.stat(RAMPART_IDS_STAT_UNSAMPLED), 1u);
}

TEST_F(IdsStage, NamesEachApplicationProtocolFromThePayload) {
  struct Case {
    const char* what;
    uint8_t proto;
    uint16_t sport, dport;
    std::string payload;
    uint8_t l7;
  };
  const std::string client_hello("\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03", 11);
  const std::string server_hello("\x16\x03\x03\x00\x5a\x02\x00\x00\x56\x03\x03", 11);
  std::string dns_tcp("\x00\x1d\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 14);
  dns_tcp += std::string(
      "\x07"
      "example\x03"
      "com\x00\x00\x01\x00\x01",
      17);
  dns_tcp[1] = static_cast<char>(dns_tcp.size() - 2);
  const std::vector<Case> cases = {
      {"GET", 6, 40000, 80, "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n", RAMPART_IDS_L7_HTTP},
      {"POST", 6, 40000, 8080, "POST /login HTTP/1.1\r\n", RAMPART_IDS_L7_HTTP},
      {"OPTIONS", 6, 40000, 80, "OPTIONS * HTTP/1.1\r\n", RAMPART_IDS_L7_HTTP},
      {"response", 6, 80, 40000, "HTTP/1.1 200 OK\r\n", RAMPART_IDS_L7_HTTP},
      {"ClientHello", 6, 40000, 443, client_hello, RAMPART_IDS_L7_TLS},
      {"ServerHello", 6, 443, 40000, server_hello, RAMPART_IDS_L7_TLS},
      {"SSH banner", 6, 40000, 22, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", RAMPART_IDS_L7_SSH},
      {"SMTP EHLO", 6, 40000, 25, "EHLO client.example\r\n", RAMPART_IDS_L7_SMTP},
      {"SMTP banner", 6, 25, 40000, "220 mx.example ESMTP\r\n", RAMPART_IDS_L7_SMTP},
      {"FTP banner", 6, 21, 40000, "220 ProFTPD ready\r\n", RAMPART_IDS_L7_FTP},
      {"FTP USER", 6, 40000, 21, "USER anonymous\r\n", RAMPART_IDS_L7_FTP},
      {"POP3 USER", 6, 40000, 110, "USER alice\r\n", RAMPART_IDS_L7_POP3},
      {"POP3 banner", 6, 110, 40000, "+OK POP3 ready\r\n", RAMPART_IDS_L7_POP3},
      {"IMAP banner", 6, 143, 40000, "* OK IMAP4rev1 ready\r\n", RAMPART_IDS_L7_IMAP},
      {"IMAP LOGIN", 6, 40000, 143, "a001 LOGIN alice secret\r\n", RAMPART_IDS_L7_IMAP},
      {"DNS over TCP", 6, 40000, 53, dns_tcp, RAMPART_IDS_L7_DNS},
      {"binary", 6, 40000, 80, std::string("\x00\x01\x02\x03\x04\x05", 6), RAMPART_IDS_L7_UNKNOWN},
      {"almost GET", 6, 40000, 80, "GETX / HTTP/1.1\r\n", RAMPART_IDS_L7_UNKNOWN},
      {"220 elsewhere", 6, 2121, 40000, "220 hello\r\n", RAMPART_IDS_L7_UNKNOWN},
      {"USER elsewhere", 6, 40000, 2121, "USER alice\r\n", RAMPART_IDS_L7_UNKNOWN},
      {"short", 6, 40000, 80, "GE", RAMPART_IDS_L7_UNKNOWN},
      {"DNS length lies", 6, 40000, 53, dns_tcp + "x", RAMPART_IDS_L7_UNKNOWN},
  };
  IdsProgram p(settings(100));
  for (const auto& c : cases) {
    p.run(PacketBuilder()
              .ipv4("198.51.100.7", "192.0.2.10")
              .tcp(c.sport, c.dport, 0x18)
              .payload(c.payload)
              .build());
    const auto got = p.drain();
    ASSERT_EQ(got.size(), 1u) << c.what;
    EXPECT_EQ(got[0].ev.l7, c.l7) << c.what;
    EXPECT_EQ(got[0].payload, c.payload) << c.what;
  }
}

TEST_F(IdsStage, EventsCarryTheHeadersAndTheCapturedPayload) {
  IdsProgram p(settings(100));
  std::string body(700, 'x');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  const auto frame = PacketBuilder()
                         .ipv4("198.51.100.7", "192.0.2.10")
                         .tcp(40001, 80, 0x18)
                         .tcp_seq(0x01020304, 0xa0b0c0d0)
                         .payload(body)
                         .build();
  EXPECT_EQ(p.run(frame), kTcNext);
  EXPECT_EQ(p.run(frame), kTcNext);
  const auto got = p.drain();
  ASSERT_EQ(got.size(), 2u);
  const auto& e = got[0].ev;
  EXPECT_EQ(e.hdr.type, RAMPART_EV_IDS_PACKET);
  EXPECT_EQ(e.family, RAMPART_FAMILY_V4);
  EXPECT_EQ(e.ip_proto, 6);
  EXPECT_EQ(e.sport, 40001);
  EXPECT_EQ(e.dport, 80);
  EXPECT_EQ(e.seq, 0x01020304u);
  EXPECT_EQ(e.ack, 0xa0b0c0d0u);
  EXPECT_EQ(e.tcp_flags, 0x18);
  EXPECT_EQ(e.ttl, 64);
  EXPECT_EQ(e.payload_len, 700);
  EXPECT_EQ(e.captured, 512);
  EXPECT_EQ(got[0].payload, body.substr(0, 512));
  EXPECT_TRUE(e.flags & RAMPART_IDS_EV_TRUNCATED);
  EXPECT_TRUE(e.flags & RAMPART_IDS_EV_NEW_FLOW);
  EXPECT_FALSE(got[1].ev.flags & RAMPART_IDS_EV_NEW_FLOW) << "the flow is followed by then";
  EXPECT_EQ(got[1].ev.flow_id, e.flow_id);
  const uint8_t src[4] = {198, 51, 100, 7}, dst[4] = {192, 0, 2, 10};
  EXPECT_EQ(std::memcmp(e.src, src, 4), 0);
  EXPECT_EQ(std::memcmp(e.dst, dst, 4), 0);
  EXPECT_EQ(p.stat(RAMPART_IDS_STAT_TRUNCATED), 2u);

  // A frame padded past the IP length: the payload is the IP header's.
  auto padded =
      PacketBuilder().ipv4("198.51.100.7", "192.0.2.10").udp(5000, 53).payload("q").build();
  padded.resize(padded.size() + 20, 0);
  p.run(padded);
  auto small = p.drain();
  ASSERT_EQ(small.size(), 1u);
  EXPECT_EQ(small[0].ev.payload_len, 1);
  EXPECT_EQ(small[0].payload, "q");
  EXPECT_FALSE(small[0].ev.flags & RAMPART_IDS_EV_TRUNCATED);

  // ICMP: type and code; IPv6 addresses whole.
  p.run(PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").icmp().payload(8).build());
  const auto icmp = p.drain();
  ASSERT_EQ(icmp.size(), 1u);
  EXPECT_EQ(icmp[0].ev.ip_proto, 58);
  EXPECT_EQ(icmp[0].ev.icmp_type, 128);
  EXPECT_EQ(icmp[0].ev.src[15], 1);
  EXPECT_EQ(icmp[0].ev.dst[15], 2);
  EXPECT_EQ(icmp[0].ev.src[0], 0x20);
}

TEST_F(IdsStage, FramesItCannotFollowPassUntouchedAndCounted) {
  IdsProgram p(settings(100));
  EXPECT_EQ(p.run(PacketBuilder().ethertype(0x0806).build()), kTcNext);
  EXPECT_EQ(
      p.run(PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).fragment_offset(10).build()),
      kTcNext);
  auto bad = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build();
  bad[14] = 0x44;  // IPv4 with a header of 4 words: less than the header itself
  EXPECT_EQ(p.run(bad), kTcNext);
  EXPECT_EQ(p.stat(RAMPART_IDS_STAT_NOT_IP), 1u);
  EXPECT_EQ(p.stat(RAMPART_IDS_STAT_FRAGMENT), 1u);
  EXPECT_EQ(p.stat(RAMPART_IDS_STAT_MALFORMED), 1u);
  EXPECT_TRUE(p.drain().empty());
}

TEST_F(IdsStage, UnderBackpressureItCutsTheRateThenSendsOnlyFollowedFlows) {
  ids::StageSettings s = settings(100);
  s.ring_bytes = 256 << 10;
  s.capture = 1400;
  s.shed_pct = 50;
  s.shed_shift = 2;  // a quarter of the flows
  s.followed_pct = 80;
  IdsProgram p(s);
  const auto big = PacketBuilder()
                       .ipv4("198.51.100.7", "192.0.2.10")
                       .tcp(40001, 80, 0x18)
                       .payload(std::string(1400, 'z'))
                       .build();
  const size_t record = (sizeof(rampart_ids_event) + 1400 + 8 + 7) / 8 * 8;
  auto fill_to = [&](double share) {
    const size_t n = static_cast<size_t>(share * s.ring_bytes / record) + 1;
    for (size_t i = 0; i < n; ++i) p.run(big);
  };
  fill_to(0.55);
  ASSERT_EQ(p.stat(RAMPART_IDS_STAT_RING_FULL), 0u);

  // Past shed_pct: a new flow is taken at a quarter of the rate.
  constexpr uint32_t kProbes = 400;
  const uint64_t sent_before = p.stat(RAMPART_IDS_STAT_SENT);
  for (uint32_t i = 0; i < kProbes; ++i) p.run(flow_packet(0x0b000000u, i));
  const uint64_t shed = p.stat(RAMPART_IDS_STAT_SHED_RATE);
  const uint64_t taken = p.stat(RAMPART_IDS_STAT_SENT) - sent_before;
  EXPECT_EQ(shed + taken, kProbes);
  EXPECT_NEAR(static_cast<double>(taken), kProbes * 0.25, kProbes * 0.25 * 0.3);
  EXPECT_EQ(p.stat(RAMPART_IDS_STAT_SHED_NEW), 0u);

  // Past followed_pct: no new flow; the followed one still goes.
  fill_to(0.30);
  const uint64_t followed_before = p.stat(RAMPART_IDS_STAT_SENT);
  for (uint32_t i = 0; i < 100; ++i) p.run(flow_packet(0x0c000000u, i));
  EXPECT_EQ(p.stat(RAMPART_IDS_STAT_SHED_NEW), 100u);
  EXPECT_EQ(p.stat(RAMPART_IDS_STAT_SENT), followed_before);
  p.run(big);
  EXPECT_EQ(p.stat(RAMPART_IDS_STAT_SENT), followed_before + 1) << "a followed flow goes on";

  // Full: counted, never silent.
  for (int i = 0; i < 200 && p.stat(RAMPART_IDS_STAT_RING_FULL) == 0; ++i) p.run(big);
  EXPECT_GT(p.stat(RAMPART_IDS_STAT_RING_FULL), 0u);

  // Drained: new flows are taken at the whole rate again, and every one
  // sent while the ring was past shed_pct was marked so.
  const auto records = p.drain();
  size_t marked = 0;
  for (const auto& r : records) marked += (r.ev.flags & RAMPART_IDS_EV_SHEDDING) != 0;
  EXPECT_GE(marked, taken);
  const uint64_t after = p.stat(RAMPART_IDS_STAT_SENT);
  for (uint32_t i = 0; i < 50; ++i) p.run(flow_packet(0x0d000000u, i));
  EXPECT_EQ(p.stat(RAMPART_IDS_STAT_SENT), after + 50);
}

}  // namespace
}  // namespace rampart::test

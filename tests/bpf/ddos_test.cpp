// SPDX-License-Identifier: Apache-2.0
// xdp_ddos under BPF_PROG_TEST_RUN (root): SYN cookie SYN-ACKs written by
// the stage and read back whole, the kernel's own check of their cookies,
// cookie mode starting at the threshold and ending after the hold, and
// the frames it must leave alone.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include "ddos_program.hpp"
#include "netns_lab.hpp"
#include "packet_builder.hpp"
#include "privilege.hpp"
#include "tcp_frames.hpp"

namespace rampart::test {
namespace {

constexpr uint8_t kSyn = 0x02, kAck = 0x10, kSynAck = 0x12, kRst = 0x04;

// Runs f on a thread in a network namespace of its own with lo up: the
// stage's socket lookups (test_run's device is that namespace's lo) see
// only the sockets f makes.
template <class F>
auto in_fresh_netns(F f) {
  return std::async(std::launch::async,
                    [&] {
                      if (unshare(CLONE_NEWNET) != 0)
                        throw std::runtime_error("unshare(CLONE_NEWNET) failed");
                      const int s = socket(AF_INET, SOCK_DGRAM, 0);
                      ifreq r{};
                      std::strcpy(r.ifr_name, "lo");
                      ioctl(s, SIOCGIFFLAGS, &r);
                      r.ifr_flags |= IFF_UP;
                      ioctl(s, SIOCSIFFLAGS, &r);
                      close(s);
                      return f();
                    })
      .get();
}

// The frame test_run gave back, without the metadata in front of it.
std::vector<uint8_t> frame_of(const XdpRunResult& r) {
  return {r.out.begin() + r.meta_size, r.out.end()};
}

// A listener on every address on `port` (0: the kernel picks); returns
// its fd and sets `port`.
int listen_any(int family, uint16_t& port) {
  const int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM, 0);
  sockaddr_storage a{};
  socklen_t len;
  if (family == 4) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  }
  const int yes = 1;
  if (family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &yes, sizeof yes);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(fd, 16) != 0)
    throw std::runtime_error("listen failed");
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(family == 4 ? reinterpret_cast<sockaddr_in*>(&a)->sin_port
                           : reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
  return fd;
}

class DdosStage : public ::testing::Test {
 protected:
  // The stage's windows are per CPU and its settings say one CPU: every
  // packet of a test runs where the first did, so that a test the
  // scheduler would move (a sanitizer's, through a thousand packets)
  // counts in one window, not in two.
  void SetUp() override {
    RAMPART_REQUIRE_ROOT();
    ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof was_, &was_), 0);
    cpu_set_t here;
    CPU_ZERO(&here);
    CPU_SET(sched_getcpu(), &here);
    ASSERT_EQ(pthread_setaffinity_np(pthread_self(), sizeof here, &here), 0);
  }
  void TearDown() override { pthread_setaffinity_np(pthread_self(), sizeof was_, &was_); }
  cpu_set_t was_{};

  // The SYN, its SYN-ACK as the stage wrote it (checked: XDP_TX, checksums).
  TcpSeen answer(DdosProgram& p, const TcpSpec& syn) {
    const auto r = p.run(tcp_frame(syn));
    EXPECT_EQ(r.action, XDP_TX);
    TcpSeen seen = read_tcp_frame(frame_of(r));
    if (!seen.ok) {
      std::string hex;
      for (uint8_t b : r.out) hex += "0123456789abcdef"[b >> 4], hex += "0123456789abcdef"[b & 15];
      ADD_FAILURE() << "the SYN-ACK does not read back: " << hex;
    }
    return seen;
  }
  // The ACK a client sends for that SYN-ACK.
  static TcpSpec ack_for(const TcpSpec& syn, const TcpSeen& synack) {
    TcpSpec a = syn;
    a.flags = kAck;
    a.seq = syn.seq + 1;
    a.ack = synack.seq + 1;
    a.mss.reset();
    a.wscale.reset();
    a.sack = false;
    if (syn.tsval && synack.tsval) {
      a.tsval = *syn.tsval + 1;
      a.tsecr = *synack.tsval;
    } else {
      a.tsval.reset();
    }
    return a;
  }
};

TEST_F(DdosStage, ASynInCookieModeIsAnsweredWithTheKernelsCookieAndItsOptionsKept) {
  in_fresh_netns([&] {
    uint16_t port8080 = 8080;
    const int l8080 = listen_any(4, port8080);
    DdosProgram p;
    p.install(DdosProgram::test_settings(RAMPART_DDOS_SYN_ALWAYS));
    p.set_clock(5'000'000'000ull, 0);
    TcpSpec syn;
    syn.payload = 12;  // a SYN with data (TFO-like): the answer carries none
    const TcpSeen sa = answer(p, syn);
    ASSERT_TRUE(sa.ok) << "the SYN-ACK's checksums or layout are wrong";
    EXPECT_EQ(sa.src, "198.18.0.2");
    EXPECT_EQ(sa.dst, "198.18.0.1");
    EXPECT_EQ(sa.sport, 8080);
    EXPECT_EQ(sa.dport, 40000);
    EXPECT_EQ(sa.flags, kSynAck);
    EXPECT_EQ(sa.ack, syn.seq + 1);
    EXPECT_EQ(sa.payload, 0u);
    EXPECT_EQ(sa.dst_mac[5], 0x01);  // back to the sender
    EXPECT_EQ(sa.src_mac[5], 0x02);
    ASSERT_TRUE(sa.mss);
    EXPECT_EQ(*sa.mss, 1460);
    ASSERT_TRUE(sa.tsval && sa.tsecr);
    EXPECT_EQ(*sa.tsecr, *syn.tsval);
    // What the SYN asked for rides in the timestamp's low byte.
    EXPECT_EQ(*sa.tsval & RAMPART_DDOS_TS_WSCALE_MASK, 7u);
    EXPECT_TRUE(*sa.tsval & RAMPART_DDOS_TS_SACK);
    EXPECT_EQ((*sa.tsval & RAMPART_DDOS_TS_BITS) >> RAMPART_DDOS_TS_MSS_SHIFT, 3u);  // 1460
    EXPECT_TRUE(sa.sack);
    ASSERT_TRUE(sa.wscale);
    EXPECT_EQ(*sa.wscale, RAMPART_DDOS_OUR_WSCALE);
    EXPECT_EQ(sa.window, 14600);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_COOKIES_SENT), 1u);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_SYN_PASSED), 0u);

    // Another client, another cookie; the same client again, the same one.
    TcpSpec other = syn;
    other.sport = 40001;
    EXPECT_NE(answer(p, other).seq, sa.seq);
    EXPECT_EQ(answer(p, syn).seq, sa.seq);
    close(l8080);
  });
}

TEST_F(DdosStage, TheCookiesAckPassesMarkedForTcAndABadOneIsDropped) {
  in_fresh_netns([&] {
    DdosProgram p;
    p.install(DdosProgram::test_settings(RAMPART_DDOS_SYN_ALWAYS));
    uint16_t port = 0;
    const int l = listen_any(4, port);
    TcpSpec syn;
    syn.dport = port;
    const TcpSeen sa = answer(p, syn);
    ASSERT_TRUE(sa.ok);

    auto r = p.run(tcp_frame(ack_for(syn, sa)));
    EXPECT_EQ(r.action, XDP_PASS);
    ASSERT_TRUE(r.has_meta);
    EXPECT_TRUE(r.meta.flags & RAMPART_META_SYNCOOKIE);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_ACK_VALID), 1u);

    TcpSpec bad = ack_for(syn, sa);
    bad.ack += 1;  // a cookie off by one
    EXPECT_EQ(p.run(tcp_frame(bad)).action, XDP_DROP);
    bad = ack_for(syn, sa);
    bad.sport += 1;  // the right cookie from another connection
    EXPECT_EQ(p.run(tcp_frame(bad)).action, XDP_DROP);
    bad = ack_for(syn, sa);
    bad.seq += 7;  // the client's sequence is part of the cookie
    EXPECT_EQ(p.run(tcp_frame(bad)).action, XDP_DROP);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_ACK_DROPPED), 3u);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_ACK_CHECKED), 4u);

    // An RST, a FIN-less data ACK with no listener behind it: not ours.
    TcpSpec rst = ack_for(syn, sa);
    rst.flags = kRst | kAck;
    rst.ack += 99;
    EXPECT_EQ(p.run(tcp_frame(rst)).action, XDP_PASS);
    close(l);
    TcpSpec nobody = bad;  // the listener is gone: the kernel answers
    EXPECT_EQ(p.run(tcp_frame(nobody)).action, XDP_PASS);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_ACK_CHECKED), 4u);
  });
}

TEST_F(DdosStage, AnAckOfAConnectionTheKernelHasIsNotChecked) {
  in_fresh_netns([&] {
    DdosProgram p;
    p.install(DdosProgram::test_settings(RAMPART_DDOS_SYN_ALWAYS));
    uint16_t port = 0;
    const int l = listen_any(4, port);
    const int c = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
      throw std::runtime_error("connect failed");
    sockaddr_in me{};
    socklen_t len = sizeof me;
    getsockname(c, reinterpret_cast<sockaddr*>(&me), &len);
    TcpSpec a;
    a.src = a.dst = "127.0.0.1";
    a.sport = ntohs(me.sin_port);
    a.dport = port;
    a.flags = kAck;
    a.ack = 12345;  // no cookie at all
    a.mss.reset();
    EXPECT_EQ(p.run(tcp_frame(a)).action, XDP_PASS);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_ACK_KNOWN), 1u);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_ACK_CHECKED), 0u);
    close(c);
    close(l);
  });
}

TEST_F(DdosStage, Ipv6CookiesRoundTrip) {
  in_fresh_netns([&] {
    DdosProgram p;
    p.install(DdosProgram::test_settings(RAMPART_DDOS_SYN_ALWAYS));
    uint16_t port = 0;
    const int l = listen_any(6, port);
    TcpSpec syn;
    syn.family = 6;
    syn.src = "2001:db8::1";
    syn.dst = "2001:db8::2";
    syn.dport = port;
    syn.mss = 1440;
    const TcpSeen sa = answer(p, syn);
    ASSERT_TRUE(sa.ok);
    EXPECT_EQ(sa.src, "2001:db8::2");
    EXPECT_EQ(sa.ack, syn.seq + 1);
    ASSERT_TRUE(sa.mss && sa.tsval);
    EXPECT_EQ(*sa.mss, 1440);
    EXPECT_EQ((*sa.tsval & RAMPART_DDOS_TS_BITS) >> RAMPART_DDOS_TS_MSS_SHIFT, 2u);
    const auto r = p.run(tcp_frame(ack_for(syn, sa)));
    EXPECT_EQ(r.action, XDP_PASS);
    EXPECT_TRUE(r.meta.flags & RAMPART_META_SYNCOOKIE);
    TcpSpec bad = ack_for(syn, sa);
    bad.ack ^= 0x100;
    EXPECT_EQ(p.run(tcp_frame(bad)).action, XDP_DROP);
    close(l);
  });
}

TEST_F(DdosStage, WithoutTimestampsOrWhatTheHostRefusesOnlyTheMssIsOffered) {
  in_fresh_netns([&] {
    uint16_t port8080 = 8080;
    const int l8080 = listen_any(4, port8080);
    DdosProgram p;
    p.install(DdosProgram::test_settings(RAMPART_DDOS_SYN_ALWAYS));
    TcpSpec syn;
    syn.tsval.reset();  // window scale and SACK asked, but no timestamp to keep them in
    syn.mss = 1300;
    TcpSeen sa = answer(p, syn);
    ASSERT_TRUE(sa.ok);
    ASSERT_TRUE(sa.mss);
    EXPECT_EQ(*sa.mss, 1300);
    EXPECT_FALSE(sa.tsval);
    EXPECT_FALSE(sa.wscale);
    EXPECT_FALSE(sa.sack);

    // A host with tcp_timestamps=0 takes no timestamp in the ACK: none offered.
    auto s = DdosProgram::test_settings(RAMPART_DDOS_SYN_ALWAYS);
    s.options = RAMPART_DDOS_OPT_SACK | RAMPART_DDOS_OPT_WSCALE;
    p.install(s);
    sa = answer(p, TcpSpec{});
    ASSERT_TRUE(sa.ok);
    EXPECT_FALSE(sa.tsval);
    EXPECT_FALSE(sa.wscale);

    // Windows' layout (MSS, NOP, window scale, NOP, NOP, SACK permitted), no
    // timestamp: only the MSS offered, as for any SYN without one.
    p.install(DdosProgram::test_settings(RAMPART_DDOS_SYN_ALWAYS));
    syn = TcpSpec{};
    syn.raw_options = {2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2};
    sa = answer(p, syn);
    ASSERT_TRUE(sa.ok && sa.mss);
    EXPECT_EQ(*sa.mss, 1460);
    EXPECT_FALSE(sa.tsval);
    EXPECT_FALSE(sa.wscale);
    EXPECT_FALSE(sa.sack);
    // macOS' (MSS, NOP, window scale, NOP, NOP, timestamps, SACK permitted,
    // EOL): the general walk finds all of it.
    syn.raw_options = {2, 4, 0x05, 0xb4, 1, 3, 3, 6, 1, 1, 8, 10,
                       0, 0, 0,    9,    0, 0, 0, 0, 4, 2, 0, 0};
    sa = answer(p, syn);
    ASSERT_TRUE(sa.ok && sa.mss && sa.tsval && sa.tsecr && sa.wscale);
    EXPECT_EQ(*sa.tsecr, 9u);
    EXPECT_EQ(*sa.tsval & RAMPART_DDOS_TS_WSCALE_MASK, 6u);
    EXPECT_TRUE(*sa.tsval & RAMPART_DDOS_TS_SACK);
    EXPECT_TRUE(sa.sack);

    // No MSS at all: the kernel's default (536) is the cookie's.
    syn = TcpSpec{};
    syn.mss.reset();
    sa = answer(p, syn);
    ASSERT_TRUE(sa.ok && sa.mss);
    EXPECT_EQ(*sa.mss, 536);
    close(l8080);
  });
}

TEST_F(DdosStage, AutoModeStartsAtTheThresholdAndEndsAfterTheHold) {
  in_fresh_netns([&] {
    DdosProgram p;
    auto s = DdosProgram::test_settings(RAMPART_DDOS_SYN_AUTO);
    s.rate = 100;  // 10 a window on the one CPU
    s.hold_s = 5;
    p.install(s);
    uint16_t port = 0;
    const int l = listen_any(4, port);
    const uint64_t t0 = 100'000'000'000ull;
    p.set_clock(t0, 1'000'000);  // 1 ms a packet
    TcpSpec syn;
    syn.dport = port;
    for (int i = 0; i < 10; ++i) {
      syn.sport = static_cast<uint16_t>(41000 + i);
      EXPECT_EQ(p.run(tcp_frame(syn)).action, XDP_PASS) << "SYN " << i << " is under the threshold";
    }
    syn.sport = 41010;
    const TcpSeen sa = answer(p, syn);
    ASSERT_TRUE(sa.ok);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_SYN_PASSED), 10u);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_MODE_ENTERED), 1u);
    auto ev = p.drain_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].hdr.type, RAMPART_EV_DDOS_SYN_FLOOD);
    EXPECT_EQ(ev[0].syns, 11u);
    EXPECT_EQ(ev[0].threshold, 10u);
    EXPECT_EQ(ntohs(ev[0].dst.port), port);
    EXPECT_EQ(ev[0].dst.family, RAMPART_FAMILY_V4);

    // Another destination is not in cookie mode.
    TcpSpec other = syn;
    other.dport = static_cast<uint16_t>(port + 1);
    EXPECT_EQ(p.run(tcp_frame(other)).action, XDP_PASS);

    // 4 s on, one quiet SYN: still answered (the hold runs from the trip).
    p.set_clock(t0 + 4'000'000'000ull, 0);
    syn.sport = 42000;
    EXPECT_EQ(p.run(tcp_frame(syn)).action, XDP_TX);
    // 6 s on: the hold is over, SYNs go to the kernel again ...
    p.set_clock(t0 + 6'000'000'000ull, 0);
    EXPECT_EQ(p.run(tcp_frame(syn)).action, XDP_PASS);
    EXPECT_TRUE(p.drain_events().empty());
    // ... but cookies sent earlier are still good: their ACKs are checked.
    EXPECT_EQ(p.run(tcp_frame(ack_for(TcpSpec{syn}, sa))).action, XDP_DROP)
        << "an ACK of another SYN's cookie";
    TcpSpec tripped = syn;
    tripped.sport = 41010;
    EXPECT_EQ(p.run(tcp_frame(ack_for(tripped, sa))).action, XDP_PASS);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_ACK_VALID), 1u);
    // Past a cookie's life, ACKs are the kernel's alone again.
    p.set_clock(t0 + 5'000'000'000ull + RAMPART_DDOS_COOKIE_VALID_NS + 1'000'000'000ull, 0);
    const uint64_t checked = p.stat(RAMPART_DDOS_STAT_ACK_CHECKED);
    EXPECT_EQ(p.run(tcp_frame(ack_for(TcpSpec{syn}, sa))).action, XDP_PASS);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_ACK_CHECKED), checked);
    close(l);
  });
}

TEST_F(DdosStage, ASynNoLocalListenerTakesIsNotAnswered) {
  in_fresh_netns([&] {
    DdosProgram p;
    p.install(DdosProgram::test_settings(RAMPART_DDOS_SYN_ALWAYS));
    // Nothing listens on 8080 here (a port of a host this one forwards
    // for, or a closed one): the kernel answers, or forwards it.
    EXPECT_EQ(p.run(tcp_frame(TcpSpec{})).action, XDP_PASS);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_COOKIES_SENT), 0u);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_SYN_PASSED), 1u);
  });
}

TEST_F(DdosStage, ModeOffLeavesEverySegmentToTheKernel) {
  DdosProgram p;
  p.install(DdosProgram::test_settings(RAMPART_DDOS_SYN_OFF));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(p.run(tcp_frame(TcpSpec{})).action, XDP_PASS);
  TcpSpec a;
  a.flags = kAck;
  EXPECT_EQ(p.run(tcp_frame(a)).action, XDP_PASS);
  EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_SYN), 50u);
  EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_COOKIES_SENT), 0u);
  EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_ACK_CHECKED), 0u);
}

TEST_F(DdosStage, ASynTheFirewallDropsIsNeverAnswered) {
  in_fresh_netns([&] {
    uint16_t port8080 = 8080;
    const int l8080 = listen_any(4, port8080);
    uint16_t port8081 = 8081;
    const int l8081 = listen_any(4, port8081);
    DdosProgram p;
    firewall::Rule deny;
    deny.id = 1;
    deny.priority = 1;
    deny.action = firewall::Action::deny;
    deny.protocol = 6;
    deny.dst_port = firewall::PortRange{8080, 8080};
    p.firewall().install({deny});
    p.install(DdosProgram::test_settings(RAMPART_DDOS_SYN_ALWAYS));
    EXPECT_EQ(p.run(tcp_frame(TcpSpec{})).action, XDP_DROP);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_SYN), 0u);
    TcpSpec open = TcpSpec{};
    open.dport = 8081;
    EXPECT_EQ(p.run(tcp_frame(open)).action, XDP_TX);
    close(l8080);
    close(l8081);
  });
}

TEST_F(DdosStage, SegmentsItCannotAnswerPassAndMalformedOnesAreCounted) {
  in_fresh_netns([&] {
    uint16_t port8080 = 8080;
    const int l8080 = listen_any(4, port8080);
    DdosProgram p;
    p.install(DdosProgram::test_settings(RAMPART_DDOS_SYN_ALWAYS));
    TcpSpec opts;
    opts.ip_option_words = 2;  // IPv4 options: not answered here, the kernel's to judge
    EXPECT_EQ(p.run(tcp_frame(opts)).action, XDP_PASS);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_COOKIE_FAILED), 1u);

    auto frame = tcp_frame(TcpSpec{});
    frame[14 + 20 + 12] = 0xf0;  // doff 15: options past the frame's end
    EXPECT_EQ(p.run(frame).action, XDP_PASS);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_COOKIE_FAILED), 2u);

    // Options that lie about their lengths: the kernel's cookie reads no
    // MSS from them and takes its default; the rest is parsed as far as it
    // makes sense.
    frame = tcp_frame(TcpSpec{});
    frame[14 + 20 + 21] = 0;  // the MSS option's length 0
    const auto r = p.run(frame);
    EXPECT_EQ(r.action, XDP_TX);
    const TcpSeen sa = read_tcp_frame(frame_of(r));
    ASSERT_TRUE(sa.ok);
    EXPECT_EQ(*sa.mss, 536);

    // A TCP header cut short never reaches an answer (the firewall in
    // front drops it as malformed).
    frame = tcp_frame(TcpSpec{});
    frame.resize(14 + 20 + 10);
    frame[14 + 3] = 30;  // IPv4 total length to match
    EXPECT_NE(p.run(frame).action, XDP_TX);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_COOKIES_SENT), 1u);
    close(l8080);
  });
}

TEST_F(DdosStage, IcmpEchoesOverTheRateAreDroppedAndReportedOncePerWindow) {
  DdosProgram p;
  auto s = DdosProgram::test_settings(RAMPART_DDOS_SYN_OFF);
  s.icmp_rate = 100;  // 10 a window on the one CPU
  p.install(s);
  p.set_clock(50'000'000'000ull, 1'000'000);
  const auto echo = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").icmp().payload(56).build();
  int passed = 0;
  for (int i = 0; i < 15; ++i) passed += p.run(echo).action == XDP_PASS;
  EXPECT_EQ(passed, 10);
  EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_ICMP_ECHO), 15u);
  EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_ICMP_RATE_DROPPED), 5u);
  auto ev = p.drain_events();
  ASSERT_EQ(ev.size(), 1u) << "one record for the window, never one a drop";
  rampart_ddos_drop_event e{};
  std::memcpy(&e, &ev[0], sizeof e);
  EXPECT_EQ(e.hdr.type, RAMPART_EV_DDOS_DROPPING);
  EXPECT_EQ(e.protection, static_cast<uint32_t>(RAMPART_DDOS_PROT_ICMP));
  EXPECT_EQ(e.count, 11u);
  EXPECT_EQ(e.threshold, 10u);
  EXPECT_EQ(e.src_addr[0], 198);

  // Not an echo (destination unreachable: path MTU discovery needs it): never limited.
  auto unreachable = echo;
  unreachable[14 + 20] = 3;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p.run(unreachable).action, XDP_PASS);
  // The next window lets 10 more through.
  p.set_clock(60'000'000'000ull, 1'000'000);
  passed = 0;
  for (int i = 0; i < 12; ++i) passed += p.run(echo).action == XDP_PASS;
  EXPECT_EQ(passed, 10);
  // IPv6 echoes count in the same window.
  const auto echo6 = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").icmp().payload(56).build();
  EXPECT_EQ(p.run(echo6).action, XDP_DROP);
}

TEST_F(DdosStage, AnEchoOverTheLargestPayloadIsDropped) {
  DdosProgram p;
  auto s = DdosProgram::test_settings(RAMPART_DDOS_SYN_OFF);
  s.icmp_max_payload = 100;
  p.install(s);
  auto echo = [](int family, size_t payload) {
    return family == 4
               ? PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").icmp().payload(payload).build()
               : PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").icmp().payload(payload).build();
  };
  EXPECT_EQ(p.run(echo(4, 100)).action, XDP_PASS);
  EXPECT_EQ(p.run(echo(4, 101)).action, XDP_DROP);
  EXPECT_EQ(p.run(echo(6, 100)).action, XDP_PASS);
  EXPECT_EQ(p.run(echo(6, 1000)).action, XDP_DROP);
  // The first fragment of a larger echo: its whole size is unknown here.
  auto first = echo(4, 50);
  first[14 + 6] |= 0x20;  // more fragments
  first[14 + 10] = first[14 + 11] = 0;
  EXPECT_EQ(p.run(first).action, XDP_DROP);
  EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_ICMP_SIZE_DROPPED), 3u);
  EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_ICMP_RATE_DROPPED), 0u);
}

TEST_F(DdosStage, UdpFromAReflectorsPortIsHeldToThatPortsRate) {
  DdosProgram p;
  auto s = DdosProgram::test_settings(RAMPART_DDOS_SYN_OFF);
  s.udp_ports = {{123, 100}, {53, 200}, {19, 0}};  // 10 and 20 a window; 19 listed but off
  p.install(s);
  p.set_clock(70'000'000'000ull, 1'000'000);
  auto from = [](uint16_t sport) {
    return PacketBuilder().ipv4("203.0.113.9", "198.18.0.2").udp(sport, 40000).payload(400).build();
  };
  auto passed = [&](uint16_t sport, int n) {
    int ok = 0;
    for (int i = 0; i < n; ++i) ok += p.run(from(sport)).action == XDP_PASS;
    return ok;
  };
  EXPECT_EQ(passed(123, 25), 10);
  EXPECT_EQ(passed(53, 25), 20) << "each port its own rate and window";
  EXPECT_EQ(passed(19, 25), 25);
  EXPECT_EQ(passed(124, 25), 25) << "a port not listed is not limited";
  EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_UDP_AMP), 50u);
  EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_UDP_AMP_DROPPED), 20u);
  const auto ev = p.drain_events();
  ASSERT_EQ(ev.size(), 2u);
  rampart_ddos_drop_event e{};
  std::memcpy(&e, &ev[0], sizeof e);
  EXPECT_EQ(e.protection, static_cast<uint32_t>(RAMPART_DDOS_PROT_UDP_AMP));
  EXPECT_EQ(e.port, 123);
  std::memcpy(&e, &ev[1], sizeof e);
  EXPECT_EQ(e.port, 53);
  // A UDP packet to port 123 (a client's query, not an answer) is not limited.
  const auto query = PacketBuilder().ipv4("203.0.113.9", "198.18.0.2").udp(40000, 123).build();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p.run(query).action, XDP_PASS);
}

// Past the window's first drop, every 64th is reported with its source
// (at most 8 a window and slot): the auto-block's sample of who floods.
TEST_F(DdosStage, DropsAreSampledWithTheirSourcesAtMostEightAWindow) {
  DdosProgram p;
  auto s = DdosProgram::test_settings(RAMPART_DDOS_SYN_OFF);
  s.udp_ports = {{123, 100}};  // 10 a window on the one CPU
  p.install(s);
  p.set_clock(80'000'000'000ull, 1000);  // 1 us apart: 1,010 packets in one window
  for (int i = 0; i < 1010; ++i) {
    const std::string src = "203.0.113." + std::to_string(1 + i % 200);
    const auto frame =
        PacketBuilder().ipv4(src.c_str(), "198.18.0.2").udp(123, 40000).payload(100).build();
    p.run(frame);
  }
  EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_UDP_AMP_DROPPED), 1000u);
  const auto ev = p.drain_events();
  ASSERT_EQ(ev.size(), 8u) << "drops 1, 65, ..., 449: 8 of 1,000";
  for (size_t i = 0; i < ev.size(); ++i) {
    rampart_ddos_drop_event e{};
    std::memcpy(&e, &ev[i], sizeof e);
    EXPECT_EQ(e.hdr.type, RAMPART_EV_DDOS_DROPPING);
    EXPECT_EQ(e.sample, i) << "0 the window's first drop, then the samples";
    EXPECT_EQ(e.count, 11 + 64 * i) << "the packet's place in the window";
    // Packet k (0-based) came from 203.0.113.(1 + k % 200); drop n is packet 10 + n.
    EXPECT_EQ(e.src_addr[3], 1 + (10 + 64 * i) % 200) << i;
    EXPECT_EQ(e.port, 123);
  }
  // A new window: its first drop again.
  p.set_clock(81'000'000'000ull, 1000);
  for (int i = 0; i < 12; ++i)
    p.run(PacketBuilder().ipv4("203.0.113.9", "198.18.0.2").udp(123, 40000).build());
  const auto next = p.drain_events();
  ASSERT_EQ(next.size(), 1u);
  rampart_ddos_drop_event e{};
  std::memcpy(&e, &next[0], sizeof e);
  EXPECT_EQ(e.sample, 0);
}

// An established connection over lo in this namespace: the client's end
// (its port in `port`) and the server's accepted one.
struct LoConnection {
  int listener = -1, client = -1, server = -1;
  uint16_t server_port = 0, client_port = 0;
  LoConnection() {
    listener = listen_any(4, server_port);
    client = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(server_port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
      throw std::runtime_error("connect failed");
    server = accept(listener, nullptr, nullptr);
    sockaddr_in me{};
    socklen_t len = sizeof me;
    getsockname(client, reinterpret_cast<sockaddr*>(&me), &len);
    client_port = ntohs(me.sin_port);
  }
  ~LoConnection() {
    close(client);
    close(server);
    close(listener);
  }
  // A segment of this connection, client to server.
  TcpSpec segment(uint8_t flags) const {
    TcpSpec t;
    t.src = t.dst = "127.0.0.1";
    t.sport = client_port;
    t.dport = server_port;
    t.flags = flags;
    t.mss.reset();
    t.wscale.reset();
    t.sack = false;
    return t;
  }
};

TEST_F(DdosStage, RstsAndFinsNoConnectionKnowsAreHeldToTheUntrackedRate) {
  in_fresh_netns([&] {
    DdosProgram p;
    auto s = DdosProgram::test_settings(RAMPART_DDOS_SYN_OFF);
    s.untracked_rate = 100;  // 10 a window on the one CPU
    p.install(s);
    p.set_clock(80'000'000'000ull, 1'000'000);
    TcpSpec rst;
    rst.flags = kRst | kAck;
    rst.dport = 9;  // nothing there
    rst.mss.reset();
    int passed = 0;
    for (int i = 0; i < 8; ++i) passed += p.run(tcp_frame(rst)).action == XDP_PASS;
    TcpSpec fin = rst;
    fin.flags = 0x01 | kAck;
    for (int i = 0; i < 8; ++i) passed += p.run(tcp_frame(fin)).action == XDP_PASS;
    EXPECT_EQ(passed, 10);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_UNTRACKED), 16u);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_UNTRACKED_DROPPED), 6u);
    const auto ev = p.drain_events();
    ASSERT_EQ(ev.size(), 1u);
    rampart_ddos_drop_event e{};
    std::memcpy(&e, &ev[0], sizeof e);
    EXPECT_EQ(e.protection, static_cast<uint32_t>(RAMPART_DDOS_PROT_UNTRACKED));
    EXPECT_EQ(e.port, 9);
    // A connection's own RST and FIN pass, over the rate or not.
    LoConnection c;
    EXPECT_EQ(p.run(tcp_frame(c.segment(0x01 | kAck))).action, XDP_PASS);
    EXPECT_EQ(p.run(tcp_frame(c.segment(kRst))).action, XDP_PASS);
  });
}

TEST_F(DdosStage, AcksNoConnectionKnowsAreSampledUntilAWindowGoesOver) {
  in_fresh_netns([&] {
    DdosProgram p;
    auto s = DdosProgram::test_settings(RAMPART_DDOS_SYN_OFF);
    s.untracked_rate = 100;
    s.hold_s = 5;
    p.install(s);
    const uint64_t t0 = 90'000'000'000ull;
    p.set_clock(t0, 1'000'000);
    TcpSpec ack;
    ack.flags = kAck;
    ack.dport = 9;
    ack.mss.reset();
    // The first ACK is the sample's: it counts 16, over 10: dropped, and
    // from now on every ACK is looked up.
    EXPECT_EQ(p.run(tcp_frame(ack)).action, XDP_DROP);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(p.run(tcp_frame(ack)).action, XDP_DROP);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_UNTRACKED), 16u + 20u);
    LoConnection c;
    EXPECT_EQ(p.run(tcp_frame(c.segment(kAck))).action, XDP_PASS) << "a connection's ACK";
    // After the hold: one ACK in 16 looked up again.
    p.set_clock(t0 + 6'000'000'000ull, 1'000'000);
    int passed = 0;
    for (int i = 0; i < 16; ++i) passed += p.run(tcp_frame(ack)).action == XDP_PASS;
    EXPECT_EQ(passed, 15);
  });
}

TEST_F(DdosStage, AnAckWithTheKernelsOwnCookieIsNotUntracked) {
  in_fresh_netns([&] {
    DdosProgram p;
    uint16_t port = 0;
    const int l = listen_any(4, port);
    p.install(DdosProgram::test_settings(RAMPART_DDOS_SYN_ALWAYS));
    TcpSpec syn;
    syn.dport = port;
    const TcpSeen sa = answer(p, syn);
    ASSERT_TRUE(sa.ok);
    // Cookies off (the kernel may be sending its own), untracked on.
    auto s = DdosProgram::test_settings(RAMPART_DDOS_SYN_OFF);
    s.untracked_rate = 100;
    p.install(s);
    p.set_clock(95'000'000'000ull, 1'000'000);
    TcpSpec bad = ack_for(syn, sa);
    bad.ack += 1;
    for (int i = 0; i < 16; ++i) p.run(tcp_frame(bad));  // puts it over the rate
    EXPECT_EQ(p.run(tcp_frame(bad)).action, XDP_DROP);
    const auto r = p.run(tcp_frame(ack_for(syn, sa)));
    EXPECT_EQ(r.action, XDP_PASS) << "a good cookie is the listener's to take";
    EXPECT_FALSE(r.has_meta && (r.meta.flags & RAMPART_META_SYNCOOKIE))
        << "not ours to turn into a connection";
    close(l);
  });
}

TEST_F(DdosStage, WhatTheHostForwardsIsNeitherAnsweredNorCountedUntracked) {
  NetnsLab lab;
  NetnsLab::sh("ip netns exec " + lab.ns_b() + " sysctl -qw net.ipv4.conf.all.forwarding=1");
  lab.in_ns(lab.ns_b(), [&] {
    DdosProgram p;
    auto s = DdosProgram::test_settings(RAMPART_DDOS_SYN_ALWAYS);
    s.untracked_rate = 1;  // the least: every untracked segment over it
    p.install(s);
    TcpSpec fin;
    fin.flags = 0x01 | kAck;
    fin.mss.reset();
    fin.dst = "198.18.0.9";  // on B's subnet, not B's: forwarded
    for (int i = 0; i < 5; ++i) EXPECT_EQ(p.run(tcp_frame(fin)).action, XDP_PASS);
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_UNTRACKED), 0u);
    TcpSpec syn;
    syn.dst = "198.18.0.9";
    EXPECT_EQ(p.run(tcp_frame(syn)).action, XDP_PASS) << "no cookie for a host behind this one";
    fin.dst = "198.18.0.2";  // B's own: counted, and over the rate
    p.run(tcp_frame(fin));
    p.run(tcp_frame(fin));
    EXPECT_EQ(p.stat(RAMPART_DDOS_STAT_UNTRACKED), 2u);
    EXPECT_GE(p.stat(RAMPART_DDOS_STAT_UNTRACKED_DROPPED), 1u);
    return 0;
  });
}

}  // namespace
}  // namespace rampart::test

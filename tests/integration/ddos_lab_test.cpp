// SPDX-License-Identifier: Apache-2.0
// SYN cookies end to end: a spoofed SYN flood from namespace A at B's
// 198.18.0.2:8080 while a real client in A opens connections to a real
// server in B. Without protection (and without the kernel's own cookies)
// the flood fills the server's SYN queue and the client's connections fail;
// with rampartd's ddos engine the flood's SYNs are answered from XDP, the
// client's ACKs become connections at TC ingress, and at least 99 % of 1,000
// connections succeed while the kernel sends no cookie of its own.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "agent_lab.hpp"
#include "mmdb_writer.hpp"
#include "poll.hpp"
#include "test_paths.hpp"

namespace {

using rampart::test::AgentLab;
using rampart::test::NetnsLab;

constexpr uint16_t kPort = 8080;

// A server in B: accepts, reads a byte, answers it, closes.
class EchoServer {
 public:
  // On B's IPv4 (family 4) or IPv6 (6) address.
  EchoServer(const NetnsLab& lab, int backlog, int family = 4)
      : fd_(lab.socket_in(lab.ns_b(), family == 4 ? AF_INET : AF_INET6, SOCK_STREAM, 0)) {
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage at{};
    socklen_t len;
    if (family == 4) {
      auto* a = reinterpret_cast<sockaddr_in*>(&at);
      a->sin_family = AF_INET;
      a->sin_port = htons(kPort);
      inet_pton(AF_INET, "198.18.0.2", &a->sin_addr);
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&at);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(kPort);
      inet_pton(AF_INET6, "2001:db8::2", &a->sin6_addr);
      len = sizeof *a;
    }
    if (bind(fd_, reinterpret_cast<sockaddr*>(&at), len) != 0 || listen(fd_, backlog) != 0)
      throw std::runtime_error("server listen failed");
    thread_ = std::thread([this] { serve(); });
  }
  ~EchoServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  // The smallest MSS the server sends with, over the connections it accepted.
  int smallest_mss() const { return smallest_mss_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      int mss = 0;
      socklen_t mlen = sizeof mss;
      if (getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &mss, &mlen) == 0 && mss < smallest_mss_)
        smallest_mss_ = mss;
      timeval tv{1, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char b;
      if (read(c, &b, 1) == 1) (void)!write(c, &b, 1);
      close(c);
    }
  }
  int fd_;
  std::atomic<bool> stop_{false};
  std::atomic<int> smallest_mss_{1 << 30};
  std::thread thread_;
};

// Calls `send` (one packet; true when it went out) `per_second` times a
// second on a thread of its own until stopped, then closes `fd`.
class Paced {
 public:
  Paced(int fd, uint32_t per_second, std::function<bool()> send)
      : fd_(fd), thread_([this, per_second, send = std::move(send)] {
          const auto start = std::chrono::steady_clock::now();
          while (!stop_) {
            const double due =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() *
                per_second;
            if (sent_ >= due) {  // ahead of the pace: half a millisecond
              std::this_thread::sleep_for(std::chrono::microseconds(500));
              continue;
            }
            if (send()) ++sent_;
          }
        }) {}
  ~Paced() { stop(); }
  void stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
      close(fd_);
    }
  }
  uint64_t sent() const { return sent_; }

 private:
  int fd_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::thread thread_;
};

uint16_t tcp_checksum(const iphdr* ip, const tcphdr* th) {
  uint32_t s = 0;
  auto add = [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(b[i]) << 8 | b[i + 1];
  };
  add(&ip->saddr, 4);
  add(&ip->daddr, 4);
  s += IPPROTO_TCP + 20;
  add(th, 20);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return htons(static_cast<uint16_t>(~s));
}

// SYNs from random sources on B's own subnet that no namespace has
// (198.18.0.16-.239: B can route its SYN-ACKs there, so each SYN takes a
// place in the server's queue, while nobody answers them) and random
// ports, to B's port, paced.
std::unique_ptr<Paced> syn_flood(const NetnsLab& lab, uint32_t per_second) {
  const int fd = lab.socket_in(lab.ns_a(), AF_INET, SOCK_RAW, IPPROTO_RAW);
  auto rng = std::make_shared<std::mt19937>(7);
  return std::make_unique<Paced>(fd, per_second, [fd, rng] {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    inet_pton(AF_INET, "198.18.0.2", &to.sin_addr);
    uint8_t pkt[40] = {};
    auto* ip = reinterpret_cast<iphdr*>(pkt);
    auto* th = reinterpret_cast<tcphdr*>(pkt + 20);
    ip->version = 4;
    ip->ihl = 5;
    ip->tot_len = htons(40);
    ip->ttl = 64;
    ip->protocol = IPPROTO_TCP;
    ip->saddr = htonl(0xc6120010u + (*rng)() % 224);  // 198.18.0.16-.239
    ip->daddr = to.sin_addr.s_addr;                   // the kernel fills the checksum (IP_HDRINCL)
    th->source = htons(static_cast<uint16_t>(1024 + (*rng)() % 60000));
    th->dest = htons(kPort);
    th->seq = (*rng)();
    th->doff = 5;
    th->syn = 1;
    th->window = htons(64240);
    th->check = tcp_checksum(ip, th);
    return sendto(fd, pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == 40;
  });
}

// UDP from A's port 123 (an NTP reflector's answers) to B, paced, from
// one of A's addresses.
std::unique_ptr<Paced> udp_reflection(const NetnsLab& lab, uint32_t per_second,
                                      const char* source = "198.18.0.1") {
  const int fd = lab.socket_in(lab.ns_a(), AF_INET, SOCK_DGRAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_port = htons(123);
  inet_pton(AF_INET, source, &from.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0)
    throw std::runtime_error("bind to port 123 failed");
  return std::make_unique<Paced>(fd, per_second, [fd] {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(40000);
    inet_pton(AF_INET, "198.18.0.2", &to.sin_addr);
    static const char payload[468] = {};  // a monlist answer's size
    return sendto(fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) > 0;
  });
}

class DdosLab : public AgentLab {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(AgentLab::SetUp());
    // XDP_TX on B's veth reaches A only through A's NAPI, which an XDP
    // program on A's end turns on (a physical NIC needs nothing of this).
    NetnsLab::sh("ip -n " + lab_->ns_a() + " link set dev " + lab_->if_a() + " xdpdrv obj " +
                 rampart::test::path::bpf() + "/xdp_parse_pass.bpf.o sec xdp");
    lab_->wait_until_up();
  }
  // A sanitized rampartd's report fails the test, whatever else passed.
  void TearDown() override {
    if (daemon_) {
      const std::string out = daemon_->output();
      EXPECT_EQ(out.find("Sanitizer"), std::string::npos) << out;
      EXPECT_EQ(out.find("runtime error:"), std::string::npos) << out;
    }
    AgentLab::TearDown();
  }
  void syncookies(int v) {
    NetnsLab::sh("ip netns exec " + lab_->ns_b() +
                 " sysctl -qw net.ipv4.tcp_syncookies=" + std::to_string(v));
  }
  // A TcpExt counter of B's (SyncookiesSent: cookies the kernel sent;
  // SyncookiesRecv: cookie ACKs the kernel checked itself).
  uint64_t tcp_ext(const std::string& counter) {
    std::istringstream in(NetnsLab::sh("ip netns exec " + lab_->ns_b() + " cat /proc/net/netstat"));
    std::string names, values;
    while (std::getline(in, names) && std::getline(in, values)) {
      if (names.rfind("TcpExt:", 0) != 0) continue;
      std::istringstream n(names), v(values);
      std::string name, value;
      while (n >> name && v >> value) {
        if (name == counter) return std::stoull(value);
      }
    }
    return 0;
  }
  // `n` connections from A's 198.18.0.1, one after another, each given
  // `timeout` to connect and echo a byte; how many did.
  size_t connect_many(size_t n, std::chrono::milliseconds timeout, int family = 4) {
    size_t ok = 0;
    for (size_t i = 0; i < n; ++i) {
      const int c = lab_->socket_in(lab_->ns_a(), family == 4 ? AF_INET : AF_INET6, SOCK_STREAM, 0);
      fcntl(c, F_SETFL, O_NONBLOCK);
      sockaddr_storage to{};
      socklen_t to_len;
      if (family == 4) {
        auto* a = reinterpret_cast<sockaddr_in*>(&to);
        a->sin_family = AF_INET;
        a->sin_port = htons(kPort);
        inet_pton(AF_INET, "198.18.0.2", &a->sin_addr);
        to_len = sizeof *a;
      } else {
        auto* a = reinterpret_cast<sockaddr_in6*>(&to);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(kPort);
        inet_pton(AF_INET6, "2001:db8::2", &a->sin6_addr);
        to_len = sizeof *a;
      }
      connect(c, reinterpret_cast<sockaddr*>(&to), to_len);
      pollfd p{c, POLLOUT, 0};
      int err = -1;
      socklen_t len = sizeof err;
      if (poll(&p, 1, static_cast<int>(timeout.count())) == 1 &&
          getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        char b = 'x';
        p = {c, POLLIN, 0};
        if (write(c, &b, 1) == 1 && poll(&p, 1, static_cast<int>(timeout.count())) == 1 &&
            read(c, &b, 1) == 1 && b == 'x')
          ++ok;
      }
      close(c);
    }
    return ok;
  }
};

TEST_F(DdosLab, ASynFloodFailsConnectionsWithoutProtectionAndNotWithCookies) {
  constexpr uint32_t kFloodRate = 20000;  // SYNs a second
  EchoServer server(*lab_, 64);

  // Without: no rampartd, no kernel cookies. The flood fills the SYN queue.
  syncookies(0);
  {
    const auto flood = syn_flood(*lab_, kFloodRate);
    ASSERT_TRUE(
        rampart::test::poll_until([&] { return flood->sent() > 2000; }, std::chrono::seconds(10)));
    const size_t ok = connect_many(10, std::chrono::milliseconds(1000));
    flood->stop();
    EXPECT_LE(ok, 5u) << "the flood should have failed most connections without protection";
    std::printf("[ measured ] without protection: %zu of 10 connections (flood %lu SYNs)\n", ok,
                static_cast<unsigned long>(flood->sent()));
  }

  // With: the kernel's cookies on (the ACKs need it), rampartd's ddos engine.
  syncookies(1);
  const auto cfg = write_agent_config(
      "  firewall: {default_policy: allow, rules: []}\n"
      "  ddos: {syn_cookies: auto, syn_rate: 1000, syn_hold_s: 60}\n"
      "  metrics: {listen: \"127.0.0.1:0\"}\n");
  ASSERT_NO_FATAL_FAILURE(start(cfg, "] ready plugins=ddos,firewall,log,metrics refused=0"));
  const auto flood = syn_flood(*lab_, kFloodRate);
  const auto alerts = dir_ / "alerts.json";
  ASSERT_TRUE(rampart::test::poll_until(
      [&] { return rampart::test::read_file(alerts).find("T1499.001") != std::string::npos; },
      std::chrono::seconds(20)))
      << "no SYN flood alert\n"
      << daemon_->output();
  const uint64_t kernel_before = tcp_ext("SyncookiesSent");
  const uint64_t recv_before = tcp_ext("SyncookiesRecv");
  const std::string assigned_series = "rampart_kernel_tc_ddos_assigned_total{program=\"tc_ddos\"}";
  const double assigned_before = metric(assigned_series);
  const double passed_before =
      metric("rampart_kernel_xdp_ddos_syn_passed_total{program=\"xdp_ddos\"}");
  const auto t0 = std::chrono::steady_clock::now();
  const size_t ok = connect_many(1000, std::chrono::milliseconds(1000));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  flood->stop();
  std::printf("[ measured ] with SYN cookies: %zu of 1000 connections in %.1f s (flood %lu SYNs)\n",
              ok, secs, static_cast<unsigned long>(flood->sent()));
  EXPECT_GE(ok, 990u);
  // The kernel sent no cookie of its own meanwhile (XDP answered the
  // flood), and the connections were made from tc_ddos's request sockets.
  // Not every one: under a sanitizer's load 2-3 % of the client's SYNs
  // were passed to the kernel (`syn_passed`), which made those connections
  // itself through its emptied queue; why they passed is not pinned down
  // (a 4-tuple of a socket the kernel still held is the candidate), so the
  // counts are printed.
  EXPECT_EQ(tcp_ext("SyncookiesSent"), kernel_before);
  const double assigned = metric(assigned_series) - assigned_before;
  std::printf(
      "[ measured ] request sockets from tc_ddos %.0f, SYNs passed %.0f, cookie ACKs the "
      "kernel checked %llu, assign failures %.0f\n",
      assigned,
      metric("rampart_kernel_xdp_ddos_syn_passed_total{program=\"xdp_ddos\"}") - passed_before,
      static_cast<unsigned long long>(tcp_ext("SyncookiesRecv") - recv_before),
      metric("rampart_kernel_tc_ddos_assign_failed_total{program=\"tc_ddos\"}"));
  EXPECT_GE(assigned, 0.95 * static_cast<double>(ok));
  EXPECT_GT(metric("rampart_kernel_xdp_ddos_cookies_sent_total{program=\"xdp_ddos\"}"),
            static_cast<double>(ok));
  const std::string a = rampart::test::read_file(alerts);
  EXPECT_NE(a.find("SYN flood on 198.18.0.2:8080"), std::string::npos) << a;
}

TEST_F(DdosLab, CookiesTheKernelCannotUseAreRefusedAtStart) {
  syncookies(0);
  const auto cfg = write_agent_config(
      "  firewall: {default_policy: allow, rules: []}\n"
      "  ddos: {syn_cookies: auto}\n");
  rampart::test::DaemonProcess d({"/usr/sbin/ip", "netns", "exec", lab_->ns_b(),
                                  rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                                  rampart::test::path::plugins()});
  // The engine is refused with the reason, and rampartd says it is not
  // ready (a protection asked for is not in force) rather than pretending.
  ASSERT_TRUE(d.wait_for("not ready plugins=firewall,log")) << d.output();
  EXPECT_NE(d.output().find("plugins.ddos.syn_cookies: net.ipv4.tcp_syncookies is 0"),
            std::string::npos)
      << d.output();
  EXPECT_EQ(d.output().find("] ready plugins="), std::string::npos) << d.output();
}

TEST_F(DdosLab, AReflectionFloodIsDetectedMitigatedAndEndsWithAnAlertAtEachStep) {
  const auto cfg = write_agent_config(
      "  firewall: {default_policy: allow, rules: []}\n"
      "  ddos: {syn_cookies: off, attack_hold_s: 2,\n"
      "         udp_amplification: {rate: 1000, ports: [123]}}\n"
      "  metrics: {listen: \"127.0.0.1:0\"}\n");
  ASSERT_NO_FATAL_FAILURE(start(cfg, "] ready plugins=ddos,firewall,log,metrics refused=0"));
  const auto alerts = dir_ / "alerts.json";
  auto seen = [&](const char* what) {
    return rampart::test::read_file(alerts).find(what) != std::string::npos;
  };
  const std::string phase =
      "rampart_ddos_attack_phase{plugin=\"ddos\",protection=\"udp_amplification\"}";
  EXPECT_EQ(metric(phase), 0);

  const auto flood = udp_reflection(*lab_, 20000);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(rampart::test::poll_until([&] { return seen("udp_amplification:active"); },
                                        std::chrono::seconds(10)))
      << rampart::test::read_file(alerts);
  const double to_active =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LE(to_active, 2.0) << "detected (active) within 2 s of the flood's start";
  ASSERT_TRUE(rampart::test::poll_until([&] { return seen("udp_amplification:mitigating"); },
                                        std::chrono::seconds(5)));
  EXPECT_TRUE(seen("udp_amplification:detecting"));
  EXPECT_EQ(metric(phase), 3);  // mitigating
  EXPECT_EQ(metric("rampart_ddos_attacks_total{plugin=\"ddos\",protection=\"udp_amplification\"}"),
            1);
  EXPECT_GT(metric("rampart_kernel_drops_total{program=\"xdp_ddos\",reason=\"udp_amp_dropped\"}"),
            1000);
  EXPECT_GT(metric("rampart_ddos_rate{plugin=\"ddos\",protection=\"udp_amplification\"}"), 5000);

  flood->stop();
  const auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(rampart::test::poll_until([&] { return seen("udp_amplification:ended"); },
                                        std::chrono::seconds(15)));
  const double to_end =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  EXPECT_LE(to_end, 2.0 + 2.0) << "ended within 2 s + the hold (2 s) of the flood's stop";
  EXPECT_EQ(metric(phase), 0);
  const std::string a = rampart::test::read_file(alerts);
  EXPECT_NE(a.find("T1498.002"), std::string::npos) << a;
  EXPECT_NE(a.find("source port 123"), std::string::npos) << a;
  std::printf("[ measured ] active %.2f s after the flood began, ended %.2f s after it stopped\n",
              to_active, to_end);
}

// A reflection flood from 203.0.113.7, which a country database places in
// NL: NL's part of it passes NL's threshold, NL's 256 networks go in the
// firewall's blocklist (owner ddos, expiring), the firewall drops the rest
// of the flood before the DDoS stage sees it, and the attack ends while
// the flood goes on; the entries are gone when they expire. With the
// flood's network on the never list, it is not listed and the DDoS stage
// keeps dropping.
TEST_F(DdosLab, AFloodingCountryIsBlockedInTheFirewallUntilItsEntriesExpire) {
  namespace mmdb = rampart::test::mmdb;
  NetnsLab::sh("ip -n " + lab_->ns_a() + " addr add 203.0.113.7/32 dev " + lab_->if_a());
  NetnsLab::sh("ip -n " + lab_->ns_b() + " route add 203.0.113.7/32 dev " + lab_->if_b());
  mmdb::Writer w{mmdb::Metadata{}};
  w.insert("203.0.113.0/24", mmdb::map({{"country_code", mmdb::str("NL")}}));
  for (int i = 0; i < 255; ++i)  // 255 more of NL's, none a neighbour of another
    w.insert("10." + std::to_string(i / 100) + "." + std::to_string(2 * (i % 100)) + ".0/24",
             mmdb::map({{"country_code", mmdb::str("NL")}}));
  w.insert("198.51.100.0/24", mmdb::map({{"country_code", mmdb::str("BE")}}));
  const auto db = dir_ / "country.mmdb";
  rampart::test::write_file(db, w.build());
  const auto config = [&](const std::string& never, const std::string& rules = "[]") {
    return write_agent_config(
        "  firewall: {default_policy: allow, rules: " + rules +
        "}\n"
        "  ddos: {syn_cookies: off, attack_hold_s: 1,\n"
        "         udp_amplification: {rate: 1000, ports: [123]},\n"
        "         auto_block: {country_db: " +
        db + ", thresholds: [{id: 1, country: default, rate: 100000}], for_s: 10" + never +
        "}}\n"
        "  metrics: {listen: \"127.0.0.1:0\"}\n");
  };
  ASSERT_NO_FATAL_FAILURE(
      start_with_rest(config(""), "", "] ready plugins=ddos,firewall,log,metrics,rest refused=0"));
  const auto alerts = dir_ / "alerts.json";
  auto seen = [&](const char* what) {
    return rampart::test::read_file(alerts).find(what) != std::string::npos;
  };
  auto entries = [&](const std::string& filter = "") {
    const auto r = api("GET", "/api/v1/blocklist/rules?owner=ddos&limit=1000" + filter);
    EXPECT_EQ(r.status, 200) << r.body;
    return Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>()->getArray("rules");
  };
  const std::string blocklisted =
      "rampart_kernel_xdp_firewall_blocklisted_total{program=\"xdp_firewall\"}";

  // The domain in the API's document, which a validator accepts.
  ASSERT_NO_FATAL_FAILURE(expect_valid_openapi_with("/api/v1/ddos/rules"));
  // NL's own threshold over the API, in force at once; a bad one refused.
  auto r = api("POST", "/api/v1/ddos/rules", R"({"country": "NL", "rate": 5000})");
  ASSERT_EQ(r.status, 201) << r.body;
  r = api("POST", "/api/v1/ddos/rules", R"({"country": "NL", "rate": 9})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("NL is in threshold 2 and in threshold 3"), std::string::npos) << r.body;
  r = api("POST", "/api/v1/ddos/rules", R"({"country": "nl", "rate": 9})");
  EXPECT_EQ(r.status, 400) << r.body;

  const auto flood_at = static_cast<int64_t>(std::time(nullptr));
  auto flood = udp_reflection(*lab_, 20000, "203.0.113.7");
  ASSERT_TRUE(rampart::test::poll_until([&] { return seen("udp_amplification:country_blocked"); },
                                        std::chrono::seconds(15)))
      << daemon_->output();
  EXPECT_EQ(entries()->size(), 256u) << daemon_->output();
  EXPECT_TRUE(seen("udp_amplification:detecting"));
  EXPECT_TRUE(seen("udp_amplification:active"));
  const auto listed = entries("&prefix=203.0.113.0/24");
  ASSERT_EQ(listed->size(), 1u) << daemon_->output();
  const auto entry = listed->getObject(0);
  EXPECT_EQ(entry->getValue<std::string>("prefix"), "203.0.113.0/24");
  EXPECT_NE(entry->getValue<std::string>("reason").find("from NL (threshold 5000)"),
            std::string::npos)
      << entry->getValue<std::string>("reason");
  // for_s after the block began: after the flood began, before now.
  EXPECT_GE(entry->getValue<int64_t>("expires_at"), flood_at + 10);
  EXPECT_LE(entry->getValue<int64_t>("expires_at"), static_cast<int64_t>(std::time(nullptr)) + 10);
  const std::string out = daemon_->output();
  const auto at = out.find("auto-block NL: 256 of 256 networks listed for 10 s");
  ASSERT_NE(at, std::string::npos) << out;
  const auto took = out.find(") in ", at);
  std::printf("[ measured ] 256 networks written to the blocklist in %s\n",
              out.substr(took + 5, out.find('\n', took) - took - 5).c_str());
  const auto status = [&] {
    const auto st = api("GET", "/api/v1/ddos/status");
    EXPECT_EQ(st.status, 200) << st.body;
    return Poco::JSON::Parser().parse(st.body).extract<Poco::JSON::Object::Ptr>();
  };
  auto blocked = status()->getObject("auto_block")->getArray("blocked");
  ASSERT_EQ(blocked->size(), 1u);
  EXPECT_EQ(blocked->getObject(0)->getValue<std::string>("country"), "NL");
  EXPECT_EQ(status()->getObject("auto_block")->getValue<uint64_t>("thresholds"), 2u);
  // The firewall drops the flood now, ahead of the DDoS stage: the attack
  // ends while it goes on.
  ASSERT_TRUE(rampart::test::poll_until([&] { return seen("udp_amplification:ended"); },
                                        std::chrono::seconds(10)))
      << rampart::test::read_file(alerts);
  EXPECT_GT(metric(blocklisted), 1000);
  EXPECT_EQ(metric("rampart_ddos_blocked_networks_total{plugin=\"ddos\",protection=\"udp_"
                   "amplification\"}"),
            256);
  EXPECT_EQ(metric("rampart_ddos_country_blocks_total{plugin=\"ddos\",protection=\"udp_"
                   "amplification\"}"),
            1);
  flood->stop();
  // Expired: the core deletes the entry (audited as `expiry`).
  ASSERT_TRUE(
      rampart::test::poll_until([&] { return entries()->size() == 0; }, std::chrono::seconds(20)));

  // Never the flood's network (the operator's own, say), nor one the
  // firewall allows: NL's others are listed, not those, and the DDoS stage
  // goes on dropping the flood.
  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_exit(), 0) << daemon_->output();
  ASSERT_NO_FATAL_FAILURE(
      start_with_rest(config(", never: [203.0.113.0/28]",
                             "[{id: 1, priority: 10, action: allow, src_ip: 10.0.0.0/23}]"),
                      "", "] ready plugins=ddos,firewall,log,metrics,rest refused=0"));
  // The stages' counters outlive rampartd: what this flood adds.
  const std::string ddos_dropped =
      "rampart_kernel_drops_total{program=\"xdp_ddos\",reason=\"udp_amp_dropped\"}";
  const double listed_drops = metric(blocklisted), ddos_drops = metric(ddos_dropped);
  flood = udp_reflection(*lab_, 20000, "203.0.113.7");
  ASSERT_TRUE(daemon_->wait_for("auto-block NL: 254 of 256 networks listed for 10 s"))
      << daemon_->output();
  EXPECT_NE(daemon_->output().find("2 spared (never list or this host)"), std::string::npos);
  EXPECT_EQ(entries()->size(), 254u);
  EXPECT_EQ(entries("&prefix=10.0.0.0/24")->size(), 0u) << "the firewall allows it";
  EXPECT_EQ(entries("&prefix=203.0.113.0/24")->size(), 0u);
  EXPECT_EQ(metric(blocklisted), listed_drops);
  EXPECT_GT(metric(ddos_dropped) - ddos_drops, 1000);
}

TEST_F(DdosLab, Ipv6AndClientsWithoutTimestampsConnectThroughCookies) {
  const auto cfg = write_agent_config(
      "  firewall: {default_policy: allow, rules: []}\n"
      "  ddos: {syn_cookies: always}\n"
      "  metrics: {listen: \"127.0.0.1:0\"}\n");
  ASSERT_NO_FATAL_FAILURE(start(cfg, "] ready plugins=ddos,firewall,log,metrics refused=0"));
  const std::string assigned = "rampart_kernel_tc_ddos_assigned_total{program=\"tc_ddos\"}";
  {
    EchoServer server6(*lab_, 64, 6);
    EXPECT_EQ(connect_many(200, std::chrono::milliseconds(1000), 6), 200u);
  }
  EXPECT_EQ(metric(assigned), 200);
  // A client that sends no timestamp echoes nothing back: its MSS comes
  // from making the cookie again for each entry of the kernel's table.
  NetnsLab::sh("ip netns exec " + lab_->ns_a() + " sysctl -qw net.ipv4.tcp_timestamps=0");
  EchoServer server(*lab_, 64);
  EXPECT_EQ(connect_many(200, std::chrono::milliseconds(1000)), 200u);
  EXPECT_EQ(metric(assigned), 400);
  EXPECT_EQ(metric("rampart_kernel_tc_ddos_default_mss_total{program=\"tc_ddos\"}"), 0);
  EXPECT_EQ(server.smallest_mss(), 1460) << "the client's MSS (1500-byte MTU), not the least (536)";
  EXPECT_EQ(metric("rampart_kernel_xdp_ddos_cookies_sent_total{program=\"xdp_ddos\"}"), 400);
}

}  // namespace

// SPDX-License-Identifier: Apache-2.0
// Rate limiting end to end: rampartd with the firewall and the ratelimit
// engine on B's interface, paced UDP from A's 198.18.0.1 held to its
// policy's rate on B's socket and in the engine's status, policies
// written over REST in effect at once and bad ones refused, and an alert
// policy that passes everything and raises T1498.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "agent_lab.hpp"
#include "countries.hpp"
#include "mmdb_writer.hpp"
#include "poll.hpp"
#include "rampart/xdp_meta.h"
#include "tc_meta_reader.hpp"
#include "test_paths.hpp"

namespace {

using rampart::test::AgentLab;
using rampart::test::NetnsLab;

class RateLimitLab : public AgentLab {
 protected:
  // The firewall allowing everything, the rate limit engine with
  // `settings` (YAML lines at 4 spaces), the REST frontend.
  void start_agent(const std::string& settings) {
    const auto cfg = write_settings(settings);
    ASSERT_NO_FATAL_FAILURE(
        start_with_rest(cfg, "", "] ready plugins=firewall,log,ratelimit,rest refused=0"));
  }
  std::string write_settings(const std::string& settings) {
    return write_agent_config(
        "  firewall: {default_policy: allow, rules: []}\n"
        "  ratelimit:\n" +
        settings);
  }
  Poco::JSON::Object::Ptr status() {
    const auto r = api("GET", "/api/v1/ratelimit/status");
    EXPECT_EQ(r.status, 200) << r.body;
    return Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  }
  // A policy's counter in status.
  uint64_t counted(uint32_t id, const char* what) {
    const auto list = status()->getArray("policies");
    for (size_t i = 0; i < list->size(); ++i) {
      const auto p = list->getObject(static_cast<unsigned>(i));
      if (p->getValue<uint32_t>("id") == id) return p->getValue<uint64_t>(what);
    }
    ADD_FAILURE() << "no policy " << id << " in status";
    return 0;
  }
};

// UDP to B's 198.18.0.2:9999, counted by source on a socket in B until the
// end marker from 198.18.0.3 (sent after everything else) arrives.
class Receiver {
 public:
  explicit Receiver(const NetnsLab& lab)
      : sock_(lab.socket_in(lab.ns_b(), AF_INET, SOCK_DGRAM, 0)) {
    const int big = 8 << 20;
    setsockopt(sock_, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(9999);
    inet_pton(AF_INET, "198.18.0.2", &at.sin_addr);
    if (bind(sock_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0)
      throw std::runtime_error("cannot bind the receiver");
    timeval tv{10, 0};  // a lost marker ends the wait, not the test run
    setsockopt(sock_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Receiver() { close(sock_); }
  // Datagrams from `from` (last octet) until the marker.
  uint64_t count_until_marker(int from) {
    return count_until_marker("198.18.0." + std::to_string(from));
  }
  // Datagrams from `from` until the marker.
  uint64_t count_until_marker(const std::string& from) {
    in_addr want{};
    inet_pton(AF_INET, from.c_str(), &want);
    uint64_t n = 0;
    char buf[64];
    for (;;) {
      sockaddr_in src{};
      socklen_t len = sizeof src;
      const ssize_t got =
          recvfrom(sock_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&src), &len);
      if (got < 0) throw std::runtime_error("no end marker within 10 s");
      if (got == 3 && std::memcmp(buf, "end", 3) == 0) return n;
      if (src.sin_addr.s_addr == want.s_addr) ++n;
    }
  }

 private:
  int sock_;
};

// Sends from A's 198.18.0.<from> to B:9999: `pps` a second for `seconds`,
// on absolute deadlines (a late wakeup catches up). Returns the seconds
// from the first datagram to the last, and the count sent.
std::pair<double, uint64_t> paced(const NetnsLab& lab, const std::string& from, double pps,
                                  double seconds) {
  const int s = lab.socket_in(lab.ns_a(), AF_INET, SOCK_DGRAM, 0);
  sockaddr_in src{}, dst{};
  src.sin_family = dst.sin_family = AF_INET;
  inet_pton(AF_INET, from.c_str(), &src.sin_addr);
  inet_pton(AF_INET, "198.18.0.2", &dst.sin_addr);
  dst.sin_port = htons(9999);
  bind(s, reinterpret_cast<sockaddr*>(&src), sizeof src);
  const auto n = static_cast<uint64_t>(pps * seconds);
  const auto gap = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / pps));
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  uint64_t sent = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const auto due = start + i * gap;
    std::this_thread::sleep_until(due);
    if (sendto(s, "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 1) ++sent;
    last = std::chrono::steady_clock::now();
  }
  close(s);
  return {std::chrono::duration<double>(last - start).count(), sent};
}

std::pair<double, uint64_t> paced(const NetnsLab& lab, int from, double pps, double seconds) {
  return paced(lab, "198.18.0." + std::to_string(from), pps, seconds);
}

void marker(const NetnsLab& lab) {
  const int s = lab.socket_in(lab.ns_a(), AF_INET, SOCK_DGRAM, 0);
  sockaddr_in src{}, dst{};
  src.sin_family = dst.sin_family = AF_INET;
  inet_pton(AF_INET, "198.18.0.3", &src.sin_addr);
  inet_pton(AF_INET, "198.18.0.2", &dst.sin_addr);
  dst.sin_port = htons(9999);
  bind(s, reinterpret_cast<sockaddr*>(&src), sizeof src);
  sendto(s, "end", 3, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
  close(s);
}

// A 2,000 pps token bucket (burst 200) on 198.18.0.1 under 4,000 pps for
// 5 s: B gets burst + rate x time within 5 %, status counts the same, and
// .3 (under no policy, no default) is not limited at all.
TEST_F(RateLimitLab, AUdpFloodFromOneSourceIsHeldToItsRate) {
  ASSERT_NO_FATAL_FAILURE(
      start_agent("    policies:\n"
                  "      - {id: 1, prefixes: [198.18.0.1/32], algorithm: token_bucket, rate: 2000, "
                  "burst: 200}\n"));
  Receiver rx(*lab_);
  const auto [seconds, sent] = paced(*lab_, 1, 4000, 5);
  marker(*lab_);
  const uint64_t got = rx.count_until_marker(1);
  const double expected = 200 + 2000 * seconds;
  std::printf("sent %llu in %.3f s, received %llu, expected %.0f (%+.2f%%)\n",
              static_cast<unsigned long long>(sent), seconds, static_cast<unsigned long long>(got),
              expected, 100 * (static_cast<double>(got) - expected) / expected);
  EXPECT_NEAR(static_cast<double>(got) / expected, 1.0, 0.05);
  EXPECT_EQ(counted(1, "passed"), got) << "status counts what B received";
  EXPECT_EQ(counted(1, "dropped"), sent - got);
  EXPECT_EQ(counted(1, "new_sources"), 1u);

  const auto [s3, sent3] = paced(*lab_, 3, 5000, 0.4);
  marker(*lab_);
  EXPECT_EQ(rx.count_until_marker(3), sent3) << "a source under no policy is not limited";
}

TEST_F(RateLimitLab, PoliciesOverRestApplyAtOnceAndBadBodiesAreRefused) {
  ASSERT_NO_FATAL_FAILURE(start_agent("    max_sources: 4096\n"));
  Receiver rx(*lab_);
  // No policy: nothing limited.
  auto [t0, sent0] = paced(*lab_, 1, 5000, 0.2);
  marker(*lab_);
  EXPECT_EQ(rx.count_until_marker(1), sent0);

  auto r = api("POST", "/api/v1/ratelimit/rules",
               R"({"id": 7, "prefixes": ["198.18.0.1/32"], "rate": 1, "burst": 100})");
  ASSERT_EQ(r.status, 201) << r.body;
  // In effect at once: a burst of 100, then 1 a second, whatever is sent.
  auto [t1, sent1] = paced(*lab_, 1, 5000, 0.2);
  marker(*lab_);
  const uint64_t first = rx.count_until_marker(1);
  EXPECT_GE(first, 100u) << "of " << sent1;
  EXPECT_LE(first, 101u) << "of " << sent1;

  const std::pair<const char*, const char*> bad[] = {
      {R"({"prefixes": ["198.18.0.3/32"], "rate": "fast"})", "rate"},
      {R"({"prefixes": ["198.18.0.3/32"], "rate": 0})", "rate"},
      {R"({"prefixes": ["198.18.0.3/32"], "rate": 100, "algorithm": "fixed_window", "burst": 5})",
       "burst"},
      {R"({"prefixes": ["198.18.0.1/32"], "rate": 100})", "198.18.0.1/32 is listed by policy 7"},
      {R"({"prefixes": ["198.18.0.3/33"], "rate": 100})", "prefix length"},
      {R"({"prefixes": ["0.0.0.0/0"], "rate": 100})", "default_policy"},
      {R"({"prefixes": [], "rate": 100})", "prefixes"},
  };
  for (const auto& [body, says] : bad) {
    r = api("POST", "/api/v1/ratelimit/rules", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_NE(r.body.find(says), std::string::npos) << body << " -> " << r.body;
  }
  // Nothing half-applied: policy 7 alone, still holding.
  r = api("GET", "/api/v1/ratelimit/rules");
  EXPECT_EQ(Poco::JSON::Parser()
                .parse(r.body)
                .extract<Poco::JSON::Object::Ptr>()
                ->getArray("rules")
                ->size(),
            1u)
      << r.body;
  paced(*lab_, 1, 5000, 0.1);
  marker(*lab_);
  EXPECT_LE(rx.count_until_marker(1), 2u) << "the burst was spent (1 a second comes back)";

  // The domain is in the API's description.
  r = api("GET", "/api/v1/openapi.json");
  EXPECT_NE(r.body.find("/api/v1/ratelimit/rules"), std::string::npos);
  // Deleted: unlimited again at once.
  r = api("DELETE", "/api/v1/ratelimit/rules/7");
  EXPECT_EQ(r.status, 204) << r.body;
  auto [t3, sent3] = paced(*lab_, 1, 5000, 0.2);
  marker(*lab_);
  EXPECT_EQ(rx.count_until_marker(1), sent3);
}

TEST_F(RateLimitLab, AnAlertPolicyPassesEverythingAndRaisesT1498) {
  ASSERT_NO_FATAL_FAILURE(
      start_agent("    policies:\n"
                  "      - {id: 3, prefixes: [198.18.0.0/24], algorithm: sliding_window, rate: "
                  "500, action: alert}\n"));
  Receiver rx(*lab_);
  const auto [seconds, sent] = paced(*lab_, 1, 2000, 1);
  marker(*lab_);
  EXPECT_EQ(rx.count_until_marker(1), sent) << "alert passes everything";
  ASSERT_FALSE(daemon_->wait_for("AddressSanitizer", 1, std::chrono::milliseconds(200)))
      << daemon_->output();
  EXPECT_GT(counted(3, "over_passed"), 0u);
  const auto alerts = dir_ / "alerts.json";
  ASSERT_TRUE(rampart::test::poll_until(
      [&] { return rampart::test::read_file(alerts).find("T1498") != std::string::npos; },
      std::chrono::seconds(10)))
      << rampart::test::read_file(alerts);
  const auto text = rampart::test::read_file(alerts);
  EXPECT_NE(text.find("198.18.0.1 over policy 3"), std::string::npos) << text;
  EXPECT_NE(text.find("Network Denial of Service"), std::string::npos) << text;
}

// A config whose policies are bad is refused whole on reload (SIGHUP):
// the error names the file, line and field, and the running limits hold.
TEST_F(RateLimitLab, ABadConfigIsRefusedOnReloadAndTheLimitsHold) {
  ASSERT_NO_FATAL_FAILURE(
      start_agent("    policies:\n"
                  "      - {id: 1, prefixes: [198.18.0.1/32], rate: 1, burst: 100}\n"));
  Receiver rx(*lab_);
  const auto spent = std::chrono::steady_clock::now();
  paced(*lab_, 1, 2000, 0.1);
  marker(*lab_);
  uint64_t total = rx.count_until_marker(1);
  EXPECT_GE(total, 100u);
  EXPECT_LE(total, 101u);
  const std::pair<const char*, const char*> bad[] = {
      {"      - {id: 1, prefixes: [198.18.0.1/32], rate: 0}\n",
       "rampart.yaml:11:50: plugins.ratelimit.policies.0.rate: must be 1-10000000"},
      {"      - {id: 1, prefixes: [198.18.0.1/32], rate: 5, burst: 99999999}\n",
       "policies.0.burst"},
      {"      - {id: 1, prefixes: [198.18.0.1/32], rate: 5}\n      - {id: 2, prefixes: "
       "[198.18.0.1/32], rate: 9}\n",
       "198.18.0.1/32 is listed by policy 1 and by policy 2"},
      {"      - {id: 1, prefixes: [not-an-address], rate: 5}\n", "policies.0.prefixes"},
  };
  size_t refusals = 0;
  for (const auto& [policies, says] : bad) {
    const std::string yaml = "    policies:\n" + std::string(policies);
    write_settings(yaml);
    rampart::test::write_file(dir_ / "rampart.yaml",
                              rampart::test::read_file(dir_ / "rampart.yaml") +
                                  "  rest: " + rampart::test::rest_settings(dir_.path()) + "\n");
    daemon_->signal(SIGHUP);
    ASSERT_TRUE(daemon_->wait_for("config reload refused", ++refusals)) << daemon_->output();
    EXPECT_NE(daemon_->output().find(says), std::string::npos) << says << "\n" << daemon_->output();
  }
  // Still the first policy: the burst spent, 1 a second back since.
  paced(*lab_, 1, 2000, 0.1);
  marker(*lab_);
  total += rx.count_until_marker(1);
  const auto gone = std::chrono::duration<double>(std::chrono::steady_clock::now() - spent).count();
  EXPECT_LE(total, 101u + static_cast<uint64_t>(gone));
  EXPECT_EQ(counted(1, "passed"), total);
}

// TC behind the stage reads its verdict from the XDP metadata: the packets
// within the alert policy as WITHIN, the ones past it as OVER, both under
// policy 4's id.
TEST_F(RateLimitLab, TcSeesTheRateLimitVerdict) {
  ASSERT_NO_FATAL_FAILURE(start_agent(
      "    policies:\n"
      "      - {id: 4, prefixes: [198.18.0.1/32], rate: 1, burst: 300, action: alert}\n"));
  ASSERT_TRUE(daemon_->wait_for("attached TC")) << daemon_->output();
  rampart::test::TcMetaReader tc(bpffs_ + "/rampart");
  Receiver rx(*lab_);
  const auto [t, sent] = paced(*lab_, 1, 2000, 0.25);
  marker(*lab_);
  EXPECT_EQ(rx.count_until_marker(1), sent);
  const auto seen = tc.counts("rl_seen");
  const uint32_t within = RAMPART_META_RL_WITHIN << 24 | 4, over = RAMPART_META_RL_OVER << 24 | 4;
  ASSERT_TRUE(seen.count(within) && seen.count(over)) << seen.size() << " kinds seen";
  EXPECT_GE(seen.at(within), 300u) << "the burst";
  EXPECT_LE(seen.at(within), 301u) << "and what 1 a second refilled";
  EXPECT_EQ(seen.at(within) + seen.at(over), sent);
}

// The first address of `code`'s first IPv4 network of at least 4
// addresses in the real country database (DB-IP lite), plus one.
std::string address_in(const rampart::geo::CountryNetworks& geo, const std::string& code) {
  for (const auto& c : geo.by_country.at(code)) {
    if (c.family != 4 || c.prefix_len > 30) continue;
    auto a = c.addr;
    a[3] = static_cast<uint8_t>(a[3] + 1);
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, a.data(), buf, sizeof buf);
    return buf;
  }
  throw std::runtime_error("no IPv4 network of " + code);
}

// Sources of one country (addresses the real database places there, given
// to A's side of the veth; the traffic never leaves the namespaces) held to
// the country policy's rate within 10 %; another country's pass.
TEST_F(RateLimitLab, AFloodFromOneCountryIsHeldToItsPolicysRate) {
  const std::string db = rampart::test::geoip_data("dbip-country-mmdb/dbip-country.mmdb");
  const auto geo = rampart::geo::country_networks(db, {"NL", "JP"});
  const std::string nl = address_in(geo, "NL"), jp = address_in(geo, "JP");
  for (const auto& a : {nl, jp}) {
    NetnsLab::sh("ip -n " + lab_->ns_a() + " addr add " + a + "/32 dev " + lab_->if_a());
    NetnsLab::sh("ip -n " + lab_->ns_b() + " route add " + a + "/32 dev " + lab_->if_b());
  }
  ASSERT_NO_FATAL_FAILURE(
      start_agent("    country_db: " + db +
                  "\n"
                  "    policies:\n"
                  "      - {id: 1, countries: [NL, BE], rate: 1000, burst: 100}\n"));
  Receiver rx(*lab_);
  const auto [seconds, sent] = paced(*lab_, nl, 3000, 3);
  marker(*lab_);
  const uint64_t got = rx.count_until_marker(nl);
  const double expected = 100 + 1000 * seconds;
  std::printf("%s (NL): sent %llu in %.3f s, received %llu, expected %.0f (%+.2f%%)\n", nl.c_str(),
              static_cast<unsigned long long>(sent), seconds, static_cast<unsigned long long>(got),
              expected, 100 * (static_cast<double>(got) - expected) / expected);
  EXPECT_NEAR(static_cast<double>(got) / expected, 1.0, 0.10);
  const auto [s2, sent_jp] = paced(*lab_, jp, 3000, 0.5);
  marker(*lab_);
  EXPECT_EQ(rx.count_until_marker(jp), sent_jp) << jp << " (JP) is under no policy";
  const auto st = status()->getObject("country_db");
  EXPECT_EQ(st->getValue<uint64_t>("countries"), 2u);
  EXPECT_GT(st->getValue<uint64_t>("networks"), 100u);
  EXPECT_TRUE(st->isNull("error"));
}

// The country database is read again when the file changes on disk: a
// new one that puts 198.18.0.1 in NL brings it under NL's policy, and a
// corrupt one is refused, reported in status, and the last good one stays.
TEST_F(RateLimitLab, ANewCountryDatabaseIsReadAgainAndABadOneIsRefused) {
  namespace mmdb = rampart::test::mmdb;
  const auto db = dir_ / "country.mmdb";
  const auto write_db = [&](const std::string& bytes) {
    const auto tmp = db + ".new";
    rampart::test::write_file(tmp, bytes);
    std::filesystem::rename(tmp, db);  // a new inode, as a package update writes it
  };
  mmdb::Writer first{mmdb::Metadata{}};
  first.insert("203.0.113.0/24", mmdb::map({{"country_code", mmdb::str("NL")}}));
  write_db(first.build());
  ASSERT_NO_FATAL_FAILURE(start_agent("    country_db: " + db +
                                      "\n"
                                      "    policies:\n"
                                      "      - {id: 1, countries: [NL], rate: 1, burst: 300}\n"));
  Receiver rx(*lab_);
  auto [t0, sent0] = paced(*lab_, 1, 2000, 0.1);
  marker(*lab_);
  EXPECT_EQ(rx.count_until_marker(1), sent0) << "198.18.0.1 is in no country yet";

  mmdb::Writer second{mmdb::Metadata{}};
  second.insert("198.18.0.0/24", mmdb::map({{"country_code", mmdb::str("NL")}}));
  write_db(second.build());
  ASSERT_TRUE(daemon_->wait_for("country database " + db + " read again")) << daemon_->output();
  const auto spent = std::chrono::steady_clock::now();
  paced(*lab_, 1, 2000, 0.2);
  marker(*lab_);
  uint64_t total = rx.count_until_marker(1);
  EXPECT_GE(total, 300u) << "now NL's: its burst";
  EXPECT_LE(total, 301u);

  write_db(std::string(1000, 'x'));
  ASSERT_TRUE(daemon_->wait_for("country database change not applied")) << daemon_->output();
  EXPECT_NE(daemon_->output().find(db + ": "), std::string::npos) << daemon_->output();
  const auto st = status()->getObject("country_db");
  EXPECT_FALSE(st->isNull("error"));
  EXPECT_EQ(st->getValue<uint64_t>("networks"), 1u) << "the last good database's";
  paced(*lab_, 1, 2000, 0.1);
  marker(*lab_);
  total += rx.count_until_marker(1);
  const auto gone = std::chrono::duration<double>(std::chrono::steady_clock::now() - spent).count();
  EXPECT_LE(total, 301u + static_cast<uint64_t>(gone)) << "still limited by the last good database";
}

// The stage keeps limiting while rampartd is stopped and after it starts
// again (the sources' counts persist: the same window stays spent); a
// disabled plugin's stage leaves the chain, on reload and at start.
TEST_F(RateLimitLab, LimitsHoldAcrossARestartAndADisabledPluginLeavesTheChain) {
  // A bucket of 300 refilled at 1 a second: once spent, a source gets back
  // one packet per second gone, however slow the restarts (a sanitizer's).
  const std::string policy =
      "    policies:\n"
      "      - {id: 1, prefixes: [198.18.0.1/32], algorithm: token_bucket, rate: 1, burst: 300}\n";
  ASSERT_NO_FATAL_FAILURE(start_agent(policy));
  Receiver rx(*lab_);
  const auto spent = std::chrono::steady_clock::now();
  paced(*lab_, 1, 2000, 0.2);
  marker(*lab_);
  // The burst, and the slot's token (1 s slots here) when a slot rolls
  // within it: a new source's bucket counts as full from its slot's start
  // (rampart/ratelimit_algo.h).
  const uint64_t burst = rx.count_until_marker(1);
  EXPECT_GE(burst, 300u) << "the burst";
  EXPECT_LE(burst, 301u) << "the burst";
  // What the bucket may have refilled since it was spent, plus the bound
  // docs/ratelimit.md states for the per-CPU states ("One limit across
  // CPUs"): at most one packet per CPU per slot over the limit, where the
  // sender's packets move between CPUs (each restart's sender runs where
  // the scheduler puts it). Far below the 300 a reset bucket would pass.
  const uint64_t cpus = static_cast<uint64_t>(libbpf_num_possible_cpus());
  const auto refilled = [&] {
    const uint64_t slots =
        1 + static_cast<uint64_t>(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - spent).count());
    return slots + cpus * (slots + 1);
  };

  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_exit(), 0) << daemon_->output();
  paced(*lab_, 1, 2000, 0.1);
  marker(*lab_);
  uint64_t total = rx.count_until_marker(1);
  EXPECT_LE(total, refilled()) << "rampartd stopped: the stage stays, and its counts";

  ASSERT_NO_FATAL_FAILURE(start_agent(policy));
  paced(*lab_, 1, 2000, 0.1);
  marker(*lab_);
  total += rx.count_until_marker(1);
  EXPECT_LE(total, refilled()) << "restarted: the bucket is still spent";

  write_settings("    enabled: false\n" + policy);
  rampart::test::write_file(dir_ / "rampart.yaml",
                            rampart::test::read_file(dir_ / "rampart.yaml") +
                                "  rest: " + rampart::test::rest_settings(dir_.path()) + "\n");
  reload(1);
  ASSERT_TRUE(
      daemon_->wait_for("stage removed from the chain stage=xdp/ratelimit plugin=ratelimit"))
      << daemon_->output();
  auto [t, sent] = paced(*lab_, 1, 2000, 0.1);
  marker(*lab_);
  EXPECT_EQ(rx.count_until_marker(1), sent) << "disabled: nothing limited";

  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_exit(), 0) << daemon_->output();
  write_settings(policy);
  ASSERT_NO_FATAL_FAILURE(start_agent(policy));
  paced(*lab_, 1, 2000, 0.1);
  marker(*lab_);
  total += rx.count_until_marker(1);
  EXPECT_LE(total, refilled()) << "enabled again: its sources' counts were kept";
}

}  // namespace

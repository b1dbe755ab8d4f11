// SPDX-License-Identifier: Apache-2.0
// The alert core: router (dedup, throttle, routes) on a clock the test
// drives, the circuit breaker, per-sender queues, the store (filters,
// paging, retention, false positives), enrichment caches and the pipeline.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <sstream>

#include <rampart/sdk/plugin.hpp>

#include "alerts/alert_store.hpp"
#include "alerts/delivery.hpp"
#include "alerts/pipeline.hpp"
#include "alerts/router.hpp"
#include "config/config.hpp"
#include "temp_dir.hpp"

namespace {

using namespace rampart::alerts;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A clock that moves only when the test says so.
struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
  Clock clock() {
    return [this] { return now; };
  }
};

AlertRecord alert(const char* src, const char* rule = "r1", uint32_t severity = 1,
                  const char* component = "firewall") {
  AlertRecord a;
  a.component = component;
  a.rule_id = rule;
  a.severity = severity;
  a.message = "m";
  a.ip_family = 4;
  inet_pton(AF_INET, src, a.src_addr.data());
  inet_pton(AF_INET, "192.0.2.1", a.dst_addr.data());
  a.protocol = 6;
  a.dst_port = 443;
  return a;
}

RouterSettings no_limits() {
  RouterSettings s;
  s.dedup_window_s = 0;
  return s;
}

TEST(AlertRouter, DedupSuppressesWithinTheWindowAndCarriesTheCount) {
  FakeClock t;
  RouterSettings s = no_limits();
  s.dedup_window_s = 60;
  Router r(s, t.clock());
  const auto a = alert("198.51.100.7");
  EXPECT_TRUE(r.decide(a).deliver);
  for (int i = 0; i < 3; ++i) {
    const auto d = r.decide(a);
    EXPECT_FALSE(d.deliver);
    EXPECT_EQ(d.suppressed_by, "dedup");
  }
  EXPECT_TRUE(r.decide(alert("198.51.100.8")).deliver) << "another source is another fingerprint";
  t.now += seconds(59);
  EXPECT_FALSE(r.decide(a).deliver) << "still inside the window";
  t.now += seconds(1);
  const auto d = r.decide(a);
  EXPECT_TRUE(d.deliver);
  EXPECT_EQ(d.suppressed_before, 4u) << "the four duplicates are reported on the next delivery";
  EXPECT_FALSE(r.decide(a).deliver) << "a new window opened";
}

TEST(AlertRouter, ThrottlesPerSourceAndPerRuleWithTokenBuckets) {
  FakeClock t;
  RouterSettings s = no_limits();
  s.per_source = {1, 2};  // 1/s, burst 2
  s.per_rule = {0, 0};
  Router r(s, t.clock());
  EXPECT_TRUE(r.decide(alert("198.51.100.7")).deliver);
  EXPECT_TRUE(r.decide(alert("198.51.100.7")).deliver);
  auto d = r.decide(alert("198.51.100.7"));
  EXPECT_FALSE(d.deliver);
  EXPECT_EQ(d.suppressed_by, "throttle_source");
  EXPECT_TRUE(r.decide(alert("198.51.100.9")).deliver) << "each source has its own bucket";
  t.now += milliseconds(1000);
  EXPECT_TRUE(r.decide(alert("198.51.100.7")).deliver) << "one token back after a second";
  EXPECT_FALSE(r.decide(alert("198.51.100.7")).deliver);

  s.per_source = {};
  s.per_rule = {10, 3};
  r.update(s);
  int delivered = 0;
  for (int i = 0; i < 10; ++i) delivered += r.decide(alert("203.0.113.5", "r9")).deliver;
  EXPECT_EQ(delivered, 3);
  d = r.decide(alert("203.0.113.6", "r9"));
  EXPECT_EQ(d.suppressed_by, "throttle_rule") << "the rule's bucket is shared by every source";
  EXPECT_TRUE(r.decide(alert("203.0.113.6", "r10")).deliver);
  t.now += milliseconds(100);
  EXPECT_TRUE(r.decide(alert("203.0.113.6", "r9")).deliver) << "10/s: a token per 100 ms";
}

TEST(AlertRouter, DuplicatesCostNoTokensAndThrottledAlertsOpenNoWindow) {
  FakeClock t;
  RouterSettings s = no_limits();
  s.dedup_window_s = 60;
  s.per_rule = {1, 1};
  Router r(s, t.clock());
  EXPECT_TRUE(r.decide(alert("198.51.100.1")).deliver);
  EXPECT_EQ(r.decide(alert("198.51.100.1")).suppressed_by, "dedup");
  EXPECT_EQ(r.decide(alert("198.51.100.2")).suppressed_by, "throttle_rule");
  t.now += seconds(1);
  EXPECT_TRUE(r.decide(alert("198.51.100.2")).deliver)
      << "throttled before, so not a duplicate now";
}

TEST(AlertRouter, RoutesBySeverityAndComponent) {
  FakeClock t;
  RouterSettings s = no_limits();
  EXPECT_TRUE(Router(s, t.clock()).decide(alert("198.51.100.1")).all_senders)
      << "no routes: every sender";
  s.routes = {{2, {}, {"email"}}, {0, {"ids"}, {"webhook", "email"}}, {0, {}, {"log"}}};
  Router r(s, t.clock());
  auto senders = [&](uint32_t sev, const char* comp) {
    const auto d = r.decide(alert("198.51.100.1", "r", sev, comp));
    EXPECT_TRUE(d.deliver);
    return std::set<std::string>(d.senders.begin(), d.senders.end());
  };
  EXPECT_EQ(senders(1, "firewall"), (std::set<std::string>{"log"}));
  EXPECT_EQ(senders(3, "firewall"), (std::set<std::string>{"email", "log"}));
  EXPECT_EQ(senders(0, "ids"), (std::set<std::string>{"webhook", "email", "log"}));

  s.routes = {{3, {}, {"email"}}};
  r.update(s);
  const auto d = r.decide(alert("198.51.100.1", "r", 1));
  EXPECT_FALSE(d.deliver);
  EXPECT_EQ(d.suppressed_by, "unrouted");
}

TEST(AlertRouter, RemembersABoundedNumberOfFingerprints) {
  FakeClock t;
  RouterSettings s = no_limits();
  s.dedup_window_s = 1;
  s.max_tracked = 100;
  Router r(s, t.clock());
  char buf[32];
  for (int i = 0; i < 1000; ++i) {
    std::snprintf(buf, sizeof buf, "10.0.%d.%d", i / 256, i % 256);
    EXPECT_TRUE(r.decide(alert(buf)).deliver);
  }
  t.now += seconds(2);
  EXPECT_TRUE(r.decide(alert("10.0.0.1")).deliver) << "expired fingerprints are forgotten";
}

TEST(CircuitBreaker, OpensAfterFailuresProbesAndCloses) {
  FakeClock t;
  CircuitBreaker b(3, seconds(30));
  EXPECT_TRUE(b.allow(t.now));
  b.failure(t.now);
  b.failure(t.now);
  EXPECT_EQ(b.state(), CircuitBreaker::State::closed);
  b.success();
  b.failure(t.now);
  b.failure(t.now);
  EXPECT_EQ(b.state(), CircuitBreaker::State::closed) << "a success resets the count";
  b.failure(t.now);
  EXPECT_EQ(b.state(), CircuitBreaker::State::open);
  EXPECT_FALSE(b.allow(t.now + seconds(29)));
  EXPECT_TRUE(b.allow(t.now + seconds(30)));
  EXPECT_EQ(b.state(), CircuitBreaker::State::half_open);
  b.failure(t.now + seconds(30));
  EXPECT_EQ(b.state(), CircuitBreaker::State::open) << "a failed probe reopens at once";
  EXPECT_FALSE(b.allow(t.now + seconds(59)));
  EXPECT_TRUE(b.allow(t.now + seconds(60)));
  b.success();
  EXPECT_EQ(b.state(), CircuitBreaker::State::closed);
}

// A sender the test controls: fails while `down`, records what it got.
struct TestSender {
  std::mutex mu;
  std::condition_variable cv;
  bool down = false;
  bool block = false;  // hold every delivery until released
  std::vector<std::string> got;
  void deliver(const AlertRecord& a) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return !block; });
    if (down) throw std::runtime_error("receiver down");
    got.push_back(a.rule_id);
    cv.notify_all();
  }
  bool wait_for(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, seconds(10), [&] { return got.size() >= n; });
  }
};

std::shared_ptr<const AlertRecord> numbered(int i) {
  auto a = std::make_shared<AlertRecord>(alert("198.51.100.1"));
  a->rule_id = std::to_string(i);
  return a;
}

TEST(SenderQueue, DropsTheOldestWhenFullAndDeliversTheRestInOrder) {
  TestSender s;
  s.block = true;
  DeliverySettings d;
  d.queue = 3;
  SenderQueue q(
      "test", [&](const AlertRecord& a) { s.deliver(a); }, d);
  for (int i = 0; i < 10; ++i) q.push(numbered(i));
  {
    std::lock_guard lock(s.mu);
    s.block = false;
  }
  s.cv.notify_all();
  // One may already be in the sender's hands when the rest arrive.
  ASSERT_TRUE(s.wait_for(3));
  auto settled = [&] { return q.stats().delivered + q.stats().dropped == 10; };
  for (int i = 0; i < 1000 && !settled(); ++i) std::this_thread::sleep_for(milliseconds(5));
  const auto st = q.stats();
  EXPECT_EQ(st.delivered + st.dropped, 10u);
  EXPECT_GE(st.dropped, 6u);
  std::lock_guard lock(s.mu);
  EXPECT_EQ(s.got.back(), "9") << "the newest is kept";
  EXPECT_TRUE(std::is_sorted(s.got.begin(), s.got.end(), [](const auto& a, const auto& b) {
    return std::stoi(a) < std::stoi(b);
  }));
}

TEST(SenderQueue, ADeadReceiverOpensTheBreakerAndItClosesWhenItComesBack) {
  TestSender s;
  s.down = true;
  DeliverySettings d;
  d.breaker_failures = 2;
  d.breaker_open_s = 0.05;
  SenderQueue q(
      "test", [&](const AlertRecord& a) { s.deliver(a); }, d);
  q.push(numbered(1));
  for (int i = 0; i < 500 && q.stats().state != CircuitBreaker::State::open; ++i)
    std::this_thread::sleep_for(milliseconds(2));
  EXPECT_EQ(q.stats().state, CircuitBreaker::State::open);
  EXPECT_GE(q.stats().failed, 2u);
  q.push(numbered(2));
  {
    std::lock_guard lock(s.mu);
    s.down = false;
  }
  ASSERT_TRUE(s.wait_for(2)) << "the probe delivers the held alert, then the rest";
  EXPECT_EQ(q.stats().state, CircuitBreaker::State::closed);
  std::lock_guard lock(s.mu);
  EXPECT_EQ(s.got, (std::vector<std::string>{"1", "2"})) << "nothing lost while it was down";
}

TEST(AlertStore, FiltersPagesAndMarksFalsePositives) {
  rampart::test::TempDir dir;
  AlertStore store(dir / "a.db", {});
  for (int i = 0; i < 25; ++i) {
    auto a = std::make_shared<AlertRecord>(
        alert(i % 2 ? "198.51.100.1" : "198.51.100.2", "r", i % 4, i % 3 ? "firewall" : "ids"));
    a->id =
        "00000000-0000-4000-8000-0000000000" + std::string(i < 10 ? "0" : "") + std::to_string(i);
    a->time_ns = 1000000000ull * (1000 + i);
    store.add(a);
  }
  AlertQuery q;
  EXPECT_EQ(store.list(q).size(), 25u);
  q.min_severity = 2;
  EXPECT_EQ(store.list(q).size(), 12u);
  q = {};
  q.severity = 3;
  q.component = "firewall";
  for (const auto& a : store.list(q)) {
    EXPECT_NE(a.json.find(R"("severity":"critical")"), std::string::npos);
    EXPECT_NE(a.json.find(R"("component":"firewall")"), std::string::npos);
  }
  q = {};
  q.src = "198.51.100.1";
  q.since_ns = 1000000000ull * 1020;
  EXPECT_EQ(store.list(q).size(), 2u) << "21 and 23";
  q = {};
  q.limit = 10;
  const auto first = store.list(q);
  ASSERT_EQ(first.size(), 10u);
  q.before_seq = first.back().seq;
  const auto second = store.list(q);
  ASSERT_EQ(second.size(), 10u);
  EXPECT_LT(second.front().seq, first.back().seq) << "pages are newest first, without overlap";

  const std::string id = "00000000-0000-4000-8000-000000000007";
  const auto marked = store.mark_false_positive(id, "key:alice", "scanner we run");
  ASSERT_TRUE(marked);
  auto o = Poco::JSON::Parser().parse(marked->json).extract<Poco::JSON::Object::Ptr>();
  EXPECT_TRUE(o->getValue<bool>("false_positive"));
  EXPECT_EQ(o->getValue<std::string>("false_positive_by"), "key:alice");
  EXPECT_EQ(o->getValue<std::string>("false_positive_reason"), "scanner we run");
  EXPECT_FALSE(store.mark_false_positive("00000000-0000-4000-8000-999999999999", "x", ""));
  q = {};
  q.false_positive = true;
  ASSERT_EQ(store.list(q).size(), 1u);
  q.false_positive = false;
  EXPECT_EQ(store.list(q).size(), 24u);
}

TEST(AlertStore, RetentionByCountAndAgeAndSurvivesReopening) {
  rampart::test::TempDir dir;
  const auto now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  {
    StoreSettings s;
    s.max_count = 5;
    s.max_age_s = 3600;
    AlertStore store(dir / "a.db", s);
    for (int i = 0; i < 12; ++i) {
      auto a = std::make_shared<AlertRecord>(alert("198.51.100.1"));
      a->id =
          "00000000-0000-4000-8000-0000000000" + std::string(i < 10 ? "0" : "") + std::to_string(i);
      a->time_ns = i < 2 ? now - 7200ull * 1000000000ull : now;  // two are two hours old
      store.add(a);
    }
    store.flush();
    store.prune();
    const auto left = store.list({});
    ASSERT_EQ(left.size(), 5u);
    EXPECT_NE(left.front().json.find("000000000011"), std::string::npos) << "the newest stay";
    EXPECT_EQ(store.pruned(), 7u);
  }
  AlertStore again(dir / "a.db", {});
  EXPECT_EQ(again.list({}).size(), 5u) << "alerts survive a restart";
}

TEST(Enricher, NamesAndReputationExpireAndGeoFillsBothAddresses) {
  Enricher e;
  auto a = alert("198.51.100.7");
  uint8_t src[4], dst[4];
  std::memcpy(src, a.src_addr.data(), 4);
  std::memcpy(dst, a.dst_addr.data(), 4);
  e.publish_name(4, src, "Scanner.Example.", seconds(60));
  e.publish_reputation("scanner.example", 7, seconds(60));
  e.publish_name(4, dst, "www.example", seconds(0));  // already expired
  e.set_geo([](uint8_t family, const uint8_t* addr, Enrichment& out) {
    out.country = family == 4 && addr[0] == 198 ? "ZZ" : "";
  });
  e.enrich(a);
  EXPECT_EQ(a.src_info.name, "scanner.example");
  EXPECT_EQ(a.src_info.reputation, 7);
  EXPECT_EQ(a.src_info.country, "ZZ");
  EXPECT_TRUE(a.dst_info.name.empty()) << "expired names are not used";
  EXPECT_EQ(a.dst_info.reputation, -1);
}

struct StreamProbe : AlertStream {
  std::vector<AlertRecord> seen;
  void stream(const AlertRecord& a) override { seen.push_back(a); }
};
struct SinkProbe : AlertSink {
  TestSender s;
  void deliver(const AlertRecord& a) override { s.deliver(a); }
};

TEST(AlertPipeline, StoresAndStreamsEverythingButDeliversOnlyWhatTheRouterLets) {
  rampart::test::TempDir dir;
  AlertSettings settings;
  settings.router.dedup_window_s = 3600;
  AlertStore store(dir / "a.db", settings.store);
  AlertPipeline p(settings);
  p.set_store(&store);
  auto stream = std::make_shared<StreamProbe>();
  auto sink = std::make_shared<SinkProbe>();
  p.add_stream(stream);
  p.add_sender("probe", sink);
  rampart_alert raw = {};
  raw.struct_size = sizeof raw;
  raw.severity = RAMPART_SEVERITY_HIGH;
  raw.rule_id = {"r1", 2};
  raw.message = {"hello", 5};
  raw.mitre_technique_id = {"T1046", 5};
  raw.mitre_tactic = {"Discovery", 9};
  for (int i = 0; i < 3; ++i) p.emit("engine", raw);
  ASSERT_TRUE(sink->s.wait_for(1));
  EXPECT_EQ(stream->seen.size(), 3u) << "suppressed alerts are streamed too";
  EXPECT_EQ(stream->seen[1].suppressed_by, "dedup");
  EXPECT_EQ(stream->seen[0].technique_id, "T1046");
  EXPECT_EQ(store.list({}).size(), 3u) << "and stored";
  EXPECT_EQ(p.suppressed().at("dedup"), 2u);
  EXPECT_EQ((p.by_component().at({"engine", RAMPART_SEVERITY_HIGH})), 3u);
  p.remove_sender(sink.get());
  std::lock_guard lock(sink->s.mu);
  EXPECT_EQ(sink->s.got.size(), 1u);
}

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string text_of(const AlertRecord& r) {
  std::ostringstream text;
  to_json(r)->stringify(text);
  return text.str();
}

// What an engine set in the 1.12 fields is what the record holds, its
// names and excerpt bounded; an alert of an older plugin has none of them.
TEST(AlertRecord, TheSignatureAndMatchFieldsAreReadBoundedAndOnlyFromANewEnoughAlert) {
  const std::string long_name(500, 'c'), long_excerpt(5000, 'x');
  rampart_alert a = rampart::sdk::make_alert(RAMPART_SEVERITY_HIGH, "ids:1", "m");
  rampart::sdk::set_signature(
      a, {9000001, 2, "LAB rule", long_name, 77, "tls", "tls.sni", 4, long_excerpt, ""});
  const AlertRecord r = AlertRecord::from_abi(a);
  EXPECT_EQ(r.signature_id, 9000001u);
  EXPECT_EQ(r.signature_rev, 2u);
  EXPECT_EQ(r.signature, "LAB rule");
  EXPECT_EQ(r.category, long_name.substr(0, 128));
  EXPECT_EQ(r.flow_id, 77u);
  EXPECT_EQ(r.app_proto, "tls");
  EXPECT_EQ(r.match_buffer, "tls.sni");
  EXPECT_EQ(r.match_offset, 4u);
  EXPECT_EQ(r.match_excerpt.size(), size_t{RAMPART_ALERT_EXCERPT_MAX});
  AlertView view(r);
  const rampart::sdk::Alert back{view.get()};
  EXPECT_EQ(back.signature_id(), 9000001u);
  EXPECT_EQ(back.match_excerpt(), r.match_excerpt);
  EXPECT_EQ(back.category(), r.category);

  EXPECT_TRUE(r.context.empty());

  // The context: kept when it is a JSON object within the bound.
  const std::string ctx = R"({"flow":{"pkts_toserver":3},"http":{"hostname":"a.example"}})";
  auto with_context = [&](std::string_view text) {
    rampart_alert c = a;
    c.context_json = rampart::sdk::to_str(text);
    return AlertRecord::from_abi(c).context;
  };
  EXPECT_EQ(with_context(ctx), ctx);
  EXPECT_NE(text_of(AlertRecord::from_abi([&] {
              rampart_alert c = a;
              c.context_json = rampart::sdk::to_str(ctx);
              return c;
            }()))
                .find(R"("context":{"flow":{"pkts_toserver":3},"http":{"hostname":"a.example"}})"),
            std::string::npos);
  // Dropped (the alert kept): not JSON, not an object, over the bound.
  EXPECT_EQ(with_context("{\"flow\":"), "");
  EXPECT_EQ(with_context("[1,2]"), "");
  EXPECT_EQ(with_context("\"text\""), "");
  const std::string big = "{\"x\":\"" + std::string(RAMPART_ALERT_CONTEXT_MAX, 'a') + "\"}";
  EXPECT_EQ(with_context(big), "");

  a.struct_size = offsetof(rampart_alert, signature_id);  // built against ABI 1.3-1.11
  const AlertRecord old = AlertRecord::from_abi(a);
  EXPECT_EQ(old.signature_id, 0u);
  EXPECT_EQ(old.flow_id, 0u);
  EXPECT_TRUE(old.category.empty());
  EXPECT_TRUE(old.match_excerpt.empty());
  EXPECT_EQ(text_of(old).find("signature"), std::string::npos);
  EXPECT_EQ(text_of(old).find("match"), std::string::npos);
}

// What the store keeps reads back into the record it was made from: what
// a sender gets after a restart is what it would have got before.
TEST(AlertJson, TheStoredFormReadsBackIntoTheSameRecord) {
  AlertRecord a = alert("198.51.100.9", "fw-7", RAMPART_SEVERITY_CRITICAL);
  a.id = "6f1c2a9e-1d3b-4c5a-9e8f-0123456789ab";
  a.message = "port scan \"quoted\" \xc3\xa9";
  a.technique_id = "T1046";
  a.technique_name = "Network Service Discovery";
  a.tactic = "Discovery";
  a.action = RAMPART_ALERT_ACTION_BLOCK;
  a.vlan_id = 42;
  a.src_port = 40000;
  a.time_ns = 1714564800123456789ull;
  a.suppressed = 3;
  a.src_info = {"ZZ", "Testville", 64500, "Example AS", "scanner.example", 12};
  a.dst_info.country = "YY";
  a.signature_id = 2100498;
  a.signature_rev = 7;
  a.signature = "GPL ATTACK_RESPONSE id check returned root";
  a.category = "bad-unknown";
  a.flow_id = 0xfedcba9876543210ull;
  a.app_proto = "http";
  a.match_buffer = "http.uri";
  a.match_offset = 17;
  a.match_excerpt = std::string("id\0=\xff", 5);
  a.context = R"({"flow":{"bytes_toclient":9,"pkts_toserver":3},"http":{"hostname":"a.example"}})";
  AlertRecord v6 = a;
  v6.ip_family = 6;
  inet_pton(AF_INET6, "2001:db8::7", v6.src_addr.data());
  inet_pton(AF_INET6, "2001:db8::1", v6.dst_addr.data());
  AlertRecord bare;  // no addresses, no MITRE, no enrichment; suppressed by dedup
  bare.id = "bare";
  bare.component = "engine";
  bare.suppressed_by = "dedup";
  for (const AlertRecord* r : {&a, &v6, &bare}) {
    std::ostringstream text;
    to_json(*r)->stringify(text);
    const AlertRecord back = from_json(text.str());
    std::ostringstream again;
    to_json(back)->stringify(again);
    EXPECT_EQ(again.str(), text.str());
    EXPECT_EQ(back.ip_family, r->ip_family);
    EXPECT_EQ(back.src_addr, r->src_addr);
    EXPECT_EQ(back.dst_addr, r->dst_addr);
    EXPECT_EQ(back.time_ns, r->time_ns);
    EXPECT_EQ(back.src_info.reputation, r->src_info.reputation);
    EXPECT_EQ(back.signature_id, r->signature_id);
    EXPECT_EQ(back.flow_id, r->flow_id);
    EXPECT_EQ(back.match_excerpt, r->match_excerpt);
    EXPECT_EQ(back.context, r->context);
  }
  EXPECT_NE(text_of(a).find("\"excerpt_base64\":\"aWQAPf8=\""), std::string::npos) << text_of(a);
  EXPECT_THROW(from_json("{\"id\":\"x\",\"time_ns\":1,\"component\":\"c\",\"severity\":"
                         "\"low\",\"match\":{\"excerpt_base64\":\"@@not base64\"}}"),
               std::invalid_argument);
  EXPECT_THROW(from_json("{\"id\":\"x\"}"), std::invalid_argument);
  EXPECT_THROW(from_json("not json"), std::invalid_argument);
}

TEST(AlertStore, KeepsWhichSendersStillOweAnAlertAcrossReopening) {
  rampart::test::TempDir dir;
  auto record = [](const char* id, const char* rule) {
    auto a = std::make_shared<AlertRecord>(alert("198.51.100.1", rule));
    a->id = id;
    a->time_ns = now_ns();
    return a;
  };
  {
    AlertStore store(dir / "a.db", {});
    store.add(record("id-1", "r1"), {"hook", "mail"});
    store.add(record("id-2", "r2"), {"hook"});
    store.add(record("id-3", "r3"));
    store.settle("id-1", "hook");
  }
  AlertStore again(dir / "a.db", {});
  const auto hook = again.owed("hook");
  ASSERT_EQ(hook.size(), 1u);
  EXPECT_EQ(hook[0]->id, "id-2");
  EXPECT_EQ(hook[0]->rule_id, "r2");
  EXPECT_EQ(hook[0]->src_ip(), "198.51.100.1");
  const auto mail = again.owed("mail");
  ASSERT_EQ(mail.size(), 1u);
  EXPECT_EQ(mail[0]->id, "id-1");
  EXPECT_TRUE(again.owed("log").empty());
  again.settle("id-2", "hook");
  EXPECT_TRUE(again.owed("hook").empty());
  StoreSettings keep_one;
  keep_one.max_count = 1;
  again.configure(keep_one);  // retention keeps id-3 alone
  EXPECT_TRUE(again.owed("mail").empty()) << "nothing is owed for an alert retention removed";
}

// A sender that could not deliver before it stopped (SIGTERM, or a restart
// on reload) gets those alerts first when it runs again, and only once.
TEST(AlertPipeline, ASenderGetsWhatItStillOwedWhenItRunsAgainAndOnlyOnce) {
  rampart::test::TempDir dir;
  AlertSettings settings;
  settings.router.dedup_window_s = 0;
  AlertStore store(dir / "a.db", settings.store);
  {
    AlertPipeline p(settings);
    p.set_store(&store);
    auto down = std::make_shared<SinkProbe>();
    down->s.down = true;
    p.add_sender("hook", down);
    rampart_alert raw = {};
    raw.struct_size = sizeof raw;
    raw.severity = RAMPART_SEVERITY_HIGH;
    raw.message = {"m", 1};
    for (const char* rule : {"r1", "r2", "r3"}) {
      raw.rule_id = {rule, 2};
      p.emit("engine", raw);
    }
    for (int i = 0; i < 1000 && p.senders()[0].delivery.failed == 0; ++i)
      std::this_thread::sleep_for(milliseconds(5));
    ASSERT_GE(p.senders()[0].delivery.failed, 1u);
    p.remove_sender(down.get());  // the queue dropped here: waits for its thread
  }
  {
    AlertPipeline p(settings);
    p.set_store(&store);
    auto up = std::make_shared<SinkProbe>();
    p.add_sender("hook", up);
    ASSERT_TRUE(up->s.wait_for(3));
    p.remove_sender(up.get());
    std::lock_guard lock(up->s.mu);
    EXPECT_EQ(up->s.got, (std::vector<std::string>{"r1", "r2", "r3"})) << "oldest first";
  }
  EXPECT_TRUE(store.owed("hook").empty());
  AlertPipeline p(settings);
  p.set_store(&store);
  auto again = std::make_shared<SinkProbe>();
  p.add_sender("hook", again);
  EXPECT_EQ(p.senders()[0].delivery.queued, 0u) << "delivered alerts are not owed again";
  p.remove_sender(again.get());
  std::lock_guard lock(again->s.mu);
  EXPECT_TRUE(again->s.got.empty());
}

TEST(AlertConfig, SectionIsParsedAndBadValuesNameTheLine) {
  const auto cfg = rampart::config::load_string(
      "alerts:\n"
      "  store: {max_age_days: 7, max_count: 500}\n"
      "  dedup: {window_seconds: 30}\n"
      "  throttle: {per_source: {rate_per_second: 5, burst: 10}}\n"
      "  delivery: {queue: 50, breaker_failures: 3, breaker_open_seconds: 0.5}\n"
      "  routes:\n"
      "    - {min_severity: high, components: [firewall], senders: [email]}\n",
      "t.yaml");
  EXPECT_EQ(cfg.alerts.store.max_age_s, 7 * 86400.0);
  EXPECT_EQ(cfg.alerts.store.max_count, 500u);
  EXPECT_EQ(cfg.alerts.router.dedup_window_s, 30);
  EXPECT_EQ(cfg.alerts.router.per_source.rate, 5);
  EXPECT_EQ(cfg.alerts.router.per_source.burst, 10);
  EXPECT_EQ(cfg.alerts.delivery.queue, 50u);
  EXPECT_EQ(cfg.alerts.delivery.breaker_open_s, 0.5);
  ASSERT_EQ(cfg.alerts.router.routes.size(), 1u);
  EXPECT_EQ(cfg.alerts.router.routes[0].min_severity, 2u);
  EXPECT_EQ(cfg.alerts.router.routes[0].senders, (std::vector<std::string>{"email"}));

  for (const auto& [yaml, expect] : std::vector<std::pair<std::string, std::string>>{
           {"alerts:\n  dedup: {window_seconds: -1}\n", "t.yaml:2:27: alerts.dedup.window_seconds"},
           {"alerts:\n  routes:\n    - {min_severity: severe, senders: [log]}\n",
            "t.yaml:3:22: alerts.routes[0].min_severity: expected low, medium, high or critical"},
           {"alerts:\n  routes:\n    - {components: [ids]}\n", "alerts.routes[0]: needs senders"},
           {"alerts:\n  geoip: {city: relative.mmdb}\n", "alerts.geoip.city: expected an absolute"},
           {"alerts:\n  spam: 1\n", "unknown key 'alerts.spam'"}}) {
    try {
      rampart::config::load_string(yaml, "t.yaml");
      ADD_FAILURE() << "accepted: " << yaml;
    } catch (const rampart::config::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
    }
  }
}

}  // namespace

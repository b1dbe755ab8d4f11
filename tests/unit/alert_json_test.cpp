// SPDX-License-Identifier: Apache-2.0
// The alert JSON every sender writes: field names and values, what is left
// out when unknown, older (smaller) alerts, and that it always parses.
#include <gtest/gtest.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <arpa/inet.h>

#include <cstddef>
#include <string>

#include "alert_json.hpp"

namespace {

using rampart::sdk::Alert;
using rampart::sdk::to_str;
using rampart::sender::alert_json;

Poco::JSON::Object::Ptr parse(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

rampart_alert_enrichment enrichment(const char* country, const char* city, uint32_t asn,
                                    const char* as_org, const char* name, int32_t reputation) {
  rampart_alert_enrichment e{};
  e.struct_size = sizeof e;
  e.country = to_str(country);
  e.city = to_str(city);
  e.asn = asn;
  e.as_org = to_str(as_org);
  e.name = to_str(name);
  e.reputation = reputation;
  return e;
}

struct FullAlert {
  rampart_alert_enrichment src =
      enrichment("US", "Mountain View", 15169, "Google LLC", "scanner.example.com", 12);
  rampart_alert_enrichment dst = enrichment("DE", "Berlin", 3320, "Deutsche Telekom AG", "", -1);
  rampart_alert a{};
  FullAlert() {
    a.struct_size = sizeof a;
    a.severity = RAMPART_SEVERITY_CRITICAL;
    a.action = RAMPART_ALERT_ACTION_BLOCK;
    a.ip_family = 4;
    a.protocol = 6;
    a.vlan_id = 42;
    inet_pton(AF_INET, "203.0.113.5", a.src_addr);
    inet_pton(AF_INET, "10.0.0.2", a.dst_addr);
    a.src_port = 51234;
    a.dst_port = 22;
    a.time_ns = 1714564800123456789ull;
    a.id = to_str("4a1d-id");
    a.component = to_str("firewall");
    a.rule_id = to_str("7");
    a.message = to_str("ssh scan");
    a.mitre_technique_id = to_str("T1046");
    a.mitre_technique_name = to_str("Network Service Discovery");
    a.mitre_tactic = to_str("Discovery");
    a.suppressed = 17;
    a.src_info = &src;
    a.dst_info = &dst;
    rampart::sdk::set_signature(
        a, {2100498, 7, "GPL ATTACK_RESPONSE id check returned root", "bad-unknown",
            0x1234567890abcdefull, "http", "http.uri", 17, std::string_view("id\0=\xff", 5),
            R"({"flow":{"pkts_toserver":3},"http":{"hostname":"a.example"}})"});
  }
};

TEST(AlertJson, AnAlertWithEveryFieldHasThemAll) {
  FullAlert f;
  const std::string text = alert_json(Alert{&f.a});
  EXPECT_EQ(text.find('\n'), std::string::npos) << "one line";
  EXPECT_EQ(text.rfind("{\"timestamp\":\"2024-05-01T12:00:00.123456Z\",\"timestamp_ns\":", 0), 0u)
      << text;
  const auto o = parse(text);
  EXPECT_EQ(o->getValue<std::string>("timestamp"), "2024-05-01T12:00:00.123456Z");
  EXPECT_EQ(o->getValue<uint64_t>("timestamp_ns"), 1714564800123456789ull);
  EXPECT_EQ(o->getValue<std::string>("event_type"), "alert");
  EXPECT_EQ(o->getValue<std::string>("alert_id"), "4a1d-id");
  EXPECT_EQ(o->getValue<std::string>("component"), "firewall");
  EXPECT_EQ(o->getValue<std::string>("severity"), "critical");
  EXPECT_EQ(o->getValue<std::string>("action"), "block");
  EXPECT_EQ(o->getValue<std::string>("rule_id"), "7");
  EXPECT_EQ(o->getValue<std::string>("message"), "ssh scan");
  EXPECT_EQ(o->getValue<std::string>("src_ip"), "203.0.113.5");
  EXPECT_EQ(o->getValue<std::string>("dst_ip"), "10.0.0.2");
  EXPECT_EQ(o->getValue<int>("src_port"), 51234);
  EXPECT_EQ(o->getValue<int>("dst_port"), 22);
  EXPECT_EQ(o->getValue<int>("proto"), 6);
  EXPECT_EQ(o->getValue<int>("vlan_id"), 42);
  EXPECT_EQ(o->getValue<int>("suppressed"), 17);
  const auto mitre = o->getObject("mitre");
  ASSERT_TRUE(mitre);
  EXPECT_EQ(mitre->getValue<std::string>("technique_id"), "T1046");
  EXPECT_EQ(mitre->getValue<std::string>("technique_name"), "Network Service Discovery");
  EXPECT_EQ(mitre->getValue<std::string>("tactic"), "Discovery");
  const auto src = o->getObject("src_geo");
  ASSERT_TRUE(src);
  EXPECT_EQ(src->getValue<std::string>("country"), "US");
  EXPECT_EQ(src->getValue<std::string>("city"), "Mountain View");
  EXPECT_EQ(src->getValue<int>("asn"), 15169);
  EXPECT_EQ(src->getValue<std::string>("as_org"), "Google LLC");
  EXPECT_EQ(src->getValue<std::string>("name"), "scanner.example.com");
  EXPECT_EQ(src->getValue<int>("reputation"), 12);
  const auto dst = o->getObject("dst_geo");
  ASSERT_TRUE(dst);
  EXPECT_EQ(dst->size(), 4u) << "no name, reputation unknown (-1)";
  EXPECT_FALSE(dst->has("name"));
  EXPECT_FALSE(dst->has("reputation"));
  const auto sig = o->getObject("signature");
  ASSERT_TRUE(sig) << text;
  EXPECT_EQ(sig->getValue<uint32_t>("id"), 2100498u);
  EXPECT_EQ(sig->getValue<uint32_t>("rev"), 7u);
  EXPECT_EQ(sig->getValue<std::string>("name"), "GPL ATTACK_RESPONSE id check returned root");
  EXPECT_EQ(sig->getValue<std::string>("category"), "bad-unknown");
  EXPECT_EQ(o->getValue<uint64_t>("flow_id"), 0x1234567890abcdefull);
  EXPECT_EQ(o->getValue<std::string>("app_proto"), "http");
  const auto match = o->getObject("match");
  ASSERT_TRUE(match) << text;
  EXPECT_EQ(match->getValue<std::string>("buffer"), "http.uri");
  EXPECT_EQ(match->getValue<uint32_t>("offset"), 17u);
  EXPECT_EQ(match->getValue<std::string>("excerpt_base64"), "aWQAPf8=") << "raw bytes, NUL too";
  const auto context = o->getObject("context");
  ASSERT_TRUE(context) << text;
  EXPECT_EQ(context->getObject("flow")->getValue<int>("pkts_toserver"), 3);
  EXPECT_EQ(context->getObject("http")->getValue<std::string>("hostname"), "a.example");
}

// EVE: Suricata's names and values; the signature's name over the message;
// the context's sections at the top level; the rest under "rampart".
TEST(EveJson, AnIdsAlertIsSuricatasAlertRecord) {
  FullAlert f;
  const std::string text = rampart::sender::eve_json(Alert{&f.a});
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(text.rfind(R"({"timestamp":"2024-05-01T12:00:00.123456+0000","flow_id":)", 0), 0u)
      << text;
  const auto o = parse(text);
  EXPECT_EQ(o->getValue<uint64_t>("flow_id"), 0x1234567890abcdefull);
  EXPECT_EQ(o->getValue<std::string>("event_type"), "alert");
  EXPECT_EQ(o->getValue<std::string>("src_ip"), "203.0.113.5");
  EXPECT_EQ(o->getValue<int>("src_port"), 51234);
  EXPECT_EQ(o->getValue<std::string>("dest_ip"), "10.0.0.2");
  EXPECT_EQ(o->getValue<int>("dest_port"), 22);
  EXPECT_EQ(o->getValue<std::string>("proto"), "TCP");
  EXPECT_EQ(o->getArray("vlan")->getElement<int>(0), 42);
  EXPECT_EQ(o->getValue<std::string>("app_proto"), "http");
  const auto al = o->getObject("alert");
  ASSERT_TRUE(al);
  EXPECT_EQ(al->getValue<std::string>("action"), "blocked");
  EXPECT_EQ(al->getValue<int>("gid"), 1);
  EXPECT_EQ(al->getValue<uint32_t>("signature_id"), 2100498u);
  EXPECT_EQ(al->getValue<int>("rev"), 7);
  EXPECT_EQ(al->getValue<std::string>("signature"), "GPL ATTACK_RESPONSE id check returned root");
  EXPECT_EQ(al->getValue<std::string>("category"), "bad-unknown");
  EXPECT_EQ(al->getValue<int>("severity"), 1) << "critical";
  EXPECT_EQ(al->getObject("metadata")->getArray("mitre_tactic_name")->getElement<std::string>(0),
            "Discovery");
  EXPECT_EQ(o->getObject("flow")->getValue<int>("pkts_toserver"), 3);
  EXPECT_EQ(o->getObject("http")->getValue<std::string>("hostname"), "a.example");
  const auto r = o->getObject("rampart");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->getValue<std::string>("alert_id"), "4a1d-id");
  EXPECT_EQ(r->getValue<std::string>("rule_id"), "7");
  EXPECT_EQ(r->getValue<std::string>("message"), "ssh scan");
  EXPECT_EQ(r->getValue<int>("suppressed"), 17);
  EXPECT_EQ(r->getObject("match")->getValue<std::string>("excerpt_base64"), "aWQAPf8=");
  EXPECT_EQ(r->getObject("src_geo")->getValue<std::string>("country"), "US");
  EXPECT_EQ(r->getObject("mitre")->getValue<std::string>("technique_id"), "T1046");
}

TEST(EveJson, AnAlertWithoutASignatureNamesItsMessageAndNoRule) {
  rampart_alert a{};
  a.struct_size = sizeof a;
  a.severity = RAMPART_SEVERITY_MEDIUM;
  a.ip_family = 6;
  a.protocol = 58;
  inet_pton(AF_INET6, "2001:db8::7", a.src_addr);
  inet_pton(AF_INET6, "2001:db8::1", a.dst_addr);
  a.message = to_str("ICMP flood");
  // A context may not replace EVE's own fields.
  a.context_json = to_str(R"({"src_ip":"6.6.6.6","alert":{},"ddos":{"pps":90000}})");
  const auto o = parse(rampart::sender::eve_json(Alert{&a}));
  EXPECT_EQ(o->getValue<std::string>("proto"), "IPv6-ICMP");
  EXPECT_EQ(o->getValue<std::string>("src_ip"), "2001:db8::7");
  EXPECT_FALSE(o->has("flow_id"));
  EXPECT_FALSE(o->has("app_proto"));
  const auto al = o->getObject("alert");
  EXPECT_EQ(al->getValue<std::string>("action"), "allowed");
  EXPECT_EQ(al->getValue<int>("gid"), 0);
  EXPECT_EQ(al->getValue<int>("signature_id"), 0);
  EXPECT_EQ(al->getValue<std::string>("signature"), "ICMP flood");
  EXPECT_EQ(al->getValue<int>("severity"), 2);
  EXPECT_FALSE(al->has("metadata"));
  EXPECT_EQ(o->getObject("ddos")->getValue<int>("pps"), 90000);
  for (uint32_t sev : {RAMPART_SEVERITY_LOW, RAMPART_SEVERITY_HIGH}) {
    a.severity = sev;
    EXPECT_EQ(
        parse(rampart::sender::eve_json(Alert{&a}))->getObject("alert")->getValue<int>("severity"),
        sev == RAMPART_SEVERITY_LOW ? 3 : 1);
  }
}

TEST(AlertJson, Base64IsRfc4648) {
  using rampart::sdk::base64;
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foob"), "Zm9vYg==");
  EXPECT_EQ(base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64(std::string_view("\xff\xfe\x00", 3)), "//4A");
}

TEST(AlertJson, AnAlertWithNothingOptionalHasOnlyTheFixedFields) {
  rampart_alert a{};
  a.struct_size = sizeof a;
  const std::string text = alert_json(Alert{&a});
  const auto o = parse(text);
  EXPECT_EQ(o->getValue<std::string>("timestamp"), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(o->getValue<uint64_t>("timestamp_ns"), 0u);
  EXPECT_EQ(o->getValue<std::string>("severity"), "low");
  EXPECT_EQ(o->getValue<std::string>("action"), "alert");
  EXPECT_EQ(o->getValue<std::string>("message"), "");
  std::vector<std::string> names;
  o->getNames(names);
  std::sort(names.begin(), names.end());
  const std::vector<std::string> fixed = {"action",     "alert_id",  "component",
                                          "event_type", "message",   "rule_id",
                                          "severity",   "timestamp", "timestamp_ns"};
  EXPECT_EQ(names, fixed) << text;
}

TEST(AlertJson, EnrichmentWithNothingKnownIsLeftOut) {
  FullAlert f;
  f.src = enrichment("", "", 0, "", "", -1);
  f.dst = enrichment("", "", 0, "", "", 80);
  const auto o = parse(alert_json(Alert{&f.a}));
  EXPECT_FALSE(o->has("src_geo"));
  ASSERT_TRUE(o->getObject("dst_geo"));
  EXPECT_EQ(o->getObject("dst_geo")->size(), 1u);
  EXPECT_EQ(o->getObject("dst_geo")->getValue<int>("reputation"), 80);
}

TEST(AlertJson, AnAlertFromAnOlderHostCarriesNoNewerFields) {
  FullAlert f;  // 1.3 fields set, but the struct says it ends before them
  f.a.struct_size = offsetof(rampart_alert, mitre_technique_id);
  const auto o = parse(alert_json(Alert{&f.a}));
  EXPECT_FALSE(o->has("mitre"));
  EXPECT_FALSE(o->has("suppressed"));
  EXPECT_FALSE(o->has("src_geo"));
  EXPECT_FALSE(o->has("dst_geo"));
  EXPECT_FALSE(o->has("signature"));
  EXPECT_EQ(o->getValue<std::string>("src_ip"), "203.0.113.5");
  f.a.struct_size = offsetof(rampart_alert, signature_id);  // a 1.3-1.11 host
  const auto o13 = parse(alert_json(Alert{&f.a}));
  EXPECT_TRUE(o13->has("mitre"));
  EXPECT_FALSE(o13->has("signature"));
  EXPECT_FALSE(o13->has("flow_id"));
  EXPECT_FALSE(o13->has("app_proto"));
  EXPECT_FALSE(o13->has("match"));
}

TEST(AlertJson, OnlyTheTechniqueFieldsThatAreSetAppear) {
  FullAlert f;
  f.a.mitre_technique_name = to_str("");
  f.a.mitre_tactic = to_str("");
  const auto mitre = parse(alert_json(Alert{&f.a}))->getObject("mitre");
  ASSERT_TRUE(mitre);
  EXPECT_EQ(mitre->size(), 1u);
  EXPECT_EQ(mitre->getValue<std::string>("technique_id"), "T1046");
}

TEST(AlertJson, Ipv6Addresses) {
  FullAlert f;
  f.a.ip_family = 6;
  inet_pton(AF_INET6, "2001:db8::1", f.a.src_addr);
  inet_pton(AF_INET6, "fe80::2", f.a.dst_addr);
  const auto o = parse(alert_json(Alert{&f.a}));
  EXPECT_EQ(o->getValue<std::string>("src_ip"), "2001:db8::1");
  EXPECT_EQ(o->getValue<std::string>("dst_ip"), "fe80::2");
}

TEST(AlertJson, AnyTextStaysValidJsonAndUtf8) {
  FullAlert f;
  const std::string message = "say \"hi\"\\ \n\t\x01 caf\xc3\xa9 bad\xff\xc3 end";
  f.a.message = to_str(message);
  f.a.rule_id = to_str("r/1");
  const auto o = parse(alert_json(Alert{&f.a}));
  EXPECT_EQ(o->getValue<std::string>("message"),
            "say \"hi\"\\ \n\t\x01 caf\xc3\xa9 bad\xef\xbf\xbd\xef\xbf\xbd end");
  EXPECT_EQ(o->getValue<std::string>("rule_id"), "r/1");
}

TEST(AlertJson, ValidUtf8KeepsGoodSequencesAndReplacesBadOnes) {
  using rampart::sender::valid_utf8;
  EXPECT_EQ(valid_utf8("plain"), "plain");
  EXPECT_EQ(valid_utf8("\xf0\x9f\x94\x92 lock"), "\xf0\x9f\x94\x92 lock");
  EXPECT_EQ(valid_utf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd") << "overlong";
  EXPECT_EQ(valid_utf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd") << "surrogate";
  EXPECT_EQ(valid_utf8("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd") << "truncated";
}

}  // namespace

// SPDX-License-Identifier: Apache-2.0
// The firewall rule model and compiler without the kernel: parsing and
// validation errors name the field, and the compiled tables classify every
// packet exactly like testing the rules one by one.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>

#include "compiler.hpp"
#include "fuzz_inputs.hpp"
#include "rule.hpp"
#include "rule_json.hpp"
#include "tables.hpp"
#include "temp_dir.hpp"

namespace {

using namespace rampart::firewall;

TEST(FirewallRuleParsing, AcceptsWhatOperatorsWrite) {
  std::string err;
  EXPECT_EQ(parse_action("reject", err), Action::reject);
  EXPECT_EQ(parse_protocol("icmpv6", err), 58);
  EXPECT_EQ(parse_protocol("any", err), kAnyProtocol);
  auto c = parse_cidr("198.18.0.0/15", err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->family, 4);
  EXPECT_EQ(c->prefix_len, 15);
  EXPECT_EQ(format_cidr(*c), "198.18.0.0/15");
  c = parse_cidr("2001:db8::1", err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->prefix_len, 128);
  auto p = parse_ports("1000-2000", err);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->lo, 1000);
  EXPECT_EQ(p->hi, 2000);
  EXPECT_EQ(format_ports(*parse_ports("443", err)), "443");
  auto f = parse_tcp_flags("syn,!ACK", err);
  ASSERT_TRUE(f) << err;
  EXPECT_EQ(f->mask, 0x12);
  EXPECT_EQ(f->value, 0x02);
  EXPECT_EQ(format_tcp_flags(*f), "SYN,!ACK");
}

TEST(FirewallRuleParsing, RejectsWithAReason) {
  struct Case {
    std::function<bool(std::string&)> parse;
    const char* reason;
  } cases[] = {
      {[](std::string& e) { return !!parse_action("drop", e); },
       "expected allow, deny, log or reject"},
      {[](std::string& e) { return !!parse_protocol("sctp", e); }, "expected tcp, udp"},
      {[](std::string& e) { return !!parse_cidr("10.0.0.300/8", e); }, "not an IPv4 or IPv6"},
      {[](std::string& e) { return !!parse_cidr("10.0.0.0/33", e); }, "prefix length must be 0-32"},
      {[](std::string& e) { return !!parse_cidr("2001:db8::/129", e); }, "0-128"},
      {[](std::string& e) { return !!parse_cidr("10.1.2.3/8", e); }, "did you mean 10.0.0.0/8"},
      {[](std::string& e) { return !!parse_cidr("", e); }, "not an IPv4"},
      {[](std::string& e) { return !!parse_ports("70000", e); }, "0-65535"},
      {[](std::string& e) { return !!parse_ports("2000-1000", e); }, "ends before it starts"},
      {[](std::string& e) { return !!parse_ports("80-", e); }, "range like"},
      {[](std::string& e) { return !!parse_ports("", e); }, "range like"},
      {[](std::string& e) { return !!parse_tcp_flags("SYN,FOO", e); }, "unknown TCP flag 'FOO'"},
      {[](std::string& e) { return !!parse_tcp_flags("SYN,!SYN", e); }, "given twice"},
      {[](std::string& e) { return !!parse_tcp_flags("", e); }, "unknown TCP flag ''"},
  };
  for (const auto& c : cases) {
    std::string err;
    EXPECT_FALSE(c.parse(err)) << c.reason;
    EXPECT_NE(err.find(c.reason), std::string::npos) << err;
  }
}

// No control character printed in an error (it would end up in logs and API
// answers as is).
bool printable(const std::string& s) {
  for (const unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// inet_pton reads a C string: "198.18.20.2\0junk" used to parse as
// 198.18.20.2/32. No field has a use for control characters, so every
// parser refuses them, saying which one and where, without echoing it.
TEST(FirewallRuleParsing, RefusesNulAndControlCharacters) {
  using namespace std::string_literals;
  using Parser = std::function<bool(std::string_view, std::string&)>;
  const Parser cidr = [](std::string_view s, std::string& e) { return !!parse_cidr(s, e); };
  const Parser ports = [](std::string_view s, std::string& e) { return !!parse_ports(s, e); };
  const Parser action = [](std::string_view s, std::string& e) { return !!parse_action(s, e); };
  const Parser proto = [](std::string_view s, std::string& e) { return !!parse_protocol(s, e); };
  const Parser flags = [](std::string_view s, std::string& e) { return !!parse_tcp_flags(s, e); };
  struct Case {
    const Parser& parse;
    std::string text;
    const char* reason;
  } cases[] = {
      {cidr, "198.18.20.2\0junk"s, "contains a NUL byte (offset 11)"},
      {cidr, "198.18.20.0/24\0"s, "contains a NUL byte (offset 14)"},
      {cidr, "198.18.20.0\0/24"s, "contains a NUL byte (offset 11)"},
      {cidr, "2001:db8::1\0:5"s, "contains a NUL byte (offset 11)"},
      {cidr, "198.18.20.2\n", "contains control character 0x0a (offset 11)"},
      {cidr, "198.18.20.2\x7f", "contains control character 0x7f (offset 11)"},
      {cidr, "\t198.18.20.2", "contains control character 0x09 (offset 0)"},
      {ports, "80\0"s, "contains a NUL byte (offset 2)"},
      {ports, "80-90\r", "contains control character 0x0d (offset 5)"},
      {action, "deny\0allow"s, "contains a NUL byte (offset 4)"},
      {proto, "tcp\0"s, "contains a NUL byte (offset 3)"},
      {flags, "SYN\0,!ACK"s, "contains a NUL byte (offset 3)"},
      {flags, "SYN,\x1b[2J", "contains control character 0x1b (offset 4)"},
  };
  for (const auto& c : cases) {
    std::string err;
    EXPECT_FALSE(c.parse(c.text, err)) << c.reason;
    EXPECT_EQ(err, c.reason);
    EXPECT_TRUE(printable(err)) << err;
  }
}

Rule base(uint32_t id) {
  Rule r;
  r.id = id;
  return r;
}

TEST(FirewallRuleValidation, NamesTheFieldAtFault) {
  std::string err;
  auto v4 = *parse_cidr("198.18.0.0/16", err);
  auto v6 = *parse_cidr("2001:db8::/32", err);
  struct Case {
    std::function<void(Rule&)> f;
    const char* field;
  } cases[] = {
      {[](Rule& r) { r.id = 0; }, "id:"},
      {[&](Rule& r) {
         r.src = v4;
         r.dst = v6;
       },
       "dst_ip:"},
      {[&](Rule& r) {
         r.src = v6;
         r.protocol = 1;
       },
       "protocol: icmp with an IPv6"},
      {[&](Rule& r) {
         r.dst = v4;
         r.protocol = 58;
       },
       "protocol: icmpv6 with an IPv4"},
      {[](Rule& r) {
         r.protocol = 1;
         r.dst_port = PortRange{1, 2};
       },
       "dst_port:"},
      {[](Rule& r) {
         r.tcp_flags = TcpFlags{2, 2};
       },
       "tcp_flags: needs protocol tcp"},
      {[](Rule& r) { r.vlan_id = 4095; }, "vlan_id:"},
      {[](Rule& r) { r.protocol = 47; }, "protocol: unsupported"},
      {[](Rule& r) { r.description.assign(300, 'x'); }, "description:"},
  };
  for (const auto& c : cases) {
    Rule r = base(1);
    c.f(r);
    const auto why = validate(r);
    EXPECT_EQ(why.rfind(c.field, 0), 0u) << why;
  }
  EXPECT_EQ(validate(base(1)), "");
}

TEST(FirewallCompiler, RefusesDuplicateIdsInvalidRulesAndTooMany) {
  EXPECT_THROW(compile({base(1), base(1)}, Action::allow), CompileError);
  Rule bad = base(2);
  bad.vlan_id = 0;
  try {
    compile({base(1), bad}, Action::allow);
    FAIL();
  } catch (const CompileError& e) {
    EXPECT_EQ(std::string(e.what()), "rule 2: vlan_id: must be 1-4094");
  }
  std::vector<Rule> many;
  for (uint32_t i = 1; i <= RAMPART_FW_MAX_RULES + 1; ++i) many.push_back(base(i));
  EXPECT_THROW(compile(many, Action::allow), CompileError);
  many.back().enabled = false;  // disabled rules do not count
  EXPECT_NO_THROW(compile(many, Action::allow));
}

TEST(FirewallCompiler, UnconstrainedFieldsAreNotClassified) {
  Rule r = base(1);
  r.dst_port = PortRange{80, 80};
  r.protocol = 6;
  const auto rs = compile({r}, Action::allow);
  EXPECT_EQ(rs.fields_used, (1u << RAMPART_FW_F_DPORT) | (1u << RAMPART_FW_F_PROTO));
  EXPECT_FALSE(rs.src4.present);
  EXPECT_EQ(rs.nwords, 2u + RAMPART_FW_OVERFLOW_WORDS) << "one main word, evened, and the overflow";
  EXPECT_EQ(rs.bitmaps.size(), size_t(rs.nclasses) * rs.nwords);
  const auto image = to_program_image(rs);
  const auto* bitmaps = image.map("fw_bitmaps");
  ASSERT_NE(bitmaps, nullptr);
  const auto cap = TableCapacity{}.fit(rs);
  EXPECT_EQ(bitmaps->value_size, cap.nwords * 8);
  EXPECT_EQ(bitmaps->max_entries, cap.nclasses);
  EXPECT_EQ(bitmaps->dense_size(), size_t(rs.nclasses) * cap.nwords * 8)
      << "the classes past the set's are zeros the host writes";
  EXPECT_EQ(image.map("fw_src4_tbl16")->max_entries, 1u) << "no source field: no table";
}

// What makes two rule sets one shape for the host: the program's settings
// and every table's size. Sets that fit the live capacity keep it (a table
// swap); one that outgrows it gets room to spare; a much smaller one gives
// memory back.
std::string shape_of(const rampart::sdk::ProgramImage& image) {
  std::string s;
  for (const auto& [name, value] : image.settings) {
    s += name + "=";
    s.append(value.begin(), value.end());
  }
  for (const auto& m : image.maps)
    s += m.name + ":" + std::to_string(m.max_entries) + "x" + std::to_string(m.value_size) + ";";
  return s;
}

std::vector<Rule> sources(uint32_t n, uint32_t first_id = 1) {
  std::vector<Rule> rules;
  for (uint32_t i = 0; i < n; ++i) {
    Rule r = base(first_id + i);
    r.action = Action::deny;
    Cidr c;
    c.family = 4;
    c.prefix_len = 32;
    const uint32_t a = htonl(0xc6120000u + i);  // 198.18.x.y
    std::memcpy(c.addr.data(), &a, 4);
    r.src = c;
    rules.push_back(r);
  }
  return rules;
}

TEST(FirewallTables, SetsThatFitTheCapacityKeepTheShape) {
  const auto one = compile(sources(1), Action::allow);
  const TableCapacity cap = TableCapacity{}.fit(one);
  EXPECT_GE(cap.nwords, 4u) << "room beyond the one rule";
  const auto ten = compile(sources(10), Action::allow);
  EXPECT_EQ(cap.fit(ten), cap);
  EXPECT_EQ(shape_of(to_program_image(one, nullptr, cap)),
            shape_of(to_program_image(ten, nullptr, cap)));
  // Another default policy, other rule ids: values, not shape.
  auto other_ids = sources(10, 500);
  EXPECT_EQ(shape_of(to_program_image(compile(other_ids, Action::deny), nullptr, cap)),
            shape_of(to_program_image(one, nullptr, cap)));

  const auto many = compile(sources(1000), Action::allow);
  const TableCapacity grown = cap.fit(many);
  EXPECT_GT(grown.nwords, cap.nwords);
  EXPECT_GE(grown.nwords * 64, many.nrules + many.nrules / 2) << "half as much again of room";
  EXPECT_GE(grown.nclasses, many.nclasses);
  EXPECT_EQ(grown.fit(many), grown);
  EXPECT_EQ(grown.fit(compile(sources(1001), Action::allow)), grown);
  EXPECT_LT(grown.fit(one).nwords, grown.nwords) << "a set a quarter the size gives memory back";
}

TEST(FirewallTables, BitmapsArePaddedToTheCapacityAndTheRestIsZero) {
  const auto rs = compile(sources(3), Action::allow);
  TableCapacity want;
  want.nwords = 8;
  const auto image = to_program_image(rs, nullptr, want);
  const auto cap = want.fit(rs);
  ASSERT_EQ(cap.nwords, 8u);
  const auto* bitmaps = image.map("fw_bitmaps");
  ASSERT_NE(bitmaps, nullptr);
  // The host zeroes the map past the contents given.
  std::vector<uint64_t> words(size_t(bitmaps->max_entries) * cap.nwords);
  ASSERT_LE(bitmaps->dense_size(), words.size() * 8);
  std::memcpy(words.data(), bitmaps->dense_data(), bitmaps->dense_size());
  for (uint32_t c = 0; c < cap.nclasses; ++c) {
    for (uint32_t w = 0; w < cap.nwords; ++w) {
      const uint64_t want_word =
          c < rs.nclasses && w < rs.nwords ? rs.bitmaps[size_t(c) * rs.nwords + w] : 0;
      ASSERT_EQ(words[size_t(c) * cap.nwords + w], want_word) << "class " << c << " word " << w;
    }
  }
  const auto* set = image.map("fw_set");
  ASSERT_NE(set, nullptr);
  rampart_fw_set v{};
  ASSERT_EQ(set->dense.size(), sizeof v * RAMPART_FW_GENS) << "one entry per generation";
  std::memcpy(&v, set->dense.data(), sizeof v);
  EXPECT_EQ(v.nrules, 3u) << "a set compiled alone is generation 0";
  EXPECT_EQ(v.has_v4_src, 1);
  const auto* gen = image.map("fw_gen");
  ASSERT_NE(gen, nullptr);
  uint32_t g = 1;
  ASSERT_EQ(gen->dense.size(), sizeof g);
  std::memcpy(&g, gen->dense.data(), sizeof g);
  EXPECT_EQ(g, 0u);
  const auto* live = image.map("fw_live");
  ASSERT_NE(live, nullptr);
  EXPECT_EQ(live->value_size, cap.nwords * 8);
  uint64_t row0 = 0;
  std::memcpy(&row0, live->dense_data(), sizeof row0);
  EXPECT_EQ(row0, 0x7u) << "generation 0 holds the three rules' positions";
}

TEST(FirewallCompiler, TablesAgreeWithLinearScanOnRandomRules) {
  std::mt19937 rng(7);
  auto pick = [&](uint32_t n) { return rng() % n; };
  std::vector<Rule> rules;
  for (uint32_t i = 1; i <= 700; ++i) {
    Rule r = base(i);
    r.priority = static_cast<int32_t>(pick(100));
    r.action = static_cast<Action>(pick(4));
    if (pick(2)) {
      Cidr c;
      c.family = 4;
      c.prefix_len = static_cast<uint8_t>(8 + pick(25));
      const uint32_t a = htonl((198u << 24 | 18u << 16 | pick(4) << 8 | pick(256)) &
                               (c.prefix_len ? ~0u << (32 - c.prefix_len) : 0));
      std::memcpy(c.addr.data(), &a, 4);
      r.src = c;
    }
    if (pick(3) == 0)
      r.dst_port =
          PortRange{static_cast<uint16_t>(pick(1000)), static_cast<uint16_t>(1000 + pick(1000))};
    if (pick(3) == 0) r.protocol = pick(2) ? 6 : 17;
    if (pick(5) == 0) r.vlan_id = static_cast<uint16_t>(1 + pick(4));
    rules.push_back(r);
  }
  const auto rs = compile(rules, Action::deny);
  const auto ordered = priority_order(rules);
  EXPECT_EQ(rs.nwords, 12u + RAMPART_FW_OVERFLOW_WORDS);
  for (int n = 0; n < 20000; ++n) {
    PacketFields p;
    const uint32_t a = htonl(198u << 24 | 18u << 16 | pick(4) << 8 | pick(256));
    std::memcpy(p.src.data(), &a, 4);
    p.protocol = pick(2) ? 6 : 17;
    p.has_ports = true;
    p.dst_port = static_cast<uint16_t>(pick(2100));
    p.vlan_id = static_cast<uint16_t>(pick(5));
    ASSERT_EQ(classify(rs, p), classify_linear(ordered, p)) << "packet " << n;
  }
}

TEST(FirewallRuleJson, RoundTripsAndNamesBadFields) {
  const auto r = rule_from_json(
      R"({"id":9,"priority":2,"action":"reject","protocol":"tcp","src_ip":"2001:db8::/48","dst_port":"80-90","tcp_flags":"SYN,!ACK","vlan_id":12,"enabled":false,"description":"d"})");
  EXPECT_EQ(r.id, 9u);
  EXPECT_EQ(r.action, Action::reject);
  EXPECT_EQ(rule_from_json(rule_to_json(r)), r);
  EXPECT_EQ(rule_from_json(R"({"action":"deny"})", 5).id, 5u) << "the id comes from the path";
  // Found by fuzz_rule_json: integers past 2^63 - 1 threw from the JSON library.
  for (const char* body : {R"({"id":9999999999999999882,"action":"log"})",
                           R"({"action":"log","src_port":18446744073709551615})"}) {
    EXPECT_THROW(rule_from_json(body), rampart::firewall::RuleError) << body;
  }
  try {
    rule_from_json(R"({"id":1,"action":"deny","src_port":"99999"})");
    FAIL();
  } catch (const RuleError& e) {
    EXPECT_EQ(e.field(), "src_port");
  }
  try {
    rule_from_json(R"({"id":1,"action":"deny"})", 2);
    FAIL();
  } catch (const RuleError& e) {
    EXPECT_EQ(e.field(), "id");
  }
}

// How a body that must be refused is refused (a failure when accepted).
std::optional<RuleError> refusal_of(const char* body) {
  try {
    const auto r = rule_from_json(body);
    ADD_FAILURE() << body << " was accepted as " << rule_to_json(r);
  } catch (const RuleError& e) {
    return e;
  }
  return std::nullopt;
}

// The engine reads a body's members as Poco's parser hands them over,
// without an object tree: what it accepts and how it words a refusal are
// as they were with the tree (checked against it), but for a body that is
// not an object, which now says just that (the tree's failed cast named
// C++ types).
TEST(FirewallRuleJson, ReadsMembersAsAnObjectTreeWould) {
  // A key given twice is its last value.
  EXPECT_EQ(rule_from_json(R"({"id":3,"action":"allow","action":"deny"})").action, Action::deny);
  // Members of nested values are not the body's.
  EXPECT_EQ(rule_from_json(R"({"id":3,"action":"deny","description":"d"})").description, "d");
  struct Case {
    const char* body;
    const char* what;
  } cases[] = {
      {R"([{"id":1,"action":"deny"}])", "body is not a JSON object"},
      {"5", "body is not a JSON object"},
      {"null", "body is not a JSON object"},
      {R"({"id":1,"action":{"action":"deny"}})", "action: expected a string"},
      {R"({"id":1,"action":"deny","description":["d"]})", "description: expected a string"},
      {R"({"id":1,"action":"deny","vlan_id":"7"})", "vlan_id: expected an integer"},
      {R"({"id":1,"action":"deny","vlan_id":7.0})", "vlan_id: expected an integer"},
      {R"({"id":1,"action":"deny","priority":null})", "priority: expected an integer"},
      {R"({"id":1,"action":"deny","enabled":1})", "enabled: expected true or false"},
      {R"({"id":1,"action":"deny","zeta":1,"alpha":{"id":2}})", "alpha: unknown field"},
      {R"({"id":1,"action":"deny","vlan_id":18446744073709551615})", "vlan_id: must be 1-4094"},
      {R"({"id":1})", "action: required"},
  };
  for (const auto& c : cases) {
    if (const auto e = refusal_of(c.body)) {
      EXPECT_STREQ(e->what(), c.what) << c.body;
    }
  }
  try {
    rule_from_json(R"({"id":1,"action":"deny")");
    FAIL() << "a body cut short was accepted";
  } catch (const RuleError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("body is not a JSON object: ", 0), 0u) << e.what();
  }
}

// A rule body from the REST API with a NUL (JSON \u0000) or another control
// character in a parsed field is refused naming the field; it used to be
// stored as typed and enforced up to the NUL.
TEST(FirewallRuleJson, ControlCharactersInFieldsAreFieldErrors) {
  struct Case {
    const char* body;
    const char* field;
    const char* what;
  } cases[] = {
      {R"({"id":1,"action":"deny","src_ip":"198.18.20.2\u0000junk"})", "src_ip",
       "src_ip: contains a NUL byte (offset 11)"},
      {R"({"id":1,"action":"deny","dst_ip":"2001:db8::/32\u0000"})", "dst_ip",
       "dst_ip: contains a NUL byte (offset 13)"},
      {R"({"id":1,"action":"deny","protocol":"tcp","dst_port":"22\u0000"})", "dst_port",
       "dst_port: contains a NUL byte (offset 2)"},
      {R"({"id":1,"action":"deny","protocol":"tcp","src_port":"1-2\n"})", "src_port",
       "src_port: contains control character 0x0a (offset 3)"},
      {R"({"id":1,"action":"deny\u0000"})", "action", "action: contains a NUL byte (offset 4)"},
      {R"({"id":1,"action":"deny","protocol":"udp\u0000"})", "protocol",
       "protocol: contains a NUL byte (offset 3)"},
      {R"({"id":1,"action":"deny","protocol":"tcp","tcp_flags":"SYN\u0000"})", "tcp_flags",
       "tcp_flags: contains a NUL byte (offset 3)"},
  };
  for (const auto& c : cases) {
    if (const auto e = refusal_of(c.body)) {
      EXPECT_EQ(e->field(), c.field) << c.body;
      EXPECT_STREQ(e->what(), c.what) << c.body;
    }
  }
}

// Every fuzz seed and every input a fuzzer once crashed on.
TEST(FirewallRuleJson, FuzzInputsParseOrFailCleanly) {
  const size_t n = rampart::test::for_each_fuzz_input(
      "rule_json", [](const auto& path, const std::string& bytes) {
        try {
          EXPECT_EQ(validate(rule_from_json(bytes)), "") << path;
        } catch (const RuleError& e) {
          EXPECT_STRNE(e.what(), "") << path;
        }
      });
  EXPECT_GE(n, 4u);
}

}  // namespace

TEST(FirewallAlerts, EachActionMapsToAMitreTechniqueAndSeverity) {
  using rampart::firewall::Action;
  using rampart::firewall::alert_kind;
  for (const Action a : {Action::deny, Action::reject}) {
    const auto k = alert_kind(a);
    EXPECT_STREQ(k.technique_id, "T1595");
    EXPECT_STREQ(k.technique_name, "Active Scanning");
    EXPECT_STREQ(k.tactic, "Reconnaissance");
    EXPECT_EQ(k.severity, RAMPART_SEVERITY_MEDIUM);
    EXPECT_TRUE(k.blocked);
  }
  const auto log = alert_kind(Action::log);
  EXPECT_STREQ(log.technique_id, "T1046");
  EXPECT_STREQ(log.tactic, "Discovery");
  EXPECT_EQ(log.severity, RAMPART_SEVERITY_LOW);
  EXPECT_FALSE(log.blocked) << "a log rule lets the packet through";
}

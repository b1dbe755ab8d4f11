// SPDX-License-Identifier: Apache-2.0
// The `ids` rule domain: entry bodies checked field by field, and the rule
// set made of the config's files and the entries (a rule of an entry's own
// replaces or adds; a disabled entry leaves its sid out).
#include <gtest/gtest.h>

#include "domain.hpp"

namespace rampart::ids {
namespace {

const char* kFile =
    "alert tcp any any -> any 80 (msg:\"one\"; content:\"aaa\"; sid:1; rev:1;)\n"
    "alert tcp any any -> any 80 (msg:\"two\"; content:\"bbb\"; sid:2; rev:1;)\n"
    "alert tcp any any -> any 80 (msg:\"three\"; content:\"ccc\"; sid:3; rev:1;)\n"
    "alert tcp any any -> any 80 (msg:\"bad\"; frobnicate:1; sid:4; rev:1;)\n";

std::vector<FileRules> files() {
  return {FileRules{"test.rules", load_rules(kFile, Variables::defaults())}};
}

std::vector<uint32_t> sids(const Composed& c) {
  std::vector<uint32_t> out;
  for (const auto& r : c.rules) out.push_back(r.sid);
  return out;
}

TEST(IdsDomain, EntryBodiesAreReadAndWrittenBack) {
  const Entry e = entry_from_json(R"j({"rule": "alert ip any any -> any any (sid:9;)"})j", 9);
  EXPECT_EQ(e.sid, 9u);
  ASSERT_TRUE(e.rule);
  EXPECT_TRUE(e.enabled);
  const Entry back = entry_from_json(entry_to_json(e), 9);
  EXPECT_EQ(back.rule, e.rule);
  const Entry off = entry_from_json(R"({"id": 2, "enabled": false})", 0);
  EXPECT_EQ(off.sid, 2u);
  EXPECT_FALSE(off.rule);
  EXPECT_FALSE(off.enabled);
}

TEST(IdsDomain, BadEntryBodiesAreRefusedNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[]", ": expected a JSON object"},
      {"{", ": not valid JSON"},
      {R"({"enabled": true})", "rule: required unless"},
      {R"({"rule": 5})", "rule: expected a string"},
      {R"({"rule": ""})", "rule: must be 1-"},
      {R"({"enabled": "no"})", "enabled: expected a boolean"},
      {R"({"id": 3, "enabled": false})", "id: the body says 3, the path 7"},
      {R"({"id": -1, "enabled": false})", "id: must be 1-"},
      {R"({"sid": 7, "enabled": false})", "sid: unknown field"},
  };
  for (const auto& [body, says] : cases) {
    try {
      entry_from_json(body, 7);
      ADD_FAILURE() << body << " was accepted";
    } catch (const json::BodyError& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << body << ": " << e.what();
    }
  }
  EXPECT_THROW(entry_from_json(R"({"enabled": false})", 0), json::BodyError) << "no sid at all";
}

TEST(IdsDomain, EntriesReplaceAddAndSwitchOffFileRules) {
  const auto vars = Variables::defaults();
  const Composed plain = compose(files(), {}, vars);
  EXPECT_EQ(sids(plain), (std::vector<uint32_t>{1, 2, 3}));
  ASSERT_EQ(plain.refused.size(), 1u);
  EXPECT_EQ(plain.refused[0].sid, 4u);

  std::vector<Entry> entries(3);
  entries[0].sid = 2;
  entries[0].enabled = false;
  entries[1].sid = 3;
  entries[1].rule =
      "alert tcp any any -> any 81 (msg:\"three again\"; content:\"ddd\"; sid:3; rev:2;)";
  entries[2].sid = 10;
  entries[2].rule = "alert udp any any -> any 53 (msg:\"ten\"; content:\"eee\"; sid:10; rev:1;)";
  const Composed c = compose(files(), entries, vars);
  EXPECT_EQ(sids(c), (std::vector<uint32_t>{1, 3, 10}));
  EXPECT_EQ(c.disabled, 1u);
  EXPECT_EQ(c.replaced, 1u);
  EXPECT_EQ(c.rules[1].msg, "three again");
  EXPECT_EQ(c.rules[1].rev, 2u);
}

TEST(IdsDomain, AnEntryWhoseRuleDoesNotParseOrNamesAnotherSidIsRefused) {
  const auto vars = Variables::defaults();
  std::vector<Entry> bad(1);
  bad[0].sid = 11;
  bad[0].rule = "alert tcp any any -> any 80 (msg:\"x\"; frobnicate:1; sid:11;)";
  try {
    compose(files(), bad, vars);
    ADD_FAILURE() << "accepted";
  } catch (const json::BodyError& e) {
    EXPECT_NE(std::string(e.what()).find("frobnicate"), std::string::npos) << e.what();
  }
  bad[0].rule = "alert tcp any any -> any 80 (msg:\"x\"; content:\"a\"; sid:12;)";
  try {
    compose(files(), bad, vars);
    ADD_FAILURE() << "accepted";
  } catch (const json::BodyError& e) {
    EXPECT_NE(std::string(e.what()).find("its sid is 12, the entry's 11"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace rampart::ids

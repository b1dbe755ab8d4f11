// SPDX-License-Identifier: Apache-2.0
// import_elements: an import's rules as texts, given only where parsing
// each text is the same as parsing the body whole.
#include "api/import_split.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "util/json.hpp"

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;
using rampart::api::import_elements;

// The body's rules as a whole parse sees them, each written out; nullopt if
// the body is not an object with a "rules" array of objects.
std::optional<std::vector<std::string>> whole(const std::string& body) {
  try {
    const auto v = Poco::JSON::Parser().parse(body);
    if (v.type() != typeid(Object::Ptr)) return std::nullopt;
    const auto o = v.extract<Object::Ptr>();
    if (!o->isArray("rules")) return std::nullopt;
    const auto arr = o->getArray("rules");
    std::vector<std::string> out;
    for (size_t i = 0; i < arr->size(); ++i) {
      if (!arr->isObject(i)) return std::nullopt;
      out.push_back(rampart::util::to_json(arr->getObject(i)));
    }
    return out;
  } catch (...) {
    return std::nullopt;
  }
}

// The rules import_elements gives, each parsed and written out; nullopt if
// it gives none or one of them does not parse (the caller's fallback).
std::optional<std::vector<std::string>> split(const std::string& body) {
  const auto texts = import_elements(body);
  if (!texts) return std::nullopt;
  std::vector<std::string> out;
  for (const auto t : *texts) {
    try {
      const auto v = Poco::JSON::Parser().parse(std::string(t));
      if (v.type() != typeid(Object::Ptr)) return std::nullopt;
      out.push_back(rampart::util::to_json(v));
    } catch (...) {
      return std::nullopt;
    }
  }
  return out;
}

TEST(ImportElements, AreTheRulesOfTheWholeBody) {
  const std::vector<std::string> bodies = {
      R"({"rules":[]})",
      R"({"rules":[{"id":1}]})",
      " \n{ \"rules\" :\t[ {\"id\":1,\"a\":[1,{\"b\":\"]}\"}]} ,\r\n{} ] }\n ",
      R"({"origins":{"rules":[{"x":1}]},"rules":[{"s":"a \"quoted\" [bracket} and \\"}],"next_cursor":null})",
      R"({"rules":[{"s":"\u007d\\\""},{"n":-1.5e3,"t":true,"f":false,"z":null}],"x":"rules"})",
      R"({"x":{"y":[[["rules"]]]},"rules":[{"deep":{"a":{"b":{"c":[[[]]]}}}}]})",
  };
  for (const auto& body : bodies) {
    const auto want = whole(body);
    ASSERT_TRUE(want) << body;
    const auto got = split(body);
    ASSERT_TRUE(got) << "given for " << body;
    EXPECT_EQ(*got, *want) << body;
  }
}

// Whatever the whole parse would refuse or read otherwise is not given:
// the caller parses the body whole and words the error as before.
TEST(ImportElements, LeaveEverythingUnusualToTheWholeParse) {
  const std::vector<std::string> bodies = {
      "",
      "[]",
      R"({"rules":{}})",
      R"({"rules":[1]})",                    // not an object: an error to word
      R"({"rules":[{"id":1},]})",            // a trailing comma
      R"({"rules":[{"id":1} {"id":2}]})",    // no comma
      R"({"rules":[{"id":1}],"rules":[]})",  // twice: the last counts
      R"({"rul\u0065s":[{"id":1}]})",        // spelt with an escape
      R"({"x":{"rules":[{"id":1}]}})",       // not at the top level
      R"({"rules":[{"id":1}]} x)",           // trailing bytes
      R"({"rules":[{"id":1}], "a":})",       // invalid beside the rules
      R"({"rules":[{"s":"unterminated}]})",
      R"({"rules":[{"id":1})",
      R"({"rules":[{"id":1}]})" + std::string(1, '\0'),
      "{\"rules\":[" + std::string(70, '[') + std::string(70, ']') + "]}",          // not an object
      "{\"rules\":[{\"a\":" + std::string(70, '[') + std::string(70, ']') + "}]}",  // too deep
  };
  for (const auto& body : bodies) EXPECT_FALSE(import_elements(body)) << body;
}

// Bodies mutated at random: wherever the split gives rules that parse, the
// whole parse gives the same rules; and it gives them for most valid bodies.
TEST(ImportElements, AgreeWithTheWholeParseOnMutatedBodies) {
  const std::string seeds[] = {
      R"({"rules":[{"id":1,"action":"deny","src_ip":"10.0.0.0/8"},{"id":2,"tags":["a","]"],"o":{"k":"\"{"}}],"origins":{"1":"api"}})",
      R"({ "next_cursor": "7", "rules": [ {"id": 3}, {"x": [1, 2, {"y": "rules"}]} ] })",
  };
  const std::string alphabet = "{}[]\",:\\ u0a1r";
  std::mt19937 rng(20261202);
  size_t given = 0, valid = 0;
  for (int n = 0; n < 6000; ++n) {
    std::string body = seeds[n % 2];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % body.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          body[at] = c;
          break;
        case 1:
          body.insert(body.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          body.erase(at, 1);
      }
    }
    const auto want = whole(body);
    const auto got = split(body);
    if (want) ++valid;
    if (!got) continue;
    ++given;
    ASSERT_TRUE(want) << "split a body the whole parse refuses: " << body;
    ASSERT_EQ(*got, *want) << body;
  }
  EXPECT_GT(given, 0u);
  EXPECT_GE(given * 10, valid * 9)
      << "most valid bodies split (" << given << " of " << valid << ")";
}

}  // namespace

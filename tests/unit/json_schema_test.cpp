// SPDX-License-Identifier: Apache-2.0
// The core's JSON Schema check of rule bodies: each keyword it supports
// accepts what it should, refuses what it should, and names the field.
#include <gtest/gtest.h>

#include <Poco/JSON/Parser.h>

#include "api/json_schema.hpp"

namespace {

using rampart::api::check_schema;

std::string verdict(const std::string& schema, const std::string& value) {
  Poco::JSON::Parser p1, p2;
  const auto bad = check_schema(p1.parse(schema), p2.parse(value));
  return bad ? bad->field + ": " + bad->why : "ok";
}

const char* kRule = R"({
  "type": "object", "required": ["action"], "additionalProperties": false,
  "properties": {
    "id": {"type": "integer", "minimum": 1, "maximum": 10},
    "action": {"type": "string", "enum": ["allow", "deny"]},
    "ratio": {"type": "number", "maximum": 1.5},
    "on": {"type": "boolean"},
    "name": {"type": "string", "minLength": 2, "maxLength": 4},
    "ports": {"type": "array", "items": {"type": "integer", "maximum": 65535}},
    "match": {"type": "object", "properties": {"vlan": {"type": "integer"}}}
  }})";

TEST(JsonSchema, AcceptsValidBodies) {
  EXPECT_EQ(verdict(kRule, R"({"action":"deny"})"), "ok");
  EXPECT_EQ(verdict(kRule, R"({"action":"allow","id":10,"ratio":1,"on":false,"name":"ab",)"
                           R"("ports":[1,65535],"match":{"vlan":3,"extra":1}})"),
            "ok")
      << "nested objects allow extra fields unless they say otherwise";
}

TEST(JsonSchema, RefusesAndNamesTheField) {
  EXPECT_EQ(verdict(kRule, R"({})"), "action: required");
  EXPECT_EQ(verdict(kRule, R"({"action":"explode"})"),
            "action: expected one of allow, deny, got 'explode'");
  EXPECT_EQ(verdict(kRule, R"({"action":"deny","colour":1})"), "colour: unknown field");
  EXPECT_EQ(verdict(kRule, R"({"action":"deny","id":"1"})"), "id: expected an integer, got '1'");
  EXPECT_EQ(verdict(kRule, R"({"action":"deny","id":1.5})"), "id: expected an integer, got 1.5");
  EXPECT_EQ(verdict(kRule, R"({"action":"deny","id":0})"), "id: must be at least 1");
  EXPECT_EQ(verdict(kRule, R"({"action":"deny","id":11})"), "id: must be at most 10");
  EXPECT_EQ(verdict(kRule, R"({"action":"deny","ratio":2})"), "ratio: must be at most 1.5");
  EXPECT_EQ(verdict(kRule, R"({"action":"deny","on":1})"), "on: expected a boolean, got 1");
  EXPECT_EQ(verdict(kRule, R"({"action":"deny","id":true})"), "id: expected an integer, got true");
  EXPECT_EQ(verdict(kRule, R"({"action":"deny","name":"a"})"), "name: shorter than 2 characters");
  EXPECT_EQ(verdict(kRule, R"({"action":"deny","name":"abcde"})"),
            "name: longer than 4 characters");
  EXPECT_EQ(verdict(kRule, R"({"action":"deny","ports":[1,70000]})"),
            "ports.1: must be at most 65535");
  EXPECT_EQ(verdict(kRule, R"({"action":"deny","ports":"22"})"),
            "ports: expected an array, got '22'");
  EXPECT_EQ(verdict(kRule, R"({"action":"deny","match":{"vlan":"x"}})"),
            "match.vlan: expected an integer, got 'x'");
  EXPECT_EQ(verdict(kRule, R"([1])"), ": expected an object, got an array");
}

// A port as a number or as text: exactly one alternative must hold, and a
// refusal says why in the terms of the alternative of the value's type.
TEST(JsonSchema, OneOfTakesExactlyOneAlternative) {
  const char* port = R"({"properties": {"port": {"oneOf": [
      {"type": "integer", "minimum": 0, "maximum": 65535},
      {"type": "string", "maxLength": 11}]}}})";
  EXPECT_EQ(verdict(port, R"({"port":22})"), "ok");
  EXPECT_EQ(verdict(port, R"({"port":"1024-65535"})"), "ok");
  EXPECT_EQ(verdict(port, R"({"port":70000})"), "port: must be at most 65535");
  EXPECT_EQ(verdict(port, R"({"port":"123456789012"})"), "port: longer than 11 characters");
  EXPECT_EQ(verdict(port, R"({"port":true})"), "port: expected an integer or a string, got true");
  const char* both =
      R"({"properties": {"n": {"oneOf": [{"type": "integer"}, {"type": "number"}]}}})";
  EXPECT_EQ(verdict(both, R"({"n":3})"), "n: matches more than one of its alternatives");
  EXPECT_EQ(verdict(both, R"({"n":3.5})"), "ok");
}

TEST(JsonSchema, NoSchemaOrUnknownKeywordsRefuseNothing) {
  EXPECT_EQ(verdict(R"({})", R"({"anything":[1]})"), "ok");
  EXPECT_EQ(verdict(R"({"properties":{"a":{"type":"uuid","pattern":"^x$"}}})", R"({"a":"y"})"),
            "ok");
  EXPECT_EQ(verdict(R"([])", R"({"a":3})"), "ok") << "a schema that is not an object is ignored";
}

}  // namespace

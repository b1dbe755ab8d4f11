// SPDX-License-Identifier: Apache-2.0
// Secret settings by schema: the redaction walker (paths, '*', "#url"),
// the check on paths a plugin declares, and GET /api/v1/config's body
// (config_json) for declared, undeclared and missing plugins.
#include <gtest/gtest.h>

#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>

#include "config/config.hpp"
#include "config/redaction.hpp"
#include "daemon/agent_views.hpp"
#include "util/json.hpp"

namespace {

using rampart::config::redact_paths;
using rampart::config::redact_url;
using rampart::config::secret_path_problem;

// JSON text as values, keys in their order.
Poco::Dynamic::Var parse(const std::string& json) {
  return Poco::JSON::Parser(new Poco::JSON::ParseHandler(true)).parse(json);
}

// `json` (an object) with `paths` redacted, as compact JSON.
std::string redacted(const std::string& json, const std::vector<std::string>& paths) {
  Poco::Dynamic::Var v = parse(json);
  redact_paths(v, paths);
  return rampart::util::to_json(v);
}

TEST(RedactPaths, ExactPathsReplaceOnlyTheirValues) {
  EXPECT_EQ(redacted(R"({"password":"hunter2","user":"ops","port":25})", {"password"}),
            R"({"password":"***","user":"ops","port":25})");
  EXPECT_EQ(redacted(R"({"tls":{"key":"k1","cert":"c"},"key":"top"})", {"tls.key"}),
            R"({"tls":{"key":"***","cert":"c"},"key":"top"})")
      << "a path names one place, not every key of that name";
  EXPECT_EQ(redacted(R"({"n":7,"on":true,"x":null})", {"n", "on", "x"}),
            R"({"n":"***","on":"***","x":"***"})")
      << "values of any type read as the marker";
  EXPECT_EQ(redacted(R"({"headers":{"A":"1","B":{"c":"2"}}})", {"headers"}), R"({"headers":"***"})")
      << "a path that reaches a map or list redacts it whole";
  EXPECT_EQ(redacted(R"({"a":"1","b":{"c":"2"}})", {"missing", "b.c.d", "a.b", "b.zz"}),
            R"({"a":"1","b":{"c":"2"}})")
      << "paths that reach nothing change nothing";
}

TEST(RedactPaths, StarMatchesAnyOneKeyOrIndex) {
  EXPECT_EQ(redacted(R"({"headers":{"Authorization":"Bearer abc","X-Team":"ops"},"retries":3})",
                     {"headers.*"}),
            R"({"headers":{"Authorization":"***","X-Team":"***"},"retries":3})")
      << "header names stay, every value goes";
  EXPECT_EQ(redacted(R"({"hooks":[{"token":"t0","name":"a"},{"token":"t1","name":"b"}]})",
                     {"hooks.*.token"}),
            R"({"hooks":[{"token":"***","name":"a"},{"token":"***","name":"b"}]})");
  EXPECT_EQ(redacted(R"({"keys":["k0","k1","k2"]})", {"keys.1"}), R"({"keys":["k0","***","k2"]})")
      << "a number is one index";
  EXPECT_EQ(redacted(R"({"a":{"x":{"s":"1"},"y":{"s":"2","t":"3"}}})", {"*.*.s"}),
            R"({"a":{"x":{"s":"***"},"y":{"s":"***","t":"3"}}})");
  EXPECT_EQ(redacted(R"({"headers":"not a map"})", {"headers.*"}), R"({"headers":"not a map"})")
      << "'*' under a scalar reaches nothing";
}

TEST(RedactUrl, KeepsSchemeHostAndPortOnly) {
  EXPECT_EQ(redact_url("https://alice:s3cret@hooks.example:8443/services/T0/B1/xyz?token=abc#frag"),
            "https://***@hooks.example:8443/***");
  EXPECT_EQ(redact_url("https://hooks.example/services/T0/B1/xyz"), "https://hooks.example/***");
  EXPECT_EQ(redact_url("https://hooks.example?sig=s3cret"), "https://hooks.example/***");
  EXPECT_EQ(redact_url("https://hooks.example#s3cret"), "https://hooks.example/***");
  EXPECT_EQ(redact_url("https://token@hooks.example"), "https://***@hooks.example");
  EXPECT_EQ(redact_url("https://a:b@c@hooks.example/x"), "https://***@hooks.example/***")
      << "user info runs to the last '@'";
  EXPECT_EQ(redact_url("http://hooks.example:8080"), "http://hooks.example:8080");
  EXPECT_EQ(redact_url("http://hooks.example:8080/"), "http://hooks.example:8080/")
      << "a bare '/' holds nothing";
  EXPECT_EQ(redact_url("HTTP://Hooks.Example/x"), "HTTP://Hooks.Example/***") << "as written";
}

TEST(RedactUrl, Ipv6Hosts) {
  EXPECT_EQ(redact_url("http://[2001:db8::1]:8080/hook?key=s3cret"),
            "http://[2001:db8::1]:8080/***");
  EXPECT_EQ(redact_url("https://u:p@[::1]/x"), "https://***@[::1]/***");
  EXPECT_EQ(redact_url("https://[fe80::1%25eth0]:9000"), "https://[fe80::1%25eth0]:9000");
}

TEST(RedactUrl, WhatDoesNotParseIsRedactedWhole) {
  for (const char* bad : {
           "not a url s3cret",
           "hooks.example/s3cret",                // no scheme
           "https://hooks.example:s3cret/x",      // port is not a number
           "https://hooks.example:99999/s3cret",  // port out of range
           "https://[2001:db8::1/s3cret",         // unterminated IPv6 literal
           "https://u:s3cret@/path",              // no host
           "mailto:s3cret@example.com",           // no authority
           "://hooks.example/s3cret",             // empty scheme
           "1http://hooks.example/s3cret",        // scheme must start with a letter
           " https://hooks.example/s3cret",       // leading space
           "https://hooks.example/%zz-s3cret",    // bad escape
           "https://ho st.example/s3cret",        // space in host
           "https://h,s3cret@/x",                 // nothing after the user info
           "https://hooks.example!s3cret/x",      // sub-delims in host are not shown
           "",
       }) {
    EXPECT_EQ(redact_url(bad), "***") << bad;
  }
}

TEST(RedactPaths, UrlSuffixRedactsPartsOfStringsAndWholeOtherwise) {
  EXPECT_EQ(redacted(R"({"url":"https://u:p@h.example/T/B/x?k=v","name":"https://keep.example/p"})",
                     {"url#url"}),
            R"({"url":"https://***@h.example/***","name":"https://keep.example/p"})");
  EXPECT_EQ(redacted(R"({"url":{"primary":"https://h.example/x"}})", {"url#url"}),
            R"({"url":"***"})")
      << "not a string: nothing to keep";
  EXPECT_EQ(redacted(R"({"hooks":["https://a.example/s1","garbage s2"]})", {"hooks.*#url"}),
            R"({"hooks":["https://a.example/***","***"]})");
}

TEST(SecretPaths, DeclaredPathsAreChecked) {
  for (const char* good : {"password", "headers.*", "tls.key", "url#url", "hooks.*.url#url", "*",
                           "a.0.b", "Authorization-Token"}) {
    EXPECT_EQ(secret_path_problem(good), std::nullopt) << good;
  }
  EXPECT_EQ(secret_path_problem(""), "is empty");
  EXPECT_EQ(secret_path_problem("a..b"), "has an empty segment");
  EXPECT_EQ(secret_path_problem(".a"), "has an empty segment");
  EXPECT_EQ(secret_path_problem("a."), "has an empty segment");
  EXPECT_EQ(secret_path_problem("#url"), "has an empty segment");
  EXPECT_EQ(secret_path_problem("a#b"), "has '#' other than a final \"#url\"");
  EXPECT_EQ(secret_path_problem("a#url.b"), "has '#' other than a final \"#url\"");
  EXPECT_EQ(secret_path_problem("a#url#url"), "has '#' other than a final \"#url\"");
  EXPECT_EQ(secret_path_problem(std::string(300, 'a')), "is longer than 256 bytes");
}

// --- GET /api/v1/config's body -------------------------------------------

TEST(RunningConfig, EachPluginIsRedactedAlongItsOwnDeclaration) {
  const auto cfg = rampart::config::load_string(
      "plugins:\n"
      "  webhook:\n"
      "    url: https://hooks.example:8443/services/T0/B1/s3cret-path?token=s3cret-query\n"
      "    headers: {Authorization: Bearer s3cret-bearer, X-Team: s3cret-too}\n"
      "    retries: 3\n"
      "  email:\n"
      "    server: 127.0.0.1:25\n    password: s3cret-pw\n    token_bucket: 5\n"
      "  legacy:\n    enabled: true\n    endpoint: s3cret-legacy\n    depth: 2\n"
      "  ghost:\n    enabled: false\n    api_key: s3cret-ghost\n",
      "c.yaml");
  const rampart::daemon::SecretSettings secrets = {
      {"webhook", std::vector<std::string>{"url#url", "headers.*"}},
      {"email", std::vector<std::string>{"password"}},
      {"legacy", std::nullopt},  // built against ABI 1.3
  };                             // ghost: configured but not installed
  const std::string json = rampart::daemon::config_json(cfg, secrets);
  EXPECT_EQ(json.find("s3cret"), std::string::npos) << json;
  const auto o = parse(json).extract<Poco::JSON::Object::Ptr>();
  const auto plugins = o->getObject("plugins");
  EXPECT_EQ(rampart::util::to_json(plugins->get("webhook")),
            R"({"url":"https://hooks.example:8443/***","headers":{"Authorization":"***",)"
            R"("X-Team":"***"},"retries":3,"enabled":true})");
  EXPECT_EQ(rampart::util::to_json(plugins->get("email")),
            R"({"server":"127.0.0.1:25","password":"***","token_bucket":5,"enabled":true})")
      << "a key that looks secret but is not declared is shown";
  EXPECT_EQ(rampart::util::to_json(plugins->get("legacy")),
            R"({"enabled":true,"endpoint":"***","depth":"***"})")
      << "a plugin that cannot declare shows nothing but enabled";
  EXPECT_EQ(rampart::util::to_json(plugins->get("ghost")), R"({"enabled":false,"api_key":"***"})")
      << "nor does one that is not installed";
}

}  // namespace

// SPDX-License-Identifier: Apache-2.0
// The management API's router without a daemon: a domain owned by a fake
// engine, every route's success and failure answers, paging, filters,
// merge patches, audit history. The running config's redaction is in
// config_redaction_test.
#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include <sys/stat.h>

#include <Poco/JSON/Parser.h>

#include "api/management_api.hpp"
#include "config/config.hpp"
#include "store/rule_service.hpp"
#include "temp_dir.hpp"

namespace {

using rampart::api::ManagementApi;
using rampart::api::Request;
using rampart::api::Response;

// Accepts any rule set unless a body mentions "bad"; says how many it holds.
class FakeEngine : public rampart::store::RuleOwner {
 public:
  std::string apply_rules(const std::string&,
                          const std::vector<rampart::store::StoredRule>& rules) override {
    for (const auto& r : rules) {
      if (r.body.find("bad") != std::string::npos)
        return "rule " + std::to_string(r.id) + ": colour: unknown field";
    }
    applied = rules.size();
    return "";
  }
  std::string domain_status(const std::string&) override {
    return "{\"applied\":" + std::to_string(applied) + "}";
  }
  size_t applied = 0;
};

class Router : public ::testing::Test {
 protected:
  Router() : store_(dir_ / "r.db"), rules_(store_), api_(rules_, {}) {
    engine_ = std::make_shared<FakeEngine>();
    rules_.claim("widgets", engine_, {});
    rules_.describe(engine_.get(), {"widgets", "Test widgets", R"({"type":"object"})"});
  }
  Response call(const std::string& method, const std::string& path, const std::string& body = "",
                const std::string& query = "") {
    Request r;
    r.method = method;
    r.path = path;
    r.body = body;
    r.query = ManagementApi::parse_query(query);
    r.actor = "test";
    return api_.handle(r);
  }

  rampart::test::TempDir dir_;
  rampart::store::RuleStore store_;
  rampart::store::RuleService rules_;
  ManagementApi api_;
  std::shared_ptr<FakeEngine> engine_;
};

TEST_F(Router, RoutesEveryRuleOperationOfAnyDomain) {
  auto r = call("POST", "/api/v1/widgets/rules", R"({"size":3})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.body, R"({"id":1,"size":3})") << "ids are assigned";
  EXPECT_EQ(call("POST", "/api/v1/widgets/rules", R"({"id":1})").status, 409);
  EXPECT_EQ(call("GET", "/api/v1/widgets/rules/1").body, R"({"id":1,"size":3})");
  EXPECT_EQ(call("PUT", "/api/v1/widgets/rules/1", R"({"size":4})").status, 200);
  EXPECT_EQ(call("PATCH", "/api/v1/widgets/rules/1", R"({"colour":"blue"})").status, 200);
  EXPECT_EQ(call("GET", "/api/v1/widgets/rules/1").body, R"({"colour":"blue","id":1,"size":4})");
  EXPECT_EQ(call("GET", "/api/v1/widgets/status").body, R"({"applied":1})");
  EXPECT_EQ(call("DELETE", "/api/v1/widgets/rules/1").status, 204);
  EXPECT_EQ(call("GET", "/api/v1/widgets/rules/1").status, 404);
  EXPECT_EQ(engine_->applied, 0u);
}

TEST_F(Router, RefusalsNameTheFieldAndStoreNothing) {
  auto r = call("POST", "/api/v1/widgets/rules", R"({"id":5,"what":"bad"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(
      r.body,
      R"({"error":"invalid rule","detail":"rule 5: colour: unknown field","field":"colour"})");
  EXPECT_TRUE(store_.list("widgets").empty());
  for (const char* junk : {"", "{", "[]", "42", "\"x\"", "{\"a\":1}}"}) {
    r = call("POST", "/api/v1/widgets/rules", junk);
    EXPECT_EQ(r.status, 400) << junk << " -> " << r.body;
  }
  EXPECT_EQ(call("POST", "/api/v1/widgets/rules", R"({"id":0})").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/widgets/rules", R"({"id":"7"})").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/widgets/rules", R"({"id":4294967296})").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/widgets/rules/0").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/widgets/rules/007").status, 400) << "one spelling per id";
  EXPECT_EQ(call("GET", "/api/v1/widgets/rules/x").status, 400);
  ASSERT_EQ(call("POST", "/api/v1/widgets/rules", R"({"id":2})").status, 201);
  r = call("PUT", "/api/v1/widgets/rules/2", R"({"id":3})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(R"("field":"id")"), std::string::npos) << r.body;
}

TEST_F(Router, UnknownPathsDomainsAndMethods) {
  EXPECT_EQ(call("GET", "/api/v1/gadgets/rules").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/Widgets/rules").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/widgets/rules/1/extra").status, 404);
  EXPECT_EQ(call("GET", "/api/v2/widgets/rules").status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/widgets/rules").status, 405);
  EXPECT_EQ(call("POST", "/api/v1/widgets/rules/1").status, 405);
  EXPECT_EQ(call("PUT", "/api/v1/widgets/status").status, 405);
  EXPECT_EQ(call("GET", "/api/v1/agent/status").status, 503) << "no provider here";
  EXPECT_EQ(call("POST", "/api/v1/config/reload").status, 503);
  const auto r = call("GET", "/api/v1/domains");
  EXPECT_EQ(
      r.body,
      R"({"domains":[{"name":"widgets","summary":"Test widgets","rules":"/api/v1/widgets/rules"}]})");
}

// A large import checks and writes out its rules on two threads; the
// answer is still the first bad rule in the array's order, whichever
// pass (ids, or the schema) and whichever thread found it.
TEST_F(Router, ALargeImportAnswersItsFirstBadRuleInOrder) {
  const auto sized = std::make_shared<FakeEngine>();
  rules_.claim("sized", sized, {});
  rules_.describe(sized.get(), {"sized", "Sized things",
                                R"({"type":"object","properties":{"size":{"type":"integer"}}})"});
  constexpr int kRules = 2000;
  auto import = [](std::map<int, std::string> odd) {
    std::string body = R"({"rules":[)";
    for (int i = 0; i < kRules; ++i) {
      body += i ? "," : "";
      body += odd.count(i)
                  ? odd[i]
                  : R"({"id":)" + std::to_string(i + 1) + R"(,"size":)" + std::to_string(i) + "}";
    }
    return body + "]}";
  };
  auto field_of = [&](std::map<int, std::string> odd) {
    const auto r = call("PUT", "/api/v1/sized/rules", import(std::move(odd)));
    EXPECT_EQ(r.status, 400) << r.body;
    const auto at = r.body.find(R"("field":")");
    return at == std::string::npos ? r.body
                                   : r.body.substr(at + 9, r.body.find('"', at + 9) - at - 9);
  };
  const std::string bad_size = R"({"size":"x"})";
  EXPECT_EQ(field_of({{1200, bad_size}, {1700, bad_size}}), "rules[1200].size");
  EXPECT_EQ(field_of({{1400, bad_size}, {900, bad_size}}), "rules[900].size");
  EXPECT_EQ(field_of({{1500, bad_size}, {1600, R"({"id":0})"}}), "rules[1500].size");
  EXPECT_EQ(field_of({{200, bad_size}, {400, R"({"id":0})"}}), "rules[200].size");
  EXPECT_EQ(field_of({{1999, R"({"id":1})"}, {1998, bad_size}}), "rules[1998].size");
  EXPECT_EQ(field_of({{1999, bad_size}, {1998, R"({"id":1})"}}), "rules[1998].id");
  EXPECT_TRUE(store_.list("sized").empty()) << "nothing of a refused import";

  const auto r = call("PUT", "/api/v1/sized/rules", import({{1000, R"({"size":5})"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto stored = store_.list("sized");
  ASSERT_EQ(stored.size(), size_t(kRules));
  EXPECT_EQ(stored.front().body, R"({"id":1,"size":0})");
  EXPECT_EQ(stored.back().body, R"({"id":2001,"size":5})") << "an id-less rule gets the next id";
  EXPECT_EQ(stored[kRules - 2].body, R"({"id":2000,"size":1999})");
  EXPECT_EQ(sized->applied, size_t(kRules));
}

TEST_F(Router, PagesAreStableAndFiltersMatchFields) {
  for (int i = 1; i <= 25; ++i) {
    const std::string body =
        "{\"id\":" + std::to_string(i) + ",\"kind\":\"" + (i % 5 == 0 ? "round" : "square") + "\"}";
    ASSERT_EQ(call("POST", "/api/v1/widgets/rules", body).status, 201);
  }
  std::string cursor;
  size_t seen = 0, pages = 0;
  do {
    const auto r = call("GET", "/api/v1/widgets/rules", "",
                        "limit=10" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    ++pages;
    for (size_t at = r.body.find("\"id\":"); at != std::string::npos;
         at = r.body.find("\"id\":", at + 1))
      ++seen;
    const auto c = r.body.find("\"next_cursor\":\"");
    cursor = c == std::string::npos ? "" : r.body.substr(c + 15, r.body.find('"', c + 15) - c - 15);
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(pages, 3u);
  EXPECT_EQ(seen, 25u);
  const auto round = call("GET", "/api/v1/widgets/rules", "", "kind=round&limit=2");
  EXPECT_EQ(round.body, R"({"rules":[{"id":5,"kind":"round"},{"id":10,"kind":"round"}],)"
                        R"("origins":{"5":"api","10":"api"},"next_cursor":"10"})");
  EXPECT_EQ(call("GET", "/api/v1/widgets/rules", "", "kind=oval").body,
            R"({"rules":[],"origins":{},"next_cursor":null})");
  EXPECT_EQ(ManagementApi::parse_query("a=1&b=x%20y&c&&d=%3D")["b"], "x y");
  EXPECT_EQ(ManagementApi::parse_query("d=%3D")["d"], "=");
}

TEST_F(Router, AuditHistoryShowsWhatChangedNewestFirst) {
  ASSERT_EQ(call("POST", "/api/v1/widgets/rules", R"({"id":8,"size":1})").status, 201);
  ASSERT_EQ(call("PATCH", "/api/v1/widgets/rules/8", R"({"size":2,"tag":"x"})").status, 200);
  const auto r = call("GET", "/api/v1/audit/rules/8/history");
  ASSERT_EQ(r.status, 200);
  const auto update = r.body.find(R"("action":"update")");
  ASSERT_NE(update, std::string::npos) << r.body;
  EXPECT_LT(update, r.body.find(R"("action":"create")")) << r.body;
  EXPECT_NE(r.body.find(R"("changed":["size","tag"])"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("actor":"test")"), std::string::npos) << r.body;
  EXPECT_EQ(call("GET", "/api/v1/audit/logs", "", "limit=0").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/audit/rules/x/history").status, 400);
}

// The config file owns the rules it declares: listings say so, writes to
// them are refused before the engine or the audit hears of them, a listing
// imports back as it is, and a dry run shows the diff and changes nothing.
TEST_F(Router, ConfigRulesAreTheFilesAndImportsOfThemAreNoOps) {
  rules_.claim("widgets", engine_, {{1, R"({"id":1,"size":1})"}});
  ASSERT_EQ(call("POST", "/api/v1/widgets/rules", R"({"id":2,"size":2})").status, 201);
  const auto applied = rules_.applied().at("widgets");
  const auto audited = store_.audit("widgets").size();
  for (const auto& [method, body] : std::vector<std::pair<std::string, std::string>>{
           {"PUT", R"({"size":5})"}, {"PATCH", R"({"size":5})"}, {"DELETE", ""}}) {
    const auto r = call(method, "/api/v1/widgets/rules/1", body);
    EXPECT_EQ(r.status, 409) << method << " -> " << r.body;
    EXPECT_NE(r.body.find("config file"), std::string::npos) << r.body;
  }
  EXPECT_EQ(call("POST", "/api/v1/widgets/rules", R"({"id":1,"size":5})").status, 409);
  EXPECT_EQ(store_.get("widgets", 1), R"({"id":1,"size":1})");
  EXPECT_EQ(store_.audit("widgets").size(), audited) << "nothing audited";
  EXPECT_EQ(rules_.applied().at("widgets"), applied) << "the engine was not asked";

  const auto listing = call("GET", "/api/v1/widgets/rules");
  EXPECT_EQ(listing.body, R"({"rules":[{"id":1,"size":1},{"id":2,"size":2}],)"
                          R"("origins":{"1":"config","2":"api"},"next_cursor":null})");
  EXPECT_EQ(call("GET", "/api/v1/widgets/rules", "", "origin=api").body,
            R"({"rules":[{"id":2,"size":2}],"origins":{"2":"api"},"next_cursor":null})");
  EXPECT_EQ(call("GET", "/api/v1/widgets/rules", "", "origin=file").status, 400);
  auto r = call("PUT", "/api/v1/widgets/rules", listing.body);
  EXPECT_EQ(r.body, R"({"replaced":1,"config_owned":1})");
  EXPECT_EQ(call("GET", "/api/v1/widgets/rules").body, listing.body);
  EXPECT_EQ(store_.audit("widgets").size(), audited) << "an import of what is there is a no-op";

  r = call("PUT", "/api/v1/widgets/rules", R"({"rules":[{"id":1,"size":9}]})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("rule 1 "), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("field":"rules[0]")"), std::string::npos) << r.body;

  const auto applied_before_dry_run = rules_.applied().at("widgets");
  r = call("PUT", "/api/v1/widgets/rules",
           R"({"rules":[{"id":1,"size":1},{"id":3,"size":3},{"id":4}]})", "dry_run=true");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"dry_run":true,"added":[3,4],"removed":[2],"changed":[],"unchanged":0,)"
                    R"("config_owned":1})");
  r = call("PUT", "/api/v1/widgets/rules", R"({"rules":[{"size":3},{"id":2,"size":7}]})",
           "dry_run=true");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"dry_run":true,"added":[3],"removed":[],"changed":[{"id":2,)"
                    R"("before":{"id":2,"size":2},"after":{"id":2,"size":7}}],"unchanged":0,)"
                    R"("config_owned":0})")
      << "an id is given to a rule without one, as a real import would";
  EXPECT_EQ(call("GET", "/api/v1/widgets/rules").body, listing.body) << "nothing applied";
  EXPECT_EQ(store_.audit("widgets").size(), audited) << "nothing audited";
  EXPECT_EQ(rules_.applied().at("widgets"), applied_before_dry_run) << "the engine was not asked";
  EXPECT_EQ(call("PUT", "/api/v1/widgets/rules", R"({"rules":[]})", "dry_run=yes").status, 400);
}

// Access control: never open. Keys with roles, and local peers (the Unix
// socket's kernel-verified uid) that are root or the agent's own user.
class Keys : public Router {
 protected:
  Keys() : keys_(dir_ / "r.db"), secured_(rules_, {}, &keys_) {}
  static Request request(const std::string& method, const std::string& path,
                         const std::string& body, const std::string& actor) {
    Request r;
    r.method = method;
    r.path = path;
    r.body = body;
    r.actor = actor;
    return r;
  }
  Response as(const std::string& token, const std::string& method, const std::string& path,
              const std::string& body = "") {
    Request r = request(method, path, body, "rest:127.0.0.1");
    r.credential = token;
    return secured_.handle(r);
  }
  // A Unix-socket peer with this uid, as the kernel reports it.
  Response local(uint32_t uid, const std::string& method, const std::string& path,
                 const std::string& body = "") {
    Request r = request(method, path, body, "rest:local");
    r.local = true;
    r.uid = uid;
    r.pid = 4242;
    return secured_.handle(r);
  }
  std::string token_of(const Response& r) {
    const auto at = r.body.find("\"token\":\"");
    return at == std::string::npos ? "" : r.body.substr(at + 9, r.body.find('"', at + 9) - at - 9);
  }
  rampart::store::KeyStore keys_;
  ManagementApi secured_;
};

TEST_F(Keys, NeverOpenRolesDecideAndLocalRootAdministers) {
  ASSERT_TRUE(keys_.empty());
  auto r = as("", "GET", "/api/v1/widgets/rules");
  EXPECT_EQ(r.status, 401) << "no key exists yet, and still nothing is open";
  EXPECT_EQ(as("", "POST", "/api/v1/keys", R"({"name":"x","role":"admin"})").status, 401)
      << "nobody can make themselves the first admin";
  EXPECT_EQ(local(65534, "POST", "/api/v1/keys", R"({"name":"x","role":"admin"})").status, 401)
      << "a local user other than root or the agent's is nobody";
  const auto admin =
      token_of(local(0, "POST", "/api/v1/keys", R"({"name":"root","role":"admin"})"));
  ASSERT_EQ(admin.size(), 76u);
  r = local(0, "GET", "/api/v1/auth/whoami");
  EXPECT_EQ(r.body, R"({"name":"local:uid=0","role":"admin","via":"local"})");
  const auto viewer =
      token_of(as(admin, "POST", "/api/v1/keys", R"({"name":"dash","role":"viewer"})"));
  const auto op =
      token_of(as(admin, "POST", "/api/v1/keys", R"({"name":"ops","role":"operator"})"));
  ASSERT_FALSE(viewer.empty());
  ASSERT_FALSE(op.empty());

  EXPECT_EQ(as("rp_00000000_" + std::string(64, '0'), "GET", "/api/v1/widgets/rules").status, 401);
  EXPECT_EQ(as(admin.substr(0, 75) + "x", "GET", "/api/v1/widgets/rules").status, 401);
  EXPECT_EQ(as("garbage", "GET", "/api/v1/widgets/rules").status, 401);

  EXPECT_EQ(as(viewer, "GET", "/api/v1/widgets/rules").status, 200);
  r = as(viewer, "POST", "/api/v1/widgets/rules", R"({"id":1})");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("needs the operator role; key:dash has viewer"), std::string::npos)
      << r.body;
  EXPECT_EQ(as(op, "POST", "/api/v1/widgets/rules", R"({"id":1})").status, 201);
  EXPECT_EQ(as(op, "GET", "/api/v1/keys").status, 403) << "keys are admin's";
  EXPECT_EQ(as(op, "POST", "/api/v1/config/reload").status, 403);
  EXPECT_EQ(as(viewer, "GET", "/api/v1/config").status, 403) << "config is admin's";
  EXPECT_EQ(local(0, "POST", "/api/v1/widgets/rules", R"({"id":2})").status, 201);

  // The audit names the key, or the local peer as the kernel saw it.
  r = as(viewer, "GET", "/api/v1/audit/rules/1/history");
  EXPECT_NE(r.body.find(R"("actor":"key:ops@rest:127.0.0.1")"), std::string::npos) << r.body;
  r = as(viewer, "GET", "/api/v1/audit/rules/2/history");
  EXPECT_NE(r.body.find(R"("actor":"local:uid=0,pid=4242@rest:local")"), std::string::npos)
      << r.body;
  r = as(viewer, "GET", "/api/v1/auth/whoami");
  EXPECT_EQ(r.body, R"({"name":"dash","role":"viewer","via":"key"})");

  // Listing never shows a secret; deleting a key revokes it.
  r = as(admin, "GET", "/api/v1/keys");
  EXPECT_EQ(r.body.find(viewer.substr(12)), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("name":"ops","role":"operator")"), std::string::npos) << r.body;
  EXPECT_EQ(as(admin, "DELETE", "/api/v1/keys/ops").status, 204);
  EXPECT_EQ(as(op, "GET", "/api/v1/widgets/rules").status, 401);
  EXPECT_EQ(as(admin, "DELETE", "/api/v1/keys/ops").status, 404);
  // Every admin key gone: root on the local socket is still an admin.
  EXPECT_EQ(as(admin, "DELETE", "/api/v1/keys/root").status, 204);
  EXPECT_EQ(local(0, "GET", "/api/v1/keys").status, 200);
}

// Every route and the least role it needs, written out: a route added
// without a deliberate role (or with another) fails here. Each route is
// then asked by each role for real: refused below its role, never above.
TEST_F(Keys, EveryRouteDeclaresItsRoleAndIsRefusedBelowIt) {
  using rampart::store::Role;
  const std::vector<std::tuple<std::string, std::string, Role>> expected = {
      {"GET", "/api/v1/auth/whoami", Role::viewer},
      {"GET", "/api/v1/domains", Role::viewer},
      {"GET", "/api/v1/agent/status", Role::viewer},
      {"GET", "/api/v1/ebpf/status", Role::viewer},
      {"GET", "/api/v1/config", Role::admin},
      {"POST", "/api/v1/config/reload", Role::admin},
      {"GET", "/api/v1/openapi.json", Role::viewer},
      {"GET", "/api/v1/alerts", Role::viewer},
      {"GET", "/api/v1/alerts/{id}", Role::viewer},
      {"POST", "/api/v1/alerts/{id}/false-positive", Role::operator_},
      {"GET", "/api/v1/keys", Role::admin},
      {"POST", "/api/v1/keys", Role::admin},
      {"DELETE", "/api/v1/keys/{name}", Role::admin},
      {"GET", "/api/v1/audit/logs", Role::viewer},
      {"GET", "/api/v1/audit/rules/{id}/history", Role::viewer},
      {"GET", "/api/v1/{domain}/rules", Role::viewer},
      {"POST", "/api/v1/{domain}/rules", Role::operator_},
      {"PUT", "/api/v1/{domain}/rules", Role::operator_},
      {"GET", "/api/v1/{domain}/rules/{id}", Role::viewer},
      {"PUT", "/api/v1/{domain}/rules/{id}", Role::operator_},
      {"PATCH", "/api/v1/{domain}/rules/{id}", Role::operator_},
      {"DELETE", "/api/v1/{domain}/rules/{id}", Role::operator_},
      {"GET", "/api/v1/{domain}/status", Role::viewer},
  };
  std::vector<std::tuple<std::string, std::string, Role>> declared;
  for (const auto& r : secured_.routes()) declared.emplace_back(r.method, r.path_template, r.role);
  EXPECT_EQ(declared, expected);

  const auto admin = token_of(local(0, "POST", "/api/v1/keys", R"({"name":"a","role":"admin"})"));
  const std::map<Role, std::string> tokens = {
      {Role::admin, admin},
      {Role::operator_,
       token_of(as(admin, "POST", "/api/v1/keys", R"({"name":"o","role":"operator"})"))},
      {Role::viewer,
       token_of(as(admin, "POST", "/api/v1/keys", R"({"name":"v","role":"viewer"})"))}};
  auto concrete = [](std::string t) {
    for (const auto& [from, to] : {std::pair<std::string, std::string>{"{domain}", "widgets"},
                                   {"{id}", "1"},
                                   {"{name}", "nobody"}}) {
      if (const auto at = t.find(from); at != std::string::npos) t.replace(at, from.size(), to);
    }
    // An alert id is a UUID.
    if (const auto at = t.find("/alerts/1"); at != std::string::npos)
      t.replace(at, 9, "/alerts/00000000-0000-4000-8000-000000000000");
    return t;
  };
  for (const auto& [method, tmpl, need] : expected) {
    for (const auto& [role, token] : tokens) {
      const auto r = as(token, method, concrete(tmpl), "{}");
      if (static_cast<int>(role) < static_cast<int>(need)) {
        EXPECT_EQ(r.status, 403) << method << " " << tmpl << " as " << role_name(role);
      } else {
        EXPECT_NE(r.status, 403) << method << " " << tmpl << " as " << role_name(role) << ": "
                                 << r.body;
        EXPECT_NE(r.status, 405) << method << " " << tmpl;
      }
    }
  }
  // A method a path does not have: 405 naming the ones it has.
  const auto r = as(admin, "DELETE", "/api/v1/domains");
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.body.find("DELETE (allowed: GET)"), std::string::npos) << r.body;
  EXPECT_EQ(as(admin, "PATCH", "/api/v1/keys").status, 405);
}

// A rule domain may not shadow one of the API's own paths (an engine's
// domain named "config" would put operator-level rule routes under the
// admin-only config prefix), nor be one the routes cannot reach.
TEST(RuleDomains, NamesOfTheApisOwnPathsAndUnroutableNamesAreRefused) {
  for (const char* taken : {"config", "keys", "auth", "alerts", "audit", "domains", "agent"}) {
    EXPECT_EQ(ManagementApi::domain_name_problem(taken),
              std::string("rule domain '") + taken + "' is reserved by the API");
  }
  for (const char* bad : {"", "Firewall", "9lives", "a-b", "a/b", "../x",
                          "abcdefghijklmnopqrstuvwxyz0123456" /* 33 */}) {
    EXPECT_NE(ManagementApi::domain_name_problem(bad).find("a rule domain is 1-32 of"),
              std::string::npos)
        << bad;
  }
  EXPECT_EQ(ManagementApi::domain_name_problem("firewall"), "");
  EXPECT_EQ(ManagementApi::domain_name_problem("rate_limit2"), "");
}

TEST_F(Keys, BadKeyRequestsAreRefused) {
  const auto admin = token_of(local(0, "POST", "/api/v1/keys", R"({"name":"a","role":"admin"})"));
  ASSERT_FALSE(admin.empty());
  EXPECT_EQ(as(admin, "POST", "/api/v1/keys", R"({"name":"a b","role":"admin"})").status, 400);
  EXPECT_EQ(as(admin, "POST", "/api/v1/keys", R"({"name":"b","role":"root"})").status, 400);
  EXPECT_EQ(as(admin, "POST", "/api/v1/keys", R"({"name":"b","role":"admin","x":1})").status, 400);
  EXPECT_EQ(as(admin, "POST", "/api/v1/keys", "nope").status, 400);
  EXPECT_EQ(as(admin, "POST", "/api/v1/keys", R"({"name":"a","role":"viewer"})").status, 409);
  EXPECT_EQ(as(admin, "PUT", "/api/v1/keys/a").status, 405);
  // The database holds no token, only its salted hash.
  EXPECT_EQ(rampart::test::read_file(dir_ / "r.db").find(admin.substr(12)), std::string::npos);
}

TEST_F(Keys, TheFirstStartWritesAnAdminKeyOnlyItsOwnerReadsAndResetReplacesEveryKey) {
  const std::string file = dir_ / "admin.key";
  ASSERT_TRUE(rampart::store::ensure_bootstrap_key(keys_, file));
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string token = rampart::test::read_file(file);
  ASSERT_EQ(token.back(), '\n');
  token.pop_back();
  EXPECT_EQ(as(token, "GET", "/api/v1/keys").status, 200) << "an admin key";
  EXPECT_FALSE(rampart::store::ensure_bootstrap_key(keys_, file)) << "only while no key exists";
  EXPECT_EQ(rampart::test::read_file(file), token + "\n");

  const auto other = token_of(as(token, "POST", "/api/v1/keys", R"({"name":"b","role":"viewer"})"));
  rampart::store::reset_keys(keys_, file);
  EXPECT_EQ(as(token, "GET", "/api/v1/keys").status, 401);
  EXPECT_EQ(as(other, "GET", "/api/v1/widgets/rules").status, 401);
  std::string fresh = rampart::test::read_file(file);
  fresh.pop_back();
  EXPECT_NE(fresh, token);
  EXPECT_EQ(as(fresh, "GET", "/api/v1/keys").status, 200);
  EXPECT_EQ(keys_.list().size(), 1u);
}

}  // namespace

namespace {

// GET /api/v1/alerts with filters and paging, GET one, and marking a false
// positive, against a real alert store.
TEST(AlertRoutes, ListFilterGetAndMarkFalsePositive) {
  rampart::test::TempDir dir;
  rampart::store::RuleStore store(dir / "r.db");
  rampart::store::RuleService rules(store);
  rampart::alerts::AlertStore alerts(dir / "r.db", {});
  rampart::api::Providers providers;
  providers.alerts = &alerts;
  ManagementApi api(rules, providers);
  auto call = [&](const std::string& method, const std::string& path, const std::string& query = "",
                  const std::string& body = "") {
    Request r;
    r.method = method;
    r.path = path;
    r.body = body;
    r.actor = "rest:127.0.0.1";
    return api.handle(r, query);
  };
  for (int i = 0; i < 5; ++i) {
    auto a = std::make_shared<rampart::alerts::AlertRecord>();
    a->id = "11111111-2222-4333-8444-00000000000" + std::to_string(i);
    a->component = i < 3 ? "firewall" : "ids";
    a->severity = static_cast<uint32_t>(i % 4);
    a->rule_id = std::to_string(i);
    a->time_ns = 1764266400ull * 1000000000ull + static_cast<uint64_t>(i) * 1000000000ull;
    alerts.add(a);
  }
  auto r = call("GET", "/api/v1/alerts");
  ASSERT_EQ(r.status, 200) << r.body;
  auto o = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(o->getArray("alerts")->size(), 5u);
  EXPECT_TRUE(o->get("next_cursor").isEmpty());

  r = call("GET", "/api/v1/alerts", "component=firewall&min_severity=medium");
  o = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(o->getArray("alerts")->size(), 2u) << r.body;
  // 2025-11-27T18:00:00Z is 1764266400: since the third alert.
  r = call("GET", "/api/v1/alerts", "since=2025-11-27T18:00:02Z");
  o = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(o->getArray("alerts")->size(), 3u) << r.body;
  r = call("GET", "/api/v1/alerts", "since=1764266403");
  o = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(o->getArray("alerts")->size(), 2u) << r.body;

  r = call("GET", "/api/v1/alerts", "limit=2");
  o = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  ASSERT_EQ(o->getArray("alerts")->size(), 2u);
  const std::string cursor = o->getValue<std::string>("next_cursor");
  r = call("GET", "/api/v1/alerts", "limit=10&cursor=" + cursor);
  o = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(o->getArray("alerts")->size(), 3u) << "the rest, after the cursor";

  for (const auto& [query, field] :
       std::vector<std::pair<std::string, std::string>>{{"severity=severe", "severity"},
                                                        {"limit=0", "limit"},
                                                        {"since=yesterday", "since"},
                                                        {"false_positive=maybe", "false_positive"},
                                                        {"colour=red", "colour"}}) {
    r = call("GET", "/api/v1/alerts", query);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_NE(r.body.find("\"field\":\"" + field + "\""), std::string::npos) << r.body;
  }

  // Found by fuzz_management_api: an unknown filter whose name is not UTF-8
  // was echoed as `field` and made the answer invalid JSON.
  r = call("GET", "/api/v1/alerts", "%FF%FEx=1");
  EXPECT_EQ(r.status, 400);
  EXPECT_NO_THROW(Poco::JSON::Parser().parse(r.body)) << r.body;

  const std::string path = "/api/v1/alerts/11111111-2222-4333-8444-000000000002";
  EXPECT_EQ(call("GET", path).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/alerts/11111111-2222-4333-8444-999999999999").status, 404);
  EXPECT_EQ(call("DELETE", path).status, 405);
  EXPECT_EQ(call("POST", path + "/false-positive", "", R"({"reason":7})").status, 400);
  EXPECT_EQ(call("POST", path + "/false-positive", "", R"({"why":"x"})").status, 400);
  r = call("POST", path + "/false-positive", "", R"({"reason":"our scanner"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("false_positive":true)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("false_positive_by":"rest:127.0.0.1")"), std::string::npos) << r.body;
  r = call("GET", "/api/v1/alerts", "false_positive=true");
  o = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(o->getArray("alerts")->size(), 1u);
  EXPECT_EQ(
      call("POST", "/api/v1/alerts/11111111-2222-4333-8444-999999999999/false-positive").status,
      404);

  rampart::api::Providers none;
  ManagementApi without(rules, none);
  Request q;
  q.method = "GET";
  q.path = "/api/v1/alerts";
  EXPECT_EQ(without.handle(q).status, 503);
}

}  // namespace

// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary requests to the management API (what any
// frontend forwards from the network). Input: method, path, query and body
// separated by newlines. Every answer must be a known status with a JSON
// body (or empty for 204), never a crash; the store stays readable.
#include <Poco/JSON/Parser.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include <unistd.h>

#include "alerts/alert_store.hpp"
#include "api/management_api.hpp"
#include "store/rule_service.hpp"

namespace {

class AcceptAll : public rampart::store::RuleOwner {
 public:
  std::string apply_rules(const std::string&,
                          const std::vector<rampart::store::StoredRule>& rules) override {
    return rules.size() > 64 ? "rule 1: size: too many" : "";
  }
};

// A store file of its own for this process (the alert store opens two
// connections, so it cannot live in ":memory:").
std::string alert_db() {
  char path[] = "/tmp/fuzz-alerts-XXXXXX";
  const int fd = mkstemp(path);
  if (fd >= 0) close(fd);
  return path;
}

rampart::api::Providers with_alerts(rampart::alerts::AlertStore& alerts) {
  rampart::api::Providers p;
  p.alerts = &alerts;
  return p;
}

// The store's files (its WAL and shared memory too), removed once the
// store that a later member holds has closed them.
struct RemovedLast {
  std::string path;
  ~RemovedLast() {
    for (const char* suffix : {"", "-wal", "-shm"}) unlink((path + suffix).c_str());
  }
};

struct World {
  rampart::store::RuleStore store{":memory:"};
  rampart::store::RuleService rules{store};
  const RemovedLast alert_files{alert_db()};
  rampart::alerts::AlertStore alerts{alert_files.path, {}};
  rampart::api::ManagementApi api{rules, with_alerts(alerts)};
  std::shared_ptr<AcceptAll> owner = std::make_shared<AcceptAll>();
  World() {
    rules.claim("widgets", owner, {});
    // A schema, so the fuzzer drives the core's JSON Schema check too.
    rules.describe(owner.get(),
                   {"widgets", "fuzzed",
                    R"({"type":"object","required":["size"],"additionalProperties":false,)"
                    R"("properties":{"id":{"type":"integer","minimum":1},)"
                    R"("size":{"type":"integer","minimum":0,"maximum":9},)"
                    R"("tags":{"type":"array","items":{"type":"string","maxLength":8}},)"
                    R"("kind":{"type":"string","enum":["a","b"]}}})"});
    // Alerts for the /alerts routes to list, filter and mark.
    for (int i = 0; i < 8; ++i) {
      auto a = std::make_shared<rampart::alerts::AlertRecord>();
      a->id = "00000000-0000-4000-8000-00000000000" + std::to_string(i);
      a->component = i % 2 ? "firewall" : "ids";
      a->severity = static_cast<uint32_t>(i % 4);
      a->ip_family = 4;
      a->src_addr[0] = 198;
      a->src_addr[3] = static_cast<uint8_t>(i);
      a->time_ns = 1000000000ull * (1700000000ull + static_cast<uint64_t>(i));
      alerts.add(a);
    }
    alerts.flush();
  }
};

std::string next_line(const std::string& in, size_t& pos) {
  const auto nl = in.find('\n', pos);
  std::string s = in.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
  pos = nl == std::string::npos ? in.size() : nl + 1;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  const std::string in(reinterpret_cast<const char*>(data), size);
  size_t pos = 0;
  rampart::api::Request req;
  req.method = next_line(in, pos);
  req.path = next_line(in, pos);
  const std::string query = next_line(in, pos);
  req.body = in.substr(pos);
  req.actor = "fuzz";
  const auto res = world.api.handle(req, query);
  static const std::set<int> known = {200, 201, 204, 400, 404, 405, 409, 422, 500, 503};
  if (!known.count(res.status)) __builtin_trap();
  if (res.status == 500) __builtin_trap();  // an internal error is a bug
  if (res.status == 204) {
    if (!res.body.empty()) __builtin_trap();
  } else {
    Poco::JSON::Parser().parse(res.body);  // throws (and the fuzzer reports) if not JSON
  }
  (void)world.rules.list("widgets");
  return 0;
}

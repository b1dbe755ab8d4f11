// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as a DDoS auto-block threshold body
// (what the REST API receives for the domain `ddos`). Parsing must return
// a threshold within every stated bound or throw ThresholdError with a
// "field: why" message; a parsed one must survive a round trip through
// JSON unchanged and make a set of its own.
#include <cstddef>
#include <cstdint>
#include <string>

#include "auto_block.hpp"
#include "countries.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace dd = rampart::ddos;
  const std::string body(reinterpret_cast<const char*>(data), size);
  dd::Threshold t;
  try {
    t = dd::threshold_from_json(body, 9);
  } catch (const dd::ThresholdError& e) {
    if (std::string(e.what()).find(": ") == std::string::npos) __builtin_trap();
    return 0;
  }
  if (t.id != 9) __builtin_trap();  // a body that names another id is refused
  if (t.rate < 1 || t.rate > dd::kMaxThresholdRate) __builtin_trap();
  if (t.country != "default" && !rampart::geo::country_code(t.country)) __builtin_trap();
  if (!(dd::threshold_from_json(dd::threshold_to_json(t), 9) == t)) __builtin_trap();
  dd::AutoBlockSettings s;
  dd::set_thresholds(s, {t});
  if (s.threshold(t.country) != t.rate) __builtin_trap();
  return 0;
}

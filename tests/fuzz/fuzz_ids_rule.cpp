// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as an IDS rule file (and its first line
// as one rule). Loading never throws and never crashes; every refusal is one
// line naming a keyword; a rule accepted once is accepted again from its own
// text (the parser keeps no state between rules). The rules accepted are
// then compiled and matched against the input itself as every buffer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "matcher.hpp"
#include "rule.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const rampart::ids::Variables vars = [] {
    auto v = rampart::ids::Variables::defaults();
    v.addresses["HOME_NET"] = "[10.0.0.0/8,!10.1.0.0/16,fd00::/8]";
    v.addresses["EXTERNAL_NET"] = "!$HOME_NET";
    v.addresses["LOOP"] = "[$LOOP]";
    v.ports["HTTP_PORTS"] = "[80,8000:8100,!8080]";
    return v;
  }();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto r = rampart::ids::load_rules(text, vars);
  for (const auto& f : r.refused) {
    if (f.keyword.empty() || f.message.empty()) __builtin_trap();
    if (f.message.find('\n') != std::string::npos) __builtin_trap();
  }
  for (const auto& rule : r.rules) {
    if (rule.sid == 0) __builtin_trap();
    try {
      const auto again = rampart::ids::parse_rule(rule.text, vars);
      if (again.sid != rule.sid || again.buffers.size() != rule.buffers.size()) __builtin_trap();
    } catch (const rampart::ids::RuleError&) {
      __builtin_trap();
    }
  }
  if (!r.rules.empty()) {
    const auto set = rampart::ids::RuleSet::compile(r.rules);
    rampart::ids::Scratch scratch(*set);
    rampart::ids::Inspection in;
    in.pkt.ip_proto = size % 2 ? 6 : 17;
    in.pkt.app = static_cast<rampart::ids::AppProto>(size % 9);
    in.pkt.established = true;
    for (size_t b = 0; b < rampart::ids::kBufferCount; ++b) {
      in.set(static_cast<rampart::ids::Buffer>(b), text.substr(b % (size + 1)));
    }
    in.stream = text;
    in.stream_new = size / 2;
    in.dsize = static_cast<uint32_t>(size);
    rampart::ids::FlowBits bits;
    std::vector<rampart::ids::Match> out;
    for (int i = 0; i < 2; ++i) {
      set->match(in, bits, scratch, out);
      for (const auto& m : out) {
        if (m.rule >= set->rules().size()) __builtin_trap();
      }
    }
  }
  const auto nl = text.find('\n');
  try {
    rampart::ids::parse_rule(text.substr(0, nl), vars);
  } catch (const rampart::ids::RuleError& e) {
    if (std::string_view(e.what()).empty()) __builtin_trap();
  }
  return 0;
}

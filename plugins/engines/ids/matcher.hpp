// SPDX-License-Identifier: Apache-2.0
// The rule matcher (docs/ids.md): a RuleSet compiled once from parsed rules
// (rule.hpp) into one Vectorscan database per buffer, each holding one
// literal per rule (its fast_pattern content, else its longest content), and
// every pcre compiled by PCRE2 with JIT. An inspection (inspect.hpp) is
// scanned by those databases; only the rules one of them hit, and the rules
// with no content to prefilter on, are confirmed with their full semantics.
// The set is immutable once compiled: the engine shares it as a
// shared_ptr<const RuleSet> and swaps it whole on a reload; each worker
// thread keeps its own Scratch for it.
#pragma once

#include <array>
#include <bitset>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "inspect.hpp"
#include "rule.hpp"

struct hs_database;
struct hs_scratch;
struct pcre2_real_code_8;
struct pcre2_real_match_data_8;
struct pcre2_real_match_context_8;

namespace rampart::ids {

class RuleSet;

// A flow's flowbits: ids into its RuleSet's table of flowbit names. The
// first 128 ids live in the object itself (no allocation for the usual
// handful); a RuleSet with more names grows a vector once per flow. Bits of
// another RuleSet (before a reload) are forgotten on the first match with
// the new one, since its ids name other bits.
class FlowBits {
 public:
  bool test(uint32_t id) const;
  void set(uint32_t id);
  void unset(uint32_t id);
  void toggle(uint32_t id);
  void clear();
  bool empty() const;

 private:
  friend class RuleSet;
  uint64_t set_id_ = 0;
  std::array<uint64_t, 2> inline_{};
  std::vector<uint64_t> more_;
  // The stream's candidates (RuleSet::match), per direction ([1]: to the
  // server): rules whose prefilter literal an earlier packet's new bytes
  // held, kept while the bytes scanned then (up to `until`) are in the
  // stream view; `full`: scan the whole view (a new flow or rule set, or
  // more candidates than kMaxPending).
  struct Pending {
    uint32_t rule;
    uint64_t until;
  };
  static constexpr size_t kMaxPending = 64;
  std::array<std::vector<Pending>, 2> pending_;
  std::array<bool, 2> full_{true, true};
  // HTTP: the rules a transaction's heads made candidates at their first
  // milestone ([0] the request's head at request_headers, [1] the
  // response's at response_headers), for the later milestones, which hold
  // those bytes again (Inspection::repeated): the request's number, 0 for
  // none kept (past kMaxPending).
  std::array<uint64_t, 2> head_id_{};
  std::array<std::vector<uint32_t>, 2> head_cands_;
};

// A rule that matched an inspection: at most one per rule and inspection.
struct Match {
  uint32_t rule = 0;                // index into RuleSet::rules()
  const Rule* rule_ptr = nullptr;   // &rules()[rule]
  Buffer buffer = Buffer::payload;  // where the last content (or pcre) matched
  bool in_stream = false;           // offset counts in Inspection::stream, not the payload
  uint32_t offset = 0, length = 0;  // that match; 0, 0 if the rule has neither
};

// Per-thread matching state for one RuleSet: Vectorscan scratch, PCRE2
// match data, the candidate list and a buffer for transforms. Creating one
// is cheap (a clone of the set's prototype scratch); it must not be shared
// between threads, and only serves the RuleSet it was made for.
class Scratch {
 public:
  explicit Scratch(const RuleSet& set);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  bool serves(const RuleSet& set) const { return set_ == &set; }

 private:
  friend class RuleSet;
  const RuleSet* set_;
  hs_scratch* hs_ = nullptr;
  pcre2_real_match_data_8* md_ = nullptr;
  pcre2_real_match_context_8* mctx_ = nullptr;
  std::vector<uint32_t> candidates_;
  std::vector<uint8_t> marked_;
  std::string transformed_;
};

class RuleSet {
 public:
  // Compiles `rules`. A rule whose pcre PCRE2 refuses is left out and
  // listed in refused() (keyword "pcre", its sid); the others still load.
  // Throws std::runtime_error if Vectorscan refuses a database (which a
  // literal never makes it do).
  static std::shared_ptr<const RuleSet> compile(std::vector<Rule> rules);
  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  // In evaluation order: the rules that set flowbits without testing any
  // come first (as Suricata orders them), the others in the given order.
  const std::vector<Rule>& rules() const { return rules_; }
  const std::vector<Refusal>& refused() const { return refused_; }
  size_t flowbit_names() const { return flowbit_ids_.size(); }
  // Rules confirmed on every inspection (no content to prefilter on).
  size_t unfiltered_rules() const { return always_.size(); }
  // The longest literal the payload is prefiltered on (at least 1).
  size_t longest_payload_literal() const { return max_payload_literal_; }

  // Matches one inspection: `out` is cleared, then holds one Match per rule
  // that matched and alerts (noalert rules change flowbits only). `flow`
  // is the flow's flowbits, tested and changed here. No allocation once
  // `out` and `flow` have grown; no exception.
  void match(const Inspection& in, FlowBits& flow, Scratch& scratch, std::vector<Match>& out) const;

  struct Compiled;  // a rule ready to confirm (matcher.cpp)

 private:
  RuleSet() = default;
  friend class Scratch;
  bool confirm(uint32_t index, const Inspection& in, FlowBits& flow, Scratch& s, Match& m) const;

  uint64_t id_ = 0;
  std::vector<Rule> rules_;
  std::vector<Refusal> refused_;
  std::vector<Compiled> compiled_;
  std::array<hs_database*, kBufferCount> db_{};
  std::bitset<kBufferCount> with_db_;  // the buffers db_ has a database for
  // Every head buffer's literals (head_text_buffers()), for Inspection::heads.
  hs_database* head_db_ = nullptr;
  size_t max_payload_literal_ = 1;  // the payload database's longest literal
  hs_scratch* proto_ = nullptr;
  std::vector<uint32_t> always_;
  // always_ by what a packet's protocol and TCP flags let through: [flags]
  // for TCP, then UDP, ICMP and the rest (kAlwaysSlots), so a packet tries
  // only the rules its header can match (most have flags).
  static constexpr size_t kAlwaysSlots = 256 + 3;
  std::array<std::vector<uint32_t>, kAlwaysSlots> always_by_;
  std::unordered_map<std::string, uint32_t> flowbit_ids_;
  std::vector<pcre2_real_code_8*> pcres_;
};

// Alert thresholds (threshold: and detection_filter:): whether a rule's
// match is reported, counted per tracked key (the rule, and the source,
// destination or both addresses) in windows of the rule's seconds.
//   limit:            the first `count` matches of each window
//   threshold:        every `count`th match within a window
//   both:             once per window, at the `count`th match
//   detection_filter: every match after the first `count` of the window
// Thread-safe. At most `max_keys` keys are kept: the least recently used
// one is forgotten first (it then starts afresh, as after its window).
class Thresholds {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Thresholds(size_t max_keys = 65536);
  // True if the match of `rule` on `pkt` at `now` is to be alerted. Rules
  // without a threshold always are.
  bool allow(const Rule& rule, const Packet& pkt, Clock::time_point now);
  size_t size() const;

 private:
  struct Key {
    uint32_t gid = 0, sid = 0;
    uint8_t family = 0, track = 0;
    std::array<uint8_t, 16> a{}, b{};
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Entry {
    Key key;
    Clock::time_point start;
    uint32_t count = 0;
  };
  mutable std::mutex mu_;
  size_t max_;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
};

}  // namespace rampart::ids

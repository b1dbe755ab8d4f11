// SPDX-License-Identifier: Apache-2.0
#include "matcher.hpp"

#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <stdexcept>

namespace rampart::ids {

namespace {

// Confirmation steps one rule may take on one inspection: each content or
// pcre occurrence tried counts one. Backtracking over repeated relative
// contents is exponential at worst; past this a rule does not match (as
// Suricata's inspection recursion limit does).
constexpr int kStepBudget = 4096;
// PCRE2's own limits per match (the JIT honours them too).
constexpr uint32_t kPcreMatchLimit = 100000;
constexpr uint32_t kPcreDepthLimit = 10000;

std::atomic<uint64_t> g_set_ids{0};

uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c; }

bool equal_nocase(const char* a, const char* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (lower(static_cast<uint8_t>(a[i])) != lower(static_cast<uint8_t>(b[i]))) return false;
  }
  return true;
}

// The first occurrence of `pat` starting in [start, end - pat.size()], or npos.
size_t find_in(std::string_view buf, std::string_view pat, bool nocase, size_t start, size_t end) {
  if (end > buf.size()) end = buf.size();
  if (start > end || end - start < pat.size()) return std::string_view::npos;
  const auto window = buf.substr(start, end - start);
  if (!nocase) {
    const auto p = window.find(pat);
    return p == std::string_view::npos ? p : start + p;
  }
  const uint8_t first = lower(static_cast<uint8_t>(pat[0]));
  const uint8_t first_up =
      (first >= 'a' && first <= 'z') ? static_cast<uint8_t>(first - 32) : first;
  const size_t last = window.size() - pat.size();
  for (size_t i = 0; i <= last; ++i) {
    const auto c = static_cast<uint8_t>(window[i]);
    if ((c == first || c == first_up) && equal_nocase(window.data() + i, pat.data(), pat.size())) {
      return start + i;
    }
  }
  return std::string_view::npos;
}

// Reads the number byte_test and byte_jump look at; false if it is not
// there (past the buffer, or no digits where a string is expected).
template <class T>
bool read_value(std::string_view buf, int64_t pos, const T& b, uint64_t& out) {
  if (pos < 0 || pos + b.nbytes > static_cast<int64_t>(buf.size())) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(buf.data()) + pos;
  uint64_t v = 0;
  if (b.string) {
    int digits = 0;
    for (int i = 0; i < b.nbytes; ++i) {
      const uint8_t c = p[i];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0 || d >= b.base) break;
      if (v > (UINT64_MAX - static_cast<uint64_t>(d)) / b.base) return false;
      v = v * b.base + static_cast<uint64_t>(d);
      ++digits;
    }
    if (digits == 0) return false;
  } else if (b.little) {
    for (int i = b.nbytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  } else {
    for (int i = 0; i < b.nbytes; ++i) v = (v << 8) | p[i];
  }
  if (b.bitmask) {
    v &= b.bitmask;
    v >>= __builtin_ctzll(b.bitmask);
  }
  out = v;
  return true;
}

bool byte_test(const ByteTest& t, uint64_t v) {
  bool r = false;
  switch (t.op) {
    case ByteTest::Op::lt:
      r = v < t.value;
      break;
    case ByteTest::Op::gt:
      r = v > t.value;
      break;
    case ByteTest::Op::eq:
      r = v == t.value;
      break;
    case ByteTest::Op::and_:
      r = (v & t.value) != 0;
      break;
    case ByteTest::Op::xor_:
      r = (v ^ t.value) != 0;
      break;
    case ByteTest::Op::le:
      r = v <= t.value;
      break;
    case ByteTest::Op::ge:
      r = v >= t.value;
      break;
  }
  return t.op_negated ? !r : r;
}

bool is_relative(const Detect& d) {
  if (const auto* c = std::get_if<Content>(&d)) return c->relative();
  if (const auto* p = std::get_if<Pcre>(&d)) return p->relative;
  if (const auto* t = std::get_if<ByteTest>(&d)) return t->relative;
  if (const auto* j = std::get_if<ByteJump>(&d)) return j->relative;
  if (const auto* i = std::get_if<IsDataAt>(&d)) return i->relative;
  return false;
}

// A position a payload rule depends on, from the buffer's start: such a
// rule is not tried on the stream, whose start is not the packet's.
bool is_absolute(const Detect& d) {
  if (const auto* c = std::get_if<Content>(&d)) return c->offset || c->depth || c->startswith;
  if (const auto* t = std::get_if<ByteTest>(&d)) return !t->relative;
  if (const auto* j = std::get_if<ByteJump>(&d)) return !j->relative || j->from_beginning;
  if (const auto* i = std::get_if<IsDataAt>(&d)) return !i->relative;
  return false;
}

void apply(Transform t, std::string& s) {
  switch (t) {
    case Transform::to_lowercase:
      for (auto& c : s) c = static_cast<char>(lower(static_cast<uint8_t>(c)));
      break;
    case Transform::header_lowercase: {
      // Each line's name, up to its first ':', lowercased; values kept.
      bool in_name = true;
      for (auto& c : s) {
        if (c == '\n') {
          in_name = true;
        } else if (c == ':') {
          in_name = false;
        } else if (in_name) {
          c = static_cast<char>(lower(static_cast<uint8_t>(c)));
        }
      }
      break;
    }
  }
}

}  // namespace

// ---- FlowBits -------------------------------------------------------------

bool FlowBits::test(uint32_t id) const {
  const uint32_t w = id / 64, b = id % 64;
  if (w < inline_.size()) return (inline_[w] >> b) & 1;
  const size_t m = w - inline_.size();
  return m < more_.size() && ((more_[m] >> b) & 1);
}

void FlowBits::set(uint32_t id) {
  const uint32_t w = id / 64, b = id % 64;
  if (w < inline_.size()) {
    inline_[w] |= uint64_t{1} << b;
    return;
  }
  const size_t m = w - inline_.size();
  if (m >= more_.size()) more_.resize(m + 1, 0);
  more_[m] |= uint64_t{1} << b;
}

void FlowBits::unset(uint32_t id) {
  const uint32_t w = id / 64, b = id % 64;
  if (w < inline_.size()) {
    inline_[w] &= ~(uint64_t{1} << b);
    return;
  }
  const size_t m = w - inline_.size();
  if (m < more_.size()) more_[m] &= ~(uint64_t{1} << b);
}

void FlowBits::toggle(uint32_t id) {
  if (test(id)) {
    unset(id);
  } else {
    set(id);
  }
}

void FlowBits::clear() {
  inline_ = {};
  std::fill(more_.begin(), more_.end(), 0);
  for (auto& p : pending_) p.clear();
  full_ = {true, true};
  head_id_ = {};
  for (auto& c : head_cands_) c.clear();
}

bool FlowBits::empty() const {
  return std::all_of(inline_.begin(), inline_.end(), [](uint64_t w) { return w == 0; }) &&
         std::all_of(more_.begin(), more_.end(), [](uint64_t w) { return w == 0; });
}

// ---- compiled rules -------------------------------------------------------

struct Step {
  const Detect* d = nullptr;
  pcre2_code* re = nullptr;
  bool retry = false;  // a later occurrence may satisfy the next, relative, step
};

struct CList {
  const BufferInspect* bi = nullptr;
  std::vector<Step> steps;
  bool stream = false;  // a payload list also tried on the stream view
};

struct FlowbitOp {
  Flowbit::Cmd cmd;
  bool any;
  std::vector<uint32_t> ids;
};

struct RuleSet::Compiled {
  std::vector<CList> lists;
  std::vector<FlowbitOp> checks, changes;
};

namespace {

// What one confirmation walks: one buffer view and the steps on it.
struct Walk {
  std::string_view buf;
  const std::vector<Step>* steps;
  size_t min_end = 0;  // stream view: the last match must end in the new bytes
  bool stream = false;
  int budget = kStepBudget;
  pcre2_match_data* md;
  pcre2_match_context* mctx;
  // the last content (or pcre) match of the successful walk
  size_t out_off = 0, out_len = 0;
  bool out_set = false;
};

bool run(Walk& w, size_t i, size_t cursor, size_t lo, size_t ll, bool lset) {
  if (--w.budget < 0) return false;
  const auto& steps = *w.steps;
  if (i == steps.size()) {
    if (w.stream && (!lset || lo + ll <= w.min_end)) return false;  // none of it new
    w.out_off = lo;
    w.out_len = ll;
    w.out_set = lset;
    return true;
  }
  const Step& st = steps[i];
  const bool retry = st.retry || w.stream;
  const auto len = static_cast<int64_t>(w.buf.size());
  if (const auto* c = std::get_if<Content>(st.d)) {
    int64_t start = 0, end = len;
    if (c->startswith) {
      end = static_cast<int64_t>(c->bytes.size());
    } else if (c->relative()) {
      const int64_t s = static_cast<int64_t>(cursor) + c->distance.value_or(0);
      if (c->within) end = std::min<int64_t>(len, s + *c->within);
      start = std::max<int64_t>(0, s);
    } else {
      start = c->offset.value_or(0);
      if (c->depth) end = std::min<int64_t>(len, start + *c->depth);
    }
    const auto plen = static_cast<int64_t>(c->bytes.size());
    if (c->endswith) start = std::max(start, len - plen);
    if (start > len || end < start) {
      return c->negated ? run(w, i + 1, cursor, lo, ll, lset) : false;
    }
    size_t pos = static_cast<size_t>(start);
    for (;;) {
      const size_t p = find_in(w.buf, c->bytes, c->nocase, pos, static_cast<size_t>(end));
      const bool found =
          p != std::string_view::npos && (!c->endswith || p + c->bytes.size() == w.buf.size());
      if (c->negated) return found ? false : run(w, i + 1, cursor, lo, ll, lset);
      if (!found) return false;
      if (run(w, i + 1, p + c->bytes.size(), p, c->bytes.size(), true)) return true;
      if (!retry || w.budget < 0) return false;
      pos = p + 1;
    }
  }
  if (const auto* pc = std::get_if<Pcre>(st.d)) {
    const size_t base = pc->relative ? std::min(cursor, w.buf.size()) : 0;
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(w.buf.data() + base);
    const size_t slen = w.buf.size() - base;
    size_t from = 0;
    for (;;) {
      if (from > slen) return pc->negated ? run(w, i + 1, cursor, lo, ll, lset) : false;
      const int rc = pcre2_match(st.re, subject, slen, from, 0, w.md, w.mctx);
      if (pc->negated) return rc >= 0 ? false : run(w, i + 1, cursor, lo, ll, lset);
      if (rc < 0) return false;  // no match, or a limit reached: no match either
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(w.md);
      const size_t ms = ov[0], me = ov[1];
      if (me < ms) return false;  // \K games: not a position to continue from
      if (run(w, i + 1, base + me, base + ms, me - ms, true)) return true;
      if (!retry || w.budget < 0) return false;
      from = ms + 1;
    }
  }
  if (const auto* t = std::get_if<ByteTest>(st.d)) {
    const int64_t pos = (t->relative ? static_cast<int64_t>(cursor) : 0) + t->offset;
    uint64_t v = 0;
    if (!read_value(w.buf, pos, *t, v) || !byte_test(*t, v)) return false;
    return run(w, i + 1, cursor, lo, ll, lset);
  }
  if (const auto* j = std::get_if<ByteJump>(st.d)) {
    const int64_t pos = (j->relative ? static_cast<int64_t>(cursor) : 0) + j->offset;
    uint64_t v = 0;
    if (!read_value(w.buf, pos, *j, v)) return false;
    if (v > (uint64_t{1} << 40)) return false;  // far past any buffer
    v *= j->multiplier;
    if (j->align && (v % 4) != 0) v += 4 - (v % 4);
    int64_t to = j->from_beginning ? 0 : j->from_end ? len : pos + j->nbytes;
    to += static_cast<int64_t>(v) + j->post_offset;
    if (to < 0 || to > len) return false;
    return run(w, i + 1, static_cast<size_t>(to), lo, ll, lset);
  }
  if (const auto* d = std::get_if<IsDataAt>(st.d)) {
    // As Suricata: isdataat:N means a byte at N (N < size); relative, N
    // more bytes after the cursor (cursor + N <= size), so that
    // isdataat:!1,relative is "the match ends the buffer".
    const uint64_t at = (d->relative ? cursor : 0) + uint64_t{d->n};
    const bool there = d->relative ? at <= w.buf.size() : at < w.buf.size();
    if (there == d->negated) return false;
    return run(w, i + 1, cursor, lo, ll, lset);
  }
  return false;
}

bool header_matches(const Rule& r, const Packet& p) {
  switch (r.transport) {
    case Transport::any:
      break;
    case Transport::tcp:
      if (p.ip_proto != 6) return false;
      break;
    case Transport::udp:
      if (p.ip_proto != 17) return false;
      break;
    case Transport::icmp:
      if (p.ip_proto != 1 && p.ip_proto != 58) return false;
      break;
    case Transport::tcp_udp:
      if (p.ip_proto != 6 && p.ip_proto != 17) return false;
      break;
  }
  if (r.app != AppProto::unknown && p.app != r.app) return false;
  // The packet's own fields first: they cost a compare, and reject most
  // packets for the rules with no content (flags, flow direction).
  if (r.flow) {
    if (r.flow->to_server && !p.to_server) return false;
    if (r.flow->to_client && p.to_server) return false;
    if (r.flow->established && !p.established) return false;
    if (r.flow->not_established && p.established) return false;
  }
  if (r.flags && (p.ip_proto != 6 || !r.flags->matches(p.tcp_flags))) return false;
  const bool icmp = p.ip_proto == 1 || p.ip_proto == 58;
  if (r.itype && (!icmp || !r.itype->matches(p.icmp_type))) return false;
  if (r.icode && (!icmp || !r.icode->matches(p.icmp_code))) return false;
  const bool fwd = r.src.matches(p.family, p.src) && r.sport.matches(p.sport) &&
                   r.dst.matches(p.family, p.dst) && r.dport.matches(p.dport);
  if (fwd) return true;
  if (!r.bidirectional) return false;
  return r.src.matches(p.family, p.dst) && r.sport.matches(p.dport) &&
         r.dst.matches(p.family, p.src) && r.dport.matches(p.sport);
}

int hs_on_match(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  auto* s = static_cast<std::pair<std::vector<uint32_t>*, std::vector<uint8_t>*>*>(ctx);
  auto& marked = *s->second;
  if (id < marked.size() && !marked[id]) {
    marked[id] = 1;
    s->first->push_back(id);
  }
  return 0;
}

}  // namespace

// ---- RuleSet --------------------------------------------------------------

std::shared_ptr<const RuleSet> RuleSet::compile(std::vector<Rule> in) {
  std::shared_ptr<RuleSet> set(new RuleSet());
  set->id_ = ++g_set_ids;
  // Rules that only set flowbits go first, so a rule testing a bit sees it
  // set by a rule matching the same packet (Suricata orders them so too).
  std::stable_partition(in.begin(), in.end(), [](const Rule& r) {
    bool changes = false, checks = false;
    for (const auto& f : r.flowbits) {
      (f.cmd == Flowbit::Cmd::isset || f.cmd == Flowbit::Cmd::isnotset ? checks : changes) = true;
    }
    return changes && !checks;
  });
  // PCRE first: a rule with a pcre PCRE2 refuses is left out whole.
  std::vector<std::vector<pcre2_code*>> res;
  for (auto& r : in) {
    std::vector<pcre2_code*> codes;
    std::string error;
    for (const auto& l : r.buffers) {
      for (const auto& d : l.detects) {
        const auto* p = std::get_if<Pcre>(&d);
        if (!p) continue;
        int err = 0;
        PCRE2_SIZE at = 0;
        pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p->pattern.data()),
                                         p->pattern.size(), p->options, &err, &at, nullptr);
        if (!code) {
          PCRE2_UCHAR msg[256];
          pcre2_get_error_message(err, msg, sizeof msg);
          error = "pcre: " + std::string(reinterpret_cast<const char*>(msg)) + " at offset " +
                  std::to_string(at);
          break;
        }
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // without JIT it still matches, slower
        codes.push_back(code);
      }
      if (!error.empty()) break;
    }
    if (!error.empty()) {
      for (auto* c : codes) pcre2_code_free(c);
      set->refused_.push_back(
          Refusal{0, r.sid, "pcre", "sid " + std::to_string(r.sid) + ": " + error});
      r.sid = 0;  // marks it left out
      continue;
    }
    res.push_back(std::move(codes));
  }
  std::erase_if(in, [](const Rule& r) { return r.sid == 0; });
  for (const auto& codes : res) set->pcres_.insert(set->pcres_.end(), codes.begin(), codes.end());
  set->rules_ = std::move(in);

  // The rules, compiled: their steps, flowbit ids, and one prefilter literal.
  struct Lit {
    std::string bytes;
    unsigned flags;
    unsigned id;
  };
  std::array<std::vector<Lit>, kBufferCount> lits;
  set->compiled_.resize(set->rules_.size());
  for (size_t ri = 0; ri < set->rules_.size(); ++ri) {
    const Rule& r = set->rules_[ri];
    auto& c = set->compiled_[ri];
    size_t next_re = 0;
    const Content* best = nullptr;
    const BufferInspect* best_list = nullptr;
    for (const auto& l : r.buffers) {
      CList cl;
      cl.bi = &l;
      bool absolute = false;
      for (size_t k = 0; k < l.detects.size(); ++k) {
        Step st;
        st.d = &l.detects[k];
        if (std::holds_alternative<Pcre>(l.detects[k])) {
          st.re = res[ri][next_re++];
        }
        st.retry = k + 1 < l.detects.size() && is_relative(l.detects[k + 1]);
        absolute = absolute || is_absolute(l.detects[k]);
        cl.steps.push_back(st);
        if (const auto* ct = std::get_if<Content>(&l.detects[k]); ct && !ct->negated) {
          const bool better =
              !best || (ct->fast_pattern && !best->fast_pattern) ||
              (ct->fast_pattern == best->fast_pattern && ct->bytes.size() > best->bytes.size());
          if (better) {
            best = ct;
            best_list = &l;
          }
        }
      }
      cl.stream = l.buffer == Buffer::payload && !absolute && !r.dsize &&
                  !(r.flow && r.flow->no_stream) &&
                  (r.transport == Transport::tcp || r.transport == Transport::any ||
                   r.transport == Transport::tcp_udp);
      c.lists.push_back(std::move(cl));
    }
    for (const auto& f : r.flowbits) {
      FlowbitOp op{f.cmd, f.any, {}};
      for (const auto& n : f.names) {
        const auto [it, _] =
            set->flowbit_ids_.emplace(n, static_cast<uint32_t>(set->flowbit_ids_.size()));
        op.ids.push_back(it->second);
      }
      (f.cmd == Flowbit::Cmd::isset || f.cmd == Flowbit::Cmd::isnotset ? c.checks : c.changes)
          .push_back(std::move(op));
    }
    if (!best) {
      set->always_.push_back(static_cast<uint32_t>(ri));
      continue;
    }
    std::string_view bytes = best->bytes;
    if (best->fp_offset && best->fp_length)
      bytes = bytes.substr(*best->fp_offset, *best->fp_length);
    // A transformed buffer is scanned untransformed: a caseless literal
    // still finds every place the transformed one could match.
    const bool caseless = best->nocase || !best_list->transforms.empty();
    if (best_list->buffer == Buffer::payload)
      set->max_payload_literal_ = std::max(set->max_payload_literal_, bytes.size());
    // HS_FLAG_SINGLEMATCH (report a literal once a scan) except for a
    // one-byte literal: Vectorscan 5.4.9 (Debian 12) with it misses a lone
    // one-byte literal at offsets 64 and on of a block longer than 64 bytes
    // (found by fuzz_ids_app_layer; IdsMatcher.AOneByteLiteralIsFoundPast64).
    const unsigned once = bytes.size() > 1 ? HS_FLAG_SINGLEMATCH : 0u;
    lits[static_cast<size_t>(best_list->buffer)].push_back(Lit{
        std::string(bytes), once | (caseless ? HS_FLAG_CASELESS : 0u), static_cast<unsigned>(ri)});
  }
  // The unfiltered rules each packet header could pass (header_matches'
  // transport and flags checks, the rest left to confirm()).
  for (const uint32_t id : set->always_) {
    const Rule& r = set->rules_[id];
    for (size_t slot = 0; slot < kAlwaysSlots; ++slot) {
      const uint8_t proto = slot < 256 ? 6 : slot == 256 ? 17 : slot == 257 ? 1 : 0;
      const bool transport = r.transport == Transport::any ||
                             (r.transport == Transport::tcp && proto == 6) ||
                             (r.transport == Transport::udp && proto == 17) ||
                             (r.transport == Transport::icmp && proto == 1) ||
                             (r.transport == Transport::tcp_udp && (proto == 6 || proto == 17));
      const bool flags = !r.flags || (proto == 6 && r.flags->matches(static_cast<uint8_t>(slot)));
      if (transport && flags) set->always_by_[slot].push_back(id);
    }
  }
  // One more database of every head buffer's literals, to scan an HTTP
  // head with once (Inspection::heads).
  std::vector<Lit> head_lits;
  for (size_t b = 0; b < kBufferCount; ++b) {
    if (head_text_buffers().test(b))
      head_lits.insert(head_lits.end(), lits[b].begin(), lits[b].end());
  }
  for (size_t b = 0; b <= kBufferCount; ++b) {
    const auto& v = b < kBufferCount ? lits[b] : head_lits;
    hs_database_t*& out = b < kBufferCount ? set->db_[b] : set->head_db_;
    if (v.empty()) continue;
    // Every byte escaped: a literal as a regex. (Vectorscan 5.4's pure
    // literal API, hs_compile_lit_multi, refuses literals with a NUL byte.)
    std::vector<std::string> pats;
    std::vector<const char*> exprs;
    std::vector<unsigned> flags, ids;
    for (const auto& l : v) {
      std::string p;
      for (unsigned char ch : l.bytes) {
        if (std::isalnum(ch)) {
          p += static_cast<char>(ch);
        } else {
          static constexpr char kHex[] = "0123456789abcdef";
          p += "\\x";
          p += kHex[ch >> 4];
          p += kHex[ch & 15];
        }
      }
      pats.push_back(std::move(p));
      flags.push_back(l.flags);
      ids.push_back(l.id);
    }
    for (const auto& p : pats) exprs.push_back(p.c_str());
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(v.size()),
                         HS_MODE_BLOCK, nullptr, &out, &err) != HS_SUCCESS) {
      const std::string msg = err && err->message ? err->message : "unknown error";
      hs_free_compile_error(err);
      const std::string what =
          b < kBufferCount ? std::string(buffer_name(Buffer(b))) : std::string("HTTP heads");
      throw std::runtime_error("vectorscan: buffer " + what + ": " + msg);
    }
    if (b < kBufferCount) set->with_db_.set(b);
    if (hs_alloc_scratch(out, &set->proto_) != HS_SUCCESS) {
      throw std::runtime_error("vectorscan: cannot allocate scratch");
    }
  }
  return set;
}

RuleSet::~RuleSet() {
  for (auto* db : db_) {
    if (db) hs_free_database(db);
  }
  if (head_db_) hs_free_database(head_db_);
  if (proto_) hs_free_scratch(proto_);
  for (auto* p : pcres_) pcre2_code_free(p);
}

bool RuleSet::confirm(uint32_t index, const Inspection& in, FlowBits& flow, Scratch& s,
                      Match& m) const {
  const Rule& r = rules_[index];
  const Compiled& c = compiled_[index];
  if (!header_matches(r, in.pkt)) return false;
  if (r.dsize && !r.dsize->matches(in.dsize)) return false;
  if (r.urilen) {
    const Buffer b = r.urilen_raw ? Buffer::http_uri_raw : Buffer::http_uri;
    if (!in.has(b) || !r.urilen->matches(in.get(b).size())) return false;
  }
  for (const auto& op : c.checks) {
    bool all = true, one = false;
    for (auto id : op.ids) {
      const bool set = flow.test(id);
      all = all && set;
      one = one || set;
    }
    // isset a&b: all set, a|b: one set; isnotset a&b: none set, a|b: one not set
    const bool is = op.any ? one : all;
    if (op.cmd == Flowbit::Cmd::isset && !is) return false;
    if (op.cmd == Flowbit::Cmd::isnotset && (op.any ? all : one)) return false;
  }
  m = Match{index, &r, Buffer::payload, false, 0, 0};
  Walk w{};
  w.md = s.md_;
  w.mctx = s.mctx_;
  for (const auto& l : c.lists) {
    const BufferInspect& bi = *l.bi;
    const bool only_stream = r.flow && r.flow->only_stream;
    // The views this list is tried on, in order: for the request headers
    // each header, else the buffer; then, for a stream payload list, the stream.
    size_t nviews = 0;
    const std::string_view* views = nullptr;
    std::string_view single;
    if (bi.buffer == Buffer::http_request_header && in.request_header_count > 0) {
      views = in.request_headers;
      nviews = in.request_header_count;
    } else if (in.has(bi.buffer) && !(only_stream && bi.buffer == Buffer::payload)) {
      single = in.get(bi.buffer);
      views = &single;
      nviews = 1;
    }
    const bool try_stream = l.stream && !in.stream.empty() && in.stream_new <= in.stream.size();
    bool ok = false;
    for (size_t v = 0; v <= nviews && !ok; ++v) {
      const bool stream = v == nviews;
      if (stream && !try_stream) break;
      std::string_view view = stream ? in.stream : views[v];
      if (!bi.transforms.empty()) {
        s.transformed_.assign(view.data(), view.size());
        for (auto t : bi.transforms) apply(t, s.transformed_);
        view = s.transformed_;
      }
      if (bi.bsize && !bi.bsize->matches(view.size())) continue;
      w.buf = view;
      w.steps = &l.steps;
      w.stream = stream;
      w.min_end = stream ? in.stream_new : 0;
      w.budget = kStepBudget;
      w.out_set = false;
      if (!run(w, 0, 0, 0, 0, false)) continue;
      ok = true;
      if (w.out_set) {
        m.buffer = bi.buffer;
        m.in_stream = stream;
        // A header's offset counts in that header; the stream's in the stream.
        m.offset = static_cast<uint32_t>(w.out_off);
        m.length = static_cast<uint32_t>(w.out_len);
      }
    }
    if (!ok) return false;
  }
  for (const auto& op : c.changes) {
    for (auto id : op.ids) {
      switch (op.cmd) {
        case Flowbit::Cmd::set:
          flow.set(id);
          break;
        case Flowbit::Cmd::unset:
          flow.unset(id);
          break;
        case Flowbit::Cmd::toggle:
          flow.toggle(id);
          break;
        default:
          break;
      }
    }
  }
  return !r.noalert;
}

void RuleSet::match(const Inspection& in, FlowBits& flow, Scratch& s,
                    std::vector<Match>& out) const {
  out.clear();
  if (!s.serves(*this)) return;  // a scratch of another set: its ids mean other rules
  if (flow.set_id_ != id_) {
    flow.clear();
    flow.set_id_ = id_;
  }
  for (auto id : s.candidates_) s.marked_[id] = 0;
  s.candidates_.clear();
  std::pair<std::vector<uint32_t>*, std::vector<uint8_t>*> ctx{&s.candidates_, &s.marked_};
  auto scan = [&](hs_database_t* db, std::string_view v) {
    if (v.empty()) return;
    hs_scan(db, v.data(), static_cast<unsigned>(std::min<size_t>(v.size(), UINT32_MAX)), 0, s.hs_,
            hs_on_match, &ctx);
  };
  // An HTTP transaction's later milestones hold its heads' buffers again:
  // the candidates they made at the head's first milestone are taken
  // instead of scanning them once more. The buffers go in three phases:
  // the request head's, the response head's (http.header and the others
  // both heads have are the head of the inspection's own direction), the
  // rest; a head's phase is recorded when it is new, reused after.
  const auto& req_head = request_head_buffers();
  const auto& resp_head = response_head_buffers();
  std::array<std::bitset<kBufferCount>, 3> phases;
  phases[0] = in.pkt.to_server ? req_head : req_head & ~resp_head;
  phases[1] = resp_head & ~phases[0];
  phases[2] = ~(phases[0] | phases[1]);
  std::array<bool, 2> reuse{}, record{};
  if (in.request_id != 0) {
    for (size_t k = 0; k < 2; ++k) {
      reuse[k] = flow.head_id_[k] == in.request_id;
      record[k] = !reuse[k] && (in.present & phases[k]).any() &&
                  (in.repeated & in.present & phases[k]).none();
    }
  }
  // Where each head was scanned (its phase, + 1): a phase records only the
  // candidates found in it.
  std::array<uint8_t, 2> heads_scanned{};
  auto scan_buffer = [&](size_t b, size_t phase) {
    hs_database_t* db = db_[b];
    const auto buffer = static_cast<Buffer>(b);
    if (head_db_ && head_text_buffers().test(b)) {
      // A buffer whose bytes lie in a head is found by scanning the head
      // once for every head buffer's literals (Inspection::heads).
      const std::string_view v =
          buffer == Buffer::http_request_header ? in.request_headers_text : in.buffer[b];
      bool covered = false;
      for (size_t h = 0; h < in.heads.size() && !covered; ++h) {
        const auto t0 = reinterpret_cast<uintptr_t>(in.heads[h].data());
        const auto p = reinterpret_cast<uintptr_t>(v.data());
        if (v.empty() || p < t0 || p + v.size() > t0 + in.heads[h].size()) continue;
        covered = true;
        if (!heads_scanned[h]) {
          scan(head_db_, in.heads[h]);
          heads_scanned[h] = static_cast<uint8_t>(phase + 1);
        } else if (heads_scanned[h] != phase + 1 && phase < 2) {
          record[phase] = false;  // (its candidates were another phase's)
        }
      }
      if (covered) return;
    }
    if (buffer == Buffer::http_request_header && in.request_header_count > 0) {
      // The prefilter only names candidates (confirm() checks each header
      // alone): one call over the text the headers lie in, when the
      // inspection has it, rather than one call a header; a literal across
      // two of them only makes a candidate that fails.
      if (!in.request_headers_text.empty()) {
        scan(db, in.request_headers_text);
      } else {
        for (size_t h = 0; h < in.request_header_count; ++h) scan(db, in.request_headers[h]);
      }
      return;
    }
    if (buffer == Buffer::payload && !in.stream.empty()) {
      // The stream ends with the payload: scanning it finds the payload's
      // literals too, unless the payload is not its tail. Only the new
      // bytes are scanned, with the longest literal's length of history
      // before them (every literal that ends in them); a literal wholly in
      // older bytes was found when they were new, and its rule is still a
      // candidate while they are in the view (FlowBits::pending_).
      const bool dir = in.pkt.to_server;
      auto& pending = flow.pending_[dir];
      std::erase_if(pending, [&](const FlowBits::Pending& p) { return p.until <= in.stream_at; });
      size_t from = 0;
      if (!flow.full_[dir] && in.stream_new <= in.stream.size() &&
          in.stream_new >= max_payload_literal_)
        from = in.stream_new - (max_payload_literal_ - 1);
      const size_t first = s.candidates_.size();
      scan(db, in.stream.substr(from));
      const uint64_t until = in.stream_at + in.stream.size();
      bool kept = true;
      for (size_t i = first; i < s.candidates_.size(); ++i) {
        const uint32_t id = s.candidates_[i];
        auto it = std::find_if(pending.begin(), pending.end(),
                               [&](const FlowBits::Pending& p) { return p.rule == id; });
        if (it != pending.end()) {
          it->until = until;
        } else if (pending.size() < FlowBits::kMaxPending) {
          pending.push_back({id, until});
        } else {
          kept = false;  // the next packet scans the whole view again
        }
      }
      flow.full_[dir] = !kept;
      for (const auto& p : pending) {
        if (!s.marked_[p.rule]) {
          s.marked_[p.rule] = 1;
          s.candidates_.push_back(p.rule);
        }
      }
      const auto p = in.get(Buffer::payload);
      const bool tail =
          in.payload_ends_stream ||
          (in.has(Buffer::payload) && p.size() <= in.stream.size() &&
           std::memcmp(in.stream.data() + in.stream.size() - p.size(), p.data(), p.size()) == 0);
      if (in.has(Buffer::payload) && !tail) scan(db, p);
      return;
    }
    if (in.has(buffer)) scan(db, in.get(buffer));
  };
  std::bitset<kBufferCount> todo = in.present;
  if (!in.stream.empty()) todo.set(static_cast<size_t>(Buffer::payload));
  if (in.request_header_count > 0) todo.set(static_cast<size_t>(Buffer::http_request_header));
  todo &= with_db_;
  for (size_t phase = 0; phase < 3; ++phase) {
    std::bitset<kBufferCount> bits = todo & phases[phase];
    if (phase < 2 && reuse[phase]) bits &= ~in.repeated;
    const size_t from = s.candidates_.size();
    for (size_t b = bits._Find_first(); b < kBufferCount; b = bits._Find_next(b))
      scan_buffer(b, phase);
    if (phase < 2 && record[phase]) {
      if (s.candidates_.size() - from <= FlowBits::kMaxPending) {
        flow.head_cands_[phase].assign(s.candidates_.begin() + static_cast<ptrdiff_t>(from),
                                       s.candidates_.end());
        flow.head_id_[phase] = in.request_id;
      } else {
        flow.head_id_[phase] = 0;
      }
    }
  }
  const size_t slot = in.pkt.ip_proto == 6                              ? in.pkt.tcp_flags
                      : in.pkt.ip_proto == 17                           ? 256
                      : (in.pkt.ip_proto == 1 || in.pkt.ip_proto == 58) ? 257
                                                                        : 258;
  for (size_t k = 0; k < 2; ++k) {
    if (!reuse[k]) continue;
    for (auto id : flow.head_cands_[k]) {
      if (!s.marked_[id]) {
        s.marked_[id] = 1;
        s.candidates_.push_back(id);
      }
    }
  }
  if (!in.milestone) {  // (rules without a buffer are the packet's own)
    for (auto id : always_by_[slot]) {
      if (!s.marked_[id]) {
        s.marked_[id] = 1;
        s.candidates_.push_back(id);
      }
    }
  }
  std::sort(s.candidates_.begin(), s.candidates_.end());
  Match m;
  for (auto id : s.candidates_) {
    if (confirm(id, in, flow, s, m)) out.push_back(m);
  }
}

// ---- Scratch --------------------------------------------------------------

Scratch::Scratch(const RuleSet& set) : set_(&set) {
  if (set.proto_ && hs_clone_scratch(set.proto_, &hs_) != HS_SUCCESS) {
    throw std::runtime_error("vectorscan: cannot clone scratch");
  }
  md_ = pcre2_match_data_create(16, nullptr);
  mctx_ = pcre2_match_context_create(nullptr);
  if (!md_ || !mctx_) throw std::runtime_error("pcre2: cannot allocate match data");
  pcre2_set_match_limit(mctx_, kPcreMatchLimit);
  pcre2_set_depth_limit(mctx_, kPcreDepthLimit);
  candidates_.reserve(set.rules().size());
  marked_.assign(set.rules().size(), 0);
}

Scratch::~Scratch() {
  if (hs_) hs_free_scratch(hs_);
  if (md_) pcre2_match_data_free(md_);
  if (mctx_) pcre2_match_context_free(mctx_);
}

// ---- Thresholds -----------------------------------------------------------

Thresholds::Thresholds(size_t max_keys) : max_(std::max<size_t>(1, max_keys)) {}

size_t Thresholds::KeyHash::operator()(const Key& k) const {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  mix(&k.gid, sizeof k.gid);
  mix(&k.sid, sizeof k.sid);
  mix(&k.family, 1);
  mix(&k.track, 1);
  mix(k.a.data(), k.a.size());
  mix(k.b.data(), k.b.size());
  return static_cast<size_t>(h);
}

bool Thresholds::allow(const Rule& rule, const Packet& pkt, Clock::time_point now) {
  if (!rule.threshold) return true;
  const Threshold& t = *rule.threshold;
  Key key;
  key.gid = rule.gid;
  key.sid = rule.sid;
  key.track = static_cast<uint8_t>(t.track);
  switch (t.track) {
    case Threshold::Track::by_src:
      key.family = pkt.family;
      key.a = pkt.src;
      break;
    case Threshold::Track::by_dst:
      key.family = pkt.family;
      key.a = pkt.dst;
      break;
    case Threshold::Track::by_both:
      key.family = pkt.family;
      key.a = pkt.src;
      key.b = pkt.dst;
      break;
    case Threshold::Track::by_rule:
      break;
  }
  const auto window = std::chrono::seconds(t.seconds);
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    if (index_.size() >= max_) {
      index_.erase(lru_.back().key);
      lru_.pop_back();
    }
    lru_.push_front(Entry{key, now, 0});
    it = index_.emplace(key, lru_.begin()).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second);
  }
  Entry& e = *it->second;
  if (now - e.start > window || now < e.start) {
    e.start = now;  // a new window
    e.count = 0;
  }
  ++e.count;
  switch (t.type) {
    case Threshold::Type::limit:
      return e.count <= t.count;
    case Threshold::Type::threshold:
      if (e.count >= t.count) {
        e.count = 0;  // the next `count` within the window alert again
        return true;
      }
      return false;
    case Threshold::Type::both:
      return e.count == t.count;
    case Threshold::Type::detection_filter:
      return e.count > t.count;
  }
  return true;
}

size_t Thresholds::size() const {
  std::lock_guard lock(mu_);
  return index_.size();
}

}  // namespace rampart::ids

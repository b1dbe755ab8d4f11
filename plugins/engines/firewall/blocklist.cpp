// SPDX-License-Identifier: Apache-2.0
#include "blocklist.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <tuple>

namespace rampart::firewall {
namespace {

uint32_t v4_of(const Cidr& c) {
  return uint32_t{c.addr[0]} << 24 | uint32_t{c.addr[1]} << 16 | uint32_t{c.addr[2]} << 8 |
         c.addr[3];
}

// DIR-24-8 while building: per /24, 0 (not listed), 1 (listed), or
// 2 + index of its 256-bit group.
struct Dir24 {
  std::vector<uint32_t> tbl24 = std::vector<uint32_t>(1u << 24, 0);
  std::vector<uint64_t> groups;

  void add(const Cidr& c) {
    const uint32_t a = v4_of(c);
    if (c.prefix_len <= 24) {
      // Whole /24s. Shorter prefixes come first (the caller sorts), so no
      // group exists yet inside the range.
      std::fill_n(tbl24.begin() + (a >> 8), 1u << (24 - c.prefix_len), 1u);
      return;
    }
    uint32_t& e = tbl24[a >> 8];
    if (e == 1) return;  // a shorter prefix covers it
    if (e == 0) {
      e = 2 + static_cast<uint32_t>(groups.size() / 4);
      groups.resize(groups.size() + 4, 0);
    }
    uint64_t* g = &groups[(e - 2) * 4];
    const uint32_t lo = a & 0xff, n = 1u << (32 - c.prefix_len);
    for (uint32_t h = lo; h < lo + n; ++h) g[h >> 6] |= 1ull << (h & 63);
  }

  // The kernel's layout: after the empty block, each l1 entry's block in
  // address order, in a size class with room for its groups.
  void compact(CompiledBlocklist& bl) const;
};

constexpr unsigned kHead = RAMPART_FW_BLOCK4_HEAD, kGroup = RAMPART_FW_BLOCK4_GROUP;

// Size classes: room for 0, 1, 2, 4 .. 64 groups.
uint32_t room_of(unsigned cls) { return cls ? 1u << (cls - 1) : 0; }
unsigned class_for(uint32_t groups) {
  unsigned c = 0;
  while (room_of(c) < groups) ++c;
  return c;
}
size_t words_of(unsigned cls) { return kHead + size_t{room_of(cls)} * kGroup; }

void Dir24::compact(CompiledBlocklist& bl) const {
  bl.any.assign(RAMPART_FW_BLOCK4_L1, 0);
  bl.l1.assign(RAMPART_FW_BLOCK4_L1, rampart_fw_block4_l1{});
  bl.tbl8.assign(kHead, 0);  // the empty block
  bl.tbl8.reserve(kHead + groups.size() + groups.size() / 2);
  for (uint32_t i = 0; i < RAMPART_FW_BLOCK4_L1; ++i) {
    uint64_t listed = 0, grouped = 0;
    for (uint32_t bit = 0; bit < 64; ++bit) {
      const uint32_t v = tbl24[i << 6 | bit];
      if (v == 1) listed |= 1ull << bit;
      if (v >= 2) grouped |= 1ull << bit;
    }
    if (!(listed | grouped)) continue;
    bl.any[i] = listed | grouped;
    const size_t at = bl.tbl8.size();
    bl.l1[i] = {listed, static_cast<uint32_t>(at), 0};
    bl.tbl8.resize(at + words_of(class_for(static_cast<uint32_t>(__builtin_popcountll(grouped)))),
                   0);
    bl.tbl8[at] = listed;
    bl.tbl8[at + 1] = grouped;
    uint64_t* to = &bl.tbl8[at + kHead];
    for (uint64_t g = grouped; g; g &= g - 1, to += kGroup) {
      const uint32_t v = tbl24[i << 6 | static_cast<uint32_t>(__builtin_ctzll(g))];
      std::copy_n(&groups[(v - 2) * 4], kGroup, to);
    }
  }
}

rampart_fw_lpm6_key v6_key(const uint8_t* addr, unsigned len) {
  rampart_fw_lpm6_key k{};
  k.prefixlen = len;
  for (unsigned bit = 0; bit < len; bit += 8) {
    const unsigned keep = std::min(8u, len - bit);
    k.addr[bit / 8] = addr[bit / 8] & static_cast<uint8_t>(0xff00 >> keep);
  }
  return k;
}

bool key_less(const rampart_fw_lpm6_key& a, const rampart_fw_lpm6_key& b) {
  return std::memcmp(&a, &b, sizeof a) < 0;
}

// Room to grow into: the tables' size changes (a program load) once in
// many writes, not at each.
size_t tbl8_room(size_t words) {
  const size_t want = std::max<size_t>(4096, words + words / 4);
  return (want + 4095) / 4096 * 4096;
}

size_t v6_room(size_t keys) {
  size_t n = 64;
  while (n < keys) n *= 2;
  return n;
}

uint32_t v4_mask(unsigned len) { return len ? ~0u << (32 - len) : 0; }

uint64_t v4_key(uint32_t addr, unsigned len) { return uint64_t{addr & v4_mask(len)} << 8 | len; }

std::array<uint8_t, 20> v6_bytes(const rampart_fw_lpm6_key& k) {
  std::array<uint8_t, 20> b;
  static_assert(sizeof k == 20, "rampart_fw_lpm6_key is 20 bytes");
  std::memcpy(b.data(), &k, sizeof k);
  return b;
}

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

}  // namespace

void check_blocklist_size(size_t prefixes) {
  if (prefixes > RAMPART_FW_BLOCK_MAX_PREFIXES) {
    throw BlocklistError("blocklist has " + std::to_string(prefixes) + " prefixes; at most " +
                         std::to_string(RAMPART_FW_BLOCK_MAX_PREFIXES) + " are supported");
  }
}

CompiledBlocklist compile_blocklist(const std::vector<Cidr>& prefixes) {
  check_blocklist_size(prefixes.size());
  CompiledBlocklist bl;
  std::vector<Cidr> v4;
  for (const auto& c : prefixes) {
    if (c.family == 4) {
      v4.push_back(c);
    } else {
      bl.v6.push_back(v6_key(c.addr.data(), c.prefix_len));
    }
  }
  if (!v4.empty()) {
    bl.has_v4 = true;
    // Shorter first (Dir24::add relies on it); equal ones side by side.
    std::sort(v4.begin(), v4.end(), [](const Cidr& a, const Cidr& b) {
      return a.prefix_len != b.prefix_len ? a.prefix_len < b.prefix_len : a.addr < b.addr;
    });
    v4.erase(std::unique(v4.begin(), v4.end()), v4.end());
    Dir24 d;
    for (const auto& c : v4) d.add(c);
    d.compact(bl);
  }
  std::sort(bl.v6.begin(), bl.v6.end(), key_less);
  bl.v6.erase(
      std::unique(bl.v6.begin(), bl.v6.end(),
                  [](const auto& a, const auto& b) { return std::memcmp(&a, &b, sizeof a) == 0; }),
      bl.v6.end());
  for (const auto& k : bl.v6) bl.v6_lens.push_back(static_cast<uint8_t>(k.prefixlen));
  std::sort(bl.v6_lens.rbegin(), bl.v6_lens.rend());
  bl.v6_lens.erase(std::unique(bl.v6_lens.begin(), bl.v6_lens.end()), bl.v6_lens.end());
  bl.prefixes = v4.size() + bl.v6.size();
  bl.tbl8_capacity = bl.has_v4 ? tbl8_room(bl.tbl8.size()) : 0;
  bl.v6_capacity = bl.v6.empty() ? 0 : v6_room(bl.v6.size());
  return bl;
}

Blocklist::Blocklist(const std::vector<Cidr>& base) : t_(compile_blocklist(base)) {
  for (const auto& c : base) {
    if (c.family == 4) base4_.push_back(v4_key(v4_of(c), c.prefix_len));
  }
  std::sort(base4_.begin(), base4_.end());
  base4_.erase(std::unique(base4_.begin(), base4_.end()), base4_.end());
  if (t_.has_v4) {
    cls_.resize(RAMPART_FW_BLOCK4_L1);
    for (uint32_t i = 0; i < RAMPART_FW_BLOCK4_L1; ++i)
      cls_[i] = static_cast<uint8_t>(
          class_for(static_cast<uint32_t>(__builtin_popcountll(block4(t_, i).grouped))));
  }
  for (const auto& k : t_.v6) {
    v6count_[v6_bytes(k)] = 1;
    v6base_.insert(v6_bytes(k));
    ++v6_len_count_[k.prefixlen];
  }
}

namespace {

// Adds [off, off + len) to `r`, joined to the last range where they touch.
void mark(std::vector<std::pair<uint64_t, uint64_t>>& r, uint64_t off, uint64_t len) {
  if (!r.empty() && off >= r.back().first && off <= r.back().first + r.back().second) {
    r.back().second = std::max(r.back().second, off + len - r.back().first);
    return;
  }
  r.emplace_back(off, len);
}

}  // namespace

Block4 block4(const CompiledBlocklist& bl, uint32_t i) {
  Block4 b;
  if (!bl.has_v4) return b;
  const uint32_t at = bl.l1.at(i).block;
  b.listed = bl.tbl8.at(at);
  b.grouped = bl.tbl8.at(at + 1);
  b.groups = bl.tbl8.data() + at + kHead;
  return b;
}

void Blocklist::installed(uint64_t ticket) {
  fresh_.clear();
  if (letting_go_.empty()) return;
  retired_.push_back({ticket, std::move(letting_go_)});
  letting_go_.clear();
}

void Blocklist::add(const Cidr& c) {
  if (c.family == 4)
    add4(c);
  else
    add6(c);
}

void Blocklist::remove(const Cidr& c) {
  if (c.family == 4)
    remove4(c);
  else
    remove6(c);
}

bool Blocklist::present4(uint64_t key) const {
  return std::binary_search(base4_.begin(), base4_.end(), key) || extra4_.count(key) != 0;
}

template <class Fn>
void Blocklist::each4(uint64_t lo, uint64_t hi, Fn&& fn) const {
  for (auto it = std::lower_bound(base4_.begin(), base4_.end(), lo);
       it != base4_.end() && *it <= hi; ++it)
    fn(*it);
  for (auto it = extra4_.lower_bound(lo); it != extra4_.end() && it->first <= hi; ++it)
    fn(it->first);
}

// Whether a prefix shorter than `below_len` (at most /24) lists all of /24 t.
bool Blocklist::covered24(uint32_t t, unsigned below_len) const {
  for (unsigned len = 0; len < below_len && len <= 24; ++len) {
    if (present4(v4_key(t << 8, len))) return true;
  }
  return false;
}

// The addresses of /24 t that its /25-/32 prefixes list.
void Blocklist::long_bits(uint32_t t, uint64_t bits[4]) const {
  std::fill_n(bits, 4, 0);
  each4(uint64_t{t << 8} << 8, uint64_t{t << 8 | 0xff} << 8 | 32, [&](uint64_t k) {
    const unsigned len = k & 0xff;
    if (len <= 24) return;
    const uint32_t lo = static_cast<uint32_t>(k >> 8) & 0xff, n = 1u << (32 - len);
    for (uint32_t h = lo; h < lo + n; ++h) bits[h >> 6] |= 1ull << (h & 63);
  });
}

void Blocklist::load(uint32_t i, Entry& e) const {
  const Block4 b = block4(t_, i);
  e.listed = b.listed;
  e.grouped = b.grouped;
  const uint64_t* from = b.groups;
  for (uint64_t g = b.grouped; g; g &= g - 1, from += kGroup)
    std::copy_n(from, kGroup, e.g[__builtin_ctzll(g)]);
}

// l1 entry i as `e`: written into a block no packet reads (one written
// since the last install, else a free one), then pointed to.
void Blocklist::store(uint32_t i, const Entry& e) {
  const uint32_t old = t_.l1[i].block;
  const unsigned old_cls = cls_[i];
  uint32_t at = 0;
  if (e.listed | e.grouped) {
    const auto n = static_cast<uint32_t>(__builtin_popcountll(e.grouped));
    const unsigned cls = class_for(n);
    if (old && old_cls >= cls && fresh_.count(old)) {
      at = old;
    } else {
      at = alloc(cls);
      cls_[i] = static_cast<uint8_t>(cls);
    }
    t_.tbl8[at] = e.listed;
    t_.tbl8[at + 1] = e.grouped;
    uint64_t* to = &t_.tbl8[at + kHead];
    for (uint64_t g = e.grouped; g; g &= g - 1, to += kGroup)
      std::copy_n(e.g[__builtin_ctzll(g)], kGroup, to);
    mark(changes_.tbl8, uint64_t{at} * 8, (kHead + uint64_t{n} * kGroup) * 8);
  }
  if (old && old != at) let_go(old, old_cls);
  t_.l1[i] = {e.listed, at, 0};
  t_.any[i] = e.listed | e.grouped;
  mark(changes_.any, uint64_t{i} * sizeof(uint64_t), sizeof(uint64_t));
  mark(changes_.l1, uint64_t{i} * sizeof(rampart_fw_block4_l1), sizeof(rampart_fw_block4_l1));
}

// A block of size class `cls` no packet reads: a free one, else a new one
// at the end (the table's capacity grows past its room: a new shape).
uint32_t Blocklist::alloc(unsigned cls) {
  uint32_t at;
  if (!free_[cls].empty()) {
    at = free_[cls].back();
    free_[cls].pop_back();
  } else {
    at = static_cast<uint32_t>(t_.tbl8.size());
    t_.tbl8.resize(t_.tbl8.size() + words_of(cls), 0);
    if (t_.tbl8.size() > t_.tbl8_capacity) t_.tbl8_capacity = tbl8_room(t_.tbl8.size());
  }
  fresh_.insert(at);
  return at;
}

// A block no l1 entry points to any more: free at once if no packet ever
// read it, else once the next install's grace period has passed.
void Blocklist::let_go(uint32_t at, unsigned cls) {
  if (fresh_.erase(at)) {
    free_[cls].push_back(at);
    return;
  }
  letting_go_.emplace_back(at, static_cast<uint8_t>(cls));
}

// /24s first .. first+count-1 listed whole (their groups dropped) or not.
void Blocklist::set_listed(uint32_t first, uint32_t count, bool listed) {
  Entry e;
  for (uint32_t t = first; t < first + count;) {
    const uint32_t i = t >> 6, bit = t & 63, n = std::min(64 - bit, first + count - t);
    const uint64_t mask = n == 64 ? ~0ull : ((1ull << n) - 1) << bit;
    load(i, e);
    if (listed) {
      e.listed |= mask;
      e.grouped &= ~mask;
    } else {
      e.listed &= ~mask;
    }
    store(i, e);
    t += n;
  }
}

void Blocklist::set_group(uint32_t t, const uint64_t bits[4]) {
  Entry e;
  load(t >> 6, e);
  std::copy_n(bits, kGroup, e.g[t & 63]);
  e.grouped |= 1ull << (t & 63);
  store(t >> 6, e);
}

void Blocklist::drop_group(uint32_t t) {
  Entry e;
  load(t >> 6, e);
  if (!((e.grouped >> (t & 63)) & 1)) return;
  e.grouped &= ~(1ull << (t & 63));
  store(t >> 6, e);
}

void Blocklist::ensure_v4() {
  if (t_.has_v4) return;
  t_.has_v4 = true;
  t_.any.assign(RAMPART_FW_BLOCK4_L1, 0);
  t_.l1.assign(RAMPART_FW_BLOCK4_L1, rampart_fw_block4_l1{});
  t_.tbl8.assign(kHead, 0);
  cls_.assign(RAMPART_FW_BLOCK4_L1, 0);
  t_.tbl8_capacity = tbl8_room(t_.tbl8.size());
  changes_.all = true;  // new tables
}

void Blocklist::add4(const Cidr& c) {
  const uint32_t a = v4_of(c) & v4_mask(c.prefix_len);
  const uint64_t key = v4_key(a, c.prefix_len);
  if (present4(key)) {
    ++extra4_[key];
    return;
  }
  if (t_.prefixes >= RAMPART_FW_BLOCK_MAX_PREFIXES) {
    throw BlocklistError("the blocklist holds " + std::to_string(t_.prefixes) +
                         " prefixes, the most it can");
  }
  ensure_v4();
  ++extra4_[key];
  ++t_.prefixes;
  const uint32_t t = a >> 8;
  if (c.prefix_len <= 24) {
    set_listed(t, 1u << (24 - c.prefix_len), true);
    return;
  }
  if ((block4(t_, t >> 6).listed >> (t & 63)) & 1) return;  // a shorter prefix lists it all
  uint64_t bits[4];
  long_bits(t, bits);
  set_group(t, bits);
}

void Blocklist::remove4(const Cidr& c) {
  const uint32_t a = v4_of(c) & v4_mask(c.prefix_len);
  const uint64_t key = v4_key(a, c.prefix_len);
  const auto it = extra4_.find(key);
  if (it == extra4_.end()) {
    throw BlocklistError(format_cidr(c) + " was not added to the blocklist");
  }
  if (--it->second == 0) extra4_.erase(it);
  if (present4(key)) return;  // listed again (by the config or another entry)
  --t_.prefixes;
  const uint32_t t = a >> 8;
  if (c.prefix_len > 24) {
    if ((block4(t_, t >> 6).listed >> (t & 63)) & 1) return;
    uint64_t bits[4];
    long_bits(t, bits);
    if (bits[0] | bits[1] | bits[2] | bits[3])
      set_group(t, bits);
    else
      drop_group(t);
    return;
  }
  if (covered24(t, c.prefix_len)) return;  // a shorter prefix still lists it all
  const uint32_t count = 1u << (24 - c.prefix_len);
  set_listed(t, count, false);
  // What else lists parts of it: longer prefixes up to /24, then groups
  // for the /24s that /25-/32 prefixes list partly.
  const uint64_t lo = uint64_t{a} << 8, hi = uint64_t{a | ~v4_mask(c.prefix_len)} << 8 | 0xff;
  std::set<uint32_t> partly;
  each4(lo, hi, [&](uint64_t k) {
    const unsigned len = k & 0xff;
    const auto addr = static_cast<uint32_t>(k >> 8);
    if (len <= 24)
      set_listed(addr >> 8, 1u << (24 - len), true);
    else
      partly.insert(addr >> 8);
  });
  for (const uint32_t p : partly) {
    if ((block4(t_, p >> 6).listed >> (p & 63)) & 1) continue;
    uint64_t bits[4];
    long_bits(p, bits);
    set_group(p, bits);
  }
}

void Blocklist::rebuild_v6_lens() {
  t_.v6_lens.clear();
  for (int len = 128; len >= 0; --len) {
    if (v6_len_count_[len]) t_.v6_lens.push_back(static_cast<uint8_t>(len));
  }
}

void Blocklist::add6(const Cidr& c) {
  const rampart_fw_lpm6_key k = v6_key(c.addr.data(), c.prefix_len);
  uint32_t& n = v6count_[v6_bytes(k)];
  if (n == 0 && t_.prefixes >= RAMPART_FW_BLOCK_MAX_PREFIXES) {
    v6count_.erase(v6_bytes(k));
    throw BlocklistError("the blocklist holds " + std::to_string(t_.prefixes) +
                         " prefixes, the most it can");
  }
  if (n++ > 0) return;
  ++t_.prefixes;
  t_.v6.insert(std::lower_bound(t_.v6.begin(), t_.v6.end(), k, key_less), k);
  changes_.v6 = true;
  t_.v6_capacity = std::max(t_.v6_capacity, v6_room(t_.v6.size()));
  if (v6_len_count_[k.prefixlen]++ == 0) rebuild_v6_lens();
}

void Blocklist::remove6(const Cidr& c) {
  const rampart_fw_lpm6_key k = v6_key(c.addr.data(), c.prefix_len);
  const auto bytes = v6_bytes(k);
  const auto it = v6count_.find(bytes);
  if (it == v6count_.end() || it->second <= v6base_.count(bytes)) {
    throw BlocklistError(format_cidr(c) + " was not added to the blocklist");
  }
  if (--it->second > 0) return;
  v6count_.erase(it);
  --t_.prefixes;
  t_.v6.erase(std::lower_bound(t_.v6.begin(), t_.v6.end(), k, key_less));
  changes_.v6 = true;
  if (--v6_len_count_[k.prefixlen] == 0) rebuild_v6_lens();
}

bool blocklisted(const CompiledBlocklist& bl, uint8_t family, const uint8_t* addr) {
  if (family == 4) {
    if (!bl.has_v4) return false;
    const uint32_t a =
        uint32_t{addr[0]} << 24 | uint32_t{addr[1]} << 16 | uint32_t{addr[2]} << 8 | addr[3];
    const uint32_t bit = (a >> 8) & 63;
    if (!((bl.any[a >> 14] >> bit) & 1)) return false;
    const Block4 b = block4(bl, a >> 14);
    if ((b.listed >> bit) & 1) return true;
    if (!((b.grouped >> bit) & 1)) return false;
    const uint64_t below = bit ? b.grouped & (~0ull >> (64 - bit)) : 0;
    const uint64_t* g = b.groups + size_t(__builtin_popcountll(below)) * kGroup;
    const uint32_t h = a & 0xff;
    return (g[h >> 6] >> (h & 63)) & 1;
  }
  for (const uint8_t len : bl.v6_lens) {
    if (std::binary_search(bl.v6.begin(), bl.v6.end(), v6_key(addr, len), key_less)) return true;
  }
  return false;
}

std::vector<Cidr> parse_blocklist(std::istream& in, const std::string& name) {
  std::vector<Cidr> out;
  std::string line, error;
  for (size_t n = 1; std::getline(in, line); ++n) {
    std::string_view s = line;
    s = trim(s.substr(0, s.find('#')));
    if (s.empty()) continue;
    auto c = parse_cidr(s, error);
    if (!c) throw BlocklistError(name + ":" + std::to_string(n) + ": " + error);
    out.push_back(*c);
    if (out.size() > RAMPART_FW_BLOCK_MAX_PREFIXES) {
      throw BlocklistError(name + ":" + std::to_string(n) + ": more than " +
                           std::to_string(RAMPART_FW_BLOCK_MAX_PREFIXES) + " prefixes");
    }
  }
  if (in.bad()) throw BlocklistError(name + ": read error");
  return out;
}

std::vector<Cidr> read_blocklist_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw BlocklistError(path + ": cannot open: " + std::strerror(errno));
  return parse_blocklist(in, path);
}

}  // namespace rampart::firewall

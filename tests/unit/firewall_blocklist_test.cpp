// SPDX-License-Identifier: Apache-2.0
// The firewall's source blocklist without the kernel: the DIR-24-8 and
// per-length IPv6 tables answer exactly like testing every prefix, and
// blocklist files are read strictly, with errors naming file and line.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <sstream>

#include "blocklist.hpp"
#include "temp_dir.hpp"

// Where a vector of keys' == finds it (the struct's namespace).
static bool operator==(const rampart_fw_lpm6_key& a, const rampart_fw_lpm6_key& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

namespace {

using namespace rampart::firewall;

Cidr cidr(const std::string& s) {
  std::string err;
  auto c = parse_cidr(s, err);
  if (!c) throw std::runtime_error(err);
  return *c;
}

bool listed_by_scan(const std::vector<Cidr>& prefixes, const Cidr& host) {
  for (const auto& p : prefixes) {
    if (p.contains(host)) return true;
  }
  return false;
}

// A random prefix of `len` bits, host bits cleared.
Cidr random_prefix(std::mt19937& rng, uint8_t family, unsigned len) {
  Cidr c;
  c.family = family;
  c.prefix_len = static_cast<uint8_t>(len);
  const unsigned bytes = family == 4 ? 4 : 16;
  for (unsigned i = 0; i < bytes; ++i) c.addr[i] = static_cast<uint8_t>(rng());
  for (unsigned bit = len; bit < bytes * 8; ++bit) c.addr[bit / 8] &= ~(0x80 >> (bit % 8));
  return c;
}

// Groups (partly listed /24s) over every l1 entry's block.
size_t groups_in(const CompiledBlocklist& bl) {
  size_t n = 0;
  for (uint32_t i = 0; bl.has_v4 && i < RAMPART_FW_BLOCK4_L1; ++i)
    n += static_cast<size_t>(__builtin_popcountll(block4(bl, i).grouped));
  return n;
}

TEST(FirewallBlocklist, ListsExactlyThePrefixesGiven) {
  const std::vector<Cidr> list = {cidr("10.0.0.0/8"),      cidr("192.0.2.0/24"),
                                  cidr("198.51.100.7"),    cidr("198.51.100.128/25"),
                                  cidr("203.0.113.64/26"), cidr("2001:db8::/32"),
                                  cidr("2001:db9::1/128"), cidr("2001:dba:8000::/33")};
  const CompiledBlocklist bl = compile_blocklist(list);
  EXPECT_EQ(bl.prefixes, list.size());
  EXPECT_TRUE(bl.has_v4);
  EXPECT_EQ(bl.l1.size(), RAMPART_FW_BLOCK4_L1);
  EXPECT_EQ(groups_in(bl), 2u) << "one group for 198.51.100.x and one for 203.0.113.x";
  size_t any24 = 0;
  for (const uint64_t w : bl.any) any24 += static_cast<size_t>(__builtin_popcountll(w));
  EXPECT_EQ(any24, 65536u + 1 + 1 + 1) << "every /24 of 10/8, 192.0.2, 198.51.100, 203.0.113";
  EXPECT_EQ(bl.v6_lens, (std::vector<uint8_t>{128, 33, 32}));
  auto listed = [&](const char* a) {
    const Cidr h = cidr(a);
    return blocklisted(bl, h.family, h.addr.data());
  };
  for (const char* a : {"10.0.0.0", "10.255.255.255", "192.0.2.77", "198.51.100.7",
                        "198.51.100.128", "198.51.100.255", "203.0.113.64", "203.0.113.127",
                        "2001:db8::1", "2001:db8:ffff::", "2001:db9::1", "2001:dba:ffff::1"}) {
    EXPECT_TRUE(listed(a)) << a;
  }
  for (const char* a :
       {"9.255.255.255", "11.0.0.0", "192.0.3.0", "198.51.100.6", "198.51.100.8", "198.51.100.127",
        "203.0.113.63", "203.0.113.128", "2001:db7::1", "2001:db9::2", "2001:dba::1", "::"}) {
    EXPECT_FALSE(listed(a)) << a;
  }
}

TEST(FirewallBlocklist, EmptyAndIPv6OnlyListsNeedNoIPv4Table) {
  EXPECT_FALSE(compile_blocklist({}).has_v4);
  const CompiledBlocklist bl = compile_blocklist({cidr("2001:db8::/48")});
  EXPECT_FALSE(bl.has_v4);
  EXPECT_TRUE(bl.l1.empty() && bl.any.empty()) << "no IPv4 table for a list without IPv4 prefixes";
  const Cidr v4 = cidr("10.0.0.1");
  EXPECT_FALSE(blocklisted(bl, 4, v4.addr.data()));
}

TEST(FirewallBlocklist, DuplicatesAndNestedPrefixesCollapse) {
  const CompiledBlocklist bl =
      compile_blocklist({cidr("10.1.2.3"), cidr("10.1.2.3"), cidr("10.1.2.0/24"),
                         cidr("10.1.0.0/16"), cidr("2001:db8::/32"), cidr("2001:db8::/32")});
  EXPECT_EQ(bl.prefixes, 4u);
  EXPECT_EQ(groups_in(bl), 0u) << "a /32 inside a listed /24 needs no group";
  EXPECT_EQ(bl.v6.size(), 1u);
}

TEST(FirewallBlocklist, AgreesWithScanningEveryPrefixOnRandomLists) {
  std::mt19937 rng(20261127);
  for (int round = 0; round < 4; ++round) {
    std::vector<Cidr> list;
    for (int i = 0; i < 3000; ++i) {
      const uint8_t family = rng() % 4 == 0 ? 6 : 4;
      const unsigned len = family == 4 ? 8 + rng() % 25 : rng() % 129;
      list.push_back(random_prefix(rng, family, family == 6 && len < 16 ? 16 + len : len));
    }
    const CompiledBlocklist bl = compile_blocklist(list);
    for (int probe = 0; probe < 20000; ++probe) {
      // Half the probes fall inside a listed prefix, near its edges.
      Cidr h;
      if (probe % 2) {
        h = random_prefix(rng, rng() % 2 ? 4 : 6, 0);
        h = random_prefix(rng, h.family, h.family == 4 ? 32 : 128);
      } else {
        const Cidr& p = list[rng() % list.size()];
        h = random_prefix(rng, p.family, p.family == 4 ? 32 : 128);
        for (unsigned bit = 0; bit < p.prefix_len; ++bit) {
          const uint8_t m = 0x80 >> (bit % 8);
          h.addr[bit / 8] = (h.addr[bit / 8] & ~m) | (p.addr[bit / 8] & m);
        }
        if (rng() % 3 == 0 && p.prefix_len > 0) {  // just outside
          const unsigned bit = p.prefix_len - 1;
          h.addr[bit / 8] ^= 0x80 >> (bit % 8);
        }
      }
      ASSERT_EQ(blocklisted(bl, h.family, h.addr.data()), listed_by_scan(list, h))
          << format_cidr(h) << " round " << round;
    }
  }
}

// Whether two blocklists list the same things the same way: the same
// bits per /24 and the same addresses per group, wherever each keeps its
// groups, and the same IPv6 keys and lengths.
void expect_same_tables(const CompiledBlocklist& got, const CompiledBlocklist& want,
                        const std::string& when) {
  ASSERT_EQ(got.prefixes, want.prefixes) << when;
  ASSERT_TRUE(got.v6 == want.v6) << when;
  ASSERT_EQ(got.v6_lens, want.v6_lens) << when;
  ASSERT_GE(got.v6_capacity, got.v6.size()) << when;
  if (!want.has_v4) {
    for (const uint64_t w : got.any) ASSERT_EQ(w, 0u) << when;
    return;
  }
  ASSERT_TRUE(got.has_v4) << when;
  ASSERT_GE(got.tbl8_capacity, got.tbl8.size()) << when;
  ASSERT_TRUE(got.any == want.any) << when;
  for (uint32_t i = 0; i < RAMPART_FW_BLOCK4_L1; ++i) {
    const Block4 g = block4(got, i), w = block4(want, i);
    ASSERT_EQ(got.l1[i].listed, g.listed) << when << ", l1 entry " << i << ": entry and block";
    ASSERT_EQ(g.listed, w.listed) << when << ", l1 entry " << i;
    ASSERT_EQ(g.grouped, w.grouped) << when << ", l1 entry " << i;
    const size_t words = size_t(__builtin_popcountll(g.grouped)) * RAMPART_FW_BLOCK4_GROUP;
    ASSERT_TRUE(std::equal(g.groups, g.groups + words, w.groups)) << when << ", l1 entry " << i;
  }
}

// Prefixes that overlap each other: /8-/32 inside a few /16s and the /8s
// around them, so adds and removes shadow, uncover and split each other.
Cidr clustered_prefix(std::mt19937& rng) {
  static const char* const homes[] = {"10.1.0.0", "10.2.0.0", "172.16.0.0", "192.168.0.0"};
  if (rng() % 8 == 0) return random_prefix(rng, 6, 32 + rng() % 97);
  Cidr c = cidr(homes[rng() % 4]);
  const unsigned r = rng() % 100;
  const unsigned len = r < 3 ? 8 + rng() % 8 : r < 20 ? 16 + rng() % 9 : 25 + rng() % 8;
  c.prefix_len = static_cast<uint8_t>(len);
  const uint32_t bits = static_cast<uint32_t>(rng()) & 0xffff;  // inside the /16
  c.addr[2] = static_cast<uint8_t>(bits >> 8);
  c.addr[3] = static_cast<uint8_t>(bits);
  for (unsigned bit = len; bit < 32; ++bit) c.addr[bit / 8] &= ~(0x80 >> (bit % 8));
  return c;
}

// A clustered prefix added (`fresh`, else maybe one listed already), or
// one of those added removed; `added` is what remove() may take back.
void random_change(std::mt19937& rng, Blocklist& live, std::vector<Cidr>& added,
                   const std::vector<Cidr>& base) {
  if (added.empty() || rng() % 5 < 3) {
    // New prefixes, and again ones the config or the API already list.
    const Cidr c = rng() % 6 == 0                     ? base[rng() % base.size()]
                   : rng() % 6 == 0 && !added.empty() ? added[rng() % added.size()]
                                                      : clustered_prefix(rng);
    live.add(c);
    added.push_back(c);
  } else {
    const size_t at = rng() % added.size();
    live.remove(added[at]);
    added.erase(added.begin() + static_cast<std::ptrdiff_t>(at));
  }
}

TEST(FirewallBlocklist, IncrementalChangesListWhatCompilingTheResultLists) {
  std::mt19937 rng(20261130);
  std::vector<Cidr> base;
  for (int i = 0; i < 1500; ++i) base.push_back(clustered_prefix(rng));
  Blocklist live(base);
  expect_same_tables(live.tables(), compile_blocklist(base), "at the start");
  std::vector<Cidr> added;  // a multiset: what remove() may take back
  for (int op = 1; op <= 3000; ++op) {
    random_change(rng, live, added, base);
    if (op % 250 == 0) {
      std::vector<Cidr> all = base;
      all.insert(all.end(), added.begin(), added.end());
      expect_same_tables(live.tables(), compile_blocklist(all), "after op " + std::to_string(op));
      if (HasFatalFailure()) return;
    }
  }
  while (!added.empty()) {
    live.remove(added.back());
    added.pop_back();
  }
  expect_same_tables(live.tables(), compile_blocklist(base), "once all the API's are gone");
}

// A table as the kernel holds it: the values, then zeros to `capacity`.
template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v, size_t capacity) {
  std::vector<uint8_t> out(std::max(capacity, v.size()) * sizeof(T), 0);
  if (!v.empty()) std::memcpy(out.data(), v.data(), v.size() * sizeof(T));
  return out;
}

// `before` with the listed ranges copied from `after`: what a host that
// writes only there holds.
std::vector<uint8_t> patched(std::vector<uint8_t> before, const std::vector<uint8_t>& after,
                             const std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
  before.resize(after.size(), 0);
  for (const auto& [off, len] : ranges) {
    if (off >= after.size()) continue;
    const size_t n = std::min<size_t>(len, after.size() - off);
    std::memcpy(before.data() + off, after.data() + off, n);
  }
  return before;
}

TEST(FirewallBlocklist, ItsChangeListsCoverEveryByteThatChanged) {
  std::mt19937 rng(11);
  std::vector<Cidr> base;
  for (int i = 0; i < 1500; ++i) base.push_back(clustered_prefix(rng));
  Blocklist live(base);
  EXPECT_TRUE(live.changes().all) << "a new list: unknown to any host";
  std::vector<Cidr> added;
  for (int round = 0; round < 40; ++round) {
    live.clear_changes();
    const CompiledBlocklist before = live.tables();
    for (int op = 0; op < 1 + round % 7; ++op) random_change(rng, live, added, base);
    const auto& ch = live.changes();
    const CompiledBlocklist& after = live.tables();
    ASSERT_FALSE(ch.all);
    const size_t cap = after.tbl8_capacity;
    EXPECT_EQ(patched(bytes_of(before.any, 0), bytes_of(after.any, 0), ch.any),
              bytes_of(after.any, 0))
        << "round " << round;
    EXPECT_EQ(patched(bytes_of(before.l1, 0), bytes_of(after.l1, 0), ch.l1), bytes_of(after.l1, 0))
        << "round " << round;
    EXPECT_EQ(patched(bytes_of(before.tbl8, cap), bytes_of(after.tbl8, cap), ch.tbl8),
              bytes_of(after.tbl8, cap))
        << "round " << round;
    if (!(before.v6 == after.v6)) {
      EXPECT_TRUE(ch.v6) << "round " << round;
    }
    size_t listed = 0;
    for (const auto& r : ch.any) listed += r.second;
    EXPECT_LT(listed, after.any.size() * 8 / 10) << "changes, not the table";
  }
}

// The IPv4 tables as one kernel instance holds them, as 8-byte words,
// written the way the host writes a change in place: the listed ranges of
// fw_block4_tbl8, then fw_block4_l1, then fw_block4_any (image order), each
// range, element and word last first.
struct KernelImage {
  std::vector<uint64_t> any, l1, tbl8;
  static std::vector<uint64_t> words_of(const std::vector<rampart_fw_block4_l1>& l1) {
    std::vector<uint64_t> w(l1.size() * 2);
    std::memcpy(w.data(), l1.data(), w.size() * 8);
    return w;
  }
  explicit KernelImage(const CompiledBlocklist& t) : any(t.any), l1(words_of(t.l1)), tbl8(t.tbl8) {
    tbl8.resize(t.tbl8_capacity, 0);
  }
  // One store per word, in the host's order.
  std::vector<std::function<void()>> stores(const CompiledBlocklist& t,
                                            const Blocklist::Changes& ch) {
    std::vector<std::function<void()>> out;
    auto words = [&](std::vector<uint64_t>& dst, const std::vector<uint64_t>& src,
                     const std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
      for (auto r = ranges.rbegin(); r != ranges.rend(); ++r) {
        for (uint64_t e = (r->first + r->second) / 8; e-- > r->first / 8;) {
          if (e >= dst.size()) continue;
          const uint64_t v = e < src.size() ? src[e] : 0;
          out.push_back([&dst, e, v] { dst[e] = v; });
        }
      }
    };
    words(tbl8, t.tbl8, ch.tbl8);
    words(l1, words_of(t.l1), ch.l1);
    words(any, t.any, ch.any);
    return out;
  }
};

// A packet's lookup of its source, as fw_classify.h's block4_listed does
// it: the `any` word, the l1 entry's `listed`, its block's start, then the
// block, each read at a later moment than the one before.
struct Reader {
  uint32_t addr;
  size_t pool;                     // index into the addresses
  std::shared_ptr<KernelImage> k;  // the instance it runs in
  size_t from;                     // the last state installed when it began
  size_t block_at = 0;             // the last state installed when it read the block's start
  int stage = 0;                   // reads done
  uint32_t block = 0;
  bool verdict = false, done = false;
  void step(size_t installed) {
    const uint32_t bit = (addr >> 8) & 63, i = addr >> 14;
    if (stage == 0) {
      if (!((k->any[i] >> bit) & 1)) done = true;
    } else if (stage == 1) {
      if ((k->l1[2 * i] >> bit) & 1) verdict = done = true;
    } else if (stage == 2) {
      block = static_cast<uint32_t>(k->l1[2 * i + 1]);
      block_at = installed;
    } else {
      const uint64_t listed = k->tbl8.at(block), grouped = k->tbl8.at(block + 1);
      if (!((grouped >> bit) & 1)) {
        verdict = (listed >> bit) & 1;
      } else {
        const uint64_t below = bit ? grouped & (~0ull >> (64 - bit)) : 0;
        const uint64_t w =
            k->tbl8.at(block + RAMPART_FW_BLOCK4_HEAD + size_t(__builtin_popcountll(below)) * 4 +
                       ((addr & 0xff) >> 6));
        verdict = (w >> (addr & 63)) & 1;
      }
      done = true;
    }
    ++stage;
  }
};

TEST(FirewallBlocklist, WrittenInPlaceEveryPacketFindsItsSourceAsBeforeOrAsAfter) {
  // Packets in flight while prefixes are added and removed and the host
  // writes each install into the live tables; some take many installs to
  // finish (a grace period is as long as the slowest). A packet whose
  // source is listed (or not) in every state installed while it ran must
  // be judged so: a block reused before its grace period, or an entry
  // written before its block, judges it by neither.
  std::mt19937 rng(20261201);
  std::vector<Cidr> base;
  // Prefixes in four /16s (16 l1 entries), none shadowing a whole /16:
  // their blocks change at nearly every install.
  auto hot = [&] {
    Cidr c = clustered_prefix(rng);
    while (c.family != 4 || c.prefix_len < 23) c = clustered_prefix(rng);
    return c;
  };
  for (int i = 0; i < 600; ++i) base.push_back(hot());
  Blocklist live(base);
  live.clear_changes();
  auto k = std::make_shared<KernelImage>(live.tables());
  std::vector<uint32_t> addrs;  // sources: in the clustered /16s, and their /8s
  for (int i = 0; i < 4000; ++i) {
    static const uint32_t homes[] = {0x0a010000, 0x0a020000, 0xac100000, 0xc0a80000};
    const uint32_t home = homes[rng() % 4];
    if (i % 2) {  // inside a listed prefix
      const Cidr& p = base[rng() % base.size()];
      const uint32_t net = uint32_t{p.addr[0]} << 24 | uint32_t{p.addr[1]} << 16 |
                           uint32_t{p.addr[2]} << 8 | p.addr[3];
      addrs.push_back(net | (static_cast<uint32_t>(rng()) & ~(~0u << (32 - p.prefix_len))));
      continue;
    }
    addrs.push_back(i % 8 ? home | (rng() & 0xffff) : (home & 0xff000000) | (rng() & 0xffffff));
  }
  auto verdicts = [&] {
    std::vector<bool> v(addrs.size());
    for (size_t i = 0; i < addrs.size(); ++i) {
      const uint8_t b[4] = {uint8_t(addrs[i] >> 24), uint8_t(addrs[i] >> 16),
                            uint8_t(addrs[i] >> 8), uint8_t(addrs[i])};
      v[i] = blocklisted(live.tables(), 4, b);
    }
    return v;
  };
  std::vector<std::vector<bool>> state = {verdicts()};  // by install
  std::vector<bool> next = state.back();                // the state being written
  std::vector<uint64_t> ended = {0};                    // the tick each install ended at
  std::vector<Reader> flying;
  std::vector<uint64_t> started;  // by reader: the tick it began at
  uint64_t now = 0;
  size_t judged = 0, late = 0, held = 0, in_place = 0;
  std::vector<Cidr> added;
  auto finish = [&](Reader& r) {
    const size_t to = state.size();  // states up to the one being written
    bool same = true;
    for (size_t s = r.from + 1; s < to && same; ++s)
      same = state[s][r.pool] == state[r.from][r.pool];
    // An install being written may show its new state: compare with it too.
    same = same && next[r.pool] == state[r.from][r.pool];
    if (same) {
      ASSERT_EQ(r.verdict, state[r.from][r.pool])
          << "source " << (r.addr >> 24) << "." << ((r.addr >> 16) & 255) << "."
          << ((r.addr >> 8) & 255) << "." << (r.addr & 255) << " began at state " << r.from
          << ", installs since " << to - 1 - r.from;
      ++judged;
      if (r.block && r.block_at + 1 < state.size()) ++late;  // its block read installs later
    }
  };
  auto tick = [&] {
    ++now;
    if (rng() % 2 == 0) {
      const size_t a = rng() % addrs.size();
      flying.push_back(Reader{addrs[a], a, k, state.size() - 1});
      started.push_back(now);
    }
    for (size_t i = 0; i < flying.size();) {
      Reader& r = flying[i];
      // Most advance soon; one source in 8 lingers across installs.
      if (rng() % (r.pool % 16 == 5 || r.pool % 16 == 6 ? 3000 : 2) == 0) r.step(state.size() - 1);
      if (r.done) {
        finish(r);
        if (HasFatalFailure()) return;
        flying.erase(flying.begin() + static_cast<std::ptrdiff_t>(i));
        started.erase(started.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      ++i;
    }
  };
  for (int install = 1; install <= 400; ++install) {
    // A grace period past install T: every packet begun before it ended
    // has finished.
    live.reclaim([&](uint64_t t) {
      for (const uint64_t s : started) {
        if (s <= ended[t]) return false;
      }
      return true;
    });
    for (int op = 0; op < 1 + install % 4; ++op) {
      if (added.empty() || rng() % 5 < 3) {
        added.push_back(hot());
        live.add(added.back());
      } else {
        const size_t at = rng() % added.size();
        live.remove(added[at]);
        added.erase(added.begin() + static_cast<std::ptrdiff_t>(at));
      }
    }
    next = verdicts();
    const auto& ch = live.changes();
    if (ch.all || live.tables().tbl8_capacity != k->tbl8.size()) {
      // Another shape: a new instance; packets in the old one finish there.
      k = std::make_shared<KernelImage>(live.tables());
    } else {
      ++in_place;
      for (auto& store : k->stores(live.tables(), ch)) {
        tick();
        if (HasFatalFailure()) return;
        store();
      }
    }
    live.installed(static_cast<uint64_t>(install));
    live.clear_changes();
    state.push_back(next);
    ended.push_back(now);
    for (int i = 0; i < 40; ++i) {  // packets between installs
      tick();
      if (HasFatalFailure()) return;
    }
    held = std::max(held, flying.size());
  }
  while (!flying.empty()) {
    for (auto& r : flying) r.step(state.size() - 1);
    tick();
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(in_place, 300u) << "most installs keep the shape";
  EXPECT_GT(judged, 5000u);
  EXPECT_GT(held, 20u) << "packets in flight across installs";
  EXPECT_GT(late, 200u) << "blocks read installs after their entry";
}

TEST(FirewallBlocklist, RemovingWhatWasNotAddedIsRefusedAndChangesNothing) {
  Blocklist live({cidr("192.0.2.0/24"), cidr("2001:db8::/32")});
  live.add(cidr("198.51.100.7"));
  const CompiledBlocklist before = live.tables();
  try {
    live.remove(cidr("192.0.2.0/24"));  // the config's: changed by a reload only
    FAIL() << "removed a config prefix";
  } catch (const BlocklistError& e) {
    EXPECT_STREQ(e.what(), "192.0.2.0/24 was not added to the blocklist");
  }
  EXPECT_THROW(live.remove(cidr("2001:db8::/32")), BlocklistError);
  EXPECT_THROW(live.remove(cidr("203.0.113.9")), BlocklistError);
  expect_same_tables(live.tables(), before, "after the refusals");
  live.remove(cidr("198.51.100.7"));
  EXPECT_FALSE(blocklisted(live.tables(), 4, cidr("198.51.100.7").addr.data()));
  EXPECT_TRUE(blocklisted(live.tables(), 4, cidr("192.0.2.1").addr.data()));
}

TEST(FirewallBlocklist, SmallChangesToALargeListKeepTheTablesSizes) {
  std::mt19937 rng(7);
  std::vector<Cidr> base;
  for (int i = 0; i < 100000; ++i) base.push_back(random_prefix(rng, 4, 25 + rng() % 8));
  Blocklist live(base);
  const size_t tbl8 = live.tables().tbl8_capacity, v6 = live.tables().v6_capacity;
  std::vector<Cidr> added;
  for (int i = 0; i < 500; ++i) {
    added.push_back(random_prefix(rng, 4, 32));
    live.add(added.back());
  }
  for (const auto& c : added) live.remove(c);
  EXPECT_EQ(live.tables().tbl8_capacity, tbl8) << "room for 500 new groups without a resize";
  EXPECT_EQ(live.tables().v6_capacity, v6);
  expect_same_tables(live.tables(), compile_blocklist(base), "after 500 adds and removes");
}

TEST(FirewallBlocklist, FilesAllowCommentsAndBlankLines) {
  std::istringstream in(
      "# spamhaus-style drop list\n"
      "\n"
      "192.0.2.0/24 ; SBL123\n"
      "  198.51.100.7   # a single address\n"
      "2001:db8::/32\r\n");
  // ';' is not a comment: the whole line must be a prefix.
  EXPECT_THROW(parse_blocklist(in, "drop.txt"), BlocklistError);
  std::istringstream ok(
      "# spamhaus-style drop list\n\n192.0.2.0/24\n  198.51.100.7   # a single address\n"
      "2001:db8::/32\r\n");
  const auto list = parse_blocklist(ok, "drop.txt");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(format_cidr(list[1]), "198.51.100.7/32");
  EXPECT_EQ(list[2].family, 6);
}

TEST(FirewallBlocklist, BadLinesAreReportedWithFileAndLine) {
  std::istringstream in("192.0.2.0/24\n10.0.0.1/8\n");
  try {
    parse_blocklist(in, "/etc/rampart/drop.txt");
    FAIL() << "a prefix with host bits set was accepted";
  } catch (const BlocklistError& e) {
    EXPECT_STREQ(e.what(),
                 "/etc/rampart/drop.txt:2: '10.0.0.1/8' has host bits set (did you mean "
                 "10.0.0.0/8?)");
  }
  std::istringstream garbage("not-an-address\n");
  EXPECT_THROW(parse_blocklist(garbage, "x"), BlocklistError);
  try {
    read_blocklist_file("/nonexistent/rampart-blocklist.txt");
    FAIL() << "a missing file was accepted";
  } catch (const BlocklistError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/rampart-blocklist.txt: cannot open"),
              std::string::npos)
        << e.what();
  }
}

// A feed line with a NUL used to be read up to the NUL (inet_pton sees a C
// string): "192.0.2.0/24\0junk" listed 192.0.2.0/24.
TEST(FirewallBlocklist, ANulOrControlCharacterInALineIsABadLine) {
  using namespace std::string_literals;
  struct Case {
    std::string text;
    const char* error;
  } cases[] = {
      {"198.51.100.0/24\n192.0.2.0/24\0junk\n"s, "feed:2: contains a NUL byte (offset 12)"},
      {"192.0.2.1\0\n"s, "feed:1: contains a NUL byte (offset 9)"},
      {"192.0.2.1\f\n", "feed:1: contains control character 0x0c (offset 9)"},
      {"\v192.0.2.1 # comment\n", "feed:1: contains control character 0x0b (offset 0)"},
  };
  for (const auto& c : cases) {
    std::istringstream in(c.text);
    try {
      const auto list = parse_blocklist(in, "feed");
      ADD_FAILURE() << c.error << ": accepted " << list.size() << " prefixes";
    } catch (const BlocklistError& e) {
      EXPECT_STREQ(e.what(), c.error);
    }
  }
  // A comment may hold anything: it is not read.
  std::istringstream comment("192.0.2.1 # \x01 odd bytes\n"s);
  EXPECT_EQ(parse_blocklist(comment, "feed").size(), 1u);
}

TEST(FirewallBlocklist, ReadsAFileFromDisk) {
  rampart::test::TempDir dir;
  rampart::test::write_file(dir / "list.txt", "203.0.113.0/24\n2001:db8::1\n");
  const auto list = read_blocklist_file(dir / "list.txt");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(format_cidr(list[0]), "203.0.113.0/24");
}

TEST(FirewallBlocklist, RefusesMoreThanTheSupportedNumberOfPrefixes) {
  std::vector<Cidr> huge(RAMPART_FW_BLOCK_MAX_PREFIXES + 1, cidr("10.0.0.1"));
  EXPECT_THROW(compile_blocklist(huge), BlocklistError);
}

}  // namespace

// SPDX-License-Identifier: Apache-2.0
// RuleTables: the classifier's tables changed rule by rule must judge every
// packet as a linear scan of the rule set does, after every change, and
// their change lists must name every byte that changed.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <random>

#include "compiler.hpp"
#include "rule_tables.hpp"
#include "tables.hpp"

namespace rampart::firewall {
namespace {

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  uint32_t pick(uint32_t n) { return rng_() % n; }

  Cidr v4(uint8_t len) {
    Cidr c;
    c.family = 4;
    c.prefix_len = len;
    const uint32_t a =
        (10u << 24 | pick(3) << 16 | pick(4) << 8 | pick(256)) & (len ? ~0u << (32 - len) : 0);
    const uint32_t be = htonl(a);
    std::memcpy(c.addr.data(), &be, 4);
    return c;
  }
  Cidr v6(uint8_t len) {
    Cidr c;
    c.family = 6;
    c.prefix_len = len;
    c.addr = {0x20, 0x01, 0x0d, 0xb8, 0, static_cast<uint8_t>(pick(3))};
    c.addr[15] = static_cast<uint8_t>(pick(4));
    for (unsigned bit = len; bit < 128; ++bit) c.addr[bit / 8] &= ~(0x80 >> (bit % 8));
    return c;
  }
  std::optional<Cidr> address() {
    static const uint8_t lens4[] = {0, 8, 14, 16, 18, 23, 24, 26, 31, 32};
    static const uint8_t lens6[] = {0, 32, 48, 64, 120, 128};
    const uint32_t k = pick(20);
    if (k < 9) return v4(lens4[pick(10)]);
    if (k < 12) return v6(lens6[pick(6)]);
    return std::nullopt;
  }
  std::optional<PortRange> ports(uint32_t percent) {
    if (pick(100) >= percent) return std::nullopt;
    const auto lo = static_cast<uint16_t>(1000 + pick(120));
    return PortRange{lo, static_cast<uint16_t>(lo + pick(40))};
  }
  Rule rule(uint32_t id) {
    for (;;) {
      Rule r;
      r.id = id;
      r.priority = static_cast<int32_t>(pick(40));
      r.action = static_cast<Action>(pick(4));
      r.src = address();
      r.dst = address();
      r.src_port = ports(15);
      r.dst_port = ports(30);
      const uint32_t p = pick(10);
      r.protocol = p < 2 ? 6 : p < 4 ? 17 : p < 5 ? 1 : kAnyProtocol;
      if (pick(8) == 0 && r.protocol != 17 && r.protocol != 1)
        r.tcp_flags = TcpFlags{static_cast<uint8_t>(pick(256)), 0};
      if (r.tcp_flags) r.tcp_flags->value = static_cast<uint8_t>(pick(256)) & r.tcp_flags->mask;
      if (pick(6) == 0) r.vlan_id = static_cast<uint16_t>(1 + pick(3));
      r.enabled = pick(10) != 0;
      if (validate(r).empty()) return r;
    }
  }
  PacketFields packet() {
    PacketFields p;
    p.family = pick(10) < 7 ? 4 : 6;
    for (auto* a : {&p.src, &p.dst}) *a = (p.family == 4 ? v4(32) : v6(128)).addr;
    if (p.family == 6 && pick(4) == 0) p.src[7] = static_cast<uint8_t>(pick(256));
    const uint32_t k = pick(3);
    p.protocol = k == 0 ? 6 : k == 1 ? 17 : 1;
    if (p.protocol == 6) p.tcp_flags = static_cast<uint8_t>(pick(256));
    p.has_ports = p.protocol != 1 && pick(10) != 0;
    if (p.has_ports) {
      p.src_port = static_cast<uint16_t>(1000 + pick(170));
      p.dst_port = static_cast<uint16_t>(1000 + pick(170));
    }
    p.vlan_id = static_cast<uint16_t>(pick(4));
    return p;
  }

 private:
  std::mt19937 rng_;
};

// Every table as the kernel holds it, in bytes.
struct Snapshot {
  std::map<std::string, std::vector<uint8_t>> arrays;
  std::vector<std::pair<std::array<uint8_t, 20>, uint32_t>> src6, dst6;
};

template <class T>
std::vector<uint8_t> bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<std::pair<std::array<uint8_t, 20>, uint32_t>> keyed(const V6Table& t) {
  std::vector<std::pair<std::array<uint8_t, 20>, uint32_t>> out;
  for (const auto& e : t.entries) {
    std::array<uint8_t, 20> k;
    std::memcpy(k.data(), &e.key, 20);
    out.emplace_back(k, e.cls);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Snapshot snapshot(const CompiledRuleset& rs) {
  Snapshot s;
  s.arrays = {{"src4_tbl16", bytes(rs.src4.tbl16)},
              {"src4_tbl8", bytes(rs.src4.tbl8)},
              {"dst4_tbl16", bytes(rs.dst4.tbl16)},
              {"dst4_tbl8", bytes(rs.dst4.tbl8)},
              {"proto", bytes(rs.proto)},
              {"sport", bytes(rs.sport)},
              {"dport", bytes(rs.dport)},
              {"vlan", bytes(rs.vlan)},
              {"bitmaps", bytes(rs.bitmaps)},
              {"rules", bytes(rs.rules)},
              {"live", bytes(rs.live_gens)},
              {"set", bytes(rs.sets)},
              {"gen", bytes(std::vector<uint32_t>{rs.gen})}};
  s.src6 = keyed(rs.src6);
  s.dst6 = keyed(rs.dst6);
  return s;
}

// What a host that writes only the listed bytes would hold.
void apply(Snapshot& kernel, const Snapshot& now, const RuleTableChanges& c) {
  const std::map<std::string, const std::vector<std::pair<uint64_t, uint64_t>>*> lists = {
      {"src4_tbl16", &c.src4_tbl16},
      {"src4_tbl8", &c.src4_tbl8},
      {"dst4_tbl16", &c.dst4_tbl16},
      {"dst4_tbl8", &c.dst4_tbl8},
      {"proto", &c.proto},
      {"sport", &c.sport},
      {"dport", &c.dport},
      {"vlan", &c.vlan},
      {"bitmaps", &c.bitmaps},
      {"rules", &c.rules},
      {"live", &c.live},
      {"set", &c.set},
      {"gen", &c.gen}};
  for (auto& [name, held] : kernel.arrays) {
    const auto& want = now.arrays.at(name);
    held.resize(want.size(), 0);  // a map past the values given: zeros
    for (const auto& [off, len] : *lists.at(name)) {
      ASSERT_LE(off + len, want.size()) << name;
      std::memcpy(held.data() + off, want.data() + off, len);
    }
  }
  if (c.src6) kernel.src6 = now.src6;
  if (c.dst6) kernel.dst6 = now.dst6;
}

uint32_t id_of(const CompiledRuleset& rs, uint32_t position) {
  return position == kNoRule ? 0 : rs.rules.at(position).id;
}

// The verdict a linear scan of enabled rules in priority order gives: the
// rule's id, 0 for none.
uint32_t linear_id(const std::vector<Rule>& ordered, const PacketFields& p) {
  const uint32_t i = classify_linear(ordered, p);
  return i == kNoRule ? 0 : ordered[i].id;
}

// Each change is written as the engine writes it: what retired at passed
// grace periods taken back, the change, the next generation flipped to,
// the listed bytes written, the generation's end ticketed. Grace periods
// end late and at random. After every change, the newest generation and
// every generation a packet may still be reading (its grace period not
// over) must each judge packets as a linear scan of the rules it held: the
// tables are changed under readers of all of them.
TEST(FirewallRuleTables, AgreeWithALinearScanAndListEveryChangedByte) {
  constexpr int32_t kBlocklistPriority = 20;
  for (uint32_t seed : {1u, 2u, 3u}) {
    Gen g(seed);
    std::map<uint32_t, Rule> rules;
    uint32_t next_id = 1;
    for (int i = 0; i < 150; ++i) {
      Rule r = g.rule(next_id++);
      r.enabled = true;
      rules[r.id] = r;
    }
    auto all = [&] {
      std::vector<Rule> v;
      for (const auto& [id, r] : rules) v.push_back(r);
      return v;
    };
    auto tables = std::make_unique<RuleTables>(all(), Action::deny, kBlocklistPriority);
    Snapshot kernel = snapshot(tables->set());
    // Who held each position when the changes were last cleared: every
    // position whose holder differs since is one moved() lists.
    auto holders = [&] {
      std::vector<uint32_t> ids(tables->positions());
      for (uint32_t p = 0; p < ids.size(); ++p) ids[p] = tables->id_at(p);
      return ids;
    };
    ASSERT_FALSE(tables->moved()) << "built whole: any position";
    std::vector<uint32_t> held = holders();
    tables->clear_changes();
    // Grace periods: tickets handed out, and the last one over.
    uint64_t issued = 0, over = 0;
    auto passed = [&](uint64_t t) { return t <= over; };
    // Generations a packet may still be reading: (generation, the rules it
    // holds, the ticket after which none reads it).
    struct InFlight {
      uint32_t gen;
      std::vector<Rule> ordered;
      uint64_t ends;
    };
    std::deque<InFlight> in_flight;
    std::vector<Rule> current = priority_order(all());  // the newest generation's
    int rebuilds = 0, changed = 0, old_checked = 0;
    for (int step = 0; step < 600; ++step) {
      over = std::max(over, issued > 3 ? issued - g.pick(4) : 0);  // late, by up to 3
      while (!in_flight.empty() && passed(in_flight.front().ends)) in_flight.pop_front();
      tables->reclaim(passed);
      const uint32_t op = g.pick(10);
      std::optional<Rule> before, after;
      if (op < 4 || rules.empty()) {
        after = g.rule(next_id++);
      } else {
        auto it = rules.begin();
        std::advance(it, g.pick(static_cast<uint32_t>(rules.size())));
        before = it->second;
        if (op < 7) {  // an update: another rule under the same id
          after = g.rule(it->first);
          if (g.pick(3) == 0) {  // or the action alone
            after = before;
            after->action = static_cast<Action>((static_cast<int>(before->action) + 1) % 4);
          }
        }
      }
      if (before) rules.erase(before->id);
      if (after) rules[after->id] = *after;
      if (!tables->change(before ? &*before : nullptr, after ? &*after : nullptr)) {
        ++rebuilds;  // a new instance: nothing in flight reads these tables
        tables = std::make_unique<RuleTables>(all(), Action::deny, kBlocklistPriority,
                                              tables->capacity());
        kernel = snapshot(tables->set());
        ASSERT_FALSE(tables->moved());
        held = holders();
        tables->clear_changes();
        in_flight.clear();
      } else {
        ++changed;
        // The slot the next generation takes: nobody may read it still.
        over = std::max(over, tables->next_slot_ticket());
        const uint32_t was = tables->set().gen;
        tables->flip();
        ASSERT_NE(tables->set().gen, was) << "a change is a new generation";
        for (const auto& f : in_flight) ASSERT_NE(f.gen, tables->set().gen) << "read still";
        const Snapshot now = snapshot(tables->set());
        const auto listed = tables->changes();
        ASSERT_FALSE(listed.all);
        apply(kernel, now, listed);
        for (const auto& [name, held] : kernel.arrays)
          ASSERT_EQ(held, now.arrays.at(name)) << name << " at step " << step;
        ASSERT_EQ(kernel.src6, now.src6) << "step " << step;
        ASSERT_EQ(kernel.dst6, now.dst6) << "step " << step;
        const auto moved = tables->moved();
        ASSERT_TRUE(moved);
        ASSERT_TRUE(std::is_sorted(moved->begin(), moved->end()));
        ASSERT_EQ(held.size(), tables->positions());
        for (uint32_t p = 0; p < held.size(); ++p) {
          if (held[p] != tables->id_at(p)) {
            ASSERT_TRUE(std::binary_search(moved->begin(), moved->end(), p))
                << "step " << step << ": position " << p << " changed hands, not listed";
          }
        }
        held = holders();
        tables->clear_changes();
        tables->installed(++issued);
        in_flight.push_back({was, current, issued});
      }
      current = priority_order(all());
      const auto& rs = tables->set();
      ASSERT_EQ(tables->rule_count(), current.size()) << "the enabled ones";
      // The blocklist's place among the compiled positions still held: the
      // rules ahead of it are those of a lower priority.
      for (uint32_t l = 0; l < rs.nrules; ++l) {
        if (const uint32_t id = tables->id_at(l)) {
          ASSERT_EQ(l < rs.block_index, rules.at(id).priority < kBlocklistPriority)
              << "step " << step << " position " << l;
        }
      }
      for (int n = 0; n < 200; ++n) {
        const PacketFields p = g.packet();
        const uint32_t want_id = linear_id(current, p);
        const uint32_t at = classify(rs, p, rs.gen);
        ASSERT_EQ(at, classify(rs, p)) << "the generation's copy is the set's";
        const uint32_t got = id_of(rs, at);
        ASSERT_EQ(got, want_id) << "seed " << seed << " step " << step << " packet " << n;
        if (got) {
          ASSERT_EQ(rs.rules[at].action, uint32_t(rules.at(got).action));
        }
        if (n % 4) continue;
        for (const auto& f : in_flight) {
          ASSERT_EQ(id_of(rs, classify(rs, p, f.gen)), linear_id(f.ordered, p))
              << "seed " << seed << " step " << step << " generation " << f.gen << " (ends at "
              << f.ends << ", " << over << " over) packet " << n;
          ++old_checked;
        }
      }
    }
    EXPECT_GT(changed, 400) << "most changes in place (" << rebuilds << " rebuilds)";
    EXPECT_GT(old_checked, 10000) << "generations still read were judged";
    std::printf("seed %u: %d in place, %d rebuilds, %d verdicts of older generations\n", seed,
                changed, rebuilds, old_checked);
  }
}

// A set rebuilt whole at the live tables' capacity is compiled straight
// into their layout (wider rows, room reserved): it judges every packet as
// the linear scan does, keeps that width while the set uses enough of it,
// and gives memory back when it does not.
TEST(FirewallRuleTables, ARebuildAtTheLiveCapacityJudgesAsTheLinearScan) {
  Gen g(7);
  std::vector<Rule> big;
  for (uint32_t id = 1; id <= 1500; ++id) {
    big.push_back(g.rule(id));
    big.back().enabled = true;
  }
  const TableCapacity live = RuleTables(big, Action::deny, 20).capacity();
  // 1,500 rules: 24 words and the overflow's 8, half as much again, a
  // power of two.
  ASSERT_EQ(live.nwords, 64u);
  for (const size_t n : {1500u, 700u, 100u}) {
    const std::vector<Rule> set(big.begin(), big.begin() + static_cast<std::ptrdiff_t>(n));
    const RuleTables rebuilt(set, Action::deny, 20, live);
    // 700 rules need 20 words, more than a quarter of 64: kept; 100 need 10.
    EXPECT_EQ(rebuilt.capacity().nwords, n >= 700 ? 64u : 16u) << n << " rules";
    const auto ordered = priority_order(set);
    const CompiledRuleset& rs = rebuilt.set();
    for (int k = 0; k < 3000; ++k) {
      const PacketFields p = g.packet();
      ASSERT_EQ(id_of(rs, classify(rs, p)), linear_id(ordered, p)) << n << " rules, packet " << k;
    }
  }
}

TEST(FirewallRuleTables, ANewFieldOrAFullTableAsksForARebuild) {
  Rule a;
  a.id = 1;
  a.dst_port = PortRange{80, 80};
  RuleTables t({a}, Action::allow, 0);
  Rule b = a;
  b.id = 2;
  b.dst_port = PortRange{443, 443};
  EXPECT_TRUE(t.change(nullptr, &b));
  Rule c = a;
  c.id = 3;
  c.vlan_id = 7;  // a field no rule used: another program
  EXPECT_FALSE(t.change(nullptr, &c));
  EXPECT_FALSE(t.change(nullptr, &b)) << "unusable until rebuilt";

  // A written rule takes a position of the overflow; a position let go
  // comes back once the grace period after its generation is over.
  constexpr uint32_t kRoom = RAMPART_FW_OVERFLOW_WORDS * 64;
  auto full = [&] {
    auto u = std::make_unique<RuleTables>(std::vector<Rule>{a}, Action::allow, 0);
    for (uint32_t id = 10; id < 10 + kRoom; ++id) {
      Rule r = a;
      r.id = id;
      r.priority = -static_cast<int32_t>(id);
      EXPECT_TRUE(u->change(nullptr, &r)) << id;
    }
    u->flip();
    u->installed(1);
    Rule gone = a;
    gone.id = 10;
    gone.priority = -10;
    EXPECT_TRUE(u->change(&gone, nullptr));
    u->flip();
    u->installed(2);
    return u;
  };
  Rule more = a;
  more.id = 100000;
  auto early = full();
  early->reclaim([](uint64_t t) { return t <= 1; });
  EXPECT_FALSE(early->change(nullptr, &more)) << "its generation may still be read";
  auto later = full();
  later->reclaim([](uint64_t t) { return t <= 2; });
  EXPECT_TRUE(later->change(nullptr, &more));
  EXPECT_FALSE(later->change(nullptr, &b)) << "the overflow full again";
}

TEST(FirewallRuleTables, RefusesAnInvalidRuleAndChangesNothing) {
  Rule a;
  a.id = 1;
  a.dst_port = PortRange{80, 80};
  RuleTables t({a}, Action::allow, 0);
  t.clear_changes();
  Rule bad = a;
  bad.id = 2;
  bad.vlan_id = 0;
  EXPECT_THROW(t.change(nullptr, &bad), CompileError);
  Rule dup = a;
  EXPECT_THROW(t.change(nullptr, &dup), CompileError);
  const auto c = t.changes();
  EXPECT_FALSE(c.all);
  EXPECT_TRUE(c.bitmaps.empty() && c.rules.empty() && c.dport.empty());
  EXPECT_EQ(t.rule_count(), 1u);
}

// The first rule of an empty set lands at position 0 (the edge cases of
// finding room: no neighbour on either side).
TEST(FirewallRuleTables, FromNothingARuleOfNoFields) {
  RuleTables t({}, Action::allow, 0);
  Rule r;
  r.id = 3;
  ASSERT_TRUE(t.change(nullptr, &r));
  PacketFields p;
  EXPECT_EQ(t.set().rules[classify(t.set(), p)].id, 3u);
}

}  // namespace
}  // namespace rampart::firewall

namespace rampart::firewall {
namespace {

// A set growing rule by rule as the engine grows it (in place while the
// tables have room, else rebuilt whole at the live capacity, or at the one
// an instance was prepared for): every time the tables outgrow their
// capacity, the capacity they grow into is the one ahead() named after an
// earlier write, so the instance prepared for it is the one the write
// takes (no program load on the writer's path). Each rule brings its own
// source /24 and port: words, classes and IPv4 groups all grow.
TEST(FirewallRuleTables, TablesThatOutgrowTheirCapacityGrowIntoTheOnePreparedAhead) {
  auto rule = [](uint32_t id) {
    Rule r;
    r.id = id;
    r.action = Action::deny;
    r.protocol = 17;
    Cidr c;
    c.family = 4;
    c.prefix_len = 24;
    c.addr = {10, static_cast<uint8_t>(id / 256), static_cast<uint8_t>(id % 256), 0};
    r.src = c;
    r.dst_port = PortRange{static_cast<uint16_t>(1000 + id), static_cast<uint16_t>(1000 + id)};
    return r;
  };
  std::vector<Rule> rules;
  for (uint32_t id = 1; id <= 20; ++id) rules.push_back(rule(id));
  RuleTables tables(rules, Action::allow, 0);
  TableCapacity prepared;  // what an instance was last prepared for
  uint64_t ticket = 0;
  int growths = 0, taken = 0, preparations = 0;
  for (uint32_t id = 21; id <= 6000; ++id) {
    rules.push_back(rule(id));
    tables.reclaim([](uint64_t) { return true; });
    if (!tables.change(nullptr, &rules.back())) {
      const TableCapacity live = tables.capacity();
      tables = RuleTables(rules, Action::allow, 0, live, prepared);
      if (!(tables.capacity() == live)) {
        ++growths;
        if (tables.capacity() == prepared) ++taken;
      }
    }
    tables.flip();
    tables.installed(++ticket);
    tables.clear_changes();
    const TableCapacity next = tables.ahead();
    if (!(next == tables.capacity()) && !(next == prepared)) {
      prepared = next;
      ++preparations;
    }
  }
  EXPECT_GE(growths, 4) << "the set grew 300-fold";
  EXPECT_EQ(taken, growths) << "every growth took the capacity prepared ahead";
  // A growth is predicted at most twice (words and classes cross half
  // their capacity at different writes), plus the one ahead at the end.
  EXPECT_LE(preparations, 2 * growths + 1);
}

}  // namespace
}  // namespace rampart::firewall

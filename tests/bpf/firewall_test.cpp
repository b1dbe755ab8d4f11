// SPDX-License-Identifier: Apache-2.0
// The XDP firewall under BPF_PROG_TEST_RUN: verdicts for every field and
// action, priorities, default policy, parsing of VLAN/QinQ, IPv4 options and
// fragments, IPv6 extension headers, malformed frames, metadata, events,
// counters, ring backpressure, and agreement with a brute-force reference
// on random rule sets.
#include <gtest/gtest.h>

#include <linux/bpf.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "bpf/grace_period.hpp"
#include "firewall_program.hpp"
#include "packet_builder.hpp"
#include "privilege.hpp"
#include "test_paths.hpp"

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

TEST_F(Firewall, NoRuleSetLeavesThePacketToTheRootsPolicy) {
  const auto pkt = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).build();
  FirewallProgram allow(Action::allow);
  EXPECT_EQ(allow.run(pkt).action, XDP_PASS);
  EXPECT_EQ(allow.root_stat(0), 1u) << "no stage took it: passed";
  FirewallProgram deny(Action::deny);  // agent.fail_closed
  EXPECT_EQ(deny.run(pkt).action, XDP_DROP);
  EXPECT_EQ(deny.root_stat(1), 1u) << "no stage took it: dropped, fail closed";
  EXPECT_EQ(deny.stat(RAMPART_FW_STAT_SEEN), 0u) << "the firewall never saw it";
  deny.install({}, Action::allow);
  EXPECT_EQ(deny.run(pkt).action, XDP_PASS) << "once the firewall is a stage, it decides";
  EXPECT_EQ(deny.stat(RAMPART_FW_STAT_SEEN), 1u);
}

TEST_F(Firewall, DenyBySourceCidrDropsOnlyThatSource) {
  FirewallProgram fw;
  Rule r = rule(10, Action::deny);
  r.src = cidr("198.18.1.0/24");
  fw.install({r});
  EXPECT_EQ(fw.run(PacketBuilder().ipv4("198.18.1.7", "198.18.0.2").udp(1, 2).build()).action,
            XDP_DROP);
  EXPECT_EQ(fw.run(PacketBuilder().ipv4("198.18.2.7", "198.18.0.2").udp(1, 2).build()).action,
            XDP_PASS);
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

// The metadata through rampart/bpf/meta.h: made whole where the packet
// has none, grown from the first layout (a firewall of before the rate
// limit fields), kept where a stage wrote the whole meta, and put in front
// of metadata that is not ours.
TEST_F(Firewall, TheMetadataIsWholeWhateverTheStageBeforeLeft) {
  FirewallProgram fw;
  Rule r = rule(42, Action::allow);
  r.protocol = 6;
  fw.install({r});
  const auto frame = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(5555, 443).build();
  auto bytes = [](const rampart_xdp_meta& m, size_t n) {
    std::vector<uint8_t> b(n);
    std::memcpy(b.data(), &m, n);
    return b;
  };

  auto res = fw.run(frame);
  EXPECT_EQ(res.meta_size, sizeof(rampart_xdp_meta));
  ASSERT_TRUE(res.has_meta);
  EXPECT_EQ(res.meta.rule_id, 42u);
  EXPECT_FALSE(res.meta.flags & RAMPART_META_NO_FIREWALL);
  EXPECT_EQ(res.meta.rl_verdict, RAMPART_META_RL_NONE);
  EXPECT_EQ(res.meta.rl_policy, 0u);

  rampart_xdp_meta old{};
  old.magic = RAMPART_XDP_META_MAGIC;
  old.rule_id = 7;
  old.flags = RAMPART_META_LOGGED;
  old.status = 3;
  res = fw.run_with_meta(bytes(old, RAMPART_XDP_META_V1_SIZE), frame);
  EXPECT_EQ(res.action, XDP_PASS);
  EXPECT_EQ(res.meta_size, sizeof(rampart_xdp_meta)) << "grown from the first layout";
  ASSERT_TRUE(res.has_meta);
  EXPECT_EQ(res.meta.rule_id, 42u) << "the firewall's own verdict";
  EXPECT_EQ(res.meta.flags, RAMPART_META_MATCHED);
  EXPECT_EQ(res.meta.rl_verdict, RAMPART_META_RL_NONE);
  EXPECT_EQ(res.meta.reserved, 0u);
  EXPECT_EQ(std::vector<uint8_t>(res.out.begin() + res.meta_size, res.out.end()), frame);

  rampart_xdp_meta whole{};
  whole.magic = RAMPART_XDP_META_MAGIC;
  whole.flags = RAMPART_META_NO_FIREWALL;
  whole.rl_policy = 9;
  whole.rl_verdict = RAMPART_META_RL_OVER;
  res = fw.run_with_meta(bytes(whole, sizeof whole), frame);
  EXPECT_EQ(res.meta_size, sizeof(rampart_xdp_meta)) << "kept, not grown";
  ASSERT_TRUE(res.has_meta);
  EXPECT_EQ(res.meta.rule_id, 42u);
  EXPECT_EQ(res.meta.flags, RAMPART_META_MATCHED) << "judged by a firewall after all";
  EXPECT_EQ(res.meta.rl_policy, 9u) << "another stage's fields stay";
  EXPECT_EQ(res.meta.rl_verdict, RAMPART_META_RL_OVER);

  const std::vector<uint8_t> foreign = {1, 2, 3, 4, 5, 6, 7, 8};
  res = fw.run_with_meta(foreign, frame);
  EXPECT_EQ(res.meta_size, sizeof(rampart_xdp_meta) + foreign.size());
  ASSERT_TRUE(res.has_meta) << "ours in front";
  EXPECT_EQ(res.meta.rule_id, 42u);
  EXPECT_EQ(std::vector<uint8_t>(res.out.begin() + sizeof(rampart_xdp_meta),
                                 res.out.begin() + res.meta_size),
            foreign)
      << "theirs behind it, untouched";
}

TEST_F(Firewall, EveryMatchFieldSelectsOnlyItsPackets) {
  struct Case {
    const char* name;
    std::function<void(Rule&)> constrain;
    PacketBuilder hit, miss;
  };
  const std::vector<Case> cases = {
      {"dst_ip", [](Rule& r) { r.dst = cidr("198.18.9.0/24"); },
       PacketBuilder().ipv4("198.18.0.1", "198.18.9.9").udp(1, 2),
       PacketBuilder().ipv4("198.18.0.1", "198.18.8.9").udp(1, 2)},
      {"src_ip v6", [](Rule& r) { r.src = cidr("2001:db8:1::/48"); },
       PacketBuilder().ipv6("2001:db8:1::5", "2001:db8::2").udp(1, 2),
       PacketBuilder().ipv6("2001:db8:2::5", "2001:db8::2").udp(1, 2)},
      {"dst_ip v6 host", [](Rule& r) { r.dst = cidr("2001:db8::2/128"); },
       PacketBuilder().ipv6("2001:db8:1::5", "2001:db8::2").udp(1, 2),
       PacketBuilder().ipv6("2001:db8:1::5", "2001:db8::3").udp(1, 2)},
      {"protocol", [](Rule& r) { r.protocol = 17; },
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2),
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(1, 2)},
      {"icmp", [](Rule& r) { r.protocol = 1; },
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").icmp(),
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2)},
      {"icmpv6", [](Rule& r) { r.protocol = 58; },
       PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").icmp(),
       PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(1, 2)},
      {"src_port",
       [](Rule& r) {
         r.src_port = rampart::firewall::PortRange{53, 53};
       },
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(53, 9),
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(54, 9)},
      {"dst_port range",
       [](Rule& r) {
         r.dst_port = rampart::firewall::PortRange{1000, 2000};
       },
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(9, 2000),
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(9, 2001)},
      {"port rule vs portless icmp",
       [](Rule& r) {
         r.dst_port = rampart::firewall::PortRange{0, 65535};
       },
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(9, 0),
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").icmp()},
      {"vlan", [](Rule& r) { r.vlan_id = 100; },
       PacketBuilder().vlan(100).ipv4("198.18.0.1", "198.18.0.2").udp(1, 2),
       PacketBuilder().vlan(101).ipv4("198.18.0.1", "198.18.0.2").udp(1, 2)},
      {"vlan vs untagged", [](Rule& r) { r.vlan_id = 100; },
       PacketBuilder().vlan(100, 0x88a8).vlan(7).ipv4("198.18.0.1", "198.18.0.2").udp(1, 2),
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2)},
      {"tcp flags SYN,!ACK",
       [](Rule& r) {
         r.protocol = 6;
         r.tcp_flags = rampart::firewall::TcpFlags{0x12, 0x02};
       },
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(1, 2, 0x02),
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(1, 2, 0x12)},
      {"v4 rule vs v6 packet", [](Rule& r) { r.src = cidr("0.0.0.0/0"); },
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2),
       PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(1, 2)},
  };
  for (const auto& c : cases) {
    FirewallProgram fw;
    Rule r = rule(7, Action::deny);
    c.constrain(r);
    fw.install({r});
    EXPECT_EQ(fw.run(c.hit.build()).action, XDP_DROP) << c.name;
    EXPECT_EQ(fw.run(c.miss.build()).action, XDP_PASS) << c.name;
    EXPECT_EQ(fw.hits(0), 1u) << c.name;
  }
}

TEST_F(Firewall, EachActionHasItsVerdictCounterAndEvent) {
  FirewallProgram fw;
  std::vector<Rule> rules;
  const Action actions[] = {Action::allow, Action::deny, Action::log, Action::reject};
  for (uint16_t i = 0; i < 4; ++i) {
    Rule r = rule(100 + i, actions[i]);
    r.protocol = 17;
    r.dst_port = rampart::firewall::PortRange{static_cast<uint16_t>(1000 + i),
                                              static_cast<uint16_t>(1000 + i)};
    rules.push_back(r);
  }
  fw.install(rules);
  auto send = [&](uint16_t port) {
    return fw.run(PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(9, port).build());
  };
  EXPECT_EQ(send(1000).action, XDP_PASS);
  EXPECT_EQ(send(1001).action, XDP_DROP);
  const auto logged = send(1002);
  EXPECT_EQ(logged.action, XDP_PASS);
  EXPECT_TRUE(logged.meta.flags & RAMPART_META_LOGGED);
  EXPECT_EQ(logged.meta.rule_id, 102u);
  EXPECT_EQ(send(1003).action, XDP_TX) << "reject answers (ICMP port unreachable for UDP)";
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_PASSED), 2u);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_DROPPED), 1u);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_LOGGED), 1u);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_REJECTED), 1u);
  const auto ev = fw.drain_events();
  ASSERT_EQ(ev.size(), 3u) << "deny, log and reject report; allow does not";
  EXPECT_EQ(ev[0].rule_id, 101u);
  EXPECT_EQ(ev[1].rule_id, 102u);
  EXPECT_EQ(ev[1].action, RAMPART_FW_LOG);
  EXPECT_EQ(ev[2].rule_id, 103u);
  EXPECT_EQ(ev[2].dst_port, 1003);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(fw.hits(i), 1u);
}

// A stage after the firewall's slot, loaded from the test probe: it
// appends `id` to the trail in the frame's last 16 bytes and returns XDP_TX.
std::unique_ptr<rampart::bpf::ProgramInstance> probe_after(const FirewallProgram& fw, int pos_fd,
                                                           uint8_t id) {
  rampart::bpf::InstanceSpec spec;
  spec.object_path = rampart::test::path::bpf() + "/stage_probe.bpf.o";
  spec.program = "probe_xdp";
  spec.settings["probe_id"] = {id};
  spec.settings["verdict"] = rampart::bpf::bytes_of(uint32_t{XDP_TX});
  spec.shared_maps["rampart_stage"] = pos_fd;
  for (const char* m : {"rampart_xdp_chain", "rampart_chains"}) spec.shared_maps[m] = fw.map_fd(m);
  return rampart::bpf::ProgramInstance::load(spec);
}

TEST_F(Firewall, PassGoesOnToTheNextStageWithTheMetadata) {
  FirewallProgram fw;
  Rule r = rule(42, Action::allow);
  r.protocol = 17;
  fw.install({r});
  auto pkt = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).payload(16).build();
  std::fill(pkt.end() - 16, pkt.end(), 0);  // the probe's trail
  EXPECT_EQ(fw.run(pkt).action, XDP_PASS) << "no next stage installed: pass";
  const int pos = rampart::test::make_stage_map(FirewallProgram::kSlot + 3);
  auto probe = probe_after(fw, pos, 7);
  fw.install_stage(FirewallProgram::kSlot + 3, probe->program_fd(), pos);
  const auto out = fw.run(pkt);
  EXPECT_EQ(out.action, XDP_TX) << "the next stage ran";
  EXPECT_TRUE(out.has_meta) << "with the firewall's verdict in front of the packet";
  EXPECT_EQ(out.meta.rule_id, 42u);
  ASSERT_GE(out.out.size(), 16u);
  const uint8_t* trail = out.out.data() + out.out.size() - 16;
  EXPECT_EQ(trail[0], 1);
  EXPECT_EQ(trail[1], 7);
  auto deny = rule(43, Action::deny);
  fw.install({deny});
  EXPECT_EQ(fw.run(pkt).action, XDP_DROP) << "a drop never reaches the next stage";
  close(pos);
}

// One's-complement sum over 16-bit words, as IP and TCP checksums use.
uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
  if (n & 1) sum += uint32_t(p[n - 1]) << 8;
  return sum;
}
bool checksum_ok(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

TEST_F(Firewall, RejectAnswersTcpWithAValidReset) {
  FirewallProgram fw;
  Rule r = rule(9, Action::reject);
  r.protocol = 6;
  fw.install({r});
  // A SYN (seq 1000, 10 bytes of payload) gets RST+ACK acknowledging 1000 + 10 + 1.
  const auto syn = PacketBuilder()
                       .ipv4("198.18.0.1", "198.18.0.2")
                       .tcp(40000, 22, 0x02)
                       .tcp_seq(1000, 0)
                       .payload(10)
                       .build();
  auto res = fw.run(syn);
  ASSERT_EQ(res.action, XDP_TX);
  const auto& o = res.out;
  ASSERT_EQ(o.size(), 54u) << "Ethernet + 20-byte IPv4 + 20-byte TCP, payload trimmed";
  EXPECT_TRUE(std::equal(o.begin(), o.begin() + 6, syn.begin() + 6))
      << "sent back to the sender's MAC";
  EXPECT_TRUE(std::equal(o.begin() + 26, o.begin() + 30, syn.begin() + 30))
      << "source is the old destination";
  EXPECT_TRUE(std::equal(o.begin() + 30, o.begin() + 34, syn.begin() + 26));
  EXPECT_EQ(o[34] << 8 | o[35], 22);
  EXPECT_EQ(o[36] << 8 | o[37], 40000);
  EXPECT_EQ(o[47], 0x14) << "RST + ACK";
  const uint32_t ack = uint32_t(o[42]) << 24 | uint32_t(o[43]) << 16 | uint32_t(o[44]) << 8 | o[45];
  EXPECT_EQ(ack, 1011u);
  EXPECT_TRUE(checksum_ok(sum16(o.data() + 14, 20))) << "IPv4 header checksum";
  uint8_t pseudo[12] = {};
  std::memcpy(pseudo, o.data() + 26, 8);
  pseudo[9] = 6;
  pseudo[11] = 20;
  EXPECT_TRUE(checksum_ok(sum16(o.data() + 34, 20, sum16(pseudo, 12)))) << "TCP checksum";

  // An ACK segment: the reset takes its sequence number from the ACK.
  res = fw.run(PacketBuilder()
                   .ipv4("198.18.0.1", "198.18.0.2")
                   .tcp(40000, 22, 0x10)
                   .tcp_seq(5, 777777)
                   .build());
  ASSERT_EQ(res.action, XDP_TX);
  EXPECT_EQ(res.out[47], 0x04) << "RST";
  EXPECT_EQ(uint32_t(res.out[38]) << 24 | uint32_t(res.out[39]) << 16 | uint32_t(res.out[40]) << 8 |
                res.out[41],
            777777u);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_REJECT_SENT), 2u);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_REJECTED), 2u);
}

TEST_F(Firewall, RejectAnswersIpv6Tcp) {
  FirewallProgram fw;
  Rule r = rule(9, Action::reject);
  fw.install({r});
  auto res = fw.run(PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").tcp(1, 443, 0x02).build());
  ASSERT_EQ(res.action, XDP_TX);
  ASSERT_EQ(res.out.size(), 74u);
  const auto& o = res.out;
  uint8_t pseudo[40] = {};
  std::memcpy(pseudo, o.data() + 22, 32);
  pseudo[35] = 20;
  pseudo[39] = 6;
  EXPECT_TRUE(checksum_ok(sum16(o.data() + 54, 20, sum16(pseudo, 40)))) << "TCP over IPv6 checksum";
}

// Options, extension headers and VLAN tags: the answer is a plain 20-byte
// IPv4 (40-byte IPv6) header and a 20-byte TCP header, tags kept, and the
// acknowledgement still counts only the TCP payload.
TEST_F(Firewall, RejectAnswersTcpBehindOptionsExtensionHeadersAndTags) {
  FirewallProgram fw;
  fw.install({rule(9, Action::reject)});
  const auto opts = PacketBuilder()
                        .ipv4("198.18.0.1", "198.18.0.2")
                        .ipv4_options(3)
                        .tcp(40000, 22, 0x02)
                        .tcp_seq(1000, 0)
                        .payload(10)
                        .build();
  auto res = fw.run(opts);
  ASSERT_EQ(res.action, XDP_TX);
  auto o = res.out;
  ASSERT_EQ(o.size(), 54u);
  EXPECT_EQ(o[14], 0x45) << "no options in the answer";
  EXPECT_EQ(o[23], 6);
  EXPECT_TRUE(std::equal(o.begin() + 26, o.begin() + 30, opts.begin() + 30));
  EXPECT_EQ(o[34] << 8 | o[35], 22);
  EXPECT_EQ(o[36] << 8 | o[37], 40000);
  EXPECT_EQ(uint32_t(o[42]) << 24 | uint32_t(o[43]) << 16 | uint32_t(o[44]) << 8 | o[45], 1011u);
  EXPECT_TRUE(checksum_ok(sum16(o.data() + 14, 20)));
  uint8_t pseudo[12] = {};
  std::memcpy(pseudo, o.data() + 26, 8);
  pseudo[9] = 6;
  pseudo[11] = 20;
  EXPECT_TRUE(checksum_ok(sum16(o.data() + 34, 20, sum16(pseudo, 12))));

  const auto ext = PacketBuilder()
                       .ipv6("2001:db8::1", "2001:db8::2")
                       .ipv6_ext(0)
                       .ipv6_ext(60)
                       .tcp(1, 443, 0x02)
                       .tcp_seq(7, 0)
                       .payload(5)
                       .build();
  res = fw.run(ext);
  ASSERT_EQ(res.action, XDP_TX);
  o = res.out;
  ASSERT_EQ(o.size(), 74u) << "extension headers are not echoed";
  EXPECT_EQ(o[20], 6) << "next header TCP";
  EXPECT_EQ(uint32_t(o[62]) << 24 | uint32_t(o[63]) << 16 | uint32_t(o[64]) << 8 | o[65], 13u)
      << "7 + 5 bytes + SYN";
  uint8_t pseudo6[40] = {};
  std::memcpy(pseudo6, o.data() + 22, 32);
  pseudo6[35] = 20;
  pseudo6[39] = 6;
  EXPECT_TRUE(checksum_ok(sum16(o.data() + 54, 20, sum16(pseudo6, 40))));

  const auto tagged =
      PacketBuilder().vlan(100, 0x88a8).vlan(7).ipv4("198.18.0.1", "198.18.0.2").tcp(1, 80).build();
  res = fw.run(tagged);
  ASSERT_EQ(res.action, XDP_TX);
  o = res.out;
  ASSERT_EQ(o.size(), 22u + 40);
  EXPECT_TRUE(std::equal(o.begin() + 12, o.begin() + 22, tagged.begin() + 12)) << "both tags kept";
  EXPECT_TRUE(checksum_ok(sum16(o.data() + 22, 20)));
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_REJECT_SENT), 3u);
}

TEST_F(Firewall, RejectAnswersUdpWithIcmpUnreachableQuotingThePacket) {
  FirewallProgram fw;
  fw.install({rule(9, Action::reject)});
  const auto udp =
      PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(5353, 53).payload(40).build();
  const auto res = fw.run(udp);
  ASSERT_EQ(res.action, XDP_TX);
  const auto& o = res.out;
  ASSERT_EQ(o.size(), 14u + 20 + 8 + 20 + 8)
      << "new IP + ICMP headers, then the quoted IP header + 8 bytes";
  EXPECT_TRUE(std::equal(o.begin(), o.begin() + 6, udp.begin() + 6)) << "back to the sender's MAC";
  EXPECT_EQ(o[23], 1) << "IP protocol ICMP";
  EXPECT_TRUE(std::equal(o.begin() + 26, o.begin() + 30, udp.begin() + 30))
      << "from the old destination";
  EXPECT_TRUE(std::equal(o.begin() + 30, o.begin() + 34, udp.begin() + 26)) << "to the old source";
  EXPECT_EQ(o[34], 3) << "destination unreachable";
  EXPECT_EQ(o[35], 3) << "port unreachable";
  EXPECT_TRUE(std::equal(o.begin() + 42, o.end(), udp.begin() + 14)) << "the quote";
  EXPECT_TRUE(checksum_ok(sum16(o.data() + 14, 20))) << "IP header checksum";
  EXPECT_TRUE(checksum_ok(sum16(o.data() + 34, o.size() - 34))) << "ICMP checksum";
  // Never an error for an error, nor for what we cannot quote simply.
  EXPECT_EQ(fw.run(PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").icmp().build()).action,
            XDP_DROP);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_REJECT_SENT), 1u);

  // IPv6: ICMPv6 destination unreachable, port unreachable for UDP.
  const auto udp6 =
      PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(5353, 53).payload(40).build();
  const auto res6 = fw.run(udp6);
  ASSERT_EQ(res6.action, XDP_TX);
  const auto& o6 = res6.out;
  ASSERT_EQ(o6.size(), 14u + 40 + 8 + 48);
  EXPECT_EQ(o6[20], 58) << "next header ICMPv6";
  EXPECT_TRUE(std::equal(o6.begin() + 22, o6.begin() + 38, udp6.begin() + 38))
      << "from the old destination";
  EXPECT_TRUE(std::equal(o6.begin() + 38, o6.begin() + 54, udp6.begin() + 22))
      << "to the old source";
  EXPECT_EQ(o6[54], 1);
  EXPECT_EQ(o6[55], 4) << "port unreachable";
  EXPECT_TRUE(std::equal(o6.begin() + 62, o6.end(), udp6.begin() + 14)) << "the quote";
  uint8_t pseudo6[40] = {};
  std::memcpy(pseudo6, o6.data() + 22, 32);
  pseudo6[35] = 56;
  pseudo6[39] = 58;
  EXPECT_TRUE(checksum_ok(sum16(o6.data() + 54, 56, sum16(pseudo6, 40)))) << "ICMPv6 checksum";
  EXPECT_EQ(fw.run(PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").icmp().build()).action,
            XDP_DROP)
      << "never an error for an error";
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_REJECT_SENT), 2u);
}

// A tagged packet is answered on its VLAN: the tags are copied in front of
// the new headers, and the quote is the original IP header onwards.
TEST_F(Firewall, RejectAnswersTaggedUdpWithUnreachableOnTheSameVlan) {
  FirewallProgram fw;
  fw.install({rule(9, Action::reject)});
  const auto udp =
      PacketBuilder().vlan(5).ipv4("198.18.0.1", "198.18.0.2").udp(5353, 53).payload(40).build();
  auto res = fw.run(udp);
  ASSERT_EQ(res.action, XDP_TX);
  auto o = res.out;
  ASSERT_EQ(o.size(), 18u + 20 + 8 + 20 + 8);
  EXPECT_TRUE(std::equal(o.begin(), o.begin() + 6, udp.begin() + 6)) << "back to the sender";
  EXPECT_TRUE(std::equal(o.begin() + 6, o.begin() + 12, udp.begin())) << "from the old destination";
  EXPECT_TRUE(std::equal(o.begin() + 12, o.begin() + 18, udp.begin() + 12)) << "tag and ethertype";
  EXPECT_EQ(o[18], 0x45);
  EXPECT_EQ(o[27], 1) << "ICMP";
  EXPECT_EQ(o[38], 3);
  EXPECT_EQ(o[39], 3);
  EXPECT_TRUE(std::equal(o.begin() + 46, o.end(), udp.begin() + 18)) << "the quote";
  EXPECT_TRUE(checksum_ok(sum16(o.data() + 18, 20)));
  EXPECT_TRUE(checksum_ok(sum16(o.data() + 38, o.size() - 38)));

  const auto udp6 = PacketBuilder()
                        .vlan(100, 0x88a8)
                        .vlan(7)
                        .ipv6("2001:db8::1", "2001:db8::2")
                        .udp(5353, 53)
                        .payload(40)
                        .build();
  res = fw.run(udp6);
  ASSERT_EQ(res.action, XDP_TX);
  o = res.out;
  ASSERT_EQ(o.size(), 22u + 40 + 8 + 48);
  EXPECT_TRUE(std::equal(o.begin() + 12, o.begin() + 22, udp6.begin() + 12)) << "QinQ tags kept";
  EXPECT_EQ(o[28], 58) << "next header ICMPv6";
  EXPECT_EQ(o[62], 1);
  EXPECT_EQ(o[63], 4);
  EXPECT_TRUE(std::equal(o.begin() + 70, o.end(), udp6.begin() + 22)) << "the quote";
  uint8_t pseudo6[40] = {};
  std::memcpy(pseudo6, o.data() + 30, 32);
  pseudo6[35] = 56;
  pseudo6[39] = 58;
  EXPECT_TRUE(checksum_ok(sum16(o.data() + 62, 56, sum16(pseudo6, 40))));
}

TEST_F(Firewall, RejectRepliesAreRateLimited) {
  FirewallProgram fw;
  Rule r = rule(9, Action::reject);
  fw.install({r});
  const auto syn = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(1, 22, 0x02).build();
  // 1,000 rejects in one run on one CPU, well inside one second: at most
  // reject_per_sec (100) answers, the rest dropped.
  const auto res = fw.run(syn, 1000, true);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_REJECTED), 1000u);
  EXPECT_LE(fw.stat(RAMPART_FW_STAT_REJECT_SENT), 100u);
  EXPECT_GE(fw.stat(RAMPART_FW_STAT_REJECT_SENT), 1u);
  EXPECT_EQ(res.action, XDP_DROP) << "the last of them was over the limit";
}

TEST_F(Firewall, AllowIsSampledWhenConfigured) {
  FirewallProgram fw;
  fw.install({rule(1, Action::allow)}, Action::allow, /*allow_sample=*/4);
  for (int i = 0; i < 8; ++i)
    fw.run(PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).build());
  const auto ev = fw.drain_events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_TRUE(ev[0].flags & RAMPART_FW_EV_SAMPLED);
}

TEST_F(Firewall, FirstRuleInPriorityOrderWins) {
  FirewallProgram fw;
  Rule specific = rule(1, Action::allow);
  specific.priority = 5;
  specific.src = cidr("198.18.1.1/32");
  Rule broad = rule(2, Action::deny);
  broad.priority = 10;
  broad.src = cidr("198.18.0.0/16");
  Rule late_allow = rule(3, Action::allow);
  late_allow.priority = 20;
  fw.install({broad, late_allow, specific});  // order given does not matter
  EXPECT_EQ(fw.run(PacketBuilder().ipv4("198.18.1.1", "198.18.0.2").udp(1, 2).build()).action,
            XDP_PASS);
  EXPECT_EQ(fw.run(PacketBuilder().ipv4("198.18.1.2", "198.18.0.2").udp(1, 2).build()).action,
            XDP_DROP);
  EXPECT_EQ(fw.run(PacketBuilder().ipv4("198.19.1.2", "198.18.0.2").udp(1, 2).build()).action,
            XDP_PASS);
  // Same rules, priorities swapped: the broad deny now shadows the allow.
  broad.priority = 1;
  fw.install({broad, late_allow, specific});
  EXPECT_EQ(fw.run(PacketBuilder().ipv4("198.18.1.1", "198.18.0.2").udp(1, 2).build()).action,
            XDP_DROP);
}

TEST_F(Firewall, DefaultPolicyAppliesWhenNothingMatches) {
  FirewallProgram fw;
  Rule r = rule(1, Action::allow);
  r.dst_port = rampart::firewall::PortRange{22, 22};
  r.protocol = 6;
  fw.install({r}, Action::deny);
  EXPECT_EQ(fw.run(PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(9, 22).build()).action,
            XDP_PASS);
  EXPECT_EQ(fw.run(PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(9, 23).build()).action,
            XDP_DROP);
  const auto ev = fw.drain_events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].rule_id, 0u) << "the default policy has no rule id";
}

TEST_F(Firewall, HeadersAreParsedDeliberately) {
  FirewallProgram fw;
  Rule r = rule(1, Action::deny);
  r.protocol = 17;
  r.dst_port = rampart::firewall::PortRange{53, 53};
  fw.install({r});
  const std::vector<std::pair<const char*, PacketBuilder>> hits = {
      {"ipv4 options",
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").ipv4_options(10).udp(9, 53)},
      {"first fragment",
       PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").fragment_offset(0).udp(9, 53)},
      {"qinq",
       PacketBuilder().vlan(10, 0x88a8).vlan(20).ipv4("198.18.0.1", "198.18.0.2").udp(9, 53)},
      {"ipv6 ext headers", PacketBuilder()
                               .ipv6("2001:db8::1", "2001:db8::2")
                               .ipv6_ext(0)
                               .ipv6_ext(60)
                               .ipv6_ext(43)
                               .udp(9, 53)},
      {"ipv6 first fragment",
       PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").fragment_offset(0).udp(9, 53)},
  };
  for (const auto& [name, p] : hits) EXPECT_EQ(fw.run(p.build()).action, XDP_DROP) << name;
  // Later fragments carry no ports: port rules cannot match them, and the
  // metadata says why.
  for (auto p :
       {PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").fragment_offset(100).udp(9, 53),
        PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").fragment_offset(100).udp(9, 53)}) {
    const auto res = fw.run(p.build());
    EXPECT_EQ(res.action, XDP_PASS);
    EXPECT_TRUE(res.meta.flags & RAMPART_META_FRAGMENT);
  }
}

TEST_F(Firewall, MalformedFramesAreDroppedAndCountedNeverClassified) {
  FirewallProgram fw;
  fw.install({rule(1, Action::allow)});
  const auto good = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(1, 2).build();
  uint64_t malformed = 0;
  // Every truncation inside the headers (14 eth + 20 ip + 20 tcp).
  for (size_t len = 14; len < 54; ++len) {
    const std::vector<uint8_t> cut(good.begin(), good.begin() + len);
    EXPECT_EQ(fw.run(cut).action, XDP_DROP) << "truncated to " << len;
    ++malformed;
  }
  auto bad = good;
  bad[14] = 0x44;  // IHL 4 < 5
  EXPECT_EQ(fw.run(bad).action, XDP_DROP);
  bad = good;
  bad[14 + 20 + 12] = 0x20;  // TCP data offset 2 < 5
  EXPECT_EQ(fw.run(bad).action, XDP_DROP);
  bad = good;
  bad[14] = 0x4f;  // IHL 15: options past the end of the frame
  EXPECT_EQ(fw.run(bad).action, XDP_DROP);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_ERRORS), malformed + 3);
  EXPECT_EQ(fw.hits(0), 0u);
}

TEST_F(Firewall, NonIpFramesPassUnclassified) {
  FirewallProgram fw;
  fw.install({rule(1, Action::deny)});
  EXPECT_EQ(fw.run(PacketBuilder().ethertype(0x0806).build()).action, XDP_PASS);  // ARP
  EXPECT_EQ(fw.run(PacketBuilder()
                       .vlan(1)
                       .vlan(2)
                       .vlan(3)
                       .ipv4("198.18.0.1", "198.18.0.2")
                       .udp(1, 2)
                       .build())
                .action,
            XDP_PASS)
      << "a third VLAN tag is beyond what the parser reads";
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_NOT_IP), 2u);
  EXPECT_EQ(fw.hits(0), 0u);
}

TEST_F(Firewall, EventsAreSkippedAndCountedPastTheRingThreshold) {
  FirewallProgram fw(Action::allow, /*ring_threshold=*/0);
  fw.install({rule(1, Action::deny)});
  for (int i = 0; i < 3; ++i)
    fw.run(PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).build());
  EXPECT_EQ(fw.drain_events().size(), 1u) << "only the first fits under a threshold of 0 bytes";
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_EVENTS_DROPPED), 2u);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_DROPPED), 3u) << "verdicts do not depend on the ring";
}

// A flood of denied packets is not a flood of events: past event_rate a
// second (per CPU) verdicts go on, counted, without a record each.
TEST_F(Firewall, VerdictEventsPastTheirRateAreCountedNotWritten) {
  FirewallProgram fw;
  fw.set_event_rate(100);
  fw.install({rule(1, Action::deny)});
  const auto pkt = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).build();
  // One test run: one CPU, and ~0.1 ms for all of them, well inside the
  // budget's one-second window.
  EXPECT_EQ(fw.run(pkt, 1000).action, XDP_DROP);
  const auto ev = fw.drain_events();
  ASSERT_EQ(ev.size(), 100u);
  EXPECT_EQ(ev.front().rule_id, 1u);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_EVENTS_LIMITED), 900u);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_EVENTS_DROPPED), 0u) << "the ring was never full";
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_DROPPED), 1000u) << "verdicts do not depend on the budget";
  EXPECT_EQ(fw.hits(0), 1000u);

  // 0: every verdict is an event.
  fw.set_event_rate(0);
  fw.install({rule(1, Action::deny)});
  EXPECT_EQ(fw.run(pkt, 1000).action, XDP_DROP);
  EXPECT_EQ(fw.drain_events().size(), 1000u);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_EVENTS_LIMITED), 900u);
}

TEST_F(Firewall, ReplacingTheRuleSetChangesVerdictsAtOnce) {
  FirewallProgram fw;
  const auto pkt = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).build();
  fw.install({rule(1, Action::allow)});
  EXPECT_EQ(fw.run(pkt).action, XDP_PASS);
  fw.install({rule(2, Action::deny)});
  EXPECT_EQ(fw.run(pkt).action, XDP_DROP);
  fw.install({});
  EXPECT_EQ(fw.run(pkt).action, XDP_PASS);
}

TEST_F(Firewall, LargestRuleSetLoadsAndMatchesItsLastRule) {
  FirewallProgram fw;
  std::vector<Rule> rules;
  for (uint32_t i = 0; i < RAMPART_FW_MAX_RULES; ++i) {
    Rule r = rule(i + 1, Action::allow);
    r.protocol = 6;
    r.dst_port = rampart::firewall::PortRange{static_cast<uint16_t>(i % 60000 + 1),
                                              static_cast<uint16_t>(i % 60000 + 1)};
    r.src = cidr(("198.18." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256) + "/32")
                     .c_str());
    rules.push_back(r);
  }
  rules.back().action = Action::deny;
  const uint32_t last = RAMPART_FW_MAX_RULES - 1;
  fw.install(rules);
  const auto res = fw.run(
      PacketBuilder()
          .ipv4("198.18." + std::to_string(last / 256 % 256) + "." + std::to_string(last % 256),
                "198.18.0.2")
          .tcp(9, last % 60000 + 1)
          .build());
  EXPECT_EQ(res.action, XDP_DROP);
  EXPECT_EQ(fw.hits(last), 1u);
}

// Random rule sets and random packets: the kernel must agree with the
// brute-force reference on which rule (if any) matches every packet.
// Random rules and probes over small pools of addresses and ports, so that
// rules overlap and packets reach many of them.
class RandomRules {
 public:
  explicit RandomRules(uint32_t seed) : rng_(seed) {}
  int pick(int n) { return static_cast<int>(rng_() % n); }

  Rule rule(uint32_t id) {
    static const char* v4pool[] = {"198.18.0.0/15",   "198.18.0.0/16", "198.18.1.0/24",
                                   "198.18.1.128/25", "198.18.1.7/32", "198.19.0.0/16",
                                   "198.19.200.0/22", "0.0.0.0/0"};
    static const char* v6pool[] = {"2001:db8::/32",     "2001:db8:1::/48", "2001:db8:1::/64",
                                   "2001:db8:1::7/128", "2001:db8:2::/48", "::/0"};
    Rule r = ::rule(id, Action::log);  // log: passes, and metadata names the rule
    r.priority = pick(50);
    const bool v6 = pick(3) == 0;
    // Mostly specific sources (the /0 entries are last in each pool), so
    // that no early wildcard shadows everything after it.
    if (pick(5)) r.src = cidr(v6 ? v6pool[pick(5)] : v4pool[pick(7)]);
    if (pick(3) == 0) r.dst = cidr(v6 ? v6pool[pick(6)] : v4pool[pick(8)]);
    const int proto = pick(5);
    r.protocol = proto == 0   ? 6
                 : proto == 1 ? 17
                 : proto == 2 ? (v6 ? 58 : 1)
                              : rampart::firewall::kAnyProtocol;
    if ((r.protocol == 6 || r.protocol == 17 || r.protocol == -1) && pick(2)) {
      const uint16_t lo = static_cast<uint16_t>(pick(100));
      r.dst_port = rampart::firewall::PortRange{lo, static_cast<uint16_t>(lo + pick(20))};
    }
    if ((r.protocol == 6 || r.protocol == 17 || r.protocol == -1) && pick(4) == 0) {
      r.src_port = rampart::firewall::PortRange{static_cast<uint16_t>(pick(50)), 60000};
    }
    if (r.protocol == 6 && pick(3) == 0)
      r.tcp_flags = rampart::firewall::TcpFlags{0x12, static_cast<uint8_t>(pick(2) ? 0x02 : 0x12)};
    if (pick(4) == 0) r.vlan_id = static_cast<uint16_t>(1 + pick(3));
    if (pick(10) == 0) r.enabled = false;
    return r;
  }

  struct Probe {
    rampart::firewall::PacketFields fields;
    std::vector<uint8_t> frame;
    std::string what;
  };
  Probe probe() {
    Probe p;
    rampart::firewall::PacketFields& pf = p.fields;
    PacketBuilder b;
    pf.vlan_id = static_cast<uint16_t>(pick(4));
    if (pf.vlan_id) b.vlan(pf.vlan_id);
    const bool v6 = pick(3) == 0;
    std::string src, dst;
    if (v6) {
      src = "2001:db8:" + std::to_string(pick(3)) + "::" + std::to_string(pick(9));
      dst = "2001:db8:" + std::to_string(pick(3)) + "::" + std::to_string(pick(9));
      b.ipv6(src, dst);
      pf.family = 6;
      inet_pton(AF_INET6, src.c_str(), pf.src.data());
      inet_pton(AF_INET6, dst.c_str(), pf.dst.data());
    } else {
      src = "198." + std::to_string(18 + pick(2)) + "." +
            std::to_string(pick(3) == 0 ? 200 + pick(4) : pick(2)) + "." +
            std::to_string(pick(2) ? 7 : pick(256));
      dst = "198." + std::to_string(18 + pick(2)) + "." + std::to_string(pick(2)) + "." +
            std::to_string(pick(256));
      b.ipv4(src, dst);
      pf.family = 4;
      inet_pton(AF_INET, src.c_str(), pf.src.data());
      inet_pton(AF_INET, dst.c_str(), pf.dst.data());
    }
    const int kind = pick(3);
    pf.src_port = static_cast<uint16_t>(pick(120));
    pf.dst_port = static_cast<uint16_t>(pick(120));
    if (kind == 0) {
      pf.protocol = 6;
      pf.tcp_flags = pick(2) ? 0x02 : 0x12;
      pf.has_ports = true;
      b.tcp(pf.src_port, pf.dst_port, pf.tcp_flags);
    } else if (kind == 1) {
      pf.protocol = 17;
      pf.has_ports = true;
      b.udp(pf.src_port, pf.dst_port);
    } else {
      pf.protocol = v6 ? 58 : 1;
      pf.src_port = pf.dst_port = 0;
      b.icmp();
    }
    p.frame = b.build();
    p.what = src + " -> " + dst + " proto " + std::to_string(pf.protocol) + " ports " +
             std::to_string(pf.src_port) + "/" + std::to_string(pf.dst_port) + " vlan " +
             std::to_string(pf.vlan_id);
    return p;
  }

 private:
  std::mt19937 rng_;
};

// The id of the rule a linear scan of enabled `ordered` rules picks; 0: none.
uint32_t linear_id(const std::vector<Rule>& ordered, const rampart::firewall::PacketFields& pf) {
  const uint32_t i = rampart::firewall::classify_linear(ordered, pf);
  return i == rampart::firewall::kNoRule ? 0 : ordered[i].id;
}

TEST_F(Firewall, AgreesWithBruteForceOnRandomRuleSets) {
  RandomRules gen(20261127);
  int misses = 0;
  for (int round = 0; round < 6; ++round) {
    const int nrules = std::vector<int>{1, 5, 63, 64, 65, 300}[round];
    std::vector<Rule> rules;
    for (int i = 0; i < nrules; ++i) rules.push_back(gen.rule(i + 1));
    FirewallProgram fw;
    fw.install(rules);
    const auto ordered = rampart::firewall::priority_order(rules);
    std::set<uint32_t> seen_ids;
    for (int n = 0; n < 400; ++n) {
      const auto probe = gen.probe();
      const auto res = fw.run(probe.frame);
      ASSERT_EQ(res.action, XDP_PASS);
      ASSERT_TRUE(res.has_meta);
      const uint32_t want_id = linear_id(ordered, probe.fields);
      seen_ids.insert(want_id);
      ASSERT_EQ(res.meta.rule_id, want_id)
          << "round " << round << " packet " << n << " " << probe.what;
    }
    // The test means something only if packets reach many different
    // rules, and (over all rounds) the default policy too.
    EXPECT_GE(seen_ids.size(), std::min<size_t>(ordered.size(), 5)) << "round " << round;
    misses += seen_ids.count(0);
  }
  EXPECT_GT(misses, 0);
}

// Writes made while a thread of their own runs probes through `fw`, frame
// i % frames.size() each: write(w) makes write w, appends verdicts[w + 1]
// (each probe's verdict once it is in effect) and says whether it went in
// place. Each probe's verdict(result) must be one that a state current
// during its run gives: verdicts[from] up to the one the write under way
// then made. Returns how many probes ran while their verdict changed.
// Each write waits until every frame has run once in the state the write
// before made: each generation is probed whole, however busy the machine,
// so the count of changing verdicts does not depend on the scheduler.
struct UnderTraffic {
  size_t probes = 0, changing = 0;
  int in_place = 0;
};
UnderTraffic writes_under_traffic(
    FirewallProgram& fw, const std::vector<std::vector<uint8_t>>& frames, int writes,
    const std::function<uint32_t(const rampart::test::XdpRunResult&)>& verdict,
    std::vector<std::vector<uint32_t>>& verdicts, const std::function<bool(int)>& write,
    const std::function<std::string(uint32_t)>& describe) {
  struct Seen {
    uint32_t probe, verdict;
    uint64_t from, to;  // writes done before and after the run
  };
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> probed{0};  // frames.size() probes have run since this many writes
  std::atomic<bool> stop{false};
  std::vector<Seen> seen;
  std::thread traffic([&] {
    uint64_t last_from = 0, kept = 0;
    for (uint32_t n = 0; !stop.load(); ++n) {
      const uint32_t i = n % static_cast<uint32_t>(frames.size());
      const uint64_t from = done.load(std::memory_order_acquire);
      const auto res = fw.run(frames[i]);
      const uint64_t to = done.load(std::memory_order_acquire);
      // At most 500 a write: enough to judge each, bounded under sanitizers.
      if (from != last_from) kept = 0, last_from = from;
      if (++kept <= 500) seen.push_back({i, verdict(res), from, to});
      if (kept == frames.size()) probed.store(from, std::memory_order_release);
    }
  });
  struct Join {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Join() {
      stop = true;
      t.join();
    }
  };
  UnderTraffic out;
  {
    Join join{stop, traffic};
    for (int w = 0; w < writes; ++w) {
      out.in_place += write(w);
      done.store(w + 1, std::memory_order_release);
      while (probed.load(std::memory_order_acquire) < uint64_t(w + 1)) std::this_thread::yield();
    }
  }
  out.probes = seen.size();
  EXPECT_GT(seen.size(), size_t(writes)) << "traffic ran during the writes";
  size_t wrong = 0;
  for (const auto& s : seen) {
    const uint64_t last = std::min<uint64_t>(s.to + 1, writes);
    bool one = false;
    for (uint64_t k = s.from; k <= last && !one; ++k) one = verdicts[k][s.probe] == s.verdict;
    if (!one) {
      ++wrong;
      ADD_FAILURE() << "probe " << s.probe << " (" << describe(s.probe) << ") got " << s.verdict
                    << " during writes " << s.from << ".." << s.to;
      if (wrong > 5) break;
    }
    out.changing += verdicts[s.from][s.probe] != verdicts[last][s.probe];
  }
  EXPECT_EQ(wrong, 0u) << "packets judged by no state current while they ran";
  std::printf("%zu probes during %d writes (%d in place), %zu while their verdict changed\n",
              out.probes, writes, out.in_place, out.changing);
  return out;
}

// Rules written in place under traffic, as the engine writes them: 1,000
// writes (a rule added, replaced or deleted each), every one into the live
// instance while another thread runs probes through the root. Each probe's
// verdict must be the one some generation current during its run gives;
// a packet that read tables half of one generation and half of another
// (or a position taken back too early) would get a verdict none gives.
TEST_F(Firewall, RulesWrittenInPlaceUnderTrafficJudgeEachPacketByOneGeneration) {
  RandomRules gen(20261201);
  std::map<uint32_t, Rule> rules;
  uint32_t next_id = 1;
  for (; next_id <= 300; ++next_id) rules[next_id] = gen.rule(next_id);
  auto ordered = [&] {
    std::vector<Rule> v;
    for (const auto& [id, r] : rules) v.push_back(r);
    return rampart::firewall::priority_order(v);
  };
  std::vector<RandomRules::Probe> probes;
  for (int i = 0; i < 64; ++i) probes.push_back(gen.probe());
  // verdicts[k][i]: probe i's verdict in generation k (after k writes).
  std::vector<std::vector<uint32_t>> verdicts(1);
  for (const auto& p : probes) verdicts[0].push_back(linear_id(ordered(), p.fields));
  verdicts.reserve(1001);

  FirewallProgram fw;
  rampart::bpf::GracePeriods grace;
  ASSERT_TRUE(grace.available());
  auto tables = std::make_unique<rampart::firewall::RuleTables>(ordered(), Action::allow, 0);
  ASSERT_FALSE(fw.apply(*tables, grace.request())) << "built whole: an instance";

  std::vector<std::vector<uint8_t>> frames;
  for (const auto& p : probes) frames.push_back(p.frame);
  constexpr int kWrites = 1000;
  const auto write = [&](int) {
    tables->reclaim([&](uint64_t t) { return grace.done(t); });
    std::optional<Rule> before, after;
    const int op = gen.pick(10);
    if (op < 4 || rules.empty()) {
      after = gen.rule(next_id++);
    } else {
      auto it = rules.begin();
      std::advance(it, gen.pick(static_cast<int>(rules.size())));
      before = it->second;
      if (op < 8) after = gen.rule(it->first);  // another rule under its id
    }
    if (before) rules.erase(before->id);
    if (after) rules[after->id] = *after;
    std::vector<uint32_t> next;
    const auto now = ordered();
    for (const auto& p : probes) next.push_back(linear_id(now, p.fields));
    verdicts.push_back(std::move(next));
    if (!tables->change(before ? &*before : nullptr, after ? &*after : nullptr)) {
      tables = std::make_unique<rampart::firewall::RuleTables>(ordered(), Action::allow, 0,
                                                               tables->capacity());
    }
    if (const uint64_t t = tables->next_slot_ticket()) {
      if (!grace.wait(t)) throw std::runtime_error("no grace period");
    }
    return fw.apply(*tables, grace.request());
  };
  const auto r = writes_under_traffic(
      fw, frames, kWrites,
      [](const rampart::test::XdpRunResult& res) {
        return res.has_meta ? res.meta.rule_id : 0xffffffffu;
      },
      verdicts, write, [&](uint32_t i) { return probes[i].what; });

  EXPECT_GT(r.in_place, kWrites * 9 / 10);
  EXPECT_GT(r.changing, 100u) << "probes whose verdict the writes changed while they ran";
  // The last generation, once the writes are done.
  for (size_t i = 0; i < probes.size(); ++i)
    EXPECT_EQ(fw.run(probes[i].frame).meta.rule_id, verdicts[kWrites][i]) << probes[i].what;
}

// ---- source blocklist (DIR-24-8 for IPv4, per-length hashes for IPv6) ----

rampart::firewall::CompiledBlocklist blocklist_of(std::initializer_list<const char*> prefixes) {
  std::vector<rampart::firewall::Cidr> list;
  for (const char* p : prefixes) list.push_back(cidr(p));
  return rampart::firewall::compile_blocklist(list);
}

std::vector<uint8_t> udp_from(const std::string& src) {
  PacketBuilder b;
  if (src.find(':') != std::string::npos) {
    b.ipv6(src, "2001:db8:aaaa::1");
  } else {
    b.ipv4(src, "198.18.0.2");
  }
  return b.udp(5000, 53).build();
}

TEST_F(Firewall, BlocklistDropsListedSourcesOnly) {
  FirewallProgram fw;
  fw.install({}, blocklist_of({"10.0.0.0/8", "192.0.2.0/24", "198.51.100.7", "198.51.100.128/25",
                               "2001:db8::/32", "2001:db9::1/128"}));
  for (const char* src : {"10.1.2.3", "192.0.2.77", "198.51.100.7", "198.51.100.200",
                          "2001:db8:1::5", "2001:db9::1"}) {
    EXPECT_EQ(fw.run(udp_from(src)).action, XDP_DROP) << src;
  }
  for (const char* src :
       {"11.0.0.1", "192.0.3.1", "198.51.100.8", "198.51.100.127", "2001:db7::5", "2001:db9::2"}) {
    EXPECT_EQ(fw.run(udp_from(src)).action, XDP_PASS) << src;
  }
  // The destination is not what a source blocklist looks at.
  EXPECT_EQ(fw.run(PacketBuilder().ipv4("11.0.0.1", "10.0.0.1").udp(1, 2).build()).action,
            XDP_PASS);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_BLOCKLISTED), 6u);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_DROPPED), 6u);
  const auto ev = fw.drain_events();
  ASSERT_EQ(ev.size(), 6u);
  EXPECT_EQ(ev[0].action, RAMPART_FW_DENY);
  EXPECT_EQ(ev[0].rule_id, 0u);
  EXPECT_TRUE(ev[0].flags & RAMPART_FW_EV_BLOCKLIST);
  EXPECT_EQ(ev[0].src_addr[0], 10);
}

TEST_F(Firewall, BlocklistTakesItsPlaceInThePriorityOrder) {
  FirewallProgram fw;
  Rule early = rule(1, Action::allow);  // priority 1 < blocklist priority 10: an exception
  early.src = cidr("10.9.9.9/32");
  Rule late = rule(20, Action::allow);  // after the blocklist: cannot unblock
  late.src = cidr("10.8.8.8/32");
  Rule deny = rule(30, Action::deny);
  deny.protocol = 17;
  fw.install({early, late, deny}, blocklist_of({"10.0.0.0/8"}), 10);
  const auto r = fw.run(udp_from("10.9.9.9"));
  EXPECT_EQ(r.action, XDP_PASS);
  EXPECT_EQ(r.meta.rule_id, 1u);
  EXPECT_EQ(fw.run(udp_from("10.8.8.8")).action, XDP_DROP);
  EXPECT_EQ(fw.run(udp_from("10.7.7.7")).action, XDP_DROP);
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_BLOCKLISTED), 2u);
  EXPECT_EQ(fw.run(udp_from("11.7.7.7")).action, XDP_DROP) << "rule 30 still denies UDP";
  EXPECT_EQ(fw.stat(RAMPART_FW_STAT_BLOCKLISTED), 2u);
  const auto ev = fw.drain_events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[2].rule_id, 30u);
  EXPECT_FALSE(ev[2].flags & RAMPART_FW_EV_BLOCKLIST);
}

// Rules written into the live tables take their place around the
// blocklist by priority too, also when no compiled rule is ahead of it.
TEST_F(Firewall, RulesWrittenInPlaceTakeTheirPlaceAroundTheBlocklist) {
  FirewallProgram fw;
  Rule deny = rule(30, Action::deny);  // compiled, after the blocklist (priority 10)
  deny.protocol = 17;
  deny.src = cidr("11.0.0.0/8");  // the source field in use: rules written may name one
  rampart::firewall::RuleTables tables({deny}, Action::allow, 10);
  rampart::firewall::Blocklist bl({cidr("10.0.0.0/8")});
  ASSERT_FALSE(fw.apply(tables, 0, &bl));
  ASSERT_EQ(tables.set().block_index, 0u) << "no compiled rule ahead of the blocklist";
  EXPECT_EQ(fw.run(udp_from("10.9.9.9")).action, XDP_DROP);

  Rule late = rule(20, Action::allow);  // after the blocklist: cannot unblock
  late.src = cidr("10.8.8.8/32");
  late.protocol = 17;
  ASSERT_TRUE(tables.change(nullptr, &late));
  ASSERT_TRUE(fw.apply(tables, 0, &bl)) << "written in place";
  EXPECT_EQ(fw.run(udp_from("10.8.8.8")).action, XDP_DROP);

  Rule early = rule(1, Action::allow);  // priority 1 < 10: an exception
  early.src = cidr("10.9.9.9/32");
  early.protocol = 17;
  ASSERT_TRUE(tables.change(nullptr, &early));
  ASSERT_TRUE(fw.apply(tables, 0, &bl));
  const auto r = fw.run(udp_from("10.9.9.9"));
  EXPECT_EQ(r.action, XDP_PASS) << "the exception written since the compile";
  EXPECT_EQ(r.meta.rule_id, 1u);
  EXPECT_EQ(fw.run(udp_from("10.7.7.7")).action, XDP_DROP);
  EXPECT_EQ(fw.run(udp_from("11.7.7.7")).action, XDP_DROP) << "rule 30 still denies UDP";

  ASSERT_TRUE(tables.change(&early, nullptr));
  ASSERT_TRUE(fw.apply(tables, 0, &bl));
  EXPECT_EQ(fw.run(udp_from("10.9.9.9")).action, XDP_DROP) << "the exception deleted";
}

// Blocklist entries written into the live tables while traffic runs: a
// source listed (or not) before and after a write is judged so during it,
// whatever blocks the write moved and whatever it reused.
TEST_F(Firewall, BlocklistWrittenInPlaceUnderTrafficFindsEachSourceAsBeforeOrAsAfter) {
  std::mt19937 rng(20261201);
  // In four /16s (16 blocks), /23-/32: most writes move a block.
  auto hot = [&] {
    static const char* const homes[] = {"10.1.0.0", "10.2.0.0", "172.16.0.0", "192.168.0.0"};
    rampart::firewall::Cidr c = cidr(homes[rng() % 4]);
    c.prefix_len = static_cast<uint8_t>(rng() % 5 == 0 ? 23 + rng() % 2 : 25 + rng() % 8);
    const uint32_t bits = static_cast<uint32_t>(rng()) & 0xffff;
    c.addr[2] = static_cast<uint8_t>(bits >> 8);
    c.addr[3] = static_cast<uint8_t>(bits);
    for (unsigned bit = c.prefix_len; bit < 32; ++bit) c.addr[bit / 8] &= ~(0x80 >> (bit % 8));
    return c;
  };
  std::vector<rampart::firewall::Cidr> base, added;
  for (int i = 0; i < 1500; ++i) base.push_back(hot());
  rampart::firewall::Blocklist live(base);
  struct Probe {
    std::array<uint8_t, 4> addr;
    std::vector<uint8_t> frame;
  };
  std::vector<Probe> probes;
  for (int i = 0; i < 32; ++i) {
    auto h = hot();
    if (i % 2) h = base[rng() % base.size()];  // inside a listed prefix
    const uint32_t host = static_cast<uint32_t>(rng()) & ~(~0u << (32 - h.prefix_len));
    for (int b = 0; b < 4; ++b) h.addr[b] |= static_cast<uint8_t>(host >> (24 - 8 * b));
    h.prefix_len = 32;
    const std::string src = rampart::firewall::format_cidr(h);
    probes.push_back(
        {{h.addr[0], h.addr[1], h.addr[2], h.addr[3]}, udp_from(src.substr(0, src.find('/')))});
  }
  auto listed = [&] {  // 1: dropped
    std::vector<uint32_t> v;
    for (const auto& p : probes) v.push_back(blocklisted(live.tables(), 4, p.addr.data()));
    return v;
  };
  std::vector<std::vector<uint32_t>> verdicts = {listed()};  // after k writes
  constexpr int kWrites = 1000;
  verdicts.reserve(kWrites + 1);

  FirewallProgram fw;
  rampart::bpf::GracePeriods grace;
  ASSERT_TRUE(grace.available());
  rampart::firewall::RuleTables tables({}, Action::allow, 0);
  ASSERT_FALSE(fw.apply(tables, grace.request(), &live)) << "built whole: an instance";

  std::vector<std::vector<uint8_t>> frames;
  for (const auto& p : probes) frames.push_back(p.frame);
  const auto write = [&](int w) {
    const auto passed = [&](uint64_t t) { return grace.done(t); };
    tables.reclaim(passed);
    live.reclaim(passed);
    for (int op = 0; op < 1 + w % 3; ++op) {
      if (added.empty() || rng() % 5 < 3) {
        // Most of them over a probe's source: verdicts change under traffic.
        auto c = hot();
        if (rng() % 4) {
          const auto& a = probes[rng() % probes.size()].addr;
          std::copy(a.begin(), a.end(), c.addr.begin());
          for (unsigned bit = c.prefix_len; bit < 32; ++bit)
            c.addr[bit / 8] &= ~(0x80 >> (bit % 8));
        }
        added.push_back(c);
        live.add(added.back());
      } else {
        const size_t at = rng() % added.size();
        live.remove(added[at]);
        added.erase(added.begin() + static_cast<std::ptrdiff_t>(at));
      }
    }
    verdicts.push_back(listed());
    if (const uint64_t t = tables.next_slot_ticket()) {
      if (!grace.wait(t)) throw std::runtime_error("no grace period");
    }
    return fw.apply(tables, grace.request(), &live);
  };
  const auto r = writes_under_traffic(
      fw, frames, kWrites,
      [](const rampart::test::XdpRunResult& res) { return res.action == XDP_DROP ? 1u : 0u; },
      verdicts, write,
      [&](uint32_t i) {
        const auto& a = probes[i].addr;
        return std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) +
               "." + std::to_string(a[3]);
      });
  EXPECT_GT(r.in_place, kWrites * 9 / 10);
  EXPECT_GT(r.changing, 10u) << "probes whose verdict the writes changed while they ran";
  for (size_t i = 0; i < probes.size(); ++i)
    EXPECT_EQ(fw.run(probes[i].frame).action, verdicts[kWrites][i] ? XDP_DROP : XDP_PASS) << i;
}

TEST_F(Firewall, BlocklistAgreesWithTheReferenceOnARandomLargeList) {
  std::mt19937 rng(7);
  std::vector<rampart::firewall::Cidr> list;
  auto random_cidr = [&](uint8_t family, unsigned len) {
    rampart::firewall::Cidr c;
    c.family = family;
    c.prefix_len = static_cast<uint8_t>(len);
    for (unsigned i = 0; i < (family == 4 ? 4u : 16u); ++i) c.addr[i] = rng();
    for (unsigned bit = len; bit < (family == 4 ? 32u : 128u); ++bit)
      c.addr[bit / 8] &= ~(0x80 >> (bit % 8));
    return c;
  };
  for (int i = 0; i < 50000; ++i) list.push_back(random_cidr(4, 12 + rng() % 21));
  for (int i = 0; i < 2000; ++i) list.push_back(random_cidr(6, 16 + rng() % 113));
  const auto bl = rampart::firewall::compile_blocklist(list);
  FirewallProgram fw;
  fw.install({}, bl);
  int dropped = 0;
  for (int n = 0; n < 3000; ++n) {
    // Probes inside listed prefixes (two in three) and anywhere.
    const auto& p = list[rng() % list.size()];
    auto h = random_cidr(p.family, p.family == 4 ? 32 : 128);
    if (n % 3) {
      for (unsigned bit = 0; bit < p.prefix_len; ++bit) {
        const uint8_t m = 0x80 >> (bit % 8);
        h.addr[bit / 8] = (h.addr[bit / 8] & ~m) | (p.addr[bit / 8] & m);
      }
    }
    const bool want = rampart::firewall::blocklisted(bl, h.family, h.addr.data());
    const std::string src = rampart::firewall::format_cidr(h);
    const auto res = fw.run(udp_from(src.substr(0, src.find('/'))));
    ASSERT_EQ(res.action, want ? XDP_DROP : XDP_PASS) << src;
    dropped += want;
  }
  EXPECT_GT(dropped, 1500);
  EXPECT_LT(dropped, 3000);
}

}  // namespace

// Tables changed one prefix at a time (the API's blocklist entries), with
// groups moved to larger blocks and blocks freed and reused: the kernel
// reads them as it reads a list compiled from scratch.
TEST_F(Firewall, ABlocklistChangedPrefixByPrefixDropsWhatTheSameListCompiledWholeDrops) {
  std::mt19937 rng(20261130);
  auto random_cidr = [&](uint8_t family, unsigned len) {
    rampart::firewall::Cidr c;
    c.family = family;
    c.prefix_len = static_cast<uint8_t>(len);
    for (unsigned i = 0; i < (family == 4 ? 4u : 16u); ++i) c.addr[i] = rng();
    if (family == 4 && rng() % 2) c.addr[0] = 10;  // crowded: groups move between blocks
    for (unsigned bit = len; bit < (family == 4 ? 32u : 128u); ++bit)
      c.addr[bit / 8] &= ~(0x80 >> (bit % 8));
    return c;
  };
  std::vector<rampart::firewall::Cidr> base, added;
  for (int i = 0; i < 20000; ++i) base.push_back(random_cidr(4, 14 + rng() % 19));
  for (int i = 0; i < 300; ++i) base.push_back(random_cidr(6, 32 + rng() % 97));
  rampart::firewall::Blocklist live(base);
  for (int op = 0; op < 6000; ++op) {
    if (added.empty() || rng() % 3) {
      added.push_back(rng() % 10 ? random_cidr(4, 16 + rng() % 17)
                                 : random_cidr(6, 48 + rng() % 81));
      live.add(added.back());
    } else {
      const size_t at = rng() % added.size();
      live.remove(added[at]);
      added.erase(added.begin() + static_cast<std::ptrdiff_t>(at));
    }
  }
  std::vector<rampart::firewall::Cidr> all = base;
  all.insert(all.end(), added.begin(), added.end());
  const auto whole = rampart::firewall::compile_blocklist(all);
  FirewallProgram fw;
  fw.install({}, live.tables());
  int dropped = 0;
  for (int n = 0; n < 4000; ++n) {
    const auto& p = n % 2 ? added[rng() % added.size()] : all[rng() % all.size()];
    auto h = random_cidr(p.family, p.family == 4 ? 32 : 128);
    if (n % 4) {  // inside the prefix, else anywhere
      for (unsigned bit = 0; bit < p.prefix_len; ++bit) {
        const uint8_t m = 0x80 >> (bit % 8);
        h.addr[bit / 8] = (h.addr[bit / 8] & ~m) | (p.addr[bit / 8] & m);
      }
    }
    const bool want = rampart::firewall::blocklisted(whole, h.family, h.addr.data());
    const std::string src = rampart::firewall::format_cidr(h);
    ASSERT_EQ(fw.run(udp_from(src.substr(0, src.find('/')))).action, want ? XDP_DROP : XDP_PASS)
        << src;
    dropped += want;
  }
  EXPECT_GT(dropped, 2000);
  EXPECT_LT(dropped, 4000);
}

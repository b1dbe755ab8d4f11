// SPDX-License-Identifier: Apache-2.0
// bench/xdp_firewall_live: packets per second dropped on a veth in native
// mode, fed by an XDP_TX generator running with BPF_F_TEST_XDP_LIVE_FRAMES
// on the peer. Everything happens inside two namespaces the benchmark
// creates and removes. In turns, in every round, on the same veth and the
// same frame (64-byte TCP, denied by the first of 4,096 rules):
//
//   floor       a program that counts the frame and drops it
//   xdp-filter  xdpfilt_alw_all (default allow), the frame's source listed:
//               dropped after the destination and source lookups
//   root        the firewall as rampartd runs it (xdp_root -> firewall
//               stage), its events read by a thread of this benchmark
//   entry       the design the root replaced: an entry program tail-calling
//               the same rule set, its events read the same way
//   rampartd    the real agent: rampartd with the firewall plugin and the
//               same rules from its config, reading and handling every event
//   empty       rampartd with no engine and agent.fail_closed: the root
//               alone drops every frame
//
// Counts come from each program's own counters (rampartd's through its
// /metrics), rampartd's CPU from /proc.
//
//   sudo build/bin/bench_xdp_firewall_live [frames per run] [rounds] [event rate]
//
// The event rate (verdict events a second per CPU; 0: every verdict) is
// the firewall's `event_rate` setting, its default unless given.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/mount.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bpf/libbpf_log.hpp"
#include "daemon_process.hpp"
#include "firewall_program.hpp"
#include "http_client.hpp"
#include "live_lab.hpp"
#include "log/logger.hpp"
#include "metrics_check.hpp"
#include "netns_lab.hpp"
#include "packet_builder.hpp"
#include "poll.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace {

using rampart::test::NetnsLab;
using namespace rampart::bench;

uint64_t g_frames = 10000000;
constexpr uint32_t kRules = 4096;

// Reads a ring buffer on a thread of its own until destroyed, as a
// consumer that does nothing with the records would.
class RingReader {
 public:
  explicit RingReader(int map_fd)
      : ring_(ring_buffer__new(
            map_fd,
            [](void* n, void*, size_t) {
              static_cast<std::atomic<uint64_t>*>(n)->fetch_add(1, std::memory_order_relaxed);
              return 0;
            },
            &records_, nullptr)) {
    if (!ring_) throw std::runtime_error("ring_buffer__new failed");
    thread_ = std::thread([this] {
      while (!stop_.load()) ring_buffer__poll(ring_, 50);
      ring_buffer__consume(ring_);
    });
  }
  ~RingReader() { stop(); }
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;
  // Stops reading (what is left in the ring read first): the records read.
  uint64_t stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
      ring_buffer__free(ring_);
    }
    return records_.load();
  }

 private:
  ring_buffer* ring_;
  std::atomic<uint64_t> records_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// CPU seconds (user + system) a process has used.
std::string rules_yaml() {
  std::string y =
      "[{id: 1, action: deny, protocol: tcp, src_ip: 192.0.2.1/32, dst_port: \"40001\"}";
  for (uint32_t i = 2; i <= kRules; ++i) {
    y += ", {id: " + std::to_string(i) + ", action: allow, protocol: tcp, src_ip: 10." +
         std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24, dst_port: \"" +
         std::to_string(i) + "\"}";
  }
  return y + "]";
}

// rampartd protecting B, with its own bpffs, configuration and state, and
// its /metrics read from inside B.
struct Run {
  double seconds = 0;
  uint64_t dropped = 0;
  uint64_t events = 0;          // read by the consumer
  uint64_t events_skipped = 0;  // not written: past the event budget, or the ring full
  double cpu = 0;               // rampartd's CPU seconds during the run
  double mpps() const { return static_cast<double>(dropped) / seconds / 1e6; }
};

const char* kNames[] = {"floor", "xdp-filter", "root", "entry", "rampartd", "empty"};
constexpr size_t kConfigs = std::size(kNames);

const std::string kDropped =
    "rampart_kernel_packets_total{outcome=\"dropped\",program=\"xdp_firewall\"";
const std::string kRingFull =
    "rampart_kernel_events_lost_total{program=\"xdp_firewall\",reason=\"events_dropped\"";
const std::string kLimited =
    "rampart_kernel_events_lost_total{program=\"xdp_firewall\",reason=\"events_limited\"";
const std::string kDenyEvents = "rampart_firewall_events_total{action=\"deny\"";
const std::string kUnclaimed =
    "rampart_kernel_unclaimed_packets_total{outcome=\"unclaimed_dropped\",program=\"xdp_root\"";

}  // namespace

int main(int argc, char** argv) {
  // libbpf's info/debug lines (CO-RE relocations) drown the table: its
  // warnings only, through the core's logger like the programs' loader does.
  rampart::log::Logger::global().configure(rampart::log::Level::warn, rampart::log::Format::text);
  rampart::bpf::route_libbpf_log();
  if (argc > 1) g_frames = std::stoull(argv[1]);
  const size_t rounds = argc > 2 ? std::stoul(argv[2]) : 3;
  const uint32_t event_rate =
      argc > 3 ? static_cast<uint32_t>(std::stoul(argv[3])) : rampart::firewall::kDefaultEventRate;
  NetnsLab lab;
  // The generator's veth needs an XDP program too for XDP_TX to reach the peer.
  Bpf gen(rampart::test::path::bpf() + "/xdp_gen_tx.bpf.o");
  Bpf local(rampart::test::path::bpf() + "/xdp_parse_pass.bpf.o");
  attach_a(lab, local.prog("xdp_parse_pass"));
  const auto frame = rampart::test::PacketBuilder()
                         .ipv4("192.0.2.1", "192.0.2.100")
                         .tcp(1234, 40001)
                         .payload(10)
                         .build();

  // The firewall as rampartd loads it, without rampartd: 4,096 rules, the
  // generated frame denied by the first (the same set as rules_yaml()).
  rampart::test::FirewallProgram fw;
  std::vector<rampart::firewall::Rule> rules;
  for (uint32_t i = 1; i <= kRules; ++i) {
    rampart::firewall::Rule r;
    r.id = i;
    r.action = rampart::firewall::Action::allow;
    std::string err;
    r.src = *rampart::firewall::parse_cidr(
        "10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24", err);
    r.protocol = 6;
    r.dst_port = rampart::firewall::PortRange{static_cast<uint16_t>(i), static_cast<uint16_t>(i)};
    rules.push_back(r);
  }
  std::string err;
  rules[0].src = *rampart::firewall::parse_cidr("192.0.2.1/32", err);
  rules[0].dst_port = rampart::firewall::PortRange{40001, 40001};
  rules[0].action = rampart::firewall::Action::deny;
  fw.set_event_rate(event_rate);  // as rampartd's firewall has it
  fw.install(rules);
  // The old design: an entry program tail-calling the rule set.
  const uint32_t zero = 0;
  const int classifier = fw.classifier_fd();
  if (bpf_map_update_elem(local.map("bench_rules"), &zero, &classifier, BPF_ANY) != 0)
    throw std::runtime_error("bench_rules");

  Bpf xf("/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o");
  {
    // A per-CPU hash: on every CPU, the entry's low bits say "match the
    // source address" (xdp-filter counts hits in the bits above). In its
    // allow mode a listed address is dropped (in deny mode, let through).
    const uint32_t src = htonl(0xc0000201);
    const std::vector<uint64_t> mode(libbpf_num_possible_cpus(), 1);
    if (bpf_map_update_elem(xf.map("filter_ipv4"), &src, mode.data(), BPF_ANY) != 0)
      throw std::runtime_error("xdp-filter's filter_ipv4");
  }

  const std::string rules_text = rules_yaml();
  const int gen_fd = gen.prog("xdp_gen_tx");
  std::vector<std::array<Run, kConfigs>> runs(rounds);

  // One of the programs this benchmark loads, attached alone.
  auto direct = [&](int prog_fd, auto counter) {
    attach(lab, prog_fd);
    Run r;
    const uint64_t before = counter();
    r.seconds = generate(lab, gen_fd, frame, g_frames);
    r.dropped = counter() - before;
    return r;
  };
  // Verdicts without an event: past the event budget, or the ring full.
  auto skipped_events = [&] {
    return fw.stat(RAMPART_FW_STAT_EVENTS_LIMITED) + fw.stat(RAMPART_FW_STAT_EVENTS_DROPPED);
  };
  // The firewall under this benchmark, its ring read by a thread.
  auto firewall = [&](int prog_fd) {
    const uint64_t skipped = skipped_events();
    RingReader reader(fw.map_fd("events"));
    Run r = direct(prog_fd, [&] { return fw.stat(RAMPART_FW_STAT_DROPPED); });
    r.events = reader.stop();
    r.events_skipped = skipped_events() - skipped;
    return r;
  };

  for (size_t round = 0; round < rounds; ++round) {
    auto& out = runs[round];
    out[0] = direct(local.prog("xdp_drop_count"),
                    [&] { return percpu_sum(local.map("floor_drops"), 0); });
    out[1] = direct(xf.prog("xdpfilt_alw_all"),
                    [&] { return percpu_sum(xf.map("xdp_stats_map"), XDP_DROP, 2, 0); });
    // The two this benchmark compares most closely, in turns.
    if (round % 2 == 0) {
      out[2] = firewall(fw.entry_fd());
      out[3] = firewall(local.prog("xdp_entry_tail"));
    } else {
      out[3] = firewall(local.prog("xdp_entry_tail"));
      out[2] = firewall(fw.entry_fd());
    }
    attach(lab, -1);  // rampartd attaches by bpf_link: the hook must be free
    {
      Rampartd d(lab, "firewall", "",
                 "  firewall:\n    default_policy: allow\n    event_rate: " +
                     std::to_string(event_rate) + "\n    rules: " + rules_text + "\n",
                 "ready plugins=firewall,metrics refused=0");
      auto& r = out[4];
      const auto before = d.scrape();
      const double cpu = d.cpu();
      r.seconds = generate(lab, gen_fd, frame, g_frames);
      r.cpu = d.cpu() - cpu;
      // The last records reach rampartd's handler after the generator is done.
      std::string after;
      auto delta = [&](const std::string& series) {
        return Rampartd::value(after, series) - Rampartd::value(before, series);
      };
      rampart::test::poll_until(
          [&] {
            after = d.scrape();
            return delta(kDenyEvents) + delta(kRingFull) + delta(kLimited) >= delta(kDropped);
          },
          std::chrono::seconds(10));
      r.dropped = delta(kDropped);
      r.events = delta(kDenyEvents);
      r.events_skipped = delta(kRingFull) + delta(kLimited);
    }
    {
      Rampartd d(lab, "empty", "  fail_closed: true\n", "  firewall: {enabled: false}\n",
                 "ready plugins=metrics refused=0");
      auto& r = out[5];
      const auto before = Rampartd::value(d.scrape(), kUnclaimed);
      r.seconds = generate(lab, gen_fd, frame, g_frames);
      r.dropped = Rampartd::value(d.scrape(), kUnclaimed) - before;
    }
    std::printf("round %zu:", round + 1);
    for (size_t c = 0; c < kConfigs; ++c) std::printf(" %s %.2f", kNames[c], out[c].mpps());
    std::printf(" Mpps\n");
    std::fflush(stdout);
  }

  std::printf(
      "\nbench_xdp_firewall_live: %zu rounds of %llu frames (64 B TCP, denied by the first of "
      "%u rules) per configuration, from an XDP_TX generator (LIVE_FRAMES) into a veth, native XDP "
      "on the peer; event_rate %u; medians over rounds\n\n",
      rounds, static_cast<unsigned long long>(g_frames), kRules, event_rate);
  std::printf(
      "| configuration | Mpps dropped | ns/frame | events read/s | verdicts without an event | "
      "rampartd CPU |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (size_t c = 0; c < kConfigs; ++c) {
    std::vector<double> mpps, read, skipped, cpu;
    for (const auto& r : runs) {
      mpps.push_back(r[c].mpps());
      read.push_back(static_cast<double>(r[c].events) / r[c].seconds);
      skipped.push_back(r[c].dropped ? 100.0 * r[c].events_skipped / r[c].dropped : 0);
      cpu.push_back(100.0 * r[c].cpu / r[c].seconds);
    }
    char events[64] = "-", without[64] = "-", busy[64] = "-";
    if (c >= 2 && c <= 4) {
      std::snprintf(events, sizeof events, "%.0f", median(read));
      std::snprintf(without, sizeof without, "%.2f %%", median(skipped));
    }
    if (c == 4) std::snprintf(busy, sizeof busy, "%.1f %%", median(cpu));
    std::printf("| %s | %.2f | %.0f | %s | %s | %s |\n", kNames[c], median(mpps),
                1e3 / median(mpps), events, without, busy);
  }
  // Per-frame cost ratios (a rate's inverse), each from the same round.
  auto ratio = [&](size_t slow, size_t fast) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(r[fast].mpps() / r[slow].mpps());
    return median(v);
  };
  std::printf("\nper-frame cost, median of the rounds' ratios:\n");
  std::printf("  root / entry (the root against the design it replaced): %.3f\n", ratio(2, 3));
  std::printf("  rampartd / root (rampartd reading its events, against a bare reader): %.3f\n",
              ratio(4, 2));
  std::printf("  empty chain / floor (rampartd's root, fail-closed, no engine): %.3f\n",
              ratio(5, 0));
  std::printf("  rampartd / xdp-filter: %.3f\n", ratio(4, 1));
  std::printf("  rampartd / floor: %.3f\n", ratio(4, 0));
  return 0;
}

// SPDX-License-Identifier: Apache-2.0
// bench/xdp_firewall: ns/packet of the XDP firewall under BPF_PROG_TEST_RUN
// (repeat >= 1,000,000, the kernel's timer, trimmed mean of 9), for rule sets of
// 16 to 4,096 rules and packets matching the first rule, only the last, or
// none, beside a parse-only XDP_PASS floor and xdp-filter (xdp-tools) in the
// same run. Prints a table; docs/performance.md records it.
//
// The chain's root (rampartd's xdp_root, knowing no engine) is measured
// too: with no stage against a bare XDP_PASS program, and with the
// firewall as its stage against the firewall's program run directly and
// against the design it replaced (an entry program tail-calling the rules).
//
// Then the 10^6-prefix IPv4 source blocklist: per kind of source, and with
// a new source every packet (one of 4,096 hosts, or any address), beside
// the kernel's LPM trie holding the same prefixes.
//
//   sudo build/bin/bench_xdp_firewall [repeat] [blocklist [prefixes]]
//   (blocklist: that part only, with 10^6 prefixes unless given)
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bpf/libbpf_log.hpp"
#include "firewall_program.hpp"
#include "log/logger.hpp"
#include "packet_builder.hpp"
#include "ratelimit_program.hpp"
#include "test_paths.hpp"
#include "test_run_timing.hpp"

namespace {

using rampart::firewall::Action;
using rampart::firewall::Cidr;
using rampart::firewall::PortRange;
using rampart::firewall::Rule;
using rampart::test::PacketBuilder;

constexpr const char* kXdpFilterObj = "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_dny_all.o";

uint32_t g_repeat = 1000000;

// ns per packet of each of fds (test_run_timing.hpp).
std::vector<double> measure_together(const std::vector<int>& fds,
                                     const std::vector<uint8_t>& frame) {
  return rampart::bench::measure_together(fds, frame, static_cast<int>(g_repeat));
}

double measure(int fd, const std::vector<uint8_t>& frame) {
  return measure_together({fd}, frame)[0];
}

Cidr v4(uint32_t host_order, uint8_t len) {
  Cidr c;
  c.family = 4;
  c.prefix_len = len;
  const uint32_t masked = len ? host_order & (~0u << (32 - len)) : 0;
  const uint32_t be = htonl(masked);
  std::memcpy(c.addr.data(), &be, 4);
  return c;
}

// N rules mixing CIDRs, protocols, port ranges and VLANs, all inside
// 10.0.0.0/8 and ports below 30000, so the probe packets (192.0.2.0/24,
// port 40000+) reach exactly the rules meant for them.
// The rule for probe k: TCP from 192.0.2.k to port 40000 + k, denied.
Rule probe_rule(uint32_t id, uint32_t k) {
  Rule r;
  r.id = id;
  r.action = Action::deny;
  r.src = v4(0xc0000200 | k, 32);
  r.protocol = 6;
  r.dst_port = PortRange{static_cast<uint16_t>(40000 + k), static_cast<uint16_t>(40000 + k)};
  return r;
}

std::vector<Rule> ruleset(uint32_t n) {
  std::mt19937 rng(n);
  auto pick = [&](uint32_t k) { return rng() % k; };
  std::vector<Rule> rules;
  rules.push_back(probe_rule(1, 1));
  for (uint32_t i = 2; i < n; ++i) {
    Rule r;
    r.id = i;
    r.action = pick(2) ? Action::deny : Action::allow;
    r.src = v4(0x0a000000 | pick(1 << 24), static_cast<uint8_t>(16 + pick(17)));
    if (pick(3) == 0) r.dst = v4(0x0a000000 | pick(1 << 24), static_cast<uint8_t>(8 + pick(25)));
    const uint32_t proto = pick(3);
    r.protocol = proto == 0 ? 6 : proto == 1 ? 17 : rampart::firewall::kAnyProtocol;
    if (proto != 2 && pick(2)) {
      const uint16_t lo = static_cast<uint16_t>(pick(29000));
      r.dst_port = PortRange{lo, static_cast<uint16_t>(lo + pick(1000))};
    }
    if (pick(10) == 0) r.vlan_id = static_cast<uint16_t>(1 + pick(100));
    rules.push_back(r);
  }
  rules.push_back(probe_rule(n, 2));
  return rules;
}

struct XdpFilter {
  bpf_object* obj = nullptr;
  int fd = -1;
  XdpFilter() {
    obj = bpf_object__open_file(kXdpFilterObj, nullptr);
    bpf_map* m;
    if (obj) {
      bpf_object__for_each_map(m, obj) bpf_map__set_pin_path(m, nullptr);  // no bpffs pinning
    }
    if (!obj || bpf_object__load(obj) != 0) {
      std::fprintf(stderr, "cannot load %s (install xdp-tools)\n", kXdpFilterObj);
      obj = nullptr;
      return;
    }
    fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "xdpfilt_dny_all"));
    // Deny mode: what is listed is let through, the rest dropped. Some
    // addresses and ports listed, as a user would; the probes miss them, so
    // each is dropped after every lookup. The maps are per-CPU: a value per
    // CPU, the low bits saying which fields match.
    const int ip4 = bpf_object__find_map_fd_by_name(obj, "filter_ipv4");
    const int ports = bpf_object__find_map_fd_by_name(obj, "filter_ports");
    const auto ncpu = static_cast<size_t>(libbpf_num_possible_cpus());
    const std::vector<uint64_t> src(ncpu, 1), any_port(ncpu, 0xf);
    for (uint32_t i = 0; i < 1024; ++i) {
      const uint32_t a = htonl(0x0a000000 | i);
      if (bpf_map_update_elem(ip4, &a, src.data(), BPF_ANY) != 0)
        throw std::runtime_error("xdp-filter's filter_ipv4");
    }
    for (uint32_t p = 1; p < 64; ++p) {
      if (bpf_map_update_elem(ports, &p, any_port.data(), BPF_ANY) != 0)
        throw std::runtime_error("xdp-filter's filter_ports");
    }
  }
  ~XdpFilter() {
    if (obj) bpf_object__close(obj);
  }
};

int load_single(const std::string& path, const char* prog, bpf_object** out) {
  *out = bpf_object__open_file(path.c_str(), nullptr);
  if (!*out || bpf_object__load(*out) != 0) return -1;
  return bpf_program__fd(bpf_object__find_program_by_name(*out, prog));
}

// ---- the 10^6-prefix IPv4 source blocklist ----

// A drop list shaped like real ones: mostly single addresses, many /24s, a
// few larger blocks, spread over the unicast space.
std::vector<Cidr> big_blocklist(size_t n) {
  std::mt19937 rng(1000000);
  std::vector<Cidr> list;
  list.reserve(n);
  while (list.size() < n) {
    const uint32_t a = 0x01000000 + rng() % (0xe0000000u - 0x01000000u);
    const uint32_t kind = rng() % 100;
    const uint8_t len = kind < 60 ? 32 : kind < 85 ? 24 : static_cast<uint8_t>(16 + rng() % 16);
    list.push_back(v4(a, len));
  }
  return list;
}

std::vector<uint8_t> from(uint32_t src_host_order) {
  char buf[INET_ADDRSTRLEN];
  const uint32_t be = htonl(src_host_order);
  inet_ntop(AF_INET, &be, buf, sizeof buf);
  return PacketBuilder().ipv4(buf, "192.0.2.100").tcp(1234, 40003).payload(10).build();
}

// Median of 5 runs with `repeat` packets, each run of the program behind
// xdp_random_src with a fresh pseudo-random source per packet.
struct RandomSource {
  bpf_object* obj = nullptr;
  int scramble_fd = -1, next_fd = -1, lpm_fd = -1, lpm_map = -1;
  // nsources 0: any address; else one of that many random addresses.
  explicit RandomSource(uint32_t nsources) {
    scramble_fd = load_single(rampart::test::path::bpf() + "/xdp_bench_blocklist.bpf.o",
                              "xdp_random_src", &obj);
    if (scramble_fd < 0) return;
    const int sources = bpf_object__find_map_fd_by_name(obj, "bench_sources");
    std::mt19937 rng(nsources);
    for (uint32_t i = 0; i < nsources; ++i) {
      const uint32_t a = htonl(0x01000000 + rng() % (0xe0000000u - 0x01000000u));
      bpf_map_update_elem(sources, &i, &a, BPF_ANY);
    }
    const uint32_t k = 4096;
    bpf_map_update_elem(sources, &k, &nsources, BPF_ANY);
    next_fd = bpf_object__find_map_fd_by_name(obj, "bench_next");
    lpm_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "xdp_lpm_src"));
    lpm_map = bpf_object__find_map_fd_by_name(obj, "bench_lpm4");
  }
  ~RandomSource() {
    if (obj) bpf_object__close(obj);
  }
  // From now on base | (random & mask) (host order), or with mask 0 as before.
  void set_range(uint32_t base, uint32_t mask) {
    const int sources = bpf_object__find_map_fd_by_name(obj, "bench_sources");
    const uint32_t mk = 4097, bk = 4098, be_base = htonl(base), be_mask = htonl(mask);
    bpf_map_update_elem(sources, &mk, &be_mask, BPF_ANY);
    bpf_map_update_elem(sources, &bk, &be_base, BPF_ANY);
  }
  double through(int fd, const std::vector<uint8_t>& frame) {
    const uint32_t k = 0;
    if (bpf_map_update_elem(next_fd, &k, &fd, BPF_ANY) != 0) {
      std::perror("bench_next");
      std::exit(1);
    }
    return measure(scramble_fd, frame);
  }
  bool fill_lpm(const std::vector<Cidr>& list) {
    struct Key {
      uint32_t prefixlen;
      uint8_t addr[4];
    };
    std::vector<Key> keys;
    for (const auto& c : list) {
      Key k{c.prefix_len, {}};
      std::memcpy(k.addr, c.addr.data(), 4);
      keys.push_back(k);
    }
    const std::vector<uint8_t> values(keys.size(), 1);
    uint32_t count = static_cast<uint32_t>(keys.size());
    if (bpf_map_update_batch(lpm_map, keys.data(), values.data(), &count, nullptr) == 0)
      return true;
    for (const auto& k : keys) {
      const uint8_t one = 1;
      if (bpf_map_update_elem(lpm_map, &k, &one, BPF_ANY) != 0) return false;
    }
    return true;
  }
};

void bench_blocklist(int floor_fd, size_t prefixes) {
  const auto list = big_blocklist(prefixes);
  const auto rules = ruleset(16);
  const auto t0 = std::chrono::steady_clock::now();
  const auto bl = rampart::firewall::compile_blocklist(list);
  const double compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  rampart::test::FirewallProgram with, without;
  const auto t1 = std::chrono::steady_clock::now();
  with.install(rules, bl);
  const double install_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  without.install(rules, Action::allow);

  // Sources of each kind, found in the table itself.
  uint32_t direct = 0, in_group = 0, group_miss = 0, miss = 0;
  auto listed = [&](uint32_t a) {
    const uint8_t b[4] = {uint8_t(a >> 24), uint8_t(a >> 16), uint8_t(a >> 8), uint8_t(a)};
    return rampart::firewall::blocklisted(bl, 4, b);
  };
  for (uint32_t i = 0x0b0000; i < (1u << 24) && !(direct && in_group && group_miss && miss); ++i) {
    const auto e = rampart::firewall::block4(bl, i >> 6);
    const uint64_t bit = 1ull << (i & 63);
    if ((e.listed & bit) && !direct) direct = i << 8 | 77;
    if (!(e.listed & bit) && !(e.grouped & bit) && !miss) miss = i << 8 | 9;
    if ((e.grouped & bit) && !(in_group && group_miss)) {
      for (uint32_t h = 0; h < 256; ++h) {
        if (listed(i << 8 | h) && !in_group) in_group = i << 8 | h;
        if (!listed(i << 8 | h) && !group_miss) group_miss = i << 8 | h;
      }
    }
  }
  size_t touched = 0;
  for (const uint64_t w : bl.any) touched += static_cast<size_t>(__builtin_popcountll(w));
  std::printf(
      "\nsource blocklist: %zu IPv4 prefixes (60%% /32, 25%% /24, 15%% /16-/31) + 16 rules; "
      "tables %zu MiB; compile %.0f ms, compile+load+swap %.0f ms; %.1f%% of all /24s hold "
      "something listed\n",
      bl.prefixes, (bl.any.size() * 8 + bl.l1.size() * sizeof bl.l1[0] + bl.tbl8.size() * 8) >> 20,
      compile_ms, install_ms + compile_ms, 100.0 * touched / (1u << 24));
  std::printf("%-34s %10s %10s %10s\n", "source", "verdict", "ns", "vs no list");
  const struct {
    const char* what;
    uint32_t src;
  } kinds[] = {{"listed by a /24-or-shorter prefix", direct},
               {"listed by a longer prefix (tbl8)", in_group},
               {"unlisted, in a partly listed /24", group_miss},
               {"unlisted", miss}};
  for (const auto& k : kinds) {
    const auto frame = from(k.src);
    const auto r = with.run(frame, 1, true);
    const double ns = measure(with.classifier_fd(), frame);
    const double base = measure(without.classifier_fd(), frame);
    std::printf("%-34s %10s %10.1f %+10.1f\n", k.what, r.action == XDP_DROP ? "drop" : "pass", ns,
                ns - base);
  }

  // A new source every packet: one of 4,096 active hosts (their table
  // entries stay cached), or any address at all (caches and TLB cold).
  const auto frame = from(0x0b000001);
  for (uint32_t nsources : {4096u, 0u}) {
    RandomSource rs(nsources);
    if (rs.scramble_fd < 0) {
      std::fprintf(stderr, "cannot load xdp_bench_blocklist.bpf.o\n");
      return;
    }
    const double f = rs.through(floor_fd, frame);
    const double w = rs.through(with.entry_fd(), frame);
    const double wo = rs.through(without.entry_fd(), frame);
    std::printf(
        "new source every packet, %s: floor %.1f ns, firewall %.1f, firewall + blocklist %.1f "
        "(blocklist %+.1f ns)\n",
        nsources ? "one of 4,096 hosts" : "any address", f, wo, w, w - wo);
  }
  RandomSource rs(0);
  const double f = rs.through(floor_fd, frame);
  if (rs.fill_lpm(list)) {
    const double lpm = rs.through(rs.lpm_fd, frame);
    std::printf(
        "kernel LPM trie with the same prefixes, any address every packet: %.1f ns (%+.1f over "
        "the floor)\n",
        lpm, lpm - f);
  } else {
    std::fprintf(stderr, "filling the LPM trie failed\n");
  }
}

}  // namespace

// 2^20 sources, 10.0.0.0/12, each with a (zero) state on every CPU, in a
// map keyed and valued as rl_state.
bool prefill_sources(int fd) {
  const uint32_t n = 1u << 20, chunk = 65536;
  const auto ncpu = static_cast<size_t>(libbpf_num_possible_cpus());
  std::vector<rampart_rl_key> keys(chunk);
  std::vector<rampart_rl_state> values(chunk * ncpu);
  for (uint32_t at = 0; at < n; at += chunk) {
    for (uint32_t i = 0; i < chunk; ++i) keys[i] = {RAMPART_RL_V4_HI, htonl(0x0a000000u + at + i)};
    uint32_t count = chunk;
    if (bpf_map_update_batch(fd, keys.data(), values.data(), &count, nullptr) != 0) {
      std::perror("prefilling sources");
      return false;
    }
  }
  return true;
}

// The rate limit stage behind the firewall, against the firewall alone in
// the same run: a hot source within its limit, then sources drawn from a
// million the stage already tracks (each packet another source's state,
// cold in the caches), then every packet a new source (a spoofed flood:
// an LRU insert and eviction each).
void bench_ratelimit() {
  namespace rl = rampart::ratelimit;
  std::printf(
      "\nrate limit (xdp_ratelimit, slot 12) behind the firewall (no rules) vs the firewall "
      "alone, ns/packet\n");
  rampart::test::FirewallProgram alone;
  alone.install({});
  rampart::test::RateLimitProgram limited;
  auto settings = rampart::test::RateLimitProgram::test_settings();
  settings.test_clock = false;
  settings.max_sources = 1u << 21;
  rl::Policy bucket;
  bucket.id = 1;
  bucket.rate = 10000000;  // the most a policy allows: the packets here stay within it
  bucket.burst = RAMPART_RL_MAX_BURST;
  std::string err;
  bucket.prefixes = {*rampart::net::parse_cidr("10.0.0.0/8", err),
                     *rampart::net::parse_cidr("192.0.2.0/24", err)};
  rl::Policy window = bucket;
  window.algorithm = rl::Algorithm::fixed_window;
  window.window_ms = 60000;
  const auto hot =
      PacketBuilder().ipv4("192.0.2.1", "192.0.2.100").tcp(1234, 40003).payload(10).build();
  // The floor under any stage behind the firewall: one that only goes on.
  rampart::test::FirewallProgram floor;
  floor.install({});
  bpf_object* empty_obj = bpf_object__open_file(
      (rampart::test::path::bpf() + "/xdp_bench_chain.bpf.o").c_str(), nullptr);
  const int empty_pos = rampart::test::make_stage_map(rampart::test::RateLimitProgram::kSlot);
  int empty_fd = -1;
  if (empty_obj) {
    bpf_map__reuse_fd(bpf_object__find_map_by_name(empty_obj, "rampart_stage"), empty_pos);
    for (const char* m : {"rampart_xdp_chain", "rampart_chains"})
      bpf_map__reuse_fd(bpf_object__find_map_by_name(empty_obj, m), floor.map_fd(m));
    if (bpf_object__load(empty_obj) == 0)
      empty_fd = bpf_program__fd(bpf_object__find_program_by_name(empty_obj, "xdp_empty_stage"));
  }
  if (empty_fd < 0) {
    std::fprintf(stderr, "cannot load xdp_empty_stage\n");
    return;
  }
  floor.install_stage(rampart::test::RateLimitProgram::kSlot, empty_fd, empty_pos);
  // A passing packet from a hot source, behind a firewall of no rules and
  // of 1,000 (ruleset(): the packet matches none of them).
  for (uint32_t nrules : {0u, 1000u}) {
    const auto rules = nrules ? ruleset(nrules) : std::vector<Rule>{};
    alone.install(rules);
    floor.install(rules);
    limited.firewall().install(rules);
    for (const rl::Policy* p : {&bucket, &window}) {
      // Placed as the engine places it: another shape, another generation.
      const auto tables = rl::build_tables({{rl::place({p}).at(1), p}}, {});
      limited.install(tables, settings);
      const uint64_t merges = limited.stat(RAMPART_RL_STAT_MERGES),
                     seen = limited.stat(RAMPART_RL_STAT_PASSED);
      const auto ns = measure_together(
          {alone.entry_fd(), floor.entry_fd(), limited.firewall().entry_fd()}, hot);
      std::printf("    (merges per packet %.4f)\n",
                  static_cast<double>(limited.stat(RAMPART_RL_STAT_MERGES) - merges) /
                      static_cast<double>(limited.stat(RAMPART_RL_STAT_PASSED) - seen));
      std::printf(
          "  hot source, %4u rules, %-14s firewall %.1f, + empty stage %.1f, + rate limit "
          "%.1f: ratio %.2f (%.2f to the empty stage)\n",
          nrules, std::string(rl::algorithm_name(p->algorithm)).c_str(), ns[0], ns[1], ns[2],
          ns[2] / ns[0], ns[2] / ns[1]);
    }
  }
  // A million tracked sources, 10.0.0.0/12, each a state on every CPU.
  const auto tables = rl::build_tables({{rl::place({&bucket}).at(1), &bucket}}, {});
  limited.install(tables, settings);
  if (!prefill_sources(limited.map_fd(RAMPART_NAME(RAMPART_RL_MAP_STATE)))) return;
  RandomSource random(0);
  if (random.scramble_fd < 0) return;
  // The floor: the same sources' states in a map of the same kind and
  // size, looked up and written, nothing else.
  const int touch_fd =
      bpf_program__fd(bpf_object__find_program_by_name(random.obj, "xdp_state_touch"));
  if (!prefill_sources(bpf_object__find_map_fd_by_name(random.obj, "bench_states"))) return;
  const auto frame = from(0x0a000001);
  const auto turns = [&](const char* what, bool floor_too) {
    std::vector<double> a, b, f;
    for (int i = 0; i < 3; ++i) {
      a.push_back(random.through(alone.entry_fd(), frame));
      b.push_back(random.through(limited.firewall().entry_fd(), frame));
      if (floor_too) f.push_back(random.through(touch_fd, frame));
    }
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    std::printf("  %-44s firewall %.1f, + rate limit %.1f: ratio %.2f\n", what, a[1], b[1],
                b[1] / a[1]);
    if (floor_too) {
      std::sort(f.begin(), f.end());
      std::printf(
          "  %-44s a state looked up and written alone: %.1f; the stage's extra over the "
          "firewall is %.2fx that\n",
          "", f[1], (b[1] - a[1]) / f[1]);
    }
  };
  // A source's packets stay on one CPU (RSS), as the bench's stay on this one.
  rampart::test::PinnedTo pin(0);
  random.set_range(0x0a000000u, 0x000fffffu);
  turns("random source of 2^20 tracked (cold state):", true);
  random.set_range(0, 0);
  turns("random source, each new (LRU insert, evict):", false);
  std::printf("  (sources created %llu, merges %llu)\n",
              static_cast<unsigned long long>(limited.stat(RAMPART_RL_STAT_NEW_SOURCES)),
              static_cast<unsigned long long>(limited.stat(RAMPART_RL_STAT_MERGES)));
  close(empty_pos);
  bpf_object__close(empty_obj);
}

int main(int argc, char** argv) {
  // libbpf's info/debug lines (CO-RE relocations) drown the table: its
  // warnings only, through the core's logger like the programs' loader does.
  rampart::log::Logger::global().configure(rampart::log::Level::warn, rampart::log::Format::text);
  rampart::bpf::route_libbpf_log();
  if (argc > 1) g_repeat = static_cast<uint32_t>(std::stoul(argv[1]));
  // `bench_xdp_firewall N ratelimit`: the rate limit's section alone.
  if (argc > 2 && std::string(argv[2]) == "ratelimit") {
    bench_ratelimit();
    return 0;
  }
  const auto first =
      PacketBuilder().ipv4("192.0.2.1", "192.0.2.100").tcp(1234, 40001).payload(10).build();
  const auto last =
      PacketBuilder().ipv4("192.0.2.2", "192.0.2.100").tcp(1234, 40002).payload(10).build();
  const auto none =
      PacketBuilder().ipv4("192.0.2.3", "192.0.2.100").tcp(1234, 40003).payload(10).build();

  bpf_object* floor_obj = nullptr;
  const int floor_fd = load_single(rampart::test::path::bpf() + "/xdp_parse_pass.bpf.o",
                                   "xdp_parse_pass", &floor_obj);
  XdpFilter xf;
  const double floor_ns = floor_fd >= 0 ? measure(floor_fd, none) : -1;
  const double xf_ns = xf.fd >= 0 ? measure(xf.fd, none) : -1;

  std::printf("bench_xdp_firewall: BPF_PROG_TEST_RUN, repeat %u, trimmed mean of 9, ns/packet\n",
              g_repeat);
  {
    bpf_object* pass_obj = nullptr;
    const int pass_fd =
        load_single(rampart::test::path::bpf() + "/xdp_parse_pass.bpf.o", "xdp_pass", &pass_obj);
    rampart::test::FirewallProgram empty;  // the root, no stage in its chain
    if (pass_fd >= 0) {
      const auto ns = measure_together({pass_fd, empty.entry_fd()}, none);
      const double pass_ns = ns[0], empty_ns = ns[1];
      std::printf(
          "empty chain (xdp_root, no stage): %.1f ns; XDP_PASS floor (return XDP_PASS): %.1f ns; "
          "ratio %.2f\n",
          empty_ns, pass_ns, empty_ns / pass_ns);
    }
    if (pass_obj) bpf_object__close(pass_obj);
  }
  {
    // A stage's call to the next (chain.h): a direct jump, as the roots
    // call, against a call through the array, as stages call (so that a
    // slot write patches the roots alone).
    bpf_object* chain_obj = nullptr;
    const int direct_fd = load_single(rampart::test::path::bpf() + "/xdp_bench_chain.bpf.o",
                                      "xdp_next_direct", &chain_obj);
    if (direct_fd >= 0) {
      auto fd_of = [&](const char* p) {
        return bpf_program__fd(bpf_object__find_program_by_name(chain_obj, p));
      };
      const uint32_t slot = 1, zero = 0, mask = 1u << slot;
      const int pass_fd = fd_of("xdp_next_pass");
      bpf_map_update_elem(bpf_object__find_map_fd_by_name(chain_obj, "bench_next"), &slot, &pass_fd,
                          BPF_ANY);
      bpf_map_update_elem(bpf_object__find_map_fd_by_name(chain_obj, "bench_mask"), &zero, &mask,
                          BPF_ANY);
      const auto ns = measure_together({direct_fd, fd_of("xdp_next_runtime"), pass_fd}, none);
      std::printf(
          "a stage's call to the next: direct jump %.1f ns, through the array %.1f ns "
          "(ratio %.2f); the next stage alone %.1f ns\n",
          ns[0], ns[1], ns[1] / ns[0], ns[2]);
    }
    if (chain_obj) bpf_object__close(chain_obj);
  }
  std::printf(
      "parse-only XDP_PASS floor: %.1f ns; xdp-filter (deny mode, all features, no match): %.1f "
      "ns\n\n",
      floor_ns, xf_ns);
  // The firewall-as-root design the root replaced: an entry tail-calling
  // the rule set (floor_obj holds it).
  const int old_entry_fd =
      floor_obj ? bpf_program__fd(bpf_object__find_program_by_name(floor_obj, "xdp_entry_tail"))
                : -1;
  const int old_rules_fd =
      floor_obj ? bpf_object__find_map_fd_by_name(floor_obj, "bench_rules") : -1;
  std::printf("%6s  %8s %8s %8s   %12s %12s %12s   %10s %10s %10s %10s   %14s\n", "rules", "first",
              "last", "none", "first/xdpf", "none/xdpf", "none/floor", "via root", "root/alone",
              "via entry", "root/entry", "compile+load ms");
  const bool blocklist_only = argc > 2 && std::string(argv[2]) == "blocklist";
  const size_t prefixes = argc > 3 ? std::stoul(argv[3]) : 1000000;
  // Rows of the second table: rules, none alone, none with 64 rules
  // written since the compile, the same with one of them matching.
  std::vector<std::array<double, 4>> written;
  for (uint32_t n : {16u, 256u, 1024u, 4096u, 16384u}) {
    if (blocklist_only) break;
    rampart::test::FirewallProgram fw;
    const auto rules = ruleset(n);
    const auto t0 = std::chrono::steady_clock::now();
    fw.install(rules, Action::allow);  // compile, load a classifier instance, swap it in
    const double install_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const int fd = fw.classifier_fd();
    // Sanity: the probes reach the rules they are meant for.
    if (fw.run(first, 1, true).action != XDP_DROP || fw.run(last, 1, true).action != XDP_DROP ||
        fw.run(none, 1, true).action != XDP_PASS) {
      std::fprintf(stderr, "probe packets do not hit their rules at %u rules\n", n);
      return 1;
    }
    const double f = measure(fd, first), l = measure(fd, last);
    // The packet no rule matches three ways, taking turns: the rule set's
    // program alone; as rampartd runs it, the root, then the firewall's
    // stage; and as the firewall-as-root design ran it, its entry, then the
    // rules.
    const uint32_t zero = 0;
    const bool old_design = old_entry_fd >= 0 && old_rules_fd >= 0 &&
                            bpf_map_update_elem(old_rules_fd, &zero, &fd, BPF_ANY) == 0;
    const auto ns = measure_together(old_design ? std::vector<int>{fd, fw.entry_fd(), old_entry_fd}
                                                : std::vector<int>{fd, fw.entry_fd()},
                                     none);
    const double z = ns[0], root = ns[1], entry = old_design ? ns[2] : -1;
    std::printf(
        "%6u  %8.1f %8.1f %8.1f   %12.2f %12.2f %12.2f   %10.1f %10.3f %10.1f %10.3f   %14.1f\n", n,
        f, l, z, f / xf_ns, z / xf_ns, z / floor_ns, root, root / z, entry, root / entry,
        install_ms);
    if (n + 65 > RAMPART_FW_MAX_RULES) continue;
    // The same set, then 64 rules written into its live tables as rule
    // writes are (none matching the probe: its packet ANDs the overflow's
    // words too), then one more that matches it (looked at by bpf_loop).
    // Their fields are ones the set uses already (another would need
    // another program), and the tables have the capacity a set with them
    // would get.
    std::vector<Rule> more, all = rules;
    for (uint32_t i = 0; i < 64; ++i) {
      Rule r;
      r.id = 1000000 + i;
      r.action = Action::deny;
      r.src = v4(0x0a000000 | i << 8, 24);  // 10.0.i.0/24: never the probes
      r.protocol = 6;
      r.dst_port = PortRange{static_cast<uint16_t>(1000 + i), static_cast<uint16_t>(1000 + i)};
      more.push_back(r);
      all.push_back(r);
    }
    const auto cap = rampart::firewall::TableCapacity{}.fit(
        rampart::firewall::compile(all, Action::allow, 0, /*per_field_classes=*/true));
    rampart::firewall::RuleTables tables(rules, Action::allow, 0, cap);
    fw.apply(tables, 0);
    for (const Rule& r : more) {
      if (!tables.change(nullptr, &r) || !fw.apply(tables, 0)) {
        std::fprintf(stderr, "rule %u was not written in place at %u rules\n", r.id, n);
        return 1;
      }
    }
    const int live_fd = fw.classifier_fd();
    const double none_written = measure(live_fd, none);
    const Rule hit = probe_rule(2000000, 3);  // the `none` probe's
    if (!tables.change(nullptr, &hit) || !fw.apply(tables, 0) ||
        fw.run(none, 1, true).action != XDP_DROP) {
      std::fprintf(stderr, "the written rule does not drop the probe at %u rules\n", n);
      return 1;
    }
    written.push_back({double(n), z, none_written, measure(live_fd, none)});
  }
  if (!written.empty()) {
    std::printf("\nrules written into the live tables since the compile (ns/packet, none probe)\n");
    std::printf("%6s  %10s %14s %8s %16s %8s\n", "rules", "compiled", "64 written", "ratio",
                "+1 matching it", "ratio");
    for (const auto& w : written)
      std::printf("%6.0f  %10.1f %14.1f %8.2f %16.1f %8.2f\n", w[0], w[1], w[2], w[2] / w[1], w[3],
                  w[3] / w[1]);
  }
  if (floor_fd >= 0) bench_blocklist(floor_fd, prefixes);
  bench_ratelimit();
  if (floor_obj) bpf_object__close(floor_obj);
  return 0;
}

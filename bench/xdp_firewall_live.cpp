// SPDX-License-Identifier: Apache-2.0
// bench/xdp_firewall_live: packets per second the XDP firewall drops on a
// veth in native mode, fed by an XDP_TX generator running with
// BPF_F_TEST_XDP_LIVE_FRAMES on the peer, beside xdp-filter dropping the
// same frames in the same run. Everything happens inside two namespaces the
// benchmark creates and removes.
//
//   sudo build/bin/bench_xdp_firewall_live [frames]
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>

#include <arpa/inet.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bpf/libbpf_log.hpp"
#include "firewall_program.hpp"
#include "log/logger.hpp"
#include "netns_lab.hpp"
#include "packet_builder.hpp"

namespace {

using rampart::test::NetnsLab;

uint64_t g_frames = 20000000;

struct Bpf {
  bpf_object* obj = nullptr;
  explicit Bpf(const char* path) {
    obj = bpf_object__open_file(path, nullptr);
    bpf_map* m;
    if (obj) {
      bpf_object__for_each_map(m, obj) bpf_map__set_pin_path(m, nullptr);
    }
    if (!obj || bpf_object__load(obj) != 0)
      throw std::runtime_error(std::string("cannot load ") + path);
  }
  ~Bpf() { bpf_object__close(obj); }
  int prog(const char* name) const {
    return bpf_program__fd(bpf_object__find_program_by_name(obj, name));
  }
  int map(const char* name) const { return bpf_object__find_map_fd_by_name(obj, name); }
};

// Runs the generator in namespace A for g_frames frames; returns seconds.
double generate(const NetnsLab& lab, int gen_fd, const std::vector<uint8_t>& frame,
                const std::string& if_a) {
  return lab.in_ns(lab.ns_a(), [&] {
    xdp_md ctx{};
    ctx.data_end = static_cast<uint32_t>(frame.size());
    ctx.ingress_ifindex = if_nametoindex(if_a.c_str());
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx), .repeat = static_cast<int>(g_frames),
                .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
    const auto t0 = std::chrono::steady_clock::now();
    if (bpf_prog_test_run_opts(gen_fd, &opts) != 0)
      throw std::runtime_error("live test_run failed");
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  });
}

void attach(const NetnsLab& lab, int prog_fd) {
  lab.in_ns(lab.ns_b(), [&] {
    const int ifindex = static_cast<int>(if_nametoindex(lab.if_b().c_str()));
    LIBBPF_OPTS(bpf_xdp_attach_opts, o);
    bpf_xdp_detach(ifindex, 0, &o);
    if (bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, &o) != 0)
      throw std::runtime_error("attach failed");
    return 0;
  });
}

uint64_t percpu_sum(int fd, uint32_t key, size_t words_per_cpu, size_t word) {
  const int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> v(ncpu * words_per_cpu);
  bpf_map_lookup_elem(fd, &key, v.data());
  uint64_t s = 0;
  for (int c = 0; c < ncpu; ++c) s += v[c * words_per_cpu + word];
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  // libbpf's info/debug lines (CO-RE relocations) drown the table: its
  // warnings only, through the core's logger like the programs' loader does.
  rampart::log::Logger::global().configure(rampart::log::Level::warn, rampart::log::Format::text);
  rampart::bpf::route_libbpf_log();
  if (argc > 1) g_frames = std::stoull(argv[1]);
  NetnsLab lab;
  const std::string if_a =
      NetnsLab::sh("ip -n " + lab.ns_a() + " -o link show type veth | cut -d: -f2 | cut -d@ -f1");
  const std::string ifa = if_a.substr(
      if_a.find_first_not_of(' '), if_a.find_last_not_of(" \n") - if_a.find_first_not_of(' ') + 1);
  // The generator's veth needs an XDP program too for XDP_TX to reach the peer.
  Bpf gen(RAMPART_BPF_DIR "/xdp_gen_tx.bpf.o");
  Bpf pass(RAMPART_BPF_DIR "/xdp_parse_pass.bpf.o");
  lab.in_ns(lab.ns_a(), [&] {
    LIBBPF_OPTS(bpf_xdp_attach_opts, o);
    return bpf_xdp_attach(static_cast<int>(if_nametoindex(ifa.c_str())),
                          pass.prog("xdp_parse_pass"), XDP_FLAGS_DRV_MODE, &o);
  });
  const auto frame = rampart::test::PacketBuilder()
                         .ipv4("192.0.2.1", "192.0.2.100")
                         .tcp(1234, 40001)
                         .payload(10)
                         .build();

  // Rampart: 4,096 rules, the generated frame denied by the first.
  rampart::test::FirewallProgram fw;
  std::vector<rampart::firewall::Rule> rules;
  for (uint32_t i = 1; i <= 4096; ++i) {
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
  fw.install(rules);
  attach(lab, fw.entry_fd());
  const uint64_t d0 = fw.stat(RAMPART_FW_STAT_DROPPED);
  const double t_fw = generate(lab, gen.prog("xdp_gen_tx"), frame, ifa);
  const uint64_t dropped_fw = fw.stat(RAMPART_FW_STAT_DROPPED) - d0;

  // xdp-filter, deny mode, the frame's source address denied.
  Bpf xf("/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_dny_all.o");
  const uint32_t src = htonl(0xc0000201), mode = 1;  // source address
  bpf_map_update_elem(xf.map("filter_ipv4"), &src, &mode, BPF_ANY);
  attach(lab, xf.prog("xdpfilt_dny_all"));
  const uint64_t x0 = percpu_sum(xf.map("xdp_stats_map"), XDP_DROP, 2, 0);
  const double t_xf = generate(lab, gen.prog("xdp_gen_tx"), frame, ifa);
  const uint64_t dropped_xf = percpu_sum(xf.map("xdp_stats_map"), XDP_DROP, 2, 0) - x0;

  std::printf(
      "bench_xdp_firewall_live: %llu frames (64 B TCP) by an XDP_TX generator (LIVE_FRAMES) into a "
      "veth, native XDP on the peer\n",
      static_cast<unsigned long long>(g_frames));
  std::printf("rampart (4,096 rules, first matches): %.2f Mpps dropped (%llu in %.2f s)\n",
              dropped_fw / t_fw / 1e6, static_cast<unsigned long long>(dropped_fw), t_fw);
  std::printf("xdp-filter (deny source):              %.2f Mpps dropped (%llu in %.2f s)\n",
              dropped_xf / t_xf / 1e6, static_cast<unsigned long long>(dropped_xf), t_xf);
  std::printf("ratio rampart / xdp-filter: %.2f\n", (dropped_fw / t_fw) / (dropped_xf / t_xf));
  return 0;
}

// SPDX-License-Identifier: Apache-2.0
// What the live benchmarks share: a BPF object loaded whole, the XDP_TX
// generator run with BPF_F_TEST_XDP_LIVE_FRAMES in namespace A, B's XDP
// hook, and rampartd run in B with its /metrics scraped.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon_process.hpp"
#include "http_client.hpp"
#include "metrics_check.hpp"
#include "netns_lab.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace rampart::bench {

using rampart::test::NetnsLab;

struct Bpf {
  bpf_object* obj = nullptr;
  explicit Bpf(const std::string& path) {
    obj = bpf_object__open_file(path.c_str(), nullptr);
    bpf_map* m;
    if (obj) {
      bpf_object__for_each_map(m, obj) bpf_map__set_pin_path(m, nullptr);
    }
    if (!obj || bpf_object__load(obj) != 0) throw std::runtime_error("cannot load " + path);
  }
  ~Bpf() { bpf_object__close(obj); }
  Bpf(const Bpf&) = delete;
  Bpf& operator=(const Bpf&) = delete;
  int prog(const char* name) const {
    return bpf_program__fd(bpf_object__find_program_by_name(obj, name));
  }
  int map(const char* name) const { return bpf_object__find_map_fd_by_name(obj, name); }
};

inline uint64_t percpu_sum(int fd, uint32_t key, size_t words_per_cpu = 1, size_t word = 0) {
  const int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> v(ncpu * words_per_cpu);
  if (bpf_map_lookup_elem(fd, &key, v.data()) != 0) throw std::runtime_error("counter lookup");
  uint64_t s = 0;
  for (int c = 0; c < ncpu; ++c) s += v[c * words_per_cpu + word];
  return s;
}

// Runs the generator in namespace A for `frames` frames; returns seconds.
inline double generate(const NetnsLab& lab, int gen_fd, const std::vector<uint8_t>& frame,
                       uint64_t frames) {
  return lab.in_ns(lab.ns_a(), [&] {
    xdp_md ctx{};
    ctx.data_end = static_cast<uint32_t>(frame.size());
    ctx.ingress_ifindex = if_nametoindex(lab.if_a().c_str());
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx), .repeat = static_cast<int>(frames),
                .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
    const auto t0 = std::chrono::steady_clock::now();
    if (bpf_prog_test_run_opts(gen_fd, &opts) != 0)
      throw std::runtime_error("live test_run failed");
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  });
}

// B's XDP hook: `prog_fd` attached in native mode, or (-1) nothing.
inline void attach(const NetnsLab& lab, int prog_fd) {
  lab.in_ns(lab.ns_b(), [&] {
    const int ifindex = static_cast<int>(if_nametoindex(lab.if_b().c_str()));
    LIBBPF_OPTS(bpf_xdp_attach_opts, o);
    bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, &o);
    if (prog_fd >= 0 && bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, &o) != 0)
      throw std::runtime_error("attach failed");
    return 0;
  });
}

inline double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

class Rampartd {
 public:
  Rampartd(const NetnsLab& lab, const std::string& name, const std::string& agent_extra,
           const std::string& plugins, const std::string& ready)
      : lab_(lab) {
    bpffs_ = dir_ / "bpffs";
    std::filesystem::create_directories(bpffs_);
    if (mount("bpf", bpffs_.c_str(), "bpf", 0, "mode=0700") != 0)
      throw std::runtime_error("mount bpffs");
    cfg_ = dir_ / (name + ".yaml");
    rampart::test::write_file(
        cfg_, "agent:\n  interfaces: [" + lab.if_b() +
                  "]\n  bpf_dir: " + rampart::test::path::bpf() + "\n  bpf_pin_path: " + bpffs_ +
                  "/rampart\n  state_dir: " + (dir_ / "state") + "\n" + agent_extra + "plugins:\n" +
                  plugins + "  metrics: {listen: \"127.0.0.1:0\"}\n");
    d_ = std::make_unique<rampart::test::DaemonProcess>(std::vector<std::string>{
        "/usr/sbin/ip", "netns", "exec", lab.ns_b(), rampart::test::path::rampartd(), "--config",
        cfg_, "--plugin-dir", rampart::test::path::plugins()});
    if (!d_->wait_for(ready, 1, std::chrono::seconds(60)))
      throw std::runtime_error("rampartd did not start:\n" + d_->output());
    port_ = rampart::test::listening_port(d_->output(), "metrics");
    if (port_ == 0) throw std::runtime_error("no metrics port:\n" + d_->output());
  }
  ~Rampartd() {
    d_->signal(SIGTERM);
    d_->wait_exit();
    rampart::test::run_command({"/usr/sbin/ip", "netns", "exec", lab_.ns_b(),
                                rampart::test::path::rampartd(), "--detach-all", "--config", cfg_});
    umount2(bpffs_.c_str(), MNT_DETACH);
  }
  Rampartd(const Rampartd&) = delete;
  Rampartd& operator=(const Rampartd&) = delete;

  std::string scrape() const {
    return lab_.in_ns(lab_.ns_b(),
                      [&] { return rampart::test::http(port_, "GET", "/metrics").body; });
  }
  static uint64_t value(const std::string& text, const std::string& series) {
    const double v = rampart::test::metric_value(text, series);
    if (v < 0) throw std::runtime_error("no series " + series + " in:\n" + text);
    return static_cast<uint64_t>(v);
  }
  double cpu() const { return cpu_seconds(d_->pid()); }

 private:
  const NetnsLab& lab_;
  rampart::test::TempDir dir_;
  std::string bpffs_, cfg_;
  std::unique_ptr<rampart::test::DaemonProcess> d_;
  uint16_t port_ = 0;
};

// One core end to end: the generator (this thread), and the veth's NAPI it runs on.
inline void pin_to_cpu0() {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

// `prog` attached to A's end in native mode: A's NAPI on, so A receives
// what B sends back with XDP_TX (and the program sees it).
inline void attach_a(const NetnsLab& lab, int prog) {
  lab.in_ns(lab.ns_a(), [&] {
    LIBBPF_OPTS(bpf_xdp_attach_opts, o);
    return bpf_xdp_attach(static_cast<int>(if_nametoindex(lab.if_a().c_str())), prog,
                          XDP_FLAGS_DRV_MODE, &o);
  });
}

// The median of the runs of one configuration.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace rampart::bench

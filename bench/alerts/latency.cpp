// SPDX-License-Identifier: Apache-2.0
// bench/alerts latency: from the kernel judging a packet to a gRPC client
// holding the alert. A lab of two namespaces (as in the integration
// tests), rampartd protecting side B with a `log` rule on UDP 9999, every
// alert delivered (no dedup), and rampart_test_alert_client streaming
// alerts; each line it prints carries (receipt time - alert time), and the
// alert's time is the kernel's timestamp of the verdict.
//
//   sudo build/bin/bench_alerts_latency [rounds] [packets per round]   (default 50 x 20)
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "daemon_process.hpp"
#include "http_client.hpp"
#include "netns_lab.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

int main(int argc, char** argv) {
  const size_t rounds = argc > 1 ? std::stoul(argv[1]) : 50;
  const size_t per_round = argc > 2 ? std::stoul(argv[2]) : 20;
  rampart::test::NetnsLab lab;
  rampart::test::TempDir dir;
  const std::string bpffs = dir / "bpffs";
  std::filesystem::create_directories(bpffs);
  if (mount("bpf", bpffs.c_str(), "bpf", 0, "mode=0700") != 0) {
    std::perror("mount bpffs");
    return 1;
  }
  const std::string cfg = dir / "rampart.yaml";
  rampart::test::write_file(
      cfg,
      "agent:\n  interfaces: [" + lab.if_b() + "]\n  bpf_dir: " + rampart::test::path::bpf() +
          "\n  bpf_pin_path: " + bpffs + "/rampart\n  state_dir: " + (dir / "state") +
          "\nalerts:\n  dedup: {window_seconds: 0}\nplugins:\n  firewall:\n    rules: [{id: 7, "
          "action: log, protocol: udp, dst_port: \"9999\"}]\n  grpc: {listen: \"127.0.0.1:0\", "
          "require_key: false}\n");
  int status = 1;
  {
    rampart::test::DaemonProcess d({"/usr/sbin/ip", "netns", "exec", lab.ns_b(),
                                    rampart::test::path::rampartd(), "--config", cfg,
                                    "--plugin-dir", rampart::test::path::plugins()});
    const uint16_t port =
        d.wait_for("refused=0") ? rampart::test::listening_port(d.output(), "grpc") : 0;
    if (port == 0) {
      std::fprintf(stderr, "rampartd did not start:\n%s", d.output().c_str());
    } else {
      rampart::test::DaemonProcess client({"/usr/sbin/ip", "netns", "exec", lab.ns_b(),
                                           rampart::test::path::alert_client(), "--server",
                                           "127.0.0.1:" + std::to_string(port)});
      if (client.wait_for("subscribed")) {
        size_t expected = 0;
        for (size_t r = 0; r < rounds; ++r) {
          expected += lab.send_and_count(per_round).udp;
          client.wait_for("alert ", expected);
        }
        std::vector<double> us;
        std::istringstream in(client.output());
        for (std::string line; std::getline(in, line);) {
          if (line.rfind("alert ", 0) != 0) continue;
          us.push_back(std::stod(line.substr(line.rfind(' ') + 1)) / 1000.0);
        }
        std::sort(us.begin(), us.end());
        if (!us.empty()) {
          auto pct = [&](double p) { return us[std::min(us.size() - 1, size_t(p * us.size()))]; };
          std::printf(
              "bench_alerts_latency: %zu alerts (%zu rounds of %zu packets), kernel verdict -> "
              "gRPC client: median %.0f us, p90 %.0f us, p99 %.0f us, max %.0f us\n",
              us.size(), rounds, per_round, pct(0.5), pct(0.9), pct(0.99), us.back());
          status = us.size() == expected ? 0 : 1;
        }
      }
    }
  }
  umount2(bpffs.c_str(), MNT_DETACH);
  return status;
}

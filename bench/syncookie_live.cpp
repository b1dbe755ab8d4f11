// SPDX-License-Identifier: Apache-2.0
// bench/syncookie_live: a SYN flood answered with SYN cookies against the
// same flood dropped by the firewall, end to end on one core, rampartd
// running as users run it. An XDP_TX generator (BPF_F_TEST_XDP_LIVE_FRAMES,
// pinned to one CPU) sends a 74-byte SYN (MSS, SACK, timestamps, window
// scale) into a veth (written back into each recycled frame: the answer
// rewrites it in place); B's XDP (native) runs, in turns, in every round:
//
//   drop     rampartd with the firewall denying TCP to the port: the SYN dropped
//   cookies  rampartd with the firewall allowing it and ddos at syn_cookies:
//            always: the SYN answered with a cookie SYN-ACK (XDP_TX) that A's
//            XDP counts and drops
//   auto     the same with syn_cookies: auto, the destination in cookie mode
//            (its SYN counted and its mode looked up on every packet)
//   bounce   no rampartd: a program that sends every frame back (XDP_TX and
//            nothing else), the floor of any answer from XDP on this veth
//            (its return trip runs on the same core)
//   base     no rampartd: a program that counts the frame and drops it (the
//            generator's and the veth's own cost)
//   floor    no rampartd: the kernel's cookie made for the SYN and the frame
//            sent back (xdp_cookie_floor), the least any answer with the
//            kernel's cookies costs
//
// Rates come from rampartd's /metrics (the firewall's dropped, xdp_ddos's
// cookies_sent) and the SYN-ACKs A received, over the generator's time.
//
//   sudo build/bin/bench_syncookie_live [frames per run] [rounds]
#include <arpa/inet.h>
#include <sched.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "live_lab.hpp"
#include "log/logger.hpp"
#include "tcp_frames.hpp"
#include "test_paths.hpp"

using namespace rampart::bench;

int main(int argc, char** argv) {
  rampart::log::Logger::global().configure(rampart::log::Level::warn, rampart::log::Format::text);
  const uint64_t frames = argc > 1 ? std::stoull(argv[1]) : 5'000'000;
  const size_t rounds = argc > 2 ? std::stoul(argv[2]) : 3;
  pin_to_cpu0();

  NetnsLab lab;
  NetnsLab::sh("ip netns exec " + lab.ns_b() + " sysctl -qw net.ipv4.tcp_syncookies=1");
  Bpf gen(rampart::test::path::bpf() + "/xdp_gen_tx.bpf.o");
  Bpf back(rampart::test::path::bpf() +
           "/xdp_parse_pass.bpf.o");  // xdp_drop_count: A counts the SYN-ACKs
  attach_a(lab, back.prog("xdp_drop_count"));

  // The listener whose SYNs are answered (only a local listener's are).
  const int listener = lab.socket_in(lab.ns_b(), AF_INET, SOCK_STREAM, 0);
  {
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(8080);
    inet_pton(AF_INET, "198.18.0.2", &at.sin_addr);
    if (bind(listener, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 ||
        listen(listener, 128) != 0)
      throw std::runtime_error("listen on 198.18.0.2:8080");
  }
  rampart::test::TcpSpec syn;
  syn.dst = "198.18.0.2";
  const auto frame = rampart::test::tcp_frame(syn);
  // The receiver turns frames into SYN-ACKs in place: the generator writes
  // the SYN back into each recycled frame (xdp_gen_template_tx).
  struct {
    uint32_t len;
    uint8_t bytes[128];
  } tmpl{};
  tmpl.len = static_cast<uint32_t>(frame.size());
  std::memcpy(tmpl.bytes, frame.data(), frame.size());
  const uint32_t key = 0;
  if (bpf_map_update_elem(gen.map("gen_template"), &key, &tmpl, BPF_ANY) != 0)
    throw std::runtime_error("gen_template");
  const int gen_fd = gen.prog("xdp_gen_template_tx");
  const char* names[] = {"drop", "cookies", "auto", "bounce", "floor", "base"};
  std::vector<double> mpps[6], answered[6];
  Bpf floor_obj(rampart::test::path::bpf() + "/xdp_bench_syncookie.bpf.o");

  for (size_t round = 0; round < rounds; ++round) {
    // Programs attached alone: the bounce, the cookie floor, the base.
    for (int cfg = 3; cfg < 6; ++cfg) {
      attach(lab, cfg == 3   ? gen.prog("xdp_gen_tx")
                  : cfg == 4 ? floor_obj.prog("xdp_cookie_floor")
                             : back.prog("xdp_drop_count"));
      const uint32_t zero = 0;
      const uint64_t before = percpu_sum(back.map("floor_drops"), zero);
      const double secs = generate(lab, gen_fd, frame, frames);
      const uint64_t got = percpu_sum(back.map("floor_drops"), zero) - before;
      attach(lab, -1);
      mpps[cfg].push_back(static_cast<double>(got) / secs / 1e6);
      answered[cfg].push_back(mpps[cfg].back());
      std::printf("round %zu %-8s %.3f Mpps back at A\n", round, names[cfg], mpps[cfg].back());
    }
    for (int cfg = 0; cfg < 3; ++cfg) {
      const std::string plugins =
          cfg == 0 ? "  firewall: {default_policy: allow, rules: [{id: 1, action: deny, "
                     "protocol: tcp, dst_port: \"8080\"}]}\n"
                   : "  firewall: {default_policy: allow, rules: []}\n"
                     "  ddos: {syn_cookies: " +
                         std::string(cfg == 1 ? "always" : "auto") + ", syn_rate: 1000}\n";
      Rampartd d(
          lab, names[cfg], "", plugins,
          cfg == 0 ? "] ready plugins=firewall,metrics" : "] ready plugins=ddos,firewall,metrics");
      // auto: the flood's first frames put the destination in cookie mode.
      if (cfg == 2) generate(lab, gen_fd, frame, 10000);
      const std::string series =
          cfg == 0 ? "rampart_kernel_packets_total{outcome=\"dropped\",program=\"xdp_firewall\""
                   : "rampart_kernel_xdp_ddos_cookies_sent_total{program=\"xdp_ddos\"";
      const uint32_t zero = 0;
      const uint64_t back_before = percpu_sum(back.map("floor_drops"), zero);
      const uint64_t before = Rampartd::value(d.scrape(), series);
      const double secs = generate(lab, gen_fd, frame, frames);
      const uint64_t done = Rampartd::value(d.scrape(), series) - before;
      const uint64_t got_back = percpu_sum(back.map("floor_drops"), zero) - back_before;
      if (cfg == 2 && round == 0) {
        const std::string text = d.scrape();
        for (const char* a : {"syn", "cookie_failed", "syn_passed", "malformed"})
          std::printf("  xdp_ddos %s %lu\n", a,
                      static_cast<unsigned long>(
                          Rampartd::value(text, std::string("rampart_kernel_xdp_ddos_") + a +
                                                    "_total{program=\"xdp_ddos\"")));
      }
      mpps[cfg].push_back(static_cast<double>(done) / secs / 1e6);
      answered[cfg].push_back(static_cast<double>(got_back) / secs / 1e6);
      std::printf("round %zu %-8s %.3f Mpps handled (%lu of %lu), %.3f Mpps back at A\n", round,
                  names[cfg], mpps[cfg].back(), static_cast<unsigned long>(done),
                  static_cast<unsigned long>(frames), answered[cfg].back());
    }
  }
  const double drop = median(mpps[0]), cookies = median(mpps[1]), autom = median(mpps[2]),
               bounce = median(mpps[3]), floor = median(mpps[4]), base = median(mpps[5]);
  // The least a cookie answer behind the firewall costs: the firewall's
  // drop path, plus what the floor costs over the base (the kernel's
  // cookie and the answer's way back), in ns a packet.
  const double limit_ns = 1e3 / drop + (1e3 / floor - 1e3 / base);
  std::printf(
      "\nbench_syncookie_live: %zu rounds of %lu frames, one CPU, native XDP on a veth\n"
      "  firewall drop                 %.3f Mpps  %6.1f ns\n"
      "  cookie SYN-ACKs, always       %.3f Mpps  %6.1f ns (%.3f Mpps of them received at A)\n"
      "  cookie SYN-ACKs, auto         %.3f Mpps  %6.1f ns\n"
      "  base (count, drop)            %.3f Mpps  %6.1f ns\n"
      "  bounce (XDP_TX only)          %.3f Mpps  %6.1f ns\n"
      "  floor (kernel cookie, XDP_TX) %.3f Mpps  %6.1f ns\n"
      "  least a cookie answer behind the firewall costs: %.1f ns\n"
      "  cookies / drop                %.2f (auto %.2f)\n"
      "  limit / drop                  %.2f  (the most a cookie answer behind the firewall "
      "reaches)\n"
      "  cookies / limit               %.2f (auto %.2f)\n",
      rounds, static_cast<unsigned long>(frames), drop, 1e3 / drop, cookies, 1e3 / cookies,
      median(answered[1]), autom, 1e3 / autom, base, 1e3 / base, bounce, 1e3 / bounce, floor,
      1e3 / floor, limit_ns, cookies / drop, autom / drop, (1e3 / limit_ns) / drop,
      cookies / (1e3 / limit_ns), autom / (1e3 / limit_ns));
  close(listener);
  return 0;
}

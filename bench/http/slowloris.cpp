// SPDX-License-Identifier: Apache-2.0
// bench/http/slowloris: an authorized client's request latency to a live
// rampartd's REST API while one local address holds `connections` idle and
// trickling connections (reopened as soon as the server closes them, as an
// attacker would), against the same client's latency with no attack, in
// one run. Each request is a new TCP connection: the worst case, since it
// must get past the per-client cap every time.
//
//   bench_http_slowloris [connections=1000] [requests=2000]
//
// Prints p50, p99 and max for both phases, their ratio, and the server's
// own counts (evicted, timed out) from /metrics.
#include <poll.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.hpp"
#include "http_client.hpp"
#include "metrics_check.hpp"
#include "raw_http.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using rampart::test::RawConn;

struct Latency {
  double p50, p99, max;
};

Latency measure(const rampart::test::ApiClient& api, int requests, int& failures) {
  std::vector<double> ms;
  for (int i = 0; i < requests; ++i) {
    const auto t0 = Clock::now();
    const auto r = api.call("GET", "/api/v1/firewall/rules?limit=1");
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (r.status != 200) ++failures;
  }
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  return {at(0.5), at(0.99), ms.back()};
}

}  // namespace

int main(int argc, char** argv) {
  const int connections = argc > 1 ? std::stoi(argv[1]) : 1000;
  const int requests = argc > 2 ? std::stoi(argv[2]) : 2000;
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);

  rampart::test::TempDir dir;
  rampart::test::write_file(
      dir / "rampart.yaml",
      "agent:\n  log_level: warn\n  state_dir: " + (dir / "state") +
          "\nplugins:\n  firewall: {}\n  rest: " + rampart::test::rest_settings(dir.path()) +
          "\n  metrics: {listen: \"127.0.0.1:0\"}\n");
  rampart::test::DaemonProcess d({rampart::test::path::rampartd(), "--log-level", "info",
                                  "--config", dir / "rampart.yaml", "--plugin-dir",
                                  rampart::test::path::plugins()});
  if (!d.wait_for("ready plugins=firewall,metrics,rest")) {
    std::fprintf(stderr, "rampartd did not start:\n%s\n", d.output().c_str());
    return 1;
  }
  const rampart::test::ApiClient api{rampart::test::listening_port(d.output()),
                                     rampart::test::bootstrap_token(dir / "state")};
  const uint16_t metrics = rampart::test::listening_port(d.output(), "metrics");

  int failures = 0;
  const Latency quiet = measure(api, requests, failures);

  // The attack: half idle, half trickling a header byte every second; any
  // connection the server closes is reopened at once.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reopened{0};
  std::vector<RawConn> pool(static_cast<size_t>(connections));
  auto open = [&](size_t i) {
    pool[i] = RawConn::tcp(api.port);
    if (i % 2) pool[i].send("GET /api/v1/firewall/rules HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  };
  for (size_t i = 0; i < pool.size(); ++i) open(i);
  std::thread attacker([&] {
    auto next_trickle = Clock::now();
    std::vector<pollfd> fds(pool.size());
    while (!stop) {
      for (size_t i = 0; i < pool.size(); ++i) fds[i] = {pool[i].fd(), POLLIN, 0};
      poll(fds.data(), fds.size(), 50);
      for (size_t i = 0; i < pool.size(); ++i) {
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR) || !pool[i].ok()) {
          open(i);  // closed (or answered 408): come back
          ++reopened;
        }
      }
      if (Clock::now() >= next_trickle) {
        for (size_t i = 1; i < pool.size(); i += 2) pool[i].send("a");
        next_trickle = Clock::now() + std::chrono::seconds(1);
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let the pool fill and churn
  const Latency attacked = measure(api, requests, failures);
  stop = true;
  attacker.join();

  const auto m = rampart::test::http(metrics, "GET", "/metrics").body;
  auto counter = [&](const char* name) {
    return rampart::test::metric_value(m,
                                       std::string(name) + "{listener=\"rest\",plugin=\"rest\"}");
  };
  std::printf(
      "slowloris: %d attacking connections from 127.0.0.1 (half idle, half trickling), "
      "%d requests per phase, each on a new connection\n",
      connections, requests);
  std::printf("  quiet:    p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", quiet.p50, quiet.p99,
              quiet.max);
  std::printf("  attacked: p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", attacked.p50, attacked.p99,
              attacked.max);
  std::printf("  ratio attacked/quiet: p50 %.2fx  p99 %.2fx\n", attacked.p50 / quiet.p50,
              attacked.p99 / quiet.p99);
  std::printf("  failed requests: %d; attacker reconnects: %llu\n", failures,
              static_cast<unsigned long long>(reopened.load()));
  std::printf("  server: evicted %.0f, timed out %.0f, refused %.0f, accepted %.0f\n",
              counter("rampart_http_connections_evicted_total"),
              counter("rampart_http_connections_timed_out_total"),
              counter("rampart_http_connections_refused_total"),
              counter("rampart_http_connections_accepted_total"));
  return failures == 0 ? 0 : 1;
}

// SPDX-License-Identifier: Apache-2.0
// bench/api/write_latency: how long a rule written over REST takes to be
// in effect in the kernel. A 201/204 comes only after the engine compiled
// the set and swapped it into its XDP stage, so the request's latency
// is the time to effect. N writes, one at a time on a kept-alive
// connection, alternating create and delete of one rule on top of a
// standing set; prints median, p90, p99 and max in ms.
//
//   RAMPART_TOKEN=<admin or operator key> write_latency <port> [writes=1000]
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: write_latency <port> [writes]\n");
    return 2;
  }
  const auto port = static_cast<uint16_t>(std::stoi(argv[1]));
  const int writes = argc > 2 ? std::stoi(argv[2]) : 1000;
  const char* token = std::getenv("RAMPART_TOKEN");
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setKeepAlive(true);
  std::vector<double> ms;
  for (int i = 0; i < writes; ++i) {
    const bool create = i % 2 == 0;
    Poco::Net::HTTPRequest req(create ? "POST" : "DELETE",
                               create ? "/api/v1/firewall/rules" : "/api/v1/firewall/rules/900000",
                               Poco::Net::HTTPMessage::HTTP_1_1);
    if (token) req.set("Authorization", std::string("Bearer ") + token);
    const std::string body =
        R"({"id":900000,"priority":1,"action":"deny","protocol":"udp","src_ip":"192.0.2.)" +
        std::to_string(i % 250) + R"(/32","dst_port":"9999"})";
    const auto t0 = std::chrono::steady_clock::now();
    if (create) {
      req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(body.size()));
      session.sendRequest(req) << body;
    } else {
      session.sendRequest(req);
    }
    Poco::Net::HTTPResponse res;
    std::ostringstream sink;
    Poco::StreamCopier::copyStream(session.receiveResponse(res), sink);
    const double dt =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (res.getStatus() != (create ? 201 : 204)) {
      std::fprintf(stderr, "write %d: HTTP %d %s\n", i, static_cast<int>(res.getStatus()),
                   sink.str().c_str());
      return 1;
    }
    ms.push_back(dt);
  }
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  std::printf(
      "rule writes in effect in the kernel: %d writes, median %.1f ms, p90 %.1f ms, p99 %.1f "
      "ms, max %.1f ms\n",
      writes, at(0.5), at(0.9), at(0.99), ms.back());
  return 0;
}

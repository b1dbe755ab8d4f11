// SPDX-License-Identifier: Apache-2.0
// A rampart.v1.AlertStream client built from the proto, for tests and
// bench/alerts. Prints "subscribed" once the server has registered the
// stream, then one line per alert:
//   alert <id> <component> <rule_id> <technique_id> <suppressed_by-free> <latency_ns>
// where latency is the local CLOCK_REALTIME at receipt minus the alert's
// time; and finally "status <code> <message>".
//
//   rampart_test_alert_client [--server H:P] [--min-severity N] [--key K] [--no-read]
//
// --no-read subscribes and then never reads (a stuck client), until killed.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "rampart/v1/alerts.grpc.pb.h"

int main(int argc, char** argv) {
  std::string server = "127.0.0.1:50051", key;
  int min_severity = 0;
  bool no_read = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--server" && i + 1 < argc) {
      server = argv[++i];
    } else if (a == "--min-severity" && i + 1 < argc) {
      min_severity = std::atoi(argv[++i]);
    } else if (a == "--key" && i + 1 < argc) {
      key = argv[++i];
    } else if (a == "--no-read") {
      no_read = true;
    } else {
      std::fprintf(stderr, "usage: %s [--server H:P] [--min-severity N] [--key K] [--no-read]\n",
                   argv[0]);
      return 2;
    }
  }
  auto channel = grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
  auto stub = rampart::v1::AlertStream::NewStub(channel);
  grpc::ClientContext ctx;
  if (!key.empty()) ctx.AddMetadata("x-api-key", key);
  rampart::v1::StreamAlertsRequest req;
  req.set_min_severity(static_cast<rampart::v1::Severity>(min_severity));
  auto reader = stub->StreamAlerts(&ctx, req);
  reader->WaitForInitialMetadata();
  std::printf("subscribed\n");
  std::fflush(stdout);
  if (no_read) {
    for (;;) pause();
  }
  rampart::v1::Alert a;
  while (reader->Read(&a)) {
    const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const long long sent =
        static_cast<long long>(a.time().seconds()) * 1000000000ll + a.time().nanos();
    std::printf("alert %s %s %s %s %lld\n", a.id().c_str(), a.component().c_str(),
                a.rule_id().c_str(), a.has_mitre() ? a.mitre().technique_id().c_str() : "-",
                static_cast<long long>(now) - sent);
    std::fflush(stdout);
  }
  const grpc::Status st = reader->Finish();
  std::printf("status %d %s\n", static_cast<int>(st.error_code()), st.error_message().c_str());
  return st.ok() ? 0 : 1;
}

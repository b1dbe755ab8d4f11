// SPDX-License-Identifier: Apache-2.0
// The alert streams of the gRPC frontend: each connected client has its own
// bounded queue and filter. Alerts are converted to rampart.v1.Alert once
// and offered to every client; a client whose queue is full is cut off
// with RESOURCE_EXHAUSTED, so a slow reader never holds up stream_alert or
// the other clients.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rampart/v1/alerts.grpc.pb.h"

namespace rampart::grpc_frontend {

namespace v1 = ::rampart::v1;

// An SDK alert as the wire message (time as a Timestamp, addresses as text,
// enrichment only where the host knew something).
void to_proto(const sdk::Alert& in, v1::Alert& out);

// Which alerts one client asked for; an empty list lets everything through.
struct Filter {
  int min_severity = 0;
  std::vector<std::string> components;
  std::vector<std::string> tactics;     // lower case
  std::vector<std::string> techniques;  // lower case

  static Filter from(const v1::StreamAlertsRequest& req);
  bool pass(const v1::Alert& a) const;
};

// The plugin's metrics, shared by every stream.
struct StreamMetrics {
  sdk::Metric clients;  // gauge
  sdk::Metric sent;     // counter
  sdk::Metric cut;      // counter
};

class ClientStream;

// Every open stream. publish() is what stream_alert calls: it takes short
// locks and starts writes, it never waits for a client.
class Hub : public std::enable_shared_from_this<Hub> {
 public:
  Hub(const sdk::Host& host, size_t queue_limit, StreamMetrics metrics);

  // The reactor for a new (already authorised) client.
  grpc::ServerWriteReactor<v1::Alert>* open(const std::string& peer, Filter filter);
  void publish(const sdk::Alert& alert);
  // Ends every stream with UNAVAILABLE and refuses new ones; publish()
  // does nothing from now on.
  void close();
  // True once every stream has finished (gRPC called OnDone), within `timeout`.
  bool wait_idle(std::chrono::milliseconds timeout);

 private:
  friend class ClientStream;
  void remove(const ClientStream* stream);

  const sdk::Host& host_;
  const size_t queue_limit_;
  StreamMetrics metrics_;
  std::mutex mu_;
  std::condition_variable idle_;
  bool closed_ = false;
  std::vector<std::shared_ptr<ClientStream>> clients_;
};

// A reactor that only answers with `status` (refused calls).
class Refusal : public grpc::ServerWriteReactor<v1::Alert> {
 public:
  explicit Refusal(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace rampart::grpc_frontend

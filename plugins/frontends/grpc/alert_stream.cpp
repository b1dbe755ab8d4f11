// SPDX-License-Identifier: Apache-2.0
#include "alert_stream.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace rampart::grpc_frontend {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void enrich(const rampart_alert_enrichment* in, v1::Enrichment* out) {
  out->set_country(std::string(sdk::Alert::view(in->country)));
  out->set_city(std::string(sdk::Alert::view(in->city)));
  out->set_asn(in->asn);
  out->set_as_org(std::string(sdk::Alert::view(in->as_org)));
  out->set_name(std::string(sdk::Alert::view(in->name)));
  if (in->reputation >= 0) out->set_reputation(in->reputation);
}

bool listed(const std::vector<std::string>& list, const std::string& value) {
  return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

void to_proto(const sdk::Alert& in, v1::Alert& out) {
  const rampart_alert& a = *in.raw;
  out.set_id(std::string(in.id()));
  out.mutable_time()->set_seconds(static_cast<int64_t>(a.time_ns / 1'000'000'000));
  out.mutable_time()->set_nanos(static_cast<int32_t>(a.time_ns % 1'000'000'000));
  out.set_component(std::string(in.component()));
  out.set_severity(static_cast<v1::Severity>(std::min<uint32_t>(a.severity, v1::Severity_MAX)));
  out.set_action(a.action == RAMPART_ALERT_ACTION_BLOCK ? v1::ACTION_BLOCK : v1::ACTION_ALERT);
  out.set_rule_id(std::string(in.rule_id()));
  out.set_message(std::string(in.message()));
  out.set_src_ip(sdk::address_text(a.ip_family, a.src_addr));
  out.set_dst_ip(sdk::address_text(a.ip_family, a.dst_addr));
  out.set_src_port(a.src_port);
  out.set_dst_port(a.dst_port);
  out.set_protocol(a.protocol);
  out.set_vlan_id(a.vlan_id);
  if (!in.technique_id().empty() || !in.tactic().empty()) {
    out.mutable_mitre()->set_technique_id(std::string(in.technique_id()));
    out.mutable_mitre()->set_technique_name(std::string(in.technique_name()));
    out.mutable_mitre()->set_tactic(std::string(in.tactic()));
  }
  out.set_suppressed(in.suppressed());
  if (in.signature_id() != 0 || !in.signature().empty() || !in.category().empty()) {
    out.mutable_signature()->set_id(in.signature_id());
    out.mutable_signature()->set_name(std::string(in.signature()));
    out.mutable_signature()->set_rev(in.signature_rev());
    out.mutable_signature()->set_category(std::string(in.category()));
  }
  out.set_flow_id(in.flow_id());
  out.set_app_proto(std::string(in.app_proto()));
  if (!in.match_buffer().empty() || !in.match_excerpt().empty()) {
    out.mutable_match()->set_buffer(std::string(in.match_buffer()));
    out.mutable_match()->set_offset(in.match_offset());
    out.mutable_match()->set_excerpt(std::string(in.match_excerpt()));
  }
  out.set_context_json(std::string(in.context_json()));
  if (const auto* src = in.src_info()) enrich(src, out.mutable_src_geo());
  if (const auto* dst = in.dst_info()) enrich(dst, out.mutable_dst_geo());
}

Filter Filter::from(const v1::StreamAlertsRequest& req) {
  Filter f;
  f.min_severity = req.min_severity();
  f.components.assign(req.components().begin(), req.components().end());
  for (const auto& t : req.tactics()) f.tactics.push_back(lower(t));
  for (const auto& t : req.techniques()) f.techniques.push_back(lower(t));
  return f;
}

bool Filter::pass(const v1::Alert& a) const {
  return a.severity() >= min_severity && listed(components, a.component()) &&
         listed(tactics, lower(a.mitre().tactic())) &&
         listed(techniques, lower(a.mitre().technique_id()));
}

// One client's stream. Every gRPC call on it (StartWrite, Finish) is made
// under mu_, so they never overlap; gRPC runs the reactions
// (OnWriteDone, OnCancel, OnDone) on its own threads, never inside those
// calls, so holding mu_ there cannot deadlock. The queue's front is the
// message being written while writing_ is set.
class ClientStream : public grpc::ServerWriteReactor<v1::Alert> {
 public:
  ClientStream(std::shared_ptr<Hub> hub, std::string peer, Filter filter)
      : hub_(std::move(hub)), peer_(std::move(peer)), filter_(std::move(filter)) {}

  // gRPC's reference: dropped in OnDone, after which gRPC never touches us.
  void adopt(std::shared_ptr<ClientStream> self) { self_ = std::move(self); }
  const std::string& peer() const { return peer_; }

  // Sends the response headers at once: a client knows it is subscribed
  // (WaitForInitialMetadata returns) before the first alert arrives.
  void announce() {
    std::lock_guard lock(mu_);
    StartSendInitialMetadata();
  }

  void offer(const std::shared_ptr<const v1::Alert>& alert) {
    std::lock_guard lock(mu_);
    if (finished_ || !filter_.pass(*alert)) return;
    if (queue_.size() >= hub_->queue_limit_) {
      const std::string why =
          "client too slow: " + std::to_string(queue_.size()) + " alerts queued";
      end_locked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, why));
      hub_->metrics_.cut.inc();
      hub_->host_.warn("cut off " + peer_ + ": " + why + " (plugins." +
                       std::string(hub_->host_.plugin_id()) + ".queue)");
      return;
    }
    queue_.push_back(alert);
    if (!writing_) {
      writing_ = true;
      StartWrite(queue_.front().get());
    }
  }

  void end(const grpc::Status& status) {
    std::lock_guard lock(mu_);
    end_locked(status);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    queue_.pop_front();
    if (ok) hub_->metrics_.sent.inc();
    if (!ok) end_locked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
    if (finished_ || queue_.empty()) {
      writing_ = false;
      return;
    }
    StartWrite(queue_.front().get());
  }

  void OnCancel() override { end(grpc::Status::CANCELLED); }

  void OnDone() override {
    hub_->remove(this);
    const auto last = std::move(self_);  // may delete this on return
  }

 private:
  // Finishes once; keeps only the message being written (gRPC reads it
  // until OnWriteDone).
  void end_locked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    queue_.resize(writing_ ? 1 : 0);
    Finish(status);
  }

  const std::shared_ptr<Hub> hub_;
  const std::string peer_;
  const Filter filter_;
  std::shared_ptr<ClientStream> self_;
  std::mutex mu_;
  std::deque<std::shared_ptr<const v1::Alert>> queue_;
  bool writing_ = false;
  bool finished_ = false;
};

Hub::Hub(const sdk::Host& host, size_t queue_limit, StreamMetrics metrics)
    : host_(host), queue_limit_(queue_limit), metrics_(std::move(metrics)) {}

grpc::ServerWriteReactor<v1::Alert>* Hub::open(const std::string& peer, Filter filter) {
  auto stream = std::make_shared<ClientStream>(shared_from_this(), peer, std::move(filter));
  stream->adopt(stream);
  stream->announce();  // before anyone else can reach it
  std::lock_guard lock(mu_);
  if (closed_) {
    stream->end(grpc::Status(grpc::StatusCode::UNAVAILABLE, "rampart is stopping"));
    return stream.get();  // gRPC still owns it until OnDone
  }
  clients_.push_back(stream);
  metrics_.clients.set(static_cast<double>(clients_.size()));
  host_.debug("stream opened by " + peer);
  return stream.get();
}

void Hub::publish(const sdk::Alert& alert) {
  std::vector<std::shared_ptr<ClientStream>> clients;
  {
    std::lock_guard lock(mu_);
    if (closed_ || clients_.empty()) return;
    clients = clients_;
  }
  auto message = std::make_shared<v1::Alert>();
  to_proto(alert, *message);
  for (const auto& c : clients) c->offer(message);
}

void Hub::close() {
  std::vector<std::shared_ptr<ClientStream>> clients;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    clients = clients_;
  }
  for (const auto& c : clients)
    c->end(grpc::Status(grpc::StatusCode::UNAVAILABLE, "rampart is stopping"));
}

bool Hub::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return idle_.wait_for(lock, timeout, [&] { return clients_.empty(); });
}

void Hub::remove(const ClientStream* stream) {
  std::lock_guard lock(mu_);
  std::erase_if(clients_, [&](const auto& c) { return c.get() == stream; });
  metrics_.clients.set(static_cast<double>(clients_.size()));
  host_.debug("stream closed by " + stream->peer());
  if (clients_.empty()) idle_.notify_all();
}

}  // namespace rampart::grpc_frontend

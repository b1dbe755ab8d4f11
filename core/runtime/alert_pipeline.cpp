// SPDX-License-Identifier: Apache-2.0
#include "runtime/alert_pipeline.hpp"

#include <Poco/UUIDGenerator.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace rampart::runtime {
namespace {

std::string copy_str(const rampart_str& s) {
  return s.ptr ? std::string(s.ptr, s.len) : std::string();
}
rampart_str view(const std::string& s) { return rampart_str{s.data(), s.size()}; }

}  // namespace

AlertRecord AlertRecord::from_abi(const rampart_alert& a) {
  AlertRecord r;
  if (a.struct_size < RAMPART_FIELD_END(rampart_alert, message))
    return r;  // smaller than v1.0: nothing usable
  r.severity = std::min<uint32_t>(a.severity, RAMPART_SEVERITY_CRITICAL);
  r.action = a.action == RAMPART_ALERT_ACTION_BLOCK ? RAMPART_ALERT_ACTION_BLOCK
                                                    : RAMPART_ALERT_ACTION_ALERT;
  r.ip_family = (a.ip_family == 4 || a.ip_family == 6) ? a.ip_family : 0;
  r.protocol = a.protocol;
  r.vlan_id = a.vlan_id;
  std::memcpy(r.src_addr.data(), a.src_addr, 16);
  std::memcpy(r.dst_addr.data(), a.dst_addr, 16);
  r.src_port = a.src_port;
  r.dst_port = a.dst_port;
  r.time_ns = a.time_ns;
  r.rule_id = copy_str(a.rule_id);
  r.message = copy_str(a.message);
  return r;
}

rampart_alert AlertRecord::to_abi() const {
  rampart_alert a{};
  a.struct_size = sizeof(a);
  a.severity = severity;
  a.action = action;
  a.ip_family = ip_family;
  a.protocol = protocol;
  a.vlan_id = vlan_id;
  std::memcpy(a.src_addr, src_addr.data(), 16);
  std::memcpy(a.dst_addr, dst_addr.data(), 16);
  a.src_port = src_port;
  a.dst_port = dst_port;
  a.time_ns = time_ns;
  a.id = view(id);
  a.component = view(component);
  a.rule_id = view(rule_id);
  a.message = view(message);
  return a;
}

void AlertPipeline::add_sender(std::shared_ptr<AlertSink> sender) {
  std::lock_guard lock(mu_);
  senders_.push_back(std::move(sender));
}

void AlertPipeline::remove_sender(const AlertSink* sender) {
  std::lock_guard lock(mu_);
  std::erase_if(senders_, [&](const auto& s) { return s.get() == sender; });
}

std::string AlertPipeline::emit(const std::string& component, const rampart_alert& alert) {
  auto record = std::make_shared<AlertRecord>(AlertRecord::from_abi(alert));
  record->component = component;
  record->id = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
  if (record->time_ns == 0) {
    record->time_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  }
  emitted_.fetch_add(1, std::memory_order_relaxed);
  std::vector<std::shared_ptr<AlertSink>> targets;
  {
    std::lock_guard lock(mu_);
    targets = senders_;
  }
  for (auto& s : targets) {
    boost::asio::post(workers_, [s, record] { s->deliver(*record); });
  }
  return record->id;
}

}  // namespace rampart::runtime

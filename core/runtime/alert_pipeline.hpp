// SPDX-License-Identifier: Apache-2.0
// Alerts from engines: copied out of the plugin's memory, given an id and a
// time, and handed to every registered sender on the worker pool.
// Enrichment, routing, dedup and circuit breakers grow here (alert issue).
#pragma once

#include <rampart/sdk/abi.h>

#include <boost/asio/thread_pool.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rampart::runtime {

// An alert owned by the core.
struct AlertRecord {
  std::string id;
  std::string component;
  std::string rule_id;
  std::string message;
  uint32_t severity = RAMPART_SEVERITY_LOW;
  uint32_t action = RAMPART_ALERT_ACTION_ALERT;
  uint8_t ip_family = 0;
  uint8_t protocol = 0;
  uint16_t vlan_id = 0;
  std::array<uint8_t, 16> src_addr{};
  std::array<uint8_t, 16> dst_addr{};
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint64_t time_ns = 0;

  // Reads only the fields inside alert.struct_size.
  static AlertRecord from_abi(const rampart_alert& alert);
  // A view valid while this record lives.
  rampart_alert to_abi() const;
};

class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void deliver(const AlertRecord& alert) = 0;
};

class AlertPipeline {
 public:
  explicit AlertPipeline(boost::asio::thread_pool& workers) : workers_(workers) {}

  void add_sender(std::shared_ptr<AlertSink> sender);
  void remove_sender(const AlertSink* sender);

  // Returns the id given to the alert.
  std::string emit(const std::string& component, const rampart_alert& alert);

  uint64_t emitted() const { return emitted_.load(); }

 private:
  boost::asio::thread_pool& workers_;
  std::mutex mu_;
  std::vector<std::shared_ptr<AlertSink>> senders_;
  std::atomic<uint64_t> emitted_{0};
};

}  // namespace rampart::runtime

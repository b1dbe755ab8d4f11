// SPDX-License-Identifier: Apache-2.0
// Captures the core logger's lines (which include every plugin's host log)
// so tests can wait for and assert on what the host and plugins did.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "log/logger.hpp"

namespace rampart::test {

class LogCapture {
 public:
  LogCapture() {
    log::Logger::global().configure(log::Level::debug, log::Format::text);
    log::Logger::global().set_sink([this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
      cv_.notify_all();
    });
  }
  ~LogCapture() { log::Logger::global().set_sink(nullptr); }

  // True once `count` lines containing `needle` have been logged.
  bool wait_for(const std::string& needle, size_t count = 1,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_locked(needle) >= count; });
  }
  size_t count(const std::string& needle) {
    std::lock_guard lock(mu_);
    return count_locked(needle);
  }
  // Index of the first line containing needle, or -1.
  long index_of(const std::string& needle, size_t from = 0) {
    std::lock_guard lock(mu_);
    for (size_t i = from; i < lines_.size(); ++i) {
      if (lines_[i].find(needle) != std::string::npos) return static_cast<long>(i);
    }
    return -1;
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }
  std::string dump() {
    std::string out;
    for (const auto& l : lines()) out += l + "\n";
    return out;
  }

 private:
  size_t count_locked(const std::string& needle) const {
    size_t n = 0;
    for (const auto& l : lines_) n += l.find(needle) != std::string::npos;
    return n;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

}  // namespace rampart::test

// SPDX-License-Identifier: Apache-2.0
// Structured logging for the core and, through the host table, for plugins:
// one line per record, as text or as JSON lines, to stderr (journald) or a
// sink set by tests.
#pragma once

#include <atomic>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace rampart::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };
enum class Format { text, json };

// Parses "debug|info|warn|error" / "text|json"; false on anything else.
bool parse_level(std::string_view s, Level& out);
bool parse_format(std::string_view s, Format& out);

using Field = std::pair<std::string_view, std::string_view>;

class Logger {
 public:
  static Logger& global();

  void configure(Level min_level, Format format);
  Level level() const { return min_level_; }
  // Lock-free: the fatal-signal report reads it from a signal handler.
  Format format() const noexcept { return format_.load(std::memory_order_relaxed); }
  // Replaces stderr as the destination of formatted lines (tests).
  void set_sink(std::function<void(std::string_view line)> sink);

  void write(Level level, std::string_view component, std::string_view msg,
             std::initializer_list<Field> fields = {});

 private:
  std::string format_line(Level level, std::string_view component, std::string_view msg,
                          std::initializer_list<Field> fields) const;

  std::mutex mu_;
  Level min_level_ = Level::info;
  std::atomic<Format> format_{Format::text};
  std::function<void(std::string_view)> sink_;
};

inline void debug(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  Logger::global().write(Level::debug, c, m, f);
}
inline void info(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  Logger::global().write(Level::info, c, m, f);
}
inline void warn(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  Logger::global().write(Level::warn, c, m, f);
}
inline void error(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  Logger::global().write(Level::error, c, m, f);
}

}  // namespace rampart::log

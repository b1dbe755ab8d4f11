// SPDX-License-Identifier: Apache-2.0
#include "log/logger.hpp"

#include <Poco/JSON/Object.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <sstream>

namespace rampart::log {
namespace {

constexpr std::string_view kLevelNames[] = {"debug", "info", "warn", "error"};

std::string utc_timestamp() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

// Text values with spaces or quotes are quoted so lines stay splittable.
void append_text_value(std::string& out, std::string_view v) {
  if (!v.empty() && v.find_first_of(" \"=\t\n") == std::string_view::npos) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace

bool parse_level(std::string_view s, Level& out) {
  for (size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (s == kLevelNames[i]) {
      out = static_cast<Level>(i);
      return true;
    }
  }
  return false;
}

bool parse_format(std::string_view s, Format& out) {
  if (s == "text")
    out = Format::text;
  else if (s == "json")
    out = Format::json;
  else
    return false;
  return true;
}

Logger& Logger::global() {
  static Logger logger;
  return logger;
}

void Logger::configure(Level min_level, Format format) {
  std::lock_guard lock(mu_);
  min_level_ = min_level;
  format_ = format;
}

void Logger::set_sink(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(mu_);
  sink_ = std::move(sink);
}

std::string Logger::format_line(Level level, std::string_view component, std::string_view msg,
                                std::initializer_list<Field> fields) const {
  const std::string_view lvl = kLevelNames[static_cast<int>(level)];
  if (format_ == Format::json) {
    Poco::JSON::Object obj(Poco::JSON_PRESERVE_KEY_ORDER);
    obj.set("ts", utc_timestamp());
    obj.set("level", std::string(lvl));
    obj.set("component", std::string(component));
    obj.set("msg", std::string(msg));
    for (const auto& [k, v] : fields) obj.set(std::string(k), std::string(v));
    std::ostringstream os;
    obj.stringify(os);
    return os.str();
  }
  std::string line = utc_timestamp();
  line.push_back(' ');
  line.append(lvl);
  line.append(" [");
  line.append(component);
  line.append("] ");
  line.append(msg);
  for (const auto& [k, v] : fields) {
    line.push_back(' ');
    line.append(k);
    line.push_back('=');
    append_text_value(line, v);
  }
  return line;
}

void Logger::write(Level level, std::string_view component, std::string_view msg,
                   std::initializer_list<Field> fields) {
  std::lock_guard lock(mu_);
  if (level < min_level_) return;
  const std::string line = format_line(level, component, msg, fields);
  if (sink_) {
    sink_(line);
    return;
  }
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace rampart::log

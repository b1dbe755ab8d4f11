// SPDX-License-Identifier: Apache-2.0
#include "bpf/libbpf_log.hpp"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <string_view>

#include "log/logger.hpp"

namespace rampart::bpf {
namespace {

int print(libbpf_print_level level, const char* format, va_list args) {
  const log::Level to = level == LIBBPF_WARN   ? log::Level::warn
                        : level == LIBBPF_INFO ? log::Level::info
                                               : log::Level::debug;
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, format, again);
  va_end(again);
  if (n <= 0) return n;
  std::string text(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, args);
  text.resize(static_cast<size_t>(n));
  // Mostly one line with a newline; the verifier's log comes as many lines
  // in one message. A record per line keeps text logs one record per line.
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    if (constexpr std::string_view kPrefix = "libbpf: "; line.substr(0, kPrefix.size()) == kPrefix)
      line.remove_prefix(kPrefix.size());
    if (!line.empty()) log::Logger::global().write(to, "libbpf", line);
  }
  return n;
}

}  // namespace

void route_libbpf_log() { libbpf_set_print(&print); }

}  // namespace rampart::bpf

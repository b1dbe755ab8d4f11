// SPDX-License-Identifier: Apache-2.0
// Control characters in text from outside (REST bodies, settings, feeds),
// for the plugins' parsers. Header-only so any plugin library can use it
// without another link dependency.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace rampart::text {

// Offset of the first control character (C0 or DEL; HTAB only when
// `tab_ok` is false), or npos.
inline size_t first_control_char(std::string_view s, bool tab_ok = false) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && !(tab_ok && c == '\t')) || c == 0x7f) return i;
  }
  return std::string_view::npos;
}

// "" when `s` has none, else what and where, without echoing it (it would
// reach logs and API answers as is, and a NUL cuts C strings short):
// "contains a NUL byte (offset 11)", "contains control character 0x0a
// (offset 3)". A NUL matters most: inet_pton, open and friends read a C
// string, so "198.18.20.2\0junk" would pass for 198.18.20.2.
inline std::string control_char_problem(std::string_view s) {
  const size_t at = first_control_char(s);
  if (at == std::string_view::npos) return "";
  const auto c = static_cast<unsigned char>(s[at]);
  char what[40];
  if (c == 0) {
    std::snprintf(what, sizeof what, "contains a NUL byte");
  } else {
    std::snprintf(what, sizeof what, "contains control character 0x%02x", c);
  }
  return std::string(what) + " (offset " + std::to_string(at) + ")";
}

}  // namespace rampart::text

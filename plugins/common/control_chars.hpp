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

// The length of the valid UTF-8 sequence at s[i] (1-4), or 0 if there is
// none there (RFC 3629: no overlong forms, surrogates or code points past
// U+10FFFF).
inline size_t sequence_length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return n;
}

// `s` with every invalid UTF-8 sequence replaced by U+FFFD: text from the
// wire made safe for JSON.
inline std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = sequence_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace rampart::text

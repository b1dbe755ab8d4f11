// SPDX-License-Identifier: Apache-2.0
#include "import_split.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <string>

namespace rampart::api {
namespace {

constexpr size_t npos = std::string_view::npos;

size_t skip_ws(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// From the opening quote to just past the closing one (npos: unterminated).
size_t skip_string(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\')
      ++i;
    else if (s[i] == '"')
      return i + 1;
  }
  return npos;
}

// From an opening bracket to just past the one that closes it, strings
// skipped; `deepest`: the nesting reached (npos: unbalanced). Whether what
// lies between is valid JSON is for the parser to say.
size_t skip_nested(std::string_view s, size_t i, int& deepest) {
  int depth = 0;
  deepest = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') {
      i = skip_string(s, i);
      if (i == npos) return npos;
      continue;
    }
    if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
    ++i;
  }
  return npos;
}

// The body with its rules array [open, close] emptied: an object whose
// "rules" is that empty array, the rest as the body has it.
bool skeleton_holds(std::string_view body, size_t open, size_t close) {
  std::string skeleton;
  skeleton.reserve(open + 1 + body.size() - close);
  skeleton.append(body.substr(0, open + 1)).append(body.substr(close));
  try {
    const auto v = Poco::JSON::Parser().parse(skeleton);
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) return false;
    const auto o = v.extract<Poco::JSON::Object::Ptr>();
    if (!o || !o->isArray("rules")) return false;
    const auto rules = o->getArray("rules");
    return rules && rules->size() == 0;
  } catch (...) {
    return false;
  }
}

}  // namespace

std::optional<std::vector<std::string_view>> import_elements(std::string_view body) {
  size_t i = skip_ws(body, 0);
  if (i >= body.size() || body[i] != '{') return std::nullopt;
  std::vector<std::string_view> elements;
  size_t open = npos, close = npos;
  int depth = 0;
  while (i < body.size()) {
    const char c = body[i];
    if (c != '"') {
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') --depth;
      ++i;
      continue;
    }
    const size_t start = i;
    i = skip_string(body, i);
    if (i == npos) return std::nullopt;
    if (depth != 1) continue;
    size_t at = skip_ws(body, i);
    if (at >= body.size() || body[at] != ':' ||
        body.substr(start + 1, i - start - 2) != "rules")  // a value, or another key
      continue;
    if (open != npos) return std::nullopt;  // twice: the last would count
    at = skip_ws(body, at + 1);
    if (at >= body.size() || body[at] != '[') return std::nullopt;
    open = at;
    at = skip_ws(body, at + 1);
    while (at < body.size() && body[at] != ']') {
      if (body[at] != '{') return std::nullopt;  // not an object: an error to word
      int deepest = 0;
      const size_t end = skip_nested(body, at, deepest);
      if (end == npos || deepest > kMaxElementDepth) return std::nullopt;
      elements.push_back(body.substr(at, end - at));
      at = skip_ws(body, end);
      if (at < body.size() && body[at] == ',') {
        at = skip_ws(body, at + 1);
        if (at < body.size() && body[at] == ']') return std::nullopt;  // a trailing comma
      } else if (at >= body.size() || body[at] != ']') {
        return std::nullopt;
      }
    }
    if (at >= body.size()) return std::nullopt;
    close = at;
    i = at + 1;
  }
  if (open == npos || !skeleton_holds(body, open, close)) return std::nullopt;
  return elements;
}

}  // namespace rampart::api

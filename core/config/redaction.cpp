// SPDX-License-Identifier: Apache-2.0
#include "config/redaction.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/URI.h>

#include <algorithm>
#include <span>

namespace rampart::config {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr std::string_view kUrlSuffix = "#url";

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    const size_t dot = path.find('.', start);
    out.push_back(path.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool digit(char c) { return c >= '0' && c <= '9'; }

// RFC 3986 scheme.
bool valid_scheme(std::string_view s) {
  return !s.empty() && alpha(s[0]) && std::all_of(s.begin(), s.end(), [](char c) {
    return alpha(c) || digit(c) || c == '+' || c == '-' || c == '.';
  });
}

// What may be shown of an authority: a registered name or an IP literal
// and a port. Sub-delimiters and anything else are refused rather than
// reasoned about: the host part is shown verbatim.
bool showable_host_port(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return alpha(c) || digit(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':' ||
           c == '[' || c == ']' || c == '%';
  });
}

void redact_value(Poco::Dynamic::Var& v, bool url) {
  v = url && v.isString() ? redact_url(v.extract<std::string>()) : std::string(kRedacted);
}

void walk(Poco::Dynamic::Var& v, std::span<const std::string_view> segments, bool url) {
  if (segments.empty()) {
    redact_value(v, url);
    return;
  }
  const std::string_view seg = segments.front();
  const auto rest = segments.subspan(1);
  if (v.type() == typeid(Object::Ptr)) {
    Object::Ptr o = v.extract<Object::Ptr>();
    std::vector<std::string> names;
    o->getNames(names);
    for (const auto& name : names) {
      if (seg != "*" && seg != name) continue;
      Poco::Dynamic::Var child = o->get(name);
      walk(child, rest, url);
      o->set(name, child);
    }
  } else if (v.type() == typeid(Array::Ptr)) {
    Array::Ptr a = v.extract<Array::Ptr>();
    for (size_t i = 0; i < a->size(); ++i) {
      if (seg != "*" && seg != std::to_string(i)) continue;
      Poco::Dynamic::Var child = a->get(static_cast<unsigned>(i));
      walk(child, rest, url);
      a->set(static_cast<unsigned>(i), child);
    }
  }
  // A scalar where the path goes on: the path reaches nothing.
}

}  // namespace

std::optional<std::string> secret_path_problem(std::string_view path) {
  if (path.empty()) return "is empty";
  if (path.size() > kMaxSecretPathLength)
    return "is longer than " + std::to_string(kMaxSecretPathLength) + " bytes";
  std::string_view keys = path;
  if (keys.ends_with(kUrlSuffix)) keys.remove_suffix(kUrlSuffix.size());
  for (const auto seg : split(keys)) {
    if (seg.empty()) return "has an empty segment";
    if (seg.find('#') != std::string_view::npos) return "has '#' other than a final \"#url\"";
  }
  return std::nullopt;
}

std::string redact_url(std::string_view url) {
  const std::string redacted(kRedacted);
  // Poco decides whether it is a URL at all (ports, IPv6 brackets, percent
  // escapes); what is shown is cut from the text as written, so the host
  // and port read as in the config file.
  try {
    const Poco::URI uri{std::string(url)};
    if (uri.getHost().empty()) return redacted;
  } catch (const Poco::Exception&) {
    return redacted;
  }
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos || !valid_scheme(url.substr(0, sep))) return redacted;
  const size_t begin = sep + 3;
  const size_t end = std::min(url.find_first_of("/?#", begin), url.size());
  const std::string_view authority = url.substr(begin, end - begin);
  const size_t at = authority.rfind('@');
  const std::string_view host_port =
      at == std::string_view::npos ? authority : authority.substr(at + 1);
  if (!showable_host_port(host_port)) return redacted;
  const std::string_view rest = url.substr(end);
  return std::string(url.substr(0, begin)) + (at == std::string_view::npos ? "" : redacted + "@") +
         std::string(host_port) +
         (rest.empty() || rest == "/" ? std::string(rest) : "/" + redacted);
}

void redact_paths(Poco::Dynamic::Var& subtree, const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    std::string_view keys = path;
    const bool url = keys.ends_with(kUrlSuffix);
    if (url) keys.remove_suffix(kUrlSuffix.size());
    const auto segments = split(keys);
    walk(subtree, segments, url);
  }
}

void redact_undeclared(Poco::Dynamic::Var& subtree) {
  if (subtree.type() != typeid(Object::Ptr)) {
    subtree = std::string(kRedacted);
    return;
  }
  Object::Ptr o = subtree.extract<Object::Ptr>();
  std::vector<std::string> names;
  o->getNames(names);
  for (const auto& name : names) {
    if (name != "enabled") o->set(name, std::string(kRedacted));
  }
}

}  // namespace rampart::config

// SPDX-License-Identifier: Apache-2.0
#include "json_body.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include <cstring>
#include <sstream>
#include <vector>

namespace rampart::json {

Poco::JSON::Object::Ptr object_of(const std::string& body) {
  Poco::Dynamic::Var v;
  try {
    v = Poco::JSON::Parser().parse(body);
  } catch (const Poco::Exception& e) {
    throw BodyError(": not valid JSON: " + e.message());
  }
  if (v.type() != typeid(Poco::JSON::Object::Ptr)) throw BodyError(": expected a JSON object");
  return v.extract<Poco::JSON::Object::Ptr>();
}

void only_fields(const Poco::JSON::Object& o, std::initializer_list<const char*> known) {
  std::vector<std::string> names;
  o.getNames(names);
  for (const auto& n : names) {
    bool ok = false;
    for (const char* k : known) ok = ok || n == k;
    if (!ok) throw BodyError(n + ": unknown field");
  }
}

uint64_t positive(const Poco::JSON::Object& o, const std::string& key, uint64_t hi) {
  const auto v = o.get(key);
  const std::string range = key + ": must be 1-" + std::to_string(hi);
  if (!v.isInteger() || (v.isSigned() && v.convert<int64_t>() < 1)) throw BodyError(range);
  const auto x = v.convert<uint64_t>();
  if (x < 1 || x > hi) throw BodyError(range);
  return x;
}

uint64_t entry_id(const Poco::JSON::Object& o, uint64_t path_id, uint64_t hi) {
  if (!o.has("id")) return path_id;
  const uint64_t given = positive(o, "id", hi);
  if (path_id && given != path_id)
    throw BodyError("id: the body says " + std::to_string(given) + ", the path " +
                    std::to_string(path_id));
  return given;
}

std::string required_string(const Poco::JSON::Object& o, const std::string& key) {
  if (!o.has(key)) throw BodyError(key + ": required");
  return string_field(o, key);
}

std::string string_field(const Poco::JSON::Object& o, const std::string& key) {
  const auto v = o.get(key);
  if (!v.isString()) throw BodyError(key + ": expected a string");
  return v.convert<std::string>();
}

bool bool_field(const Poco::JSON::Object& o, const std::string& key) {
  const auto v = o.get(key);
  if (!v.isBoolean()) throw BodyError(key + ": expected a boolean");
  return v.convert<bool>();
}

std::string to_text(const Poco::JSON::Object& o) {
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

}  // namespace rampart::json

// SPDX-License-Identifier: Apache-2.0
#include "api/json_schema.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

namespace rampart::api {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

bool is_object(const Poco::Dynamic::Var& v) { return v.type() == typeid(Object::Ptr); }
bool is_array(const Poco::Dynamic::Var& v) { return v.type() == typeid(Array::Ptr); }

bool has_type(const Poco::Dynamic::Var& v, const std::string& type) {
  if (type == "object") return is_object(v);
  if (type == "array") return is_array(v);
  if (type == "string") return v.isString();
  if (type == "boolean") return v.type() == typeid(bool);
  if (type == "integer") return v.isInteger() && v.type() != typeid(bool);
  if (type == "number") return v.isNumeric() && v.type() != typeid(bool);
  return true;  // unknown types are not ours to refuse
}

std::string text_of(const Poco::Dynamic::Var& v) {
  if (is_object(v)) return "an object";
  if (is_array(v)) return "an array";
  if (v.isEmpty()) return "null";
  const std::string t = v.toString().substr(0, 64);
  return v.isString() ? "'" + t + "'" : t;
}

std::string join(const std::string& base, const std::string& key) {
  return base.empty() ? key : base + "." + key;
}

std::optional<SchemaViolation> check(const Object::Ptr& s, const Poco::Dynamic::Var& v,
                                     const std::string& at) {
  auto fail = [&](const std::string& why) { return SchemaViolation{at, why}; };
  if (s->has("type")) {
    const std::string type = s->getValue<std::string>("type");
    if (!has_type(v, type))
      return fail("expected " +
                  (type == "integer"  ? std::string("an integer")
                   : type == "object" ? "an object"
                   : type == "array"  ? "an array"
                                      : "a " + type) +
                  ", got " + text_of(v));
  }
  if (s->has("enum") && s->isArray("enum")) {
    const auto options = s->getArray("enum");
    std::string list;
    bool found = false;
    for (size_t i = 0; i < options->size(); ++i) {
      const auto o = options->get(i);
      list += (i ? ", " : "") + o.toString();
      if (o.toString() == v.toString() && o.isString() == v.isString()) found = true;
    }
    if (!found) return fail("expected one of " + list + ", got " + text_of(v));
  }
  if (v.isNumeric() && v.type() != typeid(bool)) {
    const double d = v.convert<double>();
    if (s->has("minimum") && d < s->getValue<double>("minimum"))
      return fail("must be at least " + s->get("minimum").toString());
    if (s->has("maximum") && d > s->getValue<double>("maximum"))
      return fail("must be at most " + s->get("maximum").toString());
  }
  if (v.isString()) {
    const size_t n = v.toString().size();
    if (s->has("minLength") && n < s->getValue<size_t>("minLength"))
      return fail("shorter than " + s->get("minLength").toString() + " characters");
    if (s->has("maxLength") && n > s->getValue<size_t>("maxLength"))
      return fail("longer than " + s->get("maxLength").toString() + " characters");
  }
  if (is_object(v)) {
    const auto o = v.extract<Object::Ptr>();
    const Object::Ptr props = s->has("properties") && s->isObject("properties")
                                  ? s->getObject("properties")
                                  : Object::Ptr();
    if (s->has("required") && s->isArray("required")) {
      for (const auto& r : *s->getArray("required")) {
        if (!o->has(r.toString())) return SchemaViolation{join(at, r.toString()), "required"};
      }
    }
    for (const auto& [k, e] : *o) {
      if (props && props->has(k) && props->isObject(k)) {
        if (auto bad = check(props->getObject(k), e, join(at, k))) return bad;
      } else if (s->has("additionalProperties") &&
                 s->get("additionalProperties").type() == typeid(bool) &&
                 !s->getValue<bool>("additionalProperties")) {
        return SchemaViolation{join(at, k), "unknown field"};
      }
    }
  }
  if (is_array(v) && s->has("items") && s->isObject("items")) {
    const auto a = v.extract<Array::Ptr>();
    for (size_t i = 0; i < a->size(); ++i) {
      if (auto bad = check(s->getObject("items"), a->get(i), join(at, std::to_string(i))))
        return bad;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<SchemaViolation> check_schema(const Poco::Dynamic::Var& schema,
                                            const Poco::Dynamic::Var& value) {
  if (!is_object(schema)) return std::nullopt;
  return check(schema.extract<Object::Ptr>(), value, "");
}

}  // namespace rampart::api

// SPDX-License-Identifier: Apache-2.0
#include "api/json_schema.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

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

std::string expected(const std::string& type) {
  if (type == "integer") return "an integer";
  if (type == "object") return "an object";
  if (type == "array") return "an array";
  return "a " + type;
}

}  // namespace

struct JsonSchema::Node {
  std::optional<std::string> type;
  bool has_enum = false;
  std::vector<std::pair<std::string, bool>> options;  // enum: text, is a string
  std::string option_list;                            // "a, b" for the message
  std::optional<double> minimum, maximum;
  std::string minimum_text, maximum_text;
  std::optional<size_t> min_length, max_length;
  std::vector<std::string> required;
  std::map<std::string, Node> properties;
  bool closed = false;  // additionalProperties: false
  std::unique_ptr<Node> items;
  std::vector<Node> one_of;  // oneOf: exactly one alternative holds

  explicit Node(const Object::Ptr& s) {
    if (s->has("type")) type = s->getValue<std::string>("type");
    if (s->has("enum") && s->isArray("enum")) {
      has_enum = true;
      const auto list = s->getArray("enum");
      for (size_t i = 0; i < list->size(); ++i) {
        const auto o = list->get(i);
        options.emplace_back(o.toString(), o.isString());
        option_list += (i ? ", " : "") + o.toString();
      }
    }
    if (s->has("minimum")) {
      minimum = s->getValue<double>("minimum");
      minimum_text = s->get("minimum").toString();
    }
    if (s->has("maximum")) {
      maximum = s->getValue<double>("maximum");
      maximum_text = s->get("maximum").toString();
    }
    if (s->has("minLength")) min_length = s->getValue<size_t>("minLength");
    if (s->has("maxLength")) max_length = s->getValue<size_t>("maxLength");
    if (s->has("required") && s->isArray("required")) {
      for (const auto& r : *s->getArray("required")) required.push_back(r.toString());
    }
    if (s->has("properties") && s->isObject("properties")) {
      const auto props = s->getObject("properties");
      for (const auto& [k, v] : *props) {
        if (props->isObject(k)) properties.emplace(k, Node(props->getObject(k)));
      }
    }
    closed = s->has("additionalProperties") &&
             s->get("additionalProperties").type() == typeid(bool) &&
             !s->getValue<bool>("additionalProperties");
    if (s->has("items") && s->isObject("items"))
      items = std::make_unique<Node>(s->getObject("items"));
    if (s->has("oneOf") && s->isArray("oneOf")) {
      const auto list = s->getArray("oneOf");
      for (size_t i = 0; i < list->size(); ++i) {
        if (list->isObject(i)) one_of.emplace_back(list->getObject(i));
      }
    }
  }

  std::optional<SchemaViolation> check(const Poco::Dynamic::Var& v, const std::string& at) const {
    auto fail = [&](const std::string& why) { return SchemaViolation{at, why}; };
    if (type && !has_type(v, *type))
      return fail("expected " + expected(*type) + ", got " + text_of(v));
    if (has_enum) {
      const std::string text = v.toString();
      const bool is_string = v.isString();
      const bool found = std::any_of(options.begin(), options.end(), [&](const auto& o) {
        return o.first == text && o.second == is_string;
      });
      if (!found) return fail("expected one of " + option_list + ", got " + text_of(v));
    }
    if (v.isNumeric() && v.type() != typeid(bool) && (minimum || maximum)) {
      const double d = v.convert<double>();
      if (minimum && d < *minimum) return fail("must be at least " + minimum_text);
      if (maximum && d > *maximum) return fail("must be at most " + maximum_text);
    }
    if (v.isString() && (min_length || max_length)) {
      const size_t n = v.toString().size();
      if (min_length && n < *min_length)
        return fail("shorter than " + std::to_string(*min_length) + " characters");
      if (max_length && n > *max_length)
        return fail("longer than " + std::to_string(*max_length) + " characters");
    }
    if (is_object(v)) {
      const auto o = v.extract<Object::Ptr>();
      for (const auto& r : required) {
        if (!o->has(r)) return SchemaViolation{join(at, r), "required"};
      }
      for (const auto& [k, e] : *o) {
        const auto p = properties.find(k);
        if (p != properties.end()) {
          if (auto bad = p->second.check(e, join(at, k))) return bad;
        } else if (closed) {
          return SchemaViolation{join(at, k), "unknown field"};
        }
      }
    }
    if (is_array(v) && items) {
      const auto a = v.extract<Array::Ptr>();
      for (size_t i = 0; i < a->size(); ++i) {
        if (auto bad = items->check(a->get(i), join(at, std::to_string(i)))) return bad;
      }
    }
    if (!one_of.empty()) return check_one_of(v, at);
    return std::nullopt;
  }

  // oneOf: the value must satisfy exactly one alternative. Refused, it
  // hears why from the alternative of its own type (a port given as the
  // integer 70000: "must be at most 65535"), else which types would do.
  std::optional<SchemaViolation> check_one_of(const Poco::Dynamic::Var& v,
                                              const std::string& at) const {
    size_t held = 0;
    std::optional<SchemaViolation> own_type;
    std::string types;
    for (const auto& alt : one_of) {
      auto bad = alt.check(v, at);
      if (!bad) {
        ++held;
        continue;
      }
      if (alt.type && has_type(v, *alt.type) && !own_type) own_type = bad;
      if (alt.type) types += (types.empty() ? "" : " or ") + expected(*alt.type);
    }
    if (held == 1) return std::nullopt;
    if (held > 1) return SchemaViolation{at, "matches more than one of its alternatives"};
    if (own_type) return own_type;
    return SchemaViolation{at, "expected " +
                                   (types.empty() ? std::string("another value") : types) +
                                   ", got " + text_of(v)};
  }
};

JsonSchema::JsonSchema(const Poco::Dynamic::Var& schema) {
  if (is_object(schema)) root_ = std::make_unique<Node>(schema.extract<Object::Ptr>());
}
JsonSchema::~JsonSchema() = default;
JsonSchema::JsonSchema(JsonSchema&&) noexcept = default;
JsonSchema& JsonSchema::operator=(JsonSchema&&) noexcept = default;

std::optional<SchemaViolation> JsonSchema::check(const Poco::Dynamic::Var& value) const {
  if (!root_) return std::nullopt;
  return root_->check(value, "");
}

std::optional<SchemaViolation> check_schema(const Poco::Dynamic::Var& schema,
                                            const Poco::Dynamic::Var& value) {
  return JsonSchema(schema).check(value);
}

}  // namespace rampart::api

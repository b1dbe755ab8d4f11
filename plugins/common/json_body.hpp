// SPDX-License-Identifier: Apache-2.0
// A rule domain's JSON body as the engines read one (REST API input): the
// text parsed into an object, its fields checked one by one, each error a
// BodyError whose message starts with the field ("rate: must be 1-100");
// and an object written back as text. Part of rampart_plugin_json.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace rampart::json {

class BodyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The body as an object; ": not valid JSON: ..." / ": expected a JSON object".
Poco::JSON::Object::Ptr object_of(const std::string& body);

// "<name>: unknown field" for a field not in `known`.
void only_fields(const Poco::JSON::Object& o, std::initializer_list<const char*> known);

// A positive integer field up to `hi`, else "<key>: must be 1-<hi>".
uint64_t positive(const Poco::JSON::Object& o, const std::string& key, uint64_t hi);

// An entry's id: the body's "id" (1-<hi>) if it has one, which must be
// `path_id` when that is not 0 ("id: the body says 5, the path 4"); else
// `path_id` (0: none given).
uint64_t entry_id(const Poco::JSON::Object& o, uint64_t path_id, uint64_t hi);

// A string / boolean field, else "<key>: expected a string" / "a boolean".
std::string string_field(const Poco::JSON::Object& o, const std::string& key);
bool bool_field(const Poco::JSON::Object& o, const std::string& key);
// A string field that must be there, else "<key>: required".
std::string required_string(const Poco::JSON::Object& o, const std::string& key);

// The object as JSON text.
std::string to_text(const Poco::JSON::Object& o);

}  // namespace rampart::json

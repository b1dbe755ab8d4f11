// SPDX-License-Identifier: Apache-2.0
// A JSON Schema checker for rule bodies, the subset OpenAPI 3.0 uses for
// them: type (object, array, string, integer, number, boolean), required,
// properties, additionalProperties: false, enum, minimum, maximum,
// minLength, maxLength, items, oneOf. The core checks every body against its
// domain's schema before the engine sees it, so every domain answers bad
// bodies the same way: 400 naming the field.
#pragma once

#include <Poco/Dynamic/Var.h>

#include <memory>
#include <optional>
#include <string>

namespace rampart::api {

struct SchemaViolation {
  std::string field;  // dotted path ("ports.0"), "" for the body itself
  std::string why;
};

// A schema read once into what its checks need (an import checks each of
// its thousands of bodies against the same one). Anything but an object
// is a schema that accepts every value.
class JsonSchema {
 public:
  explicit JsonSchema(const Poco::Dynamic::Var& schema);
  ~JsonSchema();
  JsonSchema(JsonSchema&&) noexcept;
  JsonSchema& operator=(JsonSchema&&) noexcept;

  // nullopt if `value` satisfies the schema.
  std::optional<SchemaViolation> check(const Poco::Dynamic::Var& value) const;

 private:
  struct Node;
  std::unique_ptr<Node> root_;
};

// nullopt if `value` satisfies `schema` (a parsed JSON Schema object).
std::optional<SchemaViolation> check_schema(const Poco::Dynamic::Var& schema,
                                            const Poco::Dynamic::Var& value);

}  // namespace rampart::api

// SPDX-License-Identifier: Apache-2.0
// A JSON Schema checker for rule bodies, the subset OpenAPI 3.0 uses for
// them: type (object, array, string, integer, number, boolean), required,
// properties, additionalProperties: false, enum, minimum, maximum,
// minLength, maxLength, items. The core checks every body against its
// domain's schema before the engine sees it, so every domain answers bad
// bodies the same way: 400 naming the field.
#pragma once

#include <Poco/Dynamic/Var.h>

#include <optional>
#include <string>

namespace rampart::api {

struct SchemaViolation {
  std::string field;  // dotted path ("ports.0"), "" for the body itself
  std::string why;
};

// nullopt if `value` satisfies `schema` (a parsed JSON Schema object).
std::optional<SchemaViolation> check_schema(const Poco::Dynamic::Var& schema,
                                            const Poco::Dynamic::Var& value);

}  // namespace rampart::api

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace rampart::api {

// The text of each element of an import's top-level "rules" array, so that
// each rule is parsed, checked, written out and freed on its own (a 4,096-
// rule import as one object tree is ~10 MiB of small allocations, built,
// walked and freed across the whole heap).
//
// Given only when the body is a JSON object whose "rules" key (spelt
// plainly, once at the top level) holds an array of objects, each at most
// kMaxElementDepth deep, and the body with that array emptied parses as an
// object whose "rules" is that empty array. Then the body is valid JSON if
// and only if every element parses, and the element texts are its rules in
// order. Anything else (an error to report, an unusual spelling) is
// nullopt: the caller parses the body whole, as it would without this.
inline constexpr int kMaxElementDepth = 64;
std::optional<std::vector<std::string_view>> import_elements(std::string_view body);

}  // namespace rampart::api

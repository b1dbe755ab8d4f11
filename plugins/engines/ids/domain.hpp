// SPDX-License-Identifier: Apache-2.0
// The `ids` rule domain (REST: /api/v1/rules/ids): entries by sid, each
// either a rule of its own ({"rule": "alert ... sid:N; ..."}) or a switch
// for a rule of the config's files ({"enabled": false}); and the rule set
// made of the files and the entries together.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "json_body.hpp"
#include "rule.hpp"

namespace rampart::ids {

struct Entry {
  uint32_t sid = 0;                 // the entry's id
  std::optional<std::string> rule;  // a rule's text; none: a file rule switched
  bool enabled = true;
};

// Throws json::BodyError naming the field. `id` is the entry's id (the
// store's; 0 when the body alone gives it).
Entry entry_from_json(const std::string& body, uint64_t id);
std::string entry_to_json(const Entry& e);
const char* entry_schema_json();

// A rule file as loaded.
struct FileRules {
  std::string path;
  LoadResult loaded;
};

struct Composed {
  std::vector<Rule> rules;       // to compile, in file order, then the entries' own
  std::vector<Refusal> refused;  // the files' refusals
  size_t disabled = 0;           // rules switched off by an entry
  size_t replaced = 0;           // file rules an entry's rule took the place of
};

// The files' rules with the entries applied: an entry's rule takes the
// place of a file rule of its sid (or is added), a disabled entry leaves
// its sid out. Throws json::BodyError for an entry whose rule does not
// parse or whose sid is not the entry's ("rule: sid 5: ...").
Composed compose(const std::vector<FileRules>& files, const std::vector<Entry>& entries,
                 const Variables& vars);

}  // namespace rampart::ids

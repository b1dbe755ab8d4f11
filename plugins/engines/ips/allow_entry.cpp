// SPDX-License-Identifier: Apache-2.0
#include "allow_entry.hpp"

#include "control_chars.hpp"

namespace rampart::ips {

AllowEntry allow_entry_from_json(const std::string& body, uint64_t id) {
  const auto o = json::object_of(body);
  json::only_fields(*o, {"id", "prefix", "note"});
  AllowEntry e;
  e.id = json::entry_id(*o, id, UINT32_MAX);
  std::string err;
  const auto c = net::parse_cidr(json::required_string(*o, "prefix"), err);
  if (!c) throw json::BodyError("prefix: " + err);
  e.prefix = *c;
  if (o->has("note")) {
    e.note = json::string_field(*o, "note");
    if (e.note.size() > 256) throw json::BodyError("note: at most 256 bytes");
    if (auto bad = text::control_char_problem(e.note); !bad.empty())
      throw json::BodyError("note: " + bad);
  }
  return e;
}

const char* allow_entry_schema_json() {
  return R"({"type":"object","additionalProperties":false,"required":["prefix"],)"
         R"("properties":{"id":{"type":"integer","minimum":1,"maximum":4294967295},)"
         R"("prefix":{"type":"string","description":"an address or network the IPS never blocks"},)"
         R"("note":{"type":"string","maxLength":256}}})";
}

}  // namespace rampart::ips

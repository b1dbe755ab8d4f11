// SPDX-License-Identifier: Apache-2.0
#include "plugin_host/config_view.hpp"

#include <charconv>
#include <set>

namespace rampart::plugin_host {
namespace {

thread_local std::string t_last_error;

std::string full_path(const rampart_config& cfg, std::string_view path) {
  return path.empty() ? cfg.prefix : cfg.prefix + "." + std::string(path);
}

// Walks a dot path of map keys and sequence indexes. Never creates nodes.
YAML::Node lookup(const rampart_config& cfg, const char* path) {
  YAML::Node cur = cfg.node;
  std::string_view rest = path ? path : "";
  while (!rest.empty()) {
    const size_t dot = rest.find('.');
    const std::string_view part = rest.substr(0, dot);
    rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
    const YAML::Node& c = cur;  // const access: operator[] must not insert
    if (c.IsMap()) {
      const YAML::Node next = c[std::string(part)];
      if (!next.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
      cur.reset(next);  // rebind; operator= would overwrite the node's value
    } else if (c.IsSequence()) {
      size_t idx = 0;
      const auto r = std::from_chars(part.data(), part.data() + part.size(), idx);
      if (r.ec != std::errc() || r.ptr != part.data() + part.size() || idx >= c.size()) {
        return YAML::Node(YAML::NodeType::Undefined);
      }
      cur.reset(c[idx]);
    } else {
      return YAML::Node(YAML::NodeType::Undefined);
    }
  }
  return cur;
}

rampart_status missing(const rampart_config& cfg, const char* path) {
  return host_fail(RAMPART_ERR_NOT_FOUND,
                   cfg.source + ": " + full_path(cfg, path) + ": missing required setting");
}

rampart_status wrong_type(const rampart_config& cfg, const char* path, const YAML::Node& n,
                          const char* expected) {
  std::string got = n.IsScalar()     ? "'" + n.Scalar() + "'"
                    : n.IsMap()      ? "a map"
                    : n.IsSequence() ? "a list"
                                     : "null";
  return host_fail(RAMPART_ERR_TYPE, config::where(cfg.source, n.Mark()) + ": " +
                                         full_path(cfg, path) + ": expected " + expected +
                                         ", got " + got);
}

template <class T>
rampart_status get_scalar(const rampart_config* cfg, const char* path, T* out,
                          const char* expected) {
  if (!cfg || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  const YAML::Node n = lookup(*cfg, path);
  if (!n.IsDefined()) return missing(*cfg, path);
  T v{};
  if (!n.IsScalar() || !YAML::convert<T>::decode(n, v)) return wrong_type(*cfg, path, n, expected);
  *out = v;
  return RAMPART_OK;
}

}  // namespace

const char* host_last_error() { return t_last_error.c_str(); }

rampart_status host_fail(rampart_status st, std::string msg) {
  t_last_error = std::move(msg);
  return st;
}

rampart_config make_config_view(const config::Config& cfg, const std::string& plugin_id) {
  const auto& p = cfg.plugin(plugin_id);
  return rampart_config{cfg.source,
                        "plugins." + plugin_id,
                        p.node.IsMap() ? p.node : YAML::Node(YAML::NodeType::Map),
                        {}};
}

uint32_t config_type(const rampart_config* cfg, const char* path) {
  if (!cfg) return RAMPART_CONFIG_MISSING;
  const YAML::Node n = lookup(*cfg, path);
  if (!n.IsDefined()) return RAMPART_CONFIG_MISSING;
  if (n.IsNull()) return RAMPART_CONFIG_NULL;
  if (n.IsScalar()) return RAMPART_CONFIG_SCALAR;
  if (n.IsSequence()) return RAMPART_CONFIG_SEQUENCE;
  return RAMPART_CONFIG_MAP;
}

rampart_status config_get_string(const rampart_config* cfg, const char* path, rampart_str* out) {
  if (!cfg || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  const YAML::Node n = lookup(*cfg, path);
  if (!n.IsDefined()) return missing(*cfg, path);
  if (!n.IsScalar()) return wrong_type(*cfg, path, n, "a string");
  const std::string& s = n.Scalar();  // lives in the node, as long as cfg
  *out = rampart_str{s.data(), s.size()};
  return RAMPART_OK;
}

rampart_status config_get_int(const rampart_config* cfg, const char* path, int64_t* out) {
  return get_scalar<int64_t>(cfg, path, out, "an integer");
}

rampart_status config_get_double(const rampart_config* cfg, const char* path, double* out) {
  return get_scalar<double>(cfg, path, out, "a number");
}

rampart_status config_get_bool(const rampart_config* cfg, const char* path, int* out) {
  bool v = false;
  const rampart_status st = get_scalar<bool>(cfg, path, &v, "true or false");
  if (st == RAMPART_OK) *out = v ? 1 : 0;
  return st;
}

rampart_status config_size(const rampart_config* cfg, const char* path, size_t* out) {
  if (!cfg || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  const YAML::Node n = lookup(*cfg, path);
  if (!n.IsDefined()) return missing(*cfg, path);
  if (n.IsNull()) {
    *out = 0;
    return RAMPART_OK;
  }
  if (!n.IsSequence() && !n.IsMap()) return wrong_type(*cfg, path, n, "a list or a map");
  *out = n.size();
  return RAMPART_OK;
}

rampart_status config_key_at(const rampart_config* cfg, const char* path, size_t index,
                             rampart_str* out) {
  if (!cfg || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  const YAML::Node n = lookup(*cfg, path);
  if (!n.IsDefined()) return missing(*cfg, path);
  if (!n.IsMap()) return wrong_type(*cfg, path, n, "a map");
  size_t i = 0;
  for (const auto& kv : n) {
    if (i++ == index) {
      const std::string& k = kv.first.Scalar();
      *out = rampart_str{k.data(), k.size()};
      return RAMPART_OK;
    }
  }
  return host_fail(RAMPART_ERR_NOT_FOUND,
                   full_path(*cfg, path) + ": no entry " + std::to_string(index));
}

rampart_status config_check_keys(const rampart_config* cfg, const char* path,
                                 const char* const* allowed, size_t allowed_count) {
  if (!cfg || (!allowed && allowed_count))
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  const YAML::Node n = lookup(*cfg, path);
  if (!n.IsDefined() || n.IsNull()) return RAMPART_OK;
  if (!n.IsMap()) return wrong_type(*cfg, path, n, "a map");
  std::set<std::string> ok(allowed, allowed + allowed_count);
  if (!path || !*path) ok.insert("enabled");  // the host's own key in every plugin subtree
  for (const auto& kv : n) {
    const std::string& k = kv.first.Scalar();
    if (!ok.count(k)) {
      std::string expected;
      for (const auto& a : ok) expected += (expected.empty() ? "" : ", ") + a;
      return host_fail(RAMPART_ERR_INVALID_ARGUMENT, config::where(cfg->source, kv.first.Mark()) +
                                                         ": unknown key '" + full_path(*cfg, path) +
                                                         "." + k +
                                                         "' (expected one of: " + expected + ")");
    }
  }
  return RAMPART_OK;
}

rampart_status config_location(const rampart_config* cfg, const char* path, rampart_str* out) {
  if (!cfg || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  const YAML::Node n = lookup(*cfg, path);
  if (!n.IsDefined()) return missing(*cfg, path);
  // Kept in the view so the pointer lives as long as the config handle.
  auto& text = const_cast<rampart_config*>(cfg)->locations.emplace_back(
      config::where(cfg->source, n.Mark()));
  *out = rampart_str{text.data(), text.size()};
  return RAMPART_OK;
}

}  // namespace rampart::plugin_host

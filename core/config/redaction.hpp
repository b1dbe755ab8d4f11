// SPDX-License-Identifier: Apache-2.0
// Secret settings in the running configuration, by schema: each plugin
// declares the paths in its own config subtree whose values are secrets
// (rampart_plugin_descriptor.secret_settings, ABI 1.4) and what
// GET /api/v1/config shows is redacted along exactly those paths. Key names
// are never guessed from: a header named "X-Team" can carry a token and a
// setting named "token_bucket" carries none.
#pragma once

#include <Poco/Dynamic/Var.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::config {

// What a redacted value reads.
inline constexpr std::string_view kRedacted = "***";

// Paths a plugin may declare: dot-separated keys or sequence indexes, '*'
// for any one key or index, optionally ending in "#url". At most this
// many per plugin and this long each (the host copies them at load).
inline constexpr size_t kMaxSecretPaths = 256;
inline constexpr size_t kMaxSecretPathLength = 256;

// Why `path` is not a secret-setting path, or nullopt when it is one.
std::optional<std::string> secret_path_problem(std::string_view path);

// A URL with its user info, path, query and fragment redacted: what is
// left is where it points, "scheme://[***@]host[:port][/***]". Anything
// that does not parse as scheme://host... is redacted whole: a value that
// cannot be split cannot be shown in part.
std::string redact_url(std::string_view url);

// Replaces, in `subtree` (a plugin's settings as JSON), every value a path
// in `paths` reaches with kRedacted; a path ending in "#url" keeps the
// non-secret parts of a string URL (see redact_url), any other value it
// reaches is redacted whole. Paths that reach nothing are ignored.
void redact_paths(Poco::Dynamic::Var& subtree, const std::vector<std::string>& paths);

// For a plugin that declared nothing (built against ABI < 1.4, or not
// installed, so its schema is unknown): every top-level value but
// `enabled` is redacted; the keys stay, so the reader sees what is set.
void redact_undeclared(Poco::Dynamic::Var& subtree);

}  // namespace rampart::config

// SPDX-License-Identifier: Apache-2.0
// API keys for the management API, in the agent's SQLite database: a name,
// a role, and only a salted SHA-256 of the secret. A token reads
// "rp_<id>_<secret>" and is shown once, when the key is created.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite.hpp"

namespace rampart::store {

enum class Role { viewer = 1, operator_ = 2, admin = 3 };
std::optional<Role> parse_role(const std::string& s);
const char* role_name(Role r);

struct ApiKey {
  std::string id, name;
  Role role;
  int64_t created_ms;
};

// A key that cannot be created as asked (its name is taken); database
// failures are StoreError.
class KeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class KeyStore {
 public:
  explicit KeyStore(const std::string& path);  // throws StoreError
  ~KeyStore();
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  bool empty() const;
  std::vector<ApiKey> list() const;
  // The new key and its token. Throws KeyError on a taken name.
  std::pair<ApiKey, std::string> create(const std::string& name, Role role);
  bool remove(const std::string& name);
  // Removes every key; returns how many there were.
  size_t remove_all();
  // The key a token belongs to, if the token is right (constant-time compare).
  std::optional<ApiKey> verify(const std::string& token) const;

 private:
  Database db_;
  mutable std::optional<StatementCache> stmts_;  // finalized before db_ closes
  mutable std::mutex mu_;
};

// The admin key a fresh install starts with, so no request is ever served
// unauthenticated: when no key exists, creates one named "admin" and writes
// its token to `token_file` (mode 0600, replaced atomically). Returns true
// when it created one. Throws StoreError.
bool ensure_bootstrap_key(KeyStore& keys, const std::string& token_file);
// `rampartd keys reset`, the way back when every admin key is lost: removes
// every key and writes a new admin key's token to `token_file`.
void reset_keys(KeyStore& keys, const std::string& token_file);

}  // namespace rampart::store

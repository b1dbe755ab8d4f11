// SPDX-License-Identifier: Apache-2.0
#include "store/key_store.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "util/unique_fd.hpp"

namespace rampart::store {
namespace {

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    const ssize_t n = getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) throw StoreError("getrandom failed");
    got += static_cast<size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

std::string digest(const std::string& salt, const std::string& secret) {
  Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
  sha.update(salt);
  sha.update(secret);
  return Poco::DigestEngine::digestToHex(sha.digest());
}

bool same(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

ApiKey key_of(const Stmt& st) {
  return {st.col_text(0), st.col_text(1), parse_role(st.col_text(2)).value_or(Role::viewer),
          st.col_int(3)};
}

}  // namespace

std::optional<Role> parse_role(const std::string& s) {
  if (s == "viewer") return Role::viewer;
  if (s == "operator") return Role::operator_;
  if (s == "admin") return Role::admin;
  return std::nullopt;
}

const char* role_name(Role r) {
  switch (r) {
    case Role::admin:
      return "admin";
    case Role::operator_:
      return "operator";
    default:
      return "viewer";
  }
}

KeyStore::KeyStore(const std::string& path) {
  db_ = open_database(path);
  stmts_.emplace(db_);
  try {
    exec(
        db_,
        "CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, "
        "role TEXT NOT NULL, salt TEXT NOT NULL, hash TEXT NOT NULL, created_ms INTEGER NOT NULL)");
  } catch (const StoreError& e) {
    throw StoreError(path + ": " + e.what());
  }
}

KeyStore::~KeyStore() = default;

bool KeyStore::empty() const {
  std::lock_guard lock(mu_);
  Stmt st(*stmts_, "SELECT 1 FROM api_keys LIMIT 1");
  return !st.step();
}

std::vector<ApiKey> KeyStore::list() const {
  std::lock_guard lock(mu_);
  Stmt st(*stmts_, "SELECT id, name, role, created_ms FROM api_keys ORDER BY name");
  std::vector<ApiKey> out;
  while (st.step()) out.push_back(key_of(st));
  return out;
}

std::pair<ApiKey, std::string> KeyStore::create(const std::string& name, Role role) {
  const std::string id = random_hex(4), secret = random_hex(32), salt = random_hex(16);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::lock_guard lock(mu_);
  {
    Stmt exists(*stmts_, "SELECT 1 FROM api_keys WHERE name = ?1");
    exists.text(1, name);
    if (exists.step()) throw KeyError("a key named '" + name + "' exists");
  }
  Stmt st(*stmts_,
          "INSERT INTO api_keys (id, name, role, salt, hash, created_ms) VALUES (?1, ?2, ?3, ?4, "
          "?5, ?6)");
  st.text(1, id).text(2, name).text(3, role_name(role)).text(4, salt).text(5, digest(salt, secret));
  st.integer(6, now).step();
  return {{id, name, role, now}, "rp_" + id + "_" + secret};
}

bool KeyStore::remove(const std::string& name) {
  std::lock_guard lock(mu_);
  Stmt st(*stmts_, "DELETE FROM api_keys WHERE name = ?1");
  st.text(1, name).step();
  return sqlite3_changes(db_) > 0;
}

size_t KeyStore::remove_all() {
  std::lock_guard lock(mu_);
  Stmt st(*stmts_, "DELETE FROM api_keys");
  st.step();
  return static_cast<size_t>(sqlite3_changes(db_));
}

namespace {

// Written beside its final name and renamed over it, so a reader sees the
// old token or the new one, never a part.
void write_token_file(const std::string& path, const std::string& token) {
  const std::string tmp = path + ".tmp";
  util::UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw StoreError("cannot write " + tmp + ": " + std::strerror(errno));
  const std::string text = token + "\n";
  const bool ok = fchmod(fd.get(), 0600) == 0 &&
                  write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  fsync(fd.get()) == 0;
  const int err = errno;
  fd.reset();
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    throw StoreError("cannot write " + path + ": " + std::strerror(ok ? errno : err));
  }
}

}  // namespace

bool ensure_bootstrap_key(KeyStore& keys, const std::string& token_file) {
  if (!keys.empty()) return false;
  const auto [key, token] = keys.create("admin", Role::admin);
  try {
    write_token_file(token_file, token);
  } catch (const StoreError&) {
    keys.remove(key.name);  // a key nobody can read the token of must not stay
    throw;
  }
  return true;
}

void reset_keys(KeyStore& keys, const std::string& token_file) {
  keys.remove_all();
  ensure_bootstrap_key(keys, token_file);
}

std::optional<ApiKey> KeyStore::verify(const std::string& token) const {
  // rp_<8 hex id>_<64 hex secret>
  if (token.size() != 3 + 8 + 1 + 64 || token.rfind("rp_", 0) != 0 || token[11] != '_')
    return std::nullopt;
  const std::string id = token.substr(3, 8), secret = token.substr(12);
  std::lock_guard lock(mu_);
  Stmt st(*stmts_, "SELECT id, name, role, created_ms, salt, hash FROM api_keys WHERE id = ?1");
  st.text(1, id);
  if (!st.step()) return std::nullopt;
  if (!same(digest(st.col_text(4), secret), st.col_text(5))) return std::nullopt;
  return key_of(st);
}

}  // namespace rampart::store

// SPDX-License-Identifier: Apache-2.0
#include "plugin_host/plugin_library.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>

#include "config/redaction.hpp"

namespace rampart::plugin_host {
namespace {

// Smallest structs a v1 plugin may hand us: everything ABI 1.0 defined.
constexpr size_t kMinDescriptorSize = RAMPART_FIELD_END(rampart_plugin_descriptor, api);
constexpr size_t kMinApiSize = RAMPART_FIELD_END(rampart_plugin_api, send_alert);

std::optional<std::string> check_descriptor(const rampart_plugin_descriptor* d, AbiVersion host) {
  static const std::regex kId("[a-z0-9_-]{1,64}");
  if (d == nullptr) return "rampart_plugin_entry returned no descriptor";
  if (d->struct_size < kMinDescriptorSize) {
    return "malformed descriptor: struct_size " + std::to_string(d->struct_size) +
           " is smaller than ABI v1.0's " + std::to_string(kMinDescriptorSize);
  }
  const std::string wants = std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor);
  const std::string have = std::to_string(host.major) + "." + std::to_string(host.minor);
  if (d->abi_major != host.major)
    return "built for ABI " + wants + ", host ABI is " + have + " (major differs)";
  if (d->abi_minor > host.minor) return "needs ABI " + wants + ", newer than host ABI " + have;
  if (d->kind < RAMPART_KIND_ENGINE || d->kind > RAMPART_KIND_FRONTEND) {
    return "malformed descriptor: unknown kind " + std::to_string(d->kind);
  }
  if (d->id == nullptr || !std::regex_match(d->id, kId)) {
    return "malformed descriptor: id must be 1-64 of [a-z0-9_-]";
  }
  if (d->name == nullptr || d->version == nullptr || d->license == nullptr) {
    return "malformed descriptor: name, version and license are required";
  }
  const rampart_plugin_api* api = d->api;
  if (api == nullptr) return "malformed descriptor: no function table";
  if (api->struct_size < kMinApiSize) {
    return "malformed descriptor: function table struct_size " + std::to_string(api->struct_size) +
           " is smaller than ABI v1.0's " + std::to_string(kMinApiSize);
  }
  if (!api->create || !api->destroy || !api->last_error) {
    return "malformed descriptor: create, destroy and last_error are required";
  }
  if (d->kind == RAMPART_KIND_SENDER && !api->send_alert) {
    return "malformed descriptor: a sender must implement send_alert";
  }
  if (RAMPART_HAS_FIELD(d, rampart_plugin_descriptor, secret_settings) && d->secret_settings) {
    // Refused rather than half-read: a list the host cannot read whole
    // would show the secrets it fails to name.
    size_t i = 0;
    for (; i < config::kMaxSecretPaths && d->secret_settings[i]; ++i) {
      if (auto why = config::secret_path_problem(d->secret_settings[i])) {
        return "malformed descriptor: secret_settings[" + std::to_string(i) + "] \"" +
               std::string(d->secret_settings[i]).substr(0, config::kMaxSecretPathLength) + "\" " +
               *why;
      }
    }
    if (i == config::kMaxSecretPaths) {
      return "malformed descriptor: secret_settings has no NULL within " +
             std::to_string(config::kMaxSecretPaths) + " entries";
    }
  }
  return std::nullopt;
}

}  // namespace

PluginLibrary::PluginLibrary(std::string path, boost::dll::shared_library lib,
                             const rampart_plugin_descriptor* desc)
    : path_(std::move(path)), lib_(std::move(lib)), desc_(desc), id_(desc->id) {
  // Undeclared (older than 1.4, or NULL) stays nullopt: everything redacted.
  if (!RAMPART_HAS_FIELD(desc, rampart_plugin_descriptor, secret_settings) ||
      !desc->secret_settings)
    return;
  secret_settings_.emplace();
  for (auto p = desc->secret_settings; *p; ++p) secret_settings_->emplace_back(*p);
}

std::optional<std::string> untrusted_reason(const std::string& path, bool expect_directory) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::string("cannot stat: ") + std::strerror(errno);
  if (expect_directory && !S_ISDIR(st.st_mode)) return "not a directory";
  if (!expect_directory && !S_ISREG(st.st_mode)) return "not a regular file";
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return "owned by uid " + std::to_string(st.st_uid) + ", not root";
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return "writable by group or others";
  return std::nullopt;
}

std::variant<std::shared_ptr<PluginLibrary>, std::string> load_library(const std::string& path,
                                                                       AbiVersion host) {
  if (auto why = untrusted_reason(path, false)) return *why;
  boost::dll::shared_library lib;
  boost::system::error_code ec;
  lib.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) return "cannot load: " + ec.message();
  if (!lib.has(RAMPART_PLUGIN_ENTRY_SYMBOL)) {
    return std::string("no entry symbol ") + RAMPART_PLUGIN_ENTRY_SYMBOL +
           " (not a Rampart plugin?)";
  }
  auto& entry =
      lib.get<std::remove_pointer_t<rampart_plugin_entry_fn>>(RAMPART_PLUGIN_ENTRY_SYMBOL);
  const rampart_plugin_descriptor* desc = nullptr;
  try {
    desc = entry(host.major, host.minor);
  } catch (...) {
    return "rampart_plugin_entry threw an exception";
  }
  if (auto why = check_descriptor(desc, host)) return *why;
  return std::make_shared<PluginLibrary>(path, std::move(lib), desc);
}

std::string_view kind_name(rampart_plugin_kind kind) {
  switch (kind) {
    case RAMPART_KIND_ENGINE:
      return "engine";
    case RAMPART_KIND_SENDER:
      return "sender";
    case RAMPART_KIND_FRONTEND:
      return "frontend";
  }
  return "unknown";
}

}  // namespace rampart::plugin_host

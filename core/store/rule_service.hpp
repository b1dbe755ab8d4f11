// SPDX-License-Identifier: Apache-2.0
// Rule domains over the store: which engine owns which domain, and the
// rule of every change: the owner applies the new whole set first, and only
// then is the change committed (with its audit entry). Changes to a domain
// are serialised, so the kernel and the store never disagree.
#pragma once

#include <rampart/sdk/abi.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/rule_store.hpp"

namespace rampart::store {

class RuleOwner {
 public:
  virtual ~RuleOwner() = default;
  // "" when the whole set was checked and applied; else why not.
  virtual std::string apply_rules(const std::string& domain,
                                  const std::vector<StoredRule>& rules) = 0;
};

struct ChangeResult {
  rampart_status status = RAMPART_OK;
  std::string message;
};

class RuleService {
 public:
  explicit RuleService(RuleStore& store) : store_(store) {}

  // Registers the owner and syncs its config-declared rules; returns the
  // whole stored set for the owner to apply.
  std::vector<StoredRule> claim(const std::string& domain, std::weak_ptr<RuleOwner> owner,
                                const std::vector<StoredRule>& config_rules);
  void release(const RuleOwner* owner);

  std::vector<StoredRule> list(const std::string& domain) const { return store_.list(domain); }
  ChangeResult change(const std::string& domain, rampart_rule_change kind, uint64_t id,
                      const std::optional<std::string>& body, const std::string& actor);

  RuleStore& store() { return store_; }

 private:
  RuleStore& store_;
  std::mutex mu_;  // serialises changes
  std::map<std::string, std::pair<const RuleOwner*, std::weak_ptr<RuleOwner>>> owners_;
};

}  // namespace rampart::store

// SPDX-License-Identifier: Apache-2.0
// Program instances that left their place in a chain, kept to be refilled
// by the next install there whose spec has the same shape: a rule change
// that keeps a rule set's sizes writes tables and flips one prog array
// entry, with no program load and no verifier (docs/datapath.md, "Table
// swaps"). A spare is handed out only once a grace period that began after
// it left has ended, so no packet can still be reading its maps when they
// are rewritten.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "bpf/grace_period.hpp"
#include "bpf/program_instance.hpp"

namespace rampart::bpf {

class InstancePool {
 public:
  // Spares kept per place: the instances that left last, at most three and
  // at most 48 MiB of tables (a 10^6-prefix blocklist is ~23 MiB an
  // instance: two spares).
  static constexpr size_t kPerPlace = 3;
  static constexpr size_t kBytesPerPlace = size_t(48) << 20;

  // `inst` left `place` (a stage key) for good; kept if it can be refilled.
  void give(const std::string& place, std::unique_ptr<ProgramInstance> inst);
  // A spare of `place` with `shape`, once no packet can be running it (may
  // wait for the rest of a grace period); null if there is none.
  std::unique_ptr<ProgramInstance> take(const std::string& place, const std::string& shape);
  // The place is gone: its spares too.
  void forget(const std::string& place);

 private:
  struct Spare {
    std::unique_ptr<ProgramInstance> inst;
    uint64_t ticket;  // grace period that must end before it is reused
  };
  GracePeriods gp_;
  mutable std::mutex mu_;
  std::map<std::string, std::deque<Spare>> spares_;
};

}  // namespace rampart::bpf

// SPDX-License-Identifier: Apache-2.0
// Program instances that left their place in a chain, kept to be refilled
// by the next install there whose spec has the same shape: a rule change
// that keeps a rule set's sizes writes tables and flips one prog array
// entry, with no program load and no verifier (docs/datapath.md, "Table
// swaps"). A spare is handed out only once a grace period that began after
// it left has ended, so no packet can still be reading its maps when they
// are rewritten.
//
// A write that takes a spare gives the instance it replaced back, so the
// pool would hold only the spares a place happened to accumulate: with one,
// every write waits out the grace period that began at the one before
// (8-16 ms here). prepare() keeps kPerPlace spares of the live shape by
// loading them on a thread of its own, at a low priority, whenever a place
// has fewer: spares that were never live need no grace period, and with
// several the one a write takes left long enough ago.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bpf/grace_period.hpp"
#include "bpf/program_instance.hpp"

namespace rampart::bpf {

class InstancePool {
 public:
  // `bytes_per_place`: the spares' tables a place may hold (kBytesPerPlace).
  explicit InstancePool(size_t bytes_per_place = kBytesPerPlace);
  ~InstancePool();
  InstancePool(const InstancePool&) = delete;
  InstancePool& operator=(const InstancePool&) = delete;

  // Spares kept per place: the instances that left last, at most three and
  // at most 48 MiB of tables (a 10^6-prefix blocklist is ~25 MiB an
  // instance: one spare; a set of a few hundred rules ~3.3 MiB).
  // Writes that keep the shape go into the live instance
  // (RAMPART_PROGRAM_IN_PLACE): a spare is taken by whole installs only
  // (an import, a rule set's overflow compiled whole, ~10 a second at the
  // most), so three are past their grace period (8-16 ms here) when one is
  // needed; each more costs a program load per change of shape (eight
  // took a third of rampartd's CPU while 8 writers grew a set 50-fold).
  static constexpr size_t kPerPlace = 3;
  static constexpr size_t kBytesPerPlace = size_t(48) << 20;
  // Spares of the shape a place grows into next (prepare_ahead), kept
  // besides the live shape's and only in the room those leave: a spare
  // ahead never pushes out one of the live shape, which every whole
  // install takes (at 4,096 rules an instance is ~20 MiB and the
  // next shape's ~70: one ahead pushed a live spare out at every import,
  // and the next import loaded one on its path).
  static constexpr size_t kAheadPerPlace = 2;

  // `inst` left `place` (a stage key) for good; kept if it can be refilled.
  void give(const std::string& place, std::unique_ptr<ProgramInstance> inst);
  // A spare of `place` with `shape`, once no packet can be running it (may
  // wait for the rest of a grace period); null if there is none.
  std::unique_ptr<ProgramInstance> take(const std::string& place, const std::string& shape);
  // The place is gone: its spares too.
  void forget(const std::string& place);
  // Loads spares of `shape` (that of `spec`, whose contents do not matter:
  // a spare is refilled before use), the place's live shape now, in the
  // background until `place` has kPerPlace of them, or as many of
  // `instance_bytes` as the place's bytes hold (at least one), counting the
  // live one that is `leaving` (being replaced: a spare soon). The spec's
  // maps are duplicated: the caller's descriptors may close meanwhile.
  void prepare(const std::string& place, const InstanceSpec& spec, const std::string& shape,
               size_t instance_bytes, bool leaving);
  // Up to two spares of the shape a plugin says the place grows into next
  // (the install that grows takes one, the next whole install the other,
  // while the instance it replaced is of the old shape), as many as fit
  // beside the live shape's. A place wants spares of
  // its live shape and of the last shape asked for ahead: loads of any
  // other not begun are dropped, and spares of any other are the first to
  // go when the place has too many.
  // False when none fits beside the live shape's spares (nothing loaded:
  // the install that grows loads its instance then).
  bool prepare_ahead(const std::string& place, const InstanceSpec& spec, const std::string& shape,
                     size_t instance_bytes);
  // Spares loaded by prepare() so far.
  uint64_t prepared() const;
  // The grace periods the spares wait for, shared with whoever else needs them.
  GracePeriods& grace() { return gp_; }

 private:
  struct Spare {
    std::unique_ptr<ProgramInstance> inst;
    uint64_t ticket;  // grace period that must end before it is reused (0: never live)
  };
  struct Job;
  void keep(const std::string& place, Spare spare);
  bool wanted(const std::string& place, const std::string& shape) const;  // mu_ held
  void drop_unwanted_jobs(const std::string& place);                      // mu_ held
  // Room for spares of the live shape, of `instance_bytes` each, and what
  // they leave for those of the shape ahead (mu_ held).
  size_t live_room(size_t instance_bytes) const;
  size_t ahead_room(const std::string& place, size_t instance_bytes) const;
  // Jobs until `place` has (or will have) `room` spares of `shape`.
  void queue_locked(const std::string& place, const InstanceSpec& spec, const std::string& shape,
                    bool leaving, size_t room);
  void run();
  GracePeriods gp_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::deque<Spare>> spares_;
  std::deque<std::unique_ptr<Job>> jobs_;
  std::map<std::string, size_t> pending_;  // jobs by place + shape
  // By place: the live shape (prepare) and the one it grows into
  // (prepare_ahead); the live shape's instance bytes.
  std::map<std::string, std::string> live_, ahead_;
  std::map<std::string, size_t> live_bytes_;
  std::map<std::string, std::string> no_room_;  // a shape ahead found too large to keep
  const size_t bytes_per_place_;
  uint64_t prepared_ = 0;
  bool stop_ = false;
  std::thread thread_;  // started by the first prepare()
};

}  // namespace rampart::bpf

// SPDX-License-Identifier: Apache-2.0
// A whole rule set stored and applied side by side: the store writes it on
// a thread of its own while the owner applies it on the caller's (parses,
// compiles, fills tables), so a large import costs the longer of the two,
// not their sum. The order that keeps the kernel and the store agreeing
// holds all the same:
//
//   - a kernel write the owner makes while applying (a program install, a
//     map update) waits here until the store has written the set, and is
//     refused if the store failed to: a set the store failed to write
//     never reaches the kernel (one whose COMMIT fails afterwards is
//     undone there: the owner is handed the stored set again);
//   - the store commits only once the owner has applied the set, and
//     rolls back if it refused.
//
// Only kernel writes made on the applying thread wait (ApplyGate::Scope):
// an engine's timers and event threads are never held by an import.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

namespace rampart::store {

class ApplyGate {
 public:
  // While alive, the kernel writes of this thread pass through `gate`.
  class Scope {
   public:
    explicit Scope(ApplyGate& gate);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    ApplyGate* outer_;
  };
  // The gate of the apply running on this thread; nullptr outside one.
  static ApplyGate* current() noexcept;

  // The store's side: the set is written, not yet committed ("" ), or the
  // store failed to write it (why).
  void written(const std::string& failure);
  // The owner's side, before a kernel write: "" once the set is written,
  // else why the store failed (then the write must not be made).
  std::string wait_written();
  // The owner's side: whether it applied the set.
  void applied(bool ok);
  // The store's side, before committing: whether the owner applied it.
  bool wait_applied();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::string> written_;  // "" written, else the failure
  std::optional<bool> applied_;
};

}  // namespace rampart::store

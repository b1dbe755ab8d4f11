// SPDX-License-Identifier: Apache-2.0
// Runs the real rampartd binary with its stdout and stderr captured line by
// line, for tests that drive it with signals and watch what it logs.
#pragma once

#include <sys/wait.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sanitized.hpp"

namespace rampart::test {

class DaemonProcess {
 public:
  explicit DaemonProcess(std::vector<std::string> args);
  ~DaemonProcess();  // SIGKILLs the process if still running

  // The default deadlines stretch under sanitizers (sanitized.hpp).
  bool wait_for(const std::string& needle, size_t count = 1,
                std::chrono::milliseconds timeout = std::chrono::seconds(20 * kSlowdown));
  void signal(int sig);
  // Exit status (WEXITSTATUS) or nullopt on timeout / death by signal.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20 *
                                                                                        kSlowdown));
  // After wait_exit: the signal that killed the process, or 0.
  int killed_by() const { return reaped_ && WIFSIGNALED(status_) ? WTERMSIG(status_) : 0; }
  std::vector<std::string> lines();
  std::string output();
  pid_t pid() const { return pid_; }

 private:
  size_t count_locked(const std::string& needle) const;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
  bool reaped_ = false;
  int status_ = 0;
};

// Runs a command to completion; returns exit status and combined output.
struct RunResult {
  int status;
  std::string output;
};
RunResult run_command(const std::vector<std::string>& args);

}  // namespace rampart::test

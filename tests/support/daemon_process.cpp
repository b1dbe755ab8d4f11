// SPDX-License-Identifier: Apache-2.0
#include "daemon_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

extern char** environ;

namespace rampart::test {
namespace {

pid_t spawn(const std::vector<std::string>& args, int& read_fd) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot start " + args[0]);
  }
  read_fd = fds[0];
  return pid;
}

}  // namespace

DaemonProcess::DaemonProcess(std::vector<std::string> args) {
  pid_ = spawn(args, fd_);
  reader_ = std::thread([this] {
    std::string pending;
    char buf[4096];
    for (;;) {
      const ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      pending.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        std::lock_guard lock(mu_);
        lines_.push_back(pending.substr(0, nl));
        pending.erase(0, nl + 1);
        cv_.notify_all();
      }
    }
    std::lock_guard lock(mu_);
    if (!pending.empty()) lines_.push_back(pending);
    eof_ = true;
    cv_.notify_all();
  });
}

DaemonProcess::~DaemonProcess() {
  if (!reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
  if (reader_.joinable()) reader_.join();
  close(fd_);
}

size_t DaemonProcess::count_locked(const std::string& needle) const {
  size_t n = 0;
  for (const auto& l : lines_) n += l.find(needle) != std::string::npos;
  return n;
}

bool DaemonProcess::wait_for(const std::string& needle, size_t count,
                             std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return count_locked(needle) >= count || eof_; }) &&
         count_locked(needle) >= count;
}

void DaemonProcess::signal(int sig) { kill(pid_, sig); }

std::optional<int> DaemonProcess::wait_exit(std::chrono::milliseconds timeout) {
  {
    // The pipe closes when the process exits (nothing else holds it).
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return eof_; })) return std::nullopt;
  }
  if (waitpid(pid_, &status_, 0) == pid_) reaped_ = true;
  if (reaped_ && WIFEXITED(status_)) return WEXITSTATUS(status_);
  return std::nullopt;
}

std::vector<std::string> DaemonProcess::lines() {
  std::lock_guard lock(mu_);
  return lines_;
}

std::string DaemonProcess::output() {
  std::string out;
  for (const auto& l : lines()) out += l + "\n";
  return out;
}

RunResult run_command(const std::vector<std::string>& args) {
  DaemonProcess p(args);
  const auto st = p.wait_exit(std::chrono::seconds(60));
  return {st.value_or(-1), p.output()};
}

}  // namespace rampart::test

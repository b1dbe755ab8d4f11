// SPDX-License-Identifier: Apache-2.0
#include "plugin_host/plugin_call.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <ctime>

#include "log/logger.hpp"

namespace rampart::plugin_host {
namespace {

// What this thread runs. The handler reads it on the crashing thread; a
// thread_local of the executable sits in its static TLS block, so reading
// it allocates nothing.
thread_local const char* t_plugin = nullptr;
thread_local const char* t_callback = nullptr;

constexpr const char* kCallbackNames[kCallbackKinds] = {
    "create",   "start",      "validate",     "reload", "stop",        "destroy",
    "on_event", "send_alert", "stream_alert", "timer",  "rules_apply", "domain_status"};

// The handler runs on this stack when plugin code overflowed the thread's
// own. Allocated the first time a thread calls into a plugin (never in the
// handler); a thread that already has one (sanitizers install theirs)
// keeps it.
class AltStack {
 public:
  AltStack() {
    stack_t current{};
    if (sigaltstack(nullptr, &current) != 0 || (current.ss_flags & SS_DISABLE) == 0) return;
    mem_ = static_cast<char*>(std::malloc(kBytes));
    if (mem_ == nullptr) return;
    stack_t ss{};
    ss.ss_sp = mem_;
    ss.ss_size = kBytes;
    if (sigaltstack(&ss, nullptr) != 0) {
      std::free(mem_);
      mem_ = nullptr;
    }
  }
  ~AltStack() {
    if (mem_ == nullptr) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
    std::free(mem_);
  }
  AltStack(const AltStack&) = delete;
  AltStack& operator=(const AltStack&) = delete;

 private:
  // The report needs well under 4 KiB; the rest is room for the kernel's
  // signal frame (AVX-512 state included).
  static constexpr size_t kBytes = 64 * 1024;
  char* mem_ = nullptr;
};

// A line built in a fixed buffer: nothing here may allocate or lock.
class Line {
 public:
  Line& operator<<(const char* s) {
    while (*s != '\0' && len_ < sizeof buf_) buf_[len_++] = *s++;
    return *this;
  }
  Line& number(uint64_t v, int width = 1) {
    char digits[20];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0 && n < 20);
    for (int i = n; i < width; ++i) put('0');
    while (n > 0) put(digits[--n]);
    return *this;
  }
  Line& hex(uintptr_t v) {
    *this << "0x";
    bool started = false;
    for (int shift = static_cast<int>(sizeof v * 8) - 4; shift >= 0; shift -= 4) {
      const unsigned d = (v >> shift) & 0xf;
      if (d == 0 && !started && shift != 0) continue;
      started = true;
      put("0123456789abcdef"[d]);
    }
    return *this;
  }
  void put(char c) {
    if (len_ < sizeof buf_) buf_[len_++] = c;
  }
  void write_to(int fd) const {
    const char* p = buf_;
    size_t left = len_;
    while (left > 0) {
      const ssize_t n = ::write(fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      p += n;
      left -= static_cast<size_t>(n);
    }
  }

 private:
  char buf_[768];
  size_t len_ = 0;
};

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGABRT:
      return "SIGABRT";
  }
  return "fatal signal";
}

// The logger's timestamp (UTC, milliseconds) without gmtime_r, which is not
// async-signal-safe: days since the epoch to a civil date (H. Hinnant's
// algorithm).
void timestamp(Line& l) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  const int64_t secs = ts.tv_sec;
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  l.number(static_cast<uint64_t>(year), 4) << "-";
  l.number(static_cast<uint64_t>(month), 2) << "-";
  l.number(static_cast<uint64_t>(day), 2) << "T";
  l.number(static_cast<uint64_t>(rem / 3600), 2) << ":";
  l.number(static_cast<uint64_t>(rem / 60 % 60), 2) << ":";
  l.number(static_cast<uint64_t>(rem % 60), 2) << ".";
  l.number(static_cast<uint64_t>(ts.tv_nsec / 1000000), 3) << "Z";
}

void on_fatal_signal(int sig, siginfo_t* info, void*) {
  const int saved_errno = errno;
  const char* plugin = t_plugin;
  const char* callback = t_callback;
  const bool fault = sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE;
  const char* msg = plugin != nullptr ? "fatal signal in plugin code" : "fatal signal";
  // Logger::global() was constructed long before any plugin ran, so this
  // is a plain atomic load.
  const bool json = log::Logger::global().format() == log::Format::json;
  Line l;
  if (json) {
    l << "{\"ts\":\"";
    timestamp(l);
    l << "\",\"level\":\"error\",\"component\":\"plugin-host\",\"msg\":\"" << msg
      << "\",\"signal\":\"" << signal_name(sig) << "\"";
    // Plugin names are [a-z0-9_-] and callback names fixed: nothing to escape.
    if (plugin != nullptr)
      l << ",\"plugin\":\"" << plugin << "\",\"callback\":\"" << callback << "\"";
    if (fault) {
      l << ",\"address\":\"";
      l.hex(reinterpret_cast<uintptr_t>(info->si_addr)) << "\"";
    }
    l << "}\n";
  } else {
    timestamp(l);
    l << " error [plugin-host] " << msg << " signal=" << signal_name(sig);
    if (plugin != nullptr) l << " plugin=" << plugin << " callback=" << callback;
    if (fault) {
      l << " address=";
      l.hex(reinterpret_cast<uintptr_t>(info->si_addr));
    }
    l << "\n";
  }
  l.write_to(STDERR_FILENO);
  errno = saved_errno;
  // SA_RESETHAND put the default action back. The signal stays blocked
  // until this handler returns, then ends the process as if no handler had
  // run: same signal, same exit status, a core dump where enabled.
  raise(sig);
}

}  // namespace

const char* callback_name(Callback cb) {
  const auto i = static_cast<size_t>(cb);
  return i < kCallbackKinds ? kCallbackNames[i] : "unknown";
}

PluginCallScope::PluginCallScope(const char* plugin, Callback cb) noexcept
    : outer_plugin_(t_plugin), outer_callback_(t_callback) {
  thread_local AltStack alt_stack;
  t_plugin = plugin;
  t_callback = callback_name(cb);
  // The plugin code runs after this: the handler must see both names.
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

PluginCallScope::~PluginCallScope() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_plugin = outer_plugin_;
  t_callback = outer_callback_;
}

void install_fatal_signal_report() {
  struct sigaction sa {};
  sa.sa_sigaction = &on_fatal_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) sigaction(sig, &sa, nullptr);
}

}  // namespace rampart::plugin_host

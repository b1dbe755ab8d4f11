// SPDX-License-Identifier: Apache-2.0
// Lets a sender's stop() end a delivery blocked on another thread in
// connect, the TLS handshake or socket I/O (a receiver that accepted the
// connection and never answers would hold it for the whole timeout_ms).
// shutdown(2) wakes such a call at once, a connect in progress included.
// A watch holds its own duplicate of the socket's descriptor, so it shuts
// down that socket and nothing else however the original is closed (Poco
// closes it itself when a TLS handshake fails), where a descriptor number
// could meanwhile name another file.
#pragma once

#include <mutex>
#include <set>
#include <stdexcept>

namespace rampart::sender {

// What a watched call fails with once interrupt() was called.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("stopped: the delivery was cut short") {}
};

class Interrupter {
 public:
  // Watches a socket for as long as the Watch lives.
  class Watch {
   public:
    // Throws Interrupted once interrupted, std::system_error if the
    // descriptor cannot be duplicated.
    Watch(Interrupter& owner, int socket_fd);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

   private:
    Interrupter& owner_;
    int fd_;  // our duplicate
  };

  // Shuts down every watched socket, and refuses new watches from now on.
  void interrupt();
  bool interrupted() const;

 private:
  mutable std::mutex mu_;
  bool interrupted_ = false;
  std::set<int> fds_;
};

}  // namespace rampart::sender

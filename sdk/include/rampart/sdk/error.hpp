// SPDX-License-Identifier: Apache-2.0
// Errors across the C ABI: rampart::sdk::Error carries a status; detail::guard turns
// any exception into a status and the last_error text.
// Part of the C++ SDK; include <rampart/sdk/plugin.hpp> for all of it.
#ifndef RAMPART_SDK_ERROR_HPP
#define RAMPART_SDK_ERROR_HPP

#include <rampart/sdk/abi.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace rampart::sdk {

// An error that crosses the boundary as a status code and message.
class Error : public std::runtime_error {
 public:
  Error(rampart_status status, const std::string& what)
      : std::runtime_error(what), status_(status) {}
  rampart_status status() const noexcept { return status_; }

 private:
  rampart_status status_;
};

inline std::string to_string(rampart_str s) {
  return s.ptr ? std::string(s.ptr, s.len) : std::string();
}
inline rampart_str to_str(std::string_view s) { return rampart_str{s.data(), s.size()}; }

namespace detail {

inline std::string& last_error_text() {
  thread_local std::string text;
  return text;
}
inline const char* last_error() noexcept { return last_error_text().c_str(); }

// Runs f, turning any exception into a status and last_error text.
template <class F>
rampart_status guard(F&& f) noexcept {
  try {
    f();
    last_error_text().clear();
    return RAMPART_OK;
  } catch (const Error& e) {
    last_error_text() = e.what();
    return e.status();
  } catch (const std::exception& e) {
    last_error_text() = e.what();
    return RAMPART_ERR_INTERNAL;
  } catch (...) {
    last_error_text() = "unknown exception";
    return RAMPART_ERR_INTERNAL;
  }
}

}  // namespace detail

}  // namespace rampart::sdk

#endif  // RAMPART_SDK_ERROR_HPP

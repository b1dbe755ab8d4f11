// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as what an HTTP client sent to the
// REST or metrics frontend (http_check.hpp says what must hold).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!rampart::fuzz::check_http_input(std::string_view(reinterpret_cast<const char*>(data), size)))
    __builtin_trap();
  return 0;
}

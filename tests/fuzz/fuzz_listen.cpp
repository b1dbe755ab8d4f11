// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as a network frontend's `listen`
// setting (REST, metrics, gRPC): parsed into host and port or refused with
// an error naming the key, and an accepted address prints and parses back
// to itself (listen_check.hpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "listen_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (!rampart::fuzz::check_listen_input(bytes)) __builtin_trap();
  return 0;
}

// SPDX-License-Identifier: Apache-2.0
// TLS bytes for the IDS tests: a ClientHello and records around payloads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rampart::test {

inline std::string be16(size_t v) {
  return std::string{static_cast<char>(v >> 8), static_cast<char>(v)};
}

// A ClientHello handshake message as a TLS 1.3 client sends it: version,
// random, session id, suites, compression, then extensions with
// server_name among them (none when `sni` is empty).
inline std::string client_hello(std::string_view sni) {
  std::string body = "\x03\x03" + std::string(32, 'R') + "\x20" + std::string(32, 'S');
  body += be16(4) + "\x13\x01\x13\x02";
  body += std::string("\x01\x00", 2);
  std::string exts;
  exts += be16(0x2b) + be16(3) + "\x02\x03\x04";  // supported_versions
  if (!sni.empty()) {
    std::string list = std::string("\x00", 1) + be16(sni.size()) + std::string(sni);
    exts += be16(0) + be16(list.size() + 2) + be16(list.size()) + list;
  }
  exts += be16(0x0a) + be16(4) + be16(2) + be16(0x1d);  // supported_groups
  body += be16(exts.size()) + exts;
  return std::string("\x01\x00", 2) + be16(body.size()) + body;
}

// One record: 0x16 handshake, 0x14 change_cipher_spec, 0x17 application_data.
inline std::string tls_record(std::string_view payload, uint8_t type = 0x16) {
  std::string r{static_cast<char>(type), '\x03', type == 0x16 ? '\x01' : '\x03'};
  return r + be16(payload.size()) + std::string(payload);
}

}  // namespace rampart::test

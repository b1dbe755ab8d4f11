// SPDX-License-Identifier: Apache-2.0
// What fuzz_http checks of one input, shared with the replay in
// tests/unit/http_server_test.cpp: the bytes are what a client sent on a
// connection. Its head, when complete, is parsed or refused; a parsed head
// holds nothing a strict reader would not (token method, a path, HTTP/1.x,
// no CR, LF or NUL in a field); its body framing is decided or refused;
// a chunked body decodes to the same bytes and the same verdict whether
// its bytes come all at once or one by one; answers serialize with a
// well-formed head.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "http_message.hpp"

namespace rampart::fuzz {

inline bool check_http_input(std::string_view bytes) {
  namespace http = rampart::frontend::http;
  std::string buf(bytes);
  http::skip_empty_lines(buf);
  const size_t end = http::head_end(buf, 0);
  if (end == std::string::npos) return true;  // a head still arriving
  rampart::frontend::Request req;
  const auto refused = http::parse_head(std::string_view(buf).substr(0, end), 100, req);
  if (refused) return refused->status >= 400 && refused->status < 600 && !refused->detail.empty();
  auto clean = [](const std::string& s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos;
  };
  if (req.method.empty() || !clean(req.method) || req.method.find(' ') != std::string::npos)
    return false;
  if (req.version != "HTTP/1.1" && req.version != "HTTP/1.0") return false;
  if (req.path.empty() || (req.path[0] != '/' && req.path != "*")) return false;
  for (const auto& [k, v] : req.fields) {
    if (k.empty() || !clean(k) || !clean(v) || k.find(':') != std::string::npos) return false;
  }
  http::Framing framing;
  if (const auto bad = http::framing_of(req, framing))
    return bad->status == 400 || bad->status == 501;
  if (framing.chunked) {
    const std::string rest = buf.substr(end);
    constexpr size_t kMax = 64 * 1024;
    http::ChunkedDecoder whole, bytewise;
    std::string in = rest, body_a, body_b, why;
    const auto a = whole.feed(in, body_a, kMax, why);
    auto b = http::ChunkedDecoder::Result::more;
    std::string piece;
    for (size_t i = 0; i < rest.size() && b == http::ChunkedDecoder::Result::more; ++i) {
      piece += rest[i];
      b = bytewise.feed(piece, body_b, kMax, why);
    }
    if (a != b || body_a != body_b || body_a.size() > kMax) return false;
  }
  rampart::frontend::Response res;
  res.status = 200 + static_cast<int>(bytes.size() % 400);
  res.body = req.path;
  res.headers.emplace_back("X-Echo", req.get("X-Echo"));
  const std::string out = http::serialize(res, req, true);
  const size_t head = out.find("\r\n\r\n");
  return head != std::string::npos && out.rfind("HTTP/1.1 ", 0) == 0 && out.find('\0') >= head;
}

}  // namespace rampart::fuzz

// SPDX-License-Identifier: Apache-2.0
#include "http_message.hpp"

#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/NameValueCollection.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

namespace rampart::frontend {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string Peer::text() const {
  if (!local) return address;
  return "local:uid=" + std::to_string(uid) + ",pid=" + std::to_string(pid);
}

const std::string* Request::field(std::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (iequals(k, name)) return &v;
  }
  return nullptr;
}

std::string Request::get(std::string_view name, const std::string& fallback) const {
  const auto* v = field(name);
  return v ? *v : fallback;
}

std::string Request::cookie(std::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (!iequals(k, "Cookie")) continue;
    Poco::Net::NameValueCollection pairs;
    Poco::Net::MessageHeader::splitParameters(v.begin(), v.end(), pairs);
    if (pairs.has(std::string(name))) return pairs.get(std::string(name));
  }
  return "";
}

std::string reason_phrase(int status) {
  if (status == 414) return "URI Too Long";  // Poco's table says "Request-URI Too Large"
  if (status == 431) return "Request Header Fields Too Large";
  return Poco::Net::HTTPResponse::getReasonForStatus(
      static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
}

}  // namespace rampart::frontend

namespace rampart::frontend::http {
namespace {

constexpr size_t kMaxMethod = 32;
constexpr size_t kMaxTarget = 8192;
constexpr size_t kMaxChunkLine = 1024;
constexpr size_t kMaxTrailer = 8192;

// tchar (RFC 9110 §5.6.2).
bool is_tchar(unsigned char c) {
  return (c < 0x80 && std::isalnum(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(c); });
}

// field-value characters: VCHAR, obs-text, SP, HTAB.
bool is_field_char(unsigned char c) { return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f); }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The comma-separated elements of every field named `name` (RFC 9110 §5.6.1),
// OWS trimmed, empty elements dropped.
std::vector<std::string> list_elements(const Request& req, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : req.fields) {
    if (!iequals(k, name)) continue;
    std::string_view rest = v;
    while (true) {
      const auto comma = rest.find(',');
      const auto item = trim_ows(rest.substr(0, comma));
      if (!item.empty()) out.emplace_back(item);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return out;
}

bool has_token(const Request& req, std::string_view field, std::string_view token) {
  for (const auto& t : list_elements(req, field)) {
    if (iequals(t, token)) return true;
  }
  return false;
}

Refusal bad(std::string detail) { return {400, std::move(detail)}; }

}  // namespace

size_t head_end(std::string_view buf, size_t from) {
  const auto at = buf.find("\r\n\r\n", from);
  return at == std::string_view::npos ? std::string_view::npos : at + 4;
}

void skip_empty_lines(std::string& buf) {
  size_t n = 0;
  while (n + 2 <= buf.size() && n < 8 && buf.compare(n, 2, "\r\n") == 0) n += 2;
  buf.erase(0, n);
}

bool has_bare_lf(std::string_view buf) {
  for (size_t i = 0; i < buf.size(); ++i) {
    if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) return true;
  }
  return false;
}

std::optional<Refusal> parse_head(std::string_view head, size_t max_fields, Request& req) {
  // Lines end in CRLF; a bare CR or LF, or a NUL, is never part of a valid head.
  for (size_t i = 0; i < head.size(); ++i) {
    const char c = head[i];
    if (c == '\0') return bad("NUL in the request head");
    if (c == '\r' && (i + 1 == head.size() || head[i + 1] != '\n'))
      return bad("bare CR in the request head");
    if (c == '\n' && (i == 0 || head[i - 1] != '\r')) return bad("lines must end in CRLF");
  }
  if (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n")
    return bad("incomplete request head");
  head.remove_suffix(2);  // the empty line's CRLF; every line below ends in CRLF

  auto next_line = [&head]() {
    const auto eol = head.find("\r\n");
    const auto line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    return line;
  };

  // request-line = method SP request-target SP HTTP-version
  const std::string_view line = next_line();
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return bad("malformed request line: expected METHOD SP target SP HTTP-version");
  const auto method = line.substr(0, sp1);
  const auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const auto version = line.substr(sp2 + 1);
  if (!is_token(method) || method.size() > kMaxMethod) return bad("malformed method");
  if (target.empty()) return bad("empty request target");
  if (target.size() > kMaxTarget) return {{414, "the request target is longer than 8192 bytes"}};
  if (!std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
    return bad("malformed request target");
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) ||
      version[6] != '.' || !is_digit(version[7]))
    return bad("malformed HTTP version");
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return {{505, "HTTP version not supported: use HTTP/1.1"}};
  req.method = std::string(method);
  req.target = std::string(target);
  req.version = std::string(version);

  // origin-form, absolute-form (RFC 9112 §3.2.2: servers accept it) or "*".
  std::string_view path = target;
  if (path.front() != '/') {
    const auto scheme = path.find("://");
    if (path == "*" && method == "OPTIONS") {
    } else if (scheme != std::string_view::npos && (iequals(path.substr(0, scheme), "http") ||
                                                    iequals(path.substr(0, scheme), "https"))) {
      const auto slash = path.find('/', scheme + 3);
      path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
    } else {
      return bad("malformed request target: expected a path");
    }
  }
  const auto q = path.find('?');
  req.path = std::string(path.substr(0, q));
  req.query = q == std::string_view::npos ? "" : std::string(path.substr(q + 1));
  if (const auto hash = req.query.find('#'); hash != std::string::npos) req.query.resize(hash);

  // field-line = field-name ":" OWS field-value OWS
  while (!head.empty()) {
    const std::string_view field = next_line();
    if (field.front() == ' ' || field.front() == '\t')
      return bad("obsolete line folding in a header field");
    const auto colon = field.find(':');
    if (colon == std::string_view::npos) return bad("a header field without ':'");
    const auto name = field.substr(0, colon);
    if (!is_token(name)) return bad("malformed header field name (no space before ':')");
    const auto value = trim_ows(field.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(),
                     [](char c) { return is_field_char(static_cast<unsigned char>(c)); }))
      return bad("control character in header field '" + std::string(name) + "'");
    if (req.fields.size() == max_fields)
      return {{431, "more than " + std::to_string(max_fields) + " header fields"}};
    req.fields.emplace_back(std::string(name), std::string(value));
  }

  // RFC 9112 §3.2: exactly one Host in HTTP/1.1.
  const auto hosts = std::count_if(req.fields.begin(), req.fields.end(),
                                   [](const auto& f) { return iequals(f.first, "Host"); });
  if (hosts > 1 || (hosts == 0 && req.version == "HTTP/1.1"))
    return bad("HTTP/1.1 requests carry exactly one Host header field");
  return std::nullopt;
}

std::optional<Refusal> framing_of(const Request& req, Framing& out) {
  out = {};
  const bool has_te = std::any_of(req.fields.begin(), req.fields.end(), [](const auto& f) {
    return iequals(f.first, "Transfer-Encoding");
  });
  const bool has_cl = std::any_of(req.fields.begin(), req.fields.end(),
                                  [](const auto& f) { return iequals(f.first, "Content-Length"); });
  if (has_te) {
    if (has_cl)
      return bad("both Content-Length and Transfer-Encoding: the body's length is ambiguous");
    if (req.version == "HTTP/1.0") return bad("Transfer-Encoding in an HTTP/1.0 request");
    const auto codings = list_elements(req, "Transfer-Encoding");
    if (codings.empty()) return bad("empty Transfer-Encoding");
    if (!iequals(codings.back(), "chunked"))
      return bad("chunked must be the final transfer coding");
    for (size_t i = 0; i + 1 < codings.size(); ++i) {
      if (iequals(codings[i], "chunked")) return bad("chunked applied twice");
      return {{501, "transfer coding '" + lower(codings[i]) + "' is not supported"}};
    }
    out.chunked = true;
    return std::nullopt;
  }
  if (has_cl) {
    std::optional<uint64_t> length;
    for (const auto& v : list_elements(req, "Content-Length")) {
      uint64_t n = 0;
      if (v.size() > 18 || !std::all_of(v.begin(), v.end(), is_digit) ||
          std::from_chars(v.data(), v.data() + v.size(), n).ec != std::errc())
        return bad("malformed Content-Length");
      if (length && *length != n) return bad("conflicting Content-Length values");
      length = n;
    }
    if (!length) return bad("empty Content-Length");
    out.length = *length;
  }
  return std::nullopt;  // neither: a request without a body (RFC 9112 §6.3)
}

bool wants_keep_alive(const Request& req) {
  if (has_token(req, "Connection", "close")) return false;
  return req.version == "HTTP/1.1" || has_token(req, "Connection", "keep-alive");
}

bool expects_continue(const Request& req) {
  const auto* e = req.field("Expect");
  return e && iequals(trim_ows(*e), "100-continue") && req.version == "HTTP/1.1";
}

ChunkedDecoder::Result ChunkedDecoder::feed(std::string& in, std::string& body, size_t max_body,
                                            std::string& why) {
  size_t pos = 0;
  auto done_with = [&](Result r) {
    in.erase(0, pos);
    return r;
  };
  while (true) {
    switch (state_) {
      case State::size: {
        // The same verdict whether the line arrives whole or byte by byte:
        // its length without the CRLF is what is limited.
        const auto eol = in.find("\r\n", pos);
        if (eol == std::string::npos) {
          const size_t partial = in.size() - pos - (in.size() > pos && in.back() == '\r' ? 1 : 0);
          if (partial > kMaxChunkLine) {
            why = "chunk size line too long";
            return done_with(Result::bad);
          }
          return done_with(Result::more);
        }
        const std::string_view line(in.data() + pos, eol - pos);
        if (line.size() > kMaxChunkLine) {
          why = "chunk size line too long";
          return done_with(Result::bad);
        }
        size_t digits = 0;
        while (digits < line.size() && std::isxdigit(static_cast<unsigned char>(line[digits])))
          ++digits;
        // chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ): read, not used.
        const auto ext = trim_ows(line.substr(digits));
        if (digits == 0 || digits > 16 || (!ext.empty() && ext.front() != ';') ||
            !std::all_of(ext.begin(), ext.end(),
                         [](char c) { return is_field_char(static_cast<unsigned char>(c)); })) {
          why = "malformed chunk size";
          return done_with(Result::bad);
        }
        uint64_t size = 0;
        std::from_chars(line.data(), line.data() + digits, size, 16);
        pos = eol + 2;
        if (size > max_body - body.size()) return done_with(Result::too_large);
        remaining_ = size;
        state_ = size == 0 ? State::trailer : State::data;
        break;
      }
      case State::data: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size() - pos));
        body.append(in, pos, take);
        pos += take;
        remaining_ -= take;
        if (remaining_ > 0) return done_with(Result::more);
        state_ = State::data_end;
        break;
      }
      case State::data_end:
        if (in.size() - pos < 2) return done_with(Result::more);
        if (in.compare(pos, 2, "\r\n") != 0) {
          why = "chunk data longer than its size";
          return done_with(Result::bad);
        }
        pos += 2;
        state_ = State::size;
        break;
      case State::trailer: {
        // Trailer fields are read and dropped; the empty line ends the body.
        const auto eol = in.find("\r\n", pos);
        if (eol == std::string::npos) {
          if (trailer_bytes_ + (in.size() - pos) > kMaxTrailer) {
            why = "trailer section too long";
            return done_with(Result::bad);
          }
          return done_with(Result::more);
        }
        const std::string_view line(in.data() + pos, eol - pos);
        trailer_bytes_ += line.size() + 2;
        pos = eol + 2;
        if (line.empty()) return done_with(Result::done);
        if (trailer_bytes_ > kMaxTrailer || line.find(':') == std::string_view::npos ||
            !std::all_of(line.begin(), line.end(),
                         [](char c) { return is_field_char(static_cast<unsigned char>(c)); })) {
          why = "malformed trailer field";
          return done_with(Result::bad);
        }
        break;
      }
    }
  }
}

std::string serialize(const Response& res, const Request& req, bool close) {
  auto clean = [](std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
  };
  std::string out =
      "HTTP/1.1 " + std::to_string(res.status) + " " + reason_phrase(res.status) + "\r\n";
  if (!res.content_type.empty() && clean(res.content_type))
    out += "Content-Type: " + res.content_type + "\r\n";
  for (const auto& [k, v] : res.headers) {
    if (is_token(k) && clean(v)) out += k + ": " + v + "\r\n";
  }
  const bool bodiless =
      (res.status >= 100 && res.status < 200) || res.status == 204 || res.status == 304;
  if (!bodiless) out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
  if (close) {
    out += "Connection: close\r\n";
  } else if (req.version == "HTTP/1.0") {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (!bodiless && req.method != "HEAD") out += res.body;
  return out;
}

}  // namespace rampart::frontend::http

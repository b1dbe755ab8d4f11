// SPDX-License-Identifier: Apache-2.0
#include "rule.hpp"

#include <arpa/inet.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace rampart::ids {
namespace {

// Variables refer to variables; a cycle ($A -> $B -> $A) or a deep nest
// stops here instead of recursing until the stack runs out.
constexpr int kMaxGroupDepth = 16;

struct Fail {
  std::string keyword;
  std::string detail;
};

[[noreturn]] void fail(std::string keyword, std::string detail) {
  throw Fail{std::move(keyword), std::move(detail)};
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A value shown in an error: control bytes as '?', long values cut, so the
// message stays one readable line whatever the input.
std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (s.size() > 64) out += "...";
  return out;
}

template <class T>
bool parse_num(std::string_view s, T& out) {
  s = trim(s);
  if (s.empty()) return false;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty() || s[0] == '+') return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

template <class T>
T num(std::string_view s, std::string_view keyword) {
  T v{};
  if (!parse_num(s, v)) fail(std::string(keyword), "expected a number, got '" + shown(s) + "'");
  return v;
}

// Splits at top-level commas (not inside [...]).
std::vector<std::string_view> split_list(std::string_view s, char sep = ',') {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '[') ++depth;
    if (s[i] == ']') --depth;
    if (s[i] == sep && depth == 0) {
      out.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(trim(s.substr(start)));
  return out;
}

// ---- header -------------------------------------------------------------

void mask_prefix(AddressSpec& a) {
  const int bytes = a.family == 4 ? 4 : 16;
  for (int i = 0; i < 16; ++i) {
    const int bit0 = i * 8;
    if (i >= bytes) {
      a.addr[i] = 0;
    } else if (bit0 >= a.prefix) {
      a.addr[i] = 0;
    } else if (bit0 + 8 > a.prefix) {
      a.addr[i] &= static_cast<uint8_t>(0xff00 >> (a.prefix - bit0));
    }
  }
}

AddressSpec parse_address(std::string_view s, const Variables& vars, int depth) {
  s = trim(s);
  if (depth > kMaxGroupDepth) fail("header", "address groups nested too deep");
  if (s.empty()) fail("header", "empty address");
  if (s[0] == '!') {
    AddressSpec a = parse_address(s.substr(1), vars, depth + 1);
    if (a.kind == AddressSpec::Kind::any && !a.negated) fail("header", "'!any' matches nothing");
    a.negated = !a.negated;
    return a;
  }
  if (s[0] == '[') {
    if (s.back() != ']') fail("header", "unterminated address list '" + shown(s) + "'");
    AddressSpec a;
    a.kind = AddressSpec::Kind::list;
    for (auto item : split_list(s.substr(1, s.size() - 2))) {
      a.list.push_back(parse_address(item, vars, depth + 1));
    }
    return a;
  }
  if (s[0] == '$') {
    const auto it = vars.addresses.find(std::string(s.substr(1)));
    if (it == vars.addresses.end()) fail("header", "unknown address variable '" + shown(s) + "'");
    return parse_address(it->second, vars, depth + 1);
  }
  if (s == "any") return {};
  AddressSpec a;
  a.kind = AddressSpec::Kind::network;
  std::string_view ip = s;
  std::optional<int> prefix;
  if (const auto slash = s.find('/'); slash != std::string_view::npos) {
    ip = s.substr(0, slash);
    int p = 0;
    if (!parse_num(s.substr(slash + 1), p) || p < 0) {
      fail("header", "bad prefix length in '" + shown(s) + "'");
    }
    prefix = p;
  }
  const std::string ip_str(ip);
  if (inet_pton(AF_INET, ip_str.c_str(), a.addr.data()) == 1) {
    a.family = 4;
    a.prefix = static_cast<uint8_t>(prefix.value_or(32));
    if (prefix && *prefix > 32) fail("header", "bad prefix length in '" + shown(s) + "'");
  } else if (inet_pton(AF_INET6, ip_str.c_str(), a.addr.data()) == 1) {
    a.family = 6;
    if (prefix && *prefix > 128) fail("header", "bad prefix length in '" + shown(s) + "'");
    a.prefix = static_cast<uint8_t>(prefix.value_or(128));
  } else {
    fail("header", "bad address '" + shown(s) + "'");
  }
  mask_prefix(a);
  return a;
}

PortSpec parse_port(std::string_view s, const Variables& vars, int depth) {
  s = trim(s);
  if (depth > kMaxGroupDepth) fail("header", "port groups nested too deep");
  if (s.empty()) fail("header", "empty port");
  if (s[0] == '!') {
    PortSpec p = parse_port(s.substr(1), vars, depth + 1);
    if (p.kind == PortSpec::Kind::any && !p.negated) fail("header", "'!any' matches nothing");
    p.negated = !p.negated;
    return p;
  }
  if (s[0] == '[') {
    if (s.back() != ']') fail("header", "unterminated port list '" + shown(s) + "'");
    PortSpec p;
    p.kind = PortSpec::Kind::list;
    for (auto item : split_list(s.substr(1, s.size() - 2))) {
      p.list.push_back(parse_port(item, vars, depth + 1));
    }
    return p;
  }
  if (s[0] == '$') {
    const auto it = vars.ports.find(std::string(s.substr(1)));
    if (it == vars.ports.end()) fail("header", "unknown port variable '" + shown(s) + "'");
    return parse_port(it->second, vars, depth + 1);
  }
  if (s == "any") return {};
  PortSpec p;
  p.kind = PortSpec::Kind::range;
  const auto colon = s.find(':');
  bool ok = true;
  if (colon == std::string_view::npos) {
    ok = parse_num(s, p.lo);
    p.hi = p.lo;
  } else {
    const auto lo = trim(s.substr(0, colon)), hi = trim(s.substr(colon + 1));
    if (!lo.empty()) ok = parse_num(lo, p.lo);
    if (!hi.empty()) ok = ok && parse_num(hi, p.hi);
    if (lo.empty() && hi.empty()) ok = false;
  }
  if (!ok || p.lo > p.hi) fail("header", "bad port '" + shown(s) + "'");
  return p;
}

// Splits the header at whitespace outside [...] (lists may hold spaces).
std::vector<std::string_view> header_tokens(std::string_view s) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size()) break;
    const size_t start = i;
    while (i < s.size() && (depth > 0 || !is_space(s[i]))) {
      if (s[i] == '[') ++depth;
      if (s[i] == ']') --depth;
      ++i;
    }
    out.push_back(s.substr(start, i - start));
  }
  return out;
}

void parse_protocol(std::string_view p, Rule& r) {
  struct P {
    const char* name;
    Transport t;
    AppProto app;
  };
  static constexpr P kProtos[] = {
      {"ip", Transport::any, AppProto::unknown},
      {"tcp", Transport::tcp, AppProto::unknown},
      {"tcp-pkt", Transport::tcp, AppProto::unknown},
      {"tcp-stream", Transport::tcp, AppProto::unknown},
      {"udp", Transport::udp, AppProto::unknown},
      {"icmp", Transport::icmp, AppProto::unknown},
      {"http", Transport::tcp, AppProto::http},
      {"http1", Transport::tcp, AppProto::http},
      {"tls", Transport::tcp, AppProto::tls},
      {"ssh", Transport::tcp, AppProto::ssh},
      {"smtp", Transport::tcp, AppProto::smtp},
      {"ftp", Transport::tcp, AppProto::ftp},
      {"pop3", Transport::tcp, AppProto::pop3},
      {"imap", Transport::tcp, AppProto::imap},
      {"dns", Transport::tcp_udp, AppProto::dns},
  };
  for (const auto& e : kProtos) {
    if (p == e.name) {
      r.protocol = e.name;
      r.transport = e.t;
      r.app = e.app;
      return;
    }
  }
  fail("header", "unsupported protocol '" + shown(p) + "'");
}

// ---- options -------------------------------------------------------------

struct Option {
  std::string_view name, value;
  bool has_value = false;
};

// Splits the option text at ';' not escaped by a backslash (Suricata's
// rule: a ';' in a value is written "\;").
std::vector<Option> split_options(std::string_view s) {
  std::vector<Option> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i < s.size() && s[i] == '\\') {
      ++i;
      continue;
    }
    if (i == s.size() || s[i] == ';') {
      const auto text = trim(s.substr(start, std::min(i, s.size()) - start));
      start = i + 1;
      if (text.empty()) {
        if (i == s.size()) break;
        fail("options", "empty option (';;')");
      }
      if (out.size() >= kMaxRuleOptions) {
        fail("options", "more than " + std::to_string(kMaxRuleOptions) + " options");
      }
      Option o;
      const auto colon = text.find(':');
      if (colon == std::string_view::npos) {
        o.name = text;
      } else {
        o.name = trim(text.substr(0, colon));
        o.value = trim(text.substr(colon + 1));
        o.has_value = true;
      }
      if (o.name.empty()) fail("options", "an option without a name ('" + shown(text) + "')");
      out.push_back(o);
      if (i == s.size()) break;
    }
  }
  // A trailing text without ';' is malformed in Suricata; so here.
  return out;
}

// A quoted value: "..." with \" \; \\ escapes kept for the caller.
std::string_view unquote(std::string_view v, std::string_view keyword) {
  v = trim(v);
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') {
    fail(std::string(keyword), "expected a quoted value, got '" + shown(v) + "'");
  }
  return v.substr(1, v.size() - 2);
}

std::string unescape(std::string_view v, std::string_view keyword) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) {
      out += v[++i];
    } else if (v[i] == '\\') {
      fail(std::string(keyword), "value ends in a backslash");
    } else {
      out += v[i];
    }
  }
  return out;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode_content(std::string_view v) {
  std::string out;
  bool hex = false;
  int hi = -1;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '|') {
      if (hex && hi >= 0) fail("content", "odd number of hex digits");
      hex = !hex;
      continue;
    }
    if (hex) {
      if (is_space(c)) continue;
      const int h = hexval(c);
      if (h < 0) fail("content", "bad hex digit '" + shown(std::string_view(&c, 1)) + "'");
      if (hi < 0) {
        hi = h;
      } else {
        out += static_cast<char>(hi * 16 + h);
        hi = -1;
      }
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= v.size()) fail("content", "value ends in a backslash");
      const char e = v[++i];
      if (e != ';' && e != '"' && e != '\\' && e != ':' && e != '|') {
        fail("content", "bad escape '\\" + shown(std::string_view(&e, 1)) + "'");
      }
      out += e;
      continue;
    }
    if (c == '"') fail("content", "unescaped '\"' in the value");
    if (c == ';') fail("content", "unescaped ';' in the value");
    out += c;
  }
  if (hex) fail("content", "unterminated |hex| section");
  if (out.empty()) fail("content", "empty content");
  return out;
}

IntCheck parse_int_check(std::string_view v, std::string_view keyword, uint64_t max) {
  v = trim(v);
  IntCheck c;
  const auto range = v.find("<>");
  auto number = [&](std::string_view s) {
    const auto n = num<uint64_t>(s, keyword);
    if (n > max) fail(std::string(keyword), "value " + std::to_string(n) + " out of range");
    return n;
  };
  if (range != std::string_view::npos) {
    c.op = IntCheck::Op::range;
    c.a = number(v.substr(0, range));
    c.b = number(v.substr(range + 2));
    if (c.a >= c.b) fail(std::string(keyword), "empty range '" + shown(v) + "'");
    return c;
  }
  if (v.starts_with("<=")) {
    c.op = IntCheck::Op::le;
    v.remove_prefix(2);
  } else if (v.starts_with(">=")) {
    c.op = IntCheck::Op::ge;
    v.remove_prefix(2);
  } else if (v.starts_with("<")) {
    c.op = IntCheck::Op::lt;
    v.remove_prefix(1);
  } else if (v.starts_with(">")) {
    c.op = IntCheck::Op::gt;
    v.remove_prefix(1);
  } else if (v.starts_with("!")) {
    c.op = IntCheck::Op::ne;
    v.remove_prefix(1);
  } else if (v.starts_with("=")) {
    v.remove_prefix(1);
  }
  c.a = number(v);
  return c;
}

std::optional<Buffer> sticky_buffer(std::string_view k) {
  static constexpr std::pair<const char*, Buffer> kSticky[] = {
      {"pkt_data", Buffer::payload},
      {"http.method", Buffer::http_method},
      {"http.uri", Buffer::http_uri},
      {"http.uri.raw", Buffer::http_uri_raw},
      {"http.protocol", Buffer::http_protocol},
      {"http.request_line", Buffer::http_request_line},
      {"http.start", Buffer::http_start},
      {"http.header", Buffer::http_header},
      {"http.header.raw", Buffer::http_header_raw},
      {"http.header_names", Buffer::http_header_names},
      {"http.request_header", Buffer::http_request_header},
      {"http.host", Buffer::http_host},
      {"http.host.raw", Buffer::http_host_raw},
      {"http.user_agent", Buffer::http_user_agent},
      {"http.cookie", Buffer::http_cookie},
      {"http.content_type", Buffer::http_content_type},
      {"http.accept", Buffer::http_accept},
      {"http.referer", Buffer::http_referer},
      {"http.request_body", Buffer::http_request_body},
      {"http.stat_code", Buffer::http_stat_code},
      {"http.stat_msg", Buffer::http_stat_msg},
      {"http.response_line", Buffer::http_response_line},
      {"http.response_header", Buffer::http_response_header_raw},
      {"http.server", Buffer::http_server},
      {"http.location", Buffer::http_location},
      {"http.response_body", Buffer::http_response_body},
      {"file.data", Buffer::http_response_body},
      {"file_data", Buffer::http_response_body},
      {"tls.sni", Buffer::tls_sni},
      {"tls_sni", Buffer::tls_sni},
      {"dns.query", Buffer::dns_query},
      {"dns_query", Buffer::dns_query},
      {"ssh.proto", Buffer::ssh_proto},
      {"ssh_proto", Buffer::ssh_proto},
      {"ssh.software", Buffer::ssh_software},
  };
  for (const auto& [name, b] : kSticky) {
    if (k == name) return b;
  }
  return std::nullopt;
}

std::optional<Buffer> legacy_modifier(std::string_view k) {
  static constexpr std::pair<const char*, Buffer> kLegacy[] = {
      {"http_uri", Buffer::http_uri},
      {"http_raw_uri", Buffer::http_uri_raw},
      {"http_method", Buffer::http_method},
      {"http_header", Buffer::http_header},
      {"http_raw_header", Buffer::http_header_raw},
      {"http_cookie", Buffer::http_cookie},
      {"http_user_agent", Buffer::http_user_agent},
      {"http_host", Buffer::http_host},
      {"http_raw_host", Buffer::http_host_raw},
      {"http_client_body", Buffer::http_request_body},
      {"http_server_body", Buffer::http_response_body},
      {"http_stat_code", Buffer::http_stat_code},
      {"http_stat_msg", Buffer::http_stat_msg},
  };
  for (const auto& [name, b] : kLegacy) {
    if (k == name) return b;
  }
  return std::nullopt;
}

std::optional<Buffer> pcre_buffer_flag(char f) {
  switch (f) {
    case 'U':
      return Buffer::http_uri;
    case 'I':
      return Buffer::http_uri_raw;
    case 'H':
      return Buffer::http_header;
    case 'D':
      return Buffer::http_header_raw;
    case 'M':
      return Buffer::http_method;
    case 'C':
      return Buffer::http_cookie;
    case 'P':
      return Buffer::http_request_body;
    case 'Q':
      return Buffer::http_response_body;
    case 'S':
      return Buffer::http_stat_code;
    case 'Y':
      return Buffer::http_stat_msg;
    case 'V':
      return Buffer::http_user_agent;
    case 'W':
      return Buffer::http_host;
    case 'Z':
      return Buffer::http_host_raw;
    default:
      return std::nullopt;
  }
}

// byte_test / byte_jump's shared flags; false if `f` is not one of them.
template <class T>
bool byte_flag(std::string_view f, T& b, std::string_view keyword) {
  if (f == "relative") {
    b.relative = true;
  } else if (f == "little" || f == "dce") {
    b.little = true;
  } else if (f == "big") {
    b.little = false;
  } else if (f == "string") {
    b.string = true;
  } else if (f == "hex") {
    b.base = 16;
  } else if (f == "dec") {
    b.base = 10;
  } else if (f == "oct") {
    b.base = 8;
  } else if (f.starts_with("bitmask")) {
    b.bitmask = num<uint64_t>(trim(f.substr(7)), keyword);
    if (b.bitmask == 0) fail(std::string(keyword), "bitmask 0");
  } else {
    return false;
  }
  return true;
}

template <class T>
void check_nbytes(const T& b, std::string_view keyword) {
  if (b.nbytes < 1 || (b.string ? b.nbytes > 20 : b.nbytes > 8)) {
    fail(std::string(keyword), "cannot read " + std::to_string(b.nbytes) + " bytes");
  }
}

ByteTest parse_byte_test(std::string_view v) {
  const auto f = split_list(v);
  if (f.size() < 4) fail("byte_test", "expected bytes, operator, value, offset");
  ByteTest b;
  b.nbytes = num<uint8_t>(f[0], "byte_test");
  std::string_view op = f[1];
  if (op.starts_with("!")) {
    b.op_negated = true;
    op.remove_prefix(1);
    if (op == "=" || op.empty()) op = "=";
  }
  if (op == "<") {
    b.op = ByteTest::Op::lt;
  } else if (op == ">") {
    b.op = ByteTest::Op::gt;
  } else if (op == "=") {
    b.op = ByteTest::Op::eq;
  } else if (op == "&") {
    b.op = ByteTest::Op::and_;
  } else if (op == "^") {
    b.op = ByteTest::Op::xor_;
  } else if (op == "<=") {
    b.op = ByteTest::Op::le;
  } else if (op == ">=") {
    b.op = ByteTest::Op::ge;
  } else {
    fail("byte_test", "bad operator '" + shown(f[1]) + "'");
  }
  b.value = num<uint64_t>(f[2], "byte_test");
  b.offset = num<int32_t>(f[3], "byte_test");
  for (size_t i = 4; i < f.size(); ++i) {
    if (!byte_flag(f[i], b, "byte_test")) fail("byte_test", "unknown flag '" + shown(f[i]) + "'");
  }
  check_nbytes(b, "byte_test");
  return b;
}

ByteJump parse_byte_jump(std::string_view v) {
  const auto f = split_list(v);
  if (f.size() < 2) fail("byte_jump", "expected bytes, offset");
  ByteJump b;
  b.nbytes = num<uint8_t>(f[0], "byte_jump");
  b.offset = num<int32_t>(f[1], "byte_jump");
  for (size_t i = 2; i < f.size(); ++i) {
    const auto x = f[i];
    if (byte_flag(x, b, "byte_jump")) continue;
    if (x == "align") {
      b.align = true;
    } else if (x == "from_beginning") {
      b.from_beginning = true;
    } else if (x == "from_end") {
      b.from_end = true;
    } else if (x.starts_with("multiplier")) {
      b.multiplier = num<uint32_t>(x.substr(10), "byte_jump");
      if (b.multiplier == 0 || b.multiplier > 65535) fail("byte_jump", "bad multiplier");
    } else if (x.starts_with("post_offset")) {
      b.post_offset = num<int32_t>(x.substr(11), "byte_jump");
    } else {
      fail("byte_jump", "unknown flag '" + shown(x) + "'");
    }
  }
  if (b.from_beginning && b.from_end) fail("byte_jump", "from_beginning and from_end");
  check_nbytes(b, "byte_jump");
  return b;
}

Pcre parse_pcre(std::string_view v, std::optional<Buffer>& buffer) {
  Pcre p;
  v = trim(v);
  if (v.starts_with("!")) {
    p.negated = true;
    v = trim(v.substr(1));
  }
  const auto q = unquote(v, "pcre");
  p.source = std::string(q);
  if (q.empty() || q.front() != '/') fail("pcre", "expected \"/regex/flags\"");
  const auto last = q.rfind('/');
  if (last == 0) fail("pcre", "expected \"/regex/flags\"");
  p.pattern = std::string(q.substr(1, last - 1));
  for (char f : q.substr(last + 1)) {
    switch (f) {
      case 'i':
        p.options |= PCRE2_CASELESS;
        break;
      case 's':
        p.options |= PCRE2_DOTALL;
        break;
      case 'm':
        p.options |= PCRE2_MULTILINE;
        break;
      case 'x':
        p.options |= PCRE2_EXTENDED;
        break;
      case 'A':
        p.options |= PCRE2_ANCHORED;
        break;
      case 'E':
        p.options |= PCRE2_DOLLAR_ENDONLY;
        break;
      case 'G':
        p.options |= PCRE2_UNGREEDY;
        break;
      case 'R':
        p.relative = true;
        break;
      case 'B':  // raw bytes: the buffers here are the raw bytes already
      case 'O':  // "override the match limits": the matcher's own limits stay
        break;
      default:
        if (const auto b = pcre_buffer_flag(f)) {
          if (buffer && *buffer != *b) fail("pcre", "two buffer flags");
          buffer = b;
        } else {
          fail("pcre", "unsupported flag '" + shown(std::string_view(&f, 1)) + "'");
        }
    }
  }
  return p;
}

Threshold parse_threshold(std::string_view v, bool detection_filter) {
  const std::string kw = detection_filter ? "detection_filter" : "threshold";
  Threshold t;
  if (detection_filter) t.type = Threshold::Type::detection_filter;
  bool type = detection_filter, track = false, count = false, seconds = false;
  for (auto item : split_list(v)) {
    const auto sp = item.find_first_of(" \t");
    if (sp == std::string_view::npos) fail(kw, "expected 'name value', got '" + shown(item) + "'");
    const auto k = item.substr(0, sp), val = trim(item.substr(sp));
    if (k == "type" && !detection_filter) {
      if (val == "limit") {
        t.type = Threshold::Type::limit;
      } else if (val == "threshold") {
        t.type = Threshold::Type::threshold;
      } else if (val == "both") {
        t.type = Threshold::Type::both;
      } else {
        fail(kw, "bad type '" + shown(val) + "'");
      }
      type = true;
    } else if (k == "track") {
      if (val == "by_src") {
        t.track = Threshold::Track::by_src;
      } else if (val == "by_dst") {
        t.track = Threshold::Track::by_dst;
      } else if (val == "by_rule") {
        t.track = Threshold::Track::by_rule;
      } else if (val == "by_both") {
        t.track = Threshold::Track::by_both;
      } else {
        fail(kw, "bad track '" + shown(val) + "'");
      }
      track = true;
    } else if (k == "count") {
      t.count = num<uint32_t>(val, kw);
      if (t.count == 0) fail(kw, "count 0");
      count = true;
    } else if (k == "seconds") {
      t.seconds = num<uint32_t>(val, kw);
      if (t.seconds == 0) fail(kw, "seconds 0");
      seconds = true;
    } else {
      fail(kw, "unknown field '" + shown(k) + "'");
    }
  }
  if (!type || !track || !count || !seconds) fail(kw, "type, track, count and seconds all needed");
  return t;
}

FlagsOpt parse_flags(std::string_view v) {
  FlagsOpt f;
  const auto comma = v.find(',');
  auto bits_of = [](std::string_view s, uint8_t& out, bool allow_zero) {
    for (char c : s) {
      switch (c) {
        case 'F':
          out |= tcp::fin;
          break;
        case 'S':
          out |= tcp::syn;
          break;
        case 'R':
          out |= tcp::rst;
          break;
        case 'P':
          out |= tcp::psh;
          break;
        case 'A':
          out |= tcp::ack;
          break;
        case 'U':
          out |= tcp::urg;
          break;
        case 'E':
        case '2':
          out |= tcp::ece;
          break;
        case 'C':
        case '1':
          out |= tcp::cwr;
          break;
        case '0':
          if (!allow_zero) fail("flags", "bad flag '0'");
          break;
        default:
          fail("flags", "bad flag '" + shown(std::string_view(&c, 1)) + "'");
      }
    }
  };
  std::string_view main = trim(v.substr(0, comma));
  auto modifier = [&](char c) {
    switch (c) {
      case '+':
        f.mod = FlagsOpt::Mod::plus;
        return true;
      case '*':
        f.mod = FlagsOpt::Mod::any;
        return true;
      case '!':
        f.mod = FlagsOpt::Mod::not_;
        return true;
      default:
        return false;
    }
  };
  if (!main.empty() && modifier(main.front())) {
    main.remove_prefix(1);
  } else if (!main.empty() && modifier(main.back())) {
    main.remove_suffix(1);
  }
  if (main.empty()) fail("flags", "no flags");
  if (main == "0") {
    if (f.mod != FlagsOpt::Mod::exact) fail("flags", "a modifier on '0'");
  } else {
    bits_of(main, f.bits, false);
  }
  if (comma != std::string_view::npos) {
    const auto mask = trim(v.substr(comma + 1));
    if (mask.empty()) fail("flags", "empty mask");
    bits_of(mask, f.ignore, false);
  }
  return f;
}

FlowOpt parse_flow(std::string_view v) {
  FlowOpt f;
  for (auto item : split_list(v)) {
    if (item == "to_server" || item == "from_client") {
      f.to_server = true;
    } else if (item == "to_client" || item == "from_server") {
      f.to_client = true;
    } else if (item == "established") {
      f.established = true;
    } else if (item == "not_established") {
      f.not_established = true;
    } else if (item == "stateless") {
      f.stateless = true;
    } else if (item == "only_stream") {
      f.only_stream = true;
    } else if (item == "no_stream") {
      f.no_stream = true;
    } else {
      fail("flow", "unsupported value '" + shown(item) + "'");
    }
  }
  if (f.to_server && f.to_client) fail("flow", "to_server and to_client");
  if (f.established && f.not_established) fail("flow", "established and not_established");
  if (f.only_stream && f.no_stream) fail("flow", "only_stream and no_stream");
  return f;
}

bool valid_flowbit_name(std::string_view n) {
  if (n.empty() || n.size() > 256) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

Flowbit parse_flowbits(std::string_view v) {
  Flowbit fb;
  const auto comma = v.find(',');
  const auto cmd = trim(v.substr(0, comma));
  if (cmd == "set") {
    fb.cmd = Flowbit::Cmd::set;
  } else if (cmd == "unset") {
    fb.cmd = Flowbit::Cmd::unset;
  } else if (cmd == "toggle") {
    fb.cmd = Flowbit::Cmd::toggle;
  } else if (cmd == "isset") {
    fb.cmd = Flowbit::Cmd::isset;
  } else if (cmd == "isnotset") {
    fb.cmd = Flowbit::Cmd::isnotset;
  } else if (cmd == "noalert") {
    fb.cmd = Flowbit::Cmd::noalert;
    if (comma != std::string_view::npos) fail("flowbits", "noalert takes no name");
    return fb;
  } else {
    fail("flowbits", "unsupported command '" + shown(cmd) + "'");
  }
  if (comma == std::string_view::npos) fail("flowbits", "no name");
  const auto names = trim(v.substr(comma + 1));
  const bool has_or = names.find('|') != std::string_view::npos;
  const bool has_and = names.find('&') != std::string_view::npos;
  if (has_or && has_and) fail("flowbits", "'|' and '&' mixed");
  if (has_or && fb.cmd != Flowbit::Cmd::isset && fb.cmd != Flowbit::Cmd::isnotset) {
    fail("flowbits", "'|' only with isset and isnotset");
  }
  fb.any = has_or;
  for (auto n : split_list(names, has_or ? '|' : '&')) {
    if (!valid_flowbit_name(n)) fail("flowbits", "bad name '" + shown(n) + "'");
    fb.names.emplace_back(n);
  }
  return fb;
}

// The parser's state between options: the buffer the next content, pcre or
// byte test goes to, and the content the next modifier applies to.
struct Builder {
  Rule& r;
  std::optional<Buffer> sticky;                           // the sticky buffer named last
  std::vector<Transform> transforms;                      // the transforms after it
  std::optional<size_t> list;                             // its BufferInspect, once it has one
  std::optional<std::pair<size_t, size_t>> last_content;  // (list, detect)
  std::optional<std::pair<size_t, size_t>> last_detect;

  size_t list_for(Buffer b, const std::vector<Transform>& t) {
    for (size_t i = 0; i < r.buffers.size(); ++i) {
      if (r.buffers[i].buffer == b && r.buffers[i].transforms == t) return i;
    }
    r.buffers.push_back(BufferInspect{b, t, {}, std::nullopt});
    return r.buffers.size() - 1;
  }
  size_t current() {
    if (!list) list = list_for(sticky.value_or(Buffer::payload), transforms);
    return *list;
  }
  void add(Detect d, std::optional<Buffer> forced = std::nullopt) {
    size_t l;
    if (forced && (!sticky || *sticky == Buffer::payload)) {
      l = list_for(*forced, {});
    } else {
      if (forced && sticky && *sticky != *forced)
        fail("pcre", "buffer flag and sticky buffer differ");
      l = current();
    }
    const bool is_content = std::holds_alternative<Content>(d);
    r.buffers[l].detects.push_back(std::move(d));
    last_detect = {l, r.buffers[l].detects.size() - 1};
    if (is_content) last_content = last_detect;
  }
  Content& content(std::string_view keyword) {
    if (!last_content) fail(std::string(keyword), "no content before it");
    return std::get<Content>(r.buffers[last_content->first].detects[last_content->second]);
  }
};

void check_content(const Content& c, std::string_view keyword) {
  const bool absolute = c.offset || c.depth || c.startswith;
  if (absolute && c.relative()) {
    fail(std::string(keyword), "absolute (offset/depth/startswith) and relative (distance/within)");
  }
  if (c.startswith && (c.offset || c.depth))
    fail(std::string(keyword), "startswith and offset/depth");
  if (c.depth && *c.depth < c.bytes.size()) {
    fail(std::string(keyword), "depth shorter than the content");
  }
  if (c.within && *c.within >= 0 && static_cast<size_t>(*c.within) < c.bytes.size()) {
    fail(std::string(keyword), "within shorter than the content");
  }
  if (c.within && *c.within < 0) fail(std::string(keyword), "negative within");
  if (c.fp_offset && c.fp_length &&
      static_cast<uint64_t>(*c.fp_offset) + *c.fp_length > c.bytes.size()) {
    fail(std::string(keyword), "fast_pattern chop beyond the content");
  }
}

void parse_option(const Option& o, Builder& b) {
  Rule& r = b.r;
  const std::string_view k = o.name;
  const std::string_view v = o.value;
  auto need_value = [&] {
    if (!o.has_value || v.empty()) fail(std::string(k), "needs a value");
  };
  auto no_value = [&] {
    if (o.has_value) fail(std::string(k), "takes no value");
  };

  if (k == "msg") {
    need_value();
    r.msg = unescape(unquote(v, k), k);
  } else if (k == "sid") {
    need_value();
    r.sid = num<uint32_t>(v, k);
    if (r.sid == 0) fail("sid", "sid 0");
  } else if (k == "rev") {
    need_value();
    r.rev = num<uint32_t>(v, k);
  } else if (k == "gid") {
    need_value();
    r.gid = num<uint32_t>(v, k);
  } else if (k == "classtype") {
    need_value();
    r.classtype = std::string(v);
  } else if (k == "priority") {
    need_value();
    r.priority = num<uint32_t>(v, k);
    if (*r.priority < 1 || *r.priority > 255) fail("priority", "out of range 1-255");
  } else if (k == "reference") {
    need_value();
    const auto comma = v.find(',');
    if (comma == std::string_view::npos) fail("reference", "expected 'type,value'");
    r.references.emplace_back(std::string(trim(v.substr(0, comma))),
                              std::string(trim(v.substr(comma + 1))));
  } else if (k == "metadata") {
    need_value();
    for (auto item : split_list(v)) {
      if (item.empty()) continue;
      const auto sp = item.find_first_of(" \t");
      if (sp == std::string_view::npos) {
        r.metadata.emplace_back(std::string(item), "");
      } else {
        r.metadata.emplace_back(std::string(item.substr(0, sp)),
                                std::string(trim(item.substr(sp))));
      }
    }
  } else if (k == "target") {
    need_value();
    if (v != "src_ip" && v != "dest_ip") fail("target", "expected src_ip or dest_ip");
    r.target = std::string(v);
  } else if (k == "flow") {
    need_value();
    if (r.flow) fail("flow", "given twice");
    r.flow = parse_flow(v);
  } else if (k == "content") {
    need_value();
    Content c;
    auto val = v;
    if (val.starts_with("!")) {
      c.negated = true;
      val = trim(val.substr(1));
    }
    c.bytes = decode_content(unquote(val, k));
    b.add(std::move(c));
  } else if (k == "nocase") {
    no_value();
    b.content(k).nocase = true;
  } else if (k == "rawbytes") {
    no_value();
    b.content(k);  // the buffers are raw bytes already
  } else if (k == "depth" || k == "offset") {
    need_value();
    auto& c = b.content(k);
    auto& field = k == "depth" ? c.depth : c.offset;
    if (field) fail(std::string(k), "given twice");
    field = num<uint32_t>(v, k);
    if (k == "depth" && *field == 0) fail("depth", "depth 0");
    check_content(c, k);
  } else if (k == "distance" || k == "within") {
    need_value();
    auto& c = b.content(k);
    auto& field = k == "distance" ? c.distance : c.within;
    if (field) fail(std::string(k), "given twice");
    field = num<int32_t>(v, k);
    check_content(c, k);
  } else if (k == "startswith" || k == "endswith") {
    no_value();
    auto& c = b.content(k);
    (k == "startswith" ? c.startswith : c.endswith) = true;
    check_content(c, k);
  } else if (k == "fast_pattern") {
    auto& c = b.content(k);
    c.fast_pattern = true;
    if (o.has_value) {
      if (v == "only") {
        c.fast_pattern_only = true;
      } else {
        const auto f = split_list(v);
        if (f.size() != 2) fail("fast_pattern", "expected 'only' or 'offset,length'");
        c.fp_offset = num<uint32_t>(f[0], k);
        c.fp_length = num<uint32_t>(f[1], k);
        if (*c.fp_length == 0) fail("fast_pattern", "length 0");
        check_content(c, k);
      }
    }
  } else if (const auto legacy = legacy_modifier(k)) {
    no_value();
    if (!b.last_content || b.last_content != b.last_detect) {
      fail(std::string(k), "not right after a content");
    }
    auto [l, i] = *b.last_content;
    auto& from = r.buffers[l];
    if (from.buffer != Buffer::payload || !from.transforms.empty()) {
      fail(std::string(k),
           "after a content of sticky buffer " + std::string(buffer_name(from.buffer)));
    }
    Detect d = std::move(from.detects[i]);
    from.detects.erase(from.detects.begin() + static_cast<ptrdiff_t>(i));
    // list_for may grow r.buffers: `from` is not to be used after it.
    const size_t to = b.list_for(*legacy, {});
    r.buffers[to].detects.push_back(std::move(d));
    b.last_content = b.last_detect = std::pair{to, r.buffers[to].detects.size() - 1};
    // The payload list left empty by the move is no list at all.
    if (r.buffers[l].detects.empty() && !r.buffers[l].bsize) {
      r.buffers.erase(r.buffers.begin() + static_cast<ptrdiff_t>(l));
      const size_t moved_to = to > l ? to - 1 : to;
      b.last_content = b.last_detect = std::pair{moved_to, r.buffers[moved_to].detects.size() - 1};
      if (b.list) {
        if (*b.list == l) {
          b.list.reset();
        } else if (*b.list > l) {
          --*b.list;
        }
      }
    }
  } else if (const auto sticky = sticky_buffer(k)) {
    no_value();
    b.sticky = *sticky;
    b.transforms.clear();
    b.list.reset();
  } else if (k == "to_lowercase" || k == "header_lowercase") {
    no_value();
    if (!b.sticky || *b.sticky == Buffer::payload)
      fail(std::string(k), "no sticky buffer before it");
    if (b.list) fail(std::string(k), "must follow the sticky buffer, before its contents");
    b.transforms.push_back(k == "to_lowercase" ? Transform::to_lowercase
                                               : Transform::header_lowercase);
  } else if (k == "pcre") {
    need_value();
    std::optional<Buffer> buffer;
    auto p = parse_pcre(v, buffer);
    b.add(std::move(p), buffer);
  } else if (k == "byte_test") {
    need_value();
    b.add(parse_byte_test(v));
  } else if (k == "byte_jump") {
    need_value();
    b.add(parse_byte_jump(v));
  } else if (k == "isdataat") {
    need_value();
    IsDataAt d;
    auto f = split_list(v);
    auto n = f[0];
    if (n.starts_with("!")) {
      d.negated = true;
      n = trim(n.substr(1));
    }
    d.n = num<uint32_t>(n, k);
    for (size_t i = 1; i < f.size(); ++i) {
      if (f[i] == "relative") {
        d.relative = true;
      } else if (f[i] != "rawbytes") {
        fail("isdataat", "unknown flag '" + shown(f[i]) + "'");
      }
    }
    b.add(d);
  } else if (k == "bsize") {
    need_value();
    if (!b.sticky || *b.sticky == Buffer::payload) fail("bsize", "no sticky buffer before it");
    auto& l = r.buffers[b.current()];
    if (l.bsize) fail("bsize", "given twice");
    l.bsize = parse_int_check(v, k, UINT32_MAX);
  } else if (k == "dsize") {
    need_value();
    if (r.dsize) fail("dsize", "given twice");
    r.dsize = parse_int_check(v, k, 65535);
  } else if (k == "urilen") {
    need_value();
    if (r.urilen) fail("urilen", "given twice");
    auto f = split_list(v);
    if (f.size() > 2) fail("urilen", "too many fields");
    if (f.size() == 2) {
      if (f[1] == "raw") {
        r.urilen_raw = true;
      } else if (f[1] != "norm") {
        fail("urilen", "expected norm or raw, got '" + shown(f[1]) + "'");
      }
    }
    r.urilen = parse_int_check(f[0], k, UINT32_MAX);
  } else if (k == "itype" || k == "icode") {
    need_value();
    auto& field = k == "itype" ? r.itype : r.icode;
    if (field) fail(std::string(k), "given twice");
    field = parse_int_check(v, k, 255);
  } else if (k == "flags") {
    need_value();
    if (r.flags) fail("flags", "given twice");
    r.flags = parse_flags(v);
  } else if (k == "flowbits") {
    need_value();
    auto fb = parse_flowbits(v);
    if (fb.cmd == Flowbit::Cmd::noalert) {
      r.noalert = true;
    } else {
      r.flowbits.push_back(std::move(fb));
    }
  } else if (k == "threshold" || k == "detection_filter") {
    need_value();
    if (r.threshold) fail(std::string(k), "a second threshold or detection_filter");
    r.threshold = parse_threshold(v, k == "detection_filter");
  } else if (k == "app-layer-protocol") {
    need_value();
    auto val = v;
    if (val.starts_with("!")) fail("app-layer-protocol", "negation unsupported");
    static constexpr std::pair<const char*, AppProto> kApps[] = {
        {"http", AppProto::http}, {"http1", AppProto::http}, {"tls", AppProto::tls},
        {"ssh", AppProto::ssh},   {"smtp", AppProto::smtp},  {"ftp", AppProto::ftp},
        {"pop3", AppProto::pop3}, {"imap", AppProto::imap},  {"dns", AppProto::dns}};
    bool found = false;
    for (const auto& [name, app] : kApps) {
      if (val == name) {
        if (r.app != AppProto::unknown && r.app != app) {
          fail("app-layer-protocol", "differs from the rule's protocol");
        }
        r.app = app;
        found = true;
      }
    }
    if (!found) fail("app-layer-protocol", "unsupported protocol '" + shown(val) + "'");
  } else if (k == "tag") {
    // Tagging the flow's next packets is a capture feature; the alert stays.
  } else if (k == "noalert") {
    no_value();
    r.noalert = true;
  } else {
    fail(std::string(k), "unsupported keyword '" + shown(k) + "'");
  }
}

// The sid, read ahead so that an error in an option before it still names
// the rule.
uint32_t find_sid(std::string_view text) {
  size_t pos = 0;
  while ((pos = text.find("sid", pos)) != std::string_view::npos) {
    const bool start =
        pos == 0 || text[pos - 1] == ';' || text[pos - 1] == '(' || is_space(text[pos - 1]);
    size_t i = pos + 3;
    while (i < text.size() && is_space(text[i])) ++i;
    if (start && i < text.size() && text[i] == ':') {
      ++i;
      while (i < text.size() && is_space(text[i])) ++i;
      uint32_t sid = 0;
      const auto r = std::from_chars(text.data() + i, text.data() + text.size(), sid);
      if (r.ec == std::errc()) return sid;
    }
    pos += 3;
  }
  return 0;
}

void finish(Rule& r) {
  if (r.sid == 0) fail("sid", "no sid");
  for (auto& l : r.buffers) {
    // A relative keyword at the start of a buffer counts from its start,
    // as in Suricata; nothing to fix. Contents must not be all fast_pattern.
    int fp = 0;
    for (const auto& d : l.detects) {
      if (const auto* c = std::get_if<Content>(&d); c && c->fast_pattern) ++fp;
    }
    if (fp > 1) fail("fast_pattern", "on two contents of one buffer");
  }
  int fp = 0;
  for (const auto& l : r.buffers) {
    for (const auto& d : l.detects) {
      if (const auto* c = std::get_if<Content>(&d); c && c->fast_pattern) ++fp;
    }
  }
  if (fp > 1) fail("fast_pattern", "on two contents");
  if ((r.itype || r.icode) && r.transport != Transport::icmp && r.transport != Transport::any) {
    fail(r.itype ? "itype" : "icode", "on a rule for " + r.protocol);
  }
  if (r.flags && r.transport != Transport::tcp && r.transport != Transport::any) {
    fail("flags", "on a rule for " + r.protocol);
  }
}

}  // namespace

RuleError::RuleError(uint32_t sid_, std::string keyword_, const std::string& message)
    : std::runtime_error((sid_ ? "sid " + std::to_string(sid_) : std::string("sid unknown")) +
                         ": " + message),
      sid(sid_),
      keyword(std::move(keyword_)),
      detail(message) {}

Variables Variables::defaults() {
  Variables v;
  v.addresses["HOME_NET"] = "any";
  v.addresses["EXTERNAL_NET"] = "any";
  for (const char* s : {"HTTP_SERVERS", "SMTP_SERVERS", "SQL_SERVERS", "DNS_SERVERS",
                        "TELNET_SERVERS", "AIM_SERVERS", "DC_SERVERS", "DNP3_SERVER", "DNP3_CLIENT",
                        "MODBUS_CLIENT", "MODBUS_SERVER", "ENIP_CLIENT", "ENIP_SERVER"}) {
    v.addresses[s] = "$HOME_NET";
  }
  v.ports = {{"HTTP_PORTS", "80"},
             {"SHELLCODE_PORTS", "!80"},
             {"ORACLE_PORTS", "1521"},
             {"SSH_PORTS", "22"},
             {"DNP3_PORTS", "20000"},
             {"MODBUS_PORTS", "502"},
             {"FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"},
             {"FTP_PORTS", "21"},
             {"GENEVE_PORTS", "6081"},
             {"VXLAN_PORTS", "4789"},
             {"TEREDO_PORTS", "3544"},
             {"SIP_PORTS", "[5060,5061]"}};
  return v;
}

bool AddressSpec::matches(uint8_t fam, const std::array<uint8_t, 16>& a) const {
  bool m = false;
  switch (kind) {
    case Kind::any:
      m = true;
      break;
    case Kind::network:
      if (fam == family) {
        m = true;
        const int full = prefix / 8, rest = prefix % 8;
        if (std::memcmp(a.data(), addr.data(), static_cast<size_t>(full)) != 0) {
          m = false;
        } else if (rest) {
          const auto mask = static_cast<uint8_t>(0xff00 >> rest);
          m = (a[static_cast<size_t>(full)] & mask) == addr[static_cast<size_t>(full)];
        }
      }
      break;
    case Kind::list: {
      bool positive = false, any_positive = false, excluded = false;
      for (const auto& e : list) {
        if (e.negated) {
          // A negated member excludes what it names (its own match is inverted).
          excluded = excluded || !e.matches(fam, a);
        } else {
          any_positive = true;
          positive = positive || e.matches(fam, a);
        }
      }
      m = (!any_positive || positive) && !excluded;
      break;
    }
  }
  return negated ? !m : m;
}

bool PortSpec::matches(uint16_t port) const {
  bool m = false;
  switch (kind) {
    case Kind::any:
      m = true;
      break;
    case Kind::range:
      m = port >= lo && port <= hi;
      break;
    case Kind::list: {
      bool positive = false, any_positive = false, excluded = false;
      for (const auto& e : list) {
        if (e.negated) {
          excluded = excluded || !e.matches(port);
        } else {
          any_positive = true;
          positive = positive || e.matches(port);
        }
      }
      m = (!any_positive || positive) && !excluded;
      break;
    }
  }
  return negated ? !m : m;
}

bool IntCheck::matches(uint64_t v) const {
  switch (op) {
    case Op::eq:
      return v == a;
    case Op::ne:
      return v != a;
    case Op::lt:
      return v < a;
    case Op::gt:
      return v > a;
    case Op::le:
      return v <= a;
    case Op::ge:
      return v >= a;
    case Op::range:
      return v > a && v < b;
  }
  return false;
}

bool FlagsOpt::matches(uint8_t f) const {
  f = static_cast<uint8_t>(f & ~ignore);
  switch (mod) {
    case Mod::exact:
      return f == bits;
    case Mod::plus:
      return (f & bits) == bits;
    case Mod::any:
      return (f & bits) != 0;
    case Mod::not_:
      return (f & bits) != bits;
  }
  return false;
}

std::string_view Rule::meta(std::string_view key) const {
  for (const auto& [k, v] : metadata) {
    if (k == key) return v;
  }
  return {};
}

Rule parse_rule(std::string_view text, const Variables& vars) {
  const uint32_t sid = find_sid(text);
  try {
    if (text.size() > kMaxRuleLength) {
      fail("rule", "longer than " + std::to_string(kMaxRuleLength) + " bytes");
    }
    text = trim(text);
    Rule r;
    r.text = std::string(text);
    const auto open = text.find('(');
    const auto close = text.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
      fail("header", "no '(options)'");
    }
    if (!trim(text.substr(close + 1)).empty()) fail("options", "text after the closing ')'");
    const auto h = header_tokens(text.substr(0, open));
    if (h.size() != 7) fail("header", "expected 'action proto src sport -> dst dport'");
    if (h[0] == "alert") {
      r.action = Action::alert;
    } else if (h[0] == "drop") {
      r.action = Action::drop;
    } else if (h[0] == "reject") {
      r.action = Action::reject;
    } else if (h[0] == "pass") {
      r.action = Action::pass;
    } else {
      fail("action", "unsupported action '" + shown(h[0]) + "'");
    }
    parse_protocol(h[1], r);
    r.src = parse_address(h[2], vars, 0);
    r.sport = parse_port(h[3], vars, 0);
    if (h[4] == "<>") {
      r.bidirectional = true;
    } else if (h[4] != "->") {
      fail("header", "bad direction '" + shown(h[4]) + "'");
    }
    r.dst = parse_address(h[5], vars, 0);
    r.dport = parse_port(h[6], vars, 0);

    const auto body = text.substr(open + 1, close - open - 1);
    if (!body.empty() && trim(body).back() != ';') fail("options", "last option without ';'");
    Builder b{r, {}, {}, {}, {}, {}};
    for (const auto& o : split_options(body)) parse_option(o, b);
    finish(r);
    return r;
  } catch (const Fail& f) {
    throw RuleError(
        sid, f.keyword,
        f.detail.starts_with("unsupported keyword") ? f.detail : f.keyword + ": " + f.detail);
  }
}

LoadResult load_rules(std::string_view file, const Variables& vars) {
  LoadResult out;
  size_t line_no = 0, pos = 0;
  std::string rule;
  while (pos < file.size()) {
    // One logical line: physical lines joined while they end in '\'.
    rule.clear();
    const size_t first_line = line_no + 1;
    bool too_long = false;
    while (pos < file.size()) {
      const auto nl = file.find('\n', pos);
      auto line =
          file.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
      pos = nl == std::string_view::npos ? file.size() : nl + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      const bool cont = !line.empty() && line.back() == '\\';
      if (cont) line.remove_suffix(1);
      if (rule.size() + line.size() > kMaxRuleLength) {
        too_long = true;
      } else {
        rule += line;
      }
      if (!cont) break;
    }
    const auto t = trim(rule);
    if (t.empty() || t.front() == '#') continue;
    try {
      if (too_long) {
        throw RuleError(find_sid(rule), "rule",
                        "rule: longer than " + std::to_string(kMaxRuleLength) + " bytes");
      }
      out.rules.push_back(parse_rule(t, vars));
    } catch (const RuleError& e) {
      out.refused.push_back(Refusal{first_line, e.sid, e.keyword,
                                    "line " + std::to_string(first_line) + ": " + e.what()});
    }
  }
  return out;
}

std::string_view buffer_name(Buffer b) {
  static constexpr std::array<const char*, kBufferCount> kNames = {"pkt_data",
                                                                   "http.method",
                                                                   "http.uri",
                                                                   "http.uri.raw",
                                                                   "http.protocol",
                                                                   "http.request_line",
                                                                   "http.start",
                                                                   "http.header",
                                                                   "http.header.raw",
                                                                   "http.header_names",
                                                                   "http.request_header",
                                                                   "http.host",
                                                                   "http.host.raw",
                                                                   "http.user_agent",
                                                                   "http.cookie",
                                                                   "http.content_type",
                                                                   "http.accept",
                                                                   "http.referer",
                                                                   "http.request_body",
                                                                   "http.stat_code",
                                                                   "http.stat_msg",
                                                                   "http.response_line",
                                                                   "http.response_header",
                                                                   "http.server",
                                                                   "http.location",
                                                                   "http.response_body",
                                                                   "tls.sni",
                                                                   "dns.query",
                                                                   "ssh.proto",
                                                                   "ssh.software"};
  const auto i = static_cast<size_t>(b);
  return i < kNames.size() ? kNames[i] : "?";
}

std::string_view action_name(Action a) {
  switch (a) {
    case Action::alert:
      return "alert";
    case Action::drop:
      return "drop";
    case Action::reject:
      return "reject";
    case Action::pass:
      return "pass";
  }
  return "?";
}

}  // namespace rampart::ids

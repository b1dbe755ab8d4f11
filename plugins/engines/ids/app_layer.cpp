// SPDX-License-Identifier: Apache-2.0
#include "app_layer.hpp"

#include <algorithm>
#include <cstring>

namespace rampart::ids {

namespace {

constexpr size_t npos = std::string_view::npos;
constexpr size_t kMaxChunkLine = 1024;  // "ffffffff;ext=..." CRLF: longer is not a size line
constexpr size_t kProbeBytes = 16;      // enough for every prefix detect_proto knows
constexpr size_t kSshMaxLine = 255;     // RFC 4253 §4.2, CR LF included

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// RFC 9110 tchar: what a method or a header name is made of.
bool is_tchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Span span_of(std::string_view whole, std::string_view part) {
  return Span{static_cast<uint32_t>(part.data() - whole.data()),
              static_cast<uint32_t>(part.size())};
}

// Methods a resynchronizing request parser accepts as a message start
// (any token is accepted at the start of a direction).
constexpr std::string_view kMethods[] = {
    "GET ",   "POST ",     "HEAD ",  "PUT ",  "DELETE ", "OPTIONS ", "PATCH ",  "CONNECT ",
    "TRACE ", "PROPFIND ", "MKCOL ", "COPY ", "MOVE ",   "LOCK ",    "UNLOCK ", "PROPPATCH "};

bool starts_message(std::string_view s, bool to_server) {
  if (!to_server) return s.substr(0, 5) == "HTTP/";
  for (auto m : kMethods)
    if (s.substr(0, m.size()) == m) return true;
  return false;
}

// "123" or "5, 5" (RFC 9110 §8.6: a list of equal values); anything else,
// or a value past 2^60, is invalid.
bool parse_content_length(std::string_view v, uint64_t& out) {
  bool have = false;
  uint64_t first = 0;
  while (true) {
    size_t comma = v.find(',');
    std::string_view item = trim(v.substr(0, comma));
    if (item.empty() || item.size() > 18) return false;
    uint64_t n = 0;
    for (char c : item) {
      if (c < '0' || c > '9') return false;
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (have && n != first) return false;
    first = n;
    have = true;
    if (comma == npos) break;
    v.remove_prefix(comma + 1);
  }
  out = first;
  return true;
}

// The Transfer-Encoding's last coding is chunked.
bool chunked_last(std::string_view v) {
  v = trim(v);
  size_t comma = v.rfind(',');
  if (comma != npos) v = trim(v.substr(comma + 1));
  return iequals(v, "chunked");
}

uint16_t rd16(std::string_view s, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(s[at]) << 8) |
                               static_cast<uint8_t>(s[at + 1]));
}

// Parses the header lines of `h.raw` (after the start line) into the
// derived strings. False when there are more than `max_headers`.
bool parse_headers(HttpHead& h, bool response, size_t max_headers, AppStats& st,
                   std::string& scratch) {
  const std::string_view raw = h.raw;
  size_t first_eol = raw.find('\n');
  std::string_view line = raw.substr(0, first_eol);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  h.line = span_of(raw, line);
  // The head ends with an empty line ("\r\n" or "\n"), which the raw headers leave out.
  size_t empty_line = raw.size() - (raw.size() >= 2 && raw[raw.size() - 2] == '\r' ? 2 : 1);
  size_t hstart = first_eol + 1;
  if (empty_line < hstart) empty_line = hstart;
  std::string_view block = raw.substr(hstart, empty_line - hstart);
  h.headers_raw = span_of(raw, block);
  if (raw.find('\0') != npos) st.add(Malformed::http_nul);

  h.names.assign("\r\n");
  size_t count = 0;
  bool too_many = false;
  // The header being read: its name, its value (a view of the head, or of
  // `scratch` once a folded line added to it), and its line as sent when
  // that is exactly "Name: value\r\n" (then the texts take the head's
  // bytes as they are).
  std::string_view cur_name, cur_value, cur_line;
  bool have = false, folded = false;
  auto flush = [&]() {
    if (!have) return;
    have = false;
    if (++count > max_headers) {
      too_many = true;
      return;
    }
    if (folded) cur_value = scratch;
    auto add_line = [&](HeadText& t) {
      if (!cur_line.empty() && !folded) {
        t.append(h.raw, cur_line);
        return;
      }
      t.append(h.raw, cur_name);
      t.append(h.raw, ": ");
      t.append(h.raw, cur_value);
      t.append(h.raw, "\r\n");
    };
    const size_t off = h.all.size();
    add_line(h.all);
    h.each.push_back(Span{static_cast<uint32_t>(off),
                          static_cast<uint32_t>(cur_name.size() + 2 + cur_value.size())});
    h.names.append(cur_name).append("\r\n");
    static constexpr std::string_view kNames[HttpHead::kNamed] = {
        "host",    "user-agent", "cookie",   "content-type",   "accept",
        "referer", "server",     "location", "content-length", "transfer-encoding"};
    int which = -1;
    for (int i = 0; i < HttpHead::kNamed && which < 0; ++i) {
      std::string_view want = kNames[i];
      if (i == HttpHead::cookie && response) want = "set-cookie";
      if (iequals(cur_name, want)) which = i;
    }
    if (which != HttpHead::cookie) add_line(h.header);
    if (which >= 0) {
      HeadText& v = h.named[static_cast<size_t>(which)];
      if (h.present(static_cast<HttpHead::Named>(which))) v.append(h.raw, ", ");
      v.append(h.raw, cur_value);
      h.has = static_cast<uint16_t>(h.has | (1u << which));
    }
  };
  size_t pos = 0;
  while (pos < block.size()) {
    size_t eol = block.find('\n', pos);
    if (eol == npos) eol = block.size();
    std::string_view l = block.substr(pos, eol - pos);
    pos = eol + 1;
    const bool crlf = !l.empty() && l.back() == '\r' && eol < block.size();
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) continue;
    if (l[0] == ' ' || l[0] == '\t') {
      // obs-fold: the value goes on, joined with one space (RFC 9112 §5.2).
      st.add(Malformed::http_folded_header);
      if (!have) continue;
      std::string_view t = trim(l);
      if (!t.empty()) {
        if (!folded) scratch.assign(cur_value);
        folded = true;
        if (!scratch.empty()) scratch.push_back(' ');
        scratch.append(t);
      }
      continue;
    }
    flush();
    size_t colon = l.find(':');
    if (colon == npos || colon == 0) {
      st.add(Malformed::http_bad_header);
      continue;
    }
    std::string_view name = l.substr(0, colon);
    if (name.back() == ' ' || name.back() == '\t') {
      // Whitespace before the colon: a smuggling tell (RFC 9112 §5.1).
      st.add(Malformed::http_bad_header);
      name = trim(name);
      if (name.empty()) continue;
    }
    cur_name = name;
    cur_value = trim(l.substr(colon + 1));
    folded = false;
    const bool as_sent = crlf && name.size() == colon && l.size() == colon + 2 + cur_value.size() &&
                         l[colon + 1] == ' ';
    cur_line = as_sent ? std::string_view(l.data(), l.size() + 2) : std::string_view();
    have = true;
  }
  flush();
  h.names.append("\r\n");
  return !too_many;
}

}  // namespace

const char* malformed_name(Malformed m) {
  static constexpr const char* kNames[kMalformedCount] = {"http_request_line",
                                                          "http_response_line",
                                                          "http_head_too_large",
                                                          "http_too_many_headers",
                                                          "http_bad_header",
                                                          "http_folded_header",
                                                          "http_nul",
                                                          "http_bad_content_length",
                                                          "http_cl_and_te",
                                                          "http_bad_transfer_encoding",
                                                          "http_bad_chunk",
                                                          "http_gap",
                                                          "http_pending_overflow",
                                                          "tls_bad_record",
                                                          "tls_bad_hello",
                                                          "tls_hello_too_large",
                                                          "tls_gap",
                                                          "dns_bad_message",
                                                          "dns_pointer_loop",
                                                          "dns_truncated",
                                                          "ssh_bad_banner"};
  size_t i = static_cast<size_t>(m);
  return i < kMalformedCount ? kNames[i] : "unknown";
}

uint64_t AppStats::total() const {
  uint64_t t = 0;
  for (uint64_t v : malformed) t += v;
  return t;
}

void AppStats::merge(const AppStats& o) {
  for (size_t i = 0; i < kMalformedCount; ++i) malformed[i] += o.malformed[i];
}

void HeadText::append(const std::string& raw, std::string_view v) {
  if (!owned) {
    const auto b = reinterpret_cast<uintptr_t>(raw.data());
    const auto p = reinterpret_cast<uintptr_t>(v.data());
    if (p >= b && p + v.size() <= b + raw.size() && (at.len == 0 || p == b + at.off + at.len)) {
      if (at.len == 0) at.off = static_cast<uint32_t>(p - b);
      at.len += static_cast<uint32_t>(v.size());
      return;
    }
    own.assign(at.in(raw));
    owned = true;
  }
  own.append(v);
}

void HttpHead::clear() {
  raw.clear();
  line = headers_raw = Span{};
  header.clear();
  all.clear();
  names.clear();
  each.clear();
  for (auto& n : named) n.clear();
  has = 0;
}

namespace {
void recycle_string(std::string& s) {
  if (s.capacity() > HttpPool::kKeepCapacity) {
    std::string().swap(s);
  } else {
    s.clear();
  }
}
}  // namespace

void HttpHead::recycle() {
  clear();
  for (std::string* s : {&raw, &header.own, &all.own, &names}) recycle_string(*s);
  for (auto& n : named) recycle_string(n.own);
  if (each.capacity() > HttpPool::kKeepCapacity / sizeof(Span)) std::vector<Span>().swap(each);
}

void HttpRequest::recycle() {
  id = 0;
  head.recycle();
  method = uri_raw = protocol = Span{};
  recycle_string(uri);
  recycle_string(host);
  has_host = false;
  recycle_string(body);
  had_body = false;
  header_views.clear();
}

HttpPool::HttpPool() = default;
HttpPool::~HttpPool() = default;

std::unique_ptr<HttpParser> HttpPool::parser(const AppLimits& limits) {
  if (parsers_.empty()) return std::make_unique<HttpParser>(limits, this);
  std::unique_ptr<HttpParser> p = std::move(parsers_.back());
  parsers_.pop_back();
  p->limits_ = limits;  // (made as new when it was given back)
  p->pool_ = this;
  return p;
}

void HttpPool::put(std::unique_ptr<HttpParser> p) {
  if (!p || parsers_.size() >= kParsers) return;
  p->reset();  // its requests come back here now, not when it is reused
  p->pool_ = nullptr;
  parsers_.push_back(std::move(p));
}

std::unique_ptr<HttpRequest> HttpPool::request() {
  if (requests_.empty()) return std::make_unique<HttpRequest>();
  std::unique_ptr<HttpRequest> r = std::move(requests_.back());
  requests_.pop_back();
  return r;
}

void HttpPool::put(std::unique_ptr<HttpRequest> r) {
  if (!r || requests_.size() >= kRequests) return;
  r->recycle();
  requests_.push_back(std::move(r));
}

// ---------------------------------------------------------------- URI, host

void normalize_uri(std::string_view raw, std::string& out) {
  out.clear();
  std::string_view p = raw;
  // Absolute form (a proxy request): http_uri is the path and query.
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (istarts_with(p, scheme)) {
      p.remove_prefix(scheme.size());
      size_t path = p.find_first_of("/?");
      p = path == npos ? std::string_view("/") : p.substr(path);
      break;
    }
  }
  size_t q = p.find('?');
  std::string_view path = p.substr(0, q);
  std::string_view query = q == npos ? std::string_view() : p.substr(q);
  auto decode_into = [](std::string_view in, std::string& o) {
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '%' && i + 2 < in.size()) {
        int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
        if (hi >= 0 && lo >= 0) {
          o.push_back(static_cast<char>(hi * 16 + lo));
          i += 2;
          continue;
        }
      }
      o.push_back(in[i]);
    }
  };
  if (path.empty() || path[0] != '/') {
    // "*" (OPTIONS) or "host:port" (CONNECT): no segments to resolve.
    decode_into(path, out);
  } else {
    std::string decoded;
    decoded.reserve(path.size());
    decode_into(path, decoded);
    // remove_dot_segments (RFC 3986 §5.2.4), with empty segments dropped.
    std::string_view d = decoded;
    std::vector<size_t> starts;  // where each kept segment's '/' is in `out`
    bool trailing = false;
    size_t i = 1;
    while (true) {
      size_t j = d.find('/', i);
      bool last = j == npos;
      std::string_view seg = d.substr(i, last ? npos : j - i);
      if (seg.empty() || seg == ".") {
        trailing = last;
      } else if (seg == "..") {
        if (!starts.empty()) {
          out.resize(starts.back());
          starts.pop_back();
        }
        trailing = last;
      } else {
        starts.push_back(out.size());
        out.push_back('/');
        out.append(seg);
        trailing = false;
      }
      if (last) break;
      i = j + 1;
    }
    if (trailing || out.empty()) out.push_back('/');
  }
  decode_into(query, out);
}

void normalize_host(std::string_view raw, std::string& out) {
  std::string_view h = trim(raw);
  if (!h.empty() && h[0] == '[') {
    size_t close = h.find(']');
    if (close != npos) h = h.substr(0, close + 1);
  } else {
    h = h.substr(0, h.find(':'));
  }
  out.clear();
  for (char c : h) out.push_back(lower(c));
}

// ---------------------------------------------------------------- HTTP

HttpParser::~HttpParser() {
  if (pool_) {
    for (auto& r : pending_) pool_->put(std::move(r));
  }
}

void HttpParser::reset() {
  while (!pending_.empty()) pop_request(false);
  for (Dir& d : dir_) {
    std::string buf = std::move(d.buf);
    recycle_string(buf);
    d = Dir{};
    d.buf = std::move(buf);
  }
  orphans_ = 0;
  resp_paired_ = false;
  resp_.head.recycle();
  resp_.protocol = resp_.code = resp_.msg = Span{};
  resp_.status = 0;
  recycle_string(resp_.body);
  resp_.had_body = false;
  cur_req_ = nullptr;
  transactions_ = 0;
  requests_ = 0;
  no_request_had_body_ = false;
  recycle_string(scratch_);
}

void HttpParser::pop_request(bool front) {
  auto it = front ? pending_.begin() : pending_.end() - 1;
  if (cur_req_ == it->get()) cur_req_ = nullptr;
  if (pool_) pool_->put(std::move(*it));
  pending_.erase(it);
}

std::string& HttpParser::body_of(bool to_server) {
  return to_server && cur_req_ ? cur_req_->body : resp_.body;
}

bool& HttpParser::had_body_of(bool to_server) {
  if (!to_server) return resp_.had_body;
  return cur_req_ ? cur_req_->had_body : no_request_had_body_;
}

void HttpParser::data(bool to_server, std::string_view bytes, AppStats& stats,
                      FnRef<void(HttpEvent)> on) {
  run(to_server, bytes, stats, on);
}

void HttpParser::give_up(bool ts, AppStats& st, Malformed why) {
  st.add(why);
  Dir& d = dir_[ts];
  bool in_body = d.st != St::head && d.st != St::resync && d.st != St::tunnel;
  if (!ts && in_body) message_end(false);  // the response is over: keep the pairing in step
  if (ts) cur_req_ = nullptr;
  d = Dir{};
  d.st = St::resync;
}

void HttpParser::body_bytes(bool ts, std::string_view b, FnRef<void(HttpEvent)> on) {
  if (b.empty() || (ts && !cur_req_)) return;
  Dir& d = dir_[ts];
  had_body_of(ts) = true;
  if (!d.keep) return;
  std::string& body = body_of(ts);
  size_t room = limits_.http_max_body > body.size() ? limits_.http_max_body - body.size() : 0;
  body.append(b.substr(0, room));
  if (body.size() >= limits_.http_max_body) {
    // The limit: the body is inspected as it is now, the rest only framed.
    d.keep = false;
    if (!d.body_reported && (!ts || cur_req_)) {
      d.body_reported = true;
      on(ts ? HttpEvent::request_body : HttpEvent::response_body);
    }
  }
}

void HttpParser::body_end(bool ts, FnRef<void(HttpEvent)> on) {
  Dir& d = dir_[ts];
  if (d.body_reported || !had_body_of(ts)) return;
  if (ts && !cur_req_) return;
  d.body_reported = true;
  on(ts ? HttpEvent::request_body : HttpEvent::response_body);
}

void HttpParser::message_end(bool ts) {
  Dir& d = dir_[ts];
  if (ts) {
    // The request stays in pending_ until its response ends; free its body now.
    if (cur_req_) std::string().swap(cur_req_->body);
    cur_req_ = nullptr;
  } else if (resp_.status >= 200 || resp_.status == 101) {
    if (resp_paired_ && !pending_.empty()) {
      pop_request(true);
    } else if (orphans_ > 0) {
      --orphans_;
    }
    resp_paired_ = false;
    ++transactions_;
  } else {
    resp_paired_ = false;  // 1xx: the request waits for its final response
  }
  St next = d.st == St::tunnel ? St::tunnel : St::head;
  d = Dir{};
  d.st = next;
}

size_t HttpParser::consume_head(bool ts, std::string_view b, AppStats& st,
                                FnRef<void(HttpEvent)> on) {
  Dir& d = dir_[ts];
  size_t i = 0;
  if (d.buf.empty()) {
    // Empty lines between messages are skipped (RFC 9112 §2.2).
    while (i < b.size() && (b[i] == '\r' || b[i] == '\n')) ++i;
    if (i == b.size()) return i;
  }
  size_t old = d.buf.size();
  size_t room = limits_.http_max_head > old ? limits_.http_max_head - old : 0;
  size_t take = std::min(b.size() - i, room);
  d.buf.append(b.substr(i, take));
  std::string_view buf = d.buf;

  // Junk is refused on its first bytes rather than gathered up to the limit.
  if (ts) {
    size_t sp = buf.find_first_of(" \t");
    std::string_view method = buf.substr(0, sp);
    bool ok = method.size() <= 32 && (sp != npos || method.size() < 32);
    for (char c : method) ok = ok && is_tchar(static_cast<unsigned char>(c));
    if (sp == 0 || !ok) {
      give_up(ts, st, Malformed::http_request_line);
      return i + take;
    }
  } else {
    size_t n = std::min<size_t>(buf.size(), 5);
    if (buf.substr(0, n) != std::string_view("HTTP/").substr(0, n)) {
      give_up(ts, st, Malformed::http_response_line);
      return i + take;
    }
  }

  size_t from = old >= 3 ? old - 3 : 0;
  size_t end = npos;
  for (size_t p = buf.find('\n', from); p != npos; p = buf.find('\n', p + 1)) {
    if (p + 1 < buf.size() && buf[p + 1] == '\n') {
      end = p + 2;
      break;
    }
    if (p + 2 < buf.size() && buf[p + 1] == '\r' && buf[p + 2] == '\n') {
      end = p + 3;
      break;
    }
  }
  if (end == npos) {
    if (d.buf.size() >= limits_.http_max_head) {
      give_up(ts, st, Malformed::http_head_too_large);
    }
    return i + take;
  }
  size_t used = end - old;  // of the bytes appended now; the rest is the body or the next message
  d.buf.resize(end);
  head_done(ts, st, on);
  return i + used;
}

bool HttpParser::head_done(bool ts, AppStats& st, FnRef<void(HttpEvent)> on) {
  Dir& d = dir_[ts];
  if (ts) {
    pending_.push_back(pool_ ? pool_->request() : std::make_unique<HttpRequest>());
    if (pending_.size() > std::max<size_t>(limits_.http_max_pending, 2)) {
      st.add(Malformed::http_pending_overflow);
      if (resp_paired_) {
        resp_paired_ = false;  // the response in progress owned it
      } else {
        ++orphans_;
      }
      pop_request(true);
    }
    HttpRequest& r = *pending_.back();
    r.id = ++requests_;
    r.head.raw.swap(d.buf);  // (d.buf takes the recycled request's buffer)
    d.buf.clear();
    if (!parse_headers(r.head, false, limits_.http_max_headers, st, scratch_)) {
      pop_request(false);
      give_up(ts, st, Malformed::http_too_many_headers);
      return false;
    }
    std::string_view raw = r.head.raw;
    std::string_view line = r.head.line.in(r.head.raw);
    size_t sp1 = line.find_first_of(" \t");
    size_t sp2 = line.find_last_of(" \t");
    std::string_view proto = sp2 == npos ? std::string_view() : line.substr(sp2 + 1);
    std::string_view uri =
        (sp1 == npos || sp2 <= sp1) ? std::string_view() : trim(line.substr(sp1, sp2 - sp1));
    if (sp1 == npos || uri.empty() || proto.substr(0, 5) != "HTTP/") {
      pop_request(false);
      give_up(ts, st, Malformed::http_request_line);
      return false;
    }
    r.method = span_of(raw, line.substr(0, sp1));
    r.uri_raw = span_of(raw, uri);
    r.protocol = span_of(raw, proto);
    normalize_uri(uri, r.uri);
    if (r.head.present(HttpHead::host)) {
      normalize_host(r.head.value(HttpHead::host), r.host);
      r.has_host = true;
    } else if (istarts_with(uri, "http://") || istarts_with(uri, "https://")) {
      std::string_view a = uri.substr(uri.find("//") + 2);
      a = a.substr(0, a.find_first_of("/?"));
      a = a.substr(a.find('@') == npos ? 0 : a.find('@') + 1);
      normalize_host(a, r.host);
      r.has_host = true;
    }
    cur_req_ = &r;
    ++transactions_;
    on(HttpEvent::request_headers);
    if (cur_req_ == nullptr) return true;  // (the callback cannot end it; defensive)

    uint64_t len = 0;
    bool has_cl = r.head.present(HttpHead::content_length);
    bool has_te = r.head.present(HttpHead::transfer_encoding);
    if (has_te) {
      if (has_cl) st.add(Malformed::http_cl_and_te);
      if (!chunked_last(r.head.value(HttpHead::transfer_encoding))) {
        // A request's length cannot be known otherwise (RFC 9112 §6.3).
        give_up(ts, st, Malformed::http_bad_transfer_encoding);
        return false;
      }
      d.st = St::chunk_size;
      return true;
    }
    if (has_cl) {
      if (!parse_content_length(r.head.value(HttpHead::content_length), len)) {
        give_up(ts, st, Malformed::http_bad_content_length);
        return false;
      }
      if (len > 0) {
        d.st = St::body_length;
        d.remaining = len;
        return true;
      }
    }
    message_end(ts);
    return true;
  }

  // A response.
  resp_.head.clear();
  resp_.body.clear();
  resp_.had_body = false;
  resp_.status = 0;
  resp_.head.raw.swap(d.buf);
  d.buf.clear();
  if (!parse_headers(resp_.head, true, limits_.http_max_headers, st, scratch_)) {
    give_up(ts, st, Malformed::http_too_many_headers);
    return false;
  }
  std::string_view raw = resp_.head.raw;
  std::string_view line = resp_.head.line.in(resp_.head.raw);
  size_t sp1 = line.find_first_of(" \t");
  std::string_view proto = line.substr(0, sp1);
  std::string_view rest = sp1 == npos ? std::string_view() : trim(line.substr(sp1));
  size_t sp2 = rest.find_first_of(" \t");
  std::string_view code = rest.substr(0, sp2);
  std::string_view msg = sp2 == npos ? rest.substr(rest.size()) : trim(rest.substr(sp2));
  bool ok = code.size() == 3;
  for (char c : code) ok = ok && c >= '0' && c <= '9';
  if (!ok) {
    give_up(ts, st, Malformed::http_response_line);
    return false;
  }
  resp_.protocol = span_of(raw, proto);
  resp_.code = span_of(raw, code);
  resp_.msg = span_of(raw, msg);
  resp_.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  resp_paired_ = orphans_ == 0 && !pending_.empty();
  const HttpRequest* req = resp_paired_ ? pending_.front().get() : nullptr;
  std::string_view method = req ? req->method.in(req->head.raw) : std::string_view();
  on(HttpEvent::response_headers);

  int s = resp_.status;
  if (s == 101 || (method == "CONNECT" && s >= 200 && s < 300)) {
    // Another protocol (or a tunnel) follows on both sides.
    message_end(ts);
    dir_[0].st = dir_[1].st = St::tunnel;
    return true;
  }
  if ((s >= 100 && s < 200) || s == 204 || s == 304 || method == "HEAD") {
    message_end(ts);
    return true;
  }
  bool has_cl = resp_.head.present(HttpHead::content_length);
  bool has_te = resp_.head.present(HttpHead::transfer_encoding);
  if (has_te) {
    if (has_cl) st.add(Malformed::http_cl_and_te);
    if (chunked_last(resp_.head.value(HttpHead::transfer_encoding))) {
      d.st = St::chunk_size;
    } else {
      st.add(Malformed::http_bad_transfer_encoding);
      d.st = St::body_close;
    }
    return true;
  }
  if (has_cl) {
    uint64_t len = 0;
    if (!parse_content_length(resp_.head.value(HttpHead::content_length), len)) {
      give_up(ts, st, Malformed::http_bad_content_length);
      return false;
    }
    if (len == 0) {
      message_end(ts);
    } else {
      d.st = St::body_length;
      d.remaining = len;
    }
    return true;
  }
  d.st = St::body_close;
  return true;
}

void HttpParser::run(bool ts, std::string_view b, AppStats& st, FnRef<void(HttpEvent)> on) {
  while (!b.empty()) {
    Dir& d = dir_[ts];
    switch (d.st) {
      case St::tunnel:
        return;
      case St::resync: {
        size_t found = npos;
        for (size_t i = 0; i < b.size(); ++i) {
          // A message may start a line, or the bytes of a new segment (a
          // client usually starts a request on its own segment).
          bool at_line = i == 0 || b[i - 1] == '\n';
          if (at_line && starts_message(b.substr(i), ts)) {
            found = i;
            break;
          }
        }
        if (found == npos) {
          return;
        }
        d.st = St::head;
        d.buf.clear();
        b.remove_prefix(found);
        break;
      }
      case St::head:
        b.remove_prefix(consume_head(ts, b, st, on));
        break;
      case St::body_length:
      case St::chunk_data: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(d.remaining, b.size()));
        body_bytes(ts, b.substr(0, n), on);
        d.remaining -= n;
        b.remove_prefix(n);
        if (d.remaining == 0) {
          if (d.st == St::chunk_data) {
            d.st = St::chunk_crlf;
            d.buf.clear();
          } else {
            body_end(ts, on);
            message_end(ts);
          }
        }
        break;
      }
      case St::body_close:
        body_bytes(ts, b, on);
        return;
      case St::chunk_crlf: {
        char c = b[0];
        b.remove_prefix(1);
        if (c == '\r' && d.buf.empty()) {
          d.buf.push_back('\r');
        } else if (c == '\n') {
          d.buf.clear();
          d.st = St::chunk_size;
        } else {
          body_end(ts, on);
          give_up(ts, st, Malformed::http_bad_chunk);
        }
        break;
      }
      case St::chunk_size:
      case St::trailers: {
        size_t nl = b.find('\n');
        size_t take = nl == npos ? b.size() : nl + 1;
        size_t cap = d.st == St::chunk_size ? kMaxChunkLine : limits_.http_max_head;
        if (d.buf.size() + take > cap) {
          body_end(ts, on);
          give_up(
              ts, st,
              d.st == St::chunk_size ? Malformed::http_bad_chunk : Malformed::http_head_too_large);
          b.remove_prefix(take);
          break;
        }
        d.buf.append(b.substr(0, take));
        b.remove_prefix(take);
        if (nl == npos) break;
        if (d.st == St::trailers) {
          // Trailer fields, one line at a time, until an empty line; not kept.
          bool empty_line = d.buf == "\r\n" || d.buf == "\n";
          d.buf.clear();
          if (empty_line) {
            body_end(ts, on);
            message_end(ts);
          }
          break;
        }
        std::string_view line = d.buf;
        uint64_t size = 0;
        size_t k = 0;
        while (k < line.size() && hex_value(line[k]) >= 0 && k < 16) {
          size = size * 16 + static_cast<uint64_t>(hex_value(line[k]));
          ++k;
        }
        std::string_view after = trim(line.substr(k));
        if (!after.empty() && after.back() == '\n') after.remove_suffix(1);
        after = trim(after);
        if (k == 0 || (k < line.size() && hex_value(line[k]) >= 0) ||
            (!after.empty() && after[0] != ';')) {
          body_end(ts, on);
          give_up(ts, st, Malformed::http_bad_chunk);
          break;
        }
        d.buf.clear();
        if (size == 0) {
          d.st = St::trailers;
        } else {
          d.st = St::chunk_data;
          d.remaining = size;
        }
        break;
      }
    }
  }
}

void HttpParser::gap(bool ts, uint64_t len, AppStats& st, FnRef<void(HttpEvent)> on) {
  Dir& d = dir_[ts];
  switch (d.st) {
    case St::tunnel:
      return;
    case St::resync:
      return;
    case St::head:
      if (d.buf.empty()) {
        // Between messages: nothing is lost but where the next one starts.
        d.st = St::resync;
        return;
      }
      give_up(ts, st, Malformed::http_gap);
      return;
    case St::body_length:
    case St::chunk_data:
    case St::body_close:
      had_body_of(ts) = true;
      d.keep = false;  // the body buffer holds its bytes up to the gap, no more
      if (d.st == St::body_close || len < d.remaining) {
        // The framing survives: the body goes on after the lost bytes.
        st.add(Malformed::http_gap);
        if (d.st != St::body_close) d.remaining -= len;
        return;
      }
      if (len == d.remaining && d.st == St::body_length) {
        st.add(Malformed::http_gap);
        body_end(ts, on);
        message_end(ts);
        dir_[ts].st = St::resync;  // the next message starts here, or later
        return;
      }
      body_end(ts, on);
      give_up(ts, st, Malformed::http_gap);
      return;
    default:
      body_end(ts, on);
      give_up(ts, st, Malformed::http_gap);
      return;
  }
}

void HttpParser::end(bool ts, AppStats& st, FnRef<void(HttpEvent)> on) {
  Dir& d = dir_[ts];
  switch (d.st) {
    case St::body_close:
      body_end(ts, on);
      message_end(ts);
      break;
    case St::body_length:
    case St::chunk_data:
    case St::chunk_size:
    case St::chunk_crlf:
    case St::trailers:
      body_end(ts, on);  // cut short: what there is is inspected
      break;
    default:
      break;
  }
  if (dir_[ts].st != St::tunnel) {
    dir_[ts] = Dir{};
    dir_[ts].st = St::resync;
  }
}

namespace {
void set_if(Inspection& out, Buffer b, const HttpHead& h, HttpHead::Named n) {
  if (h.present(n)) out.set(b, h.value(n));
}

// `made` as a view of `sent` when it is the same bytes (a URI that needed
// no normalizing, a host already lowercase), so that it lies in the head.
std::string_view same_or(std::string_view sent, const std::string& made) {
  return sent == made ? sent : std::string_view(made);
}
}  // namespace

void HttpParser::fill(HttpEvent ev, Inspection& out) {
  bool request = ev == HttpEvent::request_headers || ev == HttpEvent::request_body;
  HttpRequest* r =
      request ? cur_req_ : (resp_paired_ && !pending_.empty() ? pending_.front().get() : nullptr);
  if (r) {
    const HttpHead& h = r->head;
    out.heads[0] = h.raw;
    out.set(Buffer::http_method, r->method.in(h.raw));
    out.set(Buffer::http_uri, same_or(r->uri_raw.in(h.raw), r->uri));
    out.set(Buffer::http_uri_raw, r->uri_raw.in(h.raw));
    out.set(Buffer::http_protocol, r->protocol.in(h.raw));
    out.set(Buffer::http_request_line, h.line.in(h.raw));
    out.set(Buffer::http_start, h.raw);
    out.set(Buffer::http_header, h.text(h.header));
    out.set(Buffer::http_header_raw, h.headers_raw.in(h.raw));
    out.set(Buffer::http_header_names, h.names);
    const std::string_view all = h.text(h.all);
    if (r->header_views.size() != h.each.size()) {  // (built once a request: its head is set)
      r->header_views.clear();
      for (const Span& s : h.each) r->header_views.push_back(all.substr(s.off, s.len));
    }
    out.request_headers = r->header_views.data();
    out.request_header_count = r->header_views.size();
    out.request_headers_text = all;  // ("Name: value\r\n" each: the views are into it)
    if (!r->header_views.empty()) out.present.set(static_cast<size_t>(Buffer::http_request_header));
    if (r->has_host) {
      const std::string_view sent = h.present(HttpHead::host) ? h.value(HttpHead::host) : "";
      out.set(Buffer::http_host, same_or(sent.substr(0, r->host.size()), r->host));
      if (h.present(HttpHead::host)) out.set(Buffer::http_host_raw, sent);
    }
    set_if(out, Buffer::http_user_agent, h, HttpHead::user_agent);
    set_if(out, Buffer::http_cookie, h, HttpHead::cookie);
    set_if(out, Buffer::http_content_type, h, HttpHead::content_type);
    set_if(out, Buffer::http_accept, h, HttpHead::accept);
    set_if(out, Buffer::http_referer, h, HttpHead::referer);
    if (ev == HttpEvent::request_body) out.set(Buffer::http_request_body, r->body);
    // The request's head buffers were all in its request_headers milestone.
    out.request_id = r->id;
    if (ev != HttpEvent::request_headers) out.repeated = out.present & request_head_buffers();
  }
  if (request) return;
  const HttpHead& h = resp_.head;
  out.heads[1] = h.raw;
  out.set(Buffer::http_stat_code, resp_.code.in(h.raw));
  out.set(Buffer::http_stat_msg, resp_.msg.in(h.raw));
  out.set(Buffer::http_response_line, h.line.in(h.raw));
  out.set(Buffer::http_response_header_raw, h.headers_raw.in(h.raw));
  out.set(Buffer::http_header, h.text(h.header));
  out.set(Buffer::http_header_names, h.names);
  for (Buffer b : {Buffer::http_header, Buffer::http_header_names, Buffer::http_content_type,
                   Buffer::http_cookie})
    out.repeated.reset(static_cast<size_t>(b));
  // Per direction (Suricata): the response's, not the request's.
  out.present.reset(static_cast<size_t>(Buffer::http_content_type));
  out.present.reset(static_cast<size_t>(Buffer::http_cookie));
  set_if(out, Buffer::http_content_type, h, HttpHead::content_type);
  set_if(out, Buffer::http_cookie, h, HttpHead::cookie);
  set_if(out, Buffer::http_server, h, HttpHead::server);
  set_if(out, Buffer::http_location, h, HttpHead::location);
  if (ev == HttpEvent::response_body) {
    out.set(Buffer::http_response_body, resp_.body);
    // The response's head buffers were all in its response_headers milestone.
    out.repeated |= out.present & response_head_buffers();
  }
}

// ---------------------------------------------------------------- TLS, DNS

bool parse_client_hello_sni(std::string_view b, std::string_view& sni) {
  sni = {};
  size_t p = 2 + 32;  // client_version, random
  if (b.size() < p + 1) return false;
  p += 1 + static_cast<uint8_t>(b[p]);  // session_id
  if (b.size() < p + 2) return false;
  p += 2 + rd16(b, p);  // cipher_suites
  if (b.size() < p + 1) return false;
  p += 1 + static_cast<uint8_t>(b[p]);  // compression_methods
  if (b.size() < p) return false;
  if (b.size() == p) return true;  // no extensions
  if (b.size() < p + 2) return false;
  size_t ext_end = p + 2 + rd16(b, p);
  if (ext_end > b.size()) return false;
  p += 2;
  while (p + 4 <= ext_end) {
    uint16_t type = rd16(b, p), len = rd16(b, p + 2);
    p += 4;
    if (p + len > ext_end) return false;
    if (type == 0) {  // server_name (RFC 6066 §3)
      std::string_view e = b.substr(p, len);
      if (e.size() < 2 || 2u + rd16(e, 0) > e.size()) return false;
      size_t q = 2, list_end = 2u + rd16(e, 0);
      while (q + 3 <= list_end) {
        uint8_t name_type = static_cast<uint8_t>(e[q]);
        uint16_t nlen = rd16(e, q + 1);
        q += 3;
        if (q + nlen > list_end) return false;
        if (name_type == 0) {
          sni = e.substr(q, nlen);
          return true;
        }
        q += nlen;
      }
      return q == list_end;
    }
    p += len;
  }
  return p == ext_end;
}

DnsResult parse_dns_query(std::string_view m, std::string& name) {
  name.clear();
  if (m.size() < 12) return DnsResult::truncated;
  if (static_cast<uint8_t>(m[2]) & 0x80) return DnsResult::not_query;
  if (rd16(m, 4) == 0) return DnsResult::not_query;
  size_t pos = 12;
  int jumps = 0;
  while (true) {
    if (pos >= m.size()) return DnsResult::truncated;
    uint8_t len = static_cast<uint8_t>(m[pos]);
    if (len == 0) break;
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= m.size()) return DnsResult::truncated;
      if (++jumps > 32) return DnsResult::loop;
      size_t ptr = static_cast<size_t>(((len & 0x3F) << 8) | static_cast<uint8_t>(m[pos + 1]));
      if (ptr < 12 || ptr >= m.size()) return DnsResult::malformed;
      pos = ptr;
      continue;
    }
    if (len & 0xC0) return DnsResult::malformed;  // 0x40/0x80: extended label types
    if (pos + 1 + len > m.size()) return DnsResult::truncated;
    if (!name.empty()) name.push_back('.');
    name.append(m.substr(pos + 1, len));
    if (name.size() > 253) return DnsResult::malformed;
    pos += 1 + len;
  }
  return DnsResult::ok;
}

AppProto detect_proto(std::string_view b, uint8_t ip_proto, uint16_t sport, uint16_t dport) {
  if (sport == 53 || dport == 53) return AppProto::dns;
  if (ip_proto != 6) return AppProto::unknown;
  if (b.substr(0, 4) == "SSH-") return AppProto::ssh;
  if (b.size() >= 3 && b[0] == 0x16 && b[1] == 0x03 && static_cast<uint8_t>(b[2]) <= 0x04)
    return AppProto::tls;
  if (starts_message(b, true) || starts_message(b, false)) return AppProto::http;
  return AppProto::unknown;
}

// ---------------------------------------------------------------- AppLayer

AppLayer::~AppLayer() { release(); }

HttpParser& AppLayer::http() {
  if (!http_) http_ = pool_ ? pool_->parser(limits_) : std::make_unique<HttpParser>(limits_);
  return *http_;
}

void AppLayer::release() {
  if (http_ && pool_) pool_->put(std::move(http_));
  http_.reset();
  tls_.reset();
  ssh_[0].reset();
  ssh_[1].reset();
  dns_.reset();
  for (std::string& p : probe_) std::string().swap(p);
}

void AppLayer::reset(AppProto hint) {
  release();
  proto_ = hint;
  probed_[0] = probed_[1] = false;
  records_[0] = records_[1] = Records{};
  hello_ok_ = server_handshake_ = false;
  std::string().swap(name_);
}

void AppLayer::http_emit(const Packet& pkt, HttpEvent ev, Emit emit) {
  Inspection insp;
  insp.milestone = true;
  insp.pkt = pkt;
  insp.pkt.app = proto_;
  http_->fill(ev, insp);
  emit(insp);
}

void AppLayer::stream(const Packet& pkt, std::string_view bytes, AppStats& st, Emit emit) {
  const bool ts = pkt.to_server;
  if (bytes.empty()) return;
  if (proto_ == AppProto::unknown) {
    if (probed_[ts]) return;
    std::string& probe = probe_[ts];
    size_t take = std::min(kProbeBytes - probe.size(), bytes.size());
    probe.append(bytes.substr(0, take));
    AppProto p = detect_proto(probe, 6, pkt.sport, pkt.dport);
    if (p == AppProto::unknown) {
      if (probe.size() >= kProbeBytes) {
        probed_[ts] = true;  // not a protocol this layer parses
        std::string().swap(probe);
      }
      return;
    }
    proto_ = p;
    // The bytes held while probing go first (the other side's too).
    std::string mine = std::move(probe), theirs = std::move(probe_[!ts]);
    probe_[0].clear();
    probe_[1].clear();
    Packet other = pkt;
    other.to_server = !ts;
    if (!theirs.empty()) stream(other, theirs, st, emit);
    stream(pkt, mine, st, emit);
    stream(pkt, bytes.substr(take), st, emit);
    return;
  }
  switch (proto_) {
    case AppProto::http: {
      http().data(ts, bytes, st, [&](HttpEvent ev) { http_emit(pkt, ev, emit); });
      break;
    }
    case AppProto::tls:
      if (ts) tls_data(pkt, bytes, st, emit);
      walk_records(ts, bytes);
      break;
    case AppProto::ssh:
      ssh_data(pkt, bytes, st, emit);
      break;
    case AppProto::dns:
      if (ts) dns_tcp(pkt, bytes, st, emit);
      break;
    default:
      break;
  }
}

void AppLayer::gap(const Packet& pkt, uint64_t len, AppStats& st, Emit emit) {
  const bool ts = pkt.to_server;
  switch (proto_) {
    case AppProto::unknown:
      probed_[ts] = true;
      break;
    case AppProto::http:
      http().gap(ts, len, st, [&](HttpEvent ev) { http_emit(pkt, ev, emit); });
      break;
    case AppProto::tls:
      if (ts) {
        if (!tls_) tls_ = std::make_unique<Tls>();
        if (!tls_->done) st.add(Malformed::tls_gap);
        tls_->done = true;
      }
      records_[ts].stopped = true;  // the records' boundaries are lost (encrypted() stays)
      break;
    case AppProto::ssh:
      if (!ssh_[ts]) ssh_[ts] = std::make_unique<Ssh>();
      ssh_[ts]->done = true;
      break;
    case AppProto::dns:
      if (ts) {
        if (!dns_) dns_ = std::make_unique<Dns>();
        dns_->stopped = true;  // the message boundaries are lost
      }
      break;
    default:
      break;
  }
}

void AppLayer::end(const Packet& pkt, bool to_server, AppStats& st, Emit emit) {
  if (proto_ == AppProto::http && http_) {
    http_->end(to_server, st, [&](HttpEvent ev) { http_emit(pkt, ev, emit); });
  }
}

void AppLayer::datagram(const Packet& pkt, std::string_view bytes, uint32_t payload_len,
                        AppStats& st, Emit emit) {
  if (proto_ == AppProto::unknown) proto_ = detect_proto(bytes, pkt.ip_proto, pkt.sport, pkt.dport);
  if (proto_ == AppProto::dns) dns_msg(pkt, bytes, payload_len > bytes.size(), st, emit);
}

void AppLayer::dns_msg(const Packet& pkt, std::string_view msg, bool truncated, AppStats& st,
                       Emit emit) {
  switch (parse_dns_query(msg, name_)) {
    case DnsResult::ok: {
      Inspection insp;
      insp.milestone = true;
      insp.pkt = pkt;
      insp.pkt.app = AppProto::dns;
      insp.set(Buffer::dns_query, name_);
      emit(insp);
      break;
    }
    case DnsResult::not_query:
      break;
    case DnsResult::malformed:
      st.add(Malformed::dns_bad_message);
      break;
    case DnsResult::loop:
      st.add(Malformed::dns_pointer_loop);
      break;
    case DnsResult::truncated:
      st.add(truncated ? Malformed::dns_truncated : Malformed::dns_bad_message);
      break;
  }
}

void AppLayer::dns_tcp(const Packet& pkt, std::string_view b, AppStats& st, Emit emit) {
  if (!dns_) dns_ = std::make_unique<Dns>();
  Dns& d = *dns_;
  while (!b.empty() && !d.stopped) {
    if (!d.have_len) {
      size_t take = std::min<size_t>(2 - d.len_bytes.size(), b.size());
      d.len_bytes.append(b.substr(0, take));
      b.remove_prefix(take);
      if (d.len_bytes.size() < 2) return;
      d.need = rd16(d.len_bytes, 0);
      d.len_bytes.clear();
      d.have_len = true;
      d.msg.clear();
      d.kept_len = d.need;
    }
    size_t take = std::min<size_t>(d.need, b.size());
    size_t room =
        limits_.dns_max_tcp_message > d.msg.size() ? limits_.dns_max_tcp_message - d.msg.size() : 0;
    d.msg.append(b.substr(0, std::min(take, room)));
    d.need -= static_cast<uint32_t>(take);
    b.remove_prefix(take);
    if (d.need == 0) {
      dns_msg(pkt, d.msg, d.msg.size() < d.kept_len, st, emit);
      d.have_len = false;
    }
  }
}

void AppLayer::tls_data(const Packet& pkt, std::string_view b, AppStats& st, Emit emit) {
  if (!tls_) tls_ = std::make_unique<Tls>();
  Tls& t = *tls_;
  while (!b.empty() && !t.done) {
    // t.rec: the current record's 5-byte header while it is incomplete,
    // then its header alone while its payload streams into t.hello.
    if (t.rec.size() < 5) {
      size_t take = std::min<size_t>(5 - t.rec.size(), b.size());
      t.rec.append(b.substr(0, take));
      b.remove_prefix(take);
      if (t.rec.size() < 5) return;
      uint16_t len = rd16(t.rec, 3);
      if (t.rec[0] != 0x16 || t.rec[1] != 0x03 || len == 0 || len > 16384 + 2048) {
        st.add(Malformed::tls_bad_record);
        t.done = true;
        return;
      }
      t.rec.push_back(static_cast<char>(len >> 8));  // [5..6]: payload bytes left
      t.rec.push_back(static_cast<char>(len & 0xff));
    }
    uint16_t left = rd16(t.rec, 5);
    size_t take = std::min<size_t>(left, b.size());
    if (t.hello.size() + take > limits_.tls_max_hello) {
      st.add(Malformed::tls_hello_too_large);
      t.done = true;
      return;
    }
    t.hello.append(b.substr(0, take));
    b.remove_prefix(take);
    left = static_cast<uint16_t>(left - take);
    t.rec[5] = static_cast<char>(left >> 8);
    t.rec[6] = static_cast<char>(left & 0xff);
    if (left == 0) t.rec.clear();
    if (t.hello.size() < 4) continue;
    if (t.hello[0] != 0x01) {  // the client's first handshake message is its ClientHello
      st.add(Malformed::tls_bad_hello);
      t.done = true;
      return;
    }
    size_t mlen = (static_cast<size_t>(static_cast<uint8_t>(t.hello[1])) << 16) |
                  (static_cast<size_t>(static_cast<uint8_t>(t.hello[2])) << 8) |
                  static_cast<uint8_t>(t.hello[3]);
    if (mlen + 4 > limits_.tls_max_hello) {
      st.add(Malformed::tls_hello_too_large);
      t.done = true;
      return;
    }
    if (t.hello.size() < mlen + 4) continue;
    t.done = true;
    std::string_view sni;
    if (!parse_client_hello_sni(std::string_view(t.hello).substr(4, mlen), sni)) {
      st.add(Malformed::tls_bad_hello);
      break;
    }
    proto_ = AppProto::tls;
    hello_ok_ = true;
    if (!sni.empty()) {
      Inspection insp;
      insp.milestone = true;
      insp.pkt = pkt;
      insp.pkt.app = AppProto::tls;
      insp.set(Buffer::tls_sni, sni);
      emit(insp);
    }
  }
  if (t.done) {
    std::string().swap(t.hello);  // the rest of the flow is encrypted: nothing more to keep
    std::string().swap(t.rec);
  }
}

void AppLayer::walk_records(bool ts, std::string_view b) {
  Records& r = records_[ts];
  while (!b.empty() && !r.stopped && !r.encrypted) {
    if (r.skip > 0) {
      const size_t n = std::min<size_t>(r.skip, b.size());
      r.skip -= static_cast<uint32_t>(n);
      b.remove_prefix(n);
      continue;
    }
    const size_t take = std::min<size_t>(5u - r.have, b.size());
    std::memcpy(r.hdr.data() + r.have, b.data(), take);
    r.have = static_cast<uint8_t>(r.have + take);
    b.remove_prefix(take);
    if (r.have < 5) return;
    r.have = 0;
    const uint8_t type = r.hdr[0];
    const uint32_t len = (uint32_t{r.hdr[3]} << 8) | r.hdr[4];
    if (type < 20 || type > 24 || r.hdr[1] != 3 || len == 0 || len > 16384 + 2048) {
      r.stopped = true;
      return;
    }
    if (type == 23) {
      // application_data: encrypted from here, once a real ClientHello had
      // a handshake record back (a client framing plaintext as TLS to a
      // server that does not speak it is inspected whole).
      r.encrypted = hello_ok_ && server_handshake_;
      r.stopped = !r.encrypted;
      return;
    }
    if (type == 22 && !ts) server_handshake_ = true;
    r.skip = len;
  }
}

void AppLayer::ssh_data(const Packet& pkt, std::string_view b, AppStats& st, Emit emit) {
  const bool ts = pkt.to_server;
  if (!ssh_[ts]) ssh_[ts] = std::make_unique<Ssh>();
  Ssh& s = *ssh_[ts];
  while (!b.empty() && !s.done) {
    size_t nl = b.find('\n');
    size_t take = nl == npos ? b.size() : nl + 1;
    s.seen += take;
    if (s.line.size() < kSshMaxLine + 1) {
      s.line.append(b.substr(0, std::min(take, kSshMaxLine + 1 - s.line.size())));
    }
    b.remove_prefix(take);
    bool is_banner = s.line.substr(0, 4) == "SSH-";
    if (is_banner && s.line.size() > kSshMaxLine) {
      st.add(Malformed::ssh_bad_banner);
      s.done = true;
      break;
    }
    if (nl == npos) {
      if (!is_banner && s.seen > limits_.ssh_max_prebanner) {
        st.add(Malformed::ssh_bad_banner);
        s.done = true;
      }
      break;
    }
    if (!is_banner) {
      // A server may send other lines before its banner (RFC 4253 §4.2).
      s.line.clear();
      if (s.seen > limits_.ssh_max_prebanner) {
        st.add(Malformed::ssh_bad_banner);
        s.done = true;
      }
      continue;
    }
    s.done = true;
    std::string_view l = std::string_view(s.line).substr(4);
    while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.remove_suffix(1);
    size_t dash = l.find('-');
    if (dash == npos || dash == 0) {
      st.add(Malformed::ssh_bad_banner);
      break;
    }
    std::string_view software = l.substr(dash + 1);
    software = software.substr(0, software.find(' '));
    proto_ = AppProto::ssh;
    Inspection insp;
    insp.milestone = true;
    insp.pkt = pkt;
    insp.pkt.app = AppProto::ssh;
    insp.set(Buffer::ssh_proto, l.substr(0, dash));
    insp.set(Buffer::ssh_software, software);
    emit(insp);
  }
  if (s.done) std::string().swap(s.line);
}

size_t AppLayer::memory() const {
  size_t m = probe_[0].capacity() + probe_[1].capacity() + name_.capacity();
  if (http_) m += sizeof(HttpParser) + limits_.http_max_head;  // (an estimate)
  if (tls_) m += tls_->hello.capacity() + tls_->rec.capacity();
  for (const auto& s : ssh_)
    if (s) m += s->line.capacity();
  if (dns_) m += dns_->msg.capacity();
  return m;
}

}  // namespace rampart::ids

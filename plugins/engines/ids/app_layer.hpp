// SPDX-License-Identifier: Apache-2.0
// The IDS engine's application layer: one flow's parsers (HTTP/1.x, TLS
// ClientHello, DNS, SSH banner) over each direction's reassembled bytes,
// turning them into the buffers of inspect.hpp. The flow table
// (flow_table.hpp) drives it; the fuzzer and the unit tests drive it alone.
//
// Nothing here throws or reads a clock: bad input of any kind is counted in
// AppStats (one counter per Malformed kind, for the engine's metrics) and
// the parser of that direction gives up on the message and resynchronizes
// (HTTP) or stops (TLS, SSH, TCP DNS). Every buffer a parser keeps has a
// limit in AppLimits, so a flow's memory is bounded whatever it is sent.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "inspect.hpp"

namespace rampart::ids {

// A non-owning reference to a callable, so the packet path passes its
// callbacks without std::function's possible allocation. The callable must
// outlive the call it is passed to (a lambda argument does).
template <class Sig>
class FnRef;
template <class R, class... A>
class FnRef<R(A...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FnRef>>>
  FnRef(F&& f) noexcept  // NOLINT(google-explicit-constructor): used like std::function
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, A... a) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<A>(a)...);
        }) {}
  R operator()(A... a) const { return call_(obj_, std::forward<A>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, A...);
};

// What was wrong with a flow's bytes, one counter each (AppStats). Some are
// anomalies the parser tolerates (folded headers, NULs), the rest end the
// message they are in.
enum class Malformed : uint8_t {
  http_request_line,      // not "METHOD URI HTTP/x" (binary junk lands here)
  http_response_line,     // not "HTTP/x CODE [MSG]"
  http_head_too_large,    // start line + headers past AppLimits::http_max_head
  http_too_many_headers,  // past AppLimits::http_max_headers
  http_bad_header,        // a line without a colon, an empty name, space before the colon
  http_folded_header,     // obs-fold (tolerated: joined with one space)
  http_nul,               // a NUL in the head (tolerated)
  http_bad_content_length,
  http_cl_and_te,  // both Content-Length and Transfer-Encoding (chunked wins)
  http_bad_transfer_encoding,
  http_bad_chunk,         // a chunk size that is not hex, too long, or a missing CRLF
  http_gap,               // bytes lost (capture or reassembly) inside a message
  http_pending_overflow,  // more unanswered requests than http_max_pending
  tls_bad_record,         // not a handshake record where a ClientHello was expected
  tls_bad_hello,          // a ClientHello whose lengths do not add up
  tls_hello_too_large,    // past AppLimits::tls_max_hello
  tls_gap,
  dns_bad_message,   // too short, bad label type, name too long, pointer out of range
  dns_pointer_loop,  // compression pointers that do not end
  dns_truncated,     // the question is past the captured bytes
  ssh_bad_banner,    // no "SSH-x-y" line within AppLimits::ssh_max_prebanner
  count
};
constexpr size_t kMalformedCount = static_cast<size_t>(Malformed::count);
const char* malformed_name(Malformed m);  // "http_request_line", for the metrics

struct AppStats {
  std::array<uint64_t, kMalformedCount> malformed{};
  void add(Malformed m) { ++malformed[static_cast<size_t>(m)]; }
  uint64_t operator[](Malformed m) const { return malformed[static_cast<size_t>(m)]; }
  uint64_t total() const;
  void merge(const AppStats& o);
};

struct AppLimits {
  size_t http_max_head = 16 * 1024;  // start line + headers of one message
  size_t http_max_headers = 256;
  size_t http_max_body = 64 * 1024;  // body bytes kept per message; the rest is framed, not kept
  size_t http_max_pending = 4;       // requests held for pairing with responses (min 2)
  size_t tls_max_hello = 16 * 1024;  // ClientHello bytes gathered across records and segments
  size_t dns_max_tcp_message = 4 * 1024;  // a TCP DNS message's bytes kept (the rest skipped)
  size_t ssh_max_prebanner = 8 * 1024;    // bytes of other lines a server may send first
};

// An HTTP transaction milestone: the moment a group of buffers is complete.
enum class HttpEvent : uint8_t { request_headers, request_body, response_headers, response_body };

// Where a part of a kept string is (offsets, not views: the string's
// holder may move).
struct Span {
  uint32_t off = 0, len = 0;
  std::string_view in(const std::string& s) const { return std::string_view(s).substr(off, len); }
};

// A text made of a head's bytes: while they lie in the head as they are
// (the usual case: "Name: value" lines as sent, a header sent once), a
// range of the head, neither copied nor written; else (folded, padded or
// repeated headers, a line left out) a copy of its own. A range lets the
// matcher find its literals in one scan of the whole head
// (Inspection::heads).
struct HeadText {
  Span at;          // the range, while not owned
  std::string own;  // the copy, once owned
  bool owned = false;
  std::string_view in(const std::string& raw) const {
    return owned ? std::string_view(own) : at.in(raw);
  }
  size_t size() const { return owned ? own.size() : at.len; }
  bool empty() const { return size() == 0; }
  // Appends `v`: the range grows while `v` is the head's next bytes; the
  // text is copied out the first time it is not.
  void append(const std::string& raw, std::string_view v);
  void clear() {
    at = Span{};
    own.clear();
    owned = false;
  }
};

// One HTTP message head, request or response, and what was made of it.
struct HttpHead {
  // Headers the buffers need by name. For a response `cookie` is Set-Cookie.
  enum Named : uint8_t {
    host,
    user_agent,
    cookie,
    content_type,
    accept,
    referer,
    server,
    location,
    content_length,
    transfer_encoding,
    kNamed
  };
  std::string raw;         // as sent: start line through the empty line
  Span line, headers_raw;  // the start line (no EOL); the header lines as sent (no empty line)
  HeadText header;         // "Name: value\r\n" each (unfolded, trimmed), Cookie/Set-Cookie left out
  HeadText all;            // "Name: value\r\n" each, all of them
  std::string names;       // "\r\nName1\r\nName2\r\n\r\n"
  std::vector<Span> each;  // into `all`'s text: "Name: value" each
  std::array<HeadText, kNamed> named;  // duplicates joined with ", " (as libhtp does)
  uint16_t has = 0;                    // bit per Named present
  bool present(Named n) const { return has & (1u << n); }
  std::string_view text(const HeadText& t) const { return t.in(raw); }
  std::string_view value(Named n) const { return named[n].in(raw); }
  void clear();    // empties every string, keeping its capacity
  void recycle();  // clear(), and frees a string grown past HttpPool::kKeepCapacity
};

struct HttpRequest {
  uint64_t id = 0;  // its number in the connection, from 1
  HttpHead head;
  Span method, uri_raw, protocol;  // into head.raw
  std::string uri;                 // normalized
  std::string host;                // lowercase, port stripped
  bool has_host = false;
  std::string body;  // dechunked, up to http_max_body
  bool had_body = false;
  std::vector<std::string_view> header_views;  // built when filling an Inspection
  void recycle();  // made as new, keeping the strings' capacity (HttpHead::recycle)
};

struct HttpResponse {
  HttpHead head;
  Span protocol, code, msg;  // into head.raw
  int status = 0;
  std::string body;
  bool had_body = false;
};

class HttpParser;

// HTTP parsers of ended flows and requests of ended transactions, kept for
// the next ones: their strings keep their capacity and are still in cache,
// so a busy flow table does not allocate a message's dozen strings anew
// (nor a parser's, per flow) and write them into cold memory. Bounded: at
// most kParsers and kRequests, and a string grown past kKeepCapacity is
// freed rather than kept. Not thread-safe: the flow table has one per
// shard, used under the shard's lock.
class HttpPool {
 public:
  static constexpr size_t kParsers = 16, kRequests = 32, kKeepCapacity = 4096;
  HttpPool();
  ~HttpPool();
  HttpPool(const HttpPool&) = delete;
  HttpPool& operator=(const HttpPool&) = delete;
  std::unique_ptr<HttpParser> parser(const AppLimits& limits);
  void put(std::unique_ptr<HttpParser> p);
  std::unique_ptr<HttpRequest> request();
  void put(std::unique_ptr<HttpRequest> r);
  size_t parsers_kept() const { return parsers_.size(); }
  size_t requests_kept() const { return requests_.size(); }

 private:
  std::vector<std::unique_ptr<HttpParser>> parsers_;
  std::vector<std::unique_ptr<HttpRequest>> requests_;
};

// Both directions of one HTTP/1.x connection. Requests are paired with
// responses in order (pipelining); a 1xx response is its own transaction
// and does not take its request; after a 101 or a 2xx to CONNECT both
// directions are a tunnel and no longer parsed.
class HttpParser {
 public:
  // With a pool, requests are taken from it and given back to it.
  explicit HttpParser(const AppLimits& limits, HttpPool* pool = nullptr)
      : limits_(limits), pool_(pool) {}
  ~HttpParser();
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;
  // Made as new for another connection (HttpPool), keeping capacity; its
  // pending requests go to its pool.
  void reset();
  // The direction's next bytes. `on` is called at each milestone, while
  // fill() can read the transaction.
  void data(bool to_server, std::string_view bytes, AppStats& stats, FnRef<void(HttpEvent)> on);
  // `len` bytes of the direction were lost: a body with a known length skips
  // them (and keeps no more of its bytes); anywhere else the message is
  // given up and the parser waits for the next one ("GET ", "HTTP/").
  void gap(bool to_server, uint64_t len, AppStats& stats, FnRef<void(HttpEvent)> on);
  // The direction ended (FIN, RST, the flow's end): a body delimited by the
  // close is complete.
  void end(bool to_server, AppStats& stats, FnRef<void(HttpEvent)> on);

  // Sets the buffers of milestone `ev` (only valid inside `on`).
  //  request_headers: the request's buffers (method ... referer, header
  //    names, request_header array), no body.
  //  request_body: the same plus http_request_body.
  //  response_headers: stat_code, stat_msg, response_line,
  //    response_header_raw, server, location; http_header,
  //    http_header_names, http_content_type and http_cookie (Set-Cookie)
  //    from the response (Suricata inspects those per direction); the
  //    other request buffers from the paired request when it is known.
  //  response_body: the same plus http_response_body.
  void fill(HttpEvent ev, Inspection& out);

  uint64_t transactions() const { return transactions_; }

 private:
  friend class HttpPool;
  enum class St : uint8_t {
    head,
    body_length,
    chunk_size,
    chunk_data,
    chunk_crlf,
    trailers,
    body_close,
    resync,
    tunnel
  };
  struct Dir {
    St st = St::head;
    std::string buf;         // the head, a chunk-size line or trailers being gathered
    uint64_t remaining = 0;  // body_length / chunk_data: bytes left
    bool keep = true;        // still keeping body bytes (false after a gap or the limit)
    bool body_reported = false;
  };
  void run(bool to_server, std::string_view bytes, AppStats& stats, FnRef<void(HttpEvent)> on);
  size_t consume_head(bool to_server, std::string_view bytes, AppStats& st,
                      FnRef<void(HttpEvent)> on);
  bool head_done(bool to_server, AppStats& st, FnRef<void(HttpEvent)> on);
  void body_bytes(bool to_server, std::string_view b, FnRef<void(HttpEvent)> on);
  void body_end(bool to_server, FnRef<void(HttpEvent)> on);
  void message_end(bool to_server);
  void give_up(bool to_server, AppStats& st, Malformed why);
  std::string& body_of(bool to_server);
  bool& had_body_of(bool to_server);
  void pop_request(bool front);

  AppLimits limits_;
  HttpPool* pool_ = nullptr;
  Dir dir_[2];  // [0] to client, [1] to server
  // Requests whose response is not complete; back() is newest. At most
  // http_max_pending + 1, so a vector's erase at the front is cheap.
  std::vector<std::unique_ptr<HttpRequest>> pending_;
  size_t orphans_ = 0;        // requests dropped from pending_ still owed a response
  bool resp_paired_ = false;  // the response being parsed has pending_.front()
  HttpResponse resp_;
  HttpRequest* cur_req_ = nullptr;  // the request being received (in pending_)
  uint64_t transactions_ = 0;
  uint64_t requests_ = 0;             // requests whose head was parsed (HttpRequest::id)
  bool no_request_had_body_ = false;  // had_body_of() when the request is gone
  std::string scratch_;
};

// The URI as http_uri has it: an absolute-form URI's scheme and authority
// dropped; the path percent-decoded (an invalid escape is kept as it is)
// and "/./", "/../" and "//" resolved; the query percent-decoded, kept.
void normalize_uri(std::string_view raw, std::string& out);
// "Example.COM:8080" -> "example.com"; "[::1]:80" -> "[::1]".
void normalize_host(std::string_view raw, std::string& out);

// The ClientHello's server_name ("" with ok when it has none). nullopt-like:
// returns false when the message is malformed.
bool parse_client_hello_sni(std::string_view hello_body, std::string_view& sni);

// The first question's name of a DNS message, dotted without the trailing
// dot, labels as sent. Compression pointers are followed (at most 32 jumps;
// more is a loop).
enum class DnsResult : uint8_t { ok, not_query, malformed, loop, truncated };
DnsResult parse_dns_query(std::string_view msg, std::string& name);

// Which protocol the first bytes of a direction look like (unknown if
// none, or not enough bytes yet).
AppProto detect_proto(std::string_view first_bytes, uint8_t ip_proto, uint16_t sport,
                      uint16_t dport);

// One flow's application layer: the protocol (the kernel's guess, or
// detected here from the first bytes when it had none) and its parser.
// Emitted inspections carry `pkt` (with `app` updated) and the
// protocol's buffers only (no payload, no stream): they are matched in
// addition to the packet's own inspection.
class AppLayer {
 public:
  using Emit = FnRef<void(const Inspection&)>;
  // With a pool, the HTTP parser is taken from it and given back to it.
  AppLayer(const AppLimits& limits, AppProto hint, HttpPool* pool = nullptr)
      : limits_(limits), proto_(hint), pool_(pool) {}
  ~AppLayer();
  AppLayer(const AppLayer&) = delete;
  AppLayer& operator=(const AppLayer&) = delete;
  // Made as new for another flow (its parser back to the pool).
  void reset(AppProto hint);
  // Both directions ended: the parsers' state goes (the HTTP parser back
  // to the pool); proto() stays. Nothing may be fed after it.
  void release();
  AppProto proto() const { return proto_; }
  // The kernel's guess on a later packet (its first ones, the handshake,
  // had no payload to guess from). Ignored once the protocol is known or
  // bytes are being probed.
  void hint(AppProto p) {
    if (proto_ == AppProto::unknown && probe_[0].empty() && probe_[1].empty() && !probed_[0] &&
        !probed_[1])
      proto_ = p;
  }

  // TCP: the direction's next in-order bytes.
  void stream(const Packet& pkt, std::string_view bytes, AppStats& stats, Emit emit);
  // TCP: `len` bytes of the direction were lost.
  void gap(const Packet& pkt, uint64_t len, AppStats& stats, Emit emit);
  // TCP: the direction ended (FIN or RST).
  void end(const Packet& pkt, bool to_server, AppStats& stats, Emit emit);
  // UDP (and other datagrams): one payload. `payload_len` > bytes.size()
  // when the capture was truncated.
  void datagram(const Packet& pkt, std::string_view bytes, uint32_t payload_len, AppStats& stats,
                Emit emit);

  // Bytes held by this flow's parsers (for the stated per-flow bound).
  size_t memory() const;

  // TLS: whether the direction's bytes from here on are encrypted. True
  // once the client's ClientHello parsed, the server answered with a
  // handshake record, and the direction's records, walked by their 5-byte
  // headers, reached an application_data record;
  // anything that is not a TLS record (type 20-24, version 3.x, a length
  // a record may have) or a gap before that ends the walk and leaves it
  // false, so bytes that merely start like TLS are inspected as any.
  bool encrypted(bool to_server) const { return records_[to_server].encrypted; }

 private:
  struct Tls {
    std::string rec;    // the record being gathered (header included)
    std::string hello;  // handshake bytes across records
    bool done = false;
  };
  // A direction's TLS records, followed by their headers (encrypted()).
  struct Records {
    std::array<uint8_t, 5> hdr{};
    uint8_t have = 0;   // header bytes gathered
    uint32_t skip = 0;  // the current record's body bytes still to pass
    bool stopped = false, encrypted = false;
  };
  void walk_records(bool to_server, std::string_view bytes);
  HttpParser& http();  // the HTTP parser, taken (from the pool) on first use
  struct Ssh {
    std::string line;
    size_t seen = 0;
    bool done = false;
  };
  struct Dns {
    std::string msg;
    uint32_t need = 0;  // bytes of the message still to come (kept or skipped)
    uint32_t kept_len = 0;
    bool have_len = false;
    std::string len_bytes;
    bool stopped = false;
  };
  void detect(const Packet& pkt, std::string_view bytes);
  void tls_data(const Packet& pkt, std::string_view bytes, AppStats& st, Emit emit);
  void ssh_data(const Packet& pkt, std::string_view bytes, AppStats& st, Emit emit);
  void dns_tcp(const Packet& pkt, std::string_view bytes, AppStats& st, Emit emit);
  void dns_msg(const Packet& pkt, std::string_view msg, bool truncated, AppStats& st, Emit emit);
  void http_emit(const Packet& pkt, HttpEvent ev, Emit emit);

  AppLimits limits_;
  AppProto proto_;
  HttpPool* pool_ = nullptr;
  std::string probe_[2];  // first bytes while the protocol is unknown (up to 16)
  bool probed_[2] = {false, false};
  std::unique_ptr<HttpParser> http_;
  std::unique_ptr<Tls> tls_;
  Records records_[2];
  bool hello_ok_ = false;          // the client's ClientHello parsed
  bool server_handshake_ = false;  // the server sent a handshake record
  std::unique_ptr<Ssh> ssh_[2];
  std::unique_ptr<Dns> dns_;
  std::string name_;  // the DNS query name of the last message
};

}  // namespace rampart::ids

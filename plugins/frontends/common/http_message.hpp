// SPDX-License-Identifier: Apache-2.0
// HTTP/1.1 message syntax and framing (RFC 9112), strictly: the request
// head, the body's framing (Content-Length or chunked) and the chunked
// decoder. Pure functions over bytes, so the fuzzer and the unit tests reach
// them without a socket. Poco's parser is not used here because it accepts
// what RFC 9112 requires to be refused (whitespace before a field's colon,
// obs-fold), and a server that frames a body differently from its client is
// one that can be smuggled a request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rampart::frontend {

// Who is on the other end of a connection.
struct Peer {
  std::string address;  // "127.0.0.1", "::1"; "local" on a Unix socket
  uint16_t port = 0;
  bool local = false;  // Unix socket: uid, gid and pid are the kernel's (SO_PEERCRED)
  uint32_t uid = 0, gid = 0;
  int32_t pid = 0;
  bool tls = false;
  // For logs and the audit trail: "127.0.0.1" or "local:uid=0,pid=42".
  std::string text() const;
};

struct Request {
  std::string method;
  std::string target;                                       // as sent
  std::string path;                                         // target without the query
  std::string query;                                        // raw, without '?'
  std::string version;                                      // "HTTP/1.1" or "HTTP/1.0"
  std::vector<std::pair<std::string, std::string>> fields;  // header fields in order
  std::string body;
  Peer peer;

  // The first field named `name` (case-insensitive), or nullptr.
  const std::string* field(std::string_view name) const;
  std::string get(std::string_view name, const std::string& fallback = "") const;
  // The value of cookie `name` in the Cookie field(s), or "".
  std::string cookie(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool close = false;  // close the connection once this is written
};

// The reason phrase of a status code ("Unauthorized" for 401).
std::string reason_phrase(int status);

}  // namespace rampart::frontend

namespace rampart::frontend::http {

// Why a message cannot be served: the status to answer (always followed by
// closing the connection) and a detail for the JSON error.
struct Refusal {
  int status;
  std::string detail;
};

// Parses a complete request head (request line and fields, ending with the
// empty line) into `req`: method, target, path, query, version, fields.
std::optional<Refusal> parse_head(std::string_view head, size_t max_fields, Request& req);

// Where the end of a request head is in `buf` (the index just past its
// empty line), searching from `from`; npos while incomplete. Leading empty
// lines (RFC 9112 §2.2) are not heads: see skip_empty_lines.
size_t head_end(std::string_view buf, size_t from);
// Removes up to a few leading CRLFs a client may send between requests.
void skip_empty_lines(std::string& buf);
// True when `buf` holds a line ended by a bare LF: the client does not
// speak HTTP/1.1 line endings and would otherwise wait for a deadline.
bool has_bare_lf(std::string_view buf);

struct Framing {
  bool chunked = false;
  uint64_t length = 0;  // Content-Length; 0 when neither is present
};
// The body's framing (RFC 9112 §6): Transfer-Encoding and Content-Length
// together, an unknown coding, chunked not last, conflicting lengths and
// Transfer-Encoding in HTTP/1.0 are refused.
std::optional<Refusal> framing_of(const Request& req, Framing& out);

// Keep the connection open after answering this request?
bool wants_keep_alive(const Request& req);
// "Expect: 100-continue" was asked for.
bool expects_continue(const Request& req);

// Decodes a chunked body as its bytes arrive.
class ChunkedDecoder {
 public:
  enum class Result { more, done, bad, too_large };
  // Consumes from the front of `in` what it can use, appending chunk data
  // to `body` (never past max_body). On bad, `why` says what is wrong.
  Result feed(std::string& in, std::string& body, size_t max_body, std::string& why);

 private:
  enum class State { size, data, data_end, trailer };
  State state_ = State::size;
  uint64_t remaining_ = 0;
  size_t trailer_bytes_ = 0;
};

// The bytes of a response to `req` (HEAD: no body). Header fields with a
// CR, LF or NUL are left out: a handler must not be able to split it.
std::string serialize(const Response& res, const Request& req, bool close);

}  // namespace rampart::frontend::http

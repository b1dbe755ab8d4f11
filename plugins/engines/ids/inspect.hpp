// SPDX-License-Identifier: Apache-2.0
// What the IDS engine inspects: one packet of a followed flow with its
// flow context, and the buffers the application layer made of the flow's
// bytes so far. The flow table (flow_table.hpp) and the application-layer
// parsers (app_layer.hpp) fill it; the rule matcher (matcher.hpp) reads it.
#pragma once

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rampart::ids {

// The application protocol of a flow: as tc_ids recognised it on the
// payload prefix (RAMPART_IDS_L7_* in rampart/ids.h, the same numbers),
// or as the engine's parsers found it later.
enum class AppProto : uint8_t {
  unknown = 0,
  http = 1,
  tls = 2,
  ssh = 3,
  smtp = 4,
  ftp = 5,
  pop3 = 6,
  imap = 7,
  dns = 8,
};

// "http", "tls", ...; "" for unknown (an alert's app_proto).
constexpr std::string_view app_proto_name(AppProto a) {
  switch (a) {
    case AppProto::http:
      return "http";
    case AppProto::tls:
      return "tls";
    case AppProto::ssh:
      return "ssh";
    case AppProto::smtp:
      return "smtp";
    case AppProto::ftp:
      return "ftp";
    case AppProto::pop3:
      return "pop3";
    case AppProto::imap:
      return "imap";
    case AppProto::dns:
      return "dns";
    default:
      return "";
  }
}

// The buffers a rule's content, pcre and size keywords can be bound to
// (Suricata's sticky buffers and the legacy http_* content modifiers).
// `payload` is the packet's own payload (dsize's bytes).
enum class Buffer : uint8_t {
  payload,
  // HTTP request
  http_method,          // "GET"
  http_uri,             // normalized: percent-decoded, "/./" and "//" folded
  http_uri_raw,         // as sent
  http_protocol,        // "HTTP/1.1"
  http_request_line,    // "GET /x HTTP/1.1"
  http_start,           // request line + CRLF + the raw headers + CRLF CRLF
  http_header,          // the headers, "Name: value\r\n" each, without Cookie (Suricata)
  http_header_raw,      // the headers as sent
  http_header_names,    // "\r\nName1\r\nName2\r\n\r\n"
  http_request_header,  // each "Name: value" (matched per header; see Inspection)
  http_host,            // the Host header's value, lowercase, without the port
  http_host_raw,        // the same as sent
  http_user_agent,
  http_cookie,
  http_content_type,
  http_accept,
  http_referer,
  http_request_body,  // the request body (dechunked), up to the flow limit
  // HTTP response
  http_stat_code,      // "200"
  http_stat_msg,       // "OK"
  http_response_line,  // "HTTP/1.1 200 OK"
  http_response_header_raw,
  http_server,
  http_location,
  http_response_body,  // file.data: the body (dechunked), up to the flow limit
  // others
  tls_sni,
  dns_query,     // the first question's name, dotted, without the trailing dot
  ssh_proto,     // "2.0"
  ssh_software,  // "OpenSSH_9.2p1"
  count
};
constexpr size_t kBufferCount = static_cast<size_t>(Buffer::count);

// The buffers of an HTTP request's head and of a response's (the HTTP
// parser sets them from it; http.header, its names, Content-Type and
// Cookie are in both: a milestone has those of its own direction's head).
inline const std::bitset<kBufferCount>& request_head_buffers() {
  static const auto mask = [] {
    std::bitset<kBufferCount> m;
    for (Buffer b :
         {Buffer::http_method, Buffer::http_uri, Buffer::http_uri_raw, Buffer::http_protocol,
          Buffer::http_request_line, Buffer::http_start, Buffer::http_header,
          Buffer::http_header_raw, Buffer::http_header_names, Buffer::http_request_header,
          Buffer::http_host, Buffer::http_host_raw, Buffer::http_user_agent, Buffer::http_cookie,
          Buffer::http_content_type, Buffer::http_accept, Buffer::http_referer})
      m.set(static_cast<size_t>(b));
    return m;
  }();
  return mask;
}
inline const std::bitset<kBufferCount>& response_head_buffers() {
  static const auto mask = [] {
    std::bitset<kBufferCount> m;
    for (Buffer b : {Buffer::http_stat_code, Buffer::http_stat_msg, Buffer::http_response_line,
                     Buffer::http_response_header_raw, Buffer::http_header,
                     Buffer::http_header_names, Buffer::http_content_type, Buffer::http_cookie,
                     Buffer::http_server, Buffer::http_location})
      m.set(static_cast<size_t>(b));
    return m;
  }();
  return mask;
}
// Of those, the ones whose bytes a head holds, all but the header names
// (made: "\r\nName\r\n..."): Inspection::heads may hold their bytes.
inline const std::bitset<kBufferCount>& head_text_buffers() {
  static const auto mask = [] {
    auto m = request_head_buffers() | response_head_buffers();
    m.reset(static_cast<size_t>(Buffer::http_header_names));
    return m;
  }();
  return mask;
}

// TCP flags as in the TCP header's 13th byte.
namespace tcp {
constexpr uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10, urg = 0x20,
                  ece = 0x40, cwr = 0x80;
}

// The packet and its place in the flow: what rule headers, flow:, flags,
// itype/icode and dsize test.
struct Packet {
  uint8_t family = 4;                    // 4 or 6
  std::array<uint8_t, 16> src{}, dst{};  // an IPv4 address in the first 4 bytes
  uint16_t sport = 0, dport = 0;         // host order; 0 for ICMP
  uint8_t ip_proto = 0;                  // IPPROTO_TCP (6), UDP (17), ICMP (1), ICMPv6 (58), ...
  uint8_t tcp_flags = 0;
  uint8_t icmp_type = 0, icmp_code = 0;
  bool to_server = true;     // from the flow's initiator (its first packet's source)
  bool established = false;  // TCP: the handshake completed; UDP: seen both ways
  AppProto app = AppProto::unknown;
};

// One inspection: a packet, and the buffers there are for it.
struct Inspection {
  Packet pkt;
  // Buffers present for this inspection (a buffer not present never
  // matches, so a rule on it does not match either). The views point into
  // the flow's state and the event, alive for the duration of the match.
  std::array<std::string_view, kBufferCount> buffer{};
  std::bitset<kBufferCount> present;
  // http_request_header: every header of the request as "Name: value"
  // (a content on this buffer matches if it matches one of them).
  const std::string_view* request_headers = nullptr;
  size_t request_header_count = 0;
  // Optional: one text holding all of them (and only other bytes between
  // them), which the matcher's prefilter scans in one call.
  std::string_view request_headers_text{};
  // HTTP: the request's head and the response's, as sent (empty when
  // none). Buffers of an HTTP head (head_text_buffers()) are mostly views into
  // one of them: the matcher's prefilter scans each head once for all of
  // their literals, and alone only those buffers whose bytes are not in a
  // head it scanned (a normalized URI, headers refolded, the header names).
  std::array<std::string_view, 2> heads{};
  // TCP: the direction's reassembled bytes, the last ones up to the flow
  // table's window, ending with this packet's payload; the new bytes (this
  // packet's) start at stream_new. Empty for other protocols. Rules on the
  // payload without absolute positions also match here, so a content split
  // across two segments matches; a hit counts only if its last content
  // ends in the new bytes (so it is reported once).
  std::string_view stream{};
  size_t stream_new = 0;
  // Where `stream` starts in its direction: the bytes delivered and lost
  // before its first one (so a position after a gap is past every one
  // before it). The matcher scans only what is new and remembers, by
  // position, the rules whose literal an earlier packet's bytes held.
  uint64_t stream_at = 0;
  // The producer knows `stream` ends with the payload, whole (delivered in
  // order, nothing trimmed or held after it): the matcher need not compare
  // them to know the stream's scan covers the payload's.
  bool payload_ends_stream = false;
  // An application milestone's inspection (AppLayer sets it), not the
  // packet's own: rules with no buffer to match (a header, flags, dsize,
  // flowbits alone) are the packet's and are not confirmed here too, or
  // one packet would match them twice.
  bool milestone = false;
  uint32_t dsize = 0;  // this packet's payload size (buffer[payload].size() unless truncated)
  // HTTP: the request these buffers are of (its number in the flow, from
  // 1; 0: none), and which of them an earlier inspection of the flow had
  // with the same bytes (a response's or a request body's milestone holds
  // the request's head again, a response body's milestone the response's
  // head): the matcher may reuse what it found there.
  uint64_t request_id = 0;
  std::bitset<kBufferCount> repeated;

  void set(Buffer b, std::string_view v) {
    buffer[static_cast<size_t>(b)] = v;
    present.set(static_cast<size_t>(b));
  }
  bool has(Buffer b) const { return present.test(static_cast<size_t>(b)); }
  std::string_view get(Buffer b) const { return buffer[static_cast<size_t>(b)]; }
};

}  // namespace rampart::ids

// SPDX-License-Identifier: Apache-2.0
// The IDS application layer on any bytes: the first byte picks the protocol
// hint and the split, the rest is cut into segments of alternating or
// chosen direction, with gaps and ends among them. Also the standalone
// parsers (URI, host, ClientHello, DNS) on the whole input. Each inspection
// is also matched against a few rules on the HTTP buffers three ways —
// as made, with its heads taken away (every buffer scanned alone), and
// with nothing an earlier milestone found reused — which must agree.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "app_layer.hpp"
#include "matcher.hpp"

using namespace rampart::ids;

namespace {
size_t touch(const Inspection& in) {
  // Read every buffer so ASan sees a dangling view.
  size_t n = 0;
  for (size_t i = 0; i < kBufferCount; ++i) {
    if (!in.present.test(i)) continue;
    for (char c : in.buffer[i]) n += static_cast<unsigned char>(c);
  }
  for (size_t i = 0; i < in.request_header_count; ++i) n += in.request_headers[i].size();
  // The head's texts, lent from the head or made, say the same: the
  // headers' text is each header and CRLF, and a request's http.header
  // is that without its Cookie lines.
  if (in.request_header_count > 0) {
    std::string all, header;
    for (size_t i = 0; i < in.request_header_count; ++i) {
      const std::string_view h = in.request_headers[i];
      all.append(h).append("\r\n");
      std::string name(h.substr(0, h.find(':')));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (name != "cookie") header.append(h).append("\r\n");
    }
    if (all != in.request_headers_text) std::abort();
    if (in.heads[1].empty() && header != in.get(Buffer::http_header)) std::abort();
  }
  return n;
}

// Short literals, so that fuzzed heads hold them often.
const RuleSet& rules() {
  static const auto set = [] {
    std::vector<Rule> r;
    const char* texts[] = {
        R"(alert http any any -> any any (http.uri; content:"a"; sid:1;))",
        R"(alert http any any -> any any (http.uri.raw; content:"%"; sid:2;))",
        R"(alert http any any -> any any (http.host; content:"a"; sid:3;))",
        R"(alert http any any -> any any (http.host.raw; content:"A"; sid:4;))",
        R"(alert http any any -> any any (http.header; content:"|0d 0a|"; content:"a"; distance:0; sid:5;))",
        R"(alert http any any -> any any (http.request_header; content:"a|3a 20|"; sid:6;))",
        R"(alert http any any -> any any (http.user_agent; content:"a"; sid:7;))",
        R"(alert http any any -> any any (http.cookie; content:"="; sid:8;))",
        R"(alert http any any -> any any (http.header_names; content:"|0d 0a|a"; nocase; sid:9;))",
        R"(alert http any any -> any any (http.stat_code; content:"2"; sid:10;))",
        R"(alert http any any -> any any (http.server; content:"a"; file.data; content:"a"; sid:11;))",
        R"(alert http any any -> any any (http.method; content:"G"; http.request_body; content:"a"; sid:12;))",
        R"(alert http any any -> any any (http.header.raw; content:"a:"; sid:13;))",
        R"(alert http any any -> any any (http.start; content:" a"; sid:14;))"};
    for (const char* t : texts) r.push_back(parse_rule(t, Variables::defaults()));
    return RuleSet::compile(std::move(r));
  }();
  return *set;
}

std::vector<uint32_t> sids(const std::vector<Match>& m) {
  std::vector<uint32_t> s;
  for (const auto& x : m) s.push_back(x.rule_ptr->sid);
  return s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string tmp;
  normalize_uri(in, tmp);
  normalize_host(in, tmp);
  std::string_view sni;
  (void)parse_client_hello_sni(in, sni);
  (void)parse_dns_query(in, tmp);
  if (size < 2) return 0;

  AppLimits limits;
  limits.http_max_head = 512;  // small, so the limits are reached
  limits.http_max_body = 256;
  limits.http_max_headers = 16;
  limits.http_max_pending = 2;
  limits.tls_max_hello = 1024;
  limits.dns_max_tcp_message = 256;
  limits.ssh_max_prebanner = 256;
  const uint8_t mode = data[0];
  AppLayer app(limits, static_cast<AppProto>(mode % 9));
  AppStats stats;
  size_t sum = 0;
  static Scratch scratch(rules());
  FlowBits as_made, alone;
  std::vector<Match> m1, m2, m3;
  auto emit = [&](const Inspection& i) {
    sum += touch(i);
    rules().match(i, as_made, scratch, m1);
    Inspection bare = i;
    bare.heads = {};
    rules().match(bare, alone, scratch, m2);
    FlowBits fresh;
    rules().match(bare, fresh, scratch, m3);
    if (sids(m1) != sids(m2) || sids(m1) != sids(m3)) std::abort();
  };
  Packet pkt;
  pkt.ip_proto = (mode & 0x80) ? 17 : 6;
  pkt.sport = 40000;
  pkt.dport = (mode & 0x40) ? 53 : 80;
  in.remove_prefix(1);
  // Segments: a control byte (direction, action, length) then its bytes.
  while (!in.empty()) {
    uint8_t ctl = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    pkt.to_server = !(ctl & 0x80);
    size_t len = std::min<size_t>((ctl & 0x3f) * 7 + 1, in.size());
    std::string_view seg = in.substr(0, len);
    in.remove_prefix(len);
    if (pkt.ip_proto == 17) {
      app.datagram(pkt, seg, static_cast<uint32_t>(seg.size() + (ctl & 0x40 ? 10 : 0)), stats,
                   emit);
    } else if ((ctl & 0x40) && (ctl & 0x3f) < 4) {
      app.gap(pkt, ctl & 0x3f ? len : 100000, stats, emit);
    } else if ((ctl & 0x40) && (ctl & 0x3f) == 4) {
      app.end(pkt, pkt.to_server, stats, emit);
    } else {
      app.stream(pkt, seg, stats, emit);
    }
  }
  if (app.memory() > 64 * 1024) std::abort();  // the limits above bound it well below
  return sum == 1 ? 1 : 0;
}

// SPDX-License-Identifier: Apache-2.0
// The IDS rule matcher (plugins/engines/ids/matcher.hpp): each keyword's
// semantics on hand-built inspections, flowbits across inspections, the
// stream view, thresholds with explicit times, and the ET Open files (read
// at run time) compiled whole, their rules firing on traffic built from
// them and not on ordinary traffic.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <numeric>
#include <sstream>

#include "app_layer.hpp"
#include "matcher.hpp"
#include "test_paths.hpp"

namespace rampart::ids {
namespace {

// A TCP packet to the server, established, from 192.0.2.1:40000 to
// 10.0.0.5:80, with `payload`.
Inspection tcp(std::string_view payload, uint16_t sport = 40000, uint16_t dport = 80) {
  Inspection in;
  in.pkt.family = 4;
  in.pkt.src = {192, 0, 2, 1};
  in.pkt.dst = {10, 0, 0, 5};
  in.pkt.sport = sport;
  in.pkt.dport = dport;
  in.pkt.ip_proto = 6;
  in.pkt.tcp_flags = tcp::psh | tcp::ack;
  in.pkt.to_server = true;
  in.pkt.established = true;
  in.set(Buffer::payload, payload);
  in.dsize = static_cast<uint32_t>(payload.size());
  return in;
}

// One RuleSet, its scratch and one flow's bits.
struct Env {
  std::shared_ptr<const RuleSet> set;
  std::unique_ptr<Scratch> scratch;
  FlowBits bits;
  std::vector<Match> out;

  explicit Env(std::initializer_list<std::string_view> texts) {
    std::vector<Rule> rules;
    for (auto t : texts) rules.push_back(parse_rule(t, Variables::defaults()));
    init(std::move(rules));
  }
  explicit Env(std::vector<Rule> rules) { init(std::move(rules)); }
  void init(std::vector<Rule> rules) {
    set = RuleSet::compile(std::move(rules));
    scratch = std::make_unique<Scratch>(*set);
  }
  std::vector<uint32_t> sids(const Inspection& in) {
    set->match(in, bits, *scratch, out);
    std::vector<uint32_t> s;
    for (const auto& m : out) s.push_back(m.rule_ptr->sid);
    return s;
  }
  bool fires(const Inspection& in) { return !sids(in).empty(); }
};

bool payload_fires(std::string_view rule, std::string_view payload) {
  Env e{rule};
  return e.fires(tcp(payload));
}

constexpr std::string_view kTcp = "alert tcp any any -> any any ";

std::string R(std::string_view opts) {
  return std::string(kTcp) + "(" + std::string(opts) + " sid:1;)";
}

TEST(IdsMatcher, OffsetAndDepth) {
  const auto r = R(R"(content:"abc"; offset:2; depth:3;)");
  EXPECT_TRUE(payload_fires(r, "xxabc"));
  EXPECT_FALSE(payload_fires(r, "xabcx"));   // before the offset
  EXPECT_FALSE(payload_fires(r, "xxxabc"));  // past offset + depth
  EXPECT_TRUE(payload_fires(R(R"(content:"abc"; depth:3;)"), "abcdef"));
  EXPECT_FALSE(payload_fires(R(R"(content:"abc"; depth:3;)"), "xabc"));
}

TEST(IdsMatcher, DistanceAndWithin) {
  const auto r = R(R"(content:"a"; content:"b"; distance:1; within:2;)");
  EXPECT_TRUE(payload_fires(r, "a.b"));
  EXPECT_FALSE(payload_fires(r, "ab"));  // distance 1 skips the byte after 'a'
  EXPECT_TRUE(payload_fires(r, "a..b"));
  EXPECT_FALSE(payload_fires(r, "a...b"));  // not within 2 bytes after the skip
  // Negative distance looks back over the previous match.
  const auto back = R(R"(content:"cd"; content:"bc"; distance:-3; within:3;)");
  EXPECT_TRUE(payload_fires(back, "abcd"));
  EXPECT_FALSE(payload_fires(back, "xxcd"));
  // distance:0 alone: anywhere after.
  EXPECT_TRUE(payload_fires(R(R"(content:"a"; content:"b"; distance:0;)"), "a.....b"));
  EXPECT_FALSE(payload_fires(R(R"(content:"a"; content:"b"; distance:0;)"), "b.....a"));
}

TEST(IdsMatcher, RelativeContentsBacktrack) {
  // The first 'a' is followed by 'x': the matcher retries at the next 'a'.
  const auto r = R(R"(content:"a"; content:"b"; within:1;)");
  EXPECT_TRUE(payload_fires(r, "axab"));
  EXPECT_FALSE(payload_fires(r, "axaxb"));
  // Three levels deep.
  const auto deep = R(R"(content:"k"; content:"=";  within:1; content:"1"; within:1;)");
  EXPECT_TRUE(payload_fires(deep, "k=0 k=1"));
  EXPECT_FALSE(payload_fires(deep, "k=0 k=2"));
}

TEST(IdsMatcher, NegatedNocaseHexStartsEnds) {
  EXPECT_TRUE(payload_fires(R(R"(content:"GET"; content:!"evil";)"), "GET /good"));
  EXPECT_FALSE(payload_fires(R(R"(content:"GET"; content:!"evil";)"), "GET /evil"));
  // A negated relative content only looks in its window.
  const auto w = R(R"(content:"GET"; content:!"x"; distance:0; within:2;)");
  EXPECT_TRUE(payload_fires(w, "GET ..x"));
  EXPECT_FALSE(payload_fires(w, "GET x"));
  EXPECT_TRUE(payload_fires(R(R"(content:"AbC"; nocase;)"), "xxABcxx"));
  EXPECT_FALSE(payload_fires(R(R"(content:"AbC";)"), "xxABcxx"));
  EXPECT_TRUE(payload_fires(R(R"(content:"|00 01|A|ff|";)"), std::string("z\x00\x01\x41\xff", 5)));
  EXPECT_FALSE(payload_fires(R(R"(content:"|00 01|A|ff|";)"), std::string("z\x00\x02\x41\xff", 5)));
  EXPECT_TRUE(payload_fires(R(R"(content:"GET "; startswith;)"), "GET /"));
  EXPECT_FALSE(payload_fires(R(R"(content:"GET "; startswith;)"), " GET /"));
  EXPECT_TRUE(payload_fires(R(R"(content:".exe"; endswith;)"), "a.exe.b.exe"));
  EXPECT_FALSE(payload_fires(R(R"(content:".exe"; endswith;)"), "a.exe "));
}

TEST(IdsMatcher, ByteTest) {
  EXPECT_TRUE(payload_fires(R("byte_test:2,>,256,0;"), std::string("\x01\x01", 2)));
  EXPECT_FALSE(payload_fires(R("byte_test:2,>,256,0;"), std::string("\x00\xff", 2)));
  EXPECT_TRUE(payload_fires(R("byte_test:2,=,1,0,little;"), std::string("\x01\x00", 2)));
  EXPECT_FALSE(payload_fires(R("byte_test:2,=,1,0;"), std::string("\x01\x00", 2)));
  EXPECT_TRUE(payload_fires(R("byte_test:3,=,123,0,string,dec;"), "123x"));
  EXPECT_FALSE(payload_fires(R("byte_test:3,=,123,0,string,dec;"), "124x"));
  EXPECT_TRUE(payload_fires(R("byte_test:2,=,255,0,string,hex;"), "ff"));
  EXPECT_FALSE(payload_fires(R("byte_test:2,=,255,0,string,hex;"), "zz"));
  EXPECT_TRUE(payload_fires(R("byte_test:1,&,0x80,0;"), "\x81"));
  EXPECT_FALSE(payload_fires(R("byte_test:1,&,0x80,0;"), "\x01"));
  EXPECT_TRUE(payload_fires(R("byte_test:1,!&,0x80,0;"), "\x01"));
  EXPECT_TRUE(payload_fires(R("byte_test:1,=,3,0,bitmask 0x30;"), "\x30"));
  EXPECT_TRUE(payload_fires(R("byte_test:1,!=,3,0;"), "\x04"));
  EXPECT_FALSE(payload_fires(R("byte_test:1,!=,3,0;"), "\x03"));
  EXPECT_TRUE(payload_fires(R(R"(content:"L"; byte_test:1,>=,5,1,relative;)"), "xL.\x05"));
  EXPECT_FALSE(payload_fires(R(R"(content:"L"; byte_test:1,>=,5,1,relative;)"), "xL.\x04"));
  EXPECT_FALSE(payload_fires(R("byte_test:4,>,0,0;"), "abc"));  // past the end
}

TEST(IdsMatcher, ByteJumpMovesTheCursor) {
  const auto r = R(R"(content:"L"; byte_jump:1,0,relative; content:"Z"; within:1;)");
  EXPECT_TRUE(payload_fires(r,
                            "L\x02"
                            "abZ"));
  EXPECT_FALSE(payload_fires(r,
                             "L\x01"
                             "abZ"));
  EXPECT_FALSE(payload_fires(r,
                             "L\x09"
                             "abZ"));  // past the end
  const auto s = R(R"(byte_jump:2,0,string,dec,from_beginning; content:"Z"; within:1;)");
  EXPECT_TRUE(payload_fires(s, "05abcZ"));
  EXPECT_FALSE(payload_fires(s, "04abcZ"));
  const auto h =
      R(R"(byte_jump:1,0,string,hex,multiplier 2,post_offset -1; content:"Z"; within:1;)");
  EXPECT_TRUE(payload_fires(h, "2abcZ"));  // after the digit (1), 2 * 2, back 1: 4
  EXPECT_FALSE(payload_fires(h, "2abZc"));
  const auto a = R(R"(byte_jump:1,0,align; content:"Z"; within:1;)");
  EXPECT_TRUE(payload_fires(a,
                            "\x01"
                            "....Z"));  // 1 + align(1)=4 -> 5
  EXPECT_FALSE(payload_fires(a,
                             "\x01"
                             "Z"));
}

TEST(IdsMatcher, IsDataAt) {
  const auto r = R(R"(content:"A"; isdataat:2,relative;)");
  EXPECT_TRUE(payload_fires(r, "Axx"));  // two bytes after the match
  EXPECT_FALSE(payload_fires(r, "Ax"));
  const auto end = R(R"(content:"END"; isdataat:!1,relative;)");
  EXPECT_TRUE(payload_fires(end, "the END"));
  EXPECT_FALSE(payload_fires(end, "the END."));
  EXPECT_TRUE(payload_fires(R("isdataat:9;"), "0123456789"));
  EXPECT_FALSE(payload_fires(R("isdataat:10;"), "0123456789"));
}

TEST(IdsMatcher, PcreRelativeAndBufferFlags) {
  EXPECT_TRUE(payload_fires(R(R"(pcre:"/^ab+c/";)"), "abbbc"));
  EXPECT_FALSE(payload_fires(R(R"(pcre:"/^ab+c/";)"), "xabbbc"));
  EXPECT_TRUE(payload_fires(R(R"(pcre:"/EVIL/i";)"), "an evil one"));
  const auto rel = R(R"(content:"X"; pcre:"/^\d+\;/R";)");
  EXPECT_TRUE(payload_fires(rel, "aX123;"));
  EXPECT_FALSE(payload_fires(rel, "aX 123;"));
  EXPECT_TRUE(payload_fires(rel, "X;X42;"));  // the second X, by backtracking
  EXPECT_TRUE(payload_fires(R(R"(content:"a"; pcre:!"/b/";)"), "aaa"));
  EXPECT_FALSE(payload_fires(R(R"(content:"a"; pcre:!"/b/";)"), "aab"));

  Env e{R"(alert http any any -> any any (pcre:"/\/admin\/[a-z]+\.php/U"; sid:7;))"};
  auto in = tcp("GET /admin/x.php HTTP/1.1\r\n\r\n");
  in.pkt.app = AppProto::http;
  EXPECT_TRUE(e.sids(in).empty());  // the payload does not count: the URI does
  in.set(Buffer::http_uri, "/admin/x.php");
  EXPECT_EQ(e.sids(in), std::vector<uint32_t>{7});
  in.set(Buffer::http_uri, "/admin/1.php");
  EXPECT_TRUE(e.sids(in).empty());
}

TEST(IdsMatcher, PcreThatPcre2RefusesIsLeftOutAlone) {
  std::vector<Rule> rules;
  rules.push_back(parse_rule(R(R"(content:"x"; pcre:"/(unclosed/";)"), Variables::defaults()));
  rules.push_back(
      parse_rule(R"(alert tcp any any -> any any (content:"ok"; sid:2;))", Variables::defaults()));
  Env e(std::move(rules));
  ASSERT_EQ(e.set->refused().size(), 1u);
  EXPECT_EQ(e.set->refused()[0].sid, 1u);
  EXPECT_EQ(e.set->refused()[0].keyword, "pcre");
  EXPECT_NE(e.set->refused()[0].message.find("sid 1: pcre"), std::string::npos);
  ASSERT_EQ(e.set->rules().size(), 1u);
  EXPECT_EQ(e.sids(tcp("ok x")), std::vector<uint32_t>{2});
}

TEST(IdsMatcher, PcreIsNotRunWhenThePrefilterMisses) {
  // A pcre that would match anything; its rule's literal is absent, so
  // the rule is not even a candidate (a catastrophic regex would not run).
  Env e{R(R"(content:"needle"; pcre:"/(a+)+$/";)")};
  EXPECT_EQ(e.set->unfiltered_rules(), 0u);
  EXPECT_FALSE(e.fires(tcp(std::string(5000, 'a') + "!")));
  EXPECT_TRUE(e.fires(tcp("needle aaa")));
}

TEST(IdsMatcher, FlowbitsAcrossInspections) {
  Env e{
      R"(alert tcp any any -> any any (content:"CMD"; flowbits:isset,auth; sid:2;))",
      R"(alert tcp any any -> any any (content:"LOGIN"; flowbits:set,auth; flowbits:noalert; sid:1;))",
      R"(alert tcp any any -> any any (content:"CMD"; flowbits:isnotset,auth; sid:3;))",
      R"(alert tcp any any -> any any (content:"LOGOUT"; flowbits:unset,auth; sid:4;))"};
  EXPECT_EQ(e.sids(tcp("CMD")), std::vector<uint32_t>{3});
  EXPECT_TRUE(e.sids(tcp("LOGIN")).empty());  // noalert: the bit only
  EXPECT_EQ(e.sids(tcp("CMD")), std::vector<uint32_t>{2});
  EXPECT_EQ(e.sids(tcp("LOGOUT")), std::vector<uint32_t>{4});
  EXPECT_EQ(e.sids(tcp("CMD")), std::vector<uint32_t>{3});
  // Set and tested in one packet: the setter runs first.
  FlowBits fresh;
  e.set->match(tcp("LOGIN CMD"), fresh, *e.scratch, e.out);
  ASSERT_EQ(e.out.size(), 1u);
  EXPECT_EQ(e.out[0].rule_ptr->sid, 2u);
  // Another flow's bits are its own.
  FlowBits other;
  e.set->match(tcp("CMD"), other, *e.scratch, e.out);
  ASSERT_EQ(e.out.size(), 1u);
  EXPECT_EQ(e.out[0].rule_ptr->sid, 3u);
}

TEST(IdsMatcher, FlowbitGroupsAndToggle) {
  Env e{
      R"(alert tcp any any -> any any (content:"A"; flowbits:set,a; flowbits:noalert; sid:1;))",
      R"(alert tcp any any -> any any (content:"B"; flowbits:toggle,b; flowbits:noalert; sid:2;))",
      R"(alert tcp any any -> any any (content:"?"; flowbits:isset,a|b; sid:10;))",
      R"(alert tcp any any -> any any (content:"?"; flowbits:isset,a&b; sid:11;))"};
  EXPECT_TRUE(e.sids(tcp("?")).empty());
  e.sids(tcp("A"));
  EXPECT_EQ(e.sids(tcp("?")), std::vector<uint32_t>{10});
  e.sids(tcp("B"));
  EXPECT_EQ(e.sids(tcp("?")), (std::vector<uint32_t>{10, 11}));
  e.sids(tcp("B"));  // toggled off again
  EXPECT_EQ(e.sids(tcp("?")), std::vector<uint32_t>{10});
}

TEST(IdsMatcher, FlagsDsizeIcmp) {
  Env f{"alert tcp any any -> any any (flags:S,12; sid:1;)"};
  auto syn = tcp("");
  syn.pkt.tcp_flags = tcp::syn | tcp::ece | tcp::cwr;
  EXPECT_TRUE(f.fires(syn));
  syn.pkt.tcp_flags = tcp::syn | tcp::ack;
  EXPECT_FALSE(f.fires(syn));
  Env d{R(R"(content:"a"; dsize:<5;)")};
  EXPECT_TRUE(d.fires(tcp("abcd")));
  EXPECT_FALSE(d.fires(tcp("abcde")));
  Env i{"alert icmp any any -> any any (itype:8; icode:0; sid:1;)"};
  auto ping = tcp("");
  ping.pkt.ip_proto = 1;
  ping.pkt.sport = ping.pkt.dport = 0;
  ping.pkt.icmp_type = 8;
  EXPECT_TRUE(i.fires(ping));
  ping.pkt.icmp_type = 0;
  EXPECT_FALSE(i.fires(ping));
  ping.pkt.icmp_type = 8;
  ping.pkt.ip_proto = 17;  // not ICMP at all
  EXPECT_FALSE(i.fires(ping));
}

TEST(IdsMatcher, HeaderAddressesPortsDirectionAndFlow) {
  Env n{R"(alert tcp !192.0.2.0/24 any -> any ![22,23] (content:"x"; sid:1;))"};
  auto in = tcp("x", 40000, 80);
  EXPECT_FALSE(n.fires(in));  // the source is in 192.0.2.0/24
  in.pkt.src = {198, 51, 100, 7};
  EXPECT_TRUE(n.fires(in));
  in.pkt.dport = 22;
  EXPECT_FALSE(n.fires(in));

  Env bi{R"(alert tcp 10.0.0.5 80 <> 192.0.2.1 any (content:"x"; sid:1;))"};
  Env one{R"(alert tcp 10.0.0.5 80 -> 192.0.2.1 any (content:"x"; sid:1;))"};
  const auto fwd = tcp("x", 40000, 80);  // 192.0.2.1:40000 -> 10.0.0.5:80
  EXPECT_TRUE(bi.fires(fwd));
  EXPECT_FALSE(one.fires(fwd));

  Env udp{R"(alert udp any any -> any 53 (content:"x"; sid:1;))"};
  EXPECT_FALSE(udp.fires(tcp("x", 40000, 53)));  // TCP, not UDP
  auto u = tcp("x", 40000, 53);
  u.pkt.ip_proto = 17;
  EXPECT_TRUE(udp.fires(u));

  Env fl{R(R"(flow:established,to_client; content:"x";)")};
  auto resp = tcp("x");
  EXPECT_FALSE(fl.fires(resp));
  resp.pkt.to_server = false;
  EXPECT_TRUE(fl.fires(resp));
  resp.pkt.established = false;
  EXPECT_FALSE(fl.fires(resp));

  Env app{R"(alert http any any -> any any (content:"x"; sid:1;))"};
  auto h = tcp("x");
  EXPECT_FALSE(app.fires(h));  // not (yet) known as HTTP
  h.pkt.app = AppProto::http;
  EXPECT_TRUE(app.fires(h));
}

Inspection http_get(std::string_view uri, std::string_view ua) {
  auto in = tcp("GET ...");
  in.pkt.app = AppProto::http;
  in.set(Buffer::http_method, "GET");
  in.set(Buffer::http_uri, uri);
  in.set(Buffer::http_uri_raw, uri);
  in.set(Buffer::http_user_agent, ua);
  return in;
}

TEST(IdsMatcher, RulesWithoutABufferAreThePacketsNotItsMilestones) {
  Env e{R"(alert tcp any any -> any 80 (msg:"flags alone"; flags:PA; sid:1;))",
        R"(alert tcp any any -> any 80 (msg:"dsize alone"; dsize:0; sid:2;))",
        R"(alert http any any -> any any (http.uri; content:"/x"; sid:3;))"};
  // The request's milestone: its buffers, the packet's header and flags.
  Inspection milestone;
  milestone.pkt = tcp("").pkt;
  milestone.pkt.app = AppProto::http;
  milestone.milestone = true;
  milestone.set(Buffer::http_uri, "/x");
  EXPECT_EQ(e.sids(milestone), std::vector<uint32_t>{3});
  // The packet itself (which completed it): the header rule, once.
  EXPECT_EQ(e.sids(tcp("GET /x HTTP/1.1\r\n\r\n")), std::vector<uint32_t>{1});
  auto empty = tcp("");
  EXPECT_EQ(e.sids(empty), (std::vector<uint32_t>{1, 2}));
}

TEST(IdsMatcher, HttpBuffersSizesAndTransforms) {
  Env e{
      R"(alert http any any -> any any (http.method; content:"GET"; http.uri; content:"/x"; bsize:2; sid:1;))",
      R"(alert http any any -> any any (http.user_agent; to_lowercase; content:"sqlmap"; sid:2;))",
      R"(alert http any any -> any any (urilen:>10; http.uri; content:"/"; sid:3;))",
      R"(alert http any any -> any any (content:"/y"; http_uri; content:"GET"; http_method; sid:4;))"};
  EXPECT_EQ(e.sids(http_get("/x", "curl")), std::vector<uint32_t>{1});
  EXPECT_TRUE(e.sids(http_get("/xx", "curl")).empty());  // bsize 3
  EXPECT_EQ(e.sids(http_get("/a", "SQLMap/1.0")), std::vector<uint32_t>{2});
  EXPECT_EQ(e.sids(http_get("/0123456789", "x")), std::vector<uint32_t>{3});
  EXPECT_EQ(e.sids(http_get("/yes", "x")), std::vector<uint32_t>{4});
  auto post = http_get("/yes", "x");
  post.set(Buffer::http_method, "POST");
  EXPECT_TRUE(e.sids(post).empty());
}

// A request's later milestones (its body, its response) hold its head's
// buffers again (Inspection::repeated): the matcher takes the candidates
// they made at the request_headers milestone instead of scanning them.
TEST(IdsMatcher, ARequestsHeadIsScannedOnceForAllItsMilestones) {
  Env e{
      R"(alert http any any -> any any (http.uri; content:"/admin-panel"; http.stat_code; content:"200"; sid:1;))"};
  auto request = http_get("/admin-panel", "curl");
  request.request_id = 1;
  EXPECT_TRUE(e.sids(request).empty()) << "no response yet";
  auto response = http_get("/admin-panel", "curl");
  response.request_id = 1;
  response.repeated = response.present;
  response.set(Buffer::http_stat_code, "200");
  EXPECT_EQ(e.sids(response), std::vector<uint32_t>{1}) << "the request's candidate, not rescanned";
  // Another request: nothing kept for it, its buffers scanned.
  auto other = response;
  other.request_id = 2;
  EXPECT_EQ(e.sids(other), std::vector<uint32_t>{1});
  auto miss = http_get("/index.html", "curl");
  miss.request_id = 3;
  EXPECT_TRUE(e.sids(miss).empty());
  auto miss_response = miss;
  miss_response.repeated = miss_response.present;
  miss_response.set(Buffer::http_stat_code, "200");
  EXPECT_TRUE(e.sids(miss_response).empty());
}

TEST(IdsMatcher, RequestHeadersOneByOneWithHeaderLowercase) {
  Env e{
      R"(alert http any any -> any any (http.request_header; header_lowercase; content:"x-token|3a 20|Secret"; startswith; sid:1;))"};
  auto in = http_get("/", "x");
  const std::string_view headers[] = {"Host: a", "X-Token: Secret", "Accept: */*"};
  in.request_headers = headers;
  in.request_header_count = 3;
  ASSERT_EQ(e.sids(in), std::vector<uint32_t>{1});
  EXPECT_EQ(e.out[0].buffer, Buffer::http_request_header);
  EXPECT_EQ(e.out[0].offset, 0u);
  const std::string_view lower_value[] = {"X-Token: secret"};  // the value is not lowercased
  in.request_headers = lower_value;
  in.request_header_count = 1;
  EXPECT_TRUE(e.sids(in).empty());
}

TEST(IdsMatcher, RequestHeadersInOneTextArePrefilteredInOneScanAndConfirmedOneByOne) {
  Env e{
      R"(alert http any any -> any any (http.request_header; content:"X-Token|3a 20|Secret"; startswith; sid:1;))",
      R"(alert http any any -> any any (http.request_header; content:"Host|3a 20|a|0d 0a|Accept"; sid:2;))"};
  const std::string text = "Host: a\r\nX-Token: Secret\r\nAccept: */*\r\n";
  const std::string_view all(text);
  const std::string_view headers[] = {all.substr(0, 7), all.substr(9, 15), all.substr(26, 11)};
  ASSERT_EQ(headers[1], "X-Token: Secret");
  ASSERT_EQ(headers[2], "Accept: */*");
  auto in = http_get("/", "x");
  in.request_headers = headers;
  in.request_header_count = 3;
  in.request_headers_text = all;
  // sid 2's literal lies across two headers in the text: a candidate of
  // the one scan, refused by the confirmation header by header.
  EXPECT_EQ(e.sids(in), std::vector<uint32_t>{1});
  EXPECT_EQ(e.out[0].offset, 0u);
  in.request_headers_text = {};  // scanned one by one: the same
  EXPECT_EQ(e.sids(in), std::vector<uint32_t>{1});
}

// Inspection::heads and the candidates a head made at its first milestone,
// taken again at the later ones, only spare scans: an HTTP head scanned
// once for every head buffer's literals finds each rule that scanning each
// buffer alone, at every milestone, finds, whether the buffer's bytes lie in the head (a head as
// sent) or were made from it (a normalized URI, a lowercased host, headers padded, folded, repeated
// or with a Cookie line left out between two others).
TEST(IdsMatcher, HeadsScannedOnceFindWhatEachBufferScannedAloneFinds) {
  Env e{
      R"(alert http any any -> any any (http.uri; content:"/a/d.html"; sid:1;))",  // normalized
      R"(alert http any any -> any any (http.uri.raw; content:"/a/./b"; sid:2;))",
      R"(alert http any any -> any any (http.host; content:"www.example.com"; sid:3;))",
      R"(alert http any any -> any any (http.host.raw; content:"WWW.Example"; sid:4;))",
      R"(alert http any any -> any any (http.user_agent; content:"curl/8"; sid:5;))",
      // Across the place the Cookie line was taken out of http.header:
      R"(alert http any any -> any any (http.header; content:"agent|0d 0a|Accept|3a|"; sid:6;))",
      R"(alert http any any -> any any (http.header; content:"X-Pad|3a 20|p q"; sid:7;))",
      R"(alert http any any -> any any (http.request_header; content:"X-Pad|3a 20|p q"; sid:8;))",
      R"(alert http any any -> any any (http.accept; content:"a, b"; sid:9;))",  // repeated
      R"(alert http any any -> any any (http.user_agent; content:"fold ed"; sid:10;))",
      R"(alert http any any -> any any (http.method; content:"GET"; sid:11;))",
      R"(alert http any any -> any any (http.stat_code; content:"404"; sid:12;))",
      R"(alert http any any -> any any (http.server; content:"nginx"; sid:13;))",
      R"(alert http any any -> any any (http.header; content:"Server|3a 20|nginx"; sid:14;))",
      R"(alert http any any -> any any (http.cookie; content:"sid=42"; sid:15;))",
      R"(alert http any any -> any any (http.header.raw; content:"X-Pad|3a 20 20|p"; sid:16;))",
      R"(alert http any any -> any any (http.start; content:"HTTP/1.1|0d 0a|Host"; sid:17;))",
      R"(alert http any any -> any any (http.header_names; content:"|0d 0a|Host|0d 0a|"; sid:18;))",
      // on the response body's milestone, its head's candidates taken from its headers' one
      R"(alert http any any -> any any (http.stat_code; content:"404"; file.data; content:"gone"; sid:19;))",
      R"(alert http any any -> any any (file.data; content:"gone"; http.server; content:"nginx"; sid:20;))"};
  const std::string requests[] = {
      // as sent: every buffer but the names lies in the head
      "GET /a/b.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.0\r\n"
      "Accept: */*\r\n\r\n",
      // made: normalized, lowercased, padded, Cookie between two, repeated, folded
      "GET /a/./b//../d%2Ehtml HTTP/1.1\r\nHost: WWW.Example.COM:8080\r\n"
      "User-Agent: curl/8.0 agent\r\nCookie: sid=42\r\nAccept: a\r\nAccept: b\r\n"
      "X-Pad:  p q  \r\n\r\n",
      "GET / HTTP/1.1\nHost: www.example.com\nUser-Agent: fold\n ed\n\n",
      // as sent but for the Cookie line http.header leaves out
      "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: x agent\r\nCookie: sid=42\r\n"
      "Accept: */*\r\n\r\n"};
  const std::string response =
      "HTTP/1.1 404 Not Found\r\nServer: nginx\r\nContent-Length: 4\r\n\r\ngone";
  AppLimits limits;
  AppStats stats;
  std::vector<uint32_t> with, alone;
  size_t covered = 0;
  for (const auto& req : requests) {
    AppLayer app(limits, AppProto::http);
    FlowBits b1, b2;  // (the response's milestone takes the request's candidates)
    for (bool to_server : {true, false}) {
      Packet p;
      p.ip_proto = 6;
      p.sport = to_server ? 40000 : 80;
      p.dport = to_server ? 80 : 40000;
      p.to_server = to_server;
      p.established = true;
      app.stream(p, to_server ? req : response, stats, [&](const Inspection& in) {
        std::vector<Match> m1, m2, m3;
        e.set->match(in, b1, *e.scratch, m1);
        Inspection bare = in;
        bare.heads = {};  // every buffer scanned alone
        e.set->match(bare, b2, *e.scratch, m2);
        FlowBits fresh;  // and nothing an earlier milestone found taken again
        e.set->match(bare, fresh, *e.scratch, m3);
        ASSERT_EQ(m1.size(), m2.size());
        ASSERT_EQ(m1.size(), m3.size());
        for (size_t i = 0; i < m1.size(); ++i) {
          EXPECT_EQ(m1[i].rule_ptr->sid, m2[i].rule_ptr->sid);
          EXPECT_EQ(m1[i].offset, m2[i].offset);
          EXPECT_EQ(m1[i].rule_ptr->sid, m3[i].rule_ptr->sid);
          EXPECT_EQ(m1[i].offset, m3[i].offset);
          with.push_back(m1[i].rule_ptr->sid);
          alone.push_back(m2[i].rule_ptr->sid);
        }
        // The head as sent lends its bytes: its header views lie in it.
        const auto t = reinterpret_cast<uintptr_t>(in.heads[0].data());
        const auto h = reinterpret_cast<uintptr_t>(in.get(Buffer::http_header).data());
        if (in.milestone && to_server && h >= t && h < t + in.heads[0].size()) ++covered;
      });
    }
  }
  EXPECT_EQ(with, alone);
  std::sort(with.begin(), with.end());
  with.erase(std::unique(with.begin(), with.end()), with.end());
  std::vector<uint32_t> every(20);
  std::iota(every.begin(), every.end(), 1u);
  EXPECT_EQ(with, every);
  EXPECT_EQ(covered, 1u) << "the first request's http.header is a view of its head";
}

// Vectorscan 5.4.9 misses a lone one-byte literal compiled with
// HS_FLAG_SINGLEMATCH at offsets 64 and on of a block longer than 64 bytes:
// a rule prefiltered on one byte must still fire wherever the byte is.
TEST(IdsMatcher, AOneByteLiteralIsFoundPast64) {
  Env e{R(R"(content:"%";)"),
        R"(alert http any any -> any any (http.uri.raw; content:"|00|"; sid:2;))"};
  for (size_t n : {1, 63, 64, 65, 66, 67, 100, 200, 1500}) {
    for (size_t pos : {size_t{0}, n / 2, n - 1}) {
      std::string p(n, 'a');
      p[pos] = '%';
      EXPECT_EQ(e.sids(tcp(p)), std::vector<uint32_t>{1}) << n << " bytes, at " << pos;
      std::string uri(n, '/');
      uri[pos] = '\0';
      auto in = http_get(uri, "x");
      in.set(Buffer::http_uri_raw, uri);
      EXPECT_EQ(e.sids(in), std::vector<uint32_t>{2}) << n << " bytes, at " << pos;
    }
  }
}

TEST(IdsMatcher, MatchReportsTheLastContent) {
  Env e{R(R"(content:"ab"; content:"cd"; distance:0;)")};
  auto s = e.sids(tcp("xxabyycdzz"));
  ASSERT_EQ(e.out.size(), 1u);
  EXPECT_EQ(e.out[0].buffer, Buffer::payload);
  EXPECT_FALSE(e.out[0].in_stream);
  EXPECT_EQ(e.out[0].offset, 6u);
  EXPECT_EQ(e.out[0].length, 2u);
}

TEST(IdsMatcher, StreamRuleSplitAcrossSegmentsMatchesOnce) {
  Env e{R(R"(content:"attack"; content:"now"; distance:0;)"),
        R"(alert tcp any any -> any any (content:"attack"; depth:6; sid:2;))"};
  std::string stream = "xxatt";
  auto seg1 = tcp("xxatt");
  seg1.stream = stream;
  seg1.stream_new = 0;
  EXPECT_TRUE(e.sids(seg1).empty());
  stream += "ack now";
  auto seg2 = tcp("ack now");
  seg2.stream = stream;
  seg2.stream_new = 5;
  ASSERT_EQ(e.sids(seg2), std::vector<uint32_t>{1});  // sid 2 has an absolute depth: never
  EXPECT_TRUE(e.out[0].in_stream);
  EXPECT_EQ(e.out[0].offset, 9u);  // "now" in the stream
  stream += "..";
  auto seg3 = tcp("..");
  seg3.stream = stream;
  seg3.stream_new = 12;
  EXPECT_TRUE(e.sids(seg3).empty());  // the same bytes again: no second match
  // A later occurrence ending in new bytes matches again.
  stream += "attack now";
  auto seg4 = tcp("attack now");
  seg4.stream = stream;
  seg4.stream_new = 14;
  ASSERT_EQ(e.sids(seg4), (std::vector<uint32_t>{1, 2}));
  EXPECT_FALSE(e.out[0].in_stream);  // whole in the packet itself
}

// A direction's stream delivered packet by packet, as the flow table
// hands it to the matcher: each inspection's view is the whole stream so
// far (or its last `window` bytes), the new bytes last.
struct Stream {
  std::string bytes;
  size_t window = SIZE_MAX;
  Inspection add(std::string_view more) {
    const size_t before = bytes.size();
    bytes += more;
    Inspection in = tcp(more);
    const size_t start = bytes.size() > window ? bytes.size() - window : 0;
    in.stream = std::string_view(bytes).substr(start);
    in.stream_new = before > start ? before - start : 0;
    in.stream_at = start;
    return in;
  }
};

// The matcher scans only a packet's new bytes (and the longest literal's
// length before them): a rule whose prefilter literal came packets
// earlier is still tried while that literal is in the view.
TEST(IdsMatcher, ALiteralFromEarlierPacketsStillMakesItsRuleACandidate) {
  Env e{R(R"(content:"a-long-prefilter-literal"; content:"end"; distance:0;)")};
  Stream st;
  EXPECT_TRUE(e.sids(st.add("xx a-long-prefilter-literal ")).empty());
  EXPECT_TRUE(e.sids(st.add(std::string(3000, '.'))).empty());
  EXPECT_TRUE(e.sids(st.add(std::string(1000, ','))).empty());
  ASSERT_EQ(e.sids(st.add("the end")), std::vector<uint32_t>{1});
  EXPECT_TRUE(e.out[0].in_stream);

  // Out of the view (a window of 256): the literal is gone, nothing left.
  Env w{R(R"(content:"a-long-prefilter-literal"; content:"end"; distance:0;)")};
  Stream small{"", 256};
  EXPECT_TRUE(w.sids(small.add("a-long-prefilter-literal")).empty());
  EXPECT_TRUE(w.sids(small.add(std::string(300, '.'))).empty());
  EXPECT_TRUE(w.sids(small.add("end")).empty());
  EXPECT_EQ(w.sids(small.add("a-long-prefilter-literal, the end")), std::vector<uint32_t>{1});
}

// More candidates than a flow remembers (FlowBits::kMaxPending): the
// matcher scans the whole view instead, and misses none.
TEST(IdsMatcher, MoreStreamCandidatesThanRememberedAreAllTried) {
  std::vector<Rule> rules;
  std::string first;
  for (uint32_t i = 1; i <= 80; ++i) {
    const std::string lit = "literal-number-" + std::to_string(1000 + i);
    rules.push_back(parse_rule("alert tcp any any -> any any (content:\"" + lit +
                                   "\"; content:\"go\"; distance:0; sid:" + std::to_string(i) +
                                   ";)",
                               Variables::defaults()));
    first += lit + " ";
  }
  Env e{std::move(rules)};
  Stream st;
  EXPECT_TRUE(e.sids(st.add(first)).empty());
  EXPECT_TRUE(e.sids(st.add(std::string(2000, '.'))).empty());
  EXPECT_EQ(e.sids(st.add("go")).size(), 80u);
}

// A new rule set: the flow's next packet is scanned whole, so a literal
// its earlier packets held (never scanned for this set) is found.
TEST(IdsMatcher, ANewRuleSetScansTheWholeViewOnce) {
  Env before{R(R"(content:"unrelated";)")};
  Stream st;
  EXPECT_TRUE(before.sids(st.add("xx a-long-prefilter-literal ")).empty());
  EXPECT_TRUE(before.sids(st.add(std::string(2000, '.'))).empty());
  Env after{R(R"(content:"a-long-prefilter-literal"; content:"end"; distance:0;)")};
  after.bits = std::move(before.bits);  // the flow's state, made under the old set
  ASSERT_EQ(after.sids(st.add("the end")), std::vector<uint32_t>{1});
}

TEST(IdsMatcher, OnlyStreamAndNoStream) {
  Env e{R(R"(flow:only_stream; content:"abcd";)"),
        R"(alert tcp any any -> any any (flow:no_stream; content:"abcd"; sid:2;))"};
  const std::string stream = "xxabcd";
  auto whole = tcp("xxabcd");
  EXPECT_EQ(e.sids(whole), std::vector<uint32_t>{2});  // no stream view: the packet alone
  whole.stream = stream;
  EXPECT_EQ(e.sids(whole), (std::vector<uint32_t>{1, 2}));
  auto split = tcp("cd");
  split.stream = stream;
  split.stream_new = 4;
  EXPECT_EQ(e.sids(split), std::vector<uint32_t>{1});
}

TEST(IdsMatcher, ScratchOfAnotherSetMatchesNothing) {
  Env a{R(R"(content:"x";)")};
  Env b{R(R"(content:"x";)")};
  a.set->match(tcp("x"), a.bits, *b.scratch, a.out);
  EXPECT_TRUE(a.out.empty());
  EXPECT_FALSE(b.scratch->serves(*a.set));
}

// ---- thresholds -----------------------------------------------------------

Rule threshold_rule(std::string_view t) {
  return parse_rule(std::string(kTcp) + "(content:\"x\"; " + std::string(t) + " sid:9;)",
                    Variables::defaults());
}

std::vector<bool> run_threshold(Thresholds& th, const Rule& r, std::initializer_list<int> seconds) {
  std::vector<bool> out;
  const auto pkt = tcp("x").pkt;
  for (int s : seconds)
    out.push_back(th.allow(r, pkt, Thresholds::Clock::time_point{} + std::chrono::seconds(s)));
  return out;
}

TEST(IdsThresholds, Limit) {
  Thresholds th;
  const auto r = threshold_rule("threshold:type limit, track by_src, count 2, seconds 60;");
  EXPECT_EQ(run_threshold(th, r, {1, 2, 3, 30, 62, 63, 64}),
            (std::vector<bool>{true, true, false, false, true, true, false}));
}

TEST(IdsThresholds, Threshold) {
  Thresholds th;
  const auto r = threshold_rule("threshold:type threshold, track by_src, count 3, seconds 60;");
  EXPECT_EQ(run_threshold(th, r, {1, 2, 3, 4, 5, 6, 100, 101}),
            (std::vector<bool>{false, false, true, false, false, true, false, false}));
}

TEST(IdsThresholds, Both) {
  Thresholds th;
  const auto r = threshold_rule("threshold:type both, track by_dst, count 2, seconds 10;");
  EXPECT_EQ(run_threshold(th, r, {1, 2, 3, 4, 20, 21, 22}),
            (std::vector<bool>{false, true, false, false, false, true, false}));
}

TEST(IdsThresholds, DetectionFilter) {
  Thresholds th;
  const auto r = threshold_rule("detection_filter:track by_src, count 2, seconds 10;");
  EXPECT_EQ(run_threshold(th, r, {1, 2, 3, 4, 30, 31, 32}),
            (std::vector<bool>{false, false, true, true, false, false, true}));
}

TEST(IdsThresholds, TrackedPerAddressAndBounded) {
  Thresholds th(2);
  const auto r = threshold_rule("threshold:type limit, track by_src, count 1, seconds 60;");
  auto p = tcp("x").pkt;
  const auto t = Thresholds::Clock::time_point{} + std::chrono::seconds(5);
  EXPECT_TRUE(th.allow(r, p, t));
  EXPECT_FALSE(th.allow(r, p, t));
  auto q = p;
  q.src = {198, 51, 100, 1};
  EXPECT_TRUE(th.allow(r, q, t));  // another source: its own count
  auto z = p;
  z.src = {198, 51, 100, 2};
  EXPECT_TRUE(th.allow(r, z, t));
  EXPECT_EQ(th.size(), 2u);  // the least recent (p) was forgotten
  EXPECT_TRUE(th.allow(r, p, t));
  const auto none =
      parse_rule(std::string(kTcp) + "(content:\"x\"; sid:3;)", Variables::defaults());
  EXPECT_TRUE(th.allow(none, p, t));
  EXPECT_TRUE(th.allow(none, p, t));
}

// ---- ET Open --------------------------------------------------------------

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<Rule> et_rules() {
  std::vector<Rule> all;
  for (const char* f : {"emerging-scan.rules", "emerging-dos.rules", "emerging-shellcode.rules"}) {
    auto r = load_rules(read_file(test::path::et_open_dir() + "/" + f), Variables::defaults());
    for (auto& x : r.rules) all.push_back(std::move(x));
  }
  return all;
}

// Traffic built from a rule's own contents: each buffer the contents laid
// out in order (padding for offsets and distances), the packet fitting the
// header. Empty if the rule has something this does not build (pcre, byte
// tests, negations, sizes, flowbits to test...).
struct Built {
  Inspection in;
  std::array<std::string, kBufferCount> bufs;
  std::string_view header_view;
};

bool build_for(const Rule& r, Built& b) {
  if (r.dsize || r.urilen || r.flags || r.itype || r.icode || !r.flowbits.empty() || r.noalert ||
      r.buffers.empty() || r.bidirectional) {
    return false;
  }
  for (const auto& l : r.buffers) {
    if (l.bsize) return false;
    std::string& s = b.bufs[static_cast<size_t>(l.buffer)];
    if (!s.empty()) return false;
    for (size_t i = 0; i < l.detects.size(); ++i) {
      const auto* c = std::get_if<Content>(&l.detects[i]);
      if (!c || c->negated) return false;
      if (c->startswith && !s.empty()) return false;
      if (c->endswith && i + 1 != l.detects.size()) return false;
      if (c->offset && s.size() < *c->offset) s.append(*c->offset - s.size(), '~');
      if (c->depth && s.size() + c->bytes.size() > c->offset.value_or(0) + *c->depth) return false;
      if (c->distance && *c->distance > 0) s.append(static_cast<size_t>(*c->distance), '~');
      if (c->distance && *c->distance < 0) return false;
      s += c->bytes;
    }
  }
  auto& in = b.in;
  in.pkt.family = 4;
  in.pkt.src = {198, 51, 100, 9};
  in.pkt.dst = {10, 0, 0, 5};
  in.pkt.ip_proto = r.transport == Transport::udp ? 17 : r.transport == Transport::icmp ? 1 : 6;
  in.pkt.app = r.app;
  in.pkt.to_server = !(r.flow && r.flow->to_client);
  in.pkt.established = !(r.flow && r.flow->not_established);
  in.pkt.tcp_flags = tcp::psh | tcp::ack;
  auto port = [](const PortSpec& p) -> std::optional<uint16_t> {
    for (uint32_t x = 1; x < 65536; ++x) {
      if (p.matches(static_cast<uint16_t>(x))) return static_cast<uint16_t>(x);
    }
    return std::nullopt;
  };
  const auto sp = port(r.sport), dp = port(r.dport);
  if (!sp || !dp) return false;
  in.pkt.sport = *sp;
  in.pkt.dport = *dp;
  for (size_t i = 0; i < kBufferCount; ++i) {
    if (!b.bufs[i].empty()) in.set(static_cast<Buffer>(i), b.bufs[i]);
  }
  const auto& rh = b.bufs[static_cast<size_t>(Buffer::http_request_header)];
  if (!rh.empty()) {
    b.header_view = rh;
    in.request_headers = &b.header_view;
    in.request_header_count = 1;
  }
  in.dsize = static_cast<uint32_t>(in.get(Buffer::payload).size());
  return true;
}

TEST(IdsMatcherEtOpen, CompilesAndEachRuleFiresOnTrafficBuiltFromIt) {
  if (test::path::et_open_dir().empty())
    GTEST_SKIP() << "no ET Open rule files (RAMPART_ET_OPEN_DIR)";
  auto rules = et_rules();
  const size_t n = rules.size();
  ASSERT_GT(n, 390u);
  Env e(std::move(rules));
  EXPECT_TRUE(e.set->refused().empty()) << e.set->refused()[0].message;
  EXPECT_EQ(e.set->rules().size(), n);
  size_t built = 0;
  std::vector<uint32_t> silent;
  for (const auto& r : e.set->rules()) {
    Built b;
    if (!build_for(r, b)) continue;
    ++built;
    FlowBits fb;
    e.set->match(b.in, fb, *e.scratch, e.out);
    const bool fired = std::any_of(e.out.begin(), e.out.end(),
                                   [&](const Match& m) { return m.rule_ptr->sid == r.sid; });
    if (!fired) silent.push_back(r.sid);
  }
  std::cout << "built traffic for " << built << " of " << n << " rules\n";
  EXPECT_GT(built, n / 2);
  EXPECT_TRUE(silent.empty()) << silent.size() << " did not fire, the first sid " << silent[0];
}

TEST(IdsMatcherEtOpen, ScannerUserAgentFiresItsRule) {
  if (test::path::et_open_dir().empty())
    GTEST_SKIP() << "no ET Open rule files (RAMPART_ET_OPEN_DIR)";
  Env e(et_rules());
  // The rule for a scanner's user agent, found in the file by its contents.
  const Rule* target = nullptr;
  for (const auto& r : e.set->rules()) {
    if (r.buffers.size() == 1 && r.buffers[0].buffer == Buffer::http_user_agent &&
        r.buffers[0].detects.size() == 1 && !r.buffers[0].bsize && !r.dsize) {
      const auto& c = std::get<Content>(r.buffers[0].detects[0]);
      if (!c.negated && c.bytes.find("Nikto") != std::string::npos) target = &r;
    }
  }
  ASSERT_NE(target, nullptr) << "no Nikto user-agent rule in emerging-scan.rules";
  const std::string ua = "Mozilla/5.00 (" + std::get<Content>(target->buffers[0].detects[0]).bytes +
                         "/2.1.6) (Evasions:None) (Test:000003)";
  auto in = http_get("/index.html", ua);
  std::vector<uint32_t> sids = e.sids(in);
  EXPECT_NE(std::find(sids.begin(), sids.end(), target->sid), sids.end());
}

TEST(IdsMatcherEtOpen, OrdinaryTrafficRaisesNothing) {
  if (test::path::et_open_dir().empty())
    GTEST_SKIP() << "no ET Open rule files (RAMPART_ET_OPEN_DIR)";
  Env e(et_rules());
  auto describe = [&] {
    std::string s;
    for (const auto& m : e.out) s += std::to_string(m.rule_ptr->sid) + " " + m.rule_ptr->msg + "; ";
    return s;
  };
  // An HTTP GET from a browser.
  const std::string req =
      "GET /news/index.html?page=2 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 "
      "(X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\nAccept: "
      "text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nConnection: "
      "keep-alive\r\n\r\n";
  auto http = tcp(req, 51234, 80);
  http.pkt.app = AppProto::http;
  http.set(Buffer::http_method, "GET");
  http.set(Buffer::http_uri, "/news/index.html?page=2");
  http.set(Buffer::http_uri_raw, "/news/index.html?page=2");
  http.set(Buffer::http_protocol, "HTTP/1.1");
  http.set(Buffer::http_request_line, "GET /news/index.html?page=2 HTTP/1.1");
  http.set(Buffer::http_host, "www.example.com");
  http.set(Buffer::http_host_raw, "www.example.com");
  http.set(Buffer::http_user_agent,
           "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0");
  http.set(Buffer::http_accept, "text/html,application/xhtml+xml");
  const std::string hdrs =
      "Host: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) "
      "Gecko/20100101 Firefox/120.0\r\nAccept: text/html,application/xhtml+xml\r\n"
      "Accept-Language: en-US,en;q=0.5\r\nConnection: keep-alive\r\n\r\n";
  http.set(Buffer::http_header, hdrs);
  http.set(Buffer::http_header_raw, hdrs);
  http.set(Buffer::http_header_names,
           "\r\nHost\r\nUser-Agent\r\nAccept\r\nAccept-Language\r\nConnection\r\n\r\n");
  http.set(Buffer::http_start, req);
  http.stream = req;
  EXPECT_TRUE(e.sids(http).empty()) << describe();

  // The server's answer.
  const std::string resp =
      "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: "
      "13\r\n\r\n<p>hello</p>\n";
  auto r = tcp(resp, 80, 51234);
  r.pkt.src = {10, 0, 0, 5};
  r.pkt.dst = {192, 0, 2, 1};
  r.pkt.to_server = false;
  r.pkt.app = AppProto::http;
  r.set(Buffer::http_stat_code, "200");
  r.set(Buffer::http_stat_msg, "OK");
  r.set(Buffer::http_response_line, "HTTP/1.1 200 OK");
  r.set(Buffer::http_server, "nginx");
  r.set(Buffer::http_response_body, "<p>hello</p>\n");
  EXPECT_TRUE(e.sids(r).empty()) << describe();

  // A TLS ClientHello's first bytes.
  const std::string hello("\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03\x5a\x1b\x2c\x3d", 15);
  auto tls = tcp(hello + std::string(200, '\x42'), 51235, 443);
  tls.pkt.app = AppProto::tls;
  tls.set(Buffer::tls_sni, "www.example.com");
  EXPECT_TRUE(e.sids(tls).empty()) << describe();

  // A DNS query for www.example.com, A.
  const std::string q(
      "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07"
      "example\x03"
      "com\x00\x00\x01\x00\x01",
      33);
  auto dns = tcp(q, 53000, 53);
  dns.pkt.ip_proto = 17;
  dns.pkt.tcp_flags = 0;
  dns.pkt.app = AppProto::dns;
  dns.set(Buffer::dns_query, "www.example.com");
  EXPECT_TRUE(e.sids(dns).empty()) << describe();

  // SSH banners both ways.
  auto ssh = tcp("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", 51236, 22);
  ssh.pkt.app = AppProto::ssh;
  ssh.set(Buffer::ssh_proto, "2.0");
  ssh.set(Buffer::ssh_software, "OpenSSH_9.2p1");
  EXPECT_TRUE(e.sids(ssh).empty()) << describe();
  ssh.pkt.to_server = false;
  std::swap(ssh.pkt.sport, ssh.pkt.dport);
  EXPECT_TRUE(e.sids(ssh).empty()) << describe();
}

}  // namespace
}  // namespace rampart::ids

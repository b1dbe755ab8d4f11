// SPDX-License-Identifier: Apache-2.0
// The IDS rule parser (plugins/engines/ids/rule.hpp): Suricata rule text to
// a Rule, every refusal naming its keyword and sid, and the ET Open files
// (test data read at run time, never copied here) mostly accepted.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "rule.hpp"
#include "test_paths.hpp"

namespace rampart::ids {
namespace {

const Variables& vars() {
  static const Variables v = [] {
    Variables x = Variables::defaults();
    x.addresses["HOME_NET"] = "[10.0.0.0/8,192.168.0.0/16]";
    x.addresses["EXTERNAL_NET"] = "!$HOME_NET";
    x.ports["HTTP_PORTS"] = "[80,8080]";
    return x;
  }();
  return v;
}

Rule parse(std::string_view text) { return parse_rule(text, vars()); }

// The refusal of `text`: its keyword and message.
RuleError refusal(std::string_view text) {
  try {
    parse(text);
  } catch (const RuleError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << text;
  return RuleError(0, "", "");
}

const Content& content(const Rule& r, size_t list, size_t i) {
  return std::get<Content>(r.buffers.at(list).detects.at(i));
}

std::array<uint8_t, 16> v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return {a, b, c, d}; }

TEST(IdsRules, HeaderFieldsAndIdentity) {
  const auto r = parse(
      R"(drop tcp $EXTERNAL_NET any -> $HOME_NET [80,1024:] (msg:"a \"quoted\" \; msg"; )"
      R"(sid:1000001; rev:3; gid:7; classtype:attempted-recon; priority:2; )"
      R"(reference:url,example.com/x; metadata:mitre_tactic_id TA0043, mitre_technique_id T1595, )"
      R"(created_at 2024_01_01; target:dest_ip;))");
  EXPECT_EQ(r.action, Action::drop);
  EXPECT_EQ(r.transport, Transport::tcp);
  EXPECT_EQ(r.app, AppProto::unknown);
  EXPECT_EQ(r.msg, "a \"quoted\" ; msg");
  EXPECT_EQ(r.sid, 1000001u);
  EXPECT_EQ(r.rev, 3u);
  EXPECT_EQ(r.gid, 7u);
  EXPECT_EQ(r.classtype, "attempted-recon");
  EXPECT_EQ(r.priority, 2u);
  ASSERT_EQ(r.references.size(), 1u);
  EXPECT_EQ(r.references[0].first, "url");
  EXPECT_EQ(r.references[0].second, "example.com/x");
  EXPECT_EQ(r.meta("mitre_tactic_id"), "TA0043");
  EXPECT_EQ(r.meta("mitre_technique_id"), "T1595");
  EXPECT_EQ(r.meta("created_at"), "2024_01_01");
  EXPECT_EQ(r.meta("absent"), "");
  EXPECT_EQ(r.target, "dest_ip");
  // $HOME_NET is 10/8 and 192.168/16; $EXTERNAL_NET its complement.
  EXPECT_TRUE(r.dst.matches(4, v4(10, 1, 2, 3)));
  EXPECT_FALSE(r.dst.matches(4, v4(11, 1, 2, 3)));
  EXPECT_TRUE(r.src.matches(4, v4(8, 8, 8, 8)));
  EXPECT_FALSE(r.src.matches(4, v4(192, 168, 1, 1)));
  EXPECT_TRUE(r.dport.matches(80));
  EXPECT_TRUE(r.dport.matches(1024));
  EXPECT_TRUE(r.dport.matches(65535));
  EXPECT_FALSE(r.dport.matches(81));
}

TEST(IdsRules, ActionsAndProtocols) {
  EXPECT_EQ(parse("alert ip any any -> any any (sid:1;)").action, Action::alert);
  EXPECT_EQ(parse("pass ip any any -> any any (sid:1;)").action, Action::pass);
  EXPECT_EQ(parse("reject ip any any -> any any (sid:1;)").action, Action::reject);
  const auto http = parse("alert http any any -> any any (sid:1;)");
  EXPECT_EQ(http.transport, Transport::tcp);
  EXPECT_EQ(http.app, AppProto::http);
  EXPECT_EQ(parse("alert http1 any any -> any any (sid:1;)").app, AppProto::http);
  EXPECT_EQ(parse("alert tls any any -> any any (sid:1;)").app, AppProto::tls);
  EXPECT_EQ(parse("alert ssh any any -> any any (sid:1;)").app, AppProto::ssh);
  EXPECT_EQ(parse("alert smtp any any -> any any (sid:1;)").app, AppProto::smtp);
  EXPECT_EQ(parse("alert ftp any any -> any any (sid:1;)").app, AppProto::ftp);
  EXPECT_EQ(parse("alert pop3 any any -> any any (sid:1;)").app, AppProto::pop3);
  EXPECT_EQ(parse("alert imap any any -> any any (sid:1;)").app, AppProto::imap);
  const auto dns = parse("alert dns any any -> any any (sid:1;)");
  EXPECT_EQ(dns.transport, Transport::tcp_udp);
  EXPECT_EQ(dns.app, AppProto::dns);
  EXPECT_EQ(parse("alert tcp-pkt any any -> any any (sid:1;)").transport, Transport::tcp);
  EXPECT_EQ(parse("alert tcp-stream any any -> any any (sid:1;)").transport, Transport::tcp);
  EXPECT_EQ(parse("alert udp any any -> any any (sid:1;)").transport, Transport::udp);
  EXPECT_EQ(parse("alert icmp any any -> any any (sid:1;)").transport, Transport::icmp);
  EXPECT_EQ(refusal("alert sctp any any -> any any (sid:9;)").keyword, "header");
  EXPECT_EQ(refusal("log ip any any -> any any (sid:9;)").keyword, "action");
}

TEST(IdsRules, AddressGroups) {
  const auto r = parse(
      "alert ip [10.0.0.0/8,!10.1.0.0/16,[192.168.1.1,2001:db8::/32]] any <> "
      "![1.2.3.4,5.6.7.0/24] any (sid:1;)");
  EXPECT_TRUE(r.bidirectional);
  EXPECT_TRUE(r.src.matches(4, v4(10, 2, 0, 1)));
  EXPECT_FALSE(r.src.matches(4, v4(10, 1, 0, 1)));  // excluded by !10.1.0.0/16
  EXPECT_TRUE(r.src.matches(4, v4(192, 168, 1, 1)));
  EXPECT_FALSE(r.src.matches(4, v4(192, 168, 1, 2)));
  std::array<uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_TRUE(r.src.matches(6, v6));
  v6[3] = 0xb9;
  EXPECT_FALSE(r.src.matches(6, v6));
  EXPECT_FALSE(r.src.matches(6, std::array<uint8_t, 16>{10, 2, 0, 1}));  // family differs
  EXPECT_FALSE(r.dst.matches(4, v4(1, 2, 3, 4)));
  EXPECT_FALSE(r.dst.matches(4, v4(5, 6, 7, 200)));
  EXPECT_TRUE(r.dst.matches(4, v4(5, 6, 8, 1)));
  // A list of negations alone: everything but them.
  const auto n = parse("alert ip [!1.1.1.1,!2.2.2.0/24] any -> any any (sid:1;)");
  EXPECT_TRUE(n.src.matches(4, v4(3, 3, 3, 3)));
  EXPECT_FALSE(n.src.matches(4, v4(2, 2, 2, 9)));
  // Host bits beyond the prefix do not matter.
  EXPECT_TRUE(parse("alert ip 10.9.9.9/8 any -> any any (sid:1;)").src.matches(4, v4(10, 0, 0, 1)));
  EXPECT_EQ(refusal("alert ip 10.0.0.0/33 any -> any any (sid:9;)").keyword, "header");
  EXPECT_EQ(refusal("alert ip 10.0.0 any -> any any (sid:9;)").keyword, "header");
  EXPECT_EQ(refusal("alert ip $NOPE any -> any any (sid:9;)").keyword, "header");
  EXPECT_EQ(refusal("alert ip [1.1.1.1 any -> any any (sid:9;)").keyword, "header");
  EXPECT_EQ(refusal("alert ip !any any -> any any (sid:9;)").keyword, "header");
  EXPECT_EQ(refusal("alert ip any any >> any any (sid:9;)").keyword, "header");
}

TEST(IdsRules, VariablesThatReferToThemselvesAreRefused) {
  Variables v = Variables::defaults();
  v.addresses["A"] = "[$B]";
  v.addresses["B"] = "$A";
  try {
    parse_rule("alert ip $A any -> any any (sid:5;)", v);
    FAIL() << "accepted";
  } catch (const RuleError& e) {
    EXPECT_EQ(e.keyword, "header");
    EXPECT_EQ(e.sid, 5u);
  }
}

TEST(IdsRules, PortGroups) {
  const auto r = parse("alert tcp any [1:100,!50,$HTTP_PORTS] -> any !:1023 (sid:1;)");
  EXPECT_TRUE(r.sport.matches(1));
  EXPECT_TRUE(r.sport.matches(100));
  EXPECT_FALSE(r.sport.matches(50));
  EXPECT_TRUE(r.sport.matches(8080));
  EXPECT_FALSE(r.sport.matches(101));
  EXPECT_FALSE(r.dport.matches(1023));
  EXPECT_TRUE(r.dport.matches(1024));
  const auto d = parse("alert tcp any any -> any $SHELLCODE_PORTS (sid:1;)");
  EXPECT_FALSE(d.dport.matches(80));
  EXPECT_TRUE(d.dport.matches(81));
  EXPECT_EQ(refusal("alert tcp any 100:1 -> any any (sid:9;)").keyword, "header");
  EXPECT_EQ(refusal("alert tcp any 70000 -> any any (sid:9;)").keyword, "header");
  EXPECT_EQ(refusal("alert tcp any : -> any any (sid:9;)").keyword, "header");
}

TEST(IdsRules, ContentAndModifiers) {
  const auto r = parse(
      R"(alert tcp any any -> any any (content:"GET |20 2f|a\;b\"c\\"; nocase; offset:2; depth:20; )"
      R"(content:!"x|3a|"; distance:-3; within:10; content:"tail"; endswith; fast_pattern; )"
      R"(content:"head"; startswith; content:"fp"; rawbytes; sid:1;))");
  ASSERT_EQ(r.buffers.size(), 1u);
  EXPECT_EQ(r.buffers[0].buffer, Buffer::payload);
  const auto& c0 = content(r, 0, 0);
  EXPECT_EQ(c0.bytes, "GET  /a;b\"c\\");
  EXPECT_TRUE(c0.nocase);
  EXPECT_EQ(c0.offset, 2u);
  EXPECT_EQ(c0.depth, 20u);
  const auto& c1 = content(r, 0, 1);
  EXPECT_TRUE(c1.negated);
  EXPECT_EQ(c1.bytes, "x:");
  EXPECT_EQ(c1.distance, -3);
  EXPECT_EQ(c1.within, 10);
  EXPECT_TRUE(c1.relative());
  EXPECT_TRUE(content(r, 0, 2).endswith);
  EXPECT_TRUE(content(r, 0, 2).fast_pattern);
  EXPECT_TRUE(content(r, 0, 3).startswith);
  const auto fp =
      parse(R"(alert tcp any any -> any any (content:"abcdef"; fast_pattern:1,3; sid:1;))");
  EXPECT_EQ(content(fp, 0, 0).fp_offset, 1u);
  EXPECT_EQ(content(fp, 0, 0).fp_length, 3u);
  const auto only =
      parse(R"(alert tcp any any -> any any (content:"abcdef"; fast_pattern:only; sid:1;))");
  EXPECT_TRUE(content(only, 0, 0).fast_pattern_only);
}

TEST(IdsRules, ContentRefusals) {
  const char* bad[] = {
      R"(alert tcp any any -> any any (content:"|4"; sid:9;))",
      R"(alert tcp any any -> any any (content:"|4g|"; sid:9;))",
      R"(alert tcp any any -> any any (content:"|414|"; sid:9;))",
      R"(alert tcp any any -> any any (content:""; sid:9;))",
      R"(alert tcp any any -> any any (content:abc; sid:9;))",
      R"(alert tcp any any -> any any (content:"a\n"; sid:9;))",
      R"(alert tcp any any -> any any (content:"a"b"; sid:9;))",
      R"(alert tcp any any -> any any (content:"abc"; depth:2; sid:9;))",
      R"(alert tcp any any -> any any (content:"abc"; offset:1; distance:1; sid:9;))",
      R"(alert tcp any any -> any any (content:"abc"; within:2; sid:9;))",
      R"(alert tcp any any -> any any (content:"abc"; startswith; offset:1; sid:9;))",
      R"(alert tcp any any -> any any (content:"abc"; depth:x; sid:9;))",
      R"(alert tcp any any -> any any (content:"abc"; fast_pattern:2,3; sid:9;))",
  };
  for (const char* t : bad) {
    const auto e = refusal(t);
    EXPECT_FALSE(e.keyword.empty()) << t;
    EXPECT_NE(std::string(e.what()).find(e.keyword), std::string::npos) << t;
    EXPECT_EQ(e.sid, 9u) << t;
  }
  EXPECT_EQ(refusal(R"(alert tcp any any -> any any (nocase; sid:9;))").keyword, "nocase");
  EXPECT_EQ(refusal(R"(alert tcp any any -> any any (content:"abc"; depth:2; sid:9;))").keyword,
            "depth");
  EXPECT_EQ(refusal(R"(alert tcp any any -> any any (content:"a"; within:x; sid:9;))").keyword,
            "within");
}

TEST(IdsRules, StickyBuffersLegacyModifiersAndTransforms) {
  const auto r = parse(
      R"(alert http any any -> any any (flow:established,to_server; content:"/b"; http_uri; )"
      R"(content:"c"; http_cookie; http.method; content:"POST"; )"
      R"(http.uri; content:"/a"; startswith; http.header; header_lowercase; content:"x-y|3a|"; )"
      R"(http.user_agent; to_lowercase; content:"curl"; bsize:<20; )"
      R"(http.uri; content:"/z"; distance:0; sid:1;))");
  // uri (merged), cookie, method, header (header_lowercase), user_agent (to_lowercase)
  ASSERT_EQ(r.buffers.size(), 5u);
  EXPECT_EQ(r.buffers[0].buffer, Buffer::http_uri);
  ASSERT_EQ(r.buffers[0].detects.size(), 3u);
  EXPECT_EQ(content(r, 0, 0).bytes, "/b");
  EXPECT_EQ(content(r, 0, 1).bytes, "/a");
  EXPECT_EQ(content(r, 0, 2).bytes, "/z");
  EXPECT_EQ(r.buffers[1].buffer, Buffer::http_cookie);
  EXPECT_EQ(r.buffers[2].buffer, Buffer::http_method);
  EXPECT_EQ(r.buffers[3].buffer, Buffer::http_header);
  EXPECT_EQ(r.buffers[3].transforms, std::vector{Transform::header_lowercase});
  EXPECT_EQ(r.buffers[4].transforms, std::vector{Transform::to_lowercase});
  ASSERT_TRUE(r.buffers[4].bsize);
  EXPECT_EQ(r.buffers[4].bsize->op, IntCheck::Op::lt);
  ASSERT_TRUE(r.flow);
  EXPECT_TRUE(r.flow->established);
  EXPECT_TRUE(r.flow->to_server);

  const std::pair<const char*, Buffer> sticky[] = {
      {"http.uri.raw", Buffer::http_uri_raw},
      {"http.protocol", Buffer::http_protocol},
      {"http.request_line", Buffer::http_request_line},
      {"http.start", Buffer::http_start},
      {"http.header.raw", Buffer::http_header_raw},
      {"http.header_names", Buffer::http_header_names},
      {"http.request_header", Buffer::http_request_header},
      {"http.host", Buffer::http_host},
      {"http.host.raw", Buffer::http_host_raw},
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
      {"tls.sni", Buffer::tls_sni},
      {"dns.query", Buffer::dns_query},
      {"ssh.proto", Buffer::ssh_proto},
      {"ssh_proto", Buffer::ssh_proto},
      {"ssh.software", Buffer::ssh_software},
      {"pkt_data", Buffer::payload},
  };
  for (const auto& [name, buffer] : sticky) {
    const auto x =
        parse(std::string("alert tcp any any -> any any (") + name + "; content:\"a\"; sid:1;)");
    ASSERT_EQ(x.buffers.size(), 1u) << name;
    EXPECT_EQ(x.buffers[0].buffer, buffer) << name;
    EXPECT_EQ(buffer_name(buffer), std::string(name) == "file.data"   ? "http.response_body"
                                   : std::string(name) == "ssh_proto" ? "ssh.proto"
                                   : std::string(name) == "pkt_data"  ? "pkt_data"
                                                                      : name);
  }
  const std::pair<const char*, Buffer> legacy[] = {
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
  for (const auto& [name, buffer] : legacy) {
    const auto x = parse(std::string("alert tcp any any -> any any (content:\"a\"; ") + name +
                         "; content:\"b\"; sid:1;)");
    ASSERT_EQ(x.buffers.size(), 2u) << name;
    EXPECT_EQ(x.buffers[0].buffer, buffer) << name;
    EXPECT_EQ(x.buffers[1].buffer, Buffer::payload) << name;
  }
  EXPECT_EQ(refusal(R"(alert tcp any any -> any any (to_lowercase; content:"a"; sid:9;))").keyword,
            "to_lowercase");
  EXPECT_EQ(refusal(R"(alert tcp any any -> any any (http.uri; content:"a"; to_lowercase; sid:9;))")
                .keyword,
            "to_lowercase");
  EXPECT_EQ(
      refusal(R"(alert tcp any any -> any any (http.uri; content:"a"; http_uri; sid:9;))").keyword,
      "http_uri");
  EXPECT_EQ(
      refusal(R"(alert tcp any any -> any any (http.accept_enc; content:"a"; sid:9;))").keyword,
      "http.accept_enc");
}

TEST(IdsRules, Pcre) {
  const auto r = parse(
      R"(alert http any any -> any any (content:"x"; pcre:"/^a\/b\;c/Ri"; pcre:!"/evil/smxU"; )"
      R"(pcre:"/q/BO"; sid:1;))");
  ASSERT_EQ(r.buffers.size(), 2u);
  const auto& p0 = std::get<Pcre>(r.buffers[0].detects[1]);
  EXPECT_EQ(p0.pattern, "^a\\/b\\;c");
  EXPECT_TRUE(p0.relative);
  EXPECT_NE(p0.options, 0u);
  const auto& p1 = std::get<Pcre>(r.buffers[1].detects[0]);
  EXPECT_EQ(r.buffers[1].buffer, Buffer::http_uri);
  EXPECT_TRUE(p1.negated);
  EXPECT_FALSE(p1.relative);
  EXPECT_EQ(std::get<Pcre>(r.buffers[0].detects[2]).pattern, "q");
  // The last '/' ends the regex: slashes inside it stay.
  const auto s = parse(R"(alert tcp any any -> any any (pcre:"/a/b/i"; sid:1;))");
  EXPECT_EQ(std::get<Pcre>(s.buffers[0].detects[0]).pattern, "a/b");
  const std::pair<char, Buffer> flags[] = {
      {'U', Buffer::http_uri},          {'I', Buffer::http_uri_raw},
      {'H', Buffer::http_header},       {'D', Buffer::http_header_raw},
      {'M', Buffer::http_method},       {'C', Buffer::http_cookie},
      {'P', Buffer::http_request_body}, {'Q', Buffer::http_response_body},
      {'S', Buffer::http_stat_code},    {'Y', Buffer::http_stat_msg},
      {'V', Buffer::http_user_agent},   {'W', Buffer::http_host},
      {'Z', Buffer::http_host_raw},
  };
  for (const auto& [f, b] : flags) {
    const auto x =
        parse(std::string("alert http any any -> any any (pcre:\"/a/") + f + "\"; sid:1;)");
    EXPECT_EQ(x.buffers.at(0).buffer, b) << f;
  }
  EXPECT_EQ(refusal(R"(alert tcp any any -> any any (pcre:"/a/K"; sid:9;))").keyword, "pcre");
  EXPECT_EQ(refusal(R"(alert tcp any any -> any any (pcre:"a"; sid:9;))").keyword, "pcre");
  EXPECT_EQ(refusal(R"(alert tcp any any -> any any (pcre:"/a/UH"; sid:9;))").keyword, "pcre");
  EXPECT_EQ(refusal(R"(alert tcp any any -> any any (http.uri; pcre:"/a/H"; sid:9;))").keyword,
            "pcre");
}

TEST(IdsRules, SizesAndPacketKeywords) {
  const auto r =
      parse("alert tcp any any -> any any (dsize:10<>20; flags:!SA,12; urilen:5,raw; sid:1;)");
  ASSERT_TRUE(r.dsize);
  EXPECT_FALSE(r.dsize->matches(10));
  EXPECT_TRUE(r.dsize->matches(11));
  EXPECT_FALSE(r.dsize->matches(20));
  EXPECT_TRUE(r.urilen_raw);
  EXPECT_TRUE(r.urilen->matches(5));
  ASSERT_TRUE(r.flags);
  EXPECT_EQ(r.flags->mod, FlagsOpt::Mod::not_);
  EXPECT_EQ(r.flags->bits, tcp::syn | tcp::ack);
  EXPECT_EQ(r.flags->ignore, tcp::cwr | tcp::ece);
  EXPECT_TRUE(parse("alert tcp any any -> any any (dsize:!5; sid:1;)").dsize->matches(6));
  EXPECT_FALSE(parse("alert tcp any any -> any any (dsize:!5; sid:1;)").dsize->matches(5));
  EXPECT_TRUE(parse("alert tcp any any -> any any (dsize:<5; sid:1;)").dsize->matches(4));
  EXPECT_FALSE(parse("alert tcp any any -> any any (dsize:>5; sid:1;)").dsize->matches(5));
  const auto f = parse("alert tcp any any -> any any (flags: S,CE; sid:1;)");
  EXPECT_TRUE(f.flags->matches(tcp::syn | tcp::ece));
  EXPECT_FALSE(f.flags->matches(tcp::syn | tcp::ack));
  EXPECT_TRUE(parse("alert tcp any any -> any any (flags:+S; sid:1;)").flags->matches(0x12));
  EXPECT_TRUE(parse("alert tcp any any -> any any (flags:*SF; sid:1;)").flags->matches(0x01));
  EXPECT_TRUE(parse("alert tcp any any -> any any (flags:0; sid:1;)").flags->matches(0));
  const auto i = parse("alert icmp any any -> any any (itype:8; icode:<3; sid:1;)");
  EXPECT_TRUE(i.itype->matches(8));
  EXPECT_TRUE(i.icode->matches(2));
  EXPECT_FALSE(i.icode->matches(3));
  EXPECT_EQ(refusal("alert tcp any any -> any any (flags:SX; sid:9;)").keyword, "flags");
  EXPECT_EQ(refusal("alert tcp any any -> any any (dsize:20<>10; sid:9;)").keyword, "dsize");
  EXPECT_EQ(refusal("alert tcp any any -> any any (dsize:70000; sid:9;)").keyword, "dsize");
  EXPECT_EQ(refusal("alert icmp any any -> any any (itype:300; sid:9;)").keyword, "itype");
  EXPECT_EQ(refusal("alert tcp any any -> any any (itype:3; sid:9;)").keyword, "itype");
  EXPECT_EQ(refusal("alert udp any any -> any any (flags:S; sid:9;)").keyword, "flags");
  EXPECT_EQ(refusal("alert tcp any any -> any any (bsize:3; sid:9;)").keyword, "bsize");
}

TEST(IdsRules, ByteTestByteJumpIsDataAt) {
  const auto r = parse(
      "alert tcp any any -> any any (content:\"a\"; byte_test:2,!&,0x80,-1,relative,little; "
      "byte_test:4,>=,100,0,string,dec; byte_test:1,!,5,2,bitmask 0x0f; "
      "byte_jump:2,1,relative,multiplier 2,little,align,post_offset -3; "
      "byte_jump:3,0,string,hex,from_beginning; isdataat:!5,relative; isdataat:10; sid:1;)");
  const auto& d = r.buffers.at(0).detects;
  ASSERT_EQ(d.size(), 8u);
  const auto& t0 = std::get<ByteTest>(d[1]);
  EXPECT_EQ(t0.nbytes, 2);
  EXPECT_EQ(t0.op, ByteTest::Op::and_);
  EXPECT_TRUE(t0.op_negated);
  EXPECT_EQ(t0.value, 0x80u);
  EXPECT_EQ(t0.offset, -1);
  EXPECT_TRUE(t0.relative);
  EXPECT_TRUE(t0.little);
  const auto& t1 = std::get<ByteTest>(d[2]);
  EXPECT_EQ(t1.op, ByteTest::Op::ge);
  EXPECT_TRUE(t1.string);
  EXPECT_EQ(t1.base, 10);
  const auto& t2 = std::get<ByteTest>(d[3]);
  EXPECT_EQ(t2.op, ByteTest::Op::eq);
  EXPECT_TRUE(t2.op_negated);
  EXPECT_EQ(t2.bitmask, 0x0fu);
  const auto& j0 = std::get<ByteJump>(d[4]);
  EXPECT_EQ(j0.multiplier, 2u);
  EXPECT_TRUE(j0.align);
  EXPECT_EQ(j0.post_offset, -3);
  const auto& j1 = std::get<ByteJump>(d[5]);
  EXPECT_EQ(j1.base, 16);
  EXPECT_TRUE(j1.from_beginning);
  const auto& i0 = std::get<IsDataAt>(d[6]);
  EXPECT_TRUE(i0.negated);
  EXPECT_TRUE(i0.relative);
  EXPECT_EQ(i0.n, 5u);
  EXPECT_FALSE(std::get<IsDataAt>(d[7]).relative);
  EXPECT_EQ(refusal("alert tcp any any -> any any (byte_test:9,=,1,0; sid:9;)").keyword,
            "byte_test");
  EXPECT_EQ(refusal("alert tcp any any -> any any (byte_test:1,~,1,0; sid:9;)").keyword,
            "byte_test");
  EXPECT_EQ(refusal("alert tcp any any -> any any (byte_test:1,=,1; sid:9;)").keyword, "byte_test");
  EXPECT_EQ(refusal("alert tcp any any -> any any (byte_test:1,=,x,0; sid:9;)").keyword,
            "byte_test");
  EXPECT_EQ(refusal("alert tcp any any -> any any (byte_jump:2,0,sideways; sid:9;)").keyword,
            "byte_jump");
  EXPECT_EQ(refusal("alert tcp any any -> any any (isdataat:x; sid:9;)").keyword, "isdataat");
}

TEST(IdsRules, FlowFlowbitsThresholds) {
  const auto r = parse(
      "alert tcp any any -> any any (flow:from_server,not_established,only_stream; "
      "flowbits:set,a.b; flowbits:isset,x|y; flowbits:isnotset,p&q; flowbits:noalert; "
      "threshold: type both, track by_dst, count 3, seconds 60; sid:1;)");
  EXPECT_TRUE(r.flow->to_client);
  EXPECT_TRUE(r.flow->not_established);
  EXPECT_TRUE(r.flow->only_stream);
  ASSERT_EQ(r.flowbits.size(), 3u);
  EXPECT_EQ(r.flowbits[0].cmd, Flowbit::Cmd::set);
  EXPECT_EQ(r.flowbits[0].names, std::vector<std::string>{"a.b"});
  EXPECT_TRUE(r.flowbits[1].any);
  EXPECT_EQ(r.flowbits[1].names.size(), 2u);
  EXPECT_FALSE(r.flowbits[2].any);
  EXPECT_TRUE(r.noalert);
  ASSERT_TRUE(r.threshold);
  EXPECT_EQ(r.threshold->type, Threshold::Type::both);
  EXPECT_EQ(r.threshold->track, Threshold::Track::by_dst);
  EXPECT_EQ(r.threshold->count, 3u);
  EXPECT_EQ(r.threshold->seconds, 60u);
  const auto d = parse(
      "alert tcp any any -> any any (detection_filter:track by_src,count 4,seconds 20; sid:1;)");
  EXPECT_EQ(d.threshold->type, Threshold::Type::detection_filter);
  EXPECT_EQ(d.threshold->count, 4u);
  EXPECT_EQ(refusal("alert tcp any any -> any any (flow:to_server,to_client; sid:9;)").keyword,
            "flow");
  EXPECT_EQ(refusal("alert tcp any any -> any any (flow:sideways; sid:9;)").keyword, "flow");
  EXPECT_EQ(refusal("alert tcp any any -> any any (flowbits:set,a|b; sid:9;)").keyword, "flowbits");
  EXPECT_EQ(refusal("alert tcp any any -> any any (flowbits:frob,a; sid:9;)").keyword, "flowbits");
  EXPECT_EQ(refusal("alert tcp any any -> any any (threshold:type limit, count 1; sid:9;)").keyword,
            "threshold");
  EXPECT_EQ(refusal("alert tcp any any -> any any (threshold:type x, track by_src, count 1, "
                    "seconds 1; sid:9;)")
                .keyword,
            "threshold");
}

TEST(IdsRules, OtherAcceptedKeywords) {
  const auto r = parse(
      "alert tcp any any -> any any (app-layer-protocol:tls; tag:session,10,packets; noalert; "
      "sid:1;)");
  EXPECT_EQ(r.app, AppProto::tls);
  EXPECT_TRUE(r.noalert);
  EXPECT_EQ(refusal("alert http any any -> any any (app-layer-protocol:tls; sid:9;)").keyword,
            "app-layer-protocol");
}

TEST(IdsRules, RefusalsNameTheKeywordAndTheSid) {
  const auto e = refusal(R"(alert tcp any any -> any any (msg:"x"; foo:bar; sid:2001219;))");
  EXPECT_EQ(e.sid, 2001219u);
  EXPECT_EQ(e.keyword, "foo");
  EXPECT_STREQ(e.what(), "sid 2001219: unsupported keyword 'foo'");
  // The sid is found ahead of the option at fault.
  const auto v = refusal(R"(alert tcp any any -> any any (content:"a"; depth:q; sid:77;))");
  EXPECT_EQ(v.sid, 77u);
  EXPECT_EQ(std::string(v.what()), "sid 77: depth: expected a number, got 'q'");
  EXPECT_EQ(refusal("alert tcp any any -> any any (msg:\"no sid\";)").keyword, "sid");
  EXPECT_EQ(refusal("alert tcp any any -> any any (sid:1)").keyword, "options");
  EXPECT_EQ(refusal("alert tcp any any -> any any (:<40; sid:1;)").keyword, "options");
  EXPECT_EQ(refusal("alert tcp any any -> any any sid:1;").keyword, "header");
  EXPECT_EQ(refusal("alert tcp any any -> any any (sid:1;) x").keyword, "options");
  // Control bytes in a refused value never reach the message raw.
  const auto c = refusal(std::string("alert tcp any any -> any any (fo\no:1; sid:3;)"));
  EXPECT_EQ(std::string(c.what()).find('\n'), std::string::npos);
}

TEST(IdsRules, BoundsOnSize) {
  std::string many = "alert tcp any any -> any any (";
  for (int i = 0; i < 300; ++i) many += "nocase; ";
  many += "sid:4;)";
  EXPECT_EQ(refusal(many).keyword, "options");
  std::string huge =
      "alert tcp any any -> any any (content:\"" + std::string(70000, 'a') + "\"; sid:4;)";
  EXPECT_EQ(refusal(huge).keyword, "rule");
}

TEST(IdsRules, LoadRulesSkipsCommentsJoinsContinuationsAndGoesOn) {
  const std::string file =
      "# a comment\n"
      "\n"
      "   \n"
      "alert tcp any any -> any any (msg:\"one\"; \\\n"
      "  content:\"a\"; sid:1;)\r\n"
      "#alert tcp any any -> any any (sid:2;)\n"
      "alert tcp any any -> any any (bogus; sid:3;)\n"
      "alert tcp any any -> any any (msg:\"four\"; sid:4;)\n"
      "garbage\n"
      "alert tcp any any -> any any (sid:5;)";
  const auto r = load_rules(file, vars());
  ASSERT_EQ(r.rules.size(), 3u);
  EXPECT_EQ(r.rules[0].sid, 1u);
  EXPECT_EQ(r.rules[0].msg, "one");
  EXPECT_EQ(r.rules[1].sid, 4u);
  EXPECT_EQ(r.rules[2].sid, 5u);
  ASSERT_EQ(r.refused.size(), 2u);
  EXPECT_EQ(r.refused[0].line, 7u);
  EXPECT_EQ(r.refused[0].sid, 3u);
  EXPECT_EQ(r.refused[0].keyword, "bogus");
  EXPECT_EQ(r.refused[0].message, "line 7: sid 3: unsupported keyword 'bogus'");
  EXPECT_EQ(r.refused[1].line, 9u);
  EXPECT_EQ(r.refused[1].sid, 0u);
  EXPECT_EQ(r.refused[1].message.rfind("line 9: ", 0), 0u);
}

// ---- ET Open -------------------------------------------------------------

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t active_rules(const std::string& text) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    for (const char* a : {"alert ", "drop ", "pass ", "reject "}) {
      if (line.rfind(a, 0) == 0) ++n;
    }
  }
  return n;
}

class IdsEtOpen : public ::testing::TestWithParam<const char*> {};

TEST_P(IdsEtOpen, MostRulesAreAccepted) {
  if (test::path::et_open_dir().empty())
    GTEST_SKIP() << "no ET Open rule files (RAMPART_ET_OPEN_DIR)";
  const std::string path = test::path::et_open_dir() + "/" + GetParam();
  const std::string text = read_file(path);
  ASSERT_FALSE(text.empty()) << path;
  const size_t total = active_rules(text);
  const auto r = load_rules(text, Variables::defaults());
  EXPECT_EQ(r.rules.size() + r.refused.size(), total);
  std::map<std::string, int> by_keyword;
  for (const auto& f : r.refused) ++by_keyword[f.keyword];
  std::cout << GetParam() << ": accepted " << r.rules.size() << "/" << total << "\n";
  for (const auto& [k, n] : by_keyword) std::cout << "  " << k << ": " << n << "\n";
  EXPECT_GE(r.rules.size() * 10, total * 9) << "under 90% accepted";
  // Every refusal names its keyword and its rule's sid, in one line.
  for (const auto& f : r.refused) {
    EXPECT_FALSE(f.keyword.empty()) << f.message;
    EXPECT_NE(f.sid, 0u) << f.message;
    EXPECT_NE(f.message.find("sid " + std::to_string(f.sid) + ":"), std::string::npos) << f.message;
    EXPECT_NE(f.message.find(f.keyword), std::string::npos) << f.message;
    EXPECT_EQ(f.message.find('\n'), std::string::npos) << f.message;
  }
  // The alert's MITRE fields come through where the rule has them.
  for (const auto& rule : r.rules) {
    if (!rule.meta("mitre_technique_id").empty()) {
      EXPECT_EQ(rule.meta("mitre_technique_id").front(), 'T') << rule.sid;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Files, IdsEtOpen,
                         ::testing::Values("emerging-scan.rules", "emerging-dos.rules",
                                           "emerging-shellcode.rules"),
                         [](const auto& info) {
                           std::string n = info.param;
                           n = n.substr(0, n.find('.'));
                           for (auto& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

}  // namespace
}  // namespace rampart::ids

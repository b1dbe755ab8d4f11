// SPDX-License-Identifier: Apache-2.0
// IDS rules in the Suricata/Snort syntax (docs/ids.md): the text parsed into
// a Rule the matcher (matcher.hpp) compiles. The parser accepts the keywords
// the matcher can honour and refuses a rule with any other, naming the
// keyword and the sid, so that a rule file loads all its rules it can and
// says why it left the others out: a rule half understood would alert on
// traffic it was not written for, or stay silent on traffic it was.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "inspect.hpp"

namespace rampart::ids {

// Bounds on what a rule may be: a rule line (continuations joined) and the
// number of its options. Longer rules are refused, not truncated.
constexpr size_t kMaxRuleLength = 64 * 1024;
constexpr size_t kMaxRuleOptions = 256;

// Address and port groups: the variables a rule's header names ($HOME_NET),
// each holding the text of a group ("[10.0.0.0/8,192.168.0.0/16]", "80").
struct Variables {
  std::map<std::string, std::string> addresses, ports;
  // HOME_NET any, EXTERNAL_NET any, the *_SERVERS $HOME_NET, the usual
  // ports (HTTP_PORTS 80, ...): what Suricata's suricata.yaml ships.
  static Variables defaults();
};

// A rule refused: one line, "sid 2001219: unsupported keyword 'foo'", or
// "line 12: ..." when no sid was read yet.
struct RuleError : std::runtime_error {
  RuleError(uint32_t sid, std::string keyword, const std::string& message);
  uint32_t sid = 0;     // 0: not known (not yet read, or malformed)
  std::string keyword;  // the keyword at fault ("header" for the rule's header)
  std::string detail;   // the message without the sid/line prefix
};

enum class Action : uint8_t { alert, drop, reject, pass };

// The transport a rule's protocol implies. `icmp` is ICMP and ICMPv6;
// `tcp_udp` is what dns matches (DNS runs on both).
enum class Transport : uint8_t { any, tcp, udp, icmp, tcp_udp };

// An address group: any, one network, or a list of groups; each possibly
// negated. A list matches an address some non-negated member matches (any
// if it has none) and no negated member does.
struct AddressSpec {
  enum class Kind : uint8_t { any, network, list };
  Kind kind = Kind::any;
  bool negated = false;
  uint8_t family = 4;  // network: 4 or 6
  uint8_t prefix = 0;  // network: prefix length
  std::array<uint8_t, 16> addr{};
  std::vector<AddressSpec> list;
  bool matches(uint8_t family, const std::array<uint8_t, 16>& a) const;
};

// A port group, in the same shape: any, a range lo..hi, or a list.
struct PortSpec {
  enum class Kind : uint8_t { any, range, list };
  Kind kind = Kind::any;
  bool negated = false;
  uint16_t lo = 0, hi = 65535;
  std::vector<PortSpec> list;
  bool matches(uint16_t port) const;
};

// dsize, bsize, urilen, itype, icode: N, <N, >N, <=N, >=N, !N, N<>M (strictly
// between, as Suricata).
struct IntCheck {
  enum class Op : uint8_t { eq, ne, lt, gt, le, ge, range };
  Op op = Op::eq;
  uint64_t a = 0, b = 0;
  bool matches(uint64_t v) const;
};

struct Content {
  std::string bytes;  // decoded (|hex| and escapes resolved)
  bool negated = false;
  bool nocase = false;
  bool startswith = false;
  bool endswith = false;
  bool fast_pattern = false;
  bool fast_pattern_only = false;
  std::optional<uint32_t> fp_offset, fp_length;  // fast_pattern:offset,length
  std::optional<uint32_t> offset, depth;         // absolute window
  std::optional<int32_t> distance, within;       // relative to the previous match
  bool relative() const { return distance || within; }
};

struct Pcre {
  std::string source;     // the value as written, "/re/flags"
  std::string pattern;    // between the slashes
  uint32_t options = 0;   // PCRE2_* compile options from i s m x A E G
  bool relative = false;  // R
  bool negated = false;
};

struct ByteTest {
  enum class Op : uint8_t { lt, gt, eq, and_, xor_, le, ge };
  uint8_t nbytes = 1;
  Op op = Op::eq;
  bool op_negated = false;
  uint64_t value = 0;
  int32_t offset = 0;
  bool relative = false;
  bool little = false;  // little endian (dce too: DCE/RPC is little endian in practice)
  bool string = false;  // the bytes are digits in `base`
  uint8_t base = 10;
  uint64_t bitmask = 0;  // 0: none
};

struct ByteJump {
  uint8_t nbytes = 1;
  int32_t offset = 0;
  bool relative = false;
  uint32_t multiplier = 1;
  bool little = false;
  bool string = false;
  uint8_t base = 10;
  bool align = false;  // round the jump up to a multiple of 4
  bool from_beginning = false;
  bool from_end = false;
  int32_t post_offset = 0;
  uint64_t bitmask = 0;
};

struct IsDataAt {
  uint32_t n = 0;
  bool negated = false;
  bool relative = false;
};

// One step of a buffer's inspection, in rule order.
using Detect = std::variant<Content, Pcre, ByteTest, ByteJump, IsDataAt>;

enum class Transform : uint8_t {
  to_lowercase,
  header_lowercase,  // header names lowercased, values kept ("Name: value" lines)
};

// What a rule inspects in one buffer: its contents, pcres and byte tests in
// rule order, after the buffer's transforms.
struct BufferInspect {
  Buffer buffer = Buffer::payload;
  std::vector<Transform> transforms;
  std::vector<Detect> detects;
  std::optional<IntCheck> bsize;
};

struct FlowOpt {
  bool to_server = false, to_client = false;
  bool established = false, not_established = false, stateless = false;
  bool only_stream = false, no_stream = false;
};

// flags: the bits `bits` tested as `mod` says, after clearing `ignore`.
struct FlagsOpt {
  enum class Mod : uint8_t { exact, plus, any, not_ };
  Mod mod = Mod::exact;
  uint8_t bits = 0;
  uint8_t ignore = 0;
  bool matches(uint8_t tcp_flags) const;
};

struct Flowbit {
  enum class Cmd : uint8_t { set, unset, toggle, isset, isnotset, noalert };
  Cmd cmd = Cmd::set;
  std::vector<std::string> names;
  bool any = false;  // isset/isnotset a|b: one of them (a&b, or one name: all)
};

struct Threshold {
  enum class Type : uint8_t { limit, threshold, both, detection_filter };
  enum class Track : uint8_t { by_src, by_dst, by_rule, by_both };
  Type type = Type::limit;
  Track track = Track::by_src;
  uint32_t count = 1;
  uint32_t seconds = 60;
};

struct Rule {
  // header
  Action action = Action::alert;
  std::string protocol;  // as written: "tcp", "http", ...
  Transport transport = Transport::any;
  AppProto app = AppProto::unknown;  // unknown: no application protocol required
  AddressSpec src, dst;
  PortSpec sport, dport;
  bool bidirectional = false;  // <>
  // identity and alert
  uint32_t sid = 0, rev = 0, gid = 1;
  std::string msg;
  std::string classtype;
  std::optional<uint32_t> priority;
  std::vector<std::pair<std::string, std::string>> references;  // type, value
  std::vector<std::pair<std::string, std::string>> metadata;    // key, value
  std::string target;                                           // src_ip / dest_ip / ""
  // packet
  std::optional<FlowOpt> flow;
  std::optional<FlagsOpt> flags;
  std::optional<IntCheck> dsize, itype, icode, urilen;
  bool urilen_raw = false;
  // buffers, in the order the rule first names them
  std::vector<BufferInspect> buffers;
  std::vector<Flowbit> flowbits;
  bool noalert = false;                // noalert; or flowbits:noalert
  std::optional<Threshold> threshold;  // threshold: or detection_filter:
  std::string text;                    // the rule as read (continuations joined)

  // The first metadata value for `key` ("" if none).
  std::string_view meta(std::string_view key) const;
};

// Parses one rule; throws RuleError.
Rule parse_rule(std::string_view text, const Variables& vars);

struct Refusal {
  size_t line = 0;  // the rule's first line, 1-based
  uint32_t sid = 0;
  std::string keyword;
  std::string message;  // one line: "line 12: sid 2001219: unsupported keyword 'foo'"
};

struct LoadResult {
  std::vector<Rule> rules;
  std::vector<Refusal> refused;
};

// Parses a rule file: comments and blank lines skipped, lines ending in a
// backslash continued. A bad rule is refused and the rest still read; this
// never throws on the text.
LoadResult load_rules(std::string_view file_text, const Variables& vars);

std::string_view buffer_name(Buffer b);
std::string_view action_name(Action a);

}  // namespace rampart::ids

// SPDX-License-Identifier: Apache-2.0
// bench/ids_scan: IDS scan throughput on one core (MB/s of payload, packets
// per second) with the Emerging Threats Open rule files, for rule sets of
// 100 rules to all of ET's and on to 5,000 (the rules past ET's are
// variants of them, made at run time), over a mixed traffic corpus built
// here from a fixed seed. Measured in the same run, so that the ratios
// hold across machines:
//   vectorscan alone: one block database of every content of the set's
//     rules, hs_scan over each payload, no confirmation (the issue's
//     reference); and one of each rule's prefilter literal alone, all
//     buffers' together (vs-fp: the prefilter's cost with every payload
//     byte scanned once);
//   naive PCRE2-JIT: each rule's contents as one regex, every rule run on
//     every payload (what the prefilter saves), at 100 and 1,000 rules;
//   match per packet: RuleSet::match on an Inspection holding the payload
//     alone (no stream view);
//   match via flows: the packets fed through a FlowTable (TCP reassembly,
//     HTTP/TLS/DNS parsing) with RuleSet::match on every inspection it
//     calls back with: the number the engine sees (encrypted TLS passed
//     over, the engine's default); and the same with encrypted TLS
//     inspected too (flows.encrypted_tls: inspect).
// Then where the time of the flow path goes (the table alone, the match
// on application milestones, the match on packets) and how many bytes each
// payload byte makes Vectorscan scan. Prints tables; docs/performance.md
// records them. The rule files are test data under their own licenses:
// they are read at run time and never copied into the repository.
//
//   build/bin/bench_ids_scan [rules dir] [MB per measurement] [cpu] [rules [stream window]]
//   (defaults: /work/shared/rules/et-open, 64, the last CPU allowed; with
//   `rules`, the flow path at that many rules and nothing else, to profile,
//   with the flow table's stream_window if given; encrypted TLS inspected
//   too when RAMPART_BENCH_INSPECT_ENCRYPTED is set)
#include <hs/hs.h>
#include <sched.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "flow_table.hpp"
#include "inspect.hpp"
#include "matcher.hpp"
#include "rule.hpp"

namespace {

using namespace rampart::ids;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ---- rules ------------------------------------------------------------------

std::vector<Rule> load_dir(const std::string& dir, size_t& refused) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".rules") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Rule> rules;
  const Variables vars = Variables::defaults();
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    LoadResult r = load_rules(ss.str(), vars);
    refused += r.refused.size();
    for (auto& rule : r.rules) rules.push_back(std::move(rule));
  }
  return rules;
}

template <class F>
void for_each_content(const Rule& r, F&& f) {
  for (const auto& l : r.buffers) {
    for (const auto& d : l.detects) {
      if (const auto* c = std::get_if<Content>(&d); c && !c->negated) f(l, *c);
    }
  }
}

// A rule like `r` with a new sid whose contents of 4 bytes or more end in a
// tag of its own, so its prefilter literal is one no other rule has (as in
// a large real set, where most rules have a distinctive literal); short
// contents ("GET", "|0d 0a|") stay, as real rules share them. The windows
// grow by the tag so the rule stays satisfiable. Pcres are kept.
Rule variant(const Rule& r, uint32_t sid, const std::string& tag) {
  Rule v = r;
  v.sid = sid;
  for (auto& l : v.buffers) {
    for (auto& d : l.detects) {
      auto* c = std::get_if<Content>(&d);
      if (!c || c->negated || c->bytes.size() < 4) continue;
      c->bytes += tag;
      c->fp_offset.reset();
      c->fp_length.reset();
      if (c->depth) *c->depth += static_cast<uint32_t>(tag.size());
      if (c->within) *c->within += static_cast<int32_t>(tag.size());
    }
  }
  return v;
}

bool has_long_content(const Rule& r) {
  bool yes = false;
  for_each_content(r, [&](const BufferInspect&, const Content& c) { yes |= c.bytes.size() >= 4; });
  return yes;
}

// The rule sets measured: the first n of ET's rules in a fixed shuffle (so
// each size mixes the three files), all of them, then all of them and
// variants of those with a long content, round robin, up to n.
std::vector<Rule> rule_set(const std::vector<Rule>& et, size_t n) {
  if (n <= et.size()) return {et.begin(), et.begin() + static_cast<ptrdiff_t>(n)};
  std::vector<Rule> out = et;
  std::vector<const Rule*> bases;
  for (const auto& r : et) {
    if (has_long_content(r)) bases.push_back(&r);
  }
  std::mt19937 rng(7);
  static constexpr char kAlnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (uint32_t i = 0; out.size() < n; ++i) {
    std::string tag = "-";
    for (int k = 0; k < 4; ++k) tag += kAlnum[rng() % 36];
    out.push_back(variant(*bases[i % bases.size()], 90000000 + i, tag));
  }
  return out;
}

// A literal as a Vectorscan/PCRE2 pattern: alphanumerics as they are,
// every other byte as \xHH (as the matcher writes its literals).
std::string escape(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string p;
  for (unsigned char ch : bytes) {
    if (std::isalnum(ch)) {
      p += static_cast<char>(ch);
    } else {
      p += "\\x";
      p += kHex[ch >> 4];
      p += kHex[ch & 15];
    }
  }
  return p;
}

// ---- corpus -----------------------------------------------------------------

struct Pkt {
  bool to_server = true;
  uint8_t flags = 0;
  uint32_t seq = 0, ack = 0;
  std::string payload;
};

struct FlowSpec {
  uint8_t proto = 6;
  uint16_t sport = 0, dport = 0;  // the client's, the server's
  AppProto app = AppProto::unknown;
  std::vector<Pkt> pkts;
};

// A packet as the engine reads it off its ring buffer: the fields of its
// event, and its payload among the others, in the order sent.
struct WirePkt {
  uint32_t flow = 0;  // its index in Corpus::flows
  uint8_t proto = 6, flags = 0;
  bool to_server = true;
  AppProto app = AppProto::unknown;
  uint16_t sport = 0, dport = 0;  // the client's, the server's
  uint32_t seq = 0, ack = 0;
  std::string_view payload;  // into Corpus::wire_bytes
};

struct Corpus {
  std::vector<FlowSpec> flows;
  // The packets in the order sent: a few flows at a time, interleaved.
  std::vector<std::pair<uint32_t, uint32_t>> order;  // flow, packet
  // The same, laid out as rampartd reads them: one after the other, the
  // payloads in one buffer (as in its ring), so every path measured reads
  // its input sequentially, as the engine does, and not from thousands of
  // strings scattered over the heap (a cache miss a packet, the bench's
  // and not the engine's: 11 % of the table's time, measured).
  std::string wire_bytes;
  std::vector<WirePkt> wire;
  uint64_t payload_bytes = 0, payload_packets = 0, packets = 0;
  uint64_t http_transactions = 0, injected = 0;
  std::map<std::string, uint64_t> bytes_by_kind;
};

// A string some rule looks for in a buffer, to plant in the corpus.
struct Plant {
  Buffer buffer;
  std::string bytes;
};

class Gen {
 public:
  Gen(Corpus& c, const std::vector<Plant>& plants) : c_(c), plants_(plants) {}

  void build(uint64_t target_bytes) {
    while (c_.payload_bytes < target_bytes) {
      const uint32_t k = pick(100);
      if (k < 45) {
        http_flow();
      } else if (k < 75) {
        tls_flow();
      } else if (k < 90) {
        dns_flow();
      } else {
        other_flow();
      }
    }
    interleave();
    lay_out();
  }

 private:
  uint32_t pick(uint32_t n) { return static_cast<uint32_t>(rng_() % n); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  const std::string& word() {
    static const std::vector<std::string> kWords = {
        "news",    "index",   "article", "search",  "product", "account",  "static", "images",
        "profile", "weather", "sports",  "video",   "comment", "login",    "cart",   "review",
        "about",   "contact", "blog",    "archive", "feed",    "settings", "media",  "latest",
        "world",   "market",  "travel",  "health",  "science", "music",    "events", "local"};
    return kWords[pick(static_cast<uint32_t>(kWords.size()))];
  }
  std::string random_bytes(size_t n) {
    std::string s(n, '\0');
    for (auto& ch : s) ch = static_cast<char>(rng_() & 0xff);
    return s;
  }
  std::string text(size_t n) {
    std::string s;
    while (s.size() < n) {
      s += word();
      s += pick(12) == 0 ? ". " : " ";
    }
    s.resize(n);
    return s;
  }
  std::string html(size_t n) {
    std::string s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
                    text(30) +
                    "</title><link rel=\"stylesheet\" href=\"/static/site.css\"><script "
                    "src=\"/static/app.js\" defer></script></head>\n<body><div class=\"page\">\n";
    while (s.size() < n) {
      switch (pick(4)) {
        case 0:
          s += "<p>" + text(80 + pick(300)) + "</p>\n";
          break;
        case 1:
          s += "<a href=\"/" + word() + "/" + word() + ".html\" class=\"link\">" + text(20) +
               "</a>\n";
          break;
        case 2:
          s += "<div class=\"" + word() + "\"><img src=\"/images/" + word() +
               std::to_string(pick(999)) + ".jpg\" alt=\"" + text(15) + "\"></div>\n";
          break;
        default:
          s += "<li><span>" + text(40) + "</span></li>\n";
      }
    }
    s.resize(n);
    return s;
  }
  std::string json(size_t n) {
    std::string s = "{\"status\":\"ok\",\"items\":[";
    while (s.size() < n) {
      s += "{\"id\":" + std::to_string(pick(1000000)) + ",\"name\":\"" + text(12) +
           "\",\"tags\":[\"" + word() + "\",\"" + word() +
           "\"],\"score\":" + std::to_string(pick(1000)) + "." + std::to_string(pick(100)) + "},";
    }
    s.resize(n - 2);
    s += "]}";
    return s;
  }

  // TCP: the handshake, data in segments of at most 1460 bytes, a FIN each way.
  struct Tcp {
    Gen& g;
    FlowSpec& f;
    uint32_t seq[2];  // [1]: the client's next
    Tcp(Gen& gen, FlowSpec& flow) : g(gen), f(flow) {
      seq[1] = static_cast<uint32_t>(g.rng_());
      seq[0] = static_cast<uint32_t>(g.rng_());
      add(true, tcp::syn, "");
      seq[1] += 1;
      add(false, tcp::syn | tcp::ack, "");
      seq[0] += 1;
      add(true, tcp::ack, "");
    }
    void add(bool ts, uint8_t flags, std::string payload) {
      Pkt p;
      p.to_server = ts;
      p.flags = flags;
      p.seq = seq[ts];
      p.ack = seq[!ts];
      seq[ts] += static_cast<uint32_t>(payload.size());
      p.payload = std::move(payload);
      f.pkts.push_back(std::move(p));
    }
    void data(bool ts, std::string_view bytes) {
      while (!bytes.empty()) {
        const size_t n = std::min<size_t>(bytes.size(), 1460);
        add(ts, tcp::ack | (n == bytes.size() ? tcp::psh : 0), std::string(bytes.substr(0, n)));
        bytes.remove_prefix(n);
      }
    }
    void close() {
      add(true, tcp::fin | tcp::ack, "");
      seq[1] += 1;
      add(false, tcp::fin | tcp::ack, "");
      seq[0] += 1;
      add(true, tcp::ack, "");
    }
  };

  FlowSpec& new_flow(uint8_t proto, uint16_t dport, AppProto app) {
    c_.flows.emplace_back();
    FlowSpec& f = c_.flows.back();
    f.proto = proto;
    f.sport = static_cast<uint16_t>(32768 + pick(28000));
    f.dport = dport;
    f.app = app;
    return f;
  }
  void count(const FlowSpec& f, const char* kind) {
    for (const auto& p : f.pkts) {
      ++c_.packets;
      if (p.payload.empty()) continue;
      ++c_.payload_packets;
      c_.payload_bytes += p.payload.size();
      c_.bytes_by_kind[kind] += p.payload.size();
    }
  }
  const Plant* plant(Buffer b) {
    std::vector<const Plant*> of;
    for (const auto& p : plants_) {
      if (p.buffer == b) of.push_back(&p);
    }
    return of.empty() ? nullptr : of[pick(static_cast<uint32_t>(of.size()))];
  }

  // Keep-alive connections of 1-6 transactions: browser GETs (some POSTs
  // of JSON) answered with HTML, JSON, a 304 or a 404.
  void http_flow() {
    static const std::vector<std::string> kAgents = {
        "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/119.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.1 Safari/605.1.15",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.1 Mobile/15E148 Safari/604.1"};
    FlowSpec& f = new_flow(6, 80, AppProto::unknown);
    Tcp t(*this, f);
    const std::string host = "www." + word() + std::to_string(pick(100)) + ".example.com";
    const std::string agent = kAgents[pick(static_cast<uint32_t>(kAgents.size()))];
    const uint32_t n = 1 + pick(6);
    for (uint32_t i = 0; i < n; ++i) {
      ++c_.http_transactions;
      std::string uri = pick(3) == 0 ? "/api/v1/" + word() + "?id=" + std::to_string(pick(99999))
                                     : "/" + word() + "/" + word() + ".html";
      std::string ua = agent;
      // A few requests carry what a rule looks for: a scanner's user
      // agent, or a URI an exploit or scan requests.
      if (chance(0.008)) {
        const Plant* p = plant(pick(2) ? Buffer::http_user_agent : Buffer::http_uri);
        if (p && p->buffer == Buffer::http_user_agent) ua = "Mozilla/5.0 (" + p->bytes + ")";
        if (p && p->buffer == Buffer::http_uri) uri = "/" + word() + "/" + p->bytes;
        if (p) ++c_.injected;
      }
      const bool post = pick(8) == 0;
      const std::string body = post ? json(80 + pick(600)) : "";
      std::string req = (post ? "POST " : "GET ") + uri + " HTTP/1.1\r\nHost: " + host +
                        "\r\nUser-Agent: " + ua +
                        "\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,"
                        "image/avif,image/webp,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n"
                        "Accept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\n";
      if (pick(2)) req += "Referer: http://" + host + "/" + word() + "/\r\n";
      req += "Cookie: session=" + std::to_string(rng_()) + std::to_string(rng_()) +
             "; theme=light\r\nUpgrade-Insecure-Requests: 1\r\n";
      if (post) {
        req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n";
      }
      req += "\r\n" + body;
      t.data(true, req);
      const uint32_t kind = pick(20);
      std::string head, rbody;
      if (kind < 2) {
        head = "HTTP/1.1 304 Not Modified\r\n";
      } else if (kind < 3) {
        head = "HTTP/1.1 404 Not Found\r\n";
        rbody = html(200 + pick(400));
      } else {
        head = "HTTP/1.1 200 OK\r\n";
        // Sizes skewed small, as most responses are, some up to 8 KB.
        const size_t size = 150 + static_cast<size_t>(std::pow(pick(1000) / 1000.0, 3) * 8000);
        rbody = kind < 12 ? html(size) : json(std::max<size_t>(size, 60));
      }
      head += "Server: nginx/1.22.1\r\nDate: Wed, 02 Dec 2026 10:" + std::to_string(10 + pick(50)) +
              ":00 GMT\r\n";
      if (!rbody.empty()) {
        head += std::string("Content-Type: ") +
                (rbody[0] == '{' ? "application/json" : "text/html; charset=utf-8") +
                "\r\nContent-Length: " + std::to_string(rbody.size()) + "\r\n";
      }
      head += "Cache-Control: max-age=600\r\nConnection: keep-alive\r\n\r\n";
      t.data(false, head + rbody);
    }
    t.close();
    count(f, "http");
  }

  // A ClientHello with an SNI, a server's handshake, then records of
  // ciphertext both ways.
  void tls_flow() {
    FlowSpec& f = new_flow(6, 443, AppProto::unknown);
    Tcp t(*this, f);
    const std::string sni = word() + ".cdn" + std::to_string(pick(50)) + ".example.net";
    std::string ext;
    auto u16 = [](std::string& s, size_t v) {
      s += static_cast<char>(v >> 8);
      s += static_cast<char>(v & 0xff);
    };
    ext += std::string("\x00\x00", 2);
    u16(ext, sni.size() + 5);
    u16(ext, sni.size() + 3);
    ext += '\0';
    u16(ext, sni.size());
    ext += sni;
    ext += std::string("\x00\x15", 2);  // padding
    u16(ext, 64);
    ext += std::string(64, '\0');
    std::string hello = std::string("\x03\x03", 2) + random_bytes(32) + '\x20' + random_bytes(32);
    u16(hello, 8);
    hello += std::string("\x13\x01\x13\x02\x13\x03\xc0\x2b", 8);
    hello += std::string("\x01\x00", 2);
    u16(hello, ext.size());
    hello += ext;
    std::string hs = std::string("\x01", 1) + '\0';
    u16(hs, hello.size());
    hs += hello;
    std::string rec = std::string("\x16\x03\x01", 3);
    u16(rec, hs.size());
    t.data(true, rec + hs);
    auto record = [&](size_t n) {
      std::string r = std::string("\x17\x03\x03", 3);
      u16(r, n - 5);
      return r + random_bytes(n - 5);
    };
    // The server's handshake (ServerHello, certificate...: one record of
    // random bytes), then application data records both ways.
    std::string server_hs("\x16\x03\x03", 3);
    const size_t hs_len = 1200 + pick(1600);
    u16(server_hs, hs_len);
    t.data(false, server_hs + random_bytes(hs_len));
    const uint32_t n = 2 + pick(14);
    for (uint32_t i = 0; i < n; ++i) t.data(pick(4) == 0, record(64 + pick(1397)));
    t.close();
    count(f, "tls");
  }

  // A query and its answer over UDP.
  void dns_flow() {
    FlowSpec& f = new_flow(17, 53, AppProto::dns);
    std::string q = random_bytes(2) + std::string("\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10);
    for (const std::string& label : {word(), std::string("example"), std::string("com")}) {
      q += static_cast<char>(label.size());
      q += label;
    }
    q += std::string("\x00\x00\x01\x00\x01", 5);
    std::string a = q;
    a[2] = '\x81';
    a[3] = '\x80';
    a[7] = '\x01';
    a += std::string("\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04", 12) + random_bytes(4);
    f.pkts.push_back(Pkt{true, 0, 0, 0, q});
    f.pkts.push_back(Pkt{false, 0, 0, 0, a});
    count(f, "dns");
  }

  // Something binary on a high port; a few packets hold what a payload
  // rule looks for.
  void other_flow() {
    FlowSpec& f = new_flow(6, static_cast<uint16_t>(10000 + pick(50000)), AppProto::unknown);
    Tcp t(*this, f);
    const uint32_t n = 1 + pick(8);
    for (uint32_t i = 0; i < n; ++i) {
      std::string b = random_bytes(64 + pick(1397));
      if (chance(0.008)) {
        if (const Plant* p = plant(Buffer::payload); p && p->bytes.size() < b.size()) {
          b.replace(pick(static_cast<uint32_t>(b.size() - p->bytes.size())), p->bytes.size(),
                    p->bytes);
          ++c_.injected;
        }
      }
      t.data(pick(2) == 0, b);
    }
    t.close();
    count(f, "other");
  }

  // Up to 16 flows open at once, each packet from one of them at random.
  void interleave() {
    std::vector<std::pair<uint32_t, uint32_t>> open;  // flow, next packet
    uint32_t next_flow = 0;
    const auto nflows = static_cast<uint32_t>(c_.flows.size());
    while (next_flow < nflows || !open.empty()) {
      while (open.size() < 16 && next_flow < nflows) open.emplace_back(next_flow++, 0);
      const uint32_t i = pick(static_cast<uint32_t>(open.size()));
      auto& [flow, pkt] = open[i];
      c_.order.emplace_back(flow, pkt);
      if (++pkt == c_.flows[flow].pkts.size()) {
        open[i] = open.back();
        open.pop_back();
      }
    }
  }

  void lay_out() {
    size_t total = 0;
    for (const auto& [flow, pkt] : c_.order) total += c_.flows[flow].pkts[pkt].payload.size();
    c_.wire_bytes.reserve(total);  // (no reallocation: the views stay valid)
    for (const auto& [flow, pkt] : c_.order) {
      const FlowSpec& f = c_.flows[flow];
      const Pkt& p = f.pkts[pkt];
      WirePkt w;
      w.flow = flow;
      w.proto = f.proto;
      w.flags = p.flags;
      w.to_server = p.to_server;
      w.app = f.app;
      w.sport = f.sport;
      w.dport = f.dport;
      w.seq = p.seq;
      w.ack = p.ack;
      w.payload = std::string_view(c_.wire_bytes.data() + c_.wire_bytes.size(), p.payload.size());
      c_.wire_bytes += p.payload;
      c_.wire.push_back(w);
    }
  }

  Corpus& c_;
  const std::vector<Plant>& plants_;
  std::mt19937_64 rng_{20261202};
};

// ---- the paths measured -----------------------------------------------------

struct Result {
  double mb_s = 0, kpps = 0;
  uint64_t matches = 0;
  double cpu = 1;  // the thread's CPU time / wall time: below 1, the VM ran others on our CPU
};

// Wall time, which the rates are of, and the thread's CPU time beside it:
// on this shared VM another process may take the pinned CPU for a while,
// and the share tells a slow path from a stolen CPU.
struct Timer {
  Clock::time_point wall = Clock::now();
  double cpu0 = cpu_now();
  static double cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
  }
};

// Passes over the corpus until at least `target` payload bytes were seen.
uint32_t passes_for(const Corpus& c, uint64_t target) {
  return static_cast<uint32_t>((target + c.payload_bytes - 1) / c.payload_bytes);
}

Result rate(uint64_t bytes, uint64_t packets, const Timer& t, uint64_t matches) {
  const double s = seconds_since(t.wall);
  return Result{bytes / s / 1e6, packets / s / 1e3, matches, (Timer::cpu_now() - t.cpu0) / s};
}

Packet packet_of(const WirePkt& p, uint32_t flow_id) {
  Packet k;
  k.family = 4;
  std::array<uint8_t, 16> client{10, static_cast<uint8_t>(flow_id >> 16),
                                 static_cast<uint8_t>(flow_id >> 8), static_cast<uint8_t>(flow_id)};
  std::array<uint8_t, 16> server{192, 0, 2, static_cast<uint8_t>(1 + flow_id % 250)};
  k.src = p.to_server ? client : server;
  k.dst = p.to_server ? server : client;
  k.sport = p.to_server ? p.sport : p.dport;
  k.dport = p.to_server ? p.dport : p.sport;
  k.ip_proto = p.proto;
  k.tcp_flags = p.flags;
  k.to_server = p.to_server;
  k.established = true;
  k.app = p.app;
  return k;
}

// The literal the matcher prefilters a rule on (matcher.cpp's choice): its
// fast_pattern content, else its longest; false if it has none.
bool fast_pattern(const Rule& r, std::pair<std::string, bool>& out) {
  const Content* best = nullptr;
  const BufferInspect* list = nullptr;
  for_each_content(r, [&](const BufferInspect& l, const Content& c) {
    if (!best || (c.fast_pattern && !best->fast_pattern) ||
        (c.fast_pattern == best->fast_pattern && c.bytes.size() > best->bytes.size())) {
      best = &c;
      list = &l;
    }
  });
  if (!best) return false;
  std::string_view bytes = best->bytes;
  if (best->fp_offset && best->fp_length) bytes = bytes.substr(*best->fp_offset, *best->fp_length);
  out = {std::string(bytes), best->nocase || !list->transforms.empty()};
  return true;
}

// Vectorscan alone, one block database over the payloads: of every
// content of every rule (`all`), or of each rule's prefilter literal, all
// buffers' together (the least scanning the matcher's prefilter can do).
Result vectorscan_alone(const std::vector<Rule>& rules, bool all, const Corpus& c,
                        uint64_t target) {
  std::set<std::pair<std::string, bool>> lits;
  for (const auto& r : rules) {
    if (std::pair<std::string, bool> fp; !all && fast_pattern(r, fp)) lits.insert(fp);
    if (!all) continue;
    for_each_content(r, [&](const BufferInspect& l, const Content& ct) {
      lits.emplace(ct.bytes, ct.nocase || !l.transforms.empty());
    });
  }
  std::vector<std::string> pats;
  std::vector<unsigned> flags, ids;
  for (const auto& [bytes, caseless] : lits) {
    pats.push_back(escape(bytes));
    flags.push_back(HS_FLAG_SINGLEMATCH | (caseless ? HS_FLAG_CASELESS : 0u));
    ids.push_back(static_cast<unsigned>(ids.size()));
  }
  std::vector<const char*> exprs;
  for (const auto& p : pats) exprs.push_back(p.c_str());
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(ids.size()),
                       HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
    std::fprintf(stderr, "vectorscan: %s\n", err ? err->message : "?");
    std::exit(1);
  }
  hs_scratch_t* scratch = nullptr;
  hs_alloc_scratch(db, &scratch);
  uint64_t hits = 0;
  auto on = [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) -> int {
    ++*static_cast<uint64_t*>(ctx);
    return 0;
  };
  const uint32_t passes = passes_for(c, target);
  const Timer t0;
  for (uint32_t i = 0; i < passes; ++i) {
    for (const WirePkt& w : c.wire) {
      const std::string_view p = w.payload;
      if (!p.empty()) hs_scan(db, p.data(), static_cast<unsigned>(p.size()), 0, scratch, on, &hits);
    }
  }
  const Result r = rate(passes * c.payload_bytes, passes * c.payload_packets, t0, hits / passes);
  hs_free_scratch(scratch);
  hs_free_database(db);
  return r;
}

// Naive: each rule's contents, in rule order, as one PCRE2 regex (JIT),
// every rule tried on every payload.
Result naive_pcre(const std::vector<Rule>& rules, const Corpus& c, uint64_t target) {
  std::vector<pcre2_code*> codes;
  for (const auto& r : rules) {
    std::string re = "(?s)";
    bool any = false;
    for_each_content(r, [&](const BufferInspect& l, const Content& ct) {
      if (any) re += ".*?";
      const bool caseless = ct.nocase || !l.transforms.empty();
      re += (caseless ? "(?i:" : "(?:") + escape(ct.bytes) + ")";
      any = true;
    });
    if (!any) continue;
    int e = 0;
    PCRE2_SIZE at = 0;
    pcre2_code* code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re.data()), re.size(), 0, &e, &at, nullptr);
    if (!code) continue;
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    codes.push_back(code);
  }
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  uint64_t hits = 0;
  const uint32_t passes = passes_for(c, target);
  const Timer t0;
  for (uint32_t i = 0; i < passes; ++i) {
    for (const WirePkt& w : c.wire) {
      const std::string_view p = w.payload;
      if (p.empty()) continue;
      for (auto* code : codes) {
        if (pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(), 0, 0, md,
                        nullptr) >= 0)
          ++hits;
      }
    }
  }
  const Result r = rate(passes * c.payload_bytes, passes * c.payload_packets, t0, hits / passes);
  pcre2_match_data_free(md);
  for (auto* code : codes) pcre2_code_free(code);
  return r;
}

// RuleSet::match per packet: the payload alone, no stream.
Result match_packets(const RuleSet& set, const Corpus& c, uint64_t target) {
  Scratch scratch(set);
  std::vector<Match> out;
  FlowBits bits;
  uint64_t matches = 0;
  const uint32_t passes = passes_for(c, target);
  const Timer t0;
  for (uint32_t i = 0; i < passes; ++i) {
    for (const WirePkt& p : c.wire) {
      if (p.payload.empty()) continue;
      Inspection in;
      in.pkt = packet_of(p, p.flow);
      in.set(Buffer::payload, p.payload);
      in.dsize = static_cast<uint32_t>(p.payload.size());
      bits.clear();
      set.match(in, bits, scratch, out);
      matches += out.size();
    }
  }
  return rate(passes * c.payload_bytes, passes * c.payload_packets, t0, matches / passes);
}

// What the flow path's time and scanning are made of (one pass with a
// clock read around every match; the rates come from the untimed run).
struct Split {
  double table_s = 0, milestone_s = 0, packet_s = 0;
  uint64_t milestones = 0, packet_inspections = 0;
  uint64_t stream_bytes = 0, milestone_bytes = 0, payload_bytes = 0;
  uint64_t encrypted_bytes = 0, fed_bytes = 0;  // over all passes, the untimed ones too
};

// The packets through a FlowTable, as the engine feeds it; each pass's
// flows are new ones (their own ids and client addresses). `set` null:
// the table and the parsers alone.
Result match_flows(const RuleSet* set, const Corpus& c, uint64_t target, Split* split,
                   size_t stream_window = FlowTableConfig{}.stream_window,
                   bool inspect_encrypted = false) {
  FlowTableConfig cfg;
  cfg.max_flows = 4096;  // the bench's flows end; this bounds what they hold
  cfg.stream_window = stream_window;
  cfg.inspect_encrypted = inspect_encrypted;
  FlowTable table(cfg);
  std::unique_ptr<Scratch> scratch = set ? std::make_unique<Scratch>(*set) : nullptr;
  std::vector<Match> out;
  uint64_t matches = 0, now = 1'000'000'000;
  const auto nflows = static_cast<uint32_t>(c.flows.size());
  const uint32_t passes = passes_for(c, target);
  // Untimed passes first, until the table is full and has turned over a few
  // times: the engine runs in that steady state (flows reused, every slot's
  // buffers grown), not in a fresh table's first minutes. (With one turn,
  // 64 MB measured 460 MB/s of the table's 600 in steady state: fresh
  // windows were still faulting their pages in.)
  const uint32_t warm = 4 * (static_cast<uint32_t>(cfg.max_flows / c.flows.size()) + 1);
  std::optional<Timer> t0;
  for (uint32_t i = 0; i < warm + passes; ++i) {
    if (i == warm) {
      if (split) *split = Split{};
      matches = 0;
      t0.emplace();
    }
    for (const WirePkt& p : c.wire) {
      const uint32_t id = i * nflows + p.flow + 1;
      const Packet k = packet_of(p, id);
      PacketEvent ev;
      ev.flow_id = id * 0x9e3779b97f4a7c15ULL;
      ev.src = k.src;
      ev.dst = k.dst;
      ev.sport = k.sport;
      ev.dport = k.dport;
      ev.ip_proto = p.proto;
      ev.tcp_flags = p.flags;
      ev.seq = p.seq;
      ev.ack = p.ack;
      ev.l7 = p.app;
      ev.ingress = p.to_server;
      ev.payload_len = static_cast<uint32_t>(p.payload.size());
      ev.payload = p.payload;
      now += 10'000;
      if (!set) {
        table.feed(ev, now, [&](const Inspection&, FlowState&) {});
        continue;
      }
      if (!split) {
        table.feed(ev, now, [&](const Inspection& in, FlowState& fs) {
          set->match(in, fs.user_as<FlowBits>(), *scratch, out);
          matches += out.size();
        });
        continue;
      }
      table.feed(ev, now, [&](const Inspection& in, FlowState& fs) {
        const auto m0 = Clock::now();
        set->match(in, fs.user_as<FlowBits>(), *scratch, out);
        const double d = seconds_since(m0);
        matches += out.size();
        if (in.has(Buffer::payload)) {
          split->packet_s += d;
          ++split->packet_inspections;
          // What the matcher scans of the view: the new bytes and the
          // longest literal's length before them (the whole view on a
          // flow's first packets, not counted here).
          const size_t fresh = in.stream.size() - std::min(in.stream_new, in.stream.size());
          split->stream_bytes +=
              fresh + std::min(in.stream_new, set->longest_payload_literal() - 1);
          split->payload_bytes += in.get(Buffer::payload).size();
        } else {
          split->milestone_s += d;
          ++split->milestones;
          for (size_t b = 0; b < kBufferCount; ++b) {
            if (in.present.test(b)) split->milestone_bytes += in.buffer[b].size();
          }
        }
      });
    }
  }
  if (split) {
    split->table_s = seconds_since(t0->wall) - split->milestone_s - split->packet_s;
    split->encrypted_bytes = table.stats().encrypted_bytes;
    split->fed_bytes = uint64_t{warm + passes} * c.payload_bytes;
  }
  return rate(passes * c.payload_bytes, passes * c.packets, *t0, matches / passes);
}

void pin(int cpu) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  sched_getaffinity(0, sizeof allowed, &allowed);
  if (cpu < 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i) {
      if (CPU_ISSET(i, &allowed)) cpu = i;
    }
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0) {
    std::perror("sched_setaffinity");
    std::exit(1);
  }
  std::printf("pinned to CPU %d\n", cpu);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/work/shared/rules/et-open";
  const uint64_t target = (argc > 2 ? std::stoull(argv[2]) : 64) * 1000 * 1000;
  pin(argc > 3 ? std::stoi(argv[3]) : -1);

  size_t refused = 0;
  std::vector<Rule> et = load_dir(dir, refused);
  if (et.empty()) {
    std::fprintf(stderr, "no rules in %s\n", dir.c_str());
    return 1;
  }
  std::shuffle(et.begin(), et.end(), std::mt19937(1));
  std::printf("rules: %zu loaded from %s, %zu refused by the parser\n", et.size(), dir.c_str(),
              refused);

  // What to plant: printable user agents and URIs of HTTP rules, and
  // payload contents, of 6 bytes or more.
  std::vector<Plant> plants;
  for (const auto& r : et) {
    for_each_content(r, [&](const BufferInspect& l, const Content& c) {
      const bool http = l.buffer == Buffer::http_user_agent || l.buffer == Buffer::http_uri;
      if (c.bytes.size() < 6 || (!http && l.buffer != Buffer::payload)) return;
      const bool printable = std::all_of(c.bytes.begin(), c.bytes.end(), [](char ch) {
        return ch > 0x20 && ch < 0x7f && ch != '%' && ch != '?' && ch != '#';
      });
      if (http && !printable) return;
      plants.push_back(Plant{l.buffer, c.bytes});
    });
  }
  Corpus corpus;
  Gen(corpus, plants).build(8 * 1000 * 1000);
  std::printf(
      "corpus: %zu flows, %lu packets (%lu with payload, mean %.0f bytes), %.1f MB of payload "
      "(",
      corpus.flows.size(), corpus.packets, corpus.payload_packets,
      double(corpus.payload_bytes) / corpus.payload_packets, corpus.payload_bytes / 1e6);
  for (const auto& [kind, bytes] : corpus.bytes_by_kind)
    std::printf("%s %.0f%% ", kind.c_str(), 100.0 * bytes / corpus.payload_bytes);
  std::printf("), %lu HTTP transactions; %lu packets with a rule's string planted (%.2f%%)\n",
              corpus.http_transactions, corpus.injected,
              100.0 * corpus.injected / corpus.payload_packets);
  std::printf(
      "each measurement: >= %.0f MB of payload (the corpus looped); naive PCRE2: >= %.0f MB\n",
      target / 1e6, target / 4e6);

  if (argc > 4 && std::string(argv[4]) == "table") {  // the table and parsers alone, to profile
    const Result r = match_flows(nullptr, corpus, target, nullptr);
    std::printf("flow table and parsers alone: %.1f MB/s, %.1f k packets/s, CPU %.0f%%\n", r.mb_s,
                r.kpps, 100 * r.cpu);
    return 0;
  }
  if (argc > 4) {
    const auto set = RuleSet::compile(rule_set(et, std::stoul(argv[4])));
    const size_t window = argc > 5 ? std::stoul(argv[5]) : FlowTableConfig{}.stream_window;
    Split split;
    const bool all = std::getenv("RAMPART_BENCH_INSPECT_ENCRYPTED") != nullptr;
    const Result r = match_flows(set.get(), corpus, target, nullptr, window, all);
    match_flows(set.get(), corpus, target / 4, &split, window, all);
    const double total = split.table_s + split.milestone_s + split.packet_s;
    std::printf(
        "%zu rules, flow path%s, stream_window %zu: %.1f MB/s, %.1f k packets/s, CPU %.0f%%; "
        "stream bytes scanned per payload byte %.2f; time: table %.0f%%, milestones %.0f%% "
        "(%.2f us each), packets %.0f%% (%.2f us each); encrypted TLS passed over: %.0f%% of "
        "the payload\n",
        set->rules().size(), all ? " (encrypted TLS inspected)" : "", window, r.mb_s, r.kpps,
        100 * r.cpu, double(split.stream_bytes) / split.payload_bytes, 100 * split.table_s / total,
        100 * split.milestone_s / total, 1e6 * split.milestone_s / split.milestones,
        100 * split.packet_s / total, 1e6 * split.packet_s / split.packet_inspections,
        100.0 * split.encrypted_bytes / split.fed_bytes);
    return 0;
  }
  match_flows(nullptr, corpus, target / 4, nullptr);  // warm-up: the allocator's arenas grow
  const Result table_only = match_flows(nullptr, corpus, target, nullptr);
  std::printf(
      "flow table and parsers alone (feed, no matching): %.1f MB/s, %.1f k packets/s, CPU "
      "%.0f%%\n\n",
      table_only.mb_s, table_only.kpps, 100 * table_only.cpu);

  struct Row {
    size_t n;
    size_t unfiltered;
    double compile_ms;
    Result vs, vs_fp, pkt, flow, flow_all;  // flow_all: encrypted TLS inspected too
    Split split;
    Result flow_split;
  };
  std::vector<Row> rows;
  std::vector<std::pair<size_t, Result>> naive;
  for (size_t n : {size_t{100}, size_t{200}, size_t{400}, et.size(), size_t{1000}, size_t{2000},
                   size_t{5000}}) {
    std::vector<Rule> rules = rule_set(et, n);
    const auto t0 = Clock::now();
    auto set = RuleSet::compile(rules);
    Row row{
        rules.size(), set->unfiltered_rules(), seconds_since(t0) * 1e3, {}, {}, {}, {}, {}, {}, {}};
    if (!set->refused().empty()) {
      std::printf("%zu rules: %zu refused by the matcher (%s)\n", n, set->refused().size(),
                  set->refused()[0].message.c_str());
    }
    row.vs = vectorscan_alone(rules, true, corpus, target);
    row.vs_fp = vectorscan_alone(rules, false, corpus, target);
    row.pkt = match_packets(*set, corpus, target);
    row.flow = match_flows(set.get(), corpus, target, nullptr);
    row.flow_all =
        match_flows(set.get(), corpus, target, nullptr, FlowTableConfig{}.stream_window, true);
    row.flow_split = match_flows(set.get(), corpus, target / 4, &row.split);
    if (n == 100 || n == 1000) naive.emplace_back(n, naive_pcre(rules, corpus, target / 4));
    rows.push_back(row);
    std::fflush(stdout);
  }

  const Row& base = rows.front();
  // cpu%: the lowest CPU share of the row's four measurements.
  // flow-all MB/s: the flow path with encrypted TLS inspected too (flows.encrypted_tls: inspect).
  std::printf("%6s %10s %10s  %8s %8s  %10s %9s  %10s %9s %10s  %8s %8s  %8s %8s  %5s  %s\n",
              "rules", "unfiltered", "compile_ms", "vs MB/s", "vs-fp", "pkt MB/s", "pkt kpps",
              "flow MB/s", "flow kpps", "flow-all", "pkt/vs", "flow/vs", "pkt/100", "flow/100",
              "cpu%", "matches per pass (vs hits, pkt, flow, flow-all)");
  for (const Row& r : rows) {
    const double cpu = std::min({r.vs.cpu, r.vs_fp.cpu, r.pkt.cpu, r.flow.cpu, r.flow_all.cpu});
    std::printf(
        "%6zu %10zu %10.0f  %8.1f %8.1f  %10.1f %9.1f  %10.1f %9.1f %10.1f  %8.3f %8.3f  %8.2f "
        "%8.2f  %5.0f  %lu, %lu, %lu, %lu\n",
        r.n, r.unfiltered, r.compile_ms, r.vs.mb_s, r.vs_fp.mb_s, r.pkt.mb_s, r.pkt.kpps,
        r.flow.mb_s, r.flow.kpps, r.flow_all.mb_s, r.pkt.mb_s / r.vs.mb_s, r.flow.mb_s / r.vs.mb_s,
        r.pkt.mb_s / base.pkt.mb_s, r.flow.mb_s / base.flow.mb_s, 100 * cpu, r.vs.matches,
        r.pkt.matches, r.flow.matches, r.flow_all.matches);
  }
  std::printf("\nnaive PCRE2-JIT, every rule's contents as one regex, run one by one:\n");
  for (const auto& [n, res] : naive) {
    const Row& r = *std::find_if(rows.begin(), rows.end(), [&](const Row& x) { return x.n == n; });
    std::printf(
        "%6zu rules: %.2f MB/s, %.2f k packets/s, CPU %.0f%%; match per packet / naive = %.1f\n", n,
        res.mb_s, res.kpps, 100 * res.cpu, r.pkt.mb_s / res.mb_s);
  }
  std::printf(
      "\nwhere the flow path's time goes (a pass with a clock read around each match):\n"
      "%6s %9s  %8s %10s %10s  %12s %12s  %14s %14s\n",
      "rules", "MB/s", "table %", "milest. %", "packet %", "us/milestone", "us/packet",
      "stream B/pay B", "milest. B/pay B");
  for (const Row& r : rows) {
    const Split& s = r.split;
    const double total = s.table_s + s.milestone_s + s.packet_s;
    std::printf("%6zu %9.1f  %8.1f %10.1f %10.1f  %12.2f %12.2f  %14.2f %14.2f\n", r.n,
                r.flow_split.mb_s, 100 * s.table_s / total, 100 * s.milestone_s / total,
                100 * s.packet_s / total, 1e6 * s.milestone_s / s.milestones,
                1e6 * s.packet_s / s.packet_inspections, double(s.stream_bytes) / s.payload_bytes,
                double(s.milestone_bytes) / s.payload_bytes);
  }
  return 0;
}

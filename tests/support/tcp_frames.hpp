// SPDX-License-Identifier: Apache-2.0
// TCP segments with options for the SYN cookie tests and bench: built
// whole (Ethernet, IPv4 or IPv6, TCP with its checksum) and read back.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace rampart::test {

struct TcpSpec {
  int family = 4;
  std::string src = "198.18.0.1", dst = "198.18.0.2";
  uint16_t sport = 40000, dport = 8080;
  uint32_t seq = 1000, ack = 0;
  uint8_t flags = 0x02;  // SYN
  std::optional<uint16_t> mss = 1460;
  std::optional<uint8_t> wscale = 7;
  bool sack = true;
  std::optional<uint32_t> tsval = 12345;
  uint32_t tsecr = 0;
  size_t payload = 0;
  uint8_t ip_option_words = 0;       // IPv4 NOP options
  std::vector<uint8_t> raw_options;  // when set: the options, as they are (padded to 4)
};

struct TcpSeen {
  bool ok = false;  // parsed, both checksums right
  int family = 0;
  std::string src, dst;
  uint16_t sport = 0, dport = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  std::optional<uint16_t> mss;
  std::optional<uint8_t> wscale;
  bool sack = false;
  std::optional<uint32_t> tsval, tsecr;
  uint8_t src_mac[6]{}, dst_mac[6]{};
  size_t payload = 0;
};

namespace tcp_frames_detail {
inline uint32_t sum16(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i]) << 8 | p[i + 1];
  if (n & 1) s += uint32_t(p[n - 1]) << 8;
  return s;
}
inline uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}
inline void put16(uint8_t* p, uint16_t v) {
  p[0] = v >> 8;
  p[1] = v & 0xff;
}
inline void put32(uint8_t* p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v & 0xffff);
}
inline uint32_t get32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
// The pseudo-header's sum.
inline uint32_t pseudo(int family, const uint8_t* src, const uint8_t* dst, size_t tcp_len) {
  const size_t alen = family == 4 ? 4 : 16;
  uint32_t s = sum16(src, alen);
  s = sum16(dst, alen, s);
  return s + 6 + static_cast<uint32_t>(tcp_len);
}
}  // namespace tcp_frames_detail

inline std::vector<uint8_t> tcp_frame(const TcpSpec& t) {
  using namespace tcp_frames_detail;
  std::vector<uint8_t> opt = t.raw_options;
  if (t.raw_options.empty()) {
    if (t.mss) opt.insert(opt.end(), {2, 4, uint8_t(*t.mss >> 8), uint8_t(*t.mss & 0xff)});
    if (t.sack) opt.insert(opt.end(), {4, 2});
    if (t.tsval) {
      opt.insert(opt.end(), {8, 10});
      uint8_t b[8];
      put32(b, *t.tsval);
      put32(b + 4, t.tsecr);
      opt.insert(opt.end(), b, b + 8);
    }
    if (t.wscale) opt.insert(opt.end(), {1, 3, 3, *t.wscale});
  }
  while (opt.size() % 4) opt.push_back(0);  // EOL padding
  const size_t tcp_len = 20 + opt.size() + t.payload;
  const size_t ip_len = t.family == 4 ? 20 + 4 * t.ip_option_words : 40;
  std::vector<uint8_t> f(14 + ip_len + tcp_len, 0);
  const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x02}, smac[6] = {0x02, 0, 0, 0, 0, 0x01};
  std::memcpy(f.data(), dmac, 6);
  std::memcpy(f.data() + 6, smac, 6);
  put16(f.data() + 12, t.family == 4 ? 0x0800 : 0x86dd);
  uint8_t* ip = f.data() + 14;
  uint8_t src[16]{}, dst[16]{};
  inet_pton(t.family == 4 ? AF_INET : AF_INET6, t.src.c_str(), src);
  inet_pton(t.family == 4 ? AF_INET : AF_INET6, t.dst.c_str(), dst);
  if (t.family == 4) {
    ip[0] = static_cast<uint8_t>(0x40 | (ip_len / 4));
    put16(ip + 2, static_cast<uint16_t>(ip_len + tcp_len));
    ip[8] = 64;
    ip[9] = 6;
    std::memcpy(ip + 12, src, 4);
    std::memcpy(ip + 16, dst, 4);
    for (size_t i = 20; i < ip_len; ++i) ip[i] = 1;  // NOP
    put16(ip + 10, fold(sum16(ip, ip_len)));
  } else {
    ip[0] = 0x60;
    put16(ip + 4, static_cast<uint16_t>(tcp_len));
    ip[6] = 6;
    ip[7] = 64;
    std::memcpy(ip + 8, src, 16);
    std::memcpy(ip + 24, dst, 16);
  }
  uint8_t* th = ip + ip_len;
  put16(th, t.sport);
  put16(th + 2, t.dport);
  put32(th + 4, t.seq);
  put32(th + 8, t.ack);
  th[12] = static_cast<uint8_t>((20 + opt.size()) / 4 << 4);
  th[13] = t.flags;
  put16(th + 14, 64240);
  std::memcpy(th + 20, opt.data(), opt.size());
  for (size_t i = 0; i < t.payload; ++i) th[20 + opt.size() + i] = 0x61;
  put16(th + 16, fold(sum16(th, tcp_len, pseudo(t.family, src, dst, tcp_len))));
  return f;
}

// Reads a frame tcp_frame could have made (no VLAN tags), checking both checksums.
inline TcpSeen read_tcp_frame(const std::vector<uint8_t>& f) {
  using namespace tcp_frames_detail;
  TcpSeen s;
  if (f.size() < 14 + 20 + 20) return s;
  std::memcpy(s.dst_mac, f.data(), 6);
  std::memcpy(s.src_mac, f.data() + 6, 6);
  const uint16_t et = get16(f.data() + 12);
  const uint8_t* ip = f.data() + 14;
  size_t ip_len = 0, total = 0;
  char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
  const uint8_t *src = nullptr, *dst = nullptr;
  if (et == 0x0800) {
    s.family = 4;
    ip_len = (ip[0] & 0xf) * 4u;
    total = get16(ip + 2);
    if (fold(sum16(ip, ip_len)) != 0) return s;
    src = ip + 12;
    dst = ip + 16;
  } else if (et == 0x86dd) {
    s.family = 6;
    ip_len = 40;
    total = 40 + get16(ip + 4);
    src = ip + 8;
    dst = ip + 24;
  } else {
    return s;
  }
  if (14 + total > f.size() || total < ip_len + 20) return s;
  inet_ntop(s.family == 4 ? AF_INET : AF_INET6, src, a, sizeof a);
  inet_ntop(s.family == 4 ? AF_INET : AF_INET6, dst, b, sizeof b);
  s.src = a;
  s.dst = b;
  const uint8_t* th = ip + ip_len;
  const size_t tcp_len = total - ip_len;
  if (fold(sum16(th, tcp_len, pseudo(s.family, src, dst, tcp_len))) != 0) return s;
  s.sport = get16(th);
  s.dport = get16(th + 2);
  s.seq = get32(th + 4);
  s.ack = get32(th + 8);
  s.flags = th[13];
  s.window = get16(th + 14);
  const size_t doff = (th[12] >> 4) * 4u;
  if (doff < 20 || doff > tcp_len) return s;
  s.payload = tcp_len - doff;
  for (size_t i = 20; i < doff;) {
    const uint8_t kind = th[i];
    if (kind == 0) break;
    if (kind == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= doff) return s;
    const uint8_t len = th[i + 1];
    if (len < 2 || i + len > doff) return s;
    if (kind == 2 && len == 4) s.mss = get16(th + i + 2);
    if (kind == 3 && len == 3) s.wscale = th[i + 2];
    if (kind == 4 && len == 2) s.sack = true;
    if (kind == 8 && len == 10) {
      s.tsval = get32(th + i + 2);
      s.tsecr = get32(th + i + 6);
    }
    i += len;
  }
  s.ok = true;
  return s;
}

}  // namespace rampart::test

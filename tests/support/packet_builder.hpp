// SPDX-License-Identifier: Apache-2.0
// Builds Ethernet frames for BPF_PROG_TEST_RUN: VLAN tags, IPv4 (options,
// fragments), IPv6 (extension headers), TCP/UDP/ICMP/ICMPv6, with lengths
// and the IPv4 header checksum filled in.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace rampart::test {

class PacketBuilder {
 public:
  PacketBuilder& vlan(uint16_t vid, uint16_t tpid = 0x8100) {
    vlans_.push_back({tpid, vid});
    return *this;
  }
  PacketBuilder& ipv4(const std::string& src, const std::string& dst) {
    family_ = 4;
    inet_pton(AF_INET, src.c_str(), src_.data());
    inet_pton(AF_INET, dst.c_str(), dst_.data());
    return *this;
  }
  PacketBuilder& ipv6(const std::string& src, const std::string& dst) {
    family_ = 6;
    inet_pton(AF_INET6, src.c_str(), src_.data());
    inet_pton(AF_INET6, dst.c_str(), dst_.data());
    return *this;
  }
  PacketBuilder& ipv4_options(size_t words) {  // NOP options, 4 bytes each
    ip_options_ = words;
    return *this;
  }
  PacketBuilder& fragment_offset(uint16_t units_of_8) {  // IPv4 or IPv6 (adds a fragment header)
    frag_offset_ = units_of_8;
    fragmented_ = true;
    return *this;
  }
  PacketBuilder& ipv6_ext(uint8_t type) {  // hop-by-hop (0), routing (43), dest opts (60)
    ext_.push_back(type);
    return *this;
  }
  PacketBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = 0x02) {
    proto_ = 6;
    sport_ = sport;
    dport_ = dport;
    tcp_flags_ = flags;
    return *this;
  }
  PacketBuilder& tcp_seq(uint32_t seq, uint32_t ack) {
    seq_ = seq;
    ack_ = ack;
    return *this;
  }
  PacketBuilder& udp(uint16_t sport, uint16_t dport) {
    proto_ = 17;
    sport_ = sport;
    dport_ = dport;
    return *this;
  }
  PacketBuilder& icmp() {
    proto_ = family_ == 6 ? 58 : 1;
    return *this;
  }
  PacketBuilder& protocol(uint8_t p) {  // raw, no L4 header
    proto_ = p;
    raw_proto_ = true;
    return *this;
  }
  PacketBuilder& payload(size_t n) {
    payload_ = n;
    bytes_.clear();
    return *this;
  }
  PacketBuilder& payload(const std::string& bytes) {  // these bytes as the payload
    payload_ = bytes.size();
    bytes_.assign(bytes.begin(), bytes.end());
    return *this;
  }
  PacketBuilder& ethertype(uint16_t t) {  // for non-IP frames
    ethertype_ = t;
    family_ = 0;
    return *this;
  }

  std::vector<uint8_t> build() const {
    std::vector<uint8_t> f;
    const uint8_t mac_dst[6] = {0x02, 0, 0, 0, 0, 2}, mac_src[6] = {0x02, 0, 0, 0, 0, 1};
    f.insert(f.end(), mac_dst, mac_dst + 6);
    f.insert(f.end(), mac_src, mac_src + 6);
    for (const auto& [tpid, vid] : vlans_) {
      put16(f, tpid);
      put16(f, vid);
    }
    put16(f, family_ == 4 ? 0x0800 : family_ == 6 ? 0x86DD : ethertype_);
    if (family_ == 0) {
      f.resize(f.size() + 28);
      return f;
    }
    const std::vector<uint8_t> l4 = transport();
    if (family_ == 4) {
      const size_t hlen = 20 + ip_options_ * 4;
      const size_t start = f.size();
      f.push_back(static_cast<uint8_t>(0x40 | (hlen / 4)));
      f.push_back(0);
      put16(f, static_cast<uint16_t>(hlen + l4.size()));
      put16(f, 0x1234);
      put16(f, fragmented_ ? (0x2000 | (frag_offset_ & 0x1fff)) : 0x4000);
      f.push_back(64);
      f.push_back(proto_);
      put16(f, 0);
      f.insert(f.end(), src_.begin(), src_.begin() + 4);
      f.insert(f.end(), dst_.begin(), dst_.begin() + 4);
      for (size_t i = 0; i < ip_options_ * 4; ++i) f.push_back(1);  // NOP
      uint32_t sum = 0;
      for (size_t i = start; i < start + hlen; i += 2) sum += uint32_t(f[i]) << 8 | f[i + 1];
      while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
      const uint16_t csum = static_cast<uint16_t>(~sum);
      f[start + 10] = csum >> 8;
      f[start + 11] = csum & 0xff;
    } else {
      std::vector<uint8_t> ext;
      std::vector<uint8_t> chain(ext_.begin(), ext_.end());
      if (fragmented_) chain.push_back(44);
      for (size_t i = 0; i < chain.size(); ++i) {
        const uint8_t next = i + 1 < chain.size() ? chain[i + 1] : proto_;
        if (chain[i] == 44) {
          ext.push_back(next);
          ext.push_back(0);
          put16(ext, static_cast<uint16_t>(frag_offset_ << 3));
          put32(ext, 0xabcd);
        } else {
          ext.push_back(next);
          ext.push_back(0);                           // 8 bytes
          ext.insert(ext.end(), {1, 4, 0, 0, 0, 0});  // PadN
        }
      }
      put32(f, 0x60000000);
      put16(f, static_cast<uint16_t>(ext.size() + l4.size()));
      f.push_back(chain.empty() ? proto_ : chain[0]);
      f.push_back(64);
      f.insert(f.end(), src_.begin(), src_.end());
      f.insert(f.end(), dst_.begin(), dst_.end());
      f.insert(f.end(), ext.begin(), ext.end());
    }
    f.insert(f.end(), l4.begin(), l4.end());
    return f;
  }

 private:
  static void put16(std::vector<uint8_t>& v, uint16_t x) {
    v.push_back(x >> 8);
    v.push_back(x & 0xff);
  }
  static void put32(std::vector<uint8_t>& v, uint32_t x) {
    put16(v, x >> 16);
    put16(v, x & 0xffff);
  }
  std::vector<uint8_t> transport() const {
    std::vector<uint8_t> t;
    if (fragmented_ && frag_offset_ != 0) {
      t.resize(payload_ + 8, 0xee);  // the middle of something
      return t;
    }
    if (!raw_proto_ && proto_ == 6) {
      put16(t, sport_);
      put16(t, dport_);
      put32(t, seq_);
      put32(t, ack_);
      t.push_back(0x50);
      t.push_back(tcp_flags_);
      put16(t, 65535);
      put16(t, 0);
      put16(t, 0);
    } else if (!raw_proto_ && proto_ == 17) {
      put16(t, sport_);
      put16(t, dport_);
      put16(t, static_cast<uint16_t>(8 + payload_));
      put16(t, 0);
    } else if (!raw_proto_ && (proto_ == 1 || proto_ == 58)) {
      t.insert(t.end(), {static_cast<uint8_t>(proto_ == 1 ? 8 : 128), 0, 0, 0, 0, 1, 0, 1});
    }
    if (!bytes_.empty())
      t.insert(t.end(), bytes_.begin(), bytes_.end());
    else
      t.resize(t.size() + payload_, 0xab);
    return t;
  }

  std::vector<std::pair<uint16_t, uint16_t>> vlans_;
  int family_ = 4;
  uint16_t ethertype_ = 0x0806;
  std::array<uint8_t, 16> src_{}, dst_{};
  size_t ip_options_ = 0;
  bool fragmented_ = false;
  uint16_t frag_offset_ = 0;
  std::vector<uint8_t> ext_;
  uint8_t proto_ = 17;
  bool raw_proto_ = false;
  uint16_t sport_ = 0, dport_ = 0;
  uint8_t tcp_flags_ = 0;
  uint32_t seq_ = 1, ack_ = 0;
  size_t payload_ = 16;
  std::vector<uint8_t> bytes_;
};

}  // namespace rampart::test

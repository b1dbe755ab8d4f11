// SPDX-License-Identifier: Apache-2.0
#include "countries.hpp"

#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>
#include <memory>
#include <unordered_map>

namespace rampart::geo {
namespace {

using u128 = unsigned __int128;

struct Closer {
  void operator()(MMDB_s* m) const {
    MMDB_close(m);
    delete m;
  }
};

// The country code of a data record: MaxMind's country.iso_code, else
// DB-IP's flat country_code; "" when it has neither.
std::string country_of(MMDB_entry_s entry) {
  MMDB_entry_data_s data{};
  const char* nested[] = {"country", "iso_code", nullptr};
  const char* flat[] = {"country_code", nullptr};
  for (const char** path : {nested, flat}) {
    if (MMDB_aget_value(&entry, &data, path) == MMDB_SUCCESS && data.has_data &&
        data.type == MMDB_DATA_TYPE_UTF8_STRING && data.data_size == 2)
      return std::string(data.utf8_string, 2);
  }
  return "";
}

net::Cidr cidr_of(u128 bits, unsigned depth, bool v4) {
  net::Cidr c;
  if (v4) {
    c.family = 4;
    c.prefix_len = static_cast<uint8_t>(depth);
    const auto a = static_cast<uint32_t>(bits);  // the low 32 of the 128
    for (int i = 0; i < 4; ++i) c.addr[i] = static_cast<uint8_t>(a >> (24 - 8 * i));
  } else {
    c.family = 6;
    c.prefix_len = static_cast<uint8_t>(depth);
    for (int i = 0; i < 16; ++i) c.addr[i] = static_cast<uint8_t>(bits >> (120 - 8 * i));
  }
  return c;
}

// Appends `c` to a list in address order, merging it with the last entry
// while the two are the halves of one network.
void add_merged(std::vector<net::Cidr>& list, net::Cidr c) {
  while (!list.empty()) {
    net::Cidr& last = list.back();
    if (last.family != c.family || last.prefix_len != c.prefix_len || c.prefix_len == 0) break;
    net::Cidr parent = last;
    parent.prefix_len = static_cast<uint8_t>(c.prefix_len - 1);
    const unsigned bit = parent.prefix_len;
    if (last.addr[bit / 8] & (0x80 >> (bit % 8))) break;  // `last` is an upper half
    net::Cidr upper = last;
    upper.addr[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
    if (!(upper == c)) break;
    list.pop_back();
    c = parent;
  }
  list.push_back(c);
}

}  // namespace

bool country_code(const std::string& code) {
  return code.size() == 2 && code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z';
}

CountryNetworks country_networks(const std::string& path, const std::set<std::string>& wanted) {
  std::unique_ptr<MMDB_s, Closer> db(new MMDB_s{});
  const int st = MMDB_open(path.c_str(), MMDB_MODE_MMAP, db.get());
  if (st != MMDB_SUCCESS) {
    delete db.release();  // nothing to close
    throw CountryError(path + ": " + MMDB_strerror(st));
  }
  const unsigned width = db->metadata.ip_version == 6 ? 128 : 32;
  if (db->metadata.ip_version != 4 && db->metadata.ip_version != 6)
    throw CountryError(path + ": ip_version " + std::to_string(db->metadata.ip_version) +
                       " is neither 4 nor 6");
  const uint32_t nodes = db->metadata.node_count;
  CountryNetworks out;
  std::unordered_map<uint32_t, std::string> country_at;  // data offset -> code
  // Records to look at, in address order off the top: a search node's
  // two go on right first, so the left (lower addresses) comes off first.
  struct Record {
    uint8_t type;
    uint64_t value;
    MMDB_entry_s entry;
    unsigned depth;
    u128 bits;  // the prefix, left-aligned in `width` bits
  };
  std::vector<Record> stack;
  uint64_t visited = 0;
  const u128 one = 1;
  const auto push_children = [&](uint32_t node, unsigned depth, u128 bits) {
    if (++visited > 2ull * nodes + 2)
      throw CountryError(path + ": the search tree loops (corrupt)");
    MMDB_search_node_s n{};
    if (MMDB_read_node(db.get(), node, &n) != MMDB_SUCCESS)
      throw CountryError(path + ": node " + std::to_string(node) + " cannot be read (corrupt)");
    stack.push_back({n.right_record_type, n.right_record, n.right_record_entry, depth + 1,
                     bits | (one << (width - depth - 1))});
    stack.push_back({n.left_record_type, n.left_record, n.left_record_entry, depth + 1, bits});
  };
  push_children(0, 0, 0);
  while (!stack.empty()) {
    Record r = stack.back();
    stack.pop_back();
    if (width == 128) {
      // The tree's aliases of the IPv4 part: IPv4-mapped and 6to4.
      if (r.depth == 96 && (r.bits >> 32) == 0xffff) continue;
      if (r.depth == 16 && (r.bits >> 112) == 0x2002) continue;
    }
    if (r.type == MMDB_RECORD_TYPE_EMPTY) continue;
    if (r.type == MMDB_RECORD_TYPE_SEARCH_NODE) {
      if (r.depth >= width || r.value >= nodes)
        throw CountryError(path + ": a search node past the address width (corrupt)");
      push_children(static_cast<uint32_t>(r.value), r.depth, r.bits);
      continue;
    }
    if (r.type != MMDB_RECORD_TYPE_DATA)
      throw CountryError(path + ": record " + std::to_string(r.value) + " at depth " +
                         std::to_string(r.depth) + " is invalid (corrupt)");
    auto [it, fresh] = country_at.try_emplace(r.entry.offset);
    if (fresh) {
      it->second = country_of(r.entry);
      if (!it->second.empty()) out.present.insert(it->second);
    }
    ++out.records;
    if (it->second.empty() || !wanted.count(it->second)) continue;
    net::Cidr c;
    if (width == 32) {
      c = cidr_of(r.bits, r.depth, true);
    } else if (r.depth >= 96 && (r.bits >> 32) == 0) {
      c = cidr_of(r.bits, r.depth - 96, true);  // IPv4 under ::/96
    } else {
      c = cidr_of(r.bits, r.depth, false);
    }
    add_merged(out.by_country[it->second], c);
  }
  return out;
}

FileStamp stamp_of(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return {};
  return {st.st_dev, st.st_ino, st.st_size,
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

CountryLookup::CountryLookup(const std::string& path)
    : path_(path), stamp_(stamp_of(path)), db_(new MMDB_s{}) {
  const int st = MMDB_open(path.c_str(), MMDB_MODE_MMAP, db_.get());
  if (st != MMDB_SUCCESS) throw CountryError(path + ": " + MMDB_strerror(st));
}

CountryLookup::~CountryLookup() { MMDB_close(db_.get()); }

std::string CountryLookup::country(int family, const uint8_t* addr) const {
  sockaddr_storage sa{};
  if (family == 4) {
    auto* a = reinterpret_cast<sockaddr_in*>(&sa);
    a->sin_family = AF_INET;
    std::memcpy(&a->sin_addr, addr, 4);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&sa);
    a->sin6_family = AF_INET6;
    std::memcpy(&a->sin6_addr, addr, 16);
  }
  int err = 0;
  const MMDB_lookup_result_s r =
      MMDB_lookup_sockaddr(db_.get(), reinterpret_cast<const sockaddr*>(&sa), &err);
  if (err != MMDB_SUCCESS || !r.found_entry) return "";
  return country_of(r.entry);
}

}  // namespace rampart::geo

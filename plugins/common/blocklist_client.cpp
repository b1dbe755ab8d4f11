// SPDX-License-Identifier: Apache-2.0
#include "blocklist_client.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <sstream>

namespace rampart::blocklist {

std::vector<net::Cidr> host_networks() {
  std::vector<net::Cidr> out;
  std::string err;
  for (const char* lo : {"127.0.0.0/8", "::1/128", "::ffff:127.0.0.0/104"})
    out.push_back(*net::parse_cidr(lo, err));
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return out;
  for (const ifaddrs* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    net::Cidr c;
    if (i->ifa_addr->sa_family == AF_INET) {
      c.family = 4;
      c.prefix_len = 32;
      std::memcpy(c.addr.data(), &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      c.family = 6;
      c.prefix_len = 128;
      std::memcpy(c.addr.data(), &reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr,
                  16);
    } else {
      continue;
    }
    out.push_back(c);
  }
  freeifaddrs(ifs);
  return out;
}

std::vector<net::Cidr> allowed_sources(const std::vector<std::string>& firewall_rules) {
  std::vector<net::Cidr> out;
  for (const auto& body : firewall_rules) {
    try {
      const auto o = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
      if (!o || o->optValue<std::string>("action", "") != "allow" || !o->has("src_ip")) continue;
      std::string err;
      if (const auto c = net::parse_cidr(o->getValue<std::string>("src_ip"), err))
        out.push_back(*c);
    } catch (const Poco::Exception&) {
      // not a rule this reads: skipped
    }
  }
  return out;
}

std::string entry(uint64_t id, const net::Cidr& network, std::string_view owner,
                  const std::string& reason, int64_t expires_at) {
  Poco::JSON::Object o;
  o.set("id", id);
  o.set("prefix", net::format_cidr(network));
  o.set("owner", std::string(owner));
  o.set("reason", reason);
  o.set("expires_at", expires_at);
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

bool overlaps_any(const net::Cidr& c, const std::vector<net::Cidr>& never) {
  return std::any_of(never.begin(), never.end(),
                     [&](const net::Cidr& n) { return n.contains(c) || c.contains(n); });
}

uint64_t Writer::add(const net::Cidr& network, const std::string& reason, int64_t expires_at) {
  for (int attempt = 0;; ++attempt) {
    if (!next_) {
      for (const auto& r : host_.list_rules(kDomain)) next_ = std::max(next_, r.id);
      ++next_;
    }
    try {
      const uint64_t id = next_;
      host_.change_rule(kDomain, RAMPART_RULE_CREATE, id,
                        entry(id, network, owner_, reason, expires_at), actor_.c_str());
      ++next_;
      return id;
    } catch (const sdk::Error& e) {
      if (e.status() != RAMPART_ERR_CONFLICT || attempt == 8) throw;
      next_ = 0;
    }
  }
}

bool Writer::remove(uint64_t id) {
  try {
    host_.change_rule(kDomain, RAMPART_RULE_DELETE, id, {}, actor_.c_str());
    return true;
  } catch (const sdk::Error& e) {
    if (e.status() == RAMPART_ERR_NOT_FOUND) return false;
    throw;
  }
}

std::vector<net::Cidr> Writer::allowed_by_firewall() const {
  std::vector<std::string> bodies;
  try {
    for (auto& r : host_.list_rules("firewall")) bodies.push_back(std::move(r.body));
  } catch (const sdk::Error&) {
    return {};  // no firewall: nothing it allows
  }
  return allowed_sources(bodies);
}

}  // namespace rampart::blocklist

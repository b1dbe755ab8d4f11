// SPDX-License-Identifier: Apache-2.0
#include "alerts/router.hpp"

#include <algorithm>

namespace rampart::alerts {

Clock steady_clock() {
  return [] { return std::chrono::steady_clock::now(); };
}

Router::Router(RouterSettings settings, Clock clock)
    : s_(std::move(settings)), clock_(std::move(clock)) {}

void Router::update(const RouterSettings& settings) {
  std::lock_guard lock(mu_);
  s_ = settings;
}

std::string Router::fingerprint(const AlertRecord& a) {
  std::string f;
  f.reserve(a.component.size() + a.rule_id.size() + 48);
  f += a.component;
  f += '\x1f';
  f += a.rule_id;
  f += '\x1f';
  f.append(reinterpret_cast<const char*>(a.src_addr.data()), a.ip_family == 4 ? 4 : 16);
  f.append(reinterpret_cast<const char*>(a.dst_addr.data()), a.ip_family == 4 ? 4 : 16);
  f += static_cast<char>(a.ip_family);
  f += static_cast<char>(a.protocol);
  f += static_cast<char>(a.dst_port >> 8);
  f += static_cast<char>(a.dst_port & 0xff);
  return f;
}

bool Router::take(std::unordered_map<std::string, Bucket>& buckets, const std::string& key,
                  const RateLimit& limit, TimePoint now) {
  auto [it, fresh] = buckets.try_emplace(key, Bucket{limit.burst, now});
  Bucket& b = it->second;
  if (!fresh) {
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(limit.burst, b.tokens + elapsed * limit.rate);
    b.at = now;
  }
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

// Keeps the tables bounded: expired fingerprints go, and full buckets
// (indistinguishable from new ones) go.
void Router::forget_expired(TimePoint now) {
  std::erase_if(seen_, [&](const auto& kv) { return kv.second.until <= now; });
  for (auto* buckets : {&by_source_, &by_rule_}) {
    const RateLimit& limit = buckets == &by_source_ ? s_.per_source : s_.per_rule;
    std::erase_if(*buckets, [&](const auto& kv) {
      const double elapsed = std::chrono::duration<double>(now - kv.second.at).count();
      return limit.rate <= 0 || kv.second.tokens + elapsed * limit.rate >= limit.burst;
    });
  }
}

Decision Router::decide(const AlertRecord& a) {
  Decision d;
  std::lock_guard lock(mu_);
  const TimePoint now = clock_();
  if (seen_.size() + by_source_.size() + by_rule_.size() > s_.max_tracked) forget_expired(now);

  // Dedup looks first without changing anything, so a duplicate costs no
  // throttle tokens and a throttled alert opens no dedup window.
  const std::string fp = s_.dedup_window_s > 0 ? fingerprint(a) : std::string();
  auto seen = s_.dedup_window_s > 0 ? seen_.find(fp) : seen_.end();
  if (seen != seen_.end() && now < seen->second.until) {
    ++seen->second.suppressed;
    d.suppressed_by = "dedup";
    return d;
  }
  // Bucket keys are built only when their limit is on.
  if (s_.per_source.rate > 0 && a.ip_family && !take(by_source_, a.src_ip(), s_.per_source, now)) {
    d.suppressed_by = "throttle_source";
    return d;
  }
  if (s_.per_rule.rate > 0 && !take(by_rule_, a.component + '\x1f' + a.rule_id, s_.per_rule, now)) {
    d.suppressed_by = "throttle_rule";
    return d;
  }
  if (s_.dedup_window_s > 0 && seen_.size() < s_.max_tracked) {
    const auto until = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(s_.dedup_window_s));
    if (seen != seen_.end()) {
      d.suppressed_before = seen->second.suppressed;
      seen->second = Seen{until, 0};
    } else {
      seen_.emplace(fp, Seen{until, 0});
    }
  }
  if (s_.routes.empty()) {
    d.all_senders = true;
  } else {
    for (const Route& r : s_.routes) {
      if (a.severity < r.min_severity) continue;
      if (!r.components.empty() &&
          std::find(r.components.begin(), r.components.end(), a.component) == r.components.end())
        continue;
      for (const auto& s : r.senders) {
        if (std::find(d.senders.begin(), d.senders.end(), s) == d.senders.end())
          d.senders.push_back(s);
      }
    }
    if (d.senders.empty()) {
      d.suppressed_by = "unrouted";
      return d;
    }
  }
  d.deliver = true;
  return d;
}

}  // namespace rampart::alerts

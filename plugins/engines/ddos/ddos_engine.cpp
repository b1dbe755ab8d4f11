// SPDX-License-Identifier: Apache-2.0
// The DDoS engine: SYN cookies answered in XDP for destinations under a
// SYN flood (xdp_ddos) and their ACKs turned into connections at TC ingress
// (tc_ddos), per-protection counters in metrics, a T1499.001 alert when a
// destination goes into cookie mode (docs/ddos.md).
#include <rampart/sdk/plugin.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "cpus.hpp"
#include "kernel_time.hpp"
#include "rampart/ddos.h"
#include "syn_settings.hpp"

namespace {

using rampart::ddos::SynSettings;
using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Host;

const std::vector<std::string>& xdp_stat_names() {
  static const std::vector<std::string> names = {
      "syn",         "syn_passed", "cookies_sent", "cookie_failed", "ack_checked",    "ack_valid",
      "ack_dropped", "ack_known",  "tripped",      "mode_entered",  "events_dropped", "meta_failed",
      "malformed"};
  return names;
}

const std::vector<std::string>& tc_stat_names() {
  static const std::vector<std::string> names = {"assigned", "no_listener", "assign_failed",
                                                 "default_mss", "malformed"};
  return names;
}

struct Settings {
  SynSettings syn;
  bool alert = true;
};

Settings parse(const Config& cfg) {
  cfg.allow_only("", {"syn_cookies", "syn_rate", "syn_hold_s", "max_destinations", "alert"});
  Settings s;
  if (cfg.has("syn_cookies")) {
    const auto m = rampart::ddos::parse_mode(cfg.require<std::string>("syn_cookies"));
    if (!m) throw cfg.invalid("syn_cookies", "expected off, auto or always");
    s.syn.mode = *m;
  }
  s.syn.rate = cfg.get<uint32_t>("syn_rate", s.syn.rate);
  if (s.syn.rate < 1 || s.syn.rate > rampart::ddos::kMaxSynRate)
    throw cfg.invalid("syn_rate",
                      "must be 1-" + std::to_string(rampart::ddos::kMaxSynRate) + " SYNs a second");
  s.syn.hold_s = cfg.get<uint32_t>("syn_hold_s", s.syn.hold_s);
  if (s.syn.hold_s < 1 || s.syn.hold_s > rampart::ddos::kMaxHoldSeconds)
    throw cfg.invalid("syn_hold_s",
                      "must be 1-" + std::to_string(rampart::ddos::kMaxHoldSeconds) + " seconds");
  s.syn.max_destinations = cfg.get<uint32_t>("max_destinations", s.syn.max_destinations);
  if (s.syn.max_destinations < rampart::ddos::kMinDestinations ||
      s.syn.max_destinations > rampart::ddos::kMaxDestinations)
    throw cfg.invalid("max_destinations",
                      "must be " + std::to_string(rampart::ddos::kMinDestinations) + "-" +
                          std::to_string(rampart::ddos::kMaxDestinations));
  s.alert = cfg.get<bool>("alert", s.alert);
  // Cookies the kernel cannot turn into connections would refuse every
  // client: refused here, before anything is installed.
  if (s.syn.mode != RAMPART_DDOS_SYN_OFF) {
    const auto sys = rampart::ddos::read_tcp_sysctls();
    const std::string why = rampart::ddos::cookies_unavailable(sys);
    if (!why.empty()) throw cfg.invalid("syn_cookies", why);
    s.syn.options = rampart::ddos::allowed_options(sys);
  }
  return s;
}

class DdosEngine {
 public:
  static constexpr const char* kSecretSettings[] = {nullptr};

  DdosEngine(Host& host, const Config& cfg) : host_(host), settings_(parse(cfg)) {
    source_ = host_.register_source(rampart::ddos::kXdpStage);
    floods_ = host_.counter("rampart_ddos_syn_floods_total",
                            "Destinations that went into SYN cookie mode");
    malformed_ = host_.counter("rampart_ddos_malformed_events_total", "Events too short to decode");
  }

  void start() { install(settings_); }
  void validate(const Config& cfg) { parse(cfg); }
  void reload(const Config& cfg) {
    Settings next = parse(cfg);
    install(next);
  }
  void stop() {}

  void on_event(const rampart::sdk::Event& ev) {
    if (ev.type() != RAMPART_EV_DDOS_SYN_FLOOD) return;
    if (ev.bytes().size() < sizeof(rampart_ddos_syn_event)) {
      malformed_.inc();
      return;
    }
    rampart_ddos_syn_event e;
    std::memcpy(&e, ev.bytes().data(), sizeof e);
    floods_.inc();
    if (!alert_.load(std::memory_order_relaxed)) return;
    const bool v6 = e.dst.family == RAMPART_FAMILY_V6;
    char dst[INET6_ADDRSTRLEN] = {};
    inet_ntop(v6 ? AF_INET6 : AF_INET, e.dst.addr, dst, sizeof dst);
    const uint16_t port = ntohs(e.dst.port);
    const std::string where = v6 ? "[" + std::string(dst) + "]:" + std::to_string(port)
                                 : std::string(dst) + ":" + std::to_string(port);
    const std::string msg = "SYN flood on " + where + " (" + std::to_string(e.syns) +
                            " SYNs in 100 ms on one CPU, threshold " + std::to_string(e.threshold) +
                            "): answering with SYN cookies from XDP";
    const std::string rule = "ddos:syn_flood";
    rampart_alert a = rampart::sdk::make_alert(RAMPART_SEVERITY_HIGH, rule, msg,
                                               {"T1499.001", "OS Exhaustion Flood", "Impact"});
    a.action = RAMPART_ALERT_ACTION_BLOCK;
    a.time_ns = rampart::kernel_time::realtime_of(e.hdr.ts_ns);
    a.ip_family = e.dst.family;
    a.protocol = IPPROTO_TCP;
    std::memcpy(a.dst_addr, e.dst.addr, 16);
    a.dst_port = port;
    host_.emit_alert(a);
  }

 private:
  void install(const Settings& s) {
    std::lock_guard lock(mu_);
    SynSettings syn = s.syn;
    syn.ncpus = std::max(1u, rampart::cpus::possible());
    syn.event_source = source_;
    rampart::sdk::Program xdp, tc;
    try {
      xdp = host_.install_program(rampart::ddos::xdp_image(syn));
      tc = host_.install_program(rampart::ddos::tc_image());
    } catch (const Error& e) {
      if (e.status() != RAMPART_ERR_UNSUPPORTED) throw;
      host_.warn(std::string("DDoS protections not enforced: ") + e.what());
      host_.report_enforcing(false, std::string("DDoS protections not enforced: ") + e.what());
      return;
    }
    const bool first = !xdp_;
    xdp_ = std::move(xdp);
    tc_ = std::move(tc);
    alert_ = s.alert;
    if (first) {
      host_.export_counters(RAMPART_NAME(RAMPART_DDOS_MAP_STATS), "rampart_kernel_packets_total",
                            "Kernel per-CPU counters summed, per program and action",
                            {{"program", rampart::ddos::kXdpStage}}, "action", xdp_stat_names(),
                            rampart::ddos::kXdpStage);
      host_.export_counters(RAMPART_NAME(RAMPART_DDOS_MAP_TC_STATS), "rampart_kernel_packets_total",
                            "Kernel per-CPU counters summed, per program and action",
                            {{"program", rampart::ddos::kTcStage}}, "action", tc_stat_names(),
                            rampart::ddos::kTcStage);
    }
    host_.info(std::string("SYN cookies ") + rampart::ddos::mode_name(syn.mode) +
               (syn.mode == RAMPART_DDOS_SYN_AUTO
                    ? " (from " + std::to_string(syn.rate) + " SYNs/s to one destination, held " +
                          std::to_string(syn.hold_s) + " s)"
                    : std::string()));
  }

  Host& host_;
  Settings settings_;
  std::mutex mu_;
  uint32_t source_ = 0;
  std::atomic<bool> alert_{true};
  rampart::sdk::Program xdp_, tc_;
  rampart::sdk::Metric floods_, malformed_;
};

}  // namespace

RAMPART_PLUGIN(DdosEngine, RAMPART_KIND_ENGINE, "ddos", "XDP DDoS protections", "0.1.0",
               "Apache-2.0",
               "SYN cookies answered in XDP for destinations under a SYN flood, their ACKs made "
               "connections at TC ingress")

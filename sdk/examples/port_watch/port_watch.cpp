// SPDX-License-Identifier: Apache-2.0
// An example engine with kernel programs of its own, built out of tree
// against the installed SDK: an XDP stage after the firewall and a TC
// egress stage in rampartd's chains, a persistent counter map exported as
// metrics, and a ring buffer whose records (stamped with the event source
// it registers) reach this engine alone, in batches and in order. It
// raises an alert for every packet to `watch_port`.
//
//   plugins:
//     port_watch: {watch_port: 9999}
#include <rampart/sdk/plugin.hpp>

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "port_watch.h"

namespace {

using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Event;
using rampart::sdk::Events;
using rampart::sdk::Host;

class PortWatch {
 public:
  static constexpr const char* kSecretSettings[] = {nullptr};
  // Hits in the order the kernel saw them, one batch at a time.
  static constexpr bool kEventsInOrder = true;

  PortWatch(Host& host, const Config& cfg)
      : host_(host), port_(parse(cfg)), source_(host_.register_source(PW_SOURCE_NAME)) {
    hits_ = host_.counter("rampart_port_watch_hits_total", "Packets to the watched port");
  }

  void start() { install(port_); }
  void validate(const Config& cfg) { (void)parse(cfg); }
  void reload(const Config& cfg) {
    const uint16_t port = parse(cfg);
    install(port);  // new instances, the same counters and ring
    port_ = port;
  }

  void on_events(const Events& evs) {
    for (const Event ev : evs) on_event(ev);
  }

  void on_event(const Event& ev) {
    if (ev.source() != source_ || ev.type() != PW_EVENT_HIT || ev.bytes().size() < sizeof(pw_event))
      return;
    pw_event e;
    std::memcpy(&e, ev.bytes().data(), sizeof e);
    hits_.inc();
    char src[INET_ADDRSTRLEN] = {}, dst[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &e.saddr, src, sizeof src);
    inet_ntop(AF_INET, &e.daddr, dst, sizeof dst);
    // The alert points at these strings: they must outlive emit_alert().
    const std::string rule = "port-" + std::to_string(e.dport);
    const std::string msg = "packet to watched port " + std::to_string(e.dport) + " from " + src;
    rampart_alert a = rampart::sdk::make_alert(RAMPART_SEVERITY_LOW, rule, msg,
                                               {"T1046", "Network Service Discovery", "Discovery"});
    a.ip_family = 4;
    a.protocol = e.protocol;
    std::memcpy(a.src_addr, &e.saddr, 4);
    std::memcpy(a.dst_addr, &e.daddr, 4);
    a.src_port = e.sport;
    a.dst_port = e.dport;
    host_.emit_alert(a);
  }

 private:
  static uint16_t parse(const Config& cfg) {
    cfg.allow_only("", {"watch_port"});
    const auto port = cfg.get<uint32_t>("watch_port", 0);
    if (port == 0 || port > 65535)
      throw Error(RAMPART_ERR_INVALID_ARGUMENT, "watch_port must be 1-65535");
    return static_cast<uint16_t>(port);
  }

  void install(uint16_t port) {
    rampart::sdk::ProgramImage xdp;
    xdp.object = RAMPART_NAME(PW_OBJECT);  // port_watch.bpf.o beside port_watch.so
    xdp.program = RAMPART_NAME(PW_PROG_XDP);
    xdp.hook = RAMPART_PROGRAM_XDP;
    xdp.slot = "port_watch";
    xdp.priority = 150;  // after the firewall (100): sees what it lets through
    xdp.set<uint16_t>(RAMPART_NAME(PW_SET_WATCH_PORT), port);
    xdp.set<uint32_t>(RAMPART_NAME(PW_SET_EVENT_SOURCE), source_);
    xdp.maps.push_back(rampart::sdk::MapImage::persistent(RAMPART_NAME(PW_MAP_COUNTS)));
    xdp.maps.push_back(rampart::sdk::MapImage::persistent(RAMPART_NAME(PW_MAP_EVENTS)));
    rampart::sdk::ProgramImage tc = xdp;
    tc.program = RAMPART_NAME(PW_PROG_TC);
    tc.hook = RAMPART_PROGRAM_TC_EGRESS;
    xdp_ = host_.install_program(xdp);
    tc_ = host_.install_program(tc);
    if (!exported_) {
      host_.export_counters(RAMPART_NAME(PW_MAP_COUNTS), "rampart_port_watch_packets_total",
                            "Packets port_watch's kernel stages saw", {}, "kind",
                            {"seen", "watched", "egress"}, "port_watch");
      exported_ = true;
    }
    host_.info("watching port " + std::to_string(port));
  }

  Host& host_;
  uint16_t port_;
  uint32_t source_;
  bool exported_ = false;
  rampart::sdk::Metric hits_;
  rampart::sdk::Program xdp_, tc_;
};

}  // namespace

RAMPART_PLUGIN(PortWatch, RAMPART_KIND_ENGINE, "port_watch", "Watches a port from XDP", "0.1.0",
               "Apache-2.0", "An example engine with its own XDP and TC stages, map and ring")

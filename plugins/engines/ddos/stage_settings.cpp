// SPDX-License-Identifier: Apache-2.0
#include "stage_settings.hpp"

#include <algorithm>
#include <fstream>

namespace rampart::ddos {

std::optional<rampart_ddos_syn_mode> parse_mode(std::string_view s) {
  if (s == "off") return RAMPART_DDOS_SYN_OFF;
  if (s == "auto") return RAMPART_DDOS_SYN_AUTO;
  if (s == "always") return RAMPART_DDOS_SYN_ALWAYS;
  return std::nullopt;
}

const char* mode_name(rampart_ddos_syn_mode m) {
  switch (m) {
    case RAMPART_DDOS_SYN_OFF:
      return "off";
    case RAMPART_DDOS_SYN_ALWAYS:
      return "always";
    default:
      return "auto";
  }
}

uint32_t per_cpu_window_threshold(uint32_t rate, uint32_t ncpus) {
  const uint64_t per_window =
      (static_cast<uint64_t>(rate) * RAMPART_DDOS_WINDOW_NS) / 1'000'000'000ull;
  const uint64_t share = per_window / std::max(1u, ncpus);
  return static_cast<uint32_t>(std::max<uint64_t>(1, share));
}

namespace {
int read_int(const std::string& path) {
  std::ifstream f(path);
  int v = -1;
  if (!(f >> v)) return -1;
  return v;
}
}  // namespace

TcpSysctls read_tcp_sysctls(const std::string& root) {
  TcpSysctls s;
  s.syncookies = read_int(root + "/tcp_syncookies");
  s.timestamps = read_int(root + "/tcp_timestamps");
  s.sack = read_int(root + "/tcp_sack");
  s.window_scaling = read_int(root + "/tcp_window_scaling");
  return s;
}

uint32_t allowed_options(const TcpSysctls& s) {
  uint32_t o = 0;
  if (s.timestamps > 0) o |= RAMPART_DDOS_OPT_TIMESTAMPS;
  if (s.sack > 0) o |= RAMPART_DDOS_OPT_SACK;
  if (s.window_scaling > 0) o |= RAMPART_DDOS_OPT_WSCALE;
  return o;
}

std::string cookies_unavailable(const TcpSysctls& s) {
  if (s.syncookies < 0) return "net.ipv4.tcp_syncookies cannot be read";
  if (s.syncookies == 0)
    return "net.ipv4.tcp_syncookies is 0: the kernel makes no connection from a cookie's ACK "
           "(set it to 1)";
  return "";
}

std::vector<rampart_ddos_udp_port> udp_port_table(const StageSettings& s) {
  std::vector<rampart_ddos_udp_port> t(65536, rampart_ddos_udp_port{0, 0});
  uint32_t slot = RAMPART_DDOS_WINDOW_UDP;
  for (const auto& [port, rate] : s.udp_ports) {
    if (slot >= RAMPART_DDOS_WINDOWS) break;
    if (rate == 0) continue;
    t[port] = {per_cpu_window_threshold(rate, s.ncpus), slot++};
  }
  return t;
}

sdk::ProgramImage xdp_image(const StageSettings& s) {
  sdk::ProgramImage p;
  p.object = RAMPART_NAME(RAMPART_DDOS_XDP_PROGRAM);
  p.program = RAMPART_NAME(RAMPART_DDOS_XDP_PROGRAM);
  p.slot = kXdpStage;
  p.hook = RAMPART_PROGRAM_XDP;
  p.priority = kXdpPriority;
  p.flags = RAMPART_PROGRAM_KEEP_ON_EXIT;  // cookies go on being checked while rampartd restarts
  for (const char* m : kXdpPersistentMaps) {
    auto image = sdk::MapImage::persistent(m);
    const std::string_view name(m);
    if (name == RAMPART_NAME(RAMPART_DDOS_MAP_SYN_SEEN) ||
        name == RAMPART_NAME(RAMPART_DDOS_MAP_COOKIE_DST))
      image.max_entries = std::clamp(s.max_destinations, kMinDestinations, kMaxDestinations);
    p.maps.push_back(std::move(image));
  }
  p.set<uint32_t>(RAMPART_NAME(RAMPART_DDOS_SET_SYN_MODE), s.mode);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_DDOS_SET_SYN_THRESHOLD),
                  per_cpu_window_threshold(s.rate, s.ncpus));
  p.set<uint64_t>(RAMPART_NAME(RAMPART_DDOS_SET_SYN_HOLD_NS),
                  static_cast<uint64_t>(s.hold_s) * 1'000'000'000ull);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_DDOS_SET_SYN_OPTIONS), s.options);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_DDOS_SET_EVENT_SOURCE), s.event_source);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_DDOS_SET_ICMP_THRESHOLD),
                  s.icmp_rate ? per_cpu_window_threshold(s.icmp_rate, s.ncpus) : 0);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_DDOS_SET_ICMP_MAX_PAYLOAD), s.icmp_max_payload);
  p.set<uint32_t>(RAMPART_NAME(RAMPART_DDOS_SET_UNTRACKED_THRESHOLD),
                  s.untracked_rate ? per_cpu_window_threshold(s.untracked_rate, s.ncpus) : 0);
  sdk::MapImage ports;
  ports.name = RAMPART_NAME(RAMPART_DDOS_MAP_UDP_PORTS);
  ports.set_dense(udp_port_table(s));
  p.maps.push_back(std::move(ports));
  if (s.test_clock) p.set<uint8_t>("rampart_clock_from_map", 1);
  return p;
}

sdk::ProgramImage tc_image() {
  sdk::ProgramImage p;
  p.object = RAMPART_NAME(RAMPART_DDOS_TC_PROGRAM);
  p.program = RAMPART_NAME(RAMPART_DDOS_TC_PROGRAM);
  p.slot = kTcStage;
  p.hook = RAMPART_PROGRAM_TC_INGRESS;
  p.priority = kTcPriority;
  p.flags = RAMPART_PROGRAM_KEEP_ON_EXIT;
  p.maps.push_back(sdk::MapImage::persistent(RAMPART_NAME(RAMPART_DDOS_MAP_TC_STATS)));
  return p;
}

}  // namespace rampart::ddos

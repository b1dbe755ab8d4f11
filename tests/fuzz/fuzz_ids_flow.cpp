// SPDX-License-Identifier: Apache-2.0
// The IDS flow table on any bytes: each record is one event (which of a
// few flows, two sharing an id; direction; TCP flags; a sequence offset;
// a captured and a claimed length), so reassembly meets reordering,
// overlaps, wraparound, truncation, eviction and timeouts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "flow_table.hpp"

using namespace rampart::ids;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FlowTableConfig cfg;
  cfg.max_flows = 3;
  cfg.shards = 1;
  cfg.idle_timeout_ns = 1000;
  cfg.stream_window = 64;
  cfg.max_ooo_bytes = 512;
  cfg.max_ooo_segments = 8;
  cfg.app.http_max_head = 512;
  cfg.app.http_max_body = 256;
  cfg.app.tls_max_hello = 1024;
  FlowTable table(cfg);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  uint64_t now = 0;
  size_t sum = 0;
  const uint32_t isn[4] = {0xFFFFFF00u, 1000, 0x7FFFFFF0u, 0};
  while (in.size() >= 6) {
    const uint8_t f = static_cast<uint8_t>(in[0]), flags = static_cast<uint8_t>(in[1]);
    const uint16_t off =
        static_cast<uint16_t>(static_cast<uint8_t>(in[2]) << 8 | static_cast<uint8_t>(in[3]));
    const uint8_t cap = static_cast<uint8_t>(in[4]), extra = static_cast<uint8_t>(in[5]);
    in.remove_prefix(6);
    std::string_view payload = in.substr(0, cap % 200);
    in.remove_prefix(payload.size());
    const uint8_t flow = f & 3;
    const bool to_server = !(f & 4);
    PacketEvent ev;
    ev.flow_id = flow < 2 ? 42 : flow;  // flows 0 and 1 share an id
    ev.ip_proto = (f & 8) ? 17 : 6;
    std::array<uint8_t, 16> c{10, 0, 0, static_cast<uint8_t>(1 + flow)}, s{10, 0, 0, 200};
    ev.src = to_server ? c : s;
    ev.dst = to_server ? s : c;
    ev.sport = to_server ? 40000 : ((f & 16) ? 53 : 80);
    ev.dport = to_server ? ((f & 16) ? 53 : 80) : 40000;
    ev.tcp_flags = flags;
    ev.seq = isn[flow] + (to_server ? 0 : 0x40000000u) + off;
    ev.l7 = static_cast<AppProto>((f >> 5) % 9);
    ev.payload = payload;
    ev.payload_len = static_cast<uint32_t>(payload.size()) + (extra & 0x80 ? extra : 0);
    now += (extra & 0x40) ? 600 : 1;  // sometimes long enough for a timeout
    table.feed(ev, now, [&](const Inspection& i, FlowState& st) {
      for (size_t b = 0; b < kBufferCount; ++b)
        if (i.present.test(b)) sum += i.buffer[b].size() ? static_cast<uint8_t>(i.buffer[b][0]) : 0;
      for (char ch : i.stream) sum += static_cast<unsigned char>(ch);
      if (i.stream_new > i.stream.size()) std::abort();
      st.user_as<int>() += 1;
    });
  }
  FlowStats st = table.stats();
  if (st.flows_active > cfg.max_flows) std::abort();
  if (st.ooo_bytes_held > cfg.max_flows * cfg.max_ooo_bytes) std::abort();
  table.expire(now + 10'000);
  if (table.size() != 0 || table.stats().ooo_bytes_held != 0) std::abort();
  return sum == 1 ? 1 : 0;
}

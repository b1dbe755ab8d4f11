// SPDX-License-Identifier: Apache-2.0
// The IDS engine's flow table: the flows tc_ids follows, each with its
// TCP reassembly (per direction) and its application layer (app_layer.hpp).
// The engine feeds it one event per sampled packet; it calls back with the
// inspections the rule matcher runs (inspect.hpp).
//
// Threads: the table is split into shards by flow id, each with its own
// mutex, map, LRU list and counters; feed() locks one shard, so workers on
// different flows rarely wait for each other, and a flow's packets are
// handled one at a time. The inspect callback runs under that lock: it must
// not call back into the table.
//
// Time: never read here. feed() and expire() take `now` in nanoseconds
// (any monotonic clock), so tests are deterministic.
//
// Memory per flow (bounded whatever the peers send): the Flow itself
// (~1 KiB), two stream windows (a direction's first delivery's size, then
// 2 x stream_window + 2 KiB from its second; more only while a drain of
// held segments delivers past that), out-of-order bytes up to max_ooo_bytes (both directions), and
// the application layer's limits (AppLimits): HTTP up to
// (http_max_pending + 1) heads of http_max_head (and about 3x that in
// derived strings) plus one body of http_max_body per direction; TLS up to
// tls_max_hello; TCP DNS up to dns_max_tcp_message. With the defaults, a
// flow of one message each way holds a few KiB, a longer TCP flow about
// 22 KiB; the worst case is about 1.2 MiB. A direction that ended (FIN,
// RST) or turned to encrypted TLS (inspect_encrypted) holds no window, and
// a flow that ended both ways no parser state. Besides the flows, each
// shard keeps a pool of HTTP parsers and requests for reuse (HttpPool:
// at most 16 and 32, strings of at most 4 KiB each).
#pragma once

#include <any>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "app_layer.hpp"
#include "inspect.hpp"

namespace rampart::ids {

// One packet as tc_ids reports it.
struct PacketEvent {
  uint64_t flow_id = 0;  // tc_ids' 5-tuple hash, the same both ways (a hint: the tuple decides)
  uint8_t family = 4;    // 4 or 6
  std::array<uint8_t, 16> src{}, dst{};  // IPv4 in the first 4 bytes, the rest zero
  uint16_t sport = 0, dport = 0;         // host order
  uint8_t ip_proto = 0;
  uint8_t tcp_flags = 0;
  uint8_t icmp_type = 0, icmp_code = 0;
  uint32_t seq = 0, ack = 0;        // TCP, host order
  AppProto l7 = AppProto::unknown;  // tc_ids' guess from the payload prefix
  bool ingress = true;              // a hint only: the flow's initiator decides to_server
  uint32_t payload_len = 0;         // the whole payload's length
  std::string_view payload;         // the bytes captured (the first ones, up to payload_len)
};

struct FlowTableConfig {
  size_t max_flows = 65536;  // over all shards; the least recently seen goes
  size_t shards = 16;
  uint64_t idle_timeout_ns = 120'000'000'000;  // 120 s without a packet
  size_t stream_window = 4096;                 // bytes of a direction kept for Inspection::stream
  size_t max_ooo_bytes = 64 * 1024;            // out-of-order bytes held per flow (both directions)
  size_t max_ooo_segments = 64;                // out-of-order segments held per direction
  size_t expire_per_feed = 8;                  // idle flows a feed() may remove from its shard
  // A TLS direction's bytes once encrypted (AppLayer::encrypted): false
  // (as Suricata's default encryption-handling) neither keeps nor
  // inspects them: its packets are inspected without payload or stream
  // (header, flags and dsize rules still apply) and the bytes are counted
  // in FlowStats::encrypted_bytes. Content on ciphertext only ever
  // matches by chance.
  bool inspect_encrypted = false;
  AppLimits app;
};

struct FlowStats {
  uint64_t packets = 0;
  uint64_t flows_created = 0;
  uint64_t flows_evicted = 0;    // the table was full: the least recently seen went
  uint64_t flows_timed_out = 0;  // idle past idle_timeout_ns
  uint64_t flows_reused = 0;     // a new SYN on a flow's 5-tuple started it again
  uint64_t flows_active = 0;     // (a gauge)
  uint64_t ooo_bytes_held = 0;   // (a gauge) out-of-order bytes waiting for a gap to fill
  uint64_t ooo_segments = 0;     // segments that arrived ahead of the stream
  uint64_t ooo_overflows = 0;    // a flow's out-of-order bound was hit: the gap was given up
  uint64_t gaps = 0;             // bytes lost to a direction's stream, each time
  uint64_t gap_bytes = 0;
  uint64_t trimmed_bytes = 0;     // retransmitted or overlapping bytes dropped (first wins)
  uint64_t truncated_events = 0;  // captured fewer bytes than the payload had
  uint64_t encrypted_bytes = 0;   // TLS application data not inspected (inspect_encrypted)
  AppStats app;                   // malformed application data, by kind
};

// What the engine sees of a flow: its facts and its own slot.
struct FlowState {
  uint64_t flow_id = 0;
  AppProto app = AppProto::unknown;
  bool established = false;
  std::array<uint64_t, 2> packets{}, bytes{};  // [1]: to the server, [0]: to the client
  uint64_t start_ns = 0;                       // the `now` of the flow's first packet
  // The engine's per-flow state (the matcher's flowbits, ...), reset with the flow.
  std::any user;
  template <class T>
  T& user_as() {
    if (T* p = std::any_cast<T>(&user)) return *p;
    return user.emplace<T>();
  }
};

class FlowTable {
 public:
  using Inspect = FnRef<void(const Inspection&, FlowState&)>;

  explicit FlowTable(const FlowTableConfig& cfg = {});
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // One event. Calls `inspect`:
  //  - first, once per application milestone this packet's bytes completed
  //    (in stream order): HTTP request headers, request body, response
  //    headers, response body (the buffers HttpParser::fill lists); the
  //    TLS SNI; a DNS query (dns_query); an SSH banner (ssh_proto,
  //    ssh_software). These have the packet's fields, not its payload.
  //  - then once for the packet itself: `payload` (the captured bytes;
  //    dsize is the payload's whole length), and for TCP `stream`: the
  //    direction's last bytes (up to stream_window) ending with the bytes
  //    this packet delivered in order (from stream_new); empty when it
  //    delivered none (out of order, retransmitted, no payload). Bytes
  //    across a gap are never adjacent in `stream`.
  // Retransmitted and overlapping bytes are trimmed: the first bytes seen
  // for a sequence number win (as in most IDSes), in order or held.
  void feed(const PacketEvent& ev, uint64_t now_ns, Inspect inspect);

  // Removes every flow idle past the timeout; returns how many.
  size_t expire(uint64_t now_ns);

  FlowStats stats() const;
  size_t size() const;

 private:
  struct Shard;
  FlowTableConfig cfg_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace rampart::ids

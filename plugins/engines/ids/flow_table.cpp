// SPDX-License-Identifier: Apache-2.0
#include "flow_table.hpp"

#include <algorithm>
#include <cstring>
#include <list>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>

namespace rampart::ids {

namespace {

// The flow's identity: tc_ids' id and the 5-tuple with its lower endpoint
// first, so both directions find it and two tuples sharing an id do not.
struct Key {
  uint64_t id = 0;
  uint8_t family = 0, proto = 0;
  uint16_t port_a = 0, port_b = 0;
  std::array<uint8_t, 16> a{}, b{};
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  size_t operator()(const Key& k) const {
    uint64_t x = k.id ^ (static_cast<uint64_t>(k.port_a) << 16 | k.port_b);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return static_cast<size_t>(x);
  }
};

Key make_key(const PacketEvent& ev) {
  Key k;
  k.id = ev.flow_id;
  k.family = ev.family;
  k.proto = ev.ip_proto;
  bool src_first = std::tie(ev.src, ev.sport) <= std::tie(ev.dst, ev.dport);
  k.a = src_first ? ev.src : ev.dst;
  k.port_a = src_first ? ev.sport : ev.dport;
  k.b = src_first ? ev.dst : ev.src;
  k.port_b = src_first ? ev.dport : ev.sport;
  return k;
}

uint64_t mix(uint64_t x) {
  x ^= x >> 31;
  x *= 0x9e3779b97f4a7c15ULL;
  x ^= x >> 29;
  return x;
}

// Bytes of a direction that came ahead of the stream: [seq, seq + len),
// the first data.size() captured, the rest lost (a truncated capture).
struct Segment {
  uint32_t seq = 0, len = 0;
  std::string data;
  bool fin = false;
};

struct Stream {
  bool have_base = false;     // next is known (SYN seen, or the first data)
  bool ended = false;         // FIN delivered in order
  uint32_t next = 0;          // the next sequence number the stream expects
  std::vector<Segment> held;  // ahead of `next`, sorted, not overlapping
  std::string window;         // the last bytes delivered (see feed())
  uint64_t end = 0;           // the position after window's last byte (delivered and lost)
};

struct Flow {
  Flow(const Key& k, const FlowTableConfig& cfg, AppProto hint, HttpPool* pool)
      : key(k), app(cfg.app, hint, pool) {}
  // A removed flow made new for another key, keeping what its windows and
  // held segments allocated (a busy table creates flows all the time).
  void reuse(const Key& k, AppProto hint) {
    key = k;
    st = FlowState{};
    client = {};
    client_port = 0;
    last_seen = 0;
    seen[0] = seen[1] = false;
    syn = synack = false;
    client_isn = 0;
    held_bytes = 0;
    for (Stream& d : s) {
      std::string window = std::move(d.window);
      std::vector<Segment> held = std::move(d.held);
      window.clear();
      held.clear();
      d = Stream{};
      d.window = std::move(window);
      d.held = std::move(held);
    }
    app.reset(hint);
  }
  Key key;
  FlowState st;
  std::array<uint8_t, 16> client{};
  uint16_t client_port = 0;
  uint64_t last_seen = 0;
  bool seen[2] = {false, false};  // TCP: data seen that way; others: a packet
  bool syn = false, synack = false;
  uint32_t client_isn = 0;
  size_t held_bytes = 0;  // both directions
  Stream s[2];            // [1]: to the server
  AppLayer app;
  std::list<Flow*>::iterator lru;
};

}  // namespace

struct FlowTable::Shard {
  mutable std::mutex mu;
  HttpPool http_pool;  // (first: the flows give their parsers back to it as they go)
  std::unordered_map<Key, std::unique_ptr<Flow>, KeyHash> map;
  std::list<Flow*> lru;  // front: the most recently seen
  size_t cap = 0;
  FlowStats stats;

  // Removed flows kept for reuse, at most kSpares.
  static constexpr size_t kSpares = 32;
  std::vector<std::unique_ptr<Flow>> spare;

  void remove(Flow* f) {
    stats.ooo_bytes_held -= f->held_bytes;
    lru.erase(f->lru);
    auto it = map.find(f->key);
    if (spare.size() < kSpares) spare.push_back(std::move(it->second));
    map.erase(it);
  }
  std::unique_ptr<Flow> make(const Key& k, const FlowTableConfig& cfg, AppProto hint) {
    if (spare.empty()) return std::make_unique<Flow>(k, cfg, hint, &http_pool);
    auto f = std::move(spare.back());
    spare.pop_back();
    f->reuse(k, hint);
    return f;
  }
  // Before idle_from no flow can have been idle for the timeout: the
  // oldest flow's last packet plus the timeout, when it was last looked at
  // (the flows behind it were seen later). Looking at it each packet was a
  // cache miss each packet: the oldest flow is the coldest.
  uint64_t idle_from = 0;
  size_t expire(uint64_t now, uint64_t timeout, size_t budget) {
    if (now < idle_from) return 0;
    size_t n = 0;
    while (!lru.empty() && n < budget) {
      Flow* f = lru.back();
      if (now < f->last_seen || now - f->last_seen < timeout) {
        idle_from = f->last_seen + std::min(timeout, UINT64_MAX - f->last_seen);
        break;
      }
      remove(f);
      ++stats.flows_timed_out;
      ++n;
    }
    return n;
  }
};

namespace {

// One packet's work on its flow: the reassembly, the application layer and
// where the new bytes start in the window.
struct Work {
  Flow& f;
  FlowStats& stats;
  const FlowTableConfig& cfg;
  const Packet& pkt;
  AppLayer::Emit emit;
  bool ts;
  bool encrypted;        // the direction's bytes are ciphertext, not inspected (inspect_encrypted)
  size_t win_cap_;       // what a window holds without growing: 2 x stream_window and a delivery
  size_t new_start = 0;  // in the window: where this packet's in-order bytes begin
  size_t delivered = 0;
  std::string_view last;  // the last bytes delivered, while the window ends with them

  Stream& s() { return f.s[ts]; }

  void deliver(std::string_view bytes) {
    if (bytes.empty()) return;
    std::string& win = s().window;
    // A direction's first bytes take what they need (most flows send one
    // message each way); its second, the window's whole size at once:
    // grown by doubling, a busy window was reallocated and copied ten
    // times over (+8 % for the table alone, measured).
    if (!win.empty() && win.capacity() < win.size() + bytes.size())
      win.reserve(std::max(win_cap_, win.size() + bytes.size()));
    win.append(bytes);
    last = bytes;
    s().end += bytes.size();
    delivered += bytes.size();
    f.app.stream(pkt, bytes, stats.app, emit);
  }
  void lose(uint64_t n) {
    if (n == 0) return;
    ++stats.gaps;
    stats.gap_bytes += n;
    // Bytes on either side of a gap must not match as if adjacent.
    s().window.clear();
    s().end += n;
    new_start = 0;
    last = {};
    f.app.gap(pkt, n, stats.app, emit);
  }
  // An in-order (or overlapping) piece; bytes before `next` are dropped.
  void take(uint32_t seq, uint32_t len, std::string_view data, bool fin) {
    Stream& st = s();
    int32_t d = static_cast<int32_t>(seq - st.next);
    if (d < 0) {
      uint32_t over = static_cast<uint32_t>(-static_cast<int64_t>(d));
      if (over > len || (over == len && !fin)) {
        stats.trimmed_bytes += len;
        return;
      }
      stats.trimmed_bytes += over;
      data.remove_prefix(std::min<size_t>(over, data.size()));
      len -= over;
    }
    if (encrypted) {
      // Neither kept (nothing inspects it) nor parsed (nothing to parse);
      // bytes the capture left out are no gap: nothing would inspect them.
      stats.encrypted_bytes += len;
      st.end += len;
    } else {
      deliver(data);
      if (len > data.size()) lose(len - data.size());
    }
    st.next += len;
    if (fin && !st.ended) {
      st.ended = true;
      f.app.end(pkt, ts, stats.app, emit);
    }
  }
  void drain() {
    Stream& st = s();
    while (!st.held.empty() && static_cast<int32_t>(st.held.front().seq - st.next) <= 0) {
      Segment g = std::move(st.held.front());
      st.held.erase(st.held.begin());  // (at most max_ooo_segments)
      f.held_bytes -= g.data.size();
      stats.ooo_bytes_held -= g.data.size();
      take(g.seq, g.len, g.data, g.fin);
    }
  }
  // The stream waits no longer: skip to its earliest held bytes.
  void give_up_waiting() {
    Stream& st = s();
    if (st.held.empty()) return;
    ++stats.ooo_overflows;
    uint32_t to = st.held.front().seq;
    lose(to - st.next);
    st.next = to;
    drain();
  }
  // Holds what of [seq, seq+len) no held segment has yet (first wins).
  void hold(uint32_t seq, uint32_t len, std::string_view data, bool fin) {
    Stream& st = s();
    ++stats.ooo_segments;
    auto off = [&](uint32_t x) { return static_cast<uint32_t>(x - st.next); };
    uint32_t start = off(seq), end = start + len;
    std::vector<Segment> pieces;
    uint32_t cur = start;
    auto piece = [&](uint32_t a, uint32_t b, bool with_fin) {
      if (a >= b && !with_fin) return;
      Segment g;
      g.seq = st.next + a;
      g.len = b - a;
      size_t from = a - start;
      if (from < data.size())
        g.data.assign(data.substr(from, std::min<size_t>(b - a, data.size() - from)));
      g.fin = with_fin;
      pieces.push_back(std::move(g));
    };
    for (const Segment& h : st.held) {
      uint32_t hs = off(h.seq), he = hs + h.len;
      if (he <= cur) continue;
      if (hs >= end) break;
      if (hs > cur) piece(cur, hs, false);
      cur = std::max(cur, he);
    }
    if (cur < end || (fin && len == 0)) piece(cur, end, fin);
    size_t bytes = 0;
    for (const Segment& g : pieces) bytes += g.data.size();
    if (pieces.empty()) {
      stats.trimmed_bytes += len;
      return;
    }
    if (f.held_bytes + bytes > cfg.max_ooo_bytes ||
        st.held.size() + pieces.size() > cfg.max_ooo_segments) {
      // Over the bound: stop waiting for the gap. The earliest of what is
      // held and this segment is where the stream goes on.
      if (!st.held.empty() && off(st.held.front().seq) < start) {
        give_up_waiting();
        int32_t d = static_cast<int32_t>(seq - st.next);
        if (d <= 0) {
          take(seq, len, data, fin);
          drain();
        } else {
          hold(seq, len, data, fin);
        }
        --stats.ooo_segments;  // (counted once)
        return;
      }
      ++stats.ooo_overflows;
      lose(seq - st.next);
      st.next = seq;
      take(seq, len, data, fin);
      drain();
      return;
    }
    for (Segment& g : pieces) {
      f.held_bytes += g.data.size();
      stats.ooo_bytes_held += g.data.size();
      uint32_t go = off(g.seq);
      auto at = std::find_if(st.held.begin(), st.held.end(),
                             [&](const Segment& h) { return off(h.seq) > go; });
      st.held.insert(at, std::move(g));
    }
  }
};

}  // namespace

FlowTable::FlowTable(const FlowTableConfig& cfg) : cfg_(cfg) {
  cfg_.shards = std::max<size_t>(cfg_.shards, 1);
  cfg_.max_flows = std::max(cfg_.max_flows, cfg_.shards);
  cfg_.stream_window = std::max<size_t>(cfg_.stream_window, 1);
  for (size_t i = 0; i < cfg_.shards; ++i) {
    shards_.push_back(std::make_unique<Shard>());
    shards_.back()->cap = (cfg_.max_flows + cfg_.shards - 1) / cfg_.shards;
  }
}

FlowTable::~FlowTable() = default;

void FlowTable::feed(const PacketEvent& ev, uint64_t now, Inspect inspect) {
  Shard& sh = *shards_[mix(ev.flow_id) % shards_.size()];
  std::lock_guard lock(sh.mu);
  FlowStats& stats = sh.stats;
  ++stats.packets;
  sh.expire(now, cfg_.idle_timeout_ns, cfg_.expire_per_feed);

  const bool is_tcp = ev.ip_proto == 6;
  const uint8_t flags = is_tcp ? ev.tcp_flags : 0;
  const bool syn = flags & tcp::syn, ack = flags & tcp::ack;
  Key key = make_key(ev);
  auto it = sh.map.find(key);
  Flow* f = it == sh.map.end() ? nullptr : it->second.get();
  if (f && syn && !ack && f->s[1].have_base && ev.src == f->client && ev.sport == f->client_port &&
      ev.seq != f->client_isn) {
    // The 5-tuple is used again by a new connection.
    sh.remove(f);
    f = nullptr;
    ++stats.flows_reused;
  }
  if (!f) {
    if (sh.map.size() >= sh.cap && !sh.lru.empty()) {
      sh.remove(sh.lru.back());
      ++stats.flows_evicted;
    }
    auto owned = sh.make(key, cfg_, ev.l7);
    f = owned.get();
    f->st.flow_id = ev.flow_id;
    f->st.start_ns = now;
    // The initiator is the client; a SYN-ACK seen first comes from the server.
    bool from_server = syn && ack;
    f->client = from_server ? ev.dst : ev.src;
    f->client_port = from_server ? ev.dport : ev.sport;
    sh.lru.push_front(f);
    f->lru = sh.lru.begin();
    sh.map.emplace(key, std::move(owned));
    ++stats.flows_created;
  } else {
    sh.lru.splice(sh.lru.begin(), sh.lru, f->lru);
  }
  f->last_seen = now;
  f->app.hint(ev.l7);

  const bool ts = (ev.src == f->client && ev.sport == f->client_port);
  std::string_view payload = ev.payload;
  const uint32_t payload_len = std::max<uint32_t>(ev.payload_len, payload.size());
  if (payload.size() < payload_len) ++stats.truncated_events;
  f->st.packets[ts]++;
  f->st.bytes[ts] += payload_len;

  // Established: the handshake, or (picked up mid-flow) traffic both ways.
  if (is_tcp) {
    if (syn && !ack && ts) {
      f->syn = true;
      f->client_isn = ev.seq;
    }
    if (syn && ack && !ts) f->synack = true;
    if (ack && !syn && ts && f->syn && f->synack) f->st.established = true;
    if (payload_len > 0) f->seen[ts] = true;
  } else {
    f->seen[ts] = true;
  }
  if (f->seen[0] && f->seen[1]) f->st.established = true;

  Packet pkt;
  pkt.family = ev.family;
  pkt.src = ev.src;
  pkt.dst = ev.dst;
  pkt.sport = ev.sport;
  pkt.dport = ev.dport;
  pkt.ip_proto = ev.ip_proto;
  pkt.tcp_flags = ev.tcp_flags;
  pkt.icmp_type = ev.icmp_type;
  pkt.icmp_code = ev.icmp_code;
  pkt.to_server = ts;
  pkt.established = f->st.established;
  pkt.app = f->app.proto();

  FlowState& fs = f->st;
  auto emit = [&](const Inspection& in) { inspect(in, fs); };
  const bool encrypted = is_tcp && !cfg_.inspect_encrypted && f->app.encrypted(ts);
  Work w{*f, stats, cfg_, pkt, emit, ts, encrypted, 2 * cfg_.stream_window + 2048, 0, 0, {}};

  if (is_tcp) {
    Stream& s = f->s[ts];
    // Keep the window bounded (amortized: trimmed when twice its size).
    if (s.window.size() > 2 * cfg_.stream_window)
      s.window.erase(0, s.window.size() - cfg_.stream_window);
    w.new_start = s.window.size();
    uint32_t seq = ev.seq;
    if (syn) {
      if (!s.have_base) {
        s.have_base = true;
        s.next = ev.seq + 1;
      }
      seq += 1;  // data on a SYN (TFO) follows the ISN
    } else if (!s.have_base && (payload_len > 0 || (flags & tcp::fin))) {
      s.have_base = true;  // picked up mid-stream
      s.next = ev.seq;
    }
    if (s.have_base && !s.ended && (payload_len > 0 || (flags & tcp::fin))) {
      int32_t d = static_cast<int32_t>(seq - s.next);
      if (d > 0) {
        w.hold(seq, payload_len, payload, flags & tcp::fin);
      } else {
        w.take(seq, payload_len, payload, flags & tcp::fin);
        w.drain();
      }
    }
    if ((flags & tcp::rst) && !f->s[0].ended) {
      f->s[0].ended = true;
      f->app.end(pkt, false, stats.app, emit);
    }
    if ((flags & tcp::rst) && !f->s[1].ended) {
      f->s[1].ended = true;
      f->app.end(pkt, true, stats.app, emit);
    }
  } else if (ev.ip_proto == 17 && !payload.empty()) {
    f->app.datagram(pkt, payload, payload_len, stats.app, emit);
  }

  fs.app = f->app.proto();
  Inspection insp;
  insp.pkt = pkt;
  insp.pkt.app = fs.app;
  if (!encrypted) insp.set(Buffer::payload, payload);
  insp.dsize = payload_len;
  if (is_tcp && w.delivered > 0) {
    const std::string& win = f->s[ts].window;
    size_t ns = std::min(w.new_start, win.size());
    size_t hist = std::min(ns, cfg_.stream_window);
    insp.stream = std::string_view(win).substr(ns - hist);
    insp.stream_new = hist;
    insp.stream_at = f->s[ts].end - win.size() + (ns - hist);
    insp.payload_ends_stream = w.last.data() == payload.data() && w.last.size() == payload.size();
  }
  inspect(insp, fs);
  // A direction that ended, or turned to ciphertext nothing inspects,
  // needs its window no more: it goes back to the allocator now, while its
  // memory is in cache, for the next flow to take (kept until the flow's
  // eviction, it came back cold); once both ended, the parsers' state goes
  // to their pool.
  if (is_tcp) {
    for (int d = 0; d < 2; ++d) {
      Stream& sd = f->s[d];
      const bool done = sd.ended || (!cfg_.inspect_encrypted && f->app.encrypted(d));
      if (done && sd.window.capacity() > 0) std::string().swap(sd.window);
    }
    if (f->s[0].ended && f->s[1].ended) f->app.release();
  }
}

size_t FlowTable::expire(uint64_t now) {
  size_t n = 0;
  for (auto& sh : shards_) {
    std::lock_guard lock(sh->mu);
    n += sh->expire(now, cfg_.idle_timeout_ns, SIZE_MAX);
  }
  return n;
}

FlowStats FlowTable::stats() const {
  FlowStats t;
  for (const auto& sh : shards_) {
    std::lock_guard lock(sh->mu);
    const FlowStats& s = sh->stats;
    t.packets += s.packets;
    t.flows_created += s.flows_created;
    t.flows_evicted += s.flows_evicted;
    t.flows_timed_out += s.flows_timed_out;
    t.flows_reused += s.flows_reused;
    t.flows_active += sh->map.size();
    t.ooo_bytes_held += s.ooo_bytes_held;
    t.ooo_segments += s.ooo_segments;
    t.ooo_overflows += s.ooo_overflows;
    t.gaps += s.gaps;
    t.gap_bytes += s.gap_bytes;
    t.trimmed_bytes += s.trimmed_bytes;
    t.truncated_events += s.truncated_events;
    t.encrypted_bytes += s.encrypted_bytes;
    t.app.merge(s.app);
  }
  return t;
}

size_t FlowTable::size() const {
  size_t n = 0;
  for (const auto& sh : shards_) {
    std::lock_guard lock(sh->mu);
    n += sh->map.size();
  }
  return n;
}

}  // namespace rampart::ids

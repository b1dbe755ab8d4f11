// SPDX-License-Identifier: Apache-2.0
// Event sources registered by name, and the bus delivering batches: in
// order to a sink that asks for it, counted by source either way.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "join_workers.hpp"
#include "poll.hpp"
#include "runtime/event_bus.hpp"
#include "runtime/runtime.hpp"

namespace {

using rampart::runtime::EventBatch;
using rampart::runtime::EventBus;
using rampart::runtime::EventSources;
using rampart::runtime::SourceConflict;

TEST(EventSources, WellKnownNamesKeepTheirIdsAndOthersGetTheirNamesHash) {
  EventSources s;
  EXPECT_EQ(s.claim("firewall", "xdp_firewall"), RAMPART_SOURCE_XDP_FIREWALL);
  EXPECT_EQ(s.claim("ids", "tc_ids"), RAMPART_SOURCE_TC_IDS);
  const uint32_t id = s.claim("port_watch", "port_watch");
  EXPECT_EQ(id, rampart_event_source_id("port_watch"));
  EXPECT_GE(id, static_cast<uint32_t>(RAMPART_SOURCE_FIRST_NAMED));
  EXPECT_LT(id, 0x80000000u);
  // FNV-1a of "a" (0xe40c292c) folded into [1024, 2^31): pinned, so the id
  // a kernel program stamps never changes between releases.
  EXPECT_EQ(rampart_event_source_id("a"), 1024u + 0xe40c292cu % (0x80000000u - 1024u));
  // Stable: the same plugin gets the same id again; a fresh registry (a
  // restarted rampartd) gives the same id for the name.
  EXPECT_EQ(s.claim("port_watch", "port_watch"), id);
  EventSources again;
  EXPECT_EQ(again.claim("someone", "port_watch"), id);
  EXPECT_TRUE(s.owns("port_watch", id));
  EXPECT_FALSE(s.owns("firewall", id));
  EXPECT_TRUE(s.owns("firewall", RAMPART_SOURCE_XDP_FIREWALL));
  EXPECT_NE(s.slot(id), EventSources::kNoSlot);
  EXPECT_EQ(s.slot(12345), EventSources::kNoSlot);
}

TEST(EventSources, ANameBelongsToOnePluginAndBadNamesAreRefused) {
  EventSources s;
  s.claim("alpha", "shared");
  try {
    s.claim("beta", "shared");
    ADD_FAILURE() << "a second plugin took alpha's source";
  } catch (const SourceConflict& e) {
    EXPECT_STREQ(e.what(), "event source \"shared\" belongs to plugin alpha");
  }
  // Nobody speaks for the core.
  EXPECT_THROW(s.claim("alpha", "core"), SourceConflict);
  EXPECT_FALSE(s.owns("alpha", RAMPART_SOURCE_CORE));
  const uint64_t g = s.generation();
  for (const char* bad : {"", "Upper", "a-b", "a.b", "../x", "with space",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 33 */}) {
    EXPECT_THROW(s.claim("alpha", bad), std::invalid_argument) << bad;
  }
  EXPECT_EQ(s.generation(), g) << "a refused claim changes nothing";
  EXPECT_NO_THROW(s.claim("alpha", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 32 */));
  EXPECT_GT(s.generation(), g);
}

TEST(EventSources, AnInstanceLeavingLetsGoOfItsNamesUnlessAnotherInstanceHoldsThem) {
  EventSources s;
  int old_instance = 0, new_instance = 0;
  const uint32_t id = s.claim("alpha", "alpha_src", &old_instance);
  // A restart: the new instance claims before the old one is gone.
  EXPECT_EQ(s.claim("alpha", "alpha_src", &new_instance), id);
  s.release(&old_instance);
  EXPECT_TRUE(s.owns("alpha", id)) << "the new instance still holds it";
  EXPECT_THROW(s.claim("beta", "alpha_src"), SourceConflict);
  s.release(&new_instance);
  EXPECT_FALSE(s.owns("alpha", id));
  EXPECT_TRUE(s.unclaimed(id));
  EXPECT_EQ(s.claim("beta", "alpha_src"), id) << "free again, same id";
  // Nobody registered 4242: a plugin that registers nothing may stamp it.
  EXPECT_TRUE(s.unclaimed(4242));
  EXPECT_FALSE(s.unclaimed(RAMPART_SOURCE_CORE));
}

TEST(EventSources, RunOutOfSlotsWithAClearError) {
  EventSources s;
  size_t n = 0;
  try {
    for (;; ++n) s.claim("many", "src_" + std::to_string(n));
  } catch (const std::length_error& e) {
    EXPECT_NE(std::string(e.what()).find("no room for event source"), std::string::npos);
  }
  EXPECT_EQ(n, EventSources::kSlots - RAMPART_SOURCE_MAX);
}

// Records every batch; notices two deliveries running at once.
class Recorder : public rampart::runtime::EventSink {
 public:
  explicit Recorder(boost::asio::thread_pool* ordered_on) {
    if (ordered_on) strand_.emplace(boost::asio::make_strand(*ordered_on));
  }
  void deliver(const rampart_event& e) override { deliver_batch({&e, 1}); }
  void deliver_batch(std::span<const rampart_event> events) override {
    if (running_.fetch_add(1) != 0) overlapped_ = true;
    // Long enough that a second worker would start meanwhile if it could.
    std::this_thread::yield();
    {
      std::lock_guard lock(mu_);
      sizes_.push_back(events.size());
      for (const auto& e : events) {
        uint32_t seq = 0;
        std::memcpy(&seq, e.data, sizeof seq);
        seen_.push_back(seq);
      }
    }
    running_.fetch_sub(1);
  }
  rampart::runtime::DeliveryStrand* strand() override { return strand_ ? &*strand_ : nullptr; }

  std::vector<uint32_t> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::vector<size_t> sizes() {
    std::lock_guard lock(mu_);
    return sizes_;
  }
  bool overlapped() const { return overlapped_; }

 private:
  std::optional<rampart::runtime::DeliveryStrand> strand_;
  std::mutex mu_;
  std::vector<uint32_t> seen_;
  std::vector<size_t> sizes_;
  std::atomic<int> running_{0};
  std::atomic<bool> overlapped_{false};
};

EventBatch batch_of(uint32_t source, uint32_t first, uint32_t n) {
  EventBatch b;
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t seq = first + i;
    b.add(source, 1, std::span(reinterpret_cast<const uint8_t*>(&seq), sizeof seq));
  }
  return b;
}

TEST(EventBusBatches, AnOrderedSinkGetsEveryBatchOneAtATimeInOrder) {
  rampart::runtime::Runtime rt(4);
  EventBus bus(rt.workers());
  rampart::test::JoinWorkers join(rt);
  const uint32_t src = bus.sources().claim("alpha", "alpha_src");
  auto sink = std::make_shared<Recorder>(&rt.workers());
  constexpr uint32_t kBatches = 2000, kPer = 10;
  for (uint32_t b = 0; b < kBatches; ++b) bus.publish_batch_to(sink, batch_of(src, b * kPer, kPer));
  ASSERT_TRUE(
      rampart::test::poll_until([&] { return bus.backlog() == 0; }, std::chrono::seconds(20)));
  const auto seen = sink->seen();
  ASSERT_EQ(seen.size(), kBatches * kPer);
  for (uint32_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i) << "out of order at " << i;
  EXPECT_FALSE(sink->overlapped());
  EXPECT_EQ(bus.deliveries(), kBatches);
  EXPECT_EQ(bus.counts(src).published, kBatches * kPer);
  EXPECT_EQ(bus.counts(src).delivered, kBatches * kPer);
}

TEST(EventBusBatches, ABatchPastTheBacklogsRoomIsCutAndTheRestCounted) {
  rampart::runtime::Runtime rt(1);
  EventBus bus(rt.workers(), 100);
  rampart::test::JoinWorkers join(rt);
  const uint32_t src = bus.sources().claim("alpha", "alpha_src");
  // Hold the only worker so nothing drains while the batches come.
  std::promise<void> gate;
  auto opened = gate.get_future().share();
  boost::asio::post(rt.workers(), [opened] { opened.wait(); });
  auto sink = std::make_shared<Recorder>(nullptr);
  bus.publish_batch_to(sink, batch_of(src, 0, 60));
  bus.publish_batch_to(sink, batch_of(src, 60, 60));  // 40 fit
  bus.publish_batch_to(sink, batch_of(src, 120, 5));  // none fit
  EXPECT_EQ(bus.backlog(), 100u);
  gate.set_value();
  ASSERT_TRUE(
      rampart::test::poll_until([&] { return bus.backlog() == 0; }, std::chrono::seconds(10)));
  EXPECT_EQ(sink->sizes(), (std::vector<size_t>{60, 40}));
  EXPECT_EQ(sink->seen().back(), 99u);
  const auto c = bus.counts(src);
  EXPECT_EQ(c.published, 125u);
  EXPECT_EQ(c.delivered, 100u);
  EXPECT_EQ(c.overflowed, 25u);
  // A batch whose plugin is gone is counted, not lost silently.
  bus.publish_batch_to(nullptr, batch_of(src, 0, 3));
  EXPECT_EQ(bus.counts(src).unrouted, 3u);
  EXPECT_EQ(bus.published(), bus.delivered() + bus.overflowed() + bus.unrouted());
}

}  // namespace

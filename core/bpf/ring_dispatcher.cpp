// SPDX-License-Identifier: Apache-2.0
#include "bpf/ring_dispatcher.hpp"

#include <bpf/libbpf.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstring>
#include <future>
#include <span>
#include <stdexcept>

#include "log/logger.hpp"
#include "rampart/events.h"

namespace rampart::bpf {

std::atomic<uint64_t> RingDispatcher::total_received_{0};
std::atomic<uint64_t> RingDispatcher::total_malformed_{0};
std::atomic<uint64_t> RingDispatcher::total_foreign_{0};

RingDispatcher::RingDispatcher(boost::asio::io_context& io, int ring_fd, runtime::EventBus& bus,
                               std::string owner, std::weak_ptr<runtime::EventSink> target,
                               std::chrono::milliseconds backstop)
    : io_(io),
      bus_(bus),
      owner_(std::move(owner)),
      target_(std::move(target)),
      epoll_(io),
      backstop_timer_(io),
      backstop_(backstop) {
  ring_ = ring_buffer__new(ring_fd, &RingDispatcher::on_record, this, nullptr);
  if (!ring_) throw std::runtime_error("ring_buffer__new failed on a ring buffer map");
  epoll_.assign(dup(ring_buffer__epoll_fd(ring_)));
}

RingDispatcher::~RingDispatcher() {
  stop();
  ring_buffer__free(ring_);
}

bool RingDispatcher::owned(uint32_t source) {
  const auto& registry = bus_.sources();
  if (const uint64_t g = registry.generation(); g != sources_generation_) {
    sources_ = registry.ids_of(owner_);
    sources_generation_ = g;
  }
  if (!sources_.empty())
    return std::find(sources_.begin(), sources_.end(), source) != sources_.end();
  // A plugin that registered nothing (built before ABI 1.6) keeps its
  // records, unless they name a source someone claimed.
  return source != RAMPART_SOURCE_CORE && registry.unclaimed(source);
}

int RingDispatcher::on_record(void* self_ptr, void* data, size_t size) {
  auto* self = static_cast<RingDispatcher*>(self_ptr);
  self->received_.fetch_add(1, std::memory_order_relaxed);
  total_received_.fetch_add(1, std::memory_order_relaxed);
  if (size < sizeof(rampart_event_hdr)) {
    self->malformed_.fetch_add(1, std::memory_order_relaxed);
    total_malformed_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  rampart_event_hdr hdr;
  std::memcpy(&hdr, data, sizeof hdr);
  // A program speaks only for its own plugin's sources.
  if (!self->owned(hdr.source)) {
    if (self->foreign_.fetch_add(1, std::memory_order_relaxed) == 0) {
      log::warn("plugin-host",
                "dropping ring records that name an event source the plugin did not "
                "register (counted in rampart_events_foreign_total)",
                {{"plugin", self->owner_}, {"source", std::to_string(hdr.source)}});
    }
    total_foreign_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  self->batch_.add(hdr.source, hdr.type, std::span(static_cast<const uint8_t*>(data), size));
  if (self->batch_.size() >= runtime::EventBus::kMaxBatch) self->flush();
  return 0;
}

void RingDispatcher::flush() {
  if (batch_.empty()) return;
  bus_.publish_batch_to(target_.lock(), std::move(batch_));
  batch_ = runtime::EventBatch{};
}

int RingDispatcher::drain() {
  const int n = ring_buffer__consume(ring_);
  flush();
  return n;
}

void RingDispatcher::wait() {
  // A completion already queued when stop() cancels runs after this object
  // may be gone: it looks at the shared flag first, never at `this`.
  epoll_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this, stopped = stopped_](const boost::system::error_code& ec) {
                      if (ec || stopped->load()) return;
                      drain();
                      wait();
                    });
}

void RingDispatcher::arm_backstop() {
  backstop_timer_.expires_after(backstop_);
  backstop_timer_.async_wait([this, stopped = stopped_](const boost::system::error_code& ec) {
    if (ec || stopped->load()) return;
    drain();
    arm_backstop();
  });
}

void RingDispatcher::start() {
  boost::asio::post(io_, [this] {
    wait();
    arm_backstop();
  });
}

void RingDispatcher::stop() {
  if (stopped_->exchange(true)) return;
  if (io_.stopped()) return;
  std::promise<void> done;
  boost::asio::post(io_, [&] {
    // On the loop thread, which alone touches these two.
    boost::system::error_code ec;
    epoll_.close(ec);
    backstop_timer_.cancel();
    drain();  // what is already in the ring still reaches the engines
    done.set_value();
  });
  done.get_future().wait();
}

}  // namespace rampart::bpf

// SPDX-License-Identifier: Apache-2.0
#include "bpf/ring_dispatcher.hpp"

#include <bpf/libbpf.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <future>
#include <span>
#include <stdexcept>

#include "rampart/events.h"

namespace rampart::bpf {

std::atomic<uint64_t> RingDispatcher::total_received_{0};
std::atomic<uint64_t> RingDispatcher::total_malformed_{0};

RingDispatcher::RingDispatcher(boost::asio::io_context& io, int ring_fd, runtime::EventBus& bus,
                               std::weak_ptr<runtime::EventSink> target,
                               std::chrono::milliseconds backstop)
    : io_(io),
      bus_(bus),
      target_(std::move(target)),
      targeted_(!target_.expired()),
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
  const auto bytes = std::span(static_cast<const uint8_t*>(data), size);
  if (self->targeted_) {
    self->bus_.publish_to(self->target_.lock(), hdr.source, hdr.type, bytes);
  } else {
    self->bus_.publish(hdr.source, hdr.type, bytes);
  }
  return 0;
}

int RingDispatcher::drain() { return ring_buffer__consume(ring_); }

void RingDispatcher::wait() {
  epoll_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](const boost::system::error_code& ec) {
                      if (ec || stopped_) return;
                      drain();
                      wait();
                    });
}

void RingDispatcher::arm_backstop() {
  backstop_timer_.expires_after(backstop_);
  backstop_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
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
  if (stopped_.exchange(true)) return;
  if (io_.stopped()) return;
  std::promise<void> done;
  boost::asio::post(io_, [&] {
    boost::system::error_code ec;
    epoll_.cancel(ec);
    backstop_timer_.cancel();
    drain();  // what is already in the ring still reaches the engines
    done.set_value();
  });
  done.get_future().wait();
}

}  // namespace rampart::bpf

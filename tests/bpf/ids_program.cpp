// SPDX-License-Identifier: Apache-2.0
#include "ids_program.hpp"

#include <bpf/bpf.h>

#include <cstring>
#include <stdexcept>

#include "bpf/datapath.hpp"
#include "test_paths.hpp"

namespace rampart::test {
namespace {

std::unique_ptr<bpf::ProgramInstance> load(const ids::StageSettings& s,
                                           const bpf::ProgramInstance* first) {
  const auto image = ids::tc_image(s);
  const auto abi = image.to_abi();
  bpf::InstanceSpec spec = bpf::spec_from_image(abi->image);
  spec.object_path = path::plugins() + "/tc_ids.bpf.o";
  if (first) {
    for (const char* m : ids::kPersistentMaps) spec.persistent[m] = first->map_fd(m);
  }
  return bpf::ProgramInstance::load(spec);
}

}  // namespace

IdsProgram::IdsProgram(const ids::StageSettings& s) : settings_(s) {
  if (const std::string why = ids::check(s); !why.empty()) throw std::invalid_argument(why);
  settings_.egress = false;
  ingress_ = load(settings_, nullptr);
  ring_ = ring_buffer__new(
      map_fd(RAMPART_NAME(RAMPART_IDS_MAP_EVENTS)),
      [](void* ctx, void* data, size_t size) -> int {
        IdsRecord r;
        std::memcpy(&r.ev, data, std::min(size, sizeof r.ev));
        if (size > sizeof r.ev)
          r.payload.assign(static_cast<const char*>(data) + sizeof r.ev, size - sizeof r.ev);
        static_cast<IdsProgram*>(ctx)->pending_.push_back(std::move(r));
        return 0;
      },
      this, nullptr);
  if (!ring_) throw std::runtime_error("ring_buffer__new failed");
}

IdsProgram::~IdsProgram() {
  if (ring_) ring_buffer__free(ring_);
}

bpf::ProgramInstance& IdsProgram::instance(bool egress) {
  if (!egress) return *ingress_;
  if (!egress_) {
    ids::StageSettings s = settings_;
    s.egress = true;
    egress_ = load(s, ingress_.get());
    if (!egress_->created_persistent().empty())
      throw std::runtime_error("the egress instance made its own " +
                               egress_->created_persistent()[0]);
  }
  return *egress_;
}

int IdsProgram::program_fd(bool egress) const {
  return egress ? (egress_ ? egress_->program_fd() : -1) : ingress_->program_fd();
}

int IdsProgram::run(const std::vector<uint8_t>& frame, bool egress, uint32_t repeat) {
  std::vector<uint8_t> out(frame.size() + 64);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()),
              .data_size_out = static_cast<uint32_t>(out.size()),
              .repeat = static_cast<int>(repeat));
  __sk_buff skb{};  // the kernel's defaults (test_run refuses a TC run without one here)
  opts.ctx_in = &skb;
  opts.ctx_size_in = sizeof skb;
  if (bpf_prog_test_run_opts(instance(egress).program_fd(), &opts) != 0)
    throw std::runtime_error(std::string("test_run: ") + std::strerror(errno));
  return static_cast<int>(opts.retval);
}

uint32_t IdsProgram::time_ns(const std::vector<uint8_t>& frame, uint32_t repeat) {
  std::vector<uint8_t> out(frame.size() + 64);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()),
              .data_size_out = static_cast<uint32_t>(out.size()),
              .repeat = static_cast<int>(repeat));
  __sk_buff skb{};
  opts.ctx_in = &skb;
  opts.ctx_size_in = sizeof skb;
  if (bpf_prog_test_run_opts(ingress_->program_fd(), &opts) != 0)
    throw std::runtime_error(std::string("test_run: ") + std::strerror(errno));
  return opts.duration;
}

std::vector<IdsRecord> IdsProgram::drain() {
  ring_buffer__consume(ring_);
  return std::exchange(pending_, {});
}

uint64_t IdsProgram::stat(uint32_t which) const {
  return bpf::Datapath::percpu_sum(map_fd(RAMPART_NAME(RAMPART_IDS_MAP_STATS)), which);
}

int IdsProgram::map_fd(const char* name) const { return ingress_->map_fd(name); }

}  // namespace rampart::test

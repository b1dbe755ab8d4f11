// SPDX-License-Identifier: Apache-2.0
#include "firewall_program.hpp"

#include "bpf/datapath.hpp"
#include "test_paths.hpp"

#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace rampart::test {

using bpf::Datapath;

std::string object_path() { return rampart::test::path::plugins() + "/xdp_firewall.bpf.o"; }

int make_stage_map(uint32_t index, uint32_t hook) {
  const int fd =
      bpf_map_create(BPF_MAP_TYPE_ARRAY, "rampart_stage", 4, sizeof(rampart_stage_pos), 1, nullptr);
  if (fd < 0) throw std::runtime_error("cannot create a stage map");
  rampart_stage_pos pos{};
  pos.index = index;
  pos.hook = hook;
  const uint32_t zero = 0;
  bpf_map_update_elem(fd, &zero, &pos, BPF_ANY);
  return fd;
}

FirewallProgram::FirewallProgram(firewall::Action default_action, uint64_t ring_threshold)
    : ring_threshold_(ring_threshold) {
  bpf::InstanceSpec root;
  root.object_path = rampart::test::path::bpf() + "/rampart_root.bpf.o";
  root.program = "xdp_root";
  root_ = bpf::ProgramInstance::load(root);
  if (default_action == firewall::Action::deny) {
    const uint32_t hook = RAMPART_HOOK_XDP;
    rampart_chain_state st{0, RAMPART_CHAIN_FAIL_CLOSED};
    bpf_map_update_elem(root_->map_fd("rampart_chains"), &hook, &st, BPF_ANY);
  }
  pos_fd_ = make_stage_map(kSlot);
  // The firewall's persistent maps, created once as the host would.
  // The spec reads the image's tables in place: both stay alive for the load.
  const auto empty = firewall::compile({}, firewall::Action::allow);
  const auto image = firewall::to_program_image(empty);
  bpf::InstanceSpec spec = bpf::spec_from_image(image.to_abi()->image);
  spec.object_path = object_path();
  spec.shared_maps["rampart_stage"] = pos_fd_;
  for (const char* m : {"rampart_xdp_chain", "rampart_chains"})
    spec.shared_maps[m] = root_->map_fd(m);
  persistent_ = bpf::ProgramInstance::load(spec);
  ring_ = ring_buffer__new(
      persistent_->map_fd("events"),
      [](void* ctx, void* data, size_t size) -> int {
        auto* self = static_cast<FirewallProgram*>(ctx);
        rampart_fw_event e{};
        std::memcpy(&e, data, std::min(size, sizeof e));
        self->pending_.push_back(e);
        return 0;
      },
      this, nullptr);
  if (!ring_) throw std::runtime_error("ring_buffer__new failed");
}

FirewallProgram::~FirewallProgram() {
  if (ring_) ring_buffer__free(ring_);
  if (pos_fd_ >= 0) close(pos_fd_);
}

int FirewallProgram::map_fd(const std::string& name) const {
  const int fd = root_->map_fd(name);
  return fd >= 0 ? fd : persistent_->map_fd(name);
}

void FirewallProgram::install_stage(uint32_t index, int prog_fd, int pos_fd) const {
  rampart_stage_pos pos{};
  const uint32_t zero = 0;
  if (bpf_map_lookup_elem(pos_fd, &zero, &pos) != 0 || pos.index != index)
    throw std::runtime_error("the stage map does not say this slot");
  if (bpf_map_update_elem(map_fd("rampart_xdp_chain"), &index, &prog_fd, BPF_ANY) != 0)
    throw std::runtime_error("installing the stage failed");
  const uint32_t hook = RAMPART_HOOK_XDP;
  rampart_chain_state st{};
  bpf_map_lookup_elem(map_fd("rampart_chains"), &hook, &st);
  st.occupied |= 1u << index;
  bpf_map_update_elem(map_fd("rampart_chains"), &hook, &st, BPF_ANY);
}

const firewall::CompiledRuleset& FirewallProgram::install(const std::vector<firewall::Rule>& rules,
                                                          firewall::Action default_action,
                                                          uint32_t allow_sample) {
  compiled_ = firewall::compile(rules, default_action);
  auto image = firewall::to_program_image(compiled_);
  image.set("allow_sample", allow_sample);
  swap_in(image);
  return compiled_;
}

const firewall::CompiledRuleset& FirewallProgram::install(
    const std::vector<firewall::Rule>& rules, const firewall::CompiledBlocklist& blocklist,
    int32_t blocklist_priority) {
  compiled_ = firewall::compile(rules, firewall::Action::allow, blocklist_priority);
  swap_in(firewall::to_program_image(compiled_, &blocklist));
  return compiled_;
}

bool FirewallProgram::apply(firewall::RuleTables& tables, uint64_t ticket,
                            firewall::Blocklist* blocklist) {
  tables.flip();
  auto image = firewall::program_image_at(tables.set(), blocklist ? &blocklist->tables() : nullptr,
                                          tables.capacity());
  const auto changes = tables.changes();
  const auto* bc = blocklist ? &blocklist->changes() : nullptr;
  firewall::list_changes(image, &changes, bc);
  bool in_place = firewall::writable_in_place(changes, bc) && classifier_;
  if (in_place) {
    image.set("ring_threshold", ring_threshold_);
    image.set(RAMPART_NAME(RAMPART_FW_SET_EVENT_RATE), event_rate_);
    // The spec reads the image's contents in place: the image outlives it.
    const auto abi = image.to_abi();
    const bpf::InstanceSpec spec = spec_of(abi->image);
    const std::string shape = bpf::ProgramInstance::shape_of(spec);
    in_place = shape == classifier_->shape();  // else tables grew: a new instance
    if (in_place) classifier_->write_in_place(spec, shape);
  }
  if (!in_place) swap_in(image);
  tables.installed(ticket);
  tables.clear_changes();
  if (blocklist) {
    blocklist->installed(ticket);
    blocklist->clear_changes();
  }
  return in_place;
}

bpf::InstanceSpec FirewallProgram::spec_of(const rampart_program_image& abi) const {
  bpf::InstanceSpec spec = bpf::spec_from_image(abi);
  spec.object_path = object_path();
  spec.shared_maps["rampart_stage"] = pos_fd_;
  for (const char* m : {"rampart_xdp_chain", "rampart_chains"})
    spec.shared_maps[m] = root_->map_fd(m);
  for (const char* m : firewall::kPersistentMaps) spec.persistent[m] = persistent_->map_fd(m);
  return spec;
}

void FirewallProgram::swap_in(const sdk::ProgramImage& base) {
  sdk::ProgramImage image = base;
  image.set("ring_threshold", ring_threshold_);
  image.set(RAMPART_NAME(RAMPART_FW_SET_EVENT_RATE), event_rate_);
  const auto abi = image.to_abi();
  auto next = bpf::ProgramInstance::load(spec_of(abi->image));
  if (!next->created_persistent().empty())
    throw std::runtime_error("a persistent map was not reused: " + next->created_persistent()[0]);
  install_stage(kSlot, next->program_fd(), pos_fd_);
  classifier_ = std::move(next);  // the old instance goes once no packet uses it
}

void set_test_clock(int clock_map_fd, TestClock c) {
  const uint32_t zero = 0;
  if (bpf_map_update_elem(clock_map_fd, &zero, &c, BPF_ANY) != 0)
    throw std::runtime_error("cannot set the test clock");
}

TestClock test_clock(int clock_map_fd) {
  TestClock c;
  const uint32_t zero = 0;
  bpf_map_lookup_elem(clock_map_fd, &zero, &c);
  return c;
}

std::unique_ptr<bpf::ProgramInstance> FirewallProgram::load_stage(
    const sdk::ProgramImage& image, const std::string& object_path, int pos_fd, uint32_t slot,
    const std::vector<const char*>& persistent, const bpf::ProgramInstance* first,
    const bpf::ProgramInstance* previous) const {
  const auto abi = image.to_abi();
  bpf::InstanceSpec spec = bpf::spec_from_image(abi->image);
  spec.object_path = object_path;
  spec.shared_maps["rampart_stage"] = pos_fd;
  for (const char* m : {"rampart_xdp_chain", "rampart_chains"}) spec.shared_maps[m] = map_fd(m);
  if (first) {
    for (const char* m : persistent) spec.persistent[m] = first->map_fd(m);
  }
  auto next = bpf::ProgramInstance::load(spec);
  if (first && !next->created_persistent().empty())
    throw std::runtime_error("a persistent map was not reused: " + next->created_persistent()[0]);
  // The new instance's clock goes on where the old one's was.
  set_test_clock(next->map_fd("rampart_test_clock"),
                 previous ? test_clock(previous->map_fd("rampart_test_clock")) : TestClock{});
  install_stage(slot, next->program_fd(), pos_fd);
  return next;
}

XdpRunResult FirewallProgram::run(const std::vector<uint8_t>& frame, uint32_t repeat,
                                  bool classifier_only) {
  return run_with_meta({}, frame, repeat, classifier_only);
}

XdpRunResult FirewallProgram::run_with_meta(const std::vector<uint8_t>& meta,
                                            const std::vector<uint8_t>& frame, uint32_t repeat,
                                            bool classifier_only) {
  XdpRunResult r;
  // In: the metadata, then the frame (ctx_in.data: where the frame begins).
  std::vector<uint8_t> in = meta;
  in.insert(in.end(), frame.begin(), frame.end());
  r.out.resize(in.size() + 256);
  xdp_md ctx_in{}, ctx_out{};
  ctx_in.data = static_cast<uint32_t>(meta.size());
  ctx_in.data_end = static_cast<uint32_t>(in.size());
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = r.out.data(),
              .data_size_in = static_cast<uint32_t>(in.size()),
              .data_size_out = static_cast<uint32_t>(r.out.size()), .ctx_in = &ctx_in,
              .ctx_out = &ctx_out, .ctx_size_in = sizeof(ctx_in), .ctx_size_out = sizeof(ctx_out),
              .repeat = static_cast<int>(repeat));
  const int fd = classifier_only ? classifier_fd() : entry_fd();
  if (bpf_prog_test_run_opts(fd, &opts) != 0) throw std::runtime_error("test_run failed");
  r.action = opts.retval;
  r.duration_ns = opts.duration;
  r.out.resize(opts.data_size_out);
  // Output starts at data_meta; ctx_out.data is where the frame begins.
  r.meta_size = ctx_out.data;
  if (r.meta_size >= RAMPART_XDP_META_V1_SIZE) {
    std::memcpy(&r.meta, r.out.data(), std::min<size_t>(r.meta_size, sizeof r.meta));
    r.has_meta = r.meta.magic == RAMPART_XDP_META_MAGIC;
  }
  return r;
}

uint64_t FirewallProgram::stat(uint32_t which) const {
  return Datapath::percpu_sum(persistent_->map_fd("fw_stats"), which);
}

uint64_t FirewallProgram::root_stat(uint32_t which) const {
  return Datapath::percpu_sum(root_->map_fd("rampart_root_stats"), which);
}

uint64_t FirewallProgram::hits(uint32_t index) const {
  return classifier_ ? Datapath::percpu_sum(classifier_->map_fd("fw_hits"), index) : 0;
}

std::vector<rampart_fw_event> FirewallProgram::drain_events() {
  ring_buffer__consume(ring_);
  return std::exchange(pending_, {});
}

}  // namespace rampart::test

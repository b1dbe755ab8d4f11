// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

#include "test_paths.hpp"

namespace rampart::test {

// The test-only TC program (bpf/tc_meta_reader.bpf.c) that counts UDP/9999
// packets by the rule id in the XDP metadata (and by rate limit verdict and
// policy), put in the TC ingress chain behind the root rampartd
// attached to B (as the core installs a stage: the slot, then its bit).
class TcMetaReader {
 public:
  explicit TcMetaReader(const std::string& pin_root) {
    obj_ = bpf_object__open_file((rampart::test::path::bpf() + "/tc_meta_reader.bpf.o").c_str(),
                                 nullptr);
    if (!obj_ || bpf_object__load(obj_) != 0)
      throw std::runtime_error("cannot load tc_meta_reader");
    const int prog = bpf_program__fd(bpf_object__find_program_by_name(obj_, "tc_meta_reader"));
    const int chain = bpf_obj_get((pin_root + "/maps/rampart_tc_ingress_chain").c_str());
    const int chains = bpf_obj_get((pin_root + "/maps/rampart_chains").c_str());
    if (chain < 0 || chains < 0) throw std::runtime_error("rampartd pinned no TC ingress chain");
    const uint32_t slot = 0, hook = 1;  // RAMPART_HOOK_TC_INGRESS
    uint32_t state[2] = {0, 0};         // struct rampart_chain_state
    bpf_map_lookup_elem(chains, &hook, state);
    state[0] |= 1u << slot;
    const int rc = bpf_map_update_elem(chain, &slot, &prog, BPF_ANY) ||
                   bpf_map_update_elem(chains, &hook, state, BPF_ANY);
    close(chain);
    close(chains);
    if (rc != 0) throw std::runtime_error("cannot install the TC stage");
  }
  ~TcMetaReader() { bpf_object__close(obj_); }
  // By rule id (meta_seen), or by rl_verdict << 24 | rl_policy (rl_seen).
  std::map<uint32_t, uint64_t> counts(const char* map = "meta_seen") const {
    const int fd = bpf_object__find_map_fd_by_name(obj_, map);
    std::map<uint32_t, uint64_t> out;
    uint32_t key, next;
    uint32_t* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
      uint64_t v = 0;
      bpf_map_lookup_elem(fd, &next, &v);
      out[next] = v;
      key = next;
      prev = &key;
    }
    return out;
  }

 private:
  bpf_object* obj_ = nullptr;
};

}  // namespace rampart::test

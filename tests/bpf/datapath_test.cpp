// SPDX-License-Identifier: Apache-2.0
// The core's datapath on its own: the roots and chains, loading and
// pinning, adopting what is pinned, stages placed by priority and owned by
// one plugin, persistent maps, and the map services as a plugin sees them.
// Packets are real: BPF_PROG_TEST_RUN through the roots.
#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "bpf/datapath.hpp"
#include "bpf/ring_dispatcher.hpp"
#include "config/config.hpp"
#include "firewall_program.hpp"
#include "join_workers.hpp"
#include "log_capture.hpp"
#include "packet_builder.hpp"
#include "plugin_host/config_view.hpp"
#include "plugin_host/host_handles.hpp"
#include "plugin_host/plugin_library.hpp"
#include "plugin_host/plugin_manager.hpp"
#include "poll.hpp"
#include "privilege.hpp"
#include "rampart/chain.h"
#include "store/apply_gate.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace {

using rampart::bpf::Datapath;
using rampart::bpf::DatapathOptions;
using rampart::bpf::InstallTarget;
using rampart::bpf::InstanceSpec;
using rampart::test::PacketBuilder;

constexpr uint32_t kGoOn = 0xffffffffu;  // stage_probe: continue along the chain

// The probe stage (bpf/stage_probe.bpf.c) as `owner` installs it.
std::shared_ptr<rampart::bpf::InstalledProgram> install_probe(
    Datapath& dp, const std::string& owner, uint32_t hook, const std::string& name,
    int32_t priority, uint8_t id, uint32_t verdict = kGoOn, uint32_t flags = 0,
    uint32_t source = 0) {
  InstanceSpec spec;
  spec.program = hook == RAMPART_PROGRAM_XDP ? "probe_xdp" : "probe_tc";
  spec.settings["probe_id"] = {id};
  spec.settings["verdict"] = rampart::bpf::bytes_of(verdict);
  spec.settings["probe_source"] = rampart::bpf::bytes_of(source);
  for (const char* m : {"probe_hits", "probe_events"}) {
    rampart::bpf::MapContents c;
    c.name = m;
    c.persistent = true;
    spec.maps.push_back(c);
  }
  InstallTarget t;
  t.owner = owner;
  t.hook = hook;
  t.slot = name;
  t.priority = priority;
  t.flags = flags;
  return dp.install("stage_probe", spec, t);
}

struct Outcome {
  int verdict = 0;
  std::vector<uint8_t> trail;  // probe ids, in the order the stages ran
};

// One frame through a root: XDP, or TC (ingress or egress root), `repeat`
// times in one test run.
Outcome run(int prog_fd, bool xdp, uint32_t repeat = 1) {
  auto frame = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).payload(16).build();
  std::fill(frame.end() - 16, frame.end(), 0);  // the probes' trail
  std::vector<uint8_t> out(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()),
              .data_size_out = static_cast<uint32_t>(out.size()),
              .repeat = static_cast<int>(repeat));
  __sk_buff skb{};
  if (!xdp) {
    opts.ctx_in = &skb;
    opts.ctx_size_in = sizeof skb;
  }
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) throw std::runtime_error("test_run failed");
  out.resize(opts.data_size_out);
  Outcome r;
  r.verdict = static_cast<int>(opts.retval);
  const uint8_t* t = out.data() + out.size() - 16;
  r.trail.assign(t + 1, t + 1 + std::min<uint8_t>(t[0], 15));
  return r;
}

// The core services a plugin manager needs, around a datapath.
struct Core {
  explicit Core(Datapath& dp, unsigned workers = 1) : rt(workers), events(rt.workers()) {
    services = std::make_unique<rampart::plugin_host::CoreServices>(
        rampart::plugin_host::CoreServices{rt, events, alerts, metrics, &dp});
  }
  rampart::runtime::Runtime rt;
  rampart::runtime::EventBus events;
  rampart::alerts::AlertPipeline alerts;
  rampart::runtime::Metrics metrics;
  std::unique_ptr<rampart::plugin_host::CoreServices> services;
  // Last: deliveries still queued (a ring dispatcher drains what is left
  // when it stops) finish before anything they report to is gone.
  rampart::test::JoinWorkers join{rt};
};

// The probe's ring buffer among `owner`'s maps, or -1.
int probe_ring(const Datapath& dp, const std::string& owner) {
  for (const auto& [name, fd] : dp.owned_rings(owner)) {
    if (name == "probe_events") return fd;
  }
  return -1;
}

// The two test engines: good_engine and secret_engine.
void discover_engines(rampart::plugin_host::PluginManager& pm) {
  pm.discover(
      {rampart::test::variant_dir("good_engine"), rampart::test::variant_dir("secret_engine")});
}

// The test engines found and started with `yaml` as the config.
std::unique_ptr<rampart::plugin_host::PluginManager> start_engines(const Core& core,
                                                                   const std::string& yaml) {
  auto pm = std::make_unique<rampart::plugin_host::PluginManager>(*core.services);
  discover_engines(*pm);
  pm->start(rampart::config::load_string(yaml, "t.yaml"));
  return pm;
}

// The counter exports of one plugin.
std::vector<rampart::bpf::CounterValues> exports_of(const Datapath& dp, const std::string& owner) {
  auto exported = dp.counters();
  std::erase_if(exported, [&](const auto& c) { return c.desc.owner != owner; });
  return exported;
}

int root_fd(const Datapath& dp, const std::string& name) {
  for (const auto& [n, fd] : dp.programs()) {
    if (n == name) return fd;
  }
  return -1;
}

class DatapathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RAMPART_REQUIRE_ROOT();
    bpffs_ = dir_ / "bpffs";
    std::filesystem::create_directories(bpffs_);
    ASSERT_EQ(mount("bpf", bpffs_.c_str(), "bpf", 0, "mode=0700"), 0) << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) umount2(bpffs_.c_str(), MNT_DETACH);
  }
  DatapathOptions options() const {
    DatapathOptions o;
    o.bpf_dir = rampart::test::path::bpf();
    o.pin_root = bpffs_ + "/rampart";
    return o;
  }

  rampart::test::LogCapture log_;
  rampart::test::TempDir dir_;
  std::string bpffs_;
  bool mounted_ = false;
};

TEST_F(DatapathTest, LoadsPinsAndASecondInstanceAdopts) {
  Datapath first(options());
  first.start();
  EXPECT_FALSE(first.adopted());
  for (const char* m : {"rampart_xdp_chain", "rampart_tc_ingress_chain", "rampart_tc_egress_chain",
                        "rampart_chains", "rampart_root_stats"}) {
    EXPECT_TRUE(std::filesystem::exists(bpffs_ + "/rampart/maps/" + m)) << m;
    EXPECT_GE(first.core_map_fd(m), 0) << m;
  }
  for (const char* p : {"xdp_root", "tc_ingress_root", "tc_egress_root"})
    EXPECT_TRUE(std::filesystem::exists(bpffs_ + "/rampart/progs/" + p)) << p;
  Datapath second(options());
  second.start();
  EXPECT_TRUE(second.adopted());
  Datapath::detach_all(bpffs_ + "/rampart");
  EXPECT_FALSE(std::filesystem::exists(bpffs_ + "/rampart"));
}

TEST_F(DatapathTest, MissingInterfaceIsReportedNotFatal) {
  auto o = options();
  o.interfaces = {"rp-nonexist0"};
  Datapath dp(o);
  dp.start();
  ASSERT_EQ(dp.attachments().size(), 1u);
  EXPECT_EQ(dp.attachments()[0].mode, "error: no such interface");
}

// The roots and the chain helper alone, slot by slot: a stage in any one
// slot of any hook is reached, and an empty chain takes the hook's policy.
TEST_F(DatapathTest, AStageInAnySlotOfAnyHookIsReached) {
  Datapath dp(options());
  dp.load();
  const char* chains[] = {"rampart_xdp_chain", "rampart_tc_ingress_chain",
                          "rampart_tc_egress_chain"};
  const char* roots[] = {"xdp_root", "tc_ingress_root", "tc_egress_root"};
  for (uint32_t hook = 0; hook < RAMPART_HOOK_COUNT; ++hook) {
    const bool xdp = hook == RAMPART_HOOK_XDP;
    const int root = root_fd(dp, roots[hook]);
    ASSERT_GE(root, 0);
    EXPECT_EQ(run(root, xdp).verdict, xdp ? XDP_PASS : TC_ACT_UNSPEC) << roots[hook];
    EXPECT_TRUE(run(root, xdp).trail.empty());
    for (uint32_t slot = 0; slot < RAMPART_CHAIN_SLOTS; ++slot) {
      const int pos = rampart::test::make_stage_map(slot, hook);
      InstanceSpec spec;
      spec.object_path = rampart::test::path::bpf() + "/stage_probe.bpf.o";
      spec.program = xdp ? "probe_xdp" : "probe_tc";
      spec.settings["probe_id"] = {static_cast<uint8_t>(slot + 1)};
      spec.shared_maps["rampart_stage"] = pos;
      for (const char* m : {chains[0], chains[1], chains[2], "rampart_chains"})
        spec.shared_maps[m] = dp.core_map_fd(m);
      auto probe = rampart::bpf::ProgramInstance::load(spec);
      const int fd = probe->program_fd();
      const int chain = dp.core_map_fd(chains[hook]);
      ASSERT_EQ(bpf_map_update_elem(chain, &slot, &fd, BPF_ANY), 0);
      rampart_chain_state st{1u << slot, 0};
      ASSERT_EQ(bpf_map_update_elem(dp.core_map_fd("rampart_chains"), &hook, &st, BPF_ANY), 0);
      const Outcome r = run(root, xdp);
      EXPECT_EQ(r.trail, std::vector<uint8_t>{static_cast<uint8_t>(slot + 1)})
          << roots[hook] << " slot " << slot;
      EXPECT_EQ(r.verdict, xdp ? XDP_PASS : TC_ACT_UNSPEC) << "the chain ends: the packet passes";
      st.occupied = 0;
      bpf_map_update_elem(dp.core_map_fd("rampart_chains"), &hook, &st, BPF_ANY);
      bpf_map_delete_elem(chain, &slot);
      close(pos);
    }
  }
}

TEST_F(DatapathTest, StagesRunInPriorityOrderWhateverTheOrderTheyCameIn) {
  Datapath dp(options());
  dp.load();
  const int xdp = root_fd(dp, "xdp_root");
  // Installed out of order, and more than fit between their first slots:
  // the chain makes room by moving stages, and the order holds throughout.
  const int32_t priorities[] = {50, 10, 40, 20, 30, 60, 70, 5, 45, 35};
  std::vector<std::shared_ptr<rampart::bpf::InstalledProgram>> held;
  std::vector<int32_t> in;
  for (const int32_t p : priorities) {
    held.push_back(install_probe(dp, "p" + std::to_string(p), RAMPART_PROGRAM_XDP,
                                 "s" + std::to_string(p), p, static_cast<uint8_t>(p)));
    in.push_back(p);
    std::sort(in.begin(), in.end());
    const Outcome r = run(xdp, true);
    EXPECT_EQ(r.trail, std::vector<uint8_t>(in.begin(), in.end())) << "after priority " << p;
  }
  // TC ingress and egress chains are their own.
  auto a = install_probe(dp, "t", RAMPART_PROGRAM_TC_EGRESS, "late", 9, 2);
  auto b = install_probe(dp, "t", RAMPART_PROGRAM_TC_EGRESS, "early", 1, 1);
  EXPECT_EQ(run(root_fd(dp, "tc_egress_root"), false).trail, (std::vector<uint8_t>{1, 2}));
  EXPECT_TRUE(run(root_fd(dp, "tc_ingress_root"), false).trail.empty());
  auto c = install_probe(dp, "t", RAMPART_PROGRAM_TC_INGRESS, "only", 1, 3, TC_ACT_SHOT);
  const Outcome in_r = run(root_fd(dp, "tc_ingress_root"), false);
  EXPECT_EQ(in_r.trail, std::vector<uint8_t>{3});
  EXPECT_EQ(in_r.verdict, TC_ACT_SHOT) << "a stage's verdict ends the chain";
}

TEST_F(DatapathTest, AStageBelongsToOnePluginAndLeavesTheChainWhenReleased) {
  Datapath dp(options());
  dp.load();
  const int xdp = root_fd(dp, "xdp_root");
  auto mine = install_probe(dp, "alpha", RAMPART_PROGRAM_XDP, "guard", 100, 1, XDP_DROP);
  EXPECT_EQ(run(xdp, true).verdict, XDP_DROP);
  try {
    install_probe(dp, "beta", RAMPART_PROGRAM_XDP, "guard", 100, 2);
    ADD_FAILURE() << "a second plugin took the stage";
  } catch (const rampart::bpf::StageConflict& e) {
    EXPECT_STREQ(e.what(), "stage guard on xdp belongs to plugin alpha");
  }
  EXPECT_EQ(run(xdp, true).trail, std::vector<uint8_t>{1}) << "the owner's program still runs";
  // The owner replaces its program in place: one write.
  auto next = install_probe(dp, "alpha", RAMPART_PROGRAM_XDP, "guard", 100, 3);
  dp.release(mine);  // the replaced one: the stage stays
  EXPECT_EQ(run(xdp, true).trail, std::vector<uint8_t>{3});
  EXPECT_EQ(dp.stages().size(), 1u);
  dp.release(next);
  EXPECT_TRUE(run(xdp, true).trail.empty()) << "released: out of the chain";
  EXPECT_EQ(run(xdp, true).verdict, XDP_PASS);
  EXPECT_TRUE(dp.stages().empty());
  EXPECT_FALSE(std::filesystem::exists(bpffs_ + "/rampart/stages/xdp/guard"));
  // Now free for anyone.
  auto theirs = install_probe(dp, "beta", RAMPART_PROGRAM_XDP, "guard", 100, 4);
  EXPECT_EQ(run(xdp, true).trail, std::vector<uint8_t>{4});
}

TEST_F(DatapathTest, AKeptStageOutlivesRampartdUntilNoPluginClaimsIt) {
  std::vector<uint8_t> trail;
  {
    Datapath dp(options());
    dp.load();
    auto kept = install_probe(dp, "alpha", RAMPART_PROGRAM_XDP, "kept", 100, 1, kGoOn,
                              RAMPART_PROGRAM_KEEP_ON_EXIT);
    auto gone = install_probe(dp, "alpha", RAMPART_PROGRAM_XDP, "gone", 200, 2);
    EXPECT_EQ(run(root_fd(dp, "xdp_root"), true).trail, (std::vector<uint8_t>{1, 2}));
    dp.set_exiting();
    dp.release(kept);
    dp.release(gone);
    trail = run(root_fd(dp, "xdp_root"), true).trail;
  }
  EXPECT_EQ(trail, std::vector<uint8_t>{1}) << "at exit only the kept stage stays";
  {
    Datapath dp(options());
    dp.load();
    ASSERT_TRUE(dp.adopted());
    EXPECT_EQ(run(root_fd(dp, "xdp_root"), true).trail, std::vector<uint8_t>{1})
        << "the next rampartd filters with it from the start";
    ASSERT_EQ(dp.stages().size(), 1u);
    EXPECT_EQ(dp.stages()[0].owner, "alpha");
    dp.remove_unclaimed_stages({"alpha"});  // alpha failed to start: it keeps its stage
    EXPECT_EQ(run(root_fd(dp, "xdp_root"), true).trail, std::vector<uint8_t>{1});
    dp.remove_unclaimed_stages();  // alpha is disabled: gone
    EXPECT_TRUE(run(root_fd(dp, "xdp_root"), true).trail.empty());
  }
  {
    Datapath dp(options());
    dp.load();
    auto again = install_probe(dp, "alpha", RAMPART_PROGRAM_XDP, "kept", 100, 5, kGoOn,
                               RAMPART_PROGRAM_KEEP_ON_EXIT);
    dp.remove_unclaimed_stages();
    EXPECT_EQ(run(root_fd(dp, "xdp_root"), true).trail, std::vector<uint8_t>{5})
        << "a stage its plugin installed again is claimed";
  }
}

TEST_F(DatapathTest, FailClosedDropsWhatNoStageTook) {
  auto o = options();
  o.fail_closed = true;
  Datapath dp(o);
  dp.load();
  const int xdp = root_fd(dp, "xdp_root");
  EXPECT_EQ(run(xdp, true).verdict, XDP_DROP);
  EXPECT_EQ(Datapath::percpu_sum(dp.core_map_fd("rampart_root_stats"), 1), 1u);
  auto s = install_probe(dp, "alpha", RAMPART_PROGRAM_XDP, "open", 100, 1);
  EXPECT_EQ(run(xdp, true).verdict, XDP_PASS) << "a stage took it and passed it";
  EXPECT_EQ(run(root_fd(dp, "tc_ingress_root"), false).verdict, TC_ACT_UNSPEC)
      << "the switch is XDP's";
}

TEST_F(DatapathTest, PersistentMapsOutliveProgramSwapsAndRestarts) {
  const uint32_t key = 0;
  const int ncpus = libbpf_num_possible_cpus();
  {
    Datapath dp(options());
    dp.load();
    auto first = install_probe(dp, "alpha", RAMPART_PROGRAM_XDP, "count", 100, 1);
    run(root_fd(dp, "xdp_root"), true);
    const int hits = dp.owned_map_fd("alpha", "probe_hits");
    ASSERT_GE(hits, 0);
    EXPECT_EQ(Datapath::percpu_sum(hits, key), 1u);
    auto second = install_probe(dp, "alpha", RAMPART_PROGRAM_XDP, "count", 100, 2);
    dp.release(first);
    run(root_fd(dp, "xdp_root"), true);
    EXPECT_EQ(Datapath::percpu_sum(dp.owned_map_fd("alpha", "probe_hits"), key), 2u)
        << "the new program counts on in the same map";
    std::vector<uint64_t> v(ncpus, 1000);
    ASSERT_EQ(bpf_map_update_elem(hits, &key, v.data(), BPF_ANY), 0);
    EXPECT_TRUE(std::filesystem::exists(bpffs_ + "/rampart/plugins/alpha/probe_hits"));
    EXPECT_EQ(dp.owned_map_fd("beta", "probe_hits"), -1) << "another plugin has none";
  }
  Datapath dp(options());
  dp.load();
  auto third = install_probe(dp, "alpha", RAMPART_PROGRAM_XDP, "count", 100, 3);
  EXPECT_EQ(Datapath::percpu_sum(dp.owned_map_fd("alpha", "probe_hits"), key),
            1000u * static_cast<uint64_t>(ncpus))
      << "written before the restart, read after";
  ASSERT_EQ(dp.owned_rings("alpha").size(), 1u);
  EXPECT_EQ(dp.owned_rings("alpha")[0].first, "probe_events");
}

TEST_F(DatapathTest, PluginsOpenTheirOwnMapsWithTheirSizesChecked) {
  Datapath dp(options());
  dp.start();
  Core c(dp);
  auto& core = *c.services;
  const std::string stage = "plugins:\n  good_engine: {stage: probe, ";
  {
    rampart::plugin_host::PluginManager pm(core);
    pm.discover({rampart::test::variant_dir("good_engine")});
    pm.start(rampart::config::load_string(stage + "open_map: probe_hits, map_value_size: 8}\n",
                                          "t.yaml"));
    EXPECT_EQ(pm.running(), 1u) << log_.dump();
    EXPECT_EQ(log_.count("lifecycle: map opened probe_hits"), 1u);
  }
  {
    // probe_hits is per-CPU: one plain lookup would write a value per CPU
    // into room for one.
    rampart::plugin_host::PluginManager pm(core);
    pm.discover({rampart::test::variant_dir("good_engine")});
    pm.start(rampart::config::load_string(
        stage + "open_map: probe_hits, map_value_size: 8, map_probe: true}\n", "t.yaml"));
    EXPECT_EQ(pm.running(), 1u) << log_.dump();
    const int ncpus = libbpf_num_possible_cpus();
    std::string values;
    for (int c = 0; c < ncpus; ++c) values += "7,";
    EXPECT_EQ(
        log_.count("map probe: ncpus=" + std::to_string(ncpus) +
                   " percpu=1 lookup=refused(map probe_hits is per-CPU: a lookup returns " +
                   std::to_string(ncpus) + " values; use map_lookup_percpu) values=" + values),
        1u)
        << log_.dump();
    // What the kernel holds: 7 on every CPU, summed by the core's reader.
    EXPECT_EQ(Datapath::percpu_sum(dp.owned_map_fd("good_engine", "probe_hits"), 3),
              uint64_t(7) * ncpus);
  }
  {
    rampart::plugin_host::PluginManager pm(core);
    pm.discover({rampart::test::variant_dir("good_engine")});
    pm.start(rampart::config::load_string(stage + "open_map: probe_hits, map_value_size: 16}\n",
                                          "t.yaml"));
    ASSERT_EQ(pm.status().size(), 1u);
    EXPECT_NE(pm.status()[0].error.find("map probe_hits has key/value size 4/8, asked for 4/16"),
              std::string::npos)
        << pm.status()[0].error;
  }
  {
    rampart::plugin_host::PluginManager pm(core);
    pm.discover({rampart::test::variant_dir("good_engine")});
    pm.start(rampart::config::load_string(
        "plugins:\n  good_engine: {open_map: rampart_xdp_chain}\n", "t.yaml"));
    EXPECT_NE(pm.status()[0].error.find("no map rampart_xdp_chain among the plugin's own"),
              std::string::npos)
        << "the core's maps are not a plugin's: " << pm.status()[0].error;
  }
}

TEST_F(DatapathTest, KeylessMapsAreFilledFromTheImageAndServedToThePlugin) {
  Datapath dp(options());
  dp.start();
  Core c(dp);
  rampart::plugin_host::PluginManager pm(*c.services);
  pm.discover({rampart::test::variant_dir("good_engine")});
  pm.start(rampart::config::load_string(
      "plugins:\n  good_engine: {stage: probe, keyless_probe: true}\n", "t.yaml"));
  ASSERT_EQ(pm.running(), 1u) << log_.dump();
  // The image pushed 11 and 12, the plugin 13: first in, first out; the
  // Bloom filter holds 7 (image) and 9 (plugin), and certainly not 8.
  EXPECT_EQ(log_.count("keyless probe: peek=11 pop=11 pop=12 pop=13 bloom7=1 bloom9=1 bloom8=0"),
            1u)
      << log_.dump();
}

// The map writes a plugin makes while it applies an imported rule set wait
// at the apply gate (store/apply_gate.hpp) and are refused, leaving the map
// as it was, when the store failed to write the set; writes from a thread
// outside the apply (an engine's timer) never wait.
TEST_F(DatapathTest, MapWritesDuringAnApplyAreRefusedWhenTheStoreFailed) {
  rampart_host_api api{};
  rampart::plugin_host::fill_kernel_entries(&api);
  struct Owned {
    int fd;
    ~Owned() { close(fd); }
  };
  const auto make = [](bpf_map_type type, uint32_t key_size, const char* name) {
    const int fd = bpf_map_create(type, name, key_size, 8, 4, nullptr);
    if (fd < 0) throw std::runtime_error(std::string("map create: ") + std::strerror(errno));
    return rampart_map{fd, name, static_cast<uint32_t>(type), key_size, 8, 4, false, 1};
  };
  rampart_map hash = make(BPF_MAP_TYPE_HASH, 4, "gate_hash");
  rampart_map queue = make(BPF_MAP_TYPE_QUEUE, 0, "gate_queue");
  Owned hash_fd{hash.fd}, queue_fd{queue.fd};
  const uint32_t k1 = 1, k2 = 2, k3 = 3;
  const uint64_t v1 = 11, v2 = 22, q = 5;
  ASSERT_EQ(bpf_map_update_elem(hash.fd, &k1, &v1, BPF_ANY), 0);
  ASSERT_EQ(bpf_map_update_elem(queue.fd, nullptr, &q, BPF_ANY), 0);
  const auto value_of = [&](uint32_t k) -> std::optional<uint64_t> {
    uint64_t v = 0;
    if (bpf_map_lookup_elem(hash.fd, &k, &v) != 0) return std::nullopt;
    return v;
  };
  const std::string refused =
      "the rule store failed to write the set, so nothing was changed: disk I/O error";
  {
    rampart::store::ApplyGate gate;
    gate.written("disk I/O error");
    rampart::store::ApplyGate::Scope scope(gate);
    EXPECT_EQ(api.map_update(&hash, &k1, &v2, BPF_ANY), RAMPART_ERR_INTERNAL);
    EXPECT_EQ(rampart::plugin_host::host_last_error(), refused);
    EXPECT_EQ(api.map_delete(&hash, &k1), RAMPART_ERR_INTERNAL);
    const uint32_t keys[] = {k2, k3};
    const uint64_t values[] = {v2, v2};
    EXPECT_EQ(api.map_update_batch(&hash, keys, values, 2), RAMPART_ERR_INTERNAL);
    EXPECT_EQ(rampart::plugin_host::host_last_error(), refused);
    uint64_t popped = 0;
    EXPECT_EQ(api.map_pop(&queue, &popped), RAMPART_ERR_INTERNAL);
    EXPECT_EQ(popped, 0u);
    // Reads are not writes: they go on.
    uint64_t read = 0;
    EXPECT_EQ(api.map_lookup(&hash, &k1, &read), RAMPART_OK);
    EXPECT_EQ(read, v1);
  }
  EXPECT_EQ(value_of(k1), v1) << "the refused update and delete left the entry";
  EXPECT_FALSE(value_of(k2)) << "the refused batch wrote nothing";
  uint64_t still = 0;
  EXPECT_EQ(bpf_map_lookup_elem(queue.fd, nullptr, &still), 0) << "the refused pop took nothing";
  EXPECT_EQ(still, q);

  // A gate whose set is not written yet: a thread outside the apply writes
  // at once; the applying thread's writes go through once the store wrote.
  rampart::store::ApplyGate gate;
  {
    rampart::store::ApplyGate::Scope scope(gate);
    std::thread timer([&] { EXPECT_EQ(api.map_update(&hash, &k3, &v1, BPF_ANY), RAMPART_OK); });
    timer.join();
    EXPECT_EQ(value_of(k3), v1);
    gate.written("");
    EXPECT_EQ(api.map_update(&hash, &k1, &v2, BPF_ANY), RAMPART_OK);
    EXPECT_EQ(api.map_delete(&hash, &k3), RAMPART_OK);
    uint64_t popped = 0;
    EXPECT_EQ(api.map_pop(&queue, &popped), RAMPART_OK);
    EXPECT_EQ(popped, q);
  }
  EXPECT_EQ(value_of(k1), v2);
  EXPECT_FALSE(value_of(k3));
}

// What a plugin hands the kernel side is checked like anything else it
// sends: stage names become pin paths, objects go into the kernel, counter
// names into every scrape.
TEST_F(DatapathTest, BadStageNamesObjectsAndCounterNamesAreRefused) {
  Datapath dp(options());
  dp.start();
  for (const char* name : {"../evil", "a.b", "", "UPPER", "x/y"}) {
    try {
      install_probe(dp, "alpha", RAMPART_PROGRAM_XDP, name, 100, 1);
      ADD_FAILURE() << "stage '" << name << "' was accepted";
    } catch (const rampart::bpf::BpfError& e) {
      EXPECT_EQ(std::string(e.what()),
                "stage name '" + std::string(name) + "' must be 1-47 of [a-z0-9_-]");
    }
  }
  EXPECT_TRUE(dp.stages().empty());
  // An object anyone may write is not loaded, wherever it is found.
  const std::string dir = dir_ / "plugin";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(rampart::test::path::bpf() + "/stage_probe.bpf.o",
                             dir + "/stage_probe.bpf.o");
  chmod((dir + "/stage_probe.bpf.o").c_str(), 0666);
  InstanceSpec spec;
  spec.program = "probe_xdp";
  InstallTarget t;
  t.owner = "alpha";
  t.object_dirs = {dir};
  t.hook = RAMPART_PROGRAM_XDP;
  t.slot = "probe";
  t.object_check = [](const std::string& path) {
    return rampart::plugin_host::untrusted_reason(path, false);
  };
  try {
    dp.install("stage_probe", spec, t);
    ADD_FAILURE() << "a world-writable object was loaded";
  } catch (const rampart::bpf::BpfError& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/stage_probe.bpf.o is not loaded: "),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(dp.stages().empty());
  // A counter name that would break the exposition.
  Core c(dp);
  rampart::plugin_host::PluginManager pm(*c.services);
  pm.discover({rampart::test::variant_dir("good_engine")});
  pm.start(
      rampart::config::load_string("plugins:\n  good_engine: {stage: probe, export_counters: true, "
                                   "export_metric: 'rampart_bad name_total'}\n",
                                   "t.yaml"));
  ASSERT_EQ(pm.status().size(), 1u);
  EXPECT_NE(pm.status()[0].error.find(
                "metric name 'rampart_bad name_total' must match rampart_[a-zA-Z0-9_]+"),
            std::string::npos)
      << pm.status()[0].error;
}

TEST_F(DatapathTest, APluginsRingReachesThatPluginAloneAndItsCountersBecomeMetrics) {
  Datapath dp(options());
  dp.start();
  Core core(dp, 2);
  const auto engines =
      start_engines(core,
                    "plugins:\n  good_engine: {stage: probe, probe_id: 9, export_counters: true}\n"
                    "  secret_engine: {}\n");
  auto& pm = *engines;
  ASSERT_EQ(pm.running(), 2u) << log_.dump();
  const int xdp = root_fd(dp, "xdp_root");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(run(xdp, true).trail, std::vector<uint8_t>{9});
  ASSERT_TRUE(log_.wait_for("probe event id=9 meta=0", 3)) << log_.dump();
  // Both engines subscribe to the same sources; only the owner hears its ring.
  EXPECT_EQ(log_.count("[good_engine] probe event id=9"), 3u) << log_.dump();
  EXPECT_EQ(log_.count("[secret_engine] probe event"), 0u) << log_.dump();
  const auto exported = exports_of(dp, "good_engine");
  ASSERT_EQ(exported.size(), 1u);
  EXPECT_EQ(exported[0].desc.metric, "rampart_test_probe_packets_total");
  EXPECT_EQ(exported[0].values, std::vector<uint64_t>{3});
  pm.stop_all();
  for (const auto& c : dp.counters())
    EXPECT_NE(c.desc.owner, "good_engine") << "a stopped plugin's exports go with it";
  EXPECT_TRUE(run(xdp, true).trail.empty()) << "and its stage";
}

// ABI 1.11: an export names entries from `first` on (the probe counts
// two a packet in entry 3); past the map's end it is refused, and an
// export again with no names withdraws it.
TEST_F(DatapathTest, CountersExportFromAnyEntryAndCanBeWithdrawn) {
  Datapath dp(options());
  dp.start();
  Core core(dp, 2);
  {
    const auto pm = start_engines(core,
                                  "plugins:\n  good_engine: {stage: probe, probe_id: 9, "
                                  "export_counters: true, export_first: 3}\n");
    ASSERT_EQ(pm->running(), 1u) << log_.dump();
    const int xdp = root_fd(dp, "xdp_root");
    for (int i = 0; i < 3; ++i) EXPECT_EQ(run(xdp, true).trail, std::vector<uint8_t>{9});
    const auto exported = exports_of(dp, "good_engine");
    ASSERT_EQ(exported.size(), 1u);
    EXPECT_EQ(exported[0].desc.first, 3u);
    EXPECT_EQ(exported[0].values, std::vector<uint64_t>{6}) << "entry 3, not entry 0's 3";
    pm->stop_all();
  }
  {
    const auto pm = start_engines(core,
                                  "plugins:\n  good_engine: {stage: probe, export_counters: true, "
                                  "export_first: 3, export_names: 2}\n");
    std::string error = "(not started)";
    for (const auto& st : pm->status())
      if (st.id == "good_engine") error = st.error;
    EXPECT_NE(error.find("map probe_hits is not a u64 array of 5 entries"), std::string::npos)
        << error;
    pm->stop_all();
  }
  const auto pm = start_engines(
      core,
      "plugins:\n  good_engine: {stage: probe, export_counters: true, export_withdraw: true}\n");
  ASSERT_EQ(pm->running(), 1u) << log_.dump();
  ASSERT_TRUE(log_.wait_for("export withdrawn", 1)) << log_.dump();
  EXPECT_TRUE(exports_of(dp, "good_engine").empty()) << "withdrawn";
  pm->stop_all();
}

// What a sink was handed: each batch's records (probe id, kernel time).
class BatchSink : public rampart::runtime::EventSink {
 public:
  explicit BatchSink(boost::asio::thread_pool& pool) : strand_(boost::asio::make_strand(pool)) {}
  void deliver(const rampart_event&) override { ADD_FAILURE() << "batches come whole"; }
  void deliver_batch(std::span<const rampart_event> events) override {
    if (busy_.exchange(true)) overlapped_ = true;
    std::vector<std::pair<uint32_t, uint64_t>> batch;
    for (const auto& e : events) {
      rampart_event_hdr hdr;
      std::memcpy(&hdr, e.data, sizeof hdr);
      uint32_t id = 0;
      std::memcpy(&id, static_cast<const uint8_t*>(e.data) + 16, 4);
      batch.emplace_back(id, hdr.ts_ns);
    }
    {
      std::lock_guard lock(mu_);
      batches_.push_back(std::move(batch));
    }
    busy_ = false;
  }
  rampart::runtime::DeliveryStrand* strand() override { return &strand_; }
  std::vector<std::vector<std::pair<uint32_t, uint64_t>>> batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  bool overlapped() const { return overlapped_; }

 private:
  rampart::runtime::DeliveryStrand strand_;
  std::mutex mu_;
  std::vector<std::vector<std::pair<uint32_t, uint64_t>>> batches_;
  std::atomic<bool> busy_{false}, overlapped_{false};
};

TEST_F(DatapathTest, ARingsRecordsArriveInBatchesInOrderAndOnlyForItsOwnSources) {
  Datapath dp(options());
  dp.start();
  Core core(dp, 2);
  auto& sources = core.events.sources();
  const uint32_t mine = sources.claim("alpha", "alpha_probe");
  EXPECT_EQ(mine, rampart_event_source_id("alpha_probe"));
  const uint32_t theirs = sources.claim("beta", "beta_probe");
  // alpha's probe stamps its own source; a second probe of alpha's stamps
  // beta's, which alpha's ring may not speak for.
  auto honest = install_probe(dp, "alpha", RAMPART_PROGRAM_XDP, "honest", 100, 1, kGoOn, 0, mine);
  auto forger = install_probe(dp, "alpha", RAMPART_PROGRAM_XDP, "forger", 200, 2, kGoOn, 0, theirs);
  const int ring = probe_ring(dp, "alpha");
  ASSERT_GE(ring, 0);
  auto sink = std::make_shared<BatchSink>(core.rt.workers());
  // Not started: nothing drains until the test says so.
  rampart::bpf::RingDispatcher d(core.rt.loop(), ring, core.events, "alpha", sink);
  const uint64_t foreign_before = rampart::bpf::RingDispatcher::total_foreign();
  // (The repeated runs share one frame: its trail piles up, so only the
  // verdict says the chain ran to its end.)
  EXPECT_EQ(run(root_fd(dp, "xdp_root"), true, 300).verdict, XDP_PASS);
  EXPECT_EQ(d.drain(), 600);
  ASSERT_TRUE(rampart::test::poll_until([&] { return core.events.backlog() == 0; },
                                        std::chrono::seconds(10)));
  // One drain: at most 256 records a delivery, every one of them alpha's,
  // in the order the kernel wrote them.
  const auto batches = sink->batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].size(), 256u);
  EXPECT_EQ(batches[1].size(), 44u);
  uint64_t last = 0;
  for (const auto& b : batches) {
    for (const auto& [id, ts] : b) {
      EXPECT_EQ(id, 1u);
      EXPECT_GE(ts, last);
      last = ts;
    }
  }
  EXPECT_FALSE(sink->overlapped());
  EXPECT_EQ(d.foreign(), 300u);
  EXPECT_EQ(rampart::bpf::RingDispatcher::total_foreign() - foreign_before, 300u);
  EXPECT_EQ(core.events.counts(mine).delivered, 300u);
  EXPECT_EQ(core.events.counts(theirs).published, 0u);
  EXPECT_EQ(core.events.deliveries(), 2u);

  // A plugin that registers nothing (built before ABI 1.6) keeps records
  // naming a source nobody registered, not one someone did.
  auto old_free = install_probe(dp, "legacy", RAMPART_PROGRAM_XDP, "old", 300, 3, kGoOn, 0, 4242);
  auto old_forger =
      install_probe(dp, "legacy", RAMPART_PROGRAM_XDP, "old_forger", 400, 4, kGoOn, 0, mine);
  const int legacy_ring = probe_ring(dp, "legacy");
  ASSERT_GE(legacy_ring, 0);
  auto legacy_sink = std::make_shared<BatchSink>(core.rt.workers());
  rampart::bpf::RingDispatcher legacy(core.rt.loop(), legacy_ring, core.events, "legacy",
                                      legacy_sink);
  d.drain();  // alpha's probes ran too: out of the way
  EXPECT_EQ(run(root_fd(dp, "xdp_root"), true, 10).verdict, XDP_PASS);
  EXPECT_EQ(legacy.drain(), 20);
  ASSERT_TRUE(rampart::test::poll_until([&] { return core.events.backlog() == 0; },
                                        std::chrono::seconds(10)));
  size_t kept = 0;
  for (const auto& b : legacy_sink->batches()) {
    for (const auto& [id, ts] : b) {
      EXPECT_EQ(id, 3u) << "only the unregistered source's records";
      ++kept;
    }
  }
  EXPECT_EQ(kept, 10u);
  EXPECT_EQ(legacy.foreign(), 10u);
}

TEST_F(DatapathTest, PluginsRegisterTheirSourcesByNameAndCannotTakeAnothersOrForgeIt) {
  Datapath dp(options());
  dp.start();
  Core core(dp, 2);
  rampart::plugin_host::PluginManager pm(*core.services);
  discover_engines(pm);
  const std::string taken = std::to_string(rampart_event_source_id("taken"));
  // secret_engine first claims a name good_engine then asks for: refused.
  // Then it stamps good_engine's source into its own ring: dropped.
  pm.start(rampart::config::load_string(
      "plugins:\n  secret_engine: {stage: first, stage_priority: 100, probe_id: 5, "
      "event_source: mine}\n"
      "  good_engine: {stage: probe, probe_id: 9, event_source: mine}\n",
      "t.yaml"));
  // Whichever started first holds the name; the other is refused.
  ASSERT_EQ(pm.status().size(), 2u);
  ASSERT_EQ(pm.running(), 1u) << log_.dump();
  for (const auto& st : pm.status()) {
    const std::string other = st.id == "good_engine" ? "secret_engine" : "good_engine";
    if (!st.error.empty()) {
      EXPECT_NE(st.error.find("event source \"mine\" belongs to plugin " + other),
                std::string::npos)
          << st.error;
    }
  }
  pm.stop_all();
  const uint64_t foreign_before = rampart::bpf::RingDispatcher::total_foreign();
  rampart::plugin_host::PluginManager pm2(*core.services);
  discover_engines(pm2);
  pm2.start(rampart::config::load_string(
      "plugins:\n  good_engine: {stage: probe, probe_id: 9, event_source: taken, log_batches: "
      "true}\n"
      "  secret_engine: {stage: first, stage_priority: 100, probe_id: 5, stamp_source: " +
          taken + "}\n",
      "t.yaml"));
  ASSERT_EQ(pm2.running(), 2u) << log_.dump();
  ASSERT_TRUE(log_.wait_for("[good_engine] event source taken id=" + taken)) << log_.dump();
  const int xdp = root_fd(dp, "xdp_root");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(run(xdp, true).trail, (std::vector<uint8_t>{5, 9}));
  ASSERT_TRUE(log_.wait_for("probe event id=9 meta=0", 3)) << log_.dump();
  ASSERT_TRUE(rampart::test::poll_until(
      [&] { return rampart::bpf::RingDispatcher::total_foreign() - foreign_before == 3; },
      std::chrono::seconds(10)));
  EXPECT_EQ(log_.count("probe event id=5"), 0u) << log_.dump();
  EXPECT_GE(log_.count("[good_engine] batch of "), 1u) << "delivered through on_events";
  // Counted once the worker that delivered the last has returned.
  EXPECT_TRUE(rampart::test::poll_until(
      [&] { return core.events.counts(rampart_event_source_id("taken")).delivered >= 3; },
      std::chrono::seconds(10)));
  EXPECT_EQ(core.events.counts(rampart_event_source_id("taken")).delivered, 3u);
  pm2.stop_all();
}

// ---- table swaps: spare instances refilled instead of loaded ----

// What bpf/table_probe.bpf.c holds: a pair that is always equal within one
// set of contents, the UDP ports it passes, and a setting.
struct Tables {
  uint64_t pair = 0;
  std::vector<uint32_t> ports;
  uint32_t flavour = 0;
  uint32_t port_capacity = 0;  // 0: as declared (64); another size is another shape
  // ABI 1.8 change lists for pair_a and ports (nullopt: not listed).
  std::optional<rampart::bpf::ByteRanges> pair_a_changed = std::nullopt;
  std::optional<rampart::bpf::ByteRanges> ports_changed = std::nullopt;
  std::optional<rampart::bpf::ByteRanges> pair_b_changed = std::nullopt;
  uint32_t flags = 0;  // RAMPART_PROGRAM_*
};

// test_run traffic through the XDP root on a thread of its own, 2,000
// packets a run, until stopped.
class Traffic {
 public:
  explicit Traffic(int root)
      : thread_([this, root] {
          while (!stop_.load()) {
            run(root, true, 2000);
            runs_.fetch_add(1);
          }
        }) {}
  ~Traffic() { stop(); }
  uint64_t runs() const { return runs_.load(); }
  uint64_t stop() {  // the runs made
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return runs_.load();
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> runs_{0};
  std::thread thread_;
};

InstanceSpec spec_of(const Tables& t) {
  InstanceSpec spec;
  spec.program = "table_xdp";
  spec.settings["flavour"] = rampart::bpf::bytes_of(t.flavour);
  for (const char* m : {"pair_a", "pair_b"}) {
    rampart::bpf::MapContents c;
    c.name = m;
    c.dense = rampart::bpf::bytes_of(t.pair);
    c.changed = std::string(m) == "pair_a" ? t.pair_a_changed : t.pair_b_changed;
    spec.maps.push_back(c);
  }
  rampart::bpf::MapContents ports;
  ports.name = "ports";
  ports.max_entries = t.port_capacity;
  for (const uint32_t p : t.ports)
    ports.entries.emplace_back(rampart::bpf::bytes_of(p), rampart::bpf::bytes_of(uint32_t{1}));
  ports.changed = t.ports_changed;
  spec.maps.push_back(ports);
  rampart::bpf::MapContents mixes;
  mixes.name = "mixes";
  mixes.persistent = true;
  spec.maps.push_back(mixes);
  return spec;
}

InstallTarget target_of(const Tables& t, const std::string& owner = "tables") {
  InstallTarget target;
  target.owner = owner;
  target.hook = RAMPART_PROGRAM_XDP;
  target.slot = "tables";
  target.priority = 100;
  target.flags = t.flags;
  return target;
}

std::shared_ptr<rampart::bpf::InstalledProgram> install_tables(Datapath& dp, const Tables& t) {
  return dp.install("table_probe", spec_of(t), target_of(t));
}

// A datapath with the table probe installed (pair 1, port 2 listed), its
// XDP root, and the probe's persistent count of packets that saw two sets.
struct ProbeRig {
  explicit ProbeRig(const rampart::bpf::DatapathOptions& o) : dp(o) {
    dp.start();
    root = root_fd(dp, "xdp_root");
    current = install_tables(dp, {1, {2}});
    mixes = dp.owned_map_fd("tables", "mixes");
  }
  Datapath dp;
  int root = -1, mixes = -1;
  std::shared_ptr<rampart::bpf::InstalledProgram> current;
};

uint32_t prog_id(int fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) throw std::runtime_error("prog info");
  return info.id;
}

std::set<uint32_t> keys_of(int map_fd) {
  std::set<uint32_t> keys;
  uint32_t key = 0;
  for (const uint32_t* prev = nullptr; bpf_map_get_next_key(map_fd, prev, &key) == 0; prev = &key)
    keys.insert(key);
  return keys;
}

// Same shape (object, settings, sizes): the next install refills the
// instance that left instead of loading one, and nothing of its old
// contents or state is left; another setting is another shape.
TEST_F(DatapathTest, ASpareOfTheSameShapeIsRefilledNotLoaded) {
  auto o = options();
  o.prepare_spares = false;  // only the instances that left: which one is taken is known
  Datapath dp(o);
  dp.start();
  const int root = root_fd(dp, "xdp_root");
  auto first = install_tables(dp, {1, {2}});
  const uint32_t first_id = prog_id(first->instance().program_fd());
  EXPECT_FALSE(first->refilled());
  EXPECT_EQ(run(root, true).verdict, XDP_PASS) << "port 2 listed";
  auto second = install_tables(dp, {2, {}});
  EXPECT_FALSE(second->refilled()) << "the first is still held by its plugin";
  EXPECT_EQ(run(root, true).verdict, XDP_DROP) << "nothing listed";
  EXPECT_EQ(dp.refills(), 0u);

  first.reset();  // its plugin lets go: a spare
  auto third = install_tables(dp, {3, {2, 7}});
  EXPECT_TRUE(third->refilled());
  EXPECT_EQ(prog_id(third->instance().program_fd()), first_id);
  EXPECT_EQ(dp.refills(), 1u);
  const auto& inst = third->instance();
  EXPECT_EQ(keys_of(inst.map_fd("ports")), (std::set<uint32_t>{2, 7}));
  EXPECT_EQ(Datapath::percpu_sum(inst.map_fd("hits"), 0), 0u) << "its own counters start again";
  uint64_t seen = 1, pair = 0;
  const uint32_t zero = 0;
  ASSERT_EQ(bpf_map_lookup_elem(inst.map_fd(".bss"), &zero, &seen), 0);
  EXPECT_EQ(seen, 0u) << "global variables back to their initial values";
  ASSERT_EQ(bpf_map_lookup_elem(inst.map_fd("pair_b"), &zero, &pair), 0);
  EXPECT_EQ(pair, 3u);
  EXPECT_EQ(run(root, true).verdict, XDP_PASS);
  EXPECT_EQ(Datapath::percpu_sum(inst.map_fd("hits"), 0), 1u);

  second.reset();
  auto other = install_tables(dp, {4, {2}, /*flavour=*/1});
  EXPECT_FALSE(other->refilled()) << "another setting: another shape, loaded";
  EXPECT_EQ(dp.refills(), 1u);
  EXPECT_EQ(run(root, true).verdict, XDP_PASS);
}

// With change lists (ABI 1.8), a refill writes only the bytes listed since
// the generation the spare holds; an install that listed nothing on the way
// makes it compare whole. Shown by lists that lie: what they leave out
// keeps the spare's old contents.
TEST_F(DatapathTest, ARefillWritesOnlyWhatTheInstallsSinceItsGenerationListed) {
  auto o = options();
  o.prepare_spares = false;  // only the instances that left: which one is taken is known
  Datapath dp(o);
  dp.start();
  const rampart::bpf::ByteRanges none;
  auto pair_a = [](const rampart::bpf::InstalledProgram& p) {
    uint64_t v = 0;
    const uint32_t zero = 0;
    bpf_map_lookup_elem(p.instance().map_fd("pair_a"), &zero, &v);
    return v;
  };
  auto first = install_tables(dp, {1, {2}});
  auto second = install_tables(dp, {2, {}});  // lists nothing
  first.reset();                              // a spare holding the first's contents
  // The second listed nothing: the chain from the first is unknown, so the
  // spare is compared whole whatever this one says.
  auto third = install_tables(dp, {3, {7}, 0, 0, none, none});
  ASSERT_TRUE(third->refilled());
  EXPECT_EQ(pair_a(*third), 3u);
  EXPECT_EQ(keys_of(third->instance().map_fd("ports")), (std::set<uint32_t>{7}));

  second.reset();  // a spare holding the second's contents; the third listed its changes
  auto fourth = install_tables(dp, {4, {9}, 0, 0, none, none});  // and so does this one: none
  ASSERT_TRUE(fourth->refilled());
  EXPECT_EQ(pair_a(*fourth), 2u) << "listed as unchanged since the second: not written";
  EXPECT_TRUE(keys_of(fourth->instance().map_fd("ports")).empty()) << "the second's, kept";
  uint64_t pair_b = 0;
  const uint32_t zero = 0;
  ASSERT_EQ(bpf_map_lookup_elem(fourth->instance().map_fd("pair_b"), &zero, &pair_b), 0);
  EXPECT_EQ(pair_b, 4u) << "not listed: compared and written";

  third.reset();  // holds the third's: 3 and {7}
  auto fifth = install_tables(
      dp, {5, {9}, 0, 0, rampart::bpf::ByteRanges{{0, 8}}, rampart::bpf::ByteRanges{{0, 4}}});
  ASSERT_TRUE(fifth->refilled());
  EXPECT_EQ(pair_a(*fifth), 5u) << "listed: written";
  EXPECT_EQ(keys_of(fifth->instance().map_fd("ports")), (std::set<uint32_t>{9}))
      << "a keyed map with a change is refilled whole";
}

// Spares of the live shape are loaded ahead in the background: the writes
// that follow each refill one that was never live (no grace period to wait
// for), and none of them loads.
TEST_F(DatapathTest, SparesOfTheLiveShapeArePreparedAhead) {
  Datapath dp(options());
  dp.start();
  const int root = root_fd(dp, "xdp_root");
  auto current = install_tables(dp, {1, {2}});
  const uint32_t first_id = prog_id(current->instance().program_fd());
  ASSERT_EQ(dp.loads(), 1u);
  ASSERT_TRUE(rampart::test::poll_until(
      [&] { return dp.spares_prepared() >= rampart::bpf::InstancePool::kPerPlace; },
      std::chrono::seconds(60)))
      << "prepared: " << dp.spares_prepared();
  std::set<uint32_t> ids{first_id};
  for (uint64_t i = 2; i < 2 + rampart::bpf::InstancePool::kPerPlace; ++i) {
    current = install_tables(dp, {i, {uint32_t(i)}});
    EXPECT_TRUE(current->refilled());
    ids.insert(prog_id(current->instance().program_fd()));
    EXPECT_EQ(keys_of(current->instance().map_fd("ports")), (std::set<uint32_t>{uint32_t(i)}));
  }
  EXPECT_EQ(dp.loads(), 1u) << "the writes loaded nothing";
  EXPECT_EQ(ids.size(), size_t(1 + rampart::bpf::InstancePool::kPerPlace))
      << "each write took a prepared spare, not the one that just left";
  EXPECT_EQ(run(root, true).verdict, XDP_DROP) << "port 2 is no longer listed";
}

// ABI 1.10: a plugin that sees its tables will soon outgrow the live
// instance has a spare of the next shape loaded in the background; the
// install that grows into that shape takes it (a refill: nothing loaded on
// the writer's path). Nothing is prepared for the live shape or for a
// stage that is not the plugin's.
TEST_F(DatapathTest, AShapePreparedAheadIsTakenByTheInstallThatGrowsIntoIt) {
  Datapath dp(options());
  dp.start();
  auto live = install_tables(dp, {1, {2}});
  ASSERT_TRUE(rampart::test::poll_until(
      [&] { return dp.spares_prepared() >= rampart::bpf::InstancePool::kPerPlace; },
      std::chrono::seconds(60)))
      << "the live shape's spares: " << dp.spares_prepared();
  const uint64_t prepared = dp.spares_prepared();
  const Tables grown{2, {7}, 0, 128};
  EXPECT_FALSE(dp.prepare("table_probe", spec_of({9, {9}}), target_of({9, {9}})))
      << "the live shape";
  EXPECT_FALSE(dp.prepare("table_probe", spec_of(grown), target_of(grown, "someone-else")))
      << "another plugin's stage";
  ASSERT_TRUE(dp.prepare("table_probe", spec_of(grown), target_of(grown)));
  ASSERT_TRUE(rampart::test::poll_until([&] { return dp.spares_prepared() == prepared + 1; },
                                        std::chrono::seconds(60)))
      << "prepared: " << dp.spares_prepared() - prepared;
  const uint64_t loads = dp.loads(), refills = dp.refills();
  auto next = install_tables(dp, grown);
  EXPECT_EQ(dp.loads(), loads) << "the grown shape was loaded ahead";
  EXPECT_EQ(dp.refills(), refills + 1);
  EXPECT_TRUE(next->refilled());
  EXPECT_EQ(keys_of(next->instance().map_fd("ports")), (std::set<uint32_t>{7}));
  EXPECT_NE(next->instance().shape(), live->instance().shape());
}

// Spares ahead take only the room the live shape's leave: one too large to
// fit beside them is not loaded at all (the install that grows loads it),
// and those that fit never push a live spare out, so the whole installs
// that follow each refill one and nothing is loaded again.
TEST_F(DatapathTest, SparesAheadNeverPushOutTheLiveShapes) {
  auto o = options();
  // The probe's tables are 12 bytes a port: 64 ports ~0.8 KB an instance,
  // 1,024 ~12 KB, 8,192 ~98 KB.
  o.spare_bytes_per_stage = 50000;
  Datapath dp(o);
  dp.start();
  auto live = install_tables(dp, {1, {2}});
  constexpr uint64_t kLive = rampart::bpf::InstancePool::kPerPlace;
  ASSERT_TRUE(rampart::test::poll_until([&] { return dp.spares_prepared() >= kLive; },
                                        std::chrono::seconds(60)))
      << "the live shape's spares: " << dp.spares_prepared();
  const Tables huge{2, {7}, 0, 8192}, grown{3, {7}, 0, 1024};
  EXPECT_FALSE(dp.prepare("table_probe", spec_of(huge), target_of(huge)))
      << "98 KB does not fit beside three live spares in 50 KB";
  ASSERT_TRUE(dp.prepare("table_probe", spec_of(grown), target_of(grown)));
  ASSERT_TRUE(rampart::test::poll_until(
      [&] { return dp.spares_prepared() == kLive + rampart::bpf::InstancePool::kAheadPerPlace; },
      std::chrono::seconds(60)))
      << "prepared: " << dp.spares_prepared();
  const uint64_t loads = dp.loads();
  for (uint64_t i = 0; i < 2 * kLive; ++i) {
    live = install_tables(dp, {10 + i, {uint32_t(i)}});
    EXPECT_TRUE(live->refilled()) << "install " << i;
  }
  EXPECT_EQ(dp.loads(), loads) << "no live spare was pushed out for one ahead";
  // Instances their plugin lets go of late come back together: more spares
  // of the live shape than a place keeps. The oldest of them go, not the
  // spares ahead.
  std::vector<std::shared_ptr<rampart::bpf::InstalledProgram>> held;
  for (uint64_t i = 0; i <= kLive; ++i) {
    held.push_back(live);
    live = install_tables(dp, {20 + i, {uint32_t(i)}});
  }
  held.clear();
  const uint64_t before_growth = dp.loads();
  auto next = install_tables(dp, grown);
  EXPECT_TRUE(next->refilled()) << "the spare ahead is still there";
  EXPECT_EQ(dp.loads(), before_growth);
}

// A set that outgrows its tables changes shape: that install loads a new
// instance, and the writes after it refill spares of the new shape. Under
// traffic, through 6 growths and the swaps between them, no packet sees
// two sets.
TEST_F(DatapathTest, ShapeGrowthUnderTrafficStillNeverMixesTwoSets) {
  ProbeRig rig(options());
  ASSERT_GE(rig.mixes, 0);
  Traffic traffic(rig.root);
  const uint64_t loads_before = rig.dp.loads();
  constexpr int kGrowths = 6, kSwapsEach = 5;
  for (int g = 0; g < kGrowths; ++g) {
    for (int i = 0; i < kSwapsEach; ++i) {
      const uint64_t pair = uint64_t(g) * 100 + uint64_t(i) + 2;
      rig.current = install_tables(rig.dp, {pair, {2}, 0, 128u << g});
    }
  }
  EXPECT_GT(traffic.stop(), 0u) << "traffic ran during the swaps";
  EXPECT_GE(rig.dp.loads() - loads_before, uint64_t(kGrowths)) << "each growth loads its shape";
  EXPECT_GE(rig.dp.refills(), uint64_t(kGrowths)) << "the writes between growths refill";
  EXPECT_EQ(Datapath::percpu_sum(rig.mixes, 0), 0u) << "packets judged by two sets at once";
  EXPECT_EQ(run(rig.root, true).verdict, XDP_PASS) << "the last set lists port 2";
}

// Counters read at once (program_counters, ABI 1.7) agree with reading
// them one by one: per-CPU values summed, from any first entry, and 0 past
// the map's end.
TEST_F(DatapathTest, CounterRangesReadInOneBatchAgreeWithSingleReads) {
  const int fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "counters", 4, 8, 10, nullptr);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const int ncpu = libbpf_num_possible_cpus();
  for (uint32_t k = 0; k < 10; ++k) {
    std::vector<uint64_t> per_cpu(ncpu);
    for (int c = 0; c < ncpu; ++c) per_cpu[c] = 100 * k + c + 1;
    ASSERT_EQ(bpf_map_update_elem(fd, &k, per_cpu.data(), BPF_ANY), 0);
  }
  auto want = [&](uint32_t k) {
    return k >= 10 ? 0 : uint64_t(ncpu) * 100 * k + uint64_t(ncpu) * (ncpu + 1) / 2;
  };
  for (const auto& [first, n] : std::vector<std::pair<uint32_t, size_t>>{{0, 10}, {3, 4}, {8, 5}}) {
    const auto got = Datapath::percpu_sums(fd, first, n);
    ASSERT_EQ(got.size(), n);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(got[i], want(first + uint32_t(i))) << "entry " << first + i;
      if (first + i < 10) {
        EXPECT_EQ(got[i], Datapath::percpu_sum(fd, first + uint32_t(i)));
      }
    }
  }
  close(fd);
}

// agent.table_swaps: false: every install loads, spares or not.
TEST_F(DatapathTest, WithoutTableSwapsEveryInstallLoads) {
  auto o = options();
  o.table_swaps = false;
  Datapath dp(o);
  dp.start();
  for (uint64_t i = 1; i <= 4; ++i) EXPECT_FALSE(install_tables(dp, {i, {2}})->refilled());
  EXPECT_EQ(dp.refills(), 0u);
  EXPECT_EQ(dp.loads(), 4u);
}

// Under traffic, 200 swaps between contents whose pair differs: every
// packet reads both halves of the pair from one set (a spare is refilled
// only once a grace period has passed since it left the chain). The same
// check sees mixes at once when the live tables are written in place.
TEST_F(DatapathTest, TableSwapsUnderTrafficNeverMixTwoSets) {
  ProbeRig rig(options());
  ASSERT_GE(rig.mixes, 0);
  Datapath& dp = rig.dp;
  const int root = rig.root, mixes = rig.mixes;
  auto& current = rig.current;
  Traffic traffic(root);
  constexpr int kSwaps = 200;
  for (int i = 0; i < kSwaps; ++i) current = install_tables(dp, {uint64_t(i + 2), {2}});
  const uint64_t during = traffic.runs();
  const uint64_t refills = dp.refills();
  const uint64_t mixed = Datapath::percpu_sum(mixes, 0);

  // The control: the live instance's pair written in place, half at a time.
  const auto& live = current->instance();
  const uint32_t zero = 0;
  uint64_t v = 1000;
  const bool seen = rampart::test::poll_until(
      [&] {
        bpf_map_update_elem(live.map_fd("pair_a"), &zero, &v, BPF_ANY);
        // Packets run between the halves (on two busy cores they might
        // otherwise never land there).
        const uint64_t ran = traffic.runs();
        while (traffic.runs() < ran + 2) std::this_thread::yield();
        bpf_map_update_elem(live.map_fd("pair_b"), &zero, &v, BPF_ANY);
        ++v;
        return Datapath::percpu_sum(mixes, 0) > 0;
      },
      std::chrono::seconds(20));
  traffic.stop();
  EXPECT_GT(during, 0u) << "traffic ran during the swaps";
  EXPECT_GE(refills, uint64_t(kSwaps - 2)) << "all but the first swaps refill a spare";
  EXPECT_EQ(mixed, 0u) << "packets judged by two sets at once";
  EXPECT_TRUE(seen) << "the check would have seen a mix";
}

// RAMPART_PROGRAM_IN_PLACE (ABI 1.9): an install whose every map lists its
// changes, of the live instance's shape, over the contents that instance
// holds, is written into it: the same program keeps running, nothing is
// loaded or refilled. Anything else (a change not listed, another shape)
// goes the usual way, and the next in-place write goes to the new instance.
TEST_F(DatapathTest, InPlaceInstallsWriteTheLiveInstance) {
  auto o = options();
  o.prepare_spares = false;
  Datapath dp(o);
  dp.start();
  const int root = root_fd(dp, "xdp_root");
  auto live = install_tables(dp, {1, {2}});
  const uint32_t live_id = prog_id(live->instance().program_fd());
  const uint64_t loads = dp.loads();
  const rampart::bpf::ByteRanges word{{0, 8}}, port7{{7 * 4, 4}};
  auto pair = [](const rampart::bpf::InstalledProgram& p, const char* m) {
    uint64_t v = 0;
    const uint32_t zero = 0;
    bpf_map_lookup_elem(p.instance().map_fd(m), &zero, &v);
    return v;
  };

  // Every change listed: written in place.
  auto next = install_tables(dp, {2, {7}, 0, 0, word, port7, word, RAMPART_PROGRAM_IN_PLACE});
  EXPECT_EQ(next.get(), live.get()) << "the live instance, not another";
  EXPECT_EQ(prog_id(next->instance().program_fd()), live_id);
  EXPECT_EQ(dp.writes_in_place(), 1u);
  EXPECT_EQ(dp.loads(), loads);
  EXPECT_EQ(dp.refills(), 0u);
  EXPECT_EQ(pair(*next, "pair_a"), 2u);
  EXPECT_EQ(pair(*next, "pair_b"), 2u);
  EXPECT_EQ(keys_of(next->instance().map_fd("ports")), (std::set<uint32_t>{7}))
      << "a keyed map: the spec's entries written, the others deleted";
  EXPECT_EQ(run(root, true).verdict, XDP_DROP) << "port 2 no longer listed";

  // pair_b's changes not listed: not in place.
  auto other = install_tables(
      dp, {3, {7}, 0, 0, word, rampart::bpf::ByteRanges{}, std::nullopt, RAMPART_PROGRAM_IN_PLACE});
  EXPECT_NE(other.get(), live.get());
  EXPECT_EQ(dp.writes_in_place(), 1u);
  EXPECT_EQ(pair(*other, "pair_b"), 3u);
  live.reset();
  next.reset();

  // Written into the instance that is live now, over what it holds.
  const uint32_t other_id = prog_id(other->instance().program_fd());
  auto again = install_tables(dp, {4,
                                   {7, 9},
                                   0,
                                   0,
                                   word,
                                   rampart::bpf::ByteRanges{{9 * 4, 4}},
                                   word,
                                   RAMPART_PROGRAM_IN_PLACE});
  EXPECT_EQ(prog_id(again->instance().program_fd()), other_id);
  EXPECT_EQ(dp.writes_in_place(), 2u);
  EXPECT_EQ(pair(*again, "pair_a"), 4u);
  EXPECT_EQ(keys_of(again->instance().map_fd("ports")), (std::set<uint32_t>{7, 9}));

  // Another shape: loaded, whatever the flag.
  const uint64_t before = dp.loads();
  auto grown = install_tables(dp, {5, {7}, 0, 128, word, port7, word, RAMPART_PROGRAM_IN_PLACE});
  EXPECT_EQ(dp.loads(), before + 1);
  EXPECT_EQ(dp.writes_in_place(), 2u);
  EXPECT_EQ(pair(*grown, "pair_b"), 5u);
}

// A reload's install, once committed, is the live instance's newest
// generation: the first write after the reload goes into it in place (it
// used to take a spare and write it whole: 75-97 ms with a 10^6-prefix
// blocklist).
TEST_F(DatapathTest, TheFirstWriteAfterAReloadGoesIntoItsInstance) {
  auto o = options();
  o.prepare_spares = false;
  Datapath dp(o);
  dp.start();
  auto before = install_tables(dp, {1, {2}});
  dp.begin_staging();
  auto staged = install_tables(dp, {2, {3}});
  dp.commit_staging();
  dp.end_staging();
  before.reset();
  const uint64_t loads = dp.loads(), refills = dp.refills();
  const rampart::bpf::ByteRanges word{{0, 8}}, port7{{7 * 4, 4}};
  auto next = install_tables(dp, {3, {7}, 0, 0, word, port7, word, RAMPART_PROGRAM_IN_PLACE});
  EXPECT_EQ(next.get(), staged.get()) << "the reload's instance, written in place";
  EXPECT_EQ(dp.writes_in_place(), 1u);
  EXPECT_EQ(dp.loads(), loads);
  EXPECT_EQ(dp.refills(), refills);
  EXPECT_EQ(keys_of(next->instance().map_fd("ports")), (std::set<uint32_t>{7}));
}

}  // namespace

// SPDX-License-Identifier: Apache-2.0
// The core's datapath on its own: loading and pinning, adopting what is
// pinned, and the ABI 1.1 map service as a plugin sees it.
#include <gtest/gtest.h>

#include <bpf/libbpf.h>
#include <sys/mount.h>

#include <cstring>
#include <filesystem>

#include "bpf/datapath.hpp"
#include "config/config.hpp"
#include "log_capture.hpp"
#include "plugin_host/plugin_manager.hpp"
#include "privilege.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace {

using rampart::bpf::Datapath;
using rampart::bpf::DatapathOptions;

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
    o.bpf_dir = RAMPART_BPF_DIR;
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
  for (const char* m : {"events", "fw_stats", "fw_classifier", "xdp_stages", "fw_pace"}) {
    EXPECT_TRUE(std::filesystem::exists(bpffs_ + "/rampart/maps/" + m)) << m;
    EXPECT_GE(first.shared_map_fd(m), 0) << m;
  }
  EXPECT_TRUE(std::filesystem::exists(bpffs_ + "/rampart/progs/xdp_firewall"));
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

TEST_F(DatapathTest, PluginsOpenSharedMapsWithTheirSizesChecked) {
  Datapath dp(options());
  dp.start();
  rampart::runtime::Runtime rt(1);
  rampart::runtime::EventBus events(rt.workers());
  rampart::alerts::AlertPipeline alerts;
  rampart::runtime::Metrics metrics;
  rampart::plugin_host::CoreServices core{rt, events, alerts, metrics, &dp};
  {
    rampart::plugin_host::PluginManager pm(core);
    pm.discover({rampart::test::variant_dir("good_engine")});
    pm.start(rampart::config::load_string(
        "plugins:\n  good_engine: {open_map: fw_stats, map_value_size: 8}\n", "t.yaml"));
    EXPECT_EQ(pm.running(), 1u) << log_.dump();
    EXPECT_EQ(log_.count("lifecycle: map opened fw_stats"), 1u);
  }
  {
    // fw_stats is per-CPU: one plain lookup would write a value per CPU
    // into room for one.
    rampart::plugin_host::PluginManager pm(core);
    pm.discover({rampart::test::variant_dir("good_engine")});
    pm.start(rampart::config::load_string(
        "plugins:\n  good_engine: {open_map: fw_stats, map_value_size: 8, map_probe: true}\n",
        "t.yaml"));
    EXPECT_EQ(pm.running(), 1u) << log_.dump();
    const int ncpus = libbpf_num_possible_cpus();
    std::string values;
    for (int c = 0; c < ncpus; ++c) values += "7,";
    EXPECT_EQ(
        log_.count("map probe: ncpus=" + std::to_string(ncpus) +
                   " percpu=1 lookup=refused(map fw_stats is per-CPU: a lookup returns " +
                   std::to_string(ncpus) + " values; use map_lookup_percpu) values=" + values),
        1u)
        << log_.dump();
    // What the kernel holds: 7 on every CPU, summed by the core's reader.
    EXPECT_EQ(Datapath::percpu_sum(dp.shared_map_fd("fw_stats"), 3), uint64_t(7) * ncpus);
  }
  {
    rampart::plugin_host::PluginManager pm(core);
    pm.discover({rampart::test::variant_dir("good_engine")});
    pm.start(rampart::config::load_string(
        "plugins:\n  good_engine: {open_map: fw_stats, map_value_size: 16}\n", "t.yaml"));
    ASSERT_EQ(pm.status().size(), 1u);
    EXPECT_NE(pm.status()[0].error.find("map fw_stats has key/value size 4/8, asked for 4/16"),
              std::string::npos)
        << pm.status()[0].error;
  }
  {
    rampart::plugin_host::PluginManager pm(core);
    pm.discover({rampart::test::variant_dir("good_engine")});
    pm.start(rampart::config::load_string("plugins:\n  good_engine: {open_map: no_such_map}\n",
                                          "t.yaml"));
    EXPECT_NE(pm.status()[0].error.find("no shared map no_such_map"), std::string::npos)
        << pm.status()[0].error;
  }
}

}  // namespace

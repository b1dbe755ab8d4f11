// SPDX-License-Identifier: Apache-2.0
// The plugin host against real .so files: every refusal case, the
// lifecycle, reload all-or-nothing, timers, events, alerts, and ABI
// negotiation with a grown host table.
#include <gtest/gtest.h>

#include <mutex>

#include <sstream>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "config/config.hpp"
#include "log_capture.hpp"
#include "metrics_check.hpp"
#include "plugin_core.hpp"
#include "plugin_host/callback_errors.hpp"
#include "plugin_host/plugin_call.hpp"
#include "plugin_host/plugin_library.hpp"
#include "plugin_host/plugin_manager.hpp"
#include "privilege.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace {

namespace fs = std::filesystem;
using rampart::plugin_host::Callback;
using rampart::plugin_host::PluginManager;
using rampart::plugin_host::PluginState;
using rampart::test::LogCapture;
using rampart::test::TempDir;
using rampart::test::variant_dir;

// Core services for one test; shut down (draining the loop) before the
// captured log is inspected for "nothing after stop" properties.
using Core = rampart::test::PluginCore;

rampart::config::Config cfg(const std::string& yaml) { return rampart::test::config_from(yaml); }

// The status of plugin `id`, a copy (a pointer into pm.status()'s
// temporary would dangle; ASan found two tests doing that).
std::optional<rampart::plugin_host::PluginStatus> find(
    const std::vector<rampart::plugin_host::PluginStatus>& all, const std::string& id) {
  for (const auto& s : all) {
    if (s.id == id) return s;
  }
  return std::nullopt;
}

class PluginHost : public ::testing::Test {
 protected:
  LogCapture log;
  Core core;
};

// --- refusals: each one is a real .so built for it ------------------------

struct RefusalCase {
  const char* variant;
  const char* reason;
};

class Refusal : public PluginHost, public ::testing::WithParamInterface<RefusalCase> {};

TEST_P(Refusal, IsRefusedWithOneLineAndTheRestStillLoad) {
  const auto& c = GetParam();
  PluginManager pm(core.services);
  pm.discover({variant_dir(c.variant), variant_dir("good_engine")});
  ASSERT_EQ(pm.refusals().size(), 1u) << log.dump();
  EXPECT_NE(pm.refusals()[0].reason.find(c.reason), std::string::npos) << pm.refusals()[0].reason;
  EXPECT_EQ(log.count("refusing plugin"), 1u) << log.dump();
  EXPECT_EQ(log.count(c.variant + std::string(".so")), 1u) << "the refusal line names the file";
  pm.start(cfg("plugins:\n  good_engine: {}\n"));
  EXPECT_EQ(pm.running(), 1u);
  EXPECT_TRUE(log.wait_for("lifecycle: start"));
}

INSTANTIATE_TEST_SUITE_P(
    EachBrokenPlugin, Refusal,
    ::testing::Values(RefusalCase{"no_entry", "no entry symbol rampart_plugin_entry"},
                      RefusalCase{"newer_minor", "newer than host ABI"},
                      RefusalCase{"other_major", "major differs"},
                      RefusalCase{"short_descriptor", "malformed descriptor: struct_size"},
                      RefusalCase{"bad_kind", "malformed descriptor: unknown kind 42"},
                      RefusalCase{"bad_id", "malformed descriptor: id"},
                      RefusalCase{"no_create", "create, destroy and last_error are required"},
                      RefusalCase{"short_api", "function table struct_size"},
                      RefusalCase{"null_descriptor", "returned no descriptor"},
                      RefusalCase{"bad_secret_path",
                                  "malformed descriptor: secret_settings[1] "
                                  "\"hooks..url\" has an empty segment"}),
    [](const auto& info) { return std::string(info.param.variant); });

TEST_F(PluginHost, DuplicateIdIsRefusedAndTheFirstKept) {
  PluginManager pm(core.services);
  pm.discover({variant_dir("dup_a"), variant_dir("dup_b")});
  ASSERT_EQ(pm.refusals().size(), 1u);
  EXPECT_NE(pm.refusals()[0].reason.find("duplicate plugin id 'dup'"), std::string::npos);
  EXPECT_NE(pm.refusals()[0].path.find("dup_b.so"), std::string::npos);
  pm.start(cfg("plugins:\n  dup: {}\n"));
  const auto st = find(pm.status(), "dup");
  ASSERT_TRUE(st);
  EXPECT_NE(st->path.find("dup_a.so"), std::string::npos);
  EXPECT_EQ(st->state, PluginState::running);
}

// ABI 1.4: what each plugin declares secret reaches the host through its
// descriptor (the C++ SDK fills it from kSecretSettings); a plugin built
// against 1.3 has no field for it, which is not the same as declaring none.
TEST_F(PluginHost, SecretSettingsComeFromTheDescriptor) {
  PluginManager pm(core.services);
  pm.discover({variant_dir("secret_engine"), variant_dir("abi_1_3"), variant_dir("good_engine")});
  ASSERT_TRUE(pm.refusals().empty()) << log.dump();
  const auto status = pm.status();
  ASSERT_EQ(status.size(), 3u);
  EXPECT_EQ(find(status, "secret_engine")->secret_settings,
            (std::vector<std::string>{"token", "hooks.*.url#url"}));
  EXPECT_EQ(find(status, "good_engine")->secret_settings, std::nullopt)
      << "1.4 without kSecretSettings declares nothing: all its values are redacted";
  EXPECT_EQ(find(status, "abi_1_3")->secret_settings, std::nullopt) << "cannot declare";
}

struct FailCase {
  const char* variant;
  const char* error;
};
class StartFailure : public PluginHost, public ::testing::WithParamInterface<FailCase> {};

TEST_P(StartFailure, FailsThatPluginOnlyAndLogsWhy) {
  const auto& c = GetParam();
  PluginManager pm(core.services);
  pm.discover({variant_dir(c.variant), variant_dir("good_engine")});
  EXPECT_TRUE(pm.refusals().empty());
  pm.start(cfg(std::string("plugins:\n  good_engine: {}\n  ") + c.variant + ": {}\n"));
  const auto status = pm.status();
  const auto bad = find(status, c.variant);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->state, PluginState::failed);
  EXPECT_NE(bad->error.find(c.error), std::string::npos) << bad->error;
  EXPECT_EQ(log.count("plugin failed to start"), 1u) << log.dump();
  EXPECT_EQ(find(status, "good_engine")->state, PluginState::running);
}

INSTANTIATE_TEST_SUITE_P(
    EachFailingPlugin, StartFailure,
    ::testing::Values(FailCase{"throw_in_create",
                               "create failed (status 6): constructor exploded on purpose"},
                      FailCase{"fail_start", "start failed (status 1): start refused on purpose"},
                      FailCase{"raw_throw", "create threw an exception across the C ABI"}),
    [](const auto& info) { return std::string(info.param.variant); });

TEST_F(PluginHost, FailedStartDestroysWithoutCallingStop) {
  PluginManager pm(core.services);
  pm.discover({variant_dir("fail_start")});
  pm.start(cfg("plugins:\n  fail_start: {}\n"));
  EXPECT_EQ(log.count("lifecycle: create"), 1u);
  EXPECT_EQ(log.count("lifecycle: destroy"), 1u);
  EXPECT_EQ(log.count("lifecycle: stop"), 0u);
}

// --- trust: directory and file ownership and permissions ------------------

class Trust : public PluginHost {
 protected:
  // A copy of the good engine in a fresh directory we control.
  std::string stage(const TempDir& dir) {
    const auto to = dir / "good_engine.so";
    fs::copy_file(variant_dir("good_engine") + "/good_engine.so", to);
    chmod(to.c_str(), 0755);
    chmod(dir.path().c_str(), 0755);
    return to;
  }
  // The one refusal discovering `dir` produces.
  std::string refusal(const TempDir& dir) {
    PluginManager pm(core.services);
    pm.discover({dir.path()});
    EXPECT_EQ(pm.status().size(), 0u);
    return pm.refusals().size() == 1 ? pm.refusals()[0].reason
                                     : "(" + std::to_string(pm.refusals().size()) + " refusals)";
  }
};

TEST_F(Trust, PrivateDirectoryLoads) {
  TempDir dir;
  stage(dir);
  PluginManager pm(core.services);
  pm.discover({dir.path()});
  EXPECT_TRUE(pm.refusals().empty()) << log.dump();
}

TEST_F(Trust, WorldWritableDirectoryIsRefused) {
  TempDir dir;
  stage(dir);
  chmod(dir.path().c_str(), 0777);
  EXPECT_EQ(refusal(dir), "plugin directory writable by group or others");
}

TEST_F(Trust, GroupWritableFileIsRefused) {
  TempDir dir;
  const auto so = stage(dir);
  chmod(so.c_str(), 0775);
  EXPECT_EQ(refusal(dir), "writable by group or others");
}

TEST_F(Trust, FileOwnedByAnotherUserIsRefused) {
  RAMPART_REQUIRE_ROOT();  // to chown
  TempDir dir;
  const auto so = stage(dir);
  ASSERT_EQ(chown(so.c_str(), 65534, 65534), 0);
  EXPECT_EQ(refusal(dir), "owned by uid 65534, not root");
}

TEST_F(Trust, DirectoryOwnedByAnotherUserIsRefused) {
  RAMPART_REQUIRE_ROOT();  // to chown
  TempDir dir;
  stage(dir);
  ASSERT_EQ(chown(dir.path().c_str(), 65534, 65534), 0);
  EXPECT_EQ(refusal(dir), "plugin directory owned by uid 65534, not root");
}

TEST_F(Trust, MissingDirectoryIsReportedNotFatal) {
  PluginManager pm(core.services);
  pm.discover({"/nonexistent/rampart/plugins", variant_dir("good_engine")});
  ASSERT_EQ(pm.refusals().size(), 1u);
  EXPECT_NE(pm.refusals()[0].reason.find("cannot stat"), std::string::npos);
  EXPECT_EQ(pm.status().size(), 1u);
}

// --- lifecycle ------------------------------------------------------------

TEST_F(PluginHost, LifecycleRunsInOrder) {
  {
    PluginManager pm(core.services);
    pm.discover({variant_dir("good_engine")});
    pm.start(cfg("plugins:\n  good_engine: {value: A}\n"));
    EXPECT_EQ(pm.running(), 1u);
  }
  const long create = log.index_of("lifecycle: create value=A");
  const long start = log.index_of("lifecycle: start");
  const long stop = log.index_of("lifecycle: stop");
  const long destroy = log.index_of("lifecycle: destroy");
  ASSERT_GE(create, 0) << log.dump();
  EXPECT_LT(create, start);
  EXPECT_LT(start, stop);
  EXPECT_LT(stop, destroy);
}

TEST_F(PluginHost, DisabledOrUnlistedPluginIsNeverCreated) {
  for (const char* yaml : {"plugins:\n  good_engine: {enabled: false}\n", "plugins: {}\n"}) {
    PluginManager pm(core.services);
    pm.discover({variant_dir("good_engine")});
    pm.start(cfg(yaml));
    EXPECT_EQ(find(pm.status(), "good_engine")->state, PluginState::disabled);
  }
  EXPECT_EQ(log.count("lifecycle: create"), 0u);
}

TEST_F(PluginHost, ConfiguredButMissingPluginIsAWarningWithTheLine) {
  PluginManager pm(core.services);
  pm.discover({variant_dir("good_engine")});
  pm.start(cfg("plugins:\n  good_engine: {}\n  firewal: {}\n"));
  EXPECT_EQ(log.count("configured plugin not found"), 1u);
  EXPECT_EQ(log.count("test.yaml:3"), 1u) << log.dump();
}

// A plugin needs the host minor it was built against, unless it declares
// an older one it works with (kRequiredAbiMinor), as Falco's plugins do.
TEST_F(PluginHost, APluginLoadsOnHostsAsOldAsTheMinorItRequires) {
  using rampart::plugin_host::AbiVersion;
  using rampart::plugin_host::load_library;
  const std::string requires_1_2 = variant_dir("requires_1_2") + "/requires_1_2.so";
  const std::string built_for_current = variant_dir("good_engine") + "/good_engine.so";
  auto refusal = [](const auto& loaded) {
    const auto* why = std::get_if<std::string>(&loaded);
    return why ? *why : std::string();
  };
  const uint16_t major = RAMPART_ABI_MAJOR, minor = RAMPART_ABI_MINOR;
  EXPECT_EQ(refusal(load_library(requires_1_2, AbiVersion{major, 2})), "");
  EXPECT_EQ(refusal(load_library(requires_1_2, AbiVersion{major, minor})), "");
  EXPECT_EQ(refusal(load_library(requires_1_2, AbiVersion{major, 1})),
            "needs ABI 1.2, newer than host ABI 1.1");
  EXPECT_EQ(refusal(load_library(built_for_current, AbiVersion{major, minor})), "");
  EXPECT_EQ(refusal(load_library(built_for_current, AbiVersion{major, uint16_t(minor - 1)})),
            "needs ABI 1." + std::to_string(minor) + ", newer than host ABI 1." +
                std::to_string(minor - 1));
  // What it declares is what the host reads: the descriptor.
  const auto lib = std::get<std::shared_ptr<rampart::plugin_host::PluginLibrary>>(
      load_library(requires_1_2, AbiVersion{}));
  EXPECT_EQ(lib->descriptor().abi_minor, 2);
}

// --- reload ---------------------------------------------------------------

class Reload : public PluginHost {
 protected:
  void SetUp() override {
    pm.discover({variant_dir("good_engine"), variant_dir("dup_a")});
    pm.start(cfg("plugins:\n  good_engine: {value: A}\n  dup: {value: A}\n"));
    ASSERT_EQ(pm.running(), 2u);
  }
  PluginManager pm{core.services};
};

// An unchanged plugin is reloaded too (it may re-read files its settings
// name) but only the changed one is reported as a change.
TEST_F(Reload, ChangedSubtreeIsReportedUnchangedIsRefreshed) {
  const auto r = pm.reload(cfg("plugins:\n  good_engine: {value: B}\n  dup: {value: A}\n"));
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.changes, std::vector<std::string>{"good_engine: reloaded"});
  EXPECT_EQ(log.count("[good_engine] lifecycle: reload value=B"), 1u) << log.dump();
  EXPECT_EQ(log.count("[dup] lifecycle: reload value=A"), 1u) << log.dump();
}

TEST_F(Reload, ValidationFailureRefusesEverything) {
  const auto r =
      pm.reload(cfg("plugins:\n  good_engine: {value: B}\n  dup: {value: B, reject: true}\n"));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("plugins.dup: validate failed"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("reject: true is refused"), std::string::npos) << r.reason;
  EXPECT_EQ(log.count("lifecycle: reload"), 0u) << "nothing applied before validation passed";
}

TEST_F(Reload, UnknownKeyInPluginSubtreeIsRefusedWithLine) {
  const auto r =
      pm.reload(cfg("plugins:\n  good_engine: {value: B, typo: 1}\n  dup: {value: A}\n"));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("test.yaml:2:27: unknown key 'plugins.good_engine.typo'"),
            std::string::npos)
      << r.reason;
}

TEST_F(Reload, ApplyFailureRollsBackPluginsAlreadyReloaded) {
  // Plugins reload in id order: dup takes B, then good_engine fails, so dup
  // must be put back on A.
  const auto r =
      pm.reload(cfg("plugins:\n  good_engine: {value: B, fail_reload: true}\n  dup: {value: B}\n"));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("plugins.good_engine: reload failed"), std::string::npos) << r.reason;
  const long b = log.index_of("[dup] lifecycle: reload value=B");
  ASSERT_GE(b, 0) << log.dump();
  EXPECT_GE(log.index_of("[dup] lifecycle: reload value=A", b), 0) << log.dump();
  // The old config is still the current one: only dup's change is seen next.
  const auto ok = pm.reload(cfg("plugins:\n  good_engine: {value: A}\n  dup: {value: C}\n"));
  ASSERT_TRUE(ok.ok) << ok.reason;
  EXPECT_EQ(ok.changes, std::vector<std::string>{"dup: reloaded"});
}

TEST_F(Reload, EnableAndDisableThroughReload) {
  auto r =
      pm.reload(cfg("plugins:\n  good_engine: {value: A, enabled: false}\n  dup: {value: A}\n"));
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.changes, std::vector<std::string>{"good_engine: stopped"});
  EXPECT_EQ(find(pm.status(), "good_engine")->state, PluginState::disabled);
  r = pm.reload(cfg("plugins:\n  good_engine: {value: Z}\n  dup: {value: A}\n"));
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.changes, std::vector<std::string>{"good_engine: started"});
  EXPECT_EQ(log.count("[good_engine] lifecycle: create value=Z"), 1u);
}

// --- callbacks: timers, events, alerts ------------------------------------

// Replacing a Timer frees its closure. A 1 ms timer whose callback runs
// ~2 ms is replaced by reload() from the test's thread while the loop runs
// it, and every 8th tick replaces itself from inside the callback; the
// closure must be alive for the whole of every run (the host waits for a
// running callback before a cancel from another thread returns; the SDK
// keeps a callback's own closure until it returns). ASan reports the
// use-after-free directly; any build sees the sentinel the closure's
// destructor clears.
TEST_F(PluginHost, ATimerReplacedWhileItsCallbackRunsNeverRunsOnAFreedClosure) {
  PluginManager pm(core.services);
  pm.discover({variant_dir("good_engine")});
  pm.start(cfg("plugins:\n  good_engine: {timer_race: true, value: A}\n"));
  ASSERT_EQ(pm.running(), 1u) << log.dump();
  ASSERT_TRUE(log.wait_for("race: replaced itself")) << log.dump();
  for (int i = 0; i < 20000 && log.count("race: replaced while running") < 20; ++i) {
    const auto r =
        pm.reload(cfg(std::string("plugins:\n  good_engine: {timer_race: true, value: ") +
                      (i % 2 ? "A" : "B") + "}\n"));
    ASSERT_TRUE(r.ok) << r.reason;
  }
  EXPECT_GE(log.count("race: replaced while running"), 20u) << "the race was not reached";
  EXPECT_EQ(log.count("destroyed closure"), 0u) << log.dump();
}

TEST_F(PluginHost, TimersFireAndNothingRunsAfterStop) {
  {
    PluginManager pm(core.services);
    pm.discover({variant_dir("good_engine")});
    pm.start(cfg("plugins:\n  good_engine: {tick_ms: 10}\n"));
    ASSERT_TRUE(log.wait_for("lifecycle: tick", 3)) << log.dump();
  }
  core.rt.shutdown();  // runs every queued handler, cancelled ones included
  const long destroy = log.index_of("lifecycle: destroy");
  ASSERT_GE(destroy, 0);
  EXPECT_EQ(log.index_of("lifecycle: tick", destroy), -1) << log.dump();
}

// The value of rampart_plugin_callback_errors_total for one plugin and
// callback in `core`'s registry (-1: no such series).
double callback_errors(Core& core, const std::string& plugin, const std::string& callback) {
  return rampart::test::metric_value(core.metrics.render(),
                                     "rampart_plugin_callback_errors_total{callback=\"" + callback +
                                         "\",plugin=\"" + plugin + "\"}");
}

// Polls until the metric reaches `n` (or 10 s passed); its last value.
double wait_callback_errors(Core& core, const std::string& plugin, const std::string& callback,
                            double n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  double v = callback_errors(core, plugin, callback);
  while (v < n && std::chrono::steady_clock::now() < deadline) {
    usleep(5000);
    v = callback_errors(core, plugin, callback);
  }
  return v;
}

// Every failed tick is counted; one line says so, not one per tick (the
// SDK's own "timer callback failed" line per tick is gone on a 1.5 host).
TEST_F(PluginHost, ThrowingTimerIsCountedAndLoggedOncePerInterval) {
  core.services.fault_log_interval = std::chrono::hours(1);
  PluginManager pm(core.services);
  pm.discover({variant_dir("good_engine")});
  pm.start(cfg("plugins:\n  good_engine: {tick_ms: 5, throw_on_tick: true}\n"));
  EXPECT_GE(wait_callback_errors(core, "good_engine", "timer", 20), 20) << log.dump();
  EXPECT_EQ(log.count("plugin callback failed plugin=good_engine callback=timer "
                      "error=\"tick exploded on purpose\""),
            1u)
      << log.dump();
  EXPECT_EQ(log.count("timer callback failed"), 0u) << log.dump();
  EXPECT_EQ(pm.running(), 1u) << "it keeps ticking";
}

TEST_F(PluginHost, EventsReachSubscribersAndErrorsAreCounted) {
  PluginManager pm(core.services);
  pm.discover({variant_dir("good_engine")});
  pm.start(cfg("plugins:\n  good_engine: {throw_on_event: true}\n"));
  EXPECT_EQ(callback_errors(core, "good_engine", "on_event"), 0) << "the series exists at 0";
  const std::string payload = "hello";
  core.events.publish(RAMPART_SOURCE_XDP_FIREWALL, 7,
                      std::span(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
  core.events.publish(RAMPART_SOURCE_TC_DNS, 7, {});  // nobody subscribed
  ASSERT_TRUE(log.wait_for("lifecycle: event bytes=hello")) << log.dump();
  EXPECT_EQ(core.events.unrouted(), 1u);
  auto inst = pm.instance("good_engine");
  for (int i = 0; i < 500 && inst->callback_errors() == 0; ++i) usleep(10000);
  EXPECT_EQ(inst->callback_errors(), 1u);
  EXPECT_EQ(callback_errors(core, "good_engine", "on_event"), 1);
  EXPECT_TRUE(
      log.wait_for("plugin callback failed plugin=good_engine callback=on_event "
                   "error=\"event handler exploded on purpose\""))
      << log.dump();
  EXPECT_EQ(pm.running(), 1u);
}

// An engine throwing on every event under a flood: each failure counted,
// one log line for the lot (the rest are said at stop, as a count).
TEST_F(PluginHost, AFloodOfFailingEventsIsCountedButNotLoggedPerEvent) {
  core.services.fault_log_interval = std::chrono::hours(1);
  {
    PluginManager pm(core.services);
    pm.discover({variant_dir("good_engine")});
    pm.start(cfg("plugins:\n  good_engine: {throw_on_event: true}\n"));
    for (int i = 0; i < 300; ++i) core.events.publish(RAMPART_SOURCE_XDP_FIREWALL, 7, {});
    EXPECT_EQ(wait_callback_errors(core, "good_engine", "on_event", 300), 300) << log.dump();
    EXPECT_EQ(log.count("plugin callback failed plugin=good_engine callback=on_event"), 1u)
        << log.dump();
  }
  EXPECT_EQ(log.count("plugin callback failures not logged plugin=good_engine "
                      "callback=on_event suppressed=299"),
            1u)
      << log.dump();
}

// The rate limit on a clock the test drives: the first failure at once,
// then one line per interval saying how many were not logged.
TEST(CallbackErrors, LogsTheFirstAtOnceThenOneLinePerIntervalWithTheCount) {
  LogCapture log;
  rampart::runtime::Metrics metrics;
  auto now = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  rampart::plugin_host::CallbackErrors errors("engine", metrics,
                                              {Callback::on_event, Callback::timer},
                                              std::chrono::seconds(10), [&] { return now; });
  errors.record(Callback::on_event, "bad packet");
  EXPECT_EQ(log.count("plugin callback failed plugin=engine callback=on_event "
                      "error=\"bad packet\""),
            1u)
      << log.dump();
  for (int i = 0; i < 99; ++i) errors.record(Callback::on_event, "bad packet");
  now += std::chrono::seconds(9);
  errors.record(Callback::on_event, "bad packet");
  EXPECT_EQ(log.count("plugin callback failed"), 1u) << "within the interval: " << log.dump();
  errors.record(Callback::timer, "tick failed");
  EXPECT_EQ(log.count("callback=timer error=\"tick failed\""), 1u) << "per callback";
  now += std::chrono::seconds(1);
  errors.record(Callback::on_event, "worse packet");
  EXPECT_EQ(log.count("callback=on_event error=\"worse packet\" suppressed=100"), 1u) << log.dump();
  errors.record(Callback::on_event, "bad packet");
  errors.flush();
  EXPECT_EQ(log.count("plugin callback failures not logged plugin=engine callback=on_event "
                      "suppressed=1"),
            1u)
      << log.dump();
  EXPECT_EQ(errors.total(), 104u);
  EXPECT_EQ(rampart::test::metric_value(
                metrics.render(),
                "rampart_plugin_callback_errors_total{callback=\"on_event\",plugin=\"engine\"}"),
            103);
}

// A plugin's null write kills rampartd by SIGSEGV, as before, but first
// says which plugin and callback it came from.
TEST(PluginCrash, ANullWriteInOnEventIsNamedThenKillsBySigsegv) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        rampart::plugin_host::install_fatal_signal_report();
        Core core;
        PluginManager pm(core.services);
        pm.discover({variant_dir("fault_engine")});
        pm.start(cfg("plugins:\n  fault_engine: {crash_on_event: true}\n"));
        core.events.publish(RAMPART_SOURCE_XDP_FIREWALL, 7, {});
        for (;;) pause();  // until the worker running on_event takes the process down
      },
      ::testing::KilledBySignal(SIGSEGV),
      "fatal signal in plugin code signal=SIGSEGV plugin=fault_engine callback=on_event "
      "address=0x0");
}

TEST_F(PluginHost, AlertsReachTheLogSenderAsJsonLines) {
  TempDir dir;
  const auto alerts = dir / "alerts.json";
  PluginManager pm(core.services);
  pm.discover({variant_dir("good_engine"), rampart::test::path::plugins()});
  pm.start(cfg("plugins:\n  good_engine: {tick_ms: 10, alert_on_tick: true}\n  log: {path: " +
               alerts + "}\n"));
  ASSERT_EQ(pm.running(), 2u) << log.dump();
  std::string text;
  for (int i = 0; i < 500 && text.find('\n') == std::string::npos; ++i) {
    usleep(10000);
    text = rampart::test::read_file(alerts);
  }
  EXPECT_NE(text.find("\"component\":\"good_engine\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"severity\":\"high\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"rule_id\":\"test-rule\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"message\":\"tick alert\""), std::string::npos) << text;
}

// ABI 1.3 from a plugin: names and reputation it publishes enrich the
// alerts (its own, here) that the core streams, with its MITRE technique.
TEST_F(PluginHost, PublishedNamesAndReputationEnrichStreamedAlerts) {
  struct Probe : rampart::alerts::AlertStream {
    std::mutex mu;
    std::vector<rampart::alerts::AlertRecord> seen;
    void stream(const rampart::alerts::AlertRecord& a) override {
      std::lock_guard lock(mu);
      seen.push_back(a);
    }
  };
  auto probe = std::make_shared<Probe>();
  core.alerts.add_stream(probe);
  PluginManager pm(core.services);
  pm.discover({variant_dir("good_engine")});
  pm.start(
      cfg("plugins:\n  good_engine: {tick_ms: 10, alert_on_tick: true, publish_names: true}\n"));
  ASSERT_EQ(pm.running(), 1u) << log.dump();
  ASSERT_TRUE(log.wait_for("lifecycle: tick", 2)) << log.dump();
  core.alerts.remove_stream(probe.get());
  std::lock_guard lock(probe->mu);
  ASSERT_FALSE(probe->seen.empty());
  const auto& a = probe->seen.front();
  EXPECT_EQ(a.component, "good_engine");
  EXPECT_EQ(a.technique_id, "T1595");
  EXPECT_EQ(a.tactic, "Reconnaissance");
  EXPECT_EQ(a.src_info.name, "scanner.example") << "names are kept in lower case";
  EXPECT_EQ(a.src_info.reputation, 12);
  EXPECT_TRUE(a.dst_info.name.empty());
}

// Size-based rotation: path -> path.1 -> path.2, the oldest dropped; every
// file holds whole JSON lines and stays within max_bytes.
TEST_F(PluginHost, LogSenderRotatesBySizeKeepingWholeLines) {
  TempDir dir;
  const auto alerts = dir / "alerts.json";
  PluginManager pm(core.services);
  pm.discover({variant_dir("good_engine"), rampart::test::path::plugins()});
  pm.start(cfg("plugins:\n  good_engine: {tick_ms: 1, alert_on_tick: true}\n  log: {path: " +
               alerts + ", max_bytes: 4096, keep: 2, fsync: every}\n"));
  ASSERT_EQ(pm.running(), 2u) << log.dump();
  for (int i = 0; i < 1000 && !std::filesystem::exists(alerts + ".2"); ++i) usleep(10000);
  ASSERT_TRUE(std::filesystem::exists(alerts + ".2")) << "rotated twice within 10 s";
  pm.stop_all();
  EXPECT_FALSE(std::filesystem::exists(alerts + ".3")) << "keep: 2";
  for (const auto& f : {alerts, alerts + ".1", alerts + ".2"}) {
    const std::string text = rampart::test::read_file(f);
    EXPECT_LE(text.size(), 4096u) << f;
    std::istringstream in(text);
    std::string line;
    size_t lines = 0;
    while (std::getline(in, line)) {
      ++lines;
      EXPECT_EQ(line.front(), '{') << f;
      EXPECT_EQ(line.back(), '}') << f;
    }
    if (f != alerts) {
      EXPECT_GT(lines, 5u) << f;
    }
  }
}

TEST_F(PluginHost, LogSenderRefusesBadRotationAndFormatSettings) {
  for (const auto& [setting, error] :
       {std::pair{"fsync: sometimes", "plugins.log.fsync: expected none or every, got 'sometimes'"},
        std::pair{"format: json", "plugins.log.format: expected rampart or eve, got 'json'"}}) {
    PluginManager pm(core.services);
    pm.discover({rampart::test::path::plugins()});
    pm.start(
        cfg(std::string("plugins:\n  log: {path: /tmp/rampart-never.json, ") + setting + "}\n"));
    const auto st = find(pm.status(), "log");
    ASSERT_TRUE(st);
    EXPECT_EQ(st->state, PluginState::failed);
    EXPECT_NE(st->error.find(error), std::string::npos) << st->error;
  }
}

TEST_F(PluginHost, LogSenderWithBadPathFailsClearly) {
  PluginManager pm(core.services);
  pm.discover({rampart::test::path::plugins()});
  pm.start(cfg("plugins:\n  log: {path: relative/alerts.json}\n"));
  const auto st = find(pm.status(), "log");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->state, PluginState::failed);
  EXPECT_NE(st->error.find("plugins.log.path must be an absolute path"), std::string::npos)
      << st->error;
}

// --- ABI negotiation ------------------------------------------------------

TEST_F(PluginHost, OlderPluginLoadsOnAGrownHostTable) {
  // A future host (minor + 1) hands a longer table; a plugin built against
  // the smaller v1.0 table must load, run and stop on it.
  rampart::plugin_host::HostIdentity newer{{RAMPART_ABI_MAJOR, RAMPART_ABI_MINOR + 1}, 256};
  PluginManager pm(core.services, newer);
  pm.discover({variant_dir("good_engine")});
  EXPECT_TRUE(pm.refusals().empty());
  pm.start(cfg("plugins:\n  good_engine: {tick_ms: 10}\n"));
  EXPECT_EQ(pm.running(), 1u);
  EXPECT_TRUE(log.wait_for("lifecycle: tick", 2));
}

TEST_F(PluginHost, PluginBuiltAgainstTheFrozenV1_0HeaderRunsOnThisHost) {
  PluginManager pm(core.services);
  pm.discover({variant_dir("abi_v1_0")});
  EXPECT_TRUE(pm.refusals().empty()) << log.dump();
  pm.start(cfg("plugins:\n  abi_v1_0: {}\n"));
  EXPECT_EQ(pm.running(), 1u) << log.dump();
  const std::string expect = "v1.0 plugin: host ABI 1." + std::to_string(RAMPART_ABI_MINOR) +
                             ", host table " + std::to_string(sizeof(rampart_host_api)) +
                             " bytes, this plugin knows 176";
  EXPECT_EQ(log.count(expect), 1u) << log.dump();
  EXPECT_EQ(log.count("v1.0 plugin: started"), 1u);
}

TEST_F(PluginHost, PluginAskingForMinorPlusOneLoadsOnlyOnAHostThatHasIt) {
  rampart::plugin_host::HostIdentity newer{{RAMPART_ABI_MAJOR, RAMPART_ABI_MINOR + 1}, 256};
  PluginManager pm(core.services, newer);
  pm.discover({variant_dir("newer_minor"), variant_dir("other_major")});
  ASSERT_EQ(pm.refusals().size(), 1u);
  EXPECT_NE(pm.refusals()[0].reason.find("major differs"), std::string::npos);
  EXPECT_EQ(pm.status().size(), 1u);
}

}  // namespace

// SPDX-License-Identifier: Apache-2.0
// The header-only C++ layer, in process: which function-table slots a class
// fills, and how exceptions become statuses and last_error text.
#include <gtest/gtest.h>

#include <rampart/sdk/plugin.hpp>

namespace {

using rampart::sdk::Config;
using rampart::sdk::Host;

struct Minimal {
  Minimal(Host&, const Config&) {}
};

struct Full {
  Full(Host&, const Config&) {}
  void start() {}
  void stop() {}
  void validate(const Config&) {}
  void reload(const Config&) {}
  void on_event(const rampart::sdk::Event&) {}
  void send_alert(const rampart::sdk::Alert&) {}
};

TEST(SdkThunks, MinimalClassLeavesOptionalSlotsEmpty) {
  const rampart_plugin_api api = rampart::sdk::detail::Thunks<Minimal>::table();
  EXPECT_EQ(api.struct_size, sizeof(rampart_plugin_api));
  EXPECT_NE(api.create, nullptr);
  EXPECT_NE(api.destroy, nullptr);
  EXPECT_NE(api.last_error, nullptr);
  EXPECT_EQ(api.start, nullptr);
  EXPECT_EQ(api.stop, nullptr);
  EXPECT_EQ(api.validate, nullptr);
  EXPECT_EQ(api.reload, nullptr);
  EXPECT_EQ(api.on_event, nullptr);
  EXPECT_EQ(api.send_alert, nullptr);
}

TEST(SdkThunks, FullClassFillsEverySlot) {
  const rampart_plugin_api api = rampart::sdk::detail::Thunks<Full>::table();
  EXPECT_NE(api.start, nullptr);
  EXPECT_NE(api.stop, nullptr);
  EXPECT_NE(api.validate, nullptr);
  EXPECT_NE(api.reload, nullptr);
  EXPECT_NE(api.on_event, nullptr);
  EXPECT_NE(api.send_alert, nullptr);
}

TEST(SdkGuard, SdkErrorKeepsItsStatusAndText) {
  const auto st = rampart::sdk::detail::guard(
      [] { throw rampart::sdk::Error(RAMPART_ERR_NOT_FOUND, "no such thing"); });
  EXPECT_EQ(st, RAMPART_ERR_NOT_FOUND);
  EXPECT_STREQ(rampart::sdk::detail::last_error(), "no such thing");
}

TEST(SdkGuard, StdExceptionBecomesInternal) {
  const auto st = rampart::sdk::detail::guard([] { throw std::out_of_range("index 7"); });
  EXPECT_EQ(st, RAMPART_ERR_INTERNAL);
  EXPECT_STREQ(rampart::sdk::detail::last_error(), "index 7");
}

TEST(SdkGuard, AnythingElseBecomesInternalWithText) {
  const auto st = rampart::sdk::detail::guard([] { throw 42; });
  EXPECT_EQ(st, RAMPART_ERR_INTERNAL);
  EXPECT_STREQ(rampart::sdk::detail::last_error(), "unknown exception");
}

TEST(SdkGuard, SuccessClearsTheLastError) {
  (void)rampart::sdk::detail::guard([] { throw std::runtime_error("x"); });
  EXPECT_EQ(rampart::sdk::detail::guard([] {}), RAMPART_OK);
  EXPECT_STREQ(rampart::sdk::detail::last_error(), "");
}

TEST(SdkEntry, DescriptorCarriesTheBuildAbiAndIdentity) {
  const auto* d = rampart::sdk::detail::entry<Full>(RAMPART_KIND_SENDER, "full", "Full", "1.2.3",
                                                    "MIT", "desc");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->struct_size, sizeof(rampart_plugin_descriptor));
  EXPECT_EQ(d->abi_major, RAMPART_ABI_MAJOR);
  EXPECT_EQ(d->abi_minor, RAMPART_ABI_MINOR);
  EXPECT_EQ(d->kind, RAMPART_KIND_SENDER);
  EXPECT_STREQ(d->id, "full");
  EXPECT_STREQ(d->version, "1.2.3");
  EXPECT_NE(d->api->send_alert, nullptr);
}

struct WithSecrets {
  WithSecrets(Host&, const Config&) {}
  static constexpr const char* kSecretSettings[] = {"password", "hooks.*.url#url", nullptr};
};
struct NoSecrets {
  NoSecrets(Host&, const Config&) {}
  static constexpr const char* kSecretSettings[] = {nullptr};
};

// ABI 1.4: kSecretSettings, when the class has it, is the descriptor's list.
TEST(SdkEntry, DescriptorCarriesTheDeclaredSecretSettings) {
  const auto* d =
      rampart::sdk::detail::entry<WithSecrets>(RAMPART_KIND_SENDER, "with", "W", "1", "MIT", "");
  ASSERT_NE(d->secret_settings, nullptr);
  EXPECT_STREQ(d->secret_settings[0], "password");
  EXPECT_STREQ(d->secret_settings[1], "hooks.*.url#url");
  EXPECT_EQ(d->secret_settings[2], nullptr);
  const auto* none =
      rampart::sdk::detail::entry<NoSecrets>(RAMPART_KIND_ENGINE, "none", "N", "1", "MIT", "");
  ASSERT_NE(none->secret_settings, nullptr);
  EXPECT_EQ(none->secret_settings[0], nullptr);
  EXPECT_EQ(
      rampart::sdk::detail::entry<Full>(RAMPART_KIND_SENDER, "full", "Full", "1.2.3", "MIT", "desc")
          ->secret_settings,
      nullptr)
      << "a class without kSecretSettings declares nothing (the host then redacts it all)";
}

// ABI 1.11: an export from an entry other than 0 is refused on an older
// host, which reads no `first` and would export entries from 0; from 0 it
// goes through as before, and a host of 1.11 gets `first`.
const rampart_counter_export* g_exported = nullptr;
uint32_t g_first = 0;
rampart_status record_export(rampart_host_ctx*, const rampart_counter_export* d) {
  g_exported = d;
  g_first = d->first;
  return RAMPART_OK;
}
const char* no_error() { return ""; }

// A host table of ABI 1.`minor` whose counters_export is `fn`.
rampart_host_api counters_host(uint16_t minor,
                               rampart_status (*fn)(rampart_host_ctx*,
                                                    const rampart_counter_export*)) {
  rampart_host_api api{};
  api.struct_size = sizeof api;
  api.abi_major = 1;
  api.abi_minor = minor;
  api.last_error = &no_error;
  api.counters_export = fn;
  return api;
}

TEST(SdkHost, ACounterExportFromAnEntryNeedsAHostThatReadsIt) {
  rampart_host_api api = counters_host(10, &record_export);
  const Host host(&api);
  auto exp = [&](uint32_t first) {
    g_exported = nullptr;
    host.export_counters("m", "rampart_x_total", "X", {}, "slot", {"a"}, "x", first);
  };
  try {
    exp(3);
    ADD_FAILURE() << "a 1.10 host was handed an export it would read from entry 0";
  } catch (const rampart::sdk::Error& e) {
    EXPECT_EQ(e.status(), RAMPART_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(e.what()).find("host ABI 1.10"), std::string::npos) << e.what();
  }
  EXPECT_EQ(g_exported, nullptr);
  exp(0);
  EXPECT_NE(g_exported, nullptr) << "from entry 0 any host will do";
  api.abi_minor = 11;
  exp(3);
  EXPECT_EQ(g_first, 3u);
}

// Counter families: each family one export spanning its entries (the
// others named "" in it), every entry in no family an export of its own
// without a per-entry label, all under the program's status key.
struct Exported {
  std::string metric, label, status;
  std::vector<std::string> names;
  uint32_t first;
  std::vector<std::pair<std::string, std::string>> labels;
};
std::vector<Exported> g_exports;
rampart_status record_all(rampart_host_ctx*, const rampart_counter_export* d) {
  Exported e{d->metric, d->label, d->status, {}, d->first, {}};
  for (uint32_t i = 0; i < d->count; ++i) e.names.emplace_back(d->names[i]);
  for (size_t i = 0; i < d->label_count; ++i)
    e.labels.emplace_back(d->labels[i].name, d->labels[i].value);
  g_exports.push_back(std::move(e));
  return RAMPART_OK;
}

TEST(SdkHost, CounterFamiliesSplitOneMapIntoFamiliesThatSum) {
  rampart_host_api api = counters_host(12, &record_all);
  const Host host(&api);
  g_exports.clear();
  host.export_counter_families("stats", "xdp_x",
                               {"seen", "passed", "logged", "dropped", "ring_full"},
                               {{"rampart_kernel_packets_total", "P", "outcome", {1, 3}},
                                {"rampart_kernel_events_lost_total", "E", "reason", {4}}});
  ASSERT_EQ(g_exports.size(), 4u);
  const std::vector<std::pair<std::string, std::string>> program = {{"program", "xdp_x"}};
  EXPECT_EQ(g_exports[0].metric, "rampart_kernel_packets_total");
  EXPECT_EQ(g_exports[0].label, "outcome");
  EXPECT_EQ(g_exports[0].first, 1u);
  EXPECT_EQ(g_exports[0].names, (std::vector<std::string>{"passed", "", "dropped"}))
      << "logged, between them, belongs to no family of theirs";
  EXPECT_EQ(g_exports[0].labels, program);
  EXPECT_EQ(g_exports[1].metric, "rampart_kernel_events_lost_total");
  EXPECT_EQ(g_exports[1].first, 4u);
  EXPECT_EQ(g_exports[2].metric, "rampart_kernel_xdp_x_seen_total");
  EXPECT_EQ(g_exports[2].label, "");
  EXPECT_EQ(g_exports[2].first, 0u);
  EXPECT_EQ(g_exports[2].names, (std::vector<std::string>{"seen"}));
  EXPECT_EQ(g_exports[3].metric, "rampart_kernel_xdp_x_logged_total");
  EXPECT_EQ(g_exports[3].first, 2u);
  for (const auto& e : g_exports) {
    EXPECT_EQ(e.status, "xdp_x");
    EXPECT_EQ(e.labels, program);
  }
  api.abi_minor = 11;
  EXPECT_THROW(host.export_counter_families("stats", "xdp_x", {"a"}, {}), rampart::sdk::Error)
      << "an older host does not skip unnamed entries";
}

}  // namespace

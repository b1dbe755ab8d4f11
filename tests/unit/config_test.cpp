// SPDX-License-Identifier: Apache-2.0
// Config parsing and validation: every error names file:line, and the
// plugin view's typed getters report the full key path.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "plugin_host/config_view.hpp"
#include "rampart/sdk/plugin.hpp"
#include "temp_dir.hpp"

namespace {

using rampart::config::ConfigError;
using rampart::config::load_string;

// The message of the ConfigError thrown for `yaml`, or "" if it loads.
std::string error_of(const std::string& yaml) {
  try {
    load_string(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, EmbeddedDefaultLoadsAndEnablesTheLogSender) {
  const auto cfg = rampart::config::load_embedded_default();
  EXPECT_EQ(cfg.source, "<embedded>");
  EXPECT_TRUE(cfg.plugin("log").enabled);
  EXPECT_EQ(cfg.agent.xdp_mode, "auto");
  EXPECT_FALSE(cfg.plugin("nonexistent").enabled);
}

TEST(Config, AgentSettingsAreParsed) {
  const auto cfg = load_string(
      "agent:\n  log_level: debug\n  log_format: json\n  workers: 3\n"
      "  plugin_dirs: [/a, /b]\n  interfaces: [eth0, veth1]\n  xdp_mode: native\n",
      "t.yaml");
  EXPECT_EQ(cfg.agent.log_level, rampart::log::Level::debug);
  EXPECT_EQ(cfg.agent.log_format, rampart::log::Format::json);
  EXPECT_EQ(cfg.agent.workers, 3u);
  EXPECT_EQ(cfg.agent.plugin_dirs, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(cfg.agent.interfaces, (std::vector<std::string>{"eth0", "veth1"}));
  EXPECT_EQ(cfg.agent.xdp_mode, "native");
}

TEST(Config, AuditRetentionHasDefaultsAndBadValuesNameTheLine) {
  const auto defaults = load_string("agent: {}\n", "t.yaml");
  EXPECT_EQ(defaults.audit.max_age_s, 365 * 86400.0);
  EXPECT_EQ(defaults.audit.max_count, 100000u);
  EXPECT_EQ(rampart::config::load_embedded_default().audit, defaults.audit)
      << "config/rampart.yaml shows the defaults";
  const auto cfg = load_string("audit: {max_age_days: 7.5, max_count: 0}\n", "t.yaml");
  EXPECT_EQ(cfg.audit.max_age_s, 7.5 * 86400);
  EXPECT_EQ(cfg.audit.max_count, 0u);
  struct Case {
    const char* yaml;
    const char* where;
    const char* what;
  } cases[] = {
      {"audit:\n  max_count: -1\n", "test.yaml:2:14", "audit.max_count: expected an integer"},
      {"audit:\n  max_count: 2.5\n", "test.yaml:2:14", "audit.max_count: expected an integer"},
      {"audit:\n  max_count: 10000000001\n", "test.yaml:2:14", "audit.max_count"},
      {"audit:\n  max_age_days: soon\n", "test.yaml:2:17", "audit.max_age_days: expected a number"},
      {"audit:\n  max_age_days: 36501\n", "test.yaml:2:17", "audit.max_age_days"},
      {"audit:\n  keep: 5\n", "test.yaml:2:3", "unknown key 'audit.keep'"},
      {"audit: [1]\n", "test.yaml:1:8", "audit: expected a map"},
  };
  for (const auto& c : cases) {
    const auto err = error_of(c.yaml);
    EXPECT_NE(err.find(c.where), std::string::npos) << c.yaml << " -> " << err;
    EXPECT_NE(err.find(c.what), std::string::npos) << c.yaml << " -> " << err;
  }
}

TEST(Config, UnknownTopLevelKeyNamesFileAndLine) {
  const auto err = error_of("agent:\n  workers: 2\nagnet:\n  x: 1\n");
  EXPECT_NE(err.find("test.yaml:3:1"), std::string::npos) << err;
  EXPECT_NE(err.find("unknown key 'agnet'"), std::string::npos) << err;
}

TEST(Config, UnknownAgentKeyNamesFileLineAndTheFullKey) {
  const auto err = error_of("agent:\n  workers: 2\n  log_levle: info\n");
  EXPECT_NE(err.find("test.yaml:3:3"), std::string::npos) << err;
  EXPECT_NE(err.find("agent.log_levle"), std::string::npos) << err;
}

TEST(Config, BadValuesNameFileLineAndTheKey) {
  struct Case {
    const char* yaml;
    const char* where;
    const char* what;
  } cases[] = {
      {"agent:\n  log_level: loud\n", "test.yaml:2:14", "agent.log_level"},
      {"agent:\n  log_format: xml\n", "test.yaml:2:15", "agent.log_format"},
      {"agent:\n  workers: 0\n", "test.yaml:2:12", "agent.workers"},
      {"agent:\n  workers: many\n", "test.yaml:2:12", "agent.workers"},
      {"agent:\n  xdp_mode: turbo\n", "test.yaml:2:13", "agent.xdp_mode"},
      {"agent:\n  interfaces: [\"bad name\"]\n", "test.yaml:2:16", "agent.interfaces"},
      {"agent:\n  plugin_dirs: /one\n", "test.yaml:2:16", "agent.plugin_dirs"},
      {"agent: [1, 2]\n", "test.yaml:1:8", "agent: expected a map"},
      {"plugins:\n  Bad-Id: {}\n", "test.yaml:2:3", "plugin id"},
      {"plugins:\n  log: 5\n", "test.yaml:2:8", "plugins.log: expected a map"},
      {"plugins:\n  log:\n    enabled: sometimes\n", "test.yaml:3:14", "plugins.log.enabled"},
      {"plugins: [log]\n", "test.yaml:1:10", "plugins: expected a map"},
  };
  for (const auto& c : cases) {
    const auto err = error_of(c.yaml);
    EXPECT_NE(err.find(c.where), std::string::npos) << c.yaml << " -> " << err;
    EXPECT_NE(err.find(c.what), std::string::npos) << c.yaml << " -> " << err;
  }
}

TEST(Config, SyntaxErrorNamesFileAndLine) {
  const auto err = error_of("agent:\n  workers: 2\n  bad: [unclosed\n");
  EXPECT_NE(err.find("test.yaml:"), std::string::npos) << err;
  EXPECT_FALSE(err.empty());
}

TEST(Config, MissingFileIsAClearError) {
  try {
    rampart::config::load_file("/nonexistent/rampart.yaml");
    FAIL() << "loaded a missing file";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/rampart.yaml: cannot open"),
              std::string::npos);
  }
}

TEST(Config, FileErrorsNameThatFile) {
  rampart::test::TempDir dir;
  const auto path = dir / "r.yaml";
  rampart::test::write_file(path, "agent:\n  workers: 1\n  nope: 1\n");
  try {
    rampart::config::load_file(path);
    FAIL() << "accepted an unknown key";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":3:3"), std::string::npos) << e.what();
  }
}

TEST(Config, PluginEnabledDefaultsAndExplicitFalse) {
  const auto cfg = load_string("plugins:\n  a:\n  b: {enabled: false, x: 1}\n  c: {x: 2}\n", "t");
  EXPECT_TRUE(cfg.plugin("a").enabled);
  EXPECT_FALSE(cfg.plugin("b").enabled);
  EXPECT_TRUE(cfg.plugin("c").enabled);
  EXPECT_EQ(cfg.plugin("b").line, 3);
  EXPECT_NE(cfg.plugin("b").canonical, cfg.plugin("c").canonical);
}

class ConfigView : public ::testing::Test {
 protected:
  ConfigView()
      : cfg_(load_string("plugins:\n"
                         "  eng:\n"
                         "    interval_ms: 250\n"
                         "    ratio: 0.5\n"
                         "    name: alpha\n"
                         "    on: yes\n"
                         "    list: [a, b, c]\n"
                         "    nested: {deep: {port: 8080}}\n"
                         "    word: hello\n",
                         "v.yaml")),
        view_(rampart::plugin_host::make_config_view(cfg_, "eng")) {}
  std::string last() { return rampart::plugin_host::host_last_error(); }

  rampart::config::Config cfg_;
  rampart_config view_;
};

TEST_F(ConfigView, TypedGettersReadValues) {
  using namespace rampart::plugin_host;
  int64_t i = 0;
  ASSERT_EQ(config_get_int(&view_, "interval_ms", &i), RAMPART_OK);
  EXPECT_EQ(i, 250);
  double d = 0;
  ASSERT_EQ(config_get_double(&view_, "ratio", &d), RAMPART_OK);
  EXPECT_DOUBLE_EQ(d, 0.5);
  rampart_str s{};
  ASSERT_EQ(config_get_string(&view_, "name", &s), RAMPART_OK);
  EXPECT_EQ(std::string(s.ptr, s.len), "alpha");
  int b = 0;
  ASSERT_EQ(config_get_bool(&view_, "on", &b), RAMPART_OK);
  EXPECT_EQ(b, 1);
  ASSERT_EQ(config_get_int(&view_, "nested.deep.port", &i), RAMPART_OK);
  EXPECT_EQ(i, 8080);
  ASSERT_EQ(config_get_string(&view_, "list.2", &s), RAMPART_OK);
  EXPECT_EQ(std::string(s.ptr, s.len), "c");
  size_t n = 0;
  ASSERT_EQ(config_size(&view_, "list", &n), RAMPART_OK);
  EXPECT_EQ(n, 3u);
  ASSERT_EQ(config_key_at(&view_, "nested", 0, &s), RAMPART_OK);
  EXPECT_EQ(std::string(s.ptr, s.len), "deep");
  EXPECT_EQ(config_type(&view_, "list"), RAMPART_CONFIG_SEQUENCE);
  EXPECT_EQ(config_type(&view_, "nested"), RAMPART_CONFIG_MAP);
  EXPECT_EQ(config_type(&view_, "list.9"), RAMPART_CONFIG_MISSING);
  EXPECT_EQ(config_type(&view_, "name.x"), RAMPART_CONFIG_MISSING);
}

TEST_F(ConfigView, WrongTypeNamesFileLineAndFullPath) {
  using namespace rampart::plugin_host;
  int64_t i = 0;
  EXPECT_EQ(config_get_int(&view_, "word", &i), RAMPART_ERR_TYPE);
  EXPECT_NE(last().find("v.yaml:9:11"), std::string::npos) << last();
  EXPECT_NE(last().find("plugins.eng.word: expected an integer, got 'hello'"), std::string::npos)
      << last();
  EXPECT_EQ(config_get_int(&view_, "list", &i), RAMPART_ERR_TYPE);
  EXPECT_NE(last().find("got a list"), std::string::npos) << last();
}

TEST_F(ConfigView, MissingKeyIsNotFoundWithThePath) {
  using namespace rampart::plugin_host;
  rampart_str s{};
  EXPECT_EQ(config_get_string(&view_, "absent", &s), RAMPART_ERR_NOT_FOUND);
  EXPECT_NE(last().find("plugins.eng.absent"), std::string::npos) << last();
}

TEST_F(ConfigView, CheckKeysRejectsUnknownKeysByLine) {
  using namespace rampart::plugin_host;
  const char* allowed[] = {"interval_ms", "ratio", "name", "on", "list", "nested"};
  EXPECT_EQ(config_check_keys(&view_, "", allowed, 6), RAMPART_ERR_INVALID_ARGUMENT);
  EXPECT_NE(last().find("v.yaml:9:5: unknown key 'plugins.eng.word'"), std::string::npos) << last();
  const char* all[] = {"interval_ms", "ratio", "name", "on", "list", "nested", "word"};
  EXPECT_EQ(config_check_keys(&view_, "", all, 7), RAMPART_OK);
}

TEST_F(ConfigView, EnabledIsAlwaysAllowedAtTheRoot) {
  const auto cfg = load_string("plugins:\n  p: {enabled: true, a: 1}\n", "e.yaml");
  const auto view = rampart::plugin_host::make_config_view(cfg, "p");
  const char* allowed[] = {"a"};
  EXPECT_EQ(rampart::plugin_host::config_check_keys(&view, "", allowed, 1), RAMPART_OK);
}

TEST_F(ConfigView, ViewOfAnUnconfiguredPluginIsAnEmptyMap) {
  const auto view = rampart::plugin_host::make_config_view(cfg_, "other");
  EXPECT_EQ(rampart::plugin_host::config_type(&view, ""), RAMPART_CONFIG_MAP);
  EXPECT_EQ(rampart::plugin_host::config_type(&view, "x"), RAMPART_CONFIG_MISSING);
}

}  // namespace

namespace {

// The SDK's typed getter over the host's view: signed settings such as a
// priority of -1 come through, and values outside the target type are
// refused with the path.
TEST(SdkConfig, SignedAndRangeCheckedIntegers) {
  using namespace rampart::plugin_host;
  const auto cfg = load_string("plugins:\n  p: {neg: -1, big: 70000, low: -129}\n", "s.yaml");
  const auto view = make_config_view(cfg, "p");
  rampart_host_api api{};
  api.struct_size = sizeof api;
  api.last_error = &host_last_error;
  api.config_type = &config_type;
  api.config_get_int = &config_get_int;
  const rampart::sdk::Config c(&api, &view);
  EXPECT_EQ(c.get<int32_t>("neg", 0), -1);
  EXPECT_EQ(c.get<int32_t>("big", 0), 70000);
  EXPECT_THROW(c.get<uint16_t>("big", 0), rampart::sdk::Error);
  EXPECT_THROW(c.get<uint32_t>("neg", 0), rampart::sdk::Error);
  EXPECT_THROW(c.get<int8_t>("low", 0), rampart::sdk::Error);
  EXPECT_EQ(c.get<int8_t>("neg", 0), -1);
}

}  // namespace

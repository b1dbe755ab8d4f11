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
      "  plugin_dirs: [/a, /b]\n  interfaces: [eth0, veth1]\n  xdp_mode: native\n"
      "  stop_timeout_seconds: 12\n",
      "t.yaml");
  EXPECT_EQ(cfg.agent.stop_timeout_seconds, 12u);
  EXPECT_EQ(load_string("agent: {}\n", "t.yaml").agent.stop_timeout_seconds, 5u);
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
      {"agent:\n  stop_timeout_seconds: 0\n", "test.yaml:2:25", "agent.stop_timeout_seconds"},
      {"agent:\n  stop_timeout_seconds: 61\n", "test.yaml:2:25", "agent.stop_timeout_seconds"},
      {"agent:\n  fail_closed: maybe\n", "test.yaml:2:16",
       "agent.fail_closed: expected true or false"},
      {"agent:\n  table_swaps: [yes]\n", "test.yaml:2:16",
       "agent.table_swaps: expected true or false"},
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

// yaml-cpp keeps both pairs of a key given twice and lookups return the
// first: `{action: allow, action: deny}` used to install allow, silently.
TEST(Config, DuplicateKeysAreErrorsNamingBothLines) {
  struct Case {
    const char* what;
    const char* yaml;
    const char* error;
  } cases[] = {
      {"firewall rule, flow map",
       "plugins:\n  firewall:\n    rules:\n      - {id: 1, action: allow, action: deny}\n",
       "test.yaml:4:32: duplicate key 'action' (first at line 4, column 17)"},
      {"firewall rule, block map",
       "plugins:\n  firewall:\n    rules:\n      - id: 1\n        action: allow\n"
       "        action: deny\n",
       "test.yaml:6:9: duplicate key 'action' (first at line 5)"},
      {"top level", "agent:\n  workers: 1\nplugins: {}\nagent:\n  workers: 2\n",
       "test.yaml:4:1: duplicate key 'agent' (first at line 1)"},
      {"agent", "agent:\n  log_level: info\n  workers: 1\n  log_level: debug\n",
       "test.yaml:4:3: duplicate key 'log_level' (first at line 2)"},
      {"alerts, in a list", "alerts:\n  routes:\n    - senders: [log]\n      senders: [x]\n",
       "test.yaml:4:7: duplicate key 'senders' (first at line 3)"},
      {"plugin id", "plugins:\n  log: {}\n  log: {enabled: false}\n",
       "test.yaml:3:3: duplicate key 'log' (first at line 2)"},
      {"deep in a plugin",
       "plugins:\n  x:\n    a: {b: {c: 1}}\n    d:\n      - e:\n          f: 1\n"
       "          'f': 2\n",
       "test.yaml:7:11: duplicate key 'f' (first at line 6)"},
      {"inside a map used as a key", "plugins:\n  x: {? {k: 1, k: 2} : v}\n",
       "test.yaml:2:16: duplicate key 'k' (first at line 2, column 10)"},
      {"null keys", "plugins:\n  x:\n    ~: 1\n    null: 2\n",
       "test.yaml:4:5: duplicate null key (first at line 3)"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(error_of(c.yaml), c.error) << c.what;
  }
}

// Aliases are not expanded by the check: a self-referencing anchor and a
// billion-laughs chain load (or fail) at once instead of recursing forever.
TEST(Config, AliasesAreCheckedOnceWithoutExpansion) {
  EXPECT_EQ(error_of("plugins:\n  x: &a {k: *a}\n"), "");
  // A plugin's settings that are the plugins map itself (fuzz_config found
  // a use-after-free here: looking up `enabled` inserted into the map being
  // iterated).
  EXPECT_EQ(error_of("plugins:\n  &self {k: *self, f: {}}\n"), "");
  EXPECT_EQ(error_of("plugins:\n  &self {k: *self, enabled: 1}\n"),
            "test.yaml:2:29: plugins.k.enabled: expected true or false");
  std::string laughs = "plugins:\n  x:\n    l0: &l0 {a: 1, b: 2}\n";
  for (int i = 1; i < 40; ++i) {
    const auto n = std::to_string(i), p = std::to_string(i - 1);
    laughs += "    l" + n + ": &l" + n + " [*l" + p + ", *l" + p + "]\n";
  }
  EXPECT_EQ(error_of(laughs), "");
  EXPECT_EQ(error_of("plugins:\n  x: {&k key: 1, *k : 2}\n"),
            "test.yaml:2:18: duplicate key 'key' (first at line 2, column 7)");
}

// The same key in different maps, and keys that only look alike, are fine.
TEST(Config, SameKeyInDifferentMapsIsNotADuplicate) {
  EXPECT_EQ(error_of("plugins:\n  firewall:\n    rules:\n      - {id: 1, action: allow}\n"
                     "      - {id: 2, action: deny}\n  log: {enabled: true}\n"),
            "");
  EXPECT_EQ(error_of("plugins:\n  x: {a: {a: 1}, A: 2, b: [{a: 3}, {a: 4}], null: 5, 'null': 6}\n"),
            "");
}

// YAML's "\0" escape puts a NUL in a string, and every consumer of a
// setting that hands it on as a C string (inet_pton, open, access, mkdir)
// stops there: "/var/lib/rampart\0/x" was /var/lib/rampart. No setting has
// a use for a NUL, so the loader refuses it anywhere, naming the setting.
TEST(Config, NulInAnyValueOrKeyIsAnErrorNamingTheSetting) {
  struct Case {
    const char* what;
    const char* yaml;
    const char* error;
  } cases[] = {
      {"firewall address",
       "plugins:\n  firewall:\n    rules:\n"
       "      - {id: 1, action: deny, src_ip: \"198.18.20.2\\0junk\"}\n",
       "test.yaml:4:39: plugins.firewall.rules.0.src_ip: contains a NUL byte (offset 11)"},
      {"second rule, block map",
       "plugins:\n  firewall:\n    rules:\n      - {id: 1, action: deny}\n"
       "      - id: 2\n        action: deny\n        dst_ip: \"\\x00\"\n",
       "test.yaml:7:17: plugins.firewall.rules.1.dst_ip: contains a NUL byte (offset 0)"},
      {"agent path", "agent:\n  state_dir: \"/var/lib/rampart\\0/x\"\n",
       "test.yaml:2:14: agent.state_dir: contains a NUL byte (offset 16)"},
      {"list item", "agent:\n  plugin_dirs: [/a, \"/b\\0\"]\n",
       "test.yaml:2:21: agent.plugin_dirs.1: contains a NUL byte (offset 2)"},
      {"alerts path", "alerts:\n  geoip: {country: \"/x.mmdb\\0.txt\"}\n",
       "test.yaml:2:20: alerts.geoip.country: contains a NUL byte (offset 7)"},
      {"sender path", "plugins:\n  log:\n    path: \"/tmp/a.json\\0\"\n",
       "test.yaml:3:11: plugins.log.path: contains a NUL byte (offset 11)"},
      {"listen", "plugins:\n  rest: {listen: \"127.0.0.1:8080\\0\"}\n",
       "test.yaml:2:18: plugins.rest.listen: contains a NUL byte (offset 14)"},
      {"a key", "plugins:\n  x:\n    \"a\\0b\": 1\n",
       "test.yaml:3:5: plugins.x: a key contains a NUL byte (offset 1)"},
      {"a top-level key", "\"\\0\": 1\n", "test.yaml:1:1: a key contains a NUL byte (offset 0)"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(error_of(c.yaml), c.error) << c.what;
  }
  // Other control characters have uses (tabs, multi-line text): the
  // plugins decide for their own settings.
  EXPECT_EQ(error_of("plugins:\n  x: {text: \"a\\tb\\nc\"}\n"), "");
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

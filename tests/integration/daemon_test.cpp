// SPDX-License-Identifier: Apache-2.0
// The real rampartd binary: config checking, start/stop, signals, JSON
// logs, misbehaving plugins, and the SDK example built out of tree.
#include <gtest/gtest.h>

#include <Poco/JSON/Parser.h>

#include <pwd.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <memory>

#include "daemon_process.hpp"
#include "hook_server.hpp"
#include "http_client.hpp"
#include "metrics_check.hpp"
#include "privilege.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace {

using rampart::test::DaemonProcess;
using rampart::test::run_command;
using rampart::test::TempDir;
using rampart::test::variant_dir;
using rampart::test::write_file;

TEST(CheckConfig, GoodFileExitsZero) {
  TempDir dir;
  write_file(dir / "r.yaml", "agent:\n  workers: 1\nplugins:\n  log: {path: /tmp/x.json}\n");
  const auto r =
      run_command({rampart::test::path::rampartd(), "--check-config", "--config", dir / "r.yaml"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("configuration OK: " + (dir / "r.yaml")), std::string::npos) << r.output;
}

TEST(CheckConfig, EmbeddedDefaultIsValid) {
  const auto r = run_command({rampart::test::path::rampartd(), "--check-config"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("configuration OK: <embedded>"), std::string::npos) << r.output;
}

TEST(CheckConfig, ShippedConfigIsValid) {
  const auto r = run_command({rampart::test::path::rampartd(), "--check-config", "--config",
                              rampart::test::path::source() + "/config/rampart.yaml"});
  EXPECT_EQ(r.status, 0) << r.output;
}

// The ddos engine's settings: each bad one refused with its key and why.
// Each of `cases` ({setting, error}) as plugin `plugin`'s settings:
// --check-config exits 1 and prints the error.
template <size_t N>
void expect_refused(const TempDir& dir, const std::string& plugin,
                    const std::pair<std::string, std::string> (&cases)[N]) {
  for (const auto& [setting, error] : cases) {
    write_file(dir / "r.yaml", "plugins:\n  " + plugin + ": {" + setting + "}\n");
    const auto r = run_command({rampart::test::path::rampartd(), "--check-config", "--config",
                                dir / "r.yaml", "--plugin-dir", rampart::test::path::plugins()});
    EXPECT_EQ(r.status, 1) << setting << "\n" << r.output;
    EXPECT_NE(r.output.find(error), std::string::npos) << setting << "\n" << r.output;
  }
}

TEST(CheckConfig, BadDdosSettingsAreRefusedWithTheirKey) {
  TempDir dir;
  const std::string db = rampart::test::geoip_data("dbip-country-mmdb/dbip-country.mmdb");
  const std::pair<std::string, std::string> cases[] = {
      {"syn_cookies: maybe", "plugins.ddos.syn_cookies: expected off, auto or always"},
      {"syn_rate: 0", "plugins.ddos.syn_rate: must be 1-10000000"},
      {"attack_hold_s: 0", "plugins.ddos.attack_hold_s: must be 1-86400"},
      {"icmp_max_payload: 70000", "plugins.ddos.icmp_max_payload: must be 0-65507"},
      {"udp_amplification: {ports: [0]}", "plugins.ddos.udp_amplification.ports.0: must be a port"},
      {"udp_amplification: {port_rates: {dns: 5}}",
       "plugins.ddos.udp_amplification.port_rates.dns: the key must be a port"},
      {"udp_amplification: {rate: 5, ports: [" +
           [] {
             std::string p;
             for (int i = 1000; i < 1065; ++i) p += (p.empty() ? "" : ",") + std::to_string(i);
             return p;
           }() +
           "]}",
       "plugins.ddos.udp_amplification: at most 64 limited ports (65 given)"},
      {"udp_amplification: {burst: 5}", "unknown key 'plugins.ddos.udp_amplification.burst'"},
      {"auto_block: {thresholds: [{id: 1, country: NL, rate: 5}]}",
       "plugins.ddos.auto_block.country_db"},
      {"auto_block: {country_db: " + dir / "none.mmdb" + "}",
       "plugins.ddos.auto_block.country_db: " + dir / "none.mmdb" + ": "},
      {"auto_block: {country_db: " + db + ", thresholds: [{id: 1, country: nl, rate: 5}]}",
       "plugins.ddos.auto_block.thresholds.0.country: 'nl' is not a country code"},
      {"auto_block: {country_db: " + db + ", thresholds: [{id: 1, country: NL, rate: 0}]}",
       "plugins.ddos.auto_block.thresholds.0.rate: must be 1-10000000"},
      {"auto_block: {country_db: " + db + ", thresholds: [{country: NL, rate: 5}]}",
       "plugins.ddos.auto_block.thresholds.0.id"},
      {"auto_block: {country_db: " + db +
           ", thresholds: [{id: 1, country: NL, rate: 5}, {id: 2, country: NL, rate: 9}]}",
       "plugins.ddos.auto_block.thresholds: country: NL is in threshold 1 and in threshold 2"},
      {"auto_block: {country_db: " + db +
           ", thresholds: [{id: 1, country: NL, rate: 5, burst: 1}]}",
       "unknown key 'plugins.ddos.auto_block.thresholds.0.burst'"},
      {"auto_block: {country_db: " + db + ", for_s: 0}",
       "plugins.ddos.auto_block.for_s: must be 1-2592000"},
      {"auto_block: {country_db: " + db + ", never: [10.0.0.1/8]}",
       "plugins.ddos.auto_block.never.0: "},
      {"auto_block: {country_db: " + db + ", block: all}",
       "unknown key 'plugins.ddos.auto_block.block'"},
  };
  expect_refused(dir, "ddos", cases);
}

TEST(CheckConfig, BadIdsSettingsAreRefusedWithTheirKey) {
  TempDir dir;
  const std::string db = rampart::test::geoip_data("dbip-country-mmdb/dbip-country.mmdb");
  const std::pair<std::string, std::string> cases[] = {
      {"mode: watch", "plugins.ids.mode: must be detect or prevent"},
      {"rule_files: [" + dir / "none.rules" + "]", "plugins.ids.rule_files.0: cannot be read"},
      {"variables: {HOME_NET: \"[10.0.0.0/8\\n]\"}", "plugins.ids.variables.HOME_NET: character"},
      {"variables: {HOME_NET: \"\"}", "plugins.ids.variables.HOME_NET: must be 1-4096 characters"},
      {"sampling: {rate: 101}", "plugins.ids.sampling.rate: must be 0-100 (percent)"},
      {"sampling: {tiers: [{countries: [NL], rate: 50}]}",
       "plugins.ids.sampling.country_db: required with tiers"},
      {"sampling: {country_db: " + db + ", tiers: [{countries: [nl], rate: 50}]}",
       "plugins.ids.sampling.tiers.0.countries: 'nl' is not a country code"},
      {"sampling: {country_db: " + db +
           ", tiers: [{countries: [NL], rate: 50}, {countries: [NL], rate: 5}]}",
       "plugins.ids.sampling.tiers.1.countries: NL is in two tiers"},
      {"sampling: {country_db: " + db + ", tiers: [{countries: [], rate: 50}]}",
       "plugins.ids.sampling.tiers.0.countries: at least one country"},
      {"sampling: {rate: 5, burst: 1}", "unknown key 'plugins.ids.sampling.burst'"},
      {"capture: 1501", "plugins.ids.capture: must be 0-1500 bytes"},
      {"ring_mb: 3", "plugins.ids.ring_mb: must be a power of two"},
      {"ring_mb: 512", "plugins.ids.ring_mb: must be 1-256 MiB"},
      {"backpressure: {shed_at: 90, followed_only_at: 80}",
       "plugins.ids.backpressure.shed_at: must be at most followed_only_at"},
      {"backpressure: {shed_shift: 0}", "plugins.ids.backpressure.shed_shift: must be 1-16"},
      {"flows: {max: 10}", "plugins.ids.flows.max: must be 1024-4194304 flows"},
      {"flows: {idle_timeout_s: 0}", "plugins.ids.flows.idle_timeout_s: must be 1-86400 seconds"},
      {"flows: {encrypted_tls: decrypt}",
       "plugins.ids.flows.encrypted_tls: must be skip or inspect"},
      {"excerpt: 5000", "plugins.ids.excerpt: must be 0-1024 bytes"},
      {"alerts: on", "unknown key 'plugins.ids.alerts'"},
      {"country_thresholds: [{countries: [NL], hits: 5}]",
       "plugins.ids.country_thresholds: needs sampling.country_db"},
      {"sampling: {country_db: " + db + "}, country_thresholds: [{countries: [NL], hits: 0}]",
       "plugins.ids.country_thresholds.0.hits: must be 1-1000000 matches"},
      {"sampling: {country_db: " + db +
           "}, country_thresholds: [{countries: [NL], hits: 2}, {countries: [NL], hits: 3}]",
       "plugins.ids.country_thresholds.1.countries: NL has two thresholds"},
      {"sampling: {country_db: " + dir / "none.mmdb" + "}, country_thresholds: [{countries: [NL]}]",
       "plugins.ids.sampling.country_db: "},
  };
  expect_refused(dir, "ids", cases);
}

TEST(CheckConfig, BadIpsSettingsAreRefusedWithTheirKey) {
  TempDir dir;
  const std::pair<std::string, std::string> cases[] = {
      {"triggers: []", "plugins.ips.triggers: at least one alert rule id"},
      {"triggers: [\"ids:*:x\"]", "plugins.ips.triggers.0: an alert rule id"},
      {"triggers: [\"ips:*\"]", "plugins.ips.triggers.0: the IPS's own alerts cannot be offences"},
      {"actions: [drop]", "plugins.ips.actions.0: must be block or alert"},
      {"hits: 0", "plugins.ips.hits: must be 1-1000000 offences"},
      {"block_for: 0", "plugins.ips.block_for: must be 1-2592000 seconds"},
      {"escalate: {ipv4_prefix: 32}", "plugins.ips.escalate.ipv4_prefix: must be 8-31"},
      {"escalate: {ipv6_prefix: 8}", "plugins.ips.escalate.ipv6_prefix: must be 16-127"},
      {"escalate: {hosts: 3, after: 2}", "unknown key 'plugins.ips.escalate.after'"},
      {"allow: [10.0.0.1/8]", "plugins.ips.allow.0: "},
      {"management: [not-an-address]", "plugins.ips.management.0: "},
      {"max_sources: 1", "plugins.ips.max_sources: must be 16-16777216 sources"},
      {"block: all", "unknown key 'plugins.ips.block'"},
  };
  expect_refused(dir, "ips", cases);
}

TEST(CheckConfig, BadFileExitsOneWithFileAndLine) {
  TempDir dir;
  write_file(dir / "r.yaml", "agent:\n  workers: 1\n  wrokers: 2\n");
  const auto r =
      run_command({rampart::test::path::rampartd(), "--check-config", "--config", dir / "r.yaml"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(dir / "r.yaml" + ":3:3: unknown key 'agent.wrokers'"), std::string::npos)
      << r.output;
}

// A key given twice used to load with the first value; --check-config uses
// the same loader, so it refuses the file too.
TEST(CheckConfig, DuplicateKeyExitsOneNamingBothLines) {
  TempDir dir;
  write_file(dir / "dup.yaml",
             "plugins:\n  firewall:\n    rules:\n      - id: 1\n        action: allow\n"
             "        action: deny\n");
  const auto r = run_command(
      {rampart::test::path::rampartd(), "--check-config", "--config", dir / "dup.yaml"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(dir / "dup.yaml" + ":6:9: duplicate key 'action' (first at line 5)"),
            std::string::npos)
      << r.output;
}

// Each enabled plugin checks its own settings: firewall rules, the files a
// blocklist names, plugins that are not installed.
TEST(CheckConfig, PluginSettingsAreCheckedToo) {
  TempDir dir;
  write_file(dir / "rules.yaml",
             "plugins:\n  firewall:\n    rules:\n      - {id: 1, action: deny, src_ip: "
             "10.0.0.300/8}\n");
  auto r = run_command(
      {rampart::test::path::rampartd(), "--check-config", "--config", dir / "rules.yaml"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("plugins.firewall: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(dir / "rules.yaml" + ":4:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("plugins.firewall.rules.0.src_ip: '10.0.0.300/8' is not an IPv4"),
            std::string::npos)
      << r.output;

  write_file(dir / "list.yaml",
             "plugins:\n  firewall:\n    blocklist: {files: [" + dir / "absent.txt" + "]}\n");
  r = run_command(
      {rampart::test::path::rampartd(), "--check-config", "--config", dir / "list.yaml"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(dir / "absent.txt" + ": cannot open"), std::string::npos) << r.output;

  write_file(dir / "missing.yaml", "plugins:\n  nosuch: {enabled: true}\n");
  r = run_command(
      {rampart::test::path::rampartd(), "--check-config", "--config", dir / "missing.yaml"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("plugins.nosuch: not installed"), std::string::npos) << r.output;

  write_file(dir / "off.yaml", "plugins:\n  nosuch: {enabled: false}\n");
  r = run_command(
      {rampart::test::path::rampartd(), "--check-config", "--config", dir / "off.yaml"});
  EXPECT_EQ(r.status, 0) << "a disabled plugin need not be installed: " << r.output;
}

// Root checking the config of an agent that runs as its own user (the
// package's: the state directory is that user's) checks as that user: the
// log sender creates the file it checks, and a root-owned one would lock
// the agent out of its own log.
TEST(CheckConfig, AsRootRunsAsTheStateDirectorysOwner) {
  RAMPART_REQUIRE_ROOT();
  TempDir dir;
  const passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  ASSERT_EQ(chmod(dir.path().c_str(), 0711), 0);
  for (const char* sub : {"state", "logs"}) {
    std::filesystem::create_directories(dir / sub);
    ASSERT_EQ(chown((dir / sub).c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  }
  write_file(dir / "r.yaml", "agent:\n  state_dir: " + (dir / "state") +
                                 "\nplugins:\n  log: {path: " + (dir / "logs/alerts.json") + "}\n");
  const auto r = run_command({rampart::test::path::rampartd(), "--check-config", "--config",
                              dir / "r.yaml", "--plugin-dir", rampart::test::path::plugins()});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("running as nobody, the owner of " + (dir / "state")), std::string::npos)
      << r.output;
  struct stat st {};
  ASSERT_EQ(stat((dir / "logs/alerts.json").c_str(), &st), 0) << r.output;
  EXPECT_EQ(st.st_uid, nobody->pw_uid) << "the agent's log file is the agent's";
}

TEST(CheckConfig, MissingFileExitsOne) {
  const auto r = run_command(
      {rampart::test::path::rampartd(), "--check-config", "--config", "/nonexistent.yaml"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("/nonexistent.yaml: cannot open config file"), std::string::npos)
      << r.output;
}

TEST(CommandLine, UnknownOptionIsUsageErrorTwo) {
  const auto r = run_command({rampart::test::path::rampartd(), "--frobnicate"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--help"), std::string::npos);
}

// GNU style: "-c, --config FILE", never Poco's "-cFILE"; every option listed.
TEST(CommandLine, HelpListsEveryOptionTheWayGnuToolsDo) {
  const auto r = run_command({rampart::test::path::rampartd(), "--help"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\n  -c, --config FILE "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\n  -p, --plugin-dir DIR "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\n      --owner USER "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("-cFILE"), std::string::npos) << r.output;
  for (const char* o :
       {"--check-config", "--detach-all", "--prepare-pin-root", "--log-format", "--log-level",
        "--print-default-config", "-V, --version", "-h, --help", "keys reset"})
    EXPECT_NE(r.output.find(o), std::string::npos) << o;
  size_t longest = 0;
  for (size_t at = 0, nl; at < r.output.size(); at = nl + 1) {
    nl = r.output.find('\n', at);
    if (nl == std::string::npos) nl = r.output.size();
    longest = std::max(longest, nl - at);
  }
  EXPECT_LE(longest, 80u) << r.output;
}

TEST(CommandLine, PreparePinRootAndOwnerGoTogether) {
  for (const auto& args :
       {std::vector<std::string>{rampart::test::path::rampartd(), "--prepare-pin-root"},
        std::vector<std::string>{rampart::test::path::rampartd(), "--owner", "nobody"}}) {
    const auto r = run_command(args);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("--prepare-pin-root and --owner USER go together"), std::string::npos)
        << r.output;
  }
}

// The systemd unit's ExecStartPre=+ step, as root, for an agent running as
// its own user: bpffs's root (0700) becomes searchable, not readable; the
// pin root and what an earlier run pinned there become the user's; a link
// planted in the pin root (which that user controls) is not followed.
TEST(PreparePinRoot, HandsThePinRootToTheOwnerWithoutFollowingLinks) {
  RAMPART_REQUIRE_ROOT();
  TempDir dir;
  const passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  const std::string bpffs = dir / "bpffs";
  std::filesystem::create_directories(bpffs);
  ASSERT_EQ(mount("bpf", bpffs.c_str(), "bpf", 0, "mode=0700"), 0) << std::strerror(errno);
  const std::unique_ptr<const char, void (*)(const char*)> unmount(
      bpffs.c_str(), [](const char* p) { umount2(p, MNT_DETACH); });
  const std::string pins = bpffs + "/rampart";
  std::filesystem::create_directories(pins + "/links");
  write_file(dir / "victim", "root's\n");
  std::filesystem::create_symlink(dir / "victim", pins + "/links/planted");
  const auto cfg = dir / "r.yaml";
  write_file(cfg, "agent:\n  interfaces: [lo]\n  bpf_pin_path: " + pins + "\n");

  const auto r = run_command({rampart::test::path::rampartd(), "--prepare-pin-root", "--owner",
                              "nobody", "--config", cfg});
  ASSERT_EQ(r.status, 0) << r.output;
  struct stat st {};
  ASSERT_EQ(stat(bpffs.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0701u)
      << "search for others, never read";  // (and bpffs's sticky bit)
  for (const char* sub : {"", "/links", "/maps", "/progs", "/clsact"}) {
    ASSERT_EQ(lstat((pins + sub).c_str(), &st), 0) << sub;
    EXPECT_EQ(st.st_uid, nobody->pw_uid) << sub;
  }
  ASSERT_EQ(stat(pins.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(lstat((pins + "/links/planted").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->pw_uid) << "the link itself";
  ASSERT_EQ(stat((dir / "victim").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "not what it points to";

  // Nothing configured and nothing pinned: nothing to do (bpffs untouched).
  write_file(cfg, "agent:\n  bpf_pin_path: " + bpffs + "/other\n");
  const auto idle = run_command({rampart::test::path::rampartd(), "--prepare-pin-root", "--owner",
                                 "nobody", "--config", cfg});
  EXPECT_EQ(idle.status, 0) << idle.output;
  EXPECT_NE(idle.output.find("nothing to prepare"), std::string::npos) << idle.output;
  EXPECT_FALSE(std::filesystem::exists(bpffs + "/other"));
}

TEST(CommandLine, VersionNamesTheAbi) {
  const auto r = run_command({rampart::test::path::rampartd(), "--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("plugin ABI 1."), std::string::npos) << r.output;
}

class Daemon : public ::testing::Test {
 protected:
  std::string config(const std::string& plugins) {
    const auto path = dir / "rampart.yaml";
    write_file(path, "agent:\n  workers: 2\n  state_dir: " + (dir / "state") + "\n" + agent +
                         alerts + "plugins:\n" + plugins);
    return path;
  }
  TempDir dir;
  std::string agent;   // more agent: settings, indented, if any
  std::string alerts;  // an alerts: section, if any
};

TEST_F(Daemon, StartsLoadsPluginsAndStopsCleanlyOnSigterm) {
  const auto cfg = config("  log: {path: " + (dir / "alerts.json") + "}\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("[rampartd] ready plugins=log refused=0")) << d.output();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.output();
  EXPECT_TRUE(d.wait_for("[plugin-host] plugin stopped plugin=log"));
  EXPECT_TRUE(d.wait_for("[rampartd] stopped"));
}

TEST_F(Daemon, SigintStopsCleanlyToo) {
  DaemonProcess d({rampart::test::path::rampartd(), "--config",
                   config("  log: {path: " + (dir / "a.json") + "}\n"), "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready")) << d.output();
  d.signal(SIGINT);
  EXPECT_EQ(d.wait_exit(), 0) << d.output();
}

TEST_F(Daemon, JsonLogsAreOneObjectPerLine) {
  DaemonProcess d({rampart::test::path::rampartd(), "--config",
                   config("  log: {path: " + (dir / "a.json") + "}\n"), "--plugin-dir",
                   rampart::test::path::plugins(), "--log-format", "json"});
  ASSERT_TRUE(d.wait_for("\"msg\":\"ready\"")) << d.output();
  d.signal(SIGTERM);
  ASSERT_EQ(d.wait_exit(), 0);
  const auto lines = d.lines();
  ASSERT_GE(lines.size(), 4u);
  for (const auto& line : lines) {
    Poco::JSON::Parser parser;
    Poco::JSON::Object::Ptr obj;
    ASSERT_NO_THROW(obj = parser.parse(line).extract<Poco::JSON::Object::Ptr>()) << line;
    for (const char* key : {"ts", "level", "component", "msg"}) EXPECT_TRUE(obj->has(key)) << line;
  }
}

// libbpf prints its own messages; with JSON logs they must be JSON records
// too (libbpf used to write them raw on stderr). A kernel object libbpf
// cannot read makes it speak; the load fails before anything attaches.
TEST_F(Daemon, LibbpfMessagesAreJsonRecordsToo) {
  RAMPART_REQUIRE_ROOT();
  const std::string bpffs = dir / "bpffs";
  std::filesystem::create_directories(bpffs);
  ASSERT_EQ(mount("bpf", bpffs.c_str(), "bpf", 0, "mode=0700"), 0) << std::strerror(errno);
  const std::unique_ptr<const char, void (*)(const char*)> unmount(
      bpffs.c_str(), [](const char* p) { umount2(p, MNT_DETACH); });
  std::filesystem::create_directories(dir / "bpf");
  write_file(dir / "bpf/rampart_root.bpf.o", "not an ELF object\n");
  const auto cfg = dir / "rampart.yaml";
  write_file(cfg, "agent:\n  log_format: json\n  state_dir: " + (dir / "state") +
                      "\n  interfaces: [lo]\n  bpf_dir: " + (dir / "bpf") + "\n  bpf_pin_path: " +
                      bpffs + "/rampart\nplugins:\n  log: {path: " + (dir / "a.json") + "}\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  // The datapath did not load: running, and saying it is not ready.
  ASSERT_TRUE(d.wait_for("\"msg\":\"not ready\"")) << d.output();
  EXPECT_TRUE(d.wait_for("datapath: kernel programs not loaded")) << d.output();
  d.signal(SIGTERM);
  ASSERT_EQ(d.wait_exit(), 0) << d.output();
  size_t from_libbpf = 0;
  for (const auto& line : d.lines()) {
    Poco::JSON::Object::Ptr obj;
    ASSERT_NO_THROW(obj = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>())
        << line;
    if (obj->getValue<std::string>("component") != "libbpf") continue;
    ++from_libbpf;
    EXPECT_EQ(obj->getValue<std::string>("level"), "warn") << line;
    EXPECT_NE(obj->getValue<std::string>("msg").find("rampart_root.bpf.o"), std::string::npos)
        << line;
  }
  EXPECT_GE(from_libbpf, 1u) << d.output();
  EXPECT_TRUE(d.wait_for("kernel programs not loaded")) << d.output();
}

TEST_F(Daemon, ThrowingAndBrokenPluginsNeverTakeItDown) {
  const auto cfg = config(
      "  good_engine: {tick_ms: 10, throw_on_tick: true, throw_on_event: true}\n"
      "  throw_in_create: {}\n  raw_throw: {}\n  fail_start: {}\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   variant_dir("good_engine"), "--plugin-dir", variant_dir("throw_in_create"),
                   "--plugin-dir", variant_dir("raw_throw"), "--plugin-dir",
                   variant_dir("fail_start"), "--plugin-dir", variant_dir("no_entry"),
                   "--plugin-dir", variant_dir("other_major")});
  ASSERT_TRUE(d.wait_for("ready plugins=good_engine refused=2")) << d.output();
  EXPECT_TRUE(d.wait_for("plugin callback failed plugin=good_engine callback=timer")) << d.output();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.output();
}

TEST_F(Daemon, SighupReloadsChangedPluginsAndRefusesBadConfig) {
  const auto cfg = config("  good_engine: {value: A}\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   variant_dir("good_engine")});
  ASSERT_TRUE(d.wait_for("ready plugins=good_engine")) << d.output();

  config("  good_engine: {value: B}\n");
  d.signal(SIGHUP);
  ASSERT_TRUE(d.wait_for("lifecycle: reload value=B")) << d.output();
  ASSERT_TRUE(d.wait_for("configuration reloaded changes=\"good_engine: reloaded\"")) << d.output();

  write_file(cfg, "agent:\n  workers: 2\n  state_dir: " + (dir / "state") +
                      "\nplugins:\n  good_engine: {value: C}\n  bogus_key: [\n");
  d.signal(SIGHUP);
  ASSERT_TRUE(d.wait_for("config reload refused")) << d.output();
  EXPECT_TRUE(d.wait_for(cfg + ":")) << "the refusal names the file";

  config("  good_engine: {value: D, typo: 1}\n");
  d.signal(SIGHUP);
  ASSERT_TRUE(d.wait_for("config reload refused", 2)) << d.output();
  EXPECT_TRUE(d.wait_for("unknown key 'plugins.good_engine.typo'")) << d.output();

  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.output();
  const auto out = d.output();
  EXPECT_EQ(out.find("value=C"), std::string::npos);
  EXPECT_EQ(out.find("value=D"), std::string::npos);
}

TEST_F(Daemon, DefaultConfigFindsTheBuiltInPluginsBesideTheBinary) {
  // No --plugin-dir and no agent.plugin_dirs: <bin>/../lib/rampart/plugins.
  DaemonProcess d({rampart::test::path::rampartd(), "--config",
                   config("  log: {path: " + (dir / "a.json") + "}\n")});
  ASSERT_TRUE(d.wait_for("ready plugins=log")) << d.output();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0);
}

TEST_F(Daemon, SdkExampleBuiltOutOfTreeLoadsAndRuns) {
  const auto alerts = dir / "alerts.json";
  const auto cfg = config(
      "  hello_engine: {interval_ms: 20, alert_every: 2, greeting: hi}\n"
      "  log: {path: " +
      alerts + "}\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::example_plugins(), "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready plugins=hello_engine,log refused=0")) << d.output();
  ASSERT_TRUE(d.wait_for("[hello_engine] hi: tick 4")) << d.output();
  d.signal(SIGTERM);
  ASSERT_EQ(d.wait_exit(), 0) << d.output();
  const auto text = rampart::test::read_file(alerts);
  EXPECT_NE(text.find("\"component\":\"hello_engine\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"message\":\"hi alert after 2 ticks\""), std::string::npos) << text;
}

}  // namespace

namespace {

// The alerts section is hot reloaded: alerts no route takes are stored as
// "unrouted"; once the route is gone every sender gets them.
TEST_F(Daemon, AlertRoutesAreHotReloaded) {
  const auto log = dir / "alerts.json";
  const std::string plugins =
      "  good_engine: {tick_ms: 20, alert_on_tick: true}\n  log: {path: " + log +
      "}\n  rest: " + rampart::test::rest_settings(dir.path()) +
      "\n  metrics: {listen: \"127.0.0.1:0\"}\n";
  alerts =
      "alerts:\n  dedup: {window_seconds: 0}\n  routes:\n    - {min_severity: critical, "
      "senders: [log]}\n";
  const auto cfg = config(plugins);
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins(), "--plugin-dir", variant_dir("good_engine")});
  ASSERT_TRUE(d.wait_for("refused=0")) << d.output();
  const rampart::test::ApiClient api{rampart::test::listening_port(d.output()),
                                     rampart::test::bootstrap_token(dir / "state")};
  const uint16_t metrics_port = rampart::test::listening_port(d.output(), "metrics");
  std::string body;
  for (int i = 0; i < 500; ++i) {
    body = api.call("GET", "/api/v1/alerts?limit=3").body;
    if (std::count(body.begin(), body.end(), '{') >= 4) break;
    usleep(10000);
  }
  EXPECT_NE(body.find(R"("severity":"high")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("suppressed_by":"unrouted")"), std::string::npos) << body;
  EXPECT_TRUE(rampart::test::read_file(log).empty()) << "high alerts do not reach a critical route";

  alerts = "alerts:\n  dedup: {window_seconds: 0}\n";
  config(plugins);
  const auto r = api.call("POST", "/api/v1/config/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("alerts")"), std::string::npos) << r.body;
  std::string text;
  for (int i = 0; i < 500 && std::count(text.begin(), text.end(), '\n') < 2; ++i) {
    usleep(10000);
    text = rampart::test::read_file(log);
  }
  EXPECT_GE(std::count(text.begin(), text.end(), '\n'), 2) << "no routes: every sender";
  EXPECT_NE(text.find(R"("rule_id":"test-rule")"), std::string::npos) << text;
  // The pipeline in Prometheus: why alerts were kept back, per-sender deliveries.
  const auto m = rampart::test::http(metrics_port, "GET", "/metrics").body;
  EXPECT_GT(rampart::test::metric_value(m, "rampart_alerts_suppressed_total{reason=\"unrouted\"}"),
            0)
      << m;
  EXPECT_GE(rampart::test::metric_value(m, "rampart_alert_deliveries_total{sender=\"log\"}"), 2)
      << m;
  EXPECT_EQ(rampart::test::metric_value(m, "rampart_alert_breaker_open{sender=\"log\"}"), 0) << m;
  EXPECT_GT(rampart::test::metric_value(
                m, "rampart_alerts_total{component=\"good_engine\",severity=\"high\"}"),
            0)
      << m;
}

}  // namespace

namespace {

// The rule audit log keeps at most audit.max_count entries: after every
// rule change, and at once when a reload lowers the limit.
TEST_F(Daemon, AuditRetentionIsKeptAndHotReloaded) {
  const std::string plugins =
      "  firewall: {}\n  rest: " + rampart::test::rest_settings(dir.path()) + "\n";
  alerts = "audit: {max_count: 3}\n";
  const auto cfg = config(plugins);
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready plugins=firewall,rest refused=0")) << d.output();
  const rampart::test::ApiClient api{rampart::test::listening_port(d.output()),
                                     rampart::test::bootstrap_token(dir / "state")};
  auto add = [&](int id) {
    const auto r = api.call("POST", "/api/v1/firewall/rules",
                            "{\"id\":" + std::to_string(id) + ",\"action\":\"deny\"}");
    ASSERT_EQ(r.status, 201) << r.body;
  };
  auto audited = [&] {  // rule ids of the audit entries, newest first
    const auto body = api.call("GET", "/api/v1/audit/logs?limit=1000").body;
    std::vector<int> ids;
    const auto entries =
        Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>()->getArray("entries");
    for (size_t i = 0; i < entries->size(); ++i)
      ids.push_back(entries->getObject(i)->getValue<int>("rule_id"));
    return ids;
  };
  for (int id = 1; id <= 5; ++id) add(id);
  EXPECT_EQ(audited(), (std::vector<int>{5, 4, 3})) << "the newest three";

  alerts = "audit: {max_count: 1, max_age_days: 30}\n";
  config(plugins);
  const auto r = api.call("POST", "/api/v1/config/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("audit")"), std::string::npos) << r.body;
  EXPECT_EQ(audited(), (std::vector<int>{5})) << "pruned by the reload";

  alerts = "audit: {max_count: 0}\n";  // no limit
  config(plugins);
  ASSERT_EQ(api.call("POST", "/api/v1/config/reload").status, 200);
  add(6);
  add(7);
  EXPECT_EQ(audited(), (std::vector<int>{7, 6, 5}));
}

}  // namespace

namespace {

// A GeoIP database that cannot be used is reported; the agent runs and
// alerts go on without it.
TEST_F(Daemon, AnUnusableGeoIpDatabaseIsReportedAndTheAgentRuns) {
  write_file(dir / "broken.mmdb", "not a database");
  alerts = "alerts:\n  geoip: {city: " + (dir / "broken.mmdb") +
           ", country: " + (dir / "missing.mmdb") + "}\n";
  const auto cfg = config("  log: {path: " + (dir / "a.json") + "}\n");
  const auto check =
      rampart::test::run_command({rampart::test::path::rampartd(), "--check-config", "--config",
                                  cfg, "--plugin-dir", rampart::test::path::plugins()});
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find("warning: geoip.city: " + (dir / "broken.mmdb")), std::string::npos)
      << check.output;
  EXPECT_NE(check.output.find("warning: geoip.country: " + (dir / "missing.mmdb")),
            std::string::npos)
      << check.output;
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready plugins=log")) << d.output();
  EXPECT_TRUE(d.wait_for("GeoIP database not used", 2)) << d.output();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.output();
}

}  // namespace

namespace {

// A fresh install never accepts an unauthenticated change: a local user
// other than root gets 401 over TCP and cannot even open the local
// socket; root administers over the socket, and `rampartd keys reset`
// gives a new admin key when every key is lost.
TEST_F(Daemon, OtherLocalUsersGetNothingAndRootRecoversWithKeysReset) {
  RAMPART_REQUIRE_ROOT();
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));  // nobody may look in
  const auto cfg =
      config("  firewall: {}\n  rest: " + rampart::test::rest_settings(dir.path()) + "\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready plugins=firewall,rest refused=0")) << d.output();
  const uint16_t port = rampart::test::listening_port(d.output());
  const std::string old_token = rampart::test::bootstrap_token(dir / "state");
  ASSERT_FALSE(old_token.empty());
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto as_nobody = [&](std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "nobody", "--"});
    return run_command(argv);
  };
  for (const std::string path : {"/api/v1/keys", "/api/v1/firewall/rules"}) {
    const auto r =
        as_nobody({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                   "-d", R"({"name":"evil","role":"admin","action":"allow"})", url + path});
    EXPECT_EQ(r.output.substr(0, 3), "401") << path << " as nobody: " << r.output;
  }
  struct stat st {};
  ASSERT_EQ(stat((dir / "api.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto r = as_nobody({rampart::test::path::rampartctl(), "--server", "unix://" + (dir / "api.sock"),
                      "keys", "add", "evil", "admin"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("ermission denied"), std::string::npos) << r.output;
  // The state is root's: nobody cannot read the admin key.
  r = as_nobody({"/bin/cat", dir / "state/admin.key"});
  EXPECT_NE(r.status, 0) << r.output;

  // Root, over the socket: an admin by uid, named in the audit.
  r = run_command({rampart::test::path::rampartctl(), "--server", "unix://" + (dir / "api.sock"),
                   "rules", "add", "firewall", R"({"id":3,"action":"log"})"});
  ASSERT_EQ(r.status, 0) << r.output;
  const rampart::test::ApiClient old{port, old_token};
  EXPECT_NE(
      old.call("GET", "/api/v1/audit/rules/3/history").body.find(R"("actor":"local:uid=0,pid=)"),
      std::string::npos);

  // Every key lost: root resets them, with rampartd running.
  r = run_command({rampart::test::path::rampartd(), "keys", "reset", "--config", cfg});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(dir / "state/admin.key"), std::string::npos) << r.output;
  EXPECT_EQ(old.call("GET", "/api/v1/keys").status, 401) << "the old admin key is gone";
  const rampart::test::ApiClient fresh{port, rampart::test::bootstrap_token(dir / "state")};
  ASSERT_NE(fresh.token, old_token);
  r = run_command({rampart::test::path::rampartctl(), "--server", url, "--token", fresh.token,
                   "keys", "list", "-o", "json"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(R"("name":"admin","role":"admin")"), std::string::npos) << r.output;
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.output();
}

// The state directory and its files are the agent's alone, even when an
// earlier version left them readable by everyone.
TEST_F(Daemon, StateIsReadableByTheAgentAlone) {
  std::filesystem::create_directories(dir / "state");
  std::filesystem::permissions(dir / "state", std::filesystem::perms(0755));
  write_file(dir / "state/rampart.db", "");
  std::filesystem::permissions(dir / "state/rampart.db", std::filesystem::perms(0644));
  const auto cfg = config("  log: {path: " + (dir / "a.json") + "}\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready plugins=log")) << d.output();
  auto mode = [](const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? st.st_mode & 0777 : 07777u;
  };
  EXPECT_EQ(mode(dir / "state"), 0700u);
  for (const char* f : {"rampart.db", "admin.key", "rampartd.lock", "rampart.db-wal"})
    EXPECT_EQ(mode(dir / "state/" + f), 0600u) << f;
  EXPECT_EQ(mode(dir / "a.json"), 0600u) << "files rampartd creates (umask 077)";
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.output();
}

TEST(CheckConfig, AMissingInterfaceAndAStateDirThatCannotBeWrittenAreErrors) {
  TempDir dir;
  write_file(dir / "r.yaml",
             "agent:\n  interfaces: [rp-no-such-if0]\n  state_dir: /proc/rampart-state\n");
  const auto r =
      run_command({rampart::test::path::rampartd(), "--check-config", "--config", dir / "r.yaml"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("agent.interfaces: no interface named 'rp-no-such-if0'"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("agent.state_dir: cannot create state directory /proc/rampart-state"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists("/proc/rampart-state"));
}

}  // namespace

namespace {

using Clock = std::chrono::steady_clock;
using rampart::test::HookServer;
using rampart::test::SilentServer;

size_t count_lines(DaemonProcess& d, const std::string& needle) {
  size_t n = 0;
  for (const auto& l : d.lines()) n += l.find(needle) != std::string::npos;
  return n;
}

// A timer that throws every 5 ms: each failure is in /metrics, one line
// per 10 s says so (not one per tick).
TEST_F(Daemon, AFailingTimerIsCountedInMetricsAndNotLoggedPerTick) {
  const auto cfg = config(
      "  good_engine: {tick_ms: 5, throw_on_tick: true}\n"
      "  metrics: {listen: \"127.0.0.1:0\"}\n");
  const auto started = Clock::now();
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins(), "--plugin-dir", variant_dir("good_engine")});
  ASSERT_TRUE(d.wait_for("ready plugins=good_engine,metrics")) << d.output();
  const uint16_t port = rampart::test::listening_port(d.output(), "metrics");
  ASSERT_NE(port, 0) << d.output();
  const std::string series =
      "rampart_plugin_callback_errors_total{callback=\"timer\",plugin=\"good_engine\"}";
  double failures = -1;
  for (const auto deadline = Clock::now() + std::chrono::seconds(10);
       failures < 50 && Clock::now() < deadline;) {
    failures =
        rampart::test::metric_value(rampart::test::http(port, "GET", "/metrics").body, series);
  }
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count();
  EXPECT_GE(failures, 50);
  const size_t lines = count_lines(d,
                                   "plugin callback failed plugin=good_engine callback=timer "
                                   "error=\"tick exploded on purpose\"");
  EXPECT_GE(lines, 1u) << d.output();
  EXPECT_LE(lines, 1u + static_cast<size_t>(seconds / 10)) << d.output();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.output();
}

// A plugin's null write (or stack overflow) still kills rampartd by
// SIGSEGV (systemd restarts it), but the last line says which plugin and
// callback did it, in the log's format.
TEST_F(Daemon, APluginCrashIsNamedBeforeRampartdDiesBySigsegv) {
  rlimit cores{};
  getrlimit(RLIMIT_CORE, &cores);
  cores.rlim_cur = 0;  // no core file from the crashes below
  setrlimit(RLIMIT_CORE, &cores);
  const auto cfg = config("  fault_engine: {tick_ms: 20, crash_on_tick: true}\n");
  {
    DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                     variant_dir("fault_engine")});
    EXPECT_EQ(d.wait_exit(std::chrono::seconds(15)), std::nullopt) << d.output();
    EXPECT_EQ(d.killed_by(), SIGSEGV) << d.output();
    EXPECT_TRUE(
        d.wait_for("error [plugin-host] fatal signal in plugin code signal=SIGSEGV "
                   "plugin=fault_engine callback=timer address=0x0"))
        << d.output();
  }
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   variant_dir("fault_engine"), "--log-format", "json"});
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(15)), std::nullopt) << d.output();
  EXPECT_EQ(d.killed_by(), SIGSEGV) << d.output();
  const auto lines = d.lines();
  ASSERT_FALSE(lines.empty());
  Poco::JSON::Object::Ptr last;
  ASSERT_NO_THROW(last =
                      Poco::JSON::Parser().parse(lines.back()).extract<Poco::JSON::Object::Ptr>())
      << lines.back();
  EXPECT_EQ(last->getValue<std::string>("level"), "error");
  EXPECT_EQ(last->getValue<std::string>("msg"), "fatal signal in plugin code");
  EXPECT_EQ(last->getValue<std::string>("signal"), "SIGSEGV");
  EXPECT_EQ(last->getValue<std::string>("plugin"), "fault_engine");
  EXPECT_EQ(last->getValue<std::string>("callback"), "timer");
  EXPECT_EQ(last->getValue<std::string>("ts").size(), 24u) << "2024-05-01T12:00:00.123Z";
  {
    // A stack overflow too: the report runs on an alternate signal stack.
    const auto overflow = config("  fault_engine: {tick_ms: 20, overflow_on_tick: true}\n");
    DaemonProcess o({rampart::test::path::rampartd(), "--config", overflow, "--plugin-dir",
                     variant_dir("fault_engine")});
    EXPECT_EQ(o.wait_exit(std::chrono::seconds(15)), std::nullopt) << o.output();
    EXPECT_EQ(o.killed_by(), SIGSEGV) << o.output();
    EXPECT_TRUE(
        o.wait_for("fatal signal in plugin code signal=SIGSEGV plugin=fault_engine "
                   "callback=timer"))
        << o.output();
  }
}

// SIGTERM while the webhook waits on a receiver that accepted the POST and
// never answers (timeout_ms 120 s): rampartd stops within its bound, and
// the alert it could not deliver arrives once, after the next start.
TEST_F(Daemon, SigtermCutsAHangingWebhookShortAndTheAlertArrivesOnceAfterRestart) {
  std::string sent;  // the alert JSON the hanging receiver was sent
  {
    SilentServer hang;
    // The default dedup window (60 s) lets one of the engine's alerts through.
    const auto cfg =
        config("  good_engine: {tick_ms: 20, alert_on_tick: true}\n  webhook: {url: \"" +
               hang.url() + "/hook\", timeout_ms: 120000}\n");
    DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                     rampart::test::path::plugins(), "--plugin-dir", variant_dir("good_engine")});
    ASSERT_TRUE(d.wait_for("ready plugins=good_engine,webhook")) << d.output();
    ASSERT_TRUE(hang.wait_for("\"tactic\":\"Reconnaissance\"}}")) << hang.received();
    const auto received = hang.received();
    sent = received.substr(received.find("\r\n\r\n") + 4);
    const auto t0 = Clock::now();
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait_exit(std::chrono::seconds(15)), 0) << d.output();
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10)) << d.output();
    EXPECT_TRUE(d.wait_for("plugin=webhook callback=send_alert")) << d.output();
  }
  ASSERT_NE(sent.find("\"alert_id\":\""), std::string::npos) << sent;

  HookServer receiver;
  const auto cfg = config("  webhook: {url: \"" + receiver.url() + "/hook\"}\n");
  {
    DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                     rampart::test::path::plugins()});
    ASSERT_TRUE(d.wait_for("ready plugins=webhook")) << d.output();
    EXPECT_TRUE(d.wait_for("delivering alerts left undelivered sender=webhook alerts=1"))
        << d.output();
    for (const auto deadline = Clock::now() + std::chrono::seconds(10);
         receiver.received().empty() && Clock::now() < deadline;)
      usleep(10000);
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait_exit(std::chrono::seconds(15)), 0) << d.output();
  }
  auto got = receiver.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, sent) << "the same alert, as it was first sent";

  // Delivered means settled: a third start owes nothing.
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins()});
  ASSERT_TRUE(d.wait_for("ready plugins=webhook")) << d.output();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(15)), 0) << d.output();
  EXPECT_EQ(count_lines(d, "left undelivered"), 0u) << d.output();
  EXPECT_EQ(receiver.received().size(), 1u);
}

// A plugin whose stop() never returns in time: after
// agent.stop_timeout_seconds rampartd names it and exits anyway.
TEST_F(Daemon, AStopAPluginHoldsUpEndsAtTheBoundNamingThePlugin) {
  agent = "  stop_timeout_seconds: 2\n";
  const auto cfg = config("  fault_engine: {stall_stop_ms: 60000}\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   variant_dir("fault_engine")});
  ASSERT_TRUE(d.wait_for("ready plugins=fault_engine")) << d.output();
  const auto t0 = Clock::now();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(15)), 1) << d.output();
  const auto took = Clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(1500)) << "it waited for the plugin first";
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_TRUE(
      d.wait_for("stop timed out; exiting without waiting longer waiting_for=plugin "
                 "plugin=fault_engine stop_timeout_seconds=2"))
      << d.output();
}

}  // namespace

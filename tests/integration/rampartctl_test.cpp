// SPDX-License-Identifier: Apache-2.0
// rampartctl against a real rampartd: rule commands, import/export round
// trips (YAML and JSON, all or nothing), keys and tokens, JSON output,
// exit codes 0/1/2 and the connection-refused hint, bash completion.
#include <gtest/gtest.h>

#include <Poco/JSON/Parser.h>

#include <ctime>
#include <regex>
#include <tuple>

#include "daemon_process.hpp"
#include "http_client.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"
#include "util/json.hpp"

namespace {

using rampart::test::DaemonProcess;
using rampart::test::run_command;

class Rampartctl : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto cfg = dir_ / "rampart.yaml";
    rampart::test::write_file(
        cfg, "agent:\n  state_dir: " + (dir_ / "state") + "\nplugins:\n  firewall:" + firewall_ +
                 "\n  rest: " + rampart::test::rest_settings(dir_.path()) + "\n");
    daemon_ = std::make_unique<DaemonProcess>(
        std::vector<std::string>{rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                                 rampart::test::path::plugins()});
    ASSERT_TRUE(daemon_->wait_for("ready plugins=firewall,rest refused=0")) << daemon_->output();
    socket_ = "unix://" + (dir_ / "api.sock");
    tcp_ = "http://127.0.0.1:" + std::to_string(rampart::test::listening_port(daemon_->output()));
  }
  // Over the local socket, as root: rampartctl's default way in.
  rampart::test::RunResult ctl(std::vector<std::string> args) { return ctl_at(socket_, args); }
  // Over TCP, where a key is needed.
  rampart::test::RunResult ctl_at(const std::string& server, std::vector<std::string> args,
                                  const std::string& token = "") {
    std::vector<std::string> argv = {"/usr/bin/env"};
    if (!token.empty()) argv.push_back("RAMPART_TOKEN=" + token);
    argv.insert(argv.end(), {rampart::test::path::rampartctl(), "--server", server});
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }

  rampart::test::TempDir dir_;
  std::string firewall_ = " {}";  // plugins.firewall in the config file
  std::unique_ptr<DaemonProcess> daemon_;
  std::string socket_, tcp_;
};

TEST_F(Rampartctl, RuleCommandsAndTables) {
  auto r = ctl({"rules", "add", "firewall", R"({"id":5,"action":"deny","protocol":"tcp"})"});
  ASSERT_EQ(r.status, 0) << r.output;
  r = ctl({"rules", "add", "firewall", R"({"id":6,"action":"log","protocol":"udp"})"});
  ASSERT_EQ(r.status, 0) << r.output;
  r = ctl({"rules", "list", "firewall"});
  ASSERT_EQ(r.status, 0) << r.output;
  // Effective values: `enabled` from the schema's default; no kernel here,
  // so no rule is installed and none has hits ("-").
  EXPECT_NE(r.output.find("ID  ORIGIN  ENABLED  HITS  ACTION  PROTOCOL\n"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("5   api     true     -     deny    tcp"), std::string::npos) << r.output;
  r = ctl({"rules", "list", "firewall", "protocol=udp", "--output", "json"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto list = Poco::JSON::Parser().parse(r.output).extract<Poco::JSON::Object::Ptr>();
  ASSERT_EQ(list->getArray("rules")->size(), 1u) << r.output;
  r = ctl({"rules", "patch", "firewall", "6", R"({"action":"deny"})"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::regex_search(ctl({"rules", "get", "firewall", "6"}).output,
                                std::regex("(^|\n)action: +deny\n")));
  EXPECT_EQ(ctl({"rules", "delete", "firewall", "6"}).status, 0);

  r = ctl({"rules", "get", "firewall", "6"});
  EXPECT_EQ(r.status, 1) << "a server refusal is exit 1";
  EXPECT_NE(r.output.find("HTTP 404: rule not found"), std::string::npos) << r.output;
  r = ctl({"rules", "add", "firewall", R"({"action":"deny","src_ip":"10.0.0.300"})"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("(field src_ip)"), std::string::npos) << r.output;
  EXPECT_EQ(ctl({"rules", "frob", "firewall"}).status, 2) << "usage errors are exit 2";
  EXPECT_EQ(ctl({"rules", "get", "firewall", "x"}).status, 2);
  EXPECT_EQ(ctl({"--output", "xml", "status"}).status, 2);
  r = ctl({"status"});
  EXPECT_EQ(r.status, 0) << r.output;
  // A table row: the id, then the kind and state in their columns.
  EXPECT_TRUE(std::regex_search(r.output, std::regex("\nfirewall +engine +running "))) << r.output;
}

TEST_F(Rampartctl, ExportImportRoundTripsAndABadFileChangesNothing) {
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(
        ctl({"rules", "add", "firewall",
             "{\"id\":" + std::to_string(i) + ",\"action\":\"deny\",\"dst_port\":\"" +
                 std::to_string(1000 + i) + "\",\"description\":\"r " + std::to_string(i) + "\"}"})
            .status,
        0);
  }
  const auto yaml = dir_ / "rules.yaml", json = dir_ / "rules.json";
  ASSERT_EQ(ctl({"rules", "export", "firewall", yaml}).status, 0);
  ASSERT_EQ(ctl({"rules", "export", "firewall", json}).status, 0);
  const std::string exported = rampart::test::read_file(yaml);
  EXPECT_NE(exported.find("dst_port: \"1002\""), std::string::npos) << exported;
  const auto before = ctl({"rules", "list", "firewall", "--output", "json"}).output;

  ASSERT_EQ(ctl({"rules", "delete", "firewall", "2"}).status, 0);
  auto r = ctl({"rules", "import", "firewall", yaml});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(ctl({"rules", "list", "firewall", "--output", "json"}).output, before)
      << "YAML round trip restores the set";
  r = ctl({"rules", "import", "firewall", json});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(ctl({"rules", "list", "firewall", "--output", "json"}).output, before);

  rampart::test::write_file(dir_ / "bad.yaml",
                            "- {id: 10, action: deny}\n- {id: 11, action: explode}\n");
  r = ctl({"rules", "import", "firewall", dir_ / "bad.yaml"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("(field rules[1].action)"), std::string::npos) << r.output;
  EXPECT_EQ(ctl({"rules", "list", "firewall", "--output", "json"}).output, before)
      << "nothing of a bad file is applied";
  rampart::test::write_file(dir_ / "broken.yaml", "- {id: 10, action: [\n");
  EXPECT_EQ(ctl({"rules", "import", "firewall", dir_ / "broken.yaml"}).status, 2);
}

// The config file declares rules 1 (line 6) and 2; the API adds 5 and 6.
class RampartctlConfigRules : public Rampartctl {
 protected:
  RampartctlConfigRules() {
    firewall_ =
        "\n    rules:\n      - {id: 1, action: log, protocol: udp, dst_port: \"53\"}\n"
        "      - {id: 2, action: deny}";
  }
};

TEST_F(RampartctlConfigRules, ExportImportsBackAndADryRunShowsTheDiff) {
  ASSERT_EQ(ctl({"rules", "add", "firewall",
                 R"({"id":5,"action":"deny","protocol":"tcp","dst_port":"22"})"})
                .status,
            0);
  ASSERT_EQ(ctl({"rules", "add", "firewall", R"({"id":6,"action":"log"})"}).status, 0);
  auto r = ctl({"rules", "list", "firewall"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("\n1 +config +1 +true +- +log "))) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("\n5 +api +true +- +deny "))) << r.output;

  const auto yaml = dir_ / "rules.yaml", json = dir_ / "rules.json";
  ASSERT_EQ(ctl({"rules", "export", "firewall", yaml}).status, 0);
  ASSERT_EQ(ctl({"rules", "export", "firewall", json}).status, 0);
  auto list = [&] { return ctl({"rules", "list", "firewall", "-o", "json"}).output; };
  auto audit = [&] { return ctl({"audit", "--limit", "1000", "-o", "json"}).output; };
  const auto rules_before = list(), audit_before = audit();
  for (const auto& file : {yaml, json}) {
    r = ctl({"rules", "import", "firewall", file});
    EXPECT_EQ(r.status, 0) << file << ": " << r.output;
    EXPECT_EQ(list(), rules_before) << file;
  }
  EXPECT_EQ(audit(), audit_before) << "importing what is there changes nothing";

  // Since the export: 6 deleted, 5 changed. A dry run of the export shows
  // both and does nothing.
  ASSERT_EQ(ctl({"rules", "delete", "firewall", "6"}).status, 0);
  ASSERT_EQ(ctl({"rules", "patch", "firewall", "5", R"({"dst_port":"2222"})"}).status, 0);
  const auto rules_now = list(), audit_now = audit();
  r = ctl({"rules", "import", "--dry-run", "firewall", yaml});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("would add 1, remove 0, change 1; 0 unchanged; 2 owned by the config"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("\nadd +6 *\n"))) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("\nchange +5 +dst_port +2222 +22\n")))
      << r.output;
  r = ctl({"rules", "import", "firewall", json, "--dry-run", "-o", "json"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto diff = Poco::JSON::Parser().parse(r.output).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(rampart::util::to_json(diff->get("added")), "[6]") << r.output;
  EXPECT_EQ(diff->getArray("changed")->getObject(0)->getValue<int>("id"), 5) << r.output;
  EXPECT_EQ(diff->getValue<int>("config_owned"), 2) << r.output;
  EXPECT_EQ(list(), rules_now) << "a dry run applies nothing";
  EXPECT_EQ(audit(), audit_now);

  // The file's rules are changed in the file, not here.
  auto exported = Poco::JSON::Parser().parse(rampart::test::read_file(json));
  exported.extract<Poco::JSON::Object::Ptr>()->getArray("rules")->getObject(0)->set("action",
                                                                                    "deny");
  rampart::test::write_file(dir_ / "edited.json", rampart::util::to_json(exported));
  const auto cfg = dir_ / "rampart.yaml";
  r = ctl({"rules", "import", "firewall", dir_ / "edited.json"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("HTTP 409"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rule 1 "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(cfg + ":6"), std::string::npos) << r.output;
  r = ctl({"rules", "patch", "firewall", "1", R"({"action":"deny"})"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(cfg + ":6"), std::string::npos) << r.output;
  EXPECT_EQ(list(), rules_now);
  EXPECT_EQ(audit(), audit_now);
}

TEST_F(Rampartctl, KeysTokensAndHints) {
  auto r = ctl({"keys", "add", "root", "admin"});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string token = r.output.substr(0, 76);
  ASSERT_EQ(token.rfind("rp_", 0), 0u) << r.output;
  r = ctl_at(tcp_, {"rules", "list", "firewall"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("HTTP 401"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--token or RAMPART_TOKEN"), std::string::npos) << r.output;
  EXPECT_EQ(ctl_at(tcp_, {"rules", "list", "firewall"}, token).status, 0)
      << "token from the environment";
  EXPECT_EQ(ctl_at(tcp_, {"--token", token, "keys", "list"}).status, 0);
  r = ctl_at(tcp_, {"--token", token, "config", "reload"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("reloaded"), std::string::npos) << r.output;
  r = ctl_at(tcp_, {"--token", token, "audit", "--limit", "5"});
  EXPECT_EQ(r.status, 0) << r.output;
  // The local socket's audit entries name the peer as the kernel saw it.
  ASSERT_EQ(ctl({"rules", "add", "firewall", R"({"id":9,"action":"log"})"}).status, 0);
  r = ctl({"audit", "--limit", "1", "--output", "json"});
  EXPECT_NE(r.output.find(R"("actor":"local:uid=0,pid=)"), std::string::npos) << r.output;

  r = run_command({rampart::test::path::rampartctl(), "--server",
                   "unix://" + (dir_ / "absent.sock"), "status"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("Is rampartd running?"), std::string::npos) << r.output;
  r = run_command({rampart::test::path::rampartctl(), "--server", "http://127.0.0.1:1", "status"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("connection refused. Is rampartd running?"), std::string::npos)
      << r.output;
  r = run_command({rampart::test::path::rampartctl(), "completion", "bash"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("complete -F _rampartctl rampartctl"), std::string::npos);
  const auto syntax =
      run_command({"/bin/bash", "-n", rampart::test::path::rampartctl_completion()});
  EXPECT_EQ(syntax.status, 0) << syntax.output;
}

// The short forms the firewall's domain offers (its schema's
// x-rampart-verbs): rules the API stores like any other, a port given as
// a number, an expiry from --for, unblock deleting only what block made,
// and refusals that say what is wrong.
TEST_F(Rampartctl, BlockAllowAndUnblockWriteTheDomainsOwnRules) {
  auto r = ctl({"domains"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("\nfirewall +allow,block +XDP firewall")))
      << r.output;
  const auto now = static_cast<int64_t>(std::time(nullptr));
  r = ctl({"block", "203.0.113.7", "--port", "22", "--for", "4h", "--reason", "ssh brute force"});
  ASSERT_EQ(r.status, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m,
                                std::regex("^blocked 203\\.0\\.113\\.7 port 22 "
                                           "reason \"ssh brute force\" until "
                                           "[0-9-]+ [0-9:]+ [A-Z+0-9-]+: firewall rule "
                                           "([0-9]+)\n$")))
      << r.output;
  const std::string id = m[1];
  r = ctl({"rules", "get", "firewall", id, "-o", "json"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto rule = Poco::JSON::Parser().parse(r.output).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(rule->getValue<std::string>("action"), "deny");
  EXPECT_EQ(rule->getValue<std::string>("src_ip"), "203.0.113.7");
  EXPECT_EQ(rule->getValue<int>("dst_port"), 22) << "a port as a number: " << r.output;
  EXPECT_EQ(rule->getValue<int>("priority"), -1000) << "ahead of the other rules";
  EXPECT_EQ(rule->getValue<std::string>("description"), "ssh brute force");
  EXPECT_GE(rule->getValue<int64_t>("expires_at"), now + 4 * 3600);
  EXPECT_LE(rule->getValue<int64_t>("expires_at"),
            static_cast<int64_t>(std::time(nullptr)) + 4 * 3600);

  ASSERT_EQ(ctl({"allow", "203.0.113.7"}).status, 0);
  ASSERT_EQ(ctl({"block", "198.51.100.0/24"}).status, 0);
  r = ctl({"unblock", "203.0.113.7", "--port", "23"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("no block of 203.0.113.7 in firewall"), std::string::npos) << r.output;
  r = ctl({"unblock", "203.0.113.7"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "unblocked 203.0.113.7: deleted firewall rule " + id + "\n");
  r = ctl({"rules", "list", "firewall", "-o", "json"});
  EXPECT_FALSE(std::regex_search(r.output, std::regex(R"("deny"[^}]*"203\.0\.113\.7")")))
      << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"("allow"[^}]*"203\.0\.113\.7")")))
      << "the allow stays: " << r.output;
  EXPECT_NE(r.output.find("198.51.100.0/24"), std::string::npos) << r.output;

  for (const auto& [args, status, says] :
       std::vector<std::tuple<std::vector<std::string>, int, std::string>>{
           {{"block"}, 2, "which address?"},
           {{"block", "192.0.2.1", "192.0.2.2"}, 2, "one address at a time"},
           {{"block", "192.0.2.1", "--for", "soon"}, 2, "--for takes a duration"},
           {{"block", "192.0.2.1", "--for", "0s"}, 2, "--for takes a duration"},
           {{"block", "192.0.2.1", "--vlan", "3"}, 2, "firewall takes no --vlan"},
           {{"block", "192.0.2.1", "--port"}, 2, "--port needs a value"},
           {{"block", "192.0.2.1", "--domain", "blocklist"}, 1, "offers no 'block'"},
           {{"block", "192.0.2.1", "--port", "http"}, 1, "(field dst_port)"},
           {{"block", "192.0.2.300"}, 1, "(field src_ip)"},
           {{"rules", "add", "firewall", R"({"action":"deny","expires_at":1})"},
            1,
            "expires_at: 1 has passed"},
           {{"unblock", "192.0.2.1", "--reason", "x"}, 2, "--reason is for block and allow"}}) {
    r = ctl(args);
    EXPECT_EQ(r.status, status) << args[0] << " " << args.back() << ": " << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
  }
}

// Ports as numbers or text, in the API, the config file and imports.
TEST_F(Rampartctl, PortsAreNumbersOrText) {
  auto r = ctl({"rules", "add", "firewall", R"({"id":7,"action":"deny","dst_port":8080})"});
  ASSERT_EQ(r.status, 0) << r.output;
  r = ctl({"rules", "add", "firewall", R"({"id":8,"action":"deny","src_port":"1024-2048"})"});
  ASSERT_EQ(r.status, 0) << r.output;
  r = ctl({"rules", "add", "firewall", R"({"id":9,"action":"deny","dst_port":65536})"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("must be at most 65535 (field dst_port)"), std::string::npos) << r.output;
  r = ctl({"rules", "add", "firewall", R"({"id":9,"action":"deny","dst_port":true})"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("expected an integer or a string, got true"), std::string::npos)
      << r.output;
  rampart::test::write_file(dir_ / "ports.yaml", "- {id: 10, action: deny, dst_port: 443}\n");
  r = ctl({"rules", "import", "firewall", dir_ / "ports.yaml"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output,
            "imported: the firewall domain's API rules are now the file's 1; 0 identical to the "
            "config file's were left to it\n");
  r = ctl({"rules", "list", "firewall", "dst_port=443", "-o", "json"});
  EXPECT_NE(r.output.find("\"id\":10"), std::string::npos) << r.output;
}

// Tables show times in the reader's time zone; JSON shows the API's
// numbers. The version, human answers to status, reload and import.
TEST_F(Rampartctl, TablesShowLocalTimesAndJsonTheApisNumbers) {
  ASSERT_EQ(ctl({"block", "192.0.2.1", "--for", "1h"}).status, 0);
  auto in_tokyo = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env", "TZ=Asia/Tokyo",
                                     rampart::test::path::rampartctl(), "--server", socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  };
  auto r = in_tokyo({"rules", "list", "firewall"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(" [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} JST ")))
      << r.output;
  r = in_tokyo({"audit", "--limit", "1"});
  EXPECT_TRUE(std::regex_search(r.output, std::regex("\n[0-9]+ +[0-9-]+ [0-9:]+ JST +local:")))
      << r.output;
  r = in_tokyo({"rules", "list", "firewall", "-o", "json"});
  EXPECT_TRUE(std::regex_search(r.output, std::regex("\"expires_at\":[0-9]{10}[,}]"))) << r.output;

  r = ctl({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(
      std::regex_match(r.output, std::regex("rampartctl [0-9]+\\.[0-9]+\\.[0-9]+ \\(plugin ABI "
                                            "[0-9]+\\.[0-9]+\\)\n")))
      << r.output;
  const auto daemon_version = run_command({rampart::test::path::rampartd(), "--version"}).output;
  EXPECT_EQ(r.output.substr(11, r.output.find(' ', 11) - 11),
            daemon_version.substr(9, daemon_version.find(' ', 9) - 9));

  r = ctl({"status", "firewall"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("(^|\n)enforced: +false\n"))) << r.output;
  EXPECT_TRUE(
      std::regex_search(r.output, std::regex("\ntables\\.used\\.rule_positions: +[0-9]+\n")))
      << r.output;
  r = ctl({"config", "reload"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "reloaded: nothing changed\n");
  r = ctl({"status"});
  EXPECT_TRUE(std::regex_search(r.output, std::regex(", up [0-9]+ s, datapath "))) << r.output;

  r = ctl({"alerts", "list", "since=1h"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "(none)\n");
  r = ctl({"alerts", "list", "since=1 hour"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("since must be unix seconds or RFC 3339"), std::string::npos) << r.output;
}

// Bash completion at each position: commands, then each command's words,
// with the domains, rule ids and key names the server has.
TEST_F(Rampartctl, CompletionOffersWhatFitsEachPosition) {
  ASSERT_EQ(ctl({"rules", "add", "firewall", R"({"id":42,"action":"log"})"}).status, 0);
  ASSERT_EQ(ctl({"keys", "add", "grafana", "viewer"}).status, 0);
  const std::string bin = rampart::test::path::rampartctl();
  auto complete = [&](const std::string& line) {
    // The line's words, the last one being completed (maybe empty).
    const std::string script =
        "PATH=" + bin.substr(0, bin.rfind('/')) + ":$PATH; export RAMPART_SERVER=" + socket_ +
        "; source " + rampart::test::path::rampartctl_completion() + "; COMP_WORDS=(" + line +
        "); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _rampartctl 2>/dev/null; "
        "printf '%s ' \"${COMPREPLY[@]}\"";
    const auto r = run_command({"/bin/bash", "-c", script});
    EXPECT_EQ(r.status, 0) << line << ": " << r.output;
    auto out = r.output;  // the output's last line gets a newline here
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  };
  EXPECT_EQ(complete("rampartctl ''"),
            "status domains rules alerts audit config keys block allow unblock completion "
            "--server --token --output --cacert --insecure --version --help ");
  EXPECT_EQ(complete("rampartctl bl"), "block ");
  EXPECT_EQ(complete("rampartctl rules ''"), "list get add update patch delete import export ");
  EXPECT_EQ(complete("rampartctl rules list ''"), "blocklist firewall ");
  EXPECT_EQ(complete("rampartctl rules delete firewall ''"), "42 ");
  EXPECT_EQ(complete("rampartctl alerts list ''"),
            "severity= min_severity= component= since= src= dst= false_positive= limit= cursor= ")
      << "filters, not domains";
  EXPECT_EQ(complete("rampartctl alerts list sev"), "severity= ");
  EXPECT_EQ(complete("rampartctl keys delete ''"), "admin grafana ") << "the bootstrap key too";
  EXPECT_EQ(complete("rampartctl keys add bob ''"), "viewer operator admin ");
  EXPECT_EQ(complete("rampartctl block 192.0.2.1 ''"),
            "--domain --for --port --protocol --reason ");
  EXPECT_EQ(complete("rampartctl unblock 192.0.2.1 ''"), "--domain --port --protocol ");
  EXPECT_EQ(complete("rampartctl block 192.0.2.1 --domain ''"), "blocklist firewall ");
  EXPECT_EQ(complete("rampartctl --output ''"), "table json ");
  EXPECT_EQ(complete("rampartctl --server " + socket_ + " status ''"), "blocklist firewall ");
  EXPECT_EQ(complete("rampartctl audit --domain ''"), "blocklist firewall ");
}

}  // namespace

namespace {

// Alerts raised by a running engine, listed, read and marked as a false
// positive from the command line.
TEST(RampartctlAlerts, ListGetAndMarkAFalsePositive) {
  rampart::test::TempDir dir;
  const auto cfg = dir / "rampart.yaml";
  rampart::test::write_file(cfg, "agent:\n  state_dir: " + (dir / "state") +
                                     "\nplugins:\n  good_engine: {tick_ms: 20, alert_on_tick: "
                                     "true}\n  rest: " +
                                     rampart::test::rest_settings(dir.path()) + "\n");
  DaemonProcess d({rampart::test::path::rampartd(), "--config", cfg, "--plugin-dir",
                   rampart::test::path::plugins(), "--plugin-dir",
                   rampart::test::variant_dir("good_engine")});
  ASSERT_TRUE(d.wait_for("ready plugins=good_engine,rest refused=0")) << d.output();
  const std::string server = "unix://" + (dir / "api.sock");
  auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {rampart::test::path::rampartctl(), "--server", server};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  };
  Poco::JSON::Array::Ptr alerts;
  for (int i = 0; i < 500; ++i) {
    const auto r = ctl({"alerts", "list", "component=good_engine", "--output", "json"});
    ASSERT_EQ(r.status, 0) << r.output;
    alerts =
        Poco::JSON::Parser().parse(r.output).extract<Poco::JSON::Object::Ptr>()->getArray("alerts");
    if (alerts->size() >= 2) break;
    usleep(10000);
  }
  ASSERT_GE(alerts->size(), 2u);
  const std::string id = alerts->getObject(0)->getValue<std::string>("id");
  auto r = ctl({"alerts", "list", "min_severity=high"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("high      good_engine  test-rule"), std::string::npos) << r.output;
  r = ctl({"alerts", "false-positive", id, "a test tick"});
  ASSERT_EQ(r.status, 0) << r.output;
  r = ctl({"alerts", "get", id, "--output", "json"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(R"("false_positive_reason":"a test tick")"), std::string::npos)
      << r.output;
  r = ctl({"alerts", "list", "false_positive=true", "--output", "json"});
  EXPECT_EQ(Poco::JSON::Parser()
                .parse(r.output)
                .extract<Poco::JSON::Object::Ptr>()
                ->getArray("alerts")
                ->size(),
            1u)
      << r.output;
  EXPECT_EQ(ctl({"alerts", "list", "severity=severe"}).status, 1) << "the server's 400";
  EXPECT_EQ(ctl({"alerts", "frob"}).status, 2);
  EXPECT_EQ(ctl({"alerts", "get"}).status, 2);
}

}  // namespace

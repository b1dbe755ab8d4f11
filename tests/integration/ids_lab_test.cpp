// SPDX-License-Identifier: Apache-2.0
// Intrusion detection end to end: rampartd with the IDS engine on B's
// interface, a real HTTP server (python3 -m http.server) in B, requests
// from A over real TCP. An exploit string in a request raises the IDS
// alert with its sid, classtype and MITRE technique; an ET Open scan rule
// fires under its own threshold; ordinary requests raise nothing; rules
// added and switched off over REST are in force at once, bad ones refused
// with the keyword.
#include <gtest/gtest.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include "agent_lab.hpp"
#include "filebeat_suricata.hpp"
#include "mmdb_writer.hpp"
#include "poll.hpp"
#include "test_paths.hpp"

namespace {

using rampart::test::AgentLab;
using rampart::test::NetnsLab;

constexpr uint16_t kPort = 8080;

// A rule of the test's own: shell injection in a CGI URI, with MITRE fields.
const char* kLocalRules =
    "# the lab's rules\n"
    "alert http $EXTERNAL_NET any -> $HOME_NET any (msg:\"LAB shell command in a CGI query\"; "
    "flow:established,to_server; http.uri; content:\"/cgi-bin/\"; content:\"|3b|cat /etc/passwd\"; "
    "distance:0; classtype:web-application-attack; metadata:mitre_tactic_id TA0001, "
    "mitre_tactic_name Initial_Access, mitre_technique_id T1190, mitre_technique_name "
    "Exploit_Public-Facing_Application; sid:9000001; rev:2;)\n"
    "alert tcp any any -> any any (msg:\"LAB refused\"; frobnicate:1; sid:9000009; rev:1;)\n";

class IdsLab : public AgentLab {
 protected:
  void SetUp() override {
    AgentLab::SetUp();
    if (HasFatalFailure()) return;
    // The server in B, its directory holding one page.
    std::filesystem::create_directories(dir_ / "www");
    rampart::test::write_file(dir_ / "www/index.html", "<html><body>hello</body></html>\n");
    server_ = std::make_unique<rampart::test::DaemonProcess>(std::vector<std::string>{
        "/usr/sbin/ip", "netns", "exec", lab_->ns_b(), "/usr/bin/python3", "-u", "-m",
        "http.server", std::to_string(kPort), "--bind", "198.18.0.2", "--directory", dir_ / "www"});
    ASSERT_TRUE(server_->wait_for("Serving HTTP")) << server_->output();
  }
  void TearDown() override {
    server_.reset();
    AgentLab::TearDown();
  }

  void start_agent(const std::string& ids_settings, const std::string& ips_settings = "") {
    rampart::test::write_file(dir_ / "local.rules", kLocalRules);
    const std::string et = rampart::test::path::et_open_dir();
    const std::string files =
        "[" + (dir_ / "local.rules") + (et.empty() ? "" : ", " + et + "/emerging-scan.rules") + "]";
    const auto cfg = write_agent_config(
        "  firewall: {default_policy: allow, rules: []}\n"
        "  ids:\n"
        "    rule_files: " +
        files +
        "\n"
        "    variables: {HOME_NET: \"[198.18.0.2]\", EXTERNAL_NET: \"!$HOME_NET\"}\n" +
        ids_settings + (ips_settings.empty() ? "" : "  ips: " + ips_settings + "\n") +
        "  metrics: {listen: \"127.0.0.1:0\"}\n");
    ASSERT_NO_FATAL_FAILURE(start_with_rest(cfg, "",
                                            std::string("] ready plugins=firewall,ids,") +
                                                (ips_settings.empty() ? "" : "ips,") +
                                                "log,metrics,rest refused=0"));
  }

  // Whether A (from `from`, by default 198.18.0.1) completes a TCP
  // handshake with the server within `ms`: a source the firewall's
  // blocklist holds has its SYN dropped in XDP. A handshake that should
  // complete gets 5 s (a loaded machine); one that should not is given a
  // second and its drop read from the firewall's counter (dropped()).
  bool connects(const char* from = "198.18.0.1", int ms = 5000) {
    const int s = lab_->socket_in(lab_->ns_a(), AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, from, &src.sin_addr);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(kPort);
    inet_pton(AF_INET, "198.18.0.2", &at.sin_addr);
    bool ok = false;
    if (bind(s, reinterpret_cast<sockaddr*>(&src), sizeof src) == 0) {
      connect(s, reinterpret_cast<sockaddr*>(&at), sizeof at);
      pollfd p{s, POLLOUT, 0};
      int err = -1;
      socklen_t len = sizeof err;
      ok = poll(&p, 1, ms) == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    close(s);
    return ok;
  }

  // A's handshake from `from` fails and its SYN (or a retry) is counted
  // as dropped by the firewall's blocklist in XDP.
  bool dropped(const char* from = "198.18.0.1") {
    const std::string blocklisted =
        "rampart_kernel_xdp_firewall_blocklisted_total{program=\"xdp_firewall\"}";
    const double before = metric(blocklisted);
    return !connects(from, 1000) && metric(blocklisted) > before;
  }

  // The IPS's entries in the firewall's blocklist.
  Poco::JSON::Array::Ptr ips_entries() {
    const auto r = api("GET", "/api/v1/blocklist/rules?owner=ips&limit=1000");
    EXPECT_EQ(r.status, 200) << r.body;
    return Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>()->getArray("rules");
  }

  // A drop rule of the API's own: a request for /etc/shadow.
  void add_drop_rule() {
    const auto r = api(
        "POST", "/api/v1/ids/rules",
        R"j({"id": 9000002, "rule": "drop http $EXTERNAL_NET any -> $HOME_NET any (msg:\"LAB shadow file requested\"; flow:established,to_server; http.uri; content:\"/etc/shadow\"; classtype:attempted-admin; metadata:mitre_technique_id T1190, mitre_technique_name Exploit_Public-Facing_Application, mitre_tactic_name Initial_Access; sid:9000002; rev:1;)"})j");
    ASSERT_EQ(r.status, 201) << r.body;
  }

  // One HTTP/1.1 request from A (198.18.0.1) over a connection of its own;
  // the response's status line.
  std::string request(const std::string& target, const std::string& user_agent,
                      const char* from = nullptr) {
    const int s = lab_->socket_in(lab_->ns_a(), AF_INET, SOCK_STREAM, 0);
    if (from) {
      sockaddr_in src{};
      src.sin_family = AF_INET;
      inet_pton(AF_INET, from, &src.sin_addr);
      if (bind(s, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
        close(s);
        return "bind failed";
      }
    }
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(kPort);
    inet_pton(AF_INET, "198.18.0.2", &at.sin_addr);
    timeval tv{10, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(s, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) {
      close(s);
      return "connect failed";
    }
    const std::string req = "GET " + target +
                            " HTTP/1.1\r\nHost: 198.18.0.2:8080\r\nUser-Agent: " + user_agent +
                            "\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    send(s, req.data(), req.size(), 0);
    std::string got;
    char buf[4096];
    for (ssize_t n; (n = recv(s, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));
    close(s);
    return got.substr(0, got.find("\r\n"));
  }

  // Alerts of rule `rule_id` ("ids:9000001") the log sender wrote.
  size_t alerts_of(const std::string& rule_id) {
    const std::string text = rampart::test::read_file(dir_ / "alerts.json");
    size_t n = 0;
    for (size_t at = 0;
         (at = text.find("\"rule_id\":\"" + rule_id + "\"", at)) != std::string::npos; ++at)
      ++n;
    return n;
  }
  // The log sender's line for the first alert of `rule_id`.
  std::string alert_line(const std::string& rule_id) {
    const std::string text = rampart::test::read_file(dir_ / "alerts.json");
    const size_t at = text.find("\"rule_id\":\"" + rule_id + "\"");
    if (at == std::string::npos) return "";
    const size_t start = text.rfind('\n', at);
    return text.substr(start == std::string::npos ? 0 : start + 1,
                       text.find('\n', at) - (start == std::string::npos ? 0 : start + 1));
  }
  size_t ids_alerts() {
    const std::string text = rampart::test::read_file(dir_ / "alerts.json");
    size_t n = 0;
    for (size_t at = 0; (at = text.find("\"rule_id\":\"ids:", at)) != std::string::npos; ++at) ++n;
    return n;
  }

  std::unique_ptr<rampart::test::DaemonProcess> server_;
};

TEST_F(IdsLab, AnExploitInARequestRaisesItsRuleWithSidClasstypeAndMitreTechnique) {
  ASSERT_NO_FATAL_FAILURE(start_agent(""));
  // Ordinary requests first: nothing.
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(request("/index.html", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"),
              "HTTP/1.0 200 OK");
  // The exploit: the server answers 404, the IDS alerts.
  EXPECT_EQ(request("/cgi-bin/status.sh?host=x;cat%20/etc/passwd", "curl/8.5.0"),
            "HTTP/1.0 404 File not found");
  ASSERT_TRUE(rampart::test::poll_until([&] { return alerts_of("ids:9000001") > 0; },
                                        std::chrono::seconds(10)))
      << rampart::test::read_file(dir_ / "alerts.json") << daemon_->output()
      << metric("rampart_ids_events_total{outcome=\"decoded\"}") << " events, "
      << metric("rampart_ids_inspections_total") << " inspections, "
      << metric("rampart_ids_matches_total") << " matches";
  const std::string line = alert_line("ids:9000001");
  EXPECT_NE(line.find("LAB shell command in a CGI query [sid 9000001 rev 2"), std::string::npos)
      << line;
  EXPECT_NE(line.find("web-application-attack"), std::string::npos) << line;
  EXPECT_NE(line.find("http.uri at "), std::string::npos) << line;
  EXPECT_NE(line.find("T1190"), std::string::npos) << line;
  EXPECT_NE(line.find("\"src_ip\":\"198.18.0.1\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"severity\":\"high\""), std::string::npos) << line;
  // The same as fields (ABI 1.12), for SIEMs: the rule, the flow, the match.
  const auto o = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
  const auto sig = o->getObject("signature");
  ASSERT_TRUE(sig) << line;
  EXPECT_EQ(sig->getValue<uint32_t>("id"), 9000001u);
  EXPECT_EQ(sig->getValue<uint32_t>("rev"), 2u);
  EXPECT_EQ(sig->getValue<std::string>("name"), "LAB shell command in a CGI query");
  EXPECT_EQ(sig->getValue<std::string>("category"), "web-application-attack");
  EXPECT_NE(o->getValue<uint64_t>("flow_id"), 0u) << line;
  EXPECT_EQ(o->getValue<std::string>("app_proto"), "http");
  const auto match = o->getObject("match");
  ASSERT_TRUE(match) << line;
  EXPECT_EQ(match->getValue<std::string>("buffer"), "http.uri");
  // "/cgi-bin/status.sh?host=x;cat /etc/passwd": the last content at 25.
  EXPECT_EQ(match->getValue<uint32_t>("offset"), 25u);
  EXPECT_EQ(match->getValue<std::string>("excerpt_base64"), "O2NhdCAvZXRjL3Bhc3N3ZA==")
      << "\";cat /etc/passwd\"";
  // Its context, as Suricata's EVE has it: the flow so far and the request.
  const auto context = o->getObject("context");
  ASSERT_TRUE(context) << line;
  const auto flow = context->getObject("flow");
  ASSERT_TRUE(flow) << line;
  EXPECT_GE(flow->getValue<uint64_t>("pkts_toserver"), 2u) << "the SYN, the request";
  EXPECT_GT(flow->getValue<uint64_t>("bytes_toserver"), 40u);
  EXPECT_EQ(flow->getValue<std::string>("start").substr(0, 2), "20") << "RFC 3339";
  const auto http = context->getObject("http");
  ASSERT_TRUE(http) << line;
  EXPECT_EQ(http->getValue<std::string>("url"), "/cgi-bin/status.sh?host=x;cat%20/etc/passwd");
  EXPECT_EQ(http->getValue<std::string>("http_method"), "GET");
  EXPECT_EQ(http->getValue<std::string>("http_user_agent"), "curl/8.5.0");
  EXPECT_EQ(http->getValue<std::string>("hostname"), "198.18.0.2");
  EXPECT_EQ(alerts_of("ids:9000001"), 1u);
  EXPECT_EQ(ids_alerts(), 1u) << "the ordinary requests raised something: "
                              << rampart::test::read_file(dir_ / "alerts.json");

  // The kernel side sent the flows; the status names the files and the refusal.
  EXPECT_GT(metric("rampart_kernel_packets_total{outcome=\"sent\",program=\"tc_ids\"}"), 10);
  const auto r = api("GET", "/api/v1/ids/status");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto st = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  const auto rules = st->getObject("rules");
  EXPECT_GE(rules->getValue<size_t>("loaded"), 1u);
  const auto files = rules->getArray("files");
  ASSERT_GE(files->size(), 1u);
  const auto local = files->getObject(0);
  EXPECT_EQ(local->getValue<size_t>("accepted"), 1u);
  const auto refused = local->getArray("refused");
  ASSERT_EQ(refused->size(), 1u);
  EXPECT_NE(refused->getElement<std::string>(0).find("sid 9000009: unsupported keyword "
                                                     "'frobnicate'"),
            std::string::npos)
      << r.body;
  EXPECT_GT(st->getObject("flows")->getValue<uint64_t>("created"), 5u);
}

TEST_F(IdsLab, ARealTlsSessionsHandshakeIsInspectedAndItsEncryptedBytesPassedOverAndCounted) {
  ASSERT_NO_FATAL_FAILURE(start_agent(""));
  const auto r = api(
      "POST", "/api/v1/ids/rules",
      R"j({"id": 9000020, "rule": "alert tls any any -> any any (msg:\"LAB TLS to the lab name\"; tls.sni; content:\"lab.example\"; sid:9000020; rev:1;)"})j");
  ASSERT_EQ(r.status, 201) << r.body;
  const auto cert = dir_ / "cert.pem", key = dir_ / "key.pem";
  const auto made = rampart::test::run_command(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=lab.example"});
  ASSERT_EQ(made.status, 0) << made.output;
  rampart::test::DaemonProcess server({"/usr/sbin/ip", "netns", "exec", lab_->ns_b(),
                                       "/usr/bin/openssl", "s_server", "-accept", "198.18.0.2:8443",
                                       "-cert", cert, "-key", key, "-rev"});
  ASSERT_TRUE(server.wait_for("ACCEPT")) << server.output();
  // 60,000 bytes of text from A through a real TLS 1.3 session; the
  // client leaves at the end of its input.
  const auto sent = rampart::test::run_command(
      {"/bin/sh", "-c",
       "yes 'lab plain text line' | head -c 60000 | timeout 20 /usr/sbin/ip netns exec " +
           lab_->ns_a() +
           " /usr/bin/openssl s_client -connect 198.18.0.2:8443 -servername lab.example -quiet "
           "-nocommands "
           "-no_ign_eof 2>&1"});
  EXPECT_EQ(sent.status, 0) << sent.output;
  auto encrypted = [&] {
    const auto st = api("GET", "/api/v1/ids/status");
    return Poco::JSON::Parser()
        .parse(st.body)
        .extract<Poco::JSON::Object::Ptr>()
        ->getObject("flows")
        ->getValue<uint64_t>("encrypted_tls_bytes");
  };
  // The client's records past its handshake were followed, not matched.
  EXPECT_TRUE(
      rampart::test::poll_until([&] { return encrypted() >= 60000; }, std::chrono::seconds(10)))
      << encrypted();
  // And counted in the metrics (a counter, published every 5 s).
  EXPECT_TRUE(rampart::test::poll_until(
      [&] { return metric("rampart_ids_encrypted_tls_bytes_total") >= 60000; },
      std::chrono::seconds(15)))
      << metric("rampart_ids_encrypted_tls_bytes_total");
  // The handshake was: the ClientHello's name raised the rule.
  EXPECT_TRUE(rampart::test::poll_until([&] { return alerts_of("ids:9000020") >= 1; },
                                        std::chrono::seconds(10)));
}

TEST_F(IdsLab, AnEtOpenScanRuleFiresUnderItsThreshold) {
  if (rampart::test::path::et_open_dir().empty()) GTEST_FAIL() << "no ET Open rule files here";
  ASSERT_NO_FATAL_FAILURE(start_agent(""));
  // ET SCAN Nikto (sid 2002677): threshold type both, count 5 a minute by
  // source: the fifth request alerts, once.
  for (int i = 0; i < 4; ++i)
    request("/", "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:00" + std::to_string(i) + ")");
  for (int i = 4; i < 8; ++i)
    request("/", "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:00" + std::to_string(i) + ")");
  ASSERT_TRUE(rampart::test::poll_until([&] { return alerts_of("ids:2002677") > 0; },
                                        std::chrono::seconds(10)))
      << rampart::test::read_file(dir_ / "alerts.json");
  // Every request was inspected by then (the last one's alert would be
  // the second): one alert for eight.
  EXPECT_TRUE(rampart::test::poll_until([&] { return metric("rampart_ids_suppressed_total") >= 7; },
                                        std::chrono::seconds(10)));
  EXPECT_EQ(alerts_of("ids:2002677"), 1u);
  EXPECT_NE(alert_line("ids:2002677").find("ET SCAN Nikto Web App Scan in Progress"),
            std::string::npos);
}

TEST_F(IdsLab, RulesAddedAndSwitchedOffOverRestAreInForceAtOnce) {
  ASSERT_NO_FATAL_FAILURE(start_agent(""));
  // A rule of the API's own, by sid.
  auto r = api(
      "POST", "/api/v1/ids/rules",
      R"j({"id": 9100001, "rule": "alert http any any -> any any (msg:\"LAB admin probe\"; flow:to_server; http.uri; content:\"/admin.php\"; classtype:attempted-recon; sid:9100001; rev:1;)"})j");
  ASSERT_EQ(r.status, 201) << r.body;
  request("/admin.php", "curl/8.5.0");
  EXPECT_TRUE(rampart::test::poll_until([&] { return alerts_of("ids:9100001") == 1; },
                                        std::chrono::seconds(10)))
      << rampart::test::read_file(dir_ / "alerts.json");
  // Refused: a keyword it does not support, a sid other than the entry's,
  // a body that is not an entry.
  r = api(
      "POST", "/api/v1/ids/rules",
      R"j({"id": 9100002, "rule": "alert tcp any any -> any any (msg:\"x\"; frobnicate:1; sid:9100002;)"})j");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("frobnicate"), std::string::npos) << r.body;
  r = api(
      "POST", "/api/v1/ids/rules",
      R"j({"id": 9100003, "rule": "alert tcp any any -> any any (msg:\"x\"; content:\"a\"; sid:5;)"})j");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("its sid is 5, the entry's 9100003"), std::string::npos) << r.body;
  r = api("POST", "/api/v1/ids/rules", R"({"id": 9100004, "enabled": "no"})");
  EXPECT_EQ(r.status, 400) << r.body;
  // The file's rule switched off: the exploit passes unremarked.
  r = api("POST", "/api/v1/ids/rules", R"({"id": 9000001, "enabled": false})");
  ASSERT_EQ(r.status, 201) << r.body;
  request("/cgi-bin/status.sh?host=x;cat%20/etc/passwd", "curl/8.5.0");
  // After it, the admin probe again: its match (the alert router folds a
  // repeated alert into the first) says the exploit was inspected too.
  request("/admin.php", "curl/8.5.0");
  EXPECT_TRUE(rampart::test::poll_until([&] { return metric("rampart_ids_matches_total") >= 2; },
                                        std::chrono::seconds(10)));
  EXPECT_EQ(alerts_of("ids:9000001"), 0u);
  const auto st = api("GET", "/api/v1/ids/status");
  EXPECT_NE(st.body.find("\"disabled\":1"), std::string::npos) << st.body;
}

TEST_F(IdsLab, ACountrysFlowsAreSampledAtItsRateAndItsSourcesAlertPastTheirThreshold) {
  // 198.18.0.1 is in "NL"; the default rate samples nothing, NL's tier all.
  namespace mmdb = rampart::test::mmdb;
  mmdb::Writer w{mmdb::Metadata{}};
  w.insert("198.18.0.1/32", mmdb::map({{"country_code", mmdb::str("NL")}}));
  const auto db = dir_ / "country.mmdb";
  rampart::test::write_file(db, w.build());
  ASSERT_NO_FATAL_FAILURE(
      start_agent("    sampling: {rate: 0, country_db: " + db +
                  ", tiers: [{countries: [NL], rate: 100}]}\n"
                  "    country_thresholds: [{countries: [NL], hits: 3, seconds: 600}]\n"));
  const std::string exploit = "/cgi-bin/status.sh?host=x;cat%20/etc/passwd";
  request(exploit, "curl/8.5.0");
  request(exploit, "curl/8.5.0");
  // Both matched and were held back (counted after the match).
  ASSERT_TRUE(rampart::test::poll_until([&] { return metric("rampart_ids_suppressed_total") >= 2; },
                                        std::chrono::seconds(10)))
      << "NL's flows were not sampled: " << daemon_->output();
  EXPECT_EQ(alerts_of("ids:9000001"), 0u) << "two matches of three";
  EXPECT_EQ(metric("rampart_ids_matches_total"), 2);
  request(exploit, "curl/8.5.0");
  EXPECT_TRUE(rampart::test::poll_until([&] { return alerts_of("ids:9000001") == 1; },
                                        std::chrono::seconds(10)))
      << rampart::test::read_file(dir_ / "alerts.json");
}

// The log sender in `format: eve`: the alert is Suricata's EVE record, and
// what the Filebeat Suricata module makes of it (its ECS fields) holds
// every field it makes of Suricata's own alert on an HTTP request.
TEST_F(IdsLab, AnEveAlertFillsEveryEcsFieldFilebeatFillsForASuricataAlert) {
  log_settings_ = ", format: eve";
  ASSERT_NO_FATAL_FAILURE(start_agent(""));
  EXPECT_EQ(request("/cgi-bin/status.sh?host=x;cat%20/etc/passwd", "curl/8.5.0"),
            "HTTP/1.0 404 File not found");
  ASSERT_TRUE(rampart::test::poll_until([&] { return alerts_of("ids:9000001") > 0; },
                                        std::chrono::seconds(10)))
      << rampart::test::read_file(dir_ / "alerts.json") << daemon_->output();
  const std::string line = alert_line("ids:9000001");
  const auto o = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(o->getValue<std::string>("event_type"), "alert");
  EXPECT_EQ(o->getValue<std::string>("src_ip"), "198.18.0.1");
  EXPECT_EQ(o->getValue<std::string>("dest_ip"), "198.18.0.2");
  EXPECT_EQ(o->getValue<int>("dest_port"), 8080);
  EXPECT_EQ(o->getValue<std::string>("proto"), "TCP");
  EXPECT_EQ(o->getValue<std::string>("app_proto"), "http");
  EXPECT_EQ(o->getValue<std::string>("timestamp").substr(26), "+0000") << line;
  const auto alert = o->getObject("alert");
  ASSERT_TRUE(alert) << line;
  EXPECT_EQ(alert->getValue<std::string>("action"), "allowed");
  EXPECT_EQ(alert->getValue<int>("gid"), 1);
  EXPECT_EQ(alert->getValue<uint32_t>("signature_id"), 9000001u);
  EXPECT_EQ(alert->getValue<int>("rev"), 2);
  EXPECT_EQ(alert->getValue<std::string>("signature"), "LAB shell command in a CGI query");
  EXPECT_EQ(alert->getValue<std::string>("category"), "web-application-attack");
  EXPECT_EQ(alert->getValue<int>("severity"), 1);
  EXPECT_EQ(
      alert->getObject("metadata")->getArray("mitre_technique_id")->getElement<std::string>(0),
      "T1190");
  EXPECT_EQ(o->getObject("http")->getValue<std::string>("url"),
            "/cgi-bin/status.sh?host=x;cat%20/etc/passwd");
  EXPECT_EQ(o->getObject("rampart")->getValue<std::string>("rule_id"), "ids:9000001");

  // Suricata 7's alert on an HTTP request, as it logs one (flow and http
  // sections on; the values are the lab's kind, not Rampart's).
  const std::string suricata =
      R"({"timestamp":"2026-11-20T10:15:02.123456+0000","flow_id":1837406295714425,)"
      R"("in_iface":"eth0","event_type":"alert","src_ip":"203.0.113.9","src_port":51234,)"
      R"("dest_ip":"192.0.2.10","dest_port":80,"proto":"TCP","pkt_src":"wire/pcap","tx_id":0,)"
      R"("alert":{"action":"allowed","gid":1,"signature_id":2010935,"rev":3,)"
      R"("signature":"ET WEB_SERVER Possible CGI command injection","category":)"
      R"("Web Application Attack","severity":1,"metadata":{"created_at":["2010_07_30"]}},)"
      R"("http":{"hostname":"192.0.2.10","url":"/cgi-bin/status.sh?host=x","http_user_agent":)"
      R"("curl/8.5.0","http_method":"GET","protocol":"HTTP/1.1","length":0},"app_proto":"http",)"
      R"("direction":"to_server","flow":{"pkts_toserver":4,"pkts_toclient":1,"bytes_toserver":)"
      R"(412,"bytes_toclient":74,"start":"2026-11-20T10:15:02.100321+0000","src_ip":)"
      R"("203.0.113.9","dest_ip":"192.0.2.10","src_port":51234,"dest_port":80}})";
  const auto theirs = rampart::test::filebeat_suricata_ecs(suricata);
  const auto ours = rampart::test::filebeat_suricata_ecs(line);
  EXPECT_GE(theirs.size(), 30u) << "the mapping fills what an alert carries";
  std::string missing;
  for (const auto& f : theirs)
    if (!ours.contains(f)) missing += f + " ";
  EXPECT_EQ(missing, "") << line;
}

// Prevent mode: a drop rule's hit goes to the IPS, which lists the source
// in the firewall's blocklist: the next packet from it is dropped in XDP
// (its SYN never reaches the server) until the entry expires, when the
// core deletes it. A source on the IPS's allow list (its `ips` domain)
// offends without being blocked.
TEST_F(IdsLab, InPreventModeADropRulesSourceIsBlockedInXdpUntilTheBlockExpires) {
  ASSERT_NO_FATAL_FAILURE(
      start_agent("    mode: prevent\n", "{block_for: 4, escalate: {hosts: 0}}"));
  ASSERT_NO_FATAL_FAILURE(add_drop_rule());
  EXPECT_EQ(request("/index.html", "curl/8.5.0"), "HTTP/1.0 200 OK");
  EXPECT_TRUE(connects());
  const std::string blocklisted =
      "rampart_kernel_xdp_firewall_blocklisted_total{program=\"xdp_firewall\"}";
  const double dropped_before = metric(blocklisted);

  const auto at = static_cast<int64_t>(std::time(nullptr));
  request("/download?f=../../etc/shadow", "curl/8.5.0");
  ASSERT_TRUE(rampart::test::poll_until([&] { return alerts_of("ips:source_blocked") == 1; },
                                        std::chrono::seconds(10)))
      << rampart::test::read_file(dir_ / "alerts.json") << daemon_->output();
  const std::string ids_line = alert_line("ids:9000002");
  EXPECT_NE(ids_line.find("\"action\":\"block\""), std::string::npos) << ids_line;
  const std::string ips_line = alert_line("ips:source_blocked");
  EXPECT_NE(ips_line.find("198.18.0.1/32 blocked for 4 s"), std::string::npos) << ips_line;
  EXPECT_NE(ips_line.find("1 offence within 60 s (ids:9000002)"), std::string::npos) << ips_line;
  EXPECT_NE(ips_line.find("\"src_ip\":\"198.18.0.1\""), std::string::npos) << ips_line;
  EXPECT_NE(ips_line.find("T1190"), std::string::npos) << ips_line;

  // The entry: owner ips, the source, expiring block_for after the hit.
  auto entries = ips_entries();
  ASSERT_EQ(entries->size(), 1u);
  const auto entry = entries->getObject(0);
  EXPECT_EQ(entry->getValue<std::string>("prefix"), "198.18.0.1/32");
  const auto expires_at = entry->getValue<int64_t>("expires_at");
  EXPECT_GE(expires_at, at + 4);
  EXPECT_LE(expires_at, static_cast<int64_t>(std::time(nullptr)) + 4);
  // The next packets from it: dropped in XDP.
  EXPECT_TRUE(dropped());
  EXPECT_GT(metric(blocklisted), dropped_before);
  auto st = api("GET", "/api/v1/ips/status");
  ASSERT_EQ(st.status, 200) << st.body;
  EXPECT_NE(st.body.find("\"network\":\"198.18.0.1/32\",\"scope\":\"host\""), std::string::npos)
      << st.body;
  EXPECT_EQ(metric("rampart_ips_blocks_total{plugin=\"ips\",scope=\"host\"}"), 1);

  // Expired: deleted by the core (not before its time), and A connects again.
  ASSERT_TRUE(rampart::test::poll_until([&] { return ips_entries()->size() == 0; },
                                        std::chrono::seconds(15)));
  EXPECT_GE(static_cast<int64_t>(std::time(nullptr)), expires_at);
  EXPECT_TRUE(connects());
  EXPECT_EQ(request("/index.html", "curl/8.5.0"), "HTTP/1.0 200 OK");

  // The ips domain in the API's document, which a validator accepts.
  ASSERT_NO_FATAL_FAILURE(expect_valid_openapi_with("/api/v1/ips/rules"));

  // On the allow list: the hit is an alert and an offence spared, no block.
  auto r = api("POST", "/api/v1/ips/rules", R"({"prefix": "198.18.0.0/30", "note": "lab"})");
  ASSERT_EQ(r.status, 201) << r.body;
  r = api("POST", "/api/v1/ips/rules", R"({"prefix": "198.18.0.1/24"})");
  EXPECT_EQ(r.status, 400) << r.body;
  request("/download?f=../../etc/shadow", "curl/8.5.0");
  EXPECT_TRUE(rampart::test::poll_until(
      [&] { return metric("rampart_ips_offences_total{outcome=\"spared\",plugin=\"ips\"}") == 1; },
      std::chrono::seconds(10)))
      << daemon_->output();
  EXPECT_EQ(ips_entries()->size(), 0u);
  EXPECT_TRUE(connects());
  EXPECT_EQ(alerts_of("ips:source_blocked"), 1u);
}

// Escalation: two hosts of 198.18.0.4/30 offend within the window (each
// once, under hits), so the subnet is listed: its third address, which
// never offended, is dropped too, and 198.18.0.1 beside it is not. (A /24
// would hold this host's own 198.18.0.2: never listed.)
TEST_F(IdsLab, HostsOfOneSubnetOffendingEscalateTheBlockToTheSubnet) {
  for (const char* a : {"198.18.0.5", "198.18.0.6", "198.18.0.7"})
    NetnsLab::sh("ip -n " + lab_->ns_a() + " addr add " + a + "/32 dev " + lab_->if_a());
  ASSERT_NO_FATAL_FAILURE(start_agent(
      "    mode: prevent\n",
      "{hits: 3, block_for: 60, escalate: {hosts: 2, block_for: 30, ipv4_prefix: 30}}"));
  ASSERT_NO_FATAL_FAILURE(add_drop_rule());
  request("/x?/etc/shadow", "curl/8.5.0", "198.18.0.5");
  EXPECT_TRUE(rampart::test::poll_until(
      [&] { return metric("rampart_ips_offences_total{outcome=\"counted\",plugin=\"ips\"}") == 1; },
      std::chrono::seconds(10)));
  EXPECT_EQ(ips_entries()->size(), 0u) << "one offence of three, one host of two";
  EXPECT_TRUE(connects("198.18.0.7"));
  request("/x?/etc/shadow", "curl/8.5.0", "198.18.0.6");
  ASSERT_TRUE(rampart::test::poll_until([&] { return alerts_of("ips:subnet_blocked") == 1; },
                                        std::chrono::seconds(10)))
      << rampart::test::read_file(dir_ / "alerts.json") << daemon_->output();
  const auto entries = ips_entries();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ(entries->getObject(0)->getValue<std::string>("prefix"), "198.18.0.4/30");
  EXPECT_NE(entries->getObject(0)->getValue<std::string>("reason").find(
                "2 hosts of 198.18.0.4/30 offended within 600 s, the last 198.18.0.6/32"),
            std::string::npos)
      << entries->getObject(0)->getValue<std::string>("reason");
  EXPECT_TRUE(dropped("198.18.0.7")) << "never offended, but in the subnet";
  EXPECT_TRUE(connects("198.18.0.1"));
  EXPECT_EQ(metric("rampart_ips_blocks_total{plugin=\"ips\",scope=\"subnet\"}"), 1);
  auto st = api("GET", "/api/v1/ips/status");
  EXPECT_NE(st.body.find("\"network\":\"198.18.0.4/30\",\"scope\":\"subnet\""), std::string::npos)
      << st.body;

  // The operator lifts it by hand: the subnet connects again and the
  // IPS's status no longer lists the block as in force.
  const auto id = entries->getObject(0)->getValue<uint64_t>("id");
  const auto del = api("DELETE", "/api/v1/blocklist/rules/" + std::to_string(id));
  ASSERT_EQ(del.status, 204) << del.body;
  EXPECT_TRUE(connects("198.18.0.7"));
  st = api("GET", "/api/v1/ips/status");
  ASSERT_EQ(st.status, 200) << st.body;
  EXPECT_EQ(st.body.find("198.18.0.4/30"), std::string::npos) << st.body;
}

}  // namespace

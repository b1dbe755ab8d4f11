// SPDX-License-Identifier: Apache-2.0
// The gRPC frontend plugin (grpc.so) loaded by a real plugin host, with the
// core's management API (and its key store) answering whoami. Alerts go in
// through the plugin's stream_alert entry, as the core hands them over.
//
// The clients read the shipped .proto files at run time (as grpcurl does)
// and speak through dynamic messages: the plugin registers the generated
// rampart.v1 types in this process's protobuf pool, so the test cannot link
// a second generated copy of them.
#include <gtest/gtest.h>

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/client_unary_call.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/rpc_method.h>
#include <grpcpp/support/sync_stream.h>
#include <rampart/sdk/plugin.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "api/management_api.hpp"
#include "daemon_process.hpp"
#include "log_capture.hpp"
#include "metrics_check.hpp"
#include "plugin_core.hpp"
#include "plugin_host/plugin_manager.hpp"
#include "store/key_store.hpp"
#include "store/rule_service.hpp"
#include "store/rule_store.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace {

namespace pb = google::protobuf;
using Message = pb::Message;
using rampart::plugin_host::PluginManager;
using rampart::test::LogCapture;
using rampart::test::TempDir;

// --- messages from the .proto files -----------------------------------------

class ProtoErrors : public pb::compiler::MultiFileErrorCollector {
 public:
  void AddError(const std::string& file, int line, int col, const std::string& msg) override {
    text += file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + msg + "\n";
  }
  std::string text;
};

// rampart/v1/alerts.proto from the source tree, health and reflection from
// Debian's grpc-proto, the well-known types from libprotobuf-dev.
class Protos {
 public:
  Protos() {
    tree_.MapPath("", rampart::test::path::source() + "/proto");
    tree_.MapPath("", "/usr/share/grpc-proto");
    tree_.MapPath("", "/usr/include");
    for (const char* f : {"rampart/v1/alerts.proto", "grpc/health/v1/health.proto",
                          "grpc/reflection/v1alpha/reflection.proto"}) {
      if (!importer_.Import(f)) throw std::runtime_error("cannot import " + std::string(f));
    }
  }
  std::unique_ptr<Message> make(const std::string& type) {
    const auto* d = importer_.pool()->FindMessageTypeByName(type);
    if (!d) throw std::runtime_error("no message " + type);
    return std::unique_ptr<Message>(factory_.GetPrototype(d)->New());
  }
  std::unique_ptr<Message> parse(const std::string& type, const std::string& text) {
    auto m = make(type);
    if (!pb::TextFormat::ParseFromString(text, m.get()))
      throw std::runtime_error("bad " + type + " text: " + text);
    return m;
  }

 private:
  ProtoErrors errors_;
  pb::compiler::DiskSourceTree tree_;
  pb::compiler::Importer importer_{&tree_, &errors_};
  pb::DynamicMessageFactory factory_;
};

Protos& protos() {
  static Protos p;
  return p;
}

// A field's value by a dotted path ("mitre.tactic"), as text.
std::string field(const Message& m, const std::string& path) {
  const Message* at = &m;
  std::string rest = path;
  for (auto dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.')) {
    const auto* f = at->GetDescriptor()->FindFieldByName(rest.substr(0, dot));
    at = &at->GetReflection()->GetMessage(*at, f);
    rest = rest.substr(dot + 1);
  }
  const auto* f = at->GetDescriptor()->FindFieldByName(rest);
  std::string out;
  pb::TextFormat::PrintFieldValueToString(*at, f, -1, &out);
  return out.size() >= 2 && out.front() == '"' ? out.substr(1, out.size() - 2) : out;
}

// --- clients -----------------------------------------------------------------

const grpc::internal::RpcMethod kStreamAlerts("/rampart.v1.AlertStream/StreamAlerts",
                                              grpc::internal::RpcMethod::SERVER_STREAMING);
const grpc::internal::RpcMethod kHealthCheck("/grpc.health.v1.Health/Check",
                                             grpc::internal::RpcMethod::NORMAL_RPC);
const grpc::internal::RpcMethod kReflection(
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    grpc::internal::RpcMethod::BIDI_STREAMING);

// Each client its own connection: a stalled stream must not share
// HTTP/2 flow control with the others.
std::shared_ptr<grpc::Channel> channel(
    int port, std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials(),
    grpc::ChannelArguments args = {}) {
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), creds, args);
}

// A client that reads as little as HTTP/2 lets it: a small stream window,
// no window growth, so the server's writes to it stall early.
std::shared_ptr<grpc::Channel> stalling_channel(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  return channel(port, grpc::InsecureChannelCredentials(), args);
}

struct Stream {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<Message>> reader;

  std::unique_ptr<Message> next() {
    auto m = protos().make("rampart.v1.Alert");
    return reader->Read(m.get()) ? std::move(m) : nullptr;
  }
};

// StreamAlerts with a request in text format; returns once the server has
// answered with its headers (subscribed) or refused.
// The API is never open: the fixture's viewer key, unless a test says
// which metadata (none included) to send.
std::string g_viewer_token;

std::unique_ptr<Stream> subscribe(
    const std::shared_ptr<grpc::Channel>& ch, const std::string& request = "",
    const std::optional<std::vector<std::pair<std::string, std::string>>>& md = std::nullopt) {
  auto s = std::make_unique<Stream>();
  if (md) {
    for (const auto& [k, v] : *md) s->ctx.AddMetadata(k, v);
  } else {
    s->ctx.AddMetadata("x-api-key", g_viewer_token);
  }
  const auto req = protos().parse("rampart.v1.StreamAlertsRequest", request);
  s->reader.reset(
      grpc::internal::ClientReaderFactory<Message>::Create(ch.get(), kStreamAlerts, &s->ctx, *req));
  s->reader->WaitForInitialMetadata();
  return s;
}

// Reads a stream on its own thread until it ends.
class Reader {
 public:
  explicit Reader(std::unique_ptr<Stream> s) : stream_(std::move(s)) {
    thread_ = std::thread([this] {
      while (auto m = stream_->next()) {
        std::lock_guard lock(mu_);
        messages_.push_back(field(*m, "message"));
        cv_.notify_all();
      }
      const auto st = stream_->reader->Finish();
      std::lock_guard lock(mu_);
      status_ = st;
      done_ = true;
      cv_.notify_all();
    });
  }
  ~Reader() {
    stream_->ctx.TryCancel();
    thread_.join();
  }
  // True once n messages arrived (within 30 s).
  bool wait_for(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return messages_.size() >= n; });
  }
  bool wait_done() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return done_; });
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  grpc::Status status() {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  std::unique_ptr<Stream> stream_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> messages_;
  grpc::Status status_;
  bool done_ = false;
  std::thread thread_;
};

// Every message of a stream until it ends, and how it ended.
std::pair<std::vector<std::string>, grpc::Status> drain(Stream& s) {
  std::vector<std::string> got;
  while (auto m = s.next()) got.push_back(field(*m, "message"));
  return {got, s.reader->Finish()};
}

// --- alerts ------------------------------------------------------------------

// An alert as the core delivers it (ABI 1.3), owning its strings.
struct TestAlert {
  std::string id, component = "ids", rule_id = "r-1", message;
  std::string technique_id, technique_name, tactic;
  rampart_severity severity = RAMPART_SEVERITY_MEDIUM;
  rampart_alert_enrichment src{}, dst{};
  bool with_src = false, with_dst = false;
  rampart_alert raw{};

  const rampart_alert* abi() {
    raw.struct_size = sizeof raw;
    raw.severity = severity;
    raw.id = rampart::sdk::to_str(id);
    raw.component = rampart::sdk::to_str(component);
    raw.rule_id = rampart::sdk::to_str(rule_id);
    raw.message = rampart::sdk::to_str(message);
    raw.mitre_technique_id = rampart::sdk::to_str(technique_id);
    raw.mitre_technique_name = rampart::sdk::to_str(technique_name);
    raw.mitre_tactic = rampart::sdk::to_str(tactic);
    src.struct_size = dst.struct_size = sizeof(rampart_alert_enrichment);
    raw.src_info = with_src ? &src : nullptr;
    raw.dst_info = with_dst ? &dst : nullptr;
    return &raw;
  }
};

TestAlert numbered(int i) {
  TestAlert a;
  a.id = "a-" + std::to_string(i);
  a.message = "alert " + std::to_string(i);
  return a;
}

std::vector<std::string> numbered_messages(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("alert " + std::to_string(i));
  return out;
}

// --- the plugin in a host ----------------------------------------------------

class Grpc : public ::testing::Test {
 protected:
  Grpc() { core_.services.api = &api_; }
  ~Grpc() override { pm_.stop_all(); }

  // Loads grpc.so and starts it on 127.0.0.1, port 0, with `settings`
  // ("queue: 8, ..."); the port it bound is read from its log line.
  void start(const std::string& settings = "") {
    pm_.discover({rampart::test::path::plugins()});
    pm_.start(rampart::test::config_from("plugins:\n  grpc: {listen: '127.0.0.1:0'" +
                                         (settings.empty() ? "" : ", " + settings) + "}\n"));
    ASSERT_EQ(pm_.running(), 1u) << log_.dump();
    instance_ = pm_.instance("grpc");
    std::smatch m;
    const std::regex listening(R"(listening on 127\.0\.0\.1:(\d+))");
    for (const auto& line : log_.lines()) {
      if (std::regex_search(line, m, listening)) port_ = std::stoi(m[1]);
    }
    ASSERT_GT(port_, 0) << log_.dump();
  }
  void emit(TestAlert a) {
    ASSERT_EQ(instance_->library().api().stream_alert(instance_->handle(), a.abi()), RAMPART_OK);
  }
  double metric(const std::string& name) {
    return rampart::test::metric_value(core_.metrics.render(), name);
  }

  LogCapture log_;
  TempDir dir_;
  rampart::test::PluginCore core_;
  rampart::store::RuleStore rule_store_{dir_ / "rules.db"};
  rampart::store::RuleService rules_{rule_store_};
  rampart::store::KeyStore keys_{dir_ / "keys.db"};
  rampart::api::ManagementApi api_{rules_, {}, &keys_};
  const bool viewer_key_ = [this] {
    g_viewer_token = keys_.create("viewer", rampart::store::Role::viewer).second;
    return true;
  }();
  PluginManager pm_{core_.services};
  std::shared_ptr<rampart::plugin_host::PluginInstance> instance_;
  int port_ = 0;
};

TEST_F(Grpc, ClientReceivesEveryFieldOfAnAlert) {
  start();
  auto s = subscribe(channel(port_));

  TestAlert a;
  a.id = "a-1";
  a.component = "ids";
  a.rule_id = "ids-scan-1";
  a.message = "port scan from 203.0.113.7";
  a.severity = RAMPART_SEVERITY_HIGH;
  a.raw.action = RAMPART_ALERT_ACTION_BLOCK;
  a.raw.time_ns = 1'700'000'000'123'456'789;
  a.raw.ip_family = 4;
  a.raw.protocol = 6;
  a.raw.vlan_id = 42;
  inet_pton(AF_INET, "203.0.113.7", a.raw.src_addr);
  inet_pton(AF_INET, "192.0.2.10", a.raw.dst_addr);
  a.raw.src_port = 40000;
  a.raw.dst_port = 22;
  a.raw.suppressed = 3;
  a.technique_id = "T1046";
  a.technique_name = "Network Service Discovery";
  a.tactic = "Discovery";
  a.with_src = a.with_dst = true;
  a.src = {0,
           64500,
           rampart::sdk::to_str("NL"),
           rampart::sdk::to_str("Amsterdam"),
           rampart::sdk::to_str("Example Transit"),
           rampart::sdk::to_str("scanner.example"),
           5,
           0};
  a.dst = {0, 0, rampart::sdk::to_str("DE"), {}, {}, {}, -1, 0};
  rampart::sdk::set_signature(
      a.raw, {2100498, 7, "GPL ATTACK_RESPONSE id check", "attempted-recon", 99, "http", "http.uri",
              17, std::string_view("id\0=\xff", 5), R"({"flow":{}})"});
  emit(a);

  // IPv6, no technique, nothing known about either address.
  TestAlert b;
  b.id = "a-2";
  b.component = "firewall";
  b.message = "denied";
  b.severity = RAMPART_SEVERITY_LOW;
  b.raw.ip_family = 6;
  b.raw.protocol = 17;
  inet_pton(AF_INET6, "2001:db8::1", b.raw.src_addr);
  inet_pton(AF_INET6, "2001:db8::2", b.raw.dst_addr);
  emit(b);

  const auto expected_a = protos().parse("rampart.v1.Alert", R"(
    id: "a-1" time { seconds: 1700000000 nanos: 123456789 } component: "ids"
    severity: SEVERITY_HIGH action: ACTION_BLOCK rule_id: "ids-scan-1"
    message: "port scan from 203.0.113.7" src_ip: "203.0.113.7" dst_ip: "192.0.2.10"
    src_port: 40000 dst_port: 22 protocol: 6 vlan_id: 42
    mitre { technique_id: "T1046" technique_name: "Network Service Discovery" tactic: "Discovery" }
    suppressed: 3
    src_geo { country: "NL" city: "Amsterdam" asn: 64500 as_org: "Example Transit"
              name: "scanner.example" reputation: 5 }
    dst_geo { country: "DE" }
    signature { id: 2100498 rev: 7 category: "attempted-recon" name: "GPL ATTACK_RESPONSE id check" } flow_id: 99 app_proto: "http"
    match { buffer: "http.uri" offset: 17 excerpt: "id\000=\377" }
    context_json: "{\"flow\":{}}")");
  const auto expected_b = protos().parse("rampart.v1.Alert", R"(
    id: "a-2" time {} component: "firewall" severity: SEVERITY_LOW action: ACTION_ALERT
    rule_id: "r-1" message: "denied" src_ip: "2001:db8::1" dst_ip: "2001:db8::2" protocol: 17)");
  for (const auto* want : {expected_a.get(), expected_b.get()}) {
    const auto got = s->next();
    ASSERT_NE(got, nullptr);
    std::string diff;
    pb::util::MessageDifferencer d;
    d.ReportDifferencesToString(&diff);
    EXPECT_TRUE(d.Compare(*want, *got)) << diff << "got: " << got->DebugString();
  }
}

TEST_F(Grpc, FiltersApplyPerClient) {
  start();
  auto all = subscribe(channel(port_));
  auto high = subscribe(channel(port_), "min_severity: SEVERITY_HIGH");
  auto fw = subscribe(channel(port_), "components: ['firewall', 'dns']");
  auto discovery = subscribe(channel(port_), "tactics: 'discovery'");
  auto technique = subscribe(channel(port_), "techniques: ['t1046', 'T1071']");
  auto both = subscribe(channel(port_), "min_severity: SEVERITY_HIGH components: 'ids'");

  struct Case {
    const char* message;
    const char* component;
    rampart_severity severity;
    const char* technique;
    const char* tactic;
  };
  const Case cases[] = {
      {"low fw", "firewall", RAMPART_SEVERITY_LOW, "", ""},
      {"high ids scan", "ids", RAMPART_SEVERITY_HIGH, "T1046", "Discovery"},
      {"medium dns c2", "dns", RAMPART_SEVERITY_MEDIUM, "T1071", "Command and Control"},
      {"critical ids", "ids", RAMPART_SEVERITY_CRITICAL, "T1190", "Initial Access"},
      {"medium ddos", "ddos", RAMPART_SEVERITY_MEDIUM, "T1046.001", "DISCOVERY"},
  };
  for (const auto& c : cases) {
    TestAlert a;
    a.message = c.message;
    a.component = c.component;
    a.severity = c.severity;
    a.technique_id = c.technique;
    a.tactic = c.tactic;
    emit(a);
  }
  // One that every filter lets through, so each stream has a known end.
  TestAlert last;
  last.message = "end";
  last.component = "ids";
  last.severity = RAMPART_SEVERITY_CRITICAL;
  last.technique_id = "T1046";
  last.tactic = "Discovery";
  last.rule_id = "x";
  // "end" must pass the component filter of `fw` too: a second copy from dns.
  TestAlert last_dns = last;
  last_dns.component = "dns";
  emit(last);
  emit(last_dns);

  auto until_end = [](Stream& s) {
    std::vector<std::string> got;
    for (auto m = s.next(); m && field(*m, "message") != "end"; m = s.next())
      got.push_back(field(*m, "message"));
    return got;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(until_end(*all),
            (V{"low fw", "high ids scan", "medium dns c2", "critical ids", "medium ddos"}));
  EXPECT_EQ(until_end(*high), (V{"high ids scan", "critical ids"}));
  EXPECT_EQ(until_end(*fw), (V{"low fw", "medium dns c2"}));
  EXPECT_EQ(until_end(*discovery), (V{"high ids scan", "medium ddos"}))
      << "tactics compare case-insensitively";
  EXPECT_EQ(until_end(*technique), (V{"high ids scan", "medium dns c2"}))
      << "techniques match whole ids, case-insensitively";
  EXPECT_EQ(until_end(*both), (V{"high ids scan", "critical ids"}));
}

// A client that stops reading is cut off once plugins.grpc.queue alerts
// wait for it; the reading client gets every alert, in order, meanwhile.
TEST_F(Grpc, ClientThatStopsReadingIsCutOffAndTheOthersKeepEverything) {
  constexpr int kQueue = 64;
  start("queue: " + std::to_string(kQueue));
  Reader fast(subscribe(channel(port_)));
  auto slow = subscribe(stalling_channel(port_));
  EXPECT_EQ(metric("rampart_grpc_clients"), 2);

  // Batches paced by the reading client only, so at most 3/4 of its queue
  // is ever outstanding; the stalled one fills up on its own.
  int sent = 0;
  auto batch = [&] {
    for (int i = 0; i < kQueue / 2; ++i) emit(numbered(sent++));
    return fast.wait_for(static_cast<size_t>(sent - kQueue / 4));
  };
  constexpr int kLimit = 200'000;
  while (log_.count("cut off") == 0 && sent < kLimit) ASSERT_TRUE(batch()) << sent;
  ASSERT_EQ(log_.count("cut off"), 1u) << "not cut off after " << sent << " alerts";
  const int at_cut = sent;
  RecordProperty("alerts_until_cut", at_cut);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(batch());

  ASSERT_TRUE(fast.wait_for(static_cast<size_t>(sent)));
  EXPECT_EQ(fast.messages(), numbered_messages(0, sent)) << "every alert, in order";

  const auto [slow_got, slow_status] = drain(*slow);
  EXPECT_EQ(slow_status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(slow_status.error_message(),
            "client too slow: " + std::to_string(kQueue) + " alerts queued");
  EXPECT_LT(slow_got.size(), static_cast<size_t>(at_cut));
  EXPECT_EQ(slow_got, numbered_messages(0, static_cast<int>(slow_got.size())))
      << "what it got before the cut is a prefix, in order";

  EXPECT_EQ(log_.count("cut off ipv4:127.0.0.1:"), 1u) << log_.dump();

  // Once stopped, every write has completed and been counted.
  instance_->library().api().stop(instance_->handle());
  EXPECT_EQ(metric("rampart_grpc_clients_cut_total"), 1);
  EXPECT_EQ(metric("rampart_grpc_alerts_sent_total"), sent + static_cast<double>(slow_got.size()));
}

// stream_alert comes from the core's worker threads at once: every client
// gets every alert, each thread's in the order it sent them.
TEST_F(Grpc, AlertsFromManyThreadsReachEveryClientInEachThreadsOrder) {
  constexpr int kThreads = 4, kEach = 2000;
  start("queue: " + std::to_string(kThreads * kEach));
  Reader a(subscribe(channel(port_)));
  Reader b(subscribe(channel(port_), "min_severity: SEVERITY_MEDIUM"));
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        TestAlert x;
        x.message = std::to_string(t) + ":" + std::to_string(i);
        EXPECT_EQ(instance_->library().api().stream_alert(instance_->handle(), x.abi()),
                  RAMPART_OK);
      }
    });
  }
  for (auto& w : workers) w.join();
  for (auto* r : {&a, &b}) {
    ASSERT_TRUE(r->wait_for(kThreads * kEach));
    std::vector<int> next(kThreads, 0);
    for (const auto& m : r->messages()) {
      const int t = std::stoi(m.substr(0, m.find(':')));
      EXPECT_EQ(std::stoi(m.substr(m.find(':') + 1)), next[t]++) << m;
    }
    EXPECT_EQ(next, std::vector<int>(kThreads, kEach));
  }
}

TEST_F(Grpc, HealthServiceReportsServing) {
  start();
  auto ch = channel(port_);
  for (const char* service : {"", "rampart.v1.AlertStream"}) {
    grpc::ClientContext ctx;
    const auto req = protos().parse("grpc.health.v1.HealthCheckRequest",
                                    "service: '" + std::string(service) + "'");
    auto res = protos().make("grpc.health.v1.HealthCheckResponse");
    const auto st =
        grpc::internal::BlockingUnaryCall(ch.get(), kHealthCheck, &ctx, *req, res.get());
    ASSERT_TRUE(st.ok()) << service << ": " << st.error_message();
    EXPECT_EQ(field(*res, "status"), "SERVING") << service;
  }
  grpc::ClientContext ctx;
  const auto req = protos().parse("grpc.health.v1.HealthCheckRequest", "service: 'nope'");
  auto res = protos().make("grpc.health.v1.HealthCheckResponse");
  EXPECT_EQ(
      grpc::internal::BlockingUnaryCall(ch.get(), kHealthCheck, &ctx, *req, res.get()).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(Grpc, ReflectionListsAndDescribesTheAlertStream) {
  start();
  auto ch = channel(port_);
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<Message, Message>> rw(
      grpc::internal::ClientReaderWriterFactory<Message, Message>::Create(ch.get(), kReflection,
                                                                          &ctx));
  auto ask = [&](const std::string& request) {
    const auto req = protos().parse("grpc.reflection.v1alpha.ServerReflectionRequest", request);
    auto res = protos().make("grpc.reflection.v1alpha.ServerReflectionResponse");
    EXPECT_TRUE(rw->Write(*req));
    EXPECT_TRUE(rw->Read(res.get()));
    return res;
  };

  const auto services = ask("list_services: ''");
  std::vector<std::string> names;
  const auto& list = services->GetReflection()->GetMessage(
      *services, services->GetDescriptor()->FindFieldByName("list_services_response"));
  const auto* service_field = list.GetDescriptor()->FindFieldByName("service");
  for (int i = 0; i < list.GetReflection()->FieldSize(list, service_field); ++i)
    names.push_back(
        field(list.GetReflection()->GetRepeatedMessage(list, service_field, i), "name"));
  EXPECT_NE(std::find(names.begin(), names.end(), "rampart.v1.AlertStream"), names.end())
      << ::testing::PrintToString(names);

  // The file declaring it, as a client would fetch it to build requests.
  const auto file = ask("file_containing_symbol: 'rampart.v1.AlertStream'");
  const auto& fdr = file->GetReflection()->GetMessage(
      *file, file->GetDescriptor()->FindFieldByName("file_descriptor_response"));
  const auto* protos_field = fdr.GetDescriptor()->FindFieldByName("file_descriptor_proto");
  bool described = false;
  for (int i = 0; i < fdr.GetReflection()->FieldSize(fdr, protos_field); ++i) {
    pb::FileDescriptorProto fd;
    ASSERT_TRUE(fd.ParseFromString(fdr.GetReflection()->GetRepeatedString(fdr, protos_field, i)));
    if (fd.name() != "rampart/v1/alerts.proto") continue;
    ASSERT_EQ(fd.service_size(), 1);
    const auto& method = fd.service(0).method(0);
    EXPECT_EQ(method.name(), "StreamAlerts");
    EXPECT_EQ(method.input_type(), ".rampart.v1.StreamAlertsRequest");
    EXPECT_EQ(method.output_type(), ".rampart.v1.Alert");
    EXPECT_TRUE(method.server_streaming());
    described = true;
  }
  EXPECT_TRUE(described);
  rw->WritesDone();
  EXPECT_TRUE(rw->Finish().ok());
}

TEST_F(Grpc, ApiKeysAreCheckedByTheCore) {
  start();
  const auto [key, token] = keys_.create("dash", rampart::store::Role::viewer);

  for (const auto& md : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {},
           {{"authorization", "Bearer rp_00000000_" + std::string(64, '0')}},
           {{"x-api-key", "garbage"}}}) {
    auto s = subscribe(channel(port_), "", md);
    const auto [got, st] = drain(*s);
    EXPECT_TRUE(got.empty());
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
    EXPECT_NE(st.error_message().find("API key"), std::string::npos) << st.error_message();
  }
  using Metadata = std::vector<std::pair<std::string, std::string>>;
  auto bearer = subscribe(channel(port_), "", Metadata{{"authorization", "Bearer " + token}});
  auto header = subscribe(channel(port_), "", Metadata{{"x-api-key", token}});
  emit(numbered(1));
  for (auto* s : {bearer.get(), header.get()}) {
    const auto m = s->next();
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(field(*m, "message"), "alert 1");
  }
}

TEST_F(Grpc, RequireKeyFalseLetsClientsInWithoutOne) {
  keys_.create("dash", rampart::store::Role::viewer);
  start("require_key: false");
  auto s = subscribe(channel(port_), "", std::vector<std::pair<std::string, std::string>>{});
  emit(numbered(7));
  const auto m = s->next();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(field(*m, "message"), "alert 7");
}

TEST_F(Grpc, ServesTlsWithTheConfiguredCertificate) {
  const auto cert = dir_ / "cert.pem", key = dir_ / "key.pem";
  const auto made = rampart::test::run_command(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext",
       "subjectAltName=DNS:localhost,IP:127.0.0.1"});
  ASSERT_EQ(made.status, 0) << made.output;
  start("tls: {cert: " + cert + ", key: " + key + "}");
  EXPECT_EQ(log_.count("(tls)"), 1u);

  grpc::SslCredentialsOptions trust;
  trust.pem_root_certs = rampart::test::read_file(cert);
  auto s = subscribe(channel(port_, grpc::SslCredentials(trust)));
  emit(numbered(1));
  const auto m = s->next();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(field(*m, "message"), "alert 1");

  auto plain = subscribe(channel(port_));
  EXPECT_EQ(drain(*plain).second.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "no plaintext on a TLS port";
}

// stop() ends every stream, the stalled ones too (cancelled after a short
// grace), and stream_alert after it is harmless.
TEST_F(Grpc, StopEndsEveryStreamAndLaterAlertsAreDropped) {
  start("queue: 100000");
  auto reading = subscribe(channel(port_));
  auto stalled = subscribe(stalling_channel(port_));
  for (int i = 0; i < 2000; ++i) emit(numbered(i));
  EXPECT_NE(reading->next(), nullptr);

  const auto& api = instance_->library().api();
  api.stop(instance_->handle());  // what the host calls on shutdown
  EXPECT_NE(drain(*reading).second.error_code(), grpc::StatusCode::OK);
  EXPECT_NE(drain(*stalled).second.error_code(), grpc::StatusCode::OK);
  TestAlert late = numbered(9999);
  EXPECT_EQ(api.stream_alert(instance_->handle(), late.abi()), RAMPART_OK);
  EXPECT_EQ(metric("rampart_grpc_clients"), 0);

  auto refused = subscribe(channel(port_));
  EXPECT_EQ(drain(*refused).second.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(Grpc, ReadingClientSeesUnavailableWhenTheAgentStops) {
  start();
  auto s = subscribe(channel(port_));
  pm_.stop_all();
  const auto [got, st] = drain(*s);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(st.error_message(), "rampart is stopping");
}

TEST_F(Grpc, BadSettingsFailTheStartNamingTheKey) {
  pm_.discover({rampart::test::path::plugins()});
  pm_.start(rampart::test::config_from("plugins:\n  grpc: {queue: 0}\n"));
  ASSERT_EQ(pm_.running(), 0u);
  EXPECT_EQ(log_.count("plugins.grpc.queue: expected 1 to 1000000 alerts, got 0"), 1u)
      << log_.dump();
}

TEST_F(Grpc, PortInUseFailsTheStart) {
  start();
  PluginManager second(core_.services);
  second.discover({rampart::test::path::plugins()});
  second.start(rampart::test::config_from(
      "plugins:\n  grpc: {listen: '127.0.0.1:" + std::to_string(port_) + "'}\n"));
  EXPECT_EQ(second.running(), 0u);
  EXPECT_EQ(log_.count("cannot listen on 127.0.0.1:" + std::to_string(port_)), 1u) << log_.dump();
  EXPECT_GE(log_.count("[grpc] grpc: "), 1u) << "gRPC's own complaint, in the host's log";
}

}  // namespace

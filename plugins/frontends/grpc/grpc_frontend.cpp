// SPDX-License-Identifier: Apache-2.0
// The gRPC frontend: rampart.v1.AlertStream/StreamAlerts streams every
// alert the core hands to stream_alert (ABI 1.3) to each connected client,
// filtered per client, on plugins.grpc.listen (default 127.0.0.1:50051),
// optionally over TLS. API keys are checked by the core, as for the REST
// API; the standard health service and server reflection are served too.
// See docs/grpc.md.
#include <rampart/sdk/plugin.hpp>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <grpc/support/log.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>

#include "alert_stream.hpp"
#include "listen_settings.hpp"

namespace {

using rampart::sdk::Config;
using rampart::sdk::Host;
namespace frontend = rampart::frontend;
namespace gf = rampart::grpc_frontend;
namespace v1 = rampart::v1;

constexpr const char* kService = "rampart.v1.AlertStream";
// How long stop() lets streams end cleanly before gRPC cancels them.
constexpr auto kStopGrace = std::chrono::seconds(1);

struct Settings {
  frontend::ListenAddress listen;
  std::optional<frontend::TlsSettings> tls;
  size_t queue = 1024;
  bool require_key = true;

  static Settings from(const Config& cfg) {
    cfg.allow_only("", {"listen", "tls", "queue", "require_key"});
    Settings s;
    s.listen = frontend::parse_listen(cfg, "listen", "127.0.0.1:50051");
    s.tls = frontend::parse_tls(cfg, "tls");
    const auto queue = cfg.get<int64_t>("queue", 1024);
    if (queue < 1 || queue > 1'000'000)
      throw cfg.invalid("queue", "expected 1 to 1000000 alerts, got " + std::to_string(queue));
    s.queue = static_cast<size_t>(queue);
    s.require_key = cfg.get<bool>("require_key", true);
    return s;
  }
};

// gRPC's own log lines (a port in use, a failed TLS handshake) go to the
// host's log, attributed to the plugin, instead of raw to stderr: the
// instance started last receives them.
std::mutex g_log_mu;
const Host* g_log_host = nullptr;

void grpc_log(gpr_log_func_args* args) {
  std::lock_guard lock(g_log_mu);
  if (!g_log_host) return;
  const std::string text = std::string("grpc: ") + (args->message ? args->message : "");
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      g_log_host->debug(text);
      break;
    case GPR_LOG_SEVERITY_INFO:
      g_log_host->info(text);
      break;
    default:
      g_log_host->warn(
          text);  // mostly a client's doing (handshakes); the plugin reports its own errors
  }
}

void route_grpc_log(const Host* host) {
  std::lock_guard lock(g_log_mu);
  g_log_host = host;
  if (host) gpr_set_log_function(&grpc_log);
}

void unroute_grpc_log(const Host* host) {
  std::lock_guard lock(g_log_mu);
  if (g_log_host == host) g_log_host = nullptr;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  if (!in) throw rampart::sdk::Error(RAMPART_ERR_INVALID_ARGUMENT, "cannot read " + path);
  return s.str();
}

std::string metadata(const grpc::CallbackServerContext& ctx, const char* key) {
  const auto& md = ctx.client_metadata();
  const auto it = md.find(key);
  return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
}

// The core's answer to whoami as a gRPC status: 401 and 403 keep their
// meaning, the core's "detail" text becomes the status message.
grpc::Status auth_status(const Host::ApiResponse& who) {
  if (who.status == 200) return grpc::Status::OK;
  // The body is the core's JSON error object: its "detail", else all of it.
  std::string detail = who.body;
  try {
    const auto v = Poco::JSON::Parser().parse(who.body);
    if (const auto o = v.extract<Poco::JSON::Object::Ptr>(); o && o->has("detail"))
      detail = o->getValue<std::string>("detail");
  } catch (const Poco::Exception&) {
  } catch (const std::exception&) {
  }
  if (who.status == 401) return {grpc::StatusCode::UNAUTHENTICATED, detail};
  if (who.status == 403) return {grpc::StatusCode::PERMISSION_DENIED, detail};
  return {grpc::StatusCode::UNAVAILABLE, "cannot check the API key: " + detail};
}

class Service final : public v1::AlertStream::CallbackService {
 public:
  Service(const Host& host, std::shared_ptr<gf::Hub> hub, bool require_key)
      : host_(host), hub_(std::move(hub)), require_key_(require_key) {}

  grpc::ServerWriteReactor<v1::Alert>* StreamAlerts(grpc::CallbackServerContext* ctx,
                                                    const v1::StreamAlertsRequest* req) override {
    if (require_key_) {
      // The core decides, as for every API request: open until a key exists.
      grpc::Status st;
      try {
        st = auth_status(host_.api_call(
            "GET", "/api/v1/auth/whoami", "", "", "grpc:" + ctx->peer(),
            frontend::api_key_from(metadata(*ctx, "authorization"), metadata(*ctx, "x-api-key"))));
      } catch (const std::exception& e) {
        st = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          std::string("cannot check the API key: ") + e.what());
      }
      if (!st.ok()) return new gf::Refusal(st);
    }
    return hub_->open(ctx->peer(), gf::Filter::from(*req));
  }

 private:
  const Host& host_;
  std::shared_ptr<gf::Hub> hub_;
  bool require_key_;
};

class GrpcFrontend {
 public:
  // None of its settings is secret: tls.key is the key file's path, not
  // the key, and API keys live in the key store, never in the config.
  static constexpr const char* kSecretSettings[] = {nullptr};

  GrpcFrontend(Host& host, const Config& cfg)
      : host_(host),
        settings_(Settings::from(cfg)),
        hub_(std::make_shared<gf::Hub>(
            host, settings_.queue,
            gf::StreamMetrics{
                host.gauge("rampart_grpc_clients", "Clients streaming alerts over gRPC"),
                host.counter("rampart_grpc_alerts_sent_total",
                             "Alerts written to gRPC clients (one per client)"),
                host.counter("rampart_grpc_clients_cut_total",
                             "gRPC clients cut off because their queue was full")})) {}

  ~GrpcFrontend() {
    stop();
    unroute_grpc_log(&host_);
  }

  void start() {
    std::shared_ptr<grpc::ServerCredentials> creds;
    if (settings_.tls) {
      grpc::SslServerCredentialsOptions opts;
      opts.pem_key_cert_pairs.push_back(
          {read_file(settings_.tls->key_file), read_file(settings_.tls->cert_file)});
      creds = grpc::SslServerCredentials(opts);
    } else {
      creds = grpc::InsecureServerCredentials();
    }
    route_grpc_log(&host_);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    service_ = std::make_unique<Service>(host_, hub_, settings_.require_key);

    const auto& at = settings_.listen;
    const std::string address =
        (at.host.find(':') != std::string::npos ? "[" + at.host + "]" : at.host) + ":" +
        std::to_string(at.port);
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, creds, &port);
    builder.RegisterService(service_.get());
    // Notice peers that vanished without closing: ping idle connections.
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60'000);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
    // A port someone else holds is an error, not a port to share.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    server_ = builder.BuildAndStart();
    if (!server_ || port == 0) {
      server_.reset();
      throw rampart::sdk::Error(RAMPART_ERR_INTERNAL,
                                "cannot listen on " + address + " (in use, or a bad address)");
    }
    server_->GetHealthCheckService()->SetServingStatus(kService, true);
    settings_.listen.port = static_cast<uint16_t>(port);  // the one bound when 0 was asked for
    host_.info("listening on " + settings_.listen.text() + (settings_.tls ? " (tls)" : ""));
  }

  // Streams end with UNAVAILABLE; what has not ended after kStopGrace (a
  // client that stopped reading) is cancelled.
  void stop() {
    if (!server_) return;
    server_->GetHealthCheckService()->Shutdown();
    hub_->close();
    server_->Shutdown(std::chrono::system_clock::now() + kStopGrace);
    server_->Wait();
    if (!hub_->wait_idle(std::chrono::seconds(5)))
      host_.warn("streams still open 5 s after the server shut down");
    server_.reset();
    service_.reset();
  }

  void validate(const Config& cfg) { (void)Settings::from(cfg); }

  // From worker threads, for every alert: queued per client, never waits.
  void stream_alert(const rampart::sdk::Alert& alert) { hub_->publish(alert); }

 private:
  Host& host_;
  Settings settings_;
  std::shared_ptr<gf::Hub> hub_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace

RAMPART_PLUGIN(GrpcFrontend, RAMPART_KIND_FRONTEND, "grpc", "gRPC alert stream",
               RAMPART_AGENT_VERSION, "Apache-2.0",
               "rampart.v1.AlertStream: alerts streamed to gRPC clients, filtered")

// SPDX-License-Identifier: Apache-2.0
// The `webhook` sender: POSTs each alert's JSON to an http:// or https://
// URL. 2xx is delivered; 5xx, 408, 429, connection errors and timeouts are
// retried with exponential backoff and full jitter (or after the server's
// Retry-After on 429/503), other answers are final. A whole delivery,
// attempts and waits included, stays within timeout_ms; stop() cuts it
// short, the attempt in progress included (its socket is shut down), so
// rampartd stops promptly and keeps the alert for its next start.
#include <rampart/sdk/plugin.hpp>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "alert_json.hpp"
#include "client_tls.hpp"
#include "interrupter.hpp"
#include "settings.hpp"

namespace {

using rampart::sdk::Alert;
using rampart::sdk::Config;
using rampart::sdk::Error;
using rampart::sdk::Host;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Settings {
  bool https = false;
  std::string host;
  uint16_t port = 0;
  std::string endpoint;  // scheme://host:port: what messages show (paths often hold a secret)
  std::string target;    // path and query
  std::vector<std::pair<std::string, std::string>> headers;
  milliseconds timeout{5000};
  unsigned retries = 3;
  milliseconds backoff{200};
  milliseconds max_backoff{5000};
  Poco::Net::Context::Ptr tls;  // https only
  rampart::sender::Format format = rampart::sender::Format::rampart;
};

// RFC 9110 token characters (header field names).
bool token_char(char c) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         extra.find(c) != std::string_view::npos;
}

void parse_headers(const Config& cfg, Settings& s) {
  if (!cfg.has("headers")) return;
  if (cfg.type("headers") != RAMPART_CONFIG_MAP)
    throw cfg.invalid("headers", "expected a map of header name: value");
  for (const auto& name : cfg.keys("headers")) {
    const std::string key = "headers." + name;
    rampart::sender::refuse_control_chars(cfg, key, name);
    if (name.empty() || !std::all_of(name.begin(), name.end(), token_char))
      throw cfg.invalid(key, "'" + name + "' is not a valid header name");
    if (name.find('.') != std::string::npos)
      throw cfg.invalid(key, "header names with '.' cannot be configured");
    for (const char* own :
         {"Content-Type", "Content-Length", "Host", "Transfer-Encoding", "Connection"}) {
      if (Poco::icompare(name, std::string(own)) == 0)
        throw cfg.invalid(key, "is set by the sender itself");
    }
    const auto value = cfg.require<std::string>(key);
    rampart::sender::refuse_control_chars(cfg, key, value);
    s.headers.emplace_back(name, value);
  }
}

std::shared_ptr<const Settings> parse(const Config& cfg) {
  using rampart::sender::int_setting;
  cfg.allow_only("", {"url", "headers", "timeout_ms", "retries", "backoff_ms", "max_backoff_ms",
                      "tls", "format"});
  auto s = std::make_shared<Settings>();
  s->format = rampart::sender::format_setting(cfg);
  if (!cfg.has("url")) throw cfg.invalid("url", "required: the http:// or https:// URL to POST to");
  const auto url = cfg.require<std::string>("url");
  rampart::sender::refuse_control_chars(cfg, "url", url);
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception& e) {
    throw cfg.invalid("url", "not a URL: " + e.displayText());
  }
  const std::string scheme = uri.getScheme();
  if (scheme != "http" && scheme != "https")
    throw cfg.invalid("url", "expected an http:// or https:// URL, got '" + url + "'");
  if (uri.getHost().empty()) throw cfg.invalid("url", "has no host");
  if (!uri.getUserInfo().empty())
    throw cfg.invalid("url",
                      "credentials in the URL are not supported: set an Authorization header");
  s->https = scheme == "https";
  s->host = uri.getHost();
  s->port = uri.getPort();
  const bool v6 = s->host.find(':') != std::string::npos;
  s->endpoint =
      scheme + "://" + (v6 ? "[" + s->host + "]" : s->host) + ":" + std::to_string(s->port);
  s->target = uri.getPathAndQuery();
  if (s->target.empty()) s->target = "/";

  parse_headers(cfg, *s);
  s->timeout = milliseconds(int_setting(cfg, "timeout_ms", 5000, 1, 600000));
  s->retries = static_cast<unsigned>(int_setting(cfg, "retries", 3, 0, 100));
  s->backoff = milliseconds(int_setting(cfg, "backoff_ms", 200, 0, 600000));
  s->max_backoff = milliseconds(int_setting(cfg, "max_backoff_ms", 5000, 0, 3600000));
  if (s->max_backoff < s->backoff)
    throw cfg.invalid("max_backoff_ms", "must not be less than backoff_ms");
  if (cfg.has("tls") && !s->https) throw cfg.invalid("tls", "applies to https:// URLs only");
  if (s->https) s->tls = rampart::sender::parse_client_tls(cfg, "tls");
  return s;
}

// What one attempt came to.
struct Outcome {
  enum Kind { delivered, retry, final } kind;
  std::string what;                         // "HTTP 503 Service Unavailable", "Connection refused"
  std::optional<milliseconds> retry_after;  // the server's Retry-After (429, 503)
};

std::optional<milliseconds> retry_after(const Poco::Net::HTTPResponse& res) {
  const std::string v = Poco::trim(res.get("Retry-After", ""));
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), digit)) return std::nullopt;
  return milliseconds(std::stoll(v) * 1000);
}

// Up to 200 printable characters of the answer's body, for the error text.
std::string body_excerpt(std::istream& in) {
  std::string text(200, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return rampart::sender::valid_utf8(Poco::trim(text));
}

// One POST within `budget`. The socket is opened here rather than by the
// session so that `stop` watches it from before the connect: stop() can
// then end any phase of the attempt.
Outcome post(const Settings& s, const std::string& body, milliseconds budget,
             rampart::sender::Interrupter& stop) {
  const Poco::Timespan t(static_cast<Poco::Timespan::TimeDiff>(budget.count()) * 1000);
  Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_POST, s.target,
                             Poco::Net::HTTPMessage::HTTP_1_1);
  req.setHost(s.host, s.port);
  req.setContentType("application/json");
  req.setContentLength(static_cast<std::streamsize>(body.size()));
  req.set("User-Agent", "rampart-webhook");
  req.setKeepAlive(false);
  for (const auto& [name, value] : s.headers) req.set(name, value);
  try {
    const Poco::Net::SocketAddress address(s.host, s.port);
    Poco::Net::StreamSocket socket(address.family());
    const rampart::sender::Interrupter::Watch watch(stop, socket.impl()->sockfd());
    socket.connect(address, t);
    socket.setReceiveTimeout(t);
    socket.setSendTimeout(t);
    socket.setNoDelay(true);
    std::optional<Poco::Net::HTTPClientSession> session;
    if (s.https) {
      // The handshake, checking the certificate against the URL's host.
      session.emplace(Poco::Net::SecureStreamSocket::attach(socket, s.host, s.tls));
    } else {
      session.emplace(socket);
    }
    session->sendRequest(req) << body << std::flush;
    Poco::Net::HTTPResponse res;
    std::istream& in = session->receiveResponse(res);
    const int code = res.getStatus();
    if (code >= 200 && code <= 299) return {Outcome::delivered, "", std::nullopt};
    std::string what = "HTTP " + std::to_string(code) + " " + res.getReason();
    const std::string excerpt = body_excerpt(in);
    if (!excerpt.empty()) what += ": " + excerpt;
    if (code == 408 || code == 429 || code >= 500) {
      return {Outcome::retry, what, code == 429 || code == 503 ? retry_after(res) : std::nullopt};
    }
    return {Outcome::final, what, std::nullopt};
  } catch (const rampart::sender::Interrupted& e) {
    return {Outcome::final, e.what(), std::nullopt};
  } catch (const Poco::TimeoutException&) {
    if (stop.interrupted()) return {Outcome::final, rampart::sender::Interrupted().what(), {}};
    return {Outcome::retry, "timed out after " + std::to_string(budget.count()) + " ms",
            std::nullopt};
  } catch (const Poco::Exception& e) {
    if (stop.interrupted()) return {Outcome::final, rampart::sender::Interrupted().what(), {}};
    return {Outcome::retry, e.displayText(), std::nullopt};
  } catch (const std::exception& e) {
    if (stop.interrupted()) return {Outcome::final, rampart::sender::Interrupted().what(), {}};
    return {Outcome::retry, e.what(), std::nullopt};
  }
}

class WebhookSender {
 public:
  // Shown redacted by GET /api/v1/config: header values carry API keys and
  // bearer tokens, and webhook URLs often carry a token in their path
  // (Slack, Teams) or query; where they point (scheme, host, port) stays.
  // tls holds only a CA file path and a flag.
  static constexpr const char* kSecretSettings[] = {"url#url", "headers.*", nullptr};

  WebhookSender(Host& host, const Config& cfg)
      : host_(host), settings_(parse(cfg)), rng_(std::random_device{}()) {
    deliveries_ = host_.counter("rampart_webhook_deliveries_total", "Alerts the webhook accepted");
    failures_ = host_.counter("rampart_webhook_failures_total",
                              "Alerts not delivered (after retries, or refused by the webhook)");
    retries_ = host_.counter("rampart_webhook_retries_total", "Webhook attempts that were retried");
    host_.info("posting alerts to " + settings_->endpoint);
  }

  void validate(const Config& cfg) { (void)parse(cfg); }

  void reload(const Config& cfg) {
    auto next = parse(cfg);
    std::lock_guard lock(mu_);
    settings_ = std::move(next);
  }

  // May run while send_alert is blocked on the delivery thread: ends its
  // attempt (socket shut down) or its wait before a retry.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    interrupter_.interrupt();
  }

  void send_alert(const Alert& alert) {
    std::shared_ptr<const Settings> s;
    {
      std::lock_guard lock(mu_);
      s = settings_;
    }
    const std::string body = rampart::sender::format_alert(s->format, alert);
    const auto deadline = Clock::now() + s->timeout;
    for (unsigned attempt = 1;; ++attempt) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      const Outcome o = post(*s, body, std::max(left, milliseconds(1)), interrupter_);
      if (o.kind == Outcome::delivered) {
        deliveries_.inc();
        return;
      }
      if (interrupter_.interrupted()) fail(*s, o.what);
      if (o.kind == Outcome::final) fail(*s, "refused the alert (not retried): " + o.what);
      if (attempt > s->retries) fail(*s, after(attempt) + o.what);
      const milliseconds wait =
          o.retry_after ? std::min(*o.retry_after, s->max_backoff) : jitter(backoff(*s, attempt));
      if (Clock::now() + wait >= deadline) {
        fail(*s, after(attempt) + "timeout_ms (" + std::to_string(s->timeout.count()) +
                     ") leaves no time for another; last: " + o.what);
      }
      host_.debug("attempt " + std::to_string(attempt) + " failed (" + o.what + "); retrying in " +
                  std::to_string(wait.count()) + " ms");
      retries_.inc();
      if (!pause(wait)) fail(*s, "stopped while waiting to retry; last: " + o.what);
    }
  }

 private:
  static std::string after(unsigned attempts) {
    return "not delivered after " + std::to_string(attempts) +
           (attempts == 1 ? " attempt: " : " attempts: ");
  }
  [[noreturn]] void fail(const Settings& s, const std::string& why) {
    failures_.inc();
    throw Error(RAMPART_ERR_BUSY, "webhook " + s.endpoint + ": " + why);
  }
  // Before retry `attempt` (1, 2, ...): backoff_ms doubled attempt-1
  // times, at most max_backoff_ms.
  static milliseconds backoff(const Settings& s, unsigned attempt) {
    milliseconds b = s.backoff;
    for (unsigned i = 1; i < attempt && b < s.max_backoff; ++i) b *= 2;
    return std::min(b, s.max_backoff);
  }
  // Full jitter: uniformly random in [0, cap].
  milliseconds jitter(milliseconds cap) {
    std::lock_guard lock(mu_);
    return milliseconds(std::uniform_int_distribution<int64_t>(0, cap.count())(rng_));
  }
  // Waits `d` unless stopped first (false then). Holds no lock while waiting.
  bool pause(milliseconds d) {
    std::unique_lock lock(mu_);
    return !wake_.wait_for(lock, d, [&] { return stopping_; });
  }

  Host& host_;
  std::mutex mu_;  // guards settings_, rng_, stopping_
  std::condition_variable wake_;
  std::shared_ptr<const Settings> settings_;
  std::mt19937_64 rng_;
  bool stopping_ = false;
  rampart::sender::Interrupter interrupter_;
  rampart::sdk::Metric deliveries_, failures_, retries_;
};

}  // namespace

RAMPART_PLUGIN(WebhookSender, RAMPART_KIND_SENDER, "webhook", "Webhook alert sender",
               RAMPART_AGENT_VERSION, "Apache-2.0",
               "POSTs every alert as JSON to an HTTP(S) endpoint, with retries")

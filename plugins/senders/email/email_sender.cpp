// SPDX-License-Identifier: Apache-2.0
// The `email` sender: alerts by SMTP, one message per alert or batched into
// digests. Each message holds a readable summary and the alert JSON. The
// connection is upgraded with STARTTLS (required by default) before any
// credentials are sent; AUTH PLAIN or LOGIN, whichever the server offers.
//
// Digests: send_alert queues the alert; the call that fills the batch to
// digest.max_alerts sends it (and throws if that fails, so the core's
// breaker sees it); a flusher thread owned by the plugin sends what waited
// digest.interval_seconds since its first alert, keeping the batch for the
// next attempt when the server cannot be reached.
#include <rampart/sdk/plugin.hpp>

#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <Poco/Timestamp.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
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

constexpr const char* kPlaceholders[] = {"severity", "component", "rule_id",      "message",
                                         "src_ip",   "dst_ip",    "technique_id", "count"};
constexpr const char* kSubject = "[Rampart] {severity} {component}: {message}";
// The digest stop() still tries to send gets at most this long: rampartd
// must stop within agent.stop_timeout_seconds (5 s by default).
constexpr milliseconds kLastDigestBudget{2000};
constexpr const char* kDigestSubject =
    "[Rampart] {count} alerts, most severe: {severity} {component}: {message}";

enum class StartTls { required, optional, off };

struct Digest {
  size_t max_alerts = 100;
  std::chrono::seconds interval{60};
};

struct Settings {
  std::string server;  // "host:port" as configured
  std::string host;
  uint16_t port = 0;
  bool loopback = false;
  std::string from, from_domain;
  std::vector<std::string> to;
  StartTls starttls = StartTls::required;
  std::string username, password;
  milliseconds timeout{10000};
  std::string subject;
  std::optional<Digest> digest;
  Poco::Net::Context::Ptr tls;  // unless starttls: off
};

// --- settings ---------------------------------------------------------------

// "local@domain": nothing that could end an SMTP command or a header.
std::string address_problem(const std::string& a) {
  const auto at = a.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == a.size() || a.find('@', at + 1) != a.npos)
    return "'" + a + "' is not an address (local@domain)";
  for (const char c : a) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' ||
        c == ';' || c == '"')
      return "'" + a + "' is not an address (local@domain, no spaces, quotes or brackets)";
  }
  return "";
}

// `from` as "alerts@example.com" or "Rampart <alerts@example.com>"; returns
// the address.
std::string parse_from(const Config& cfg) {
  if (!cfg.has("from")) throw cfg.invalid("from", "required: the sender address");
  const auto from = cfg.require<std::string>("from");
  rampart::sender::refuse_control_chars(cfg, "from", from);
  std::string address = from;
  const auto open = from.find('<');
  if (open != std::string::npos) {
    const auto close = from.find('>', open);
    if (close == std::string::npos || close + 1 != from.size() ||
        from.find_first_of("<>", open + 1) != close)
      throw cfg.invalid("from", "expected address or Name <address>, got '" + from + "'");
    address = from.substr(open + 1, close - open - 1);
  }
  if (const auto why = address_problem(address); !why.empty()) throw cfg.invalid("from", why);
  return address;
}

void parse_server(const Config& cfg, Settings& s) {
  if (!cfg.has("server")) throw cfg.invalid("server", "required: the SMTP server as host:port");
  s.server = cfg.require<std::string>("server");
  const auto bad = [&] {
    return cfg.invalid("server", "expected host:port, got '" + s.server + "'");
  };
  std::string port;
  if (!s.server.empty() && s.server.front() == '[') {
    const auto close = s.server.find(']');
    if (close == std::string::npos || s.server.compare(close + 1, 1, ":") != 0) throw bad();
    s.host = s.server.substr(1, close - 1);
    port = s.server.substr(close + 2);
  } else {
    const auto colon = s.server.rfind(':');
    if (colon == std::string::npos || s.server.find(':') != colon) throw bad();
    s.host = s.server.substr(0, colon);
    port = s.server.substr(colon + 1);
  }
  if (s.host.empty() || port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw bad();
  const int n = std::stoi(port);
  if (n < 1 || n > 65535) throw bad();
  s.port = static_cast<uint16_t>(n);
  Poco::Net::IPAddress ip;
  s.loopback = Poco::icompare(s.host, std::string("localhost")) == 0 ||
               (Poco::Net::IPAddress::tryParse(s.host, ip) && ip.isLoopback());
}

// Refuses {name} placeholders the sender does not know.
void check_template(const Config& cfg, const std::string& key, const std::string& t) {
  rampart::sender::refuse_control_chars(cfg, key, t);
  for (size_t open = t.find('{'); open != std::string::npos; open = t.find('{', open + 1)) {
    const auto close = t.find('}', open);
    if (close == std::string::npos) break;
    const std::string name = t.substr(open + 1, close - open - 1);
    const bool known = std::any_of(std::begin(kPlaceholders), std::end(kPlaceholders),
                                   [&](const char* p) { return name == p; });
    if (!known) {
      std::string list;
      for (const char* p : kPlaceholders)
        list += std::string(list.empty() ? "" : " ") + "{" + p + "}";
      throw cfg.invalid(key, "unknown placeholder {" + name + "}; known: " + list);
    }
  }
}

std::shared_ptr<const Settings> parse(const Config& cfg) {
  using rampart::sender::int_setting;
  cfg.allow_only("", {"server", "from", "to", "starttls", "username", "password", "timeout_ms",
                      "subject", "digest", "tls"});
  auto s = std::make_shared<Settings>();
  parse_server(cfg, *s);
  const std::string from_address = parse_from(cfg);
  s->from = cfg.require<std::string>("from");
  s->from_domain = from_address.substr(from_address.find('@') + 1);

  if (cfg.type("to") != RAMPART_CONFIG_SEQUENCE || cfg.size("to") == 0)
    throw cfg.invalid("to", "required: a non-empty list of recipient addresses");
  s->to = cfg.strings("to");
  for (size_t i = 0; i < s->to.size(); ++i) {
    if (const auto why = address_problem(s->to[i]); !why.empty())
      throw cfg.invalid("to." + std::to_string(i), why);
  }

  const auto starttls = cfg.get<std::string>("starttls", "required");
  if (starttls == "required") {
    s->starttls = StartTls::required;
  } else if (starttls == "optional") {
    s->starttls = StartTls::optional;
  } else if (starttls == "off") {
    s->starttls = StartTls::off;
  } else {
    throw cfg.invalid("starttls", "expected required, optional or off, got '" + starttls + "'");
  }

  s->username = cfg.get<std::string>("username", "");
  s->password = cfg.get<std::string>("password", "");
  if (cfg.has("username") != cfg.has("password")) {
    const bool user = cfg.has("username");
    throw cfg.invalid(user ? "username" : "password",
                      std::string("needs ") + (user ? "password" : "username") + " too");
  }
  rampart::sender::refuse_control_chars(cfg, "username", s->username);
  if (cfg.has("username") && s->starttls == StartTls::off && !s->loopback) {
    throw cfg.invalid("starttls", "'off' would send the password in clear text to " + s->host +
                                      ": use required (or a loopback server)");
  }

  s->timeout = milliseconds(int_setting(cfg, "timeout_ms", 10000, 1, 600000));

  if (cfg.has("digest")) {
    if (cfg.type("digest") != RAMPART_CONFIG_MAP)
      throw cfg.invalid("digest", "expected {max_alerts, interval_seconds}");
    cfg.allow_only("digest", {"max_alerts", "interval_seconds"});
    Digest d;
    d.max_alerts = static_cast<size_t>(int_setting(cfg, "digest.max_alerts", 100, 1, 10000));
    d.interval = std::chrono::seconds(int_setting(cfg, "digest.interval_seconds", 60, 1, 86400));
    s->digest = d;
  }
  s->subject = cfg.get<std::string>("subject", s->digest ? kDigestSubject : kSubject);
  check_template(cfg, "subject", s->subject);

  if (s->starttls == StartTls::off && cfg.has("tls"))
    throw cfg.invalid("tls", "has no effect with starttls: off");
  if (s->starttls != StartTls::off) s->tls = rampart::sender::parse_client_tls(cfg, "tls");
  return s;
}

// --- what an alert puts in a message -----------------------------------------

struct Rendered {
  uint32_t severity = 0;
  std::map<std::string, std::string> fields;  // subject placeholders
  std::string summary;                        // readable, several lines
  std::string line;                           // one line, for digests
  std::string json;
};

// A value fit for a subject line: one line, at most 200 characters.
std::string one_line(std::string_view v) {
  std::string out = rampart::sender::valid_utf8(v.substr(0, 200));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::string endpoint(const std::string& ip, uint16_t port) {
  if (ip.empty()) return "";
  return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

std::string protocol_name(uint8_t p) {
  switch (p) {
    case 1:
      return "icmp";
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 58:
      return "icmpv6";
    default:
      return std::to_string(p);
  }
}

std::string describe(const rampart_alert_enrichment* e) {
  if (e == nullptr) return "";
  std::vector<std::string> parts;
  const auto add = [&](const rampart_str& s) {
    if (s.ptr != nullptr && s.len > 0) parts.push_back(one_line(Alert::view(s)));
  };
  if (RAMPART_HAS_FIELD(e, rampart_alert_enrichment, name)) add(e->name);
  if (RAMPART_HAS_FIELD(e, rampart_alert_enrichment, city)) add(e->city);
  if (RAMPART_HAS_FIELD(e, rampart_alert_enrichment, country)) add(e->country);
  if (RAMPART_HAS_FIELD(e, rampart_alert_enrichment, asn) && e->asn != 0) {
    std::string as = "AS" + std::to_string(e->asn);
    if (RAMPART_HAS_FIELD(e, rampart_alert_enrichment, as_org) && e->as_org.len > 0)
      as += " " + one_line(Alert::view(e->as_org));
    parts.push_back(as);
  }
  if (RAMPART_HAS_FIELD(e, rampart_alert_enrichment, reputation) && e->reputation >= 0)
    parts.push_back("reputation " + std::to_string(e->reputation));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out.empty() ? "" : " (" + out + ")";
}

Rendered render(const Alert& a) {
  using namespace rampart::sender;
  const rampart_alert& raw = *a.raw;
  Rendered r;
  r.severity = std::min<uint32_t>(raw.severity, RAMPART_SEVERITY_CRITICAL);
  const std::string src = a.src_ip(), dst = a.dst_ip();
  r.fields = {{"severity", std::string(rampart::sdk::severity_name(raw.severity))},
              {"component", one_line(a.component())},
              {"rule_id", one_line(a.rule_id())},
              {"message", one_line(a.message())},
              {"src_ip", src},
              {"dst_ip", dst},
              {"technique_id", one_line(a.technique_id())}};
  std::ostringstream s;
  const auto row = [&](const char* label, const std::string& value) {
    if (!value.empty()) s << label << value << "\n";
  };
  row("Severity:    ", r.fields["severity"]);
  row("Action:      ", std::string(action_name(raw.action)));
  row("Component:   ", r.fields["component"]);
  row("Rule:        ", r.fields["rule_id"]);
  row("Message:     ", valid_utf8(a.message()));
  row("Source:      ", src.empty() ? "" : endpoint(src, raw.src_port) + describe(a.src_info()));
  row("Destination: ", dst.empty() ? "" : endpoint(dst, raw.dst_port) + describe(a.dst_info()));
  row("Protocol:    ", src.empty() ? "" : protocol_name(raw.protocol));
  row("VLAN:        ", raw.vlan_id ? std::to_string(raw.vlan_id) : "");
  if (!a.technique_id().empty() || !a.technique_name().empty()) {
    std::string mitre = one_line(a.technique_id());
    if (!a.technique_name().empty())
      mitre += (mitre.empty() ? "" : " ") + one_line(a.technique_name());
    if (!a.tactic().empty()) mitre += " (" + one_line(a.tactic()) + ")";
    row("MITRE:       ", mitre);
  }
  row("Suppressed:  ",
      a.suppressed() ? std::to_string(a.suppressed()) + " similar alerts since the last one" : "");
  row("Time:        ", rampart::sdk::rfc3339(raw.time_ns));
  row("Alert id:    ", one_line(a.id()));
  r.summary = s.str();
  r.line = rampart::sdk::rfc3339(raw.time_ns) + " " + r.fields["severity"] + " " +
           r.fields["component"] +
           (r.fields["rule_id"].empty() ? "" : " rule " + r.fields["rule_id"]) + ": " +
           r.fields["message"] + (src.empty() ? "" : " (" + src + " -> " + dst + ")");
  r.json = alert_json(a);
  return r;
}

std::string fill(const std::string& t, const std::map<std::string, std::string>& fields) {
  std::string out;
  size_t pos = 0;
  for (size_t open = t.find('{'); open != std::string::npos; open = t.find('{', pos)) {
    const auto close = t.find('}', open);
    if (close == std::string::npos) break;
    const auto it = fields.find(t.substr(open + 1, close - open - 1));
    out += t.substr(pos, open - pos);
    out += it != fields.end() ? it->second : t.substr(open, close - open + 1);
    pos = close + 1;
  }
  return out + t.substr(pos);
}

// A batch of queued alerts and how many older ones were dropped for room.
struct Batch {
  std::vector<Rendered> alerts;
  size_t dropped = 0;
};

struct Message {
  std::string subject, body;
};

Message single(const Settings& s, const Rendered& r) {
  auto fields = r.fields;
  fields["count"] = "1";
  return {fill(s.subject, fields), r.summary + "\nJSON:\n" + r.json + "\n"};
}

Message digest(const Settings& s, const Batch& b) {
  const Rendered* top = &b.alerts.front();
  for (const auto& r : b.alerts) {
    if (r.severity > top->severity) top = &r;
  }
  auto fields = top->fields;
  fields["count"] = std::to_string(b.alerts.size());
  std::ostringstream body;
  body << b.alerts.size() << (b.alerts.size() == 1 ? " alert" : " alerts") << ":\n\n";
  for (size_t i = 0; i < b.alerts.size(); ++i) body << i + 1 << ". " << b.alerts[i].line << "\n";
  if (b.dropped > 0) {
    body << "\n"
         << b.dropped
         << " older alerts were dropped: the mail server could not be reached in time.\n";
  }
  body << "\nJSON, one alert per line:\n";
  for (const auto& r : b.alerts) body << r.json << "\n";
  return {fill(s.subject, fields), body.str()};
}

// --- SMTP ----------------------------------------------------------------------

// Poco's client with what it keeps protected: the EHLO answer, STARTTLS
// naming the server (for the certificate check), the AUTH mechanisms.
class SmtpSession : public Poco::Net::SMTPClientSession {
 public:
  explicit SmtpSession(const Poco::Net::StreamSocket& socket) : SMTPClientSession(socket) {}

  void set_timeout(milliseconds t) {
    const Poco::Timespan span(static_cast<Poco::Timespan::TimeDiff>(t.count()) * 1000);
    socket().setReceiveTimeout(span);
    socket().setSendTimeout(span);
  }
  // EHLO; the extensions the server announced, upper case, one per line.
  std::string hello(const std::string& name) {
    std::string response;
    login(name, response);
    return Poco::toUpper(response);
  }
  void start_tls(const std::string& server_name, Poco::Net::Context::Ptr ctx) {
    std::string response;
    const int status = sendCommand("STARTTLS", response);
    if (!isPositiveCompletion(status))
      throw Poco::Net::SMTPException("STARTTLS refused", response, status);
    socket() = Poco::Net::SecureStreamSocket::attach(socket(), server_name, ctx);
  }
  void authenticate(const std::string& extensions, const std::string& user,
                    const std::string& password) {
    if (offers(extensions, "AUTH", "PLAIN")) {
      loginUsingPlain(user, password);
    } else if (offers(extensions, "AUTH", "LOGIN")) {
      loginUsingLogin(user, password);
    } else {
      throw Poco::Net::SMTPException("the server offers neither AUTH PLAIN nor AUTH LOGIN");
    }
  }
  // Closes the connection without QUIT.
  void abort() {
    try {
      socket().close();
    } catch (const Poco::Exception&) {
    }
  }
  // Whether an EHLO answer line is `keyword` (followed by `arg` if given).
  static bool offers(const std::string& extensions, const std::string& keyword,
                     const std::string& arg = "") {
    std::istringstream lines(extensions);
    for (std::string line; std::getline(lines, line);) {
      if (line.size() < 4) continue;
      std::istringstream words(line.substr(4));
      std::string word;
      if (!(words >> word) || word != keyword) continue;
      if (arg.empty()) return true;
      while (words >> word) {
        if (word == arg) return true;
      }
    }
    return false;
  }
};

// What is left of timeout_ms; a TimeoutException once it has passed.
struct Deadline {
  Clock::time_point at;
  milliseconds left() const {
    const auto ms = std::chrono::duration_cast<milliseconds>(at - Clock::now());
    if (ms.count() <= 0) throw Poco::TimeoutException();
    return ms;
  }
};

void compose(Poco::Net::MailMessage& mail, const Settings& s, const Message& m) {
  mail.setSender(s.from);
  for (const auto& to : s.to)
    mail.addRecipient(Poco::Net::MailRecipient(Poco::Net::MailRecipient::PRIMARY_RECIPIENT, to));
  mail.setSubject(Poco::Net::MailMessage::encodeWord(m.subject, "UTF-8"));
  mail.setDate(Poco::Timestamp());
  mail.set("Message-ID", "<" + Poco::UUIDGenerator::defaultGenerator().createRandom().toString() +
                             "@" + s.from_domain + ">");
  mail.set("Auto-Submitted", "auto-generated");
  mail.setContentType("text/plain; charset=UTF-8");
  mail.setContent(m.body, Poco::Net::MailMessage::ENCODING_QUOTED_PRINTABLE);
}

// EHLO, STARTTLS, AUTH and the message, on a connected session.
void converse(SmtpSession& smtp, const Settings& s, const Message& m, const Deadline& d) {
  smtp.set_timeout(d.left());
  smtp.open();
  const std::string helo = Poco::Environment::nodeName();
  std::string extensions = smtp.hello(helo);
  bool encrypted = false;
  if (s.starttls != StartTls::off) {
    if (SmtpSession::offers(extensions, "STARTTLS")) {
      smtp.set_timeout(d.left());
      smtp.start_tls(s.host, s.tls);
      smtp.set_timeout(d.left());
      extensions = smtp.hello(helo);
      encrypted = true;
    } else if (s.starttls == StartTls::required) {
      throw Error(RAMPART_ERR_BUSY,
                  "the server does not offer STARTTLS and starttls is 'required' (set starttls: "
                  "optional to send without TLS)");
    }
  }
  if (!s.username.empty()) {
    if (!encrypted && !s.loopback) {
      throw Error(RAMPART_ERR_BUSY,
                  "the server does not offer STARTTLS: not sending the password in clear text");
    }
    smtp.set_timeout(d.left());
    smtp.authenticate(extensions, s.username, s.password);
  }
  Poco::Net::MailMessage mail;
  compose(mail, s, m);
  smtp.set_timeout(d.left());
  smtp.sendMessage(mail);
}

// Connects, upgrades, authenticates and sends one message, all within
// `budget`; `stop`, when given, can cut any of it short.
void transmit(const Settings& s, const Message& m, milliseconds budget,
              rampart::sender::Interrupter* stop) {
  const Deadline d{Clock::now() + budget};
  const Poco::Net::SocketAddress address(s.host, s.port);
  Poco::Net::StreamSocket socket(address.family());
  std::optional<rampart::sender::Interrupter::Watch> watch;
  if (stop != nullptr) watch.emplace(*stop, socket.impl()->sockfd());
  socket.connect(address,
                 Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(d.left().count()) * 1000));
  SmtpSession smtp(socket);
  try {
    converse(smtp, s, m, d);
  } catch (...) {
    smtp.abort();  // no QUIT on a failed conversation: it could wait for the timeout again
    throw;
  }
  try {
    smtp.set_timeout(milliseconds(1000));
    smtp.close();  // QUIT; the message is already accepted
  } catch (const Poco::Exception&) {
    smtp.abort();
  }
}

// --- the plugin ----------------------------------------------------------------

class EmailSender {
 public:
  // Shown redacted by GET /api/v1/config: the SMTP password, and the user
  // name, which is half of the credential (with some relays an access key
  // id or the literal API key name). tls holds only a CA file path.
  static constexpr const char* kSecretSettings[] = {"password", "username", nullptr};

  EmailSender(Host& host, const Config& cfg) : host_(host), settings_(parse(cfg)) {
    messages_ = host_.counter("rampart_email_messages_total", "Alert emails the server accepted");
    failures_ =
        host_.counter("rampart_email_failures_total", "Alert emails that could not be sent");
    host_.info("sending alerts by email via " + settings_->server +
               (settings_->digest ? " in digests" : ""));
  }
  ~EmailSender() { stop_flusher(); }
  EmailSender(const EmailSender&) = delete;
  EmailSender& operator=(const EmailSender&) = delete;

  void validate(const Config& cfg) { (void)parse(cfg); }

  void reload(const Config& cfg) {
    auto next = parse(cfg);
    {
      std::lock_guard lock(mu_);
      settings_ = std::move(next);
    }
    wake_.notify_all();  // a shorter interval, or no digest, may make a batch due now
  }

  void start() {
    flusher_ = std::thread([this] { flush_loop(); });
  }

  // May run while send_alert is blocked on the delivery thread: cuts that
  // message short (the core keeps its alert for the next start), and the
  // flusher's, then tries once, briefly, to send what a digest still holds:
  // those alerts were accepted, nothing else would send them.
  void stop() {
    interrupter_.interrupt();
    stop_flusher();
    auto [s, batch] = take_all();
    if (batch.alerts.empty()) return;
    try {
      send(*s, digest(*s, batch), std::min(s->timeout, kLastDigestBudget), nullptr);
    } catch (const std::exception& e) {
      host_.warn("stopping: " + std::to_string(batch.alerts.size()) +
                 " queued alerts not sent: " + e.what());
    }
  }

  void send_alert(const Alert& alert) {
    Rendered r = render(alert);
    std::shared_ptr<const Settings> s;
    Batch batch;
    {
      std::lock_guard lock(mu_);
      s = settings_;
      if (s->digest) {
        if (queue_.empty()) due_ = Clock::now() + s->digest->interval;
        queue_.push_back(std::move(r));
        trim_locked(s->digest->max_alerts);
        if (queue_.size() < s->digest->max_alerts) {
          wake_.notify_all();
          return;
        }
        batch = take_locked();
      }
    }
    if (!s->digest) {
      send(*s, single(*s, r), s->timeout, &interrupter_);
      return;
    }
    try {
      send(*s, digest(*s, batch), s->timeout, &interrupter_);
    } catch (...) {
      give_back(std::move(batch), s->digest->interval);
      throw;
    }
  }

 private:
  void send(const Settings& s, const Message& m, milliseconds budget,
            rampart::sender::Interrupter* stop) {
    // A socket stop() shut down fails in whatever way the call it cut
    // short reports: say what happened instead.
    const auto why = [&](const std::string& text) -> std::string {
      return stop != nullptr && stop->interrupted() ? rampart::sender::Interrupted().what() : text;
    };
    try {
      transmit(s, m, budget, stop);
    } catch (const Error& e) {
      failed(s, why(e.what()));
    } catch (const Poco::TimeoutException&) {
      failed(s, why("timed out after " + std::to_string(budget.count()) + " ms"));
    } catch (const Poco::Exception& e) {
      failed(s, why(e.displayText()));
    } catch (const std::exception& e) {
      failed(s, why(e.what()));
    }
    messages_.inc();
  }
  [[noreturn]] void failed(const Settings& s, const std::string& why) {
    failures_.inc();
    throw Error(RAMPART_ERR_BUSY, "email via " + s.server + ": " + why);
  }

  // Sends batches whose interval has passed; on failure keeps them for the
  // next interval.
  void flush_loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (queue_.empty()) {
        wake_.wait(lock);
        continue;
      }
      const auto due = settings_->digest ? due_ : Clock::now();
      if (Clock::now() < due) {
        wake_.wait_until(lock, due);
        continue;
      }
      auto s = settings_;
      Batch batch = take_locked();
      lock.unlock();
      std::string error;
      try {
        send(*s, digest(*s, batch), s->timeout, &interrupter_);
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (!error.empty()) {
        host_.warn("digest of " + std::to_string(batch.alerts.size()) +
                   " alerts not sent, kept for the next attempt: " + error);
        give_back(std::move(batch), s->digest ? s->digest->interval : std::chrono::seconds(60));
      }
      lock.lock();
    }
  }

  void stop_flusher() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (flusher_.joinable()) flusher_.join();
  }

  Batch take_locked() {
    Batch b{std::vector<Rendered>(std::make_move_iterator(queue_.begin()),
                                  std::make_move_iterator(queue_.end())),
            dropped_};
    queue_.clear();
    dropped_ = 0;
    return b;
  }
  std::pair<std::shared_ptr<const Settings>, Batch> take_all() {
    std::lock_guard lock(mu_);
    return {settings_, take_locked()};
  }
  // A batch that could not be sent goes back in front of newer alerts, to
  // be tried again after `retry_in`; the queue stays within max_alerts.
  void give_back(Batch b, std::chrono::seconds retry_in) {
    std::lock_guard lock(mu_);
    queue_.insert(queue_.begin(), std::make_move_iterator(b.alerts.begin()),
                  std::make_move_iterator(b.alerts.end()));
    dropped_ += b.dropped;
    trim_locked(settings_->digest ? settings_->digest->max_alerts : queue_.size());
    due_ = Clock::now() + retry_in;
  }
  void trim_locked(size_t limit) {
    while (queue_.size() > limit) {
      queue_.pop_front();
      ++dropped_;
    }
  }

  Host& host_;
  std::mutex mu_;  // guards everything below but the metrics
  std::condition_variable wake_;
  std::shared_ptr<const Settings> settings_;
  std::deque<Rendered> queue_;  // digest: alerts waiting, oldest first
  size_t dropped_ = 0;          // dropped from the queue since the last digest sent
  Clock::time_point due_;       // when the queue's digest is due
  bool stopping_ = false;
  std::thread flusher_;
  rampart::sender::Interrupter interrupter_;
  rampart::sdk::Metric messages_, failures_;
};

}  // namespace

RAMPART_PLUGIN(EmailSender, RAMPART_KIND_SENDER, "email", "Email alert sender",
               RAMPART_AGENT_VERSION, "Apache-2.0",
               "Sends alerts by SMTP (STARTTLS), one by one or in digests")

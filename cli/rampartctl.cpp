// SPDX-License-Identifier: Apache-2.0
// rampartctl: the management API from a shell. Every command is one or a
// few requests to rampartd's REST frontend; what they mean is
// core/api/management_api.hpp.
//
// Exit codes: 0 done, 1 the server refused or could not be reached, 2 usage.
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <rampart/sdk/abi.h>
#include <yaml-cpp/yaml.h>

#include "util/json.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;
using rampart::util::from_yaml;
using rampart::util::to_json;

constexpr int kOk = 0, kServer = 1, kUsage = 2;

const char* kUsageText = R"(usage: rampartctl [options] <command>

daily work:
  block <address> [--port P] [--protocol P] [--for DURATION] [--reason TEXT]
                                       deny traffic from an address or network, ahead of the
                                       other rules; with --for it is deleted when that is up
  allow <address> [same options]       allow it, ahead of the other rules
  unblock <address> [--port P] [--protocol P]
                                       delete the blocks of that address (and port)
                                       (each takes --domain D where several domains offer it)

commands:
  status                               agent version, plugins, interfaces
  status <domain>                      the engine's view (e.g. firewall hit counters)
  domains                              rule domains the engines own
  rules list <domain> [field=value]... every rule (all pages), optionally filtered, with its
                                       effective priority, enabled state and hit counter
  rules get <domain> <id>
  rules add <domain> <json|@file>
  rules update <domain> <id> <json|@file>   replace a rule
  rules patch <domain> <id> <json|@file>    change some fields (null removes one)
  rules delete <domain> <id>
  rules import <domain> <file> [--dry-run]
                                       YAML or JSON, a list or {rules: [...]}; all or nothing;
                                       --dry-run shows what would change and changes nothing
  rules export <domain> [file]         the domain's rules as YAML (.yaml/.yml/-) or JSON (.json)
  audit [--domain D] [--rule ID] [--limit N]
  alerts list [field=value]...         newest first, a page at a time; severity, min_severity,
                                       component, since (1h, 30m, 2d, unix seconds or
                                       RFC 3339), src, dst, false_positive, limit, cursor
  alerts get <id>
  alerts false-positive <id> [reason]
  config show | config reload
  keys list | keys add <name> <viewer|operator|admin> | keys delete <name>
  completion bash                      a bash completion script

DURATION is a number of seconds or a sum like 90s, 30m, 4h, 2d, 1w, 1h30m.
Tables show times in local time; -o json shows them as the API does.

options:
  --server URL      unix:///path/to/socket, http://host:port or https://host:port;
                    default $RAMPART_SERVER or unix:///run/rampart/rampart.sock (the local
                    socket: root and rampartd's own user are admins there, no key needed)
  --token TOKEN     API key, for http(s) servers; default $RAMPART_TOKEN
  -o, --output FORMAT   table (default) or json
  --cacert FILE     trust this CA/certificate for https
  --insecure        do not verify the https certificate
  -V, --version     rampartctl's version
  -h, --help
)";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct ServerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string server, token, output = "table", cacert;
  bool insecure = false;
  std::vector<std::string> args;
};

struct Reply {
  int status = 0;
  std::string body;
};

std::string getenv_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

Poco::Dynamic::Var parse_json(const std::string& text) { return Poco::JSON::Parser().parse(text); }

constexpr const char* kLocalSocket = "unix:///run/rampart/rampart.sock";

Reply request(const Options& o, const std::string& method, const std::string& path,
              const std::string& body = "") {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  const bool local = o.server.rfind("unix://", 0) == 0;
  const Poco::URI uri(local ? "http://localhost" : o.server);
  if (local) {
    // The agent's local socket: the kernel tells rampartd who we are.
    const std::string socket_path = o.server.substr(7);
    try {
      Poco::Net::StreamSocket socket(
          Poco::Net::SocketAddress(Poco::Net::SocketAddress::UNIX_LOCAL, socket_path));
      session = std::make_unique<Poco::Net::HTTPClientSession>(socket);
    } catch (const Poco::Exception& e) {
      throw ServerError("cannot reach rampartd at " + o.server + ": " + e.displayText() +
                        ". Is rampartd running? Its local socket is plugins.rest.socket; "
                        "only root and rampartd's user may use it. Others: --server "
                        "http://127.0.0.1:8080 --token KEY.");
    }
  } else if (uri.getScheme() == "https") {
    static bool ssl = (Poco::Net::initializeSSL(), true);
    (void)ssl;
    Poco::Net::Context::Params p;
    p.verificationMode =
        o.insecure ? Poco::Net::Context::VERIFY_NONE : Poco::Net::Context::VERIFY_RELAXED;
    p.caLocation = o.cacert;
    p.loadDefaultCAs = o.cacert.empty();
    Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
    session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), ctx);
  } else if (uri.getScheme() == "http") {
    session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
  } else {
    throw UsageError("--server must be a unix://, http:// or https:// URL, got '" + o.server + "'");
  }
  session->setTimeout(Poco::Timespan(60, 0));
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  req.setHost(local ? "localhost" : uri.getHost(), uri.getPort());
  if (!o.token.empty()) req.set("Authorization", "Bearer " + o.token);
  try {
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(body.size()));
      session->sendRequest(req) << body;
    } else {
      session->sendRequest(req);
    }
    Poco::Net::HTTPResponse res;
    std::istream& in = session->receiveResponse(res);
    std::ostringstream out;
    Poco::StreamCopier::copyStream(in, out);
    return {static_cast<int>(res.getStatus()), out.str()};
  } catch (const Poco::Net::ConnectionRefusedException&) {
    throw ServerError("cannot reach rampartd at " + o.server +
                      ": connection refused. Is rampartd running? It listens on "
                      "plugins.rest.listen (default 127.0.0.1:8080); see --server.");
  } catch (const Poco::Exception& e) {
    throw ServerError("cannot talk to rampartd at " + o.server + ": " + e.displayText());
  }
}

// A reply the command can use, or a ServerError with the API's own words.
Reply expect_ok(const Reply& r) {
  if (r.status < 400) return r;
  std::string msg = "HTTP " + std::to_string(r.status);
  try {
    const auto o = parse_json(r.body).extract<Object::Ptr>();
    msg += ": " + o->optValue<std::string>("error", "") + ": " +
           o->optValue<std::string>("detail", "");
    if (o->has("field")) msg += " (field " + o->getValue<std::string>("field") + ")";
  } catch (...) {
    msg += ": " + r.body.substr(0, 200);
  }
  if (r.status == 401)
    msg +=
        "\nhint: pass an API key with --token or RAMPART_TOKEN, or as root use the local socket "
        "(the default --server)";
  throw ServerError(msg);
}

std::string read_arg(const std::string& a) {
  if (a.empty() || a[0] != '@') return a;
  std::ifstream in(a.substr(1));
  if (!in) throw UsageError("cannot read " + a.substr(1));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string scalar(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return "";
  if (v.isString()) return v.toString();
  return to_json(v);
}

// Seconds since the epoch as local time, the way `date` shows it.
std::string local_time(int64_t seconds) {
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (!localtime_r(&t, &tm)) return std::to_string(seconds);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm);
  return buf;
}

// "90", "90s", "30m", "4h", "2d", "1w" or sums of them ("1h30m") in
// seconds; nullopt if the text is none of these or is zero.
std::optional<int64_t> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789") == std::string::npos)
    return text.size() <= 10 && std::stoll(text) > 0 ? std::optional(std::stoll(text))
                                                     : std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t digits = text.find_first_not_of("0123456789", i);
    if (digits == i || digits == std::string::npos || digits - i > 9) return std::nullopt;
    const int64_t n = std::stoll(text.substr(i, digits - i));
    static const std::map<char, int64_t> kUnit = {
        {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
    const auto unit = kUnit.find(text[digits]);
    if (unit == kUnit.end()) return std::nullopt;
    total += n * unit->second;
    i = digits + 1;
  }
  return total > 0 ? std::optional(total) : std::nullopt;
}

// A cell of a table: times in local time (an `..._ms` field as
// milliseconds, an `..._at` field as seconds since the epoch, an alert's
// RFC 3339 `time`), anything else as scalar() shows it.
std::string cell(const std::string& key, const Poco::Dynamic::Var& v) {
  auto ends = [&](const std::string& suffix) {
    return key.size() > suffix.size() &&
           key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (v.isInteger() && v.type() != typeid(bool)) {
    const auto n = v.convert<int64_t>();
    if (n > 0 && ends("_ms")) return local_time(n / 1000);
    if (n > 0 && ends("_at")) return local_time(n);
  }
  if (key == "time" && v.isString()) {
    Poco::DateTime dt;
    int tzd = 0;
    if (Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, v.toString(), dt,
                                       tzd)) {
      dt.makeUTC(tzd);
      return local_time(dt.timestamp().epochTime());
    }
  }
  return scalar(v);
}

// Rows of objects as an aligned table: `columns` first (those no row has
// left out), then, with `others`, every other key in name order, so a
// command's columns come out the same way every time.
void print_table(const std::vector<Object::Ptr>& rows, std::vector<std::string> columns,
                 bool others = true) {
  if (rows.empty()) {
    std::cout << "(none)\n";
    return;
  }
  std::erase_if(columns, [&](const std::string& c) {
    return std::none_of(rows.begin(), rows.end(), [&](const Object::Ptr& r) { return r->has(c); });
  });
  if (others) {
    std::set<std::string> rest;
    for (const auto& r : rows) {
      for (const auto& [k, v] : *r) {
        if (std::find(columns.begin(), columns.end(), k) == columns.end()) rest.insert(k);
      }
    }
    columns.insert(columns.end(), rest.begin(), rest.end());
  }
  std::vector<std::vector<std::string>> text;
  for (const auto& r : rows) {
    auto& line = text.emplace_back();
    for (const auto& c : columns) line.push_back(r->has(c) ? cell(c, r->get(c)) : "");
  }
  std::vector<size_t> width(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    width[c] = columns[c].size();
    for (const auto& line : text) width[c] = std::max(width[c], line[c].size());
  }
  auto print = [&](const std::vector<std::string>& line) {
    std::string out;
    for (size_t c = 0; c < columns.size(); ++c) {
      std::string s = line[c];
      if (c + 1 < columns.size()) s.resize(width[c] + 2, ' ');
      out += s;
    }
    std::cout << out << "\n";
  };
  std::vector<std::string> upper;
  for (auto c : columns) {
    for (auto& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    upper.push_back(c);
  }
  print(upper);
  for (const auto& line : text) print(line);
}

// An object for people: its scalars as "key: value" lines (nested
// objects' keys dotted), then each list of objects as a table under its
// name. (`status <domain>`, whatever the engine reports.)
void print_object(const Object::Ptr& o, const std::string& prefix = "") {
  std::vector<std::pair<std::string, Array::Ptr>> tables;
  std::vector<std::pair<std::string, std::string>> lines;
  std::function<void(const Object::Ptr&, const std::string&)> walk = [&](const Object::Ptr& obj,
                                                                         const std::string& at) {
    for (const auto& k : obj->getNames()) {
      const auto v = obj->get(k);
      const std::string name = at.empty() ? k : at + "." + k;
      if (v.type() == typeid(Object::Ptr)) {
        walk(v.extract<Object::Ptr>(), name);
      } else if (v.type() == typeid(Array::Ptr)) {
        const auto arr = v.extract<Array::Ptr>();
        const bool rows = arr->size() && std::all_of(arr->begin(), arr->end(), [](const auto& e) {
                            return e.type() == typeid(Object::Ptr);
                          });
        if (rows)
          tables.emplace_back(name, arr);
        else
          lines.emplace_back(name, arr->size() ? scalar(v) : "(none)");
      } else {
        lines.emplace_back(name, v.isEmpty() ? "-" : cell(k, v));
      }
    }
  };
  walk(o, prefix);
  size_t width = 0;
  for (const auto& [k, v] : lines) width = std::max(width, k.size());
  for (const auto& [k, v] : lines)
    std::cout << k << ":" << std::string(width - k.size() + 1, ' ') << v << "\n";
  for (const auto& [k, arr] : tables) {
    std::cout << "\n" << k << ":\n";
    std::vector<Object::Ptr> rows;
    for (const auto& e : *arr) rows.push_back(e.extract<Object::Ptr>());
    print_table(rows, {"id"});
  }
}

std::vector<Object::Ptr> objects(const Array::Ptr& a) {
  std::vector<Object::Ptr> out;
  for (size_t i = 0; a && i < a->size(); ++i) out.push_back(a->getObject(i));
  return out;
}

// A reply: as it came with -o json; else a table of its `list_key` list
// (`columns` first, then with `others` every other field), or the object
// as "key: value" lines.
void show(const Options& o, const std::string& body, const std::string& list_key = "",
          const std::vector<std::string>& columns = {}, bool others = true) {
  if (o.output == "json" || body.empty()) {
    if (!body.empty()) std::cout << body << "\n";
    return;
  }
  auto v = parse_json(body);
  if (v.type() != typeid(Object::Ptr)) {
    std::cout << to_json(v, 2) << "\n";
    return;
  }
  if (!list_key.empty()) {
    print_table(objects(v.extract<Object::Ptr>()->getArray(list_key)), columns, others);
    return;
  }
  print_object(v.extract<Object::Ptr>());
}

// A listing's next page, told on stderr so that the table stays clean.
void paging_hint(const Options& o, const std::string& body, const std::string& again) {
  if (o.output == "json") return;
  const auto next = parse_json(body).extract<Object::Ptr>()->get("next_cursor");
  if (!next.isEmpty())
    std::cerr << "(more: " << again << " cursor=" << next.toString() << " for the next page)\n";
}

std::string domain_path(const std::string& domain) {
  if (domain.empty() ||
      domain.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
    throw UsageError("'" + domain + "' is not a rule domain name");
  return "/api/v1/" + domain + "/rules";
}

std::string id_arg(const std::string& id) {
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError("'" + id + "' is not a rule id");
  return id;
}

// Every rule of a domain, following next_cursor: {rules, origins} as one
// listing (which `rules import` takes back as it is).
Object::Ptr all_rules(const Options& o, const std::string& domain, const std::string& filter) {
  Array::Ptr rules = new Array;
  Object::Ptr origins = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  std::string cursor;
  do {
    std::string q = "?limit=1000" + filter + (cursor.empty() ? "" : "&cursor=" + cursor);
    const auto r = expect_ok(request(o, "GET", domain_path(domain) + q));
    const auto page = parse_json(r.body).extract<Object::Ptr>();
    for (const auto& e : *page->getArray("rules")) rules->add(e);
    if (const auto more = page->getObject("origins"))
      for (const auto& [id, origin] : *more) origins->set(id, origin);
    const auto next = page->get("next_cursor");
    cursor = next.isEmpty() ? "" : next.toString();
  } while (!cursor.empty());
  Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  out->set("rules", rules);
  out->set("origins", origins);
  return out;
}

// The domains the engines own, as GET /api/v1/domains lists them (name,
// summary, verbs, defaults).
std::vector<Object::Ptr> list_domains(const Options& o) {
  const auto r = expect_ok(request(o, "GET", "/api/v1/domains"));
  return objects(parse_json(r.body).extract<Object::Ptr>()->getArray("domains"));
}

// A listing's rules as a table shows them: each with its origin, and the
// values in effect where the body leaves them out (a field's schema
// default; the priority and hit counter the engine reports in its status
// as `hits: [{id, priority, hits}]`, where it does). A rule the status
// does not list is not installed (disabled): no hits.
std::vector<Object::Ptr> effective_rows(const Options& o, const std::string& domain,
                                        const Object::Ptr& listing) {
  Object::Ptr defaults;
  std::map<std::string, Object::Ptr> installed;  // by id
  bool counted = false;
  try {
    for (const auto& d : list_domains(o)) {
      if (d->optValue<std::string>("name", "") == domain) defaults = d->getObject("defaults");
    }
    const auto r = request(o, "GET", "/api/v1/" + domain + "/status");
    if (r.status == 200) {
      const auto status = parse_json(r.body).extract<Object::Ptr>();
      if (const auto hits = status->getArray("hits")) {
        counted = true;
        for (const auto& h : objects(hits)) installed[scalar(h->get("id"))] = h;
      }
    }
  } catch (const std::exception&) {
    // Without them the table shows the bodies as stored.
  }
  const auto origins = listing->getObject("origins");
  std::vector<Object::Ptr> rows;
  for (const auto& rule : objects(listing->getArray("rules"))) {
    Object::Ptr row = new Object(*rule);
    const std::string id = scalar(rule->get("id"));
    row->set("origin", origins->optValue<std::string>(id, ""));
    if (defaults) {
      for (const auto& [k, v] : *defaults) {
        if (!row->has(k)) row->set(k, v);
      }
    }
    const auto at = installed.find(id);
    if (at != installed.end()) {
      if (!row->has("priority") && at->second->has("priority"))
        row->set("priority", at->second->get("priority"));
      row->set("hits", at->second->get("hits"));
    } else if (counted) {
      row->set("hits", std::string("-"));
    }
    rows.push_back(row);
  }
  return rows;
}

// A dry run's diff as a table: a summary line, then one row per rule added
// or removed and per field changed.
void print_diff(const Object::Ptr& diff) {
  const auto added = diff->getArray("added"), removed = diff->getArray("removed");
  const auto changed = diff->getArray("changed");
  std::cout << "would add " << added->size() << ", remove " << removed->size() << ", change "
            << changed->size() << "; " << scalar(diff->get("unchanged")) << " unchanged; "
            << scalar(diff->get("config_owned"))
            << " owned by the config file (identical, left to it)\n";
  std::vector<Object::Ptr> rows;
  auto row = [&](const char* change, const Poco::Dynamic::Var& id) {
    Object::Ptr r = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    r->set("change", std::string(change));
    r->set("id", id);
    rows.push_back(r);
    return r;
  };
  for (const auto& id : *added) row("add", id);
  for (const auto& id : *removed) row("remove", id);
  for (const auto& c : objects(changed)) {
    const auto before = c->getObject("before"), after = c->getObject("after");
    if (!before || !after) {  // not objects: no fields to compare
      row("change", c->get("id"));
      continue;
    }
    std::vector<std::string> fields;
    for (const auto& [k, v] : *before) fields.push_back(k);
    for (const auto& [k, v] : *after) fields.push_back(k);
    std::sort(fields.begin(), fields.end());
    fields.erase(std::unique(fields.begin(), fields.end()), fields.end());
    for (const auto& f : fields) {
      const auto b = before->has(f) ? scalar(before->get(f)) : "(absent)";
      const auto a = after->has(f) ? scalar(after->get(f)) : "(absent)";
      if (before->has(f) && after->has(f) && to_json(before->get(f)) == to_json(after->get(f)))
        continue;
      auto r = row("change", c->get("id"));
      r->set("field", f);
      r->set("before", b);
      r->set("after", a);
    }
  }
  if (!rows.empty()) print_table(rows, {"change", "id", "field", "before", "after"});
}

void to_yaml(YAML::Emitter& out, const Poco::Dynamic::Var& v) {
  if (v.type() == typeid(Object::Ptr)) {
    const auto& o = v.extract<Object::Ptr>();
    out << YAML::BeginMap;
    for (const auto& k : o->getNames()) {  // in insertion order where the object keeps it
      out << YAML::Key << k << YAML::Value;
      to_yaml(out, o->get(k));
    }
    out << YAML::EndMap;
  } else if (v.type() == typeid(Array::Ptr)) {
    out << YAML::BeginSeq;
    for (const auto& e : *v.extract<Array::Ptr>()) to_yaml(out, e);
    out << YAML::EndSeq;
  } else if (v.isEmpty()) {
    out << YAML::Null;
  } else if (v.isString()) {
    out << YAML::DoubleQuoted << v.toString();
  } else {
    out << v.toString();
  }
}

bool is_json_file(const std::string& path) {
  return path.size() > 5 && path.substr(path.size() - 5) == ".json";
}

// "field=value" arguments from a[from] on, as "&field=value..." (encoded).
std::string filter_query(const std::vector<std::string>& a, size_t from) {
  std::string filter;
  for (size_t i = from; i < a.size(); ++i) {
    const auto eq = a[i].find('=');
    if (eq == std::string::npos) throw UsageError("filters read field=value, got '" + a[i] + "'");
    std::string k, v;
    Poco::URI::encode(a[i].substr(0, eq), "&=+#", k);
    Poco::URI::encode(a[i].substr(eq + 1), "&=+#", v);
    filter += "&" + k + "=" + v;
  }
  return filter;
}

int alerts(const Options& o, const std::vector<std::string>& a) {
  if (a.size() >= 2 && a[1] == "list") {
    // since=1h (a duration back from now) as the unix seconds it means.
    std::vector<std::string> filters(a.begin(), a.end());
    std::string again = "rampartctl alerts list";
    for (size_t i = 2; i < filters.size(); ++i) {
      if (filters[i].rfind("cursor=", 0) == 0) continue;
      if (filters[i].rfind("since=", 0) == 0) {
        const std::string v = filters[i].substr(6);
        if (const auto back = parse_duration(v);
            back && v.find_first_not_of("0123456789") != std::string::npos)
          filters[i] = "since=" + std::to_string(std::time(nullptr) - *back);
      }
      again += " " + filters[i];
    }
    const std::string query = filter_query(filters, 2);
    const std::string path =
        "/api/v1/alerts" + (query.empty() ? std::string() : "?" + query.substr(1));
    const auto r = expect_ok(request(o, "GET", path));
    show(o, r.body, "alerts",
         {"time", "severity", "component", "rule_id", "src_ip", "dst_ip", "message", "id"},
         /*others=*/false);
    paging_hint(o, r.body, again);
    return kOk;
  }
  if (a.size() == 3 && a[1] == "get") {
    show(o, expect_ok(request(o, "GET", "/api/v1/alerts/" + a[2])).body);
    return kOk;
  }
  if ((a.size() == 3 || a.size() == 4) && a[1] == "false-positive") {
    Object::Ptr b = new Object;
    if (a.size() == 4) b->set("reason", a[3]);
    show(o, expect_ok(request(o, "POST", "/api/v1/alerts/" + a[2] + "/false-positive", to_json(b)))
                .body);
    return kOk;
  }
  throw UsageError("alerts: list [field=value]... | get <id> | false-positive <id> [reason]");
}

int rules(const Options& o, std::vector<std::string> a) {
  // `rules import` takes --dry-run anywhere after `import`.
  const bool dry_run =
      a.size() > 1 && a[1] == "import" && std::erase(a, std::string("--dry-run")) > 0;
  auto need = [&](size_t n) {
    if (a.size() < n)
      throw UsageError("rules " + (a.size() > 1 ? a[1] : std::string()) +
                       ": missing arguments (see --help)");
  };
  need(3);
  const std::string& verb = a[1];
  const std::string& domain = a[2];
  if (verb == "list") {
    const auto listing = all_rules(o, domain, filter_query(a, 3));
    if (o.output == "json") return show(o, to_json(listing)), kOk;
    print_table(effective_rows(o, domain, listing),
                {"id", "origin", "priority", "enabled", "hits", "expires_at", "action"});
    return kOk;
  }
  if (verb == "get") {
    need(4);
    show(o, expect_ok(request(o, "GET", domain_path(domain) + "/" + id_arg(a[3]))).body);
    return kOk;
  }
  if (verb == "add") {
    need(4);
    show(o, expect_ok(request(o, "POST", domain_path(domain), read_arg(a[3]))).body);
    return kOk;
  }
  if (verb == "update" || verb == "patch") {
    need(5);
    show(o, expect_ok(request(o, verb == "update" ? "PUT" : "PATCH",
                              domain_path(domain) + "/" + id_arg(a[3]), read_arg(a[4])))
                .body);
    return kOk;
  }
  if (verb == "delete") {
    need(4);
    expect_ok(request(o, "DELETE", domain_path(domain) + "/" + id_arg(a[3])));
    if (o.output == "table") std::cout << "deleted " << domain << " rule " << a[3] << "\n";
    return kOk;
  }
  if (verb == "import") {
    need(4);
    const std::string& file = a[3];
    Poco::Dynamic::Var doc;
    try {
      doc = is_json_file(file) ? parse_json(read_arg("@" + file)) : from_yaml(YAML::LoadFile(file));
    } catch (const YAML::Exception& e) {
      throw UsageError(file + ": " + e.what());
    } catch (const Poco::Exception& e) {
      throw UsageError(file + ": " + e.displayText());
    }
    Object::Ptr body = new Object;
    if (doc.type() == typeid(Array::Ptr)) {
      body->set("rules", doc);
    } else if (doc.type() == typeid(Object::Ptr) && doc.extract<Object::Ptr>()->isArray("rules")) {
      body = doc.extract<Object::Ptr>();
    } else {
      throw UsageError(file + ": expected a list of rules or {rules: [...]}");
    }
    const auto r = expect_ok(
        request(o, "PUT", domain_path(domain) + (dry_run ? "?dry_run=true" : ""), to_json(body)));
    if (o.output == "json") return show(o, r.body), kOk;
    const auto res = parse_json(r.body).extract<Object::Ptr>();
    if (dry_run) {
      print_diff(res);
      return kOk;
    }
    std::cout << "imported: the " << domain << " domain's API rules are now the file's "
              << scalar(res->get("replaced")) << "; " << scalar(res->get("config_owned"))
              << " identical to the config file's were left to it\n";
    return kOk;
  }
  if (verb == "export") {
    const std::string file = a.size() > 3 ? a[3] : "-";
    const auto listing = all_rules(o, domain, "");
    const auto rules = listing->getArray("rules");
    std::string text;
    if (is_json_file(file) || (file == "-" && o.output == "json")) {
      text = to_json(listing, 2) + "\n";
    } else {
      YAML::Emitter out;
      to_yaml(out, listing);
      text = std::string(out.c_str()) + "\n";
    }
    if (file == "-") {
      std::cout << text;
    } else {
      std::ofstream f(file);
      if (!(f << text)) throw UsageError("cannot write " + file);
      std::cerr << "exported " << rules->size() << " " << domain << " rules to " << file << "\n";
    }
    return kOk;
  }
  throw UsageError("unknown rules command '" + verb + "'");
}

// The domains whose schema offers `verb` (x-rampart-verbs), with its
// spec: all of them, or `domain` alone when given.
std::vector<std::pair<std::string, Object::Ptr>> verb_offers(const Options& o,
                                                             const std::string& verb,
                                                             const std::string& domain = "") {
  std::vector<std::pair<std::string, Object::Ptr>> offers;
  for (const auto& d : list_domains(o)) {
    const auto verbs = d->getObject("verbs");
    const auto name = d->optValue<std::string>("name", "");
    if (verbs && verbs->getObject(verb) && (domain.empty() || domain == name))
      offers.emplace_back(name, verbs->getObject(verb));
  }
  return offers;
}

// block / allow / unblock: the short forms a domain offers in its
// schema's x-rampart-verbs (plugin-sdk.md "Short forms"): `rule` the
// fields every such rule has, `argument` the field the address goes in,
// `options` which field each --option fills. Nothing here knows an engine:
// the verb goes to the one domain that offers it (or --domain's).
int shortcut(const Options& o, const std::vector<std::string>& a) {
  const std::string& cmd = a[0];
  const bool undo = cmd == "unblock";
  const std::string verb = undo ? "block" : cmd;
  std::string address, domain;
  std::map<std::string, std::string> given;  // option name -> value
  std::optional<int64_t> lasts;
  for (size_t i = 1; i < a.size(); ++i) {
    if (a[i].rfind("--", 0) != 0) {
      if (!address.empty()) throw UsageError(cmd + ": one address at a time, got '" + a[i] + "'");
      address = a[i];
      continue;
    }
    if (i + 1 >= a.size()) throw UsageError(cmd + ": " + a[i] + " needs a value");
    const std::string name = a[i].substr(2), value = a[++i];
    if (name == "domain") {
      domain = value;
    } else if (name == "for" && !undo) {
      lasts = parse_duration(value);
      if (!lasts) throw UsageError(cmd + ": --for takes a duration like 90s, 30m, 4h, 2d or 1w");
    } else if (name == "reason" && undo) {
      throw UsageError("unblock: --reason is for block and allow");
    } else {
      given[name] = value;
    }
  }
  if (address.empty()) throw UsageError(cmd + ": which address? (see --help)");

  const auto offers = verb_offers(o, verb, domain);
  if (offers.empty())
    throw ServerError(domain.empty() ? "no running engine offers '" + verb + "'"
                                     : "domain '" + domain + "' offers no '" + verb + "'");
  if (offers.size() > 1) {
    std::string names;
    for (const auto& [n, spec] : offers) names += (names.empty() ? "" : ", ") + n;
    throw UsageError(cmd + ": several domains offer it (" + names + "); pick one with --domain");
  }
  const auto& [target, spec] = offers.front();
  const auto argument = spec->optValue<std::string>("argument", "");
  const auto options = spec->getObject("options");
  const auto base = spec->getObject("rule");
  if (argument.empty() || !base) throw ServerError(target + "'s '" + verb + "' is malformed");
  // A port is a number where it is one; every other option is text.
  auto value_of = [](const std::string& v) -> Poco::Dynamic::Var {
    if (!v.empty() && v.size() <= 9 && v.find_first_not_of("0123456789") == std::string::npos)
      return std::stoll(v);
    return v;
  };
  std::map<std::string, Poco::Dynamic::Var> fields;  // field -> value, from the options
  for (const auto& [name, v] : given) {
    if (!options || !options->has(name))
      throw UsageError(cmd + ": " + target + " takes no --" + name);
    fields[options->getValue<std::string>(name)] = value_of(v);
  }

  if (undo) {
    // The domain's API rules this verb would have made for the address
    // (its fixed fields but the priority, and the options given).
    std::vector<std::string> filter = {argument + "=" + address};
    const auto listing = all_rules(o, target, filter_query(filter, 0));
    const auto origins = listing->getObject("origins");
    std::vector<std::string> deleted, kept;
    for (const auto& rule : objects(listing->getArray("rules"))) {
      bool same = true;
      for (const auto& [k, v] : *base) {
        if (k != "priority" && (!rule->has(k) || scalar(rule->get(k)) != scalar(v))) same = false;
      }
      for (const auto& [k, v] : fields) {
        if (!rule->has(k) || scalar(rule->get(k)) != scalar(v)) same = false;
      }
      if (!same) continue;
      const std::string id = scalar(rule->get("id"));
      if (origins->optValue<std::string>(id, "") != "api") {
        kept.push_back(id);
        continue;
      }
      expect_ok(request(o, "DELETE", domain_path(target) + "/" + id));
      deleted.push_back(id);
    }
    for (const auto& id : kept)
      std::cerr << "rule " << id << " comes from the config file: change it there\n";
    if (deleted.empty())
      throw ServerError("no " + verb + " of " + address + " in " + target +
                        (kept.empty() ? "" : " that the API may delete"));
    if (o.output == "json") {
      Array::Ptr ids = new Array;
      for (const auto& id : deleted) ids->add(std::stoull(id));
      Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      out->set("domain", target);
      out->set("deleted", ids);
      std::cout << to_json(out) << "\n";
    } else {
      std::cout << "unblocked " << address << ": deleted " << target << " rule"
                << (deleted.size() > 1 ? "s" : "");
      for (const auto& id : deleted) std::cout << " " << id;
      std::cout << "\n";
    }
    return kOk;
  }

  Object::Ptr rule = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const auto& [k, v] : *base) rule->set(k, v);
  rule->set(argument, address);
  for (const auto& [k, v] : fields) rule->set(k, v);
  if (lasts) rule->set("expires_at", static_cast<int64_t>(std::time(nullptr)) + *lasts);
  const auto r = expect_ok(request(o, "POST", domain_path(target), to_json(rule)));
  if (o.output == "json") return show(o, r.body), kOk;
  const auto made = parse_json(r.body).extract<Object::Ptr>();
  std::cout << (verb == "block"   ? "blocked "
                : verb == "allow" ? "allowed "
                                  : verb + " ")
            << address;
  for (const auto& [name, v] : given)
    std::cout << " " << name << " " << (name == "reason" ? "\"" + v + "\"" : v);
  if (made->has("expires_at"))
    std::cout << " until " << local_time(made->getValue<int64_t>("expires_at"));
  std::cout << ": " << target << " rule " << scalar(made->get("id")) << "\n";
  return kOk;
}

// Bash completion: the script hands the words typed so far to
// `rampartctl __complete`, which answers the candidates for the last one,
// one per line (domain names, rule ids and key names asked of the server
// the command line names); "__files__" means file names.
const char* kCompletion = R"(# bash completion for rampartctl
_rampartctl() {
  local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n'
  local words=("${COMP_WORDS[@]:1:COMP_CWORD-1}")
  local reply
  reply=$(rampartctl __complete "${words[@]}" 2>/dev/null)
  if [[ "$reply" == "__files__" ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$reply" -- "$cur"))
    [[ ${#COMPREPLY[@]} -eq 1 && "${COMPREPLY[0]}" == *= ]] && compopt -o nospace
  fi
}
complete -F _rampartctl rampartctl
)";

const std::vector<std::string> kCommands = {"status", "domains", "rules",     "alerts",
                                            "audit",  "config",  "keys",      "block",
                                            "allow",  "unblock", "completion"};
const std::vector<std::string> kGlobalOptions = {"--server",   "--token",   "--output", "--cacert",
                                                 "--insecure", "--version", "--help"};

// What may come next after `words` (the command line's words before the
// one being completed, options included).
std::vector<std::string> completions(Options o, const std::vector<std::string>& words) {
  // The global options come first; their values are not words of the
  // command, but --server and --token say where to ask.
  std::vector<std::string> w;
  std::string pending;  // a global option waiting for its value
  for (const auto& word : words) {
    if (!pending.empty()) {
      if (pending == "--server") o.server = word;
      if (pending == "--token") o.token = word;
      pending.clear();
    } else if (w.empty() && (word == "--server" || word == "--token" || word == "--output" ||
                             word == "-o" || word == "--cacert")) {
      pending = word;
    } else if (!(w.empty() && word.rfind("-", 0) == 0)) {
      w.push_back(word);
    }
  }
  if (pending == "--output" || pending == "-o") return {"table", "json"};
  if (pending == "--cacert") return {"__files__"};
  if (!pending.empty()) return {};
  auto domains = [&]() {
    std::vector<std::string> out;
    for (const auto& d : list_domains(o)) out.push_back(d->optValue<std::string>("name", ""));
    return out;
  };
  if (w.empty()) {
    auto out = kCommands;
    out.insert(out.end(), kGlobalOptions.begin(), kGlobalOptions.end());
    return out;
  }
  const std::string& cmd = w[0];
  const size_t n = w.size();  // the word being completed is w[n]
  if (cmd == "status") return n == 1 ? domains() : std::vector<std::string>{};
  if (cmd == "completion")
    return n == 1 ? std::vector<std::string>{"bash"} : std::vector<std::string>{};
  if (cmd == "config")
    return n == 1 ? std::vector<std::string>{"show", "reload"} : std::vector<std::string>{};
  if (cmd == "keys") {
    if (n == 1) return {"list", "add", "delete"};
    if (w[1] == "add" && n == 3) return {"viewer", "operator", "admin"};
    if (w[1] == "delete" && n == 2) {
      std::vector<std::string> out;
      const auto r = expect_ok(request(o, "GET", "/api/v1/keys"));
      for (const auto& k : objects(parse_json(r.body).extract<Object::Ptr>()->getArray("keys")))
        out.push_back(k->optValue<std::string>("name", ""));
      return out;
    }
    return {};
  }
  if (cmd == "alerts") {
    if (n == 1) return {"list", "get", "false-positive"};
    if (w[1] == "list")
      return {"severity=", "min_severity=",   "component=", "since=", "src=",
              "dst=",      "false_positive=", "limit=",     "cursor="};
    return {};
  }
  if (cmd == "audit") {
    if (w[n - 1] == "--domain") return domains();
    if (w[n - 1] == "--rule" || w[n - 1] == "--limit") return {};
    return {"--domain", "--rule", "--limit"};
  }
  if (cmd == "block" || cmd == "allow" || cmd == "unblock") {
    if (w[n - 1] == "--domain") return domains();
    if (w[n - 1].rfind("--", 0) == 0) return {};
    if (n == 1) return {};  // the address
    std::vector<std::string> out = {"--domain"};
    std::set<std::string> names;
    for (const auto& offer : verb_offers(o, cmd == "unblock" ? "block" : cmd)) {
      if (const auto opts = offer.second->getObject("options")) {
        for (const auto& [k, v] : *opts) {
          if (cmd != "unblock" || k != "reason") names.insert("--" + k);
        }
      }
    }
    if (cmd != "unblock") names.insert("--for");
    out.insert(out.end(), names.begin(), names.end());
    return out;
  }
  if (cmd == "rules") {
    if (n == 1) return {"list", "get", "add", "update", "patch", "delete", "import", "export"};
    const std::string& verb = w[1];
    if (n == 2) return domains();
    if (n == 3 && (verb == "get" || verb == "update" || verb == "patch" || verb == "delete")) {
      std::vector<std::string> out;
      const auto r = expect_ok(request(o, "GET", domain_path(w[2]) + "?limit=1000"));
      for (const auto& rule : objects(parse_json(r.body).extract<Object::Ptr>()->getArray("rules")))
        out.push_back(scalar(rule->get("id")));
      return out;
    }
    if ((n == 3 && (verb == "import" || verb == "export")) ||
        (n == 4 && (verb == "update" || verb == "patch")))
      return {"__files__"};
    if (verb == "import") return {"--dry-run"};
    return {};
  }
  return {};
}

// "3d 4h", "2h 5m", "40 s": how long, for people.
std::string uptime(int64_t s) {
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return std::to_string(s / 60) + "m " + std::to_string(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h " + std::to_string(s % 3600 / 60) + "m";
  return std::to_string(s / 86400) + "d " + std::to_string(s % 86400 / 3600) + "h";
}

int run(const Options& o) {
  const auto& a = o.args;
  if (a.empty()) throw UsageError("no command (see --help)");
  const std::string& cmd = a[0];
  if (cmd == "completion") {
    if (a.size() != 2 || a[1] != "bash") throw UsageError("completion: only bash is supported");
    std::cout << kCompletion;
    return kOk;
  }
  if (cmd == "__complete") {
    try {
      for (const auto& c : completions(o, {a.begin() + 1, a.end()})) std::cout << c << "\n";
    } catch (const std::exception&) {
      // No server to ask: nothing to offer.
    }
    return kOk;
  }
  if (cmd == "block" || cmd == "allow" || cmd == "unblock") return shortcut(o, a);
  if (cmd == "status") {
    const std::string path = a.size() > 1 ? "/api/v1/" + a[1] + "/status" : "/api/v1/agent/status";
    const auto r = expect_ok(request(o, "GET", path));
    if (o.output == "json" || a.size() > 1) return show(o, r.body), kOk;
    const auto s = parse_json(r.body).extract<Object::Ptr>();
    std::cout << "rampartd " << s->getValue<std::string>("version") << " (ABI "
              << s->getValue<std::string>("abi") << "), pid " << scalar(s->get("pid")) << ", up "
              << uptime(s->optValue<int64_t>("uptime_seconds", 0)) << ", datapath "
              << s->getValue<std::string>("datapath") << "\n\n";
    print_table(objects(s->getArray("plugins")), {"id", "kind", "state", "version"});
    if (s->getArray("interfaces")->size()) {
      std::cout << "\n";
      print_table(objects(s->getArray("interfaces")), {"interface", "xdp", "tc"});
    }
    return kOk;
  }
  if (cmd == "domains") {
    const auto r = expect_ok(request(o, "GET", "/api/v1/domains"));
    if (o.output == "json") return show(o, r.body), kOk;
    std::vector<Object::Ptr> rows;
    for (const auto& d : list_domains(o)) {
      Object::Ptr row = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      row->set("name", d->get("name"));
      std::string verbs;
      if (const auto v = d->getObject("verbs"))
        for (const auto& [k, spec] : *v) verbs += (verbs.empty() ? "" : ",") + k;
      row->set("verbs", verbs);
      row->set("summary", d->get("summary"));
      rows.push_back(row);
    }
    print_table(rows, {"name", "verbs", "summary"}, false);
    return kOk;
  }
  if (cmd == "rules") return rules(o, a);
  if (cmd == "alerts") return alerts(o, a);
  if (cmd == "audit") {
    std::string domain, rule, limit = "50";
    for (size_t i = 1; i + 1 < a.size(); i += 2) {
      if (a[i] == "--domain")
        domain = a[i + 1];
      else if (a[i] == "--rule")
        rule = id_arg(a[i + 1]);
      else if (a[i] == "--limit")
        limit = id_arg(a[i + 1]);
      else
        throw UsageError("audit: unknown option '" + a[i] + "'");
    }
    if (a.size() % 2 == 0) throw UsageError("audit: an option lacks its value");
    std::string path =
        rule.empty() ? "/api/v1/audit/logs" : "/api/v1/audit/rules/" + rule + "/history";
    path += "?limit=" + limit + (domain.empty() ? "" : "&domain=" + domain);
    show(o, expect_ok(request(o, "GET", path)).body, "entries",
         {"seq", "time_ms", "actor", "domain", "action", "rule_id", "changed"}, false);
    return kOk;
  }
  if (cmd == "config") {
    if (a.size() != 2) throw UsageError("config: show or reload");
    if (a[1] == "show") return show(o, expect_ok(request(o, "GET", "/api/v1/config")).body), kOk;
    if (a[1] == "reload") {
      const auto r = request(o, "POST", "/api/v1/config/reload");
      if (r.status == 422) {
        const auto e = parse_json(r.body).extract<Object::Ptr>();
        throw ServerError("reload refused: " + e->getValue<std::string>("detail"));
      }
      expect_ok(r);
      if (o.output == "json") return show(o, r.body), kOk;
      const auto res = parse_json(r.body).extract<Object::Ptr>();
      if (res->optValue<std::string>("status", "") != "reloaded") return show(o, r.body), kOk;
      std::string changes;
      if (const auto c = res->getArray("changes"))
        for (const auto& x : *c) changes += (changes.empty() ? "" : ", ") + x.toString();
      std::cout << "reloaded: " << (changes.empty() ? "nothing changed" : "changed " + changes)
                << (res->optValue<bool>("restart_needed", false)
                        ? "; some changes take a restart of rampartd"
                        : "")
                << "\n";
      return kOk;
    }
    throw UsageError("config: show or reload");
  }
  if (cmd == "keys") {
    if (a.size() == 2 && a[1] == "list") {
      show(o, expect_ok(request(o, "GET", "/api/v1/keys")).body, "keys",
           {"name", "role", "id", "created_ms"}, false);
      return kOk;
    }
    if (a.size() == 4 && a[1] == "add") {
      Object::Ptr b = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      b->set("name", a[2]);
      b->set("role", a[3]);
      const auto r = expect_ok(request(o, "POST", "/api/v1/keys", to_json(b)));
      if (o.output == "json") return show(o, r.body), kOk;
      const auto k = parse_json(r.body).extract<Object::Ptr>();
      std::cout << k->getValue<std::string>("token") << "\n";
      std::cerr << "key '" << a[2] << "' (" << a[3]
                << "): the token above is shown only now; store it safely\n";
      return kOk;
    }
    if (a.size() == 3 && a[1] == "delete") {
      expect_ok(request(o, "DELETE", "/api/v1/keys/" + a[2]));
      if (o.output == "table") std::cout << "deleted key " << a[2] << "\n";
      return kOk;
    }
    throw UsageError("keys: list | add <name> <role> | delete <name>");
  }
  throw UsageError("unknown command '" + cmd + "'");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.server = getenv_or("RAMPART_SERVER", kLocalSocket);
  o.token = getenv_or("RAMPART_TOKEN", "");
  try {
    // The completion script's words go to completions() as they are.
    if (argc > 1 && std::string(argv[1]) == "__complete") {
      o.args.assign(argv + 1, argv + argc);
      return run(o);
    }
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw UsageError(a + " needs a value");
        return argv[++i];
      };
      if (a == "-h" || a == "--help") {
        std::cout << kUsageText;
        return kOk;
      } else if (a == "-V" || a == "--version") {
        std::cout << "rampartctl " << RAMPART_VERSION << " (plugin ABI " << RAMPART_ABI_MAJOR << "."
                  << RAMPART_ABI_MINOR << ")\n";
        return kOk;
      } else if (a == "--server") {
        o.server = value();
      } else if (a == "--token") {
        o.token = value();
      } else if (a == "--output" || a == "-o") {
        o.output = value();
        if (o.output != "table" && o.output != "json")
          throw UsageError("--output is table or json, got '" + o.output + "'");
      } else if (a == "--cacert") {
        o.cacert = value();
      } else if (a == "--insecure") {
        o.insecure = true;
      } else if (a.rfind("--", 0) == 0 && o.args.empty()) {
        throw UsageError("unknown option " + a);
      } else {
        o.args.push_back(a);
      }
    }
    return run(o);
  } catch (const UsageError& e) {
    std::cerr << "rampartctl: " << e.what() << "\n" << (o.args.empty() ? kUsageText : "");
    return kUsage;
  } catch (const ServerError& e) {
    std::cerr << "rampartctl: " << e.what() << "\n";
    return kServer;
  } catch (const std::exception& e) {
    std::cerr << "rampartctl: " << e.what() << "\n";
    return kServer;
  }
}

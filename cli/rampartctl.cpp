// SPDX-License-Identifier: Apache-2.0
// rampartctl: the management API from a shell. Every command is one or a
// few requests to rampartd's REST frontend; what they mean is
// core/api/management_api.hpp.
//
// Exit codes: 0 done, 1 the server refused or could not be reached, 2 usage.
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
#include <yaml-cpp/yaml.h>

#include "util/json.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
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

commands:
  status                               agent version, plugins, interfaces
  domains                              rule domains the engines own
  rules list <domain> [field=value]... every rule (all pages), optionally filtered
  rules get <domain> <id>
  rules add <domain> <json|@file>
  rules update <domain> <id> <json|@file>   replace a rule
  rules patch <domain> <id> <json|@file>    change some fields (null removes one)
  rules delete <domain> <id>
  rules import <domain> <file> [--dry-run]
                                       YAML or JSON, a list or {rules: [...]}; all or nothing;
                                       --dry-run shows what would change and changes nothing
  rules export <domain> [file]         the domain's rules as YAML (.yaml/.yml/-) or JSON (.json)
  status <domain>                      the engine's view (e.g. firewall hit counters)
  audit [--domain D] [--rule ID] [--limit N]
  alerts list [field=value]...         newest first; severity, min_severity, component, since,
                                       src, dst, false_positive, limit
  alerts get <id>
  alerts false-positive <id> [reason]
  config show | config reload
  keys list | keys add <name> <viewer|operator|admin> | keys delete <name>
  completion bash                      a bash completion script

options:
  --server URL      unix:///path/to/socket, http://host:port or https://host:port;
                    default $RAMPART_SERVER or unix:///run/rampart/rampart.sock (the local
                    socket: root and rampartd's own user are admins there, no key needed)
  --token TOKEN     API key, for http(s) servers; default $RAMPART_TOKEN
  --output FORMAT   table (default) or json
  --cacert FILE     trust this CA/certificate for https
  --insecure        do not verify the https certificate
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

// Rows of objects as an aligned table: `columns` first, then any other key.
void print_table(const std::vector<Object::Ptr>& rows, std::vector<std::string> columns) {
  // Preferred columns no row has are left out.
  std::erase_if(columns, [&](const std::string& c) {
    return std::none_of(rows.begin(), rows.end(), [&](const Object::Ptr& r) { return r->has(c); });
  });
  for (const auto& r : rows) {
    for (const auto& [k, v] : *r) {
      if (std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);
    }
  }
  std::vector<size_t> width(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    width[c] = columns[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], scalar(r->get(columns[c])).size());
  }
  auto line = [&](auto cell) {
    std::string out;
    for (size_t c = 0; c < columns.size(); ++c) {
      std::string s = cell(c);
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
  line([&](size_t c) { return upper[c]; });
  for (const auto& r : rows) line([&](size_t c) { return scalar(r->get(columns[c])); });
}

std::vector<Object::Ptr> objects(const Array::Ptr& a) {
  std::vector<Object::Ptr> out;
  for (size_t i = 0; a && i < a->size(); ++i) out.push_back(a->getObject(i));
  return out;
}

void show(const Options& o, const std::string& body, const std::string& list_key = "",
          const std::vector<std::string>& columns = {}) {
  if (o.output == "json" || body.empty()) {
    if (!body.empty()) std::cout << body << "\n";
    return;
  }
  auto v = parse_json(body);
  if (!list_key.empty()) {
    print_table(objects(v.extract<Object::Ptr>()->getArray(list_key)), columns);
    return;
  }
  std::cout << to_json(v, 2) << "\n";
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
    const std::string query = filter_query(a, 2);
    const std::string path =
        "/api/v1/alerts" + (query.empty() ? std::string() : "?" + query.substr(1));
    show(o, expect_ok(request(o, "GET", path)).body, "alerts",
         {"time", "severity", "component", "rule_id", "src_ip", "dst_ip", "message", "id"});
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
    // The table shows each rule's origin as a column of its own.
    const auto origins = listing->getObject("origins");
    std::vector<Object::Ptr> rows;
    for (const auto& rule : objects(listing->getArray("rules"))) {
      Object::Ptr row = new Object(*rule);
      row->set("origin", origins->optValue<std::string>(scalar(rule->get("id")), ""));
      rows.push_back(row);
    }
    print_table(rows, {"id", "origin", "priority", "action"});
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
    if (dry_run && o.output == "table") {
      print_diff(parse_json(r.body).extract<Object::Ptr>());
      return kOk;
    }
    show(o, r.body);
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

const char* kCompletion = R"(# bash completion for rampartctl
_rampartctl() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  case "$prev" in
    --output) COMPREPLY=($(compgen -W "table json" -- "$cur")); return ;;
    --server|--token) return ;;
    --cacert) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    rules) COMPREPLY=($(compgen -W "list get add update patch delete import export" -- "$cur")); return ;;
    config) COMPREPLY=($(compgen -W "show reload" -- "$cur")); return ;;
    keys) COMPREPLY=($(compgen -W "list add delete" -- "$cur")); return ;;
    alerts) COMPREPLY=($(compgen -W "list get false-positive" -- "$cur")); return ;;
    completion) COMPREPLY=($(compgen -W "bash" -- "$cur")); return ;;
    list|get|add|update|patch|delete|import|export)
      COMPREPLY=($(compgen -W "firewall" -- "$cur")); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "--server --token --output --cacert --insecure --help --dry-run" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "status domains rules alerts audit config keys completion" -- "$cur"))
  fi
}
complete -F _rampartctl rampartctl
)";

int run(const Options& o) {
  const auto& a = o.args;
  if (a.empty()) throw UsageError("no command (see --help)");
  const std::string& cmd = a[0];
  if (cmd == "completion") {
    if (a.size() != 2 || a[1] != "bash") throw UsageError("completion: only bash is supported");
    std::cout << kCompletion;
    return kOk;
  }
  if (cmd == "status") {
    const std::string path = a.size() > 1 ? "/api/v1/" + a[1] + "/status" : "/api/v1/agent/status";
    const auto r = expect_ok(request(o, "GET", path));
    if (o.output == "json" || a.size() > 1) return show(o, r.body), kOk;
    const auto s = parse_json(r.body).extract<Object::Ptr>();
    std::cout << "rampartd " << s->getValue<std::string>("version") << " (ABI "
              << s->getValue<std::string>("abi") << "), pid " << scalar(s->get("pid")) << ", up "
              << scalar(s->get("uptime_seconds")) << " s, datapath "
              << s->getValue<std::string>("datapath") << "\n\n";
    print_table(objects(s->getArray("plugins")), {"id", "kind", "state", "version"});
    if (s->getArray("interfaces")->size()) {
      std::cout << "\n";
      print_table(objects(s->getArray("interfaces")), {"interface", "xdp", "tc"});
    }
    return kOk;
  }
  if (cmd == "domains") {
    show(o, expect_ok(request(o, "GET", "/api/v1/domains")).body, "domains", {"name", "summary"});
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
         {"seq", "time_ms", "actor", "domain", "action", "rule_id", "changed"});
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
      show(o, expect_ok(r).body);
      return kOk;
    }
    throw UsageError("config: show or reload");
  }
  if (cmd == "keys") {
    if (a.size() == 2 && a[1] == "list") {
      show(o, expect_ok(request(o, "GET", "/api/v1/keys")).body, "keys",
           {"name", "role", "id", "created_ms"});
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
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw UsageError(a + " needs a value");
        return argv[++i];
      };
      if (a == "-h" || a == "--help") {
        std::cout << kUsageText;
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

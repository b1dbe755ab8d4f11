// SPDX-License-Identifier: Apache-2.0
// The ECS fields the Filebeat Suricata module (x-pack/filebeat/module/
// suricata/eve: its input processors and its ingest pipeline) fills from
// one EVE alert line: what a SIEM built on it shows of the alert. Written
// from the module's documented mapping for the sections an alert carries
// (the addresses, alert, flow, http, tls, app_proto); GeoIP, which
// depends on the address and a database rather than on the line, is left
// out. Tests compare the fields a Suricata alert fills with ours.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <arpa/inet.h>

#include <set>
#include <string>

namespace rampart::test {

inline std::set<std::string> filebeat_suricata_ecs(const std::string& line) {
  using Obj = Poco::JSON::Object::Ptr;
  const Obj eve = Poco::JSON::Parser().parse(line).extract<Obj>();
  std::set<std::string> ecs = {"event.original", "event.created", "ecs.version"};
  const auto str = [](const Obj& o, const char* k) {
    return o && o->has(k) && !o->isNull(k) ? o->get(k).convert<std::string>() : std::string();
  };
  const auto is_ip = [](const std::string& s) {
    unsigned char b[16];
    return inet_pton(AF_INET, s.c_str(), b) == 1 || inet_pton(AF_INET6, s.c_str(), b) == 1;
  };
  // The timestamp processor: ISO 8601 with a numeric zone.
  const std::string ts = str(eve, "timestamp");
  if (ts.size() >= 24 && ts[10] == 'T' && (ts[ts.size() - 5] == '+' || ts[ts.size() - 5] == '-'))
    ecs.insert("@timestamp");
  // The input's renames and copies.
  if (!str(eve, "src_ip").empty()) {
    ecs.insert("source.address");
    if (is_ip(str(eve, "src_ip"))) ecs.insert({"source.ip", "related.ip"});
  }
  if (!str(eve, "dest_ip").empty()) {
    ecs.insert("destination.address");
    if (is_ip(str(eve, "dest_ip"))) ecs.insert({"destination.ip", "related.ip"});
  }
  if (eve->has("src_port")) ecs.insert("source.port");
  if (eve->has("dest_port")) ecs.insert("destination.port");
  if (!str(eve, "proto").empty()) ecs.insert("network.transport");
  // Its categorization script.
  if (str(eve, "event_type") == "alert") ecs.insert({"event.kind", "event.category"});
  const std::string app = str(eve, "app_proto");
  if (!app.empty() && app != "failed" && app != "template") ecs.insert("network.protocol");
  // The pipeline: the alert object.
  const Obj alert = eve->getObject("alert");
  if (!str(alert, "category").empty()) ecs.insert({"message", "rule.category"});
  if (!str(alert, "signature_id").empty()) ecs.insert("rule.id");
  if (!str(alert, "signature").empty()) ecs.insert("rule.name");
  if (!str(alert, "action").empty()) ecs.insert("event.type");
  if (alert && alert->has("severity")) ecs.insert("event.severity");
  // The flow object: packets and bytes each way, their sums, the start.
  const Obj flow = eve->getObject("flow");
  if (flow) {
    const auto n = [&](const char* k) { return flow->optValue<uint64_t>(k, 0); };
    if (flow->has("pkts_toclient")) ecs.insert("destination.packets");
    if (flow->has("pkts_toserver")) ecs.insert("source.packets");
    if (flow->has("bytes_toclient")) ecs.insert("destination.bytes");
    if (flow->has("bytes_toserver")) ecs.insert("source.bytes");
    if (n("bytes_toclient") + n("bytes_toserver") > 0) ecs.insert("network.bytes");
    if (n("pkts_toclient") + n("pkts_toserver") > 0) ecs.insert("network.packets");
    if (!str(flow, "start").empty()) ecs.insert("event.start");
    if (!str(flow, "end").empty()) ecs.insert("event.end");
    if (!str(flow, "start").empty() && !str(flow, "end").empty()) ecs.insert("event.duration");
  }
  // The http object.
  const Obj http = eve->getObject("http");
  if (http) {
    if (!str(http, "http_method").empty()) ecs.insert("http.request.method");
    if (http->has("status")) ecs.insert("http.response.status_code");
    if (!str(http, "hostname").empty()) {
      ecs.insert("destination.domain");
      if (app == "http") ecs.insert("url.domain");
    }
    const std::string url = str(http, "url");
    if (!url.empty()) {
      ecs.insert({"url.original", "url.path"});
      const auto q = url.find('?');
      if (q != std::string::npos && q + 1 < url.size()) ecs.insert("url.query");
    }
    if (!str(http, "http_refer").empty()) ecs.insert("http.request.referrer");
    if (http->has("length")) ecs.insert("http.response.body.bytes");
    if (!str(http, "http_user_agent").empty())
      ecs.insert({"user_agent.original", "user_agent.name"});
  }
  // The tls object.
  const Obj tls = eve->getObject("tls");
  if (tls && !str(tls, "sni").empty()) ecs.insert({"tls.client.server_name", "destination.domain"});
  return ecs;
}

}  // namespace rampart::test

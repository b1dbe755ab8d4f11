// SPDX-License-Identifier: Apache-2.0
// A tiny HTTP client for tests of rampartd's REST frontend (Poco).
#pragma once

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketStream.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>

#include <Poco/String.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "sanitized.hpp"

namespace rampart::test {

struct HttpResponse {
  int status = 0;
  std::string body;
};

inline HttpResponse http(uint16_t port, const std::string& method, const std::string& path,
                         const std::string& body = "",
                         const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(10 * kSlowdown, 0));
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.setContentType("application/json");
    req.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(req) << body;
  } else {
    session.sendRequest(req);
  }
  Poco::Net::HTTPResponse res;
  std::istream& in = session.receiveResponse(res);
  std::ostringstream out;
  Poco::StreamCopier::copyStream(in, out);
  return {static_cast<int>(res.getStatus()), out.str()};
}

// Sends `request` as is (for requests no client library would form) and
// returns everything the server answers until it closes the connection.
inline std::string raw_http(uint16_t port, const std::string& request) {
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
  socket.setReceiveTimeout(Poco::Timespan(10 * kSlowdown, 0));
  Poco::Net::SocketStream stream(socket);
  stream << request << std::flush;
  socket.shutdownSend();
  std::ostringstream out;
  Poco::StreamCopier::copyStream(stream, out);
  return out.str();
}

using Headers = std::vector<std::pair<std::string, std::string>>;

// The token of the admin key rampartd creates at its first start, from the
// root-only file it writes (<state_dir>/admin.key); "" if there is none.
inline std::string bootstrap_token(const std::string& state_dir) {
  std::ifstream in(state_dir + "/admin.key");
  std::string token;
  std::getline(in, token);
  return token;
}

// The REST plugin's settings for a test daemon: an ephemeral port and a
// local socket of its own (the default /run/rampart/rampart.sock is the
// installed agent's).
inline std::string rest_settings(const std::string& dir, const std::string& extra = "") {
  return "{listen: \"127.0.0.1:0\", socket: " + dir + "/api.sock" +
         (extra.empty() ? "" : ", " + extra) + "}";
}

// One rampartd's REST API, as a client holding a key: every call carries
// the token unless the headers bring their own.
struct ApiClient {
  uint16_t port = 0;
  std::string token;
  HttpResponse call(const std::string& method, const std::string& path,
                    const std::string& body = "", Headers headers = {}) const {
    const bool own = std::any_of(headers.begin(), headers.end(), [](const auto& h) {
      return Poco::icompare(h.first, std::string("Authorization")) == 0 ||
             Poco::icompare(h.first, std::string("X-API-Key")) == 0;
    });
    if (!own && !token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    return http(port, method, path, body, headers);
  }
};

// The port in plugin `id`'s "[id] listening on 127.0.0.1:PORT" line, or 0.
inline uint16_t listening_port(const std::string& daemon_output, const std::string& id = "rest") {
  const std::regex listen("\\[" + id + "\\] listening on 127\\.0\\.0\\.1:([0-9]+)");
  std::smatch m;
  return std::regex_search(daemon_output, m, listen) ? static_cast<uint16_t>(std::stoi(m[1].str()))
                                                     : 0;
}

}  // namespace rampart::test

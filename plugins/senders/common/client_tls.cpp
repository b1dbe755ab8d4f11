// SPDX-License-Identifier: Apache-2.0
#include "client_tls.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/NetSSL.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace rampart::sender {

Poco::Net::Context::Ptr parse_client_tls(const sdk::Config& cfg, const std::string& key) {
  static std::once_flag ssl_ready;
  std::call_once(ssl_ready, [] { Poco::Net::initializeSSL(); });
  std::string ca_file;
  bool verify = true;
  if (cfg.has(key)) {
    if (cfg.type(key) != RAMPART_CONFIG_MAP) throw cfg.invalid(key, "expected {ca_file, verify}");
    cfg.allow_only(key, {"ca_file", "verify"});
    ca_file = cfg.get<std::string>(key + ".ca_file", "");
    verify = cfg.get<bool>(key + ".verify", true);
    if (cfg.has(key + ".ca_file") && access(ca_file.c_str(), R_OK) != 0)
      throw cfg.invalid(key + ".ca_file", ca_file + ": " + std::strerror(errno));
  }
  Poco::Net::Context::Params p;
  p.caLocation = ca_file;
  p.loadDefaultCAs = ca_file.empty();
  p.verificationMode =
      verify ? Poco::Net::Context::VERIFY_RELAXED : Poco::Net::Context::VERIFY_NONE;
  try {
    Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
    ctx->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    ctx->enableExtendedCertificateVerification(verify);  // the host name check
    return ctx;
  } catch (const Poco::Exception& e) {
    throw cfg.invalid(ca_file.empty() ? key : key + ".ca_file", e.displayText());
  }
}

}  // namespace rampart::sender

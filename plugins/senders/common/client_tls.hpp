// SPDX-License-Identifier: Apache-2.0
// The `tls` setting of senders that connect out (webhook over https, email
// with STARTTLS): {ca_file, verify}, turned into a client TLS context.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include <Poco/Net/Context.h>

#include <string>

namespace rampart::sender {

// A TLS 1.2+ client context from the map at `key` (absent: the system's CA
// certificates, verification on):
//   ca_file: PEM file of the CAs to trust instead of the system's
//   verify:  true (default) checks the certificate chain and host name;
//            false accepts any certificate (encrypts, does not authenticate)
// Errors name the setting (the file must be readable and hold PEM).
Poco::Net::Context::Ptr parse_client_tls(const sdk::Config& cfg, const std::string& key);

}  // namespace rampart::sender

// SPDX-License-Identifier: Apache-2.0
// The `listen` setting every network frontend (REST, metrics, gRPC) reads,
// parsed through the host's real config view as a plugin gets it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "fuzz_inputs.hpp"
#include "listen_check.hpp"
#include "temp_dir.hpp"

namespace {

using rampart::frontend::ListenAddress;
using namespace std::string_literals;

// plugins.rest.listen set to any bytes (the loader refuses a NUL in YAML,
// but a plugin's parser must not depend on that), as fuzz_listen sets it.
class Listen {
 public:
  explicit Listen(const std::string& value) : input_(value) {}
  ListenAddress parse() const { return input_.parse(); }
  // The error's text, "" if it parsed.
  std::string error() const {
    try {
      parse();
    } catch (const rampart::sdk::Error& e) {
      return e.what();
    }
    return "";
  }

 private:
  rampart::fuzz::ListenInput input_;
};

TEST(ListenSetting, AcceptsHostAndPortForms) {
  struct Case {
    std::string text, host;
    uint16_t port;
  } cases[] = {
      {"127.0.0.1:8080", "127.0.0.1", 8080},
      {"0.0.0.0:1", "0.0.0.0", 1},
      {"127.0.0.1:0", "127.0.0.1", 0},  // the tests' "any free port"
      {"[::1]:9090", "::1", 9090},
      {"[2001:db8::1]:65535", "2001:db8::1", 65535},
      {"[::ffff:198.18.0.1]:80", "::ffff:198.18.0.1", 80},
      {"localhost:50051", "localhost", 50051},
      {"api-1.example.internal:443", "api-1.example.internal", 443},
  };
  for (const auto& c : cases) {
    try {
      const auto a = Listen(c.text).parse();
      EXPECT_EQ(a.host, c.host) << c.text;
      EXPECT_EQ(a.port, c.port) << c.text;
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.text << ": " << e.what();
    }
  }
}

// `listen: 127.0.0.1:48080abc` used to bind 48080: the port was read up to
// the first non-digit, and the host was not checked at all.
TEST(ListenSetting, RefusesAnythingElseNamingTheKey) {
  struct Case {
    std::string text;
    const char* error;  // after "plugins.rest.listen: "
  } cases[] = {
      {"127.0.0.1:48080abc", "port must be 0-65535, digits only, got '48080abc'"},
      {"127.0.0.1:0x50", "port must be 0-65535, digits only, got '0x50'"},
      {"127.0.0.1:+80", "port must be 0-65535, digits only, got '+80'"},
      {"127.0.0.1:-1", "port must be 0-65535, digits only, got '-1'"},
      {"127.0.0.1: 80", "port must be 0-65535, digits only, got ' 80'"},
      {"127.0.0.1:80 ", "port must be 0-65535, digits only, got '80 '"},
      {"127.0.0.1:", "port must be 0-65535, digits only, got ''"},
      {"127.0.0.1:65536", "port must be 0-65535, digits only, got '65536'"},
      {"127.0.0.1:18446744073709551696",
       "port must be 0-65535, digits only, got "
       "'18446744073709551696'"},
      {"127.0.0.1:8080\0"s, "contains a NUL byte (offset 14)"},
      {"127.0.0\0.1:8080"s, "contains a NUL byte (offset 7)"},
      {"127.0.0.1:80\n", "contains control character 0x0a (offset 12)"},
      {"", "expected host:port, got ''"},
      {"localhost", "expected host:port, got 'localhost'"},
      {":8080", "expected host:port, got ':8080'"},
      {" 127.0.0.1:80",
       "host must be an IPv4 address, an IPv6 address in brackets or a host name, got ' "
       "127.0.0.1'"},
      {"256.1.1.1:80",
       "host must be an IPv4 address, an IPv6 address in brackets or a host name, got "
       "'256.1.1.1'"},
      {"1.2.3:80",
       "host must be an IPv4 address, an IPv6 address in brackets or a host name, got '1.2.3'"},
      {"-bad.example:80",
       "host must be an IPv4 address, an IPv6 address in brackets or a host name, got "
       "'-bad.example'"},
      {"a..b:80",
       "host must be an IPv4 address, an IPv6 address in brackets or a host name, got 'a..b'"},
      {"under_score:80",
       "host must be an IPv4 address, an IPv6 address in brackets or a host name, got "
       "'under_score'"},
      {"::1:8080", "an IPv6 address needs brackets ([::1]:8080), got '::1:8080'"},
      {"[::1:8080", "expected host:port, got '[::1:8080'"},
      {"[::1]8080", "expected host:port, got '[::1]8080'"},
      {"[::1]:", "port must be 0-65535, digits only, got ''"},
      {"[]:80", "'' is not an IPv6 address"},
      {"[localhost]:80", "'localhost' is not an IPv6 address"},
      {"[127.0.0.1]:80", "'127.0.0.1' is not an IPv6 address"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Listen(c.text).error(), "l.yaml:3:13: plugins.rest.listen: "s + c.error)
        << "'" << c.text << "'";
  }
}

// fuzz_listen's seeds and every input it ever crashed on, through the
// fuzzer's own checks.
TEST(ListenSetting, FuzzInputsParseOrFailCleanly) {
  const size_t n =
      rampart::test::for_each_fuzz_input("listen", [](const auto& path, const std::string& bytes) {
        EXPECT_TRUE(rampart::fuzz::check_listen_input(bytes)) << path;
      });
  EXPECT_GE(n, 6u);
}

}  // namespace

// SPDX-License-Identifier: Apache-2.0
// Settings the webhook and email senders (the built .so files) refuse at
// start, each error naming the setting.
#include <gtest/gtest.h>

#include <string>

#include "sender_harness.hpp"

namespace {

struct BadSetting {
  const char* name;  // the test's name
  const char* settings;
  const char* error;  // what the error must say
};
void PrintTo(const BadSetting& b, std::ostream* os) { *os << b.settings; }
std::string name_of(const ::testing::TestParamInfo<BadSetting>& info) { return info.param.name; }

// The plugin id is the instantiation's prefix: "webhook/..." or "email/...".
class SenderRefuses : public ::testing::TestWithParam<BadSetting> {
 protected:
  static std::string plugin() {
    const std::string suite =
        ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name();
    return suite.substr(0, suite.find('/'));
  }
};

TEST_P(SenderRefuses, NamingTheSetting) {
  rampart::test::SenderHarness h(plugin());
  const std::string error = h.start(GetParam().settings);
  EXPECT_TRUE(rampart::test::contains(error, GetParam().error)) << error;
}

INSTANTIATE_TEST_SUITE_P(
    webhook, SenderRefuses,
    ::testing::Values(
        BadSetting{"no_url", "{retries: 1}", "plugins.webhook.url: required"},
        BadSetting{"ftp_url", "{url: \"ftp://127.0.0.1/x\"}",
                   "plugins.webhook.url: expected an http:// or https:// URL"},
        BadSetting{"no_host", "{url: \"http:///path\"}", "plugins.webhook.url: has no host"},
        BadSetting{"header_newline",
                   "{url: \"http://127.0.0.1:1/\", headers: {X-A: \"a\\r\\nX-B: b\"}}",
                   "plugins.webhook.headers.X-A: must not contain CR or LF"},
        BadSetting{"header_name", "{url: \"http://127.0.0.1:1/\", headers: {\"X A\": b}}",
                   "plugins.webhook.headers.X A: 'X A' is not a valid header name"},
        BadSetting{"header_own", "{url: \"http://127.0.0.1:1/\", headers: {content-length: 1}}",
                   "plugins.webhook.headers.content-length: is set by the sender"},
        BadSetting{"negative_retries", "{url: \"http://127.0.0.1:1/\", retries: -1}",
                   "plugins.webhook.retries: expected 0..100, got -1"},
        BadSetting{"zero_timeout", "{url: \"http://127.0.0.1:1/\", timeout_ms: 0}",
                   "plugins.webhook.timeout_ms"},
        BadSetting{"backoff_order",
                   "{url: \"http://127.0.0.1:1/\", backoff_ms: 500, max_backoff_ms: 100}",
                   "plugins.webhook.max_backoff_ms"},
        BadSetting{"tls_on_http", "{url: \"http://127.0.0.1:1/\", tls: {verify: false}}",
                   "plugins.webhook.tls: applies to https:// URLs only"},
        BadSetting{"missing_ca",
                   "{url: \"https://127.0.0.1:1/\", tls: {ca_file: /nonexistent/ca.pem}}",
                   "plugins.webhook.tls.ca_file: /nonexistent/ca.pem"},
        BadSetting{"unknown_key", "{url: \"http://127.0.0.1:1/\", retry: 2}", "retry"},
        BadSetting{"format", "{url: \"http://127.0.0.1:1/\", format: cef}",
                   "plugins.webhook.format: expected rampart or eve, got 'cef'"}),
    name_of);

INSTANTIATE_TEST_SUITE_P(
    email, SenderRefuses,
    ::testing::Values(
        BadSetting{"no_server", "{from: a@b.c, to: [d@e.f]}", "plugins.email.server: required"},
        BadSetting{"no_port", "{server: mail.example.com, from: a@b.c, to: [d@e.f]}",
                   "plugins.email.server: expected host:port"},
        BadSetting{"no_from", "{server: \"mail:25\", to: [d@e.f]}", "plugins.email.from: required"},
        BadSetting{"bad_from", "{server: \"mail:25\", from: nobody, to: [d@e.f]}",
                   "plugins.email.from: 'nobody' is not an address"},
        BadSetting{"no_to", "{server: \"mail:25\", from: a@b.c}", "plugins.email.to: required"},
        BadSetting{"empty_to", "{server: \"mail:25\", from: a@b.c, to: []}",
                   "plugins.email.to: required"},
        BadSetting{"bad_to", "{server: \"mail:25\", from: a@b.c, to: [d@e.f, \"x <y>\"]}",
                   "plugins.email.to.1"},
        BadSetting{"bad_starttls",
                   "{server: \"mail:25\", from: a@b.c, to: [d@e.f], starttls: sometimes}",
                   "plugins.email.starttls: expected required, optional or off"},
        BadSetting{"clear_password",
                   "{server: \"mail.example.com:25\", from: a@b.c, to: [d@e.f], starttls: off, "
                   "username: u, password: p}",
                   "plugins.email.starttls: 'off' would send the password in clear text"},
        BadSetting{"password_alone", "{server: \"mail:25\", from: a@b.c, to: [d@e.f], password: p}",
                   "plugins.email.password: needs username too"},
        BadSetting{"unknown_placeholder",
                   "{server: \"mail:25\", from: a@b.c, to: [d@e.f], subject: \"{sevrity}\"}",
                   "plugins.email.subject: unknown placeholder {sevrity}"},
        BadSetting{"digest_zero",
                   "{server: \"mail:25\", from: a@b.c, to: [d@e.f], digest: {max_alerts: 0}}",
                   "plugins.email.digest.max_alerts: expected 1..10000, got 0"},
        BadSetting{"digest_key",
                   "{server: \"mail:25\", from: a@b.c, to: [d@e.f], digest: {every: 5}}", "every"}),
    name_of);

}  // namespace

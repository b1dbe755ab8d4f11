// SPDX-License-Identifier: Apache-2.0
// The example engine's unit test, with the SDK's in-process test host
// (rampart/sdk/testing.hpp): no rampartd, no root. The timer runs on the
// host's fake clock, so "an alert every 3 ticks of 100 ms" is checked
// without waiting a second. Plain C++ (any test framework would do):
// exit 0 when every check holds. Usage: hello_engine_test <hello_engine.so>
#include <rampart/sdk/testing.hpp>

#include <cstdio>
#include <string>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <hello_engine.so>\n", argv[0]);
    return 2;
  }
  rampart::sdk::testing::TestHost host;
  host.config({{"interval_ms", "100"}, {"alert_every", "3"}, {"greeting", "hi"}});
  auto& engine = host.load(argv[1]);
  engine.start();
  check(host.logged("hi from the example engine"), "start() greets");

  host.advance_ms(299);
  check(host.metric("rampart_hello_ticks_total") == 2, "two ticks in 299 ms");
  check(host.alerts().empty(), "no alert before the third tick");
  host.advance_ms(1);
  check(host.alerts().size() == 1, "an alert on the third tick");
  check(!host.alerts().empty() && host.alerts()[0].message == "hi alert after 3 ticks",
        "the alert says how many ticks");

  check(host.inject(engine, 1, RAMPART_SOURCE_FIRST_NAMED, "") == RAMPART_OK, "an event is taken");
  check(host.metric("rampart_hello_events_total") == 1, "and counted");

  // A bad setting is refused whole: the engine keeps its settings.
  host.config({{"interval_ms", "100"}, {"alert_every", "3"}, {"colour", "red"}});
  check(engine.validate() != RAMPART_OK, "an unknown setting is refused");
  host.config({{"interval_ms", "50"}, {"alert_every", "1"}, {"greeting", "yo"}});
  engine.reload();
  host.advance_ms(50);
  check(host.alerts().size() == 2 && host.alerts()[1].message == "yo alert after 4 ticks",
        "the reloaded settings apply at the next tick");
  engine.stop();
  check(host.timers() == 0, "stopped: no timer left");
  if (failures == 0) std::printf("hello_engine_test: all checks passed\n");
  return failures == 0 ? 0 : 1;
}

// SPDX-License-Identifier: Apache-2.0
//
// Header-only C++ layer over the C ABI in abi.h (the "hourglass": C in the
// middle, C++ on both ends). A plugin is a class; RAMPART_PLUGIN turns it into
// the exported entry point and noexcept thunks that turn exceptions into a
// status and a last_error text.
//
//   class MyEngine {
//    public:
//     MyEngine(rampart::sdk::Host& host, const rampart::sdk::Config& cfg);
//     void start();                                   // optional
//     void stop();                                    // optional
//     void validate(const rampart::sdk::Config& cfg); // optional
//     void reload(const rampart::sdk::Config& cfg);   // optional, all or nothing
//     void on_event(const rampart::sdk::Event& ev);   // optional (engines)
//     void on_events(const rampart::sdk::Events& evs);  // optional: batches (1.6)
//     static constexpr bool kEventsInOrder = true;    // optional: one at a time, in order (1.6)
//     void send_alert(const rampart::sdk::Alert& a);  // senders
//     void stream_alert(const rampart::sdk::Alert& a);  // frontends that stream alerts
//     static constexpr const char* kSecretSettings[] = {"password", nullptr};  // optional
//   };
//   RAMPART_PLUGIN(MyEngine, RAMPART_KIND_ENGINE, "my_engine", "My engine", "1.0.0",
//                  "Apache-2.0", "What it does")
//
// Optional methods are detected at compile time: a method the class does not
// have leaves the function-table slot NULL.
#ifndef RAMPART_SDK_PLUGIN_HPP
#define RAMPART_SDK_PLUGIN_HPP

// The SDK in small headers, all included here:
#include <rampart/sdk/abi.h>        // the C contract
#include <rampart/sdk/config.hpp>   // Config
#include <rampart/sdk/entry.hpp>    // RAMPART_PLUGIN
#include <rampart/sdk/error.hpp>    // Error, statuses across the ABI
#include <rampart/sdk/handles.hpp>  // Metric, Timer
#include <rampart/sdk/host.hpp>     // Host
#include <rampart/sdk/kernel.hpp>   // ProgramImage, MapImage, Program, Map
#include <rampart/sdk/views.hpp>    // Event, Events, Alert, make_alert

#endif  // RAMPART_SDK_PLUGIN_HPP

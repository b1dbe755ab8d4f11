// SPDX-License-Identifier: Apache-2.0
// libbpf prints its own messages to stderr unless given a callback, which
// breaks `log_format: json` (and bypasses the log level): this hands them
// to the core logger instead.
#pragma once

namespace rampart::bpf {

// Routes libbpf's messages to the core logger, component "libbpf": its
// warnings as warn, info as info, debug as debug (so seen only at log level
// debug), one record per line, without libbpf's "libbpf: " prefix and
// trailing newline. libbpf has one callback per process; calling this again
// changes nothing. rampartd calls it at start, and ProgramInstance::load
// before its first load, so tests and benchmarks that load through the core
// get it too.
void route_libbpf_log();

}  // namespace rampart::bpf

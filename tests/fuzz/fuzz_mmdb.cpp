// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as a GeoIP database file (the config
// names any path). Written to a memfd and opened through its /proc path as
// the country, city and ASN database at once: each role must open or be
// refused with one problem line, and lookups must never crash and return
// only well-formed fields (mmdb_check.hpp).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "mmdb_check.hpp"

// libmaxminddb 1.7.1 (Debian 12) leaks a data pool (about 4.6 KB) when
// MMDB_open fails on some malformed metadata maps; not ours to fix, and
// regressions/mmdb/leak-in-mmdb-open shows it. Only that library's leaks
// are ignored.
extern "C" const char* __lsan_default_suppressions() { return "leak:libmaxminddb.so\n"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("fuzz_mmdb", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, 0) != 0) __builtin_trap();
  if (size > 0 && pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) __builtin_trap();
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (!rampart::fuzz::check_mmdb_input(path, data, size)) __builtin_trap();
  return 0;
}

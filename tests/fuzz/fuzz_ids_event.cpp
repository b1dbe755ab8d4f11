// SPDX-License-Identifier: Apache-2.0
// Any bytes as a record of tc_ids' ring: decoded or refused with a reason,
// and a decoded one's payload lies inside the record and is as long as
// its header says.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "event.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view record(reinterpret_cast<const char*>(data), size);
  std::string why;
  const auto d = rampart::ids::decode_event(record, why);
  if (!d) {
    if (why.empty()) std::abort();
    return 0;
  }
  if (d->payload.size() != d->ev.captured || d->payload.data() < record.data() ||
      d->payload.data() + d->payload.size() != record.data() + record.size())
    std::abort();
  return 0;
}

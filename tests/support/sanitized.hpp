// SPDX-License-Identifier: Apache-2.0
// Whether this test binary is built with ASan or TSan: their allocator is
// not glibc's (RSS and malloc_trim say nothing), and instrumented code runs
// several times slower, so client deadlines stretch accordingly. 12: a
// 10,000-rule import takes ~64 s under ASan with LSan's slow unwinder on
// every allocation (RestImport.TenThousandRulesAtOnceAndABadOneChangesNothing).
#pragma once

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RAMPART_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RAMPART_SANITIZED 1
#endif
#endif

namespace rampart::test {

#ifdef RAMPART_SANITIZED
inline constexpr int kSlowdown = 12;
#else
inline constexpr int kSlowdown = 1;
#endif

}  // namespace rampart::test

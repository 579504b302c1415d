// Resource guards: how much memory this machine has, and a check that refuses a run whose
// up-front estimate does not fit, before anything is allocated or written. The limit is 80 % of
// physical memory, or SPECDYN_MEMORY_LIMIT (bytes, or with a K/M/G suffix) when set; a refusal is
// a usage_error (exit code 2) that names the estimate and the flags that shrink it.
//   specdyn::io::require_memory(bytes, "--width = 60000", "lower --width or --samples");
#pragma once

#include "specdyn/core.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "specdyn/errors.hpp"

namespace specdyn::io {

SPECDYN_CORE_FN double physical_memory_bytes()
#if SPECDYN_CORE_BODIES
{
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? double(pages) * double(page) : 8e9;
}
#else
;
#endif

/// The memory a single run may plan to use, in bytes.
SPECDYN_CORE_FN double memory_limit_bytes()
#if SPECDYN_CORE_BODIES
{
  if (const char* env = std::getenv("SPECDYN_MEMORY_LIMIT")) {
    char* end = nullptr;
    double v = std::strtod(env, &end);
    if (end && *end) {
      switch (*end) {
        case 'k': case 'K': v *= 1e3; break;
        case 'm': case 'M': v *= 1e6; break;
        case 'g': case 'G': v *= 1e9; break;
        default: v = -1;
      }
    }
    if (v > 0) return v;
  }
  return 0.8 * physical_memory_bytes();
}
#else
;
#endif

SPECDYN_CORE_FN std::string format_bytes(double b)
#if SPECDYN_CORE_BODIES
{
  char buf[32];
  if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.1f GB", b / 1e9);
  else if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
  else std::snprintf(buf, sizeof buf, "%.0f kB", b / 1e3);
  return buf;
}
#else
;
#endif

/// Throws usage_error("<what>: needs about X but the limit is Y; <fix>") when bytes exceed the limit.
SPECDYN_CORE_FN void require_memory(double bytes, const std::string& what, const std::string& fix)
#if SPECDYN_CORE_BODIES
{
  const double limit = memory_limit_bytes();
  if (bytes > limit)
    throw usage_error(what + ": needs about " + format_bytes(bytes) + " of memory but the limit is " + format_bytes(limit) +
                      " (80% of RAM, or SPECDYN_MEMORY_LIMIT); " + fix);
}
#else
;
#endif

/// Keeps freed memory in the process. glibc hands blocks above 128 KB (adaptively up to 32 MB)
/// to the kernel on free and trims the top of the heap, so code that allocates and frees the same
/// large temporaries every step — the particle solver's [S, P] fields — pays a page fault per
/// 4 KB every time. After this call blocks up to 32 MB come from the heap and the heap is trimmed
/// only above 1 GB free. Measured (mlp3_tanh, softmax cross-entropy with 3 classes, T = 20, one
/// replica): 1.54 / 4.55 / 9.18 s → 1.32 / 1.96 / 4.01 s at S = 10⁴ / 2·10⁴ / 4·10⁴ particles;
/// `specdyn theory` at 4·10⁴ particles × 2 replicas 32.8 → 26.2 s. The specdyn program and the
/// test executables call it at start-up; call it once from your own program for the same effect.
SPECDYN_CORE_FN void keep_freed_memory()
#if SPECDYN_CORE_BODIES
{
#if defined(__GLIBC__)
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}
#else
;
#endif

}  // namespace specdyn::io

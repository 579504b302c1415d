// The compiled core. Functions that do not depend on a network declaration (record writers, run
// configuration, data loaders, the spectral predictions, the proportional-limit solver, ...) are
// marked SPECDYN_CORE_FN and their bodies sit inside `#if SPECDYN_CORE_BODIES`. They are compiled
// once, into the library specdyn_core (src/core.cpp defines SPECDYN_CORE_SOURCE), instead of once in
// every model's translation unit: everywhere else they are plain declarations and the linker takes
// the library's copies. Measured effect on build time: docs/building.md.
//
// Define SPECDYN_HEADER_ONLY before any specdyn header to compile them inline instead (no library).
#pragma once

#if defined(SPECDYN_HEADER_ONLY)
#define SPECDYN_CORE_FN inline
#define SPECDYN_CORE_BODIES 1
#elif defined(SPECDYN_CORE_SOURCE)
#define SPECDYN_CORE_FN __attribute__((used))  // in-class definitions are inline: emit them anyway
#define SPECDYN_CORE_BODIES 1
#else
#define SPECDYN_CORE_FN
#define SPECDYN_CORE_BODIES 0
#endif

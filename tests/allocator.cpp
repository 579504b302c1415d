// Linked into every test executable: the allocator setting the specdyn program starts with
// (io::keep_freed_memory, include/specdyn/io/resources.hpp), so the tests time what users run.
#include "specdyn/io/resources.hpp"

namespace {
const bool kept = (specdyn::io::keep_freed_memory(), true);
}  // namespace

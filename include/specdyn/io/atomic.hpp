// Atomic file writes: write to "<path>.tmp.<pid>" in the same directory, flush, then rename over
// the target, so an interrupted run never leaves a torn file and readers see old or new, whole.
//   specdyn::io::write_atomic("run.json", json.dump(2));
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include <unistd.h>

namespace specdyn::io {

inline void write_atomic(const std::filesystem::path& path, std::string_view bytes) {
  const auto tmp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp + ": check that the directory exists and is writable");
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw std::runtime_error("writing " + tmp + " failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot move " + tmp + " to " + path.string() + ": " + ec.message());
  }
}

}  // namespace specdyn::io

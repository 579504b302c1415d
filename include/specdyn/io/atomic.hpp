// Atomic, durable file writes: write to "<path>.tmp.<pid>" in the same directory, fsync it,
// rename it over the target and fsync the directory, so an interrupted run or a power cut never
// leaves a torn file: readers see the old file or the new one, whole.
//   specdyn::io::write_atomic("run.json", json.dump(2));
#pragma once

#include "specdyn/core.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

namespace specdyn::io {

SPECDYN_CORE_FN void write_atomic(const std::filesystem::path& path, std::string_view bytes)
#if SPECDYN_CORE_BODIES
{
  const auto tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error("cannot write " + tmp + " (" + std::strerror(errno) + "): check that the directory exists and is writable");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      std::remove(tmp.c_str());
      throw std::runtime_error("writing " + tmp + " failed (" + why + ")");
    }
    done += std::size_t(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw std::runtime_error("flushing " + tmp + " to disk failed (" + why + ")");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot move " + tmp + " to " + path.string() + ": " + ec.message());
  }
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {  // make the rename itself durable
    ::fsync(dfd);
    ::close(dfd);
  }
}
#else
;
#endif

}  // namespace specdyn::io

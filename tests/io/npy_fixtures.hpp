// Hand-written .npy files for the loader's error paths: a header of our choosing followed by
// `payload` bytes, so tests can build corrupt, truncated and hostile files.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

namespace specdyn::testing {

inline void write_raw_npy(const std::filesystem::path& path, const std::string& dict, std::size_t payload_bytes,
                          char version = 1) {
  std::string header = dict;
  const std::size_t prefix = version == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  f << "\x93NUMPY" << version << char(0);
  const std::size_t n = header.size();
  if (version == 1) f << char(n & 0xff) << char(n >> 8);
  else f << char(n & 0xff) << char((n >> 8) & 0xff) << char(0) << char(0);
  f << header << std::string(payload_bytes, '\0');
}

}  // namespace specdyn::testing

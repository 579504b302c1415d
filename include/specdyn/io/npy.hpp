// NumPy .npy files (format 1.0/2.0): write float64 arrays atomically, read float32/float64
// arrays in C or Fortran order with clear errors about shape and dtype. numpy.load and
// xt::load_npy read what this writes.
//   specdyn::io::save_npy("spectra.npy", values, {steps, n});
//   auto a = specdyn::io::load_npy("X.npy");   // a.shape, a.data (row-major doubles)
#pragma once

#include "specdyn/core.hpp"

#include <cstdint>
#include <cmath>
#include <cstring>
#include <limits>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "specdyn/errors.hpp"
#include "specdyn/io/atomic.hpp"

namespace specdyn::io {

struct npy_array {
  std::vector<std::size_t> shape;
  std::vector<double> data;  // row-major
};

SPECDYN_CORE_FN void save_npy(const std::filesystem::path& path, const double* data, const std::vector<std::size_t>& shape)
#if SPECDYN_CORE_BODIES
{
  std::string dims;
  std::size_t count = 1;
  for (std::size_t d : shape) {
    dims += std::to_string(d) + ", ";
    count *= d;
  }
  if (shape.size() != 1 && !dims.empty()) dims.resize(dims.size() - 2);
  if (shape.size() == 1) dims.resize(dims.size() - 1);  // "(n,)"
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + dims + "), }";
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += char(1);
  bytes += char(0);
  const auto hlen = std::uint16_t(header.size());
  bytes += char(hlen & 0xff);
  bytes += char(hlen >> 8);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(data), count * sizeof(double));
  write_atomic(path, bytes);
}
#else
;
#endif

/// Reads a 1-D or 2-D float32/float64 array; errors name the file and what is wrong. Every
/// malformed header (bad magic, header length past the end of the file, unparsable or overflowing
/// shape, element count that disagrees with the bytes present) is a usage_error (exit code 2).
SPECDYN_CORE_FN npy_array load_npy(const std::filesystem::path& path)
#if SPECDYN_CORE_BODIES
{
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw usage_error(name + ": cannot open; check the path");
  std::error_code ec;
  const std::uintmax_t file_size = std::filesystem::file_size(path, ec);
  if (ec) throw usage_error(name + ": cannot read its size (" + ec.message() + ")");
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw usage_error(name + ": not a .npy file; save it with numpy.save");
  if (magic[6] != 1 && magic[6] != 2 && magic[6] != 3)
    throw usage_error(name + ": unsupported .npy format version " + std::to_string(int(magic[6])) + "; save it with numpy.save");
  std::size_t hlen;
  std::size_t prefix;
  if (magic[6] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    hlen = b[0] | (std::size_t(b[1]) << 8);
    prefix = 10;
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    hlen = b[0] | (std::size_t(b[1]) << 8) | (std::size_t(b[2]) << 16) | (std::size_t(b[3]) << 24);
    prefix = 12;
  }
  if (!in || prefix + hlen > file_size) throw usage_error(name + ": the header runs past the end of the file (truncated?)");
  std::string header(hlen, '\0');
  in.read(header.data(), std::streamsize(hlen));
  auto field = [&](const std::string& key) {
    const auto k = header.find("'" + key + "'");
    const auto colon = k == std::string::npos ? k : header.find(':', k);
    if (colon == std::string::npos) throw usage_error(name + ": header lacks '" + key + "'; save the file with numpy.save");
    return header.substr(colon + 1);
  };
  const std::string descr = field("descr");
  const bool f8 = descr.find("<f8") != std::string::npos, f4 = descr.find("<f4") != std::string::npos;
  if (!f8 && !f4) {
    const auto q = descr.find('\'');
    const std::string shown = q == std::string::npos ? descr.substr(0, 16) : descr.substr(q, descr.find('\'', q + 1) - q + 1);
    throw usage_error(name + ": dtype " + shown + " is not supported; convert with arr.astype(numpy.float64)");
  }
  const std::string fo = field("fortran_order");
  const bool fortran = fo.find("True") < fo.find('}');
  std::string s = field("shape");
  const auto open = s.find('('), close = s.find(')');
  if (open == std::string::npos || close == std::string::npos || close < open)
    throw usage_error(name + ": header has no shape tuple; save the file with numpy.save");
  s = s.substr(open + 1, close - open - 1);
  npy_array a;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    const auto first = tok.find_first_not_of(" \t"), last = tok.find_last_not_of(" \t");
    if (first == std::string::npos) continue;  // "(n,)"
    tok = tok.substr(first, last - first + 1);
    if (tok.find_first_not_of("0123456789") != std::string::npos || tok.size() > 19)
      throw usage_error(name + ": shape entry '" + tok + "' is not a valid dimension; save the file with numpy.save");
    a.shape.push_back(std::stoull(tok));
  }
  if (a.shape.empty() || a.shape.size() > 2)
    throw usage_error(name + ": has " + std::to_string(a.shape.size()) + " dimensions; expected a 1-D or 2-D array");
  const std::size_t item = f8 ? 8 : 4;
  std::size_t count = 1;
  for (auto d : a.shape) {
    if (d != 0 && count > std::numeric_limits<std::size_t>::max() / item / d)
      throw usage_error(name + ": shape (" + s + ") overflows the address space; the header is corrupt");
    count *= d;
  }
  const std::uintmax_t need = std::uintmax_t(prefix + hlen) + std::uintmax_t(count) * item;
  if (need > file_size)
    throw usage_error(name + ": shape (" + s + ") needs " + std::to_string(need) + " bytes but the file has " +
                      std::to_string(file_size) + " (truncated or corrupt)");
  if (need < file_size)
    throw usage_error(name + ": shape (" + s + ") needs " + std::to_string(need) + " bytes but the file has " +
                      std::to_string(file_size) + " (trailing bytes: corrupt, or not the array the header describes)");
  a.data.resize(count);
  if (f8) {
    in.read(reinterpret_cast<char*>(a.data.data()), std::streamsize(count * 8));
  } else {
    std::vector<float> tmp(count);
    in.read(reinterpret_cast<char*>(tmp.data()), std::streamsize(count * 4));
    for (std::size_t i = 0; i < count; ++i) a.data[i] = tmp[i];
  }
  if (!in) throw usage_error(name + ": file is shorter than its header says (truncated?)");
  if (fortran && a.shape.size() == 2) {  // to row-major
    std::vector<double> r(count);
    for (std::size_t i = 0; i < a.shape[0]; ++i)
      for (std::size_t j = 0; j < a.shape[1]; ++j) r[i * a.shape[1] + j] = a.data[j * a.shape[0] + i];
    a.data.swap(r);
  }
  for (double v : a.data)
    if (!std::isfinite(v)) throw usage_error(name + ": contains NaN or Inf; clean the data first");
  return a;
}
#else
;
#endif

}  // namespace specdyn::io

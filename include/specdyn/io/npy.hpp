// NumPy .npy files (format 1.0/2.0): write float64 arrays atomically, read float32/float64
// arrays in C or Fortran order with clear errors about shape and dtype. numpy.load and
// xt::load_npy read what this writes.
//   specdyn::io::save_npy("spectra.npy", values, {steps, n});
//   auto a = specdyn::io::load_npy("X.npy");   // a.shape, a.data (row-major doubles)
#pragma once

#include <cstdint>
#include <cstring>
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

inline void save_npy(const std::filesystem::path& path, const double* data, const std::vector<std::size_t>& shape) {
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

/// Reads a 1-D or 2-D float32/float64 array; errors name the file and what is wrong.
inline npy_array load_npy(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw usage_error(name + ": cannot open; check the path");
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw usage_error(name + ": not a .npy file; save it with numpy.save");
  std::size_t hlen;
  if (magic[6] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    hlen = b[0] | (std::size_t(b[1]) << 8);
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    hlen = b[0] | (std::size_t(b[1]) << 8) | (std::size_t(b[2]) << 16) | (std::size_t(b[3]) << 24);
  }
  std::string header(hlen, '\0');
  in.read(header.data(), std::streamsize(hlen));
  auto field = [&](const std::string& key) {
    const auto k = header.find("'" + key + "'");
    if (k == std::string::npos) throw usage_error(name + ": header lacks '" + key + "'");
    return header.substr(header.find(':', k) + 1);
  };
  const std::string descr = field("descr");
  const bool f8 = descr.find("<f8") != std::string::npos, f4 = descr.find("<f4") != std::string::npos;
  if (!f8 && !f4) {
    const auto q = descr.find('\'');
    throw usage_error(name + ": dtype " + descr.substr(q, descr.find('\'', q + 1) - q + 1) +
                      " is not supported; convert with arr.astype(numpy.float64)");
  }
  const bool fortran = field("fortran_order").find("True") < field("fortran_order").find('}');
  std::string s = field("shape");
  s = s.substr(s.find('(') + 1, s.find(')') - s.find('(') - 1);
  npy_array a;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ','))
    if (tok.find_first_of("0123456789") != std::string::npos) a.shape.push_back(std::stoul(tok));
  if (a.shape.empty() || a.shape.size() > 2)
    throw usage_error(name + ": has " + std::to_string(a.shape.size()) + " dimensions; expected a 1-D or 2-D array");
  std::size_t count = 1;
  for (auto d : a.shape) count *= d;
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

}  // namespace specdyn::io

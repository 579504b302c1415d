// Run records: one self-describing JSON file per run. The rule for arrays: an array with at most
// `inline_limit` (20000) numbers is an inline JSON list (nested by its shape); a larger one goes to
// a .npy side file next to the record, named <stem>.<key>.npy and referenced in its place as
// {"npy": file, "shape": [...]} (two-time kernels always go to .npy). scripts/specdyn_record.py
// reads a record and resolves both forms into numpy arrays. Side files are written before the
// JSON that points to them, each with temp-file + fsync + rename. `machine_facts()` gives what every record carries: library
// version, git revision, BLAS core and threads, start time.
//   specdyn::io::record rec("runs/mlp.json");
//   rec.put_array(rec.json()["f"], "f", values, {T, C, P});
//   rec.write();
#pragma once

#include "specdyn/core.hpp"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "specdyn/ad/blas.hpp"
#include "specdyn/io/atomic.hpp"
#include "specdyn/io/npy.hpp"
#include "specdyn/version.hpp"

namespace specdyn::io {

using json = nlohmann::json;

SPECDYN_CORE_FN std::string utc_now()
#if SPECDYN_CORE_BODIES
{
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}
#else
;
#endif

SPECDYN_CORE_FN json machine_facts()
#if SPECDYN_CORE_BODIES
{
  json m = {{"library", "specdyn"}, {"version", specdyn::version}, {"git", specdyn::git_revision},
            {"blas_core", blas::core_name()}, {"blas_threads", blas::num_threads()}, {"started", utc_now()}};
  if (const auto d = blas::detected_core(); !d.empty()) m["blas_core_detected"] = d;  // specdyn re-ran itself with a better core
  return m;
}
#else
;
#endif

/// JSON-safe number: NaN/Inf become null.
inline json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
SPECDYN_CORE_FN json numbers(const std::vector<double>& v)
#if SPECDYN_CORE_BODIES
{
  json a = json::array();
  for (double x : v) a.push_back(number(x));
  return a;
}
#else
;
#endif

class record {
 public:
  /// Arrays with more than this many numbers go to .npy side files.
  static constexpr std::size_t inline_limit = 20000;

  explicit record(std::filesystem::path path) : path_(std::move(path)) {}
  json& json_root() { return root_; }
  /// The keys every record starts with: schema, kind (finite_width | theory | compare), config, machine.
  json& begin(const std::string& kind, json config) {
    root_["schema"] = "specdyn.run/1";
    root_["kind"] = kind;
    root_["config"] = std::move(config);
    root_["machine"] = machine_facts();
    return root_;
  }
  const std::filesystem::path& path() const { return path_; }

  /// Stores a row-major array under target[key]: inline nested lists when small, else a side file.
  SPECDYN_CORE_FN void put_array(json& target, const std::string& key, const std::vector<double>& data, const std::vector<std::size_t>& shape)
#if SPECDYN_CORE_BODIES
  {
    if (data.size() <= inline_limit) {
      target[key] = nest(data, shape, 0, 0);
      return;
    }
    const std::string file = path_.stem().string() + "." + key_path(target_prefix_, key) + ".npy";
    pending_.push_back({path_.parent_path() / file, data, shape});
    target[key] = {{"npy", file}, {"shape", shape}};
  }
#else
  ;
#endif
  /// Stores an array under target[key] in a side .npy file whatever its size (large by nature,
  /// e.g. two-time kernels), with the same {"npy": file, "shape": [...]} reference.
  SPECDYN_CORE_FN void put_npy(json& target, const std::string& key, const std::vector<double>& data, const std::vector<std::size_t>& shape)
#if SPECDYN_CORE_BODIES
  {
    const std::string file = path_.stem().string() + "." + key_path(target_prefix_, key) + ".npy";
    pending_.push_back({path_.parent_path() / file, data, shape});
    target[key] = {{"npy", file}, {"shape", shape}};
  }
#else
  ;
#endif
  /// Ragged list of lists (e.g. spectra of different lengths): always inline unless huge, then padded npy.
  SPECDYN_CORE_FN void put_rows(json& target, const std::string& key, const std::vector<std::vector<double>>& rows)
#if SPECDYN_CORE_BODIES
  {
    std::size_t total = 0, width = 0;
    for (const auto& r : rows) { total += r.size(); width = std::max(width, r.size()); }
    if (total <= inline_limit) {
      json a = json::array();
      for (const auto& r : rows) a.push_back(numbers(r));
      target[key] = a;
      return;
    }
    std::vector<double> flat(rows.size() * width, std::nan(""));
    for (std::size_t i = 0; i < rows.size(); ++i) std::copy(rows[i].begin(), rows[i].end(), flat.begin() + std::ptrdiff_t(i * width));
    put_array(target, key, flat, {rows.size(), width});
  }
#else
  ;
#endif
  /// Prefix used in side-file names (e.g. "spectra.W1").
  void set_prefix(std::string p) { target_prefix_ = std::move(p); }

  /// Writes the side files, then the JSON (atomically each).
  void write() {
    for (const auto& p : pending_) save_npy(p.path, p.data.data(), p.shape);
    pending_.clear();
    write_atomic(path_, root_.dump(1) + "\n");
  }

 private:
  struct side_file {
    std::filesystem::path path;
    std::vector<double> data;
    std::vector<std::size_t> shape;
  };
  static std::string key_path(const std::string& prefix, const std::string& key) { return prefix.empty() ? key : prefix + "." + key; }
  static json nest(const std::vector<double>& d, const std::vector<std::size_t>& shape, std::size_t dim, std::size_t off) {
    json a = json::array();
    std::size_t stride = 1;
    for (std::size_t k = dim + 1; k < shape.size(); ++k) stride *= shape[k];
    for (std::size_t i = 0; i < shape[dim]; ++i) {
      if (dim + 1 == shape.size()) a.push_back(number(d[off + i]));
      else a.push_back(nest(d, shape, dim + 1, off + i * stride));
    }
    return a;
  }
  std::filesystem::path path_;
  json root_ = json::object();
  std::vector<side_file> pending_;
  std::string target_prefix_;
};

}  // namespace specdyn::io

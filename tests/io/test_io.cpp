// Run-record plumbing: .npy round trips (C and Fortran order, float32), atomic writes that leave
// no temporary files, and records that move large arrays to side files.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "specdyn/io/npy.hpp"
#include "specdyn/io/record.hpp"
#include "npy_fixtures.hpp"

namespace fs = std::filesystem;
using namespace specdyn;

TEST_CASE("npy round trip and errors", "[io]") {
  const fs::path dir = fs::temp_directory_path() / ("specdyn_io_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::vector<double> a(12);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = 0.5 * double(i) - 1;
  io::save_npy(dir / "a.npy", a.data(), {3, 4});
  const auto back = io::load_npy(dir / "a.npy");
  CHECK(back.shape == std::vector<std::size_t>{3, 4});
  CHECK(back.data == a);
  io::save_npy(dir / "v.npy", a.data(), {12});
  CHECK(io::load_npy(dir / "v.npy").shape == std::vector<std::size_t>{12});
  // a Fortran-ordered float32 file, written by hand
  {
    std::string header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }";
    header.append(64 - (10 + header.size() + 1) % 64, ' ');
    header += '\n';
    std::ofstream f(dir / "f.npy", std::ios::binary);
    f << "\x93NUMPY" << char(1) << char(0) << char(header.size()) << char(0) << header;
    const float col_major[6] = {1, 4, 2, 5, 3, 6};  // [[1,2,3],[4,5,6]]
    f.write(reinterpret_cast<const char*>(col_major), sizeof col_major);
  }
  const auto f = io::load_npy(dir / "f.npy");
  CHECK(f.data == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK_THROWS_WITH(io::load_npy(dir / "nope.npy"), Catch::Contains("cannot open"));
  std::ofstream(dir / "junk.npy") << "hello";
  CHECK_THROWS_WITH(io::load_npy(dir / "junk.npy"), Catch::Contains("not a .npy"));
  fs::remove_all(dir);
}

TEST_CASE("npy: hostile and corrupt headers are usage errors, never crashes", "[io]") {
  const fs::path dir = fs::temp_directory_path() / ("specdyn_npy_bad_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  using testing::write_raw_npy;
  auto load = [&](const std::string& file) { return io::load_npy(dir / file); };
  // 2305843009213693953 * 8 * 8 bytes wraps around 2^64 to 64: the element count must be checked
  write_raw_npy(dir / "huge.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693953, 8), }", 64);
  CHECK_THROWS_AS(load("huge.npy"), usage_error);
  CHECK_THROWS_WITH(load("huge.npy"), Catch::Contains("overflows") || Catch::Contains("needs"));
  write_raw_npy(dir / "nondigit.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (4, x8), }", 256);
  CHECK_THROWS_WITH(load("nondigit.npy"), Catch::Contains("not a valid dimension"));
  write_raw_npy(dir / "long.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 1), }", 8);
  CHECK_THROWS_AS(load("long.npy"), usage_error);
  write_raw_npy(dir / "short.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 8), }", 4 * 8 * 8 - 1);
  CHECK_THROWS_WITH(load("short.npy"), Catch::Contains("truncated"));
  write_raw_npy(dir / "long_data.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 8), }", 4 * 8 * 8 + 8);
  CHECK_THROWS_WITH(load("long_data.npy"), Catch::Contains("trailing bytes"));
  write_raw_npy(dir / "noshape.npy", "{'descr': '<f8', 'fortran_order': False, }", 8);
  CHECK_THROWS_WITH(load("noshape.npy"), Catch::Contains("lacks 'shape'"));
  write_raw_npy(dir / "v2.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", 32, 2);
  CHECK(load("v2.npy").shape == std::vector<std::size_t>{2, 2});
  {  // a header length that points past the end of the file
    std::ofstream f(dir / "hlen.npy", std::ios::binary);
    f << "\x93NUMPY" << char(1) << char(0) << char(0xff) << char(0xff) << "{'descr'";
  }
  CHECK_THROWS_WITH(load("hlen.npy"), Catch::Contains("past the end"));
  fs::remove_all(dir);
}

TEST_CASE("records: atomic, small arrays inline, large ones in side files", "[io]") {
  const fs::path dir = fs::temp_directory_path() / ("specdyn_rec_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  io::record rec(dir / "run.json");
  auto& j = rec.json_root();
  rec.put_array(j, "small", {1, 2, 3, 4}, {2, 2});
  std::vector<double> big(io::record::inline_limit + 1, 0.25);
  rec.put_array(j, "big", big, {big.size()});
  j["nan"] = io::number(std::nan(""));
  rec.write();
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++files;
    CHECK(e.path().string().find(".tmp.") == std::string::npos);
  }
  CHECK(files == 2);
  std::ifstream in(dir / "run.json");
  const auto back = io::json::parse(in);
  CHECK(back["small"] == io::json::parse("[[1.0,2.0],[3.0,4.0]]"));
  CHECK(back["nan"].is_null());
  const auto side = io::load_npy(dir / back["big"]["npy"].get<std::string>());
  CHECK(side.data == big);
  fs::remove_all(dir);
}

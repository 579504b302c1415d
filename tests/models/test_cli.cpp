// The command line against bad input: every case must exit with code 2, print exactly one line
// naming the bad flag or value, and write nothing. Controls: a valid run writes its record, and a
// diverging run exits with 3 and keeps a record marked "diverged".
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "specdyn/io/npy.hpp"

namespace fs = std::filesystem;

namespace {
struct outcome {
  int code;
  std::string err;
};

fs::path scratch() {
  static const fs::path dir = fs::temp_directory_path() / ("specdyn_cli_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

outcome run(const std::string& args) {
  const fs::path err = scratch() / "stderr.txt";
  const std::string cmd = std::string(SPECDYN_CLI) + " " + args + " > /dev/null 2> " + err.string();
  const int status = std::system(cmd.c_str());
  std::ifstream in(err);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WEXITSTATUS(status), ss.str()};
}

std::size_t lines(const std::string& s) { return std::size_t(std::count(s.begin(), s.end(), '\n')); }

bool empty_or_missing(const fs::path& p) { return !fs::exists(p) || fs::is_empty(p); }
}  // namespace

TEST_CASE("bad input: exit code 2, one line naming the problem, nothing written", "[cli]") {
  const fs::path out = scratch() / "never";
  const std::string base = "train --model mlp3_tanh --width 32 --dim 8 --samples 8 --steps 2 --quiet --out " + out.string();
  // int64 data for the dtype case, a float64 file with the wrong dimension for the shape case
  const fs::path bad_dtype = scratch() / "int.npy", x_ok = scratch() / "x.npy", y_ok = scratch() / "y.npy";
  {
    std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': (4, 8), }";
    header.append(64 - (10 + header.size() + 1) % 64, ' ');
    header += '\n';
    std::ofstream f(bad_dtype, std::ios::binary);
    f << "\x93NUMPY" << char(1) << char(0) << char(header.size()) << char(0) << header << std::string(4 * 8 * 8, '\0');
    std::vector<double> x(4 * 5, 0.5), y(4, 1.0);
    specdyn::io::save_npy(x_ok, x.data(), {4, 5});
    specdyn::io::save_npy(y_ok, y.data(), {4});
  }
  const std::vector<std::pair<std::string, std::string>> cases{
      {"train --model mlp3_tanh --width 0 --quiet --out " + out.string(), "--width = 0"},
      {base + " --param xyz", "--param = xyz"},
      {"train --model nosuch --out " + out.string(), "--model = nosuch"},
      {base + " --lr -1", "--lr = -1"},
      {base + " --gamma0 abc", "--gamma0"},
      {base + " --task foo", "--task = foo"},
      {base + " --teacher sine", "teacher = sine"},
      {base + " --loss xent", "--loss = xent"},
      {base + " --batch 100", "--batch = 100"},
      {base + " --spectra-method magic", "--spectra-method = magic"},
      {base + " --task npy", "--task = npy"},
      {base + " --task npy --x missing.npy --y missing.npy", "missing.npy"},
      {base + " --task npy --x " + bad_dtype.string() + " --y " + y_ok.string(), "dtype"},
      {base + " --task npy --x " + x_ok.string() + " --y " + y_ok.string(), "has dim 5 but --dim is 8"},
      {base + " --widht 64", "--widht"},
      {base + " --spectra-every 0", "--spectra-every = 0"},
      {base + " --sigma 0", "--sigma = 0"},
      {"plot " + (scratch() / "nothing.json").string() + " --out " + out.string(), "no such file"},
  };
  for (const auto& [args, expected] : cases) {
    const auto r = run(args);
    INFO("specdyn " << args << "\nstderr: " << r.err);
    CHECK(r.code == 2);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find(expected) != std::string::npos);
    CHECK(empty_or_missing(out));
  }
  CHECK(run("train --help").code == 0);
}

TEST_CASE("a valid run writes its record; a diverging one keeps it and exits 3", "[cli]") {
  const fs::path out = scratch() / "ok";
  auto r = run("train --model two_layer_relu --width 32 --dim 8 --samples 8 --steps 3 --quiet --out " + out.string());
  REQUIRE(r.code == 0);
  REQUIRE(fs::exists(out));
  std::size_t jsons = 0;
  for (const auto& e : fs::directory_iterator(out)) jsons += e.path().extension() == ".json";
  CHECK(jsons == 1);

  const fs::path bad = scratch() / "diverged.json";
  r = run("train --model mlp3_tanh --param sp --lr 200 --width 256 --dim 8 --samples 8 --steps 200 --quiet --out " + bad.string());
  INFO(r.err);
  CHECK(r.code == 3);
  CHECK(r.err.find("diverged at step") != std::string::npos);
  REQUIRE(fs::exists(bad));
  std::ifstream in(bad);
  const auto j = nlohmann::json::parse(in);
  CHECK(j["status"] == "diverged");
  CHECK(j["train_loss"].size() >= 1);
}

// The command line against bad input and failures. Bad input: exit code 2, exactly one line
// naming the bad flag or value, nothing written. A valid run writes a record whose contents match
// the flags; divergence exits 3, SIGINT/SIGTERM 130/143 and any other failure 1, each keeping a
// record whose status and message say what happened.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "io/npy_fixtures.hpp"
#include "specdyn/ad/blas.hpp"
#include "specdyn/io/npy.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

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

outcome run(const std::string& args, const std::string& env = "") {
  const fs::path err = scratch() / "stderr.txt";
  const std::string cmd = env + " " + std::string(SPECDYN_CLI) + " " + args + " > /dev/null 2> " + err.string();
  const int status = std::system(cmd.c_str());
  std::ifstream in(err);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WEXITSTATUS(status), ss.str()};
}

/// Starts the CLI, sends `sig` after `delay_ms`, returns its exit code.
int run_and_signal(const std::vector<std::string>& args, int sig, int delay_ms) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv{const_cast<char*>(SPECDYN_CLI)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    ::execv(SPECDYN_CLI, argv.data());
    std::_Exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  ::kill(pid, sig);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::size_t lines(const std::string& s) { return std::size_t(std::count(s.begin(), s.end(), '\n')); }

bool empty_or_missing(const fs::path& p) { return !fs::exists(p) || fs::is_empty(p); }

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

/// The single record in a directory.
fs::path only_record(const fs::path& dir) {
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".json") found.push_back(e.path());
  REQUIRE(found.size() == 1);
  return found.front();
}
}  // namespace

TEST_CASE("the specdyn executable under test exists", "[cli]") {
  // test_cli does not depend on the specdyn target (tests/CMakeLists.txt): `make all` builds both
  INFO(SPECDYN_CLI << " is missing: build it first (cmake --build build --target specdyn)");
  REQUIRE(fs::is_regular_file(SPECDYN_CLI));
}

TEST_CASE("bad input: exit code 2, one line naming the problem, nothing written", "[cli]") {
  const fs::path out = scratch() / "never";
  const std::string base = "train --model mlp3_tanh --width 32 --dim 8 --samples 8 --steps 2 --quiet --out " + out.string();
  const std::string tbase = "theory --model mlp3_tanh --dim 8 --samples 4 --test-samples 0 --steps 2 --quiet --out " + out.string();
  // int64 data for the dtype case, a float64 file with the wrong dimension for the shape case, and
  // a header whose element count overflows size_t (it crashed the loader once)
  const fs::path bad_dtype = scratch() / "int.npy", x_ok = scratch() / "x.npy", y_ok = scratch() / "y.npy", huge = scratch() / "huge.npy";
  specdyn::testing::write_raw_npy(bad_dtype, "{'descr': '<i8', 'fortran_order': False, 'shape': (4, 8), }", 4 * 8 * 8);
  specdyn::testing::write_raw_npy(huge, "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693953, 8), }", 64);
  {
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
      {"train --model mlp3_tanh --task npy --x " + huge.string() + " --y " + huge.string() +
           " --dim 8 --outputs 8 --samples 4 --width 64 --steps 2 --quiet --out " + out.string(), "huge.npy"},
      {base + " --widht 64", "--widht"},
      {base + " --hessian-every -1", "--hessian-every = -1"},
      {base + " --sigma 0", "--sigma = 0"},
      {"train --model mlp3_tanh --width 60000 --steps 2 --quiet --out " + out.string(), "needs about"},
      {tbase + " --particles 10", "--particles = 10"},
      {tbase + " --solver exact", "--solver = exact"},
      {tbase + " --solver magic", "--solver = magic"},
      {tbase + " --no-centre", "--no-centre"},
      {"theory --model mlp3_tanh --dim 8 --samples 4 --test-samples 0 --steps 400 --particles 4000000 --quiet --out " + out.string(), "needs about"},
      {tbase + " --spectra-method full", "--spectra-method"},  // a train-only flag: theory does not list it
      {"compare --model mlp3_tanh --widths 64,abc --quiet --out " + out.string(), "--widths = 64,abc"},
      {"compare --model mlp3_tanh --widths 600000 --steps 2 --quiet --out " + out.string(), "needs about"},
      {"plot " + (scratch() / "nothing.json").string() + " --out " + out.string(), "no such file"},
      {"sweep --model mlp3_tanh --widths 64,abc --quiet --out " + out.string(), "--widths = 64,abc"},
      {"sweep --model mlp3_tanh --widths 64 --lrs 0.5,-1 --quiet --out " + out.string(), "-1"},
      {"sweep --model mlp3_tanh --widths 64 --params mup,xyz --quiet --out " + out.string(), "xyz"},
      {"sweep --model mlp3_tanh --widths 64 --seeds 0 --quiet --out " + out.string(), "--seeds = 0"},
      {"sweep --model mlp3_tanh --widths 600000 --quiet --out " + out.string(), "needs about"},
      {"proportional --dims 256,x --quiet --out " + out.string(), "--dims"},
      {"proportional --dims 4 --quiet --out " + out.string(), "--dims = 4"},
      {"proportional --ratio-samples -1 --quiet --out " + out.string(), "α = P/D = -1"},
      {"proportional --lr-over-p 0 --quiet --out " + out.string(), "η/P = 0"},
      // real data (docs/data.md): D and C come from the data, and a missing package says how to install it
      {base + " --task fashion-mnist", "--dim = 8: --task fashion-mnist has D = 784"},
      {"train --model mlp3_tanh --task fashion-mnist --outputs 3 --quiet --out " + out.string(), "--outputs = 3"},
      {"train --model mlp3_tanh --task fashion-mnist --noise 0.5 --quiet --out " + out.string(), "--noise = 0.5"},
      {"train --model mlp3_tanh --task fashion-mnist --width 32 --samples 70000 --quiet --out " + out.string(), "--samples = 70000"},
      {"train --model mlp3_tanh --task fashion-mnist --data-dir " + (scratch() / "nowhere").string() + " --quiet --out " + out.string(),
       "scripts/setup.sh"},
      {"train --model mlp3_tanh --task text --vocab 1 --quiet --out " + out.string(), "--vocab = 1"},
      {"train --model mlp3_tanh --task text --context 0 --quiet --out " + out.string(), "--context = 0"},
      {"train --model mlp3_tanh --task text --vocab 90000 --width 8 --samples 4 --test-samples 4 --quiet --out " + out.string(), "distinct words"},
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

TEST_CASE("a valid run writes a record that says what was run", "[cli]") {
  const fs::path out = scratch() / "ok";
  const std::string args = "train --model two_layer_relu --width 32 --dim 8 --samples 8 --steps 3 --spectra-every 1 "
                           "--spectra-method full --quiet --out " + out.string();
  const auto r = run(args);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json j = read_json(only_record(out));
  CHECK(j["schema"] == "specdyn.run/1");
  CHECK(j["kind"] == "finite_width");
  CHECK(j["status"] == "completed");
  CHECK(j["message"] == "");
  CHECK(j["config"]["command_line"].get<std::string>().find(args) != std::string::npos);
  CHECK(j["config"]["width"] == 32);
  CHECK(j["config"]["samples"] == 8);
  CHECK(j["steps"].size() == 4);
  CHECK(j["train_loss"].size() == 4);
  for (const auto& v : j["train_loss"]) CHECK(v.is_number());
  CHECK(j["spectra"]["W0"]["method"] == "full");
  CHECK(j["spectra"]["W0"]["steps"].size() == 4);
  CHECK(j["spectra"]["W0"]["singular_values"][0].size() == 8);  // min(N, D) values of the 32×8 input weight
  CHECK(j["machine"]["blas_core"].is_string());
#if defined(__x86_64__)
  // the OpenBLAS core guard: on a CPU with AVX2 the CLI never runs generic or pre-AVX2 kernels (it
  // re-runs itself with a better kernel family when OpenBLAS misdetects; a user's choice is respected)
  if (!specdyn::blas::core_type_chosen_by_user() && __builtin_cpu_supports("avx2")) {
    const std::string core = j["machine"]["blas_core"];
    CHECK(specdyn::blas::better_core(core, __builtin_cpu_supports("avx512f"), true, __builtin_cpu_is("amd")).empty());
    if (j["machine"].contains("blas_core_detected"))
      CHECK_FALSE(specdyn::blas::better_core(j["machine"]["blas_core_detected"], true, true, false).empty());
  }
#endif
  // a second run at the same path with different data is refused unless --force
  const auto again = run("train --model two_layer_relu --width 32 --dim 8 --samples 8 --steps 3 --noise 0.5 --quiet --out " +
                         only_record(out).string());
  CHECK(again.code == 2);
  CHECK(again.err.find("--force") != std::string::npos);
}

TEST_CASE("real-data tasks: shapes from the data, accuracy next to the test loss, task fields in the config", "[cli][data]") {
  const fs::path out = scratch() / "real";
  auto record = [&](const std::string& args) {
    const auto r = run(args + " --quiet --out " + out.string() + " --force");
    INFO("specdyn " << args << "\nstderr: " << r.err);
    REQUIRE(r.code == 0);
    return read_json(only_record(out));
  };
  auto check_accuracy = [](const json& j, std::size_t steps, std::size_t eval_every) {
    REQUIRE(j["test_accuracy"].size() == steps + 1);
    REQUIRE(j["train_accuracy"].size() == steps + 1);
    for (std::size_t t = 0; t <= steps; ++t) {
      const bool due = t % eval_every == 0 || t == steps;
      CHECK(j["test_accuracy"][t].is_number() == due);
      CHECK(j["test_loss"][t].is_number() == due);
      if (!due) continue;
      CHECK(j["test_accuracy"][t].get<double>() >= 0.0);
      CHECK(j["test_accuracy"][t].get<double>() <= 1.0);
      CHECK(j["train_accuracy"][t].get<double>() >= 0.0);
    }
  };
  fs::remove_all(out);
  json j = record("train --model two_layer_relu --task text --vocab 50 --context 3 --train-samples 64 --test-samples 32 --width 32 "
                  "--steps 4 --eval-every 2 --loss xent");
  CHECK(only_record(out).filename().string().find("_text_P64_") != std::string::npos);
  CHECK(only_record(out).filename().string().find("_V50_k3_") != std::string::npos);
  CHECK(j["config"]["dim"] == 150);
  CHECK(j["config"]["outputs"] == 50);
  CHECK(j["config"]["vocab"] == 50);
  CHECK(j["config"]["context"] == 3);
  CHECK(j["config"]["samples"] == 64);
  CHECK(j["config"]["data_dir"] == "/usr/share/games/fortunes");
  check_accuracy(j, 4, 2);
  for (std::size_t t = 0; t <= 4; ++t) CHECK(j["train_loss"][t].is_number());  // full batch: the loss of every step
  fs::remove_all(out);
  // mini-batch SGD: the full training loss is a pass over all P points, so it is evaluated with the test loss only
  j = record("train --model two_layer_relu --task text --vocab 50 --context 3 --train-samples 64 --test-samples 32 --width 32 "
             "--steps 5 --batch 16 --eval-every 2 --loss xent");
  check_accuracy(j, 5, 2);
  for (std::size_t t = 0; t <= 5; ++t) CHECK(j["train_loss"][t].is_number() == (t % 2 == 0 || t == 5));
  CHECK(j["f"]["steps"] == json::array({0, 2, 4, 5}));
  CHECK(!j["f"].contains("skipped"));
  fs::remove_all(out);
  j = record("train --model two_layer_relu --task fashion-mnist --samples 64 --width 32 --steps 3 --loss mse");  // one-hot targets: accuracy with MSE too
  CHECK(j["config"]["dim"] == 784);
  CHECK(j["config"]["outputs"] == 10);
  CHECK(j["config"]["test_samples"] == 1000);  // the real-data default
  CHECK(!j["config"].contains("vocab"));
  check_accuracy(j, 3, 1);
  fs::remove_all(out);
  j = record("train --model two_layer_relu --width 32 --dim 8 --samples 8 --steps 2");  // synthetic regression: no accuracy, config as before
  CHECK(!j.contains("test_accuracy"));
  CHECK(!j["config"].contains("data_dir"));
}

TEST_CASE("divergence, failures and signals keep the record and set the exit code", "[cli]") {
  SECTION("a finite blow-up of the loss is divergence (exit 3), named 'the loss'") {
    const fs::path bad = scratch() / "diverged.json";
    const auto r = run("train --model mlp3_tanh --width 512 --steps 50 --lr 50 --quiet --out " + bad.string());
    INFO(r.err);
    CHECK(r.code == 3);
    CHECK(r.err.find("diverged at step") != std::string::npos);
    CHECK(r.err.find("in the loss") != std::string::npos);
    REQUIRE(fs::exists(bad));
    const json j = read_json(bad);
    CHECK(j["status"] == "diverged");
    CHECK(j["message"].get<std::string>().find("diverged") != std::string::npos);
    CHECK(j["train_loss"].size() >= 2);
  }
  SECTION("an error inside training is recorded as failed (exit 1)") {
    const fs::path rec = scratch() / "failed.json";
    const auto r = run("train --model two_layer_relu --width 32 --dim 8 --samples 8 --steps 10 --quiet --out " + rec.string(),
                       "SPECDYN_INJECT_FAILURE=4");
    CHECK(r.code == 1);
    REQUIRE(fs::exists(rec));
    const json j = read_json(rec);
    CHECK(j["status"] == "failed");
    CHECK(j["message"].get<std::string>().find("injected failure at step 4") != std::string::npos);
    CHECK(j["train_loss"].size() == 5);  // steps 0..4 were recorded
  }
  SECTION("SIGTERM and SIGINT stop train and theory with their records (exit 143/130)") {
    const fs::path tr = scratch() / "term_train.json", th = scratch() / "int_theory.json";
    const int code_train = run_and_signal({"train", "--model", "mlp3_tanh", "--width", "256", "--steps", "100000", "--spectra-every", "0",
                                           "--hessian-every", "0", "--quiet", "--out", tr.string()},
                                          SIGTERM, 1500);
    CHECK(code_train == 143);
    REQUIRE(fs::exists(tr));
    CHECK(read_json(tr)["status"] == "interrupted");
    CHECK(read_json(tr)["message"].get<std::string>().find("SIGTERM") != std::string::npos);
    const int code_theory = run_and_signal({"theory", "--model", "mlp3_tanh", "--samples", "8", "--test-samples", "0", "--steps", "40",
                                            "--particles", "4000", "--replicas", "200", "--quiet", "--out", th.string()},
                                           SIGINT, 2500);
    CHECK(code_theory == 130);
    REQUIRE(fs::exists(th));
    const json j = read_json(th);
    CHECK(j["status"] == "interrupted");
    CHECK(j["message"].get<std::string>().find("SIGINT") != std::string::npos);
  }
}

TEST_CASE("sweep: every point recorded, diverged points are data, a re-run resumes and redoes torn records", "[cli][sweep]") {
  const fs::path out = scratch() / "sweep";
  fs::remove_all(out);
  // η = 1000 diverges at every width; the others complete
  const std::string args = "sweep --model mlp3_tanh --dim 8 --samples 8 --test-samples 0 --steps 5 --params mup,ntk --widths 32,64 "
                           "--lrs 0.5,1,2,1000 --seeds 1 --jobs 2 --quiet --out " + out.string();
  const auto first = run(args);
  INFO(first.err);
  REQUIRE(first.code == 0);
  const fs::path summary = only_record(out);
  const json j = read_json(summary);
  CHECK(j["kind"] == "sweep");
  CHECK(j["status"] == "completed");
  CHECK(j["points_run"] == 16);
  CHECK(j["points_skipped"] == 0);
  REQUIRE(j["points"].size() == 16);
  std::size_t diverged = 0;
  for (const auto& p : j["points"]) {
    CHECK(fs::exists(out / "points" / p["record"].get<std::string>()));
    if (p["lr"] == 1000) {
      CHECK(p["status"] == "diverged");
      ++diverged;
    } else {
      CHECK(p["status"] == "completed");
    }
  }
  CHECK(diverged == 4);
  REQUIRE(j["curves"].size() == 4);  // (mup, ntk) × (32, 64)
  for (const auto& c : j["curves"]) {
    CHECK(c["eta_star"].is_number());
    CHECK(c["eta_star"].get<double>() <= 2.0);  // the optimum is never the diverged grid point
  }
  // the figures are drawn after the run (plot.py), unless --no-plot
  CHECK(fs::exists(out / "sweep_lr_transfer.png"));
  CHECK(fs::exists(out / "sweep_dynamics.png"));
  fs::remove(out / "sweep_lr_transfer.png");
  // resume: nothing to redo
  const auto second = run(args + " --no-plot");
  CHECK_FALSE(fs::exists(out / "sweep_lr_transfer.png"));
  REQUIRE(second.code == 0);
  const json j2 = read_json(summary);
  CHECK(j2["points_run"] == 0);
  CHECK(j2["points_skipped"] == 16);
  CHECK(j2["curves"] == j["curves"]);
  // a torn record and a missing one are redone, and the summary is the same as the uninterrupted run's
  const fs::path torn = out / "points" / j["points"][0]["record"].get<std::string>();
  const fs::path gone = out / "points" / j["points"][5]["record"].get<std::string>();
  fs::resize_file(torn, fs::file_size(torn) / 2);
  fs::remove(gone);
  const auto third = run(args + " --no-plot");
  REQUIRE(third.code == 0);
  const json j3 = read_json(summary);
  CHECK(j3["points_run"] == 2);
  CHECK(j3["points_skipped"] == 14);
  CHECK(j3["curves"] == j["curves"]);
  CHECK(j3["points"] == j["points"]);
}

TEST_CASE("sweep --depths: one point per depth, η* per depth and its L-exponent, the depth figures, resumable", "[cli][sweep]") {
  const fs::path out = scratch() / "sweep_depths";
  fs::remove_all(out);
  const std::string args = "sweep --model resnet_relu --dim 8 --samples 8 --test-samples 0 --steps 5 --params depth_mup --widths 32 "
                           "--lrs 0.25,0.5,1,2,4 --depths 2,4,8 --depth-alpha 1/2 --seeds 1 --jobs 2 --quiet --out " + out.string();
  const auto first = run(args);
  INFO(first.err);
  REQUIRE(first.code == 0);
  const json j = read_json(only_record(out));
  CHECK(j["config"]["depths"] == json::array({2, 4, 8}));
  REQUIRE(j["points"].size() == 15);
  std::map<std::size_t, std::size_t> per_depth;
  for (const auto& p : j["points"]) {
    ++per_depth[p["depth"].get<std::size_t>()];
    // each point's own record says the depth it ran at, and its residual blocks
    const json rec = read_json(out / "points" / p["record"].get<std::string>());
    CHECK(rec["config"]["depth"] == p["depth"]);
  }
  CHECK(per_depth == std::map<std::size_t, std::size_t>{{2, 5}, {4, 5}, {8, 5}});
  REQUIRE(j["curves"].size() == 3);
  for (const auto& c : j["curves"]) CHECK(c["depth"].is_number());
  CHECK(j.contains("eta_star_depth_fits"));
  for (const char* fig : {"sweep_depth_lr.png", "sweep_depth_curves.png", "sweep_lr_transfer.png"}) CHECK(fs::exists(out / fig));
  const auto second = run(args + " --no-plot");
  REQUIRE(second.code == 0);
  const json j2 = read_json(only_record(out));
  CHECK(j2["points_skipped"] == 15);
  CHECK(j2["curves"] == j["curves"]);
}

TEST_CASE("sweep: SIGKILL mid-run loses only in-flight points; resumed, it equals an uninterrupted run record for record", "[cli][sweep]") {
  const fs::path a = scratch() / "sweep_whole", b = scratch() / "sweep_killed";
  fs::remove_all(a);
  fs::remove_all(b);
  const std::vector<std::string> grid{"sweep", "--model", "deep_linear2", "--task", "linear", "--dim", "16", "--samples", "32",
                                      "--test-samples", "16", "--steps", "150", "--params", "mup,ntk", "--widths", "64,128,256,512",
                                      "--lrs", "0.5,1,2", "--seeds", "1", "--jobs", "1", "--quiet", "--no-plot", "--out"};
  auto joined = [&](const fs::path& out) {
    std::string s;
    for (const auto& g : grid) s += g + " ";
    return s + out.string();
  };
  REQUIRE(run(joined(a)).code == 0);
  auto complete_records = [](const fs::path& dir) {
    std::size_t n = 0;
    if (fs::exists(dir))
      for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".json") ++n;
    return n;
  };
  // the same sweep in its own process group, SIGKILLed (with its running child) once 3 points are recorded
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    std::vector<std::string> args = grid;
    args.push_back(b.string());
    std::vector<char*> argv{const_cast<char*>(SPECDYN_CLI)};
    for (auto& x : args) argv.push_back(x.data());
    argv.push_back(nullptr);
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    ::execv(SPECDYN_CLI, argv.data());
    std::_Exit(127);
  }
  ::setpgid(pid, pid);
  const auto t0 = std::chrono::steady_clock::now();
  while (complete_records(b / "points") < 3 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::killpg(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFSIGNALED(status));  // killed mid-run, not finished
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::size_t survived = complete_records(b / "points");
  REQUIRE(survived >= 3);
  REQUIRE(survived < 24);
  REQUIRE(run(joined(b)).code == 0);
  const json ja = read_json(only_record(a)), jb = read_json(only_record(b));
  CHECK(jb["points_skipped"] == survived);  // every record written before the kill is complete and kept
  CHECK(jb["points_run"] == 24 - survived);
  CHECK(jb["points"] == ja["points"]);
  CHECK(jb["curves"] == ja["curves"]);
  // same seed and thread count: every point record equal to the uninterrupted run's, except where
  // it was written, when, and how long it took
  std::size_t compared = 0;
  for (const auto& p : ja["points"]) {
    json ra = read_json(a / "points" / p["record"].get<std::string>()), rb = read_json(b / "points" / p["record"].get<std::string>());
    for (auto* r : {&ra, &rb}) {
      r->erase("machine");
      r->erase("wall_seconds");
      (*r)["config"].erase("out");
      (*r)["config"].erase("command_line");
    }
    INFO(p["record"]);
    CHECK(ra == rb);
    ++compared;
  }
  CHECK(compared == 24);
}

TEST_CASE("sweep: when every point fails the sweep says so (exit 1, status failed, the first point's error), and bad data files are refused up front", "[cli][sweep]") {
  const fs::path out = scratch() / "sweep_all_failed";
  fs::remove_all(out);
  const std::string args = "sweep --model mlp3_tanh --dim 4 --samples 4 --test-samples 4 --steps 3 --widths 16 --lrs 0.1,0.2 --seeds 1 "
                           "--jobs 1 --quiet --out " + out.string();
  const auto r = run(args, "SPECDYN_INJECT_FAILURE=1");
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(r.err.find("every point failed") != std::string::npos);
  CHECK(r.err.find("injected failure") != std::string::npos);
  CHECK(read_json(only_record(out))["status"] == "failed");
  // a missing corpus is one refusal before any point runs, not one failure per point
  const fs::path out2 = scratch() / "sweep_no_corpus";
  fs::remove_all(out2);
  const auto r2 = run("sweep --model mlp3_relu --task text --data-dir " + (scratch() / "nowhere").string() +
                      " --vocab 50 --samples 16 --test-samples 8 --steps 2 --widths 16 --lrs 0.1 --quiet --out " + out2.string());
  CHECK(r2.code == 2);
  CHECK(lines(r2.err) == 1);
  CHECK_FALSE(fs::exists(out2));
}

TEST_CASE("docs/dmft.md shows the compare table in the format the program prints", "[cli][docs]") {
  const fs::path out = scratch() / "docs_compare", txt = scratch() / "compare_stdout.txt";
  const std::string cmd = std::string(SPECDYN_CLI) + " compare --model deep_linear3 --task linear --samples 4 --dim 8 --steps 3 " +
                          "--widths 32,64 --seeds 2 --test-samples 0 --out " + out.string() + " > " + txt.string() + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream in(txt), doc(fs::path(SPECDYN_SOURCE_DIR) / "docs" / "dmft.md");
  std::stringstream printed, documented;
  printed << in.rdbuf();
  documented << doc.rdbuf();
  std::size_t checked = 0;
  std::istringstream lines_in(printed.str());
  for (std::string line; std::getline(lines_in, line);) {
    // the table header and the fit lines: their wording is the format; numbers differ per run
    const bool header = line.find("loss-curve error") != std::string::npos;
    const bool fit = line.rfind("fitted error ∝ N^k: loss curve", 0) == 0 || line.rfind("theory: exact", 0) == 0;
    if (!header && !fit) continue;
    const std::string key = header ? line : line.substr(0, line.find(" k = ") == std::string::npos ? line.size() : line.find(" k = "));
    INFO("program prints: " << line);
    CHECK(documented.str().find(key) != std::string::npos);
    ++checked;
  }
  CHECK(checked >= 2);
}

TEST_CASE("many-outputs: extensive outputs reshape the bulk, one output leaves it at the initial law; the independent-update "
          "prediction describes independent noise but not the trained bulk", "[cli][many_outputs]") {
  const fs::path out = scratch() / "many";
  fs::remove_all(out);
  const auto r = run("many-outputs --model deep_linear3 --widths 128 --kappas 0,1 --lr-over-p 0.003 --quiet --out " + out.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  json summary;
  for (const auto& e : fs::directory_iterator(out))
    if (e.path().extension() == ".json") summary = read_json(e.path());
  REQUIRE(summary["kind"] == "many_outputs");
  REQUIRE(summary["points"].size() == 2);
  const json& one = summary["points"][0]["bulk"];   // κ = 0: C = 1
  const json& many = summary["points"][1]["bulk"];  // κ = 1: C = N
  REQUIRE(summary["points"][1]["outputs"] == 128);
  // one output: a rank-one change leaves the law where it was; KS of n = 128 singular values from
  // their own law fluctuates at ≈ 0.8/√n ≈ 0.07, so 0.08 bounds it
  CHECK(one["ks_initial_law"].get<double>() < 0.08);
  CHECK(one["outliers"].get<std::size_t>() <= 2);
  // C = N outputs: an extensive-rank update moves a finite fraction of the mass (measured KS 0.37,
  // a quarter of the singular values above the initial edge): at least 4x the one-output distance
  // and beyond any fluctuation
  CHECK(many["ks_initial_law"].get<double>() > 4 * one["ks_initial_law"].get<double>());
  CHECK(many["ks_initial_law"].get<double>() > 0.15);
  CHECK(many["outliers"].get<std::size_t>() > 128 / 10);
  // the information-plus-noise solver describes ΔW plus fresh noise (the control: KS at the
  // finite-n scale) but not the trained weight, whose update depends on W(0) (measured 0.18 vs 0.02)
  CHECK(many["control_ks_ipn"].get<double>() < 0.08);
  CHECK(many["ks_ipn"].get<double>() > 3 * many["control_ks_ipn"].get<double>());
  CHECK(many["ipn_failures"] == 0);
  // a re-run resumes: nothing is trained again
  const auto again = run("many-outputs --model deep_linear3 --widths 128 --kappas 0,1 --lr-over-p 0.003 --quiet --out " + out.string());
  REQUIRE(again.code == 0);
  json second;
  for (const auto& e : fs::directory_iterator(out))
    if (e.path().extension() == ".json") second = read_json(e.path());
  CHECK(second["points_run"] == 0);
  CHECK(second["points"] == summary["points"]);
  // bad input: one line, exit 2
  const auto bad = run("many-outputs --model deep_linear3 --kappas 0,-1 --out " + (scratch() / "many_bad").string());
  CHECK(bad.code == 2);
  CHECK(bad.err.find("--kappas") != std::string::npos);
  CHECK_FALSE(fs::exists(scratch() / "many_bad"));
  const auto bad_layer = run("many-outputs --model deep_linear2 --layer W1 --out " + (scratch() / "many_bad").string());
  CHECK(bad_layer.code == 2);
  CHECK(bad_layer.err.find("--layer") != std::string::npos);
}

TEST_CASE("optimizers and the coordinate check through the CLI: records name the optimizer, μP-Adam passes (exit 0), "
          "SP-Adam fails (exit 1) with its logits growing in N",
          "[cli][optimizers]") {
  const fs::path out = scratch() / "optim";
  const std::string common = "--model mlp3_tanh --dim 8 --samples 16 --test-samples 8 --quiet --out ";
  // a train record carries every hyper-parameter and the optimizer in its name; plain SGD carries none
  REQUIRE(run("train " + common + (out / "adam").string() + " --width 64 --steps 3 --optimizer adamw --weight-decay 0.01 --beta2 0.99")
              .code == 0);
  const fs::path rec = only_record(out / "adam");
  CHECK(rec.filename().string().find("_adamw") != std::string::npos);
  const json j = read_json(rec);
  CHECK(j["config"]["optimizer"]["name"] == "adamw");
  CHECK(j["config"]["optimizer"]["beta2"] == 0.99);
  CHECK(j["config"]["optimizer"]["weight_decay"] == 0.01);
  REQUIRE(run("train " + common + (out / "sgd").string() + " --width 64 --steps 3").code == 0);
  CHECK_FALSE(read_json(only_record(out / "sgd"))["config"].contains("optimizer"));

  const std::string cc = "coord-check " + common + (out / "cc").string() + " --widths 64,128,256,512 --seeds 2 --steps 3 --no-plot";
  const auto mup = run(cc + " --param mup --optimizer adam --lr 0.1");
  INFO(mup.err);
  CHECK(mup.code == 0);
  const auto sp = run(cc + " --param sp --optimizer adam --lr 0.01");
  CHECK(sp.code == 1);
  for (const auto& e : fs::directory_iterator(out / "cc")) {
    if (e.path().extension() != ".json") continue;
    const json r = read_json(e.path());
    CHECK(r["kind"] == "coord_check");
    const bool is_sp = r["config"]["rule"]["name"] == "sp";
    CHECK(r["pass"] == !is_sp);
    for (const auto& f : r["fields"]) {
      if (f["name"] != "logits") continue;
      const double k1 = f["change_exponent"][1]["k"];  // the logits' change after one step
      if (is_sp) CHECK(k1 > 0.7);                      // ∝ N under SP-Adam (docs/optimizers.md §3)
      else CHECK(std::abs(k1) < 0.2);                  // the check's own default tolerance for "flat in N"
    }
  }
}

TEST_CASE("the theory of optimizers through the CLI: records say which closure ran, Adam's update spectra and its "
          "preconditioned sharpness",
          "[cli][optimizers]") {
  const fs::path out = scratch() / "optim_theory";
  const std::string common = "--model mlp3_tanh --dim 8 --samples 6 --test-samples 4 --steps 4 --quiet --spectra-every 0 --out ";
  // heavy ball: the GD closure re-weighted; Adam: the pairwise closure with its update's singular values
  REQUIRE(run("theory " + common + (out / "mom").string() + " --optimizer momentum --particles 500 --replicas 2").code == 0);
  const json m = read_json(only_record(out / "mom"));
  CHECK(m["solver"]["kind"] == "particles");
  CHECK(m["optimizer_theory"].get<std::string>().rfind("linear", 0) == 0);
  REQUIRE(run("theory " + common + (out / "adam").string() + " --optimizer adam --lr 0.05 --particles 400 --replicas 2").code == 0);
  const json a = read_json(only_record(out / "adam"));
  CHECK(a["solver"]["kind"] == "particles-pairwise");
  const auto sv = a["update_spectra"]["W1"]["top_singular_values"];
  REQUIRE(sv.size() == 8);
  for (std::size_t k = 1; k < sv.size(); ++k) CHECK(sv[k].get<double>() <= sv[k - 1].get<double>());  // descending
  CHECK(sv[0].get<double>() > 0);
  // the losses fall under both (the closures train)
  CHECK(a["train_loss"].back().get<double>() < a["train_loss"].front().get<double>());
  CHECK(m["train_loss"].back().get<double>() < m["train_loss"].front().get<double>());
  // a finite-width Adam run records λ_max(P⁻¹H) (NaN before the first step) with the threshold (2 + 2β1)/(1 − β1)
  REQUIRE(run("train " + common + (out / "net").string() + " --width 64 --optimizer adam --lr 0.05 --hessian-every 2 --beta1 0.8").code == 0);
  const json t = read_json(only_record(out / "net"));
  const auto& pre = t["sharpness"]["preconditioned"];
  CHECK(std::abs(pre["threshold"].get<double>() - 18.0) < 1e-12);  // (2 + 1.6)/0.2
  REQUIRE(pre["top"].size() == 3);                                   // steps 0, 2, 4
  CHECK(pre["top"][0].is_null());
  CHECK(pre["top"][2].get<double>() > 0);
}

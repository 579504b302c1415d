// Real-data loaders on the installed Debian packages: Fashion-MNIST's shapes, labels and bytes
// against an independent read of the raw files, the input standardization, truncated / corrupt /
// foreign files as usage errors; the fortunes next-word task's tokenizer, corpus rules, vocabulary,
// one-hot inputs and targets against the word stream, and determinism. A missing package fails
// the test (run scripts/setup.sh); it is never skipped.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>
#include <zlib.h>

#include "specdyn/data/loaders.hpp"

namespace fs = std::filesystem;
using namespace specdyn;

namespace {

/// Fails (not skips) when a Debian data package is missing.
void require_dir(const fs::path& dir, const std::vector<std::string>& files, const std::string& package) {
  for (const auto& f : files)
    if (!fs::is_regular_file(dir / f))
      FAIL((dir / f).string() + " is missing: run scripts/setup.sh (installs the Debian package " + package + ")");
}
void require_fashion_mnist() {
  require_dir(fashion_mnist_default_dir,
              {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"},
              "dataset-fashion-mnist");
}
void require_fortunes() { require_dir(fortunes_default_dir, {"computers", "fortunes"}, "fortunes"); }

/// The whole decompressed content of a .gz file, read here with zlib's inflate (not the loader's
/// gzread path).
std::string gunzip(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  const std::string packed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK);  // 16: gzip wrapper
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  zs.avail_in = uInt(packed.size());
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    REQUIRE((rc == Z_OK || rc == Z_STREAM_END));
    out.append(buf, sizeof buf - zs.avail_out);
  }
  inflateEnd(&zs);
  return out;
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

struct scratch_dir {
  fs::path path;
  explicit scratch_dir(const std::string& tag) : path(fs::temp_directory_path() / ("specdyn_loaders_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~scratch_dir() { fs::remove_all(path); }
};

const fashion_mnist_raw& fashion_mnist() {  // read once for all test cases
  static const fashion_mnist_raw fm = load_fashion_mnist();
  return fm;
}
const fortune_corpus& fortunes() {
  static const fortune_corpus fc = read_fortunes();
  return fc;
}

}  // namespace

TEST_CASE("Fashion-MNIST: shapes, labels and bytes match an independent read of the raw files", "[data][fashion-mnist]") {
  require_fashion_mnist();
  const auto& fm = fashion_mnist();
  CHECK(fm.train_images.count == 60000);
  CHECK(fm.test_images.count == 10000);
  CHECK((fm.train_images.rows == 28 && fm.train_images.cols == 28));
  CHECK(fm.train_images.pixels.size() == 60000u * 784u);
  CHECK(fm.test_images.pixels.size() == 10000u * 784u);
  REQUIRE(fm.train_labels.size() == 60000);
  REQUIRE(fm.test_labels.size() == 10000);

  // The raw files: idx1 = 8-byte header + labels, idx3 = 16-byte header + pixels.
  const fs::path dir = fashion_mnist_default_dir;
  const std::string train_labels = gunzip(dir / "train-labels-idx1-ubyte.gz"), test_labels = gunzip(dir / "t10k-labels-idx1-ubyte.gz");
  const std::string train_images = gunzip(dir / "train-images-idx3-ubyte.gz"), test_images = gunzip(dir / "t10k-images-idx3-ubyte.gz");
  REQUIRE(train_labels.size() == 8 + 60000);
  REQUIRE(train_images.size() == 16 + 60000 * 784);
  REQUIRE(test_images.size() == 16 + 10000 * 784);
  auto byte = [](const std::string& s, std::size_t i) { return std::size_t(static_cast<unsigned char>(s[i])); };
  std::size_t raw_label_sum = 0, loaded_label_sum = 0;
  for (std::size_t i = 0; i < 60000; ++i) raw_label_sum += byte(train_labels, 8 + i);
  for (auto l : fm.train_labels) loaded_label_sum += l;
  CHECK(loaded_label_sum == raw_label_sum);
  CHECK(raw_label_sum == 6000 * 45);  // 6000 of each class 0..9
  std::size_t raw_first = 0, loaded_first = 0, raw_test_first = 0, loaded_test_first = 0;
  for (std::size_t i = 0; i < 784; ++i) {
    raw_first += byte(train_images, 16 + i);
    loaded_first += fm.train_images.pixels[i];
    raw_test_first += byte(test_images, 16 + i);
    loaded_test_first += fm.test_images.pixels[i];
  }
  CHECK(loaded_first == raw_first);
  CHECK(loaded_test_first == raw_test_first);
  CHECK(raw_first > 0);
  CHECK(std::equal(fm.train_images.pixels.begin(), fm.train_images.pixels.end(), train_images.begin() + 16,
                   [](std::uint8_t a, char b) { return a == static_cast<unsigned char>(b); }));
  CHECK(std::equal(fm.test_labels.begin(), fm.test_labels.end(), test_labels.begin() + 8,
                   [](std::uint8_t a, char b) { return a == static_cast<unsigned char>(b); }));

  // Fashion-MNIST is balanced: 6000 images per class in training, 1000 in test.
  std::vector<std::size_t> hist(10, 0), hist_test(10, 0);
  for (auto l : fm.train_labels) ++hist.at(l);
  for (auto l : fm.test_labels) ++hist_test.at(l);
  CHECK(hist == std::vector<std::size_t>(10, 6000));
  CHECK(hist_test == std::vector<std::size_t>(10, 1000));
}

TEST_CASE("Fashion-MNIST: standardized inputs, one-hot targets, deterministic draws", "[data][fashion-mnist]") {
  require_fashion_mnist();
  const auto& fm = fashion_mnist();
  const auto st = fit_standardizer(fm.train_images);
  // Over all training images: every pixel has mean 0 and the mean of x_i² over pixels is 1.
  std::vector<double> mean(784, 0.0);
  double sq = 0;
  for (std::size_t n = 0; n < 60000; ++n)
    for (std::size_t i = 0; i < 784; ++i) {
      const double x = st(i, fm.train_images.pixels[n * 784 + i]);
      mean[i] += x / 60000;
      sq += x * x;
    }
  double worst = 0;
  for (double m : mean) worst = std::max(worst, std::abs(m));
  CHECK(worst < 1e-9);
  CHECK(sq / (60000.0 * 784.0) == Approx(1.0).epsilon(1e-9));  // rounding of a 4.7e7-term sum
  CHECK(st.scale == Approx(0.3).margin(0.1));  // pixel std of Fashion-MNIST in [0, 1] units is about 1/3

  const auto a = make_fashion_mnist(fm, 512, 200, 7);
  REQUIRE(a.x.shape(0) == 784);
  REQUIRE(a.x.shape(1) == 512);
  REQUIRE(a.y.shape(0) == 10);
  REQUIRE(a.x_test.shape(1) == 200);
  CHECK(std::set<std::size_t>(a.train_index.begin(), a.train_index.end()).size() == 512);  // without replacement
  for (std::size_t mu : {0, 1, 100, 511}) {
    const std::size_t n = a.train_index[mu];
    double ysum = 0;
    for (std::size_t c = 0; c < 10; ++c) ysum += a.y(c, mu);
    CHECK(ysum == 1.0);
    CHECK(a.y(fm.train_labels[n], mu) == 1.0);
    for (std::size_t i : {0, 300, 783}) CHECK(a.x(i, mu) == (double(fm.train_images.pixels[n * 784 + i]) / 255.0 - st.mean[i]) / st.scale);
  }
  CHECK(a.y_test(fm.test_labels[a.test_index[3]], 3) == 1.0);
  double norm2 = 0;  // |x|²/D ≈ 1 on average
  for (double v : a.x) norm2 += v * v;
  CHECK(norm2 / (512.0 * 784.0) == Approx(1.0).margin(0.15));

  const auto b = make_fashion_mnist(fm, 512, 200, 7), c = make_fashion_mnist(fm, 512, 200, 8);
  CHECK(b.train_index == a.train_index);
  CHECK(b.test_index == a.test_index);
  CHECK(b.x == a.x);
  CHECK(c.train_index != a.train_index);
  CHECK_THROWS_WITH(make_fashion_mnist(fm, 60001, 0, 0), Catch::Contains("--samples = 60001") && Catch::Contains("60000 training images"));
  CHECK_THROWS_WITH(make_fashion_mnist(fm, 10, 10001, 0), Catch::Contains("--test-samples = 10001"));
}

TEST_CASE("Fashion-MNIST: missing, truncated, corrupt and foreign files are usage errors naming the file", "[data][fashion-mnist]") {
  require_fashion_mnist();
  const fs::path src = fashion_mnist_default_dir;
  scratch_dir tmp("fm");
  CHECK_THROWS_WITH(load_fashion_mnist((tmp.path / "nowhere").string()),
                    Catch::Contains("not found") && Catch::Contains("scripts/setup.sh") && Catch::Contains("dataset-fashion-mnist"));
  CHECK_THROWS_WITH(load_fashion_mnist(tmp.path.string()), Catch::Contains("train-labels-idx1-ubyte") && Catch::Contains("scripts/setup.sh"));

  // A copy whose training images are cut in half (gzip stream ends early).
  for (const char* f : {"train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"}) fs::copy_file(src / f, tmp.path / f);
  fs::copy_file(src / "train-images-idx3-ubyte.gz", tmp.path / "train-images-idx3-ubyte.gz");
  fs::resize_file(tmp.path / "train-images-idx3-ubyte.gz", fs::file_size(src / "train-images-idx3-ubyte.gz") / 2);
  CHECK_THROWS_AS(load_fashion_mnist(tmp.path.string()), usage_error);
  CHECK_THROWS_WITH(load_fashion_mnist(tmp.path.string()), Catch::Contains("train-images-idx3-ubyte.gz") && Catch::Contains("truncated"));

  // Uncompressed files are read too: cut, foreign magic, labels out of range, trailing bytes, wrong image size.
  const std::string labels = gunzip(src / "t10k-labels-idx1-ubyte.gz");
  const fs::path plain = tmp.path / "labels";
  write_file(plain, labels);
  CHECK(read_idx_labels(plain, 10000).size() == 10000);
  write_file(plain, labels.substr(0, labels.size() - 100));
  CHECK_THROWS_WITH(read_idx_labels(plain, 10000), Catch::Contains(plain.string()) && Catch::Contains("truncated"));
  write_file(plain, labels.substr(0, 5));
  CHECK_THROWS_WITH(read_idx_labels(plain, 10000), Catch::Contains("truncated") && Catch::Contains("header"));
  std::string bad = labels;
  bad[3] = 0x03;  // an image file's magic
  write_file(plain, bad);
  CHECK_THROWS_WITH(read_idx_labels(plain, 10000), Catch::Contains("bad magic number 0x00000803"));
  bad = labels;
  bad[8 + 1234] = 10;
  write_file(plain, bad);
  CHECK_THROWS_WITH(read_idx_labels(plain, 10000), Catch::Contains("label 10 at index 1234"));
  write_file(plain, labels + "x");
  CHECK_THROWS_WITH(read_idx_labels(plain, 10000), Catch::Contains("longer than its header"));
  write_file(plain, labels);
  CHECK_THROWS_WITH(read_idx_labels(plain, 60000), Catch::Contains("10000 labels, expected 60000"));
  const fs::path img = tmp.path / "images";
  std::string header("\0\0\x08\x03\0\0\0\x02\0\0\0\x1b\0\0\0\x1c", 16);  // 2 images of 27×28
  write_file(img, header + std::string(2 * 27 * 28, '\x7f'));
  CHECK_THROWS_WITH(read_idx_images(img, 0), Catch::Contains("27×28, expected 28×28"));
  CHECK_THROWS_WITH(read_idx_images(plain, 0), Catch::Contains("bad magic number 0x00000801"));

  // A flipped byte inside a gzip stream: zlib's data or CRC check.
  std::ifstream in(src / "t10k-labels-idx1-ubyte.gz", std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  gz[gz.size() / 2] = char(gz[gz.size() / 2] ^ 0x5a);
  write_file(tmp.path / "flipped.gz", gz);
  CHECK_THROWS_AS(read_idx_labels(tmp.path / "flipped.gz", 10000), usage_error);
}

TEST_CASE("text: the tokenizer and the corpus rules", "[data][text]") {
  CHECK(tokenize_words("Don't PANIC!  'Tis 42 e-mail,\tnaïve ''") ==
        std::vector<std::string>{"don't", "panic", "tis", "e", "mail", "na", "ve"});
  CHECK(tokenize_words("").empty());

  scratch_dir tmp("fortunes");
  write_file(tmp.path / "b", "Second file.\n%\n");
  write_file(tmp.path / "a", "One fish,\ntwo fish.\n%\n\n%\n-- 12 --\n%\r\nRed fish; blue fish.\r\n");
  write_file(tmp.path / "a.dat", "index junk");
  write_file(tmp.path / ".hidden", "hidden words");
  fs::create_symlink(tmp.path / "a", tmp.path / "a.u8");
  fs::create_directories(tmp.path / "off");
  write_file(tmp.path / "off" / "c", "offensive words\n");
  const auto fc = read_fortunes(tmp.path.string());
  CHECK(fc.files == std::vector<std::string>{"a", "b"});
  REQUIRE(fc.entries.size() == 3);  // the empty and the digits-only entries are dropped
  CHECK(fc.entries[0] == std::vector<std::string>{"one", "fish", "two", "fish"});
  CHECK(fc.entries[1] == std::vector<std::string>{"red", "fish", "blue", "fish"});
  CHECK(fc.entries[2] == std::vector<std::string>{"second", "file"});
  CHECK(fc.words == 10);
  const auto v = build_vocabulary(fc, 3);
  CHECK(v.size() == 3);
  CHECK(v.words.back() == "<unk>");

  CHECK_THROWS_WITH(read_fortunes((tmp.path / "nowhere").string()), Catch::Contains("scripts/setup.sh") && Catch::Contains("fortunes"));
}

TEST_CASE("text: vocabulary, one-hot contexts and next-word targets on the fortunes corpus", "[data][text]") {
  require_fortunes();
  const auto& fc = fortunes();
  CHECK(std::find(fc.files.begin(), fc.files.end(), "computers") != fc.files.end());
  CHECK(std::find(fc.files.begin(), fc.files.end(), "computers.dat") == fc.files.end());
  CHECK(fc.entries.size() > 10000);
  CHECK(fc.words > 300000);
  std::size_t held = 0;
  for (char t : fc.test) held += t;
  CHECK(double(held) / double(fc.entries.size()) == Approx(0.1).margin(0.02));

  for (std::size_t c : {2, 1000, 5000}) {
    const auto v = build_vocabulary(fc, c);
    CHECK(v.size() == c);
    CHECK(v.words.back() == "<unk>");
    CHECK(v.id("<unk>") == c - 1);
    CHECK(v.id("no-such-word") == c - 1);
    CHECK(std::set<std::string>(v.words.begin(), v.words.end()).size() == c);
    for (std::size_t i = 0; i + 2 < c; ++i) {  // by count, ties in byte order
      CHECK((v.counts[i] > v.counts[i + 1] || (v.counts[i] == v.counts[i + 1] && v.words[i] < v.words[i + 1])));
    }
  }
  const auto v = build_vocabulary(fc, 1000);
  CHECK(v.words[0] == "the");
  std::size_t the = 0;  // the count of "the" in training entries, recounted here
  for (std::size_t e = 0; e < fc.entries.size(); ++e)
    if (!fc.test[e]) the += std::size_t(std::count(fc.entries[e].begin(), fc.entries[e].end(), "the"));
  CHECK(v.counts[0] == the);
  CHECK_THROWS_WITH(build_vocabulary(fc, 1000000), Catch::Contains("--vocab = 1000000") && Catch::Contains("distinct words"));

  const std::size_t C = 1000, k = 2;
  const text_spec spec{.vocab = C, .context = k, .dir = ""};
  const auto t = make_text_task(fc, spec, 300, 100, 3);
  REQUIRE(t.x.shape(0) == k * C);
  REQUIRE(t.x.shape(1) == 300);
  REQUIRE(t.y.shape(0) == C);
  REQUIRE(t.x_test.shape(1) == 100);
  REQUIRE(t.train_positions.size() == 300);
  std::size_t unk_seen = 0;
  for (std::size_t mu = 0; mu < 300; ++mu) {
    double norm2 = 0;
    for (std::size_t b = 0; b < k; ++b) {
      std::size_t nonzero = 0;
      for (std::size_t i = 0; i < C; ++i)
        if (t.x(b * C + i, mu) != 0) {
          ++nonzero;
          CHECK(t.x(b * C + i, mu) == Approx(std::sqrt(double(C))));
        }
      CHECK(nonzero == 1);
    }
    for (std::size_t i = 0; i < k * C; ++i) norm2 += t.x(i, mu) * t.x(i, mu);
    CHECK(norm2 == Approx(double(k * C)));  // |x|² = D
    double ysum = 0;
    for (std::size_t a = 0; a < C; ++a) ysum += t.y(a, mu);
    CHECK(ysum == 1.0);
    const auto [e, pos] = t.train_positions[mu];
    CHECK(!fc.test[e]);
    REQUIRE(pos >= k);
    REQUIRE(pos < fc.entries[e].size());
    if (mu < 20) {  // the columns against the word stream
      const auto& w = fc.entries[e];
      for (std::size_t b = 0; b < k; ++b) CHECK(t.x(b * C + v.id(w[pos - k + b]), mu) != 0);
      CHECK(t.y(v.id(w[pos]), mu) == 1.0);
    }
    unk_seen += t.y(C - 1, mu) == 1.0;
  }
  CHECK(unk_seen > 0);  // about 1 in 5 words is outside the top 999
  for (const auto& [e, pos] : t.test_positions) CHECK(fc.test[e]);
  const auto [e0, p0] = t.test_positions[0];
  CHECK(t.y_test(v.id(fc.entries[e0][p0]), 0) == 1.0);

  const auto same = make_text_task(fc, spec, 300, 100, 3), other = make_text_task(fc, spec, 300, 100, 4);
  CHECK(same.train_positions == t.train_positions);
  CHECK(same.test_positions == t.test_positions);
  CHECK(same.x == t.x);
  CHECK(same.y == t.y);
  CHECK(other.train_positions != t.train_positions);
  CHECK_THROWS_WITH(make_text_task(fc, {.vocab = C, .context = 0, .dir = ""}, 10, 0, 0), Catch::Contains("--context = 0"));
  CHECK_THROWS_WITH(make_text_task(fc, spec, 100000000, 0, 0), Catch::Contains("--samples = 100000000"));
}

// Real data: Fashion-MNIST (the idx files of the Debian package dataset-fashion-mnist, gunzipped
// with zlib) and a next-word task on the fortune-cookie corpus (Debian package fortunes). Both
// become a task_data with inputs x [D, P] and one-hot targets y [C, P] as columns, held-out points
// drawn from the data set's own test part, and coordinates of order one (mean x_i² = 1, as for the
// synthetic x ~ N(0, I_D)). Missing, truncated or corrupt files are usage_errors naming the file.
// Formats, normalization, tokenization and splits: docs/data.md.
//   auto images = specdyn::make_fashion_mnist(512, 1000, seed);              // D = 784, C = 10
//   auto words = specdyn::make_text_task({.vocab = 1000, .context = 2, .dir = ""}, 512, 1000, seed);  // D = 2000
#pragma once

#include "specdyn/core.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <zlib.h>

#include "specdyn/errors.hpp"
#include "specdyn/data/rng.hpp"
#include "specdyn/data/tasks.hpp"

namespace specdyn {

/// Where the Debian packages put the data (override with --data-dir / the `dir` arguments).
inline constexpr const char* fashion_mnist_default_dir = "/usr/share/datasets/fashion-mnist";
inline constexpr const char* fortunes_default_dir = "/usr/share/games/fortunes";

// ---------------------------------------------------------------- Fashion-MNIST (idx files) ----

/// The images of one idx3 file: image i is pixels[i·rows·cols, (i+1)·rows·cols), row-major bytes.
struct idx_images {
  std::size_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;
  [[nodiscard]] std::size_t pixels_per_image() const { return rows * cols; }
};

namespace detail {

/// A gzip file read through zlib (a file that is not gzip is read as it is).
class gz_reader {
 public:
  explicit gz_reader(const std::filesystem::path& path) : name_(path.string()), f_(gzopen(path.c_str(), "rb")) {
    if (!f_) throw usage_error(name_ + ": cannot open (" + std::strerror(errno) + ")");
    gzbuffer(f_, 1 << 17);
  }
  gz_reader(const gz_reader&) = delete;
  gz_reader& operator=(const gz_reader&) = delete;
  ~gz_reader() { gzclose(f_); }

  /// Reads up to n bytes; returns how many came. A corrupt or cut-off stream is a usage_error.
  std::size_t read(void* dst, std::size_t n) {
    std::size_t got = 0;
    auto* p = static_cast<unsigned char*>(dst);
    while (got < n) {
      const unsigned chunk = unsigned(std::min<std::size_t>(n - got, std::size_t(1) << 30));
      const int r = gzread(f_, p + got, chunk);
      if (r < 0) fail();
      if (r == 0) break;
      got += std::size_t(r);
    }
    if (got < n) fail_if_cut();
    return got;
  }
  /// Reads exactly n bytes or throws naming what was being read.
  SPECDYN_CORE_FN void read_exact(void* dst, std::size_t n, const std::string& what)
#if SPECDYN_CORE_BODIES
  {
    const std::size_t got = read(dst, n);
    if (got < n)
      throw usage_error(name_ + ": truncated: the header promises " + what + " (" + std::to_string(n) + " bytes) but the data ends after " +
                        std::to_string(got) + "; reinstall with scripts/setup.sh");
  }
#else
  ;
#endif
  /// Throws when anything follows the data the header describes.
  void expect_end(const std::string& header) {
    unsigned char extra[1];
    if (read(extra, 1) != 0)
      throw usage_error(name_ + ": longer than its header says (" + header + "); the file is corrupt, reinstall with scripts/setup.sh");
  }

 private:
  [[noreturn]] void fail() {
    int code = 0;
    const char* msg = gzerror(f_, &code);
    throw usage_error(name_ + ": corrupt gzip data (" + std::string(msg ? msg : "unknown zlib error") + "); reinstall with scripts/setup.sh");
  }
  void fail_if_cut() {
    int code = 0;
    gzerror(f_, &code);
    if (code == Z_BUF_ERROR) throw usage_error(name_ + ": truncated gzip stream (the file ends mid-stream); reinstall with scripts/setup.sh");
    if (code != Z_OK) fail();
  }
  std::string name_;
  gzFile f_;
};

SPECDYN_CORE_FN std::uint32_t big_endian32(const unsigned char* b)
#if SPECDYN_CORE_BODIES
{
  return std::uint32_t(b[0]) << 24 | std::uint32_t(b[1]) << 16 | std::uint32_t(b[2]) << 8 | std::uint32_t(b[3]);
}
#else
;
#endif

/// `<dir>/<name>.gz`, else `<dir>/<name>`; usage_error telling how to install the data when neither exists.
SPECDYN_CORE_FN std::filesystem::path find_idx(const std::filesystem::path& dir, const std::string& name)
#if SPECDYN_CORE_BODIES
{
  for (const auto& p : {dir / (name + ".gz"), dir / name})
    if (std::filesystem::is_regular_file(p)) return p;
  throw usage_error("Fashion-MNIST file " + (dir / (name + ".gz")).string() +
                    " not found: run scripts/setup.sh (Debian package dataset-fashion-mnist), or point --data-dir at a directory holding "
                    "the four idx files");
}
#else
;
#endif

/// usage_error unless the header's magic number is `expected`; `kind` names the file type.
SPECDYN_CORE_FN void require_magic(const std::filesystem::path& path, const unsigned char* header, std::uint32_t expected, const std::string& kind)
#if SPECDYN_CORE_BODIES
{
  const std::uint32_t magic = big_endian32(header);
  if (magic == expected) return;
  char got[16], want[16];
  std::snprintf(got, sizeof got, "0x%08x", magic);
  std::snprintf(want, sizeof want, "0x%08x", expected);
  throw usage_error(path.string() + ": bad magic number " + got + " (an " + kind + " file starts with " + want + "); not a Fashion-MNIST " +
                    (expected == 0x00000803 ? "image" : "label") + " file");
}
#else
;
#endif

}  // namespace detail

/// An idx3-ubyte image file (magic 0x00000803): count × rows × cols bytes. Checks the magic number,
/// the image size, the count (when expected_count > 0) and that the file holds exactly that many bytes.
SPECDYN_CORE_FN idx_images read_idx_images(const std::filesystem::path& path, std::size_t expected_count, std::size_t rows = 28,
                                           std::size_t cols = 28)
#if SPECDYN_CORE_BODIES
{
  detail::gz_reader in(path);
  unsigned char h[16];
  in.read_exact(h, sizeof h, "a 16-byte idx3 header");
  detail::require_magic(path, h, 0x00000803, "idx3 image");
  idx_images im;
  im.count = detail::big_endian32(h + 4);
  im.rows = detail::big_endian32(h + 8);
  im.cols = detail::big_endian32(h + 12);
  if (im.rows != rows || im.cols != cols)
    throw usage_error(path.string() + ": images are " + std::to_string(im.rows) + "×" + std::to_string(im.cols) + ", expected " +
                      std::to_string(rows) + "×" + std::to_string(cols));
  if (expected_count > 0 && im.count != expected_count)
    throw usage_error(path.string() + ": header says " + std::to_string(im.count) + " images, expected " + std::to_string(expected_count));
  if (im.count > 10000000) throw usage_error(path.string() + ": header says " + std::to_string(im.count) + " images; the file is corrupt");
  im.pixels.resize(im.count * im.pixels_per_image());
  in.read_exact(im.pixels.data(), im.pixels.size(), std::to_string(im.count) + " images");
  in.expect_end(std::to_string(im.count) + " images");
  return im;
}
#else
;
#endif

/// An idx1-ubyte label file (magic 0x00000801). Checks the magic number, the count and that every
/// label is below `classes`.
SPECDYN_CORE_FN std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& path, std::size_t expected_count,
                                                          std::size_t classes = 10)
#if SPECDYN_CORE_BODIES
{
  detail::gz_reader in(path);
  unsigned char h[8];
  in.read_exact(h, sizeof h, "an 8-byte idx1 header");
  detail::require_magic(path, h, 0x00000801, "idx1 label");
  const std::size_t count = detail::big_endian32(h + 4);
  if (expected_count > 0 && count != expected_count)
    throw usage_error(path.string() + ": header says " + std::to_string(count) + " labels, expected " + std::to_string(expected_count));
  std::vector<std::uint8_t> labels(count);
  in.read_exact(labels.data(), count, std::to_string(count) + " labels");
  in.expect_end(std::to_string(count) + " labels");
  for (std::size_t i = 0; i < count; ++i)
    if (labels[i] >= classes)
      throw usage_error(path.string() + ": label " + std::to_string(labels[i]) + " at index " + std::to_string(i) + " is outside 0.." +
                        std::to_string(classes - 1) + "; the file is corrupt");
  return labels;
}
#else
;
#endif

/// Both splits of Fashion-MNIST as stored: 60 000 training and 10 000 test images of 28×28 bytes
/// with labels 0..9.
struct fashion_mnist_raw {
  std::filesystem::path dir;
  idx_images train_images, test_images;
  std::vector<std::uint8_t> train_labels, test_labels;
};

/// Reads the four idx files from `dir` (empty: the Debian package's directory).
SPECDYN_CORE_FN fashion_mnist_raw load_fashion_mnist(const std::string& dir = "")
#if SPECDYN_CORE_BODIES
{
  fashion_mnist_raw fm;
  fm.dir = dir.empty() ? fashion_mnist_default_dir : dir;
  if (!std::filesystem::is_directory(fm.dir))
    throw usage_error("Fashion-MNIST not found: " + fm.dir.string() +
                      " does not exist; run scripts/setup.sh (Debian package dataset-fashion-mnist) or give --data-dir");
  const auto images = [&](const char* name, std::size_t n) { return read_idx_images(detail::find_idx(fm.dir, name), n); };
  const auto labels = [&](const char* name, std::size_t n) { return read_idx_labels(detail::find_idx(fm.dir, name), n); };
  fm.train_labels = labels("train-labels-idx1-ubyte", 60000);
  fm.test_labels = labels("t10k-labels-idx1-ubyte", 10000);
  fm.train_images = images("train-images-idx3-ubyte", 60000);
  fm.test_images = images("t10k-images-idx3-ubyte", 10000);
  return fm;
}
#else
;
#endif

/// The input map x_i = (p_i/255 − mean_i) / scale of a pixel byte p_i: each pixel centred by its
/// mean over the training images, then one global scale so that the mean of x_i² over pixels and
/// training images is 1 (trace of the input covariance = D, as for N(0, I_D) or --covariance-decay).
/// Per-pixel variances are not equalised: border pixels are almost always 0 and would blow up.
struct pixel_standardizer {
  std::vector<double> mean;  // per pixel, in [0, 1]
  double scale = 1;
  [[nodiscard]] double operator()(std::size_t pixel, std::uint8_t value) const { return (double(value) / 255.0 - mean[pixel]) / scale; }
};

/// The standardizer fitted on a set of images (the training split).
SPECDYN_CORE_FN pixel_standardizer fit_standardizer(const idx_images& im)
#if SPECDYN_CORE_BODIES
{
  const std::size_t d = im.pixels_per_image();
  std::vector<std::uint64_t> s1(d, 0), s2(d, 0);
  for (std::size_t n = 0; n < im.count; ++n) {
    const std::uint8_t* p = im.pixels.data() + n * d;
    for (std::size_t i = 0; i < d; ++i) {
      s1[i] += p[i];
      s2[i] += std::uint64_t(p[i]) * p[i];
    }
  }
  pixel_standardizer st;
  st.mean.resize(d);
  double var = 0;
  const double count = double(im.count);
  for (std::size_t i = 0; i < d; ++i) {
    const double m = double(s1[i]) / count;
    st.mean[i] = m / 255.0;
    var += (double(s2[i]) / count - m * m) / (255.0 * 255.0);
  }
  st.scale = std::sqrt(var / double(d));
  return st;
}
#else
;
#endif

namespace detail {
/// k distinct indices of [0, n) in random order (partial Fisher–Yates).
SPECDYN_CORE_FN std::vector<std::size_t> sample_without_replacement(std::size_t n, std::size_t k, rng& gen)
#if SPECDYN_CORE_BODIES
{
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  for (std::size_t i = 0; i < k; ++i) std::swap(idx[i], idx[i + gen.below(n - i)]);
  idx.resize(k);
  return idx;
}
#else
;
#endif
}  // namespace detail

/// A Fashion-MNIST sample: which images were drawn (indices into each split) and the input map.
struct image_task : task_data {
  std::vector<std::size_t> train_index, test_index;
  std::vector<std::uint8_t> train_labels, test_labels;  // of the drawn points
  pixel_standardizer standardizer;
};

/// p training images drawn without replacement from the 60 000 (stream "data" of the seed) and
/// p_test from the 10 000 test images (stream "test_data"): x [784, p] standardized, y [10, p] one-hot.
SPECDYN_CORE_FN image_task make_fashion_mnist(const fashion_mnist_raw& fm, std::size_t p, std::size_t p_test, std::uint64_t seed)
#if SPECDYN_CORE_BODIES
{
  require(p >= 1 && p <= fm.train_images.count, "--samples", p,
          "Fashion-MNIST has " + std::to_string(fm.train_images.count) + " training images; use 1 to that many");
  require(p_test <= fm.test_images.count, "--test-samples", p_test,
          "Fashion-MNIST has " + std::to_string(fm.test_images.count) + " test images; use 0 to that many");
  image_task t;
  t.standardizer = fit_standardizer(fm.train_images);
  const std::size_t d = fm.train_images.pixels_per_image(), c = 10;
  auto fill = [&](const idx_images& im, const std::vector<std::uint8_t>& labels, const std::vector<std::size_t>& idx, matrix& x, matrix& y,
                  std::vector<std::uint8_t>& drawn) {
    x = matrix({d, idx.size()});
    y = matrix({c, idx.size()});
    y.fill(0.0);
    drawn.resize(idx.size());
    for (std::size_t mu = 0; mu < idx.size(); ++mu) {
      const std::uint8_t* px = im.pixels.data() + idx[mu] * d;
      for (std::size_t i = 0; i < d; ++i) x(i, mu) = t.standardizer(i, px[i]);
      y(labels[idx[mu]], mu) = 1.0;
      drawn[mu] = labels[idx[mu]];
    }
  };
  rng gen(seed, rng::stream::data), gen_test(seed, rng::stream::test_data);
  t.train_index = detail::sample_without_replacement(fm.train_images.count, p, gen);
  t.test_index = detail::sample_without_replacement(fm.test_images.count, p_test, gen_test);
  fill(fm.train_images, fm.train_labels, t.train_index, t.x, t.y, t.train_labels);
  if (p_test > 0) fill(fm.test_images, fm.test_labels, t.test_index, t.x_test, t.y_test, t.test_labels);
  return t;
}
#else
;
#endif
SPECDYN_CORE_FN image_task make_fashion_mnist(std::size_t p, std::size_t p_test, std::uint64_t seed, const std::string& dir = "")
#if SPECDYN_CORE_BODIES
{
  return make_fashion_mnist(load_fashion_mnist(dir), p, p_test, seed);
}
#else
;
#endif

// ------------------------------------------------------------- next word on the fortunes corpus ----

/// Lower-case words of a text: maximal runs of ASCII letters and apostrophes, with apostrophes at
/// either end removed ("Don't" → "don't", "'Tis" → "tis"). Digits, punctuation, white space and
/// non-ASCII bytes separate words and are dropped.
SPECDYN_CORE_FN std::vector<std::string> tokenize_words(std::string_view text)
#if SPECDYN_CORE_BODIES
{
  std::vector<std::string> words;
  std::string w;
  auto flush = [&] {
    const auto first = w.find_first_not_of('\'');
    if (first != std::string::npos) words.push_back(w.substr(first, w.find_last_not_of('\'') - first + 1));
    w.clear();
  };
  for (const char ch : text) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if ((u >= 'a' && u <= 'z') || u == '\'') w += ch;
    else if (u >= 'A' && u <= 'Z') w += char(u - 'A' + 'a');
    else if (!w.empty()) flush();
  }
  if (!w.empty()) flush();
  return words;
}
#else
;
#endif

/// The fortunes corpus: every regular file directly in the directory (sorted by name), except
/// *.dat index files, hidden files and symbolic links (Debian's *.u8 links repeat files);
/// subdirectories (the offensive "off/" of fortunes-off) are not entered. Entries are separated by
/// lines holding only "%"; entries without words are dropped.
struct fortune_corpus {
  std::filesystem::path dir;
  std::vector<std::string> files;
  std::vector<std::vector<std::string>> entries;  // words of each entry, in file order
  std::vector<char> test;                         // per entry: 1 when held out
  std::size_t words = 0;
};

/// FNV-1a (64 bit) of an entry's words joined by single spaces: the held-out entries are those
/// with hash ≡ 0 (mod 10), about 10 %. The same fortune in two files lands on the same side.
SPECDYN_CORE_FN std::uint64_t entry_hash(const std::vector<std::string>& words)
#if SPECDYN_CORE_BODIES
{
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto eat = [&](unsigned char b) { h = (h ^ b) * 0x100000001b3ULL; };
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i) eat(' ');
    for (const char ch : words[i]) eat(static_cast<unsigned char>(ch));
  }
  return h;
}
#else
;
#endif

SPECDYN_CORE_FN fortune_corpus read_fortunes(const std::string& dir = "")
#if SPECDYN_CORE_BODIES
{
  namespace fs = std::filesystem;
  fortune_corpus fc;
  fc.dir = dir.empty() ? fortunes_default_dir : dir;
  const std::string install = "run scripts/setup.sh (Debian package fortunes) or give --data-dir";
  if (!fs::is_directory(fc.dir)) throw usage_error("fortunes corpus not found: " + fc.dir.string() + " does not exist; " + install);
  for (const auto& e : fs::directory_iterator(fc.dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_symlink() || !e.is_regular_file() || name.empty() || name[0] == '.' || e.path().extension() == ".dat") continue;
    fc.files.push_back(name);
  }
  std::sort(fc.files.begin(), fc.files.end());
  for (const auto& name : fc.files) {
    std::ifstream in(fc.dir / name, std::ios::binary);
    if (!in) throw usage_error((fc.dir / name).string() + ": cannot open (" + std::strerror(errno) + ")");
    std::string line, entry;
    auto close_entry = [&] {
      auto words = tokenize_words(entry);
      entry.clear();
      if (words.empty()) return;
      fc.words += words.size();
      fc.test.push_back(entry_hash(words) % 10 == 0 ? 1 : 0);
      fc.entries.push_back(std::move(words));
    };
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line == "%") close_entry();
      else entry += line + '\n';
    }
    if (in.bad()) throw usage_error((fc.dir / name).string() + ": read error");
    close_entry();
  }
  if (fc.entries.empty()) throw usage_error("fortunes corpus not found: no fortune files with words in " + fc.dir.string() + "; " + install);
  return fc;
}
#else
;
#endif

/// Word ids: the C − 1 most frequent words of the training entries (ties in byte order of the
/// words) have ids 0..C−2 by decreasing count; every other word is "<unk>", id C − 1.
struct vocabulary {
  std::vector<std::string> words;
  std::vector<std::size_t> counts;  // training-entry count of each word; <unk>: all words mapped to it
  std::unordered_map<std::string, std::size_t> ids;
  [[nodiscard]] std::size_t size() const { return words.size(); }
  [[nodiscard]] std::size_t unk() const { return words.size() - 1; }
  [[nodiscard]] std::size_t id(const std::string& w) const {
    const auto it = ids.find(w);
    return it == ids.end() ? unk() : it->second;
  }
};

inline constexpr const char* unknown_word = "<unk>";

SPECDYN_CORE_FN vocabulary build_vocabulary(const fortune_corpus& fc, std::size_t c)
#if SPECDYN_CORE_BODIES
{
  require(c >= 2, "--vocab", c, "use at least 2 (one word and <unk>)");
  std::unordered_map<std::string, std::size_t> count;
  std::size_t total = 0;
  for (std::size_t e = 0; e < fc.entries.size(); ++e)
    if (!fc.test[e])
      for (const auto& w : fc.entries[e]) {
        ++count[w];
        ++total;
      }
  std::vector<std::pair<std::string, std::size_t>> ranked(count.begin(), count.end());
  require(ranked.size() >= c - 1, "--vocab", c,
          "the training entries of the fortunes corpus have " + std::to_string(ranked.size()) + " distinct words; use at most " +
              std::to_string(ranked.size() + 1));
  std::partial_sort(ranked.begin(), ranked.begin() + std::ptrdiff_t(c - 1), ranked.end(),
                    [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  vocabulary v;
  std::size_t known = 0;
  for (std::size_t i = 0; i + 1 < c; ++i) {
    v.ids.emplace(ranked[i].first, i);
    v.words.push_back(ranked[i].first);
    v.counts.push_back(ranked[i].second);
    known += ranked[i].second;
  }
  v.words.push_back(unknown_word);
  v.counts.push_back(total - known);
  return v;
}
#else
;
#endif

struct text_spec {
  std::size_t vocab = 1000;  // classes C, <unk> included
  std::size_t context = 2;   // previous words k: D = k·C
  std::string dir;           // empty: the Debian package's directory
};

/// A next-word sample. Column μ predicts word `positions[μ].second` of entry `positions[μ].first`
/// from the k words before it (same entry): x = √C · [onehot(w_{t−k}); …; onehot(w_{t−1})], so
/// |x|² = k·C = D, y = onehot(w_t).
struct text_task : task_data {
  fortune_corpus corpus;
  vocabulary vocab;
  std::size_t context = 0;
  std::vector<std::pair<std::size_t, std::size_t>> train_positions, test_positions;
};

/// The positions (entry, t ≥ k) of the training or the held-out entries.
SPECDYN_CORE_FN std::vector<std::pair<std::size_t, std::size_t>> text_positions(const fortune_corpus& fc, std::size_t k, bool test)
#if SPECDYN_CORE_BODIES
{
  std::vector<std::pair<std::size_t, std::size_t>> pos;
  for (std::size_t e = 0; e < fc.entries.size(); ++e)
    if (bool(fc.test[e]) == test)
      for (std::size_t t = k; t < fc.entries[e].size(); ++t) pos.emplace_back(e, t);
  return pos;
}
#else
;
#endif

/// p training examples drawn without replacement from the training entries' positions (stream
/// "data" of the seed) and p_test from the held-out entries' (stream "test_data").
SPECDYN_CORE_FN text_task make_text_task(fortune_corpus corpus, const text_spec& spec, std::size_t p, std::size_t p_test, std::uint64_t seed)
#if SPECDYN_CORE_BODIES
{
  require(spec.context >= 1 && spec.context <= 16, "--context", spec.context, "use 1 to 16 previous words");
  text_task t;
  t.corpus = std::move(corpus);
  t.vocab = build_vocabulary(t.corpus, spec.vocab);
  t.context = spec.context;
  const std::size_t c = spec.vocab, k = spec.context;
  const auto pool = text_positions(t.corpus, k, false), pool_test = text_positions(t.corpus, k, true);
  require(p >= 1 && p <= pool.size(), "--samples", p,
          "the training entries have " + std::to_string(pool.size()) + " positions with " + std::to_string(k) + " words before them; use 1 to that many");
  require(p_test <= pool_test.size(), "--test-samples", p_test,
          "the held-out entries have " + std::to_string(pool_test.size()) + " positions; use 0 to that many");
  const double on = std::sqrt(double(c));
  auto fill = [&](const std::vector<std::pair<std::size_t, std::size_t>>& all, const std::vector<std::size_t>& idx, matrix& x, matrix& y,
                  std::vector<std::pair<std::size_t, std::size_t>>& drawn) {
    x = matrix({k * c, idx.size()});
    y = matrix({c, idx.size()});
    x.fill(0.0);
    y.fill(0.0);
    for (std::size_t mu = 0; mu < idx.size(); ++mu) {
      const auto [e, pos] = all[idx[mu]];
      const auto& words = t.corpus.entries[e];
      for (std::size_t b = 0; b < k; ++b) x(b * c + t.vocab.id(words[pos - k + b]), mu) = on;
      y(t.vocab.id(words[pos]), mu) = 1.0;
      drawn.emplace_back(e, pos);
    }
  };
  rng gen(seed, rng::stream::data), gen_test(seed, rng::stream::test_data);
  fill(pool, detail::sample_without_replacement(pool.size(), p, gen), t.x, t.y, t.train_positions);
  if (p_test > 0) fill(pool_test, detail::sample_without_replacement(pool_test.size(), p_test, gen_test), t.x_test, t.y_test, t.test_positions);
  return t;
}
#else
;
#endif
SPECDYN_CORE_FN text_task make_text_task(const text_spec& spec, std::size_t p, std::size_t p_test, std::uint64_t seed)
#if SPECDYN_CORE_BODIES
{
  return make_text_task(read_fortunes(spec.dir), spec, p, p_test, seed);
}
#else
;
#endif

}  // namespace specdyn

// Scale-out over MPI ranks for `specdyn sweep`, `compare` and `theory`. A `session` initialises MPI
// only when the program was started by a launcher (mpirun/mpiexec/srun: OpenMPI, PMI or PMIx
// variables in the environment); run directly, the same commands run locally with one rank, and a
// build without MPI (cmake -DSPECDYN_MPI=OFF) has only that. A `work_queue` hands out the grid
// points 0..n−1 with dynamic load balancing: rank 0 holds the counter and a dispatcher thread
// answers the other ranks' requests, so a rank that finishes early takes the next point. Every
// rank writes its points' records to the (shared) output directory; rank 0 alone writes the
// summary from those records once every rank is done, so the summary is the same for any number
// of ranks. `gather_to_root` brings each rank's packed results to rank 0 (the theory's replicas).
//   specdyn::run::mpi::session mpi(argc, argv);           // in main, before any command runs
//   specdyn::run::mpi::work_queue q(points.size());
//   while (auto i = q.next()) run_point(*i);
//   q.finish();                                           // rank 0: every rank is done
#pragma once

#include "specdyn/core.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if SPECDYN_HAVE_MPI
#include <mpi.h>
#endif

namespace specdyn::run::mpi {

namespace detail {
SPECDYN_CORE_FN int& rank_ref()
#if SPECDYN_CORE_BODIES
{
  static int r = 0;
  return r;
}
#else
;
#endif
SPECDYN_CORE_FN int& size_ref()
#if SPECDYN_CORE_BODIES
{
  static int s = 1;
  return s;
}
#else
;
#endif
}  // namespace detail

/// This process's rank and the number of ranks (0 and 1 outside mpirun).
inline int rank() { return detail::rank_ref(); }
inline int size() { return detail::size_ref(); }
inline bool distributed() { return size() > 1; }
/// Whether this build can run on several ranks.
inline constexpr bool available() {
#if SPECDYN_HAVE_MPI
  return true;
#else
  return false;
#endif
}

/// True when a launcher started this process (its environment names a rank).
SPECDYN_CORE_FN bool launched()
#if SPECDYN_CORE_BODIES
{
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}
#else
;
#endif

/// MPI for the lifetime of the object when launched (threads: serialized; the dispatcher thread and
/// the main thread never call MPI at the same time); a no-op otherwise.
class session {
 public:
  session(int& argc, char**& argv) {
#if SPECDYN_HAVE_MPI
    if (!launched()) return;
    int provided = 0;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
      throw std::runtime_error("MPI_Init_thread failed");
    if (provided < MPI_THREAD_SERIALIZED) {
      MPI_Finalize();
      throw std::runtime_error("this MPI library cannot serve requests from a second thread (MPI_THREAD_SERIALIZED); run without mpirun");
    }
    active_ = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &detail::rank_ref());
    MPI_Comm_size(MPI_COMM_WORLD, &detail::size_ref());
#else
    (void)argc;
    (void)argv;
#endif
  }
  ~session() {
#if SPECDYN_HAVE_MPI
    if (active_) MPI_Finalize();
#endif
  }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

 private:
  [[maybe_unused]] bool active_ = false;
};

/// Blocks until every rank arrives (no-op on one rank).
SPECDYN_CORE_FN void barrier()
#if SPECDYN_CORE_BODIES
{
#if SPECDYN_HAVE_MPI
  if (distributed()) MPI_Barrier(MPI_COMM_WORLD);
#endif
}
#else
;
#endif

/// Sum and maximum of a count over all ranks, known to every rank (the value itself on one rank).
SPECDYN_CORE_FN std::size_t sum(std::size_t v)
#if SPECDYN_CORE_BODIES
{
#if SPECDYN_HAVE_MPI
  if (distributed()) {
    unsigned long long in = v, out = 0;
    MPI_Allreduce(&in, &out, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    return std::size_t(out);
  }
#endif
  return v;
}
#else
;
#endif
SPECDYN_CORE_FN std::size_t max(std::size_t v)
#if SPECDYN_CORE_BODIES
{
#if SPECDYN_HAVE_MPI
  if (distributed()) {
    unsigned long long in = v, out = 0;
    MPI_Allreduce(&in, &out, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    return std::size_t(out);
  }
#endif
  return v;
}
#else
;
#endif

/// Rank 0 receives every rank's buffer (its own first, then ranks 1, 2, … in order); the other
/// ranks send theirs and get an empty list. On one rank: {mine}. Sent in chunks of 2^26 doubles
/// (MPI counts are ints).
SPECDYN_CORE_FN std::vector<std::vector<double>> gather_to_root(std::vector<double> mine)
#if SPECDYN_CORE_BODIES
{
  std::vector<std::vector<double>> all;
#if SPECDYN_HAVE_MPI
  if (distributed()) {
    constexpr int tag_size = 7301, tag_data = 7302;
    constexpr std::size_t chunk = std::size_t(1) << 26;
    if (rank() != 0) {
      unsigned long long n = mine.size();
      MPI_Send(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, tag_size, MPI_COMM_WORLD);
      for (std::size_t k = 0; k < mine.size(); k += chunk)
        MPI_Send(mine.data() + k, int(std::min(chunk, mine.size() - k)), MPI_DOUBLE, 0, tag_data, MPI_COMM_WORLD);
      return all;
    }
    all.push_back(std::move(mine));
    for (int r = 1; r < size(); ++r) {
      unsigned long long n = 0;
      MPI_Recv(&n, 1, MPI_UNSIGNED_LONG_LONG, r, tag_size, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      std::vector<double> b(n);
      for (std::size_t k = 0; k < b.size(); k += chunk)
        MPI_Recv(b.data() + k, int(std::min(chunk, b.size() - k)), MPI_DOUBLE, r, tag_data, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      all.push_back(std::move(b));
    }
    return all;
  }
#endif
  all.push_back(std::move(mine));
  return all;
}
#else
;
#endif

/// Hands out indices 0..n−1 in order, each exactly once over all ranks. Other ranks ask rank 0 for
/// the next index when they are free (dynamic load balancing: the expensive points do not hold up
/// the others). `finish` on rank 0 returns once every rank has stopped asking; after `cancel` no
/// rank gets a new index.
class work_queue {
 public:
  explicit work_queue(std::size_t n) : n_(n) {
#if SPECDYN_HAVE_MPI
    if (distributed() && rank() == 0) dispatcher_ = std::thread([this] { serve(); });
#endif
  }
  ~work_queue() {
    try {
      finish();
    } catch (...) {
    }
  }
  work_queue(const work_queue&) = delete;
  work_queue& operator=(const work_queue&) = delete;

  /// The next index for this rank, or nothing when all are handed out (or after cancel).
  std::optional<std::size_t> next() {
    if (stopped_) return std::nullopt;
#if SPECDYN_HAVE_MPI
    if (distributed() && rank() != 0) {
      long long ask = 0, got = -1;
      MPI_Send(&ask, 1, MPI_LONG_LONG, 0, tag_request, MPI_COMM_WORLD);
      MPI_Recv(&got, 1, MPI_LONG_LONG, 0, tag_reply, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (got < 0) {
        stopped_ = true;
        told_ = true;  // rank 0 counted this rank as finished when it answered −1
        return std::nullopt;
      }
      return std::size_t(got);
    }
#endif
    const long long i = take();
    if (i < 0) {
      stopped_ = true;
      return std::nullopt;
    }
    return std::size_t(i);
  }

  /// How many indices rank 0 has handed out so far (its progress bar; on other ranks, their own).
  std::size_t handed_out() const { return std::min(counter_.load(), n_); }

  /// No more indices for anyone (rank 0), or for this rank (others: e.g. after an interrupt).
  void cancel() {
    if (rank() == 0) cancelled_ = true;
    stopped_ = true;
  }

  /// Rank 0: waits for the dispatcher, i.e. for every other rank to stop asking. Other ranks: tell
  /// rank 0 this rank stops, if it has not already been told.
  void finish() {
#if SPECDYN_HAVE_MPI
    if (!distributed()) return;
    if (rank() == 0) {
      if (dispatcher_.joinable()) dispatcher_.join();
    } else if (!told_) {
      long long quit = 0;
      MPI_Send(&quit, 1, MPI_LONG_LONG, 0, tag_quit, MPI_COMM_WORLD);
      told_ = true;
    }
#endif
  }

 private:
  static constexpr int tag_request = 7301, tag_reply = 7302, tag_quit = 7303;

  long long take() {
    if (cancelled_) return -1;
    const std::size_t i = counter_.fetch_add(1);
    return i < n_ ? (long long)i : -1;
  }

#if SPECDYN_HAVE_MPI
  /// Rank 0's dispatcher: answers requests until every other rank got −1 or said it quits. It polls
  /// (MPI_Iprobe, then a short sleep) rather than blocking in MPI_Recv, which spins a core.
  void serve() {
    int active = size() - 1;
    while (active > 0) {
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
      if (!flag) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      long long msg = 0;
      MPI_Recv(&msg, 1, MPI_LONG_LONG, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (st.MPI_TAG == tag_quit) {
        --active;
        continue;
      }
      const long long i = take();
      MPI_Send(&i, 1, MPI_LONG_LONG, st.MPI_SOURCE, tag_reply, MPI_COMM_WORLD);
      if (i < 0) --active;
    }
  }
  std::thread dispatcher_;
#endif
  std::size_t n_;
  std::atomic<std::size_t> counter_{0};
  std::atomic<bool> cancelled_{false};
  bool stopped_ = false, told_ = false;
};

}  // namespace specdyn::run::mpi

// One persistent helper thread that runs half of a streaming loop while the calling thread runs the
// other half. The optimizers' state updates are elementwise (each entry's result depends on that
// entry alone), so splitting them changes no bit of the result; it only uses the core that OpenBLAS
// leaves idle between its GEMMs.
//   helper_thread h;  h.start();          // starts the thread (none when only one core is usable)
//   h.run(+[](void* c, int part) { ... }, &ctx);   // part 0 here, part 1 on the helper; returns when both are done
// Nothing allocates in run(); a copy starts its own thread.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace specdyn {

class helper_thread {
 public:
  using job = void (*)(void*, int);

  helper_thread() = default;
  helper_thread(const helper_thread& o) {
    if (o.parallel()) start();
  }
  helper_thread& operator=(const helper_thread& o) {
    if (this != &o && o.parallel() && !parallel()) start();
    return *this;
  }
  helper_thread(helper_thread&&) noexcept = default;
  helper_thread& operator=(helper_thread&&) noexcept = default;
  ~helper_thread() = default;

  /// Starts the helper (a no-op with one hardware thread).
  void start() {
    if (s_ || std::thread::hardware_concurrency() < 2) return;
    s_ = std::make_unique<shared>();
    shared* s = s_.get();
    s->th = std::thread([s] {
      std::unique_lock lk(s->m);
      unsigned seen = 0;
      for (;;) {
        s->work.wait(lk, [&] { return s->stop || s->posted != seen; });
        if (s->stop) return;
        seen = s->posted;
        lk.unlock();
        s->f(s->ctx, 1);
        lk.lock();
        s->finished = seen;
        s->done.notify_one();
      }
    });
  }

  /// Whether a second thread exists (run() then splits the work in two).
  [[nodiscard]] bool parallel() const { return bool(s_); }

  /// f(ctx, 0) on this thread and f(ctx, 1) on the helper (or both here without one); returns when both have run.
  void run(job f, void* ctx) {
    if (!s_) {
      f(ctx, 0);
      f(ctx, 1);
      return;
    }
    unsigned g;
    {
      std::lock_guard lk(s_->m);
      s_->f = f;
      s_->ctx = ctx;
      g = ++s_->posted;
    }
    s_->work.notify_one();
    f(ctx, 0);
    std::unique_lock lk(s_->m);
    s_->done.wait(lk, [&] { return s_->finished == g; });
  }

 private:
  // a mutex and two condition variables: a first version on std::atomic::wait deadlocked in bench_step
  // (both threads asleep; libstdc++ 12 has known lost wake-ups there)
  struct shared {
    std::mutex m;
    std::condition_variable work, done;
    unsigned posted = 0, finished = 0;
    bool stop = false;
    job f = nullptr;
    void* ctx = nullptr;
    std::thread th;
    ~shared() {
      {
        std::lock_guard lk(m);
        stop = true;
      }
      work.notify_one();
      if (th.joinable()) th.join();
    }
  };

  std::unique_ptr<shared> s_;
};

}  // namespace specdyn

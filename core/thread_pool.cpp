// A fixed pool of workers that sleep on a condition variable between jobs (no spinning: spinning
// workers fight OpenBLAS's threads for the cores, DESIGN decision 7).
#include "postr/core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "postr/core/error.h"

namespace postr {
namespace {

thread_local bool tl_in_parallel_region = false;

int default_threads() {
    if (const char* env = std::getenv("POSTR_NUM_THREADS")) {
        int n = std::atoi(env);
        if (n > 0) return n;
    }
    return std::max(1u, std::thread::hardware_concurrency());
}

class Pool {
  public:
    Pool() { resize(default_threads()); }

    int size() const { return size_; }

    void resize(int n) {
        std::lock_guard job_lock(job_mutex_);
        stop_workers();
        size_ = n;
        for (int i = 1; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
    }

    void run(std::int64_t chunks, const std::function<void(std::int64_t)>& chunk_body) {
        std::lock_guard job_lock(job_mutex_);  // one job at a time; callers from other threads wait
        {
            std::lock_guard lock(mutex_);
            body_ = &chunk_body;
            chunks_ = chunks;
            next_.store(0);
            pending_ = chunks;
            error_ = nullptr;
            ++generation_;
        }
        wake_.notify_all();
        work();
        std::unique_lock lock(mutex_);
        // Waiting for active_ too keeps a late worker from running into the next job.
        done_.wait(lock, [&] { return pending_ == 0 && active_ == 0; });
        body_ = nullptr;
        if (error_) std::rethrow_exception(error_);
    }

    void on_change(void (*hook)(int)) {
        std::lock_guard lock(mutex_);
        hooks_.push_back(hook);
        hook(size_);
    }
    void notify_hooks() {
        for (auto hook : hooks_) hook(size_);
    }

  private:
    void work() {
        tl_in_parallel_region = true;
        std::int64_t finished = 0;
        for (std::int64_t c; (c = next_.fetch_add(1)) < chunks_;) {
            try {
                (*body_)(c);
            } catch (...) {
                std::lock_guard lock(mutex_);
                if (!error_) error_ = std::current_exception();
            }
            ++finished;
        }
        tl_in_parallel_region = false;
        if (finished > 0) {
            std::lock_guard lock(mutex_);
            pending_ -= finished;
            if (pending_ == 0) done_.notify_all();
        }
    }

    void worker_loop() {
        std::uint64_t seen = 0;
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [&] { return stopping_ || (generation_ != seen && body_); });
                if (stopping_) return;
                seen = generation_;
                ++active_;
            }
            work();
            std::lock_guard lock(mutex_);
            if (--active_ == 0) done_.notify_all();
        }
    }

    void stop_workers() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        for (auto& w : workers_) w.join();
        workers_.clear();
        stopping_ = false;
    }

    std::mutex job_mutex_;
    std::mutex mutex_;
    std::condition_variable wake_, done_;
    std::vector<std::thread> workers_;
    std::vector<void (*)(int)> hooks_;
    const std::function<void(std::int64_t)>* body_ = nullptr;
    std::int64_t chunks_ = 0;
    std::atomic<std::int64_t> next_{0};
    std::int64_t pending_ = 0;
    int active_ = 0;  // workers inside work()
    std::uint64_t generation_ = 0;
    std::exception_ptr error_;
    bool stopping_ = false;
    int size_ = 1;
};

Pool& pool() {
    static Pool* p = new Pool;  // never destroyed: joining threads during static teardown hangs
    return *p;
}

}  // namespace

void set_num_threads(int n) {
    POSTR_CHECK(n >= 1, "set_num_threads: thread count must be at least 1: got ", n,
                ". Pass 1 to run on the calling thread only");
    pool().resize(n);
    pool().notify_hooks();
}

int num_threads() { return pool().size(); }

void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& body) {
    if (n <= 0) return;
    grain = std::max<std::int64_t>(grain, 1);
    std::int64_t chunks = (n + grain - 1) / grain;
    if (chunks == 1 || tl_in_parallel_region || pool().size() == 1) {
        for (std::int64_t c = 0; c < chunks; ++c) body(c * grain, std::min(n, (c + 1) * grain));
        return;
    }
    pool().run(chunks, [&](std::int64_t c) { body(c * grain, std::min(n, (c + 1) * grain)); });
}

namespace detail {
void on_num_threads_changed(void (*hook)(int)) { pool().on_change(hook); }
}  // namespace detail

}  // namespace postr

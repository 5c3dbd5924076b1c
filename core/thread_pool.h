// The one pool of worker threads postr's CPU kernels run on. Work is cut into chunks whose
// boundaries depend only on the grain, never on the thread count, so a kernel that combines
// per-chunk results in chunk order is bitwise reproducible for any number of threads.
#pragma once

#include <cstdint>
#include <functional>

namespace postr {

// Sets the number of threads postr's CPU kernels use (1 = run on the caller only), and the
// BLAS library's thread count to match, so the two never oversubscribe the cores.
// Default: the hardware concurrency, or the POSTR_NUM_THREADS environment variable.
void set_num_threads(int n);
int num_threads();

// Runs body(begin, end) over [0, n) in chunks of `grain` elements (the last may be shorter),
// in parallel. Nested calls run inline. Exceptions from any chunk are rethrown to the caller.
void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& body);

namespace detail {
// Called with the new thread count whenever it changes (the BLAS layer registers one).
void on_num_threads_changed(void (*hook)(int));
}  // namespace detail

}  // namespace postr

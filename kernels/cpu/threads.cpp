// Keeps OpenBLAS's thread count equal to postr's, so BLAS calls and postr's pool never
// oversubscribe the cores (DESIGN decision 7).
#include "postr/core/thread_pool.h"
#include "postr/kernels/cpu/blas.h"

namespace postr::cpu::blas {

void bind_threads() {
    // Registered on first use rather than at static initialization: a static archive drops
    // objects nothing references, and with them their initializers.
    static const bool registered = [] {
        postr::detail::on_num_threads_changed([](int n) {
            if (openblas_set_num_threads) openblas_set_num_threads(n);
        });
        return true;
    }();
    static_cast<void>(registered);
}

}  // namespace postr::cpu::blas

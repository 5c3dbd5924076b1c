// Uses a few public ops of an installed postr and checks their answers.
#include <cmath>
#include <iostream>

#include "postr/config.h"
#include "postr/kernels/ops.h"

int main() {
    using postr::Tensor;
    Tensor a = Tensor::from_vector(std::vector<double>{4, 2, 2, 3}, {2, 2}, postr::Device::cpu());
    Tensor l = postr::cholesky(a);
    double logdet = postr::cholesky_logdet(l).item();  // log det [[4,2],[2,3]] = log 8
    Tensor s = postr::sum(postr::matmul(a, a));        // a·a = [[20, 14], [14, 13]]
    bool ok = std::abs(logdet - std::log(8.0)) < 1e-12 && s.item() == 61.0;
    std::cout << "postr " << postr::config::version << ": logdet " << logdet << ", sum " << s.item()
              << (ok ? " (ok)" : " (WRONG)") << "\n";
    return ok ? 0 : 1;
}

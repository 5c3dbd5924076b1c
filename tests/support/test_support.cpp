#include "tests/support/test_support.h"

#include <cmath>
#include <random>
#include <sstream>
#include <vector>

#include "postr/core/error.h"

namespace postr::test {

Tensor random_tensor(const Shape& shape, DType dtype, std::uint64_t seed, double low, double high,
                     Device device) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> dist(low, high);
    std::vector<double> v(static_cast<std::size_t>(numel(shape)));
    for (auto& x : v) x = dist(rng);
    return Tensor::from_vector(v, shape).to(dtype).to(device);
}

Tensor random_ints(const Shape& shape, std::int64_t low, std::int64_t high, std::uint64_t seed,
                   Device device) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::int64_t> dist(low, high - 1);
    std::vector<std::int64_t> v(static_cast<std::size_t>(numel(shape)));
    for (auto& x : v) x = dist(rng);
    return Tensor::from_vector(v, shape).to(device);
}

Tensor strided_copy(const Tensor& t) {
    if (t.dim() == 0) return t.clone();
    Shape big = t.shape();
    big.back() *= 2;
    Tensor buffer = Tensor::zeros(big, t.dtype(), t.device());
    Tensor view = buffer.slice(-1, 0, big.back(), 2);
    view.copy_(t);
    return view;
}

Tensor transposed_copy(const Tensor& t) {
    return t.transpose(-1, -2).contiguous().transpose(-1, -2);
}

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double rtol,
                                     double atol) {
    if (actual.shape() != expected.shape())
        return ::testing::AssertionFailure() << "shapes differ: " << to_string(actual.shape())
                                             << " vs expected " << to_string(expected.shape());
    std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
    double worst = 0;
    std::size_t worst_i = 0, failures = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::isnan(a[i]) && std::isnan(e[i])) continue;
        if (a[i] == e[i]) continue;  // includes matching infinities
        double excess = std::abs(a[i] - e[i]) - (atol + rtol * std::abs(e[i]));
        if (!(excess <= 0)) {
            ++failures;
            if (!(excess <= worst)) {
                worst = std::isnan(excess) ? INFINITY : excess;
                worst_i = i;
            }
        }
    }
    if (failures == 0) return ::testing::AssertionSuccess();
    std::ostringstream s;
    s.precision(17);
    s << failures << " of " << a.size() << " elements differ (rtol " << rtol << ", atol " << atol
      << "); worst at flat index " << worst_i << ": " << a[worst_i] << " vs expected " << e[worst_i]
      << " (shape " << to_string(actual.shape()) << ")";
    return ::testing::AssertionFailure() << s.str();
}

::testing::AssertionResult throws_error(const std::function<void()>& fn,
                                        std::initializer_list<std::string> parts) {
    try {
        fn();
    } catch (const Error& e) {
        std::string msg = e.what();
        for (const auto& p : parts)
            if (msg.find(p) == std::string::npos)
                return ::testing::AssertionFailure() << "message lacks \"" << p << "\": " << msg;
        return ::testing::AssertionSuccess();
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure() << "threw a non-postr exception: " << e.what();
    }
    return ::testing::AssertionFailure() << "did not throw";
}

}  // namespace postr::test

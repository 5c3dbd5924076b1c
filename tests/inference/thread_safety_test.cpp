// Thread safety (issue 9; the rules are in docs/GUARANTEES.md): independent fits on two threads,
// each owning its model, its posterior object and its Generator, give bit for bit the results of
// the same fits run one after the other on one thread. What the two threads share is global: the
// CPU thread pool (one job at a time; a second caller waits), the caching allocator (a mutex),
// OpenBLAS, and the autodiff mode flags (thread-local). postr's CPU kernels cut work by grain, not
// by thread count, so the results are reproducible bitwise however the pool is shared.
#include <atomic>
#include <cstring>
#include <exception>
#include <functional>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"
#include "postr/core/philox.h"
#include "postr/core/thread_pool.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/sgld.h"
#include "postr/inference/subnetwork_laplace.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/subnetwork.h"

#include "tests/nn/curvature_models.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

using Results = std::vector<Tensor>;

// Exactly equal: same dtype, shape and bytes.
::testing::AssertionResult bitwise_equal(const Results& got, const Results& expected,
                                         const std::string& what) {
    if (got.size() != expected.size())
        return ::testing::AssertionFailure()
               << what << ": " << got.size() << " results, expected " << expected.size();
    for (std::size_t i = 0; i < got.size(); ++i) {
        const Tensor a = got[i].contiguous(), b = expected[i].contiguous();
        if (a.dtype() != b.dtype() || a.shape() != b.shape() ||
            std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()) != 0)
            return ::testing::AssertionFailure()
                   << what << ": result " << i << " differs from the single-thread run";
    }
    return ::testing::AssertionSuccess();
}

// Subnetwork Laplace on a model built from `seed` (the MLP when cnn is false): GGN, Cholesky,
// probit and Monte Carlo predictives, and posterior samples, all from this call's own objects.
Results laplace_fit(bool cnn, std::uint64_t seed) {
    std::unique_ptr<nn::Sequential> model =
        cnn ? test::curvature_cnn(2, seed) : test::curvature_mlp(5, 4, seed);
    // Images large enough that the convolutions split into several chunks on the pool.
    const Tensor x = cnn ? test::random_tensor({32, 2, 12, 12}, DType::f64, seed + 1)
                         : test::random_tensor({48, 5}, DType::f64, seed + 1);
    const Tensor x_test = cnn ? test::random_tensor({7, 2, 12, 12}, DType::f64, seed + 2)
                              : test::random_tensor({7, 5}, DType::f64, seed + 2);
    const std::int64_t s = std::min<std::int64_t>(40, model->num_parameters());
    inference::SubnetworkLaplaceOptions options;
    options.prior_precision = 0.5;
    options.chunk_size = 8;  // several chunks per batch
    inference::SubnetworkLaplace la(*model, nn::select_random(model->num_parameters(), s, seed),
                                    options);
    la.accumulate(x.narrow(0, 0, x.size(0) / 2));
    la.accumulate(x.narrow(0, x.size(0) / 2, x.size(0) - x.size(0) / 2));
    la.fit();
    Generator gen(seed + 3);
    const auto f = la.predict(x_test);
    return {la.ggn(),
            la.precision_cholesky(),
            f.mean,
            f.covariance,
            la.predict_probabilities(x_test),
            la.predict_probabilities_mc(x_test, 16, gen),
            la.sample(5, gen)};
}

// 40 SGLD steps of 3 chains on the MLP's log posterior; returns the final θ and ℓ.
Results sgld_run(std::uint64_t seed) {
    auto model = test::curvature_mlp(4, 3, seed);
    const Tensor x = test::random_tensor({32, 4}, DType::f64, seed + 1);
    const Tensor y = test::random_ints({32}, 0, 3, seed + 2);
    const auto lp = inference::model_log_posterior(*model, nn::Likelihood::categorical(), 1.0, 32);
    auto transform = inference::sgld::build(lp, {.lr = 1e-2, .temperature = 1.0 / 32});
    const Tensor theta = model->parameters().theta().view({1, model->num_parameters()});
    auto state = transform.init(cat(std::vector<Tensor>{theta, theta, theta}, 0), seed + 3);
    for (int t = 0; t < 40; ++t)
        transform.update(state, {x.narrow(0, (t % 4) * 8, 8), y.narrow(0, (t % 4) * 8, 8)});
    return {state.theta.clone(), state.log_posterior.clone()};
}

// Many graphs built and differentiated in turn: gradients of a small MLP loss with respect to
// its weights and input, accumulated over `rounds` backward passes.
Results autodiff_rounds(std::uint64_t seed, int rounds) {
    Var w1(test::random_tensor({6, 8}, DType::f64, seed), true);
    Var w2(test::random_tensor({8, 3}, DType::f64, seed + 1), true);
    Var x(test::random_tensor({10, 6}, DType::f64, seed + 2), true);
    Results values;
    for (int r = 0; r < rounds; ++r) {
        Var h = tanh(matmul(x, w1));
        Var out = log_softmax(matmul(h, w2), 1);
        Var loss = mul(sum(mul(out, out)), 1.0 / (1.0 + r));
        loss.backward();
        values.push_back(loss.value().clone());
    }
    values.push_back(w1.grad().clone());
    values.push_back(w2.grad().clone());
    values.push_back(x.grad().clone());
    return values;
}

// Runs the jobs on one std::thread each, all at once (released together by a latch), and returns
// their results; an exception in a job fails the test with its message.
std::vector<Results> run_concurrently(const std::vector<std::function<Results()>>& jobs) {
    std::vector<Results> results(jobs.size());
    std::vector<std::string> errors(jobs.size());
    std::latch start(static_cast<std::ptrdiff_t>(jobs.size()));
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < jobs.size(); ++i)
        threads.emplace_back([&, i] {
            start.arrive_and_wait();
            try {
                results[i] = jobs[i]();
            } catch (const std::exception& e) {
                errors[i] = e.what();
            }
        });
    for (auto& t : threads) t.join();
    for (std::size_t i = 0; i < jobs.size(); ++i)
        EXPECT_TRUE(errors[i].empty()) << "job " << i << " threw: " << errors[i];
    return results;
}

// Uses the pool with `n` threads for the test's lifetime, restoring the previous count.
class ThreadCount {
  public:
    explicit ThreadCount(int n) : previous_(num_threads()) { set_num_threads(n); }
    ~ThreadCount() { set_num_threads(previous_); }
    ThreadCount(const ThreadCount&) = delete;
    ThreadCount& operator=(const ThreadCount&) = delete;

  private:
    int previous_;
};

TEST(ThreadSafety, TwoSubnetworkLaplaceFitsOnTwoThreadsMatchTheSingleThreadResults) {
    ThreadCount pool(4);  // the two fits share a pool of 4 workers
    const Results mlp = laplace_fit(false, 100), cnn = laplace_fit(true, 200);
    for (int repeat = 0; repeat < 3; ++repeat) {
        const auto got = run_concurrently(
            {[] { return laplace_fit(false, 100); }, [] { return laplace_fit(true, 200); }});
        EXPECT_TRUE(bitwise_equal(got[0], mlp, "MLP subnetwork Laplace"));
        EXPECT_TRUE(bitwise_equal(got[1], cnn, "CNN subnetwork Laplace"));
    }
    // The same model on both threads (two copies) also gives identical results.
    const auto same = run_concurrently(
        {[] { return laplace_fit(true, 200); }, [] { return laplace_fit(true, 200); }});
    EXPECT_TRUE(bitwise_equal(same[0], cnn, "CNN copy 1"));
    EXPECT_TRUE(bitwise_equal(same[1], cnn, "CNN copy 2"));
}

TEST(ThreadSafety, SgldChainsAndALaplaceFitOnTwoThreadsMatchTheSingleThreadResults) {
    ThreadCount pool(4);
    const Results chains = sgld_run(300), fit = laplace_fit(true, 400);
    for (int repeat = 0; repeat < 3; ++repeat) {
        const auto got =
            run_concurrently({[] { return sgld_run(300); }, [] { return laplace_fit(true, 400); },
                              [] { return sgld_run(300); }});
        EXPECT_TRUE(bitwise_equal(got[0], chains, "SGLD (thread 1)"));
        EXPECT_TRUE(bitwise_equal(got[1], fit, "subnetwork Laplace"));
        EXPECT_TRUE(bitwise_equal(got[2], chains, "SGLD (thread 3)"));
    }
}

TEST(ThreadSafety, ParallelForFromSeveralThreadsRunsEveryChunkExactlyOnce) {
    ThreadCount pool(4);
    constexpr std::int64_t kN = 10007, kRounds = 300;
    auto job = [] {
        std::vector<std::int64_t> counts(kN, 0);
        std::vector<double> sums;
        for (std::int64_t r = 0; r < kRounds; ++r) {
            std::vector<double> partial((kN + 63) / 64, 0.0);
            parallel_for(kN, 64, [&](std::int64_t begin, std::int64_t end) {
                for (std::int64_t i = begin; i < end; ++i) {
                    ++counts[static_cast<std::size_t>(i)];
                    partial[static_cast<std::size_t>(begin / 64)] +=
                        1.0 / static_cast<double>(i + r + 1);
                }
            });
            double total = 0;
            for (double p : partial) total += p;  // chunk order: reproducible
            sums.push_back(total);
        }
        Results out{Tensor::from_vector(counts, {kN}), Tensor::from_vector(sums, {kRounds})};
        return out;
    };
    const Results expected = job();
    for (std::int64_t c : expected[0].to_vector<std::int64_t>()) ASSERT_EQ(c, kRounds);
    const auto got = run_concurrently({job, job, job});
    for (const auto& r : got) EXPECT_TRUE(bitwise_equal(r, expected, "parallel_for"));
}

TEST(ThreadSafety, AutodiffGraphsBuiltOnTwoThreadsDoNotInterfere) {
    const Results a = autodiff_rounds(500, 200), b = autodiff_rounds(600, 200);
    for (int repeat = 0; repeat < 3; ++repeat) {
        const auto got = run_concurrently(
            {[] { return autodiff_rounds(500, 200); }, [] { return autodiff_rounds(600, 200); }});
        EXPECT_TRUE(bitwise_equal(got[0], a, "autodiff thread 1"));
        EXPECT_TRUE(bitwise_equal(got[1], b, "autodiff thread 2"));
    }
}

TEST(ThreadSafety, NoGradGuardOnOneThreadLeavesRecordingOnOnAnother) {
    const Results expected = autodiff_rounds(700, 50);
    std::latch guard_active(2), other_done(2);
    std::atomic<bool> recorded_while_guarded{true};
    std::atomic<bool> guard_held{false};
    Results got;
    std::string error;
    std::thread guarded([&] {
        NoGradGuard no_grad;
        guard_active.arrive_and_wait();
        // While the other thread differentiates, this one computes without recording.
        Var w(test::random_tensor({4, 4}, DType::f64, 1), true);
        for (int i = 0; i < 200; ++i) {
            Var y = tanh(matmul(w, w));
            if (y.grad_fn() != nullptr || y.requires_grad()) recorded_while_guarded = false;
        }
        guard_held = !grad_enabled();
        other_done.arrive_and_wait();
    });
    std::thread recording([&] {
        guard_active.arrive_and_wait();
        try {
            if (!grad_enabled()) error = "grad mode is off on a thread that never disabled it";
            got = autodiff_rounds(700, 50);
        } catch (const std::exception& e) {
            error = e.what();
        }
        other_done.arrive_and_wait();
    });
    guarded.join();
    recording.join();
    EXPECT_TRUE(error.empty()) << error;
    EXPECT_TRUE(recorded_while_guarded) << "a graph was recorded under NoGradGuard";
    EXPECT_TRUE(guard_held) << "the guard's thread saw grad mode on";
    EXPECT_TRUE(bitwise_equal(got, expected, "gradients next to a NoGradGuard thread"));
    EXPECT_TRUE(grad_enabled());
}

}  // namespace
}  // namespace postr

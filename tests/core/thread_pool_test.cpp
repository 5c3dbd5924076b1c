#include "postr/core/thread_pool.h"

#include <atomic>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/error.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

class ThreadPool : public ::testing::Test {
  protected:
    void TearDown() override { set_num_threads(saved_); }
    int saved_ = num_threads();
};

TEST_F(ThreadPool, CoversEveryIndexExactlyOnce) {
    for (int threads : {1, 2, 3}) {
        set_num_threads(threads);
        std::vector<std::atomic<int>> hits(10007);
        parallel_for(10007, 100, [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
        });
        for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    }
}

TEST_F(ThreadPool, ChunkBoundariesDependOnlyOnTheGrain) {
    auto boundaries = [] {
        std::vector<std::int64_t> starts(11, -1);
        parallel_for(1000, 97, [&](std::int64_t b, std::int64_t) {
            starts[static_cast<std::size_t>(b / 97)] = b;
        });
        return starts;
    };
    set_num_threads(1);
    auto one = boundaries();
    set_num_threads(4);
    EXPECT_EQ(boundaries(), one);
}

TEST_F(ThreadPool, RethrowsAChunksException) {
    set_num_threads(2);
    EXPECT_THROW(parallel_for(100, 1,
                              [](std::int64_t b, std::int64_t) {
                                  if (b == 57) throw std::runtime_error("chunk 57");
                              }),
                 std::runtime_error);
    // The pool is still usable afterwards.
    std::atomic<int> n{0};
    parallel_for(100, 1, [&](std::int64_t, std::int64_t) { ++n; });
    EXPECT_EQ(n.load(), 100);
}

TEST_F(ThreadPool, NestedCallsRunInline) {
    set_num_threads(2);
    std::atomic<int> n{0};
    parallel_for(8, 1, [&](std::int64_t, std::int64_t) {
        parallel_for(8, 1, [&](std::int64_t, std::int64_t) { ++n; });
    });
    EXPECT_EQ(n.load(), 64);
}

TEST_F(ThreadPool, RejectsZeroThreads) {
    EXPECT_TRUE(test::throws_error([] { set_num_threads(0); }, {"set_num_threads", "0"}));
}

}  // namespace
}  // namespace postr

// Fault injection for checkpoint writes (issue 9, "Faults"): a writer killed with SIGKILL at
// random moments never leaves a partial file at the checkpoint's path (what is there always loads
// and equals, bit for bit, one complete version written), and a write that fails (file size
// limit standing in for a full disk, a missing directory, a parent that is a file, a read-only
// directory, a target that is a directory) throws postr::Error naming the path and the reason and
// leaves the old file as it was.
//
// The writers run in fork()ed children, which only call save_* on tensors built before the fork
// (a forked child must not rely on the parent's worker threads; parallel_for still completes
// there because the calling thread runs every chunk the workers do not take).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/error.h"
#include "postr/io/checkpoint.h"
#include "postr/io/safetensors.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"
#include "postr/nn/optim/sgd.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system's temporary directory, removed (with its contents) at the
// end of the test.
class TempDir {
  public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "postr_faults_XXXXXX").string();
        POSTR_CHECK(::mkdtemp(pattern.data()) != nullptr, "mkdtemp failed: ", std::strerror(errno));
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ignored);
        for (const auto& entry : fs::directory_iterator(path_, ignored))
            fs::permissions(entry.path(), fs::perms::owner_all, fs::perm_options::add, ignored);
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

// Names of the entries of a directory, sorted.
std::vector<std::string> entries_of(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
    return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
           std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()) == 0;
}

bool same_file(const io::SafetensorsFile& a, const io::SafetensorsFile& b) {
    if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
    for (std::size_t i = 0; i < a.tensors.size(); ++i)
        if (a.tensors[i].first != b.tensors[i].first ||
            !same_bytes(a.tensors[i].second, b.tensors[i].second))
            return false;
    return true;
}

// A model of about `mib` MiB of f32 weights with an SGD momentum buffer, so that a checkpoint
// takes a few milliseconds to write.
struct TrainedModel {
    std::unique_ptr<nn::Sequential> model;
    std::unique_ptr<nn::Sgd> sgd;
};
TrainedModel trained_model(std::uint64_t seed) {
    TrainedModel m;
    m.model = std::make_unique<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(512, 1024), std::make_shared<nn::Tanh>(),
        std::make_shared<nn::Linear>(1024, 256)});
    m.model->finalize(seed);
    SgdOptions options;
    options.lr = 0.01;
    options.momentum = 0.9;
    m.sgd = std::make_unique<nn::Sgd>(m.model->parameters().theta(), options);
    m.sgd->step(test::random_tensor({m.model->num_parameters()}, DType::f32, seed + 1));
    return m;
}

std::map<std::string, std::string> generation_metadata(std::int64_t generation) {
    return {{"generation", std::to_string(generation)}, {"note", "fault-injection test"}};
}

// Runs `writes(start_generation)` (which loops forever, writing generation g, g+1, ...) in a
// child, kills it with SIGKILL after a random delay in [0, max_delay), and calls
// `check(previous_generation)` after each kill; `kills` times. Returns how many kills found the
// temporary file present (the child was inside a write).
struct KillStats {
    int kills = 0;
    int during_write = 0;       // the temporary file existed after the kill
    int exited_on_its_own = 0;  // should stay 0: the writers never return
};

template <class Writes, class Check>
KillStats kill_repeatedly(int kills, std::chrono::microseconds max_delay, std::uint64_t seed,
                          const std::string& tmp_path, Writes writes, Check check) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::int64_t> delay(0, max_delay.count());
    KillStats stats;
    std::int64_t generation = 1;
    for (int i = 0; i < kills; ++i) {
        const pid_t pid = ::fork();
        if (pid < 0) ADD_FAILURE() << "fork failed: " << std::strerror(errno);
        if (pid < 0) return stats;
        if (pid == 0) {
            try {
                writes(generation);
            } catch (...) {
                ::_exit(3);
            }
            ::_exit(4);
        }
        ::usleep(static_cast<useconds_t>(delay(rng)));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        ++stats.kills;
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            ++stats.exited_on_its_own;
            ADD_FAILURE() << "the writer exited with status " << status << " before the kill";
        }
        if (fs::exists(tmp_path)) ++stats.during_write;
        generation = check(generation);
        if (::testing::Test::HasFailure()) return stats;
    }
    return stats;
}

TEST(CheckpointFaults, SigkillDuringTrainingCheckpointWritesNeverCorruptsTheFile) {
    TempDir dir;
    const std::string path = dir.file("train.safetensors");
    const std::string tmp = path + ".tmp";  // the one temporary name save_safetensors uses
    // Two complete versions, alternating: even generations write A, odd ones B.
    TrainedModel a = trained_model(1), b = trained_model(2);
    const nn::OptimizerState state_a = a.sgd->state(), state_b = b.sgd->state();
    io::save_training_checkpoint(dir.file("a.safetensors"), *a.model, state_a);
    io::save_training_checkpoint(dir.file("b.safetensors"), *b.model, state_b);
    const io::SafetensorsFile file_a = io::load_safetensors(dir.file("a.safetensors"));
    const io::SafetensorsFile file_b = io::load_safetensors(dir.file("b.safetensors"));
    ASSERT_FALSE(same_bytes(file_a.tensors[0].second, file_b.tensors[0].second));

    // Calibrate the delays to the time one save takes (fsync included).
    const auto t0 = std::chrono::steady_clock::now();
    io::save_training_checkpoint(path, *a.model, state_a, generation_metadata(0));
    const auto save_time = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - t0);
    const auto max_delay =
        std::clamp(2 * save_time, std::chrono::microseconds(500), std::chrono::microseconds(40000));

    TrainedModel into = trained_model(9);  // what load_training_checkpoint loads into
    auto writes = [&](std::int64_t generation) {
        for (std::int64_t g = generation;; ++g) {
            const TrainedModel& m = g % 2 == 0 ? a : b;
            io::save_training_checkpoint(path, *m.model, g % 2 == 0 ? state_a : state_b,
                                         generation_metadata(g));
        }
    };
    std::int64_t last_seen = 0;
    auto check = [&](std::int64_t next_start) {
        io::SafetensorsFile got;
        try {
            got = io::load_safetensors(path);
        } catch (const Error& e) {
            ADD_FAILURE() << "after a kill the checkpoint does not load: " << e.what();
            return next_start;
        }
        const std::int64_t g = std::stoll(got.metadata.at("generation"));
        EXPECT_GE(g, last_seen) << "an older version replaced a newer one";
        io::SafetensorsFile expected = g % 2 == 0 ? file_a : file_b;
        expected.metadata = generation_metadata(g);
        EXPECT_TRUE(same_file(got, expected))
            << "generation " << g << " does not equal the version written";
        // The checkpoint API loads it too, into a model of the same architecture.
        const io::TrainingCheckpoint loaded = io::load_training_checkpoint(path, *into.model);
        const TrainedModel& source = g % 2 == 0 ? a : b;
        EXPECT_TRUE(
            same_bytes(into.model->parameters().theta(), source.model->parameters().theta()));
        EXPECT_EQ(loaded.optimizer.size(), state_a.size());
        // Only the checkpoint, the two references and at most the one temporary file.
        const auto names = entries_of(dir.path());
        EXPECT_LE(names.size(), 4u);
        for (const auto& name : names)
            EXPECT_TRUE(name == "train.safetensors" || name == "train.safetensors.tmp" ||
                        name == "a.safetensors" || name == "b.safetensors")
                << "unexpected file " << name;
        last_seen = g;
        return g + 1;  // the next writer continues the sequence
    };
    const auto start = std::chrono::steady_clock::now();
    const KillStats stats = kill_repeatedly(50, max_delay, 11, tmp, writes, check);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(stats.kills, 50);
    std::cout << "[ stats    ] " << stats.kills << " kills in " << seconds << " s (one save "
              << save_time.count() << " us, delays up to " << max_delay.count() << " us), "
              << stats.during_write << " with the temporary file present; last generation "
              << last_seen << "\n";
    // The kills must actually land inside writes, or the test shows nothing.
    EXPECT_GT(stats.during_write, 0);
    EXPECT_GT(last_seen, 0) << "no write ever completed";
    // A later successful save removes the leftover temporary file (it is renamed away).
    io::save_training_checkpoint(path, *a.model, state_a, generation_metadata(last_seen + 1));
    EXPECT_FALSE(fs::exists(tmp));
}

TEST(CheckpointFaults, SigkillDuringLargeSafetensorsWritesNeverCorruptsTheFile) {
    TempDir dir;
    const std::string path = dir.file("big.safetensors");
    const std::string tmp = path + ".tmp";
    // About 6 MiB per version, in three tensors of different dtypes.
    const io::NamedTensors a = {{"w", test::random_tensor({1024, 1024}, DType::f32, 3)},
                                {"v", test::random_tensor({256, 1024}, DType::f64, 4)},
                                {"i", test::random_ints({4096}, -5, 5, 5)}};
    const io::NamedTensors b = {{"w", test::random_tensor({1024, 1024}, DType::f32, 6)},
                                {"v", test::random_tensor({256, 1024}, DType::f64, 7)},
                                {"i", test::random_ints({4096}, -5, 5, 8)}};
    const auto t0 = std::chrono::steady_clock::now();
    io::save_safetensors(path, a, generation_metadata(0));
    const auto save_time = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - t0);
    const auto max_delay =
        std::clamp(2 * save_time, std::chrono::microseconds(500), std::chrono::microseconds(40000));
    auto writes = [&](std::int64_t generation) {
        for (std::int64_t g = generation;; ++g)
            io::save_safetensors(path, g % 2 == 0 ? a : b, generation_metadata(g));
    };
    std::int64_t last_seen = 0;
    auto check = [&](std::int64_t next_start) {
        io::SafetensorsFile got;
        try {
            got = io::load_safetensors(path);
        } catch (const Error& e) {
            ADD_FAILURE() << "after a kill the file does not load: " << e.what();
            return next_start;
        }
        const std::int64_t g = std::stoll(got.metadata.at("generation"));
        EXPECT_GE(g, last_seen);
        const io::NamedTensors& expected = g % 2 == 0 ? a : b;
        EXPECT_EQ(got.tensors.size(), expected.size());
        for (std::size_t i = 0; i < std::min(got.tensors.size(), expected.size()); ++i)
            EXPECT_TRUE(same_bytes(got.tensors[i].second, expected[i].second))
                << "generation " << g << ", tensor " << expected[i].first;
        const auto names = entries_of(dir.path());
        EXPECT_LE(names.size(), 2u) << "temporary files accumulate";
        last_seen = g;
        return g + 1;
    };
    const auto start = std::chrono::steady_clock::now();
    const KillStats stats = kill_repeatedly(50, max_delay, 12, tmp, writes, check);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(stats.kills, 50);
    std::cout << "[ stats    ] " << stats.kills << " kills in " << seconds << " s (one save "
              << save_time.count() << " us), " << stats.during_write
              << " with the temporary file present; last generation " << last_seen << "\n";
    EXPECT_GT(stats.during_write, 0);
    EXPECT_GT(last_seen, 0);
}

// Two processes saving to the same path: each takes an exclusive lock on "<path>.tmp" before
// truncating it, so neither publishes the other's half-written file (before the fix about half
// of the loads between the writers failed, and renames failed with ENOENT).
TEST(CheckpointFaults, ConcurrentSavesToOnePathNeverExposeAPartialFile) {
    TempDir dir;
    const std::string path = dir.file("shared.safetensors");
    const io::NamedTensors a = {{"w", Tensor::full({1 << 18}, 1.0, DType::f32)}};
    const io::NamedTensors b = {{"w", Tensor::full({(1 << 18) + 1000}, 2.0, DType::f32)}};
    io::save_safetensors(path, a);
    pid_t writers[2];
    for (int k = 0; k < 2; ++k) {
        writers[k] = ::fork();
        if (writers[k] == 0) {
            int failed = 0;
            for (int i = 0; i < 100; ++i) {
                try {
                    io::save_safetensors(path, k == 0 ? a : b);
                } catch (...) {
                    ++failed;
                }
            }
            ::_exit(failed == 0 ? 0 : 1);
        }
    }
    int bad_loads = 0, loads = 0, finished = 0, failed_writers = 0;
    while (finished < 2) {
        for (pid_t& pid : writers) {
            int status = 0;
            if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid) {
                pid = 0;
                ++finished;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed_writers;
            }
        }
        ++loads;
        try {
            const io::SafetensorsFile f = io::load_safetensors(path);
            const Tensor& w = f.tensors.at(0).second;
            const Tensor& expected = w.numel() == a[0].second.numel() ? a[0].second : b[0].second;
            if (!same_bytes(w, expected)) ++bad_loads;
        } catch (const Error&) {
            ++bad_loads;
        }
    }
    EXPECT_EQ(bad_loads, 0) << "of " << loads << " loads during concurrent saves";
    EXPECT_EQ(failed_writers, 0) << "writers had saves fail";
}

// Child exit codes of the failing-write checks.
enum ChildResult : int {
    kThrewClearly = 0,
    kDidNotThrow = 10,
    kMessageLacksPath = 11,
    kMessageLacksReason = 12,
    kTemporaryLeft = 13,
    kOtherException = 14,
    kSetupFailed = 15,
    kCannotDropPrivileges = 77,
};

// In the child: `save` must throw postr::Error whose message names `path` and `reason`, and
// leave no temporary file.
template <class Save>
int expect_clear_failure(const std::string& path, const std::string& reason, Save save) {
    try {
        save();
    } catch (const Error& e) {
        const std::string message = e.what();
        if (message.find(path) == std::string::npos) return kMessageLacksPath;
        if (message.find(reason) == std::string::npos) return kMessageLacksReason;
        std::error_code ignored;
        if (fs::exists(path + ".tmp", ignored)) return kTemporaryLeft;
        return kThrewClearly;
    } catch (...) {
        return kOtherException;
    }
    return kDidNotThrow;
}

// Runs fn() in a child process and returns its exit code (or 100 + the signal).
template <class Fn>
int in_child(Fn fn) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        int code = kSetupFailed;
        try {
            code = fn();
        } catch (...) {
            code = kOtherException;
        }
        ::_exit(code);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 100 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

TEST(CheckpointFaults, DiskFullThrowsNamingThePathAndKeepsTheOldCheckpoint) {
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    TrainedModel good = trained_model(21), other = trained_model(22);
    io::save_training_checkpoint(path, *good.model, good.sgd->state(), {{"version", "good"}});
    const io::SafetensorsFile before = io::load_safetensors(path);
    // RLIMIT_FSIZE below the checkpoint's size: write() fails with EFBIG ("File too large") once
    // the file reaches it, as it fails with ENOSPC on a full disk (the same code path).
    const int code = in_child([&] {
        ::signal(SIGXFSZ, SIG_IGN);
        rlimit limit{};
        limit.rlim_cur = limit.rlim_max = 256 * 1024;
        if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return int{kSetupFailed};
        return expect_clear_failure(path, std::strerror(EFBIG), [&] {
            io::save_training_checkpoint(path, *other.model, other.sgd->state(),
                                         {{"version", "bad"}});
        });
    });
    EXPECT_EQ(code, kThrewClearly) << "see ChildResult";
    EXPECT_TRUE(same_file(io::load_safetensors(path), before)) << "the old checkpoint changed";
    EXPECT_EQ(entries_of(dir.path()), std::vector<std::string>{"model.safetensors"});
}

TEST(CheckpointFaults, MissingDirectoryAndFileAsDirectoryGiveClearErrors) {
    TempDir dir;
    TrainedModel m = trained_model(31);
    const std::string missing = dir.file("no_such_dir") + "/model.safetensors";
    EXPECT_TRUE(
        test::throws_error([&] { io::save_training_checkpoint(missing, *m.model, m.sgd->state()); },
                           {missing, std::strerror(ENOENT)}));
    EXPECT_FALSE(fs::exists(dir.file("no_such_dir")));

    const std::string regular = dir.file("a_file");
    io::save_safetensors(regular, {{"x", Tensor::zeros({2}, DType::f32)}});
    const std::string under_file = regular + "/model.safetensors";
    EXPECT_TRUE(test::throws_error(
        [&] { io::save_training_checkpoint(under_file, *m.model, m.sgd->state()); },
        {under_file, std::strerror(ENOTDIR)}));

    // The target is a directory: the rename fails, the temporary file is removed, the
    // directory is untouched.
    const std::string directory = dir.file("a_directory");
    fs::create_directory(directory);
    EXPECT_TRUE(test::throws_error(
        [&] { io::save_training_checkpoint(directory, *m.model, m.sgd->state()); },
        {directory, std::strerror(EISDIR)}));
    EXPECT_TRUE(fs::is_directory(directory));
    EXPECT_FALSE(fs::exists(directory + ".tmp"));

    // Loading a missing file names it too.
    EXPECT_TRUE(test::throws_error([&] { io::load_training_checkpoint(missing, *m.model); },
                                   {missing, std::strerror(ENOENT)}));
}

TEST(CheckpointFaults, PermissionDeniedThrowsNamingThePathAndKeepsTheOldCheckpoint) {
    TempDir dir;
    const std::string locked = dir.file("locked");
    fs::create_directory(locked);
    const std::string path = locked + "/model.safetensors";
    TrainedModel good = trained_model(41), other = trained_model(42);
    io::save_training_checkpoint(path, *good.model, good.sgd->state(), {{"version", "good"}});
    const io::SafetensorsFile before = io::load_safetensors(path);
    // Read-only directory: no file can be created in it (the temporary file included).
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                fs::perms::group_exec | fs::perms::others_read |
                                fs::perms::others_exec);
    const bool root = ::geteuid() == 0;
    if (root) {
        // Root ignores permission bits; the child drops to "nobody" (uid/gid 65534), who can
        // traverse the directories (made world-searchable) but not write into `locked`.
        fs::permissions(dir.path(), fs::perms::others_exec | fs::perms::group_exec,
                        fs::perm_options::add);
    }
    const int code = in_child([&] {
        if (root && (::setgid(65534) != 0 || ::setuid(65534) != 0))
            return int{kCannotDropPrivileges};
        return expect_clear_failure(path, std::strerror(EACCES), [&] {
            io::save_training_checkpoint(path, *other.model, other.sgd->state(),
                                         {{"version", "bad"}});
        });
    });
    if (code == kCannotDropPrivileges)
        GTEST_SKIP() << "running as root and setuid(nobody) failed: root bypasses permission "
                        "bits, so a read-only directory cannot be tested here";
    EXPECT_EQ(code, kThrewClearly) << "see ChildResult";
    EXPECT_TRUE(same_file(io::load_safetensors(path), before)) << "the old checkpoint changed";
    EXPECT_EQ(entries_of(locked), std::vector<std::string>{"model.safetensors"});
}

}  // namespace
}  // namespace postr

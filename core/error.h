// postr::Error and the named checks. Messages follow one format:
//   "<op>: <argument> <problem>: <values>. <what to do>"
// Checks build their message only on the failure path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

namespace postr {

class Tensor;
enum class DType : std::uint8_t;

class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A Cholesky factorization met a non-positive pivot; `minor` is the 1-based order of the first
// leading minor that is not positive definite, so callers can add jitter and retry.
class NotPositiveDefinite : public Error {
  public:
    NotPositiveDefinite(const std::string& message, std::int64_t minor)
        : Error(message), minor_(minor) {}
    std::int64_t minor() const { return minor_; }

  private:
    std::int64_t minor_;
};

// An allocation failed; carries what was asked for and what the device had free.
class OutOfMemory : public Error {
  public:
    OutOfMemory(const std::string& message, std::size_t requested, std::size_t available)
        : Error(message), requested_(requested), available_(available) {}
    std::size_t requested() const { return requested_; }
    std::size_t available() const { return available_; }

  private:
    std::size_t requested_;
    std::size_t available_;
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
    std::ostringstream s;
    (s << ... << parts);
    return s.str();
}
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
    throw Error(concat(parts...));
}
}  // namespace detail

// Throws postr::Error with the concatenated parts when `cond` is false.
#define POSTR_CHECK(cond, ...)                  \
    do {                                        \
        if (!(cond)) [[unlikely]]               \
            ::postr::detail::fail(__VA_ARGS__); \
    } while (0)

// Internal invariant: a failure is postr's bug, not the caller's.
#define POSTR_ASSERT(cond)                                                                    \
    do {                                                                                      \
        if (!(cond)) [[unlikely]]                                                             \
            ::postr::detail::fail("internal error: ", #cond, " at ", __FILE__, ":", __LINE__, \
                                  "; please report");                                         \
    } while (0)

// The named checks. `op` is the public op name, `name` the argument's name in its signature.
void check_defined(const char* op, const char* name, const Tensor& t);
void check_same_shape(const char* op, const char* name_a, const Tensor& a, const char* name_b,
                      const Tensor& b);
void check_same_dtype(const char* op, const char* name_a, const Tensor& a, const char* name_b,
                      const Tensor& b);
void check_same_device(const char* op, const char* name_a, const Tensor& a, const char* name_b,
                       const Tensor& b);
void check_dtype(const char* op, const char* name, const Tensor& t, DType expected);
void check_floating(const char* op, const char* name, const Tensor& t);
void check_rank(const char* op, const char* name, const Tensor& t, int rank);
void check_min_rank(const char* op, const char* name, const Tensor& t, int min_rank);
void check_square(const char* op, const char* name, const Tensor& t);

// Thrown when a CUDA tensor reaches a build without CUDA.
[[noreturn]] void throw_cuda_unavailable(const char* op);

}  // namespace postr

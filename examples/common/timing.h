// Wall-clock timing for the examples' progress lines.
#pragma once

#include <chrono>

namespace postr::examples {

using Clock = std::chrono::steady_clock;

// Seconds from `start` to now.
inline double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace postr::examples

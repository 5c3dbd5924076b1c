// Command-line parsing shared by the example programs.
#pragma once

#include <charconv>
#include <string_view>
#include <system_error>

#include "postr/core/error.h"

namespace postr::examples {

// All of `text` as a T (integer or floating point). Throws postr::Error
// "<program>: <flag> expects a number: got "<text>". See --help" otherwise, trailing characters
// and an empty text included.
template <class T>
T parse_number(std::string_view program, std::string_view flag, std::string_view text) {
    T value{};
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    POSTR_CHECK(ec == std::errc() && ptr == end && !text.empty(), program, ": ", flag,
                " expects a number: got \"", text, "\". See --help");
    return value;
}

}  // namespace postr::examples

// Where a tensor's storage lives: the host, or CUDA device `index`.
#pragma once

#include <string>

namespace postr {

struct Device {
    enum class Kind { cpu, cuda };
    Kind kind = Kind::cpu;
    int index = 0;

    static constexpr Device cpu() { return {Kind::cpu, 0}; }
    static constexpr Device cuda(int index = 0) { return {Kind::cuda, index}; }
    constexpr bool is_cuda() const { return kind == Kind::cuda; }
    constexpr bool is_cpu() const { return kind == Kind::cpu; }
    constexpr bool operator==(const Device&) const = default;
    std::string name() const;  // "cpu" or "cuda:0"
};

}  // namespace postr

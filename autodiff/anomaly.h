// Opt-in anomaly detection, as PyTorch's detect_anomaly: while a DetectAnomalyGuard lives on a
// thread, every recorded op checks its output and every backward rule its cotangents, and the
// first non-finite value (NaN, ±inf) throws postr::Error naming the op, whether its inputs were
// already non-finite, and where it was recorded: the labels of the AnomalyScopes open at that
// moment (a training step, and the module path, which nn::Module pushes for every layer it
// runs). Off by default: each check is a reduction over the op's output, worth paying only
// while hunting a NaN.
#pragma once

#include <string>

namespace postr {

bool anomaly_detection_enabled();

class DetectAnomalyGuard {
  public:
    explicit DetectAnomalyGuard(bool enabled = true);
    ~DetectAnomalyGuard();
    DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
    DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

  private:
    bool previous_;
};

// Labels the ops recorded during its lifetime; nested scopes join as "step 12 > layer1.0.conv1".
// Does nothing (not even copy the label) while detection is off.
class AnomalyScope {
  public:
    explicit AnomalyScope(const std::string& label);
    ~AnomalyScope();
    AnomalyScope(const AnomalyScope&) = delete;
    AnomalyScope& operator=(const AnomalyScope&) = delete;

  private:
    bool active_;
};

// The joined labels of the open scopes ("" when none).
std::string anomaly_scope();

}  // namespace postr

#include "postr/autodiff/anomaly.h"

#include <vector>

namespace postr {
namespace {
thread_local bool tl_detect = false;
thread_local std::vector<std::string> tl_scopes;
}  // namespace

bool anomaly_detection_enabled() { return tl_detect; }

DetectAnomalyGuard::DetectAnomalyGuard(bool enabled) : previous_(tl_detect) { tl_detect = enabled; }
DetectAnomalyGuard::~DetectAnomalyGuard() { tl_detect = previous_; }

AnomalyScope::AnomalyScope(const std::string& label) : active_(tl_detect) {
    if (active_) tl_scopes.push_back(label);
}
AnomalyScope::~AnomalyScope() {
    if (active_) tl_scopes.pop_back();
}

std::string anomaly_scope() {
    // A nested module's path extends its parent's ("layer1" then "layer1.0.conv1"): keep only
    // the deepest of such a chain.
    std::vector<std::string> kept;
    for (const std::string& s : tl_scopes) {
        if (!kept.empty() && s.starts_with(kept.back() + "."))
            kept.back() = s;
        else
            kept.push_back(s);
    }
    std::string joined;
    for (const std::string& s : kept) {
        if (!joined.empty()) joined += " > ";
        joined += s;
    }
    return joined;
}

}  // namespace postr

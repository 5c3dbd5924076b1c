#include "postr/inference/schedule.h"

#include <cmath>

#include "postr/core/error.h"

namespace postr::inference {

double schedule_value(const char* op, const char* name, const Schedule& schedule, std::int64_t step,
                      bool positive) {
    POSTR_CHECK(static_cast<bool>(schedule), op, ": ", name,
                " is not set. Give a constant or a schedule of the step");
    const double value = schedule(step);
    POSTR_CHECK(std::isfinite(value) && (positive ? value > 0.0 : value >= 0.0), op, ": ", name,
                " must be ", positive ? "> 0" : ">= 0", " and finite: got ", value,
                " at step index ", step, ". Check the constant or the schedule");
    return value;
}

}  // namespace postr::inference

// Op-table entries of the linalg family (in progress).
#include "tests/support/op_table.h"

namespace postr::test {
void add_linalg_entries(std::vector<OpEntry>&) {}
}  // namespace postr::test

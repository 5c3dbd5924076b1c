// Op-table entries of the conv family (in progress).
#include "tests/support/op_table.h"

namespace postr::test {
void add_conv_entries(std::vector<OpEntry>&) {}
}  // namespace postr::test

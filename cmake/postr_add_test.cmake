# postr_add_test(<name> SOURCES ... [LABELS ...]): one GoogleTest executable per test folder,
# each test registered with ctest. GoogleTest's skip marker makes skipped tests show as skipped.
include(GoogleTest)
function(postr_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE postr::postr postr_test_support GTest::gtest_main)
  target_compile_options(${name} PRIVATE ${POSTR_CXX_WARNINGS})
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS "${ARG_LABELS}" SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
endfunction()

# ctest example.tabular_regression: writes a synthetic CSV with the program's --make-synthetic,
# runs a short experiment on it (2 standard + 2 gap splits, 3 sizes, 5 methods) and checks the
# outputs: exit 0, a printed summary, results.csv with one row per split and method, and an SVG.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
execute_process(COMMAND ${EXE} --make-synthetic ${WORK}/synthetic.csv --synthetic-rows 300
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/synthetic.csv)
  message(FATAL_ERROR "tabular_regression --make-synthetic failed (${rc}):\n${out}\n${err}")
endif()
execute_process(COMMAND ${EXE} --csv ${WORK}/synthetic.csv --target y --out-dir ${WORK}/out
                --splits 2 --gap-features 2 --epochs 20 --fractions 0.05,0.25,1
                --methods wasserstein,random,diagonal,last_layer,full --threads 2
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "tabular_regression failed (${rc}):\n${out}\n${err}")
endif()
if(NOT out MATCHES "standard splits" OR NOT out MATCHES "gap splits" OR
   NOT out MATCHES "wasserstein")
  message(FATAL_ERROR "tabular_regression printed no summary:\n${out}\n${err}")
endif()
if(err MATCHES "warning")
  message(FATAL_ERROR "tabular_regression skipped a method:\n${err}")
endif()
foreach(f results.csv test_ll.svg)
  if(NOT EXISTS ${WORK}/out/${f})
    message(FATAL_ERROR "tabular_regression did not write ${WORK}/out/${f}")
  endif()
endforeach()
file(STRINGS ${WORK}/out/results.csv rows)
list(LENGTH rows n)
# header + 4 splits × (map, diagonal, last_layer, full, 3 Wasserstein, 3 random)
if(NOT n EQUAL 41)
  message(FATAL_ERROR "results.csv has ${n} lines, expected 41:\n${rows}")
endif()
file(READ ${WORK}/out/test_ll.svg svg)
if(NOT svg MATCHES "^<svg" OR NOT svg MATCHES "</svg>")
  message(FATAL_ERROR "test_ll.svg is not an SVG document")
endif()
message("${out}")

# ctest example.rotated_fmnist: every method of examples/rotated_fmnist on tiny settings (a
# width-4 ResNet-18, 256 training, 64 test and 32 validation images, rotations in 90° steps, an
# ensemble of 2) must exit 0, print its tables and write results.csv (8 methods × 3 angles) and
# plot.svg.
# Needs Fashion-MNIST; reported as skipped (SKIP_REGULAR_EXPRESSION) when it is not installed.
if(NOT EXISTS /usr/share/datasets/fashion-mnist)
  message("SKIPPED: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
  return()
endif()
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${EXE} --out-dir ${WORK} --width 4 --epochs 1 --train-subset 256
                        --test-subset 64 --angle-step 90 --laplace-fit 64 --subnetwork 50
                        --swag-snapshots 2 --swag-samples 2 --dropout-samples 2
                        --ensemble-size 2 --prior validation --validation 32
                        --swag-bn-images 64 --threads 2
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "rotated_fmnist failed (${rc}):\n${out}\n${err}")
endif()
if(NOT out MATCHES "Wasserstein subnet" OR NOT out MATCHES "deep ensemble")
  message(FATAL_ERROR "rotated_fmnist printed no Wasserstein or ensemble row:\n${out}")
endif()
foreach(f results.csv plot.svg)
  if(NOT EXISTS ${WORK}/${f})
    message(FATAL_ERROR "rotated_fmnist did not write ${WORK}/${f}")
  endif()
endforeach()
file(STRINGS ${WORK}/results.csv rows)
list(LENGTH rows n)
if(NOT n EQUAL 25)  # header + 8 methods × 3 angles (0, 90, 180)
  message(FATAL_ERROR "results.csv has ${n} lines, expected 25:\n${rows}")
endif()
list(GET rows 0 header)
if(NOT header STREQUAL "method,angle,accuracy,nll,ece,brier")
  message(FATAL_ERROR "results.csv has the header \"${header}\"")
endif()
file(READ ${WORK}/plot.svg svg)
if(NOT svg MATCHES "^<svg" OR NOT svg MATCHES "</svg>" OR NOT svg MATCHES "MC dropout")
  message(FATAL_ERROR "plot.svg is not an SVG document with the methods' legend")
endif()
message("${out}")

# ctest example.resnet18: (1) a run stopped after 1 and after 3 optimizer steps and resumed from
# its checkpoint must end with the same checkpoint file (weights, BN statistics, momentum,
# position) as a run that took the 4 steps without stopping; (2) the posterior stage runs and
# prints its comparison. Tiny settings keep it to seconds.
# Needs Fashion-MNIST; reported as skipped (SKIP_REGULAR_EXPRESSION) when it is not installed.
if(NOT EXISTS /usr/share/datasets/fashion-mnist)
  message("SKIPPED: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
  return()
endif()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(common --width 4 --batch-size 16 --epochs 2 --train-subset 32 --test-subset 64 --augment
    --threads 2 --seed 3 --subnetwork 0)

function(run_example)
  execute_process(COMMAND ${EXE} ${common} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "resnet18 ${ARGN} failed (${rc}):\n${out}\n${err}")
  endif()
  message("${out}")
endfunction()

run_example(--checkpoint ${WORK}/straight.safetensors)
run_example(--checkpoint ${WORK}/resumed.safetensors --stop-after-steps 1)
run_example(--checkpoint ${WORK}/resumed.safetensors --resume --stop-after-steps 3)
run_example(--checkpoint ${WORK}/resumed.safetensors --resume)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/straight.safetensors
                        ${WORK}/resumed.safetensors RESULT_VARIABLE differ)
if(differ)
  message(FATAL_ERROR "the resumed run's checkpoint differs from the uninterrupted run's")
endif()

# Resuming with other settings is refused, naming the setting.
execute_process(COMMAND ${EXE} ${common} --lr 0.1 --checkpoint ${WORK}/resumed.safetensors
                        --resume RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT err MATCHES "lr = 0.05, this run has lr = 0.1")
  message(FATAL_ERROR "resuming with another learning rate was not refused clearly:\n${err}")
endif()

# The posterior stage on a tiny model: it must print MAP and subnetwork Laplace rows, and save
# the posterior when asked.
execute_process(COMMAND ${EXE} --width 4 --epochs 1 --train-subset 256 --test-subset 64
                        --subnetwork 40 --posterior-fit 64 --posterior-test 64 --threads 2
                        --weights-only --save-posterior ${WORK}/posterior.safetensors
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "subnetwork Laplace  "
   OR NOT EXISTS ${WORK}/posterior.safetensors)
  message(FATAL_ERROR "the posterior stage failed (${rc}):\n${out}\n${err}")
endif()
message("${out}")

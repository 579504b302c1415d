# ctest driver for tests/consumer: install this build into a scratch prefix, configure and build the
# consumer project against it, then run its CLI (list, train, theory, equations) on the consumer's
# own model. Arguments: -DBUILD=<specdyn build dir> -DSRC=<tests/consumer> -DWORK=<scratch dir>.
file(REMOVE_RECURSE ${WORK})
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer: ${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()
run("install" ${CMAKE_COMMAND} --install ${BUILD} --prefix ${WORK}/prefix)
# Release with specdyn's own optimisation level (-O2: the same speed as CMake's -O3, a fifth less
# compile time; docs/building.md); a user's project keeps whatever flags it sets
run("configure" ${CMAKE_COMMAND} -S ${SRC} -B ${WORK}/build -DCMAKE_PREFIX_PATH=${WORK}/prefix "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG")
run("build" ${CMAKE_COMMAND} --build ${WORK}/build -j2)
set(tool ${WORK}/build/my_tool)
run("list" ${tool} list)
if(NOT out MATCHES "my_net")
  message(FATAL_ERROR "consumer: `my_tool list` does not show my_net:\n${out}")
endif()
run("train" ${tool} train --model my_net --width 64 --dim 8 --samples 8 --test-samples 8 --steps 5 --spectra-every 5
    --out ${WORK}/runs --quiet)
file(GLOB records ${WORK}/runs/my_net_*.json)
if(NOT records)
  message(FATAL_ERROR "consumer: `my_tool train` wrote no record")
endif()
run("theory" ${tool} theory --model my_net --dim 8 --samples 4 --test-samples 4 --steps 5 --particles 2000 --replicas 2
    --out ${WORK}/runs --quiet)
run("equations" ${tool} equations --model my_net)
if(NOT out MATCHES "erf" OR NOT out MATCHES "relu")
  message(FATAL_ERROR "consumer: `my_tool equations` does not show the declared activations:\n${out}")
endif()
# the installed Python package runs the installed program
find_program(py NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(py)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env PYTHONPATH=${WORK}/prefix/share/specdyn/python
    ${py} -c "import specdyn, os; b = specdyn.binary(); assert b.startswith('${WORK}/prefix'), b; assert os.path.exists(b), b; print(' '.join(specdyn.models()))"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "mlp3_tanh")
    message(FATAL_ERROR "consumer: the installed Python package failed (${rc}):\n${out}\n${err}")
  endif()
endif()
message(STATUS "consumer: my_tool built from the installed package; the installed Python package imports; list, train, theory and equations ran")

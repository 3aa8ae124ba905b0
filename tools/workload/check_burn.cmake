# ctest script: runs fastgpu-burn for 3 s with 1G, then for 50 products in steps with idle
# time, and checks the exit codes and the JSON lines.
# Usage: cmake -DBURN=path/to/fastgpu-burn -P check_burn.cmake

# Runs fastgpu-burn with the arguments after `out` and --json; fails unless it exits 0, and
# leaves its JSON line in `out`.
function(run_burn out)
  execute_process(COMMAND ${BURN} ${ARGN} --json
                  RESULT_VARIABLE exit_code OUTPUT_VARIABLE output ERROR_VARIABLE errors)
  if(NOT exit_code EQUAL 0)
    string(JOIN " " arguments ${ARGN})
    message(FATAL_ERROR "fastgpu-burn ${arguments} exited ${exit_code}: ${errors}")
  endif()
  string(STRIP "${output}" output)
  set(${out} "${output}" PARENT_SCOPE)
endfunction()

run_burn(output --mem 1G --time 3s)
string(JSON device GET "${output}" device)
string(JSON allocated GET "${output}" bytes_allocated)
string(JSON matmuls GET "${output}" matmuls)
string(JSON seconds GET "${output}" seconds)
string(JSON tflops GET "${output}" tflop_per_s)
string(JSON verified GET "${output}" verified)
if(NOT allocated EQUAL 1073741824)
  message(FATAL_ERROR "bytes_allocated ${allocated}, expected 1073741824 (1G)")
endif()
if(matmuls LESS 1 OR NOT verified)
  message(FATAL_ERROR "no verified products: ${output}")
endif()
if(seconds LESS 3)
  message(FATAL_ERROR "ran ${seconds} s, expected at least 3: ${output}")
endif()
message(STATUS "fastgpu-burn on ${device}: ${matmuls} products in ${seconds} s, ${tflops} TFLOP/s")

# Fixed work in steps with idle time before each: 50 products in steps of 10, 0.2 s idle
# before each step.
run_burn(output --mem 1G --products 50 --step 10 --idle 0.2s)
string(JSON matmuls GET "${output}" matmuls)
string(JSON stopped_by GET "${output}" stopped_by)
string(JSON seconds GET "${output}" seconds)
string(JSON idle GET "${output}" idle_seconds)
if(NOT matmuls EQUAL 50 OR NOT stopped_by STREQUAL "products")
  message(FATAL_ERROR "expected 50 products, stopped by products: ${output}")
endif()
if(idle LESS 1.0 OR seconds LESS idle)
  message(FATAL_ERROR "five steps should idle 1 s in all: ${output}")
endif()
message(STATUS "fastgpu-burn --products 50 --step 10 --idle 0.2s: ${seconds} s, ${idle} s idle")

# SPDX-License-Identifier: MIT
#
# cmake -DPROGRAM=<exe> [-DLIMIT_KB=<n>] -P rejects_input.cmake -- <args...>
#
# Runs <exe> <args...> and passes when it rejects them the way a scripted tool should: exit
# status 2, nothing on stdout, and exactly one line on stderr (no help dump, no stack trace).
# LIMIT_KB runs it under `ulimit -v`, to see an allocation failure end the same way.

cmake_minimum_required(VERSION 3.21)  # script mode: use current policies

set(args "")
set(after_dashes FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
    if(after_dashes)
        list(APPEND args "${CMAKE_ARGV${i}}")
    elseif(CMAKE_ARGV${i} STREQUAL "--")
        set(after_dashes TRUE)
    endif()
endforeach()
list(JOIN args " " shown)

if(DEFINED LIMIT_KB)
    execute_process(COMMAND sh -c "ulimit -v ${LIMIT_KB} && exec \"$@\"" sh "${PROGRAM}" ${args}
        RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
else()
    execute_process(COMMAND "${PROGRAM}" ${args}
        RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
endif()

set(problems "")
if(NOT status STREQUAL "2")
    string(APPEND problems "\n  exit status is '${status}', expected 2")
endif()
if(NOT out STREQUAL "")
    string(APPEND problems "\n  stdout is not empty")
endif()
# One line: non-empty, ends with its only newline.
string(REGEX MATCHALL "\n" newlines "${err}")
list(LENGTH newlines newline_count)
if(NOT err MATCHES "^random_delay: [^\n]+\n$" OR NOT newline_count EQUAL 1)
    string(APPEND problems "\n  stderr is not one line starting with 'random_delay: '")
endif()

if(problems)
    message(FATAL_ERROR "random_delay ${shown}:${problems}\n"
                        "--- stdout ---\n${out}--- stderr ---\n${err}")
endif()
message(STATUS "random_delay ${shown} -> exit 2: ${err}")

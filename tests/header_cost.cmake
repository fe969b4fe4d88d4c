# SPDX-License-Identifier: MIT
#
# Guards what including aio costs to compile, with measures that a loaded machine does not
# disturb (tests/benchmarks/compile_time.py measures the time itself):
#   MODE=lines     the preprocessed <aio/aio.hpp> stays within MAX_PERCENT % of the lines of the
#                  standard headers every coroutine program includes (<vector> <chrono>
#                  <coroutine> <exception>); relative, so that another standard library version
#                  does not break it
#   MODE=includes  HEADER includes none of the standard headers in FORBIDDEN (a ';' list of
#                  names, checked in the compiler's -H output)
#
# cmake -DCOMPILER=<c++> -DINCLUDE_DIR=<aio's include dir> -DWORK_DIR=<scratch dir>
#       -DMODE=lines -DMAX_PERCENT=<n>
#       | -DMODE=includes -DHEADER=aio/task.hpp "-DFORBIDDEN=thread;sstream"
#       -P header_cost.cmake
cmake_minimum_required(VERSION 3.21)

file(MAKE_DIRECTORY "${WORK_DIR}")

function(preprocess out_var text)
    string(MD5 _id "${text}")
    set(_source "${WORK_DIR}/${_id}.cpp")
    file(WRITE "${_source}" "${text}")
    execute_process(
        COMMAND "${COMPILER}" -std=c++20 -E ${ARGN} -I "${INCLUDE_DIR}" "${_source}"
        RESULT_VARIABLE _rc
        OUTPUT_VARIABLE _out
        ERROR_VARIABLE _err)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "${COMPILER} -E failed on:\n${text}\n${_err}")
    endif()
    set(${out_var} "${_out}" PARENT_SCOPE)
    set(${out_var}_stderr "${_err}" PARENT_SCOPE)
endfunction()

function(count_lines out_var text)
    string(REGEX MATCHALL "\n" _newlines "${text}")
    list(LENGTH _newlines _n)
    set(${out_var} ${_n} PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "lines")
    preprocess(_base "#include <vector>\n#include <chrono>\n#include <coroutine>\n#include <exception>\n")
    preprocess(_aio "#include <aio/aio.hpp>\n")
    count_lines(_base_lines "${_base}")
    count_lines(_aio_lines "${_aio}")
    math(EXPR _limit "${_base_lines} * ${MAX_PERCENT} / 100")
    message(STATUS "<aio/aio.hpp>: ${_aio_lines} preprocessed lines; the standard headers: "
                   "${_base_lines}; budget ${MAX_PERCENT}% = ${_limit}")
    if(_aio_lines GREATER _limit)
        message(FATAL_ERROR "<aio/aio.hpp> preprocesses to ${_aio_lines} lines, over its budget "
                            "of ${_limit} (${MAX_PERCENT}% of ${_base_lines}): a heavy standard "
                            "header was added? (see tests/benchmarks/compile_time.py)")
    endif()
elseif(MODE STREQUAL "includes")
    preprocess(_out "#include <${HEADER}>\n" -H)
    set(_found "")
    foreach(_name IN LISTS FORBIDDEN)
        if(_out_stderr MATCHES "(^|\n)\\.+ [^\n]*/${_name}\n")
            list(APPEND _found "<${_name}>")
        endif()
    endforeach()
    if(_found)
        message(FATAL_ERROR "<${HEADER}> includes ${_found}, which it must not (costly to compile)")
    endif()
    message(STATUS "<${HEADER}> includes none of: ${FORBIDDEN}")
else()
    message(FATAL_ERROR "header_cost.cmake: MODE must be lines or includes")
endif()

# SPDX-License-Identifier: MIT
#
# Compiles one test source with -fsyntax-only and checks the outcome its comments announce:
#   // expect-error: <text>   the compilation must fail and its output contain <text> (the
#                             static_assert's or #error's message, as written in the header)
#   // error-count: <n>       ... with exactly <n> diagnostics saying "error" (optional)
#   // expect-success         the compilation must succeed (a control: a broken driver or include
#                             path fails it, instead of passing every expected failure)
#   // std: <standard>        the -std= value (default c++20)
#
# cmake -DCOMPILER=<c++ compiler> -DSOURCE=<file.cpp> -DINCLUDE_DIR=<aio's include dir>
#       -P check.cmake
cmake_minimum_required(VERSION 3.21)

foreach(_var COMPILER SOURCE INCLUDE_DIR)
    if(NOT DEFINED ${_var})
        message(FATAL_ERROR "check.cmake: ${_var} is not set")
    endif()
endforeach()

# One directive of each kind; read as plain strings (a message may hold a ';').
file(READ "${SOURCE}" _source)
foreach(_directive expect-error error-count std)
    string(MAKE_C_IDENTIFIER "${_directive}" _name)
    set(_${_name} "")
    if(_source MATCHES "(^|\n)// ${_directive}: ([^\n]*)")
        set(_${_name} "${CMAKE_MATCH_2}")
    endif()
endforeach()
set(_expect_success FALSE)
if(_source MATCHES "(^|\n)// expect-success")
    set(_expect_success TRUE)
endif()
if(_std STREQUAL "")
    set(_std "c++20")
endif()
if(_expect_error STREQUAL "" AND NOT _expect_success)
    message(FATAL_ERROR "${SOURCE}: says neither // expect-error: nor // expect-success")
endif()

execute_process(
    COMMAND "${COMPILER}" -std=${_std} -fsyntax-only -Wall -Wextra -Wpedantic -Werror
            -I "${INCLUDE_DIR}" "${SOURCE}"
    RESULT_VARIABLE _rc
    OUTPUT_VARIABLE _out
    ERROR_VARIABLE _out)

if(_expect_success)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "expected to compile, but it failed (${_rc}):\n${_out}")
    endif()
    message(STATUS "compiles, as expected")
    return()
endif()

if(_rc EQUAL 0)
    message(FATAL_ERROR "expected to fail with \"${_expect_error}\", but it compiled")
endif()
string(FIND "${_out}" "${_expect_error}" _at)
if(_at EQUAL -1)
    message(FATAL_ERROR "failed, but without \"${_expect_error}\" in the output:\n${_out}")
endif()
if(NOT _error_count STREQUAL "")
    # "file:line:col: error: ..." (g++ and clang++); the source line they echo does not match.
    string(REGEX MATCHALL "(^|\n)[^\n]*: (fatal )?error: " _errors "${_out}")
    list(LENGTH _errors _n)
    if(NOT _n EQUAL _error_count)
        message(FATAL_ERROR "expected ${_error_count} error(s), got ${_n}:\n${_out}")
    endif()
endif()
message(STATUS "fails as expected: ${_expect_error}")

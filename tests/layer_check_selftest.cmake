# SPDX-License-Identifier: MIT
#
# Proves that layer_check.cmake fails when it should: builds a small source tree (a README with
# a layer table and a few headers under include/aio) in WORK_DIR, checks that the check passes
# on it, then breaks it one way at a time and checks that the check fails with the message that
# names the file and line:
#   forbidden   a base header includes a header of the layer above
#   unlisted    a header that the table does not name
#   missing     a table entry that names no file
#   cycle       two headers of one layer that include each other
#
# cmake -DCHECK=<layer_check.cmake> -DWORK_DIR=<scratch dir> -P layer_check_selftest.cmake
cmake_minimum_required(VERSION 3.21)

# The fixture: two layers, three headers, every include pointing down or sideways (none of them
# leading back to detail/helper.hpp, so that the forbidden include below makes no cycle too).
function(write_fixture dir)
    file(REMOVE_RECURSE "${dir}")
    file(WRITE "${dir}/README.md" [=[
# A fixture for tests/layer_check.cmake

Some prose before the table.

| Layer | Part | Headers |
|---|---|---|
| base | basics | `base.hpp` `detail/helper.hpp` |
| top | what users include | `top.hpp` |

Prose after the table.
]=])
    file(WRITE "${dir}/include/aio/base.hpp" "#pragma once\n")
    file(WRITE "${dir}/include/aio/detail/helper.hpp" "#pragma once\n#include \"../base.hpp\"\n")
    file(WRITE "${dir}/include/aio/top.hpp" "#pragma once\n#include \"base.hpp\"\n")
endfunction()

set(_failures "")

# Runs the check on `dir`; `expect` is "pass" or a regular expression that its failure output
# must match.
function(expect_check name dir expect)
    execute_process(
        COMMAND "${CMAKE_COMMAND}" "-DROOT=${dir}" -P "${CHECK}"
        RESULT_VARIABLE _rc
        OUTPUT_VARIABLE _out
        ERROR_VARIABLE _out)
    message(STATUS "--- ${name}: exit code ${_rc}\n${_out}")
    if(expect STREQUAL "pass")
        if(NOT _rc EQUAL 0)
            set(_failures "${_failures}\n  ${name}: the check failed on a valid tree" PARENT_SCOPE)
        endif()
    elseif(_rc EQUAL 0)
        set(_failures "${_failures}\n  ${name}: the check passed" PARENT_SCOPE)
    elseif(NOT _out MATCHES "${expect}")
        set(_failures "${_failures}\n  ${name}: no message matching '${expect}'" PARENT_SCOPE)
    endif()
endfunction()

set(_dir "${WORK_DIR}/valid")
write_fixture("${_dir}")
expect_check(valid "${_dir}" pass)

set(_dir "${WORK_DIR}/forbidden")
write_fixture("${_dir}")
file(APPEND "${_dir}/include/aio/detail/helper.hpp" "#include \"../top.hpp\"\n")
expect_check(forbidden "${_dir}"
    "include/aio/detail/helper.hpp:3: includes \"../top.hpp\", of layer 'top', above its own layer 'base'")

set(_dir "${WORK_DIR}/unlisted")
write_fixture("${_dir}")
file(WRITE "${_dir}/include/aio/extra.hpp" "#pragma once\n")
expect_check(unlisted "${_dir}" "include/aio/extra.hpp:1: not in README.md's layer table")

set(_dir "${WORK_DIR}/missing")
write_fixture("${_dir}")
file(REMOVE "${_dir}/include/aio/top.hpp")
expect_check(missing "${_dir}"
    "README.md:8: `top.hpp` is in the layer table, but include/aio/top.hpp does not exist")

set(_dir "${WORK_DIR}/cycle")
write_fixture("${_dir}")
file(APPEND "${_dir}/include/aio/base.hpp" "#include \"detail/helper.hpp\"\n")
expect_check(cycle "${_dir}"
    "include/aio/base.hpp:2: include cycle: base.hpp \\(line 2\\) -> detail/helper.hpp \\(line 2\\) -> base.hpp")

if(_failures)
    message(FATAL_ERROR "layer_check.cmake did not report what it should:${_failures}")
endif()
message(STATUS "layer_check.cmake passes the valid fixture and fails each broken one, naming "
    "file and line")

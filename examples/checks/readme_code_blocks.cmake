# SPDX-License-Identifier: MIT
#
# cmake -DREADME=<README.md> -DROOT=<source dir> -P readme_code_blocks.cmake
#
# Every C++ code block in the README (```cpp, ```c++, ```cxx, ```hpp) must start with a comment
# naming a file under ROOT, and the rest of the block must appear word for word in that file:
#
#     ```cpp
#     // examples/01_hello.cpp
#     ...lines copied from examples/01_hello.cpp...
#     ```
#
# The files are compiled and run by the test suite, so code shown in the README always builds.
# A block may show a whole file or any contiguous part of one. Every block that does not match
# is reported, with its first line that cannot be found.

cmake_minimum_required(VERSION 3.21)  # script mode: use current policies

file(READ "${README}" text)
set(blocks 0)
set(problems "")

while(TRUE)
    string(FIND "${text}" "```" open)
    if(open EQUAL -1)
        break()
    endif()
    string(SUBSTRING "${text}" ${open} -1 text)
    string(FIND "${text}" "\n" eol)
    if(eol EQUAL -1)
        break()
    endif()
    math(EXPR info_length "${eol} - 3")
    string(SUBSTRING "${text}" 3 ${info_length} info)
    string(STRIP "${info}" info)
    math(EXPR body_start "${eol} + 1")
    string(SUBSTRING "${text}" ${body_start} -1 text)
    # The closing fence starts a line.
    string(FIND "${text}" "```" close)
    if(close EQUAL -1)
        string(APPEND problems "\n  an unterminated ``` block")
        break()
    endif()
    string(SUBSTRING "${text}" 0 ${close} body)
    math(EXPR after "${close} + 3")
    string(SUBSTRING "${text}" ${after} -1 text)

    string(TOLOWER "${info}" language)
    if(NOT language MATCHES "^(cpp|c\\+\\+|cxx|cc|hpp|h)$")
        continue()
    endif()
    math(EXPR blocks "${blocks} + 1")

    if(NOT body MATCHES "^// ([A-Za-z0-9_./-]+)[^\n]*\n")
        string(APPEND problems
            "\n  C++ block ${blocks} does not start with '// <file it is copied from>'")
        continue()
    endif()
    set(source "${CMAKE_MATCH_1}")
    string(LENGTH "${CMAKE_MATCH_0}" marker_length)
    string(SUBSTRING "${body}" ${marker_length} -1 code)
    if(NOT EXISTS "${ROOT}/${source}")
        string(APPEND problems "\n  C++ block ${blocks} names ${source}, which does not exist")
        continue()
    endif()
    file(READ "${ROOT}/${source}" content)
    string(FIND "${content}" "${code}" where)
    if(where EQUAL -1)
        # Point at the first line that differs: the longest prefix of the block still found.
        string(REPLACE ";" "\\;" code_lines "${code}")
        string(REPLACE "\n" ";" code_lines "${code_lines}")
        set(prefix "")
        set(culprit "")
        foreach(line IN LISTS code_lines)
            string(FIND "${content}" "${prefix}${line}\n" found)
            if(found EQUAL -1)
                set(culprit "${line}")
                break()
            endif()
            string(APPEND prefix "${line}\n")
        endforeach()
        string(APPEND problems "\n  C++ block ${blocks} is not a verbatim part of ${source}; "
                               "first line that differs: '${culprit}'")
    endif()
endwhile()

if(blocks EQUAL 0)
    string(APPEND problems "\n  no C++ blocks found: is this the right README?")
endif()
if(problems)
    message(FATAL_ERROR "${README}:${problems}")
endif()
message(STATUS "${README}: ${blocks} C++ blocks, each a verbatim copy of a file in the tree")

# SPDX-License-Identifier: MIT
#
# cmake -DPROGRAM=<exe> -DTASKS=<n> [-DQUIET=ON] [-DREPEAT=ON] -P random_delay_output.cmake
#       -- <args...>
#
# Runs random_delay (whose <args...> must include --task-count <n>) and checks what the README
# promises about its output:
#   - stdout is exactly "<n> async tasks finished in S seconds." and
#     "<n> async tasks validated in S seconds.", and the exit status is 0;
#   - stderr has one "Task i - await a sleep for P" line per task, in task order, then one
#     "Task i - done with sleep for P" line per task with the same P as its await line (2N lines,
#     so 2N+2 in all; none with QUIET);
#   - the done lines come in order of pause, and "finished in" is at least the longest pause
#     and at most 0.1 s more;
#   - with REPEAT, a second run with the same arguments (a fixed --seed) prints the same
#     per-task lines in the same order.
# CMake has only integer arithmetic: a pause printed as "2.24" is compared as 224 hundredths.

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

set(problems "")
macro(problem text)
    string(APPEND problems "\n  ${text}")
endmacro()

# "2.24" -> 224
function(hundredths out text)
    string(REPLACE "." "" digits "${text}")
    math(EXPR value "${digits}")
    set(${out} ${value} PARENT_SCOPE)
endfunction()

execute_process(COMMAND "${PROGRAM}" ${args}
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
if(NOT status STREQUAL "0")
    message(FATAL_ERROR "random_delay ${shown}: exit status '${status}'\n${out}${err}")
endif()

# --- stdout: the two summary lines. ---------------------------------------------------------------
set(finished_re "^${TASKS} async tasks finished in ([0-9]+\\.[0-9][0-9]) seconds\\.\n")
set(validated_re "${TASKS} async tasks validated in [0-9]+\\.[0-9][0-9] seconds\\.\n$")
if(NOT out MATCHES "${finished_re}${validated_re}")
    message(FATAL_ERROR "random_delay ${shown}: stdout is not the two summary lines:\n${out}")
endif()
hundredths(finished "${CMAKE_MATCH_1}")

# --- stderr: 2N per-task lines. -------------------------------------------------------------------
string(REGEX REPLACE "\n$" "" err_lines "${err}")
if(err_lines STREQUAL "")
    set(lines "")
else()
    string(REPLACE ";" "," err_lines "${err_lines}")  # nothing here should contain ';'
    string(REPLACE "\n" ";" lines "${err_lines}")
endif()
list(LENGTH lines line_count)
if(QUIET)
    if(NOT line_count EQUAL 0)
        problem("--quiet, yet ${line_count} lines on stderr")
    endif()
else()
    math(EXPR expected_lines "2 * ${TASKS}")
    if(NOT line_count EQUAL expected_lines)
        problem("${line_count} lines on stderr, expected ${expected_lines} (2 per task)")
    endif()
    set(next_await 0)
    set(done_seen 0)
    set(previous_done -1)
    set(longest 0)
    foreach(line IN LISTS lines)
        if(line MATCHES "^Task ([0-9]+) - await a sleep for ([0-9]+\\.[0-9][0-9])$")
            if(done_seen GREATER 0)
                problem("an await line after a done line: '${line}'")
            endif()
            if(NOT CMAKE_MATCH_1 EQUAL next_await)
                problem("await lines out of task order: '${line}', expected task ${next_await}")
            endif()
            math(EXPR next_await "${next_await} + 1")
            hundredths(pause "${CMAKE_MATCH_2}")
            set(pause_of_${CMAKE_MATCH_1} ${pause})
            if(pause GREATER longest)
                set(longest ${pause})
            endif()
        elseif(line MATCHES "^Task ([0-9]+) - done with sleep for ([0-9]+\\.[0-9][0-9])$")
            set(task ${CMAKE_MATCH_1})
            hundredths(pause "${CMAKE_MATCH_2}")
            math(EXPR done_seen "${done_seen} + 1")
            if(NOT DEFINED pause_of_${task})
                problem("done line for a task that never awaited: '${line}'")
            elseif(NOT pause EQUAL pause_of_${task})
                problem("'${line}' does not repeat the pause its await line logged")
            endif()
            if(DEFINED done_${task})
                problem("task ${task} is done twice")
            endif()
            set(done_${task} TRUE)
            # In order of pause. Allow one printed unit (0.01 s) of slack: each sleep starts
            # when its task first runs, a few microseconds after the previous task's, so two
            # pauses closer than that could swap (the test's seed keeps them further apart).
            math(EXPR floor "${previous_done} - 1")
            if(pause LESS floor)
                problem("done lines not in order of pause: '${line}' after a longer pause")
            endif()
            set(previous_done ${pause})
        else()
            problem("unexpected line on stderr: '${line}'")
        endif()
    endforeach()
    if(NOT next_await EQUAL TASKS OR NOT done_seen EQUAL TASKS)
        problem("${next_await} await lines and ${done_seen} done lines for ${TASKS} tasks")
    endif()
    # The whole run lasts about as long as the longest pause: not shorter (a sleep never wakes
    # early), and no more than 0.1 s longer (the loop does not waste time between wake-ups).
    math(EXPR latest "${longest} + 10")
    if(finished LESS longest OR finished GREATER latest)
        problem("finished in ${finished}/100 s; the longest pause is ${longest}/100 s")
    endif()
endif()

if(REPEAT)
    execute_process(COMMAND "${PROGRAM}" ${args}
        RESULT_VARIABLE status2 OUTPUT_VARIABLE out2 ERROR_VARIABLE err2 TIMEOUT 120)
    if(NOT status2 STREQUAL "0" OR NOT err2 STREQUAL err)
        problem("a second run with the same seed printed different task lines:\n${err2}")
    endif()
endif()

if(problems)
    message(FATAL_ERROR "random_delay ${shown}:${problems}\n"
                        "--- stdout ---\n${out}--- stderr ---\n${err}")
endif()
message(STATUS "random_delay ${shown}: ${line_count} task lines, finished in ${finished}/100 s")

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
#   - the done lines come in order of pause (give or take 0.01 s), and "finished in" is at least
#     the longest pause and at most 1 s more (generous: a busy machine delays a wake-up);
#   - with REPEAT, a second run with the same arguments (a fixed --seed) prints the same
#     per-task lines (as a set: two pauses 0.01 s apart may finish in either order).
# With --timeout T among <args...>:
#   - the first stdout line is "<n> async tasks finished in S seconds (D done, C cancelled).";
#   - each task ends with either its done line or "Task i - cancelled after T" (T as given,
#     printed with two decimals); D and C match those lines, and every cancelled line comes
#     after every done line (the tasks are cancelled once the timeout has expired);
#   - a cancelled task's pause is longer than T, a done task's is not (give or take 0.01 s of
#     printing and wake-up; choose a --seed whose pauses keep away from T);
#   - "finished in" is at least the longest done pause, at least T if a task was cancelled,
#     and at most 1 s more than the larger of the two.
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

# --timeout T, if given: T in hundredths. The test gives it with two decimals, so that the
# program's "{:.2f}" prints it exactly as given.
set(timeout "")
list(FIND args "--timeout" timeout_at)
if(timeout_at GREATER -1)
    math(EXPR timeout_at "${timeout_at} + 1")
    list(GET args ${timeout_at} timeout_text)
    if(NOT timeout_text MATCHES "^[0-9]+\\.[0-9][0-9]$")
        message(FATAL_ERROR "random_delay_output.cmake: give --timeout with two decimals, "
                            "e.g. 0.25 (got '${timeout_text}')")
    endif()
    hundredths(timeout "${timeout_text}")
endif()

execute_process(COMMAND "${PROGRAM}" ${args}
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
if(NOT status STREQUAL "0")
    message(FATAL_ERROR "random_delay ${shown}: exit status '${status}'\n${out}${err}")
endif()

# --- stdout: the two summary lines. ---------------------------------------------------------------
if(timeout STREQUAL "")
    set(counts_re "")
else()
    set(counts_re " \\(([0-9]+) done, ([0-9]+) cancelled\\)")
endif()
set(finished_re "^${TASKS} async tasks finished in ([0-9]+\\.[0-9][0-9]) seconds${counts_re}\\.\n")
set(validated_re "${TASKS} async tasks validated in [0-9]+\\.[0-9][0-9] seconds\\.\n$")
if(NOT out MATCHES "${finished_re}${validated_re}")
    message(FATAL_ERROR "random_delay ${shown}: stdout is not the two summary lines:\n${out}")
endif()
hundredths(finished "${CMAKE_MATCH_1}")
set(done_count "${TASKS}")
set(cancelled_count 0)
if(NOT timeout STREQUAL "")
    set(done_count "${CMAKE_MATCH_2}")
    set(cancelled_count "${CMAKE_MATCH_3}")
    math(EXPR sum "${done_count} + ${cancelled_count}")
    if(NOT sum EQUAL TASKS)
        problem("${done_count} done and ${cancelled_count} cancelled do not add up to ${TASKS}")
    endif()
endif()

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
    set(cancelled_seen 0)
    set(done_tasks "")
    set(longest 0)       # the longest pause of a done task
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
            if(cancelled_seen GREATER 0)
                problem("a done line after a cancelled line: '${line}'")
            endif()
            if(NOT timeout STREQUAL "")
                math(EXPR latest "${timeout} + 1")
                if(pause GREATER latest)
                    problem("'${line}': done, yet its pause is longer than the timeout")
                endif()
            endif()
            if(pause GREATER longest)
                set(longest ${pause})
            endif()
            # Order: of two tasks, the one that started first (tasks start in task order) and
            # has the shorter pause is done first: its deadline is earlier however slow the
            # machine. (The other way round is real time's to decide: a task that started later
            # with a shorter pause is done first only if the tasks between them started
            # quickly enough, and a busy machine can hold the loop off the CPU meanwhile.)
            foreach(earlier IN LISTS done_tasks)
                if(earlier GREATER task AND pause_of_${earlier} GREATER pause)
                    problem("done lines out of order: '${line}' comes after task ${earlier}'s, "
                            "which started later and has the longer pause")
                endif()
            endforeach()
            list(APPEND done_tasks ${task})
        elseif(NOT timeout STREQUAL "" AND
               line MATCHES "^Task ([0-9]+) - cancelled after ([0-9]+\\.[0-9][0-9])$")
            set(task ${CMAKE_MATCH_1})
            math(EXPR cancelled_seen "${cancelled_seen} + 1")
            if(NOT CMAKE_MATCH_2 STREQUAL timeout_text)
                problem("'${line}' does not give the timeout, ${timeout_text}")
            endif()
            if(NOT DEFINED pause_of_${task})
                problem("cancelled line for a task that never awaited: '${line}'")
            elseif(pause_of_${task} LESS timeout)
                problem("'${line}': cancelled, yet its pause (${pause_of_${task}}/100 s) is "
                        "within the timeout")
            endif()
            if(DEFINED done_${task})
                problem("task ${task} ends twice")
            endif()
            set(done_${task} TRUE)
        else()
            problem("unexpected line on stderr: '${line}'")
        endif()
    endforeach()
    if(NOT next_await EQUAL TASKS OR NOT done_seen EQUAL done_count OR
       NOT cancelled_seen EQUAL cancelled_count)
        problem("${next_await} await lines, ${done_seen} done and ${cancelled_seen} cancelled "
                "lines for ${TASKS} tasks (${done_count} done, ${cancelled_count} cancelled)")
    endif()
    # The whole run lasts about as long as the longest pause slept through, or the timeout if
    # it cancelled a task: not shorter (neither a sleep nor a timeout fires early), and not
    # much longer (the loop does not sleep through a wake-up).
    set(shortest_run ${longest})
    if(cancelled_count GREATER 0 AND timeout GREATER shortest_run)
        set(shortest_run ${timeout})
    endif()
    # Generous: a busy CI runner can hold the process off the CPU for a while.
    math(EXPR latest "${shortest_run} + 100")
    if(finished LESS shortest_run OR finished GREATER latest)
        problem("finished in ${finished}/100 s; expected ${shortest_run}/100 s to 1 s more")
    endif()
endif()

if(REPEAT)
    execute_process(COMMAND "${PROGRAM}" ${args}
        RESULT_VARIABLE status2 OUTPUT_VARIABLE out2 ERROR_VARIABLE err2 TIMEOUT 120)
    # The same lines, compared as sets: the seed fixes every pause and so which tasks finish
    # and which are cancelled; the order of two done lines whose pauses differ by one printed
    # unit (0.01 s) is real time's to decide (each sleep starts when its task first runs).
    string(REPLACE "\n" ";" sorted_err "${err}")
    string(REPLACE "\n" ";" sorted_err2 "${err2}")
    list(SORT sorted_err)
    list(SORT sorted_err2)
    if(NOT status2 STREQUAL "0" OR NOT sorted_err STREQUAL sorted_err2)
        problem("a second run with the same seed printed different task lines:\n${err2}")
    endif()
endif()

if(problems)
    message(FATAL_ERROR "random_delay ${shown}:${problems}\n"
                        "--- stdout ---\n${out}--- stderr ---\n${err}")
endif()
message(STATUS "random_delay ${shown}: ${line_count} task lines, finished in ${finished}/100 s")

# SPDX-License-Identifier: MIT
#
# Warning flags for aio's OWN targets (tests, examples, benchmarks, header check). Not installed,
# and never put on the aio INTERFACE target: a library must not choose its consumers' warnings.

# aio_target_warnings(<target>)
#   Adds -Wall -Wextra -Wpedantic (/W4 /permissive- on MSVC) to <target>, and -Werror (/WX) when
#   AIO_WARNINGS_AS_ERRORS is ON.
function(aio_target_warnings target)
    if(MSVC)
        target_compile_options(${target} PRIVATE /W4 /permissive- $<$<BOOL:${AIO_WARNINGS_AS_ERRORS}>:/WX>)
    else()
        target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
            $<$<BOOL:${AIO_WARNINGS_AS_ERRORS}>:-Werror>)
    endif()
endfunction()

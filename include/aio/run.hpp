// SPDX-License-Identifier: MIT
// aio::run: the program's entry into async code (asyncio.run).
//
//     asyncio.run(main())                    int main() { return aio::run(async_main()); }
//
// Creates a fresh event_loop, runs `main` to completion, then — as asyncio.run does — cancels
// every task still pending and lets them finish their cleanup, waits for the default
// executor's jobs (to_thread), closes the loop, and returns main's value or rethrows its
// exception.
//
// Lifetime rules: the loop lives exactly as long as the call; calling run() from inside a
// running loop is an error (event_loop_error), because it would block the outer loop.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_RUN_HPP_INCLUDED
#define AIO_RUN_HPP_INCLUDED

#include "event_loop.hpp"
#include "task.hpp"

#include <utility>

namespace aio {

namespace detail {
template <class T>
T run_on(event_loop& loop, task<T> main, bool debug) {
    loop.set_debug(debug);
    struct shutdown {
        event_loop& loop;
        ~shutdown() {
            try {
                loop.shutdown_tasks();
                // as asyncio.run: wait for the default executor's jobs (to_thread) while the
                // loop still runs, so that their completions can reach it
                loop.run_until_complete(loop.shutdown_default_executor());
            } catch (...) {  // a destructor must not throw; the loop still closes below
            }
            loop.close();
        }
    } on_exit{loop};
    return loop.run_until_complete(std::move(main));
}

inline void check_no_running_loop() {
    if (running_loop_slot() != nullptr) {
        throw event_loop_error("aio::run: cannot be called while an event loop is running");
    }
}
} // namespace detail

template <class T>
T run(task<T> main, bool debug = false) {
    detail::check_no_running_loop();
    event_loop loop;
    return detail::run_on(loop, std::move(main), debug);
}

/// The same on a loop with virtual time (see event_loop.hpp): `aio::run(main(),
/// aio::virtual_time)` runs hours of sleeps in an instant, in the order real time would give.
template <class T>
T run(task<T> main, virtual_time_t clock, bool debug = false) {
    detail::check_no_running_loop();
    event_loop loop{clock};
    return detail::run_on(loop, std::move(main), debug);
}

} // namespace aio

#endif

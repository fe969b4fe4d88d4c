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
// Ctrl-C (SIGINT), as asyncio.run handles it: the first one cancels the main task, which can
// clean up (catch aio::cancelled_error, destructors) while the loop keeps running; if main
// then ends cancelled, run() throws aio::keyboard_interrupt (errors.hpp: not a std::exception),
// so that main() can return 130. A second Ctrl-C, or one after main finished, abandons the
// cleanup: run() closes the loop at once (frames are destroyed, their destructors run) and
// throws keyboard_interrupt. Only on the process's main thread, only while SIGINT has its
// default disposition (a program that ignores or handles SIGINT keeps it), and only with the
// epoll poller (detail/signals.hpp); the disposition is put back before run() returns. A
// SIGINT handler that main adds (loop.add_signal_handler) replaces run()'s, as in asyncio. A
// task step that never returns to the loop cannot be interrupted this way: the loop acts on
// the signal only between steps.
//
// Lifetime rules: the loop lives exactly as long as the call; calling run() from inside a
// running loop is an error (event_loop_error), because it would block the outer loop.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_RUN_HPP_INCLUDED
#define AIO_RUN_HPP_INCLUDED

#include "errors.hpp"
#include "event_loop.hpp"
#include "task.hpp"
#include "task_handle.hpp"

#include <csignal>
#include <exception>
#include <type_traits>
#include <utility>

namespace aio {

namespace detail {

// asyncio.Runner._on_sigint: the first Ctrl-C cancels main; another, or one that comes once
// main is done, throws keyboard_interrupt out of the loop (event_loop lets it through).
struct run_sigint {
    task_root* m_main = nullptr;
    unsigned m_count = 0;

    void operator()() {
        ++m_count;
        if (m_count == 1 && !m_main->done()) {
            m_main->request_cancel();
            return;
        }
        throw keyboard_interrupt();
    }
};

template <class T>
T run_on(event_loop& loop, task<T> main, bool debug, creation_site where) {
    if (debug) {  // (false leaves what AIO_DEBUG set)
        loop.set_debug(true);
    }
    run_sigint sigint;
    struct close_on_exit {  // on every path, so that SIGINT's disposition is always put back
        event_loop& loop;
        ~close_on_exit() { loop.close(); }
    } closer{loop};
    task_handle<T> handle = loop.create_task(std::move(main), {}, where);
    if (run_may_handle_sigint()) {
        sigint.m_main = &handle.root();
        detail::core_of(loop).add_internal_signal_handler(SIGINT, [&sigint] { sigint(); });
    }
    bool abandoned = false;
    std::exception_ptr failure;  // main's exception, or the loop's (event_loop_error)
    try {
        (void)loop.run_until_complete(handle);  // main's result stays in its handle
    } catch (const keyboard_interrupt&) {
        abandoned = true;
    } catch (...) {
        failure = std::current_exception();
    }
    if (!abandoned) {
        try {
            loop.shutdown_tasks();
            // as asyncio.run: wait for the default executor's jobs (to_thread) while the loop
            // still runs, so that their completions can reach it
            loop.run_until_complete(loop.shutdown_default_executor());
        } catch (const keyboard_interrupt&) {
            abandoned = true;
        } catch (...) {  // the leftovers' errors are theirs; main's outcome stands
        }
    }
    loop.close();  // puts SIGINT's disposition back
    if (abandoned) {
        throw keyboard_interrupt();
    }
    // Cancelled by Ctrl-C, and no other cancellation pending: asyncio.Runner.run's test.
    if (sigint.m_count > 0 && handle.cancelled() && handle.uncancel() == 0) {
        throw keyboard_interrupt();
    }
    if (failure) {
        std::rethrow_exception(failure);
    }
    if constexpr (std::is_void_v<T> || std::is_reference_v<T>) {
        return handle.result();
    } else {
        return T(std::move(handle.promise()).result());
    }
}

inline void check_no_running_loop() {
    if (running_loop_slot() != nullptr) {
        throw event_loop_error("aio::run: cannot be called while an event loop is running");
    }
}
}  // namespace detail

template <class T>
T run(task<T> main, bool debug = false,
      creation_site where = creation_site::here()) {
    detail::check_no_running_loop();
    event_loop loop;
    return detail::run_on(loop, std::move(main), debug, where);
}

/// The same on a loop with virtual time (see event_loop.hpp): `aio::run(main(),
/// aio::virtual_time)` runs hours of sleeps in an instant, in the order real time would give.
template <class T>
T run(task<T> main, virtual_time_t clock, bool debug = false,
      creation_site where = creation_site::here()) {
    detail::check_no_running_loop();
    event_loop loop{clock};
    return detail::run_on(loop, std::move(main), debug, where);
}

}  // namespace aio

#endif

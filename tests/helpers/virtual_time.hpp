// SPDX-License-Identifier: MIT
//
// Running a test's main task on virtual time (see <aio/detail/loop_clock.hpp>): sleeps and
// timeouts take no real time, and the loop's clock moves exactly by the delays that fire, so a
// test can assert order and elapsed time exactly — nothing depends on how busy the machine is.
//
//     const int r = run_virtual(work());                  // aio::run on virtual time
//     steady::duration elapsed{};
//     run_virtual(work(), elapsed);                       // and the virtual time it took
//     co_await block_loop(from, until);                   // a callback that runs too long
//
// The tests that run on real time, and why; each is tagged [real_time] (one file's executable
// runs them alone: build/<preset>/tests/aio_sleep_tests "[real_time]"),
// and asserts lower bounds and only generous upper bounds (seconds), never a tight window:
//   sleep_tests.cpp       "a sleep never wakes early", "sleep_until never wakes before its
//                         deadline": the real clock's never-early guarantee
//   event_loop_tests.cpp  "an idle loop blocks instead of spinning" (CPU time of a real wait),
//                         "loop.time() is monotonic and advances with the steady clock",
//                         "in debug mode a slow callback is reported on stderr" (a real step's
//                         duration)
//   run_tests.cpp         "run cancels the tasks main left behind and lets them clean up" (aio::run
//                         on its real-time loop)
//   virtual_time_tests.cpp "the real-time loop is unaffected: ..."
//   thread_tests.cpp      wake-ups from other threads and timers on the poller (tagged
//                         [real_time]): what crosses threads happens in real time
//   queue_random_tests.cpp, semaphore_random_tests.cpp  random schedules: they assert
//                         invariants that hold in any interleaving, and real time's jitter
//                         varies the interleavings from run to run
// Besides: the examples' tests (random_delay: the demo's wall-clock figures) run real programs.
// Everything else asserting order or a timeout's outcome runs here, on virtual time.
#ifndef AIO_TESTS_HELPERS_VIRTUAL_TIME_HPP_INCLUDED
#define AIO_TESTS_HELPERS_VIRTUAL_TIME_HPP_INCLUDED

#include <aio/event_loop.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>

#include <chrono>
#include <utility>

namespace aio_test {

// Writes the running loop's elapsed time into `out` when the task finishes, however it ends.
template <class T>
aio::task<T> timed(aio::task<T> work, std::chrono::steady_clock::duration& out) {
    struct stopwatch {
        std::chrono::steady_clock::duration& out;
        aio::event_loop& loop = aio::get_running_loop();
        std::chrono::steady_clock::time_point start = loop.time();
        ~stopwatch() { out = loop.time() - start; }
    } watch{out};
    co_return co_await std::move(work);
}

}  // namespace aio_test

/// aio::run on virtual time (autojump): returns main's value or rethrows its exception.
template <class T>
T run_virtual(aio::task<T> main) {
    return aio::run(std::move(main), aio::virtual_time);
}

/// The same, and stores the virtual time main took in `elapsed` (however it ends).
template <class T>
T run_virtual(aio::task<T> main, std::chrono::steady_clock::duration& elapsed) {
    return aio::run(aio_test::timed(std::move(main), elapsed), aio::virtual_time);
}

/// Keeps the loop busy (no suspension) from `from` to `until`, so that timers pile up: on
/// virtual time, the clock moves while nothing else runs.
inline aio::task<void> block_loop(std::chrono::steady_clock::time_point from,
                                  std::chrono::steady_clock::time_point until) {
    co_await aio::sleep_until(from);
    aio::event_loop& loop = aio::get_running_loop();
    loop.advance(until - loop.time());
}

#endif  // AIO_TESTS_HELPERS_VIRTUAL_TIME_HPP_INCLUDED

// SPDX-License-Identifier: MIT
// Tests for <aio/wait_for.hpp>: wait_for / wait_until give up after a while. On timeout the
// work is cancelled and has finished (cleanup included) before timeout_error is seen; work
// that swallows the cancellation returns its value; cancelling the waiter gives cancelled_error
// (not timeout_error); tasks, task handles and plain awaitables are accepted; no timer is left
// behind.
//
// Scenarios are coroutines that return what they observed; the REQUIREs stay outside. They run
// on virtual time (helpers/virtual_time.hpp), so timeouts and elapsed times are exact.
#include "helpers/cancellation_tasks.hpp"
#include "helpers/catch.hpp"
#include "helpers/journal.hpp"
#include "helpers/test_error.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/errors.hpp>
#include <aio/event_loop.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>
#include <aio/wait_for.hpp>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

/// Sleeps; on cancellation awaits a cleanup of `cleanup`, notes it, and re-raises.
aio::task<int> sleep_then_clean_up(std::chrono::milliseconds delay,
                                   std::chrono::milliseconds cleanup, journal& log) {
    std::exception_ptr cancelled;
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (!cancelled) {
        co_return 1;
    }
    log.push_back("cleaning up");
    co_await aio::sleep(cleanup);
    log.push_back("cleaned up");
    std::rethrow_exception(cancelled);
}

/// Fails with a different error while handling its cancellation.
aio::task<int> fail_when_cancelled(std::chrono::milliseconds delay) {
    bool cancelled = false;
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
        cancelled = true;
    }
    if (cancelled) {
        throw test_error("failed while cancelled");
    }
    co_return 0;
}

enum class ending { value, timeout, cancelled, error };

struct timed_outcome {
    ending how = ending::error;
    int value = 0;
    std::string message;
    std::size_t log_size_when_seen = 0;
    std::size_t timers_after = 99;
};

/// Awaits `op` (a wait_for awaitable) and records how it ended.
/// (`op` lives in the caller's frame, which awaits this at once; wait_for awaitables do not move.)
template <class Op>
aio::task<timed_outcome> observe(Op& op, journal* log) {
    timed_outcome out;
    try {
        if constexpr (std::is_void_v<decltype(op.await_resume())>) {
            co_await op;
        } else {
            out.value = co_await op;
        }
        out.how = ending::value;
    } catch (const aio::timeout_error& e) {
        out.how = ending::timeout;
        out.message = e.what();
    } catch (const aio::cancelled_error&) {
        out.how = ending::cancelled;
    } catch (const test_error& e) {
        out.how = ending::error;
        out.message = e.what();
    }
    if (log != nullptr) {
        out.log_size_when_seen = log->size();
    }
    out.timers_after = aio::detail::core_of(aio::get_running_loop()).timer_count();
    co_return out;
}

// GCC 12: build the awaitable in a named local before awaiting it, one co_await per statement.
aio::task<timed_outcome> timeout_on_long_sleep(journal& log) {
    auto op = aio::wait_for(sleep_then_clean_up(10s, 5ms, log), 20ms);
    co_return co_await observe(op, &log);
}

aio::task<timed_outcome> value_in_time() {
    auto op = aio::wait_for(value_after(5ms, 3), 10s);
    co_return co_await observe(op, nullptr);
}

aio::task<timed_outcome> value_without_suspending(std::chrono::milliseconds timeout) {
    auto op = aio::wait_for(immediately(8), timeout);
    co_return co_await observe(op, nullptr);
}

aio::task<timed_outcome> zero_timeout_on_suspending_work() {
    auto op = aio::wait_for(value_after(1ms, 8), 0ms);
    co_return co_await observe(op, nullptr);
}

aio::task<timed_outcome> swallowed_timeout(journal& log) {
    auto op = aio::wait_for(swallow_cancellation_then_sleep(10s, log), 10ms);
    co_return co_await observe(op, &log);
}

aio::task<timed_outcome> work_fails_in_time() {
    auto op = aio::wait_for(fail_after(1ms, "work failed"), 10s);
    co_return co_await observe(op, nullptr);
}

aio::task<timed_outcome> work_fails_while_timing_out() {
    auto op = aio::wait_for(fail_when_cancelled(10s), 10ms);
    co_return co_await observe(op, nullptr);
}

aio::task<timed_outcome> until_deadline(steady::duration deadline_from_now,
                                        std::chrono::milliseconds work) {
    const steady::time_point deadline = aio::get_running_loop().time() + deadline_from_now;
    auto op = aio::wait_until(value_after(work, 5), deadline);
    co_return co_await observe(op, nullptr);
}

// ---- the waiter is cancelled ---------------------------------------------------------------

aio::task<timed_outcome> wait_for_swallowing(journal& log) {
    auto op = aio::wait_for(swallow_cancellation_then_sleep(10s, log), 10s);
    co_return co_await observe(op, &log);
}

struct waiter_cancel_outcome {
    timed_outcome waiter;
    bool waiter_cancelled = false;
};

aio::task<waiter_cancel_outcome> cancel_the_waiter(aio::task<timed_outcome> waiter_work) {
    waiter_cancel_outcome out;
    aio::task_handle<timed_outcome> waiter = aio::create_task(std::move(waiter_work));
    co_await aio::sleep(5ms);
    waiter.cancel();
    try {
        out.waiter = co_await waiter;
    } catch (const aio::cancelled_error&) {
        out.waiter_cancelled = true;
    }
    co_return out;
}

aio::task<timed_outcome> observe_cancel(std::chrono::milliseconds timeout, journal& log) {
    auto op = aio::wait_for(sleep_noting(10s, "work", log), timeout);
    co_return co_await observe(op, &log);
}

// ---- handles and plain awaitables ----------------------------------------------------------

struct handle_outcome {
    timed_outcome timed;
    bool cancelled = false;
    bool done = false;
    int result = 0;
};

aio::task<handle_outcome> wait_for_handle(std::chrono::milliseconds work,
                                          std::chrono::milliseconds timeout) {
    handle_outcome out;
    aio::task_handle<int> h = aio::create_task(value_after(work, 6));
    auto op = aio::wait_for(h, timeout);
    out.timed = co_await observe(op, nullptr);
    out.done = h.done();
    out.cancelled = h.cancelled();
    if (h.done() && !h.cancelled()) {
        out.result = h.result();
    }
    co_return out;
}

aio::task<std::string> catch_timeout_as_std_exception() {
    auto op = aio::wait_for(aio::sleep(10s), 1ms);
    try {
        co_await op;
    } catch (const std::exception& e) {
        co_return e.what();
    }
    co_return "no exception";
}

aio::task<ending> wait_for_a_plain_sleep() {
    auto op = aio::wait_for(aio::sleep(10s), 10ms);
    try {
        co_await op;
    } catch (const aio::timeout_error&) {
        co_return ending::timeout;
    }
    co_return ending::value;
}

// ---- nesting -------------------------------------------------------------------------------

aio::task<int> inner_wait_for(std::chrono::milliseconds timeout, journal& log) {
    auto op = aio::wait_for(sleep_then_clean_up(10s, 1ms, log), timeout);
    co_return co_await op;
}

aio::task<timed_outcome> nested(std::chrono::milliseconds inner, std::chrono::milliseconds outer,
                                journal& log) {
    auto op = aio::wait_for(inner_wait_for(inner, log), outer);
    co_return co_await observe(op, &log);
}

// ---- already cancelled ---------------------------------------------------------------------

aio::task<int> note_ran(bool& ran) {
    ran = true;
    co_return 1;
}

aio::task<timed_outcome> cancel_self_then_wait_for(const aio::task_handle<timed_outcome>* self,
                                                  bool& work_ran) {
    aio::task_handle<timed_outcome> me = *self;
    me.cancel();  // pending: delivered at the next suspension point, which is the wait_for
    auto op = aio::wait_for(note_ran(work_ran), 10s);
    co_return co_await observe(op, nullptr);
}

aio::task<timed_outcome> self_cancelled_wait_for(bool& work_ran) {
    aio::task_handle<timed_outcome> h;
    h = aio::create_task(cancel_self_then_wait_for(&h, work_ran));
    co_return co_await h;
}

// ---- huge and invalid timeouts ------------------------------------------------------------

aio::task<timed_outcome> effectively_no_timeout() {
    auto op = aio::wait_for(value_after(5ms, 4), std::chrono::hours::max());
    co_return co_await observe(op, nullptr);
}

// ---- the work finishes in the iteration in which the timeout fires --------------------------

aio::task<int> wait_for_in_own_frame(steady::time_point work_done,
                                     std::chrono::milliseconds timeout) {
    auto op = aio::wait_for(value_at(work_done, 1), timeout);
    co_return co_await op;
}

aio::task<int> work_and_timeout_due_together() {
    const steady::time_point d = aio::get_running_loop().time() + 10ms;
    aio::task_handle<void> blocker = aio::create_task(block_loop(d - 5ms, d + 20ms));
    // When the loop gets going again, the work's timer (d) and the timeout (d + 5 ms) are
    // both due: the work finishes first and hands its value straight back...
    const int value = co_await wait_for_in_own_frame(d, 15ms);
    // ...and the frame holding the wait_for is gone. Whatever the loop still dispatches must not
    // touch it.
    co_await aio::sleep(5ms);
    co_await blocker;
    co_return value;
}

// ---- cancelled while the work takes its first step ----------------------------------------

/// Cancels the task awaiting the wait_for during its first (synchronous) step, then sleeps.
aio::task<void> cancel_waiter_then_sleep(const aio::task_handle<void>* waiter, journal& log) {
    aio::task_handle<void> h = *waiter;
    h.cancel();
    co_await sleep_noting(200ms, "work", log);
}

aio::task<void> wait_for_work_cancelling_its_waiter(const aio::task_handle<void>* self,
                                                    journal& log) {
    auto op = aio::wait_for(cancel_waiter_then_sleep(self, log), 10s);
    co_await op;
}

aio::task<bool> cancelled_while_starting_work(journal& log) {
    aio::task_handle<void> h;
    h = aio::create_task(wait_for_work_cancelling_its_waiter(&h, log));
    try {
        co_await h;
    } catch (const aio::cancelled_error&) {
        co_return h.cancelled();
    }
    co_return false;
}

} // namespace

TEST_CASE("wait_for on a 10 s sleep with a 20 ms timeout throws timeout_error well within a "
          "second, once the work has finished its cleanup",
          "[wait_for]") {
    journal log;
    steady::duration elapsed{};
    const timed_outcome out = run_virtual(timeout_on_long_sleep(log), elapsed);
    CHECK(out.how == ending::timeout);
    CHECK(out.message == "aio::timeout_error: the operation timed out");
    CHECK(out.log_size_when_seen == 2);  // "cleaned up" was logged before the error was seen
    CHECK(log == journal{"cleaning up", "cleaned up"});
    CHECK(out.timers_after == 0);
    CHECK(elapsed == 25ms);  // 20 ms timeout + 5 ms cleanup
}

TEST_CASE("wait_for returns the work's value when it finishes in time, and drops its timer",
          "[wait_for]") {
    steady::duration elapsed{};
    const timed_outcome out = run_virtual(value_in_time(), elapsed);
    CHECK(elapsed == 5ms);  // the 10 s timeout was not waited for
    CHECK(out.how == ending::value);
    CHECK(out.value == 3);
    CHECK(out.timers_after == 0);
}

TEST_CASE("wait_for returns the value of work that completes without suspending, even with a "
          "zero timeout",
          "[wait_for]") {
    const auto timeout = GENERATE(0ms, 10ms);
    CAPTURE(timeout.count());
    const timed_outcome out = run_virtual(value_without_suspending(timeout));
    CHECK(out.how == ending::value);
    CHECK(out.value == 8);
    CHECK(out.timers_after == 0);
}

TEST_CASE("wait_for with a zero timeout times out work that suspends", "[wait_for]") {
    const timed_outcome out = run_virtual(zero_timeout_on_suspending_work());
    CHECK(out.how == ending::timeout);
    CHECK(out.timers_after == 0);
}

TEST_CASE("wait_for returns the value of work that swallows the timeout's cancellation",
          "[wait_for]") {
    journal log;
    const timed_outcome out = run_virtual(swallowed_timeout(log));
    CHECK(out.how == ending::value);
    CHECK(out.value == 42);
    CHECK(log == journal{"swallowed"});
}

TEST_CASE("wait_for rethrows the work's own exception", "[wait_for]") {
    SECTION("raised before the timeout") {
        const timed_outcome out = run_virtual(work_fails_in_time());
        CHECK(out.how == ending::error);
        CHECK(out.message == "work failed");
    }
    SECTION("raised while handling the timeout's cancellation: it replaces timeout_error") {
        const timed_outcome out = run_virtual(work_fails_while_timing_out());
        CHECK(out.how == ending::error);
        CHECK(out.message == "failed while cancelled");
    }
}

TEST_CASE("timeout_error is a std::runtime_error, caught by catch (const std::exception&)",
          "[wait_for]") {
    static_assert(std::is_base_of_v<std::runtime_error, aio::timeout_error>);
    CHECK(run_virtual(catch_timeout_as_std_exception()) ==
          "aio::timeout_error: the operation timed out");
}

TEST_CASE("cancelling the task awaiting wait_for throws cancelled_error, not timeout_error, "
          "and cancels the work",
          "[wait_for]") {
    journal log;
    steady::duration elapsed{};
    const auto timeout = GENERATE(500ms, 10'000ms);  // cancelled (at 5 ms) before either
    CAPTURE(timeout.count());
    // The waiter logs what it saw, then ends cancelled.
    const waiter_cancel_outcome out =
        run_virtual(cancel_the_waiter(observe_cancel(timeout, log)), elapsed);
    CHECK_FALSE(out.waiter_cancelled);  // observe() caught it and returned
    CHECK(out.waiter.how == ending::cancelled);
    CHECK(out.waiter.log_size_when_seen == 1);  // the work had finished when the error was seen
    CHECK(log == journal{"work cancelled"});
    CHECK(out.waiter.timers_after == 0);
    CHECK(elapsed == 5ms);
}

TEST_CASE("cancelling the task awaiting wait_for throws cancelled_error even if the work "
          "swallows the cancellation",
          "[wait_for]") {
    journal log;
    const waiter_cancel_outcome out = run_virtual(cancel_the_waiter(wait_for_swallowing(log)));
    CHECK(out.waiter.how == ending::cancelled);
    CHECK(log == journal{"swallowed"});
}

TEST_CASE("wait_until gives up at an absolute deadline", "[wait_for]") {
    SECTION("the deadline comes first") {
        steady::duration elapsed{};
        const timed_outcome out = run_virtual(until_deadline(20ms, 10'000ms), elapsed);
        CHECK(out.how == ending::timeout);
        CHECK(elapsed == 20ms);
    }
    SECTION("the work comes first") {
        steady::duration elapsed{};
        const timed_outcome out = run_virtual(until_deadline(10s, 5ms), elapsed);
        CHECK(out.how == ending::value);
        CHECK(out.value == 5);
        CHECK(out.timers_after == 0);
        CHECK(elapsed == 5ms);
    }
    SECTION("a deadline in the past times out work that suspends") {
        const timed_outcome out = run_virtual(until_deadline(-1s, 5ms));
        CHECK(out.how == ending::timeout);
    }
}

TEST_CASE("wait_for on a task handle cancels the task on timeout", "[wait_for]") {
    SECTION("timeout") {
        const handle_outcome out = run_virtual(wait_for_handle(10'000ms, 10ms));
        CHECK(out.timed.how == ending::timeout);
        CHECK(out.done);
        CHECK(out.cancelled);
    }
    SECTION("in time: the handle keeps the result") {
        const handle_outcome out = run_virtual(wait_for_handle(5ms, 10'000ms));
        CHECK(out.timed.how == ending::value);
        CHECK(out.timed.value == 6);
        CHECK_FALSE(out.cancelled);
        CHECK(out.result == 6);
    }
}

TEST_CASE("wait_for accepts a plain awaitable such as a sleep", "[wait_for]") {
    steady::duration elapsed{};
    CHECK(run_virtual(wait_for_a_plain_sleep(), elapsed) == ending::timeout);
    CHECK(elapsed == 10ms);
}

TEST_CASE("nested wait_for: the shorter timeout wins", "[wait_for]") {
    journal log;
    steady::duration elapsed{};
    SECTION("the outer one is shorter: the outer wait_for times out") {
        const timed_outcome out = run_virtual(nested(10'000ms, 10ms, log), elapsed);
        CHECK(out.how == ending::timeout);
    }
    SECTION("the inner one is shorter: its timeout_error passes through the outer one") {
        const timed_outcome out = run_virtual(nested(10ms, 10'000ms, log), elapsed);
        CHECK(out.how == ending::timeout);
        CHECK(out.timers_after == 0);
    }
    CHECK(log == journal{"cleaning up", "cleaned up"});
    CHECK(elapsed == 11ms);  // the timeout, then the work's 1 ms cleanup
}

TEST_CASE("a task cancelled before it reaches wait_for never starts the work", "[wait_for]") {
    bool work_ran = false;
    const timed_outcome out = run_virtual(self_cancelled_wait_for(work_ran));
    CHECK(out.how == ending::cancelled);
    CHECK_FALSE(work_ran);
}

TEST_CASE("wait_for accepts an effectively infinite timeout", "[wait_for]") {
    const timed_outcome out = run_virtual(effectively_no_timeout());
    CHECK(out.how == ending::value);
    CHECK(out.value == 4);
    CHECK(out.timers_after == 0);
}

TEST_CASE("wait_for with a NaN timeout throws std::invalid_argument", "[wait_for]") {
    CHECK_THROWS_AS(aio::wait_for(immediately(1), std::chrono::duration<double>(std::nan(""))),
                    std::invalid_argument);
}

// Regression: when the work's timer and the timeout were due in the same loop iteration, the
// timeout used to sit in the ready queue as a stale item and run on the freed awaitable
// (heap-use-after-free). Timer hooks now run during the timer pass itself. Both timers are
// due together, so -- as in asyncio, where the timeout handler runs before the woken task's
// step -- the work is cancelled: timeout_error. What matters is that nothing is left behind.
TEST_CASE("a wait_for whose work and timeout are due in the same iteration times out cleanly",
          "[wait_for]") {
    CHECK_THROWS_AS(run_virtual(work_and_timeout_due_together()), aio::timeout_error);
}

// Regression (fixed): a cancel() of the awaiting task that arrives while wait_for starts the work
// (here: from the work's own first step) stays in the root's pending flag: await_suspend checked it
// before starting the work and parks without looking again, so the work is not cancelled and
// runs its full 200 ms; cancelled_error comes only afterwards. Expected: the work is cancelled
// at once. Same gap in gather (gather_cancel_tests.cpp).
TEST_CASE("a cancellation of the awaiting task that arrives while wait_for starts the work "
          "cancels the work",
          "[wait_for]") {
    journal log;
    CHECK(run_virtual(cancelled_while_starting_work(log)));
    CHECK(log == journal{"work cancelled"});
}

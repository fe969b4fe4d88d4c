// SPDX-License-Identifier: MIT
// Tests for task_handle::cancel() and what it sets in motion (<aio/task_handle.hpp>,
// <aio/errors.hpp>, event_loop::cancel_all/shutdown_tasks, run's shutdown): a cancelled sleep
// leaves the timer queue, an unstarted task never runs, cancellation travels down the chain of
// awaits (an awaited task, a gather), a task may clean up — awaiting — and re-raise, or
// swallow the cancellation (visible through cancelling()/uncancel()), and 100,000 tasks can be
// cancelled at once.
//
// Scenarios are coroutines that return what they observed; the REQUIREs stay outside.
// Reminder for GCC 12: no co_await inside a catch handler (C++ forbids it anyway) — store the
// exception, leave the handler, await, rethrow.
#include "helpers/cancellation_tasks.hpp"
#include "helpers/catch.hpp"
#include "helpers/counted.hpp"
#include "helpers/journal.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/errors.hpp>
#include <aio/event_loop.hpp>
#include <aio/gather.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>
#include <aio/wait.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

/// Sleeps; on cancellation awaits a cleanup of `cleanup`, notes it, and re-raises.
aio::task<void> sleep_then_clean_up(std::chrono::milliseconds delay,
                                    std::chrono::milliseconds cleanup, std::string name,
                                    journal& log) {
    std::exception_ptr cancelled;
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (!cancelled) {
        log.push_back(name + " done");
        co_return;
    }
    log.push_back(name + " cleaning up");
    try {
        co_await aio::sleep(cleanup);
    } catch (const aio::cancelled_error&) {
        log.push_back(name + " cleanup interrupted");
        throw;
    }
    log.push_back(name + " cleaned up");
    std::rethrow_exception(cancelled);
}

// ---- a cancelled sleep ---------------------------------------------------------------------

struct sleeping_outcome {
    std::size_t timers_before = 0;
    std::size_t timers_after = 0;
    bool cancel_returned = false;
    bool done_right_after_cancel = true;
    bool await_threw_cancelled = false;
    bool cancelled = false;
};

aio::task<sleeping_outcome> cancel_a_sleeping_task(journal& log) {
    sleeping_outcome out;
    aio::event_loop& loop = aio::get_running_loop();
    aio::task_handle<void> sleeper = aio::create_task(sleep_noting(10s, "sleeper", log));
    co_await aio::sleep(10ms);
    out.timers_before = aio::detail::core_of(loop).timer_count();  // the sleeper's 10 s timer, nothing else
    out.cancel_returned = sleeper.cancel();
    out.timers_after = aio::detail::core_of(loop).timer_count();
    out.done_right_after_cancel = sleeper.done();  // it still has to run its handler
    try {
        co_await sleeper;
    } catch (const aio::cancelled_error&) {
        out.await_threw_cancelled = true;
    }
    out.cancelled = sleeper.cancelled();
    co_return out;
}

// ---- before start / after finish ---------------------------------------------------------

aio::task<void> note_start(counted token, bool& ran) {
    (void)token;
    ran = true;
    co_return;
}

struct unstarted_outcome {
    bool cancel_returned = false;
    unsigned cancelling = 0;
    bool cancelled = false;
    bool await_threw_cancelled = false;
};

aio::task<unstarted_outcome> cancel_before_first_step(bool& ran, bool twice) {
    unstarted_outcome out;
    aio::task_handle<void> h = aio::create_task(note_start(counted(1), ran));
    out.cancel_returned = h.cancel();
    if (twice) {
        (void)h.cancel();
    }
    out.cancelling = h.cancelling();
    try {
        co_await h;
    } catch (const aio::cancelled_error&) {
        out.await_threw_cancelled = true;
    }
    out.cancelled = h.cancelled();
    co_return out;
}

struct finished_outcome {
    bool cancel_returned = true;
    bool cancelled = true;
    unsigned cancelling = 99;
    int result = 0;
};

aio::task<finished_outcome> cancel_a_finished_task() {
    finished_outcome out;
    aio::task_handle<int> h = aio::create_task(immediately(7));
    co_await h;
    out.cancel_returned = h.cancel();
    out.cancelled = h.cancelled();
    out.cancelling = h.cancelling();
    out.result = h.result();
    co_return out;
}

// ---- state of a cancelled task -----------------------------------------------------------

struct state_outcome {
    bool done = false;
    bool cancelled = false;
    bool result_threw_cancelled = false;
    bool exception_threw_cancelled = false;
    bool catch_std_exception_missed_it = false;
};

aio::task<state_outcome> inspect_cancelled_task(journal& log) {
    state_outcome out;
    aio::task_handle<void> h = aio::create_task(sleep_noting(10s, "t", log));
    co_await aio::sleep(1ms);
    h.cancel();
    co_await aio::sleep(1ms);  // let it finish; nobody awaits it
    out.done = h.done();
    out.cancelled = h.cancelled();
    try {
        h.result();
    } catch (const aio::cancelled_error&) {
        out.result_threw_cancelled = true;
    }
    try {
        (void)h.exception();
    } catch (const aio::cancelled_error&) {
        out.exception_threw_cancelled = true;
    }
    // cancelled_error is not a std::exception: `catch (const std::exception&)` lets it through.
    try {
        try {
            h.result();
        } catch (const std::exception&) {
        }
    } catch (const aio::cancelled_error&) {
        out.catch_std_exception_missed_it = true;
    }
    co_return out;
}

aio::task<void> nap(std::chrono::milliseconds delay) { co_await aio::sleep(delay); }

aio::task<void> cancel_later(aio::task_handle<void> target, std::chrono::milliseconds delay) {
    co_await aio::sleep(delay);
    target.cancel();
}

/// The awaiter is not the cancelled one: it gets cancelled_error because its target was.
aio::task<bool> await_a_task_cancelled_by_someone_else(journal& log) {
    aio::task_handle<void> target = aio::create_task(sleep_noting(10s, "target", log));
    aio::task_handle<void> canceller = aio::create_task(cancel_later(target, 5ms));
    bool threw = false;
    try {
        co_await target;
    } catch (const aio::cancelled_error&) {
        threw = true;
    }
    co_await canceller;
    co_return threw;
}

// ---- cancellation travels down the chain of awaits ----------------------------------------

aio::task<int> inner_chain(journal& log) {
    co_await sleep_noting(10s, "innermost", log);  // a plain awaited coroutine: same task
    co_return 1;
}

aio::task<int> outer_chain(journal& log) {
    try {
        co_return co_await inner_chain(log);
    } catch (const aio::cancelled_error&) {
        log.push_back("outer saw it");
        throw;
    }
}

aio::task<void> await_gather(journal& log) {
    try {
        co_await aio::gather(sleep_noting(10s, "a", log), sleep_noting(10s, "b", log),
                             sleep_then_clean_up(10s, 5ms, "c", log));
    } catch (const aio::cancelled_error&) {
        log.push_back("gatherer cancelled");
        throw;
    }
}

aio::task<void> await_handle(aio::task_handle<void> inner, journal& log) {
    try {
        co_await inner;
    } catch (const aio::cancelled_error&) {
        log.push_back("outer cancelled");
        throw;
    }
}

struct chain_outcome {
    bool outer_cancelled = false;
    bool inner_cancelled = false;
};

template <class T>
aio::task<chain_outcome> cancel_after(aio::task_handle<T> target, std::chrono::milliseconds delay) {
    chain_outcome out;
    co_await aio::sleep(delay);
    target.cancel();
    try {
        co_await target;
    } catch (const aio::cancelled_error&) {
        out.outer_cancelled = true;
    }
    co_return out;
}

aio::task<chain_outcome> cancel_chain(journal& log) {
    co_return co_await cancel_after(aio::create_task(outer_chain(log)), 5ms);
}

aio::task<chain_outcome> cancel_gatherer(journal& log) {
    co_return co_await cancel_after(aio::create_task(await_gather(log)), 5ms);
}

aio::task<chain_outcome> cancel_awaiter_of_created_task(journal& log) {
    aio::task_handle<void> inner = aio::create_task(sleep_noting(10s, "inner", log));
    chain_outcome out = co_await cancel_after(aio::create_task(await_handle(inner, log)), 5ms);
    out.inner_cancelled = inner.cancelled();
    co_return out;
}

// ---- clean up, swallow, cancel again -------------------------------------------------------

struct cleanup_outcome {
    bool cancelled = false;
    unsigned cancelling = 0;
    std::size_t log_size_when_seen = 0;
};

aio::task<cleanup_outcome> cancel_task_that_cleans_up(journal& log) {
    cleanup_outcome out;
    aio::task_handle<void> h = aio::create_task(sleep_then_clean_up(10s, 20ms, "worker", log));
    co_await aio::sleep(5ms);
    h.cancel();
    try {
        co_await h;
    } catch (const aio::cancelled_error&) {
        out.log_size_when_seen = log.size();
    }
    out.cancelled = h.cancelled();
    out.cancelling = h.cancelling();
    co_return out;
}

struct swallow_outcome {
    int value = 0;
    bool cancelled = true;
    unsigned cancelling = 0;
    unsigned after_uncancel = 99;
};

aio::task<swallow_outcome> cancel_task_that_swallows(journal& log) {
    swallow_outcome out;
    aio::task_handle<int> h = aio::create_task(swallow_cancellation_then_sleep(10s, log));
    co_await aio::sleep(5ms);
    h.cancel();
    out.value = co_await h;
    out.cancelled = h.cancelled();
    out.cancelling = h.cancelling();
    out.after_uncancel = h.uncancel();
    co_return out;
}

aio::task<cleanup_outcome> cancel_during_cleanup(journal& log) {
    cleanup_outcome out;
    aio::task_handle<void> h = aio::create_task(sleep_then_clean_up(10s, 10s, "worker", log));
    co_await aio::sleep(5ms);
    h.cancel();
    co_await aio::sleep(5ms);  // now it awaits its (10 s) cleanup
    h.cancel();
    try {
        co_await h;
    } catch (const aio::cancelled_error&) {
        out.log_size_when_seen = log.size();
    }
    out.cancelled = h.cancelled();
    out.cancelling = h.cancelling();
    co_return out;
}

/// The swallowing task, but awaited through an outer task that is the one cancelled: as in
/// asyncio, the request passes to the inner task, which returns normally, and so does the
/// outer await.
aio::task<int> await_int_handle(aio::task_handle<int> inner) { co_return co_await inner; }

struct pass_through_outcome {
    int value = 0;
    unsigned outer_cancelling = 0;
    unsigned inner_cancelling = 0;
};

aio::task<pass_through_outcome> cancel_outer_of_swallowing_inner(journal& log) {
    pass_through_outcome out;
    aio::task_handle<int> inner = aio::create_task(swallow_cancellation_then_sleep(10s, log));
    aio::task_handle<int> outer = aio::create_task(await_int_handle(inner));
    co_await aio::sleep(5ms);
    outer.cancel();
    out.value = co_await outer;
    out.outer_cancelling = outer.cancelling();
    out.inner_cancelling = inner.cancelling();
    co_return out;
}

// ---- a task that cancels itself ------------------------------------------------------------

aio::task<void> cancel_self_then_sleep(const aio::task_handle<void>* self, journal& log) {
    aio::task_handle<void> me = *self;
    me.cancel();  // nothing to interrupt: delivered at the next suspension point
    log.push_back("still running");
    try {
        co_await aio::sleep(10s);
    } catch (const aio::cancelled_error&) {
        log.push_back("cancelled at the sleep");
        throw;
    }
}

aio::task<bool> self_cancellation(journal& log) {
    aio::task_handle<void> h;
    h = aio::create_task(cancel_self_then_sleep(&h, log));  // h is set before the task starts
    try {
        co_await h;
    } catch (const aio::cancelled_error&) {
    }
    co_return h.cancelled();
}

/// Cancels itself, then withdraws the request before it was delivered.
aio::task<int> cancel_then_uncancel_self(const aio::task_handle<int>* self, unsigned& left) {
    aio::task_handle<int> me = *self;
    me.cancel();
    left = me.uncancel();
    co_await aio::sleep(1ms);  // no cancelled_error: nothing is pending any more
    co_return 3;
}

aio::task<int> withdrawn_self_cancellation(unsigned& left) {
    aio::task_handle<int> h;
    h = aio::create_task(cancel_then_uncancel_self(&h, left));
    co_return co_await h;
}

/// Cancelled while it sits in the ready queue (its timer fired, it has not resumed yet).
aio::task<bool> cancel_while_ready(journal& log) {
    aio::task_handle<void> h = aio::create_task(sleep_noting(0ms, "yielder", log));
    co_await aio::sleep(0ms);  // h started and yielded; it is ready to resume after us
    h.cancel();
    try {
        co_await h;
    } catch (const aio::cancelled_error&) {
    }
    co_return h.cancelled();
}

// ---- many tasks ----------------------------------------------------------------------------

struct mass_outcome {
    std::size_t timers_before = 0;
    std::size_t timers_after = 0;
    std::size_t done = 0;
    std::size_t cancelled = 0;
    std::size_t pending_after = 99;
};

aio::task<void> sleep_long() { co_await aio::sleep(10s); }

aio::task<mass_outcome> cancel_many(std::size_t n) {
    mass_outcome out;
    aio::event_loop& loop = aio::get_running_loop();
    std::vector<aio::task_handle<void>> handles;
    handles.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        handles.push_back(aio::create_task(sleep_long()));
    }
    co_await aio::sleep(0ms);  // every task has started and is asleep
    out.timers_before = aio::detail::core_of(loop).timer_count();
    for (auto& h : handles) {
        h.cancel();
    }
    out.timers_after = aio::detail::core_of(loop).timer_count();
    // Wait without rethrowing 100,000 cancelled_errors here (exceptions are the expensive part,
    // especially under ASan): wait() only reports who is done.
    auto all = aio::wait(handles);
    const aio::wait_result<void> result = co_await all;
    out.done = result.done.size();
    for (const auto& h : handles) {
        out.cancelled += h.cancelled() ? 1 : 0;
    }
    out.pending_after = loop.pending_tasks();  // main only
    co_return out;
}

// ---- run() and the loop's shutdown -----------------------------------------------------------

aio::task<int> leave_cleaning_tasks_behind(journal& log) {
    (void)aio::create_task(sleep_then_clean_up(10s, 5ms, "left 1", log));
    (void)aio::create_task(sleep_then_clean_up(10s, 5ms, "left 2", log));
    co_await aio::sleep(1ms);
    co_return 5;
}

} // namespace

TEST_CASE("cancelling a sleeping task takes its timer out of the loop and ends it promptly",
          "[task_handle][cancel]") {
    journal log;
    steady::duration elapsed{};
    const sleeping_outcome out = run_virtual(cancel_a_sleeping_task(log), elapsed);
    CHECK(elapsed < 1s);  // the 10 s deadline was not waited for
    CHECK(out.timers_before == 1);
    CHECK(out.timers_after == 0);
    CHECK(out.cancel_returned);
    CHECK_FALSE(out.done_right_after_cancel);
    CHECK(out.await_threw_cancelled);
    CHECK(out.cancelled);
    CHECK(log == journal{"sleeper cancelled"});
}

TEST_CASE("a task cancelled before its first step never runs its body", "[task_handle][cancel]") {
    counted::reset_counts();
    bool ran = false;
    SECTION("cancelled once") {
        const unstarted_outcome out = run_virtual(cancel_before_first_step(ran, false));
        CHECK(out.cancel_returned);
        CHECK(out.cancelling == 1);
        CHECK(out.cancelled);
        CHECK(out.await_threw_cancelled);
    }
    SECTION("cancelled twice: still one cancellation, two requests") {
        const unstarted_outcome out = run_virtual(cancel_before_first_step(ran, true));
        CHECK(out.cancelling == 2);
        CHECK(out.cancelled);
        CHECK(out.await_threw_cancelled);
    }
    CHECK_FALSE(ran);
    CHECK(counted::alive() == 0);  // its frame (and the argument it captured) is gone
}

TEST_CASE("cancel() on a finished task returns false and changes nothing",
          "[task_handle][cancel]") {
    const finished_outcome out = run_virtual(cancel_a_finished_task());
    CHECK_FALSE(out.cancel_returned);
    CHECK_FALSE(out.cancelled);
    CHECK(out.cancelling == 0);
    CHECK(out.result == 7);
}

TEST_CASE("a cancelled task is done and cancelled, and result() and exception() throw "
          "cancelled_error, which catch (const std::exception&) does not stop",
          "[task_handle][cancel]") {
    journal log;
    const state_outcome out = run_virtual(inspect_cancelled_task(log));
    CHECK(out.done);
    CHECK(out.cancelled);
    CHECK(out.result_threw_cancelled);
    CHECK(out.exception_threw_cancelled);
    CHECK(out.catch_std_exception_missed_it);
}

TEST_CASE("awaiting a task that someone else cancelled throws cancelled_error",
          "[task_handle][cancel]") {
    journal log;
    CHECK(run_virtual(await_a_task_cancelled_by_someone_else(log)));
    CHECK(log == journal{"target cancelled"});
}

TEST_CASE("cancellation reaches the innermost coroutine a task is awaiting and unwinds "
          "through its callers",
          "[task_handle][cancel]") {
    journal log;
    const chain_outcome out = run_virtual(cancel_chain(log));
    CHECK(out.outer_cancelled);
    CHECK(log == journal{"innermost cancelled", "outer saw it"});
}

TEST_CASE("cancelling a task awaiting a gather cancels every child, and waits for their "
          "cleanup",
          "[task_handle][cancel][gather]") {
    journal log;
    steady::duration elapsed{};
    const chain_outcome out = run_virtual(cancel_gatherer(log), elapsed);
    CHECK(out.outer_cancelled);
    CHECK(log == journal{"a cancelled", "b cancelled", "c cleaning up", "c cleaned up",
                         "gatherer cancelled"});
    CHECK(elapsed == 10ms);  // 5 ms before the cancel + c's 5 ms cleanup
}

TEST_CASE("cancelling a task awaiting another created task cancels that task too",
          "[task_handle][cancel]") {
    journal log;
    const chain_outcome out = run_virtual(cancel_awaiter_of_created_task(log));
    CHECK(out.outer_cancelled);
    CHECK(out.inner_cancelled);
    CHECK(log == journal{"inner cancelled", "outer cancelled"});
}

TEST_CASE("a cancelled task can await its cleanup and then re-raise", "[task_handle][cancel]") {
    journal log;
    steady::duration elapsed{};
    const cleanup_outcome out = run_virtual(cancel_task_that_cleans_up(log), elapsed);
    CHECK(out.cancelled);
    CHECK(out.cancelling == 1);
    CHECK(out.log_size_when_seen == 2);  // the cleanup had finished when the awaiter saw it
    CHECK(log == journal{"worker cleaning up", "worker cleaned up"});
    CHECK(elapsed >= 25ms);
    CHECK(elapsed < 1s);
}

TEST_CASE("a task may swallow its cancellation: it returns normally, cancelling() stays "
          "positive until uncancel()",
          "[task_handle][cancel]") {
    journal log;
    const swallow_outcome out = run_virtual(cancel_task_that_swallows(log));
    CHECK(out.value == 42);
    CHECK_FALSE(out.cancelled);
    CHECK(out.cancelling == 1);
    CHECK(out.after_uncancel == 0);
    CHECK(log == journal{"swallowed"});
}

TEST_CASE("cancelling a task again while it awaits its cleanup interrupts the cleanup",
          "[task_handle][cancel]") {
    journal log;
    steady::duration elapsed{};
    const cleanup_outcome out = run_virtual(cancel_during_cleanup(log), elapsed);
    CHECK(elapsed < 1s);  // neither 10 s sleep was waited for
    CHECK(out.cancelled);
    CHECK(out.cancelling == 2);
    CHECK(out.log_size_when_seen == 2);
    CHECK(log == journal{"worker cleaning up", "worker cleanup interrupted"});
}

TEST_CASE("cancelling a task awaiting one that swallows the cancellation: both return "
          "normally, as in asyncio",
          "[task_handle][cancel]") {
    journal log;
    const pass_through_outcome out = run_virtual(cancel_outer_of_swallowing_inner(log));
    CHECK(out.value == 42);
    CHECK(out.outer_cancelling == 1);
    CHECK(out.inner_cancelling == 1);
    CHECK(log == journal{"swallowed"});
}

TEST_CASE("a task that cancels itself gets cancelled_error at its next suspension point",
          "[task_handle][cancel]") {
    journal log;
    steady::duration elapsed{};
    CHECK(run_virtual(self_cancellation(log), elapsed));
    CHECK(elapsed < 1s);
    CHECK(log == journal{"still running", "cancelled at the sleep"});
}

TEST_CASE("uncancel() down to zero withdraws a cancellation not yet delivered (Python 3.13)",
          "[task_handle][cancel]") {
    unsigned left = 99;
    CHECK(run_virtual(withdrawn_self_cancellation(left)) == 3);
    CHECK(left == 0);
}

TEST_CASE("a task cancelled while it is ready to resume gets cancelled_error when it resumes",
          "[task_handle][cancel]") {
    journal log;
    CHECK(run_virtual(cancel_while_ready(log)));
    CHECK(log == journal{"yielder cancelled"});
}

TEST_CASE("a hundred thousand sleeping tasks cancelled at once all finish without waiting for "
          "their timers",
          "[task_handle][cancel][scale]") {
    // On virtual time, "promptly" is exact: the clock only moves if something waits for a timer,
    // so the cancelled sleeps must all end at the instant they were cancelled. (How fast this
    // runs is a benchmark's business, not a test's: the wall time is only reported.)
    constexpr std::size_t n = 100'000;
    aio::event_loop loop{aio::virtual_time};
    const aio::event_loop::time_point before = loop.time();
    const steady::time_point start = steady::now();
    const mass_outcome out = loop.run_until_complete(cancel_many(n));
    const steady::duration elapsed = steady::now() - start;
    CHECK(out.timers_before == n);
    CHECK(out.timers_after == 0);  // every timer left the heap at cancel()
    CHECK(out.done == n);
    CHECK(out.cancelled == n);
    CHECK(out.pending_after == 1);
    CHECK(loop.time() == before);  // no sleep ran to its 10 s deadline
    WARN("100000 tasks created, cancelled and finished in "
         << std::chrono::duration<double>(elapsed).count() << " s of wall time");
}

TEST_CASE("event_loop::cancel_all asks every pending task to stop: shutdown_tasks also runs "
          "the loop until they have cleaned up",
          "[event_loop][cancel]") {
    journal log;
    aio::event_loop loop{aio::virtual_time};
    aio::task_handle<void> a = loop.create_task(sleep_then_clean_up(10s, 5ms, "a", log));
    aio::task_handle<void> b = loop.create_task(sleep_noting(10s, "b", log));
    loop.run_until_complete(nap(1ms));  // both started and asleep
    CHECK(loop.pending_tasks() == 2);
    const steady::time_point start = loop.time();
    SECTION("shutdown_tasks") {
        CHECK(loop.shutdown_tasks() == 2);
    }
    SECTION("cancel_all, then running the loop") {
        CHECK(loop.cancel_all() == 2);
        CHECK(loop.pending_tasks() == 2);  // asked, not finished yet
        loop.run_until_complete(nap(20ms));
    }
    CHECK(loop.time() - start < 1s);
    CHECK(loop.pending_tasks() == 0);
    CHECK(a.cancelled());
    CHECK(b.cancelled());
    std::sort(log.begin(), log.end());
    CHECK(log == journal{"a cleaned up", "a cleaning up", "b cancelled"});
}

TEST_CASE("run cancels the tasks still pending when main returns and lets them finish an "
          "awaiting cleanup",
          "[run][cancel]") {
    journal log;
    steady::duration elapsed{};
    CHECK(run_virtual(leave_cleaning_tasks_behind(log), elapsed) == 5);
    CHECK(elapsed < 1s);
    std::sort(log.begin(), log.end());
    CHECK(log == journal{"left 1 cleaned up", "left 1 cleaning up", "left 2 cleaned up",
                         "left 2 cleaning up"});
}

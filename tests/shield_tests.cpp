// SPDX-License-Identifier: MIT
// Tests for <aio/shield.hpp>: cancelling a task that awaits shield(work) interrupts the wait at
// once, but the work keeps running to completion; without a cancellation shield is a plain
// await (value, exception); cancelling the work itself still reaches the waiter.
//
// Scenarios are coroutines that return what they observed; the REQUIREs stay outside.
#include "helpers/catch.hpp"
#include "helpers/journal.hpp"
#include "helpers/test_error.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/errors.hpp>
#include <aio/event_loop.hpp>
#include <aio/run.hpp>
#include <aio/shield.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// Work that must not be interrupted: sleeps, then notes it finished.
aio::task<int> save(std::chrono::milliseconds delay, int value, journal& log) {
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
        log.push_back("save cancelled");
        throw;
    }
    log.push_back("saved");
    co_return value;
}

aio::task<int> await_shielded_handle(aio::task_handle<int> work, journal& log) {
    try {
        co_return co_await aio::shield(work);
    } catch (const aio::cancelled_error&) {
        log.push_back("waiter cancelled");
        throw;
    }
}

aio::task<int> await_shielded_task(std::chrono::milliseconds delay, journal& log) {
    try {
        co_return co_await aio::shield(save(delay, 9, log));
    } catch (const aio::cancelled_error&) {
        log.push_back("waiter cancelled");
        throw;
    }
}

struct shield_outcome {
    bool waiter_cancelled = false;
    bool work_cancelled = true;
    int work_result = 0;
    int waiter_result = 0;
    unsigned waiter_cancelling = 0;
    unsigned work_cancelling = 99;
};

aio::task<shield_outcome> cancel_waiter_of_shielded_handle(journal& log) {
    shield_outcome out;
    aio::task_handle<int> work = aio::create_task(save(100ms, 7, log));
    aio::task_handle<int> waiter = aio::create_task(await_shielded_handle(work, log));
    co_await aio::sleep(5ms);
    waiter.cancel();
    try {
        co_await waiter;
    } catch (const aio::cancelled_error&) {
        out.waiter_cancelled = waiter.cancelled();
    }
    log.push_back("main saw the cancellation");  // before the work is saved
    out.waiter_cancelling = waiter.cancelling();
    out.work_cancelling = work.cancelling();
    out.work_result = co_await work;  // it kept running
    out.work_cancelled = work.cancelled();
    co_return out;
}

aio::task<shield_outcome> cancel_waiter_of_shielded_task(journal& log) {
    shield_outcome out;
    aio::task_handle<int> waiter = aio::create_task(await_shielded_task(100ms, log));
    co_await aio::sleep(5ms);
    waiter.cancel();
    try {
        co_await waiter;
    } catch (const aio::cancelled_error&) {
        out.waiter_cancelled = waiter.cancelled();
    }
    log.push_back("main saw the cancellation");
    co_await aio::sleep(150ms);  // the shielded work finishes meanwhile, on its own
    co_return out;
}

aio::task<shield_outcome> shield_without_cancellation(journal& log) {
    shield_outcome out;
    out.waiter_result = co_await aio::shield(save(5ms, 3, log));
    aio::task_handle<int> work = aio::create_task(save(5ms, 4, log));
    out.work_result = co_await aio::shield(work);
    out.work_cancelled = work.cancelled();
    co_return out;
}

aio::task<std::string> shield_failure() {
    try {
        co_await aio::shield(fail_after(1ms, "work failed"));
    } catch (const test_error& e) {
        co_return e.what();
    }
    co_return "no exception";
}

aio::task<shield_outcome> cancel_the_shielded_work_itself(journal& log) {
    shield_outcome out;
    aio::task_handle<int> work = aio::create_task(save(10s, 1, log));
    aio::task_handle<int> waiter = aio::create_task(await_shielded_handle(work, log));
    co_await aio::sleep(5ms);
    work.cancel();
    try {
        co_await waiter;
    } catch (const aio::cancelled_error&) {
        out.waiter_cancelled = waiter.cancelled();
    }
    out.work_cancelled = work.cancelled();
    out.waiter_cancelling = waiter.cancelling();
    co_return out;
}

/// Cancels itself, then awaits shield(work): the wait ends at once, the work is untouched.
aio::task<int> cancel_self_then_shield(const aio::task_handle<int>* self,
                                       aio::task_handle<int> work) {
    aio::task_handle<int> me = *self;
    me.cancel();
    co_return co_await aio::shield(work);
}

aio::task<shield_outcome> already_cancelled_waiter(journal& log) {
    shield_outcome out;
    aio::task_handle<int> work = aio::create_task(save(100ms, 2, log));
    aio::task_handle<int> waiter;
    waiter = aio::create_task(cancel_self_then_shield(&waiter, work));
    try {
        co_await waiter;
    } catch (const aio::cancelled_error&) {
        out.waiter_cancelled = waiter.cancelled();
    }
    log.push_back("waiter done");
    out.work_result = co_await work;
    out.work_cancelled = work.cancelled();
    co_return out;
}

/// The common pattern: a waiter that swallows the shield's cancellation and then waits for the
/// work after all (e.g. to finish a save before shutting down).
aio::task<int> swallow_then_await(aio::task_handle<int> work, journal& log) {
    try {
        co_return co_await aio::shield(work);
    } catch (const aio::cancelled_error&) {
        log.push_back("waiter cancelled, waiting anyway");
    }
    co_return co_await work;
}

aio::task<shield_outcome> swallow_and_wait_anyway(journal& log) {
    shield_outcome out;
    aio::task_handle<int> work = aio::create_task(save(100ms, 5, log));
    aio::task_handle<int> waiter = aio::create_task(swallow_then_await(work, log));
    co_await aio::sleep(5ms);
    waiter.cancel();
    out.waiter_result = co_await waiter;
    out.waiter_cancelled = waiter.cancelled();
    out.work_cancelled = work.cancelled();
    co_return out;
}

aio::task<std::string> text_after(std::chrono::milliseconds delay, std::string text) {
    co_await aio::sleep(delay);
    co_return text;
}

struct shared_result_outcome {
    std::string through_shield;
    std::string through_handle;
};

aio::task<shared_result_outcome> shield_a_shared_handle() {
    shared_result_outcome out;
    aio::task_handle<std::string> work =
        aio::create_task(text_after(1ms, "a string too long for SSO"));
    out.through_shield = co_await aio::shield(work);
    out.through_handle = work.result();
    co_return out;
}

} // namespace

TEST_CASE("shield keeps a task running to completion when the task awaiting it is cancelled",
          "[shield]") {
    journal log;
    const shield_outcome out = run_virtual(cancel_waiter_of_shielded_handle(log));
    CHECK(out.waiter_cancelled);
    CHECK(out.waiter_cancelling == 1);
    CHECK(out.work_cancelling == 0);  // the request never reached the work
    CHECK_FALSE(out.work_cancelled);
    CHECK(out.work_result == 7);
    CHECK(log == journal{"waiter cancelled", "main saw the cancellation", "saved"});
}

TEST_CASE("shield(task) starts the work as a task that outlives its cancelled waiter",
          "[shield]") {
    journal log;
    const shield_outcome out = run_virtual(cancel_waiter_of_shielded_task(log));
    CHECK(out.waiter_cancelled);
    CHECK(log == journal{"waiter cancelled", "main saw the cancellation", "saved"});
}

TEST_CASE("without a cancellation, awaiting shield(work) returns the work's value",
          "[shield]") {
    journal log;
    const shield_outcome out = run_virtual(shield_without_cancellation(log));
    CHECK(out.waiter_result == 3);
    CHECK(out.work_result == 4);
    CHECK_FALSE(out.work_cancelled);
    CHECK(log == journal{"saved", "saved"});
}

TEST_CASE("awaiting shield(work) rethrows the work's exception", "[shield]") {
    CHECK(run_virtual(shield_failure()) == "work failed");
}

TEST_CASE("cancelling the shielded task itself ends the shielded wait with cancelled_error",
          "[shield]") {
    journal log;
    const shield_outcome out = run_virtual(cancel_the_shielded_work_itself(log));
    CHECK(out.work_cancelled);
    CHECK(out.waiter_cancelled);
    CHECK(out.waiter_cancelling == 0);  // the waiter was not asked; its await raised
    CHECK(log == journal{"save cancelled", "waiter cancelled"});
}

TEST_CASE("a task already cancelled when it awaits shield(work) stops at once and the work "
          "runs on",
          "[shield]") {
    journal log;
    const shield_outcome out = run_virtual(already_cancelled_waiter(log));
    CHECK(out.waiter_cancelled);
    CHECK_FALSE(out.work_cancelled);
    CHECK(out.work_result == 2);
    CHECK(log == journal{"waiter done", "saved"});
}

TEST_CASE("a waiter may swallow the shield's cancellation and await the work after all",
          "[shield]") {
    journal log;
    const shield_outcome out = run_virtual(swallow_and_wait_anyway(log));
    CHECK(out.waiter_result == 5);
    CHECK_FALSE(out.waiter_cancelled);
    CHECK_FALSE(out.work_cancelled);
    CHECK(log == journal{"waiter cancelled, waiting anyway", "saved"});
}

// Regression (fixed): `co_await aio::shield(h)` awaits a prvalue, whose operator co_await() && uses
// handle_awaiter<T, /*Move=*/true>: the result is moved out of the task that `h` (and every
// other handle) shares, leaving an empty string behind. shield(task_handle) should copy, like
// gather and wait_for do for handle children (gather_handle_child::take).
TEST_CASE("awaiting shield(handle) copies the result: the handle still holds it",
          "[shield]") {
    const shared_result_outcome out = run_virtual(shield_a_shared_handle());
    CHECK(out.through_shield == "a string too long for SSO");
    CHECK(out.through_handle == "a string too long for SSO");
}

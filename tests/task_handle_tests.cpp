// SPDX-License-Identifier: MIT
// Tests for <aio/task_handle.hpp>: created tasks run on their own, handles share one task,
// result()/exception()/done(), awaiting (many waiters, finished targets), cancel(), and the
// "exception was never retrieved" report.
#include "helpers/capture_stderr.hpp"
#include "helpers/catch.hpp"
#include "helpers/contains.hpp"
#include "helpers/counted.hpp"
#include "helpers/test_error.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/event_loop.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

aio::task<void> log_once(std::string name, std::vector<std::string>& log) {
    log.push_back(name);
    co_return;
}

// Waits (up to 5 s) for `h` to finish without awaiting it: awaiting would retrieve its result.
template <class T>
aio::task<void> poll_until_done(aio::task_handle<T> h) {
    const steady::time_point give_up = aio::get_running_loop().time() + 5s;
    while (!h.done() && aio::get_running_loop().time() < give_up) {
        co_await aio::sleep(1ms);
    }
}

struct state_outcome {
    bool done_before = true;
    bool done_after = false;
    int result = 0;
};

aio::task<state_outcome> create_and_never_await() {
    state_outcome outcome;
    aio::task_handle<int> h = aio::create_task(value_after(5ms, 42));
    outcome.done_before = h.done();
    co_await poll_until_done(h);  // the task runs meanwhile, awaited by nobody
    outcome.done_after = h.done();
    outcome.result = h.result();
    co_return outcome;
}

aio::task<void> created_task_starts_on_next_iteration(std::vector<std::string>& log) {
    aio::task_handle<void> h = aio::create_task(log_once("created task", log));
    log.push_back("creator continues");
    co_await aio::sleep(0ms);
    log.push_back("creator resumed");
    co_await h;
}

struct sharing_outcome {
    bool same_result_object = false;
    int copy_result = 0;
    int assigned_result = 0;
    bool copy_done = false;
};

aio::task<sharing_outcome> copies_share_state() {
    sharing_outcome outcome;
    aio::task_handle<int> original = aio::create_task(value_after(1ms, 9));
    aio::task_handle<int> copy = original;
    aio::task_handle<int> assigned;
    assigned = copy;
    co_await original;
    outcome.copy_done = copy.done() && assigned.done();
    outcome.copy_result = copy.result();
    outcome.assigned_result = assigned.result();
    outcome.same_result_object = &original.result() == &copy.result();
    co_return outcome;
}

struct early_access_outcome {
    bool result_threw = false;
    bool exception_threw = false;
};

aio::task<early_access_outcome> access_before_done() {
    early_access_outcome outcome;
    aio::task_handle<int> h = aio::create_task(value_after(1ms, 1));
    try {
        (void)h.result();
    } catch (const aio::invalid_state_error&) {
        outcome.result_threw = true;
    }
    try {
        (void)h.exception();
    } catch (const aio::invalid_state_error&) {
        outcome.exception_threw = true;
    }
    co_await h;
    co_return outcome;
}

struct failure_outcome {
    std::string rethrown_message;
    std::string exception_message;
    bool success_exception_is_null = false;
};

aio::task<failure_outcome> inspect_failure() {
    failure_outcome outcome;
    aio::task_handle<void> failing = aio::create_task(fail_after<void>(1ms, "handle failed"));
    aio::task_handle<int> succeeding = aio::create_task(value_after(1ms, 1));
    co_await poll_until_done(failing);
    co_await poll_until_done(succeeding);
    try {
        failing.result();
    } catch (const test_error& e) {
        outcome.rethrown_message = e.what();
    }
    const std::exception_ptr error = failing.exception();
    try {
        if (error) {
            std::rethrow_exception(error);
        }
    } catch (const test_error& e) {
        outcome.exception_message = e.what();
    }
    outcome.success_exception_is_null = succeeding.exception() == nullptr;
    co_return outcome;
}

aio::task<int> await_copy(aio::task_handle<int> h) {
    const int value = co_await h;
    co_return value;
}

aio::task<std::vector<int>> many_waiters() {
    aio::task_handle<int> target = aio::create_task(value_after(10ms, 7));
    aio::task_handle<int> first = aio::create_task(await_copy(target));
    aio::task_handle<int> second = aio::create_task(await_copy(target));
    const int direct = co_await target;
    const int a = co_await first;
    const int b = co_await second;
    co_return std::vector<int>{direct, a, b};
}

struct finished_await_outcome {
    int value = 0;
    bool other_ran_during_await = true;
};

aio::task<finished_await_outcome> await_finished_handle() {
    finished_await_outcome outcome;
    std::vector<std::string> log;
    aio::task_handle<int> h = aio::create_task(immediately(3));
    co_await aio::sleep(1ms);
    // `other` is ready to run: if awaiting the finished handle suspended, it would run first.
    aio::task_handle<void> other = aio::create_task(log_once("other", log));
    outcome.value = co_await h;
    outcome.other_ran_during_await = !log.empty();
    co_await other;
    co_return outcome;
}

aio::task<bool> lvalue_await_refers_to_shared_result() {
    aio::task_handle<std::string> h = aio::create_task(string_after(1ms, "shared"));
    auto&& result = co_await h;
    static_assert(std::is_same_v<decltype(result), std::string&>);
    co_return &result == &h.result() && result == "shared";
}

aio::task<int> move_await_takes_value() {
    aio::task_handle<std::unique_ptr<int>> h = aio::create_task(unique_after(1ms, 12));
    std::unique_ptr<int> p = co_await std::move(h);
    co_return p ? *p : -1;
}

aio::task<void> sleep_noting_cancel(std::chrono::milliseconds delay, bool& saw_cancel) {
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
        saw_cancel = true;
        throw;
    }
}

struct cancel_outcome {
    bool cancel_returned = false;
    bool await_threw_cancelled = false;
    bool cancelled = false;
    bool result_threw_cancelled = false;
    bool exception_threw_cancelled = false;
    bool second_cancel_returned = true;
};

aio::task<cancel_outcome> cancel_sleeping_task(bool& saw_cancel) {
    cancel_outcome outcome;
    aio::task_handle<void> sleeper = aio::create_task(sleep_noting_cancel(10s, saw_cancel));
    co_await aio::sleep(10ms);
    outcome.cancel_returned = sleeper.cancel();
    try {
        co_await sleeper;
    } catch (const aio::cancelled_error&) {
        outcome.await_threw_cancelled = true;
    }
    outcome.cancelled = sleeper.cancelled();
    try {
        sleeper.result();
    } catch (const aio::cancelled_error&) {
        outcome.result_threw_cancelled = true;
    }
    try {
        (void)sleeper.exception();
    } catch (const aio::cancelled_error&) {
        outcome.exception_threw_cancelled = true;
    }
    outcome.second_cancel_returned = sleeper.cancel();  // already done
    co_return outcome;
}

aio::task<bool> cancel_before_start(bool& body_ran) {
    aio::task_handle<void> h = aio::create_task(set_flag(body_ran));
    h.cancel();
    try {
        co_await h;
    } catch (const aio::cancelled_error&) {
        co_return h.cancelled();
    }
    co_return false;
}

aio::task<void> finish_later(counted c, bool& finished) {
    co_await aio::sleep(5ms);
    finished = true;
    (void)c;
}

aio::task<int> drop_handle_immediately(bool& finished) {
    (void)aio::create_task(finish_later(counted(1), finished));
    const int alive_while_running = counted::alive();
    const steady::time_point give_up = aio::get_running_loop().time() + 5s;
    while (!finished && aio::get_running_loop().time() < give_up) {
        co_await aio::sleep(1ms);
    }
    co_return alive_while_running;
}

enum class retrieval { none, await, result, exception };

aio::task<void> fail_and_retrieve(retrieval how) {
    aio::task_handle<void> h = aio::create_task(fail_after<void>(1ms, "the failure"));
    co_await poll_until_done(h);
    try {
        switch (how) {
        case retrieval::none:
            break;
        case retrieval::await:
            co_await h;
            break;
        case retrieval::result:
            h.result();
            break;
        case retrieval::exception:
            (void)h.exception();
            break;
        }
    } catch (const test_error&) {
    }
}

aio::task<void> cancel_and_drop() {
    bool saw_cancel = false;
    aio::task_handle<void> h = aio::create_task(sleep_noting_cancel(10s, saw_cancel));
    co_await aio::sleep(1ms);
    h.cancel();
    co_await aio::sleep(1ms);
}

// Not inlined: when GCC 12 (-O3, large TU) sees result() called on a handle it knows is empty,
// it warns (-Warray-bounds, an error with -Werror) about the promise access after the check.
[[gnu::noinline]] bool result_throws_invalid_state(const aio::task_handle<int>& h) {
    try {
        (void)h.result();
    } catch (const aio::invalid_state_error&) {
        return true;
    }
    return false;
}

} // namespace

TEST_CASE("a created task runs without being awaited, and result() works afterwards",
          "[task_handle]") {
    const state_outcome outcome = run_virtual(create_and_never_await());
    CHECK_FALSE(outcome.done_before);
    CHECK(outcome.done_after);
    CHECK(outcome.result == 42);
}

TEST_CASE("a created task starts on the next loop iteration, not inside create_task",
          "[task_handle]") {
    std::vector<std::string> log;
    run_virtual(created_task_starts_on_next_iteration(log));
    CHECK(log == std::vector<std::string>{"creator continues", "created task", "creator resumed"});
}

TEST_CASE("handle copies share one task", "[task_handle]") {
    const sharing_outcome outcome = run_virtual(copies_share_state());
    CHECK(outcome.copy_done);
    CHECK(outcome.copy_result == 9);
    CHECK(outcome.assigned_result == 9);
    CHECK(outcome.same_result_object);
}

TEST_CASE("result() and exception() before the task finished throw invalid_state_error",
          "[task_handle]") {
    const early_access_outcome outcome = run_virtual(access_before_done());
    CHECK(outcome.result_threw);
    CHECK(outcome.exception_threw);
}

TEST_CASE("result() rethrows the task's exception and exception() returns it", "[task_handle]") {
    const failure_outcome outcome = run_virtual(inspect_failure());
    CHECK(outcome.rethrown_message == "handle failed");
    CHECK(outcome.exception_message == "handle failed");
    CHECK(outcome.success_exception_is_null);
}

TEST_CASE("an empty handle is not valid and its result() throws invalid_state_error",
          "[task_handle]") {
    aio::task_handle<int> empty;
    CHECK_FALSE(empty.valid());
    CHECK(result_throws_invalid_state(empty));
}

TEST_CASE("create_task of an empty task throws invalid_state_error", "[task_handle]") {
    aio::event_loop loop;
    aio::task<int> t = immediately(1);
    aio::task<int> owner = std::move(t);
    CHECK_THROWS_AS(loop.create_task(std::move(t)), aio::invalid_state_error);
    CHECK(loop.pending_tasks() == 0);
}

TEST_CASE("several coroutines can await the same handle", "[task_handle]") {
    CHECK(run_virtual(many_waiters()) == std::vector<int>{7, 7, 7});
}

TEST_CASE("awaiting an already finished handle returns at once, without yielding",
          "[task_handle]") {
    const finished_await_outcome outcome = run_virtual(await_finished_handle());
    CHECK(outcome.value == 3);
    CHECK_FALSE(outcome.other_ran_during_await);
}

TEST_CASE("co_await on a handle yields a reference to the shared result", "[task_handle]") {
    CHECK(run_virtual(lvalue_await_refers_to_shared_result()));
}

TEST_CASE("co_await std::move(handle) yields the value, move-only included", "[task_handle]") {
    CHECK(run_virtual(move_await_takes_value()) == 12);
}

TEST_CASE("cancel() ends a sleeping task at once, without waiting for its deadline",
          "[task_handle]") {
    bool saw_cancel = false;
    steady::duration elapsed{};
    const cancel_outcome outcome = run_virtual(cancel_sleeping_task(saw_cancel), elapsed);
    CHECK(saw_cancel);  // the task itself observed cancelled_error at its sleep
    CHECK(outcome.cancel_returned);
    CHECK(outcome.await_threw_cancelled);
    CHECK(outcome.cancelled);
    CHECK(outcome.result_threw_cancelled);
    CHECK(outcome.exception_threw_cancelled);
    CHECK_FALSE(outcome.second_cancel_returned);
    CHECK(elapsed >= 10ms);
    CHECK(elapsed < 1s);  // not the 10 s it was sleeping for
}

TEST_CASE("a task cancelled before it starts never runs its body", "[task_handle]") {
    bool body_ran = false;
    CHECK(run_virtual(cancel_before_start(body_ran)));
    CHECK_FALSE(body_ran);
}

TEST_CASE("the loop keeps a created task alive until it finishes, though every handle is gone",
          "[task_handle]") {
    counted::reset_counts();
    bool finished = false;
    const int alive_while_running = run_virtual(drop_handle_immediately(finished));
    CHECK(alive_while_running == 1);
    CHECK(finished);
    CHECK(counted::alive() == 0);
}

TEST_CASE("an exception nobody retrieves is reported on stderr, a retrieved one is not",
          "[task_handle]") {
    const auto how = GENERATE(retrieval::none, retrieval::await, retrieval::result,
                              retrieval::exception);
    CAPTURE(static_cast<int>(how));
    capture_stderr capture;
    run_virtual(fail_and_retrieve(how));
    const std::string text = capture.stop();
    const bool reported = contains(text, "exception was never retrieved") &&
                          contains(text, "the failure");
    CHECK(reported == (how == retrieval::none));
}

TEST_CASE("a cancelled task is not reported as an unretrieved exception", "[task_handle]") {
    capture_stderr capture;
    run_virtual(cancel_and_drop());
    const std::string text = capture.stop();
    CHECK_FALSE(contains(text, "never retrieved"));
}

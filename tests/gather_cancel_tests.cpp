// SPDX-License-Identifier: MIT
// Cancellation and gather (<aio/gather.hpp>, <aio/outcome.hpp>): a failing child cancels its
// siblings, which observe cancelled_error and finish before the first exception is rethrown;
// gather(aio::return_exceptions, ...) cancels nothing and returns aio::outcome<T>s (value,
// exception, cancelled) — yet a cancellation of the awaiting task still raises cancelled_error
// (CPython issue 76865, where return_exceptions=True swallowed it); cancelling the awaiting
// task cancels every child, whether given as a task or as a task handle.
//
// Scenarios are coroutines that return what they observed; the REQUIREs stay outside.
#include "helpers/cancellation_tasks.hpp"
#include "helpers/catch.hpp"
#include "helpers/journal.hpp"
#include "helpers/test_error.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/errors.hpp>
#include <aio/event_loop.hpp>
#include <aio/gather.hpp>
#include <aio/outcome.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

aio::task<void> cancelled_after(std::chrono::milliseconds delay) {
    co_await aio::sleep(delay);
    throw aio::cancelled_error{};  // a child may end cancelled on its own
}

/// On cancellation, awaits a 5 ms cleanup, notes it, and re-raises.
aio::task<int> sleep_then_clean_up(std::chrono::milliseconds delay, std::string name,
                                   journal& log) {
    std::exception_ptr cancelled;
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (!cancelled) {
        co_return 0;
    }
    co_await aio::sleep(5ms);
    log.push_back(name + " cleaned up");
    std::rethrow_exception(cancelled);
}

struct failure_outcome {
    std::string caught;
    std::size_t log_size_when_seen = 0;
    bool handle_cancelled = false;
};

aio::task<failure_outcome> failure_cancels_siblings(journal& log) {
    failure_outcome out;
    try {
        co_await aio::gather(value_after(10s, 1, log), fail_after(5ms, "boom", log),
                             sleep_then_clean_up(10s, "cleaner", log),
                             fail_after(100ms, "later", log));
    } catch (const test_error& e) {
        out.caught = e.what();
        out.log_size_when_seen = log.size();
    }
    co_return out;
}

aio::task<failure_outcome> failure_cancels_handle_children(journal& log) {
    failure_outcome out;
    aio::task_handle<int> sibling = aio::create_task(value_after(10s, 1, log));
    try {
        co_await aio::gather(sibling, fail_after(5ms, "boom", log));
    } catch (const test_error& e) {
        out.caught = e.what();
    }
    out.handle_cancelled = sibling.cancelled();
    co_return out;
}

aio::task<failure_outcome> range_failure_cancels_siblings(journal& log) {
    failure_outcome out;
    std::vector<aio::task<int>> tasks;
    tasks.push_back(value_after(10s, 1, log));
    tasks.push_back(fail_after(5ms, "boom", log));
    tasks.push_back(value_after(10s, 3, log));
    try {
        co_await aio::gather(std::move(tasks));
    } catch (const test_error& e) {
        out.caught = e.what();
        out.log_size_when_seen = log.size();
    }
    co_return out;
}

aio::task<failure_outcome> failure_with_a_swallowing_sibling(journal& log) {
    failure_outcome out;
    try {
        co_await aio::gather(swallow_cancellation(log), fail_after(5ms, "boom", log));
    } catch (const test_error& e) {
        out.caught = e.what();
    }
    co_return out;
}

aio::task<bool> child_cancelled_on_its_own(journal& log) {
    try {
        co_await aio::gather(value_after(10s, 1, log), cancelled_after(5ms));
    } catch (const aio::cancelled_error&) {
        co_return true;
    }
    co_return false;
}

// ---- return_exceptions ---------------------------------------------------------------------

struct collect_outcome {
    bool first_has_value = false;
    int first_value = 0;
    bool second_has_value = true;
    std::string second_error;
    bool second_cancelled = true;
    bool third_cancelled = false;
    bool third_has_value = true;
    bool value_rethrew = false;
    bool first_error_is_null = false;
    bool fourth_is_4 = false;
};

aio::task<collect_outcome> collect_everything(journal& log) {
    collect_outcome out;
    // Gaps of tens of ms keep the completion order even if the machine stalls the loop.
    auto [a, b, c, d] = co_await aio::gather(aio::return_exceptions, value_after(100ms, 1, log),
                                             fail_after(30ms, "boom", log), cancelled_after(1ms),
                                             value_after(1ms, 4, log));
    out.first_has_value = static_cast<bool>(a);
    out.first_value = *a;
    out.first_error_is_null = a.error() == nullptr;
    out.second_has_value = b.has_value();
    try {
        std::rethrow_exception(b.error());
    } catch (const test_error& e) {
        out.second_error = e.what();
    }
    out.second_cancelled = b.cancelled();
    try {
        (void)b.value();
    } catch (const test_error&) {
        out.value_rethrew = true;
    }
    out.third_cancelled = c.cancelled();
    out.third_has_value = c.has_value();
    out.fourth_is_4 = d.has_value() && *d == 4;
    co_return out;
}

aio::task<std::vector<std::string>> collect_range(journal& log) {
    std::vector<aio::task<int>> tasks;
    tasks.push_back(value_after(100ms, 1, log));
    tasks.push_back(fail_after(5ms, "boom", log));
    tasks.push_back(value_after(50ms, 3, log));
    std::vector<aio::outcome<int>> results =
        co_await aio::gather(aio::return_exceptions, std::move(tasks));
    std::vector<std::string> described;
    for (auto& r : results) {
        if (r) {
            described.push_back(std::to_string(*r));
        } else {
            try {
                std::rethrow_exception(r.error());
            } catch (const std::exception& e) {
                described.push_back(e.what());
            }
        }
    }
    co_return described;
}

aio::task<std::vector<std::string>> collect_handle_cancelled_by_someone_else(journal& log) {
    aio::task_handle<int> victim = aio::create_task(value_after(10s, 1, log));
    aio::task_handle<int> other = aio::create_task(value_after(10ms, 2, log));
    co_await aio::sleep(1ms);
    victim.cancel();
    auto [v, o] = co_await aio::gather(aio::return_exceptions, victim, other);
    co_return std::vector<std::string>{v.cancelled() ? "cancelled" : "not cancelled",
                                       o ? std::to_string(*o) : "error"};
}

// ---- the awaiting task is cancelled --------------------------------------------------------

aio::task<void> gather_collecting(journal& log) {
    try {
        co_await aio::gather(aio::return_exceptions, value_after(10s, 1, log),
                             sleep_then_clean_up(10s, "cleaner", log));
    } catch (const aio::cancelled_error&) {
        log.push_back("gatherer cancelled");
        throw;
    }
    log.push_back("gatherer returned normally");
}

aio::task<void> gather_plain(journal& log) {
    try {
        co_await aio::gather(value_after(10s, 1, log), sleep_then_clean_up(10s, "cleaner", log));
    } catch (const aio::cancelled_error&) {
        log.push_back("gatherer cancelled");
        throw;
    }
}

aio::task<void> gather_handles(aio::task_handle<int> a, aio::task_handle<int> b, journal& log) {
    try {
        co_await aio::gather(a, b);
    } catch (const aio::cancelled_error&) {
        log.push_back("gatherer cancelled");
        throw;
    }
}

aio::task<void> gather_swallowing(journal& log) {
    try {
        co_await aio::gather(swallow_cancellation(log), value_after(10s, 2, log));
    } catch (const aio::cancelled_error&) {
        log.push_back("gatherer cancelled");
        throw;
    }
}

struct outer_cancel_outcome {
    bool outer_cancelled = false;
    std::size_t log_size_when_seen = 0;
    bool a_cancelled = false;
    bool b_cancelled = false;
};

aio::task<outer_cancel_outcome> cancel_outer(aio::task<void> gatherer, journal& log) {
    outer_cancel_outcome out;
    aio::task_handle<void> h = aio::create_task(std::move(gatherer));
    co_await aio::sleep(5ms);
    h.cancel();
    try {
        co_await h;
    } catch (const aio::cancelled_error&) {
        out.outer_cancelled = h.cancelled();
        out.log_size_when_seen = log.size();
    }
    co_return out;
}

aio::task<outer_cancel_outcome> cancel_outer_of_handle_gather(journal& log) {
    aio::task_handle<int> a = aio::create_task(value_after(10s, 1, log));
    aio::task_handle<int> b = aio::create_task(value_after(10s, 2, log));
    outer_cancel_outcome out = co_await cancel_outer(gather_handles(a, b, log), log);
    out.a_cancelled = a.cancelled();
    out.b_cancelled = b.cancelled();
    co_return out;
}

aio::task<void> note_ran(bool& ran) {
    ran = true;
    co_return;
}

aio::task<void> cancel_self_then_gather(const aio::task_handle<void>* self, bool& child_ran) {
    aio::task_handle<void> me = *self;
    me.cancel();
    co_await aio::gather(aio::return_exceptions, note_ran(child_ran));
}

aio::task<bool> self_cancelled_gather(bool& child_ran) {
    aio::task_handle<void> h;
    h = aio::create_task(cancel_self_then_gather(&h, child_ran));
    try {
        co_await h;
    } catch (const aio::cancelled_error&) {
        co_return h.cancelled();
    }
    co_return false;
}

/// A child that cancels the task awaiting the gather during its first (synchronous) step, i.e.
/// while the gather is still starting its children.
aio::task<int> cancel_the_gatherer(const aio::task_handle<void>* gatherer) {
    aio::task_handle<void> h = *gatherer;
    h.cancel();
    co_return 0;
}

aio::task<void> gather_with_a_child_cancelling_it(const aio::task_handle<void>* self,
                                                  journal& log) {
    co_await aio::gather(cancel_the_gatherer(self), value_after(200ms, 2, log));
}

aio::task<bool> cancelled_while_starting_children(journal& log) {
    aio::task_handle<void> h;
    h = aio::create_task(gather_with_a_child_cancelling_it(&h, log));
    try {
        co_await h;
    } catch (const aio::cancelled_error&) {
        co_return h.cancelled();
    }
    co_return false;
}

} // namespace

TEST_CASE("a failing gather child cancels its siblings, which finish their cleanup before the "
          "first exception is rethrown",
          "[gather][cancel]") {
    journal log;
    steady::duration elapsed{};
    const failure_outcome out = run_virtual(failure_cancels_siblings(log), elapsed);
    CHECK(out.caught == "boom");
    CHECK(out.log_size_when_seen == log.size());
    // "later" never throws: it was cancelled in its sleep.
    CHECK(log == journal{"boom thrown", "1 cancelled", "cleaner cleaned up"});
    CHECK(elapsed >= 10ms);  // 5 ms + the 5 ms cleanup
    CHECK(elapsed < 1s);
}

TEST_CASE("a failing gather child cancels the sibling task handles too", "[gather][cancel]") {
    journal log;
    const failure_outcome out = run_virtual(failure_cancels_handle_children(log));
    CHECK(out.caught == "boom");
    CHECK(out.handle_cancelled);
    CHECK(log == journal{"boom thrown", "1 cancelled"});
}

TEST_CASE("a failing child of a range gather cancels its siblings", "[gather][cancel]") {
    journal log;
    steady::duration elapsed{};
    const failure_outcome out = run_virtual(range_failure_cancels_siblings(log), elapsed);
    CHECK(elapsed < 1s);
    CHECK(out.caught == "boom");
    CHECK(out.log_size_when_seen == 3);
    CHECK(log == journal{"boom thrown", "1 cancelled", "3 cancelled"});
}

TEST_CASE("gather rethrows the first exception even if a cancelled sibling swallows the "
          "cancellation and returns",
          "[gather][cancel]") {
    journal log;
    const failure_outcome out = run_virtual(failure_with_a_swallowing_sibling(log));
    CHECK(out.caught == "boom");
    CHECK(log == journal{"boom thrown", "swallowed"});
}

TEST_CASE("a gather child that ends cancelled on its own makes gather throw cancelled_error and "
          "cancels its siblings",
          "[gather][cancel]") {
    journal log;
    steady::duration elapsed{};
    CHECK(run_virtual(child_cancelled_on_its_own(log), elapsed));
    CHECK(elapsed < 1s);
    CHECK(log == journal{"1 cancelled"});
}

TEST_CASE("gather(return_exceptions, ...) cancels nothing and returns each child's outcome",
          "[gather][cancel][outcome]") {
    journal log;
    const collect_outcome out = run_virtual(collect_everything(log));
    CHECK(out.first_has_value);
    CHECK(out.first_value == 1);
    CHECK(out.first_error_is_null);
    CHECK_FALSE(out.second_has_value);
    CHECK(out.second_error == "boom");
    CHECK_FALSE(out.second_cancelled);
    CHECK(out.value_rethrew);
    CHECK(out.third_cancelled);
    CHECK_FALSE(out.third_has_value);
    CHECK(out.fourth_is_4);
    CHECK(log == journal{"4 done", "boom thrown", "1 done"});  // the failure cancelled nobody
}

TEST_CASE("gather(return_exceptions, range) returns outcomes in range order",
          "[gather][cancel][outcome]") {
    journal log;
    CHECK(run_virtual(collect_range(log)) == std::vector<std::string>{"1", "boom", "3"});
    CHECK(log == journal{"boom thrown", "3 done", "1 done"});
}

TEST_CASE("gather(return_exceptions, ...) reports a handle cancelled by someone else as "
          "cancelled",
          "[gather][cancel][outcome]") {
    journal log;
    CHECK(run_virtual(collect_handle_cancelled_by_someone_else(log)) ==
          std::vector<std::string>{"cancelled", "2"});
}

TEST_CASE("cancelling the task awaiting gather(return_exceptions, ...) still throws "
          "cancelled_error and cancels the children (CPython issue 76865)",
          "[gather][cancel][outcome]") {
    journal log;
    steady::duration elapsed{};
    const outer_cancel_outcome out =
        run_virtual(cancel_outer(gather_collecting(log), log), elapsed);
    CHECK(elapsed < 1s);
    CHECK(out.outer_cancelled);
    CHECK(log == journal{"1 cancelled", "cleaner cleaned up", "gatherer cancelled"});
    CHECK(out.log_size_when_seen == 3);
}

TEST_CASE("cancelling the task awaiting a gather waits for the children's cleanup before "
          "cancelled_error",
          "[gather][cancel]") {
    journal log;
    steady::duration elapsed{};
    const outer_cancel_outcome out = run_virtual(cancel_outer(gather_plain(log), log), elapsed);
    CHECK(out.outer_cancelled);
    CHECK(log == journal{"1 cancelled", "cleaner cleaned up", "gatherer cancelled"});
    CHECK(elapsed >= 10ms);
    CHECK(elapsed < 1s);
}

TEST_CASE("cancelling the task awaiting a gather of task handles cancels those tasks",
          "[gather][cancel]") {
    journal log;
    const outer_cancel_outcome out = run_virtual(cancel_outer_of_handle_gather(log));
    CHECK(out.outer_cancelled);
    CHECK(out.a_cancelled);
    CHECK(out.b_cancelled);
    CHECK(log == journal{"1 cancelled", "2 cancelled", "gatherer cancelled"});
}

TEST_CASE("cancelling the task awaiting a gather raises cancelled_error even if a child "
          "swallows the cancellation",
          "[gather][cancel]") {
    journal log;
    const outer_cancel_outcome out = run_virtual(cancel_outer(gather_swallowing(log), log));
    CHECK(out.outer_cancelled);
    CHECK(log == journal{"swallowed", "2 cancelled", "gatherer cancelled"});
}

TEST_CASE("a task already cancelled when it awaits a gather never starts the children",
          "[gather][cancel]") {
    bool child_ran = false;
    CHECK(run_virtual(self_cancelled_gather(child_ran)));
    CHECK_FALSE(child_ran);
}

// Regression (fixed): a cancel() of the awaiting task that arrives while gather is starting its
// children (here: from a child's first, synchronous step) is neither delivered nor passed on. The
// request lands in the root's pending flag (no hook is parked yet); end_start() then parks the
// gather without looking at it, so the siblings run to their end (200 ms here, forever for an
// endless one) and only then does await_resume raise cancelled_error. Expected: the siblings
// are cancelled at once (asyncio's gather future is cancelled). Same gap in wait_for.
TEST_CASE("a cancellation of the awaiting task that arrives while gather starts its children "
          "cancels the children",
          "[gather][cancel]") {
    journal log;
    CHECK(run_virtual(cancelled_while_starting_children(log)));
    CHECK(log == journal{"2 cancelled"});
}

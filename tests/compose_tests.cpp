// SPDX-License-Identifier: MIT
// Tests that the library's awaitables compose: wait_for, shield and gather accept every
// awaitable the library returns (a gather of arguments or of a range, wait, as_completed's
// next, shield, sleep, wait_for itself, a task handle), which are moved into a wrapper task
// before they are awaited. Each combination completes with the inner result when in time, and
// times out (wait_for) or survives its waiter's cancellation (shield) as it does for a task.
// Handle children that a gather watches from its construction stay watched across the move.
//
// Scenarios are coroutines that return what they observed; the REQUIREs stay outside. GCC 12:
// every awaitable is built in a named local before it is awaited.
#include "helpers/catch.hpp"
#include "helpers/journal.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/errors.hpp>
#include <aio/event_loop.hpp>
#include <aio/gather.hpp>
#include <aio/run.hpp>
#include <aio/shield.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>
#include <aio/wait.hpp>
#include <aio/wait_for.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

aio::task<int> noted_value_after(std::chrono::milliseconds delay, int value, journal& log) {
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
        log.push_back("cancelled " + std::to_string(value));
        throw;
    }
    log.push_back("done " + std::to_string(value));
    co_return value;
}

std::vector<aio::task<int>> tasks_after(std::chrono::milliseconds delay, journal& log) {
    std::vector<aio::task<int>> tasks;
    tasks.push_back(noted_value_after(delay, 1, log));
    tasks.push_back(noted_value_after(delay, 2, log));
    return tasks;
}

/// How a timed wait ended, with the result if it had one.
template <class T>
struct timed {
    bool timed_out = false;
    T value{};
};

template <class Op>
using result_of = std::remove_cvref_t<decltype(std::declval<Op&>().await_resume())>;

/// Awaits `op` (a wait_for awaitable in the caller's frame) and says how it ended.
template <class Op>
aio::task<timed<result_of<Op>>> observe(Op& op) {
    timed<result_of<Op>> out;
    try {
        out.value = co_await op;
    } catch (const aio::timeout_error&) {
        out.timed_out = true;
    }
    co_return out;
}

// ---- wait_for(gather(...)) -------------------------------------------------------------------

aio::task<timed<std::tuple<int, int>>> wait_for_gather_args(std::chrono::milliseconds work,
                                                            std::chrono::milliseconds timeout,
                                                            journal& log) {
    auto op = aio::wait_for(
        aio::gather(noted_value_after(work, 1, log), noted_value_after(work, 2, log)), timeout);
    co_return co_await observe(op);
}

aio::task<timed<std::vector<int>>> wait_for_gather_range(std::chrono::milliseconds work,
                                                         std::chrono::milliseconds timeout,
                                                         journal& log) {
    auto op = aio::wait_for(aio::gather(tasks_after(work, log)), timeout);
    co_return co_await observe(op);
}

struct handles_seen {
    std::vector<int> results;
    bool first_done = false;   // the handle that had finished before the gather was made
    bool second_done = false;  // the one still running then
};

/// A gather of two handles, one finished and one running when the gather is made (so it is
/// watched from then on), moved into wait_for.
aio::task<handles_seen> wait_for_gather_of_handles(bool range) {
    aio::task_handle<int> finished = aio::create_task(value_after(0ms, 1));
    co_await aio::sleep(5ms);
    aio::task_handle<int> running = aio::create_task(value_after(10ms, 2));
    handles_seen out;
    if (range) {
        std::vector<aio::task_handle<int>> handles{finished, running};
        auto op = aio::wait_for(aio::gather(handles), 10s);
        out.results = co_await op;
    } else {
        auto op = aio::wait_for(aio::gather(finished, running), 10s);
        auto [a, b] = co_await op;
        out.results = {a, b};
    }
    out.first_done = finished.done();
    out.second_done = running.done();
    co_return out;
}

/// Two range gathers over the same running handles: the second watches them through nodes of
/// its own (the first holds the shared slot); both are moved into wait_for.
aio::task<std::vector<int>> two_range_gathers_of_the_same_handles() {
    std::vector<aio::task_handle<int>> handles;
    for (int i = 0; i < 3; ++i) {
        handles.push_back(aio::create_task(value_after(std::chrono::milliseconds(5 * i), i)));
    }
    auto first = aio::wait_for(aio::gather(handles), 10s);
    auto second = aio::wait_for(aio::gather(handles), 10s);
    std::vector<int> a = co_await first;
    std::vector<int> b = co_await second;
    a.insert(a.end(), b.begin(), b.end());
    co_return a;
}

// ---- wait_for(wait / next / shield / sleep / wait_for) ----------------------------------------

struct wait_seen {
    bool timed_out = false;
    std::size_t done = 0;
    std::size_t pending = 0;
    bool slow_cancelled = false;
};

aio::task<wait_seen> wait_for_wait(std::chrono::milliseconds timeout) {
    std::vector<aio::task_handle<int>> handles{aio::create_task(value_after(1ms, 1)),
                                               aio::create_task(value_after(50ms, 2))};
    wait_seen out;
    auto op = aio::wait_for(aio::wait(handles, aio::return_when::all_completed), timeout);
    try {
        aio::wait_result<int> r = co_await op;
        out.done = r.done.size();
        out.pending = r.pending.size();
    } catch (const aio::timeout_error&) {
        out.timed_out = true;
    }
    out.slow_cancelled = handles[1].cancelled();  // wait cancels nothing, even on a timeout
    co_await handles[1];
    co_return out;
}

aio::task<timed<int>> wait_for_next(std::chrono::milliseconds work,
                                    std::chrono::milliseconds timeout) {
    std::vector<aio::task_handle<int>> handles{aio::create_task(value_after(work, 7))};
    aio::as_completed order(handles);
    auto op = aio::wait_for(order.next(), timeout);
    timed<int> out;
    try {
        aio::task_handle<int> first = co_await op;
        out.value = first.result();
    } catch (const aio::timeout_error&) {
        out.timed_out = true;
    }
    co_await handles[0];  // not cancelled by the timeout: it still finishes
    co_return out;
}

aio::task<timed<int>> wait_for_shield(std::chrono::milliseconds timeout, journal& log) {
    auto op = aio::wait_for(aio::shield(noted_value_after(20ms, 4, log)), timeout);
    timed<int> out = co_await observe(op);
    co_await aio::sleep(40ms);  // the shielded work runs on to its end
    co_return out;
}

aio::task<bool> wait_for_sleep_times_out() {
    auto op = aio::wait_for(aio::sleep(10s), 5ms);
    try {
        co_await op;
    } catch (const aio::timeout_error&) {
        co_return true;
    }
    co_return false;
}

aio::task<timed<int>> wait_for_wait_for(std::chrono::milliseconds inner,
                                        std::chrono::milliseconds outer) {
    auto op = aio::wait_for(aio::wait_for(value_after(10s, 3), inner), outer);
    co_return co_await observe(op);
}

aio::task<timed<int>> wait_for_handle(std::chrono::milliseconds timeout) {
    aio::task_handle<int> h = aio::create_task(value_after(5ms, 6));
    auto op = aio::wait_for(h, timeout);
    co_return co_await observe(op);
}

// ---- shield(any awaitable) --------------------------------------------------------------------

aio::task<bool> await_shielded_gather(journal& log) {
    auto op = aio::shield(aio::gather(noted_value_after(20ms, 1, log), value_after(20ms, 2)));
    try {
        (void)co_await op;
    } catch (const aio::cancelled_error&) {
        co_return true;
    }
    co_return false;
}

/// The task awaiting shield(gather(...)) is cancelled after 5 ms; says whether it saw
/// cancelled_error, once the gather has had the time to finish.
aio::task<bool> shielded_gather_in_a_cancelled_waiter(journal& log) {
    aio::task_handle<bool> waiter = aio::create_task(await_shielded_gather(log));
    co_await aio::sleep(5ms);
    waiter.cancel();
    const bool cancelled = co_await waiter;
    co_await aio::sleep(40ms);  // the shielded gather runs on to its end
    co_return cancelled;
}

aio::task<std::tuple<int, int>> shield_gather(std::chrono::milliseconds work, journal& log) {
    auto op = aio::shield(aio::gather(noted_value_after(work, 1, log), value_after(work, 2)));
    co_return co_await op;
}

aio::task<std::vector<int>> shield_gather_range(journal& log) {
    auto op = aio::shield(aio::gather(tasks_after(1ms, log)));
    co_return co_await op;
}

aio::task<int> shield_wait_for(std::chrono::milliseconds timeout) {
    auto op = aio::shield(aio::wait_for(value_after(1ms, 5), timeout));
    co_return co_await op;
}

aio::task<std::size_t> shield_wait() {
    std::vector<aio::task_handle<int>> handles{aio::create_task(value_after(1ms, 1))};
    auto op = aio::shield(aio::wait(handles));
    aio::wait_result<int> r = co_await op;
    co_return r.done.size();
}

aio::task<int> shield_next() {
    std::vector<aio::task_handle<int>> handles{aio::create_task(value_after(1ms, 8))};
    aio::as_completed order(handles);
    auto op = aio::shield(order.next());
    aio::task_handle<int> first = co_await op;
    co_return first.result();
}

aio::task<bool> shield_sleep() {
    auto op = aio::shield(aio::sleep(1ms));
    co_await op;
    co_return true;
}

aio::task<int> shield_shield() {
    auto op = aio::shield(aio::shield(value_after(1ms, 9)));
    co_return co_await op;
}

// ---- gather(gather(...)) and moving after co_await ---------------------------------------

aio::task<std::tuple<std::tuple<int, int>, std::vector<int>>> gather_of_gathers(journal& log) {
    auto op = aio::gather(aio::gather(value_after(1ms, 1), value_after(2ms, 2)),
                          aio::gather(tasks_after(1ms, log)));
    co_return co_await op;
}

struct move_after_await {
    bool gather_refused = false;
    bool range_refused = false;
    bool wait_for_refused = false;
    bool wait_refused = false;
};

template <class Op>
bool move_refused(Op& op) {
    try {
        Op moved(std::move(op));
    } catch (const aio::invalid_state_error&) {
        return true;
    }
    return false;
}

aio::task<move_after_await> move_awaited_awaitables(journal& log) {
    move_after_await out;
    auto g = aio::gather(value_after(1ms, 1), value_after(1ms, 2));
    (void)co_await g;
    out.gather_refused = move_refused(g);
    auto r = aio::gather(tasks_after(1ms, log));
    (void)co_await r;
    out.range_refused = move_refused(r);
    auto w = aio::wait_for(value_after(1ms, 1), 10s);
    (void)co_await w;
    out.wait_for_refused = move_refused(w);
    std::vector<aio::task_handle<int>> handles{aio::create_task(value_after(1ms, 1))};
    auto wt = aio::wait(handles);
    (void)co_await wt;
    out.wait_refused = move_refused(wt);
    co_return out;
}

}  // namespace

TEST_CASE("wait_for(gather(tasks...)) returns the results in time, and on timeout cancels every "
          "child and throws timeout_error",
          "[compose]") {
    journal log;
    SECTION("in time") {
        const auto out = run_virtual(wait_for_gather_args(1ms, 10s, log));
        CHECK_FALSE(out.timed_out);
        CHECK(out.value == std::tuple<int, int>(1, 2));
    }
    SECTION("timeout") {
        const auto out = run_virtual(wait_for_gather_args(10s, 5ms, log));
        CHECK(out.timed_out);
        CHECK(log == journal{"cancelled 1", "cancelled 2"});
    }
}

TEST_CASE("wait_for(gather(std::move(tasks))) returns the results in time, and on timeout "
          "cancels every child and throws timeout_error",
          "[compose]") {
    journal log;
    SECTION("in time") {
        const auto out = run_virtual(wait_for_gather_range(1ms, 10s, log));
        CHECK_FALSE(out.timed_out);
        CHECK(out.value == std::vector<int>{1, 2});
    }
    SECTION("timeout") {
        const auto out = run_virtual(wait_for_gather_range(10s, 5ms, log));
        CHECK(out.timed_out);
        CHECK(log == journal{"cancelled 1", "cancelled 2"});
    }
}

TEST_CASE("a gather of running task handles moved into wait_for still sees them finish",
          "[compose]") {
    const bool range = GENERATE(false, true);
    CAPTURE(range);
    const handles_seen out = run_virtual(wait_for_gather_of_handles(range));
    CHECK(out.results == std::vector<int>{1, 2});
    CHECK(out.first_done);
    CHECK(out.second_done);
}

TEST_CASE("two range gathers of the same running handles can both be moved into wait_for",
          "[compose]") {
    CHECK(run_virtual(two_range_gathers_of_the_same_handles()) ==
          std::vector<int>{0, 1, 2, 0, 1, 2});
}

TEST_CASE("wait_for(wait(handles)) returns done and pending in time, and times out without "
          "cancelling the tasks",
          "[compose]") {
    SECTION("in time") {
        const wait_seen out = run_virtual(wait_for_wait(10s));
        CHECK_FALSE(out.timed_out);
        CHECK(out.done == 2);
        CHECK(out.pending == 0);
    }
    SECTION("timeout") {
        const wait_seen out = run_virtual(wait_for_wait(10ms));
        CHECK(out.timed_out);
        CHECK_FALSE(out.slow_cancelled);
    }
}

TEST_CASE("wait_for(as_completed's next()) yields the next task in time, and times out leaving "
          "it running",
          "[compose]") {
    SECTION("in time") {
        const timed<int> out = run_virtual(wait_for_next(1ms, 10s));
        CHECK_FALSE(out.timed_out);
        CHECK(out.value == 7);
    }
    SECTION("timeout") {
        const timed<int> out = run_virtual(wait_for_next(50ms, 5ms));
        CHECK(out.timed_out);
    }
}

TEST_CASE("wait_for(shield(work)) times out while the shielded work runs to its end", "[compose]") {
    journal log;
    SECTION("in time") {
        const timed<int> out = run_virtual(wait_for_shield(10s, log));
        CHECK_FALSE(out.timed_out);
        CHECK(out.value == 4);
    }
    SECTION("timeout") {
        const timed<int> out = run_virtual(wait_for_shield(5ms, log));
        CHECK(out.timed_out);
    }
    CHECK(log == journal{"done 4"});
}

TEST_CASE("wait_for of a sleep, of a wait_for and of a task handle time out or complete",
          "[compose]") {
    CHECK(run_virtual(wait_for_sleep_times_out()));
    SECTION("the inner wait_for is shorter") {
        const timed<int> out = run_virtual(wait_for_wait_for(5ms, 10s));
        CHECK(out.timed_out);
    }
    SECTION("the outer wait_for is shorter") {
        const timed<int> out = run_virtual(wait_for_wait_for(10s, 5ms));
        CHECK(out.timed_out);
    }
    SECTION("a task handle in time") {
        const timed<int> out = run_virtual(wait_for_handle(10s));
        CHECK_FALSE(out.timed_out);
        CHECK(out.value == 6);
    }
}

TEST_CASE("shield accepts every awaitable the library returns and yields its result", "[compose]") {
    journal log;
    CHECK(run_virtual(shield_gather(1ms, log)) == std::tuple<int, int>(1, 2));
    CHECK(run_virtual(shield_gather_range(log)) == std::vector<int>{1, 2});
    CHECK(run_virtual(shield_wait_for(10s)) == 5);
    CHECK_THROWS_AS(run_virtual(shield_wait_for(0ms)), aio::timeout_error);
    CHECK(run_virtual(shield_wait()) == 1);
    CHECK(run_virtual(shield_next()) == 8);
    CHECK(run_virtual(shield_sleep()));
    CHECK(run_virtual(shield_shield()) == 9);
}

TEST_CASE("a task awaiting shield(gather(...)) is cancelled at once while the gather runs to "
          "its end",
          "[compose]") {
    journal log;
    CHECK(run_virtual(shielded_gather_in_a_cancelled_waiter(log)));
    CHECK(log == journal{"done 1"});
}

TEST_CASE("gather accepts gathers as children", "[compose]") {
    journal log;
    const auto [args, range] = run_virtual(gather_of_gathers(log));
    CHECK(args == std::tuple<int, int>(1, 2));
    CHECK(range == std::vector<int>{1, 2});
}

TEST_CASE("a gather, wait or wait_for that was awaited refuses to be moved with "
          "invalid_state_error",
          "[compose]") {
    journal log;
    const move_after_await out = run_virtual(move_awaited_awaitables(log));
    CHECK(out.gather_refused);
    CHECK(out.range_refused);
    CHECK(out.wait_for_refused);
    CHECK(out.wait_refused);
}

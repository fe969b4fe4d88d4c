// SPDX-License-Identifier: MIT
// Tests for <aio/gather.hpp>: concurrency, result order and types, tasks and handles as
// children, ranges, and the failure policy (first error rethrown once every child finished,
// siblings cancelled — TaskGroup-like).
#include "helpers/catch.hpp"
#include "helpers/counted.hpp"
#include "helpers/test_error.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/gather.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

aio::task<void> just_sleep(std::chrono::milliseconds delay) { co_await aio::sleep(delay); }

// Deadlines, not delays: the completion order must not depend on how long starting took.
aio::task<int> logged_value_at(steady::time_point deadline, int value, std::vector<int>& finished) {
    co_await aio::sleep_until(deadline);
    finished.push_back(value);
    co_return value;
}

aio::task<steady::duration> ten_sleeps_of_50ms() {
    std::vector<aio::task<void>> sleeps;
    for (int i = 0; i < 10; ++i) {
        sleeps.push_back(just_sleep(50ms));
    }
    const steady::time_point start = aio::get_running_loop().time();
    (void)co_await aio::gather(std::move(sleeps));
    co_return aio::get_running_loop().time() - start;
}

aio::task<std::tuple<int, int, int>> gather_reverse_finishers(std::vector<int>& finished) {
    const steady::time_point base = aio::get_running_loop().time();
    auto results = co_await aio::gather(logged_value_at(base + 30ms, 1, finished),
                                        logged_value_at(base + 20ms, 2, finished),
                                        logged_value_at(base + 10ms, 3, finished));
    co_return results;
}

aio::task<std::vector<int>> gather_reverse_finishers_range(std::vector<int>& finished) {
    const steady::time_point base = aio::get_running_loop().time();
    std::vector<aio::task<int>> tasks;
    for (int i = 1; i <= 5; ++i) {
        tasks.push_back(logged_value_at(base + std::chrono::milliseconds(30 - 5 * i), i, finished));
    }
    std::vector<int> results = co_await aio::gather(std::move(tasks));
    co_return results;
}

aio::task<std::tuple<int, std::monostate, std::string>> gather_with_void_child() {
    auto results = co_await aio::gather(value_after(1ms, 1), just_sleep(2ms),
                                        string_after(1ms, "three"));
    static_assert(std::is_same_v<decltype(results), std::tuple<int, std::monostate, std::string>>);
    co_return results;
}

aio::task<std::vector<std::monostate>> gather_void_range() {
    std::vector<aio::task<void>> tasks;
    tasks.push_back(just_sleep(1ms));
    tasks.push_back(just_sleep(0ms));
    std::vector<std::monostate> results = co_await aio::gather(std::move(tasks));
    co_return results;
}

struct mixed_outcome {
    std::tuple<int, int, std::string> results;
    bool lvalue_handle_still_valid = false;
    int lvalue_handle_result = 0;
};

aio::task<mixed_outcome> gather_tasks_and_handles() {
    mixed_outcome outcome;
    aio::task_handle<int> shared = aio::create_task(value_after(3ms, 2));
    aio::task_handle<std::string> given = aio::create_task(string_after(1ms, "three"));
    outcome.results = co_await aio::gather(value_after(2ms, 1), shared, std::move(given));
    outcome.lvalue_handle_still_valid = shared.valid() && shared.done();
    outcome.lvalue_handle_result = shared.result();
    co_return outcome;
}

aio::task<int> twice(int i) {
    if (i % 2 == 0) {
        co_await aio::sleep(0ms);  // half the children suspend, half finish synchronously
    }
    co_return 2 * i;
}

aio::task<std::vector<int>> gather_many(int count) {
    std::vector<aio::task<int>> tasks;
    tasks.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        tasks.push_back(twice(i));
    }
    std::vector<int> results = co_await aio::gather(std::move(tasks));
    co_return results;
}

struct handles_outcome {
    std::vector<int> results;
    std::vector<int> handle_results;
};

aio::task<handles_outcome> gather_handle_vector(int count) {
    handles_outcome outcome;
    std::vector<aio::task_handle<int>> handles;
    for (int i = 0; i < count; ++i) {
        const std::chrono::milliseconds delay((count - i) % 4);
        handles.push_back(aio::create_task(value_after(delay, i)));
    }
    outcome.results = co_await aio::gather(handles);
    for (const aio::task_handle<int>& h : handles) {
        outcome.handle_results.push_back(h.result());  // the gather shared them, took nothing
    }
    co_return outcome;
}

aio::task<std::tuple<std::unique_ptr<int>, std::unique_ptr<int>>> gather_unique_pair() {
    auto results = co_await aio::gather(unique_after(2ms, 1), unique_after(1ms, 2));
    co_return results;
}

aio::task<std::vector<std::unique_ptr<int>>> gather_unique_range() {
    std::vector<aio::task<std::unique_ptr<int>>> tasks;
    for (int i = 0; i < 3; ++i) {
        tasks.push_back(unique_after(std::chrono::milliseconds(3 - i), i));
    }
    std::vector<std::unique_ptr<int>> results = co_await aio::gather(std::move(tasks));
    co_return results;
}

aio::task<int&> reference_to(int& target) {
    co_await aio::sleep(0ms);
    co_return target;
}

aio::task<std::pair<int*, int*>> gather_references(int& a, int& b) {
    auto results = co_await aio::gather(reference_to(a), reference_to(b));
    static_assert(std::is_same_v<decltype(results), std::tuple<int&, int&>>);
    co_return std::pair<int*, int*>(&std::get<0>(results), &std::get<1>(results));
}

aio::task<int*> gather_reference_outcome(int& target) {
    auto [result] = co_await aio::gather(aio::return_exceptions, reference_to(target));
    CHECK(result.has_value());
    int& via_conversion = *result;
    CHECK(&result->get() == &via_conversion);
    co_return &via_conversion;
}

aio::task<bool> gather_reference_range(int& a, int& b) {
    std::vector<aio::task<int&>> tasks;
    tasks.push_back(reference_to(a));
    tasks.push_back(reference_to(b));
    auto results = co_await aio::gather(std::move(tasks));
    int& first = results[0];
    co_return results.size() == 2 && &first == &a && &results[1].get() == &b;
}

aio::task<counted> counted_after(std::chrono::milliseconds delay, int value) {
    co_await aio::sleep(delay);
    co_return counted(value);
}

aio::task<int> sum_counted_results() {
    auto first = counted_after(1ms, 1);
    auto second = counted_after(0ms, 2);
    auto results = co_await aio::gather(std::move(first), std::move(second));
    co_return std::get<0>(results).value + std::get<1>(results).value;
}

aio::task<int> sleep_noting(std::chrono::milliseconds delay, std::string name,
                            std::vector<std::string>& log) {
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
        log.push_back(name + " cancelled");
        throw;
    }
    log.push_back(name + " finished");
    co_return 1;
}

aio::task<void> gather_with_failure(std::vector<std::string>& log) {
    try {
        (void)co_await aio::gather(sleep_noting(10s, "slow", log), fail_after(10ms, "boom", log),
                                   sleep_noting(0ms, "fast", log));
        log.push_back("no exception");
    } catch (const test_error& e) {
        log.push_back(std::string("caught ") + e.what());
    }
}

aio::task<void> gather_range_with_failure(std::vector<std::string>& log) {
    std::vector<aio::task<int>> tasks;
    tasks.push_back(sleep_noting(10s, "slow", log));
    tasks.push_back(fail_after(10ms, "boom", log));
    try {
        (void)co_await aio::gather(std::move(tasks));
        log.push_back("no exception");
    } catch (const test_error& e) {
        log.push_back(std::string("caught ") + e.what());
    }
}

// Swallows its cancellation and fails anyway: a second error, later in completion order.
aio::task<int> fail_even_if_cancelled(std::chrono::milliseconds delay, std::string what) {
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
    }
    throw test_error(what);
    co_return 0;
}

aio::task<std::string> first_error_in_completion_order() {
    std::vector<std::string> log;
    try {
        (void)co_await aio::gather(fail_even_if_cancelled(10s, "later"),
                                   fail_after(5ms, "earlier", log));
    } catch (const test_error& e) {
        co_return e.what();
    }
    co_return "no exception";
}

aio::task<void> gather_two_long_sleeps(std::vector<std::string>& log) {
    (void)co_await aio::gather(sleep_noting(10s, "a", log), sleep_noting(10s, "b", log));
    log.push_back("gather returned");
}

aio::task<bool> cancel_task_awaiting_gather(std::vector<std::string>& log) {
    aio::task_handle<void> waiter = aio::create_task(gather_two_long_sleeps(log));
    co_await aio::sleep(10ms);
    waiter.cancel();
    try {
        co_await waiter;
    } catch (const aio::cancelled_error&) {
        co_return waiter.cancelled();
    }
    co_return false;
}

aio::task<bool> empty_gathers() {
    std::tuple<> nothing = co_await aio::gather();
    (void)nothing;
    std::vector<aio::task<int>> none;
    std::vector<int> results = co_await aio::gather(std::move(none));
    co_return results.empty();
}

aio::task<void> log_start_then_yield(std::string name, std::vector<std::string>& log) {
    log.push_back(name);
    co_await aio::sleep(0ms);
}

aio::task<void> log_once(std::string name, std::vector<std::string>& log) {
    log.push_back(name);
    co_return;
}

aio::task<void> children_start_in_argument_order(std::vector<std::string>& log) {
    aio::task_handle<void> other = aio::create_task(log_once("created task", log));
    (void)co_await aio::gather(log_start_then_yield("a", log), log_start_then_yield("b", log),
                               log_start_then_yield("c", log));
    co_await other;
}

aio::task<bool> gather_of_synchronous_children_does_not_suspend() {
    bool other_ran = false;
    std::vector<std::string> log;
    aio::task_handle<void> other = aio::create_task(log_once("created task", log));
    auto results = co_await aio::gather(immediately(1), immediately(2));
    other_ran = !log.empty();
    co_await other;
    co_return !other_ran && std::get<0>(results) == 1 && std::get<1>(results) == 2;
}

aio::task<int> take_counted(counted c) { co_return c.value; }

} // namespace

TEST_CASE("gather runs its children concurrently", "[gather]") {
    // Ten 50 ms sleeps take 50 ms together, not 500 ms one after the other.
    const steady::duration elapsed = run_virtual(ten_sleeps_of_50ms());
    CHECK(elapsed == 50ms);
}

TEST_CASE("gather returns results in argument order, whatever the completion order", "[gather]") {
    std::vector<int> finished;
    SECTION("arguments") {
        CHECK(run_virtual(gather_reverse_finishers(finished)) ==
              std::tuple<int, int, int>{1, 2, 3});
        CHECK(finished == std::vector<int>{3, 2, 1});
    }
    SECTION("a range") {
        CHECK(run_virtual(gather_reverse_finishers_range(finished)) ==
              std::vector<int>{1, 2, 3, 4, 5});
        CHECK(finished == std::vector<int>{5, 4, 3, 2, 1});
    }
}

TEST_CASE("a void child contributes std::monostate", "[gather]") {
    const auto results = run_virtual(gather_with_void_child());
    CHECK(std::get<0>(results) == 1);
    CHECK(std::get<2>(results) == "three");
    CHECK(run_virtual(gather_void_range()).size() == 2);
}

TEST_CASE("gather accepts tasks and task handles together", "[gather]") {
    const mixed_outcome outcome = run_virtual(gather_tasks_and_handles());
    CHECK(outcome.results == std::tuple<int, int, std::string>{1, 2, "three"});
    CHECK(outcome.lvalue_handle_still_valid);
    CHECK(outcome.lvalue_handle_result == 2);
}

TEST_CASE("gather over a vector of 10,000 tasks", "[gather]") {
    constexpr int count = 10'000;
    const std::vector<int> results = run_virtual(gather_many(count));
    REQUIRE(results.size() == count);
    int mismatches = 0;
    for (int i = 0; i < count; ++i) {
        mismatches += results[static_cast<std::size_t>(i)] == 2 * i ? 0 : 1;
    }
    CHECK(mismatches == 0);
}

// A range that makes its tasks as it is read: its elements are temporaries (prvalues).
// (Hand-written: clang 14 cannot compile libstdc++ 12's views.)
struct tasks_made_on_reading {
    struct iterator {
        using value_type = aio::task<int>;
        using difference_type = std::ptrdiff_t;
        int i = 0;
        aio::task<int> operator*() const { return twice(i); }
        iterator& operator++() {
            ++i;
            return *this;
        }
        void operator++(int) { ++i; }
        bool operator==(const iterator&) const = default;
    };
    int count = 0;
    [[nodiscard]] iterator begin() const { return {0}; }
    [[nodiscard]] iterator end() const { return {count}; }
};
static_assert(std::ranges::input_range<tasks_made_on_reading>);

aio::task<std::vector<int>> gather_a_named_range_of_temporaries(int count) {
    // Named (an lvalue), but lending nothing: the gather takes the tasks it reads, as it
    // takes the elements of a moved vector.
    const tasks_made_on_reading tasks{count};
    std::vector<int> results = co_await aio::gather(tasks);
    co_return results;
}

TEST_CASE("gather over a named range that makes its tasks takes those tasks", "[gather]") {
    const std::vector<int> results = run_virtual(gather_a_named_range_of_temporaries(5));
    CHECK(results == std::vector<int>{0, 2, 4, 6, 8});
}

TEST_CASE("gather over a vector of task handles leaves the handles usable", "[gather]") {
    const handles_outcome outcome = run_virtual(gather_handle_vector(20));
    std::vector<int> expected;
    for (int i = 0; i < 20; ++i) {
        expected.push_back(i);
    }
    CHECK(outcome.results == expected);
    CHECK(outcome.handle_results == expected);
}

TEST_CASE("gather works with move-only results", "[gather]") {
    SECTION("arguments") {
        auto [first, second] = run_virtual(gather_unique_pair());
        REQUIRE(first != nullptr);
        REQUIRE(second != nullptr);
        CHECK(*first == 1);
        CHECK(*second == 2);
    }
    SECTION("a range") {
        const std::vector<std::unique_ptr<int>> results = run_virtual(gather_unique_range());
        REQUIRE(results.size() == 3);
        for (int i = 0; i < 3; ++i) {
            REQUIRE(results[static_cast<std::size_t>(i)] != nullptr);
            CHECK(*results[static_cast<std::size_t>(i)] == i);
        }
    }
}

TEST_CASE("a task<T&> child contributes a reference", "[gather]") {
    int a = 1;
    int b = 2;
    const std::pair<int*, int*> addresses = run_virtual(gather_references(a, b));
    CHECK(addresses.first == &a);
    CHECK(addresses.second == &b);
}

TEST_CASE("gather(return_exceptions) of a task<T&> child gives an outcome referring to the "
          "referent",
          "[gather]") {
    int target = 7;
    CHECK(run_virtual(gather_reference_outcome(target)) == &target);
}

TEST_CASE("a range gather of task<T&> children gives a wrapper referring to each referent",
          "[gather]") {
    int a = 1;
    int b = 2;
    CHECK(run_virtual(gather_reference_range(a, b)));
}

TEST_CASE("gather moves results out of its children without copying them", "[gather]") {
    counted::reset_counts();
    CHECK(run_virtual(sum_counted_results()) == 3);
    CHECK(counted::copy_constructions == 0);
    CHECK(counted::alive() == 0);
}

TEST_CASE("gather rethrows the first exception once every child has finished, "
          "after cancelling the siblings",
          "[gather]") {
    std::vector<std::string> log;
    steady::duration elapsed{};
    SECTION("arguments") {
        run_virtual(gather_with_failure(log), elapsed);
        CHECK(log == std::vector<std::string>{"fast finished", "boom thrown", "slow cancelled",
                                              "caught boom"});
    }
    SECTION("a range") {
        run_virtual(gather_range_with_failure(log), elapsed);
        CHECK(log == std::vector<std::string>{"boom thrown", "slow cancelled", "caught boom"});
    }
    // The 10 s sibling was cancelled, not waited for.
    CHECK(elapsed >= 10ms);
    CHECK(elapsed < 1s);
}

TEST_CASE("gather rethrows the first exception in completion order, not argument order",
          "[gather]") {
    CHECK(run_virtual(first_error_in_completion_order()) == "earlier");
}

TEST_CASE("cancelling the task awaiting a gather cancels every child", "[gather]") {
    std::vector<std::string> log;
    steady::duration elapsed{};
    CHECK(run_virtual(cancel_task_awaiting_gather(log), elapsed));
    CHECK(log == std::vector<std::string>{"a cancelled", "b cancelled"});
    CHECK(elapsed < 1s);
}

TEST_CASE("an empty gather completes at once", "[gather]") {
    CHECK(run_virtual(empty_gathers()));
}

TEST_CASE("gather starts its children in argument order, before other ready tasks", "[gather]") {
    std::vector<std::string> log;
    run_virtual(children_start_in_argument_order(log));
    CHECK(log == std::vector<std::string>{"a", "b", "c", "created task"});
}

TEST_CASE("a gather whose children all finish synchronously does not suspend", "[gather]") {
    CHECK(run_virtual(gather_of_synchronous_children_does_not_suspend()));
}

TEST_CASE("a gather that is never awaited destroys its task children", "[gather]") {
    counted::reset_counts();
    {
        auto g = aio::gather(take_counted(counted(1)), take_counted(counted(2)));
        CHECK(counted::alive() == 2);
    }
    CHECK(counted::alive() == 0);
}

namespace {

aio::task<int> hold_counted_briefly(counted c) {
    co_await aio::sleep(1ms);
    co_return c.value;
}

aio::task<int> count_alive_later(int& alive_seen) {
    co_await aio::sleep(40ms);
    alive_seen = counted::alive();
    co_return 0;
}

aio::task<int> free_frames_early_with_tasks(int& alive_seen) {
    std::vector<aio::task<int>> children;
    children.push_back(hold_counted_briefly(counted(7)));
    children.push_back(count_alive_later(alive_seen));
    const std::vector<int> r = co_await aio::gather(std::move(children));
    co_return r[0];
}

aio::task<int> free_frames_early_with_handles(int& alive_seen) {
    std::vector<aio::task_handle<int>> children;
    children.push_back(aio::create_task(hold_counted_briefly(counted(7))));
    children.push_back(aio::create_task(count_alive_later(alive_seen)));
    const std::vector<int> r = co_await aio::gather(std::move(children));  // the only handles
    co_return r[0];
}

aio::task<std::vector<int>> gather_handles(std::vector<aio::task_handle<int>> handles) {
    co_return co_await aio::gather(handles);
}

aio::task<bool> two_gathers_over_the_same_handles() {
    std::vector<aio::task_handle<int>> handles;
    for (int i = 0; i < 5; ++i) {
        handles.push_back(aio::create_task(value_after(std::chrono::milliseconds(5 * (5 - i)), i)));
    }
    auto other = aio::create_task(gather_handles(handles));
    auto g = aio::gather(handles);  // a second gather over the same, still running, tasks
    const std::vector<int> mine = co_await g;
    const std::vector<int> theirs = co_await other;
    co_return mine == std::vector<int>{0, 1, 2, 3, 4} && theirs == mine;
}

aio::task<std::vector<int>> gather_made_before_the_children_finish() {
    std::vector<aio::task_handle<int>> handles;
    handles.push_back(aio::create_task(value_after(1ms, 1)));
    handles.push_back(aio::create_task(value_after(2ms, 2)));
    auto g = aio::gather(handles);
    co_await aio::sleep(30ms);  // both finish before the gather is awaited
    co_return co_await g;
}

struct no_default {
    explicit no_default(int v) : value(v) {}
    int value;
};

aio::task<no_default> make_no_default(std::chrono::milliseconds delay, int v) {
    co_await aio::sleep(delay);
    co_return no_default(v);
}

aio::task<std::vector<int>> gather_of_non_default_constructible() {
    std::vector<aio::task<no_default>> children;
    children.push_back(make_no_default(20ms, 1));
    children.push_back(make_no_default(1ms, 2));
    std::vector<no_default> r = co_await aio::gather(std::move(children));
    co_return std::vector<int>{r[0].value, r[1].value};
}

} // namespace

TEST_CASE("a range gather frees each task child's frame as soon as that child finishes",
          "[gather]") {
    counted::reset_counts();
    int alive_seen = -1;
    CHECK(run_virtual(free_frames_early_with_tasks(alive_seen)) == 7);
    CHECK(alive_seen == 0);  // the first child's frame (and its counted argument) was gone
    CHECK(counted::alive() == 0);
}

TEST_CASE("a range gather lets go of each task handle as soon as that task finishes",
          "[gather]") {
    counted::reset_counts();
    int alive_seen = -1;
    CHECK(run_virtual(free_frames_early_with_handles(alive_seen)) == 7);
    CHECK(alive_seen == 0);
    CHECK(counted::alive() == 0);
}

TEST_CASE("two gathers over the same running tasks both get every result", "[gather]") {
    CHECK(run_virtual(two_gathers_over_the_same_handles()));
}

TEST_CASE("a range gather of task handles counts the children that finish before it is awaited",
          "[gather]") {
    CHECK(run_virtual(gather_made_before_the_children_finish()) == std::vector<int>{1, 2});
}

TEST_CASE("a range gather returns results that cannot be default-constructed, in range order",
          "[gather]") {
    CHECK(run_virtual(gather_of_non_default_constructible()) == std::vector<int>{1, 2});
}

namespace {

aio::task<int> note_start_then(std::vector<std::string>& log, std::string name) {
    log.push_back(name + " started");
    co_await aio::sleep(1ms);
    co_return 2;
}

// A gather of arguments made before its handle children finish: they count, and a failure
// among them cancels the rest before the gather is awaited; a task child then never starts.
aio::task<void> argument_gather_watches_handles_at_once(std::vector<std::string>& log) {
    auto failing = aio::create_task(fail_after(1ms, "boom", log));
    auto sleeper = aio::create_task(sleep_noting(10s, "sleeper", log));
    auto g =
        aio::gather(std::move(failing), std::move(sleeper), note_start_then(log, "task child"));
    co_await aio::sleep(30ms);  // the failure happens here, the sleeper is cancelled here
    log.push_back("awaiting");
    try {
        (void)co_await g;
    } catch (const test_error& e) {
        log.push_back(std::string("caught ") + e.what());
    }
}

aio::task<void> range_gather_watches_handles_at_once(std::vector<std::string>& log) {
    std::vector<aio::task_handle<int>> handles;
    handles.push_back(aio::create_task(fail_after(1ms, "boom", log)));
    handles.push_back(aio::create_task(sleep_noting(10s, "sleeper", log)));
    auto g = aio::gather(handles);
    co_await aio::sleep(30ms);
    log.push_back("awaiting");
    try {
        (void)co_await g;
    } catch (const test_error& e) {
        log.push_back(std::string("caught ") + e.what());
    }
}

aio::task<int> argument_gather_of_finished_handles() {
    auto a = aio::create_task(value_after(1ms, 1));
    auto b = aio::create_task(value_after(2ms, 2));
    auto g = aio::gather(a, b);
    co_await aio::sleep(30ms);
    auto [x, y] = co_await g;
    co_return x + y;
}

} // namespace

TEST_CASE("a gather watches its task handles from the moment it is made", "[gather][cancel]") {
    std::vector<std::string> log;
    steady::duration elapsed{};
    SECTION("arguments") {
        run_virtual(argument_gather_watches_handles_at_once(log), elapsed);
        CHECK(log == std::vector<std::string>{"boom thrown", "sleeper cancelled", "awaiting",
                                              "caught boom"});  // the task child never started
    }
    SECTION("a range") {
        run_virtual(range_gather_watches_handles_at_once(log), elapsed);
        CHECK(log == std::vector<std::string>{"boom thrown", "sleeper cancelled", "awaiting",
                                              "caught boom"});
    }
    CHECK(elapsed < 1s);
}

TEST_CASE("a gather of arguments counts the handles that finish before it is awaited", "[gather]") {
    CHECK(run_virtual(argument_gather_of_finished_handles()) == 3);
}
